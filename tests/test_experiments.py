"""Tests for course_lib.experiments (seed 002's runs) and notebook 10's widget."""

from __future__ import annotations

import math

import keras
import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

matplotlib.use("Agg")

from course_lib import experiments as ex  # noqa: E402
from course_lib import widgets  # noqa: E402

N_SEQ, T, LAGS = 3, 24, 4


def _data(seed: int = 0, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_SEQ, T, LAGS)).astype(np.float32)
    y = (scale * rng.normal(size=(N_SEQ, T, 2))).astype(np.float32)
    return x, y


def _model(lr: float = 0.01, optimizer: str = "sgd", **clip):
    keras.utils.set_random_seed(0)
    model = ex.price_q_model(N_SEQ, LAGS, dense_units=4, lstm_units=4, noise_std=0.0)
    model.compile(optimizer=ex.make_optimizer(optimizer, lr, **clip), loss="mse")
    return model


# ------------------------------------------------------------------------------ optimizers


@pytest.mark.parametrize("name, cls", [
    ("sgd", keras.optimizers.SGD), ("RMSprop", keras.optimizers.RMSprop),
    ("adam", keras.optimizers.Adam), ("adagrad", keras.optimizers.Adagrad),
    ("adadelta", keras.optimizers.Adadelta),
])
def test_make_optimizer_builds_each_name(name, cls):
    opt = ex.make_optimizer(name, 0.005)
    assert type(opt) is cls
    assert float(opt.learning_rate) == pytest.approx(0.005)
    assert opt.clipnorm is None and opt.clipvalue is None and opt.global_clipnorm is None


@pytest.mark.parametrize("kind", ex.CLIP_KINDS)
def test_make_optimizer_sets_exactly_the_requested_clip(kind):
    opt = ex.make_optimizer("adam", 0.01, **{kind: 0.5})
    for other in ex.CLIP_KINDS:
        assert getattr(opt, other) == (0.5 if other == kind else None)


def test_clipnorm_really_limits_the_step():
    var = keras.Variable(np.zeros(4, dtype=np.float32))
    opt = ex.make_optimizer("sgd", 1.0, clipnorm=1.0)
    opt.apply_gradients([(keras.ops.convert_to_tensor(np.full(4, 10.0, np.float32)), var)])
    assert float(np.linalg.norm(var.numpy())) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"name": "lbfgs"}, ValueError, "name"),
    ({"name": 3}, TypeError, "name"),
    ({"name": "sgd", "learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"name": "sgd", "learning_rate": "fast"}, TypeError, "learning_rate"),
    ({"name": "sgd", "clipnorm": -1.0}, ValueError, "clipnorm"),
    ({"name": "sgd", "clipvalue": 0.0}, ValueError, "clipvalue"),
    ({"name": "sgd", "clipnorm": 1.0, "clipvalue": 1.0}, ValueError, "at most one"),
])
def test_make_optimizer_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        ex.make_optimizer(**kwargs)


# ------------------------------------------------------------------------------ chunks


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500), st.data())
def test_chunk_bounds_cover_the_sequence_in_order(length, data):
    n = data.draw(st.integers(1, length))
    bounds = ex.chunk_bounds(length, n)
    assert len(bounds) == n
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(a < b for a, b in bounds)
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(n - 1))
    sizes = [b - a for a, b in bounds]
    assert max(sizes) - min(sizes) <= 1
    steps = np.arange(length)
    np.testing.assert_array_equal(np.concatenate([steps[a:b] for a, b in bounds]), steps)


@pytest.mark.parametrize("length, n, error, name", [
    (0, 1, ValueError, "length"), (5, 6, ValueError, "n_chunks"), (5, 0, ValueError, "n_chunks"),
    (5.0, 1, TypeError, "length")])
def test_chunk_bounds_bad_arguments(length, n, error, name):
    with pytest.raises(error, match=name):
        ex.chunk_bounds(length, n)


# ------------------------------------------------------------------------------ schedule


def test_schedule_moves_on_after_patience_epochs_without_improvement():
    s = ex.SequenceLengthSchedule((8, 4, 1), patience=2)
    seen = []
    for loss in [5.0, 4.0, 4.5, 4.0, 3.0, 3.5, 3.2, 3.1, 3.1, 2.0, 9.0]:
        seen.append(s.current)
        s.update(loss)
    # epochs 3 and 4 do not beat 4.0 -> switch after epoch 4; epochs 6, 7 -> after epoch 7;
    # the last stage stays
    assert seen == [8, 8, 8, 8, 4, 4, 4, 1, 1, 1, 1]
    assert s.switches == [(4, 4), (7, 1)]
    s.reset()
    assert s.current == 8 and s.switches == [] and s.best == math.inf


def test_schedule_min_delta_ignores_tiny_improvements():
    s = ex.SequenceLengthSchedule((2, 1), patience=2, min_delta=0.1)
    assert not s.update(1.0)
    assert not s.update(0.95)
    assert s.update(0.92) and s.current == 1


@pytest.mark.parametrize("kwargs, error, name", [
    ({"splits": ()}, ValueError, "splits"),
    ({"splits": "100"}, ValueError, "splits"),
    ({"splits": (4, 0)}, ValueError, r"splits\[1\]"),
    ({"splits": (4, 2.5)}, TypeError, r"splits\[1\]"),
    ({"patience": 0}, ValueError, "patience"),
    ({"min_delta": -1.0}, ValueError, "min_delta"),
])
def test_schedule_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        ex.SequenceLengthSchedule(**kwargs)


# ------------------------------------------------------------------------------ training


def test_state_is_carried_across_chunks_and_reset_for_each_pass():
    x, y = _data()
    # a learning rate this small leaves the weights unchanged, so the losses seen during
    # training can be compared with the full-length loss of the same weights
    model = _model(lr=1e-12)
    res = ex.train_with_schedule(model, x, y, epochs=2,
                                 schedule=ex.SequenceLengthSchedule((4,), patience=5))
    assert res.n_chunks == [0, 4, 4] and res.updates == [0, 4, 8]
    assert res.train_loss[1] == pytest.approx(res.loss[0], rel=1e-4)  # chunks == full length
    assert res.train_loss[2] == pytest.approx(res.train_loss[1], rel=1e-5)  # reset per pass


def test_chunks_without_carried_state_would_give_another_loss():
    # guards the test above: resetting between chunks does change the loss
    x, y = _data()
    model = _model(lr=1e-12)
    full = float(model.test_on_batch(x, y))
    ex.reset_lstm_states(model)
    parts = []
    for a, b in ex.chunk_bounds(T, 4):
        ex.reset_lstm_states(model)
        parts.append(float(model.test_on_batch(x[:, a:b], y[:, a:b])) * (b - a))
    assert abs(sum(parts) / T - full) > 1e-4 * full


def test_train_with_schedule_records_every_axis_and_switches():
    x, y = _data()
    model = _model(lr=0.05)
    res = ex.train_with_schedule(model, x, y, epochs=4,
                                 schedule=ex.SequenceLengthSchedule((6, 2), patience=1))
    assert len(res.loss) == len(res.seconds) == len(res.updates) == len(res.timesteps) == 5
    assert res.timesteps == [0] + [N_SEQ * T * k for k in range(1, 5)]
    assert all(np.diff(res.seconds) >= 0)
    assert res.status == "ok" and all(math.isfinite(v) for v in res.loss)
    assert res.updates[-1] == sum(res.n_chunks)
    assert res.curve("updates")[0] == res.updates
    assert res.loss_at("epoch", 2) == res.loss[2]
    assert math.isnan(res.loss_at("seconds", -1.0))


def test_nan_loss_stops_the_run_cleanly_and_is_reported(capsys):
    x, y = _data(scale=1e6)
    experiment = ex.Experiment("boom", "sgd", learning_rate=10.0)
    res = ex.run_experiment(experiment, x, y, epochs=30, seed=1,
                            model_kwargs={"dense_units": 4, "lstm_units": 4})
    assert res.status == "diverged"
    assert res.stopped_epoch is not None and res.stopped_epoch < 30
    assert len(res.loss) == res.stopped_epoch + 1
    assert not math.isfinite(res.loss[-1])
    assert res.final_loss == math.inf and math.isfinite(res.best_loss)
    assert "DIVERGED" in capsys.readouterr().out
    row = ex.results_table([res])[0]
    assert row["status"] == "diverged"


def test_run_experiment_is_deterministic_by_seed():
    x, y = _data()
    e = ex.Experiment("adam", "adam", 0.01, clip=("clipnorm", 1.0))
    kw = {"dense_units": 4, "lstm_units": 4}
    a = ex.run_experiment(e, x, y, epochs=1, seed=3, model_kwargs=kw)
    b = ex.run_experiment(e, x, y, epochs=1, seed=3, model_kwargs=kw)
    assert a.loss == b.loss
    assert a.config["clip"] == ("clipnorm", 1.0) and a.config["seed"] == 3


def test_largest_spike():
    assert ex.largest_spike([3.0, 2.0, 1.0]) == 0.0
    assert ex.largest_spike([3.0, 1.0, 2.5, 0.5, 1.0]) == pytest.approx(1.5)
    assert ex.largest_spike([1.0, float("nan")]) == math.inf
    r = ex.RunResult("r", loss=[1.0, 3.0, 0.5, 0.7, 0.6])
    assert r.largest_spike == pytest.approx(2.0) and r.spike_after(2) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="epoch"):
        r.spike_after(-1)


def test_results_table_and_plot():
    x, y = _data()
    res = ex.train_with_schedule(_model(), x, y, epochs=2, name="sgd")
    rows = ex.results_table([res])
    assert rows[0]["run"] == "sgd" and rows[0]["updates"] == 2
    ex.print_table(rows)
    fig = ex.plot_runs([res], "t", ("epoch", "seconds", "updates"))
    assert len(fig.axes) == 3


@pytest.mark.parametrize("call, error, name", [
    (lambda: ex.price_q_model(0), ValueError, "n_sequences"),
    (lambda: ex.price_q_model(2, noise_std=-1.0), ValueError, "noise_std"),
    (lambda: ex.price_q_model(2, stateful=1), TypeError, "stateful"),
    (lambda: ex.Experiment("a", clip=("clipall", 1.0)), ValueError, "clip"),
    (lambda: ex.Experiment("a", clip=1.0), ValueError, "clip"),
    (lambda: ex.Experiment("", "sgd"), ValueError, "name"),
    (lambda: ex.Experiment("a", "sgd", schedule=(4, 0)), ValueError, "splits"),
    (lambda: ex.Experiment("a", "sgd", schedule=(4, 1), min_delta=-1), ValueError, "min_delta"),
    (lambda: ex.train_with_schedule(_model(), *_data(), epochs=0), ValueError, "epochs"),
    (lambda: ex.train_with_schedule(_model(), np.zeros((3, 5)), np.zeros((3, 5, 2)),
                                    epochs=1), ValueError, "x and y"),
    (lambda: ex.train_with_schedule(_model(), np.zeros((2, T, LAGS)), np.zeros((2, T, 2)),
                                    epochs=1), ValueError, "batch size"),
    (lambda: ex.train_with_schedule(_model(), *_data(), epochs=1,
                                    schedule=ex.SequenceLengthSchedule((T + 1,))),
     ValueError, "splits"),
    (lambda: ex.train_with_schedule(_model(), *_data(), epochs=1, schedule=(4, 1)),
     TypeError, "schedule"),
    (lambda: ex.run_experiment("sgd", *_data(), epochs=1), TypeError, "experiment"),
    (lambda: ex.train_with_schedule(ex.price_q_model(N_SEQ, LAGS, dense_units=2, lstm_units=2),
                                    *_data(), epochs=1), TypeError, "optimizer"),
    (lambda: ex.plot_runs([], "t"), ValueError, "results"),
])
def test_bad_arguments_name_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


# ------------------------------------------------------------------------------ widget


CLIPS = [("none", None), ("clipnorm 1", ("clipnorm", 1.0))]
SCHEDULES = [("full length", None), ("4, 2, 1", (4, 2, 1))]


def test_optimizer_explorer_passes_the_menu_values_to_the_plain_function():
    calls = []

    def plain(**kwargs):
        calls.append(kwargs)

    box = widgets.optimizer_explorer(plain, "adam", None, (4, 2, 1), clip_choices=CLIPS,
                                     schedule_choices=SCHEDULES, fixed={"epochs": 3})
    assert box.controls["clip"].value == "none"  # a label, never an empty menu
    box.run()
    box.controls["optimizer"].value = "sgd"
    box.controls["clip"].value = "clipnorm 1"
    box.controls["schedule"].value = "full length"
    box.run()
    assert calls == [
        {"optimizer": "adam", "clip": None, "schedule": (4, 2, 1), "epochs": 3},
        {"optimizer": "sgd", "clip": ("clipnorm", 1.0), "schedule": None, "epochs": 3},
    ]


@pytest.mark.parametrize("args, name", [
    (("lbfgs", None, None), "optimizer"),
    (("adam", ("clipvalue", 3.0), None), "clip"),
    (("adam", None, (9, 1)), "schedule"),
])
def test_optimizer_explorer_bad_start_values(args, name):
    with pytest.raises(ValueError, match=name):
        widgets.optimizer_explorer(print, *args, clip_choices=CLIPS, schedule_choices=SCHEDULES)


def test_training_demo_draws_the_run_next_to_the_baseline():
    x, y = _data()
    kw = {"x": x, "y": y, "epochs": 1, "model_kwargs": {"dense_units": 4, "lstm_units": 4}}
    fig, base = ex.training_demo("sgd", None, None, **kw)
    fig, res = ex.training_demo("adam", ("clipnorm", 1.0), (2, 1), baseline=base, patience=1,
                                **kw)
    assert res.name == "adam + clipnorm=1 + schedule [2, 1]" and res.n_chunks == [0, 2]
    assert len(fig.axes[0].get_lines()) == 2
    with pytest.raises(TypeError, match="baseline"):
        ex.training_demo("sgd", None, None, baseline=[1.0], **kw)


def test_gradient_norms_per_weight_and_global():
    x, y = _data()
    model = _model()
    norms = ex.gradient_norms(model, x, y)
    per_weight = [v for k, v in norms.items() if k != "global"]
    assert len(per_weight) == len(model.trainable_variables)
    assert norms["global"] == pytest.approx(np.sqrt(np.sum(np.square(per_weight))), rel=1e-4)


# ------------------------------------------------------------------------------ the page's loop


def test_train_one_pass_makes_one_update_per_chunk():
    x, y = _data()
    model = _model()
    for n in (1, 4, 6):
        before = int(model.optimizer.iterations)
        loss = ex.train_one_pass(model, x, y, n)
        assert int(model.optimizer.iterations) - before == n
        assert math.isfinite(loss) and loss > 0


def test_train_one_pass_equals_train_on_batch_over_the_chunks_by_hand():
    x, y = _data()
    a, b = _model(lr=0.05), _model(lr=0.05)
    ex.train_one_pass(a, x, y, 3)
    ex.reset_lstm_states(b)
    for start, stop in [(0, 8), (8, 16), (16, 24)]:
        b.train_on_batch(x[:, start:stop], y[:, start:stop])
    for va, vb in zip(a.trainable_variables, b.trainable_variables, strict=True):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-6)


def test_recording_gradients_does_not_change_the_run():
    x, y = _data()
    e = ex.Experiment("adam", "adam", 0.01)
    kw = {"dense_units": 4, "lstm_units": 4, "noise_std": 0.1}
    plain = ex.run_experiment(e, x, y, epochs=3, seed=2, model_kwargs=kw, quiet=True)
    rec = ex.run_experiment(e, x, y, epochs=3, seed=2, model_kwargs=kw, quiet=True,
                            record_gradients=True)
    assert rec.loss == plain.loss
    assert len(rec.grad_norm_max) == 3 and plain.grad_norm_max == []
    assert all(0 < m <= g for m, g in zip(rec.grad_norm_max, rec.grad_norm_global, strict=True))


def test_clipnorm_above_every_gradient_leaves_the_run_unchanged():
    # the reason "clipnorm 1.0" can be a no-op: it only acts on norms above 1.0
    x, y = _data(scale=0.01)
    kw = {"dense_units": 4, "lstm_units": 4}
    plain = ex.run_experiment(ex.Experiment("a", "adam", 0.01), x, y, epochs=3, seed=2,
                              model_kwargs=kw, quiet=True, record_gradients=True)
    assert max(plain.grad_norm_max) < 100.0
    clipped = ex.run_experiment(ex.Experiment("b", "adam", 0.01, clip=("clipnorm", 100.0)),
                                x, y, epochs=3, seed=2, model_kwargs=kw, quiet=True)
    tight = ex.run_experiment(ex.Experiment("c", "adam", 0.01, clip=("clipnorm", 1e-4)),
                              x, y, epochs=3, seed=2, model_kwargs=kw, quiet=True)
    assert clipped.loss == pytest.approx(plain.loss, rel=1e-6)  # rescaled by 1.0 at most
    assert abs(tight.loss[-1] - plain.loss[-1]) > 1e-3 * plain.loss[-1]


def test_warm_up_leaves_no_trace_in_the_weights():
    x, y = _data()
    model = _model(lr=0.5)
    before = [v.numpy() for v in model.variables]
    res = ex.train_with_schedule(model, x, y, epochs=1, schedule=ex.SequenceLengthSchedule((6,)))
    assert res.loss[0] == pytest.approx(ex.full_length_loss(_model(lr=0.5), x, y), rel=1e-6)
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, model.variables,
                                                                strict=True))


@pytest.mark.parametrize("args, error, name", [
    ((2, 4, 8, 8, 0.1, "yes"), TypeError, "stateful"),
    ((2, 0, 8, 8, 0.1, True), ValueError, "n_lags"),
    ((2, 4, 8, 8, 11.0, True), ValueError, "noise_std"),
    ((2, 4, 8, 1.5, 0.1, True), TypeError, "lstm_units"),
])
def test_check_model_args(args, error, name):
    with pytest.raises(error, match=name):
        ex.check_model_args(*args)


def test_record_gradients_must_be_bool():
    with pytest.raises(TypeError, match="record_gradients"):
        ex.train_with_schedule(_model(), *_data(), epochs=1, record_gradients=1)
