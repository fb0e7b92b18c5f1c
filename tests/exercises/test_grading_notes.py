"""Each notebook's "How grading works" note lists exactly the forbidden references its checks
declare (once, in the exercise data), so the two cannot drift apart. The assignments are
those in ``solutions/`` (:mod:`assignments`)."""

import json
import re
from pathlib import Path

import pytest
from assignments import assignments


def _note(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    notes = [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "markdown" and "*How grading works:*" in "".join(c["source"])
    ]
    assert len(notes) == 1, f"{path.name} needs exactly one 'How grading works' note"
    return notes[0].split("*How grading works:*", 1)[1]


@pytest.mark.parametrize("assignment", assignments(), ids=str)
def test_grading_note_lists_exactly_the_declared_forbidden_references(assignment):
    declared = {name for exercise in assignment.checks().EXERCISES for name in exercise.forbidden}
    for path in assignment.notebooks:
        listed = set(re.findall(r"`(utils(?:\.\w+)+)`", _note(path)))
        assert listed == declared, (
            f"{path.name}: the note lists {sorted(listed)}, the checks forbid {sorted(declared)}"
        )


@pytest.mark.parametrize("assignment", assignments(), ids=str)
def test_grading_note_says_what_the_clean_regrade_keeps(assignment):
    note = _note(assignment.notebooks[0])
    assert "keeps only the imports, the function and class" in note
    assert "is dropped" in note
