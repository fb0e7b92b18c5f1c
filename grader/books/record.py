"""The books stage of a grading run: the verdicts become the gradebook's grades, no hand
grade is lost, and what grading found out is kept beside them (:mod:`.store`).

:meth:`Books.open` runs before nbgrader writes anything: it starts a result per submission,
keeps each submission's hand grades with the answers they were given for, and journals the
run (:mod:`.journal`), so a killed run loses no hand grade. :meth:`Books.close` then takes the
stage's verdicts: it writes the final scores (:mod:`grader.verdicts.score_policy`), removes
what cannot be graded (its hand grades saved first), restores or flags the hand grades,
shows graders the model answers, and records the results from which every report is rebuilt.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.books import gradebook, hand_grades, journal, store
from grader.course import notebooks as nbs
from grader.course.layout import CourseLayout
from grader.intake.batch import Batch
from grader.verdicts import score_policy as policy
from grader.verdicts.jobs import Verdicts
from grader.verdicts.score_policy import Status, SubmissionResult


@dataclass
class Books:
    layout: CourseLayout
    expected: dict[str, list[str]]  # assignment -> its notebooks
    source_nbs: dict  # (assignment, notebook) -> the trusted source notebook
    max_score: Callable[[str], float]
    sandboxed: bool
    hand: dict = field(default_factory=dict)  # (student, assignment) -> hand grades before
    backups: dict = field(default_factory=dict)  # (student, assignment) -> where they were saved
    # (student, assignment) -> why the newer copy is not graded (the earlier grade stays)
    keep_earlier: dict = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.layout.root

    def open(self, batch: Batch) -> dict[tuple[str, str], SubmissionResult]:
        """A result for every submission of ``batch``, its notes from intake; the hand grades
        as they are before this run, and the run journalled."""
        results: dict[tuple[str, str], SubmissionResult] = {}
        for (student, assignment), notebooks in sorted(batch.taken.submissions.items()):
            res = SubmissionResult(student, assignment, self.max_score(assignment))
            results[(student, assignment)] = res
            for name, entry in notebooks.items():
                res.notes += [(name, note) for note in entry.notes]
                if entry.error:
                    res.notes.append((name, f"not graded: {entry.error}"))
            if not any(entry.staged for entry in notebooks.values()):
                res.status = Status.NOT_GRADED
                res.reason = "; ".join(e.error for e in notebooks.values() if e.error)
        # A submission that cannot be graded never removes an earlier grade of its assignment
        # (the earlier submission stays staged and graded; the report says so).
        with gradebook.opened(self.root) as gb:
            for student, assignment in results:
                self.hand[(student, assignment)] = hand_grades.snapshot(
                    gb, self.layout.autograded, student, assignment
                )
                res = results[(student, assignment)]
                if res.status == Status.NOT_GRADED and (
                    gradebook.submission_scores(gb, assignment, student)
                    or (student, assignment) in batch.taken.ungradable_newer
                ):
                    self.keep_earlier[(student, assignment)] = res.reason
        # Recorded before nbgrader writes anything, removed with the results (journal.end).
        self.hand = journal.begin(gradebook.db_url(self.root), self.hand)
        return results

    def close(self, results: dict, verdicts: Verdicts) -> None:
        """The final scores and hand grades of ``results`` (changed in place) from
        ``verdicts``."""
        self._merge(results, verdicts)
        self._hand_grades(results)

    def add_missing(self, results: dict, assignments: list[str], roster, keep) -> None:
        """A student who submitted something, but not an assignment others submitted; and
        every roster student in this run (``keep``), for every assignment graded."""
        students = {s for s, _ in results}
        students |= {s.student_id for s in roster or [] if keep(s.student_id)}
        for student in students:
            for assignment in assignments:
                if (student, assignment) not in results:
                    results[(student, assignment)] = SubmissionResult(
                        student,
                        assignment,
                        self.max_score(assignment),
                        Status.NO_SUBMISSION,
                        "nothing was submitted for this assignment",
                    )

    def record(self, results: dict, batch: Batch, shard: str, timing: dict) -> None:
        """Keep what this run found in the gradebook's database (:mod:`.store`), from which
        every report is rebuilt."""
        rows = []
        with store.Store(gradebook.db_url(self.root)) as st:
            for key, res in sorted(results.items()):
                student, assignment = key
                if res.status == Status.NO_SUBMISSION:
                    continue
                if key in self.keep_earlier:
                    old = st.get("result", student, assignment)
                    if old is None:  # graded before this grader kept records: from nbgrader
                        old = self._record_from_gradebook(student, assignment)
                        if old is None:
                            continue
                    earlier = store.result_from(old)
                    earlier.notes = [n for n in earlier.notes if not n[1].startswith("newer copy")]
                    earlier.notes.append(
                        (
                            "",
                            f"newer copy not graded ({self.keep_earlier[key]}); this grade is "
                            "of the earlier submission, which stays",
                        )
                    )
                    rows.append(
                        (student, assignment, {**old, "result": dataclasses.asdict(earlier)})
                    )
                    continue
                rows.append((student, assignment, store.result_data(res, *self._stored_files(key))))
            st.put_many("result", rows)
            journal.end(st, results)
            for student, key in st.all("unplaced"):
                if key == batch.label and batch.keep(student):
                    st.delete("unplaced", student, batch.label)
            st.put_many(
                "unplaced", [(s, batch.label, lines) for s, lines in batch.taken.unplaced.items()]
            )
            st.put("problems", "", batch.label, batch.taken.problems)
            st.put("timing", "", shard, timing)

    # -- inside the stage -------------------------------------------------------------------

    def _merge(self, results: dict, verdicts: Verdicts) -> None:
        with gradebook.opened(self.root) as gb:
            for key, res in results.items():
                student, assignment = key
                out = verdicts.recorded.get(key)
                if out is None:
                    if res.status == Status.NOT_GRADED and key not in self.keep_earlier:
                        self._forget(gb, assignment, student)  # no stale grade stays
                    continue
                if not out.get("success"):
                    res.status, res.reason = Status.NOT_GRADED, policy.nbgrader_failure_reason(out)
                    self._forget(gb, assignment, student)
                    continue
                scores = out.get("scores", {})
                cells = []
                try:
                    for name in self.expected[assignment]:
                        regraded = verdicts.regraded.get((student, assignment, name))
                        if regraded is None:
                            continue  # refused at intake, noted there
                        res.notes += [
                            (name, f"clean re-grade: {n}") for n in regraded.get("notes", [])
                        ]
                        cells += policy.notebook_verdicts(
                            name,
                            self.source_nbs[(assignment, name)],
                            scores.get(name, {}),
                            regraded,
                        )
                except policy.NotGraded as why:
                    res.status, res.reason = Status.NOT_GRADED, str(why)
                    self._forget(gb, assignment, student)
                    continue
                for cell in cells:
                    auto = (scores.get(cell.notebook, {}).get(cell.grade_id) or [None])[0]
                    if cell.status != "manual" and auto is not None and cell.final != auto:
                        gradebook.set_auto_score(
                            gb, assignment, student, cell.notebook, cell.grade_id, cell.final
                        )
                res.cells = cells
                res.score = policy.total(cells)

    def _forget(self, gb, assignment: str, student: str) -> None:
        """Remove a submission's grades and autograded copy (nothing stale may remain). Its
        hand grades are saved first (grader/reports/hand-grades/), so none is ever lost."""
        saved = hand_grades.backup(
            self.layout.reports / "hand-grades",
            student,
            assignment,
            self.hand.get((student, assignment)),
        )
        if saved is not None:
            self.backups[(student, assignment)] = saved
        shutil.rmtree(self.layout.autograded / student / assignment, ignore_errors=True)
        shutil.rmtree(self.layout.feedback / student / assignment, ignore_errors=True)
        gradebook.remove_submission(gb, assignment, student)

    def _hand_grades(self, results: dict) -> None:
        """Restore hand grades after the regrade, mark cells still to grade by hand, and show
        graders the model answers beside the answers."""
        with gradebook.opened(self.root) as gb:
            for key, res in results.items():
                student, assignment = key
                if key in self.backups:
                    res.notes.append(
                        (
                            "",
                            f"hand grades saved to {self.backups[key]} before the submission "
                            "was removed from the gradebook",
                        )
                    )
                if res.status != Status.GRADED:
                    continue
                old = self.hand.get(key) or []
                if old:
                    plan = hand_grades.restore(gb, self.layout.autograded, student, assignment, old)
                    res.notes += [("", note) for note in plan.notes()]
                    if plan.keep:
                        res.notes.append(
                            ("", f"{len(plan.keep)} hand grade(s) kept (answer unchanged)")
                        )
                pending = hand_grades.mark_manual_cells(gb, assignment, student, res.cells)
                res.score = policy.total(res.cells)
                if pending:
                    res.status = Status.PENDING
                    res.reason = f"{pending} answer(s) still to grade by hand"
                for name in self.expected[assignment]:
                    path = self.layout.autograded / student / assignment / f"{name}.ipynb"
                    if path.exists():
                        nb = nbs.read(path)
                        source = self.source_nbs[(assignment, name)]
                        if hand_grades.add_model_answers(nb, source):
                            path.write_text(nbs.dumps(nb), encoding="utf-8")

    def _record_from_gradebook(self, student: str, assignment: str) -> dict | None:
        graded = gradebook.read_gradebook(gradebook.db_url(self.root), [assignment]).get(
            (student, assignment)
        )
        if graded is None or not graded.cells:
            return None
        result = store.result_from_gradebook(
            student, assignment, self.max_score(assignment), graded
        )
        return store.result_data(result)

    def _stored_files(self, key) -> tuple[dict, dict]:
        """The answer cells (for similarity) and the times of a staged submission."""
        student, assignment = key
        folder = self.layout.submitted / student / assignment
        answers = {}
        for name in self.expected[assignment]:
            staged = folder / f"{name}.ipynb"
            if staged.exists():
                for cell in nbs.read(staged).cells:
                    if nbs.is_solution(cell) and cell.cell_type == "code":
                        answers[nbs.grade_id(cell)] = cell.source
        times: dict = {"sandboxed": self.sandboxed}
        for name, file in (("submitted", "timestamp.txt"), ("received", "received.txt")):
            if (folder / file).exists():
                times[name] = (folder / file).read_text(encoding="utf-8", errors="replace")
        return answers, times
