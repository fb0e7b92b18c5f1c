"""The checks behind each assignment's graded test cells, one module per assignment.

Each ``check_<function>(func, seed=0)`` runs the student's ``func`` on isolation cases and on
random cases drawn from ``seed`` and compares it with the ``utils`` reference. A notebook's
visible test calls it with the default seed; the grader's hidden tests call it again with other
seeds and shapes: the same contract, never a different one. Student code is always called
through :func:`utils.checks.guarded_call`, so tampering with numpy or utils, or calling the
reference implementation, fails the check.
"""
