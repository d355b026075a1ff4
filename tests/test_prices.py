"""Tests for course_lib.prices: the fixed seed-002 generator, Q-value targets and inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import prices


def test_shapes_dtypes_and_info():
    p, amp, info = prices.commodity_prices(3, 400, periods=(20.0, 50.0), seed=1)
    assert p.shape == (3, 400) and p.dtype == np.float64
    assert amp.shape == (3, 400, 2)
    assert info.n_samples == 3 and info.seq_len == 400
    assert info.extra["periods"] == (20.0, 50.0)
    assert info.extra["noise_std"] == pytest.approx(0.1)


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = prices.commodity_prices(2, 300, periods=(20, 70), seed=5)
    b = prices.commodity_prices(2, 300, periods=(20, 70), seed=5)
    c = prices.commodity_prices(2, 300, periods=(20, 70), seed=6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_amplitudes_are_abs_cos_and_abs_sin_of_a_slow_walk():
    _, amp, _ = prices.commodity_prices(4, 500, periods=(20, 70), angle_step=0.01, seed=2)
    np.testing.assert_allclose(amp[..., 0] ** 2 + amp[..., 1] ** 2, 1.0, atol=1e-12)
    assert np.all(amp >= 0)
    # |d|cos|| <= |d theta| <= 0.01 per step
    assert np.max(np.abs(np.diff(amp, axis=1))) <= 0.01 + 1e-12


@pytest.mark.parametrize("variance", [0.01, 0.25])
def test_noise_std_is_the_square_root_of_the_variance(variance):
    kwargs = dict(periods=(20, 70), decimals=None, seed=3)
    noisy, _, _ = prices.commodity_prices(20, 2000, noise_variance=variance, **kwargs)
    clean, _, _ = prices.commodity_prices(20, 2000, noise_variance=0.0, **kwargs)
    noise = noisy - clean
    # the noise is drawn after the angle walk, so the clean part is identical
    assert noise.var() == pytest.approx(variance, rel=0.03)
    assert noise.std() == pytest.approx(np.sqrt(variance), rel=0.02)


def test_rounding_comes_last_and_decimals_none_keeps_precision():
    rounded, _, _ = prices.commodity_prices(2, 300, periods=(20, 70), decimals=2, seed=4)
    exact, _, _ = prices.commodity_prices(2, 300, periods=(20, 70), decimals=None, seed=4)
    np.testing.assert_allclose(rounded, np.round(exact, 2))
    assert np.max(np.abs(rounded - exact)) <= 0.005 + 1e-9
    assert not np.allclose(exact, np.round(exact, 2))


def test_the_two_frequencies_really_differ():
    # a fixed angle gives constant amplitudes: the spectrum must show both periods
    common = dict(periods=(25.0, 100.0), noise_variance=0.0, angle_step=0.0, decimals=None)
    p, amp, _ = prices.commodity_prices(1, 1000, seed=0, **common)
    assert min(amp[0, 0]) > 0.2  # both waves present with this seed
    spectrum = np.abs(np.fft.rfft(p[0] - p[0].mean()))
    assert set(np.argsort(spectrum)[-2:].tolist()) == {1000 // 25, 1000 // 100}
    ratio = spectrum[1000 // 25] / spectrum[1000 // 100]
    assert ratio == pytest.approx(amp[0, 0, 0] / amp[0, 0, 1], rel=1e-6)


def test_seed_version_is_one_slow_wave():
    p, amp, info = prices.commodity_prices_seed_version(2, 2000, seed=0)
    wave = np.sin(0.0002 * np.arange(2000))
    expected = 100 + (amp[..., 1] - amp[..., 0]) * wave
    assert np.max(np.abs(p - expected)) < 0.06  # only noise (std 0.01) and rounding remain
    np.testing.assert_allclose(p, np.round(p, 2))
    assert 2 * np.pi / info.extra["frequency"] > 2000  # period longer than the series


def test_q_targets_satisfy_the_bellman_equation_exactly():
    p, _, _ = prices.commodity_prices(3, 200, periods=(20, 70), seed=0)
    gamma = 0.8
    q = prices.q_value_targets(p, gamma)
    assert q.shape == (3, 199, 2)
    d = np.diff(p, axis=1)
    best_next = np.concatenate([q[:, 1:].max(axis=-1), np.zeros((3, 1))], axis=1)
    np.testing.assert_allclose(q[..., prices.BUY], d + gamma * best_next, atol=1e-12)
    np.testing.assert_allclose(q[..., prices.SELL], -d + gamma * best_next, atol=1e-12)
    np.testing.assert_allclose(q[:, -1], np.stack([d[:, -1], -d[:, -1]], -1))


def test_q_targets_with_gamma_zero_are_the_next_change():
    p = np.array([[1.0, 3.0, 2.0, 2.5]])
    q = prices.q_value_targets(p, 0.0)
    np.testing.assert_allclose(q[0], [[2.0, -2.0], [-1.0, 1.0], [0.5, -0.5]])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=30), st.floats(0.0, 0.99))
def test_q_closed_form_next_change_plus_discounted_abs_changes(values, gamma):
    p = np.asarray(values)[None]
    q = prices.q_value_targets(p, gamma)
    d = np.diff(p[0])
    for t in range(len(d)):
        future = sum(gamma ** (k - t) * abs(d[k]) for k in range(t + 1, len(d)))
        assert q[0, t, 0] == pytest.approx(d[t] + future, abs=1e-6)


def test_lagged_differences_shape_and_values():
    p = np.array([[0.0, 1.0, 3.0, 6.0, 10.0, 15.0]])  # changes 1, 2, 3, 4, 5
    x = prices.lagged_differences(p, n_lags=3)
    assert x.shape == (1, 3, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], [[3, 2, 1], [4, 3, 2], [5, 4, 3]])  # newest first


def test_q_learning_data_pairs_each_step_with_its_own_future():
    p, _, _ = prices.commodity_prices(2, 60, periods=(7, 13), seed=9)
    x, y = prices.q_learning_data(p, n_lags=8, gamma=0.5)
    assert x.shape == (2, 51, 8) and y.shape == (2, 51, 2)
    t = 8 + 10  # pair j = 10 belongs to step t = n_lags + j
    assert x[1, 10, 0] == pytest.approx(p[1, t] - p[1, t - 1], abs=1e-5)
    q = prices.q_value_targets(p, 0.5)
    assert y[1, 10, 0] == pytest.approx(q[1, t, 0], abs=1e-5)


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda: prices.commodity_prices(0, 100, periods=(5, 9)), ValueError, "n_sequences"),
        (lambda: prices.commodity_prices(1, 1, periods=(5, 9)), ValueError, "length"),
        (lambda: prices.commodity_prices(1.5, 100, periods=(5, 9)), TypeError, "n_sequences"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 5)), ValueError, "periods"),
        (lambda: prices.commodity_prices(1, 100, periods=(5,)), ValueError, "periods"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 500)), ValueError, "periods[1]"),
        (lambda: prices.commodity_prices(1, 100, periods=(1, 9)), ValueError, "periods[0]"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 9), noise_variance=-1),
         ValueError, "noise_variance"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 9), noise_variance="0.1"),
         TypeError, "noise_variance"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 9), angle_step=-0.1),
         ValueError, "angle_step"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 9), decimals=-1),
         ValueError, "decimals"),
        (lambda: prices.commodity_prices(1, 100, periods=(5, 9), seed=-3), ValueError, "seed"),
        (lambda: prices.commodity_prices_seed_version(1, 100, seed="a"), ValueError, "seed"),
        (lambda: prices.q_value_targets([[1.0, 2.0]], gamma=1.0), ValueError, "gamma"),
        (lambda: prices.q_value_targets([[1.0, 2.0]], gamma=-0.1), ValueError, "gamma"),
        (lambda: prices.q_value_targets([1.0, 2.0, 3.0]), ValueError, "prices"),
        (lambda: prices.q_value_targets([[1.0, np.nan]]), ValueError, "prices"),
        (lambda: prices.lagged_differences([[1.0, 2.0, 3.0]], n_lags=3), ValueError, "prices"),
        (lambda: prices.lagged_differences([[1.0, 2.0, 3.0]], n_lags=0), ValueError, "n_lags"),
        (lambda: prices.q_learning_data([[1.0, 2.0, 3.0]], n_lags=2), ValueError, "prices"),
    ],
)
def test_bad_arguments_name_the_argument(call, error, name):
    with pytest.raises(error, match=name.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_target_noise_share_grows_with_the_noise():
    kw = dict(periods=(20.0, 50.0), seed=0)
    low = prices.target_noise_share(4, 600, noise_variance=1e-6, **kw)
    high = prices.target_noise_share(4, 600, noise_variance=1.0, **kw)
    assert 0 <= low < 0.05 < 0.9 < high
    assert prices.target_noise_share(4, 600, noise_variance=0.0, **kw) == 0.0


def test_plot_prices_draws_price_and_both_amplitudes():
    import matplotlib

    matplotlib.use("Agg")
    p, amp, _ = prices.commodity_prices(2, 300, periods=(20, 70), seed=0)
    fig = prices.plot_prices(p, amp, "t", index=1, steps=100)
    top, bottom = fig.axes
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), p[1, :100])
    assert len(bottom.get_lines()) == 2
    with pytest.raises(ValueError, match="amplitudes"):
        prices.plot_prices(p, amp[:, :10], "t")
    with pytest.raises(ValueError, match="index"):
        prices.plot_prices(p, amp, "t", index=2)
