"""The student bundle: everything a student receives, and nothing an instructor keeps.

``python -m grader bundle OUT`` writes a folder, or a zip when OUT ends in ``.zip``, holding
``notebooks/``, ``utils/``, ``LICENSE``, ``pyproject.toml`` and ``environment.yml`` reduced to
what a student installs (no test, lint or instructor tools), ``Makefile``, ``.jupyter/`` (the
student-mode JupyterLab config) and a student README that says how to name and hand in a
notebook and how to see the grader's verdict before submitting.

The grader's check (:mod:`grader.validate`, behind the Validate button through
:mod:`grader.validate_server`) ships too: the released notebooks, untouched, in
``.course/release/`` (where the check takes the test cells from, whatever the student did to
their copy in ``notebooks/``), and the grader modules it imports, :data:`CHECK_MODULES`, and
no other. Solutions, hidden tests, the gradebook and the rest of ``grader/`` (grading a class,
feedback, export, the instructor's commands) are never copied, and :func:`check` proves it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path

from grader.course import release as pipeline
from grader.course.layout import STUDENT_ID_RULE

REQUIRED = ("notebooks", "utils", "pyproject.toml", "LICENSE")
OPTIONAL = ("environment.yml", "Makefile", ".jupyter")
# Installed for the course's own tests, not for students (the extras are dropped too).
NOT_FOR_STUDENTS = ("nbval",)
COURSE_ONLY_SECTIONS = ("[project.optional-dependencies]", "[tool.pytest", "[tool.ruff")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".db", ".sqlite"}
FORBIDDEN_NAMES = ("solutions", "gradebook", "grader", "autograded", "submitted", "feedback")
# The grader's check before submitting: grader.validate, the Validate button's server extension
# grader.validate_server, and what they import (what runs in the student's sandbox included).
# tests/grading/test_bundle.py proves this is their whole import closure.
CHECK_MODULES = (
    "__init__.py",
    "course/__init__.py",
    "course/notebooks.py",
    "validate.py",
    "validate_server.py",
    "verdicts/__init__.py",
    "verdicts/plain_data.py",
    "verdicts/plan.py",
    "verdicts/runner.py",
    "verdicts/sandbox.py",
    "verdicts/services.py",
    "verdicts/student_calls.py",
)
RELEASE_COPY = Path(".course") / "release"  # grader.validate.RELEASE_COPY, without importing it

STUDENT_README = """\
# Sequence Models from Scratch — student copy

You build recurrent networks in NumPy, one assignment per folder of `notebooks/`.

## Start

    make lab        # creates .venv, installs the course, opens JupyterLab

(or `conda env create -f environment.yml`, `conda activate seqmodels`, then
`JUPYTER_CONFIG_PATH=.jupyter/student jupyter lab notebooks/`; on Windows run
`set JUPYTER_CONFIG_PATH=.jupyter\\student` first). Python 3.11+ is needed. Only what you
need is installed: NumPy, Matplotlib, JupyterLab and nbgrader (for the Validate button).
`.course/release/` keeps the notebooks as released: the grader's check takes the tests from
there, so leave it as it is.

## Work

- Fill in every cell that says `# YOUR CODE HERE` and remove the `raise NotImplementedError()`.
- Run the test cell under each exercise: it says what is wrong (which array, which entry,
  expected vs got). The grader runs the same checks plus hidden cases of the same kind, with
  other shapes and random seeds, so make your function correct in general, not only for the
  visible example.
- When grading, all the code in your cells runs, in the notebook's order, as in your own
  kernel: constants, tables, lambdas, helper functions and cells you added all count. A cell
  that raises an error is named in the grader's verdict (which cell, which line, why) and
  keeps what it did before the error, as in your kernel; a cell that runs for more than 20 s
  or ends its process is named too, and only its definitions are kept. Changes your cells make
  to `numpy` or `utils` apply to your own code only (the tests' checks run outside it), and the
  check of your functions reports them, in your kernel as when grading.
- Do not call the `utils` function that you are asked to write: it is absent when grading, so
  a call to it fails. Do not edit or delete the test cells (the grader uses its own copy).
- Write the written answers in your own words: answers that look copied (from another student
  or from `utils`) are shown to your instructor, who decides.

## See the grader's verdict before you submit

Save the notebook, then press **Validate** in the notebook's toolbar. It runs the grader's own
check of your saved notebook with the visible tests (the same run of your cells, the same
test code, the same messages; the grader adds hidden cases of the same kind) and lists every
test cell that fails, with the grader's message in full, every cell of yours that could not
run when grading, and the verdict of every test cell. A written answer still empty is listed
too. The same check in
a terminal, from this folder:

    python -m grader.validate notebooks/NN_slug/name.ipynb

(for example `python -m grader.validate notebooks/01_notation/notation.ipynb`; with `make lab`
the environment is in `.venv`, so `.venv/bin/python -m grader.validate ...`). It runs your code
in a sandbox on Linux when bubblewrap is installed, and directly otherwise (macOS); on Windows,
use the course inside WSL (the check needs a POSIX system: it forks a process per test).
To check that the notebook also runs from the top in a fresh kernel, use JupyterLab's
Kernel → Restart Kernel and Run All Cells…

## Hand in

Hand in the notebook file itself, under its own name; do not rename it:

{names}

- **JupyterHub** (Assignments tab): press *Submit* for the assignment. You may submit again
  before the deadline; the newest submission is graded.
- **Canvas, Moodle or another upload page**: upload the `.ipynb` file as it is (the site adds
  your name; a resubmission replaces the earlier one).
- **By e-mail or in a shared folder**: name the file `STUDENTID_NOTEBOOK.ipynb`, for example
  `s12345_notation.ipynb`, where STUDENTID is the id your instructor gave you. Student ids
  are made of {rule}; an id in another form (capital letters, spaces) cannot be matched to you.

A file that is not a notebook (an exported PDF or HTML page, a renamed copy) cannot be graded.
"""


def student_readme(notebooks: Path) -> str:
    """The student README, listing the notebook file names to hand in."""
    names = [
        f"- `{path.relative_to(notebooks).as_posix()}`"
        for path in sorted(Path(notebooks).glob("*/*.ipynb"))
    ]
    return STUDENT_README.format(names="\n".join(names), rule=STUDENT_ID_RULE)


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower()


def student_pyproject(text: str) -> str:
    """The course's pyproject.toml without the extras and the tools only the course needs."""
    project = tomllib.loads(text)["project"]
    keep = [r for r in project["dependencies"] if _requirement_name(r) not in NOT_FOR_STUDENTS]
    lines, skipping, out = text.splitlines(), False, []
    for line in lines:
        if line.startswith("["):
            skipping = line.strip().startswith(COURSE_ONLY_SECTIONS)
        if skipping:
            continue
        out.append(line)
    text = "\n".join(out) + "\n"
    deps = "dependencies = [\n" + "".join(f'    "{r}",\n' for r in keep) + "]"
    text = re.sub(r"(?ms)^dependencies = \[.*?^\]", deps, text)
    return text


def student_environment(text: str, pyproject_text: str) -> str:
    """environment.yml with only the packages of the student pyproject (and python, pip)."""
    keep = {_requirement_name(r) for r in tomllib.loads(pyproject_text)["project"]["dependencies"]}
    out, in_dependencies = [], False
    for line in text.splitlines():
        if re.match(r"^\S", line):
            in_dependencies = line.startswith("dependencies:")
        match = re.match(r"^\s*- ([A-Za-z0-9_.][A-Za-z0-9_.-]*)", line)
        if in_dependencies and match and match.group(1).lower() not in keep | {"pip", "python"}:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def student_makefile(text: str) -> str:
    """The Makefile installing no extras (students get no test tools)."""
    text = re.sub(r"(?m)^EXTRAS \?= .*$", "EXTRAS ?=", text)
    return text.replace('-e ".[$(EXTRAS)]"', '-e ".$(if $(EXTRAS),[$(EXTRAS)])"')


def _wanted(path: Path) -> bool:
    return not (set(path.parts) & SKIP_PARTS) and path.suffix not in SKIP_SUFFIXES


def _copy(src: Path, dst: Path) -> None:
    if src.is_dir():
        for path in sorted(src.rglob("*")):
            rel = path.relative_to(src)
            if path.is_file() and _wanted(rel):
                (dst / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dst / rel)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def build(root: Path, out: Path) -> tuple[Path, list[str]]:
    """Build the bundle at ``out``; return (out, warnings)."""
    root, out = Path(root).resolve(), Path(out).resolve()
    warnings = []
    for name in REQUIRED:
        if not (root / name).exists():
            raise FileNotFoundError(f"{root / name} is missing; the bundle needs it")
    with tempfile.TemporaryDirectory(prefix="bundle-") as tmp:
        stage = Path(tmp) / "seqmodels-course"
        stage.mkdir()
        for name in REQUIRED + OPTIONAL:
            if (root / name).exists():
                _copy(root / name, stage / name)
            else:
                warnings.append(f"{name} is missing from the course; not in the bundle")
        _copy(root / "notebooks", stage / RELEASE_COPY)
        for name in CHECK_MODULES:
            (stage / "grader" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / "grader" / name, stage / "grader" / name)
        (stage / "README.md").write_text(student_readme(stage / "notebooks"), encoding="utf-8")
        pyproject = student_pyproject((stage / "pyproject.toml").read_text(encoding="utf-8"))
        (stage / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        if (stage / "environment.yml").exists():
            env = (stage / "environment.yml").read_text(encoding="utf-8")
            (stage / "environment.yml").write_text(
                student_environment(env, pyproject), encoding="utf-8"
            )
        if (stage / "Makefile").exists():
            make = (stage / "Makefile").read_text(encoding="utf-8")
            (stage / "Makefile").write_text(student_makefile(make), encoding="utf-8")
        if out.suffix == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(stage.rglob("*")):
                    if path.is_file():
                        zf.write(path, path.relative_to(Path(tmp)))
        else:
            if out.exists():
                shutil.rmtree(out)
            shutil.copytree(stage, out)
    return out, warnings


def check(root: Path, bundle: Path) -> list[str]:
    """Problems with a bundle: instructor material inside, or solution/hidden-test lines."""

    bundle = Path(bundle)
    with tempfile.TemporaryDirectory(prefix="bundle-check-") as tmp:
        if bundle.suffix == ".zip":
            with zipfile.ZipFile(bundle) as zf:
                zf.extractall(tmp)
            entries = list(Path(tmp).iterdir())  # the course's one top folder, if it has one
            folder = entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(tmp)
        else:
            folder = bundle
        problems = []
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            lowered = [p.lower() for p in rel.parts]
            if lowered[0] == "grader" and len(rel.parts) > 1:
                if path.is_file() and rel.relative_to("grader").as_posix() not in CHECK_MODULES:
                    problems.append(f"{rel}: grader code the check does not need, in the bundle")
                lowered = lowered[1:]
            elif lowered == ["grader"] and path.is_dir():
                lowered = []
            if any(name in part for part in lowered for name in FORBIDDEN_NAMES):
                problems.append(f"{rel}: instructor material in the student bundle")
            if path.suffix in SKIP_SUFFIXES:
                problems.append(f"{rel}: database or compiled file in the student bundle")
        # The check's own modules name the markers they look for: an exact copy of the
        # course's module is code, not a leaked cell (a leaked line is still reported).
        own_code = {
            str(folder / "grader" / name)
            for name in CHECK_MODULES
            if (folder / "grader" / name).is_file()
            and (folder / "grader" / name).read_bytes() == (root / "grader" / name).read_bytes()
        }
        problems += [
            p
            for p in pipeline.leaks(root, folder)
            if not (p.split(": ", 1)[0] in own_code and ": contains the marker " in p)
        ]
        return problems
