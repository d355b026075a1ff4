import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import bptt
from course_lib.data import marker_task
from course_lib.lessons import why_long


def test_loglog_slope_recovers_powers():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    assert why_long.loglog_slope(x, 3 * x) == pytest.approx(1.0)
    assert why_long.loglog_slope(x, x**2) == pytest.approx(2.0)


def test_lstm_model_maps_sequences_to_one_probability_and_ignores_T_in_its_weights():
    short, long = bptt.lstm_model(10, 2, 4), bptt.lstm_model(500, 2, 4)
    assert short.output_shape == (None, 1)
    assert short.count_params() == long.count_params() == 4 * 4 * (2 + 4 + 1) + 4 + 1
    out = short(np.zeros((3, 10, 2), dtype="float32")).numpy()
    assert ((out > 0) & (out < 1)).all()


def test_gradient_by_lag_matches_a_finite_difference():
    keras.utils.set_random_seed(3)
    x, y, _ = marker_task(4, 12, seed=3)
    x = x.astype("float64")
    model = bptt.lstm_model(12, 2, 3)
    norms = bptt.gradient_by_lag(model, x, y)
    assert norms.shape == (12,)
    # lag 0 of sequence 0, feature 0, by a central difference of that sequence's own loss
    def loss0(x0):
        p = float(model(x0[None].astype("float32")).numpy()[0, 0])
        return -(y[0] * np.log(p) + (1 - y[0]) * np.log(1 - p))
    eps = 1e-2
    grads = np.zeros((12, 2))
    for t in range(12):
        for f in range(2):
            up, down = x[0].copy(), x[0].copy()
            up[t, f] += eps
            down[t, f] -= eps
            grads[t, f] = (loss0(up) - loss0(down)) / (2 * eps)
    with tf.GradientTape() as tape:
        xt = tf.constant(x[:1], dtype=tf.float32)
        tape.watch(xt)
        loss = keras.losses.binary_crossentropy(tf.constant([[float(y[0])]]), model(xt))
    exact = tape.gradient(loss, xt).numpy()[0]
    np.testing.assert_allclose(exact, grads, rtol=5e-2, atol=1e-4)
    # the probe averages each row's norm over the batch, index reversed to a lag
    per_row = []
    for i in range(4):
        with tf.GradientTape() as tape:
            xi = tf.constant(x[i:i + 1], dtype=tf.float32)
            tape.watch(xi)
            loss = keras.losses.binary_crossentropy(tf.constant([[float(y[i])]]), model(xi))
        per_row.append(np.linalg.norm(tape.gradient(loss, xi).numpy()[0], axis=-1))
    np.testing.assert_allclose(norms, np.mean(per_row, axis=0)[::-1], rtol=1e-4)


def test_gradient_norms_fade_with_lag_and_repeat_with_the_seed():
    a = bptt.input_gradient_norms(120, units=8, batch=4, seed=1)
    b = bptt.input_gradient_norms(120, units=8, batch=4, seed=1)
    assert a.shape == (120,) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert a[100] < 1e-3 * a[:10].max()


def test_step_cost_runs_in_a_fresh_process_and_reports_memory():
    (cost,) = why_long.measure_step_cost([16], batch=4, steps=1, units=4)
    assert cost.seq_len == 16 and cost.seconds_per_step > 0
    assert cost.peak_rss_mb >= cost.baseline_rss_mb > 50  # TensorFlow alone is far above 50 MB


def test_step_cost_memory_is_the_workers_own_not_its_parents(monkeypatch):
    # Linux carries ru_maxrss over exec: a parent that once held a lot must not leak into it
    pytest.importorskip("psutil")
    ballast = np.ones(600 * 2**20 // 8)  # 600 MB held by this (parent) process
    (cost,) = why_long.measure_step_cost([16], batch=4, steps=1, units=4)
    assert cost.peak_rss_mb < cost.baseline_rss_mb + 400, (ballast.size, cost)


def test_fade_ratio_and_fade_by_seed():
    assert why_long.fade_ratio([2.0, 4.0, 1.0, 0.5], 3) == pytest.approx(0.125)
    fades = why_long.fade_by_seed(20, 15, 2, units=4, batch=4)
    # a notebook's SEED moves the probe's seeds: seed 1 alone is the second run above
    shifted = why_long.fade_by_seed(20, 15, 1, units=4, batch=4, first_seed=1)
    assert shifted["short"] == fades["short"][1:] and shifted["long"] == fades["long"][1:]
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        why_long.fade_by_seed(20, 15, 1, first_seed=-1)
    assert set(fades) == {"short", "long"} and len(fades["short"]) == len(fades["long"]) == 2
    assert all(0 <= r < 1 for r in fades["short"] + fades["long"])


def test_horizon_report_returns_a_figure_and_numbers():
    fig, result = why_long.horizon_report(8, units=4, batch=4)
    assert set(result) == {"seq_len", "far_lag", "far_ratio", "zero_lags"}
    assert fig.axes[0].get_title().startswith("T = 8")


def test_check_lag_probe_accepts_the_right_probe_and_rejects_wrong_ones():
    def right(model, x, y, lag):
        return bptt.gradient_by_lag(model, x, y)[lag]

    def off_by_one(model, x, y, lag):
        return bptt.gradient_by_lag(model, x, y)[max(lag - 1, 0) if lag else 1]

    def crashes(model, x, y, lag):
        raise RuntimeError("not written yet")

    assert why_long.check_lag_probe(right)
    assert not why_long.check_lag_probe(off_by_one)
    assert not why_long.check_lag_probe(crashes)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: why_long.loglog_slope([1, 2], [1]), ValueError, "same length"),
        (lambda: why_long.loglog_slope([1, -2], [1, 2]), ValueError, "positive"),
        (lambda: why_long.measure_step_cost([]), ValueError, "at least one length"),
        (lambda: why_long.measure_step_cost("100"), TypeError, "sequence of ints"),
        (lambda: why_long.measure_step_cost([0]), ValueError, "seq_lengths"),
        (lambda: why_long.measure_step_cost([10], batch=1), ValueError, "batch must be >= 2"),
        (lambda: why_long.measure_step_cost([10], steps=0), ValueError, "steps must be >= 1"),
        (lambda: bptt.input_gradient_norms(1), ValueError, "seq_len must be >= 2"),
        (lambda: bptt.input_gradient_norms(10, units=0), ValueError, "units must be >= 1"),
        (lambda: bptt.lstm_model(10, 0, 4), ValueError, "n_features must be >= 1"),
        (lambda: bptt.gradient_by_lag(None, np.zeros((2, 5)), [0, 1]), ValueError, "batch, T"),
        (lambda: bptt.gradient_by_lag(None, np.zeros((2, 5, 1)), [0]), ValueError, "one label"),
        (lambda: why_long.fade_ratio([1.0], 1), ValueError, "at least 2"),
        (lambda: why_long.fade_ratio([1.0, 2.0], 2), ValueError, "lag must be >= 1 and <= 1"),
        (lambda: why_long.fade_ratio([0.0, 0.0], 1), ValueError, "positive value"),
        (lambda: why_long.fade_by_seed(10, 10, 2), ValueError, "lag must be >= 1 and <= 9"),
        (lambda: why_long.fade_by_seed(10, 5, 0), ValueError, "seeds must be >= 1"),
        (lambda: why_long.check_lag_probe(3), TypeError, "probe must be a function"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
