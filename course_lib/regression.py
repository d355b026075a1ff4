"""Compare two runs or sweeps: the instructor's regression check (``course compare A B``).

After a TensorFlow upgrade, a new machine or an edit of a notebook, an instructor wants to
know what changed: claims whose verdict flipped, metrics that moved by more than a tolerance,
notebooks that became notably slower or heavier. A run folder (``course run``) or a sweep
folder (``course sweep``) can be compared with either; for a sweep, a claim's verdict is
"true" when it held in at least 90 % of its seeds, and a metric is its mean over the seeds.
A flipped verdict makes the comparison's exit status non-zero.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.validate import check_number

DEFAULT_TOLERANCE = 0.10  # relative change of a metric worth listing
DEFAULT_SLOWER = 1.5  # wall-time ratio worth listing
DEFAULT_HEAVIER = 1.25  # peak-memory ratio worth listing


@dataclass
class Snapshot:
    """What one run or sweep says, per notebook: claim verdicts, metrics, time and memory."""

    path: Path
    kind: str  # "run" or "sweep"
    verdicts: dict[str, str] = field(default_factory=dict)  # "notebook:claim" -> verdict
    values: dict[str, float] = field(default_factory=dict)  # "notebook:metric" -> number
    wall_s: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} could not be read: {exc}") from None


def load(path: str | Path) -> Snapshot:
    """Read a run folder (``manifest.json``) or a sweep folder (``sweep.json``)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder of a course run or sweep")
    if (folder / "sweep.json").exists():
        return _load_sweep(folder)
    if (folder / "manifest.json").exists():
        return _load_run(folder)
    raise ValueError(f"{str(folder)!r} holds neither manifest.json (a run) nor sweep.json "
                     f"(a sweep)")


def _load_run(folder: Path) -> Snapshot:
    """A run: times from the manifest, metrics from the sidecars, verdicts from claims.json."""
    manifest = _read_json(folder / "manifest.json")
    snap = Snapshot(folder, "run")
    for nb in manifest.get("notebooks", []):
        name = str(nb.get("name"))
        if (wall := _number(nb.get("wall_s"))) is not None:
            snap.wall_s[name] = wall
        if (peak := _number(nb.get("peak_rss_mb"))) is not None:
            snap.peak_mb[name] = peak
        sidecar = folder / f"{name}.metrics.json"
        if not sidecar.exists():
            continue
        try:
            data = _read_json(sidecar)
        except ValueError:
            continue
        for metric, entry in (data.get("metrics") or {}).items():
            value = _number(entry.get("value") if isinstance(entry, dict) else None)
            if value is not None:
                snap.values[f"{name}:{metric}"] = value
    # verdicts as the runner recomputed them (claims.json), never as a sidecar states them
    claims_file = folder / "claims.json"
    claims = _read_json(claims_file) if claims_file.exists() else []
    if not isinstance(claims, list):
        raise ValueError(f"{claims_file} is not a list of claims")
    for claim in claims:
        if isinstance(claim, dict):
            key = f"{claim.get('notebook')}:{claim.get('id')}"
            snap.verdicts[key] = str(claim.get("verdict"))
    return snap


def _load_sweep(folder: Path) -> Snapshot:
    from course_lib.sweep import FLAG_BELOW, finished_records

    report = _read_json(folder / "sweep.json")
    snap = Snapshot(folder, "sweep")
    for claim in report.get("claims", []):
        if not claim.get("checked"):
            verdict = "not checked"
        else:
            verdict = "true" if claim["held"] / claim["checked"] >= FLAG_BELOW else "false"
        snap.verdicts[claim["key"]] = verdict
    for nb in report.get("notebook_stats", []):
        if nb.get("wall_s"):
            snap.wall_s[nb["notebook"]] = nb["wall_s"]["mean"]
        if nb.get("peak_rss_mb"):
            snap.peak_mb[nb["notebook"]] = nb["peak_rss_mb"]["mean"]
    sums: dict[str, list[float]] = {}
    for record in finished_records(folder):
        for metric, value in (record.get("metric_values") or {}).items():
            if (number := _number(value)) is not None:
                sums.setdefault(f"{record['notebook']}:{metric}", []).append(number)
    snap.values = {k: sum(v) / len(v) for k, v in sums.items()}
    return snap


@dataclass
class Comparison:
    """The differences between two snapshots and the resulting exit status."""

    a: Snapshot
    b: Snapshot
    flipped: list[tuple[str, str, str]]
    moved: list[tuple[str, float, float, float]]
    slower: list[tuple[str, float, float]]
    heavier: list[tuple[str, float, float]]
    only_in_a: list[str]
    only_in_b: list[str]

    @property
    def exit_code(self) -> int:
        return 1 if self.flipped else 0


def compare(a: str | Path | Snapshot, b: str | Path | Snapshot, *,
            tolerance: float = DEFAULT_TOLERANCE, slower: float = DEFAULT_SLOWER,
            heavier: float = DEFAULT_HEAVIER) -> Comparison:
    """Compare snapshot ``a`` (the reference) with ``b`` (the new one).

    Args:
        tolerance: a metric is listed when ``|b - a| > tolerance * max(|a|, 1e-12)``.
        slower: a notebook is listed when its wall time grew by at least this factor.
        heavier: ... when its peak memory grew by at least this factor.
    """
    tolerance = check_number("tolerance", tolerance, 0.0)
    slower = check_number("slower", slower, 1.0)
    heavier = check_number("heavier", heavier, 1.0)
    a = a if isinstance(a, Snapshot) else load(a)
    b = b if isinstance(b, Snapshot) else load(b)
    flipped = [(k, a.verdicts[k], b.verdicts[k]) for k in sorted(set(a.verdicts) & set(b.verdicts))
               if a.verdicts[k] != b.verdicts[k]]
    moved = []
    for key in sorted(set(a.values) & set(b.values)):
        old, new = a.values[key], b.values[key]
        if abs(new - old) > tolerance * max(abs(old), 1e-12):
            moved.append((key, old, new, (new - old) / old if old else math.inf))
    slow = [(n, a.wall_s[n], b.wall_s[n]) for n in sorted(set(a.wall_s) & set(b.wall_s))
            if a.wall_s[n] > 0 and b.wall_s[n] / a.wall_s[n] >= slower]
    heavy = [(n, a.peak_mb[n], b.peak_mb[n]) for n in sorted(set(a.peak_mb) & set(b.peak_mb))
             if a.peak_mb[n] > 0 and b.peak_mb[n] / a.peak_mb[n] >= heavier]
    return Comparison(a, b, flipped, moved, slow, heavy,
                      sorted(set(a.verdicts) - set(b.verdicts)),
                      sorted(set(b.verdicts) - set(a.verdicts)))


def format_text(result: Comparison) -> str:
    """Return the comparison as a terminal table."""
    lines = [f"A ({result.a.kind}): {result.a.path}", f"B ({result.b.kind}): {result.b.path}"]
    lines.append(f"\nclaims whose verdict changed: {len(result.flipped)}")
    lines += [f"  {k:<60} {va:>12} -> {vb}" for k, va, vb in result.flipped]
    lines.append(f"metrics that moved: {len(result.moved)}")
    lines += [f"  {k:<60} {va:>12.4g} -> {vb:<12.4g} ({rel:+.0%})"
              for k, va, vb, rel in result.moved]
    lines.append(f"notebooks notably slower: {len(result.slower)}")
    lines += [f"  {k:<60} {va:>10.1f} s -> {vb:.1f} s" for k, va, vb in result.slower]
    lines.append(f"notebooks notably heavier: {len(result.heavier)}")
    lines += [f"  {k:<60} {va:>10.0f} MB -> {vb:.0f} MB" for k, va, vb in result.heavier]
    if result.only_in_a or result.only_in_b:
        lines.append(f"claims only in A: {len(result.only_in_a)}; only in B: "
                     f"{len(result.only_in_b)}")
    lines.append("verdict: " + ("CHANGED (exit 1)" if result.flipped else "no verdict changed"))
    return "\n".join(lines)


def format_html(result: Comparison) -> str:
    """Return the comparison as a self-contained HTML page (every value escaped)."""
    esc = html.escape

    def table(title: str, head: list[str], rows: list[list[Any]]) -> str:
        cells = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                        for row in rows)
        header = "".join(f"<th>{esc(h)}</th>" for h in head)
        return f"<h2>{esc(title)} ({len(rows)})</h2><table><tr>{header}</tr>{cells}</table>"

    body = "".join([
        table("Claims whose verdict changed", ["claim", "A", "B"],
              [list(r) for r in result.flipped]),
        table("Metrics that moved", ["metric", "A", "B", "change"],
              [[k, f"{a:.4g}", f"{b:.4g}", f"{r:+.0%}"] for k, a, b, r in result.moved]),
        table("Notably slower", ["notebook", "A (s)", "B (s)"],
              [[k, f"{a:.1f}", f"{b:.1f}"] for k, a, b in result.slower]),
        table("Notably heavier", ["notebook", "A (MB)", "B (MB)"],
              [[k, f"{a:.0f}", f"{b:.0f}"] for k, a, b in result.heavier]),
    ])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Course comparison</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}"
            f"td,th{{border:1px solid #ccc;padding:4px 8px}}</style></head><body>"
            f"<h1>{esc(str(result.a.path))} vs {esc(str(result.b.path))}</h1>{body}"
            f"</body></html>\n")
