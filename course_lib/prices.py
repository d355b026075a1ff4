"""Synthetic commodity prices and Q-value targets (seed 002, with its bugs fixed).

A price series is the sum of two sine waves with *different* periods whose
amplitudes are ``|cos(theta_t)|`` and ``|sin(theta_t)|`` for an angle ``theta_t``
that drifts slowly at random, plus Gaussian noise and a bias of 100. A model that
predicts where the price goes next has to tell which of the two waves dominates
right now -- information that lives in the recent past of the series.

The targets are Q-values of a two-action trading problem (see
:func:`q_value_targets`); the inputs are the last ``n_lags`` price changes (see
:func:`lagged_differences`). :func:`commodity_prices_seed_version` reproduces what
the original snippet actually computes (one wave, not two) so a notebook can show
the difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.data import DataInfo
from course_lib.validate import check_number, check_positive_int, check_seed

BUY, SELL = 0, 1
ACTIONS = ("buy", "sell")


def _angle_walk(rng: np.random.Generator, n: int, length: int, step: float) -> np.ndarray:
    """Return angles ``[n, length]``: uniform start in [-pi, pi), then steps ``step*U(-1, 1)``."""
    start = rng.uniform(-np.pi, np.pi, size=(n, 1))
    steps = step * rng.uniform(-1.0, 1.0, size=(n, length - 1))
    return np.concatenate([start, start + np.cumsum(steps, axis=1)], axis=1)


def commodity_prices(
    n_sequences: int,
    length: int,
    *,
    periods: tuple[float, float] = (500.0, 1300.0),
    noise_variance: float = 0.01,
    angle_step: float = 0.01,
    bias: float = 100.0,
    decimals: int | None = 2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Generate price series from two sine waves whose amplitudes drift slowly.

    ``price[t] = bias + a0[t] * sin(2 pi t / periods[0]) + a1[t] * sin(2 pi t / periods[1])
    + noise[t]`` with ``a0 = |cos(theta)|``, ``a1 = |sin(theta)|``, ``theta[0] ~ U(-pi, pi)``,
    ``theta[t] = theta[t-1] + angle_step * U(-1, 1)`` and ``noise ~ N(0, noise_variance)``
    (standard deviation ``sqrt(noise_variance)``). The finished price is rounded to
    ``decimals`` places, like a quote in cents; rounding comes last, on purpose, so it only
    adds a tiny quantisation error (variance ``10**(-2*decimals) / 12``).

    Args:
        n_sequences: number of independent series (>= 1).
        length: timesteps per series (>= 2).
        periods: the two waves' periods in timesteps; they must differ, be >= 2 and fit at
            least once into ``length`` (the frequencies are ``2 pi / period`` rad/step).
        noise_variance: variance of the Gaussian noise (>= 0); its std is the square root.
        angle_step: largest change of the amplitude angle per step, in radians (>= 0).
        bias: constant added so all prices are positive.
        decimals: round the price to this many decimals; ``None`` keeps full precision.
        seed: random seed.

    Returns:
        prices: float64 ``[n_sequences, length]``; amplitudes: float64
        ``[n_sequences, length, 2]`` (``a0``, ``a1``); info.
    """
    n_sequences = check_positive_int("n_sequences", n_sequences)
    length = check_positive_int("length", length, minimum=2)
    if not isinstance(periods, (tuple, list)) or len(periods) != 2:
        raise ValueError(f"periods must be a pair (period0, period1), got {periods!r}")
    p0, p1 = (check_number(f"periods[{i}]", p, 2.0, float(length)) for i, p in enumerate(periods))
    if p0 == p1:
        raise ValueError(
            f"periods must differ (equal periods add up to ONE wave), got {p0} and {p1}")
    noise_variance = check_number("noise_variance", noise_variance, 0.0, 100.0)
    angle_step = check_number("angle_step", angle_step, 0.0, np.pi)
    bias = check_number("bias", bias, -1e6, 1e6)
    if decimals is not None:
        decimals = check_positive_int("decimals", decimals, minimum=0, maximum=12)
    rng = np.random.default_rng(check_seed(seed))
    theta = _angle_walk(rng, n_sequences, length, angle_step)
    amplitudes = np.stack([np.abs(np.cos(theta)), np.abs(np.sin(theta))], axis=-1)
    t = np.arange(length)
    waves = np.stack([np.sin(2 * np.pi * t / p0), np.sin(2 * np.pi * t / p1)], axis=-1)
    noise = rng.normal(0.0, np.sqrt(noise_variance), size=(n_sequences, length))
    prices = bias + (amplitudes * waves).sum(axis=-1) + noise
    if decimals is not None:
        prices = np.round(prices, decimals)
    info = DataInfo(
        "commodity prices", n_sequences, length, 1, "regression", None,
        f"two sines (periods {p0:g} and {p1:g} steps) with drifting amplitudes "
        f"|cos|, |sin|, noise std {np.sqrt(noise_variance):.4g}, bias {bias:g}",
        {"periods": (p0, p1), "noise_variance": noise_variance, "noise_std":
         float(np.sqrt(noise_variance)), "angle_step": angle_step, "bias": bias,
         "decimals": decimals},
    )
    return prices, amplitudes, info


def commodity_prices_seed_version(
    n_sequences: int,
    length: int,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, DataInfo]:
    """Generate prices the way the original snippet computes them (for comparison only).

    The snippet's crash bugs are fixed (an undefined name, a list never appended to, an
    unbalanced bracket) but its modelling slips are kept: both waves use the same
    frequency 0.0002 rad/step (period about 31,416 steps), so ``-a0*sin + a1*sin`` is a
    single wave ``(a1 - a0) * sin(0.0002 t)``; the noise has std 0.01 (variance 1e-4,
    not the 0.01 the text states); the rounding to 2 decimals is applied to the noisy
    sum, so the noise is quantised to steps of 0.01.

    Args:
        n_sequences: number of series (>= 1).
        length: timesteps per series (>= 2).
        seed: random seed.

    Returns:
        prices: float64 ``[n_sequences, length]``; amplitudes ``[n_sequences, length, 2]``; info.
    """
    n_sequences = check_positive_int("n_sequences", n_sequences)
    length = check_positive_int("length", length, minimum=2)
    rng = np.random.default_rng(check_seed(seed))
    theta = _angle_walk(rng, n_sequences, length, 0.01)
    amplitudes = np.stack([np.abs(np.cos(theta)), np.abs(np.sin(theta))], axis=-1)
    wave = np.sin(0.0002 * np.arange(length))
    noise = rng.normal(0.0, 0.01, size=(n_sequences, length))
    prices = np.round(-amplitudes[..., 0] * wave + amplitudes[..., 1] * wave + 100 + noise, 2)
    info = DataInfo(
        "commodity prices (seed version)", n_sequences, length, 1, "regression", None,
        "one wave of period ~31,416 steps (both frequencies 0.0002), noise std 0.01",
        {"frequency": 0.0002, "noise_std": 0.01},
    )
    return prices, amplitudes, info


def _check_prices(prices: Any, min_length: int = 2) -> np.ndarray:
    prices = np.asarray(prices, dtype=np.float64)
    if prices.ndim != 2:
        raise ValueError(f"prices must be 2-D [sequences, timesteps], got shape {prices.shape}")
    if prices.shape[0] < 1 or prices.shape[1] < min_length:
        raise ValueError(
            f"prices must have >= 1 sequence and >= {min_length} timesteps, got {prices.shape}")
    if not np.all(np.isfinite(prices)):
        raise ValueError("prices must be finite (found NaN or inf)")
    return prices


def q_value_targets(prices: Any, gamma: float = 0.9) -> np.ndarray:
    """Compute the Q-values of buying or selling at each step, backwards in time.

    The trading problem: at step ``t`` the agent either buys (action 0) or sells
    (action 1) one unit and closes the position at ``t + 1``. The reward is the next price
    change ``d[t+1] = price[t+1] - price[t]`` for buy and ``-d[t+1]`` for sell. With
    discount ``gamma`` the Bellman equation

        ``Q[t, a] = r_a[t] + gamma * max(Q[t+1, buy], Q[t+1, sell])``

    is solved exactly from the end: the last step with a next price (``t = T-2``) has no
    future, so ``Q[T-2, a] = r_a[T-2]``. Since the two rewards are opposite,
    ``max Q[t+1] = |d[t+2]| + gamma * max Q[t+2]``: the targets are the next change (with
    sign) plus a discounted sum of future absolute changes.

    Args:
        prices: ``[sequences, T]`` price series, T >= 2.
        gamma: discount factor in [0, 1).

    Returns:
        float64 ``[sequences, T-1, 2]``: ``Q[:, t, 0]`` (buy) and ``Q[:, t, 1]`` (sell) for
        t = 0 .. T-2.
    """
    prices = _check_prices(prices)
    gamma = check_number("gamma", gamma, 0.0, 1.0)
    if gamma >= 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {gamma}")
    change = np.diff(prices, axis=1)  # change[:, t] = price[t+1] - price[t]
    rewards = np.stack([change, -change], axis=-1)
    q = np.empty_like(rewards)
    future = np.zeros(prices.shape[0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        q[:, t] = rewards[:, t] + gamma * future[:, None]
        future = q[:, t].max(axis=-1)
    return q


def lagged_differences(prices: Any, n_lags: int = 128) -> np.ndarray:
    """Build the model input: the last ``n_lags`` price changes at each step.

    ``x[:, j, k] = price[t - k] - price[t - k - 1]`` with ``t = n_lags + j``: feature 0 is
    the most recent change, feature ``n_lags - 1`` the oldest one.

    Args:
        prices: ``[sequences, T]`` price series with ``T > n_lags``.
        n_lags: number of past changes per step (>= 1).

    Returns:
        float32 ``[sequences, T - n_lags, n_lags]`` for steps t = n_lags .. T-1.
    """
    n_lags = check_positive_int("n_lags", n_lags)
    prices = _check_prices(prices, min_length=n_lags + 1)
    change = np.diff(prices, axis=1)  # change[:, i] belongs to step i + 1
    windows = np.lib.stride_tricks.sliding_window_view(change, n_lags, axis=1)
    return np.ascontiguousarray(windows[:, :, ::-1]).astype(np.float32)


def q_learning_data(
    prices: Any,
    n_lags: int = 128,
    gamma: float = 0.9,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair inputs and targets step by step: past ``n_lags`` changes -> Q-values of now.

    Only steps that have a full window of past changes AND a next price are kept, i.e.
    t = n_lags .. T-2, so a series of ``steps + n_lags + 1`` prices gives ``steps`` pairs.

    Args:
        prices: ``[sequences, T]`` with ``T >= n_lags + 2``.
        n_lags: past changes per step.
        gamma: discount of the Q-values.

    Returns:
        x: float32 ``[sequences, T - n_lags - 1, n_lags]``;
        y: float32 ``[sequences, T - n_lags - 1, 2]`` (buy, sell).
    """
    n_lags = check_positive_int("n_lags", n_lags)
    prices = _check_prices(prices, min_length=n_lags + 2)
    x = lagged_differences(prices, n_lags)[:, :-1]
    y = q_value_targets(prices, gamma)[:, n_lags:]
    return x, y.astype(np.float32)


def target_noise_share(
    n_sequences: int,
    length: int,
    *,
    noise_variance: float,
    gamma: float = 0.9,
    seed: int = 0,
    **kwargs: Any,
) -> float:
    """Return the share of the Q targets' variance that the price noise alone causes.

    The same prices are drawn twice, with and without noise (the angle walk is drawn
    first, so both share it); the share is ``var(Q_noisy - Q_clean) / var(Q_noisy)``.
    Near 1 the targets are mostly unpredictable noise; near 0 the waves dominate.

    Args:
        n_sequences, length: as in :func:`commodity_prices`.
        noise_variance: the noise variance to assess.
        gamma: discount of the Q-values.
        seed: random seed.
        **kwargs: other :func:`commodity_prices` arguments (periods, angle_step, ...).

    Returns:
        A float in [0, 1] (it can exceed 1 slightly when noise and signal anti-correlate).
    """
    noisy, _, _ = commodity_prices(n_sequences, length, noise_variance=noise_variance,
                                   seed=seed, **kwargs)
    clean, _, _ = commodity_prices(n_sequences, length, noise_variance=0.0, seed=seed, **kwargs)
    q_noisy, q_clean = q_value_targets(noisy, gamma), q_value_targets(clean, gamma)
    return float(np.var(q_noisy - q_clean) / np.var(q_noisy))


def plot_prices(
    prices: Any,
    amplitudes: Any,
    title: str,
    *,
    index: int = 0,
    steps: int | None = None,
):
    """Draw one price series above the two wave amplitudes that shape it; return the figure.

    Args:
        prices: ``[sequences, T]``; amplitudes: ``[sequences, T, 2]``.
        title: figure title.
        index: which sequence to draw.
        steps: draw only the first ``steps`` timesteps (None: all).
    """
    import matplotlib.pyplot as plt

    prices = _check_prices(prices)
    amplitudes = np.asarray(amplitudes, dtype=np.float64)
    if amplitudes.shape != prices.shape + (2,):
        raise ValueError(f"amplitudes must have shape {prices.shape + (2,)}, got "
                         f"{amplitudes.shape}")
    index = check_positive_int("index", index, minimum=0, maximum=prices.shape[0] - 1)
    steps = prices.shape[1] if steps is None else check_positive_int(
        "steps", steps, minimum=2, maximum=prices.shape[1])
    t = np.arange(steps)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.6), sharex=True,
                                      layout="constrained", height_ratios=(2, 1))
    top.plot(t, prices[index, :steps], color="black", lw=0.8)
    top.set_ylabel("price")
    top.grid(True, alpha=0.3)
    for k, label in enumerate(("a0 = |cos θ| (wave 0)", "a1 = |sin θ| (wave 1)")):
        bottom.plot(t, amplitudes[index, :steps, k], label=label,
                    color=("tab:blue", "tab:orange")[k], lw=1.2)
    bottom.set_ylim(0, 1.05)
    bottom.set_xlabel("timestep")
    bottom.set_ylabel("amplitude")
    bottom.legend(fontsize=8, loc="lower right")
    bottom.grid(True, alpha=0.3)
    fig.suptitle(title)
    return fig
