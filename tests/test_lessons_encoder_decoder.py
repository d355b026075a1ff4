"""Tests of course_lib.lessons.encoder_decoder (notebook 07's code and plumbing)."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.lessons import encoder_decoder as ed


def _data(n=8, t=32, f=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, f)).astype("float32")
    y = np.arange(n) % 2
    return x, y, x[:4], y[:4]


def test_to_chunks_keeps_each_trace_contiguous_and_in_time_order():
    x = np.arange(2 * 12 * 3).reshape(2, 12, 3)
    chunks = ed.to_chunks(x, 4)
    assert chunks.shape == (6, 4, 3)
    assert np.array_equal(chunks[4], x[1, 4:8])
    assert np.array_equal(ed.chunk(x, 4), chunks)


def test_autoencoder_shapes_and_shared_weights():
    ae, enc = ed.build_autoencoder(8, 3, 5, 4)
    assert ae.output.shape == (None, 8, 3)
    assert enc.output.shape == (None, 5)
    assert enc.get_layer("encoder_lstm") is ae.get_layer("encoder_lstm")
    # LSTM(4) on 3 inputs + Dense(5) + LSTM(4) on 5 inputs + Dense(3)
    assert enc.count_params() == 4 * 4 * (3 + 4 + 1) + (4 * 5 + 5)
    assert ae.count_params() == enc.count_params() + 4 * 4 * (5 + 4 + 1) + (4 * 3 + 3)


def test_train_autoencoder_lowers_the_loss():
    x, *_ = _data(n=16, t=8, f=1)
    ae, _ = ed.build_autoencoder(8, 1, 4, 8)
    history = ed.train_autoencoder(ae, x, epochs=5, batch_size=8)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_encode_gives_one_code_per_chunk():
    x, *_ = _data(n=3, t=16, f=2)
    _, enc = ed.build_autoencoder(4, 2, 5, 3)
    codes = ed.encode(enc, x, 4)
    assert codes.shape == (3, 4, 5)
    direct = np.asarray(enc(x[1, 8:12][None]))[0]
    np.testing.assert_allclose(codes[1, 2], direct, rtol=1e-5, atol=1e-5)


def test_end_to_end_and_sequence_classifier_shapes():
    model = ed.build_end_to_end(16, 4, 2, 3, 5)
    assert model.output.shape == (None, 1)
    assert tuple(model(np.zeros((2, 16, 2), "float32")).shape) == (2, 1)
    clf = ed.build_sequence_classifier(4, 3, 5)
    assert tuple(clf(np.zeros((2, 4, 3), "float32")).shape) == (2, 1)


def test_chunk_statistics_by_hand():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 16, 3)).astype("float32")
    stats = ed.chunk_statistics(x, 8, n_bands=2)
    assert stats.shape == (2, 2, (2 + 2) * 3)
    piece = x[1, 8:16, 2]
    assert np.isclose(stats[1, 1, 2], piece.mean(), atol=1e-6)
    assert np.isclose(stats[1, 1, 3 + 2], piece.std(), atol=1e-6)
    power = np.abs(np.fft.rfft(piece - piece.mean())) ** 2 / 8  # bins 0..4
    first_band = power[1:3].sum()  # bins 1..4 split in two: [1, 2], [3, 4]
    assert np.isclose(stats[1, 1, 6 + 0 * 3 + 2], np.log1p(first_band), rtol=1e-5)
    # a pure tone lands in the band that holds its frequency
    t = np.arange(16)
    tone = np.sin(2 * np.pi * 3 * t / 8)[None, :, None].astype("float32")  # bin 3 of 8
    bands = ed.chunk_statistics(tone, 8, n_bands=2)[0, 0, 2:]
    assert bands[1] > 10 * bands[0]


def test_exercise_checker_accepts_the_library_and_rejects_a_wrong_answer():
    assert ed.matches_library_statistics(ed.chunk_statistics)
    assert not ed.matches_library_statistics(lambda x, c: ed.chunk_statistics(x, c)[..., :-1])
    assert not ed.matches_library_statistics(lambda x, c: 1 / 0)
    assert not ed.matches_library_statistics("not a function")


def test_code_size_run_and_compare_inputs_report_accuracies():
    data = _data(n=8, t=32, f=2)
    result = ed.code_size_run(data, 2, 16, units=2, ae_epochs=1, clf_epochs=1, seed=3)
    assert result["codes"][0].shape == (8, 2, 2)
    assert 0 <= result["code_acc"] <= 1
    assert np.isclose(result["explained"], 1 - result["recon_mse"] / result["signal_var"])
    out = ed.compare_inputs(data, result["codes"], 16, code_size=2, units=2, epochs=1,
                            e2e_epochs=1, repeats=2, seed=3)
    assert set(out) == {"autoencoder codes", "chunk statistics", "end to end"}
    assert all(len(v) == 2 and all(0 <= a <= 1 for a in v) for v in out.values())


def test_code_size_run_is_deterministic_given_a_seed():
    data = _data(n=8, t=16, f=2)
    a = ed.code_size_run(data, 2, 4, units=2, ae_epochs=1, clf_epochs=1, seed=5)
    b = ed.code_size_run(data, 2, 4, units=2, ae_epochs=1, clf_epochs=1, seed=5)
    assert a["recon_mse"] == pytest.approx(b["recon_mse"], rel=1e-5)


def test_mean_std_and_wins():
    assert ed.mean_std([1.0, 3.0], 1) == "2.0 ± 1.0 (n=2)"
    assert ed.wins([0.9, 0.6, 0.8], [0.5, 0.5, 0.7], 0.15) == 1
    assert ed.wins([0.9, 0.6], [0.5, 0.5]) == 2


def test_reconstruction_figure_and_decode():
    x, *_ = _data(n=2, t=16, f=2)
    ae, _ = ed.build_autoencoder(4, 2, 2, 2)
    assert ed.decode_in_chunks(ae, x, 4).shape == x.shape
    fig, ax = ed.reconstruction_figure(ae, x, 4, sample=1, channel=1, burst_starts=[2],
                                       burst_len=3, sampling_rate=8.0)
    assert len(ax.lines) >= 2


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ed.chunk(np.zeros((2, 10)), 5), "x must be 3-D"),
        (lambda: ed.chunk(np.zeros((2, 10, 1)), 3), "chunk_len must divide"),
        (lambda: ed.chunk(np.zeros((2, 10, 1)), 0), "chunk_len"),
        (lambda: ed.statistics(np.zeros((2, 8, 1)), 4, n_bands=3), "n_bands"),
        (lambda: ed.code_size_run(_data(), 0, 4), "code_size"),
        (lambda: ed.code_size_run(_data()[:3], 2, 4), "data must be"),
        (lambda: ed.code_size_run(_data(), 2, 4, ae_epochs=0), "ae_epochs"),
        (lambda: ed.end_to_end_run(_data(), 2, 5), "chunk_len must divide"),
        (lambda: ed.fit_classifier(np.zeros((2, 3)), [0, 1], np.zeros((2, 3, 1)), [0, 1]),
         "features_train"),
        (lambda: ed.compare_inputs(_data(), (None, None), 4, code_size=2, repeats=0),
         "repeats"),
        (lambda: ed.mean_std([]), "values"),
        (lambda: ed.wins([1.0], [1.0, 2.0]), "equal length"),
        (lambda: ed.wins([1.0], [1.0], margin=2.0), "margin"),
        (lambda: ed.reconstruction_figure(None, np.zeros((2, 8, 1)), 4, channel=1), "channel"),
    ],
)
def test_invalid_arguments_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_type_errors():
    with pytest.raises(TypeError, match="chunk_len"):
        ed.chunk(np.zeros((2, 8, 1)), 4.0)
    with pytest.raises(TypeError, match="seed"):
        ed.code_size_run(_data(), 2, 4, seed="a")
