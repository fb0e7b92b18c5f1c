"""Clean re-grade: judge a student's functions in a setting the rest of the notebook cannot touch.

nbgrader runs the test cells in the same kernel as the student's code, so anything the notebook
does at top level (``np.allclose = lambda *a, **k: True``, patching the check helpers or
IPython's error display) can turn failing tests into passing ones. The authoritative score
therefore comes from this second run:

1. A long-lived *zygote* process imports numpy and every ``utils`` module and calls
   :func:`utils.checks.seal`, recording the trusted baseline.
2. For each test cell of each submitted notebook it forks a fresh child (address-space and CPU
   limits, output discarded, its own working directory) that builds a namespace by executing,
   in the source notebook's order, the *source's* non-solution code cells and the *student's*
   solution cells, each reduced by :func:`safe_code` to imports, function and class
   definitions and literal assignments. Everything else (demos, plots, top-level
   monkeypatches) is dropped.
3. The child runs the test cell's code *from the source notebook* (hidden tests included; the
   student's copy of a test cell is never used) and reports pass/fail with the error message.

Tampering inside function bodies is caught at call time by ``utils.checks.guarded_call`` (the
baseline taken in step 1), and one test cell cannot affect another (each has its own process).

Run as ``python -m grader.clean serve``: reads one JSON job per line on stdin, writes one JSON
result per line on stdout (see :func:`grade_notebook` for the fields).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from grader import notebooks as nbs
from grader import protocol

# Decorators allowed on kept definitions (anything else would run code at definition time).
SAFE_DECORATORS = {
    "staticmethod",
    "classmethod",
    "property",
    "dataclass",
    "dataclasses.dataclass",
    "functools.cache",
    "functools.lru_cache",
    "cache",
    "lru_cache",
}


# --------------------------------------------------------------------------------------------
# Reducing cells to definitions
# --------------------------------------------------------------------------------------------


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _safe_value(node: ast.AST) -> bool:
    """A value whose evaluation runs no user code: a literal or a dotted name."""
    return _is_literal(node) or _dotted(node) is not None


def _safe_decorator(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):  # functools.lru_cache(maxsize=None)
        return (
            _dotted(node.func) in SAFE_DECORATORS
            and all(_is_literal(a) for a in node.args)
            and all(_is_literal(k.value) for k in node.keywords)
        )
    return _dotted(node) in SAFE_DECORATORS


def _clean_function(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if not all(_safe_decorator(d) for d in node.decorator_list):
        return False
    args = node.args
    defaults = list(args.defaults) + [d for d in args.kw_defaults if d is not None]
    if not all(_safe_value(d) for d in defaults):
        return False
    # Annotations are evaluated at definition time and mean nothing to the grader.
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if arg is not None:
            arg.annotation = None
    node.returns = None
    return True


def _keep(node: ast.stmt, dropped: list[str], in_class: bool = False) -> bool:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return not in_class
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        ok = _clean_function(node)
        if not ok:
            dropped.append(f"def {node.name} (decorator or default that runs code)")
        return ok
    if isinstance(node, ast.ClassDef):
        ok = (
            all(_safe_decorator(d) for d in node.decorator_list)
            and not node.keywords
            and all(_dotted(b) is not None for b in node.bases)
        )
        if ok:
            node.body = [s for s in node.body if _keep(s, dropped, in_class=True)] or [ast.Pass()]
        else:
            dropped.append(f"class {node.name} (metaclass, decorator or computed base)")
        return ok
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _safe_value(node.value)
    if isinstance(node, ast.AnnAssign):
        if isinstance(node.target, ast.Name) and node.value is not None and _safe_value(node.value):
            node.annotation = ast.Constant(None)
            return True
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # docstrings
    return isinstance(node, ast.Pass)


def _to_python(source: str) -> str:
    """Cell text to Python (IPython magics and shell escapes become plain calls, later dropped)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython ships with nbgrader
        return source
    return TransformerManager().transform_cell(source)


def safe_code(source: str) -> tuple[str, list[str]]:
    """Reduce a cell to imports, definitions and literal assignments.

    Returns ``(code, notes)``; notes mention syntax errors and dropped definitions (top-level
    statements that are not definitions are dropped silently: that is the point).
    """
    notes: list[str] = []
    try:
        tree = ast.parse(_to_python(source))
    except SyntaxError as error:
        return "", [f"syntax error (line {error.lineno}): {error.msg}"]
    dropped: list[str] = []
    tree.body = [node for node in tree.body if _keep(node, dropped)]
    notes += [f"ignored {what}" for what in dropped]
    return ast.unparse(ast.fix_missing_locations(tree)), notes


# --------------------------------------------------------------------------------------------
# Planning a notebook: which code runs before each test cell
# --------------------------------------------------------------------------------------------


def plan(source_nb, student_nb) -> dict:
    """The blocks to run and the test cells, in the source notebook's order.

    ``student_nb`` may be None (missing notebook); then every solution is missing.
    """
    student_cells: dict[str, list[str]] = {}
    # Code cells the student added (or edited outside the answer cells), anchored after the
    # nbgrader cell they follow: helpers defined there count, reduced like answers.
    extras: dict[str | None, list[str]] = {}
    plain = {c.source for c in source_nb.cells if c.cell_type == "code" and not nbs.grade_id(c)}
    if student_nb is not None:
        anchor = None
        for cell in student_nb.cells:
            gid = nbs.grade_id(cell)
            if gid:
                anchor = gid
            if cell.cell_type != "code":
                continue
            if gid and nbs.is_solution(cell):
                student_cells.setdefault(gid, []).append(cell.source)
            elif not gid and cell.source not in plain:
                extras.setdefault(anchor, []).append(cell.source)
    blocks: list[dict] = []  # {"label", "code"}
    tests: list[dict] = []  # {"grade_id", "prefix": n_blocks, "code"}
    notes: list[str] = []

    def add_extras(anchor):
        for source in extras.pop(anchor, []):
            code, _ = safe_code(source)
            blocks.append({"label": "a cell you added", "code": code})

    add_extras(None)
    previous = None
    for index, cell in enumerate(source_nb.cells):
        add_extras(previous)
        previous = nbs.grade_id(cell)
        if cell.cell_type != "code":
            continue
        gid = nbs.grade_id(cell) or f"cell {index + 1}"
        if nbs.is_solution(cell):
            versions = student_cells.get(gid)
            if versions is None:
                notes.append(f"solution cell {gid} is missing from the submission")
                continue
            if len(versions) > 1:
                notes.append(f"solution cell {gid} appears {len(versions)} times; all copies run")
            for version in versions:
                code, cell_notes = safe_code(version)
                notes += [f"{gid}: {n}" for n in cell_notes]
                blocks.append({"label": f"your cell {gid}", "code": code})
            continue
        if nbs.is_autograded_test(cell):
            tests.append({"grade_id": gid, "prefix": len(blocks), "code": cell.source})
        code, _ = safe_code(cell.source)
        blocks.append({"label": f"cell {gid}", "code": code})
    for anchor in list(extras):
        add_extras(anchor)
    return {"blocks": blocks, "tests": tests, "notes": notes}


# --------------------------------------------------------------------------------------------
# Running one test cell in a forked child
# --------------------------------------------------------------------------------------------


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


def _child(plan_: dict, test: dict, write_fd: int, workdir: str, memory_mb: int, cpu_s: int):
    """Runs in the forked child; never returns."""
    status = 1
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir(workdir)
        if memory_mb:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
        result = {"passed": False, "error": None, "setup_errors": []}
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        for block in plan_["blocks"][: test["prefix"]]:
            try:
                exec(compile(block["code"], f"<{block['label']}>", "exec"), namespace)
            except BaseException as error:
                result["setup_errors"].append(f"{block['label']}: {_describe(error)}")
        try:
            exec(compile(test["code"], f"<test {test['grade_id']}>", "exec"), namespace)
        except BaseException as error:
            result["error"] = _describe(error)
        else:
            result["passed"] = True
        # The test may not have used guarded_call: check the environment here as well.
        tampered = _tampering()
        if tampered:
            result["passed"] = False
            result["error"] = (
                "IntegrityError: the code under test modified the environment the checks rely "
                f"on: {tampered}"
            )
        payload = json.dumps(result).encode()
        os.write(write_fd, payload)
        status = 0
    except BaseException:  # report harness failures as failures, never as passes
        with contextlib.suppress(BaseException):
            os.write(write_fd, json.dumps({"harness_error": traceback.format_exc()}).encode())
    finally:
        os._exit(status)


def _run_test(plan_: dict, test: dict, timeout: float, memory_mb: int) -> dict:
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryDirectory(prefix="clean-") as workdir:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            os.close(read_fd)
            _child(plan_, test, write_fd, workdir, memory_mb, int(timeout) + 1)
        os.close(write_fd)
        start = time.monotonic()
        chunks, timed_out = [], False
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_fd)
        if timed_out:
            for kill in (
                lambda: os.killpg(pid, signal.SIGKILL),
                lambda: os.kill(pid, signal.SIGKILL),
            ):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill()
        _, wait_status = os.waitpid(pid, 0)
        seconds = round(time.monotonic() - start, 3)
    base = {"grade_id": test["grade_id"], "seconds": seconds}
    if timed_out:
        return {**base, "passed": False, "error": f"timed out after {timeout:g} s (infinite loop?)"}
    try:
        result = json.loads(b"".join(chunks).decode() or "null")
    except ValueError:
        result = None
    if not isinstance(result, dict) or "passed" not in result:
        how = _exit_reason(wait_status, memory_mb)
        if isinstance(result, dict) and "harness_error" in result:
            how = "grader error: " + result["harness_error"].strip().splitlines()[-1]
        return {**base, "passed": False, "error": how}
    if os.waitstatus_to_exitcode(wait_status) != 0:
        return {**base, "passed": False, "error": _exit_reason(wait_status, memory_mb)}
    return {
        **base,
        "passed": bool(result["passed"]),
        "error": result.get("error"),
        "setup_errors": result.get("setup_errors", []),
    }


def _exit_reason(wait_status: int, memory_mb: int) -> str:
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGXCPU:
            return "CPU time limit exceeded (infinite loop?)"
        return f"the test process was killed by {name} (crash or memory limit {memory_mb} MiB)"
    return f"the test process exited early with status {code} (sys.exit / os._exit in your code?)"


def grade_notebook(source: Path, student: Path | None, timeout: float, memory_mb: int) -> dict:
    """Clean re-grade one notebook: ``{"tests": [{grade_id, passed, error, ...}], "notes",
    "error"}``. ``error`` is set when the notebook could not be read at all."""
    source_nb = nbs.read(source)
    student_nb = None
    if student is not None and Path(student).exists():
        try:
            student_nb = nbs.read(student)
        except Exception as error:
            return {
                "tests": [],
                "notes": [],
                "error": f"cannot read the notebook: {_describe(error)}",
            }
    plan_ = plan(source_nb, student_nb)
    tests = [_run_test(plan_, test, timeout, memory_mb) for test in plan_["tests"]]
    return {"tests": tests, "notes": plan_["notes"], "error": None}


# --------------------------------------------------------------------------------------------
# The zygote
# --------------------------------------------------------------------------------------------


_SNAPSHOT: dict[str, dict[str, tuple]] = {}


def _snapshot() -> dict[str, dict[str, tuple]]:
    """Identity of every attribute of numpy, builtins, math and utils modules (the grader's
    own copy, independent of ``utils.checks``, which the code under test could reach)."""
    import types

    out = {}
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        top = name.split(".")[0]
        if name in ("builtins", "math") or (top in ("numpy", "utils") and "._" not in name):
            out[name] = {
                attr: (id(value), id(getattr(value, "__code__", None)))
                for attr, value in list(vars(module).items())
            }
    return out


def _tampering() -> str:
    now = _snapshot()
    for name, before in _SNAPSHOT.items():
        after = now.get(name)
        if after is None:
            return f"module {name} was removed"
        for attr, fingerprint in before.items():
            if after.get(attr) != fingerprint:
                return f"{name}.{attr} was replaced or deleted"
    return ""


def prepare() -> None:
    """Import what test cells use and record the trusted baseline."""
    import importlib
    import pkgutil

    os.environ.setdefault("MPLBACKEND", "Agg")
    import numpy  # noqa: F401

    # What notebooks import at the top, loaded once here instead of in every test process.
    for name in ("matplotlib.pyplot", "IPython.display", "IPython.core.inputtransformer2"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)

    import utils

    for module in pkgutil.walk_packages(utils.__path__, prefix="utils."):
        try:
            importlib.import_module(module.name)
        except Exception as error:  # a broken optional module must not stop grading
            print(f"clean re-grade: cannot import {module.name}: {error}", file=sys.stderr)
    from utils import checks

    checks.seal()
    _SNAPSHOT.update(_snapshot())


def _handle(_state: object, job: dict) -> dict:
    return grade_notebook(
        Path(job["source"]),
        Path(job["student"]) if job.get("student") else None,
        float(job.get("timeout", 20)),
        int(job.get("memory_mb", 0)),
    )


def _failure(error: Exception) -> dict:
    return {"tests": [], "notes": [], "error": f"clean re-grade failed: {_describe(error)}"}


def serve() -> None:
    protocol.serve(prepare, _handle, _failure)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit("usage: python -m grader.clean serve")
