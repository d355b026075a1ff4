"""Plumbing for notebooks 02 (sequences as-is) and 03 (truncation).

Notebook 02 trains the same LSTM on the full marker task at several lengths T and
asks where full-length training stops being practical:

* :func:`train_at_lengths` -- one run per T: held-out accuracy and seconds per epoch;
* :func:`projected_hours` / :func:`practical_limit` -- scale the measured seconds per
  epoch up to a realistic data set and find the longest T that is both learned and
  affordable.

Notebook 03 compares ``truncate(..., side="pre")`` with ``side="post"`` on Zipf
documents whose sentiment words sit at the start or at the end:

* :func:`signal_kept` -- share of the planted words a truncation keeps (no training),
  and :func:`signal_kept_figure` for every maxlen at once;
* :func:`truncation_grid` -- train one classifier per (placement, side) and score it;
* :func:`truncation_report` -- the plain function behind the (maxlen, side) widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from course_lib.data import (
    POSITIONS,
    _check_seed,
    check_fraction,
    check_positive_int,
    marker_task,
    train_test_split,
    zipf_documents,
)
from course_lib.techniques import SIDES, truncate

SIDE_NAMES = {"pre": "truncate pre", "post": "truncate post"}  # plots.color_for keys


def _check_lengths(name: str, values: Any) -> list[int]:
    """Return ``values`` as a list of distinct positive ints in increasing order."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty sequence of ints >= 1, got {values!r}")
    out = [check_positive_int(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {out}")
    return out


# --------------------------------------------------------------------------------------
# Notebook 02: sequences as-is
# --------------------------------------------------------------------------------------


def train_at_lengths(
    seq_lengths: Sequence[int],
    *,
    n_samples: int = 512,
    epochs: int = 10,
    units: int = 32,
    batch_size: int = 32,
    noise: float = 0.5,
    learning_rate: float = 1e-2,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train a fresh LSTM on the full-length marker task at each T; score and time it.

    The marker sits at step 0, so at length T the model must carry one bit across
    all T steps. Every length uses the same samples, epochs and seed, so only T differs.

    Args:
        seq_lengths: lengths T to try, strictly increasing, each >= 2.
        n_samples: sequences per length (>= 8); a quarter is held out for testing.
        epochs: training epochs per length (>= 1; >= 2 gives a steady time per epoch).
        units: LSTM units.
        batch_size: sequences per weight update.
        noise: std of the distracting noise in the marker task.
        learning_rate: Adam learning rate.
        seed: seeds the data and the weights.

    Returns:
        One dict per T, in order: ``seq_len``, ``test_acc``, ``train_acc``,
        ``sec_per_epoch`` (median after the first epoch), ``first_epoch_sec``,
        ``n_train`` and ``epochs``.
    """
    import keras

    from course_lib.environment import set_seed
    from course_lib.models import fit_and_score, lstm_classifier

    lengths = _check_lengths("seq_lengths", seq_lengths)
    if lengths[0] < 2:
        raise ValueError(f"seq_lengths must all be >= 2, got {lengths[0]}")
    n_samples = check_positive_int("n_samples", n_samples, minimum=8)
    epochs = check_positive_int("epochs", epochs)
    units = check_positive_int("units", units)
    batch_size = check_positive_int("batch_size", batch_size)
    seed = _check_seed(seed)
    results = []
    for seq_len in lengths:
        set_seed(seed)
        x, y, _ = marker_task(n_samples, seq_len, noise=noise, seed=seed)
        x_train, y_train, x_test, y_test = train_test_split(x, y, seed=seed)
        model = lstm_classifier(seq_len, x.shape[-1], units, learning_rate=learning_rate)
        score = fit_and_score(model, (x_train, y_train), (x_test, y_test), epochs=epochs,
                              batch_size=batch_size, label=f"T={seq_len:>5}")
        keras.backend.clear_session()
        results.append({"seq_len": seq_len, "test_acc": score["test_acc"],
                        "train_acc": score["train_acc"],
                        "sec_per_epoch": score["sec_per_epoch"],
                        "first_epoch_sec": score["first_epoch_sec"],
                        "n_train": int(len(x_train)), "epochs": epochs})
    return results


def projected_hours(sec_per_epoch: float, n_measured: int, n_target: int, epochs: int) -> float:
    """Scale a measured time per epoch to ``n_target`` samples and ``epochs`` epochs.

    An epoch's cost is proportional to the number of samples it reads (same batch
    size, same T), so the projection is linear in ``n_target / n_measured``.

    Args:
        sec_per_epoch: measured seconds per epoch (> 0).
        n_measured: training samples of the measured epoch (>= 1).
        n_target: training samples of the data set to project to (>= 1).
        epochs: epochs of the projected training run (>= 1).

    Returns:
        Projected wall-clock hours for the whole run.
    """
    if isinstance(sec_per_epoch, bool) or not isinstance(sec_per_epoch, (int, float, np.number)):
        raise TypeError(f"sec_per_epoch must be a number, got {type(sec_per_epoch).__name__}")
    if not np.isfinite(sec_per_epoch) or sec_per_epoch <= 0:
        raise ValueError(f"sec_per_epoch must be a finite number > 0, got {sec_per_epoch}")
    n_measured = check_positive_int("n_measured", n_measured)
    n_target = check_positive_int("n_target", n_target)
    epochs = check_positive_int("epochs", epochs)
    return float(sec_per_epoch) * (n_target / n_measured) * epochs / 3600.0


def practical_limit(
    results: Sequence[dict[str, Any]],
    *,
    n_target: int,
    epochs_target: int,
    budget_hours: float,
    min_accuracy: float = 0.9,
) -> dict[str, Any]:
    """Find the longest T that is learned and whose projected training fits the budget.

    Args:
        results: dicts from :func:`train_at_lengths` (``seq_len``, ``test_acc``,
            ``sec_per_epoch``, ``n_train``).
        n_target: training samples of the realistic data set (>= 1).
        epochs_target: epochs a realistic run needs (>= 1).
        budget_hours: wall-clock hours you are willing to wait (> 0).
        min_accuracy: held-out accuracy that counts as learned, in [0, 1].

    Returns:
        dict with ``hours`` (``{T: projected hours}``), ``longest_learned`` (largest T
        with ``test_acc >= min_accuracy``, 0 if none), ``longest_affordable`` (largest T
        within budget, 0 if none) and ``practical`` (largest T that is both, 0 if none).
    """
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence) or not results:
        raise ValueError("results must be a non-empty list of dicts from train_at_lengths")
    for i, r in enumerate(results):
        missing = {"seq_len", "test_acc", "sec_per_epoch", "n_train"} - set(r)
        if missing:
            raise ValueError(f"results[{i}] lacks {sorted(missing)}")
    check_positive_int("n_target", n_target)
    check_positive_int("epochs_target", epochs_target)
    if isinstance(budget_hours, bool) or not isinstance(budget_hours, (int, float)):
        raise TypeError(f"budget_hours must be a number, got {type(budget_hours).__name__}")
    if not budget_hours > 0:
        raise ValueError(f"budget_hours must be > 0, got {budget_hours}")
    min_accuracy = check_fraction("min_accuracy", min_accuracy)
    hours = {int(r["seq_len"]): projected_hours(r["sec_per_epoch"], r["n_train"], n_target,
                                                epochs_target) for r in results}
    learned = [int(r["seq_len"]) for r in results if r["test_acc"] >= min_accuracy]
    affordable = [t for t, h in hours.items() if h <= budget_hours]
    both = sorted(set(learned) & set(affordable))
    return {"hours": hours, "longest_learned": max(learned, default=0),
            "longest_affordable": max(affordable, default=0),
            "practical": both[-1] if both else 0}


def as_is_figure(results: Sequence[dict[str, Any]]):
    """Draw held-out accuracy (left axis) and seconds per epoch (right axis) against T.

    Returns:
        ``(fig, ax)``; ``ax`` holds accuracy, ``ax.right`` the time axis.
    """
    from course_lib import plots

    if not results:
        raise ValueError("results must be a non-empty list of dicts from train_at_lengths")
    lengths = [r["seq_len"] for r in results]
    fig, ax = plots.figure("Marker task trained as-is", "sequence length T (steps, log scale)",
                           "held-out accuracy")
    ax.plot(lengths, [r["test_acc"] for r in results], marker="o",
            color=plots.color_for("as-is"), label="accuracy")
    ax.axhline(0.5, color="gray", linestyle="--", label="chance")
    ax.set_ylim(0.4, 1.02)
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(t) for t in lengths])
    ax.minorticks_off()
    right = ax.twinx()
    right.plot(lengths, [r["sec_per_epoch"] for r in results], marker="s", linestyle=":",
               color=plots.color_for("time per epoch"), label="seconds per epoch")
    right.set_ylabel("seconds per epoch")
    right.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()
    extra = right.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], loc="center left")
    ax.right = right
    return fig, ax


# --------------------------------------------------------------------------------------
# Notebook 03: truncation
# --------------------------------------------------------------------------------------


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
    learning_rate: float = 1e-2,
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
        epochs, batch_size, learning_rate: training settings.
        seed: seeds the documents and the weights.

    Returns:
        One dict per (position, side): ``position``, ``side``, ``maxlen``, ``test_acc``,
        ``train_acc``, ``sec_per_epoch`` and ``signal_kept`` (share of planted words
        left in the held-out documents).
    """
    import keras

    from course_lib.environment import set_seed
    from course_lib.models import fit_and_score, token_classifier

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
    seed = _check_seed(seed)
    results = []
    for position in positions:
        x, y, info = _docs(position, n_samples=n_samples, seq_len=seq_len,
                           vocab_size=vocab_size, region=region, seed=seed)
        index = np.arange(n_samples)
        train_idx, _, test_idx, _ = train_test_split(index, y, seed=seed)
        planted_test = info.extra["planted_positions"][test_idx]
        for side in sides:
            set_seed(seed)
            model = token_classifier(maxlen, vocab_size, embed_dim, units,
                                     learning_rate=learning_rate)
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
    ax.set_ylim(0, 1.1)
    ax.legend(loc="lower right")
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
