"""Notebook 12's plumbing: repeated stratified splits, timing, memory, the table and the plot.

The models (Keras ``Sequential`` stacks, ``compile``, ``fit``, ``predict``) are written on
the notebook's page as *recipes*: functions ``recipe(x_train, y_train, x_test) -> class
probabilities [n_test, n_classes]``. This module runs every recipe on every split, times
it, samples this process's memory while it runs, and summarises the results.

Memory is sampled with ``psutil`` every 10 ms in this process: the figure is the peak RSS
during a recipe minus the RSS just before it, the largest over the splits. It is rough
(memory that TensorFlow keeps from an earlier recipe can be reused without showing up),
which is why the notebook reads it as "how much more", not as an exact size.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib import plots
from course_lib.environment import RssSampler
from course_lib.validate import check_fraction, check_positive_int


def subsample(y: Any, per_class: int, *, seed: int = 0) -> np.ndarray:
    """Return sorted indices of ``per_class`` random samples of every class (smoke runs).

    Args:
        y: int labels ``[samples]``.
        per_class: samples kept per class, 1 .. the smallest class count.
        seed: random seed.
    """
    y = _labels(y)
    counts = np.bincount(y)
    per_class = check_positive_int("per_class", per_class, maximum=int(counts[counts > 0].min()))
    rng = np.random.default_rng(seed)
    keep = [rng.choice(np.flatnonzero(y == c), per_class, replace=False)
            for c in np.unique(y)]
    return np.sort(np.concatenate(keep))


def stratified_splits(
    y: Any, repeats: int, test_fraction: float, *, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``repeats`` random train/test splits that keep every class's share.

    Each class contributes ``round(test_fraction * count)`` samples (at least 1, and at
    least 1 left for training) to the test set; splits differ by their random draw.

    Args:
        y: int labels ``[samples]``; every class needs >= 2 samples.
        repeats: number of splits (>= 1).
        test_fraction: share of each class held out, in (0, 1).
        seed: random seed of the draws.

    Returns:
        A list of ``(train_indices, test_indices)``, both sorted, disjoint, covering all.
    """
    y = _labels(y)
    repeats = check_positive_int("repeats", repeats)
    test_fraction = check_fraction("test_fraction", test_fraction)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    classes = np.unique(y)
    members = [np.flatnonzero(y == c) for c in classes]
    if min(len(m) for m in members) < 2:
        raise ValueError("y must hold at least 2 samples of every class to split it")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(repeats):
        test = []
        for m in members:
            k = min(max(1, round(test_fraction * len(m))), len(m) - 1)
            test.append(rng.choice(m, k, replace=False))
        test = np.sort(np.concatenate(test))
        out.append((np.setdiff1d(np.arange(len(y)), test), test))
    return out


def _labels(y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise ValueError("y must be a non-empty 1-D array of non-negative int labels")
    return y


def evaluate(
    recipes: Mapping[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Any]],
    x: Any,
    y: Any,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    seed: int = 0,
    max_splits: Mapping[str, int] | None = None,
    progress: Callable[[str], Any] | None = print,
) -> list[dict[str, Any]]:
    """Run every recipe on every split; one row per (recipe, split).

    Before each run the Keras/NumPy/Python seeds are set to ``seed + split index``, so
    every recipe starts from the same randomness on a split, and the Keras session is
    cleared. The time covers the whole recipe (shortening the data, ``fit``, ``predict``).

    Args:
        recipes: name -> ``recipe(x_train, y_train, x_test)`` returning class
            probabilities ``[n_test, n_classes]``.
        x: ``[samples, timesteps, features]``; y: int labels ``[samples]``.
        splits: from :func:`stratified_splits`.
        seed: base seed (>= 0).
        max_splits: name -> run that recipe on the first n splits only (costly ones).
        progress: called with one line per run (default: print); None for silence.

    Returns:
        Rows ``{"technique", "split", "accuracy", "train_s", "mem_mb"}``.
    """
    if not isinstance(recipes, Mapping) or not recipes:
        raise ValueError("recipes must be a non-empty mapping name -> function")
    for name, fn in recipes.items():
        if not callable(fn):
            raise TypeError(f"recipe {name!r} must be callable, got {type(fn).__name__}")
    x = np.asarray(x)
    y = _labels(y)
    if x.ndim != 3 or len(x) != len(y):
        raise ValueError(f"x must be [samples, timesteps, features] with {len(y)} samples, "
                         f"got shape {x.shape}")
    if not splits:
        raise ValueError("splits must hold at least one (train, test) pair")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    limits = dict(max_splits or {})
    unknown = set(limits) - set(recipes)
    if unknown:
        raise ValueError(f"max_splits names unknown recipes: {sorted(unknown)}")
    for name, n in limits.items():
        check_positive_int(f"max_splits[{name!r}]", n)
    rows = []
    # a fresh model per run makes TensorFlow warn about retracing; that is expected here
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        for index, (train, test) in enumerate(splits):
            rows.extend(_run_split(recipes, x, y, index, train, test, seed, limits,
                                   len(splits), progress))
    finally:
        tf_logger.setLevel(level)
    return rows


def _run_split(recipes, x, y, index, train, test, seed, limits, n_splits, progress):
    """Run every recipe (within its split limit) on split ``index``; return its rows."""
    import keras

    rows = []
    for name, fn in recipes.items():
        if index >= limits.get(name, n_splits):
            continue
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed + index)
        with RssSampler() as rss:
            began = time.perf_counter()
            proba = np.asarray(fn(x[train], y[train], x[test]))
            seconds = time.perf_counter() - began
        if proba.ndim != 2 or proba.shape[0] != len(test):
            raise ValueError(f"recipe {name!r} returned shape {proba.shape}; expected "
                             f"[{len(test)}, n_classes]")
        acc = float(np.mean(proba.argmax(axis=1) == y[test]))
        rows.append({"technique": name, "split": index, "accuracy": acc,
                     "train_s": seconds, "mem_mb": max(0.0, rss.peak_mb - rss.start_mb)})
        if progress is not None:
            progress(f"split {index + 1}/{n_splits}  {name:<16} accuracy {acc:.3f}  "
                     f"{seconds:6.1f} s  +{rows[-1]['mem_mb']:5.0f} MB")
    return rows


def summarize(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Summarise :func:`evaluate`'s rows per technique (in first-seen order).

    Returns:
        name -> ``{"accuracies", "mean", "std", "n", "train_s", "mem_mb"}``: the
        per-split accuracies, their mean and sample std (0 for one split), the number of
        splits, the mean seconds per run and the largest memory increase.
    """
    if not rows:
        raise ValueError("rows must not be empty")
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = out.setdefault(row["technique"], {"accuracies": [], "seconds": [], "mem": []})
        entry["accuracies"].append(float(row["accuracy"]))
        entry["seconds"].append(float(row["train_s"]))
        entry["mem"].append(float(row["mem_mb"]))
    for entry in out.values():
        acc = np.array(entry["accuracies"])
        entry.update(mean=float(acc.mean()), std=float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                     n=len(acc), train_s=float(np.mean(entry.pop("seconds"))),
                     mem_mb=float(max(entry.pop("mem"))))
    return out


def pooled_std(a: Sequence[float], b: Sequence[float]) -> float:
    """Return ``sqrt((var_a + var_b) / 2)`` of two samples (sample variances, ddof=1)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        raise ValueError("a and b need at least 2 values each for a pooled std")
    return float(math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))


def paired_wins(rows: Sequence[Mapping[str, Any]], a: str, b: str) -> tuple[int, int]:
    """Count the splits where technique ``a`` scored higher than ``b``: ``(wins, splits)``."""
    acc: dict[str, dict[int, float]] = {}
    for row in rows:
        acc.setdefault(row["technique"], {})[row["split"]] = row["accuracy"]
    for name in (a, b):
        if name not in acc:
            raise ValueError(f"technique {name!r} is not in rows; known: {sorted(acc)}")
    shared = sorted(set(acc[a]) & set(acc[b]))
    return sum(acc[a][s] > acc[b][s] for s in shared), len(shared)


def table_text(summary: Mapping[str, Mapping[str, Any]], steps: Mapping[str, int]) -> str:
    """Return the results table: accuracy mean ± std (splits), seconds, memory, LSTM steps."""
    head = (f"{'technique':<16} {'accuracy':>15} {'splits':>6} {'s per run':>9} "
            f"{'+MB':>6} {'LSTM reads':>10}")
    lines = [head, "-" * len(head)]
    for name, s in summary.items():
        lines.append(f"{name:<16} {s['mean']:>7.3f} ± {s['std']:.3f} {s['n']:>6} "
                     f"{s['train_s']:>9.1f} {s['mem_mb']:>6.0f} {steps.get(name, 0):>10}")
    return "\n".join(lines)


def figure(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Mapping[str, Any]], *,
           chance: float, title: str, notes: Mapping[str, str] | None = None):
    """Plot accuracy against seconds per run: one dot per split, mean ± std as error bars.

    ``notes`` adds a word to a technique's legend entry (e.g. ``{"as-is": "6 epochs"}``).
    """
    import matplotlib.ticker

    chance = check_fraction("chance", chance)
    notes = dict(notes or {})
    fig, ax = plots.figure(title, "seconds per run (train + predict, log scale)",
                           "test accuracy")
    for name, s in summary.items():
        color = plots.color_for(name)
        mine = [r for r in rows if r["technique"] == name]
        ax.scatter([r["train_s"] for r in mine], [r["accuracy"] for r in mine], s=14,
                   color=color, alpha=0.45)
        ax.errorbar(s["train_s"], s["mean"], yerr=s["std"], fmt="o", ms=9, capsize=4,
                    color=color, label=f"{name} ({s['n']} split{'s' * (s['n'] > 1)}"
                    + (f", {notes[name]})" if name in notes else ")"))
    ax.axhline(chance, color="black", linestyle=":", label=f"chance ({chance:.2f})")
    ax.set_xscale("log")
    plain = matplotlib.ticker.FormatStrFormatter("%g")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize="small")
    return fig, ax


def check_block_mean(fn: Any) -> bool:
    """Exercise check: does ``fn(x, k)`` average non-overlapping blocks of ``k`` steps?

    ``x`` is ``[samples, timesteps, features]``; the answer must be
    ``[samples, timesteps // k, features]`` (a ragged tail dropped).
    """
    if not callable(fn):
        return False
    rng = np.random.default_rng(0)
    for shape, k in (((3, 12, 1), 4), ((2, 10, 2), 3), ((1, 5, 1), 5)):
        x = rng.normal(size=shape).astype(np.float32)
        n = shape[1] // k
        expected = x[:, :n * k].reshape(shape[0], n, k, shape[2]).mean(axis=2)
        try:
            got = np.asarray(fn(x, k))
        except Exception:  # a student's function may fail in any way: that is a wrong answer
            return False
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-5):
            return False
    return True
