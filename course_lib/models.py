"""Small Keras 3 model builders used across the notebooks.

All recurrent layers keep the cuDNN-compatible defaults (tanh/sigmoid activations,
no recurrent dropout, ``unroll=False``) so the same code runs fast on a GPU.
"""

from __future__ import annotations

import keras

from course_lib.validate import check_fraction, check_positive_int


def lstm_classifier(
    seq_len: int | None,
    n_features: int,
    units: int = 32,
    n_classes: int = 2,
    *,
    learning_rate: float = 1e-2,
    name: str = "lstm_classifier",
) -> keras.Model:
    """Build and compile Input -> LSTM(units) -> Dense, for sequence classification.

    Args:
        seq_len: timesteps per sample, or None for any length.
        n_features: features per timestep.
        units: LSTM units.
        n_classes: 2 gives one sigmoid output (binary cross-entropy); more gives softmax.
        learning_rate: Adam learning rate.
    """
    if seq_len is not None:
        check_positive_int("seq_len", seq_len)
    check_positive_int("n_features", n_features)
    check_positive_int("units", units)
    check_positive_int("n_classes", n_classes, minimum=2)
    inputs = keras.Input(shape=(seq_len, n_features))
    hidden = keras.layers.LSTM(units)(inputs)
    if n_classes == 2:
        outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
        loss = "binary_crossentropy"
    else:
        outputs = keras.layers.Dense(n_classes, activation="softmax")(hidden)
        loss = "sparse_categorical_crossentropy"
    model = keras.Model(inputs, outputs, name=name)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    return model


# --- Builders for notebooks 07, 08 and 11 (encoder-decoder and "more ideas") ---------------


def _seqtech_head(hidden, n_classes: int):
    """Return ``(outputs, loss)``: one sigmoid unit for 2 classes, softmax otherwise."""
    if n_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid")(hidden), "binary_crossentropy"
    return (keras.layers.Dense(n_classes, activation="softmax")(hidden),
            "sparse_categorical_crossentropy")


def _seqtech_compile(model: keras.Model, loss: str, learning_rate: float) -> keras.Model:
    """Compile ``model`` with Adam and accuracy; return it."""
    check_fraction("learning_rate", learning_rate, 1e-6, 1.0)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    return model


def _check_builder_args(seq_len: int, n_features: int, units: int, n_classes: int,
                        *, min_len: int = 1) -> None:
    """Validate the arguments every classifier builder shares (messages name each one)."""
    check_positive_int("seq_len", seq_len, minimum=min_len)
    check_positive_int("n_features", n_features)
    check_positive_int("units", units)
    check_positive_int("n_classes", n_classes, minimum=2)


def _seqtech_check_split(seq_len: int, parts: int, parts_name: str) -> int:
    """Return ``seq_len // parts`` if ``parts`` divides ``seq_len``, else raise ValueError."""
    check_positive_int(parts_name, parts)
    if seq_len % parts:
        raise ValueError(
            f"{parts_name} must divide seq_len={seq_len} exactly, got {parts}; "
            f"pad or truncate the sequences first"
        )
    return seq_len // parts


def lstm_autoencoder(
    seq_len: int,
    n_features: int,
    code_size: int,
    units: int = 32,
    *,
    reverse_input: bool = True,
    learning_rate: float = 1e-2,
    name: str = "lstm_autoencoder",
) -> tuple[keras.Model, keras.Model]:
    """Build and compile an LSTM autoencoder that squeezes a sequence into ``code_size`` numbers.

    The encoder is LSTM(units) -> Dense(code_size) (a linear code). The decoder repeats
    the code ``seq_len`` times and runs LSTM(units, return_sequences) -> Dense(n_features)
    at every step. ``reverse_input`` feeds the encoder the sequence back to front, so the
    first steps (which the decoder must produce first) were read most recently.

    Args:
        seq_len: timesteps per sequence.
        n_features: features per timestep.
        code_size: length of the code vector (the new "sequence length" of a sample).
        units: LSTM units in the encoder and the decoder.
        reverse_input: read the input backwards in the encoder.
        learning_rate: Adam learning rate.

    Returns:
        ``(autoencoder, encoder)``: the autoencoder maps ``[batch, seq_len, n_features]`` to
        the same shape and is compiled with MSE; the encoder (sharing its weights) maps
        ``[batch, seq_len, n_features]`` to codes ``[batch, code_size]``.
    """
    check_positive_int("seq_len", seq_len)
    check_positive_int("n_features", n_features)
    check_positive_int("code_size", code_size)
    check_positive_int("units", units)
    if not isinstance(reverse_input, bool):
        raise TypeError(f"reverse_input must be a bool, got {type(reverse_input).__name__}")
    inputs = keras.Input(shape=(seq_len, n_features))
    hidden = keras.layers.LSTM(units, go_backwards=reverse_input, name="encoder_lstm")(inputs)
    code = keras.layers.Dense(code_size, name="code")(hidden)
    repeated = keras.layers.RepeatVector(seq_len)(code)
    decoded = keras.layers.LSTM(units, return_sequences=True, name="decoder_lstm")(repeated)
    outputs = keras.layers.Dense(n_features, name="reconstruction")(decoded)
    autoencoder = keras.Model(inputs, outputs, name=name)
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")
    check_fraction("learning_rate", learning_rate, 1e-6, 1.0)
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return autoencoder, encoder


def code_classifier(
    code_shape: tuple[int, ...],
    units: int = 32,
    n_classes: int = 2,
    *,
    learning_rate: float = 1e-2,
    name: str = "code_classifier",
) -> keras.Model:
    """Build and compile a classifier on learned codes.

    One code per sample (``code_shape = (code_size,)``) goes through Dense(units, relu);
    a sequence of codes (``code_shape = (n_codes, code_size)``, e.g. one code per chunk
    of a long sequence) goes through LSTM(units).

    Args:
        code_shape: ``(code_size,)`` or ``(n_codes, code_size)``.
        units: hidden units.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping ``[batch, *code_shape]`` to class scores.
    """
    if not isinstance(code_shape, (tuple, list)) or len(code_shape) not in (1, 2):
        raise ValueError(
            f"code_shape must be (code_size,) or (n_codes, code_size), got {code_shape!r}")
    for i, size in enumerate(code_shape):
        check_positive_int(f"code_shape[{i}]", size)
    check_positive_int("units", units)
    check_positive_int("n_classes", n_classes, minimum=2)
    inputs = keras.Input(shape=tuple(int(s) for s in code_shape))
    if len(code_shape) == 1:
        hidden = keras.layers.Dense(units, activation="relu")(inputs)
    else:
        hidden = keras.layers.LSTM(units)(inputs)
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


# Front ends written on notebook 08's page (saved copies: tests/test_saved_copies.py).


def side_by_side(inputs, n_pieces):
    """Cut ``[batch, T, F]`` into ``n_pieces`` pieces and lay them side by side as features.

    Returns ``[batch, T // n_pieces, n_pieces * F]``: step t holds step t of every piece.
    """
    seq_len, n_features = inputs.shape[1], inputs.shape[2]
    piece = seq_len // n_pieces
    pieces = keras.layers.Reshape((n_pieces, piece, n_features))(inputs)  # [batch, i, t, f]
    swapped = keras.layers.Permute((2, 1, 3))(pieces)  # [batch, t, i, f]
    return keras.layers.Reshape((piece, n_pieces * n_features))(swapped)


def halves_bilstm(inputs, units):
    """Forward LSTM over the first half, backward LSTM over the second; concatenated states."""
    half = inputs.shape[1] // 2
    first = keras.layers.Cropping1D((0, half))(inputs)  # drop the last half: steps 0..half-1
    second = keras.layers.Cropping1D((half, 0))(inputs)  # drop the first half
    forward = keras.layers.LSTM(units, name="forward_first_half")(first)
    backward = keras.layers.LSTM(units, go_backwards=True, name="backward_second_half")(second)
    return keras.layers.Concatenate()([forward, backward])


def strided_conv(inputs, stride, filters):
    """One Conv1D whose kernel and stride are both ``stride``: T steps become T // stride."""
    return keras.layers.Conv1D(filters, kernel_size=stride, strides=stride,
                               activation="relu")(inputs)


def halves_bilstm_classifier(
    seq_len: int,
    n_features: int,
    units: int = 16,
    n_classes: int = 2,
    *,
    learning_rate: float = 1e-2,
    name: str = "halves_bilstm_classifier",
) -> keras.Model:
    """Build and compile a bidirectional pair where each LSTM reads only one half.

    The forward LSTM reads the first half (start to middle), the backward LSTM reads the
    second half (end to middle); their final states are concatenated. Neither LSTM runs
    more than ``seq_len // 2`` steps, and both finish at the middle of the sequence.

    Args:
        seq_len: timesteps per sample; must be even.
        n_features: features per timestep.
        units: LSTM units per direction.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping ``[batch, seq_len, n_features]`` to class scores.
    """
    _check_builder_args(seq_len, n_features, units, n_classes, min_len=2)
    _seqtech_check_split(seq_len, 2, "2 (halves)")
    inputs = keras.Input(shape=(seq_len, n_features))
    hidden = halves_bilstm(inputs, units)
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


def split_bilstm_classifier(
    seq_len: int,
    n_features: int,
    n_splits: int = 2,
    units: int = 16,
    n_classes: int = 2,
    *,
    learning_rate: float = 1e-2,
    name: str = "split_bilstm_classifier",
) -> keras.Model:
    """Build and compile one shared bidirectional LSTM that reads ``n_splits`` pieces.

    The sequence is cut into ``n_splits`` equal pieces; the same Bidirectional(LSTM)
    reads every piece (the pieces are folded into the batch axis, so they run side by
    side), and the per-piece states are concatenated in time order. No LSTM runs more
    than ``seq_len // n_splits`` steps; ``n_splits=1`` is a plain bidirectional LSTM.

    Args:
        seq_len: timesteps per sample; must be divisible by ``n_splits``.
        n_features: features per timestep.
        n_splits: number of pieces, >= 1.
        units: LSTM units per direction.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping ``[batch, seq_len, n_features]`` to class scores.
    """
    _check_builder_args(seq_len, n_features, units, n_classes)
    piece = _seqtech_check_split(seq_len, n_splits, "n_splits")
    inputs = keras.Input(shape=(seq_len, n_features))
    # Fold the pieces into the batch axis: one cuDNN-friendly LSTM call reads them all.
    pieces = keras.ops.reshape(inputs, (-1, piece, n_features))
    shared = keras.layers.Bidirectional(keras.layers.LSTM(units), name="shared_bilstm")
    hidden = keras.ops.reshape(shared(pieces), (-1, n_splits * 2 * units))
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


def parallel_subsequences_classifier(
    seq_len: int,
    n_features: int,
    n_subsequences: int,
    units: int = 32,
    n_classes: int = 2,
    *,
    learning_rate: float = 1e-2,
    name: str = "parallel_subsequences_classifier",
) -> keras.Model:
    """Build and compile an LSTM that reads ``n_subsequences`` pieces side by side as features.

    The sequence is cut into ``n_subsequences`` consecutive pieces of length
    ``L = seq_len // n_subsequences``; step ``t`` of the LSTM sees step ``t`` of every
    piece, so its input has ``n_subsequences * n_features`` features (piece ``i`` in
    columns ``i*n_features ... (i+1)*n_features - 1``) and it runs only ``L`` steps.

    Args:
        seq_len: timesteps per sample; must be divisible by ``n_subsequences``.
        n_features: features per timestep.
        n_subsequences: number of pieces, >= 1 (1 = plain LSTM).
        units: LSTM units.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping ``[batch, seq_len, n_features]`` to class scores.
    """
    _check_builder_args(seq_len, n_features, units, n_classes)
    _seqtech_check_split(seq_len, n_subsequences, "n_subsequences")
    inputs = keras.Input(shape=(seq_len, n_features))
    wide = side_by_side(inputs, n_subsequences)
    hidden = keras.layers.LSTM(units)(wide)
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


def conv_downsample_classifier(
    seq_len: int,
    n_features: int,
    stride: int = 4,
    filters: int = 16,
    units: int = 32,
    n_classes: int = 2,
    *,
    n_conv: int = 1,
    learning_rate: float = 1e-2,
    name: str = "conv_downsample_classifier",
) -> keras.Model:
    """Build and compile strided Conv1D layers that shorten the sequence before an LSTM.

    Each of the ``n_conv`` layers is Conv1D(filters, kernel_size=stride, strides=stride,
    relu): it sees every step once and divides the length by ``stride``, so the LSTM runs
    ``seq_len // stride**n_conv`` steps.

    Args:
        seq_len: timesteps per sample; must be >= ``stride**n_conv``.
        n_features: features per timestep.
        stride: length reduction per conv layer, >= 1.
        filters: conv channels.
        units: LSTM units.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        n_conv: number of strided conv layers, >= 1.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping ``[batch, seq_len, n_features]`` to class scores.
    """
    _check_builder_args(seq_len, n_features, units, n_classes)
    check_positive_int("stride", stride)
    check_positive_int("filters", filters)
    check_positive_int("n_conv", n_conv)
    if stride**n_conv > seq_len:
        raise ValueError(
            f"stride**n_conv must be <= seq_len={seq_len}, got {stride}**{n_conv}={stride**n_conv}"
        )
    inputs = keras.Input(shape=(seq_len, n_features))
    hidden = inputs
    for _ in range(n_conv):
        hidden = strided_conv(hidden, stride, filters)
    hidden = keras.layers.LSTM(units)(hidden)
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


def projection_classifier(
    seq_len: int,
    n_features: int,
    window: int,
    proj_dim: int = 8,
    units: int = 32,
    n_classes: int = 2,
    *,
    seed: int = 0,
    learning_rate: float = 1e-2,
    name: str = "projection_classifier",
) -> keras.Model:
    """Build and compile a fixed random projection of each window, then an LSTM.

    Every block of ``window`` consecutive steps (``window * n_features`` numbers) is
    multiplied by one frozen Gaussian matrix (std ``1/sqrt(window*n_features)``, drawn
    from ``seed``) to ``proj_dim`` numbers, so the LSTM runs ``seq_len // window`` steps.
    Nothing about the projection is learned: it only shortens the sequence.

    Args:
        seq_len: timesteps per sample; must be divisible by ``window``.
        n_features: features per timestep.
        window: steps merged into one projected step, >= 1.
        proj_dim: numbers per projected step.
        units: LSTM units.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        seed: seed of the random projection matrix.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping ``[batch, seq_len, n_features]`` to class scores.
    """
    _check_builder_args(seq_len, n_features, units, n_classes)
    steps = _seqtech_check_split(seq_len, window, "window")
    check_positive_int("proj_dim", proj_dim)
    check_positive_int("seed", seed, minimum=0)
    inputs = keras.Input(shape=(seq_len, n_features))
    blocks = keras.layers.Reshape((steps, window * n_features))(inputs)
    std = 1.0 / (window * n_features) ** 0.5
    projected = keras.layers.Dense(
        proj_dim, use_bias=False, trainable=False, name="random_projection",
        kernel_initializer=keras.initializers.RandomNormal(stddev=std, seed=seed))(blocks)
    hidden = keras.layers.LSTM(units)(projected)
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


def hashed_tokens_classifier(
    seq_len: int | None,
    n_buckets: int,
    embed_dim: int = 16,
    units: int = 32,
    n_classes: int = 2,
    *,
    learning_rate: float = 1e-2,
    name: str = "hashed_tokens_classifier",
) -> keras.Model:
    """Build and compile Embedding(n_buckets) -> LSTM -> Dense for hashed token ids.

    Hashing (e.g. of n-grams into ``n_buckets`` ids) shortens and shrinks the input before
    it gets here; this model only has to embed ids in ``0 .. n_buckets-1``.

    Args:
        seq_len: tokens per sample, or None for any length.
        n_buckets: number of distinct ids (the embedding's input size).
        embed_dim: embedding width.
        units: LSTM units.
        n_classes: 2 gives a sigmoid output; more gives softmax.
        learning_rate: Adam learning rate.

    Returns:
        A compiled model mapping int ids ``[batch, seq_len]`` to class scores.
    """
    if seq_len is not None:
        check_positive_int("seq_len", seq_len)
    check_positive_int("n_buckets", n_buckets, minimum=2)
    check_positive_int("embed_dim", embed_dim)
    check_positive_int("units", units)
    check_positive_int("n_classes", n_classes, minimum=2)
    inputs = keras.Input(shape=(seq_len,), dtype="int32")
    embedded = keras.layers.Embedding(n_buckets, embed_dim)(inputs)
    hidden = keras.layers.LSTM(units)(embedded)
    outputs, loss = _seqtech_head(hidden, n_classes)
    return _seqtech_compile(keras.Model(inputs, outputs, name=name), loss, learning_rate)


# --- Helpers for notebooks 02-05 (as-is, truncate, summarize, random sampling) --------------


def token_classifier(
    seq_len: int | None,
    vocab_size: int,
    embed_dim: int = 16,
    units: int = 32,
    *,
    learning_rate: float = 1e-2,
    name: str = "token_classifier",
) -> keras.Model:
    """Build and compile Embedding(vocab_size) -> LSTM(units) -> sigmoid, for token documents.

    Args:
        seq_len: tokens per document, or None for any length.
        vocab_size: number of token ids (0 is padding).
        embed_dim: embedding width.
        units: LSTM units.
        learning_rate: Adam learning rate.

    Returns:
        A compiled binary classifier mapping int ids ``[batch, seq_len]`` to ``[batch, 1]``.
    """
    return hashed_tokens_classifier(seq_len, vocab_size, embed_dim, units, 2,
                                    learning_rate=learning_rate, name=name)


def fit_and_score(
    model: keras.Model,
    train: tuple,
    test: tuple,
    *,
    epochs: int,
    batch_size: int = 32,
    label: str = "",
) -> dict:
    """Train ``model`` on ``train`` for ``epochs``, score it on ``test``, and time the epochs.

    Prints one line per run (no progress bar). Time per epoch is the median over
    epochs after the first (the first one includes graph tracing) when there are
    at least two epochs.

    Args:
        model: a compiled Keras model with an "accuracy" metric.
        train: ``(x_train, y_train)``.
        test: ``(x_test, y_test)``.
        epochs: training epochs (>= 1).
        batch_size: samples per update (>= 1).
        label: name printed with the result.

    Returns:
        dict with ``test_acc``, ``train_acc`` (last epoch), ``sec_per_epoch``,
        ``first_epoch_sec`` and ``history`` (per-epoch train accuracy list).
    """
    import time

    import numpy as np

    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    if len(train) != 2 or len(test) != 2:
        raise ValueError("train and test must each be a pair (x, y)")
    times: list[float] = []

    class _Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    history = model.fit(train[0], train[1], epochs=epochs, batch_size=batch_size,
                        verbose=0, callbacks=[_Clock()])
    _, test_acc = model.evaluate(test[0], test[1], batch_size=256, verbose=0)
    steady = times[1:] if len(times) > 1 else times
    result = {
        "test_acc": float(test_acc),
        "train_acc": float(history.history["accuracy"][-1]),
        "sec_per_epoch": float(np.median(steady)),
        "first_epoch_sec": float(times[0]),
        "history": [float(a) for a in history.history["accuracy"]],
    }
    print(f"{label or model.name}: test accuracy {result['test_acc']:.3f}, "
          f"{result['sec_per_epoch']:.2f} s/epoch")
    return result
