"""Checks for assignment 09 — deep RNNs.

Contracts checked here (the notebook states them); the one readable reference is
``utils.deep`` (``cell`` is "rnn" or "gru"):

- ``deep_rnn_forward(x, a0, parameters, cell) -> (a, caches)``: exactly
  ``utils.deep.stacked_forward``: ``a`` is the list of the L layers' states, ``caches =
  (cell_caches, x)`` with ``cell_caches[l][t]`` the ``step_forward`` cache of layer l + 1 at t.
- ``deep_rnn_backward(da, caches) -> {"layer1": grads, ..., "dx"}``: exactly
  ``utils.deep.stacked_backward``.
- ``deep_head_forward(a, head) -> (y_hat, cache)``: the deep head on the **top** layer,
  ``utils.deep.head_forward(a[-1], head)``, ``cache = (a[-1], h, head)``.
- ``head_backward(dz, cache) -> {"da", "dW1", "db1", "dW2", "db2"}``: exactly
  ``utils.deep.head_backward``.

The mistakes are built from the reference's own step (``utils.deep.step_forward`` /
``step_backward``) and head, with one thing switched. Errors raised inside the student's
functions are explained with the layer sizes of the case (which layer read what, fed where):
see :func:`_explain_forward` and :func:`_explain_backward`; any other error is still shown with
the case it came from.
"""

from __future__ import annotations

import re

import numpy as np

from utils import activations, deep, init, rnn
from utils.checks import check_close
from utils.exercises.harness import (
    Case,
    Exercise,
    Mistake,
    Output,
    asserted_gradcheck,
    default_tolerance,
    error_place,
    explain_or_wrap,
)
from utils.exercises.hints import SOFTMAX_AXIS, columns_sum_to_one, scan_left_to_right

__all__ = [
    "random_deep_parameters",
    "random_head",
]

ASSIGNMENT = 9
_INIT = {"rnn": init.init_rnn_parameters, "gru": init.init_gru_parameters}
_FORBIDDEN = (
    "utils.deep.stacked_forward",
    "utils.deep.stacked_backward",
    "utils.deep.head_forward",
    "utils.deep.head_backward",
    "utils.kernels.deep.deep_forward",
    "utils.kernels.deep.deep_backward",
)


# --------------------------------------------------------------------------------------------
# Random inputs
# --------------------------------------------------------------------------------------------


def _nonzero(rng, shape, low=0.2, high=1.0):
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], size=shape)


def random_deep_parameters(rng: np.random.Generator, cell: str, n_x: int, sizes) -> dict:
    """{"layer1": ..., "layerL": ...} for ``cell`` with hidden sizes ``sizes``; every entry
    non-zero (weights 0.2..1 / sqrt(fan-in) with random signs, biases 0.1..0.5)."""
    parameters, n_in = {}, n_x
    for l, n_a in enumerate(sizes, start=1):
        shapes = {k: v.shape for k, v in _INIT[cell](n_in, n_a, np.random.default_rng(0)).items()}
        parameters[f"layer{l}"] = {
            k: _nonzero(rng, s) / np.sqrt(s[1]) if s[1] > 1 else _nonzero(rng, s, 0.1, 0.5)
            for k, s in shapes.items()
        }
        n_in = n_a
    return parameters


def random_head(rng: np.random.Generator, n_a: int, n_h: int, n_y: int) -> dict:
    """W1 (n_h, n_a), b1 (n_h, 1), W2 (n_y, n_h), b2 (n_y, 1), all entries non-zero; b1 has
    both signs so that relu is active on some units and not on others."""
    return {
        "W1": _nonzero(rng, (n_h, n_a)) / np.sqrt(n_a),
        "b1": _nonzero(rng, (n_h, 1), 0.1, 0.5),
        "W2": _nonzero(rng, (n_y, n_h)) * 2 / np.sqrt(n_h),
        "b2": _nonzero(rng, (n_y, 1), 0.2, 0.8),
    }


def _dims(rng, seed):
    """(n_x, n_a, m, T_x), all different."""
    if seed == 0:
        return 3, 4, 2, 5
    return tuple(int(v) for v in rng.permutation(np.arange(2, 9))[:4])


def _sizes(n_x, n_a, m, T_x, L):
    return {"n_x": n_x, "n_a": n_a, "m": m, "T_x": T_x, "L": L}


def _a0(rng, parameters, m, cell):
    key = "ba" if cell == "rnn" else "bu"
    return {name: rng.standard_normal((p[key].shape[0], m)) for name, p in parameters.items()}


def _forward_cases(rng, seed):
    n_x, n_a, m, T_x = _dims(rng, seed)
    cases = []
    for cell, L in (("rnn", 2), ("gru", 3), ("rnn", 3)):
        p = random_deep_parameters(rng, cell, n_x, [n_a] * L)
        cases.append(
            Case(
                f"{L} {cell} layers",
                {
                    "x": rng.standard_normal((n_x, m, T_x)),
                    "a0": _a0(rng, p, m, cell),
                    "parameters": p,
                    "cell": cell,
                },
                _sizes(n_x, n_a, m, T_x, L),
            )
        )
    p = random_deep_parameters(rng, "rnn", n_x, [n_a] * 2)
    zero = {name: np.zeros((n_a, m)) for name in p}
    cases.append(
        Case(
            "x = 0 and a0 = 0: only the biases drive the layers",
            {"x": np.zeros((n_x, m, T_x)), "a0": zero, "parameters": p, "cell": "rnn"},
            _sizes(n_x, n_a, m, T_x, 2),
        )
    )
    p = random_deep_parameters(rng, "rnn", n_x, [n_a])
    cases.append(
        Case(
            "one layer (L = 1)",
            {
                "x": rng.standard_normal((n_x, m, T_x)),
                "a0": _a0(rng, p, m, "rnn"),
                "parameters": p,
                "cell": "rnn",
            },
            _sizes(n_x, n_a, m, T_x, 1),
        )
    )
    p = random_deep_parameters(rng, "rnn", n_x, [n_a] * 2)
    cases.append(
        Case(
            "T_x = 1",
            {
                "x": rng.standard_normal((n_x, m, 1)),
                "a0": _a0(rng, p, m, "rnn"),
                "parameters": p,
                "cell": "rnn",
            },
            _sizes(n_x, n_a, m, 1, 2),
        )
    )
    p = random_deep_parameters(rng, "rnn", n_x, [n_a] * 2)
    cases.append(
        Case(
            "float32",
            {
                "x": rng.standard_normal((n_x, m, T_x)).astype(np.float32),
                "a0": {k: v.astype(np.float32) for k, v in _a0(rng, p, m, "rnn").items()},
                "parameters": {
                    k: {n: w.astype(np.float32) for n, w in q.items()} for k, q in p.items()
                },
                "cell": "rnn",
            },
            _sizes(n_x, n_a, m, T_x, 2),
        )
    )
    return cases


# --------------------------------------------------------------------------------------------
# Nested comparison with named mistakes (lists of layers, dicts of gradients)
# --------------------------------------------------------------------------------------------


def _leaves(tree, prefix=""):
    """(path, array) for every array of a nested list / dict."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}[{key!r}]")
    elif isinstance(tree, list | tuple):
        for i, value in enumerate(tree):
            yield from _leaves(value, f"{prefix}[{i}]")
    else:
        yield prefix, tree


def _at(tree, path_keys):
    for key in path_keys:
        try:
            tree = tree[key]
        except (KeyError, IndexError, TypeError):
            return None
    return tree


def _paths(tree, keys=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*keys, key))
    elif isinstance(tree, list | tuple):
        for i, value in enumerate(tree):
            yield from _paths(value, (*keys, i))
    else:
        yield keys, tree


def _close(got, want, tol):
    return (
        isinstance(got, np.ndarray)
        and got.shape == np.shape(want)
        and bool(np.all(np.isfinite(got)))
        and bool(np.allclose(got, want, **tol))
    )


def _compare_tree(name, got, want, case, mistakes, structure):
    """Compare nested lists/dicts leaf by leaf; a mismatch names the first mistake that
    reproduces the student's leaf."""
    tol = default_tolerance(case, got)
    for keys, value in _paths(want):
        text = "".join(f"[{k!r}]" for k in keys)
        container = _at(got, keys[:-1])
        if (
            container is None
            or (isinstance(container, dict) and keys[-1] not in container)
            or (isinstance(container, list) and keys[-1] >= len(container))
        ):
            raise AssertionError(f"{name} has no entry {text}: {structure}")
        have = container[keys[-1]]
        if _close(have, value, tol):
            continue
        hint = None
        for mistake in mistakes:
            wrong = _at(mistake.derive(case), keys)
            if wrong is not None and _close(have, wrong, tol):
                hint = mistake.hint
                break
        check_close(f"{name}{text}", have, value, hint=hint, **tol)


# --------------------------------------------------------------------------------------------
# Exercise 1 — deep_rnn_forward
# --------------------------------------------------------------------------------------------


def _forward_reference(case):
    return deep.stacked_forward(**case.args)


def _simulate(case, recurrent_input, layer_input=None):
    """The step-by-step loop with the reference step, with one input switched:
    ``recurrent_input(l, previous, current, t)`` picks layer l's a_prev from the states of the
    previous step and those already computed at this step."""
    x, a0, p, cell = (case.args[k] for k in ("x", "a0", "parameters", "cell"))
    names = deep.layer_names(p)
    previous = [a0[name] for name in names]
    a = [np.zeros((s.shape[0], x.shape[1], x.shape[2])) for s in previous]
    for t in range(x.shape[2]):
        current, below = [], x[:, :, t]
        for l, name in enumerate(names):
            a_prev = recurrent_input(l, previous, current, t)
            inp = below if layer_input is None else layer_input(l, x[:, :, t], below)
            state, _ = deep.step_forward(cell, inp, a_prev, p[name])
            current.append(state)
            a[l][:, :, t] = state
            below = state
        previous = current
    return a


def _shared_state(case):
    """One a_prev variable for every layer: layer l continues from layer l - 1's new state."""

    def pick(l, previous, current, t):
        if current:
            return current[-1]
        return previous[0] if t == 0 else previous[-1]  # a0['layer1'] first, then layer L's

    return _simulate(case, pick)


def _wrong_layer_previous(case):
    """Layer l reads a[l-1]<t-1> (the layer below's previous state) instead of its own."""
    return _simulate(case, lambda l, previous, current, t: previous[l - 1] if l else previous[0])


def _first_a0_everywhere(case):
    x, a0, p, cell = (case.args[k] for k in ("x", "a0", "parameters", "cell"))
    first = a0["layer1"]
    return deep.stacked_forward(x, {k: first for k in a0}, p, cell)[0]


def _no_recurrence_after_first(case):
    """a_prev never updated: every step starts again from a0."""
    a0 = case.args["a0"]
    names = deep.layer_names(case.args["parameters"])
    return _simulate(case, lambda l, previous, current, t: a0[names[l]])


def _one_array_for_all_layers(case):
    """``a = [np.zeros(...)] * L``: L names for one array, which every layer writes in turn, so
    each entry ends up holding the top layer's states."""
    a, _ = deep.stacked_forward(**case.args)
    return [a[-1]] * len(a)


_FORWARD_MISTAKES = (
    Mistake(
        "every layer keeps its own state: layer l must continue from its own a[l]<t-1>, not "
        "from the state just computed by the layer below (keep one a_prev per layer, e.g. a "
        "list or dict indexed by layer)",
        _shared_state,
    ),
    Mistake(
        "layer l's recurrent input is its own previous state a[l]<t-1>, not that of the layer "
        "below (a[l-1]<t-1>): check the layer index of a_prev",
        _wrong_layer_previous,
    ),
    Mistake(
        "each layer starts from its own initial state a0['layer<l>']",
        _first_a0_everywhere,
    ),
    Mistake(
        "a_prev must be updated after every step (a[l]<t> becomes the a_prev of step t + 1); "
        "here every step restarts from a0",
        _no_recurrence_after_first,
    ),
    Mistake(
        "every layer's states are the top layer's: [np.zeros(...)] * L is a list of L names "
        "for ONE array, so each layer overwrote the one below; make one array per layer, "
        "[np.zeros(...) for _ in range(L)]",
        _one_array_for_all_layers,
    ),
)


# --------------------------------------------------------------------------------------------
# Errors raised inside the student's functions, explained by the layer sizes of the case
# --------------------------------------------------------------------------------------------

_MUST_HAVE_SHAPE = re.compile(
    r"(\w+) must have shape \(([^)]*)\) = \(([\d, ]*)\), got \(([\d, ]*)\)"
)
_BROADCAST_PAIR = re.compile(r"broadcast together with shapes \(([\d, ]*)\) \(([\d, ]*)\)")


def _ints(text):
    return tuple(int(v) for v in text.replace(" ", "").split(",") if v)


def _reads(name, shape):
    """How many input rows a weight named ``name`` of ``shape`` reads (None: no input weight).
    The RNN's Wax is (n_a, n_in); the GRU's gates act on [a_prev; input], (n_a, n_a + n_in)."""
    if len(shape) != 2:
        return None
    if name == "Wax":
        return shape[1]
    if name in ("Wu", "Wr", "Wc"):
        return shape[1] - shape[0]
    return None


def _layer_widths(parameters, n_x):
    """{l: rows of layer l's input}: n_x for layer 1, the state size of layer l - 1 above it."""
    widths, n_in = {}, n_x
    for l, name in enumerate(deep.layer_names(parameters), start=1):
        widths[l] = n_in
        n_in = parameters[name]["ba" if "ba" in parameters[name] else "bu"].shape[0]
    return widths


def _explain_forward(case, error):
    """deep_rnn_forward's errors: which layer read an input of the wrong size, or got which
    layer's parameters (the shapes in step_forward's message tell)."""
    found = _MUST_HAVE_SHAPE.search(str(error))
    if isinstance(error, ValueError) and found:
        name, want, got = found.group(1), _ints(found.group(3)), _ints(found.group(4))
        fed, expects = _reads(name, want), _reads(name, got)
        widths = _layer_widths(case.args["parameters"], case.args["x"].shape[0])
        n_x = widths[1]
        start = f"ValueError{error_place(error)}: {error}. "
        # The same n_a on both sides: a_prev was this layer's state, only the input differs.
        same_state = len(want) == len(got) == 2 and want[0] == got[0]
        if fed is not None and expects is not None and fed != expects and same_state:
            above = [l for l, w in widths.items() if l > 1 and w == expects]
            if fed == n_x and above:
                l = above[0]
                return (
                    f"{start}Layer {l} read an input with {fed} rows — x<t>; it must read "
                    f"layer {l - 1}'s state a[{l - 1}]<t>, {expects} rows. Only layer 1 reads "
                    "x<t>: each layer's new state is the input of the layer above at the same "
                    "step. (Had this been layer 1, it was given another layer's parameters.)"
                )
            given = [l for l, w in widths.items() if l > 1 and w == fed]
            if expects == n_x and given:
                l = given[0]
                return (
                    f"{start}Layer {l} was given layer 1's parameters (their {name} {got} reads "
                    f"x<t>, {n_x} rows), but its input is layer {l - 1}'s state "
                    f"a[{l - 1}]<t>, {fed} rows: every layer has its own parameters, "
                    f"parameters[f'layer{{l}}'] (here parameters['layer{l}']). (Had this "
                    f"been layer 1, its input had {fed} rows: are xt and a_prev swapped in "
                    "step_forward(cell, xt, a_prev, parameters)?)"
                )
        if name == "Wya" and len(want) == len(got) == 2:
            # step_forward's hidden layer gets a zero output layer sized by a_prev: a clash
            # there means a_prev is not a state of this layer.
            return (
                f"{start}(Wya is the zero output layer step_forward gives a hidden layer, sized "
                f"by a_prev.) This layer's state has {want[1]} rows, but the a_prev it was "
                f"given has {got[1]}: a_prev must be the layer's own previous state, (n_a, m) "
                "— a0[f'layer{l}'] at t = 0, then the state it computed at step t - 1."
            )
        rows = ", ".join(
            f"layer {l} reads {'x<t>' if l == 1 else f'a[{l - 1}]<t>'} ({w} rows)"
            for l, w in widths.items()
        )
        return (
            f"{start}In this case {rows}, and each layer's a_prev is its own previous state; "
            "step_forward(cell, xt, a_prev, parameters) takes the layer's input, then its own "
            "a_prev, then its own parameters."
        )
    return explain_or_wrap(DEEP_RNN_FORWARD, case, error)


_A0_IN_PLACE = (
    "a0 holds the caller's initial states and must stay as it was: keep each layer's current "
    "state in a list or dict of your own (a_prev = [a0[name] for name in names]) and replace "
    "its entries, instead of writing the new states into a0 (or into its arrays)"
)


def _check_states(name, got, want, case):
    L = case.sizes["L"]
    if not isinstance(got, list | tuple) or len(got) != L:
        raise AssertionError(
            f"{name} must be a list of the L = {L} layers' states [a[1], ..., a[L]], got "
            + (
                f"a {type(got).__name__} of length {len(got)}"
                if isinstance(got, list | tuple)
                else type(got).__name__
            )
        )
    _compare_tree(
        name, list(got), want, case, _FORWARD_MISTAKES, "a holds one (n_a, m, T_x) array per layer"
    )


def _check_caches(name, got, want, case):
    """The caches must work with the reference backward."""
    layout = (
        "caches must be (cell_caches, x) with cell_caches[l][t] the step_forward cache of "
        "layer l + 1 at step t"
    )
    n_a = case.sizes["n_a"]
    da = np.random.default_rng(3).standard_normal((n_a, case.sizes["m"], case.sizes["T_x"]))
    expected = deep.stacked_backward(da, want)
    try:
        grads = deep.stacked_backward(da, got)
    except Exception as error:
        raise AssertionError(
            f"{name}: {layout} (the reference backward failed on it: "
            f"{type(error).__name__}: {error})"
        ) from None
    _compare_tree(f"the gradients computed from {name}", grads, expected, case, (), layout)


DEEP_RNN_FORWARD = Exercise(
    name="deep_rnn_forward",
    assignment=ASSIGNMENT,
    number=1,
    arguments=("x", "a0", "parameters", "cell"),
    returns=(
        Output("a", kind="custom", check=_check_states),
        Output("caches", kind="custom", check=_check_caches),
    ),
    packing="tuple",
    reference=_forward_reference,
    cases=_forward_cases,
    mistakes=(),
    forbidden=_FORBIDDEN,
    shapes={"x": "(n_x, m, T_x)", "xt": "(n_x, m)", "a_prev": "(n_a, m)", "a_next": "(n_a, m)"},
    key_hint="parameters and a0 have the keys 'layer1', 'layer2', ... (one per layer)",
    index_hint="the layers are parameters['layer1'] .. parameters[f'layer{L}'], the steps "
    "x[:, :, 0] .. x[:, :, T_x - 1]",
    doc="``deep_rnn_forward(x, a0, parameters, cell)`` -> (list of L states, caches).",
    in_place_hints={
        "a0": _A0_IN_PLACE,
        "parameters": "the parameters are only read here: build nothing into them",
    },
    explain=_explain_forward,
)


# --------------------------------------------------------------------------------------------
# Exercise 2 — deep_rnn_backward
# --------------------------------------------------------------------------------------------


def _backward_cases(rng, seed):
    cases = []
    for forward_case in _forward_cases(rng, seed):
        a, caches = _forward_reference(forward_case)
        da = rng.standard_normal(a[-1].shape).astype(a[-1].dtype)
        cases.append(
            Case(
                forward_case.label,
                {"da": da, "caches": caches},
                forward_case.sizes,
                {"parameters": forward_case.args["parameters"]},
            )
        )
    return cases


def _backward_reference(case):
    return deep.stacked_backward(**case.args)


def _backprop(case, from_above_for, future=True, accumulate=True, steps=reversed):
    """The reference's loop with a switch: ``from_above_for(l, L, da_t, dxt_above)`` is what
    reaches layer l from above at step t; ``future``: True (each layer's own da_prev of step
    t + 1), False (none) or "shared" (one variable for all layers: the da_prev returned last);
    ``steps``: the order of the time steps (``reversed``, or ``iter``: left to right)."""
    cell_caches, x = case.args["caches"]
    da = case.args["da"]
    L, T_x = len(cell_caches), x.shape[2]
    grads = [{} for _ in range(L)]
    from_future = [0.0] * L
    last = 0.0  # future="shared": the one variable every layer reads and writes
    dx = np.zeros(x.shape)
    for t in steps(range(T_x)):
        dxt_above = None
        for l in reversed(range(L)):
            above = from_above_for(l, L, da[:, :, t], dxt_above)
            later = {True: from_future[l], False: 0.0, "shared": last}[future]
            g = deep.step_backward(above + later, cell_caches[l][t])
            from_future[l] = last = g.pop("da_prev")
            dxt_above = g.pop("dxt")
            for key, value in g.items():
                grads[l][key] = grads[l].get(key, 0.0) + value if accumulate else value
        dx[:, :, t] = dxt_above
    out = {f"layer{l + 1}": {**grads[l], "da0": from_future[l]} for l in range(L)}
    out["dx"] = dx
    return out


def _right_above(l, L, da_t, dxt_above):
    return da_t if l == L - 1 else dxt_above


_BACKWARD_MISTAKES = (
    Mistake(
        "the layers below the top get their gradient from above: the dxt of layer l + 1 at the "
        "same step is the gradient reaching a[l]<t> (add it to the one from step t + 1)",
        lambda case: _backprop(case, lambda l, L, da_t, dxt: da_t if l == L - 1 else 0 * da_t),
    ),
    Mistake(
        "da reaches only the top layer's states; the layers below get dxt of the layer above, "
        "not da",
        lambda case: _backprop(case, lambda l, L, da_t, dxt: da_t),
    ),
    Mistake(
        "the gradient from step t + 1 (da_prev of the same layer) must be added to what comes "
        "from above",
        lambda case: _backprop(case, _right_above, future=False),
    ),
    Mistake(
        "the parameters are shared over time: add each step's gradient (+=), do not overwrite it",
        lambda case: _backprop(case, _right_above, accumulate=False),
    ),
    Mistake(
        scan_left_to_right(
            loop="for t in reversed(range(T_x)), and at each step the layers top to bottom"
        ),
        lambda case: _backprop(case, _right_above, steps=iter),
    ),
    Mistake(
        "each layer has its own gradient from the future: keep one da_prev per layer "
        "(from_future[l], what layer l returned at step t + 1); one variable shared by all "
        "layers hands layer l + 1's da_prev to layer l",
        lambda case: _backprop(case, _right_above, future="shared"),
    ),
)


def _explain_backward(case, error):
    """deep_rnn_backward's errors: a number instead of a gradient array reaching a layer, or
    two layers' gradients added together (one dict shared by all layers)."""
    text = str(error)
    start = f"{type(error).__name__}{error_place(error)}: {text}. "
    found = _MUST_HAVE_SHAPE.search(text)
    if isinstance(error, ValueError) and found and found.group(1) == "da_next":
        got = _ints(found.group(4))
        if got == ():
            return (
                f"{start}A plain number, not an (n_a, m) array, reached step_backward as "
                "da_next: the gradient from above is missing. At the last step nothing comes "
                "from the future (0), so everything a layer below the top receives comes from "
                "above: the dxt that layer l + 1 returned at the same step. Scan the layers top "
                "to bottom at every step (for l in reversed(range(L))) and hand each layer's "
                "dxt down to the layer below."
            )
        return (
            f"{start}da_next of a layer is the gradient at its state, (n_a, m): what comes "
            "from above (da[:, :, t] for the top layer, the dxt of layer l + 1 at the same step "
            "below it) plus what comes from the future (the da_prev of the same layer at step "
            "t + 1)."
        )
    pair = _BROADCAST_PAIR.search(text)
    parameters = case.context.get("parameters")
    if isinstance(error, ValueError) and pair and parameters:
        shapes = [_ints(pair.group(1)), _ints(pair.group(2))]
        owners = [
            {
                name
                for name in deep.layer_names(parameters)
                if any(v.shape == shape for v in parameters[name].values())
            }
            for shape in shapes
        ]
        if all(owners) and owners[0] != owners[1]:
            return (
                f"{start}Arrays of shapes {shapes[0]} and {shapes[1]} are gradients of "
                "different layers, added together: is the list of gradient dicts (or arrays) "
                "built as [{}] * L? That is L names for ONE dict, which every layer then adds "
                "into. Make one per layer: [{} for _ in range(L)]."
            )
    return explain_or_wrap(DEEP_RNN_BACKWARD, case, error)


def _check_grads(name, got, want, case):
    if not isinstance(got, dict):
        raise AssertionError(
            f"{name} must be a dict {{'layer1': grads, ..., 'dx': dx}}, got {type(got).__name__}"
        )
    _compare_tree(
        name,
        got,
        want,
        case,
        _BACKWARD_MISTAKES,
        "one dict of gradients per layer (with its da0), and dx",
    )


def _stack_proof(call, rng):
    """An asserted gradient check of deep_rnn_backward through three layers."""
    for cell in ("rnn", "gru"):
        n_x, n_a, m, T_x = 3, 4, 2, 4
        p = random_deep_parameters(rng, cell, n_x, [n_a] * 3)
        x = rng.standard_normal((n_x, m, T_x))
        a0 = _a0(rng, p, m, cell)
        w = rng.standard_normal((n_a, m, T_x))
        _, caches = deep.stacked_forward(x, a0, p, cell)
        grads = call(
            Case(
                f"gradient check, 3 {cell} layers",
                {"da": w, "caches": caches},
                _sizes(n_x, n_a, m, T_x, 3),
            )
        )

        def f(v, cell=cell, w=w, names=tuple(p)):
            a, _ = deep.stacked_forward(v["x"], v["a0"], {k: v[k] for k in names}, cell)
            return float(np.sum(w * a[-1]))

        with_a0 = {**grads, "a0": {f"d{k}": dict(grads.get(k, {})).get("da0") for k in p}}
        # Fourth-order differences: through three layers some true gradients are ~1e-6,
        # where the classic stencil's rounding noise alone is ~1e-5 relative.
        at = {"x": x, "a0": a0, **p}
        asserted_gradcheck(f"deep_rnn_backward ({cell} cells)", f, at, with_a0, order=4)


DEEP_RNN_BACKWARD = Exercise(
    name="deep_rnn_backward",
    assignment=ASSIGNMENT,
    number=2,
    arguments=("da", "caches"),
    returns=(Output("grads", kind="custom", check=_check_grads),),
    reference=_backward_reference,
    cases=_backward_cases,
    forbidden=_FORBIDDEN,
    shapes={"da": "(n_a, m, T_x)", "dx": "(n_x, m, T_x)", "da_next": "(n_a, m)"},
    proofs=(_stack_proof,),
    doc="``deep_rnn_backward(da, caches)`` -> {'layer1': grads, ..., 'dx'}.",
    explain=_explain_backward,
)


# --------------------------------------------------------------------------------------------
# Exercise 3 — deep_head_forward
# --------------------------------------------------------------------------------------------


def _head_cases(rng, seed):
    _n_x, n_a, m, T_x = _dims(rng, seed)
    n_h, n_y = n_a + 2, 3 if n_a != 3 else 5
    sizes = {"n_a": n_a, "n_h": n_h, "n_y": n_y, "m": m, "T_x": T_x}
    cases = []
    for L in (2, 3):
        states = [rng.standard_normal((n_a, m, T_x)) for _ in range(L)]
        cases.append(
            Case(f"{L} layers", {"a": states, "head": random_head(rng, n_a, n_h, n_y)}, sizes)
        )
    states = [rng.standard_normal((n_a, m, T_x)) for _ in range(2)]
    head = random_head(rng, n_a, n_h, n_y)
    cases.append(
        Case(
            "b1 = -2: relu off for most units",
            {"a": states, "head": {**head, "b1": head["b1"] - 2.0}},
            sizes,
        )
    )
    cases.append(Case("one layer", {"a": states[:1], "head": head}, sizes))
    cases.append(
        Case(
            "float32",
            {
                "a": [s.astype(np.float32) for s in states],
                "head": {k: v.astype(np.float32) for k, v in head.items()},
            },
            sizes,
        )
    )
    return cases


def _head_of(a, head):
    return deep.head_forward(a, head)


def _head_reference(case):
    return _head_of(case.args["a"][-1], case.args["head"])


def _check_head_cache(name, got, want, case):
    if not isinstance(got, tuple) or len(got) != 3:
        raise AssertionError(
            f"{name} must be (a_top, h, head): the top layer's states, the "
            "hidden activations h = relu(W1 a + b1) and the head's parameters"
        )
    tol = default_tolerance(case, got)
    for i, what in ((0, "a_top, the top layer's states a[-1]"), (1, "h = relu(W1 a_top + b1)")):
        check_close(f"{name}[{i}] ({what})", got[i], want[i], **tol)


def _softmax_over(axis):
    """The reference head with its softmax over ``axis`` instead of the classes (axis 0)."""

    def derive(case):
        a, head = case.args["a"][-1], case.args["head"]
        z1, _ = rnn.dense_forward(a, head["W1"], head["b1"])
        z2, _ = rnn.dense_forward(activations.relu(z1), head["W2"], head["b2"])
        return {"y_hat": np.moveaxis(activations.softmax(np.moveaxis(z2, axis, 0)), 0, axis)}

    return derive


def _scores_without(case, **switch):
    a, head = case.args["a"][-1], {**case.args["head"], **switch}
    return {"y_hat": _head_of(a, head)[0]}


DEEP_HEAD_FORWARD = Exercise(
    name="deep_head_forward",
    assignment=ASSIGNMENT,
    number=3,
    arguments=("a", "head"),
    returns=(
        Output(
            "y_hat",
            shape="(n_y, m, T_x)",
            hint=lambda got, want, case: (
                columns_sum_to_one("y_hat[:, i, t]")
                if isinstance(got, np.ndarray)
                and got.shape == want.shape
                and not np.allclose(got.sum(axis=0), 1, atol=1e-4)
                else None
            ),
        ),
        Output("cache", kind="custom", check=_check_head_cache),
    ),
    packing="tuple",
    reference=_head_reference,
    cases=_head_cases,
    mistakes=(
        Mistake(
            "the head sits on the top layer: use a[-1] (the last layer's states), not a[0]",
            lambda case: _head_of(case.args["a"][0], case.args["head"]),
            outputs=("y_hat",),
        ),
        Mistake(
            "h = relu(W1 a + b1): the relu between the two layers is missing (without it the "
            "two layers are one linear map)",
            lambda case: {
                "y_hat": activations.softmax(
                    rnn.dense_forward(
                        rnn.dense_forward(
                            case.args["a"][-1], case.args["head"]["W1"], case.args["head"]["b1"]
                        )[0],
                        case.args["head"]["W2"],
                        case.args["head"]["b2"],
                    )[0]
                )
            },
            outputs=("y_hat",),
        ),
        Mistake(
            "b1 is missing: h = relu(W1 a + b1)",
            lambda case: _scores_without(case, b1=0 * case.args["head"]["b1"]),
            outputs=("y_hat",),
        ),
        Mistake(
            "b2 is missing: y_hat = softmax(W2 h + b2)",
            lambda case: _scores_without(case, b2=0 * case.args["head"]["b2"]),
            outputs=("y_hat",),
        ),
        Mistake(SOFTMAX_AXIS, _softmax_over(1), outputs=("y_hat",)),
        Mistake(SOFTMAX_AXIS, _softmax_over(2), outputs=("y_hat",)),
    ),
    forbidden=_FORBIDDEN,
    shapes={"a_top": "(n_a, m, T_x)", "h": "(n_h, m, T_x)", "y_hat": "(n_y, m, T_x)"},
    key_hint="head has the keys W1, b1, W2, b2",
    doc="``deep_head_forward(a, head)`` -> (y_hat (n_y, m, T_x), (a[-1], h, head)).",
)


# --------------------------------------------------------------------------------------------
# Exercise 4 — head_backward
# --------------------------------------------------------------------------------------------


def _head_backward_cases(rng, seed):
    cases = []
    for head_case in _head_cases(rng, seed):
        _, cache = _head_reference(head_case)
        n_y = head_case.sizes["n_y"]
        dz = rng.standard_normal((n_y, head_case.sizes["m"], head_case.sizes["T_x"]))
        cases.append(
            Case(
                head_case.label, {"dz": dz.astype(cache[0].dtype), "cache": cache}, head_case.sizes
            )
        )
    return cases


def _head_backward_reference(case):
    return deep.head_backward(**case.args)


def _without_relu_derivative(case):
    a, h, head = case.args["cache"]
    dh, _dW2, _db2 = rnn.dense_backward(case.args["dz"], (h, head["W2"]))
    da, dW1, db1 = rnn.dense_backward(dh, (a, head["W1"]))
    return {"da": da, "dW1": dW1, "db1": db1}


def _head_proof(call, rng):
    n_a, n_h, n_y, m, T_x = 3, 4, 2, 2, 5
    a = rng.standard_normal((n_a, m, T_x))
    head = random_head(rng, n_a, n_h, n_y)
    w = rng.standard_normal((n_y, m, T_x))
    _, cache = deep.head_forward(a, head)
    grads = call(
        Case(
            "gradient check",
            {"dz": w, "cache": cache},
            {"n_a": n_a, "n_h": n_h, "n_y": n_y, "m": m, "T_x": T_x},
        )
    )

    def f(v):
        _, (_, h, _) = deep.head_forward(v["a"], {k: v[k] for k in head})
        z, _ = rnn.dense_forward(h, v["W2"], v["b2"])
        return float(np.sum(w * z))

    asserted_gradcheck("head_backward", f, {"a": a, **head}, grads)


HEAD_BACKWARD = Exercise(
    name="head_backward",
    assignment=ASSIGNMENT,
    number=4,
    arguments=("dz", "cache"),
    returns=(
        Output("da", shape="(n_a, m, T_x)"),
        Output("dW1", shape="(n_h, n_a)"),
        Output("db1", shape="(n_h, 1)"),
        Output("dW2", shape="(n_y, n_h)"),
        Output("db2", shape="(n_y, 1)"),
    ),
    packing="dict",
    reference=_head_backward_reference,
    cases=_head_backward_cases,
    mistakes=(
        Mistake(
            "back through relu: multiply by relu'(z1) = (h > 0) before the first layer",
            _without_relu_derivative,
        ),
        Mistake(
            "the weights are shared by every step and example: dW2 = sum over m and t of "
            "dz<t> h<t>^T (use h, the relu output, not a)",
            lambda case: {"dW2": np.einsum("ymt,amt->ya", case.args["dz"], case.args["cache"][0])},
            outputs=("dW2",),
        ),
    ),
    forbidden=_FORBIDDEN,
    shapes={
        "dz": "(n_y, m, T_x)",
        "dh": "(n_h, m, T_x)",
        "h": "(n_h, m, T_x)",
        "a": "(n_a, m, T_x)",
        "da": "(n_a, m, T_x)",
    },
    proofs=(_head_proof,),
    doc="``head_backward(dz, cache)`` -> {'da', 'dW1', 'db1', 'dW2', 'db2'}.",
)
