"""Profiles: one table of sizes for every notebook at three scales.

* ``smoke`` -- seconds per notebook; CI and nbval. Claims are not checked.
* ``cpu``   -- minutes per notebook on a laptop or Binder (< 5 min, < 1.5 GB). Claims checked.
* ``gpu``   -- the seeds' full scale. Claims checked.

A notebook's ``parameters`` cell reads its values with :func:`param`; papermill's
``-p NAME VALUE`` still overrides any single value because papermill injects its
cell after the parameters cell. The profile itself comes from ``COURSE_PROFILE``
(the runner sets it for every kernel it starts).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import Any

PROFILES = ("smoke", "cpu", "gpu")
DEFAULT_PROFILE = "cpu"
ENV_VAR = "COURSE_PROFILE"

# TABLE[notebook][name] = (smoke, cpu, gpu). One row per parameter, one section per notebook.
TABLE: dict[str, dict[str, tuple[Any, Any, Any]]] = {
    "00": {
        "quick_epochs": (1, 2, 2),
    },
    "01": {
        "seq_lengths": ((20, 80), (25, 50, 100, 200, 400, 800), (50, 100, 250, 500, 1000, 2000)),
        "timing_batch": (16, 32, 64),
        "timing_steps": (2, 8, 16),
        "grad_seq_len": (60, 400, 1000),
        "units": (8, 32, 64),
        "grad_batch": (8, 16, 32),  # sequences the gradient norms are averaged over
        "grad_seeds": (2, 5, 5),  # seeds (data + initial weights) for the fade claims
    },
    "02": {  # as-is (issue 5)
        "seq_lengths": ((10, 20), (20, 50, 100, 200, 400), (25, 50, 100, 250, 500, 1000, 2000)),
        "n_samples": (32, 512, 2000),  # marker-task sequences per T (a quarter held out)
        "epochs": (2, 15, 30),
        "units": (4, 32, 64),
        "batch_size": (16, 32, 32),
        "good_accuracy": (0.9, 0.9, 0.9),  # held-out accuracy that counts as learned
        "target_samples": (25_000, 25_000, 25_000),  # a realistic data set (IMDB-sized)
        "target_epochs": (20, 20, 20),
        "budget_hours": (1.0, 1.0, 1.0),  # how long we are willing to wait for one run
        # one longer-budget run: 4x the sequences at the longest T whose run fits the profile
        "long_seq_len": (20, 200, 1000),
        "long_samples": (64, 2048, 8000),
    },
    "03": {  # truncate (issue 5)
        "seq_len": (60, 500, 2000),  # tokens per Zipf document before truncation
        "maxlen": (10, 50, 200),  # tokens the truncation keeps
        "n_samples": (32, 512, 2000),
        "vocab_size": (300, 1000, 5000),
        "region": (0.1, 0.1, 0.1),  # share of the document holding the sentiment words
        "positions": (("start", "end"), ("start", "end", "anywhere"),
                      ("start", "end", "anywhere")),
        "units": (4, 16, 32),
        "embed_dim": (4, 8, 16),
        "epochs": (2, 6, 10),
        "batch_size": (16, 32, 32),
        "widget_maxlen": (10, 100, 400),  # the headless twin of the (maxlen, side) widget
        "widget_side": ("post", "post", "post"),
        "widget_positions": (("start",), ("start", "end"), ("start", "end")),
        "repeats": (1, 5, 5),  # fresh seeds for the keeping sides (start/post, end/pre)
    },
    "04": {  # summarize (issue 5)
        "seq_len": (100, 400, 2000),  # tokens per document
        "n_samples": (64, 800, 4000),
        "vocab_size": (300, 1000, 5000),
        "n_planted": (3, 3, 3),  # sentiment words per document
        "keep_fractions": ((0.2,), (0.05, 0.1, 0.2, 0.4), (0.02, 0.05, 0.1, 0.2, 0.5)),
        "keep_fraction": (0.2, 0.2, 0.2),  # the main fraction; must be in keep_fractions
        "embed_dim": (4, 16, 32),
        "units": (4, 16, 32),
        "epochs": (1, 10, 10),
        "repeats": (1, 3, 5),  # weight seeds for the claims (SEED, SEED + 1, ...)
    },
    "05": {  # random sampling (issue 5)
        "seq_len": (64, 512, 4096),  # T of the EEG-like traces
        "n_samples": (40, 400, 2000),
        "n_bursts": (2, 4, 8),  # class-carrying bursts per trace
        "burst_len": (16, 32, 32),
        "burst_amp": (3.0, 3.0, 3.0),
        "noise": (0.3, 0.3, 0.3),
        "window": (16, 64, 256),  # steps every shortened input keeps (and the window length)
        "n_windows": (2, 8, 16),  # windows per sequence for augmentation (widget start)
        "n_join": (2, 2, 4),  # windows of window // n_join steps joined into one input
        "test_window_counts": ((1, 2), (1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 32)),
        "test_draws": (1, 5, 5),  # fresh test-window draws averaged per window count
        "units": (4, 16, 32),
        "epochs": (2, 10, 20),  # >= 2: seconds per epoch are timed after the first
    },
    "06": {  # TBPTT (issues 4, 10); "shape" rows are (samples, timesteps) of a data set
        "loop_data": ((4, 16, 2), (8, 40, 3), (16, 100, 3)),  # samples, T, echo lag
        "loop_units": (4, 8, 16),
        "loop_pairs": (((4, 8), (3, 7)), ((4, 8), (5, 12), (6, 6)), ((4, 8), (5, 12), (6, 6))),
        "loop_epochs": (1, 2, 2),
        "equiv_seq_len_k": ((12, 4), (24, 6), (48, 8)),  # T, k of TBPTT(k, k) vs Keras
        "horizon_seq_len": (30, 60, 200),
        "horizon_units": (8, 16, 32),
        "horizon_k1_k2": ((4, 10), (5, 20), (10, 50)),
        "cost_shape": ((8, 100), (32, 500), (64, 2000)),
        "cost_units": (8, 64, 128),
        "cost_pairs": (((10, 10), (10, 20), (10, 40)),  # >= 3 pairs: a line is fitted
                       ((25, 25), (25, 50), (25, 100), (25, 200)),
                       ((50, 50), (50, 100), (50, 200), (50, 400))),
        "cost_repeats": (2, 4, 5),  # timed rounds (every pair once per round; fastest kept)
        "cost_clock": ("process", "process", "wall"),  # CPU time on shared CPUs; wall on a GPU
        "echo_k1": (2, 4, 4),
        "echo_lags": ((2, 4), (2, 4, 6, 8), (2, 4, 8, 12, 16)),
        "echo_k2s": ((2, 6), (4, 8, 12, 16), (4, 8, 12, 16, 24)),
        "echo_shape": ((8, 40), (32, 100), (64, 200)),
        "echo_units": (8, 32, 64),
        "echo_epochs": (2, 30, 60),
        "predict_lag": (4, 6, 8),  # the lag of the "predict, then run" question
        "demo_lag": (2, 4, 4),
        "demo_k1_k2": ((4, 8), (4, 8), (4, 8)),
        "demo_shape": ((8, 24), (16, 48), (32, 96)),
        "demo_units": (4, 12, 16),
        "demo_epochs": (2, 15, 30),
    },
    "07": {
        "seq_len": (64, 512, 2048),  # T of the EEG-like traces
        "chunk_len": (16, 32, 64),  # steps the autoencoder reads at once
        "n_samples": (40, 400, 2000),
        "n_bursts": (4, 4, 8),  # class-carrying bursts per trace
        "burst_len": (16, 32, 32),
        "burst_amp": (3.0, 3.0, 3.0),
        "weak_amp": (1.5, 1.5, 1.5),  # section 7: bursts about as big as the background rhythm
        "noise": (0.3, 0.3, 0.3),
        "units": (8, 32, 64),
        "code_size": (4, 16, 16),  # the main run's code size (must be in code_sizes)
        "code_sizes": ((2, 4), (2, 16), (2, 4, 8, 16, 32)),
        "ae_epochs": (1, 8, 30),
        "clf_epochs": (2, 20, 40),  # classifier on codes or on chunk statistics
        "e2e_epochs": (1, 10, 20),  # encoder + classifier trained together
        "repeats": (1, 3, 5),  # classifier seeds per comparison
    },
    "08": {
        "seq_len": (64, 512, 4096),  # T of the EEG-like traces
        "n_samples": (40, 400, 2000),
        "n_bursts": (2, 4, 8),  # class-carrying bursts per trace
        "burst_len": (16, 32, 32),
        "burst_amp": (3.0, 3.0, 3.0),
        "noise": (0.3, 0.3, 0.3),
        "units": (4, 16, 32),
        "epochs": (1, 10, 20),
        "learning_rate": (3e-3, 3e-3, 3e-3),  # 1e-2 made the conv model diverge at cpu
        "n_pieces": (4, 8, 16),  # parallel subsequences / conv stride / projection window
        "proj_dim": (4, 8, 16),  # numbers per projected step
        "n_splits": (4, 8, 16),  # the widget's starting number of splits (in split_list)
        "split_list": ((4,), (2, 8, 32), (2, 4, 8, 16, 32, 64)),
        "dna_len": (64, 512, 4096),
        "dna_samples": (40, 400, 2000),
        "n_motifs": (2, 4, 4),  # copies of the class motif per DNA sequence
        "kmer": (4, 4, 4),  # bases per exact k-mer id (4**4 = 256 ids: a table that fits)
        "hash_kmer": (8, 8, 8),  # bases per k-mer that is hashed (4**8 = 65,536 ids)
        "n_buckets": (64, 1024, 1024),  # hashed vocabulary size (bucket 0 = padding)
        "embed_dim": (8, 16, 16),  # embedding width of every token model
        "dna_repeats": (1, 3, 5),  # DNA seeds (data and weights) per tokenisation
    },
    "09": {
        "seq_len": (96, 480, 2000),  # T of every noisy-sine sequence
        "period": (24, 40, 100),  # steps per sine cycle (what the ACF should find)
        "noise": (1.0, 1.0, 1.0),  # std of the observation noise
        "n_train": (8, 32, 64),
        "n_test": (4, 16, 32),
        "batch_size": (4, 16, 32),  # sequences side by side; must divide n_train
        "units": (4, 16, 32),
        "epochs": (1, 5, 10),
        "learning_rate": (1e-2, 1e-2, 5e-3),
        "naive_len": (12, 120, 250),  # an arbitrary factor of seq_len
        "k1": (12, 40, 100),  # decoupled TBPTT: steps between updates
        "k2": (12, 80, 200),  # decoupled TBPTT: gradient horizon (smoke: k1, one trace)
        "grid_lengths": ((12,), (5, 10, 40, 120, 480), (25, 50, 100, 200, 400, 1000, 2000)),
        "grid_extra": ((30,), (50,), (150, 300)),  # non-factors: padded and masked
        "grid_repeats": (1, 4, 30),
        "show_steps": (96, 200, 400),  # test steps drawn in the forecast plots
        "repeats": (1, 3, 10),  # seeds per config in the budget/memory/reset comparisons
        "big_units": (8, 32, 64),  # the over-sized network that rules out capacity
        "short_len": (12, 20, 25),  # short pieces (< one period) for the reset-rule test
        "mf_seq_len": (12, 40, 100),  # memory-vs-function tasks: steps per sequence
        "mf_n": (16, 64, 128),  # ... training sequences (test: half)
        "mf_batch": (16, 32, 32),
        "mf_epochs": (1, 15, 30),
        "mf_learning_rate": (2e-2, 2e-2, 1e-2),
        "mf_split_len": (6, 20, 50),  # piece length of the split that the one-step is held to
    },
    "10": {  # seed 002 experiments (issue 6)
        "n_sequences": (15, 15, 15),  # batch = all sequences (seed: 15)
        "steps": (32, 300, 20000),  # training timesteps per sequence (seed: 20,000)
        "n_lags": (16, 128, 128),  # past price changes per input step (seed: 128)
        "periods": ((6.0, 10.0), (50.0, 130.0), (50.0, 130.0)),  # the two waves' periods
        "noise_variance": (1e-4, 1e-4, 1e-4),  # std 0.01, what the seed's code drew
        "angle_step": (0.01, 0.01, 0.01),  # amplitude angle drift per step (seed)
        "decimals": (2, 2, 2),  # prices quoted in cents
        "gamma": (0.9, 0.9, 0.9),  # discount of the Q-values
        "plot_steps": (200, 2000, 20000),  # length of the series drawn
        "units": (4, 32, 64),  # Dense and LSTM width (the seed does not say)
        "layer_noise": (0.05, 0.05, 0.05),  # std of the GaussianNoise layers
        "epochs": (2, 30, 300),
        "learning_rate": (0.01, 0.01, 0.01),  # the seed's rate, for every optimizer
        "schedule": ((4, 2, 1), (15, 10, 5, 2, 1), (100, 50, 10, 2, 1)),  # chunks per sequence
        "patience": (1, 3, 20),  # epochs without improvement before the next stage
        "clipnorm": (0.1, 0.1, 0.1),  # main clipping threshold (see the notebook)
        "clipvalue": (0.01, 0.01, 0.01),
        "global_clipnorm": (0.3, 0.3, 0.3),
        "other_clipnorms": ((1.0, 0.01), (1.0, 0.01), (1.0, 0.01)),  # the seed's future work
        "demo_epochs": (1, 10, 50),  # epochs per widget run
        "band_seeds": (2, 5, 5),  # seeds of the seed band (the main seed included)
        "band_steps": (32, 150, 2000),  # timesteps per sequence in the band's extra seeds
    },
    "11": {
        "seq_len": (80, 600, 4000),  # T of the shared marker task
        "budget": (20, 30, 100),  # L: longest sequence a shortened technique may read
        "n_samples": (32, 512, 4000),
        "noise": (0.5, 0.5, 0.5),
        "units": (4, 16, 32),
        "epochs": (1, 12, 20),
        "batch_size": (16, 16, 32),
        "code_size": (4, 8, 16),
        "isolate": (False, True, True),  # one process per technique (ru_maxrss) or psutil
        "good_accuracy": (0.9, 0.9, 0.9),  # what counts as solved in the guide
    },
    "12": {  # capstone on real data: ACSF1, 200 series x 1,460 steps, 10 classes (issue 14)
        "per_class": (3, 20, 20),  # series kept per class (20 = all of ACSF1)
        "repeats": (2, 5, 10),  # random stratified train/test splits
        "test_fraction": (0.34, 0.3, 0.3),  # share of each class held out per split
        "asis_splits": (1, 1, 10),  # splits the slow as-is LSTM runs on
        "asis_epochs": (1, 6, 100),  # its epochs (at cpu too slow for the others' epochs)
        "units": (4, 32, 32),  # LSTM units of every model
        "filters": (4, 32, 32),  # Conv1D filters of the strided front end
        "epochs": (1, 30, 100),  # epochs over the training series (20: too few at cpu)
        "n_windows": (2, 8, 16),  # training windows per series (windows technique)
        "window_epochs": (1, 10, 25),  # epochs over those windows (n_windows x the samples)
        "test_windows": (2, 16, 16),  # evenly spaced windows averaged per test series
        "batch_size": (32, 32, 32),
        "learning_rate": (1e-2, 1e-2, 3e-3),
    },
}


def check_profile(profile: str) -> str:
    """Return ``profile`` if it names a known profile, else raise ValueError."""
    if not isinstance(profile, str):
        raise TypeError(
            f"profile must be a string, one of {PROFILES}; got {type(profile).__name__}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


def current_profile() -> str:
    """Return the active profile: ``$COURSE_PROFILE`` if set, else ``cpu``."""
    value = os.environ.get(ENV_VAR, "").strip() or DEFAULT_PROFILE
    try:
        return check_profile(value)
    except ValueError:
        raise ValueError(
            f"{ENV_VAR}={value!r} is not a profile; set it to one of {', '.join(PROFILES)}"
        ) from None


def _section(notebook: str) -> dict[str, tuple[Any, Any, Any]]:
    key = str(notebook)[:2]
    if key not in TABLE:
        raise ValueError(f"unknown notebook {notebook!r}; known: {', '.join(sorted(TABLE))}")
    return TABLE[key]


def param(notebook: str, name: str, profile: str | None = None) -> Any:
    """Return parameter ``name`` of ``notebook`` (e.g. "01") at ``profile`` (default: current).

    Args:
        notebook: two-digit notebook number, or a notebook name starting with it.
        name: a row of that notebook's section of :data:`TABLE`.
        profile: ``smoke``, ``cpu`` or ``gpu``; ``None`` means :func:`current_profile`.
    """
    profile = current_profile() if profile is None else check_profile(profile)
    section = _section(notebook)
    if name not in section:
        raise ValueError(
            f"notebook {notebook!r} has no parameter {name!r}; known: {', '.join(sorted(section))}"
        )
    return section[name][PROFILES.index(profile)]


def params(notebook: str, profile: str | None = None) -> dict[str, Any]:
    """Return every parameter of ``notebook`` at ``profile`` as a dict."""
    profile = current_profile() if profile is None else check_profile(profile)
    return {name: param(notebook, name, profile) for name in _section(notebook)}


def table(profile: str | None = None) -> list[tuple[str, str, Any, Any, Any]]:
    """Return the whole table as rows ``(notebook, name, smoke, cpu, gpu)``."""
    if profile is not None:
        check_profile(profile)
    return [(nb, name, *values) for nb, rows in TABLE.items() for name, values in rows.items()]


def describe(notebook: str) -> str:
    """Print and return one notebook's rows of the table: name, smoke, cpu, gpu."""
    rows = [("parameter", *PROFILES)] + [
        (name, *(str(v) for v in values)) for name, values in _section(notebook).items()]
    widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
    text = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in rows)
    print(text)
    return text


def show_parameters(namespace: Mapping[str, Any], width: int = 100) -> str:
    """Print the notebook's UPPER_CASE parameters as a compact ``NAME = value`` table.

    Notebooks call it right after their parameters cell, so a student sees the values the
    profile chose (``SEQ_LEN = 500``), not only ``profiles.param(...)``.

    Args:
        namespace: e.g. ``globals()`` of the notebook; only names written in capitals
            whose value is a number, string, bool or tuple/list of those are shown, in the
            order they were defined; a float longer than 10 characters shows 6
            significant digits.
        width: characters per printed line (>= 40).

    Returns:
        The printed text.
    """
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping such as globals(), got "
                        f"{type(namespace).__name__}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 40:
        raise ValueError(f"width must be an int >= 40, got {width!r}")

    def plain(value: Any) -> bool:
        if isinstance(value, bool | numbers.Number | str):
            return True
        return isinstance(value, tuple | list) and all(plain(v) for v in value)

    def shown(value: Any) -> str:
        if isinstance(value, float):
            text = repr(value)
            return text if len(text) <= 10 else f"{value:.6g}"  # 2 / 3 reads 0.666667
        if isinstance(value, list):
            return "[" + ", ".join(shown(v) for v in value) + "]"
        if isinstance(value, tuple):
            inner = ", ".join(shown(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return repr(value)

    cells = [f"{name} = {shown(value)}" for name, value in namespace.items()
             if name.isupper() and not name.startswith("_") and plain(value)]
    if not cells:
        raise ValueError("namespace holds no UPPER_CASE parameters to show")
    short = [c for c in cells if len(c) <= width // 2 - 2]
    long = [c for c in cells if len(c) > width // 2 - 2]
    col = max((len(c) for c in short), default=0) + 2
    per_row = max(1, width // col) if short else 1
    lines = ["".join(c.ljust(col) for c in short[i:i + per_row]).rstrip()
             for i in range(0, len(short), per_row)]
    text = "\n".join(lines + long)
    print(text)
    return text
