"""``python -m grader slurm SUBMISSIONS --tasks N``: a class graded by a Slurm job array.

Each array task grades one slice of the students (``grade --shard K/N``) on a compute node,
into the one gradebook every task shares (PostgreSQL, from ``NBGRADER_DB_URL``). The command

1. checks what the nodes need: the course, its ``.venv`` and the submissions on a filesystem
   every node mounts at the same path (the submit host's ``/tmp`` or local disk is not), and a
   gradebook the nodes can reach (PostgreSQL for more than one task: tasks writing one SQLite
   file at once would corrupt it);
2. writes a run folder ``grader/slurm/<time>/``: ``grade.sh`` (the batch script, readable,
   every ``sbatch`` option in its ``#SBATCH`` lines), ``plan.json`` (which students each task
   grades), and, as the tasks run, ``task-K.out`` (their output), ``task-K.done`` (written by
   a task that finished) and ``task-K/`` (that task's own reports and logs);
3. submits the script as an array and prints the job id and how to follow it; with ``--wait``
   it blocks until every task has ended, then records which tasks did not finish (and whose
   submissions they left ungraded) in the gradebook and rebuilds the class reports from the
   gradebook (``python -m grader report``: similarity across every task).

No password is written anywhere: the script reads ``NBGRADER_DB_URL`` from the environment
that ``sbatch`` passes on (``--export=ALL``); a URL without a password and a ``~/.pgpass`` on
the shared home keeps it out of Slurm's job records too.

A task that is cancelled, killed or fails writes no ``task-K.done``; ``--status`` (and the end
of ``--wait``) names it with its students, and ``--retry-failed`` (or the printed ``sbatch
--array=K`` line, which runs the same script) grades that slice again. What a killed task
leaves in the gradebook is described in :mod:`grader.books.journal`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.books import store
from grader.course import notebooks as nbs
from grader.course.layout import CourseLayout, load_config
from grader.intake import files as intake
from grader.intake import lms
from grader.intake import term as term_mod
from grader.intake.shards import in_shard
from grader.options import Options

# Filesystems that a cluster's nodes share (what /proc/mounts calls them).
SHARED_FS = {
    "nfs",
    "nfs4",
    "lustre",
    "gpfs",
    "beegfs",
    "fuse.beegfs",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "fuse.ceph",
    "fuse.cephfs",
    "glusterfs",
    "fuse.glusterfs",
    "panfs",
    "wekafs",
    "afs",
    "orangefs",
    "pvfs2",
    "fuse.sshfs",
    "fuse.juicefs",
    "cvmfs",
}

PROBLEM_KEY = "Slurm job"  # the gradebook's problem record of a run: "Slurm job <first id>"


class SlurmError(Exception):
    """Something the instructor must change before the class can be submitted."""


# --------------------------------------------------------------------------------------------
# What the nodes must be able to see
# --------------------------------------------------------------------------------------------


def _mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount, longest mount point first."""
    out = []
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) >= 3:
            point = parts[1].encode().decode("unicode_escape")  # \040 is a space
            out.append((point, parts[2]))
    return sorted(out, key=lambda m: len(m[0]), reverse=True)


def filesystem_of(path: Path) -> tuple[str, str]:
    """(mount point, filesystem type) that ``path`` lives on."""
    resolved = str(Path(path).resolve())
    for point, fstype in _mounts():
        if resolved == point or resolved.startswith(point.rstrip("/") + "/"):
            return point, fstype
    return "/", "unknown"


def _this_host() -> set[str]:
    name = socket.gethostname()
    return {"localhost", name, name.split(".")[0], socket.getfqdn()}


def partition_nodes(partition: str | None, env=None) -> list[str]:
    """The node names of ``partition`` (default: the default partition), from ``sinfo``."""
    command = ["sinfo", "-h", "-N", "-o", "%N"]
    if partition:
        command += ["-p", partition]
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SlurmError(f"sinfo failed: {out.stderr.strip() or out.stdout.strip()}")
    return sorted({line.strip() for line in out.stdout.splitlines() if line.strip()})


def unshared_paths(paths: dict[str, Path]) -> list[str]:
    """One line per path that is not on a filesystem the nodes share."""
    problems = []
    temp = Path(tempfile.gettempdir()).resolve()
    for what, path in paths.items():
        resolved = Path(path).resolve()
        point, fstype = filesystem_of(resolved)
        if resolved == temp or resolved.is_relative_to(temp):
            problems.append(
                f"{what} {resolved} is under {temp}, which is this host's own: the nodes never "
                "see the submit host's temporary folder"
            )
        elif fstype not in SHARED_FS:
            problems.append(
                f"{what} {resolved} is on a {fstype} filesystem (mounted at {point}), which "
                "the compute nodes do not see unless your site shares it"
            )
    return problems


def gradebook_problem(db_url: str, tasks: int, single_host: bool) -> str | None:
    """Why the tasks cannot all write the gradebook ``db_url`` (None if they can)."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if tasks > 1:
            return (
                f"the gradebook is SQLite ({url.database}): {tasks} tasks writing one SQLite "
                "file at once (over a network filesystem, too) can corrupt it. Set "
                "NBGRADER_DB_URL to a PostgreSQL gradebook (README: PostgreSQL, step by step)"
            )
        return None
    host = url.host or ""
    if not single_host and (host in ("", "localhost", "::1") or host.startswith("127.")):
        return (
            f"the gradebook's host is {host or 'a local socket'}, which on a compute node means "
            "the node itself: use the database server's name in NBGRADER_DB_URL"
        )
    return None


# --------------------------------------------------------------------------------------------
# The class: which students each task grades
# --------------------------------------------------------------------------------------------


def class_submissions(root: Path, submissions: Path, assignments=None) -> dict[str, list[str]]:
    """student -> the assignments they submitted, found the way ``grade`` finds them (zip or
    folder, any layout, a Canvas/Moodle download mapped through the roster)."""

    layout = CourseLayout.of(root)
    expected = {
        a: [p.stem for p in nbs.notebook_files(layout.source / a)]
        for a in nbs.assignments(layout.source)
    }
    selected = set(assignments) if assignments else None
    term = term_mod.load_term(layout.submitted.parent / "term.toml")
    signatures = intake.release_signatures(layout.release, expected)
    with tempfile.TemporaryDirectory(prefix="slurm-plan-") as tmp:
        folder = Path(submissions)
        if folder.is_file() and zipfile.is_zipfile(folder):
            intake.extract(folder, Path(tmp) / "unzipped", term.timezone)
            folder = Path(tmp) / "unzipped"
        if term.roster and folder.is_dir() and lms.looks_like_download(folder):
            lms.map_downloads(folder, Path(tmp) / "mapped", term.roster)
            folder = Path(tmp) / "mapped"
        located = intake.locate_all(folder, expected, selected, signatures)
        tops = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if len(tops) == 1 and tops[0].is_dir():  # a zip of one folder
            inner = intake.locate_all(tops[0], expected, selected, signatures)
            if len(inner.found) > len(located.found):
                located = inner
    found: dict[str, set[str]] = {}
    for student, assignment, _name in located.found:
        found.setdefault(student, set()).add(assignment)
    return {student: sorted(a) for student, a in sorted(found.items())}


def split(students: list[str], tasks: int) -> dict[int, list[str]]:
    """Task K -> its students: exactly those ``grade --shard K/N`` takes."""

    return {k: [s for s in students if in_shard(s, (k, tasks))] for k in range(1, tasks + 1)}


# --------------------------------------------------------------------------------------------
# The run folder and its batch script
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    folder: Path
    plan: dict = field(default_factory=dict)

    @property
    def script(self) -> Path:
        return self.folder / "grade.sh"

    @property
    def tasks(self) -> int:
        return int(self.plan["tasks"])

    def students(self, k: int) -> dict[str, list[str]]:
        return self.plan["students"].get(str(k), {})

    def done(self, k: int) -> bool:
        return (self.folder / f"task-{k}.done").exists()

    def output(self, k: int) -> Path:
        return self.folder / f"task-{k}.out"

    def save(self) -> None:
        text = json.dumps(self.plan, indent=1, sort_keys=True)
        (self.folder / "plan.json").write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Run:
        plan = json.loads((Path(folder) / "plan.json").read_text(encoding="utf-8"))
        return cls(Path(folder).resolve(), plan)


def runs_folder(root: Path) -> Path:
    return CourseLayout.of(root).submitted.parent / "slurm"


def latest_run(root: Path) -> Run:
    folders = sorted(p for p in runs_folder(root).glob("*/plan.json"))
    if not folders:
        raise SlurmError(f"no Slurm run in {runs_folder(root)} (submit one first)")
    return Run.load(folders[-1].parent)


def batch_script(run: Run, sbatch_options: list[str], grade_args: list[str]) -> str:
    """The batch script: every path absolute, nothing secret in it."""
    p = run.plan
    q = shlex.quote
    directives = "\n".join(f"#SBATCH {option}" for option in sbatch_options)
    grade = " ".join(q(a) for a in grade_args)
    return f"""#!/bin/bash
# Grades one slice of the class per array task: written by `python -m grader slurm` on
# {p["created"]}. Submitted as `sbatch --array=1-{p["tasks"]} {run.script}`; run one task
# again with `sbatch --array=K {run.script}` (K is the task, 1 to {p["tasks"]}).
# The gradebook comes from NBGRADER_DB_URL in the environment sbatch passes on; it is
# never written here.
{directives}
set -euo pipefail

ROOT={q(p["root"])}                # the course (on a filesystem every node shares)
PYTHON={q(p["python"])}            # the course's .venv
CODE={q(p["code"])}                # the grader's code (the course repository)
SUBMISSIONS={q(p["submissions"])}
RUN={q(str(run.folder))}
TASKS={p["tasks"]}                  # fixed here, so that --array=K grades slice K of {p["tasks"]}
K=${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch --array}}

for path in "$ROOT" "$PYTHON" "$CODE/grader" "$SUBMISSIONS" "$RUN"; do
    if [ ! -e "$path" ]; then
        echo "error: $path is not visible on $(hostname): the course, its .venv and the" \\
             "submissions must be on a filesystem every node mounts at the same path" >&2
        exit 3
    fi
done
: "${{NBGRADER_DB_URL:?is not set in the job (export it before sbatch; sbatch passes it on)}}"

rm -f "$RUN/task-$K.done"
export PATH="$(dirname "$PYTHON"):$PATH" PYTHONPATH="$CODE${{PYTHONPATH:+:$PYTHONPATH}}"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
echo "task $K of $TASKS (job ${{SLURM_ARRAY_JOB_ID:-?}}_$K) on $(hostname), $(date -Is)"
"$PYTHON" -m grader --root "$ROOT" grade "$SUBMISSIONS" --shard "$K/$TASKS" \\
    --reports "$RUN/task-$K" {grade}
echo "job ${{SLURM_ARRAY_JOB_ID:-?}} task $K on $(hostname), $(date -Is)" > "$RUN/task-$K.done"
echo "task $K done, $(date -Is)"
"""


# --------------------------------------------------------------------------------------------
# Submitting, waiting, status
# --------------------------------------------------------------------------------------------


def _sbatch(run: Run, array: str, wait: bool, say, env=None, on_submit=None) -> tuple[str, int]:
    """Submit ``run``'s script for the tasks ``array``; (job id, sbatch's exit status)."""
    command = ["sbatch", "--parsable", f"--array={array}"]
    if wait:
        command.append("--wait")
    command.append(str(run.script))
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=run.folder,
        env=env,
    )
    first = proc.stdout.readline().strip() if proc.stdout else ""
    job = first.split(";")[0]
    if job:
        run.plan.setdefault("jobs", []).append({"job": job, "array": array})
        run.save()
        if on_submit:
            on_submit(job)
        tasks = array if "-" in array or "," in array else f"task {array}"
        say(f"submitted Slurm job {job} ({tasks} of {run.tasks}); follow it with")
        say(f"  squeue -j {job}")
        say(f"  tail -f {run.folder}/task-*.out")
        if not wait:
            say(f"when it has ended: python -m grader slurm --status --run {run.folder}")
    rest, err = proc.communicate()
    if not job:
        raise SlurmError(f"sbatch failed: {(err or rest or first).strip()}")
    return job, proc.returncode


def _queued(run: Run, env=None) -> dict[int, str]:
    """Task -> its state in the queue (PENDING, RUNNING, ...) for this run's jobs."""
    jobs = ",".join(j["job"] for j in run.plan.get("jobs", []))
    if not jobs:
        return {}
    out = subprocess.run(
        ["squeue", "-h", "-r", "-j", jobs, "-o", "%i %T"],
        capture_output=True,
        text=True,
        env=env,
    )
    states = {}
    for line in out.stdout.splitlines():
        ident, _, state = line.strip().partition(" ")
        task = ident.rpartition("_")[2]
        if task.isdigit():
            states[int(task)] = state
    return states


def _why(run: Run, k: int) -> str:
    out = run.output(k)
    if not out.exists():
        return "it never started"
    text = out.read_text(encoding="utf-8", errors="replace")
    if "CANCELLED" in text:
        return "it was cancelled"
    if "DUE TO TIME LIMIT" in text:
        return "it ran out of time (raise --time)"
    if "oom" in text.lower() or "out of memory" in text.lower():
        return "it ran out of memory (raise --mem)"
    last = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
    return f"it failed ({last[0].strip()[:200]}; see {out})"


@dataclass
class Status:
    finished: list[int]
    running: dict[int, str]  # task -> PENDING/RUNNING/...
    failed: dict[int, str]  # task -> why

    @property
    def complete(self) -> bool:
        return not self.running and not self.failed


def status(run: Run, env=None) -> Status:
    queued = _queued(run, env)
    finished, running, failed = [], {}, {}
    for k in range(1, run.tasks + 1):
        if run.done(k) and k not in queued:
            finished.append(k)
        elif k in queued:
            running[k] = queued[k]
        else:
            failed[k] = _why(run, k)
    return Status(finished, running, failed)


def missing_lines(run: Run, st: Status) -> list[str]:
    """What the report says about tasks that did not finish: every student left ungraded."""
    lines = []
    first = run.plan["jobs"][0]["job"] if run.plan.get("jobs") else "?"
    for k, why in sorted(st.failed.items()):
        students = run.students(k)
        names = ", ".join(f"{s} ({' '.join(a)})" for s, a in students.items()) or "none"
        lines.append(
            f"task {k} of {run.tasks} (job {first}, --shard {k}/{run.tasks}) did not finish: "
            f"{why}. Not graded by this run: {names}. Grade them with `python -m grader slurm "
            f"--retry-failed --wait` or `sbatch --array={k} {run.script}` then "
            "`python -m grader report`"
        )
    for k, state in sorted(st.running.items()):
        names = ", ".join(run.students(k)) or "none"
        lines.append(f"task {k} of {run.tasks} is still {state.lower()}: {names}")
    return lines


def record_and_report(root: Path, run: Run, st: Status, say, env=None) -> int:
    """Put the run's unfinished tasks into the gradebook's problem list, then rebuild every
    report from the gradebook (``python -m grader report``)."""

    db_url = str(load_config(root).CourseDirectory.db_url)
    key = f"{PROBLEM_KEY} {run.plan['jobs'][0]['job']}" if run.plan.get("jobs") else PROBLEM_KEY
    lines = missing_lines(run, st)
    with store.Store(db_url) as records:
        if lines:
            records.put("problems", "", key, lines)
        else:
            records.delete("problems", "", key)
    report = subprocess.run(
        [sys.executable, "-m", "grader", "--root", str(root), "report"],
        capture_output=True,
        text=True,
        env=env,
    )
    for line in report.stdout.splitlines():
        say(line)
    if report.returncode != 0:
        say(report.stderr.strip())
        return report.returncode
    return 0


def summarise(run: Run, st: Status, say) -> None:
    total = sum(len(run.students(k)) for k in range(1, run.tasks + 1))
    done = sum(len(run.students(k)) for k in st.finished)
    say(f"{len(st.finished)} of {run.tasks} tasks finished: {done} of {total} students graded")
    for line in missing_lines(run, st):
        say(line)
    if st.failed:
        tasks = ",".join(str(k) for k in sorted(st.failed))
        say("to grade what is missing:")
        say("  python -m grader slurm --retry-failed --wait")
        say(f"  (or: sbatch --wait --array={tasks} {run.script} && python -m grader report)")


def prepare(
    root: Path,
    submissions: Path,
    tasks: int,
    *,
    partition: str | None = None,
    sbatch_args: list[str] | None = None,
    cpus: int = 2,
    grade_args: list[str] | None = None,
    assignments: list[str] | None = None,
    shared: bool = False,
    env=None,
) -> tuple[Run, list[str]]:
    """Check what the nodes need and write the run folder; (run, notes to print)."""

    if tasks < 1:
        raise SlurmError("--tasks must be at least 1")
    if shutil.which("sbatch", path=(env or os.environ).get("PATH")) is None:
        raise SlurmError("sbatch is not on PATH: run this on a Slurm submit host")
    root = Path(root).resolve()
    submissions = Path(submissions).resolve()
    if not submissions.exists():
        raise SlurmError(f"{submissions} does not exist (a folder of submissions or a .zip)")
    notes = []
    nodes = partition_nodes(partition, env)
    single_host = bool(nodes) and set(nodes) <= _this_host()
    python = Path(sys.executable)
    venv = Path(sys.prefix)
    code = Path(__file__).resolve().parents[1]  # the grader package's repository
    if not single_host:
        problems = unshared_paths(
            {
                "the course": root,
                "its environment": venv,
                "the grader's code": code,
                "the submissions": submissions,
            }
        )
        if problems and not shared:
            raise SlurmError(
                "the compute nodes ("
                + ", ".join(nodes[:5])
                + (" ..." if len(nodes) > 5 else "")
                + ") must see these at the same path:\n  "
                + "\n  ".join(problems)
                + "\nput the course (with its .venv) and the submissions on the cluster's "
                "shared filesystem (your home or project space, usually), or pass --shared if "
                "this filesystem is shared after all"
            )
        notes += [f"assumed shared (--shared): {p}" for p in problems]
    db_url = str(load_config(root).CourseDirectory.db_url)
    why = gradebook_problem(db_url, tasks, single_host)
    if why:
        raise SlurmError(why)
    from sqlalchemy.engine import make_url

    if make_url(db_url).password:
        notes.append(
            "NBGRADER_DB_URL holds a password: sbatch passes it to the tasks in their "
            "environment, which Slurm keeps in its job records (readable by the cluster's "
            "administrators). A URL without it and a ~/.pgpass (mode 600) keep it out."
        )
    found = class_submissions(root, submissions, assignments)
    if not found:
        raise SlurmError(f"no submission found in {submissions}")
    if tasks > len(found):
        notes.append(f"--tasks {tasks} for {len(found)} students: some tasks have nothing to do")
    per_task = split(list(found), tasks)
    created = dt.datetime.now().astimezone()
    folder = runs_folder(root) / created.strftime("%Y%m%d-%H%M%S")
    while folder.exists():
        created += dt.timedelta(seconds=1)
        folder = runs_folder(root) / created.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True)
    run = Run(
        folder,
        {
            "created": created.isoformat(timespec="seconds"),
            "root": str(root),
            "python": str(python),
            "code": str(code),
            "submissions": str(submissions),
            "tasks": tasks,
            "students": {str(k): {s: found[s] for s in v} for k, v in per_task.items()},
            "jobs": [],
        },
    )
    grade_args = list(grade_args or []) + ["--jobs", str(cpus)]
    for a in assignments or []:
        grade_args += ["--assignment", a]
    options = [
        "--job-name=seqgrade",
        f"--output={folder}/task-%a.out",
        f"--cpus-per-task={cpus}",
        "--export=ALL",
    ]
    if partition:
        options.append(f"--partition={partition}")
    options += list(sbatch_args or [])
    run.script.write_text(batch_script(run, options, grade_args), encoding="utf-8")
    run.script.chmod(0o755)
    run.save()
    return run, notes


def finish(root: Path, run: Run, say, env=None) -> int:
    """After the tasks have ended: record, rebuild the reports, summarise; 0 if complete."""
    st = status(run, env)
    code = record_and_report(root, run, st, say, env)
    summarise(run, st, say)
    return code or (0 if st.complete else 1)


def submit(root: Path, run: Run, wait: bool, say, env=None) -> int:
    _job, code = _sbatch(run, f"1-{run.tasks}", wait, say, env)
    if not wait:
        return 0
    say(f"sbatch --wait returned {code}")
    return finish(root, run, say, env)


def retry_failed(root: Path, run: Run, wait: bool, say, env=None) -> int:
    st = status(run, env)
    if st.running:
        raise SlurmError(
            "tasks still queued or running: "
            + ", ".join(f"{k} ({s})" for k, s in sorted(st.running.items()))
        )
    if not st.failed:
        say(f"every task of {run.folder} finished; nothing to retry")
        return finish(root, run, say, env) if wait else 0
    array = ",".join(str(k) for k in sorted(st.failed))
    _job, code = _sbatch(run, array, wait, say, env)
    if not wait:
        return 0
    say(f"sbatch --wait returned {code}")
    return finish(root, run, say, env)


# --------------------------------------------------------------------------------------------
# The command line (``python -m grader slurm``)
# --------------------------------------------------------------------------------------------


def add_arguments(p) -> None:
    p.add_argument(
        "submissions", type=Path, nargs="?", help="folder or .zip, on the shared filesystem"
    )
    p.add_argument("--tasks", type=int, default=2, help="array tasks, one slice of students each")
    p.add_argument("--partition", help="Slurm partition (default: the cluster's default)")
    p.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more sbatch option for the script, e.g. --sbatch-arg=--time=1:00:00",
    )
    p.add_argument(
        "--cpus-per-task", type=int, default=2, help="cores per task = students graded at once"
    )
    p.add_argument("--assignment", action="append", help="grade only this assignment")
    default = Options()
    p.add_argument(
        "--cell-timeout", type=float, default=default.cell_timeout, help="seconds per test cell"
    )
    p.add_argument(
        "--memory-mb", type=int, default=default.memory_mb, help="address-space limit per process"
    )
    p.add_argument(
        "--wait", action="store_true", help="block until the array ends, then write the reports"
    )
    p.add_argument(
        "--shared", action="store_true", help="the course and submissions ARE on a shared fs"
    )
    p.add_argument(
        "--status", action="store_true", help="say which tasks finished, rebuild the reports"
    )
    p.add_argument(
        "--retry-failed", action="store_true", help="resubmit the tasks that did not finish"
    )
    p.add_argument("--run", type=Path, help="a run folder (default: the latest grader/slurm/*)")


def command(root: Path, args) -> int:
    def say(text: str) -> None:
        print(text, flush=True)

    try:
        if args.status or args.retry_failed:
            run = Run.load(args.run) if args.run else latest_run(root)
            if args.retry_failed:
                return retry_failed(root, run, args.wait, say)
            return finish(root, run, say)
        if args.submissions is None:
            raise SlurmError("give the submissions (or --status / --retry-failed)")
        grade_args = ["--cell-timeout", f"{args.cell_timeout:g}"]
        grade_args += ["--memory-mb", str(args.memory_mb)]
        run, notes = prepare(
            root,
            args.submissions,
            args.tasks,
            partition=args.partition,
            sbatch_args=args.sbatch_arg,
            cpus=args.cpus_per_task,
            grade_args=grade_args,
            assignments=args.assignment,
            shared=args.shared,
        )
        for note in notes:
            say(f"note: {note}")
        say(f"batch script: {run.script}")
        for k in range(1, run.tasks + 1):
            say(f"  task {k}: {len(run.students(k))} student(s)")
        return submit(root, run, args.wait, say)
    except SlurmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
