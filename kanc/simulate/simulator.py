"""Python API of the bit-exact integer simulator (Cython module kanc._sim).

``simulate`` returns the int16 outputs a device running the generated C would
return for the same int16 inputs, plus how often each layer input and output
saturated. ``simulate_real`` wraps it with the float conversions of spec
sections 2.1 and 2.6.
"""
import dataclasses

import numpy as np

from kanc.errors import DataError, ToolchainError

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


@dataclasses.dataclass
class SimulationResult:
    """Outputs and saturation statistics of one simulator run over N samples.

    Attributes
    ----------
    outputs : int16 array (N, n_outputs)
        y_q, the model outputs in output steps.
    clamp_counts : list of int64 arrays
        One per layer, of length n_in of that layer: how many of the N samples had
        that layer input clamped (step-1 or step-5 saturation of its requantizer).
        Entry 0 counts model inputs outside the calibrated input domain.
    output_clamp_counts : int64 array (n_outputs,)
        How many samples had each output saturate (step 1 or the int16 step 5).
    real_outputs : float64 array (N, n_outputs) or None
        y = y_q * output_scale + output_offset; set by ``simulate_real`` only.
    """

    outputs: np.ndarray
    clamp_counts: list
    output_clamp_counts: np.ndarray
    real_outputs: np.ndarray = None


class Simulator:
    """A validated model packed once for repeated simulator runs.

    Packing copies the tables into the kernel's layouts (about twice the table
    size in memory), so reuse one Simulator when running many batches.
    """

    def __init__(self, qmodel):
        sim = _load_kernel()
        # The kernel indexes tables without bounds checks, so the model must obey spec section 4.
        qmodel.validate()
        self.qmodel = qmodel
        self._packed = sim.PackedModel(qmodel)

    def run(self, x_q, simd=True):
        """Run the model on int16 inputs ``x_q`` (N, n_inputs) and return a SimulationResult.

        ``simd=False`` forces the portable scalar kernel (the results are identical).
        """
        x_q = check_int_inputs(x_q, self.qmodel.n_inputs)
        n_samples = x_q.shape[0]
        outputs = np.zeros((n_samples, self.qmodel.n_outputs), dtype=np.int16)
        counters = np.zeros(self._packed.n_clamp_counters, dtype=np.int64)
        self._packed.run(x_q, outputs, counters, simd)

        # Split the flat counter array: layer inputs in order, then the outputs.
        clamp_counts = []
        start = 0
        for layer in self.qmodel.layers:
            clamp_counts.append(counters[start:start + layer.n_in].copy())
            start += layer.n_in
        return SimulationResult(outputs=outputs, clamp_counts=clamp_counts,
                                output_clamp_counts=counters[start:].copy())


def simulate(qmodel, x_q):
    """Run ``qmodel`` on int16 inputs ``x_q`` (N, n_inputs) bit-exactly; return a SimulationResult."""
    return Simulator(qmodel).run(x_q)


def simulate_real(qmodel, x):
    """Quantize real inputs ``x`` (N, n_inputs), simulate, and return a SimulationResult with real outputs.

    Inputs are converted by spec section 2.1 (``qmodel.quantize_inputs``) and the
    outputs back by section 2.6 (``qmodel.dequantize_outputs``).
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != qmodel.n_inputs:
        raise DataError(f"expected real inputs of shape (N, {qmodel.n_inputs}), got shape {x.shape}; "
                        "pass one row per sample and one column per feature")
    if x.dtype.kind not in "iuf":
        raise DataError(f"real inputs must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if np.isnan(x).any():
        row, column = np.argwhere(np.isnan(x))[0]
        raise DataError(f"input row {row}, feature {column} is NaN; remove or impute it before inference")

    result = simulate(qmodel, qmodel.quantize_inputs(x))
    result.real_outputs = qmodel.dequantize_outputs(result.outputs)
    return result


def predict_classes(y_q):
    """Return the predicted class per sample: the lowest index among the largest y_q (spec section 2.6).

    ``y_q`` is an (N, n_outputs) integer array or a SimulationResult.
    """
    if isinstance(y_q, SimulationResult):
        y_q = y_q.outputs
    y_q = np.asarray(y_q)
    if y_q.ndim != 2 or y_q.shape[1] == 0:
        raise DataError(f"expected outputs of shape (N, n_outputs) with n_outputs >= 1, got shape {y_q.shape}")
    # np.argmax returns the first index of the maximum, which is the tie rule of the spec.
    return np.argmax(y_q, axis=1)


def check_int_inputs(x_q, n_inputs):
    """Return ``x_q`` as a C-contiguous int16 (N, n_inputs) array, or raise DataError naming the problem.

    Any integer dtype is accepted when every value fits in int16; floats are
    rejected because converting them is the job of ``simulate_real``.
    """
    x_q = np.asarray(x_q)
    if x_q.ndim != 2 or x_q.shape[1] != n_inputs:
        hint = " (use x_q.reshape(1, -1) for a single sample)" if x_q.ndim == 1 else ""
        raise DataError(f"expected int16 inputs of shape (N, {n_inputs}), got shape {x_q.shape}{hint}")
    if x_q.dtype.kind not in "iu":
        raise DataError(f"x_q must be an integer array of input steps (integers), got dtype {x_q.dtype}; "
                        "convert real inputs with qmodel.quantize_inputs or call simulate_real")
    if x_q.dtype != np.int16 and x_q.size:
        low, high = int(x_q.min()), int(x_q.max())
        if low < INT16_MIN or high > INT16_MAX:
            bad = low if low < INT16_MIN else high
            raise DataError(f"x_q value {bad} is outside int16 [{INT16_MIN}, {INT16_MAX}]; "
                            "saturate it first or quantize real inputs with qmodel.quantize_inputs")
    return np.ascontiguousarray(x_q, dtype=np.int16)


def _load_kernel():
    try:
        from kanc import _sim
    except ImportError as exc:
        raise ToolchainError(f"the Cython simulator kanc._sim is not built ({exc}); build it with "
                             "'python setup.py build_ext --inplace' in the kanc source folder") from None
    return _sim
