"""Course tooling on top of nbgrader: release, pipeline checks, class grading, feedback and
the student bundle. Run ``python -m grader --help`` for the commands.

Modules: :mod:`grader.notebooks` (normalising, leak detection), :mod:`grader.pipeline`
(release and CI checks), :mod:`grader.grade` (one-command class grading),
:mod:`grader.intake` (submission layouts and repairs), :mod:`grader.worker` (nbgrader worker
process), :mod:`grader.clean` (the clean re-grade), :mod:`grader.feedback`,
:mod:`grader.bundle`.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
