"""Forward + backward time of our NumPy RNN, GRU and LSTM layers vs PyTorch CPU.

Run from the repository root:

    .venv/bin/python benchmarks/bench_layers.py            # full table (a few minutes)
    .venv/bin/python benchmarks/bench_layers.py --quick    # two shapes, fewer repeats

What is timed, for each (cell, shape, dtype):

- ours:  ``*_forward`` + ``*_backward`` from the kernels ``utils.kernels`` with an upstream
  gradient of ones, returning dx, da0 and every weight gradient (with ``--reference``, also
  the readable reference modules ``utils.rnn / gru / lstm``, same calls, same run);
- torch: ``nn.RNN / nn.GRU / nn.LSTM`` forward + ``out.backward(ones)`` with ``x``, ``h0``
  requiring grad (so torch also computes dx and dh0), gradients zeroed between runs.

Our GRU runs ``variant="reset_after"``, the same maths as ``nn.GRU``. Each measurement is the
median of ``--repeats`` runs after ``--warmup`` runs, ours and torch's alternating so that
background load affects both alike. ``--clock cpu`` times with ``time.process_time`` (CPU time
of this process, all its threads) instead of the wall clock: steadier on a loaded machine.

For float32 LSTM, PyTorch on CPU runs a fused oneDNN (MKL-DNN) LSTM kernel; the column "torch,
oneDNN off" times the same module inside ``torch.backends.mkldnn.flags(enabled=False)``, i.e.
PyTorch's generic per-op path, to show how much of the gap is that kernel ("-" elsewhere).

Both libraries use the same number of threads:
OpenBLAS (NumPy) uses every core unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS says
otherwise, and we call ``torch.set_num_threads`` with that number.

GFLOP/s counts only the matmuls: forward 2 * G * n_a * (n_a + n_x) * m * T (G = 1, 3, 4
gate blocks), backward twice that (input and weight gradients). "peak" is NumPy's own square
matmul (n = 1024) in the same run, so "% peak" says how much of the BLAS speed the layer uses.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from utils import gru, init, lstm, rnn
from utils.kernels import gru as gru_kernel
from utils.kernels import lstm as lstm_kernel
from utils.kernels import rnn as rnn_kernel

KERNELS = {"rnn": rnn_kernel, "gru": gru_kernel, "lstm": lstm_kernel}
REFERENCE = {"rnn": rnn, "gru": gru, "lstm": lstm}

SHAPES = [  # (T, m, n_x, n_a)
    (25, 1, 27, 50),
    (25, 16, 27, 100),
    (50, 32, 64, 128),
    (100, 64, 128, 256),
]
QUICK_SHAPES = [SHAPES[0], SHAPES[-1]]
GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def numpy_threads() -> int:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return os.cpu_count() or 1


def median_time(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(fns, warmup: int, repeats: int, clock=time.perf_counter) -> list:
    """Median times of functions run in turn, so that background load hits all of them."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times, strict=True):
            start = clock()
            fn()
            fn_times.append(clock() - start)
    return [statistics.median(t) for t in times]


def matmul_peak(dtype, n=1024, repeats=5) -> float:
    """GFLOP/s of NumPy's square matmul, the BLAS ceiling for this machine and dtype."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    seconds = median_time(lambda: a @ b, 2, repeats)
    return 2 * n**3 / seconds / 1e9


def ours(cell, x, a0, params, modules=KERNELS):
    """A closure running our forward + backward once (the kernels, or with
    ``modules=REFERENCE`` the readable reference modules)."""
    da = np.ones((a0.shape[0], x.shape[1], x.shape[2]), dtype=x.dtype)
    module = modules[cell]
    if cell == "rnn":

        def run():
            _, cache = module.rnn_layer_forward(x, a0, params)
            return module.rnn_backward(da, cache)

    elif cell == "gru":

        def run():
            _, cache = module.gru_forward(x, a0, params, variant="reset_after")
            return module.gru_backward(da, cache)

    else:

        def run():
            _, _, cache = module.lstm_forward(x, a0, a0, params)  # c0 = a0, as in theirs()
            return module.lstm_backward(da, None, cache)

    return run


def theirs(torch, cell, x, a0, dtype, onednn=True):
    """A closure running torch's forward + backward once, on the same shapes (with
    ``onednn=False``: inside ``torch.backends.mkldnn.flags(enabled=False)``)."""
    n_x, n_a = x.shape[0], a0.shape[0]
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    module = cls(n_x, n_a).to(tdtype)
    xt = torch.tensor(x.transpose(2, 1, 0).copy(), dtype=tdtype, requires_grad=True)
    h0 = torch.tensor(a0.T[None].copy(), dtype=tdtype, requires_grad=True)
    state = (h0, h0.detach().clone().requires_grad_(True)) if cell == "lstm" else h0

    def run():
        module.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = module(xt, state)
        out.backward(torch.ones_like(out))

    if onednn:
        return run

    def run_without_onednn():
        with warnings.catch_warnings():  # flags() warns about TF32 on Intel GPUs
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                run()

    return run_without_onednn


def flops(cell, T, m, n_x, n_a) -> float:
    forward = 2 * GATE_BLOCKS[cell] * n_a * (n_a + n_x) * m * T
    return 3 * forward


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two shapes, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cells", default="rnn,gru,lstm")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also time the readable reference modules (utils.rnn/gru/lstm), same run",
    )
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall clock or process CPU time"
    )
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        sys.exit("This benchmark needs PyTorch: pip install -e '.[torch]' (CPU, torch==2.13.0)")

    threads = numpy_threads()
    torch.set_num_threads(threads)
    repeats = args.repeats or (5 if args.quick else 15)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    print(
        f"NumPy {np.__version__}, PyTorch {torch.__version__}, {platform.processor() or '?'}, "
        f"{os.cpu_count()} cores, {threads} threads each; median of {repeats} runs, "
        f"{args.clock} time"
    )
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    peaks = {}
    for dt in args.dtypes.split(","):
        peaks[dt] = matmul_peak(np.dtype(dt))
        print(f"NumPy matmul peak ({dt}, 1024^2): {peaks[dt]:.1f} GFLOP/s")
    print()
    reference_header = " reference (ms) | reference ÷ ours |" if args.reference else ""
    print(
        "| cell | T | m | n_x | n_a | dtype | ours (ms) | torch (ms) | ours ÷ torch "
        "| ours GFLOP/s | % of matmul peak | torch, oneDNN off (ms) |" + reference_header
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|---|" * args.reference)
    rng = np.random.default_rng(0)
    for cell in args.cells.split(","):
        for T, m, n_x, n_a in shapes:
            for dt in args.dtypes.split(","):
                dtype = np.dtype(dt).type
                x = rng.standard_normal((n_x, m, T)).astype(dtype)
                a0 = (0.1 * rng.standard_normal((n_a, m))).astype(dtype)
                if cell == "rnn":
                    params = init.init_rnn_parameters(n_x, n_a, rng, dtype=dtype)
                elif cell == "gru":
                    params = init.init_gru_parameters(n_x, n_a, rng, "reset_after", dtype=dtype)
                else:
                    params = init.init_lstm_parameters(n_x, n_a, rng, dtype=dtype)
                fns = [ours(cell, x, a0, params), theirs(torch, cell, x, a0, dtype)]
                if args.reference:
                    fns.append(ours(cell, x, a0, params, REFERENCE))
                if cell == "lstm" and dtype == np.float32:  # where torch uses oneDNN
                    fns.append(theirs(torch, cell, x, a0, dtype, onednn=False))
                t_ours, t_torch, *others = interleaved_medians(fns, args.warmup, repeats, clock)
                t_reference = others.pop(0) if args.reference else None
                generic = f"{1e3 * others[0]:.2f}" if others else "-"
                reference = (
                    f" {1e3 * t_reference:.2f} | {t_reference / t_ours:.1f}× |"
                    if args.reference
                    else ""
                )
                gflops = flops(cell, T, m, n_x, n_a) / t_ours / 1e9
                print(
                    f"| {cell} | {T} | {m} | {n_x} | {n_a} | {dt} | {1e3 * t_ours:.2f} "
                    f"| {1e3 * t_torch:.2f} | {t_ours / t_torch:.2f}× | {gflops:.1f} "
                    f"| {100 * gflops / peaks[dt]:.0f}% | {generic} |{reference}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
