"""Start and stop the JupyterLab the browser tests drive.

Student mode is the README's `make lab`: flags and ``JUPYTER_CONFIG_PATH`` come from the
Makefile alone; the test only chooses the port, the folder served (``LAB_ROOT``, a temporary
copy of notebooks/) and adds ``LAB_ARGS`` (no browser, a token, local address only). Everything
the server would write to the home directory (runtime files, user settings, workspaces, IPython
history) goes to a scratch directory, and bytecode writing is off, so a run leaves nothing in
the repository or the home directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"  # where `make setup` installs JupyterLab
LAB_START_TIMEOUT = 60  # seconds; a cold start on 2 cores takes about 5


@dataclass
class Lab:
    """A running JupyterLab: where it is, how to log in, and what it serves."""

    url: str  # base URL, no trailing slash
    token: str
    root_dir: Path
    log: Path

    def lab_url(self, path: str = "") -> str:
        return f"{self.url}/lab/tree/{path}?reset&token={self.token}"

    def get(self, path: str) -> tuple[int, bytes]:
        """GET a server URL with the token; returns (HTTP status, body)."""
        request = urllib.request.Request(
            f"{self.url}/{path.lstrip('/')}", headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _installed_extras() -> str | None:
    """The EXTRAS the current .venv was set up with, so `make lab` does not reinstall it."""
    markers = sorted((ROOT / ".venv").glob(".installed-*"))
    return markers[0].name.removeprefix(".installed-") if len(markers) == 1 else None


def _make_setup(log: Path) -> None:
    """`make setup` first (a no-op when .venv is current), so a rebuild of the environment after
    a pyproject.toml change is not counted against the server's start-up time."""
    extras = _installed_extras()
    command = ["make", "--no-print-directory", "-C", str(ROOT), "setup"]
    with log.open("ab") as out:
        done = subprocess.run(
            [*command, f"EXTRAS={extras}"] if extras else command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
            check=False,
        )
    if done.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        pytest.fail(f"`make setup` failed ({done.returncode}):\n{tail}")


def _lab_command(root_dir: Path, port: int, lab_args: list[str], student: bool) -> list[str]:
    """The command line that starts JupyterLab on ``root_dir``.

    Student mode is `make lab`, exactly as the README tells students. The plain lab (no
    student-mode config) exists only for the test of the test.
    """
    if student:
        command = ["make", "--no-print-directory", "-C", str(ROOT), "lab"]
        extras = _installed_extras()
        if extras:
            command.append(f"EXTRAS={extras}")
        return [
            *command,
            f"PORT={port}",
            f"LAB_ROOT={root_dir}",
            "LAB_ARGS=" + " ".join(lab_args),
        ]
    return [
        str(VENV_BIN / "jupyter"),
        "lab",
        f"--ServerApp.root_dir={root_dir}",
        f"--port={port}",
        *lab_args,
    ]


def _wait_until_serving(lab: Lab, process: subprocess.Popen, runtime_dir: Path) -> None:
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{lab.log_tail()}")
        with contextlib.suppress(OSError):
            if lab.get("api/status")[0] == 200:
                break
        time.sleep(0.25)
    else:
        pytest.fail(f"JupyterLab did not answer within {LAB_START_TIMEOUT} s:\n{lab.log_tail()}")
    # Never drive a lab that serves anything but the temporary copy (e.g. the repository's own
    # notebooks/ if the Makefile ignored LAB_ROOT): the server records its root_dir here.
    served = {
        str(Path(json.loads(f.read_text())["root_dir"]).resolve())
        for f in runtime_dir.glob("jpserver-*.json")
    }
    if served != {str(lab.root_dir.resolve())}:
        pytest.fail(f"JupyterLab serves {sorted(served)}, not the test copy {lab.root_dir}")


def _stop(lab: Lab, process: subprocess.Popen) -> None:
    """Shut the server down (its kernels with it); kill the process group if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(
                urllib.request.Request(
                    f"{lab.url}/api/shutdown",
                    method="POST",
                    headers={"Authorization": f"token {lab.token}"},
                ),
                timeout=10,
            ).close()
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def run_lab(
    notebooks: Path, scratch: Path, log_dir: Path, *, student: bool = True
) -> Iterator[Lab]:
    """Start JupyterLab serving ``notebooks`` on a free local port; stop it on exit.

    ``scratch`` receives everything the server would otherwise write to the home directory
    (runtime files, user settings, workspaces, IPython history); the server's log goes to
    ``log_dir`` (the test artefacts) as lab-student.log or lab-plain.log.
    """
    config_dir = scratch / "jupyter-config"
    # The student's own first start shows a "get notified about Jupyter news?" toast over the
    # notebook; answer it in the throw-away user settings so screenshots show the notebook.
    settings = config_dir / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}\n')

    runtime_dir = scratch / "jupyter-runtime"
    token = secrets.token_hex(16)
    port = _free_port()
    lab_args = [
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
    ]
    if os.geteuid() == 0:  # CI containers run as root
        lab_args.append("--allow-root")
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config_dir),  # the user's ~/.jupyter must not change the test
        "JUPYTER_RUNTIME_DIR": str(runtime_dir),
        "IPYTHONDIR": str(scratch / "ipython"),
        "PYTHONDONTWRITEBYTECODE": "1",  # kernels import utils from the repo: no __pycache__
    }
    # Student mode gets its config from the Makefile; the plain lab must get none at all.
    env.pop("JUPYTER_CONFIG_PATH", None)
    log = log_dir / ("lab-student.log" if student else "lab-plain.log")
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root_dir=notebooks, log=log)
    log.write_bytes(b"")
    if student:
        _make_setup(log)
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            _lab_command(notebooks, port, lab_args, student),
            cwd=ROOT,  # nbgrader's Validate reads nbgrader_config.py from the working directory
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so cleanup can reach make's children
        )
    try:
        _wait_until_serving(lab, process, runtime_dir)
        yield lab
    finally:
        _stop(lab, process)
