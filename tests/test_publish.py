"""One repository address: pyproject's [project.urls] Repository, used by every badge and
Colab install cell; ``course badges`` rewrites them (always on a copy of the tree here)."""

import json
import os
import shutil
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from course_lib import cli, i18n, publish

ROOT = publish.package_root()
NEW = "someone-else/lstm-course-fork"
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".ipynb", ".txt", ".cfg", ".sh", ""}
_SKIP_DIRS = {".venv", ".git", "runs", "course_output", "test-artifacts", "node_modules",
              "data", "__pycache__", ".ruff_cache", ".pytest_cache", "build", "dist"}


@pytest.fixture
def tree(tmp_path):
    """A copy of the files ``course badges`` manages (the real ones are never rewritten)."""
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "course_lib").mkdir()
    shutil.copy(ROOT / "course_lib" / "__init__.py", tmp_path / "course_lib" / "__init__.py")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "notebooks").mkdir()
    for nb in ROOT.glob("notebooks/*.ipynb"):
        shutil.copy(nb, tmp_path / "notebooks" / nb.name)
    return tmp_path


def _snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in publish.managed_files(root)}


def test_the_setting_is_a_github_address_read_from_pyproject():
    url = publish.repository_url()
    assert url == f"https://github.com/{publish.repo_slug()}"
    assert publish.parse_repo(url) == publish.repo_slug()


def test_every_notebook_and_the_readme_use_the_configured_address():
    problems = publish.audit()
    assert problems == [], "\n".join(map(str, problems))
    notebooks = [p for p in publish.managed_files(ROOT) if p.suffix == ".ipynb"]
    assert len(notebooks) >= 12  # the audit really looked at the course


def test_no_other_file_spells_the_address():
    """The address lives in the managed files only, so ``course badges`` can find them all."""
    slug = publish.repo_slug()
    managed = set(publish.managed_files(ROOT))
    strays = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in _TEXT_SUFFIXES or path in managed:
                continue
            if slug in path.read_text(encoding="utf-8", errors="replace"):
                strays.append(path.relative_to(ROOT).as_posix())
    assert strays == [], f"these files spell {slug}; let course_lib.publish manage them"


def test_metadata_is_the_fallback_without_a_pyproject(tmp_path, monkeypatch):
    class Meta:
        def get_all(self, key):
            assert key == "Project-URL"
            return ["Homepage, https://example.org", f"Repository, https://github.com/{NEW}"]

    monkeypatch.setattr(metadata, "metadata", lambda name: Meta())
    assert publish.repository_url(tmp_path) == f"https://github.com/{NEW}"

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "metadata", missing)
    with pytest.raises(ValueError, match=r"no \[project.urls\] Repository"):
        publish.repository_url(tmp_path)


def test_a_pyproject_without_the_setting_is_an_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "course-lib"\n')
    with pytest.raises(ValueError, match=r"has no \[project.urls\] Repository"):
        publish.repository_url(tmp_path)


@pytest.mark.parametrize("text", ["a/b", "https://github.com/a-b/c.d_e", "Owner/Name.git/"])
def test_parse_repo_accepts_names_and_addresses(text):
    slug = publish.parse_repo(text)
    assert slug.count("/") == 1 and not slug.endswith(".git")


@pytest.mark.parametrize(
    "text", ["", "owner", "a/b/c", "-a/b", "a-/b", "a--b/c", "a/..", "a/b c", "a/" + "x" * 101,
             "https://gitlab.com/a/b"])
def test_parse_repo_rejects_what_github_would(text):
    with pytest.raises(ValueError, match="repo"):
        publish.parse_repo(text)


def test_parse_repo_rejects_non_strings():
    with pytest.raises(TypeError, match="repo must be a string"):
        publish.parse_repo(3)


def test_addresses_have_the_course_layout():
    nb = "notebooks/00_start_here.ipynb"
    assert publish.colab_url("a/b", nb) == (
        "https://colab.research.google.com/github/a/b/blob/main/notebooks/00_start_here.ipynb")
    assert publish.binder_url("a/b", nb).endswith("/gh/a/b/main?labpath="
                                                  "notebooks%2F00_start_here.ipynb")
    assert publish.install_spec("a/b") == "course-lib @ git+https://github.com/a/b"


def test_audit_finds_each_kind_of_mistake(tree):
    slug = publish.repo_slug(tree)
    nb_path = tree / "notebooks" / "02_as_is.ipynb"
    text = nb_path.read_text(encoding="utf-8")
    text = text.replace(f"git+https://github.com/{slug}", "git+https://github.com/x/y", 1)
    text = text.replace("blob/main/notebooks/02_as_is.ipynb", "blob/main/notebooks/03_truncate"
                                                              ".ipynb", 1)
    nb_path.write_text(text, encoding="utf-8")
    readme = tree / "README.md"
    readme.write_text(readme.read_text().replace(f"gh/{slug}/main", f"gh/{slug}/dev"))
    found = "\n".join(map(str, publish.audit(tree)))
    assert "02_as_is.ipynb: install cell names 'x/y'" in found
    assert "does not install" in found
    assert "Colab badge opens 'notebooks/03_truncate.ipynb', not this notebook" in found
    assert "README.md: Binder badge opens branch 'dev'" in found
    assert cli.main(["badges", "--root", str(tree), "--check"]) == 1


def test_a_notebook_without_badges_or_colab_cell_is_reported(tree):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 12 · New"), nbformat.v4.new_code_cell("1")]
    nbformat.write(nb, tree / "notebooks" / "12_new.ipynb")
    found = [str(p) for p in publish.audit(tree) if "12_new" in p.path]
    assert any("no Colab badge" in p for p in found)
    assert any("no Binder badge" in p for p in found)
    assert any("no Colab install cell" in p for p in found)


def test_course_badges_rewrites_every_address_and_nothing_else(tree, capsys):
    old = publish.repo_slug(tree)
    before = _snapshot(tree)
    assert cli.main(["badges", "--root", str(tree), "--repo", NEW]) == 0
    out = capsys.readouterr().out
    assert "every badge and Colab cell uses it" in out
    after = _snapshot(tree)
    assert publish.repo_slug(tree) == NEW and publish.audit(tree) == []
    for name, text in before.items():
        # byte for byte the old file with the owner/name swapped: layout kept, nothing added
        assert after[name] == text.replace(f"/{old}", f"/{NEW}"), name
        if name.endswith(".ipynb"):
            assert after[name] != text
            old_cells, new_cells = json.loads(text)["cells"], json.loads(after[name])["cells"]
            for was, now in zip(old_cells, new_cells, strict=True):
                assert {**was, "source": ""} == {**now, "source": ""}  # no outputs added
    assert cli.main(["badges", "--root", str(tree), "--check"]) == 0
    assert cli.main(["badges", "--root", str(tree), "--repo", NEW, "--check"]) == 0
    # and back again gives the original files
    assert cli.main(["badges", "--root", str(tree), "--repo", old]) == 0
    assert _snapshot(tree) == before


def test_check_with_another_repo_changes_nothing_and_fails(tree, capsys):
    before = _snapshot(tree)
    assert cli.main(["badges", "--root", str(tree), "--repo", NEW, "--check"]) == 1
    assert "would change: " in capsys.readouterr().out
    assert _snapshot(tree) == before


def test_rewrite_keeps_translations_in_step(tree):
    notebooks = tree / "notebooks"
    i18n.sync(notebooks, names=["03"])
    zh = notebooks / "zh" / "03_truncate.ipynb"
    title = nbformat.read(zh, as_version=4).cells[0].id
    i18n.mark_translated(notebooks / "03_truncate.ipynb", zh, [title])
    assert not [p for p in i18n.check(notebooks, names=["03"]) if p.kind == "stale"]
    assert publish.audit(tree) == []  # the stub's badges open the Chinese notebook
    changed = publish.rewrite(NEW, tree)
    assert zh in changed
    assert not [p for p in i18n.check(notebooks, names=["03"]) if p.kind == "stale"]
    assert publish.audit(tree) == []


def test_rewrite_is_all_or_nothing(tree):
    notebooks = tree / "notebooks"
    i18n.sync(notebooks, names=["05"])
    zh = notebooks / "zh" / "05_random_sampling.ipynb"
    zh.write_text(json.dumps(json.loads(zh.read_text()), indent=2), encoding="utf-8")
    before = _snapshot(tree)
    with pytest.raises(ValueError, match="not stored as nbformat writes it"):
        publish.rewrite(NEW, tree)
    assert _snapshot(tree) == before


@pytest.mark.parametrize(("args", "message"), [
    (["badges", "--repo", "not a repo", "--check", "--root", "/no/such"],
     "repo must be a GitHub repository"),
    (["badges", "--root", "/no/such/folder", "--check"], "root must be the course's source"),
])
def test_bad_arguments_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
