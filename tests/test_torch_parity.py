"""Parity with PyTorch: outputs and every gradient match torch.nn.RNN / LSTM / GRU in float64.

Weight maps (ours <-> torch; n_a hidden, gate blocks are row blocks of n_a rows):

- RNN:  weight_ih_l0 = Wax, weight_hh_l0 = Waa, bias_ih_l0 + bias_hh_l0 = ba.
- LSTM: torch gate order is i, f, g, o = our Γu, Γf, c~, Γo. With W = [Wu; Wf; Wc; Wo]
  stacked, weight_hh_l0 = W[:, :n_a], weight_ih_l0 = W[:, n_a:], bias = [bu; bf; bc; bo].
  (torch has no peepholes; our peephole LSTM is checked by finite differences instead.)
- GRU (our variant="reset_after"): torch order r, z, n; torch keeps the old state with z, we
  write the new one with Γu = 1 - z, so Wu = -[W_hz, W_iz], bu = -(b_iz + b_hz);
  Wr = [W_hr, W_ir], br = b_ir + b_hr; Wc = [W_hn, W_in], bc = b_in, bcr = b_hn.
  The lecture's GRU (Γr before the product) is not PyTorch's; it is tested by finite
  differences in tests/test_gru.py.
- Layer l of a stacked network is our f"layer{l+1}"; "*_reverse" weights are our "backward".

Biases: torch's two biases are always summed; we draw both at random and compare our bias
gradient with each of torch's (they are equal).

Torch is optional locally (tests skip without it) but CI sets SEQ_REQUIRE_TORCH=1, and then a
missing torch is a failure, never a silent skip.
"""

import os

import numpy as np
import pytest

from utils import gru, lstm, rnn
from utils.kernels import deep
from utils.kernels import gru as gru_kernel
from utils.kernels import lstm as lstm_kernel
from utils.kernels import rnn as rnn_kernel

pytestmark = pytest.mark.torch

TOL = 1e-10


def _import_torch():
    if os.environ.get("SEQ_REQUIRE_TORCH") == "1":
        import torch  # a missing torch must fail here, not skip

        return torch
    return pytest.importorskip(
        "torch",
        reason="PyTorch parity tests did not run: no torch; install the pinned CPU build with "
        ".venv/bin/pip install -e '.[torch]' to enable",
    )


torch = _import_torch()

N_X, N_A, M, T = 3, 4, 2, 5


def _t(a):
    return torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True)


def _np(t):
    return t.detach().numpy()


def _run_torch(module, x, h0, w):
    """Forward x (n_x, m, T) through a batch_first=False torch module; loss = sum(w * out).

    Returns (out (features, m, T), grads of the input and of h0 (tuple), module param grads).
    """
    xt = _t(x.transpose(2, 1, 0))  # torch: (T, m, n_x)
    h0t = tuple(_t(h) for h in h0)
    out, _ = module(xt, h0t if len(h0t) > 1 else h0t[0])
    loss = (out * torch.tensor(w.transpose(2, 1, 0))).sum()
    loss.backward()
    out_np = _np(out).transpose(2, 1, 0)
    dx = _np(xt.grad).transpose(2, 1, 0)
    dh0 = tuple(_np(h.grad) for h in h0t)
    grads = {name: _np(p.grad) for name, p in module.named_parameters()}
    return out_np, dx, dh0, grads


def _close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL, err_msg=what)


def _random_module(cls, rng, num_layers=1, bidirectional=False, **kwargs):
    module = cls(N_X, N_A, num_layers=num_layers, bidirectional=bidirectional, **kwargs).double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape)) * 0.5))
    return module


# -------------------------------------------------------------------------------- weight maps


def rnn_params_from_torch(module, suffix="_l0"):
    g = {k: _np(v) for k, v in module.named_parameters()}
    return {
        "Wax": g["weight_ih" + suffix],
        "Waa": g["weight_hh" + suffix],
        "ba": (g["bias_ih" + suffix] + g["bias_hh" + suffix])[:, None],
    }


def lstm_params_from_torch(module, suffix="_l0"):
    g = {k: _np(v) for k, v in module.named_parameters()}
    W = np.concatenate([g["weight_hh" + suffix], g["weight_ih" + suffix]], axis=1)
    b = (g["bias_ih" + suffix] + g["bias_hh" + suffix])[:, None]
    n = N_A
    blocks = dict(zip("ufco", range(4), strict=True))  # torch order i, f, g, o
    return {
        **{"W" + k: W[i * n : (i + 1) * n] for k, i in blocks.items()},
        **{"b" + k: b[i * n : (i + 1) * n] for k, i in blocks.items()},
    }


def lstm_grads_to_torch(grads):
    """Our dW* (n_a, n_a + n_x) -> torch's (weight_ih, weight_hh, bias) gradient layout."""
    W = np.concatenate([grads["dW" + k] for k in "ufco"])
    b = np.concatenate([grads["db" + k] for k in "ufco"])[:, 0]
    return W[:, N_A:], W[:, :N_A], b


def gru_params_from_torch(module):
    g = {k: _np(v) for k, v in module.named_parameters()}
    n = N_A
    Wi, Wh, bi, bh = g["weight_ih_l0"], g["weight_hh_l0"], g["bias_ih_l0"], g["bias_hh_l0"]
    r, z, c = slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)  # torch order r, z, n
    return {
        "Wr": np.concatenate([Wh[r], Wi[r]], axis=1),
        "br": (bi[r] + bh[r])[:, None],
        "Wu": -np.concatenate([Wh[z], Wi[z]], axis=1),
        "bu": -(bi[z] + bh[z])[:, None],
        "Wc": np.concatenate([Wh[c], Wi[c]], axis=1),
        "bc": bi[c][:, None],
        "bcr": bh[c][:, None],
    }


# -------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("impl", [rnn, rnn_kernel], ids=["reference", "kernel"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_rnn_matches_torch(impl, activation):
    rng = np.random.default_rng(0)
    module = _random_module(torch.nn.RNN, rng, nonlinearity=activation)
    x, a0, w = rng.normal(size=(N_X, M, T)), rng.normal(size=(N_A, M)), rng.normal(size=(N_A, M, T))
    out, dx, (dh0,), tg = _run_torch(module, x, (a0.T[None],), w)
    p = rnn_params_from_torch(module)
    a, cache = impl.rnn_layer_forward(x, a0, p, activation)
    g = impl.rnn_backward(w, cache)
    _close(a, out, "a")
    _close(g["dx"], dx, "dx")
    _close(g["da0"], dh0[0].T, "da0")
    _close(g["dWax"], tg["weight_ih_l0"], "dWax")
    _close(g["dWaa"], tg["weight_hh_l0"], "dWaa")
    _close(g["dba"][:, 0], tg["bias_ih_l0"], "dba vs bias_ih")
    _close(g["dba"][:, 0], tg["bias_hh_l0"], "dba vs bias_hh")


@pytest.mark.parametrize("impl", [lstm, lstm_kernel], ids=["reference", "kernel"])
def test_lstm_matches_torch(impl):
    rng = np.random.default_rng(1)
    module = _random_module(torch.nn.LSTM, rng)
    x, w = rng.normal(size=(N_X, M, T)), rng.normal(size=(N_A, M, T))
    a0, c0 = rng.normal(size=(N_A, M)), rng.normal(size=(N_A, M))
    out, dx, (dh0, dc0), tg = _run_torch(module, x, (a0.T[None], c0.T[None]), w)
    p = lstm_params_from_torch(module)
    a, _, cache = impl.lstm_forward(x, a0, c0, p)
    g = impl.lstm_backward(w, None, cache)
    _close(a, out, "a")
    _close(g["dx"], dx, "dx")
    _close(g["da0"], dh0[0].T, "da0")
    _close(g["dc0"], dc0[0].T, "dc0")
    dW_ih, dW_hh, db = lstm_grads_to_torch(g)
    _close(dW_ih, tg["weight_ih_l0"], "dW (input columns)")
    _close(dW_hh, tg["weight_hh_l0"], "dW (recurrent columns)")
    _close(db, tg["bias_ih_l0"], "db")


@pytest.mark.parametrize("impl", [gru, gru_kernel], ids=["reference", "kernel"])
def test_gru_reset_after_matches_torch(impl):
    rng = np.random.default_rng(2)
    module = _random_module(torch.nn.GRU, rng)
    x, a0, w = rng.normal(size=(N_X, M, T)), rng.normal(size=(N_A, M)), rng.normal(size=(N_A, M, T))
    out, dx, (dh0,), tg = _run_torch(module, x, (a0.T[None],), w)
    p = gru_params_from_torch(module)
    a, cache = impl.gru_forward(x, a0, p, variant="reset_after")
    g = impl.gru_backward(w, cache)
    _close(a, out, "a")
    _close(g["dx"], dx, "dx")
    _close(g["da0"], dh0[0].T, "da0")
    n = N_A
    r, z, c = slice(0, n), slice(n, 2 * n), slice(2 * n, 3 * n)
    _close(g["dWr"][:, :n], tg["weight_hh_l0"][r], "dWr (recurrent)")
    _close(g["dWr"][:, n:], tg["weight_ih_l0"][r], "dWr (input)")
    _close(-g["dWu"][:, :n], tg["weight_hh_l0"][z], "dWu (recurrent, sign flipped)")
    _close(-g["dWu"][:, n:], tg["weight_ih_l0"][z], "dWu (input, sign flipped)")
    _close(g["dWc"][:, :n], tg["weight_hh_l0"][c], "dWc (recurrent)")
    _close(g["dWc"][:, n:], tg["weight_ih_l0"][c], "dWc (input)")
    _close(g["dbr"][:, 0], tg["bias_ih_l0"][r], "dbr")
    _close(-g["dbu"][:, 0], tg["bias_ih_l0"][z], "dbu")
    _close(g["dbc"][:, 0], tg["bias_ih_l0"][c], "dbc")
    _close(g["dbcr"][:, 0], tg["bias_hh_l0"][c], "dbcr")


@pytest.mark.parametrize("cls", ["RNN", "LSTM"])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, True), (2, False), (2, True)])
def test_stacked_and_bidirectional_match_torch(cls, num_layers, bidirectional):
    rng = np.random.default_rng(3)
    module = _random_module(getattr(torch.nn, cls), rng, num_layers, bidirectional)
    n_dir = 2 if bidirectional else 1
    x = rng.normal(size=(N_X, M, T))
    w = rng.normal(size=(n_dir * N_A, M, T))
    h0 = rng.normal(size=(num_layers * n_dir, N_A, M))
    c0 = rng.normal(size=(num_layers * n_dir, N_A, M))
    states = (h0.transpose(0, 2, 1), c0.transpose(0, 2, 1))  # torch: (L * dirs, m, n_a)
    out, dx, dstates, tg = _run_torch(module, x, states if cls == "LSTM" else states[:1], w)

    cell = cls.lower()
    to_ours = lstm_params_from_torch if cls == "LSTM" else rnn_params_from_torch
    # our direction name (None: unidirectional) -> torch's parameter-name suffix
    dirs = {"forward": "", "backward": "_reverse"} if bidirectional else {None: ""}
    params, a0, c0_ours = {}, {}, {}
    for layer in range(num_layers):
        name = f"layer{layer + 1}"
        for d, tail in dirs.items():
            k = layer * n_dir + (d == "backward")
            p = to_ours(module, f"_l{layer}{tail}")
            if d is None:
                params[name], a0[name], c0_ours[name] = p, h0[k], c0[k]
            else:
                params.setdefault(name, {})[d] = p
                a0.setdefault(name, {})[d] = h0[k]
                c0_ours.setdefault(name, {})[d] = c0[k]
    a, cache = deep.deep_forward(
        x, params, cell, bidirectional, a0=a0, c0=c0_ours if cell == "lstm" else None
    )
    g = deep.deep_backward(w, cache)
    _close(a, out, "a")
    _close(g["dx"], dx, "dx")
    for layer in range(num_layers):
        name = f"layer{layer + 1}"
        for d, tail in dirs.items():
            gl = g[name] if d is None else g[name][d]
            k = layer * n_dir + (d == "backward")
            suffix = f"_l{layer}{tail}"
            _close(gl["da0"], dstates[0][k].T, f"{name} {d} da0")
            if cell == "lstm":
                _close(gl["dc0"], dstates[1][k].T, f"{name} {d} dc0")
                dW_ih, dW_hh, db = lstm_grads_to_torch(gl)
            else:
                dW_ih, dW_hh, db = gl["dWax"], gl["dWaa"], gl["dba"][:, 0]
            _close(dW_ih, tg["weight_ih" + suffix], f"{name} {d} W_ih")
            _close(dW_hh, tg["weight_hh" + suffix], f"{name} {d} W_hh")
            _close(db, tg["bias_ih" + suffix], f"{name} {d} bias")
