"""How the gradient travels back through time in a vanilla RNN (the lesson of notebook 05).

Backpropagation through time sends the gradient at a hidden state one step back with

    dL/da<t-1> = Waa^T (g'(z<t>) * dL/da<t>)         (plus what step t-1's own output adds)

so after k steps it has been multiplied by k matrices ``Waa^T diag(g'(z))``. Their norms decide
everything: below 1 the gradient from far away **vanishes**, above 1 it **explodes**.

- :func:`hidden_state_gradient_norms`: ``||dL/da<t>||`` for every t, by BPTT over the reference
  caches of :func:`utils.rnn.rnn_forward` (notebook 05's exercise has exactly this contract);
- :func:`scaled_orthogonal`: a recurrent matrix with every singular value equal to ``radius``;
- :func:`spectral_radius` and :func:`largest_singular_value` of a square matrix.
"""

from __future__ import annotations

import numpy as np

from utils.init import orthogonal

__all__ = [
    "hidden_state_gradient_norms",
    "largest_singular_value",
    "scaled_orthogonal",
    "spectral_radius",
]


def hidden_state_gradient_norms(da, caches) -> np.ndarray:
    """``norms[t] = ||dL/da<t>||`` (Frobenius norm over the ``(n_a, m)`` entries), t = 0..T_x-1.

    Arguments:
    - da: (n_a, m, T_x), the gradient reaching each hidden state from above (e.g. from its own
      output layer); the part coming from the future is added here, right to left.
    - caches: ``(cell_caches, x)`` from :func:`utils.rnn.rnn_forward`; ``cell_caches[t] =
      (a_next, a_prev, xt, parameters, activation)``.
    """
    cell_caches, _ = caches
    T_x = len(cell_caches)
    norms = np.zeros(T_x)
    da_future = np.zeros_like(np.asarray(da[:, :, 0], dtype=float))
    for t in reversed(range(T_x)):
        a_next, _, _, parameters, activation = cell_caches[t]
        da_t = da[:, :, t] + da_future  # from above and from step t+1
        norms[t] = np.sqrt(np.sum(da_t**2))
        g_prime = 1 - a_next**2 if activation == "tanh" else (a_next > 0).astype(float)
        da_future = parameters["Waa"].T @ (g_prime * da_t)  # one step back through time
    return norms


def scaled_orthogonal(rng: np.random.Generator, n: int, radius: float) -> np.ndarray:
    """``radius * Q`` with Q a random orthogonal matrix: every singular value (and the modulus
    of every eigenvalue) equals ``radius``."""
    return radius * orthogonal(rng, n)


def spectral_radius(W: np.ndarray) -> float:
    """Largest modulus of an eigenvalue of the square matrix ``W``."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def largest_singular_value(W: np.ndarray) -> float:
    """Largest singular value of ``W`` (its operator 2-norm): ``||W v|| <= sigma_max ||v||``."""
    return float(np.linalg.norm(W, 2))
