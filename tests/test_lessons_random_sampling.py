"""Tests for course_lib.lessons.random_sampling (notebook 05's plumbing) and its widget."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_lib import widgets  # noqa: E402
from course_lib.data import eeg_signals, train_test_split  # noqa: E402
from course_lib.lessons import random_sampling as lesson  # noqa: E402
from course_lib.techniques import window_starts  # noqa: E402


@pytest.fixture(scope="module")
def traces():
    x, y, _ = eeg_signals(24, 32, burst_len=8, seed=5)
    return train_test_split(x, y, seed=5)


# ----------------------------------------------------------------------- the model


def test_fit_window_lstm_trains_a_model_of_the_input_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, 2)).astype("float32")
    y = rng.integers(0, 2, 16)
    model, sec = lesson.fit_window_lstm(x, y, 3, 2, 0, 0.01)
    assert model.input_shape == (None, 6, 2) and model.output_shape == (None, 1)
    assert sec > 0
    lstm = model.layers[0]
    assert lstm.activation.__name__ == "tanh" and lstm.recurrent_dropout == 0 and not lstm.unroll
    again, _ = lesson.fit_window_lstm(x, y, 3, 2, 0, 0.01)  # same seed, same weights
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------- training runs


def test_check_split_names_the_mismatch(traces):
    x_train, y_train, x_test, y_test = traces
    with pytest.raises(ValueError, match="y_train"):
        lesson.augment_run(8, 2, data=(x_train, y_train[:-1], x_test, y_test))
    with pytest.raises(ValueError, match="same step shape"):
        lesson.augment_run(8, 2, data=(x_train, y_train, x_test[:, :16], y_test))
    with pytest.raises(ValueError, match="3-D"):
        lesson.augment_run(8, 2, data=(x_train[..., 0], y_train, x_test, y_test))
    with pytest.raises(ValueError, match="data"):
        lesson.augment_run(8, 2, data=(x_train, y_train))


def test_augment_run_rejects_bad_arguments(traces):
    x_train, y_train, x_test, y_test = traces
    with pytest.raises(ValueError, match="window"):
        lesson.augment_run(99, 3, data=traces)
    with pytest.raises(ValueError, match="binary"):
        lesson.augment_run(8, 2, data=(x_train, y_train + 1, x_test, y_test))
    with pytest.raises(ValueError, match="epochs"):
        lesson.augment_run(8, 2, data=traces, epochs=1)
    with pytest.raises(ValueError, match="seed"):
        lesson.augment_run(8, 2, data=traces, seed=-1)
    for bad in (0, -0.1, float("nan"), True, "0.01"):
        with pytest.raises(ValueError, match="learning_rate"):
            lesson.augment_run(8, 2, data=traces, learning_rate=bad)


def test_window_demo_scores_one_window_and_the_mean(traces):
    fig, aug = lesson.window_demo(8, 3, data=traces, units=4, epochs=2, seed=2)
    assert hasattr(fig, "savefig") and aug["n_windows"] == 3 and aug["window"] == 8
    plt.close(fig)
    assert 0 <= aug["window_acc"] <= 1 and 0 <= aug["aggregated_acc"] <= 1
    assert aug["model"].input_shape == (None, 8, traces[0].shape[2])


# ----------------------------------------------------------------------- coverage


def test_mean_coverage_counts_distinct_steps():
    # windows of 2 steps in 8: [0, 1] and [1, 2] cover 3 steps; [0, 1] and [4, 5] cover 4
    assert lesson.mean_coverage(np.array([[0, 1]]), 2, 8) == pytest.approx(3 / 8)
    assert lesson.mean_coverage(np.array([[0, 4], [0, 0]]), 2, 8) == pytest.approx(6 / 16)


@settings(max_examples=30, deadline=None)
@given(seq_len=st.integers(4, 40), window=st.integers(1, 8), n=st.integers(1, 4),
       seed=st.integers(0, 999))
def test_non_overlapping_windows_cover_n_times_window_steps(seq_len, window, n, seed):
    if n * window > seq_len:
        return
    starts = window_starts(seq_len, window, n, 5, overlap=False, seed=seed)
    assert lesson.mean_coverage(starts, window, seq_len) == pytest.approx(n * window / seq_len)
    free = window_starts(seq_len, window, n, 5, overlap=True, seed=seed)
    assert lesson.mean_coverage(free, window, seq_len) <= n * window / seq_len + 1e-12


def test_mean_coverage_rejects_bad_arguments():
    with pytest.raises(ValueError, match="starts"):
        lesson.mean_coverage(np.array([[7]]), 2, 8)
    with pytest.raises(ValueError, match="starts"):
        lesson.mean_coverage(np.array([0.5]), 2, 8)
    with pytest.raises(ValueError, match="window"):
        lesson.mean_coverage(np.array([[0]]), 9, 8)


# ----------------------------------------------------------------------- exercise checks


def test_gather_checker_accepts_a_loop_and_rejects_wrong_gathers():
    agrees = lesson.gather_checker()

    def loop(x, starts, window):
        return np.stack([np.stack([x[i, s:s + window] for s in row])
                         for i, row in enumerate(starts)])

    def off_by_one(x, starts, window):
        return loop(x, np.minimum(starts + 1, x.shape[1] - window), window)

    def crashes(x, starts, window):
        raise IndexError("bug")

    assert agrees(loop)
    assert not agrees(off_by_one)
    assert not agrees(crashes)
    assert not agrees(lambda x, starts, window: x[:, :window])
    assert not agrees(None)
    with pytest.raises(ValueError, match="trials"):
        lesson.gather_checker(trials=0)


def test_number_in_range_accepts_both_readings_and_nothing_far():
    inside = lesson.number_in_range(0.0686, 0.0735, 0.05)
    assert inside(0.0686) and inside(0.0735) and inside("0.07") and inside(0.066)
    assert not inside(0.06) and not inside(0.08) and not inside("a lot") and not inside(None)
    with pytest.raises(ValueError, match="low"):
        lesson.number_in_range(0.2, 0.1)
    with pytest.raises(ValueError, match="tolerance"):
        lesson.number_in_range(0.1, 0.2, 1.5)


# ----------------------------------------------------------------------- widgets


def test_windows_explorer_passes_the_slider_values_to_the_plain_function():
    calls = []

    def plain(**kwargs):
        calls.append(kwargs)
        return None

    box = widgets.windows_explorer(plain, 16, 4, 64, fixed={"seed": 1})
    box.controls["window"].value = 32
    box.run()
    assert calls[-1] == {"window": 32, "n_windows": 4, "seed": 1}
