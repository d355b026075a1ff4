"""Plumbing of notebook 07 (encoder-decoder): saved copies of its on-page code, runs, figures.

The first block holds the saved copies of the Keras/NumPy code written on notebook 07's page
(``# saved in course_lib.lessons.encoder_decoder``; tests/test_saved_copies.py keeps the two
identical). They do not validate their arguments, to stay short on the page; the runners
below (:func:`code_size_run`, :func:`feature_run`, :func:`end_to_end_run`) validate and then
call them.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np

from course_lib.validate import check_fraction, check_positive_int

# ------------------------------------------------------ saved copies (notebook 07's page)


def to_chunks(x, chunk_len):
    """[samples, T, F] -> [samples * T // chunk_len, chunk_len, F]; sample i's chunks in a row."""
    return x.reshape(-1, chunk_len, x.shape[2])


def build_autoencoder(chunk_len, n_features, code_size, units):
    """Return ``(autoencoder, encoder)``: chunk -> code -> chunk, and chunk -> code."""
    chunk = keras.Input(shape=(chunk_len, n_features))
    hidden = keras.layers.LSTM(units, go_backwards=True, name="encoder_lstm")(chunk)
    code = keras.layers.Dense(code_size, name="code")(hidden)  # linear: any real numbers
    encoder = keras.Model(chunk, code, name="encoder")
    repeated = keras.layers.RepeatVector(chunk_len)(code)  # the code, once per output step
    decoded = keras.layers.LSTM(units, return_sequences=True, name="decoder_lstm")(repeated)
    rebuilt = keras.layers.Dense(n_features, name="reconstruction")(decoded)
    autoencoder = keras.Model(chunk, rebuilt, name="autoencoder")
    return autoencoder, encoder


def train_autoencoder(autoencoder, chunks, epochs, batch_size=64, learning_rate=1e-2):
    """Fit the autoencoder to rebuild its input (no labels); return the Keras history."""
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return autoencoder.fit(chunks, chunks, epochs=epochs, batch_size=batch_size, verbose=0)


def encode(encoder, x, chunk_len):
    """[samples, T, F] -> codes [samples, T // chunk_len, code_size], chunk by chunk."""
    codes = encoder.predict(to_chunks(x, chunk_len), batch_size=512, verbose=0)
    return codes.reshape(x.shape[0], x.shape[1] // chunk_len, codes.shape[-1])


def build_sequence_classifier(n_steps, n_inputs, units, learning_rate=1e-2):
    """LSTM over a short sequence of per-chunk vectors (codes or statistics) -> P(class 1)."""
    model = keras.Sequential([
        keras.Input(shape=(n_steps, n_inputs)),
        keras.layers.LSTM(units),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name="sequence_classifier")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def build_end_to_end(seq_len, chunk_len, n_features, code_size, units, learning_rate=1e-2):
    """Encoder applied to every chunk, then the classifier, trained together on the labels."""
    _, encoder = build_autoencoder(chunk_len, n_features, code_size, units)  # decoder unused
    traces = keras.Input(shape=(seq_len, n_features))
    chunks = keras.ops.reshape(traces, (-1, chunk_len, n_features))  # section 2's reshape
    codes = keras.ops.reshape(encoder(chunks), (-1, seq_len // chunk_len, code_size))
    hidden = keras.layers.LSTM(units)(codes)  # the classifier of section 4
    outputs = keras.layers.Dense(1, activation="sigmoid")(hidden)
    model = keras.Model(traces, outputs, name="end_to_end")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def chunk_statistics(x, chunk_len, n_bands=8):
    """Per chunk and channel: mean, std and the power in ``n_bands`` equal frequency bands."""
    chunks = x.reshape(x.shape[0], x.shape[1] // chunk_len, chunk_len, x.shape[2])
    mean = chunks.mean(axis=2)
    std = chunks.std(axis=2)
    power = np.abs(np.fft.rfft(chunks - mean[:, :, None], axis=2)) ** 2 / chunk_len
    bands = np.array_split(power[:, :, 1:], n_bands, axis=2)  # drop the 0 Hz bin (the mean)
    band_power = np.stack([b.sum(axis=2) for b in bands], axis=2)  # [n, chunks, bands, F]
    flat = band_power.reshape(x.shape[0], x.shape[1] // chunk_len, n_bands * x.shape[2])
    return np.concatenate([mean, std, np.log1p(flat)], axis=2).astype("float32")


# ------------------------------------------------------------------ validated plumbing


def _fresh_start(seed: int) -> None:
    """Free the graphs of earlier runs (models already built keep working), then seed."""
    import gc

    keras.backend.clear_session()
    gc.collect()
    keras.utils.set_random_seed(seed)


def _check_3d(name: str, x: Any) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D [samples, timesteps, features], got shape {x.shape}")
    return x


def _check_chunk_len(x: np.ndarray, chunk_len: Any) -> int:
    chunk_len = check_positive_int("chunk_len", chunk_len, maximum=x.shape[1])
    if x.shape[1] % chunk_len:
        raise ValueError(f"chunk_len must divide timesteps={x.shape[1]}, got {chunk_len}")
    return chunk_len


def _check_data(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(data, tuple | list) or len(data) != 4:
        raise ValueError("data must be (x_train, y_train, x_test, y_test)")
    x_train, y_train = _check_3d("x_train", data[0]), np.asarray(data[1])
    x_test, y_test = _check_3d("x_test", data[2]), np.asarray(data[3])
    if len(y_train) != len(x_train) or len(y_test) != len(x_test):
        raise ValueError("data: every x must have one label per sample")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ValueError(f"data: x_train {x_train.shape} and x_test {x_test.shape} differ "
                         "in timesteps or features")
    return x_train, y_train, x_test, y_test


def chunk(x: Any, chunk_len: int) -> np.ndarray:
    """Validated :func:`to_chunks`: cut ``[samples, T, F]`` into chunks of ``chunk_len`` steps."""
    x = _check_3d("x", x)
    return to_chunks(x, _check_chunk_len(x, chunk_len))


def statistics(x: Any, chunk_len: int, n_bands: int = 8) -> np.ndarray:
    """Validated :func:`chunk_statistics`: ``[samples, T // chunk_len, (2 + n_bands) * F]``."""
    x = _check_3d("x", x)
    chunk_len = _check_chunk_len(x, chunk_len)
    check_positive_int("n_bands", n_bands, maximum=max(1, chunk_len // 2))
    return chunk_statistics(x, chunk_len, n_bands)


def decode_in_chunks(autoencoder, x: Any, chunk_len: int) -> np.ndarray:
    """Reconstruct whole sequences chunk by chunk; returns the shape of ``x``."""
    pieces = chunk(x, chunk_len)
    return np.asarray(autoencoder.predict(pieces, batch_size=512, verbose=0)).reshape(
        np.shape(x))


def fit_classifier(features_train, y_train, features_test, y_test, *, units: int = 32,
                   epochs: int = 20, seed: int = 0) -> float:
    """Train :func:`build_sequence_classifier` on per-chunk vectors; return test accuracy."""
    a, b = _check_3d("features_train", features_train), _check_3d("features_test", features_test)
    check_positive_int("units", units)
    check_positive_int("epochs", epochs)
    check_positive_int("seed", seed, minimum=0)
    _fresh_start(seed)
    model = build_sequence_classifier(a.shape[1], a.shape[2], units)
    model.fit(a, np.asarray(y_train), epochs=epochs, batch_size=32, verbose=0)
    return float(model.evaluate(b, np.asarray(y_test), batch_size=256, verbose=0)[1])


def code_size_run(data: tuple, code_size: int, chunk_len: int, *, units: int = 32,
                  ae_epochs: int = 10, clf_epochs: int = 20, seed: int = 0) -> dict[str, Any]:
    """Train a chunk autoencoder with ``code_size`` (no labels), then a classifier on its codes.

    Args:
        data: ``(x_train, y_train, x_test, y_test)``, x ``[samples, T, F]``, binary labels.
        code_size: numbers per chunk code.
        chunk_len: steps per chunk; divides T.
        units, ae_epochs, clf_epochs, seed: training settings.

    Returns:
        dict with ``recon_mse`` (test chunks), ``signal_var`` (variance of the test chunks),
        ``explained`` (1 - recon_mse / signal_var), ``code_acc`` (test accuracy),
        ``codes`` (train and test codes), ``seconds``, ``autoencoder`` and ``encoder``.
    """
    x_train, y_train, x_test, y_test = _check_data(data)
    code_size = check_positive_int("code_size", code_size)
    chunk_len = _check_chunk_len(x_train, chunk_len)
    for name, value in (("units", units), ("ae_epochs", ae_epochs), ("clf_epochs", clf_epochs)):
        check_positive_int(name, value)
    check_positive_int("seed", seed, minimum=0)
    began = time.perf_counter()
    _fresh_start(seed)
    autoencoder, encoder = build_autoencoder(chunk_len, x_train.shape[2], code_size, units)
    train_autoencoder(autoencoder, to_chunks(x_train, chunk_len), ae_epochs)
    test_chunks = to_chunks(x_test, chunk_len)
    recon_mse = float(autoencoder.evaluate(test_chunks, test_chunks, batch_size=512, verbose=0))
    signal_var = float(np.var(test_chunks))
    codes = (encode(encoder, x_train, chunk_len), encode(encoder, x_test, chunk_len))
    code_acc = fit_classifier(codes[0], y_train, codes[1], y_test, units=units,
                              epochs=clf_epochs, seed=seed)
    seconds = time.perf_counter() - began
    print(f"code size {code_size:>3}: reconstruction MSE {recon_mse:.3f} (signal variance "
          f"{signal_var:.3f}), accuracy on codes {code_acc:.3f}, {seconds:.0f} s")
    return {"code_size": code_size, "recon_mse": recon_mse, "signal_var": signal_var,
            "explained": 1.0 - recon_mse / signal_var, "code_acc": code_acc, "codes": codes,
            "seconds": seconds, "autoencoder": autoencoder, "encoder": encoder}


def end_to_end_run(data: tuple, code_size: int, chunk_len: int, *, units: int = 32,
                   epochs: int = 20, seed: int = 0) -> float:
    """Train :func:`build_end_to_end` (encoder + classifier on the labels); return test accuracy."""
    x_train, y_train, x_test, y_test = _check_data(data)
    check_positive_int("code_size", code_size)
    chunk_len = _check_chunk_len(x_train, chunk_len)
    check_positive_int("units", units)
    check_positive_int("epochs", epochs)
    check_positive_int("seed", seed, minimum=0)
    _fresh_start(seed)
    model = build_end_to_end(x_train.shape[1], chunk_len, x_train.shape[2], code_size, units)
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return float(model.evaluate(x_test, y_test, batch_size=256, verbose=0)[1])


def compare_inputs(data: tuple, codes: tuple, chunk_len: int, *, code_size: int,
                   units: int = 32, epochs: int = 20, e2e_epochs: int | None = None,
                   repeats: int = 3, seed: int = 0) -> dict[str, list[float]]:
    """Same classifier on three inputs, ``repeats`` seeds each: codes, statistics, end to end.

    Args:
        data: ``(x_train, y_train, x_test, y_test)``.
        codes: ``(codes_train, codes_test)`` of a trained autoencoder.
        chunk_len, code_size, units: as in :func:`code_size_run`.
        epochs: epochs of the classifier on codes and on statistics.
        e2e_epochs: epochs of the end-to-end model (None: ``epochs``).
        repeats: seeds per input (``seed, seed + 1, ...``).

    Returns:
        ``{"autoencoder codes": [...], "chunk statistics": [...], "end to end": [...]}``:
        test accuracies, one per seed.
    """
    x_train, y_train, x_test, y_test = _check_data(data)
    check_positive_int("repeats", repeats)
    check_positive_int("seed", seed, minimum=0)
    e2e_epochs = epochs if e2e_epochs is None else check_positive_int("e2e_epochs", e2e_epochs)
    stats = (statistics(x_train, chunk_len), statistics(x_test, chunk_len))
    out: dict[str, list[float]] = {"autoencoder codes": [], "chunk statistics": [],
                                   "end to end": []}
    for s in range(seed, seed + repeats):
        out["autoencoder codes"].append(fit_classifier(codes[0], y_train, codes[1], y_test,
                                                       units=units, epochs=epochs, seed=s))
        out["chunk statistics"].append(fit_classifier(stats[0], y_train, stats[1], y_test,
                                                      units=units, epochs=epochs, seed=s))
        out["end to end"].append(end_to_end_run(data, code_size, chunk_len, units=units,
                                                epochs=e2e_epochs, seed=s))
    for name, accs in out.items():
        print(f"{name:<18} accuracy {mean_std(accs)}  (seeds {seed}..{seed + repeats - 1})")
    return out


def mean_std(values, digits: int = 3) -> str:
    """Return ``"mean ± std (n=k)"`` of a non-empty list of numbers."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("values must be a non-empty 1-D list of numbers")
    check_positive_int("digits", digits, maximum=8)
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f} (n={values.size})"


def wins(a, b, margin: float = 0.0) -> int:
    """Count paired seeds where ``a[i] >= b[i] + margin`` (the "k" of "k of n")."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"a and b must be non-empty 1-D lists of equal length, got {a.shape} "
                         f"and {b.shape}")
    check_fraction("margin", margin, -1.0, 1.0)
    return int(np.sum(a >= b + margin))


def reconstruction_figure(autoencoder, x: Any, chunk_len: int, *, sample: int = 0,
                          channel: int = 0, title: str = "One trace and its reconstruction",
                          sampling_rate: float | None = None, burst_starts=None,
                          burst_len: int | None = None):
    """Plot one trace of ``x`` and its chunk-by-chunk reconstruction; return ``(fig, ax)``.

    Args:
        autoencoder: maps ``[batch, chunk_len, features]`` to the same shape.
        x: ``[samples, timesteps, features]``.
        chunk_len: chunk length of the autoencoder.
        sample, channel: which trace and which feature to draw.
        sampling_rate: steps per second (x axis in seconds); None = steps.
        burst_starts, burst_len: shade these spans (e.g. the class-carrying bursts).
    """
    from course_lib import plots

    x = _check_3d("x", x)
    check_positive_int("sample", sample, minimum=0, maximum=x.shape[0] - 1)
    check_positive_int("channel", channel, minimum=0, maximum=x.shape[2] - 1)
    recon = decode_in_chunks(autoencoder, x[sample:sample + 1], chunk_len)[0, :, channel]
    steps = np.arange(x.shape[1], dtype=float)
    unit = "steps"
    if sampling_rate:
        steps, unit = steps / sampling_rate, "s"
    fig, ax = plots.figure(title, f"time ({unit})", f"channel {channel} (a.u.)", size=(8, 3.5))
    ax.plot(steps, x[sample, :, channel], color="#999999", linewidth=1, label="input")
    ax.plot(steps, recon, color=plots.color_for("encoder-decoder"), linewidth=1.2,
            label="reconstruction")
    for start in ([] if burst_starts is None else np.atleast_1d(burst_starts)):
        left = steps[int(start)]
        right = steps[min(int(start) + int(burst_len or 1), x.shape[1]) - 1]
        ax.axvspan(left, right, color="#ffbb78", alpha=0.35, linewidth=0)
    for edge in range(chunk_len, x.shape[1], chunk_len):
        ax.axvline(steps[edge], color="black", alpha=0.08, linewidth=0.8)
    ax.legend(loc="upper right", fontsize=8)
    return fig, ax


def code_size_demo(code_size: int, *, data: tuple, chunk_len: int, units: int = 32,
                   ae_epochs: int = 10, clf_epochs: int = 20, seed: int = 0):
    """Run :func:`code_size_run` and plot the first test trace's reconstruction.

    Returns:
        ``(fig, result)``: the figure and the dict of :func:`code_size_run`.
    """
    result = code_size_run(data, code_size, chunk_len, units=units, ae_epochs=ae_epochs,
                           clf_epochs=clf_epochs, seed=seed)
    fig, _ = reconstruction_figure(
        result["autoencoder"], data[2], chunk_len,
        title=f"code size {code_size}: MSE {result['recon_mse']:.3f}, "
              f"accuracy on codes {result['code_acc']:.2f}")
    return fig, result


def matches_library_statistics(candidate) -> bool:
    """Exercise check: does ``candidate(x, chunk_len)`` equal :func:`chunk_statistics`?

    Tried on three random arrays of different shapes; any exception counts as wrong.
    """
    if not callable(candidate):
        return False
    rng = np.random.default_rng(7)
    for shape, length in (((3, 64, 2), 16), ((2, 64, 4), 32), ((5, 48, 1), 16)):
        x = rng.normal(size=shape).astype("float32")
        try:
            got = np.asarray(candidate(x, length), dtype="float32")
        except Exception:  # noqa: BLE001 -- a student's bug is a wrong answer, not a crash
            return False
        want = chunk_statistics(x, length)
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            return False
    return True
