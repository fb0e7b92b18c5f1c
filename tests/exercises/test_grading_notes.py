"""Each notebook's "How grading works" note lists exactly the forbidden references its checks
declare (once, in the exercise data), so the two cannot drift apart."""

import json
import re
from pathlib import Path

import pytest

from utils.exercises import (
    bidirectional,
    bptt,
    deep_rnns,
    gru,
    language_model,
    lstm,
    notation,
    rnn_forward,
    vanishing_gradients,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = [
    (notation, "solutions/01_notation/notation.ipynb"),
    (rnn_forward, "solutions/02_rnn_forward/rnn_forward.ipynb"),
    (bptt, "solutions/03_bptt/bptt.ipynb"),
    (language_model, "solutions/04_language_model/language_model.ipynb"),
    (vanishing_gradients, "solutions/05_vanishing_gradients/vanishing_gradients.ipynb"),
    (gru, "solutions/06_gru/gru.ipynb"),
    (lstm, "solutions/07_lstm/lstm.ipynb"),
    (bidirectional, "solutions/08_bidirectional/bidirectional.ipynb"),
    (deep_rnns, "solutions/09_deep_rnns/deep_rnns.ipynb"),
]


def _note(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    notes = [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "markdown" and "*How grading works:*" in "".join(c["source"])
    ]
    assert len(notes) == 1, f"{path.name} needs exactly one 'How grading works' note"
    return notes[0].split("*How grading works:*", 1)[1]


@pytest.mark.parametrize(
    ("module", "notebook"), ASSIGNMENTS, ids=lambda v: getattr(v, "__name__", v)
)
def test_grading_note_lists_exactly_the_declared_forbidden_references(module, notebook):
    declared = {name for exercise in module.EXERCISES for name in exercise.forbidden}
    for path in (ROOT / notebook, ROOT / notebook.replace("solutions/", "notebooks/", 1)):
        listed = set(re.findall(r"`(utils(?:\.\w+)+)`", _note(path)))
        assert listed == declared, (
            f"{path.name}: the note lists {sorted(listed)}, the checks forbid {sorted(declared)}"
        )


@pytest.mark.parametrize(
    ("module", "notebook"), ASSIGNMENTS, ids=lambda v: getattr(v, "__name__", v)
)
def test_grading_note_says_what_the_clean_regrade_keeps(module, notebook):
    note = _note(ROOT / notebook)
    assert "keeps only the imports, the function and class" in note
    assert "is dropped" in note
