"""Static checks on the stored notebooks (nbval executes them; see conftest.py)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import profiles, runner

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = runner.discover(ROOT / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell["source"])


def test_the_course_has_its_first_notebooks():
    assert {"00_start_here", "01_why_long_sequences_are_hard"} <= set(IDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_without_outputs(path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, source(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_follows_the_course_skeleton(path):
    body = cells(path)
    title = source(body[0])
    assert body[0]["cell_type"] == "markdown" and title.startswith(f"# {path.stem[:2]} ")
    assert "colab-badge" in title and "binder" in title.lower() and "You will learn" in title
    assert 'if "google.colab" in sys.modules' in source(body[1])
    tagged = [c for c in body if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert "PROFILE = profiles.current_profile()" in source(tagged[0])
    assert re.search(r"^SEED = \d+", source(tagged[0]), re.M)
    assert f'metrics.start("{path.stem}", PROFILE, SEED)' in "".join(source(c) for c in body)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_cells_are_short(path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert len(source(cell).splitlines()) <= 30, source(cell)[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_come_from_the_profile_table(path):
    used = set(re.findall(r'profiles\.param\("(\d\d)", "(\w+)"', "".join(
        source(c) for c in cells(path))))
    for notebook, name in used:
        assert notebook == path.stem[:2]
        assert name in profiles.TABLE[notebook], f"{name} missing from profiles.TABLE"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for stem in IDS:
        assert stem in readme, f"README's notebook table lacks {stem}"


@pytest.mark.skipif(shutil.which("ruff") is None and not Path(sys.executable).with_name(
    "ruff").exists(), reason="ruff is not installed (pip install -e '.[test]')")
def test_the_whole_project_is_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    done = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_claims_doc_lists_every_cpu_claim_and_no_stale_one():
    doc = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    table = doc[doc.index("## Every cpu claim"):doc.index("| notebook | ok |")]
    listed = set(re.findall(r"^\| (\d\d) \| `(\w+)` \|", table, re.M))
    assert listed, "docs/claims.md has no 'Every cpu claim' table"
    for path in NOTEBOOKS:
        number, text = path.stem[:2], "".join(source(c) for c in cells(path))
        for claim in runner.scan_claims(path).expected_at("cpu"):
            assert (number, claim) in listed, f"docs/claims.md lacks {number} `{claim}`"
        for claim in (claim for listed_number, claim in listed if listed_number == number):
            assert f'"{claim}"' in text, f"docs/claims.md lists {number} `{claim}`, which " \
                                         f"{path.name} no longer claims"
