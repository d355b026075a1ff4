"""Synthetic data sets for the course: all seeded, all generated, nothing downloaded.

Every generator returns ``(x, y, info)``: ``x`` in Keras' ``[samples, timesteps,
features]`` layout (float32 or int32 tokens), targets ``y``, and a :class:`DataInfo`
that says what the arrays mean.

One real data set is shipped, not generated: :func:`load_acsf1` reads ``data/acsf1.npz``
(checked against its sha256; see ``data/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# re-exported: older notebooks and users import these checks from course_lib.data
from course_lib.validate import check_fraction, check_positive_int, check_seed  # noqa: F401


@dataclass(frozen=True)
class DataInfo:
    """What a generated data set holds."""

    name: str
    n_samples: int
    seq_len: int
    n_features: int
    task: str  # "binary", "multiclass", "regression" or "seq2seq"
    n_classes: int | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_samples, self.seq_len, self.n_features)


def balanced_labels(n_samples: int, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n_samples`` labels in ``0..n_classes-1`` with counts as equal as possible."""
    labels = np.arange(n_samples) % n_classes
    return rng.permutation(labels).astype(np.int32)


def marker_task(
    n_samples: int,
    seq_len: int,
    *,
    marker_pos: int = 0,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the marker task: one flagged step far from the end decides the class.

    Each sequence has two features. Feature 0 is Gaussian noise with std ``noise``,
    except at ``marker_pos`` where it is +1 (class 1) or -1 (class 0). Feature 1 is a
    flag that is 1 only at ``marker_pos``. The label depends on nothing else, so a
    model must carry one bit across ``seq_len - marker_pos`` steps.

    Args:
        n_samples: number of sequences (>= 2, classes are balanced).
        seq_len: timesteps per sequence (>= 1).
        marker_pos: index of the marker; negative counts from the end (-1 = last step).
        noise: std of the distracting noise on feature 0 (>= 0).
        seed: random seed.

    Returns:
        x: float32 ``[n_samples, seq_len, 2]``; y: int32 ``[n_samples]`` in {0, 1}; info.
    """
    n_samples = check_positive_int("n_samples", n_samples, minimum=2)
    seq_len = check_positive_int("seq_len", seq_len)
    if isinstance(marker_pos, bool) or not isinstance(marker_pos, (int, np.integer)):
        raise TypeError(f"marker_pos must be an int, got {type(marker_pos).__name__}")
    if not -seq_len <= marker_pos < seq_len:
        raise ValueError(f"marker_pos must be in [-{seq_len}, {seq_len - 1}], got {marker_pos}")
    noise = check_fraction("noise", noise, 0.0, 10.0)
    rng = np.random.default_rng(seed)
    y = balanced_labels(n_samples, 2, rng)
    x = np.zeros((n_samples, seq_len, 2), dtype=np.float32)
    x[:, :, 0] = rng.normal(0.0, noise, size=(n_samples, seq_len))
    pos = marker_pos % seq_len
    x[:, pos, 0] = np.where(y == 1, 1.0, -1.0)
    x[:, pos, 1] = 1.0
    info = DataInfo(
        "marker task", n_samples, seq_len, 2, "binary", 2,
        f"class = sign of feature 0 at the flagged step {pos}; {seq_len - pos} steps to remember",
        {"marker_pos": pos, "noise": noise},
    )
    return x, y, info


def lag_echo(
    n_samples: int,
    seq_len: int,
    lag: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the lag/echo task: the target at step t is the input bit at step t - lag.

    Inputs are random bits coded as -1/+1 (one feature). Targets are the same bits
    in {0, 1}, delayed by ``lag``; the first ``lag`` targets have no source and are 0.
    Use ``info.extra["first_valid"]`` to score only the steps that have one.

    Returns:
        x: float32 ``[n_samples, seq_len, 1]``; y: float32 ``[n_samples, seq_len, 1]``; info.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    lag = check_positive_int("lag", lag, minimum=0, maximum=seq_len - 1)
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n_samples, seq_len)).astype(np.float32)
    x = (2.0 * bits - 1.0)[..., None]
    y = np.zeros_like(bits)
    y[:, lag:] = bits[:, : seq_len - lag]
    info = DataInfo(
        "lag/echo", n_samples, seq_len, 1, "seq2seq", 2,
        f"y[t] = input bit at t-{lag}; steps before {lag} carry no information",
        {"lag": lag, "first_valid": lag},
    )
    return x, y[..., None], info


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------




def placement_slack(rng: np.random.Generator, n_rows: int, n_items: int, free: int) -> np.ndarray:
    """Return int64 ``[n_rows, n_items]``: non-decreasing rows in ``[0, free]``, uniformly.

    Each row is uniform over ALL such rows (sorting independent draws is not: it favours
    rows of distinct values). Stars and bars: ``n_items`` distinct picks from
    ``range(free + n_items)``, sorted, minus their rank. Adding ``arange(n_items) *
    item_len`` gives non-overlapping starts of ``n_items`` items of ``item_len`` steps in
    ``free + n_items * item_len`` steps, uniform over all placements.
    """
    total = free + n_items
    picks = [rng.choice(total, size=n_items, replace=False) for _ in range(n_rows)]
    return np.sort(np.array(picks, dtype=np.int64), axis=1) - np.arange(n_items)


def train_test_split(
    x: np.ndarray,
    y: np.ndarray,
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split samples into train and test sets, stratified by label when ``y`` is 1-D int.

    Split BEFORE any technique that is fitted (summarize) or that multiplies samples
    (augment_windows): otherwise pieces of one test sequence leak into training.

    Args:
        x: array ``[samples, ...]``.
        y: array ``[samples, ...]`` (same first dimension as ``x``).
        test_fraction: share of samples that go to the test set, in (0, 1).
        seed: random seed for the shuffle.

    Returns:
        ``x_train, y_train, x_test, y_test``; every sample lands in exactly one of them.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of samples, got {x.shape[:1]} and {y.shape[:1]}"
        )
    test_fraction = check_fraction("test_fraction", test_fraction, 0.0, 1.0)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    rng = np.random.default_rng(check_seed(seed))
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        test_idx = []
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            test_idx.extend(members[: int(round(test_fraction * len(members)))])
        test_idx = np.array(sorted(test_idx), dtype=np.int64)
    else:
        test_idx = np.sort(rng.permutation(n)[: int(round(test_fraction * n))])
    if len(test_idx) == 0 or len(test_idx) == n:
        raise ValueError(f"test_fraction={test_fraction} leaves an empty train or test set")
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    return x[~is_test], y[~is_test], x[is_test], y[is_test]


# --------------------------------------------------------------------------------------
# Classic long-range benchmarks: adding problem and copy memory
# --------------------------------------------------------------------------------------


def adding_problem(
    n_samples: int,
    seq_len: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the adding problem: sum the two values whose flag is set.

    Feature 0 holds values drawn from U(0, 1); feature 1 is 0 except at two steps,
    one in the first half and one in the second half, where it is 1. The target is
    the sum of the two flagged values. Always answering 1.0 scores
    :func:`adding_baseline_mse` (about 0.167), so a model must beat that to have
    learned anything.

    Args:
        n_samples: number of sequences (>= 1).
        seq_len: timesteps per sequence (>= 2).
        seed: random seed.

    Returns:
        x: float32 ``[n_samples, seq_len, 2]``; y: float32 ``[n_samples]``; info.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    rng = np.random.default_rng(check_seed(seed))
    half = seq_len // 2
    x = np.zeros((n_samples, seq_len, 2), dtype=np.float32)
    x[:, :, 0] = rng.uniform(0.0, 1.0, size=(n_samples, seq_len))
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, seq_len, size=n_samples)
    rows = np.arange(n_samples)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = (x[rows, first, 0] + x[rows, second, 0]).astype(np.float32)
    info = DataInfo(
        "adding problem", n_samples, seq_len, 2, "regression", None,
        "y = sum of the two values of feature 0 where feature 1 is 1 (one per half)",
        {"baseline_mse": adding_baseline_mse(), "first": first, "second": second},
    )
    return x, y, info


def adding_baseline_mse() -> float:
    """Return the MSE of always predicting 1.0 on the adding problem: Var(U+U) = 1/6."""
    return 1.0 / 6.0


def copy_memory(
    n_samples: int,
    delay: int,
    *,
    n_memorize: int = 10,
    n_symbols: int = 8,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make the copy-memory task: read ``n_memorize`` symbols, wait, then write them back.

    Token ids: 0 = blank, 1..n_symbols = data symbols, n_symbols + 1 = "go" marker.
    The input is the symbols, ``delay - 1`` blanks, the marker, then ``n_memorize``
    blanks (length ``delay + 2 * n_memorize``). The target is blank everywhere except
    the last ``n_memorize`` steps, which repeat the symbols.

    Args:
        n_samples: number of sequences (>= 1).
        delay: blanks between the symbols and the marker, plus one (>= 1); the
            classic "T".
        n_memorize: symbols to remember (>= 1).
        n_symbols: size of the data alphabet (>= 2).
        seed: random seed.

    Returns:
        x: float32 one-hot ``[n_samples, delay + 2 * n_memorize, n_symbols + 2]``;
        y: int32 ``[n_samples, delay + 2 * n_memorize]`` token ids (use sparse
        categorical cross-entropy on a ``return_sequences`` model); info.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    delay = check_positive_int("delay", delay)
    n_memorize = check_positive_int("n_memorize", n_memorize)
    n_symbols = check_positive_int("n_symbols", n_symbols, minimum=2)
    rng = np.random.default_rng(check_seed(seed))
    length = delay + 2 * n_memorize
    go = n_symbols + 1
    symbols = rng.integers(1, n_symbols + 1, size=(n_samples, n_memorize))
    ids = np.zeros((n_samples, length), dtype=np.int32)
    ids[:, :n_memorize] = symbols
    ids[:, n_memorize + delay - 1] = go
    y = np.zeros((n_samples, length), dtype=np.int32)
    y[:, -n_memorize:] = symbols
    x = np.eye(n_symbols + 2, dtype=np.float32)[ids]
    info = DataInfo(
        "copy memory", n_samples, length, n_symbols + 2, "seq2seq", n_symbols + 1,
        f"repeat the first {n_memorize} symbols after the marker at step {n_memorize + delay - 1}",
        {"delay": delay, "n_memorize": n_memorize, "n_symbols": n_symbols, "go_id": go,
         "baseline_ce": copy_baseline_ce(delay, n_memorize, n_symbols), "ids": ids},
    )
    return x, y, info


def copy_baseline_ce(delay: int, n_memorize: int = 10, n_symbols: int = 8) -> float:
    """Return the cross-entropy (nats per step) of the best memoryless copy-task answer.

    Predict blank for certain where blank is certain and a uniform guess over the
    symbols in the last ``n_memorize`` steps: ``n_memorize * ln(n_symbols) / (delay +
    2 * n_memorize)``, i.e. ``10 ln 8 / (T + 20)`` for the classic settings.
    """
    delay = check_positive_int("delay", delay)
    n_memorize = check_positive_int("n_memorize", n_memorize)
    n_symbols = check_positive_int("n_symbols", n_symbols, minimum=2)
    return float(n_memorize * np.log(n_symbols) / (delay + 2 * n_memorize))


# --------------------------------------------------------------------------------------
# Zipf documents with planted sentiment words (IMDB stand-in)
# --------------------------------------------------------------------------------------

POSITIONS = ("start", "end", "anywhere")


def sentiment_word_ids(
    vocab_size: int, n_words: int = 8, first_id: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Return the token ids of the negative (class 0) and positive (class 1) words.

    They are ``n_words`` consecutive ids each, starting at ``first_id``; the
    background never uses them, so they only occur where they were planted.
    """
    vocab_size = check_positive_int("vocab_size", vocab_size, minimum=4)
    n_words = check_positive_int("n_words", n_words)
    first_id = check_positive_int("first_id", first_id, minimum=1)
    if first_id + 2 * n_words > vocab_size - 1:
        raise ValueError(
            f"first_id + 2 * n_words must be < vocab_size - 1 ({vocab_size - 1}), "
            f"got {first_id + 2 * n_words}"
        )
    negative = np.arange(first_id, first_id + n_words, dtype=np.int32)
    positive = np.arange(first_id + n_words, first_id + 2 * n_words, dtype=np.int32)
    return negative, positive


def zipf_documents(
    n_samples: int,
    seq_len: int,
    *,
    vocab_size: int = 1000,
    position: str = "anywhere",
    n_planted: int = 3,
    region: float = 0.1,
    zipf_a: float = 1.1,
    n_sentiment_words: int = 8,
    sentiment_first_id: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make token documents whose class is given by a few planted sentiment words.

    Background tokens follow a Zipf law: id 1 is the most common, then id 2, and so
    on (the sentiment ids are skipped). Each document then gets ``n_planted`` words
    of its class (see :func:`sentiment_word_ids`) at distinct random positions in the
    region ``position`` names: the first ``region`` share of the document
    ("start"), the last share ("end"), or anywhere. Id 0 is reserved for padding and
    never generated.

    Args:
        n_samples: number of documents (>= 2, classes balanced).
        seq_len: tokens per document (>= 2).
        vocab_size: ids are ``0..vocab_size-1`` (>= 4).
        position: "start", "end" or "anywhere".
        n_planted: sentiment words per document (>= 1, fits in the region).
        region: share of the document that "start"/"end" use, in (0, 1].
        zipf_a: Zipf exponent of the background (> 0); larger = more repetitive.
        n_sentiment_words: distinct words per class.
        sentiment_first_id: first sentiment id (ids are frequency-ordered, so this
            sets how common the sentiment words would be in the background ranking).
        seed: random seed.

    Returns:
        x: int32 ``[n_samples, seq_len]`` token ids; y: int32 ``[n_samples]`` in {0, 1}
        (1 = positive); info (``extra`` has ``planted_positions`` ``[n_samples,
        n_planted]`` and the word ids).
    """
    n_samples = check_positive_int("n_samples", n_samples, minimum=2)
    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    vocab_size = check_positive_int("vocab_size", vocab_size, minimum=4)
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
    n_planted = check_positive_int("n_planted", n_planted)
    region = check_fraction("region", region)
    if region <= 0.0:
        raise ValueError(f"region must be in (0, 1], got {region}")
    zipf_a = check_fraction("zipf_a", zipf_a, 0.0, 10.0)
    if zipf_a <= 0.0:
        raise ValueError(f"zipf_a must be > 0, got {zipf_a}")
    negative, positive = sentiment_word_ids(vocab_size, n_sentiment_words, sentiment_first_id)
    span = seq_len if position == "anywhere" else max(1, int(round(region * seq_len)))
    if n_planted > span:
        raise ValueError(
            f"n_planted must be <= the {span} positions of the {position!r} region, got {n_planted}"
        )
    rng = np.random.default_rng(check_seed(seed))
    y = balanced_labels(n_samples, 2, rng)
    special = set(negative.tolist()) | set(positive.tolist())
    background = np.array([i for i in range(1, vocab_size) if i not in special], dtype=np.int32)
    weights = 1.0 / np.arange(1, len(background) + 1) ** zipf_a
    x = rng.choice(background, size=(n_samples, seq_len), p=weights / weights.sum())
    x = x.astype(np.int32)
    offset = 0 if position != "end" else seq_len - span
    # argsort of uniform noise = a random subset of distinct positions per row, vectorised
    picks = np.argsort(rng.random((n_samples, span)), axis=1)[:, :n_planted] + offset
    picks = np.sort(picks, axis=1)
    words = np.where(
        y[:, None] == 1,
        rng.choice(positive, size=(n_samples, n_planted)),
        rng.choice(negative, size=(n_samples, n_planted)),
    )
    np.put_along_axis(x, picks, words.astype(np.int32), axis=1)
    info = DataInfo(
        "Zipf documents", n_samples, seq_len, 1, "binary", 2,
        f"{n_planted} sentiment words per document, placed {position}"
        + ("" if position == "anywhere" else f" (in the {position} {span} tokens)"),
        {"vocab_size": vocab_size, "position": position, "region_len": span,
         "negative_ids": negative, "positive_ids": positive, "planted_positions": picks,
         "zipf_a": zipf_a},
    )
    return x, y, info


# --------------------------------------------------------------------------------------
# DNA-like sequences with class motifs
# --------------------------------------------------------------------------------------

BASES = "ACGT"


def class_motifs(n_classes: int, motif_len: int, motif_seed: int = 0) -> np.ndarray:
    """Return one random motif per class as base indices 0..3 (A, C, G, T).

    Args:
        n_classes: number of classes (>= 2).
        motif_len: bases per motif (>= 1).
        motif_seed: seed of the motifs; keep it fixed so train and test share them.

    Returns:
        int32 ``[n_classes, motif_len]`` (rows are distinct).
    """
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    motif_len = check_positive_int("motif_len", motif_len)
    if 4**motif_len < n_classes:
        raise ValueError(f"motif_len={motif_len} cannot give {n_classes} distinct motifs")
    rng = np.random.default_rng(check_seed(motif_seed))
    while True:
        motifs = rng.integers(0, 4, size=(n_classes, motif_len)).astype(np.int32)
        if len({tuple(m) for m in motifs}) == n_classes:
            return motifs


def dna_sequences(
    n_samples: int,
    seq_len: int,
    *,
    n_classes: int = 2,
    motif_len: int = 8,
    n_motifs: int = 2,
    encoding: str = "onehot",
    motif_seed: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make DNA-like sequences whose class is a motif planted ``n_motifs`` times.

    Background bases are uniform over A/C/G/T; each sequence gets its class's motif
    (see :func:`class_motifs`) at ``n_motifs`` random, non-overlapping places, uniform
    over all such placements.

    Args:
        n_samples: number of sequences (>= n_classes, classes balanced).
        seq_len: bases per sequence (>= n_motifs * motif_len).
        n_classes: number of classes (>= 2).
        motif_len: bases per motif.
        n_motifs: copies of the motif per sequence (>= 1).
        encoding: "onehot" (float32 ``[n, T, 4]``) or "ids" (int32 ``[n, T]`` with
            A=1, C=2, G=3, T=4 and 0 free for padding).
        motif_seed: seed of the motifs (same motifs for train and test).
        seed: random seed for backgrounds, labels and positions.

    Returns:
        x (see ``encoding``); y: int32 ``[n_samples]`` in ``0..n_classes-1``; info.
    """
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    n_samples = check_positive_int("n_samples", n_samples, minimum=n_classes)
    motif_len = check_positive_int("motif_len", motif_len)
    n_motifs = check_positive_int("n_motifs", n_motifs)
    seq_len = check_positive_int("seq_len", seq_len, minimum=n_motifs * motif_len)
    if encoding not in ("onehot", "ids"):
        raise ValueError(f"encoding must be 'onehot' or 'ids', got {encoding!r}")
    motifs = class_motifs(n_classes, motif_len, motif_seed)
    rng = np.random.default_rng(check_seed(seed))
    y = balanced_labels(n_samples, n_classes, rng)
    bases = rng.integers(0, 4, size=(n_samples, seq_len)).astype(np.int32)
    # Non-overlapping slots, uniform over all placements (see placement_slack).
    free = seq_len - n_motifs * motif_len
    starts = placement_slack(rng, n_samples, n_motifs, free) + np.arange(n_motifs) * motif_len
    cols = starts[:, :, None] + np.arange(motif_len)
    bases[np.arange(n_samples)[:, None, None], cols] = motifs[y][:, None, :]
    if encoding == "onehot":
        x = np.eye(4, dtype=np.float32)[bases]
        n_features = 4
    else:
        x = bases + 1
        n_features = 1
    info = DataInfo(
        "DNA-like", n_samples, seq_len, n_features, "binary" if n_classes == 2 else "multiclass",
        n_classes,
        f"class = which {motif_len}-base motif appears ({n_motifs} copies per sequence)",
        {"motifs": ["".join(BASES[b] for b in m) for m in motifs], "motif_starts": starts,
         "encoding": encoding},
    )
    return x, y, info


# --------------------------------------------------------------------------------------
# EEG-like multichannel signals with class-specific bursts
# --------------------------------------------------------------------------------------


def eeg_signals(
    n_samples: int,
    seq_len: int,
    *,
    n_channels: int = 4,
    n_classes: int = 2,
    sampling_rate: float = 128.0,
    burst_len: int = 64,
    n_bursts: int = 1,
    burst_amp: float = 1.0,
    noise: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Make EEG-like traces: background rhythm + noise, with a class-specific burst.

    Every channel carries a 10 Hz "alpha" rhythm of random phase and amplitude plus
    AR(1) noise (std ``noise``, correlated in time like real recordings). Class k
    adds ``n_bursts`` Hann-windowed bursts at ``6 + 6k`` Hz, strongest on channel
    ``k % n_channels``, at random times. Only the bursts carry the label, so a
    window that misses every burst carries no information.

    Args:
        n_samples: number of traces (>= n_classes, classes balanced).
        seq_len: samples per trace (>= burst_len).
        n_channels: channels (features) per step (>= 1).
        n_classes: classes (>= 2).
        sampling_rate: samples per second (sets the frequencies in Hz).
        burst_len: samples per burst (>= 4).
        n_bursts: bursts per trace (>= 1).
        burst_amp: peak amplitude of a burst (> 0); the background rhythm is ~1.
        noise: std of the AR(1) noise (>= 0).
        seed: random seed.

    Returns:
        x: float32 ``[n_samples, seq_len, n_channels]``; y: int32 ``[n_samples]``; info
        (``extra["burst_starts"]`` is ``[n_samples, n_bursts]``).
    """
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    n_samples = check_positive_int("n_samples", n_samples, minimum=n_classes)
    n_channels = check_positive_int("n_channels", n_channels)
    burst_len = check_positive_int("burst_len", burst_len, minimum=4)
    seq_len = check_positive_int("seq_len", seq_len, minimum=burst_len)
    n_bursts = check_positive_int("n_bursts", n_bursts)
    sampling_rate = check_fraction("sampling_rate", sampling_rate, 1.0, 1e5)
    burst_amp = check_fraction("burst_amp", burst_amp, 0.0, 100.0)
    if burst_amp <= 0.0:
        raise ValueError(f"burst_amp must be > 0, got {burst_amp}")
    noise = check_fraction("noise", noise, 0.0, 100.0)
    rng = np.random.default_rng(check_seed(seed))
    y = balanced_labels(n_samples, n_classes, rng)
    t = np.arange(seq_len) / sampling_rate
    phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1, n_channels))
    amp = rng.uniform(0.5, 1.0, size=(n_samples, 1, n_channels))
    x = amp * np.sin(2 * np.pi * 10.0 * t[None, :, None] + phase)
    # AR(1) noise with coefficient 0.9, scaled so its stationary std is `noise`.
    shocks = rng.normal(0.0, noise * np.sqrt(1 - 0.9**2), size=(n_samples, seq_len, n_channels))
    ar = np.empty_like(shocks)
    ar[:, 0] = rng.normal(0.0, noise, size=(n_samples, n_channels))
    for i in range(1, seq_len):
        ar[:, i] = 0.9 * ar[:, i - 1] + shocks[:, i]
    x = x + ar
    freqs = 6.0 + 6.0 * np.arange(n_classes)
    gains = np.full((n_classes, n_channels), 0.3)
    gains[np.arange(n_classes), np.arange(n_classes) % n_channels] = 1.0
    envelope = np.hanning(burst_len)
    starts = rng.integers(0, seq_len - burst_len + 1, size=(n_samples, n_bursts))
    tb = np.arange(burst_len) / sampling_rate
    for b in range(n_bursts):
        burst_phase = rng.uniform(0, 2 * np.pi, size=n_samples)
        wave = np.sin(2 * np.pi * freqs[y][:, None] * tb[None, :] + burst_phase[:, None])
        wave = burst_amp * envelope[None, :] * wave  # [n, burst_len]
        cols = starts[:, b][:, None] + np.arange(burst_len)
        x[np.arange(n_samples)[:, None], cols] += wave[:, :, None] * gains[y][:, None, :]
    info = DataInfo(
        "EEG-like", n_samples, seq_len, n_channels, "binary" if n_classes == 2 else "multiclass",
        n_classes,
        f"class k = a {burst_len}-sample burst at 6+6k Hz (fs={sampling_rate:g} Hz)",
        {"sampling_rate": sampling_rate, "burst_freqs_hz": freqs, "burst_starts": starts,
         "burst_len": burst_len},
    )
    return x.astype(np.float32), y, info


# --------------------------------------------------------------------------------------
# A real data set: ACSF1 (UCR archive), shipped in the repository's data/ folder
# --------------------------------------------------------------------------------------

ACSF1_FILE = "acsf1.npz"
# sha256 of data/acsf1.npz as written by data/convert_acsf1.py (see data/README.md)
ACSF1_SHA256 = "f7ce528f7e8419703f851c968282cf45ac29c699d5ef9d129d11cdb8c34bc13f"
ACSF1_SPLITS = ("train", "test", "all")
DATA_DIR_ENV = "COURSE_DATA_DIR"


def data_dirs() -> list:
    """Return the folders searched for shipped data files, in order.

    1. ``$COURSE_DATA_DIR`` if set; 2. ``data/`` next to the ``course_lib`` folder (a git
    checkout, ``pip install -e .``); 3. ``<prefix>/share/course-lib/data`` where a
    non-editable ``pip install`` (Colab, Binder) puts the files (pyproject's ``data-files``).
    """
    import os
    import sysconfig
    from pathlib import Path

    dirs = []
    if os.environ.get(DATA_DIR_ENV, "").strip():
        dirs.append(Path(os.environ[DATA_DIR_ENV]).expanduser())
    dirs.append(Path(__file__).resolve().parent.parent / "data")
    schemes = [None, f"{os.name}_user"] if os.name != "nt" else [None, "nt_user"]
    for scheme in schemes:
        try:
            base = sysconfig.get_path("data", scheme) if scheme else sysconfig.get_path("data")
        except KeyError:
            continue
        if base:
            dirs.append(Path(base) / "share" / "course-lib" / "data")
    return list(dict.fromkeys(dirs))


def file_sha256(path) -> str:
    """Return the hex sha256 of the file at ``path``."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_data_file(name: str, sha256: str, dirs=None):
    """Return the path of data file ``name`` whose sha256 is ``sha256``; raise if none is.

    Args:
        name: file name, e.g. ``"acsf1.npz"``.
        sha256: the expected hex digest.
        dirs: folders to search (default :func:`data_dirs`).

    Raises:
        FileNotFoundError: the file is in none of the folders (the message lists them).
        ValueError: a file was found but its checksum differs (altered or truncated).
    """
    from pathlib import Path

    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"name must be a bare file name such as 'acsf1.npz', got {name!r}")
    dirs = data_dirs() if dirs is None else [Path(d) for d in dirs]
    found = [d / name for d in dirs if (d / name).is_file()]
    if not found:
        raise FileNotFoundError(
            f"data file {name!r} not found; looked in: {', '.join(str(d) for d in dirs)}. "
            f"Run from a checkout of the course (it ships data/{name}), or set "
            f"{DATA_DIR_ENV} to the folder that holds it.")
    for path in found:
        if file_sha256(path) == sha256:
            return path
    raise ValueError(
        f"data file {found[0]} is altered or damaged: its sha256 is {file_sha256(found[0])}, "
        f"expected {sha256}. Restore it (git checkout data/{name}) or rebuild it with "
        "data/convert_acsf1.py as data/README.md describes.")


def load_acsf1(split: str = "all", *, dirs=None) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Load ACSF1 (UCR archive): 200 appliance power signatures of 1,460 steps, 10 classes.

    The file ``data/acsf1.npz`` is checked against its sha256 before it is read.

    Args:
        split: ``"train"`` or ``"test"`` (the archive's 100/100 split) or ``"all"`` (both,
            train first: for your own repeated splits).
        dirs: folders to search (default :func:`data_dirs`).

    Returns:
        x: float32 ``[samples, 1460, 1]`` (each series z-normalised by the archive);
        y: int32 ``[samples]`` in ``0..9``; info (``extra["categories"]`` lists the ten
        appliance types; the archive does not say which label is which).

    Raises:
        FileNotFoundError: the file is missing; ValueError: it is altered, or bad ``split``.
    """
    if split not in ACSF1_SPLITS:
        raise ValueError(f"split must be one of {ACSF1_SPLITS}, got {split!r}")
    path = find_data_file(ACSF1_FILE, ACSF1_SHA256, dirs)
    with np.load(path, allow_pickle=False) as archive:
        parts = ("train", "test") if split == "all" else (split,)
        x = np.concatenate([archive[f"x_{p}"] for p in parts]).astype(np.float32)
        y = np.concatenate([archive[f"y_{p}"] for p in parts]).astype(np.int32)
    info = DataInfo(
        "ACSF1", len(x), x.shape[1], 1, "multiclass", 10,
        "appliance power consumption signatures (UCR archive), one class per appliance type",
        {"categories": ACSF1_CATEGORIES, "split": split, "path": str(path)},
    )
    return x[:, :, None], y, info


# The ten appliance types, as the archive lists them (NOT in label order: undocumented).
ACSF1_CATEGORIES = ("mobile phone charger", "coffee machine", "computer station", "fridge/freezer",
                 "Hi-Fi system", "lamp (CFL)", "laptop charger", "microwave oven", "printer",
                 "television")
