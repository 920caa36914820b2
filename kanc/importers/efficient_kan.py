"""Import efficient-kan models (``KAN`` or stacks of ``KANLinear``) from their state dict.

An efficient-kan layer computes, for output j and input i (efficient-kan,
github.com/Blealtan/efficient-kan, src/efficient_kan/kan.py)::

    phi_ji(x_i) = base_weight[j, i] * act(x_i)
                + spline_scaler[j, i] * sum_c spline_weight[j, i, c] * B_c(x_i)

with B-spline bases on the layer's ``grid`` buffer (n_in, G + 2k + 1), which
``update_grid`` makes non-uniform. ``spline_scaler`` exists only with
``enable_standalone_scale_spline=True`` (the default). The layers have no bias.
The base activation is a constructor argument that the state dict does not
store, so the caller names it (SiLU by default, as in the library).
"""
import numpy as np

from kanc.importers.bspline import bspline_bases, check_knots
from kanc.importers.common import ModelImportError, base_activation, float_array, group_layers, load_state_arrays
from kanc.importers.float_model import ImportedKAN

LIBRARY = "efficient-kan"
SUFFIXES = ("base_weight", "spline_weight", "spline_scaler", "grid")
ACTIVATIONS = ("silu", "identity", "relu", "tanh")


class EfficientKANLayer:
    """One ``KANLinear``: base weights, scaled spline coefficients and its knot grid, in float64."""

    def __init__(self, knots, base_weight, spline_coef, degree, activation):
        self.knots = knots                  # (n_in, G + 2k + 1)
        self.base_weight = base_weight      # (n_out, n_in)
        self.spline_coef = spline_coef      # (n_out, n_in, G + k), spline_scaler already applied
        self.degree = degree
        self.activation = activation
        self.n_out, self.n_in = base_weight.shape
        self.bias = np.zeros(self.n_out)

    def edge_values(self, t):
        bases = bspline_bases(t, self.knots, self.degree, nan_to_zero=False)   # (N, n_in, G + k)
        spline = np.einsum("nic,jic->nji", bases, self.spline_coef)
        base = self.base_weight[None, :, :] * self.activation(t)[:, None, :]
        return base + spline


def _build_layer(arrays, index, members, activation):
    def entry(suffix, ndim):
        if suffix not in members:
            raise ModelImportError(f"{LIBRARY} layer {index} has no '{suffix}' entry")
        return float_array(arrays, members[suffix], LIBRARY, ndim)

    base_weight = entry("base_weight", 2)
    spline_weight = entry("spline_weight", 3)
    knots = entry("grid", 2)
    n_out, n_in = base_weight.shape

    if spline_weight.shape[:2] != (n_out, n_in) or knots.shape[0] != n_in:
        raise ModelImportError(
            f"{LIBRARY} layer {index}: shapes do not match (base_weight {base_weight.shape}, "
            f"spline_weight {spline_weight.shape}, grid {knots.shape})")

    # grid has G + 2k + 1 knots and spline_weight G + k coefficients per edge.
    degree = knots.shape[1] - spline_weight.shape[2] - 1
    if degree < 0 or spline_weight.shape[2] - degree < 1:
        raise ModelImportError(
            f"{LIBRARY} layer {index}: grid {knots.shape} and spline_weight {spline_weight.shape} "
            "imply no valid spline order")
    degenerate = check_knots(knots, degree, LIBRARY, index)
    if len(degenerate):
        raise ModelImportError(
            f"{LIBRARY} layer {index}: grid of input {int(degenerate[0])} has {degree + 1} or more equal knots "
            f"({knots[degenerate[0]].tolist()}), where efficient-kan's B-splines evaluate to NaN; "
            "retrain with grid_eps > 0 so that update_grid keeps the knots apart")

    if "spline_scaler" in members:
        scaler = entry("spline_scaler", 2)
        if scaler.shape != (n_out, n_in):
            raise ModelImportError(
                f"{LIBRARY} layer {index}: spline_scaler has shape {scaler.shape}, expected {(n_out, n_in)}")
        spline_coef = spline_weight * scaler[:, :, None]
    else:
        spline_coef = spline_weight

    return EfficientKANLayer(knots, base_weight, spline_coef, degree, activation)


def import_efficient_kan(state, task="regression", base_activation_name="silu"):
    """Import an efficient-kan model from its state dict.

    Parameters
    ----------
    state : mapping, nn.Module or path
        The state dict of a ``KAN`` or of a ``Sequential`` / ``ModuleList`` of
        ``KANLinear`` layers, as a dict of numpy arrays or tensors, the module itself,
        an ``.npz`` archive or a file written with ``torch.save(model.state_dict(), path)``.
    task : str
        "regression" or "classification" (outputs are logits).
    base_activation_name : str
        The ``base_activation`` the layers were built with: "silu" (the library's
        default, ``torch.nn.SiLU``), "identity", "relu" or "tanh".

    Returns
    -------
    ImportedKAN
        A float64 model that follows kanc.model.protocol.
    """
    arrays = load_state_arrays(state, LIBRARY)
    activation = base_activation(base_activation_name, LIBRARY, ACTIVATIONS)
    layers = [
        _build_layer(arrays, index, members, activation)
        for index, (_, members) in enumerate(group_layers(arrays, SUFFIXES, LIBRARY))
    ]
    return ImportedKAN(layers, task, source=f"{LIBRARY} (base activation {base_activation_name})")
