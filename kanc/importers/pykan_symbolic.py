"""numpy versions of pykan's symbolic edge functions (``kan.utils.SYMBOLIC_LIB``, pykan 0.2.8).

A symbolic edge computes ``c * f(a * t + b) + d``. Each function below returns
what the torch version returns, including NaN and +-inf outside its domain (for
example sqrt and log of a negative argument give NaN, 1/x at 0 gives inf). The
importer raises instead of passing such values on. ``ARGUMENT_DOMAIN`` gives the
interval of arguments ``u = a * t + b`` on which each function is finite, so
that callers can keep sampled inputs inside it.

pykan's ``singularity_avoiding`` variants (``SYMBOLIC_LIB[name][3]``) are not
reproduced: the importer follows the default forward pass, which does not use them.
"""
import math

import numpy as np

from kanc.importers.common import ModelImportError


def _power(n):
    return lambda u: u ** n


def _inverse_power(n):
    return lambda u: 1.0 / u ** n


SYMBOLIC_FUNCTIONS = {
    "x": lambda u: u,
    "x^2": _power(2),
    "x^3": _power(3),
    "x^4": _power(4),
    "x^5": _power(5),
    "1/x": lambda u: 1.0 / u,
    "1/x^2": _inverse_power(2),
    "1/x^3": _inverse_power(3),
    "1/x^4": _inverse_power(4),
    "1/x^5": _inverse_power(5),
    "sqrt": np.sqrt,
    "x^0.5": np.sqrt,
    "x^1.5": lambda u: np.sqrt(u) ** 3,
    "1/sqrt(x)": lambda u: 1.0 / np.sqrt(u),
    "1/x^0.5": lambda u: 1.0 / np.sqrt(u),
    "exp": np.exp,
    "log": np.log,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sgn": np.sign,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "arctanh": np.arctanh,
    "0": lambda u: u * 0.0,
    "gaussian": lambda u: np.exp(-u ** 2),
}
"""pykan function name -> numpy function of the argument u = a * t + b."""

ARGUMENT_DOMAIN = {
    "1/x": (-math.inf, math.inf, "u != 0"),
    "1/x^2": (-math.inf, math.inf, "u != 0"),
    "1/x^3": (-math.inf, math.inf, "u != 0"),
    "1/x^4": (-math.inf, math.inf, "u != 0"),
    "1/x^5": (-math.inf, math.inf, "u != 0"),
    "sqrt": (0.0, math.inf, "u >= 0"),
    "x^0.5": (0.0, math.inf, "u >= 0"),
    "x^1.5": (0.0, math.inf, "u >= 0"),
    "1/sqrt(x)": (0.0, math.inf, "u > 0"),
    "1/x^0.5": (0.0, math.inf, "u > 0"),
    "log": (0.0, math.inf, "u > 0"),
    "tan": (-math.pi / 2, math.pi / 2, "cos(u) != 0"),
    "arcsin": (-1.0, 1.0, "-1 <= u <= 1"),
    "arccos": (-1.0, 1.0, "-1 <= u <= 1"),
    "arctanh": (-1.0, 1.0, "-1 < u < 1"),
}
"""Functions that are not finite for every real argument: (lo, hi, condition).

``lo`` and ``hi`` bound the interval of u that ``finite_input_interval`` maps back
to t, and the condition states the exact rule. The reciprocals are finite on the
real line minus 0, but their interval is the whole line. tan is finite on the
line minus the poles pi/2 + k*pi, and its interval is the principal branch.
"""


def symbolic_function(name, where):
    """Return the numpy function for pykan symbolic function ``name``; ``where`` names the edge for errors."""
    try:
        return SYMBOLIC_FUNCTIONS[name]
    except KeyError:
        raise ModelImportError(
            f"pykan {where} uses symbolic function {name!r}, which kanc cannot reproduce "
            f"(known: {', '.join(sorted(SYMBOLIC_FUNCTIONS))}); fix a known function on that edge "
            "with model.fix_symbolic or unfix it with model.unfix_symbolic") from None


def finite_input_interval(name, a, b):
    """Return (lo, hi), the interval of inputs t on which c * f(a * t + b) + d is finite, ends included.

    Functions without a domain limit give (-inf, inf). For a == 0 the argument is
    the constant b, so the interval is the whole line if b is in the domain and
    empty (lo = inf, hi = -inf) if not.
    """
    if name not in ARGUMENT_DOMAIN or name.startswith("1/x"):
        return -math.inf, math.inf
    lo, hi, _ = ARGUMENT_DOMAIN[name]
    if name == "tan":
        # Keep to the branch of the poles that contains u = b.
        branch = math.floor((b + math.pi / 2) / math.pi)
        lo, hi = lo + branch * math.pi, hi + branch * math.pi

    if a == 0:
        inside = lo <= b <= hi
        return (-math.inf, math.inf) if inside else (math.inf, -math.inf)
    ends = sorted(((lo - b) / a, (hi - b) / a))
    return ends[0], ends[1]
