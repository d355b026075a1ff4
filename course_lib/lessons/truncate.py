"""Plumbing for notebook 03 (truncation).

The notebook writes the technique on its page; this module keeps copies of its cells
(``tests/test_saved_copies.py`` checks they stay identical): :func:`token_lstm_classifier`,
the ``keras.Sequential`` Embedding -> LSTM -> sigmoid model trained on the truncated tokens.
The slicing itself is :func:`course_lib.techniques.truncate_steps` (validated wrapper:
:func:`course_lib.techniques.truncate`), which later notebooks reuse.

What would distract from the page lives here:

* :func:`signal_kept` -- share of the planted words a truncation keeps (no training),
  and :func:`signal_kept_figure` for every maxlen at once;
* :func:`truncation_grid` -- train one classifier per (placement, side) and score it;
  :func:`truncation_figure` draws it, :func:`truncation_report` is the widget's plain function;
* :func:`head_and_tail` and :func:`check_head_and_tail` -- the exercise that asks for code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from course_lib.data import (
    POSITIONS,
    train_test_split,
    zipf_documents,
)
from course_lib.environment import set_seed
from course_lib.models import fit_and_score
from course_lib.techniques import SIDES, truncate
from course_lib.validate import check_positive_int

__all__ = [
    "SIDE_NAMES",
    "token_lstm_classifier",
    "signal_kept",
    "signal_kept_figure",
    "truncation_grid",
    "truncation_figure",
    "truncation_report",
    "head_and_tail",
    "check_head_and_tail",
]

SIDE_NAMES = {"pre": "truncate pre", "post": "truncate post"}  # plots.color_for keys


def token_lstm_classifier(maxlen, vocab_size, embed_dim, units):
    """Build and compile Embedding -> LSTM(units) -> Dense(1, sigmoid) for token documents.

    Args:
        maxlen: tokens per (truncated) document (>= 1).
        vocab_size: token ids ``0..vocab_size-1`` (>= 1).
        embed_dim: embedding width (>= 1).
        units: LSTM units (>= 1).

    Returns:
        A compiled binary classifier mapping int ids ``[batch, maxlen]`` to ``[batch, 1]``.
    """
    for name, value in {"maxlen": maxlen, "vocab_size": vocab_size, "embed_dim": embed_dim,
                        "units": units}.items():
        check_positive_int(name, value)
    model = keras.Sequential([
        keras.Input(shape=(maxlen,), dtype="int32"),
        keras.layers.Embedding(vocab_size, embed_dim),  # one vector per token id
        keras.layers.LSTM(units),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _check_side(side: Any) -> str:
    if side not in SIDES:
        raise ValueError(
            f"side must be 'pre' (drop the start) or 'post' (drop the end), got {side!r}")
    return side


def signal_kept(planted_positions: Any, seq_len: int, maxlen: int, side: str) -> float:
    """Return the share of planted words that survive ``truncate(maxlen, side)``.

    Args:
        planted_positions: int ``[samples, n_planted]`` positions of the sentiment words
            (``info.extra["planted_positions"]`` of :func:`course_lib.data.zipf_documents`).
        seq_len: tokens per document before truncation.
        maxlen: tokens kept, in ``[1, seq_len]``.
        side: "pre" keeps the last ``maxlen`` tokens, "post" the first ``maxlen``.

    Returns:
        A fraction in [0, 1].
    """
    seq_len = check_positive_int("seq_len", seq_len)
    maxlen = check_positive_int("maxlen", maxlen, maximum=seq_len)
    side = _check_side(side)
    pos = np.asarray(planted_positions)
    if pos.ndim != 2 or pos.size == 0 or not np.issubdtype(pos.dtype, np.integer):
        raise ValueError(f"planted_positions must be a non-empty 2-D int array, got {pos.shape}")
    if pos.min() < 0 or pos.max() >= seq_len:
        raise ValueError(f"planted_positions must be in [0, {seq_len - 1}]")
    kept = pos >= seq_len - maxlen if side == "pre" else pos < maxlen
    return float(kept.mean())


def signal_kept_figure(planted: dict[str, Any], seq_len: int, maxlen: int | None = None,
                       n_points: int = 40):
    """Draw the share of planted words each side keeps, for every maxlen from 1 to seq_len.

    Colour marks the side (the course's "truncate pre"/"truncate post" colours), line
    style the placement; earlier placements are drawn wider so lines that coincide
    stay visible.

    Args:
        planted: ``{placement: planted_positions [samples, n_planted]}``.
        seq_len: tokens per document before truncation.
        maxlen: if given, a dashed vertical line marks it.
        n_points: maxlen values evaluated (>= 2).

    Returns:
        ``(fig, ax)``.
    """
    from course_lib import plots

    seq_len = check_positive_int("seq_len", seq_len)
    n_points = check_positive_int("n_points", n_points, minimum=2)
    if not isinstance(planted, dict) or not planted:
        raise ValueError("planted must be a non-empty dict {placement: positions}")
    lengths = np.unique(np.linspace(1, seq_len, n_points).astype(int))
    fig, ax = plots.figure("Share of sentiment words a truncation keeps",
                           "maxlen (tokens kept)", "share of planted words kept")
    styles = ["-", "--", ":", "-."]
    for i, (placement, where) in enumerate(planted.items()):
        for side in SIDES:
            kept = [signal_kept(where, seq_len, int(m), side) for m in lengths]
            ax.plot(lengths, kept, linestyle=styles[i % len(styles)],
                    linewidth=1.5 + 2.0 * (len(planted) - 1 - i),
                    color=plots.color_for(SIDE_NAMES[side]),
                    label=f"signal at {placement}, {side}")
    if maxlen is not None:
        ax.axvline(check_positive_int("maxlen", maxlen, maximum=seq_len), color="gray",
                   linestyle="--", linewidth=1)
    ax.legend(fontsize=8, loc="center right")
    return fig, ax


def _docs(position: str, *, n_samples: int, seq_len: int, vocab_size: int, region: float,
          seed: int):
    return zipf_documents(n_samples, seq_len, vocab_size=vocab_size, position=position,
                          region=region, seed=seed)


def truncation_grid(
    maxlen: int,
    *,
    positions: Sequence[str] = ("start", "end"),
    sides: Sequence[str] = ("pre", "post"),
    n_samples: int = 512,
    seq_len: int = 400,
    vocab_size: int = 1000,
    region: float = 0.1,
    units: int = 16,
    embed_dim: int = 8,
    epochs: int = 5,
    batch_size: int = 32,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train one token classifier per (signal placement, truncation side) and score it.

    For each placement the documents are drawn once, split once, and then truncated
    with each side, so the two sides see exactly the same documents.

    Args:
        maxlen: tokens kept by the truncation, in ``[1, seq_len]``.
        positions: where the sentiment words sit: "start", "end" and/or "anywhere".
        sides: truncation sides to compare, "pre" and/or "post".
        n_samples: documents per placement (>= 8); a quarter is held out.
        seq_len: tokens per document before truncation (>= 2).
        vocab_size: token ids ``0..vocab_size-1``.
        region: share of the document the "start"/"end" words are planted in.
        units, embed_dim: LSTM units and embedding width.
        epochs, batch_size: training settings (Adam, learning rate 0.01).
        seed: seeds the documents and the weights.

    Returns:
        One dict per (position, side): ``position``, ``side``, ``maxlen``, ``test_acc``,
        ``train_acc``, ``sec_per_epoch`` and ``signal_kept`` (share of planted words
        left in the held-out documents).
    """
    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    maxlen = check_positive_int("maxlen", maxlen, maximum=seq_len)
    if isinstance(positions, str) or not positions or any(p not in POSITIONS for p in positions):
        raise ValueError(f"positions must be a non-empty list drawn from {POSITIONS}, "
                         f"got {positions!r}")
    if isinstance(sides, str) or not sides:
        raise ValueError(f"sides must be a non-empty list drawn from {SIDES}, got {sides!r}")
    sides = [_check_side(s) for s in sides]
    n_samples = check_positive_int("n_samples", n_samples, minimum=8)
    check_positive_int("units", units)
    check_positive_int("embed_dim", embed_dim)
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    seed = check_positive_int("seed", seed, minimum=0)
    results = []
    for position in positions:
        x, y, info = _docs(position, n_samples=n_samples, seq_len=seq_len,
                           vocab_size=vocab_size, region=region, seed=seed)
        index = np.arange(n_samples)
        train_idx, _, test_idx, _ = train_test_split(index, y, seed=seed)
        planted_test = info.extra["planted_positions"][test_idx]
        for side in sides:
            set_seed(seed)
            model = token_lstm_classifier(maxlen, vocab_size, embed_dim, units)
            score = fit_and_score(
                model, (truncate(x[train_idx], maxlen, side), y[train_idx]),
                (truncate(x[test_idx], maxlen, side), y[test_idx]), epochs=epochs,
                batch_size=batch_size, label=f"signal at {position:>8}, truncate {side:>4}")
            keras.backend.clear_session()
            results.append({"position": position, "side": side, "maxlen": maxlen,
                            "test_acc": score["test_acc"], "train_acc": score["train_acc"],
                            "sec_per_epoch": score["sec_per_epoch"],
                            "signal_kept": signal_kept(planted_test, seq_len, maxlen, side)})
    return results


def truncation_figure(results: Sequence[dict[str, Any]], title: str | None = None):
    """Draw held-out accuracy as grouped bars: one group per placement, one bar per side.

    Returns:
        ``(fig, ax)``.
    """
    from course_lib import plots

    if not results:
        raise ValueError("results must be a non-empty list of dicts from truncation_grid")
    positions = list(dict.fromkeys(r["position"] for r in results))
    sides = list(dict.fromkeys(r["side"] for r in results))
    maxlen = results[0]["maxlen"]
    fig, ax = plots.figure(title or f"Truncation to {maxlen} tokens",
                           "where the sentiment words are", "held-out accuracy")
    width = 0.8 / len(sides)
    for j, side in enumerate(sides):
        acc = [next((r["test_acc"] for r in results
                     if r["position"] == p and r["side"] == side), np.nan) for p in positions]
        xs = np.arange(len(positions)) + (j - (len(sides) - 1) / 2) * width
        bars = ax.bar(xs, acc, width, label=SIDE_NAMES[side], color=plots.color_for(
            SIDE_NAMES[side]))
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.axhline(0.5, color="gray", linestyle="--", label="chance")
    ax.set_xticks(range(len(positions)), [f"signal at {p}" for p in positions])
    ax.set_ylim(0, 1.3)  # room above the bars for the legend
    ax.legend(loc="upper center", ncol=3, fontsize=8)
    return fig, ax


def truncation_report(maxlen: int, side: str, **kwargs: Any):
    """Train with one truncation (``maxlen``, ``side``) on both placements; draw the result.

    The plain function behind notebook 03's widget.

    Args:
        maxlen: tokens kept.
        side: "pre" or "post".
        **kwargs: passed to :func:`truncation_grid` (sizes, epochs, seed, positions).

    Returns:
        ``(fig, results)`` with :func:`truncation_grid`'s list of dicts.
    """
    side = _check_side(side)
    results = truncation_grid(maxlen, sides=(side,), **kwargs)
    kept = ", ".join(f"{r['position']} {r['signal_kept']:.0%}" for r in results)
    fig, _ = truncation_figure(results, title=f"Keep {maxlen} tokens, truncate {side!r} "
                                              f"(signal kept: {kept})")
    return fig, results


# --------------------------------------------------------------------------------------
# Exercise: keep both ends
# --------------------------------------------------------------------------------------


def head_and_tail(x: Any, head: int, tail: int) -> np.ndarray:
    """Keep the first ``head`` and the last ``tail`` steps of every sequence, in order.

    Long reviews often say what they are about at the start and conclude at the end;
    keeping both ends is the usual compromise when one side alone loses too much.

    Args:
        x: ``[samples, timesteps]`` or ``[samples, timesteps, features]``.
        head: steps kept from the start (>= 0).
        tail: steps kept from the end (>= 0); ``1 <= head + tail <= timesteps``.

    Returns:
        Array ``[samples, head + tail, ...]``, same dtype as ``x``.
    """
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"x must be 2-D or 3-D [samples, timesteps, ...], got shape {x.shape}")
    head = check_positive_int("head", head, minimum=0)
    tail = check_positive_int("tail", tail, minimum=0)
    if not 1 <= head + tail <= x.shape[1]:
        raise ValueError(f"head + tail must be in [1, {x.shape[1]}] (the timesteps of x), "
                         f"got {head} + {tail}")
    return np.concatenate([x[:, :head], x[:, x.shape[1] - tail:]], axis=1)


def check_head_and_tail(fn: Callable[..., Any], *, trials: int = 25, seed: int = 0) -> bool:
    """Compare a student's ``fn(x, head, tail)`` with :func:`head_and_tail` on random inputs.

    Tries 2-D token arrays and 3-D signals, including ``head = 0`` and ``tail = 0``. Prints
    the first input where they differ.

    Returns:
        True when every trial gives the same array.
    """
    if not callable(fn):
        print("Your answer must be a function fn(x, head, tail).")
        return False
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(check_positive_int("seed", seed, minimum=0))
    for i in range(trials):
        t = int(rng.integers(2, 20))
        shape = (int(rng.integers(1, 5)), t) + ((int(rng.integers(1, 4)),) if i % 2 else ())
        x = rng.integers(0, 100, size=shape)
        head = 0 if i == 0 else int(rng.integers(0, t))
        tail = int(rng.integers(1, t - head + 1)) if head == 0 or i % 3 else 0
        expected = head_and_tail(x, head, tail)
        try:
            got = np.asarray(fn(x.copy(), head, tail))
        except Exception as exc:  # a student's function may fail in any way; say how
            print(f"x of shape {shape}, head={head}, tail={tail}: {type(exc).__name__}: {exc}")
            return False
        if got.shape != expected.shape or not np.array_equal(got, expected):
            print(f"x of shape {shape}, head={head}, tail={tail}: expected shape "
                  f"{expected.shape}, got {got.shape}" + ("" if got.shape != expected.shape
                                                          else " with other values"))
            return False
    return True
