"""Synthetic data sets for the course: all seeded, all generated, nothing downloaded.

Every generator returns ``(x, y, info)``: ``x`` in Keras' ``[samples, timesteps,
features]`` layout (float32 or int32 tokens), targets ``y``, and a :class:`DataInfo`
that says what the arrays mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DataInfo:
    """What a generated data set holds."""

    name: str
    n_samples: int
    seq_len: int
    n_features: int
    task: str  # "binary", "multiclass", "regression" or "seq2seq"
    n_classes: int | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_samples, self.seq_len, self.n_features)


def check_positive_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int in ``[minimum, maximum]``, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    upper = "" if maximum is None else f" and <= {maximum}"
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return int(value)


def check_fraction(name: str, value: Any, low: float = 0.0, high: float = 1.0) -> float:
    """Return ``value`` as a float if ``low <= value <= high``, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (low <= float(value) <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return float(value)


def balanced_labels(n_samples: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n_samples`` labels in ``0..n_classes-1`` with counts as equal as possible."""
    labels = np.arange(n_samples) % n_classes
    return rng.permutation(labels).astype(np.int32)


def marker_task(
    n_samples: int,
    seq_len: int,
    *,
    marker_pos: int = 0,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the marker task: one flagged step far from the end decides the class.

    Each sequence has two features. Feature 0 is Gaussian noise with std ``noise``,
    except at ``marker_pos`` where it is +1 (class 1) or -1 (class 0). Feature 1 is a
    flag that is 1 only at ``marker_pos``. The label depends on nothing else, so a
    model must carry one bit across ``seq_len - marker_pos`` steps.

    Args:
        n_samples: number of sequences (>= 2, classes are balanced).
        seq_len: timesteps per sequence (>= 1).
        marker_pos: index of the marker; negative counts from the end (-1 = last step).
        noise: std of the distracting noise on feature 0 (>= 0).
        seed: random seed.

    Returns:
        x: float32 ``[n_samples, seq_len, 2]``; y: int32 ``[n_samples]`` in {0, 1}; info.
    """
    n_samples = check_positive_int("n_samples", n_samples, minimum=2)
    seq_len = check_positive_int("seq_len", seq_len)
    if isinstance(marker_pos, bool) or not isinstance(marker_pos, (int, np.integer)):
        raise TypeError(f"marker_pos must be an int, got {type(marker_pos).__name__}")
    if not -seq_len <= marker_pos < seq_len:
        raise ValueError(f"marker_pos must be in [-{seq_len}, {seq_len - 1}], got {marker_pos}")
    noise = check_fraction("noise", noise, 0.0, 10.0)
    rng = np.random.default_rng(seed)
    y = balanced_labels(n_samples, 2, rng)
    x = np.zeros((n_samples, seq_len, 2), dtype=np.float32)
    x[:, :, 0] = rng.normal(0.0, noise, size=(n_samples, seq_len))
    pos = marker_pos % seq_len
    x[:, pos, 0] = np.where(y == 1, 1.0, -1.0)
    x[:, pos, 1] = 1.0
    info = DataInfo(
        "marker task", n_samples, seq_len, 2, "binary", 2,
        f"class = sign of feature 0 at the flagged step {pos}; {seq_len - pos} steps to remember",
        {"marker_pos": pos, "noise": noise},
    )
    return x, y, info


def lag_echo(
    n_samples: int,
    seq_len: int,
    lag: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the lag/echo task: the target at step t is the input bit at step t - lag.

    Inputs are random bits coded as -1/+1 (one feature). Targets are the same bits
    in {0, 1}, delayed by ``lag``; the first ``lag`` targets have no source and are 0.
    Use ``info.extra["first_valid"]`` to score only the steps that have one.

    Returns:
        x: float32 ``[n_samples, seq_len, 1]``; y: float32 ``[n_samples, seq_len, 1]``; info.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    lag = check_positive_int("lag", lag, minimum=0, maximum=seq_len - 1)
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n_samples, seq_len)).astype(np.float32)
    x = (2.0 * bits - 1.0)[..., None]
    y = np.zeros_like(bits)
    y[:, lag:] = bits[:, : seq_len - lag]
    info = DataInfo(
        "lag/echo", n_samples, seq_len, 1, "seq2seq", 2,
        f"y[t] = input bit at t-{lag}; steps before {lag} carry no information",
        {"lag": lag, "first_valid": lag},
    )
    return x, y[..., None], info
