"""A class graded by a real Slurm cluster: ``python -m grader slurm`` as a job array into one
PostgreSQL gradebook, and a task cancelled in the middle of grading, then retried.

The cluster is started here, in a temporary folder, and stopped afterwards: munged with its
own key and socket, slurmctld and slurmd (as in ``../shared/notes/slurm.md``, with free ports
and ``SLURM_CONF`` instead of ``/etc/slurm``). The PostgreSQL server is the one
``test_postgres.py`` starts. Needs Debian's ``slurm-wlm`` and ``munge`` and root (slurmd
starts each task as its user); skipped with the reason when they are missing, unless
``SEQ_REQUIRE_SLURM=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import fixture_course as fc
import pytest
import test_postgres

from grader.course import notebooks as nbs
from grader.course import release as pipeline

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
postgres_url = test_postgres.postgres_url  # the PostgreSQL server the suite already starts

needs_sandbox = fc.needs_sandbox

DAEMONS = ["/usr/sbin/munged", "/usr/sbin/mungekey", "/usr/sbin/slurmctld", "/usr/sbin/slurmd"]
TASKS = 3
# Seven students in three tasks (the shard hash: task 1 ada, cy, dee, eve; task 2 bob, gus;
# task 3 fay), identical answers across tasks (similarity flags across shards), and
# one slow but correct student (gus: 4 s per call) so that a task can be cancelled mid-grading.
CLASS = {"ada": "solved", "bob": "solved", "cy": "half", "dee": "release", "eve": "solved"}
CLASS |= {"fay": "half", "gus": "slow"}
SLOW = """def count_tokens(tokens):
    import time
    time.sleep(4)
    counts = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    return counts
"""


def _unavailable() -> str | None:
    missing = [p for p in DAEMONS if not os.access(p, os.X_OK)]
    missing += [t for t in ("sbatch", "sinfo", "squeue", "scancel") if not shutil.which(t)]
    if missing:
        return (
            "slurm-wlm and munge are not installed (apt-get install slurm-wlm munge): missing "
            + ", ".join(missing)
        )
    if os.geteuid() != 0:
        return "starting slurmd and munged for a test needs root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(pidfile: Path, seconds: float = 10) -> None:
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node Slurm cluster; yields the environment its commands need (SLURM_CONF)."""
    why = _unavailable()
    if why:
        if os.environ.get("SEQ_REQUIRE_SLURM") == "1":
            pytest.fail(why + "; SEQ_REQUIRE_SLURM=1 requires them")
        pytest.skip(why)
    state = tmp_path_factory.mktemp("slurm")
    for parent in [state, *state.parents]:  # munged wants every folder above its socket open
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    munge = state / "munge"
    for folder in ("state", "spool", "log", "munge"):
        (state / folder).mkdir()
    shutil.chown(munge, "munge", "munge")
    key = munge / "munge.key"
    run = dict(check=True, capture_output=True, text=True)
    subprocess.run(["/usr/sbin/mungekey", "--create", f"--keyfile={key}"], **run)
    shutil.chown(key, "munge", "munge")
    key.chmod(0o600)
    socket_path = munge / "socket"
    subprocess.run(
        [
            "runuser",
            "-u",
            "munge",
            "--",
            "/usr/sbin/munged",
            f"--socket={socket_path}",
            f"--key-file={key}",
            f"--pid-file={munge / 'pid'}",
            f"--log-file={munge / 'log'}",
            f"--seed-file={munge / 'seed'}",
        ],
        **run,
    )
    conf = state / "slurm.conf"
    conf.write_text(
        f"""ClusterName=seqtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={socket_path}
CredType=cred/munge
StateSaveLocation={state}/state
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/log/slurmctld.log
SlurmdLogFile={state}/log/slurmd.log
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=4
KillWait=5
MailProg=/bin/true
NodeName=localhost CPUs={os.cpu_count()} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
""",
        encoding="utf-8",
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    try:
        subprocess.run(["/usr/sbin/slurmctld", "-f", str(conf)], env=env, **run)
        subprocess.run(["/usr/sbin/slurmd", "-f", str(conf), "-N", "localhost"], env=env, **run)
        for _ in range(100):
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True)
            if out.stdout.strip() == b"idle":
                break
            time.sleep(0.3)
        else:
            logs = (state / "log" / "slurmctld.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"the test cluster never became idle: {out.stdout!r}\n{logs}")
        yield env
    finally:
        _stop(state / "slurmd.pid")
        _stop(state / "slurmctld.pid")
        _stop(munge / "pid")


def _database(server_url: str, name: str) -> str:
    """A new, empty database on the test's PostgreSQL server; its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def _course(target: Path, db_url: str, monkeypatch) -> Path:
    root = fc.make_course(target)
    monkeypatch.setenv("NBGRADER_DB_URL", db_url)
    assert not pipeline.release(root)
    return root


def _submissions(root: Path, folder: Path) -> Path:
    src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    rel = nbs.read(fc.release_path(root))
    solved = pipeline.solved_copy(src, rel)
    kinds = {
        "solved": solved,
        "release": rel,
        "half": fc.replace_solutions(solved, {"sigmoid": "def sigmoid(z):\n    return z\n"}),
        "slow": fc.replace_solutions(solved, {"count_tokens": SLOW}),
    }
    folder.mkdir()
    for student, kind in CLASS.items():
        (folder / f"{student}_fixture.ipynb").write_text(nbs.dumps(kinds[kind]))
    return folder


def _env(slurm_env: dict, db_url: str) -> dict:
    path = f"{Path(sys.executable).parent}:{slurm_env['PATH']}"
    return {**slurm_env, "NBGRADER_DB_URL": db_url, "PATH": path, "OPENBLAS_NUM_THREADS": "1"}


def _grader(root: Path, env: dict, *args: str, check: bool = True, timeout: float = 900):
    command = [sys.executable, "-m", "grader", "--root", str(root), *args]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, (
            f"{' '.join(args)}: {out.returncode}\n{out.stdout}\n{out.stderr}"
        )
    return out


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return sorted(csv.DictReader(f), key=lambda r: (r["student"], r["assignment"]))


def _class_view(report_md: Path) -> list[str]:
    """report.md's class view and needs-attention lines, without timing and gradebook lines."""
    lines = report_md.read_text(encoding="utf-8").splitlines()
    keep = []
    for line in lines:
        lowered = line.lower()
        if any(w in lowered for w in ("per notebook", "gradebook:", "generated", "shard", "took")):
            continue
        keep.append(line)
    return keep


def _reports(root: Path) -> dict:
    folder = root / "grader" / "reports"
    return {
        "grades": _rows(folder / "grades.csv"),
        "report": _rows(folder / "report.csv"),
        "view": _class_view(folder / "report.md"),
    }


GRADE = ["--cell-timeout", "20"]


@pytest.fixture(scope="module")
def reference(postgres_url, tmp_path_factory):
    """The class graded unsharded on this machine: its reports, and the wall time."""
    tmp = tmp_path_factory.mktemp("slurm-reference")
    db = _database(postgres_url, "slurm_reference")
    with pytest.MonkeyPatch.context() as mp:
        root = _course(tmp / "course", db, mp)
    subs = _submissions(root, tmp / "class")
    env = {**os.environ, "NBGRADER_DB_URL": db, "OPENBLAS_NUM_THREADS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    t0 = time.monotonic()
    _grader(root, env, "grade", str(subs), "--jobs", "1", *GRADE)
    seconds = time.monotonic() - t0
    return _reports(root), seconds, subs


def _tasks_of_class() -> dict[int, list[str]]:
    from grader.slurm import split

    return split(sorted(CLASS), TASKS)


@needs_sandbox
def test_a_class_graded_as_a_slurm_array_equals_one_unsharded_run(
    slurm,
    postgres_url,
    reference,
    tmp_path,
    monkeypatch,
    capsys,
):
    expected, unsharded_seconds, subs = reference
    assert all(_tasks_of_class().values()), "every task must have students"
    db = _database(postgres_url, "slurm_array")
    root = _course(tmp_path / "course", db, monkeypatch)
    env = _env(slurm, db)
    t0 = time.monotonic()
    out = _grader(
        root,
        env,
        "slurm",
        str(subs),
        "--tasks",
        str(TASKS),
        "--cpus-per-task",
        "1",
        "--wait",
        *GRADE,
    )
    array_seconds = time.monotonic() - t0
    assert "submitted Slurm job" in out.stdout
    assert "squeue -j" in out.stdout
    assert f"{TASKS} of {TASKS} tasks finished: {len(CLASS)} of {len(CLASS)}" in out.stdout
    run = next((root / "grader" / "slurm").iterdir())
    script = (run / "grade.sh").read_text()
    assert "#SBATCH --output=" in script
    assert '--shard "$K/$TASKS"' in script
    assert db not in script, "no gradebook URL in the script"
    assert "NBGRADER_DB_URL=" not in script
    for k in range(1, TASKS + 1):
        assert (run / f"task-{k}.done").exists()
        assert f"task {k} of {TASKS}" in (run / f"task-{k}.out").read_text()
    got = _reports(root)
    assert got["grades"] == expected["grades"]
    assert got["report"] == expected["report"]
    assert got["view"] == expected["view"]
    assert any("ada" in line and "bob" in line for line in got["view"]), "flags across tasks"
    with capsys.disabled():
        print(
            f"\n[slurm] same class: unsharded {unsharded_seconds:.1f} s, "
            f"{TASKS}-task array {array_seconds:.1f} s (submit to reports)"
        )


@needs_sandbox
def test_a_task_cancelled_mid_grading_is_named_then_retried_to_the_same_result(
    slurm,
    postgres_url,
    reference,
    tmp_path,
    monkeypatch,
):
    expected, _seconds, subs = reference
    tasks = _tasks_of_class()
    cancelled = next(k for k, students in tasks.items() if "gus" in students)
    assert len(tasks[cancelled]) >= 2, tasks
    assert tasks[cancelled][-1] == "gus", tasks
    db = _database(postgres_url, "slurm_cancel")
    root = _course(tmp_path / "course", db, monkeypatch)
    env = _env(slurm, db)
    command = [sys.executable, "-m", "grader", "--root", str(root), "slurm", str(subs)]
    command += ["--tasks", str(TASKS), "--cpus-per-task", "1", "--wait", *GRADE]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The task has graded its first student (nbgrader has written to the gradebook) and is
    # in the middle of the slow one: cancel it there.
    deadline = time.monotonic() + 600
    output = None
    while time.monotonic() < deadline:
        runs = list((root / "grader" / "slurm").glob("*/task-*.out"))
        output = next((p for p in runs if p.name == f"task-{cancelled}.out"), None)
        if output is not None and f"[1/{len(tasks[cancelled])}]" in output.read_text():
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    else:
        pytest.fail("the task never graded its first student")
    run = output.parent
    job = (run / "plan.json").read_text().split('"job": "')[1].split('"')[0]
    subprocess.run(["scancel", f"{job}_{cancelled}"], env=env, check=True)
    out, err = proc.communicate(timeout=600)
    out, err = out.decode(), err.decode()
    assert proc.returncode == 1, out + err
    assert f"task {cancelled} of {TASKS}" in out
    assert "cancelled" in out
    assert "--retry-failed" in out
    assert f"sbatch --wait --array={cancelled} " in out
    assert not (run / f"task-{cancelled}.done").exists()

    # The report names the task and every student it left ungraded; none of them has a score,
    # nobody appears twice, and the other tasks' students are graded as in one run.
    report_md = (root / "grader" / "reports" / "report.md").read_text()
    assert f"task {cancelled} of {TASKS}" in report_md
    assert "cancelled" in report_md
    for student in tasks[cancelled]:
        assert student in report_md.split(f"task {cancelled} of {TASKS}")[1].split("\n")[0]
    rows = _rows(root / "grader" / "reports" / "grades.csv")
    keys = [(r["student"], r["assignment"]) for r in rows]
    assert len(keys) == len(set(keys))
    by_student = {r["student"]: r for r in rows}
    for student in tasks[cancelled]:
        row = by_student.get(student)
        assert row is None or (row["status"] == "not graded" and row["score"] == ""), row
    for row in expected["grades"]:
        if row["student"] not in tasks[cancelled]:
            assert by_student[row["student"]] == row

    retry = _grader(root, env, "slurm", "--retry-failed", "--wait")
    assert "submitted Slurm job" in retry.stdout
    assert f"task {cancelled}" in retry.stdout
    assert f"{TASKS} of {TASKS} tasks finished" in retry.stdout
    got = _reports(root)
    assert got["grades"] == expected["grades"]
    assert got["report"] == expected["report"]
    assert got["view"] == expected["view"]
    assert f"task {cancelled} of {TASKS}" not in (root / "grader/reports/report.md").read_text()
