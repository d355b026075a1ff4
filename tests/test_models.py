"""Tests for the model builders of course_lib.models: output shapes, wiring, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import models
from course_lib import techniques as tq


def _x(n=3, t=12, f=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, t, f)).astype(np.float32)


def test_lstm_classifier_binary_and_multiclass_shapes():
    assert models.lstm_classifier(12, 2, 4)(_x()).shape == (3, 1)
    assert models.lstm_classifier(None, 2, 4, n_classes=3)(_x()).shape == (3, 3)


def test_autoencoder_reconstructs_shape_and_encoder_gives_codes():
    ae, enc = models.lstm_autoencoder(12, 2, code_size=5, units=4)
    x = _x()
    assert ae(x).shape == (3, 12, 2)
    assert enc(x).shape == (3, 5)
    assert ae.loss == "mse"
    # the encoder shares the autoencoder's weights: training one changes the other
    shared = {id(w) for w in ae.weights} & {id(w) for w in enc.weights}
    assert len(shared) == len(enc.weights)


def test_autoencoder_reverse_input_changes_the_code():
    x = _x()
    import keras

    keras.utils.set_random_seed(1)
    _, forward = models.lstm_autoencoder(12, 2, 3, 4, reverse_input=False)
    keras.utils.set_random_seed(1)
    _, backward = models.lstm_autoencoder(12, 2, 3, 4, reverse_input=True)
    assert not np.allclose(forward(x), backward(x))


@pytest.mark.parametrize("shape, expect", [((6,), (4, 1)), ((3, 6), (4, 1))])
def test_code_classifier_accepts_one_code_or_a_sequence_of_codes(shape, expect):
    x = np.zeros((4, *shape), dtype=np.float32)
    assert models.code_classifier(shape, 4)(x).shape == expect
    assert models.code_classifier(shape, 4, n_classes=5)(x).shape == (4, 5)


def test_halves_bilstm_reads_each_half_with_one_direction():
    model = models.halves_bilstm_classifier(12, 2, 4)
    assert model(_x()).shape == (3, 1)
    assert model.get_layer("forward_first_half").input.shape[1] == 6
    assert model.get_layer("backward_second_half").input.shape[1] == 6
    # changing only the second half's last step changes the output: it is read
    x = _x()
    y = x.copy()
    y[:, -1] += 5.0
    assert not np.allclose(model(x), model(y))


@pytest.mark.parametrize("n_splits", [1, 2, 3, 4, 6])
def test_split_bilstm_shapes(n_splits):
    model = models.split_bilstm_classifier(12, 2, n_splits, 4)
    assert model(_x()).shape == (3, 1)
    assert model.get_layer("shared_bilstm").input.shape[1] == 12 // n_splits


def test_split_bilstm_pieces_stay_in_their_sample():
    """Folding pieces into the batch must not mix samples: sample 0's output ignores sample 1."""
    model = models.split_bilstm_classifier(12, 2, 4, 4)
    x = _x()
    y = x.copy()
    y[1] += 3.0
    out_x, out_y = np.asarray(model(x)), np.asarray(model(y))
    assert np.allclose(out_x[0], out_y[0]) and np.allclose(out_x[2], out_y[2])
    assert not np.allclose(out_x[1], out_y[1])


def test_parallel_subsequences_model_matches_the_technique():
    """The built-in reshape gives the LSTM exactly techniques.parallel_subsequences(x, n)."""
    import keras

    model = models.parallel_subsequences_classifier(12, 2, 3, 4)
    lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.LSTM))
    inner = keras.Model(model.input, lstm.input)
    x = _x()
    assert np.allclose(inner(x), tq.parallel_subsequences(x, 3))
    assert model(x).shape == (3, 1)


@pytest.mark.parametrize("stride, n_conv, steps", [(2, 1, 6), (3, 1, 4), (2, 2, 3)])
def test_conv_downsample_shortens_by_stride(stride, n_conv, steps):
    import keras

    model = models.conv_downsample_classifier(12, 2, stride, 3, 4, n_conv=n_conv)
    lstm = next(layer for layer in model.layers if isinstance(layer, keras.layers.LSTM))
    assert lstm.input.shape[1] == steps
    assert model(_x()).shape == (3, 1)


def test_projection_is_frozen_and_shortens():
    model = models.projection_classifier(12, 2, window=4, proj_dim=3, units=4, seed=1)
    proj = model.get_layer("random_projection")
    assert not proj.trainable and proj.output.shape[1:] == (3, 3)
    assert model(_x()).shape == (3, 1)
    again = models.projection_classifier(12, 2, window=4, proj_dim=3, units=4, seed=1)
    assert np.allclose(proj.kernel, again.get_layer("random_projection").kernel)


def test_hashed_tokens_classifier_takes_ids():
    ids = tq.hash_tokens(np.arange(1, 25).reshape(2, 12), 7, ngram=3)
    assert models.hashed_tokens_classifier(4, 7, 3, 4)(ids).shape == (2, 1)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: models.lstm_autoencoder(12, 2, 0), "code_size"),
        (lambda: models.lstm_autoencoder(0, 2, 3), "seq_len"),
        (lambda: models.lstm_autoencoder(12, 2, 3, learning_rate=2.0), "learning_rate"),
        (lambda: models.code_classifier((2, 3, 4)), "code_shape"),
        (lambda: models.code_classifier((0,)), r"code_shape\[0\]"),
        (lambda: models.halves_bilstm_classifier(11, 2), "seq_len=11"),
        (lambda: models.split_bilstm_classifier(12, 2, 5), "n_splits"),
        (lambda: models.split_bilstm_classifier(12, 2, 0), "n_splits"),
        (lambda: models.parallel_subsequences_classifier(12, 2, 5), "n_subsequences"),
        (lambda: models.conv_downsample_classifier(12, 2, stride=4, n_conv=2), "stride"),
        (lambda: models.conv_downsample_classifier(12, 2, stride=0), "stride"),
        (lambda: models.projection_classifier(12, 2, window=5), "window"),
        (lambda: models.projection_classifier(12, 2, window=4, proj_dim=0), "proj_dim"),
        (lambda: models.hashed_tokens_classifier(12, 1), "n_buckets"),
        (lambda: models.split_bilstm_classifier(12, 2, 2, n_classes=1), "n_classes"),
    ],
)
def test_builders_reject_bad_arguments(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: models.lstm_autoencoder(12.0, 2, 3),
        lambda: models.lstm_autoencoder(12, 2, 3, reverse_input="yes"),
        lambda: models.split_bilstm_classifier(12, 2, "2"),
        lambda: models.conv_downsample_classifier(12, 2, stride=True),
    ],
)
def test_builders_reject_wrong_types(build):
    with pytest.raises(TypeError):
        build()
