"""Training of a FloatKAN in the model's internal (standardised) units.

Mini-batch Adam or full-batch L-BFGS, optional grid updates from the training
data every few epochs (pykan's ``update_grid``), and optional early stopping on a
validation set.
"""
import dataclasses

import numpy as np

from kanc.model.bspline import uniform_knots
from kanc.model.kan import silu
from kanc.model.grid import DEFAULT_GRID_EPS, update_grid_from_samples
from kanc.train.backprop import objective, smoothness_grams
from kanc.train.early_stopping import EarlyStopping
from kanc.train.lbfgs import run_lbfgs
from kanc.train.optim import Adam
from kanc.train.progress import ProgressBar

FIRST_BASIS_CACHE_LIMIT = 1 << 23
"""Largest layer-0 basis table (float64 values, 64 MiB) that training precomputes for the whole data set."""

TRAINABLE_BASE = {"silu": ("w_silu",), "linear": ("w_lin",), "none": ()}

OPTIMIZERS = ("adam", "lbfgs")


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
    # NOTE: unless training runs with grid_update_every > 0, grids stay where this
    # puts them, and a hidden input that drifts beyond its knots then only reaches
    # the base term of its edges.
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


@dataclasses.dataclass
class TrainingResult:
    """Record of one training run.

    Attributes
    ----------
    loss : list of float
        Mean total objective (data loss plus weighted penalties) of each epoch.
        For Adam that is the mean over the epoch's mini-batches, for L-BFGS the
        full-batch value after each iteration.
    validation_loss : list of float
        Validation data loss after each epoch (empty without a validation set).
    best_epoch : int or None
        1-based epoch whose parameters the model has after early stopping.
    grid_updates : int
        Number of grid updates performed.
    """

    loss: list
    validation_loss: list
    best_epoch: int = None
    grid_updates: int = 0

    @property
    def epochs_run(self):
        return len(self.loss)


def train(model, z, target, loss="mse", lr=0.01, epochs=200, batch_size=64, smooth_penalty=0.0,
          l1_penalty=0.0, rng=None, verbose=False, stream=None):
    """Train ``model`` in place with mini-batch Adam and return the mean total loss of each epoch.

    The parameters are those of :func:`run_training`, which also offers L-BFGS,
    grid updates and early stopping.
    """
    return run_training(model, z, target, loss=loss, lr=lr, epochs=epochs, batch_size=batch_size,
                        smooth_penalty=smooth_penalty, l1_penalty=l1_penalty, rng=rng,
                        verbose=verbose, stream=stream).loss


def run_training(model, z, target, loss="mse", optimizer="adam", lr=0.01, epochs=200, batch_size=64,
                 smooth_penalty=0.0, l1_penalty=0.0, rng=None, verbose=False, stream=None,
                 validation=None, patience=10, grid_update_every=0, grid_update_until=None,
                 grid_eps=DEFAULT_GRID_EPS, grid_margin=0.0):
    """Train ``model`` in place and return a :class:`TrainingResult`.

    Parameters
    ----------
    model : FloatKAN (its ``base`` selects the trainable base weights, see :func:`trainable_names`).
    z : (N, n_inputs) standardised inputs.
    target : (N, n_outputs) standardised targets for loss "mse", (N,) class indices for "cross_entropy".
    optimizer : "adam" (mini-batches, step size ``lr``) or "lbfgs" (full batch,
        one epoch = one L-BFGS iteration; ``lr`` and ``batch_size`` are unused).
    epochs : passes over the data; Adam visits the samples in a new random order each pass.
    smooth_penalty, l1_penalty : weights of the penalties of :mod:`kanc.train.penalties`.
    rng : seed or numpy Generator for the shuffling; the same seed gives the same result.
    verbose : draw a progress bar on ``stream`` (stderr by default) if it is a terminal.
    validation : optional (z_val, target_val). Training stops once the validation
        data loss has not improved for ``patience`` epochs, and the model gets the
        parameters (and knots) of its best validation epoch.
    grid_update_every : update every layer's grid from ``z`` after every this many
        epochs (0 = never), with :func:`kanc.model.grid.update_grid_from_samples`
        and ``grid_eps`` and ``grid_margin``.
    grid_update_until : last epoch after which a grid update may happen; None
        means half of ``epochs``. pykan likewise stops updating the grid after 50
        of its default 100 steps, so training ends on fixed knots.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r} must be one of {OPTIMIZERS}")
    names = trainable_names(model.base)
    until = epochs // 2 if grid_update_until is None else grid_update_until
    stopper = None if validation is None else EarlyStopping(validation[0], validation[1], loss, patience)
    result = TrainingResult(loss=[], validation_loss=[] if stopper is None else stopper.history)

    def grid_update_due(epoch):
        return grid_update_every > 0 and epoch % grid_update_every == 0 and epoch <= until

    def update_grids():
        update_grid_from_samples(model, z, grid_eps=grid_eps, margin=grid_margin)
        result.grid_updates += 1

    progress = ProgressBar(epochs, enabled=verbose, stream=stream)
    try:
        if optimizer == "adam":
            _run_adam(model, z, target, names, loss, lr, epochs, batch_size, smooth_penalty, l1_penalty,
                      np.random.default_rng(rng), result, stopper, progress, grid_update_due, update_grids)
        else:
            _run_lbfgs_epochs(model, z, target, names, loss, epochs, smooth_penalty, l1_penalty,
                              result, stopper, progress, grid_update_due, update_grids)
    finally:
        progress.close()

    if stopper is not None:
        stopper.restore(model)
        result.best_epoch = stopper.best_epoch
    return result


def _run_adam(model, z, target, names, loss, lr, epochs, batch_size, smooth_penalty, l1_penalty, rng,
              result, stopper, progress, grid_update_due, update_grids):
    """Run mini-batch Adam epochs, appending to ``result``, and stop early when ``stopper.update`` returns True."""
    n = z.shape[0]
    params = [getattr(layer, name) for layer in model.layers for name in names]
    optimizer = Adam(params, lr=lr)

    # Layer 0 reads the fixed training data, so its basis only changes with its knots:
    # compute it once per grid, unless that table (N * n_in * n_basis floats) is too large.
    first = model.layers[0]
    cache_first = n * first.n_in * first.n_basis <= FIRST_BASIS_CACHE_LIMIT

    def knot_dependent_tables():
        grams = smoothness_grams(model) if smooth_penalty else None
        first_basis = first.basis(z) if cache_first else None
        first_silu = silu(z) if cache_first else None
        return grams, first_basis, first_silu

    grams, first_basis, first_silu = knot_dependent_tables()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        epoch_loss = 0.0
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            total, _, grads = objective(
                model, z[batch], target[batch], loss, smooth_penalty, l1_penalty, grams,
                first_basis=first_basis[batch] if cache_first else None,
                first_silu=first_silu[batch] if cache_first else None)
            # Adam keeps its moment estimates across grid updates, because the refit
            # keeps each coefficient's basis function close to where it was.
            optimizer.step([layer_grads[name] for layer_grads in grads for name in names])
            epoch_loss += total * len(batch)
        result.loss.append(epoch_loss / n)
        progress.update(epoch, result.loss[-1])

        if grid_update_due(epoch):
            update_grids()
            grams, first_basis, first_silu = knot_dependent_tables()
        if stopper is not None and stopper.update(model, epoch):
            return


def _run_lbfgs_epochs(model, z, target, names, loss, epochs, smooth_penalty, l1_penalty,
                      result, stopper, progress, grid_update_due, update_grids):
    """Run full-batch L-BFGS, one epoch per iteration, restarting it after each grid update."""
    first = model.layers[0]
    cache_first = len(z) * first.n_in * first.n_basis <= FIRST_BASIS_CACHE_LIMIT
    stopped = False

    def on_iteration(value):
        nonlocal stopped
        result.loss.append(value)
        epoch = len(result.loss)
        progress.update(epoch, value)
        if stopper is not None and stopper.update(model, epoch):
            stopped = True
        return stopped or grid_update_due(epoch)

    while len(result.loss) < epochs and not stopped:
        before = len(result.loss)
        grams = smoothness_grams(model) if smooth_penalty else None
        run_lbfgs(model, z, target, names, loss, smooth_penalty, l1_penalty, grams,
                  max_iterations=epochs - before, on_iteration=on_iteration, cache_first_basis=cache_first)
        epoch = len(result.loss)
        if stopped:
            break
        if epoch > before and grid_update_due(epoch):
            update_grids()
            continue
        # L-BFGS met its convergence tolerance before the iteration budget.
        break
