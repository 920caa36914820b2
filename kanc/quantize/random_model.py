"""Random valid quantized models, for property tests and benchmarks.

The models obey every invariant of docs/fixed_point_spec.md section 4 but are
otherwise arbitrary: random tables that reach the int16 extremes, requantizers
that sometimes saturate, segment counts over the whole allowed range, and a mix
of dense and sparse layers (including nodes without live edges).
"""
import numpy as np

from kanc.quantize.qmodel import (
    FRAC_BITS, INT16_MAX, INT16_MIN, INT32_MAX, OFFSET_LIMIT, QuantizedLayer, QuantizedModel, Requantizer,
    accumulator_bounds,
)


def random_table(rng, length, extreme):
    """Return ``length`` int16 samples whose consecutive differences fit in int16.

    With ``extreme`` the walk takes full-range steps and sticks to the int16 limits;
    otherwise it is a gentle random walk like a trained edge function.
    """
    if extreme:
        steps = rng.integers(INT16_MIN, INT16_MAX + 1, size=length - 1)
        start = rng.choice([INT16_MIN, INT16_MAX, int(rng.integers(INT16_MIN, INT16_MAX + 1))])
    else:
        steps = rng.integers(-2000, 2001, size=length - 1)
        start = int(rng.integers(-12000, 12001))
    samples = np.empty(length, dtype=np.int64)
    samples[0] = start
    for s, step in enumerate(steps):
        # Clipping a step of at most 2^15 in size keeps the difference within int16.
        samples[s + 1] = min(max(samples[s] + step, INT16_MIN), INT16_MAX)
    return samples.astype(np.int16)


def random_requantizer(rng, count, first_layer, acc_bound=None):
    """Return a Requantizer of ``count`` entries.

    Most entries map the expected input range onto a useful output range; about one
    in five takes arbitrary legal values so that saturation paths are exercised.
    """
    pre_shift = np.zeros(count, dtype=np.int64)
    multiplier = rng.integers(0, INT16_MAX + 1, size=count)
    shift = np.zeros(count, dtype=np.int64)
    offset = np.zeros(count, dtype=np.int64)
    for k in range(count):
        wild = rng.random() < 0.2
        if not first_layer:
            if wild:
                pre_shift[k] = rng.integers(0, 32)
            else:
                bound = int(acc_bound[k]) if acc_bound is not None else 1 << 24
                pre_shift[k] = max(0, bound.bit_length() - 15 + int(rng.integers(-1, 2)))
        shift[k] = rng.integers(0, 32) if wild else rng.integers(10, 17)
        offset[k] = rng.integers(-OFFSET_LIMIT, OFFSET_LIMIT + 1) if wild else rng.integers(-40000, 40001)
    return Requantizer(pre_shift, multiplier, shift, offset)


def random_edge_mask(rng, n_out, n_in):
    """Return a random (n_out, n_in) bool edge mask with at least one pruned edge.

    Each edge survives with a probability drawn per layer from [0.3, 0.9]. When the
    layer has two or more nodes, one of them loses every edge (acc_j = B_j).
    """
    mask = rng.random((n_out, n_in)) < rng.uniform(0.3, 0.9)
    if n_out >= 2:
        mask[int(rng.integers(n_out))] = False
    if mask.all():
        mask[int(rng.integers(n_out)), int(rng.integers(n_in))] = False
    return mask


def random_quantized_model(rng, widths, min_segments=4, max_segments=256, extreme_fraction=0.3, name="rnd",
                           sparse_fraction=0.4):
    """Build a random valid QuantizedModel with the given widths [n_inputs, ..., n_outputs].

    Each layer is sparse (spec section 2.7, random ``edge_mask``) with probability
    ``sparse_fraction`` and dense otherwise; pass 0.0 for an all-dense model.
    """
    layers = []
    prev_bound = None
    for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        segments = rng.integers(min_segments, max_segments + 1, size=n_in)
        edge_mask = random_edge_mask(rng, n_out, n_in) if rng.random() < sparse_fraction else None
        live = np.ones((n_out, n_in), dtype=bool) if edge_mask is None else edge_mask
        parts = [random_table(rng, int(segments[i]) + 1, rng.random() < extreme_fraction)
                 for j in range(n_out) for i in range(n_in) if live[j, i]]
        table = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        layer = QuantizedLayer(
            segments=segments,
            in_requant=random_requantizer(rng, n_in, index == 0, prev_bound),
            domain_lo=np.full(n_in, -1.0), domain_hi=np.full(n_in, 1.0),
            table=table, bias=np.zeros(n_out, dtype=np.int32),
            table_scale=np.full(n_out, 1.0 / 4096),
            edge_mask=edge_mask,
        )
        # Spend what the accumulator invariant leaves on the bias, up to 2^24.
        room = INT32_MAX - accumulator_bounds(layer)
        limit = np.minimum(room, 1 << 24)
        layer.bias = np.array([rng.integers(-lim, lim + 1) for lim in limit], dtype=np.int32)
        prev_bound = accumulator_bounds(layer)
        layers.append(layer)
    model = QuantizedModel(
        name=name, task="regression",
        input_scale=np.full(widths[0], 1.0 / 16384), input_offset=np.zeros(widths[0]),
        layers=layers, out_requant=random_requantizer(rng, widths[-1], False, prev_bound),
        output_scale=np.full(widths[-1], 1.0 / 1024), output_offset=np.zeros(widths[-1]),
    )
    return model.validate()


def random_inputs(rng, count, n_inputs):
    """Return (count, n_inputs) int16 inputs mixing the int16 extremes, zero and uniform values."""
    x = rng.integers(INT16_MIN, INT16_MAX + 1, size=(count, n_inputs))
    special = np.array([INT16_MIN, INT16_MIN + 1, -1, 0, 1, INT16_MAX - 1, INT16_MAX])
    mask = rng.random(size=x.shape) < 0.15
    x[mask] = rng.choice(special, size=int(mask.sum()))
    return x.astype(np.int16)


__all__ = ["random_quantized_model", "random_inputs", "random_table", "random_requantizer", "random_edge_mask",
           "FRAC_BITS"]
