"""Tests for course_lib.lessons.as_is (notebook 02): the saved model, training, projections."""

from __future__ import annotations

import keras
import matplotlib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.lessons import as_is

matplotlib.use("Agg")
SETTINGS = settings(max_examples=40, deadline=None)
TINY = {"n_samples": 16, "epochs": 2, "units": 4, "batch_size": 8}


def fake_results(accs, secs, lengths=(10, 100, 1000), n_train=100):
    return [{"seq_len": t, "test_acc": a, "sec_per_epoch": s, "n_train": n_train}
            for t, a, s in zip(lengths, accs, secs, strict=True)]


# ----- the saved model and training run -----


@pytest.mark.parametrize(("seq_len", "units"), [(5, 3), (40, 8)])
def test_as_is_classifier_shape_and_parameters_do_not_depend_on_length(seq_len, units):
    model = as_is.as_is_classifier(seq_len, 2, units)
    assert tuple(model(keras.ops.zeros((4, seq_len, 2))).shape) == (4, 1)
    assert model.count_params() == as_is.lstm_param_count(2, units) + units + 1
    lstm = model.layers[0]
    assert (lstm.activation.__name__, lstm.recurrent_activation.__name__) == ("tanh", "sigmoid")
    assert lstm.unroll is False and lstm.recurrent_dropout == 0


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0, 2, 4), ValueError, "seq_len must be >= 1"),
    ((5, 0, 4), ValueError, "n_features must be >= 1"),
    ((5, 2, 2.5), TypeError, "units must be an int"),
])
def test_as_is_classifier_validates(args, error, match):
    with pytest.raises(error, match=match):
        as_is.as_is_classifier(*args)


def test_epoch_timer_records_one_positive_time_per_epoch():
    model = as_is.as_is_classifier(3, 2, 2)
    timer = as_is.EpochTimer()
    model.fit(keras.ops.zeros((4, 3, 2)), keras.ops.zeros((4, 1)), epochs=3, verbose=0,
              callbacks=[timer])
    assert len(timer.seconds) == 3 and all(s > 0 for s in timer.seconds)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"seq_len": 0}, ValueError, "seq_len must be >= 1"),
    ({"n_samples": 1}, ValueError, "n_samples must be >= 2"),
    ({"epochs": 0}, ValueError, "epochs must be >= 1"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ({"units": 2.5}, TypeError, "units must be an int"),
    ({"seed": -1}, ValueError, "seed must be a non-negative int"),
])
def test_train_as_is_validates(kwargs, error, match):
    with pytest.raises(error, match=match):
        as_is.train_as_is(**{"seq_len": 4, **TINY, "seed": 0, **kwargs})


def test_train_as_is_returns_a_finite_row_and_is_deterministic():
    first = as_is.train_as_is(8, seed=3, **TINY)
    assert first["seq_len"] == 8 and first["n_train"] == 12 and first["epochs"] == 2
    assert 0.0 <= first["test_acc"] <= 1.0 and 0.0 <= first["train_acc"] <= 1.0
    assert first["sec_per_epoch"] > 0 and first["first_epoch_sec"] > 0
    again = as_is.train_as_is(8, seed=3, **TINY)
    assert (again["test_acc"], again["train_acc"]) == (first["test_acc"], first["train_acc"])


# ----- projections -----


@SETTINGS
@given(sec=st.floats(1e-3, 1e3), n=st.integers(1, 10_000), k=st.integers(1, 20),
       epochs=st.integers(1, 100))
def test_projected_hours_is_linear_in_samples_and_epochs(sec, n, k, epochs):
    base = as_is.projected_hours(sec, n, n, 1)
    assert base == pytest.approx(sec / 3600)
    assert as_is.projected_hours(sec, n, k * n, epochs) == pytest.approx(base * k * epochs)


@pytest.mark.parametrize(("args", "error", "match"), [
    ((0.0, 10, 10, 1), ValueError, "sec_per_epoch must be a finite number > 0"),
    ((float("nan"), 10, 10, 1), ValueError, "sec_per_epoch must be a finite number > 0"),
    (("1", 10, 10, 1), TypeError, "sec_per_epoch must be a number"),
    ((1.0, 0, 10, 1), ValueError, "n_measured must be >= 1"),
    ((1.0, 10, 0, 1), ValueError, "n_target must be >= 1"),
    ((1.0, 10, 10, 0), ValueError, "epochs must be >= 1"),
])
def test_projected_hours_validates(args, error, match):
    with pytest.raises(error, match=match):
        as_is.projected_hours(*args)


def test_practical_limit_picks_the_longest_length_that_is_learned_and_affordable():
    # 100 samples measured -> 3600 target = x36; 1 epoch: hours = sec_per_epoch / 100
    results = fake_results((1.0, 0.95, 0.5), (10.0, 100.0, 1000.0))
    limit = as_is.practical_limit(results, n_target=3600, epochs_target=1, budget_hours=5.0)
    assert limit["hours"] == pytest.approx({10: 0.1, 100: 1.0, 1000: 10.0})
    assert limit["longest_learned"] == 100
    assert limit["longest_affordable"] == 100
    assert limit["practical"] == 100
    strict = as_is.practical_limit(results, n_target=3600, epochs_target=1, budget_hours=0.5,
                                   min_accuracy=0.99)
    assert (strict["longest_learned"], strict["longest_affordable"], strict["practical"]) == (
        10, 10, 10)
    nothing = as_is.practical_limit(results, n_target=3600, epochs_target=1, budget_hours=0.01)
    assert nothing["longest_affordable"] == 0 and nothing["practical"] == 0


def test_practical_limit_validates():
    good = fake_results((1.0, 1.0, 1.0), (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="results must be a non-empty list"):
        as_is.practical_limit([], n_target=1, epochs_target=1, budget_hours=1)
    with pytest.raises(ValueError, match=r"results\[0\] lacks \['n_train'\]"):
        as_is.practical_limit([{"seq_len": 1, "test_acc": 1, "sec_per_epoch": 1}],
                              n_target=1, epochs_target=1, budget_hours=1)
    with pytest.raises(ValueError, match="budget_hours must be > 0"):
        as_is.practical_limit(good, n_target=1, epochs_target=1, budget_hours=0)
    with pytest.raises(TypeError, match="budget_hours must be a number"):
        as_is.practical_limit(good, n_target=1, epochs_target=1, budget_hours="1")
    with pytest.raises(ValueError, match="min_accuracy must be in"):
        as_is.practical_limit(good, n_target=1, epochs_target=1, budget_hours=1, min_accuracy=2)
    with pytest.raises(ValueError, match="n_target must be >= 1"):
        as_is.practical_limit(good, n_target=0, epochs_target=1, budget_hours=1)


def test_as_is_figure_has_both_axes_and_the_extra_run():
    results = fake_results((1.0, 0.7, 0.5), (0.1, 0.5, 2.0))
    extra = {"seq_len": 1000, "test_acc": 0.6, "n_train": 400}
    fig, ax = as_is.as_is_figure(results, extra=extra)
    assert list(ax.lines[0].get_xdata()) == [10, 100, 1000]
    assert list(ax.lines[1].get_ydata()) == [0.6]
    assert ax.lines[1].get_label() == "accuracy, 400 training sequences"
    assert list(ax.right.lines[0].get_ydata()) == [0.1, 0.5, 2.0]
    assert ax.right.get_ylabel() == "seconds per epoch"
    with pytest.raises(ValueError, match="results must be a non-empty"):
        as_is.as_is_figure([])
    matplotlib.pyplot.close(fig)


# ----- exercises -----


def test_lstm_param_count_matches_keras():
    for n_inputs, units in [(1, 1), (2, 16), (16, 16), (7, 3)]:
        layer = keras.layers.LSTM(units)
        layer.build((None, 5, n_inputs))
        assert layer.count_params() == as_is.lstm_param_count(n_inputs, units)
    with pytest.raises(ValueError, match="units must be >= 1"):
        as_is.lstm_param_count(2, 0)


def _stacked(seq_len, n_features, first_units=16):
    return keras.Sequential([keras.Input(shape=(seq_len, n_features)),
                             keras.layers.LSTM(first_units, return_sequences=True),
                             keras.layers.LSTM(16), keras.layers.Dense(1, activation="sigmoid")])


def test_check_stacked_model_accepts_the_solution_and_rejects_near_misses(capsys):
    assert as_is.check_stacked_model(_stacked) is True
    assert as_is.check_stacked_model(lambda t, f: _stacked(t, f, 8)) is False
    assert "parameters, expected" in capsys.readouterr().out
    # forgetting return_sequences=True fails when the model is built
    bad = lambda t, f: keras.Sequential([keras.Input(shape=(t, f)), keras.layers.LSTM(16),  # noqa: E731
                                         keras.layers.LSTM(16), keras.layers.Dense(1)])
    assert as_is.check_stacked_model(bad) is False
    assert as_is.check_stacked_model(None) is False


def test_ratio_bucket_edges_and_validation():
    assert [as_is.ratio_bucket(r) for r in (1.0, 1.99, 2.0, 5.0, 5.01, 40)] == [
        "under 2x", "under 2x", "2x to 5x", "2x to 5x", "over 5x", "over 5x"]
    with pytest.raises(ValueError, match="ratio must be a finite number > 0"):
        as_is.ratio_bucket(0)
    with pytest.raises(TypeError, match="ratio must be a number"):
        as_is.ratio_bucket("3")
