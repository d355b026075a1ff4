"""The whole course at the smoke profile, end to end, the way an instructor runs it.

Also (opt-in, for CI) one notebook at the ``cpu`` profile with its claims checked:
``COURSE_CPU_CLAIMS_NOTEBOOK=05`` (set by ``.ci/run``) names the notebook.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import metrics, runner

ROOT = Path(__file__).resolve().parent.parent
MACHINE_UNITS = {"s", "ms", "seconds", "MB"}
CPU_CLAIMS_NOTEBOOK = os.environ.get("COURSE_CPU_CLAIMS_NOTEBOOK", "").strip()

# TensorFlow's C++ log lines, absl's pre-init warning, CUDA driver messages (issue 15)
TF_NOISE = re.compile(r"^[IWEF]\d{4} |All log messages before absl::InitializeLog|"
                      r"cuda drivers|cuInit|CUDA error|^WARNING:tensorflow:", re.M | re.I)


def _course_env() -> dict[str, str]:
    """The environment of an instructor's shell, not pytest's.

    ipykernel does not forward C-level stderr into the notebook while PYTEST_CURRENT_TEST is
    set, which would hide exactly the noise ``stray_tf_stderr`` looks for.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_CURRENT_TEST", "COURSE_TF_LOGS", "TF_CPP_MIN_LOG_LEVEL",
                        "PYTHONSTARTUP")}
    return env


def stderr_outputs(executed: Path) -> list[tuple[int, str]]:
    """Return ``(cell index, text)`` of every stderr stream output of an executed notebook."""
    cells = json.loads(executed.read_text())["cells"]
    return [(i, "".join(out.get("text", "")))
            for i, cell in enumerate(cells) for out in cell.get("outputs", [])
            if out.get("output_type") == "stream" and out.get("name") == "stderr"]


def stray_tf_stderr(executed: Path) -> list[str]:
    """Return the lines of TensorFlow/absl/CUDA log noise in an executed notebook's stderr."""
    return [f"cell {i}: {line}" for i, text in stderr_outputs(executed)
            for line in text.splitlines() if TF_NOISE.search(line)]


def test_noise_pattern_finds_what_students_saw_and_nothing_else(tmp_path):
    seen = ["WARNING: All log messages before absl::InitializeLog() is called are written to "
            "STDERR", "I0000 00:00:1796123936.4 19884 cudart_stub.cc:31] Could not find cuda "
            "drivers on your machine, GPU will not be used.",
            "E0000 00:00:1796123942.3 19884 node_def_util.cc:682] NodeDef mentions attribute "
            "use_unbounded_threadpool which is not in the op definition"]
    lesson = ["UserWarning: the lesson's own warning", "Epoch 1/3", "ERROR in your cell?"]
    nb = {"cells": [{"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stderr", "text": "\n".join(seen + lesson)},
        {"output_type": "stream", "name": "stdout", "text": seen[1]}]}]}
    path = tmp_path / "executed.ipynb"
    path.write_text(json.dumps(nb))
    assert [line.split(": ", 1)[1] for line in stray_tf_stderr(path)] == seen


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the whole course at smoke, on 2 busy cores
def test_course_run_smoke_end_to_end(tmp_path):
    out = tmp_path / "smoke-run"
    done = subprocess.run([sys.executable, "-m", "course_lib.cli", "run", "--profile", "smoke",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                          timeout=2300, env=_course_env())
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
    # issue 15: no red TensorFlow/absl/CUDA log text in any executed notebook
    noise = {nb["name"]: stray_tf_stderr(out / nb["output"]) for nb in manifest["notebooks"]}
    noise = {name: lines for name, lines in noise.items() if lines}
    other = {nb["name"]: stderr_outputs(out / nb["output"]) for nb in manifest["notebooks"]}
    assert not noise, (f"TensorFlow log noise in the notebooks' stderr: {noise}\n"
                       f"all stderr outputs: { {k: v for k, v in other.items() if v} }")


@pytest.mark.slow
@pytest.mark.skipif(not CPU_CLAIMS_NOTEBOOK,
                    reason="set COURSE_CPU_CLAIMS_NOTEBOOK=NN (CI does) to check one notebook's "
                           "claims at the cpu profile")
@pytest.mark.timeout(1500)  # 05 takes ~1-2 min on 2 quiet cores; the cpu limit is 5 min
def test_one_notebook_at_the_cpu_profile_makes_all_its_claims_true(tmp_path):
    out = tmp_path / "cpu-run"
    done = subprocess.run([sys.executable, "-m", "course_lib.cli", "run", "--profile", "cpu",
                           "--notebooks", CPU_CLAIMS_NOTEBOOK, "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=1400,
                          env=_course_env())
    print(done.stdout[-5000:])
    manifest = json.loads((out / "manifest.json").read_text())
    [notebook] = manifest["notebooks"]
    assert notebook["status"] == "ok", notebook["error"]
    claims = json.loads((out / "claims.json").read_text())
    for claim in claims:  # CI's log shows what was checked
        print(f"claim {claim['notebook']}:{claim['id']} -> {claim['verdict']}: {claim['text']} "
              f"{claim.get('values')}")
    assert claims, f"{notebook['name']} made no claims"
    wrong = [c for c in claims if c["verdict"] != "true"]
    assert not wrong, wrong
    assert manifest["summary"]["claims_true"] == len(claims)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not stray_tf_stderr(out / notebook["output"])


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_chinese_edition_gives_the_english_numbers(tmp_path):
    """Issue 13: code cells are identical, so notebook 04 at the same seed and profile
    records the same metrics in both editions (and the Chinese run's report is Chinese)."""
    runs = {}
    for lang in ("en", "zh"):
        out = tmp_path / lang
        done = subprocess.run([sys.executable, "-m", "course_lib.cli", "run", "--profile",
                               "smoke", "--notebooks", "04", "--seed", "5", "--lang", lang,
                               "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                              timeout=1100, env=_course_env())
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        manifest = json.loads((out / "manifest.json").read_text())
        [notebook] = manifest["notebooks"]
        assert manifest["lang"] == lang and notebook["status"] == "ok"
        recorded = metrics.load(out / notebook["metrics"])["metrics"]
        # wall-clock time and memory are measurements of the machine, not of the code
        runs[lang] = {k: v for k, v in recorded.items() if v["unit"] not in MACHINE_UNITS}
    assert len(runs["en"]) >= 3 and runs["zh"] == runs["en"]
    assert "<h2>论断</h2>" in (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")
