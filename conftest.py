"""pytest configuration shared by the unit tests and the nbval notebook run.

Released notebooks (``notebooks/``) are run by nbval too. There, the nbgrader cells the student
has not filled in yet raise ``NotImplementedError`` (the exercise stub itself, and the test cell
that calls it). Those cells may raise exactly that and nothing else; every other cell of every
notebook must run cleanly.
"""

import copy
from pathlib import Path

import pytest


def _in_release(path: Path) -> bool:
    """A released notebook: under a folder named ``notebooks`` (the nbgrader release)."""
    return "notebooks" in path.parts[:-1]


def _is_nbgrader_cell(item: pytest.Item) -> bool:
    cell = getattr(item, "cell", None)
    if cell is None:
        return False
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("grade"))


def _allow_only_not_implemented(item: pytest.Item) -> None:
    item.options = copy.copy(item.options)  # a defaultdict(bool) of this cell's own
    item.options["check_exception"] = True
    run = item.runtest

    def runtest() -> None:
        run()
        for output in item.test_outputs or []:
            name = output.get("ename")
            if name and name != "NotImplementedError":
                raise item.raise_cell_error(
                    f"released notebook cell raised {name} (only NotImplementedError is allowed)",
                    "\n" + "\n".join(output.get("traceback", [])),
                )

    item.runtest = runtest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _in_release(item.path) and _is_nbgrader_cell(item):
            _allow_only_not_implemented(item)
