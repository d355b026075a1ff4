"""Tests for course_lib.data: shapes, balance, determinism, meaning, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import data

# ----- the original generators (others rely on them) -----


def test_marker_task_unchanged_behaviour():
    x, y, info = data.marker_task(10, 20, marker_pos=-1, seed=3)
    assert x.shape == (10, 20, 2) and info.shape == x.shape
    assert np.all(x[:, 19, 1] == 1.0) and np.all(x[:, :19, 1] == 0.0)
    assert np.array_equal(x[:, 19, 0] > 0, y == 1)


def test_lag_echo_unchanged_behaviour():
    x, y, info = data.lag_echo(4, 12, 3, seed=1)
    assert np.array_equal(y[:, 3:, 0], (x[:, :9, 0] > 0).astype(np.float32))
    assert info.extra["first_valid"] == 3


# ----- train/test split -----


@settings(max_examples=30, deadline=None)
@given(n=st.integers(4, 60), frac=st.floats(0.1, 0.9), seed=st.integers(0, 1000))
def test_split_partitions_samples(n, frac, seed):
    x = np.arange(n)[:, None]
    y = (np.arange(n) % 2).astype(np.int32)
    try:
        xtr, ytr, xte, yte = data.train_test_split(x, y, test_fraction=frac, seed=seed)
    except ValueError:
        return  # a split that would leave one side empty is refused
    together = np.sort(np.concatenate([xtr[:, 0], xte[:, 0]]))
    assert np.array_equal(together, np.arange(n))  # every sample exactly once
    assert not set(xtr[:, 0]) & set(xte[:, 0])
    assert np.array_equal(ytr, xtr[:, 0] % 2)  # labels travel with their samples


def test_split_is_stratified_and_seeded():
    y = np.repeat([0, 1], 50).astype(np.int32)
    x = np.arange(100)
    _, _, xte, yte = data.train_test_split(x, y, test_fraction=0.2, seed=5)
    assert np.bincount(yte).tolist() == [10, 10]
    assert np.array_equal(xte, data.train_test_split(x, y, test_fraction=0.2, seed=5)[2])


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match="same number of samples"):
        data.train_test_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(np.zeros(4), np.zeros(4), test_fraction=1.0)


# ----- adding problem -----


def test_adding_problem_shapes_and_targets():
    x, y, info = data.adding_problem(50, 30, seed=1)
    assert x.shape == (50, 30, 2) and y.shape == (50,) and x.dtype == np.float32
    assert info.task == "regression"
    flags = x[:, :, 1]
    assert np.all(flags.sum(axis=1) == 2)
    assert np.all(flags[:, :15].sum(axis=1) == 1) and np.all(flags[:, 15:].sum(axis=1) == 1)
    assert np.allclose(y, (x[:, :, 0] * flags).sum(axis=1), atol=1e-6)


def test_adding_baseline_matches_data():
    _, y, _ = data.adding_problem(20000, 10, seed=0)
    assert data.adding_baseline_mse() == pytest.approx(1 / 6)
    assert np.mean((y - 1.0) ** 2) == pytest.approx(data.adding_baseline_mse(), abs=0.01)


def test_adding_problem_seeded():
    a = data.adding_problem(5, 8, seed=2)[0]
    assert np.array_equal(a, data.adding_problem(5, 8, seed=2)[0])
    assert not np.array_equal(a, data.adding_problem(5, 8, seed=3)[0])
    with pytest.raises(ValueError, match="seq_len"):
        data.adding_problem(5, 1)


# ----- copy memory -----


def test_copy_memory_layout():
    x, y, info = data.copy_memory(6, 15, n_memorize=4, n_symbols=5, seed=0)
    length = 15 + 8
    assert x.shape == (6, length, 7) and y.shape == (6, length)
    ids = x.argmax(axis=2)
    assert np.all(ids[:, :4] >= 1) and np.all(ids[:, :4] <= 5)
    assert np.all(ids[:, 4 + 15 - 1] == 6)  # the "go" marker
    assert np.array_equal(y[:, -4:], ids[:, :4])
    assert np.all(y[:, :-4] == 0)
    assert np.array_equal(info.extra["ids"], ids)


def test_copy_baseline_formula():
    assert data.copy_baseline_ce(100) == pytest.approx(10 * math.log(8) / 120)
    # the baseline is what a memoryless predictor gets on generated data
    _, y, info = data.copy_memory(3, 30, seed=0)
    per_step = np.where(y == 0, 0.0, math.log(8))
    per_step[:, -10:] = math.log(8)
    assert per_step.mean() == pytest.approx(info.extra["baseline_ce"])
    with pytest.raises(ValueError, match="n_symbols"):
        data.copy_baseline_ce(10, n_symbols=1)


# ----- Zipf documents -----


@pytest.mark.parametrize("position", data.POSITIONS)
def test_zipf_documents_plant_where_asked(position):
    x, y, info = data.zipf_documents(40, 100, vocab_size=300, position=position,
                                     n_planted=3, region=0.2, seed=4)
    assert x.shape == (40, 100) and x.dtype == np.int32
    assert x.min() >= 1 and x.max() < 300  # 0 is reserved for padding
    assert np.bincount(y).tolist() == [20, 20]
    neg, pos = info.extra["negative_ids"], info.extra["positive_ids"]
    is_pos, is_neg = np.isin(x, pos), np.isin(x, neg)
    assert np.all(is_pos.sum(axis=1) == 3 * (y == 1))
    assert np.all(is_neg.sum(axis=1) == 3 * (y == 0))
    where = np.nonzero(is_pos | is_neg)[1]
    if position == "start":
        assert where.max() < 20
    elif position == "end":
        assert where.min() >= 80


def test_zipf_documents_background_is_zipf_like():
    x, _, _ = data.zipf_documents(200, 200, vocab_size=500, seed=0)
    counts = np.bincount(x.ravel(), minlength=500)
    assert counts[1] > counts[2] > counts[10] > counts[200]


def test_zipf_documents_reject_bad_input():
    with pytest.raises(ValueError, match="position"):
        data.zipf_documents(4, 50, position="middle")
    with pytest.raises(ValueError, match="n_planted"):
        data.zipf_documents(4, 50, position="start", region=0.02, n_planted=3)
    with pytest.raises(ValueError, match="first_id"):
        data.zipf_documents(4, 50, vocab_size=50)


# ----- DNA -----


def test_dna_sequences_contain_class_motif():
    x, y, info = data.dna_sequences(30, 120, n_classes=3, motif_len=6, n_motifs=2,
                                    encoding="ids", seed=2)
    assert x.shape == (30, 120) and set(np.unique(x)) <= {1, 2, 3, 4}
    assert np.bincount(y).tolist() == [10, 10, 10]
    motifs = info.extra["motifs"]
    text = ["".join(data.BASES[b - 1] for b in row) for row in x]
    for seq, label, starts in zip(text, y, info.extra["motif_starts"], strict=True):
        for s in starts:
            assert seq[s:s + 6] == motifs[label]
        assert starts[1] >= starts[0] + 6  # copies do not overlap


def test_dna_onehot_matches_ids_and_motifs_fixed():
    xo, _, a = data.dna_sequences(8, 50, seed=1)
    xi, _, b = data.dna_sequences(8, 50, seed=1, encoding="ids")
    assert xo.shape == (8, 50, 4) and np.all(xo.sum(axis=2) == 1)
    assert np.array_equal(xo.argmax(axis=2) + 1, xi)
    _, _, c = data.dna_sequences(8, 50, seed=99)
    assert a.extra["motifs"] == c.extra["motifs"]  # train/test made with other seeds agree
    with pytest.raises(ValueError, match="encoding"):
        data.dna_sequences(8, 50, encoding="letters")


# ----- EEG -----


def test_eeg_signals_shapes_balance_and_bursts():
    x, y, info = data.eeg_signals(20, 300, n_channels=3, burst_len=40, burst_amp=3.0,
                                  noise=0.0, seed=0)
    assert x.shape == (20, 300, 3) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [10, 10]
    assert np.all(np.isfinite(x))
    # with no noise, the strongest channel inside the burst is the class's channel
    for row, label, start in zip(x, y, info.extra["burst_starts"][:, 0], strict=True):
        seg = row[start:start + 40]
        assert np.argmax(np.abs(seg).max(axis=0)) == label % 3


def test_eeg_signals_seeded_and_validated():
    a = data.eeg_signals(4, 100, burst_len=20, seed=1)[0]
    assert np.array_equal(a, data.eeg_signals(4, 100, burst_len=20, seed=1)[0])
    with pytest.raises(ValueError, match="seq_len"):
        data.eeg_signals(4, 10, burst_len=20)
    with pytest.raises(ValueError, match="burst_amp"):
        data.eeg_signals(4, 100, burst_len=20, burst_amp=0.0)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 30), classes=st.integers(2, 4))
def test_labels_balanced_property(n, classes):
    if n < classes:
        return
    _, y, _ = data.dna_sequences(n, 40, n_classes=classes, motif_len=4, seed=n)
    counts = np.bincount(y, minlength=classes)
    assert counts.max() - counts.min() <= 1


def test_the_library_has_no_import_circle():
    """No module imports one that imports it back, even lazily inside a function.

    (``data`` once served ``prices``' generator while ``prices`` built on ``data``.)
    """
    import ast
    from pathlib import Path

    import course_lib

    root = Path(course_lib.__file__).parent
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        names[".".join(("course_lib", *parts)).removesuffix(".__init__")] = path
    graph = {name: set() for name in names}
    for name, path in names.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph[name] |= {t for t in targets if t in names and t != name
                            and t not in ("course_lib", "course_lib.lessons")}

    def reaches(start, goal, seen):
        for nxt in graph[start] - seen:
            if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                return True
        return False

    circles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if reaches(b, a, {b}))
    assert not circles, circles


def test_dna_motif_placements_are_uniform():
    # 2 motifs of 4 bases in 10 bases: 6 non-overlapping placements, each 1/6. Sorting two
    # independent draws (the old way) gives the 3 "touching" ones half the weight: chi2 ~ 660.
    n = 6000
    _, _, info = data.dna_sequences(n, 10, motif_len=4, n_motifs=2, seed=5)
    starts = info.extra["motif_starts"]
    assert (np.diff(starts, axis=1) >= 4).all() and starts.max() <= 6
    placements, counts = np.unique(starts, axis=0, return_counts=True)
    assert len(placements) == 6
    chi2 = float(((counts - n / 6) ** 2 / (n / 6)).sum())
    # chi-square critical value, 5 dof, p = 0.001
    assert chi2 < 20.52, dict(zip(map(tuple, placements), counts, strict=True))


def test_no_private_name_is_imported_across_modules():
    """A name starting with ``_`` is its module's own business (issue: shorten/techniques)."""
    import ast
    from pathlib import Path

    import course_lib

    root = Path(course_lib.__file__).parent
    leaks = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib")
                    and any(a.name.startswith("_") and not a.name.endswith("__")
                            for a in node.names)):
                leaks.append(f"{path.relative_to(root)}:{node.lineno} from {node.module}")
    assert not leaks, leaks
