"""The interface between float models (trained or imported) and the quantizer.

Any float KAN, whether kanc's own B-spline model or one imported from pykan,
efficient-kan, FastKAN or ChebyKAN, is handed to the quantizer as an object with
these members (duck typing, no base class needed):

``task``
    "regression" or "classification".
``widths``
    list of ints ``[n_inputs, n_1, ..., n_outputs]``.
``layer_inputs(x)``
    For real inputs ``x`` of shape (N, n_inputs), a list of L + 1 float64 arrays:
    the inputs of layer 0 (``x`` itself, in the user's units), of layers 1 .. L-1,
    and last the model outputs (regression targets in the user's units, or logits).
``edge_values(layer, t)``
    For ``t`` of shape (N, n_in) in the coordinates of that layer's inputs, the
    edge functions phi_ji(t_i) as an array of shape (N, n_out, n_in).
``node_bias(layer)``
    The (n_out,) bias of each node.

The contract that ties them together, for every layer ``l``::

    layer_inputs(x)[l + 1] == edge_values(l, layer_inputs(x)[l]).sum(axis=2) + node_bias(l)

Input normalisation and output scaling belong inside the edge functions, so
layer 0 receives raw features and the last layer returns outputs in target units.
"""

import numpy as np

from kanc.errors import DataError

REQUIRED_MEMBERS = ("task", "widths", "layer_inputs", "edge_values", "node_bias")


def check_float_model(model):
    """Raise TypeError naming the first member of the protocol that ``model`` lacks."""
    for member in REQUIRED_MEMBERS:
        if not hasattr(model, member):
            raise TypeError(f"{type(model).__name__} is not a kanc float model: missing '{member}' "
                            "(see kanc.model.protocol)")
    return model


def checked_layer_inputs(model, x, widths, error_type):
    """Run ``model.layer_inputs(x)`` and return its L + 1 arrays as float64.

    Raises ``error_type`` (a ``KancError`` subclass chosen by the caller) when the
    model returns the wrong number of arrays, an array whose shape is not
    ``(len(x), widths[l])``, or NaN or infinite values.
    """
    activations = model.layer_inputs(x)
    if len(activations) != len(widths):
        raise error_type(f"layer_inputs returned {len(activations)} arrays; widths {widths} need "
                         f"{len(widths)}; check the float model")
    checked = []
    for index, (values, width) in enumerate(zip(activations, widths)):
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(x), width):
            raise error_type(f"layer_inputs()[{index}] has shape {values.shape}, expected {(len(x), width)}; "
                             "check the float model")
        if not np.all(np.isfinite(values)):
            raise error_type(f"layer_inputs()[{index}] contains NaN or infinite values; check the float model")
        checked.append(values)
    return checked


def check_samples(x, n_inputs, label, min_rows, purpose):
    """Return ``x`` as a finite float64 (N, n_inputs) array with N >= ``min_rows``.

    ``label`` names the data in messages ("calibration data") and ``purpose`` says
    what the rows are for ("quantizing"). Raises DataError naming the problem.
    """
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{label} is not numeric: {exc}") from None
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise DataError(f"{label} must have shape (N, {n_inputs}), got {x.shape}")
    if len(x) < min_rows:
        raise DataError(f"{label} has {len(x)} row(s); {purpose} needs at least {min_rows}, "
                        "ideally the training set")
    if not np.all(np.isfinite(x)):
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"{label} row {row}, feature {col} is {x[row, col]}; "
                        "remove or impute non-finite values first")
    return x
