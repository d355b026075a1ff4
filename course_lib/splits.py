"""Six ways to cut long sequences into Keras' ``[samples, timesteps, features]`` input.

Keras trains recurrent layers with TBPTT(k, k): the ``timesteps`` axis of the input
sets both how far the forward pass runs between weight updates and how far the
gradient flows back. How you split long sequences therefore decides what the model
can learn. This module builds each split as a :class:`SplitPlan`: the arrays, the
batch size to use, and **when to reset the LSTM state** so that state flows across
the pieces of one true sequence and never from one sequence into the next.

Layout used by every stateful plan (``n`` sequences, batch size ``B``, ``m``
subsequences per sequence): sequences are taken in groups of ``B``; inside a group,
batch ``j`` holds subsequence ``j`` of each of the ``B`` sequences, always in the same
row. A stateful LSTM fed these batches in order (``shuffle=False``) carries row ``r``'s
state from subsequence ``j`` to ``j + 1``; reset it after every ``m`` batches.

The six techniques: :func:`as_is`, :func:`naive_split`, :func:`domain_split`,
:func:`padded_split` (used by :func:`grid_search` for non-factors), :func:`one_step_split`
and :func:`decoupled_plan` (for ``course_lib.tbptt``). :func:`join` undoes any split.
:func:`split_by` builds any of them by name; :func:`train_plan` trains and scores one plan the
same way for every technique (notebook 09).

Notebook 09 writes two pieces out on the page, and this module keeps identical copies:
:func:`stateful_reshape` (the numpy reshape into stateful batch order) and
:class:`ResetAtSequenceEnds` (the Keras callback that zeroes the state where true sequences
end; :func:`fit_plan` uses it). Every entry point refuses NaN or inf in ``x``/``y`` with a
``ValueError`` naming the argument.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import keras
import numpy as np

from course_lib.data import DataInfo
from course_lib.tbptt import reset_states
from course_lib.validate import check_finite, check_fraction, check_positive_int

__all__ = [
    "SplitPlan",
    "GridResult",
    "factors",
    "nearest_factor",
    "pad_to_multiple",
    "as_is",
    "naive_split",
    "padded_split",
    "one_step_split",
    "domain_split",
    "decoupled_plan",
    "make_plan",
    "check_layout",
    "stateful_reshape",
    "ResetAtSequenceEnds",
    "with_reset",
    "join",
    "join_targets",
    "autocorrelation",
    "partial_autocorrelation",
    "length_from_acf",
    "candidate_lengths",
    "grid_search",
    "noisy_sine",
    "fit_plan",
    "predict_plan",
    "TECHNIQUES",
    "split_by",
    "RunResult",
    "train_plan",
    "plot_grid",
    "split_choice",
    "clear_cache",
]

TECHNIQUES = ("as-is", "naive split", "domain split", "padded split", "one step", "decoupled")


# --------------------------------------------------------------------------- helpers


def factors(n: int) -> list[int]:
    """Return every positive divisor of ``n`` in increasing order.

    Args:
        n: a positive int.

    Returns:
        Sorted list of ints ``d`` with ``n % d == 0`` (includes 1 and ``n``).
    """
    n = check_positive_int("n", n)
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def nearest_factor(n: int, target: int, *, at_least: bool = True) -> int:
    """Return the divisor of ``n`` closest to ``target`` (the smallest one >= it by default).

    Args:
        n: sequence length (positive int).
        target: the length you would like (1..n).
        at_least: if True, return the smallest divisor >= ``target``; else the closest one
            (ties go to the larger divisor).
    """
    n = check_positive_int("n", n)
    target = check_positive_int("target", target, maximum=n)
    divisors = factors(n)
    if at_least:
        return next(d for d in divisors if d >= target)
    return min(divisors, key=lambda d: (abs(d - target), -d))


def _as_3d(x: Any, name: str = "x") -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    check_finite(name, x)
    if x.ndim == 2:  # [sequences, timesteps] univariate: add the feature axis
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(
            f"{name} must be [sequences, timesteps] or [sequences, timesteps, features], "
            f"got {x.ndim} dimensions with shape {x.shape}"
        )
    if 0 in x.shape:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    return x


def pad_to_multiple(
    x: np.ndarray, multiple: int, *, side: str = "post", value: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pad the time axis of ``x`` up to the next multiple of ``multiple``.

    Args:
        x: ``[sequences, timesteps]`` or ``[sequences, timesteps, ...]``.
        multiple: the padded length is the smallest multiple of this >= timesteps.
        side: ``"post"`` appends the padding after the last step (keeps a stateful split
            contiguous), ``"pre"`` puts it before the first step.
        value: the fill value.

    Returns:
        padded: same rank as ``x``, time axis ``ceil(T / multiple) * multiple``;
        mask: bool ``[sequences, padded timesteps]``, True where a step is real.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(f"x must have >= 2 dimensions [sequences, timesteps], got shape {x.shape}")
    check_finite("x", x)
    multiple = check_positive_int("multiple", multiple)
    if side not in ("post", "pre"):
        raise ValueError(f"side must be 'post' or 'pre', got {side!r}")
    n, t = x.shape[:2]
    pad = (-t) % multiple
    widths = [(0, 0)] * x.ndim
    widths[1] = (0, pad) if side == "post" else (pad, 0)
    padded = np.pad(x, widths, constant_values=value)
    mask = np.ones((n, t + pad), dtype=bool)
    if pad:
        if side == "post":
            mask[:, t:] = False
        else:
            mask[:, :pad] = False
    return padded, mask


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SplitPlan:
    """Arrays for Keras plus the rule for resetting LSTM state.

    Attributes:
        technique: one of :data:`TECHNIQUES`.
        x: ``[samples, sub_len, features]`` (whole sequences for ``decoupled``).
        y: targets split the same way (per-step), repeated per piece (per-sequence), or None.
        mask: bool ``[samples, sub_len]``; False marks padding. Use it as ``sample_weight``.
        last: bool ``[samples]``; True for the final piece of each true sequence (put a
            sequence-level loss only there via ``sample_weight=last``).
        batch_size: rows per batch; each row keeps one sequence for the whole pass.
        reset_every: reset the state after every this many batches (1 = stateless).
        n_sequences, seq_len: the original ``[n_sequences, seq_len, features]`` shape.
        sub_len: timesteps per sample.
        pad: padding steps appended to each sequence.
        per_step_targets: whether ``y`` was split along time (True) or repeated (False).
        k1, k2: TBPTT window sizes for ``decoupled`` (else None).
        description: one sentence for humans.
    """

    technique: str
    x: np.ndarray
    y: np.ndarray | None
    mask: np.ndarray
    last: np.ndarray
    batch_size: int
    reset_every: int
    n_sequences: int
    seq_len: int
    sub_len: int
    pad: int = 0
    per_step_targets: bool = True
    k1: int | None = None
    k2: int | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``[samples, timesteps, features]`` of ``x``."""
        return tuple(int(s) for s in self.x.shape)

    @property
    def pieces(self) -> int:
        """Subsequences per true sequence (``m``)."""
        return (self.seq_len + self.pad) // self.sub_len

    @property
    def stateful(self) -> bool:
        """Whether state must be carried across batches (more than one piece per sequence)."""
        return self.technique == "decoupled" or self.pieces > 1

    @property
    def n_batches(self) -> int:
        """Batches per pass over the data."""
        return self.x.shape[0] // self.batch_size

    @cached_property
    def reset_mask(self) -> np.ndarray:
        """Bool ``[n_batches]``: True where the state must be reset after that batch.

        Computed once per plan (read-only), so walking the batches costs O(n_batches).
        """
        return _reset_schedule(self.n_batches, self.reset_every)

    @property
    def index(self) -> np.ndarray:
        """Int ``[samples, 2]``: (true sequence id, first timestep) of every sample."""
        n, b, m = self.n_sequences, self.batch_size, self.pieces
        s = np.arange(self.x.shape[0])
        if self.technique == "decoupled":
            return np.stack([s, np.zeros_like(s)], axis=1)
        group, rest = np.divmod(s, m * b)
        piece, row = np.divmod(rest, b)
        seq = group * b + row
        assert seq.max() < n
        return np.stack([seq, piece * self.sub_len], axis=1)

    def summary(self) -> str:
        """Return (and print) the shape, batch size and reset rule in one line."""
        dims = ", ".join(str(s) for s in self.shape)
        if self.technique == "decoupled":
            rule = (f"TBPTT(k1={self.k1}, k2={self.k2}) walks each batch of {self.batch_size} "
                    f"whole sequences; state reset at each sequence end")
        elif self.reset_every == 1:
            rule = f"batch {self.batch_size}; stateless (fresh state every sample)"
        else:
            rule = (f"batch {self.batch_size}; stateful, reset state after every "
                    f"{self.reset_every} batches ({self.pieces} pieces per sequence)")
        pad = f"; {self.pad} padded steps per sequence" if self.pad else ""
        text = f"{self.technique}: [{dims}]; {rule}{pad}"
        print(text)
        return text


def _reset_schedule(n_batches: int, reset_every: int) -> np.ndarray:
    mask = (np.arange(n_batches) % reset_every) == reset_every - 1
    mask.setflags(write=False)
    return mask


# --------------------------------------------------------------------------- core split


def _targets_per_step(y: np.ndarray, n: int, t: int, per_step: bool | None) -> bool:
    if y.shape[0] != n:
        raise ValueError(f"y must have one entry per sequence ({n}), got shape {y.shape}")
    if per_step is None:
        return y.ndim >= 2 and y.shape[1] == t
    if per_step and (y.ndim < 2 or y.shape[1] != t):
        raise ValueError(f"per_step_targets=True needs y of shape [{n}, {t}, ...], got {y.shape}")
    return bool(per_step)


def _split_time(a: np.ndarray, groups: int, batch: int, pieces: int, sub_len: int) -> np.ndarray:
    tail = a.shape[2:]
    a = a.reshape(groups, batch, pieces, sub_len, *tail)
    a = np.swapaxes(a, 1, 2)  # piece j of every row of a group becomes one batch
    return np.ascontiguousarray(a.reshape(groups * pieces * batch, sub_len, *tail))


def make_plan(
    x: np.ndarray,
    y: np.ndarray | None,
    sub_len: int,
    *,
    batch_size: int | None = None,
    allow_padding: bool = False,
    technique: str = "naive split",
    per_step_targets: bool | None = None,
    pad_value: float = 0.0,
    description: str = "",
) -> SplitPlan:
    """Cut every sequence into contiguous pieces of ``sub_len`` steps, in stateful batch order.

    Args:
        x: ``[n, T]`` or ``[n, T, F]`` sequences.
        y: None, per-step targets ``[n, T, ...]`` (split like ``x``) or per-sequence targets
            ``[n, ...]`` (repeated for each piece; see ``SplitPlan.last``).
        sub_len: timesteps per piece, 1..T. Must divide T unless ``allow_padding``.
        batch_size: sequences per batch; must divide n (default: n, all sequences).
        allow_padding: pad each sequence at its end up to a multiple of ``sub_len``.
        technique: the name stored in the plan.
        per_step_targets: force how ``y`` is read (default: per-step if ``y.shape[1] == T``).
        pad_value: fill value for padded steps of ``x`` (targets are padded with 0).
        description: stored in the plan.

    Returns:
        A :class:`SplitPlan` with ``x`` of shape ``[n * ceil(T/sub_len), sub_len, F]``.
    """
    x = _as_3d(x)
    n, t, _ = x.shape
    sub_len = check_positive_int("sub_len", sub_len, maximum=t)
    if batch_size is None:
        batch_size = n
    batch_size = check_positive_int("batch_size", batch_size, maximum=n)
    if n % batch_size:
        raise ValueError(
            f"batch_size must divide the number of sequences {n}; got {batch_size}. "
            f"Choose one of {factors(n)}"
        )
    if technique not in TECHNIQUES:
        raise ValueError(f"technique must be one of {TECHNIQUES}, got {technique!r}")
    if t % sub_len and not allow_padding:
        below = max(d for d in factors(t) if d <= sub_len)
        above = min(d for d in factors(t) if d >= sub_len)
        raise ValueError(
            f"sub_len={sub_len} does not divide the sequence length {t}; nearest factors are "
            f"{below} and {above}, or use padded_split to pad and mask"
        )
    xp, mask = pad_to_multiple(x, sub_len, side="post", value=pad_value)
    pad = xp.shape[1] - t
    groups, pieces = n // batch_size, xp.shape[1] // sub_len
    xs = _split_time(xp, groups, batch_size, pieces, sub_len)
    ms = _split_time(mask, groups, batch_size, pieces, sub_len)
    per_step = False
    ys = None
    if y is not None:
        if not isinstance(y, np.ndarray):
            raise TypeError(f"y must be a numpy array or None, got {type(y).__name__}")
        check_finite("y", y)
        per_step = _targets_per_step(y, n, t, per_step_targets)
        if per_step:
            yp, _ = pad_to_multiple(y, sub_len, side="post", value=0)
            ys = _split_time(yp, groups, batch_size, pieces, sub_len)
        else:
            rows = y.reshape(groups, 1, batch_size, *y.shape[1:])
            ys = np.broadcast_to(rows, (groups, pieces, batch_size, *y.shape[1:]))
            ys = np.ascontiguousarray(ys.reshape(groups * pieces * batch_size, *y.shape[1:]))
    piece_of = (np.arange(xs.shape[0]) // batch_size) % pieces
    return SplitPlan(
        technique=technique, x=xs, y=ys, mask=ms, last=piece_of == pieces - 1,
        batch_size=batch_size, reset_every=pieces, n_sequences=n, seq_len=t, sub_len=sub_len,
        pad=pad, per_step_targets=per_step, description=description,
    )


def check_layout(x: Any, sub_len: Any, batch_size: Any) -> tuple[int, int, int]:
    """Check the arguments of :func:`stateful_reshape`; return ``x``'s ``(n, T, F)``.

    Raises:
        TypeError: ``x`` is not a numpy array, or a size is not an int.
        ValueError: ``x`` is not 3-D, empty or not finite; ``sub_len`` is not a factor of T
            in 1..T; ``batch_size`` is not a factor of n in 1..n.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"x must be [sequences, timesteps, features], got shape {x.shape}")
    x = _as_3d(x)
    n, t, f = x.shape
    sub_len = check_positive_int("sub_len", sub_len, maximum=t)
    batch_size = check_positive_int("batch_size", batch_size, maximum=n)
    if t % sub_len:
        raise ValueError(f"sub_len must divide T={t}; factors: {factors(t)} "
                         "(pad the sequences for other lengths)")
    if n % batch_size:
        raise ValueError(f"batch_size must divide n={n}; factors: {factors(n)}")
    return n, t, f


# The next two definitions are the ones notebook 09 writes out (a saved copy of its cell).
def stateful_reshape(x, sub_len, batch_size):
    """Cut ``[n, T, F]`` sequences into ``[n * T / sub_len, sub_len, F]`` pieces.

    Ordered for a stateful LSTM: row ``r`` of batch ``b + 1`` continues row ``r`` of
    batch ``b``; after ``T / sub_len`` batches a new group of sequences starts.
    """
    n, t, f = check_layout(x, sub_len, batch_size)
    groups, pieces = n // batch_size, t // sub_len
    a = x.reshape(groups, batch_size, pieces, sub_len, f)  # cut the time axis into pieces
    a = a.transpose(0, 2, 1, 3, 4)  # [group, piece, row, step, feature]
    return a.reshape(groups * pieces * batch_size, sub_len, f)  # batch j = piece j of each row


class ResetAtSequenceEnds(keras.callbacks.Callback):
    """Zero the LSTM state after every ``every`` batches (where true sequences end)."""

    def __init__(self, every):
        super().__init__()
        self.every = check_positive_int("every", every)

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)  # each epoch starts at the first piece of each sequence

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:  # the batch held the last pieces
            reset_states(self.model)


def with_reset(plan: SplitPlan, every: int) -> SplitPlan:
    """Return ``plan`` with another reset rule: reset the state after every ``every`` batches.

    The arrays (and so the weight updates) stay the same; only when the state is zeroed
    changes. ``every`` must divide ``plan.n_batches`` (1 = every piece starts from zero).
    """
    if not isinstance(plan, SplitPlan):
        raise TypeError(f"plan must be a SplitPlan, got {type(plan).__name__}")
    if plan.technique == "decoupled":
        raise ValueError("a decoupled plan resets at sequence ends inside TBPTTTrainer")
    every = check_positive_int("every", every, maximum=plan.n_batches)
    if plan.n_batches % every:
        raise ValueError(f"every must divide the {plan.n_batches} batches of a pass; "
                         f"factors: {factors(plan.n_batches)}")
    return dataclasses.replace(plan, reset_every=every)


def join(plan: SplitPlan, values: np.ndarray | None = None) -> np.ndarray:
    """Put split pieces back into whole sequences, dropping padding.

    Args:
        plan: the plan that produced the pieces.
        values: per-step arrays laid out like ``plan.x`` (``[samples, sub_len, ...]``), e.g.
            the model's predictions; default ``plan.x``.

    Returns:
        ``[n_sequences, seq_len, ...]``; ``join(plan)`` equals the original ``x``.
    """
    if not isinstance(plan, SplitPlan):
        raise TypeError(f"plan must be a SplitPlan, got {type(plan).__name__}")
    values = plan.x if values is None else values
    if not isinstance(values, np.ndarray):
        raise TypeError(f"values must be a numpy array, got {type(values).__name__}")
    if plan.technique == "decoupled":
        return values
    if values.shape[:2] != plan.x.shape[:2]:
        raise ValueError(
            f"values must be laid out like plan.x {plan.x.shape[:2]} in its first two axes, "
            f"got {values.shape}"
        )
    groups, b, m = plan.n_sequences // plan.batch_size, plan.batch_size, plan.pieces
    tail = values.shape[2:]
    a = values.reshape(groups, m, b, plan.sub_len, *tail)
    a = np.swapaxes(a, 1, 2).reshape(plan.n_sequences, m * plan.sub_len, *tail)
    return a[:, : plan.seq_len]


def join_targets(plan: SplitPlan) -> np.ndarray | None:
    """Return the original targets: per-step ones re-joined, per-sequence ones de-duplicated."""
    if plan.y is None:
        return None
    if plan.per_step_targets:
        return join(plan, plan.y)
    first = plan.index[:, 1] == 0
    order = np.argsort(plan.index[first, 0], kind="stable")
    return plan.y[first][order]


# --------------------------------------------------------------------------- the six techniques


def as_is(
    x: np.ndarray, y: np.ndarray | None = None, *, batch_size: int | None = None
) -> SplitPlan:
    """Technique 1: feed whole sequences (fine up to a few hundred steps).

    Returns:
        A stateless plan, ``x`` of shape ``[n, T, F]`` (e.g. 100 sequences of 25 steps ->
        ``[100, 25, 1]``); state starts fresh for every sample.
    """
    x = _as_3d(x)
    return make_plan(x, y, x.shape[1], batch_size=batch_size, technique="as-is",
                     description="whole sequences; BPTT over the full length")


def naive_split(
    x: np.ndarray, y: np.ndarray | None, sub_len: int, *, batch_size: int | None = None
) -> SplitPlan:
    """Technique 2: cut each sequence into pieces whose length divides T.

    Example: 100 sequences of 50,000 steps with ``sub_len=500`` give ``[10000, 500, 1]``,
    batch size 100, state reset after every 100 batches.

    Returns:
        A stateful plan, ``x`` of shape ``[n * T / sub_len, sub_len, F]``.
    """
    return make_plan(x, y, sub_len, batch_size=batch_size, technique="naive split",
                     description=f"contiguous pieces of {sub_len} steps (a factor of the length)")


def padded_split(
    x: np.ndarray,
    y: np.ndarray | None,
    sub_len: int,
    *,
    batch_size: int | None = None,
    pad_value: float = 0.0,
) -> SplitPlan:
    """Split with any ``sub_len``: pad each sequence at its end and mark the padding in ``mask``.

    Padding goes after the last real step, so a causal LSTM's outputs at real steps are
    unchanged; pass ``sample_weight=plan.mask`` so padded steps add nothing to the loss.

    Returns:
        A plan, ``x`` of shape ``[n * ceil(T / sub_len), sub_len, F]``, ``plan.pad`` steps added.
    """
    return make_plan(x, y, sub_len, batch_size=batch_size, allow_padding=True,
                     technique="padded split", pad_value=pad_value,
                     description=f"pieces of {sub_len} steps, end padded and masked")


def one_step_split(x: np.ndarray, y: np.ndarray | None = None, *,
                   batch_size: int | None = None) -> SplitPlan:
    """Technique 5: one timestep per sample; all memory lives in the carried state.

    Example: 100 sequences of 50 steps -> ``[5000, 1, 1]``, reset after every 50 batches.
    The gradient spans a single step, so weights learn only one-step dependencies directly.
    """
    return make_plan(x, y, 1, batch_size=batch_size, technique="one step",
                     description="one step per sample; state carries all memory")


def autocorrelation(series: np.ndarray, max_lag: int) -> np.ndarray:
    """Return the sample autocorrelation at lags ``0..max_lag`` (averaged over sequences).

    Args:
        series: ``[T]``, ``[n, T]`` or ``[n, T, 1]`` values.
        max_lag: largest lag, 1..T-1.

    Returns:
        float64 ``[max_lag + 1]`` with ``acf[0] == 1`` (biased estimator, divides by T).
    """
    if not isinstance(series, np.ndarray):
        raise TypeError(f"series must be a numpy array, got {type(series).__name__}")
    check_finite("series", series)
    s = series.astype(np.float64)
    if s.ndim == 3 and s.shape[2] == 1:
        s = s[..., 0]
    if s.ndim == 1:
        s = s[None]
    if s.ndim != 2:
        raise ValueError(f"series must be [T], [n, T] or [n, T, 1], got shape {series.shape}")
    t = s.shape[1]
    if t < 2:
        raise ValueError(f"series needs at least 2 timesteps, got {t}")
    max_lag = check_positive_int("max_lag", max_lag, maximum=t - 1)
    s = s - s.mean(axis=1, keepdims=True)
    size = 1 << (2 * t - 1).bit_length()  # zero-pad so the FFT gives linear, not circular, sums
    spec = np.fft.rfft(s, size, axis=1)
    raw = np.fft.irfft(spec * np.conj(spec), size, axis=1)[:, : max_lag + 1]
    var = raw[:, :1]
    if np.any(var <= 0):
        raise ValueError("series must not be constant: its autocorrelation is undefined")
    return (raw / var).mean(axis=0)


def partial_autocorrelation(series: np.ndarray, max_lag: int) -> np.ndarray:
    """Return the partial autocorrelation at lags ``0..max_lag`` (Durbin-Levinson on the ACF).

    The PACF at lag ``k`` is the correlation of ``x[t]`` and ``x[t - k]`` left over once the
    steps in between are accounted for: how far back a step still adds information.
    Values outside ``+-2 / sqrt(samples)`` are unlikely under no dependence at that lag.

    Args:
        series: as in :func:`autocorrelation`.
        max_lag: largest lag, 1..T-1.

    Returns:
        float64 ``[max_lag + 1]`` with ``pacf[0] == 1``.
    """
    acf = autocorrelation(series, max_lag)
    pacf = np.ones(max_lag + 1)
    phi = np.zeros(0)
    for k in range(1, max_lag + 1):
        denom = 1.0 - np.dot(phi, acf[1:k])
        step = (acf[k] - np.dot(phi, acf[k - 1:0:-1])) / denom if denom > 1e-12 else 0.0
        phi = np.append(phi - step * phi[::-1], step)
        pacf[k] = step
    return pacf


def length_from_acf(acf: np.ndarray, *, rule: str = "period", threshold: float = 0.2) -> int:
    """Pick a subsequence length from an autocorrelation function.

    Args:
        acf: ``[max_lag + 1]`` values from :func:`autocorrelation`.
        rule: ``"period"``: the lag of the highest ACF peak after the ACF first goes below
            zero (the dominant period); ``"threshold"``: the first lag where the ACF drops
            below ``threshold``.
        threshold: the level for ``rule="threshold"``, in (-1, 1).

    Returns:
        A lag >= 1.
    """
    acf = np.asarray(acf, dtype=float)
    if acf.ndim != 1 or acf.size < 3:
        raise ValueError(f"acf must be 1-D with at least 3 lags, got shape {acf.shape}")
    if rule == "threshold":
        threshold = check_fraction("threshold", threshold, -1.0, 1.0)
        below = np.flatnonzero(acf[1:] < threshold)
        if below.size == 0:
            raise ValueError(
                f"the ACF never drops below threshold={threshold} within {acf.size - 1} lags; "
                "raise max_lag or the threshold"
            )
        return int(below[0] + 1)
    if rule == "period":
        negative = np.flatnonzero(acf[1:] < 0)
        if negative.size == 0:
            raise ValueError("the ACF never goes below zero, so it shows no period; "
                             "raise max_lag or use rule='threshold'")
        start = negative[0] + 1
        return int(start + np.argmax(acf[start:]))
    raise ValueError(f"rule must be 'period' or 'threshold', got {rule!r}")


def domain_split(
    x: np.ndarray,
    y: np.ndarray | None,
    *,
    rule: str = "period",
    threshold: float = 0.2,
    max_lag: int | None = None,
    multiple: int = 1,
    batch_size: int | None = None,
) -> SplitPlan:
    """Technique 3: choose the piece length from the data's autocorrelation, then split.

    The lag from :func:`length_from_acf` (times ``multiple``) is rounded up to the next
    factor of T, so no padding is needed.

    Args:
        x: ``[n, T]`` or ``[n, T, 1]`` series (the ACF is taken on feature 0).
        y: targets as in :func:`make_plan`.
        rule, threshold: passed to :func:`length_from_acf`.
        max_lag: largest lag to inspect (default T // 2).
        multiple: use this many periods (or threshold lags) per piece.
        batch_size: as in :func:`make_plan`.

    Returns:
        A stateful plan; ``plan.extra`` holds ``acf``, ``lag`` and ``wanted`` length.
    """
    x = _as_3d(x)
    t = x.shape[1]
    if t < 4:
        raise ValueError(f"domain_split needs sequences of at least 4 steps, got {t}")
    max_lag = t // 2 if max_lag is None else check_positive_int("max_lag", max_lag, 2, t - 1)
    multiple = check_positive_int("multiple", multiple)
    acf = autocorrelation(x[..., 0], max_lag)
    lag = length_from_acf(acf, rule=rule, threshold=threshold)
    wanted = min(lag * multiple, t)
    sub_len = nearest_factor(t, wanted)
    plan = make_plan(x, y, sub_len, batch_size=batch_size, technique="domain split",
                     description=f"ACF {rule} lag {lag} x {multiple} -> factor {sub_len}")
    plan.extra.update({"acf": acf, "lag": lag, "wanted": wanted, "rule": rule})
    return plan


def decoupled_plan(
    x: np.ndarray,
    y: np.ndarray | None,
    k1: int,
    k2: int,
    *,
    batch_size: int | None = None,
) -> SplitPlan:
    """Technique 6: keep whole sequences and let a TBPTT(k1, k2) trainer walk them.

    Args:
        x: ``[n, T]`` or ``[n, T, F]``.
        y: targets (any layout the trainer accepts).
        k1: steps forward between weight updates (1..T).
        k2: steps the gradient flows back (1..T).
        batch_size: sequences per batch (must divide n; default n).

    Returns:
        A plan whose ``x`` is the unchanged ``[n, T, F]`` array, with ``k1``/``k2`` set.
    """
    x = _as_3d(x)
    n, t, _ = x.shape
    k1 = check_positive_int("k1", k1, maximum=t)
    k2 = check_positive_int("k2", k2, maximum=t)
    if batch_size is None:
        batch_size = n
    batch_size = check_positive_int("batch_size", batch_size, maximum=n)
    if n % batch_size:
        raise ValueError(f"batch_size must divide the number of sequences {n}; got {batch_size}")
    if y is not None:
        if not isinstance(y, np.ndarray):
            raise TypeError(f"y must be a numpy array or None, got {type(y).__name__}")
        check_finite("y", y)
        if y.shape[0] != n:
            raise ValueError(f"y must have one entry per sequence ({n}), got shape {y.shape}")
    return SplitPlan(
        technique="decoupled", x=x, y=y, mask=np.ones((n, t), dtype=bool),
        last=np.ones(n, dtype=bool), batch_size=batch_size, reset_every=1, n_sequences=n,
        seq_len=t, sub_len=t, per_step_targets=y is not None and y.ndim >= 2 and y.shape[1] == t,
        k1=k1, k2=k2, description=f"TBPTT(k1={k1}, k2={k2}) over whole sequences",
    )


# --------------------------------------------------------------------------- grid search


def candidate_lengths(
    seq_len: int, *, min_len: int = 1, max_len: int | None = None, extra: Sequence[int] = ()
) -> list[int]:
    """Return the factors of ``seq_len`` within ``[min_len, max_len]`` plus ``extra`` lengths.

    Args:
        seq_len: the sequence length T.
        min_len, max_len: inclusive range (default max: T).
        extra: non-factor lengths to try too (they need :func:`padded_split`).

    Returns:
        Sorted unique lengths.
    """
    seq_len = check_positive_int("seq_len", seq_len)
    if max_len is None:
        max_len = seq_len
    max_len = check_positive_int("max_len", max_len, maximum=seq_len)
    min_len = check_positive_int("min_len", min_len, maximum=max_len)
    chosen = {d for d in factors(seq_len) if min_len <= d <= max_len}
    for e in extra:
        chosen.add(check_positive_int("extra length", e, maximum=seq_len))
    return sorted(chosen)


@dataclass
class GridResult:
    """Scores of a grid search: ``scores[i, r]`` is repeat ``r`` at ``lengths[i]``."""

    lengths: list[int]
    scores: np.ndarray
    seconds: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.scores.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        return self.scores.std(axis=1, ddof=1) if self.scores.shape[1] > 1 else np.zeros(
            len(self.lengths))

    @property
    def best_length(self) -> int:
        """The length with the lowest mean score (scores are losses: lower is better)."""
        return int(self.lengths[int(np.argmin(self.mean))])

    def table(self) -> str:
        """Return (and print) one line per length: mean +- std and mean seconds."""
        lines = [f"{'sub_len':>8}  {'mean':>9}  {'std':>9}  {'seconds':>8}"]
        for length, m, s, sec in zip(self.lengths, self.mean, self.std,
                                     self.seconds.mean(axis=1), strict=True):
            lines.append(f"{length:>8}  {m:>9.4f}  {s:>9.4f}  {sec:>8.2f}")
        text = "\n".join(lines)
        print(text)
        return text


def grid_search(
    evaluate: Callable[[int, int], float],
    lengths: Sequence[int],
    repeats: int,
    *,
    seed: int = 0,
    verbose: bool = True,
) -> GridResult:
    """Call ``evaluate(length, seed)`` ``repeats`` times per length and collect the scores.

    Repeat ``r`` uses seed ``seed + r`` at every length, so lengths are compared on the
    same initialisations (paired repeats).

    Args:
        evaluate: trains and scores one configuration; returns a loss (lower is better).
        lengths: subsequence lengths to try.
        repeats: runs per length (>= 1; 30 at full scale).
        seed: first seed.
        verbose: print one line per run.

    Returns:
        A :class:`GridResult` with ``scores`` and ``seconds`` of shape ``[len(lengths), repeats]``.
    """
    if not callable(evaluate):
        raise TypeError("evaluate must be a callable evaluate(length, seed) -> float")
    lengths = [check_positive_int("length", v) for v in lengths]
    if not lengths:
        raise ValueError("lengths must name at least one subsequence length")
    repeats = check_positive_int("repeats", repeats)
    scores = np.zeros((len(lengths), repeats))
    seconds = np.zeros_like(scores)
    for i, length in enumerate(lengths):
        for r in range(repeats):
            began = time.perf_counter()
            scores[i, r] = float(evaluate(length, seed + r))
            seconds[i, r] = time.perf_counter() - began
            if verbose:
                print(f"sub_len {length:>5}  repeat {r + 1}/{repeats}  "
                      f"loss {scores[i, r]:.4f}  {seconds[i, r]:.1f} s")
    return GridResult(list(lengths), scores, seconds)


# --------------------------------------------------------------------------- data and training


def noisy_sine(
    n_sequences: int,
    seq_len: int,
    *,
    period: int = 100,
    noise: float = 1.0,
    horizon: int = 1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the notebook's long-series task: forecast a sine hidden under heavy noise.

    Each sequence is ``a * sin(2 pi t / period + phase) + noise``, with amplitude ``a`` in
    [0.5, 1.5] and ``phase`` drawn per sequence. The target at step ``t`` is the clean sine at
    ``t + horizon``. One noisy step says little; a model must pool many past steps
    (memory) to find the phase and amplitude.

    Args:
        n_sequences: number of sequences.
        seq_len: timesteps per sequence (>= 2).
        period: steps per cycle (2..seq_len).
        noise: std of the Gaussian noise (0..10).
        horizon: how many steps ahead the target lies (>= 1).
        seed: random seed.

    Returns:
        x: float32 ``[n_sequences, seq_len, 1]`` noisy observations;
        y: float32 ``[n_sequences, seq_len, 1]`` clean values ``horizon`` steps later; info
        (``info.extra["baseline_mse"]`` is the MSE of always predicting 0).
    """
    n_sequences = check_positive_int("n_sequences", n_sequences)
    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    period = check_positive_int("period", period, minimum=2, maximum=seq_len)
    noise = check_fraction("noise", noise, 0.0, 10.0)
    horizon = check_positive_int("horizon", horizon)
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.5, 1.5, size=(n_sequences, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n_sequences, 1))
    t = np.arange(seq_len + horizon)
    clean = amp * np.sin(2 * np.pi * t / period + phase)
    x = clean[:, :seq_len] + rng.normal(0.0, noise, size=(n_sequences, seq_len))
    y = clean[:, horizon:]
    info = DataInfo(
        "noisy sine", n_sequences, seq_len, 1, "seq2seq", None,
        f"y[t] = clean sine (period {period}) at t+{horizon}; observations carry noise std {noise}",
        {"period": period, "noise": noise, "horizon": horizon,
         "baseline_mse": float(np.mean(y**2))},
    )
    return x[..., None].astype(np.float32), y[..., None].astype(np.float32), info


def fit_plan(model, plan: SplitPlan, *, epochs: int = 1, verbose: int = 0,
             callbacks: Sequence[Any] = ()) -> Any:
    """Train a Keras model on a plan's batches in order, resetting state by the plan's rule.

    Calls ``model.fit(plan.x, plan.y, batch_size=plan.batch_size, shuffle=False,
    sample_weight=plan.mask)`` with :class:`ResetAtSequenceEnds`, which resets every stateful
    layer after the batches in ``plan.reset_mask`` (every ``plan.reset_every`` batches).
    For a stateful plan the model must be built with
    ``stateful=True`` and ``keras.Input(batch_size=plan.batch_size)``.

    Args:
        model: a compiled Keras model mapping ``[batch, sub_len, F]`` to per-step outputs.
        plan: a plan from :func:`naive_split`, :func:`padded_split`, ... (not ``decoupled``).
        epochs: passes over the data (>= 1).
        verbose: 0 or 2 (never the progress bar).
        callbacks: more Keras callbacks.

    Returns:
        The Keras ``History``.
    """
    if not isinstance(plan, SplitPlan):
        raise TypeError(f"plan must be a SplitPlan, got {type(plan).__name__}")
    if plan.technique == "decoupled":
        raise ValueError("a decoupled plan is trained by course_lib.tbptt.TBPTTTrainer, not fit")
    if plan.y is None:
        raise ValueError("plan has no targets (y is None); split x together with y")
    epochs = check_positive_int("epochs", epochs)
    if verbose not in (0, 2):
        raise ValueError(f"verbose must be 0 or 2 (no progress bar), got {verbose!r}")
    fixed = model.inputs[0].shape[0]
    if plan.stateful and fixed != plan.batch_size:
        raise ValueError(
            f"a stateful plan needs a model built with batch_size={plan.batch_size} "
            f"(keras.Input(batch_size=...)), got {fixed}"
        )
    weight = plan.mask.astype(np.float32) if plan.per_step_targets else plan.last.astype(
        np.float32)
    return model.fit(plan.x, plan.y, batch_size=plan.batch_size, epochs=epochs, shuffle=False,
                     sample_weight=weight, verbose=verbose,
                     callbacks=[ResetAtSequenceEnds(plan.reset_every), *callbacks])


def predict_plan(model, plan: SplitPlan) -> np.ndarray:
    """Run a (stateful) model over a plan's batches in order and join the outputs.

    Returns:
        ``[n_sequences, seq_len, outputs]``: the per-step predictions, padding removed.
    """
    if not isinstance(plan, SplitPlan):
        raise TypeError(f"plan must be a SplitPlan, got {type(plan).__name__}")
    if plan.technique == "decoupled":
        raise ValueError("use course_lib.tbptt.predict_sequences for a decoupled plan")
    reset_states(model)
    pieces = []
    for b in range(plan.n_batches):
        rows = slice(b * plan.batch_size, (b + 1) * plan.batch_size)
        pieces.append(np.asarray(model.predict_on_batch(plan.x[rows])))
        if plan.reset_mask[b]:
            reset_states(model)
    return join(plan, np.concatenate(pieces, axis=0))


# --------------------------------------------------------------------------- one run per technique


def split_by(
    technique: str,
    x: np.ndarray,
    y: np.ndarray | None,
    sub_len: int | None = None,
    *,
    batch_size: int | None = None,
    k2: int | None = None,
    rule: str = "period",
) -> SplitPlan:
    """Build the plan of ``technique`` (one of :data:`TECHNIQUES`) with one call.

    Args:
        technique: ``"as-is"``, ``"naive split"``, ``"domain split"``, ``"padded split"``,
            ``"one step"`` or ``"decoupled"``.
        x, y: ``[n, T, F]`` inputs and targets (see :func:`make_plan`).
        sub_len: piece length for naive/padded split; ``k1`` for decoupled; ignored by the
            others (as-is uses T, one step uses 1, domain split reads the ACF).
        batch_size: sequences per batch (must divide n; default n).
        k2: gradient horizon for decoupled (default ``min(2 * sub_len, T)``).
        rule: ACF rule for domain split (see :func:`length_from_acf`).

    Returns:
        A :class:`SplitPlan`.
    """
    if technique not in TECHNIQUES:
        raise ValueError(f"technique must be one of {TECHNIQUES}, got {technique!r}")
    needs_len = technique in ("naive split", "padded split", "decoupled")
    if needs_len and sub_len is None:
        raise ValueError(f"sub_len must be given for technique {technique!r}")
    if technique == "as-is":
        return as_is(x, y, batch_size=batch_size)
    if technique == "naive split":
        return naive_split(x, y, sub_len, batch_size=batch_size)
    if technique == "padded split":
        return padded_split(x, y, sub_len, batch_size=batch_size)
    if technique == "one step":
        return one_step_split(x, y, batch_size=batch_size)
    if technique == "domain split":
        return domain_split(x, y, rule=rule, batch_size=batch_size)
    x = _as_3d(x)
    sub_len = check_positive_int("sub_len", sub_len, maximum=x.shape[1])
    k2 = min(2 * sub_len, x.shape[1]) if k2 is None else k2
    return decoupled_plan(x, y, sub_len, k2, batch_size=batch_size)


@dataclass
class RunResult:
    """What one training run of a plan gave.

    Attributes:
        technique, sub_len: the plan's technique and piece length (k1 for decoupled).
        shape: ``[samples, timesteps, features]`` fed to the model.
        test_mse: mean squared error over every step of the test sequences, predicted
            from a zero state over whole sequences.
        seconds: training time.
        updates: weight updates made.
        loss: training loss per epoch.
        predictions: ``[n_test, T, 1]`` test predictions.
    """

    technique: str
    sub_len: int
    shape: tuple[int, int, int]
    test_mse: float
    seconds: float
    updates: int
    loss: list[float]
    predictions: np.ndarray


def train_plan(
    plan: SplitPlan,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    units: int = 16,
    epochs: int = 5,
    learning_rate: float = 1e-2,
    seed: int = 0,
    updates: int | None = None,
) -> RunResult:
    """Train a fresh LSTM regressor on ``plan`` and score it on whole test sequences.

    Split plans train a Keras stateful LSTM with :func:`fit_plan` (state reset by the
    plan's rule); a decoupled plan trains with ``tbptt.TBPTTTrainer(k1, k2)``. Either way
    the trained weights are copied into the explicit-state twin
    (``tbptt.lstm_stack``), which then reads each test sequence from start to end, so
    every technique is scored the same way.

    Args:
        plan: from :func:`split_by` (or any technique function), with per-step targets.
        x_test, y_test: ``[n_test, T, F]`` and ``[n_test, T, 1]`` whole test sequences.
        units: LSTM units.
        epochs: passes over the training data (>= 1).
        learning_rate: Adam's step size (> 0).
        seed: seed of the weight initialisers.
        updates: train for exactly this many weight updates instead of ``epochs`` passes
            (batches in order, the last pass cut short; split plans only), e.g. to compare
            techniques at an equal number of updates.

    Returns:
        A :class:`RunResult`.
    """
    from course_lib import tbptt

    if not isinstance(plan, SplitPlan):
        raise TypeError(f"plan must be a SplitPlan, got {type(plan).__name__}")
    if plan.y is None or not plan.per_step_targets:
        raise ValueError("plan must carry per-step targets y [n, T, 1] (this is a forecast task)")
    x_test = _as_3d(x_test, "x_test")
    y_test = _as_3d(y_test, "y_test")
    if x_test.shape[2] != plan.x.shape[2]:
        raise ValueError(f"x_test must have {plan.x.shape[2]} features, got {x_test.shape[2]}")
    if y_test.shape[:2] != x_test.shape[:2]:
        raise ValueError(f"y_test must be [n_test, T, 1] like x_test {x_test.shape[:2]}, "
                         f"got {y_test.shape}")
    units = check_positive_int("units", units)
    epochs = check_positive_int("epochs", epochs)
    learning_rate = check_fraction("learning_rate", learning_rate, 1e-6, 1.0)
    if updates is not None:
        updates = check_positive_int("updates", updates)
        if plan.technique == "decoupled":
            raise ValueError("updates is for split plans; give a decoupled plan epochs")
    check_finite("y_test", y_test)
    n_features = plan.x.shape[2]
    start = tbptt.lstm_stack(n_features, units, 1, None, seed=seed, name="init").get_weights()
    twin = _cached(("twin", n_features, units), lambda: tbptt.lstm_stack(
        n_features, units, 1, None, name="scored"))
    began = time.perf_counter()
    if plan.technique == "decoupled":
        trainer = _cached(("tbptt", n_features, units, learning_rate), lambda: tbptt.TBPTTTrainer(
            twin, plan.k1, plan.k2, _adam(learning_rate), "mse"))
        trainer.restart(start, plan.k1, plan.k2)
        history = trainer.fit(plan.x, plan.y, epochs=epochs, batch_size=plan.batch_size,
                              shuffle=False, verbose=0)
        loss, updates = history["loss"], int(sum(history["updates"]))
    else:
        model = _cached(("fit", n_features, units, learning_rate, plan.batch_size),
                        lambda: _compiled_stateful(n_features, units, plan.batch_size,
                                                   learning_rate))
        model.set_weights(start)
        _zero_optimizer(model.optimizer)
        if updates is None:
            updates = plan.n_batches * epochs
        full, rest = divmod(updates, plan.n_batches)
        loss = []
        if full:
            loss += fit_plan(model, plan, epochs=full).history["loss"]
        if rest:  # the first `rest` batches of one more pass
            cut = rest * plan.batch_size
            part = dataclasses.replace(plan, x=plan.x[:cut], y=plan.y[:cut],
                                       mask=plan.mask[:cut], last=plan.last[:cut])
            loss += fit_plan(model, part).history["loss"]
        loss = [float(v) for v in loss]
        tbptt.copy_weights(model, twin)
    seconds = time.perf_counter() - began
    zeros = [np.zeros((len(x_test), *s[1:]), dtype=np.float32)
             for s in (t.shape for t in twin.inputs[1:])]
    pred = np.asarray(twin.predict([x_test.astype(np.float32), *zeros],
                                   batch_size=len(x_test), verbose=0)[0])
    mse = float(np.mean((pred - y_test) ** 2))
    return RunResult(plan.technique, plan.sub_len if plan.k1 is None else plan.k1, plan.shape,
                     mse, seconds, updates, loss, pred)


# Models and trainers reused across runs: building and tracing a Keras model costs seconds,
# far more than training one on these small problems. Each run restarts from fresh
# weights (drawn from its seed) and a zeroed optimizer, so reuse does not change results.
_CACHE: dict[tuple, Any] = {}


def _cached(key: tuple, build: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def clear_cache() -> None:
    """Forget the models :func:`train_plan` keeps for reuse."""
    _CACHE.clear()


def _adam(learning_rate: float):
    import keras

    return keras.optimizers.Adam(learning_rate)


def _compiled_stateful(n_features: int, units: int, batch_size: int, learning_rate: float):
    from course_lib import tbptt

    model = tbptt.lstm_stack(n_features, units, 1, None, stateful=True, batch_size=batch_size,
                             name="trained")
    model.compile(_adam(learning_rate), "mse")
    return model


def _zero_optimizer(optimizer) -> None:
    """Put Adam back to its just-built state (zero step count and moments)."""
    if not optimizer.built:
        return
    for var in optimizer.variables:
        if "learning_rate" not in var.path:
            var.assign(np.zeros(var.shape, dtype=var.dtype))


def plot_grid(result: GridResult, *, baseline: float | None = None, title: str = "",
              ylabel: str = "MSE"):
    """Draw the grid search as mean +- std of the score per subsequence length.

    Args:
        result: from :func:`grid_search`.
        baseline: a reference score drawn as a dashed line (e.g. predict-zero MSE).
        title: the figure title.
        ylabel: what the scores are (e.g. "validation MSE").

    Returns:
        ``(fig, ax)``.
    """
    from course_lib import plots

    if not isinstance(result, GridResult):
        raise TypeError(f"result must be a GridResult, got {type(result).__name__}")
    repeats = result.scores.shape[1]
    fig, ax = plots.figure(title or f"Grid search over subsequence lengths ({repeats} repeats)",
                           "subsequence length (timesteps, log scale)", ylabel)
    color = plots.color_for("naive split")
    ax.errorbar(result.lengths, result.mean, yerr=result.std, marker="o", capsize=4,
                color=color, label="mean ± std over repeats")
    for i, length in enumerate(result.lengths):
        ax.scatter([length] * repeats, result.scores[i], s=10, alpha=0.4, color=color)
    if baseline is not None:
        ax.axhline(baseline, linestyle="--", color="grey", label="predict 0 (no model)")
    ax.set_xscale("log")
    ax.set_xticks(result.lengths, [str(v) for v in result.lengths])
    ax.xaxis.set_minor_formatter(_null_formatter())
    ax.legend()
    return fig, ax


def _null_formatter():
    import matplotlib.pyplot as plt

    return plt.NullFormatter()


def split_choice(
    technique: str,
    sub_len: int,
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    batch_size: int | None = None,
    units: int = 16,
    epochs: int = 5,
    learning_rate: float = 1e-2,
    seed: int = 0,
    show: int = 200,
):
    """Split, train and score one choice; draw a test sequence with its forecast.

    The plain function behind the notebook's split-choice widget.

    Args:
        technique: one of :data:`TECHNIQUES`.
        sub_len: piece length (naive/padded split) or k1 (decoupled, k2 = 2 k1).
        x_train, y_train, x_test, y_test: ``[n, T, 1]`` arrays from :func:`noisy_sine`.
        batch_size, units, epochs, learning_rate, seed: as in :func:`split_by` and
            :func:`train_plan`.
        show: how many of the last test steps to draw (>= 1).

    Returns:
        ``(fig, result, plan)``.
    """
    from course_lib import plots

    show = check_positive_int("show", show)
    plan = split_by(technique, x_train, y_train, sub_len, batch_size=batch_size)
    result = train_plan(plan, x_test, y_test, units=units, epochs=epochs,
                        learning_rate=learning_rate, seed=seed)
    dims = ", ".join(str(s) for s in plan.shape)
    fig, ax = plots.figure(f"{technique}: [{dims}] -> test MSE {result.test_mse:.3f}",
                           "timestep", "value")
    t = np.arange(x_test.shape[1])[-show:]
    ax.plot(t, x_test[0, -show:, 0], color="lightgrey", label="noisy input")
    ax.plot(t, y_test[0, -show:, 0], color="black", label="target (clean, next step)")
    ax.plot(t, result.predictions[0, -show:, 0], color=plots.color_for(technique),
            label="forecast")
    ax.legend(loc="upper right", fontsize=8)
    return fig, result, plan
