import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from course_lib import metrics, plots  # noqa: E402


def test_colors_are_stable_and_shared():
    assert plots.color_for("Adam") == plots.color_for("adam") == plots.METHOD_COLORS["adam"]
    assert plots.color_for("something new") == plots.color_for("something new")


def test_line_chart_and_heatmap_label_everything():
    fig, ax = plots.line_chart({"a": ([1, 2], [3, 4]), "b": ([1, 2], [4, 5])}, "T", "x", "y")
    assert ax.get_title() == "T" and ax.get_xlabel() == "x" and ax.get_legend() is not None
    fig, ax = plots.heatmap([[0.1, 0.2]], ["r"], ["c1", "c2"], "H", "cols", "rows")
    assert ax.get_title() == "H"


def test_save_fig_registers_a_key_figure(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.ENV_DIR, str(tmp_path))
    metrics.start("01_demo", "cpu")
    fig, _ = plots.figure("t", "x", "y")
    path = plots.save_fig(fig, "Time vs T!")
    assert path.name == "01_demo__time_vs_t.png" and path.exists()
    assert metrics.current().figures == ["01_demo__time_vs_t.png"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: plots.line_chart({}, "t", "x", "y"), "at least one"),
        (lambda: plots.line_chart({"a": ([1, 2], [1])}, "t", "x", "y"), "x has 2 points"),
        (lambda: plots.heatmap([[1, 2]], ["r", "s"], ["a", "b"], "t", "x", "y"), "shape"),
        (lambda: plots.save_fig(None, ""), "name must be"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
