"""Plumbing for notebook 01 (why long sequences are hard).

The notebook writes the model and the gradient probe on its page (copies in
:mod:`course_lib.bptt`); what would distract from them lives here:

* :func:`measure_step_cost` -- seconds per training step and peak memory for each length T,
  each length in a fresh Python process so memory readings do not leak between lengths;
* :func:`loglog_slope` -- the slope of a log-log fit (1.0 = proportional);
* :func:`fade_by_seed` -- the probe's far/near gradient ratio at two lengths, over seeds;
* :func:`horizon_report` -- the plain function behind the notebook's T slider;
* :func:`check_lag_probe` -- checks the exercise's one-lag probe against the library.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from course_lib.data import marker_task
from course_lib.validate import check_positive_int, check_seed

__all__ = ["StepCost", "measure_step_cost", "loglog_slope", "fade_ratio", "fade_by_seed",
           "horizon_report", "check_lag_probe"]


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
    """Time ``steps`` training steps of :func:`course_lib.bptt.lstm_model`; read peak RSS."""
    import keras

    from course_lib.bptt import lstm_model
    from course_lib.environment import set_seed

    set_seed(seed)
    x, y, _ = marker_task(batch, seq_len, seed=seed)
    model = lstm_model(seq_len, x.shape[-1], units)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    baseline = _rss_mb()
    model.train_on_batch(x, y)  # the first call traces and compiles the step
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / steps
    keras.backend.clear_session()
    return StepCost(seq_len, seconds, _peak_rss_mb(), baseline)


def _peak_rss_mb() -> float:
    """Peak RSS of this process's own memory (VmHWM on Linux).

    ``ru_maxrss`` is not used where ``/proc`` exists: Linux carries it over ``exec``, so a
    worker started from a notebook kernel would report the kernel's peak, not its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB -> MiB
    except OSError:
        pass
    import resource

    scale = 2**20 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


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
        batch: sequences per training step (>= 2).
        steps: timed steps per length, after one warm-up step (>= 1).
        units: LSTM units (>= 1).
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
        done = subprocess.run([sys.executable, "-m", "course_lib.lessons.why_long", args],
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


def fade_ratio(norms: Sequence[float], lag: int) -> float:
    """Return ``norms[lag]`` divided by the largest of the last 10 lags' norms.

    Args:
        norms: gradient norms by lag (index 0 = the last step), at least 2 of them.
        lag: the far lag, ``1 <= lag < len(norms)``.
    """
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1 or norms.size < 2:
        raise ValueError("norms must be a 1-D sequence of at least 2 values")
    lag = check_positive_int("lag", lag, maximum=norms.size - 1)
    near = norms[: min(10, norms.size)].max()
    if near <= 0:
        raise ValueError("norms must have a positive value among the last 10 lags")
    return float(norms[lag] / near)


def fade_by_seed(seq_len: int, lag: int, seeds: int, *, units: int = 32,
                 batch: int = 16, first_seed: int = 0) -> dict[str, list[float]]:
    """Return the :func:`fade_ratio` at ``lag`` for T = ``seq_len`` and T = 2 ``seq_len``.

    Seeds ``first_seed`` .. ``first_seed + seeds - 1`` each draw fresh data and fresh
    initial weights (a notebook passes its ``SEED``, so a seed sweep varies them too).

    Returns:
        ``{"short": [...], "long": [...]}``, one ratio per seed.
    """
    from course_lib.bptt import input_gradient_norms

    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    lag = check_positive_int("lag", lag, maximum=seq_len - 1)
    seeds = check_positive_int("seeds", seeds)
    first_seed = check_seed(first_seed)
    out: dict[str, list[float]] = {"short": [], "long": []}
    for seed in range(first_seed, first_seed + seeds):
        for key, length in (("short", seq_len), ("long", 2 * seq_len)):
            norms = input_gradient_norms(length, units=units, batch=batch, seed=seed)
            out[key].append(fade_ratio(norms, lag))
    return out


def horizon_report(seq_len: int, *, units: int = 32, batch: int = 16, seed: int = 0):
    """Draw the gradient horizon of a fresh LSTM at ``seq_len`` (notebook 01's T slider).

    Returns:
        ``(figure, result)`` with ``result = {"seq_len", "far_lag", "far_ratio", "zero_lags"}``;
        ``far_ratio`` is :func:`fade_ratio` at ``far_lag = min(100, seq_len - 1)``.
    """
    from course_lib import plots
    from course_lib.bptt import input_gradient_norms

    norms = input_gradient_norms(seq_len, units=units, batch=batch, seed=seed)
    lag = min(100, seq_len - 1)
    result = {"seq_len": seq_len, "far_lag": lag, "far_ratio": fade_ratio(norms, lag),
              "zero_lags": int((norms == 0).sum())}
    fig, ax = plots.figure(f"T = {seq_len}: {result['zero_lags']} of {seq_len} lags get exactly "
                           "zero gradient", "lag L: steps before the end",
                           "|d loss / d x(T-1-L)| (log scale)")
    ax.semilogy(np.arange(seq_len), np.maximum(norms, 1e-30), color=plots.color_for("bptt"),
                label="mean gradient norm (exact zeros drawn at 1e-30)")
    ax.legend()
    return fig, result


def check_lag_probe(probe: Callable, *, trials: int = 3, seed: int = 0) -> bool:
    """Return whether ``probe(model, x, y, lag)`` matches the library's probe at that lag.

    Each trial builds a random :func:`course_lib.bptt.lstm_model` (random T, units, features)
    and random marker-task inputs, picks a random lag and compares with
    :func:`course_lib.bptt.gradient_by_lag` within a relative 1e-4. Errors count as wrong.
    """
    import keras

    from course_lib.bptt import gradient_by_lag, lstm_model

    if not callable(probe):
        raise TypeError(f"probe must be a function probe(model, x, y, lag), got {probe!r}")
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        seq_len, units = int(rng.integers(5, 30)), int(rng.integers(2, 9))
        keras.utils.set_random_seed(seed + trial)
        x, y, _ = marker_task(6, seq_len, seed=seed + trial)
        model = lstm_model(seq_len, x.shape[-1], units)
        lag = int(rng.integers(0, seq_len))
        expected = float(gradient_by_lag(model, x, y)[lag])
        try:
            got = float(probe(model, x, y, lag))
        except Exception as error:  # a student's bug: report it, do not crash the notebook
            print(f"your probe raised {type(error).__name__}: {error}")
            return False
        if not np.isclose(got, expected, rtol=1e-4, atol=1e-12):
            print(f"T={seq_len}, lag {lag}: expected {expected:.4g}, got {got:.4g}")
            return False
    return True


if __name__ == "__main__":  # worker for measure_step_cost
    print(json.dumps(asdict(_step_cost_here(*json.loads(sys.argv[1])))))
