"""Internal helpers shared by the layer modules: argument checks, the layers' contracts and
parameter-tree walking.

Not part of the student-facing API (the notebooks' checks are ``utils.checks``, which raise
``AssertionError``; these raise ``ValueError`` / ``KeyError`` / ``TypeError`` at a caller that
passed a wrong argument). Every layer function checks its arguments with
:func:`check_argument_shape`, so a wrong shape fails early with a message that names the
argument, the expected shape in the lecture's symbols and in numbers, and what was received::

    ValueError: Wax must have shape (n_a, n_x) = (5, 3), got (3, 5)

Parameters travel as dicts of arrays. Wrappers (bidirectional, deep) nest them, e.g.
``{"forward": {...}, "backward": {...}}``; :func:`iter_arrays` walks such trees leaf by leaf,
and :func:`gradient_for` finds a leaf's gradient under the same path, with ``"d" + name`` for
the leaf name.

The contracts that a readable reference module (``utils.rnn``, ``utils.gru``, ``utils.lstm``)
and its fast kernel (``utils.kernels.*``) must both meet live here, not in either of them, so
that editing a lesson module cannot change the training path: the options each cell accepts
(:data:`ACTIVATIONS`, :data:`VARIANTS`, :data:`PEEPHOLES`) and the parameter validators
(:func:`rnn_parameters`, :func:`output_parameters`, :func:`gru_parameters`,
:func:`lstm_parameters`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


def as_float_array(name: str, value) -> np.ndarray:
    """Return ``value`` as a floating-point ndarray, without copying when it already is one.

    Integer and boolean inputs become float64; float32 stays float32.
    """
    array = np.asarray(value)
    kind = array.dtype.kind  # a character test: this runs for every argument of every call
    if kind == "f":
        return array
    if kind in "iub":  # signed, unsigned, bool
        return array.astype(np.float64)
    raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")


def check_argument_shape(
    name: str, array: np.ndarray, expected: tuple, sizes: Mapping[str, int]
) -> None:
    """Raise ``ValueError`` unless ``array.shape`` matches ``expected``.

    Arguments:
    - name: the argument's name as the caller knows it, e.g. ``"Wax"``.
    - array: the array to check.
    - expected: a tuple of dimension symbols (``"n_a"``) or literal integers.
    - sizes: the value of each symbol, e.g. ``{"n_a": 5, "n_x": 3}``.
    """
    wanted = tuple(sizes[d] if isinstance(d, str) else d for d in expected)
    if array.shape != wanted:
        symbols = ", ".join(str(d) for d in expected)
        if len(expected) == 1:
            symbols += ","
        raise ValueError(f"{name} must have shape ({symbols}) = {wanted}, got {array.shape}")


def get_param(parameters: Mapping, name: str, where: str) -> np.ndarray:
    """Return ``parameters[name]`` as a float array, or raise a ``KeyError`` that says why."""
    if not isinstance(parameters, Mapping):
        raise TypeError(f"{where}: parameters must be a dict of arrays, got {type(parameters)}")
    if name not in parameters:
        raise KeyError(f"{where}: parameters has no {name!r} (has {sorted(parameters)})")
    return as_float_array(name, parameters[name])


def check_sequence(name: str, x) -> np.ndarray:
    """Return ``x`` as a float array, or raise ``ValueError`` unless it is 3-D ``(n, m, T)``."""
    x = as_float_array(name, x)
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D with shape (n, m, T), got shape {x.shape}")
    return x


def iter_arrays(tree: Mapping, prefix: str = "") -> Iterator[tuple[str, Mapping, str]]:
    """Yield ``(path, container, key)`` for every array leaf of a (nested) parameter dict.

    ``path`` is dotted (``"forward.Waa"``); ``container[key]`` is the leaf itself, so callers
    can read it or assign a new array in its place.
    """
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from iter_arrays(value, prefix=path + ".")
        else:
            yield path, tree, key


def gradient_for(grads: Mapping, path: str) -> np.ndarray:
    """Return the gradient of the parameter at dotted ``path`` from a gradient tree.

    Sub-dicts keep their names; the leaf is looked up as ``"d" + name`` (``"forward.Waa"`` ->
    ``grads["forward"]["dWaa"]``).
    """
    *branches, leaf = path.split(".")
    node = grads
    for branch in branches:
        if branch not in node:
            raise KeyError(f"gradients have no {branch!r} entry (needed for {path!r})")
        node = node[branch]
    if "d" + leaf not in node:
        raise KeyError(f"gradients have no {'d' + leaf!r} (needed for {path!r})")
    return node["d" + leaf]


def to_steps_layout(seq: np.ndarray) -> np.ndarray:
    """Lecture layout ``(n, m, T)`` -> contiguous step layout ``(n, T, m)``.

    In step layout each time step ``seq[:, t, :]`` is an ``(n, m)`` matrix with contiguous rows
    that BLAS uses in place, and all steps flatten for free to one ``(n, T*m)`` matrix, so
    input projections and weight gradients over all time steps are single matmuls.
    """
    return np.ascontiguousarray(seq.transpose(0, 2, 1))


def to_lecture_layout(seq: np.ndarray) -> np.ndarray:
    """Step layout ``(n, T, m)`` -> contiguous lecture layout ``(n, m, T)``."""
    return np.ascontiguousarray(seq.transpose(0, 2, 1))


def common_dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating dtype the computation runs in: float32 only if every input is float32."""
    return np.result_type(*arrays, np.float32)


def check_option(name: str, value, allowed: tuple) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed`` (an option such as
    ``activation="tanh"``)."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_step_input(name: str, xt) -> np.ndarray:
    """Return ``xt`` as a float array, or raise ``ValueError`` unless it is 2-D ``(n_x, m)``."""
    xt = as_float_array(name, xt)
    if xt.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_x, m), got {xt.shape}")
    return xt


def rnn_parameters(parameters: Mapping, n_x: int, where: str):
    """Fetch and shape-check the vanilla RNN's Waa, Wax, ba; return them with n_a."""
    Waa = get_param(parameters, "Waa", where)
    n_a = Waa.shape[0] if Waa.ndim == 2 else -1
    sizes = {"n_a": n_a, "n_x": n_x}
    check_argument_shape("Waa", Waa, ("n_a", "n_a"), sizes)
    Wax = get_param(parameters, "Wax", where)
    check_argument_shape("Wax", Wax, ("n_a", "n_x"), sizes)
    ba = get_param(parameters, "ba", where)
    check_argument_shape("ba", ba, ("n_a", 1), sizes)
    return Waa, Wax, ba, n_a


def output_parameters(parameters: Mapping, n_a: int, where: str):
    """Fetch and shape-check the output layer's Wya, by."""
    Wya = get_param(parameters, "Wya", where)
    n_y = Wya.shape[0] if Wya.ndim == 2 else -1
    check_argument_shape("Wya", Wya, ("n_y", "n_a"), {"n_y": n_y, "n_a": n_a})
    by = get_param(parameters, "by", where)
    check_argument_shape("by", by, ("n_y", 1), {"n_y": n_y})
    return Wya, by


def gate_parameters(parameters: Mapping, n_x: int, gates, extras=(), where: str = ""):
    """Fetch and shape-check gate weights ``W<g>`` (n_a, n_a + n_x) and biases ``b<g>``
    (n_a, 1) for every gate letter in ``gates``, plus the (n_a, 1) vectors named in ``extras``
    (peepholes, GRU's ``bcr``). Returns (dict of float arrays, n_a); n_a is read from the
    first gate's weight."""
    first = get_param(parameters, "W" + gates[0], where)
    n_a = first.shape[0] if first.ndim == 2 else -1
    sizes = {"n_a": n_a, "n_a + n_x": n_a + n_x}
    p = {}
    for g in gates:
        p["W" + g] = get_param(parameters, "W" + g, where)
        check_argument_shape("W" + g, p["W" + g], ("n_a", "n_a + n_x"), sizes)
        p["b" + g] = get_param(parameters, "b" + g, where)
        check_argument_shape("b" + g, p["b" + g], ("n_a", 1), sizes)
    for name in extras:
        p[name] = get_param(parameters, name, where)
        check_argument_shape(name, p[name], ("n_a", 1), sizes)
    return p, n_a


ACTIVATIONS = ("tanh", "relu")  # the vanilla RNN's g (utils.rnn)
VARIANTS = ("full", "simplified", "reset_after")  # the GRU's (utils.gru)
PEEPHOLES = ("pf", "pu", "po")  # the LSTM's optional peephole vectors (utils.lstm)


def gru_parameters(parameters: Mapping, n_x: int, variant: str, where: str):
    """Fetch and shape-check the GRU parameters of ``variant``; return (dict, n_a)."""
    check_option("variant", variant, VARIANTS)
    gates = "uc" if variant == "simplified" else "urc"
    extras = ("bcr",) if variant == "reset_after" else ()
    return gate_parameters(parameters, n_x, gates, extras, where)


def lstm_parameters(parameters: Mapping, n_x: int, peephole: bool, where: str):
    """Fetch and shape-check the LSTM parameters; return (dict of float arrays, n_a)."""
    return gate_parameters(parameters, n_x, "fuoc", PEEPHOLES if peephole else (), where)


class Steps:
    """A sequence that the outermost call has already checked, in step layout (n, T_x, m).

    ``utils.kernels.deep``, ``utils.bidirectional`` and ``utils.layer`` pass their inputs and
    upstream gradients to each other, and to the kernels, wrapped in ``Steps``, so that a stack
    of layers checks ``x`` (and ``da``) and converts it to the kernels' layout once, at the
    outer call, instead of again at every level. A layer function given a ``Steps`` skips
    those checks and returns its sequence outputs (states, dx) as ``Steps`` too. The array
    may be any view with that shape (e.g. time reversed); it is never written to.

    A wrapper instead of separate private functions: every layer still runs through its
    public function, so what a public function does (and the exercises' checks, which
    detect calls of the reference functions) covers the stacked path too.
    """

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array


def sequence_in(name: str, x) -> tuple[np.ndarray, bool]:
    """``(x in step layout, given as Steps)``: a ``Steps`` is unwrapped as it is; anything
    else is checked (:func:`check_sequence`) and viewed as (n, T_x, m), without a copy."""
    if isinstance(x, Steps):
        return x.array, True
    return check_sequence(name, x).transpose(0, 2, 1), False


def gradient_in(name: str, d, expected: tuple, sizes: Mapping[str, int]):
    """``(d in step layout, given as Steps)`` for an upstream gradient of lecture shape
    ``expected`` (e.g. ``("n_a", "m", "T_x")``): a ``Steps`` is unwrapped as it is; anything
    else is converted and shape-checked (:func:`check_argument_shape`), then viewed as
    (n, T_x, m)."""
    if isinstance(d, Steps):
        return d.array, True
    d = as_float_array(name, d)
    check_argument_shape(name, d, expected, sizes)
    return d.transpose(0, 2, 1), False
