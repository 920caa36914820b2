"""Pico SDK project and Portenta H7 sketch exports, compiled with the boards' own flags and run in QEMU.

Neither the Pico SDK nor the Arduino mbed core can be installed offline, so the
exported C and C++ are built against the small SDK stand-ins in
boards/cortex_m/sdk_stubs/ and run on the same QEMU machines as the verify
images. The CMake files themselves are only checked for content.
"""
import re
import subprocess

import numpy as np
import pytest
from toolchain_checks import ARM_PACKAGES, require_tool

from kanc.build import cortex_m
from kanc.emit.pico_sdk import export_pico_sdk
from kanc.emit.portenta import export_portenta
from kanc.errors import KancError
from kanc.quantize.random_model import random_quantized_model
from kanc.simulate.reference import reference_forward


PICO_FLAGS = ("-mcpu=cortex-m0plus", "-mthumb", "-O3", "-DNDEBUG")
"""Pico SDK 1.5 compile flags for the RP2040 in its default Release build."""

PORTENTA_FLAGS = ("-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=softfp", "-O3",
                  "-funsigned-char", "-fomit-frame-pointer", "-ffunction-sections", "-fdata-sections")
"""Arduino mbed core flags for the Portenta H7 M7 core (variants/PORTENTA_H7_M7/cflags.txt)."""


@pytest.fixture(scope="module", autouse=True)
def arm_toolchain():
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-g++", "qemu-system-arm"):
        require_tool(tool, ARM_PACKAGES)


@pytest.fixture(scope="module")
def qmodel():
    rng = np.random.default_rng(21)
    return random_quantized_model(rng, [3, 5, 2], max_segments=24, name="demo")


def compile_or_fail(command):
    """Run a compiler command; on failure, fail the test with the compiler's messages."""
    completed = subprocess.run([str(part) for part in command], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, f"{' '.join(map(str, command))}\n{completed.stderr}"


def run_qemu(machine, elf_path):
    completed = subprocess.run(
        ["qemu-system-arm", "-M", machine, "-display", "none", "-monitor", "none", "-serial", "none",
         "-semihosting-config", "enable=on,target=native", "-kernel", str(elf_path)],
        capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout + completed.stderr


def link_command(compiler, flags, machine, out_dir):
    """Return the compiler, flags and link options for a bare-metal image on ``machine`` (start-up included)."""
    common = cortex_m.boards_dir() / "cortex_m"
    script = out_dir / "image.ld"
    script.write_text(cortex_m.linker_script(common / "cortex_m.ld.in", machine))
    return [compiler, *flags, f"-I{common}", f"-I{common / 'sdk_stubs'}",
            str(common / "startup.c"), str(common / "semihost.c"),
            f"-T{script}", "-nostartfiles", "-Wl,--gc-sections"]


def printed_rows(text):
    """Return {row index: outputs} from the "row <k>: <y0> ..." lines of an export's output."""
    return {int(k): [int(v) for v in values.split()]
            for k, values in re.findall(r"^row (\d+):([-\d ]*)\r?$", text, flags=re.MULTILINE)}


def test_pico_export_writes_project(qmodel, tmp_path):
    cmake = export_pico_sdk(qmodel, tmp_path)
    text = cmake.read_text()
    assert "pico_sdk_init()" in text
    assert "add_executable(demo_pico main.c model/demo.c)" in text
    assert "target_link_libraries(demo_pico pico_stdlib)" in text
    for name in ("main.c", "pico_sdk_import.cmake", "model/demo.h", "model/demo.c", "model/kanc_hal.h",
                 "model/kanc_layer.h"):
        assert (tmp_path / name).is_file(), name
    hal = (tmp_path / "model" / "kanc_hal.h").read_text()
    assert hal == (cortex_m.boards_dir() / "rp2040" / "kanc_hal.h").read_text()


def test_pico_program_runs_on_cortex_m0(qmodel, tmp_path):
    rows = np.array([[0, 0, 0], [-32768, -32768, -32768], [32767, 32767, 32767], [123, -4567, 8901]],
                    dtype=np.int16)
    project = tmp_path / "project"
    export_pico_sdk(qmodel, project, x_q=rows)
    elf = tmp_path / "pico.elf"
    command = link_command("arm-none-eabi-gcc", (*PICO_FLAGS, "-std=c99", "-Wall", "-Wextra", "-Werror"),
                           cortex_m.MICROBIT, tmp_path)
    command += [f"-I{project / 'model'}", str(project / "main.c"), str(project / "model" / "demo.c"),
                str(cortex_m.boards_dir() / "cortex_m" / "sdk_stubs" / "pico_stubs.c"),
                "--specs=nano.specs", "--specs=rdimon.specs", "-u", "_printf_float", "-o", str(elf)]
    compile_or_fail(command)

    output = run_qemu("microbit", elf)
    expected = reference_forward(qmodel, rows)[0]
    assert printed_rows(output) == {k: expected[k].tolist() for k in range(len(rows))}
    assert re.search(r"^us_per_inference: \d+\.\d{3}$", output, flags=re.MULTILINE)
    assert output.rstrip().endswith("done")


def test_portenta_export_writes_sketch(qmodel, tmp_path):
    folder = tmp_path / "demo_portenta"
    sketch = export_portenta(qmodel, folder)
    assert sketch == folder / "demo_portenta.ino"
    text = sketch.read_text()
    assert '#include "demo.h"' in text
    assert "demo_predict_q(test_rows[k], y);" in text
    hal = (folder / "kanc_hal.h").read_text()
    assert hal == (cortex_m.boards_dir() / "portenta_h7" / "kanc_hal.h").read_text()


def test_portenta_sketch_runs_on_cortex_m7(qmodel, tmp_path):
    rows = np.array([[0, 0, 0], [-32768, 32767, -1], [777, -32768, 32767]], dtype=np.int16)
    folder = tmp_path / "demo_portenta"
    export_portenta(qmodel, folder, x_q=rows)
    stubs = cortex_m.boards_dir() / "cortex_m" / "sdk_stubs"

    # The mbed core compiles C as gnu11 and the sketch as C++ (gnu++14), with the same CPU flags.
    objects = []
    for source in ("demo.c",):
        obj = tmp_path / f"{source}.o"
        compile_or_fail(["arm-none-eabi-gcc", *PORTENTA_FLAGS, "-std=gnu11", "-Wall", "-Wextra", "-Werror",
                         "-c", folder / source, "-o", obj])
        objects.append(str(obj))
    for source, language in ((folder / "demo_portenta.ino", "c++"), (stubs / "arduino_stubs.cpp", "c++")):
        obj = tmp_path / f"{source.name}.o"
        compile_or_fail(["arm-none-eabi-g++", *PORTENTA_FLAGS, "-std=gnu++14", "-fno-exceptions", "-fno-rtti",
                         "-Wall", "-Wextra", "-Werror", f"-I{stubs}", f"-I{folder}",
                         f"-I{cortex_m.boards_dir() / 'cortex_m'}", "-x", language, "-c", source, "-o", obj])
        objects.append(str(obj))

    elf = tmp_path / "portenta.elf"
    # Linked by the C driver: the sketch uses no C++ runtime (no exceptions, RTTI, new or static constructors).
    command = link_command("arm-none-eabi-gcc", (*PORTENTA_FLAGS, "-std=gnu11"), cortex_m.MPS2_AN500, tmp_path)
    command += [*objects, "--specs=nano.specs", "--specs=nosys.specs", "-o", str(elf)]
    compile_or_fail(command)

    output = run_qemu("mps2-an500", elf)
    expected = reference_forward(qmodel, rows)[0]
    assert printed_rows(output) == {k: expected[k].tolist() for k in range(len(rows))}
    assert re.search(r"^us_per_inference: \d+\.\d{3}\r?$", output, flags=re.MULTILINE)
    assert "done" in output


def test_exports_reject_bad_rows(qmodel, tmp_path):
    with pytest.raises(KancError, match=r"shape \(N, 3\)"):
        export_pico_sdk(qmodel, tmp_path / "pico", x_q=np.zeros((2, 4), dtype=np.int16))
    with pytest.raises(KancError, match="1 to 256 input rows"):
        export_portenta(qmodel, tmp_path / "portenta", x_q=np.zeros((0, 3), dtype=np.int16))
    with pytest.raises(KancError, match="-40000 is outside int16"):
        export_portenta(qmodel, tmp_path / "portenta", x_q=np.full((1, 3), -40000))
