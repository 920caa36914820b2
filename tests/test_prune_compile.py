"""Pruning a trained model shrinks its compiled tables by exactly the pruned edges' share."""
import numpy as np
import pytest

from kanc.datasets import load_dataset
from kanc.emit.c_source import model_sizes
from kanc.io.csvdata import class_labels
from kanc.metrics import accuracy, train_test_split
from kanc.model.prune import prune
from kanc.quantize.quantizer import quantize
from kanc.simulate import simulate
from kanc.train.estimators import KANClassifier

SEGMENTS = 16


@pytest.fixture(scope="module")
def pruned_wine():
    data = load_dataset("wine")
    y = class_labels(data.y)
    train, test = train_test_split(len(y), 0.25, seed=0, labels=y)
    estimator = KANClassifier(hidden=(8,), l1_penalty=3e-3, epochs=100, seed=0).fit(data.X[train], y[train])
    model = estimator.model_
    model.feature_names = data.feature_names
    result = prune(model, data.X[train])
    return data, y, train, test, model, result


def fixed_point_accuracy(model, x_train, x_test, y_test):
    qmodel = quantize(model, x_train, name="wine_kan", segments=SEGMENTS)
    outputs = simulate(qmodel, qmodel.quantize_inputs(x_test)).outputs
    return qmodel, accuracy(y_test, np.asarray(model.classes)[np.argmax(outputs, axis=1)])


def test_pruning_removes_edges(pruned_wine):
    *_, result = pruned_wine
    assert result.edges_after < result.edges_before
    live = sum(int(np.sum(result.model.edge_mask(layer))) for layer in range(len(result.model.widths) - 1))
    assert live == result.edges_after


def test_table_bytes_shrink_by_pruned_share(pruned_wine):
    data, y, train, test, model, result = pruned_wine
    before, accuracy_before = fixed_point_accuracy(model, data.X[train], data.X[test], y[test])
    kept = np.asarray(result.node_indices[0])
    after, accuracy_after = fixed_point_accuracy(result.model, data.X[train][:, kept], data.X[test][:, kept], y[test])
    print(f"fixed-point test accuracy: {accuracy_before:.4f} before pruning, {accuracy_after:.4f} after "
          f"({result.edges_before} -> {result.edges_after} edges)")

    bytes_per_edge = (SEGMENTS + 1) * 2
    assert model_sizes(before)["table_bytes"] == result.edges_before * bytes_per_edge
    assert model_sizes(after)["table_bytes"] == result.edges_after * bytes_per_edge
    assert after.n_edges == result.edges_after
    assert accuracy_before > 0.85
    assert accuracy_after > 0.85
