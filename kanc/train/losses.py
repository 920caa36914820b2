"""Data losses on the model's internal outputs, each returning the value and its gradient."""
import numpy as np


def mse_loss(outputs, targets):
    """Return (loss, dloss/doutputs) of the mean squared error over samples and outputs.

    ``outputs`` and ``targets`` are (N, n_out) in standardised target units, so the
    loss is in units of target variance: loss = mean((outputs - targets)^2).
    """
    residual = outputs - targets
    loss = float(np.mean(residual * residual))
    return loss, (2.0 / residual.size) * residual


def log_softmax(logits):
    """Return log(softmax(logits)) along axis 1.

    The logits are shifted by their row maximum first, so exp only receives values
    <= 0 and cannot overflow.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits):
    """Return class probabilities softmax(logits) along axis 1."""
    return np.exp(log_softmax(logits))


def cross_entropy_loss(logits, labels):
    """Return (loss, dloss/dlogits) of the softmax cross-entropy, averaged over samples (nats).

    ``logits`` is (N, n_classes); ``labels`` is (N,) integer class indices.
    The gradient is (softmax(logits) - onehot(labels)) / N.
    """
    n = logits.shape[0]
    log_p = log_softmax(logits)
    rows = np.arange(n)
    loss = float(-np.mean(log_p[rows, labels]))
    grad = np.exp(log_p)
    grad[rows, labels] -= 1.0
    return loss, grad / n


LOSSES = {"mse": mse_loss, "cross_entropy": cross_entropy_loss}
