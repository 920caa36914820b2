"""Early stopping on a validation set: track the best validation loss and restore its parameters."""
import numpy as np

from kanc.train.losses import LOSSES


class EarlyStopping:
    """Watch the validation data loss after each epoch and stop after ``patience`` epochs without improvement.

    The validation loss is the data loss alone (no smoothness or L1 penalty), on
    the model's internal outputs, so for regression it is in units of target
    variance and for classification in nats. An epoch improves on the best when
    its loss is lower by more than ``min_delta``. The best model (parameters and
    knots, which grid updates move) is kept as a copy and put back by
    :meth:`restore`.

    Parameters
    ----------
    z : (N_val, n_inputs) standardised validation inputs.
    target : validation targets in the form the loss expects.
    loss : "mse" or "cross_entropy".
    patience : epochs without improvement before :meth:`update` returns True.
    """

    def __init__(self, z, target, loss, patience, min_delta=0.0):
        self.z = z
        self.target = target
        self.loss = LOSSES[loss]
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.history = []
        self.best_loss = np.inf
        self.best_epoch = 0
        self.best_layers = None

    def validation_loss(self, model):
        """Return the data loss of ``model`` on the validation set."""
        value, _ = self.loss(model.forward_internal(self.z), self.target)
        return value

    def update(self, model, epoch):
        """Record the validation loss after ``epoch`` (1-based); return True when training should stop."""
        value = self.validation_loss(model)
        self.history.append(value)
        if value < self.best_loss - self.min_delta:
            self.best_loss = value
            self.best_epoch = epoch
            self.best_layers = [layer.copy() for layer in model.layers]
        return epoch - self.best_epoch >= self.patience

    def restore(self, model):
        """Copy the best epoch's parameters and knots back into ``model`` in place (no-op before any update)."""
        if self.best_layers is None:
            return model
        for layer, best in zip(model.layers, self.best_layers):
            for name in ("coef", "w_lin", "w_silu", "bias"):
                getattr(layer, name)[...] = getattr(best, name)
            layer.knots = best.knots.copy()
        return model


__all__ = ["EarlyStopping"]
