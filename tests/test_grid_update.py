"""Tests of grid update from samples and grid refinement: knot placement and preservation of the edge functions."""
import numpy as np
import pytest

from kanc.errors import DataError
from kanc.model.bspline import basis
from kanc.model.grid import (blended_grid_points, extend_points, grid_points, refine_grid,
                             update_grid_from_samples, update_layer_grid)
from kanc.model.kan import FloatKAN
from kanc.train.trainer import fit_grids_to_data, run_training


def cubic_layer(knots, k=3, n_out=2, seed=0):
    """Return a layer whose spline part is, on each edge, a random cubic polynomial inside the knots' interior.

    B-splines of degree 3 reproduce cubics exactly between knots[k] and
    knots[-k-1], so the coefficients come from a least-squares fit on samples there.
    """
    rng = np.random.default_rng(seed)
    model = FloatKAN.create([knots.shape[0], n_out], grid=knots.shape[1] - 2 * k - 1, k=k, rng=seed)
    layer = model.layers[0]
    layer.knots = knots.copy()
    polynomials = rng.normal(size=(n_out, knots.shape[0], 4))
    for i in range(knots.shape[0]):
        t = np.linspace(knots[i, k], knots[i, -k - 1], 200)
        design = basis(t[:, None], knots[i:i + 1], k)[:, 0, :]
        for j in range(n_out):
            values = np.polyval(polynomials[j, i], t)
            layer.coef[j, i], *_ = np.linalg.lstsq(design, values, rcond=None)
    return layer, polynomials


@pytest.fixture(scope="module")
def trained_model():
    """A [2, 5, 1] KAN trained with Adam on y = exp(sin(pi x1) + x2^2), and its standardised inputs."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (500, 2))
    y = np.exp(np.sin(np.pi * x[:, 0]) + x[:, 1] ** 2)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    target = ((y - y.mean()) / y.std())[:, None]
    model = FloatKAN.create([2, 5, 1], grid=5, rng=0)
    fit_grids_to_data(model, z)
    run_training(model, z, target, lr=0.02, epochs=50, rng=0)
    return model, z, target


# ---------------------------------------------------------------------- knot placement

def test_grid_eps_one_gives_uniform_points():
    samples = np.random.default_rng(1).exponential(size=300)
    points = blended_grid_points(samples, 6, grid_eps=1.0)
    np.testing.assert_allclose(points, np.linspace(samples.min(), samples.max(), 7), rtol=0, atol=1e-12)


def test_grid_eps_zero_gives_quantile_points():
    samples = np.random.default_rng(2).normal(size=101)
    ordered = np.sort(samples)
    expected = [ordered[int(101 / 4 * m)] for m in range(4)] + [ordered[-1]]
    np.testing.assert_array_equal(blended_grid_points(samples, 4, grid_eps=0.0), expected)


def test_blend_is_linear_in_grid_eps():
    samples = np.random.default_rng(3).gamma(2.0, size=200)
    uniform = blended_grid_points(samples, 5, grid_eps=1.0)
    adaptive = blended_grid_points(samples, 5, grid_eps=0.0)
    np.testing.assert_allclose(blended_grid_points(samples, 5, grid_eps=0.3), 0.3 * uniform + 0.7 * adaptive,
                               rtol=0, atol=1e-12)


def test_margin_widens_end_points_only():
    samples = np.linspace(0.0, 2.0, 50)
    plain = blended_grid_points(samples, 4, grid_eps=1.0)
    wide = blended_grid_points(samples, 4, grid_eps=1.0, margin=0.1)
    assert wide[0] == pytest.approx(-0.2)
    assert wide[-1] == pytest.approx(2.2)
    np.testing.assert_array_equal(wide[1:-1], plain[1:-1])


def test_extension_spacing_is_span_over_grid():
    points = np.array([[0.0, 1.0, 3.0, 4.0]])
    knots = extend_points(points, 2)
    np.testing.assert_allclose(knots, [[-8 / 3, -4 / 3, 0.0, 1.0, 3.0, 4.0, 16 / 3, 20 / 3]])


def test_constant_feature_gets_unit_grid():
    points = blended_grid_points(np.full(40, 3.5), 4)
    np.testing.assert_allclose(points, np.linspace(2.5, 4.5, 5))


# ---------------------------------------------------------------------- function preservation

def test_update_reproduces_cubic_spline_on_data():
    knots = extend_points(np.linspace([-2.0, -1.0], [2.0, 3.0], 6).T, 3)
    layer, _ = cubic_layer(knots)
    rng = np.random.default_rng(4)
    t = np.stack([rng.normal(0.0, 0.6, 400).clip(-1.9, 1.9), rng.uniform(-0.5, 2.5, 400)], axis=1)
    before = layer.edge_values(t)

    update_layer_grid(layer, t, grid_eps=0.02)

    assert not np.allclose(layer.knots, knots)
    np.testing.assert_allclose(layer.edge_values(t), before, rtol=0, atol=1e-9)


def test_update_changes_trained_model_little_on_data(trained_model):
    model, z, _ = trained_model
    updated = model.copy()
    update_grid_from_samples(updated, z, grid_eps=0.02)
    before = model.forward_internal(z)
    change = np.abs(updated.forward_internal(z) - before).max()
    # Measured 0.12 on an output range of 4.7: the hidden inputs had drifted past their
    # knots, where a cubic on the old knots is not a cubic on the new ones.
    assert change < 0.05 * np.ptp(before)


def test_update_on_discrete_feature_repeats_knots():
    knots = extend_points(np.linspace([-1.0], [3.0], 9).T, 3)
    layer, _ = cubic_layer(knots, n_out=1)
    t = np.random.default_rng(5).integers(0, 3, size=(300, 1)).astype(float)
    before = layer.edge_values(t)

    update_layer_grid(layer, t, grid_eps=0.0)

    steps = np.diff(layer.knots[0])
    assert np.all(steps >= 0)
    assert np.any(steps == 0)
    assert np.all(np.isfinite(layer.coef))
    np.testing.assert_allclose(layer.edge_values(t), before, rtol=0, atol=1e-9)


def test_update_on_constant_feature_keeps_values():
    knots = extend_points(np.linspace([-2.0, -2.0], [2.0, 2.0], 6).T, 3)
    layer, _ = cubic_layer(knots, seed=6)
    t = np.stack([np.full(100, 0.7), np.linspace(-1.5, 1.5, 100)], axis=1)
    before = layer.edge_values(t)

    update_layer_grid(layer, t)

    np.testing.assert_allclose(grid_points(layer.knots, 3)[0, [0, -1]], [-0.3, 1.7])
    np.testing.assert_allclose(layer.edge_values(t), before, rtol=0, atol=1e-9)


def test_update_keeps_pruned_edges_zero(trained_model):
    model, z, _ = trained_model
    pruned = model.copy()
    pruned.layers[0].edge_mask[2, 1] = False
    pruned.layers[0].apply_edge_mask()
    update_grid_from_samples(pruned, z)
    assert np.all(pruned.layers[0].coef[2, 1] == 0)
    assert pruned.layers[0].w_silu[2, 1] == 0


def test_training_with_updates_keeps_hidden_inputs_on_grid(trained_model):
    model, z, target = trained_model
    drifting = model.copy()
    run_training(drifting, z, target, lr=0.02, epochs=20, rng=1)
    updated = model.copy()
    result = run_training(updated, z, target, lr=0.02, epochs=20, rng=1, grid_update_every=5,
                          grid_update_until=20)

    def outside(trained):
        hidden = trained.layers[0].forward(z)
        points = grid_points(trained.layers[1].knots, trained.layers[1].k)
        return np.sum((hidden < points[:, 0]) | (hidden > points[:, -1]))

    assert result.grid_updates == 4
    assert outside(drifting) > 0
    assert outside(updated) == 0


# ---------------------------------------------------------------------- refinement

def test_refine_to_multiple_reproduces_spline_everywhere(trained_model):
    model, _, _ = trained_model
    refined = refine_grid(model, 10)
    assert refined.layers[0].n_basis == 13
    for old, new in zip(model.layers, refined.layers):
        t = np.linspace(old.knots[:, 0], old.knots[:, -1], 3001)[:-1]
        scale = np.abs(old.edge_values(t)).max()
        np.testing.assert_allclose(new.edge_values(t), old.edge_values(t), rtol=0, atol=1e-12 * scale)


def test_refine_to_non_multiple_stays_close(trained_model):
    model, z, _ = trained_model
    refined = refine_grid(model, 8)
    before = model.forward_internal(z)
    assert np.abs(refined.forward_internal(z) - before).max() < 0.02 * np.ptp(before)


def test_refine_from_data_covers_hidden_inputs(trained_model):
    model, z, _ = trained_model
    refined = refine_grid(model, 12, z=z)
    hidden = refined.layers[0].forward(z)
    points = grid_points(refined.layers[1].knots, 3)
    assert np.all((hidden >= points[:, 0]) & (hidden <= points[:, -1]))
    before = model.forward_internal(z)
    assert np.abs(refined.forward_internal(z) - before).max() < 0.05 * np.ptp(before)


# ---------------------------------------------------------------------- invalid input

@pytest.mark.parametrize("kwargs, message", [
    ({"grid_eps": 1.5}, "grid_eps=1.5 must be in"),
    ({"t": np.array([[np.nan, 0.0]])}, "NaN or infinite"),
    ({"t": np.zeros((3, 5))}, r"shape \(N >= 1, 2\)"),
])
def test_update_rejects_invalid_input(kwargs, message):
    layer = FloatKAN.create([2, 1], rng=0).layers[0]
    t = kwargs.pop("t", np.zeros((4, 2)))
    with pytest.raises(DataError, match=message):
        update_layer_grid(layer, t, **kwargs)


def test_refine_rejects_invalid_grid():
    with pytest.raises(DataError, match="grid=0 must be a positive integer"):
        refine_grid(FloatKAN.create([2, 1], rng=0), 0)
