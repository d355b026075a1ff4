"""Tests for course_lib.lessons.training_lesson (notebook 10's seed band and exercise)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import experiments as ex
from course_lib.lessons import training_lesson as tl

TINY = {"seed": 3, "n_sequences": 3, "steps": 24, "n_lags": 4, "periods": (6.0, 10.0),
        "noise_variance": 1e-4, "angle_step": 0.01, "decimals": 2, "gamma": 0.9, "units": 4,
        "layer_noise": 0.05, "epochs": 3, "learning_rate": 0.01, "schedule": (4, 2, 1),
        "patience": 1, "clipnorm": 0.1}


# ------------------------------------------------------------------------------ parameters


# ------------------------------------------------------------------------------ exercise


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 300), st.integers(1, 320))
def test_k_step_pieces_cover_in_order_with_k_steps(length, k):
    pieces = tl.k_step_pieces(length, k)
    assert pieces[0][0] == 0 and pieces[-1][1] == length
    assert all(b - a == k for a, b in pieces[:-1]) and 0 < pieces[-1][1] - pieces[-1][0] <= k
    assert all(pieces[i][1] == pieces[i + 1][0] for i in range(len(pieces) - 1))
    assert len(pieces) == math.ceil(length / k)


@pytest.mark.parametrize("length, k, error, name", [
    (0, 1, ValueError, "length"), (5, 0, ValueError, "k"), (5, 2.0, TypeError, "k")])
def test_k_step_pieces_bad_arguments(length, k, error, name):
    with pytest.raises(error, match=name):
        tl.k_step_pieces(length, k)


def test_check_pieces_function_accepts_a_right_answer_and_rejects_wrong_ones(capsys):
    def right(length, k):
        return [(a, min(a + k, length)) for a in range(0, length, k)]

    def drops_the_tail(length, k):
        return [(a, a + k) for a in range(0, length - k + 1, k)]

    def crashes(length, k):
        raise RuntimeError("oops")

    assert tl.check_pieces_function(right)
    assert not tl.check_pieces_function(drops_the_tail)
    assert not tl.check_pieces_function(crashes)
    assert "RuntimeError" in capsys.readouterr().out
    assert not tl.check_pieces_function("not a function")


# ------------------------------------------------------------------------------ seed band


def test_make_data_shapes_follow_the_config():
    x, y = tl.make_data(TINY)
    assert x.shape == (3, 24, 4) and y.shape == (3, 24, 2)
    x2, _ = tl.make_data({**TINY, "seed": 4})
    assert not np.allclose(x, x2)


@pytest.mark.parametrize("config, error, name", [
    ({k: v for k, v in TINY.items() if k != "units"}, ValueError, "units"),
    ({**TINY, "seed": -1}, ValueError, "seed"),
    ({**TINY, "epochs": 0}, ValueError, "epochs"),
    ([1, 2], TypeError, "config")])
def test_bad_configs_name_the_problem(config, error, name):
    with pytest.raises(error, match=name):
        tl.make_data(config)


def test_band_experiments_are_the_band_runs():
    runs = tl.band_experiments(TINY)
    assert tuple(runs) == tl.BAND_RUNS
    assert runs["adam_clip"].clip == ("clipnorm", 0.1)
    assert runs["combination"].schedule == (4, 2, 1) and runs["sgd"].schedule is None


def test_run_seed_is_deterministic_and_complete():
    a = tl.run_seed(TINY)
    b = tl.run_seed(TINY)
    timed = {"seconds_sgd", "seconds_sgd_schedule"}  # read at a measured time: may differ
    assert {k: v for k, v in a.items() if k not in timed} == {
        k: v for k, v in b.items() if k not in timed}
    assert set(a) == set(b) and timed <= set(a)
    assert a["seed"] == 3
    for name in tl.BAND_RUNS:
        assert math.isfinite(a[f"final_{name}"])
    assert 0.0 <= a["clipped_share_1"] <= a["clipped_share_main"] <= 1.0


def test_summarize_needs_the_gradient_record():
    x, y = tl.make_data(TINY)
    kw = {"dense_units": 4, "lstm_units": 4}
    runs = {name: ex.run_experiment(e, x, y, epochs=2, seed=1, model_kwargs=kw, quiet=True)
            for name, e in tl.band_experiments(TINY).items()}
    with pytest.raises(ValueError, match="record_gradients"):
        tl.summarize(runs, 0.1)
    with pytest.raises(ValueError, match="lacks"):
        tl.summarize({"sgd": runs["sgd"]}, 0.1)


def test_band_configs_held_in_spread(capsys):
    configs = tl.band_configs(TINY, [5, 6])
    assert [c["seed"] for c in configs] == [5, 6] and configs[0]["units"] == 4
    with pytest.raises(ValueError, match="seeds"):
        tl.band_configs(TINY, [])
    summaries = [{"seed": 1, "v": 1.0}, {"seed": 2, "v": 3.0}, {"seed": 3, "v": 2.0}]
    assert tl.held_in(summaries, lambda s: s["v"] > 1.5) == (2, 3)
    mean, std = tl.spread(summaries, "v")
    assert mean == pytest.approx(2.0) and std == pytest.approx(1.0)
    assert tl.spread([{"v": math.inf}, {"v": 1.0}], "v") == (math.inf, math.inf)
    with pytest.raises(ValueError, match="summaries"):
        tl.held_in([], bool)
    tl.print_band(summaries, ["v"])
    assert "3 seeds" in capsys.readouterr().out
