"""Similarity flags: a planted copy is flagged, independent honest solutions are not."""

from __future__ import annotations

import textwrap

import pytest

from grader import ROOT
from grader.reporting import similarity

TEMPLATE_CELL = '''\
def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    """One step of a vanilla RNN."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''
TEMPLATE_SEQ = '''\
def rnn_forward(x, a0, parameters, activation="tanh"):
    """Forward pass over a whole batch of sequences."""
    # YOUR CODE HERE
    raise NotImplementedError()
'''
TEMPLATES = {"rnn_cell_forward": TEMPLATE_CELL, "rnn_forward": TEMPLATE_SEQ}

# Four honest, independently written solutions of the same two exercises.
HONEST = {
    "ana": {
        "rnn_cell_forward": '''
def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    """One step of a vanilla RNN."""
    Waa, Wax, ba = parameters["Waa"], parameters["Wax"], parameters["ba"]
    Wya, by = parameters["Wya"], parameters["by"]
    z = Waa @ a_prev + Wax @ xt + ba
    a_next = np.tanh(z) if activation == "tanh" else np.maximum(z, 0.0)
    yt_pred = softmax(Wya @ a_next + by)
    cache = (a_next, a_prev, xt, parameters, activation)
    return a_next, yt_pred, cache
''',
        "rnn_forward": '''
def rnn_forward(x, a0, parameters, activation="tanh"):
    """Forward pass over a whole batch of sequences."""
    n_x, m, T_x = x.shape
    n_a, n_y = parameters["Waa"].shape[0], parameters["Wya"].shape[0]
    a = np.zeros((n_a, m, T_x))
    y_hat = np.zeros((n_y, m, T_x))
    cell_caches = []
    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters, activation)
        a[:, :, t] = a_next
        y_hat[:, :, t] = yt_pred
        cell_caches.append(cache)
    return a, y_hat, (cell_caches, x)
''',
    },
    "ben": {
        "rnn_cell_forward": """
def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    pre = np.dot(parameters["Waa"], a_prev) + np.dot(parameters["Wax"], xt)
    pre = pre + parameters["ba"]
    if activation == "relu":
        h = np.where(pre > 0, pre, 0)
    else:
        h = np.tanh(pre)
    logits = np.dot(parameters["Wya"], h) + parameters["by"]
    e = np.exp(logits - logits.max(axis=0))
    y = e / e.sum(axis=0)
    return h, y, (h, a_prev, xt, parameters, activation)
""",
        "rnn_forward": """
def rnn_forward(x, a0, parameters, activation="tanh"):
    steps = x.shape[2]
    hs, ys, caches = [], [], []
    h = a0
    for step in range(steps):
        h, y, c = rnn_cell_forward(x[..., step], h, parameters, activation=activation)
        hs.append(h)
        ys.append(y)
        caches.append(c)
    return np.stack(hs, axis=-1), np.stack(ys, axis=-1), (caches, x)
""",
    },
    "chen": {
        "rnn_cell_forward": """
def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    g = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0)}[activation]
    a_next = g(parameters["Wax"] @ xt + parameters["Waa"] @ a_prev + parameters["ba"])
    scores = parameters["Wya"] @ a_next + parameters["by"]
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=0, keepdims=True)
    return a_next, probs, (a_next, a_prev, xt, parameters, activation)
""",
        "rnn_forward": """
def rnn_forward(x, a0, parameters, activation="tanh"):
    n_a = a0.shape[0]
    n_y = parameters["by"].shape[0]
    _, m, T = x.shape
    a = np.empty((n_a, m, T))
    y_hat = np.empty((n_y, m, T))
    caches = []
    state = a0
    t = 0
    while t < T:
        state, out, cache = rnn_cell_forward(x[:, :, t], state, parameters, activation)
        a[..., t], y_hat[..., t] = state, out
        caches.append(cache)
        t += 1
    return a, y_hat, (caches, x)
""",
    },
    "dora": {
        "rnn_cell_forward": """
def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    stacked = np.concatenate([parameters["Waa"], parameters["Wax"]], axis=1)
    inputs = np.concatenate([a_prev, xt], axis=0)
    z = stacked @ inputs + parameters["ba"]
    a_next = np.tanh(z) if activation == "tanh" else z * (z > 0)
    yt_pred = softmax(parameters["Wya"].dot(a_next) + parameters["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters, activation)
""",
        "rnn_forward": """
def rnn_forward(x, a0, parameters, activation="tanh"):
    outputs = [None] * x.shape[-1]
    a_t = a0
    for i in range(x.shape[-1]):
        outputs[i] = rnn_cell_forward(x[:, :, i], a_t, parameters, activation)
        a_t = outputs[i][0]
    a = np.stack([o[0] for o in outputs], axis=2)
    y_hat = np.stack([o[1] for o in outputs], axis=2)
    return a, y_hat, ([o[2] for o in outputs], x)
""",
    },
}

# ana's answers with every variable renamed, independent lines swapped, comments and
# formatting changed: the planted copy.
PLANTED = {
    "rnn_cell_forward": '''
def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
    """One step of a vanilla RNN."""
    W_out, b_out = parameters["Wya"], parameters["by"]   # output layer first
    W_rec, W_in, bias = parameters["Waa"], parameters["Wax"], parameters["ba"]
    pre_activation = (W_rec @ a_prev
                      + W_in @ xt
                      + bias)
    hidden = np.tanh(pre_activation) if activation == "tanh" else np.maximum(pre_activation, 0.0)
    prediction = softmax(W_out @ hidden + b_out)
    stored = (hidden, a_prev, xt, parameters, activation)
    return hidden, prediction, stored
''',
    "rnn_forward": '''
def rnn_forward(x, a0, parameters, activation="tanh"):
    """Forward pass over a whole batch of sequences."""
    n_x, batch, length = x.shape
    n_a, n_y = parameters["Waa"].shape[0], parameters["Wya"].shape[0]
    outs = np.zeros((n_y, batch, length))   # y_hat
    states = np.zeros((n_a, batch, length))
    history = []
    current = a0
    for step in range(length):
        current, pred, c = rnn_cell_forward(x[:, :, step], current, parameters, activation)
        outs[:, :, step] = pred
        states[:, :, step] = current
        history.append(c)
    return states, outs, (history, x)
''',
}


def _flags(answers, references=None):
    return similarity.compare("02_rnn_forward", answers, TEMPLATES, references)


def test_honest_independent_solutions_are_not_flagged():
    flags = _flags(HONEST)
    assert flags == [], [f.describe() for f in flags]


def test_planted_copy_with_renamed_variables_and_reordered_lines_is_flagged():
    flags = _flags({**HONEST, "eve": PLANTED})
    assert [(f.a, f.b) for f in flags] == [("ana", "eve")], [f.describe() for f in flags]
    flag = flags[0]
    assert flag.similarity == 1.0  # identical once names, order and formatting are normalised
    assert flag.shared >= similarity.MIN_SHARED
    assert "rnn_cell_forward" in flag.where
    assert "for a person to judge" in flag.describe()


def test_a_copy_of_one_cell_only_is_flagged_when_it_dominates():
    # Copying the longer answer and writing the short one honestly still stands out.
    eve = {"rnn_forward": PLANTED["rnn_forward"], "rnn_cell_forward": ""}
    ana = {"rnn_forward": HONEST["ana"]["rnn_forward"], "rnn_cell_forward": ""}
    flags = _flags({"ana": ana, "eve": eve, "ben": HONEST["ben"]})
    assert [(f.a, f.b) for f in flags] == [("ana", "eve")]


def test_untouched_and_blank_notebooks_match_nothing():
    # Template code is excluded: two students who handed in the release are not "alike".
    untouched = {gid: src for gid, src in TEMPLATES.items()}
    flags = _flags({"fay": untouched, "gus": dict(untouched), "ana": HONEST["ana"]})
    assert flags == []
    assert similarity.fingerprint(TEMPLATE_CELL, TEMPLATE_CELL).features == {}


def test_a_small_edit_lowers_the_similarity_without_hiding_the_copy():
    edited = PLANTED["rnn_forward"].replace("np.zeros((n_y", "np.empty((n_y")
    a = similarity.fingerprint(HONEST["ana"]["rnn_forward"], TEMPLATE_SEQ)
    b = similarity.fingerprint(edited, TEMPLATE_SEQ)
    score, _ = similarity.similarity(a, b)
    assert 0.8 <= score < 1.0


def test_syntax_errors_and_magics_do_not_crash():
    assert similarity.fingerprint("def f(:\n  pass").features == {}
    fp = similarity.fingerprint("%timeit f()\nx = np.tanh(a @ b + c)\n")
    assert fp.features  # the magic line is dropped, the rest is read


REFERENCE = textwrap.dedent('''
    def rnn_cell_forward(xt, a_prev, parameters, activation="tanh"):
        """Reference."""
        Waa, Wax, ba = parameters["Waa"], parameters["Wax"], parameters["ba"]
        Wya, by = parameters["Wya"], parameters["by"]
        z = Waa @ a_prev + Wax @ xt + ba
        a_next = np.tanh(z) if activation == "tanh" else np.maximum(z, 0.0)
        yt_pred = softmax(Wya @ a_next + by)
        cache = (a_next, a_prev, xt, parameters, activation)
        return a_next, yt_pred, cache
''')


def test_a_copy_of_the_utils_reference_is_flagged(tmp_path):
    utils = tmp_path / "utils"
    (utils / "exercises").mkdir(parents=True)
    (utils / "rnn.py").write_text(REFERENCE, encoding="utf-8")
    # The exercise checks are not a reference solution and are never compared.
    (utils / "exercises" / "rnn_forward.py").write_text(REFERENCE, encoding="utf-8")
    refs = similarity.reference_functions(utils)
    assert list(refs) == ["utils/rnn.py:rnn_cell_forward"]
    copied = {"rnn_cell_forward": PLANTED["rnn_cell_forward"]}
    flags = _flags({"eve": copied, "ben": HONEST["ben"]}, refs)
    assert [(f.a, f.b) for f in flags] == [("eve", "utils/rnn.py:rnn_cell_forward")]
    assert "function rnn_cell_forward" in flags[0].where


def test_the_shipped_utils_reference_does_not_flag_honest_solutions():
    refs = similarity.reference_functions(ROOT / "utils")
    assert refs, "utils/ has no reference functions"
    flags = _flags(HONEST, refs)
    assert flags == [], [f.describe() for f in flags]


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("y = a @ b + c", "y = a @ b - c"),  # another operator
        ("y = np.tanh(z)", "y = np.exp(z)"),  # another function
        ("y = x[:, :, t]", "y = x[:, t, :]"),  # another axis
    ],
)
def test_names_are_normalised_but_operations_are_not(left, right):
    a = similarity.fingerprint(left)
    renamed = similarity.fingerprint(left.replace("y", "out"))
    assert similarity.similarity(a, renamed)[0] == 1.0
    assert similarity.similarity(a, similarity.fingerprint(right))[0] < 1.0


def test_a_deeply_nested_answer_is_compared_without_recursion_and_reported():
    """A 1,500-term sum at the top of an answer cell (issue 21, attack 2) used to end the
    class run with RecursionError. The deep part is one opaque node, the rest of the cell is
    still compared (a copy is still flagged), and the report is told which cell it was."""
    deep = "total = " + " + ".join(["z"] * 1500) + "\n"
    body = (
        "def rnn_step(x, a, W, U, b):\n"
        "    z = W @ x + U @ a + b\n"
        "    out = np.tanh(z)\n"
        "    cache = (x, a, z, out)\n"
        "    return out, cache\n"
    )
    notes: list[str] = []
    flags = similarity.compare(
        "02_rnn", {"copier": {"cell": deep + body}, "source": {"cell": body}}, {}, notes=notes
    )
    assert [(f.a, f.b) for f in flags] == [("copier", "source")]
    assert notes == [
        "similarity: 02_rnn copier answer cell cell holds code nested more than "
        f"{similarity.MAX_AST_DEPTH} levels deep; that part was not compared"
    ]
    assert similarity.parse("x = " + " + ".join(["z"] * 200_000)) is None  # beyond Python's parser
