"""Regularisers of the training objective: spline smoothness and L1 sparsity of edge activations.

Both work in the layers' internal units (standardised inputs and targets).

Smoothness. For one edge with coefficients c on input i,

    R_smooth = integral over [t_0, t_last] of (sum_b c_b B_b''(t))^2 dt = c^T Omega_i c,

where Omega_i[a, b] = integral B_a''(t) B_b''(t) dt is the Gram matrix of the basis
second derivatives over the whole knot span. The model's smoothness penalty is
the sum of c^T Omega c over every edge of every layer.

Sparsity. As defined in the KAN paper (Liu et al. 2024, "KAN: Kolmogorov-Arnold
Networks", arXiv:2404.19756), the L1 norm of an edge is its mean absolute
activation over the batch, |phi_ji|_1 = (1/N) sum_n |phi_ji(t_ni)|, and the
penalty is the sum of these norms over every edge of every layer. The whole edge
function counts, base term included. pykan 0.2.8 instead penalises
std(phi) / (std(t) + 0.1) of the spline part, so penalty weights do not carry
over between the two. The paper's entropy term is not implemented. The penalty
depends on a layer's inputs as well, so its gradient flows back into earlier
layers.
"""
import numpy as np

from kanc.model.bspline import basis_derivative
from kanc.model.kan import silu_derivative


def smoothness_gram(knots, k):
    """Return Omega, shape (n_in, n_basis, n_basis): the Gram matrix of basis second derivatives per input.

    Exact: B'' is a polynomial of degree k - 2 on each knot interval, so a
    k-point Gauss–Legendre rule per interval (exact up to degree 2k - 1)
    integrates the degree 2k - 4 products without error. Zero-length intervals
    (repeated knots) contribute nothing. For k < 2 the second derivatives vanish
    and Omega is zero. Units: 1 / (knot units)^3.
    """
    knots = np.asarray(knots, dtype=np.float64)
    n_in, n_knots = knots.shape
    n_basis = n_knots - k - 1
    if k < 2:
        return np.zeros((n_in, n_basis, n_basis))

    nodes, weights = np.polynomial.legendre.leggauss(k)
    left, right = knots[:, :-1], knots[:, 1:]
    half = 0.5 * (right - left)
    middle = 0.5 * (right + left)

    # Quadrature points of every interval, one column per input: (intervals * k, n_in).
    points = (middle[:, :, None] + half[:, :, None] * nodes[None, None, :]).reshape(n_in, -1).T
    point_weights = (half[:, :, None] * weights[None, None, :]).reshape(n_in, -1).T
    second = basis_derivative(points, knots, k, 2)
    return np.einsum("pi,pia,pib->iab", point_weights, second, second)


def smoothness_penalty(coef, omega):
    """Return (sum over edges of c^T Omega c, gradient 2 Omega c with the shape of ``coef``).

    ``coef`` is (n_out, n_in, n_basis) and ``omega`` (n_in, n_basis, n_basis).
    """
    omega_c = np.einsum("iab,jib->jia", omega, coef)
    return float(np.sum(coef * omega_c)), 2.0 * omega_c


def l1_activation_penalty(layer, entry, need_input_grad):
    """Return (penalty, parameter gradients, input gradient or None) of the L1 sparsity term of one layer.

    ``entry`` is the layer's forward cache (``t``, ``basis``, ``silu``). The
    penalty is sum over edges (j, i) of mean over samples n of |phi_ji(t_ni)|;
    at phi = 0 the subgradient 0 is used. The input gradient (N, n_in) is
    sum_j sign(phi_nji) phi_ji'(t_ni) / N.
    """
    t, spline_basis, silu_t = entry["t"], entry["basis"], entry["silu"]
    n = t.shape[0]
    phi = (np.einsum("nib,jib->nji", spline_basis, layer.coef)
           + layer.w_lin[None] * t[:, None, :] + layer.w_silu[None] * silu_t[:, None, :])
    penalty = float(np.abs(phi).sum() / n)

    weight = np.sign(phi) / n
    grads = {
        "coef": np.einsum("nji,nib->jib", weight, spline_basis),
        "w_lin": np.einsum("nji,ni->ji", weight, t),
        "w_silu": np.einsum("nji,ni->ji", weight, silu_t),
        "bias": np.zeros(layer.n_out),
    }
    if not need_input_grad:
        return penalty, grads, None

    slope_basis = entry.get("slope_basis")
    if slope_basis is None:
        slope_basis = basis_derivative(t, layer.knots, layer.k, 1)
    spline_slope = np.einsum("nib,nib->ni", np.einsum("nji,jib->nib", weight, layer.coef), slope_basis)
    grad_t = (spline_slope + np.einsum("nji,ji->ni", weight, layer.w_lin)
              + silu_derivative(t, 1) * np.einsum("nji,ji->ni", weight, layer.w_silu))
    return penalty, grads, grad_t
