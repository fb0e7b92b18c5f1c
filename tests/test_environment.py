"""The pip (pyproject.toml) and conda (environment.yml) dependency lists must agree."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(requirement: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(r) for r in requirements)


def _conda_requirements() -> dict[str, str]:
    spec = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in spec["dependencies"]:
        entries = entry["pip"] if isinstance(entry, dict) else [entry]
        for requirement in entries:
            if requirement.startswith("-e"):
                continue
            name, version = _split(requirement)
            found[name] = version
    return found


def test_conda_and_pip_dependency_lists_agree():
    pip = _pip_requirements()
    conda = _conda_requirements()
    conda_only = {"python", "pip"}
    assert set(pip) == set(conda) - conda_only, (
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip) - conda_only)}"
    )
    different = {name: (pip[name], conda[name]) for name in pip if pip[name] != conda[name]}
    assert not different, f"version specs differ (pyproject, environment.yml): {different}"


def test_environment_installs_the_course_package_and_comments_every_line():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- -e \.", text, flags=re.M), "environment.yml must pip install -e ."
    for line in text.splitlines():
        if re.match(r"^\s*- ", line) and not line.strip().startswith("- pip:"):
            assert "#" in line, f"every dependency needs a comment saying why: {line.strip()}"


def test_torch_is_optional_and_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(r.startswith("torch") for r in project["dependencies"])
    assert project["optional-dependencies"]["torch"] == ["torch==2.13.0"]
