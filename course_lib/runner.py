"""Run the course headlessly: papermill on a fresh kernel per notebook, then a report.

``run_course`` executes the chosen notebooks one after another into
``runs/<timestamp>-<profile>/``. Each notebook runs in its own worker process (and
so its own kernel) with ``COURSE_PROFILE`` and ``COURSE_OUTPUT_DIR`` set, under a
wall-clock limit. A notebook that raises, times out or kills its kernel is marked
failed -- with the failing cell and its message -- and the run goes on.

Afterwards the run folder holds the executed notebooks, one ``*.metrics.json`` per
notebook, ``manifest.json``, ``claims.json`` and ``report.html``.

Run one notebook into a folder (what a sweep or another tool should call)::

    result = execute_one(notebook, run_dir, profile, seed, timeout, progress=print)

It scans the notebook's ``metrics.claim("id", ...)`` calls, runs it in a worker, kills the
worker's whole process tree when it ends (normally, on timeout, on kernel death, or when
the caller is interrupted), checks the sidecar against the run and recomputes every
verdict. It returns a :class:`NotebookResult` and never raises for a notebook's failure;
it raises :class:`RunFolderError` if ``run_dir`` cannot be written and re-raises
``KeyboardInterrupt`` after killing the tree.

Guarantees of :func:`run_course` (``course run``):

* No process of a notebook outlives it: on timeout, kernel death, Ctrl-C (SIGINT) and
  SIGTERM the worker, the kernel and everything they started are collected (psutil,
  frozen with SIGSTOP so none can fork meanwhile) and killed. The worker is a child
  subreaper, so daemons that detach from the kernel stay in the tree.
* ``manifest.json`` (and ``claims.json``) are rewritten atomically after every notebook;
  ``"status"`` is ``running``, ``complete`` or ``interrupted``, and
  ``resume_run(run_dir)`` (``course run --resume``) runs only the notebooks missing.
  ``report.html`` is written atomically too. A folder that cannot be written (full disk,
  no permission) raises :class:`RunFolderError` with one clear message.
* Verdicts cannot be spoofed by a sidecar: each claim's verdict is recomputed from its
  observed value and its profiles (read from the notebook's source when they are literal)
  and the run's profile; an unknown or disagreeing verdict is ``"invalid"``; a claim the
  source makes (at a profile where it is checked) but the sidecar lacks is ``"missing"``;
  both fail the run, like ``"false"``. A sidecar whose notebook, profile or seed differs
  from the run, or that lists a figure outside the run folder, fails its notebook.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib import metrics, profiles
from course_lib.report import RunFolderError, figure_problem

__all__ = [
    "DEFAULT_TIMEOUT", "ClaimScan", "NotebookResult", "RunFolderError", "RunSummary",
    "check_sidecar", "check_timeout", "default_notebook_dir", "discover", "execute_one",
    "kill_tree", "make_run_dir", "resume_run", "run_course", "scan_claims", "select",
]

DEFAULT_TIMEOUT = {"smoke": 300, "cpu": 900, "gpu": 3600}
PROGRESS_EVERY_S = 30.0
_SAMPLE_EVERY_S = 0.25
_NOTEBOOK_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")


def default_notebook_dir() -> Path:
    """Return ``notebooks/`` next to the package (a source checkout) or under the cwd."""
    beside = Path(__file__).resolve().parent.parent / "notebooks"
    return beside if beside.is_dir() else Path.cwd() / "notebooks"


def editions() -> tuple[str, ...]:
    """Return the course's editions: "en" (``notebooks/``) and each translation's code."""
    from course_lib import i18n

    return ("en", *i18n.LANGS)


def check_lang(lang: Any) -> str:
    """Return ``lang`` if the course has that edition ("en", or a translation's code)."""
    allowed = editions()
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a string, one of {', '.join(allowed)}; "
                        f"got {type(lang).__name__}")
    if lang not in allowed:
        raise ValueError(f"lang must be one of {', '.join(allowed)}, got {lang!r}")
    return lang


def edition_dir(lang: str = "en", notebook_dir: str | Path | None = None) -> Path:
    """Return the notebooks of the ``lang`` edition: ``notebook_dir`` itself for English,
    its ``<lang>/`` subfolder for a translation (``notebooks/zh/``)."""
    from course_lib import i18n

    if check_lang(lang) != "en":
        return i18n.translation_dir(notebook_dir, lang)
    return Path(notebook_dir) if notebook_dir is not None else default_notebook_dir()


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


STATUSES = ("ok", "failed", "timeout")
_SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """``course run`` received SIGINT or SIGTERM; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


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
    figures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        verdicts = metrics.VERDICTS + metrics.RUNNER_VERDICTS
        counts = {v: sum(c["verdict"] == v for c in self.claims) for v in verdicts}
        return {
            "name": self.name, "status": self.status, "wall_s": round(self.wall_s, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "output": self.output, "metrics": self.metrics_file, "log": self.log,
            "error": self.error, "claims": counts, "figures": list(self.figures),
        }


# ----------------------------------------------------------------------------- claim scan

@dataclass
class ClaimScan:
    """The ``metrics.claim("id", ...)`` calls found in a notebook's code cells.

    ``profiles[id]`` is the tuple of profiles the claim is checked at, or None when the
    ``profiles=`` argument is not a literal (then the sidecar's list is used).
    ``duplicates`` lists ids claimed more than once.
    """

    profiles: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)

    def expected_at(self, profile: str) -> list[str]:
        """Return the ids that must appear in the sidecar of a run at ``profile``."""
        return [cid for cid, where in self.profiles.items()
                if where is not None and profile in where]


def _default_claim_profiles() -> tuple[str, ...]:
    return tuple(inspect.signature(metrics.claim).parameters["profiles"].default)


def _cell_python(source: str) -> str:
    """Return a code cell's source as Python (IPython magics and ``!cmd`` lines translated)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with papermill
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # a cell IPython cannot transform will not parse either
        return source


def scan_claims(notebook: str | Path) -> ClaimScan:
    """Read the claims a notebook makes, before running it.

    Every call ``<anything>.claim("literal id", ...)`` or ``claim("literal id", ...)`` in a
    code cell counts (cells tagged ``skip-execution`` too: a claim in a skipped cell is a
    claim never made). Claim ids that are not string literals cannot be read here; those
    claims are still checked when they appear in the sidecar. A cell that does not parse
    is skipped (running it fails the notebook anyway).

    Raises:
        ValueError: ``notebook`` is not a readable notebook file.
    """
    path = Path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"notebook {str(path)!r} cannot be read as a notebook: {exc}") from None
    default = _default_claim_profiles()
    scan = ClaimScan()
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            tree = ast.parse(_cell_python(source))
        except SyntaxError:
            continue
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        calls.sort(key=lambda n: (n.lineno, n.col_offset))
        for node in calls:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else (
                node.func.id if isinstance(node.func, ast.Name) else None)
            if name != "claim" or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            where: tuple[str, ...] | None = default
            for kw in node.keywords:
                if kw.arg == "profiles":
                    where = _literal_profiles(kw.value)
            if first.value in scan.profiles and first.value not in scan.duplicates:
                scan.duplicates.append(first.value)
            scan.profiles.setdefault(first.value, where)
    return scan


def _literal_profiles(node: ast.expr) -> tuple[str, ...] | None:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


# ------------------------------------------------------------------------ sidecar checks

def _as_text(value: Any, limit: int = 2000) -> str:
    return ("" if value is None else str(value))[:limit]


def _check_claim(raw: dict[str, Any], profile: str,
                 source_profiles: tuple[str, ...] | None) -> dict[str, Any]:
    """Return a clean copy of one sidecar claim with its verdict recomputed."""
    cid = raw.get("id")
    entry: dict[str, Any] = {
        "id": _as_text(cid, 200) if isinstance(cid, str) and cid else "?",
        "text": _as_text(raw.get("text")),
        "profiles": [], "observed": None, "verdict": "invalid",
        "values": raw.get("values") if isinstance(raw.get("values"), dict) else {},
    }
    stated = raw.get("profiles")
    problems = []
    if not isinstance(cid, str) or not cid:
        problems.append("its id is not a non-empty string")
    if not (isinstance(stated, list) and all(p in profiles.PROFILES for p in stated)):
        problems.append(f"its profiles {_as_text(stated, 200)!r} are not a list of "
                        f"{', '.join(profiles.PROFILES)}")
    else:
        entry["profiles"] = list(stated)
        if source_profiles is not None and tuple(stated) != source_profiles:
            problems.append(f"its profiles {stated} differ from the notebook source's "
                            f"{list(source_profiles)}")
    observed = raw.get("observed")
    if not isinstance(observed, bool):
        problems.append(f"'observed' must be true or false, got {_as_text(observed, 200)!r}")
    else:
        entry["observed"] = observed
    if not isinstance(raw.get("values", {}), dict):
        problems.append("'values' must be an object")
    if not problems:
        checked = profile in entry["profiles"]
        recomputed = ("true" if observed else "false") if checked else "not checked"
        stored = raw.get("verdict")
        if stored != recomputed:
            shown = _as_text(stored, 200)
            problems.append(f"the sidecar says verdict {shown!r} but its observed value "
                            f"({observed}) at profile {profile!r} gives {recomputed!r}"
                            if stored in metrics.VERDICTS else
                            f"verdict {shown!r} is not one of {', '.join(metrics.VERDICTS)}")
        else:
            entry["verdict"] = recomputed
    if problems:
        entry["verdict"] = "invalid"
        entry["reason"] = "; ".join(problems)
    return entry


def check_sidecar(
    data: dict[str, Any],
    notebook: str,
    profile: str,
    seed: int,
    run_dir: str | Path,
    scan: ClaimScan | None = None,
) -> tuple[list[dict[str, Any]], list[str], dict[str, Any] | None]:
    """Check a sidecar (as returned by :func:`metrics.load`) against the run that made it.

    Args:
        data: the sidecar record.
        notebook: the notebook's stem; the sidecar must name it.
        profile, seed: the run's profile and seed; the sidecar must match them.
        run_dir: the run folder; every figure must be a PNG inside it.
        scan: the claims read from the notebook's source (:func:`scan_claims`).

    Returns:
        ``(claims, figures, error)``: the claims with recomputed verdicts (plus a
        ``"missing"`` entry for each claim the source makes at ``profile`` that the sidecar
        lacks), the figures that passed, and an error for the notebook (or None).
    """
    scan = scan or ClaimScan()
    if data.get("error"):
        claims = [_missing(cid, scan) for cid in scan.expected_at(profile)]
        return claims, [], {"ename": "BadSidecar", "evalue": _as_text(data["error"])}
    claims: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for raw in data["claims"]:
        entry = _check_claim(raw, profile, scan.profiles.get(raw.get("id"))
                             if isinstance(raw.get("id"), str) else None)
        counts[entry["id"]] = counts.get(entry["id"], 0) + 1
        claims.append(entry)
    for entry in claims:
        if counts[entry["id"]] > 1:
            entry["verdict"] = "invalid"
            entry["reason"] = f"claim id {entry['id']!r} appears more than once in the sidecar"
    made = set(counts)
    claims += [_missing(cid, scan) for cid in scan.expected_at(profile) if cid not in made]
    problems = []
    for key, want in (("notebook", notebook), ("profile", profile), ("seed", seed)):
        if data.get(key) != want:
            problems.append(f"the sidecar's {key} is {_as_text(repr(data.get(key)), 200)}, "
                            f"the run's is {want!r}")
    figures = []
    for name in data["figures"]:
        problem = figure_problem(run_dir, name)
        if problem:
            problems.append(problem)
        else:
            figures.append(name)
    error = {"ename": "SidecarMismatch", "evalue": "; ".join(problems)} if problems else None
    return claims, figures, error


def _missing(claim_id: str, scan: ClaimScan) -> dict[str, Any]:
    return {"id": claim_id, "text": "", "profiles": list(scan.profiles.get(claim_id) or ()),
            "observed": None, "verdict": "missing", "values": {},
            "reason": "the notebook's source makes this claim but the run never made it "
                      "(a cell skipped, an exception swallowed, a branch not taken)"}


# ---------------------------------------------------------------------- process trees

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


def kill_tree(root: Any = None, extra: Iterable[Any] = (), rounds: int = 20) -> list[int]:
    """Kill ``root`` (a pid or psutil.Process), all its descendants and ``extra`` processes.

    The tree is collected first and every member is stopped (SIGSTOP) while collecting again,
    until no new descendant appears, so nothing can fork away between the listing and the
    kill; then all get SIGKILL. ``extra`` are processes seen in the tree earlier (a process
    whose parent died leaves the tree). psutil guards against a pid reused meanwhile.
    Returns the pids signalled.
    """
    import psutil

    seen: dict[int, Any] = {}
    for proc in [root, *extra]:
        if proc is None:
            continue
        try:
            proc = proc if isinstance(proc, psutil.Process) else psutil.Process(int(proc))
        except (psutil.Error, ValueError):
            continue
        if proc.pid != os.getpid():
            seen[proc.pid] = proc
    for _ in range(rounds):
        grew = False
        for proc in list(seen.values()):
            try:
                proc.suspend()
                children = proc.children(recursive=True)
            except psutil.Error:
                continue
            for child in children:
                if child.pid not in seen and child.pid != os.getpid():
                    seen[child.pid] = child
                    grew = True
        if not grew:
            break
    for proc in seen.values():
        try:
            proc.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(list(seen.values()), timeout=5)
    return sorted(seen)


def _running_cell(output: Path) -> dict[str, Any] | None:
    """Return index and source of the cell papermill marked as running in ``output``."""
    try:
        cells = json.loads(output.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for index, cell in enumerate(cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return {"cell_index": index, "source": "".join(cell.get("source", ""))[:2000]}
    return None


def _worker_env(profile: str, run_dir: Path) -> dict[str, str]:
    from course_lib import environment

    env = dict(os.environ)
    for name, value in environment.quiet_tf_env().items():  # unless COURSE_TF_LOGS=1
        env.setdefault(name, value)
    env.update(COURSE_PROFILE=profile, COURSE_OUTPUT_DIR=str(run_dir), PYTHONUNBUFFERED="1",
               COURSE_RUNNER_PARENT=str(os.getpid()))
    # nobody clicks in a headless run: widgets print one line instead (course_lib.widgets)
    env.setdefault("COURSE_HEADLESS", "1")
    return env


def execute_one(
    notebook: Path,
    run_dir: Path,
    profile: str,
    seed: int,
    timeout: float,
    progress: Callable[[str], None] = print,
) -> NotebookResult:
    """Run one notebook into ``run_dir`` in a worker process under ``timeout`` seconds.

    The function to call to "run one notebook into a folder" (see the module docstring).
    Never raises for the notebook's failure (it is in the result); raises
    :class:`RunFolderError` if ``run_dir`` cannot be written, and re-raises
    ``KeyboardInterrupt`` (Ctrl-C, or :class:`Interrupted` under ``run_course``) after
    killing the notebook's process tree.
    """
    import psutil

    notebook, run_dir = Path(notebook).resolve(), Path(run_dir).resolve()
    output = run_dir / notebook.name
    result_file = run_dir / f".{notebook.stem}.result.json"
    log = run_dir / f"{notebook.stem}.log"
    sidecar = run_dir / f"{notebook.stem}.metrics.json"
    try:
        scan = scan_claims(notebook)
    except ValueError as exc:
        scan, scan_error = ClaimScan(), {"ename": "BadNotebook", "evalue": str(exc)}
    else:
        scan_error = None
    if scan.duplicates:
        scan_error = {"ename": "DuplicateClaim",
                      "evalue": "claim ids used more than once in the notebook: "
                                + ", ".join(scan.duplicates)}
    if scan_error:
        _write_text(log, f"not run: {scan_error['evalue']}\n")
        return NotebookResult(notebook.stem, "failed", 0.0, None, output.name, None, log.name,
                              scan_error)
    for stale in (result_file, sidecar):
        stale.unlink(missing_ok=True)
    command = [sys.executable, "-m", "course_lib.runner", str(notebook), str(output),
               str(result_file), json.dumps({"SEED": seed}), str(timeout)]
    started = time.monotonic()
    peak = 0
    seen: dict[int, Any] = {}
    try:
        log_fh = open(log, "w", encoding="utf-8")
    except OSError as exc:
        raise RunFolderError.from_os_error(exc, log) from None
    worker = None
    timed_out = False
    try:
        with log_fh:
            worker = subprocess.Popen(command, env=_worker_env(profile, run_dir),
                                      cwd=notebook.parent, stdout=log_fh,
                                      stderr=subprocess.STDOUT, start_new_session=True)
            handle = psutil.Process(worker.pid)
            next_note = started + PROGRESS_EVERY_S
            while worker.poll() is None:
                peak = max(peak, _tree_rss_bytes(handle))
                try:
                    seen.update((p.pid, p) for p in handle.children(recursive=True))
                except psutil.Error:
                    pass
                now = time.monotonic()
                if now - started > timeout:
                    timed_out = True
                    break
                if now >= next_note:
                    progress(f"    ... {notebook.stem} still running ({now - started:.0f} s, "
                             f"{peak / 2**20:.0f} MB)")
                    next_note += PROGRESS_EVERY_S
                time.sleep(_SAMPLE_EVERY_S)
    finally:
        # Whatever ended the loop (the worker exited, the timeout, Ctrl-C, SIGTERM): nothing
        # the notebook started may survive it. A second Ctrl-C must not cut the cleanup short.
        if worker is not None:
            with _signals_blocked():
                kill_tree(worker.pid if worker.poll() is None else None, seen.values())
                try:
                    os.killpg(worker.pid, signal.SIGKILL)
                except OSError:
                    pass
                worker.wait()
    wall = time.monotonic() - started
    peak_mb = peak / 2**20 if peak else None
    if timed_out:
        status = "timeout"
        error = {"ename": "Timeout",
                 "evalue": f"notebook ran longer than {timeout:.0f} s and was stopped"}
        cell = _running_cell(output)
        if cell:
            error.update(cell)
    elif result_file.exists():
        try:
            outcome = json.loads(result_file.read_text())
            status, error = outcome["status"], outcome.get("error")
            if status not in STATUSES:
                raise ValueError(f"unknown status {str(status)[:80]!r}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            outcome, status = {}, "failed"
            error = {"ename": "WorkerDied", "evalue": f"unreadable worker result: {exc}"}
        result_file.unlink(missing_ok=True)
        if outcome.get("peak_rss_mb"):
            peak_mb = max(peak_mb or 0.0, outcome["peak_rss_mb"])
    else:
        status = "failed"
        error = {"ename": "WorkerDied",
                 "evalue": f"the worker exited with code {worker.returncode}; see {log.name}"}
    claims: list[dict[str, Any]] = []
    figures: list[str] = []
    if sidecar.exists():
        data = metrics.load(sidecar)
        claims, figures, problem = check_sidecar(data, notebook.stem, profile, seed, run_dir,
                                                 scan)
        if problem is None and status == "ok":
            problem = _metrics_problem(data)
        if problem is not None and status == "ok":
            status, error = "failed", problem
        elif problem is not None and error is not None:
            error = dict(error, evalue=f"{error.get('evalue')} (also: {problem['ename']}: "
                                       f"{problem['evalue']})")
    else:
        claims = [_missing(cid, scan) for cid in scan.expected_at(profile)]
        if status == "ok":
            status, error = "failed", {"ename": "NoMetrics",
                                       "evalue": "the notebook never called metrics.start()"}
    return NotebookResult(notebook.stem, status, wall, peak_mb, output.name,
                          sidecar.name if sidecar.exists() else None, log.name, error, claims,
                          figures)


class _signals_blocked:
    """Hold SIGINT and SIGTERM back (main thread only) until the block ends."""

    def __enter__(self):
        self.saved = None
        if threading.current_thread() is threading.main_thread():
            self.saved = signal.pthread_sigmask(signal.SIG_BLOCK,
                                                {signal.SIGINT, signal.SIGTERM})
        return self

    def __exit__(self, *exc):
        if self.saved is not None:  # a signal that arrived meanwhile is delivered now
            signal.pthread_sigmask(signal.SIG_SETMASK, self.saved)
        return False


def _metrics_problem(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return an error if the sidecar has no metrics or a non-finite one."""
    recorded = data.get("metrics", {})
    if not recorded:
        return {"ename": "NoMetrics", "evalue": "the notebook recorded no metrics"}
    bad = [name for name, m in recorded.items() if not metrics.is_finite(m.get("value"))]
    if bad:
        return {"ename": "NonFiniteMetric", "evalue": "non-finite values in: " + ", ".join(bad)}
    return None


def _prctl(option: int, value: int) -> None:
    """Call Linux prctl(2); do nothing elsewhere or when libc is unavailable."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER = 1, 36


def _worker(argv: Sequence[str]) -> int:
    """Worker entry point: execute one notebook with papermill and write the outcome.

    The worker adopts orphaned descendants (child subreaper), gets SIGTERM if the runner
    dies, and on SIGTERM/SIGINT/SIGHUP or when papermill returns kills every descendant.
    """
    import resource

    import papermill as pm

    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = os.environ.get("COURSE_RUNNER_PARENT")
    if parent and parent.isdigit() and os.getppid() != int(parent):
        return 1  # the runner died before we could ask to be told

    def stop(signum, _frame):
        kill_tree(None, _descendants())
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
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
    left = kill_tree(None, _descendants())
    if left:
        print(f"runner: killed {len(left)} process(es) the notebook left running: {left}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    outcome["peak_rss_mb"] = children / 1024 if sys.platform.startswith("linux") else None
    metrics.atomic_write_json(Path(result_file), outcome)
    return 0


def _descendants() -> list[Any]:
    import psutil

    try:
        return psutil.Process().children(recursive=True)
    except psutil.Error:
        return []


def _plain(lines: Sequence[str]) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))


# ------------------------------------------------------------------------- run folder

def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunFolderError.from_os_error(exc, path) from None


def _write_json(path: Path, payload: Any) -> None:
    try:
        metrics.atomic_write_json(path, payload)
    except OSError as exc:
        raise RunFolderError.from_os_error(exc, path) from None


def make_run_dir(profile: str, out: str | Path | None = None) -> Path:
    """Return a fresh ``runs/<timestamp>-<profile>`` folder (or ``out`` if given).

    Raises:
        ValueError: ``out`` exists and is not empty.
        RunFolderError: the folder cannot be created.
    """
    if out is None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{stamp}-{profile}"
    path = Path(out)
    try:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ValueError(f"out folder {str(path)!r} is not empty; choose a new one")
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError.from_os_error(exc, path) from None
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
    lang: str = "en",
) -> RunSummary:
    """Execute notebooks at ``profile`` and write manifest, claims and report; never raise on
    a notebook's failure (it is recorded), only on bad arguments (ValueError, TypeError) and
    on a run folder that cannot be written (:class:`RunFolderError`).

    Ctrl-C (SIGINT) and SIGTERM stop the run: the running notebook's process tree is killed,
    ``manifest.json`` is written with ``"status": "interrupted"`` and the notebooks that
    finished, and the summary's exit code is 130 (SIGINT) or 143 (SIGTERM).

    Returns:
        The run folder, the manifest, and the exit code (0 only if every notebook ran and
        no checked claim is false, missing or invalid).
    """
    profile = profiles.current_profile() if profile is None else profiles.check_profile(profile)
    timeout = check_timeout(DEFAULT_TIMEOUT[profile] if timeout is None else timeout)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    chosen = select(notebooks, edition_dir(lang, notebook_dir))
    run_dir = make_run_dir(profile, out)
    plan = {"profile": profile, "seed": seed, "timeout_s": timeout, "lang": lang,
            "notebook_dir": str(chosen[0].parent.resolve()),
            "planned": [p.stem for p in chosen]}
    return _run_plan(run_dir, plan, chosen, [], progress)


def resume_run(
    run_dir: str | Path,
    notebook_dir: str | Path | None = None,
    progress: Callable[[str], None] = print,
) -> RunSummary:
    """Complete an interrupted run: run only the planned notebooks it has no result for.

    Profile, seed, timeout and the notebook list come from ``run_dir/manifest.json``;
    ``notebook_dir`` overrides where the notebooks are looked up.

    Raises:
        ValueError: ``run_dir`` holds no readable manifest of a course run.
    """
    run_dir = Path(run_dir)
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        plan = {key: manifest[key] for key in ("profile", "seed", "timeout_s", "planned")}
        plan["wall_before_s"] = float(manifest.get("wall_s") or 0.0)
        plan["lang"] = check_lang(manifest.get("lang", "en"))
        previous = [r for r in manifest["notebooks"] if r.get("status") in STATUSES]
        plan["notebook_dir"] = str(notebook_dir or manifest["notebook_dir"])
        claims = json.loads((run_dir / "claims.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"run_dir {str(run_dir)!r} has no readable manifest.json and "
                         f"claims.json of a course run ({exc})") from None
    profiles.check_profile(plan["profile"])
    done = {r["name"] for r in previous}
    todo = [name for name in plan["planned"] if name not in done]
    chosen = select(todo, plan["notebook_dir"]) if todo else []
    earlier = []
    for record in previous:
        mine = [{k: v for k, v in c.items() if k != "notebook"} for c in claims
                if c.get("notebook") == record["name"]]
        earlier.append(NotebookResult(
            record["name"], record["status"], record["wall_s"], record["peak_rss_mb"],
            record["output"], record["metrics"], record["log"], record.get("error"), mine,
            record.get("figures", [])))
    progress(f"course run --resume: {len(earlier)} notebook(s) already done, "
             f"{len(chosen)} to run")
    return _run_plan(run_dir, plan, chosen, earlier, progress, manifest.get("started"))


class _SignalsToInterrupt:
    """While active (main thread only), SIGINT and SIGTERM raise :class:`Interrupted`."""

    def __enter__(self):
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.saved[signum] = signal.signal(signum, self._raise)
        return self

    @staticmethod
    def _raise(signum, _frame):
        raise Interrupted(signum)

    def __exit__(self, *exc):
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        return False


def _run_plan(run_dir: Path, plan: dict[str, Any], chosen: list[Path],
              results: list[NotebookResult], progress: Callable[[str], None],
              started_iso: str | None = None) -> RunSummary:
    from course_lib import environment, report

    started = time.time()
    env = environment.environment_report()
    profile, seed, timeout = plan["profile"], plan["seed"], plan["timeout_s"]
    base = len(results)
    total = base + len(chosen)
    state: dict[str, Any] = {"status": "running", "interrupted": None}

    def write(status: str) -> dict[str, Any]:
        state["status"] = status
        manifest = _manifest(plan, env, results, started, started_iso, state)
        claims = [dict(c, notebook=r.name) for r in results for c in r.claims]
        _write_json(run_dir / "manifest.json", manifest)
        _write_json(run_dir / "claims.json", claims)
        return manifest

    progress(f"course run: {len(chosen)} notebook(s) at profile '{profile}' -> {run_dir}")
    current = None
    try:
        with _SignalsToInterrupt():
            write("running")
            for i, notebook in enumerate(chosen, base + 1):
                current = notebook.stem
                progress(f"[{i}/{total}] {notebook.stem} ...")
                result = execute_one(notebook, run_dir, profile, seed, timeout, progress)
                results.append(result)
                current = None
                progress(_result_line(result))
                write("running")
            manifest = write("complete")
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        state["interrupted"] = {"signal": signal.Signals(signum).name, "notebook": current}
        manifest = write("interrupted")
        manifest["exit_code"] = _SIGNAL_EXIT.get(signum, 130)
        _write_json(run_dir / "manifest.json", manifest)
        progress(f"interrupted by {signal.Signals(signum).name}"
                 + (f" while running {current}" if current else "")
                 + f"; {len(results)} notebook(s) finished. "
                 f"Resume with: course run --resume {run_dir}")
    report_path = report.write_report(run_dir)
    summary = manifest["summary"]
    progress(f"done in {manifest['wall_s']:.0f} s: {summary['ok']}/{summary['notebooks']} "
             f"notebooks ok, claims {summary['claims_true']} true, "
             f"{len(summary['claims_false'])} false, {len(summary['claims_missing'])} missing, "
             f"{len(summary['claims_invalid'])} invalid, "
             f"{summary['claims_not_checked']} not checked")
    if summary["failed"]:
        progress("failed notebooks: " + ", ".join(summary["failed"]))
    for kind in ("false", "missing", "invalid"):
        if summary[f"claims_{kind}"]:
            progress(f"{kind} claims: " + ", ".join(summary[f"claims_{kind}"]))
    progress(f"report: {report_path}")
    return RunSummary(run_dir, manifest, manifest["exit_code"])


def _result_line(result: NotebookResult) -> str:
    counts = result.as_dict()["claims"]
    memory = f"{result.peak_rss_mb:.0f} MB" if result.peak_rss_mb else "? MB"
    line = (f"    {result.status} in {result.wall_s:.1f} s, peak {memory}, claims "
            f"{counts['true']} true / {counts['false']} false / "
            f"{counts['not checked']} not checked")
    bad = [f"{counts[v]} {v}" for v in metrics.RUNNER_VERDICTS if counts[v]]
    if bad:
        line += " / " + " / ".join(bad)
    if result.error:
        line += f"\n    error: {result.error.get('ename')}: {result.error.get('evalue')}"
    for c in result.claims:
        if c.get("reason"):
            line += f"\n    claim {c['id']} is {c['verdict']}: {c['reason']}"
    return line


def _manifest(plan: dict[str, Any], env: dict[str, Any], results: list[NotebookResult],
              started: float, started_iso: str | None, state: dict[str, Any]) -> dict[str, Any]:
    claims = [dict(c, notebook=r.name) for r in results for c in r.claims]
    failed = [r.name for r in results if r.status != "ok"]

    def ids(verdict: str) -> list[str]:
        return [f"{c['notebook']}:{c['id']}" for c in claims if c["verdict"] == verdict]

    done = {r.name for r in results}
    bad_claims = any(c["verdict"] in metrics.FAILING_VERDICTS for c in claims)
    return {
        "course_version": _course_version(),
        "status": state["status"],
        "interrupted": state["interrupted"],
        "profile": plan["profile"],
        "lang": plan.get("lang", "en"),
        "seed": plan["seed"],
        "timeout_s": plan["timeout_s"],
        "notebook_dir": plan["notebook_dir"],
        "planned": list(plan["planned"]),
        "not_run": [name for name in plan["planned"] if name not in done],
        "started": started_iso
        or dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "wall_s": round(time.time() - started + plan.get("wall_before_s", 0.0), 1),
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
            "claims_false": ids("false"),
            "claims_missing": ids("missing"),
            "claims_invalid": ids("invalid"),
            "claims_not_checked": sum(c["verdict"] == "not checked" for c in claims),
        },
        "exit_code": 1 if failed or bad_claims or state["status"] != "complete" else 0,
    }


def _course_version() -> str:
    from course_lib import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(_worker(sys.argv[1:]))
