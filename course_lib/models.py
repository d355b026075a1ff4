"""Small Keras 3 model builders used across the notebooks.

All recurrent layers keep the cuDNN-compatible defaults (tanh/sigmoid activations,
no recurrent dropout, ``unroll=False``) so the same code runs fast on a GPU.
"""

from __future__ import annotations

import keras

from course_lib.data import check_positive_int


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
