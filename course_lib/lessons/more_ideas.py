"""Plumbing for notebook 08 ("more ideas"): measure how each idea shortens the LSTM.

The notebook writes the front ends on its page; :mod:`course_lib.models` keeps copies
(``side_by_side``, ``halves_bilstm``, ``strided_conv``), :mod:`course_lib.techniques` keeps
``mix64`` (the hash's mixing step) and this module keeps :func:`kmer_ids` (the k-mer
NumPy transform; :func:`kmer_codes` is its validated wrapper). ``tests/test_saved_copies.py``
checks that the copies stay identical to the cells.

What would distract from the page lives here: looking inside a built model
(:func:`lstm_steps`, :func:`describe`), training and timing one model (:func:`train`),
hashed k-mers and their collisions (:func:`hash_kmers`, :func:`bucket_collisions`), the
linear hash that ``mix64`` replaced (:func:`linear_bucket_use`), the results side by side
(:func:`table_text`, :func:`comparison_figure`), the n-splits widget's function
(:func:`n_splits_demo`, :func:`n_splits_figure`) and the code exercise's checker
(:func:`check_side_by_side`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from course_lib.validate import check_positive_int


def _recurrent_layers(model) -> list:
    """Return every LSTM layer of ``model``, looking inside Bidirectional wrappers."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found.append((layer, layer.forward_layer))
        elif isinstance(layer, keras.layers.LSTM):
            found.append((layer, layer))
    return found


def lstm_steps(model) -> list[int]:
    """Return the number of timesteps each LSTM layer of ``model`` reads per call.

    A Bidirectional wrapper counts once (both directions read the same steps).

    Args:
        model: a built Keras model with fixed-length inputs.

    Returns:
        One int per LSTM (or Bidirectional) layer, in layer order.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    steps = []
    for outer, _ in _recurrent_layers(model):
        shape = outer.input.shape
        if len(shape) != 3 or shape[1] is None:
            raise ValueError(
                f"layer {outer.name!r} reads input of shape {tuple(shape)}; lstm_steps needs a "
                "fixed [batch, timesteps, features] input")
        steps.append(int(shape[1]))
    if not steps:
        raise ValueError(f"model {model.name!r} has no LSTM layer")
    return steps


def describe(model, seq_len: int) -> dict[str, Any]:
    """Print what ``model`` reads and how much shorter its LSTM runs than ``seq_len``.

    Args:
        model: a built Keras model with fixed-length inputs and at least one LSTM.
        seq_len: timesteps of the original sequences.

    Returns:
        dict with ``input_shape`` (``[batch, timesteps, features]`` or ``[batch, timesteps]``),
        ``lstm_input_shape`` of the longest LSTM, ``lstm_steps`` (its timesteps),
        ``factor`` (``seq_len / lstm_steps``) and ``params`` (trainable weights).
    """
    seq_len = check_positive_int("seq_len", seq_len)
    steps = lstm_steps(model)
    longest = max(range(len(steps)), key=steps.__getitem__)
    outer, _ = _recurrent_layers(model)[longest]
    info = {
        "input_shape": [None, *[int(s) for s in model.input.shape[1:]]],
        "lstm_input_shape": [None, *[int(s) for s in outer.input.shape[1:]]],
        "lstm_steps": steps[longest],
        "factor": seq_len / steps[longest],
        "params": int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)),
    }
    print(f"{model.name}: input {_shape_text(info['input_shape'])} -> LSTM reads "
          f"{_shape_text(info['lstm_input_shape'])}, {info['factor']:g}x shorter than "
          f"{seq_len} steps; {info['params']:,} weights")
    return info


def _shape_text(shape) -> str:
    return "[" + ", ".join("batch" if s is None else str(s) for s in shape) + "]"


def train(
    model,
    data: tuple,
    *,
    epochs: int,
    seq_len: int,
    batch_size: int = 32,
    label: str = "",
) -> dict[str, Any]:
    """Train ``model`` on ``data``, score it, time it, and note how long its LSTM runs.

    Args:
        model: a compiled Keras classifier with an "accuracy" metric.
        data: ``(x_train, y_train, x_test, y_test)``.
        epochs: training epochs (>= 1).
        seq_len: timesteps of the original sequences (for the shortening factor).
        batch_size: samples per update.
        label: the idea's name (printed, and kept in the result).

    Returns:
        dict with ``name``, ``test_acc``, ``sec_per_epoch`` (median after the first epoch),
        ``first_epoch_sec``, ``train_sec`` (all epochs), ``lstm_steps``, ``factor``,
        ``params`` and ``history`` (train accuracy per epoch).
    """
    from course_lib.models import fit_and_score

    if not isinstance(data, tuple | list) or len(data) != 4:
        raise ValueError("data must be (x_train, y_train, x_test, y_test)")
    check_positive_int("epochs", epochs)
    seq_len = check_positive_int("seq_len", seq_len)
    steps = lstm_steps(model)
    began = time.perf_counter()
    result = fit_and_score(model, (data[0], data[1]), (data[2], data[3]), epochs=epochs,
                           batch_size=batch_size, label=label)
    result["train_sec"] = time.perf_counter() - began
    result.update(name=label or model.name, lstm_steps=max(steps), factor=seq_len / max(steps),
                  params=int(sum(int(np.prod(w.shape)) for w in model.trainable_weights)))
    return result


# --------------------------------------------------------------------------- DNA k-mers


def kmer_ids(bases, k):
    """Give each non-overlapping k-mer of bases 1..4 one exact id in ``1 .. 4**k``."""
    grams = bases.reshape(len(bases), -1, k) - 1  # [samples, tokens, k], bases now 0..3
    return grams @ 4 ** np.arange(k - 1, -1, -1) + 1  # a base-4 number; 0 stays padding


def kmer_codes(ids: Any, k: int) -> np.ndarray:
    """Turn each non-overlapping k-mer of DNA base ids into one exact id (no collisions).

    The validated wrapper of :func:`kmer_ids` (the notebook's cell).

    Args:
        ids: int ``[samples, timesteps]`` bases coded A=1, C=2, G=3, T=4
            (:func:`course_lib.data.dna_sequences` with ``encoding="ids"``);
            ``timesteps`` divisible by ``k``.
        k: bases per k-mer, in ``[1, 12]``.

    Returns:
        int32 ``[samples, timesteps // k]`` in ``1 .. 4**k`` (0 is left for padding).
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be 2-D integer base ids [samples, timesteps], got "
                         f"{ids.dtype} {ids.shape}")
    if ids.size and (ids.min() < 1 or ids.max() > 4):
        raise ValueError(f"ids must hold bases 1..4 (A, C, G, T), got {ids.min()}..{ids.max()}")
    k = check_positive_int("k", k, maximum=12)
    if ids.shape[1] % k:
        raise ValueError(f"timesteps ({ids.shape[1]}) must be divisible by k ({k}); "
                         "truncate first")
    return kmer_ids(ids.astype(np.int64), k).astype(np.int32)


def hash_kmers(ids: Any, k: int, n_buckets: int, *, seed: int = 0) -> np.ndarray:
    """Turn each non-overlapping k-mer into one hashed id in ``1 .. n_buckets-1``.

    Two steps: :func:`kmer_codes` gives every k-mer its exact id, then
    :func:`course_lib.techniques.hash_tokens` (``ngram=1``) folds those ids into
    ``n_buckets`` buckets, so different k-mers may share a bucket (a collision).

    Args:
        ids: int ``[samples, timesteps]`` bases coded 1..4; ``timesteps`` divisible by ``k``.
        k: bases per k-mer, in ``[1, 12]``.
        n_buckets: hashed vocabulary size (>= 2; 0 stays padding).
        seed: selects the hash function; use the same one for train and test.

    Returns:
        int32 ``[samples, timesteps // k]`` in ``[1, n_buckets)``.
    """
    from course_lib.techniques import hash_tokens

    return hash_tokens(kmer_codes(ids, k), n_buckets, ngram=1, seed=seed)


def bucket_collisions(k: int, n_buckets: int, *, seed: int = 0) -> dict[str, float]:
    """Count how many of the ``4**k`` possible k-mers share a bucket of :func:`hash_kmers`.

    Args:
        k: bases per k-mer, in ``[1, 8]``.
        n_buckets: hashed vocabulary size (>= 2; bucket 0 is padding).
        seed: selects the hash function (same as the one used on the data).

    Returns:
        dict with ``kmers`` (``4**k``), ``buckets_used``, ``shared`` (k-mers in a bucket
        with at least one other k-mer) and ``shared_fraction``.
    """
    k = check_positive_int("k", k, maximum=8)
    n_buckets = check_positive_int("n_buckets", n_buckets, minimum=2)
    every = np.arange(4**k)
    digits = (every[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4 + 1
    buckets = hash_kmers(digits.reshape(1, -1), k, n_buckets, seed=seed)[0]
    _, inverse, counts = np.unique(buckets, return_inverse=True, return_counts=True)
    shared = int((counts[inverse] > 1).sum())
    return {"kmers": 4**k, "buckets_used": int(len(counts)), "shared": shared,
            "shared_fraction": shared / 4**k}


_PRIME = 2_147_483_647  # 2**31 - 1, the modulus of the hash's polynomial step


def linear_bucket_use(n_ids: int, n_buckets: int, seeds: Any) -> np.ndarray:
    """Buckets used by ids ``1..n_ids`` under the linear hash that ``mix64`` replaced.

    That hash was ``((31 * b + a * id) mod p) mod (n_buckets - 1) + 1`` with ``a, b`` drawn
    from the seed as :func:`course_lib.techniques.hash_tokens` draws them; with no mixing
    step, bucket use depends on how ``a`` sits against ``n_buckets - 1``.

    Args:
        n_ids: distinct ids hashed (>= 1).
        n_buckets: hashed vocabulary size (>= 2; bucket 0 is padding).
        seeds: iterable of non-negative int seeds.

    Returns:
        int array: buckets used, one per seed.
    """
    n_ids = check_positive_int("n_ids", n_ids)
    n_buckets = check_positive_int("n_buckets", n_buckets, minimum=2)
    ids = np.arange(1, n_ids + 1, dtype=np.int64)
    used = []
    for seed in seeds:
        rng = np.random.default_rng(check_positive_int("seed", seed, minimum=0))
        a = rng.integers(1, _PRIME, size=1, dtype=np.int64)[0]
        b = int(rng.integers(0, _PRIME))
        code = (b * 31 + a * ids) % _PRIME
        used.append(len(np.unique(code % (n_buckets - 1))))
    if not used:
        raise ValueError("seeds must hold at least one seed")
    return np.array(used)


def mixed_bucket_use(n_ids: int, n_buckets: int, seeds: Any) -> np.ndarray:
    """Buckets used by ids ``1..n_ids`` under :func:`course_lib.techniques.hash_tokens`."""
    from course_lib.techniques import hash_tokens

    n_ids = check_positive_int("n_ids", n_ids)
    ids = np.arange(1, n_ids + 1)[None, :]
    used = [len(np.unique(hash_tokens(ids, n_buckets, seed=seed))) for seed in seeds]
    if not used:
        raise ValueError("seeds must hold at least one seed")
    return np.array(used)


def expected_bucket_use(n_ids: int, n_buckets: int) -> float:
    """Expected distinct buckets when ``n_ids`` ids each pick one of ``n_buckets`` at random."""
    n_ids = check_positive_int("n_ids", n_ids)
    n_buckets = check_positive_int("n_buckets", n_buckets)
    return n_buckets * (1 - (1 - 1 / n_buckets) ** n_ids)


def check_side_by_side(fn, *, trials: int = 20, seed: int = 0) -> bool:
    """Compare a student's NumPy ``fn(x, n_pieces)`` with the library's on random arrays.

    The reference is :func:`course_lib.techniques.parallel_subsequences` (what
    ``models.side_by_side`` does inside a model). Prints the first input where they differ.

    Returns:
        True when every trial gives the same array.
    """
    from course_lib.techniques import parallel_subsequences

    if not callable(fn):
        print("Your answer must be a function fn(x, n_pieces).")
        return False
    trials = check_positive_int("trials", trials)
    rng = np.random.default_rng(check_positive_int("seed", seed, minimum=0))
    for _ in range(trials):
        n_pieces = int(rng.integers(1, 6))
        shape = (int(rng.integers(1, 4)), n_pieces * int(rng.integers(1, 6)),
                 int(rng.integers(1, 4)))
        x = rng.normal(size=shape).astype(np.float32)
        expected = parallel_subsequences(x, n_pieces)
        try:
            got = np.asarray(fn(x.copy(), n_pieces))
        except Exception as exc:  # a student's function may fail in any way; say how
            print(f"x of shape {shape}, n_pieces={n_pieces}: {type(exc).__name__}: {exc}")
            return False
        if got.shape != expected.shape or not np.array_equal(got, expected):
            print(f"x of shape {shape}, n_pieces={n_pieces}: expected shape {expected.shape}, "
                  f"got {got.shape}" + ("" if got.shape != expected.shape else
                                         " with different values (check the piece order)"))
            return False
    return True


# --------------------------------------------------------------------------- comparison


def _rows(results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty mapping {idea: result of train()}")
    needed = ("test_acc", "sec_per_epoch", "lstm_steps", "factor")
    for name, res in results.items():
        missing = [key for key in needed if key not in res]
        if missing:
            raise ValueError(f"results[{name!r}] lacks {missing}; pass what train() returns")
    return [{"name": name, **{key: res[key] for key in needed}} for name, res in results.items()]


def repeat_summary(runs: Mapping[str, list]) -> dict[str, dict[str, Any]]:
    """Average repeated :func:`train` results per idea (one list of results per idea).

    Returns:
        ``{idea: {test_acc, sec_per_epoch, lstm_steps, factor, params (means),
        acc_std, accs (one per repeat)}}``, ready for :func:`table_text`.
    """
    if not isinstance(runs, Mapping) or not runs or not all(runs.values()):
        raise ValueError("runs must map each idea to a non-empty list of train() results")
    summary = {}
    for name, results in runs.items():
        _rows({f"{name} #{i}": r for i, r in enumerate(results)})  # validates each result
        accs = [float(r["test_acc"]) for r in results]
        summary[name] = {key: float(np.mean([r[key] for r in results]))
                         for key in ("test_acc", "sec_per_epoch", "factor")}
        summary[name].update(lstm_steps=int(results[0]["lstm_steps"]),
                             params=int(results[0].get("params", 0)),
                             acc_std=float(np.std(accs)), accs=accs)
    return summary


def table_text(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Print and return one line per idea: LSTM steps, shortening, accuracy, time per epoch.

    Args:
        results: ``{idea name: dict returned by train()}``.
    """
    rows = _rows(results)
    width = max(len("idea"), *(len(r["name"]) for r in rows))
    lines = [f"{'idea':<{width}}  LSTM steps  shorter by  test acc  s/epoch"]
    for r in rows:
        lines.append(f"{r['name']:<{width}}  {r['lstm_steps']:>10}  {r['factor']:>9.3g}x  "
                     f"{r['test_acc']:>8.3f}  {r['sec_per_epoch']:>7.2f}")
    text = "\n".join(lines)
    print(text)
    return text


def comparison_figure(results: Mapping[str, Mapping[str, Any]], title: str = ""):
    """Draw test accuracy against seconds per epoch, one labelled point per idea.

    Args:
        results: ``{idea name: dict returned by train()}``.
        title: figure title (a default is used when empty).

    Returns:
        ``(fig, ax)``.
    """
    from course_lib import plots

    rows = _rows(results)
    fig, ax = plots.figure(title or "Each idea: accuracy vs time per epoch",
                           "training time per epoch (s)", "test accuracy", size=(7, 4.2))
    for r in rows:
        ax.scatter(r["sec_per_epoch"], r["test_acc"], s=60, color=plots.color_for(r["name"]),
                   label=f"{r['name']} (LSTM reads {r['lstm_steps']} steps)", zorder=3)
    ax.axhline(0.5, color="#999999", linestyle=":", linewidth=1, label="chance (2 classes)")
    ax.set_ylim(0.4, 1.02)
    ax.set_xlim(left=0)
    ax.legend(fontsize=8, loc="lower right")
    return fig, ax


# --------------------------------------------------------------------------- n splits


def n_splits_demo(
    n_splits: int,
    *,
    data: tuple,
    units: int = 16,
    epochs: int = 10,
    learning_rate: float = 3e-3,
    seed: int = 0,
):
    """Train :func:`course_lib.models.split_bilstm_classifier` with ``n_splits``; draw the cuts.

    This is the plain function behind the notebook's n-splits widget.

    Args:
        n_splits: pieces per sequence; must divide the sequence length.
        data: ``(x_train, y_train, x_test, y_test)``, x ``[samples, timesteps, features]``.
        units: LSTM units per direction.
        epochs: training epochs.
        learning_rate: Adam learning rate.
        seed: weight seed.

    Returns:
        ``(fig, result)``: channel 0 of the first test sequence with the piece boundaries,
        and the dict of :func:`train` (plus ``n_splits``).
    """
    import keras

    from course_lib import plots
    from course_lib.models import split_bilstm_classifier

    if not isinstance(data, tuple | list) or len(data) != 4:
        raise ValueError("data must be (x_train, y_train, x_test, y_test)")
    seq_len, n_features = data[0].shape[1], data[0].shape[2]
    keras.utils.set_random_seed(seed)
    model = split_bilstm_classifier(seq_len, n_features, n_splits, units,
                                    learning_rate=learning_rate)
    result = train(model, data, epochs=epochs, seq_len=seq_len, label=f"{n_splits} splits")
    result["n_splits"] = n_splits
    piece = result["lstm_steps"]
    fig, ax = plots.figure(
        f"{n_splits} pieces of {piece} steps: accuracy {result['test_acc']:.2f}, "
        f"{result['sec_per_epoch']:.2f} s/epoch", "time (steps)", "channel 0 (a.u.)",
        size=(8, 3.2))
    ax.plot(data[2][0, :, 0], color="#999999", linewidth=0.8)
    for edge in range(piece, seq_len, piece):
        ax.axvline(edge, color=plots.color_for("bidirectional halves"), linewidth=1.5)
    return fig, result


def n_splits_figure(splits: Mapping[int, Mapping[str, Any]], seq_len: int):
    """Draw test accuracy and seconds per epoch against the number of pieces.

    Args:
        splits: ``{n_splits: dict returned by n_splits_demo()}``.
        seq_len: timesteps of the original sequences (labels the pieces' length).

    Returns:
        ``(fig, ax)`` (accuracy on ``ax``, time on its twin axis).
    """
    from course_lib import plots

    seq_len = check_positive_int("seq_len", seq_len)
    _rows(splits)  # validates the mapping and its keys
    ns = sorted(splits)
    fig, ax = plots.figure("Split bidirectional LSTM: more pieces, shorter runs",
                           "number of pieces n (steps per piece)", "test accuracy")
    acc_line = ax.plot(ns, [splits[n]["test_acc"] for n in ns], "o-", label="test accuracy",
                       color=plots.color_for("bidirectional halves"))
    ax.set_ylim(0.4, 1.02)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [f"{n}\n({seq_len // n})" for n in ns])
    ax.minorticks_off()
    twin = ax.twinx()
    time_line = twin.plot(ns, [splits[n]["sec_per_epoch"] for n in ns], "s--", color="#555555",
                          label="training time per epoch")
    twin.set_ylabel("training time per epoch (s)")
    twin.set_ylim(bottom=0)
    ax.legend(handles=acc_line + time_line, loc="lower left", fontsize=8)
    return fig, ax
