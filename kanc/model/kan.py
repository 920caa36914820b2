"""The float B-spline KAN: layers of learnable edge functions, evaluated in float64 numpy.

Edge (j, i) of a layer maps input i to a contribution to node j:

    phi_ji(t) = w_lin_ji * t + w_silu_ji * silu(t) + sum_b coef_jib * B_b(t)

with B_b the degree-k B-spline basis on the knots of input i
(:mod:`kanc.model.bspline`). Node j outputs ``bias_j + sum_i phi_ji(t_i)``.

Coordinates. The layers work in *internal* units: layer 0 reads standardised
features ``z = (x - x_mean) / x_scale``, and for regression the last layer
returns standardised targets, so that ``y = out * y_scale + y_mean``. The
quantizer protocol (:mod:`kanc.model.protocol`) works in *user* units instead, so
:meth:`FloatKAN.edge_values` and :meth:`FloatKAN.node_bias` fold the input
standardisation into layer 0's edges and the target scaling into the last layer's
edges and biases. Hidden layers are the same in both.
"""
import dataclasses

import numpy as np

from kanc.model.bspline import basis, basis_count, basis_derivative, basis_with_derivative, uniform_knots

TASKS = ("regression", "classification")
BASES = ("silu", "linear", "none")


def sigmoid(t):
    """Return the logistic function 1 / (1 + exp(-t)), computed as (1 + tanh(t/2)) / 2 so that no exp overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def silu(t):
    """Return silu(t) = t * sigmoid(t)."""
    return t * sigmoid(t)


def silu_derivative(t, order):
    """Return the ``order``-th derivative of silu at ``t`` (order 0, 1 or 2).

    silu'(t)  = s * (1 + t * (1 - s))
    silu''(t) = s * (1 - s) * (2 + t * (1 - 2s)),   with s = sigmoid(t)
    """
    s = sigmoid(t)
    if order == 0:
        return t * s
    if order == 1:
        return s * (1.0 + t * (1.0 - s))
    if order == 2:
        return s * (1.0 - s) * (2.0 + t * (1.0 - 2.0 * s))
    raise ValueError(f"silu derivative order={order!r} is not supported; use 0, 1 or 2")


@dataclasses.dataclass
class KANLayer:
    """One KAN layer with ``n_in`` inputs and ``n_out`` nodes, in internal units.

    Attributes
    ----------
    knots : float64 (n_in, G + 2k + 1)
        Non-decreasing knot vector of each input.
    k : int
        Spline degree.
    coef : float64 (n_out, n_in, G + k)
        B-spline coefficient of every edge and basis function.
    w_lin, w_silu : float64 (n_out, n_in)
        Weights of the linear term t and of the silu(t) term of every edge.
    bias : float64 (n_out,)
        Node bias.
    edge_mask : bool (n_out, n_in)
        False for a pruned edge, whose coef, w_lin and w_silu are exactly zero and
        which training keeps at zero. None at construction means every edge is live.
    """

    knots: np.ndarray
    k: int
    coef: np.ndarray
    w_lin: np.ndarray
    w_silu: np.ndarray
    bias: np.ndarray
    edge_mask: np.ndarray = None

    def __post_init__(self):
        if self.edge_mask is None:
            self.edge_mask = np.ones(self.coef.shape[:2], dtype=bool)
        else:
            self.edge_mask = np.asarray(self.edge_mask, dtype=bool)

    @property
    def n_in(self):
        return self.coef.shape[1]

    @property
    def n_out(self):
        return self.coef.shape[0]

    @property
    def n_basis(self):
        return self.coef.shape[2]

    def copy(self):
        return KANLayer(self.knots.copy(), self.k, self.coef.copy(), self.w_lin.copy(),
                        self.w_silu.copy(), self.bias.copy(), self.edge_mask.copy())

    def apply_edge_mask(self):
        """Set coef, w_lin and w_silu of every pruned edge to exactly zero, in place."""
        pruned = ~self.edge_mask
        self.coef[pruned] = 0.0
        self.w_lin[pruned] = 0.0
        self.w_silu[pruned] = 0.0
        return self

    def check_shapes(self):
        """Raise ValueError if the arrays disagree in n_in, n_out or basis count."""
        n_out, n_in, n_basis = self.coef.shape
        if self.knots.ndim != 2 or self.knots.shape[0] != n_in:
            raise ValueError(f"knots has shape {self.knots.shape}, expected ({n_in}, M) "
                             f"to match coef {self.coef.shape}")
        if basis_count(self.knots, self.k) != n_basis:
            raise ValueError(f"knots of shape {self.knots.shape} with degree k={self.k} give "
                             f"{basis_count(self.knots, self.k)} basis functions, but coef has {n_basis}")
        expected = {"w_lin": (n_out, n_in), "w_silu": (n_out, n_in), "bias": (n_out,),
                    "edge_mask": (n_out, n_in)}
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape} "
                                 f"to match coef {self.coef.shape}")
        nonzero = (self.w_lin != 0) | (self.w_silu != 0) | np.any(self.coef != 0, axis=2)
        if np.any(nonzero & ~self.edge_mask):
            j, i = np.argwhere(nonzero & ~self.edge_mask)[0]
            raise ValueError(f"edge (node {j}, input {i}) is pruned in edge_mask but has non-zero weights; "
                             "call apply_edge_mask() after changing the mask")
        return self

    def basis(self, t):
        """Return the (N, n_in, n_basis) B-spline basis at inputs ``t`` (N, n_in)."""
        return basis(t, self.knots, self.k)

    def forward(self, t, spline_basis=None, silu_t=None):
        """Return the (N, n_out) node outputs for inputs ``t`` (N, n_in), without forming every edge value.

        ``spline_basis`` and ``silu_t`` may pass precomputed basis(t) and silu(t).
        """
        if spline_basis is None:
            spline_basis = self.basis(t)
        if silu_t is None:
            silu_t = silu(t)
        n = t.shape[0]
        spline_part = spline_basis.reshape(n, -1) @ self.coef.reshape(self.n_out, -1).T
        return spline_part + t @ self.w_lin.T + silu_t @ self.w_silu.T + self.bias

    def edge_values(self, t):
        """Return phi_ji(t_i) for every sample and edge, shape (N, n_out, n_in)."""
        spline_part = np.einsum("nib,jib->nji", self.basis(t), self.coef)
        return spline_part + self.w_lin[None] * t[:, None, :] + self.w_silu[None] * silu(t)[:, None, :]

    def edge_derivatives(self, t, order):
        """Return the ``order``-th derivative (0, 1 or 2) of every edge function at ``t``, shape (N, n_out, n_in)."""
        if order == 0:
            return self.edge_values(t)
        spline_part = np.einsum("nib,jib->nji", basis_derivative(t, self.knots, self.k, order), self.coef)
        base_part = self.w_silu[None] * silu_derivative(t, order)[:, None, :]
        if order == 1:
            base_part = base_part + self.w_lin[None]
        return spline_part + base_part


class FloatKAN:
    """A float KAN with input standardisation and, for regression, target scaling.

    Implements the quantizer protocol of :mod:`kanc.model.protocol` (``task``,
    ``widths``, ``layer_inputs``, ``edge_values``, ``node_bias``) plus
    ``edge_derivative_values``.

    Parameters
    ----------
    layers : list of KANLayer, in internal units.
    task : "regression" or "classification" (outputs are logits).
    base : "silu", "linear" or "none": which base term training updates (the
        other base weights stay as they are, normally zero).
    x_mean, x_scale : (n_inputs,) feature standardisation, z = (x - x_mean) / x_scale.
    y_mean, y_scale : (n_outputs,) target scaling, y = out * y_scale + y_mean.
        Classification models use 0 and 1.
    classes : optional (n_outputs,) class labels of a classifier, in logit order.
    feature_names : optional list of n_inputs column names, for reports and CSV input.
    target_name : optional name of the target column (a string, or a list for several targets).
    """

    def __init__(self, layers, task="regression", base="silu", x_mean=None, x_scale=None,
                 y_mean=None, y_scale=None, classes=None, feature_names=None, target_name=None):
        if task not in TASKS:
            raise ValueError(f"task {task!r} must be one of {TASKS}")
        if base not in BASES:
            raise ValueError(f"base {base!r} must be one of {BASES}")
        if not layers:
            raise ValueError("a FloatKAN needs at least one layer")
        for index, (before, after) in enumerate(zip(layers[:-1], layers[1:])):
            if before.n_out != after.n_in:
                raise ValueError(f"layer {index} has {before.n_out} outputs but layer {index + 1} "
                                 f"has {after.n_in} inputs")
        for layer in layers:
            layer.check_shapes()
        self.layers = list(layers)
        self.task = task
        self.base = base
        n_in, n_out = layers[0].n_in, layers[-1].n_out
        self.x_mean = _vector(x_mean, n_in, 0.0, "x_mean")
        self.x_scale = _vector(x_scale, n_in, 1.0, "x_scale")
        self.y_mean = _vector(y_mean, n_out, 0.0, "y_mean")
        self.y_scale = _vector(y_scale, n_out, 1.0, "y_scale")
        if np.any(self.x_scale <= 0) or np.any(self.y_scale <= 0):
            raise ValueError("x_scale and y_scale must be positive")
        if task == "classification" and (np.any(self.y_mean != 0) or np.any(self.y_scale != 1)):
            raise ValueError("a classifier's outputs are logits: y_mean must be 0 and y_scale 1")
        self.classes = None if classes is None else np.asarray(classes)
        if self.classes is not None and self.classes.shape != (n_out,):
            raise ValueError(f"classes has shape {self.classes.shape}, expected ({n_out},)")
        self.feature_names = None if feature_names is None else [str(name) for name in feature_names]
        if self.feature_names is not None and len(self.feature_names) != n_in:
            raise ValueError(f"feature_names has {len(self.feature_names)} names, expected {n_in}")
        self.target_name = target_name

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, widths, grid=5, k=3, base="silu", task="regression", grid_range=(-1.0, 1.0),
               rng=None, spline_noise=0.1):
        """Build a randomly initialised model with uniform grids over ``grid_range`` (internal units).

        The silu (or linear) base weights are uniform in ``[-1, 1] / sqrt(n_in)``, as
        pykan 0.2.8 initialises its ``scale_base``. The spline coefficients are small
        normal noise with standard deviation ``spline_noise / sqrt(n_in)``. With
        ``base="none"`` the splines carry the whole signal, so their coefficients
        start with standard deviation ``1 / sqrt(n_in)``. Biases start at zero.
        """
        if base not in BASES:
            raise ValueError(f"base {base!r} must be one of {BASES}")
        rng = np.random.default_rng(rng)
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            knots = uniform_knots(grid_range[0], grid_range[1], grid, k, n_in)
            fan_in = 1.0 / np.sqrt(n_in)
            spread = fan_in if base == "none" else spline_noise * fan_in
            coef = rng.normal(0.0, spread, size=(n_out, n_in, grid + k))
            base_weights = rng.uniform(-fan_in, fan_in, size=(n_out, n_in))
            zeros = np.zeros((n_out, n_in))
            w_lin = base_weights if base == "linear" else zeros
            w_silu = base_weights if base == "silu" else zeros.copy()
            layers.append(KANLayer(knots, k, coef, w_lin, w_silu, np.zeros(n_out)))
        return cls(layers, task=task, base=base)

    def copy(self):
        return FloatKAN([layer.copy() for layer in self.layers], task=self.task, base=self.base,
                        x_mean=self.x_mean.copy(), x_scale=self.x_scale.copy(),
                        y_mean=self.y_mean.copy(), y_scale=self.y_scale.copy(),
                        classes=None if self.classes is None else self.classes.copy(),
                        feature_names=self.feature_names, target_name=self.target_name)

    # ------------------------------------------------------------------ shape

    @property
    def widths(self):
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_layers(self):
        return len(self.layers)

    # ------------------------------------------------------------------ internal-unit forward pass

    def standardize(self, x):
        """Return standardised features z = (x - x_mean) / x_scale for raw ``x`` (N, n_inputs)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.widths[0]:
            raise ValueError(f"expected inputs of shape (N, {self.widths[0]}), got {x.shape}")
        return (x - self.x_mean) / self.x_scale

    def forward_internal(self, z):
        """Return the internal outputs (standardised targets or logits) for standardised inputs ``z``."""
        h = z
        for layer in self.layers:
            h = layer.forward(h)
        return h

    def forward_with_cache(self, z, first_basis=None, first_silu=None):
        """Run the internal forward pass and keep what backpropagation needs.

        Returns ``(outputs, cache)``: ``cache[l]`` is a dict with the layer's input
        ``t`` (N, n_in), its B-spline basis ``basis`` (N, n_in, n_basis) and
        ``silu`` = silu(t) (N, n_in). Entries of layers 1 .. L-1, whose inputs
        depend on parameters, also hold the basis derivative ``slope_basis``
        (N, n_in, n_basis) for dL/dt. A trainer may pass layer 0's basis(z) and
        silu(z) as ``first_basis`` and ``first_silu``: they depend only on the data
        and the knots, so it can compute them once for the whole training set.
        """
        cache = []
        h = np.asarray(z, dtype=np.float64)
        for index, layer in enumerate(self.layers):
            if index == 0:
                if first_basis is None:
                    first_basis, first_silu = layer.basis(h), silu(h)
                entry = {"t": h, "basis": first_basis, "silu": first_silu}
            else:
                spline_basis, slope_basis = basis_with_derivative(h, layer.knots, layer.k)
                entry = {"t": h, "basis": spline_basis, "slope_basis": slope_basis, "silu": silu(h)}
            cache.append(entry)
            h = layer.forward(h, entry["basis"], entry["silu"])
        return h, cache

    def predict_outputs(self, x):
        """Return the model outputs for raw ``x``: targets in user units, or logits."""
        return self.forward_internal(self.standardize(x)) * self.y_scale + self.y_mean

    def predict_classes(self, x):
        """Return the predicted class of each row of raw ``x``, the one with the largest logit.

        The result is the label from ``classes``, or the output index when the model
        has no labels. Ties go to the lowest index, as in the fixed-point spec.
        """
        if self.task != "classification":
            raise ValueError("predict_classes needs a classification model; use predict_outputs for regression")
        index = np.argmax(self.predict_outputs(x), axis=1)
        return index if self.classes is None else self.classes[index]

    # ------------------------------------------------------------------ quantizer protocol (user units)

    def _input_map(self, layer):
        """Return (shift, scale) with internal input = (t - shift) / scale for ``layer``'s protocol inputs."""
        if layer == 0:
            return self.x_mean, self.x_scale
        return 0.0, 1.0

    def _output_map(self, layer):
        """Return (scale, shift) with protocol output = internal output * scale + shift for ``layer``."""
        if layer == self.n_layers - 1:
            return self.y_scale, self.y_mean
        return 1.0, 0.0

    def _check_layer(self, layer):
        if int(layer) != layer or not 0 <= layer < self.n_layers:
            raise ValueError(f"layer index {layer!r} is out of range 0..{self.n_layers - 1}")
        return int(layer)

    def edge_values(self, layer, t):
        """Return phi_ji(t_i) of layer ``layer`` in user units, shape (N, n_out, n_in).

        For layer 0, ``t`` is raw features. The edges of the last layer return their
        share of the target in target units, because the node's y_scale is folded in.
        """
        layer = self._check_layer(layer)
        shift, scale = self._input_map(layer)
        out_scale, _ = self._output_map(layer)
        internal = (np.asarray(t, dtype=np.float64) - shift) / scale
        return self.layers[layer].edge_values(internal) * np.reshape(out_scale, (1, -1, 1))

    def node_bias(self, layer):
        """Return the (n_out,) node bias of layer ``layer`` in user units (y_mean folded into the last layer)."""
        layer = self._check_layer(layer)
        out_scale, out_shift = self._output_map(layer)
        return self.layers[layer].bias * out_scale + out_shift

    def edge_smoothness(self, layer):
        """Return 2 when every edge of ``layer`` has a bounded second derivative (degree k >= 2), else 0.

        The quantizer's h^2 / 8 * max|phi''| error bound needs the former; for
        degree 0 (steps) and 1 (kinks) it estimates curvature by finite differences.
        """
        return 2 if self.layers[self._check_layer(layer)].k >= 2 else 0

    def edge_mask(self, layer):
        """Return the (n_out, n_in) bool mask of live edges of ``layer``; pruned edges are False."""
        return self.layers[self._check_layer(layer)].edge_mask.copy()

    def edge_derivative_values(self, layer, t, order):
        """Return the ``order``-th derivative (1 or 2) of every edge of ``layer`` with respect to its user-unit input.

        Same coordinates as :meth:`edge_values`: by the chain rule the internal
        derivative is divided by x_scale**order on layer 0 and multiplied by y_scale
        on the last layer. Shape (N, n_out, n_in).
        """
        layer = self._check_layer(layer)
        if order not in (1, 2):
            raise ValueError(f"derivative order={order!r} is not supported; use 1 or 2")
        shift, scale = self._input_map(layer)
        out_scale, _ = self._output_map(layer)
        internal = (np.asarray(t, dtype=np.float64) - shift) / scale
        derivative = self.layers[layer].edge_derivatives(internal, order)
        in_factor = np.reshape(np.asarray(scale, dtype=np.float64) ** -order, (1, 1, -1))
        return derivative * in_factor * np.reshape(out_scale, (1, -1, 1))

    def layer_inputs(self, x):
        """Return the L + 1 user-unit layer inputs for raw ``x``, the last entry being the model outputs.

        Each entry is computed from the previous one with :meth:`edge_values` and
        :meth:`node_bias`, so the protocol contract is met exactly (same operations,
        same order). It forms every edge value, so it is slower than
        :meth:`predict_outputs`, which agrees to float64 round-off.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.widths[0]:
            raise ValueError(f"expected inputs of shape (N, {self.widths[0]}), got {x.shape}")
        values = [x]
        for layer in range(self.n_layers):
            values.append(self.edge_values(layer, values[-1]).sum(axis=2) + self.node_bias(layer))
        return values


def _vector(value, length, default, name):
    if value is None:
        return np.full(length, default, dtype=np.float64)
    value = np.asarray(value, dtype=np.float64).reshape(-1)
    if value.shape != (length,):
        raise ValueError(f"{name} has {value.size} entries, expected {length}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return value


__all__ = ["KANLayer", "FloatKAN", "silu", "silu_derivative", "sigmoid", "TASKS", "BASES"]
