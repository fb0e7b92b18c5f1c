"""The same grading command against nbgrader's PostgreSQL gradebook (db_url), on a real local
server that this test starts in a temporary folder and stops afterwards.

Needs the PostgreSQL server binaries (Debian: ``apt-get install -y postgresql``). Skipped with
the reason when they are missing, unless ``SEQ_REQUIRE_POSTGRES=1`` (set by CI), which turns
the skip into a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import fixture_course as fc
import pytest

from grader import notebooks as nbs
from grader import pipeline

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


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


def test_grading_with_a_postgresql_gradebook(postgres_url, tmp_path, monkeypatch):
    from grader.grade import Options, grade_class

    monkeypatch.setenv("NBGRADER_DB_URL", postgres_url)
    root = fc.make_course(tmp_path / "course")
    assert not pipeline.release(root)
    src = nbs.read(root / "solutions" / fc.ASSIGNMENT / f"{fc.NOTEBOOK}.ipynb")
    rel = nbs.read(fc.release_path(root))
    flat = tmp_path / "flat"  # the flat layout: STUDENT_NOTEBOOK.ipynb
    flat.mkdir()
    (flat / "ada_fixture.ipynb").write_text(nbs.dumps(pipeline.solved_copy(src, rel)))
    (flat / "bob_fixture.ipynb").write_text(nbs.dumps(rel))
    results, _ = grade_class(root, flat, Options(jobs=1, cell_timeout=5))
    assert {r.student: r.score for r in results} == {"ada": 7, "bob": 0}
    assert not (root / "grader" / "gradebook.db").exists(), "SQLite was used instead"
    scores = pipeline.gradebook_scores(root)
    assert scores[("ada", fc.ASSIGNMENT, fc.NOTEBOOK, "test_count_tokens")][0] == 3
    assert scores[("bob", fc.ASSIGNMENT, fc.NOTEBOOK, "test_count_tokens")][0] == 0
