"""Benchmark course_lib.tbptt (not a test: timings depend on the machine).

Two measurements in one run, on the same data and the same network:

1. TBPTT(k, k) with :class:`course_lib.tbptt.TBPTTTrainer` against Keras' own way of
   doing it -- a stateful model fed ``k``-step chunks by ``fit`` -- as throughput
   (sequence steps per second); goal: ours >= 0.9x Keras.
2. The cost of several (k1, k2) pairs relative to TBPTT(k, k), against the steps that
   run under the gradient tape (about ``k2 / k1`` per step); goal: within 15 %.

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


def timed_epochs(run_epoch, repeats: int) -> float:
    """Return the median seconds of ``repeats`` epochs after one untimed warm-up epoch."""
    run_epoch()  # traces and first-run graph optimisation are not what we compare
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def keras_vs_tbptt(x, y, k: int, units: int, repeats: int) -> dict:
    """Time epochs of Keras stateful fit and of TBPTTTrainer(k, k) on the same data.

    The two alternate epoch by epoch, so a burst of load from other processes on a
    shared machine hits both alike; each gets the median of its ``repeats`` epochs.
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
    times = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up: tracing and first-run graph optimisation are not compared
    for _ in range(repeats):
        for name, run in runs.items():
            began = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - began)
    keras_s, ours_s = statistics.median(times["keras"]), statistics.median(times["tbptt"])
    steps = x.shape[0] * x.shape[1]
    return {"k": k, "keras_seconds": keras_s, "tbptt_seconds": ours_s,
            "keras_steps_per_s": steps / keras_s, "tbptt_steps_per_s": steps / ours_s,
            "ratio": keras_s / ours_s, "keras_all": times["keras"], "tbptt_all": times["tbptt"]}


def cost_sweep(x, y, pairs, units: int, repeats: int) -> list[dict]:
    """Time one epoch per (k1, k2) pair (see ``tbptt.time_pairs``); add the deviation."""
    rows = tbptt.time_pairs(x, y, pairs, units=units, repeats=repeats)
    for row in rows:
        row["deviation"] = row["measured"] / row["predicted"] - 1.0
    return rows


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
    left.set_ylabel("sequence steps per second")
    rows = result["cost"]
    predicted = [r["predicted"] for r in rows]
    right.plot(predicted, [r["measured"] for r in rows], "o", color=plots.color_for("tbptt"),
               label="measured")
    top = max(predicted + [r["measured"] for r in rows]) * 1.1
    right.plot([0, top], [0, top], "--", color="grey", label="proportional")
    right.fill_between([0, top], [0, 0.85 * top], [0, 1.15 * top], color="grey", alpha=0.15,
                       label="within 15 %")
    for r in rows:
        right.annotate(f"({r['k1']},{r['k2']})", (r["predicted"], r["measured"]), fontsize=8,
                       xytext=(4, -10), textcoords="offset points")
    right.set_title("epoch time vs steps under the gradient tape")
    right.set_xlabel(f"predicted cost relative to TBPTT{rows[0]['k1'], rows[0]['k2']}")
    right.set_ylabel("measured epoch time, relative")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(result: dict) -> str:
    """Return the results as a Markdown section."""
    m, cfg, head = result["machine"], result["config"], result["throughput"]
    lines = [
        START,
        f"### TBPTT benchmark ({result['date']})",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPU cores, {m['memory_gb']} GB RAM, "
        f"GPU: {', '.join(m['gpus']) or 'none'}; TensorFlow {m['tensorflow']}, Keras "
        f"{m['keras']}, Python {m['python']}; 1-min load average at start "
        f"{m['load_average_1m']}.",
        f"Data: {cfg['samples']} lag/echo sequences x {cfg['seq_len']} steps, "
        f"one LSTM({cfg['units']}) + Dense head, Adam, batch = all sequences; median of "
        f"{cfg['repeats']} epochs after a warm-up epoch.",
        "",
        "| method | s / epoch | steps / s |",
        "|---|---|---|",
        f"| Keras stateful `fit`, k = {head['k']} | {head['keras_seconds']:.3f} | "
        f"{head['keras_steps_per_s']:.0f} |",
        f"| `TBPTTTrainer({head['k']}, {head['k']})` | {head['tbptt_seconds']:.3f} | "
        f"{head['tbptt_steps_per_s']:.0f} |",
        "",
        f"Throughput ratio (TBPTTTrainer / Keras): **{head['ratio']:.2f}** (goal >= 0.9: "
        f"{'met' if head['ratio'] >= 0.9 else 'NOT met'}).",
        "",
        "| k1 | k2 | updates | s / epoch | predicted cost | measured cost | deviation |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["cost"]:
        lines.append(f"| {r['k1']} | {r['k2']} | {r['updates']} | {r['seconds']:.3f} | "
                     f"{r['predicted']:.2f} | {r['measured']:.2f} | "
                     f"{100 * r['deviation']:+.0f} % |")
    worst = max(abs(r["deviation"]) for r in result["cost"])
    lines += ["", f"Largest deviation from proportional: {100 * worst:.0f} % (goal <= 15 %: "
              f"{'met' if worst <= 0.15 else 'NOT met'}).", END]
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
    print(f"data {x.shape} [samples, timesteps, features]; k = {k}; machine load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    head = keras_vs_tbptt(x, y, k, cfg["units"], cfg["repeats"])
    print(f"Keras stateful fit: {head['keras_seconds']:.3f} s/epoch | TBPTTTrainer({k},{k}): "
          f"{head['tbptt_seconds']:.3f} s/epoch | ratio {head['ratio']:.2f}", flush=True)
    pairs = [(k, k), (k, 2 * k), (k, 4 * k), (k, 8 * k), (2 * k, 4 * k), (2 * k, k)]
    cost = cost_sweep(x, y, pairs, cfg["units"], cfg["repeats"])
    print(f"{'k1':>5} {'k2':>5} {'s/epoch':>8} {'predicted':>9} {'measured':>8} {'dev':>6}")
    for r in cost:
        print(f"{r['k1']:>5} {r['k2']:>5} {r['seconds']:>8.3f} {r['predicted']:>9.2f} "
              f"{r['measured']:>8.2f} {100 * r['deviation']:>+5.0f}%")
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "config": cfg,
              "throughput": head, "cost": cost}
    (out / "tbptt_bench.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "tbptt_bench.png")
    print(f"saved {out / 'tbptt_bench.png'} and {out / 'tbptt_bench.json'}")
    if args.record:
        record(markdown(result), args.record)
        print(f"recorded in {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
