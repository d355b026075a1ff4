"""Widgets for the notebooks: each one wraps a plain function that also runs headless.

The shared plumbing comes first: :func:`has_widgets` and :func:`explorer`, which turns
any ``plain_fn(**values)`` into controls + a Run button + an output area. Notebook
specific explorers follow (k1/k2 for notebook 06, ...); they only choose controls.

Only ipywidgets features present in both 7.7 (Colab) and 8.x are used.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

# Set to 1 by ``course run``/``course sweep`` for the notebook kernels they start: nobody can
# click in a headless run, and building widgets there only risks nbclient's occasional hang
# on widget cells (jupyter/nbclient#312), seen twice in cpu runs on a loaded machine.
HEADLESS_VAR = "COURSE_HEADLESS"


def headless() -> bool:
    """Return True in a headless run of the course (``$COURSE_HEADLESS`` is ``1``)."""
    return os.environ.get(HEADLESS_VAR, "").strip() == "1"


def has_widgets() -> bool:
    """Return True if the notebooks should offer widgets: ipywidgets imports, not headless."""
    if headless():
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _show(result: Any) -> None:
    """Display a figure as a PNG (closing it so it is not drawn twice), or any other result.

    The PNG is rendered here rather than left to the backend, so the figure shows in the
    widget's output area under any matplotlib backend (inline, Agg, ipympl) and frontend.
    """
    import io

    from IPython.display import Image, display

    figure = result[0] if isinstance(result, tuple) and result else result
    if hasattr(figure, "savefig"):
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        display(Image(data=buffer.getvalue(), format="png"))
        plt.close(figure)
    elif result is not None:
        display(result)


def explorer(
    plain_fn: Callable[..., Any],
    controls: Mapping[str, Any],
    *,
    initial: Any = None,
    button_label: str = "Run",
    title: str | None = None,
    fixed: Mapping[str, Any] | None = None,
):
    """Build controls + a Run button that call ``plain_fn(**values)`` and show its figure.

    Clicking the button reads every control's ``value``, calls ``plain_fn`` with them
    (plus ``fixed`` keyword arguments) and shows the returned figure -- or the first item
    of a returned tuple -- in the output area, replacing the previous one. Errors are
    printed there instead of being lost in the kernel log.

    Args:
        plain_fn: the function the notebook also calls headless with fixed values.
        controls: ``{keyword: widget}``; each widget's ``value`` becomes that keyword.
        initial: what to show before the first click (e.g. the figure of the headless call).
        button_label: the button's text.
        title: a line shown above the controls.
        fixed: keyword arguments passed on every call, not shown as controls.

    Returns:
        An ``ipywidgets.VBox`` with ``.run()`` (do what a click does), ``.controls``,
        ``.output``, ``.button`` and ``.status`` attached; None without ipywidgets.
    """
    if not callable(plain_fn):
        raise TypeError(f"plain_fn must be callable, got {type(plain_fn).__name__}")
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError("controls must be a non-empty mapping {keyword: widget}")
    for name, control in controls.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"control names must be Python identifiers, got {name!r}")
        if not hasattr(control, "value"):
            raise TypeError(f"control {name!r} has no .value; pass an ipywidgets control")
    fixed = dict(fixed or {})
    clash = set(fixed) & set(controls)
    if clash:
        raise ValueError(f"{sorted(clash)} given both as controls and as fixed arguments")
    if not has_widgets():
        if headless():
            print("(headless run: the interactive version of this cell shows in JupyterLab; "
                  "the plain function above already ran with the notebook's values)")
            return None
        print("ipywidgets is not installed: call the plain function directly instead "
              "(pip install ipywidgets to get the interactive version).")
        return None
    import ipywidgets as w

    output = w.Output()
    status = w.Label(value="")
    button = w.Button(description=button_label, button_style="primary")
    if initial is not None:
        with output:
            _show(initial)

    def run(_=None):
        values = {name: control.value for name, control in controls.items()}
        button.disabled = True
        status.value = "running " + ", ".join(f"{k}={v}" for k, v in values.items()) + " ..."
        began = time.perf_counter()
        try:
            result = plain_fn(**values, **fixed)
        except Exception as err:  # shown to the student instead of vanishing
            output.clear_output(wait=True)
            with output:
                print(f"{type(err).__name__}: {err}")
            status.value = "failed"
            return None
        finally:
            button.disabled = False
        output.clear_output(wait=True)
        with output:
            _show(result)
        status.value = f"done in {time.perf_counter() - began:.1f} s"
        return result

    button.on_click(run)
    rows = [w.HTML(value=f"<b>{title}</b>")] if title else []
    rows += [w.HBox(list(controls.values())), w.HBox([button, status]), output]
    box = w.VBox(rows)
    box.run, box.controls, box.output, box.button, box.status = (
        run, dict(controls), output, button, status)
    return box


def int_slider(description: str, value: int, low: int, high: int, step: int = 1):
    """Return an ``IntSlider`` that updates only on release (retraining is slow)."""
    import ipywidgets as w

    if not low <= value <= high:
        raise ValueError(f"{description}: value {value} is outside [{low}, {high}]")
    return w.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=False)


# --------------------------------------------------------------------------- notebook 06


def tbptt_explorer(
    plain_fn: Callable[..., Any],
    k1: int,
    k2: int,
    max_k: int,
    *,
    initial: Any = None,
    fixed: Mapping[str, Any] | None = None,
):
    """Return k1 and k2 sliders + Run button around ``plain_fn(k1=..., k2=...)``.

    Args:
        plain_fn: e.g. ``tbptt.k1_k2_demo``; returns a figure or ``(figure, ...)``.
        k1, k2: the sliders' start values (the notebook's headless values).
        max_k: the sliders' upper end (at most the sequence length).
        initial: the figure of the headless call, shown until the first click.
        fixed: other keyword arguments for ``plain_fn`` (lag, sizes, seed).
    """
    if not has_widgets():
        return explorer(plain_fn, {"k1": _Fixed(k1), "k2": _Fixed(k2)}, fixed=fixed)
    controls = {"k1": int_slider("k1", k1, 1, max_k), "k2": int_slider("k2", k2, 1, max_k)}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="TBPTT(k1, k2): move the sliders, then press Run to retrain",
                    button_label="Run")


class _Fixed:
    """A stand-in control with a constant value (used when ipywidgets is missing)."""

    def __init__(self, value: Any):
        self.value = value


# --------------------------------------------------------------------------- notebook 01


def length_explorer(plain_fn: Callable[..., Any], seq_len: int, max_len: int, *,
                    initial: Any = None, fixed: Mapping[str, Any] | None = None):
    """Return a T slider + Run button around ``plain_fn(seq_len=...)`` (notebook 01)."""
    if not has_widgets():
        return explorer(plain_fn, {"seq_len": _Fixed(seq_len)}, fixed=fixed)
    controls = {"seq_len": int_slider("T", seq_len, 2, max_len, step=2)}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Sequence length T: pick one, then press Run to recompute")


# --------------------------------------------------------------------------- notebooks 07, 08


def code_size_explorer(plain_fn: Callable[..., Any], code_size: int, max_code: int, *,
                       initial: Any = None, fixed: Mapping[str, Any] | None = None):
    """Return a code-size slider + Run button around ``plain_fn(code_size=...)`` (notebook 07)."""
    if not has_widgets():
        return explorer(plain_fn, {"code_size": _Fixed(code_size)}, fixed=fixed)
    controls = {"code_size": int_slider("code size", code_size, 1, max_code)}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Code size: numbers per chunk code; press Run to retrain")


def n_splits_explorer(plain_fn: Callable[..., Any], n_splits: int, choices: list[int], *,
                      initial: Any = None, fixed: Mapping[str, Any] | None = None):
    """Return an n-splits menu + Run button around ``plain_fn(n_splits=...)`` (notebook 08).

    ``choices`` are the allowed values (divisors of the sequence length).
    """
    if n_splits not in choices:
        raise ValueError(f"n_splits must be one of choices {list(choices)}, got {n_splits}")
    if not has_widgets():
        return explorer(plain_fn, {"n_splits": _Fixed(n_splits)}, fixed=fixed)
    import ipywidgets as w

    controls = {"n_splits": w.Dropdown(options=list(choices), value=n_splits,
                                       description="n splits")}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Number of pieces the bidirectional LSTM reads; press Run to retrain")


# --------------------------------------------------------------------------- notebooks 04, 05


def keep_fraction_explorer(plain_fn: Callable[..., Any], keep_fraction: float, *,
                           initial: Any = None, fixed: Mapping[str, Any] | None = None):
    """Return a keep-fraction slider + Run button around ``plain_fn(keep_fraction=...)`` (04)."""
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    if not has_widgets():
        return explorer(plain_fn, {"keep_fraction": _Fixed(keep_fraction)}, fixed=fixed)
    import ipywidgets as w

    controls = {"keep_fraction": w.FloatSlider(
        value=keep_fraction, min=0.01, max=1.0, step=0.01, description="keep fraction",
        continuous_update=False, readout_format=".2f")}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Share of each document to keep: summarize vs truncate; press Run")


def windows_explorer(plain_fn: Callable[..., Any], window: int, n_windows: int, max_window: int,
                     *, max_windows: int = 32, initial: Any = None,
                     fixed: Mapping[str, Any] | None = None):
    """Return window-length and window-count sliders + Run around ``plain_fn`` (notebook 05)."""
    if not has_widgets():
        return explorer(plain_fn, {"window": _Fixed(window), "n_windows": _Fixed(n_windows)},
                        fixed=fixed)
    controls = {"window": int_slider("window", window, 1, max_window),
                "n_windows": int_slider("n windows", n_windows, 1, max_windows)}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Random windows per sequence: train on all, average at test; press Run")


# --------------------------------------------------------------------------- notebook 09


def split_explorer(plain_fn: Callable[..., Any], technique: str, sub_len: int,
                   techniques: list[str], lengths: list[int], *, initial: Any = None,
                   fixed: Mapping[str, Any] | None = None):
    """Return technique + subsequence-length menus and a Run button (notebook 09).

    Args:
        plain_fn: e.g. ``splits.split_choice``; called as ``plain_fn(technique=...,
            sub_len=..., **fixed)`` and returns a figure or ``(figure, ...)``.
        technique, sub_len: the menus' start values (the notebook's headless values).
        techniques: the technique names offered.
        lengths: the lengths offered (factors of T, plus non-factors for padded split).
        initial: the figure of the headless call, shown until the first click.
        fixed: the data and training settings passed on every call.
    """
    if technique not in techniques:
        raise ValueError(f"technique must be one of techniques {list(techniques)}, "
                         f"got {technique!r}")
    if sub_len not in lengths:
        raise ValueError(f"sub_len must be one of lengths {list(lengths)}, got {sub_len}")
    if not has_widgets():
        return explorer(plain_fn, {"technique": _Fixed(technique), "sub_len": _Fixed(sub_len)},
                        fixed=fixed)
    import ipywidgets as w

    controls = {
        "technique": w.Dropdown(options=list(techniques), value=technique,
                                description="technique"),
        "sub_len": w.Dropdown(options=list(lengths), value=sub_len, description="sub_len"),
    }
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Split choice: pick a technique and a subsequence length "
                          "(k1 for decoupled), then press Run to retrain")


# --------------------------------------------------------------------------- notebook 10


def optimizer_explorer(
    plain_fn: Callable[..., Any],
    optimizer: str,
    clip: Any,
    schedule: Any,
    *,
    clip_choices: list[tuple[str, Any]],
    schedule_choices: list[tuple[str, Any]],
    optimizers: tuple[str, ...] = ("sgd", "rmsprop", "adam", "adagrad", "adadelta"),
    initial: Any = None,
    fixed: Mapping[str, Any] | None = None,
):
    """Return optimizer / clipping / schedule menus + Run button around ``plain_fn`` (nb 10).

    ``plain_fn(optimizer=..., clip=..., schedule=..., **fixed)`` is e.g.
    ``experiments.training_demo``. ``clip_choices`` and ``schedule_choices`` are
    ``(label, value)`` pairs; the start values must be among the values.
    """
    for arg, value, choices in (("clip", clip, clip_choices),
                                ("schedule", schedule, schedule_choices)):
        if not choices or value not in [v for _, v in choices]:
            raise ValueError(f"{arg} must be one of the values in {arg}_choices, got {value!r}")
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be one of {optimizers}, got {optimizer!r}")
    clip_by_label, schedule_by_label = dict(clip_choices), dict(schedule_choices)

    def call(optimizer, clip, schedule, **kwargs):
        # menus hold labels (a None value would show as an empty menu in ipywidgets)
        return plain_fn(optimizer=optimizer, clip=clip_by_label[clip],
                        schedule=schedule_by_label[schedule], **kwargs)

    clip_label = next(label for label, v in clip_choices if v == clip)
    schedule_label = next(label for label, v in schedule_choices if v == schedule)
    if not has_widgets():
        return explorer(call, {"optimizer": _Fixed(optimizer), "clip": _Fixed(clip_label),
                               "schedule": _Fixed(schedule_label)}, fixed=fixed)
    import ipywidgets as w

    controls = {
        "optimizer": w.Dropdown(options=list(optimizers), value=optimizer,
                                description="optimizer"),
        "clip": w.Dropdown(options=list(clip_by_label), value=clip_label,
                           description="clipping"),
        "schedule": w.Dropdown(options=list(schedule_by_label), value=schedule_label,
                               description="schedule"),
    }
    return explorer(call, controls, initial=initial, fixed=fixed,
                    title="Optimizer, gradient clipping and sequence-length schedule: "
                          "pick, then press Run to retrain")


# --------------------------------------------------------------------------- notebook 03


def truncation_explorer(plain_fn: Callable[..., Any], maxlen: int, max_len: int,
                        side: str = "post", *, initial: Any = None,
                        fixed: Mapping[str, Any] | None = None):
    """Return a maxlen slider + side menu + Run button around ``plain_fn(maxlen=..., side=...)``.

    Args:
        plain_fn: e.g. ``lessons.truncate.truncation_report``; returns a figure or
            ``(figure, ...)``.
        maxlen: the slider's start value (the notebook's headless value).
        max_len: the slider's upper end (the documents' length).
        side: the menu's start value, "pre" (keep the end) or "post" (keep the start).
        initial: the figure of the headless call, shown until the first click.
        fixed: other keyword arguments for ``plain_fn`` (sizes, epochs, seed).
    """
    if side not in ("pre", "post"):
        raise ValueError(f"side must be 'pre' or 'post', got {side!r}")
    if not has_widgets():
        return explorer(plain_fn, {"maxlen": _Fixed(maxlen), "side": _Fixed(side)}, fixed=fixed)
    import ipywidgets as w

    controls = {"maxlen": int_slider("maxlen", maxlen, 1, max_len),
                "side": w.Dropdown(options=[("pre: keep the end", "pre"),
                                            ("post: keep the start", "post")],
                                   value=side, description="side")}
    return explorer(plain_fn, controls, initial=initial, fixed=fixed,
                    title="Truncation: tokens kept and which end to cut; press Run to retrain")
