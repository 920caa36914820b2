"""B-spline basis functions on per-input knot vectors, evaluated by the Cox–de Boor recursion.

Conventions used throughout kanc:

* A spline of degree ``k`` on one input has a knot vector ``t`` of length
  ``G + 2k + 1``: ``G`` grid intervals over ``[lo, hi]`` extended by ``k`` knots on
  each side. It has ``G + k`` basis functions; basis ``b`` is supported on
  ``[t[b], t[b + k + 1])``.
* Knots only need to be non-decreasing. Nothing here assumes a uniform grid, and
  repeated knots are allowed (a zero-length interval contributes nothing).
* Every basis function is evaluated on the whole knot span and is zero outside
  ``[t[0], t[-1])``. The span is half-open: at ``x == t[-1]`` every basis function
  is 0, as in pykan 0.2.8 (``B_batch`` in ``kan/spline.py``). Derivatives follow the
  same convention.
* A NaN input gives NaN for every basis function and derivative, so a missing
  value cannot pass silently as an out-of-range one.

Shapes: ``x`` is (N, n_in), ``knots`` is (n_in, M) with M = G + 2k + 1, and the
basis is (N, n_in, M - k - 1) = (N, n_in, G + k).
"""
import numpy as np


def uniform_knots(lo, hi, G, k, n_in):
    """Return (n_in, G + 2k + 1) knots: G equal intervals over [lo, hi], extended by k knots each side.

    ``lo`` and ``hi`` are scalars or (n_in,) arrays in the input's units; every
    ``lo`` must be below its ``hi``.
    """
    if int(G) != G or G < 1:
        raise ValueError(f"grid size G={G!r} must be a positive integer")
    if int(k) != k or k < 0:
        raise ValueError(f"spline degree k={k!r} must be a non-negative integer")
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (n_in,))
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (n_in,))
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("grid bounds lo and hi must be finite")
    if np.any(lo >= hi):
        i = int(np.flatnonzero(lo >= hi)[0])
        raise ValueError(f"grid of input {i} is empty: lo={lo[i]} is not below hi={hi[i]}")
    step = (hi - lo) / G
    offsets = np.arange(-k, G + k + 1, dtype=np.float64)
    return lo[:, None] + step[:, None] * offsets[None, :]


# The recursion below keeps the basis index on the first axis, (count, N, n_in), so
# that the shifted slices lower[:-1] and lower[1:] are contiguous blocks. Knots
# enter as knots_t = knots.T[:, None, :], shape (M, 1, n_in), which broadcasts
# against x[None], shape (1, N, n_in). The public functions transpose the result
# to (N, n_in, count) at the end.


def _ratio(numerator, width):
    """Return numerator / width, with 0 where width == 0 (the Cox–de Boor convention 0/0 = 0 for repeated knots)."""
    # Dividing by +inf instead of 0 gives the 0 without a masked division.
    safe_width = np.where(width > 0, width, np.inf)
    with np.errstate(over="ignore"):
        return numerator / safe_width


def _degree_zero(x, knots_t):
    """Return the (M - 1, N, n_in) indicator functions of the half-open knot intervals [t_b, t_{b+1})."""
    return ((x[None] >= knots_t[:-1]) & (x[None] < knots_t[1:])).astype(np.float64)


def _raise_degree(x, knots_t, lower, degree):
    """Apply one Cox–de Boor step: basis of degree ``degree - 1`` (``lower``) to degree ``degree``.

    B_{b,p}(x) = w_b(x) * B_{b,p-1}(x) + (1 - w_{b+1}(x)) * B_{b+1,p-1}(x),
    w_b(x) = (x - t_b) / (t_{b+p} - t_b).

    The second weight equals (t_{b+p+1} - x) / (t_{b+p+1} - t_{b+1}) of the usual
    form. Where a support is empty (repeated knots) the lower basis it multiplies
    is identically 0, so the 0/0 convention does not matter there. The weights
    are clipped to [0, 1], their range wherever the lower basis is non-zero, so a
    knot interval short enough to overflow the division (a subnormal width) gives
    a weight of 1 rather than inf * 0 = NaN.
    """
    count = lower.shape[0]
    start = knots_t[:count]
    weight = _ratio(x[None] - start, knots_t[degree:degree + count] - start)
    np.clip(weight, 0.0, 1.0, out=weight)
    return weight[:-1] * lower[:-1] + (1.0 - weight[1:]) * lower[1:]


def _differentiate(knots_t, lower, degree):
    """Turn basis values of degree ``degree - 1`` into first derivatives of the degree-``degree`` basis.

    d/dx B_{b,p}(x) = p * (B_{b,p-1}(x) / (t_{b+p} - t_b) - B_{b+1,p-1}(x) / (t_{b+p+1} - t_{b+1}))

    Applied repeatedly to derivative values, it yields higher derivatives, because
    the formula is linear in the lower-degree functions.
    """
    count = lower.shape[0]
    scaled = _ratio(lower, knots_t[degree:degree + count] - knots_t[:count])
    return degree * (scaled[:-1] - scaled[1:])


def _to_sample_major(values):
    """Reorder (count, N, n_in) recursion output to the public (N, n_in, count) layout, contiguous."""
    return np.ascontiguousarray(values.transpose(1, 2, 0))


def _propagate_nan(x, values):
    """Set every basis value of a NaN input to NaN (the interval tests alone would give 0 at degree 0)."""
    missing = np.isnan(x)
    if missing.any():
        values[missing] = np.nan
    return values


def _check_arguments(x, knots, k):
    x = np.asarray(x, dtype=np.float64)
    knots = np.asarray(knots, dtype=np.float64)
    if int(k) != k or k < 0:
        raise ValueError(f"spline degree k={k!r} must be a non-negative integer")
    k = int(k)
    if knots.ndim != 2 or knots.shape[1] < k + 2:
        raise ValueError(f"knots must have shape (n_in, M) with M >= k + 2 = {k + 2}, got {knots.shape}")
    if x.ndim != 2 or x.shape[1] != knots.shape[0]:
        raise ValueError(f"x must have shape (N, {knots.shape[0]}) to match the knots, got {x.shape}")
    return x, knots, k


def basis(x, knots, k):
    """Evaluate every degree-``k`` B-spline basis function of every input.

    Parameters
    ----------
    x : (N, n_in) array of input values, in the same units as the knots.
    knots : (n_in, M) non-decreasing knot vectors, one row per input.
    k : spline degree (3 for cubic splines).

    Returns
    -------
    (N, n_in, M - k - 1) float64 array. Values are zero outside [knots[i, 0], knots[i, -1]).
    """
    x, knots, k = _check_arguments(x, knots, k)
    knots_t = knots.T[:, None, :]
    values = _degree_zero(x, knots_t)
    for degree in range(1, k + 1):
        values = _raise_degree(x, knots_t, values, degree)
    return _propagate_nan(x, _to_sample_major(values))


def basis_derivative(x, knots, k, order=1):
    """Evaluate the ``order``-th derivative (with respect to x) of every degree-``k`` basis function.

    Same shapes and half-open span as :func:`basis`. ``order`` 0 returns the basis
    itself, and an order above ``k`` returns zeros. Where knots repeat, a derivative
    can jump at the knot, and the value returned there is the one from the right.
    """
    x, knots, k = _check_arguments(x, knots, k)
    if int(order) != order or order < 0:
        raise ValueError(f"derivative order={order!r} must be a non-negative integer")
    order = int(order)
    count = knots.shape[1] - k - 1
    if order > k:
        return _propagate_nan(x, np.zeros((x.shape[0], x.shape[1], count)))

    knots_t = knots.T[:, None, :]
    values = _degree_zero(x, knots_t)
    for degree in range(1, k - order + 1):
        values = _raise_degree(x, knots_t, values, degree)

    for degree in range(k - order + 1, k + 1):
        values = _differentiate(knots_t, values, degree)
    return _propagate_nan(x, _to_sample_major(values))


def basis_with_derivative(x, knots, k):
    """Return (basis, first derivative), both (N, n_in, M - k - 1), sharing the recursion up to degree k - 1.

    Same values as ``basis(x, knots, k)`` and ``basis_derivative(x, knots, k, 1)``
    at about 60% of their joint cost; backpropagation needs both.
    """
    x, knots, k = _check_arguments(x, knots, k)
    knots_t = knots.T[:, None, :]
    values = _degree_zero(x, knots_t)
    for degree in range(1, k):
        values = _raise_degree(x, knots_t, values, degree)
    if k == 0:
        slope = np.zeros_like(values)
    else:
        slope = _differentiate(knots_t, values, k)
        values = _raise_degree(x, knots_t, values, k)
    return _propagate_nan(x, _to_sample_major(values)), _propagate_nan(x, _to_sample_major(slope))


def basis_count(knots, k):
    """Return the number of basis functions per input, M - k - 1."""
    return np.asarray(knots).shape[-1] - int(k) - 1


__all__ = ["uniform_knots", "basis", "basis_derivative", "basis_with_derivative", "basis_count"]
