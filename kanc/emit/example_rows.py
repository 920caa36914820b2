"""Input rows bundled into exported example programs (Arduino sketches, Pico SDK and Portenta projects)."""
import numpy as np

from kanc.errors import KancError
from kanc.simulate.simulator import check_int_inputs

DEFAULT_ROW_COUNT = 8
"""Rows bundled when the user gives none."""

MAX_ROWS = 256
"""Most rows an example bundles, so that it fits in a small board's flash."""


def example_rows(x_q, n_inputs):
    """Return the int16 rows (N, n_inputs) an example program runs.

    ``x_q`` None gives DEFAULT_ROW_COUNT fixed rows: zeros, the int16 extremes and
    seeded pseudo-random values. Given rows are checked like simulator inputs and
    must number 1 to MAX_ROWS; KancError names the problem otherwise.
    """
    if x_q is None:
        rng = np.random.default_rng(20240601)
        rows = rng.integers(-32768, 32768, size=(DEFAULT_ROW_COUNT, n_inputs))
        rows[0] = 0
        rows[1] = -32768
        rows[2] = 32767
        return rows.astype(np.int16)
    rows = check_int_inputs(x_q, n_inputs)
    if not 1 <= len(rows) <= MAX_ROWS:
        raise KancError(f"the example bundles 1 to {MAX_ROWS} input rows, got {len(rows)}")
    return rows
