"""Data-driven importance scores of a float KAN's edges and nodes, for plots and pruning.

Everything is measured on sample inputs ``x`` through the float-model protocol
(:mod:`kanc.model.protocol`): ``layer_inputs`` gives every layer's inputs on the
data and ``edge_values`` the edge activations phi_ji(t_i) on them.

Edge score: the population standard deviation (ddof = 0) of phi_ji over the data,
in the real units of node j's output. pykan's MultKAN stores the same number as
``edge_actscale`` and builds its attribution scores on it. Spread is used instead
of the mean magnitude |phi| (the quantity of kanc's L1 sparsity penalty) because
the constant part of an edge costs nothing to remove: an edge that is
constant c on the data can be deleted after adding c to its node's bias, with no
change on that data. The standard deviation is preferred to mean |phi - mean|
because the variances of uncorrelated edges add up to the node's variance, so
edge and node spreads share one scale.

Node scores, per node layer k = 0 .. L (k = 0 is the model inputs, k = L the
model outputs):

``incoming[k][j]``
    max over i of the edge scores of the edges into node j (layer k - 1). A node
    whose every incoming edge is flat carries no signal. pykan's ``prune_node``
    before MultKAN applied the same max-in / max-out rule to its edge scales. The
    model inputs have no incoming edges and get +inf.
``outgoing[k][i]``
    max over j of the edge scores of the edges leaving node i (layer k). A node
    whose every outgoing edge is flat is unused downstream. The model outputs get +inf.
``attribution[k][i]``
    the score of pykan's ``MultKAN.attribute``, propagated from the outputs back
    to the inputs. Each output starts with score 1. An edge
    passes on its node's score times its share of the node's spread, and a node
    sums what its outgoing edges pass back::

        a_l[j, i] = edge_score_l[j, i] * attribution[l + 1][j] / std(output j of layer l)
        attribution[l][i] = sum over j of a_l[j, i]

    A node whose output is constant on the data passes nothing back. The score is
    dimensionless. pykan averages over the outputs where this sums, so its scores
    are these divided by n_outputs, and pykan adds 1e-4 to the node spread where
    this treats a zero spread exactly.

So a hidden node is a pruning candidate when ``min(incoming, outgoing)`` is small
next to the layer's largest scores, and ``attribution[0]`` ranks the model's
input features.
"""
import dataclasses

import numpy as np

from kanc.errors import KancError
from kanc.model.protocol import check_float_model, check_samples, checked_layer_inputs

MAX_BATCH_VALUES = 1 << 22
"""Largest number of float64 edge values (rows * n_out * n_in) formed at once, about 32 MiB."""


@dataclasses.dataclass
class NodeImportance:
    """Node scores per node layer k = 0 .. L, each an array of ``widths[k]`` float64 values.

    ``incoming`` and ``outgoing`` are in the units of the edge scores (real units of
    the receiving node's output), and ``attribution`` is dimensionless. See the module
    docstring for the definitions.
    """

    incoming: list
    outgoing: list
    attribution: list


def edge_importance(float_model, x):
    """Return each edge's standard deviation over the data ``x``: one (n_out, n_in) float64 array per layer.

    Entry [j, i] of layer l is std(phi_ji(t_i)) over the rows of ``x``, with t_i the
    layer's input i on that row. Its unit is the real unit of node j's output: the
    user's target unit on a regressor's last layer, a logit on a classifier's. A
    score of 0 means the edge is constant on the data.

    ``x`` is (N, n_inputs) real inputs in the user's units with N >= 2, normally the
    training or calibration set. Raises DataError for unusable ``x``, KancError when
    the model returns the wrong shape or a non-finite value.
    """
    edge_std, _ = _measure_spreads(float_model, x)
    return edge_std


def node_importance(float_model, x):
    """Return the NodeImportance (incoming, outgoing, attribution) of every node for the data ``x``.

    ``x`` is as for :func:`edge_importance`. The scores are derived from the edge
    standard deviations and each node's output standard deviation on the same data.
    """
    edge_std, node_std = _measure_spreads(float_model, x)
    return node_scores(edge_std, node_std)


def node_scores(edge_std, node_std):
    """Compute NodeImportance from per-layer edge scores and per-node-layer output spreads.

    ``edge_std[l]`` is (n_out, n_in) for layer l, and ``node_std[k]`` contains the
    standard deviation of every node of node layer k (k = 0 .. L) over the same data.
    """
    n_layers = len(edge_std)

    incoming = [np.full(edge_std[0].shape[1], np.inf)]
    incoming += [scores.max(axis=1) for scores in edge_std]

    outgoing = [scores.max(axis=0) for scores in edge_std]
    outgoing.append(np.full(edge_std[-1].shape[0], np.inf))

    attribution = [None] * (n_layers + 1)
    attribution[n_layers] = np.ones(edge_std[-1].shape[0])
    for layer in range(n_layers - 1, -1, -1):
        spread = node_std[layer + 1]
        # A node that is constant on the data passes no score back; this avoids 0 / 0.
        per_unit_spread = np.divide(attribution[layer + 1], spread,
                                    out=np.zeros_like(spread), where=spread > 0)
        passed_back = edge_std[layer] * per_unit_spread[:, None]
        attribution[layer] = passed_back.sum(axis=0)

    return NodeImportance(incoming=incoming, outgoing=outgoing, attribution=attribution)


def _measure_spreads(float_model, x):
    """Return (edge_std, node_std): per-layer (n_out, n_in) edge spreads and per-node-layer node spreads."""
    check_float_model(float_model)
    widths = [int(w) for w in float_model.widths]
    x = check_samples(x, widths[0], "importance data", 2, "a spread")

    checked = checked_layer_inputs(float_model, x, widths, KancError)

    node_std = [values.std(axis=0) for values in checked]
    edge_std = [_edge_spread(float_model, layer, checked[layer], widths[layer + 1])
                for layer in range(len(widths) - 1)]
    return edge_std, node_std


def _edge_spread(float_model, layer, t, n_out):
    """Return the (n_out, n_in) population standard deviation of phi_ji(t_i) over the rows of ``t``.

    Rows are evaluated in batches of at most MAX_BATCH_VALUES values. The batch means
    and sums of squared deviations are merged with Chan et al.'s pairwise update,
    which avoids the cancellation of the sum-of-squares formula.
    """
    n_in = t.shape[1]
    rows = max(1, MAX_BATCH_VALUES // max(1, n_out * n_in))
    count = 0
    mean = np.zeros((n_out, n_in))
    squares = np.zeros((n_out, n_in))           # sum of squared deviations from the mean

    for start in range(0, len(t), rows):
        batch = t[start:start + rows]
        values = np.asarray(float_model.edge_values(layer, batch), dtype=np.float64)
        if values.shape != (len(batch), n_out, n_in):
            raise KancError(f"edge_values(layer {layer}) returned shape {values.shape}, expected "
                            f"{(len(batch), n_out, n_in)}; check the float model")
        if not np.all(np.isfinite(values)):
            row, j, i = np.argwhere(~np.isfinite(values))[0]
            raise KancError(f"edge (node {j}, input {i}) of layer {layer} is not finite at "
                            f"t = {batch[row, i]!r}; check the float model")

        batch_mean = values.mean(axis=0)
        batch_squares = ((values - batch_mean) ** 2).sum(axis=0)
        total = count + len(values)
        delta = batch_mean - mean
        mean = mean + delta * (len(values) / total)
        squares = squares + batch_squares + delta ** 2 * (count * len(values) / total)
        count = total

    return np.sqrt(squares / count)

