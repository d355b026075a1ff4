"""Notebook 11: run techniques side by side; measure accuracy, training time, peak memory.

Notebook 11 trains every technique of the course on ONE shared long marker task
(:func:`course_lib.data.marker_task`, marker at step 0, so the signal is as far from the
end as it can be). Each row of its table is a function ``f(d, c) -> test accuracy``
written on the notebook's page (saved copies here: :func:`as_is`, :func:`truncate_pre`, ...,
collected in :data:`ROWS`) and measured with :func:`measure` (:func:`run_all` runs the
library's rows in one call). The encoder-decoder row cuts sequences with :func:`chunk` and
encodes them with :func:`encode_in_chunks` (notebook 07 teaches both, in
:mod:`course_lib.lessons.encoder_decoder`).

How memory is measured (say which when you quote it):

* ``isolate=True`` (cpu/gpu profiles): each technique runs in a fresh Python process
  (``python -m course_lib.lessons.choosing``). The child reads the kernel's record of its own peak
  resident memory once after importing TensorFlow and making the data (``base_rss_mb``)
  and once after training (``peak_rss_mb``); ``train_mem_mb`` is the difference: what
  training itself added. On Linux the record is ``VmHWM`` from ``/proc/self/status``:
  the same high-water mark as ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, but
  ``ru_maxrss`` starts at the PARENT's size after fork + exec (a big Jupyter kernel
  would hide the child's own peak), while ``VmHWM`` belongs to the child's fresh
  address space. Elsewhere ``ru_maxrss`` is used.
* ``isolate=False`` (smoke profile, and tests): the technique runs in this process while a
  thread samples ``psutil`` RSS every 10 ms; ``train_mem_mb`` is the peak sample minus
  the RSS before the run. Cheaper (no new TensorFlow import) but rougher: memory freed by
  an earlier technique can be reused without showing up.

Train time is wall-clock seconds for everything a technique does before it can predict:
shortening the data, any pre-training (the autoencoder), and ``fit``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import keras
import numpy as np

from course_lib import models, tbptt, techniques
from course_lib.environment import RssSampler
from course_lib.validate import check_positive_int

# Order = the order of the table and of the legend.
TECHNIQUES = (
    "as-is",
    "truncate pre",
    "truncate post",
    "random drop",
    "random windows",
    "encoder-decoder",
    "parallel subsequences",
    "bidirectional halves",
    "conv downsample",
    "random projection",
    "TBPTT last",
    "TBPTT every step",
)

# What each technique does to a sequence of T steps when the budget is L steps.
DESCRIPTIONS = {
    "as-is": "one LSTM over all T steps",
    "truncate pre": "keep the last L steps (Keras 'pre' drops the start)",
    "truncate post": "keep the first L steps (Keras 'post' drops the end)",
    "random drop": "keep L random steps, in order",
    "random windows": "keep one random window of L steps",
    "encoder-decoder": "autoencoder turns each L-step chunk into a code; LSTM over T/L codes",
    "parallel subsequences": "T/L pieces side by side as features; LSTM over L steps",
    "bidirectional halves": "forward LSTM on the first half, backward on the second (T/2 each)",
    "conv downsample": "Conv1D with stride T/L, then an LSTM over L steps",
    "random projection": "fixed random linear projection of each T/L-step block; LSTM over L",
    "TBPTT last": "LSTM reads all T steps, gradient flows L steps back; loss at the last step",
    "TBPTT every step": "the same, with the label copied to every step as its target",
}

@dataclass(frozen=True)
class CompareConfig:
    """The shared task and training budget every technique gets.

    Args:
        seq_len: T, timesteps of the marker task.
        budget: L, the longest sequence a shortened technique's LSTM may read; must
            divide ``seq_len``.
        n_samples: sequences generated (a quarter go to the test set).
        noise: std of the marker task's distracting noise.
        units: LSTM units of every model.
        epochs: training epochs of every model (the autoencoder gets the same again).
        batch_size: samples per update.
        code_size: code length of the encoder-decoder technique.
        learning_rate: Adam learning rate of every model.
        seed: data, split and weight seed.
    """

    seq_len: int = 1000
    budget: int = 100
    n_samples: int = 512
    noise: float = 0.5
    units: int = 16
    epochs: int = 8
    batch_size: int = 32
    code_size: int = 8
    learning_rate: float = 1e-2
    seed: int = 0

    def __post_init__(self):
        check_positive_int("seq_len", self.seq_len, minimum=4)
        check_positive_int("budget", self.budget, minimum=2, maximum=self.seq_len // 2)
        if self.seq_len % self.budget:
            raise ValueError(f"budget must divide seq_len={self.seq_len}, got {self.budget}")
        if self.seq_len % 2:
            raise ValueError(f"seq_len must be even (bidirectional halves), got {self.seq_len}")
        check_positive_int("n_samples", self.n_samples, minimum=8)
        check_positive_int("units", self.units)
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive_int("code_size", self.code_size)
        check_positive_int("seed", self.seed, minimum=0)

    @property
    def factor(self) -> int:
        """How many times shorter the shortened sequences are: ``seq_len // budget``."""
        return self.seq_len // self.budget


class Task(NamedTuple):
    """The shared data: ``x_train [n, T, 2], y_train [n], x_test [m, T, 2], y_test [m]``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_task(config: CompareConfig) -> Task:
    """Make the shared marker task (marker at step 0) and split it 75/25.

    Returns:
        a :class:`Task` (a tuple ``x_train, y_train, x_test, y_test``).
    """
    from course_lib.data import marker_task, train_test_split

    x, y, _ = marker_task(config.n_samples, config.seq_len, marker_pos=0,
                          noise=config.noise, seed=config.seed)
    return Task(*train_test_split(x, y, test_fraction=0.25, seed=config.seed))


def chunk(x: np.ndarray, length: int) -> np.ndarray:
    """Cut every sequence into consecutive chunks of ``length`` steps, one chunk per row.

    Args:
        x: ``[samples, timesteps, features]``; ``length`` must divide ``timesteps``.
        length: steps per chunk.

    Returns:
        ``[samples * timesteps // length, length, features]``; the chunks of sample ``i``
        are rows ``i * n_chunks ... (i + 1) * n_chunks - 1``, in time order.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D [samples, timesteps, features], got shape {x.shape}")
    length = check_positive_int("length", length, maximum=x.shape[1])
    if x.shape[1] % length:
        raise ValueError(f"length must divide timesteps={x.shape[1]}, got {length}")
    return x.reshape(-1, length, x.shape[2])


def encode_in_chunks(encoder, x: np.ndarray, length: int) -> np.ndarray:
    """Encode every ``length``-step chunk of every sequence with ``encoder``.

    Args:
        encoder: a model mapping ``[batch, length, features]`` to ``[batch, code_size]``.
        x: ``[samples, timesteps, features]``.
        length: chunk length the encoder was trained on.

    Returns:
        Codes ``[samples, timesteps // length, code_size]``: a sequence of codes per sample.
    """
    pieces = chunk(x, length)
    codes = np.asarray(encoder.predict(pieces, batch_size=512, verbose=0))
    return codes.reshape(x.shape[0], x.shape[1] // length, codes.shape[-1])


def _seed_weights(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def _fit(model, x_train, y_train, x_test, y_test, epochs: int, batch_size: int) -> float:
    """Train quietly and return test accuracy."""
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=256, verbose=0)[1])


def truncated_run(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    maxlen: int,
    *,
    side: str = "pre",
    units: int = 32,
    epochs: int = 20,
    seed: int = 0,
) -> float:
    """Train an LSTM on the sequences truncated to ``maxlen`` steps; return test accuracy."""
    from course_lib.models import lstm_classifier
    from course_lib.techniques import truncate

    _seed_weights(seed)
    model = lstm_classifier(maxlen, x_train.shape[2], units)
    acc = _fit(model, truncate(x_train, maxlen, side), y_train,
               truncate(x_test, maxlen, side), y_test, epochs, 32)
    print(f"raw input truncated ({side}) to {maxlen} steps: accuracy {acc:.3f}")
    return acc


# ----------------------------------------------------------------------------- notebook 11


# Saved copies: notebook 11 writes these on its page (tests/test_saved_copies.py).


def score(model, x_train, x_test, d, c):
    """Fit ``model`` on the (shortened) training inputs; return its test accuracy.

    Args:
        model: a compiled Keras classifier with an accuracy metric.
        x_train, x_test: the inputs the technique made from ``d.x_train`` / ``d.x_test``.
        d: the :class:`Task` (labels come from it).
        c: the :class:`CompareConfig` (epochs, batch size).
    """
    model.fit(x_train, d.y_train, epochs=c.epochs, batch_size=c.batch_size, verbose=0)
    return float(model.evaluate(x_test, d.y_test, batch_size=256, verbose=0)[1])


def as_is(d, c):
    """One LSTM over all T steps."""
    return score(models.lstm_classifier(c.seq_len, 2, c.units), d.x_train, d.x_test, d, c)


def truncate_pre(d, c):
    """Keep the last L steps (notebook 03)."""
    cut = [techniques.truncate(x, c.budget, "pre") for x in (d.x_train, d.x_test)]
    return score(models.lstm_classifier(c.budget, 2, c.units), *cut, d, c)


def truncate_post(d, c):
    """Keep the first L steps (notebook 03)."""
    cut = [techniques.truncate(x, c.budget, "post") for x in (d.x_train, d.x_test)]
    return score(models.lstm_classifier(c.budget, 2, c.units), *cut, d, c)


def random_drop(d, c):
    """Keep L random steps of each sequence, in order (notebook 04)."""
    kept = [techniques.random_drop_steps(x, c.budget, seed=c.seed + i)
            for i, x in enumerate((d.x_train, d.x_test))]
    return score(models.lstm_classifier(c.budget, 2, c.units), *kept, d, c)


def random_windows(d, c):
    """Keep one random window of L steps per sequence (notebook 05)."""
    kept = [techniques.random_windows(x, c.budget, seed=c.seed + i)
            for i, x in enumerate((d.x_train, d.x_test))]
    return score(models.lstm_classifier(c.budget, 2, c.units), *kept, d, c)


def encoder_decoder(d, c):
    """Autoencoder codes of each L-step chunk, then an LSTM over the codes (notebook 07)."""
    autoencoder, encoder = models.lstm_autoencoder(c.budget, 2, c.code_size, c.units)
    pieces = chunk(d.x_train, c.budget)
    autoencoder.fit(pieces, pieces, epochs=c.epochs, batch_size=4 * c.batch_size, verbose=0)
    codes = [encode_in_chunks(encoder, x, c.budget) for x in (d.x_train, d.x_test)]
    return score(models.code_classifier(codes[0].shape[1:], c.units), *codes, d, c)


def parallel_subsequences(d, c):
    """T/L pieces side by side as features (notebook 08)."""
    model = models.parallel_subsequences_classifier(c.seq_len, 2, c.factor, c.units)
    return score(model, d.x_train, d.x_test, d, c)


def bidirectional_halves(d, c):
    """Forward LSTM over the first half, backward over the second (notebook 08)."""
    return score(models.halves_bilstm_classifier(c.seq_len, 2, c.units), d.x_train, d.x_test,
                 d, c)


def conv_downsample(d, c):
    """Strided Conv1D front end, then an LSTM over L steps (notebook 08)."""
    model = models.conv_downsample_classifier(c.seq_len, 2, c.factor, 16, c.units)
    return score(model, d.x_train, d.x_test, d, c)


def random_projection(d, c):
    """A fixed random linear projection of each T/L-step block (notebook 08)."""
    model = models.projection_classifier(c.seq_len, 2, c.factor, 8, c.units, seed=c.seed)
    return score(model, d.x_train, d.x_test, d, c)


def tbptt_score(d, c, seq2one):
    """TBPTT(L, L) over all T steps (notebook 06); score the prediction at the last step."""
    trainer = tbptt.TBPTTTrainer(tbptt.lstm_stack(2, c.units, seed=c.seed), c.budget, c.budget,
                                 keras.optimizers.Adam(c.learning_rate), seq2one=seq2one)
    trainer.fit(d.x_train, d.y_train, epochs=c.epochs, batch_size=4 * c.batch_size,
                seed=c.seed, verbose=0)
    last = trainer.predict(d.x_test)[:, -1, 0]
    return float(np.mean((last > 0.5) == d.y_test))


def tbptt_last(d, c):
    """TBPTT with the loss at the last step only."""
    return tbptt_score(d, c, "last")


def tbptt_every_step(d, c):
    """TBPTT with the label as the target of every step."""
    return tbptt_score(d, c, "every_step")


# The library's table of rows (notebook 11 writes the same dict on its page); a fresh
# process (``isolate=True``) looks a row up here by name.
ROWS = {
    "as-is": as_is,
    "truncate pre": truncate_pre,
    "truncate post": truncate_post,
    "random drop": random_drop,
    "random windows": random_windows,
    "encoder-decoder": encoder_decoder,
    "parallel subsequences": parallel_subsequences,
    "bidirectional halves": bidirectional_halves,
    "conv downsample": conv_downsample,
    "random projection": random_projection,
    "TBPTT last": tbptt_last,
    "TBPTT every step": tbptt_every_step,
}


def every_kth(d, c):
    """Exercise reference: keep every (T/L)-th step, so the LSTM reads L evenly spaced steps."""
    kept = [x[:, ::c.factor] for x in (d.x_train, d.x_test)]
    return score(models.lstm_classifier(c.budget, 2, c.units), *kept, d, c)


def _check_row(name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be a callable row function f(d, c) -> accuracy, got {fn!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")


def _train_technique(name: str, config: CompareConfig, task, fn=None) -> float:
    """Seed the weights, then run row ``fn`` (default: ``ROWS[name]``); return accuracy."""
    fn = ROWS[name] if fn is None else fn
    _seed_weights(config.seed)
    return float(fn(task, config))


def same_row(fn: Any, reference: Any, config: CompareConfig, repeats: int = 3) -> bool:
    """Return whether row function ``fn`` scores exactly as ``reference`` on tiny tasks.

    Both run on the same data with the same weight seed, so the same Keras calls give the
    same accuracy; ``repeats`` tasks (seeds ``config.seed``, ``+1``, ...) make a wrong row
    that matches by chance unlikely (the check of notebook 11's first exercise; keep
    ``config`` tiny).
    """
    _check_row("fn", fn)
    _check_row("reference", reference)
    repeats = check_positive_int("repeats", repeats)
    for i in range(repeats):
        c = CompareConfig(**{**asdict(config), "seed": config.seed + i})
        task = make_task(c)
        try:
            got = _train_technique("fn", c, task, fn)
        except Exception as err:  # noqa: BLE001 -- a student's bug is reported, not raised
            print(f"Your function raised {type(err).__name__}: {err}")
            return False
        if not math.isclose(got, _train_technique("reference", c, task, reference),
                            abs_tol=1e-9):
            return False
    return True


def peak_rss_mb() -> float:
    """Return this process's peak resident memory so far, in MB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (not inherited from the parent process);
    elsewhere ``ru_maxrss`` (KiB on Linux/BSD, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0


def warm_up() -> None:
    """Import TensorFlow and run one tiny LSTM, so start-up memory is not charged to training."""
    import keras

    from course_lib.models import lstm_classifier

    model = lstm_classifier(4, 2, 2)
    model.fit(np.zeros((4, 4, 2), "float32"), np.zeros(4), epochs=1, verbose=0)
    keras.backend.clear_session()


def run_one(name: str, config: CompareConfig) -> dict[str, Any]:
    """Train technique ``name`` in THIS process; measure accuracy, time and ru_maxrss.

    Returns:
        dict with ``technique``, ``accuracy``, ``train_s``, ``base_rss_mb`` (peak RSS
        after imports and data), ``peak_rss_mb`` (after training), ``train_mem_mb``.
    """
    if name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    warm_up()
    task = make_task(config)
    base = peak_rss_mb()
    began = time.perf_counter()
    accuracy = _train_technique(name, config, task)
    train_s = time.perf_counter() - began
    peak = peak_rss_mb()
    return {"technique": name, "accuracy": accuracy, "train_s": train_s,
            "base_rss_mb": base, "peak_rss_mb": peak, "train_mem_mb": peak - base,
            "memory_method": "peak RSS (VmHWM / ru_maxrss) of a fresh process"}


def run_in_process(name: str, config: CompareConfig, task=None, fn=None) -> dict[str, Any]:
    """Train row ``name`` here while sampling RSS with psutil (cheap, rougher).

    ``fn`` is the row function (default: ``ROWS[name]``); ``task`` the shared data
    (default: :func:`make_task`).
    """
    if fn is None and name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    if fn is not None:
        _check_row(name, fn)
    task = make_task(config) if task is None else task
    with RssSampler() as rss:
        began = time.perf_counter()
        accuracy = _train_technique(name, config, task, fn)
        train_s = time.perf_counter() - began
    return {"technique": name, "accuracy": accuracy, "train_s": train_s,
            "base_rss_mb": rss.start_mb, "peak_rss_mb": rss.peak_mb,
            "train_mem_mb": rss.peak_mb - rss.start_mb,
            "memory_method": "psutil RSS sampling in this process"}


def run_in_subprocess(name: str, config: CompareConfig, timeout: float = 600) -> dict[str, Any]:
    """Train technique ``name`` in a fresh Python process and return :func:`run_one`'s dict."""
    if name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    command = [sys.executable, "-m", "course_lib.lessons.choosing", "--technique", name,
               "--config", json.dumps(asdict(config))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"technique {name!r} failed (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def measure(
    name: str,
    fn: Callable,
    config: CompareConfig,
    *,
    isolate: bool = True,
    task=None,
    progress: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run one row of the table: train ``fn(task, config)``, measure accuracy, time, memory.

    Args:
        name: the row's name; with ``isolate`` it must be a key of :data:`ROWS` whose
            function has ``fn``'s name (the child process runs the library's copy).
        fn: the row function ``f(d, c) -> test accuracy``.
        config: the shared task and budget.
        isolate: one fresh process (peak RSS of its own) instead of in-process psutil
            sampling; see the module docstring.
        task: the shared data for in-process runs (default: :func:`make_task`).
        progress: called with a one-line summary (default: print).

    Returns:
        ``{"technique", "accuracy", "train_s", "base_rss_mb", "peak_rss_mb",
        "train_mem_mb", "memory_method", "steps"}``; ``steps`` is the longest sequence
        any LSTM of the row reads (None for a row not in :data:`ROWS`).
    """
    _check_row(name, fn)
    if not isinstance(isolate, bool):
        raise TypeError(f"isolate must be True or False, got {isolate!r}")
    if isolate:
        saved = ROWS.get(name)
        if saved is None or saved.__name__ != getattr(fn, "__name__", None):
            raise ValueError(f"isolate=True runs the library's copy of a row, but {name!r} -> "
                             f"{fn!r} is not in choosing.ROWS; use isolate=False for your own rows")
        row = run_in_subprocess(name, config)
    else:
        row = run_in_process(name, config, task, fn)
    row["steps"] = lstm_steps(name, config) if name in TECHNIQUES else None
    if progress is not None:
        progress(f"{name:<22} accuracy {row['accuracy']:.3f}  train {row['train_s']:6.1f} s"
                 f"  +{row['train_mem_mb']:6.1f} MB")
    return row


def run_all(
    config: CompareConfig,
    names: tuple[str, ...] = TECHNIQUES,
    *,
    isolate: bool = True,
    progress: Callable[[str], None] | None = print,
) -> list[dict[str, Any]]:
    """Run the library's rows ``names`` (from :data:`ROWS`) with :func:`measure`, in order."""
    unknown = [t for t in names if t not in TECHNIQUES]
    if unknown or not names:
        raise ValueError(f"techniques must be a non-empty subset of {TECHNIQUES}, got {unknown}")
    task = None
    if not isolate:
        warm_up()
        task = make_task(config)
    return [measure(n, ROWS[n], config, isolate=isolate, task=task, progress=progress)
            for n in names]


def lstm_steps(name: str, config: CompareConfig) -> int:
    """Return the longest sequence an LSTM of technique ``name`` reads under ``config``."""
    if name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    if name in ("as-is", "TBPTT last", "TBPTT every step"):
        return config.seq_len  # TBPTT reads all T steps; its gradient flows back L of them
    if name == "bidirectional halves":
        return config.seq_len // 2
    if name == "encoder-decoder":
        return max(config.budget, config.factor)
    return config.budget


def table_text(rows: list[dict[str, Any]]) -> str:
    """Return the rows as an aligned plain-text table (accuracy, time, memory, steps)."""
    if not rows:
        raise ValueError("rows must not be empty")
    head = f"{'technique':<22} {'accuracy':>8} {'train s':>8} {'train MB':>9} {'peak MB':>8} "
    head += f"{'LSTM steps':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['technique']:<22} {r['accuracy']:>8.3f} {r['train_s']:>8.1f} "
                     f"{r['train_mem_mb']:>9.1f} {r['peak_rss_mb']:>8.0f} {r['steps']:>10}")
    return "\n".join(lines)


def scatter(rows: list[dict[str, Any]], title: str = "Accuracy vs training time"):
    """Plot accuracy against train time, marker area proportional to training memory.

    Returns:
        ``(fig, ax)`` from :func:`course_lib.plots.figure`.
    """
    from course_lib import plots

    if not rows:
        raise ValueError("rows must not be empty")
    fig, ax = plots.figure(title, "training time (s)", "test accuracy", size=(7.5, 4.8))
    mem = np.array([max(r["train_mem_mb"], 0.0) for r in rows])
    sizes = 40 + 400 * mem / max(mem.max(), 1e-9)
    for r, s in zip(rows, sizes, strict=True):
        ax.scatter(r["train_s"], r["accuracy"], s=s, alpha=0.7, label=r["technique"],
                   color=plots.color_for(r["technique"]), edgecolors="black", linewidths=0.5)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0.35, 1.05)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5),
              title="marker area ~ training MB", title_fontsize=7)
    return fig, ax


def decision_guide(rows: list[dict[str, Any]], *, good: float = 0.9) -> list[str]:
    """Turn a measured table into short recommendations (each sentence quotes the numbers).

    Args:
        rows: from :func:`run_all`.
        good: accuracy that counts as "solved".

    Returns:
        Sentences, most useful first.
    """
    if not rows:
        raise ValueError("rows must not be empty")
    by = {r["technique"]: r for r in rows}
    solved = sorted((r for r in rows if r["accuracy"] >= good), key=lambda r: r["train_s"])
    lines = []
    if solved:
        f = solved[0]
        lines.append(f"Fastest technique that solved the task (accuracy >= {good:.2f}): "
                     f"{f['technique']} ({f['accuracy']:.3f} in {f['train_s']:.1f} s).")
        lean = min(solved, key=lambda r: r["train_mem_mb"])
        lines.append(f"Least extra memory among those: {lean['technique']} "
                     f"(+{lean['train_mem_mb']:.0f} MB).")
    else:
        lines.append(f"No technique reached accuracy {good:.2f} with this budget.")
    if "as-is" in by:
        a = by["as-is"]
        verdict = "solved it" if a["accuracy"] >= good else "did not solve it"
        lines.append(f"As-is read all {a['steps']} steps, took {a['train_s']:.1f} s and "
                     f"{verdict} (accuracy {a['accuracy']:.3f}).")
    if "truncate pre" in by and "truncate post" in by:
        pre, post = by["truncate pre"], by["truncate post"]
        lines.append(f"Truncation: keeping the end scored {pre['accuracy']:.3f}, keeping the "
                     f"start {post['accuracy']:.3f} -- keep the end that holds the signal.")
    lossy = [by[t] for t in ("random drop", "random windows") if t in by]
    if lossy:
        best = max(r["accuracy"] for r in lossy)
        lines.append(f"Random drop / random windows keep only part of each sequence: best "
                     f"{best:.3f}; use them when the label is spread over the sequence.")
    streamed = [by[t] for t in ("TBPTT last", "TBPTT every step") if t in by]
    if streamed:
        parts = ", ".join(f"{r['technique']} {r['accuracy']:.3f}" for r in streamed)
        lines.append(f"TBPTT reads every step but sends gradients only L steps back: {parts}.")
    return lines


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one technique and print a JSON row.")
    parser.add_argument("--technique", required=True, choices=TECHNIQUES)
    parser.add_argument("--config", required=True, help="CompareConfig as JSON")
    args = parser.parse_args(argv)
    config = CompareConfig(**json.loads(args.config))
    print(json.dumps(run_one(args.technique, config)))
    return 0


# ------------------------------------------------------------------ plain functions of 07, 08


if __name__ == "__main__":
    raise SystemExit(_main())
