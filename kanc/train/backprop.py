"""The training objective and its analytic gradient, by the chain rule through every edge function.

For a layer with inputs t (N, n_in) and upstream gradient g = dL/d(node output)
(N, n_out), the edge phi_ji(t) = w_lin_ji t + w_silu_ji silu(t) + sum_b coef_jib B_b(t)
gives

    dL/dcoef_jib  = sum_n g_nj B_b(t_ni)
    dL/dw_lin_ji  = sum_n g_nj t_ni
    dL/dw_silu_ji = sum_n g_nj silu(t_ni)
    dL/dbias_j    = sum_n g_nj
    dL/dt_ni      = sum_j g_nj phi_ji'(t_ni)
                  = sum_j g_nj (w_lin_ji + w_silu_ji silu'(t_ni) + sum_b coef_jib B_b'(t_ni))

and dL/dt is the upstream gradient of the previous layer. Every sum is a matrix
product over the batch, so there is no Python loop over samples or edges.
"""
import numpy as np

from kanc.model.bspline import basis_derivative
from kanc.model.kan import silu_derivative
from kanc.train.losses import LOSSES
from kanc.train.penalties import l1_activation_penalty, smoothness_gram, smoothness_penalty

PARAMETERS = ("coef", "w_lin", "w_silu", "bias")


def layer_backward(layer, entry, grad_out, need_input_grad):
    """Return (parameter gradients, dL/dt or None) of one layer, given g = dL/d(layer output) (N, n_out).

    ``entry`` is the layer's forward cache from FloatKAN.forward_with_cache.
    """
    t, spline_basis, silu_t = entry["t"], entry["basis"], entry["silu"]
    n = t.shape[0]
    grads = {
        "coef": (grad_out.T @ spline_basis.reshape(n, -1)).reshape(layer.coef.shape),
        "w_lin": grad_out.T @ t,
        "w_silu": grad_out.T @ silu_t,
        "bias": grad_out.sum(axis=0),
    }
    if not need_input_grad:
        return grads, None

    # dL/dt through the spline term: contract g with coef first, (N, n_in, n_basis), then with B'.
    slope_basis = entry.get("slope_basis")
    if slope_basis is None:
        slope_basis = basis_derivative(t, layer.knots, layer.k, 1)
    weighted_coef = (grad_out @ layer.coef.reshape(layer.n_out, -1)).reshape(n, layer.n_in, layer.n_basis)
    grad_t = np.einsum("nib,nib->ni", weighted_coef, slope_basis)

    grad_t += grad_out @ layer.w_lin
    grad_t += silu_derivative(t, 1) * (grad_out @ layer.w_silu)
    return grads, grad_t


def _mask_pruned_edges(layer_grads, edge_mask):
    """Zero the gradients of pruned edges in place, so that every optimiser keeps them at exactly zero."""
    layer_grads["coef"] *= edge_mask[:, :, None]
    layer_grads["w_lin"] *= edge_mask
    layer_grads["w_silu"] *= edge_mask


def smoothness_grams(model):
    """Return the smoothness Gram matrix of every layer (list of (n_in, n_basis, n_basis) arrays)."""
    return [smoothness_gram(layer.knots, layer.k) for layer in model.layers]


def objective(model, z, target, loss="mse", smooth_penalty=0.0, l1_penalty=0.0, grams=None,
              first_basis=None, first_silu=None):
    """Return (total loss, parts, gradients) of the training objective on one batch.

    total = data loss + smooth_penalty * R_smooth + l1_penalty * R_l1, with the
    data loss from :mod:`kanc.train.losses` on internal outputs and the penalties
    of :mod:`kanc.train.penalties`.

    Parameters
    ----------
    model : FloatKAN
    z : (N, n_inputs) standardised inputs.
    target : (N, n_outputs) standardised targets for "mse", or (N,) class indices for "cross_entropy".
    grams : optional precomputed :func:`smoothness_grams` (they depend only on the knots).
    first_basis, first_silu : optional precomputed basis(z) and silu(z) of layer 0,
        see FloatKAN.forward_with_cache.

    Returns
    -------
    total : float
    parts : dict with "data", "smooth" and "l1" (unweighted penalty values).
    grads : list, per layer, of dicts with "coef", "w_lin", "w_silu" and "bias" gradients.
    """
    outputs, cache = model.forward_with_cache(z, first_basis, first_silu)
    data_loss, grad_out = LOSSES[loss](outputs, target)
    parts = {"data": data_loss, "smooth": 0.0, "l1": 0.0}

    grads = [None] * model.n_layers
    for index in reversed(range(model.n_layers)):
        layer, entry = model.layers[index], cache[index]
        need_input_grad = index > 0
        layer_grads, grad_t = layer_backward(layer, entry, grad_out, need_input_grad)

        if l1_penalty:
            value, l1_grads, l1_grad_t = l1_activation_penalty(layer, entry, need_input_grad)
            parts["l1"] += value
            for name in PARAMETERS:
                layer_grads[name] += l1_penalty * l1_grads[name]
            if need_input_grad:
                grad_t += l1_penalty * l1_grad_t

        if smooth_penalty:
            gram = grams[index] if grams is not None else smoothness_gram(layer.knots, layer.k)
            value, smooth_grad = smoothness_penalty(layer.coef, gram)
            parts["smooth"] += value
            layer_grads["coef"] += smooth_penalty * smooth_grad

        if not layer.edge_mask.all():
            _mask_pruned_edges(layer_grads, layer.edge_mask)
        grads[index] = layer_grads
        grad_out = grad_t

    total = data_loss + smooth_penalty * parts["smooth"] + l1_penalty * parts["l1"]
    return total, parts, grads
