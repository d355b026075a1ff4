"""Notebook 06's plumbing: the parameter table, a fair timing loop, exercise checks.

The algorithm itself (the TBPTT(k1, k2) loop, the model with explicit state, the two
k2 < k1 windows) is written on the notebook's page; :mod:`course_lib.tbptt` is the
engine it is checked against. What is here would only distract from it: printing,
timing in rounds, comparing weights, and checking a student's function on random inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from course_lib import tbptt
from course_lib.validate import check_positive_int


def max_weight_diff(a: keras.Model, b: keras.Model) -> float:
    """Return the largest absolute difference between two models' weights (same layout)."""
    for name, model in (("a", a), ("b", b)):
        if not isinstance(model, keras.Model):
            raise TypeError(f"{name} must be a keras.Model, got {type(model).__name__}")
    wa, wb = a.get_weights(), b.get_weights()
    if [w.shape for w in wa] != [w.shape for w in wb]:
        raise ValueError("a and b have different weight shapes; build them alike")
    return float(max(np.abs(p - q).max() for p, q in zip(wa, wb, strict=True)))


CLOCKS = ("process", "wall")


def time_pairs_in_rounds(
    x: Any,
    y: Any,
    pairs: Sequence[tuple[int, int]],
    *,
    units: int = 32,
    rounds: int = 3,
    clock: str = "process",
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time one TBPTT epoch per (k1, k2) pair, the pairs taking turns round after round.

    Two clocks are read around every epoch. ``"wall"`` is the time a student waits;
    on a shared CPU it depends on every other program. ``"process"`` is the CPU time this
    process spent (all its threads): the work done, which other programs barely change,
    so it is the fair measure of cost on a busy laptop, Binder or CI machine. (On a GPU
    the work happens on the device and the host's CPU time says little: use ``"wall"``.)
    Round ``r`` times every pair once, so drifting load reaches all pairs alike, and
    each pair keeps its fastest round, since other programs can only add time. One
    trainer is reused (restarted from the same weights), and one untimed epoch per pair
    traces its graphs before any clock starts.

    Args:
        x: ``[samples, timesteps, features]``; y: ``[samples, timesteps, d]``.
        pairs: (k1, k2) pairs; the first is the reference (ratio 1).
        units: LSTM units of the timed model.
        rounds: timed epochs per pair (>= 1).
        clock: ``"process"`` or ``"wall"``: which clock gives ``seconds``.
        seed: weight seed.

    Returns:
        One dict per pair: ``k1, k2, seconds`` (fastest round on ``clock``),
        ``wall_seconds`` and ``process_seconds`` (every round), ``updates``,
        ``steps_ratio`` (steps under the tape per step of data), ``predicted`` and
        ``measured`` (both relative to the first pair).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D [samples, timesteps, features], got shape {x.shape}")
    pairs = [tbptt.check_k(k1, k2, x.shape[1]) for k1, k2 in pairs]
    if not pairs:
        raise ValueError("pairs must hold at least one (k1, k2) pair")
    rounds = check_positive_int("rounds", rounds)
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
    model = tbptt.lstm_stack(x.shape[-1], units, seed=seed)
    start = model.get_weights()
    trainer = tbptt.TBPTTTrainer(model, *pairs[0], keras.optimizers.Adam(1e-3))
    times: dict[str, list[list[float]]] = {c: [[] for _ in pairs] for c in CLOCKS}
    for r in range(rounds + 1):  # round 0 is the warm-up (tracing), not timed
        for i, (k1, k2) in enumerate(pairs):
            trainer.restart(start, k1, k2)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            trainer.fit(x, y, epochs=1, shuffle=False, verbose=0)
            cpu1, wall1 = time.process_time(), time.perf_counter()
            if r > 0:
                times["process"][i].append(cpu1 - cpu0)
                times["wall"][i].append(wall1 - wall0)
    rows = []
    for i, (k1, k2) in enumerate(pairs):
        rows.append({"k1": k1, "k2": k2, "seconds": min(times[clock][i]),
                     "wall_seconds": times["wall"][i], "process_seconds": times["process"][i],
                     "updates": len(tbptt.plan_updates(x.shape[1], k1, k2)),
                     "steps_ratio": tbptt.cost_ratio(x.shape[1], k1, k2)})
    for row in rows:
        row["predicted"] = row["steps_ratio"] / rows[0]["steps_ratio"]
        row["measured"] = row["seconds"] / rows[0]["seconds"]
    return rows


def affine_fit(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Fit ``y = intercept + slope * x`` by least squares; return slope, intercept and R^2.

    Used for epoch time vs steps under the tape: the intercept is the part of an epoch
    that does not grow with k2 (launching each update, the optimizer step).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 3:
        raise ValueError(f"x and y must be 1-D of the same length >= 3, got {x.shape} and "
                         f"{y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    if np.ptp(x) == 0:
        raise ValueError("x must hold at least two different values")
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (intercept + slope * x)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - residual / total if total > 0 else 1.0
    return {"slope": float(slope), "intercept": float(intercept), "r2": r2}


def learned_k2s(accuracy: Any, lags: Sequence[int], k2s: Sequence[int], lag: int,
                threshold: float) -> list[int]:
    """Return the k2 values whose echo-grid cell at ``lag`` reaches ``threshold`` accuracy."""
    accuracy = np.asarray(accuracy)
    if accuracy.shape != (len(lags), len(k2s)):
        raise ValueError(f"accuracy must have shape ({len(lags)}, {len(k2s)}), got "
                         f"{accuracy.shape}")
    if lag not in lags:
        raise ValueError(f"lag must be one of the grid's lags {list(lags)}, got {lag!r}")
    row = accuracy[list(lags).index(lag)]
    return [int(k2) for k2, acc in zip(k2s, row, strict=True) if acc >= threshold]


def compare_prediction(guess: Any, measured: Sequence[int]) -> bool | None:
    """Print the measured answer next to the student's guess; None if there is no guess."""
    print(f"measured: learned with k2 in {list(measured)}")
    if guess is None:
        print("(no guess written: set my_guess before running the grid next time)")
        return None
    try:
        same = sorted(int(v) for v in guess) == sorted(measured)
    except (TypeError, ValueError):
        print(f"my_guess should be a list of k2 values, got {guess!r}")
        return False
    print("your guess:", sorted(int(v) for v in guess), "-", "right!" if same else "not quite")
    return same


# --------------------------------------------------------------------------- k2 < k1


def _zero_states(model: keras.Model, batch: int) -> list[tf.Tensor]:
    return [tf.zeros((batch, *t.shape[1:])) for t in model.inputs[1:]]


def window_gradients(
    window_fn: Callable[..., Any],
    model: keras.Model,
    x: Any,
    y: Any,
    k2: int,
    step_weights: Any = None,
) -> list[np.ndarray]:
    """Return the loss gradients of one window run by ``window_fn(model, x, state, k2)``.

    ``window_fn`` returns ``(y_hat, state)`` where ``y_hat`` holds the outputs that send a
    gradient: the last ``n`` steps of the window (all of them for cut-every-k2, the last
    ``k2`` for last-k2). The window starts from a zero state; the loss is the weighted mean
    per-step binary cross-entropy over those ``n`` outputs, as
    :class:`tbptt.TBPTTTrainer` computes it.

    Args:
        window_fn: ``(model, x_win, state, k2) -> (y_hat [batch, n, d], state)``.
        x: ``[batch, steps, features]``; y: ``[batch, steps, d]``.
        step_weights: optional ``[steps]`` loss weights (e.g. 1 at the last step only).
    """
    x = tf.constant(np.asarray(x, np.float32))
    y = tf.constant(np.asarray(y, np.float32))
    n_steps = int(x.shape[1])
    w = np.ones(n_steps, np.float32) if step_weights is None else np.asarray(step_weights,
                                                                             np.float32)
    if w.shape != (n_steps,):
        raise ValueError(f"step_weights must have shape ({n_steps},), got {w.shape}")
    with tf.GradientTape() as tape:
        y_hat, _ = window_fn(model, x, _zero_states(model, int(x.shape[0])), k2)
        n = int(y_hat.shape[1])
        if not 1 <= n <= n_steps or y_hat.shape[0] != x.shape[0]:
            raise ValueError(f"window_fn must return outputs [batch, n <= {n_steps}, d], got "
                             f"{tuple(y_hat.shape)}")
        w_n = w[n_steps - n:]
        per_step = keras.losses.binary_crossentropy(y[:, n_steps - n:], y_hat) * w_n
        loss = tf.reduce_sum(per_step) / max(float(w_n.sum()) * int(x.shape[0]), 1e-12)
    grads = tape.gradient(loss, model.trainable_variables)
    return [np.zeros(v.shape, np.float32) if g is None else np.asarray(g)
            for g, v in zip(grads, model.trainable_variables, strict=True)]


def trainer_gradients(model: keras.Model, x: Any, y: Any, k2: int, k2_mode: str | None = None,
                      step_weights: Any = None) -> list[np.ndarray]:
    """Return ``TBPTTTrainer(model, k1=steps, k2)``'s gradients over one window of ``x``."""
    x = np.asarray(x, np.float32)
    kwargs = {} if k2_mode is None else {"k2_mode": k2_mode}
    trainer = tbptt.TBPTTTrainer(model, x.shape[1], k2, keras.optimizers.SGD(0.1),
                                 "binary_crossentropy", **kwargs)
    return trainer.compute_gradients(x, y, step_weights=step_weights)


def max_abs_diff(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Return the largest absolute difference between two lists of arrays (weights, gradients)."""
    if len(a) != len(b):
        raise ValueError(f"a and b must hold as many arrays, got {len(a)} and {len(b)}")
    return float(max(np.abs(np.asarray(p) - np.asarray(q)).max()
                     for p, q in zip(a, b, strict=True)))


def check_cut_every_k2(window_fn: Any, *, trials: int = 3, seed: int = 0,
                       tolerance: float = 1e-5, verbose: bool = True) -> bool:
    """Check a student's cut-every-k2 window against ``TBPTTTrainer`` on random inputs.

    Each trial draws a window length, a ``k2`` below it, random inputs and bit targets,
    and compares the gradients of ``window_fn`` (see :func:`window_gradients`) with
    those of ``TBPTTTrainer(model, k1=window length, k2)`` in its cut-every-k2 mode.

    Returns:
        True if every trial agrees within ``tolerance``; False (with the reason printed
        when ``verbose``) otherwise, including when ``window_fn`` raises.
    """
    trials = check_positive_int("trials", trials)
    if not callable(window_fn):
        if verbose:
            print(f"expected a function (model, x_window, state, k2) -> (y_hat, state), "
                  f"got {type(window_fn).__name__}")
        return False
    rng = np.random.default_rng(seed)
    model = tbptt.lstm_stack(1, 4, seed=seed)
    mode = "cut_every_k2"
    for trial in range(trials):
        n_steps = int(rng.integers(5, 13))
        k2 = int(rng.integers(1, n_steps))
        x = rng.normal(size=(3, n_steps, 1)).astype(np.float32)
        y = rng.integers(0, 2, size=(3, n_steps, 1)).astype(np.float32)
        try:
            got = window_gradients(window_fn, model, x, y, k2)
        except Exception as err:  # a student's bug is reported, not raised
            if verbose:
                print(f"trial {trial + 1}: your function raised {type(err).__name__}: {err}")
            return False
        diff = max_abs_diff(got, trainer_gradients(model, x, y, k2, mode))
        if not diff <= tolerance:
            if verbose:
                print(f"trial {trial + 1} (window of {n_steps} steps, k2={k2}): gradients "
                      f"differ from TBPTTTrainer's by {diff:.2e}")
            return False
    return True
