"""What of a notebook grading runs, in the source's order: the student's cells as they are,
the instructor's reduced to definitions.

The student's answer cells (and code cells the student added) run in the student's sandbox
exactly as their kernel ran them, top-level code included (constants, tables, lambdas,
classes, helpers, whatever Python allows): grading must see what the student saw. That is
safe because only their own sandbox runs it and the verdicts are computed outside on plain
data (:mod:`grader.verdicts.runner`). The instructor's non-answer cells keep the rule that
``grader check`` verifies: :func:`safe_code` keeps only imports, function and class
definitions and literal assignments (demos and plots are dropped). :func:`plan` lays out, in
the source notebook's order, the *source's* non-solution code cells, the *student's* answer
cells (and cells the student added) and the test cells *from the source* (hidden tests
included; the student's copy of a test cell is never used).
"""

from __future__ import annotations

import ast

from grader.course import notebooks as nbs

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


def student_code(source: str) -> str:
    """A student's cell as their kernel ran it (IPython's magics become ``get_ipython()``
    calls, which do nothing when grading). A syntax error stays in the code: running the
    cell reports it with its line, as the kernel did."""
    try:
        return _to_python(source)
    except Exception:  # IPython could not transform it: Python will name the problem
        return source


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


def _short(anchor: str) -> str:
    """A cell's name in a message: its grade id, or the first line of a course cell."""
    first = anchor.strip().splitlines()[0] if anchor.strip() else "an empty cell"
    return anchor if "\n" not in anchor and len(anchor) < 40 else f"the cell `{first[:40]}`"


def plan(source_nb, student_nb) -> dict:
    """The blocks to run and the test cells, in the source notebook's order.

    ``student_nb`` may be None (missing notebook); then every solution is missing.
    """
    student_cells: dict[str, list[str]] = {}
    # Code cells the student added (or edited outside the answer cells), anchored after the
    # course cell they follow (an nbgrader cell, or a code cell as released): they run there.
    extras: dict[str | None, list[str]] = {}
    plain = {c.source for c in source_nb.cells if c.cell_type == "code" and not nbs.grade_id(c)}

    def key(cell) -> str | None:  # where a cell sits: its grade id, or a course cell's text
        return nbs.grade_id(cell) or (cell.source if cell.source in plain else None)

    if student_nb is not None:
        anchor = None
        for cell in student_nb.cells:
            gid = nbs.grade_id(cell)
            if cell.cell_type == "code" and gid and nbs.is_solution(cell):
                student_cells.setdefault(gid, []).append(cell.source)
            elif cell.cell_type == "code" and not gid and cell.source not in plain:
                extras.setdefault(anchor, []).append(cell.source)
            anchor = key(cell) or anchor
    blocks: list[dict] = []  # {"label", "code", "student": whether the student wrote it}
    tests: list[dict] = []  # {"grade_id", "prefix": n_blocks, "code"}
    notes: list[str] = []

    def add_extras(anchor):
        where = f" after {_short(anchor)}" if anchor else " at the top"
        for source in extras.pop(anchor, []):
            label = f"a cell you added{where}"
            blocks.append({"label": label, "code": student_code(source), "student": True})

    add_extras(None)
    previous = None
    for index, cell in enumerate(source_nb.cells):
        add_extras(previous)
        previous = key(cell) or previous
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
                code = student_code(version)
                blocks.append({"label": f"your cell {gid}", "code": code, "student": True})
            continue
        if nbs.is_autograded_test(cell):
            tests.append({"grade_id": gid, "prefix": len(blocks), "code": cell.source})
        code, _ = safe_code(cell.source)
        blocks.append({"label": f"cell {gid}", "code": code, "student": False})
    for anchor in list(extras):
        add_extras(anchor)
    return {"blocks": blocks, "tests": tests, "notes": notes}
