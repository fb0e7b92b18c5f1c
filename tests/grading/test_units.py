"""Fast checks of the grading building blocks (no nbgrader run): submission layouts, repairs,
the leak detector, the clean re-grade's code filter, and the student bundle."""

from __future__ import annotations

import shutil
import zipfile

import fixture_course as fc
import nbformat
import pytest

from grader import ROOT
from grader.course import bundle
from grader.course import notebooks as nbs
from grader.course import release as pipeline
from grader.intake import files as intake
from grader.verdicts import plan

EXPECTED = {"01_notation": ["notation"], "02_rnn_forward": ["rnn_forward"]}


@pytest.mark.parametrize(
    ("path", "placed"),
    [
        ("alice/01_notation/notation.ipynb", ("alice", "01_notation", "notation")),
        ("alice/notation.ipynb", ("alice", "01_notation", "notation")),
        ("alice/02_rnn_forward.ipynb", ("alice", "02_rnn_forward", "rnn_forward")),
        ("alice_notation.ipynb", ("alice", "01_notation", "notation")),
        ("alice.smith_01_notation.ipynb", ("alice.smith", "01_notation", "notation")),
        ("bob-rnn_forward.ipynb", ("bob", "02_rnn_forward", "rnn_forward")),
        # a notebook of the course in a folder of another name is placed by its own name
        ("alice/99_other/notation.ipynb", ("alice", "01_notation", "notation")),
    ],
)
def test_layouts(tmp_path, path, placed):
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("{}")
    found, _stamps, problems = intake.locate(tmp_path, EXPECTED)
    assert list(found) == [placed], problems


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("alice.ipynb", "name flat files STUDENT_NOTEBOOK.ipynb"),
        ("alice/notes.txt", "not a .ipynb file"),
        ("a/b/c/d.ipynb", "too deep"),
    ],
)
def test_layout_errors_are_explained(tmp_path, path, words):
    (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / path).write_text("{}")
    found, _stamps, problems = intake.locate(tmp_path, EXPECTED)
    assert not found
    assert any(words in p for p in problems), problems


def test_renamed_notebook_of_a_single_notebook_assignment(tmp_path):
    (tmp_path / "carol" / "01_notation").mkdir(parents=True)
    (tmp_path / "carol" / "01_notation" / "notation (1).ipynb").write_text("{}")
    found, _stamps, problems = intake.locate(tmp_path, EXPECTED)
    assert list(found) == [("carol", "01_notation", "notation")]
    assert any("renamed" in p for p in problems)


def test_zip_extraction_skips_unsafe_and_junk_entries(tmp_path):
    # zipfile itself would write "../escape.ipynb" as out/escape.ipynb: check what is extracted.
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.ipynb", "{}")
        zf.writestr("/absolute.ipynb", "{}")
        zf.writestr("__MACOSX/._alice_notation.ipynb", "{}")
        zf.writestr("alice_notation.ipynb", "{}")
    out = tmp_path / "out"
    intake._safe_extract(archive, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["alice_notation.ipynb"]


def test_load_refuses_non_notebooks(tmp_path):
    cases = {"a.ipynb": b"\x89PNG\x00\xff", "b.ipynb": b"{not json", "c.ipynb": b"[1, 2]"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        nb, error = intake.load(tmp_path / name)
        assert nb is None
        assert "not a notebook" in error


def _released():
    source = fc.source_notebook()
    release = nbformat.from_dict(source)
    release = nbformat.reads(nbformat.writes(release), as_version=4)
    for cell in release.cells:
        if nbs.is_solution(cell):
            cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
        if nbs.is_grade(cell) and not nbs.is_solution(cell) and "HIDDEN" in cell.source:
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        if nbs.nbgrader_meta(cell).get("task"):
            cell.source = cell.source.split("=== BEGIN MARK SCHEME")[0]
    return source, release


def test_leak_detector_finds_each_kind_and_ignores_public_lines(tmp_path):
    source, release = _released()
    secrets = nbs.secrets(source)
    assert not secrets.leaked_in(nbs.notebook_lines(release))
    planted = {
        "solution": "return 1.0 / (1.0 + np.exp(-z_array))",
        "hidden test": 'got_hidden = checks.guarded_call(count_tokens, ["x", "y", "y", "z", "y"])',
        "mark scheme": "Full marks for naming saturation beyond four in absolute value.",
    }
    for kind, line in planted.items():
        leaked = secrets.leaked_in([*nbs.notebook_lines(release), "    " + line])
        assert leaked == [(kind, line)]
    # `import numpy as np` is in a public cell, so it never counts as leaked
    assert "import numpy as np" in secrets.public
    path = tmp_path / "x.ipynb"
    path.write_text(nbs.dumps(release).replace("YOUR CODE HERE", "BEGIN SOLUTION"))
    assert any("marker" in p for p in nbs.leaks_in_file(path, source))


def test_repair_restores_metadata_and_removes_duplicate_tests():
    _source, release = _released()
    student = nbformat.reads(nbformat.writes(release), as_version=4)
    test = next(c for c in student.cells if nbs.grade_id(c) == "test_relu")
    test.metadata.nbgrader.update(points=100, locked=False)
    student.cells.append(nbformat.from_dict(dict(test, id="dup")))
    repaired, notes = intake.repair(student, release)
    assert sum(nbs.grade_id(c) == "test_relu" for c in repaired.cells) == 1
    fixed = next(c for c in repaired.cells if nbs.grade_id(c) == "test_relu")
    assert fixed.metadata.nbgrader["points"] == 2
    assert any("duplicated" in n for n in notes)
    assert any("metadata of cell test_relu was edited" in n for n in notes)


@pytest.mark.parametrize(
    "statement",
    [
        "np.allclose = lambda *a, **k: True",
        "import builtins; builtins.max = min",
        "setattr(np, 'exp', abs)",
        "for i in range(10**9): pass",
        "x = compute()",
        "@patching_decorator\ndef f(): pass",
        "def f(x=setattr(np, 'exp', abs)): pass",
        "class A(metaclass=Evil): pass",
        "%timeit f()",
        "!rm -rf /",
    ],
)
def test_clean_filter_drops_code_that_runs(statement):
    code, _notes = plan.safe_code(statement)
    kept = [
        word
        for word in ("setattr", "allclose", "builtins.max", "range", "compute", "Evil")
        + ("patching_decorator", "rm -rf", "timeit")
        if word in code
    ]
    assert not kept, code


def test_clean_filter_keeps_definitions():
    source = (
        "import numpy as np\nfrom utils import data\nEOS = '<EOS>'\nSIZES = (1, 2)\n"
        "def f(x, eps=1e-8, *, axis=0):\n    return x + eps\n"
        "class Vocab:\n    pad = 0\n    def __len__(self):\n        return 1\n"
        "print(f(1))\n"
    )
    code, notes = plan.safe_code(source)
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["f"](1) == 1 + 1e-8
    assert namespace["EOS"] == "<EOS>"
    assert len(namespace["Vocab"]()) == 1
    assert "print" not in code
    assert not notes


def test_clean_filter_reports_syntax_errors():
    code, notes = plan.safe_code("def f(:\n    pass")
    assert code == ""
    assert "syntax error" in notes[0]


def test_validator_passes_the_solution_and_gives_the_release_nothing(fixture_course):
    assert pipeline.validate(fixture_course) == []


def test_student_bundle_holds_no_instructor_material(tmp_path):
    out, _warnings = bundle.build(ROOT, tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    top = "seqmodels-course/"
    assert f"{top}README.md" in names
    assert f"{top}utils/__init__.py" in names
    assert f"{top}pyproject.toml" in names
    for assignment in pipeline.source_notebooks(ROOT):
        assert any(n.startswith(f"{top}notebooks/{assignment}/") for n in names)
    assert not [n for n in names if "solutions" in n or n.endswith(".db")]
    shipped = {n.split("/grader/", 1)[1] for n in names if "/grader/" in n}
    assert shipped == set(bundle.CHECK_MODULES)  # the check, nothing else
    assert not bundle.check(ROOT, out)


def test_bundle_check_catches_a_leak(tmp_path):
    out, _warnings = bundle.build(ROOT, tmp_path / "bundle")
    (out / "solutions").mkdir()
    (out / "solutions" / "x.txt").write_text("### BEGIN HIDDEN TESTS\n")
    problems = bundle.check(ROOT, out)
    assert any("instructor material" in p for p in problems)
    assert any("marker" in p for p in problems)


def test_grading_the_submitted_folder_keeps_the_originals(fixture_course):
    """`grade grader/submitted` (after nbgrader collect) must not lose what students sent:
    intake rewrites that folder, so the originals are copied aside first."""
    from grader.course.layout import CourseLayout
    from grader.intake.batch import _keep_originals

    layout = CourseLayout.of(fixture_course)
    original = layout.submitted / "alice" / "01_fixture" / "notes.txt"
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_text("the student's own file")
    refused: list[str] = []
    kept = _keep_originals(layout, layout.submitted, refused, print)
    assert kept.parent == fixture_course / "grader" / "received"
    assert (kept / "alice" / "01_fixture" / "notes.txt").read_text() == "the student's own file"
    assert refused == []
    elsewhere = fixture_course.parent / "inbox"
    assert _keep_originals(layout, elsewhere, refused, print) == elsewhere  # read as they are
    shutil.rmtree(layout.submitted / "alice")
    shutil.rmtree(kept)


def test_grade_with_a_missing_submissions_path_says_so(tmp_path, capsys):
    from grader.__main__ import main

    assert main(["grade", str(tmp_path / "missing.zip")]) == 2
    assert "missing.zip does not exist" in capsys.readouterr().err
