"""What full backpropagation through time costs, and how its gradients fade with distance.

Three measurements used by notebook 01:

* :func:`measure_step_cost` -- seconds per training step and peak memory for one
  sequence length, each length in a fresh Python process so memory readings do not
  leak from one length into the next;
* :func:`input_gradient_norms` -- how strongly the final loss depends on the input
  ``lag`` steps before the end (the vanishing-gradient picture);
* :func:`marker_accuracy` -- train a small LSTM on the marker task at one length and
  report held-out accuracy.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from course_lib.data import check_positive_int, marker_task


@dataclass(frozen=True)
class StepCost:
    """Cost of training on sequences of one length (one fresh process)."""

    seq_len: int
    seconds_per_step: float
    peak_rss_mb: float
    baseline_rss_mb: float

    @property
    def training_mb(self) -> float:
        """Peak memory above what the process held before training started."""
        return self.peak_rss_mb - self.baseline_rss_mb


def _step_cost_here(seq_len: int, batch: int, steps: int, units: int, seed: int) -> StepCost:
    """Time ``steps`` training steps at ``seq_len`` in this process; read peak RSS."""
    import resource

    import keras

    from course_lib.environment import set_seed
    from course_lib.models import lstm_classifier

    set_seed(seed)
    x, y, _ = marker_task(batch, seq_len, seed=seed)
    model = lstm_classifier(seq_len, x.shape[-1], units)
    baseline = _rss_mb()
    model.train_on_batch(x, y)  # the first call traces and compiles the step
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    keras.backend.clear_session()
    return StepCost(seq_len, seconds, peak, baseline)


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def measure_step_cost(
    seq_lengths: Sequence[int], *, batch: int = 32, steps: int = 8, units: int = 32, seed: int = 0
) -> list[StepCost]:
    """Measure seconds per training step and peak memory for each sequence length.

    Each length runs in its own Python process (one after the other, so timings do not
    compete), which makes the peak-memory reading that length's alone.

    Args:
        seq_lengths: lengths T to measure (each >= 1).
        batch: sequences per training step.
        steps: timed steps per length (after one warm-up step).
        units: LSTM units.
        seed: random seed for data and weights.

    Returns:
        One :class:`StepCost` per length, in the given order.
    """
    lengths = _check_lengths(seq_lengths)
    batch = check_positive_int("batch", batch, minimum=2)
    steps = check_positive_int("steps", steps)
    units = check_positive_int("units", units)
    results = []
    for seq_len in lengths:
        args = json.dumps([seq_len, batch, steps, units, seed])
        done = subprocess.run([sys.executable, "-m", "course_lib.bptt", args],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"measuring T={seq_len} failed:\n{done.stderr[-2000:]}")
        results.append(StepCost(**json.loads(done.stdout.strip().splitlines()[-1])))
    return results


def _check_lengths(seq_lengths: Sequence[int]) -> list[int]:
    if isinstance(seq_lengths, (str, bytes)) or not hasattr(seq_lengths, "__len__"):
        raise TypeError("seq_lengths must be a sequence of ints, e.g. (50, 100, 200)")
    if len(seq_lengths) == 0:
        raise ValueError("seq_lengths must hold at least one length")
    return [check_positive_int("seq_lengths[i]", t) for t in seq_lengths]


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Return the least-squares slope of log(y) against log(x) (1.0 = proportional)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError("x and y must have the same length, at least 2")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("x and y must be positive for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def input_gradient_norms(seq_len: int, *, units: int = 32, batch: int = 16,
                         seed: int = 0) -> np.ndarray:
    """Return the mean norm of d(loss at the last step)/d(input at step T-lag) for each lag.

    A freshly initialised LSTM reads noise; the loss is the squared final output.
    Entry ``lag`` (0 = last step) tells how much the input ``lag`` steps back can
    still move that loss -- the signal BPTT has for learning a dependency that long.

    Returns:
        float64 array of shape ``[seq_len]``, index = lag.
    """
    import keras
    import tensorflow as tf

    from course_lib.environment import set_seed

    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    units = check_positive_int("units", units)
    batch = check_positive_int("batch", batch)
    set_seed(seed)
    model = keras.Sequential([keras.Input((seq_len, 1)), keras.layers.LSTM(units),
                              keras.layers.Dense(1)])
    x = tf.constant(np.random.default_rng(seed).normal(size=(batch, seq_len, 1)),
                    dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.square(model(x)))
    grads = tape.gradient(loss, x).numpy()  # [batch, T, 1]
    per_step = np.linalg.norm(grads, axis=-1).mean(axis=0)  # [T]
    keras.backend.clear_session()
    return per_step[::-1].astype(np.float64)


def marker_accuracy(seq_len: int, *, n_samples: int = 800, epochs: int = 10, units: int = 32,
                    seed: int = 0) -> dict[str, float]:
    """Train an LSTM classifier on the marker task (marker at step 0); return test accuracy.

    Returns:
        ``{"seq_len", "train_accuracy", "test_accuracy", "seconds"}``; the test set is a
        fresh draw of ``n_samples // 2`` sequences. Chance level is 0.5.
    """
    import keras

    from course_lib.environment import set_seed
    from course_lib.models import lstm_classifier

    seq_len = check_positive_int("seq_len", seq_len)
    n_samples = check_positive_int("n_samples", n_samples, minimum=4)
    epochs = check_positive_int("epochs", epochs)
    set_seed(seed)
    x, y, _ = marker_task(n_samples, seq_len, seed=seed)
    x_test, y_test, _ = marker_task(max(n_samples // 2, 2), seq_len, seed=seed + 1)
    model = lstm_classifier(seq_len, x.shape[-1], units)
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    _, test_acc = model.evaluate(x_test, y_test, verbose=0)
    keras.backend.clear_session()
    return {"seq_len": seq_len, "train_accuracy": float(history.history["accuracy"][-1]),
            "test_accuracy": float(test_acc), "seconds": seconds}



def length_report(seq_len: int, *, n_samples: int = 400, epochs: int = 8, units: int = 32,
                  seed: int = 0):
    """Train on the marker task at ``seq_len`` and draw its gradient fade and accuracy.

    The plain function behind notebook 01's T slider.

    Returns:
        ``(figure, result)`` where ``result`` is :func:`marker_accuracy`'s dict plus
        ``"gradient_ratio"`` (norm at the oldest lag / largest norm of the last 10 lags).
    """
    from course_lib import plots

    norms = input_gradient_norms(seq_len, units=units, seed=seed)
    result = marker_accuracy(seq_len, n_samples=n_samples, epochs=epochs, units=units, seed=seed)
    result["gradient_ratio"] = float(norms[-1] / norms[: min(10, seq_len)].max())
    fig, ax = plots.figure(
        f"T = {seq_len}: held-out accuracy {result['test_accuracy']:.2f} (chance 0.50)",
        "lag: steps before the end", "gradient norm (log scale)")
    ax.semilogy(np.arange(seq_len), np.maximum(norms, 1e-30), color=plots.color_for("bptt"))
    return fig, result


if __name__ == "__main__":  # worker for measure_step_cost
    print(json.dumps(asdict(_step_cost_here(*json.loads(sys.argv[1])))))
