"""One class-grading run over the fixture class (tests/grading/students.py), then checks of
every robustness case and attack on its gradebook, reports and feedback.

The run takes the class as a zip of nbgrader's submitted/ layout, with two workers, a 2 GiB
address-space limit and short timeouts, exactly as ``python -m grader grade`` would.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import warnings
from pathlib import Path

import fixture_course as fc
import pytest
from attacks import ATTACKS, MARKER, honest_after
from students import CLASS, CORRECT

from grader import ROOT
from grader.books import gradebook
from grader.course import notebooks as nbs
from grader.verdicts import sandbox

pytestmark = pytest.mark.slow

MEMORY_MB = 2048

pytestmark = [pytestmark, fc.needs_sandbox]


def _fingerprints(root: Path) -> dict[str, bytes]:
    """Every file of the fixture course outside its grader/ folder (which holds the run's
    own output), and the repository's grader and utils code."""
    files = [
        p for p in root.rglob("*") if p.is_file() and "grader" not in p.relative_to(root).parts
    ]
    files += list((ROOT / "grader").glob("*.py")) + list((ROOT / "utils").rglob("*.py"))
    return {str(p): hashlib.sha256(p.read_bytes()).digest() for p in files}


def _processes_with(*needles: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(needle in cmdline for needle in needles) and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def _seed_stale_grade(root: Path) -> None:
    """An earlier full-marks grade for a student whose new submission is broken (it stays:
    only a newer, gradable submission of the assignment replaces a grade)."""
    from grader.course.nbgrader_api import Course

    gb = Course(root).gradebook()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy usage warns
        gb.update_or_create_student("stale_grade")
        gb.add_submission(fc.ASSIGNMENT, "stale_grade")
        for grade in gb.find_submission(fc.ASSIGNMENT, "stale_grade").notebooks[0].grades:
            grade.auto_score = grade.max_score
        gb.db.commit()
        gb.close()


@pytest.fixture(scope="module")
def graded(fixture_course, tmp_path_factory):
    from grader.grade import Options, grade_class

    root = fixture_course
    src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    rel = nbs.read(fc.release_path(root))
    folder = tmp_path_factory.mktemp("class") / "submitted"
    for student, (build, *_rest) in CLASS.items():
        out = folder / student / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb"
        out.parent.mkdir(parents=True)
        made = build(src, rel)
        if isinstance(made, bytes):
            out.write_bytes(made)
        else:
            out.write_text(nbs.dumps(made), encoding="utf-8")
    (folder / "stale_grade" / fc.ASSIGNMENT).mkdir(parents=True)
    (folder / "stale_grade" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb").write_text("{oops")
    (folder / "missing_nb" / fc.ASSIGNMENT).mkdir(parents=True)
    (folder / "missing_nb" / fc.ASSIGNMENT / "timestamp.txt").write_text("2025-01-01 10:00:00")
    archive = shutil.make_archive(str(folder.parent / "class"), "zip", folder.parent, "submitted")
    _seed_stale_grade(root)
    before = _fingerprints(root)
    available_before = _mem_available()
    lines: list[str] = []
    options = Options(
        jobs=2, timeout=120, cell_timeout=3, memory_mb=MEMORY_MB, progress=lines.append
    )
    results, grader = grade_class(root, Path(archive), options)
    by_student = {r.student: r for r in results}
    with open(grader.reports / "report.csv", encoding="utf-8") as f:
        report = list(csv.DictReader(f))
    return {
        "root": root,
        "files_before": before,
        "files_after": _fingerprints(root),
        "left_running": _processes_with(MARKER, str(root), str(grader.scratch)),
        "results": by_student,
        "report": report,
        "progress": lines,
        "scores": gradebook.all_scores(root),
        "grader": grader,
        "available": (available_before, _mem_available()),
    }


def _mem_available() -> int:
    """The machine's available memory in bytes (Linux), else 0."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            fields = dict(line.split(":", 1) for line in f)
    except OSError:
        return 0
    return int(fields["MemAvailable"].split()[0]) * 1024


def test_sandboxes_give_back_their_memory_and_cgroups(graded):
    """After a class with a memory-filling and a fork-bombing student, the machine's free
    memory is back and no sandbox's cgroup is left behind."""
    before, after = graded["available"]
    assert after > before - 512 * 2**20, (before, after)
    version, where = sandbox.cgroup_version()
    if version is None:
        pytest.skip(f"no cgroup limits here: {where}")
    parents = [Path(where) / sandbox.CGROUP_PARENT]
    if version == "v1":
        parents = [Path(where) / c / sandbox.CGROUP_PARENT for c in ("memory", "pids")]
    left = [p for parent in parents if parent.is_dir() for p in parent.iterdir() if p.is_dir()]
    assert not left, left


def _gradebook_total(graded, student):
    cells = {k[3]: v for k, v in graded["scores"].items() if k[0] == student}
    if not cells:
        return None
    return sum(score for name, (score, _m, _a) in cells.items() if name.startswith("test_"))


@pytest.mark.parametrize("student", sorted(CLASS))
def test_every_submission_has_its_expected_outcome(graded, student):
    _build, status, score = CLASS[student]
    result = graded["results"][student]
    if status == "graded":  # the fixture's task is graded by hand: nobody has yet
        status = "pending hand grading"
        assert "to grade by hand" in result.reason
        assert [c.grade_id for c in result.cells if c.status == "pending"]
    assert result.status == status, (result.status, result.reason, result.cells)
    if status == "pending hand grading":
        assert result.score == score, [(c.grade_id, c.final, c.reason) for c in result.cells]
        # the gradebook agrees with the report (clean re-grade written back)
        assert _gradebook_total(graded, student) == score
    else:
        assert result.reason, "a submission that is not graded must say why"
        assert _gradebook_total(graded, student) is None, "no (stale) grade may remain"


def test_a_broken_newer_copy_leaves_the_earlier_grade_and_says_so(graded):
    result = graded["results"]["stale_grade"]
    # the gradebook's earlier grade, as the gradebook holds it (its cells still need a person)
    assert result.status == "pending hand grading", (result.status, result.reason)
    assert _gradebook_total(graded, "stale_grade") == 7
    notes = " ".join(note for _name, note in result.notes)
    assert "newer copy not graded (not a notebook (invalid JSON" in notes
    assert "this grade is of the earlier submission" in notes


def _reasons(graded, student):
    return " | ".join(
        row["reason"] for row in graded["report"] if row["student"] == student and row["reason"]
    )


@pytest.mark.parametrize(
    ("student", "words"),
    [
        ("numpy_patch_top", "relu is wrong"),
        ("numpy_patch_in_function", "numpy.allclose was replaced"),
        ("builtins_patch", "builtins.max was replaced"),
        ("checks_patch", "utils.checks.check_close was replaced"),
        ("ipython_patch", "sigmoid(z) is wrong"),
        ("calls_reference", "calls the reference implementation"),
        ("hardcoded", "count_tokens on another list"),
        ("infinite_loop", "timed out"),
        ("memory_bomb", "MemoryError"),
        ("os_exit_in_function", "exited with status 0 (os._exit in your code?)"),
        ("segfault", "killed by SIGSEGV"),
        ("corrupt_json", "invalid JSON"),
        ("not_a_notebook", "not a notebook"),
        ("stale_grade", "newer copy not graded (not a notebook (invalid JSON"),
        ("missing_nb", "missing notebook"),
        ("deletes_test", "test_count_tokens was deleted"),
        ("duplicates_test", "test_sigmoid was duplicated"),
        ("duplicates_solution", "the last copy is graded"),
        ("edits_metadata", "metadata of cell test_relu was edited"),
        ("edits_test", "locked cell test_sigmoid was edited"),
        ("wrong_kernelspec", "kernelspec 'julia-1.9' reset"),
    ],
)
def test_report_states_the_reason(graded, student, words):
    assert words in _reasons(graded, student)


def test_correct_exercises_keep_their_points(graded):
    """An attack on one exercise does not cost the others (nor help them)."""
    for student in ("numpy_patch_in_function", "builtins_patch", "calls_reference"):
        cells = {c.grade_id: c.final for c in graded["results"][student].cells}
        assert cells["test_count_tokens"] == CORRECT["count_tokens"]


def test_reports_and_progress(graded):
    reports = graded["grader"].reports
    with open(reports / "grades.csv", encoding="utf-8") as f:
        grades = {row["student"]: row for row in csv.DictReader(f)}
    assert set(grades) == set(CLASS) | {"stale_grade", "missing_nb"}
    assert grades["solution"]["score"] == "7"
    assert grades["solution"]["max_score"] == "9"  # 7 autograded + 2 graded by hand
    assert grades["corrupt_json"]["status"] == "not graded"
    report_md = (reports / "report.md").read_text()
    assert all(f"**{student}** {fc.ASSIGNMENT}: " in report_md for student in grades)
    assert any(line.startswith("[") for line in graded["progress"])


def test_autograded_notebook_shows_the_verdicts_and_runs_nothing(graded):
    """nbgrader ran no kernel: the student's cells have no outputs, each test cell shows what
    the re-grade's test printed and, when it failed, the failing check's message."""
    path = graded["root"] / "grader" / "autograded" / "hardcoded" / fc.ASSIGNMENT
    nb = nbs.read(path / f"{fc.NOTEBOOK}.ipynb")
    outputs = {nbs.grade_id(c) or c.source: c.outputs for c in nb.cells if c.cell_type == "code"}
    assert not outputs["count_tokens"]
    assert not outputs["sigmoid"]
    assert [(o.output_type, o.text) for o in outputs["test_sigmoid"]] == [
        ("stream", "sigmoid: all checks passed\n")
    ]  # what the test printed in the re-grade
    failed = [o for o in outputs["test_count_tokens"] if o.output_type == "error"]
    assert len(failed) == 1
    assert "count_tokens on another list" in failed[0].evalue


def test_feedback_leaks_no_hidden_test_or_mark_scheme(graded):
    from grader.reporting import feedback

    # Nobody graded the written answers: feedback refuses, and --force writes it anyway.
    refused = feedback.generate(graded["root"])
    assert "refusing to write feedback" in refused[-1]
    problems = feedback.generate(graded["root"], force=True, warn=lambda _text: None)
    assert not problems, problems
    html = sorted((graded["root"] / "grader" / "feedback").rglob("*.html"))
    assert len(html) >= 15
    text = (graded["root"] / "grader/feedback/hardcoded/00_fixture/fixture.html").read_text()
    assert "count_tokens on another list" in text  # the failing check's message is shown
    assert "z_hidden" not in text
    assert "BEGIN MARK SCHEME" not in text
    patched = (graded["root"] / "grader/feedback/checks_patch/00_fixture/fixture.html").read_text()
    assert "utils.checks.check_close was replaced" in patched  # as the kernel said


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_on_the_grader_fails_with_its_reason(graded, attack):
    words = ATTACKS[attack][3]
    if words is not None:
        reasons = _reasons(graded, attack) + " | " + graded["results"][attack].reason
        assert words in reasons


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_honest_student_graded_right_after_an_attack_loses_nothing(graded, attack):
    result = graded["results"][honest_after(attack)]
    assert (result.status, result.score) == ("pending hand grading", 7)
    assert all(c.status in ("passed", "manual", "pending") for c in result.cells)
    assert not [note for _nb, note in result.notes if "protocol" in note or "tamper" in note]


def test_no_attack_changed_a_course_file(graded):
    changed = sorted(
        path
        for path in graded["files_before"].keys() | graded["files_after"].keys()
        if graded["files_before"].get(path) != graded["files_after"].get(path)
    )
    assert not changed


def test_no_process_outlived_grading(graded):
    assert not graded["left_running"]
