"""nbgrader configuration for the course (found automatically from the repository root).

``solutions/`` is the nbgrader source (solutions and hidden tests, kept by instructors) and
``notebooks/`` is the release that students receive. Everything an instructor produces while
grading lives under ``grader/`` and is git-ignored.
"""

import os

c = get_config()  # noqa: F821 -- provided by traitlets when nbgrader loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "seqmodels"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = os.path.join("grader", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("grader", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("grader", "feedback")
c.CourseDirectory.solution_directory = os.path.join("grader", "solution")
# A larger course points this at PostgreSQL instead (README, "A larger course: PostgreSQL
# and JupyterHub").
c.CourseDirectory.db_url = os.environ.get(
    "NBGRADER_DB_URL", "sqlite:///" + os.path.join(ROOT, "grader", "gradebook.db")
)
# Only the assignment folders are copied on release; no data files besides the notebooks.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Release: strip run metadata so that regenerating the release is byte-for-byte reproducible.
c.ClearOutput.remove_metadata_fields = ["collapsed", "scrolled", "execution", "ExecuteTime"]

# Autograde hardening (README, "Grading a class", "Broken submissions").
c.Execute.timeout = 20  # seconds per cell; a stuck cell scores 0 and grading goes on
c.Execute.interrupt_on_timeout = True
c.OverwriteCells.add_missing_cells = True  # deleted test cells are put back and run

# Feedback must not reveal hidden tests, mark schemes or hidden-test tracebacks.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "grader.reporting.feedback.StripGradeCellTracebacks",
    "grader.reporting.feedback.StripModelAnswers",
    # Score after any late penalty and the failing tests first, failing cells marked, maths
    # drawn offline (grader/reporting/feedback_view.py).
    "grader.reporting.feedback_view.StudentView",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
