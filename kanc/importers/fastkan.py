"""Import FastKAN models (stacks of ``FastKANLayer`` without LayerNorm) from their state dict.

A FastKAN layer computes, for output j and input i (FastKAN,
github.com/ZiyaoLi/fast-kan, fastkan/fastkan.py)::

    phi_ji(x_i) = sum_g spline_linear.weight[j, i * G + g] * exp(-((x_i - grid[g]) / h) ** 2)
                + base_linear.weight[j, i] * act(x_i)

plus ``base_linear.bias[j]`` once per node. ``grid`` is the layer's G Gaussian
centres (``rbf.grid``). The width ``h`` (``rbf.denominator``) is not in the state
dict: by default the library sets it to the centre spacing
(grid_max - grid_min) / (G - 1), which the importer recomputes from ``rbf.grid``.

A ``FastKANLayer`` built with ``use_layernorm=True`` (the default, and what the
``FastKAN`` class always builds) normalises each sample over all inputs before the
Gaussians, so its edge functions depend on every input at once. kanc cannot
represent that and rejects such models; build the layers with
``use_layernorm=False`` and scale the inputs to the grid instead.
"""
import numpy as np

from kanc.importers.common import ModelImportError, base_activation, float_array, group_layers, load_state_arrays
from kanc.importers.float_model import ImportedKAN

LIBRARY = "FastKAN"
SUFFIXES = ("rbf.grid", "spline_linear.weight", "base_linear.weight", "base_linear.bias")
ACTIVATIONS = ("silu", "identity", "relu", "tanh")


class FastKANLayerModel:
    """One ``FastKANLayer``: Gaussian centres and width, RBF weights, and the optional base linear map."""

    def __init__(self, centres, width, rbf_weight, base_weight, base_bias, activation):
        self.centres = centres          # (G,)
        self.width = width              # h, a positive float
        self.rbf_weight = rbf_weight    # (n_out, n_in, G)
        self.base_weight = base_weight  # (n_out, n_in) or None without base update
        self.activation = activation
        self.n_out, self.n_in, _ = rbf_weight.shape
        self.bias = base_bias if base_bias is not None else np.zeros(self.n_out)

    def edge_values(self, t):
        basis = np.exp(-(((t[:, :, None] - self.centres[None, None, :]) / self.width) ** 2))    # (N, n_in, G)
        values = np.einsum("nig,jig->nji", basis, self.rbf_weight)
        if self.base_weight is not None:
            values = values + self.base_weight[None, :, :] * self.activation(t)[:, None, :]
        return values


def _reject_layernorm(arrays):
    for name in arrays:
        if name.endswith("layernorm.weight") or name.endswith("layernorm.bias"):
            raise ModelImportError(
                f"{LIBRARY} state dict contains '{name}': the layer normalises its inputs with LayerNorm, "
                "which mixes all inputs of the layer and has no per-edge form. Build the layers with "
                "FastKANLayer(..., use_layernorm=False), scale the inputs to the grid, and retrain")


def _build_layer(arrays, index, members, activation, denominator):
    def entry(suffix, ndim):
        return float_array(arrays, members[suffix], LIBRARY, ndim)

    for suffix in ("rbf.grid", "spline_linear.weight"):
        if suffix not in members:
            raise ModelImportError(f"{LIBRARY} layer {index} has no '{suffix}' entry")
    centres = entry("rbf.grid", 1)
    spline_weight = entry("spline_linear.weight", 2)
    count = len(centres)
    if count < 2 or np.any(np.diff(centres) <= 0):
        raise ModelImportError(
            f"{LIBRARY} layer {index}: rbf.grid must hold at least 2 increasing centres, got {centres.tolist()}")
    n_out, flat = spline_weight.shape
    if flat % count:
        raise ModelImportError(
            f"{LIBRARY} layer {index}: spline_linear.weight has {flat} columns, not a multiple of "
            f"the {count} grid centres")
    n_in = flat // count
    # spline_linear takes the bases flattened as [input 0: g = 0..G-1, input 1: ...].
    rbf_weight = spline_weight.reshape(n_out, n_in, count)

    base_weight = base_bias = None
    if "base_linear.weight" in members:
        base_weight = entry("base_linear.weight", 2)
        if base_weight.shape != (n_out, n_in):
            raise ModelImportError(
                f"{LIBRARY} layer {index}: base_linear.weight has shape {base_weight.shape}, "
                f"expected {(n_out, n_in)}")
        if "base_linear.bias" in members:
            base_bias = entry("base_linear.bias", 1)
            if base_bias.shape != (n_out,):
                raise ModelImportError(
                    f"{LIBRARY} layer {index}: base_linear.bias has shape {base_bias.shape}, expected {(n_out,)}")

    if denominator is None:
        width = (centres[-1] - centres[0]) / (count - 1)
    else:
        width = float(denominator[index] if np.ndim(denominator) else denominator)
        if not width > 0:
            raise ModelImportError(f"{LIBRARY} layer {index}: denominator must be positive, got {width}")
    return FastKANLayerModel(centres, width, rbf_weight, base_weight, base_bias, activation)


def import_fastkan(state, task="regression", base_activation_name="silu", denominator=None):
    """Import a FastKAN model from its state dict.

    Parameters
    ----------
    state : mapping, nn.Module or path
        State dict of a ``Sequential`` / ``ModuleList`` of ``FastKANLayer`` (or a
        ``FastKAN`` whose layers have no LayerNorm), in any form that
        ``kanc.importers.common.load_state_arrays`` reads.
    task : str
        "regression" or "classification" (outputs are logits).
    base_activation_name : str
        The layers' ``base_activation``: "silu" (the library's default, ``F.silu``),
        "identity", "relu" or "tanh". Unused by layers built with ``use_base_update=False``.
    denominator : float, sequence of float, or None
        The Gaussian width h of each layer (one value for all, or one per layer) when
        the layers were built with an explicit ``denominator``; None recomputes the
        library's default, the spacing of the centres.
    """
    arrays = load_state_arrays(state, LIBRARY)
    _reject_layernorm(arrays)
    activation = base_activation(base_activation_name, LIBRARY, ACTIVATIONS)
    grouped = group_layers(arrays, SUFFIXES, LIBRARY)
    if denominator is not None and np.ndim(denominator) and len(denominator) != len(grouped):
        raise ModelImportError(
            f"denominator has {len(denominator)} entries but the {LIBRARY} model has {len(grouped)} layers")
    layers = [
        _build_layer(arrays, index, members, activation, denominator)
        for index, (_, members) in enumerate(grouped)
    ]
    return ImportedKAN(layers, task, source=f"{LIBRARY} (base activation {base_activation_name})")
