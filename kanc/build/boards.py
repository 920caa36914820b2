"""Board registry: one Board object per supported target, looked up by name.

Every board turns a QuantizedModel into a firmware image (``build``) and runs a
batch of int16 input rows through that image on the board or its emulator
(``run_cases``). The AVR board lives in kanc.build.avr, the Cortex-M boards in
kanc.build.cortex_m and the host board in kanc.build.host. Modules are imported
on first lookup, so a missing or broken module only affects its own board, and a
board module may import the result types below without an import cycle.
"""
import collections.abc
import dataclasses
import importlib
import typing

import numpy as np

from kanc.errors import KancError


@dataclasses.dataclass
class BuildResult:
    """A linked firmware image and its static memory use.

    ``flash_bytes`` is text + rodata + the initial image of .data (what a flash
    programmer writes) and ``ram_bytes`` is .data + .bss, both read from the ELF
    section headers. The stack is not included in ``ram_bytes``.
    """

    board: str
    firmware: str
    elf_path: str
    flash_bytes: int
    ram_bytes: int
    details: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunResult:
    """Outputs and per-inference cost of one batch of input rows.

    ``outputs`` is an int16 array (N, n_outputs). ``counts`` is an int64 array (N,)
    of cycles or executed instructions per inference, in the board's
    ``count_unit``. ``machine`` names what executed the image (an emulator
    machine such as "microbit" or "simavr atmega328p", or "host").
    """

    outputs: np.ndarray
    counts: np.ndarray
    count_unit: str
    machine: str


class Board(typing.Protocol):
    """What every board object provides (structural type; no base class needed)."""

    name: str
    cpu: str
    count_unit: str

    def build(self, qmodel, out_dir, firmware="app") -> BuildResult:
        """Generate C for ``qmodel`` in ``out_dir``, compile and link ``firmware`` ("app" or "verify")."""

    def run_cases(self, build_result, x_q) -> RunResult:
        """Run every row of int16 ``x_q`` (N, n_inputs) through a "verify" image."""


class UnknownBoardError(KancError):
    """A board name that is not in the registry."""


# name -> (module, attribute). The attribute is a class (instantiated without
# arguments) or a ready board object.
_BOARD_SOURCES = {
    "uno": ("kanc.build.avr", ("UnoBoard", "BOARD")),
    "portenta_h7": ("kanc.build.cortex_m", ("PortentaH7Board",)),
    "rp2040": ("kanc.build.cortex_m", ("RP2040Board",)),
    "host": ("kanc.build.boards", ("HostBoard",)),
}


class _LazyBoards(collections.abc.Mapping):
    """Mapping from board name to board object; each board module is imported on first access."""

    def __init__(self, sources):
        self._sources = dict(sources)
        self._boards = {}

    def __getitem__(self, name):
        if name not in self._sources:
            raise UnknownBoardError(
                f"unknown board {name!r}; supported boards are {', '.join(sorted(self._sources))}")
        if name not in self._boards:
            self._boards[name] = _load_board(name, *self._sources[name])
        return self._boards[name]

    def __iter__(self):
        return iter(self._sources)

    def __len__(self):
        return len(self._sources)


def _load_board(name, module_name, attributes):
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise KancError(f"board {name!r} is unavailable: cannot import {module_name} ({exc})") from exc
    for attribute in attributes:
        value = getattr(module, attribute, None)
        if value is None:
            continue
        return value() if isinstance(value, type) else value
    raise KancError(f"board {name!r} is unavailable: {module_name} defines none of {', '.join(attributes)}")


class HostBoard:
    """The build machine itself: the generated C compiled by the host compiler (kanc.build.host).

    The host has no cost model, so ``run_cases`` returns zero counts with the
    unit "none". ``flash_bytes`` and ``ram_bytes`` are those of the runner
    executable, which also holds the runner's own code and libc start-up.
    """

    name = "host"
    cpu = "host"
    count_unit = "none"

    def build(self, qmodel, out_dir, firmware="app"):
        """Compile the host runner for ``qmodel`` in ``out_dir``; "app" and "verify" build the same runner."""
        from kanc.build.elf import memory_use
        from kanc.build.host import build_host_runner

        if firmware not in ("app", "verify"):
            raise KancError(f"unknown firmware {firmware!r}; use 'app' or 'verify'")
        executable = build_host_runner([qmodel], out_dir)
        use = memory_use(executable)
        shape = _ModelShape(qmodel.name, qmodel.n_inputs, qmodel.n_outputs)
        return BuildResult(self.name, firmware, executable, use.flash_bytes, use.ram_bytes,
                           {"model": shape, "n_inputs": qmodel.n_inputs, "n_outputs": qmodel.n_outputs,
                            "n_edges": qmodel.n_edges, "sections": use.sections})

    def run_cases(self, build_result, x_q):
        """Run every int16 row of ``x_q`` through the runner; counts are zeros (no cost model)."""
        from kanc.build.host import run_runner

        try:
            outputs = run_runner(build_result.elf_path, build_result.details["model"], x_q)
        except ValueError as exc:
            raise KancError(str(exc)) from None
        return RunResult(outputs, np.zeros(len(outputs), dtype=np.int64), self.count_unit, "host")


@dataclasses.dataclass
class _ModelShape:
    """The fields of a QuantizedModel that kanc.build.host.run_runner reads."""

    name: str
    n_inputs: int
    n_outputs: int


BOARDS = _LazyBoards(_BOARD_SOURCES)
"""All supported boards by name: ``BOARDS["rp2040"].build(...)``."""


def get_board(name):
    """Return the board object called ``name``; raise UnknownBoardError listing the valid names."""
    return BOARDS[name]
