"""Similarity flags: answer cells that look copied, for a person to judge (never a penalty).

Every code answer cell is reduced to an *AST fingerprint*: the multiset of its sub-trees with

- the names a student chooses (arguments, variables, helper functions, loop and
  comprehension targets) replaced by one placeholder, while the names the code relies on
  (``np``, ``range``, ``softmax``, attributes such as ``.shape`` or ``.T``) are kept;
- comments, formatting and docstrings gone (they are not in the AST);
- the statements of every block sorted, so independent lines in another order look the same;
- every sub-tree that also occurs in the released template of that cell removed (the
  signature, the stub), so an untouched or nearly empty notebook matches nothing.

Two submissions of an assignment are compared by the weighted Jaccard similarity of their
fingerprints (a sub-tree weighs its number of nodes, so a long shared expression counts more
than a shared ``x.shape``); each answer function is also compared with every function of the
``utils`` reference that the student bundle ships. A pair is flagged when the similarity
reaches :data:`THRESHOLD` *and* the shared code is substantial (:data:`MIN_SHARED` nodes), so
two short one-line answers are not flagged for being short.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

THRESHOLD = 0.8  # weighted Jaccard similarity at which a pair is flagged
MIN_SHARED = 40  # AST nodes of shared, non-template code below which nothing is flagged
MIN_NODES = 3  # sub-trees smaller than this (a name, a constant) are not features
# Sub-trees nested deeper than this are not walked (the walk is recursive): each counts as one
# opaque node, and the report says which cell held one. Real answers stay far below it.
MAX_AST_DEPTH = 100
PLACEHOLDER = "_"
BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
# Lines that are IPython, not Python (magics, shell escapes): dropped before parsing.
_IPYTHON_LINE = re.compile(r"^\s*[%!]")
# Parts of utils that are not reference solutions (checks, exercise harness).
REFERENCE_SKIP = ("exercises", "checks.py", "_validate.py", "__init__.py")


@dataclass(frozen=True)
class Flag:
    """Two pieces of code that look alike: ``a`` and ``b`` are ``student`` or ``utils:path:fn``."""

    assignment: str
    a: str
    b: str
    similarity: float
    shared: int  # AST nodes of shared (non-template) code
    where: str  # which answer cells / functions

    def describe(self) -> str:
        return (
            f"{self.assignment}: {self.a} and {self.b} are {self.similarity:.0%} alike "
            f"({self.shared} shared AST nodes; {self.where}) — for a person to judge"
        )


# --------------------------------------------------------------------------------------------
# Fingerprints
# --------------------------------------------------------------------------------------------


def parse(source: str) -> ast.Module | None:
    """The cell's AST, or None when it is not Python (a syntax error is not our business)."""
    text = "\n".join("" if _IPYTHON_LINE.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # too deep for Python's own parser: not comparable either


def _heights(tree: ast.AST) -> dict[int, int]:
    """``id(node) -> height`` of every node of ``tree`` (a leaf is 1), without recursion."""
    heights: dict[int, int] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            below = [heights[id(c)] for c in ast.iter_child_nodes(node)]
            heights[id(node)] = 1 + max(below, default=0)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in ast.iter_child_nodes(node))
    return heights


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the author chose: arguments, assignment/loop targets, defined functions."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or (
            isinstance(node, ast.ExceptHandler) and node.name
        ):
            names.add(node.name)
    return names


def _body(nodes: list[ast.stmt]) -> list[ast.stmt]:
    """A block without its docstring and without ``pass``."""
    out = list(nodes)
    first = out[0] if out else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        out = out[1:] if isinstance(first.value.value, str) else out
    return [n for n in out if not isinstance(n, ast.Pass)]


class _Canon:
    """Canonical text of every sub-tree, and its size in nodes."""

    def __init__(self, bound: set[str], heights: dict[int, int]):
        self.bound = bound
        self.heights = heights
        self.too_deep = 0  # sub-trees not walked (deeper than MAX_AST_DEPTH)
        self.features: Counter[str] = Counter()
        self.weights: dict[str, int] = {}

    def visit(self, node, block: bool = False) -> tuple[str, int]:
        if isinstance(node, list):  # a block's statements in any order; other lists in order
            parts = [self.visit(n) for n in node]
            texts = sorted(p[0] for p in parts) if block else [p[0] for p in parts]
            return "[" + ",".join(texts) + "]", sum(p[1] for p in parts)
        if not isinstance(node, ast.AST):
            return repr(node), 0
        if self.heights.get(id(node), 0) > MAX_AST_DEPTH:
            self.too_deep += 1
            return "TooDeep", 1
        if isinstance(node, ast.Name):
            return (PLACEHOLDER if node.id in self.bound else node.id), 1
        if isinstance(node, ast.arg):
            return PLACEHOLDER, 1
        if isinstance(node, ast.Constant):
            return repr(node.value), 1
        if isinstance(node, ast.Attribute):
            inner, size = self.visit(node.value)
            return f"{inner}.{node.attr}", size + 1
        parts, size = [], 1
        head, head_size = [], 1  # the node without its blocks (a compound statement's header)
        for name, value in ast.iter_fields(node):
            if name in ("ctx", "type_comment", "kind"):
                continue
            if name == "name" and isinstance(value, str):
                value = PLACEHOLDER if value in self.bound else value
            block = name in BLOCKS and isinstance(value, list)
            text, n = self.visit(_body(value) if block else value, block)
            parts.append(f"{name}={text}")
            size += n
            if name not in BLOCKS:
                head.append(parts[-1])
                head_size += n
        kind = type(node).__name__
        if isinstance(node, ast.stmt | ast.expr):
            # A block's statements are features of their own, so an edit in one line changes
            # the features of that line (and of its header), not of the whole function.
            self.add(f"{kind}(" + ",".join(head) + ")", head_size)
        return f"{kind}(" + ",".join(parts) + ")", size

    def add(self, text: str, size: int) -> None:
        if size >= MIN_NODES:
            key = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
            self.features[key] += 1
            self.weights[key] = size


@dataclass
class Fingerprint:
    features: Counter[str]
    weights: dict[str, int]
    too_deep: int = 0  # sub-trees nested too deeply to compare (each one opaque node)

    @property
    def size(self) -> int:
        return sum(self.weights[k] * n for k, n in self.features.items())

    def minus(self, other: Fingerprint) -> Fingerprint:
        kept = Counter({k: n for k, n in self.features.items() if k not in other.features})
        return Fingerprint(kept, {k: self.weights[k] for k in kept}, self.too_deep)

    def merged(self, other: Fingerprint) -> Fingerprint:
        return Fingerprint(
            self.features + other.features,
            {**self.weights, **other.weights},
            self.too_deep + other.too_deep,
        )


EMPTY = Fingerprint(Counter(), {})


def fingerprint(source: str | ast.AST, template: str | None = None) -> Fingerprint:
    """The fingerprint of ``source``, minus every sub-tree also found in ``template``."""
    tree = parse(source) if isinstance(source, str) else source
    if tree is None:
        return EMPTY
    canon = _Canon(_bound_names(tree), _heights(tree))
    canon.visit(_body(tree.body) if isinstance(tree, ast.Module) else tree, block=True)
    result = Fingerprint(canon.features, canon.weights, canon.too_deep)
    if template:
        result = result.minus(fingerprint(template))
    return result


def similarity(a: Fingerprint, b: Fingerprint) -> tuple[float, int]:
    """(weighted Jaccard similarity, shared nodes) of two fingerprints."""
    keys = set(a.features) | set(b.features)
    if not keys:
        return 0.0, 0
    weight = {**a.weights, **b.weights}
    shared = sum(min(a.features[k], b.features[k]) * weight[k] for k in keys)
    total = sum(max(a.features[k], b.features[k]) * weight[k] for k in keys)
    return shared / total, shared


# --------------------------------------------------------------------------------------------
# The utils reference
# --------------------------------------------------------------------------------------------


def reference_functions(utils_dir: Path) -> dict[str, ast.FunctionDef]:
    """``"utils/rnn.py:rnn_forward" -> its AST`` for every top-level function of the package."""
    utils_dir = Path(utils_dir)
    found = {}
    for path in sorted(utils_dir.rglob("*.py")):
        rel = path.relative_to(utils_dir)
        if any(part in REFERENCE_SKIP for part in rel.parts):
            continue
        tree = parse(path.read_text(encoding="utf-8"))
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef):
                found[f"{utils_dir.name}/{rel.as_posix()}:{node.name}"] = node
    return found


def _functions(source: str) -> list[ast.FunctionDef]:
    tree = parse(source)
    return [n for n in (tree.body if tree else []) if isinstance(n, ast.FunctionDef)]


# --------------------------------------------------------------------------------------------
# Comparing a class
# --------------------------------------------------------------------------------------------


def compare(
    assignment: str,
    answers: dict[str, dict[str, str]],
    templates: dict[str, str],
    references: dict[str, ast.FunctionDef] | None = None,
    threshold: float = THRESHOLD,
    min_shared: int = MIN_SHARED,
    notes: list[str] | None = None,
) -> list[Flag]:
    """Flags for one assignment.

    ``answers``: student -> answer cell id -> source (code answer cells only);
    ``templates``: answer cell id -> the released source of that cell;
    ``references``: from :func:`reference_functions` (None: no reference comparison);
    ``notes``: where to say which answer cells could not be compared in full.
    """
    flags: list[Flag] = []
    prints: dict[str, Fingerprint] = {}
    cells: dict[str, list[str]] = {}
    for student, by_cell in answers.items():
        total = EMPTY
        for gid, source in sorted(by_cell.items()):
            fp = fingerprint(source, templates.get(gid))
            if fp.too_deep and notes is not None:
                notes.append(
                    f"similarity: {assignment} {student} answer cell {gid} holds code nested "
                    f"more than {MAX_AST_DEPTH} levels deep; that part was not compared"
                )
            if fp.features:
                total = total.merged(fp)
                cells.setdefault(student, []).append(gid)
        prints[student] = total
    for a, b in combinations(sorted(prints), 2):
        score, shared = similarity(prints[a], prints[b])
        if score >= threshold and shared >= min_shared:
            common = sorted(set(cells.get(a, [])) & set(cells.get(b, [])))
            where = "answer cells " + ", ".join(common) if common else "across answer cells"
            flags.append(Flag(assignment, a, b, round(score, 3), shared, where))
    if references:
        ref_prints = {name: fingerprint(node) for name, node in references.items()}
        template_print = EMPTY
        for source in templates.values():
            template_print = template_print.merged(fingerprint(source))
        for student, by_cell in sorted(answers.items()):
            for gid, source in sorted(by_cell.items()):
                for function in _functions(source):
                    fp = fingerprint(function).minus(template_print)
                    for name, ref in ref_prints.items():
                        score, shared = similarity(fp, ref.minus(template_print))
                        if score >= threshold and shared >= min_shared:
                            flags.append(
                                Flag(
                                    assignment,
                                    student,
                                    name,
                                    round(score, 3),
                                    shared,
                                    f"answer cell {gid}, function {function.name}",
                                )
                            )
    return flags
