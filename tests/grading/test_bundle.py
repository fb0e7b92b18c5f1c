"""The student bundle: LICENSE, only what students install, how to name and hand in work, and
the grader's check before submitting (with nothing else of the grader)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from grader import ROOT
from grader.course import bundle
from grader.intake import files as intake
from grader.intake import term as t


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out, warnings = bundle.build(ROOT, tmp_path_factory.mktemp("bundle") / "course")
    assert warnings == []
    return out


def test_the_bundle_ships_the_license(built):
    assert (built / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()
    project = tomllib.loads((built / "pyproject.toml").read_text())["project"]
    assert project["license-files"] == ["LICENSE"]


def test_students_install_no_test_lint_or_instructor_tools(built):
    text = (built / "pyproject.toml").read_text()
    data = tomllib.loads(text)
    names = {bundle._requirement_name(r) for r in data["project"]["dependencies"]}
    assert names == {"numpy", "matplotlib", "tqdm", "jupyterlab", "nbgrader"}  # tqdm: progress bars
    assert "optional-dependencies" not in data["project"]
    # grader*: the bundle's grader/ is the check alone (the Validate button's server extension)
    assert data["tool"]["setuptools"]["packages"]["find"]["include"] == ["utils*", "grader*"]
    assert "pytest" not in text
    assert "ruff" not in text
    assert "playwright" not in text
    env = (built / "environment.yml").read_text()
    deps = env.split("dependencies:", 1)[1]
    env_names = set(re.findall(r"(?m)^\s*- ([a-z][a-z0-9_.-]*)", deps)) - {"pip", "python"}
    assert env_names == names
    assert "conda-forge" in env
    assert "- -e ." in env
    # make lab installs the course without any extra.
    dry = subprocess.run(
        ["make", "-n", "setup"], cwd=built, capture_output=True, text=True, check=True
    ).stdout
    assert 'pip install --quiet -e "."' in dry, dry


def test_the_readme_says_how_to_name_and_hand_in_a_notebook(built):
    readme = (built / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        assert f"`{path.parent.name}/{path.name}`" in readme
    assert "## Hand in" in readme
    assert "STUDENTID_NOTEBOOK.ipynb" in readme
    assert " ".join(t.STUDENT_ID_RULE.split()) in " ".join(readme.split())
    example = re.search(r"`(\w+)_notation\.ipynb`", readme).group(1)
    assert t.student_id_problem(example) is None  # the README's own example obeys its rule


def test_the_course_readme_states_the_same_student_id_rule():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert f"Student ids are {t.STUDENT_ID_RULE}" in text


def test_intake_enforces_the_same_rule(tmp_path):
    expected = {"01_notation": ["notation"]}
    for name in ("Alice", "bob_b", "carl", "Dee Dee"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "notation.ipynb").write_text("{}")
    found, _stamps, problems = intake.locate(tmp_path, expected)
    assert sorted(s for s, _a, _n in found) == ["bob_b", "carl"]
    assert any("'Alice' is not a valid student id" in p and "'alice'" in p for p in problems)
    assert any("'Dee Dee'" in p for p in problems)


# --------------------------------------------------------------------------------------------
# The grader's check in the bundle
# --------------------------------------------------------------------------------------------


def test_the_bundle_ships_the_check_and_no_other_grader_code(built):
    shipped = sorted(
        p.relative_to(built / "grader").as_posix()
        for p in (built / "grader").rglob("*")
        if p.is_file()
    )
    assert shipped == sorted(bundle.CHECK_MODULES)
    for name in ("grade.py", "__main__.py", "reporting", "books", "intake"):
        assert not (built / "grader" / name).exists()
    assert not (built / "solutions").exists()
    # The released notebooks, untouched, where grader.validate looks for its tests.
    released = sorted(
        p.relative_to(ROOT / "notebooks") for p in (ROOT / "notebooks").rglob("*.ipynb")
    )
    copied = sorted(
        p.relative_to(built / ".course" / "release")
        for p in (built / ".course" / "release").rglob("*.ipynb")
    )
    assert copied == released
    for rel in released:
        assert (built / ".course/release" / rel).read_bytes() == (
            ROOT / "notebooks" / rel
        ).read_bytes()
    assert bundle.check(ROOT, built) == []


def test_check_modules_are_the_import_closure_of_the_check():
    """What grader.validate, the Validate button's server extension and the student's side of
    the sandbox import, in a fresh interpreter: exactly the modules the bundle ships."""
    code = (
        "import sys, grader.validate, grader.validate_server, grader.verdicts.student_calls\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'grader'))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    shipped = {
        str(Path(name).with_suffix("")).replace("/", ".").removesuffix("__init__").rstrip(".")
        for name in bundle.CHECK_MODULES
    }
    assert {m.removeprefix("grader").lstrip(".") for m in eval(out)} == shipped


def test_the_check_finds_instructor_code_added_to_the_bundle(built, tmp_path):
    """The test of the test: a module the check does not need, or a solution, is reported."""
    copy = tmp_path / "course"
    shutil.copytree(built, copy)
    (copy / "grader" / "grade.py").write_text("GRADE = 1\n")
    (copy / "grader" / "sub").mkdir()
    (copy / "grader" / "sub" / "validate.py").write_text("X = 1\n")
    solved = ROOT / "solutions" / "01_notation" / "notation.ipynb"
    shutil.copy2(solved, copy / ".course" / "release" / "01_notation" / "notation.ipynb")
    problems = "\n".join(bundle.check(ROOT, copy))
    assert "grader/grade.py: grader code the check does not need" in problems
    assert "grader/sub/validate.py: grader code the check does not need" in problems
    assert "release/01_notation/notation.ipynb: contains the marker" in problems


def _validate_in_bundle(folder, notebook):
    """``python -m grader.validate --json`` run from the unpacked bundle, importing only from it
    (the course repository is on no path: a module the bundle lacks fails the import)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(folder), OPENBLAS_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "grader.validate", "--json", notebook],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_the_check_runs_from_the_unpacked_bundle(tmp_path):
    zipped, _ = bundle.build(ROOT, tmp_path / "course.zip")
    with zipfile.ZipFile(zipped) as zf:
        zf.extractall(tmp_path / "unpacked")
    folder = tmp_path / "unpacked" / "seqmodels-course"
    notebook = "notebooks/01_notation/notation.ipynb"
    # Untouched: every test cell fails as at grading, with the tests of .course/release.
    status, result, stderr = _validate_in_bundle(folder, notebook)
    assert result["error"] is None, (result, stderr)
    assert result["source"] == str(folder / ".course/release/01_notation/notation.ipynb")
    assert status == 1, result
    assert len(result["tests"]) == 5
    assert all(not t["passed"] and "NotImplementedError" in t["error"] for t in result["tests"])
    # Solved (the instructor's solution as the student's notebook): every test cell passes.
    shutil.copy2(ROOT / "solutions" / "01_notation" / "notation.ipynb", folder / notebook)
    status, result, stderr = _validate_in_bundle(folder, notebook)
    assert result["error"] is None, (result, stderr)
    assert status == 0, result
    assert len(result["tests"]) == 5
    assert all(t["passed"] for t in result["tests"]), result


def test_the_readme_says_how_to_see_the_graders_verdict(built):
    readme = " ".join((built / "README.md").read_text().split())
    assert "## See the grader's verdict before you submit" in readme
    assert "press **Validate**" in readme
    assert "python -m grader.validate notebooks/NN_slug/name.ipynb" in readme
    assert "Kernel → Restart Kernel and Run All Cells…" in readme  # JupyterLab 4's menu
    assert "all the code in your cells runs" in readme
    assert "has no effect" not in readme
    assert "Restart & Run All" not in readme
