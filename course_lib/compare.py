"""Run techniques side by side and measure them: accuracy, training time, peak memory.

Notebook 11 trains every technique of the course on ONE shared long marker task
(:func:`course_lib.data.marker_task`, marker at step 0, so the signal is as far from the
end as it can be) with :func:`run_all`. Notebook 07 uses the smaller helpers
(:func:`chunk`, :func:`encode_in_chunks`, :func:`code_size_run`).

How memory is measured (say which when you quote it):

* ``isolate=True`` (cpu/gpu profiles): each technique runs in a fresh Python process
  (``python -m course_lib.compare``). The child reads the kernel's record of its own peak
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
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from course_lib.data import check_positive_int

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
    "hashing",
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
    "hashing": "fixed random projection of each T/L-step block; LSTM over L steps",
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


def make_task(config: CompareConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Make the shared marker task (marker at step 0) and split it 75/25.

    Returns:
        ``x_train [n, T, 2], y_train [n], x_test [m, T, 2], y_test [m]``.
    """
    from course_lib.data import marker_task, train_test_split

    x, y, _ = marker_task(config.n_samples, config.seq_len, marker_pos=0,
                          noise=config.noise, seed=config.seed)
    return train_test_split(x, y, test_fraction=0.25, seed=config.seed)


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


def decode_in_chunks(autoencoder, x: np.ndarray, length: int) -> np.ndarray:
    """Reconstruct whole sequences chunk by chunk; returns the shape of ``x``."""
    pieces = chunk(x, length)
    return np.asarray(autoencoder.predict(pieces, batch_size=512, verbose=0)).reshape(x.shape)


def _seed_weights(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def _fit(model, x_train, y_train, x_test, y_test, epochs: int, batch_size: int) -> float:
    """Train quietly and return test accuracy."""
    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=256, verbose=0)[1])


def code_size_run(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    code_size: int,
    chunk_len: int,
    *,
    units: int = 32,
    ae_epochs: int = 10,
    clf_epochs: int = 20,
    batch_size: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Train a chunk autoencoder with ``code_size``, then a classifier on its codes.

    The autoencoder (:func:`course_lib.models.lstm_autoencoder`) never sees a label: it
    learns from the training chunks alone. The classifier
    (:func:`course_lib.models.code_classifier`) reads the sequence of chunk codes.

    Args:
        x_train, x_test: ``[samples, timesteps, features]``; ``chunk_len`` divides timesteps.
        y_train, y_test: int labels ``[samples]``.
        code_size: numbers per chunk code.
        chunk_len: steps per chunk (the longest sequence any LSTM here reads, besides
            the ``timesteps // chunk_len`` codes).
        units, ae_epochs, clf_epochs, batch_size, seed: training settings.

    Returns:
        dict with ``recon_mse`` (test chunks), ``signal_var`` (test variance),
        ``explained`` (1 - recon_mse / signal_var), ``code_acc`` (test accuracy),
        ``seconds`` and the trained ``autoencoder``, ``encoder``, ``classifier``.
    """
    from course_lib.models import code_classifier, lstm_autoencoder

    code_size = check_positive_int("code_size", code_size)
    began = time.perf_counter()
    _seed_weights(seed)
    n_features = x_train.shape[2]
    autoencoder, encoder = lstm_autoencoder(chunk_len, n_features, code_size, units)
    train_chunks = chunk(x_train, chunk_len)
    autoencoder.fit(train_chunks, train_chunks, epochs=ae_epochs, batch_size=batch_size,
                    verbose=0)
    test_chunks = chunk(x_test, chunk_len)
    recon_mse = float(autoencoder.evaluate(test_chunks, test_chunks, batch_size=512, verbose=0))
    signal_var = float(np.var(test_chunks))
    codes_train = encode_in_chunks(encoder, x_train, chunk_len)
    codes_test = encode_in_chunks(encoder, x_test, chunk_len)
    classifier = code_classifier(codes_train.shape[1:], units)
    code_acc = _fit(classifier, codes_train, y_train, codes_test, y_test, clf_epochs, 32)
    seconds = time.perf_counter() - began
    print(f"code size {code_size:>3}: reconstruction MSE {recon_mse:.3f} "
          f"(signal variance {signal_var:.3f}), accuracy on codes {code_acc:.3f}, {seconds:.0f} s")
    return {"code_size": code_size, "recon_mse": recon_mse, "signal_var": signal_var,
            "explained": 1.0 - recon_mse / signal_var, "code_acc": code_acc,
            "seconds": seconds, "autoencoder": autoencoder, "encoder": encoder,
            "classifier": classifier}


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


def _train_technique(name: str, config: CompareConfig, task) -> float:
    """Shorten the data the way ``name`` does, train, and return test accuracy."""
    from course_lib import models
    from course_lib import techniques as tq

    x_tr, y_tr, x_te, y_te = task
    c, T, L, F = config, config.seq_len, config.budget, x_tr.shape[2]
    kw = {"learning_rate": c.learning_rate}
    _seed_weights(c.seed)

    def fit(model, a, b):
        return _fit(model, a, y_tr, b, y_te, c.epochs, c.batch_size)

    if name == "as-is":
        return fit(models.lstm_classifier(T, F, c.units, **kw), x_tr, x_te)
    if name in ("truncate pre", "truncate post"):
        side = name.split()[1]
        return fit(models.lstm_classifier(L, F, c.units, **kw),
                   tq.truncate(x_tr, L, side), tq.truncate(x_te, L, side))
    if name == "random drop":
        return fit(models.lstm_classifier(L, F, c.units, **kw),
                   tq.random_drop_steps(x_tr, L, seed=c.seed),
                   tq.random_drop_steps(x_te, L, seed=c.seed + 1))
    if name == "random windows":
        return fit(models.lstm_classifier(L, F, c.units, **kw),
                   tq.random_windows(x_tr, L, seed=c.seed),
                   tq.random_windows(x_te, L, seed=c.seed + 1))
    if name == "encoder-decoder":
        autoencoder, encoder = models.lstm_autoencoder(L, F, c.code_size, c.units, **kw)
        pieces = chunk(x_tr, L)
        autoencoder.fit(pieces, pieces, epochs=c.epochs, batch_size=4 * c.batch_size, verbose=0)
        codes_tr, codes_te = encode_in_chunks(encoder, x_tr, L), encode_in_chunks(encoder, x_te, L)
        return fit(models.code_classifier(codes_tr.shape[1:], c.units, **kw), codes_tr, codes_te)
    if name == "parallel subsequences":
        return fit(models.parallel_subsequences_classifier(T, F, c.factor, c.units, **kw),
                   x_tr, x_te)
    if name == "bidirectional halves":
        return fit(models.halves_bilstm_classifier(T, F, c.units, **kw), x_tr, x_te)
    if name == "conv downsample":
        return fit(models.conv_downsample_classifier(T, F, c.factor, 16, c.units, **kw),
                   x_tr, x_te)
    if name == "hashing":
        return fit(models.projection_classifier(T, F, c.factor, 8, c.units, seed=c.seed, **kw),
                   x_tr, x_te)
    raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")


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


class _RssSampler:
    """Sample this process's RSS in a background thread; remember the peak."""

    def __init__(self, interval: float = 0.01):
        import psutil

        self._proc = psutil.Process()
        self.interval = interval
        self.start_mb = self.peak_mb = self._proc.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)


def run_in_process(name: str, config: CompareConfig, task=None) -> dict[str, Any]:
    """Train technique ``name`` here while sampling RSS with psutil (cheap, rougher)."""
    if name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    task = make_task(config) if task is None else task
    with _RssSampler() as rss:
        began = time.perf_counter()
        accuracy = _train_technique(name, config, task)
        train_s = time.perf_counter() - began
    return {"technique": name, "accuracy": accuracy, "train_s": train_s,
            "base_rss_mb": rss.start_mb, "peak_rss_mb": rss.peak_mb,
            "train_mem_mb": rss.peak_mb - rss.start_mb,
            "memory_method": "psutil RSS sampling in this process"}


def run_in_subprocess(name: str, config: CompareConfig, timeout: float = 600) -> dict[str, Any]:
    """Train technique ``name`` in a fresh Python process and return :func:`run_one`'s dict."""
    if name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    command = [sys.executable, "-m", "course_lib.compare", "--technique", name,
               "--config", json.dumps(asdict(config))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"technique {name!r} failed (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def run_all(
    config: CompareConfig,
    techniques: tuple[str, ...] = TECHNIQUES,
    *,
    isolate: bool = True,
    progress: Callable[[dict], None] | None = print,
) -> list[dict[str, Any]]:
    """Train every technique on the same task with the same budget; one row per technique.

    Args:
        config: the shared task and budget.
        techniques: names from :data:`TECHNIQUES`, run in this order.
        isolate: one fresh process per technique (ru_maxrss) instead of in-process
            psutil sampling; see the module docstring.
        progress: called with each row as it finishes (default: print a line).

    Returns:
        Rows ``{"technique", "accuracy", "train_s", "base_rss_mb", "peak_rss_mb",
        "train_mem_mb", "memory_method", "steps"}``; ``steps`` is the longest sequence
        any LSTM of the technique reads.
    """
    unknown = [t for t in techniques if t not in TECHNIQUES]
    if unknown or not techniques:
        raise ValueError(f"techniques must be a non-empty subset of {TECHNIQUES}, got {unknown}")
    task = None
    if not isolate:
        warm_up()
        task = make_task(config)
    rows = []
    for name in techniques:
        row = run_in_subprocess(name, config) if isolate else run_in_process(name, config, task)
        row["steps"] = lstm_steps(name, config)
        rows.append(row)
        if progress is not None:
            progress(f"{name:<22} accuracy {row['accuracy']:.3f}  train {row['train_s']:6.1f} s"
                     f"  +{row['train_mem_mb']:6.1f} MB  (LSTM reads {row['steps']} steps)")
    return rows


def lstm_steps(name: str, config: CompareConfig) -> int:
    """Return the longest sequence an LSTM of technique ``name`` reads under ``config``."""
    if name not in TECHNIQUES:
        raise ValueError(f"unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}")
    if name == "as-is":
        return config.seq_len
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


def reconstruction_figure(
    autoencoder, x: np.ndarray, chunk_len: int, *, sample: int = 0, channel: int = 0,
    title: str = "One trace and its reconstruction", sampling_rate: float | None = None,
    burst_starts=None, burst_len: int | None = None,
):
    """Plot one trace of ``x`` and its chunk-by-chunk reconstruction; return ``(fig, ax)``.

    Args:
        autoencoder: maps ``[batch, chunk_len, features]`` to the same shape.
        x: ``[samples, timesteps, features]``.
        chunk_len: chunk length of the autoencoder.
        sample, channel: which trace and which feature to draw.
        sampling_rate: steps per second (x axis in seconds); None = steps.
        burst_starts, burst_len: shade these spans (e.g. the class-carrying bursts).
    """
    from course_lib import plots

    check_positive_int("sample", sample, minimum=0, maximum=x.shape[0] - 1)
    check_positive_int("channel", channel, minimum=0, maximum=x.shape[2] - 1)
    recon = decode_in_chunks(autoencoder, x[sample:sample + 1], chunk_len)[0, :, channel]
    steps = np.arange(x.shape[1], dtype=float)
    unit = "steps"
    if sampling_rate:
        steps, unit = steps / sampling_rate, "s"
    fig, ax = plots.figure(title, f"time ({unit})", f"channel {channel} (a.u.)", size=(8, 3.5))
    ax.plot(steps, x[sample, :, channel], color="#999999", linewidth=1, label="input")
    ax.plot(steps, recon, color=plots.color_for("encoder-decoder"), linewidth=1.2,
            label="reconstruction")
    for start in ([] if burst_starts is None else np.atleast_1d(burst_starts)):
        left = steps[int(start)]
        right = steps[min(int(start) + int(burst_len or 1), x.shape[1]) - 1]
        ax.axvspan(left, right, color="#ffbb78", alpha=0.35, linewidth=0)
    for edge in range(chunk_len, x.shape[1], chunk_len):
        ax.axvline(steps[edge], color="black", alpha=0.08, linewidth=0.8)
    ax.legend(loc="upper right", fontsize=8)
    return fig, ax


def code_size_demo(
    code_size: int,
    *,
    data: tuple,
    chunk_len: int,
    units: int = 32,
    ae_epochs: int = 10,
    clf_epochs: int = 20,
    seed: int = 0,
):
    """Train the chunk autoencoder + code classifier at ``code_size``; plot a reconstruction.

    Args:
        code_size: numbers per chunk code.
        data: ``(x_train, y_train, x_test, y_test)``.
        chunk_len, units, ae_epochs, clf_epochs, seed: see :func:`code_size_run`.

    Returns:
        ``(fig, result)``: the reconstruction plot of the first test trace and the dict
        of :func:`code_size_run`.
    """
    result = code_size_run(*data, code_size, chunk_len, units=units, ae_epochs=ae_epochs,
                           clf_epochs=clf_epochs, seed=seed)
    fig, _ = reconstruction_figure(
        result["autoencoder"], data[2], chunk_len,
        title=f"code size {code_size}: MSE {result['recon_mse']:.3f}, "
              f"accuracy on codes {result['code_acc']:.2f}")
    return fig, result


if __name__ == "__main__":
    raise SystemExit(_main())
