"""Render ``report.html`` for a run folder: notebooks, claims, errors and key figures.

The page is self-contained (figures are embedded as base64 PNG) so it can be mailed
or attached to a CI job as one file.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from course_lib import metrics

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}
th{background:#f3f3f3}
.ok,.true{color:#176b2c;font-weight:600}.failed,.timeout,.false{color:#b00020;font-weight:600}
.not-checked{color:#777}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:12px}
figure{display:inline-block;margin:8px;max-width:520px}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:12px;color:#555}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and len(value) > 8:
        return _fmt(value[:8])[:-1] + ", ...]"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def _notebook_rows(manifest: dict[str, Any]) -> str:
    rows = []
    for nb in manifest["notebooks"]:
        claims = nb["claims"]
        memory = "-" if nb["peak_rss_mb"] is None else f"{nb['peak_rss_mb']:.0f}"
        rows.append(
            f"<tr><td><a href='{_e(nb['output'])}'>{_e(nb['name'])}</a></td>"
            f"<td class='{_e(nb['status'])}'>{_e(nb['status'])}</td>"
            f"<td>{nb['wall_s']:.1f}</td><td>{memory}</td>"
            f"<td>{claims['true']} / {claims['false']} / {claims['not checked']}</td></tr>")
    return ("<table><tr><th>notebook</th><th>status</th><th>wall time (s)</th>"
            "<th>peak RSS (MB)</th><th>claims true / false / not checked</th></tr>"
            + "".join(rows) + "</table>")


def _claim_rows(claims: list[dict[str, Any]]) -> str:
    if not claims:
        return "<p>No claims were registered.</p>"
    rows = []
    for c in claims:
        css = c["verdict"].replace(" ", "-")
        rows.append(
            f"<tr><td>{_e(c['notebook'])}</td><td>{_e(c['id'])}</td><td>{_e(c['text'])}</td>"
            f"<td class='{css}'>{_e(c['verdict'])}</td><td>{_e(', '.join(c['profiles']))}</td>"
            f"<td>{_e(_fmt(c.get('values', {})))}</td></tr>")
    return ("<table><tr><th>notebook</th><th>claim</th><th>statement</th><th>verdict</th>"
            "<th>checked at</th><th>values</th></tr>" + "".join(rows) + "</table>")


def _errors(manifest: dict[str, Any]) -> str:
    parts = []
    for nb in manifest["notebooks"]:
        err = nb.get("error")
        if not err:
            continue
        where = f" in cell {err['cell_index']}" if "cell_index" in err else ""
        parts.append(f"<h3>{_e(nb['name'])}: {_e(err.get('ename'))}{where}</h3>"
                     f"<p>{_e(err.get('evalue'))}</p>")
        if err.get("source"):
            parts.append(f"<p>Cell source:</p><pre>{_e(err['source'])}</pre>")
        if err.get("traceback"):
            parts.append(f"<details><summary>traceback</summary><pre>{_e(err['traceback'])}"
                         f"</pre></details>")
        parts.append(f"<p>Log: <a href='{_e(nb['log'])}'>{_e(nb['log'])}</a></p>")
    return "".join(parts) or "<p>None.</p>"


def _figures(run_dir: Path, manifest: dict[str, Any]) -> str:
    parts = []
    for nb in manifest["notebooks"]:
        if not nb.get("metrics"):
            continue
        data = metrics.load(run_dir / nb["metrics"])
        for name in data.get("figures", []):
            png = run_dir / name
            if not png.exists():
                continue
            encoded = base64.b64encode(png.read_bytes()).decode()
            caption = name.removesuffix(".png").replace("__", ": ").replace("_", " ")
            parts.append(f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,"
                         f"{encoded}'><figcaption>{_e(caption)}</figcaption></figure>")
    return "".join(parts) or "<p>No key figures were saved.</p>"


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into ``run_dir`` from its manifest and sidecars; return its path."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise ValueError(f"run_dir {str(run_dir)!r} has no manifest.json; is it a course run?")
    manifest = json.loads(manifest_path.read_text())
    claims = json.loads((run_dir / "claims.json").read_text())
    s = manifest["summary"]
    verdict = "PASSED" if manifest["exit_code"] == 0 else "FAILED"
    gpus = ", ".join(manifest["gpus"]) or "none"
    header = (f"<h1>Course run: {_e(manifest['profile'])} profile - "
              f"<span class='{'ok' if verdict == 'PASSED' else 'failed'}'>{verdict}</span></h1>")
    machine = (f"Python {_e(manifest['python'])}, TensorFlow {_e(manifest['tensorflow'])}, "
               f"Keras {_e(manifest['keras'])}; {_e(manifest['cpu_count'])} CPUs, "
               f"{_e(manifest['memory_total_gb'])} GB memory, GPU: {_e(gpus)}")
    body = f"""{header}
<p>Started {_e(manifest['started'])}, {manifest['wall_s']:.0f} s in all.
Seed {_e(manifest['seed'])}.
{machine}.</p>
<p>{s['ok']} of {s['notebooks']} notebooks ran; claims: {s['claims_true']} true,
{len(s['claims_false'])} false, {s['claims_not_checked']} not checked at this profile.</p>
<h2>Notebooks</h2>{_notebook_rows(manifest)}
<h2>Claims</h2>{_claim_rows(claims)}
<h2>Errors</h2>{_errors(manifest)}
<h2>Key figures</h2>{_figures(run_dir, manifest)}
"""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Course run report</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
