"""Seed 002's training experiments: optimizers, gradient clipping, a sequence-length schedule.

The model reads ``[sequences, timesteps, n_lags]`` price changes and predicts two
Q-values per step (see :mod:`course_lib.prices`). All sequences form ONE batch and
the LSTMs are stateful, so a training pass over the data can be cut into ``n``
contiguous chunks: the state flows from chunk to chunk of the same pass (gradients do
not: that is TBPTT(k, k) with ``k = length / n``), and it is reset before each pass.
``n = 1`` is plain full-length training: one weight update per epoch.

Every run records its loss per epoch *and* against training seconds, weight
updates and processed timesteps, because a chunked epoch makes ``n`` updates where a
full-length epoch makes one: comparing per epoch alone would hide that.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from course_lib.validate import check_number, check_positive_int

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adagrad", "adadelta")
CLIP_KINDS = ("clipnorm", "clipvalue", "global_clipnorm")
X_AXES = ("epoch", "seconds", "updates", "timesteps")
SEED_SCHEDULE = (100, 50, 10, 2, 1)
_MODELS: dict[str, Any] = {}  # the model shared by run_experiment calls (see there)


# ----------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------


def check_model_args(n_sequences: Any, n_lags: Any, dense_units: Any, lstm_units: Any,
                     noise_std: Any, stateful: Any) -> None:
    """Raise a clear error unless :func:`price_q_model`'s arguments are in range.

    ``n_sequences``, ``n_lags``, ``dense_units``, ``lstm_units`` must be ints >= 1,
    ``noise_std`` a number in [0, 10], ``stateful`` a bool.
    """
    for arg, value in (("n_sequences", n_sequences), ("n_lags", n_lags),
                       ("dense_units", dense_units), ("lstm_units", lstm_units)):
        check_positive_int(arg, value)
    check_number("noise_std", noise_std, 0.0, 10.0)
    if not isinstance(stateful, bool):
        raise TypeError(f"stateful must be a bool, got {type(stateful).__name__}")


def price_q_model(n_sequences, n_lags=128, *, dense_units=64, lstm_units=64, noise_std=0.05,
                  stateful=True, name="price_q_model"):
    """Build seed 002's network: Dense -> noise -> Dense -> noise -> LSTM -> LSTM -> Dense(2).

    The two Dense layers (ReLU) act on each step's ``n_lags`` price changes; the
    GaussianNoise layers (active only in training) regularise; both LSTMs return a
    sequence so the last Dense gives Q(buy), Q(sell) at every step. The model is not
    compiled: :func:`train_with_schedule` compiles it with the optimizer under test.
    Written out in notebook 10 (a saved copy).

    Args:
        n_sequences: batch size, fixed because stateful layers need it (all sequences).
        n_lags: input features per step.
        dense_units: width of both Dense layers.
        lstm_units: units of both LSTM layers.
        noise_std: std of the GaussianNoise layers (>= 0).
        stateful: keep the LSTM state between calls (needed for chunked training).

    Returns:
        A model mapping ``[n_sequences, timesteps, n_lags]`` (any timesteps) to
        ``[n_sequences, timesteps, 2]``.
    """
    check_model_args(n_sequences, n_lags, dense_units, lstm_units, noise_std, stateful)
    inputs = keras.Input(shape=(None, n_lags), batch_size=n_sequences)  # stateful: fixed batch
    h = keras.layers.Dense(dense_units, activation="relu", name="dense_1")(inputs)
    h = keras.layers.GaussianNoise(noise_std, name="noise_1")(h)
    h = keras.layers.Dense(dense_units, activation="relu", name="dense_2")(h)
    h = keras.layers.GaussianNoise(noise_std, name="noise_2")(h)
    h = keras.layers.LSTM(lstm_units, return_sequences=True, stateful=stateful, name="lstm_1")(h)
    h = keras.layers.LSTM(lstm_units, return_sequences=True, stateful=stateful, name="lstm_2")(h)
    outputs = keras.layers.Dense(2, name="q_values")(h)  # Q(buy), Q(sell) at every step
    return keras.Model(inputs, outputs, name=name)


# ----------------------------------------------------------------------------------------
# Optimizers and clipping
# ----------------------------------------------------------------------------------------


def make_optimizer(
    name: str,
    learning_rate: float = 0.01,
    *,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
) -> keras.optimizers.Optimizer:
    """Create a Keras optimizer by name, optionally with ONE kind of gradient clipping.

    ``clipnorm`` rescales each variable's gradient to norm <= c; ``global_clipnorm``
    rescales all gradients together so their joint norm is <= c (the direction of the
    whole update is kept); ``clipvalue`` cuts every gradient entry to [-c, c].

    Args:
        name: one of ``sgd``, ``rmsprop``, ``adam``, ``adagrad``, ``adadelta``.
        learning_rate: step size, in (0, 10].
        clipnorm, clipvalue, global_clipnorm: clipping threshold (> 0); at most one.

    Returns:
        A fresh optimizer (never share one between models).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {OPTIMIZERS}")
    key = name.strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"name must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    learning_rate = check_number("learning_rate", learning_rate, 0.0, 10.0)
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be in (0, 10], got {learning_rate}")
    clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
    given = {k: v for k, v in clips.items() if v is not None}
    if len(given) > 1:
        raise ValueError(f"set at most one of clipnorm, clipvalue, global_clipnorm; got {given}")
    for kind, value in given.items():
        given[kind] = check_number(kind, value, 0.0, 1e6)
        if given[kind] <= 0:
            raise ValueError(f"{kind} must be > 0, got {value}")
    cls = {
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adam": keras.optimizers.Adam,
        "adagrad": keras.optimizers.Adagrad,
        "adadelta": keras.optimizers.Adadelta,
    }[key]
    return cls(learning_rate=learning_rate, **given)


# ----------------------------------------------------------------------------------------
# Sequence-length schedule
# ----------------------------------------------------------------------------------------


def chunk_bounds(length, n_chunks):
    """Cut ``range(length)`` into ``n_chunks`` contiguous pieces of (nearly) equal length.

    When ``n_chunks`` does not divide ``length`` the first ``length % n_chunks`` pieces
    are one step longer; no step is dropped. Written out in notebook 10 (a saved copy).

    Returns:
        ``[(start, stop), ...]`` in order, covering ``0 .. length`` exactly.
    """
    length = check_positive_int("length", length)
    n_chunks = check_positive_int("n_chunks", n_chunks, maximum=length)
    base, extra = divmod(length, n_chunks)  # the first `extra` chunks get one more step
    bounds, start = [], 0
    for i in range(n_chunks):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def reset_lstm_states(model):
    """Zero the state of every stateful recurrent layer in ``model``."""
    for layer in model.layers:
        if getattr(layer, "stateful", False):
            layer.reset_state()


def train_one_pass(model, x, y, n_chunks):
    """Train a compiled stateful model for one pass: ``n_chunks`` chunks, one update each.

    The state starts from zero, then flows from chunk to chunk of every sequence (the
    gradient does not: TBPTT(k, k) with ``k = timesteps / n_chunks``). Batch = all
    sequences. Written out in notebook 10 (a saved copy).

    Args:
        model: compiled, with batch size ``x.shape[0]``.
        x: ``[sequences, timesteps, features]``; y: ``[sequences, timesteps, outputs]``.
        n_chunks: chunks per sequence, 1 .. timesteps.

    Returns:
        The mean training loss per timestep over the pass (noise layers on).
    """
    reset_lstm_states(model)  # every pass starts from a zero state
    total = 0.0
    for start, stop in chunk_bounds(x.shape[1], n_chunks):
        loss = model.train_on_batch(x[:, start:stop], y[:, start:stop])  # ONE weight update
        total += float(loss) * (stop - start)
    return total / x.shape[1]


def check_schedule(splits: Any, patience: Any, min_delta: Any) -> tuple[tuple[int, ...], int,
                                                                         float]:
    """Return ``(splits, patience, min_delta)`` checked, else raise a clear error.

    ``splits`` must be a non-empty sequence of ints >= 1, ``patience`` an int >= 1 and
    ``min_delta`` a number >= 0.
    """
    if isinstance(splits, (str, bytes)) or not isinstance(splits, Sequence) or not splits:
        raise ValueError(f"splits must be a non-empty sequence of ints, got {splits!r}")
    splits = tuple(check_positive_int(f"splits[{i}]", s) for i, s in enumerate(splits))
    return (splits, check_positive_int("patience", patience),
            check_number("min_delta", min_delta, 0.0, 1e9))


class SequenceLengthSchedule:
    """Train on ``n`` chunks per sequence, moving to the next ``n`` when the loss stalls.

    Start with ``splits[0]`` chunks per sequence (short chunks, many updates per epoch);
    after ``patience`` epochs in a row whose loss is not below the best so far by more
    than ``min_delta``, move to the next entry; the last entry stays until training ends.
    Seed 002 used ``splits=(100, 50, 10, 2, 1)`` and ``patience=20``. Written out in
    notebook 10 (a saved copy).

    Args:
        splits: chunks per sequence, each >= 1, in the order they are used.
        patience: epochs without improvement before moving on (>= 1).
        min_delta: improvement smaller than this does not count (>= 0).
    """

    def __init__(self, splits=SEED_SCHEDULE, patience=20, min_delta=0.0):
        self.splits, self.patience, self.min_delta = check_schedule(splits, patience, min_delta)
        self.reset()

    def reset(self):
        """Go back to the first stage and forget the best loss."""
        self.stage, self.best, self.wait, self.epoch = 0, math.inf, 0, 0
        self.switches = []  # (epoch after which we switched, new n)

    @property
    def current(self):
        """Chunks per sequence for the next epoch."""
        return self.splits[self.stage]

    def update(self, loss):
        """Report one finished epoch's loss; return True if the next epoch uses a new ``n``."""
        self.epoch += 1
        if loss < self.best - self.min_delta:  # an improvement: remember it, start waiting again
            self.best, self.wait = float(loss), 0
            return False
        self.wait += 1
        if self.wait >= self.patience and self.stage < len(self.splits) - 1:
            self.stage, self.wait = self.stage + 1, 0
            self.switches.append((self.epoch, self.current))
            return True
        return False


# ----------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """One training configuration of notebook 10.

    Args:
        name: label used in plots and tables.
        optimizer: one of :data:`OPTIMIZERS`.
        learning_rate: the optimizer's step size.
        clip: ``None`` or ``(kind, value)`` with kind in :data:`CLIP_KINDS`.
        schedule: ``None`` (full length, n = 1 every epoch) or the ``splits`` of a
            :class:`SequenceLengthSchedule`.
        patience: the schedule's patience in epochs.
        min_delta: the schedule's smallest loss decrease that counts as an improvement.
    """

    name: str
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    clip: tuple[str, float] | None = None
    schedule: tuple[int, ...] | None = None
    patience: int = 20
    min_delta: float = 0.0

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("name must be a non-empty string")
        if self.clip is not None:
            if not isinstance(self.clip, (tuple, list)) or len(self.clip) != 2:
                raise ValueError(f"clip must be None or (kind, value), got {self.clip!r}")
            if self.clip[0] not in CLIP_KINDS:
                raise ValueError(f"clip kind must be one of {CLIP_KINDS}, got {self.clip[0]!r}")
        self.make_optimizer()  # validates optimizer, learning rate and clip value
        if self.schedule is not None:
            SequenceLengthSchedule(self.schedule, self.patience, self.min_delta)

    def make_optimizer(self) -> keras.optimizers.Optimizer:
        """Return a fresh optimizer for this configuration."""
        clip = {} if self.clip is None else {self.clip[0]: self.clip[1]}
        return make_optimizer(self.optimizer, self.learning_rate, **clip)

    def make_schedule(self) -> SequenceLengthSchedule | None:
        """Return a fresh schedule, or None for full-length training."""
        if self.schedule is None:
            return None
        return SequenceLengthSchedule(self.schedule, self.patience, self.min_delta)


@dataclass
class RunResult:
    """Loss curves of one run. Index 0 is the untrained model (epoch 0, 0 s, 0 updates).

    ``loss`` is the full-length MSE after each epoch with the noise layers off (the same
    quantity for every configuration); ``train_loss`` is the mean loss of the epoch's
    chunks as seen while training (noise on, weights changing). ``seconds`` counts only
    training passes, not the evaluations; :func:`train_with_schedule` traces the graphs
    before the clock starts, so every run is timed alike.
    """

    name: str
    loss: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    updates: list[int] = field(default_factory=list)
    timesteps: list[int] = field(default_factory=list)
    n_chunks: list[int] = field(default_factory=list)
    status: str = "ok"  # "ok" or "diverged"
    stopped_epoch: int | None = None
    switches: list[tuple[int, int]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    grad_norm_max: list[float] = field(default_factory=list)  # see train_with_schedule
    grad_norm_global: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> list[int]:
        return list(range(len(self.loss)))

    @property
    def final_loss(self) -> float:
        """Loss after the last epoch (inf if the run diverged)."""
        return self.loss[-1] if self.status == "ok" else math.inf

    @property
    def best_loss(self) -> float:
        finite = [v for v in self.loss if math.isfinite(v)]
        return min(finite) if finite else math.inf

    @property
    def largest_spike(self) -> float:
        """Largest rise of the loss above its best value so far (0 if it never rose)."""
        return largest_spike(self.loss)

    def spike_after(self, epoch: int) -> float:
        """Largest spike counting only the losses from ``epoch`` on (skips a start-up jump)."""
        epoch = check_positive_int("epoch", epoch, minimum=0)
        return largest_spike(self.loss[epoch:])

    def curve(self, x_axis: str = "epoch") -> tuple[list[float], list[float]]:
        """Return ``(x, loss)`` with x in epochs, seconds, updates or timesteps."""
        if x_axis not in X_AXES:
            raise ValueError(f"x_axis must be one of {X_AXES}, got {x_axis!r}")
        x = self.epochs if x_axis == "epoch" else getattr(self, x_axis)
        return list(x), list(self.loss)

    def loss_at(self, x_axis: str, value: float) -> float:
        """Return the last loss recorded at or before ``value`` on ``x_axis``."""
        x, y = self.curve(x_axis)
        seen = [loss for xi, loss in zip(x, y, strict=True) if xi <= value]
        return seen[-1] if seen else math.nan

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def largest_spike(losses: Sequence[float]) -> float:
    """Return ``max_t (loss[t] - min(loss[:t]))`` clipped at 0; NaN/inf count as infinite."""
    best, spike = math.inf, 0.0
    for value in losses:
        value = float(value) if math.isfinite(float(value)) else math.inf
        if math.isfinite(best):
            spike = max(spike, value - best)
        best = min(best, value)
    return spike


def _check_xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(
            f"x and y must be 3-D [sequences, timesteps, features], got {x.shape} and {y.shape}")
    if x.shape[:2] != y.shape[:2]:
        raise ValueError(f"x and y must agree on [sequences, timesteps], got {x.shape[:2]} "
                         f"and {y.shape[:2]}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite")
    return x, y


def _evaluator(model: keras.Model):
    """Return a tf.function ``evaluate(x, y) -> MSE`` (noise off), traced once per model.

    The function is kept on the model itself, so it is freed with the model (a cache keyed
    by the model would keep every model of a seed loop alive through the function's closure).
    """
    import tensorflow as tf

    if getattr(model, "_course_evaluate", None) is None:
        # any number of timesteps: one trace serves every length
        signature = [tf.TensorSpec((model.inputs[0].shape[0], None, model.inputs[0].shape[2])),
                     tf.TensorSpec((model.outputs[0].shape[0], None, model.outputs[0].shape[2]))]

        @tf.function(input_signature=signature)
        def evaluate(x, y):
            return tf.reduce_mean(tf.square(model(x, training=False) - y))

        model._course_evaluate = evaluate
    return model._course_evaluate


def full_length_loss(model: keras.Model, x: Any, y: Any) -> float:
    """Return the MSE of ``model`` on whole sequences from a zero state, noise layers off.

    This is the loss every run of notebook 10 reports after each epoch, whatever its chunks.

    Args:
        model: a model from :func:`price_q_model` with batch size ``x.shape[0]``.
        x, y: ``[sequences, timesteps, n_lags]`` / ``[sequences, timesteps, 2]``.
    """
    x, y = _check_xy(x, y)
    reset_lstm_states(model)
    loss = float(_evaluator(model)(x, y))
    reset_lstm_states(model)
    return loss


def _warm_up(model: keras.Model, x: np.ndarray, y: np.ndarray, lengths: set[int]) -> None:
    """Trace the compiled train step for every chunk length, then undo its updates.

    Keras traces ``train_on_batch``'s graph on the first call after ``compile`` (about a
    second here) and again for a new input length; doing it before the clock starts keeps
    tracing out of every run's training seconds.
    """
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    saved_model = [v.numpy() for v in model.variables]
    saved_opt = [v.numpy() for v in optimizer.variables]
    import tensorflow as tf

    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # silence TF's note that a few traces happen here
    try:
        for k in sorted(lengths):
            reset_lstm_states(model)
            model.train_on_batch(x[:, :k], y[:, :k])
    finally:
        tf.get_logger().setLevel(level)
    for variable, value in zip(model.variables, saved_model, strict=True):
        variable.assign(value)
    for variable, value in zip(optimizer.variables, saved_opt, strict=True):
        variable.assign(value)
    reset_lstm_states(model)


def train_with_schedule(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    epochs: int,
    optimizer: keras.optimizers.Optimizer | None = None,
    schedule: SequenceLengthSchedule | None = None,
    name: str = "run",
    record_gradients: bool = False,
    verbose: bool = False,
) -> RunResult:
    """Train a stateful model on the MSE for ``epochs`` passes, chunked as ``schedule`` says.

    The loop of notebook 10 plus its bookkeeping. Each epoch: one :func:`train_one_pass`
    with ``n = schedule.current`` chunks (one ``train_on_batch`` per chunk, batch = all
    sequences), then the full-length loss (:func:`full_length_loss`), which the schedule
    uses to decide when to move on. A NaN or infinite loss ends the run with
    ``status="diverged"`` instead of training on garbage.

    Args:
        model: model whose batch size equals ``x.shape[0]``.
        x: ``[sequences, timesteps, features]``; y: ``[sequences, timesteps, outputs]``.
        epochs: passes over the data (>= 1).
        optimizer: compiled into the model with the MSE loss; None keeps the model's
            compiled optimizer.
        schedule: a :class:`SequenceLengthSchedule`; None trains on full length (n = 1).
        name: label stored in the result.
        record_gradients: before each epoch, also record the largest per-tensor gradient
            norm and the global norm on the full-length data (noise on): for a full-length
            run these are the norms the epoch's single update sees, up to the noise draw.
        verbose: print one line per epoch.

    Returns:
        A :class:`RunResult` with ``epochs + 1`` points (fewer if it diverged).
    """
    x, y = _check_xy(x, y)
    epochs = check_positive_int("epochs", epochs)
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    batch = model.inputs[0].shape[0]
    if batch is not None and batch != x.shape[0]:
        raise ValueError(f"model's batch size {batch} must equal the number of sequences "
                         f"{x.shape[0]} (batch = all sequences)")
    if optimizer is not None:
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(f"optimizer must be a keras optimizer or None, got "
                            f"{type(optimizer).__name__}")
        model.compile(optimizer=optimizer, loss="mse")
    if not isinstance(getattr(model, "optimizer", None), keras.optimizers.Optimizer):
        raise TypeError("optimizer must be a keras optimizer (or compile the model with one)")
    if not isinstance(record_gradients, bool):
        raise TypeError(f"record_gradients must be a bool, got {type(record_gradients).__name__}")
    length = x.shape[1]
    if schedule is not None:
        if not isinstance(schedule, SequenceLengthSchedule):
            raise TypeError("schedule must be a SequenceLengthSchedule or None")
        if max(schedule.splits) > length:
            raise ValueError(f"schedule splits {schedule.splits} must be <= timesteps {length}")
        schedule.reset()
    splits = (1,) if schedule is None else schedule.splits
    chunk_lengths = {b - a for n in splits for a, b in chunk_bounds(length, n)}
    # two lengths are enough: Keras' second trace leaves the time axis open for all others
    _warm_up(model, x, y, {min(chunk_lengths), max(chunk_lengths)})
    result = RunResult(name)
    result.loss.append(full_length_loss(model, x, y))
    result.train_loss.append(math.nan)
    result.seconds.append(0.0)
    result.updates.append(0)
    result.timesteps.append(0)
    result.n_chunks.append(0)
    seconds, updates, steps = 0.0, 0, 0
    for epoch in range(1, epochs + 1):
        n = 1 if schedule is None else schedule.current
        if record_gradients:
            norms = gradient_norms(model, x, y)
            result.grad_norm_max.append(max(v for k, v in norms.items() if k != "global"))
            result.grad_norm_global.append(norms["global"])
        start = time.perf_counter()
        total = train_one_pass(model, x, y, n)
        seconds += time.perf_counter() - start
        updates += n
        steps += x.shape[0] * length
        loss = full_length_loss(model, x, y) if math.isfinite(total) else math.nan
        result.loss.append(loss)
        result.train_loss.append(total)
        result.seconds.append(seconds)
        result.updates.append(updates)
        result.timesteps.append(steps)
        result.n_chunks.append(n)
        if verbose:
            print(f"{name}: epoch {epoch} n={n} loss {loss:.4g} ({seconds:.1f} s)")
        if not (math.isfinite(loss) and math.isfinite(total)):
            result.status, result.stopped_epoch = "diverged", epoch
            break
        if schedule is not None:
            schedule.update(loss)
    if schedule is not None:
        result.switches = list(schedule.switches)
    return result


def run_experiment(
    experiment: Experiment,
    x: Any,
    y: Any,
    *,
    epochs: int,
    seed: int = 42,
    model_kwargs: dict[str, Any] | None = None,
    record_gradients: bool = False,
    quiet: bool = False,
) -> RunResult:
    """Train a model from the same initial weights with this experiment's settings.

    Args:
        experiment: the configuration.
        x, y: training data ``[sequences, timesteps, features]`` / ``[..., 2]``.
        epochs: passes over the data.
        seed: seeds the weights and the noise layers, so runs differ only by configuration.
            Runs with the same data shape, seed and ``model_kwargs`` reuse one model, reset
            to the same initial weights, so the graph is traced only once.
        model_kwargs: extra arguments for :func:`price_q_model` (sizes, noise).
        record_gradients: see :func:`train_with_schedule`.
        quiet: do not print the one-line summary.

    Returns:
        The run's :class:`RunResult`; a one-line summary is printed unless ``quiet``.
    """
    if not isinstance(experiment, Experiment):
        raise TypeError(f"experiment must be an Experiment, got {type(experiment).__name__}")
    from course_lib.environment import set_seed

    x, y = _check_xy(x, y)
    kwargs = dict(model_kwargs or {})
    key = (x.shape[0], x.shape[2], seed, tuple(sorted(kwargs.items())))
    if _MODELS.get("key") != key:
        # one model per notebook set-up: its traced graph is reused by every run
        set_seed(seed)
        keras.backend.clear_session()
        model = price_q_model(x.shape[0], x.shape[2], **kwargs)
        initial = [v.numpy() for v in model.variables]
        full_length_loss(model, x, y)  # trace the evaluation once per model
        _MODELS.update(key=key, model=model, initial=initial)
    model = _MODELS["model"]
    for variable, value in zip(model.variables, _MODELS["initial"], strict=True):
        variable.assign(value)  # same initial weights and noise stream for every run
    result = train_with_schedule(model, x, y, epochs=epochs,
                                 optimizer=experiment.make_optimizer(),
                                 schedule=experiment.make_schedule(), name=experiment.name,
                                 record_gradients=record_gradients)
    result.config = {**asdict(experiment), "seed": seed, "epochs": epochs,
                     "model": dict(model_kwargs or {})}
    state = f"DIVERGED at epoch {result.stopped_epoch}" if result.status != "ok" else "ok"
    if not quiet:
        print(f"{experiment.name:<28} final loss {result.final_loss:.4f}  best "
              f"{result.best_loss:.4f}  {result.updates[-1]:>5} updates  "
              f"{result.seconds[-1]:6.1f} s  {state}")
    return result


def results_table(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Return one row per run: final/best loss, largest spike, updates, seconds, status."""
    rows = []
    for r in results:
        rows.append({
            "run": r.name,
            "final_loss": r.final_loss,
            "best_loss": r.best_loss,
            "largest_spike": r.largest_spike,
            "updates": r.updates[-1],
            "seconds": round(r.seconds[-1], 2),
            "status": r.status,
        })
    return rows


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """Print rows from :func:`results_table`, sorted by final loss."""
    print(f"{'run':<30}{'final':>9}{'best':>9}{'spike':>9}{'updates':>9}{'seconds':>9}  status")
    for row in sorted(rows, key=lambda r: r["final_loss"]):
        print(f"{row['run']:<30}{row['final_loss']:>9.4f}{row['best_loss']:>9.4f}"
              f"{row['largest_spike']:>9.4f}{row['updates']:>9d}{row['seconds']:>9.1f}  "
              f"{row['status']}")


def plot_runs(results: Sequence[RunResult], title: str, x_axes: Sequence[str] = ("epoch",
              "seconds"), *, logy: bool = True):
    """Draw the loss of each run against each of ``x_axes`` side by side; return the figure."""
    import matplotlib.pyplot as plt

    from course_lib.plots import color_for

    if not results:
        raise ValueError("results must contain at least one RunResult")
    labels = {"epoch": "epoch", "seconds": "training time (s)", "updates": "weight updates",
              "timesteps": "processed timesteps (sequences x steps)"}
    for axis in x_axes:
        if axis not in X_AXES:
            raise ValueError(f"x_axes entries must be in {X_AXES}, got {axis!r}")
    fig, axes = plt.subplots(1, len(x_axes), figsize=(5.2 * len(x_axes), 3.8),
                             layout="constrained", squeeze=False)
    for ax, axis in zip(axes[0], x_axes, strict=True):
        for r in results:
            xs, ys = r.curve(axis)
            ax.plot(xs, ys, label=r.name, color=color_for(r.name), lw=1.5)
        ax.set_xlabel(labels[axis])
        ax.set_ylabel("full-length MSE loss")
        ax.grid(True, alpha=0.3)
        if logy:
            ax.set_yscale("log")
        if axis == "updates":
            ax.set_xscale("log")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def training_demo(
    optimizer: str,
    clip: tuple[str, float] | None,
    schedule: tuple[int, ...] | None,
    *,
    x: Any,
    y: Any,
    epochs: int,
    learning_rate: float = 0.01,
    patience: int = 20,
    min_delta: float = 0.0,
    baseline: RunResult | None = None,
    seed: int = 42,
    model_kwargs: dict[str, Any] | None = None,
):
    """Train one configuration and plot it next to a baseline run (notebook 10's widget).

    Args:
        optimizer: one of :data:`OPTIMIZERS`.
        clip: ``None`` or ``(kind, value)`` with kind in :data:`CLIP_KINDS`.
        schedule: ``None`` (full length) or the chunk counts of a sequence-length schedule.
        x, y: training data ``[sequences, timesteps, n_lags]`` / ``[..., 2]``.
        epochs: passes over the data.
        learning_rate: the optimizer's step size.
        patience, min_delta: the schedule's settings.
        baseline: an earlier run drawn for comparison (e.g. the SGD baseline), or None.
        seed: model seed.
        model_kwargs: extra arguments for :func:`price_q_model`.

    Returns:
        ``(figure, RunResult)``: loss against epochs and against training seconds.
    """
    if baseline is not None and not isinstance(baseline, RunResult):
        raise TypeError(f"baseline must be a RunResult or None, got {type(baseline).__name__}")
    parts = [optimizer] + ([f"{clip[0]}={clip[1]:g}"] if clip else [])
    parts += [f"schedule {list(schedule)}"] if schedule else []
    experiment = Experiment(" + ".join(parts), optimizer, learning_rate, clip=clip,
                            schedule=None if schedule is None else tuple(schedule),
                            patience=patience, min_delta=min_delta)
    result = run_experiment(experiment, x, y, epochs=epochs, seed=seed, model_kwargs=model_kwargs)
    runs = [baseline, result] if baseline is not None else [result]
    fig = plot_runs(runs, f"{experiment.name}: loss per epoch and per second")
    return fig, result


def gradient_norms(model: keras.Model, x: Any, y: Any) -> dict[str, float]:
    """Return the norm of the MSE gradient of each weight tensor, and their global norm.

    Computed on the full-length data with the states reset (noise layers on, as in
    training). The noise layers' random stream is put back afterwards, so calling this
    between epochs does not change a run. Use it to see whether a clipping threshold would
    act at all: ``clipnorm=c`` rescales a tensor's gradient only when its norm exceeds c.

    Args:
        model: a model from :func:`price_q_model` (compiled or not).
        x, y: ``[sequences, timesteps, n_lags]`` / ``[sequences, timesteps, 2]``.

    Returns:
        ``{weight path: norm, ..., "global": norm over all weights}``.
    """
    import tensorflow as tf

    x, y = _check_xy(x, y)
    if getattr(model, "_course_gradient_norms", None) is None:  # freed with the model
        @tf.function
        def norms_of(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            return [tf.norm(g) for g in grads], tf.linalg.global_norm(grads)

        model._course_gradient_norms = norms_of
    streams = [(v, v.numpy()) for v in model.non_trainable_variables]
    reset_lstm_states(model)
    per_tensor, total = model._course_gradient_norms(x, y)
    reset_lstm_states(model)
    for variable, value in streams:
        variable.assign(value)
    norms = {v.path: float(n) for v, n in zip(model.trainable_variables, per_tensor, strict=True)}
    norms["global"] = float(total)
    return norms
