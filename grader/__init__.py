"""Course tooling on top of nbgrader. Run ``python -m grader --help`` for the commands.

The packages are the stages a submission passes through, in order (each imports only from
the ones before it):

- :mod:`grader.course`: the course itself (folders, notebooks, release and CI checks, bundle);
- :mod:`grader.intake`: the term and roster, and every submitted file read and placed;
- :mod:`grader.verdicts`: the one run of every test cell, student code in a sandbox;
- :mod:`grader.books`: the verdicts recorded in nbgrader's gradebook, with the hand grades;
- :mod:`grader.reporting`: reports, export and feedback, rebuilt from the gradebook.

The modules beside them are the runs that use the stages: :mod:`grader.grade` (grade a class,
the list of the stages), :mod:`grader.preview` (``grade --dry-run``), :mod:`grader.check` (the
autograde round trip CI runs), :mod:`grader.slurm` (a class graded by a Slurm job array),
:mod:`grader.validate` and :mod:`grader.validate_server` (the student's check before
submitting, the same verdicts), and :mod:`grader.__main__` (the commands).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
