"""``course i18n sync|check|mark`` on small synthetic notebooks (docs/i18n.md)."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib import cli, i18n

BADGE = ("[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/o/r/blob/main/notebooks/01_demo.ipynb)")


def _cell(kind, cell_id, source, **meta):
    cell = (new_markdown_cell if kind == "md" else new_code_cell)(source, metadata=meta)
    cell.id = cell_id
    return cell


def _english(folder, name="01_demo", cells=None, ids=True):
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    nb.cells = cells if cells is not None else [
        _cell("md", "title", f"# 01 · Demo\n\n{BADGE}"),
        _cell("code", "setup", "x = 1\ny = 'naïve'  # non-ASCII stays as is", tags=["parameters"]),
        _cell("md", "sky", "## Colours\n\nThe sky is blue.\nGrass is green."),
        _cell("code", "show", "print(x, y)"),
    ]
    if not ids:
        nb.nbformat_minor = 4
        for cell in nb.cells:
            del cell["id"]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


@pytest.fixture
def course(tmp_path):
    notebooks = tmp_path / "notebooks"
    _english(notebooks)
    return notebooks


def _zh(notebooks, name="01_demo"):
    return notebooks / "zh" / f"{name}.ipynb"


def _translate(notebooks, texts, name="01_demo"):
    """Write the translator's text into cells (by id), as a translator would in JupyterLab."""
    nb = nbformat.read(_zh(notebooks, name), as_version=4)
    for cell in nb.cells:
        if cell.id in texts:
            cell.source = texts[cell.id]
    nbformat.write(nb, _zh(notebooks, name))


def _main(capsys, *args):
    code = cli.main(["i18n", *args])
    return code, capsys.readouterr().out


def _translated_course(course, capsys):
    cli.main(["i18n", "sync", "--notebook-dir", str(course)])
    _translate(course, {"title": "# 01 · 演示", "sky": "## 颜色\n\n天空是蓝色的。\n草是绿色的。"})
    assert cli.main(["i18n", "mark", "--notebook-dir", str(course), "--notebook", "01",
                     "title", "sky"]) == 0
    capsys.readouterr()
    return course


def test_without_a_translation_folder_check_says_so_and_passes(course, capsys):
    code, out = _main(capsys, "check", "--notebook-dir", str(course))
    assert code == 0
    assert "no translation to check yet" in out and "zh" in out


def test_the_course_translations_are_in_step(capsys):
    """What CI runs: green while notebooks/zh/ does not exist, then every translation."""
    code, out = _main(capsys, "check")
    assert code == 0, out


def test_sync_copies_code_byte_for_byte_and_stubs_markdown(course, capsys):
    english_bytes = (course / "01_demo.ipynb").read_bytes()
    code, out = _main(capsys, "sync", "--notebook-dir", str(course))
    assert (course / "01_demo.ipynb").read_bytes() == english_bytes
    assert code == 0 and "created (2 new untranslated cell(s))" in out
    en_nb = json.loads((course / "01_demo.ipynb").read_text(encoding="utf-8"))
    zh_text = _zh(course).read_text(encoding="utf-8")
    zh_nb = json.loads(zh_text)
    assert zh_text == nbformat.writes(nbformat.reads(zh_text, as_version=4)) + "\n"
    assert zh_text.startswith('{\n "cells": [\n  {\n')  # nbformat's indent of 1
    for en, zh in zip(en_nb["cells"], zh_nb["cells"], strict=True):
        assert en["id"] == zh["id"] and en["cell_type"] == zh["cell_type"]
        if en["cell_type"] == "code":
            assert json.dumps(en, ensure_ascii=False) == json.dumps(zh, ensure_ascii=False)
            assert zh["outputs"] == [] and zh["execution_count"] is None
        else:
            info = zh["metadata"]["i18n"]
            english = "".join(en["source"])
            assert info["status"] == "untranslated"
            assert info["source_hash"] == i18n.source_hash(english)
            assert "".join(info["source"]) == english
    assert en_nb["metadata"] == zh_nb["metadata"]


def test_stub_badges_open_the_translated_notebook(course):
    i18n.sync(course)
    title = nbformat.read(_zh(course), as_version=4).cells[0].source
    assert "/blob/main/notebooks/zh/01_demo.ipynb" in title
    assert "/blob/main/notebooks/01_demo.ipynb" not in title


def test_untranslated_cells_fail_the_check_by_name(course, capsys):
    i18n.sync(course)
    code, out = _main(capsys, "check", "--notebook-dir", str(course))
    assert code == 1
    assert "zh/01_demo.ipynb, cell 0 (id title): not translated yet" in out
    assert "zh/01_demo.ipynb, cell 2 (id sky): not translated yet" in out
    assert "2 problem(s) in 1 notebook(s)" in out


def test_translated_and_marked_notebook_passes(course, capsys):
    _translated_course(course, capsys)
    code, out = _main(capsys, "check", "--notebook-dir", str(course))
    assert code == 0, out
    assert "every translation is in step" in out


def test_a_changed_english_sentence_fails_the_check_with_the_cell_shown(course, capsys):
    _translated_course(course, capsys)
    english = nbformat.read(course / "01_demo.ipynb", as_version=4)
    english.cells[2].source = english.cells[2].source.replace("blue", "grey at dusk")
    nbformat.write(english, course / "01_demo.ipynb")

    code, out = _main(capsys, "check", "--notebook-dir", str(course))
    assert code == 1
    assert "zh/01_demo.ipynb, cell 2 (id sky): the English text changed" in out
    assert "--- English when translated" in out and "+++ English now" in out
    assert "-The sky is blue.\n+The sky is grey at dusk.\n" in out
    assert "title" not in out  # only the changed cell is named

    # sync keeps the translation and its record, so the cell stays stale ...
    i18n.sync(course)
    assert [p.kind for p in i18n.check(course)] == ["stale"]
    assert "天空是蓝色的" in nbformat.read(_zh(course), as_version=4).cells[2].source
    # ... until the translator updates it and marks it again
    _translate(course, {"sky": "## 颜色\n\n黄昏时天空是灰色的。\n草是绿色的。"})
    assert i18n.mark_translated(course / "01_demo.ipynb", _zh(course), ["sky"]) == []
    assert i18n.check(course) == []


def test_code_changed_in_english_fails_until_synced(course, capsys):
    _translated_course(course, capsys)
    english = nbformat.read(course / "01_demo.ipynb", as_version=4)
    english.cells[3].source = "print(x + 1, y)"
    nbformat.write(english, course / "01_demo.ipynb")
    code, out = _main(capsys, "check", "--notebook-dir", str(course))
    assert code == 1
    assert "cell 3 (id show): code cell differs from English" in out
    assert "--- English\n+++ translation\n" in out
    assert "-print(x + 1, y)\n+print(x, y)\n" in out
    i18n.sync(course)
    assert i18n.check(course) == []


def test_code_edited_in_the_translation_fails(course, capsys):
    _translated_course(course, capsys)
    _translate(course, {"setup": "x = 2  # 改了\ny = 'naïve'"})
    problems = i18n.check(course)
    assert [(p.kind, p.cell) for p in problems] == [("code", "cell 1 (id setup)")]
    assert "改了" in problems[0].diff


def test_a_new_english_cell_is_a_structure_problem_then_an_untranslated_stub(course, capsys):
    _translated_course(course, capsys)
    english = nbformat.read(course / "01_demo.ipynb", as_version=4)
    english.cells.insert(3, _cell("md", "soil", "Soil is brown."))
    nbformat.write(english, course / "01_demo.ipynb")
    code, out = _main(capsys, "check", "--notebook-dir", str(course))
    assert code == 1 and "cell structure differs from English" in out
    assert "+soil markdown" not in out and "-soil markdown" in out  # the translation lacks it
    result = i18n.sync(course)[0]
    assert result.new_stubs == ["soil"] and result.written
    problems = i18n.check(course)
    assert [(p.kind, p.cell) for p in problems] == [("untranslated", "cell 3 (id soil)")]
    assert "颜色" in nbformat.read(_zh(course), as_version=4).cells[2].source


def test_a_removed_english_cell_is_dropped_from_the_translation(course, capsys):
    _translated_course(course, capsys)
    english = nbformat.read(course / "01_demo.ipynb", as_version=4)
    del english.cells[2]
    nbformat.write(english, course / "01_demo.ipynb")
    assert [p.kind for p in i18n.check(course)] == ["structure"]
    assert i18n.sync(course)[0].dropped == ["sky"]
    assert i18n.check(course) == []


def test_sync_is_idempotent_and_writes_only_on_change(course):
    i18n.sync(course)
    before = _zh(course).read_bytes()
    again = i18n.sync(course)
    assert [r.written for r in again] == [False]
    assert _zh(course).read_bytes() == before


def test_sync_one_notebook(course, capsys):
    _english(course, "02_other")
    code, out = _main(capsys, "sync", "--notebook-dir", str(course), "--notebook", "02")
    assert code == 0 and "02_other" in out and "01_demo" not in out
    assert _zh(course, "02_other").is_file() and not _zh(course).exists()
    # the whole check now misses 01's translation, one notebook's check does not
    assert [p.kind for p in i18n.check(course)][0] == "missing"
    assert {p.kind for p in i18n.check(course, names=["02"])} == {"untranslated"}


def test_a_translation_without_an_english_notebook_is_an_orphan(course):
    i18n.sync(course)
    _english(course / "zh", "07_gone")
    orphans = [p for p in i18n.check(course) if p.kind == "orphan"]
    assert [p.notebook for p in orphans] == ["zh/07_gone.ipynb"]


def test_notebooks_without_cell_ids_are_matched_by_position_and_by_text(tmp_path, capsys):
    notebooks = tmp_path / "notebooks"
    _english(notebooks, ids=False)
    i18n.sync(notebooks)
    assert "#0" in {p.cell.split("id ")[1].rstrip(")") for p in i18n.check(notebooks)}
    _translate_by_index(notebooks, {0: "# 01 · 演示", 2: "## 颜色\n\n天空是蓝色的。"})
    assert cli.main(["i18n", "mark", "--notebook-dir", str(notebooks), "--notebook", "01",
                     "0", "#2"]) == 0
    assert i18n.check(notebooks) == []
    # a Markdown cell inserted above: positions shift, translations follow their English text
    english = nbformat.read(notebooks / "01_demo.ipynb", as_version=4)
    english.cells.insert(1, new_markdown_cell("A new note."))
    del english.cells[1]["id"]  # as stored by nbformat 4.4
    nbformat.write(english, notebooks / "01_demo.ipynb")
    i18n.sync(notebooks)
    problems = i18n.check(notebooks)
    assert [(p.kind, p.cell) for p in problems] == [("untranslated", "cell 1 (id #1)")]
    assert "颜色" in nbformat.read(_zh(notebooks), as_version=4).cells[3].source


def _translate_by_index(notebooks, texts):
    nb = nbformat.read(_zh(notebooks), as_version=4)
    for index, text in texts.items():
        nb.cells[index].source = text
    nbformat.write(nb, _zh(notebooks))


def test_a_hand_edited_record_is_reported(course, capsys):
    _translated_course(course, capsys)
    nb = nbformat.read(_zh(course), as_version=4)
    nb.cells[2].metadata["i18n"]["source"] = ["something else"]
    nbformat.write(nb, _zh(course))
    problems = i18n.check(course)
    assert [(p.kind, p.cell) for p in problems] == [("metadata", "cell 2 (id sky)")]
    assert "edited by hand" in problems[0].message
    nb.cells[2].metadata.pop("i18n")
    nbformat.write(nb, _zh(course))
    assert [p.kind for p in i18n.check(course)] == ["metadata"]
    # sync keeps text written without a record, and asks for a mark
    i18n.sync(course)
    assert [p.kind for p in i18n.check(course)] == ["untranslated"]
    assert "天空" in nbformat.read(_zh(course), as_version=4).cells[2].source


def test_mark_reports_cells_that_read_like_english(course):
    i18n.sync(course)
    _translate(course, {"title": "# 01 · 演示"})
    same = i18n.mark_translated(course / "01_demo.ipynb", _zh(course), ["title", "sky"])
    assert same == ["sky"]


@pytest.mark.parametrize(("cells", "message"), [
    (["nope"], "'nope' is not a Markdown cell"),
    (["setup"], "'setup' is not a Markdown cell"),
    ([], "cell_ids must name at least one"),
])
def test_mark_rejects_bad_cells(course, cells, message):
    i18n.sync(course)
    with pytest.raises(ValueError, match=message):
        i18n.mark_translated(course / "01_demo.ipynb", _zh(course), cells)


def test_mark_before_sync_is_an_error(course):
    with pytest.raises(ValueError, match="run `course i18n sync` first"):
        i18n.mark_translated(course / "01_demo.ipynb", _zh(course), ["title"])


@pytest.mark.parametrize(("args", "message"), [
    (["check", "--lang", "fr"], "lang must be one of zh"),
    (["sync", "--notebook", "42"], "notebook '42' is not a course notebook"),
    (["mark", "--notebook", "01", "nope"], "'nope' is not a Markdown cell"),
])
def test_cli_errors_exit_2(course, capsys, args, message):
    i18n.sync(course)
    with pytest.raises(SystemExit) as exc:
        cli.main(["i18n", *args, "--notebook-dir", str(course)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_duplicate_or_partial_ids_are_errors(tmp_path):
    notebooks = tmp_path / "notebooks"
    path = _english(notebooks)
    raw = json.loads(path.read_text())
    raw["cells"][1]["id"] = "title"
    path.write_text(json.dumps(raw, indent=1))
    with pytest.raises(ValueError, match="duplicate cell ids"):
        i18n.sync(notebooks)
    del raw["cells"][1]["id"]
    path.write_text(json.dumps(raw, indent=1))
    with pytest.raises(ValueError, match="some cells have an id"):
        i18n.sync(notebooks)
    for cell in raw["cells"]:
        cell.pop("id", None)
    path.write_text(json.dumps(raw, indent=1))
    with pytest.raises(ValueError, match="4.5 notebook without cell ids"):
        i18n.sync(notebooks)


def test_argument_validation():
    with pytest.raises(TypeError, match="text must be a string"):
        i18n.source_hash(None)
    with pytest.raises(TypeError, match="lang must be a string"):
        i18n.check_lang(1)
    with pytest.raises(ValueError, match="lang must be one of"):
        i18n.check_lang("../x")
    with pytest.raises(ValueError, match="notebook_dir"):
        i18n.select(None, "/no/such/folder")
    assert i18n.source_hash("天空") == i18n.source_hash("天空")
    assert i18n.source_hash("a") != i18n.source_hash("a ")
