"""Import ChebyKAN models (stacks of ``ChebyKANLayer``) from their state dict.

A ChebyKAN layer computes, for output j and input i (ChebyKAN,
github.com/SynodicMonth/ChebyKAN, ChebyKANLayer.py)::

    phi_ji(x_i) = sum_d cheby_coeffs[i, j, d] * cos(d * arccos(tanh(x_i)))

that is a Chebyshev series T_d evaluated at tanh(x_i), with no base term and no
bias. The importer evaluates the same cos(d * arccos(.)) form as the library, not
the three-term recurrence, so that round-off matches. Because tanh maps every real
input into (-1, 1), the edge functions are defined on the whole real line and
flatten towards sum_d c_d T_d(+-1) far outside the data.

The library's MNIST example puts a LayerNorm between layers; such a model mixes
the inputs of a layer and is rejected.
"""
import numpy as np

from kanc.importers.common import ModelImportError, float_array, group_layers, load_state_arrays
from kanc.importers.float_model import ImportedKAN

LIBRARY = "ChebyKAN"
SUFFIXES = ("cheby_coeffs", "arange")


class ChebyKANLayerModel:
    """One ``ChebyKANLayer``: Chebyshev coefficients per edge, applied to tanh of the input."""

    def __init__(self, coeffs):
        self.coeffs = coeffs                    # (n_in, n_out, degree + 1), as stored by the library
        self.n_in, self.n_out, terms = coeffs.shape
        self.orders = np.arange(terms, dtype=np.float64)
        self.bias = np.zeros(self.n_out)

    def edge_values(self, t):
        angle = np.arccos(np.tanh(t))                                   # (N, n_in), in [0, pi]
        chebyshev = np.cos(angle[:, :, None] * self.orders)             # T_d(tanh t), (N, n_in, degree + 1)
        return np.einsum("nid,ijd->nji", chebyshev, self.coeffs)


def _build_layer(arrays, index, members):
    coeffs = float_array(arrays, members["cheby_coeffs"], LIBRARY, 3)
    if "arange" in members:
        orders = np.asarray(arrays[members["arange"]])
        if orders.shape != (coeffs.shape[2],) or np.any(orders != np.arange(coeffs.shape[2])):
            raise ModelImportError(
                f"{LIBRARY} layer {index}: buffer 'arange' is {orders.tolist()}, expected 0 .. {coeffs.shape[2] - 1} "
                "to match cheby_coeffs")
    return ChebyKANLayerModel(coeffs)


def import_chebykan(state, task="regression"):
    """Import a ChebyKAN model from the state dict of a stack of ``ChebyKANLayer``.

    ``state`` is a dict of arrays or tensors, a module, an ``.npz`` archive or a
    ``torch.save(model.state_dict(), path)`` file. Layers are taken in state-dict
    order, which is the order the modules were registered in. Returns an
    ImportedKAN in float64 that follows kanc.model.protocol.
    """
    arrays = load_state_arrays(state, LIBRARY)
    layers = [
        _build_layer(arrays, index, members)
        for index, (_, members) in enumerate(group_layers(arrays, SUFFIXES, LIBRARY))
    ]
    return ImportedKAN(layers, task, source=LIBRARY)
