"""Tests of the C code generator: file set, symbol prefixes, clean cross-compiles, sizes, linking, float wrapper."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from toolchain_checks import ARM_PACKAGES, AVR_PACKAGES, require_tool

from kanc.build.host import build_host_runner, run_host, run_runner
from kanc.build.toolchain import WARNING_FLAGS
from kanc.emit.c_source import CodegenError, model_sizes, write_c_sources
from kanc.emit.paths import RUNTIME_HEADERS, board_dir
from kanc.errors import ModelFileError, ToolchainError
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate.reference import reference_forward

# A PROGMEM HAL written from the contract in runtime_c/README.md, so the AVR
# compile check does not depend on any board's fast path.
AVR_TEST_HAL = """#ifndef KANC_HAL_H
#define KANC_HAL_H
#include <stdint.h>
#include <avr/pgmspace.h>
#define KANC_TABLE_ATTR PROGMEM
#define KANC_READ_S16(ptr) ((int16_t)pgm_read_word(ptr))
#endif
"""

TARGETS = {
    "gcc": ("gcc", []),
    "avr": ("avr-gcc", ["-mmcu=atmega328p"]),
    "cortex-m0plus": ("arm-none-eabi-gcc", ["-mcpu=cortex-m0plus", "-mthumb"]),
    "cortex-m7": ("arm-none-eabi-gcc", ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"]),
}


def make_model(seed, widths, name, **kwargs):
    return random_quantized_model(np.random.default_rng(seed), widths, name=name, **kwargs)


def require(program):
    """Return the path of ``program``; skip when it is missing (fail under CI=true)."""
    require_tool(program, f"{AVR_PACKAGES} {ARM_PACKAGES}")
    return shutil.which(program)


def compile_object(compiler, flags, folder, source, hal_dir):
    obj = folder / (source.stem + ".o")
    result = subprocess.run([compiler, *WARNING_FLAGS, "-Os", *flags, f"-I{folder}", f"-I{hal_dir}",
                             "-c", str(source), "-o", str(obj)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    return obj


def test_writes_model_and_runtime_files(tmp_path):
    model = make_model(1, [3, 4, 2], "motor")
    paths = write_c_sources(model, tmp_path, board="host")
    names = sorted(os.path.basename(path) for path in paths)
    assert names == sorted(["motor.h", "motor.c", "kanc_hal.h", *RUNTIME_HEADERS])
    assert all(os.path.isfile(path) for path in paths)
    # Atomic writes leave no temporary files behind.
    assert sorted(os.listdir(tmp_path)) == names


def test_header_macros(tmp_path):
    model = make_model(2, [5, 3, 4], "sensor")
    write_c_sources(model, tmp_path)
    header = (tmp_path / "sensor.h").read_text()
    assert "#define SENSOR_N_INPUTS 5\n" in header
    assert "#define SENSOR_N_OUTPUTS 4\n" in header
    sizes = model_sizes(model)
    assert sizes["table_bytes"] == 2 * (len(model.layers[0].table) + len(model.layers[1].table))
    # Six int16 words per requantizer (5 + 3 layer inputs, 4 outputs), two per bias (3 + 4 nodes).
    assert sizes["param_bytes"] == 12 * (5 + 3 + 4) + 4 * (3 + 4)
    # int32 accumulators for the widest layer (4 nodes) and 4-byte coordinates for 5 inputs.
    assert sizes["ram_bytes"] == 4 * 4 + 4 * 5
    assert f"#define SENSOR_TABLE_BYTES {sizes['table_bytes']}UL" in header
    assert f"#define SENSOR_RAM_BYTES {sizes['ram_bytes']}UL" in header


def test_exported_symbols_are_prefixed(tmp_path):
    cc = require("gcc")
    model = make_model(3, [2, 3, 1], "pump")
    write_c_sources(model, tmp_path)
    obj = compile_object(cc, [], tmp_path, tmp_path / "pump.c", board_dir("host"))
    listing = subprocess.run(["nm", "-g", "--defined-only", str(obj)], check=True, capture_output=True, text=True)
    exported = sorted(line.split()[-1] for line in listing.stdout.splitlines() if line.strip())
    assert exported == ["pump_predict", "pump_predict_q"]
    local = subprocess.run(["nm", "--defined-only", str(obj)], check=True, capture_output=True, text=True)
    data_symbols = [line.split()[-1] for line in local.stdout.splitlines() if line.split()[1] in "bBdDrR"]
    data_symbols = [name for name in data_symbols if not name.startswith(".")]
    assert data_symbols and all(name.startswith("pump_") for name in data_symbols)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_compiles_without_warnings(target, tmp_path):
    compiler, flags = TARGETS[target]
    compiler = require(compiler)
    model = make_model(4, [6, 5, 3], "edge_model")
    write_c_sources(model, tmp_path)
    hal_dir = board_dir("host")
    if target == "avr":
        hal_dir = tmp_path / "avr_hal"
        hal_dir.mkdir()
        (hal_dir / "kanc_hal.h").write_text(AVR_TEST_HAL)
    compile_object(compiler, flags, tmp_path, tmp_path / "edge_model.c", hal_dir)


def test_avr_keeps_tables_out_of_ram(tmp_path):
    require("avr-gcc")
    size_tool = require("avr-size")
    model = make_model(5, [4, 6, 2], "uno_model")
    write_c_sources(model, tmp_path, float_wrapper=False)
    hal_dir = tmp_path / "avr_hal"
    hal_dir.mkdir()
    (hal_dir / "kanc_hal.h").write_text(AVR_TEST_HAL)
    obj = compile_object("avr-gcc", ["-mmcu=atmega328p"], tmp_path, tmp_path / "uno_model.c", hal_dir)
    text, data, bss = subprocess.run([size_tool, str(obj)], check=True, capture_output=True,
                                     text=True).stdout.splitlines()[1].split()[:3]
    sizes = model_sizes(model)
    assert int(data) == 0
    assert int(bss) == sizes["ram_bytes"]
    assert int(text) >= sizes["flash_bytes"]


def test_two_models_link_into_one_binary(tmp_path):
    require("gcc")
    first = make_model(6, [3, 4, 2], "first")
    second = make_model(7, [3, 2, 5], "second")
    executable = build_host_runner([first, second], tmp_path)
    x_q = random_inputs(np.random.default_rng(8), 50, 3)
    for model in (first, second):
        expected, _ = reference_forward(model, x_q)
        assert np.array_equal(run_runner(executable, model, x_q), expected)


def test_models_from_separate_folders_link(tmp_path):
    cc = require("gcc")
    objects = []
    for seed, name in ((9, "left"), (10, "right")):
        folder = tmp_path / name
        write_c_sources(make_model(seed, [2, 2], name), folder, board="host")
        objects.append(compile_object(cc, [], folder, folder / f"{name}.c", folder))
    main = tmp_path / "main.c"
    main.write_text('#include <stdint.h>\n#include "left/left.h"\n#include "right/right.h"\n'
                    "int main(void) { int16_t x[2] = {0, 0}; int16_t y[2];\n"
                    "    left_predict_q(x, y); right_predict_q(x, y); return 0; }\n")
    result = subprocess.run([cc, *WARNING_FLAGS, f"-I{tmp_path}", str(main), *map(str, objects),
                             "-o", str(tmp_path / "both")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_float_wrapper_matches_integer_path(tmp_path):
    cc = require("gcc")
    model = make_model(11, [3, 4, 2], "floaty")
    # Real inputs on the quantization grid (power-of-two scale), so the float quantize is exact.
    rng = np.random.default_rng(12)
    x_q = rng.integers(-20000, 20000, size=(40, 3)).astype(np.int16)
    x = x_q.astype(np.float64) * model.input_scale + model.input_offset
    write_c_sources(model, tmp_path, board="host")
    rows = ",\n".join("{" + ", ".join(repr(float(v)) + "f" for v in row) + "}" for row in x)
    (tmp_path / "main.c").write_text(f"""
#include <stdio.h>
#include "floaty.h"
static const float inputs[][FLOATY_N_INPUTS] = {{
{rows}
}};
int main(void) {{
    float y[FLOATY_N_OUTPUTS];
    size_t k, j;
    for (k = 0; k < sizeof(inputs) / sizeof(inputs[0]); ++k) {{
        floaty_predict(inputs[k], y);
        for (j = 0; j < FLOATY_N_OUTPUTS; ++j) {{
            printf("%.9g\\n", (double)y[j]);
        }}
    }}
    return 0;
}}
""")
    subprocess.run([cc, *WARNING_FLAGS, f"-I{tmp_path}", str(tmp_path / "floaty.c"),
                    str(tmp_path / "main.c"), "-o", str(tmp_path / "floaty")], check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "floaty")], check=True, capture_output=True, text=True).stdout
    got = np.array([float(v) for v in out.split()]).reshape(-1, 2)
    y_q, _ = reference_forward(model, x_q)
    # The float wrapper is a convenience outside the bit-exact contract: compare at float32 precision.
    np.testing.assert_allclose(got, model.dequantize_outputs(y_q), rtol=1e-6, atol=1e-6)


def test_float_wrapper_compiles_out(tmp_path):
    cc = require("gcc")
    write_c_sources(make_model(13, [2, 2], "nofloat"), tmp_path)
    obj = tmp_path / "nofloat.o"
    subprocess.run([cc, *WARNING_FLAGS, "-DNOFLOAT_NO_FLOAT", f"-I{tmp_path}", f"-I{board_dir('host')}",
                    "-c", str(tmp_path / "nofloat.c"), "-o", str(obj)], check=True, capture_output=True)
    listing = subprocess.run(["nm", "-g", "--defined-only", str(obj)], check=True, capture_output=True, text=True)
    assert re.findall(r"\bnofloat_\w+", listing.stdout) == ["nofloat_predict_q"]


def test_row_too_long_is_rejected(tmp_path):
    # 256 inputs of 256 segments give 257 * 256 = 65792 samples per node, over the uint16 row index.
    model = make_model(14, [256, 1], "too_wide", min_segments=256, max_segments=256, extreme_fraction=0.0)
    with pytest.raises(CodegenError, match="65792 samples per node"):
        write_c_sources(model, tmp_path)
    assert not (tmp_path / "too_wide.c").exists()


def test_invalid_name_is_rejected(tmp_path):
    model = make_model(15, [2, 1], "ok")
    model.name = "9lives"
    with pytest.raises(ModelFileError, match="not a C identifier"):
        write_c_sources(model, tmp_path)


def test_unknown_board_is_rejected(tmp_path):
    with pytest.raises(ToolchainError, match="no kanc_hal.h"):
        write_c_sources(make_model(16, [2, 1], "boardless"), tmp_path, board="no_such_board")


def test_missing_compiler_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(ToolchainError, match="unset CC"):
        run_host(make_model(17, [2, 1], "nocc"), np.zeros((1, 2), dtype=np.int16))
