"""Tests for course_lib.lessons.splits_lesson (notebook 09's plumbing)."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import splits
from course_lib.lessons import splits_lesson as lesson


def test_stamped_and_show_batches_name_the_origin_of_each_row():
    toy = lesson.stamped(4, 6)
    assert toy.shape == (4, 6, 1) and toy[2, 5, 0] == 205
    text = lesson.show_batches(splits.stateful_reshape(toy, 3, 2), 2)
    lines = text.splitlines()
    assert lines[0] == "batch 0: seq 0 steps  0-2  | seq 1 steps  0-2"
    assert lines[1].startswith("batch 1: seq 0 steps  3-5")
    assert lines[2].startswith("batch 2: seq 2 steps  0-2")
    assert len(lesson.show_batches(toy.reshape(-1, 3, 1), 2, limit=1).splitlines()) == 1
    with pytest.raises(ValueError, match="batch_size must divide the 8 samples"):
        lesson.show_batches(splits.stateful_reshape(toy, 3, 2), 3)
    with pytest.raises(ValueError, match="t must be >= 1 and <= 99"):
        lesson.stamped(2, 100)


def test_run_configs_keeps_order_and_merges_results():
    seen = []

    def evaluate(sub_len, seed):
        seen.append((sub_len, seed))
        return {"mse": sub_len + seed / 10}

    configs = [{"sub_len": n, "seed": s} for n in (4, 2) for s in (0, 1, 2)]
    runs = lesson.run_configs(evaluate, configs, verbose=False)
    assert seen == [(c["sub_len"], c["seed"]) for c in configs]
    assert [r["mse"] for r in runs] == [4.0, 4.1, 4.2, 2.0, 2.1, 2.2]
    assert all(r["seconds"] >= 0 for r in runs)
    grid = lesson.grid_from_runs(runs)
    assert grid.lengths == [2, 4] and grid.scores.shape == (2, 3)
    np.testing.assert_allclose(grid.mean, [2.1, 4.1])
    assert grid.best_length == 2
    np.testing.assert_allclose(lesson.collect(runs, "mse", sub_len=2), [2.0, 2.1, 2.2])
    with pytest.raises(ValueError, match="no run matches"):
        lesson.collect(runs, "mse", sub_len=3)
    with pytest.raises(ValueError, match="every sub_len needs the same number of repeats"):
        lesson.grid_from_runs(runs[:-1])
    with pytest.raises(TypeError, match="evaluate must return a mapping"):
        lesson.run_configs(lambda sub_len, seed: 1.0, configs, verbose=False)
    with pytest.raises(TypeError, match="configs must be a sequence of dicts"):
        lesson.run_configs(evaluate, {"sub_len": 1})
    with pytest.raises(ValueError, match="configs must hold at least one"):
        lesson.run_configs(evaluate, [])
    with pytest.raises(TypeError, match="evaluate must be a callable"):
        lesson.run_configs(3, configs)


def test_mean_std_and_direction():
    assert lesson.mean_std([1.0, 3.0], 2) == "2.00 ± 1.41"
    assert lesson.mean_std([2.0]) == "2.000 ± 0.000"
    assert lesson.direction([2.0, 2.1, 1.9], [1.0, 1.1, 0.9]) == "higher"
    assert lesson.direction([1.0], [2.0]) == "lower"
    assert lesson.direction([1.0, 3.0], [2.0, 2.1]) == "about the same"
    with pytest.raises(ValueError, match="values must not be empty"):
        lesson.mean_std([])
    with pytest.raises(ValueError, match="a and b must not be empty"):
        lesson.direction([], [1.0])


def test_memory_task_follows_its_recursion_and_window_task_multiplies_lags():
    x, y = lesson.memory_task(3, 30, decay=0.8, seed=1)
    scale = 0.2 / np.sqrt(1 - 0.64)
    raw = y[..., 0] * scale
    np.testing.assert_allclose(raw[:, 1:], 0.8 * raw[:, :-1] + 0.2 * x[:, 1:, 0], atol=1e-5)
    x2, y2 = lesson.memory_task(3, 30, decay=0.8, seed=1)
    assert np.array_equal(x, x2) and np.array_equal(y, y2) and x.dtype == np.float32
    x, y = lesson.window_task(4, 20, lags=(1, 3), seed=2)
    np.testing.assert_allclose(y[:, 3:, 0], x[:, 2:-1, 0] * x[:, :-3, 0], rtol=1e-5)
    assert np.all(y[:, :3] == 0)
    with pytest.raises(ValueError, match="lags must be >= 1 and <= 19"):
        lesson.window_task(2, 20, lags=(1, 20))
    with pytest.raises(ValueError, match="lags must be two lags"):
        lesson.window_task(2, 20, lags=(1,))
    with pytest.raises(ValueError, match="decay must be in"):
        lesson.memory_task(2, 20, decay=1.0)


def test_reshape_exercise_accepts_only_the_right_reshape():
    def right(x, sub_len, batch_size):
        n, t, f = x.shape
        a = x.reshape(n // batch_size, batch_size, t // sub_len, sub_len, f)
        return a.transpose(0, 2, 1, 3, 4).reshape(-1, sub_len, f)

    def plain(x, sub_len, batch_size):
        return x.reshape(-1, sub_len, x.shape[2])

    def broken(x, sub_len, batch_size):
        raise RuntimeError("not written yet")

    assert lesson.matches_library_reshape(right)
    assert lesson.matches_library_reshape(splits.stateful_reshape)
    assert not lesson.matches_library_reshape(plain)
    assert not lesson.matches_library_reshape(broken)
    assert not lesson.matches_library_reshape(None)


def test_error_summary_finds_the_line_about_shapes():
    err = ValueError("\x1b[1mException encountered when calling LSTM.call().\x1b[0m\n\n"
                     "\x1b[1mIf an RNN is stateful, the batch size must match.\n"
                     "- Expected batch size: 4\nArguments received by LSTM.call():\n  • x=1")
    assert lesson.error_summary(err) == (
        "ValueError: If an RNN is stateful, the batch size must match. / "
        "- Expected batch size: 4")
    deep = RuntimeError("Graph execution error:\n\n  File \"x.py\", line 1\n\n"
                        "Incompatible shapes: [2,5,1] vs. [4,5,1]\n")
    assert lesson.error_summary(deep, lines=1) == (
        "RuntimeError: Incompatible shapes: [2,5,1] vs. [4,5,1]")
    assert lesson.error_summary(KeyError()) == "KeyError: (no message)"
    with pytest.raises(TypeError, match="err must be an exception"):
        lesson.error_summary("oops")


def test_read_pieces_in_stateful_order_matches_whole_sequences():
    from course_lib import tbptt

    x, _, _ = splits.noisy_sine(4, 24, period=8, seed=3)
    model = tbptt.lstm_stack(1, 3, 1, None, stateful=True, batch_size=2, seed=5)
    twin = tbptt.lstm_stack(1, 3, 1, None, seed=5)
    whole = tbptt.predict_sequences(twin, x)
    got = lesson.read_pieces(model, splits.stateful_reshape(x, 6, 2), 2, reset_every=4)
    np.testing.assert_allclose(got, splits.stateful_reshape(whole, 6, 2), atol=1e-5)
    leaky = lesson.read_pieces(model, splits.stateful_reshape(x, 6, 2), 2, reset_every=None)
    assert np.abs(leaky - splits.stateful_reshape(whole, 6, 2)).max() > 1e-3
    with pytest.raises(ValueError, match="batch_size must divide the 16 samples"):
        lesson.read_pieces(model, splits.stateful_reshape(x, 6, 2), 3, reset_every=4)
    with pytest.raises(ValueError, match="reset_every must be >= 1"):
        lesson.read_pieces(model, splits.stateful_reshape(x, 6, 2), 2, reset_every=0)


def test_quiet_retracing_restores_the_log_level():
    import logging

    logger = logging.getLogger("tensorflow")
    before = logger.level
    with lesson.quiet_retracing():
        assert logger.level == logging.ERROR
    assert logger.level == before
