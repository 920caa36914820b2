"""Tests of L-BFGS training and early stopping on a validation split."""
import numpy as np
import pytest

from kanc.model.kan import FloatKAN
from kanc.train.backprop import objective
from kanc.train.estimators import InvalidParameterError, KANClassifier, KANRegressor, _validation_split
from kanc.train.lbfgs import ParameterVector
from kanc.train.losses import mse_loss
from kanc.train.trainer import fit_grids_to_data, run_training, trainable_names


def small_problem(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    y = np.sin(2 * x[:, 0]) * np.cos(x[:, 1])
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    return z, ((y - y.mean()) / y.std())[:, None]


def fresh_model(z, seed=0):
    model = FloatKAN.create([2, 3, 1], grid=5, rng=seed)
    return fit_grids_to_data(model, z)


def test_parameter_vector_round_trip():
    model = FloatKAN.create([3, 4, 2], rng=1)
    originals = [layer.copy() for layer in model.layers]
    vector = ParameterVector(model, trainable_names("silu"))
    packed = vector.pack()
    assert packed.size == sum(layer.coef.size + layer.bias.size + layer.w_silu.size for layer in model.layers)

    vector.unpack(packed * 2.0)
    for layer, original in zip(model.layers, originals):
        for name in ("coef", "bias", "w_silu"):
            np.testing.assert_array_equal(getattr(layer, name), 2.0 * getattr(original, name))
        np.testing.assert_array_equal(layer.w_lin, original.w_lin)


def test_lbfgs_beats_a_few_adam_epochs():
    z, target = small_problem()
    adam = fresh_model(z)
    lbfgs = fresh_model(z)
    run_training(adam, z, target, optimizer="adam", lr=0.01, epochs=5, batch_size=32, rng=0)
    result = run_training(lbfgs, z, target, optimizer="lbfgs", epochs=50)

    adam_loss, _, _ = objective(adam, z, target)
    lbfgs_loss, _, _ = objective(lbfgs, z, target)
    assert lbfgs_loss < 0.1 * adam_loss
    assert result.loss[-1] == pytest.approx(lbfgs_loss, rel=1e-12)


def test_lbfgs_keeps_pruned_edges_zero():
    z, target = small_problem()
    model = fresh_model(z)
    model.layers[0].edge_mask[1, 0] = False
    model.layers[0].apply_edge_mask()
    run_training(model, z, target, optimizer="lbfgs", epochs=20)
    assert np.all(model.layers[0].coef[1, 0] == 0)
    assert model.layers[0].w_silu[1, 0] == 0
    assert model.layers[0].w_silu[0, 0] != 0


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_early_stopping_restores_best_epoch(optimizer):
    # 40 noisy samples, a wide fine-grid model and no penalty: the model overfits
    # soon, so the validation loss turns upwards long before max epochs.
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (60, 1))
    y = np.sin(3 * x[:, 0]) + rng.normal(0, 0.5, 60)
    z = (x - x.mean()) / x.std()
    target = ((y - y.mean()) / y.std())[:, None]
    fit, held_out = np.arange(40), np.arange(40, 60)
    model = FloatKAN.create([1, 16, 1], grid=20, rng=0)
    fit_grids_to_data(model, z[fit])

    epochs, patience = 2000, 15
    result = run_training(model, z[fit], target[fit], optimizer=optimizer, lr=0.05, epochs=epochs,
                          batch_size=40, validation=(z[held_out], target[held_out]), patience=patience)

    assert result.epochs_run < epochs
    assert result.epochs_run == result.best_epoch + patience
    assert result.best_epoch == int(np.argmin(result.validation_loss)) + 1
    restored_loss, _ = mse_loss(model.forward_internal(z[held_out]), target[held_out])
    assert restored_loss == min(result.validation_loss)
    assert restored_loss < result.validation_loss[-1]


def test_estimator_early_stopping_and_lbfgs():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (150, 2))
    y = X[:, 0] ** 2 + 0.5 * X[:, 1] + rng.normal(0, 0.3, 150)
    regressor = KANRegressor(hidden=(4,), optimizer="lbfgs", epochs=500, validation_fraction=0.25,
                             patience=5, smooth_penalty=0.0, seed=0).fit(X, y)
    assert regressor.n_epochs_ < 500
    assert regressor.n_epochs_ == regressor.best_epoch_ + 5
    assert len(regressor.validation_history_) == regressor.n_epochs_
    assert regressor.score(X, y) > 0.5


def test_validation_split_is_stratified():
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    held_out = _validation_split(len(labels), 0.2, np.random.default_rng(0), labels)
    assert [int(np.sum(held_out & (labels == c))) for c in range(3)] == [10, 6, 4]


def test_classifier_with_validation_split():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    classifier = KANClassifier(hidden=(3,), epochs=40, validation_fraction=0.2, patience=40, seed=0).fit(X, y)
    assert classifier.best_epoch_ >= 1
    assert classifier.score(X, y) > 0.9


@pytest.mark.parametrize("param, value, message", [
    ("optimizer", "sgd", "optimizer='sgd' is invalid"),
    ("validation_fraction", 1.0, "validation_fraction=1.0 is invalid"),
    ("patience", 0, "patience=0 is invalid"),
    ("grid_update_every", -1, "grid_update_every=-1 is invalid"),
    ("grid_eps", 2.0, "grid_eps=2.0 is invalid"),
])
def test_estimator_rejects_invalid_training_options(param, value, message):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(InvalidParameterError, match=message):
        KANRegressor(**{param: value}).fit(X, X[:, 0])
