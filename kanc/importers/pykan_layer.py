"""One pykan (MultKAN) layer in float64: spline branch, symbolic branch and node affine maps.

pykan 0.2.8 (kan/MultKAN.py ``forward``, kan/KANLayer.py, kan/Symbolic_KANLayer.py)
computes layer l, for input i and subnode j, as::

    numeric_ji  = mask[i, j] * (scale_base[i, j] * base_fun(x_i) + scale_sp[i, j] * spline_ij(x_i))
    symbolic_ji = sym_mask[j, i] * (c * f_ji(a * x_i + b) + d)      (a, b, c, d) = affine[j, i]
    subnode_j   = subnode_scale[j] * sum_i (numeric_ji + symbolic_ji) + subnode_bias[j]
    node_j      = node_scale[j] * subnode_j + node_bias[j]          (no multiplication nodes)

Note the index orders: the spline parameters are [in][out], the symbolic ones
[out][in]. The symbolic branch only counts when the model's ``symbolic_enabled``
is true. kanc's protocol wants node_j = sum_i phi_ji(x_i) + bias_j, so the node
and subnode scales are folded into the edges::

    phi_ji = node_scale[j] * subnode_scale[j] * (numeric_ji + symbolic_ji)
    bias_j = node_scale[j] * subnode_bias[j] + node_bias[j]

which changes the result only by float64 round-off.
"""
import numpy as np

from kanc.importers.bspline import bspline_bases
from kanc.importers.common import ModelImportError
from kanc.importers.pykan_symbolic import finite_input_interval, symbolic_function


class SymbolicEdge:
    """An active symbolic edge: c * f(a * t + b) + d scaled by its mask, from input ``i`` to subnode ``j``."""

    def __init__(self, layer, i, j, name, affine, mask):
        self.where = f"layer {layer} edge (input {i} -> node {j})"
        self.i, self.j, self.name = i, j, name
        self.function = symbolic_function(name, self.where)
        self.a, self.b, self.c, self.d = (float(v) for v in affine)
        self.mask = float(mask)

    def values(self, t):
        with np.errstate(all="ignore"):
            return self.mask * (self.c * self.function(self.a * t + self.b) + self.d)


class PykanLayer:
    """A MultKAN layer without multiplication nodes, evaluated in float64.

    ``columns`` maps pykan's inputs to the model's feature columns; it differs from
    0 .. n - 1 only in layer 0 after ``prune_input``. Feature columns that pykan
    ignores get edges that are identically zero.
    """

    def __init__(self, index, spline, symbolic_edges, affine, base_fun, columns, n_in):
        self.index = index
        self.knots = spline["grid"]                # (n_sel, G + 2k + 1)
        self.coef = spline["coef"]                 # (n_sel, n_out, G + k)
        self.degree = spline["degree"]
        self.scale_base = spline["scale_base"]     # (n_sel, n_out)
        self.scale_sp = spline["scale_sp"]         # (n_sel, n_out)
        self.mask = spline["mask"]                 # (n_sel, n_out)
        self.base_fun = base_fun
        self.symbolic_edges = symbolic_edges
        self.columns = columns
        self.n_in = n_in
        self.n_out = self.coef.shape[1]

        node_scale, node_bias, subnode_scale, subnode_bias = affine
        self.edge_scale = node_scale * subnode_scale
        self.bias = node_scale * subnode_bias + node_bias

    def pykan_edges(self, x):
        """Return pykan's numeric + symbolic edge outputs (N, n_out, n_sel) for its own inputs x (N, n_sel)."""
        bases = bspline_bases(x, self.knots, self.degree, nan_to_zero=True)   # (N, n_sel, G + k)
        spline = np.einsum("nik,ijk->nij", bases, self.coef)                    # (N, n_sel, n_out)
        base = self.base_fun(x)[:, :, None]
        numeric = self.mask[None] * (self.scale_base[None] * base + self.scale_sp[None] * spline)
        edges = numeric.transpose(0, 2, 1).copy()

        for edge in self.symbolic_edges:
            value = edge.values(x[:, edge.i])
            bad = ~np.isfinite(value)
            if np.any(bad):
                t = float(x[np.argmax(bad), edge.i])
                lo, hi = finite_input_interval(edge.name, edge.a, edge.b)
                raise ModelImportError(
                    f"pykan {edge.where}: symbolic function {edge.name!r} with (a, b) = ({edge.a:g}, {edge.b:g}) "
                    f"is not finite at input {t!r} (it is finite for inputs in [{lo:g}, {hi:g}], apart from "
                    "poles). Keep this layer input inside that interval, for example by narrowing the "
                    "compile-time domain, or fix a function without a singularity on this edge")
            edges[:, edge.j, edge.i] += value
        return edges

    def edge_values(self, t):
        selected = t[:, self.columns]
        edges = self.edge_scale[None, :, None] * self.pykan_edges(selected)
        if len(self.columns) == self.n_in and np.array_equal(self.columns, np.arange(self.n_in)):
            return edges
        full = np.zeros((t.shape[0], self.n_out, self.n_in))
        full[:, :, self.columns] = edges
        return full

    def finite_domain(self):
        """Return (lo, hi) per model input of this layer: the interval where every active symbolic edge is finite.

        Inputs without a domain-limited symbolic edge get (-inf, inf). Reciprocal
        functions are finite everywhere except one point and tan except its poles;
        those exceptions are not expressed in the interval.
        """
        lo = np.full(self.n_in, -np.inf)
        hi = np.full(self.n_in, np.inf)
        for edge in self.symbolic_edges:
            column = self.columns[edge.i]
            edge_lo, edge_hi = finite_input_interval(edge.name, edge.a, edge.b)
            lo[column] = max(lo[column], edge_lo)
            hi[column] = min(hi[column], edge_hi)
        return lo, hi
