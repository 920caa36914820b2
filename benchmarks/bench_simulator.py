"""Throughput of the integer simulator against baselines measured in the same run, on one thread.

    PYTHONPATH=. python benchmarks/bench_simulator.py [--samples N] [--repeats R]

Prints edge evaluations per second (one edge function for one sample) for a few
model shapes and segment counts:

- ``cython-sse2``: kanc._sim with the pair-block SSE2 kernel (what ``simulate`` runs);
- ``cython-scalar``: kanc._sim walking the node-major table of the spec, no SIMD;
- ``numpy-oracle``: kanc.simulate.reference, the step-by-step int64 model;
- ``numpy-float``: a plain vectorized numpy float64 forward of a cubic B-spline
  KAN of the same shape (grid = segment count), SiLU base branch included;
- ``pykan``: ``kan.KAN`` forward in torch (float32), if pykan is importable;
- ``efficient-kan``: ``efficient_kan.KAN`` forward in torch (float32), if the
  folder given by ``--efficient-kan-path`` holds the ``efficient_kan`` package
  (efficient-kan is not on PyPI: clone its repository and pass its ``src`` folder).

Ratios are against numpy-float, numpy-oracle, pykan and efficient-kan of the same shape. Each time is
the best of ``--repeats`` runs. Single-thread BLAS and torch are forced before
numpy and torch are imported.
"""
import argparse
import os
import sys
import tempfile
import time

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import numpy as np  # noqa: E402

from kanc.quantize.random_model import random_inputs, random_quantized_model  # noqa: E402
from kanc.simulate import Simulator  # noqa: E402
from kanc.simulate.reference import reference_forward  # noqa: E402

SHAPES = [
    ([16, 16, 16, 4], 16),
    ([16, 16, 16, 4], 64),
    ([64, 64, 64, 10], 32),
    ([4, 8, 1], 16),
]
SPLINE_ORDER = 3


def best_time(function, repeats):
    """Return the shortest wall-clock time in seconds of ``repeats`` calls of ``function``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# ------------------------------------------------------------------ numpy float B-spline KAN

def bspline_bases(x, knots, order):
    """Evaluate the B-spline bases of ``order`` on per-input ``knots`` by Cox-de Boor.

    ``x`` (N, n_in), ``knots`` (n_in, K); return (N, n_in, K - order - 1).
    """
    x = x[:, :, None]
    bases = ((x >= knots[None, :, :-1]) & (x < knots[None, :, 1:])).astype(x.dtype)
    for k in range(1, order + 1):
        left = (x - knots[None, :, :-(k + 1)]) / (knots[None, :, k:-1] - knots[None, :, :-(k + 1)])
        right = (knots[None, :, k + 1:] - x) / (knots[None, :, k + 1:] - knots[None, :, 1:-k])
        bases = left * bases[:, :, :-1] + right * bases[:, :, 1:]
    return bases


class NumpyBSplineKAN:
    """Float64 KAN with y_j = sum_i (w_base * silu(x_i) + sum_c c_jic * B_c(x_i)), as in efficient-kan."""

    def __init__(self, rng, widths, grid):
        self.layers = []
        h = 2.0 / grid
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            knots = np.arange(-SPLINE_ORDER, grid + SPLINE_ORDER + 1) * h - 1.0
            knots = np.tile(knots, (n_in, 1))
            base_weight = rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)
            spline_weight = rng.normal(size=(n_out, n_in * (grid + SPLINE_ORDER))) * 0.1
            self.layers.append((knots, base_weight, spline_weight))

    def forward(self, x):
        for knots, base_weight, spline_weight in self.layers:
            silu = x / (1.0 + np.exp(-x))
            bases = bspline_bases(x, knots, SPLINE_ORDER).reshape(len(x), -1)
            x = silu @ base_weight.T + bases @ spline_weight.T
        return x


# ------------------------------------------------------------------ optional pykan

def make_pykan(widths, grid, workdir):
    """Return a forward function of a pykan KAN of this shape, or None when pykan or torch is missing."""
    try:
        import torch
        from kan import KAN
    except ImportError:
        return None
    torch.set_num_threads(1)
    model = KAN(width=list(widths), grid=grid, k=SPLINE_ORDER, auto_save=False, save_act=False,
                symbolic_enabled=False, ckpt_path=os.path.join(workdir, "pykan"), seed=0)
    model.eval()

    def forward(x):
        with torch.no_grad():
            model(torch.from_numpy(x.astype(np.float32)))

    return forward


def make_efficient_kan(widths, grid, package_path):
    """Return a forward function of an efficient-kan KAN of this shape, or None when it is not available."""
    if not package_path:
        return None
    try:
        import torch
    except ImportError:
        return None
    sys.path.insert(0, package_path)
    try:
        from efficient_kan import KAN
    except ImportError:
        return None
    finally:
        sys.path.remove(package_path)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = KAN(list(widths), grid_size=grid, spline_order=SPLINE_ORDER)
    model.eval()

    def forward(x):
        with torch.no_grad():
            model(torch.from_numpy(x.astype(np.float32)))

    return forward


# ------------------------------------------------------------------ measurement

def measure_shape(widths, segments, n_samples, repeats, workdir, efficient_kan_path=None):
    """Return rows (implementation, samples, seconds, edge evaluations per second) for one shape."""
    rng = np.random.default_rng(0)
    qmodel = random_quantized_model(rng, widths, min_segments=segments, max_segments=segments, sparse_fraction=0.0)
    n_edges = qmodel.n_edges
    x_q = random_inputs(rng, n_samples, widths[0])
    simulator = Simulator(qmodel)
    rows = []

    def record(name, samples, seconds):
        rows.append((name, samples, seconds, samples * n_edges / seconds))

    record("cython-sse2", n_samples, best_time(lambda: simulator.run(x_q, simd=True), repeats))
    record("cython-scalar", n_samples, best_time(lambda: simulator.run(x_q, simd=False), repeats))

    # The oracle and the float baselines are slower; a smaller batch keeps the run short.
    small = max(1, n_samples // 20)
    record("numpy-oracle", small, best_time(lambda: reference_forward(qmodel, x_q[:small]), repeats))

    x_real = rng.uniform(-1.0, 1.0, size=(small, widths[0]))
    float_kan = NumpyBSplineKAN(rng, widths, segments)
    record("numpy-float", small, best_time(lambda: float_kan.forward(x_real), repeats))

    pykan_forward = make_pykan(widths, segments, workdir)
    if pykan_forward is not None:
        record("pykan", small, best_time(lambda: pykan_forward(x_real), repeats))
    efficient_forward = make_efficient_kan(widths, segments, efficient_kan_path)
    if efficient_forward is not None:
        record("efficient-kan", small, best_time(lambda: efficient_forward(x_real), repeats))
    return n_edges, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200000,
                        help="batch size for the Cython kernels (baselines use 1/20 of it); default 200000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement, best kept; default 3")
    parser.add_argument("--efficient-kan-path",
                        help="folder containing the efficient_kan package (a clone's src/); default: skip it")
    args = parser.parse_args(argv)
    if args.samples < 20 or args.repeats < 1:
        parser.error("--samples must be at least 20 and --repeats at least 1")

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, one thread")
    baselines = ["numpy-float", "numpy-oracle", "pykan", "efficient-kan"]
    header = (f"{'shape':<18} {'seg':>4} {'edges':>6} {'implementation':<14} {'samples':>8} "
              f"{'seconds':>9} {'Medge/s':>10} " + " ".join(f"{'x ' + b:>15}" for b in baselines))
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as workdir:
        for widths, segments in SHAPES:
            n_edges, rows = measure_shape(widths, segments, args.samples, args.repeats, workdir,
                                          args.efficient_kan_path)
            rate = {name: edges_per_second for name, _, _, edges_per_second in rows}
            for name, samples, seconds, edges_per_second in rows:
                ratios = " ".join(f"{edges_per_second / rate[b]:>15.2f}" if b in rate else f"{'-':>15}"
                                  for b in baselines)
                print(f"{str(widths):<18} {segments:>4} {n_edges:>6} {name:<14} {samples:>8} "
                      f"{seconds:>9.4f} {edges_per_second / 1e6:>10.1f} {ratios}")
            print()


if __name__ == "__main__":
    main()
