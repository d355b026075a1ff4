import numpy as np
import pytest

from course_lib import bptt


def test_loglog_slope_recovers_powers():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    assert bptt.loglog_slope(x, 3 * x) == pytest.approx(1.0)
    assert bptt.loglog_slope(x, x**2) == pytest.approx(2.0)


def test_gradient_norms_fade_with_lag_and_repeat_with_the_seed():
    a = bptt.input_gradient_norms(120, units=8, batch=4, seed=1)
    b = bptt.input_gradient_norms(120, units=8, batch=4, seed=1)
    assert a.shape == (120,)
    np.testing.assert_array_equal(a, b)
    assert a[100] < 1e-3 * a[:10].max()


def test_step_cost_runs_in_a_fresh_process_and_reports_memory():
    (cost,) = bptt.measure_step_cost([16], batch=4, steps=1, units=4)
    assert cost.seq_len == 16 and cost.seconds_per_step > 0
    assert cost.peak_rss_mb >= cost.baseline_rss_mb > 50  # TensorFlow alone is far above 50 MB


def test_marker_accuracy_learns_a_short_marker():
    result = bptt.marker_accuracy(5, n_samples=256, epochs=8, units=8, seed=0)
    assert result["test_accuracy"] > 0.9
    assert set(result) == {"seq_len", "train_accuracy", "test_accuracy", "seconds"}


def test_length_report_returns_a_figure_and_numbers():
    fig, result = bptt.length_report(8, n_samples=32, epochs=1, units=4)
    assert "gradient_ratio" in result and fig.axes[0].get_title().startswith("T = 8")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: bptt.loglog_slope([1, 2], [1]), ValueError, "same length"),
        (lambda: bptt.loglog_slope([1, -2], [1, 2]), ValueError, "positive"),
        (lambda: bptt.measure_step_cost([]), ValueError, "at least one length"),
        (lambda: bptt.measure_step_cost("100"), TypeError, "sequence of ints"),
        (lambda: bptt.measure_step_cost([0]), ValueError, "seq_lengths"),
        (lambda: bptt.measure_step_cost([10], batch=1), ValueError, "batch must be >= 2"),
        (lambda: bptt.measure_step_cost([10], steps=0), ValueError, "steps must be >= 1"),
        (lambda: bptt.input_gradient_norms(1), ValueError, "seq_len must be >= 2"),
        (lambda: bptt.marker_accuracy(10, n_samples=2), ValueError, "n_samples must be >= 4"),
        (lambda: bptt.marker_accuracy(10, epochs=0), ValueError, "epochs must be >= 1"),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
