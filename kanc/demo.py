"""The main job: train a KAN on bundled real data, quantize it, emit C, build and run the C on the host.

For each data set it prints the float test metric, the simulated fixed-point test
metric, how many outputs of the compiled C equal the simulation (all of them
must), the error against the float model with its computed bound, and the
model's table and RAM sizes in bytes.
"""
import dataclasses
import os
import time

import numpy as np

from kanc.datasets import DATASETS, load_dataset
from kanc.io.csvdata import class_labels
from kanc.metrics import accuracy, argmax_lowest, rmse, train_test_split

# Per data set: hidden widths and training epochs.
SETTINGS = {
    "wine": {"hidden": (6,), "epochs": 200},
    "iris": {"hidden": (6,), "epochs": 200},
    "breast_cancer": {"hidden": (4,), "epochs": 100},
    "diabetes": {"hidden": (4,), "epochs": 150},
}
TEST_FRACTION = 0.25


@dataclasses.dataclass
class DemoResult:
    """Measurements of the demo on one data set."""

    dataset: str
    task: str
    metric: str
    float_metric: float
    fixed_metric: float
    identical: int
    total: int
    total_rows: int
    sizes: dict
    rows_in_domain: int
    max_abs_error_in_domain: object
    max_abs_error: float
    error_bound: float
    seconds: float


def run_demo(datasets=("wine", "diabetes"), out_dir="kanc_out", seed=0, epochs=None, verbose=True):
    """Run the whole pipeline on each bundled data set; return a list of DemoResult."""
    from kanc.build.host import run_host
    from kanc.commands import compile_model, make_estimator
    from kanc.emit.c_source import model_sizes, write_c_sources
    from kanc.model.serialize import save_float_model
    from kanc.quantize.report import add_error_report
    from kanc.simulate import simulate

    results = []
    for name in datasets:
        start = time.perf_counter()
        data = load_dataset(name)
        task = DATASETS[name][2]
        settings = SETTINGS[name]
        y = class_labels(data.y) if task == "classification" else data.y
        train_idx, test_idx = train_test_split(len(y), TEST_FRACTION, seed,
                                               labels=y if task == "classification" else None)
        x_train, x_test = data.X[train_idx], data.X[test_idx]
        y_train, y_test = y[train_idx], y[test_idx]
        print(f"== {name}: {task}, {data.X.shape[1]} features, {len(train_idx)} training / "
              f"{len(test_idx)} test rows ==", flush=True)

        # Train the float model.
        estimator = make_estimator(task, hidden=settings["hidden"], epochs=epochs or settings["epochs"],
                                   seed=seed, verbose=verbose)
        estimator.fit(x_train, y_train)
        model = estimator.model_
        model.feature_names = data.feature_names
        model.target_name = data.target_name
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        save_float_model(model, os.path.join(folder, "float_model.npz"))

        # Quantize with the training rows as calibration data, then emit C.
        qmodel = compile_model(model, x_train, name=f"kan_{name}")
        error = add_error_report(qmodel, model, x_test, label="test")
        qmodel.save(os.path.join(folder, "quantized_model.npz"))
        write_c_sources(qmodel, os.path.join(folder, "c"), board="host")

        # Simulate the device's integers and run the compiled C on every test row.
        x_q = qmodel.quantize_inputs(x_test)
        simulated = simulate(qmodel, x_q).outputs
        compiled = run_host(qmodel, x_q)
        identical = int(np.sum(compiled == simulated))
        total = simulated.size

        outputs = qmodel.dequantize_outputs(simulated)
        if task == "classification":
            metric = "accuracy"
            float_metric = accuracy(y_test, estimator.predict(x_test))
            fixed_metric = accuracy(y_test, estimator.classes_[argmax_lowest(outputs)])
        else:
            metric = "RMSE"
            float_metric = rmse(y_test, estimator.predict(x_test))
            fixed_metric = rmse(y_test, outputs[:, 0])
        sizes = model_sizes(qmodel)
        result = DemoResult(name, task, metric, float_metric, fixed_metric, identical, total, len(x_test), sizes,
                            error["samples_in_domain"], error["max_abs_error_in_domain"], error["max_abs_error"],
                            qmodel.metadata["quantizer"]["output_error_bound_max"],
                            time.perf_counter() - start)
        results.append(result)
        print_result(result, folder)
    return results


def print_result(result, folder):
    if result.metric == "accuracy":
        verdict = "equal" if result.fixed_metric == result.float_metric else "DIFFERENT"
        change = f"({verdict})"
    else:
        relative = (result.fixed_metric - result.float_metric) / result.float_metric * 100.0
        change = f"({relative:+.3f}% vs float)"
    if result.max_abs_error_in_domain is None:
        in_domain = "no test row stays inside the calibrated domains"
    else:
        in_domain = (f"largest {result.max_abs_error_in_domain:.4g} on the {result.rows_in_domain} of {result.total_rows} "
                     "test rows inside the calibrated domains")
    lines = [
        f"float test {result.metric}:        {result.float_metric:.6g}",
        f"fixed-point test {result.metric}:  {result.fixed_metric:.6g} {change}",
        f"C outputs identical to simulation: {result.identical} of {result.total} "
        f"({result.total_rows} rows x {result.total // max(result.total_rows, 1)} outputs)",
        f"output error vs float: {in_domain}, computed bound {result.error_bound:.4g}; "
        f"largest on all rows {result.max_abs_error:.4g}",
        f"table bytes: {result.sizes['table_bytes']}, all model constants: {result.sizes['flash_bytes']} bytes, "
        f"RAM: {result.sizes['ram_bytes']} bytes",
        f"outputs in {folder} ({result.seconds:.1f} s)",
    ]
    print("\n".join("  " + line for line in lines), flush=True)
