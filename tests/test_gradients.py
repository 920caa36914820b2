"""Gradient checks of the training objective against central finite differences (float64).

Every parameter kind (coef, w_lin, w_silu, bias), each penalty alone, and the
input gradient dL/dt are compared with (f(p + h) - f(p - h)) / 2h. The relative
error is ||numeric - analytic|| / ||numeric|| per array.
"""
import numpy as np
import pytest

from kanc.model.kan import FloatKAN, silu, silu_derivative
from kanc.train.backprop import PARAMETERS, layer_backward, objective, smoothness_grams
from kanc.train.losses import cross_entropy_loss, mse_loss, softmax
from kanc.train.penalties import l1_activation_penalty, smoothness_gram, smoothness_penalty

scipy_integrate = pytest.importorskip("scipy.integrate")
scipy_interpolate = pytest.importorskip("scipy.interpolate")

STEP = 1e-6
TOLERANCE = 1e-6


def dense_model(seed, widths=(3, 4, 2), grid=3, k=3):
    """Return a model whose every parameter kind is non-zero, so no gradient is trivially zero."""
    rng = np.random.default_rng(seed)
    model = FloatKAN.create(list(widths), grid=grid, k=k, base="silu", rng=rng, spline_noise=1.0)
    for layer in model.layers:
        layer.w_lin[:] = rng.normal(size=layer.w_lin.shape)
        layer.bias[:] = rng.normal(size=layer.bias.shape)
    return model


def numeric_gradient(function, array):
    """Return the central-difference gradient of the scalar ``function()`` with respect to ``array``.

    ``array`` is perturbed in place and restored after each entry.
    """
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + STEP
        upper = function()
        array[index] = original - STEP
        lower = function()
        array[index] = original
        grad[index] = (upper - lower) / (2 * STEP)
    return grad


def relative_error(numeric, analytic):
    return np.linalg.norm(numeric - analytic) / max(np.linalg.norm(numeric), 1e-300)


def batch(seed, loss, n=12, n_in=3, n_out=2):
    rng = np.random.default_rng(seed + 100)
    z = rng.normal(scale=0.8, size=(n, n_in))
    if loss == "mse":
        return z, rng.normal(size=(n, n_out))
    return z, rng.integers(0, n_out, size=n)


CASES = [
    ("mse", 0.0, 0.0),
    ("cross_entropy", 0.0, 0.0),
    ("mse", 0.5, 0.0),
    ("mse", 0.0, 0.3),
    ("cross_entropy", 0.2, 0.4),
]


@pytest.mark.parametrize("loss, smooth, l1", CASES)
@pytest.mark.parametrize("name", PARAMETERS)
def test_objective_gradient_matches_finite_differences(loss, smooth, l1, name):
    model = dense_model(seed=7)
    z, target = batch(7, loss)
    grams = smoothness_grams(model)
    _, _, grads = objective(model, z, target, loss, smooth, l1, grams)

    for index, layer in enumerate(model.layers):
        array = getattr(layer, name)
        numeric = numeric_gradient(lambda: objective(model, z, target, loss, smooth, l1, grams)[0], array)
        error = relative_error(numeric, grads[index][name])
        assert error < TOLERANCE, f"layer {index} {name}: relative error {error:.2e}"


@pytest.mark.parametrize("penalty", ["smooth", "l1"])
@pytest.mark.parametrize("name", PARAMETERS)
def test_penalty_gradient_alone(penalty, name):
    # The data loss is subtracted, so only the penalty's own gradient is checked.
    model = dense_model(seed=11)
    z, target = batch(11, "mse")
    weights = {"smooth": (1.0, 0.0), "l1": (0.0, 1.0)}[penalty]
    grams = smoothness_grams(model)

    def penalty_only():
        total, parts, _ = objective(model, z, target, "mse", *weights, grams)
        return total - parts["data"]

    _, _, with_penalty = objective(model, z, target, "mse", *weights, grams)
    _, _, without = objective(model, z, target, "mse", 0.0, 0.0)
    for index, layer in enumerate(model.layers):
        analytic = with_penalty[index][name] - without[index][name]
        numeric = numeric_gradient(penalty_only, getattr(layer, name))
        if penalty == "smooth" and name != "coef":
            assert not np.any(analytic), f"smoothness penalty must not depend on {name}"
            assert np.abs(numeric).max() < 1e-6
            continue
        if penalty == "l1" and name == "bias" and index == model.n_layers - 1:
            # The last bias moves no edge input, while earlier biases shift the next layer's inputs.
            assert not np.any(analytic)
            continue
        error = relative_error(numeric, analytic)
        assert error < TOLERANCE, f"layer {index} {name}: relative error {error:.2e}"


def test_input_gradient_matches_finite_differences():
    model = dense_model(seed=5)
    layer = model.layers[0]
    z, _ = batch(5, "mse")
    upstream = np.random.default_rng(9).normal(size=(len(z), layer.n_out))

    def weighted_output():
        return float(np.sum(upstream * layer.forward(z)))

    _, cache = model.forward_with_cache(z)
    _, grad_t = layer_backward(layer, cache[0], upstream, need_input_grad=True)
    assert relative_error(numeric_gradient(weighted_output, z), grad_t) < TOLERANCE


def test_l1_input_gradient_matches_finite_differences():
    model = dense_model(seed=6)
    layer = model.layers[1]
    t = np.random.default_rng(4).normal(size=(12, layer.n_in))

    def entry():
        return {"t": t, "basis": layer.basis(t), "silu": silu(t)}

    def penalty():
        return l1_activation_penalty(layer, entry(), False)[0]

    _, _, grad_t = l1_activation_penalty(layer, entry(), True)
    assert relative_error(numeric_gradient(penalty, t), grad_t) < TOLERANCE


def test_l1_penalty_is_mean_absolute_edge_activation():
    model = dense_model(seed=8)
    z, target = batch(8, "mse", n=40)
    inputs = [z]
    for layer in model.layers:
        inputs.append(layer.forward(inputs[-1]))
    expected = sum(np.abs(layer.edge_values(t)).mean(axis=0).sum() for layer, t in zip(model.layers, inputs))

    _, parts, _ = objective(model, z, target, "mse", 0.0, 1.0)
    assert parts["l1"] == pytest.approx(expected, rel=1e-12)


KNOTS = {
    "uniform": np.linspace(-2.0, 2.0, 12),
    "nonuniform": np.array([-3.0, -2.2, -1.9, -0.4, 0.0, 0.15, 0.9, 1.7, 2.0, 3.6, 4.0]),
    "repeated": np.array([0.0, 0.4, 1.0, 1.0, 1.3, 2.0, 2.6, 3.1, 3.5, 4.0]),
}


@pytest.mark.parametrize("name", sorted(KNOTS))
@pytest.mark.parametrize("k", [2, 3, 4])
def test_smoothness_gram_matches_adaptive_quadrature(name, k):
    knots = KNOTS[name]
    coef = np.random.default_rng(k).normal(size=len(knots) - k - 1)

    def curvature_squared(x):
        total = 0.0
        for b in range(len(coef)):
            element = scipy_interpolate.BSpline.basis_element(knots[b:b + k + 2], extrapolate=False)
            value = element(x, nu=2)
            total += coef[b] * (0.0 if np.isnan(value) else float(value))
        return total * total

    # scipy.integrate.quad per knot interval, independent of the Gauss–Legendre rule under test.
    reference = sum(scipy_integrate.quad(curvature_squared, a, b, epsabs=1e-13, epsrel=1e-12)[0]
                    for a, b in zip(knots[:-1], knots[1:]) if b > a)
    omega = smoothness_gram(knots[None, :], k)[0]
    assert coef @ omega @ coef == pytest.approx(reference, rel=1e-9)
    np.testing.assert_allclose(omega, omega.T, rtol=0, atol=1e-12 * np.abs(omega).max())


def test_smoothness_gram_is_zero_below_degree_two():
    for k in (0, 1):
        assert not np.any(smoothness_gram(KNOTS["uniform"][None, :], k))


def test_smoothness_penalty_sums_every_edge():
    rng = np.random.default_rng(2)
    knots = np.stack([KNOTS["uniform"][:11], KNOTS["nonuniform"]])
    omega = smoothness_gram(knots, 3)
    coef = rng.normal(size=(4, 2, 7))
    value, grad = smoothness_penalty(coef, omega)
    expected = sum(coef[j, i] @ omega[i] @ coef[j, i] for j in range(4) for i in range(2))
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad[1, 0], 2 * omega[0] @ coef[1, 0], rtol=1e-12)


def test_cross_entropy_value_and_stability():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]])
    labels = np.array([0, 2])
    loss, grad = cross_entropy_loss(logits, labels)
    row2 = -(0.3 - np.log(np.exp(0.1) + np.exp(0.2) + np.exp(0.3)))
    assert loss == pytest.approx((0.0 + row2) / 2, rel=1e-12)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)
    np.testing.assert_allclose(softmax(logits).sum(axis=1), 1.0, rtol=1e-15)


def test_mse_value_and_gradient():
    outputs = np.array([[1.0, 2.0], [3.0, 5.0]])
    targets = np.array([[0.0, 2.0], [3.0, 1.0]])
    loss, grad = mse_loss(outputs, targets)
    assert loss == pytest.approx((1.0 + 0.0 + 0.0 + 16.0) / 4)
    np.testing.assert_allclose(grad, 2 * (outputs - targets) / 4)


def test_silu_derivatives_match_finite_differences():
    t = np.linspace(-30, 30, 601)
    h = 1e-5
    first = (silu_derivative(t + h, 0) - silu_derivative(t - h, 0)) / (2 * h)
    second = (silu_derivative(t + h, 1) - silu_derivative(t - h, 1)) / (2 * h)
    np.testing.assert_allclose(silu_derivative(t, 1), first, rtol=0, atol=1e-8)
    np.testing.assert_allclose(silu_derivative(t, 2), second, rtol=0, atol=1e-8)
