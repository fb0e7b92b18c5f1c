"""Grading throughput: a synthetic class graded with ``python -m grader grade``'s engine.

    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/bench_grading.py --students 100 --jobs 2

Builds, in a temporary copy of the course (its own SQLite gradebook), N students for every
assignment in solutions/: 60 % submit the solution, 20 % the untouched release and 20 % the
solution with every other answer left undone. Grades them sandboxed (``--no-sandbox`` for a
comparison), then prints seconds per notebook and per student, the projection for 100
students, the machine's load average before and after and how busy its cores were (other work
on the machine makes every figure pessimistic). Not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from grader import ROOT
from grader.course import notebooks as nbs
from grader.course import release as pipeline
from grader.grade import Options, grade_class


def half_done(source_nb, release_nb):
    nb = pipeline.solved_copy(source_nb, release_nb)
    stubs = {nbs.grade_id(c): c.source for c in release_nb.cells if nbs.is_solution(c)}
    for index, cell in enumerate(c for c in nb.cells if nbs.is_solution(c)):
        if index % 2:
            cell.source = stubs[nbs.grade_id(cell)]
    return nb


def cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (Linux)."""
    with open("/proc/stat") as stat:
        fields = [float(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--no-sandbox", action="store_true", help="grade without bubblewrap (for comparison)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        course = pipeline.copy_course(ROOT, Path(tmp) / "course")
        assert not pipeline.generate(course, course / "notebooks", db=False)
        os.environ["NBGRADER_DB_URL"] = "sqlite:///" + str(course / "grader" / "gradebook.db")
        subs = Path(tmp) / "submitted"
        assignments = pipeline.source_notebooks(course)
        for assignment, paths in assignments.items():
            for path in paths:
                src = nbs.read(path)
                rel = nbs.read(course / "notebooks" / assignment / path.name)
                kinds = [pipeline.solved_copy(src, rel), rel, half_done(src, rel)]
                for i in range(args.students):
                    nb = kinds[0 if i % 5 < 3 else 1 if i % 5 == 3 else 2]
                    out = subs / f"student{i:03d}" / assignment / path.name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(nbs.dumps(nb), encoding="utf-8")
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds()
        start = time.monotonic()
        options = Options(jobs=args.jobs, progress=lambda s: print(s, file=sys.stderr))
        options.sandbox = not args.no_sandbox
        results, _run = grade_class(course, subs, options)
        elapsed = time.monotonic() - start
        cpu_after = cpu_seconds()
        busy, total = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
        n_notebooks = sum(len(p) for p in assignments.values()) * args.students
        # Written answers wait for a person: "pending hand grading" is graded by the machine.
        failed = [r for r in results if r.status not in ("graded", "pending hand grading")]
        per_student = elapsed / args.students
        figures = {
            "assignments": sorted(assignments),
            "students": args.students,
            "notebooks": n_notebooks,
            "jobs": args.jobs,
            "seconds": round(elapsed, 1),
            "seconds_per_notebook": round(elapsed / n_notebooks, 2),
            "seconds_per_student": round(per_student, 2),
            "projected_minutes_100_students": round(per_student * 100 / 60, 1),
            "not_graded": len(failed),
            "sandboxed": not args.no_sandbox,
            # Other work on the machine makes every figure pessimistic: say how busy it was.
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            # The whole machine's CPU while grading ran (grading and anything else): below
            # 100 % the cores waited (sandbox start-up, I/O); CPU seconds per notebook is the
            # figure other work on the machine inflates least.
            "machine_cpu_busy_percent": round(100 * busy / total, 1),
            "machine_cpu_seconds_per_notebook": round(busy / n_notebooks, 2),
            "cores": os.cpu_count(),
        }
        print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
