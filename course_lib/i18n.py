"""Translated editions of the notebooks, kept in step with the English ones.

Layout: the Chinese edition of ``notebooks/NN_name.ipynb`` is ``notebooks/zh/NN_name.ipynb``
(same file name, same cells in the same order, matched by cell id; by position for a
notebook saved without cell ids, nbformat 4.4).

- Code cells are copied byte-identically from the English notebook: one place to fix a
  bug, the same results in both editions.
- Each translated Markdown cell carries, in its metadata, what it translates::

      "i18n": {"status": "translated" | "untranslated",
               "source_hash": "<sha256 of the English cell's text>",
               "source": ["<the English text the translation was made from>", ...]}

  The English text itself is kept (not only its hash) so that :func:`check` can show
  *what* changed in English since the translation was made, as a diff.

:func:`sync` brings a translation up to the English structure (new cells become untranslated
stubs holding the English text, code cells are copied, translations are kept, stale or not);
:func:`mark_translated` records that a cell's translation matches the current English text;
:func:`check` lists every cell that is untranslated, stale, structurally different or whose
code differs. ``course i18n sync|check|mark`` are the command-line forms (docs/i18n.md).
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import nbformat

from course_lib import metrics, publish
from course_lib.publish import source_hash  # the identity a translation records

LANGS = ("zh",)
TRANSLATED, UNTRANSLATED = "translated", "untranslated"
_NOTEBOOK_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
_LANG = re.compile(r"^[a-z]{2}(?:-[A-Za-z]{2,4})?$")


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a known edition code, else raise ValueError."""
    if not isinstance(lang, str):
        raise TypeError(f"lang must be a string, got {type(lang).__name__}")
    if lang not in LANGS or not _LANG.match(lang):
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def default_notebook_dir() -> Path:
    """Return the English notebooks: ``notebooks/`` beside the package, else under the cwd."""
    beside = publish.package_root() / "notebooks"
    return beside if beside.is_dir() else Path.cwd() / "notebooks"


def select(names: list[str] | None = None, notebook_dir: str | Path | None = None) -> list[Path]:
    """Return the English notebooks (``NN_name.ipynb``), all or those named by number or stem.

    (The same names as ``course run --notebooks``; kept here so that translating needs no
    part of the runner.)
    """
    folder = Path(notebook_dir) if notebook_dir is not None else default_notebook_dir()
    if not folder.is_dir():
        raise ValueError(f"notebook_dir {str(folder)!r} does not exist")
    available = sorted(p for p in folder.glob("*.ipynb") if _NOTEBOOK_NAME.match(p.name))
    if not names:
        return available
    chosen = []
    for raw in names:
        name = str(raw).strip().removesuffix(".ipynb")
        hits = [p for p in available
                if (p.stem[:2] == f"{int(name):02d}" if name.isdigit() else p.stem == name)]
        if len(hits) != 1:
            known = ", ".join(p.stem for p in available) or "none"
            raise ValueError(f"notebook {raw!r} is not a course notebook; choose from: {known}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


def translation_dir(notebook_dir: str | Path | None = None, lang: str = "zh") -> Path:
    """Return the folder of the ``lang`` edition: ``<notebook_dir>/<lang>``."""
    english = Path(notebook_dir) if notebook_dir is not None else default_notebook_dir()
    return english / check_lang(lang)


def _read(path: Path) -> nbformat.NotebookNode:
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read notebook {path}: {exc}") from None
    # check the ids as stored: nbformat would silently replace duplicate or missing ids of a
    # 4.5 notebook with random ones, and cells are matched by id
    ids = [cell.get("id") for cell in raw.get("cells", [])]
    if not any(ids) and ids and raw.get("nbformat_minor", 0) >= 5:
        raise ValueError(f"{path}: nbformat 4.5 notebook without cell ids; re-save it in "
                         f"JupyterLab")
    _check_ids(ids, path)
    try:
        return nbformat.reads(text, as_version=4)
    except (ValueError, nbformat.reader.NotJSONError) as exc:
        raise ValueError(f"cannot read notebook {path}: {exc}") from None


def _dumps(nb: nbformat.NotebookNode) -> str:
    # exactly how the course's notebooks are stored (nbformat.write: indent 1, sorted keys,
    # non-ASCII kept, final newline)
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _write_if_changed(path: Path, nb: nbformat.NotebookNode) -> bool:
    text = _dumps(nb)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics.atomic_write_text(path, text)
    return True


def _keys(nb: nbformat.NotebookNode, path: Path) -> list[str]:
    """Return the cells' ids; ``#<index>`` for a notebook saved without ids (nbformat 4.4)."""
    ids = [cell.get("id") for cell in nb.cells]
    if not any(ids):
        return [f"#{i}" for i in range(len(ids))]
    return _check_ids(ids, path)


def _check_ids(ids: list, path: Path) -> list[str]:
    if not any(ids):
        return ids
    if not all(ids):
        raise ValueError(f"{path}: some cells have an id and some do not; re-save it in "
                         f"JupyterLab (nbformat 4.5 gives every cell an id)")
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"{path}: duplicate cell ids {twice}")
    return ids


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _recorded_source(cell) -> str | None:
    info = cell.get("metadata", {}).get("i18n", {})
    source = info.get("source")
    if isinstance(source, list):
        return "".join(source)
    return source if isinstance(source, str) else None


def _recorded_hash(cell) -> str | None:
    info = cell.get("metadata", {}).get("i18n", {})
    return info.get("source_hash") if isinstance(info, dict) else None


def _stamp(cell, english_text: str, status: str) -> None:
    cell.metadata["i18n"] = {"status": status, "source_hash": source_hash(english_text),
                             "source": _lines(english_text)}


@dataclass
class SyncResult:
    """What :func:`sync_notebook` did to one translated notebook."""

    path: Path
    created: bool = False
    written: bool = False
    new_stubs: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        what = "created" if self.created else ("updated" if self.written else "unchanged")
        extra = []
        if self.new_stubs:
            extra.append(f"{len(self.new_stubs)} new untranslated cell(s)")
        if self.dropped:
            extra.append(f"dropped cell(s) no longer in English: {', '.join(self.dropped)}")
        return f"{self.path}: {what}" + (f" ({'; '.join(extra)})" if extra else "")


def sync_notebook(english: str | Path, translated: str | Path) -> SyncResult:
    """Bring ``translated`` to the cell structure of ``english``, keeping its translations.

    Code (and raw) cells are copied from English as they are; a Markdown cell whose id the
    translation already has keeps its text and its ``i18n`` record (so a stale translation
    stays visibly stale for :func:`check`); a new Markdown cell becomes an untranslated stub
    holding the English text. Cells no longer in English are dropped. Writes only on change.
    """
    english, translated = Path(english), Path(translated)
    en = _read(english)
    keys = _keys(en, english)
    created = not translated.is_file()
    old_cells: dict[str, nbformat.NotebookNode] = {}
    if not created:
        old = _read(translated)
        old_cells = {key: cell for key, cell in zip(_keys(old, translated), old.cells,
                                                    strict=True)
                     if cell.get("cell_type") == "markdown"}
    result = SyncResult(translated, created=created)
    out = copy.deepcopy(en)
    for key, cell in zip(keys, out.cells, strict=True):
        if cell.cell_type != "markdown":
            continue
        english_text = cell.source
        # a translation made from exactly this English text wins (cells moved, ids added);
        # else the translation of the cell with the same id (stale if the English changed)
        previous_key = next((k for k, c in old_cells.items()
                             if _recorded_hash(c) == source_hash(english_text)), None)
        if previous_key is None and key in old_cells:
            previous_key = key
        previous = old_cells.pop(previous_key) if previous_key is not None else None
        if previous is not None:
            cell.source = previous.source
            if "attachments" in previous:
                cell["attachments"] = copy.deepcopy(previous["attachments"])
            if "i18n" in previous.get("metadata", {}):
                cell.metadata["i18n"] = copy.deepcopy(previous.metadata["i18n"])
            else:  # translated by hand without a record: keep the text, ask for a mark
                _stamp(cell, english_text, UNTRANSLATED)
        else:
            _stamp(cell, english_text, UNTRANSLATED)
            result.new_stubs.append(key)
        cell.source = _localize_links(cell.source, english, translated)
    result.dropped = sorted(old_cells)
    result.written = _write_if_changed(translated, out)
    return result


def _localize_links(text: str, english: Path, translated: Path) -> str:
    """Point Colab/Binder badges that open the English notebook at the translated one."""
    english_rel = f"{english.parent.name}/{english.name}"
    translated_rel = f"{english.parent.name}/{translated.parent.name}/{translated.name}"

    def swap(match: re.Match, quoted: bool) -> str:
        path = match["path"] or ""
        if (unquote(path) if quoted else path) != english_rel:
            return match.group(0)
        new = quote(translated_rel, safe="") if quoted else translated_rel
        start = match.start("path") - match.start()
        return match.group(0)[:start] + new + match.group(0)[start + len(path):]

    text = publish.COLAB.sub(lambda m: swap(m, False), text)
    return publish.BINDER.sub(lambda m: swap(m, True), text)


def pairs(notebook_dir: str | Path | None = None, lang: str = "zh",
          names: list[str] | None = None) -> list[tuple[Path, Path]]:
    """Return (English, translated) paths for every notebook, or those ``names`` selects."""
    target = translation_dir(notebook_dir, lang)
    return [(p, target / p.name) for p in select(names, notebook_dir)]


def sync(notebook_dir: str | Path | None = None, lang: str = "zh",
         names: list[str] | None = None) -> list[SyncResult]:
    """Run :func:`sync_notebook` for every English notebook (or those ``names`` selects)."""
    return [sync_notebook(en, tr) for en, tr in pairs(notebook_dir, lang, names)]


def mark_translated(english: str | Path, translated: str | Path,
                    cell_ids: list[str]) -> list[str]:
    """Record that the given Markdown cells now translate the current English text.

    Returns the ids whose translated text is still identical to the English text (marked
    anyway: a formula or a list of names may read the same in both languages).
    """
    english, translated = Path(english), Path(translated)
    if not cell_ids:
        raise ValueError("cell_ids must name at least one cell id")
    en_nb = _read(english)
    en = dict(zip(_keys(en_nb, english), en_nb.cells, strict=True))
    if not translated.is_file():
        raise ValueError(f"{translated} does not exist; run `course i18n sync` first")
    tr = _read(translated)
    cells = dict(zip(_keys(tr, translated), tr.cells, strict=True))
    same = []
    for raw in cell_ids:
        # a notebook without cell ids names cells by position: "#3" (or "3")
        cell_id = f"#{raw}" if str(raw).isdigit() and f"#{raw}" in cells else raw
        if cell_id not in cells or cells[cell_id].cell_type != "markdown":
            known = ", ".join(k for k, c in cells.items() if c.cell_type == "markdown")
            raise ValueError(f"cell_ids: {cell_id!r} is not a Markdown cell of {translated}; "
                             f"choose from: {known}")
        if cell_id not in en or en[cell_id].cell_type != "markdown":
            raise ValueError(f"cell_ids: {cell_id!r} is not a Markdown cell of {english}; "
                             f"run `course i18n sync` first")
        _stamp(cells[cell_id], en[cell_id].source, TRANSLATED)
        if cells[cell_id].source == en[cell_id].source:
            same.append(cell_id)
    _write_if_changed(translated, tr)
    return same


@dataclass(frozen=True)
class Problem:
    """One reason a translated notebook is not in step with the English one."""

    notebook: str
    cell: str  # "cell 4 (id c04)", or "" for the whole notebook
    kind: str  # missing, orphan, structure, code, untranslated, stale, metadata
    message: str
    diff: str = ""

    def __str__(self) -> str:
        where = f"{self.notebook}, {self.cell}" if self.cell else self.notebook
        text = f"{where}: {self.message}"
        return text + ("\n" + self.diff.rstrip("\n") if self.diff else "")


def _diff(a: str, b: str, from_name: str, to_name: str) -> str:
    def lines(text: str) -> list[str]:
        return [line if line.endswith("\n") else line + "\n" for line in _lines(text)]

    return "".join(difflib.unified_diff(lines(a), lines(b), from_name, to_name, n=1))


def _cell_json(cell) -> str:
    return json.dumps(cell, sort_keys=True, indent=1, ensure_ascii=False)


def check_notebook(english: str | Path, translated: str | Path) -> list[Problem]:
    """Return every way ``translated`` is out of step with ``english`` (empty: in step)."""
    english, translated = Path(english), Path(translated)
    name = f"{translated.parent.name}/{translated.name}"
    if not translated.is_file():
        return [Problem(name, "", "missing", f"no translation of {english.name}; "
                                             f"run `course i18n sync` and translate it")]
    en, tr = _read(english), _read(translated)
    en_ids, tr_ids = _keys(en, english), _keys(tr, translated)
    problems = []
    en_shape = [f"{k} {c.cell_type}\n" for k, c in zip(en_ids, en.cells, strict=True)]
    tr_shape = [f"{k} {c.cell_type}\n" for k, c in zip(tr_ids, tr.cells, strict=True)]
    if en_shape != tr_shape:
        problems.append(Problem(name, "", "structure",
                                "cell structure differs from English (run `course i18n sync`)",
                                "".join(difflib.unified_diff(en_shape, tr_shape,
                                                             f"English {english.name}",
                                                             f"translation {name}", n=1))))
    tr_cells = dict(zip(tr_ids, tr.cells, strict=True))
    for index, (cell_id, cell) in enumerate(zip(en_ids, en.cells, strict=True)):
        other = tr_cells.get(cell_id)
        if other is None or other.cell_type != cell.cell_type:
            continue  # already reported as structure
        where = f"cell {index} (id {cell_id})"
        if cell.cell_type != "markdown":
            if _cell_json(cell) != _cell_json(other):
                if cell.source != other.source:
                    diff = _diff(cell.source, other.source, "English", "translation")
                else:  # same code, other metadata, outputs or execution count
                    diff = _diff(_cell_json(cell), _cell_json(other), "English", "translation")
                problems.append(Problem(name, where, "code",
                                        f"{cell.cell_type} cell differs from English "
                                        f"(code is copied, never translated: run "
                                        f"`course i18n sync`)", diff))
            continue
        info = other.get("metadata", {}).get("i18n")
        recorded = _recorded_source(other)
        if not isinstance(info, dict) or recorded is None or "source_hash" not in info:
            problems.append(Problem(name, where, "metadata",
                                    "no i18n record of the English it translates "
                                    "(run `course i18n sync`)"))
            continue
        if info["source_hash"] != source_hash(recorded):
            problems.append(Problem(name, where, "metadata",
                                    "i18n source_hash does not match the recorded English text "
                                    "(edited by hand?); re-mark the cell"))
        if info.get("status") != TRANSLATED:
            problems.append(Problem(name, where, "untranslated",
                                    f"not translated yet (status {info.get('status')!r})"))
        if info["source_hash"] != source_hash(cell.source):
            problems.append(Problem(name, where, "stale",
                                    "the English text changed after this translation; update "
                                    "the translation, then `course i18n mark` it",
                                    _diff(recorded, cell.source, "English when translated",
                                          "English now")))
    return problems


def check(notebook_dir: str | Path | None = None, lang: str = "zh",
          names: list[str] | None = None) -> list[Problem]:
    """Check every translated notebook (or those ``names`` selects) against its English one.

    Also reports translated notebooks that have no English notebook. The caller decides what a
    missing ``notebooks/<lang>/`` folder means (the CLI: nothing to check yet).
    """
    matched = pairs(notebook_dir, lang, names)
    problems = []
    for en, tr in matched:
        problems += check_notebook(en, tr)
    target = translation_dir(notebook_dir, lang)
    if not names and target.is_dir():
        known = {tr.name for _, tr in matched}
        for extra in sorted(target.glob("*.ipynb")):
            if extra.name not in known:
                problems.append(Problem(f"{lang}/{extra.name}", "", "orphan",
                                        "no English notebook of this name"))
    return problems
