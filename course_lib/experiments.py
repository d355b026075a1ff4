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
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import keras
import numpy as np

from course_lib.data import check_positive_int

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adagrad", "adadelta")
CLIP_KINDS = ("clipnorm", "clipvalue", "global_clipnorm")
X_AXES = ("epoch", "seconds", "updates", "timesteps")
SEED_SCHEDULE = (100, 50, 10, 2, 1)
_MODELS: dict[str, Any] = {}  # the model shared by run_experiment calls (see there)


# ----------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------


def price_q_model(
    n_sequences: int,
    n_lags: int = 128,
    *,
    dense_units: int = 64,
    lstm_units: int = 64,
    noise_std: float = 0.05,
    stateful: bool = True,
    name: str = "price_q_model",
) -> keras.Model:
    """Build seed 002's network: Dense -> noise -> Dense -> noise -> LSTM -> LSTM -> Dense(2).

    The two Dense layers (ReLU) act on each step's ``n_lags`` price changes; the
    GaussianNoise layers (active only in training) regularise; both LSTMs return a
    sequence so the last Dense gives Q(buy), Q(sell) at every step. The model is not
    compiled: :func:`run_experiment` compiles it with the optimizer under test.

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
    check_positive_int("n_sequences", n_sequences)
    check_positive_int("n_lags", n_lags)
    check_positive_int("dense_units", dense_units)
    check_positive_int("lstm_units", lstm_units)
    noise_std = _check_float("noise_std", noise_std, 0.0, 10.0)
    if not isinstance(stateful, bool):
        raise TypeError(f"stateful must be a bool, got {type(stateful).__name__}")
    inputs = keras.Input(shape=(None, n_lags), batch_size=n_sequences)
    h = keras.layers.Dense(dense_units, activation="relu", name="dense_1")(inputs)
    h = keras.layers.GaussianNoise(noise_std, name="noise_1")(h)
    h = keras.layers.Dense(dense_units, activation="relu", name="dense_2")(h)
    h = keras.layers.GaussianNoise(noise_std, name="noise_2")(h)
    h = keras.layers.LSTM(lstm_units, return_sequences=True, stateful=stateful, name="lstm_1")(h)
    h = keras.layers.LSTM(lstm_units, return_sequences=True, stateful=stateful, name="lstm_2")(h)
    outputs = keras.layers.Dense(2, name="q_values")(h)
    return keras.Model(inputs, outputs, name=name)


def reset_lstm_states(model: keras.Model) -> None:
    """Zero the state of every stateful recurrent layer in ``model``."""
    for layer in model.layers:
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            layer.reset_state()


# ----------------------------------------------------------------------------------------
# Optimizers and clipping
# ----------------------------------------------------------------------------------------


def _check_float(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (low <= float(value) <= high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return float(value)


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
    learning_rate = _check_float("learning_rate", learning_rate, 0.0, 10.0)
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be in (0, 10], got {learning_rate}")
    clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
    given = {k: v for k, v in clips.items() if v is not None}
    if len(given) > 1:
        raise ValueError(f"set at most one of clipnorm, clipvalue, global_clipnorm; got {given}")
    for kind, value in given.items():
        given[kind] = _check_float(kind, value, 0.0, 1e6)
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


def chunk_bounds(length: int, n_chunks: int) -> list[tuple[int, int]]:
    """Cut ``range(length)`` into ``n_chunks`` contiguous pieces of (nearly) equal length.

    When ``n_chunks`` does not divide ``length`` the first ``length % n_chunks`` pieces
    are one step longer; no step is dropped.

    Returns:
        ``[(start, stop), ...]`` in order, covering ``0 .. length`` exactly.
    """
    length = check_positive_int("length", length)
    n_chunks = check_positive_int("n_chunks", n_chunks, maximum=length)
    base, extra = divmod(length, n_chunks)
    bounds, start = [], 0
    for i in range(n_chunks):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


class SequenceLengthSchedule:
    """Train on ``n`` chunks per sequence, moving to the next ``n`` when the loss stalls.

    Start with ``splits[0]`` chunks per sequence (short chunks, many updates per epoch);
    after ``patience`` epochs without the monitored loss falling below its best by more
    than ``min_delta``, move to the next entry; the last entry stays until training ends.
    Seed 002 used ``splits=(100, 50, 10, 2, 1)`` and ``patience=20``.

    Args:
        splits: chunks per sequence, each >= 1, in the order they are used.
        patience: epochs without improvement before moving on (>= 1).
        min_delta: improvement smaller than this does not count (>= 0).
    """

    def __init__(self, splits: Sequence[int] = SEED_SCHEDULE, patience: int = 20,
                 min_delta: float = 0.0):
        if isinstance(splits, (str, bytes)) or not isinstance(splits, Sequence) or not splits:
            raise ValueError(f"splits must be a non-empty sequence of ints, got {splits!r}")
        self.splits = tuple(check_positive_int(f"splits[{i}]", s) for i, s in enumerate(splits))
        self.patience = check_positive_int("patience", patience)
        self.min_delta = _check_float("min_delta", min_delta, 0.0, 1e9)
        self.reset()

    def reset(self) -> None:
        """Go back to the first stage and forget the best loss."""
        self.stage = 0
        self.best = math.inf
        self.wait = 0
        self.epoch = 0
        self.switches: list[tuple[int, int]] = []  # (epoch after which we switched, new n)

    @property
    def current(self) -> int:
        """Chunks per sequence for the next epoch."""
        return self.splits[self.stage]

    def update(self, loss: float) -> bool:
        """Report one finished epoch's loss; return True if the next epoch uses a new ``n``."""
        self.epoch += 1
        if loss < self.best - self.min_delta:
            self.best, self.wait = float(loss), 0
            return False
        self.wait += 1
        if self.wait >= self.patience and self.stage < len(self.splits) - 1:
            self.stage += 1
            self.wait = 0
            self.switches.append((self.epoch, self.current))
            return True
        return False

    def __repr__(self) -> str:
        return (f"SequenceLengthSchedule(splits={self.splits}, patience={self.patience}, "
                f"min_delta={self.min_delta})")


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
    training passes, not the evaluations; :func:`run_experiment` builds the graphs before
    the clock starts, so every run is timed alike.
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


_STEP_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _step_functions(model: keras.Model):
    """Return ``(grad_step, evaluate)`` tf.functions for ``model``, traced once per model.

    Keras' ``train_on_batch`` traces a new graph for every compiled optimizer (seconds per
    run on a CPU); computing the gradients in one graph per model and letting the
    optimizer apply them eagerly lets every run of a notebook share one trace.
    """
    import tensorflow as tf

    if model not in _STEP_FUNCTIONS:
        # any number of timesteps: one trace serves every chunk length of a schedule
        signature = [tf.TensorSpec((model.inputs[0].shape[0], None, model.inputs[0].shape[2])),
                     tf.TensorSpec((model.outputs[0].shape[0], None, model.outputs[0].shape[2]))]

        @tf.function(input_signature=signature)
        def grad_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
            return loss, tape.gradient(loss, model.trainable_variables)

        @tf.function(input_signature=signature)
        def evaluate(x, y):
            return tf.reduce_mean(tf.square(model(x, training=False) - y))

        _STEP_FUNCTIONS[model] = (grad_step, evaluate)
    return _STEP_FUNCTIONS[model]


def _apply_function(optimizer: keras.optimizers.Optimizer, weights: list) -> Any:
    """Return a compiled ``apply(grads)`` for ``optimizer`` (eager updates are ~50x slower)."""
    import tensorflow as tf

    if not optimizer.built:
        optimizer.build(weights)

    @tf.function(autograph=False)
    def apply_step(grads):
        optimizer.apply(grads, weights)

    # trace now, so a run's timing does not include building the graph
    apply_step.get_concrete_function([tf.TensorSpec(v.shape, v.dtype) for v in weights])
    return apply_step


def _evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    reset_lstm_states(model)
    loss = float(_step_functions(model)[1](x, y))
    reset_lstm_states(model)
    return loss


def train_with_schedule(
    model: keras.Model,
    x: Any,
    y: Any,
    *,
    epochs: int,
    optimizer: keras.optimizers.Optimizer | None = None,
    schedule: SequenceLengthSchedule | None = None,
    name: str = "run",
    verbose: bool = False,
) -> RunResult:
    """Train a stateful model on the MSE for ``epochs`` passes, chunked as ``schedule`` says.

    Each epoch: reset the LSTM states, feed the ``n`` chunks of every sequence in order
    (one weight update per chunk, batch = all sequences), then measure the full-length
    loss with the states reset. A NaN or infinite loss ends the run with
    ``status="diverged"`` instead of training on garbage.

    Args:
        model: model whose batch size equals ``x.shape[0]``.
        x: ``[sequences, timesteps, features]``; y: ``[sequences, timesteps, outputs]``.
        epochs: passes over the data (>= 1).
        optimizer: applies the gradients; None uses the one the model was compiled with.
        schedule: a :class:`SequenceLengthSchedule`; None trains on full length (n = 1).
        name: label stored in the result.
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
    if optimizer is None:
        optimizer = getattr(model, "optimizer", None)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError("optimizer must be a keras optimizer (or compile the model with one)")
    grad_step = _step_functions(model)[0]
    weights = model.trainable_variables
    apply_step = _apply_function(optimizer, weights)
    length = x.shape[1]
    if schedule is not None:
        if not isinstance(schedule, SequenceLengthSchedule):
            raise TypeError("schedule must be a SequenceLengthSchedule or None")
        if max(schedule.splits) > length:
            raise ValueError(f"schedule splits {schedule.splits} must be <= timesteps {length}")
        schedule.reset()
    result = RunResult(name)
    result.loss.append(_evaluate(model, x, y))
    result.train_loss.append(math.nan)
    result.seconds.append(0.0)
    result.updates.append(0)
    result.timesteps.append(0)
    result.n_chunks.append(0)
    seconds, updates, steps = 0.0, 0, 0
    for epoch in range(1, epochs + 1):
        n = 1 if schedule is None else schedule.current
        reset_lstm_states(model)
        total = 0.0
        start = time.perf_counter()
        for a, b in chunk_bounds(length, n):
            loss, grads = grad_step(x[:, a:b], y[:, a:b])
            apply_step(grads)
            total += float(loss) * (b - a)
        seconds += time.perf_counter() - start
        updates += n
        steps += x.shape[0] * length
        loss = _evaluate(model, x, y) if math.isfinite(total) else math.nan
        result.loss.append(loss)
        result.train_loss.append(total / length)
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

    Returns:
        The run's :class:`RunResult`; a one-line summary is printed.
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
        grad_step, evaluate = _step_functions(model)
        grad_step(x, y)  # trace and run once, so no run's timing includes building the graph
        evaluate(x, y)
        _MODELS.update(key=key, model=model, initial=initial)
    model = _MODELS["model"]
    for variable, value in zip(model.variables, _MODELS["initial"], strict=True):
        variable.assign(value)  # same initial weights and noise stream for every run
    result = train_with_schedule(model, x, y, epochs=epochs,
                                 optimizer=experiment.make_optimizer(),
                                 schedule=experiment.make_schedule(), name=experiment.name)
    result.config = {**asdict(experiment), "seed": seed, "epochs": epochs,
                     "model": dict(model_kwargs or {})}
    state = f"DIVERGED at epoch {result.stopped_epoch}" if result.status != "ok" else "ok"
    print(f"{experiment.name:<28} final loss {result.final_loss:.4f}  best {result.best_loss:.4f}"
          f"  {result.updates[-1]:>5} updates  {result.seconds[-1]:6.1f} s  {state}")
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

    Computed once on the full-length data with the states reset (noise layers on, as in
    training). Use it to see whether a clipping threshold would act at all.

    Args:
        model: a model from :func:`price_q_model` (compiled or not).
        x, y: ``[sequences, timesteps, n_lags]`` / ``[sequences, timesteps, 2]``.

    Returns:
        ``{weight path: norm, ..., "global": norm over all weights}``.
    """
    import tensorflow as tf

    x, y = _check_xy(x, y)
    reset_lstm_states(model)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    reset_lstm_states(model)
    norms = {v.path: float(tf.norm(g)) for v, g in zip(model.trainable_variables, grads,
                                                         strict=True)}
    norms["global"] = float(tf.linalg.global_norm(grads))
    return norms
