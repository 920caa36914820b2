"""Tests of the portable C runtime (runtime_c/) against the integer rules of the fixed-point spec.

Expected values come from the spec's formulas evaluated with Python integers
(floor division), never from the C code under test.
"""
import subprocess

import numpy as np
import pytest

from kanc.build.host import run_host
from kanc.build.toolchain import WARNING_FLAGS, host_cc
from kanc.emit.c_source import write_c_sources
from kanc.emit.paths import board_dir, runtime_dir
from kanc.errors import ToolchainError
from kanc.quantize.qmodel import QuantizedLayer, QuantizedModel, Requantizer
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate.reference import reference_forward


@pytest.fixture(scope="module")
def cc():
    try:
        return host_cc()
    except ToolchainError as exc:
        pytest.skip(str(exc))


def compile_and_run(cc, folder, source_text, include_dirs, extra_flags=()):
    source = folder / "driver.c"
    source.write_text(source_text, encoding="utf-8")
    binary = folder / "driver"
    includes = [f"-I{path}" for path in include_dirs]
    subprocess.run([cc, *WARNING_FLAGS, "-O2", "-fsanitize=undefined", "-fno-sanitize-recover=all",
                    *extra_flags, *includes, str(source), "-o", str(binary)], check=True, capture_output=True)
    result = subprocess.run([str(binary)], check=True, capture_output=True, text=True)
    return [int(token) for token in result.stdout.split()]


def spec_rshift_round(a, n):
    # floor((a + 2^(n-1)) / 2^n) with unbounded Python integers, the defining formula of spec section 1.
    if n == 0:
        return a
    return (a + (1 << (n - 1))) // (1 << n)


def spec_requantize(a, p, M, r, z):
    t = min(max(spec_rshift_round(a, p), -32768), 32767)
    return spec_rshift_round(t * M, r) + z


def test_rshift_round_matches_spec_formula(cc, tmp_path):
    rng = np.random.default_rng(7)
    special = [-(1 << 31), -(1 << 31) + 1, -3, -2, -1, 0, 1, 2, 3, (1 << 31) - 2, (1 << 31) - 1]
    values = special + [int(v) for v in rng.integers(-(1 << 31), 1 << 31, size=60)]
    # Ties at every shift: a = k * 2^n + 2^(n-1) for negative and positive k.
    values += [k * (1 << n) + (1 << (n - 1)) for n in range(1, 31) for k in (-2, -1, 1)]
    pairs = [(a, n) for a in values for n in range(32)]
    pairs = [(a, n) for a, n in pairs if -(1 << 31) <= a < (1 << 31)]
    array = ",\n".join(f"{{{a}L, {n}}}" for a, n in pairs)
    driver = f"""
#include <stdio.h>
#include "kanc_arith.h"
static const struct {{ long a; int n; }} cases[] = {{
{array}
}};
int main(void) {{
    size_t k;
    for (k = 0; k < sizeof(cases) / sizeof(cases[0]); ++k) {{
        printf("%ld\\n", (long)kanc_rshift_round((int32_t)cases[k].a, (uint8_t)cases[k].n));
    }}
    return 0;
}}
"""
    got = compile_and_run(cc, tmp_path, driver, [runtime_dir()])
    expected = [spec_rshift_round(a, n) for a, n in pairs]
    assert len(got) == len(expected)
    mismatches = [(a, n, g, e) for (a, n), g, e in zip(pairs, got, expected) if g != e]
    assert mismatches == []


def test_saturation_bounds(cc, tmp_path):
    values = [-(1 << 31), -40000, -32769, -32768, -32767, 0, 32766, 32767, 32768, 40000, (1 << 31) - 1]
    array = ", ".join(f"{v}L" for v in values)
    driver = f"""
#include <stdio.h>
#include "kanc_arith.h"
static const long values[] = {{ {array} }};
int main(void) {{
    size_t k;
    for (k = 0; k < sizeof(values) / sizeof(values[0]); ++k) {{
        printf("%d %ld\\n", (int)kanc_sat_s16((int32_t)values[k]),
               (long)kanc_sat_s32((int32_t)values[k], -5L, 70000L));
    }}
    return 0;
}}
"""
    got = compile_and_run(cc, tmp_path, driver, [runtime_dir()])
    expected = []
    for v in values:
        expected += [min(max(v, -32768), 32767), min(max(v, -5), 70000)]
    assert got == expected


def test_requantizer_matches_spec_steps(cc, tmp_path):
    rng = np.random.default_rng(11)
    cases = []
    for _ in range(400):
        p, r = int(rng.integers(0, 32)), int(rng.integers(0, 32))
        M = int(rng.choice([0, 1, 32767, int(rng.integers(0, 32768))]))
        z = int(rng.choice([-(1 << 30), 1 << 30, int(rng.integers(-(1 << 30), (1 << 30) + 1))]))
        a = int(rng.choice([-(1 << 31), (1 << 31) - 1, int(rng.integers(-(1 << 31), 1 << 31))]))
        segments = int(rng.integers(1, 257))
        cases.append((a, p, M, r, z, segments))
    records = ",\n".join(
        f"{{{{{z & 0xFFFF if (z & 0xFFFF) < 32768 else (z & 0xFFFF) - 65536}, {z >> 16}}}, {M}, {p}, {r}, {s}}}"
        for a, p, M, r, z, s in cases)
    inputs = ", ".join(f"{a}L" for a, *_ in cases)
    driver = f"""
#include <stdio.h>
#include "kanc_requant.h"
static const kanc_requant_t records[] KANC_TABLE_ATTR = {{
{records}
}};
static const long inputs[] = {{ {inputs} }};
int main(void) {{
    size_t k;
    for (k = 0; k < sizeof(inputs) / sizeof(inputs[0]); ++k) {{
        printf("%u %d\\n", (unsigned)kanc_requant_coordinate((int32_t)inputs[k], &records[k]),
               (int)kanc_requant_output((int32_t)inputs[k], &records[k]));
    }}
    return 0;
}}
"""
    got = compile_and_run(cc, tmp_path, driver, [runtime_dir(), board_dir("host")])
    expected = []
    for a, p, M, r, z, s in cases:
        v = spec_requantize(a, p, M, r, z)
        expected += [min(max(v, 0), s * 256 - 1), min(max(v, -32768), 32767)]
    assert got == expected


def spec_example_model():
    # The one-layer model of the worked example in docs/fixed_point_spec.md section 3.
    def requant(p, M, r, z):
        return Requantizer(np.array([p]), np.array([M]), np.array([r]), np.array([z]))

    layer = QuantizedLayer(
        segments=np.array([4]), in_requant=requant(0, 20000, 15, 512),
        domain_lo=np.array([-1.0]), domain_hi=np.array([1.0]),
        table=np.array([-1000, -200, 300, 900, 1500], dtype=np.int16),
        bias=np.array([1280], dtype=np.int32), table_scale=np.array([1.0 / 256]))
    return QuantizedModel(
        name="spec_example", task="regression", input_scale=np.array([1.0 / 1000]), input_offset=np.array([0.0]),
        layers=[layer], out_requant=requant(8, 16384, 14, 0),
        output_scale=np.array([1.0 / 256]), output_offset=np.array([0.0])).validate()


def test_spec_worked_example(cc):
    y_q = run_host(spec_example_model(), np.array([[1000], [-3000]], dtype=np.int16), sanitize=True)
    # Values stated in the spec's worked example.
    assert y_q[0, 0] == 1503
    assert y_q[1, 0] == -995


def test_missing_hal_macro_is_named(cc, tmp_path):
    hal = tmp_path / "hal"
    hal.mkdir()
    (hal / "kanc_hal.h").write_text("#define KANC_TABLE_ATTR\n", encoding="utf-8")
    source = tmp_path / "use.c"
    source.write_text("#include \"kanc_layer.h\"\nint kanc_unused;\n", encoding="utf-8")
    result = subprocess.run([cc, *WARNING_FLAGS, f"-I{runtime_dir()}", f"-I{hal}", "-c", str(source),
                             "-o", str(tmp_path / "use.o")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "KANC_READ_S16" in result.stderr


SMLAD_HAL = r"""
/* Host HAL that uses the edge hook the way a Cortex-M7 SMLAD path would:
 * packed fraction (256 - f) | f << 16 and the second edge-term form
 * T[s] * (256 - f) + T[s + 1] * f, emulated in C. */
#ifndef KANC_HAL_H
#define KANC_HAL_H
#include <stdint.h>
#define KANC_TABLE_ATTR
#define KANC_READ_S16(ptr) (*(const int16_t *)(ptr))
#define KANC_FRAC_T uint32_t
#define KANC_FRAC_ENCODE(f) ((uint32_t)(((uint32_t)(f) << 16) | (256u - (uint32_t)(f))))
#define KANC_HAL_HAS_EDGE_ACCUMULATE 1
static inline int32_t kanc_hal_edge_accumulate(int32_t acc, const int16_t *samples, uint32_t frac)
{
    int32_t weight_left = (int32_t)(frac & 0xFFFFu);
    int32_t weight_right = (int32_t)(frac >> 16);
    return acc + (int32_t)samples[0] * weight_left + (int32_t)samples[1] * weight_right;
}
#endif
"""


def test_edge_hook_with_packed_fraction(cc, tmp_path):
    rng = np.random.default_rng(5)
    model = random_quantized_model(rng, [5, 7, 3], name="hooked")
    x_q = random_inputs(rng, 300, 5)
    write_c_sources(model, tmp_path)
    (tmp_path / "kanc_hal.h").write_text(SMLAD_HAL, encoding="utf-8")
    rows = ",\n".join("{" + ", ".join(str(int(v)) for v in row) + "}" for row in x_q)
    driver = f"""
#include <stdio.h>
#include "hooked.h"
static const int16_t inputs[][HOOKED_N_INPUTS] = {{
{rows}
}};
int main(void) {{
    int16_t y[HOOKED_N_OUTPUTS];
    size_t k, j;
    for (k = 0; k < sizeof(inputs) / sizeof(inputs[0]); ++k) {{
        hooked_predict_q(inputs[k], y);
        for (j = 0; j < HOOKED_N_OUTPUTS; ++j) {{
            printf("%d\\n", (int)y[j]);
        }}
    }}
    return 0;
}}
"""
    (tmp_path / "driver_main.c").write_text(driver, encoding="utf-8")
    binary = tmp_path / "driver"
    subprocess.run([cc, *WARNING_FLAGS, "-O2", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    f"-I{tmp_path}", str(tmp_path / "hooked.c"), str(tmp_path / "driver_main.c"),
                    "-o", str(binary)], check=True, capture_output=True)
    out = subprocess.run([str(binary)], check=True, capture_output=True, text=True,
                         env={"ASAN_OPTIONS": "detect_leaks=0"}).stdout
    got = np.array([int(v) for v in out.split()]).reshape(-1, 3)
    expected, _ = reference_forward(model, x_q)
    assert np.array_equal(got, expected)
