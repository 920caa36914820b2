"""Arduino Uno (ATmega328P at 16 MHz): build firmware with avr-gcc and run it under simavr.

The verify firmware (boards/uno/verify_main.c) takes its input rows from a RAM
mailbox that the host harness (boards/uno/sim_harness.c, compiled against
libsimavr on first use) fills through the ELF symbol table. simavr counts AVR
cycles exactly, so ``run_cases`` returns exact cycles per inference.
"""
import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

from kanc.build.boards import BuildResult, RunResult
from kanc.emit import paths
from kanc.emit.c_source import model_sizes, write_c_sources
from kanc.errors import KancError, ToolchainError
from kanc.io.atomic import atomic_path
from kanc.simulate.simulator import check_int_inputs

MCU = "atmega328p"
CPU_HZ = 16_000_000
FLASH_BYTES = 32 * 1024
"""ATmega328P flash; the Arduino bootloader takes the top 512 bytes of it."""
BOOTLOADER_BYTES = 512
SRAM_BYTES = 2 * 1024
OPTIMIZATION_LEVELS = ("s", "1", "2", "3")

CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections")
LDFLAGS = ("-Wl,--gc-sections",)

CYCLE_LIMIT_BASE = 1_000_000
CYCLE_LIMIT_PER_ITEM = 5_000
"""Cycle budget per edge and per requantizer of one inference, for the harness's stop condition.

The portable C path measured about 90 cycles per edge and 450 to 650 per requantizer
(benchmarks/uno_cycles.py); a variable shift by 31 costs about 190 more.
"""
HARNESS_TIMEOUT_S = 600


def board_dir():
    """Return boards/uno: kanc_hal.h, the firmware mains, the UART driver and the simavr harness."""
    return paths.board_dir("uno")


def require_executable(name, package):
    """Return the path of tool ``name``; raise ToolchainError naming the Debian package otherwise."""
    path = shutil.which(name)
    if path is None:
        raise ToolchainError(f"{name} not found on PATH; install it with "
                             f"'apt-get install --no-install-recommends {package}'")
    return path


def run_tool(command, what, timeout=300, cwd=None):
    """Run ``command``; raise ToolchainError with its stderr when it fails or times out."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{what} timed out after {timeout} s: {' '.join(map(str, command))}") from None
    if done.returncode != 0:
        raise ToolchainError(f"{what} failed (exit {done.returncode}): {' '.join(map(str, command))}\n"
                             f"{done.stderr.strip()}")
    return done


def compile_firmware(sources, include_dirs, elf_path, optimize="s", cflags=(), what="firmware"):
    """Compile and link C ``sources`` for the ATmega328P into ``elf_path`` (written atomically).

    ``include_dirs`` come first on the include path, then boards/uno.
    """
    if optimize not in OPTIMIZATION_LEVELS:
        raise KancError(f"optimization level {optimize!r} is not one of {OPTIMIZATION_LEVELS}")
    avr_gcc = require_executable("avr-gcc", "gcc-avr avr-libc")
    includes = [f"-I{folder}" for folder in [*include_dirs, board_dir()]]
    with atomic_path(elf_path) as tmp:
        run_tool([avr_gcc, f"-mmcu={MCU}", f"-DF_CPU={CPU_HZ}UL", f"-O{optimize}", *CFLAGS, *cflags,
                  *includes, "-o", tmp, *map(str, sources), *LDFLAGS], f"avr-gcc ({what})")
    return pathlib.Path(elf_path)


def elf_memory(elf_path):
    """Return (flash_bytes, ram_bytes, sections) from ``avr-size -A``.

    flash = .text + .data (the initial values of .data are stored in flash);
    RAM = .data + .bss + .noinit, without the stack.
    """
    avr_size = require_executable("avr-size", "binutils-avr")
    listing = run_tool([avr_size, "-A", str(elf_path)], "avr-size").stdout
    sections = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].startswith(".") and fields[1].isdigit():
            sections[fields[0]] = int(fields[1])
    flash = sections.get(".text", 0) + sections.get(".data", 0)
    ram = sections.get(".data", 0) + sections.get(".bss", 0) + sections.get(".noinit", 0)
    return flash, ram, sections


def harness_path():
    """Return the simavr harness executable, compiling boards/uno/sim_harness.c on first use.

    The binary is cached under $XDG_CACHE_HOME/kanc (default ~/.cache/kanc, or the
    temporary folder when that is not writable), keyed by a hash of its source, so an
    edited harness is rebuilt.
    """
    source = board_dir() / "sim_harness.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "kanc"
    binary = cache / f"kanc_uno_sim-{digest}"
    if binary.is_file():
        return binary
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        # Read-only home (some CI sandboxes): build into the temporary folder instead.
        cache = pathlib.Path(tempfile.gettempdir()) / "kanc-cache"
        cache.mkdir(parents=True, exist_ok=True)
        binary = cache / binary.name
        if binary.is_file():
            return binary

    gcc = require_executable("gcc", "gcc")
    pkg_config = require_executable("pkg-config", "pkg-config")
    flags = run_tool([pkg_config, "--cflags", "--libs", "simavr"],
                     "pkg-config simavr (install libsimavr-dev)").stdout.split()
    # -idirafter keeps simavr's own headers (sim_elf.h, ...) from shadowing system headers.
    include_flags = ["-idirafter" + flag[2:] for flag in flags if flag.startswith("-I")]
    link_flags = [flag for flag in flags if not flag.startswith("-I")]
    with atomic_path(binary) as tmp:
        run_tool([gcc, "-O2", "-std=gnu11", "-Wall", *include_flags, "-o", tmp, str(source),
                  *link_flags, "-lelf"], "compiling the simavr harness (needs libsimavr-dev and libelf-dev)")
        os.chmod(tmp, 0o755)
    return binary


def run_harness(elf_path, work_dir, cases=None, max_cycles=2_000_000_000, timeout=HARNESS_TIMEOUT_S):
    """Run ``elf_path`` under the simavr harness; return (results_bytes or None, uart_bytes).

    ``cases`` is an int16 array written to the RAM mailbox row by row. Raises
    ToolchainError when the firmware crashes, hits ``max_cycles`` or breaks the
    mailbox protocol.
    """
    work_dir = pathlib.Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    uart_file = work_dir / "uart.bin"
    command = [str(harness_path()), "--elf", str(elf_path), "--uart", str(uart_file),
               "--max-cycles", str(int(max_cycles))]
    results_file = None
    if cases is not None:
        cases_file = work_dir / "cases.bin"
        results_file = work_dir / "results.bin"
        np.ascontiguousarray(cases, dtype="<i2").tofile(cases_file)
        command += ["--cases", str(cases_file), "--results", str(results_file)]
    run_tool(command, f"simavr run of {elf_path}", timeout=timeout)
    results = results_file.read_bytes() if results_file is not None else None
    return results, uart_file.read_bytes()


@dataclasses.dataclass
class UnoBoard:
    """Arduino Uno: avr-gcc for the ATmega328P, simavr for exact cycle counts.

    ``optimize`` is the avr-gcc -O level ("s" or "2"; "s" is what the Arduino IDE
    uses) and ``extra_cflags`` is appended to every compile (for example
    ``("-DKANC_NO_FAST_EDGE",)`` in benchmarks).
    """

    name: str = "uno"
    cpu: str = "ATmega328P"
    count_unit: str = "cycles"
    optimize: str = "s"
    extra_cflags: tuple = ()

    def build(self, qmodel, out_dir, firmware="app", app_input=None):
        """Generate C for ``qmodel`` into ``out_dir`` and link the "app" or "verify" firmware ELF.

        "app" runs one inference on ``app_input`` (int16 row, zeros by default) and
        prints ``y_q: ...`` over USART0 at 115200 baud; its sections give the memory a
        deployment needs. "verify" serves the simavr mailbox (see run_cases).
        """
        if firmware not in ("app", "verify"):
            raise KancError(f"unknown firmware {firmware!r}; use 'app' or 'verify'")
        check_fits(qmodel)
        out_dir = pathlib.Path(out_dir)
        source_dir = out_dir / "src"
        source_dir.mkdir(parents=True, exist_ok=True)
        write_c_sources(qmodel, source_dir, board=self.name)
        sources = sorted(str(path) for path in source_dir.glob("*.c"))

        defines = [f'-DKANC_MODEL_HEADER="{qmodel.name}.h"', f"-DKANC_PREDICT={qmodel.name}_predict_q",
                   f"-DKANC_N_INPUTS={qmodel.n_inputs}", f"-DKANC_N_OUTPUTS={qmodel.n_outputs}"]
        if firmware == "app":
            row = np.zeros(qmodel.n_inputs, dtype=np.int64) if app_input is None else np.asarray(app_input)
            row = check_int_inputs(row.reshape(1, -1), qmodel.n_inputs)[0]
            defines.append("-DKANC_APP_INPUT={" + ",".join(str(int(v)) for v in row) + "}")
            sources += [str(board_dir() / "app_main.c"), str(board_dir() / "uart.c")]
        else:
            sources.append(str(board_dir() / "verify_main.c"))

        elf_path = out_dir / f"{qmodel.name}_{firmware}.elf"
        try:
            compile_firmware(sources, [source_dir], elf_path, optimize=self.optimize,
                             cflags=[*defines, *self.extra_cflags], what=f"{firmware} firmware")
        except ToolchainError as exc:
            if "overflowed" in str(exc):
                raise KancError(f"{qmodel.name} does not fit the ATmega328P ({FLASH_BYTES} bytes of flash, "
                                f"{SRAM_BYTES} bytes of SRAM): {exc}") from None
            raise
        flash, ram, sections = elf_memory(elf_path)
        if flash > FLASH_BYTES - BOOTLOADER_BYTES:
            raise KancError(f"{qmodel.name} needs {flash} bytes of flash; an Uno has "
                            f"{FLASH_BYTES - BOOTLOADER_BYTES} next to its bootloader. "
                            "Use fewer segments or a smaller model")
        return BuildResult(board=self.name, firmware=firmware, elf_path=str(elf_path), flash_bytes=flash,
                           ram_bytes=ram, details={"sections": sections, "n_inputs": qmodel.n_inputs,
                                                   "n_outputs": qmodel.n_outputs, "n_edges": qmodel.n_edges,
                                                   "n_requantizers": n_requantizers(qmodel),
                                                   "optimize": self.optimize})

    def run_cases(self, build_result, x_q):
        """Run every row of ``x_q`` (N, n_inputs) through a verify image under simavr.

        Returns int16 outputs (N, n_outputs) and exact cycles per inference: from the
        start marker to the stop marker around ``<name>_predict_q``, less the cost of
        an empty marker pair measured by the same run.
        """
        if build_result.firmware != "verify":
            raise KancError(f"run_cases needs the verify firmware, got {build_result.firmware!r}; "
                            "build with firmware='verify'")
        n_in, n_out = build_result.details["n_inputs"], build_result.details["n_outputs"]
        cases = check_int_inputs(x_q, n_in)
        items = build_result.details["n_edges"] + build_result.details["n_requantizers"]
        max_cycles = CYCLE_LIMIT_BASE + len(cases) * CYCLE_LIMIT_PER_ITEM * items
        with tempfile.TemporaryDirectory(prefix="kanc-uno-") as work_dir:
            results, _ = run_harness(build_result.elf_path, work_dir, cases=cases, max_cycles=max_cycles)
        records = np.frombuffer(results, dtype=np.dtype([("y", "<i2", (n_out,)), ("cycles", "<u8")]))
        if len(records) != len(cases):
            raise ToolchainError(f"simavr returned {len(records)} results for {len(cases)} input rows")
        return RunResult(outputs=records["y"].astype(np.int16).reshape(len(cases), n_out),
                         counts=records["cycles"].astype(np.int64), count_unit=self.count_unit,
                         machine=f"simavr {MCU}")


def n_requantizers(qmodel):
    """Return the requantizers one inference runs: one per layer input plus one per model output."""
    return sum(layer.n_in for layer in qmodel.layers) + qmodel.n_outputs


def check_fits(qmodel):
    """Raise KancError when the tables and records of ``qmodel`` alone exceed the Uno's flash or SRAM."""
    sizes = model_sizes(qmodel)
    if sizes["flash_bytes"] > FLASH_BYTES - BOOTLOADER_BYTES:
        raise KancError(f"{qmodel.name} has {sizes['flash_bytes']} bytes of tables and parameters; an Uno has "
                        f"{FLASH_BYTES - BOOTLOADER_BYTES} bytes of flash next to its bootloader. "
                        "Use fewer segments per input or a narrower model")
    if sizes["ram_bytes"] > SRAM_BYTES:
        raise KancError(f"{qmodel.name} needs {sizes['ram_bytes']} bytes of RAM buffers; an Uno has {SRAM_BYTES}. "
                        "Use narrower layers")


BOARD = UnoBoard()
"""The registered Uno board (avr-gcc -Os)."""
