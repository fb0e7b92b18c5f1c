"""The student bundle: everything a student receives, and nothing an instructor keeps.

``python -m grader bundle OUT`` writes a folder, or a zip when OUT ends in ``.zip``, holding
``notebooks/``, ``utils/``, ``pyproject.toml``, ``environment.yml``, ``Makefile``, ``.jupyter/``
(the student-mode JupyterLab config) and a student README. Solutions, hidden tests, the
gradebook and the ``grader/`` package are never copied, and :func:`check` proves it.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

REQUIRED = ("notebooks", "utils", "pyproject.toml")
OPTIONAL = ("environment.yml", "Makefile", ".jupyter")
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".db", ".sqlite"}
FORBIDDEN_NAMES = ("solutions", "gradebook", "grader", "autograded", "submitted", "feedback")

STUDENT_README = """\
# Sequence Models from Scratch — student copy

You build recurrent networks in NumPy, one assignment per folder of `notebooks/`.

## Start

    make lab        # creates .venv, installs the course, opens JupyterLab

(or `conda env create -f environment.yml`, `conda activate seqmodels`,
`jupyter lab notebooks/`). Python 3.11+ is needed.

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
- Before you submit: Kernel → Restart & Run All, then use the Validate button.
"""


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
        (stage / "README.md").write_text(STUDENT_README, encoding="utf-8")
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
