"""Bundled CSV data sets for the accuracy tests, and a seeded fit/test split."""
import os

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(__file__), "..", "kanc", "datasets", "data")


def load_csv(name):
    """Return (X, y) of a bundled CSV: every column but the last is a feature, the last is the target."""
    table = np.genfromtxt(os.path.join(DATA_DIR, f"{name}.csv"), delimiter=",", skip_header=1)
    return table[:, :-1], table[:, -1]


def split(X, y, seed=0, test_fraction=0.25):
    """Return (X_fit, y_fit, X_test, y_test): a seeded random ``test_fraction`` of the rows is held out."""
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, fit = order[:n_test], order[n_test:]
    return X[fit], y[fit], X[test], y[test]
