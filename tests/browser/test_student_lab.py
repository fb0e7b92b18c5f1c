"""The student's JupyterLab, driven in headless Chromium the way a student uses it.

`make lab` (student mode) serves a temporary copy of the released notebooks. The student opens
assignment 01, runs every cell, sees each graded test cell fail with NotImplementedError while
the ungraded cells work, writes one function, re-runs it and its test, presses the Validate
button and reads the grader's verdict. The instructor panels (formgrader, create-assignment,
assignment and course lists) must be nowhere. A screenshot of each step goes to the artefacts
directory (see conftest.py).

Validate runs the grader's own check (grader.validate_server): on a notebook whose exercises
are all written and one is wrong, it names that exercise alone with the grader's message whole
(nbgrader's own validator cuts every line at 90 characters, and the hint is at the end).

The last test is the test of the test: the same instructor-panel check, pointed at a lab started
without the student-mode config, must find the panels.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from browser_lab import ROOT, Lab, run_lab

from grader import validate as grader_validate

pytestmark = pytest.mark.browser

ASSIGNMENT = "01_notation"
NOTEBOOK = f"{ASSIGNMENT}/notation.ipynb"
# The simplest graded function of notebook 01; its correct body is taken from solutions/.
EXERCISE = "char_tokenize"
STUB = "# YOUR CODE HERE\n    raise NotImplementedError()"
RUN_TIMEOUT = 60_000  # ms, for a batch of cells or a validation (the notebook runs in ~5 s)

# A cell's prompt once it has run ("[ ]:" before, "[*]:" while queued or running).
DONE_PROMPT = re.compile(r"^\[\d+\]:$")


# --------------------------------------------------------------------------------------------
# What the notebook file says (to know which cell is which)
# --------------------------------------------------------------------------------------------


def nbgrader_role(cell) -> str:
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade") and cell.cell_type == "code":
        return "test"
    if meta.get("solution"):
        return "solution"
    return "plain"


def solved_cell(released_source: str, grade_id: str) -> str:
    """The released cell ``grade_id`` with its stub replaced by the instructor's solution."""
    source = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            body = re.search(
                r"### BEGIN SOLUTION\n(.*?)\n[ \t]*### END SOLUTION", cell.source, re.DOTALL
            )
            assert body, f"no solution block in the {grade_id} cell of solutions/{NOTEBOOK}"
            assert STUB in released_source, f"the released {grade_id} cell has no stub"
            return released_source.replace(STUB, body.group(1).strip())
    raise AssertionError(f"no cell with grade_id {grade_id!r} in solutions/{NOTEBOOK}")


def correct_solution_cell(released_source: str) -> str:
    """The released cell of EXERCISE with its stub replaced by the instructor's solution."""
    return solved_cell(released_source, EXERCISE)


# --------------------------------------------------------------------------------------------
# The page, read the way a student reads it
# --------------------------------------------------------------------------------------------


def notebook(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def cell(page, index: int):
    return notebook(page).locator(".jp-Notebook .jp-Cell").nth(index)


def prompts(page) -> list[str | None]:
    """Each cell's execution prompt ("[3]:", "[*]:", "[ ]:"), None for markdown cells."""
    return notebook(page).evaluate(
        """panel => Array.from(panel.querySelectorAll('.jp-Notebook .jp-Cell')).map(cell =>
            cell.classList.contains('jp-CodeCell')
                ? cell.querySelector('.jp-InputPrompt').textContent.trim() : null)"""
    )


def outputs(page, index: int) -> str:
    """Everything a cell printed, errors included (textContent: also for cells off screen)."""
    return " ".join(cell(page, index).locator(".jp-OutputArea-output").all_text_contents())


def has_error(page, index: int) -> bool:
    selector = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    return cell(page, index).locator(selector).count() > 0


def wait_until_run(page, indices: list[int], before: list[str | None]) -> None:
    """Wait until the given cells show a new execution count and nothing is queued or busy."""
    page.wait_for_function(
        """([indices, before]) => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const status = panel.querySelector('.jp-Notebook-ExecutionIndicator');
            const cells = panel.querySelectorAll('.jp-Notebook .jp-Cell');
            const prompt = i => cells[i].querySelector('.jp-InputPrompt').textContent.trim();
            const all = Array.from(cells).filter(c => c.classList.contains('jp-CodeCell'));
            return status && status.dataset.status === 'idle'
                && !all.some(c => c.querySelector('.jp-InputPrompt').textContent.includes('*'))
                && indices.every(i => /^\\[\\d+\\]:$/.test(prompt(i)) && prompt(i) !== before[i]);
        }""",
        arg=[indices, before],
        timeout=RUN_TIMEOUT,
    )


def scroll_to(page, index: int, block: str = "start") -> None:
    """Scroll a cell to the top (or "center") of the notebook and let the browser paint it."""
    cell(page, index).evaluate("(el, block) => el.scrollIntoView({block})", block)
    # Off-screen cells are skipped by the renderer (content-visibility); wait two frames.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def save(page) -> None:
    """File > Save (Ctrl+S) and wait until the tab no longer shows unsaved changes."""
    page.keyboard.press("ControlOrMeta+s")
    page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").wait_for(state="detached")


def menu(page, menu_name: str, item: str) -> None:
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=menu_name).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def open_notebook(page, lab: Lab, n_cells: int) -> None:
    """Open the notebook and wait until the kernel is idle and all ``n_cells`` cells are in the
    page (on a loaded machine JupyterLab may still be adding cells when the kernel is ready)."""
    page.goto(lab.lab_url(NOTEBOOK))
    page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status=idle]"
    ).wait_for(state="attached", timeout=RUN_TIMEOUT)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
    page.wait_for_function(
        """n => document.querySelectorAll(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell').length >= n""",
        arg=n_cells,
        timeout=RUN_TIMEOUT,
    )


def run_all_cells(page) -> None:
    """Run > Run All Cells, then carry on after each error as a student would.

    JupyterLab stops a run at the first error (the first failing test), so after each stop the
    next cell that has not run is selected and Run > Run Selected Cell and All Below resumes.
    """
    before = prompts(page)
    code = [i for i, p in enumerate(before) if p is not None]
    menu(page, "Run", "Run All Cells")
    wait_until_run(page, [code[0]], before)
    for _ in range(len(code)):
        current = prompts(page)
        pending = [i for i in code if current[i] == "[ ]:"]
        if not pending:
            return
        cell(page, pending[0]).locator(".jp-InputPrompt").click()
        menu(page, "Run", "Run Selected Cell and All Below")
        wait_until_run(page, [pending[0]], current)
    raise AssertionError(f"cells still not run after {len(code)} rounds: {prompts(page)}")


def replace_cell_source(page, index: int, text: str) -> None:
    """Click into the cell's editor, select everything and type the new source over it."""
    editor = cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    # insert_text, unlike key-by-key typing, is not re-indented or bracket-completed.
    page.keyboard.insert_text(text)


def validate(page) -> tuple[str, str]:
    """Press the Validate button (nbgrader's, answered by the grader's check); return the
    verdict's CSS class and its text."""
    notebook(page).locator(".jp-Toolbar-item", has_text="Validate").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=RUN_TIMEOUT)
    message = dialog.locator("#validation-message")
    verdict = next(
        name for name in message.get_attribute("class").split() if name.startswith("validation-")
    )
    return verdict, message.text_content()


def instructor_panels(page, lab: Lab) -> list[str]:
    """Every trace of nbgrader's instructor/exchange tools a student could reach."""
    found = []
    if "Nbgrader" in page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_text_contents():
        found.append("Nbgrader menu in the menu bar")
    tabs = page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
        "tabs => tabs.map(tab => tab.title + ' ' + tab.textContent)"
    )
    found += [f"side-bar tab {tab.strip()!r}" for tab in tabs if "Assignment" in tab]
    # The command palette lists every command a plugin registered, menu or not.
    page.keyboard.press("ControlOrMeta+Shift+c")
    palette = page.locator(".lm-CommandPalette-input")
    for command in ("Formgrader", "Create Assignment", "Assignment List", "Course List"):
        palette.fill(command)
        items = page.locator(".lm-CommandPalette-item .lm-CommandPalette-itemLabel")
        labels = [label.strip() for label in items.all_text_contents()]
        found += [f"command {label!r}" for label in labels if command.lower() in label.lower()]
    palette.fill("")
    page.keyboard.press("Escape")
    for path, what in [
        ("formgrader", "formgrader"),
        ("formgraders", "course list"),
        ("assignments", "assignment list"),
    ]:
        status, _ = lab.get(path)
        if status != 404:
            found.append(f"server extension: /{path} ({what}) answers {status}")
    return found


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


@pytest.fixture
def released_nb(released_copy: Path):
    return nbformat.read(released_copy / NOTEBOOK, as_version=4)


def test_student_works_through_a_released_notebook(
    page, released_copy: Path, released_nb, tmp_path: Path, artifacts: Path
) -> None:
    roles = [nbgrader_role(c) for c in released_nb.cells]
    tests = [i for i, role in enumerate(roles) if role == "test"]
    (solution,) = [
        i
        for i, c in enumerate(released_nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == EXERCISE
    ]
    (own_test,) = [i for i in tests if f"check_{EXERCISE}(" in released_nb.cells[i].source]
    answer = correct_solution_cell(released_nb.cells[solution].source)
    # An ungraded cell that needs no exercise: the first code cell (imports and set-up).
    setup = next(
        i for i, c in enumerate(released_nb.cells) if c.cell_type == "code" and roles[i] == "plain"
    )
    figures = [
        i
        for i, c in enumerate(released_nb.cells)
        if c.cell_type == "code" and roles[i] == "plain" and "plt." in c.source
    ]

    def shot(name: str) -> None:
        page.screenshot(path=artifacts / f"{name}.png")

    with run_lab(released_copy, tmp_path, artifacts) as lab:
        # 1. Open the released notebook.
        open_notebook(page, lab, len(released_nb.cells))
        shot("01-opened")
        assert len(prompts(page)) == len(released_nb.cells), "cells on screen != cells in file"
        found = instructor_panels(page, lab)
        assert not found, f"instructor tools visible in student mode: {found}"
        validate_button = notebook(page).locator(".jp-Toolbar-item", has_text="Validate")
        assert validate_button.is_visible(), "the Validate button is missing"

        # 2. Run all cells: every graded test fails with NotImplementedError, ungraded cells run.
        run_all_cells(page)
        scroll_to(page, tests[0], "center")
        shot("02-run-all-tests-fail")
        ran = prompts(page)
        for i in tests:
            assert has_error(page, i), f"test cell {i} did not fail: {outputs(page, i)[:500]}"
            assert "NotImplementedError" in outputs(page, i), (
                f"test cell {i} should fail with NotImplementedError:\n{outputs(page, i)[:500]}"
            )
        assert DONE_PROMPT.match(ran[setup]), ran[setup]
        assert not has_error(page, setup), outputs(page, setup)
        succeeded_figures = [
            i for i in figures if DONE_PROMPT.match(ran[i]) and not has_error(page, i)
        ]
        assert succeeded_figures, "no ungraded figure cell ran without an error"
        figure = cell(page, succeeded_figures[0])
        assert figure.locator(".jp-OutputArea-output img").count() > 0, "figure not rendered"
        scroll_to(page, succeeded_figures[0])
        shot("03-ungraded-figure-runs")

        # 3. Write the function, run it and its test: the test passes.
        replace_cell_source(page, solution, answer)
        before = prompts(page)
        page.keyboard.press("Shift+Enter")  # runs the solution cell, selects its test
        page.keyboard.press("Shift+Enter")  # runs the test cell
        wait_until_run(page, [solution, own_test], before)
        scroll_to(page, solution)
        shot("04-own-test-passes")
        assert not has_error(page, own_test), outputs(page, own_test)
        assert "passed" in outputs(page, own_test), outputs(page, own_test)

        # The README picture: the notebook with a figure, once the first exercise is done.
        scroll_to(page, succeeded_figures[0] - 1)  # the figure with the text that explains it
        page.mouse.move(0, page.viewport_size["height"] - 1)  # no hover highlight in view
        shot("student-lab")

        # 4. Validate: the grader checks the saved notebook; only the unwritten exercises fail.
        save(page)
        verdict, text = validate(page)
        shot("05-validate-verdict")
        assert verdict == "validation-failed", f"{verdict}: {text[:1000]}"
        assert "NotImplementedError" in text
        assert f"check_{EXERCISE}(" not in text, "the written exercise still fails validation"
        for i in tests:
            if i != own_test:
                checker = re.search(r"ex\.(check_\w+)\(", released_nb.cells[i].source)
                assert checker, released_nb.cells[i].source
                assert checker.group(1) in text, f"{checker.group(1)} not reported as failing"
        page.locator(".jp-Dialog .jp-mod-accept").click()

        # What was typed is what the file holds (nothing re-indented or auto-closed).
        saved = nbformat.read(released_copy / NOTEBOOK, as_version=4)
        assert saved.cells[solution].source == answer

        # 5. Student mode: still no instructor tools, now with a notebook in use.
        found = instructor_panels(page, lab)
        assert not found, f"instructor tools visible in student mode: {found}"


# The wrong answer: lower-cases the text. The grader's check names the case it fails and ends
# its message with the hint the exercise gives for this mistake.
WRONG_ANSWER = "return list(text.lower())"
HINT = "keep upper case as it is"


def test_validate_shows_the_graders_verdict_with_the_full_hint(
    page, released_copy: Path, released_nb, tmp_path: Path, artifacts: Path
) -> None:
    """Every exercise written, EXERCISE wrong: Validate names it alone, with the hint whole."""
    nb = released_nb
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if c.cell_type == "markdown":
            c.source = "A standard network has a fixed input size; sentences vary in length."
        elif meta["grade_id"] == EXERCISE:
            c.source = c.source.replace(STUB, WRONG_ANSWER)
        else:
            c.source = solved_cell(c.source, meta["grade_id"])
    path = released_copy / NOTEBOOK
    nbformat.write(nb, path)
    # What the grader says about this notebook (its tests from solutions/, as the lab's check).
    expected = grader_validate.check(path, source=ROOT / "solutions" / NOTEBOOK)
    failing = {t["grade_id"]: t["error"] for t in expected["tests"] if not t["passed"]}
    assert list(failing) == [f"test_{EXERCISE}"], expected
    message = failing[f"test_{EXERCISE}"]
    assert message.endswith(HINT), message
    assert len(message) > 90, "the message must be longer than nbgrader's 90-character cut"
    passing = [t["grade_id"] for t in expected["tests"] if t["passed"]]

    with run_lab(released_copy, tmp_path, artifacts) as lab:
        open_notebook(page, lab, len(nb.cells))
        verdict, text = validate(page)
        dialog = page.locator(".jp-Dialog", has_text="Validation Results")
        dialog.locator("pre", has_text=HINT).scroll_into_view_if_needed()
        page.screenshot(path=artifacts / "06-validate-grader-verdict.png")
        assert verdict == "validation-failed", f"{verdict}: {text[:1000]}"
        # The failing exercise, named, with the grader's message whole (hint included).
        assert f"test cell test_{EXERCISE}" in text, text
        assert f"The grader says: {message}" in text, text
        # Shown whole: the hint lies inside its box, which needs no sideways scrolling.
        box = dialog.locator("pre", has_text=message)
        assert box.is_visible()
        placement = box.evaluate(
            """(pre, hint) => {
                const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
                let node;
                while ((node = walker.nextNode()) && !node.data.includes(hint)) {}
                if (!node) return null;
                const range = document.createRange();
                const start = node.data.indexOf(hint);
                range.setStart(node, start);
                range.setEnd(node, start + hint.length);
                const r = range.getBoundingClientRect(), p = pre.getBoundingClientRect();
                return {inside: r.left >= p.left && r.right <= p.right && r.width > 0,
                        overflow: pre.scrollWidth - pre.clientWidth};
            }""",
            HINT,
        )
        assert placement == {"inside": True, "overflow": 0}, placement
        # Nothing else fails; every other test cell is listed as passing.
        assert text.count("The following cell failed:") == 1, text
        assert f"of {len(expected['tests'])} test cells pass" in text, text
        for gid in passing:
            assert re.search(rf"PASS\s+{gid}\b", text), f"{gid} not listed as passing:\n{text}"
            assert f"test cell {gid}" not in text, text
        page.locator(".jp-Dialog .jp-mod-accept").click()


def test_instructor_panel_check_finds_panels_without_student_mode(
    page, released_copy: Path, released_nb, tmp_path: Path, artifacts: Path
) -> None:
    """The test of the test: without the student-mode config, the check must fire."""
    with run_lab(released_copy, tmp_path, artifacts, student=False) as lab:
        open_notebook(page, lab, len(released_nb.cells))
        found = instructor_panels(page, lab)
        page.screenshot(path=artifacts / "plain-lab-instructor-panels.png")
    text = "\n".join(found)
    assert "Nbgrader menu" in text, found
    assert "Create Assignment" in text, found
    assert "command 'Formgrader'" in text, found
    assert "/formgrader (formgrader) answers 200" in text, found
