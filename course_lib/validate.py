"""Argument checks shared by every module: each returns the value (converted) or raises a
``TypeError``/``ValueError`` that names the argument and the range it must lie in.

One module, so that "seed must be ..." or "x must hold finite numbers ..." reads the same
wherever a student meets it. ``course_lib.data`` re-exports the three that notebooks use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_finite", "check_fraction", "check_number", "check_positive_int",
           "check_seed"]


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
    return check_number(name, value, low, high)


def check_number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
                 low_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real number in ``[low, high]``
    (``(low, high]`` with ``low_open``), else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    above = number > low if low_open else number >= low
    if not (math.isfinite(number) and above and number <= high):
        bracket = "(" if low_open else "["
        if math.isinf(high) and math.isinf(low):
            allowed = "a finite number"
        elif math.isinf(high):
            allowed = f"> {low}" if low_open else f">= {low}"
        else:
            allowed = f"in {bracket}{low}, {high}]"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return number


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an int, or raise ValueError unless it is a non-negative int."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def check_finite(name: str, values: np.ndarray) -> np.ndarray:
    """Return ``values`` unless a float/complex array holds NaN or inf; then raise a
    ValueError naming ``name``, how many entries and where the first one is."""
    if np.issubdtype(values.dtype, np.inexact) and not np.isfinite(values).all():
        bad = np.argwhere(~np.isfinite(values))
        first = tuple(int(i) for i in bad[0]) if values.ndim else ()
        raise ValueError(
            f"{name} must hold finite numbers, but {len(bad)} entries are NaN or inf "
            f"(the first at index {first}); clean or impute them first")
    return values
