"""The class's results across runs, so that grading one student never replaces the class.

Each grading run saves its results as ``grader/reports/results.json``. ``grade --student ID``
(and ``--assignment A``) loads the previous results, replaces only the submissions it graded,
and writes the class reports from the merged list.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

FILE = "results.json"


def save(folder: Path, results) -> Path:
    path = Path(folder) / FILE
    data = [dataclasses.asdict(r) for r in results]
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load(folder: Path, result_cls, cell_cls) -> list:
    """The results saved by the last run (empty if none, or if they cannot be read)."""
    path = Path(folder) / FILE
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for item in data:
            cells = [cell_cls(**c) for c in item.pop("cells", [])]
            notes = [tuple(n) for n in item.pop("notes", [])]
            out.append(result_cls(**item, cells=cells, notes=notes))
        return out
    except (ValueError, TypeError, KeyError):
        return []


def merge(previous: list, current: list) -> list:
    """``current`` replaces the same (student, assignment) in ``previous``; the rest stays."""
    done = {(r.student, r.assignment) for r in current}
    kept = [r for r in previous if (r.student, r.assignment) not in done]
    return sorted(kept + list(current), key=lambda r: (r.student, r.assignment))
