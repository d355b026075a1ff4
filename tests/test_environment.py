from pathlib import Path

import pytest

from course_lib import environment


def test_required_packages_come_from_the_project_metadata():
    wanted = environment.required_packages()
    assert wanted["keras"] == "3.14"
    assert "tensorflow" in wanted and "papermill" in wanted
    assert "pytest" in environment.required_packages("test")


def test_report_has_the_facts_the_manifest_needs():
    report = environment.environment_report()
    for key in ("python", "cpu_count", "memory_total_gb", "gpus", "versions", "missing"):
        assert key in report
    assert report["missing"] == []  # the test environment has everything


def test_check_env_prints_versions_and_hardware(capsys):
    environment.check_env()
    out = capsys.readouterr().out
    assert "TensorFlow" in out and "GPU:" in out and "every required package" in out


def test_platform_detection(monkeypatch):
    monkeypatch.setenv("BINDER_SERVICE_HOST", "1")
    assert environment.platform_name() == "binder"


def test_set_seed_makes_numbers_repeat():
    import keras

    environment.set_seed(3)
    a = keras.random.normal((3,)).numpy()
    environment.set_seed(3)
    b = keras.random.normal((3,)).numpy()
    assert (a == b).all()


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        environment.set_seed(seed)


# --- TensorFlow's C++/absl log noise (issue 15) ---------------------------------------

NOISE_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1796123719.556139    7452 port.cc:153] oneDNN custom operations are on.\n",
    "I0000 00:00:1796123719.556831    7452 cudart_stub.cc:31] Could not find cuda drivers\n",
    "E0000 00:00:1796123722.679417    7452 cuda_platform.cc:52] failed call to cuInit\n",
]


def test_quiet_tf_env_sets_the_log_level_and_steps_aside_for_debugging():
    quiet = environment.quiet_tf_env({})
    assert quiet["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert Path(quiet["PYTHONSTARTUP"]).is_file()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in quiet.items())
    assert environment.quiet_tf_env({"COURSE_TF_LOGS": "1"}) == {}
    assert environment.quiet_tf_env({"COURSE_TF_LOGS": "0"}) == quiet
    # a user's own startup file is not replaced
    assert "PYTHONSTARTUP" not in environment.quiet_tf_env({"PYTHONSTARTUP": "/mine.py"})


def _stderr_of_a_kernel(tmp_path, env_update):
    """Execute a 2-cell notebook (keras imported BEFORE course_lib) with papermill."""
    import os

    import nbformat
    import papermill

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("answer = 42"),
                nbformat.v4.new_code_cell("import keras\nimport tensorflow as tf"),
                nbformat.v4.new_code_cell("tf.config.list_physical_devices('GPU')\n"
                                          "keras.ops.sum(keras.ops.ones(3)).numpy()")]
    source, executed = tmp_path / "tiny.ipynb", tmp_path / "tiny.out.ipynb"
    nbformat.write(nb, source)
    saved = dict(os.environ)
    try:
        # ipykernel forwards C-level stderr into the notebook only outside pytest
        for name in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONSTARTUP", "COURSE_TF_LOGS",
                     "PYTEST_CURRENT_TEST"):
            os.environ.pop(name, None)
        os.environ.update(env_update)
        papermill.execute_notebook(str(source), str(executed), kernel_name="python3",
                                   progress_bar=False, cwd=str(tmp_path))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    cells = nbformat.read(executed, as_version=4).cells
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", [])
                   if o.get("name") == "stderr")


def test_kernel_started_with_quiet_tf_env_shows_no_tensorflow_log_lines(tmp_path):
    stderr = _stderr_of_a_kernel(tmp_path, environment.quiet_tf_env({}))
    assert stderr == "", stderr
    loud = _stderr_of_a_kernel(tmp_path, environment.quiet_tf_env({"COURSE_TF_LOGS": "1"}))
    if not loud:
        pytest.skip("this TensorFlow build logs nothing: the filter is not exercised")


def test_noise_filter_knows_the_lines_and_keeps_the_rest():
    assert all(environment.is_tf_log_noise(line) for line in NOISE_LINES)
    keep = ["UserWarning: the lesson's warning\n", "Traceback (most recent call last):\n",
            "I love LSTMs\n", "F0000 00:00:1.0 1 x.cc:1] fatal\n"]
    assert not any(environment.is_tf_log_noise(line) for line in keep)
    assert not environment.is_tf_log_noise(NOISE_LINES[3], min_level=2)  # E kept at level 2
    assert not environment.is_tf_log_noise(NOISE_LINES[1], min_level=0)


def test_filtered_stderr_fd_drops_noise_written_by_c_code(capfd):
    import os

    with environment.filtered_stderr_fd(min_level=3):
        os.write(2, "".join(NOISE_LINES).encode() + b"a real problem\n")
    err = capfd.readouterr().err
    assert err == "a real problem\n"


def _import_tf_in_a_fresh_python(extra_env):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "COURSE_TF_LOGS")}
    env.update(extra_env)
    code = ("import warnings, course_lib, keras, tensorflow as tf\n"
            "tf.config.list_physical_devices('GPU')\n"
            "warnings.warn('the lesson warning stays')\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_importing_course_lib_first_silences_tensorflow_and_course_tf_logs_brings_it_back():
    loud = _import_tf_in_a_fresh_python({"COURSE_TF_LOGS": "1"})
    quiet = _import_tf_in_a_fresh_python({})
    noise = [ln for ln in quiet.splitlines(keepends=True) if environment.is_tf_log_noise(ln, 4)]
    assert noise == [], quiet
    assert "cuda" not in quiet.lower() and "cuInit" not in quiet, quiet
    assert "the lesson warning stays" in quiet and "the lesson warning stays" in loud
    if not any(environment.is_tf_log_noise(ln, 4) for ln in loud.splitlines(keepends=True)):
        pytest.skip("this TensorFlow build logs nothing at import: COURSE_TF_LOGS=1 not shown")


def test_tensorflow_is_left_untouched_after_the_filtered_import():
    import tensorflow as tf

    assert type(tf.__loader__).__module__ != environment.__name__
    assert not any(type(f).__module__ == environment.__name__ for f in __import__("sys").meta_path)


def test_every_notebook_imports_course_lib_before_tensorflow():
    """The load-time filter works only if course_lib is imported before TensorFlow/Keras."""
    import json
    import re

    first_tf = re.compile(r"^\s*(import|from)\s+(keras|tensorflow)\b", re.M)
    first_course = re.compile(r"^\s*(import|from)\s+course_lib\b", re.M)
    late = []
    for path in sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9]*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        tf_at, course_at = first_tf.search(code), first_course.search(code)
        if tf_at and (not course_at or tf_at.start() < course_at.start()):
            late.append(path.name)
    assert not late, f"these notebooks import keras/tensorflow before course_lib: {late}"


def test_a_main_guard_is_the_last_statement_of_its_module():
    """``python -m course_lib.X`` must see the whole module (compare.py had one mid-file)."""
    import ast

    import course_lib

    misplaced = []
    for path in sorted(Path(course_lib.__file__).parent.rglob("*.py")):
        body = ast.parse(path.read_text()).body
        for i, node in enumerate(body):
            if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                    and isinstance(node.test.left, ast.Name)
                    and node.test.left.id == "__name__" and i != len(body) - 1):
                misplaced.append(f"{path.name}:{node.lineno}")
    assert not misplaced, misplaced


@pytest.mark.parametrize("level", [-1, 5, 1.0, True, "3"])
def test_noise_filter_rejects_bad_levels(level):
    with pytest.raises(ValueError, match=r"min_level must be an int in \[0, 4\]"):
        environment.is_tf_log_noise("I0000 x", level)
    with pytest.raises(ValueError, match="min_level"), environment.filtered_stderr_fd(level):
        pass


def test_quiet_tf_env_and_filter_reject_wrong_types():
    with pytest.raises(TypeError, match="environ must be a mapping"):
        environment.quiet_tf_env(["COURSE_TF_LOGS=1"])
    with pytest.raises(TypeError, match="line must be a str"):
        environment.is_tf_log_noise(b"I0000 x")


@pytest.mark.parametrize(("tf_logs", "quiet"), [("", True), ("1", False)])
def test_tensorflow_retracing_warnings_are_quiet_unless_asked_for(tf_logs, quiet):
    """A notebook that builds a fresh model per run must not print TF's retracing advice."""
    import os
    import subprocess
    import sys

    code = ("import course_lib, logging, tensorflow as tf\n"
            "print(logging.getLogger('tensorflow').getEffectiveLevel())")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_TF_LOGS",)}
    env["COURSE_TF_LOGS"] = tf_logs
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    level = int(done.stdout.strip().splitlines()[-1])
    assert (level >= 40) is quiet, done.stdout + done.stderr


def test_rss_sampler_keeps_the_peak_of_its_block():
    import numpy as np

    with environment.RssSampler(interval=0.005) as rss:
        block = np.ones(96 * 2**20 // 8)  # 96 MB, written so it is resident
        block.sum()
    assert rss.peak_mb >= rss.start_mb + 64
    with pytest.raises(ValueError, match="interval must be a number of seconds > 0"):
        environment.RssSampler(interval=0)
