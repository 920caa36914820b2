"""Cortex-M boards: flash, RAM and executed instructions per inference and per edge, against a naive int16 loop.

    PYTHONPATH=. python benchmarks/bench_boards.py [--opt -O3] [--rows 64]

For two random models (kanc.quantize.random_model, fixed seed, 16 segments per
input) and each Cortex-M board, the script builds in the same run:

- kanc: the generated model with the board's HAL (SMLAD edge path on the M7),
- kanc portable: the same with -DKANC_NO_FAST_EDGE (only where the HAL has a fast path),
- naive (baseline): the plain int16 table loop written below. Per edge it looks
  up the edge's first sample in an index table of edge starts and splits u into
  segment and fraction with a shift and a mask (division-free). Then it
  interpolates. It walks no pointers and hoists nothing out of the edge loop.

Every variant's outputs are checked against the spec's reference before its
numbers are printed. Counts are instructions executed in QEMU (TCG plugin, exact),
not cycles: QEMU has no pipeline or memory timing. rp2040 images run on the QEMU
microbit (ARMv6-M), portenta_h7 images on mps2-an500 (Cortex-M7). Flash and RAM
are the ELF section bytes of the "app" image: model, runtime, start-up code and
about 0.5 KiB of semihosting output, without the stack. The Uno has its own script,
benchmarks/uno_cycles.py.
"""
import argparse
import pathlib
import sys
import tempfile

import numpy as np

from kanc.build.cortex_m import ModelSources, PortentaH7Board, RP2040Board
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate.reference import reference_forward

MODELS = {"[16, 32, 8]": [16, 32, 8], "[32, 64, 16]": [32, 64, 16]}
SEGMENTS = 16
BASELINE = "naive (baseline)"


def c_array(c_type, name, values):
    return f"static const {c_type} {name}[{len(values)}] = {{{', '.join(str(int(v)) for v in values)}}};\n"


def write_naive_sources(qmodel, folder):
    """Write naive.h/naive.c: the naive int16 table loop for ``qmodel``; return its ModelSources."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    widest = max(qmodel.widths)
    parts = ["#include <stdint.h>\n#include \"naive.h\"\n\n", NAIVE_HELPERS]

    for index, layer in enumerate(qmodel.layers):
        requant = layer.in_requant
        params = np.stack([requant.pre_shift, requant.multiplier, requant.shift, requant.offset], axis=1)
        parts.append(c_array("int16_t", f"table{index}", layer.table))
        parts.append(c_array("uint32_t", f"start{index}", layer.edge_starts().reshape(-1)))
        parts.append(c_array("int32_t", f"bias{index}", layer.bias))
        parts.append(c_array("int32_t", f"requant{index}", params.reshape(-1)))
        parts.append(c_array("int32_t", f"coord_max{index}", layer.coordinate_max()))
    out = qmodel.out_requant
    out_params = np.stack([out.pre_shift, out.multiplier, out.shift, out.offset], axis=1)
    parts.append(c_array("int32_t", "requant_out", out_params.reshape(-1)))

    parts.append(f"\nvoid naive_predict_q(const int16_t *x_q, int16_t *y_q)\n{{\n"
                 f"    int32_t a[{widest}];\n    int32_t acc[{widest}];\n    int32_t u[{widest}];\n"
                 f"    uint32_t i, j;\n\n"
                 f"    for (i = 0; i < {qmodel.n_inputs}; i++) {{\n        a[i] = x_q[i];\n    }}\n")
    for index, layer in enumerate(qmodel.layers):
        parts.append(NAIVE_LAYER.format(l=index, n_in=layer.n_in, n_out=layer.n_out))
    parts.append(f"    for (j = 0; j < {qmodel.n_outputs}; j++) {{\n"
                 f"        y_q[j] = (int16_t)saturate(requantize(a[j], &requant_out[4 * j]), -32768, 32767);\n"
                 f"    }}\n}}\n")

    (folder / "naive.h").write_text("#include <stdint.h>\nvoid naive_predict_q(const int16_t *x_q, int16_t *y_q);\n")
    (folder / "naive.c").write_text("".join(parts))
    return ModelSources(str(folder), "naive.h", "naive_predict_q", qmodel.n_inputs, qmodel.n_outputs)


NAIVE_HELPERS = """\
static int32_t rshift_round(int32_t a, int32_t n)
{
    return n == 0 ? a : (a >> n) + ((a >> (n - 1)) & 1);
}

static int32_t saturate(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Steps 1 to 4 of a requantizer; params = (p, M, r, z). */
static int32_t requantize(int32_t a, const int32_t *params)
{
    int32_t t = saturate(rshift_round(a, params[0]), -32768, 32767);
    return rshift_round(t * params[1], params[2]) + params[3];
}

"""

NAIVE_LAYER = """
    for (i = 0; i < {n_in}; i++) {{
        u[i] = saturate(requantize(a[i], &requant{l}[4 * i]), 0, coord_max{l}[i]);
    }}
    for (j = 0; j < {n_out}; j++) {{
        int32_t sum = bias{l}[j];
        for (i = 0; i < {n_in}; i++) {{
            const int16_t *samples = &table{l}[start{l}[j * {n_in} + i] + (uint32_t)(u[i] >> 8)];
            int32_t left = samples[0];
            int32_t right = samples[1];
            sum += left * 256 + (right - left) * (u[i] & 255);
        }}
        acc[j] = sum;
    }}
    for (j = 0; j < {n_out}; j++) {{
        a[j] = acc[j];
    }}
"""


def variants(optimization):
    """Return {board name: {variant label: (board object, uses kanc sources)}}."""
    return {
        "rp2040": {
            "kanc": (RP2040Board(optimization), True),
            BASELINE: (RP2040Board(optimization), False),
        },
        "portenta_h7": {
            "kanc (SMLAD edge)": (PortentaH7Board(optimization), True),
            "kanc portable": (PortentaH7Board(optimization, ("-DKANC_NO_FAST_EDGE",)), True),
            BASELINE: (PortentaH7Board(optimization), False),
        },
    }


def measure(optimization, rows):
    """Return {(board, variant, model): (mean instructions, edges, app flash bytes, app RAM bytes, machine)}."""
    results = {}
    for model_label, widths in MODELS.items():
        rng = np.random.default_rng(2024)
        qmodel = random_quantized_model(rng, widths, min_segments=SEGMENTS, max_segments=SEGMENTS, name="bench",
                                        sparse_fraction=0.0)
        x_q = random_inputs(rng, rows, widths[0])
        expected = reference_forward(qmodel, x_q)[0]
        for board_name, board_variants in variants(optimization).items():
            for variant, (board, uses_kanc) in board_variants.items():
                with tempfile.TemporaryDirectory(prefix="kanc-bench-") as out_dir:
                    if uses_kanc:
                        build = board.build(qmodel, out_dir, firmware="verify")
                        app = board.build(qmodel, out_dir, firmware="app")
                    else:
                        sources = write_naive_sources(qmodel, pathlib.Path(out_dir) / "naive")
                        build = board.build_sources(sources, out_dir, firmware="verify")
                        app = board.build_sources(sources, out_dir, firmware="app")
                    run = board.run_cases(build, x_q)
                if not np.array_equal(run.outputs, expected):
                    raise SystemExit(f"{board_name} {variant} {model_label}: outputs differ from the reference")
                results[board_name, variant, model_label] = (
                    float(run.counts.mean()), qmodel.n_edges, app.flash_bytes, app.ram_bytes, run.machine)
    return results


def print_tables(results, optimization):
    small, big = MODELS
    for board_name, board_variants in variants(optimization).items():
        machine = results[board_name, BASELINE, small][4]
        print(f"\n{board_name} ({board_variants[BASELINE][0].cpu}, gcc {optimization}, QEMU {machine}): "
              "executed instructions")
        print(f"{'variant':<20} {'model':<14} {'flash B':>8} {'RAM B':>7} {'insn/inf':>9} {'insn/edge':>10} "
              f"{'marginal/edge':>14} {'vs naive':>9}")
        for variant in board_variants:
            small_count, small_edges = results[board_name, variant, small][:2]
            big_count, big_edges = results[board_name, variant, big][:2]
            marginal = (big_count - small_count) / (big_edges - small_edges)
            for model in MODELS:
                count, edges, flash, ram, _ = results[board_name, variant, model]
                baseline = results[board_name, BASELINE, model][0]
                print(f"{variant:<20} {model:<14} {flash:>8} {ram:>7} {count:>9.0f} {count / edges:>10.2f} "
                      f"{marginal:>14.2f} {baseline / count:>8.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opt", default="-O3", help="gcc optimization flag for every variant (default -O3)")
    parser.add_argument("--rows", type=int, default=64, help="input rows per model (default 64)")
    args = parser.parse_args(argv)
    results = measure(args.opt, args.rows)
    print(f"Models: random {', '.join(MODELS)} with {SEGMENTS} segments per input, {args.rows} rows each.")
    print_tables(results, args.opt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
