"""Tests of symbolic suggestions: single-function fits, domain guards, and recovery of a known formula."""
import warnings

import numpy as np
import pytest

from kanc.model.kan import FloatKAN
from kanc.model.symbolic import (LIBRARY, LibraryFunction, fit_candidate, suggest_edge, suggest_symbolic,
                                 symbolic_formula)
from kanc.train.estimators import KANRegressor

FUNCTIONS = {function.name: function for function in LIBRARY}


def evaluate(fit, t):
    """Evaluate a CandidateFit at ``t`` from its parameters alone."""
    return fit.c * FUNCTIONS[fit.name].function(fit.a * t + fit.b) + fit.d


@pytest.mark.parametrize("name, truth", [
    ("sin", lambda t: 2.0 * np.sin(3.0 * t + 0.5) - 1.0),
    ("exp", lambda t: 0.3 * np.exp(1.7 * t) + 2.0),
    ("x^2", lambda t: -4.0 * (t - 0.3) ** 2),
    ("log", lambda t: np.log(t + 2.0)),
    ("sqrt", lambda t: 5.0 * np.sqrt(2.0 * t + 2.5)),
    ("1/x", lambda t: 1.0 / (t + 3.0)),
])
def test_fit_recovers_function(name, truth):
    t = np.linspace(-1.0, 1.0, 120)
    fit = fit_candidate(t, truth(t), FUNCTIONS[name])
    assert fit.r2 > 0.9999
    assert np.abs(evaluate(fit, t) - truth(t)).max() < 1e-2 * np.ptp(truth(t))


def test_fit_works_at_any_input_scale():
    t = np.linspace(200.0, 260.0, 100)
    values = np.sin(0.2 * t)
    fit = fit_candidate(t, values, FUNCTIONS["sin"])
    assert fit.r2 > 0.9999


def test_best_candidate_is_simplest_good_fit():
    t = np.linspace(-1.0, 1.0, 100)
    ranking = suggest_edge(t, 3.0 * t ** 2 + 1.0)
    assert ranking[0].name == "x^2"
    # cos(a t) with small a fits nearly as well, but costs more.
    assert {"sin", "gaussian"} <= {fit.name for fit in ranking[1:]}


def test_domain_errors_never_warn_or_raise():
    t = np.linspace(-1.0, 1.0, 80)
    values = 2.0 * np.abs(t - 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ranking = suggest_edge(t, values)
    names = {fit.name for fit in ranking}
    assert {"log", "sqrt", "1/x"} <= names
    assert all(np.isfinite(fit.r2) for fit in ranking)
    assert ranking[0].name == "abs"


def test_candidate_invalid_over_range_is_left_out():
    never = LibraryFunction("never", np.log, "never({u})", 1, domain=lambda u: u > 1e9)
    t = np.linspace(0.0, 1.0, 50)
    assert fit_candidate(t, t, never) is None
    assert [fit.name for fit in suggest_edge(t, t, library=(never, FUNCTIONS["x"]))] == ["x"]


def test_constant_and_masked_edges_get_constants():
    model = FloatKAN.create([2, 1], grid=4, rng=0)
    layer = model.layers[0]
    layer.coef[0, 0] = 0.5
    layer.w_silu[0, 0] = 0.0
    layer.edge_mask[0, 1] = False
    layer.apply_edge_mask()
    x = np.random.default_rng(0).uniform(-0.9, 0.9, (50, 2))

    suggestions = suggest_symbolic(model, x)

    assert [s.best for s in suggestions] == [None, None]
    assert suggestions[0].constant == pytest.approx(0.5)
    assert symbolic_formula(model, suggestions) == [f"{0.5 + layer.bias[0]:.4g}"]


@pytest.fixture(scope="module")
def recovered():
    """A [2, 1, 1] KAN trained with L-BFGS on y = exp(sin(pi x1) + x2^2), x uniform in [-1, 1]^2."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1000, 2))
    y = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)
    regressor = KANRegressor(hidden=(1,), grid=10, optimizer="lbfgs", epochs=300, smooth_penalty=0.0,
                             seed=0).fit(X, y)
    return regressor, X, y, suggest_symbolic(regressor.model_, X)


def test_known_formula_is_recovered(recovered):
    regressor, X, y, suggestions = recovered
    assert regressor.score(X, y) > 0.999
    best = {(s.layer, s.node, s.input): s.best for s in suggestions}
    assert best[(0, 0, 0)].name == "sin"
    assert best[(0, 0, 1)].name == "x^2"
    assert best[(1, 0, 0)].name == "exp"
    for fit in best.values():
        assert fit.r2 > 0.99
    # sin(a x1 + b) must have the period of sin(pi x1).
    assert abs(best[(0, 0, 0)].a) == pytest.approx(np.pi, rel=0.02)


def test_formula_matches_the_data(recovered):
    regressor, X, y, suggestions = recovered
    formula, = symbolic_formula(regressor.model_, suggestions, input_names=["x1", "x2"], precision=8)
    predicted = eval(formula.replace("^", "**"), {"sin": np.sin, "exp": np.exp, "x1": X[:, 0], "x2": X[:, 1]})
    r2 = 1.0 - np.sum((predicted - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.99


def test_affine_term_brackets_compound_argument():
    from kanc.model.symbolic import CandidateFit

    fit = CandidateFit(name="x", a=1.0, b=0.0, c=2.0, d=0.0, r2=1.0, complexity=1, cost=0.0,
                       template="{u}", affine=True)
    assert fit.term("a + b") == "2*(a + b)"
    assert fit.term("a") == "2*a"
