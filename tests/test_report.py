"""The report cannot be spoofed: hostile sidecars and manifests never become markup."""

import base64
import errno
import json
import os
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_lib import metrics, report, runner

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SECRET = PNG + b"SECRET-MARKER-outside-the-run-folder"
HOSTILE = [
    "<script>alert(1)</script>", "x'/onmouseover='alert(1)", '"><img src=x onerror=alert(1)>',
    "</td></tr></table><script>alert(2)</script>", "javascript:alert(1)", "FALSE", "TRUE",
    "true ", "not checked' onclick='x", "../secret.png", "../../etc/passwd", "/etc/passwd",
    "link.png", "good.png", "01_x.metrics.json", "<!--", "&amp;", "\x00", "smoke", "cpu",
]
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "span", "br",
        "small", "table", "tr", "th", "td", "a", "pre", "details", "summary", "figure", "img",
        "figcaption", "code"}
ATTRIBUTES = {"class", "href", "src", "alt", "charset", "lang"}


class Audit(HTMLParser):
    """Collect every start tag with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))


def audit(page: str, run_dir: Path) -> None:
    """Fail if the page holds any tag, attribute, class, link or image it should not."""
    parser = Audit()
    parser.feed(page)
    parser.close()
    assert {tag for tag, _ in parser.tags} <= TAGS
    classes = set(report._CLASSES.values())
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert name in ATTRIBUTES, (tag, name, value)
            if name == "class":
                assert value in classes, value
            if name == "lang":
                assert tag == "html" and value in report.report_languages(), value
            if name == "href":
                assert "/" not in value and ":" not in value and "\\" not in value
                assert (run_dir / value).resolve().parent == run_dir.resolve()
            if name == "src":
                assert tag == "img" and value.startswith("data:image/png;base64,")
    secret = base64.b64encode(SECRET).decode()
    assert secret[:40] not in page and "<script" not in page.lower()


def make_run_dir(base: Path) -> Path:
    run_dir = base / "run"
    run_dir.mkdir()
    (run_dir / "good.png").write_bytes(PNG)
    (run_dir / "01_x.ipynb").write_text("{}")
    (base / "secret.png").write_bytes(SECRET)
    (run_dir / "link.png").symlink_to(base / "secret.png")
    return run_dir


hostile_text = st.sampled_from(HOSTILE) | st.text(max_size=30)
hostile_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner,
                                                                 max_size=3),
    max_leaves=8)
claim_entry = st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b"]) | hostile_value,
     "verdict": st.sampled_from(list(metrics.VERDICTS)) | hostile_value},
    optional={"text": hostile_value, "observed": st.booleans() | hostile_value,
              "profiles": st.sampled_from([["cpu"], ["cpu", "gpu"], ["smoke"]]) | hostile_value,
              "values": st.dictionaries(hostile_text, hostile_value, max_size=3)
              | hostile_value})
sidecars = st.fixed_dictionaries(
    {"notebook": st.just("01_x") | hostile_value, "profile": st.just("cpu") | hostile_value,
     "seed": st.just(3) | hostile_value,
     "metrics": st.dictionaries(hostile_text, st.fixed_dictionaries({"value": hostile_value}),
                                max_size=3) | hostile_value,
     "claims": st.lists(claim_entry | hostile_value, max_size=4) | hostile_value,
     "figures": st.lists(st.sampled_from(HOSTILE) | hostile_text, max_size=4)
     | hostile_value})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sidecars)
def test_hostile_sidecars_never_reach_the_page(data):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = make_run_dir(Path(tmp))
        path = run_dir / "01_x.metrics.json"
        path.write_text(json.dumps(data))
        loaded = metrics.load(path)
        scan = runner.ClaimScan({"a": ("cpu", "gpu"), "b": ("gpu",)})
        claims, figures, error = runner.check_sidecar(loaded, "01_x", "cpu", 3, run_dir, scan)
        for name in figures:  # only PNGs inside the run folder survive
            assert name in ("good.png",) or (run_dir / name).resolve() == run_dir / "good.png"
        known = metrics.VERDICTS + metrics.RUNNER_VERDICTS
        assert all(c["verdict"] in known for c in claims)
        raw = loaded["claims"]
        for entry in raw:
            if entry.get("verdict") not in metrics.VERDICTS:
                assert any(c["verdict"] == "invalid" for c in claims)
        if not any(isinstance(c, dict) and c.get("id") == "a" for c in raw):
            assert any(c["id"] == "a" and c["verdict"] == "missing" for c in claims)
        result = runner.NotebookResult("01_x", "ok" if error is None else "failed", 1.0, 50.0,
                                       "01_x.ipynb", path.name, "01_x.log", error, claims,
                                       figures)
        manifest = {"profile": "cpu", "seed": 3, "status": "complete", "exit_code": 0,
                    "notebooks": [result.as_dict()],
                    "summary": {"ok": 1, "notebooks": 1}}
        page = report.render(run_dir, manifest, [dict(c, notebook="01_x") for c in claims])
        audit(page, run_dir)
        honest = error is None and all(c["verdict"] in ("true", "not checked") for c in claims)
        assert ("PASSED" in page) == honest


manifests = st.fixed_dictionaries(
    {"profile": hostile_value, "seed": hostile_value, "status": hostile_value,
     "exit_code": st.just(0) | hostile_value, "started": hostile_value,
     "wall_s": hostile_value, "python": hostile_value, "gpus": hostile_value,
     "interrupted": hostile_value, "not_run": hostile_value, "summary": hostile_value,
     "notebooks": st.lists(st.fixed_dictionaries(
         {"name": hostile_value, "status": hostile_value, "output": hostile_value,
          "log": hostile_value, "wall_s": hostile_value, "peak_rss_mb": hostile_value,
          "claims": hostile_value, "error": hostile_value
          | st.dictionaries(st.sampled_from(["ename", "evalue", "source", "traceback",
                                             "cell_index"]), hostile_value),
          "figures": st.lists(st.sampled_from(HOSTILE), max_size=4) | hostile_value}),
         max_size=3) | hostile_value})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests, st.lists(st.dictionaries(
    st.sampled_from(["notebook", "id", "text", "verdict", "profiles", "values", "reason"]),
    hostile_value), max_size=4))
def test_a_hostile_manifest_is_rendered_escaped(manifest, claims):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = make_run_dir(Path(tmp))
        page = report.render(run_dir, manifest, claims)
        audit(page, run_dir)
        if any(c.get("verdict") not in ("true", "not checked") for c in claims):
            assert "PASSED" not in page.split("</h1>")[0]


def write_run(run_dir: Path, claims, exit_code=0, **nb):
    record = {"name": "01_x", "status": "ok", "wall_s": 1.0, "peak_rss_mb": 5.0,
              "output": "01_x.ipynb", "metrics": None, "log": "01_x.log", "error": None,
              "claims": {}, "figures": []}
    record.update(nb)
    manifest = {"profile": "cpu", "seed": 1, "status": "complete", "exit_code": exit_code,
                "notebooks": [record], "summary": {"ok": 1, "notebooks": 1}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "claims.json").write_text(json.dumps(claims))


def test_an_unknown_verdict_is_invalid_and_fails_the_page(tmp_path):
    write_run(tmp_path, [{"notebook": "01_x", "id": "c", "verdict": "FALSE"},
                         {"notebook": "01_x", "id": "d", "verdict": "x'/onmouseover='alert(1)"}])
    page = report.write_report(tmp_path).read_text()
    assert "FAILED" in page and "PASSED" not in page
    assert page.count("<td class='invalid'>invalid") == 2 and "onmouseover='" not in page
    audit(page, tmp_path)


def test_figures_outside_the_run_folder_are_not_embedded(tmp_path):
    run_dir = make_run_dir(tmp_path)
    names = ["good.png", "link.png", "../secret.png", str(tmp_path / "secret.png"),
             "01_x.ipynb"]
    write_run(run_dir, [], figures=names)
    page = report.write_report(run_dir).read_text()
    assert page.count("<img ") == 1 and base64.b64encode(PNG).decode() in page
    audit(page, run_dir)
    assert [report.figure_problem(run_dir, n) is None for n in names] == [
        True, False, False, False, False]


def test_report_is_written_atomically(tmp_path, monkeypatch):
    write_run(tmp_path, [])
    path = report.write_report(tmp_path)
    before = path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    write_run(tmp_path, [{"notebook": "01_x", "id": "c", "verdict": "false"}], exit_code=1)

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(report.RunFolderError, match="No space left on device"):
        report.write_report(tmp_path)
    assert path.read_text() == before  # the old page is intact, no half-written file
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "claims.json", "manifest.json", "report.html"]


def test_unreadable_run_folders_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="has no manifest.json"):
        report.write_report(tmp_path)
    (tmp_path / "manifest.json").write_text("{broken")
    with pytest.raises(ValueError, match="cannot read its manifest.json"):
        report.write_report(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    (tmp_path / "claims.json").write_text("[]")
    with pytest.raises(ValueError, match="not a JSON object"):
        report.write_report(tmp_path)


def test_an_older_manifest_takes_figures_from_the_sidecar_and_still_checks_them(tmp_path):
    run_dir = make_run_dir(tmp_path)
    (run_dir / "01_x.metrics.json").write_text(json.dumps({
        "notebook": "01_x", "profile": "cpu", "seed": 1, "metrics": {}, "claims": [],
        "figures": ["good.png", "../secret.png", "link.png"]}))
    write_run(run_dir, [], metrics="01_x.metrics.json")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["notebooks"][0]["figures"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    page = report.write_report(run_dir).read_text()
    assert page.count("<img ") == 1
    audit(page, run_dir)
