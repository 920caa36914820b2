"""Edge and node importance measured through the float-model protocol."""
import math

import numpy as np
import pytest

import kanc.model.importance as importance
from kanc.errors import DataError, KancError
from kanc.model.importance import edge_importance, node_importance
from kanc.model.kan import FloatKAN


class AnalyticKAN:
    """A [2, 2, 1] protocol model with closed-form edges.

    Layer 0: phi_00 = 2 t, phi_01 = 0 (dead), phi_10 = t^2, phi_11 = 5 (constant),
    biases (0.5, 0). Layer 1: psi_00 = h, psi_01 = -h / 2, bias 0.
    """

    task = "regression"
    widths = [2, 2, 1]

    def edge_values(self, layer, t):
        t = np.asarray(t, dtype=np.float64)
        values = np.zeros((len(t), self.widths[layer + 1], self.widths[layer]))
        if layer == 0:
            values[:, 0, 0] = 2.0 * t[:, 0]
            values[:, 1, 0] = t[:, 0] ** 2
            values[:, 1, 1] = 5.0
        else:
            values[:, 0, 0] = t[:, 0]
            values[:, 0, 1] = -0.5 * t[:, 1]
        return values

    def node_bias(self, layer):
        return np.array([0.5, 0.0]) if layer == 0 else np.array([0.0])

    def layer_inputs(self, x):
        values = [np.asarray(x, dtype=np.float64)]
        for layer in range(2):
            values.append(self.edge_values(layer, values[-1]).sum(axis=2) + self.node_bias(layer))
        return values


# x0 = -1, 0, 1, 2 drives every live edge, and x1 only feeds the dead and the constant edge.
ANALYTIC_X = np.array([[-1.0, 1.0], [0.0, 2.0], [1.0, 3.0], [2.0, 4.0]])

# Hand computation on ANALYTIC_X (population standard deviations):
#   2 x0      = -2, 0, 2, 4      mean 1,    squared deviations 9 + 1 + 1 + 9       -> std sqrt(5)
#   x0^2      = 1, 0, 1, 4       mean 1.5,  0.25 + 2.25 + 0.25 + 6.25 = 9          -> std 1.5
#   h0 = 2 x0 + 0.5 -> std sqrt(5); h1 = x0^2 + 5 -> std 1.5; -h1 / 2 -> std 0.75
#   y = h0 - h1 / 2 = -4.5, -2, -0.5, 0, mean -1.75,
#       7.5625 + 0.0625 + 1.5625 + 3.0625 = 12.25                                   -> std 1.75
SQRT5 = math.sqrt(5.0)


def test_edge_importance_analytic_hand_values():
    scores = edge_importance(AnalyticKAN(), ANALYTIC_X)

    assert len(scores) == 2
    assert scores[0].shape == (2, 2)
    assert scores[1].shape == (1, 2)
    np.testing.assert_allclose(scores[0], [[SQRT5, 0.0], [1.5, 0.0]], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scores[1], [[SQRT5, 0.75]], rtol=1e-12)


def test_edge_importance_dead_below_live():
    scores = edge_importance(AnalyticKAN(), ANALYTIC_X)[0]

    dead, live = scores[0, 1], scores[0, 0]
    assert dead == 0.0
    assert live > 0.0
    assert dead < live


def test_constant_edge_scores_zero_spread():
    # phi_11 = 5 has a large magnitude but no spread: its value folds into the bias.
    scores = edge_importance(AnalyticKAN(), ANALYTIC_X)[0]
    assert scores[1, 1] == 0.0
    assert scores[1, 1] < scores[1, 0]


def test_node_importance_analytic_hand_values():
    nodes = node_importance(AnalyticKAN(), ANALYTIC_X)

    # incoming: max over the edges into each node. The model inputs have none.
    assert np.all(np.isinf(nodes.incoming[0]))
    np.testing.assert_allclose(nodes.incoming[1], [SQRT5, 1.5], rtol=1e-12)
    np.testing.assert_allclose(nodes.incoming[2], [SQRT5], rtol=1e-12)

    # outgoing: max over the edges leaving each node. x1 only feeds flat edges.
    np.testing.assert_allclose(nodes.outgoing[0], [SQRT5, 0.0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nodes.outgoing[1], [SQRT5, 0.75], rtol=1e-12)
    assert np.all(np.isinf(nodes.outgoing[2]))

    # attribution: the output starts at 1, and each edge passes on its share of the node's spread.
    hidden = [SQRT5 / 1.75, 0.75 / 1.75]
    np.testing.assert_allclose(nodes.attribution[2], [1.0])
    np.testing.assert_allclose(nodes.attribution[1], hidden, rtol=1e-12)
    # x0 feeds h0 (edge std sqrt(5) of node std sqrt(5)) and h1 (1.5 of 1.5): full shares of both.
    np.testing.assert_allclose(nodes.attribution[0], [hidden[0] + hidden[1], 0.0], rtol=1e-12, atol=1e-12)


def test_attribution_ranks_unused_feature_last():
    nodes = node_importance(AnalyticKAN(), ANALYTIC_X)
    assert nodes.attribution[0][1] == 0.0
    assert nodes.attribution[0][0] > 1.0


def test_constant_node_passes_no_attribution():
    # With x0 fixed every node is constant: no spread, no 0 / 0, all attributions 0.
    x = np.array([[1.0, 0.0], [1.0, 5.0], [1.0, -3.0]])
    nodes = node_importance(AnalyticKAN(), x)
    assert np.all(np.isfinite(nodes.attribution[0]))
    np.testing.assert_array_equal(nodes.attribution[0], [0.0, 0.0])
    np.testing.assert_array_equal(nodes.attribution[1], [0.0, 0.0])


def test_batched_spread_matches_numpy(monkeypatch):
    model = FloatKAN.create([3, 4, 2], rng=np.random.default_rng(5), spline_noise=1.0)
    x = np.random.default_rng(6).normal(3.0, 2.0, size=(301, 3))
    whole = edge_importance(model, x)

    # 4 * 3 values per row: batches of 2 rows, the last one shorter.
    monkeypatch.setattr(importance, "MAX_BATCH_VALUES", 24)
    batched = edge_importance(model, x)

    activations = model.layer_inputs(x)
    for layer in range(2):
        direct = model.edge_values(layer, activations[layer]).std(axis=0)
        np.testing.assert_allclose(whole[layer], direct, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(batched[layer], direct, rtol=1e-9, atol=1e-15)


def test_float_kan_zeroed_edge_is_dead():
    model = FloatKAN.create([3, 4, 2], rng=np.random.default_rng(1), spline_noise=1.0)
    layer = model.layers[0]
    layer.coef[2, 1, :] = 0.0
    layer.w_silu[2, 1] = 0.0
    layer.w_lin[2, 1] = 0.0
    x = np.random.default_rng(2).normal(size=(200, 3))

    scores = edge_importance(model, x)[0]

    assert scores[2, 1] == 0.0
    others = np.delete(scores.ravel(), 2 * 3 + 1)
    assert np.all(others > 0.0)


def test_node_scores_match_edge_scores_on_float_kan():
    model = FloatKAN.create([3, 5, 2], rng=np.random.default_rng(3), spline_noise=1.0)
    x = np.random.default_rng(4).normal(size=(150, 3))

    edges = edge_importance(model, x)
    nodes = node_importance(model, x)

    assert [len(a) for a in nodes.attribution] == [3, 5, 2]
    np.testing.assert_array_equal(nodes.incoming[1], edges[0].max(axis=1))
    np.testing.assert_array_equal(nodes.outgoing[1], edges[1].max(axis=0))
    assert np.all(nodes.attribution[0] > 0.0)


@pytest.mark.parametrize("x, fragment", [
    (np.zeros((1, 2)), "1 row"),
    (np.zeros((5, 3)), "(N, 2)"),
    (np.array([[0.0, 1.0], [np.nan, 2.0]]), "row 1, feature 0 is nan"),
    ([["a", "b"], ["c", "d"]], "not numeric"),
])
def test_bad_data_raises_data_error(x, fragment):
    with pytest.raises(DataError) as info:
        edge_importance(AnalyticKAN(), x)
    assert fragment in str(info.value)


def test_non_finite_edge_raises_kanc_error():
    class Broken(AnalyticKAN):
        def edge_values(self, layer, t):
            values = super().edge_values(layer, t)
            if layer == 1:
                values[0, 0, 1] = np.inf
            return values

        def layer_inputs(self, x):
            return AnalyticKAN().layer_inputs(x)

    with pytest.raises(KancError, match=r"edge \(node 0, input 1\) of layer 1 is not finite"):
        edge_importance(Broken(), ANALYTIC_X)
