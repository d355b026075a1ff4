"""The runner on deliberately broken notebooks: it reports each failure and goes on."""

import json
from pathlib import Path

import pytest

from course_lib import runner

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory):
    lines = []
    out = tmp_path_factory.mktemp("run") / "fixtures-smoke"
    summary = runner.run_course("smoke", None, out, timeout=45, seed=7, notebook_dir=FIXTURES,
                                progress=lines.append)
    return summary, lines


def by_name(summary):
    return {nb["name"]: nb for nb in summary.manifest["notebooks"]}


def test_every_notebook_is_run_and_the_run_fails(fixture_run):
    summary, _ = fixture_run
    assert summary.exit_code == 1
    assert [nb["name"] for nb in summary.manifest["notebooks"]] == [
        "00_good", "01_fails", "02_hangs", "03_false_claim", "04_kernel_dies", "05_nan_metric"]


def test_good_notebook_passes_with_metrics_and_memory(fixture_run):
    summary, _ = fixture_run
    good = by_name(summary)["00_good"]
    assert good["status"] == "ok" and good["error"] is None
    assert good["claims"] == {"true": 1, "false": 0, "not checked": 1}
    assert 10 < good["peak_rss_mb"] < 2000
    sidecar = json.loads((summary.run_dir / "00_good.metrics.json").read_text())
    assert sidecar["metrics"]["seed_seen"]["value"] == 7  # the runner's seed reached the kernel
    assert sidecar["profile"] == "smoke"


def test_raising_notebook_names_the_cell_and_message(fixture_run):
    summary, _ = fixture_run
    err = by_name(summary)["01_fails"]["error"]
    assert by_name(summary)["01_fails"]["status"] == "failed"
    assert err["ename"] == "ValueError" and "deliberate failure" in err["evalue"]
    assert "raise ValueError" in err["source"]


def test_hanging_notebook_times_out_and_names_the_cell(fixture_run):
    summary, _ = fixture_run
    hung = by_name(summary)["02_hangs"]
    assert hung["status"] == "timeout" and 44 < hung["wall_s"] < 120
    assert "time.sleep" in hung["error"]["source"]


def test_false_claim_fails_the_run_but_not_the_notebook(fixture_run):
    summary, _ = fixture_run
    assert by_name(summary)["03_false_claim"]["status"] == "ok"
    assert summary.manifest["summary"]["claims_false"] == ["03_false_claim:loss_small"]
    claims = json.loads((summary.run_dir / "claims.json").read_text())
    assert {(c["notebook"], c["id"], c["verdict"]) for c in claims} == {
        ("00_good", "answer_positive", "true"), ("00_good", "cpu_only", "not checked"),
        ("03_false_claim", "loss_small", "false")}


def test_dead_kernel_and_nan_metric_are_failures(fixture_run):
    summary, _ = fixture_run
    assert by_name(summary)["04_kernel_dies"]["status"] == "failed"
    assert "Kernel" in by_name(summary)["04_kernel_dies"]["error"]["evalue"]
    nan = by_name(summary)["05_nan_metric"]
    assert nan["status"] == "failed" and "loss" in nan["error"]["evalue"]


def test_manifest_report_and_progress(fixture_run):
    summary, lines = fixture_run
    manifest = summary.manifest
    for key in ("python", "tensorflow", "keras", "gpu_found", "seed", "profile", "versions"):
        assert key in manifest
    assert manifest["seed"] == 7 and manifest["profile"] == "smoke"
    page = (summary.run_dir / "report.html").read_text()
    assert "FAILED" in page and "deliberate failure" in page and "loss_small" in page
    assert any(line.startswith("[2/6] 01_fails") for line in lines)
    assert any("false claims: 03_false_claim:loss_small" in line for line in lines)


def test_select_by_number_and_name():
    picked = runner.select(["1", "00_good"], FIXTURES)
    assert [p.stem for p in picked] == ["01_fails", "00_good"]
    assert len(runner.select(None, FIXTURES)) == 6


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: runner.select(["99"], FIXTURES), ValueError, "unknown notebook '99'"),
        (lambda: runner.select(["nope"], FIXTURES), ValueError, "choose from: 00_good"),
        (lambda: runner.select([" "], FIXTURES), ValueError, "at least one"),
        (lambda: runner.discover("/no/such/folder"), ValueError, "does not exist"),
        (lambda: runner.check_timeout(0), ValueError, "timeout must be > 0"),
        (lambda: runner.check_timeout(-5), ValueError, "timeout must be > 0"),
        (lambda: runner.check_timeout("10"), TypeError, "number of seconds"),
        (lambda: runner.run_course("laptop", notebook_dir=FIXTURES), ValueError,
         "unknown profile"),
        (lambda: runner.run_course("smoke", seed=-1, notebook_dir=FIXTURES), ValueError,
         "seed must be"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_out_folder_must_be_empty(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        runner.make_run_dir("smoke", tmp_path)
