"""B-spline bases on per-input knot vectors, evaluated the way pykan and efficient-kan do.

Both libraries use the Cox-de Boor recursion on an extended knot vector of
G + 2k + 1 knots per input (G grid intervals plus k extra knots on each side),
giving G + k basis functions of degree k. The order-0 bases are half-open,
``knot[m] <= x < knot[m + 1]``, so every basis is zero at and beyond the last
knot and below the first one. Outside the extended grid the spline is therefore
exactly zero and only the base (residual) term of an edge remains.

The arithmetic below follows the libraries' expression term by term, so that
the float64 results agree with theirs to round-off.
"""
import numpy as np

from kanc.importers.common import ModelImportError


def check_knots(knots, degree, library, layer):
    """Check a (n_in, G + 2k + 1) knot array: non-decreasing rows with enough knots for ``degree``.

    Returns the indices of inputs whose knots contain a zero-width span of
    ``degree + 1`` or more intervals, where the recursion divides 0 by 0.
    """
    if knots.ndim != 2 or knots.shape[1] < 2 * degree + 2:
        raise ModelImportError(
            f"{library} layer {layer}: grid has shape {knots.shape}, expected (n_in, G + 2k + 1) "
            f"with k = {degree} and G >= 1")
    if np.any(np.diff(knots, axis=1) < 0):
        row = int(np.nonzero(np.any(np.diff(knots, axis=1) < 0, axis=1))[0][0])
        raise ModelImportError(
            f"{library} layer {layer}: grid of input {row} is not sorted ({knots[row].tolist()}); "
            "the checkpoint is corrupt or not from this library")
    span = knots[:, degree + 1:] - knots[:, : -(degree + 1)]
    return np.nonzero(np.any(span == 0, axis=1))[0]


def bspline_bases(x, knots, degree, nan_to_zero):
    """Return the B-spline bases of ``degree`` at ``x`` (N, n_in) on ``knots`` (n_in, G + 2k + 1).

    The result has shape (N, n_in, G + k). With ``nan_to_zero`` every level of the
    recursion replaces NaN by 0 and +-inf by the largest float, as pykan's
    ``torch.nan_to_num`` does. Without it, 0/0 from repeated knots stays NaN, as in
    efficient-kan.
    """
    x = x[:, :, None]
    grid = knots[None, :, :]

    # Order 0: indicator of the half-open knot interval [knot[m], knot[m + 1]).
    bases = ((x >= grid[:, :, :-1]) & (x < grid[:, :, 1:])).astype(np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(1, degree + 1):
            left = (x - grid[:, :, : -(k + 1)]) / (grid[:, :, k:-1] - grid[:, :, : -(k + 1)]) * bases[:, :, :-1]
            right = (grid[:, :, k + 1:] - x) / (grid[:, :, k + 1:] - grid[:, :, 1:(-k)]) * bases[:, :, 1:]
            bases = left + right
            if nan_to_zero:
                bases = np.nan_to_num(bases)
    return bases
