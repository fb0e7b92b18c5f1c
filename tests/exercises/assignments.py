"""The course's assignments, found from ``solutions/NN_slug/`` (no hand-kept list): assignment
NN is the notebook ``solutions/NN_slug/slug.ipynb`` (released as ``notebooks/NN_slug/...``), its
checks ``utils/exercises/slug.py`` and their test ``tests/exercises/test_slug_checks.py``."""

from __future__ import annotations

import dataclasses
import importlib
import re
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDER = re.compile(r"(\d{2})_([a-z][a-z0-9_]*)")


@dataclasses.dataclass(frozen=True)
class Assignment:
    number: int
    slug: str

    @property
    def folder(self) -> str:
        return f"{self.number:02d}_{self.slug}"

    @property
    def notebooks(self) -> tuple[Path, Path]:
        """The solution notebook and the released one."""
        return tuple(
            ROOT / tree / self.folder / f"{self.slug}.ipynb" for tree in ("solutions", "notebooks")
        )

    @property
    def test_file(self) -> Path:
        return ROOT / "tests" / "exercises" / f"test_{self.slug}_checks.py"

    def checks(self) -> types.ModuleType:
        """The assignment's check module, ``utils.exercises.<slug>``."""
        return importlib.import_module(f"utils.exercises.{self.slug}")

    def __str__(self) -> str:
        return self.folder


def assignments() -> list[Assignment]:
    """Every ``solutions/NN_slug/`` folder, in order."""
    found = []
    for path in sorted((ROOT / "solutions").iterdir()):
        match = FOLDER.fullmatch(path.name)
        if path.is_dir() and match:
            found.append(Assignment(int(match.group(1)), match.group(2)))
    return found
