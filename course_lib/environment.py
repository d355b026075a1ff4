"""Environment check and seeding: what this machine has, and reproducible runs.

``check_env()`` prints one ``[OK]``/``[MISSING]``/``[OLD]`` line per required package
(read from the installed package's metadata, i.e. from ``pyproject.toml``), the Python,
TensorFlow and Keras versions, CPU/GPU, memory, and whether we run on Colab or Binder.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

DIST_NAME = "course-lib"
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
