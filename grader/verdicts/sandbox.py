"""The bubblewrap sandbox every piece of student code runs in.

``bwrap`` (Debian's ``bubblewrap`` package) starts a process in new namespaces: its own PID
namespace (the sandbox ends every process in it when its first process exits, or when the
grader dies: nothing a submission starts can outlive it), no network (a loopback of its own),
no capabilities, an unprivileged uid, a fresh session and a cleared environment. Its file
system holds only what running a notebook needs, read-only:

- the operating system's ``/usr`` (and the ``/bin``, ``/lib`` links into it) and a few files
  of ``/etc`` (the dynamic linker cache, fonts);
- the Python installation and the course environment (``sys.prefix``), but not the
  repository around it;
- a *copy* of the course package (``utils``) and of the few grader modules the student side
  of a call needs, made from the sources verified at the start of grading
  (:mod:`grader.verdicts.trusted_sources`), mounted at :data:`LIB`;

plus a private, empty, writable ``/tmp`` of at most :data:`TMP_BYTES` (the home directory
and working directory are in it); the root and ``/dev`` (``/dev/shm`` included) are read-only.
``solutions/``, the gradebook, ``grader/``, the reports and every other student's files are
simply not there. Time limits are the caller's (the grader kills the sandbox when a time
budget runs out); memory and processes are bounded twice: ``RLIMIT_AS`` per process
(inherited), and, where the machine lets the grader create cgroups (root, cgroup v1 or v2), a
:class:`ResourceGroup` for everything the sandbox holds, tmpfs pages and every child and
thread included.

:class:`Sandbox` builds the command lines; :func:`probe` says whether bwrap works here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

LIB = "/opt/course/lib"  # the course package copy, inside the sandbox
PRIVATE_TMP = "/tmp"  # inside the sandbox: its own empty tmpfs, never the host's /tmp
HOME = f"{PRIVATE_TMP}/home"
MPL_DIR = f"{PRIVATE_TMP}/matplotlib"
UID = GID = 65534  # nobody
TMP_BYTES = 256 * 1024 * 1024  # the private /tmp is memory: a submission may not fill the host's

# Files of /etc that programs in the sandbox read (all optional).
ETC_FILES = ("ld.so.cache", "localtime", "fonts", "mime.types", "nsswitch.conf")
# Environment variables passed into the sandbox from the grader's own environment.
PASSED_ENV = ("LANG", "LC_ALL", "MPLBACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
PASSED_ENV += ("MKL_NUM_THREADS", "TZ")
# Grader modules the student side of a call imports (copied into LIB), relative to grader/.
STUDENT_SIDE_MODULES = (
    "__init__.py",
    "verdicts/__init__.py",
    "verdicts/plain_data.py",
    "verdicts/student_calls.py",
)


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or does not work on this machine (the message is one line)."""


def probe() -> str | None:
    """None when sandboxing works here, else the one-line reason it does not."""
    if not sys.platform.startswith("linux"):
        return f"grading needs Linux with bubblewrap (bwrap); this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap is not installed (`apt-get install bubblewrap`); bwrap not on PATH"
    try:
        done = subprocess.run(
            [bwrap, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "true"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not be run: {error}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return f"bwrap cannot create namespaces on this machine: {why[0]}"
    return None


def _namespaces() -> list[str]:
    return [
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(UID),
        "--gid",
        str(GID),
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
    ]


def _python_dirs() -> list[Path]:
    """The directories the interpreter and its packages live in (without the repository)."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        dirs.add(Path(sysconfig.get_paths()[key]))
    # Keep the outermost ones only.
    dirs = sorted(d.resolve() for d in dirs if d.exists())
    return [d for d in dirs if not any(o != d and d.is_relative_to(o) for o in dirs)]


@dataclass
class Sandbox:
    """How to wrap a command so that it runs sandboxed.

    ``lib`` is the host folder copied from the verified sources (mounted read-only at
    :data:`LIB`); ``fontlist`` a matplotlib font cache built once outside, so that every
    sandbox does not rebuild it. ``enabled=False`` (``--no-sandbox``) runs commands as they
    are, with the environment still cleared of the grader's secrets.
    """

    lib: Path
    enabled: bool = True
    fontlist: Path | None = None
    repository: Path | None = None  # refused as a bind source (it must never be visible)
    bwrap: str = field(default_factory=lambda: shutil.which("bwrap") or "bwrap")

    def environment(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        env.update(
            HOME=HOME if self.enabled else str(self.lib.parent / "home"),
            PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
            PYTHONPATH=LIB if self.enabled else str(self.lib),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONNOUSERSITE="1",
            IPYTHONDIR=f"{HOME}/.ipython" if self.enabled else str(self.lib.parent / "ipython"),
            MPLCONFIGDIR=MPL_DIR if self.enabled else str(self.lib.parent / "matplotlib"),
        )
        env.setdefault("LANG", "C.UTF-8")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # threads count against the pids limit
        return env

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` wrapped in bwrap, with the environment set here too: the caller's
        environment (database URLs, tokens) never reaches the sandbox."""
        env = self.environment()
        if not self.enabled:
            return ["env", "-i", *(f"{k}={v}" for k, v in sorted(env.items())), *argv]
        args = [self.bwrap, *_namespaces(), "--clearenv"]
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        # The private /tmp first: binds made after it stay visible, so a Python environment
        # that lives under /tmp (a CI clone) is not hidden by it.
        args += [
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--remount-ro",
            "/dev",
            "--size",
            str(TMP_BYTES),
            "--tmpfs",
            PRIVATE_TMP,
        ]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            top = Path("/") / name
            if top.is_symlink():
                args += ["--symlink", os.readlink(top), str(top)]
            elif top.is_dir():
                args += ["--ro-bind", str(top), str(top)]
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for folder in _python_dirs():
            self._refuse_repository(folder)
            args += ["--ro-bind", str(folder), str(folder)]
        args += ["--dir", HOME, "--dir", MPL_DIR, "--ro-bind", str(self.lib), LIB]
        if self.fontlist is not None and self.fontlist.exists():
            args += ["--ro-bind", str(self.fontlist), f"{MPL_DIR}/{self.fontlist.name}"]
        # Last: the root (bwrap's own tmpfs, where the mount points live) becomes read-only.
        return [*args, "--remount-ro", "/", "--chdir", HOME, "--", *argv]

    def _refuse_repository(self, folder: Path) -> None:
        if self.repository is None:
            return
        folder, repo = Path(folder).resolve(), self.repository.resolve()
        if folder == repo or (repo.is_relative_to(folder) and folder != Path("/")):
            raise SandboxUnavailable(
                f"{folder} would show the course repository inside the sandbox; install the "
                "course environment outside it"
            )


# --------------------------------------------------------------------------------------------
# cgroup limits for a whole sandbox
# --------------------------------------------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "seqmodels-grader"
PIDS_MAX = 128  # processes and threads in one sandbox (a student's needs a handful)
_group_numbers = itertools.count()


def cgroup_version(root: Path = CGROUP_ROOT) -> tuple[str | None, str]:
    """``("v2" | "v1", where)`` when this process may create memory and pids cgroups, else
    ``(None, why not)``."""
    if not sys.platform.startswith("linux"):
        return None, f"no cgroups on {sys.platform}"
    controllers = root / "cgroup.controllers"
    if controllers.is_file():
        have = set(controllers.read_text().split())
        if not {"memory", "pids"} <= have:
            return None, f"cgroup v2 without the memory and pids controllers ({' '.join(have)})"
        if not os.access(root, os.W_OK):
            return None, f"cgroup v2 at {root} is not writable by this user"
        return "v2", str(root)
    if (root / "memory").is_dir() and (root / "pids").is_dir():
        if not (os.access(root / "memory", os.W_OK) and os.access(root / "pids", os.W_OK)):
            return None, f"cgroup v1 at {root} is not writable by this user"
        return "v1", str(root)
    return None, f"no memory and pids cgroup controllers under {root}"


@dataclass
class ResourceGroup:
    """Limits on everything one sandbox holds: ``memory_bytes`` of memory (tmpfs pages
    included: they escape ``RLIMIT_AS``) and ``pids`` processes and threads, in a cgroup of
    its own (v2: ``memory.max``, ``pids.max``; v1: ``memory.limit_in_bytes`` and
    ``pids.max`` in the two hierarchies). Over the memory limit the kernel kills a process of
    the group; over the pids limit ``fork`` fails. :meth:`create` before starting the
    sandbox, :meth:`enter` in its first process, :meth:`remove` after it ended."""

    memory_bytes: int
    pids: int = PIDS_MAX
    root: Path = CGROUP_ROOT
    name: str = field(default_factory=lambda: f"sandbox-{os.getpid()}-{next(_group_numbers)}")

    def __post_init__(self):
        self.version, where = cgroup_version(self.root)
        if self.version is None:
            raise SandboxUnavailable(where)

    def folders(self) -> list[Path]:
        if self.version == "v2":
            return [self.root / CGROUP_PARENT / self.name]
        return [self.root / c / CGROUP_PARENT / self.name for c in ("memory", "pids")]

    def create(self) -> None:
        remove_orphan_groups(self.root)
        if self.version == "v2":
            (self.root / CGROUP_PARENT).mkdir(exist_ok=True)
            for parent in (self.root, self.root / CGROUP_PARENT):
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
        for folder in self.folders():
            folder.mkdir(parents=True, exist_ok=True)
        if self.version == "v2":
            group = self.folders()[0]
            (group / "memory.max").write_text(str(self.memory_bytes))
            swap = group / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
            (group / "pids.max").write_text(str(self.pids))
        else:
            memory, pids = self.folders()
            (memory / "memory.limit_in_bytes").write_text(str(self.memory_bytes))
            swap = memory / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(self.memory_bytes))
            (pids / "pids.max").write_text(str(self.pids))

    def enter(self) -> None:
        """Move the calling process into the group (call it in the sandbox's first process,
        before exec: every process it starts is then counted)."""
        for folder in self.folders():
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def members(self) -> list[int]:
        found = set()
        for folder in self.folders():
            if (folder / "cgroup.procs").exists():
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
        return sorted(found)

    def remove(self) -> None:
        """Kill what is left in the group and remove it (its memory is then freed)."""
        for _ in range(50):
            left = self.members()
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            try:
                for folder in self.folders():
                    if folder.exists():
                        folder.rmdir()
                return
            except OSError:  # busy until the killed processes are reaped
                time.sleep(0.02)


def remove_orphan_groups(root: Path = CGROUP_ROOT) -> None:
    """Remove the sandbox groups of grading processes that have ended without removing them
    (a service is stopped with SIGKILL): kill what is left in them, free their memory."""
    version, _where = cgroup_version(root)
    if version is None:
        return
    parents = [root / CGROUP_PARENT]
    if version == "v1":
        parents = [root / c / CGROUP_PARENT for c in ("memory", "pids")]
    for parent in parents:
        for group in sorted(parent.glob("sandbox-*-*")) if parent.is_dir() else []:
            pid = int(group.name.split("-")[1])
            if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
                ResourceGroup(0, root=root, name=group.name).remove()
