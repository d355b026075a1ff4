"""The whole course at the smoke profile, end to end, the way an instructor runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import metrics, runner

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the whole course at smoke, on 2 busy cores
def test_course_run_smoke_end_to_end(tmp_path):
    out = tmp_path / "smoke-run"
    done = subprocess.run([sys.executable, "-m", "course_lib.cli", "run", "--profile", "smoke",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          timeout=2300)
    print(done.stdout[-5000:])
    manifest = json.loads((out / "manifest.json").read_text())
    names = [p.stem for p in runner.discover(ROOT / "notebooks")]
    assert [nb["name"] for nb in manifest["notebooks"]] == names
    failed = {nb["name"]: nb["error"] for nb in manifest["notebooks"] if nb["status"] != "ok"}
    assert not failed, failed
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert manifest["profile"] == "smoke" and manifest["exit_code"] == 0
    assert manifest["gpu_found"] in (True, False) and manifest["keras"].startswith("3.")
    for nb in manifest["notebooks"]:
        assert (out / nb["output"]).exists()
        data = metrics.load(out / nb["metrics"])
        assert data["metrics"], f"{nb['name']} recorded no metrics"
        assert all(metrics.is_finite(m["value"]) for m in data["metrics"].values())
        assert nb["wall_s"] > 0 and nb["peak_rss_mb"] and nb["peak_rss_mb"] > 10
    claims = json.loads((out / "claims.json").read_text())
    assert {c["verdict"] for c in claims} <= {"not checked", "true"}
    page = (out / "report.html").read_text()
    assert all(name in page for name in names) and "PASSED" in page
