"""The runner on deliberately broken notebooks: it reports each failure and goes on."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from course_lib import metrics, report, runner

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
        "00_good", "01_fails", "02_hangs", "03_false_claim", "04_kernel_dies", "05_nan_metric",
        "06_orphan_child", "07_missing_claim", "08_duplicate_claim", "09_spoofed_sidecar",
        "10_dies_with_child"]
    assert summary.manifest["status"] == "complete" and summary.manifest["not_run"] == []


def test_good_notebook_passes_with_metrics_and_memory(fixture_run):
    summary, _ = fixture_run
    good = by_name(summary)["00_good"]
    assert good["status"] == "ok" and good["error"] is None
    assert good["claims"] == {"true": 1, "false": 0, "not checked": 1, "missing": 0,
                              "invalid": 0}
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
    claims = [c for c in claims if c["notebook"] in ("00_good", "03_false_claim")]
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
    assert any(line.startswith("[2/11] 01_fails") for line in lines)
    assert any("false claims: 03_false_claim:loss_small" in line for line in lines)


def test_select_by_number_and_name():
    picked = runner.select(["1", "00_good"], FIXTURES)
    assert [p.stem for p in picked] == ["01_fails", "00_good"]
    assert len(runner.select(None, FIXTURES)) == 11


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
        (lambda: runner.run_course("smoke", notebook_dir=FIXTURES, lang="fr"), ValueError,
         "lang must be one of en, zh, got 'fr'"),
        (lambda: runner.run_course("smoke", notebook_dir=FIXTURES, lang=None), TypeError,
         "lang must be a string"),
        (lambda: runner.run_course("smoke", notebook_dir=FIXTURES, lang="zh"), ValueError,
         "notebook folder .*zh.* does not exist"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_out_folder_must_be_empty(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        runner.make_run_dir("smoke", tmp_path)


# --------------------------------------------------------------------- process trees

def survivors(run_dir, name):
    """Live processes whose command line carries the fixture's tag (child and daemon)."""
    tag = str(Path(run_dir).resolve() / f"{name}.tree")
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if tag in (proc.info["cmdline"] or []) and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc.pid)
    return found


def kernel_alive(run_dir, name):
    pid, created = metrics.load(Path(run_dir) / f"{name}.metrics.json")["metrics"]["kernel"][
        "value"]
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - created) < 1e-3 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(("name", "status"), [("06_orphan_child", "timeout"),
                                              ("10_dies_with_child", "failed")])
def test_no_process_of_the_notebook_survives_it(fixture_run, name, status):
    summary, _ = fixture_run
    assert by_name(summary)[name]["status"] == status
    sidecar = metrics.load(summary.run_dir / f"{name}.metrics.json")
    assert sidecar["metrics"]["tree_size"]["value"] == 2  # child + detached daemon were up
    assert survivors(summary.run_dir, name) == []
    assert not kernel_alive(summary.run_dir, name)


def test_kill_tree_reaches_detached_grandchildren(tmp_path):
    tag = str(tmp_path / "tree")
    code = ("import os, sys, time\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    time.sleep(3600)\n"
            "time.sleep(3600)\n")
    root = subprocess.Popen([sys.executable, "-c", code, tag], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(_tagged(tag)) < 2:
            assert time.monotonic() < deadline, "the test tree did not start"
            time.sleep(0.1)
        killed = runner.kill_tree(root.pid)
        assert root.pid in killed and len(killed) == 2
        root.wait(timeout=10)
        assert _tagged(tag) == []
    finally:
        if root.poll() is None:
            root.kill()


def _tagged(tag):
    return [p.pid for p in psutil.process_iter(["cmdline", "status"])
            if tag in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE]


# ------------------------------------------------------------------- claims and sidecars

def test_a_claim_never_made_is_missing_and_fails_the_run(fixture_run):
    summary, _ = fixture_run
    nb = by_name(summary)["07_missing_claim"]
    assert nb["status"] == "ok" and nb["claims"]["true"] == 1 and nb["claims"]["missing"] == 2
    # the claim checked only at cpu is not expected at smoke
    assert summary.manifest["summary"]["claims_missing"] == [
        "07_missing_claim:swallowed", "07_missing_claim:skipped_cell"]


def test_a_duplicate_claim_id_fails_before_running(fixture_run):
    summary, _ = fixture_run
    nb = by_name(summary)["08_duplicate_claim"]
    assert nb["status"] == "failed" and nb["error"]["ename"] == "DuplicateClaim"
    assert "twice" in nb["error"]["evalue"] and nb["metrics"] is None


def test_rewritten_verdicts_are_invalid_and_fail_the_run(fixture_run):
    summary, _ = fixture_run
    claims = {c["id"]: c for c in json.loads((summary.run_dir / "claims.json").read_text())
              if c["notebook"] == "09_spoofed_sidecar"}
    assert {k: c["verdict"] for k, c in claims.items()} == {
        "loss_small": "invalid", "dodged": "invalid", "flipped": "invalid"}
    assert "'FALSE' is not one of" in claims["loss_small"]["reason"]
    assert "differ from the notebook source" in claims["dodged"]["reason"]
    assert "gives 'false'" in claims["flipped"]["reason"]
    assert len(summary.manifest["summary"]["claims_invalid"]) == 3
    page = (summary.run_dir / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)" in page


def write_notebook(path, *sources):
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": [], "source": src} for i, src in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


def test_scan_reads_literal_claims_and_their_profiles(tmp_path):
    nb = write_notebook(
        tmp_path / "01_x.ipynb",
        "%matplotlib inline\nfrom course_lib import metrics\n!echo hi",
        'metrics.claim("a", x > 1)\nrun.claim("b", True, profiles=("smoke", "cpu"))',
        'for k in KS:\n    metrics.claim(f"dyn_{k}", True)\nclaim("c", 1, profiles=WHERE)',
        "this is not python (",
        'metrics.record("claim", 1)\nmetrics.claim(ID, True)')
    scan = runner.scan_claims(nb)
    assert scan.profiles == {"a": ("cpu", "gpu"), "b": ("smoke", "cpu"), "c": None}
    assert scan.duplicates == [] and scan.expected_at("smoke") == ["b"]
    assert scan.expected_at("gpu") == ["a"]


def test_scan_finds_duplicates_across_cells(tmp_path):
    nb = write_notebook(tmp_path / "01_x.ipynb", 'metrics.claim("a", 1)',
                        'if x:\n    metrics.claim("a", 0)\nmetrics.claim("b", 1)')
    assert runner.scan_claims(nb).duplicates == ["a"]
    (tmp_path / "02_bad.ipynb").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read as a notebook"):
        runner.scan_claims(tmp_path / "02_bad.ipynb")


def sidecar(**changes):
    data = {"notebook": "01_x", "profile": "cpu", "seed": 3, "started": 0.0,
            "metrics": {"m": {"value": 1.0, "unit": ""}},
            "claims": [{"id": "a", "text": "t", "profiles": ["cpu", "gpu"], "observed": True,
                        "verdict": "true", "values": {"v": 1}}],
            "figures": [], "error": None}
    data.update(changes)
    return data


def test_check_sidecar_accepts_an_honest_one(tmp_path):
    scan = runner.ClaimScan({"a": ("cpu", "gpu")})
    claims, figures, error = runner.check_sidecar(sidecar(), "01_x", "cpu", 3, tmp_path, scan)
    assert error is None and figures == [] and [c["verdict"] for c in claims] == ["true"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"seed": 4}, "seed is 4, the run's is 3"),
    ({"seed": None}, "seed is None, the run's is 3"),
    ({"profile": "smoke"}, "profile is 'smoke', the run's is 'cpu'"),
    ({"notebook": "02_other"}, "notebook is '02_other', the run's is '01_x'"),
    ({"figures": ["/etc/hostname"]}, "not a file inside the run folder"),
    ({"figures": ["../outside.png"]}, "not a file inside the run folder"),
    ({"figures": ["manifest.json"]}, "not a PNG file"),
])
def test_check_sidecar_rejects_a_sidecar_of_another_run(tmp_path, changes, message):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("{}")
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n secret")
    _, _, error = runner.check_sidecar(sidecar(**changes), "01_x", "cpu", 3, run_dir)
    assert error["ename"] == "SidecarMismatch" and message in error["evalue"]


@pytest.mark.parametrize(("claim", "reason"), [
    ({"verdict": "TRUE"}, "not one of"),
    ({"verdict": "true", "observed": False}, "gives 'false'"),
    ({"observed": "yes"}, "'observed' must be true or false"),
    ({"profiles": "cpu"}, "are not a list of"),
    ({"profiles": ["laptop"]}, "are not a list of"),
    ({"profiles": ["gpu"], "verdict": "not checked"}, "differ from the notebook source"),
    ({"id": 7}, "id is not a non-empty string"),
    ({"values": [1, 2]}, "'values' must be an object"),
])
def test_check_sidecar_recomputes_every_verdict(tmp_path, claim, reason):
    entry = dict(sidecar()["claims"][0], **claim)
    scan = runner.ClaimScan({"a": ("cpu", "gpu")})
    claims, _, _ = runner.check_sidecar(sidecar(claims=[entry]), "01_x", "cpu", 3, tmp_path,
                                        scan)
    assert claims[0]["verdict"] == "invalid" and reason in claims[0]["reason"]


def test_check_sidecar_adds_missing_claims_and_flags_repeated_ids(tmp_path):
    scan = runner.ClaimScan({"a": ("cpu", "gpu"), "b": ("cpu",), "c": ("gpu",), "d": None})
    twice = sidecar()["claims"] * 2
    claims, _, _ = runner.check_sidecar(sidecar(claims=twice), "01_x", "cpu", 3, tmp_path, scan)
    assert [(c["id"], c["verdict"]) for c in claims] == [
        ("a", "invalid"), ("a", "invalid"), ("b", "missing")]
    broken = {**metrics.load(tmp_path / "none.json")}
    claims, _, error = runner.check_sidecar(broken, "01_x", "cpu", 3, tmp_path, scan)
    assert error["ename"] == "BadSidecar" and [c["id"] for c in claims] == ["a", "b"]


def test_a_corrupt_sidecar_fails_its_notebook_with_the_reason(tmp_path):
    nb = write_notebook(tmp_path / "01_corrupt.ipynb",
                        "import os\nopen(os.path.join(os.environ['COURSE_OUTPUT_DIR'], "
                        "'01_corrupt.metrics.json'), 'w').write('{\"notebook\": [')")
    result = runner.execute_one(nb, tmp_path, "smoke", 1, 120, progress=lambda _: None)
    assert result.status == "failed" and result.error["ename"] == "BadSidecar"
    assert "cannot read 01_corrupt.metrics.json" in result.error["evalue"]


# ------------------------------------------------------------------ atomic and resumable

def test_resume_runs_only_what_is_missing(tmp_path):
    out = tmp_path / "run"

    def stop_at_second(line):
        if line.startswith("[2/2]"):
            raise KeyboardInterrupt

    first = runner.run_course("smoke", ["00", "03"], out, timeout=120, seed=5,
                              notebook_dir=FIXTURES, progress=stop_at_second)
    assert first.exit_code == 130
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["not_run"] == ["03_false_claim"]
    assert [nb["name"] for nb in manifest["notebooks"]] == ["00_good"]
    assert "INTERRUPTED" in (out / "report.html").read_text()
    stamp = (out / "00_good.ipynb").stat().st_mtime_ns
    lines = []
    second = runner.resume_run(out, progress=lines.append)
    assert (out / "00_good.ipynb").stat().st_mtime_ns == stamp  # not run again
    assert any(line.startswith("[2/2] 03_false_claim") for line in lines)
    assert not any("00_good ..." in line for line in lines)
    assert second.manifest["status"] == "complete" and second.exit_code == 1
    assert [nb["name"] for nb in second.manifest["notebooks"]] == ["00_good", "03_false_claim"]
    assert second.manifest["seed"] == 5 and second.manifest["summary"]["claims_true"] == 1
    claims = json.loads((out / "claims.json").read_text())
    assert {c["notebook"] for c in claims} == {"00_good", "03_false_claim"}
    assert [p.name for p in out.iterdir() if p.suffix == ".tmp"] == []
    lines.clear()
    assert runner.resume_run(out, progress=lines.append).exit_code == 1  # nothing left to run
    assert "0 to run" in lines[0]


def test_resume_needs_a_course_run(tmp_path):
    with pytest.raises(ValueError, match="no readable manifest.json"):
        runner.resume_run(tmp_path)


def test_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(runner.RunFolderError, match="No space left on device; free some"):
        runner.run_course("smoke", ["00"], tmp_path / "run", notebook_dir=FIXTURES,
                          progress=lambda _: None)
    assert [p.name for p in (tmp_path / "run").iterdir()] == []  # no temporary files left


def test_run_folder_under_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(runner.RunFolderError, match="cannot write"):
        runner.make_run_dir("smoke", tmp_path / "file" / "run")
    with pytest.raises(ValueError, match="not empty"):
        runner.make_run_dir("smoke", tmp_path / "file")
    assert issubclass(runner.RunFolderError, ValueError)
    assert runner.RunFolderError is report.RunFolderError


def test_worker_env_silences_tensorflow_and_names_the_run(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("COURSE_TF_LOGS", raising=False)
    env = runner._worker_env("cpu", tmp_path)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3" and env["COURSE_PROFILE"] == "cpu"
    assert env["COURSE_OUTPUT_DIR"] == str(tmp_path)
    monkeypatch.setenv("COURSE_TF_LOGS", "1")
    assert "TF_CPP_MIN_LOG_LEVEL" not in runner._worker_env("cpu", tmp_path)


def test_interrupt_signals_become_interrupted():
    with pytest.raises(runner.Interrupted) as caught, runner._SignalsToInterrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert caught.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_lang_runs_the_translated_edition_and_the_report_follows(tmp_path):
    english = tmp_path / "notebooks"
    (english / "zh").mkdir(parents=True)
    for folder in (english, english / "zh"):
        (folder / "00_good.ipynb").write_bytes((FIXTURES / "00_good.ipynb").read_bytes())
    runs = {lang: runner.run_course("smoke", ["00"], tmp_path / lang, timeout=45, seed=3,
                                    notebook_dir=english, progress=lambda _: None, lang=lang)
            for lang in ("en", "zh")}
    zh = runs["zh"].manifest
    assert zh["lang"] == "zh" and runs["en"].manifest["lang"] == "en"
    assert zh["notebook_dir"] == str((english / "zh").resolve())
    page = (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
    assert "<html lang='zh'>" in page and "<h2>论断</h2>" in page and "<h2>Claims</h2>" not in page
    assert "<h2>Claims</h2>" in (tmp_path / "en" / "report.html").read_text(encoding="utf-8")
    values = {lang: metrics.load(tmp_path / lang / run.manifest["notebooks"][0]["metrics"])
              ["metrics"] for lang, run in runs.items()}
    assert values["zh"] == values["en"] and values["en"]
