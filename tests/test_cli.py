import json
import subprocess
import sys
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
