"""course_lib.regression and ``course compare``: what changed between two runs or sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_lib import cli, regression


def _run(folder: Path, verdicts: dict[str, str], loss: float, wall: float = 10.0,
         peak: float = 500.0) -> Path:
    """Write a minimal run folder: manifest.json and one notebook's sidecar."""
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"notebooks": [
        {"name": "06_tbptt", "status": "ok", "wall_s": wall, "peak_rss_mb": peak}]}))
    (folder / "06_tbptt.metrics.json").write_text(json.dumps({
        "notebook": "06_tbptt", "profile": "cpu", "seed": 42,
        "metrics": {"loss": {"value": loss, "unit": ""}, "curve": {"value": [1, 2], "unit": ""},
                    "flag": {"value": True, "unit": ""}},
        # a sidecar's own verdicts are not trusted: the runner's claims.json is what counts
        "claims": [{"id": k, "verdict": "true"} for k in verdicts]}))
    (folder / "claims.json").write_text(json.dumps(
        [{"notebook": "06_tbptt", "id": k, "verdict": v} for k, v in verdicts.items()]))
    return folder


def test_identical_runs_show_nothing(tmp_path):
    a = _run(tmp_path / "a", {"c1": "true"}, 0.5)
    b = _run(tmp_path / "b", {"c1": "true"}, 0.5)
    result = regression.compare(a, b)
    assert (result.flipped, result.moved, result.slower, result.heavier) == ([], [], [], [])
    assert result.exit_code == 0
    assert "no verdict changed" in regression.format_text(result)


def test_flips_moves_slower_heavier(tmp_path):
    a = _run(tmp_path / "a", {"c1": "true", "c2": "true", "gone": "true"}, 0.50, 10, 500)
    b = _run(tmp_path / "b", {"c1": "false", "c2": "true", "new": "true"}, 0.60, 20, 700)
    result = regression.compare(a, b, tolerance=0.1)
    assert result.flipped == [("06_tbptt:c1", "true", "false")]
    assert [m[0] for m in result.moved] == ["06_tbptt:loss"]
    assert result.moved[0][3] == pytest.approx(0.2)
    assert result.slower == [("06_tbptt", 10.0, 20.0)]
    assert result.heavier == [("06_tbptt", 500.0, 700.0)]
    assert result.only_in_a == ["06_tbptt:gone"] and result.only_in_b == ["06_tbptt:new"]
    assert result.exit_code == 1
    # within tolerance: not listed
    assert regression.compare(a, b, tolerance=0.25).moved == []


def test_sweep_folders_compare_by_seed_fraction(tmp_path):
    def sweep_folder(name, held):
        folder = tmp_path / name
        (folder / "seed-1" / "06_tbptt").mkdir(parents=True)
        (folder / "seed-1" / "06_tbptt" / "task.json").write_text(json.dumps(
            {"notebook": "06_tbptt", "seed": 1, "metric_values": {"loss": 1.0}}))
        (folder / "sweep.json").write_text(json.dumps({
            "claims": [{"key": "06_tbptt:c", "held": held, "checked": 10}],
            "notebook_stats": [{"notebook": "06_tbptt", "wall_s": {"mean": 5.0},
                                "peak_rss_mb": {"mean": 100.0}}]}))
        return folder

    sturdy, shaky = sweep_folder("s1", 10), sweep_folder("s2", 8)
    snap = regression.load(sturdy)
    assert snap.kind == "sweep" and snap.values == {"06_tbptt:loss": 1.0}
    result = regression.compare(sturdy, shaky)
    assert result.flipped == [("06_tbptt:c", "true", "false")]
    run = _run(tmp_path / "run", {"c": "true"}, 1.0, 5.0, 100.0)
    assert regression.compare(sturdy, run).flipped == []  # a run and a sweep compare too


def test_html_escapes_values(tmp_path):
    a = _run(tmp_path / "a", {"<script>x</script>": "true"}, 0.5)
    b = _run(tmp_path / "b", {"<script>x</script>": "false"}, 0.5)
    page = regression.format_html(regression.compare(a, b))
    assert "<script>x" not in page and "&lt;script&gt;x" in page


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"tolerance": -0.1}, ValueError, "tolerance must be >= 0"),
    ({"tolerance": "x"}, TypeError, "tolerance must be a number"),
    ({"slower": 0.5}, ValueError, "slower must be >= 1"),
    ({"heavier": float("nan")}, ValueError, "heavier must be >= 1.0, got nan"),
])
def test_compare_refuses_bad_arguments(tmp_path, kwargs, error, message):
    a = _run(tmp_path / "a", {}, 0.5)
    with pytest.raises(error, match=message):
        regression.compare(a, a, **kwargs)


def test_load_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        regression.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="neither manifest.json"):
        regression.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ValueError, match="could not be read"):
        regression.load(tmp_path)


def test_cli_compare_exit_status_and_html(tmp_path, capsys):
    a = _run(tmp_path / "a", {"c1": "true"}, 0.5)
    b = _run(tmp_path / "b", {"c1": "false"}, 0.5)
    page = tmp_path / "cmp.html"
    assert cli.main(["compare", str(a), str(b), "--html", str(page)]) == 1
    assert "06_tbptt:c1" in capsys.readouterr().out and page.exists()
    assert cli.main(["compare", str(a), str(a)]) == 0
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", str(a), str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
