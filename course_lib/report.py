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


# The report's own words in each edition (`course run --lang`); data values (statuses,
# verdicts, claim ids and statements) are shown as recorded.
_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Course run report", "run": "Course run", "profile": "{profile} profile",
        "started": "Started {started}, {wall} s in all. Seed {seed}.",
        "machine": "Python {python}, TensorFlow {tf}, Keras {keras}; {cpus} CPUs, {mem} GB "
                   "memory, GPU: {gpus}.",
        "summary": "{ok} of {n} notebooks ran; claims: {true} true, {false} false, {missing} "
                   "missing, {invalid} invalid, {unchecked} not checked at this profile.",
        "notebooks": "Notebooks", "claims": "Claims", "errors": "Errors",
        "figures": "Key figures",
        "nb_head": "notebook|status|wall time (s)|peak RSS (MB)|claims true / false / not "
                   "checked / missing / invalid",
        "claim_head": "notebook|claim|statement|verdict|checked at|values",
        "no_claims": "No claims were registered.", "none": "None.",
        "no_figures": "No key figures were saved.", "in_cell": " in cell {index}",
        "source": "Cell source:", "log": "Log:",
        "interrupted": "Interrupted by {signal} while running {notebook}; not run: {not_run}. "
                       "Finish it with <code>course run --resume {run_dir}</code>.",
    },
    "zh": {
        "title": "课程运行报告", "run": "课程运行", "profile": "{profile} 配置档",
        "started": "开始于 {started}，共用时 {wall} 秒。随机种子 {seed}。",
        "machine": "Python {python}，TensorFlow {tf}，Keras {keras}；{cpus} 个 CPU，内存 {mem} GB，"
                   "GPU：{gpus}。",
        "summary": "{n} 个笔记本中 {ok} 个运行完成；论断：{true} 个成立，{false} 个不成立，"
                   "{missing} 个缺失，{invalid} 个无效，{unchecked} 个在此配置档下不检查。",
        "notebooks": "笔记本", "claims": "论断", "errors": "错误", "figures": "关键图表",
        "nb_head": "笔记本|状态|运行时间（秒）|内存峰值（MB）"
                   "|论断 成立 / 不成立 / 不检查 / 缺失 / 无效",
        "claim_head": "笔记本|论断|陈述|结论|检查的配置档|数值",
        "no_claims": "没有登记任何论断。", "none": "无。", "no_figures": "没有保存关键图表。",
        "in_cell": "，第 {index} 个单元格", "source": "单元格代码：", "log": "日志：",
        "interrupted": "运行 {notebook} 时被 {signal} 中断；未运行：{not_run}。用 "
                       "<code>course run --resume {run_dir}</code> 完成它。",
    },
}


def report_languages() -> tuple[str, ...]:
    """Return the editions whose words the report knows ("en" first)."""
    return tuple(_WORDS)


def _words(manifest: dict[str, Any]) -> dict[str, str]:
    lang = manifest.get("lang")
    return _WORDS[lang] if isinstance(lang, str) and lang in _WORDS else _WORDS["en"]


def _head(columns: str) -> str:
    return "<tr>" + "".join(f"<th>{_e(c)}</th>" for c in columns.split("|")) + "</tr>"


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
    return "<table>" + _head(_words(manifest)["nb_head"]) + "".join(rows) + "</table>"


def _records(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _claim_rows(claims: list[dict[str, Any]], words: dict[str, str]) -> str:
    if not claims:
        return f"<p>{words['no_claims']}</p>"
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
    return "<table>" + _head(words["claim_head"]) + "".join(rows) + "</table>"


def _errors(run_dir: Path, manifest: dict[str, Any]) -> str:
    words = _words(manifest)
    parts = []
    for nb in _records(manifest.get("notebooks")):
        err = nb.get("error")
        if not err:
            continue
        err = err if isinstance(err, dict) else {"ename": "Error", "evalue": err}
        index = err.get("cell_index")
        where = words["in_cell"].format(index=_e(index)) if isinstance(index, int) else ""
        parts.append(f"<h3>{_e(nb.get('name'))}: {_e(err.get('ename'))}{where}</h3>"
                     f"<p>{_e(err.get('evalue'))}</p>")
        if err.get("source"):
            parts.append(f"<p>{words['source']}</p><pre>{_e(err['source'])}</pre>")
        if err.get("traceback"):
            parts.append(f"<details><summary>traceback</summary><pre>{_e(err['traceback'])}"
                         f"</pre></details>")
        parts.append(f"<p>{words['log']} {_link(run_dir, nb.get('log'))}</p>")
    return "".join(parts) or f"<p>{words['none']}</p>"


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
    return "".join(parts) or f"<p>{_words(manifest)['no_figures']}</p>"


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
    words = _words(manifest)
    profile = words["profile"].format(profile=_e(manifest.get("profile")))
    header = (f"<h1>{words['run']}: {profile} - "
              f"<span class='{'ok' if verdict == 'PASSED' else 'failed'}'>{verdict}</span></h1>")
    machine = words["machine"].format(
        python=_e(manifest.get("python")), tf=_e(manifest.get("tensorflow")),
        keras=_e(manifest.get("keras")), cpus=_e(manifest.get("cpu_count")),
        mem=_e(manifest.get("memory_total_gb")), gpus=_e(gpus))
    counts = {v: sum(c.get("verdict") == v for c in claims) for v in _CLAIM_VERDICTS}
    invalid = sum(c.get("verdict") not in _CLAIM_VERDICTS[:-1] for c in claims)
    stopped = ""
    if status == "interrupted":
        info = manifest.get("interrupted") if isinstance(manifest.get("interrupted"), dict) \
            else {}
        not_run = manifest.get("not_run") if isinstance(manifest.get("not_run"), list) else []
        stopped = "<p class='interrupted'>" + words["interrupted"].format(
            signal=_e(info.get("signal")), notebook=_e(info.get("notebook") or "-"),
            not_run=_e(", ".join(str(n) for n in not_run) or "-"), run_dir=_e(run_dir)) + "</p>"
    started = words["started"].format(started=_e(manifest.get("started")),
                                      wall=_num(manifest.get("wall_s"), ".0f"),
                                      seed=_e(manifest.get("seed")))
    summary = words["summary"].format(ok=_e(s.get("ok")), n=_e(s.get("notebooks")),
                                      true=counts["true"], false=counts["false"],
                                      missing=counts["missing"], invalid=invalid,
                                      unchecked=counts["not checked"])
    body = f"""{header}{stopped}
<p>{started}
{machine}</p>
<p>{summary}</p>
<h2>{words['notebooks']}</h2>{_notebook_rows(run_dir, manifest)}
<h2>{words['claims']}</h2>{_claim_rows(claims, words)}
<h2>{words['errors']}</h2>{_errors(run_dir, manifest)}
<h2>{words['figures']}</h2>{_figures(run_dir, manifest)}
"""
    lang = manifest.get("lang") if manifest.get("lang") in _WORDS else "en"
    return (f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<title>{words['title']}</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
