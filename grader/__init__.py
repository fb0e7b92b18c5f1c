"""Course tooling on top of nbgrader: release, pipeline checks, class grading, feedback and
the student bundle. Run ``python -m grader --help`` for the commands.

Course files: :mod:`grader.layout` (where every folder is), :mod:`grader.notebooks`
(normalising, leak detection), :mod:`grader.pipeline` (release and CI checks),
:mod:`grader.nbgrader_api` (nbgrader in one process), :mod:`grader.feedback`,
:mod:`grader.bundle`.

Grading a class (:mod:`grader.grade`, the orchestration): :mod:`grader.trusted_sources`
(sources read and verified once), :mod:`grader.intake` (submission layouts and repairs),
:mod:`grader.worker_protocol` (both halves of the service protocol), :mod:`grader.scheduler`
(jobs on services), :mod:`grader.regrade` (the re-grade service: every verdict),
:mod:`grader.definitions` (what of a notebook it runs), :mod:`grader.nbgrader_worker` and
:mod:`grader.verdict_outputs` (nbgrader records the verdicts, running no kernel),
:mod:`grader.score_policy` (final scores), :mod:`grader.gradebook` (every gradebook read and
write), :mod:`grader.reports`.

Student code runs only in the sandbox: :mod:`grader.sandbox` (bubblewrap),
:mod:`grader.student_calls` (calling a student's function in it from trusted test code),
:mod:`grader.plain_data` (the only values that cross).

The term around grading: :mod:`grader.term` (deadlines, extensions, penalty, roster, the
student id rule), :mod:`grader.handgrades` (what a regrade keeps, which copy wins; pure) and
:mod:`grader.handgrading` (the same on the gradebook, model answers, the formgrader command),
:mod:`grader.history` (one student's regrade merged into the class), :mod:`grader.preview`
(``grade --dry-run``), :mod:`grader.similarity` and :mod:`grader.classview` (the class view
of ``report.md``), :mod:`grader.export` and :mod:`grader.lms` (the export and LMS names).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
