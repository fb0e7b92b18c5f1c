"""``python -m grader COMMAND``: the instructor's commands (run from anywhere in the repo).

release            normalise solutions/ and regenerate notebooks/ (+ the gradebook's copy)
normalize          strip outputs and run metadata from solutions/ (--check: only report)
check              CI checks: drift, leaks, validation, autograde round trip
grade SUBMISSIONS  grade a class: a submitted/ folder, a flat folder or a .zip
                   (--assignment A, --student ID: only those, merged into the class reports;
                   --dry-run: print what a regrade would change, write nothing)
grade-by-hand      open nbgrader's formgrader (instructors) to grade written answers
feedback           write feedback for every graded submission (leak-checked; refuses while
                   answers are still to be graded by hand, unless --force)
import-hand-grades FILE.csv  record hand grades (student,assignment,cell,points,comment)
report             rebuild grades.csv, report.csv and report.md (class view, similarity)
                   from the gradebook (also after every grade, export and import)
check-term         check grader/term.toml against the roster and the course
export             grader/reports/export.csv (status and reason per student and assignment)
                   and canvas.csv (one row per student, for an LMS), from the gradebook
bundle OUT         the student bundle (a folder, or a zip if OUT ends in .zip)
slurm SUBMISSIONS  grade a class as a Slurm job array into one gradebook (--tasks N,
                   --wait; --status, --retry-failed for a task that did not finish)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from grader import ROOT
from grader.books import gradebook
from grader.course.layout import CourseLayout
from grader.options import Options  # the grade defaults, stated there only

# Each command is two functions side by side: ``args_<name>(parser)`` declares its arguments
# and ``cmd_<name>(args, root)`` runs it and returns the exit code. COMMANDS (at the end) lists
# them in the order --help shows them. The modules that pull in nbgrader (or are slow to
# import) are imported inside the functions, so that ``--help`` stays fast.

# The commands that read or write the gradebook (each says which one it uses).
GRADEBOOK_COMMANDS = {
    "release",
    "grade",
    "grade-by-hand",
    "feedback",
    "export",
    "report",
    "import-hand-grades",
}


def _report(problems: list[str], ok: str) -> int:
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(ok)
    return 0


def _error(text: str, code: int = 2) -> int:
    print(f"error: {text}", file=sys.stderr)
    return code


def _reports_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reports", type=Path, default=None, help="default: grader/reports/")


def _term_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--term", type=Path, default=None, help="default: grader/term.toml")


def args_release(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-db", action="store_true", help="do not update the gradebook")


def cmd_release(args: argparse.Namespace, root: Path) -> int:
    from grader.course import release

    return _report(release.release(root, db=not args.no_db), "notebooks/ regenerated")


def args_normalize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check", action="store_true", help="only report notebooks that need it")


def cmd_normalize(args: argparse.Namespace, root: Path) -> int:
    from grader.course import release

    if args.check:
        return _report(release.not_normalized(root), "solutions/ is normalised")
    for path in release.normalize(root):
        print(f"normalised {path}")
    return 0


CHECKS = ["drift", "leaks", "validate", "roundtrip"]


def args_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--skip", nargs="*", default=[], choices=CHECKS)


def cmd_check(args: argparse.Namespace, root: Path) -> int:
    from grader import check
    from grader.course import release
    from grader.course.nbgrader_api import Course

    course = Course(root)
    problems = []
    if "drift" not in args.skip:
        problems += release.drift(root, course)
    if "leaks" not in args.skip:
        problems += release.leaks(root)
    if "validate" not in args.skip:
        problems += release.validate(root, course)
    if "roundtrip" not in args.skip:
        problems += check.roundtrip(root)[0]
    return _report(problems, "all pipeline checks passed")


def args_grade(p: argparse.ArgumentParser) -> None:
    default = Options()
    p.add_argument("submissions", type=Path, help="submitted/ layout folder, flat folder or .zip")
    p.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    p.add_argument(
        "--jobs",
        type=int,
        default=default.jobs,
        help=f"students graded at once, one sandbox each (default {default.jobs})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=default.timeout,
        help="seconds for nbgrader to record one assignment",
    )
    p.add_argument(
        "--cell-timeout",
        type=float,
        default=default.cell_timeout,
        help="seconds per test cell in the re-grade",
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=default.memory_mb,
        help="address-space limit per process",
    )
    _reports_argument(p)
    k, n = default.shard
    p.add_argument(
        "--shard",
        default=f"{k}/{n}",
        metavar="K/N",
        help="grade only the K-th of N slices of students",
    )
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code without bubblewrap (UNSAFE; every report says so)",
    )
    p.add_argument(
        "--student",
        action="append",
        help="grade only this student (repeatable; merged into the class reports)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print per student what would change; write nothing"
    )
    p.add_argument(
        "--replace", action="store_true", help="let older copies replace newer staged submissions"
    )


def cmd_grade(args: argparse.Namespace, root: Path) -> int:
    from grader.grade import grade_class
    from grader.intake.shards import parse_shard
    from grader.reporting.report_files import summary
    from grader.verdicts.sandbox import SandboxUnavailable

    if not args.submissions.exists():
        return _error(
            f"{args.submissions} does not exist (give a folder of submissions or a .zip of them)"
        )

    def progress(text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    options = Options(
        jobs=args.jobs,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory_mb=args.memory_mb,
        assignments=args.assignment,
        progress=progress,
        reports=args.reports,
        sandbox=not args.no_sandbox,
        students=args.student,
        replace=args.replace,
    )
    try:
        options.shard = parse_shard(args.shard)
        if args.dry_run:
            from grader.preview import preview

            lines, _results = preview(root, args.submissions, options)
            print("\n".join(lines))
            return 0
        results, run = grade_class(root, args.submissions, options)
    except (ValueError, SandboxUnavailable) as error:
        return _error(str(error))
    print(summary(results, run.timing, run.unplaced))
    print(f"reports: {run.reports}/grades.csv, report.csv, report.md")
    return 0


def args_grade_by_hand(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("lab_args", nargs="*", help="more JupyterLab options (after --)")


def cmd_grade_by_hand(args: argparse.Namespace, root: Path) -> int:
    from grader.books import hand_grades

    command = hand_grades.formgrader_command(root, args.port, args.lab_args)
    print("grading by hand: " + " ".join(command), file=sys.stderr, flush=True)
    os.chdir(root)  # the formgrader reads nbgrader_config.py from the working directory
    os.execve(command[0], command, hand_grades.formgrader_env())  # does not return


def args_feedback(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assignment", action="append")
    p.add_argument(
        "--force", action="store_true", help="write feedback even with answers not graded by hand"
    )


def cmd_feedback(args: argparse.Namespace, root: Path) -> int:
    from grader.reporting import feedback

    def warn(text: str) -> None:
        print(text, file=sys.stderr)

    return _report(
        feedback.generate(root, args.assignment, force=args.force, warn=warn),
        "feedback written to grader/feedback/",
    )


def args_export(p: argparse.ArgumentParser) -> None:
    _reports_argument(p)
    _term_argument(p)


def cmd_export(args: argparse.Namespace, root: Path) -> int:
    from grader.reporting import export

    try:
        paths, rows = export.export(root, args.reports, args.term)
    except ValueError as error:  # a bad term file or roster
        return _error(str(error))
    for line in export.summary(rows):
        print(line)
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


def args_report(p: argparse.ArgumentParser) -> None:
    _reports_argument(p)


def cmd_report(args: argparse.Namespace, root: Path) -> int:
    from grader.reporting import rebuild

    try:
        results = rebuild.rebuild(root, args.reports)
    except ValueError as error:
        return _error(str(error))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no results")
    folder = CourseLayout.of(root, args.reports).reports
    print(f"reports: {folder}/grades.csv, report.csv, report.md")
    return 0


def args_import_hand_grades(p: argparse.ArgumentParser) -> None:
    p.add_argument("csv", type=Path, help="columns: student,assignment,cell,points,comment")


def cmd_import_hand_grades(args: argparse.Namespace, root: Path) -> int:
    from grader.books import hand_import
    from grader.reporting import rebuild

    if not args.csv.is_file():
        return _error(f"{args.csv} is not a file")
    done, problems = hand_import.import_csv(root, args.csv)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s): nothing was recorded", file=sys.stderr)
        return 1
    for line in done:
        print(f"recorded {line}")
    rebuild.rebuild(root)
    print(f"{len(done)} hand grade(s) recorded; reports rebuilt (grader/reports/)")
    return 0


def args_check_term(p: argparse.ArgumentParser) -> None:
    _term_argument(p)


def cmd_check_term(args: argparse.Namespace, root: Path) -> int:
    from grader.course import notebooks as nbs
    from grader.intake import term as term_mod

    layout = CourseLayout.of(root)
    path = args.term or layout.submitted.parent / "term.toml"
    if not path.exists():
        print(f"no term file at {path} (no deadlines, extensions or roster)")
        return 0
    try:
        problems = term_mod.check_term(path, nbs.assignments(layout.source))
        term = term_mod.load_term(path)
    except ValueError as error:
        return _error(str(error), code=1)
    if problems:
        return _report(problems, "")
    roster = f"a roster of {len(term.roster)}" if term.roster is not None else "no roster"
    print(
        f"{path}: OK ({len(term.due)} due date(s), {len(term.extensions)} student(s) with "
        f"extensions, {roster})"
    )
    return 0


def args_slurm(p: argparse.ArgumentParser) -> None:
    from grader import slurm

    slurm.add_arguments(p)


def cmd_slurm(args: argparse.Namespace, root: Path) -> int:
    from grader import slurm

    return slurm.command(root, args)


def args_bundle(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path)


def cmd_bundle(args: argparse.Namespace, root: Path) -> int:
    from grader.course import bundle

    out, warnings = bundle.build(root, args.out)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return _report(bundle.check(root, out), f"student bundle written to {out}")


Arguments = Callable[[argparse.ArgumentParser], None]

# name -> its line in the command list, in --help's order; ``args_<name>`` declares its
# arguments and ``cmd_<name>`` runs it (dashes in the name become underscores).
COMMANDS = {
    "release": "regenerate notebooks/ from solutions/",
    "normalize": "strip outputs and run metadata from solutions/",
    "check": "drift, leak, validation and round-trip checks",
    "grade": "grade a class",
    "grade-by-hand": "open the formgrader to grade written answers",
    "feedback": "generate feedback for graded submissions",
    "export": "export.csv and canvas.csv from the gradebook",
    "report": "rebuild the class reports from the gradebook",
    "import-hand-grades": "record hand grades from a CSV (no browser needed)",
    "check-term": "check term.toml against the roster and the course",
    "slurm": "grade a class as a Slurm job array",
    "bundle": "build the student bundle",
}


def _command(name: str, role: str):
    """``args_<name>`` or ``cmd_<name>`` of this module."""
    return globals()[f"{role}_{name.replace('-', '_')}"]


class _CommandParser(argparse.ArgumentParser):
    """A command's parser that declares its arguments only when that command is parsed (or its
    help shown): :mod:`grader.slurm` declares the slurm command's, and importing it takes a
    second or more (nbformat), which ``--help`` should not wait for."""

    declare: Arguments | None = None

    def _declared(self) -> None:
        declare, self.declare = self.declare, None
        if declare is not None:
            declare(self)

    def parse_known_args(self, args=None, namespace=None):
        self._declared()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._declared()
        return super().format_usage()

    def format_help(self) -> str:
        self._declared()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="course root (default: this repo)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    for name, summary in COMMANDS.items():
        sub.add_parser(name, help=summary).declare = _command(name, "args")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = args.root.resolve()
    if args.command in GRADEBOOK_COMMANDS and not getattr(args, "no_db", False):
        # Which gradebook (SQLite or PostgreSQL): said first, on stderr with the progress.
        print(gradebook.describe(gradebook.db_url(root)), file=sys.stderr, flush=True)
    return _command(args.command, "cmd")(args, root)


if __name__ == "__main__":
    sys.exit(main())
