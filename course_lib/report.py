"""Render ``report.html`` for a run folder: notebooks, claims, errors and key figures.

The page is self-contained (figures are embedded as base64 PNG) so it can be mailed
or attached to a CI job as one file.

Nothing from a run can inject markup: every value is HTML-escaped (``html.escape`` with
``quote=True``), CSS classes come from a fixed table (an unknown verdict or status is shown
as ``invalid``), links point only at plain file names inside the run folder, and a figure is
embedded only if it is a PNG file inside the run folder. The page is written atomically.
"""

from __future__ import annotations

import base64
import errno
import html
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from course_lib import metrics

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
th{background:#f3f3f3}
.ok,.true{color:#176b2c;font-weight:600}
.failed,.timeout,.false,.missing,.invalid,.interrupted{color:#b00020;font-weight:600}
.not-checked{color:#777}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}
figure{display:inline-block;margin:8px;max-width:520px}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:12px;color:#555}
"""
# The only CSS classes the page uses; anything else a run holds is shown as "invalid".
_CLASSES = {"ok": "ok", "true": "true", "failed": "failed", "timeout": "timeout",
            "false": "false", "missing": "missing", "invalid": "invalid",
            "not checked": "not-checked", "interrupted": "interrupted"}
_CLAIM_VERDICTS = metrics.VERDICTS + metrics.RUNNER_VERDICTS
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_MAX_FIGURE_BYTES = 20 * 2**20


class RunFolderError(ValueError):
    """The run folder cannot be written (full disk, no permission, not a folder)."""

    @classmethod
    def from_os_error(cls, exc: OSError, path: str | Path) -> RunFolderError:
        reason = exc.strerror or str(exc)
        hint = {errno.ENOSPC: "free some disk space or choose another --out folder",
                errno.EDQUOT: "free some disk space or choose another --out folder",
                errno.EACCES: "choose a folder you can write to (--out)",
                errno.EPERM: "choose a folder you can write to (--out)",
                errno.EROFS: "the file system is read-only; choose another --out folder",
                }.get(exc.errno, "choose another --out folder")
        return cls(f"cannot write {str(path)!r}: {reason}; {hint}")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _css(value: Any) -> str:
    return _CLASSES.get(value if isinstance(value, str) else "", "invalid")


def _num(value: Any, fmt: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    return format(value, fmt)


def _fmt(value: Any, depth: int = 0) -> str:
    if depth > 3:
        return "..."
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v, depth + 1) for v in value[:8])
        return "[" + shown + (", ...]" if len(value) > 8 else "]")
    if isinstance(value, dict):
        items = list(value.items())
        shown = ", ".join(f"{str(k)[:80]}: {_fmt(v, depth + 1)}" for k, v in items[:12])
        return "{" + shown + (", ...}" if len(items) > 12 else "}")
    return str(value)[:300]


def _inside(run_dir: str | Path, name: Any) -> Path | None:
    """Return the file ``name`` names inside ``run_dir``, or None if it points elsewhere."""
    if not isinstance(name, str) or not name or "\x00" in name or os.path.isabs(name):
        return None
    root = Path(run_dir).resolve()
    try:
        target = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return target if target.is_relative_to(root) and target != root else None


def figure_problem(run_dir: str | Path, name: Any) -> str | None:
    """Return why ``name`` is not an acceptable key figure of ``run_dir``, or None.

    A figure must be a relative path that resolves (symlinks followed) inside the run
    folder to a PNG file of at most 20 MB.
    """
    shown = repr(str(name)[:200])
    target = _inside(run_dir, name)
    if target is None:
        return f"figure {shown} is not a file inside the run folder"
    try:
        with open(target, "rb") as fh:
            magic = fh.read(len(_PNG_MAGIC))
        size = target.stat().st_size
    except OSError:
        return f"figure {shown} cannot be read"
    if magic != _PNG_MAGIC:
        return f"figure {shown} is not a PNG file"
    if size > _MAX_FIGURE_BYTES:
        return f"figure {shown} is larger than 20 MB"
    return None


def _link(run_dir: Path, name: Any) -> str:
    """A link to a file of the run folder, or just the escaped name if it is not one."""
    if isinstance(name, str) and "/" not in name and "\\" not in name and ":" not in name \
            and _inside(run_dir, name) is not None:
        return f"<a href='{_e(name)}'>{_e(name)}</a>"
    return _e(name)


def _count(counts: Any, key: str) -> str:
    value = counts.get(key) if isinstance(counts, dict) else None
    return _e(value) if isinstance(value, int) and not isinstance(value, bool) else "-"


def _notebook_rows(run_dir: Path, manifest: dict[str, Any]) -> str:
    rows = []
    keys = ("true", "false", "not checked", "missing", "invalid")
    for nb in _records(manifest.get("notebooks")):
        counts = nb.get("claims")
        name = _e(nb.get("name"))
        output = nb.get("output")
        link = (f"<a href='{_e(output)}'>{name}</a>"
                if _link(run_dir, output).startswith("<a ") else name)
        rows.append(
            f"<tr><td>{link}</td>"
            f"<td class='{_css(nb.get('status'))}'>{_e(nb.get('status'))}</td>"
            f"<td>{_num(nb.get('wall_s'), '.1f')}</td><td>{_num(nb.get('peak_rss_mb'), '.0f')}"
            f"</td><td>{' / '.join(_count(counts, k) for k in keys)}</td></tr>")
    return ("<table><tr><th>notebook</th><th>status</th><th>wall time (s)</th>"
            "<th>peak RSS (MB)</th><th>claims true / false / not checked / missing / invalid"
            "</th></tr>" + "".join(rows) + "</table>")


def _records(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _claim_rows(claims: list[dict[str, Any]]) -> str:
    if not claims:
        return "<p>No claims were registered.</p>"
    rows = []
    for c in claims:
        verdict = c.get("verdict") if c.get("verdict") in _CLAIM_VERDICTS else "invalid"
        where = c.get("profiles")
        where = ", ".join(str(p) for p in where) if isinstance(where, list) else where
        reason = f"<br><small>{_e(c.get('reason'))}</small>" if c.get("reason") else ""
        rows.append(
            f"<tr><td>{_e(c.get('notebook'))}</td><td>{_e(c.get('id'))}</td>"
            f"<td>{_e(c.get('text'))}</td>"
            f"<td class='{_css(verdict)}'>{_e(verdict)}{reason}</td><td>{_e(where)}</td>"
            f"<td>{_e(_fmt(c.get('values', {})))}</td></tr>")
    return ("<table><tr><th>notebook</th><th>claim</th><th>statement</th><th>verdict</th>"
            "<th>checked at</th><th>values</th></tr>" + "".join(rows) + "</table>")


def _errors(run_dir: Path, manifest: dict[str, Any]) -> str:
    parts = []
    for nb in _records(manifest.get("notebooks")):
        err = nb.get("error")
        if not err:
            continue
        err = err if isinstance(err, dict) else {"ename": "Error", "evalue": err}
        index = err.get("cell_index")
        where = f" in cell {_e(index)}" if isinstance(index, int) else ""
        parts.append(f"<h3>{_e(nb.get('name'))}: {_e(err.get('ename'))}{where}</h3>"
                     f"<p>{_e(err.get('evalue'))}</p>")
        if err.get("source"):
            parts.append(f"<p>Cell source:</p><pre>{_e(err['source'])}</pre>")
        if err.get("traceback"):
            parts.append(f"<details><summary>traceback</summary><pre>{_e(err['traceback'])}"
                         f"</pre></details>")
        parts.append(f"<p>Log: {_link(run_dir, nb.get('log'))}</p>")
    return "".join(parts) or "<p>None.</p>"


def _figures(run_dir: Path, manifest: dict[str, Any]) -> str:
    parts = []
    for nb in _records(manifest.get("notebooks")):
        names = nb.get("figures")
        if "figures" not in nb and _inside(run_dir, nb.get("metrics")):  # an older manifest
            names = metrics.load(_inside(run_dir, nb["metrics"]))["figures"]
        for name in names if isinstance(names, list) else []:
            if figure_problem(run_dir, name):
                continue
            encoded = base64.b64encode(_inside(run_dir, name).read_bytes()).decode()
            caption = Path(name).name.removesuffix(".png").replace("__", ": ").replace("_", " ")
            parts.append(f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,"
                         f"{encoded}'><figcaption>{_e(caption)}</figcaption></figure>")
    return "".join(parts) or "<p>No key figures were saved.</p>"


def passed(manifest: dict[str, Any], claims: list[dict[str, Any]]) -> bool:
    """True only if the run completed, every notebook is ok and no claim fails."""
    notebooks = _records(manifest.get("notebooks"))
    return (manifest.get("exit_code") == 0 and manifest.get("status", "complete") == "complete"
            and all(nb.get("status") == "ok" for nb in notebooks)
            and all(c.get("verdict") in ("true", "not checked") for c in claims))


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into ``run_dir`` from its manifest and claims; return its path.

    Raises:
        ValueError: ``run_dir`` holds no readable manifest.json/claims.json.
        RunFolderError: the page cannot be written.
    """
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise ValueError(f"run_dir {str(run_dir)!r} has no manifest.json; is it a course run?")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        claims = json.loads((run_dir / "claims.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"run_dir {str(run_dir)!r}: cannot read its manifest.json and "
                         f"claims.json ({exc})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"run_dir {str(run_dir)!r}: manifest.json is not a JSON object")
    claims = _records(claims)
    path = run_dir / "report.html"
    page = render(run_dir, manifest, claims)
    try:
        fd, tmp = tempfile.mkstemp(prefix="report.html", suffix=".tmp", dir=run_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(page)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the report is meant to be shared
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise RunFolderError.from_os_error(exc, path) from None
    return path


def render(run_dir: str | Path, manifest: dict[str, Any], claims: list[dict[str, Any]]) -> str:
    """Return the report page for a run's manifest and claims (every value escaped)."""
    run_dir = Path(run_dir)
    s = manifest.get("summary") if isinstance(manifest.get("summary"), dict) else {}
    status = manifest.get("status", "complete")
    verdict = "PASSED" if passed(manifest, claims) else (
        "INTERRUPTED" if status == "interrupted" else "FAILED")
    gpus = manifest.get("gpus")
    gpus = ", ".join(str(g) for g in gpus) if isinstance(gpus, list) and gpus else "none"
    header = (f"<h1>Course run: {_e(manifest.get('profile'))} profile - "
              f"<span class='{'ok' if verdict == 'PASSED' else 'failed'}'>{verdict}</span></h1>")
    machine = (f"Python {_e(manifest.get('python'))}, TensorFlow {_e(manifest.get('tensorflow'))}"
               f", Keras {_e(manifest.get('keras'))}; {_e(manifest.get('cpu_count'))} CPUs, "
               f"{_e(manifest.get('memory_total_gb'))} GB memory, GPU: {_e(gpus)}")
    counts = {v: sum(c.get("verdict") == v for c in claims) for v in _CLAIM_VERDICTS}
    invalid = sum(c.get("verdict") not in _CLAIM_VERDICTS[:-1] for c in claims)
    stopped = ""
    if status == "interrupted":
        info = manifest.get("interrupted") if isinstance(manifest.get("interrupted"), dict) \
            else {}
        not_run = manifest.get("not_run") if isinstance(manifest.get("not_run"), list) else []
        stopped = (f"<p class='interrupted'>Interrupted by {_e(info.get('signal'))}"
                   f" while running {_e(info.get('notebook') or '-')}; not run: "
                   f"{_e(', '.join(str(n) for n in not_run) or '-')}. "
                   f"Finish it with <code>course run --resume {_e(run_dir)}</code>.</p>")
    body = f"""{header}{stopped}
<p>Started {_e(manifest.get('started'))}, {_num(manifest.get('wall_s'), '.0f')} s in all.
Seed {_e(manifest.get('seed'))}.
{machine}.</p>
<p>{_e(s.get('ok'))} of {_e(s.get('notebooks'))} notebooks ran; claims: {counts['true']} true,
{counts['false']} false, {counts['missing']} missing, {invalid} invalid,
{counts['not checked']} not checked at this profile.</p>
<h2>Notebooks</h2>{_notebook_rows(run_dir, manifest)}
<h2>Claims</h2>{_claim_rows(claims)}
<h2>Errors</h2>{_errors(run_dir, manifest)}
<h2>Key figures</h2>{_figures(run_dir, manifest)}
"""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Course run report</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
