"""Symbolic suggestions: fit c * f(a * t + b) + d to every edge of a float KAN and compose a formula.

For each edge phi_ji and each library function f, the fit follows pykan's
``fit_params`` (pykan 0.2.x ``kan/utils.py``): a grid search over (a, b) keeps
the pair whose f(a * t + b) has the highest squared correlation r^2 with phi,
then zooms into the neighbouring grid cells, three times in all. c and d then
come from a linear least-squares fit. Unlike pykan, the search runs on the
standardised input (t - mean) / std and converts (a, b) back afterwards, so the
default range [-10, 10] suits inputs of any scale.

Every library function has a domain (log needs u > 0, sqrt u >= 0, 1/x u != 0,
exp u <= 700 to stay finite). An (a, b) pair that puts any sample outside the
domain, or gives a non-finite or huge value, is skipped, so no candidate raises
or warns from inside numpy. A function with no valid pair over the data is left
out of an edge's candidates.

Choosing the best candidate. A more flexible function can match a simpler one
with a degenerate fit (cos(a t) with a small a is a scaled t^2 plus a small
t^4 term), so the r^2 alone would pick it. Each candidate's cost has the form
used to rank pykan's symbolic suggestions:

    weight_simple * complexity + (1 - weight_simple) * log2(1 + 1e-5 - r^2)

and the lowest cost wins. With weight_simple = 0.8, one more unit of complexity
must buy 16 times less unexplained variance. The complexities are this module's
own scale (see LIBRARY).

Edges are fitted in the protocol's user units (:mod:`kanc.model.protocol`): layer
0 reads raw features, the last layer returns target units (or logits), so the
composed formula maps raw features to model outputs.
"""
import dataclasses

import numpy as np

from kanc.errors import DataError

MAX_ABS_VALUE = 1e8
"""Largest |f(a t + b)| accepted; beyond it a candidate is treated as outside its domain (ill-conditioned fit)."""

DEFAULT_WEIGHT_SIMPLE = 0.8


def _in_domain_positive(u):
    return u > 0


def _in_domain_nonnegative(u):
    return u >= 0


def _in_domain_nonzero(u):
    return u != 0


def _in_domain_exp(u):
    return u <= 700.0


@dataclasses.dataclass(frozen=True)
class LibraryFunction:
    """A candidate edge function f(u) with its domain and complexity.

    ``template`` is the formula with ``{u}`` in place of the argument.
    ``domain`` returns a bool mask of the valid arguments (None: every real u).
    ``affine`` marks f(u) = u, whose fit needs no (a, b) search.
    """

    name: str
    function: object
    template: str
    complexity: int
    domain: object = None
    affine: bool = False


LIBRARY = (
    LibraryFunction("x", lambda u: u, "{u}", 1, affine=True),
    LibraryFunction("x^2", lambda u: u * u, "({u})^2", 2),
    LibraryFunction("x^3", lambda u: u * u * u, "({u})^3", 3),
    LibraryFunction("x^4", lambda u: (u * u) ** 2, "({u})^4", 4),
    LibraryFunction("1/x", lambda u: 1.0 / u, "1/({u})", 2, _in_domain_nonzero),
    LibraryFunction("sqrt", np.sqrt, "sqrt({u})", 2, _in_domain_nonnegative),
    LibraryFunction("exp", np.exp, "exp({u})", 2, _in_domain_exp),
    LibraryFunction("log", np.log, "log({u})", 2, _in_domain_positive),
    LibraryFunction("sin", np.sin, "sin({u})", 3),
    LibraryFunction("tanh", np.tanh, "tanh({u})", 3),
    LibraryFunction("abs", np.abs, "abs({u})", 3),
    LibraryFunction("gaussian", lambda u: np.exp(-u * u), "exp(-({u})^2)", 3),
)
"""Default candidates. Complexity: 1 for the affine x, 2 for one basic operation,
3 or more for odd powers above 1, periodic, saturating or piecewise functions."""


@dataclasses.dataclass
class CandidateFit:
    """One fitted candidate c * f(a * t + b) + d and its coefficient of determination r2 on the edge's samples.

    ``template`` is the library function's formula with ``{u}`` for its argument,
    and ``affine`` is True for f(u) = u, which is written without a and b.
    """

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: int
    cost: float
    template: str
    affine: bool = False

    def term(self, argument="x", precision=4):
        """Return c * f(a * argument + b) as a string, without d."""
        # An affine fit is c * argument, so a compound argument needs brackets.
        inner = _wrap(argument) if self.affine else f"{_number(self.a, precision)}*{_wrap(argument)} + {_number(self.b, precision)}"
        return f"{_number(self.c, precision)}*{self.template.format(u=inner)}"

    def formula(self, argument="x", precision=4):
        """Return the fitted function c * f(a * argument + b) + d as a string."""
        return f"{self.term(argument, precision)} + {_number(self.d, precision)}".replace("+ -", "- ")


@dataclasses.dataclass
class EdgeSuggestion:
    """The candidates of edge (node ``node``, input ``input``) of layer ``layer``, cheapest first.

    ``best`` is None for a pruned edge or one that is constant on the data; its
    value is then ``constant`` everywhere.
    """

    layer: int
    node: int
    input: int
    candidates: list
    constant: float = 0.0

    @property
    def best(self):
        return self.candidates[0] if self.candidates else None


# ---------------------------------------------------------------------- one edge


def fit_candidate(t, values, function, a_range=(-10.0, 10.0), b_range=(-10.0, 10.0), grid_number=101,
                  iterations=3, weight_simple=DEFAULT_WEIGHT_SIMPLE):
    """Fit c * f(a * t + b) + d to ``values`` (N,) at ``t`` (N,) and return the CandidateFit.

    Returns None when no (a, b) of the search keeps every sample inside f's domain.

    ``a_range`` and ``b_range`` apply to the standardised input (t - mean(t)) / std(t).
    """
    t = np.asarray(t, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    t_mean, t_std = t.mean(), t.std()
    if t_std <= 0:
        raise DataError("symbolic fit needs at least two distinct input values; the edge input is constant")
    scaled = (t - t_mean) / t_std

    if function.affine:
        a_std, b_std = 1.0, 0.0
    else:
        best = _search_argument(scaled, values, function, a_range, b_range, grid_number, iterations)
        if best is None:
            return None
        a_std, b_std = best

    with np.errstate(all="ignore"):
        feature = function.function(a_std * scaled + b_std)
    design = np.stack([feature, np.ones_like(feature)], axis=1)
    (c, d), *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - (c * feature + d)
    total = np.sum((values - values.mean()) ** 2)
    r2 = float(1.0 - np.sum(residual ** 2) / total) if total > 0 else 1.0

    # Back to the raw input: a_std * (t - mean) / std + b_std = a * t + b.
    a = a_std / t_std
    b = b_std - a_std * t_mean / t_std
    cost = weight_simple * function.complexity + (1.0 - weight_simple) * np.log2(1.0 + 1e-5 - min(r2, 1.0))
    return CandidateFit(function.name, float(a), float(b), float(c), float(d), r2, function.complexity,
                        float(cost), function.template, function.affine)


def _search_argument(scaled, values, function, a_range, b_range, grid_number, iterations):
    """Return the (a, b) on the standardised input whose f(a * t + b) correlates best with ``values``, or None."""
    centered = values - values.mean()
    a_low, a_high = a_range
    b_low, b_high = b_range
    best = None
    for _ in range(iterations):
        a_grid = np.linspace(a_low, a_high, grid_number)
        b_grid = np.linspace(b_low, b_high, grid_number)
        argument = a_grid[None, :, None] * scaled[:, None, None] + b_grid[None, None, :]
        with np.errstate(all="ignore"):
            feature = function.function(argument)
            valid = np.all(np.isfinite(feature) & (np.abs(feature) <= MAX_ABS_VALUE), axis=0)
            if function.domain is not None:
                valid &= np.all(function.domain(argument), axis=0)

            # Squared correlation of f(a t + b) with the values, for every (a, b).
            feature_centered = feature - feature.mean(axis=0)
            covariance = np.einsum("n,nab->ab", centered, feature_centered)
            variance = np.einsum("nab,nab->ab", feature_centered, feature_centered)
            r2 = covariance ** 2 / (variance * np.dot(centered, centered))
        r2 = np.where(valid & (variance > 0) & np.isfinite(r2), r2, -np.inf)
        if not np.isfinite(r2.max()):
            return best

        a_index, b_index = np.unravel_index(np.argmax(r2), r2.shape)
        best = (float(a_grid[a_index]), float(b_grid[b_index]))

        # Zoom into the neighbouring cells, or into the boundary cell at the boundary (as pykan does).
        a_low, a_high = _zoom(a_grid, a_index)
        b_low, b_high = _zoom(b_grid, b_index)
    return best


def _zoom(grid, index):
    if index == 0:
        return grid[0], grid[1]
    if index == len(grid) - 1:
        return grid[-2], grid[-1]
    return grid[index - 1], grid[index + 1]


def suggest_edge(t, values, library=LIBRARY, weight_simple=DEFAULT_WEIGHT_SIMPLE, **search):
    """Return the CandidateFits of every library function for one edge, cheapest first (invalid ones left out)."""
    fits = [fit_candidate(t, values, function, weight_simple=weight_simple, **search) for function in library]
    return sorted((fit for fit in fits if fit is not None), key=lambda fit: (fit.cost, -fit.r2))


# ---------------------------------------------------------------------- whole network


def suggest_symbolic(model, x, library=LIBRARY, weight_simple=DEFAULT_WEIGHT_SIMPLE, max_samples=128,
                     constant_tolerance=1e-9, **search):
    """Fit every library function to every edge of ``model``; return a list of EdgeSuggestion, layer by layer.

    ``model`` follows the float-model protocol. ``x`` (N, n_inputs) are real inputs
    in the user's units, normally the training set. Each edge is fitted on at most
    ``max_samples`` of its input values, taken evenly from their sorted order.
    An edge whose standard deviation is at most ``constant_tolerance`` times the
    largest |edge value| of its layer, or which ``edge_mask`` marks as pruned,
    gets no candidates, only its mean value as ``constant``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise DataError(f"symbolic fits need (N >= 2, n_inputs) samples, got shape {x.shape}")
    activations = model.layer_inputs(x)
    layers = getattr(model, "layers", None)
    suggestions = []

    for layer_index in range(len(model.widths) - 1):
        t = _sample_inputs(activations[layer_index], max_samples)
        values = np.asarray(model.edge_values(layer_index, t), dtype=np.float64)
        spread = values.std(axis=0)
        scale = np.abs(values).max() if values.size else 0.0
        mask = layers[layer_index].edge_mask if layers is not None else np.ones(spread.shape, dtype=bool)

        for node in range(values.shape[1]):
            for input_index in range(values.shape[2]):
                edge_values = values[:, node, input_index]
                flat = not mask[node, input_index] or spread[node, input_index] <= constant_tolerance * scale
                if flat or np.ptp(t[:, input_index]) == 0:
                    candidates = []
                else:
                    candidates = suggest_edge(t[:, input_index], edge_values, library, weight_simple, **search)
                suggestions.append(EdgeSuggestion(layer_index, node, input_index, candidates,
                                                  constant=float(edge_values.mean())))
    return suggestions


def _sample_inputs(t, max_samples):
    """Return up to ``max_samples`` rows per column of ``t``, each column sorted and thinned evenly."""
    ordered = np.sort(t, axis=0)
    if len(ordered) <= max_samples:
        return ordered
    rows = np.round(np.linspace(0, len(ordered) - 1, max_samples)).astype(int)
    return ordered[rows]


def symbolic_formula(model, suggestions, input_names=None, precision=4):
    """Return one formula string per model output, composing the best candidate of every edge.

    Each node becomes bias + sum over edges of c * f(a * (input expression) + b) + d.
    Inputs are named by ``input_names``, else the model's ``feature_names``, else
    x1 .. xn. Node biases come from the protocol's ``node_bias``. Edges without a
    candidate contribute their constant.
    """
    widths = list(model.widths)
    names = input_names or getattr(model, "feature_names", None) or [f"x{i + 1}" for i in range(widths[0])]
    if len(names) != widths[0]:
        raise DataError(f"input_names has {len(names)} names, expected {widths[0]}")
    by_edge = {(s.layer, s.node, s.input): s for s in suggestions}

    expressions = list(names)
    for layer in range(len(widths) - 1):
        bias = np.asarray(model.node_bias(layer), dtype=np.float64)
        next_expressions = []
        for node in range(widths[layer + 1]):
            constant = float(bias[node])
            terms = []
            for input_index in range(widths[layer]):
                suggestion = by_edge.get((layer, node, input_index))
                if suggestion is None:
                    raise DataError(f"no suggestion for edge (layer {layer}, node {node}, input {input_index}); "
                                    "pass the output of suggest_symbolic for this model")
                best = suggestion.best
                if best is None:
                    constant += suggestion.constant
                    continue
                constant += best.d
                terms.append(best.term(expressions[input_index], precision))
            terms.append(_number(constant, precision))
            next_expressions.append(" + ".join(terms).replace("+ -", "- "))
        expressions = next_expressions
    return expressions


def _number(value, precision):
    return f"{value:.{precision}g}"


def _wrap(expression):
    """Parenthesise ``expression`` unless it is a plain name."""
    return expression if expression.replace("_", "").isalnum() else f"({expression})"


__all__ = ["LIBRARY", "LibraryFunction", "CandidateFit", "EdgeSuggestion", "fit_candidate", "suggest_edge",
           "suggest_symbolic", "symbolic_formula"]
