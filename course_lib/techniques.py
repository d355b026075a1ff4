"""Ways to shorten a long sequence before an LSTM sees it.

Every function takes arrays in Keras' layout -- ``[samples, timesteps]`` for token
ids or ``[samples, timesteps, features]`` for signals -- works along the time axis
(axis 1), keeps the order of the steps it keeps, and returns new arrays (the input
is never modified). Functions that draw random numbers take ``seed``. Arrays holding
NaN or inf are refused with a ValueError that names the argument.

Leakage rules the tests check:

* :func:`summarize` ranks tokens by frequency with :func:`fit_token_ranks`, which
  you call on the TRAIN set only, then apply to train and test alike.
* :func:`augment_windows` multiplies samples, so split into train/test FIRST
  (:func:`course_lib.data.train_test_split`) and augment each part on its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_lib.data import placement_slack
from course_lib.validate import check_finite, check_fraction, check_positive_int, check_seed

SIDES = ("pre", "post")


def _as_sequences(name: str, x: Any, *, integer: bool = False) -> np.ndarray:
    """Return ``x`` as an array of at least 2 dims (samples, timesteps, ...)."""
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # pragma: no cover - numpy's own message is clear
            raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc
    if x.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be 2-D [samples, timesteps] or 3-D [samples, timesteps, features], "
            f"got shape {x.shape}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one sample and one timestep, got {x.shape}")
    if integer and not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must hold integer token ids, got dtype {x.dtype}")
    return check_finite(name, x)


def _check_labels(x: np.ndarray, y: Any) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must have one entry per sample of x ({x.shape[0]}), got shape {y.shape}"
        )
    return check_finite("y", y)


# --------------------------------------------------------------------------------------
# Truncation
# --------------------------------------------------------------------------------------


def truncate_steps(x, maxlen, side):
    """Keep ``maxlen`` steps of every sequence (axis 1): the slicing behind :func:`truncate`.

    Written out in notebook 03; no validation (:func:`truncate` checks the arguments and
    returns a copy).
    """
    if side == "pre":
        return x[:, x.shape[1] - maxlen:]  # drop the start: keep the last maxlen steps
    return x[:, :maxlen]  # "post": drop the end, keep the first maxlen steps


def truncate(x: Any, maxlen: int, side: str = "pre") -> np.ndarray:
    """Cut every sequence to its first or last ``maxlen`` steps.

    ``side`` follows Keras' ``pad_sequences(truncating=...)``: "pre" removes steps
    from the BEGINNING (keeps the end), "post" removes steps from the END (keeps the
    start).

    Args:
        x: ``[samples, timesteps]`` or ``[samples, timesteps, features]``.
        maxlen: steps to keep, in ``[1, timesteps]``.
        side: "pre" or "post".

    Returns:
        Array ``[samples, maxlen, ...]``, same dtype as ``x``.
    """
    x = _as_sequences("x", x)
    maxlen = check_positive_int("maxlen", maxlen, maximum=x.shape[1])
    if side not in SIDES:
        raise ValueError(
            f"side must be 'pre' (drop the start) or 'post' (drop the end), got {side!r}"
        )
    return truncate_steps(x, maxlen, side).copy()


# --------------------------------------------------------------------------------------
# Summarization by token frequency
# --------------------------------------------------------------------------------------


def fit_token_ranks(x_train: Any, vocab_size: int, *, pad_id: int = 0) -> np.ndarray:
    """Rank token ids by how often they occur in the TRAINING documents.

    Args:
        x_train: int ``[samples, timesteps]`` token ids in ``[0, vocab_size)``.
        vocab_size: number of token ids.
        pad_id: padding id; it is not counted and gets rank 0 (the most "common").

    Returns:
        int64 ``[vocab_size]``: ``ranks[token]`` = 0 for the most frequent token, 1 for
        the next, ...; ties (and unseen tokens, which rank last) go by id.
    """
    x_train = _as_sequences("x_train", x_train, integer=True)
    if x_train.ndim != 2:
        raise ValueError(f"x_train must be 2-D token ids [samples, timesteps], got {x_train.shape}")
    vocab_size = check_positive_int("vocab_size", vocab_size, minimum=2)
    if x_train.min() < 0 or x_train.max() >= vocab_size:
        raise ValueError(
            f"x_train ids must be in [0, {vocab_size - 1}], got [{x_train.min()}, {x_train.max()}]"
        )
    pad_id = check_positive_int("pad_id", pad_id, minimum=0, maximum=vocab_size - 1)
    return token_ranks(x_train, vocab_size, pad_id)


def token_ranks(x_train, vocab_size, pad_id=0):
    """Rank ids by training frequency: the counting behind :func:`fit_token_ranks`.

    Written out in notebook 04; no validation (:func:`fit_token_ranks` checks the arguments).
    """
    counts = np.bincount(x_train.ravel(), minlength=vocab_size).astype(np.int64)
    counts[pad_id] = np.iinfo(np.int64).max  # padding counts as most common: dropped first
    order = np.lexsort((np.arange(vocab_size), -counts))  # count descending, ties by id
    ranks = np.empty(vocab_size, dtype=np.int64)
    ranks[order] = np.arange(vocab_size)  # ranks[token] = its place in that order
    return ranks


def summarize(x: Any, ranks: Any, keep_fraction: float) -> np.ndarray:
    """Keep the rarest ``keep_fraction`` of each document's tokens, in their original order.

    The rule: a token's rank comes from ``ranks`` (fitted on the training set with
    :func:`fit_token_ranks`); each document keeps its ``ceil(keep_fraction *
    timesteps)`` tokens with the highest rank (rarest in training), ties going to the
    earlier position. Dropping the most frequent words ("the", "and") is the same
    idea; keeping a fixed count gives every document the same length.

    Args:
        x: int ``[samples, timesteps]`` token ids.
        ranks: int ``[vocab_size]`` from :func:`fit_token_ranks` (train only!).
        keep_fraction: share of steps to keep, in (0, 1].

    Returns:
        int ``[samples, ceil(keep_fraction * timesteps)]``, same dtype as ``x``.
    """
    x = _as_sequences("x", x, integer=True)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D token ids [samples, timesteps], got {x.shape}")
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or not np.issubdtype(ranks.dtype, np.integer):
        raise TypeError("ranks must be a 1-D int array from fit_token_ranks")
    if x.min() < 0 or x.max() >= len(ranks):
        raise ValueError(
            f"x ids must be in [0, {len(ranks) - 1}] (the ranks' vocabulary), "
            f"got [{x.min()}, {x.max()}]"
        )
    keep_fraction = check_fraction("keep_fraction", keep_fraction)
    if keep_fraction <= 0.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    return summarize_steps(x, ranks, summarized_length(x.shape[1], keep_fraction))


def summarize_steps(x, ranks, keep):
    """Keep the ``keep`` rarest tokens of each row, in order: the step behind :func:`summarize`.

    Written out in notebook 04; no validation (:func:`summarize` checks the arguments).
    """
    token_rank = ranks[x]  # [samples, timesteps]; a high rank = rare in training
    rarest = np.argsort(-token_rank, axis=1, kind="stable")[:, :keep]  # ties: earlier first
    return np.take_along_axis(x, np.sort(rarest, axis=1), axis=1)  # back in document order


def summarized_length(seq_len: int, keep_fraction: float) -> int:
    """Return how many steps :func:`summarize` keeps: ``ceil(keep_fraction * seq_len)``."""
    seq_len = check_positive_int("seq_len", seq_len)
    keep_fraction = check_fraction("keep_fraction", keep_fraction)
    if keep_fraction <= 0.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    # round first so 0.1 * 300 = 30.000000000000004 does not become 31
    return max(1, min(seq_len, math.ceil(round(keep_fraction * seq_len, 9))))


# --------------------------------------------------------------------------------------
# Random sampling
# --------------------------------------------------------------------------------------


def random_drop_steps(x: Any, keep: int, *, seed: int = 0) -> np.ndarray:
    """Remove random steps so ``keep`` remain, in order (a new random choice per sequence).

    Args:
        x: ``[samples, timesteps]`` or ``[samples, timesteps, features]``.
        keep: steps to keep, in ``[1, timesteps]``.
        seed: random seed.

    Returns:
        Array ``[samples, keep, ...]``.
    """
    x = _as_sequences("x", x)
    keep = check_positive_int("keep", keep, maximum=x.shape[1])
    rng = np.random.default_rng(check_seed(seed))
    chosen = np.argsort(rng.random(x.shape[:2]), axis=1)[:, :keep]
    chosen = np.sort(chosen, axis=1)
    if x.ndim == 3:
        chosen = chosen[:, :, None]
    return np.take_along_axis(x, chosen, axis=1)


def window_starts(
    seq_len: int, window: int, n_windows: int, n_samples: int, *, overlap: bool, seed: int
) -> np.ndarray:
    """Draw sorted window start indices, ``[n_samples, n_windows]``.

    With ``overlap=True`` each start is drawn independently and uniformly from
    ``[0, seq_len - window]``, then the starts are sorted (windows may share steps or
    coincide). With ``overlap=False`` the windows never share a step (needs
    ``n_windows * window <= seq_len``) and each row of starts is uniform over all such
    placements.
    """
    seq_len = check_positive_int("seq_len", seq_len)
    window = check_positive_int("window", window, maximum=seq_len)
    n_windows = check_positive_int("n_windows", n_windows)
    n_samples = check_positive_int("n_samples", n_samples)
    rng = np.random.default_rng(check_seed(seed))
    if overlap:
        starts = rng.integers(0, seq_len - window + 1, size=(n_samples, n_windows))
        return np.sort(starts, axis=1)
    if n_windows * window > seq_len:
        raise ValueError(
            f"n_windows * window must be <= timesteps ({seq_len}) without overlap, "
            f"got {n_windows} * {window} = {n_windows * window}"
        )
    free = seq_len - n_windows * window
    # Stars and bars: uniform slack before each window, plus the windows before it.
    slack = placement_slack(rng, n_samples, n_windows, free)
    return slack + np.arange(n_windows) * window


def gather_windows(x, starts, window):
    """Return the ``[samples, n_windows, window, ...]`` slices of ``x`` that begin at ``starts``.

    Written out in notebook 05; no validation (:func:`random_windows` and
    :func:`augment_windows` check the arguments, :func:`window_starts` draws valid starts).
    """
    steps = starts[:, :, None] + np.arange(window)  # [samples, n_windows, window] step indices
    rows = np.arange(x.shape[0])[:, None, None]  # broadcasts against steps: one row per sample
    return x[rows, steps]  # fancy indexing gathers every window at once


def average_windows(predictions, n_windows):
    """Mean of each sequence's ``n_windows`` consecutive window predictions.

    Written out in notebook 05; rows must come as :func:`augment_windows` returns them (the
    windows of one sequence consecutive). :func:`aggregate_by_source` is the checked,
    general form (any order, any number of windows per sequence).
    """
    per_sequence = predictions.reshape(-1, n_windows, *predictions.shape[1:])
    return per_sequence.mean(axis=1)  # [samples, ...]


def random_windows(
    x: Any, window: int, n_windows: int = 1, *, overlap: bool = True, seed: int = 0
) -> np.ndarray:
    """Cut ``n_windows`` random contiguous windows from each sequence and join them in time order.

    Args:
        x: ``[samples, timesteps]`` or ``[samples, timesteps, features]``.
        window: steps per window, in ``[1, timesteps]``.
        n_windows: windows per sequence (>= 1).
        overlap: whether windows of one sequence may share steps.
        seed: random seed.

    Returns:
        Array ``[samples, n_windows * window, ...]``.
    """
    x = _as_sequences("x", x)
    starts = window_starts(x.shape[1], window, n_windows, x.shape[0], overlap=overlap, seed=seed)
    pieces = gather_windows(x, starts, window)
    return pieces.reshape(x.shape[0], n_windows * window, *x.shape[2:])


def augment_windows(
    x: Any,
    y: Any,
    window: int,
    n_windows: int,
    *,
    overlap: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn each sequence into ``n_windows`` shorter samples that carry its label.

    Apply to the training and test sets SEPARATELY, after splitting: windows of one
    sequence overlap, so mixing them across the split leaks test data into training.
    Use ``source`` to average a model's window predictions back per sequence.

    Args:
        x: ``[samples, timesteps]`` or ``[samples, timesteps, features]``.
        y: labels ``[samples, ...]``.
        window: steps per window, in ``[1, timesteps]``.
        n_windows: windows per sequence (>= 1).
        overlap: whether windows of one sequence may share steps.
        seed: random seed.

    Returns:
        ``x_aug [samples * n_windows, window, ...]``, ``y_aug [samples * n_windows, ...]``
        and ``source [samples * n_windows]`` (index of the original sequence); windows
        of one sequence are consecutive rows.
    """
    x = _as_sequences("x", x)
    y = _check_labels(x, y)
    starts = window_starts(x.shape[1], window, n_windows, x.shape[0], overlap=overlap, seed=seed)
    pieces = gather_windows(x, starts, window)
    n = x.shape[0]
    x_aug = pieces.reshape(n * n_windows, window, *x.shape[2:])
    source = np.repeat(np.arange(n), n_windows)
    return x_aug, y[source], source


def aggregate_by_source(predictions: Any, source: Any, n_samples: int | None = None) -> np.ndarray:
    """Average window predictions back to one prediction per original sequence.

    Args:
        predictions: ``[windows, ...]`` model outputs (e.g. probabilities).
        source: int ``[windows]`` from :func:`augment_windows`.
        n_samples: number of original sequences (default: ``source.max() + 1``).

    Returns:
        ``[n_samples, ...]`` mean prediction per sequence.
    """
    predictions = check_finite("predictions", np.asarray(predictions, dtype=np.float64))
    source = np.asarray(source)
    if source.ndim != 1 or predictions.shape[:1] != source.shape:
        raise ValueError(
            f"source must be 1-D with one entry per prediction ({predictions.shape[:1]}), "
            f"got {source.shape}"
        )
    if not np.issubdtype(source.dtype, np.integer) or (len(source) and source.min() < 0):
        raise ValueError("source must hold non-negative int sequence indices")
    n = int(source.max()) + 1 if n_samples is None else check_positive_int("n_samples", n_samples)
    if len(source) and source.max() >= n:
        raise ValueError(f"source has index {source.max()} but n_samples is {n}")
    flat = predictions.reshape(len(source), -1)
    sums = np.zeros((n, flat.shape[1]))
    np.add.at(sums, source, flat)
    counts = np.bincount(source, minlength=n)
    if (counts == 0).any():
        raise ValueError("every sequence needs at least one window in source")
    return (sums / counts[:, None]).reshape(n, *predictions.shape[1:])


# --------------------------------------------------------------------------------------
# Reshaping ideas: parallel pieces, halves for a bidirectional model
# --------------------------------------------------------------------------------------


def split_n(x: Any, n: int) -> list[np.ndarray]:
    """Cut each sequence into ``n`` consecutive equal pieces.

    Args:
        x: ``[samples, timesteps, ...]`` with ``timesteps`` divisible by ``n``.
        n: number of pieces, in ``[1, timesteps]``.

    Returns:
        List of ``n`` arrays ``[samples, timesteps // n, ...]``, in time order.
    """
    x = _as_sequences("x", x)
    n = check_positive_int("n", n, maximum=x.shape[1])
    if x.shape[1] % n:
        raise ValueError(
            f"timesteps ({x.shape[1]}) must be divisible by n ({n}); "
            f"truncate to {x.shape[1] - x.shape[1] % n} steps first"
        )
    return [p.copy() for p in np.split(x, n, axis=1)]


def split_halves(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the first and second half of each sequence (timesteps must be even).

    A bidirectional model can read the first half forward and the second half
    backward, so neither direction has to cover the whole sequence.
    """
    first, second = split_n(x, 2)
    return first, second


def parallel_subsequences(x: Any, n_pieces: int) -> np.ndarray:
    """Cut each sequence into ``n_pieces`` pieces and stack them as features, side by side.

    Step ``t`` of the result holds step ``t`` of every piece, so an LSTM runs
    ``timesteps // n_pieces`` steps over ``n_pieces * features`` inputs.

    Args:
        x: ``[samples, timesteps]`` or ``[samples, timesteps, features]`` with
            ``timesteps`` divisible by ``n_pieces``.
        n_pieces: pieces, in ``[1, timesteps]``.

    Returns:
        ``[samples, timesteps // n_pieces, n_pieces * features]``; features of piece
        ``p`` occupy columns ``p * features ... (p + 1) * features - 1``.
    """
    x = _as_sequences("x", x)
    if x.ndim == 2:
        x = x[:, :, None]
    pieces = split_n(x, n_pieces)
    return np.concatenate(pieces, axis=2)


# --------------------------------------------------------------------------------------
# Hashing and random projection
# --------------------------------------------------------------------------------------

_PRIME = 2_147_483_647  # 2**31 - 1


def mix64(z):
    """Scramble 64-bit integers with the splitmix64 finaliser (xor-shift, multiply, twice).

    A bijection on ``uint64``: distinct inputs stay distinct, but nearby or evenly spaced
    inputs come out looking independent, so ``mix64(ids) % m`` fills buckets like a random
    hash. Multiplications wrap around modulo ``2**64`` (uint64 arithmetic).

    Args:
        z: non-negative integers (any shape) below ``2**64``.

    Returns:
        ``uint64`` array of the same shape.
    """
    z = np.asarray(z).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hash_tokens(
    x: Any, n_buckets: int, *, ngram: int = 1, pad_id: int = 0, seed: int = 0
) -> np.ndarray:
    """Hash token ids (or non-overlapping n-grams of them) into ``n_buckets`` ids.

    With ``ngram=1`` only the vocabulary shrinks; with ``ngram=k`` every k
    consecutive tokens become ONE hashed id, so the sequence gets k times shorter.
    The n-gram's tokens are first combined into one code by a seeded polynomial (an
    exact, seed-dependent code for ``ngram=1``), then :func:`mix64` scrambles that code
    so that bucket ``code % (n_buckets-1)`` behaves like a random draw: ids that differ
    by a multiple of anything do not pile up in a few buckets. The same seed gives the
    same hash for train and test. Buckets are ``1..n_buckets-1``; 0 stays padding (an
    all-padding n-gram maps to 0).

    Args:
        x: int ``[samples, timesteps]`` non-negative ids; ``timesteps`` divisible by ``ngram``.
        n_buckets: output vocabulary size (>= 2).
        ngram: tokens per hashed id, in ``[1, timesteps]``.
        pad_id: padding id in the input.
        seed: selects the hash function.

    Returns:
        int32 ``[samples, timesteps // ngram]`` in ``[0, n_buckets)``.
    """
    x = _as_sequences("x", x, integer=True)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D token ids [samples, timesteps], got {x.shape}")
    if x.min() < 0:
        raise ValueError(f"x must hold non-negative token ids, got min {x.min()}")
    n_buckets = check_positive_int("n_buckets", n_buckets, minimum=2)
    ngram = check_positive_int("ngram", ngram, maximum=x.shape[1])
    pad_id = check_positive_int("pad_id", pad_id, minimum=0)
    if x.shape[1] % ngram:
        raise ValueError(
            f"timesteps ({x.shape[1]}) must be divisible by ngram ({ngram}); truncate first"
        )
    rng = np.random.default_rng(check_seed(seed))
    a = rng.integers(1, _PRIME, size=ngram, dtype=np.int64)
    b = int(rng.integers(0, _PRIME))
    grams = x.reshape(x.shape[0], -1, ngram).astype(np.int64) % _PRIME
    code = np.full(grams.shape[:2], b, dtype=np.int64)
    for j in range(ngram):  # Horner-like mixing, mod p after each step to avoid overflow
        code = (code * 31 + a[j] * grams[:, :, j]) % _PRIME
    mixed = mix64(code)  # non-linear: without it, bucket = linear function of id mod m
    hashed = (mixed % np.uint64(n_buckets - 1) + np.uint64(1)).astype(np.int32)
    hashed[(x.reshape(grams.shape) == pad_id).all(axis=2)] = 0
    return hashed


def projection_matrix(in_dim: int, out_dim: int, *, seed: int = 0) -> np.ndarray:
    """Return a Gaussian random projection ``[in_dim, out_dim]`` scaled by ``1/sqrt(out_dim)``.

    Such a matrix roughly keeps distances between inputs (Johnson-Lindenstrauss).
    """
    in_dim = check_positive_int("in_dim", in_dim)
    out_dim = check_positive_int("out_dim", out_dim)
    rng = np.random.default_rng(check_seed(seed))
    return (rng.normal(size=(in_dim, out_dim)) / np.sqrt(out_dim)).astype(np.float32)


def random_projection(x: Any, window: int, out_features: int, *, seed: int = 0) -> np.ndarray:
    """Shorten by ``window``: flatten each block of ``window`` steps and project it.

    Each non-overlapping block ``[window, features]`` becomes one step of
    ``out_features`` numbers via the same fixed random matrix
    (:func:`projection_matrix` with ``seed``), so train and test share it.

    Args:
        x: float ``[samples, timesteps, features]`` (or 2-D, one feature);
            ``timesteps`` divisible by ``window``.
        window: steps per block, in ``[1, timesteps]``.
        out_features: numbers per output step (>= 1).
        seed: selects the projection.

    Returns:
        float32 ``[samples, timesteps // window, out_features]``.
    """
    x = _as_sequences("x", x)
    if x.ndim == 2:
        x = x[:, :, None]
    window = check_positive_int("window", window, maximum=x.shape[1])
    if x.shape[1] % window:
        raise ValueError(
            f"timesteps ({x.shape[1]}) must be divisible by window ({window}); truncate first"
        )
    blocks = x.reshape(x.shape[0], x.shape[1] // window, window * x.shape[2])
    matrix = projection_matrix(window * x.shape[2], out_features, seed=seed)
    return (blocks.astype(np.float32) @ matrix).astype(np.float32)
