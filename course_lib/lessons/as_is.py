"""Plumbing for notebook 02 (sequences as-is).

The notebook writes the technique on its page and this module keeps copies of those cells
(``tests/test_saved_copies.py`` checks they stay identical):

* :func:`as_is_classifier` -- ``keras.Sequential``: Input -> LSTM -> Dense(sigmoid), compiled;
* :class:`EpochTimer` -- a callback that records the seconds of every epoch;
* :func:`train_as_is` -- one run at one length T: data, split, model, ``fit``, ``evaluate``.

What would distract from the page lives here too: :func:`as_is_figure` (accuracy and time
against T), :func:`projected_hours` / :func:`practical_limit` (scale a measured epoch to a
realistic run), :func:`lstm_param_count` and :func:`check_stacked_model` (the exercise
that asks for a model) and :func:`ratio_bucket` (the "predict, then run" question).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from course_lib.data import marker_task, train_test_split
from course_lib.environment import set_seed
from course_lib.validate import check_fraction, check_positive_int

__all__ = [
    "as_is_classifier",
    "EpochTimer",
    "train_as_is",
    "projected_hours",
    "practical_limit",
    "as_is_figure",
    "lstm_param_count",
    "check_stacked_model",
    "RATIO_BUCKETS",
    "ratio_bucket",
]


def as_is_classifier(seq_len, n_features, units):
    """Build and compile Input -> LSTM(units) -> Dense(1, sigmoid) for whole sequences.

    Args:
        seq_len: timesteps per sequence (>= 1); the LSTM walks through all of them.
        n_features: features per timestep (>= 1).
        units: LSTM units (>= 1).

    Returns:
        A compiled binary classifier mapping ``[batch, seq_len, n_features]`` to ``[batch, 1]``.
    """
    for name, value in {"seq_len": seq_len, "n_features": n_features, "units": units}.items():
        check_positive_int(name, value)
    model = keras.Sequential([
        keras.Input(shape=(seq_len, n_features)),
        keras.layers.LSTM(units),  # default activations: the cuDNN kernel on a GPU
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


class EpochTimer(keras.callbacks.Callback):
    """Record the wall-clock seconds of every training epoch in ``self.seconds``."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def train_as_is(seq_len, n_samples, epochs, units, batch_size, seed):
    """Train a fresh :func:`as_is_classifier` on the marker task at one length; score and time it.

    The flag sits at step 0, so the model must carry one bit across all ``seq_len`` steps.
    The same seed gives the same data split and initial weights at every length.

    Args:
        seq_len: timesteps T (>= 1).
        n_samples: sequences (>= 4); a quarter is held out.
        epochs: training epochs (>= 1; with >= 2 the time per epoch leaves out the first,
            which also traces the training step).
        units: LSTM units.
        batch_size: sequences per weight update (>= 1).
        seed: seeds the data, the split and the weights.

    Returns:
        dict with ``seq_len``, ``test_acc``, ``train_acc`` (last epoch), ``sec_per_epoch``
        (median after the first epoch), ``first_epoch_sec``, ``n_train`` and ``epochs``.
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    set_seed(seed)
    x, y, _ = marker_task(n_samples, seq_len, seed=seed)
    x_train, y_train, x_test, y_test = train_test_split(x, y, seed=seed)
    model = as_is_classifier(seq_len, x.shape[-1], units)
    timer = EpochTimer()
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0,
                        callbacks=[timer])
    _, test_acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    keras.backend.clear_session()
    return {"seq_len": seq_len, "test_acc": float(test_acc),
            "train_acc": float(history.history["accuracy"][-1]),
            "sec_per_epoch": float(np.median(timer.seconds[1:] or timer.seconds)),
            "first_epoch_sec": timer.seconds[0], "n_train": len(x_train), "epochs": epochs}


# --------------------------------------------------------------------------------------
# Projections: from one measured epoch to a realistic training run
# --------------------------------------------------------------------------------------


def projected_hours(sec_per_epoch: float, n_measured: int, n_target: int, epochs: int) -> float:
    """Scale a measured time per epoch to ``n_target`` samples and ``epochs`` epochs.

    An epoch's cost is proportional to the number of samples it reads (same batch
    size, same T), so the projection is linear in ``n_target / n_measured``.

    Args:
        sec_per_epoch: measured seconds per epoch (> 0).
        n_measured: training samples of the measured epoch (>= 1).
        n_target: training samples of the data set to project to (>= 1).
        epochs: epochs of the projected training run (>= 1).

    Returns:
        Projected wall-clock hours for the whole run.
    """
    if isinstance(sec_per_epoch, bool) or not isinstance(sec_per_epoch, (int, float, np.number)):
        raise TypeError(f"sec_per_epoch must be a number, got {type(sec_per_epoch).__name__}")
    if not np.isfinite(sec_per_epoch) or sec_per_epoch <= 0:
        raise ValueError(f"sec_per_epoch must be a finite number > 0, got {sec_per_epoch}")
    n_measured = check_positive_int("n_measured", n_measured)
    n_target = check_positive_int("n_target", n_target)
    epochs = check_positive_int("epochs", epochs)
    return float(sec_per_epoch) * (n_target / n_measured) * epochs / 3600.0


def practical_limit(
    results: Sequence[dict[str, Any]],
    *,
    n_target: int,
    epochs_target: int,
    budget_hours: float,
    min_accuracy: float = 0.9,
) -> dict[str, Any]:
    """Find the longest T that is learned and whose projected training fits the budget.

    Args:
        results: dicts from :func:`train_as_is` (``seq_len``, ``test_acc``,
            ``sec_per_epoch``, ``n_train``).
        n_target: training samples of the realistic data set (>= 1).
        epochs_target: epochs a realistic run needs (>= 1).
        budget_hours: wall-clock hours you are willing to wait (> 0).
        min_accuracy: held-out accuracy that counts as learned, in [0, 1].

    Returns:
        dict with ``hours`` (``{T: projected hours}``), ``longest_learned`` (largest T
        with ``test_acc >= min_accuracy``, 0 if none), ``longest_affordable`` (largest T
        within budget, 0 if none) and ``practical`` (largest T that is both, 0 if none).
    """
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence) or not results:
        raise ValueError("results must be a non-empty list of dicts from train_as_is")
    for i, r in enumerate(results):
        missing = {"seq_len", "test_acc", "sec_per_epoch", "n_train"} - set(r)
        if missing:
            raise ValueError(f"results[{i}] lacks {sorted(missing)}")
    check_positive_int("n_target", n_target)
    check_positive_int("epochs_target", epochs_target)
    if isinstance(budget_hours, bool) or not isinstance(budget_hours, (int, float)):
        raise TypeError(f"budget_hours must be a number, got {type(budget_hours).__name__}")
    if not budget_hours > 0:
        raise ValueError(f"budget_hours must be > 0, got {budget_hours}")
    min_accuracy = check_fraction("min_accuracy", min_accuracy)
    hours = {int(r["seq_len"]): projected_hours(r["sec_per_epoch"], r["n_train"], n_target,
                                                epochs_target) for r in results}
    learned = [int(r["seq_len"]) for r in results if r["test_acc"] >= min_accuracy]
    affordable = [t for t, h in hours.items() if h <= budget_hours]
    both = sorted(set(learned) & set(affordable))
    return {"hours": hours, "longest_learned": max(learned, default=0),
            "longest_affordable": max(affordable, default=0),
            "practical": both[-1] if both else 0}


def as_is_figure(results: Sequence[dict[str, Any]], extra: dict[str, Any] | None = None):
    """Draw held-out accuracy (left axis) and seconds per epoch (right axis) against T.

    Args:
        results: dicts from :func:`train_as_is`, one per T.
        extra: optional single result (e.g. the longer-budget run) drawn as a star; the
            legend names each by its number of training sequences.

    Returns:
        ``(fig, ax)``; ``ax`` holds accuracy, ``ax.right`` the time axis.
    """
    from course_lib import plots

    if not results:
        raise ValueError("results must be a non-empty list of dicts from train_as_is")
    lengths = [r["seq_len"] for r in results]
    fig, ax = plots.figure("Marker task trained as-is", "sequence length T (steps, log scale)",
                           "held-out accuracy")
    ax.plot(lengths, [r["test_acc"] for r in results], marker="o",
            color=plots.color_for("as-is"),
            label=f"accuracy, {results[0]['n_train']} training sequences")
    if extra is not None:
        ax.plot([extra["seq_len"]], [extra["test_acc"]], marker="*", markersize=14,
                linestyle="none", color=plots.color_for("as-is"),
                label=f"accuracy, {extra['n_train']} training sequences")
    ax.axhline(0.5, color="gray", linestyle="--", label="chance")
    ax.set_ylim(0.4, 1.02)
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.minorticks_off()
    right = ax.twinx()
    right.plot(lengths, [r["sec_per_epoch"] for r in results], marker="s", linestyle=":",
               color=plots.color_for("time per epoch"), label="seconds per epoch")
    right.set_ylabel("seconds per epoch")
    right.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], loc="center left", fontsize=8)
    ax.right = right
    return fig, ax


# --------------------------------------------------------------------------------------
# Exercises
# --------------------------------------------------------------------------------------


def lstm_param_count(n_inputs: int, units: int) -> int:
    """Return the weights of one Keras LSTM layer: 4 gates x (input + recurrent + bias).

    Args:
        n_inputs: features per step that the layer reads (>= 1).
        units: LSTM units (>= 1).
    """
    n_inputs = check_positive_int("n_inputs", n_inputs)
    units = check_positive_int("units", units)
    return 4 * units * (n_inputs + units + 1)


def check_stacked_model(build: Callable[..., Any], *, seq_len: int = 30, n_features: int = 2,
                        units: int = 16) -> bool:
    """Check a student's ``build(seq_len, n_features)``: LSTM(units, sequences) -> LSTM -> Dense.

    The model must map ``[batch, seq_len, n_features]`` to ``[batch, 1]`` and have exactly the
    parameters of two stacked LSTM(units) layers and a Dense(1) head. Prints what differs.

    Returns:
        True when both the output shape and the parameter count match.
    """
    if not callable(build):
        print("Your answer must be a function build(seq_len, n_features) returning a model.")
        return False
    seq_len = check_positive_int("seq_len", seq_len)
    n_features = check_positive_int("n_features", n_features)
    units = check_positive_int("units", units)
    try:
        model = build(seq_len, n_features)
        out = model(np.zeros((3, seq_len, n_features), dtype="float32"))
    except Exception as exc:  # a student's model may fail in any way; say how
        print(f"Building or calling your model failed: {type(exc).__name__}: {exc}")
        return False
    expected = (lstm_param_count(n_features, units) + lstm_param_count(units, units)
                + units + 1)
    ok = True
    if tuple(out.shape) != (3, 1):
        print(f"Output shape for 3 sequences is {tuple(out.shape)}, expected (3, 1).")
        ok = False
    if model.count_params() != expected:
        print(f"Your model has {model.count_params()} parameters, expected {expected}.")
        ok = False
    keras.backend.clear_session()
    return ok


RATIO_BUCKETS = ("under 2x", "2x to 5x", "over 5x")


def ratio_bucket(ratio: float) -> str:
    """Return the :data:`RATIO_BUCKETS` entry that holds ``ratio`` (> 0)."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.number)):
        raise TypeError(f"ratio must be a number, got {type(ratio).__name__}")
    if not np.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"ratio must be a finite number > 0, got {ratio}")
    return RATIO_BUCKETS[0] if ratio < 2 else RATIO_BUCKETS[1] if ratio <= 5 else RATIO_BUCKETS[2]
