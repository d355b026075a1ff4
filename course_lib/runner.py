"""Run the course headlessly: papermill on a fresh kernel per notebook, then a report.

``run_course`` executes the chosen notebooks one after another into
``runs/<timestamp>-<profile>/``. Each notebook runs in its own worker process (and
so its own kernel) with ``COURSE_PROFILE`` and ``COURSE_OUTPUT_DIR`` set, under a
wall-clock limit. A notebook that raises, times out or kills its kernel is marked
failed -- with the failing cell and its message -- and the run goes on.

Afterwards the run folder holds the executed notebooks, one ``*.metrics.json`` per
notebook, ``manifest.json``, ``claims.json`` and ``report.html``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib import metrics, profiles

DEFAULT_TIMEOUT = {"smoke": 300, "cpu": 900, "gpu": 3600}
PROGRESS_EVERY_S = 30.0
_SAMPLE_EVERY_S = 0.25
_NOTEBOOK_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")


def default_notebook_dir() -> Path:
    """Return ``notebooks/`` next to the package (a source checkout) or under the cwd."""
    beside = Path(__file__).resolve().parent.parent / "notebooks"
    return beside if beside.is_dir() else Path.cwd() / "notebooks"


def discover(notebook_dir: str | Path | None = None) -> list[Path]:
    """Return the course notebooks (``NN_name.ipynb``) in ``notebook_dir``, in order."""
    folder = Path(notebook_dir) if notebook_dir is not None else default_notebook_dir()
    if not folder.is_dir():
        raise ValueError(f"notebook folder {str(folder)!r} does not exist")
    return sorted(p for p in folder.iterdir() if _NOTEBOOK_NAME.match(p.name))


def select(names: Sequence[str] | None, notebook_dir: str | Path | None = None) -> list[Path]:
    """Return the notebooks named by number ("01") or stem; all of them when ``names`` is empty."""
    available = discover(notebook_dir)
    if not names:
        return available
    chosen = []
    for raw in names:
        name = str(raw).strip().removesuffix(".ipynb")
        if not name:
            continue
        hits = [p for p in available if _matches(p.stem, name)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in available) or "none"
            raise ValueError(f"unknown notebook {raw!r}; choose from: {known}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    if not chosen:
        raise ValueError("notebooks must name at least one notebook, e.g. --notebooks 00,01")
    return chosen


def _matches(stem: str, name: str) -> bool:
    if name.isdigit():
        return stem.startswith(f"{int(name):02d}_")
    return stem == name or stem.startswith(name)


def check_timeout(timeout: Any) -> float:
    """Return ``timeout`` (seconds) if it is a positive number, else raise a clear error."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, got {type(timeout).__name__}")
    if not (0 < timeout <= 24 * 3600):
        raise ValueError(f"timeout must be > 0 and <= 86400 seconds, got {timeout}")
    return float(timeout)


@dataclass
class NotebookResult:
    """What happened to one notebook."""

    name: str
    status: str  # "ok", "failed" or "timeout"
    wall_s: float
    peak_rss_mb: float | None
    output: str
    metrics_file: str | None
    log: str
    error: dict[str, Any] | None = None
    claims: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts = {v: sum(c["verdict"] == v for c in self.claims) for v in metrics.VERDICTS}
        return {
            "name": self.name, "status": self.status, "wall_s": round(self.wall_s, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "output": self.output, "metrics": self.metrics_file, "log": self.log,
            "error": self.error, "claims": counts,
        }


def _tree_rss_bytes(proc) -> int:
    """Sum the RSS of ``proc``'s descendants (the kernel and anything it started)."""
    import psutil

    total = 0
    try:
        children = proc.children(recursive=True)
    except psutil.Error:
        return 0
    for child in children:
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


def _running_cell(output: Path) -> dict[str, Any] | None:
    """Return index and source of the cell papermill marked as running in ``output``."""
    try:
        cells = json.loads(output.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for index, cell in enumerate(cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return {"cell_index": index, "source": "".join(cell.get("source", ""))[:2000]}
    return None


def execute_one(
    notebook: Path,
    run_dir: Path,
    profile: str,
    seed: int,
    timeout: float,
    progress: Callable[[str], None] = print,
) -> NotebookResult:
    """Execute ``notebook`` in a worker process under ``timeout`` seconds; never raise."""
    import psutil

    notebook, run_dir = Path(notebook).resolve(), Path(run_dir).resolve()
    output = run_dir / notebook.name
    result_file = run_dir / f".{notebook.stem}.result.json"
    log = run_dir / f"{notebook.stem}.log"
    env = dict(os.environ, COURSE_PROFILE=profile, COURSE_OUTPUT_DIR=str(run_dir),
               PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "course_lib.runner", str(notebook), str(output),
               str(result_file), json.dumps({"SEED": seed}), str(timeout)]
    started = time.monotonic()
    peak = 0
    with open(log, "w", encoding="utf-8") as log_fh:
        worker = subprocess.Popen(command, env=env, cwd=notebook.parent, stdout=log_fh,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        handle = psutil.Process(worker.pid)
        next_note = started + PROGRESS_EVERY_S
        timed_out = False
        while worker.poll() is None:
            peak = max(peak, _tree_rss_bytes(handle))
            now = time.monotonic()
            if now - started > timeout:
                timed_out = True
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
                break
            if now >= next_note:
                progress(f"    ... {notebook.stem} still running ({now - started:.0f} s, "
                         f"{peak / 2**20:.0f} MB)")
                next_note += PROGRESS_EVERY_S
            time.sleep(_SAMPLE_EVERY_S)
    wall = time.monotonic() - started
    peak_mb = peak / 2**20 if peak else None
    sidecar = run_dir / f"{notebook.stem}.metrics.json"
    if timed_out:
        status = "timeout"
        error = {"ename": "Timeout",
                 "evalue": f"notebook ran longer than {timeout:.0f} s and was stopped"}
        cell = _running_cell(output)
        if cell:
            error.update(cell)
    elif result_file.exists():
        outcome = json.loads(result_file.read_text())
        result_file.unlink()
        status, error = outcome["status"], outcome.get("error")
        if outcome.get("peak_rss_mb"):
            peak_mb = max(peak_mb or 0.0, outcome["peak_rss_mb"])
    else:
        status = "failed"
        error = {"ename": "WorkerDied",
                 "evalue": f"the worker exited with code {worker.returncode}; see {log.name}"}
    claims = []
    if sidecar.exists():
        data = metrics.load(sidecar)
        claims = data.get("claims", [])
        if status == "ok":
            error = _metrics_problem(data)
            status = "failed" if error else "ok"
    elif status == "ok":
        status, error = "failed", {"ename": "NoMetrics",
                                   "evalue": "the notebook never called metrics.start()"}
    return NotebookResult(notebook.stem, status, wall, peak_mb, output.name,
                          sidecar.name if sidecar.exists() else None, log.name, error, claims)


def _metrics_problem(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return an error if the sidecar has no metrics or a non-finite one."""
    recorded = data.get("metrics", {})
    if not recorded:
        return {"ename": "NoMetrics", "evalue": "the notebook recorded no metrics"}
    bad = [name for name, m in recorded.items() if not metrics.is_finite(m.get("value"))]
    if bad:
        return {"ename": "NonFiniteMetric", "evalue": "non-finite values in: " + ", ".join(bad)}
    return None


def _worker(argv: Sequence[str]) -> int:
    """Worker entry point: execute one notebook with papermill and write the outcome."""
    import resource

    import papermill as pm

    notebook, output, result_file, parameters, timeout = argv
    outcome: dict[str, Any] = {"status": "ok", "error": None}
    try:
        pm.execute_notebook(
            notebook, output, parameters=json.loads(parameters), kernel_name="python3",
            language="python", cwd=str(Path(notebook).parent), progress_bar=False,
            log_output=True, execution_timeout=int(float(timeout)) + 1,
        )
    except pm.PapermillExecutionError as exc:
        outcome = {"status": "failed", "error": {
            "ename": exc.ename, "evalue": exc.evalue, "cell_index": exc.cell_index,
            "source": exc.source[:2000], "traceback": _plain(exc.traceback)[-3000:]}}
    except Exception as exc:  # kernel died, cell timeout, bad notebook file ...
        outcome = {"status": "failed", "error": {"ename": type(exc).__name__,
                                                 "evalue": str(exc)[:2000]}}
        cell = _running_cell(Path(output))
        if cell:
            outcome["error"].update(cell)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    outcome["peak_rss_mb"] = children / 1024 if sys.platform.startswith("linux") else None
    metrics.atomic_write_json(Path(result_file), outcome)
    return 0


def _plain(lines: Sequence[str]) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))


def make_run_dir(profile: str, out: str | Path | None = None) -> Path:
    """Return a fresh ``runs/<timestamp>-<profile>`` folder (or ``out`` if given)."""
    if out is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{stamp}-{profile}"
    path = Path(out)
    if path.exists() and any(path.iterdir()):
        raise ValueError(f"out folder {str(path)!r} is not empty; choose a new one")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class RunSummary:
    """The outcome of ``course run``."""

    run_dir: Path
    manifest: dict[str, Any]
    exit_code: int


def run_course(
    profile: str | None = None,
    notebooks: Sequence[str] | None = None,
    out: str | Path | None = None,
    timeout: float | None = None,
    seed: int = 42,
    notebook_dir: str | Path | None = None,
    progress: Callable[[str], None] = print,
) -> RunSummary:
    """Execute notebooks at ``profile`` and write manifest, claims and report; never raise on
    a notebook's failure (it is recorded), only on bad arguments.

    Returns:
        The run folder, the manifest, and the exit code (0 only if every notebook ran and
        no checked claim is false).
    """
    from course_lib import environment, report

    profile = profiles.current_profile() if profile is None else profiles.check_profile(profile)
    timeout = check_timeout(DEFAULT_TIMEOUT[profile] if timeout is None else timeout)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    chosen = select(notebooks, notebook_dir)
    run_dir = make_run_dir(profile, out)
    started = time.time()
    progress(f"course run: {len(chosen)} notebook(s) at profile '{profile}' -> {run_dir}")
    results = []
    for i, notebook in enumerate(chosen, 1):
        progress(f"[{i}/{len(chosen)}] {notebook.stem} ...")
        result = execute_one(notebook, run_dir, profile, seed, timeout, progress)
        results.append(result)
        counts = result.as_dict()["claims"]
        memory = f"{result.peak_rss_mb:.0f} MB" if result.peak_rss_mb else "? MB"
        line = (f"    {result.status} in {result.wall_s:.1f} s, peak {memory}, claims "
                f"{counts['true']} true / {counts['false']} false / "
                f"{counts['not checked']} not checked")
        if result.error:
            line += f"\n    error: {result.error.get('ename')}: {result.error.get('evalue')}"
        progress(line)
    env = environment.environment_report()
    claims = [dict(c, notebook=r.name) for r in results for c in r.claims]
    failed = [r.name for r in results if r.status != "ok"]
    false_claims = [f"{c['notebook']}:{c['id']}" for c in claims if c["verdict"] == "false"]
    exit_code = 1 if failed or false_claims else 0
    manifest = {
        "course_version": _course_version(),
        "profile": profile,
        "seed": seed,
        "timeout_s": timeout,
        "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "wall_s": round(time.time() - started, 1),
        "python": env["python"],
        "platform": env["platform"],
        "where": env["where"],
        "cpu_count": env["cpu_count"],
        "memory_total_gb": env["memory_total_gb"],
        "gpus": env["gpus"],
        "gpu_found": bool(env["gpus"]),
        "versions": {p["name"]: p["installed"] for p in env["packages"]},
        "tensorflow": env["versions"]["tensorflow"],
        "keras": env["versions"]["keras"],
        "notebooks": [r.as_dict() for r in results],
        "summary": {
            "notebooks": len(results),
            "ok": len(results) - len(failed),
            "failed": failed,
            "claims_true": sum(c["verdict"] == "true" for c in claims),
            "claims_false": false_claims,
            "claims_not_checked": sum(c["verdict"] == "not checked" for c in claims),
        },
        "exit_code": exit_code,
    }
    metrics.atomic_write_json(run_dir / "manifest.json", manifest)
    metrics.atomic_write_json(run_dir / "claims.json", claims)
    report_path = report.write_report(run_dir)
    summary = manifest["summary"]
    progress(f"done in {manifest['wall_s']:.0f} s: {summary['ok']}/{summary['notebooks']} "
             f"notebooks ok, claims {summary['claims_true']} true, {len(false_claims)} false, "
             f"{summary['claims_not_checked']} not checked")
    if failed:
        progress("failed notebooks: " + ", ".join(failed))
    if false_claims:
        progress("false claims: " + ", ".join(false_claims))
    progress(f"report: {report_path}")
    return RunSummary(run_dir, manifest, exit_code)


def _course_version() -> str:
    from course_lib import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
