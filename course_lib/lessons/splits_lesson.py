"""Plumbing for notebook 09 (preparing data for TBPTT): tables, toy tasks, runs over configs.

What the notebook teaches (the reshape, the stateful model, ``fit(shuffle=False)``, the
reset callback, padding and masking) is written in its cells; this module holds what
would distract from it: printing, the toy tasks of the memory-versus-function experiment,
and :func:`run_configs`, the one call that runs a list of training configurations (so a
parallel map can replace it later).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib import sweep
from course_lib.splits import GridResult, stateful_reshape
from course_lib.validate import check_fraction, check_positive_int

__all__ = [
    "stamped",
    "show_batches",
    "run_configs",
    "grid_from_runs",
    "collect",
    "mean_std",
    "memory_task",
    "window_task",
    "read_pieces",
    "matches_library_reshape",
    "direction",
    "error_summary",
    "quiet_retracing",
]


def stamped(n: int, t: int) -> np.ndarray:
    """Return float ``[n, t, 1]`` whose value ``100 * sequence + step`` names its origin."""
    n = check_positive_int("n", n, maximum=99)
    t = check_positive_int("t", t, maximum=99)
    return (100 * np.arange(n)[:, None] + np.arange(t)[None, :])[..., None].astype(np.float64)


def show_batches(pieces: np.ndarray, batch_size: int, *, limit: int = 6) -> str:
    """Print which sequence and steps each row of each batch holds (for :func:`stamped` data).

    Args:
        pieces: ``[samples, sub_len, 1]`` built from :func:`stamped` values.
        batch_size: rows per batch (must divide the number of samples).
        limit: print at most this many batches.
    """
    if not isinstance(pieces, np.ndarray) or pieces.ndim != 3:
        raise ValueError("pieces must be a [samples, sub_len, 1] numpy array")
    batch_size = check_positive_int("batch_size", batch_size, maximum=len(pieces))
    if len(pieces) % batch_size:
        raise ValueError(f"batch_size must divide the {len(pieces)} samples")
    limit = check_positive_int("limit", limit)
    lines = []
    for b in range(min(limit, len(pieces) // batch_size)):
        rows = pieces[b * batch_size:(b + 1) * batch_size, :, 0].astype(int)
        cells = [f"seq {r[0] // 100} steps {r[0] % 100:>2}-{r[-1] % 100:<2}" for r in rows]
        lines.append((f"batch {b}: " + " | ".join(cells)).rstrip())
    text = "\n".join(lines)
    print(text)
    return text


def run_configs(evaluate: Callable[..., Mapping[str, Any]],
                configs: Sequence[Mapping[str, Any]], *, verbose: bool = True) -> list[dict]:
    """Call ``evaluate(**config)`` for every config, in order; return config + results + seconds.

    This is the notebook's one entry point for repeated experiments. It runs through
    ``course_lib.sweep.map``: on a Dask cluster when a client is active (or
    ``$COURSE_DASK_SCHEDULER`` names one), else here in order, with the same results.

    Args:
        evaluate: trains and scores one configuration; returns a mapping of results.
        configs: keyword-argument dicts, one per run.
        verbose: print one line per run.

    Returns:
        One dict per config: its keys, the keys ``evaluate`` returned, and ``seconds``.
    """
    if not callable(evaluate):
        raise TypeError("evaluate must be a callable evaluate(**config) -> mapping")
    if isinstance(configs, Mapping) or not all(isinstance(c, Mapping) for c in configs):
        raise TypeError("configs must be a sequence of dicts (one per run)")
    if not configs:
        raise ValueError("configs must hold at least one configuration")
    # on the active Dask client when there is one (course_lib.sweep), else here, in order
    runs = sweep.map(functools.partial(_timed_run, evaluate), list(configs))
    if verbose:
        for i, run in enumerate(runs):
            shown = ", ".join(f"{k}={_short(v)}" for k, v in run.items())
            print(f"run {i + 1}/{len(configs)}: {shown}")
    return runs


def _timed_run(evaluate: Callable[..., Mapping[str, Any]],
               config: Mapping[str, Any]) -> dict[str, Any]:
    """Run one configuration; return its keys, its results and the seconds it took."""
    began = time.perf_counter()
    result = evaluate(**config)
    if not isinstance(result, Mapping):
        raise TypeError(f"evaluate must return a mapping, got {type(result).__name__}")
    return {**config, **result, "seconds": time.perf_counter() - began}


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def collect(runs: Sequence[Mapping[str, Any]], value: str, **where: Any) -> np.ndarray:
    """Return ``run[value]`` for every run whose keys match ``where``, in run order."""
    picked = [r[value] for r in runs if all(r.get(k) == v for k, v in where.items())]
    if not picked:
        raise ValueError(f"no run matches {where}; check the config keys")
    return np.asarray(picked, dtype=float)


def grid_from_runs(runs: Sequence[Mapping[str, Any]], *, key: str = "sub_len",
                   score: str = "mse") -> GridResult:
    """Arrange runs (from :func:`run_configs`) as a :class:`GridResult`: one row per ``key``.

    Every value of ``key`` must have the same number of runs (the repeats).
    """
    if not runs:
        raise ValueError("runs must not be empty")
    lengths = sorted({int(r[key]) for r in runs})
    scores = [collect(runs, score, **{key: v}) for v in lengths]
    seconds = [collect(runs, "seconds", **{key: v}) for v in lengths]
    if len({len(s) for s in scores}) != 1:
        raise ValueError(f"every {key} needs the same number of repeats")
    return GridResult(lengths, np.stack(scores), np.stack(seconds))


def mean_std(values: Sequence[float], digits: int = 3) -> str:
    """Format ``mean ± std`` (sample std; 0 for one value)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("values must not be empty")
    std = v.std(ddof=1) if v.size > 1 else 0.0
    return f"{v.mean():.{digits}f} ± {std:.{digits}f}"


def _noise(n: int, t: int, seed: int) -> np.ndarray:
    n = check_positive_int("n", n)
    t = check_positive_int("t", t, minimum=3)
    return np.random.default_rng(seed).normal(size=(n, t))


def memory_task(n: int, t: int, *, decay: float = 0.9, seed: int = 0):
    """A task that needs memory only: y[t] is an exponential average of all inputs so far.

    The target obeys ``y[t] = decay * y[t-1] + (1 - decay) * x[t]`` (scaled to unit
    variance), so what the state must keep is the previous target itself.

    Returns:
        float32 ``x, y`` of shape ``[n, t, 1]``.
    """
    decay = check_fraction("decay", decay, 0.0, 0.99)
    x = _noise(n, t, seed)
    y = np.zeros_like(x)
    acc = np.zeros(len(x))
    for i in range(x.shape[1]):
        acc = decay * acc + (1 - decay) * x[:, i]
        y[:, i] = acc
    y /= (1 - decay) / np.sqrt(1 - decay**2)  # stationary std of the average
    return x[..., None].astype(np.float32), y[..., None].astype(np.float32)


def window_task(n: int, t: int, *, lags: tuple[int, int] = (1, 2), seed: int = 0):
    """A task that needs a function of a window: y[t] = x[t - lags[0]] * x[t - lags[1]].

    No earlier target says what the inputs were, so the state must learn to keep raw
    inputs for a few steps and multiply them: a nonlinear function of past observations.

    Returns:
        float32 ``x, y`` of shape ``[n, t, 1]`` (zeros stand in before the first step).
    """
    if len(lags) != 2:
        raise ValueError(f"lags must be two lags, got {lags!r}")
    a, b = (check_positive_int("lags", v, maximum=t - 1) for v in lags)
    x = _noise(n, t, seed)
    y = _lagged(x, a) * _lagged(x, b)
    return x[..., None].astype(np.float32), y[..., None].astype(np.float32)


def _lagged(x: np.ndarray, k: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (k, 0)))[:, : x.shape[1]]


def read_pieces(model, pieces: np.ndarray, batch_size: int, reset_every: int | None) -> np.ndarray:
    """Feed ``pieces`` to ``model`` batch by batch, in order; return the outputs in that order.

    Args:
        model: a Keras model (stateful or not) mapping ``[batch, sub_len, F]`` to outputs.
        pieces: ``[samples, sub_len, F]``.
        batch_size: rows per batch (must divide the samples).
        reset_every: reset the state after every this many batches (None: never).
    """
    from course_lib.tbptt import reset_states

    if not isinstance(pieces, np.ndarray) or pieces.ndim != 3:
        raise ValueError("pieces must be a [samples, sub_len, features] numpy array")
    batch_size = check_positive_int("batch_size", batch_size, maximum=len(pieces))
    if len(pieces) % batch_size:
        raise ValueError(f"batch_size must divide the {len(pieces)} samples")
    if reset_every is not None:
        reset_every = check_positive_int("reset_every", reset_every)
    reset_states(model)
    out = []
    with quiet_retracing():  # models built for several batch sizes each trace once
        for b in range(len(pieces) // batch_size):
            rows = pieces[b * batch_size:(b + 1) * batch_size].astype(np.float32)
            out.append(np.asarray(model.predict_on_batch(rows)))
            if reset_every is not None and (b + 1) % reset_every == 0:
                reset_states(model)
    return np.concatenate(out, axis=0)


def matches_library_reshape(fn: Any, *, trials: int = 20, seed: int = 0) -> bool:
    """Return whether ``fn(x, sub_len, batch_size)`` equals :func:`splits.stateful_reshape`.

    Checked on ``trials`` random layouts (any factor as ``sub_len`` and ``batch_size``);
    a function that raises or returns something else counts as wrong.
    """
    if not callable(fn):
        return False
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        n, t, f = (int(v) for v in rng.integers(1, 13, size=3))
        sub_len = int(rng.choice([d for d in range(1, t + 1) if t % d == 0]))
        batch = int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))
        x = rng.normal(size=(n, t, f))
        try:
            got = np.asarray(fn(x.copy(), sub_len, batch))
        except Exception:  # noqa: BLE001 - any failure of the student's code is "not yet"
            return False
        expected = stateful_reshape(x, sub_len, batch)
        if got.shape != expected.shape or not np.array_equal(got, expected):
            return False
    return True


def direction(a: Sequence[float], b: Sequence[float]) -> str:
    """Say whether ``a`` is "higher", "lower" or "about the same" as ``b`` on average.

    "about the same" when the means differ by no more than the larger sample std.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        raise ValueError("a and b must not be empty")
    spread = max(a.std(ddof=1) if a.size > 1 else 0.0, b.std(ddof=1) if b.size > 1 else 0.0)
    diff = a.mean() - b.mean()
    if abs(diff) <= spread:
        return "about the same"
    return "higher" if diff > 0 else "lower"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NOISE = ("Exception encountered", "Arguments received", "•", "Traceback", "File ", "Detected at")


def error_summary(err: BaseException, lines: int = 2, width: int = 160) -> str:
    """Return the error's type and its first informative lines (colour codes removed).

    Lines about shapes or sizes come first: that is what stateful-layer errors are about.
    """
    if not isinstance(err, BaseException):
        raise TypeError(f"err must be an exception, got {type(err).__name__}")
    lines = check_positive_int("lines", lines)
    width = check_positive_int("width", width, minimum=20)
    text = _ANSI.sub("", str(err))
    kept = [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.strip().startswith(_NOISE)]
    about_shapes = [ln for ln in kept if re.search(r"shape|size", ln, re.IGNORECASE)]
    kept = about_shapes or kept  # TensorFlow buries the useful line under a stack
    body = " / ".join(ln[:width] for ln in kept[:lines]) or "(no message)"
    return f"{type(err).__name__}: {body}"


@contextlib.contextmanager
def quiet_retracing() -> Iterator[None]:
    """Silence TensorFlow's "triggered tf.function retracing" warnings inside the block.

    Feeding one model batches of several sizes on purpose (as the pitfall demo does)
    retraces its predict function; the warning would only distract there.
    """
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
