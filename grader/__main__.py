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
from pathlib import Path

from grader import ROOT


def _report(problems: list[str], ok: str) -> int:
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(ok)
    return 0


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="course root (default: this repo)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    p.add_argument("--no-db", action="store_true", help="do not update the gradebook")
    p = sub.add_parser("normalize", help="strip outputs and run metadata from solutions/")
    p.add_argument("--check", action="store_true", help="only report notebooks that need it")
    p = sub.add_parser("check", help="drift, leak, validation and round-trip checks")
    checks = ["drift", "leaks", "validate", "roundtrip"]
    p.add_argument("--skip", nargs="*", default=[], choices=checks)
    p = sub.add_parser("grade", help="grade a class")
    p.add_argument("submissions", type=Path, help="submitted/ layout folder, flat folder or .zip")
    p.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    p.add_argument(
        "--jobs", type=int, default=2, help="students graded at once, one sandbox each (default 2)"
    )
    p.add_argument(
        "--timeout", type=float, default=600, help="seconds for nbgrader to record one assignment"
    )
    p.add_argument(
        "--cell-timeout", type=float, default=20, help="seconds per test cell in the re-grade"
    )
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit per process")
    p.add_argument("--reports", type=Path, default=None, help="default: grader/reports/")
    p.add_argument(
        "--shard", default="1/1", metavar="K/N", help="grade only the K-th of N slices of students"
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
    p = sub.add_parser("grade-by-hand", help="open the formgrader to grade written answers")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("lab_args", nargs="*", help="more JupyterLab options (after --)")
    p = sub.add_parser("feedback", help="generate feedback for graded submissions")
    p.add_argument("--assignment", action="append")
    p.add_argument(
        "--force", action="store_true", help="write feedback even with answers not graded by hand"
    )
    p = sub.add_parser("export", help="export.csv and canvas.csv from the gradebook")
    p.add_argument("--reports", type=Path, default=None, help="default: grader/reports/")
    p.add_argument("--term", type=Path, default=None, help="default: grader/term.toml")
    p = sub.add_parser("report", help="rebuild the class reports from the gradebook")
    p.add_argument("--reports", type=Path, default=None, help="default: grader/reports/")
    p = sub.add_parser(
        "import-hand-grades", help="record hand grades from a CSV (no browser needed)"
    )
    p.add_argument("csv", type=Path, help="columns: student,assignment,cell,points,comment")
    p = sub.add_parser("check-term", help="check term.toml against the roster and the course")
    p.add_argument("--term", type=Path, default=None, help="default: grader/term.toml")
    p = sub.add_parser("slurm", help="grade a class as a Slurm job array")
    from grader import slurm as slurm_cli

    slurm_cli.add_arguments(p)
    p = sub.add_parser("bundle", help="build the student bundle")
    p.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command in GRADEBOOK_COMMANDS and not getattr(args, "no_db", False):
        from grader import gradebook

        # Which gradebook (SQLite or PostgreSQL): said first, on stderr with the progress.
        print(gradebook.describe(gradebook.db_url(root)), file=sys.stderr, flush=True)

    if args.command == "normalize":
        from grader import pipeline

        if args.check:
            return _report(pipeline.not_normalized(root), "solutions/ is normalised")
        for path in pipeline.normalize(root):
            print(f"normalised {path}")
        return 0
    if args.command == "release":
        from grader import pipeline

        return _report(pipeline.release(root, db=not args.no_db), "notebooks/ regenerated")
    if args.command == "check":
        from grader import pipeline
        from grader.nbgrader_api import Course

        course = Course(root)
        problems = []
        if "drift" not in args.skip:
            problems += pipeline.drift(root, course)
        if "leaks" not in args.skip:
            problems += pipeline.leaks(root)
        if "validate" not in args.skip:
            problems += pipeline.validate(root, course)
        if "roundtrip" not in args.skip:
            problems += pipeline.roundtrip(root)[0]
        return _report(problems, "all pipeline checks passed")
    if args.command == "grade":
        from grader.grade import Options, grade_class, parse_shard
        from grader.reports import summary
        from grader.sandbox import SandboxUnavailable

        if not args.submissions.exists():
            print(
                f"error: {args.submissions} does not exist (give a folder of submissions or a "
                ".zip of them)",
                file=sys.stderr,
            )
            return 2

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
            results, grader = grade_class(root, args.submissions, options)
        except (ValueError, SandboxUnavailable) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        unplaced = sum(len(lines) for lines in grader.taken.unplaced.values())
        print(summary(results, grader.timing, unplaced))
        print(f"reports: {grader.reports}/grades.csv, report.csv, report.md")
        return 0
    if args.command == "feedback":
        from grader import feedback

        def warn(text: str) -> None:
            print(text, file=sys.stderr)

        return _report(
            feedback.generate(root, args.assignment, force=args.force, warn=warn),
            "feedback written to grader/feedback/",
        )
    if args.command == "grade-by-hand":
        from grader import handgrading

        command = handgrading.formgrader_command(root, args.port, args.lab_args)
        print("grading by hand: " + " ".join(command), file=sys.stderr, flush=True)
        os.chdir(root)  # the formgrader reads nbgrader_config.py from the working directory
        os.execve(command[0], command, handgrading.formgrader_env())
    if args.command == "export":
        from grader import export

        try:
            paths, rows = export.export(root, args.reports, args.term)
        except ValueError as error:  # a bad term file or roster
            print(f"error: {error}", file=sys.stderr)
            return 2
        for line in export.summary(rows):
            print(line)
        print("written: " + ", ".join(str(p) for p in paths))
        return 0
    if args.command == "report":
        from grader import classreport
        from grader.layout import CourseLayout

        try:
            results = classreport.rebuild(root, args.reports)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        counts = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no results")
        folder = CourseLayout.of(root, args.reports).reports
        print(f"reports: {folder}/grades.csv, report.csv, report.md")
        return 0
    if args.command == "import-hand-grades":
        from grader import classreport, handimport

        if not args.csv.is_file():
            print(f"error: {args.csv} is not a file", file=sys.stderr)
            return 2
        done, problems = handimport.import_csv(root, args.csv)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(f"{len(problems)} problem(s): nothing was recorded", file=sys.stderr)
            return 1
        for line in done:
            print(f"recorded {line}")
        classreport.rebuild(root)
        print(f"{len(done)} hand grade(s) recorded; reports rebuilt (grader/reports/)")
        return 0
    if args.command == "check-term":
        from grader import notebooks as nbs
        from grader import term as term_mod
        from grader.layout import CourseLayout

        layout = CourseLayout.of(root)
        path = args.term or layout.submitted.parent / "term.toml"
        if not path.exists():
            print(f"no term file at {path} (no deadlines, extensions or roster)")
            return 0
        try:
            problems = term_mod.check_term(path, nbs.assignments(layout.source))
            term = term_mod.load_term(path)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        if problems:
            return _report(problems, "")
        roster = f"a roster of {len(term.roster)}" if term.roster is not None else "no roster"
        print(
            f"{path}: OK ({len(term.due)} due date(s), {len(term.extensions)} student(s) with "
            f"extensions, {roster})"
        )
        return 0
    if args.command == "slurm":
        return slurm_cli.command(root, args)
    if args.command == "bundle":
        from grader import bundle

        out, warnings = bundle.build(root, args.out)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return _report(bundle.check(root, out), f"student bundle written to {out}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
