"""Tests of pruning: which edges, nodes and inputs go, folding into biases, edge masks, and accuracy on real data."""

import numpy as np
import pytest

from kanc.errors import KancError, ModelFileError
from kanc.io.npzfile import read_model_file, write_model_file
from kanc.model.kan import FloatKAN
from kanc.model.prune import edge_attribution, prune
from kanc.model.serialize import FORMAT, VERSION, load_float_model, save_float_model
from kanc.quantize.quantizer import quantize
from kanc.train.estimators import KANClassifier
from kanc.train.trainer import run_training
from datasets_for_tests import load_csv, split



def constant_edge(layer, j, i, value):
    """Make edge (j, i) equal ``value`` inside the knot interior: B-splines sum to 1 there."""
    layer.coef[j, i] = value
    layer.w_lin[j, i] = 0.0
    layer.w_silu[j, i] = 0.0


@pytest.fixture()
def redundant_model():
    """A [3, 2, 1] model where input 2 feeds only constant edges and hidden node 1 feeds a constant edge.

    Inputs are standardised samples within [-1, 1], inside every knot interior.
    """
    model = FloatKAN.create([3, 2, 1], grid=4, rng=0)
    first, second = model.layers
    constant_edge(first, 0, 2, 0.7)
    constant_edge(first, 1, 2, -0.4)
    constant_edge(second, 0, 1, 1.3)
    for layer in model.layers:
        layer.bias[:] = [0.25] * layer.n_out
    model.feature_names = ["age", "bmi", "noise"]
    x = np.random.default_rng(1).uniform(-0.9, 0.9, (300, 3))
    # Keep hidden node 0 inside layer 1's knots [-1, 1].
    first.coef[0, :2] *= 0.2
    first.w_silu[0, :2] *= 0.2
    return model, x


def test_prune_removes_constant_input_and_node(redundant_model):
    model, x = redundant_model
    result = prune(model, x)

    assert result.model.widths == [2, 1, 1]
    assert result.input_indices.tolist() == [0, 1]
    assert [nodes.tolist() for nodes in result.node_indices] == [[0, 1], [0], [0]]
    assert result.model.feature_names == ["age", "bmi"]
    np.testing.assert_array_equal(result.model.x_mean, model.x_mean[:2])


def test_prune_folds_constants_into_bias(redundant_model):
    model, x = redundant_model
    result = prune(model, x)

    assert result.model.layers[0].bias[0] == pytest.approx(0.25 + 0.7, abs=1e-12)
    assert result.model.layers[1].bias[0] == pytest.approx(0.25 + 1.3, abs=1e-12)
    np.testing.assert_allclose(result.model.predict_outputs(x[:, :2]), model.predict_outputs(x),
                               rtol=0, atol=1e-12)


def test_edge_scores_are_pykan_attribution(redundant_model):
    model, x = redundant_model
    scores = edge_attribution(model, x)
    # The only live edge into the output carries its whole spread: score 1 / n_outputs.
    assert scores[1][0, 0] == pytest.approx(1.0)
    assert scores[1][0, 1] == pytest.approx(0.0, abs=1e-9)
    assert np.all(scores[0][:, 2] < 1e-9)


def test_pruned_edge_inside_kept_nodes_is_masked():
    model = FloatKAN.create([2, 2, 1], grid=4, rng=3)
    x = np.random.default_rng(4).uniform(-0.9, 0.9, (200, 2))
    weak = model.layers[0]
    weak.coef[1, 0] *= 1e-4
    weak.w_silu[1, 0] *= 1e-4

    result = prune(model, x)

    layer = result.model.layers[0]
    assert result.model.widths == [2, 2, 1]
    assert layer.edge_mask.tolist() == [[True, True], [False, True]]
    assert np.all(layer.coef[1, 0] == 0)
    assert layer.w_lin[1, 0] == 0
    assert layer.w_silu[1, 0] == 0
    assert result.edges_after == result.edges_before - 1


def test_edge_mask_survives_save_and_load(tmp_path, redundant_model):
    model, x = redundant_model
    model.layers[0].edge_mask[0, 1] = False
    model.layers[0].apply_edge_mask()
    path = tmp_path / "masked.npz"
    save_float_model(model, path)
    loaded = load_float_model(path)
    np.testing.assert_array_equal(loaded.layers[0].edge_mask, model.layers[0].edge_mask)
    np.testing.assert_array_equal(loaded.predict_outputs(x), model.predict_outputs(x))


def test_file_without_edge_mask_loads_all_live(tmp_path):
    model = FloatKAN.create([2, 3, 1], rng=0)
    path = tmp_path / "old.npz"
    save_float_model(model, path)
    header, arrays = read_model_file(path, FORMAT, {VERSION})
    del arrays["layer0/edge_mask"], arrays["layer1/edge_mask"]
    write_model_file(path, header, arrays)
    assert load_float_model(path).layers[0].edge_mask.all()


def test_file_with_nonzero_pruned_edge_is_rejected(tmp_path):
    model = FloatKAN.create([2, 3, 1], rng=0)
    path = tmp_path / "bad.npz"
    save_float_model(model, path)
    header, arrays = read_model_file(path, FORMAT, {VERSION})
    arrays["layer0/edge_mask"] = np.array([[True, True], [True, False], [True, True]])
    write_model_file(path, header, arrays)
    with pytest.raises(ModelFileError, match=r"edge \(node 1, input 1\) of layer 0 is pruned"):
        load_float_model(path)


def test_thresholds_removing_everything_raise(redundant_model):
    model, x = redundant_model
    with pytest.raises(KancError, match="removes every input"):
        prune(model, x, edge_threshold=10.0)
    with pytest.raises(KancError, match="edge_threshold=-1"):
        prune(model, x, edge_threshold=-1)


def test_training_keeps_masked_edges_zero():
    model = FloatKAN.create([2, 2, 1], grid=4, rng=3)
    model.layers[0].edge_mask[0, 1] = False
    model.layers[0].apply_edge_mask()
    z = np.random.default_rng(5).uniform(-1, 1, (100, 2))
    run_training(model, z, z[:, :1] * z[:, 1:], epochs=5, lr=0.05, l1_penalty=1e-3, smooth_penalty=1e-3, rng=0)
    assert np.all(model.layers[0].coef[0, 1] == 0)
    assert model.layers[0].w_silu[0, 1] == 0
    model.layers[0].check_shapes()


@pytest.mark.parametrize("name", ["wine", "breast_cancer"])
def test_prune_keeps_accuracy_on_real_data(name):
    X, y = load_csv(name)
    X_fit, y_fit, X_test, y_test = split(X, y)
    classifier = KANClassifier(hidden=(8,), l1_penalty=3e-3, seed=0).fit(X_fit, y_fit.astype(int))
    model = classifier.model_
    accuracy = np.mean(classifier.predict(X_test) == y_test)

    result = prune(model, X_fit)
    pruned = result.model
    logits = pruned.predict_outputs(X_test[:, result.input_indices])
    pruned_accuracy = np.mean(classifier.classes_[np.argmax(logits, axis=1)] == y_test)

    assert pruned.widths[0] < model.widths[0]
    assert pruned.widths[1] < model.widths[1]
    assert result.edges_after < result.edges_before / 2
    assert pruned_accuracy >= accuracy - 0.03
    # The quantizer takes the smaller model as it is.
    assert quantize(pruned, X_fit[:, result.input_indices], segments=8).widths == pruned.widths
