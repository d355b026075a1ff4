"""Plumbing for notebook 04 (summarize).

The notebook writes the technique on its page; ``tests/test_saved_copies.py`` checks that
the copies kept here and in :mod:`course_lib.techniques` stay identical to its cells:

* :func:`course_lib.techniques.token_ranks` and :func:`course_lib.techniques.summarize_steps`
  -- the frequency ranking and the summarizing step (validated wrappers:
  :func:`course_lib.techniques.fit_token_ranks`, :func:`course_lib.techniques.summarize`);
* :func:`fit_token_lstm` -- the ``keras.Sequential`` Embedding -> LSTM -> sigmoid model,
  its ``compile``, ``fit`` and ``evaluate``.

What would distract from the page lives here: :func:`words_kept`, :func:`mark_words` and
:func:`fraction_needed` (counting and printing, no training); :func:`summarize_vs_truncate`
and :func:`keep_fraction_demo` (the widget's plain function) with
:func:`keep_fraction_figure`; :func:`drop_common` and :func:`check_drop_common` (the
exercise that asks for code).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from course_lib.techniques import fit_token_ranks, summarize, truncate
from course_lib.validate import check_fraction, check_positive_int

__all__ = [
    "fit_token_lstm",
    "words_kept",
    "mark_words",
    "fraction_needed",
    "summarize_vs_truncate",
    "keep_fraction_figure",
    "keep_fraction_demo",
    "drop_common",
    "check_drop_common",
]


def fit_token_lstm(train, test, vocab_size, embed_dim, units, epochs, seed):
    """Train Embedding -> LSTM -> sigmoid on ``train = (x, y)``; return test accuracy, s/epoch.

    Written out in notebook 04. ``seed`` fixes the start weights and the batch order, so
    two shortenings of the same documents get the same model and the same training.
    """
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(shape=(train[0].shape[1],), dtype="int32"),
        keras.layers.Embedding(vocab_size, embed_dim),  # one learned vector per token id
        keras.layers.LSTM(units),  # default activations: cuDNN's fast kernel on a GPU
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="binary_crossentropy", metrics=["accuracy"])
    began = time.perf_counter()
    model.fit(train[0], train[1], epochs=epochs, batch_size=32, verbose=0)
    sec_per_epoch = (time.perf_counter() - began) / epochs  # the first epoch includes tracing
    _, test_acc = model.evaluate(test[0], test[1], batch_size=256, verbose=0)
    return float(test_acc), sec_per_epoch


def words_kept(x_short: Any, x_full: Any, word_ids: Any) -> float:
    """Return the share of the ``word_ids`` occurrences in ``x_full`` that ``x_short`` still holds.

    Args:
        x_short: int ``[samples, short_len]`` shortened documents.
        x_full: int ``[samples, timesteps]`` the same documents before shortening.
        word_ids: the ids to count (e.g. the planted sentiment words).

    Returns:
        A float in [0, 1] (1.0 when ``x_full`` holds none of the words).
    """
    x_short, x_full = np.asarray(x_short), np.asarray(x_full)
    if x_short.ndim != 2 or x_full.ndim != 2 or x_short.shape[0] != x_full.shape[0]:
        raise ValueError(
            f"x_short and x_full must be 2-D with the same number of documents, got "
            f"{x_short.shape} and {x_full.shape}")
    word_ids = np.asarray(word_ids).ravel()
    if word_ids.size == 0:
        raise ValueError("word_ids must name at least one token id")
    total = np.isin(x_full, word_ids).sum()
    return 1.0 if total == 0 else float(np.isin(x_short, word_ids).sum() / total)


def mark_words(doc: Any, word_ids: Any, limit: int = 40) -> str:
    """Return the first ``limit`` ids of one document as text, with ``word_ids`` in [brackets].

    Args:
        doc: int ``[timesteps]`` token ids of ONE document.
        word_ids: ids to highlight.
        limit: how many tokens to show (>= 1); "..." marks the rest.
    """
    doc = np.asarray(doc)
    if doc.ndim != 1:
        raise ValueError(f"doc must be 1-D (one document), got shape {doc.shape}")
    limit = check_positive_int("limit", limit)
    marked = set(np.asarray(word_ids).ravel().tolist())
    words = [f"[{t}]" if t in marked else str(t) for t in doc[:limit].tolist()]
    return " ".join(words) + (" ..." if len(doc) > limit else "")


def fraction_needed(x: Any, ranks: Any, word_ids: Any) -> np.ndarray:
    """Return, per document, the smallest keep fraction at which summarizing keeps all ``word_ids``.

    A summary keeps the rarest tokens, so it keeps every labelled word once it keeps
    all tokens that are at least as rare as the most common labelled word present.

    Args:
        x: int ``[samples, timesteps]`` token ids.
        ranks: int ``[vocab_size]`` from :func:`course_lib.techniques.fit_token_ranks`.
        word_ids: the ids that carry the label.

    Returns:
        float ``[samples]`` in (0, 1]; 0.0 for a document that holds none of the words.
    """
    x, ranks = np.asarray(x), np.asarray(ranks)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"x must be 2-D int token ids [samples, timesteps], got {x.shape}")
    if ranks.ndim != 1 or x.min() < 0 or x.max() >= len(ranks):
        raise ValueError("ranks must be 1-D and cover every id in x (use fit_token_ranks)")
    token_rank = ranks[x]
    is_word = np.isin(x, np.asarray(word_ids).ravel())
    # the most common labelled word of each document = its lowest rank among the words
    lowest = np.where(is_word, token_rank, np.iinfo(np.int64).max).min(axis=1)
    needed = (token_rank >= lowest[:, None]).sum(axis=1) / x.shape[1]
    return np.where(is_word.any(axis=1), needed, 0.0)


def _check_split(data: Any) -> tuple[np.ndarray, ...]:
    """Return ``data = (x_train, y_train, x_test, y_test)`` as 2-D token arrays, or raise."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError("data must be a tuple (x_train, y_train, x_test, y_test)")
    x_train, y_train, x_test, y_test = (np.asarray(a) for a in data)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 2:
            raise ValueError(f"x_{name} must be 2-D token ids, got shape {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y_{name} must have shape ({x.shape[0]},), got {y.shape}")
    if x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"x_train and x_test must have the same length, got "
                         f"{x_train.shape[1]} and {x_test.shape[1]}")
    return x_train, y_train, x_test, y_test


def summarize_vs_truncate(
    keep_fraction: float,
    *,
    data: tuple,
    vocab_size: int,
    word_ids: Any,
    side: str = "pre",
    embed_dim: int = 16,
    units: int = 16,
    epochs: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Shorten documents by summarizing and by truncating to the SAME length; train on each.

    The token ranks are fitted on the training documents only; both models are
    :func:`fit_token_lstm` with the same sizes and seed.

    Args:
        keep_fraction: share of each document to keep, in (0, 1].
        data: ``(x_train, y_train, x_test, y_test)``, int ids ``[samples, timesteps]``.
        vocab_size: number of token ids.
        word_ids: the ids that carry the label (to count how many each method keeps).
        side: which end truncation removes ("pre" keeps the end, "post" the start).
        embed_dim, units: model sizes (>= 1).
        epochs: training epochs (>= 1).
        seed: seed for the weights (>= 0).

    Returns:
        ``{"keep_fraction", "length", "side", "summarize": {...}, "truncate": {...}}`` where
        each method holds ``test_acc``, ``sec_per_epoch`` and ``words_kept``.
    """
    keep_fraction = check_fraction("keep_fraction", keep_fraction)
    if keep_fraction <= 0.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    x_train, y_train, x_test, y_test = _check_split(data)
    for name, value in {"embed_dim": embed_dim, "units": units, "epochs": epochs}.items():
        check_positive_int(name, value)
    seed = check_positive_int("seed", seed, minimum=0)
    ranks = fit_token_ranks(x_train, vocab_size)
    short = {"summarize": (summarize(x_train, ranks, keep_fraction),
                           summarize(x_test, ranks, keep_fraction))}
    length = short["summarize"][0].shape[1]
    short["truncate"] = (truncate(x_train, length, side), truncate(x_test, length, side))
    result: dict[str, Any] = {"keep_fraction": keep_fraction, "length": length, "side": side}
    for method, (train_short, test_short) in short.items():
        acc, sec = fit_token_lstm((train_short, y_train), (test_short, y_test), vocab_size,
                                  embed_dim, units, epochs, seed)
        result[method] = {"test_acc": acc, "sec_per_epoch": sec,
                          "words_kept": words_kept(test_short, x_test, word_ids)}
        print(f"{method} f={keep_fraction:g} ({length} tokens): test accuracy {acc:.3f}")
    return result


def keep_fraction_figure(result: dict[str, Any]):
    """Draw one :func:`summarize_vs_truncate` result as bars; return ``(fig, ax)``."""
    from course_lib import plots

    names = ["summarize", f"truncate {result.get('side', 'pre')}"]
    keys = ["summarize", "truncate"]
    fig, ax = plots.figure(
        f"Keep {result['keep_fraction']:.0%} of each document ({result['length']} tokens)",
        "method", "share")
    xs = np.arange(2)
    ax.bar(xs - 0.2, [result[k]["test_acc"] for k in keys], 0.4, label="test accuracy",
           color=[plots.color_for(n) for n in names])
    ax.bar(xs + 0.2, [result[k]["words_kept"] for k in keys], 0.4, label="sentiment words kept",
           color="lightgrey", edgecolor="black")
    ax.axhline(0.5, color="black", linestyle=":", label="chance")
    ax.set_xticks(xs, names)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower right")
    return fig, ax


def keep_fraction_demo(keep_fraction: float, **kwargs: Any):
    """Run :func:`summarize_vs_truncate` and draw it; return ``(fig, result)`` (the widget's).

    Args:
        keep_fraction: share of each document to keep, in (0, 1].
        **kwargs: passed on to :func:`summarize_vs_truncate` (``data``, ``vocab_size``, ...).
    """
    result = summarize_vs_truncate(keep_fraction, **kwargs)
    fig, _ = keep_fraction_figure(result)
    return fig, result


def drop_common(x: Any, ranks: Any, n_common: int, length: int) -> np.ndarray:
    """Drop the ``n_common`` most frequent ids (a stop list), keep order, pad/cut to ``length``.

    The reference answer of notebook 04's coding exercise: every id whose rank is below
    ``n_common`` goes; what remains keeps its order; rows are then cut to their first
    ``length`` tokens or padded with 0 at the end.

    Args:
        x: int ``[samples, timesteps]`` token ids covered by ``ranks``.
        ranks: int ``[vocab_size]`` from :func:`course_lib.techniques.fit_token_ranks`.
        n_common: how many of the most frequent ids to drop (>= 0).
        length: tokens per output row (>= 1).

    Returns:
        ``[samples, length]``, same dtype as ``x``.
    """
    x, ranks = np.asarray(x), np.asarray(ranks)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"x must be 2-D int token ids [samples, timesteps], got {x.shape}")
    if ranks.ndim != 1 or x.min() < 0 or x.max() >= len(ranks):
        raise ValueError("ranks must be 1-D and cover every id in x (use fit_token_ranks)")
    n_common = check_positive_int("n_common", n_common, minimum=0)
    length = check_positive_int("length", length)
    out = np.zeros((x.shape[0], length), dtype=x.dtype)
    for i, row in enumerate(x):
        kept = row[ranks[row] >= n_common][:length]
        out[i, :len(kept)] = kept
    return out


def check_drop_common(fn: Callable[..., Any], *, trials: int = 25, seed: int = 0) -> bool:
    """Compare a student's ``fn(x, ranks, n_common, length)`` with :func:`drop_common`.

    Random documents, rankings, stop-list sizes (0 included) and lengths both shorter and
    longer than what survives. Prints the first input where the two differ.

    Returns:
        True when every trial gives the same array.
    """
    if not callable(fn):
        print("Your answer must be a function fn(x, ranks, n_common, length).")
        return False
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(check_positive_int("seed", seed, minimum=0))
    for i in range(trials):
        vocab, t = int(rng.integers(3, 30)), int(rng.integers(2, 25))
        x = rng.integers(0, vocab, size=(int(rng.integers(1, 5)), t))
        ranks = fit_token_ranks(rng.integers(0, vocab, size=(4, 20)), vocab)
        n_common = 0 if i == 0 else int(rng.integers(0, vocab))
        length = int(rng.integers(1, t + 5))
        expected = drop_common(x, ranks, n_common, length)
        try:
            got = np.asarray(fn(x.copy(), ranks.copy(), n_common, length))
        except Exception as exc:  # a student's function may fail in any way; say how
            print(f"x of shape {x.shape}, n_common={n_common}, length={length}: "
                  f"{type(exc).__name__}: {exc}")
            return False
        if got.shape != expected.shape or not np.array_equal(got, expected):
            print(f"x of shape {x.shape}, n_common={n_common}, length={length}: expected "
                  f"{expected.tolist()}, got {got.tolist()}")
            return False
    return True
