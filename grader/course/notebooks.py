"""Notebook-level helpers: finding assignments, normalising sources, and finding leaks.

Nothing here imports nbgrader, so these helpers are cheap (the pipeline tests and the grading
command use them before the first nbgrader call).

Secrets in a source notebook are

- *solution* regions: the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a
  solution cell (the whole cell when it has no markers, e.g. a written answer);
- *hidden-test* regions: the lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``;
- *mark-scheme* regions: the lines between ``BEGIN MARK SCHEME`` and ``END MARK SCHEME``.

A line *leaks* when it appears in a published text, is significant (see
:func:`significant`) and is not also public, i.e. it does not occur anywhere in the source
outside the secret regions (an instructor may legitimately write ``return out`` both in a
solution and in a worked example) nor in nbgrader's stubs.
"""

from __future__ import annotations

import copy
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

NB_VERSION = 4

# Cell metadata that survives normalisation: nbgrader's own, and tags (nbval reads them).
KEEP_CELL_METADATA = ("nbgrader", "tags")
# Notebook metadata that survives normalisation (the language name only, not its version).
KEEP_NB_METADATA = ("kernelspec",)

# nbgrader's defaults for what replaces a solution (ClearSolutions.code_stub / text_stub).
STUB_LINES = frozenset({"# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"})

_MARKERS = {
    "solution": ("BEGIN SOLUTION", "END SOLUTION"),
    "hidden test": ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
    "mark scheme": ("BEGIN MARK SCHEME", "END MARK SCHEME"),
}
MARKER_RE = re.compile(r"(BEGIN|END) (SOLUTION|HIDDEN TESTS|MARK SCHEME)")


# --------------------------------------------------------------------------------------------
# Course layout
# --------------------------------------------------------------------------------------------


def assignments(source_dir: Path) -> list[str]:
    """Assignment ids: the folders of ``source_dir`` that hold at least one notebook."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        return []
    return sorted(
        p.name
        for p in source_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any(notebook_files(p))
    )


def notebook_files(folder: Path) -> list[Path]:
    """The notebooks of one assignment folder (top level only, checkpoints excluded)."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if p.is_file())


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=NB_VERSION)


def dumps(nb: nbformat.NotebookNode) -> str:
    """The canonical text of a notebook (what ``nbformat.write`` produces)."""
    return nbformat.writes(nb, version=NB_VERSION) + "\n"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_grade(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_autograded_test(cell) -> bool:
    """A test cell scored by running it (grade, not solution, code)."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


def _is_nbgrader_cell(meta: dict) -> bool:
    return any(meta.get(flag) for flag in ("grade", "solution", "locked", "task"))


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a source notebook without outputs or run metadata, nbgrader metadata kept.

    nbgrader metadata with every flag off (left behind by the create-assignment toolbar) is
    dropped: on an ordinary cell it later breaks ``add_missing_cells`` (KeyError 'grade_id').
    """
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        if "nbgrader" in meta and not _is_nbgrader_cell(meta["nbgrader"]):
            del meta["nbgrader"]
        cell["metadata"] = meta
        if cell.cell_type == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    meta = {k: v for k, v in nb.metadata.items() if k in KEEP_NB_METADATA}
    language = nb.metadata.get("language_info", {}).get("name")
    if language:
        meta["language_info"] = {"name": language}
    nb["metadata"] = meta
    return nb


def normalized_text(path: Path) -> str:
    return dumps(normalize(read(path)))


def is_normalized(path: Path) -> bool:
    return Path(path).read_text(encoding="utf-8") == normalized_text(path)


def normalize_file(path: Path) -> bool:
    """Normalise ``path`` in place; True if the file changed."""
    path = Path(path)
    text = normalized_text(path)
    if path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


# --------------------------------------------------------------------------------------------
# Secrets and leaks
# --------------------------------------------------------------------------------------------


def significant(line: str) -> bool:
    """Whether a stripped line can carry a secret: not blank, not a bare delimiter such as
    ``)`` or ``\"\"\"``, not an nbgrader marker or stub."""
    return (
        bool(line)
        and any(ch.isalnum() for ch in line)
        and not MARKER_RE.search(line)
        and line not in STUB_LINES
    )


@dataclass
class Secrets:
    """The secret and the public lines of one source notebook (stripped)."""

    secret: dict[str, set[str]] = field(default_factory=dict)  # kind -> lines
    public: set[str] = field(default_factory=set)

    def leaked_in(self, lines) -> list[tuple[str, str]]:
        """``(kind, line)`` for every secret line that occurs in ``lines``."""
        present = {line.strip() for line in lines}
        found = []
        for kind, secret_lines in self.secret.items():
            for line in sorted(secret_lines & present):
                if line not in self.public:
                    found.append((kind, line))
        return found


def _split_regions(source: str, kind: str) -> tuple[list[str], list[str]]:
    """(inside, outside) lines of the ``kind`` regions of one cell."""
    begin, end = _MARKERS[kind]
    inside, outside, depth = [], [], False
    for line in source.splitlines():
        if begin in line:
            depth = True
        elif end in line:
            depth = False
        elif depth:
            inside.append(line)
        else:
            outside.append(line)
    return inside, outside


def secrets(source_nb: nbformat.NotebookNode) -> Secrets:
    out = Secrets(secret={kind: set() for kind in _MARKERS})
    for cell in source_nb.cells:
        remaining = cell.source
        for kind in ("hidden test", "mark scheme"):
            inside, outside = _split_regions(remaining, kind)
            out.secret[kind].update(s for line in inside if significant(s := line.strip()))
            remaining = "\n".join(outside)
        if is_solution(cell):
            if "BEGIN SOLUTION" in remaining:
                inside, outside = _split_regions(remaining, "solution")
            else:  # the whole cell is replaced by the stub on release
                inside, outside = remaining.splitlines(), []
            out.secret["solution"].update(s for line in inside if significant(s := line.strip()))
            remaining = "\n".join(outside)
        out.public.update(line.strip() for line in remaining.splitlines())
    return out


def notebook_lines(nb: nbformat.NotebookNode) -> list[str]:
    """Every line a reader of ``nb`` can see: cell sources and text outputs."""
    lines: list[str] = []
    for cell in nb.cells:
        lines.extend(cell.source.splitlines())
        for output in cell.get("outputs", []):
            lines.extend(_output_text(output).splitlines())
    return lines


def _output_text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "\n".join([output.get("evalue", ""), *output.get("traceback", [])])
    data = output.get("data", {})
    return "\n".join(str(v) for k, v in data.items() if k.startswith("text/"))


_TAG_RE = re.compile(r"<[^>]+>")


def html_lines(text: str) -> list[str]:
    """The visible lines of an HTML page (tags stripped, entities decoded)."""
    return html.unescape(_TAG_RE.sub("", text)).splitlines()


def markers_in(text: str) -> list[str]:
    """nbgrader region markers present in a text (none may survive a release)."""
    return sorted({m.group(0) for m in MARKER_RE.finditer(text)})


def leaks_in_file(path: Path, source_nb: nbformat.NotebookNode, kinds=None) -> list[str]:
    """Human-readable leak findings for a published file (notebook, HTML or other text)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            lines = notebook_lines(nbformat.reads(text, as_version=NB_VERSION))
        except (json.JSONDecodeError, nbformat.reader.NotJSONError):
            lines = text.splitlines()
    elif path.suffix in (".html", ".htm"):
        lines = html_lines(text)
    else:
        lines = text.splitlines()
    marker_kind = {
        "SOLUTION": "solution",
        "HIDDEN TESTS": "hidden test",
        "MARK SCHEME": "mark scheme",
    }
    found = [
        f"{path}: contains the marker {m!r}"
        for m in markers_in(text)
        if kinds is None or marker_kind[m.split(" ", 1)[1]] in kinds
    ]
    for kind, line in secrets(source_nb).leaked_in(lines):
        if kinds is None or kind in kinds:
            found.append(f"{path}: {kind} line leaked: {line!r}")
    return found
