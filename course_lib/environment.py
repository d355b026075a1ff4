"""Environment check and seeding: what this machine has, and reproducible runs.

``check_env()`` prints one ``[OK]``/``[MISSING]``/``[OLD]`` line per required package
(read from the installed package's metadata, i.e. from ``pyproject.toml``), the Python,
TensorFlow and Keras versions, CPU/GPU, memory, and whether we run on Colab or Binder.

``quiet_tf_env()`` / ``apply_quiet_tf_env()`` keep TensorFlow's C++/absl log lines out of
the notebooks (``COURSE_TF_LOGS=1`` shows them again); see docs/design.md, "Platforms".
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.metadata as md
import logging
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DIST_NAME = "course-lib"

# Set ``COURSE_TF_LOGS=1`` to see TensorFlow's C++/absl log lines again (for debugging).
TF_LOGS_VAR = "COURSE_TF_LOGS"
# Hides TensorFlow's C++ INFO/WARNING/ERROR lines (FATAL stays); read when TF loads.
_QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "3"}
# Run by IPython at kernel start (PYTHONSTARTUP), so that a notebook that imports keras
# before course_lib is quiet too.
KERNEL_STARTUP = Path(__file__).resolve().parent / "kernel_startup.py"


def quiet_tf_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment variables that quiet TensorFlow's C++ and absl logging.

    For the environment of a process about to start Python or a Jupyter kernel (the
    runner's notebook kernels, the browser test's JupyterLab): ``TF_CPP_MIN_LOG_LEVEL``
    and, unless ``environ`` already has one, ``PYTHONSTARTUP`` pointing at
    ``course_lib/kernel_startup.py``, which IPython runs before the first cell and which
    filters the lines TensorFlow's libraries print while they load. Empty when
    ``COURSE_TF_LOGS=1`` is set in ``environ`` (default ``os.environ``), so a developer
    can see TensorFlow's own log lines again.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(environ, Mapping):
        raise TypeError(f"environ must be a mapping of str to str, got {type(environ).__name__}")
    if environ.get(TF_LOGS_VAR, "").strip() == "1":
        return {}
    quiet = dict(_QUIET_TF)
    if not environ.get("PYTHONSTARTUP"):
        quiet["PYTHONSTARTUP"] = str(KERNEL_STARTUP)
    return quiet


def apply_quiet_tf_env() -> dict[str, str]:
    """Quiet TensorFlow's log lines in this process, unless ``COURSE_TF_LOGS=1``.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` where the user has not chosen a value (returns what it
    set; ``PYTHONSTARTUP`` is left alone) and, if TensorFlow is not imported yet, filters
    the lines its shared libraries write to stderr while they load -- those come from
    C++ before any setting can reach them (see ``quiet_tf_import``). Has no effect on a
    TensorFlow that is already imported.
    """
    applied = {}
    for name, value in quiet_tf_env().items():
        if name in _QUIET_TF and name not in os.environ:
            os.environ[name] = applied[name] = value
    if quiet_tf_env():
        # TensorFlow's Python logger warns about tf.function retracing whenever a notebook
        # builds a fresh model per run: advice on speed, not part of any lesson
        tf_logger = logging.getLogger("tensorflow")
        if tf_logger.level == logging.NOTSET:
            tf_logger.setLevel(logging.ERROR)
    quiet_tf_import()
    return applied


# Lines TensorFlow's C++ code writes while its libraries load, before absl logging is
# initialised and before TF_CPP_MIN_LOG_LEVEL is read: absl's pre-init warning and
# ``I0000 00:00:... file.cc:NN] ...`` records (oneDNN notice, "Could not find cuda drivers").
_ABSL_PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called"
_CPP_LOG_LINE = re.compile(r"^([IWEF])\d{4} ")
_SEVERITIES = "IWEF"


def is_tf_log_noise(line: str, min_level: int = 3) -> bool:
    """True for a C++/absl log line of TensorFlow below severity ``min_level``.

    Severities are 0=I(nfo), 1=W(arning), 2=E(rror), 3=F(atal); ``min_level=4`` matches
    every such line, ``0`` none.
    """
    _check_level(min_level)
    if not isinstance(line, str):
        raise TypeError(f"line must be a str, got {type(line).__name__}")
    if line.startswith(_ABSL_PRE_INIT):
        return min_level >= 1
    match = _CPP_LOG_LINE.match(line)
    return bool(match) and _SEVERITIES.index(match.group(1)) < min_level


def _check_level(min_level: Any) -> int:
    if isinstance(min_level, bool) or not isinstance(min_level, int) or not 0 <= min_level <= 4:
        raise ValueError(f"min_level must be an int in [0, 4] (0=I .. 3=F, 4=all), "
                         f"got {min_level!r}")
    return min_level


def _min_log_level() -> int:
    try:
        return min(max(int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")), 0), 3)
    except ValueError:
        return 0


@contextlib.contextmanager
def filtered_stderr_fd(min_level: int | None = None) -> Iterator[None]:
    """Capture file descriptor 2 for the block; afterwards write back what is not TF noise.

    Works on output from C/C++ code, which bypasses ``sys.stderr``. Lines for which
    ``is_tf_log_noise`` holds are dropped, every other line is written back unchanged.
    """
    level = _min_log_level() if min_level is None else _check_level(min_level)
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to filter
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [ln for ln in text.splitlines(keepends=True)
                    if not is_tf_log_noise(ln, level)]
            if kept:
                os.write(2, "".join(kept).encode("utf-8"))


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader of the ``tensorflow`` package inside ``filtered_stderr_fd``."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        try:
            with filtered_stderr_fd():
                self._loader.exec_module(module)
        finally:  # leave no trace of the wrapper on the imported module
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder that wraps the first import of ``tensorflow``, then removes itself."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "tensorflow":
            return None
        _remove_finder()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietTensorFlowFinder)]


def quiet_tf_import() -> bool:
    """Filter TensorFlow's load-time C++ log lines out of stderr on its first import.

    Returns True if the filter is in place (TensorFlow not imported yet and
    ``COURSE_TF_LOGS`` not set to 1); idempotent.
    """
    if "tensorflow" in sys.modules or not quiet_tf_env():
        return False
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())
    return True
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(?:>=\s*([0-9][0-9A-Za-z.]*))?")


def required_packages(extra: str | None = None) -> dict[str, str | None]:
    """Return ``{package: minimum version}`` from the course's metadata (or pyproject.toml)."""
    try:
        lines = md.requires(DIST_NAME) or []
    except md.PackageNotFoundError:
        lines = _requirements_from_pyproject()
    wanted = {}
    for line in lines:
        spec, _, marker = line.partition(";")
        in_extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if (in_extra.group(1) if in_extra else None) != extra:
            continue
        match = _REQ.match(spec)
        if match:
            wanted[match.group(1).lower()] = match.group(2)
    return wanted


def _requirements_from_pyproject() -> list[str]:
    import tomllib

    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not path.exists():
        return []
    project = tomllib.loads(path.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines += [f"{r}; extra == '{extra}'" for r in reqs]
    return lines


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def _installed_version(name: str) -> str | None:
    candidates = [name, name.replace("-", "_")]
    if name == "tensorflow":  # the CPU-only wheel is a different distribution name
        candidates += ["tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"]
    for candidate in candidates:
        try:
            return md.version(candidate)
        except md.PackageNotFoundError:
            continue
    return None


def package_status(extra: str | None = None) -> list[dict[str, Any]]:
    """Return one row per required package: name, minimum, installed, status."""
    rows = []
    for name, minimum in sorted(required_packages(extra).items()):
        installed = _installed_version(name)
        if installed is None:
            status = "MISSING"
        elif minimum and _version_tuple(installed) < _version_tuple(minimum):
            status = "OLD"
        else:
            status = "OK"
        rows.append({"name": name, "minimum": minimum, "installed": installed, "status": status})
    return rows


def platform_name() -> str:
    """Return "colab", "binder" or "local"."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if os.environ.get("BINDER_SERVICE_HOST") or os.environ.get("BINDER_REQUEST"):
        return "binder"
    return "local"


def gpus() -> list[str]:
    """Return the names of the GPUs TensorFlow can see (empty list on CPU-only machines)."""
    try:
        import tensorflow as tf
    except ImportError:
        return []
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def environment_report(extra: str | None = None) -> dict[str, Any]:
    """Return versions, hardware and missing packages as a dict (JSON-ready)."""
    import psutil

    memory = psutil.virtual_memory()
    versions = {}
    for name in ("tensorflow", "keras", "numpy", "papermill", "ipywidgets", "matplotlib"):
        versions[name] = _installed_version(name)
    packages = package_status(extra)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "where": platform_name(),
        "cpu_count": os.cpu_count(),
        "memory_total_gb": round(memory.total / 2**30, 2),
        "memory_available_gb": round(memory.available / 2**30, 2),
        "gpus": gpus(),
        "versions": versions,
        "packages": packages,
        "missing": [p["name"] for p in packages if p["status"] != "OK"],
    }


def check_env(verbose: bool = False) -> dict[str, Any]:
    """Print a short environment summary (every package with ``verbose``) and return it."""
    report = environment_report()
    for row in report["packages"]:
        if verbose or row["status"] != "OK":
            need = f">={row['minimum']}" if row["minimum"] else ""
            installed = row["installed"] or "-"
            print(f"[{row['status']}] {row['name']} {installed} (needs {need or 'any'})")
    gpu = ", ".join(report["gpus"]) or "none (CPU only: use the smoke or cpu profile)"
    print(f"Python {report['python']} | TensorFlow {report['versions']['tensorflow']} | "
          f"Keras {report['versions']['keras']} | on {report['where']}")
    print(f"CPUs: {report['cpu_count']} | memory: {report['memory_available_gb']:.1f} of "
          f"{report['memory_total_gb']:.1f} GB free | GPU: {gpu}")
    if report["missing"]:
        print("Missing or too old: " + ", ".join(report["missing"]) +
              " -> run: pip install -e '.[test]' from the course folder")
    else:
        print("[OK] every required package is installed")
    return report


def set_seed(seed: int) -> int:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic; return ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # older TF, or already initialised
        pass
    return seed


class RssSampler:
    """Context manager: sample this process's resident memory in a thread, keep the peak (MB).

    For notebooks that time several models in one kernel (11, 12): the peak of the block, not
    of the whole process's life, is ``peak_mb``; ``start_mb`` is the resident size at entry.
    """

    def __init__(self, interval: float = 0.01):
        import threading

        import psutil

        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise ValueError(f"interval must be a number of seconds > 0, got {interval!r}")
        self._proc = psutil.Process()
        self.interval = float(interval)
        self.start_mb = self.peak_mb = self._proc.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)
