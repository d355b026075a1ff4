import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib import cli

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def course(*args):
    return subprocess.run([sys.executable, "-m", "course_lib.cli", *args],
                          capture_output=True, text=True, timeout=300)


def test_list_shows_every_notebook_with_its_title(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "00_start_here" in out and "Start here" in out
    assert "01_why_long_sequences_are_hard" in out
    assert cli.main(["list", "--lang", "zh"]) == 0
    chinese = capsys.readouterr().out
    assert chinese.count("\n") == out.count("\n") and "从这里开始" in chinese


def test_check_env_json_reports_versions():
    done = course("check-env", "--json")
    assert done.returncode == 0
    report = json.loads(done.stdout)
    assert report["versions"]["keras"].startswith("3.") and report["missing"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--profile", "laptop"], "invalid choice: 'laptop'"),
        (["run", "--notebooks", "42"], "unknown notebook '42'"),
        (["run", "--timeout", "0"], "timeout must be > 0"),
        (["run", "--timeout", "soon"], "timeout must be a number"),
        (["run", "--seed", "-2"], "seed must be >= 0"),
        (["run", "--seed", "x"], "seed must be an integer"),
        (["report", "/no/such/run"], "has no manifest.json"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args, message):
    done = course(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_run_exit_status_follows_the_notebooks(tmp_path):
    done = course("run", "--notebook-dir", str(FIXTURES), "--notebooks", "00",
                  "--out", str(tmp_path / "ok"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1/1 notebooks ok" in done.stdout
    done = course("run", "--notebook-dir", str(FIXTURES), "--notebooks", "03",
                  "--out", str(tmp_path / "bad"))
    assert done.returncode == 1
    assert "false claims: 03_false_claim:loss_small" in done.stdout
    assert course("report", str(tmp_path / "bad")).returncode == 0


# --- course run: interruption, resume, unwritable folders (issue 12) ---

def _tagged(tag):
    import psutil

    return [p.pid for p in psutil.process_iter(["cmdline", "status"])
            if tag in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_kills_the_tree_and_says_what_finished(tmp_path, signum, code):
    import psutil

    from course_lib import metrics, runner

    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "course_lib.cli", "run", "--notebook-dir",
                             str(FIXTURES), "--notebooks", "06", "--out", str(out),
                             "--timeout", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        sidecar = out / "06_orphan_child.metrics.json"
        while "kernel" not in metrics.load(sidecar)["metrics"]:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the fixture's process tree never started"
            time.sleep(0.5)
        tag = str(out.resolve() / "06_orphan_child.tree")
        assert len(_tagged(tag)) == 2
        kernel_pid, created = metrics.load(sidecar)["metrics"]["kernel"]["value"]
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            runner.kill_tree(proc.pid)
    assert proc.returncode == code, stdout + stderr
    assert "Traceback" not in stderr
    assert f"course run --resume {out}" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["exit_code"] == code
    assert manifest["interrupted"] == {"signal": signal.Signals(signum).name,
                                       "notebook": "06_orphan_child"}
    assert manifest["notebooks"] == [] and manifest["not_run"] == ["06_orphan_child"]
    assert _tagged(tag) == []
    assert not (psutil.pid_exists(kernel_pid)
                and abs(psutil.Process(kernel_pid).create_time() - created) < 1e-3)


def test_unwritable_run_folder_exits_2_without_a_traceback(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    done = course("run", "--notebook-dir", str(FIXTURES), "--notebooks", "00",
                  "--out", str(tmp_path / "file" / "run"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("course run: error: cannot write")
    assert len(done.stderr.strip().splitlines()) == 1


def test_full_disk_exits_2_with_one_message(tmp_path, monkeypatch, capsys):
    import errno
    import os

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--notebook-dir", str(FIXTURES), "--notebooks", "00",
                  "--out", str(tmp_path / "run")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--resume", "/no/such/run"], "no readable manifest.json"),
    (["--resume", "/no/such/run", "--seed", "0"], "drop --seed"),
    (["--resume", "/no/such/run", "--profile", "cpu", "--notebooks", "01"],
     "drop --profile, --notebooks"),
])
def test_resume_arguments_are_checked(args, message):
    done = course("run", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
