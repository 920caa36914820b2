"""Pruning of a FloatKAN from data: drop weak edges, dead nodes and unused inputs.

Scores. The edge score is pykan's attribution score of an edge (pykan 0.2.x
``MultKAN.attribute``, as computed in :mod:`kanc.model.importance`). It is the
edge's standard deviation on the data, times the attribution of the node it
feeds, divided by that node's standard deviation. pykan averages over the
outputs, so the score is also divided by the number of outputs. It is dimensionless, and the edges into the
outputs share a total of at least 1, so one threshold suits every layer and the
pykan defaults carry over (3e-2 for edges, 1e-2 for nodes).

Rules.

* An edge is pruned when its score is below ``edge_threshold``.
* A hidden node is removed when its largest incoming or its largest outgoing
  score, over the edges that survive, is below ``node_threshold`` (pykan's
  max-in / max-out rule). Removing a node removes its edges, so the rule is
  applied again until nothing changes.
* An input is removed when none of its edges survives. Output nodes stay.

What the pruned model looks like. Removed nodes and inputs vanish: the layers
shrink, so they cost no flash and no cycles in the emitted C. Every edge that
disappears (a pruned edge, or an edge out of a removed node or input) is
replaced by its mean value on the data, added to the bias of the node it fed,
which is the constant closest to it in mean square. A pruned edge between two
remaining nodes keeps its slot with coef, w_lin and w_silu exactly zero and
``edge_mask`` False, so training leaves it at zero.
"""
import dataclasses

import numpy as np

from kanc.errors import KancError
from kanc.model.importance import edge_importance, node_scores
from kanc.model.kan import FloatKAN

DEFAULT_EDGE_THRESHOLD = 3e-2
DEFAULT_NODE_THRESHOLD = 1e-2

MAX_BATCH_VALUES = 1 << 22
"""Largest number of float64 edge values (rows * n_out * n_in) formed at once when averaging edges, about 32 MiB."""


@dataclasses.dataclass
class PruneResult:
    """A pruned model and how it maps to the original one.

    Attributes
    ----------
    model : FloatKAN
        The pruned model, with widths ``[len(n) for n in node_indices]``.
    node_indices : list of int arrays
        For each node layer k = 0 .. L, the original indices of the nodes kept,
        in order. ``node_indices[0]`` are the original feature columns the pruned
        model reads.
    edge_scores : list of float64 arrays
        The (n_out, n_in) attribution score of every edge of the original model.
    edges_before, edges_after : int
        Live edges (``edge_mask`` True) before and after pruning.
    """

    model: FloatKAN
    node_indices: list
    edge_scores: list
    edges_before: int
    edges_after: int

    @property
    def input_indices(self):
        return self.node_indices[0]


def edge_attribution(model, x):
    """Return the dimensionless attribution score of every edge: one (n_out, n_in) array per layer.

    ``x`` is (N, n_inputs) real inputs in the user's units, normally the training
    set. See the module docstring for the definition.
    """
    edge_std = edge_importance(model, x)
    node_std = [values.std(axis=0) for values in model.layer_inputs(np.asarray(x, dtype=np.float64))]
    attribution = node_scores(edge_std, node_std).attribution
    n_outputs = model.widths[-1]

    scores = []
    for layer, spread in enumerate(edge_std):
        target_spread = node_std[layer + 1]
        per_unit_spread = np.divide(attribution[layer + 1], target_spread,
                                    out=np.zeros_like(target_spread), where=target_spread > 0)
        scores.append(spread * per_unit_spread[:, None] / n_outputs)
    return scores


def prune(model, x, edge_threshold=DEFAULT_EDGE_THRESHOLD, node_threshold=DEFAULT_NODE_THRESHOLD):
    """Return a :class:`PruneResult` with a pruned copy of the FloatKAN ``model``, scored on the data ``x``.

    Raises KancError when the thresholds would remove every input or every node of
    a hidden layer; lower them in that case.
    """
    for name, value in (("edge_threshold", edge_threshold), ("node_threshold", node_threshold)):
        if not np.isfinite(value) or value < 0:
            raise KancError(f"{name}={value!r} is invalid; use a finite score >= 0 such as "
                            f"{DEFAULT_EDGE_THRESHOLD if name == 'edge_threshold' else DEFAULT_NODE_THRESHOLD}")
    x = np.asarray(x, dtype=np.float64)
    scores = edge_attribution(model, x)
    keep_edge = [(score >= edge_threshold) & layer.edge_mask for score, layer in zip(scores, model.layers)]
    alive = _alive_nodes(model.widths, scores, keep_edge, node_threshold)
    _check_survivors(model.widths, alive, edge_threshold, node_threshold)

    means = _edge_means(model, x)
    layers = [_shrink_layer(layer, alive[index], alive[index + 1], keep_edge[index], means[index])
              for index, layer in enumerate(model.layers)]

    inputs = alive[0]
    names = None if model.feature_names is None else [model.feature_names[i] for i in np.flatnonzero(inputs)]
    pruned = FloatKAN(layers, task=model.task, base=model.base, x_mean=model.x_mean[inputs],
                      x_scale=model.x_scale[inputs], y_mean=model.y_mean, y_scale=model.y_scale,
                      classes=model.classes, feature_names=names, target_name=model.target_name)
    return PruneResult(model=pruned, node_indices=[np.flatnonzero(mask) for mask in alive], edge_scores=scores,
                       edges_before=int(sum(layer.edge_mask.sum() for layer in model.layers)),
                       edges_after=int(sum(layer.edge_mask.sum() for layer in layers)))


def _alive_nodes(widths, scores, keep_edge, node_threshold):
    """Return one bool array per node layer: which nodes survive the node and input rules."""
    n_layers = len(widths) - 1
    alive = [np.ones(width, dtype=bool) for width in widths]
    changed = True
    while changed:
        changed = False
        for layer in range(n_layers):
            # Only edges between surviving nodes count.
            live = keep_edge[layer] & alive[layer + 1][:, None] & alive[layer][None, :]
            live_scores = np.where(live, scores[layer], 0.0)

            if layer == 0:
                unused = alive[0] & ~live.any(axis=0)
            else:
                unused = alive[layer] & (live_scores.max(axis=0) < node_threshold)
            if layer + 1 < n_layers:
                unused_next = alive[layer + 1] & (live_scores.max(axis=1) < node_threshold)
                if unused_next.any():
                    alive[layer + 1] &= ~unused_next
                    changed = True
            if unused.any():
                alive[layer] &= ~unused
                changed = True
    return alive


def _check_survivors(widths, alive, edge_threshold, node_threshold):
    for k, mask in enumerate(alive[:-1]):
        if not mask.any():
            what = "every input" if k == 0 else f"every node of hidden layer {k}"
            raise KancError(f"pruning with edge_threshold={edge_threshold} and node_threshold={node_threshold} "
                            f"removes {what} (widths {list(widths)}); lower the thresholds")


def _edge_means(model, x):
    """Return the mean of every edge over the data, in internal units: one (n_out, n_in) array per layer."""
    h = model.standardize(x)
    means = []
    for layer in model.layers:
        rows = max(1, MAX_BATCH_VALUES // max(1, layer.n_out * layer.n_in))
        total = np.zeros((layer.n_out, layer.n_in))
        for start in range(0, len(h), rows):
            total += layer.edge_values(h[start:start + rows]).sum(axis=0)
        means.append(total / len(h))
        h = layer.forward(h)
    return means


def _shrink_layer(layer, inputs, outputs, keep_edge, edge_mean):
    """Return ``layer`` restricted to the surviving ``inputs`` and ``outputs``, with every dropped edge's mean in the bias."""
    dropped = ~(keep_edge & inputs[None, :])
    bias = layer.bias + np.where(dropped, edge_mean, 0.0).sum(axis=1)

    shrunk = layer.copy()
    shrunk.knots = layer.knots[inputs].copy()
    shrunk.coef = layer.coef[outputs][:, inputs].copy()
    shrunk.w_lin = layer.w_lin[outputs][:, inputs].copy()
    shrunk.w_silu = layer.w_silu[outputs][:, inputs].copy()
    shrunk.bias = bias[outputs].copy()
    shrunk.edge_mask = keep_edge[outputs][:, inputs].copy()
    shrunk.apply_edge_mask()
    return shrunk.check_shapes()


__all__ = ["DEFAULT_EDGE_THRESHOLD", "DEFAULT_NODE_THRESHOLD", "PruneResult", "edge_attribution", "prune"]
