"""Seed sweeps on Dask: run notebooks x seeds as tasks, and say which claims are sturdy.

A claim checked at one seed may hold by luck. ``course sweep`` runs every chosen notebook at
every chosen seed as one task of a ``dask.distributed`` cluster -- a ``LocalCluster`` on this
machine by default, or any scheduler address (``tcp://HOST:PORT``) of an instructor's cluster
(``dask scheduler`` + ``dask worker``, dask-jobqueue on Slurm/PBS, dask-kubernetes; see
``docs/sweep.md``). Each task runs its notebook through :func:`course_lib.runner.execute_one`
(own kernel, time limit, the whole process tree stopped on timeout) into a staging folder that
is moved into place only when the notebook is done, so a folder ``seed-<n>/<notebook>/`` with a
``task.json`` is a finished task and nothing half-written is ever read. ``--resume`` skips
finished tasks; a task whose worker dies is run again elsewhere (Dask reschedules it, and
``retries`` covers exceptions).

Afterwards ``sweep.json``, ``sweep.html`` and ``sweep.md`` hold, for each claim, in how many
of the seeds it held and the spread of its values, and for each notebook the spread of wall
time and peak memory. A claim checked at this profile that holds in fewer than 90 % of the
seeds is flagged, and the sweep's exit status is non-zero.

Inside a notebook, :func:`map` runs a function over a list of configurations on the active
Dask client (or the scheduler named by ``$COURSE_DASK_SCHEDULER``), and locally otherwise, with
the same results either way.
"""

from __future__ import annotations

import builtins
import contextlib
import html
import json
import logging
import math
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib import metrics, profiles

__all__ = ["parse_seeds", "default_workers", "run_sweep", "robustness", "map", "SweepSummary",
           "FLAG_BELOW", "SCHEDULER_ENV"]

FLAG_BELOW = 0.9  # a checked claim holding in fewer than 90 % of the seeds is flagged
SCHEDULER_ENV = "COURSE_DASK_SCHEDULER"
CONNECT_TIMEOUT_S = 10.0
CONFIG_FILE = "sweep-config.json"
TASK_FILE = "task.json"
_MAX_SEEDS = 10_000
_SEED_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_ADDRESS = re.compile(r"^(tcp|tls|ucx|inproc)://\S+$")


def parse_seeds(text: str) -> list[int]:
    """Return the seeds named by ``text``: ``"1-10"``, ``"1,3,5"`` or ``"1-3,7"`` (in order).

    Raises:
        ValueError: a reversed range (``"3-1"``), an empty set, a non-number, a seed outside
            0..2**32-1 or more than 10,000 seeds.
    """
    if not isinstance(text, str):
        raise TypeError(f"seeds must be a string such as '1-10', got {type(text).__name__}")
    seeds: list[int] = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _SEED_PART.match(part)
        if not match:
            raise ValueError(f"seeds: {part.strip()!r} is not a seed or a range like 1-10")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise ValueError(f"seeds: range {part.strip()!r} runs backwards; write {high}-{low}")
        if high > 2**32 - 1:
            raise ValueError(f"seeds must be <= {2**32 - 1}, got {high}")
        if high - low + 1 + len(seeds) > _MAX_SEEDS:
            raise ValueError(f"seeds: at most {_MAX_SEEDS} seeds in one sweep")
        seeds.extend(s for s in range(low, high + 1) if s not in seeds)
    if not seeds:
        raise ValueError("seeds: the set is empty; give e.g. --seeds 1-10")
    return seeds


def default_workers(cpu_count: int | None = None) -> int:
    """Return how many notebooks to run at once on this machine.

    TensorFlow already uses several threads per process, so two notebooks per core would only
    slow each other down (and skew their timings): one worker per two cores, at most 8.
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, min(8, cores // 2))


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers must be an int, got {type(workers).__name__}")
    if not 1 <= workers <= 256:
        raise ValueError(f"workers must be between 1 and 256, got {workers}")
    return workers


def _check_scheduler(scheduler: Any) -> str:
    if scheduler is None or scheduler == "local":
        return "local"
    if not isinstance(scheduler, str) or not _ADDRESS.match(scheduler):
        raise ValueError(f"scheduler must be 'local' or an address like tcp://HOST:8786, "
                         f"got {scheduler!r}")
    return scheduler


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S, *, as_default: bool = False):
    """Return a ``dask.distributed.Client`` for ``address``; a clear error within ``timeout``."""
    from dask.distributed import Client

    address = _check_scheduler(address)
    if address == "local":
        raise ValueError("connect needs a scheduler address such as tcp://HOST:8786")
    try:
        return Client(address, timeout=f"{timeout}s", set_as_default=as_default)
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"scheduler {address} could not be reached within {timeout:.0f} s "
                         f"({type(exc).__name__}); is `dask scheduler` running there?") from None


@contextlib.contextmanager
def _client(scheduler: str, workers: int) -> Iterator[Any]:
    """Yield a client of a new ``LocalCluster`` (closed afterwards) or of ``scheduler``."""
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
    else:
        client = connect(scheduler, as_default=True)
        try:
            yield client
        finally:
            client.close()


# -- one task -------------------------------------------------------------------------------


def task_dir(out: Path, notebook: str, seed: int) -> Path:
    """Return the folder of one finished task: ``<out>/seed-<seed>/<notebook>``."""
    return Path(out) / f"seed-{seed}" / notebook


def run_task(notebook: str, out: str, profile: str, seed: int, timeout: float) -> dict[str, Any]:
    """Run one notebook at one seed into its task folder (on a Dask worker); never raise.

    The notebook runs into a fresh staging folder beside the final one, which is renamed into
    place after ``task.json`` is written, so a folder with a ``task.json`` is always complete.
    Running the same task again (a retry, a resumed sweep) returns the finished record.
    """
    from course_lib import runner

    path = Path(notebook)
    final = task_dir(Path(out), path.stem, seed)
    done = final / TASK_FILE
    if done.exists():
        return json.loads(done.read_text())
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}-", dir=final.parent))
    result = runner.execute_one(path, staging, profile, seed, timeout, progress=lambda _: None)
    record = dict(result.as_dict(), notebook=path.stem, seed=seed, profile=profile,
                  claim_list=result.claims)
    metrics_file = staging / f"{path.stem}.metrics.json"
    record["metric_values"] = _metric_values(metrics_file)
    metrics.atomic_write_json(staging / TASK_FILE, record)
    if done.exists():  # another attempt (e.g. a worker thought dead) finished first
        shutil.rmtree(staging, ignore_errors=True)
        return json.loads(done.read_text())
    if final.exists():  # a staging folder left by a crash: never complete, safe to drop
        shutil.rmtree(final)
    os.replace(staging, final)
    return record


def _metric_values(sidecar: Path) -> dict[str, Any]:
    try:
        data = json.loads(sidecar.read_text())
        return {k: m.get("value") for k, m in data.get("metrics", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def finished_records(out: Path) -> list[dict[str, Any]]:
    """Return the ``task.json`` records of every finished task under ``out``."""
    records = []
    for done in sorted(Path(out).glob(f"seed-*/*/{TASK_FILE}")):
        try:
            records.append(json.loads(done.read_text()))
        except (OSError, ValueError):
            continue  # unreadable: treated as not done, and run again on --resume
    return records


# -- the sweep ------------------------------------------------------------------------------


@dataclass
class SweepSummary:
    """The outcome of a sweep: its folder, ``sweep.json``'s content and the exit status."""

    out: Path
    report: dict[str, Any]
    exit_code: int


def _prepare_out(out: str | Path | None, profile: str, resume: bool) -> Path:
    if out is None:
        if resume:
            raise ValueError("--resume needs --out DIR, the sweep folder to complete")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"sweep-{stamp}-{profile}"
    path = Path(out)
    config = path / CONFIG_FILE
    if resume:
        if not config.exists():
            raise ValueError(f"out folder {str(path)!r} holds no sweep to resume "
                             f"({CONFIG_FILE} missing)")
        earlier = json.loads(config.read_text())
        if earlier.get("profile") != profile:
            raise ValueError(f"the sweep in {str(path)!r} ran at profile "
                             f"{earlier.get('profile')!r}; resume it with --profile "
                             f"{earlier.get('profile')}")
    elif path.exists() and any(path.iterdir()):
        raise ValueError(f"out folder {str(path)!r} is not empty; choose a new one or --resume")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_sweep(
    seeds: Sequence[int] | str,
    profile: str | None = None,
    notebooks: Sequence[str] | None = None,
    out: str | Path | None = None,
    *,
    scheduler: str | None = "local",
    workers: int | None = None,
    resume: bool = False,
    timeout: float | None = None,
    notebook_dir: str | Path | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Run ``notebooks`` x ``seeds`` on Dask and write ``sweep.json``, ``sweep.html`` and
    ``sweep.md``.

    Args:
        seeds: seeds, or a text such as ``"1-10"`` (see :func:`parse_seeds`).
        profile: ``smoke``, ``cpu`` or ``gpu`` (default: the current profile).
        notebooks: numbers or names as for ``course run`` (default: all).
        out: the sweep folder (default ``runs/sweep-<time>-<profile>``).
        scheduler: ``"local"`` (a new ``LocalCluster``) or a scheduler address.
        workers: worker processes of the local cluster (default :func:`default_workers`).
        resume: complete the sweep in ``out``, running only the tasks not finished there.
        timeout: seconds per notebook (default as for ``course run``).
        notebook_dir: where the notebooks are (default: the course's).
        progress: show a progress bar with ETA (tqdm) and one line per finished task.
    """
    from course_lib import runner

    seed_list = parse_seeds(seeds) if isinstance(seeds, str) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds: the set is empty; give e.g. --seeds 1-10")
    if any(s < 0 or s > 2**32 - 1 for s in seed_list):
        raise ValueError("seeds must lie in 0..4294967295")
    profile = profiles.current_profile() if profile is None else profiles.check_profile(profile)
    scheduler = _check_scheduler(scheduler)
    workers = default_workers() if workers is None else _check_workers(workers)
    timeout = runner.check_timeout(runner.DEFAULT_TIMEOUT[profile] if timeout is None
                                   else timeout)
    chosen = runner.select(notebooks, notebook_dir)
    if scheduler != "local":  # an unreachable scheduler fails before any folder is made
        connect(scheduler, CONNECT_TIMEOUT_S).close()
    path = _prepare_out(out, profile, resume)
    metrics.atomic_write_json(path / CONFIG_FILE, {
        "profile": profile, "seeds": seed_list, "notebooks": [p.stem for p in chosen],
        "timeout_s": timeout, "scheduler": scheduler})
    todo = [(nb, s) for s in seed_list for nb in chosen
            if not (task_dir(path, nb.stem, s) / TASK_FILE).exists()]
    say = _printer(progress)
    say(f"course sweep: {len(chosen)} notebook(s) x {len(seed_list)} seed(s) at profile "
        f"'{profile}' -> {path}; {len(todo)} task(s) to run"
        + (f", {len(chosen) * len(seed_list) - len(todo)} already done" if resume else "")
        + (f" on {workers} local worker(s)" if scheduler == "local" else f" on {scheduler}"))
    if todo:
        try:
            _run_tasks(todo, path, profile, timeout, scheduler, workers, progress)
        except KeyboardInterrupt:
            kept = len(finished_records(path))
            print(f"course sweep: interrupted; the {kept} finished task(s) are kept in {path}. "
                  f"Finish the sweep with the same arguments plus: --out {path} --resume",
                  flush=True)
            raise
    records = [r for r in finished_records(path)
               if r.get("seed") in seed_list and r.get("notebook") in {p.stem for p in chosen}]
    report = robustness(records, profile)
    report.update(seeds=seed_list, notebooks=[p.stem for p in chosen],
                  missing_tasks=[f"seed-{s}/{nb.stem}" for s in seed_list for nb in chosen
                                 if not (task_dir(path, nb.stem, s) / TASK_FILE).exists()])
    failed = [f"seed-{r['seed']}/{r['notebook']}" for r in records if r.get("status") != "ok"]
    flagged = [c["key"] for c in report["claims"] if c["flagged"]]
    exit_code = 1 if failed or flagged or report["missing_tasks"] else 0
    report.update(failed_tasks=failed, flagged_claims=flagged, exit_code=exit_code)
    metrics.atomic_write_json(path / "sweep.json", report)
    metrics.atomic_write_text(path / "sweep.html", render_html(report))
    metrics.atomic_write_text(path / "sweep.md", render_markdown(report))
    say(f"done: {len(records)} task(s), {len(failed)} failed; "
        f"{len(report['claims'])} claim(s), {len(flagged)} flagged (held in < "
        f"{FLAG_BELOW:.0%} of the seeds)")
    for key in flagged:
        say(f"  flagged: {key}")
    say(f"report: {path / 'sweep.html'}")
    return SweepSummary(path, report, exit_code)


def _printer(enabled: bool) -> Callable[[str], None]:
    def say(line: str) -> None:
        if enabled:
            print(line, flush=True)

    return say


def _run_tasks(todo, out: Path, profile: str, timeout: float, scheduler: str, workers: int,
               progress: bool) -> None:
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    with _client(scheduler, workers) as client:
        futures = [client.submit(run_task, str(nb.resolve()), str(out.resolve()), profile, seed,
                                 timeout, key=f"course-{nb.stem}-seed{seed}-{time.time_ns()}",
                                 pure=False, retries=2)
                   for nb, seed in todo]
        bar = tqdm(total=len(futures), unit="task", desc="sweep", disable=not progress,
                   mininterval=5.0)
        try:
            for future in as_completed(futures):
                try:
                    record = future.result()
                    bar.write(f"  seed-{record['seed']}/{record['notebook']}: "
                              f"{record['status']} in {record['wall_s']:.0f} s")
                except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
                    bar.write(f"  a task failed on the cluster: {type(exc).__name__}: {exc}")
                bar.update(1)
        finally:
            bar.close()


# -- robustness -----------------------------------------------------------------------------


def _spread(values: Iterable[float]) -> dict[str, float] | None:
    numbers = [float(v) for v in values
               if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    if not numbers:
        return None
    return {"n": len(numbers), "mean": statistics.fmean(numbers),
            "std": statistics.stdev(numbers) if len(numbers) > 1 else 0.0,
            "min": min(numbers), "max": max(numbers)}


def robustness(records: Sequence[dict[str, Any]], profile: str) -> dict[str, Any]:
    """Summarise finished task records: per claim held in k of n seeds, per notebook spreads.

    A seed whose notebook ran but never made a claim counts against the claim (a claim that
    vanishes at some seeds is not sturdy). Claims checked at none of the seeds (e.g. at the
    ``smoke`` profile) are listed as "not checked" and never flagged.
    """
    by_notebook: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_notebook.setdefault(record["notebook"], []).append(record)
    claims, notebooks = [], []
    for name in sorted(by_notebook):
        runs = sorted(by_notebook[name], key=lambda r: r["seed"])
        notebooks.append({
            "notebook": name, "seeds": [r["seed"] for r in runs],
            "ok": sum(r.get("status") == "ok" for r in runs),
            "wall_s": _spread(r.get("wall_s") for r in runs),
            "peak_rss_mb": _spread(r.get("peak_rss_mb") for r in runs),
        })
        ids: list[str] = []
        for run in runs:
            for c in run.get("claim_list", []):
                if c.get("id") not in ids:
                    ids.append(c.get("id"))
        for claim_id in ids:
            made = {r["seed"]: next((c for c in r.get("claim_list", [])
                                     if c.get("id") == claim_id), None) for r in runs}
            verdicts = {s: (c or {}).get("verdict", "missing") for s, c in made.items()}
            checked = [s for s, v in verdicts.items() if v != "not checked"]
            held = [s for s in checked if verdicts[s] == "true"]
            texts = [c.get("text", "") for c in made.values() if c]
            keys = sorted({k for c in made.values() if c for k in (c.get("values") or {})})
            values = {k: _spread((c.get("values") or {}).get(k) for c in made.values() if c)
                      for k in keys}
            fraction = len(held) / len(checked) if checked else None
            claims.append({
                "key": f"{name}:{claim_id}", "notebook": name, "id": claim_id,
                "text": texts[0] if texts else "", "held": len(held), "checked": len(checked),
                "fraction": fraction, "failed_seeds": [s for s in checked if s not in held],
                "flagged": fraction is not None and fraction < FLAG_BELOW,
                "values": {k: v for k, v in values.items() if v is not None},
            })
    return {"profile": profile, "flag_below": FLAG_BELOW, "claims": claims,
            "notebook_stats": notebooks}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_html(report: dict[str, Any]) -> str:
    """Return a self-contained HTML page of a sweep's robustness table (every value escaped)."""
    esc = html.escape
    rows = []
    for c in report.get("claims", []):
        held = "not checked" if not c["checked"] else f"{c['held']} / {c['checked']}"
        spread = "; ".join(f"{esc(str(k))}: {_fmt(v['mean'])} ± {_fmt(v['std'])} "
                           f"[{_fmt(v['min'])}, {_fmt(v['max'])}]"
                           for k, v in c.get("values", {}).items())
        css = "flag" if c["flagged"] else ("ok" if c["checked"] else "nc")
        rows.append(f"<tr class='{css}'><td>{esc(c['notebook'])}</td><td>{esc(c['id'])}</td>"
                    f"<td>{esc(c.get('text', ''))}</td><td>{esc(held)}</td>"
                    f"<td>{spread}</td></tr>")
    nb_rows = []
    for n in report.get("notebook_stats", []):
        def cell(s):
            return "—" if not s else f"{_fmt(s['mean'])} ± {_fmt(s['std'])} (max {_fmt(s['max'])})"
        nb_rows.append(f"<tr><td>{esc(n['notebook'])}</td><td>{n['ok']} / {len(n['seeds'])}"
                       f"</td><td>{cell(n['wall_s'])}</td><td>{cell(n['peak_rss_mb'])}</td></tr>")
    seeds = ", ".join(str(s) for s in report.get("seeds", []))
    problems = "".join(f"<li>{esc(str(x))}</li>" for x in
                       report.get("failed_tasks", []) + report.get("missing_tasks", []))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Course sweep</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}tr.flag{{background:#fdd}}
tr.ok{{background:#efe}}tr.nc{{color:#777}}</style></head><body>
<h1>Sweep at profile {esc(str(report.get('profile')))}</h1>
<p>Seeds: {esc(seeds)}. A claim is flagged when it holds in fewer than
{report.get('flag_below', FLAG_BELOW):.0%} of the seeds where it was checked.</p>
<h2>Claims</h2><table><tr><th>notebook</th><th>claim</th><th>statement</th><th>held</th>
<th>values: mean ± std [min, max]</th></tr>{''.join(rows)}</table>
<h2>Notebooks</h2><table><tr><th>notebook</th><th>ok</th><th>wall time (s)</th>
<th>peak memory (MB)</th></tr>{''.join(nb_rows)}</table>
{'<h2>Failed or missing tasks</h2><ul>' + problems + '</ul>' if problems else ''}
</body></html>
"""


def render_markdown(report: dict[str, Any]) -> str:
    """Return the robustness tables as Markdown (for ``docs/claims.md`` or a pull request)."""
    def text(value: Any) -> str:  # one table cell: no pipes or line breaks from a statement
        return " ".join(str(value).replace("|", "\\|").split())

    def spread(s: dict[str, float] | None) -> str:
        return "—" if not s else f"{_fmt(s['mean'])} ± {_fmt(s['std'])} (max {_fmt(s['max'])})"

    seeds = ", ".join(str(s) for s in report.get("seeds", []))
    lines = [f"Profile `{text(report.get('profile'))}`, seeds {text(seeds)}. A claim is flagged "
             f"(**!**) when it holds in fewer than {report.get('flag_below', FLAG_BELOW):.0%} "
             f"of the seeds where it was checked.", "",
             "| notebook | claim | statement | held | values: mean ± std [min, max] |",
             "|---|---|---|---|---|"]
    for c in report.get("claims", []):
        held = "not checked" if not c["checked"] else f"{c['held']}/{c['checked']}"
        if c.get("flagged"):
            held = f"**{held} !** (failed at seeds {', '.join(map(str, c['failed_seeds']))})"
        values = "; ".join(f"{text(k)}: {_fmt(v['mean'])} ± {_fmt(v['std'])} "
                           f"[{_fmt(v['min'])}, {_fmt(v['max'])}]"
                           for k, v in c.get("values", {}).items())
        lines.append(f"| {text(c['notebook'][:2])} | `{text(c['id'])}` | {text(c.get('text', ''))}"
                     f" | {held} | {values} |")
    lines += ["", "| notebook | ok | wall time (s) | peak memory (MB) |", "|---|---|---|---|"]
    for n in report.get("notebook_stats", []):
        lines.append(f"| {text(n['notebook'])} | {n['ok']}/{len(n['seeds'])} | "
                     f"{spread(n['wall_s'])} | {spread(n['peak_rss_mb'])} |")
    problems = report.get("failed_tasks", []) + report.get("missing_tasks", [])
    if problems:
        lines += ["", "Failed or missing tasks:", ""] + [f"- {text(x)}" for x in problems]
    return "\n".join(lines) + "\n"


# -- map inside notebooks -------------------------------------------------------------------


_scheduler_clients: dict[str, Any] = {}


def _active_client() -> Any | None:
    """Return the active Dask client, one for ``$COURSE_DASK_SCHEDULER``, or None."""
    try:
        from dask.distributed import get_client
    except ImportError:  # pragma: no cover - dask is a dependency
        return None
    try:
        return get_client()
    except ValueError:
        pass
    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address:
        return None
    if address not in _scheduler_clients:
        _scheduler_clients[address] = connect(address)
    return _scheduler_clients[address]


def map(fn: Callable[[Any], Any], configs: Iterable[Any], *, client: Any = None) -> list[Any]:  # noqa: A001
    """Return ``[fn(c) for c in configs]``, computed on Dask when a client is active.

    The function runs on the given ``client``, else on the active Dask client, else on the
    scheduler named by ``$COURSE_DASK_SCHEDULER``, else here in order. ``fn`` must take
    everything it depends on (seed included) from its configuration, so the results are the
    same wherever it runs; they come back in the order of ``configs``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(configs, str | bytes) or not isinstance(configs, Iterable):
        raise TypeError("configs must be a list of configurations")
    items = list(configs)
    if client is None:
        client = _active_client()
    if client is None or not items:
        return [fn(item) for item in items]
    futures = client.map(fn, items, pure=False)
    return builtins.list(client.gather(futures))
