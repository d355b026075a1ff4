"""Tests for course_lib.shorten (notebook 05) and its widget (04's: test_lessons_summarize)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from course_lib import shorten, widgets  # noqa: E402
from course_lib.data import eeg_signals, train_test_split  # noqa: E402


@pytest.fixture(scope="module")
def traces():
    x, y, _ = eeg_signals(24, 32, burst_len=8, seed=5)
    return train_test_split(x, y, seed=5)


# ----------------------------------------------------------------------- shorten_signals


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 24), n_windows=st.integers(1, 4), seed=st.integers(0, 99))
def test_shorten_signals_shapes_and_determinism(length, n_windows, seed):
    x = np.random.default_rng(0).normal(size=(3, 24, 2))
    drop = shorten.shorten_signals(x, "random drop", length, seed=seed)
    assert drop.shape == (3, length, 2)
    np.testing.assert_array_equal(drop, shorten.shorten_signals(x, "random drop", length,
                                                                seed=seed))
    if length % n_windows == 0:
        win = shorten.shorten_signals(x, "random windows", length, n_windows=n_windows, seed=seed)
        assert win.shape == (3, length, 2)
        # every step of the result is a step of its own sequence
        for i in range(3):
            assert np.isin(win[i, :, 0], x[i, :, 0]).all()


def test_shorten_signals_as_is_is_an_unchanged_copy():
    x = np.ones((2, 5, 1))
    out = shorten.shorten_signals(x, "as-is", 5)
    out[0, 0, 0] = 9
    assert x[0, 0, 0] == 1


@pytest.mark.parametrize("method, length, n_windows, error, match", [
    ("shuffle", 4, 1, ValueError, "method"),
    ("as-is", 4, 1, ValueError, "must equal"),
    ("random drop", 0, 1, ValueError, "length"),
    ("random drop", 9, 1, ValueError, "length"),
    ("random windows", 4, 3, ValueError, "divide"),
    ("random windows", 4, 5, ValueError, "n_windows"),
    ("random drop", 2.5, 1, TypeError, "length"),
])
def test_shorten_signals_rejects_bad_arguments(method, length, n_windows, error, match):
    with pytest.raises(error, match=match):
        shorten.shorten_signals(np.zeros((2, 8, 1)), method, length, n_windows=n_windows)


# ----------------------------------------------------------------------- training runs


def test_check_split_names_the_mismatch(traces):
    x_train, y_train, x_test, y_test = traces
    with pytest.raises(ValueError, match="y_train"):
        shorten.sampling_run("as-is", 32, data=(x_train, y_train[:-1], x_test, y_test))
    with pytest.raises(ValueError, match="same step shape"):
        shorten.sampling_run("as-is", 32, data=(x_train, y_train, x_test[:, :16], y_test))
    with pytest.raises(ValueError, match="3-D"):
        shorten.sampling_run("as-is", 32, data=(x_train[..., 0], y_train, x_test, y_test))


def test_sampling_run_returns_scores(traces):
    run = shorten.sampling_run("random windows", 16, data=traces, n_windows=2, units=4, epochs=1)
    assert run["length"] == 16 and 0 <= run["test_acc"] <= 1 and run["sec_per_epoch"] > 0


def test_window_demo_and_accuracy_vs_windows(traces):
    fig, aug = shorten.window_demo(8, 3, data=traces, units=4, epochs=1, seed=2)
    assert hasattr(fig, "savefig") and aug["n_windows"] == 3
    plt.close(fig)
    assert aug["train_windows"] == 3 * len(traces[0])
    assert 0 <= aug["window_acc"] <= 1 and 0 <= aug["aggregated_acc"] <= 1
    x_test, y_test = traces[2], traces[3]
    curve = shorten.accuracy_vs_windows(aug["model"], x_test, y_test, 8, [1, 4], seed=0)
    assert len(curve) == 2 and all(0 <= a <= 1 for a in curve)
    assert curve == shorten.accuracy_vs_windows(aug["model"], x_test, y_test, 8, [1, 4], seed=0)
    with pytest.raises(ValueError, match="counts"):
        shorten.accuracy_vs_windows(aug["model"], x_test, y_test, 8, [0])
    with pytest.raises(ValueError, match="x_test"):
        shorten.accuracy_vs_windows(aug["model"], x_test[..., 0], y_test, 8, [1])


def test_augment_run_rejects_bad_arguments(traces):
    with pytest.raises(ValueError, match="window"):
        shorten.augment_run(99, 3, data=traces)
    x_train, y_train, x_test, y_test = traces
    with pytest.raises(ValueError, match="binary"):
        shorten.augment_run(8, 2, data=(x_train, y_train + 1, x_test, y_test))


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
