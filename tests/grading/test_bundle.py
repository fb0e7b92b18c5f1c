"""The student bundle: LICENSE, only what students install, and how to name and hand in work."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from grader import ROOT, bundle, intake
from grader import term as t


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
    assert data["tool"]["setuptools"]["packages"]["find"]["include"] == ["utils*"]
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
