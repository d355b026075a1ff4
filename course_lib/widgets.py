"""Widgets for the notebooks: each one wraps a plain function that also runs headless.

The shared plumbing comes first: :func:`has_widgets` and :func:`explorer`, which turns
any ``plain_fn(**values)`` into controls + a Run button + an output area. Notebook
specific explorers follow (k1/k2 for notebook 06, ...); they only choose controls.

Only ipywidgets features present in both 7.7 (Colab) and 8.x are used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any


def has_widgets() -> bool:
    """Return True if ipywidgets can be imported (notebooks then offer the widgets)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _show(result: Any) -> None:
    """Display a figure (closing it so it is not drawn twice), or any other result."""
    from IPython.display import display

    figure = result[0] if isinstance(result, tuple) and result else result
    if hasattr(figure, "savefig"):
        import matplotlib.pyplot as plt

        display(figure)
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
                    title="Sequence length T: pick one, then press Run to retrain")


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
