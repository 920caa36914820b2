"""Metrics that the CLI and the demo report."""
import numpy as np


def accuracy(y_true, y_pred):
    """Fraction of samples whose predicted class equals the true class."""
    y_true = np.asarray(y_true)
    return float(np.mean(y_true == np.asarray(y_pred))) if len(y_true) else float("nan")


def rmse(y_true, y_pred):
    """Root mean squared error, in the target's units."""
    diff = np.asarray(y_pred, dtype=np.float64).reshape(len(y_true), -1) - \
        np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    return float(np.sqrt(np.mean(diff ** 2)))


def argmax_lowest(values):
    """Row-wise index of the largest value, the lowest index on ties (spec section 2.6)."""
    return np.argmax(np.asarray(values), axis=1)


def train_test_split(n_samples, test_fraction, seed, labels=None):
    """Return (train_idx, test_idx): a seeded shuffle, stratified per class when ``labels`` is given."""
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n_samples)
        n_test = int(round(test_fraction * n_samples))
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(members)))
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))
