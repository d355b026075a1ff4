"""Full backpropagation through time: the model of notebook 01 and its gradient-norm probe.

Notebook 01 writes both on its page (``# saved in course_lib.bptt``) and this module keeps
identical copies (``tests/test_saved_copies.py`` checks they agree):

* :func:`lstm_model` -- ``keras.Sequential``: Input -> LSTM -> Dense(sigmoid), not compiled;
* :func:`gradient_by_lag` -- with ``tf.GradientTape``, the mean norm of d loss / d x(t - L)
  for every lag L: how strongly the loss at the end still depends on an input L steps back.

:func:`input_gradient_norms` is the validated convenience wrapper later code calls: it draws
marker-task sequences, builds a fresh seeded model and runs the probe.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from course_lib.data import marker_task
from course_lib.validate import check_positive_int

__all__ = ["lstm_model", "gradient_by_lag", "input_gradient_norms"]


def lstm_model(seq_len, n_features, units):
    """Return an uncompiled Input -> LSTM(units) -> Dense(1, sigmoid) for whole sequences.

    Args:
        seq_len: timesteps per sequence (>= 1); BPTT walks back through all of them.
        n_features: features per timestep (>= 1).
        units: LSTM units (>= 1).
    """
    for name, value in {"seq_len": seq_len, "n_features": n_features, "units": units}.items():
        check_positive_int(name, value)
    return keras.Sequential([
        keras.Input(shape=(seq_len, n_features)),
        keras.layers.LSTM(units),  # default activations: the cuDNN kernel on a GPU
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def gradient_by_lag(model, x, y):
    """Return the mean norm of d loss / d x(T-1-L) over the batch, for every lag L.

    Args:
        model: a Keras model mapping ``[batch, T, features]`` to ``[batch, 1]`` probabilities.
        x: inputs ``[batch, T, features]``.
        y: one 0/1 label per sequence (``[batch]``).

    Returns:
        float array ``[T]``; entry ``L`` (0 = the last step) is the size of the gradient of
        each sequence's binary cross-entropy with respect to its input ``L`` steps before the
        end, averaged over the batch.
    """
    if len(np.shape(x)) != 3 or len(x) != len(y):
        raise ValueError(f"x must be [batch, T, features] with one label in y per row; got "
                         f"x of shape {np.shape(x)} and {len(y)} labels")
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.cast(y, tf.float32), (-1, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)  # x is a plain tensor, not a weight: ask the tape to follow it
        loss = keras.losses.binary_crossentropy(y, model(x))  # one loss per sequence
    grads = tape.gradient(loss, x)  # [batch, T, features]: d loss / d x(t), row by row
    per_step = tf.norm(grads, axis=-1)  # its size at each step t: [batch, T]
    return tf.reduce_mean(per_step, axis=0).numpy()[::-1]  # reversed: index = lag L


def input_gradient_norms(seq_len: int, *, units: int = 32, batch: int = 16,
                         seed: int = 0) -> np.ndarray:
    """Probe a freshly initialised :func:`lstm_model` on ``batch`` marker-task sequences.

    Args:
        seq_len: T (>= 2).
        units: LSTM units (>= 1).
        batch: sequences the norms are averaged over (>= 1).
        seed: seeds the data and the initial weights (>= 0).

    Returns:
        float64 array of shape ``[seq_len]``, index = lag L (see :func:`gradient_by_lag`).
    """
    from course_lib.environment import set_seed

    seq_len = check_positive_int("seq_len", seq_len, minimum=2)
    units = check_positive_int("units", units)
    batch = check_positive_int("batch", batch)
    set_seed(seed)
    x, y, _ = marker_task(batch, seq_len, seed=seed)
    norms = gradient_by_lag(lstm_model(seq_len, x.shape[-1], units), x, y)
    keras.backend.clear_session()
    return np.asarray(norms, dtype=np.float64)
