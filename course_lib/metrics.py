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
"""

from __future__ import annotations

import json
import math
import os
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
        self.save()
        return entry

    def add_figure(self, path: Path) -> None:
        name = Path(path).name
        if name not in self.figures:
            self.figures.append(name)
            self.save()


def _check_profile_name(name: str) -> None:
    profiles.check_profile(name)


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
    """Read a sidecar written by :func:`start`/:func:`record`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
