"""Tests for course_lib.lessons.more_ideas (notebook 08's plumbing)."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import models
from course_lib import techniques as tq
from course_lib.data import dna_sequences
from course_lib.lessons import more_ideas as ideas


def test_lstm_steps_reads_the_shortened_length_of_every_idea():
    assert ideas.lstm_steps(models.lstm_classifier(64, 3, 4)) == [64]
    assert ideas.lstm_steps(models.parallel_subsequences_classifier(64, 3, 8, 4)) == [8]
    assert ideas.lstm_steps(models.halves_bilstm_classifier(64, 3, 4)) == [32, 32]
    assert ideas.lstm_steps(models.split_bilstm_classifier(64, 3, 16, 4)) == [4]
    assert ideas.lstm_steps(models.conv_downsample_classifier(64, 3, 4, 4, 4)) == [16]
    assert ideas.lstm_steps(models.projection_classifier(64, 3, 16, 4, 4)) == [4]
    assert ideas.lstm_steps(models.hashed_tokens_classifier(32, 10, 4, 4)) == [32]


def test_lstm_steps_rejects_bad_models():
    with pytest.raises(TypeError, match="model"):
        ideas.lstm_steps("not a model")
    inputs = keras.Input(shape=(5,))
    dense = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="no LSTM"):
        ideas.lstm_steps(dense)
    with pytest.raises(ValueError, match="fixed"):
        ideas.lstm_steps(models.lstm_classifier(None, 2, 4))


def test_describe_reports_shapes_factor_and_weights(capsys):
    info = ideas.describe(models.conv_downsample_classifier(64, 4, 8, 4, 4), 64)
    assert info["input_shape"] == [None, 64, 4]
    assert info["lstm_input_shape"] == [None, 8, 4]
    assert info["lstm_steps"] == 8 and info["factor"] == 8
    assert info["params"] > 0
    assert "[batch, 8, 4]" in capsys.readouterr().out
    with pytest.raises(ValueError, match="seq_len"):
        ideas.describe(models.lstm_classifier(8, 1, 2), 0)


def test_train_returns_scores_times_and_lstm_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 12, 2)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    model = models.parallel_subsequences_classifier(12, 2, 3, 4)
    result = ideas.train(model, (x, y, x, y), epochs=2, seq_len=12, batch_size=8, label="p")
    assert result["name"] == "p" and result["lstm_steps"] == 4 and result["factor"] == 3
    assert 0.0 <= result["test_acc"] <= 1.0 and result["sec_per_epoch"] > 0
    assert result["train_sec"] >= result["first_epoch_sec"] and len(result["history"]) == 2
    with pytest.raises(ValueError, match="data"):
        ideas.train(model, (x, y), epochs=1, seq_len=12)
    with pytest.raises(ValueError, match="epochs"):
        ideas.train(model, (x, y, x, y), epochs=0, seq_len=12)


def test_kmer_codes_golden_values_and_errors():
    ids = np.array([[1, 1, 4, 4, 2, 3]])  # AA TT CG
    assert ideas.kmer_codes(ids, 2).tolist() == [[1, 16, 7]]
    assert ideas.kmer_codes(ids, 1).tolist() == [[1, 1, 4, 4, 2, 3]]
    with pytest.raises(ValueError, match="divisible by k"):
        ideas.kmer_codes(ids, 4)
    with pytest.raises(ValueError, match="bases 1..4"):
        ideas.kmer_codes(np.array([[0, 1]]), 1)
    with pytest.raises(ValueError, match="2-D integer"):
        ideas.kmer_codes(np.ones((2, 2, 1), dtype=int), 1)
    with pytest.raises(ValueError, match="k"):
        ideas.kmer_codes(ids, 0)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 4), n=st.integers(1, 6), seed=st.integers(0, 1000))
def test_kmer_codes_are_a_bijection_of_kmers(k, n, seed):
    ids = np.random.default_rng(seed).integers(1, 5, size=(3, k * n))
    codes = ideas.kmer_codes(ids, k)
    assert codes.shape == (3, n) and codes.min() >= 1 and codes.max() <= 4**k
    # Decoding gives the bases back: the code loses nothing.
    digits = ((codes[..., None] - 1) // 4 ** np.arange(k - 1, -1, -1)) % 4 + 1
    assert np.array_equal(digits.reshape(3, -1), ids)


def test_kmer_codes_of_generated_dna():
    x, _, _ = dna_sequences(8, 64, encoding="ids", seed=3)
    assert ideas.kmer_codes(x, 4).shape == (8, 16)


def test_bucket_collisions_counts_and_determinism():
    few = ideas.bucket_collisions(4, 8, seed=1)
    assert few["kmers"] == 256 and few["buckets_used"] <= 7
    assert few["shared"] == 256 and few["shared_fraction"] == 1.0
    many = ideas.bucket_collisions(2, 10_000, seed=1)
    assert many["kmers"] == 16 and 0 <= many["shared"] <= 16
    assert ideas.bucket_collisions(3, 50, seed=5) == ideas.bucket_collisions(3, 50, seed=5)
    with pytest.raises(ValueError, match="n_buckets"):
        ideas.bucket_collisions(2, 1)
    with pytest.raises(ValueError, match="k"):
        ideas.bucket_collisions(9, 10)


def _result(acc, sec, steps, factor):
    return {"test_acc": acc, "sec_per_epoch": sec, "lstm_steps": steps, "factor": factor}


def test_table_and_figure(capsys):
    results = {"as-is": _result(0.9, 2.0, 64, 1.0), "conv downsample": _result(0.8, 0.5, 8, 8.0)}
    text = ideas.table_text(results)
    assert "conv downsample" in text and "8x" in text and "0.800" in text
    assert text in capsys.readouterr().out
    fig, ax = ideas.comparison_figure(results)
    assert len(ax.collections) == 2 and ax.get_xlabel().startswith("training time")
    fig.clf()
    with pytest.raises(ValueError, match="non-empty"):
        ideas.table_text({})
    with pytest.raises(ValueError, match="lacks"):
        ideas.comparison_figure({"x": {"test_acc": 1.0}})


def test_hash_kmers_shape_range_and_determinism():
    x, _, _ = dna_sequences(6, 32, encoding="ids", seed=2)
    hashed = ideas.hash_kmers(x, 4, 16, seed=7)
    assert hashed.shape == (6, 8) and hashed.dtype == np.int32
    assert hashed.min() >= 1 and hashed.max() <= 15
    assert np.array_equal(hashed, ideas.hash_kmers(x, 4, 16, seed=7))
    # Equal k-mers always land in the same bucket.
    codes = ideas.kmer_codes(x, 4)
    for code in np.unique(codes):
        assert len(np.unique(hashed[codes == code])) == 1
    with pytest.raises(ValueError, match="n_buckets"):
        ideas.hash_kmers(x, 4, 1)


def test_n_splits_demo_trains_and_draws_cuts():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 16, 2)).astype("float32")
    y = (x[:, 0, 0] > 0).astype("int32")
    fig, result = ideas.n_splits_demo(4, data=(x, y, x, y), units=2, epochs=1, seed=0)
    assert result["n_splits"] == 4 and result["lstm_steps"] == 4 and result["factor"] == 4
    assert len(fig.axes[0].lines) == 1 + 3  # the trace and three cuts
    fig.clf()
    with pytest.raises(ValueError, match="n_splits"):
        ideas.n_splits_demo(3, data=(x, y, x, y), epochs=1)
    with pytest.raises(ValueError, match="data"):
        ideas.n_splits_demo(2, data=(x, y), epochs=1)


def test_n_splits_figure_plots_both_series():
    splits = {2: _result(0.9, 3.0, 32, 2.0), 8: _result(0.8, 1.0, 8, 8.0)}
    fig, ax = ideas.n_splits_figure(splits, 64)
    assert list(ax.lines[0].get_xdata()) == [2, 8]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2\n(32)", "8\n(8)"]
    assert len(fig.axes) == 2 and list(fig.axes[1].lines[0].get_ydata()) == [3.0, 1.0]
    fig.clf()
    with pytest.raises(ValueError, match="non-empty"):
        ideas.n_splits_figure({}, 64)
    with pytest.raises(ValueError, match="seq_len"):
        ideas.n_splits_figure(splits, 0)


def test_kmer_ids_is_the_unvalidated_core_of_kmer_codes():
    ids = np.random.default_rng(4).integers(1, 5, size=(3, 16))
    for k in (1, 2, 4, 8):
        assert np.array_equal(ideas.kmer_ids(ids, k), ideas.kmer_codes(ids, k))
    assert ideas.kmer_codes(ids, 8).dtype == np.int32


def test_bucket_use_linear_is_erratic_and_mixed_is_like_random():
    expected = ideas.expected_bucket_use(256, 1023)
    assert expected == pytest.approx(1023 * (1 - (1 - 1 / 1023) ** 256))
    assert ideas.expected_bucket_use(1, 10) == pytest.approx(1.0)
    linear = ideas.linear_bucket_use(256, 1024, range(100))
    mixed = ideas.mixed_bucket_use(256, 1024, range(100))
    assert linear.shape == mixed.shape == (100,)
    assert linear.min() < 0.5 * expected  # some seeds pile the ids into few buckets
    assert np.all(np.abs(mixed / expected - 1) < 0.08)
    assert ideas.linear_bucket_use(256, 1024, [42])[0] == linear[42]  # deterministic
    with pytest.raises(ValueError, match="seeds"):
        ideas.linear_bucket_use(4, 8, [])
    with pytest.raises(ValueError, match="seeds"):
        ideas.mixed_bucket_use(4, 8, [])
    with pytest.raises(ValueError, match="n_buckets"):
        ideas.linear_bucket_use(4, 1, [0])
    with pytest.raises(ValueError, match="n_ids"):
        ideas.expected_bucket_use(0, 8)


def test_check_side_by_side_accepts_the_reference_and_rejects_mistakes(capsys):
    def right(x, n):
        s, t, f = x.shape
        return x.reshape(s, n, t // n, f).transpose(0, 2, 1, 3).reshape(s, t // n, n * f)

    def no_transpose(x, n):
        s, t, f = x.shape
        return x.reshape(s, t // n, n * f)

    def crashes(x, n):
        raise RuntimeError("boom")

    assert ideas.check_side_by_side(right)
    assert ideas.check_side_by_side(tq.parallel_subsequences)
    assert not ideas.check_side_by_side(no_transpose)
    assert not ideas.check_side_by_side(crashes)
    assert "boom" in capsys.readouterr().out
    assert not ideas.check_side_by_side("not a function")
    with pytest.raises(ValueError, match="trials"):
        ideas.check_side_by_side(right, trials=0)


def test_repeat_summary_averages_runs():
    runs = {"a": [_result(0.8, 2.0, 8, 4.0), _result(0.6, 4.0, 8, 4.0)],
            "b": [_result(1.0, 1.0, 4, 8.0)]}
    summary = ideas.repeat_summary(runs)
    assert summary["a"]["test_acc"] == pytest.approx(0.7)
    assert summary["a"]["sec_per_epoch"] == pytest.approx(3.0)
    assert summary["a"]["acc_std"] == pytest.approx(0.1) and summary["a"]["accs"] == [0.8, 0.6]
    assert summary["b"]["lstm_steps"] == 4 and summary["b"]["acc_std"] == 0.0
    assert "a" in ideas.table_text(summary)
    with pytest.raises(ValueError, match="non-empty"):
        ideas.repeat_summary({"a": []})
    with pytest.raises(ValueError, match="lacks"):
        ideas.repeat_summary({"a": [{"test_acc": 1.0}]})


def test_saved_front_ends_shorten_as_promised():
    inputs = keras.Input(shape=(24, 3))
    assert tuple(models.side_by_side(inputs, 4).shape) == (None, 6, 12)
    assert tuple(models.halves_bilstm(inputs, 5).shape) == (None, 10)
    assert tuple(models.strided_conv(inputs, 4, 7).shape) == (None, 6, 7)
