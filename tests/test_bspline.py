"""Tests of the B-spline basis against scipy.interpolate.BSpline, an independent implementation."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanc.model.bspline import basis, basis_count, basis_derivative, basis_with_derivative, uniform_knots

scipy_interpolate = pytest.importorskip("scipy.interpolate")

KNOT_SETS = {
    "uniform": np.linspace(-2.0, 2.0, 12),
    "nonuniform": np.array([-3.0, -2.2, -1.9, -0.4, 0.0, 0.15, 0.9, 1.7, 2.0, 3.6, 4.0]),
    "repeated_interior": np.array([0.0, 0.4, 1.0, 1.0, 1.3, 2.0, 2.0, 2.0, 2.6, 3.1, 3.5, 4.0]),
    "clamped": np.array([0.0, 0.0, 0.0, 0.0, 0.5, 1.2, 2.0, 2.0, 2.0, 2.0]),
}


def scipy_basis(x, knots, k, order=0):
    """Evaluate every basis function (or its derivative) with scipy's basis_element, zero off its support."""
    count = len(knots) - k - 1
    out = np.zeros((len(x), count))
    for b in range(count):
        element = scipy_interpolate.BSpline.basis_element(knots[b:b + k + 2], extrapolate=False)
        out[:, b] = np.nan_to_num(element(x, nu=order), nan=0.0)
    return out


def off_knot_points(knots, count=997):
    """Return points spanning a little beyond the knot span, none of them equal to a knot."""
    span = knots[-1] - knots[0]
    x = np.linspace(knots[0] - 0.1 * span, knots[-1] + 0.1 * span, count)
    return x[np.min(np.abs(x[:, None] - knots[None, :]), axis=1) > 1e-9]


@pytest.mark.parametrize("name", sorted(KNOT_SETS))
@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("order", [0, 1, 2])
def test_basis_matches_scipy(name, k, order):
    knots = KNOT_SETS[name]
    if len(knots) < k + 2:
        pytest.skip("too few knots for this degree")
    x = off_knot_points(knots)

    ours = basis_derivative(x[:, None], knots[None, :], k, order)[:, 0, :]
    reference = scipy_basis(x, knots, k, order) if order <= k else np.zeros_like(ours)

    scale = max(1.0, np.abs(reference).max())
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_basis_at_interior_knots_matches_scipy(k):
    # With distinct knots the basis is continuous for k >= 1, so the value at a knot is unambiguous.
    knots = KNOT_SETS["nonuniform"]
    x = knots[1:-1]
    ours = basis(x[:, None], knots[None, :], k)[:, 0, :]
    np.testing.assert_allclose(ours, scipy_basis(x, knots, k), rtol=0, atol=1e-14)


def test_basis_several_inputs_use_own_knots():
    knots = np.stack([KNOT_SETS["uniform"][:11], KNOT_SETS["nonuniform"]])
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.uniform(-2.5, 2.5, 200), rng.uniform(-3.5, 4.5, 200)])
    values = basis(x, knots, 3)
    assert values.shape == (200, 2, 7)
    for i in range(2):
        np.testing.assert_allclose(values[:, i, :], scipy_basis(x[:, i], knots[i], 3), rtol=0, atol=1e-14)


def test_basis_zero_outside_half_open_span():
    knots = KNOT_SETS["nonuniform"][None, :]
    x = np.array([[knots[0, 0] - 1e-9], [knots[0, -1]], [knots[0, -1] + 5.0]])
    for order in (0, 1, 2):
        assert not np.any(basis_derivative(x, knots, 3, order))


def test_basis_nan_input_gives_nan():
    knots = KNOT_SETS["uniform"][None, :]
    x = np.array([[0.3], [np.nan]])
    for order in (0, 1, 2, 4):
        values = basis_derivative(x, knots, 3, order)
        assert np.all(np.isnan(values[1]))
        assert not np.any(np.isnan(values[0]))


def test_basis_left_end_is_included():
    knots = KNOT_SETS["clamped"][None, :]
    at_left = basis(np.array([[0.0]]), knots, 3)[0, 0]
    expected = np.zeros(basis_count(knots, 3))
    expected[0] = 1.0
    np.testing.assert_array_equal(at_left, expected)


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 3.0), min_size=9, max_size=16),
       k=st.integers(0, 4), position=st.floats(0.0, 1.0, exclude_max=True))
def test_partition_of_unity_on_base_interval(gaps, k, position):
    # On [t_k, t_{M-k-1}) the degree-k basis sums to 1 for any non-decreasing knots.
    knots = np.concatenate([[0.0], np.cumsum(gaps)])
    lo, hi = knots[k], knots[len(knots) - k - 1]
    if hi - lo < 1e-6:
        return
    x = np.array([[lo + position * (hi - lo)]])
    total = basis(x, knots[None, :], k).sum()
    assert abs(total - 1.0) < 1e-12


def test_uniform_knots_layout():
    knots = uniform_knots(np.array([-1.0, 0.0]), np.array([1.0, 10.0]), G=4, k=3, n_in=2)
    assert knots.shape == (2, 4 + 2 * 3 + 1)
    np.testing.assert_allclose(knots[0], np.arange(-3, 8) * 0.5 - 1.0)
    np.testing.assert_allclose(knots[1], np.arange(-3, 8) * 2.5)
    assert basis_count(knots, 3) == 4 + 3


def test_uniform_knots_scalar_bounds_broadcast():
    knots = uniform_knots(-2.0, 2.0, G=5, k=2, n_in=3)
    assert knots.shape == (3, 10)
    np.testing.assert_array_equal(knots[0], knots[2])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"lo": 1.0, "hi": 1.0, "G": 5, "k": 3}, "empty"),
    ({"lo": 0.0, "hi": 1.0, "G": 0, "k": 3}, "G=0"),
    ({"lo": 0.0, "hi": 1.0, "G": 5, "k": -1}, "k=-1"),
    ({"lo": 0.0, "hi": np.inf, "G": 5, "k": 3}, "finite"),
])
def test_uniform_knots_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        uniform_knots(n_in=2, **kwargs)


def test_basis_rejects_mismatched_shapes():
    knots = uniform_knots(0.0, 1.0, 5, 3, 2)
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        basis(np.zeros((4, 3)), knots, 3)
    with pytest.raises(ValueError, match="M >= k \\+ 2"):
        basis(np.zeros((4, 2)), knots[:, :4], 3)
    with pytest.raises(ValueError, match="order"):
        basis_derivative(np.zeros((4, 2)), knots, 3, order=-1)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_basis_with_derivative_equals_separate_calls(k):
    rng = np.random.default_rng(k)
    knots = np.stack([KNOT_SETS["nonuniform"], KNOT_SETS["repeated_interior"][:11]])
    x = rng.uniform(-4.0, 5.0, size=(300, 2))
    values, slope = basis_with_derivative(x, knots, k)
    np.testing.assert_array_equal(values, basis(x, knots, k))
    np.testing.assert_array_equal(slope, basis_derivative(x, knots, k, 1))
