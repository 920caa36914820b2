"""The ``kanc`` command line: train, compile, simulate, report, build, verify, export, plot, demo."""
import argparse
import sys

import numpy as np

from kanc.errors import KancError

DESCRIPTION = """\
kanc compiles Kolmogorov-Arnold Networks into bit-exact fixed-point C.
Pipeline: train (or import) a float KAN -> compile (quantize + emit C) ->
simulate the device's exact integers on the desktop -> build / verify on a board."""


def _estimator_defaults():
    # The CLI defaults are the estimator's, so the two never drift apart.
    from kanc.train.estimators import KANRegressor

    return KANRegressor().get_params()


def _add_train(sub):
    p = sub.add_parser("train", help="train a float KAN on a CSV file",
                       description="Train a float B-spline KAN on a CSV file and save it as a kanc-float model.")
    p.add_argument("data", help="CSV file with a header row; the target is the last column unless --target is given")
    p.add_argument("-o", "--output", required=True, help="path of the float model file to write (.npz)")
    p.add_argument("--target", help="name of the target column (default: the last column)")
    p.add_argument("--task", choices=["classification", "regression"], required=True,
                   help="classification (softmax cross-entropy) or regression (mean squared error)")
    defaults = _estimator_defaults()
    hidden = ",".join(str(width) for width in defaults["hidden"])
    p.add_argument("--hidden", default=hidden,
                   help="hidden layer widths, comma-separated, e.g. 8 or 16,8; empty string for no hidden layer "
                        f"(default: {hidden})")
    p.add_argument("--grid", type=int, default=defaults["grid"],
                   help=f"B-spline grid intervals G per input (default: {defaults['grid']})")
    p.add_argument("--degree", type=int, default=defaults["k"],
                   help=f"B-spline degree k, 3 = cubic (default: {defaults['k']})")
    p.add_argument("--base", choices=["silu", "linear", "none"], default=defaults["base"],
                   help="base term of every edge: pykan's SiLU, a linear alpha*t term, or none "
                        f"(default: {defaults['base']})")
    p.add_argument("--epochs", type=int, default=defaults["epochs"],
                   help=f"passes over the training data (default: {defaults['epochs']})")
    p.add_argument("--lr", type=float, default=defaults["lr"], help=f"Adam learning rate (default: {defaults['lr']})")
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"],
                   help=f"samples per mini-batch (default: {defaults['batch_size']})")
    p.add_argument("--smooth", type=float, default=defaults["smooth_penalty"],
                   help="weight of the smoothness penalty sum c^T Omega c "
                        f"(default: {defaults['smooth_penalty']})")
    p.add_argument("--l1", type=float, default=defaults["l1_penalty"],
                   help="weight of the L1 penalty on mean absolute edge activations "
                        f"(default: {defaults['l1_penalty']})")
    p.add_argument("--optimizer", choices=["adam", "lbfgs"], default=defaults["optimizer"],
                   help="adam: mini-batch Adam; lbfgs: full-batch L-BFGS with one iteration per epoch "
                        f"(default: {defaults['optimizer']})")
    p.add_argument("--validation-fraction", type=float, default=defaults["validation_fraction"],
                   help="fraction of the training rows held out for early stopping, 0 to train for all epochs "
                        f"(default: {defaults['validation_fraction']})")
    p.add_argument("--patience", type=int, default=defaults["patience"],
                   help="epochs without a better validation loss before early stopping "
                        f"(default: {defaults['patience']})")
    p.add_argument("--grid-update-every", type=int, default=defaults["grid_update_every"],
                   help="re-place the knots on the data's quantiles every this many epochs during the first half "
                        f"of training, 0 for never (default: {defaults['grid_update_every']})")
    p.add_argument("--grid-eps", type=float, default=defaults["grid_eps"],
                   help="weight of the uniform grid against the quantile grid in a grid update, 0..1 "
                        f"(default: {defaults['grid_eps']})")
    p.add_argument("--test-fraction", type=float, default=0.0,
                   help="fraction of rows held out and reported as test metric, 0 to train on all (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed for initialisation, shuffling and split (default: 0)")
    p.add_argument("--quiet", action="store_true", help="hide the progress bar")


def _add_compile(sub):
    p = sub.add_parser("compile", help="quantize a float model and emit C sources",
                       description="Quantize a float model with calibration data into int16 tables, write the "
                                   "quantized model file and the C sources <name>.h / <name>.c with the runtime.")
    p.add_argument("model", help="float model: a kanc-float .npz, or SOURCE:PATH to import "
                                 "(pykan:CKPT_PREFIX, efficient-kan:FILE, fastkan:FILE, chebykan:FILE)")
    p.add_argument("calibration", help="CSV with calibration rows (the training data is a good choice)")
    p.add_argument("-o", "--output", required=True, help="path of the quantized model file to write (.npz)")
    p.add_argument("--c-dir", help="folder for the generated C sources (default: no C output)")
    p.add_argument("--board", default="host", choices=["host", "uno", "rp2040", "portenta_h7"],
                   help="board whose HAL header (kanc_hal.h) is copied next to the C sources (default: host)")
    p.add_argument("--task", choices=["classification", "regression"], default="regression",
                   help="task of an imported model: classification treats outputs as logits "
                        "(default: regression; a kanc-float model stores its own task)")
    p.add_argument("--name", default="kan_model",
                   help="model name: C identifier used to prefix every symbol (default: kan_model)")
    p.add_argument("--target", help="target column of the calibration CSV, ignored for calibration "
                                    "(default: the last column if it is not a model feature)")
    p.add_argument("--segments", type=int,
                   help="segments per layer input, 1..256 (default: 32, unless --max-error is given)")
    p.add_argument("--max-error", type=float,
                   help="largest interpolation error bound h^2/8*max|phi''| per edge, in the real units of "
                        "the node outputs; picks the smallest segment count per input that meets it")
    p.add_argument("--margin", type=float, default=0.1,
                   help="widen each calibrated domain by this fraction of its range on each side (default: 0.1)")
    p.add_argument("--input-range", action="append", default=[], metavar="FEATURE=LO:HI",
                   help="set a layer-0 domain by hand, in feature units; repeat per feature")


def _add_prune(sub):
    p = sub.add_parser("prune", help="remove unimportant edges, nodes and inputs of a float model",
                       description="Score every edge on data (pykan-style attribution), remove edges, hidden "
                                   "nodes and inputs below the thresholds, and save the smaller float model. "
                                   "Removed nodes and inputs vanish from the widths; pruned edges of remaining "
                                   "nodes get no table in the compiled C.")
    p.add_argument("model", help="kanc-float model file (.npz)")
    p.add_argument("data", help="CSV with the model's feature columns, normally the training data")
    p.add_argument("-o", "--output", required=True, help="path of the pruned float model file to write (.npz)")
    p.add_argument("--target", help="target column, used to report the metric before and after pruning "
                                    "(default: the last column if it is not a model feature)")
    p.add_argument("--edge-threshold", type=float, default=3e-2,
                   help="edges whose attribution score is below this are pruned, in units of the output "
                        "attribution (default: 0.03)")
    p.add_argument("--node-threshold", type=float, default=1e-2,
                   help="hidden nodes and inputs whose score is below this are removed (default: 0.01)")


def _add_symbolic(sub):
    p = sub.add_parser("symbolic", help="suggest a closed-form function for every edge",
                       description="Fit c*f(a*x+b)+d for a library of functions f (x, x^2, x^3, exp, sin, tanh, log, "
                                   "sqrt, 1/x, ...) to every edge on the data, print the best fit and its r^2 per "
                                   "edge, and a formula for every output.")
    p.add_argument("model", help="float model (.npz or SOURCE:PATH)")
    p.add_argument("data", help="CSV with the model's feature columns")
    p.add_argument("--target", help="target column to ignore (default: the last column if it is not a model feature)")
    p.add_argument("--top", type=int, default=3, help="candidates printed per edge (default: 3)")


def _add_simulate(sub):
    p = sub.add_parser("simulate", help="run the exact integer model on a CSV file",
                       description="Compute the device's exact int16 outputs for every row, with metrics and "
                                   "per-feature clamping counts.")
    p.add_argument("qmodel", help="quantized model file (.npz) written by 'kanc compile'")
    p.add_argument("data", help="CSV file with the model's feature columns (and optionally the target)")
    p.add_argument("--target", help="target column for metrics (default: the last column if present)")
    p.add_argument("-o", "--output", help="CSV file for the int16 outputs and dequantized values")


def _add_report(sub):
    p = sub.add_parser("report", help="sizes in bytes, error bounds and clamping counts of a quantized model",
                       description="Print the model's table, parameter and RAM sizes in bytes, the error bounds the "
                                   "quantizer computed, and, with --data, the fixed-point metric and clamping counts; "
                                   "with --float-model too, the measured error against the float model.")
    p.add_argument("qmodel", help="quantized model file (.npz)")
    p.add_argument("--data", help="CSV to measure clamping counts and the fixed-point metric on")
    p.add_argument("--float-model", help="float model (.npz or SOURCE:PATH) to measure error against, with --data")
    p.add_argument("--target", help="target column of --data (default: the last column if present)")


def _add_board_commands(sub):
    p = sub.add_parser("build", help="cross-compile a quantized model for a board",
                       description="Compile the model, the runtime and the board's HAL into a firmware ELF and "
                                   "report flash and RAM bytes read from its sections.")
    p.add_argument("qmodel", help="quantized model file (.npz)")
    p.add_argument("--board", required=True, help="uno, portenta_h7, rp2040 or host")
    p.add_argument("--out-dir", default=None, help="folder for the sources and the ELF (default: a temporary folder)")

    p = sub.add_parser("verify", help="run a model under the board's emulator and compare with the simulation",
                       description="Build a test firmware, run every CSV row under the board's emulator (simavr "
                                   "for AVR, QEMU for Cortex-M), compare every output with 'kanc simulate', and "
                                   "print mismatches, cycles (AVR) or executed instructions (Cortex-M) per "
                                   "inference and per edge.")
    p.add_argument("qmodel", help="quantized model file (.npz)")
    p.add_argument("data", help="CSV file with the model's feature columns")
    p.add_argument("--board", required=True, help="uno, portenta_h7, rp2040 or host")
    p.add_argument("--limit", type=int, help="use at most this many rows (default: all)")

    p = sub.add_parser("export", help="export an Arduino library or board project",
                       description="Write an Arduino library (uno, portenta_h7) or a Pico SDK project (rp2040) "
                                   "that prints predictions and the time per inference.")
    p.add_argument("kind", choices=["arduino", "pico-sdk"], help="arduino: Arduino library; pico-sdk: CMake project")
    p.add_argument("qmodel", help="quantized model file (.npz)")
    p.add_argument("--out-dir", required=True, help="folder to create")
    p.add_argument("--board", default="uno", help="target board for 'arduino': uno or portenta_h7 (default: uno)")
    p.add_argument("--data", help="CSV whose first rows are bundled into the example sketch")
    p.add_argument("--rows", type=int, default=8, help="rows of --data bundled into the example (default: 8)")


def _add_demo(sub):
    p = sub.add_parser("demo", help="the main job: train, quantize, emit C, build and run it on bundled data",
                       description="Train a KAN on a bundled real data set, quantize it, emit C, build it with the "
                                   "host compiler, run every test row through the compiled C and compare with "
                                   "the simulation.")
    p.add_argument("--dataset", action="append", choices=["wine", "iris", "breast_cancer", "diabetes"],
                   help="bundled data set; repeat for several (default: wine and diabetes)")
    p.add_argument("--out-dir", default="kanc_out", help="folder for models and C sources (default: kanc_out)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: per data set)")
    p.add_argument("--quiet", action="store_true", help="hide progress bars")


def _add_plot(sub):
    p = sub.add_parser("plot", help="PNG of every edge function with its int16 table approximation",
                       description="Write one PNG with a panel per edge: the float edge function, the int16 table's "
                                   "piecewise-linear approximation on top, the calibration data's range shaded, and "
                                   "the edge's importance (needs matplotlib: pip install \"kanc[plot]\").")
    p.add_argument("model", help="float model (.npz or SOURCE:PATH)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--qmodel", help="quantized model to overlay (default: quantize with --data)")
    p.add_argument("--data", help="CSV with calibration data (range shading and importance)")


def build_parser():
    parser = argparse.ArgumentParser(prog="kanc", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from kanc import __version__

    parser.add_argument("--version", action="version", version=f"kanc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_demo(sub)
    _add_train(sub)
    _add_compile(sub)
    _add_prune(sub)
    _add_symbolic(sub)
    _add_simulate(sub)
    _add_report(sub)
    _add_board_commands(sub)
    _add_plot(sub)
    return parser


def main(argv=None):
    """Run the CLI; return the process exit code (0 success, 1 kanc error, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from kanc import commands

    handler = getattr(commands, "run_" + args.command)
    try:
        # Huge inputs (1e300) overflow to inf in intermediate float steps and then
        # saturate as the spec defines, so the CLI reports clamp counts instead of numpy warnings.
        with np.errstate(over="ignore"):
            handler(args)
    except KancError as exc:
        print(f"kanc {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"kanc {args.command}: error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"kanc {args.command}: error: out of memory; use a smaller model (--hidden, --grid) or fewer rows",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kanc {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
