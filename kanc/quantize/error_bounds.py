"""Curvature estimates, segment counts for a target error, and worst-case error bounds.

All bounds hold for inputs whose layer inputs stay inside the quantizer's domains
(and whose outputs stay inside the int16 output range). Per edge (j, i) of a layer,
in the real units of node j:

    interpolation   h_i^2 / 8 * max|phi_ji''|      h_i = (hi_i - lo_i) / S_i
    table rounding  0.5 * table_scale[j]           each sample is rounded to a table step
    coordinate      slope_ji * c_i                 slope_ji = max_s |T[s+1] - T[s]| * table_scale[j] / 2^F
                                                   per u step; c_i = error of u in u steps

A node sums its edges' bounds plus 0.5 * table_scale[j] / 2^F for its rounded bias
B_j. The node's acc_offset is added exactly in its real meaning, so it adds no term.
That node error, divided by the next layer's u step, feeds c_i of the next layer.
"""
import numpy as np

from kanc.quantize.qmodel import FRAC_BITS, MAX_SEGMENTS, live_edge_samples
from kanc.quantize.requant_params import QuantizationError

CURVATURE_INTERVALS = 4096
"""Sample intervals per domain for the second-difference estimate of max|phi''|."""

_MAX_BATCH_VALUES = 1 << 23


def evaluate_edges(model, layer, t):
    """Return phi_ji(t_i) as float64 (N, n_out, n_in), evaluated in row batches to bound memory.

    Raises QuantizationError naming the layer when the model returns the wrong shape or a
    non-finite value.
    """
    t = np.asarray(t, dtype=np.float64)
    n_out = model.widths[layer + 1]
    rows = max(1, _MAX_BATCH_VALUES // max(1, n_out * t.shape[1]))
    parts = []
    for start in range(0, len(t), rows):
        values = np.asarray(model.edge_values(layer, t[start:start + rows]), dtype=np.float64)
        expected = (min(rows, len(t) - start), n_out, t.shape[1])
        if values.shape != expected:
            raise QuantizationError(f"edge_values(layer {layer}) returned shape {values.shape}, expected {expected}")
        parts.append(values)
    values = np.concatenate(parts, axis=0)
    if not np.all(np.isfinite(values)):
        row, j, i = np.argwhere(~np.isfinite(values))[0]
        raise QuantizationError(f"edge function (node {j}, input {i}) of layer {layer} is not finite at "
                         f"t = {t[row, i]!r}; check the float model")
    return values


def estimate_max_curvature(model, layer, lo, hi, intervals=CURVATURE_INTERVALS):
    """Estimate max|phi_ji''| over [lo_i, hi_i] for every edge of ``layer``; returns (n_out, n_in).

    Uses ``model.edge_derivative_values(layer, t, order)`` only when the model also
    states ``edge_smoothness(layer) >= 2``, that is every edge is C^1 with a bounded
    second derivative, where the h^2 / 8 * max|phi''| bound holds. Otherwise (splines
    of degree 0 or 1, ReLU bases, symbolic abs, or a model that states nothing) it
    takes central second differences on ``intervals`` equal intervals: at a kink they
    return about slope jump / spacing and at a jump about jump / spacing^2, which
    keeps h^2 / 8 * estimate above the true interpolation error because a segment
    spans at least intervals / 256 = 16 sample intervals.
    NOTE: sampling can miss a curvature peak narrower than (hi - lo) / intervals, so
    the result is an estimate, not a proven maximum.
    """
    grid = lo[None, :] + (hi - lo)[None, :] * np.linspace(0.0, 1.0, intervals + 1)[:, None]
    smoothness = getattr(model, "edge_smoothness", None)
    if hasattr(model, "edge_derivative_values") and smoothness is not None and smoothness(layer) >= 2:
        n_out = model.widths[layer + 1]
        rows = max(1, _MAX_BATCH_VALUES // max(1, n_out * len(lo)))
        peak = np.zeros((n_out, len(lo)))
        for start in range(0, len(grid), rows):
            second = np.asarray(model.edge_derivative_values(layer, grid[start:start + rows], 2), dtype=np.float64)
            if not np.all(np.isfinite(second)):
                raise QuantizationError(f"edge_derivative_values(layer {layer}) returned non-finite second "
                                        "derivatives on the domain; check the float model")
            peak = np.maximum(peak, np.abs(second).max(axis=0))
        return peak

    values = evaluate_edges(model, layer, grid)
    spacing = (hi - lo) / intervals                                   # (n_in,)
    second = (values[2:] - 2.0 * values[1:-1] + values[:-2]) / spacing[None, None, :] ** 2
    return np.abs(second).max(axis=0)


def segments_for_target(curvature, lo, hi, target_error, max_segments=MAX_SEGMENTS):
    """Return (S, met): the smallest S_i with (w_i / S_i)^2 / 8 * max_j C_ji < target_error.

    ``curvature`` is (n_out, n_in) max|phi''|. ``met`` is a bool array, False where even
    ``max_segments`` does not reach the target (S_i is then ``max_segments``).
    """
    worst = curvature.max(axis=0)                                     # over every edge leaving i
    width = hi - lo
    # h^2 / 8 * C < target  <=>  S > w * sqrt(C / (8 * target)).
    needed = np.floor(width * np.sqrt(worst / (8.0 * target_error))) + 1
    segments = np.clip(needed, 1, max_segments).astype(np.int64)
    met = interpolation_bounds(curvature, lo, hi, segments).max(axis=0) < target_error
    return segments, met


def interpolation_bounds(curvature, lo, hi, segments):
    """Return h_i^2 / 8 * max|phi_ji''| per edge, (n_out, n_in), in the edge's real units."""
    h = (hi - lo) / segments
    return h[None, :] ** 2 / 8.0 * curvature


def table_slopes(layer_q):
    """Return max_s |T_ji[s + 1] - T_ji[s]| per edge as (n_out, n_in) int64, in table steps per segment.

    A pruned edge of a sparse layer has no table and gets 0.
    """
    slopes = np.zeros((layer_q.n_out, layer_q.n_in), dtype=np.int64)
    for i in range(layer_q.n_in):
        nodes, samples = live_edge_samples(layer_q, i)
        slopes[nodes, i] = np.abs(np.diff(samples, axis=1)).max(axis=1, initial=0)
    return slopes


def layer_error_bounds(layer_q, curvature, coordinate_error):
    """Return a dict of per-edge and per-node error bounds (real units) of one quantized layer.

    ``coordinate_error`` is c_i, the worst error of each input's u coordinate in u steps,
    including the error carried in from earlier layers. Keys: ``interpolation``,
    ``table_rounding``, ``coordinate`` and ``edge_total`` (n_out, n_in), and ``node``
    (n_out,), the node's whole error bound including its rounded bias.
    """
    step = layer_q.table_scale
    interpolation = interpolation_bounds(curvature, layer_q.domain_lo, layer_q.domain_hi, layer_q.segments)
    # A pruned edge is dropped exactly, so it has no rounding error (its curvature and slope are 0 too).
    table_rounding = np.where(layer_q.live_mask(), 0.5 * step[:, None], 0.0)
    slope_per_u = table_slopes(layer_q) * step[:, None] / (1 << FRAC_BITS)
    coordinate = slope_per_u * coordinate_error[None, :]
    edge_total = interpolation + table_rounding + coordinate
    node = edge_total.sum(axis=1) + 0.5 * step / (1 << FRAC_BITS)
    return {"interpolation": interpolation, "table_rounding": table_rounding,
            "coordinate": coordinate, "edge_total": edge_total, "node": node}


def input_coordinate_error(design, upstream_error, target_step):
    """Return c_i in u steps: requantizer error plus carried error, after saturation to [0, U_i].

    A degenerate requantizer (M = 0) ignores its input, so only its own error counts.
    For a value inside the domain its exact u lies in [0, U_i + 1], and saturating
    to [0, U_i] moves the result at most max(error, 1) from it.
    """
    if design.degenerate:
        return design.coordinate_error
    return max(design.coordinate_error + upstream_error / target_step, 1.0)
