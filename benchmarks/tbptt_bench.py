"""Benchmark course_lib.tbptt (not a test: timings depend on the machine).

Two measurements in one run, on the same data and the same network:

1. TBPTT(k, k) with :class:`course_lib.tbptt.TBPTTTrainer` against Keras' own way of
   doing it -- a stateful model fed ``k``-step chunks by ``fit`` -- as throughput
   (sequence steps per second); goal: ours >= 0.9x Keras.
2. The cost of several (k1, k2) pairs relative to TBPTT(k, k), against a cost model:
   the steps that run under the gradient tape (about ``k2 / k1`` per step) plus, for
   ``k2_mode="last_k2"``, the steps run forward only, each weighted by the measured cost
   of a forward-only step relative to a forward+backward one; goal: within 15 %.

Every time is taken twice: wall-clock seconds and the process's CPU seconds
(``time.process_time``, all threads). On a CPU-only machine shared with other jobs the
wall clock measures the scheduler as much as the code, so the comparisons use CPU time
there; with a GPU they use the wall clock (the work is on the device). Epochs of the
things compared alternate round-robin, so a burst of load hits them alike, and the
trainer's trace counter checks that no epoch that was timed traced a graph.

Usage::

    python benchmarks/tbptt_bench.py [OUT_DIR] [--quick] [--record docs/benchmarks.md]

Prints a table, saves ``tbptt_bench.png`` and ``tbptt_bench.json`` to ``OUT_DIR``
(default ``benchmarks/out/``) and, with ``--record``, writes the results and a
description of the machine into that Markdown file between marker comments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from course_lib import data, tbptt  # noqa: E402

START, END = "<!-- tbptt-bench:start -->", "<!-- tbptt-bench:end -->"


def machine() -> dict:
    """Describe the machine the numbers come from."""
    import psutil
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def measure(run) -> tuple[float, float]:
    """Return ``(wall seconds, CPU seconds)`` of ``run()``.

    ``run`` must wait for the device before returning (``TBPTTTrainer.fit`` reads its
    losses back; Keras ``fit`` returns numbers), so device work is inside the time.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def choose_clock(gpus: list) -> str:
    """Return the clock the comparisons use: ``"wall"`` with a GPU, else ``"cpu"``."""
    return "wall" if gpus else "cpu"


def keras_vs_tbptt(x, y, k: int, units: int, repeats: int, clock: str = "cpu") -> dict:
    """Time epochs of Keras stateful fit and of TBPTTTrainer(k, k) on the same data.

    The two alternate epoch by epoch, so a burst of load from other processes on a
    shared machine hits both alike; each gets the median of its ``repeats`` epochs on
    ``clock`` (``"wall"`` or ``"cpu"``).
    """
    batch = len(x)
    theirs = tbptt.lstm_stack(x.shape[2], units, stateful=True, batch_size=batch, seed=0)
    theirs.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    ours = tbptt.lstm_stack(x.shape[2], units, seed=0)
    trainer = tbptt.TBPTTTrainer(ours, k, k, keras.optimizers.Adam(1e-3))
    runs = {
        "keras": lambda: tbptt.keras_stateful_fit(theirs, x, y, k, epochs=1),
        "tbptt": lambda: trainer.fit(x, y, epochs=1, shuffle=False, verbose=0),
    }
    times = {name: {"wall": [], "cpu": []} for name in runs}
    for run in runs.values():
        run()  # warm-up: tracing and first-run graph optimisation are not compared
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = measure(run)
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
    keras_s = statistics.median(times["keras"][clock])
    ours_s = statistics.median(times["tbptt"][clock])
    steps = x.shape[0] * x.shape[1]
    return {"k": k, "clock": clock, "keras_seconds": keras_s, "tbptt_seconds": ours_s,
            "keras_wall": statistics.median(times["keras"]["wall"]),
            "tbptt_wall": statistics.median(times["tbptt"]["wall"]),
            "keras_steps_per_s": steps / keras_s, "tbptt_steps_per_s": steps / ours_s,
            "ratio": keras_s / ours_s, "keras_all": times["keras"], "tbptt_all": times["tbptt"]}


def step_counts(seq_len: int, k1: int, k2: int, k2_mode: str) -> tuple[int, int, int]:
    """Return ``(steps under the tape, steps run forward only, updates)`` per sequence."""
    plan = tbptt.plan_updates(seq_len, k1, k2, k2_mode)
    return (sum(u.backprop_steps for u in plan), sum(u.grad_from - u.start for u in plan),
            len(plan))


def cost_sweep(x, y, pairs, units: int, repeats: int, clock: str = "cpu") -> dict:
    """Time epochs of every (k1, k2, k2_mode) in ``pairs`` against the cost model.

    One trainer is restarted from the same weights before every epoch, so every epoch of
    a pair does the same work. After one warm-up epoch per pair (which traces the graphs
    of every structure), the pairs take turns epoch by epoch, ``repeats`` rounds. A
    forward-only epoch (every loss weight 0: the trainer only carries the state along)
    measures ``phi``, the cost of a step run forward only relative to a step run
    forward and backward; the model predicts ``tape + phi * forward_only`` steps.

    Returns:
        ``{"rows": [...], "phi": float, "retraces": int}``; each row has ``k1, k2,
        k2_mode, updates, seconds, wall, tape_steps, free_steps, predicted, measured,
        deviation`` (relative to the first pair).
    """
    seq_len = x.shape[1]
    model = tbptt.lstm_stack(x.shape[2], units, seed=0)
    start = model.get_weights()
    trainer = tbptt.TBPTTTrainer(model, pairs[0][0], pairs[0][1], keras.optimizers.Adam(1e-3))
    k = pairs[0][0]
    silent = np.zeros(seq_len, np.float32)

    def epoch(pair, step_weights=None):
        k1, k2, k2_mode = pair
        trainer.restart(start, k1, k2, k2_mode)
        return measure(lambda: trainer.fit(x, y, epochs=1, shuffle=False, verbose=0,
                                           step_weights=step_weights))

    forward_pair = (k, k, "cut_every_k2")
    for pair in pairs:
        epoch(pair)  # warm-up: traces every structure
    epoch(forward_pair, silent)
    traced = trainer.traces
    times = {pair: {"wall": [], "cpu": []} for pair in pairs}
    forward = {"wall": [], "cpu": []}
    for _ in range(repeats):
        for pair in pairs:
            wall, cpu = epoch(pair)
            times[pair]["wall"].append(wall)
            times[pair]["cpu"].append(cpu)
        wall, cpu = epoch(forward_pair, silent)
        forward["wall"].append(wall)
        forward["cpu"].append(cpu)
    retraces = trainer.traces - traced
    base_tape = step_counts(seq_len, *pairs[0])[0]
    # the forward-only epoch runs every update but the last up to its stored state
    forward_steps = sum(u.store - u.start for u in tbptt.plan_updates(seq_len, k, k)
                        if u.store is not None)
    base_seconds = statistics.median(times[pairs[0]][clock])
    phi = statistics.median(forward[clock]) / base_seconds * base_tape / forward_steps
    rows = []
    for pair in pairs:
        tape, free, updates = step_counts(seq_len, *pair)
        seconds = statistics.median(times[pair][clock])
        predicted = (tape + phi * free) / base_tape
        measured = seconds / base_seconds
        rows.append({"k1": pair[0], "k2": pair[1], "k2_mode": pair[2], "updates": updates,
                     "seconds": seconds, "wall": statistics.median(times[pair]["wall"]),
                     "tape_steps": tape, "free_steps": free, "predicted": predicted,
                     "measured": measured, "deviation": measured / predicted - 1.0})
    return {"rows": rows, "phi": phi, "retraces": retraces, "clock": clock,
            "fit": per_update_fit(rows, phi)}


def per_update_fit(rows: list[dict], phi: float) -> dict:
    """Fit ``seconds = c * updates + s * (tape + phi * forward_only)`` by least squares.

    The cost model above has no per-update term; this fit says how large one is (the
    optimizer step, the loss, Python dispatch and slicing of every update) and how well
    the two terms together describe the measurements.

    Returns:
        ``{"per_update", "per_step", "share_first", "worst_residual"}``: seconds per
        update and per step, the per-update share of the first row's time, and the largest
        relative residual.
    """
    a = np.array([[r["updates"], r["tape_steps"] + phi * r["free_steps"]] for r in rows])
    t = np.array([r["seconds"] for r in rows])
    (c, per_step), *_ = np.linalg.lstsq(a, t, rcond=None)
    worst = float(np.max(np.abs(a @ [c, per_step] / t - 1.0)))
    return {"per_update": float(c), "per_step": float(per_step),
            "share_first": float(c * rows[0]["updates"] / rows[0]["seconds"]),
            "worst_residual": worst}


def plot(result: dict, path: Path) -> None:
    """Save the two panels: throughput, and measured vs predicted cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib import plots

    head = result["throughput"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    names = ["Keras stateful fit", f"TBPTTTrainer({head['k']},{head['k']})"]
    left.bar(names, [head["keras_steps_per_s"], head["tbptt_steps_per_s"]],
             color=[plots.color_for("bptt"), plots.color_for("tbptt")])
    left.set_title(f"TBPTT(k,k) throughput (ratio {head['ratio']:.2f})")
    left.set_ylabel(f"sequence steps per {'CPU ' if head['clock'] == 'cpu' else ''}second")
    rows = result["cost"]["rows"]
    predicted = [r["predicted"] for r in rows]
    right.plot(predicted, [r["measured"] for r in rows], "o", color=plots.color_for("tbptt"),
               label="measured")
    top = max(predicted + [r["measured"] for r in rows]) * 1.1
    right.plot([0, top], [0, top], "--", color="grey", label="proportional")
    right.fill_between([0, top], [0, 0.85 * top], [0, 1.15 * top], color="grey", alpha=0.15,
                       label="within 15 %")
    for r in rows:
        label = f"({r['k1']},{r['k2']}{', last' if r['free_steps'] else ''})"
        right.annotate(label, (r["predicted"], r["measured"]), fontsize=8,
                       xytext=(4, -10), textcoords="offset points")
    clock = "CPU" if head["clock"] == "cpu" else "wall-clock"
    right.set_title(f"epoch {clock} time vs cost model")
    right.set_xlabel(f"predicted cost relative to TBPTT{rows[0]['k1'], rows[0]['k2']}")
    right.set_ylabel(f"measured epoch {clock} time, relative")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: dict) -> str:
    """Return the results as a Markdown section."""
    m, cfg, head, cost = result["machine"], result["config"], result["throughput"], result["cost"]
    clock = "CPU" if head["clock"] == "cpu" else "wall-clock"
    lines = [
        START,
        f"### TBPTT benchmark ({result['date']})",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPU cores, {m['memory_gb']} GB RAM, "
        f"GPU: {', '.join(m['gpus']) or 'none'}; TensorFlow {m['tensorflow']}, Keras "
        f"{m['keras']}, Python {m['python']}; 1-min load average at start "
        f"{m['load_average_1m']}, at the end {result.get('load_end', float('nan')):.2f}.",
        f"Data: {cfg['samples']} lag/echo sequences x {cfg['seq_len']} steps, "
        f"one LSTM({cfg['units']}) + Dense head, Adam, batch = all sequences; median of "
        f"{cfg['repeats']} epochs after a warm-up epoch, the things compared taking turns "
        f"epoch by epoch. Comparisons use **{clock} seconds** "
        f"({'the process CPU time: no GPU' if head['clock'] == 'cpu' else 'GPU present'}); "
        "wall seconds are shown beside them.",
        "",
        f"| method | {clock} s / epoch | wall s / epoch | steps / {clock} s |",
        "|---|---|---|---|",
        f"| Keras stateful `fit`, k = {head['k']} | {head['keras_seconds']:.3f} | "
        f"{head['keras_wall']:.3f} | {head['keras_steps_per_s']:.0f} |",
        f"| `TBPTTTrainer({head['k']}, {head['k']})` | {head['tbptt_seconds']:.3f} | "
        f"{head['tbptt_wall']:.3f} | {head['tbptt_steps_per_s']:.0f} |",
        "",
        f"Throughput ratio (TBPTTTrainer / Keras): **{head['ratio']:.2f}** (goal >= 0.9: "
        f"{'met' if head['ratio'] >= 0.9 else 'NOT met'}).",
        "",
        f"Cost model: predicted = (steps under the tape + phi x steps run forward only), "
        f"relative to the first row; phi = {cost['phi']:.2f} (a forward-only step's cost "
        f"relative to a forward+backward one, measured in this run). Graphs traced during "
        f"the timed epochs: {cost['retraces']}.",
        "",
        f"| k1 | k2 | k2_mode | updates | {clock} s / epoch | wall s / epoch | predicted cost "
        "| measured cost | deviation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in cost["rows"]:
        mode = r["k2_mode"] if r["k2"] < r["k1"] else "-"
        lines.append(f"| {r['k1']} | {r['k2']} | {mode} | {r['updates']} | {r['seconds']:.3f} | "
                     f"{r['wall']:.3f} | {r['predicted']:.2f} | {r['measured']:.2f} | "
                     f"{100 * r['deviation']:+.0f} % |")
    worst = max(abs(r["deviation"]) for r in cost["rows"])
    fit = cost["fit"]
    lines += ["", f"Largest deviation from the cost model: {100 * worst:.0f} % (goal <= 15 %: "
              f"{'met' if worst <= 0.15 else 'NOT met'}).",
              "",
              f"A least-squares fit with a fixed cost per update added, {clock} seconds = "
              f"{1000 * fit['per_update']:.2f} ms x updates + {1000 * fit['per_step']:.3f} ms x "
              f"(steps under the tape + phi x forward-only steps) per sequence batch, leaves "
              f"{100 * fit['worst_residual']:.0f} % at most; the per-update term is "
              f"{100 * fit['share_first']:.0f} % of the first row's time.", END]
    return "\n".join(lines)


def record(section: str, path: Path) -> None:
    """Put ``section`` between the marker comments of ``path`` (append if absent)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="benchmarks/out",
                        help="folder for the plot and JSON (default benchmarks/out)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke check")
    parser.add_argument("--record", type=Path, default=None,
                        help="Markdown file to write the results into (e.g. docs/benchmarks.md)")
    parser.add_argument("--seq-len", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--k", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    quick = {"seq_len": 200, "samples": 8, "units": 16, "k": 20, "repeats": 1}
    full = {"seq_len": 1000, "samples": 64, "units": 128, "k": 50, "repeats": 5}
    cfg = dict(quick if args.quick else full)
    for name in cfg:
        value = getattr(args, name)
        if value is not None:
            cfg[name] = value
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    k = cfg["k"]
    x, y, _ = data.lag_echo(cfg["samples"], cfg["seq_len"], 1, seed=0)
    about = machine()
    clock = choose_clock(about["gpus"])
    print(f"data {x.shape} [samples, timesteps, features]; k = {k}; machine load "
          f"{os.getloadavg()[0]:.2f}; comparing {clock} seconds", flush=True)
    head = keras_vs_tbptt(x, y, k, cfg["units"], cfg["repeats"], clock)
    print(f"Keras stateful fit: {head['keras_seconds']:.3f} {clock} s/epoch | "
          f"TBPTTTrainer({k},{k}): {head['tbptt_seconds']:.3f} {clock} s/epoch | "
          f"ratio {head['ratio']:.2f}", flush=True)
    cut, last = "cut_every_k2", "last_k2"
    pairs = [(k, k, cut), (k, 2 * k, cut), (k, 4 * k, cut), (k, 8 * k, cut),
             (2 * k, 4 * k, cut), (2 * k, k, cut), (2 * k, k, last), (4 * k, k, last)]
    cost = cost_sweep(x, y, pairs, cfg["units"], cfg["repeats"], clock)
    print(f"phi (forward-only step / forward+backward step) = {cost['phi']:.2f}; graphs traced "
          f"in timed epochs: {cost['retraces']}")
    fit = cost["fit"]
    print(f"fit: {1000 * fit['per_update']:.2f} ms per update + {1000 * fit['per_step']:.3f} ms "
          f"per step; worst residual {100 * fit['worst_residual']:.0f} %")
    print(f"{'k1':>5} {'k2':>5} {'mode':>12} {clock + ' s':>8} {'wall s':>8} {'predicted':>9} "
          f"{'measured':>8} {'dev':>6}")
    for r in cost["rows"]:
        print(f"{r['k1']:>5} {r['k2']:>5} {r['k2_mode']:>12} {r['seconds']:>8.3f} "
              f"{r['wall']:>8.3f} {r['predicted']:>9.2f} {r['measured']:>8.2f} "
              f"{100 * r['deviation']:>+5.0f}%")
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": about, "config": cfg,
              "throughput": head, "cost": cost, "load_end": round(os.getloadavg()[0], 2)}
    (out / "tbptt_bench.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "tbptt_bench.png")
    print(f"saved {out / 'tbptt_bench.png'} and {out / 'tbptt_bench.json'}")
    if args.record:
        record(markdown(result), args.record)
        print(f"recorded in {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
