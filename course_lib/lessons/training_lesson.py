"""Notebook 10's plumbing: the parameter table, the seed band, an exercise's reference.

The training itself (model, chunk loop, schedule) is written out in the notebook and kept in
:mod:`course_lib.experiments`; this module only repeats those runs over seeds and condenses
them into the numbers the notebook's claims read. :func:`run_seed` takes ONE plain dict and
returns plain data, so a seed loop is ``list(map(run_seed, configs))`` and can be handed to
any map that ships a function and its arguments to workers (e.g. Dask's).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_lib import experiments, prices
from course_lib.validate import check_positive_int

# the runs every seed of the band repeats: name -> Experiment arguments (filled per config)
BAND_RUNS = ("sgd", "rmsprop", "adam", "adam_clip", "sgd_schedule", "combination")
CONFIG_KEYS = ("seed", "n_sequences", "steps", "n_lags", "periods", "noise_variance",
               "angle_step", "decimals", "gamma", "units", "layer_noise", "epochs",
               "learning_rate", "schedule", "patience", "clipnorm")


def k_step_pieces(length: int, k: int) -> list[tuple[int, int]]:
    """Cut ``range(length)`` into pieces of ``k`` steps, in order; the last may be shorter.

    The reference for notebook 10's exercise (the notebook's own chunking fixes the NUMBER
    of chunks instead, see :func:`course_lib.experiments.chunk_bounds`).

    Returns:
        ``[(start, stop), ...]`` covering ``0 .. length``.
    """
    length = check_positive_int("length", length)
    k = check_positive_int("k", k)
    return [(a, min(a + k, length)) for a in range(0, length, k)]


def check_pieces_function(fn: Any, *, trials: int = 200, seed: int = 0) -> bool:
    """Return True if ``fn(length, k)`` equals :func:`k_step_pieces` on random inputs.

    Any exception raised by ``fn`` counts as a wrong answer (it is printed).
    """
    if not callable(fn):
        return False
    rng = np.random.default_rng(seed)
    for _ in range(check_positive_int("trials", trials)):
        length = int(rng.integers(1, 400))
        k = int(rng.integers(1, length + 5))
        try:
            got = [tuple(int(v) for v in piece) for piece in fn(length, k)]
        except Exception as error:  # noqa: BLE001 - a student's bug is an answer, not a crash
            print(f"your function raised {type(error).__name__}: {error} for length={length}, "
                  f"k={k}")
            return False
        if got != k_step_pieces(length, k):
            print(f"for length={length}, k={k} expected {k_step_pieces(length, k)[:4]}..., "
                  f"got {got[:4]}...")
            return False
    return True


def _check_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping, got {type(config).__name__}")
    missing = [k for k in CONFIG_KEYS if k not in config]
    if missing:
        raise ValueError(f"config lacks {missing}; it needs {list(CONFIG_KEYS)}")
    check_positive_int("config['seed']", config["seed"], minimum=0)
    check_positive_int("config['epochs']", config["epochs"])
    return dict(config)


def make_data(config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Generate notebook 10's training data for ``config`` (prices -> lagged changes, Q).

    Returns:
        x ``[n_sequences, steps, n_lags]`` and y ``[n_sequences, steps, 2]`` (float32).
    """
    c = _check_config(config)
    series, _, _ = prices.commodity_prices(
        c["n_sequences"], c["steps"] + c["n_lags"] + 1, periods=c["periods"],
        noise_variance=c["noise_variance"], angle_step=c["angle_step"],
        decimals=c["decimals"], seed=c["seed"])
    return prices.q_learning_data(series, n_lags=c["n_lags"], gamma=c["gamma"])


def band_experiments(config: Mapping[str, Any]) -> dict[str, experiments.Experiment]:
    """Return the runs of :data:`BAND_RUNS` for ``config`` as Experiments, by name."""
    c = _check_config(config)
    lr, sched, clip = c["learning_rate"], tuple(c["schedule"]), ("clipnorm", c["clipnorm"])
    kw = {"patience": c["patience"]}
    return {
        "sgd": experiments.Experiment("SGD", "sgd", lr, **kw),
        "rmsprop": experiments.Experiment("RMSprop", "rmsprop", lr, **kw),
        "adam": experiments.Experiment("Adam", "adam", lr, **kw),
        "adam_clip": experiments.Experiment(f"Adam + clipnorm {c['clipnorm']:g}", "adam", lr,
                                            clip=clip, **kw),
        "sgd_schedule": experiments.Experiment("SGD + schedule", "sgd", lr, schedule=sched,
                                               **kw),
        "combination": experiments.Experiment(f"Adam + clipnorm {c['clipnorm']:g} + schedule",
                                              "adam", lr, clip=clip, schedule=sched, **kw),
    }


def run_seed(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train every run of :data:`BAND_RUNS` at ``config['seed']`` (data, weights, noise).

    Args:
        config: a dict with the keys of :data:`CONFIG_KEYS` (the notebook's parameters).

    Returns:
        :func:`summarize` of the runs (plain floats), plus ``"seed"``.
    """
    c = _check_config(config)
    x, y = make_data(c)
    model_kw = {"dense_units": c["units"], "lstm_units": c["units"],
                "noise_std": c["layer_noise"]}
    runs = {name: experiments.run_experiment(e, x, y, epochs=c["epochs"], seed=c["seed"],
                                             model_kwargs=model_kw, quiet=True,
                                             record_gradients=name == "adam")
            for name, e in band_experiments(c).items()}
    return {"seed": c["seed"], **summarize(runs, c["clipnorm"])}


def summarize(runs: Mapping[str, experiments.RunResult], clipnorm: float) -> dict[str, float]:
    """Condense one seed's runs into the numbers notebook 10's claims compare.

    Args:
        runs: RunResults by the names of :data:`BAND_RUNS`; ``runs["adam"]`` must have been
            trained with ``record_gradients=True``.
        clipnorm: the main clipping threshold.

    Returns:
        final losses (``final_<name>``), Adam's largest spike after the start-up epochs with
        and without clipping, the schedule's loss vs full-length SGD at an early epoch, at
        equal seconds and at equal updates, and the share of Adam's updates that a
        ``clipnorm`` of 1.0 (the seed's) and of ``clipnorm`` would rescale.
    """
    missing = [k for k in BAND_RUNS if k not in runs]
    if missing:
        raise ValueError(f"runs lacks {missing}")
    adam, sgd, sched = runs["adam"], runs["sgd"], runs["sgd_schedule"]
    if not adam.grad_norm_max:
        raise ValueError("runs['adam'] must be trained with record_gradients=True")
    epochs = len(sgd.loss) - 1
    warmup, early = max(1, epochs // 10), max(1, epochs // 5)
    t_early = min(sgd.seconds[min(early, len(sgd.seconds) - 1)],
                  sched.seconds[min(early, len(sched.seconds) - 1)])
    out = {f"final_{name}": runs[name].final_loss for name in BAND_RUNS}
    out.update({
        "spike_adam": adam.spike_after(warmup),
        "spike_adam_clip": runs["adam_clip"].spike_after(warmup),
        "early_sgd": sgd.loss_at("epoch", early),
        "early_sgd_schedule": sched.loss_at("epoch", early),
        "seconds_sgd": sgd.loss_at("seconds", t_early),
        "seconds_sgd_schedule": sched.loss_at("seconds", t_early),
        "updates_sgd": sgd.final_loss,
        "updates_sgd_schedule": sched.loss_at("updates", sgd.updates[-1]),
        "clipped_share_1": float(np.mean(np.array(adam.grad_norm_max) > 1.0)),
        "clipped_share_main": float(np.mean(np.array(adam.grad_norm_max) > clipnorm)),
    })
    return {k: float(v) for k, v in out.items()}


def band_configs(base: Mapping[str, Any], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Return one config per seed: ``base`` with ``seed`` replaced."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    return [_check_config({**base, "seed": s}) for s in seeds]


def held_in(summaries: Sequence[Mapping[str, float]],
            test: Callable[[Mapping[str, float]], bool]) -> tuple[int, int]:
    """Return ``(k, n)``: in how many of the ``n`` seeds' summaries ``test`` is true."""
    if not summaries:
        raise ValueError("summaries must not be empty")
    return sum(bool(test(s)) for s in summaries), len(summaries)


def spread(summaries: Sequence[Mapping[str, float]], key: str) -> tuple[float, float]:
    """Return ``(mean, std)`` of ``key`` over the seeds (std 0 for one seed; inf if any is)."""
    if not summaries:
        raise ValueError("summaries must not be empty")
    values = [float(s[key]) for s in summaries]
    if not all(math.isfinite(v) for v in values):
        return math.inf, math.inf
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def print_band(summaries: Sequence[Mapping[str, float]], keys: Sequence[str]) -> None:
    """Print ``key: mean ± std (min .. max)`` over the seeds for each of ``keys``."""
    print(f"{len(summaries)} seeds: {[int(s['seed']) for s in summaries]}")
    for key in keys:
        mean, std = spread(summaries, key)
        values = [s[key] for s in summaries]
        print(f"  {key:<24} {mean:8.4f} ± {std:.4f}   ({min(values):.4f} .. {max(values):.4f})")
