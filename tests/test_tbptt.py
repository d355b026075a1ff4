"""Tests for course_lib.tbptt: TBPTT(k1, k2) against hand-written references and Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import data, models, tbptt

BCE = keras.losses.get("binary_crossentropy")


@pytest.fixture(scope="module")
def echo():
    x, y, _ = data.lag_echo(4, 12, 2, seed=3)
    return x, y


@pytest.fixture(scope="module")
def model():
    return tbptt.lstm_stack(1, 5, seed=7)


def _forward_state(model, x, stop):
    """Return the state after running ``x[:, :stop]`` from zero (zero state if stop == 0)."""
    states = [tf.zeros((x.shape[0], *s)) for s in tbptt._state_shapes(model)]
    if stop == 0:
        return states
    return list(model([tf.constant(x[:, :stop]), *states])[1:])


def _reference_gradients(model, x, y, k1, k2, k2_mode="cut_every_k2"):
    """Sum of per-update gradients computed the slow, obvious way (weights held fixed)."""
    seq_len = x.shape[1]
    total = [np.zeros(v.shape) for v in model.trainable_variables]
    ends = list(range(k1, seq_len, k1)) + [seq_len]
    previous = 0
    for stop in ends:
        if k2 >= k1:
            start = max(0, stop - k2)
            states = _forward_state(model, x, start)  # a constant: the gradient stops here
            with tf.GradientTape() as tape:
                out = model([tf.constant(x[:, start:stop]), *states])[0]
                loss = tf.reduce_mean(BCE(y[:, previous:stop], out[:, previous - start:]))
        elif k2_mode == "last_k2":
            # forward over [previous, stop); only the last k2 steps under the tape, and only
            # their outputs in the differentiated loss
            grad_start = max(previous, stop - k2)
            states = _forward_state(model, x, grad_start)
            with tf.GradientTape() as tape:
                out = model([tf.constant(x[:, grad_start:stop]), *states])[0]
                loss = tf.reduce_mean(BCE(y[:, grad_start:stop], out))
        else:
            states = _forward_state(model, x, previous)
            with tf.GradientTape() as tape:
                outs = []
                for a in range(previous, stop, k2):
                    states = [tf.stop_gradient(s) for s in states]
                    result = model([tf.constant(x[:, a:min(a + k2, stop)]), *states])
                    outs.append(result[0])
                    states = list(result[1:])
                loss = tf.reduce_mean(BCE(y[:, previous:stop], tf.concat(outs, axis=1)))
        grads = tape.gradient(loss, model.trainable_variables)
        total = [t + g.numpy() for t, g in zip(total, grads, strict=True)]
        previous = stop
    return total


def _assert_close(got, want, atol=1e-5):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, atol=atol, rtol=1e-4)


# --------------------------------------------------------------------------- schedule


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.data())
def test_plan_covers_every_step_once_with_the_promised_windows(seq_len, draw):
    k1 = draw.draw(st.integers(1, seq_len))
    k2 = draw.draw(st.integers(1, seq_len))
    plan = tbptt.plan_updates(seq_len, k1, k2)
    # loss ranges tile [0, seq_len): nothing dropped, nothing scored twice
    assert [u.loss_start for u in plan] == [0] + [u.stop for u in plan[:-1]]
    assert plan[-1].stop == seq_len
    for i, u in enumerate(plan):
        assert u.stop - u.loss_start <= k1
        if k2 >= k1:
            assert u.start == max(0, u.stop - k2)  # backprop reaches k2 steps back
            assert not u.cut
            if i + 1 < len(plan):
                assert u.store == plan[i + 1].start  # next window starts at the stored state
        else:
            assert u.start == u.loss_start
            assert all(b - a <= k2 for a, b in u.segments)
    assert plan[-1].store is None


def test_cost_ratio_is_k2_over_k1_in_the_steady_state():
    assert tbptt.cost_ratio(1000, 10, 10) == 1.0
    assert abs(tbptt.cost_ratio(1000, 10, 40) - 4.0) < 0.1
    assert tbptt.cost_ratio(1000, 40, 10) == 1.0  # k2 < k1: every step runs once


def test_ragged_last_window_is_kept():
    plan = tbptt.plan_updates(10, 4, 4)
    assert [(u.loss_start, u.stop) for u in plan] == [(0, 4), (4, 8), (8, 10)]
    assert plan[-1].start == 6  # still k2 = 4 steps of backprop for the short window


# --------------------------------------------------------------------------- gradients


def test_full_bptt_equals_gradient_tape_on_the_whole_sequence(echo, model):
    x, y = echo
    seq_len = x.shape[1]
    got = tbptt.TBPTTTrainer(model, seq_len, seq_len).compute_gradients(x, y)
    states = [tf.zeros((x.shape[0], *s)) for s in tbptt._state_shapes(model)]
    with tf.GradientTape() as tape:
        out = model([tf.constant(x), *states])[0]
        loss = tf.reduce_mean(BCE(y, out))
    want = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    _assert_close(got, want)


@pytest.mark.parametrize("k1, k2, k2_mode", [
    (3, 3, "cut_every_k2"), (4, 8, "cut_every_k2"), (3, 5, "cut_every_k2"),
    (12, 4, "cut_every_k2"), (5, 2, "cut_every_k2"), (4, 4, "cut_every_k2"),
    (12, 4, "last_k2"), (12, 5, "last_k2"), (5, 2, "last_k2"), (5, 3, "last_k2"),
    (4, 8, "last_k2"),  # k2 >= k1: the mode changes nothing
])
def test_gradients_match_the_slow_reference(echo, model, k1, k2, k2_mode):
    # (4, 4), (5, 2) and (5, 3) on 12 steps have a ragged last window
    x, y = echo
    got = tbptt.TBPTTTrainer(model, k1, k2, k2_mode=k2_mode).compute_gradients(x, y)
    _assert_close(got, _reference_gradients(model, x, y, k1, k2, k2_mode))


@pytest.mark.parametrize("k2_mode", tbptt.K2_MODES)
def test_one_update_equals_a_hand_written_tape(echo, k2_mode):
    """k1 = T = 12, k2 = 5: one SGD update, weights compared with a GradientTape by hand."""
    x, y = echo
    lr = 0.5
    ref = tbptt.lstm_stack(1, 5, seed=7)
    ours = tbptt.lstm_stack(1, 5, seed=7)
    h = [tf.zeros((x.shape[0], 5))] * 2
    with tf.GradientTape() as tape:
        if k2_mode == "cut_every_k2":  # pieces [0,5) [5,10) [10,12), state cut between
            outs, states = [], h
            for a, b in [(0, 5), (5, 10), (10, 12)]:
                result = ref([tf.constant(x[:, a:b]), *[tf.stop_gradient(s) for s in states]])
                outs.append(result[0])
                states = list(result[1:])
            loss = tf.reduce_mean(BCE(y, tf.concat(outs, axis=1)))
        else:  # steps [0, 7) forward only; tape over [7, 12); loss on those 5 outputs
            states = [tf.stop_gradient(s) for s in ref([tf.constant(x[:, :7]), *h])[1:]]
            out = ref([tf.constant(x[:, 7:]), *states])[0]
            loss = tf.reduce_mean(BCE(y[:, 7:], out))
    grads = tape.gradient(loss, ref.trainable_variables)
    for v, g in zip(ref.trainable_variables, grads, strict=True):
        v.assign(v - lr * g)
    trainer = tbptt.TBPTTTrainer(ours, 12, 5, keras.optimizers.SGD(lr), k2_mode=k2_mode)
    history = trainer.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert history["updates"] == [1]
    _assert_close(ours.get_weights(), ref.get_weights(), atol=1e-6)
    moved = tbptt.lstm_stack(1, 5, seed=7).get_weights()
    assert max(np.abs(a - b).max() for a, b in zip(moved, ref.get_weights(), strict=True)) > 1e-3


def test_the_two_k2_modes_agree_on_a_last_step_label_and_differ_on_per_step_labels(model):
    """With k2 dividing k1, a label at the last step only reaches the same k2 steps in both
    modes; with a label at every step, 'cut_every_k2' also trains on the earlier outputs."""
    x, labels, _ = data.marker_task(6, 12, marker_pos=-3, seed=1)
    x = x[..., :1]
    both = [tbptt.TBPTTTrainer(model, 12, 4, k2_mode=m).compute_gradients(x, labels)
            for m in tbptt.K2_MODES]
    _assert_close(*both, atol=1e-6)
    per_step = np.repeat(labels[:, None, None].astype("float32"), 12, axis=1)
    cut, last = [tbptt.TBPTTTrainer(model, 12, 4, k2_mode=m).compute_gradients(x, per_step)
                 for m in tbptt.K2_MODES]
    assert max(np.abs(a - b).max() for a, b in zip(cut, last, strict=True)) > 1e-4


def test_last_k2_counts_every_output_in_the_reported_loss(echo):
    x, y = echo
    m = tbptt.lstm_stack(1, 4, seed=0)
    trainer = tbptt.TBPTTTrainer(m, 12, 4, keras.optimizers.SGD(0.0), k2_mode="last_k2")
    reported = trainer.fit(x, y, epochs=1, verbose=0)["loss"][0]
    pred = tbptt.predict_sequences(m, x)
    np.testing.assert_allclose(reported, np.mean(BCE(y, pred)), rtol=1e-5)


def test_last_k2_plan_and_cost():
    plan = tbptt.plan_updates(12, 5, 2, "last_k2")
    assert [(u.start, u.grad_from, u.stop) for u in plan] == [(0, 3, 5), (5, 8, 10), (10, 10, 12)]
    assert [u.loss_start for u in plan] == [0, 5, 10]  # reported loss still tiles [0, T)
    assert tbptt.cost_ratio(1000, 40, 10, "last_k2") == 0.25
    assert tbptt.cost_ratio(1000, 40, 10, "cut_every_k2") == 1.0
    assert tbptt.plan_updates(12, 4, 8, "last_k2") == tbptt.plan_updates(12, 4, 8)


def test_k2_below_k1_differs_from_full_backprop_over_k1(echo, model):
    x, y = echo
    cut = tbptt.TBPTTTrainer(model, 12, 3).compute_gradients(x, y)
    full = tbptt.TBPTTTrainer(model, 12, 12).compute_gradients(x, y)
    assert max(np.abs(a - b).max() for a, b in zip(cut, full, strict=True)) > 1e-6


def test_last_window_targets_reach_the_gradient(echo, model):
    x, y = echo
    trainer = tbptt.TBPTTTrainer(model, 5, 5)  # 12 = 5 + 5 + 2
    base = trainer.compute_gradients(x, y)
    flipped = y.copy()
    flipped[:, -1] = 1.0 - flipped[:, -1]
    changed = trainer.compute_gradients(x, flipped)
    assert max(np.abs(a - b).max() for a, b in zip(base, changed, strict=True)) > 1e-6


def test_seq2one_last_only_scores_the_final_step(model):
    x, y, _ = data.marker_task(6, 12, marker_pos=-3, seed=1)
    x = x[..., :1]
    got = tbptt.TBPTTTrainer(model, 4, 6, seq2one="last").compute_gradients(x, y)
    states = _forward_state(model, x, 12 - 6)
    with tf.GradientTape() as tape:
        out = model([tf.constant(x[:, 6:]), *states])[0]
        loss = tf.reduce_mean(BCE(y[:, None].astype("float32"), out[:, -1]))
    want = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    _assert_close(got, want)


def test_seq2one_every_step_equals_replicated_seq2seq_labels(model):
    x, y, _ = data.marker_task(6, 12, seed=1)
    x = x[..., :1]
    replicated = np.repeat(y[:, None, None].astype("float32"), 12, axis=1)
    a = tbptt.TBPTTTrainer(model, 4, 6, seq2one="every_step").compute_gradients(x, y)
    b = tbptt.TBPTTTrainer(model, 4, 6).compute_gradients(x, replicated)
    _assert_close(a, b, atol=1e-7)


def test_step_weights_zero_removes_steps_from_the_loss(echo, model):
    x, y = echo
    weights = np.ones(12, dtype="float32")
    weights[:6] = 0.0
    trainer = tbptt.TBPTTTrainer(model, 12, 12)
    masked = trainer.compute_gradients(x, y, step_weights=weights)
    noisy = y.copy()
    noisy[:, :6] = 1.0 - noisy[:, :6]
    _assert_close(trainer.compute_gradients(x, noisy, step_weights=weights), masked, atol=1e-7)


# --------------------------------------------------------------------------- horizon


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 5), st.integers(0, 6))
def test_input_gradient_is_exactly_zero_beyond_k2(k1, extra):
    m = tbptt.lstm_stack(1, 4, seed=2)
    x, _, _ = data.lag_echo(2, 14, 1, seed=0)
    k2 = min(k1 + extra, 14)
    horizon = tbptt.gradient_horizon(m, x, k1=k1, k2=k2)
    assert np.all(horizon[k2:] == 0.0)
    assert np.all(horizon[:k2] > 0.0)


def test_full_bptt_horizon_reaches_the_first_step(model):
    x, _, _ = data.lag_echo(2, 14, 1, seed=0)
    horizon = tbptt.gradient_horizon(model, x)
    assert horizon.shape == (14,)
    assert np.all(horizon > 0.0)


def test_k2_below_k1_horizon_stops_at_the_last_cut(model):
    x, _, _ = data.lag_echo(2, 12, 1, seed=0)
    horizon = tbptt.gradient_horizon(model, x, k1=12, k2=5)  # cuts at 5 and 10
    assert np.all(horizon[:2] > 0) and np.all(horizon[2:] == 0)
    last = tbptt.gradient_horizon(model, x, k1=12, k2=5, k2_mode="last_k2")
    assert np.all(last[:5] > 0) and np.all(last[5:] == 0)  # the last k2 steps


# --------------------------------------------------------------------------- Keras reference


def test_tbptt_k_k_equals_keras_stateful_fit():
    n, seq_len, k, batch = 4, 12, 4, 2  # two groups of sequences: the state must reset
    x, y, _ = data.lag_echo(n, seq_len, 2, seed=5)
    ours = tbptt.lstm_stack(1, 5, seed=11)
    theirs = tbptt.lstm_stack(1, 5, seed=11, stateful=True, batch_size=batch)
    _assert_close(ours.get_weights(), theirs.get_weights(), atol=0)
    theirs.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
    tbptt.keras_stateful_fit(theirs, x, y, k, epochs=2)
    trainer = tbptt.TBPTTTrainer(ours, k, k, keras.optimizers.SGD(0.5))
    trainer.fit(x, y, epochs=2, batch_size=batch, shuffle=False, verbose=0)
    _assert_close(ours.get_weights(), theirs.get_weights(), atol=2e-5)
    untrained = tbptt.lstm_stack(1, 5, seed=11).get_weights()[0]
    assert np.abs(ours.get_weights()[0] - untrained).max() > 1e-3  # training did move them


def test_fit_returns_history_and_prints_one_line_per_epoch(echo, capsys):
    x, y = echo
    trainer = tbptt.TBPTTTrainer(tbptt.lstm_stack(1, 4, seed=0), 4, 6)
    history = trainer.fit(x, y, epochs=2, batch_size=3, verbose=2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("TBPTT(4,6)")]
    assert len(lines) == 2
    assert set(history) == {"loss", "updates", "backprop_steps", "seconds"}
    assert history["updates"] == [6, 6]  # 3 updates x 2 batches of sequences
    assert all(np.isfinite(history["loss"]))


def test_restart_reproduces_a_fresh_run(echo):
    x, y = echo
    m = tbptt.lstm_stack(1, 4, seed=0)
    start = m.get_weights()
    trainer = tbptt.TBPTTTrainer(m, 4, 4, keras.optimizers.Adam(0.05))
    trainer.fit(x, y, epochs=2, verbose=0)
    first = m.get_weights()
    trainer.restart(start).fit(x, y, epochs=2, verbose=0)
    _assert_close(m.get_weights(), first, atol=1e-6)


def test_with_state_io_keeps_the_predictions_of_a_plain_stack():
    x, _, _ = data.marker_task(4, 10, seed=0)
    plain = models.lstm_classifier(None, 2, 6)
    wrapped = tbptt.with_state_io(plain)
    got = tbptt.predict_sequences(wrapped, x, chunk=3)[:, -1]
    np.testing.assert_allclose(got, plain.predict(x, verbose=0), atol=1e-5)


def test_reset_states_reaches_layers_inside_bidirectional():
    inp = keras.Input((5, 2), batch_size=3)
    hidden = keras.layers.Bidirectional(
        keras.layers.LSTM(4, stateful=True, return_sequences=True))(inp)
    out = keras.layers.LSTM(3, stateful=True)(hidden)
    m = keras.Model(inp, out)
    m.predict(np.ones((3, 5, 2), "float32"), verbose=0)
    layers = tbptt.stateful_layers(m)
    assert len(layers) == 3  # forward, backward and the plain LSTM
    assert any(np.abs(np.asarray(v)).max() > 0 for layer in layers for v in layer.states)
    assert tbptt.reset_states(m) == 3
    assert all(np.abs(np.asarray(v)).max() == 0 for layer in layers for v in layer.states)


def test_draw_schedule_returns_a_figure():
    fig, ax = tbptt.draw_schedule(20, 4, 8)
    assert ax.get_title().startswith("TBPTT")
    fig2, _ = tbptt.draw_schedule(20, 8, 3)
    import matplotlib.pyplot as plt

    plt.close(fig)
    plt.close(fig2)


# --------------------------------------------------------------------------- bad input


def _plain_stateful():
    return tbptt.lstm_stack(1, 3, stateful=True, batch_size=2)


def _fixed_length():
    inp = keras.Input((10, 1))
    h0, c0 = keras.Input((3,)), keras.Input((3,))
    seq, h, c = keras.layers.LSTM(3, return_sequences=True, return_state=True)(
        inp, initial_state=[h0, c0])
    return keras.Model([inp, h0, c0], [seq, h, c])


def _two_inputs_one_output():
    a, b = keras.Input((None, 1)), keras.Input((None, 1))
    return keras.Model([a, b], keras.layers.LSTM(3)(keras.layers.Concatenate()([a, b])))


X = np.zeros((4, 10, 1), "float32")
Y = np.zeros((4, 10, 1), "float32")

BAD = [
    ("k1 = 0", lambda m: tbptt.TBPTTTrainer(m, 0, 3), "k1 must be >= 1"),
    ("k2 = 0", lambda m: tbptt.TBPTTTrainer(m, 3, 0), "k2 must be >= 1"),
    ("k1 < 0", lambda m: tbptt.TBPTTTrainer(m, -2, 3), "k1 must be >= 1"),
    ("k1 > T", lambda m: tbptt.TBPTTTrainer(m, 11, 3).fit(X, Y), "k1 must be between 1 and"),
    ("k2 > T", lambda m: tbptt.TBPTTTrainer(m, 3, 11).fit(X, Y), "k2 must be between 1 and"),
    ("x 2-D", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X[:, :, 0], Y), "x must be 3-D"),
    ("x 4-D", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X[..., None], Y), "x must be 3-D"),
    ("batch mismatch", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y[:3]), "batch mismatch"),
    ("y length", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y[:, :9]), "10 timesteps like x"),
    ("features", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(np.zeros((4, 10, 2)), Y),
     "model expects 1"),
    ("epochs", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y, epochs=0), "epochs must be >= 1"),
    ("batch_size", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y, batch_size=0),
     "batch_size must be >= 1"),
    ("verbose", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y, verbose=5), "verbose must be"),
    ("seq2one", lambda m: tbptt.TBPTTTrainer(m, 3, 3, seq2one="first"), "seq2one must be one of"),
    ("step_weights shape", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y, step_weights=[1, 2]),
     "step_weights must have shape"),
    ("step_weights < 0", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y, step_weights=-np.ones(10)),
     "step_weights must be >= 0"),
    ("no state io", lambda m: tbptt.TBPTTTrainer(_two_inputs_one_output(), 3, 3),
     "must take \\[x, \\*states\\]"),
    ("k2_mode", lambda m: tbptt.TBPTTTrainer(m, 6, 3, k2_mode="dl4j"),
     "k2_mode must be one of \\('cut_every_k2', 'last_k2'\\)"),
    ("plan k2_mode", lambda m: tbptt.plan_updates(10, 6, 3, "last"), "k2_mode must be one of"),
    ("restart k2_mode", lambda m: tbptt.TBPTTTrainer(m, 6, 3).restart(k2_mode=None or 3),
     "k2_mode must be one of"),
    ("x NaN", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(np.where(X == 0, np.nan, X), Y),
     "x must hold finite numbers, but 40 entries are NaN or inf"),
    ("y inf", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y + np.inf),
     "y must hold finite numbers, but 40 entries"),
    ("step_weights NaN", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(
        X, Y, step_weights=np.full(10, np.nan)),
     "step_weights must hold finite numbers, but 10 entries"),
    ("predict x inf", lambda m: tbptt.predict_sequences(m, X - np.inf), "x must hold finite"),
    ("y [N, T] for a 2-wide output", lambda m: tbptt.TBPTTTrainer(
        tbptt.lstm_stack(1, 3, n_outputs=2), 3, 3).fit(X, Y[..., 0]),
     "output is 2 wide.*\\[samples, timesteps, 2\\]"),
    ("y 3 wide for a 1-wide output", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(
        X, np.zeros((4, 10, 3))), "y has 3 values per step but the model's output is 1 wide"),
    ("y [N] for a 3-wide output", lambda m: tbptt.TBPTTTrainer(
        tbptt.lstm_stack(1, 3, n_outputs=3), 3, 3).fit(X, np.zeros(4)), "output is 3 wide"),
    ("y [N, 7] for a 1-wide output", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(
        X, np.zeros((4, 7))), "\\[samples, timesteps\\]"),
    ("time_pairs clock", lambda m: tbptt.time_pairs(X, Y, [(2, 2)], clock="gpu"),
     "clock must be 'wall' or 'cpu'"),
    ("no input yet", lambda m: tbptt.TBPTTTrainer(
        keras.Sequential([keras.layers.LSTM(3), keras.layers.Dense(1)]), 2, 2),
     "no known input yet"),
    ("loss class", lambda m: tbptt.TBPTTTrainer(m, 3, 3, loss=keras.layers.Dense),
     "loss class must subclass keras.losses.Loss"),
    ("fixed length", lambda m: tbptt.TBPTTTrainer(_fixed_length(), 3, 3), "fixed length of 10"),
    ("stateful, no batch size", lambda m: tbptt.lstm_stack(1, 3, stateful=True),
     "batch_size must be set when stateful"),
    ("keras fit on stateless", lambda m: tbptt.keras_stateful_fit(m, X, Y, 5),
     "no stateful recurrent layer"),
    ("chunks do not divide", lambda m: tbptt.stateful_chunks(X, Y, 3, 2), "to divide timesteps"),
    ("plan k1 > T", lambda m: tbptt.plan_updates(5, 6, 2), "k1 must be between 1 and"),
    ("unknown loss", lambda m: tbptt.TBPTTTrainer(m, 3, 3, loss="no_such_loss"), "unknown loss"),
    ("y 4-D", lambda m: tbptt.TBPTTTrainer(m, 3, 3).fit(X, Y[..., None]), "y must be"),
    ("horizon x 2-D", lambda m: tbptt.gradient_horizon(m, X[:, :, 0]), "x must be 3-D"),
    ("no units", lambda m: tbptt.lstm_stack(1, ()), "units must name at least one"),
]


@pytest.mark.parametrize("case, call, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_a_clear_error(model, case, call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(model)


def test_stateful_model_is_refused_by_the_trainer():
    inp = keras.Input((None, 1), batch_size=2)
    h0, c0 = keras.Input((3,), batch_size=2), keras.Input((3,), batch_size=2)
    seq, h, c = keras.layers.LSTM(3, return_sequences=True, return_state=True, stateful=True)(
        inp, initial_state=[h0, c0])
    with pytest.raises(ValueError, match="stateful=True"):
        tbptt.TBPTTTrainer(keras.Model([inp, h0, c0], [seq, h, c]), 2, 2)


def test_wrong_types_raise_type_errors(model):
    with pytest.raises(TypeError, match="k1 must be an int"):
        tbptt.TBPTTTrainer(model, 2.5, 3)
    with pytest.raises(TypeError, match="k2 must be an int"):
        tbptt.TBPTTTrainer(model, 2, True)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        tbptt.TBPTTTrainer("lstm", 2, 2)


def test_bidirectional_stack_cannot_be_converted():
    inp = keras.Input((None, 1))
    out = keras.layers.Dense(1)(keras.layers.Bidirectional(keras.layers.LSTM(3))(inp))
    with pytest.raises(ValueError, match="Bidirectional"):
        tbptt.with_state_io(keras.Model(inp, out))


# --------------------------------------------------------------------------- plain stacks


def _sequential():
    return keras.Sequential([
        keras.Input((None, 2)),
        keras.layers.LSTM(4, return_sequences=True, seed=1),
        keras.layers.LayerNormalization(),
        keras.layers.Dropout(0.0),
        keras.layers.GRU(3, seed=2),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def test_trainer_converts_a_plain_sequential_and_trains_it_in_place():
    keras.utils.set_random_seed(0)
    plain = _sequential()
    converted = tbptt.with_state_io(plain)
    x = np.random.default_rng(0).normal(size=(3, 9, 2)).astype("float32")
    y = np.array([0.0, 1.0, 1.0], "float32")
    a = tbptt.TBPTTTrainer(plain, 3, 6).compute_gradients(x, y)
    b = tbptt.TBPTTTrainer(converted, 3, 6).compute_gradients(x, y)
    _assert_close(a, b, atol=1e-7)
    before = [w.copy() for w in plain.get_weights()]
    trainer = tbptt.TBPTTTrainer(plain, 3, 6, keras.optimizers.SGD(0.5))
    assert trainer.source_model is plain and trainer.model is not plain
    trainer.fit(x, y, epochs=1, verbose=0)
    _assert_close(plain.get_weights(), trainer.model.get_weights(), atol=0)
    assert max(np.abs(p - q).max() for p, q in zip(before, plain.get_weights(), strict=True)) > 0


def test_functional_chain_with_time_distributed_keeps_its_predictions():
    inp = keras.Input((None, 2))
    hidden = keras.layers.SimpleRNN(3, return_sequences=True, seed=0)(inp)
    hidden = keras.layers.TimeDistributed(keras.layers.Dense(4, activation="relu"))(hidden)
    out = keras.layers.Dense(2)(keras.layers.LSTM(3, return_sequences=True, seed=1)(hidden))
    plain = keras.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(2, 7, 2)).astype("float32")
    got = tbptt.predict_sequences(tbptt.with_state_io(plain), x, chunk=3)
    np.testing.assert_allclose(got, plain.predict(x, verbose=0), atol=1e-5)


def _across_time(layer):
    inp = keras.Input((6, 2))
    hidden = keras.layers.LSTM(3, return_sequences=True)(inp)
    return keras.Model(inp, keras.layers.Dense(1)(layer(hidden)))


@pytest.mark.parametrize("make, message", [
    (lambda: keras.layers.Conv1D(2, 3, padding="same"), "Conv1D.*looks across time"),
    (lambda: keras.layers.MaxPooling1D(2), "MaxPooling1D.*pools over steps"),
    (lambda: keras.layers.BatchNormalization(), "BatchNormalization.*LayerNormalization"),
    (lambda: keras.layers.LayerNormalization(axis=1), "LayerNormalization.*axis other than"),
    (lambda: keras.layers.GlobalAveragePooling1D(), "GlobalAveragePooling1D"),
    (lambda: keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True)),
     "Bidirectional.*runs backwards"),
    (lambda: keras.layers.Lambda(lambda t: t), "Lambda.*may do anything"),
])
def test_with_state_io_refuses_layers_that_look_across_time(make, message):
    with pytest.raises(ValueError, match=message):
        tbptt.with_state_io(_across_time(make()))


def test_with_state_io_refuses_attention_flatten_and_go_backwards():
    inp = keras.Input((None, 2))
    hidden = keras.layers.LSTM(3, return_sequences=True)(inp)
    att = keras.layers.MultiHeadAttention(1, 3)(hidden, hidden)
    with pytest.raises(ValueError, match="MultiHeadAttention.*attends over steps"):
        tbptt.with_state_io(keras.Model(inp, att))
    fixed = keras.Input((6, 2))
    flat = keras.layers.Flatten()(keras.layers.LSTM(3, return_sequences=True)(fixed))
    with pytest.raises(ValueError, match="Flatten.*looks across time"):
        tbptt.with_state_io(keras.Model(fixed, keras.layers.Dense(1)(flat)))
    with pytest.raises(ValueError, match="go_backwards"):
        tbptt.with_state_io(keras.Model(inp, keras.layers.LSTM(2, go_backwards=True)(inp)))


def test_with_state_io_refuses_models_that_are_not_a_chain():
    inp = keras.Input((None, 2))
    seq = keras.layers.LSTM(3, return_sequences=True, name="lstm_a")(inp)
    with pytest.raises(ValueError, match="single-input, single-output"):
        tbptt.with_state_io(keras.Model(inp, [keras.layers.Dense(1)(seq), seq]))
    other = keras.layers.LSTM(3, return_sequences=True, name="lstm_b")(inp)  # a second path
    skip = keras.Model(inp, keras.layers.Dense(1, name="head")(seq + other))
    with pytest.raises(ValueError, match="chain of layers.*'lstm_b' does not read 'lstm_a'"):
        tbptt.with_state_io(skip)


# --------------------------------------------------------------------------- targets, losses


def test_a_2d_target_for_a_1_wide_output_is_read_per_step_never_broadcast(echo, model):
    x, y = echo  # y is [4, 12, 1]
    trainer = tbptt.TBPTTTrainer(model, 4, 6)
    _assert_close(trainer.compute_gradients(x, y[..., 0]), trainer.compute_gradients(x, y),
                  atol=0)
    # a label per sequence of a 1-wide output is still sequence-to-one
    labels = y[:, -1, 0]
    _assert_close(trainer.compute_gradients(x, labels[:, None]),
                  trainer.compute_gradients(x, labels), atol=0)


def test_sparse_loss_takes_class_indices_per_step():
    m = tbptt.lstm_stack(1, 3, n_outputs=4, output_activation="softmax", seed=0)
    x = np.random.default_rng(0).normal(size=(2, 8, 1)).astype("float32")
    idx = np.random.default_rng(1).integers(0, 4, size=(2, 8))
    trainer = tbptt.TBPTTTrainer(m, 4, 4, loss="sparse_categorical_crossentropy")
    onehot = tbptt.TBPTTTrainer(m, 4, 4, loss="categorical_crossentropy")
    _assert_close(trainer.compute_gradients(x, idx),
                  onehot.compute_gradients(x, np.eye(4)[idx]), atol=1e-6)


@pytest.mark.parametrize("loss", [
    "mse", "mean_squared_error", "MeanSquaredError", keras.losses.MeanSquaredError(),
    keras.losses.MeanSquaredError, keras.losses.mean_squared_error,
])
def test_a_loss_can_be_a_name_an_object_a_class_or_a_function(echo, model, loss):
    x, y = echo
    want = tbptt.TBPTTTrainer(model, 4, 6, loss=keras.losses.mean_squared_error)
    got = tbptt.TBPTTTrainer(model, 4, 6, loss=loss)
    _assert_close(got.compute_gradients(x, y), want.compute_gradients(x, y), atol=0)


def test_no_retracing_across_epochs_and_restarts(echo):
    x, y = echo
    trainer = tbptt.TBPTTTrainer(tbptt.lstm_stack(1, 4, seed=0), 3, 6)
    trainer.fit(x, y, epochs=1, verbose=0)
    traced = trainer.traces
    assert traced >= 1
    trainer.fit(x, y, epochs=2, verbose=0)
    trainer.restart(k1=4, k2=8).fit(x, y, epochs=1, verbose=0)  # same structure: 1-2 segments
    assert trainer.traces == traced


# --------------------------------------------------------------------------- mixed precision


@pytest.fixture
def policy():
    """Set a global dtype policy for one test and always restore the previous one."""
    before = keras.mixed_precision.global_policy()

    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)

    try:
        yield set_policy
    finally:
        keras.mixed_precision.set_global_policy(before)


def test_mixed_bfloat16_trains_with_a_float32_loss_and_float32_state(echo, policy):
    x, y = echo
    reference = tbptt.lstm_stack(1, 5, seed=3)
    want = tbptt.TBPTTTrainer(reference, 4, 6).compute_gradients(x, y)
    policy("mixed_bfloat16")
    m = tbptt.lstm_stack(1, 5, seed=3)
    assert m.outputs[0].dtype == "bfloat16"
    trainer = tbptt.TBPTTTrainer(m, 4, 6, keras.optimizers.Adam(1e-2))
    assert trainer.state_dtypes == [tf.float32, tf.float32]
    assert not isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    got = trainer.compute_gradients(x, y)
    assert all(g.dtype == np.float32 for g in got)  # float32 master weights
    for g, w in zip(got, want, strict=True):  # bfloat16 keeps ~3 significant digits
        np.testing.assert_allclose(g, w, atol=0.05 * np.abs(w).max() + 1e-4)
    history = trainer.fit(x, y, epochs=2, verbose=0)
    assert all(np.isfinite(history["loss"]))
    plain = keras.Sequential([keras.Input((None, 1)), keras.layers.LSTM(3),
                              keras.layers.Dense(1, activation="sigmoid")])
    assert np.isfinite(tbptt.TBPTTTrainer(plain, 4, 4).fit(x, y[:, -1], verbose=0)["loss"][0])
    assert tbptt.predict_sequences(m, x).dtype == np.float32


def test_mixed_float16_wraps_the_optimizer_in_loss_scaling(echo, policy):
    x, y = echo
    policy("mixed_float16")
    trainer = tbptt.TBPTTTrainer(tbptt.lstm_stack(1, 4, seed=0), 4, 4, "sgd")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(trainer.fit(x, y, epochs=1, verbose=0)["loss"][0])
    scale = float(trainer.optimizer.dynamic_scale.numpy())
    trainer.restart()
    assert float(trainer.optimizer.dynamic_scale.numpy()) == trainer.optimizer.initial_scale
    assert scale > 0


def test_time_pairs_reports_both_clocks_and_both_modes():
    x, y, _ = data.lag_echo(2, 12, 1, seed=0)
    rows = tbptt.time_pairs(x, y, [(3, 3), (3, 6), (6, 3, "last_k2")], units=3, repeats=1,
                            clock="cpu")
    assert [(r["k1"], r["k2"], r["k2_mode"]) for r in rows] == [
        (3, 3, "cut_every_k2"), (3, 6, "cut_every_k2"), (6, 3, "last_k2")]
    assert rows[0]["predicted"] == rows[0]["measured"] == 1.0
    assert rows[2]["steps_ratio"] == 0.5 and all(r["cpu_seconds"] > 0 for r in rows)
