"""The course pipeline: release, normalise, and the checks CI runs on every assignment.

Every check returns a list of problems (empty when all is well), so the CLI can print them and
the tests can assert on them. Each check runs all assignments in one process.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from grader.course import notebooks as nbs
from grader.course.layout import CourseLayout
from grader.course.nbgrader_api import Course


def _course(root: Path, overrides: dict | None = None):
    return Course(root, overrides)


def source_dir(root: Path) -> Path:
    return CourseLayout.of(root).source


def release_dir(root: Path) -> Path:
    return CourseLayout.of(root).release


def source_notebooks(root: Path) -> dict[str, list[Path]]:
    src = source_dir(root)
    return {a: nbs.notebook_files(src / a) for a in nbs.assignments(src)}


# --------------------------------------------------------------------------------------------
# normalise and release
# --------------------------------------------------------------------------------------------


def normalize(root: Path) -> list[Path]:
    """Strip outputs and run metadata from every source notebook; return the changed ones."""
    return [
        p for nb_list in source_notebooks(root).values() for p in nb_list if nbs.normalize_file(p)
    ]


def not_normalized(root: Path) -> list[str]:
    return [
        f"{p}: has outputs or run metadata; run `python -m grader normalize`"
        for nb_list in source_notebooks(root).values()
        for p in nb_list
        if not nbs.is_normalized(p)
    ]


def generate(root: Path, out: Path, db: bool, course=None) -> list[str]:
    """Generate every assignment into ``out`` (not the course's release folder)."""
    course = course or _course(root)
    problems = []
    for assignment in source_notebooks(root):
        result = course.generate_assignment(assignment, release_dir=out, db=db)
        if not result["success"]:
            problems.append(f"{assignment}: generate_assignment failed: {result['error']}")
    return problems


def release(root: Path, db: bool = True) -> list[str]:
    """Normalise the sources and regenerate ``notebooks/`` (and the gradebook's copy of the
    source, which holds the hidden tests, unless ``db`` is False).

    Generation happens in a temporary folder first: nbgrader deletes the old release before it
    discovers a problem (e.g. cells changed after submissions exist), which would otherwise
    leave ``notebooks/`` half-empty.
    """
    root = Path(root).resolve()
    normalize(root)
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        problems = generate(root, Path(tmp), db=db)
        if problems:
            return problems
        for assignment in source_notebooks(root):
            target = release_dir(root) / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(Path(tmp) / assignment, target)
    return []


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------


def _compare_trees(expected: Path, actual: Path, label: str) -> list[str]:
    problems = []
    exp = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    act = (
        {p.relative_to(actual) for p in actual.rglob("*") if p.is_file()}
        if actual.exists()
        else set()
    )
    for rel in sorted(exp - act):
        problems.append(f"{label}/{rel}: missing (regenerate with `python -m grader release`)")
    for rel in sorted(act - exp):
        problems.append(f"{label}/{rel}: not produced by solutions/ (stale or hand-made)")
    for rel in sorted(exp & act):
        if not filecmp.cmp(expected / rel, actual / rel, shallow=False):
            problems.append(f"{label}/{rel}: differs from what solutions/ generates")
    return problems


def drift(root: Path, course=None) -> list[str]:
    """``notebooks/`` must be exactly what ``solutions/`` generates, and the sources must be
    normalised. Regenerates into a temporary folder without touching the gradebook."""
    root = Path(root).resolve()
    problems = not_normalized(root)
    assignments = source_notebooks(root)
    with tempfile.TemporaryDirectory(prefix="drift-") as tmp:
        problems += generate(root, Path(tmp), db=False, course=course)
        for assignment in assignments:
            if not (Path(tmp) / assignment).is_dir():
                problems.append(f"{assignment}: nothing was generated")
                continue
            problems += _compare_trees(
                Path(tmp) / assignment, release_dir(root) / assignment, f"notebooks/{assignment}"
            )
    released = release_dir(root)
    if released.is_dir():
        for folder in sorted(p for p in released.iterdir() if p.is_dir()):
            if folder.name not in assignments and any(nbs.notebook_files(folder)):
                problems.append(f"notebooks/{folder.name}: has no source in solutions/")
    return problems


def leaks(root: Path, folder: Path | None = None, kinds=None) -> list[str]:
    """No solution line, hidden test, mark scheme or nbgrader marker in a published folder
    (``notebooks/`` by default; the bundle and feedback use the same check).

    Notebooks are checked for every kind (``kinds`` narrows it); other text files (e.g.
    ``utils/``, whose reference implementations may share lines with a solution by design)
    only for hidden tests, mark schemes and markers.
    """
    root = Path(root).resolve()
    folder = Path(folder) if folder is not None else release_dir(root)
    problems = []
    sources = [nbs.read(p) for nb_list in source_notebooks(root).values() for p in nb_list]
    other = {"hidden test", "mark scheme"} & set(kinds or ("hidden test", "mark scheme"))
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix not in (".ipynb", ".html", ".md", ".py", ".txt"):
            continue
        for source in sources:
            wanted = kinds if path.suffix == ".ipynb" else other
            problems += nbs.leaks_in_file(path, source, kinds=wanted)
    return sorted(set(problems))


def validate(root: Path, course=None) -> list[str]:
    """Every solution passes all its tests; every untouched release passes none of them."""
    root = Path(root).resolve()
    course = course or _course(root)
    problems = []
    for assignment, nb_list in source_notebooks(root).items():
        for source in nb_list:
            result = course.validate(source)
            for kind, cells in result.items():
                for cell in cells:
                    head = cell["source"].splitlines()[0] if cell["source"] else ""
                    error = cell.get("raw_error", "").strip().splitlines()[-1:] or [""]
                    problems.append(
                        f"solutions/{assignment}/{source.name}: {kind} {head!r} {error[0]}"
                    )
            released = release_dir(root) / assignment / source.name
            if not released.exists():
                problems.append(f"notebooks/{assignment}/{source.name}: missing")
                continue
            result = course.validate(released, invert=True)
            for kind, cells in result.items():
                for cell in cells:
                    head = cell["source"].splitlines()[0] if cell["source"] else ""
                    what = "free points: passes untouched" if kind == "passed" else kind
                    problems.append(f"notebooks/{assignment}/{source.name}: {what}: {head!r}")
    return problems


# --------------------------------------------------------------------------------------------
# a perfect student and a throw-away course, for the round trip (grader.check) and the tests
# --------------------------------------------------------------------------------------------


def solved_copy(source_nb, release_nb):
    """The release with every solution cell filled in from the source (a perfect student)."""
    import copy

    answers = {nbs.grade_id(c): c.source for c in source_nb.cells if nbs.is_solution(c)}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = nbs.grade_id(cell)
        if gid in answers:
            cell.source = answers[gid]
    return nb


def copy_course(root: Path, target: Path) -> Path:
    """A throw-away copy of the course (config and sources) with its own gradebook; the
    release is generated from the sources by :func:`grader.check.roundtrip`."""
    root, target = Path(root).resolve(), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", target / "nbgrader_config.py")
    if source_dir(root).exists():
        shutil.copytree(
            source_dir(root),
            source_dir(target),
            ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
        )
    (target / "grader").mkdir(exist_ok=True)
    return target
