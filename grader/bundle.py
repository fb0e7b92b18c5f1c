"""The student bundle: everything a student receives, and nothing an instructor keeps.

``python -m grader bundle OUT`` writes a folder, or a zip when OUT ends in ``.zip``, holding
``notebooks/``, ``utils/``, ``LICENSE``, ``pyproject.toml`` and ``environment.yml`` reduced to
what a student installs (no test, lint or instructor tools), ``Makefile``, ``.jupyter/`` (the
student-mode JupyterLab config) and a student README that says how to name and hand in a
notebook. Solutions, hidden tests, the gradebook and the ``grader/`` package are never copied,
and :func:`check` proves it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path

from grader.term import STUDENT_ID_RULE

REQUIRED = ("notebooks", "utils", "pyproject.toml", "LICENSE")
OPTIONAL = ("environment.yml", "Makefile", ".jupyter")
# Installed for the course's own tests, not for students (the extras are dropped too).
NOT_FOR_STUDENTS = ("nbval",)
COURSE_ONLY_SECTIONS = ("[project.optional-dependencies]", "[tool.pytest", "[tool.ruff")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".db", ".sqlite"}
FORBIDDEN_NAMES = ("solutions", "gradebook", "grader", "autograded", "submitted", "feedback")

STUDENT_README = """\
# Sequence Models from Scratch — student copy

You build recurrent networks in NumPy, one assignment per folder of `notebooks/`.

## Start

    make lab        # creates .venv, installs the course, opens JupyterLab

(or `conda env create -f environment.yml`, `conda activate seqmodels`,
`jupyter lab notebooks/`). Python 3.11+ is needed. Only what you need is installed: NumPy,
Matplotlib, JupyterLab and nbgrader (for the Validate button).

## Work

- Fill in every cell that says `# YOUR CODE HERE` and remove the `raise NotImplementedError()`.
- Run the test cell under each exercise: it says what is wrong (which array, which entry,
  expected vs got). The grader runs the same checks plus hidden cases of the same kind, with
  other shapes and random seeds, so make your function correct in general, not only for the
  visible example.
- Keep your functions self-contained in the answer cells: put helpers you write in the same
  cell. The grader re-runs the tests on your function definitions alone, so code elsewhere
  (demos, prints, changes to `numpy` or `utils`) has no effect on your score.
- Do not call the `utils` function that you are asked to write (the tests detect it), and do
  not edit or delete the test cells (the grader uses its own copy).
- Write the written answers in your own words: answers that look copied (from another student
  or from `utils`) are shown to your instructor, who decides.
- Before you submit: Kernel → Restart & Run All, then use the Validate button.

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
    text = text.replace('include = ["utils*", "grader*"]', 'include = ["utils*"]')
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
    from grader import pipeline

    bundle = Path(bundle)
    with tempfile.TemporaryDirectory(prefix="bundle-check-") as tmp:
        if bundle.suffix == ".zip":
            with zipfile.ZipFile(bundle) as zf:
                zf.extractall(tmp)
            folder = Path(tmp)
        else:
            folder = bundle
        problems = []
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            lowered = [p.lower() for p in rel.parts]
            if any(name in part for part in lowered for name in FORBIDDEN_NAMES):
                problems.append(f"{rel}: instructor material in the student bundle")
            if path.suffix in SKIP_SUFFIXES:
                problems.append(f"{rel}: database or compiled file in the student bundle")
        problems += pipeline.leaks(root, folder)
        return problems
