"""Tests for course_lib.lessons.tbptt_lesson: notebook 06's plumbing and exercise checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from course_lib import tbptt
from course_lib.data import lag_echo
from course_lib.lessons import tbptt_lesson as lesson


def cut_every_k2_window(model, x_win, state, k2):
    """The exercise's solution: pieces of k2 steps, state detached between pieces."""
    outputs = []
    for a in range(0, x_win.shape[1], k2):
        if a > 0:
            state = [tf.stop_gradient(s) for s in state]
        y_piece, *state = model([x_win[:, a:a + k2], *state])
        outputs.append(y_piece)
    return tf.concat(outputs, axis=1), state


def no_cut_window(model, x_win, state, k2):
    """A wrong answer: the gradient is never cut."""
    y_hat, *state = model([x_win, *state])
    return y_hat, state


def last_k2_window(model, x_win, state, k2):
    """Deeplearning4j's k2 < k1, as notebook 06 writes it."""
    split = x_win.shape[1] - k2
    _, *state = model([x_win[:, :split], *state])
    state = [tf.stop_gradient(s) for s in state]
    y_late, *state = model([x_win[:, split:], *state])
    return y_late, state


# --------------------------------------------------------------------------- comparisons


def test_max_weight_diff_and_max_abs_diff():
    a = tbptt.lstm_stack(1, 4, seed=0)
    b = keras.models.clone_model(a)
    b.set_weights(a.get_weights())
    assert lesson.max_weight_diff(a, b) == 0.0
    changed = [w.copy() for w in a.get_weights()]
    changed[0][0, 0] += 0.25
    b.set_weights(changed)
    assert lesson.max_weight_diff(a, b) == pytest.approx(0.25)
    assert lesson.max_abs_diff(a.get_weights(), changed) == pytest.approx(0.25)


def test_comparisons_refuse_mismatched_input():
    with pytest.raises(TypeError, match="a must be a keras.Model"):
        lesson.max_weight_diff("model", tbptt.lstm_stack(1, 4))
    with pytest.raises(ValueError, match="different weight shapes"):
        lesson.max_weight_diff(tbptt.lstm_stack(1, 4), tbptt.lstm_stack(1, 5))
    with pytest.raises(ValueError, match="as many arrays"):
        lesson.max_abs_diff([np.zeros(2)], [])


# --------------------------------------------------------------------------- timing


def test_time_pairs_in_rounds_reports_every_round():
    x, y, _ = lag_echo(2, 24, 1, seed=0)
    rows = lesson.time_pairs_in_rounds(x, y, [(4, 4), (4, 12)], units=4, rounds=2, seed=0)
    assert [(r["k1"], r["k2"]) for r in rows] == [(4, 4), (4, 12)]
    assert all(len(r["wall_seconds"]) == len(r["process_seconds"]) == 2 for r in rows)
    assert all(r["seconds"] == min(r["process_seconds"]) > 0 for r in rows)
    assert rows[0]["predicted"] == rows[0]["measured"] == 1.0
    assert rows[1]["predicted"] == pytest.approx(tbptt.cost_ratio(24, 4, 12)
                                                 / tbptt.cost_ratio(24, 4, 4))
    assert rows[1]["updates"] == 6
    wall = lesson.time_pairs_in_rounds(x, y, [(4, 4), (4, 12)], units=4, rounds=1, clock="wall")
    assert all(r["seconds"] == min(r["wall_seconds"]) for r in wall)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"pairs": []}, ValueError, "pairs"),
    ({"pairs": [(0, 4)]}, ValueError, "k1"),
    ({"pairs": [(4, 99)]}, ValueError, "k2"),
    ({"rounds": 0}, ValueError, "rounds"),
    ({"clock": "gpu"}, ValueError, "clock"),
    ({"x": np.zeros((2, 8))}, ValueError, "3-D"),
])
def test_time_pairs_in_rounds_refuses_bad_input(kwargs, error, match):
    args = {"x": np.zeros((2, 8, 1)), "y": np.zeros((2, 8, 1)), "pairs": [(2, 4)]}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        lesson.time_pairs_in_rounds(args.pop("x"), args.pop("y"), args.pop("pairs"), **args)


# --------------------------------------------------------------------------- echo prediction


def test_learned_k2s_reads_one_row_of_the_grid():
    acc = np.array([[0.55, 0.9, 0.95], [0.5, 0.6, 0.85]])
    assert lesson.learned_k2s(acc, [2, 6], [4, 8, 12], 2, 0.8) == [8, 12]
    assert lesson.learned_k2s(acc, [2, 6], [4, 8, 12], 6, 0.8) == [12]
    with pytest.raises(ValueError, match="lag"):
        lesson.learned_k2s(acc, [2, 6], [4, 8, 12], 4, 0.8)
    with pytest.raises(ValueError, match="shape"):
        lesson.learned_k2s(acc[:1], [2, 6], [4, 8, 12], 2, 0.8)


def test_compare_prediction(capsys):
    assert lesson.compare_prediction(None, [8, 12]) is None
    assert lesson.compare_prediction([12, 8], [8, 12]) is True
    assert lesson.compare_prediction([8], [8, 12]) is False
    assert lesson.compare_prediction("eight", [8]) is False
    assert "measured" in capsys.readouterr().out


# --------------------------------------------------------------------------- k2 < k1


def test_the_exercise_solution_passes_and_a_wrong_answer_fails():
    assert lesson.check_cut_every_k2(cut_every_k2_window, trials=2, seed=1)
    assert not lesson.check_cut_every_k2(no_cut_window, trials=2, seed=1, verbose=False)
    assert not lesson.check_cut_every_k2(last_k2_window, trials=2, seed=1, verbose=False)


def test_the_check_reports_errors_instead_of_raising(capsys):
    def broken(model, x_win, state, k2):
        raise NotImplementedError("not written yet")

    assert lesson.check_cut_every_k2(broken, trials=1) is False
    assert "NotImplementedError" in capsys.readouterr().out
    assert lesson.check_cut_every_k2("not a function", trials=1) is False
    with pytest.raises(ValueError, match="trials"):
        lesson.check_cut_every_k2(cut_every_k2_window, trials=0)


def test_window_gradients_of_a_full_window_equal_the_trainers():
    model = tbptt.lstm_stack(1, 4, seed=3)
    x, y, _ = lag_echo(3, 10, 2, seed=3)
    ours = lesson.window_gradients(no_cut_window, model, x, y, 10)
    engine = lesson.trainer_gradients(model, x, y, 10)
    assert lesson.max_abs_diff(ours, engine) < 1e-6


def test_the_two_k2_modes_agree_on_a_last_step_label_only():
    model = tbptt.lstm_stack(1, 4, seed=5)
    x, y, _ = lag_echo(3, 12, 1, seed=5)
    last = (np.arange(12) == 11).astype(np.float32)
    cut = lesson.trainer_gradients(model, x, y, 4, step_weights=last)
    dl4j = lesson.window_gradients(last_k2_window, model, x, y, 4, step_weights=last)
    assert lesson.max_abs_diff(cut, dl4j) < 1e-6
    every = lesson.window_gradients(last_k2_window, model, x, y, 4)
    assert lesson.max_abs_diff(lesson.trainer_gradients(model, x, y, 4), every) > 1e-4


def test_last_k2_window_matches_the_trainers_last_k2_mode():
    model = tbptt.lstm_stack(1, 4, seed=7)
    x, y, _ = lag_echo(3, 12, 1, seed=7)
    engine = lesson.trainer_gradients(model, x, y, 4, k2_mode="last_k2")
    ours = lesson.window_gradients(last_k2_window, model, x, y, 4)
    assert lesson.max_abs_diff(engine, ours) < 1e-6


def test_window_gradients_refuse_bad_shapes():
    model = tbptt.lstm_stack(1, 4, seed=0)
    x, y, _ = lag_echo(2, 6, 1, seed=0)
    with pytest.raises(ValueError, match="step_weights"):
        lesson.window_gradients(no_cut_window, model, x, y, 2, step_weights=np.ones(5))

    def too_long(model, x_win, state, k2):
        y_hat, *state = model([tf.concat([x_win, x_win], axis=1), *state])
        return y_hat, state

    with pytest.raises(ValueError, match="window_fn must return"):
        lesson.window_gradients(too_long, model, x, y, 2)


# --------------------------------------------------------------------------- cost model


def test_affine_fit_recovers_a_line_and_scores_noise():
    fit = lesson.affine_fit([1, 2, 4, 8], [3.5, 5.0, 8.0, 14.0])  # 2 + 1.5 x
    assert fit["slope"] == pytest.approx(1.5) and fit["intercept"] == pytest.approx(2.0)
    assert fit["r2"] == pytest.approx(1.0)
    noisy = lesson.affine_fit([1, 2, 3, 4, 5], [1.0, 5.0, 2.0, 6.0, 1.5])
    assert noisy["r2"] < 0.5


@pytest.mark.parametrize("x, y, match", [
    ([1, 2], [1, 2], "length >= 3"),
    ([1, 2, 3], [1, 2], "same length"),
    ([1, 1, 1], [1, 2, 3], "two different"),
    ([1, 2, np.nan], [1, 2, 3], "finite"),
])
def test_affine_fit_refuses_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        lesson.affine_fit(x, y)
