"""Tests for course_lib.asis: bad input, shapes of the results, projections, determinism."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import asis
from course_lib.data import zipf_documents
from course_lib.techniques import truncate

matplotlib.use("Agg")
SETTINGS = settings(max_examples=40, deadline=None)
TINY = {"n_samples": 16, "epochs": 2, "units": 4, "batch_size": 8}


def fake_results(accs, secs, lengths=(10, 100, 1000), n_train=100):
    return [{"seq_len": t, "test_acc": a, "sec_per_epoch": s, "n_train": n_train}
            for t, a, s in zip(lengths, accs, secs, strict=True)]


# ----- notebook 02: train_at_lengths -----


@pytest.mark.parametrize(("lengths", "match"), [
    ((), "seq_lengths must be a non-empty"),
    ("abc", "seq_lengths must be a non-empty"),
    ((10, 10), "strictly increasing"),
    ((20, 10), "strictly increasing"),
    ((0, 10), r"seq_lengths\[0\] must be >= 1"),
    ((1, 10), "seq_lengths must all be >= 2"),
])
def test_train_at_lengths_rejects_bad_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        asis.train_at_lengths(lengths, **TINY)


def test_train_at_lengths_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_samples must be >= 8"):
        asis.train_at_lengths((4, 8), n_samples=4)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        asis.train_at_lengths((4, 8), epochs=0)
    with pytest.raises(TypeError, match="units must be an int"):
        asis.train_at_lengths((4, 8), units=2.5)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        asis.train_at_lengths((4, 8), seed=-1)


def test_train_at_lengths_returns_one_finite_row_per_length_and_is_deterministic():
    first = asis.train_at_lengths((4, 8), seed=3, **TINY)
    assert [r["seq_len"] for r in first] == [4, 8]
    for r in first:
        assert 0.0 <= r["test_acc"] <= 1.0 and 0.0 <= r["train_acc"] <= 1.0
        assert r["sec_per_epoch"] > 0 and r["first_epoch_sec"] > 0
        assert r["n_train"] == 12 and r["epochs"] == 2
    # each length is reseeded, so a length's result does not depend on the others
    again = asis.train_at_lengths((8,), seed=3, **TINY)
    assert (again[0]["test_acc"], again[0]["train_acc"]) == (
        first[1]["test_acc"], first[1]["train_acc"])


# ----- notebook 02: projections -----


@SETTINGS
@given(sec=st.floats(1e-3, 1e3), n=st.integers(1, 10_000), k=st.integers(1, 20),
       epochs=st.integers(1, 100))
def test_projected_hours_is_linear_in_samples_and_epochs(sec, n, k, epochs):
    base = asis.projected_hours(sec, n, n, 1)
    assert base == pytest.approx(sec / 3600)
    assert asis.projected_hours(sec, n, k * n, epochs) == pytest.approx(base * k * epochs)


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0.0, 10, 10, 1), ValueError, "sec_per_epoch must be a finite number > 0"),
    ((float("nan"), 10, 10, 1), ValueError, "sec_per_epoch must be a finite number > 0"),
    (("1", 10, 10, 1), TypeError, "sec_per_epoch must be a number"),
    ((1.0, 0, 10, 1), ValueError, "n_measured must be >= 1"),
    ((1.0, 10, 0, 1), ValueError, "n_target must be >= 1"),
    ((1.0, 10, 10, 0), ValueError, "epochs must be >= 1"),
])
def test_projected_hours_validates(args, error, match):
    with pytest.raises(error, match=match):
        asis.projected_hours(*args)


def test_practical_limit_picks_the_longest_length_that_is_learned_and_affordable():
    # 100 samples measured -> 3600 target = x36; 1 epoch: hours = sec_per_epoch / 100
    results = fake_results((1.0, 0.95, 0.5), (10.0, 100.0, 1000.0))
    limit = asis.practical_limit(results, n_target=3600, epochs_target=1, budget_hours=5.0)
    assert limit["hours"] == pytest.approx({10: 0.1, 100: 1.0, 1000: 10.0})
    assert limit["longest_learned"] == 100
    assert limit["longest_affordable"] == 100
    assert limit["practical"] == 100
    strict = asis.practical_limit(results, n_target=3600, epochs_target=1, budget_hours=0.5,
                                  min_accuracy=0.99)
    assert (strict["longest_learned"], strict["longest_affordable"], strict["practical"]) == (
        10, 10, 10)
    nothing = asis.practical_limit(results, n_target=3600, epochs_target=1, budget_hours=0.01)
    assert nothing["longest_affordable"] == 0 and nothing["practical"] == 0


def test_practical_limit_validates():
    good = fake_results((1.0, 1.0, 1.0), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="results must be a non-empty list"):
        asis.practical_limit([], n_target=1, epochs_target=1, budget_hours=1)
    with pytest.raises(ValueError, match=r"results\[0\] lacks \['n_train'\]"):
        asis.practical_limit([{"seq_len": 1, "test_acc": 1, "sec_per_epoch": 1}],
                             n_target=1, epochs_target=1, budget_hours=1)
    with pytest.raises(ValueError, match="budget_hours must be > 0"):
        asis.practical_limit(good, n_target=1, epochs_target=1, budget_hours=0)
    with pytest.raises(ValueError, match="min_accuracy must be in"):
        asis.practical_limit(good, n_target=1, epochs_target=1, budget_hours=1, min_accuracy=2)
    with pytest.raises(ValueError, match="n_target must be >= 1"):
        asis.practical_limit(good, n_target=0, epochs_target=1, budget_hours=1)


def test_as_is_figure_has_both_axes():
    fig, ax = asis.as_is_figure(fake_results((1.0, 0.7, 0.5), (0.1, 0.5, 2.0)))
    assert list(ax.lines[0].get_xdata()) == [10, 100, 1000]
    assert list(ax.right.lines[0].get_ydata()) == [0.1, 0.5, 2.0]
    assert ax.right.get_ylabel() == "seconds per epoch"
    with pytest.raises(ValueError, match="results must be a non-empty"):
        asis.as_is_figure([])
    matplotlib.pyplot.close(fig)


# ----- notebook 03: signal_kept -----


@SETTINGS
@given(t=st.integers(10, 80), data_=st.data())
def test_signal_kept_matches_counting_the_words_after_truncate(t, data_):
    maxlen = data_.draw(st.integers(1, t))
    side = data_.draw(st.sampled_from(["pre", "post"]))
    position = data_.draw(st.sampled_from(["start", "end", "anywhere"]))
    x, y, info = zipf_documents(6, t, vocab_size=200, position=position, n_planted=2,
                                region=0.5, sentiment_first_id=50, seed=1)
    sentiment = np.concatenate([info.extra["negative_ids"], info.extra["positive_ids"]])
    counted = np.isin(truncate(x, maxlen, side), sentiment).sum() / (6 * 2)
    kept = asis.signal_kept(info.extra["planted_positions"], t, maxlen, side)
    assert kept == pytest.approx(counted)


def test_signal_kept_placement_decides_which_side_wins():
    _, _, start = zipf_documents(20, 100, position="start", region=0.1, seed=0)
    _, _, end = zipf_documents(20, 100, position="end", region=0.1, seed=0)
    p_start, p_end = start.extra["planted_positions"], end.extra["planted_positions"]
    assert asis.signal_kept(p_start, 100, 20, "post") == 1.0
    assert asis.signal_kept(p_start, 100, 20, "pre") == 0.0
    assert asis.signal_kept(p_end, 100, 20, "pre") == 1.0
    assert asis.signal_kept(p_end, 100, 20, "post") == 0.0


def test_signal_kept_validates():
    pos = np.array([[1, 2]])
    with pytest.raises(ValueError, match="side must be 'pre'"):
        asis.signal_kept(pos, 10, 5, "middle")
    with pytest.raises(ValueError, match="maxlen must be >= 1 and <= 10"):
        asis.signal_kept(pos, 10, 11, "pre")
    with pytest.raises(ValueError, match="planted_positions must be a non-empty 2-D int"):
        asis.signal_kept(np.array([1, 2]), 10, 5, "pre")
    with pytest.raises(ValueError, match=r"planted_positions must be in \[0, 9\]"):
        asis.signal_kept(np.array([[1, 12]]), 10, 5, "pre")


# ----- notebook 03: truncation_grid / report -----

GRID = {"n_samples": 16, "seq_len": 20, "vocab_size": 150, "region": 0.25, "units": 4,
        "embed_dim": 4, "epochs": 2, "batch_size": 8}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"maxlen": 0}, "maxlen must be >= 1"),
    ({"maxlen": 21}, "maxlen must be >= 1 and <= 20"),
    ({"maxlen": 5, "positions": "start"}, "positions must be a non-empty list"),
    ({"maxlen": 5, "positions": ("middle",)}, "positions must be a non-empty list"),
    ({"maxlen": 5, "sides": ()}, "sides must be a non-empty list"),
    ({"maxlen": 5, "sides": ("left",)}, "side must be 'pre'"),
])
def test_truncation_grid_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        asis.truncation_grid(**{**GRID, **kwargs})


def test_truncation_grid_and_report_rows_and_determinism():
    rows = asis.truncation_grid(5, positions=("start",), sides=("pre", "post"), seed=2, **GRID)
    assert [(r["position"], r["side"]) for r in rows] == [("start", "pre"), ("start", "post")]
    assert [r["signal_kept"] for r in rows] == [0.0, 1.0]
    assert all(0.0 <= r["test_acc"] <= 1.0 and r["maxlen"] == 5 for r in rows)
    # the same documents and seed give the same model, alone or inside a grid
    fig, again = asis.truncation_report(5, "post", positions=("start",), seed=2, **GRID)
    assert [(r["side"], r["test_acc"]) for r in again] == [("post", rows[1]["test_acc"])]
    assert len(fig.axes[0].patches) == 1
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="side must be 'pre'"):
        asis.truncation_report(5, "both", **GRID)


def test_truncation_figure_groups_bars():
    rows = [{"position": p, "side": s, "maxlen": 7, "test_acc": a}
            for (p, s), a in zip([("start", "pre"), ("start", "post"), ("end", "pre"),
                                  ("end", "post")], [0.5, 1.0, 1.0, 0.5], strict=True)]
    fig, ax = asis.truncation_figure(rows)
    assert [round(b.get_height(), 2) for b in ax.patches] == [0.5, 1.0, 1.0, 0.5]
    assert "7 tokens" in ax.get_title()
    with pytest.raises(ValueError, match="results must be a non-empty"):
        asis.truncation_figure([])
    matplotlib.pyplot.close(fig)


# ----- notebook 03: the (maxlen, side) widget -----


def test_truncation_explorer_calls_the_plain_function_with_its_controls():
    from course_lib import widgets

    calls = []

    def plain(maxlen, side, seed):
        calls.append((maxlen, side, seed))
        return None

    with pytest.raises(ValueError, match="side must be 'pre' or 'post'"):
        widgets.truncation_explorer(plain, 5, 20, "left")
    box = widgets.truncation_explorer(plain, 5, 20, "pre", fixed={"seed": 1})
    if box is None:  # no ipywidgets here: nothing to click
        pytest.skip("ipywidgets is not installed")
    box.controls["maxlen"].value = 7
    box.controls["side"].value = "post"
    box.run()
    assert calls == [(7, "post", 1)]
    assert box.controls["maxlen"].max == 20


def test_signal_kept_figure_draws_one_line_per_placement_and_side():
    _, _, start = zipf_documents(10, 50, position="start", region=0.2, seed=0)
    _, _, end = zipf_documents(10, 50, position="end", region=0.2, seed=0)
    planted = {"start": start.extra["planted_positions"], "end": end.extra["planted_positions"]}
    fig, ax = asis.signal_kept_figure(planted, 50, maxlen=10, n_points=6)
    labels = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert labels == ["signal at start, pre", "signal at start, post", "signal at end, pre",
                      "signal at end, post"]
    assert ax.lines[1].get_ydata()[-1] == 1.0  # keeping all 50 tokens keeps every word
    with pytest.raises(ValueError, match="planted must be a non-empty dict"):
        asis.signal_kept_figure({}, 50)
    with pytest.raises(ValueError, match="maxlen must be >= 1 and <= 50"):
        asis.signal_kept_figure(planted, 50, maxlen=60)
    matplotlib.pyplot.close(fig)
