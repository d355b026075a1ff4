"""Consistent matplotlib figures: same colour for the same method in every notebook.

Every figure has a title, labelled axes (with units) and, where there are several
series, a legend. :func:`save_fig` stores a figure as a key figure of the notebook
(PNG in the run's folder, listed in the metrics sidecar) so the report can show it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from course_lib import metrics

# Fixed colours for names that recur across notebooks (lower-case keys).
METHOD_COLORS = {
    "bptt": "#1f77b4",
    "full bptt": "#1f77b4",
    "tbptt": "#ff7f0e",
    "as-is": "#1f77b4",
    "truncate pre": "#2ca02c",
    "truncate post": "#98df8a",
    "summarize": "#9467bd",
    "random drop": "#8c564b",
    "random windows": "#c49c94",
    "augment": "#e377c2",
    "encoder-decoder": "#7f7f7f",
    "parallel subsequences": "#bcbd22",
    "bidirectional halves": "#17becf",
    "hashing": "#aec7e8",
    "conv downsample": "#ffbb78",
    "sgd": "#7f7f7f",
    "rmsprop": "#d62728",
    "adam": "#1f77b4",
    "adagrad": "#bcbd22",
    "adadelta": "#17becf",
}
_FALLBACK = plt.get_cmap("tab20").colors


def color_for(name: str) -> str | tuple[float, float, float]:
    """Return the course's colour for method ``name`` (stable across runs and notebooks)."""
    key = str(name).strip().lower()
    if key in METHOD_COLORS:
        return METHOD_COLORS[key]
    return _FALLBACK[zlib.crc32(key.encode()) % len(_FALLBACK)]


def figure(title: str, xlabel: str, ylabel: str, size: tuple[float, float] = (6.4, 4.0)):
    """Return ``(fig, ax)`` with title and axis labels set."""
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    *,
    logx: bool = False,
    logy: bool = False,
    marker: str = "o",
):
    """Plot named ``(x, y)`` series on one axes; return ``(fig, ax)``."""
    if not series:
        raise ValueError("series must contain at least one (x, y) pair")
    fig, ax = figure(title, xlabel, ylabel)
    for name, (x, y) in series.items():
        if len(x) != len(y):
            raise ValueError(f"series {name!r}: x has {len(x)} points but y has {len(y)}")
        ax.plot(x, y, marker=marker, label=name, color=color_for(name))
    if logx:
        ax.set_xscale("log")
        ticks = sorted({float(v) for _, (x, _) in series.items() for v in x})
        if len(ticks) <= 12:  # label the measured points, not matplotlib's 10**k grid
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
    if logy:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(_sparse_log_label))
    if len(series) > 1:
        ax.legend()
    return fig, ax


def _sparse_log_label(value: float, _pos=None) -> str:
    """Label only the 2x and 5x minor ticks of a log axis, so labels do not collide."""
    leading = f"{value:.0e}"[0]
    return f"{value:g}" if leading in "25" else ""


def heatmap(
    values,
    row_labels: Sequence,
    col_labels: Sequence,
    title: str,
    xlabel: str,
    ylabel: str,
    *,
    fmt: str = "{:.2f}",
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "viridis",
):
    """Draw a matrix with a colour bar and the value written in each cell; return ``(fig, ax)``."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"values has shape {values.shape}, expected ({len(row_labels)}, {len(col_labels)})"
        )
    fig, ax = figure(title, xlabel, ylabel)
    ax.grid(False)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", origin="lower")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fmt.format(v), ha="center", va="center",
                color="white" if v < middle else "black", fontsize=8)
    fig.colorbar(image, ax=ax)
    return fig, ax


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "figure"


def save_fig(fig, name: str) -> Path:
    """Save ``fig`` as a key figure of the current notebook and return the PNG's path.

    The PNG goes to the run's folder as ``<notebook>__<name>.png`` and is listed in
    the notebook's metrics so ``course run`` embeds it in the report.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    try:
        run = metrics.current()
        prefix = run.notebook
    except RuntimeError:
        run, prefix = None, "figure"
    path = metrics.output_dir() / f"{prefix}__{_slug(name)}.png"
    fig.savefig(path, dpi=110)
    if run is not None:
        run.add_figure(path)
    return path
