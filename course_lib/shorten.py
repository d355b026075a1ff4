"""Experiments of notebook 05 (random sampling).

Each ``*_run`` function trains one small model on shortened data and returns plain
numbers (accuracy, seconds); each ``*_demo`` function wraps a run and draws a figure,
so a widget and a headless notebook call the very same code. The shortening itself
lives in :mod:`course_lib.techniques`; this module only wires it to the models.
Notebook 04's plumbing lives in :mod:`course_lib.lessons.summarize`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from course_lib.data import _check_seed, check_positive_int
from course_lib.techniques import (
    aggregate_by_source,
    augment_windows,
    random_drop_steps,
    random_windows,
)

METHODS = ("as-is", "random drop", "random windows")


def _check_split(data: Any, ndim: int) -> tuple[np.ndarray, ...]:
    """Return ``data = (x_train, y_train, x_test, y_test)`` as arrays, or raise ValueError."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError("data must be a tuple (x_train, y_train, x_test, y_test)")
    x_train, y_train, x_test, y_test = (np.asarray(a) for a in data)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != ndim:
            raise ValueError(f"x_{name} must be {ndim}-D, got shape {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y_{name} must have shape ({x.shape[0]},), got {y.shape}")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(
            f"x_train and x_test must have the same step shape, got {x_train.shape[1:]} "
            f"and {x_test.shape[1:]}")
    return x_train, y_train, x_test, y_test


def _train(model, x_train, y_train, x_test, y_test, epochs, batch_size, label):
    """Fit ``model`` and return ``(fit_and_score result, total training seconds)``."""
    from course_lib import models

    began = time.perf_counter()
    result = models.fit_and_score(model, (x_train, y_train), (x_test, y_test), epochs=epochs,
                                  batch_size=batch_size, label=label)
    return result, time.perf_counter() - began


# --------------------------------------------------------------------------- notebook 05


def shorten_signals(x: Any, method: str, length: int, *, n_windows: int = 1,
                    seed: int = 0) -> np.ndarray:
    """Shorten sequences to ``length`` steps by one of :data:`METHODS`.

    "as-is" returns a copy unchanged (``length`` must then equal the number of
    steps); "random drop" keeps ``length`` random steps in order; "random windows"
    joins ``n_windows`` random contiguous windows of ``length // n_windows`` steps.

    Args:
        x: ``[samples, timesteps, features]`` (or 2-D token ids).
        method: one of :data:`METHODS`.
        length: steps to keep, in ``[1, timesteps]``.
        n_windows: windows for "random windows" (>= 1, divides ``length``).
        seed: random seed.

    Returns:
        ``[samples, length, ...]``.
    """
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be 2-D or 3-D [samples, timesteps, ...], got {x.shape}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    length = check_positive_int("length", length, maximum=x.shape[1])
    n_windows = check_positive_int("n_windows", n_windows, maximum=length)
    if method == "as-is":
        if length != x.shape[1]:
            raise ValueError(f"length must equal timesteps ({x.shape[1]}) for 'as-is', "
                             f"got {length}")
        return x.copy()
    if method == "random drop":
        return random_drop_steps(x, length, seed=seed)
    if length % n_windows:
        raise ValueError(f"n_windows ({n_windows}) must divide length ({length})")
    return random_windows(x, length // n_windows, n_windows, seed=seed)


def sampling_run(
    method: str,
    length: int,
    *,
    data: tuple,
    n_windows: int = 1,
    units: int = 16,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, Any]:
    """Shorten train and test sequences with ``method`` and train an LSTM classifier on them.

    Train and test get different random draws (``seed`` and ``seed + 1``).

    Args:
        method: one of :data:`METHODS`.
        length: steps the LSTM reads.
        data: ``(x_train, y_train, x_test, y_test)``, float ``[samples, timesteps, features]``.
        n_windows: windows joined by "random windows".
        units, epochs, batch_size: model size and training.
        seed: seed for the draws and the weights.

    Returns:
        dict with ``method``, ``length``, ``test_acc``, ``sec_per_epoch``, ``train_sec``.
    """
    import keras

    from course_lib import models

    x_train, y_train, x_test, y_test = _check_split(data, 3)
    seed = _check_seed(seed)
    short_train = shorten_signals(x_train, method, length, n_windows=n_windows, seed=seed)
    short_test = shorten_signals(x_test, method, length, n_windows=n_windows, seed=seed + 1)
    keras.utils.set_random_seed(seed)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    model = models.lstm_classifier(length, x_train.shape[2], units, max(2, n_classes))
    fit, seconds = _train(model, short_train, y_train, short_test, y_test, epochs, batch_size,
                          f"{method}, {length} steps")
    return {"method": method, "length": length, "test_acc": fit["test_acc"],
            "sec_per_epoch": fit["sec_per_epoch"], "train_sec": seconds}


def augment_run(
    window: int,
    n_windows: int,
    *,
    data: tuple,
    units: int = 16,
    epochs: int = 10,
    batch_size: int = 32,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on ``n_windows`` random windows per sequence; score single windows and their average.

    Train and test are windowed separately (after the split, so no test window leaks
    into training). Each test sequence is scored twice: by its first window alone,
    and by the mean of the predicted probabilities of all its ``n_windows`` windows.

    Args:
        window: steps per window, in ``[1, timesteps]``.
        n_windows: windows per sequence (>= 1).
        data: ``(x_train, y_train, x_test, y_test)``, float ``[samples, timesteps, features]``,
            binary labels.
        units, epochs, batch_size: model size and training.
        seed: seed for the draws and the weights.

    Returns:
        dict with ``window``, ``n_windows``, ``window_acc`` (one window per test
        sequence), ``aggregated_acc`` (mean over its windows), ``sec_per_epoch``,
        ``train_sec``, ``train_windows`` (training samples after augmentation) and
        ``model`` (the trained Keras model).
    """
    import keras

    from course_lib import models

    x_train, y_train, x_test, y_test = _check_split(data, 3)
    if set(np.unique(np.concatenate([y_train, y_test])).tolist()) - {0, 1}:
        raise ValueError("augment_run needs binary labels in {0, 1}")
    window = check_positive_int("window", window, maximum=x_train.shape[1])
    n_windows = check_positive_int("n_windows", n_windows)
    seed = _check_seed(seed)
    xa, ya, _ = augment_windows(x_train, y_train, window, n_windows, seed=seed)
    xt, _, source = augment_windows(x_test, y_test, window, n_windows, seed=seed + 1)
    keras.utils.set_random_seed(seed)
    model = models.lstm_classifier(window, x_train.shape[2], units)
    began = time.perf_counter()
    fit = models.fit_and_score(model, (xa, ya), (xt, y_test[source]), epochs=epochs,
                               batch_size=batch_size,
                               label=f"augment {n_windows} x {window} steps, per window")
    seconds = time.perf_counter() - began
    prob = model.predict(xt, batch_size=256, verbose=0).reshape(-1)
    first = prob[::n_windows]  # windows of one sequence are consecutive rows
    mean = aggregate_by_source(prob, source, len(y_test))
    return {"window": window, "n_windows": n_windows, "train_windows": len(ya),
            "window_acc": float(((first > 0.5) == y_test).mean()),
            "aggregated_acc": float(((mean > 0.5) == y_test).mean()),
            "sec_per_epoch": fit["sec_per_epoch"], "train_sec": seconds, "model": model}


def accuracy_vs_windows(model: Any, x_test: Any, y_test: Any, window: int, counts: Any, *,
                        seed: int = 0) -> list[float]:
    """Score a trained window model when each test sequence is judged by ``m`` random windows.

    No training happens here: for each ``m`` in ``counts`` the test sequences are cut into
    ``m`` fresh random windows, and the mean predicted probability decides the class.

    Args:
        model: a binary classifier reading ``[batch, window, features]`` (from :func:`augment_run`).
        x_test: float ``[samples, timesteps, features]``.
        y_test: int ``[samples]`` in {0, 1}.
        window: steps per window (the model's input length).
        counts: window counts to try, each >= 1.
        seed: seed of the window draws.

    Returns:
        Accuracies, one per entry of ``counts``.
    """
    x_test, y_test = np.asarray(x_test), np.asarray(y_test)
    if x_test.ndim != 3 or y_test.shape != (x_test.shape[0],):
        raise ValueError(f"x_test must be [samples, timesteps, features] and y_test [samples], "
                         f"got {x_test.shape} and {y_test.shape}")
    counts = [check_positive_int("counts", c) for c in counts]
    if not counts:
        raise ValueError("counts must hold at least one window count")
    window = check_positive_int("window", window, maximum=x_test.shape[1])
    scores = []
    for m in counts:
        xt, _, source = augment_windows(x_test, y_test, window, m, seed=_check_seed(seed) + m)
        prob = model.predict(xt, batch_size=256, verbose=0).reshape(-1)
        mean = aggregate_by_source(prob, source, len(y_test))
        scores.append(float(((mean > 0.5) == y_test).mean()))
    return scores


def window_demo(window: int, n_windows: int, **kwargs: Any):
    """Run :func:`augment_run`; draw one-window vs aggregated accuracy; return ``(fig, result)``.

    Args:
        window: steps per window.
        n_windows: windows per sequence.
        **kwargs: passed on to :func:`augment_run` (``data``, ``units``, ``epochs``, ``seed``).
    """
    from course_lib import plots

    result = augment_run(window, n_windows, **kwargs)
    fig, ax = plots.figure(f"{n_windows} windows of {window} steps per sequence",
                           "how a test sequence is scored", "test accuracy")
    labels = ["one window", f"mean of {n_windows} windows"]
    values = [result["window_acc"], result["aggregated_acc"]]
    ax.bar(labels, values, color=[plots.color_for("random windows"), plots.color_for("augment")])
    for i, v in enumerate(values):
        ax.text(i, v + 0.01, f"{v:.2f}", ha="center")
    ax.axhline(0.5, color="black", linestyle=":", label="chance")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right")
    return fig, result
