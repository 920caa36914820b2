"""Tests of FloatKAN, the trainer and the estimators: protocol contract, reproducibility, accuracy on real data."""
import io
import re

import numpy as np
import pytest

from kanc.errors import DataError, KancError
from kanc.model.kan import FloatKAN
from kanc.model.protocol import check_float_model
from kanc.train.backprop import smoothness_grams
from kanc.train.estimators import InvalidParameterError, KANClassifier, KANRegressor
from kanc.train.penalties import smoothness_penalty
from kanc.train.progress import ProgressBar
from kanc.train.trainer import train
from datasets_for_tests import load_csv, split



def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@pytest.fixture(scope="module")
def iris_classifier():
    X, y = load_csv("iris")
    X_fit, y_fit, X_test, y_test = split(X, y)
    return KANClassifier(seed=3).fit(X_fit, y_fit.astype(int)), X_test, y_test.astype(int)


@pytest.fixture(scope="module")
def diabetes_regressor():
    X, y = load_csv("diabetes")
    X_fit, y_fit, X_test, y_test = split(X, y)
    return KANRegressor(seed=1).fit(X_fit, y_fit), X_fit, y_fit, X_test, y_test


# ---------------------------------------------------------------------- accuracy on real data

@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_classifier_accuracy_on_real_data(name):
    X, y = load_csv(name)
    X_fit, y_fit, X_test, y_test = split(X, y)
    classifier = KANClassifier(hidden=(8,), grid=5, seed=0).fit(X_fit, y_fit.astype(int))
    assert classifier.model_.widths == [X.shape[1], 8, len(np.unique(y))]
    assert classifier.score(X_test, y_test.astype(int)) > 0.9


def test_regressor_on_diabetes_beats_mean(diabetes_regressor):
    regressor, X_fit, y_fit, X_test, y_test = diabetes_regressor
    baseline = rmse(np.full(len(y_test), y_fit.mean()), y_test)
    # Linear least squares reaches a test R^2 of about 0.5 on this data set.
    assert rmse(regressor.predict(X_test), y_test) < 0.8 * baseline
    assert regressor.score(X_test, y_test) > 0.35


def test_regressor_fits_smooth_function():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(400, 1))
    y = 5.0 * np.sin(1.3 * x[:, 0]) + 40.0
    regressor = KANRegressor(hidden=(), grid=8, epochs=300, smooth_penalty=0.0, seed=0).fit(x, y)
    assert rmse(regressor.predict(x), y) < 0.1


def test_multi_target_regression_shapes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    Y = np.column_stack([X[:, 0] * 10 + 3, np.tanh(X[:, 1]) - 100])
    regressor = KANRegressor(hidden=(4,), epochs=60, seed=0).fit(X, Y)
    assert regressor.predict(X).shape == (120, 2)
    assert regressor.score(X, Y) > 0.9


# ---------------------------------------------------------------------- protocol

@pytest.mark.parametrize("fitted", ["iris_classifier", "diabetes_regressor"])
def test_protocol_contract_holds_exactly(fitted, request):
    estimator, *data = request.getfixturevalue(fitted)
    X_test = data[0] if fitted == "iris_classifier" else data[2]
    model = check_float_model(estimator.model_)
    inputs = model.layer_inputs(X_test)
    assert len(inputs) == model.n_layers + 1
    np.testing.assert_array_equal(inputs[0], X_test)
    for layer in range(model.n_layers):
        rebuilt = model.edge_values(layer, inputs[layer]).sum(axis=2) + model.node_bias(layer)
        np.testing.assert_array_equal(inputs[layer + 1], rebuilt)


def test_protocol_outputs_in_target_units(diabetes_regressor):
    regressor, _, _, X_test, _ = diabetes_regressor
    model = regressor.model_
    outputs = model.layer_inputs(X_test)[-1][:, 0]
    np.testing.assert_allclose(outputs, regressor.predict(X_test), rtol=1e-12, atol=1e-9)
    # Target units, not standardised ones: the predictions sit around the target mean (about 150).
    _, y_fit = diabetes_regressor[1:3]
    assert abs(outputs.mean() - y_fit.mean()) < 0.2 * y_fit.std()
    assert model.edge_values(0, X_test).shape == (len(X_test), model.widths[1], X_test.shape[1])

    # Layer 0 takes raw features: the same edges evaluated on standardised features differ.
    z = model.standardize(X_test)
    np.testing.assert_allclose(model.edge_values(0, X_test), model.layers[0].edge_values(z), rtol=1e-12)
    assert not np.allclose(model.edge_values(0, X_test), model.layers[0].edge_values(X_test))


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("order", [1, 2])
def test_edge_derivatives_match_finite_differences(diabetes_regressor, layer, order):
    regressor, X_fit, *_ = diabetes_regressor
    model = regressor.model_
    t = model.layer_inputs(X_fit[:50])[layer]
    # A step of 1e-4 of each input's spread; away from knots the edges are smooth polynomials plus silu.
    h = 1e-4 * np.maximum(t.std(axis=0), 1e-3)
    upper = model.edge_values(layer, t + h)
    lower = model.edge_values(layer, t - h)
    middle = model.edge_values(layer, t)
    if order == 1:
        numeric = (upper - lower) / (2 * h)
        tolerance = 1e-6
    else:
        numeric = (upper - 2 * middle + lower) / h**2
        tolerance = 1e-3
    analytic = model.edge_derivative_values(layer, t, order)
    scale = np.abs(analytic).max()
    assert np.abs(numeric - analytic).max() < tolerance * scale


# ---------------------------------------------------------------------- reproducibility and training mechanics

def test_same_seed_gives_identical_parameters():
    X, y = load_csv("wine")
    first = KANClassifier(epochs=15, seed=42).fit(X, y.astype(int)).model_
    second = KANClassifier(epochs=15, seed=42).fit(X, y.astype(int)).model_
    other = KANClassifier(epochs=15, seed=43).fit(X, y.astype(int)).model_
    for a, b, c in zip(first.layers, second.layers, other.layers):
        for name in ("knots", "coef", "w_lin", "w_silu", "bias"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(a.coef, c.coef)


def test_training_reduces_loss():
    X, y = load_csv("iris")
    classifier = KANClassifier(epochs=40, seed=0).fit(X, y.astype(int))
    history = classifier.history_
    assert len(history) == 40
    assert history[-1] < 0.5 * history[0]


@pytest.mark.parametrize("base, trained, fixed", [
    ("silu", "w_silu", "w_lin"), ("linear", "w_lin", "w_silu"), ("none", None, "w_lin"),
])
def test_base_option_selects_trainable_weights(base, trained, fixed):
    X, y = load_csv("iris")
    model = KANClassifier(base=base, epochs=10, seed=0).fit(X, y.astype(int)).model_
    assert model.base == base
    for layer in model.layers:
        assert not np.any(getattr(layer, fixed))
        if trained:
            assert np.any(getattr(layer, trained))
        else:
            assert not np.any(layer.w_silu)


def test_smoothness_penalty_lowers_curvature():
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, size=(300, 2))
    y = np.sign(x[:, 0]) + 0.3 * x[:, 1] + rng.normal(scale=0.3, size=300)

    def curvature(smooth):
        model = KANRegressor(hidden=(3,), grid=10, epochs=80, smooth_penalty=smooth, seed=0).fit(x, y).model_
        grams = smoothness_grams(model)
        return sum(smoothness_penalty(layer.coef, gram)[0] for layer, gram in zip(model.layers, grams))

    assert curvature(1.0) < 0.5 * curvature(0.0)


def test_l1_penalty_lowers_edge_activation():
    X, y = load_csv("wine")

    def total_activation(l1):
        model = KANClassifier(epochs=40, l1_penalty=l1, seed=0).fit(X, y.astype(int)).model_
        inputs = [model.standardize(X)]
        for layer in model.layers:
            inputs.append(layer.forward(inputs[-1]))
        return sum(np.abs(layer.edge_values(t)).mean(axis=0).sum() for layer, t in zip(model.layers, inputs))

    assert total_activation(0.05) < 0.5 * total_activation(0.0)


def test_train_function_with_explicit_model():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(64, 2))
    target = (z[:, :1] ** 2 - 1.0)
    model = FloatKAN.create([2, 1], grid=6, k=3, grid_range=(-3, 3), rng=0)
    history = train(model, z, target, loss="mse", lr=0.02, epochs=150, batch_size=16, rng=0)
    assert history[-1] < 0.05 * history[0]


# ---------------------------------------------------------------------- classifier outputs

def test_classifier_string_labels_and_probabilities():
    X, y = load_csv("iris")
    names = np.array(["setosa", "versicolor", "virginica"])[y.astype(int)]
    classifier = KANClassifier(epochs=30, seed=0).fit(X, names)
    np.testing.assert_array_equal(classifier.classes_, names[np.sort(np.unique(names, return_index=True)[1])])
    np.testing.assert_array_equal(classifier.model_.classes, classifier.classes_)
    probabilities = classifier.predict_proba(X)
    assert probabilities.shape == (len(X), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    predicted = classifier.predict(X)
    np.testing.assert_array_equal(predicted, classifier.classes_[np.argmax(probabilities, axis=1)])
    assert set(predicted) <= set(names)


def test_binary_classifier_has_two_logits():
    X, y = load_csv("breast_cancer")
    classifier = KANClassifier(epochs=5, seed=0).fit(X, y.astype(int))
    assert classifier.model_.widths[-1] == 2
    assert classifier.decision_function(X[:4]).shape == (4, 2)


# ---------------------------------------------------------------------- validation

@pytest.mark.parametrize("param, value", [
    ("hidden", (8, 0)), ("hidden", "8"), ("grid", 0), ("grid", 2.5), ("k", -1), ("base", "relu"),
    ("lr", 0.0), ("lr", float("nan")), ("epochs", 0), ("batch_size", 0), ("smooth_penalty", -1.0),
    ("l1_penalty", float("inf")), ("grid_margin", -0.1), ("seed", -3), ("seed", 1.5),
])
def test_invalid_parameter_is_named(param, value):
    X, y = load_csv("iris")
    with pytest.raises(InvalidParameterError, match=re.escape(f"{param}={value!r}")):
        KANClassifier(**{param: value}).fit(X, y)


def test_unknown_parameter_rejected():
    with pytest.raises(InvalidParameterError, match="unknown parameter 'depth'"):
        KANRegressor().set_params(depth=3)


def test_get_params_roundtrip():
    regressor = KANRegressor(grid=7, seed=9)
    params = regressor.get_params()
    assert params["grid"] == 7
    assert params["seed"] == 9
    assert KANRegressor(**params).get_params() == params


@pytest.mark.parametrize("estimator", [KANRegressor, KANClassifier])
def test_nan_and_inf_rejected(estimator):
    X, y = load_csv("iris")
    bad_x = X.copy()
    bad_x[5, 2] = np.nan
    with pytest.raises(DataError, match="row 5, column 2"):
        estimator(epochs=1).fit(bad_x, y)
    bad_y = y.copy()
    bad_y[7] = np.inf
    with pytest.raises(DataError, match="row 7"):
        estimator(epochs=1).fit(X, bad_y)


@pytest.mark.parametrize("estimator", [KANRegressor, KANClassifier])
def test_wrong_shapes_rejected(estimator):
    X, y = load_csv("iris")
    with pytest.raises(DataError, match="2-D"):
        estimator(epochs=1).fit(X[:, 0], y)
    with pytest.raises(DataError, match="to match X"):
        estimator(epochs=1).fit(X, y[:-1])
    with pytest.raises(DataError, match="numeric"):
        estimator(epochs=1).fit([["a", "b"]], [1])
    fitted = estimator(epochs=1).fit(X, y)
    with pytest.raises(DataError, match="fitted with 4"):
        fitted.predict(X[:, :3])


def test_single_class_rejected():
    X, _ = load_csv("iris")
    with pytest.raises(DataError, match="single class"):
        KANClassifier(epochs=1).fit(X, np.zeros(len(X)))


def test_predict_before_fit_rejected():
    with pytest.raises(KancError, match="not fitted"):
        KANRegressor().predict(np.zeros((2, 2)))


def test_constant_feature_is_tolerated():
    X, y = load_csv("iris")
    X = np.column_stack([X, np.full(len(X), 7.0)])
    classifier = KANClassifier(epochs=20, seed=0).fit(X, y.astype(int))
    assert classifier.model_.x_scale[-1] == 1.0
    assert np.all(np.isfinite(classifier.predict_proba(X)))


# ---------------------------------------------------------------------- progress bar

class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_on_terminal():
    stream = FakeTerminal()
    bar = ProgressBar(3, enabled=True, stream=stream, refresh_hz=1e9)
    for epoch in (1, 2, 3):
        bar.update(epoch, 0.25)
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert "epoch 3/3" in text
    assert "loss 0.25" in text
    assert "epochs/s" in text
    assert text.endswith("\n")


def test_progress_bar_silent_when_not_terminal_or_disabled():
    plain = io.StringIO()
    bar = ProgressBar(5, enabled=True, stream=plain)
    bar.update(5, 1.0)
    bar.close()
    assert plain.getvalue() == ""

    terminal = FakeTerminal()
    bar = ProgressBar(5, enabled=False, stream=terminal)
    bar.update(5, 1.0)
    bar.close()
    assert terminal.getvalue() == ""


def test_verbose_training_is_silent_on_captured_stderr(capsys):
    X, y = load_csv("iris")
    KANClassifier(epochs=3, verbose=True).fit(X, y.astype(int))
    assert capsys.readouterr().err == ""
