"""The Validate button of the student-mode JupyterLab, answered by the grader's own check.

nbgrader's notebook toolbar has a **Validate** button (its labextension). It first asks
``GET /nbgrader_version?version=V`` whether the server speaks its protocol, saves the notebook,
then posts ``POST /assignments/validate?path=PATH`` and renders the JSON answer
``{"success": bool, "value": ...}`` in a dialog: ``value`` ``{}`` reads "Success! Your
notebook passes all the tests."; ``{"failed": [{"source", "error"}, ...]}`` lists each entry
under "The following cell failed:", ``source`` as text and ``error`` as HTML; with
``success`` false the dialog shows ``value`` as the reason the check could not run.

This jupyter_server extension serves those two routes in place of nbgrader's
``validate_assignment`` extension (``.jupyter/student/jupyter_server_config.json`` enables
this one and disables that one), so the button shows what ``python -m grader grade`` will
say: it runs ``python -m grader.validate --json PATH`` (:mod:`grader.validate`, the same plan,
the same run of the student's cells, the same test code and messages) in a subprocess, with a
time limit, and lists per test cell the grader's verdict with its message whole. nbgrader's
own validator runs the notebook in a kernel instead and cuts every line at 90 characters.

The check runs in the bubblewrap sandbox where the machine has it, otherwise unsandboxed (a
laptop on macOS or Windows): it is the student's own code, run as their own kernel runs it.
The raw result is in ``value["grader"]`` too, for tools and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import signal
import sys
from pathlib import Path

import nbformat
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from grader import validate
from grader.course import notebooks as nbs

# The folder that holds this grader/ package: the course repository or the student bundle.
COURSE_ROOT = Path(__file__).resolve().parent.parent
# Seconds the whole check may take. Each cell has 20 s when grading, so a notebook whose cells
# all hang needs a few minutes to be named cell by cell; past this the dialog says so.
CHECK_TIMEOUT = float(os.environ.get("SEQ_VALIDATE_TIMEOUT", "600"))


def released_copy(notebook: Path, course: Path = COURSE_ROOT) -> Path | None:
    """The notebook the tests come from. Next to the notebook first (:func:`grader.validate.
    find_source`); else in the course folder this server runs from, by the notebook's
    assignment folder and file name (JupyterLab may serve a copy of ``notebooks/`` elsewhere)."""
    found = validate.find_source(notebook)
    if found is not None:
        return found
    for base in (course / "solutions", course / validate.RELEASE_COPY):
        candidate = base / notebook.parent.name / notebook.name
        if candidate.is_file() and candidate.resolve() != notebook.resolve():
            return candidate
    return None


def _test_sources(source: str | None) -> dict[str, str]:
    """grade_id → the code of each test cell as the student's notebook shows it (without the
    hidden tests, when the check's tests come from ``solutions/``)."""
    if not source:
        return {}
    try:
        nb = nbformat.read(source, as_version=4)
    except Exception:
        return {}
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and meta.get("grade_id"):
            _hidden, shown = nbs._split_regions(cell.source, "hidden test")
            found[meta["grade_id"]] = "\n".join(shown).strip()
    return found


def _as_html(text: str) -> str:
    """``text`` escaped, its long lines wrapped on screen (the dialog's box does not scroll
    sideways on its own: a hint at the end of a long line would be out of sight)."""
    style = "white-space: pre-wrap; overflow-wrap: anywhere"
    return f'<span class="seq-grader-verdict" style="{style}">{html.escape(text)}</span>'


def _entry(source: str, error: str) -> dict:
    """One entry of the dialog: ``source`` is shown as text, ``error`` as HTML (escaped here;
    a message is never cut)."""
    return {"source": source, "error": _as_html(error), "raw_error": error}


def button_answer(result: dict) -> dict:
    """The grader's check result as the JSON nbgrader's Validate dialog renders.

    Success only when every test cell passes and the grader has nothing else to say; otherwise
    one entry per failing test cell (its code, then the grader's message in full), one per
    note the grader makes (a cell of the student's that could not run when grading: which
    cell, which line, why) and one per written answer still empty, the last with the verdict
    of every test cell."""
    if result.get("error"):
        return {
            "success": False,
            "value": f"The grader cannot check this notebook: {result['error']}",
        }
    tests = result.get("tests", [])
    codes = _test_sources(result.get("source"))
    entries = []
    for test in tests:
        if not test["passed"]:
            code = codes.get(test["grade_id"], "")
            head = f"test cell {test['grade_id']}"
            entries.append(
                _entry(f"{head}\n\n{code}" if code else head, f"The grader says: {test['error']}")
            )
    for note in result.get("notes", []):
        entries.append(_entry("when grading", note))
    for gid in result.get("unanswered", []):
        entries.append(
            _entry(f"written answer {gid}", "still empty: it is graded by hand, write it first")
        )
    value: dict = {"grader": result}
    if entries:
        passed = sum(t["passed"] for t in tests)
        where = "in the sandbox" if result.get("sandboxed") else "without a sandbox"
        lines = [f"The grader's check ({where}): {passed} of {len(tests)} test cells pass"]
        lines += [f"  {'PASS' if t['passed'] else 'FAIL'}  {t['grade_id']}" for t in tests]
        last = entries[-1]
        last["raw_error"] += "\n\n" + "\n".join(lines)
        last["error"] = _as_html(last["raw_error"])
        value["failed"] = entries
    return {"success": True, "value": value}


async def run_check(notebook: Path, source: Path | None, timeout: float = CHECK_TIMEOUT) -> dict:
    """``python -m grader.validate --json`` on ``notebook`` in a subprocess (its own process
    group, killed whole past ``timeout`` seconds); returns its result, or one with ``error``."""
    command = [sys.executable, "-m", "grader.validate", "--json", str(notebook)]
    if source is not None:
        command[4:4] = ["--source", str(source)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(COURSE_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=COURSE_ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        return {"error": f"the check did not finish within {timeout:g} s"}
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = err.decode(errors="replace").strip()[-4000:]
        return {"error": f"the check failed (exit status {process.returncode}):\n{tail}"}


class ValidateHandler(JupyterHandler):
    """``POST /assignments/validate`` with ``path`` (query argument or JSON body), relative to
    the folder JupyterLab serves."""

    @web.authenticated
    async def post(self) -> None:
        path = self.get_argument("path", None)
        if path is None:
            path = (self.get_json_body() or {}).get("path")
        if not path:
            raise web.HTTPError(400, "no notebook path given")
        root = Path(self.settings["seq_validate_root"]).resolve()
        notebook = (root / path).resolve()
        if not notebook.is_relative_to(root):
            raise web.HTTPError(403, "the notebook is outside the folder JupyterLab serves")
        if not notebook.is_file():
            raise web.HTTPError(404, f"no notebook {path}")
        result = await run_check(notebook, released_copy(notebook))
        self.log.info("Validate %s: %s", path, _summary(result))
        self.finish(json.dumps(button_answer(result)))


def _summary(result: dict) -> str:
    if result.get("error"):
        return f"not checked ({result['error'].splitlines()[0]})"
    tests = result.get("tests", [])
    return f"{sum(t['passed'] for t in tests)} of {len(tests)} test cells pass"


class VersionHandler(JupyterHandler):
    """``GET /nbgrader_version?version=V``: the button's protocol check. The dialog format above
    is nbgrader's labextension of the installed nbgrader, so the versions must agree."""

    @web.authenticated
    def get(self) -> None:
        from nbgrader import __version__ as installed

        asked = self.get_argument("version")
        if asked == installed:
            self.finish(json.dumps({"success": True}))
            return
        message = (
            f"The Validate button (nbgrader {asked}) does not match the installed nbgrader "
            f"{installed}; reinstall the course environment (make lab rebuilds it)."
        )
        self.finish(json.dumps({"success": False, "message": message}))


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "grader.validate_server"}]


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.settings["seq_validate_root"] = serverapp.root_dir
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base_url, "assignments/validate"), ValidateHandler),
            (url_path_join(base_url, "nbgrader_version"), VersionHandler),
        ],
    )
    serverapp.log.info("Validate runs the grader's check (grader.validate_server)")
