"""Post-training quantization of a float KAN into a QuantizedModel (docs/fixed_point_spec.md).

The quantizer talks to the float model only through kanc.model.protocol:
``layer_inputs`` for calibration, ``edge_values`` for table samples and curvature,
``node_bias`` for biases, and ``edge_mask(layer)`` where the model has it (an
(n_out, n_in) bool array or None; pruned edges become a sparse layer). The section "Quantizer: how formats are chosen and error
bounds" of docs/fixed_point_spec.md explains every choice made here.
"""
import math
import re

import numpy as np


from kanc.model.protocol import check_float_model, check_samples, checked_layer_inputs
from kanc.quantize import error_bounds
from kanc.quantize.qmodel import (
    FRAC_BITS, INT16_MAX, INT32_MAX, MAX_SEGMENTS, QuantizedLayer, QuantizedModel, Requantizer,
    accumulator_bounds,
)
from kanc.quantize.report import measure_table_errors
from kanc.quantize.requant_params import QuantizationError, design_requantizer, prove_requantizer_ranges

DEFAULT_SEGMENTS = 32
"""Segment count per layer input when neither ``segments`` nor ``target_error`` is given."""

CONSTANT_RANGE_RELATIVE = 1e-9
"""A calibration range below this fraction of max(|centre|, 1) counts as constant."""

_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")
_ACC_UNIT = 1 << FRAC_BITS


def quantize(float_model, calibration_x, name="model", segments=None, max_segments=MAX_SEGMENTS,
             target_error=None, margin=0.1, input_domains=None,
             curvature_intervals=error_bounds.CURVATURE_INTERVALS):
    """Quantize ``float_model`` into a validated QuantizedModel.

    Parameters
    ----------
    float_model : object implementing kanc.model.protocol
    calibration_x : array (N, n_inputs)
        Real inputs in the user's units; they set every domain and the output format.
    name : str
        C identifier of the model.
    segments : int or list, optional
        Fixed segment count: one int for every layer input, or one entry per layer
        (an int or a sequence of n_in ints). Excludes ``target_error``. Without
        either option every input gets DEFAULT_SEGMENTS (32).
    max_segments : int
        Upper limit of S_i for ``target_error`` (1..256).
    target_error : float, optional
        Pick the smallest S_i whose interpolation bound h^2 / 8 * max|phi''| is below
        this value (real units of the node outputs) on every edge leaving input i.
    margin : float
        Each domain is the calibrated range widened by ``margin`` times its width on each side.
    input_domains : array (n_inputs, 2), optional
        [lo, hi] of each model input, used as given in place of the calibrated layer-0 domain.
    curvature_intervals : int
        Sample intervals per domain for the max|phi''| estimate.

    Returns
    -------
    QuantizedModel, validated. ``metadata["quantizer"]`` contains the domains,
    curvature estimates, accumulator and requantizer range proofs, per-edge error
    bounds and measured table errors, and ``output_error_bound_max``.
    """
    check_float_model(float_model)
    widths = [int(w) for w in float_model.widths]
    n_layers = len(widths) - 1
    if n_layers < 1:
        raise QuantizationError(f"float model widths {widths} describe no layer; need at least [n_in, n_out]")

    _check_name(name)
    x = check_samples(calibration_x, widths[0], "calibration data", 1, "quantizing")
    margin = _check_margin(margin)
    max_segments = _check_segment_count("max_segments", max_segments)
    if segments is not None and target_error is not None:
        raise QuantizationError("give either segments or target_error, not both")
    if target_error is not None:
        target_error = float(target_error)
        if not (math.isfinite(target_error) and target_error > 0):
            raise QuantizationError(f"target_error={target_error!r} must be a positive finite number "
                                    "(real units of the node outputs)")
    fixed_segments = _expand_segments(DEFAULT_SEGMENTS if segments is None and target_error is None
                                      else segments, widths)
    activations = checked_layer_inputs(float_model, x, widths, QuantizationError)

    # Step 1: domains of every layer input, and the output format.
    domains = [calibrated_domain(activations[layer], margin) for layer in range(n_layers)]
    if input_domains is not None:
        domains[0] = _check_input_domains(input_domains, widths[0])
    output_lo, output_hi = calibrated_domain(activations[n_layers], 0.0)
    if float_model.task == "classification":
        # The predicted class is the argmax of y_q, so all logits share one format.
        output_lo = np.full(widths[-1], output_lo.min())
        output_hi = np.full(widths[-1], output_hi.max())
    output_offset = 0.5 * (output_lo + output_hi)
    output_scale = (output_hi - output_lo) / (1 << 15)

    # Step 2: curvature estimates and segment counts.
    curvatures, layer_segments, target_met = [], [], []
    for layer in range(n_layers):
        lo, hi = domains[layer]
        curvature = error_bounds.estimate_max_curvature(float_model, layer, lo, hi, curvature_intervals)
        curvatures.append(curvature)
        if target_error is None:
            layer_segments.append(fixed_segments[layer])
            target_met.append(None)
        else:
            chosen, met = error_bounds.segments_for_target(curvature, lo, hi, target_error, max_segments)
            layer_segments.append(chosen)
            target_met.append(met)

    # Step 3: model input format; [lo, hi] maps to about [-16384, 16384].
    lo0, hi0 = domains[0]
    input_offset = 0.5 * (lo0 + hi0)
    input_scale = (hi0 - lo0) / (1 << 15)

    # Step 4: tables, table scales and biases, one layer at a time. Each node's
    # accumulator counts from acc_offset, the centre of the range it feeds (see
    # node_offsets). A node's table scale must also let the next requantizer's
    # pre-shift reach its whole range, measured from that offset.
    layers = []
    for layer in range(n_layers):
        if layer + 1 < n_layers:
            acc_offset = node_offsets(*domains[layer + 1])
            reach = np.maximum(np.abs(domains[layer + 1][0] - acc_offset),
                               np.abs(domains[layer + 1][1] - acc_offset))
        else:
            acc_offset = output_offset.copy()
            reach = np.abs(output_offset - acc_offset) + output_scale * (1 << 15)
        layers.append(build_layer_tables(float_model, layer, domains[layer], layer_segments[layer], reach,
                                         edge_mask=float_edge_mask(float_model, layer, widths),
                                         acc_offset=acc_offset))

    # Step 5: requantizers into each layer input and into the outputs.
    designs = []
    for layer in range(n_layers):
        lo, hi = domains[layer]
        step_u = (hi - lo) / (layer_segments[layer] * _ACC_UNIT)
        if layer == 0:
            # Layer 0 receives x_q, whose real value is x_q * input_scale + input_offset.
            row = [design_requantizer(input_scale[i], lo[i] - input_offset[i], hi[i] - input_offset[i],
                                      lo[i] - input_offset[i], step_u[i], pre_shift=0, input_rounding=0.5)
                   for i in range(widths[0])]
        else:
            value_scale = layers[layer - 1].table_scale / _ACC_UNIT
            value_offset = layers[layer - 1].acc_offset
            row = [design_requantizer(value_scale[i], lo[i], hi[i], lo[i], step_u[i], value_offset=value_offset[i])
                   for i in range(widths[layer])]
        designs.append(row)
        layers[layer].in_requant = _requantizer_arrays(row)

    value_scale = layers[-1].table_scale / _ACC_UNIT
    value_offset = layers[-1].acc_offset
    out_designs = [design_requantizer(value_scale[j], output_lo[j], output_hi[j], output_offset[j],
                                      output_scale[j],
                                      fit_lo=output_offset[j] - output_scale[j] * (1 << 15),
                                      fit_hi=output_offset[j] + output_scale[j] * INT16_MAX,
                                      value_offset=value_offset[j])
                   for j in range(widths[-1])]

    model = QuantizedModel(
        name=name, task=float_model.task, input_scale=input_scale, input_offset=input_offset,
        layers=layers, out_requant=_requantizer_arrays(out_designs),
        output_scale=output_scale, output_offset=output_offset,
    )
    model.validate(source=f"quantized model {name!r}")

    # Step 6: proofs and error bounds into the metadata.
    model.metadata["quantizer"] = _describe(model, designs, out_designs, curvatures, target_error,
                                            target_met, margin, len(x), output_lo, output_hi)
    measured = measure_table_errors(model, float_model)
    for entry, errors in zip(model.metadata["quantizer"]["layers"], measured):
        entry["measured_table_error"] = errors.tolist()
    return model


# ---------------------------------------------------------------------- domains

def calibrated_domain(values, margin):
    """Return (lo, hi) per column of ``values`` (N, n), widened by ``margin`` times the range each side.

    A column whose range is below CONSTANT_RANGE_RELATIVE * max(|centre|, 1) is given the
    range centre +- max(|centre|, 1) / 2 before widening, so that lo < hi always holds.
    """
    lo = values.min(axis=0)
    hi = values.max(axis=0)
    centre = 0.5 * (lo + hi)
    magnitude = np.maximum(np.abs(centre), 1.0)
    constant = (hi - lo) <= CONSTANT_RANGE_RELATIVE * magnitude
    lo = np.where(constant, centre - 0.5 * magnitude, lo)
    hi = np.where(constant, centre + 0.5 * magnitude, hi)
    width = hi - lo
    return lo - margin * width, hi + margin * width


# ---------------------------------------------------------------------- tables

def node_offsets(lo, hi):
    """Return acc_offset for nodes whose outputs feed layer inputs with domains [lo, hi]: the domain centres.

    Measuring the accumulator from the centre keeps the pre-shift of the next
    requantizer as small as the domain width allows, wherever the domain lies, and
    makes its offset z exactly S_i * 2^F / 2. The offset is a float64 real value and
    need not be a whole number of accumulator steps, because the bias is rounded
    after subtracting it and that rounding is the same 0.5-step error either way.
    The last layer uses output_offset instead, which is one common value for all
    logits of a classifier, so the argmax is unchanged.
    """
    return 0.5 * (lo + hi)


def float_edge_mask(float_model, layer, widths):
    """Return the float model's (n_out, n_in) bool edge mask of ``layer``, or None for a dense layer.

    The mask comes from the optional protocol member ``edge_mask(layer)``. A mask
    with every edge live is returned as None, so the layer stays dense.
    """
    if not hasattr(float_model, "edge_mask"):
        return None
    mask = float_model.edge_mask(layer)
    if mask is None:
        return None
    mask = np.asarray(mask)
    shape = (widths[layer + 1], widths[layer])
    if mask.dtype != np.bool_ or mask.shape != shape:
        raise QuantizationError(f"edge_mask({layer}) must be a bool array of shape {shape} (n_out, n_in) or None, "
                                f"got {mask.dtype} shape {mask.shape}")
    return None if mask.all() else mask.copy()


def build_layer_tables(float_model, layer, domain, segments, reach, edge_mask=None, acc_offset=None):
    """Sample every live edge of ``layer`` at its segment ends and quantize the samples and biases.

    ``acc_offset`` (n_out,), real units, zeros by default) is subtracted from each
    bias before it is rounded to B_j, so node j stands for
    acc_j * table_scale[j] / 2^F + acc_offset[j]. ``reach`` (n_out,) is the largest
    |real value - acc_offset| that the next requantizer's pre-shift must represent for each node. ``edge_mask`` (n_out, n_in) bool or None makes the
    layer sparse (spec section 2.7): pruned edges get no samples and play no part in
    the table scale. They must be exactly zero in the float model. Returns a
    QuantizedLayer without input requantizer.
    """
    lo, hi = domain
    n_in = len(lo)
    knots = knot_grid(lo, hi, segments)
    values = error_bounds.evaluate_edges(float_model, layer, knots)     # (S_max + 1, n_out, n_in)
    samples = [values[:int(segments[i]) + 1, :, i].T for i in range(n_in)]   # (n_out, S_i + 1) each
    bias = np.asarray(float_model.node_bias(layer), dtype=np.float64)
    n_out = values.shape[1]
    if bias.shape != (n_out,) or not np.all(np.isfinite(bias)):
        raise QuantizationError(f"node_bias({layer}) must be {n_out} finite values, got {bias!r}")
    acc_offset = np.zeros(n_out) if acc_offset is None else np.asarray(acc_offset, dtype=np.float64)

    # The accumulator carries the bias relative to acc_offset, which the next
    # requantizer (or output_offset) adds back in real units.
    bias = bias - acc_offset
    live = np.ones((n_out, n_in), dtype=bool) if edge_mask is None else edge_mask
    _check_pruned_edges_zero(samples, live, layer)

    table_scale = np.empty(n_out)
    bias_q = np.empty(n_out, dtype=np.int64)
    rows = []
    for j in range(n_out):
        edge_samples = [samples[i][j] for i in range(n_in) if live[j, i]]
        table_scale[j], row, bias_q[j] = quantize_node(edge_samples, bias[j], reach[j], layer, j)
        rows.append(row)

    quantized = QuantizedLayer(
        segments=np.asarray(segments, dtype=np.int64),
        in_requant=None,
        domain_lo=lo.astype(np.float64), domain_hi=hi.astype(np.float64),
        table=np.concatenate(rows).astype(np.int16),
        bias=bias_q.astype(np.int32),
        table_scale=table_scale,
        edge_mask=edge_mask,
        acc_offset=acc_offset.copy(),
    )
    bound = accumulator_bounds(quantized)
    if np.any(bound > INT32_MAX):                                  # quantize_node guarantees this
        raise AssertionError(f"layer {layer}: accumulator bound {bound.max()} exceeds 2^31 - 1")
    return quantized


def _check_pruned_edges_zero(samples, live, layer):
    """Raise QuantizationError when a pruned edge is not exactly zero at its knots.

    The integer model drops a pruned edge entirely, which is exact only for a zero function.
    """
    for i, edge_values in enumerate(samples):
        dead = np.flatnonzero(~live[:, i])
        if dead.size == 0:
            continue
        peaks = np.abs(edge_values[dead]).max(axis=1)
        if np.any(peaks != 0):
            j = int(dead[np.flatnonzero(peaks != 0)[0]])
            raise QuantizationError(f"layer {layer}: edge (node {j}, input {i}) is pruned in edge_mask but its "
                                    f"function reaches {peaks.max():.6g}; zero the pruned edges in the float "
                                    "model (FloatKAN.apply_edge_mask) before quantizing")


def knot_grid(lo, hi, segments):
    """Return the segment ends of each input as columns of a (max S + 1, n_in) array.

    Column i contains lo_i + s * (hi_i - lo_i) / S_i for s = 0..S_i, then repeats hi_i.
    """
    count = np.arange(int(np.max(segments)) + 1)[:, None]
    fraction = np.minimum(count / segments[None, :], 1.0)
    return lo[None, :] + (hi - lo)[None, :] * fraction


def quantize_node(edge_samples, bias, reach, layer, node):
    """Choose node j's table scale and return (table_scale, int64 samples of its row, B_j).

    ``bias`` is the real bias minus the node's acc_offset, the part that B_j carries.

    The scale is the smallest that satisfies all of: |T| <= 32767; every slope
    |T[s+1] - T[s]| <= 32767 (each rounding moves a difference by at most 1);
    |B_j| + sum_i 2^F * max|T_ji| <= 2^31 - 1 (each rounding adds at most 0.5 to a
    |T| and to |B_j|); and reach * 2^F / scale <= 32766 * 2^31 so a pre-shift of at
    most 31 brings the node's range into int16. The checks are repeated on the
    integers, growing the scale by 2^-20 relative per retry, to absorb float rounding.
    """
    # A node of a sparse layer may have no live edge at all: then only the bias and reach count.
    peaks = np.array([np.abs(s).max() for s in edge_samples])
    jump = max((np.abs(np.diff(s)).max(initial=0.0) for s in edge_samples), default=0.0)
    n_in = len(edge_samples)
    candidates = [
        peaks.max(initial=0.0) / INT16_MAX,
        jump / (INT16_MAX - 1),
        _ACC_UNIT * (peaks.sum() + abs(bias)) / (INT32_MAX - 1 - (_ACC_UNIT // 2) * n_in),
        reach * _ACC_UNIT / ((INT16_MAX - 1) * 2.0 ** 31),
    ]
    scale = max(candidates)
    if scale == 0.0:
        # Every edge and the bias are zero, and the node's range is only the constant-column guard.
        scale = max(reach, 1.0) * _ACC_UNIT / 2.0 ** 30
    if not math.isfinite(scale):
        raise QuantizationError(f"layer {layer}, node {node}: edge values are too large to scale "
                                f"(largest sample {peaks.max(initial=0.0):.6g}, bias minus acc_offset {bias:.6g})")

    for _ in range(16):
        # Round half up, like every rounding in the integer path.
        rows = [np.floor(s / scale + 0.5).astype(np.int64) for s in edge_samples]
        bias_q = math.floor(bias * _ACC_UNIT / scale + 0.5)
        peak_q = sum(int(np.abs(r).max()) for r in rows)
        slope_q = max((int(np.abs(np.diff(r)).max(initial=0)) for r in rows), default=0)
        fits = (max((int(np.abs(r).max()) for r in rows), default=0) <= INT16_MAX
                and slope_q <= INT16_MAX
                and abs(bias_q) + _ACC_UNIT * peak_q <= INT32_MAX)
        if fits:
            row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
            return scale, row, bias_q
        scale *= 1.0 + 2.0 ** -20
    raise AssertionError(f"layer {layer}, node {node}: no table scale near {scale!r} satisfies the invariants")


# ---------------------------------------------------------------------- metadata

def _requantizer_arrays(designs):
    fields = list(zip(*(d.as_tuple() for d in designs)))
    return Requantizer(*(np.asarray(values, dtype=np.int64) for values in fields))


def _describe(model, designs, out_designs, curvatures, target_error, target_met, margin, n_samples,
              output_lo, output_hi):
    """Prove the integer ranges, compute the error bounds and return them as a JSON-serialisable dict."""
    layers = []
    carried = None                                   # node error bounds of the previous layer, real units
    for index, (layer, row) in enumerate(zip(model.layers, designs)):
        step_u = (layer.domain_hi - layer.domain_lo) / (layer.segments * _ACC_UNIT)
        upstream = np.zeros(layer.n_in) if carried is None else carried
        coordinate_error = np.array([error_bounds.input_coordinate_error(d, upstream[i], step_u[i])
                                     for i, d in enumerate(row)])
        bounds = error_bounds.layer_error_bounds(layer, curvatures[index], coordinate_error)
        proofs = [prove_requantizer_ranges(d) for d in row]
        acc_bound = accumulator_bounds(layer)
        assert np.all(acc_bound <= INT32_MAX)
        layers.append({
            "segments": layer.segments.tolist(),
            "domain_lo": layer.domain_lo.tolist(),
            "domain_hi": layer.domain_hi.tolist(),
            "target_met": None if target_met[index] is None else target_met[index].tolist(),
            "max_curvature": curvatures[index].tolist(),
            "requantizer_degenerate": [d.degenerate for d in row],
            "requantizer_error_u": [d.coordinate_error for d in row],
            "requantizer_max_abs_sum": [p["max_abs_sum"] for p in proofs],
            "coordinate_error_u": coordinate_error.tolist(),
            "accumulator_bound": acc_bound.tolist(),
            "acc_offset": layer.acc_offset.tolist(),
            "bound_interpolation": bounds["interpolation"].tolist(),
            "bound_table_rounding": bounds["table_rounding"].tolist(),
            "bound_coordinate": bounds["coordinate"].tolist(),
            "bound_edge": bounds["edge_total"].tolist(),
            "bound_node": bounds["node"].tolist(),
        })
        carried = bounds["node"]

    out_proofs = [prove_requantizer_ranges(d) for d in out_designs]
    output_bound = np.array([carried[j] + d.coordinate_error * model.output_scale[j]
                             for j, d in enumerate(out_designs)])
    return {
        "calibration_samples": int(n_samples),
        "margin": margin,
        "target_error": target_error,
        "layers": layers,
        "output": {
            "calibrated_lo": output_lo.tolist(),
            "calibrated_hi": output_hi.tolist(),
            "requantizer_degenerate": [d.degenerate for d in out_designs],
            "requantizer_error_steps": [d.coordinate_error for d in out_designs],
            "requantizer_max_abs_sum": [p["max_abs_sum"] for p in out_proofs],
            "error_bound": output_bound.tolist(),
        },
        "accumulator_bound_max": max(max(entry["accumulator_bound"]) for entry in layers),
        "output_error_bound_max": float(output_bound.max()),
    }


# ---------------------------------------------------------------------- argument checks

def _check_name(name):
    if not isinstance(name, str) or not _C_IDENTIFIER.match(name):
        raise QuantizationError(f"name {name!r} is not a C identifier of at most 40 characters "
                                "(letters, digits, '_', not starting with a digit)")



def _check_margin(margin):
    try:
        margin = float(margin)
    except (TypeError, ValueError):
        raise QuantizationError(f"margin={margin!r} must be a number (fraction of the calibrated range)") from None
    if not (math.isfinite(margin) and margin >= 0):
        raise QuantizationError(f"margin={margin!r} must be a finite number >= 0 (fraction of the calibrated range)")
    return margin


def _check_segment_count(label, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise QuantizationError(f"{label}={value!r} must be an integer in [1, {MAX_SEGMENTS}]")
    if not 1 <= value <= MAX_SEGMENTS:
        raise QuantizationError(f"{label}={value} is outside [1, {MAX_SEGMENTS}]; "
                                f"a layer input has at most {MAX_SEGMENTS} segments")
    return int(value)


def _expand_segments(segments, widths):
    """Return one int64 array of S_i per layer, or None when segments is None."""
    if segments is None:
        return None
    n_layers = len(widths) - 1
    if isinstance(segments, (int, np.integer)) and not isinstance(segments, (bool, np.bool_)):
        count = _check_segment_count("segments", segments)
        return [np.full(widths[layer], count, dtype=np.int64) for layer in range(n_layers)]
    if not isinstance(segments, (list, tuple)) or len(segments) != n_layers:
        raise QuantizationError(f"segments must be an int or a list of {n_layers} entries (one per layer), "
                                f"got {segments!r}")
    expanded = []
    for layer, entry in enumerate(segments):
        if isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_)):
            entry = [entry] * widths[layer]
        entry = list(entry)
        if len(entry) != widths[layer]:
            raise QuantizationError(f"segments for layer {layer} has {len(entry)} entries; "
                                    f"the layer has {widths[layer]} inputs")
        expanded.append(np.array([_check_segment_count(f"segments[{layer}]", s) for s in entry], dtype=np.int64))
    return expanded


def _check_input_domains(input_domains, n_inputs):
    try:
        domains = np.asarray(input_domains, dtype=np.float64)
    except (TypeError, ValueError):
        raise QuantizationError(f"input_domains must be numeric (n_inputs, 2) [lo, hi] pairs, got {input_domains!r}") from None
    if domains.shape != (n_inputs, 2):
        raise QuantizationError(f"input_domains must have shape ({n_inputs}, 2), got {domains.shape}")
    if not np.all(np.isfinite(domains)):
        raise QuantizationError("input_domains contains NaN or infinite values")
    bad = np.flatnonzero(domains[:, 0] >= domains[:, 1])
    if bad.size:
        i = int(bad[0])
        raise QuantizationError(f"input_domains[{i}] = [{domains[i, 0]}, {domains[i, 1]}] is empty; need lo < hi")
    return domains[:, 0].copy(), domains[:, 1].copy()
