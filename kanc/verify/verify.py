"""Run a model on a board (or its emulator) and compare every output with the host simulator exactly."""
import dataclasses
import tempfile

import numpy as np

from kanc.build.boards import get_board
from kanc.errors import KancError
from kanc.simulate.simulator import check_int_inputs


@dataclasses.dataclass
class VerifyResult:
    """Outcome of one verify run.

    ``mismatches`` is the number of output values (not rows) that differ from the
    simulator. ``counts`` contains the board's cost of each inference in
    ``count_unit`` ("cycles" or "instructions"), ``count_per_edge`` the mean
    count divided by the model's edge count. Memory is from the verify image's
    ELF sections, in bytes.
    """

    board: str
    cpu: str
    machine: str
    count_unit: str
    n_rows: int
    n_outputs: int
    n_edges: int
    mismatches: int
    mismatched_rows: int
    first_mismatch: dict
    counts: np.ndarray
    count_per_inference: float
    count_per_edge: float
    flash_bytes: int
    ram_bytes: int
    elf_path: str

    @property
    def passed(self):
        """True when every output of every row equals the simulator's."""
        return self.mismatches == 0


def verify(board_name, qmodel, x_q, out_dir=None):
    """Build the verify image of ``qmodel`` for ``board_name``, run every row of ``x_q`` and compare.

    ``x_q`` is int16 (N, n_inputs). Build files go to ``out_dir``, or to a
    temporary folder that is removed afterwards (then ``elf_path`` is None).
    Raises KancError for bad input and ToolchainError when a tool is missing
    or fails; a mismatch is reported in the result, not raised.
    """
    from kanc.simulate import simulate

    board = get_board(board_name)
    x_q = check_int_inputs(x_q, qmodel.n_inputs)
    if len(x_q) == 0:
        raise KancError("no input rows to verify; the data file must contain at least one row")
    expected = np.asarray(simulate(qmodel, x_q).outputs)

    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix=f"kanc-verify-{board_name}-") as tmp:
            build, run = _build_and_run(board, qmodel, x_q, tmp)
        elf_path = None
    else:
        build, run = _build_and_run(board, qmodel, x_q, out_dir)
        elf_path = build.elf_path

    return _compare(board, qmodel, x_q, expected, build, run, elf_path)


def _build_and_run(board, qmodel, x_q, out_dir):
    build = board.build(qmodel, out_dir, firmware="verify")
    return build, board.run_cases(build, x_q)


def _compare(board, qmodel, x_q, expected, build, run, elf_path):
    outputs = np.asarray(run.outputs)
    if outputs.shape != expected.shape:
        raise KancError(f"board {board.name} returned outputs of shape {outputs.shape}, "
                        f"expected {expected.shape}")
    differs = outputs.astype(np.int32) != expected.astype(np.int32)
    first = None
    if differs.any():
        row, column = (int(v) for v in np.argwhere(differs)[0])
        first = {"row": row, "output": column, "expected": int(expected[row, column]),
                 "got": int(outputs[row, column]), "x_q": [int(v) for v in x_q[row]]}

    counts = np.asarray(run.counts, dtype=np.int64)
    mean_count = float(counts.mean())
    return VerifyResult(
        board=board.name, cpu=board.cpu, machine=run.machine, count_unit=run.count_unit,
        n_rows=len(x_q), n_outputs=qmodel.n_outputs, n_edges=qmodel.n_edges,
        mismatches=int(differs.sum()), mismatched_rows=int(differs.any(axis=1).sum()), first_mismatch=first,
        counts=counts, count_per_inference=mean_count, count_per_edge=mean_count / qmodel.n_edges,
        flash_bytes=build.flash_bytes, ram_bytes=build.ram_bytes, elf_path=elf_path,
    )


