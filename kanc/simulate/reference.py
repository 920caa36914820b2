"""Slow, step-by-step numpy model of docs/fixed_point_spec.md, used only as a test oracle.

Every value is held in int64 so that nothing can wrap. After each step that the
spec says fits in int32, the oracle checks that it does. An AssertionError here
means the model breaks an invariant the spec relies on, not that a kernel is wrong. Names follow the spec: ``p, M, r, z`` for a requantizer, ``t, m, v, u``
for its steps, ``s, f`` for segment and fraction, ``e`` for an edge term and
``acc`` for a node accumulator.
"""
import numpy as np

from kanc.quantize.qmodel import FRAC_BITS, MAX_SEGMENTS

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def rshift_round(a, n):
    """Return round-half-up ``a / 2^n`` by the two-shift form of spec section 1.

    ``a`` is a Python int or an int64 array and ``n`` a non-negative int (or an int64
    array broadcasting against ``a``). numpy and Python ``>>`` on signed integers
    are arithmetic (floor) shifts, as the spec requires.
    """
    a = np.asarray(a, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    rounded = (a >> n) + ((a >> np.maximum(n - 1, 0)) & 1)
    return np.where(n == 0, a, rounded)


def saturate(v, lo, hi):
    """Return sat(v, lo, hi) = min(max(v, lo), hi) and a bool mask of the values that saturated."""
    v = np.asarray(v, dtype=np.int64)
    return np.clip(v, lo, hi), (v < lo) | (v > hi)


def _assert_int32(name, value):
    assert np.all((value >= INT32_MIN) & (value <= INT32_MAX)), f"{name} left int32: the model breaks an invariant"


def requantize(a, pre_shift, multiplier, shift, offset):
    """Run steps 1 to 4 of a requantizer (spec section 2.2) on int64 values ``a`` of shape (N, k).

    The parameter arrays have shape (k,). Return ``(v, pre_clamped)``: ``v`` the
    offset result of step 4, and ``pre_clamped`` a bool (N, k) mask of the values
    that the step-1 saturation to int16 changed.
    """
    p = np.asarray(pre_shift, dtype=np.int64)
    M = np.asarray(multiplier, dtype=np.int64)
    r = np.asarray(shift, dtype=np.int64)
    z = np.asarray(offset, dtype=np.int64)

    # Step 1: pre-shift with rounding, then saturate to int16.
    t, pre_clamped = saturate(rshift_round(a, p), INT16_MIN, INT16_MAX)

    # Step 2: the only multiply, 16 x 16 -> 32 bits.
    m = t * M
    _assert_int32("t * M", m)

    # Step 3: shift with rounding.
    m = rshift_round(m, r)

    # Step 4: add the offset.
    v = m + z
    _assert_int32("m + z", v)
    return v, pre_clamped


def layer_forward(layer, a):
    """Run one layer (spec sections 2.2 to 2.5, and 2.7 for a sparse layer) on int64 inputs ``a`` of shape (N, n_in).

    Return ``(acc, clamped)``: the int64 node accumulators (N, n_out), each within
    int32, and the bool (N, n_in) mask of clamped layer inputs.
    """
    req = layer.in_requant

    # 2.2: requantize every input to the table coordinate u in [0, U_i].
    v, pre_clamped = requantize(a, req.pre_shift, req.multiplier, req.shift, req.offset)
    u, post_clamped = saturate(v, 0, layer.coordinate_max())
    clamped = pre_clamped | post_clamped

    # 2.3: segment index and fraction, once per layer input.
    s = u >> FRAC_BITS
    f = u & ((1 << FRAC_BITS) - 1)

    # 2.5 and 2.7: sample index E(j, i) + s_i of the left end of the segment, shape (N, n_out, n_in).
    # A pruned edge (E = -1) is pointed at zero padding past the table, and its term is dropped below.
    live = layer.live_mask()
    starts = layer.edge_starts()
    table = np.concatenate([layer.table.astype(np.int64), np.zeros(MAX_SEGMENTS + 1, dtype=np.int64)])
    starts = np.where(live, starts, len(layer.table))
    left = starts[None, :, :] + s[:, None, :]
    t_left = table[left]
    t_right = table[left + 1]

    # 2.4: exact linear interpolation at F extra fraction bits, no rounding.
    e = t_left * (1 << FRAC_BITS) + (t_right - t_left) * f[:, None, :]
    e_other_form = t_left * ((1 << FRAC_BITS) - f[:, None, :]) + t_right * f[:, None, :]
    assert np.array_equal(e, e_other_form), "the two edge-term forms of the spec disagree"

    # 2.4 and 2.7: node accumulator, bias plus the sum of its live edge terms.
    e = np.where(live[None, :, :], e, 0)
    acc = layer.bias.astype(np.int64)[None, :] + e.sum(axis=2)
    _assert_int32("accumulator", acc)
    return acc, clamped


def reference_forward(qmodel, x_q):
    """Run the quantized model on int16 inputs ``x_q`` (N, n_inputs), exactly as the spec defines.

    Return ``(y_q, clamp_counts)`` with ``y_q`` int16 (N, n_outputs). ``clamp_counts``
    is a list of int64 arrays. Entry l < L has length n_in of layer l and counts the
    samples whose input i of that layer clamped. The last entry has length
    n_outputs and counts outputs whose step-1 or step-5 saturation changed the value.
    """
    x_q = np.asarray(x_q)
    if x_q.ndim != 2 or x_q.shape[1] != qmodel.n_inputs:
        raise ValueError(f"expected x_q of shape (N, {qmodel.n_inputs}), got {x_q.shape}")
    a = x_q.astype(np.int64)

    clamp_counts = []
    for layer in qmodel.layers:
        a, clamped = layer_forward(layer, a)
        clamp_counts.append(clamped.sum(axis=0).astype(np.int64))

    # 2.6: output requantizer, step 5 saturates to int16.
    req = qmodel.out_requant
    v, pre_clamped = requantize(a, req.pre_shift, req.multiplier, req.shift, req.offset)
    y_q, post_clamped = saturate(v, INT16_MIN, INT16_MAX)
    clamp_counts.append((pre_clamped | post_clamped).sum(axis=0).astype(np.int64))
    return y_q.astype(np.int16), clamp_counts
