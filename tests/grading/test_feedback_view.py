"""Feedback a student reads in ten seconds: the score after any penalty and the failing tests
first, failing cells marked, maths drawn offline, and a page for what could not be graded.
The last test opens real feedback in Chromium and checks the hint is visible unscrolled."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from pathlib import Path

import fixture_course as fc
import pytest

from grader.course import notebooks as nbs
from grader.course import release
from grader.reporting import feedback_view as fv

CHROMIUM = Path(os.environ.get("SEQ_CHROMIUM", "/usr/bin/chromium"))
LONG_HINT = (
    "sigmoid(z) is wrong: expected 0.0474 at index 0, got 0.9526; did you forget the minus "
    "sign in exp(-z)? The logistic function is 1 / (1 + exp(-z)), and its value at z = -3 "
    "must be small, not close to one. END-OF-HINT"
)


def test_maths_is_drawn_offline_and_code_is_left_alone():
    text = render = fv.render_math(
        r"The state $a^{\langle t \rangle} = \tanh\big(W_{aa} a\big)$ and `cost $5`."
        "\n\n$$\\frac{\\partial J}{\\partial a} \\le 1$$"
    )
    assert render.count('<img class="seq-math"') == 2
    assert "data:image/svg+xml;base64," in text
    assert "`cost $5`" in text  # code spans keep their dollars
    assert "$" not in text.replace("`cost $5`", "")
    assert "<code>\\undefinedmacro</code>" in fv.render_math(r"$\undefinedmacro$")


def test_the_cdn_script_goes_and_the_not_graded_page_says_why():
    page = '<head><script src="https://cdnjs.cloudflare.com/x/MathJax.js?config=TeX"> </script>'
    assert "cdnjs" not in fv.offline(page)
    notice = fv.notice_page("ana", "04_lm", "not a notebook (invalid JSON)", "hand it in again")
    assert "could not be graded" in notice
    assert "not a notebook (invalid JSON)" in notice
    assert "http" not in notice


@fc.needs_sandbox
@pytest.mark.slow
def test_feedback_puts_the_failing_hint_on_the_first_screen(tmp_path, monkeypatch):
    from grader.grade import Options, grade_class
    from grader.reporting import feedback

    root = fc.make_course(tmp_path / "course")
    monkeypatch.setenv("NBGRADER_DB_URL", "sqlite:///" + str(root / "grader" / "gradebook.db"))
    assert not release.release(root)
    rel = nbs.read(fc.release_path(root))
    wrong = fc.replace_solutions(
        rel, {"sigmoid": f"def sigmoid(z):\n    raise ValueError({LONG_HINT!r})\n"}
    )
    folder = tmp_path / "class"
    (folder / "ana").mkdir(parents=True)
    (folder / "ana" / f"{fc.NOTEBOOK}.ipynb").write_text(nbs.dumps(wrong))
    (folder / "ben").mkdir()
    (folder / "ben" / f"{fc.NOTEBOOK}.ipynb").write_text("{not json")
    grade_class(root, folder, Options(jobs=1, cell_timeout=3))
    assert not feedback.generate(root, force=True, warn=lambda _t: None)
    page_path = root / "grader" / "feedback" / "ana" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.html"
    page = page_path.read_text()
    assert "cdnjs" not in page
    assert page.index('id="seq-summary"') < page.index("Fixture assignment")
    assert "<h2>Your score: 0 / " in page
    assert 'class="seq-failing-mark">✗ Failing test test_sigmoid' in page
    assert "not attempted" in page  # count_tokens and relu were left as released
    notice = root / "grader" / "feedback" / "ben" / fc.ASSIGNMENT / "NOT-GRADED.html"
    assert "not a notebook" in notice.read_text()

    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        if os.environ.get("SEQ_REQUIRE_BROWSER") == "1":
            pytest.fail(f"SEQ_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")
        pytest.skip(f"browser check did not run: no Chromium at {CHROMIUM}")
    playwright = pytest.importorskip("playwright.sync_api")
    artifacts = Path(os.environ.get("SEQ_ARTIFACTS", fc.REPO / "artifacts" / "browser"))
    artifacts.mkdir(parents=True, exist_ok=True)
    # In a thread of its own: Playwright's sync API refuses a thread where another test of the
    # session left an asyncio loop running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        box, fits, text = pool.submit(_first_screen, playwright, page_path, artifacts).result()
    assert box is not None
    assert box["y"] + box["height"] <= 860, box  # on the first screen, unscrolled
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 1280, box
    assert fits, "the message scrolls sideways"
    assert "END-OF-HINT" in text


def _first_screen(playwright, page_path: Path, artifacts: Path):
    """The hint's box on a 1280x860 first screen, whether it fits, and its text."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            view = browser.new_page(viewport={"width": 1280, "height": 860})
            view.route(
                "**/*", lambda r: r.abort() if r.request.url.startswith("http") else r.continue_()
            )
            view.goto(page_path.as_uri())
            view.screenshot(path=str(artifacts / "feedback-first-screen.png"))
            hint = view.locator(".seq-summary .seq-fail pre").first
            box = hint.bounding_box()
            fits = hint.evaluate("e => e.scrollWidth <= e.clientWidth")
            return box, fits, hint.inner_text()
        finally:
            browser.close()
