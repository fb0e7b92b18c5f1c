"""The same grading command against nbgrader's PostgreSQL gradebook (db_url), on a real local
server that this test starts in a temporary folder and stops afterwards.

Needs the PostgreSQL server binaries (Debian: ``apt-get install -y postgresql``). Skipped with
the reason when they are missing, unless ``SEQ_REQUIRE_POSTGRES=1`` (set by CI), which turns
the skip into a failure.
"""

from __future__ import annotations

import csv
import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import fixture_course as fc
import pytest

from grader.books import gradebook
from grader.course import notebooks as nbs
from grader.course import release

pytestmark = [pytest.mark.postgres, pytest.mark.slow, fc.needs_sandbox]


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    bindir = _binaries()
    if bindir is None:
        message = "PostgreSQL server binaries not found (apt-get install -y postgresql)"
        if os.environ.get("SEQ_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + "; SEQ_REQUIRE_POSTGRES=1 requires them")
        pytest.skip(message)
    base = tmp_path_factory.mktemp("pg")
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        base.chmod(0o755)
        prefix = ["runuser", "-u", "postgres", "--"]
        for parent in base.parents:  # postgres must be able to reach the folder
            if parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o011)
    port = _free_port()
    run = dict(check=True, capture_output=True, text=True)
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "grader"], **run
    )
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
        **run,
    )
    try:
        for _ in range(50):
            ready = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        subprocess.run(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "grader",
                "gradebook",
            ],
            **run,
        )
        yield f"postgresql+psycopg2://grader@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )


def _class(root: Path, folder: Path) -> Path:
    """Four students in the flat layout (STUDENT_NOTEBOOK.ipynb): two in each of two shards."""
    src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    rel = nbs.read(fc.release_path(root))
    solved = release.solved_copy(src, rel)
    half = fc.replace_solutions(solved, {"sigmoid": "def sigmoid(z):\n    return z\n"})
    folder.mkdir()
    for student, nb in {"ada": solved, "bob": rel, "dee": solved, "fay": half}.items():
        (folder / f"{student}_fixture.ipynb").write_text(nbs.dumps(nb))
    return folder


def _csv_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return sorted(csv.DictReader(f), key=lambda row: row["student"])


def test_grading_with_a_postgresql_gradebook_one_machine_or_two_shards_at_once(
    postgres_url, tmp_path, monkeypatch
):
    from grader.grade import Options, grade_class
    from grader.intake.shards import in_shard

    monkeypatch.setenv("NBGRADER_DB_URL", postgres_url)
    root = fc.make_course(tmp_path / "course")
    assert not release.release(root)
    flat = _class(root, tmp_path / "flat")
    results, grader = grade_class(root, flat, Options(jobs=1, cell_timeout=5))
    assert {r.student: r.score for r in results} == {"ada": 7, "bob": 0, "dee": 7, "fay": 5}
    assert not (root / "grader" / "gradebook.db").exists(), "SQLite was used instead"
    scores = gradebook.all_scores(root)
    assert scores[("ada", fc.ASSIGNMENT, fc.NOTEBOOK, "test_count_tokens")][0] == 3
    assert scores[("bob", fc.ASSIGNMENT, fc.NOTEBOOK, "test_count_tokens")][0] == 0
    one_run = _csv_rows(grader.reports / "grades.csv")

    # Two machines (two clones of the course) grade one shard each, at the same time, into
    # the same gradebook.
    assert {s for s in ["ada", "bob", "dee", "fay"] if in_shard(s, (1, 2))} == {"dee", "fay"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    runs = []
    for k in (1, 2):
        clone = fc.make_course(tmp_path / f"machine{k}")
        assert not release.release(clone, db=False)
        command = [sys.executable, "-m", "grader", "--root", str(clone), "grade", str(flat)]
        command += ["--shard", f"{k}/2", "--jobs", "1", "--cell-timeout", "5"]
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        runs.append((clone, subprocess.Popen(command, env=env, **pipes)))
    rows = []
    for clone, run in runs:
        _out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        rows += _csv_rows(clone / "grader" / "reports" / "grades.csv")
    assert sorted(rows, key=lambda row: row["student"]) == one_run
    assert gradebook.all_scores(root) == scores


def _new_database(server_url: str, name: str) -> str:
    """A new, empty database on the test's server (the module's own one holds other runs)."""
    import sqlalchemy as sa

    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    finally:
        engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def test_report_over_the_shared_gradebook_is_one_class_view_with_flags_across_shards(
    postgres_url, tmp_path, monkeypatch, capsys
):
    """Two shards (two clones of the course) fill one gradebook; each shard's report.md shows
    its slice only, and ``python -m grader report`` on either machine shows the whole class,
    with the copy across the shards (ada in 2/2, dee in 1/2, both the model solution) flagged."""
    from grader.__main__ import main
    from grader.intake.shards import in_shard

    url = _new_database(postgres_url, "shards_report")
    monkeypatch.setenv("NBGRADER_DB_URL", url)
    first = fc.make_course(tmp_path / "machine1")
    assert not release.release(first)  # fills the shared gradebook
    flat = _class(first, tmp_path / "flat")
    assert in_shard("dee", (1, 2))
    assert in_shard("ada", (2, 2))
    second = fc.make_course(tmp_path / "machine2")
    assert not release.release(second, db=False)
    for k, clone in ((1, first), (2, second)):
        command = ["--root", str(clone), "grade", str(flat), "--shard", f"{k}/2"]
        assert main([*command, "--jobs", "1", "--cell-timeout", "5"]) == 0
        shard_report = (clone / "grader" / "reports" / "report.md").read_text()
        assert f"Shard {k}/2: this report shows its slice of the class" in shard_report
        assert "ada and dee are" not in shard_report  # one of them is not in this slice
    capsys.readouterr()

    assert main(["--root", str(second), "report"]) == 0
    assert "gradebook: PostgreSQL database 'shards_report'" in capsys.readouterr().err
    reports = second / "grader" / "reports"
    report = (reports / "report.md").read_text()
    assert "Shard" not in report
    assert f"{fc.ASSIGNMENT}: ada and dee are 100% alike" in report
    grades = {row["student"]: row for row in _csv_rows(reports / "grades.csv")}
    assert {s: grades[s]["score"] for s in grades} == {
        "ada": "7",
        "bob": "0",
        "dee": "7",
        "fay": "5",
    }
    assert "| 00_fixture | 4 | " in report  # the class view counts all four submissions
