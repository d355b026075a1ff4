"""Browser test: notebook 06 in a real JupyterLab, driven by Playwright in Debian's Chromium.

JupyterLab runs headless on localhost (a free port, a random token) with
``COURSE_PROFILE=smoke``, serving a temporary copy of the notebook so that autosave never
touches the repository. Playwright opens it, runs all cells, checks that the k1/k2 widget
renders, moves the k2 slider, presses Run and waits for a different figure. Screenshots go
to ``test-artifacts/``.

Needs the Python package ``playwright`` and ``/usr/bin/chromium`` (``apt-get install
chromium``); no browser is downloaded. Skipped, with the reason, when either is missing --
unless ``COURSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which makes that a failure.

JupyterLab's news/announcements plugin is disabled the way ``binder/postBuild`` does it,
so that its pop-up does not cover the notebook; the test checks that no news toast shows.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course_lib import environment

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06_tbptt.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# smoke profile, plus kernel start, on a busy 2-core machine
RUN_ALL_TIMEOUT_MS = int(os.environ.get("COURSE_BROWSER_RUN_MS", "240000"))

ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"
REQUIRED = os.environ.get("COURSE_REQUIRE_BROWSER", "").strip() == "1"

try:
    from playwright import sync_api
except ImportError:
    sync_api = None
    MISSING = "the Python package playwright is not installed (pip install playwright)"
else:
    MISSING = None if CHROMIUM.exists() else (
        f"no Chromium at {CHROMIUM} (apt-get install chromium, or set COURSE_CHROMIUM)")


@pytest.fixture(scope="module", autouse=True)
def _browser_available():
    """Skip without a browser -- or fail, when COURSE_REQUIRE_BROWSER=1 (CI)."""
    if MISSING:
        if REQUIRED:
            pytest.fail(f"COURSE_REQUIRE_BROWSER=1 but {MISSING}", pytrace=False)
        pytest.skip(MISSING)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_server(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early with code {process.returncode}; "
                               "see jupyterlab.log in the test's temporary folder")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Start JupyterLab on a copy of notebook 06; yield ``(base_url, token, folder)``."""
    folder = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    port, token = _free_port(), secrets.token_hex(16)
    # what `jupyter labextension disable --level=user ANNOUNCEMENTS` writes, in a private
    # config folder (binder/postBuild runs that command)
    labconfig = folder / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {ANNOUNCEMENTS: True}}))
    env = dict(os.environ, COURSE_PROFILE="smoke", COURSE_OUTPUT_DIR=str(folder / "output"),
               JUPYTER_RUNTIME_DIR=str(folder / "runtime"), TF_NUM_INTEROP_THREADS="1",
               JUPYTER_CONFIG_DIR=str(folder / "config"))
    env.update(environment.quiet_tf_env(env))  # the kernels, as `course run` starts them
    env.pop("MPLBACKEND", None)  # the tests' Agg backend would hide the student's inline plots
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={folder / 'settings'}",
        f"--LabApp.workspaces_dir={folder / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        command.append("--allow-root")
    log = open(folder / "jupyterlab.log", "w")  # noqa: SIM115 -- closed below
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=folder)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", process)
        yield base, token, folder
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _accept_kernel_dialog(page) -> None:
    """Accept JupyterLab's "Select Kernel" dialog if it shows (it may, on a fresh profile)."""
    accept = page.locator(".jp-Dialog button.jp-mod-accept")
    try:
        accept.wait_for(state="visible", timeout=15_000)
    except sync_api.TimeoutError:
        return
    accept.click()


def _figure_src(page) -> str:
    """Return the data URL of the figure inside the widget's output area ('' if none)."""
    return page.evaluate("""() => {
        const img = document.querySelector('.widget-output img, .jupyter-widgets-output-area img');
        return img ? img.getAttribute('src') : '';
    }""")


@pytest.mark.timeout(600)
def test_notebook_06_widget_retrains_and_redraws(lab):
    base, token, _folder = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                    headless=True)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
            disabled = page.evaluate("""() => JSON.parse(document.getElementById(
                'jupyter-config-data').textContent).disabledExtensions || []""")
            assert ANNOUNCEMENTS in disabled, disabled
            _accept_kernel_dialog(page)
            # wait for the kernel, then run everything the way a student's "Run All" does
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=90_000)
            # fire and forget: the command's promise resolves only when every cell has run
            page.evaluate("() => { void window.jupyterapp.commands.execute("
                          "'notebook:run-all-cells'); }")
            page.wait_for_function(
                """() => {
                    const prompts = [...document.querySelectorAll(
                        '.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
                    return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
                }""",
                timeout=RUN_ALL_TIMEOUT_MS)
            errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
            assert errors.count() == 0, errors.first.inner_text()

            widget = page.locator(".widget-vbox", has=page.locator("button", has_text="Run"))
            widget.first.scroll_into_view_if_needed()
            widget.first.wait_for(state="visible", timeout=30_000)
            sliders = widget.first.locator(".widget-slider")
            assert sliders.count() == 2, "the k1 and k2 sliders did not render"
            page.wait_for_function("() => document.querySelector('.widget-output img') !== null",
                                   timeout=30_000)
            before = _figure_src(page)
            page.screenshot(path=str(ARTIFACTS / "06_widget_before.png"), full_page=False)

            k2 = sliders.nth(1)
            readout = k2.locator(".widget-readout")
            old_value = readout.inner_text().strip()
            handle = k2.locator(".noUi-handle")
            handle.focus()
            for _ in range(3):
                handle.press("ArrowRight")
            page.wait_for_function(
                "([el, old]) => el.textContent.trim() !== old",
                arg=[readout.element_handle(), old_value], timeout=10_000)
            new_value = readout.inner_text().strip()
            assert new_value != old_value

            widget.first.locator("button", has_text="Run").click()
            page.wait_for_function(
                """(before) => {
                    const img = document.querySelector('.widget-output img');
                    return img !== null && img.getAttribute('src') !== before;
                }""",
                arg=before, timeout=120_000)
            after = _figure_src(page)
            widget.first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "06_widget_after.png"), full_page=False)
            assert after and after != before
            status = widget.first.locator(".widget-label").last.inner_text()
            assert "done in" in status, status
            # the news question would have shown long ago (it asks right after start-up)
            news = page.locator(".Toastify__toast", has_text="news")
            assert news.count() == 0, news.first.inner_text()
        except Exception:
            if page is not None:  # a failed screenshot must not hide the real error
                try:
                    page.screenshot(path=str(ARTIFACTS / "06_failure.png"), full_page=False)
                except Exception as shot_error:
                    print(f"no failure screenshot: {shot_error}")
            raise
        finally:
            browser.close()
