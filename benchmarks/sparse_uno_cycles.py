"""ATmega328P cycles per inference under simavr: sparse layers against the dense layer with zeroed edges.

    PYTHONPATH=. python benchmarks/sparse_uno_cycles.py

A random dense [8, 16, 4] model with 16 segments per input (fixed seed,
kanc.quantize.random_model) is pruned to several edge densities: every edge
survives with that probability, in both layers. Each density is built twice
from the same samples: dense, with the pruned edges' samples set to 0 (the
baseline, run by the shipped HAL's assembly node-sum loop), and sparse (spec
section 2.7, the kanc_sparse_layer_accumulate loop with the HAL's edge hook).
Both are checked bit-exact against the numpy oracle on 64 random rows. The table
prints mean cycles per inference, their ratio to the dense baseline of the same
density, and the table plus index bytes of each.
"""
import pathlib
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))

from kanc.build import avr  # noqa: E402
from kanc.emit.c_source import model_sizes  # noqa: E402
from kanc.quantize.random_model import random_inputs, random_quantized_model  # noqa: E402
from kanc.simulate.reference import reference_forward  # noqa: E402
from test_sparse import prune  # noqa: E402

WIDTHS = [8, 16, 4]
SEGMENTS = 16
DENSITIES = (1.0, 0.75, 0.5, 0.25)


def measure(qmodel, x_q, workdir):
    board = avr.UnoBoard()
    build = board.build(qmodel, workdir, firmware="verify")
    run = board.run_cases(build, x_q)
    if not np.array_equal(run.outputs, reference_forward(qmodel, x_q)[0]):
        raise SystemExit(f"{qmodel.name}: Uno outputs differ from the oracle")
    return float(run.counts.mean())


def main():
    rng = np.random.default_rng(2024)
    dense = random_quantized_model(rng, WIDTHS, min_segments=SEGMENTS, max_segments=SEGMENTS,
                                   sparse_fraction=0.0, name="bench")
    x_q = random_inputs(rng, 64, WIDTHS[0])
    print(f"model {WIDTHS}, S = {SEGMENTS}, 64 rows, ATmega328P under simavr, avr-gcc -Os")
    print(f"{'density':>8} {'live edges':>10} {'dense cycles':>13} {'sparse cycles':>14} {'sparse/dense':>13} "
          f"{'dense bytes':>12} {'sparse bytes':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for density in DENSITIES:
            masks = []
            for layer in dense.layers:
                mask = rng.random((layer.n_out, layer.n_in)) < density
                mask[0, 0] = True
                masks.append(mask if not mask.all() else None)
            zeroed, sparse = prune(dense, masks)
            sparse.name = "bench_sparse"
            dense_cycles = measure(zeroed, x_q, pathlib.Path(tmp) / f"d{density}")
            sparse_cycles = measure(sparse, x_q, pathlib.Path(tmp) / f"s{density}")
            dense_sizes, sparse_sizes = model_sizes(zeroed), model_sizes(sparse)
            print(f"{density:8.2f} {sparse.n_edges:10d} {dense_cycles:13.0f} {sparse_cycles:14.0f} "
                  f"{sparse_cycles / dense_cycles:13.2f} "
                  f"{dense_sizes['table_bytes'] + dense_sizes['index_bytes']:12d} "
                  f"{sparse_sizes['table_bytes'] + sparse_sizes['index_bytes']:13d}")


if __name__ == "__main__":
    main()
