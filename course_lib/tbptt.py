"""Truncated backpropagation through time with separate k1 and k2, for Keras 3 on TensorFlow.

Keras trains recurrent layers with TBPTT(k, k) only: the ``timesteps`` axis (or a
stateful layer fed chunk after chunk) fixes both how many steps run between weight
updates and how far back the gradient flows. :class:`TBPTTTrainer` splits the two:

* ``k1`` -- timesteps processed forward between two weight updates;
* ``k2`` -- timesteps the gradient flows back from an update.

Two regimes (see ``docs/tbptt.md`` for the derivation and the choices made):

* ``k2 >= k1`` (Williams & Peng, Sutskever): an update at step ``t`` (every ``k1``
  steps) restarts from the stored, detached state at ``t - k2``, runs over the last
  ``k2`` steps, puts the loss on the last ``k1`` outputs only and backpropagates through
  all ``k2`` steps. Windows overlap, so each step costs about ``k2 / k1`` forward and
  backward passes.
* ``k2 < k1`` (the DL4J-like variant): an update runs ``k1`` new steps, cuts the gradient
  every ``k2`` steps (``stop_gradient`` on the carried state) and puts the loss on all
  ``k1`` outputs.

The model passes its state explicitly: it takes ``[x, *states]`` and returns
``[y, *states]`` (:func:`lstm_stack` builds one; :func:`with_state_io` converts a plain
stack of LSTM/GRU and Dense layers). The layers stay stateless, keep cuDNN's default
settings, and every update runs inside a ``tf.function``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from course_lib.data import check_positive_int

SEQ2ONE_MODES = ("last", "every_step")
_RNN_STATE_COUNT = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Update:
    """One weight update of TBPTT(k1, k2), as half-open step ranges of one sequence.

    Attributes:
        boundaries: segment edges ``(start, ..., stop)``; the update runs the model over
            ``[start, stop)`` one segment after the other, from the state stored at ``start``.
        loss_start: the loss covers the outputs of steps ``[loss_start, stop)``.
        cut: whether the gradient is cut (``stop_gradient``) between segments.
        store: the step whose state the next update starts from (a boundary), or None
            for the last update of a sequence.
    """

    boundaries: tuple[int, ...]
    loss_start: int
    cut: bool
    store: int | None

    @property
    def start(self) -> int:
        return self.boundaries[0]

    @property
    def stop(self) -> int:
        return self.boundaries[-1]

    @property
    def segments(self) -> list[tuple[int, int]]:
        return list(zip(self.boundaries[:-1], self.boundaries[1:], strict=True))

    @property
    def backprop_steps(self) -> int:
        """Return how many steps run under the gradient tape in this update."""
        return self.stop - self.start


def check_k(k1: Any, k2: Any, seq_len: int | None = None) -> tuple[int, int]:
    """Return ``(k1, k2)`` as ints after checking ``1 <= k1, k2`` (and ``<= seq_len`` if given)."""
    checked = []
    for name, value in (("k1", k1), ("k2", k2)):
        value = check_positive_int(name, value, minimum=1)
        if seq_len is not None and value > seq_len:
            raise ValueError(
                f"{name} must be between 1 and the sequence length {seq_len}, got {value}; "
                f"a window longer than the sequence means nothing (use {name}={seq_len} for "
                "full BPTT)"
            )
        checked.append(value)
    return checked[0], checked[1]


def plan_updates(seq_len: int, k1: int, k2: int) -> list[Update]:
    """Return the weight updates TBPTT(k1, k2) makes over one sequence of ``seq_len`` steps.

    Updates end at steps ``k1, 2*k1, ...`` and at ``seq_len``: a last, shorter window
    is kept when ``k1`` does not divide ``seq_len``.

    Args:
        seq_len: timesteps per sequence (>= 1).
        k1: steps between updates, ``1 <= k1 <= seq_len``.
        k2: steps of backpropagation, ``1 <= k2 <= seq_len``.

    Returns:
        A list of :class:`Update`, in order.
    """
    seq_len = check_positive_int("seq_len", seq_len)
    k1, k2 = check_k(k1, k2, seq_len)
    ends = list(range(k1, seq_len, k1)) + [seq_len]
    updates = []
    previous = 0
    for i, stop in enumerate(ends):
        last = i == len(ends) - 1
        if k2 >= k1:
            start = max(0, stop - k2)
            # the next window starts k2 steps before the next update; that step lies
            # inside this window, so its state comes out of this update's forward pass
            nxt = None if last else max(0, ends[i + 1] - k2)
            edges = sorted({start, stop} | ({nxt} if nxt is not None else set()))
            updates.append(Update(tuple(edges), previous, False, nxt))
        else:
            edges = list(range(previous, stop, k2)) + [stop]
            updates.append(Update(tuple(edges), previous, True, None if last else stop))
        previous = stop
    return updates


def cost_ratio(seq_len: int, k1: int, k2: int) -> float:
    """Return the steps run with gradient per timestep of data (about ``max(k2/k1, 1)``)."""
    updates = plan_updates(seq_len, k1, k2)
    return sum(u.backprop_steps for u in updates) / seq_len


# --------------------------------------------------------------------------- models


def _initializers(seed: int, index: int) -> dict[str, Any]:
    return {
        "kernel_initializer": keras.initializers.GlorotUniform(seed=seed + 3 * index),
        "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 3 * index + 1),
    }


def lstm_stack(
    n_features: int,
    units: int | Sequence[int] = 32,
    n_outputs: int = 1,
    output_activation: str | None = "sigmoid",
    *,
    stateful: bool = False,
    batch_size: int | None = None,
    seed: int = 0,
    name: str = "lstm_stack",
) -> keras.Model:
    """Build LSTM layer(s) + a Dense head applied at every step, with state in and out.

    With ``stateful=False`` (for :class:`TBPTTTrainer`) the model maps
    ``[x, h1, c1, h2, c2, ...]`` to ``[y, h1, c1, h2, c2, ...]``. With ``stateful=True`` it is
    the same network as a plain Keras stateful model ``x -> y`` (the layers keep their
    state between batches), with identical weights for the same ``seed`` -- the reference
    that TBPTT(k, k) must match.

    Args:
        n_features: features per timestep.
        units: LSTM units, one int per layer.
        n_outputs: outputs per timestep of the Dense head.
        output_activation: the head's activation (``"sigmoid"``, ``"softmax"``, None, ...).
        stateful: build the Keras stateful twin instead of the explicit-state model.
        batch_size: fixed batch size; required when ``stateful`` (Keras needs it).
        seed: seed of the weight initializers.

    Returns:
        A ``keras.Model``; x is ``[batch, timesteps, n_features]``, y is
        ``[batch, timesteps, n_outputs]``, each state ``[batch, units]``.
    """
    n_features = check_positive_int("n_features", n_features)
    layer_units = (units,) if isinstance(units, (int, np.integer)) else tuple(units)
    if not layer_units:
        raise ValueError("units must name at least one LSTM layer, e.g. 32 or (32, 16)")
    layer_units = tuple(check_positive_int("units", u) for u in layer_units)
    n_outputs = check_positive_int("n_outputs", n_outputs)
    if stateful and batch_size is None:
        raise ValueError(
            "batch_size must be set when stateful=True: Keras stateful layers need a fixed "
            "batch size (keras.Input(batch_size=...))"
        )
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    x_in = keras.Input(shape=(None, n_features), batch_size=batch_size, name="x")
    head = keras.layers.Dense(
        n_outputs, activation=output_activation, name="head",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 999),
    )
    if stateful:
        hidden = x_in
        for i, u in enumerate(layer_units):
            hidden = keras.layers.LSTM(u, return_sequences=True, stateful=True,
                                       name=f"lstm_{i}", **_initializers(seed, i))(hidden)
        return keras.Model(x_in, head(hidden), name=name)
    state_in, state_out = [], []
    hidden = x_in
    for i, u in enumerate(layer_units):
        h0 = keras.Input(shape=(u,), batch_size=batch_size, name=f"h{i}")
        c0 = keras.Input(shape=(u,), batch_size=batch_size, name=f"c{i}")
        layer = keras.layers.LSTM(u, return_sequences=True, return_state=True,
                                  name=f"lstm_{i}", **_initializers(seed, i))
        hidden, h, c = layer(hidden, initial_state=[h0, c0])
        state_in += [h0, c0]
        state_out += [h, c]
    return keras.Model([x_in, *state_in], [head(hidden), *state_out], name=name)


def with_state_io(model: keras.Model, name: str | None = None) -> keras.Model:
    """Return a copy of a plain layer stack that takes and returns its recurrent state.

    ``model`` is a chain ``x -> LSTM/GRU/SimpleRNN ... -> Dense ...`` (e.g.
    ``models.lstm_classifier``). Every recurrent layer is rebuilt with
    ``return_sequences=True, return_state=True, stateful=False`` and the same weights, so
    the head runs at every step; a sequence-to-one model's prediction is the last step's.

    Args:
        model: a single-input, single-output chain of layers.

    Returns:
        A model ``[x, *states] -> [y, *states]`` with copied weights (``model`` is unchanged).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError("with_state_io needs a single-input, single-output stack of layers")
    n_features = model.inputs[0].shape[-1]
    if len(model.inputs[0].shape) != 3 or n_features is None:
        raise ValueError(
            f"model input must be [batch, timesteps, features], got {model.inputs[0].shape}"
        )
    x_in = keras.Input(shape=(None, n_features), name="x")
    hidden, state_in, state_out, pairs = x_in, [], [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(
                f"layer {layer.name!r} is Bidirectional: a backward pass needs the whole "
                "sequence, so it cannot be trained window by window with TBPTT"
            )
        config = layer.get_config()
        if kind in _RNN_STATE_COUNT:
            config.update(return_sequences=True, return_state=True, stateful=False)
            clone = type(layer).from_config(config)
            states = [keras.Input(shape=(layer.units,), name=f"{layer.name}_s{j}")
                      for j in range(_RNN_STATE_COUNT[kind])]
            outputs = clone(hidden, initial_state=states)
            hidden = outputs[0]
            state_in += states
            state_out += list(outputs[1:])
        elif isinstance(layer, keras.layers.RNN):
            raise ValueError(f"layer {layer.name!r} ({kind}) is not supported; use LSTM or GRU")
        else:
            clone = type(layer).from_config(config)
            hidden = clone(hidden)
        pairs.append((layer, clone))
    if not state_in:
        raise ValueError("model has no LSTM/GRU/SimpleRNN layer, so there is no state to carry")
    new = keras.Model([x_in, *state_in], [hidden, *state_out], name=name or f"{model.name}_tbptt")
    for old, clone in pairs:
        clone.set_weights(old.get_weights())
    return new


def _walk_layers(layer):
    yield layer
    children = []
    if isinstance(layer, keras.Model):
        children += list(layer.layers)
    for attr in ("forward_layer", "backward_layer", "layer"):
        child = getattr(layer, attr, None)
        if isinstance(child, keras.layers.Layer):
            children.append(child)
    for child in children:
        yield from _walk_layers(child)


def stateful_layers(model: keras.Layer) -> list[keras.Layer]:
    """Return the stateful recurrent layers in ``model`` (inside Bidirectional too)."""
    seen, found = set(), []
    for layer in _walk_layers(model):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if isinstance(layer, keras.layers.RNN) and getattr(layer, "stateful", False):
            found.append(layer)
    return found


def reset_states(model: keras.Layer) -> int:
    """Zero the state of every stateful recurrent layer in ``model``; return how many.

    Works for Keras 3 models, nested models and layers wrapped in ``Bidirectional``
    (whose forward and backward layers each keep a state).
    """
    if not isinstance(model, keras.Layer):
        raise TypeError(f"model must be a Keras layer or model, got {type(model).__name__}")
    count = 0
    for layer in stateful_layers(model):
        if layer.states is None:
            raise ValueError(
                f"layer {layer.name!r} is stateful but has no state yet: build it with a "
                "fixed batch size (keras.Input(batch_size=...)) and call it once"
            )
        layer.reset_state()
        count += 1
    return count


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy ``source``'s weights into ``target`` (same layers in the same order); return it."""
    src, dst = source.get_weights(), target.get_weights()
    if [w.shape for w in src] != [w.shape for w in dst]:
        raise ValueError("source and target have different weight shapes; build them alike")
    target.set_weights(src)
    return target


# --------------------------------------------------------------------------- helpers


def _state_shapes(model: keras.Model) -> list[tuple[int, ...]]:
    return [tuple(t.shape[1:]) for t in model.inputs[1:]]


def check_state_model(model: Any) -> keras.Model:
    """Return ``model`` if it maps ``[x, *states]`` to ``[y, *states]``, else raise ValueError."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    how = "build it with tbptt.lstm_stack(...) or convert a plain stack with tbptt.with_state_io()"
    if len(model.inputs) < 2 or len(model.outputs) != len(model.inputs):
        raise ValueError(
            f"model must take [x, *states] and return [y, *states] ({len(model.inputs)} inputs, "
            f"{len(model.outputs)} outputs found); {how}"
        )
    x_shape = model.inputs[0].shape
    if len(x_shape) != 3:
        raise ValueError(f"model's first input must be [batch, timesteps, features], got {x_shape}")
    if x_shape[1] is not None:
        raise ValueError(
            f"model's input has a fixed length of {x_shape[1]} timesteps; TBPTT windows vary "
            "in length, so build it with shape=(None, features)"
        )
    ins = _state_shapes(model)
    outs = [tuple(t.shape[1:]) for t in model.outputs[1:]]
    if ins != outs:
        raise ValueError(f"state inputs {ins} and state outputs {outs} must have the same shapes")
    if any(None in s for s in ins):
        raise ValueError(f"state shapes must be fully known, got {ins}")
    found = stateful_layers(model)
    if found:
        raise ValueError(
            f"layer {found[0].name!r} is stateful=True; TBPTTTrainer carries the state itself, "
            "so build the layers with stateful=False"
        )
    return model


def _as_3d_x(x: Any, model: keras.Model) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D [samples, timesteps, features], got shape {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must hold at least one sample and one timestep, got shape {x.shape}")
    want = model.inputs[0].shape[-1]
    if want is not None and x.shape[2] != want:
        raise ValueError(f"x has {x.shape[2]} features per step but the model expects {want}")
    return x.astype(np.float32, copy=False)


def _loss_fn(loss: Any):
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # unreduced: one value per sample and step
    if callable(loss):
        return loss
    try:
        return keras.losses.get(loss)
    except ValueError:
        raise ValueError(f"unknown loss {loss!r}; use a Keras loss name or function") from None


def _targets(
    x: np.ndarray, y: Any, seq2one: str, step_weights: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return per-step targets ``[N, T, d]`` and loss weights ``[N, T]``."""
    n, seq_len = x.shape[:2]
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError("y must have one row per sample, got a scalar")
    if y.shape[0] != n:
        raise ValueError(f"batch mismatch: x has {n} samples but y has {y.shape[0]}")
    if seq2one not in SEQ2ONE_MODES:
        raise ValueError(f"seq2one must be one of {SEQ2ONE_MODES}, got {seq2one!r}")
    weights = np.ones((n, seq_len), dtype=np.float32)
    if y.ndim == 3:
        if y.shape[1] != seq_len:
            raise ValueError(
                f"a sequence-to-sequence y must have {seq_len} timesteps like x, got {y.shape[1]}"
            )
        y_steps = y
    elif y.ndim in (1, 2):
        per_sample = y.reshape(n, 1, -1)
        y_steps = np.broadcast_to(per_sample, (n, seq_len, per_sample.shape[-1]))
        if seq2one == "last":
            weights[:, :-1] = 0.0
    else:
        raise ValueError(
            f"y must be [samples], [samples, d] or [samples, timesteps, d], got {y.shape}"
        )
    if step_weights is not None:
        sw = np.asarray(step_weights, dtype=np.float32)
        if sw.shape == (seq_len,):
            sw = np.broadcast_to(sw, (n, seq_len))
        if sw.shape != (n, seq_len):
            raise ValueError(
                f"step_weights must have shape ({seq_len},) or ({n}, {seq_len}), got {sw.shape}"
            )
        if (sw < 0).any():
            raise ValueError("step_weights must be >= 0")
        weights = weights * sw
    return y_steps.astype(np.float32, copy=False), weights


# --------------------------------------------------------------------------- trainer


class TBPTTTrainer:
    """Train an explicit-state recurrent model with TBPTT(k1, k2) on long sequences.

    Args:
        model: a model ``[x, *states] -> [y, *states]`` (see :func:`lstm_stack`).
        k1: timesteps processed forward between weight updates (>= 1).
        k2: timesteps the gradient flows back (>= 1); ``k2 >= k1`` gives overlapping
            windows, ``k2 < k1`` cuts the gradient every ``k2`` steps inside an update.
        optimizer: a Keras optimizer or its name.
        loss: a Keras loss (name, function or ``keras.losses.Loss``), applied per step.
        seq2one: for targets ``[samples]`` or ``[samples, d]``: ``"last"`` puts the loss at
            the last step of each sequence only (an update whose window does not reach it
            only moves the state forward); ``"every_step"`` copies the label to every step.
    """

    def __init__(
        self,
        model: keras.Model,
        k1: int,
        k2: int,
        optimizer: Any = "adam",
        loss: Any = "binary_crossentropy",
        *,
        seq2one: str = "last",
    ):
        self.model = check_state_model(model)
        self.k1, self.k2 = check_k(k1, k2)
        if seq2one not in SEQ2ONE_MODES:
            raise ValueError(f"seq2one must be one of {SEQ2ONE_MODES}, got {seq2one!r}")
        self.seq2one = seq2one
        self.optimizer = keras.optimizers.get(optimizer)
        self.loss_fn = _loss_fn(loss)
        self.state_shapes = _state_shapes(model)
        self._built = False
        self._train = tf.function(self._train_step, reduce_retracing=True)
        self._grads = tf.function(self._grad_step, reduce_retracing=True)
        self._advance = tf.function(self._forward_step, reduce_retracing=True)
        self._traced: set[tuple] = set()

    # -- compiled pieces ------------------------------------------------------------
    # The traced functions depend only on the number of segments and on ``cut``; the
    # batch and time axes are traced as unknown, so windows of any length (early
    # updates, the ragged last window, a new k1/k2) reuse the same graph.

    def _zero_states(self, batch: int) -> list[tf.Tensor]:
        return [tf.zeros((batch, *s), dtype=tf.float32) for s in self.state_shapes]

    def _run(self, xs, states, cut: bool, training: bool):
        """Run segments ``xs`` from ``states``; return outputs and the state after each."""
        outputs, after = [], []
        for i, xi in enumerate(xs):
            if i > 0 and cut:
                states = [keras.ops.stop_gradient(s) for s in states]
            result = self.model([xi, *states], training=training)
            outputs.append(result[0])
            states = list(result[1:])
            after.append(states)
        y_pred = outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=1)
        return y_pred, after

    def _loss(self, y_true, y_pred, weights):
        n = tf.shape(y_true)[1]
        per_step = self.loss_fn(y_true, y_pred[:, -n:])
        per_step = tf.reshape(per_step, tf.shape(weights))
        total = tf.reduce_sum(per_step * weights)
        return total / tf.maximum(tf.reduce_sum(weights), 1e-12)

    def _grad_step(self, xs, y_true, weights, states, cut: bool):
        with tf.GradientTape() as tape:
            y_pred, after = self._run(xs, states, cut, True)
            loss = self._loss(y_true, y_pred, weights)
        grads = tape.gradient(loss, self.model.trainable_variables)
        grads = [tf.zeros_like(v) if g is None else g
                 for g, v in zip(grads, self.model.trainable_variables, strict=True)]
        return loss, grads, [[tf.stop_gradient(s) for s in st] for st in after]

    def _train_step(self, xs, y_true, weights, states, cut: bool):
        loss, grads, after = self._grad_step(xs, y_true, weights, states, cut)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return loss, after

    def _forward_step(self, xs, states, cut: bool):
        _, after = self._run(xs, states, cut, False)
        return [[tf.stop_gradient(s) for s in st] for st in after]

    def _specs(self, n_segments: int, with_targets: bool, y_dim: int):
        n_features = self.model.inputs[0].shape[-1]
        xs = tuple(tf.TensorSpec((None, None, n_features), tf.float32)
                   for _ in range(n_segments))
        states = [tf.TensorSpec((None, *s), tf.float32) for s in self.state_shapes]
        if not with_targets:
            return (xs, states)
        return (xs, tf.TensorSpec((None, None, y_dim), tf.float32),
                tf.TensorSpec((None, None), tf.float32), states)

    def _compiled(self, kind: str, n_segments: int, cut: bool, y_dim: int):
        """Return the traced function for ``kind`` and this structure, tracing it once."""
        fn = {"train": self._train, "grads": self._grads, "advance": self._advance}[kind]
        key = (kind, n_segments, cut, y_dim)
        if key not in self._traced:
            fn.get_concrete_function(*self._specs(n_segments, kind != "advance", y_dim), cut)
            self._traced.add(key)
        return fn

    # -- driver ---------------------------------------------------------------------

    def _check_data(self, x, y, step_weights):
        x = _as_3d_x(x, self.model)
        check_k(self.k1, self.k2, x.shape[1])
        y_steps, weights = _targets(x, y, self.seq2one, step_weights)
        return x, y_steps, weights

    def _pass(self, x, y_steps, weights, batch_size: int, order, apply: bool):
        """One pass over all sequences; return (losses, updates, backprop steps, grads)."""
        seq_len, y_dim = x.shape[1], y_steps.shape[-1]
        plan = plan_updates(seq_len, self.k1, self.k2)
        losses, n_updates, n_steps, grad_sum = [], 0, 0, None
        for b0 in range(0, len(order), batch_size):
            rows = order[b0:b0 + batch_size]
            xb = tf.constant(x[rows])
            yb, wb = y_steps[rows], weights[rows]
            states = self._zero_states(len(rows))  # a new true sequence starts from zeros
            for update in plan:
                w = wb[:, update.loss_start:update.stop]
                store_at = None if update.store is None else update.boundaries.index(update.store)
                if not w.any():
                    # no loss in this window: only move the stored state forward
                    if store_at:
                        xs = tuple(xb[:, a:b] for a, b in update.segments[:store_at])
                        fn = self._compiled("advance", len(xs), update.cut, y_dim)
                        states = fn(xs, states, update.cut)[-1]
                    continue
                xs = tuple(xb[:, a:b] for a, b in update.segments)
                kind = "train" if apply else "grads"
                fn = self._compiled(kind, len(xs), update.cut, y_dim)
                args = (xs, tf.constant(yb[:, update.loss_start:update.stop]), tf.constant(w),
                        states, update.cut)
                if apply:
                    # losses stay tensors until the epoch ends: no device sync per update
                    loss, after = fn(*args)
                else:
                    loss, grads, after = fn(*args)
                    grad_sum = grads if grad_sum is None else [
                        a + g for a, g in zip(grad_sum, grads, strict=True)]
                if store_at is not None:
                    states = states if store_at == 0 else after[store_at - 1]
                losses.append(loss)
                n_updates += 1
                n_steps += update.backprop_steps * len(rows)
        return losses, n_updates, n_steps, grad_sum

    def restart(self, weights: list[np.ndarray] | None = None, k1: int | None = None,
                k2: int | None = None) -> TBPTTTrainer:
        """Start training afresh: set ``weights``, zero the optimizer's state, maybe new k1/k2.

        Reusing one trainer for several runs reuses its compiled graphs (tracing an LSTM
        update takes about a second), which matters in sweeps such as a k2 x lag grid.

        Args:
            weights: the weights to start from (``model.get_weights()`` format); None keeps
                the current ones.
            k1, k2: a new TBPTT pair; None keeps the current value.
        """
        self.k1, self.k2 = check_k(self.k1 if k1 is None else k1, self.k2 if k2 is None else k2)
        if weights is not None:
            self.model.set_weights(weights)
        if self._built:
            # a zero step count and zero moments are exactly a freshly built optimizer
            for var in self.optimizer.variables:
                if "learning_rate" not in var.path:
                    var.assign(np.zeros(var.shape, dtype=var.dtype))
        return self

    def _build(self):
        if not self._built:
            self.optimizer.build(self.model.trainable_variables)
            self._built = True

    def fit(
        self,
        x: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        step_weights: Any = None,
        verbose: int = 2,
    ) -> dict[str, list[float]]:
        """Train for ``epochs`` passes over ``x``; return the history.

        Args:
            x: float ``[samples, timesteps, features]``; each row is one true sequence.
            y: ``[samples, timesteps, d]`` (sequence-to-sequence) or ``[samples]`` /
                ``[samples, d]`` (sequence-to-one, see ``seq2one``).
            epochs: passes over the data (>= 1).
            batch_size: sequences run side by side (default: all); the state is reset
                when a batch of sequences ends.
            shuffle: shuffle the order of sequences (never the steps) each epoch.
            seed: seed of that shuffle.
            step_weights: optional loss weights ``[timesteps]`` or ``[samples, timesteps]``
                (e.g. 0 for steps whose target is undefined).
            verbose: 0 silent, 1 or 2 one line per epoch.

        Returns:
            ``{"loss", "updates", "backprop_steps", "seconds"}``, one value per epoch.
        """
        x, y_steps, weights = self._check_data(x, y, step_weights)
        epochs = check_positive_int("epochs", epochs)
        batch_size = check_positive_int("batch_size", len(x) if batch_size is None else batch_size)
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        self._build()
        rng = np.random.default_rng(seed)
        history: dict[str, list[float]] = {"loss": [], "updates": [], "backprop_steps": [],
                                           "seconds": []}
        for epoch in range(epochs):
            order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
            began = time.perf_counter()
            losses, n_updates, n_steps, _ = self._pass(x, y_steps, weights, batch_size, order,
                                                       apply=True)
            seconds = time.perf_counter() - began
            mean_loss = float(np.mean([float(v) for v in losses])) if losses else math.nan
            history["loss"].append(mean_loss)
            history["updates"].append(n_updates)
            history["backprop_steps"].append(n_steps)
            history["seconds"].append(seconds)
            if verbose:
                print(f"TBPTT({self.k1},{self.k2}) epoch {epoch + 1}/{epochs} - {seconds:.1f}s - "
                      f"loss {mean_loss:.4f} - {n_updates} updates", flush=True)
        return history

    def compute_gradients(
        self, x: Any, y: Any, *, batch_size: int | None = None, step_weights: Any = None
    ) -> list[np.ndarray]:
        """Return the gradients of one pass over ``x``, summed over its updates, unapplied.

        The weights stay fixed during the pass, so the result is what the updates of one
        epoch would contribute at the current weights. With ``k1 = k2 = timesteps`` and
        one batch it is exactly the full-BPTT gradient of the mean per-step loss.

        Returns:
            One array per ``model.trainable_variables`` entry, same shapes.
        """
        x, y_steps, weights = self._check_data(x, y, step_weights)
        batch_size = check_positive_int("batch_size", len(x) if batch_size is None else batch_size)
        _, _, _, grads = self._pass(x, y_steps, weights, batch_size, np.arange(len(x)),
                                    apply=False)
        if grads is None:
            return [np.zeros(v.shape, dtype=np.float32) for v in self.model.trainable_variables]
        return [np.asarray(g) for g in grads]

    def predict(self, x: Any, *, chunk: int | None = None) -> np.ndarray:
        """Return the model's outputs ``[samples, timesteps, d]`` from a zero state.

        Args:
            x: ``[samples, timesteps, features]``.
            chunk: run this many steps per call, carrying the state (bounds memory).
        """
        return predict_sequences(self.model, x, chunk=chunk)


def predict_sequences(model: keras.Model, x: Any, *, chunk: int | None = None) -> np.ndarray:
    """Run an explicit-state model over whole sequences from a zero state.

    Returns:
        float32 ``[samples, timesteps, d]``.
    """
    model = check_state_model(model)
    x = _as_3d_x(x, model)
    chunk = check_positive_int("chunk", x.shape[1] if chunk is None else chunk)
    states = [tf.zeros((len(x), *s)) for s in _state_shapes(model)]
    outputs = []
    for a in range(0, x.shape[1], chunk):
        result = model([tf.constant(x[:, a:a + chunk]), *states], training=False)
        outputs.append(np.asarray(result[0]))
        states = list(result[1:])
    return np.concatenate(outputs, axis=1)


def gradient_horizon(
    model: keras.Model,
    x: Any,
    *,
    k1: int | None = None,
    k2: int | None = None,
    y: Any = None,
    loss: Any = "binary_crossentropy",
) -> np.ndarray:
    """Return the norm of the last update's loss gradient w.r.t. the input at each lag.

    The whole sequence is run as TBPTT(k1, k2) would run it (stored states detached
    between updates), then the loss at the last step is differentiated with respect to
    every input. With ``k2 >= k1`` the result is exactly zero at lags ``>= k2``; with
    ``k1 = k2 = None`` (full BPTT) it decays but stays nonzero.

    Args:
        model: a model ``[x, *states] -> [y, *states]``.
        x: ``[samples, timesteps, features]``.
        k1, k2: the TBPTT pair; None means the whole sequence.
        y: targets of the last step ``[samples, d]``; None differentiates the mean output.
        loss: the loss used when ``y`` is given.

    Returns:
        float ``[timesteps]``: index ``lag`` holds the mean over samples of
        ``||d loss / d x[t_last - lag]||``.
    """
    model = check_state_model(model)
    x = tf.constant(_as_3d_x(x, model))
    seq_len = int(x.shape[1])
    k1 = seq_len if k1 is None else k1
    k2 = seq_len if k2 is None else k2
    plan = plan_updates(seq_len, *check_k(k1, k2, seq_len))
    loss_fn = _loss_fn(loss)
    states = [tf.zeros((x.shape[0], *s)) for s in _state_shapes(model)]
    with tf.GradientTape() as tape:
        tape.watch(x)
        for update in plan:
            states = [keras.ops.stop_gradient(s) for s in states]
            outputs, stored = None, None
            for j, (a, b) in enumerate(update.segments):
                if j > 0 and update.cut:
                    states = [keras.ops.stop_gradient(s) for s in states]
                if update.store == a:
                    stored = states
                result = model([x[:, a:b], *states], training=False)
                outputs, states = result[0], list(result[1:])
            if update.store == update.stop:
                stored = states
            if update.store is not None:
                states = stored
        last = outputs[:, -1]
        if y is None:
            target = tf.reduce_mean(last)
        else:
            target = tf.reduce_mean(loss_fn(tf.constant(np.asarray(y, np.float32)), last))
    grad = tape.gradient(target, x)
    norms = tf.reduce_mean(tf.norm(grad, axis=-1), axis=0).numpy()
    return norms[::-1].astype(np.float64)


# --------------------------------------------------------------------------- Keras reference


def stateful_chunks(x: Any, y: Any, k: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut sequences into ``k``-step chunks ordered for a Keras stateful ``fit``.

    Batch ``j`` of the result holds chunk ``j % n_chunks`` of sequence group
    ``j // n_chunks``, so with ``shuffle=False`` each layer's state carries from one
    chunk of a sequence to the next; reset it every ``n_chunks`` batches.

    Returns:
        ``x`` ``[groups * n_chunks * batch_size, k, features]`` and ``y`` likewise.
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(f"x and y must be 3-D [samples, timesteps, d], got {x.shape}, {y.shape}")
    n, seq_len = x.shape[:2]
    if y.shape[:2] != (n, seq_len):
        raise ValueError(f"batch mismatch: x {x.shape[:2]} vs y {y.shape[:2]}")
    k = check_positive_int("k", k, maximum=seq_len)
    batch_size = check_positive_int("batch_size", batch_size, maximum=n)
    if seq_len % k or n % batch_size:
        raise ValueError(
            f"a Keras stateful fit needs k ({k}) to divide timesteps ({seq_len}) and "
            f"batch_size ({batch_size}) to divide samples ({n})"
        )

    def arrange(a):
        groups = a.reshape(n // batch_size, batch_size, seq_len // k, k, a.shape[-1])
        return groups.transpose(0, 2, 1, 3, 4).reshape(-1, k, a.shape[-1])

    return arrange(x), arrange(y)


class ResetEvery(keras.callbacks.Callback):
    """Reset the model's stateful layers before every ``n_batches``-th training batch."""

    def __init__(self, n_batches: int):
        super().__init__()
        self.n_batches = check_positive_int("n_batches", n_batches)

    def on_train_batch_begin(self, batch, logs=None):
        if batch % self.n_batches == 0:
            reset_states(self.model)


def keras_stateful_fit(
    model: keras.Model, x: Any, y: Any, k: int, *, epochs: int = 1, verbose: int = 0
) -> keras.callbacks.History:
    """Train a compiled Keras stateful model with TBPTT(k, k): chunks fed in order.

    Args:
        model: compiled, stateful, with a fixed batch size (e.g. ``lstm_stack(...,
            stateful=True, batch_size=B)``); that size sets the sequences per batch.
        x, y: ``[samples, timesteps, d]``.
        k: chunk length.

    Returns:
        The Keras ``History``.
    """
    layers = stateful_layers(model)
    if not layers:
        raise ValueError("model has no stateful recurrent layer; build it with stateful=True")
    batch_size = model.inputs[0].shape[0]
    if batch_size is None:
        raise ValueError("a stateful model needs a fixed batch size: keras.Input(batch_size=...)")
    xc, yc = stateful_chunks(x, y, k, batch_size)
    n_chunks = np.asarray(x).shape[1] // k
    return model.fit(xc, yc, batch_size=batch_size, epochs=epochs, shuffle=False,
                     verbose=verbose, callbacks=[ResetEvery(n_chunks)])


# --------------------------------------------------------------------------- drawing


def draw_schedule(seq_len: int, k1: int, k2: int, ax=None, max_updates: int = 8,
                  legend: bool = True):
    """Draw which steps each update of TBPTT(k1, k2) runs, backpropagates and scores.

    Each row is one update: a light bar for the steps run under the gradient tape, a
    dark bar for the steps that carry loss, ``|`` where the gradient is cut, and a dot
    at the step whose state the next update starts from.

    Returns:
        ``(fig, ax)``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from course_lib import plots

    plan = plan_updates(seq_len, k1, k2)[:check_positive_int("max_updates", max_updates)]
    title = f"TBPTT(k1={k1}, k2={k2}) on {seq_len} steps"
    if ax is None:
        fig, ax = plots.figure(title, "timestep", "update", size=(7.0, 0.45 * len(plan) + 1.6))
    else:
        fig = ax.figure
        ax.set_title(title)
        ax.set_xlabel("timestep")
        ax.set_ylabel("update")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grad_color, loss_color = plots.color_for("tbptt"), plots.color_for("bptt")
    for row, update in enumerate(plan):
        ax.barh(row, update.stop - update.start, left=update.start, height=0.6,
                color=grad_color, alpha=0.35)
        ax.barh(row, update.stop - update.loss_start, left=update.loss_start, height=0.3,
                color=loss_color)
        if update.cut:
            for edge in update.boundaries[1:-1]:
                ax.plot([edge, edge], [row - 0.35, row + 0.35], color="black", lw=2)
        if update.store is not None:
            ax.plot(update.store, row, "o", color="black", ms=5)
    ax.set_ylim(len(plan) - 0.5, -0.5)
    ax.set_xlim(0, max(u.stop for u in plan) + 0.5)
    ax.set_yticks(range(len(plan)), [str(i + 1) for i in range(len(plan))])
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=grad_color, alpha=0.35, label="gradient flows (k2)"),
        plt.Rectangle((0, 0), 1, 1, color=loss_color, label="loss on outputs (k1)"),
        plt.Line2D([], [], marker="o", color="black", ls="", label="state kept for next update"),
    ]
    if any(u.cut and len(u.boundaries) > 2 for u in plan):
        handles.append(plt.Line2D([], [], color="black", lw=2, label="gradient cut"))
    if legend:
        ax.legend(handles=handles, loc="upper center",
                  bbox_to_anchor=(0.5, -0.18 - 0.4 / len(plan)), ncol=2, fontsize=8,
                  frameon=False)
    return fig, ax


# --------------------------------------------------------------------------- lag/echo experiments


def echo_accuracy(model: keras.Model, x: Any, y: Any, lag: int) -> float:
    """Return the share of steps ``t >= lag`` where the thresholded output equals the bit.

    Args:
        model: an explicit-state model with one sigmoid output per step.
        x: ``[samples, timesteps, 1]`` from ``data.lag_echo``; y: its targets.
        lag: the task's lag (steps before it have no target and are not scored).
    """
    pred = predict_sequences(model, x)[:, lag:, 0] > 0.5
    truth = np.asarray(y)[:, lag:, 0] > 0.5
    return float(np.mean(pred == truth))


def lag_echo_run(
    lag: int,
    k1: int,
    k2: int,
    *,
    n_samples: int = 32,
    seq_len: int = 100,
    units: int = 16,
    epochs: int = 20,
    learning_rate: float = 1e-2,
    batch_size: int | None = None,
    seed: int = 0,
    trainer: TBPTTTrainer | None = None,
    start_weights: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Train an LSTM on the lag/echo task with TBPTT(k1, k2); score it on fresh sequences.

    Pass ``trainer`` (and ``start_weights``) to reuse one compiled trainer across runs; it
    must wrap a one-feature, one-output model such as ``lstm_stack(1, units)``.

    Returns:
        ``{"accuracy", "history", "seconds", "lag", "k1", "k2"}``; accuracy is measured on
        ``n_samples`` new sequences over steps ``t >= lag`` (0.5 = chance).
    """
    from course_lib import data

    lag = check_positive_int("lag", lag, minimum=1, maximum=seq_len - 1)
    x, y, _ = data.lag_echo(n_samples, seq_len, lag, seed=seed)
    x_test, y_test, _ = data.lag_echo(n_samples, seq_len, lag, seed=seed + 10_000)
    if trainer is None:
        model = lstm_stack(1, units, seed=seed)
        trainer = TBPTTTrainer(model, k1, k2, keras.optimizers.Adam(learning_rate),
                               "binary_crossentropy", seq2one="last")
    else:
        trainer.restart(start_weights, k1, k2)
    # the first `lag` targets have no source bit, so they carry no loss
    weights = (np.arange(seq_len) >= lag).astype(np.float32)
    began = time.perf_counter()
    history = trainer.fit(x, y, epochs=epochs, batch_size=batch_size, seed=seed,
                          step_weights=weights, verbose=0)
    seconds = time.perf_counter() - began
    accuracy = echo_accuracy(trainer.model, x_test, y_test, lag)
    return {"accuracy": accuracy, "history": history, "seconds": seconds,
            "lag": lag, "k1": trainer.k1, "k2": trainer.k2}


def k1_k2_demo(
    k1: int,
    k2: int,
    *,
    lag: int = 4,
    n_samples: int = 16,
    seq_len: int = 48,
    units: int = 12,
    epochs: int = 10,
    seed: int = 0,
):
    """Train a tiny model with TBPTT(k1, k2) on lag/echo and draw schedule + loss curve.

    This is the plain function behind notebook 06's k1/k2 widget.

    Returns:
        ``(fig, result)`` with ``result`` from :func:`lag_echo_run`.
    """
    import matplotlib.pyplot as plt

    from course_lib import plots

    k1, k2 = check_k(k1, k2, seq_len)
    result = lag_echo_run(lag, k1, k2, n_samples=n_samples, seq_len=seq_len, units=units,
                          epochs=epochs, seed=seed)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    draw_schedule(seq_len, k1, k2, ax=left, max_updates=6)
    left.set_title(f"TBPTT(k1={k1}, k2={k2}): first updates")
    left.set_xlabel("timestep")
    left.set_ylabel("update")
    loss = result["history"]["loss"]
    right.plot(range(1, len(loss) + 1), loss, marker="o", color=plots.color_for("tbptt"))
    right.axhline(np.log(2), color="grey", ls="--", lw=1, label="chance (ln 2)")
    right.set_title(f"lag {lag}: test accuracy {result['accuracy']:.2f}")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss (binary cross-entropy)")
    right.grid(True, alpha=0.3)
    right.legend()
    return fig, result


def lag_k2_grid(
    lags: Sequence[int],
    k2s: Sequence[int],
    k1: int,
    *,
    n_samples: int = 32,
    seq_len: int = 100,
    units: int = 32,
    epochs: int = 30,
    learning_rate: float = 1e-2,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train one lag/echo model per (lag, k2) cell with TBPTT(k1, k2); return accuracies.

    Every cell starts from the same initial weights and a fresh optimizer state; one
    trainer is reused so its compiled graphs are traced once.

    Returns:
        ``{"accuracy": [len(lags), len(k2s)] array, "seconds": same shape, "lags", "k2s"}``.
    """
    lags = [check_positive_int("lag", v, maximum=seq_len - 1) for v in lags]
    k2s = [check_positive_int("k2", v, maximum=seq_len) for v in k2s]
    if not lags or not k2s:
        raise ValueError("lags and k2s must each hold at least one value")
    model = lstm_stack(1, units, seed=seed)
    start = model.get_weights()
    trainer = TBPTTTrainer(model, k1, k1, keras.optimizers.Adam(learning_rate))
    accuracy = np.zeros((len(lags), len(k2s)))
    seconds = np.zeros_like(accuracy)
    for i, lag in enumerate(lags):
        for j, k2 in enumerate(k2s):
            result = lag_echo_run(lag, k1, k2, n_samples=n_samples, seq_len=seq_len,
                                  epochs=epochs, seed=seed, trainer=trainer,
                                  start_weights=start)
            accuracy[i, j], seconds[i, j] = result["accuracy"], result["seconds"]
            if verbose:
                print(f"lag {lag:>3}, TBPTT({k1},{k2:>3}): test accuracy {result['accuracy']:.3f}"
                      f" ({result['seconds']:.1f} s)", flush=True)
    return {"accuracy": accuracy, "seconds": seconds, "lags": lags, "k2s": k2s}


def time_pairs(
    x: Any,
    y: Any,
    pairs: Sequence[tuple[int, int]],
    *,
    units: int = 32,
    repeats: int = 2,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time one training epoch per (k1, k2) pair; compare with the steps under the tape.

    One trainer is reused (restarted from the same weights for every pair); each pair
    gets one untimed warm-up epoch, then the median of ``repeats`` timed epochs.

    Returns:
        One dict per pair: ``k1, k2, seconds, updates, predicted`` (steps under the tape
        relative to the first pair) and ``measured`` (epoch time relative to the first pair).
    """
    import statistics

    x = np.asarray(x, dtype=np.float32)
    if not pairs:
        raise ValueError("pairs must hold at least one (k1, k2) pair")
    repeats = check_positive_int("repeats", repeats)
    model = lstm_stack(x.shape[-1], units, seed=seed)
    start = model.get_weights()
    trainer = TBPTTTrainer(model, *pairs[0], keras.optimizers.Adam(1e-3))
    rows = []
    for k1, k2 in pairs:
        trainer.restart(start, k1, k2)
        trainer.fit(x, y, epochs=1, shuffle=False, verbose=0)  # warm-up
        times = [trainer.fit(x, y, epochs=1, shuffle=False, verbose=0)["seconds"][0]
                 for _ in range(repeats)]
        rows.append({"k1": k1, "k2": k2, "seconds": statistics.median(times),
                     "updates": len(plan_updates(x.shape[1], k1, k2)),
                     "steps_ratio": cost_ratio(x.shape[1], k1, k2)})
    for row in rows:
        row["predicted"] = row["steps_ratio"] / rows[0]["steps_ratio"]
        row["measured"] = row["seconds"] / rows[0]["seconds"]
    return rows


def keras_equivalence(
    n_samples: int = 4, seq_len: int = 24, k: int = 6, units: int = 8, seed: int = 0
) -> float:
    """Train TBPTT(k, k) and a Keras stateful model from the same weights; return max |dw|.

    Both use plain SGD for two epochs on the same lag/echo data, two sequences per
    batch (so the state must also be reset between groups of sequences).
    """
    from course_lib import data

    x, y, _ = data.lag_echo(n_samples, seq_len, 1, seed=seed)
    batch = max(1, n_samples // 2)
    ours = lstm_stack(1, units, seed=seed)
    theirs = lstm_stack(1, units, seed=seed, stateful=True, batch_size=batch)
    theirs.compile(keras.optimizers.SGD(0.5), "binary_crossentropy")
    keras_stateful_fit(theirs, x, y, k, epochs=2)
    TBPTTTrainer(ours, k, k, keras.optimizers.SGD(0.5)).fit(
        x, y, epochs=2, batch_size=batch, shuffle=False, verbose=0)
    return float(max(np.abs(a - b).max()
                     for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True)))
