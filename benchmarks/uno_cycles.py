"""Exact ATmega328P cycles per inference and per edge under simavr, for several Uno code paths.

    PYTHONPATH=. python benchmarks/uno_cycles.py

Every variant is checked bit-exact against kanc.simulate on every row:
  portable C       runtime_c with -DKANC_NO_FAST_EDGE: the C edge loop and the C
                   requantizer (the baseline)
  C requantizer    -DKANC_NO_FAST_REQUANT: the assembly layer node loop, but the C
                   requantizer with the assembly rounding shift and the C coordinate loop
  node-sum hook    -DKANC_NO_FAST_LAYER: the assembly requantizer called once per
                   input and kanc_hal_node_sum called once per node from the C loops
                   of kanc_layer.h (the HAL before the layer-level hooks)
  HAL fast paths   runtime_c with boards/uno/kanc_hal.h as shipped: kanc_hal_layer_sum
                   once per dense layer (node loop in assembly, two nodes per pass),
                   kanc_hal_coords_from_accumulators / _from_inputs once per dense layer
                   (requantizer, saturation and coordinate records in assembly) and the
                   assembly output requantizer

Table 1: random dense [4, 8, 3] and [8, 16, 16, 4] models with 16 segments per
input (kanc.quantize.random_model, fixed seed), 64 random int16 rows each: mean cycles
per inference, cycles per edge (inference / edges), the marginal cycles per edge
between the two models ((big - small) / (edges_big - edges_small), which also
carries the requantizer cost of the extra inputs), flash bytes of the verify image
and the speed-up against the portable baseline of the same model.

Table 2: least-squares split of the cycles of eight one-layer models, whose
requantizers all get the same (p, M, r, z), into a constant and a cost per edge,
per layer input (requantizer and coordinate) and per node (bias, row set-up, store and
output requantizer).
"""
import pathlib
import sys
import tempfile

import numpy as np

from kanc.build import avr
from kanc.build.boards import BuildResult
from kanc.emit.c_source import write_c_sources
from kanc.quantize.qmodel import Requantizer
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate import simulate

MODELS = {"[4, 8, 3]": [4, 8, 3], "[8, 16, 16, 4]": [8, 16, 16, 4]}
FIT_WIDTHS = ([1, 1], [1, 8], [8, 1], [8, 8], [4, 16], [16, 4], [2, 24], [24, 2])
VARIANTS = {
    "portable C -Os (baseline)": ("s", ("-DKANC_NO_FAST_EDGE",)),
    "portable C -O2": ("2", ("-DKANC_NO_FAST_EDGE",)),
    "C requantizer -Os": ("s", ("-DKANC_NO_FAST_REQUANT",)),
    "node-sum hook -Os": ("s", ("-DKANC_NO_FAST_LAYER",)),
    "HAL fast paths -Os": ("s", ()),
    "HAL fast paths -O2": ("2", ()),
}
ROWS = 64
SEGMENTS = 16


def run_variant(qmodel, x_q, optimize, cflags):
    """Build the verify image of one variant, run ``x_q``, check exactness; return (mean cycles, flash bytes)."""
    with tempfile.TemporaryDirectory(prefix="kanc-bench-") as out_dir:
        source_dir = pathlib.Path(out_dir) / "src"
        write_c_sources(qmodel, source_dir, board="uno")
        defines = [f'-DKANC_MODEL_HEADER="{qmodel.name}.h"', f"-DKANC_PREDICT={qmodel.name}_predict_q",
                   f"-DKANC_N_INPUTS={qmodel.n_inputs}", f"-DKANC_N_OUTPUTS={qmodel.n_outputs}", *cflags]
        elf = avr.compile_firmware([*sorted(source_dir.glob("*.c")), avr.board_dir() / "verify_main.c"],
                                   [source_dir], pathlib.Path(out_dir) / "verify.elf", optimize=optimize,
                                   cflags=defines)
        flash, ram, _ = avr.elf_memory(elf)
        build = BuildResult(board="uno", firmware="verify", elf_path=str(elf), flash_bytes=flash, ram_bytes=ram,
                            details={"n_inputs": qmodel.n_inputs, "n_outputs": qmodel.n_outputs,
                                     "n_edges": qmodel.n_edges, "n_requantizers": avr.n_requantizers(qmodel)})
        run = avr.UnoBoard().run_cases(build, x_q)
    if not np.array_equal(run.outputs, simulate(qmodel, x_q).outputs):
        raise SystemExit(f"variant -O{optimize} {cflags} differs from the simulator")
    return float(run.counts.mean()), flash


def model_and_rows(widths, rows):
    rng = np.random.default_rng(2024)
    qmodel = random_quantized_model(rng, widths, min_segments=SEGMENTS, max_segments=SEGMENTS, name="bench",
                                    sparse_fraction=0.0)
    return qmodel, random_inputs(rng, rows, widths[0])


def print_model_table():
    small, big = MODELS
    models = {label: model_and_rows(widths, ROWS) for label, widths in MODELS.items()}
    results = {(variant, label): run_variant(*models[label], *settings)
               for variant, settings in VARIANTS.items() for label in MODELS}
    baseline = next(iter(VARIANTS))
    print(f"{'variant':<26} {'model':<15} {'cycles/inf':>10} {'cycles/edge':>11} {'marginal/edge':>13} "
          f"{'flash B':>8} {'speed-up':>8}")
    for variant in VARIANTS:
        edges = {label: models[label][0].n_edges for label in MODELS}
        marginal = (results[variant, big][0] - results[variant, small][0]) / (edges[big] - edges[small])
        for label in MODELS:
            cycles, flash = results[variant, label]
            speed_up = results[baseline, label][0] / cycles
            print(f"{variant:<26} {label:<15} {cycles:>10.0f} {cycles / edges[label]:>11.1f} {marginal:>13.1f} "
                  f"{flash:>8} {speed_up:>7.2f}x")


def fixed_requantizers(qmodel):
    """Give every requantizer of a one-layer model the same (p, M, r, z), so shift loops cost the same in every model."""
    layer = qmodel.layers[0]
    n_in, n_out = layer.n_in, layer.n_out
    layer.in_requant = Requantizer(np.zeros(n_in, dtype=np.int64), np.full(n_in, 20000), np.full(n_in, 13),
                                   np.full(n_in, 2048))
    qmodel.out_requant = Requantizer(np.full(n_out, 8), np.full(n_out, 16384), np.full(n_out, 14),
                                     np.zeros(n_out, dtype=np.int64))
    return qmodel.validate()


def print_cost_split():
    print(f"\n{'variant (one-layer fit)':<26} {'constant':>9} {'per edge':>9} {'per input':>10} {'per node':>9}")
    for variant in ("portable C -Os (baseline)", "C requantizer -Os", "node-sum hook -Os", "HAL fast paths -Os"):
        design, cycles = [], []
        for widths in FIT_WIDTHS:
            qmodel, x_q = model_and_rows(widths, 32)
            fixed_requantizers(qmodel)
            design.append([1, qmodel.n_edges, widths[0], widths[1]])
            cycles.append(run_variant(qmodel, x_q, *VARIANTS[variant])[0])
        constant, per_edge, per_input, per_node = np.linalg.lstsq(
            np.array(design, dtype=float), np.array(cycles), rcond=None)[0]
        print(f"{variant:<26} {constant:>9.0f} {per_edge:>9.1f} {per_input:>10.1f} {per_node:>9.1f}")


def main():
    print_model_table()
    print_cost_split()
    return 0


if __name__ == "__main__":
    sys.exit(main())
