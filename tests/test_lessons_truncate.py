"""Tests for course_lib.lessons.truncate (notebook 03) and the saved slicing it teaches."""

from __future__ import annotations

import keras
import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data import zipf_documents
from course_lib.lessons import truncate as lesson
from course_lib.techniques import truncate, truncate_steps

matplotlib.use("Agg")
SETTINGS = settings(max_examples=40, deadline=None)


# ----- the saved slicing and Keras' names -----


@SETTINGS
@given(t=st.integers(1, 30), data_=st.data())
def test_truncate_steps_matches_keras_pad_sequences(t, data_):
    maxlen = data_.draw(st.integers(1, t))
    side = data_.draw(st.sampled_from(["pre", "post"]))
    x = np.arange(3 * t).reshape(3, t)
    by_keras = keras.utils.pad_sequences(x, maxlen=maxlen, truncating=side)
    assert np.array_equal(truncate_steps(x, maxlen, side), by_keras)
    assert np.array_equal(truncate(x, maxlen, side), by_keras)


# ----- the saved model -----


def test_token_lstm_classifier_shape_and_defaults():
    model = lesson.token_lstm_classifier(7, 50, 4, 3)
    assert tuple(model(np.zeros((2, 7), dtype="int32")).shape) == (2, 1)
    lstm = model.layers[1]
    assert (lstm.activation.__name__, lstm.recurrent_activation.__name__) == ("tanh", "sigmoid")
    assert lstm.unroll is False and lstm.recurrent_dropout == 0
    assert model.count_params() == 50 * 4 + 4 * 3 * (4 + 3 + 1) + 3 + 1


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0, 50, 4, 3), ValueError, "maxlen must be >= 1"),
    ((7, 0, 4, 3), ValueError, "vocab_size must be >= 1"),
    ((7, 50, 4.0, 3), TypeError, "embed_dim must be an int"),
    ((7, 50, 4, 0), ValueError, "units must be >= 1"),
])
def test_token_lstm_classifier_validates(args, error, match):
    with pytest.raises(error, match=match):
        lesson.token_lstm_classifier(*args)


# ----- the head-and-tail exercise -----


def test_head_and_tail_keeps_both_ends_in_order():
    x = np.arange(10)[None, :]
    assert lesson.head_and_tail(x, 2, 3).tolist() == [[0, 1, 7, 8, 9]]
    assert lesson.head_and_tail(x, 0, 3).tolist() == [[7, 8, 9]]
    assert lesson.head_and_tail(x, 4, 0).tolist() == [[0, 1, 2, 3]]
    signal = np.arange(24).reshape(2, 4, 3)
    assert lesson.head_and_tail(signal, 1, 1).shape == (2, 2, 3)


@pytest.mark.parametrize(("args", "error", "match"), [
    ((np.zeros((2, 5)), 3, 3), ValueError, r"head \+ tail must be in \[1, 5\]"),
    ((np.zeros((2, 5)), 0, 0), ValueError, r"head \+ tail must be in \[1, 5\]"),
    ((np.zeros((2, 5)), -1, 2), ValueError, "head must be >= 0"),
    ((np.zeros((2, 5)), 1, 1.5), TypeError, "tail must be an int"),
    ((np.zeros(5), 1, 1), ValueError, "x must be 2-D or 3-D"),
])
def test_head_and_tail_validates(args, error, match):
    with pytest.raises(error, match=match):
        lesson.head_and_tail(*args)


def test_check_head_and_tail_accepts_a_solution_and_rejects_the_minus_zero_slip(capsys):
    assert lesson.check_head_and_tail(
        lambda x, h, t: np.concatenate([x[:, :h], x[:, x.shape[1] - t:]], axis=1)) is True
    # x[:, -0:] is the whole sequence: the classic slip when tail == 0
    assert lesson.check_head_and_tail(
        lambda x, h, t: np.concatenate([x[:, :h], x[:, -t:]], axis=1)) is False
    assert "expected shape" in capsys.readouterr().out
    assert lesson.check_head_and_tail(lambda x, h, t: None) is False
    assert lesson.check_head_and_tail("not a function") is False


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
    kept = lesson.signal_kept(info.extra["planted_positions"], t, maxlen, side)
    assert kept == pytest.approx(counted)


def test_signal_kept_placement_decides_which_side_wins():
    _, _, start = zipf_documents(20, 100, position="start", region=0.1, seed=0)
    _, _, end = zipf_documents(20, 100, position="end", region=0.1, seed=0)
    p_start, p_end = start.extra["planted_positions"], end.extra["planted_positions"]
    assert lesson.signal_kept(p_start, 100, 20, "post") == 1.0
    assert lesson.signal_kept(p_start, 100, 20, "pre") == 0.0
    assert lesson.signal_kept(p_end, 100, 20, "pre") == 1.0
    assert lesson.signal_kept(p_end, 100, 20, "post") == 0.0


def test_signal_kept_validates():
    pos = np.array([[1, 2]])
    with pytest.raises(ValueError, match="side must be 'pre'"):
        lesson.signal_kept(pos, 10, 5, "middle")
    with pytest.raises(ValueError, match="maxlen must be >= 1 and <= 10"):
        lesson.signal_kept(pos, 10, 11, "pre")
    with pytest.raises(ValueError, match="planted_positions must be a non-empty 2-D int"):
        lesson.signal_kept(np.array([1, 2]), 10, 5, "pre")
    with pytest.raises(ValueError, match=r"planted_positions must be in \[0, 9\]"):
        lesson.signal_kept(np.array([[1, 12]]), 10, 5, "pre")


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
        lesson.truncation_grid(**{**GRID, **kwargs})


def test_truncation_grid_and_report_rows_and_determinism():
    rows = lesson.truncation_grid(5, positions=("start",), sides=("pre", "post"), seed=2, **GRID)
    assert [(r["position"], r["side"]) for r in rows] == [("start", "pre"), ("start", "post")]
    assert [r["signal_kept"] for r in rows] == [0.0, 1.0]
    assert all(0.0 <= r["test_acc"] <= 1.0 and r["maxlen"] == 5 for r in rows)
    # the same documents and seed give the same model, alone or inside a grid
    fig, again = lesson.truncation_report(5, "post", positions=("start",), seed=2, **GRID)
    assert [(r["side"], r["test_acc"]) for r in again] == [("post", rows[1]["test_acc"])]
    assert len(fig.axes[0].patches) == 1
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="side must be 'pre'"):
        lesson.truncation_report(5, "both", **GRID)


def test_truncation_figure_groups_bars():
    rows = [{"position": p, "side": s, "maxlen": 7, "test_acc": a}
            for (p, s), a in zip([("start", "pre"), ("start", "post"), ("end", "pre"),
                                  ("end", "post")], [0.5, 1.0, 1.0, 0.5], strict=True)]
    fig, ax = lesson.truncation_figure(rows)
    assert [round(b.get_height(), 2) for b in ax.patches] == [0.5, 1.0, 1.0, 0.5]
    assert "7 tokens" in ax.get_title()
    with pytest.raises(ValueError, match="results must be a non-empty"):
        lesson.truncation_figure([])
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
    fig, ax = lesson.signal_kept_figure(planted, 50, maxlen=10, n_points=6)
    labels = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert labels == ["signal at start, pre", "signal at start, post", "signal at end, pre",
                      "signal at end, post"]
    assert ax.lines[1].get_ydata()[-1] == 1.0  # keeping all 50 tokens keeps every word
    with pytest.raises(ValueError, match="planted must be a non-empty dict"):
        lesson.signal_kept_figure({}, 50)
    with pytest.raises(ValueError, match="maxlen must be >= 1 and <= 50"):
        lesson.signal_kept_figure(planted, 50, maxlen=60)
    matplotlib.pyplot.close(fig)


def test_truncation_grid_gives_what_the_notebook_loop_gives():
    """The widget's library loop and notebook 03's loop on the page train the same models."""
    from course_lib.data import train_test_split
    from course_lib.environment import set_seed

    rows = lesson.truncation_grid(6, positions=("end",), sides=("pre",), seed=4, **GRID)
    x, y, _ = zipf_documents(GRID["n_samples"], GRID["seq_len"], vocab_size=GRID["vocab_size"],
                             position="end", region=GRID["region"], seed=4)
    x_train, y_train, x_test, y_test = train_test_split(x, y, seed=4)
    set_seed(4)
    model = lesson.token_lstm_classifier(6, GRID["vocab_size"], GRID["embed_dim"], GRID["units"])
    history = model.fit(truncate_steps(x_train, 6, "pre"), y_train, epochs=GRID["epochs"],
                        batch_size=GRID["batch_size"], verbose=0)
    _, test_acc = model.evaluate(truncate_steps(x_test, 6, "pre"), y_test, verbose=0)
    assert rows[0]["test_acc"] == pytest.approx(test_acc)
    assert rows[0]["train_acc"] == pytest.approx(history.history["accuracy"][-1])
    keras.backend.clear_session()
