"""Import pykan 0.2.x models (``kan.KAN`` / ``kan.MultKAN``) from a live model or a saveckpt checkpoint.

The importer reads everything that changes pykan's forward pass. That is the
knots of every input (non-uniform after ``update_grid``), the spline order per
layer, ``base_fun`` (SiLU, identity or zero), ``scale_base``, ``scale_sp`` and
``mask``. It also reads the symbolic branch when ``symbolic_enabled`` is set, the
node and subnode scales and biases, and the input selection of ``prune_input``.
A float32 or float64 state is evaluated in float64. See pykan_layer.py for the
formulas.

Multiplication nodes (width entries [n_sum, n_mult] with n_mult > 0) are
rejected: kanc's integer kernel only adds edge outputs at a node.
"""
import os

import numpy as np

from kanc.importers.common import BASE_ACTIVATIONS, ModelImportError, require_torch, tensor_to_numpy
from kanc.importers.float_model import ImportedKAN
from kanc.importers.pykan_checkpoint import read_pykan_checkpoint
from kanc.importers.pykan_layer import PykanLayer, SymbolicEdge

LIBRARY = "pykan"
BASE_FUNS = ("silu", "identity", "zero")


class PykanKAN(ImportedKAN):
    """An imported pykan model; adds ``finite_domain`` for symbolic edges with a restricted domain."""

    def finite_domain(self, layer):
        """Return (lo, hi) arrays over the inputs of ``layer`` where its symbolic edges are finite."""
        return self._layer(layer).finite_domain()


def _normalise_width(width):
    """Return pykan's width as a list of [n_sum, n_mult] pairs (plain ints mean n_mult = 0)."""
    pairs = []
    for entry in width:
        if isinstance(entry, (int, np.integer)):
            pairs.append([int(entry), 0])
        elif isinstance(entry, (list, tuple)) and len(entry) == 2:
            pairs.append([int(entry[0]), int(entry[1])])
        else:
            raise ModelImportError(f"pykan width entry {entry!r} is neither an int nor a [n_sum, n_mult] pair")
    if len(pairs) < 2:
        raise ModelImportError(f"pykan width {width!r} needs at least an input and an output entry")
    return pairs


def _reject_multiplication_nodes(width):
    layers = [f"layer {l}: {m} multiplication node(s)" for l, (_, m) in enumerate(width) if m > 0]
    if layers:
        raise ModelImportError(
            f"pykan model has multiplication nodes ({'; '.join(layers)}), which kanc does not support: its "
            "integer kernel only adds edge outputs at each node. Retrain with width given as plain integers")


def _probe_base_fun(function, layer):
    """Identify a live model's base_fun (a torch module or lambda) by evaluating it at fixed points."""
    torch = require_torch("importing a live pykan model")
    probe = torch.linspace(-6.0, 6.0, 49, dtype=torch.float64)[:, None]
    with torch.no_grad():
        try:
            value = tensor_to_numpy(function(probe)).astype(np.float64)
        except Exception as exc:  # an arbitrary user callable may raise anything
            raise ModelImportError(f"pykan layer {layer}: base_fun {function!r} failed on a test input: {exc}") from None
    x = tensor_to_numpy(probe).astype(np.float64)
    for name in BASE_FUNS:
        if value.shape == x.shape and np.allclose(value, BASE_ACTIVATIONS[name](x), rtol=1e-12, atol=1e-300):
            return name
    raise ModelImportError(
        f"pykan layer {layer}: base_fun {function!r} is not SiLU, identity or zero, the base functions "
        "kanc reproduces; retrain with base_fun='silu', 'identity' or 'zero'")


def _description_from_model(model):
    """Collect what the forward pass uses from a live MultKAN."""
    if not (hasattr(model, "act_fun") and hasattr(model, "symbolic_fun") and hasattr(model, "width")):
        raise ModelImportError(
            f"{type(model).__name__} is not a pykan KAN/MultKAN model (no act_fun, symbolic_fun or width); "
            "pass the model or the path given to saveckpt")
    width = _normalise_width(model.width)
    _reject_multiplication_nodes(width)
    names = []
    for l, layer in enumerate(model.symbolic_fun):
        names.append([[str(name) for name in row] for row in layer.funs_name])
    return {
        "width": width,
        "symbolic_enabled": bool(model.symbolic_enabled),
        "base_funs": [_probe_base_fun(layer.base_fun, l) for l, layer in enumerate(model.act_fun)],
        "funs_names": names,
        "arrays": {str(k): tensor_to_numpy(v) for k, v in model.state_dict().items()},
        "input_id": tensor_to_numpy(model.input_id).astype(np.int64),
    }


def _description_from_checkpoint(path):
    """Collect what the forward pass uses from saveckpt's config and state files."""
    config, arrays = read_pykan_checkpoint(path)
    for key in ("width", "base_fun_name", "symbolic_enabled"):
        if key not in config:
            raise ModelImportError(f"pykan checkpoint {path}: config has no '{key}' entry")
    width = _normalise_width(config["width"])
    _reject_multiplication_nodes(width)

    base_fun = config["base_fun_name"]
    if base_fun not in BASE_FUNS:
        raise ModelImportError(
            f"pykan checkpoint {path}: base_fun_name {base_fun!r} is not one of {', '.join(BASE_FUNS)}")

    depth = len(width) - 1
    names = []
    for l in range(depth):
        key = f"symbolic.funs_name.{l}"
        if key not in config:
            raise ModelImportError(f"pykan checkpoint {path}: config has no '{key}' entry")
        names.append([[str(name) for name in row] for row in config[key]])
    return {
        "width": width,
        "symbolic_enabled": bool(config["symbolic_enabled"]),
        "base_funs": [base_fun] * depth,
        "funs_names": names,
        "arrays": arrays,
        # prune_input's selection is a plain attribute: neither the state nor the config stores it.
        "input_id": None,
    }


def _array(arrays, name, shape):
    if name not in arrays:
        raise ModelImportError(f"pykan state has no '{name}' entry")
    value = np.asarray(arrays[name])
    if value.dtype.kind not in "fiu":
        raise ModelImportError(f"pykan state entry '{name}' has dtype {value.dtype}, expected float")
    if shape is not None and value.shape != tuple(shape):
        raise ModelImportError(f"pykan state entry '{name}' has shape {value.shape}, expected {tuple(shape)}")
    value = value.astype(np.float64)
    if not np.all(np.isfinite(value)):
        raise ModelImportError(f"pykan state entry '{name}' contains NaN or infinite values")
    return value


def _spline_parameters(arrays, l, n_in, n_out):
    grid = _array(arrays, f"act_fun.{l}.grid", None)
    coef = _array(arrays, f"act_fun.{l}.coef", None)
    if grid.ndim != 2 or grid.shape[0] != n_in or coef.ndim != 3 or coef.shape[:2] != (n_in, n_out):
        raise ModelImportError(
            f"pykan layer {l}: grid {grid.shape} and coef {coef.shape} do not match width {n_in} -> {n_out}")
    # grid has G + 2k + 1 knots per input and coef G + k coefficients per edge.
    degree = grid.shape[1] - coef.shape[2] - 1
    if degree < 0 or coef.shape[2] - degree < 1:
        raise ModelImportError(f"pykan layer {l}: grid {grid.shape} and coef {coef.shape} imply no valid spline order")
    if np.any(np.diff(grid, axis=1) < 0):
        raise ModelImportError(f"pykan layer {l}: grid knots are not sorted; the state is corrupt")
    return {
        "grid": grid, "coef": coef, "degree": degree,
        "scale_base": _array(arrays, f"act_fun.{l}.scale_base", (n_in, n_out)),
        "scale_sp": _array(arrays, f"act_fun.{l}.scale_sp", (n_in, n_out)),
        "mask": _array(arrays, f"act_fun.{l}.mask", (n_in, n_out)),
    }


def _symbolic_edges(arrays, l, n_in, n_out, names):
    mask = _array(arrays, f"symbolic_fun.{l}.mask", (n_out, n_in))
    affine = _array(arrays, f"symbolic_fun.{l}.affine", (n_out, n_in, 4))
    if len(names) != n_out or any(len(row) != n_in for row in names):
        raise ModelImportError(f"pykan layer {l}: symbolic function names are not a {n_out} x {n_in} table")
    edges = []
    for j in range(n_out):
        for i in range(n_in):
            # NOTE: an edge with symbolic mask 0 contributes 0 here. pykan multiplies 0 by f(a*x + b),
            # which is NaN where that value is infinite or NaN (only after unfix_symbolic).
            if mask[j, i] != 0:
                edges.append(SymbolicEdge(l, i, j, names[j][i], affine[j, i], mask[j, i]))
    return edges


def _input_columns(description, input_id, n_features, n_selected):
    if input_id is None:
        input_id = description["input_id"]
    if input_id is None:
        input_id = np.arange(n_selected)
    input_id = np.asarray(input_id, dtype=np.int64).reshape(-1)
    if len(input_id) != n_selected:
        raise ModelImportError(
            f"input_id has {len(input_id)} entries but the pykan model takes {n_selected} inputs")
    if len(np.unique(input_id)) != len(input_id) or np.any(input_id < 0):
        raise ModelImportError(f"input_id {input_id.tolist()} must hold distinct non-negative feature indices")
    if n_features is None:
        n_features = int(input_id.max()) + 1
    if input_id.max() >= n_features:
        raise ModelImportError(
            f"input_id {input_id.tolist()} refers to feature {int(input_id.max())} but n_features is {n_features}")
    return input_id, int(n_features)


def import_pykan(model_or_path, task="regression", input_id=None, n_features=None):
    """Import a pykan 0.2.x model as a float64 model that follows kanc.model.protocol.

    Parameters
    ----------
    model_or_path : kan.MultKAN or path
        A live model, or the ``path`` given to ``model.saveckpt(path)`` (the files
        ``<path>_config.yml`` and ``<path>_state``; either file name is accepted too).
    task : str
        "regression" or "classification" (outputs are logits).
    input_id : sequence of int, optional
        The feature columns the model reads, as after ``model.prune_input``. A live
        model's own ``input_id`` is used by default. A checkpoint does not store it
        (pykan's own ``loadckpt`` loses it too), so after ``prune_input`` pass the
        kept feature indices here. Without it the model reads columns 0 .. n - 1.
    n_features : int, optional
        Number of feature columns in the data, when it exceeds max(input_id) + 1.
        Columns the model does not read get edges that are zero.

    Returns
    -------
    PykanKAN
        With ``layer_inputs``, ``edge_values``, ``node_bias``, ``edge_derivative_values``
        (central differences) and ``finite_domain``.
    """
    if isinstance(model_or_path, (str, os.PathLike)):
        description = _description_from_checkpoint(model_or_path)
        source = f"pykan checkpoint {os.fspath(model_or_path)}"
    else:
        description = _description_from_model(model_or_path)
        source = f"pykan {type(model_or_path).__name__}"

    width = [n for n, _ in description["width"]]
    arrays = description["arrays"]
    columns, n_model_inputs = _input_columns(description, input_id, n_features, width[0])

    layers = []
    for l, (n_in, n_out) in enumerate(zip(width[:-1], width[1:])):
        spline = _spline_parameters(arrays, l, n_in, n_out)
        symbolic = []
        if description["symbolic_enabled"]:
            symbolic = _symbolic_edges(arrays, l, n_in, n_out, description["funs_names"][l])
        affine = tuple(_array(arrays, f"{kind}_{l}", (n_out,))
                       for kind in ("node_scale", "node_bias", "subnode_scale", "subnode_bias"))
        base_fun = BASE_ACTIVATIONS[description["base_funs"][l]]
        if l == 0:
            layer_columns, layer_inputs = columns, n_model_inputs
        else:
            layer_columns, layer_inputs = np.arange(n_in), n_in
        layers.append(PykanLayer(l, spline, symbolic, affine, base_fun, layer_columns, layer_inputs))
    return PykanKAN(layers, task, source)
