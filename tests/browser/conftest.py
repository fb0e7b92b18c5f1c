"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, and JupyterLab.

The lab under test is the README's student mode (see browser_lab.py), serving a temporary copy
of the released notebooks. Screenshots and the server logs go to ``artifacts/browser/``
(git-ignored) or to ``$SEQ_ARTIFACTS``; a failing test adds a screenshot ``FAILED-<test>.png``.

The browser is Debian's ``chromium`` package (``/usr/bin/chromium``; ``$SEQ_CHROMIUM`` points
elsewhere, e.g. at a local Chrome); Playwright never downloads one. No Chromium → the tests are
skipped with a reason that says how to enable them, unless ``SEQ_REQUIRE_BROWSER=1`` (set by
CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser_lab import ROOT

CHROMIUM = Path(os.environ.get("SEQ_CHROMIUM", "/usr/bin/chromium"))
# Flags that work in containers and on CI runners (no sandbox, GPU or background traffic).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 860}


def _no_browser(reason: str) -> None:
    """Skip with a plain reason, or fail if CI demands the browser test (SEQ_REQUIRE_BROWSER=1)."""
    message = f"browser test did not run: {reason}"
    if os.environ.get("SEQ_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (SEQ_REQUIRE_BROWSER=1 requires it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        _no_browser(
            f"no Chromium at {CHROMIUM}; install it with `sudo apt-get install chromium` to enable"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _no_browser("the playwright package is missing; run `make setup` (dev extras) to enable")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path):
    """One headless Chromium for the session (a fresh profile, managed by Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser, artifacts: Path):
    """A fresh browser context and page per test; a screenshot of the page if the test fails."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            page.screenshot(path=artifacts / f"FAILED-{request.node.name}.png")
        context.close()


def _artifacts_path() -> Path:
    return Path(os.environ.get("SEQ_ARTIFACTS") or ROOT / "artifacts" / "browser").resolve()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $SEQ_ARTIFACTS, else artifacts/browser/ (git-ignored)."""
    path = _artifacts_path()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _repo_entries() -> set[str]:
    """Top-level names of the repository and every path under notebooks/."""
    names = set(os.listdir(ROOT))
    for folder, dirs, files in os.walk(ROOT / "notebooks"):
        names.update(str(Path(folder, name).relative_to(ROOT)) for name in dirs + files)
    return names


@pytest.fixture(autouse=True)
def leaves_no_files_in_repo():
    """The lab serves a copy, so nothing may appear at the top level or under notebooks/."""
    before = _repo_entries()
    yield
    new = _repo_entries() - before
    if _artifacts_path().is_relative_to(ROOT):
        new.discard(_artifacts_path().relative_to(ROOT).parts[0])
    assert not new, f"the browser test left files in the repository: {sorted(new)}"


@pytest.fixture
def released_copy(tmp_path: Path) -> Path:
    """A temporary copy of the released notebooks/ (the student's starting point)."""
    target = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target
