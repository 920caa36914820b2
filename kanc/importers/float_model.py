"""A float64 KAN made of per-layer edge functions, the common result type of every importer.

Each importer turns its library's weights into a list of layers. A layer is any
object with ``n_in``, ``n_out``, ``edge_values(t)`` returning phi_ji(t_i) of
shape (N, n_out, n_in), and ``bias`` of shape (n_out,). ``ImportedKAN`` chains the
layers and implements kanc.model.protocol on top of them.
"""
import numpy as np

from kanc.importers.common import ModelImportError, check_task

DERIVATIVE_STEP_EXPONENT = {1: 1.0 / 3.0, 2: 1.0 / 4.0}
"""Finite-difference step h = eps ** exponent * max(1, |t|), the usual choice that balances
truncation error against float64 round-off for the first and second derivative."""


class ImportedKAN:
    """An imported KAN in float64 that follows kanc.model.protocol.

    Attributes
    ----------
    task : str
        "regression" or "classification".
    widths : list of int
        [n_inputs, n_1, ..., n_outputs].
    source : str
        Library and version or settings the model came from, for messages and reports.
    """

    def __init__(self, layers, task, source):
        if not layers:
            raise ModelImportError(f"{source} model has no layers")
        for index, (layer, following) in enumerate(zip(layers[:-1], layers[1:])):
            if layer.n_out != following.n_in:
                raise ModelImportError(
                    f"{source} layer {index} has {layer.n_out} outputs but layer {index + 1} has "
                    f"{following.n_in} inputs; the layers do not form a chain")
        self.layers = list(layers)
        self.task = check_task(task)
        self.source = source
        self.widths = [layers[0].n_in] + [layer.n_out for layer in layers]

    def __repr__(self):
        return f"{type(self).__name__}(widths={self.widths}, task={self.task!r}, source={self.source!r})"

    def _layer(self, layer):
        if not 0 <= layer < len(self.layers):
            raise IndexError(f"layer {layer} out of range: the model has {len(self.layers)} layers")
        return self.layers[layer]

    def _check_input(self, layer, t):
        t = np.asarray(t, dtype=np.float64)
        expected = self.layers[layer].n_in
        if t.ndim != 2 or t.shape[1] != expected:
            raise ValueError(f"layer {layer} takes inputs of shape (N, {expected}), got {t.shape}")
        return t

    def edge_values(self, layer, t):
        """Return phi_ji(t_i) of layer ``layer`` for inputs ``t`` (N, n_in), shape (N, n_out, n_in), float64."""
        t = self._check_input(layer, t)
        return self._layer(layer).edge_values(t)

    def node_bias(self, layer):
        """Return the (n_out,) float64 bias that layer ``layer`` adds to each node's edge sum."""
        return np.array(self._layer(layer).bias, dtype=np.float64)

    def layer_inputs(self, x):
        """Return [x, input of layer 1, ..., model output] for x of shape (N, n_inputs), all float64."""
        x = self._check_input(0, x)
        values = [x]
        for index, layer in enumerate(self.layers):
            values.append(layer.edge_values(values[-1]).sum(axis=2) + self.node_bias(index))
        return values

    def forward(self, x):
        """Return the model output (N, n_outputs) for inputs x (N, n_inputs)."""
        return self.layer_inputs(x)[-1]

    def edge_derivative_values(self, layer, t, order):
        """Return d^order phi_ji / dt_i^order at ``t`` (N, n_in), shape (N, n_out, n_in).

        Computed by finite differences of ``edge_values``, not analytically:

        * order 1: central difference with h = eps^(1/3) * max(1, |t|), error about
          1e-10 * (|phi| + |phi'''|) where the edge is smooth. Within one step of a kink it returns the mean of the two slopes.
        * order 2: the one-sided second differences on the left and on the right of
          ``t`` (second-order stencils), and of the two the one smaller in magnitude.
          Its error is dominated by round-off, about 12 eps |phi| / h^2, which is
          roughly 2e-7 * |phi(t)| / max(1, |t|)^2. At a kink (ReLU at 0, a knot of
          a spline of order 1 or 2, a symbolic abs or sgn) the stencil that does not
          cross the kink wins, so the result is the second derivative of a smooth
          piece instead of a spike of size (slope jump) / h.
        """
        if order not in DERIVATIVE_STEP_EXPONENT:
            raise ValueError(f"invalid derivative order {order!r}; use 1 or 2")
        t = self._check_input(layer, t)
        edge = self._layer(layer)

        step = np.finfo(np.float64).eps ** DERIVATIVE_STEP_EXPONENT[order] * np.maximum(1.0, np.abs(t))
        # Round the step to a number that is exact in float64 around t, so t + h - (t - h) == 2h.
        step = (t + step) - t
        h = step[:, None, :]

        above = edge.edge_values(t + step)
        below = edge.edge_values(t - step)
        if order == 1:
            return (above - below) / (2.0 * h)

        # Second-order one-sided stencils (2, -5, 4, -1) / h^2 on each side of t.
        centre = edge.edge_values(t)
        right = (2.0 * centre - 5.0 * above + 4.0 * edge.edge_values(t + 2.0 * step)
                 - edge.edge_values(t + 3.0 * step)) / (h * h)
        left = (2.0 * centre - 5.0 * below + 4.0 * edge.edge_values(t - 2.0 * step)
                - edge.edge_values(t - 3.0 * step)) / (h * h)
        return np.where(np.abs(left) <= np.abs(right), left, right)
