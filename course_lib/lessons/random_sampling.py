"""Plumbing for notebook 05 (random sampling): the model's training, the widget, exercise checks.

The window gather and the averaging of window predictions are written out in the notebook and
kept in :mod:`course_lib.techniques` (:func:`~course_lib.techniques.gather_windows`,
:func:`~course_lib.techniques.average_windows`); the small LSTM classifier trained on every
shortening is written out there too and kept here as :func:`fit_window_lstm`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from course_lib.techniques import augment_windows, average_windows, gather_windows
from course_lib.validate import check_positive_int, check_seed


def fit_window_lstm(x, y, units, epochs, seed, learning_rate):
    """Train LSTM(units) -> sigmoid on ``x [samples, steps, features]``; return (model, s/epoch).

    Written out in notebook 05. The first epoch also traces the graph, so seconds per epoch
    are the median over the epochs after it (``epochs`` must be >= 2).
    """
    keras.utils.set_random_seed(seed)  # same starting weights for every shortening
    model = keras.Sequential([
        keras.Input(shape=x.shape[1:]),  # [steps, features]: the LSTM reads every step given
        keras.layers.LSTM(units),  # default activations: cuDNN's fast kernel on a GPU
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="binary_crossentropy", metrics=["accuracy"])
    seconds = []
    for epoch in range(epochs):  # one epoch per call, to time each
        began = time.perf_counter()
        model.fit(x, y, epochs=epoch + 1, initial_epoch=epoch, batch_size=32, verbose=0)
        seconds.append(time.perf_counter() - began)
    return model, float(np.median(seconds[1:]))  # epoch 1 also traces the graph: left out


def _check_split(data: Any) -> tuple[np.ndarray, ...]:
    """Return ``data = (x_train, y_train, x_test, y_test)`` as arrays, or raise ValueError."""
    if not isinstance(data, tuple | list) or len(data) != 4:
        raise ValueError("data must be a tuple (x_train, y_train, x_test, y_test)")
    x_train, y_train, x_test, y_test = (np.asarray(a) for a in data)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3:
            raise ValueError(f"x_{name} must be 3-D [samples, timesteps, features], "
                             f"got shape {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y_{name} must have shape ({x.shape[0]},), got {y.shape}")
        if set(np.unique(y).tolist()) - {0, 1}:
            raise ValueError(f"y_{name} must hold binary labels in {{0, 1}}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"x_train and x_test must have the same step shape, got "
                         f"{x_train.shape[1:]} and {x_test.shape[1:]}")
    return x_train, y_train, x_test, y_test


def augment_run(window: int, n_windows: int, *, data: tuple, units: int = 16, epochs: int = 10,
                seed: int = 0, learning_rate: float = 0.003) -> dict[str, Any]:
    """Train on ``n_windows`` random windows per training trace; score one window and the mean.

    Train windows are drawn with ``seed``, test windows with ``seed + 1`` (each set is cut
    after the split, so no test window leaks into training).

    Args:
        window: steps per window, in ``[1, timesteps]``.
        n_windows: windows per trace, >= 1.
        data: ``(x_train, y_train, x_test, y_test)``, float ``[samples, timesteps, features]``
            and binary labels.
        units: LSTM units, >= 1.
        epochs: training epochs, >= 2.
        seed: non-negative seed of the draws and the weights.
        learning_rate: Adam's step size, a finite number > 0.

    Returns:
        dict with ``window``, ``n_windows``, ``window_acc`` (first window of each test trace),
        ``aggregated_acc`` (mean of its windows), ``sec_per_epoch`` and ``model``.
    """
    x_train, y_train, x_test, y_test = _check_split(data)
    window = check_positive_int("window", window, maximum=x_train.shape[1])
    n_windows = check_positive_int("n_windows", n_windows)
    units = check_positive_int("units", units)
    epochs = check_positive_int("epochs", epochs, minimum=2)
    seed = check_seed(seed)
    if (isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float)
            or not 0 < learning_rate < float("inf")):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
    xa, ya, _ = augment_windows(x_train, y_train, window, n_windows, seed=seed)
    xt, _, _ = augment_windows(x_test, y_test, window, n_windows, seed=seed + 1)
    model, sec_per_epoch = fit_window_lstm(xa, ya, units, epochs, seed, learning_rate)
    prob = model.predict(xt, batch_size=256, verbose=0).reshape(-1)
    one = prob[::n_windows]  # the first window of each test trace
    mean = average_windows(prob, n_windows)
    return {"window": window, "n_windows": n_windows,
            "window_acc": float(((one > 0.5) == y_test).mean()),
            "aggregated_acc": float(((mean > 0.5) == y_test).mean()),
            "sec_per_epoch": sec_per_epoch, "model": model}


def window_demo(window: int, n_windows: int, **kwargs: Any):
    """Run :func:`augment_run`; draw one-window vs averaged accuracy; return ``(fig, result)``.

    Args:
        window: steps per window.
        n_windows: windows per trace.
        **kwargs: passed on to :func:`augment_run` (``data``, ``units``, ``epochs``, ``seed``,
            ``learning_rate``).
    """
    from course_lib import plots

    result = augment_run(window, n_windows, **kwargs)
    fig, ax = plots.figure(f"{n_windows} windows of {window} steps per trace",
                           "how a test trace is scored", "test accuracy")
    labels = ["one window", f"mean of {n_windows} windows"]
    values = [result["window_acc"], result["aggregated_acc"]]
    ax.bar(labels, values, color=[plots.color_for("random windows"), plots.color_for("augment")])
    for i, v in enumerate(values):
        ax.text(i, v + 0.01, f"{v:.2f}", ha="center")
    ax.axhline(0.5, color="black", linestyle=":", label="chance")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right")
    return fig, result


def mean_coverage(starts: Any, window: int, seq_len: int) -> float:
    """Mean share of a trace's ``seq_len`` steps that its windows (``starts``) cover at least once.

    Args:
        starts: int ``[samples, n_windows]`` window starts, each in ``[0, seq_len - window]``.
        window: steps per window, in ``[1, seq_len]``.
        seq_len: steps per trace, >= 1.
    """
    seq_len = check_positive_int("seq_len", seq_len)
    window = check_positive_int("window", window, maximum=seq_len)
    starts = np.asarray(starts)
    if starts.ndim != 2 or not np.issubdtype(starts.dtype, np.integer):
        raise ValueError(f"starts must be int [samples, n_windows], got {starts.dtype} "
                         f"{starts.shape}")
    if starts.size and (starts.min() < 0 or starts.max() > seq_len - window):
        raise ValueError(f"starts must be in [0, {seq_len - window}], got "
                         f"[{starts.min()}, {starts.max()}]")
    covered = np.zeros((starts.shape[0], seq_len), dtype=bool)
    steps = starts[:, :, None] + np.arange(window)
    np.put_along_axis(covered, steps.reshape(starts.shape[0], -1), True, axis=1)
    return float(covered.mean())


def gather_checker(trials: int = 20, seed: int = 0) -> Callable[[Any], bool]:
    """Return a predicate: does a function agree with ``gather_windows`` on random inputs?

    The predicate calls the candidate as ``fn(x, starts, window)`` on ``trials`` random
    ``[samples, timesteps, features]`` arrays and valid starts; any exception, wrong shape
    or wrong value makes it False.

    Args:
        trials: random cases to try, >= 1.
        seed: non-negative seed of the cases.
    """
    trials = check_positive_int("trials", trials)
    seed = check_seed(seed)

    def agrees(fn: Any) -> bool:
        if not callable(fn):
            return False
        rng = np.random.default_rng(seed)
        for _ in range(trials):
            n, steps, feats = (int(v) for v in rng.integers(1, 7, size=3))
            steps += 8
            window = int(rng.integers(1, steps + 1))
            n_windows = int(rng.integers(1, 5))
            x = rng.normal(size=(n, steps, feats))
            starts = rng.integers(0, steps - window + 1, size=(n, n_windows))
            try:
                got = np.asarray(fn(x.copy(), starts.copy(), window))
            except Exception:  # a student's bug is a wrong answer, not a crash
                return False
            want = gather_windows(x, starts, window)
            if got.shape != want.shape or not np.allclose(got, want):
                return False
        return True

    return agrees


def number_in_range(low: float, high: float, tolerance: float = 0.05) -> Callable[[Any], bool]:
    """Return a predicate: is the answer a number in ``[low * (1 - tol), high * (1 + tol)]``?

    Args:
        low, high: the accepted range, ``0 <= low <= high``.
        tolerance: relative slack at both ends, in ``[0, 1)``.
    """
    if not (0 <= low <= high):
        raise ValueError(f"low and high must satisfy 0 <= low <= high, got {low}, {high}")
    if not (isinstance(tolerance, int | float) and 0 <= tolerance < 1):
        raise ValueError(f"tolerance must be a number in [0, 1), got {tolerance!r}")

    def inside(answer: Any) -> bool:
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return False
        return low * (1 - tolerance) <= value <= high * (1 + tolerance)

    return inside
