"""Tests for course_lib.widgets: the explorer plumbing and notebook 06's k1/k2 explorer."""

from __future__ import annotations

import sys

import ipywidgets as w
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_lib import widgets  # noqa: E402


def _recorder():
    calls = []

    def plain(**kwargs):
        calls.append(kwargs)
        fig, ax = plt.subplots()
        ax.plot([0, kwargs.get("a", 0)])
        return fig, {"ok": True}

    return plain, calls


def test_has_widgets_true_here_and_false_without_ipywidgets(monkeypatch):
    assert widgets.has_widgets() is True
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes the import fail
    assert widgets.has_widgets() is False


def test_click_calls_the_plain_function_with_the_current_values():
    plain, calls = _recorder()
    a = w.IntSlider(value=2, min=0, max=9)
    box = widgets.explorer(plain, {"a": a}, fixed={"b": "x"})
    assert isinstance(box, w.VBox)
    box.button.click()
    a.value = 7
    box.button.click()
    assert calls == [{"a": 2, "b": "x"}, {"a": 7, "b": "x"}]
    assert box.status.value.startswith("done in")
    assert not box.button.disabled


def test_run_returns_the_result_and_reports_errors_in_the_status():
    plain, _ = _recorder()
    box = widgets.explorer(plain, {"a": w.IntSlider(value=3)})
    fig, info = box.run()
    assert info == {"ok": True}

    def broken(a):
        raise ValueError(f"a={a} is bad")

    box = widgets.explorer(broken, {"a": w.IntSlider(value=1)})
    assert box.run() is None
    assert box.status.value == "failed"
    assert not box.button.disabled


def test_without_ipywidgets_the_explorer_explains_and_returns_none(monkeypatch, capsys):
    monkeypatch.setattr(widgets, "has_widgets", lambda: False)
    plain, calls = _recorder()
    assert widgets.explorer(plain, {"a": w.IntSlider()}) is None
    assert "call the plain function directly" in capsys.readouterr().out
    assert calls == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"plain_fn": 3, "controls": {"a": w.IntSlider()}}, TypeError, "plain_fn must be callable"),
        ({"plain_fn": print, "controls": {}}, ValueError, "non-empty mapping"),
        ({"plain_fn": print, "controls": [w.IntSlider()]}, ValueError, "non-empty mapping"),
        ({"plain_fn": print, "controls": {"not valid": w.IntSlider()}}, ValueError, "identifiers"),
        ({"plain_fn": print, "controls": {"a": 5}}, TypeError, "has no .value"),
        ({"plain_fn": print, "controls": {"a": w.IntSlider()}, "fixed": {"a": 1}}, ValueError,
         "both as controls and as fixed"),
    ],
)
def test_explorer_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        widgets.explorer(**kwargs)


def test_int_slider_checks_its_range_and_waits_for_release():
    slider = widgets.int_slider("k2", 4, 1, 10)
    assert (slider.value, slider.min, slider.max, slider.continuous_update) == (4, 1, 10, False)
    with pytest.raises(ValueError, match="outside"):
        widgets.int_slider("k2", 11, 1, 10)


def test_tbptt_explorer_has_k1_and_k2_sliders():
    plain, calls = _recorder()
    box = widgets.tbptt_explorer(lambda k1, k2, lag: plain(k1=k1, k2=k2, lag=lag), 3, 6, 20,
                                 fixed={"lag": 2})
    assert set(box.controls) == {"k1", "k2"}
    assert box.controls["k2"].value == 6 and box.controls["k2"].max == 20
    box.controls["k2"].value = 9
    box.button.click()
    assert calls == [{"k1": 3, "k2": 9, "lag": 2}]


def test_length_explorer_passes_seq_len():
    plain, calls = _recorder()
    box = widgets.length_explorer(lambda seq_len, epochs: plain(seq_len=seq_len, epochs=epochs),
                                  10, 400, fixed={"epochs": 2})
    assert box.controls["seq_len"].max == 400
    box.controls["seq_len"].value = 50
    box.run()
    assert calls == [{"seq_len": 50, "epochs": 2}]


def test_headless_runs_offer_no_widgets_and_say_so(monkeypatch, capsys):
    """``course run`` sets COURSE_HEADLESS=1: widget cells print one line instead of a widget."""
    monkeypatch.setenv(widgets.HEADLESS_VAR, "1")
    assert widgets.headless() and not widgets.has_widgets()
    assert widgets.explorer(lambda k: k, {"k": widgets._Fixed(3)}) is None
    assert "headless run" in capsys.readouterr().out
    monkeypatch.setenv(widgets.HEADLESS_VAR, "0")
    assert not widgets.headless() and widgets.has_widgets()


def test_the_runner_starts_kernels_headless(tmp_path, monkeypatch):
    from course_lib import runner

    monkeypatch.delenv(widgets.HEADLESS_VAR, raising=False)
    assert runner._worker_env("smoke", tmp_path)[widgets.HEADLESS_VAR] == "1"
