"""Where the course is published: one repository address, used by every badge and install cell.

The address is spelled once, in ``pyproject.toml`` under ``[project.urls] Repository``. The
notebooks' Colab install cell (``pip install "course-lib @ git+https://github.com/OWNER/NAME"``),
their Colab and Binder badges and the README's badges must use it; :func:`audit` lists every
place that does not. When the course is published under another name,
``course badges --repo OWNER/NAME`` (:func:`rewrite`) rewrites all of them and the setting.

The rewrite edits the files as text and touches only the ``OWNER/NAME`` part of those
addresses, so a notebook keeps its exact JSON layout (indent, key order, line splits) and
gains no outputs; GitHub names contain no character that JSON escapes.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, unquote

from course_lib import metrics

DISTRIBUTION = "course-lib"
URL_KEY = "Repository"
BRANCH = "main"

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
_NAME = r"[A-Za-z0-9._-]{1,100}"
_SLUG = rf"(?P<slug>{_OWNER}/{_NAME})"
_END = r"""[^\s)\]"'\\<>]+"""  # a URL path ends at a space, bracket, quote or backslash
_SLUG_ONLY = re.compile(rf"^{_OWNER}/{_NAME}$")

# The three kinds of address that name the repository in badges and install cells.
COLAB = re.compile(rf"https://colab\.research\.google\.com/github/{_SLUG}/blob/"
                   rf"(?P<branch>[^/\s]+)/(?P<path>{_END})")
BINDER = re.compile(rf"https://mybinder\.org/v2/gh/{_SLUG}/(?P<branch>[^?/\s)\]\"'\\]+)"
                    rf"(?:\?labpath=(?P<path>{_END}))?")
INSTALL = re.compile(rf"git\+https://github\.com/{_SLUG}(?![A-Za-z0-9._-])")
_FAMILIES = {"Colab badge": COLAB, "Binder badge": BINDER, "install cell": INSTALL}


def package_root() -> Path:
    """Return the folder that holds ``course_lib/`` (a source checkout's root)."""
    return Path(__file__).resolve().parent.parent


def parse_repo(repo: str) -> str:
    """Return ``OWNER/NAME`` from ``repo`` ("OWNER/NAME" or "https://github.com/OWNER/NAME").

    Raises:
        TypeError: ``repo`` is not a string.
        ValueError: ``repo`` is not a GitHub repository name.
    """
    if not isinstance(repo, str):
        raise TypeError(f"repo must be a string like 'OWNER/NAME', got {type(repo).__name__}")
    slug = repo.strip().removesuffix("/").removesuffix(".git")
    slug = slug.removeprefix("https://github.com/").removeprefix("http://github.com/")
    if not _SLUG_ONLY.match(slug) or slug.split("/")[1] in (".", "..") or slug.endswith("-"):
        raise ValueError(
            f"repo must be a GitHub repository 'OWNER/NAME' (owner: 1-39 letters, digits or "
            f"inner hyphens; name: 1-100 letters, digits, '.', '_' or '-'), got {repo!r}")
    owner = slug.split("/")[0]
    if owner.endswith("-") or "--" in owner:
        raise ValueError(f"repo owner may not end with '-' or contain '--', got {repo!r}")
    return slug


def _pyproject_url(root: Path) -> str | None:
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    project = data.get("project", {})
    if project.get("name") != DISTRIBUTION:
        return None
    url = project.get("urls", {}).get(URL_KEY)
    if not isinstance(url, str):
        raise ValueError(f"{path} has no [project.urls] {URL_KEY} = \"https://github.com/...\"")
    return url


def _metadata_url() -> str | None:
    try:
        entries = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in entries:
        label, _, url = entry.partition(",")
        if label.strip().lower() == URL_KEY.lower():
            return url.strip()
    return None


def repository_url(root: str | Path | None = None) -> str:
    """Return the course's repository address, ``https://github.com/OWNER/NAME``.

    Read from ``root/pyproject.toml`` (default: the source checkout this module lives in)
    when it is the course's own pyproject, else from the installed package's metadata.

    Raises:
        ValueError: neither place names a repository, or it is not a GitHub address.
    """
    folder = package_root() if root is None else Path(root)
    url = _pyproject_url(folder) or _metadata_url()
    if url is None:
        raise ValueError(f"no [project.urls] {URL_KEY} in {folder / 'pyproject.toml'} and "
                         f"none in the installed {DISTRIBUTION} metadata")
    return f"https://github.com/{parse_repo(url)}"


def repo_slug(root: str | Path | None = None) -> str:
    """Return the configured repository as ``OWNER/NAME``."""
    return parse_repo(repository_url(root))


def colab_url(slug: str, relpath: str) -> str:
    """Return the Colab address that opens ``relpath`` (e.g. notebooks/00_x.ipynb) of ``slug``."""
    return f"https://colab.research.google.com/github/{parse_repo(slug)}/blob/{BRANCH}/{relpath}"


def binder_url(slug: str, relpath: str) -> str:
    """Return the Binder address that opens ``relpath`` of ``slug`` in JupyterLab."""
    return (f"https://mybinder.org/v2/gh/{parse_repo(slug)}/{BRANCH}"
            f"?labpath={quote(relpath, safe='')}")


def install_spec(slug: str) -> str:
    """Return the pip requirement the Colab cell installs: ``course-lib @ git+https://...``."""
    return f"{DISTRIBUTION} @ git+https://github.com/{parse_repo(slug)}"


def managed_files(root: str | Path) -> list[Path]:
    """Return the files that spell the repository address (those :func:`rewrite` edits)."""
    root = Path(root)
    files = [root / "README.md", root / "README.zh-CN.md", root / "pyproject.toml",
             root / "course_lib" / "__init__.py"]
    files += sorted((root / "docs").glob("*.md"))
    files += sorted((root / "notebooks").glob("*.ipynb"))
    files += sorted((root / "notebooks" / "zh").glob("*.ipynb"))
    return [p for p in files if p.is_file()]


def _notebooks(root: Path) -> list[Path]:
    return [p for p in managed_files(root) if p.suffix == ".ipynb"]


@dataclass(frozen=True)
class Problem:
    """One place that does not use the configured address."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _foreign(text: str, slug: str, rel: str) -> list[Problem]:
    found = []
    for kind, pattern in _FAMILIES.items():
        for match in pattern.finditer(text):
            if match["slug"] != slug:
                found.append(Problem(rel, f"{kind} names {match['slug']!r}, not {slug!r}: "
                                          f"{match.group(0)}"))
            if kind != "install cell" and match["branch"] != BRANCH:
                found.append(Problem(rel, f"{kind} opens branch {match['branch']!r}, not "
                                          f"{BRANCH!r}: {match.group(0)}"))
    return found


def _badge_targets(text: str, root: Path, rel: str, own: str | None) -> list[Problem]:
    found = []
    for kind, pattern in (("Colab badge", COLAB), ("Binder badge", BINDER)):
        targets = [unquote(m["path"] or "") for m in pattern.finditer(text)]
        if not targets:
            found.append(Problem(rel, f"no {kind}"))
        for target in targets:
            if own is not None and target != own:
                found.append(Problem(rel, f"{kind} opens {target!r}, not this notebook {own!r}"))
            elif not (root / target).is_file():
                found.append(Problem(rel, f"{kind} opens {target!r}, which does not exist"))
    return found


def audit(root: str | Path | None = None, repo: str | None = None) -> list[Problem]:
    """Return every badge, install cell or setting that does not use the repository address.

    Checks README.md and README.zh-CN.md (a Colab and a Binder badge opening an existing
    notebook), every notebook
    in ``notebooks/`` and ``notebooks/zh/`` (Colab and Binder badges opening that notebook, a
    code cell that installs ``course-lib @ git+https://github.com/OWNER/NAME`` on Colab) and
    that no managed file names another repository or branch in such an address.

    Args:
        root: the course's source folder (default: the checkout this module lives in).
        repo: ``OWNER/NAME`` to check against (default: the configured one).
    """
    root = package_root() if root is None else Path(root)
    if not (root / "README.md").is_file() or not (root / "notebooks").is_dir():
        raise ValueError(f"root must be the course's source folder (README.md and notebooks/),"
                         f" got {str(root)!r}")
    slug = parse_repo(repo) if repo is not None else repo_slug(root)
    problems: list[Problem] = []
    if repo is not None and (root / "pyproject.toml").is_file() and repo_slug(root) != slug:
        problems.append(Problem("pyproject.toml", f"[project.urls] {URL_KEY} is "
                                                  f"{repository_url(root)}, not {slug}"))
    for path in managed_files(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        problems += _foreign(text, slug, rel)
        if path.name in ("README.md", "README.zh-CN.md") and path.parent == root:
            problems += _badge_targets(text, root, rel, None)
        elif path.suffix == ".ipynb":
            problems += _audit_notebook(json.loads(text), root, rel, slug)
    return problems


def _audit_notebook(nb: dict, root: Path, rel: str, slug: str) -> list[Problem]:
    def text(cell: dict) -> str:
        source = cell.get("source", "")
        return source if isinstance(source, str) else "".join(source)

    cells = nb.get("cells", [])
    markdown = "\n".join(text(c) for c in cells if c.get("cell_type") == "markdown")
    problems = _badge_targets(markdown, root, rel, rel)
    colab_cells = [text(c) for c in cells
                   if c.get("cell_type") == "code" and "google.colab" in text(c)]
    if not colab_cells:
        problems.append(Problem(rel, "no Colab install cell (a code cell testing "
                                     "'google.colab' in sys.modules)"))
    elif not any(install_spec(slug) in source for source in colab_cells):
        problems.append(Problem(rel, f"the Colab cell does not install {install_spec(slug)!r}"))
    return problems


def _replace(text: str, old: str, new: str) -> str:
    def swap(match: re.Match) -> str:
        whole, start = match.group(0), match.start("slug") - match.start()
        return whole[:start] + new + whole[start + len(match["slug"]):]

    for pattern in _FAMILIES.values():
        text = pattern.sub(swap, text)
    plain = re.compile(rf"https://github\.com/{re.escape(old)}(?![A-Za-z0-9._-])")
    return plain.sub(f"https://github.com/{new}", text)


def _without_sources(nb: dict) -> list:
    def strip(cell: dict) -> dict:
        kept = {k: v for k, v in cell.items() if k != "source"}
        if "i18n" in kept.get("metadata", {}):
            kept["metadata"] = {k: v for k, v in kept["metadata"].items() if k != "i18n"}
        return kept

    return [strip(cell) for cell in nb.get("cells", [])]


def source_hash(text: str) -> str:
    """Return the hex SHA-256 of a cell's text (UTF-8), the identity a translation records.

    Here rather than in ``course_lib.i18n`` (which re-exports it) so that the two modules do
    not import each other: a rewrite of the address re-hashes the translations' records.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rehash_translations(before: str, after: str, path: Path) -> str:
    """Keep a translation's record in step when only the address in its English text changed.

    A translated notebook (docs/i18n.md) records the English text each cell translates and
    its hash; the rewrite changed the address in that record too, so its hash is recomputed
    (a new address is not a change a translator must look at).
    """
    import nbformat

    if nbformat.writes(nbformat.reads(before, as_version=4)) + "\n" != before:
        raise ValueError(f"{path} is not stored as nbformat writes it; re-save it first")
    old_nb, new_nb = (nbformat.reads(text, as_version=4) for text in (before, after))
    changed = False
    for old, new in zip(old_nb.cells, new_nb.cells, strict=True):
        old_info, new_info = (c.get("metadata", {}).get("i18n") for c in (old, new))
        if not isinstance(old_info, dict) or not isinstance(new_info, dict):
            continue
        old_text, new_text = ("".join(i.get("source", "")) for i in (old_info, new_info))
        if old_text != new_text and old_info.get("source_hash") == source_hash(old_text):
            new_info["source_hash"] = source_hash(new_text)
            changed = True
    return nbformat.writes(new_nb) + "\n" if changed else after


def rewrite(repo: str, root: str | Path | None = None, dry_run: bool = False) -> list[Path]:
    """Point every badge, install cell and the setting at ``repo``; return the changed files.

    Args:
        repo: the new ``OWNER/NAME`` (or ``https://github.com/OWNER/NAME``).
        root: the course's source folder (default: the checkout this module lives in); its
            ``pyproject.toml`` must hold ``[project.urls] Repository``.
        dry_run: only return the files that would change.
    """
    root = package_root() if root is None else Path(root)
    new = parse_repo(repo)
    if _pyproject_url(root) is None:
        raise ValueError(f"root must hold the course's pyproject.toml, got {str(root)!r}")
    old = repo_slug(root)
    changed = []
    for path in managed_files(root):
        before = path.read_text(encoding="utf-8")
        after = _replace(before, old, new)
        if after == before:
            continue
        if path.suffix == ".ipynb" and (
                _without_sources(json.loads(after)) != _without_sources(json.loads(before))):
            raise ValueError(f"rewriting {path} would change more than cell sources")
        if path.suffix == ".ipynb" and '"i18n"' in before:
            after = _rehash_translations(before, after, path)
        changed.append((path, after))
    if not dry_run:  # all checked first: an error above leaves every file as it was
        for path, after in changed:
            metrics.atomic_write_text(path, after)
    return [path for path, _ in changed]
