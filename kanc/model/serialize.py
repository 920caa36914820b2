"""The float model file: a FloatKAN saved as format "kanc-float" version 1 (see docs/model_format.md)."""
import numpy as np

from kanc.errors import ModelFileError
from kanc.io.npzfile import read_model_file, require_array, write_model_file
from kanc.model.kan import BASES, TASKS, FloatKAN, KANLayer

FORMAT = "kanc-float"
VERSION = 1

MAX_DEGREE = 15
"""Largest spline degree a file may declare; real KANs use 1 to 5."""

LAYER_ARRAYS = ("knots", "coef", "w_lin", "w_silu", "bias")
"""Real arrays of every layer; each layer also stores the bool array ``edge_mask``."""


def save_float_model(model, path):
    """Write ``model`` (a FloatKAN) to ``path`` atomically, in format kanc-float version 1.

    Raises ModelFileError, naming the array, if a parameter is NaN or infinite
    (diverged training), because the file could not be loaded again.
    """
    header = {
        "format": FORMAT,
        "version": VERSION,
        "task": model.task,
        "base": model.base,
        "widths": [int(w) for w in model.widths],
        "n_layers": model.n_layers,
        "spline_degree": [int(layer.k) for layer in model.layers],
        "has_classes": model.classes is not None,
        "feature_names": getattr(model, "feature_names", None),
        "target_name": getattr(model, "target_name", None),
    }
    arrays = {"x_mean": model.x_mean, "x_scale": model.x_scale,
              "y_mean": model.y_mean, "y_scale": model.y_scale}
    if model.classes is not None:
        arrays["classes"] = model.classes
    for index, layer in enumerate(model.layers):
        for name in LAYER_ARRAYS:
            arrays[f"layer{index}/{name}"] = np.asarray(getattr(layer, name), dtype=np.float64)
        arrays[f"layer{index}/edge_mask"] = np.asarray(layer.edge_mask, dtype=bool)

    for name, value in arrays.items():
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ModelFileError(f"cannot save model to {path}: array '{name}' contains NaN or infinite values "
                                 "(training diverged?); retrain with a smaller learning rate")
    write_model_file(path, header, arrays)


def load_float_model(path):
    """Read and validate a kanc-float file and return the FloatKAN.

    Raises ModelFileError naming the field for a missing or malformed array, a
    shape mismatch between layers, NaN or infinite values, decreasing knots,
    non-positive scales, or class labels that do not match the outputs.
    """
    header, arrays = read_model_file(path, FORMAT, {VERSION})

    def fail(message):
        raise ModelFileError(f"model file {path}: {message}")

    task, base = header.get("task"), header.get("base")
    if task not in TASKS:
        fail(f"header field task={task!r} must be one of {list(TASKS)}")
    if base not in BASES:
        fail(f"header field base={base!r} must be one of {list(BASES)}")
    n_layers = header.get("n_layers")
    if not isinstance(n_layers, int) or isinstance(n_layers, bool) or n_layers < 1:
        fail(f"header field n_layers={n_layers!r} must be a positive integer")
    degrees = header.get("spline_degree")
    if (not isinstance(degrees, list) or len(degrees) != n_layers
            or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= MAX_DEGREE for k in degrees)):
        fail(f"header field spline_degree={degrees!r} must list {n_layers} integers in [0, {MAX_DEGREE}]")

    layers = []
    n_in = None
    for index in range(n_layers):
        layer = _read_layer(arrays, path, index, degrees[index], fail)
        if n_in is not None and layer.n_in != n_in:
            fail(f"layer {index} has {layer.n_in} inputs but layer {index - 1} has {n_in} outputs")
        n_in = layer.n_out
        layers.append(layer)

    n_inputs, n_outputs = layers[0].n_in, layers[-1].n_out
    scaling = {}
    for name, length in (("x_mean", n_inputs), ("x_scale", n_inputs), ("y_mean", n_outputs), ("y_scale", n_outputs)):
        scaling[name] = require_array(arrays, name, path, "f", 1, (length,)).astype(np.float64)
    for name in ("x_scale", "y_scale"):
        if np.any(scaling[name] <= 0):
            i = int(np.flatnonzero(scaling[name] <= 0)[0])
            fail(f"array '{name}'[{i}] = {scaling[name][i]} must be positive")
    if task == "classification" and (np.any(scaling["y_mean"] != 0) or np.any(scaling["y_scale"] != 1)):
        fail("a classification model's outputs are logits, so y_mean must be 0 and y_scale 1")

    classes = _read_classes(arrays, path, header, task, n_outputs, fail)
    feature_names, target_name = _read_names(header, n_inputs, fail)
    return FloatKAN(layers, task=task, base=base, classes=classes, feature_names=feature_names,
                    target_name=target_name, **scaling)


def _read_layer(arrays, path, index, k, fail):
    prefix = f"layer{index}/"
    coef = require_array(arrays, prefix + "coef", path, "f", 3).astype(np.float64)
    n_out, n_in, n_basis = coef.shape
    if min(coef.shape) < 1:
        fail(f"array '{prefix}coef' has shape {coef.shape}; every axis needs at least one entry")
    knots = require_array(arrays, prefix + "knots", path, "f", 2, (n_in, n_basis + k + 1)).astype(np.float64)
    w_lin = require_array(arrays, prefix + "w_lin", path, "f", 2, (n_out, n_in)).astype(np.float64)
    w_silu = require_array(arrays, prefix + "w_silu", path, "f", 2, (n_out, n_in)).astype(np.float64)
    bias = require_array(arrays, prefix + "bias", path, "f", 1, (n_out,)).astype(np.float64)
    edge_mask = _read_edge_mask(arrays, path, prefix, n_out, n_in, fail)

    steps = np.diff(knots, axis=1)
    if np.any(steps < 0):
        i, m = (int(v) for v in np.argwhere(steps < 0)[0])
        fail(f"array '{prefix}knots' row {i} decreases: knot {m + 1} = {knots[i, m + 1]} "
             f"is below knot {m} = {knots[i, m]}; knots must be non-decreasing")
    empty = knots[:, -1] <= knots[:, 0]
    if np.any(empty):
        i = int(np.flatnonzero(empty)[0])
        fail(f"array '{prefix}knots' row {i} spans no interval (all knots equal {knots[i, 0]})")
    nonzero = (w_lin != 0) | (w_silu != 0) | np.any(coef != 0, axis=2)
    if np.any(nonzero & ~edge_mask):
        j, i = (int(v) for v in np.argwhere(nonzero & ~edge_mask)[0])
        fail(f"edge (node {j}, input {i}) of layer {index} is pruned in '{prefix}edge_mask' but has non-zero "
             "coef, w_lin or w_silu; a pruned edge must be exactly zero")
    return KANLayer(knots, k, coef, w_lin, w_silu, bias, edge_mask)


def _read_edge_mask(arrays, path, prefix, n_out, n_in, fail):
    """Return the layer's (n_out, n_in) bool edge mask; files written before pruning existed have none (all live)."""
    name = prefix + "edge_mask"
    if name not in arrays:
        return np.ones((n_out, n_in), dtype=bool)
    mask = require_array(arrays, name, path, "bui", 2, (n_out, n_in))
    if not np.all((mask == 0) | (mask == 1)):
        fail(f"array '{name}' must contain only 0/1 or False/True, got values {np.unique(mask).tolist()}")
    return mask.astype(bool)


def _read_names(header, n_inputs, fail):
    feature_names = header.get("feature_names")
    if feature_names is not None and (not isinstance(feature_names, list) or len(feature_names) != n_inputs
                                      or not all(isinstance(name, str) for name in feature_names)):
        fail(f"header field feature_names={feature_names!r} must be null or a list of {n_inputs} strings")
    target_name = header.get("target_name")
    valid_target = target_name is None or isinstance(target_name, str) or (
        isinstance(target_name, list) and all(isinstance(name, str) for name in target_name))
    if not valid_target:
        fail(f"header field target_name={target_name!r} must be null, a string or a list of strings")
    return feature_names, target_name


def _read_classes(arrays, path, header, task, n_outputs, fail):
    has_classes = header.get("has_classes", False)
    if task == "regression":
        if has_classes or "classes" in arrays:
            fail("a regression model must not store class labels ('classes')")
        return None
    if not has_classes:
        return None
    classes = require_array(arrays, "classes", path, "iufUb", 1, (n_outputs,))
    if len(np.unique(classes)) != len(classes):
        fail(f"array 'classes' has repeated labels {classes.tolist()}; each output needs its own class")
    return classes
