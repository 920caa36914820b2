"""The numbers behind each panel of the edge plot, computed without matplotlib.

All values are real numbers: inputs in the units of the layer input, edge and
table values in the real units of the receiving node j. The table of edge (j, i)
is dequantized as ``T_ji[s] * table_scale[j]`` at the segment ends
``lo_i + s * (hi_i - lo_i) / S_i`` (docs/fixed_point_spec.md section 2.4). kanc's
quantizer splits node j's bias between B_j and the node's acc_offset and adds no
offset to the samples
(``T = floor(phi / scale + 0.5)``), so these values are directly comparable with
phi_ji from the float protocol's ``edge_values``. A quantized model built another
way may move constants between B_j and the tables, and then its curves are
shifted by that constant.
"""
import dataclasses

import numpy as np

from kanc.errors import KancError
from kanc.quantize.error_bounds import evaluate_edges
from kanc.quantize.qmodel import FRAC_BITS


@dataclasses.dataclass
class EdgePanelData:
    """Curves and numbers of one panel, for edge (j, i) of a layer.

    Attributes
    ----------
    t, phi : float64 (points,)
        Layer input i over the plotted range, and phi_ji(t) from the float model.
    knot_t, knot_value : float64 (S_i + 1,), or empty for a pruned edge of a sparse layer
        Segment ends and the dequantized table samples there.
    table_t, table_value : float64
        The table's piecewise-linear function over the plotted range: the knots,
        plus the saturated end values where the plotted range extends beyond the
        domain (the integer path clamps u to [0, U_i] there).
    data_range : (float, float) or None
        Min and max of input i over the calibration data.
    importance : float or None
        Standard deviation of phi_ji over the calibration data (node-j units).
    table_error : float
        Max |integer table interpolant - phi_ji| measured on every fourth u of the
        domain (kanc.quantize.report.measure_table_errors), node-j units.
    """

    t: np.ndarray
    phi: np.ndarray
    knot_t: np.ndarray
    knot_value: np.ndarray
    table_t: np.ndarray
    table_value: np.ndarray
    data_range: tuple
    importance: float
    table_error: float


def layer_panel_data(float_model, qmodel, layer, points, inputs=None, importance=None, table_error=None):
    """Return the panels of one layer as a list of n_out rows of n_in EdgePanelData.

    ``inputs`` (N, n_in) are the layer's inputs on the calibration data, or None.
    ``importance`` and ``table_error`` are (n_out, n_in) arrays, or None. The plotted
    range of input i is the table domain [lo_i, hi_i], widened to cover ``inputs``
    where they leave it.
    """
    layer_q = qmodel.layers[layer]
    lo, hi = layer_q.domain_lo, layer_q.domain_hi

    data_lo = data_hi = None
    plot_lo, plot_hi = lo.copy(), hi.copy()
    if inputs is not None:
        data_lo, data_hi = inputs.min(axis=0), inputs.max(axis=0)
        plot_lo, plot_hi = np.minimum(lo, data_lo), np.maximum(hi, data_hi)

    fraction = np.linspace(0.0, 1.0, points)[:, None]
    t = plot_lo[None, :] + (plot_hi - plot_lo)[None, :] * fraction          # (points, n_in)
    phi = evaluate_edges(float_model, layer, t)                               # (points, n_out, n_in)

    rows = []
    for j in range(layer_q.n_out):
        row = []
        for i in range(layer_q.n_in):
            knot_t, knot_value, table_t, table_value = table_polyline(layer_q, j, i, plot_lo[i], plot_hi[i])
            row.append(EdgePanelData(
                t=t[:, i], phi=phi[:, j, i],
                knot_t=knot_t, knot_value=knot_value, table_t=table_t, table_value=table_value,
                data_range=None if data_lo is None else (float(data_lo[i]), float(data_hi[i])),
                importance=None if importance is None else float(importance[j, i]),
                table_error=float("nan") if table_error is None else float(table_error[j, i]),
            ))
        rows.append(row)
    return rows


def table_polyline(layer_q, j, i, plot_lo, plot_hi):
    """Return (knot_t, knot_value, table_t, table_value) of edge (j, i) in real units.

    Beyond the domain the requantizer saturates u (spec section 2.2, step 5): below
    lo_i to u = 0, whose value is the first sample, and above hi_i to
    u = U_i = S_i * 2^F - 1, which interpolates 255/256 of the way into the last
    segment. The polyline is extended flat at those values. A pruned edge of a
    sparse layer has no knots and a table value of 0 over the whole range.
    """
    segments = int(layer_q.segments[i])
    lo, hi = float(layer_q.domain_lo[i]), float(layer_q.domain_hi[i])
    if not layer_q.live_mask()[j, i]:
        # A pruned edge of a sparse layer has no samples; the integer model adds exactly 0 for it.
        return np.zeros(0), np.zeros(0), np.array([plot_lo, plot_hi]), np.zeros(2)
    samples = layer_q.edge_table(j, i).astype(np.int64)
    scale = float(layer_q.table_scale[j])

    knot_t = lo + (hi - lo) * (np.arange(segments + 1) / segments)     # as the quantizer's knot_grid
    knot_value = samples * scale

    # Value at u = U_i: segment S_i - 1, fraction 2^F - 1, exact integer edge term e / 2^F.
    last_fraction = (1 << FRAC_BITS) - 1
    edge_term = samples[-2] * ((1 << FRAC_BITS) - last_fraction) + samples[-1] * last_fraction
    top_value = edge_term * scale / (1 << FRAC_BITS)

    table_t, table_value = list(knot_t), list(knot_value)
    if plot_lo < lo:
        table_t.insert(0, plot_lo)
        table_value.insert(0, knot_value[0])
    if plot_hi > hi:
        table_t += [hi, plot_hi]
        table_value += [top_value, top_value]
    return knot_t, knot_value, np.array(table_t), np.array(table_value)


def node_labels(float_model, qmodel, input_names=None):
    """Return one list of node labels per node layer k = 0 .. L.

    The inputs are named from ``input_names``, else ``float_model.feature_names``
    or ``qmodel.metadata["feature_names"]``, else x0, x1, ... Hidden nodes are
    "node j", outputs "logit <class>" for a classifier and "output j" otherwise.
    """
    widths = [int(w) for w in float_model.widths]
    names = input_names
    if names is None:
        names = getattr(float_model, "feature_names", None)
    if names is None:
        names = (getattr(qmodel, "metadata", None) or {}).get("feature_names")
    if names is None:
        names = [f"x{i}" for i in range(widths[0])]
    names = [str(name) for name in names]
    if len(names) != widths[0]:
        raise KancError(f"input_names has {len(names)} entries {names}, but the model has "
                        f"{widths[0]} inputs; pass one name per input")

    labels = [names]
    labels += [[f"node {j}" for j in range(width)] for width in widths[1:-1]]
    if float_model.task == "classification":
        classes = getattr(float_model, "classes", None)
        if classes is None:
            classes = range(widths[-1])
        outputs = [f"logit {_class_name(c)}" for c in classes]
    else:
        outputs = [f"output {j}" for j in range(widths[-1])]
    labels.append(outputs)
    return labels


def _class_name(label):
    """Return a class label as text, without a trailing .0 on whole-number float labels."""
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    return str(label)


def check_matching_widths(float_model, qmodel):
    """Raise KancError unless ``qmodel`` has the same layer widths as ``float_model``."""
    float_widths = [int(w) for w in float_model.widths]
    quantized_widths = [int(w) for w in qmodel.widths]
    if float_widths != quantized_widths:
        raise KancError(f"the quantized model has widths {quantized_widths} but the float model has "
                        f"{float_widths}; pass the quantized model made from this float model")
