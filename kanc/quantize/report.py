"""Measured quantization errors next to the quantizer's computed bounds.

Two measurements:

- per edge, the table interpolant (integers of spec section 2.4, exact) against the
  float edge function on a dense grid of table coordinates u. This covers the
  interpolation and table-rounding errors, not the input-coordinate error.
- end to end, the integer model (run by the simulator) against the float model on
  given inputs: max abs error and RMSE of the outputs and, for classification, how
  often the predicted classes agree.

Results go into ``qmodel.metadata`` as plain JSON types; ``format_report`` prints them.
"""
import numpy as np

from kanc.errors import KancError
from kanc.quantize.error_bounds import evaluate_edges
from kanc.quantize.qmodel import FRAC_BITS, INT16_MAX, INT16_MIN, MAX_SEGMENTS

POINTS_PER_SEGMENT = 64
"""Grid points per segment for the per-edge measurement (a divisor of 2^F)."""

_MAX_BATCH_VALUES = 1 << 21


def table_interpolant(layer_q, u):
    """Return the real value of every edge's integer interpolant at coordinates ``u``.

    ``u`` is an int64 array (G, n_in) with column i in [0, U_i]. Returns (G, n_out, n_in)
    float64: e_ji * table_scale[j] / 2^F, with e_ji computed exactly in int64, and 0
    for a pruned edge of a sparse layer (spec section 2.7).
    """
    live = layer_q.live_mask()
    # Pruned edges read zero padding past the table.
    starts = np.where(live, layer_q.edge_starts(), len(layer_q.table))
    table = np.concatenate([layer_q.table.astype(np.int64), np.zeros(MAX_SEGMENTS + 1, dtype=np.int64)])
    segment = u >> FRAC_BITS
    fraction = u & ((1 << FRAC_BITS) - 1)
    index = starts[None, :, :] + segment[:, None, :]                 # (G, n_out, n_in)
    left = table[index]
    right = table[index + 1]
    edge_term = left * (1 << FRAC_BITS) + (right - left) * fraction[:, None, :]
    return edge_term * (layer_q.table_scale[None, :, None] / (1 << FRAC_BITS))


def coordinate_grid(layer_q, points_per_segment=POINTS_PER_SEGMENT):
    """Return (u, t): int64 u grid (G, n_in) with every 2^F / points_per_segment-th u plus U_i, and its real values."""
    stride = max(1, (1 << FRAC_BITS) // points_per_segment)
    u_max = layer_q.coordinate_max()
    count = int(u_max.max()) // stride + 2
    u = np.minimum(np.arange(count, dtype=np.int64)[:, None] * stride, u_max[None, :])
    u[-1] = u_max
    step_u = (layer_q.domain_hi - layer_q.domain_lo) / (layer_q.segments * (1 << FRAC_BITS))
    return u, layer_q.domain_lo[None, :] + u * step_u[None, :]


def measure_table_errors(qmodel, float_model, points_per_segment=POINTS_PER_SEGMENT):
    """Return, per layer, the (n_out, n_in) max |table interpolant - phi_ji| over a dense u grid (real units)."""
    measured = []
    for index, layer_q in enumerate(qmodel.layers):
        u, t = coordinate_grid(layer_q, points_per_segment)
        rows = max(1, _MAX_BATCH_VALUES // (layer_q.n_out * layer_q.n_in))
        worst = np.zeros((layer_q.n_out, layer_q.n_in))
        for start in range(0, len(u), rows):
            exact = evaluate_edges(float_model, index, t[start:start + rows])
            error = np.abs(table_interpolant(layer_q, u[start:start + rows]) - exact)
            worst = np.maximum(worst, error.max(axis=0))
        measured.append(worst)
    return measured


def simulator_forward(qmodel, x_q):
    """Run the Cython simulator and return its int16 outputs (N, n_outputs)."""
    try:
        from kanc.simulate import simulate
    except ImportError as exc:
        raise KancError(f"the simulator kanc.simulate.simulate cannot be imported ({exc}); build it with "
                        "'python setup.py build_ext --inplace' in the kanc source folder") from None
    return np.asarray(simulate(qmodel, x_q).outputs)


def in_domain_mask(qmodel, activations):
    """Return a bool array (N,): True where every layer input lies in its domain and every output in the int16 range.

    ``activations`` is the float model's ``layer_inputs(x)``. The error bounds hold on these rows.
    """
    inside = np.ones(len(activations[0]), dtype=bool)
    for layer_q, values in zip(qmodel.layers, activations[:-1]):
        inside &= np.all((values >= layer_q.domain_lo) & (values <= layer_q.domain_hi), axis=1)
    lowest = qmodel.output_offset + INT16_MIN * qmodel.output_scale
    highest = qmodel.output_offset + INT16_MAX * qmodel.output_scale
    inside &= np.all((activations[-1] >= lowest) & (activations[-1] <= highest), axis=1)
    return inside


def end_to_end_errors(qmodel, float_model, x, forward=None):
    """Compare the integer model with the float model on real inputs ``x`` (N, n_inputs).

    ``forward(qmodel, x_q)`` returns int16 outputs; the simulator by default. Returns a
    JSON-serialisable dict: sample counts, max abs error and RMSE over all rows and over
    rows inside the domains, per-output max abs error, the computed bound and, for
    classification, the fraction of rows whose predicted classes agree.
    """
    forward = simulator_forward if forward is None else forward
    x = np.asarray(x, dtype=np.float64)
    x_q = qmodel.quantize_inputs(x)
    y_q = np.asarray(forward(qmodel, x_q))
    if y_q.shape != (len(x), qmodel.n_outputs):
        raise KancError(f"integer forward pass returned shape {y_q.shape}, expected {(len(x), qmodel.n_outputs)}")
    activations = [np.asarray(a, dtype=np.float64) for a in float_model.layer_inputs(x)]
    y_float = activations[-1]
    error = np.abs(qmodel.dequantize_outputs(y_q) - y_float)
    inside = in_domain_mask(qmodel, activations)

    summary = {
        "samples": int(len(x)),
        "samples_in_domain": int(inside.sum()),
        "max_abs_error": float(error.max()),
        "rmse": float(np.sqrt(np.mean(error ** 2))),
        "max_abs_error_in_domain": float(error[inside].max()) if inside.any() else None,
        "max_abs_error_per_output": error.max(axis=0).tolist(),
        "max_abs_error_in_domain_per_output": error[inside].max(axis=0).tolist() if inside.any() else None,
        "error_bound_per_output": qmodel.metadata.get("quantizer", {}).get("output", {}).get("error_bound"),
    }
    if qmodel.task == "classification":
        # Predicted class: lowest index among the largest y_q (spec section 2.6).
        agree = np.argmax(y_q, axis=1) == np.argmax(y_float, axis=1)
        summary["class_agreement"] = float(agree.mean())
    return summary


def add_error_report(qmodel, float_model, x, label="evaluation", forward=None):
    """Measure end-to-end errors on ``x`` and store them as ``qmodel.metadata["error_report"][label]``."""
    summary = end_to_end_errors(qmodel, float_model, x, forward)
    qmodel.metadata.setdefault("error_report", {})[label] = summary
    return summary


def format_report(metadata):
    """Return the error bounds and measurements stored in a model's metadata as plain text lines."""
    quantizer = metadata.get("quantizer")
    if not quantizer:
        return "no quantizer metadata in this model"
    lines = ["layer  inputs  segments(min-max)  worst table bound  worst measured table error  |acc| bound"]
    for index, entry in enumerate(quantizer["layers"]):
        segments = entry["segments"]
        bound = np.asarray(entry["bound_interpolation"]) + np.asarray(entry["bound_table_rounding"])
        measured = entry.get("measured_table_error")
        measured_text = f"{np.max(measured):.4g}" if measured is not None else "-"
        lines.append(f"{index:5d}  {len(segments):6d}  {min(segments):7d}-{max(segments):<9d}  "
                     f"{bound.max():17.4g}  {measured_text:>26}  {max(entry['accumulator_bound']):11d}")
    lines.append(f"output error bound (inputs inside the domains): {quantizer['output_error_bound_max']:.4g}")
    for label, summary in metadata.get("error_report", {}).items():
        text = (f"{label}: {summary['samples']} samples ({summary['samples_in_domain']} inside the domains), "
                f"max abs error {summary['max_abs_error']:.4g} "
                f"({_format_optional(summary.get('max_abs_error_in_domain'))} inside the domains), "
                f"RMSE {summary['rmse']:.4g}")
        if "class_agreement" in summary:
            text += f", class agreement {100 * summary['class_agreement']:.2f}%"
        lines.append(text)
    return "\n".join(lines)


def _format_optional(value):
    return "no row" if value is None else f"{value:.4g}"
