"""Metrics and claims: every number a notebook states, written to a JSON sidecar.

A notebook calls :func:`start` once, then :func:`record` for each number its prose
quotes and :func:`claim` for each statement the prose makes about those numbers.
Everything lands in ``<output dir>/<notebook>.metrics.json`` (written atomically
after every call), where the runner picks it up for ``claims.json`` and the report.

The output directory is ``$COURSE_OUTPUT_DIR`` (set by ``course run`` to the run's
folder, next to the executed notebook) or ``./course_output`` when you run a
notebook yourself.

A claim made outside the profiles it names is stored as ``"not checked"`` -- never
as passed -- together with what was observed, so smoke runs cannot vouch for it.
A claim id may be used once per notebook: a second claim with the same id raises
(re-running the same cell in JupyterLab replaces the claim instead).

:func:`load` never raises: a missing, corrupt or malformed sidecar comes back as an
empty record whose ``"error"`` says what is wrong, and the runner fails the notebook.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib import profiles

ENV_DIR = "COURSE_OUTPUT_DIR"
DEFAULT_DIR = "course_output"
VERDICTS = ("true", "false", "not checked")
# Verdicts only the runner gives: a claim the notebook never made although its profile checks
# it ("missing"), and a sidecar entry that is malformed or disagrees with the recomputed
# verdict ("invalid"). Both fail the run, like "false".
RUNNER_VERDICTS = ("missing", "invalid")
FAILING_VERDICTS = ("false", "missing", "invalid")


def output_dir() -> Path:
    """Return the folder where sidecars and figures go (created if needed)."""
    path = Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def to_jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, tuples and paths into plain JSON values."""
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars
        return to_jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"value of type {type(value).__name__} cannot be stored as a metric")


def is_finite(value: Any) -> bool:
    """Return True if every number inside ``value`` is finite (strings/bools count as finite)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(is_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(is_finite(v) for v in value)
    return True


def atomic_write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as JSON to ``path`` so readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so readers never see a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class NotebookMetrics:
    """The metrics, claims and key figures of one notebook run."""

    notebook: str
    profile: str
    seed: int | None
    path: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    _origins: dict[str, tuple[str, int | None]] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "profile": self.profile,
            "seed": self.seed,
            "started": self.started,
            "metrics": self.metrics,
            "claims": self.claims,
            "figures": self.figures,
        }

    def save(self) -> None:
        atomic_write_json(self.path, self.as_dict())

    def record(self, name: str, value: Any, unit: str = "") -> Any:
        if not isinstance(name, str) or not name:
            raise ValueError("name must be a non-empty string")
        self.metrics[name] = {"value": to_jsonable(value), "unit": unit}
        self.save()
        return value

    def claim(
        self,
        claim_id: str,
        condition: Any,
        *,
        profiles: Iterable[str] = ("cpu", "gpu"),
        text: str = "",
        values: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if not isinstance(claim_id, str) or not claim_id:
            raise ValueError("claim_id must be a non-empty string")
        if isinstance(profiles, str):
            raise TypeError("profiles must be a tuple of profile names, e.g. ('cpu', 'gpu')")
        wanted = tuple(profiles)
        for name in wanted:
            _check_profile_name(name)
        origin = _call_site()
        if any(c["id"] == claim_id for c in self.claims):
            earlier = self._origins.get(claim_id)
            rerun = (earlier is not None and earlier[0] == origin[0]
                     and origin[1] is not None and origin[1] != earlier[1])
            if not rerun:
                raise ValueError(
                    f"claim_id {claim_id!r} was already claimed in this notebook; each claim "
                    "needs its own id (a second one would silently replace the first verdict). "
                    "After editing a claim's cell, run the metrics.start(...) cell again")
        observed = bool(condition)
        checked = self.profile in wanted
        entry = {
            "id": claim_id,
            "text": text,
            "profiles": list(wanted),
            "observed": observed,
            "verdict": ("true" if observed else "false") if checked else "not checked",
            "values": to_jsonable(dict(values or {})),
        }
        self.claims = [c for c in self.claims if c["id"] != claim_id] + [entry]
        self._origins[claim_id] = origin
        self.save()
        return entry

    def add_figure(self, path: Path) -> None:
        name = Path(path).name
        if name not in self.figures:
            self.figures.append(name)
            self.save()


def _check_profile_name(name: str) -> None:
    profiles.check_profile(name)


def _call_site() -> tuple[str, int | None]:
    """Return (code file of the caller outside this module, IPython execution count or None).

    In a notebook the code file names the cell (IPython names it by a hash of its source), so
    re-running an unchanged cell gives the same file and a new execution count.
    """
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    filename = frame.f_code.co_filename if frame is not None else "?"
    count = None
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        shell = ipython.get_ipython()
        count = getattr(shell, "execution_count", None) if shell is not None else None
    return filename, count


_current: NotebookMetrics | None = None


def start(notebook: str, profile: str | None = None, seed: int | None = None) -> NotebookMetrics:
    """Begin recording for ``notebook``; replaces any sidecar of an earlier run of it.

    Args:
        notebook: the notebook's name, e.g. ``"01_why_long_sequences_are_hard"``.
        profile: the profile the notebook runs at (default: the current profile).
        seed: the seed the notebook uses, stored with the metrics.
    """
    global _current
    if not isinstance(notebook, str) or not notebook:
        raise ValueError("notebook must be a non-empty string such as '01_why_long_sequences'")
    profile = profiles.current_profile() if profile is None else profiles.check_profile(profile)
    if seed is not None and not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    _current = NotebookMetrics(notebook, profile, seed, output_dir() / f"{notebook}.metrics.json")
    _current.save()
    return _current


def current() -> NotebookMetrics:
    """Return the notebook's recorder; raise if :func:`start` was not called."""
    if _current is None:
        raise RuntimeError("no metrics run is active: call metrics.start(NOTEBOOK, ...) first")
    return _current


def record(name: str, value: Any, unit: str = "") -> Any:
    """Store metric ``name`` (a number, list or dict of numbers) and return ``value`` unchanged."""
    return current().record(name, value, unit)


def get(name: str) -> Any:
    """Return the value recorded under ``name``."""
    run = current()
    if name not in run.metrics:
        raise KeyError(f"no metric named {name!r}; recorded: {', '.join(run.metrics) or 'none'}")
    return run.metrics[name]["value"]


def claim(
    claim_id: str,
    condition: Any,
    *,
    profiles: Iterable[str] = ("cpu", "gpu"),
    text: str = "",
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Register a claim the prose makes; checked only at the listed ``profiles``.

    Args:
        claim_id: short stable identifier, e.g. ``"time_linear_in_T"``.
        condition: the claim evaluated on this run's numbers (truthy = holds).
        profiles: profiles at which the claim must hold; elsewhere it is "not checked".
        text: the sentence of prose the claim backs.
        values: the numbers behind the condition, stored for the report.

    Returns:
        The stored claim, with ``verdict`` one of "true", "false", "not checked".
    """
    entry = current().claim(claim_id, condition, profiles=profiles, text=text, values=values)
    mark = {"true": "PASS", "false": "FAIL", "not checked": "not checked"}[entry["verdict"]]
    observed = "holds" if entry["observed"] else "does not hold"
    profile = current().profile
    print(f"[claim {mark}] {claim_id}: {text} (on this run it {observed}; profile {profile})")
    return entry


def summary() -> list[tuple[str, Any, str]]:
    """Print and return the recorded metrics as rows ``(name, value, unit)``."""
    rows = [(name, m["value"], m["unit"]) for name, m in current().metrics.items()]
    width = max((len(r[0]) for r in rows), default=4)
    for name, value, unit in rows:
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name:<{width}}  {shown} {unit}".rstrip())
    return rows


def load(path: str | Path) -> dict[str, Any]:
    """Read a sidecar written by :func:`start`/:func:`record`; never raise.

    Returns the stored record with ``"error": None``, or -- when the file is missing,
    unreadable, not JSON or not shaped like a sidecar -- an empty record (no metrics,
    claims or figures) whose ``"error"`` is the reason, so a caller can report it.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return _empty_sidecar(f"cannot read {Path(str(path)).name}: {exc}"[:500])
    problem = sidecar_problem(data)
    if problem:
        return _empty_sidecar(f"{Path(str(path)).name}: {problem}")
    data["error"] = None
    return data


def _empty_sidecar(error: str) -> dict[str, Any]:
    return {"notebook": None, "profile": None, "seed": None, "metrics": {}, "claims": [],
            "figures": [], "error": error}


def sidecar_problem(data: Any) -> str | None:
    """Return what is wrong with the shape of a sidecar record, or None if it is well formed.

    Checks the top level only (types of notebook, profile, seed, metrics, claims, figures);
    the runner checks each claim's fields and recomputes its verdict.
    """
    if not isinstance(data, dict):
        return f"a sidecar must be a JSON object, got {type(data).__name__}"
    expected = {"notebook": str, "profile": str, "metrics": dict, "claims": list,
                "figures": list}
    for key, kind in expected.items():
        if not isinstance(data.get(key), kind):
            return f"{key!r} must be a {kind.__name__}, got {type(data.get(key)).__name__}"
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return f"'seed' must be an int or null, got {type(seed).__name__}"
    for name, entry in data["metrics"].items():
        if not isinstance(entry, dict) or "value" not in entry:
            return f"metric {name[:80]!r} must be an object with a 'value'"
    if not all(isinstance(c, dict) for c in data["claims"]):
        return "every entry of 'claims' must be an object"
    if not all(isinstance(f, str) for f in data["figures"]):
        return "every entry of 'figures' must be a file name"
    return None
