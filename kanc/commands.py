"""Implementations of the CLI sub-commands; each ``run_<command>(args)`` prints its results.

Errors are raised as KancError subclasses; kanc.cli turns them into one line on
stderr and exit code 1. Every output file is written atomically.
"""
import contextlib
import os
import sys

import numpy as np

from kanc.errors import DataError, KancError
from kanc.io.atomic import atomic_path, check_output_path
from kanc.io.csvdata import class_labels, load_csv
from kanc.metrics import accuracy, argmax_lowest, rmse, train_test_split



# ---------------------------------------------------------------------------- model loading

def load_float_model(spec, task="regression"):
    """Load a float model from a kanc-float file or from ``SOURCE:PATH`` through an importer.

    ``task`` applies to imported models only; a kanc-float file stores its own.
    """
    from kanc.importers import IMPORTERS, import_model

    source, sep, path = spec.partition(":")
    if sep and source in IMPORTERS:
        return import_model(source, path, task=task)
    from kanc.model.serialize import load_float_model as load_kanc_float

    return load_kanc_float(spec)


def model_input_files(spec):
    """Files that loading the model ``spec`` reads, so that no output may replace them."""
    from kanc.importers import IMPORTERS

    source, sep, path = spec.partition(":")
    if not (sep and source in IMPORTERS):
        return [spec]
    if source == "pykan":
        # pykan's saveckpt(path) writes these three files.
        return [path + suffix for suffix in ("_state", "_config.yml", "_cache_data")]
    return [path]


def load_quantized_model(path):
    from kanc.quantize.qmodel import QuantizedModel

    return QuantizedModel.load(path)


def feature_names_of(model):
    """Feature names stored with a model (float or quantized), or None."""
    names = getattr(model, "feature_names", None)
    if names is None:
        names = getattr(model, "metadata", {}).get("feature_names")
    return list(names) if names else None


def stored_target_in_file(model, path):
    """Return the model's stored target column name if the CSV at ``path`` has it, else None (last column)."""
    import csv

    name = getattr(model, "target_name", None) or getattr(model, "metadata", {}).get("target_name")
    if not name:
        return None
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError):
        return None  # load_csv reports the problem with the file
    return name if name in [column.strip() for column in header] else None


def read_features(path, model, target=None, require_target=False):
    """Load a CSV for ``model``: its stored feature columns if known, else every non-target column."""
    names = feature_names_of(model)
    if target is None:
        target = stored_target_in_file(model, path)
    data = load_csv(path, target=target, feature_names=names, require_target=require_target)
    n_inputs = model.n_inputs if hasattr(model, "n_inputs") else model.widths[0]
    if data.X.shape[1] != n_inputs:
        raise DataError(f"data file {path} has {data.X.shape[1]} feature columns {data.feature_names}, "
                        f"but the model takes {n_inputs} inputs; pass --target so the target column is "
                        "not read as a feature")
    if data.target_name is not None and data.target_name in (names or []):
        data.y = None
    if names is None:
        print(f"note: the model stores no feature names, so inputs 0..{len(data.feature_names) - 1} are the "
              f"columns {data.feature_names} of {path} in that order", file=sys.stderr)
    return data


# ---------------------------------------------------------------------------- train

def parse_widths(text):
    """Parse '16,8' into (16, 8); the empty string means no hidden layer."""
    text = text.strip()
    if not text:
        return ()
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise DataError(f"--hidden {text!r} must be comma-separated whole numbers such as 8 or 16,8") from None
    if any(width < 1 for width in widths):
        raise DataError(f"--hidden {text!r}: every width must be at least 1")
    return widths


def make_estimator(task, **params):
    from kanc.train.estimators import KANClassifier, KANRegressor

    cls = KANClassifier if task == "classification" else KANRegressor
    try:
        return cls(**params)
    except (ValueError, TypeError) as exc:
        raise DataError(str(exc)) from None


def fit_estimator(estimator, X, y):
    try:
        return estimator.fit(X, y)
    except (ValueError, TypeError) as exc:
        raise DataError(str(exc)) from None


def evaluate_float(estimator, task, X, y):
    """Return (metric name, value) of a fitted estimator on (X, y)."""
    if task == "classification":
        return "accuracy", accuracy(y, estimator.predict(X))
    return "RMSE", rmse(y, estimator.predict(X))


def run_train(args):
    check_output_path(args.output, inputs=[args.data])
    data = load_csv(args.data, target=args.target)
    spread = np.std(data.X, axis=0)
    if not np.all(np.isfinite(spread)):
        column = data.feature_names[int(np.flatnonzero(~np.isfinite(spread))[0])]
        raise DataError(f"feature {column!r} in {args.data} has values too large to standardise "
                        f"(largest magnitude {np.max(np.abs(data.X)):.3g}); rescale that column")
    if not 0.0 <= args.test_fraction < 1.0:
        raise DataError(f"--test-fraction {args.test_fraction} must be in [0, 1)")
    y = class_labels(data.y, args.data) if args.task == "classification" else data.y
    train_idx, test_idx = train_test_split(len(y), args.test_fraction, args.seed,
                                           labels=y if args.task == "classification" else None)
    estimator = make_estimator(
        args.task, hidden=parse_widths(args.hidden), grid=args.grid, k=args.degree, base=args.base,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, smooth_penalty=args.smooth,
        l1_penalty=args.l1, seed=args.seed, verbose=not args.quiet, optimizer=args.optimizer,
        validation_fraction=args.validation_fraction, patience=args.patience,
        grid_update_every=args.grid_update_every, grid_eps=args.grid_eps)
    fit_estimator(estimator, data.X[train_idx], y[train_idx])
    model = estimator.model_
    model.feature_names = data.feature_names
    model.target_name = data.target_name
    from kanc.model.serialize import save_float_model

    save_float_model(model, args.output)

    name, value = evaluate_float(estimator, args.task, data.X[train_idx], y[train_idx])
    print(f"train {name}: {value:.6g} on {len(train_idx)} rows")
    if len(test_idx):
        name, value = evaluate_float(estimator, args.task, data.X[test_idx], y[test_idx])
        print(f"test {name}: {value:.6g} on {len(test_idx)} rows")
    print(f"wrote {args.output} (widths {list(model.widths)})")


# ---------------------------------------------------------------------------- compile

def parse_input_ranges(items, feature_names, n_inputs):
    """Parse repeated FEATURE=LO:HI options into {input index: (lo, hi)}."""
    ranges = {}
    for item in items:
        name, sep, bounds = item.partition("=")
        lo_text, sep2, hi_text = bounds.partition(":")
        if not sep or not sep2:
            raise DataError(f"--input-range {item!r} must look like FEATURE=LO:HI, e.g. alcohol=10:15")
        if feature_names and name in feature_names:
            index = feature_names.index(name)
        elif name.isdigit() and int(name) < n_inputs:
            index = int(name)
        else:
            raise DataError(f"--input-range {item!r}: unknown feature {name!r}; features are {feature_names}")
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            raise DataError(f"--input-range {item!r}: LO and HI must be numbers") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise DataError(f"--input-range {item!r}: need finite LO < HI")
        ranges[index] = (lo, hi)
    return ranges


def compile_model(float_model, calibration_x, name, segments=None, max_error=None, margin=0.1,
                  input_ranges=None):
    """Quantize ``float_model`` with calibration inputs; return the QuantizedModel."""
    from kanc.quantize.quantizer import calibrated_domain, quantize

    if float_model.task == "classification" and float_model.widths[-1] < 2:
        raise DataError(f"a classifier needs at least 2 outputs (logits), but the model has {float_model.widths[-1]}; "
                        "compile it with --task regression")

    domains = None
    if input_ranges:
        # Features without a hand-set range keep the calibrated one.
        lo, hi = calibrated_domain(np.asarray(calibration_x, dtype=np.float64), margin)
        domains = np.column_stack([lo, hi])
        for index, bounds in input_ranges.items():
            domains[index] = bounds
    try:
        qmodel = quantize(float_model, calibration_x, name=name, segments=segments, target_error=max_error,
                          margin=margin, input_domains=domains)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    names = feature_names_of(float_model)
    if names:
        qmodel.metadata["feature_names"] = names
    for key in ("target_name", "classes"):
        value = getattr(float_model, key, None)
        if value is not None:
            qmodel.metadata[key] = np.asarray(value).tolist() if key == "classes" else value
    return qmodel


def run_compile(args):
    import shutil

    from kanc.emit.c_source import write_c_sources

    check_output_path(args.output, inputs=[*model_input_files(args.model), args.calibration])
    if args.c_dir and os.path.exists(args.c_dir) and not os.path.isdir(args.c_dir):
        raise DataError(f"--c-dir {args.c_dir} is a file; give a folder for the C sources")
    float_model = load_float_model(args.model, task=args.task)
    data = read_features(args.calibration, float_model, target=args.target)
    if len(data.X) < 2:
        raise DataError(f"calibration file {args.calibration} has {len(data.X)} row; the domains need at least 2, "
                        "and the training data is a good choice")
    ranges = parse_input_ranges(args.input_range, feature_names_of(float_model), data.X.shape[1])
    if args.segments is not None and not 1 <= args.segments <= 256:
        raise DataError(f"--segments {args.segments} is outside 1..256")
    qmodel = compile_model(float_model, data.X, args.name, segments=args.segments, max_error=args.max_error,
                           margin=args.margin, input_ranges=ranges)

    # Write the C first and the model file last, so a failure leaves neither behind.
    created_dir = args.c_dir and not os.path.exists(args.c_dir)
    paths = []
    try:
        if args.c_dir:
            paths = write_c_sources(qmodel, args.c_dir, board=args.board)
        qmodel.save(args.output)
    except BaseException:
        if created_dir:
            shutil.rmtree(args.c_dir, ignore_errors=True)
        else:
            for path in paths:
                with contextlib.suppress(OSError):
                    os.remove(path)
        raise
    print(f"wrote {args.output} ({qmodel.n_edges} edges, widths {qmodel.widths})")
    for index, layer in enumerate(qmodel.metadata.get("quantizer", {}).get("layers", [])):
        missed = [i for i, met in enumerate(layer.get("target_met") or []) if not met]
        if missed:
            print(f"warning: layer {index} inputs {missed} miss --max-error {args.max_error} even at the "
                  "largest segment count; raise --max-error or accept the larger error", file=sys.stderr)
    if paths:
        print(f"wrote {len(paths)} C files for board {args.board} to {args.c_dir}")


# ---------------------------------------------------------------------------- prune / symbolic

def float_metric(model, x, y):
    """Return (name, value) of a float model's accuracy or RMSE on labelled rows."""
    outputs = model.layer_inputs(x)[-1]
    if model.task == "classification":
        classes = np.asarray(model.classes) if getattr(model, "classes", None) is not None else None
        index = argmax_lowest(outputs)
        return "accuracy", accuracy(y, classes[index] if classes is not None else index)
    return "RMSE", rmse(y, outputs[:, 0] if outputs.shape[1] == 1 else outputs)


def run_prune(args):
    from kanc.model.prune import prune
    from kanc.model.serialize import load_float_model as load_kanc_float
    from kanc.model.serialize import save_float_model

    check_output_path(args.output, inputs=[args.model, args.data])
    model = load_kanc_float(args.model)
    data = read_features(args.data, model, target=args.target)
    result = prune(model, data.X, edge_threshold=args.edge_threshold, node_threshold=args.node_threshold)
    pruned = result.model
    save_float_model(pruned, args.output)

    print(f"widths {list(model.widths)} -> {list(pruned.widths)}, "
          f"live edges {result.edges_before} -> {result.edges_after}")
    if data.y is not None:
        kept = np.asarray(result.node_indices[0])
        name, before = float_metric(model, data.X, data.y)
        _, after = float_metric(pruned, data.X[:, kept], data.y)
        print(f"{name} on {args.data}: {before:.6g} before, {after:.6g} after pruning")
    print(f"wrote {args.output}")


def run_symbolic(args):
    from kanc.model.symbolic import suggest_symbolic, symbolic_formula

    if args.top < 1:
        raise DataError(f"--top {args.top} must be at least 1")
    model = load_float_model(args.model)
    data = read_features(args.data, model, target=args.target)
    suggestions = suggest_symbolic(model, data.X)
    for suggestion in suggestions:
        where = f"layer {suggestion.layer} edge {suggestion.input}->{suggestion.node}"
        if suggestion.best is None:
            print(f"{where}: constant {suggestion.constant:.4g} on the data")
            continue
        fits = ", ".join(f"{fit.name} (r2 {fit.r2:.4f})" for fit in suggestion.candidates[:args.top])
        print(f"{where}: {suggestion.best.term('x')} + {suggestion.best.d:.4g}  [{fits}]")
    for index, formula in enumerate(symbolic_formula(model, suggestions)):
        print(f"output {index} = {formula}")


# ---------------------------------------------------------------------------- simulate / report

def predictions_from_outputs(qmodel, outputs_real):
    """Class labels (classification) or values (regression) from dequantized outputs."""
    if qmodel.task == "classification":
        index = argmax_lowest(outputs_real)
        classes = qmodel.metadata.get("classes")
        return np.asarray(classes)[index] if classes else index
    return outputs_real[:, 0] if outputs_real.shape[1] == 1 else outputs_real


def print_metric(qmodel, y, predictions, label):
    if y is None:
        return
    if qmodel.task == "classification":
        class_labels(y, "target column")
        print(f"{label} accuracy: {accuracy(y, predictions):.6g} on {len(y)} rows")
    elif np.ndim(predictions) != 1:
        raise DataError(f"the model has {qmodel.n_outputs} outputs but the data has one target column; "
                        "metrics need one target per output")
    else:
        print(f"{label} RMSE: {rmse(y, predictions):.6g} on {len(y)} rows")


def print_clamps(qmodel, result, feature_names=None):
    counts = result.clamp_counts[0]
    names = feature_names or [f"x{i}" for i in range(len(counts))]
    clamped = [(n, int(c)) for n, c in zip(names, counts) if c]
    if clamped:
        print("inputs clamped to the calibrated domain: " + ", ".join(f"{n}: {c}" for n, c in clamped))
    else:
        print("inputs clamped to the calibrated domain: none")
    hidden = [int(np.sum(c)) for c in result.clamp_counts[1:]]
    if any(hidden):
        print("hidden values clamped per layer: " + ", ".join(str(h) for h in hidden))


def run_simulate(args):
    if args.output:
        check_output_path(args.output, inputs=[args.qmodel, args.data])
    qmodel = load_quantized_model(args.qmodel)
    data = read_features(args.data, qmodel, target=args.target)
    x_q = qmodel.quantize_inputs(data.X)
    from kanc.simulate import simulate

    result = simulate(qmodel, x_q)
    outputs = qmodel.dequantize_outputs(result.outputs)
    predictions = predictions_from_outputs(qmodel, outputs)
    print_metric(qmodel, data.y, predictions, "fixed-point")
    print_clamps(qmodel, result, data.feature_names)
    if args.output:
        header = [f"y_q{j}" for j in range(qmodel.n_outputs)] + [f"y{j}" for j in range(qmodel.n_outputs)]
        table = np.column_stack([result.outputs.astype(np.int64), outputs])
        with atomic_path(args.output) as tmp:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(",".join(header) + "\n")
                for row in table:
                    ints = [str(int(v)) for v in row[:qmodel.n_outputs]]
                    reals = [repr(float(v)) for v in row[qmodel.n_outputs:]]
                    handle.write(",".join(ints + reals) + "\n")
        print(f"wrote {args.output} ({len(table)} rows)")


def run_report(args):
    from kanc.emit.c_source import model_sizes
    from kanc.quantize.report import add_error_report, format_report

    qmodel = load_quantized_model(args.qmodel)
    if args.float_model and not args.data:
        raise KancError("--float-model needs --data: the error against the float model is measured on those rows")
    print(f"model {qmodel.name}: {qmodel.task}, widths {qmodel.widths}, {qmodel.n_edges} edges")
    sizes = model_sizes(qmodel)
    print(f"tables: {sizes['table_bytes']} bytes, requantizers and biases: {sizes['param_bytes']} bytes, "
          f"sparse-layer edge indices: {sizes['index_bytes']} bytes, flash for constants: {sizes['flash_bytes']} "
          f"bytes, RAM: {sizes['ram_bytes']} bytes")

    data = read_features(args.data, qmodel, target=args.target) if args.data else None
    if args.float_model:
        float_model = load_float_model(args.float_model, task=qmodel.task)
        if list(float_model.widths) != list(qmodel.widths):
            raise DataError(f"--float-model {args.float_model} has widths {list(float_model.widths)} but "
                            f"{args.qmodel} has {qmodel.widths}; pass the float model it was compiled from")
        add_error_report(qmodel, float_model, data.X, label=os.path.basename(args.data))
    print(format_report(qmodel.metadata))
    if data is not None:
        from kanc.simulate import simulate

        result = simulate(qmodel, qmodel.quantize_inputs(data.X))
        outputs = qmodel.dequantize_outputs(result.outputs)
        print_metric(qmodel, data.y, predictions_from_outputs(qmodel, outputs), "fixed-point")
        print_clamps(qmodel, result, data.feature_names)


# ---------------------------------------------------------------------------- boards

def board_by_name(name):
    from kanc.build.boards import BOARDS

    if name not in BOARDS:
        raise KancError(f"unknown board {name!r}; supported boards are {sorted(BOARDS)}")
    return BOARDS[name]


def run_build(args):
    import tempfile

    import shutil

    qmodel = load_quantized_model(args.qmodel)
    board = board_by_name(args.board)
    if args.out_dir and os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise DataError(f"--out-dir {args.out_dir} is a file; give a folder")
    out_dir = args.out_dir or tempfile.mkdtemp(prefix=f"kanc-{args.board}-")
    try:
        result = board.build(qmodel, out_dir, firmware="app")
    except BaseException:
        if not args.out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    print(f"built {result.elf_path} for {args.board} ({board.cpu})")
    print(f"flash: {result.flash_bytes} bytes, RAM: {result.ram_bytes} bytes")


def run_verify(args):
    from kanc.verify import verify

    if args.limit is not None and args.limit < 1:
        raise DataError(f"--limit {args.limit} must be at least 1")
    qmodel = load_quantized_model(args.qmodel)
    board_by_name(args.board)
    data = read_features(args.data, qmodel)
    x = data.X if args.limit is None else data.X[:args.limit]
    result = verify(args.board, qmodel, qmodel.quantize_inputs(x))
    print(format_verify(result))
    if result.mismatches:
        raise KancError(f"{result.mismatches} outputs differ between {args.board} and the simulation")


def format_verify(result):
    """Return the lines ``kanc verify`` prints for a VerifyResult."""
    unit = result.count_unit
    lines = [
        f"board {result.board} ({result.cpu}), run on {result.machine}",
        f"rows: {result.n_rows}, outputs compared: {result.n_rows * result.n_outputs}, "
        f"mismatches: {result.mismatches}",
        f"{unit} per inference: {result.count_per_inference:.1f} "
        f"(min {int(result.counts.min())}, max {int(result.counts.max())}), "
        f"per edge: {result.count_per_edge:.2f} ({result.n_edges} edges)" if unit != "none" else
        "the host board is not timed: use an emulated board for cycle or instruction counts",
        f"verify image: flash {result.flash_bytes} bytes, RAM {result.ram_bytes} bytes",
    ]
    if unit == "instructions":
        lines.append("QEMU has no cycle model: these are executed instructions, not cycles")
    if result.mismatches:
        lines.append(f"first mismatch: {result.first_mismatch}")
    return "\n".join(lines)


def run_export(args):
    if args.rows < 1:
        raise DataError(f"--rows {args.rows} must be at least 1")
    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise DataError(f"--out-dir {args.out_dir} is a file; give a folder to create")
    if args.kind == "pico-sdk" and args.board != "uno":
        raise DataError("--board applies to 'kanc export arduino' only; a Pico SDK project targets the rp2040")
    qmodel = load_quantized_model(args.qmodel)
    x_q = None
    if args.data:
        data = read_features(args.data, qmodel)
        x_q = qmodel.quantize_inputs(data.X[:args.rows])
    if args.kind == "pico-sdk":
        from kanc.emit.pico_sdk import export_pico_sdk

        path = export_pico_sdk(qmodel, args.out_dir, x_q=x_q)
    elif args.board == "portenta_h7":
        from kanc.emit.portenta import export_portenta

        path = export_portenta(qmodel, args.out_dir, x_q=x_q)
    elif args.board == "uno":
        from kanc.emit.arduino import export_arduino

        path = export_arduino(qmodel, args.out_dir, x_q=x_q)
    else:
        raise KancError(f"--board {args.board!r} has no Arduino export; use uno or portenta_h7")
    print(f"wrote {path}")


def run_plot(args):
    from kanc.plot.edges import plot_edges

    check_output_path(args.output, inputs=[*model_input_files(args.model), args.qmodel, args.data])
    float_model = load_float_model(args.model)
    qmodel = load_quantized_model(args.qmodel) if args.qmodel else None
    x = read_features(args.data, float_model).X if args.data else None
    if qmodel is None and x is None:
        raise KancError("kanc plot needs --qmodel or --data (calibration rows) to draw the int16 tables")
    plot_edges(float_model, args.output, qmodel=qmodel, x=x, input_names=feature_names_of(float_model))
    print(f"wrote {args.output}")


# ---------------------------------------------------------------------------- demo

def run_demo(args):
    from kanc.demo import run_demo as demo

    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise DataError(f"--out-dir {args.out_dir} is a file; give a folder")
    if args.epochs is not None and args.epochs < 1:
        raise DataError(f"--epochs {args.epochs} must be at least 1")
    results = demo(datasets=args.dataset or ["wine", "diabetes"], out_dir=args.out_dir, seed=args.seed,
                   epochs=args.epochs, verbose=not args.quiet)
    failures = [r.dataset for r in results if r.identical != r.total]
    if failures:
        raise KancError(f"compiled C differs from the simulation on {failures}")
