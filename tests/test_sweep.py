"""course_lib.sweep: seeds x notebooks on Dask, robustness, resume, worker death, map."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib import cli, sweep

FIXTURES = Path(__file__).parent / "fixtures" / "sweep_notebooks"
BROKEN = Path(__file__).parent / "fixtures" / "notebooks"
DASK = str(Path(sys.executable).parent / "dask")


# -- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seeds"), [
    ("1-3", [1, 2, 3]), ("5", [5]), ("1,3,5", [1, 3, 5]), ("1-2, 7", [1, 2, 7]),
    ("2,2,1-2", [2, 1]), ("0-0", [0]),
])
def test_parse_seeds(text, seeds):
    assert sweep.parse_seeds(text) == seeds


@pytest.mark.parametrize(("text", "message"), [
    ("3-1", "runs backwards"), ("", "empty"), (" , ", "empty"), ("a-b", "not a seed"),
    ("1-", "not a seed"), ("-1", "not a seed"), ("1-20000", "at most"),
    ("4294967296", "<= 4294967295"),
])
def test_parse_seeds_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        sweep.parse_seeds(text)


def test_parse_seeds_needs_text():
    with pytest.raises(TypeError, match="seeds must be a string"):
        sweep.parse_seeds([1, 2])


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (4, 2), (16, 8), (64, 8)])
def test_default_workers_leave_room_for_tensorflow_threads(cores, workers):
    assert sweep.default_workers(cores) == workers


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"seeds": "3-1"}, ValueError, "backwards"),
    ({"seeds": []}, ValueError, "empty"),
    ({"profile": "laptop"}, ValueError, "profile"),
    ({"workers": 0}, ValueError, "workers must be between 1 and 256"),
    ({"workers": 2.5}, TypeError, "workers must be an int"),
    ({"scheduler": "localhost:8786"}, ValueError, "tcp://HOST"),
    ({"resume": True}, ValueError, "--resume needs --out"),
    ({"notebooks": ["99"]}, ValueError, "unknown notebook"),
])
def test_run_sweep_refuses_bad_arguments(kwargs, error, message):
    args = {"seeds": "1", "profile": "smoke", "notebooks": ["00"],
            "notebook_dir": FIXTURES, "progress": False} | kwargs
    with pytest.raises(error, match=message):
        sweep.run_sweep(**args)


def test_out_folder_must_be_new_unless_resuming(tmp_path):
    (tmp_path / "something").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        sweep.run_sweep("1", "smoke", ["00"], tmp_path, notebook_dir=FIXTURES, progress=False)
    with pytest.raises(ValueError, match="no sweep to resume"):
        sweep.run_sweep("1", "smoke", ["00"], tmp_path, resume=True, notebook_dir=FIXTURES,
                        progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT_S", 3.0)
    started = time.monotonic()
    with pytest.raises(ValueError, match="could not be reached"):
        sweep.run_sweep("1", "smoke", ["00"], tmp_path / "s", notebook_dir=FIXTURES,
                        scheduler=f"tcp://127.0.0.1:{_free_port()}", progress=False)
    assert time.monotonic() - started < 60
    assert not (tmp_path / "s").exists()  # nothing half-made to clean up


# -- robustness -----------------------------------------------------------------------------


def _record(seed, verdict, value=None, status="ok", wall=1.0):
    claims = [] if verdict is None else [{"id": "c", "text": "t", "verdict": verdict,
                                          "values": {"v": value}}]
    return {"notebook": "nb", "seed": seed, "status": status, "wall_s": wall,
            "peak_rss_mb": 100.0, "claim_list": claims}


def test_robustness_counts_seeds_and_flags_below_ninety_percent():
    records = [_record(s, "true", float(s)) for s in range(1, 10)] + [_record(10, "false", 10.0)]
    claim = sweep.robustness(records, "cpu")["claims"][0]
    assert (claim["held"], claim["checked"], claim["flagged"]) == (9, 10, False)
    assert claim["failed_seeds"] == [10]
    assert claim["values"]["v"]["mean"] == pytest.approx(5.5)
    assert claim["values"]["v"]["min"] == 1.0 and claim["values"]["v"]["max"] == 10.0
    records[0] = _record(1, "false", 1.0)
    claim = sweep.robustness(records, "cpu")["claims"][0]
    assert (claim["held"], claim["flagged"]) == (8, True)


def test_robustness_counts_a_vanished_claim_against_it_and_ignores_unchecked():
    records = [_record(1, "true"), _record(2, None, status="failed")]
    claim = sweep.robustness(records, "cpu")["claims"][0]
    assert (claim["held"], claim["checked"], claim["flagged"]) == (1, 2, True)
    unchecked = sweep.robustness([_record(1, "not checked")], "smoke")["claims"][0]
    assert unchecked["checked"] == 0 and not unchecked["flagged"]


def test_sweep_html_escapes_everything():
    records = [_record(1, "true", 1.0)]
    records[0]["claim_list"][0]["text"] = "<script>alert(1)</script>"
    records[0]["notebook"] = "x'/onmouseover='alert(1)"
    page = sweep.render_html(sweep.robustness(records, "cpu") | {"seeds": [1]})
    assert "<script>alert" not in page and "'/onmouseover='" not in page
    assert "&lt;script&gt;" in page


def test_sweep_markdown_keeps_one_row_per_claim_and_flags():
    records = [_record(1, "true", 1.0), _record(2, "false", 3.0)]
    records[0]["claim_list"][0]["text"] = "a | b\nc"
    table = sweep.render_markdown(sweep.robustness(records, "cpu") | {"seeds": [1, 2]})
    [row] = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert "a \\| b c" in row and "**1/2 !** (failed at seeds 2)" in row
    assert "seeds 1, 2" in table


# -- map ------------------------------------------------------------------------------------


def _square_plus_noise(config):
    import numpy as np

    return float(config["x"] ** 2 + np.random.default_rng(config["seed"]).normal())


def test_map_same_results_locally_and_on_a_cluster(monkeypatch):
    from dask.distributed import Client, LocalCluster

    monkeypatch.delenv(sweep.SCHEDULER_ENV, raising=False)
    configs = [{"x": x, "seed": s} for x in range(3) for s in (1, 2)]
    local = sweep.map(_square_plus_noise, configs)
    assert local == [_square_plus_noise(c) for c in configs]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        assert sweep.map(_square_plus_noise, configs) == local  # the active client
        assert sweep.map(_square_plus_noise, configs, client=client) == local
    assert sweep.map(_square_plus_noise, []) == []


@pytest.mark.parametrize(("fn", "configs", "error"), [
    (None, [1], TypeError), (abs, "abc", TypeError), (abs, 5, TypeError),
])
def test_map_refuses_bad_arguments(fn, configs, error):
    with pytest.raises(error):
        sweep.map(fn, configs)


# -- whole sweeps (kernels; slow) -----------------------------------------------------------


def _summary(out: Path) -> dict:
    """What must not depend on where a sweep ran: per task, status, verdicts and metrics."""
    rows = {}
    for record in sweep.finished_records(out):
        verdicts = {c["id"]: c["verdict"] for c in record["claim_list"]}
        rows[(record["notebook"], record["seed"])] = (record["status"], verdicts,
                                                      record["metric_values"])
    return rows


@pytest.mark.slow
def test_local_sweep_two_seeds_two_notebooks(tmp_path):
    out = tmp_path / "sweep"
    folder = tmp_path / "nbs"
    folder.mkdir()
    for src in (FIXTURES / "00_seeded.ipynb", BROKEN / "03_false_claim.ipynb"):
        (folder / src.name).write_bytes(src.read_bytes())
    result = sweep.run_sweep("2-3", "smoke", None, out, workers=2, notebook_dir=folder,
                             progress=False)
    report = json.loads((out / "sweep.json").read_text())
    claims = {c["key"]: c for c in report["claims"]}
    assert (claims["00_seeded:small"]["held"], claims["00_seeded:small"]["checked"]) == (1, 2)
    assert claims["00_seeded:always"]["held"] == 2
    assert claims["03_false_claim:loss_small"]["flagged"]
    assert claims["00_seeded:small"]["values"]["twice_seed"]["mean"] == pytest.approx(5.0)
    assert result.exit_code == 1 and set(report["flagged_claims"]) == {
        "00_seeded:small", "03_false_claim:loss_small"}
    assert {n["notebook"]: n["ok"] for n in report["notebook_stats"]} == {
        "00_seeded": 2, "03_false_claim": 2}
    for seed in (2, 3):
        task = out / f"seed-{seed}" / "00_seeded"
        assert (task / "00_seeded.ipynb").exists() and (task / "00_seeded.log").exists()
        assert json.loads((task / "00_seeded.metrics.json").read_text())["seed"] == seed
    assert "<table>" in (out / "sweep.html").read_text()
    table = (out / "sweep.md").read_text()
    assert "| notebook | claim | statement | held |" in table
    assert all(f"`{c['id']}`" in table for c in report["claims"])


@pytest.mark.slow
def test_resume_runs_only_the_missing_tasks(tmp_path):
    out = tmp_path / "sweep"
    sweep.run_sweep("1-2", "smoke", ["00"], out, workers=1, notebook_dir=FIXTURES,
                    progress=False)
    kept = out / "seed-1" / "00_seeded" / "task.json"
    kept_mtime = kept.stat().st_mtime_ns
    # an interrupted sweep: seed 2 never finished, and a crashed attempt left a staging folder
    import shutil

    shutil.rmtree(out / "seed-2" / "00_seeded")
    (out / "seed-2" / ".00_seeded-crashed").mkdir()
    (out / "seed-2" / "00_seeded").mkdir()  # half-moved: no task.json
    with pytest.raises(ValueError, match="profile 'smoke'"):
        sweep.run_sweep("1-2", "cpu", ["00"], out, resume=True, notebook_dir=FIXTURES,
                        progress=False)
    result = sweep.run_sweep("1-2", "smoke", ["00"], out, resume=True, workers=1,
                             notebook_dir=FIXTURES, progress=False)
    assert kept.stat().st_mtime_ns == kept_mtime  # not run again
    assert (out / "seed-2" / "00_seeded" / "task.json").exists()
    assert result.report["missing_tasks"] == []
    assert [c["checked"] for c in result.report["claims"]] == [2, 2]


def _start(command, **kwargs):
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, **kwargs)


def _stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=30)


@pytest.fixture
def dask_cluster(tmp_path):
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, SWEEP_TEST_SLEEP_S="4")
    scheduler = _start([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--dashboard-address", ":0"], env=env)
    workers = [_start([DASK, "worker", address, "--nthreads", "1", "--no-nanny",
                       "--no-dashboard"], env=env) for _ in range(2)]
    try:
        from dask.distributed import Client

        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout="5s", set_as_default=False) as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the test's dask cluster did not come up within 120 s")
            time.sleep(1)
        yield address, workers
    finally:
        for proc in [*workers, scheduler]:
            _stop(proc)


@pytest.mark.slow
def test_sweep_on_a_scheduler_address_survives_a_killed_worker(tmp_path, dask_cluster,
                                                               monkeypatch):
    address, workers = dask_cluster
    reference = tmp_path / "serial"
    monkeypatch.setenv("SWEEP_TEST_SLEEP_S", "0")
    sweep.run_sweep("1-3", "smoke", ["00"], reference, workers=1, notebook_dir=FIXTURES,
                    progress=False)
    out = tmp_path / "remote"
    import threading

    def kill_one_worker_once_busy():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if list(out.glob("seed-*/.00_seeded-*")):  # a task has started on some worker
                time.sleep(1)
                _stop(workers[0])
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one_worker_once_busy, daemon=True)
    killer.start()
    result = sweep.run_sweep("1-3", "smoke", ["00"], out, scheduler=address,
                             notebook_dir=FIXTURES, progress=False)
    killer.join(timeout=5)
    assert workers[0].poll() is not None, "the worker was not killed during the sweep"
    assert result.report["missing_tasks"] == [] and result.report["failed_tasks"] == []
    assert _summary(out) == _summary(reference)


@pytest.mark.slow
def test_map_on_the_scheduler_named_by_the_environment(dask_cluster, monkeypatch):
    address, _ = dask_cluster
    monkeypatch.setenv(sweep.SCHEDULER_ENV, address)
    configs = [{"x": x, "seed": 3} for x in range(4)]

    # defined here, like a function in a notebook: Dask ships it by value to the workers
    def noisy_square(config):
        import numpy as np

        return float(config["x"] ** 2 + np.random.default_rng(config["seed"]).normal())

    try:
        assert sweep.map(noisy_square, configs) == [noisy_square(c) for c in configs]
    finally:
        for client in sweep._scheduler_clients.values():
            client.close()
        sweep._scheduler_clients.clear()


@pytest.mark.slow
def test_cli_sweep_smoke_against_a_scheduler(tmp_path, dask_cluster):
    address, _ = dask_cluster
    done = subprocess.run(
        [sys.executable, "-m", "course_lib.cli", "sweep", "--seeds", "1-2", "--profile", "smoke",
         "--notebooks", "00", "--notebook-dir", str(FIXTURES), "--scheduler", address,
         "--out", str(tmp_path / "s")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 task(s), 0 failed" in done.stdout
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())["exit_code"] == 0


def test_ctrl_c_keeps_finished_tasks_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(todo, out, *args):
        sweep.run_task(str(todo[0][0].resolve()), str(out.resolve()), "smoke", todo[0][1], 60.0)
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "_run_tasks", interrupted)
    out = tmp_path / "s"
    code = cli.main(["sweep", "--seeds", "1-2", "--profile", "smoke", "--notebooks", "00",
                     "--out", str(out), "--notebook-dir", str(FIXTURES)])
    said = capsys.readouterr().out
    assert code == 130
    assert "interrupted; the 1 finished task(s) are kept" in said and "--resume" in said
    assert len(sweep.finished_records(out)) == 1
