"""Mini-batch training of a FloatKAN with Adam, in the model's internal (standardised) units."""
import numpy as np

from kanc.model.bspline import uniform_knots
from kanc.model.kan import silu
from kanc.train.backprop import objective, smoothness_grams
from kanc.train.optim import Adam
from kanc.train.progress import ProgressBar

FIRST_BASIS_CACHE_LIMIT = 1 << 23
"""Largest layer-0 basis table (float64 values, 64 MiB) that training precomputes for the whole data set."""

TRAINABLE_BASE = {"silu": ("w_silu",), "linear": ("w_lin",), "none": ()}


def trainable_names(base):
    """Return the parameter names that training updates for a model with base term ``base``.

    Spline coefficients and biases always train. With base "silu" the silu weight
    trains and w_lin stays as it is (zero after FloatKAN.create), "linear" is the
    reverse, and "none" keeps both base weights fixed.
    """
    return ("coef", "bias") + TRAINABLE_BASE[base]


def fit_grids_to_data(model, z, margin=0.1):
    """Place every layer's knots uniformly over the range its inputs take on ``z``, widened by ``margin``.

    Layer by layer, the inputs of layer l are computed with the already-placed
    layers 0..l-1, and their [min, max] is widened by ``margin`` times the range
    on each side. The grid size and degree of each layer stay the same. An input
    that is constant on ``z`` gets the grid [value - 1, value + 1]. Call this on a
    freshly initialised model: coefficients are kept, not refitted to the new knots.
    """
    # NOTE: grids stay where this puts them for the whole training run (pykan's
    # update_grid is not implemented). A hidden input that drifts beyond its knots
    # then only reaches the base term of its edges.
    h = np.asarray(z, dtype=np.float64)
    for layer in model.layers:
        lo, hi = h.min(axis=0), h.max(axis=0)
        span = hi - lo
        constant = span <= 1e-12 * np.maximum(1.0, np.abs(hi))
        lo = np.where(constant, lo - 1.0, lo - margin * span)
        hi = np.where(constant, hi + 1.0, hi + margin * span)
        grid = layer.knots.shape[1] - 2 * layer.k - 1
        layer.knots = uniform_knots(lo, hi, grid, layer.k, layer.n_in)
        h = layer.forward(h)
    return model


def train(model, z, target, loss="mse", lr=0.01, epochs=200, batch_size=64, smooth_penalty=0.0,
          l1_penalty=0.0, rng=None, verbose=False, stream=None):
    """Train ``model`` in place with mini-batch Adam and return the mean total loss of each epoch.

    Parameters
    ----------
    model : FloatKAN (its ``base`` selects the trainable base weights, see :func:`trainable_names`).
    z : (N, n_inputs) standardised inputs.
    target : (N, n_outputs) standardised targets for loss "mse", (N,) class indices for "cross_entropy".
    lr : Adam step size.
    epochs : passes over the data; each pass visits the samples in a new random order.
    batch_size : samples per Adam step (the last batch of an epoch may be smaller).
    smooth_penalty, l1_penalty : weights of the penalties of :mod:`kanc.train.penalties`.
    rng : seed or numpy Generator for the shuffling; the same seed gives the same result.
    verbose : draw a progress bar on ``stream`` (stderr by default) if it is a terminal.
    """
    rng = np.random.default_rng(rng)
    n = z.shape[0]
    names = trainable_names(model.base)
    params = [getattr(layer, name) for layer in model.layers for name in names]
    optimizer = Adam(params, lr=lr)
    grams = smoothness_grams(model) if smooth_penalty else None
    progress = ProgressBar(epochs, enabled=verbose, stream=stream)

    # Layer 0 reads the fixed training data and its knots stay put during training, so
    # its basis is computed once, unless that table (N * n_in * n_basis floats) is too large.
    first = model.layers[0]
    cache_first = n * first.n_in * first.n_basis <= FIRST_BASIS_CACHE_LIMIT
    first_basis = first.basis(z) if cache_first else None
    first_silu = silu(z) if cache_first else None

    history = []
    try:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            epoch_loss = 0.0
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                total, _, grads = objective(
                    model, z[batch], target[batch], loss, smooth_penalty, l1_penalty, grams,
                    first_basis=first_basis[batch] if cache_first else None,
                    first_silu=first_silu[batch] if cache_first else None)
                optimizer.step([layer_grads[name] for layer_grads in grads for name in names])
                epoch_loss += total * len(batch)
            history.append(epoch_loss / n)
            progress.update(epoch, history[-1])
    finally:
        progress.close()
    return history
