"""course_lib.validate: the one home of argument checks, and the messages they give."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import course_lib
from course_lib import data, validate


def test_check_positive_int_accepts_and_rejects():
    assert validate.check_positive_int("n", np.int64(3)) == 3
    with pytest.raises(TypeError, match="n must be an int, got float"):
        validate.check_positive_int("n", 2.0)
    with pytest.raises(TypeError):
        validate.check_positive_int("n", True)
    with pytest.raises(ValueError, match="n must be >= 1 and <= 5, got 6"):
        validate.check_positive_int("n", 6, maximum=5)
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        validate.check_positive_int("n", -1, minimum=0)


def test_check_fraction():
    assert validate.check_fraction("f", 1) == 1.0
    with pytest.raises(ValueError, match=r"f must be in \[0.0, 1.0\], got 1.5"):
        validate.check_fraction("f", 1.5)
    with pytest.raises(ValueError, match=r"f must be in \[0.0, 1.0\], got nan"):
        validate.check_fraction("f", float("nan"))
    with pytest.raises(TypeError, match="f must be a number, got str"):
        validate.check_fraction("f", "0.5")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"value": "1"}, TypeError, "rate must be a number, got str"),
    ({"value": True}, TypeError, "rate must be a number, got bool"),
    ({"value": -1.0, "low": 0.0}, ValueError, r"rate must be >= 0.0, got -1.0"),
    ({"value": 0.0, "low": 0.0, "low_open": True}, ValueError, r"rate must be > 0.0, got 0.0"),
    ({"value": 3.0, "low": 0.0, "high": 2.0}, ValueError, r"rate must be in \[0.0, 2.0\]"),
    ({"value": 0.0, "low": 0.0, "high": 2.0, "low_open": True}, ValueError,
     r"rate must be in \(0.0, 2.0\]"),
    ({"value": math.inf}, ValueError, "rate must be a finite number, got inf"),
    ({"value": float("nan"), "low": 1.0}, ValueError, "rate must be >= 1.0, got nan"),
])
def test_check_number_names_the_argument_and_range(kwargs, error, message):
    with pytest.raises(error, match=message):
        validate.check_number("rate", **kwargs)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_check_number_returns_every_finite_value_in_range(value):
    assert validate.check_number("v", value) == value
    assert validate.check_number("v", np.float32(1.5), 1.5, 2.0) == 1.5


def test_check_seed():
    assert validate.check_seed(np.int64(7)) == 7
    for bad in (-1, 1.5, True, "3", None):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            validate.check_seed(bad)


def test_check_finite_counts_and_locates_the_first_bad_entry():
    x = np.zeros((2, 3, 2))
    x[1, 2, 0] = np.nan
    x[1, 2, 1] = np.inf
    with pytest.raises(ValueError, match=r"^x must hold finite numbers, but 2 entries are NaN "
                                         r"or inf \(the first at index \(1, 2, 0\)\)"):
        validate.check_finite("x", x)
    ids = np.arange(6).reshape(2, 3)
    assert validate.check_finite("ids", ids) is ids  # integers cannot be NaN
    with pytest.raises(ValueError, match=r"the first at index \(\)"):
        validate.check_finite("scalar", np.array(np.nan))


def test_data_re_exports_the_checks_notebooks_use():
    for name in ("check_positive_int", "check_fraction", "check_seed"):
        assert getattr(data, name) is getattr(validate, name)


def test_no_other_module_defines_its_own_generic_check():
    """Generic checks live in validate.py only (issue 9): no copies with drifting messages."""
    generic = {name.lstrip("_") for name in validate.__all__}
    generic |= {"check_float", "check_ratio", "check_int"}
    root = Path(course_lib.__file__).parent
    copies = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "validate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") in generic:
                copies.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    assert copies == [], copies
