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
* ``k2 < k1``: an update runs ``k1`` new steps, in one of two ways (``k2_mode``):

  - ``"cut_every_k2"`` (default): the gradient is cut every ``k2`` steps
    (``stop_gradient`` on the carried state) and the loss covers all ``k1`` outputs;
  - ``"last_k2"`` (Deeplearning4j's separate forward and backward TBPTT lengths): the
    first ``k1 - k2`` steps run forward only and the backward pass covers the last ``k2``
    steps, so only the last ``k2`` outputs send a gradient (all ``k1`` count in the
    reported loss).

The model passes its state explicitly: it takes ``[x, *states]`` and returns
``[y, *states]`` (:func:`lstm_stack` builds one; :func:`with_state_io` converts a plain
stack of LSTM/GRU/SimpleRNN and per-step layers, and :class:`TBPTTTrainer` does that
itself when given a plain stack). The layers stay stateless, keep cuDNN's default
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

from course_lib.validate import check_finite, check_positive_int

SEQ2ONE_MODES = ("last", "every_step")
K2_MODES = ("cut_every_k2", "last_k2")
_RNN_STATE_COUNT = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class Update:
    """One weight update of TBPTT(k1, k2), as half-open step ranges of one sequence.

    Attributes:
        boundaries: segment edges ``(start, ..., stop)``; the update runs the model over
            ``[start, stop)`` one segment after the other, from the state stored at ``start``.
        loss_start: the loss covers the outputs of steps ``[loss_start, stop)``.
            These are the outputs counted in the reported loss.
        cut: whether the gradient is cut (``stop_gradient``) between segments.
        store: the step whose state the next update starts from (a boundary), or None
            for the last update of a sequence.
        grad_start: None, or a boundary: steps before it run forward only (no tape), so
            the gradient flows over ``[grad_start, stop)`` only and the outputs before it
            send no gradient (``k2_mode="last_k2"``).
    """

    boundaries: tuple[int, ...]
    loss_start: int
    cut: bool
    store: int | None
    grad_start: int | None = None

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
    def grad_from(self) -> int:
        """Return the first step that runs under the gradient tape."""
        return self.start if self.grad_start is None else self.grad_start

    @property
    def scored_start(self) -> int:
        """Return the first step whose output sends a gradient (``>= loss_start``)."""
        return max(self.loss_start, self.grad_from)

    @property
    def free_segments(self) -> int:
        """Return how many leading segments run forward only (0, or 1 for ``last_k2``)."""
        return self.boundaries.index(self.grad_from)

    @property
    def backprop_steps(self) -> int:
        """Return how many steps run under the gradient tape in this update."""
        return self.stop - self.grad_from

    @property
    def forward_steps(self) -> int:
        """Return how many steps this update runs in all (under the tape or not)."""
        return self.stop - self.start


def check_k2_mode(k2_mode: Any) -> str:
    """Return ``k2_mode`` if it is one of :data:`K2_MODES`, else raise ValueError."""
    if not isinstance(k2_mode, str) or k2_mode not in K2_MODES:
        raise ValueError(
            f"k2_mode must be one of {K2_MODES}, got {k2_mode!r}: 'cut_every_k2' cuts the "
            "gradient every k2 steps and scores all k1 outputs; 'last_k2' (Deeplearning4j's) "
            "backpropagates over the last k2 steps of the k1 only"
        )
    return k2_mode


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


def plan_updates(seq_len: int, k1: int, k2: int, k2_mode: str = "cut_every_k2") -> list[Update]:
    """Return the weight updates TBPTT(k1, k2) makes over one sequence of ``seq_len`` steps.

    Updates end at steps ``k1, 2*k1, ...`` and at ``seq_len``: a last, shorter window
    is kept when ``k1`` does not divide ``seq_len``.

    Args:
        seq_len: timesteps per sequence (>= 1).
        k1: steps between updates, ``1 <= k1 <= seq_len``.
        k2: steps of backpropagation, ``1 <= k2 <= seq_len``.
        k2_mode: for ``k2 < k1`` only: ``"cut_every_k2"`` (gradient cut every ``k2``
            steps, all ``k1`` outputs send a gradient) or ``"last_k2"`` (forward ``k1``
            steps, backward over the last ``k2``; earlier outputs send no gradient).

    Returns:
        A list of :class:`Update`, in order.
    """
    seq_len = check_positive_int("seq_len", seq_len)
    k1, k2 = check_k(k1, k2, seq_len)
    k2_mode = check_k2_mode(k2_mode)
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
        elif k2_mode == "last_k2":
            # forward over [previous, stop), the tape only over the last k2 of those steps
            grad_start = max(previous, stop - k2)
            edges = sorted({previous, grad_start, stop})
            updates.append(Update(tuple(edges), previous, False, None if last else stop,
                                  None if grad_start == previous else grad_start))
        else:
            edges = list(range(previous, stop, k2)) + [stop]
            updates.append(Update(tuple(edges), previous, True, None if last else stop))
        previous = stop
    return updates


def cost_ratio(seq_len: int, k1: int, k2: int, k2_mode: str = "cut_every_k2") -> float:
    """Return the steps run under the gradient tape per timestep of data.

    About ``k2 / k1`` for ``k2 >= k1``; 1 for ``k2 < k1`` with ``"cut_every_k2"``;
    ``k2 / k1`` for ``"last_k2"`` (the other ``k1 - k2`` steps run forward only).
    """
    updates = plan_updates(seq_len, k1, k2, k2_mode)
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


# Layers that act on each timestep on its own: a window-by-window run gives the same
# result as a whole-sequence run. Anything else is refused by with_state_io.
_PER_STEP_LAYERS = frozenset({
    "Dense", "EinsumDense", "TimeDistributed", "Dropout", "GaussianNoise", "GaussianDropout",
    "AlphaDropout", "LayerNormalization", "UnitNormalization", "Activation", "ReLU",
    "LeakyReLU", "PReLU", "ELU", "Softmax", "Rescaling", "Identity",
})
# per-step only when their axis is the feature axis
_AXIS_LAYERS = frozenset({"LayerNormalization", "UnitNormalization", "Softmax"})
_ACROSS_TIME_HINT = {
    "Conv1D": "convolves neighbouring steps", "Conv1DTranspose": "convolves neighbouring steps",
    "SeparableConv1D": "convolves neighbouring steps",
    "DepthwiseConv1D": "convolves neighbouring steps",
    "MaxPooling1D": "pools over steps", "AveragePooling1D": "pools over steps",
    "GlobalMaxPooling1D": "pools over all steps", "GlobalAveragePooling1D": "pools over all steps",
    "MultiHeadAttention": "attends over steps", "Attention": "attends over steps",
    "AdditiveAttention": "attends over steps", "GroupQueryAttention": "attends over steps",
    "Flatten": "merges the time axis into the features", "Reshape": "reshapes the time axis",
    "Permute": "moves the time axis", "RepeatVector": "creates a time axis",
    "Cropping1D": "drops steps", "ZeroPadding1D": "adds steps", "UpSampling1D": "repeats steps",
    "BatchNormalization": "averages over the window's steps while training "
                          "(use LayerNormalization)",
    "Masking": "masks steps (pad and use step_weights instead)",
    "SpatialDropout1D": "shares one dropout mask across all steps of the window",
    "Bidirectional": "runs backwards from the end of the sequence, which a window "
                     "does not have",
    "Lambda": "may do anything, across time included",
}


def _refuse_layer(layer: keras.Layer, kind: str) -> None:
    why = _ACROSS_TIME_HINT.get(kind)
    if kind in _AXIS_LAYERS:
        why = "works along an axis other than the features (give it axis=-1)"
    allowed = ", ".join(sorted(_PER_STEP_LAYERS))
    if why is None:
        why = "is not a layer with_state_io knows to act on each step on its own"
    else:
        why = f"looks across time: it {why}"
    raise ValueError(
        f"layer {layer.name!r} ({kind}) {why}; TBPTT runs the model window by window, so "
        f"with_state_io converts only LSTM/GRU/SimpleRNN and per-step layers ({allowed})"
    )


def _chain_check(model: keras.Model, layers: list[keras.Layer]) -> None:
    """Raise ValueError unless each layer reads the output of the one before it."""
    previous = model.inputs[0]._keras_history.operation
    for layer in layers:
        sources = [
            [t._keras_history.operation for t in node.input_tensors]
            for node in getattr(layer, "_inbound_nodes", [])
        ]
        if [previous] not in sources:
            raise ValueError(
                f"with_state_io needs a chain of layers, each reading the one before; layer "
                f"{layer.name!r} does not read {previous.name!r} (branches, skips and "
                "several inputs are not supported: build the model with tbptt.lstm_stack or "
                "write a model [x, *states] -> [y, *states] by hand)"
            )
        previous = layer


def _per_step_axis_ok(layer: keras.Layer, kind: str, config: dict) -> bool:
    """Return whether ``layer`` (LayerNormalization, Softmax, ...) acts on features only."""
    rank = None
    for node in getattr(layer, "_inbound_nodes", []):
        if node.input_tensors:
            rank = len(node.input_tensors[0].shape)
    axis = config.get("axis", -1)
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    if rank is None:
        return axes == [-1]
    if all(a % rank == rank - 1 for a in axes):
        config["axis"] = -1  # the last axis of [batch, steps, features]
        return True
    return False


def with_state_io(model: keras.Model, name: str | None = None) -> keras.Model:
    """Return a copy of a plain layer stack that takes and returns its recurrent state.

    ``model`` is a chain ``x -> LSTM/GRU/SimpleRNN ... -> per-step layers`` (Sequential or
    functional; e.g. ``models.lstm_classifier``). Every recurrent layer is rebuilt with
    ``return_sequences=True, return_state=True, stateful=False`` and the same weights, so
    the head runs at every step; a sequence-to-one model's prediction is the last step's.
    Per-step layers (Dense, TimeDistributed, Dropout, LayerNormalization on the feature
    axis, activations, ...) are copied. Layers that look across time (Conv1D, pooling,
    attention, Flatten, BatchNormalization, Bidirectional, ...) are refused: run window by
    window, they would compute something else than on the whole sequence.

    Args:
        model: a single-input, single-output chain of layers, input
            ``[batch, timesteps, features]``.

    Returns:
        A model ``[x, *states] -> [y, *states]`` with copied weights (``model`` is unchanged).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs:
        raise ValueError(
            "model has no known input yet: build it with keras.Input(shape=(None, features)) "
            "as its first layer"
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError("with_state_io needs a single-input, single-output stack of layers")
    n_features = inputs[0].shape[-1]
    if len(inputs[0].shape) != 3 or n_features is None:
        raise ValueError(
            f"model input must be [batch, timesteps, features], got {inputs[0].shape}"
        )
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    configs = []
    for layer in layers:  # first refuse what cannot run window by window, then build
        kind = type(layer).__name__
        config = layer.get_config()
        if kind in _RNN_STATE_COUNT:
            if config.get("go_backwards"):
                raise ValueError(
                    f"layer {layer.name!r} has go_backwards=True: it reads the sequence from "
                    "its end, which a TBPTT window does not have"
                )
        elif isinstance(layer, keras.layers.RNN):
            raise ValueError(
                f"layer {layer.name!r} ({kind}) is not supported; use LSTM, GRU or SimpleRNN"
            )
        elif kind not in _PER_STEP_LAYERS or (
            kind in _AXIS_LAYERS and not _per_step_axis_ok(layer, kind, config)
        ):
            _refuse_layer(layer, kind)
        configs.append(config)
    _chain_check(model, layers)
    x_in = keras.Input(shape=(None, n_features), dtype=inputs[0].dtype, name="x")
    hidden, state_in, state_out, pairs = x_in, [], [], []
    for layer, config in zip(layers, configs, strict=True):
        kind = type(layer).__name__
        if kind in _RNN_STATE_COUNT:
            config.update(return_sequences=True, return_state=True, stateful=False)
            clone = type(layer).from_config(config)
            states = [keras.Input(shape=(layer.units,), name=f"{layer.name}_s{j}")
                      for j in range(_RNN_STATE_COUNT[kind])]
            result = clone(hidden, initial_state=states)
            hidden = result[0]
            state_in += states
            state_out += list(result[1:])
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
    if x.dtype.kind not in "biuf":
        raise TypeError(f"x must hold numbers, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    check_finite("x", x)
    return x


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return loss
    if isinstance(loss, type):
        return loss.__name__
    if isinstance(loss, keras.losses.Loss):
        return f"{type(loss).__name__} {getattr(loss, 'name', '')}"
    return getattr(loss, "__name__", type(loss).__name__)


def _loss_fn(loss: Any):
    """Return an unreduced loss ``f(y_true, y_pred) -> [batch, steps]``.

    ``loss`` may be a name (``"mse"``, ``"binary_crossentropy"``, ``"BinaryCrossentropy"``),
    a ``keras.losses.Loss`` object or class, or a function. A ``Loss`` object's own
    reduction is not used: the trainer takes a weighted mean over steps itself.
    """
    if isinstance(loss, type):
        if not issubclass(loss, keras.losses.Loss):
            raise TypeError(f"loss class must subclass keras.losses.Loss, got {loss.__name__}")
        loss = loss()
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except ValueError:
            raise ValueError(
                f"unknown loss {loss!r}; use a Keras loss name (e.g. 'mse', "
                "'binary_crossentropy'), a keras.losses.Loss or a function"
            ) from None
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # unreduced: one value per sample and step
    if callable(loss):
        return loss
    raise TypeError(f"loss must be a name, a keras.losses.Loss or a function, got {loss!r}")


def target_width(model: keras.Model, loss: Any = None) -> int:
    """Return the width ``d`` a per-step target must have: the model's output width.

    Sparse losses (``sparse_categorical_crossentropy``) take one class index per step, so
    their target width is 1 whatever the number of classes.
    """
    if loss is not None and "sparse" in _loss_name(loss).lower():
        return 1
    width = model.outputs[0].shape[-1]
    if width is None:
        raise ValueError("the model's output width (last axis) must be known")
    return int(width)


def _targets(
    x: np.ndarray, y: Any, seq2one: str, step_weights: Any, width: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return per-step targets ``[N, T, d]`` and loss weights ``[N, T]``.

    ``width`` is the target width ``d`` (see :func:`target_width`); the shape of ``y`` is
    read against it, never guessed: ``[N, T, d]`` per step; ``[N, d]`` or (``d = 1``)
    ``[N]`` one label per sequence; ``[N, T]`` per step when ``d = 1`` and ``T != 1``.
    """
    n, seq_len = x.shape[:2]
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError("y must have one row per sample, got a scalar")
    if y.shape[0] != n:
        raise ValueError(f"batch mismatch: x has {n} samples but y has {y.shape[0]}")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must hold numbers, got dtype {y.dtype}")
    check_finite("y", y)
    if seq2one not in SEQ2ONE_MODES:
        raise ValueError(f"seq2one must be one of {SEQ2ONE_MODES}, got {seq2one!r}")
    weights = np.ones((n, seq_len), dtype=np.float32)
    d = width
    per_step = None
    if y.ndim == 3:
        if y.shape[1] != seq_len:
            raise ValueError(
                f"a sequence-to-sequence y must have {seq_len} timesteps like x, got {y.shape[1]}"
            )
        if d is not None and y.shape[2] != d:
            raise ValueError(
                f"y has {y.shape[2]} values per step but the model's output is {d} wide; "
                f"per-step targets must be [samples, timesteps, {d}]"
            )
        per_step = y
    elif y.ndim == 2 and d is not None and y.shape[1] != d:
        if d == 1 and y.shape[1] == seq_len:
            per_step = y[:, :, None]  # one value per step of a 1-wide output
        else:
            raise ValueError(
                f"y has shape {y.shape}: for a model whose output is {d} wide, y must be "
                f"[samples, timesteps, {d}] (per step) or [samples, {d}] (one label per "
                f"sequence){' or [samples, timesteps]' if d == 1 else ''}"
            )
    elif y.ndim == 1 and d is not None and d != 1:
        raise ValueError(
            f"y has one value per sequence but the model's output is {d} wide; give "
            f"[samples, {d}] labels (one-hot) or use a sparse loss for class indices"
        )
    elif y.ndim > 3:
        raise ValueError(
            f"y must be [samples], [samples, d] or [samples, timesteps, d], got {y.shape}"
        )
    if per_step is None:  # one label per sequence
        per_sample = y.reshape(n, 1, -1)
        per_step = np.broadcast_to(per_sample, (n, seq_len, per_sample.shape[-1]))
        if seq2one == "last":
            weights[:, :-1] = 0.0
    if step_weights is not None:
        sw = np.asarray(step_weights)
        if sw.dtype.kind not in "biuf":
            raise TypeError(f"step_weights must hold numbers, got dtype {sw.dtype}")
        sw = sw.astype(np.float32)
        check_finite("step_weights", sw)
        if sw.shape == (seq_len,):
            sw = np.broadcast_to(sw, (n, seq_len))
        if sw.shape != (n, seq_len):
            raise ValueError(
                f"step_weights must have shape ({seq_len},) or ({n}, {seq_len}), got {sw.shape}"
            )
        if (sw < 0).any():
            raise ValueError("step_weights must be >= 0")
        weights = weights * sw
    return per_step.astype(np.float32, copy=False), weights


# --------------------------------------------------------------------------- trainer


def _is_plain_stack(model: Any) -> bool:
    """Return whether ``model`` is a Keras model ``x -> y`` (or one with no inputs yet)."""
    if not isinstance(model, keras.Model):
        return False
    try:
        return len(model.inputs) == 1 and len(model.outputs) == 1
    except (AttributeError, ValueError):
        return True  # with_state_io says how to give it an input


def _uses_float16(model: keras.Model) -> bool:
    return any(getattr(getattr(layer, "dtype_policy", None), "compute_dtype", None) == "float16"
               for layer in _walk_layers(model))


class TBPTTTrainer:
    """Train a recurrent model with TBPTT(k1, k2) on long sequences.

    Args:
        model: a model ``[x, *states] -> [y, *states]`` (see :func:`lstm_stack`), or a plain
            Keras stack ``x -> y`` (Sequential or functional chain of LSTM/GRU/SimpleRNN and
            per-step layers), which is converted with :func:`with_state_io`; the trainer
            then trains the converted copy and copies its weights back into ``model`` after
            every ``fit`` (``trainer.source_model`` is ``model``, ``trainer.model`` the copy).
        k1: timesteps processed forward between weight updates (>= 1).
        k2: timesteps the gradient flows back (>= 1); ``k2 >= k1`` gives overlapping
            windows; for ``k2 < k1`` see ``k2_mode``.
        optimizer: a Keras optimizer or its name. If the model computes in float16
            (``mixed_float16`` policy) it is wrapped in a ``keras.optimizers.LossScaleOptimizer``.
        loss: a Keras loss (name, function, ``keras.losses.Loss`` object or class), applied
            per step and always computed in float32.
        seq2one: for targets ``[samples]`` or ``[samples, d]``: ``"last"`` puts the loss at
            the last step of each sequence only (an update whose window does not reach it
            only moves the state forward); ``"every_step"`` copies the label to every step.
        k2_mode: what ``k2 < k1`` means (ignored when ``k2 >= k1``): ``"cut_every_k2"``
            (default) runs the ``k1`` steps in pieces of ``k2`` with the gradient cut between
            pieces, every output sending a gradient; ``"last_k2"`` (Deeplearning4j's) runs
            the first ``k1 - k2`` steps forward only and backpropagates over the last ``k2``,
            so only the last ``k2`` outputs send a gradient (all ``k1`` still count in the
            reported loss).
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
        k2_mode: str = "cut_every_k2",
    ):
        self.source_model = None
        if _is_plain_stack(model):
            self.source_model = model
            model = with_state_io(model)
        self.model = check_state_model(model)
        self.k1, self.k2 = check_k(k1, k2)
        self.k2_mode = check_k2_mode(k2_mode)
        if seq2one not in SEQ2ONE_MODES:
            raise ValueError(f"seq2one must be one of {SEQ2ONE_MODES}, got {seq2one!r}")
        self.seq2one = seq2one
        self.optimizer = keras.optimizers.get(optimizer)
        if _uses_float16(self.model) and not isinstance(
                self.optimizer, keras.optimizers.LossScaleOptimizer):
            # float16 gradients underflow without loss scaling; bfloat16 needs none
            self.optimizer = keras.optimizers.LossScaleOptimizer(self.optimizer)
        self.loss_fn = _loss_fn(loss)
        self.target_width = target_width(self.model, loss)
        self.state_shapes = _state_shapes(self.model)
        # states are carried in the dtype of the model's state inputs (float32 under a
        # mixed policy, where the layers compute in 16 bits)
        self.state_dtypes = [tf.as_dtype(t.dtype) for t in self.model.inputs[1:]]
        self.x_dtype = tf.as_dtype(self.model.inputs[0].dtype)
        self.traces = 0  # how many graphs were traced (a retrace in a timed loop is a bug)
        self._built = False
        self._train = tf.function(self._train_step, reduce_retracing=True)
        self._grads = tf.function(self._unscaled_grad_step, reduce_retracing=True)
        self._advance = tf.function(self._forward_step, reduce_retracing=True)
        self._traced: set[tuple] = set()

    # -- compiled pieces ------------------------------------------------------------
    # The traced functions depend only on the number of segments, on ``cut`` and on how
    # many leading segments run forward only; the batch and time axes are traced as
    # unknown, so windows of any length (early updates, the ragged last window, a new
    # k1/k2) reuse the same graph.

    def _zero_states(self, batch: int) -> list[tf.Tensor]:
        return [tf.zeros((batch, *s), dtype=d)
                for s, d in zip(self.state_shapes, self.state_dtypes, strict=True)]

    def _run(self, xs, states, cut: bool, training: bool):
        """Run segments ``xs`` from ``states``; return outputs and the state after each."""
        outputs, after = [], []
        for i, xi in enumerate(xs):
            if i > 0 and cut:
                states = [keras.ops.stop_gradient(s) for s in states]
            result = self.model([xi, *states], training=training)
            outputs.append(tf.cast(result[0], tf.float32))  # the loss is taken in float32
            states = [tf.cast(s, d) for s, d in zip(result[1:], self.state_dtypes, strict=True)]
            after.append(states)
        y_pred = outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=1)
        return y_pred, after

    def _loss(self, y_true, y_pred, weights, n_grad=None):
        """Return ``(loss for the gradient, reported loss)``.

        ``y_pred`` ends at the window's last step; the loss covers its last
        ``y_true.shape[1]`` steps. With ``n_grad``, only the last ``n_grad`` outputs enter
        the loss that is differentiated; the reported loss counts all of them.
        """
        n = tf.shape(y_true)[1]
        per_step = self.loss_fn(y_true, y_pred[:, -n:])
        per_step = tf.reshape(tf.cast(per_step, tf.float32), tf.shape(weights))
        report = tf.reduce_sum(per_step * weights) / tf.maximum(tf.reduce_sum(weights), 1e-12)
        if n_grad is None:
            return report, report
        late = tf.cast(tf.range(n) >= n - n_grad, tf.float32)[None, :] * weights
        grad_loss = tf.reduce_sum(per_step * late) / tf.maximum(tf.reduce_sum(late), 1e-12)
        return grad_loss, report

    def _grad_step(self, xs, y_true, weights, states, cut: bool, free: int = 0):
        self.traces += 1  # Python side effect: runs once per trace, never per call
        variables = self.model.trainable_variables
        before, early = [], None
        if free:
            # forward only: these steps are outside the tape, so their outputs and the
            # weights used on them receive no gradient (k2_mode="last_k2")
            early, before = self._run(xs[:free], states, cut, True)
            states = [tf.stop_gradient(s) for s in before[-1]]
        with tf.GradientTape() as tape:
            y_pred, after = self._run(xs[free:], states, cut, True)
            if early is None:
                loss, report = self._loss(y_true, y_pred, weights)
            else:
                loss, report = self._loss(y_true, tf.concat([early, y_pred], axis=1), weights,
                                          n_grad=tf.shape(y_pred)[1])
            scaled = loss
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        grads = [tf.zeros_like(v) if g is None else g
                 for g, v in zip(grads, variables, strict=True)]
        return report, grads, [[tf.stop_gradient(s) for s in st] for st in before + after]

    def _train_step(self, xs, y_true, weights, states, cut: bool, free: int = 0):
        loss, grads, after = self._grad_step(xs, y_true, weights, states, cut, free)
        # a LossScaleOptimizer unscales the gradients (and skips non-finite steps) itself
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables, strict=True))
        return loss, after

    def _unscaled_grad_step(self, xs, y_true, weights, states, cut: bool, free: int = 0):
        loss, grads, after = self._grad_step(xs, y_true, weights, states, cut, free)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            grads = [g / tf.cast(self.optimizer.dynamic_scale, g.dtype) for g in grads]
        return loss, grads, after

    def _forward_step(self, xs, states, cut: bool):
        self.traces += 1
        _, after = self._run(xs, states, cut, False)
        return [[tf.stop_gradient(s) for s in st] for st in after]

    def _specs(self, n_segments: int, with_targets: bool, y_dim: int):
        n_features = self.model.inputs[0].shape[-1]
        xs = tuple(tf.TensorSpec((None, None, n_features), self.x_dtype)
                   for _ in range(n_segments))
        states = [tf.TensorSpec((None, *s), d)
                  for s, d in zip(self.state_shapes, self.state_dtypes, strict=True)]
        if not with_targets:
            return (xs, states)
        return (xs, tf.TensorSpec((None, None, y_dim), tf.float32),
                tf.TensorSpec((None, None), tf.float32), states)

    def _compiled(self, kind: str, n_segments: int, cut: bool, y_dim: int, free: int = 0):
        """Return the traced function for ``kind`` and this structure, tracing it once."""
        fn = {"train": self._train, "grads": self._grads, "advance": self._advance}[kind]
        key = (kind, n_segments, cut, y_dim, free)
        if key not in self._traced:
            extra = (cut,) if kind == "advance" else (cut, free)
            fn.get_concrete_function(*self._specs(n_segments, kind != "advance", y_dim), *extra)
            self._traced.add(key)
        return fn

    # -- driver ---------------------------------------------------------------------

    def _check_data(self, x, y, step_weights):
        x = _as_3d_x(x, self.model)
        check_k(self.k1, self.k2, x.shape[1])
        y_steps, weights = _targets(x, y, self.seq2one, step_weights, self.target_width)
        return x, y_steps, weights

    def _pass(self, x, y_steps, weights, batch_size: int, order, apply: bool):
        """One pass over all sequences; return (losses, updates, backprop steps, grads)."""
        seq_len, y_dim = x.shape[1], y_steps.shape[-1]
        plan = plan_updates(seq_len, self.k1, self.k2, self.k2_mode)
        losses, n_updates, n_steps, grad_sum = [], 0, 0, None
        for b0 in range(0, len(order), batch_size):
            rows = order[b0:b0 + batch_size]
            xb = tf.constant(x[rows], dtype=self.x_dtype)
            yb, wb = y_steps[rows], weights[rows]
            states = self._zero_states(len(rows))  # a new true sequence starts from zeros
            for update in plan:
                w = wb[:, update.loss_start:update.stop]
                store_at = None if update.store is None else update.boundaries.index(update.store)
                if not wb[:, update.scored_start:update.stop].any():
                    # no loss with a gradient in this window: only move the state forward
                    if store_at:
                        xs = tuple(xb[:, a:b] for a, b in update.segments[:store_at])
                        fn = self._compiled("advance", len(xs), update.cut, y_dim)
                        states = fn(xs, states, update.cut)[-1]
                    continue
                xs = tuple(xb[:, a:b] for a, b in update.segments)
                kind = "train" if apply else "grads"
                free = update.free_segments
                fn = self._compiled(kind, len(xs), update.cut, y_dim, free)
                args = (xs, tf.constant(yb[:, update.loss_start:update.stop]), tf.constant(w),
                        states, update.cut, free)
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
                k2: int | None = None, k2_mode: str | None = None) -> TBPTTTrainer:
        """Start training afresh: set ``weights``, reset the optimizer's state, maybe new k1/k2.

        Reusing one trainer for several runs reuses its compiled graphs (tracing an LSTM
        update takes about a second), which matters in sweeps such as a k2 x lag grid.

        Args:
            weights: the weights to start from (``model.get_weights()`` format); None keeps
                the current ones.
            k1, k2: a new TBPTT pair; None keeps the current value.
            k2_mode: a new ``k2_mode``; None keeps the current one.
        """
        self.k1, self.k2 = check_k(self.k1 if k1 is None else k1, self.k2 if k2 is None else k2)
        if k2_mode is not None:
            self.k2_mode = check_k2_mode(k2_mode)
        if weights is not None:
            self.model.set_weights(weights)
            self._sync_source()
        if self._built:
            # a zero step count and zero moments are exactly a freshly built optimizer;
            # a loss-scale optimizer's scale goes back to its initial value
            opt = self.optimizer
            scale = getattr(opt, "dynamic_scale", None)
            for var in opt.variables:
                if scale is not None and var is scale:
                    var.assign(float(opt.initial_scale))
                elif "learning_rate" not in var.path:
                    var.assign(np.zeros(var.shape, dtype=var.dtype))
        return self

    def _build(self):
        if not self._built:
            self.optimizer.build(self.model.trainable_variables)
            self._built = True

    def _sync_source(self):
        if self.source_model is not None:
            self.source_model.set_weights(self.model.get_weights())

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
            y: targets, read against the model's output width ``d`` (never guessed):
                ``[samples, timesteps, d]`` per step; ``[samples, timesteps]`` per step when
                ``d = 1``; ``[samples, d]`` or (``d = 1``) ``[samples]`` one label per
                sequence (see ``seq2one``). Sparse losses take ``d = 1`` (a class index).
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
            ``loss`` is the mean over updates of each update's weighted mean loss over
            its ``k1`` new outputs; ``seconds`` stops after the losses are read back from
            the device (so asynchronous GPU work is inside the measured time).
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
            # reading the losses back waits for the device to finish: only then stop the clock
            values = [float(v) for v in losses]
            seconds = time.perf_counter() - began
            mean_loss = float(np.mean(values)) if values else math.nan
            history["loss"].append(mean_loss)
            history["updates"].append(n_updates)
            history["backprop_steps"].append(n_steps)
            history["seconds"].append(seconds)
            if verbose:
                print(f"TBPTT({self.k1},{self.k2}) epoch {epoch + 1}/{epochs} - {seconds:.1f}s - "
                      f"loss {mean_loss:.4f} - {n_updates} updates", flush=True)
        self._sync_source()
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
        self._build()
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
    dtypes = [tf.as_dtype(t.dtype) for t in model.inputs[1:]]
    states = [tf.zeros((len(x), *s), dtype=d)
              for s, d in zip(_state_shapes(model), dtypes, strict=True)]
    outputs = []
    for a in range(0, x.shape[1], chunk):
        result = model([tf.constant(x[:, a:a + chunk]), *states], training=False)
        outputs.append(np.asarray(tf.cast(result[0], tf.float32)))
        states = [tf.cast(s, d) for s, d in zip(result[1:], dtypes, strict=True)]
    return np.concatenate(outputs, axis=1)


def gradient_horizon(
    model: keras.Model,
    x: Any,
    *,
    k1: int | None = None,
    k2: int | None = None,
    y: Any = None,
    loss: Any = "binary_crossentropy",
    k2_mode: str = "cut_every_k2",
) -> np.ndarray:
    """Return the norm of the last update's loss gradient w.r.t. the input at each lag.

    The whole sequence is run as TBPTT(k1, k2) would run it (stored states detached
    between updates), then the loss at the last step is differentiated with respect to
    every input. With ``k2 >= k1``, and with ``k2 < k1`` in ``"last_k2"`` mode, the result
    is exactly zero at lags ``>= k2``; in ``"cut_every_k2"`` mode it stops at the last cut;
    with ``k1 = k2 = None`` (full BPTT) it decays but stays nonzero.

    Args:
        model: a model ``[x, *states] -> [y, *states]``.
        x: ``[samples, timesteps, features]``.
        k1, k2: the TBPTT pair; None means the whole sequence.
        y: targets of the last step ``[samples, d]``; None differentiates the mean output.
        loss: the loss used when ``y`` is given.
        k2_mode: ``"cut_every_k2"`` or ``"last_k2"`` (see :class:`TBPTTTrainer`).

    Returns:
        float ``[timesteps]``: index ``lag`` holds the mean over samples of
        ``||d loss / d x[t_last - lag]||``.
    """
    model = check_state_model(model)
    x = tf.constant(_as_3d_x(x, model))
    seq_len = int(x.shape[1])
    k1 = seq_len if k1 is None else k1
    k2 = seq_len if k2 is None else k2
    plan = plan_updates(seq_len, *check_k(k1, k2, seq_len), k2_mode)
    loss_fn = _loss_fn(loss)
    dtypes = [tf.as_dtype(t.dtype) for t in model.inputs[1:]]
    states = [tf.zeros((x.shape[0], *s), dtype=d)
              for s, d in zip(_state_shapes(model), dtypes, strict=True)]
    with tf.GradientTape() as tape:
        tape.watch(x)
        for update in plan:
            states = [keras.ops.stop_gradient(s) for s in states]
            outputs, stored = None, None
            for j, (a, b) in enumerate(update.segments):
                if j > 0 and (update.cut or a == update.grad_from):
                    states = [keras.ops.stop_gradient(s) for s in states]
                if update.store == a:
                    stored = states
                result = model([x[:, a:b], *states], training=False)
                outputs = result[0]
                states = [tf.cast(s, d) for s, d in zip(result[1:], dtypes, strict=True)]
            if update.store == update.stop:
                stored = states
            if update.store is not None:
                states = stored
        last = tf.cast(outputs[:, -1], tf.float32)
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
                  legend: bool = True, k2_mode: str = "cut_every_k2"):
    """Draw which steps each update of TBPTT(k1, k2) runs, backpropagates and scores.

    Each row is one update: a light bar for the steps run under the gradient tape, a
    dark bar for the outputs whose loss sends a gradient, a hatched bar for steps run
    forward only (``k2_mode="last_k2"``), ``|`` where the gradient is cut, and a dot at
    the step whose state the next update starts from.

    Returns:
        ``(fig, ax)``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from course_lib import plots

    plan = plan_updates(seq_len, k1, k2, k2_mode)[:check_positive_int("max_updates", max_updates)]
    title = f"TBPTT(k1={k1}, k2={k2}) on {seq_len} steps"
    if k2 < k1:
        title += f", {k2_mode}"
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
        if update.grad_from > update.start:
            ax.barh(row, update.grad_from - update.start, left=update.start, height=0.6,
                    color="white", edgecolor="grey", hatch="///", lw=0.5)
        ax.barh(row, update.stop - update.grad_from, left=update.grad_from, height=0.6,
                color=grad_color, alpha=0.35)
        ax.barh(row, update.stop - update.scored_start, left=update.scored_start, height=0.3,
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
        plt.Rectangle((0, 0), 1, 1, color=loss_color, label="outputs that send a gradient"),
        plt.Line2D([], [], marker="o", color="black", ls="", label="state kept for next update"),
    ]
    if any(u.cut and len(u.boundaries) > 2 for u in plan):
        handles.append(plt.Line2D([], [], color="black", lw=2, label="gradient cut"))
    if any(u.grad_from > u.start for u in plan):
        handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="grey",
                                     hatch="///", label="forward only (no gradient)"))
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
    k2_mode: str = "cut_every_k2",
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
                               "binary_crossentropy", seq2one="last", k2_mode=k2_mode)
    else:
        trainer.restart(start_weights, k1, k2, k2_mode)
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
    k2_mode: str = "cut_every_k2",
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
                          epochs=epochs, seed=seed, k2_mode=k2_mode)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    draw_schedule(seq_len, k1, k2, ax=left, max_updates=6, k2_mode=k2_mode)
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
    k2_mode: str = "cut_every_k2",
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
                                  start_weights=start, k2_mode=k2_mode)
            accuracy[i, j], seconds[i, j] = result["accuracy"], result["seconds"]
            if verbose:
                print(f"lag {lag:>3}, TBPTT({k1},{k2:>3}): test accuracy {result['accuracy']:.3f}"
                      f" ({result['seconds']:.1f} s)", flush=True)
    return {"accuracy": accuracy, "seconds": seconds, "lags": lags, "k2s": k2s}


def time_pairs(
    x: Any,
    y: Any,
    pairs: Sequence[tuple],
    *,
    units: int = 32,
    repeats: int = 2,
    seed: int = 0,
    clock: str = "wall",
) -> list[dict[str, Any]]:
    """Time one training epoch per (k1, k2) pair; compare with the steps under the tape.

    One trainer is reused (restarted from the same weights for every pair); each pair
    gets one untimed warm-up epoch, then the median of ``repeats`` timed epochs.

    Args:
        pairs: ``(k1, k2)`` or ``(k1, k2, k2_mode)`` tuples.
        clock: ``"wall"`` (seconds on the wall clock) or ``"cpu"`` (the process's CPU
            seconds, all threads: far steadier than the wall clock on a CPU shared with
            other jobs; meaningless for work done on a GPU).

    Returns:
        One dict per pair: ``k1, k2, k2_mode, seconds, cpu_seconds, updates, predicted``
        (steps under the tape relative to the first pair) and ``measured`` (epoch time on
        ``clock`` relative to the first pair).
    """
    import statistics

    x = np.asarray(x, dtype=np.float32)
    if not pairs:
        raise ValueError("pairs must hold at least one (k1, k2) pair")
    if clock not in ("wall", "cpu"):
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    repeats = check_positive_int("repeats", repeats)
    full = [(p[0], p[1], p[2] if len(p) > 2 else "cut_every_k2") for p in pairs]
    model = lstm_stack(x.shape[-1], units, seed=seed)
    start = model.get_weights()
    trainer = TBPTTTrainer(model, full[0][0], full[0][1], keras.optimizers.Adam(1e-3))
    rows = []
    for k1, k2, k2_mode in full:
        trainer.restart(start, k1, k2, k2_mode)
        trainer.fit(x, y, epochs=1, shuffle=False, verbose=0)  # warm-up
        walls, cpus = [], []
        for _ in range(repeats):
            cpu = time.process_time()
            walls.append(trainer.fit(x, y, epochs=1, shuffle=False, verbose=0)["seconds"][0])
            cpus.append(time.process_time() - cpu)
        rows.append({"k1": k1, "k2": k2, "k2_mode": k2_mode,
                     "seconds": statistics.median(walls), "cpu_seconds": statistics.median(cpus),
                     "updates": len(plan_updates(x.shape[1], k1, k2, k2_mode)),
                     "steps_ratio": cost_ratio(x.shape[1], k1, k2, k2_mode)})
    key = "seconds" if clock == "wall" else "cpu_seconds"
    for row in rows:
        row["predicted"] = row["steps_ratio"] / rows[0]["steps_ratio"]
        row["measured"] = row[key] / rows[0][key]
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
