"""Cortex-M boards (RP2040 = Cortex-M0+, Portenta H7 = Cortex-M7) built with arm-none-eabi-gcc and run in QEMU.

A build compiles the generated model C, the runtime, the board HAL
(boards/<board>/kanc_hal.h) and the shared start-up code (boards/cortex_m/) with
the board's exact CPU flags, and links a bare-metal image for a QEMU machine:

- rp2040 (-mcpu=cortex-m0plus -mthumb) runs on ``microbit``, a real ARMv6-M core
  (Cortex-M0) whose 256 KiB flash and 16 KiB RAM hold small models. A model that
  does not fit is linked for ``mps2-an385`` instead: a Cortex-M3 with 4 MiB
  code and 4 MiB data RAM that executes the same ARMv6-M instructions but would
  not fault on Thumb-2 code or unaligned loads as an RP2040 does.
- portenta_h7 (-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard) runs on
  ``mps2-an500``, a Cortex-M7 with FPU.

The "verify" image reads input rows from a host file through semihosting and
writes the outputs back, and a TCG plugin (boards/cortex_m/insn_count_plugin.c)
counts the instructions each inference executes. QEMU has no cycle model, so
the count unit is executed instructions, not cycles.
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
from kanc.build.elf import memory_use, symbol_addresses
from kanc.errors import KancError, ToolchainError
from kanc.io.atomic import atomic_path, write_text_atomic
from kanc.simulate.simulator import check_int_inputs

CC = "arm-none-eabi-gcc"
QEMU = "qemu-system-arm"
HOST_CC = "gcc"
TOOL_PACKAGES = {CC: "gcc-arm-none-eabi libnewlib-arm-none-eabi", QEMU: "qemu-system-arm", HOST_CC: "gcc"}

DEFAULT_OPTIMIZATION = "-O3"
"""Both boards' own toolchains build with -O3: the Pico SDK's default Release type and the mbed Portenta core."""
COMMON_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections")
LINK_FLAGS = ("-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections")

STARTUP_SOURCES = ("startup.c", "semihost.c", "markers.c")
FIRMWARE_MAINS = {"app": "app_main.c", "verify": "verify_main.c"}

IO_BUFFER_BYTES = {"small": 2048, "large": 32768}
"""Bytes of int16 input plus output rows buffered per semihosting call, by machine RAM class."""


@dataclasses.dataclass(frozen=True)
class QemuMachine:
    """A QEMU machine model and the memory map an image linked for it uses (bytes)."""

    name: str
    cpu_note: str
    flash_origin: int
    flash_length: int
    ram_origin: int
    ram_length: int
    stack_bytes: int
    ram_class: str


MICROBIT = QemuMachine("microbit", "nRF51 Cortex-M0, ARMv6-M", 0x00000000, 256 * 1024,
                       0x20000000, 16 * 1024, 2048, "small")
MPS2_AN385 = QemuMachine("mps2-an385", "Cortex-M3 running ARMv6-M code", 0x00000000, 4 * 1024 * 1024,
                         0x20000000, 4 * 1024 * 1024, 64 * 1024, "large")
MPS2_AN500 = QemuMachine("mps2-an500", "Cortex-M7 with FPv5", 0x00000000, 4 * 1024 * 1024,
                         0x20000000, 4 * 1024 * 1024, 64 * 1024, "large")


@dataclasses.dataclass(frozen=True)
class CortexMTarget:
    """Compiler flags of a board and the QEMU machines that can run it, preferred first."""

    board: str
    cpu: str
    cpu_flags: tuple
    machines: tuple


RP2040 = CortexMTarget("rp2040", "Cortex-M0+", ("-mcpu=cortex-m0plus", "-mthumb"), (MICROBIT, MPS2_AN385))
PORTENTA_H7 = CortexMTarget(
    "portenta_h7", "Cortex-M7",
    ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"), (MPS2_AN500,))


@dataclasses.dataclass
class ModelSources:
    """C sources of one model function, ready to compile into an image.

    ``source_dir`` contains ``header`` and the C files; ``predict`` is the name of
    ``void predict(const int16_t *x_q, int16_t *y_q)``. ``c_files`` lists the
    files to compile (default: every .c file in ``source_dir``).
    """

    source_dir: str
    header: str
    predict: str
    n_inputs: int
    n_outputs: int
    c_files: tuple = None


def boards_dir():
    """Return the folder of board support files (boards/ in a checkout, kanc/boards when installed)."""
    checkout = pathlib.Path(__file__).resolve().parents[2] / "boards"
    if (checkout / "cortex_m").is_dir():
        return checkout
    installed = pathlib.Path(__file__).resolve().parents[1] / "boards"
    if (installed / "cortex_m").is_dir():
        return installed
    raise ToolchainError(f"board support files not found in {checkout} or {installed}; reinstall kanc")


def require_tool(name):
    """Return the path of executable ``name``; raise ToolchainError naming the Debian package if missing."""
    path = shutil.which(name)
    if path is None:
        raise ToolchainError(f"{name} not found on PATH; install it with "
                             f"'apt-get install --no-install-recommends {TOOL_PACKAGES.get(name, name)}'")
    return path


class CortexMBoard:
    """A Cortex-M board: build bare-metal images and run them in QEMU with instruction counting."""

    count_unit = "instructions"

    def __init__(self, target, optimization=DEFAULT_OPTIMIZATION, extra_cflags=()):
        """``optimization`` is the gcc -O flag; ``extra_cflags`` is appended to every compile.

        ``extra_cflags=("-DKANC_NO_FAST_EDGE",)`` builds the portable edge loop
        instead of the board's fast path (used by benchmarks/bench_boards.py).
        """
        self.target = target
        self.name = target.board
        self.cpu = target.cpu
        self.optimization = optimization
        self.extra_cflags = tuple(extra_cflags)

    # ------------------------------------------------------------------ build

    def build(self, qmodel, out_dir, firmware="app", app_input=None):
        """Generate C for ``qmodel`` in ``out_dir``/src and link the ``firmware`` image ("app" or "verify").

        ``app_input`` (int16, n_inputs) is the row the app image runs; zeros by default.
        """
        from kanc.emit.c_source import write_c_sources

        source_dir = os.path.join(out_dir, "src")
        written = write_c_sources(qmodel, source_dir)
        sources = ModelSources(source_dir, f"{qmodel.name}.h", f"{qmodel.name}_predict_q",
                               qmodel.n_inputs, qmodel.n_outputs,
                               tuple(str(path) for path in written if str(path).endswith(".c")))
        result = self.build_sources(sources, out_dir, firmware, app_input)
        result.details["n_edges"] = qmodel.n_edges
        return result

    def build_sources(self, sources, out_dir, firmware="app", app_input=None):
        """Compile and link ``sources`` (a ModelSources) into ``out_dir``/<board>_<firmware>.elf.

        Links for the first QEMU machine of the board whose memory holds the image.
        """
        if firmware not in FIRMWARE_MAINS:
            raise KancError(f"unknown firmware {firmware!r}; use one of {', '.join(FIRMWARE_MAINS)}")
        require_tool(CC)
        os.makedirs(out_dir, exist_ok=True)
        elf_path = os.path.join(out_dir, f"{self.name}_{firmware}.elf")

        errors = []
        for machine in self.target.machines:
            command = self._compile_command(sources, machine, firmware, app_input, out_dir)
            completed = subprocess.run(command, capture_output=True, text=True, check=False)
            if completed.returncode == 0:
                with atomic_path(elf_path) as tmp:
                    shutil.copyfile(os.path.join(out_dir, ".link.elf"), tmp)
                os.remove(os.path.join(out_dir, ".link.elf"))
                return self._build_result(elf_path, firmware, machine, sources, command)
            errors.append((machine, completed.stderr))
            if "overflowed" not in completed.stderr and "will not fit" not in completed.stderr:
                break

        machine, stderr = errors[-1]
        raise ToolchainError(f"{CC} failed building the {self.name} {firmware} image for QEMU machine "
                             f"{machine.name}:\n{stderr.strip()}")

    def _compile_command(self, sources, machine, firmware, app_input, out_dir):
        support = boards_dir()
        common = support / "cortex_m"
        script_path = os.path.join(out_dir, f".{machine.name}.ld")
        write_text_atomic(script_path, linker_script(common / "cortex_m.ld.in", machine))

        row_bytes = 2 * (sources.n_inputs + sources.n_outputs)
        io_rows = max(1, min(256, IO_BUFFER_BYTES[machine.ram_class] // row_bytes))
        if app_input is None:
            app_input = np.zeros(sources.n_inputs, dtype=np.int16)
        app_values = ",".join(str(int(v)) for v in np.asarray(app_input, dtype=np.int16).reshape(-1))

        model_c = list(sources.c_files) if sources.c_files is not None else \
            sorted(str(path) for path in pathlib.Path(sources.source_dir).glob("*.c"))
        startup_c = [str(common / name) for name in STARTUP_SOURCES]
        defines = [
            f'-DKANC_MODEL_HEADER="{sources.header}"',
            f"-DKANC_PREDICT={sources.predict}",
            f"-DKANC_N_INPUTS={sources.n_inputs}",
            f"-DKANC_N_OUTPUTS={sources.n_outputs}",
            f"-DKANC_IO_ROWS={io_rows}",
            f"-DKANC_APP_INPUT={{{app_values}}}",
        ]
        return [
            CC, *self.target.cpu_flags, self.optimization, *COMMON_CFLAGS, *self.extra_cflags,
            f"-I{sources.source_dir}", f"-I{support / self.name}", f"-I{common}",
            *defines,
            *model_c, *startup_c, str(common / FIRMWARE_MAINS[firmware]),
            f"-T{script_path}", *LINK_FLAGS,
            "-o", os.path.join(out_dir, ".link.elf"),
        ]

    def _build_result(self, elf_path, firmware, machine, sources, command):
        use = memory_use(elf_path)
        markers = symbol_addresses(elf_path, ["kanc_mark_begin", "kanc_mark_end"]) if firmware == "verify" else {}
        details = {
            "machine": machine.name,
            "machine_cpu": machine.cpu_note,
            "cpu_flags": list(self.target.cpu_flags),
            "optimization": self.optimization,
            "extra_cflags": list(self.extra_cflags),
            "command": command,
            "n_inputs": sources.n_inputs,
            "n_outputs": sources.n_outputs,
            "markers": markers,
            "sections": use.sections,
            "stack_reserve_bytes": use.reserved_bytes,
        }
        return BuildResult(self.name, firmware, elf_path, use.flash_bytes, use.ram_bytes, details)

    # ------------------------------------------------------------------ run

    def run_cases(self, build_result, x_q, timeout=None):
        """Run every int16 row of ``x_q`` (N, n_inputs) through a verify image in QEMU.

        Returns a RunResult with the outputs (N, n_outputs) and the instructions
        each inference executed, the fixed cost of the marker calls removed.
        ``timeout`` is in seconds; by default it grows with N.
        """
        if build_result.firmware != "verify":
            raise KancError(f"run_cases needs a 'verify' image, got a {build_result.firmware!r} image "
                            f"({build_result.elf_path}); build with firmware='verify'")
        details = build_result.details
        x_q = check_int_inputs(x_q, details["n_inputs"])
        if len(x_q) == 0:
            raise KancError("no input rows to run; pass at least one row")
        machine = details["machine"]
        plugin = instruction_count_plugin()
        if timeout is None:
            # About 100 times the QEMU run time measured for these images (20 instructions per edge).
            timeout = 60.0 + len(x_q) * (1e-3 + 2e-5 * details.get("n_edges", 1000))

        with tempfile.TemporaryDirectory(prefix="kanc-qemu-") as run_dir:
            x_q.astype("<i2").tofile(os.path.join(run_dir, "kanc_in.bin"))
            counts_path = os.path.join(run_dir, "counts.txt")
            markers = details["markers"]
            command = [
                require_tool(QEMU), "-M", machine, "-display", "none", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native",
                "-kernel", os.path.abspath(build_result.elf_path),
                "-plugin", f"{plugin},begin={markers['kanc_mark_begin']:#x},end={markers['kanc_mark_end']:#x},"
                           f"out={counts_path}",
            ]
            try:
                completed = subprocess.run(command, cwd=run_dir, capture_output=True, text=True,
                                           timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                raise ToolchainError(f"QEMU {machine} timed out after {timeout:.0f} s running "
                                     f"{build_result.elf_path} on {len(x_q)} rows") from None
            if completed.returncode != 0:
                raise ToolchainError(_describe_failure(completed, machine, build_result.elf_path))

            outputs = np.fromfile(os.path.join(run_dir, "kanc_out.bin"), dtype="<i2")
            raw_counts = np.loadtxt(counts_path, dtype=np.int64, ndmin=1)

        n_outputs = details["n_outputs"]
        if outputs.size != len(x_q) * n_outputs or raw_counts.size != len(x_q) + 1:
            raise ToolchainError(f"QEMU {machine} run of {build_result.elf_path} returned {outputs.size} output "
                                 f"values and {raw_counts.size} counts for {len(x_q)} rows; expected "
                                 f"{len(x_q) * n_outputs} and {len(x_q) + 1}")
        counts = raw_counts[1:] - raw_counts[0]
        return RunResult(outputs.reshape(len(x_q), n_outputs).astype(np.int16), counts, self.count_unit, machine)


class RP2040Board(CortexMBoard):
    """Raspberry Pi RP2040 (Cortex-M0+), run on QEMU microbit (Cortex-M0) or mps2-an385."""

    def __init__(self, optimization=DEFAULT_OPTIMIZATION, extra_cflags=()):
        super().__init__(RP2040, optimization, extra_cflags)


class PortentaH7Board(CortexMBoard):
    """Arduino Portenta H7 (Cortex-M7 core of the STM32H747), run on QEMU mps2-an500."""

    def __init__(self, optimization=DEFAULT_OPTIMIZATION, extra_cflags=()):
        super().__init__(PORTENTA_H7, optimization, extra_cflags)


# ---------------------------------------------------------------------- helpers

def instruction_count_plugin():
    """Return the path of the compiled instruction-count plugin, building it once per source version.

    The shared object is cached in $KANC_CACHE_DIR (default ~/.cache/kanc) under
    a name that contains the hash of its source.
    """
    source = boards_dir() / "cortex_m" / "insn_count_plugin.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = pathlib.Path(os.environ.get("KANC_CACHE_DIR", pathlib.Path.home() / ".cache" / "kanc"))
    target = cache / f"insn_count-{digest}.so"
    if target.exists():
        return str(target)

    require_tool(HOST_CC)
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        command = [HOST_CC, "-std=c99", "-O2", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden",
                   "-o", tmp, str(source)]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise ToolchainError(f"building the QEMU plugin {source} failed:\n{completed.stderr.strip()}")
    return str(target)


def linker_script(template_path, machine):
    """Return the linker script for ``machine``: the template with its memory map and stack size filled in."""
    text = pathlib.Path(template_path).read_text()
    values = {"FLASH_ORIGIN": machine.flash_origin, "FLASH_LENGTH": machine.flash_length,
              "RAM_ORIGIN": machine.ram_origin, "RAM_LENGTH": machine.ram_length,
              "STACK_BYTES": machine.stack_bytes}
    for key, value in values.items():
        text = text.replace(f"@{key}@", f"{value:#x}")
    return text


_EXIT_MEANINGS = {
    2: "the image could not open kanc_in.bin through semihosting",
    3: "the image could not create kanc_out.bin through semihosting",
    4: "the image read a partial input row",
    5: "the image could not write kanc_out.bin",
}


def _describe_failure(completed, machine, elf_path):
    status = completed.returncode
    if status in _EXIT_MEANINGS:
        meaning = _EXIT_MEANINGS[status]
    elif 128 < status < 128 + 16:
        meaning = f"the image took CPU exception {status - 128} (a fault)"
    else:
        meaning = f"exit status {status}"
    output = (completed.stdout + completed.stderr).strip()
    return f"QEMU {machine} run of {elf_path} failed: {meaning}" + (f"\n{output}" if output else "")
