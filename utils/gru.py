"""Gated recurrent unit (GRU), written as the lecture: the cell, a loop over it, and back.

In a GRU the memory cell is the hidden state, c<t> = a<t>: the functions take and return
``a`` (as every cell does), and the equations below write it c. Lecture equations (one step;
[v; x] stacks v on x<t>; * is element-wise)::

    full GRU (variant="full", the default):
        Γu<t> = σ(Wu [c<t-1>; x<t>] + bu)                        update gate
        Γr<t> = σ(Wr [c<t-1>; x<t>] + br)                        relevance gate
        c~<t> = tanh(Wc [Γr<t> * c<t-1>; x<t>] + bc)             Γr applied *before* the product
        c<t>  = Γu<t> * c~<t> + (1 - Γu<t>) * c<t-1>

    simplified GRU (variant="simplified"): no Γr, c~<t> = tanh(Wc [c<t-1>; x<t>] + bc).

    reset-after GRU (variant="reset_after", PyTorch's and cuDNN's choice):
        c~<t> = tanh(Wc_x x<t> + bc + Γr<t> * (Wc_c c<t-1> + bcr))
    where Wc = [Wc_c, Wc_x] is split into its c and x columns and ``bcr`` (n_a, 1) is an extra
    bias inside the reset: Γr scales the *product* Wc_c c<t-1>, not c<t-1> itself.

In code the gates are ``gamma_u`` (Γu), ``gamma_r`` (Γr) and ``c_tilde`` (c~).

Shapes: x (n_x, m, T_x); a0 = c<0> (n_a, m); a (n_a, m, T_x); Wu, Wr, Wc (n_a, n_a + n_x);
bu, br, bc, bcr (n_a, 1).

Functions:

- ``gru_cell_forward(xt, a_prev, parameters, variant)`` -> ``(a_next, cache)``,
  ``cache = GRUCache(a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant)``
  (``gamma_r`` is None for "simplified"); ``gru_cell_backward(da_next, cache)`` ->
  ``{"dxt", "da_prev", "dWu", "dbu", "dWc", "dbc"}`` + ``"dWr", "dbr"`` (unless simplified)
  + ``"dbcr"`` (reset_after).
- ``gru_forward(x, a0, parameters, variant)`` -> ``(a, caches)``, ``caches = (cell_caches,
  x)``; ``gru_backward(da, caches)`` -> ``{"dx", "da0"}`` + d every parameter: a loop over
  the cell, then a right-to-left loop over its backward.

Caches hold the caller's arrays and ``parameters`` by reference. ``utils.kernels.gru`` has the
same sequence functions, fused for speed (tests hold them equal); the PyTorch weight map is in
its docstring.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from utils._validate import (
    VARIANTS,
    as_float_array,
    check_argument_shape,
    check_sequence,
    check_step_input,
    common_dtype,
    gru_parameters,
)
from utils.activations import sigmoid

__all__ = [
    "VARIANTS",
    "GRUCache",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_forward",
]


class GRUCache(NamedTuple):
    """The cache of one GRU step (``gru_cell_forward``), what ``gru_cell_backward`` needs.

    A tuple: a cache a student builds as the plain tuple ``(a_next, a_prev, xt, gamma_u,
    gamma_r, c_tilde, parameters, variant)`` is the same thing (``GRUCache._make(cache)`` names
    its fields)."""

    a_next: np.ndarray  # a<t> = c<t> (n_a, m)
    a_prev: np.ndarray  # a<t-1> = c<t-1> (n_a, m)
    xt: np.ndarray  # x<t> (n_x, m)
    gamma_u: np.ndarray  # Γu<t> (n_a, m)
    gamma_r: np.ndarray | None  # Γr<t> (n_a, m); None for variant="simplified"
    c_tilde: np.ndarray  # c~<t> (n_a, m)
    parameters: dict  # the caller's dict, by reference
    variant: str  # "full", "simplified" or "reset_after"

    # copy.deepcopy (the checks copy their arguments) would add this on first use, and
    # utils.checks takes a utils class changed after import for tampering: set it now.
    __slotnames__ = []  # noqa: RUF012


# --------------------------------------------------------------------------------------------
# One time step
# --------------------------------------------------------------------------------------------


def gru_cell_forward(xt, a_prev, parameters, variant="full"):
    """One GRU step.

    Arguments:
    - xt (n_x, m); a_prev = c<t-1> (n_a, m).
    - parameters: Wu, Wc (and Wr unless simplified) (n_a, n_a + n_x); bu, bc (and br)
      (n_a, 1); ``bcr`` (n_a, 1) for reset_after.
    - variant: "full" (lecture), "simplified" (lecture, no Γr) or "reset_after" (PyTorch).

    Returns:
    - a_next = c<t> (n_a, m).
    - cache: ``GRUCache(a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters,
      variant)``.
    """
    xt = check_step_input("xt", xt)
    n_x, m = xt.shape
    p, n_a = gru_parameters(parameters, n_x, variant, "gru_cell_forward")
    a_prev = as_float_array("a_prev", a_prev)
    check_argument_shape("a_prev", a_prev, ("n_a", "m"), {"n_a": n_a, "m": m})

    c_prev = a_prev  # in a GRU the memory cell is the hidden state
    concat = np.concatenate([c_prev, xt])  # [c<t-1>; x<t>]
    gamma_u = sigmoid(p["Wu"] @ concat + p["bu"])  # Γu: how much to update
    if variant == "simplified":
        gamma_r = None
        c_tilde = np.tanh(p["Wc"] @ concat + p["bc"])
    elif variant == "full":
        gamma_r = sigmoid(p["Wr"] @ concat + p["br"])  # Γr: how relevant c<t-1> is to c~
        c_tilde = np.tanh(p["Wc"] @ np.concatenate([gamma_r * c_prev, xt]) + p["bc"])
    else:  # reset_after: Γr scales the recurrent product, not c<t-1>
        gamma_r = sigmoid(p["Wr"] @ concat + p["br"])
        recurrent = p["Wc"][:, :n_a] @ c_prev + p["bcr"]
        c_tilde = np.tanh(p["Wc"][:, n_a:] @ xt + p["bc"] + gamma_r * recurrent)
    c_next = gamma_u * c_tilde + (1 - gamma_u) * c_prev  # update some, keep the rest

    a_next = c_next
    cache = GRUCache(a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant)
    return a_next, cache


def gru_cell_backward(da_next, cache):
    """Backward pass of one GRU step, given da_next = dL/dc<t> (n_a, m): all of it, from the
    output at step t and from step t+1.

    Returns a dict: dxt (n_x, m), da_prev (n_a, m), and d + every parameter of the variant.
    """
    a_next, a_prev, xt, gamma_u, gamma_r, c_tilde, parameters, variant = cache
    n_a, m = a_next.shape
    p, _ = gru_parameters(parameters, xt.shape[0], variant, "gru_cell_backward")
    da_next = as_float_array("da_next", da_next)
    check_argument_shape("da_next", da_next, ("n_a", "m"), {"n_a": n_a, "m": m})
    c_prev, dc_next = a_prev, da_next
    concat = np.concatenate([c_prev, xt])

    # c<t> = Γu * c~ + (1 - Γu) * c<t-1>
    dgamma_u = dc_next * (c_tilde - c_prev)
    dc_tilde = dc_next * gamma_u
    dc_prev = dc_next * (1 - gamma_u)  # the direct path to c<t-1>
    dz_u = dgamma_u * gamma_u * (1 - gamma_u)  # back through σ
    dz_c = dc_tilde * (1 - c_tilde**2)  # back through tanh

    grads = {"dWu": dz_u @ concat.T, "dbu": dz_u.sum(axis=1, keepdims=True)}
    grads["dbc"] = dz_c.sum(axis=1, keepdims=True)
    dconcat = p["Wu"].T @ dz_u  # Γu saw [c<t-1>; x<t>]
    if variant == "simplified":  # z_c = Wc [c<t-1>; x<t>] + bc
        grads["dWc"] = dz_c @ concat.T
        dconcat += p["Wc"].T @ dz_c
    elif variant == "full":  # z_c = Wc [Γr * c<t-1>; x<t>] + bc
        grads["dWc"] = dz_c @ np.concatenate([gamma_r * c_prev, xt]).T
        dreset_concat = p["Wc"].T @ dz_c
        dreset = dreset_concat[:n_a]  # into Γr * c<t-1>
        dconcat[n_a:] += dreset_concat[n_a:]  # into x<t>
        dgamma_r = dreset * c_prev
        dc_prev += dreset * gamma_r
    else:  # reset_after: z_c = Wc_x x<t> + bc + Γr * (Wc_c c<t-1> + bcr)
        recurrent = p["Wc"][:, :n_a] @ c_prev + p["bcr"]
        drecurrent = dz_c * gamma_r
        dgamma_r = dz_c * recurrent
        grads["dWc"] = np.concatenate([drecurrent @ c_prev.T, dz_c @ xt.T], axis=1)
        grads["dbcr"] = drecurrent.sum(axis=1, keepdims=True)
        dc_prev += p["Wc"][:, :n_a].T @ drecurrent
        dconcat[n_a:] += p["Wc"][:, n_a:].T @ dz_c
    if variant != "simplified":
        dz_r = dgamma_r * gamma_r * (1 - gamma_r)  # back through σ
        grads["dWr"] = dz_r @ concat.T
        grads["dbr"] = dz_r.sum(axis=1, keepdims=True)
        dconcat += p["Wr"].T @ dz_r  # Γr saw [c<t-1>; x<t>]

    grads["da_prev"] = dc_prev + dconcat[:n_a]  # split [c<t-1>; x<t>]
    grads["dxt"] = dconcat[n_a:]
    return grads


# --------------------------------------------------------------------------------------------
# Whole sequence: a loop over the cell, and back
# --------------------------------------------------------------------------------------------


def gru_forward(x, a0, parameters, variant="full"):
    """GRU over all T_x steps: ``gru_cell_forward`` at every step, left to right.

    Arguments:
    - x (n_x, m, T_x); a0 = c<0> (n_a, m); parameters and variant as for ``gru_cell_forward``.

    Returns:
    - a (n_a, m, T_x): the states c<1..T_x> (carry ``a[:, :, -1]`` for truncated BPTT).
    - caches: (cell_caches, x), cell_caches[t] the cache of step t.
    """
    x = check_sequence("x", x)
    n_x, m, T_x = x.shape
    p, n_a = gru_parameters(parameters, n_x, variant, "gru_forward")
    a0 = as_float_array("a0", a0)
    check_argument_shape("a0", a0, ("n_a", "m"), {"n_a": n_a, "m": m})
    if T_x == 0:
        raise ValueError("x has no time steps (T_x = 0)")

    a = np.zeros((n_a, m, T_x), dtype=common_dtype(x, a0, *p.values()))
    cell_caches = []
    a_next = a0
    for t in range(T_x):
        a_next, cache = gru_cell_forward(x[:, :, t], a_next, parameters, variant)
        a[:, :, t] = a_next
        cell_caches.append(cache)
    return a, (cell_caches, x)


def gru_backward(da, caches):
    """Backprop through time: ``gru_cell_backward`` at every step, right to left.

    Arguments:
    - da: dL/da<t> from above for every step, (n_a, m, T_x).
    - caches: (cell_caches, x) from ``gru_forward``.

    Returns a dict: dx (n_x, m, T_x), da0 (n_a, m), and dWu, dbu, dWc, dbc (+ dWr, dbr unless
    simplified, + dbcr for reset_after), summed over time.
    """
    cell_caches, x = caches
    n_x, m, T_x = x.shape
    a_last, *_ = cell_caches[-1]  # a_next of the last step
    n_a, dtype = a_last.shape[0], a_last.dtype
    da = as_float_array("da", da)
    check_argument_shape("da", da, ("n_a", "m", "T_x"), {"n_a": n_a, "m": m, "T_x": T_x})

    dx = np.zeros((n_x, m, T_x), dtype=dtype)
    weights = {}  # d + parameter, summed over the steps
    da_prev = np.zeros((n_a, m), dtype=dtype)  # dL/da<t> arriving from step t+1
    for t in reversed(range(T_x)):
        step = gru_cell_backward(da[:, :, t] + da_prev, cell_caches[t])  # above + future
        dx[:, :, t] = step.pop("dxt")
        da_prev = step.pop("da_prev")  # goes on to step t-1
        for name, grad in step.items():  # the same weights serve every step
            weights[name] = weights.get(name, 0) + grad
    return {"dx": dx, "da0": da_prev, **weights}
