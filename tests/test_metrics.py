import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib import metrics


@pytest.fixture
def out(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.ENV_DIR, str(tmp_path))
    return tmp_path


def test_record_writes_the_sidecar_next_to_the_run(out):
    metrics.start("01_demo", "cpu", 7)
    assert metrics.record("time_s", np.float32(1.5), "s") == np.float32(1.5)
    metrics.record("curve", np.arange(3))
    data = json.loads((out / "01_demo.metrics.json").read_text())
    assert data["notebook"] == "01_demo" and data["seed"] == 7 and data["profile"] == "cpu"
    assert data["metrics"]["time_s"] == {"value": 1.5, "unit": "s"}
    assert data["metrics"]["curve"]["value"] == [0, 1, 2]
    assert metrics.get("curve") == [0, 1, 2]


def test_start_replaces_an_earlier_run(out):
    metrics.start("01_demo", "cpu")
    metrics.record("old", 1)
    metrics.start("01_demo", "cpu")
    assert metrics.load(out / "01_demo.metrics.json")["metrics"] == {}


def test_claim_is_checked_only_at_its_profiles(out):
    metrics.start("01_demo", "smoke")
    entry = metrics.claim("c1", True, profiles=("cpu", "gpu"), text="t")
    assert entry["verdict"] == "not checked" and entry["observed"] is True
    entry = metrics.claim("c2", np.bool_(False), profiles=("cpu",))
    assert entry["verdict"] == "not checked"  # a false claim at smoke is not a failure
    metrics.start("01_demo", "cpu")
    assert metrics.claim("c1", True)["verdict"] == "true"
    assert metrics.claim("c2", 0 > 1, values={"a": np.float64(2.0)})["verdict"] == "false"
    stored = metrics.load(out / "01_demo.metrics.json")["claims"]
    assert [c["verdict"] for c in stored] == ["true", "false"]
    assert stored[1]["values"] == {"a": 2.0}


def test_a_claim_id_used_twice_is_an_error(out):
    metrics.start("01_demo", "cpu")
    metrics.claim("c", False)
    with pytest.raises(ValueError, match="claim_id 'c' was already claimed"):
        metrics.claim("c", True)
    assert [c["verdict"] for c in metrics.current().claims] == ["false"]
    for _ in range(2):  # the same line twice in one run (a loop) is a duplicate too
        try:
            metrics.claim("loop", True)
        except ValueError:
            break
    else:
        pytest.fail("a claim repeated in a loop was accepted")


def test_rerunning_the_same_cell_replaces_its_claim(out, monkeypatch):
    metrics.start("01_demo", "cpu")
    sites = iter([("/tmp/ipykernel_1/123.py", 4), ("/tmp/ipykernel_1/123.py", 5),
                  ("/tmp/ipykernel_1/999.py", 6), ("/tmp/ipykernel_1/999.py", 6),
                  ("/tmp/ipykernel_1/999.py", 6)])
    monkeypatch.setattr(metrics, "_call_site", lambda: next(sites))
    metrics.claim("c", False)
    metrics.claim("c", True)  # the same cell, executed again: replaces
    assert [c["verdict"] for c in metrics.current().claims] == ["true"]
    with pytest.raises(ValueError, match="already claimed"):
        metrics.claim("c", True)  # another cell
    metrics.claim("d", True)
    with pytest.raises(ValueError, match="already claimed"):
        metrics.claim("d", True)  # the same cell in the same execution


def test_load_never_raises(tmp_path):
    cases = {
        "missing": None,
        "corrupt": '{"notebook": "x", "metrics": {',
        "list": "[1, 2]",
        "bytes": b"\xff\xfe\x00garbage",
        "deep": "[" * 100_000 + "]" * 100_000,
        "types": json.dumps({"notebook": "x", "profile": "cpu", "seed": 1,
                             "metrics": [], "claims": [], "figures": []}),
        "seed": json.dumps({"notebook": "x", "profile": "cpu", "seed": "1",
                            "metrics": {}, "claims": [], "figures": []}),
        "claim": json.dumps({"notebook": "x", "profile": "cpu", "seed": 1,
                             "metrics": {}, "claims": ["c"], "figures": []}),
        "figure": json.dumps({"notebook": "x", "profile": "cpu", "seed": 1,
                              "metrics": {}, "claims": [], "figures": [3]}),
        "metric": json.dumps({"notebook": "x", "profile": "cpu", "seed": 1,
                              "metrics": {"m": 3}, "claims": [], "figures": []}),
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.metrics.json"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        data = metrics.load(path)
        assert isinstance(data["error"], str) and data["error"], name
        assert data["metrics"] == {} and data["claims"] == [] and data["figures"] == [], name
    assert "'metrics' must be a dict" in metrics.load(tmp_path / "types.metrics.json")["error"]


def test_load_of_a_good_sidecar_has_no_error(out):
    metrics.start("01_demo", "cpu", 3)
    metrics.record("a", 1.0)
    data = metrics.load(out / "01_demo.metrics.json")
    assert data["error"] is None and data["metrics"]["a"]["value"] == 1.0


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_load_never_raises_on_any_bytes(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("load") / "x.metrics.json"
    path.write_bytes(content)
    data = metrics.load(path)
    assert data["error"] is None or isinstance(data["error"], str)
    assert isinstance(data["metrics"], dict) and isinstance(data["claims"], list)
    assert data["error"] is not None or metrics.sidecar_problem(data) is None


def test_get_unknown_metric_lists_what_exists(out):
    metrics.start("01_demo", "cpu")
    metrics.record("a", 1)
    with pytest.raises(KeyError, match="recorded: a"):
        metrics.get("b")


def test_record_before_start_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(metrics, "_current", None)
    with pytest.raises(RuntimeError, match=r"metrics\.start"):
        metrics.record("x", 1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: metrics.start("", "cpu"), ValueError, "notebook must be"),
        (lambda: metrics.start("x", "fast"), ValueError, "unknown profile"),
        (lambda: metrics.start("x", "cpu", seed="1"), TypeError, "seed must be an int"),
        (lambda: metrics.record("", 1), ValueError, "name must be"),
        (lambda: metrics.record("obj", object()), TypeError, "cannot be stored"),
        (lambda: metrics.claim("c", True, profiles="cpu"), TypeError, "tuple of profile"),
        (lambda: metrics.claim("c", True, profiles=("laptop",)), ValueError, "unknown profile"),
        (lambda: metrics.claim("", True), ValueError, "claim_id"),
    ],
)
def test_bad_input_is_named(out, call, error, message):
    metrics.start("01_demo", "cpu")
    with pytest.raises(error, match=message):
        call()


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "x.json"
    for i in range(5):
        metrics.atomic_write_json(target, {"i": i})
    assert json.loads(target.read_text()) == {"i": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.json"
    metrics.atomic_write_json(target, {"ok": 1})
    with pytest.raises(TypeError):
        metrics.atomic_write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


@given(st.recursive(st.floats(allow_nan=True) | st.integers() | st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=3), max_leaves=10))
def test_is_finite_matches_math_isfinite(value):
    def flat(v):
        return [x for item in v for x in flat(item)] if isinstance(v, list) else [v]

    expected = all(math.isfinite(v) for v in flat(value) if isinstance(v, float))
    assert metrics.is_finite(value) == expected
