"""Saved copies: code written on a notebook's page and kept in ``course_lib`` stay identical.

A notebook cell whose first line is ``# saved in course_lib.<module>`` is the place where a
technique is taught; ``course_lib.<module>`` keeps a copy of each top-level ``def``/``class`` of
that cell for later notebooks and sweeps (d2l's ``#@save`` idea). The two must have the same
syntax tree, docstrings aside. The notebook is the source: an author edits the cell, then copies
the definition into the module (or the other way round) until this test passes; its failure
shows a unified diff of the two.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import json
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MARKER = re.compile(r"^#\s*saved in (course_lib(?:\.\w+)+)\s*$")


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Remove the docstring of every function and class (and the module) in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _normalised(source: str) -> str:
    """Return the code of one definition with docstrings removed, as ``ast.unparse`` writes it."""
    return ast.unparse(_strip_docstrings(ast.parse(textwrap.dedent(source))))


def saved_definitions(notebook: Path) -> list[tuple[str, str, str]]:
    """Return ``(module, name, source)`` for every definition in the notebook's saved cells."""
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = source.splitlines()
        match = MARKER.match(lines[0].strip()) if lines else None
        if not match:
            continue
        # IPython magics are not Python: a saved cell must not contain them
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.append((match.group(1), node.name, ast.get_source_segment(source, node)))
    return found


CASES = [(nb.stem, *item) for nb in NOTEBOOKS for item in saved_definitions(nb)]


def test_saved_cells_define_something():
    """A cell marked as saved holds at least one definition (else the marker is a typo)."""
    for notebook in NOTEBOOKS:
        for cell in json.loads(notebook.read_text())["cells"]:
            lines = "".join(cell["source"]).splitlines()
            if cell["cell_type"] == "code" and lines and MARKER.match(lines[0].strip()):
                tree = ast.parse("".join(cell["source"]))
                assert any(isinstance(n, ast.FunctionDef | ast.ClassDef) for n in tree.body), (
                    f"{notebook.name}: a cell marked '{lines[0]}' defines no function or class")


@pytest.mark.parametrize(("notebook", "module", "name", "source"), CASES,
                         ids=[f"{c[0][:2]}-{c[1].split('.')[-1]}.{c[2]}" for c in CASES])
def test_library_copy_matches_notebook(notebook, module, name, source):
    library = importlib.import_module(module)
    assert hasattr(library, name), f"{notebook} saves {name} in {module}, which lacks it"
    library_source = inspect.getsource(getattr(library, name))
    ours, theirs = _normalised(source), _normalised(library_source)
    if ours != theirs:
        diff = "\n".join(difflib.unified_diff(
            ours.splitlines(), theirs.splitlines(),
            fromfile=f"notebooks/{notebook}.ipynb", tofile=f"{module}.{name}", lineterm=""))
        pytest.fail(f"the library's copy of {name} differs from the notebook's:\n{diff}")


def test_normalisation_ignores_docstrings_but_not_code():
    a = 'def f(x):\n    """Doc."""\n    return x + 1\n'
    b = "def f(x):\n    return x + 1\n"
    c = "def f(x):\n    return x + 2\n"
    assert _normalised(a) == _normalised(b)
    assert _normalised(b) != _normalised(c)
