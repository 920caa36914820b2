"""Input rows and an exact output check shared by the on-device tests (Uno under simavr, Cortex-M under QEMU)."""
import numpy as np

INT16_EXTREMES = [-32768, -32767, -1, 0, 1, 32766, 32767]


def with_extreme_rows(rng, x, n_inputs):
    """Append rows of int16 extremes (all equal, alternating, and mixed) to ``x``."""
    rows = [np.full(n_inputs, value) for value in INT16_EXTREMES]
    rows.append(np.resize([-32768, 32767], n_inputs))
    rows.append(rng.choice(INT16_EXTREMES, size=n_inputs))
    return np.vstack([x, np.array(rows, dtype=np.int16)])


def assert_same_outputs(device, expected, x_q, oracle_name="reference"):
    """Assert that the device's int16 outputs equal ``expected`` exactly; name the first differing row."""
    assert device.shape == expected.shape
    assert device.dtype == np.int16
    mismatches = np.argwhere(device != expected)
    assert mismatches.size == 0, (
        f"{len(mismatches)} outputs differ from the {oracle_name}; first at row {mismatches[0][0]}: "
        f"device {device[mismatches[0][0]].tolist()} {oracle_name} {expected[mismatches[0][0]].tolist()} "
        f"for input {x_q[mismatches[0][0]].tolist()}")
