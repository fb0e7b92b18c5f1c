"""Reading a class's submissions in whatever shape they arrive, and laying them out for nbgrader.

Accepted inputs (a folder or a ``.zip`` of one; a single wrapping folder inside the zip is
fine). ``A`` is an assignment id such as ``01_notation``, ``NB`` a notebook name such as
``notation``:

=======================================  ==================================================
``STUDENT/A/NB.ipynb``                   nbgrader's ``submitted/`` layout (``timestamp.txt``
                                         next to the notebook is kept)
``STUDENT/NB.ipynb`` or ``STUDENT/A.ipynb``  one folder per student
``STUDENT_NB.ipynb`` or ``STUDENT_A.ipynb``  a flat folder (``-`` works instead of ``_``)
=======================================  ==================================================

Student ids follow :data:`grader.course.layout.STUDENT_ID_RULE` (lowercase). When an
assignment has a single notebook, a student folder holding exactly one notebook under another
name (``notation (1).ipynb``) is accepted and noted. Anything else is reported with the reason
and the expected name.

Each notebook is then checked and *repaired* before nbgrader sees it: a file that is not a
notebook is refused with the reason; nbgrader metadata that a student edited (grade/locked
flags, points, ids) is restored from the release, duplicated test cells are removed, extra
copies of a solution cell lose their metadata (the last copy is graded, as in the kernel), and
a changed kernelspec is reset. Every repair becomes a note in the report.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
import stat
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course import notebooks as nbs
from grader.course.layout import STUDENT_ID_RE as STUDENT_RE
from grader.intake import term as term_mod
from grader.intake.term import student_id_problem

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
MAX_ZIP_BYTES = 2 * 1024**3
MAX_NBGRADER_FILE_BYTES = 4096  # timestamp.txt, submission_secret.txt
IGNORED_PARTS = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store"}
# nbgrader's own files in STUDENT/ASSIGNMENT/: kept with the submission (release_feedback needs
# both; timestamp.txt is the submission time).
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's own
RECEIVED_FILE = "received.txt"  # the grader's own: when the submission reached the instructor


@dataclass
class NotebookIntake:
    path: Path | None = None  # the student's file (None: missing)
    staged: Path | None = None  # the repaired copy nbgrader grades
    error: str | None = None  # why it cannot be graded
    notes: list[str] = field(default_factory=list)
    text: str | None = None  # the repaired notebook's text, written to ``staged``


@dataclass
class Intake:
    # (student, assignment) -> notebook name -> NotebookIntake
    submissions: dict[tuple[str, str], dict[str, NotebookIntake]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # files that could not be placed
    # Assignments someone in the whole class submitted (also when only a shard is staged).
    assignments: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # newer copy already staged
    # student -> why each of their files could not be placed (reported; never a grade)
    unplaced: dict[str, list[str]] = field(default_factory=dict)
    # (student, assignment) -> why a newer copy could not be graded (the staged one stays)
    ungradable_newer: dict[tuple[str, str], str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Locating files
# --------------------------------------------------------------------------------------------


class RefusedFile(Exception):
    """A file intake does not take (the message says why)."""


def _refusal(st: os.stat_result) -> str | None:
    """Why a file with this ``lstat`` is not taken (None: a regular file with one name)."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "a symbolic link; only regular files are taken (submit the file itself)"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if st.st_nlink > 1:
        return f"a hard link (one file with {st.st_nlink} names); submit a copy of the file"
    return None


def read_regular(root: Path, path: Path, limit: int) -> bytes:
    """The bytes of ``path`` under ``root``, opened without following any link on the way
    (every folder and the file itself with ``O_NOFOLLOW``, relative to its parent), and only
    if it is a regular file with one name of at most ``limit`` bytes; else
    :class:`RefusedFile`."""
    rel = Path(path).relative_to(root)
    if not rel.parts or ".." in rel.parts:
        raise RefusedFile("not a file under the submissions folder")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for part in rel.parts[:-1]:
            try:
                fds.append(os.open(part, flags | os.O_DIRECTORY, dir_fd=fds[-1]))
            except OSError:
                raise RefusedFile(f"its folder {part!r} is not a plain folder") from None
        try:  # O_NONBLOCK: a FIFO put there after the walk cannot block the open
            fds.append(os.open(rel.parts[-1], flags | os.O_NONBLOCK, dir_fd=fds[-1]))
        except OSError as error:
            raise RefusedFile(f"cannot be opened as a plain file ({error.strerror})") from None
        st = os.fstat(fds[-1])
        why = _refusal(st)
        if why:
            raise RefusedFile(why)
        if st.st_size > limit:
            raise RefusedFile(f"too large ({st.st_size} bytes; the limit is {limit})")
        chunks, total = [], 0
        while chunk := os.read(fds[-1], 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise RefusedFile(f"too large (more than {limit} bytes)")
        return b"".join(chunks)
    finally:
        for fd in fds:
            os.close(fd)


def regular_files(root: Path, skip_hidden: bool = True) -> tuple[list[Path], list[str]]:
    """:func:`walk_regular` with each refusal as one line ``NAME: refused (why)``."""
    files, refused = walk_regular(root, skip_hidden)
    return files, [f"{path.relative_to(root)}: refused ({why})" for path, why in refused]


def walk_regular(root: Path, skip_hidden: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every regular file under ``root`` (walked without following links), and one line per
    thing refused, with its name and why: symbolic links (to files or folders), devices,
    FIFOs, sockets, files with more than one name (hard links) and anything resolving outside
    ``root``."""
    root = Path(root)
    real_root = os.path.realpath(root)
    files, refused = [], []
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            refused.append((folder, f"cannot be read ({error.strerror})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(root)
            if skip_hidden and any(p in IGNORED_PARTS or p.startswith(".") for p in rel.parts):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError as error:
                refused.append((path, f"cannot be read: {error.strerror}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(path)
                continue
            why = _refusal(st)
            if why is None and not os.path.realpath(path).startswith(real_root + os.sep):
                why = "resolves outside the submissions folder"
            if why:
                refused.append((path, why))
            else:
                files.append(path)
    return sorted(files), refused


def extract(archive: Path, target: Path, tz=None) -> list[str]:
    """Unzip safely, keeping entry times; returns one line per entry refused, with its name
    and why (symbolic links, absolute or ``..`` paths, names that are not plain). A size
    limit applies to the whole archive."""
    refused = []
    with zipfile.ZipFile(archive) as zf:
        total = 0
        for info in zf.infolist():
            name = info.filename
            parts = Path(name).parts
            if any(p in IGNORED_PARTS for p in parts):
                continue
            mode = info.external_attr >> 16
            why = None
            if name.startswith("/") or "\\" in name or (parts and ":" in parts[0]):
                why = "an absolute path"
            elif ".." in parts:
                why = "a path with '..' (outside the submission)"
            elif stat.S_ISLNK(mode):
                why = "a symbolic link; only regular files are taken (submit the file itself)"
            elif mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and stat.S_IFMT(mode):
                why = "not a regular file"
            if why:
                refused.append(f"{name}: refused ({why})")
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise ValueError(f"{archive}: more than {MAX_ZIP_BYTES >> 30} GiB uncompressed")
            path = zf.extract(info, target)
            if not info.is_dir():  # keep the entry's time: it is the submission time we know
                when = term_mod.zip_entry_time(info, tz).timestamp()
                os.utime(path, (when, when))
    return refused


def copy_tree(source: Path, target: Path) -> list[str]:
    """Copy the regular files under ``source`` to ``target`` (hidden ones too, times kept);
    returns the refusals of :func:`regular_files`, which are not copied."""
    source = Path(source)
    files, refused = regular_files(source, skip_hidden=False)
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            out.write_bytes(read_regular(source, path, MAX_ZIP_BYTES))
        except RefusedFile as why:
            refused.append(f"{path.relative_to(source)}: refused ({why})")
            continue
        st = os.lstat(path)
        os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    return refused


class _Layout:
    def __init__(self, expected: dict[str, list[str]]):
        self.expected = expected  # assignment -> notebook names
        # names a notebook can go by: NB, or A when A has one notebook
        self.keys: dict[str, tuple[str, str]] = {}
        for assignment, names in expected.items():
            for name in names:
                self.keys.setdefault(name, (assignment, name))
            if len(names) == 1:
                self.keys[assignment] = (assignment, names[0])

    def place(self, rel: Path) -> tuple[str, str, str] | str:
        """(student, assignment, notebook) for a notebook path, or the reason it fails."""
        parts, stem = rel.parts, rel.stem
        if len(parts) == 3:
            student, assignment = parts[0], parts[1]
            if assignment not in self.expected:
                known = sorted(self.expected)
                return f"unknown assignment folder {assignment!r} (expected one of {known})"
            if stem in self.expected[assignment]:
                return student, assignment, stem
            return f"unexpected notebook name {rel.name!r} (expected {self.expected[assignment]})"
        if len(parts) == 2:
            if stem in self.keys:
                return (parts[0], *self.keys[stem])
            return f"unexpected notebook name {rel.name!r} (expected one of {sorted(self.keys)})"
        if len(parts) == 1:
            for key in sorted(self.keys, key=len, reverse=True):
                for sep in ("_", "-"):
                    if stem.endswith(sep + key) and len(stem) > len(key) + 1:
                        return (stem[: -len(key) - 1], *self.keys[key])
            return (
                f"cannot tell the student and notebook from {rel.name!r}: name flat files "
                f"STUDENT_NOTEBOOK.ipynb with NOTEBOOK one of {sorted(self.keys)}"
            )
        return f"too deep: {rel} (expected STUDENT/ASSIGNMENT/NOTEBOOK.ipynb)"


@dataclass
class Located:
    found: dict = field(default_factory=dict)  # (student, assignment, notebook) -> [paths]
    timestamps: dict = field(default_factory=dict)  # (student, assignment) -> timestamp.txt
    extras: dict = field(default_factory=dict)  # (student, assignment) -> [nbgrader's files]
    problems: list[str] = field(default_factory=list)
    unplaced: dict = field(default_factory=dict)  # student -> [why each file was not placed]
    root: Path | None = None  # the folder the paths are under (files are read beneath it)
    refused: dict = field(default_factory=dict)  # (student, assignment) -> [why, per file]


def locate(folder: Path, expected: dict[str, list[str]]) -> tuple[dict, dict, list[str]]:
    """Map files under ``folder`` to (student, assignment, notebook)."""
    located = locate_all(folder, expected)
    return located.found, located.timestamps, located.problems


def locate_all(
    folder: Path,
    expected: dict[str, list[str]],
    selected: set[str] | None = None,
    signatures: dict[tuple[str, str], frozenset[str]] | None = None,
) -> Located:
    """Like :func:`locate`, keeping nbgrader's ``submission_secret.txt`` and, per student, the
    files that could not be placed (:attr:`Located.unplaced`: the student's problem, never a
    grade). With ``selected``, notebooks of the other assignments are recognised and skipped,
    never graded as one of the selected ones. A notebook whose name does not say where it goes
    is placed by :func:`_place_leftovers` the same way with or without ``selected``;
    ``signatures`` (the grade ids of each released notebook) let it recognise a notebook by
    its cells."""
    layout = _Layout(expected)
    selected = set(expected) if selected is None else set(selected)
    out = Located(root=Path(folder))
    leftovers: dict[str, list[Path]] = {}  # student folder -> unplaced notebooks
    skipped: dict[str, list[str]] = {}
    named: set[tuple[str, str, str]] = set()  # correctly named, selected or not
    files, refused = walk_regular(folder)
    for path, why in refused:
        rel = path.relative_to(folder)
        out.problems.append(f"{rel}: refused ({why})")
        placed = layout.place(rel) if rel.suffix == ".ipynb" else None
        if isinstance(placed, tuple) and STUDENT_RE.match(placed[0]) and placed[1] in selected:
            out.refused.setdefault(placed[:2], []).append(f"{rel.name} refused: {why}")
    for path in files:
        rel = path.relative_to(folder)
        if path.name in NBGRADER_FILES and len(rel.parts) == 3:
            key = (rel.parts[0], rel.parts[1])
            if path.name == "timestamp.txt":
                out.timestamps[key] = path
            else:
                out.extras.setdefault(key, []).append(path)
            continue
        if path.suffix != ".ipynb":
            out.problems.append(f"{rel}: ignored (not a .ipynb file)")
            continue
        placed = layout.place(rel)
        if isinstance(placed, str):
            if len(rel.parts) in (2, 3):
                leftovers.setdefault(str(Path(*rel.parts[:-1])), []).append(path)
            else:
                out.problems.append(f"{rel}: {placed}")
            continue
        student = placed[0]
        problem = student_id_problem(student)
        if problem:
            out.problems.append(f"{rel}: {problem}")
            continue
        named.add(placed)
        if placed[1] not in selected:
            skipped.setdefault(placed[1], []).append(str(rel))
            continue
        out.found.setdefault(placed, []).append(path)
    # Notebooks whose names do not say where they go: placed the same way whatever
    # --assignment says (by their cells, then by their name), or reported for the student.
    _place_leftovers(out, folder, layout, leftovers, selected, skipped, named, signatures)
    for assignment, files in sorted(skipped.items()):
        out.problems.append(
            f"skipped {len(files)} notebook(s) of {assignment} (not graded in this run: "
            f"--assignment {' '.join(sorted(selected))}): {', '.join(files[:5])}"
            + (" ..." if len(files) > 5 else "")
        )
    return out


def grade_ids_of(raw: bytes) -> frozenset[str]:
    """The nbgrader grade ids of a notebook's cells (empty if it is not a notebook)."""
    try:
        data = json.loads(raw.decode("utf-8"))
        cells = data.get("cells", []) if isinstance(data, dict) else []
        ids = set()
        for cell in cells if isinstance(cells, list) else []:
            meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
            gid = (meta.get("nbgrader") or {}).get("grade_id") if isinstance(meta, dict) else None
            if isinstance(gid, str) and gid:
                ids.add(gid)
        return frozenset(ids)
    except (UnicodeDecodeError, ValueError, AttributeError):
        return frozenset()


def _guess(
    rel: Path,
    ids: frozenset[str],
    candidates: list[tuple[str, str]],
    signatures: dict[tuple[str, str], frozenset[str]],
) -> tuple[tuple[str, str] | None, str]:
    """Which of ``candidates`` (assignment, notebook) a misnamed notebook is, and how it was
    told; (None, why not) when it cannot be told. Never depends on --assignment."""
    overlap = {c: len(ids & signatures.get(c, frozenset())) for c in candidates}
    best = max(overlap.values(), default=0)
    if best:
        top = [c for c, n in overlap.items() if n == best]
        if len(top) == 1:
            return top[0], f"recognised by its cells ({best} of its graded cells)"
    stem = rel.stem.lower()
    by_name = [c for c in candidates if c[1].lower() in stem or c[0].lower() in stem]
    if len(by_name) == 1:
        return by_name[0], "recognised by its name"
    if len(candidates) == 1:
        return candidates[0], "the only notebook of its assignment folder"
    return None, "its cells and its name fit no single notebook of the course"


def _place_leftovers(out, folder, layout, leftovers, selected, skipped, named, signatures):
    """Place each notebook whose name is not a course notebook's: by its cells (the grade ids
    of the release), then by a course notebook's name inside its own, then (in an assignment's
    folder) as that assignment's only notebook. What cannot be placed, or would compete with
    another file for the same notebook, is reported for the student and touches no grade.
    Only then is ``selected`` looked at: a placed notebook of another assignment is skipped."""
    signatures = signatures or {}
    guesses: dict[tuple[str, str, str], list[tuple[Path, str]]] = {}
    for where, paths in leftovers.items():
        parts = Path(where).parts
        student = parts[0]
        problem = student_id_problem(student)
        if problem:
            out.problems += [f"{p.relative_to(folder)}: {problem}" for p in paths]
            continue
        in_folder = len(parts) == 2 and parts[1] in layout.expected
        assignments = [parts[1]] if in_folder else sorted(layout.expected)
        candidates = [(a, n) for a in assignments for n in layout.expected[a]]
        for path in paths:
            rel = path.relative_to(folder)
            try:
                ids = grade_ids_of(read_regular(folder, path, MAX_NOTEBOOK_BYTES))
            except RefusedFile:
                ids = frozenset()
            target, how = _guess(rel, ids, candidates, signatures)
            if target is None:
                names = ", ".join(f"{n}.ipynb" for _a, n in candidates[:3])
                more = ", ..." if len(candidates) > 3 else ""
                out.problems.append(f"{rel}: {layout.place(rel)}")
                out.unplaced.setdefault(student, []).append(
                    f"misnamed file {rel.name!r}: {how}, so it was not graded (name it after "
                    f"the notebook it answers: {names}{more})"
                )
                continue
            guesses.setdefault((student, *target), []).append((path, how))
    for (student, assignment, name), paths in sorted(guesses.items()):
        rels = [p.relative_to(folder) for p, _how in paths]
        if (student, assignment, name) in named or len(paths) > 1:
            why = (
                f"{name}.ipynb was also handed in under its own name"
                if (student, assignment, name) in named
                else f"{len(paths)} misnamed files look like {assignment}/{name}.ipynb"
            )
            for rel in rels:
                out.problems.append(f"{rel}: not graded ({why})")
                out.unplaced.setdefault(student, []).append(
                    f"misnamed file {rel.name!r} looks like {assignment}/{name}.ipynb but was "
                    f"not graded: {why}; rename the one to grade {name}.ipynb"
                )
            continue
        (path, how), rel = paths[0], rels[0]
        if assignment not in selected:
            skipped.setdefault(assignment, []).append(f"{rel} (as {name}.ipynb)")
            continue
        out.found.setdefault((student, assignment, name), []).append(path)
        out.problems.append(f"{rel}: graded as {assignment}/{name}.ipynb (renamed notebook, {how})")


_safe_extract = extract  # the name the tests knew


# --------------------------------------------------------------------------------------------
# Checking and repairing one notebook
# --------------------------------------------------------------------------------------------


# Lines only the instructor's source notebooks hold (the release has them removed): a
# submission with them is the instructor's file, however the student got it. (Solution
# markers are not among them: a student may keep or type them around an answer.)
SOURCE_MARKERS = (b"### BEGIN HIDDEN TESTS", b"=== BEGIN MARK SCHEME ===")


def load(path: Path, raw: bytes | None = None) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The notebook (from ``raw``, else read from ``path``), or the reason it cannot be
    read."""
    if raw is None:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return (
                None,
                f"file too large ({size >> 20} MiB; the limit is {MAX_NOTEBOOK_BYTES >> 20} MiB)",
            )
        raw = path.read_bytes()
    if any(marker in raw for marker in SOURCE_MARKERS):
        return None, (
            "refused: it holds the instructor's source notebook (hidden tests or a mark "
            "scheme, which the released notebook does not have)"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not a notebook (not UTF-8 text; a binary file renamed .ipynb?)"
    except json.JSONDecodeError as error:
        return None, f"not a notebook (invalid JSON at line {error.lineno}: {error.msg})"
    if not isinstance(data, dict) or "cells" not in data:
        return None, "not a notebook (JSON without a 'cells' list)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(raw.decode("utf-8"), as_version=nbs.NB_VERSION)
            nbformat.validate(nb)
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"not a valid notebook ({first[:200]})"
    return nb, None


def _as_type(cell, cell_type: str):
    if cell.cell_type == cell_type:
        return cell
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    new = make(source=cell.source)
    if "id" in cell:
        new["id"] = cell["id"]
    new["metadata"] = cell.get("metadata", {})
    return new


def repair(nb, release_nb) -> tuple[nbformat.NotebookNode, list[str]]:
    """Restore what a student must not change; returns (notebook, notes)."""
    notes: list[str] = []
    nb = copy.deepcopy(nb)
    release_cells = {nbs.grade_id(c): c for c in release_nb.cells if nbs.grade_id(c)}
    # Which copy of a repeated grade id keeps its metadata: the last for solutions (the
    # kernel runs every copy, so the last definition is the one in force), else the first.
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(nb.cells):
        gid = nbs.grade_id(cell)
        if gid:
            positions.setdefault(gid, []).append(index)
    keep_index = {}
    for gid, where in positions.items():
        release_cell = release_cells.get(gid)
        is_sol = release_cell is not None and nbs.is_solution(release_cell)
        keep_index[gid] = where[-1] if is_sol else where[0]
    cells = []
    for index, cell in enumerate(nb.cells):
        gid = nbs.grade_id(cell)
        if not gid:
            cells.append(cell)
            continue
        release_cell = release_cells.get(gid)
        if release_cell is None:
            cell.metadata.pop("nbgrader", None)
            notes.append(
                f"cell {gid!r} is not in the assignment; its nbgrader metadata was removed"
            )
            cells.append(cell)
            continue
        if index != keep_index[gid]:
            if nbs.is_solution(release_cell):
                cell.metadata.pop("nbgrader", None)
                notes.append(f"solution cell {gid} was duplicated; the last copy is graded")
                cells.append(cell)
            else:
                notes.append(f"cell {gid} was duplicated; the extra copy was removed")
            continue
        if cell.cell_type != release_cell.cell_type:
            notes.append(
                f"cell {gid} was changed to {cell.cell_type}; restored to {release_cell.cell_type}"
            )
            cell = _as_type(cell, release_cell.cell_type)
        if cell.metadata.get("nbgrader") != release_cell.metadata.get("nbgrader"):
            notes.append(f"nbgrader metadata of cell {gid} was edited; restored from the release")
            cell.metadata["nbgrader"] = copy.deepcopy(release_cell.metadata["nbgrader"])
        for flag in ("editable", "deletable"):
            if flag in release_cell.metadata:
                cell.metadata[flag] = release_cell.metadata[flag]
        if not nbs.is_solution(release_cell) and cell.source != release_cell.source:
            notes.append(f"locked cell {gid} was edited; the original is graded")
        cells.append(cell)
    nb.cells = cells
    present = {nbs.grade_id(c) for c in cells if nbs.grade_id(c)}
    for gid, release_cell in release_cells.items():
        if gid not in present:
            what = "solution cell" if nbs.is_solution(release_cell) else "cell"
            action = "scores 0" if nbs.is_solution(release_cell) else "is put back and run"
            notes.append(f"{what} {gid} was deleted; it {action}")
    want = release_nb.metadata.get("kernelspec")
    if want and nb.metadata.get("kernelspec") != want:
        got = (nb.metadata.get("kernelspec") or {}).get("name")
        notes.append(f"kernelspec {got!r} reset to {want.get('name')!r}")
        nb.metadata["kernelspec"] = copy.deepcopy(want)
    return nb, notes


# --------------------------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------------------------


def _when(text: bytes | None) -> dt.datetime | None:
    return term_mod.parse_timestamp(text.decode("utf-8", "replace")) if text else None


def release_signatures(
    release_dir: Path, expected: dict[str, list[str]]
) -> dict[tuple[str, str], frozenset[str]]:
    """The grade ids of each released notebook (how a misnamed notebook is recognised)."""
    out = {}
    for assignment, names in expected.items():
        for name in names:
            path = Path(release_dir) / assignment / f"{name}.ipynb"
            if path.is_file():
                out[(assignment, name)] = grade_ids_of(path.read_bytes())
    return out


def _existing(folder: Path) -> tuple[dict[str, str], dt.datetime | None]:
    """The notebooks already staged for a submission, and its time (from timestamp.txt)."""
    if not folder.is_dir():
        return {}, None
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.ipynb"))}
    stamp = folder / "timestamp.txt"
    return texts, (_when(stamp.read_bytes()) if stamp.exists() else None)


def intake(
    source: Path,
    submitted_dir: Path,
    release_dir: Path,
    expected: dict[str, list[str]],
    keep_student=None,
    selected: set[str] | None = None,
    tz=None,
    replace: bool = False,
    term: term_mod.Term | None = None,
) -> Intake:
    """Locate, check, repair and stage every submission under ``submitted_dir``.

    Only the students for whom ``keep_student(student)`` is true, when it is given; only the
    ``selected`` assignments (the others' notebooks are recognised and skipped). A submission
    already staged is replaced only by a newer one
    (:func:`pick_submission`; times from ``timestamp.txt``, else the zip
    entry or file time, read in ``tz``), unless ``replace``. Every staged submission gets a
    ``timestamp.txt`` and keeps nbgrader's ``submission_secret.txt``, so ``nbgrader
    release_feedback`` works after grading.

    Those times are the student's claim. Each submission also gets ``received.txt``: when it
    reached the instructor's side (the zip file's time on this machine, or the newest change
    time of the submission's files, which no student can set). A claim that disagrees with it
    in a way that matters (:func:`grader.intake.term.time_doubt`, with ``term``'s deadlines and
    grace period) is a note on the submission (the report's needs-attention list); an impossible
    claim (after the received time) is replaced by the received time.
    """
    source = Path(source).resolve()
    submitted_dir = Path(submitted_dir).resolve()
    term = term or term_mod.Term()
    result = Intake()
    received_zip = None
    if source.is_file():  # the zip's own time here: when the instructor downloaded it
        received_zip = dt.datetime.fromtimestamp(os.stat(source).st_mtime, dt.UTC)
    refused: list[str] = []
    signatures = release_signatures(release_dir, expected)
    with tempfile.TemporaryDirectory(prefix="intake-") as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            refused = [f"{source.name}: {line}" for line in extract(source, Path(tmp), tz)]
            root = Path(tmp)
            tops = [p for p in root.iterdir() if p.name not in IGNORED_PARTS]
            located = locate_all(root, expected, selected, signatures)
            if len(tops) == 1 and tops[0].is_dir():
                inner = locate_all(tops[0], expected, selected, signatures)
                located = inner if len(inner.found) > len(located.found) else located
        elif source.is_dir():
            located = locate_all(source, expected, selected, signatures)
        else:
            raise FileNotFoundError(f"{source}: not a folder or a .zip file")
        result.problems = refused + located.problems
        result.assignments = sorted(
            {a for _s, a, _n in located.found}
            | {a for _s, a in located.timestamps if a in expected}
        )
        if keep_student is not None:
            located.found = {k: v for k, v in located.found.items() if keep_student(k[0])}
            for table in (located.timestamps, located.extras, located.refused):
                for key in [k for k in table if not keep_student(k[0])]:
                    del table[key]
            located.unplaced = {s: v for s, v in located.unplaced.items() if keep_student(s)}
        result.unplaced = located.unplaced
        # Read everything before touching submitted_dir (it may be the input itself).
        loaded: dict[tuple[str, str, str], tuple] = {}
        newest: dict[tuple[str, str], float] = {}
        root = located.root
        received: dict[tuple[str, str], dt.datetime] = {}
        for key, paths in [*located.found.items(), *located.timestamps.items()]:
            for path in paths if isinstance(paths, list) else [paths]:
                seen = received_zip or dt.datetime.fromtimestamp(os.lstat(path).st_ctime, dt.UTC)
                received[key[:2]] = max(received.get(key[:2], seen), seen)
        for key, paths in located.found.items():
            path = max(paths, key=lambda p: os.lstat(p).st_mtime)
            newest[key[:2]] = max(newest.get(key[:2], 0.0), os.lstat(path).st_mtime)
            notes = []
            if len(paths) > 1:
                others = ", ".join(str(p.name) for p in paths if p != path)
                notes.append(
                    f"{len(paths)} files for this notebook; graded the newest, {path.name} "
                    f"(ignored {others})"
                )
            try:
                nb, error = load(path, read_regular(root, path, MAX_NOTEBOOK_BYTES))
            except RefusedFile as why:
                nb, error = None, f"{path.relative_to(root)}: refused ({why})"
                result.problems.append(error)
            loaded[key] = (path, nb, error, notes)
        stamp_text, extra_files = {}, {}
        for key, path in located.timestamps.items():
            try:
                stamp_text[key] = read_regular(root, path, MAX_NBGRADER_FILE_BYTES)
            except RefusedFile as why:
                result.problems.append(f"{path.relative_to(root)}: refused ({why})")
        for key, paths in located.extras.items():
            for path in paths:
                try:
                    data = read_regular(root, path, MAX_NBGRADER_FILE_BYTES)
                except RefusedFile as why:
                    result.problems.append(f"{path.relative_to(root)}: refused ({why})")
                    continue
                extra_files.setdefault(key, {})[path.name] = data
        for key in located.timestamps:  # an assignment folder without its notebook
            if key[1] in expected and (selected is None or key[1] in selected):
                result.submissions.setdefault(key, {})
        releases: dict[tuple[str, str], nbformat.NotebookNode] = {}
        for (student, assignment, name), (path, nb, error, notes) in sorted(loaded.items()):
            entry = NotebookIntake(path=path, error=error, notes=notes)
            result.submissions.setdefault((student, assignment), {})[name] = entry
            if nb is None:
                continue
            release_path = Path(release_dir) / assignment / f"{name}.ipynb"
            if (assignment, name) not in releases:
                releases[(assignment, name)] = nbs.read(release_path)
            nb, repair_notes = repair(nb, releases[(assignment, name)])
            entry.notes += repair_notes
            entry.staged = submitted_dir / student / assignment / f"{name}.ipynb"
            entry.text = nbs.dumps(nb)
        # Stage: replace each (student, assignment) folder completely, unless what is staged
        # there is newer.
        for key, notebooks in result.submissions.items():
            student, assignment = key
            folder = submitted_dir / student / assignment
            incoming = _when(stamp_text.get(key))
            if incoming is None and key in newest:
                incoming = dt.datetime.fromtimestamp(newest[key], dt.UTC)
                stamp_text[key] = incoming.strftime(TIMESTAMP_FORMAT).encode()
            doubt = term_mod.time_doubt(
                incoming,
                received.get(key),
                term_mod.deadline(term, student, assignment),
                term.penalty,
            )
            if doubt and notebooks:
                next(iter(notebooks.values())).notes.append(doubt)
            if doubt and doubt.startswith("submission time: it claims"):
                incoming = received[key]
                stamp_text[key] = incoming.strftime(TIMESTAMP_FORMAT).encode()
            old_texts, old_time = _existing(folder)
            new_texts = {n: e.text for n, e in notebooks.items() if e.text is not None}
            if old_texts and not new_texts:  # nothing gradable: the staged copy stays
                why = "; ".join(e.error for e in notebooks.values() if e.error)
                result.ungradable_newer[key] = why or "no notebook in it"
                continue
            if old_texts and new_texts and old_texts != new_texts and not replace:
                pick = pick_submission(old_time, incoming)
                note = next(iter(notebooks), "")
                if not pick.take_incoming:
                    result.kept.append(key)
                    for name, entry in notebooks.items():
                        entry.error, entry.text = None, None
                        entry.staged = folder / f"{name}.ipynb"
                        entry.notes = [pick.reason]
                    continue
                if pick.report:
                    notebooks[note].notes.append(pick.reason)
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            for entry in notebooks.values():
                if entry.staged is not None:
                    entry.staged.write_text(entry.text, encoding="utf-8")
            if key in stamp_text:
                (folder / "timestamp.txt").write_bytes(stamp_text[key])
            if key in received:
                text = received[key].strftime(TIMESTAMP_FORMAT)
                (folder / RECEIVED_FILE).write_text(text, encoding="utf-8")
            for name, data in extra_files.get(key, {}).items():
                (folder / name).write_bytes(data)
        # Refused, missing or misnamed notebooks of a student.
        for key, reasons in located.refused.items():
            notebooks = result.submissions.setdefault(key, {})
            for name in expected[key[1]]:
                if name not in notebooks:
                    notebooks[name] = NotebookIntake(error="; ".join(reasons))
        for (_student, assignment), notebooks in result.submissions.items():
            for name in expected[assignment]:
                if name not in notebooks:
                    notebooks[name] = NotebookIntake(error=f"missing notebook {name}.ipynb")
    return result


# --------------------------------------------------------------------------------------------
# Which copy of a submission wins
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    take_incoming: bool
    reason: str
    report: bool = False  # True: a person should look (tie or unknown time)


def _shown(t: dt.datetime | None) -> str:
    return "unknown time" if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def pick_submission(
    existing: dt.datetime | None, incoming: dt.datetime | None, existing_present: bool = True
) -> Pick:
    """Whether the incoming copy of a submission replaces the one already graded.

    The newer copy wins. Equal times: the same submission, graded again. Unknown times: an
    incoming copy with a time replaces one without (and says so); an incoming copy without a
    time never replaces a graded one.
    """
    if not existing_present:
        return Pick(True, "first submission")
    if existing is None and incoming is None:
        return Pick(
            False,
            "submission times unknown for both copies; the graded copy is kept "
            "(check which copy is newer and grade it alone)",
            report=True,
        )
    if incoming is None:
        return Pick(
            False,
            f"the new copy has no submission time; the graded copy ({_shown(existing)}) is kept",
            report=True,
        )
    if existing is None:
        return Pick(
            True,
            f"the graded copy has no submission time; replaced by the copy of {_shown(incoming)}",
            report=True,
        )
    if incoming > existing:
        return Pick(True, f"newer submission ({_shown(incoming)}) replaces {_shown(existing)}")
    if incoming == existing:  # the same submission (e.g. collected again): grade it again
        return Pick(True, f"same submission time ({_shown(existing)}); graded again")
    return Pick(
        False,
        f"older copy ({_shown(incoming)}) ignored; the graded submission of {_shown(existing)} "
        "is newer",
        report=True,
    )
