"""Sources are trusted once: read before the first student runs, verified until the last.

:class:`TrustedSources` reads every file grading depends on (the grader's and the course
package's code, ``nbgrader_config.py``, ``solutions/`` and ``notebooks/``) into memory and
hashes it. The grading services then run from a *copy* written from those bytes
(:meth:`stage`), not from the repository, and the sandbox mounts a copy of the course package
made the same way. :meth:`verify` compares the files on disk with the hashes; the grader calls
it before it (re)starts any service and after every finished job, so a change on disk during
grading aborts the run with the list of changed files instead of grading with other code.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from grader.course.layout import CourseLayout
from grader.verdicts.sandbox import STUDENT_SIDE_MODULES

CODE_PACKAGES = ("grader", "utils")
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}


class SourcesChanged(RuntimeError):
    """A trusted file changed on disk during grading."""


def _files(folder: Path, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    if not folder.is_dir():
        return []
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if SKIPPED_PARTS & set(rel.parts) or not path.is_file():
            continue
        if suffixes is None or path.suffix in suffixes:
            found.append(path)
    return sorted(found)


class TrustedSources:
    def __init__(self, layout: CourseLayout):
        self.layout = layout
        self.root = layout.root
        self.paths = self._watched()
        self.contents = {label: path.read_bytes() for label, path in self.paths.items()}
        self.digests = {
            label: hashlib.sha256(data).digest() for label, data in self.contents.items()
        }

    def _watched(self) -> dict[str, Path]:
        """``label -> path``: the grader's and the course package's code as imported (the
        course root may be a copy without them), and the course's sources."""
        import utils

        out = {}
        grader_dir = Path(__file__).resolve().parents[1]
        # Its modules and stage packages; not its data folders (submitted/, reports/, ...).
        packages = [p for p in grader_dir.iterdir() if (p / "__init__.py").is_file()]
        for path in sorted(grader_dir.glob("*.py")) + [m for p in packages for m in p.glob("*.py")]:
            out[f"grader/{path.relative_to(grader_dir).as_posix()}"] = path
        utils_dir = Path(utils.__file__).resolve().parent
        for path in _files(utils_dir):
            out[f"utils/{path.relative_to(utils_dir).as_posix()}"] = path
        course = [
            *_files(self.layout.source, (".ipynb",)),
            *_files(self.layout.release, (".ipynb",)),
        ]
        if (self.root / "nbgrader_config.py").exists():
            course.append(self.root / "nbgrader_config.py")
        for path in course:
            out[path.relative_to(self.root).as_posix()] = path
        return out

    def changed(self) -> list[str]:
        """Trusted files that changed, disappeared or appeared since they were read."""
        now = self._watched()
        problems = [f"{rel} was removed" for rel in sorted(set(self.digests) - set(now))]
        problems += [f"{rel} was added" for rel in sorted(set(now) - set(self.digests))]
        for rel in sorted(set(now) & set(self.digests)):
            try:
                digest = hashlib.sha256(now[rel].read_bytes()).digest()
            except OSError:
                digest = b""
            if digest != self.digests[rel]:
                problems.append(f"{rel} was changed")
        return problems

    def verify(self) -> None:
        problems = self.changed()
        if problems:
            shown = "; ".join(problems[:8]) + (" ..." if len(problems) > 8 else "")
            raise SourcesChanged(f"grading aborted: course files changed on disk: {shown}")

    def text(self, path: Path) -> str:
        """A trusted file's text as it was read (not as it is now)."""
        return self.contents[Path(path).resolve().relative_to(self.root).as_posix()].decode()

    def stage(self, folder: Path) -> tuple[Path, Path]:
        """Write ``folder/code`` (the grader and the course package, what the services run)
        and ``folder/lib`` (the course package and the student side of a call, what the
        sandbox mounts) from the verified bytes; build matplotlib's font cache once in
        ``folder/matplotlib``. Returns (code, lib)."""
        code, lib = folder / "code", folder / "lib"
        for rel, data in self.contents.items():
            top = rel.split("/", 1)[0]
            if top in CODE_PACKAGES:
                self._write(code / rel, data)
                if top == "utils" or rel in {f"grader/{m}" for m in STUDENT_SIDE_MODULES}:
                    self._write(lib / rel, data)
        for target in (code, lib):
            for path in target.rglob("*"):
                os.chmod(path, 0o755 if path.is_dir() else 0o444)
        mpl = folder / "matplotlib"
        mpl.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env={**os.environ, "MPLCONFIGDIR": str(mpl)},
            capture_output=True,
            check=False,
        )
        return code, lib

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
