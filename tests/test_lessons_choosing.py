"""Tests for course_lib.lessons.choosing (notebook 11): config, runner, memory, table, guide."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.lessons import choosing

TINY = choosing.CompareConfig(seq_len=16, budget=4, n_samples=16, units=2, epochs=1,
                             batch_size=8, code_size=2, seed=3)


# ----- config and task -----


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seq_len": 100, "budget": 30}, "budget must divide"),
        ({"seq_len": 100, "budget": 60}, "budget must be"),
        ({"seq_len": 15, "budget": 5}, "seq_len must be even"),
        ({"n_samples": 4}, "n_samples"),
        ({"epochs": 0}, "epochs"),
        ({"seed": -1}, "seed"),
    ],
)
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        choosing.CompareConfig(**kwargs)


def test_make_task_is_seeded_and_puts_the_marker_first():
    a = choosing.make_task(TINY)
    b = choosing.make_task(TINY)
    for left, right in zip(a, b, strict=True):
        assert np.array_equal(left, right)
    x_train, y_train, x_test, y_test = a
    assert x_train.shape == (12, 16, 2) and x_test.shape == (4, 16, 2)
    assert np.all(x_train[:, 0, 1] == 1) and np.all(x_train[:, 1:, 1] == 0)
    assert np.array_equal(x_train[:, 0, 0] > 0, y_train == 1)


# ----- chunking -----


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 4), pieces=st.integers(1, 6), length=st.integers(1, 5),
       f=st.integers(1, 3))
def test_chunk_rows_are_consecutive_pieces_in_order(n, pieces, length, f):
    x = np.arange(n * pieces * length * f, dtype=float).reshape(n, pieces * length, f)
    out = choosing.chunk(x, length)
    assert out.shape == (n * pieces, length, f)
    for i in range(n):
        for p in range(pieces):
            assert np.array_equal(out[i * pieces + p], x[i, p * length:(p + 1) * length])


def test_chunk_rejects_bad_input():
    with pytest.raises(ValueError, match="length must divide"):
        choosing.chunk(np.zeros((2, 10, 1)), 3)
    with pytest.raises(ValueError, match="3-D"):
        choosing.chunk(np.zeros((2, 10)), 2)
    with pytest.raises(ValueError, match="length"):
        choosing.chunk(np.zeros((2, 10, 1)), 11)


class _SumEncoder:
    """Stand-in encoder: the code of a chunk is (sum, first value)."""

    def predict(self, x, batch_size=None, verbose=0):
        return np.stack([x.sum(axis=(1, 2)), x[:, 0, 0]], axis=1)


def test_encode_in_chunks_keeps_samples_and_chunk_order():
    x = np.arange(2 * 6 * 1, dtype=float).reshape(2, 6, 1)
    codes = choosing.encode_in_chunks(_SumEncoder(), x, 3)
    assert codes.shape == (2, 2, 2)
    assert codes[1, 0, 1] == x[1, 0, 0] and codes[1, 1, 0] == x[1, 3:].sum()


# ----- running techniques -----


@pytest.mark.parametrize("name", choosing.TECHNIQUES)
def test_every_technique_runs_in_process(name):
    row = choosing.run_in_process(name, TINY)
    assert row["technique"] == name
    assert 0.0 <= row["accuracy"] <= 1.0
    assert row["train_s"] > 0 and row["peak_rss_mb"] >= row["base_rss_mb"] > 0
    assert math.isfinite(row["train_mem_mb"])


def test_run_all_validates_names_and_adds_steps():
    with pytest.raises(ValueError, match="subset"):
        choosing.run_all(TINY, ("as-is", "magic"), isolate=False)
    rows = choosing.run_all(TINY, ("as-is", "bidirectional halves"), isolate=False,
                           progress=None)
    assert [r["steps"] for r in rows] == [16, 8]


def test_rows_table_matches_the_technique_names():
    assert list(choosing.ROWS) == list(choosing.TECHNIQUES)
    assert set(choosing.DESCRIPTIONS) == set(choosing.TECHNIQUES)


def test_measure_validates_its_arguments():
    with pytest.raises(TypeError, match="fn must be a callable"):
        choosing.measure("as-is", "as_is", TINY, isolate=False)
    with pytest.raises(TypeError, match="isolate"):
        choosing.measure("as-is", choosing.as_is, TINY, isolate=1)

    def mine(d, c):
        return 1.0

    # a fresh process can only run the library's copy of a row
    with pytest.raises(ValueError, match="not in choosing.ROWS"):
        choosing.measure("mine", mine, TINY, isolate=True)
    with pytest.raises(ValueError, match="not in choosing.ROWS"):
        choosing.measure("as-is", mine, TINY, isolate=True)


def test_measure_runs_a_students_row_in_process():
    def every_other(d, c):
        return choosing.score(choosing.models.lstm_classifier(c.seq_len // 2, 2, c.units),
                             d.x_train[:, ::2], d.x_test[:, ::2], d, c)

    row = choosing.measure("every other", every_other, TINY, isolate=False, progress=None)
    assert row["technique"] == "every other" and row["steps"] is None
    assert 0.0 <= row["accuracy"] <= 1.0


def test_same_row_accepts_a_copy_and_rejects_other_rows():
    def copy(d, c):
        kept = [x[:, ::c.factor] for x in (d.x_train, d.x_test)]
        return choosing.score(choosing.models.lstm_classifier(c.budget, 2, c.units), *kept, d, c)

    def broken(d, c):
        raise IndexError("oops")

    small = choosing.CompareConfig(seq_len=16, budget=4, n_samples=200, units=2, epochs=1,
                                  batch_size=32, code_size=2, seed=3)
    assert choosing.same_row(copy, choosing.every_kth, small)
    assert not choosing.same_row(choosing.truncate_pre, choosing.every_kth, small)
    assert not choosing.same_row(broken, choosing.every_kth, small, repeats=1)
    with pytest.raises(ValueError, match="repeats"):
        choosing.same_row(copy, choosing.every_kth, small, repeats=0)
    with pytest.raises(TypeError, match="fn must be a callable"):
        choosing.same_row(None, choosing.every_kth, TINY)


def test_unknown_technique_is_rejected_everywhere():
    for fn in (choosing.run_one, choosing.run_in_process, choosing.run_in_subprocess,
               choosing.lstm_steps):
        with pytest.raises(ValueError, match="unknown technique"):
            fn("magic", TINY)


def test_subprocess_row_matches_the_in_process_accuracy():
    """A fresh process gets the same data and seeds, so the same accuracy."""
    child = choosing.run_in_subprocess("truncate post", TINY)
    here = choosing.run_in_process("truncate post", TINY)
    assert child["accuracy"] == pytest.approx(here["accuracy"])
    assert child["base_rss_mb"] > 50  # TensorFlow is loaded before the baseline
    assert "fresh process" in child["memory_method"]


def test_peak_rss_grows_when_memory_is_touched():
    import psutil

    before = choosing.peak_rss_mb()
    # the peak is a high-water mark: earlier tests in this process may have set it well
    # above today's RSS, so touch enough memory to pass it by 64 MB
    resident = psutil.Process().memory_info().rss / 2**20
    extra_mb = max(0.0, before - resident) + 64
    block = np.ones(int(extra_mb * 2**20) // 8)  # written, so it is resident
    after = choosing.peak_rss_mb()
    assert block.sum() > 0 and after >= before + 32


def test_lstm_steps_follow_the_budget():
    config = choosing.CompareConfig(seq_len=600, budget=30)
    steps = {n: choosing.lstm_steps(n, config) for n in choosing.TECHNIQUES}
    assert steps["as-is"] == 600 and steps["bidirectional halves"] == 300
    assert steps["encoder-decoder"] == 30 and steps["truncate pre"] == 30
    assert steps["TBPTT last"] == steps["TBPTT every step"] == 600


# ----- table, plot, guide -----


def _rows():
    def row(name, acc, secs, mb):
        return {"technique": name, "accuracy": acc, "train_s": secs, "train_mem_mb": mb,
                "peak_rss_mb": 600 + mb, "base_rss_mb": 600, "steps": 10,
                "memory_method": "test"}

    return [row("as-is", 0.5, 30.0, 40.0), row("truncate pre", 0.51, 3.0, 10.0),
            row("truncate post", 0.98, 4.0, 12.0), row("random drop", 0.55, 3.5, 9.0),
            row("conv downsample", 1.0, 5.0, 30.0)]


def test_table_text_has_one_line_per_row():
    text = choosing.table_text(_rows())
    assert len(text.splitlines()) == 2 + 5 and "conv downsample" in text
    with pytest.raises(ValueError):
        choosing.table_text([])


def test_decision_guide_quotes_the_measured_numbers():
    guide = choosing.decision_guide(_rows(), good=0.9)
    assert "truncate post (0.980 in 4.0 s)" in guide[0]
    assert "truncate post (+12 MB)" in guide[1]
    assert any("did not solve it (accuracy 0.500)" in line for line in guide)
    tbptt_rows = [*_rows(), {**_rows()[0], "technique": "TBPTT last", "accuracy": 0.52}]
    assert "TBPTT last 0.520" in choosing.decision_guide(tbptt_rows)[-1]
    nothing = choosing.decision_guide(_rows(), good=1.01)
    assert nothing[0].startswith("No technique reached")


def test_scatter_draws_one_point_per_row():
    import matplotlib.pyplot as plt

    fig, ax = choosing.scatter(_rows())
    assert len(ax.collections) == 5
    assert ax.get_xlabel() == "training time (s)"
    plt.close(fig)
