"""What grading found out, kept in the gradebook's own database beside nbgrader's tables.

nbgrader's tables hold the scores, hand grades and comments. What they cannot hold lives in
one table of the grader's, ``grader_record``, in the same database (SQLite or PostgreSQL):

- ``result``: per (student, assignment), the last grading run's verdicts, reasons and notes,
  the submission's claimed and received times, and its answer cells (for similarity);
- ``unplaced``: per (student, submissions file), the files of that student that could not be
  placed (reported, never a grade);
- ``problems``: per submissions file, the files of the class that could not be placed;
- ``timing``: per shard, how long the last run took.

So every report can be rebuilt from the gradebook alone (:mod:`grader.reporting.rebuild`): a
partial run (``--student``, ``--assignment``) drops nothing, hand grading shows at once, and
shards that share a PostgreSQL gradebook share one class view.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Iterable

from grader.verdicts import score_policy as policy
from grader.verdicts.score_policy import CellResult, Status, SubmissionResult

TABLE = "grader_record"


def _engine(db_url: str):
    import sqlalchemy as sa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = sa.create_engine(db_url)
    return engine


def _table():
    import sqlalchemy as sa

    meta = sa.MetaData()
    table = sa.Table(
        TABLE,
        meta,
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("student", sa.String(256), primary_key=True),
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    return meta, table


class Store:
    """The grader's records in the gradebook database at ``db_url``."""

    def __init__(self, db_url: str):
        self.engine = _engine(db_url)
        self.meta, self.table = _table()
        # Several shards may create it at the same moment: checkfirst, and a lost race is fine.
        try:
            self.meta.create_all(self.engine, checkfirst=True)
        except Exception:
            self.meta.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def put(self, kind: str, student: str, key: str, data) -> None:
        self.put_many(kind, [(student, key, data)])

    def put_many(self, kind: str, rows: Iterable[tuple[str, str, object]]) -> None:
        t = self.table
        now = time.time()
        with self.engine.begin() as conn:
            for student, key, data in rows:
                conn.execute(
                    t.delete().where(t.c.kind == kind, t.c.student == student, t.c.key == key)
                )
                conn.execute(
                    t.insert().values(
                        kind=kind,
                        student=student,
                        key=key,
                        data=json.dumps(data, ensure_ascii=False),
                        updated=now,
                    )
                )

    def delete(self, kind: str, student: str | None = None, key: str | None = None) -> None:
        t = self.table
        where = [t.c.kind == kind]
        if student is not None:
            where.append(t.c.student == student)
        if key is not None:
            where.append(t.c.key == key)
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(*where))

    def get(self, kind: str, student: str, key: str):
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(
                t.select().where(t.c.kind == kind, t.c.student == student, t.c.key == key)
            ).first()
        return None if row is None else json.loads(row.data)

    def all(self, kind: str) -> dict[tuple[str, str], object]:
        """``(student, key) -> data`` of every record of ``kind``."""
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(t.select().where(t.c.kind == kind)).all()
        return {(r.student, r.key): json.loads(r.data) for r in rows}


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def result_data(result, answers: dict | None = None, times: dict | None = None) -> dict:
    return {
        "result": dataclasses.asdict(result),
        "answers": answers or {},
        "times": times or {},
    }


def result_from(data: dict):
    """A :class:`grader.verdicts.score_policy.SubmissionResult` from a stored record."""

    item = dict(data["result"])
    cells = [CellResult(**c) for c in item.pop("cells", [])]
    notes = [tuple(n) for n in item.pop("notes", [])]
    return SubmissionResult(**item, cells=cells, notes=notes)


def with_gradebook_scores(result: SubmissionResult, graded) -> SubmissionResult:
    """``result`` (what grading found) with the gradebook's scores: hand grades, scores a
    person overrode, and which answers are still to grade by hand."""
    if result.status not in (Status.GRADED, Status.PENDING):
        return result
    if graded is None or not graded.cells:
        result.status = Status.NOT_GRADED
        result.reason = "no longer in the gradebook (removed since it was graded)"
        result.score = None
        return result
    cells = {(c.notebook, c.grade_id): c for c in graded.cells}
    pending = 0
    for cell in result.cells:
        g = cells.get((cell.notebook, cell.grade_id))
        if g is None:
            continue
        if cell.status in ("manual", "pending"):
            if g.needs_manual_grade:
                cell.status, cell.final, cell.reason = "pending", None, "pending hand grading"
                pending += 1
            else:
                cell.status, cell.final = "manual", g.score
                cell.reason = "graded by hand" if g.by_hand else "unanswered (scored 0)"
        elif g.by_hand and g.score != cell.final:
            cell.reason = "; ".join(
                filter(None, [cell.reason, f"score set by hand to {g.score:g}"])
            )
            cell.final = g.score
    result.score = policy.total(result.cells)
    if pending:
        result.status = Status.PENDING
        result.reason = f"{pending} answer(s) still to grade by hand"
    else:
        result.status = Status.GRADED
        if result.reason.endswith("still to grade by hand"):
            result.reason = ""
    return result


def result_from_gradebook(
    student: str, assignment: str, max_score: float, graded
) -> SubmissionResult:
    """A submission nbgrader holds that no grading run of this grader recorded (plain
    ``nbgrader autograde``, or the record was lost): its gradebook scores, said so."""
    result = SubmissionResult(student, assignment, max_score)
    for g in graded.cells:
        if g.needs_manual_grade:
            status, final, reason = "pending", None, "pending hand grading"
        elif g.by_hand or g.auto_score is None:
            status, final, reason = "manual", g.score, "graded by hand"
        else:
            status = "passed" if g.score >= g.max_score else "failed"
            final, reason = g.score, ""
        result.cells.append(
            CellResult(g.notebook, g.grade_id, g.max_score, final=final, status=status)
        )
        result.cells[-1].reason = reason
    result.notes.append(("", "in the gradebook without a grading record of this grader"))
    return with_gradebook_scores(result, graded)
