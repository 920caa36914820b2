"""Grid update from samples and grid refinement of a FloatKAN, keeping each learned edge function.

Both operations move the knots of a layer and then refit the spline coefficients
by least squares, so that the new spline matches the old one where it matters.
The base terms (w_lin * t, w_silu * silu(t)) and the biases do not depend on the
knots and stay unchanged, so only the spline part is refitted.

Grid update (pykan's ``update_grid_from_samples``, pykan 0.2.x ``KANLayer``): the
G + 1 grid points of each input are a blend of the data's quantiles and a uniform
grid over the data's range,

    points = grid_eps * uniform + (1 - grid_eps) * quantiles,

extended by k knots on each side at the spacing (points[-1] - points[0]) / G.
grid_eps = 1 gives a uniform grid, grid_eps = 0 a purely adaptive one (repeated
knots where the data has repeated values). pykan's default is 0.02.

Grid refinement (pykan's ``refine``): G -> G' intervals over the same range, with
the new points interpolated between the old ones, so a uniform grid stays uniform
and an adaptive grid keeps its density. When G' is a multiple of G the new knots
contain the old interior knots, the old spline lies in the new spline space, and
the refit reproduces it to round-off on [points[0], points[-1]].

All knots and samples are in the layers' internal units (standardised features
for layer 0).
"""
import numpy as np

from kanc.errors import DataError
from kanc.model.bspline import basis

DEFAULT_GRID_EPS = 0.02
"""pykan 0.2.x's default blend weight of the uniform grid."""

DENSE_WEIGHT = 1e-3
"""Total least-squares weight of the dense anchor samples, as a fraction of the data samples' weight.

The anchors pin the spline coefficients that the data does not reach (a basis
function whose support contains no sample) to the old function, at a cost of about
this fraction of the fit on the data.
"""

DENSE_SAMPLES_PER_INTERVAL = 8
"""Anchor samples per knot interval; 2k + 2 = 8 samples pin a cubic piece with room to spare."""

CONSTANT_HALF_WIDTH = 1.0
"""Half-width, in internal units, of the grid given to an input that is constant on the data."""


def blended_grid_points(samples, grid, grid_eps=DEFAULT_GRID_EPS, margin=0.0):
    """Return the (grid + 1,) grid points of one input from its ``samples`` (N,).

    The adaptive points are the sorted samples at indices int(N / G * m) for
    m = 0 .. G - 1, plus the maximum (pykan's choice). The uniform points cover
    [min, max] with G equal intervals. The blend is ``grid_eps * uniform +
    (1 - grid_eps) * adaptive``. Then the first and last points move outwards by
    ``margin`` times the range, so data a little beyond the sampled range still
    falls on the spline. An input with a (numerically) constant value v gets the
    uniform points over [v - 1, v + 1].
    """
    samples = np.sort(np.asarray(samples, dtype=np.float64))
    lo, hi = samples[0], samples[-1]
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(hi)):
        return np.linspace(lo - CONSTANT_HALF_WIDTH, hi + CONSTANT_HALF_WIDTH, grid + 1)

    n = len(samples)
    indices = [int(n / grid * m) for m in range(grid)] + [n - 1]
    adaptive = samples[indices]
    uniform = np.linspace(lo, hi, grid + 1)
    points = grid_eps * uniform + (1.0 - grid_eps) * adaptive

    # Rounding in the blend can break monotonicity by one ulp, and knots must not decrease.
    points = np.maximum.accumulate(points)
    points[0] -= margin * span
    points[-1] += margin * span
    return points


def extend_points(points, k):
    """Return knots (n_in, G + 2k + 1): grid points (n_in, G + 1) plus k knots each side at spacing span / G."""
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    grid = points.shape[1] - 1
    step = (points[:, -1] - points[:, 0]) / grid
    offsets = np.arange(1, k + 1, dtype=np.float64)
    below = points[:, :1] - step[:, None] * offsets[::-1][None, :]
    above = points[:, -1:] + step[:, None] * offsets[None, :]
    return np.concatenate([below, points, above], axis=1)


def grid_points(knots, k):
    """Return the (n_in, G + 1) interior grid points of ``knots``: the knots without the k extension knots each side."""
    return knots[:, k:knots.shape[1] - k]


def refit_spline(old_knots, old_coef, new_knots, k, samples=None, dense_weight=DENSE_WEIGHT, span_anchors=False):
    """Return coefficients (n_out, n_in, new n_basis) of the spline on ``new_knots`` closest to the old spline.

    For each input i, the new coefficients minimise the weighted squared
    difference between sum_b c_b B_b(t) on the new and the old knots, over

    * ``samples[:, i]`` (the data, weight 1 each), when ``samples`` (N, n_in) is given, and
    * DENSE_SAMPLES_PER_INTERVAL evenly spaced anchors per new interval, over the
      new grid points or, with ``span_anchors``, over the whole new knot span,
      with total weight ``dense_weight * N`` (weight 1 each when there are no
      data samples).

    All edges of one input share one basis, so each input is one least-squares
    problem with n_out right-hand sides. ``numpy.linalg.lstsq`` returns the
    minimum-norm solution, so a basis function that is zero on every sample (knot
    multiplicity above k + 1) gets coefficient 0 rather than an arbitrary value.
    """
    n_out, n_in, _ = old_coef.shape
    new_coef = np.empty((n_out, n_in, new_knots.shape[1] - k - 1))
    points = new_knots if span_anchors else grid_points(new_knots, k)
    intervals = points.shape[1] - 1

    for i in range(n_in):
        # The last knot itself is left out: every basis function is 0 there (half-open span).
        anchors = np.linspace(points[i, 0], points[i, -1], intervals * DENSE_SAMPLES_PER_INTERVAL + 1)
        if span_anchors:
            anchors = anchors[:-1]
        if samples is None:
            t = anchors
            weights = np.ones_like(anchors)
        else:
            data = samples[:, i]
            t = np.concatenate([data, anchors])
            anchor_weight = dense_weight * len(data) / len(anchors)
            weights = np.concatenate([np.ones_like(data), np.full_like(anchors, anchor_weight)])

        old_basis = basis(t[:, None], old_knots[i:i + 1], k)[:, 0, :]
        new_basis = basis(t[:, None], new_knots[i:i + 1], k)[:, 0, :]
        targets = old_basis @ old_coef[:, i, :].T                     # (samples, n_out)

        root_weights = np.sqrt(weights)[:, None]
        solution, *_ = np.linalg.lstsq(new_basis * root_weights, targets * root_weights, rcond=None)
        new_coef[:, i, :] = solution.T
    return new_coef


def update_layer_grid(layer, t, grid_eps=DEFAULT_GRID_EPS, margin=0.0, dense_weight=DENSE_WEIGHT):
    """Move ``layer``'s knots to the blended grid of its inputs ``t`` (N, n_in) and refit its splines, in place.

    The grid size G and degree k stay the same, so ``coef`` keeps its shape and
    is overwritten in place (optimisers that hold a reference to it keep working).
    Pruned edges stay exactly zero.
    """
    # NOTE: where inputs have drifted past the old grid points, the old spline there has
    # breakpoints the new knots lack, so the refit can move an edge by several percent of
    # its range (0.10 on a range of 1.24 for one hidden edge of a trained [2, 5, 1] model).
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != layer.n_in or len(t) < 1:
        raise DataError(f"grid update samples must have shape (N >= 1, {layer.n_in}), got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise DataError("grid update samples contain NaN or infinite values; the model may have diverged")
    if not 0.0 <= grid_eps <= 1.0:
        raise DataError(f"grid_eps={grid_eps!r} must be in [0, 1]: 1 is a uniform grid, 0 follows the quantiles")

    grid = layer.knots.shape[1] - 2 * layer.k - 1
    points = np.stack([blended_grid_points(t[:, i], grid, grid_eps, margin) for i in range(layer.n_in)])
    new_knots = extend_points(points, layer.k)

    layer.coef[...] = refit_spline(layer.knots, layer.coef, new_knots, layer.k, t, dense_weight)
    layer.knots = new_knots
    layer.apply_edge_mask()
    return layer


def update_grid_from_samples(model, z, grid_eps=DEFAULT_GRID_EPS, margin=0.0, dense_weight=DENSE_WEIGHT):
    """Update every layer's grid from the data ``z`` (N, n_inputs, standardised features), in place.

    Layer by layer, as pykan does: layer l's inputs are computed with layers
    0 .. l-1 already updated. Returns ``model``.
    """
    h = np.asarray(z, dtype=np.float64)
    for layer in model.layers:
        update_layer_grid(layer, h, grid_eps, margin, dense_weight)
        h = layer.forward(h)
    return model


def refine_grid(model, grid, z=None, grid_eps=DEFAULT_GRID_EPS, margin=0.0, dense_weight=DENSE_WEIGHT):
    """Return a copy of ``model`` with ``grid`` intervals per spline, fitted to keep each edge function.

    Without data (``z`` None) the knot span stays the same: the k extension knots
    on each side are kept, and the new interior points are interpolated linearly
    between the old ones in grid-index space. The coefficients are fitted by least
    squares on DENSE_SAMPLES_PER_INTERVAL evenly spaced samples per new interval
    over the whole knot span. When ``grid`` is a multiple of the old G, the new
    knots contain the old ones, so the fit reproduces the old spline everywhere
    (to round-off).

    With data ``z`` (N, n_inputs, standardised features) it works like pykan's
    ``refine``: each layer gets the blended grid of :func:`blended_grid_points` of
    its inputs on ``z``, at the new size, and the spline is fitted on those inputs
    plus anchors, as in :func:`update_layer_grid`.
    """
    if int(grid) != grid or grid < 1:
        raise DataError(f"grid={grid!r} must be a positive integer (intervals per spline)")
    grid = int(grid)
    refined = model.copy()
    h = None if z is None else np.asarray(z, dtype=np.float64)

    for layer in refined.layers:
        if h is None:
            new_knots = _interpolated_knots(layer.knots, layer.k, grid)
            layer.coef = refit_spline(layer.knots, layer.coef, new_knots, layer.k, span_anchors=True)
        else:
            points = np.stack([blended_grid_points(h[:, i], grid, grid_eps, margin) for i in range(layer.n_in)])
            new_knots = extend_points(points, layer.k)
            layer.coef = refit_spline(layer.knots, layer.coef, new_knots, layer.k, h, dense_weight)
        layer.knots = new_knots
        layer.apply_edge_mask()
        layer.check_shapes()
        if h is not None:
            h = layer.forward(h)
    return refined


def _interpolated_knots(knots, k, grid):
    """Return knots with ``grid`` interior intervals interpolated between the old points, old extension knots kept."""
    old_points = grid_points(knots, k)
    old_grid = old_points.shape[1] - 1
    positions = np.linspace(0.0, old_grid, grid + 1)
    points = np.stack([np.interp(positions, np.arange(old_grid + 1), row) for row in old_points])
    return np.concatenate([knots[:, :k], points, knots[:, knots.shape[1] - k:]], axis=1)


__all__ = ["DEFAULT_GRID_EPS", "blended_grid_points", "extend_points", "grid_points", "refit_spline",
           "update_layer_grid", "update_grid_from_samples", "refine_grid"]
