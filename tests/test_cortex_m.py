"""Cortex-M boards: arm-none-eabi-gcc images run in QEMU, compared exactly with the spec's reference.

rp2040 images (-mcpu=cortex-m0plus) run on the QEMU microbit, a real ARMv6-M
core; portenta_h7 images (-mcpu=cortex-m7, FPv5) run on mps2-an500.
"""
import pathlib
import re
import subprocess

import numpy as np
import pytest
from device_outputs import INT16_EXTREMES, assert_same_outputs, with_extreme_rows
from toolchain_checks import ARM_PACKAGES, require_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanc.build import cortex_m
from kanc.build.boards import BOARDS, UnknownBoardError, get_board
from kanc.build.elf import memory_use, symbol_addresses
from kanc.errors import KancError, ToolchainError
from kanc.quantize.qmodel import QuantizedLayer, QuantizedModel, Requantizer
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate.reference import reference_forward
from kanc.verify import verify

CORTEX_M_BOARDS = ("rp2040", "portenta_h7")


@pytest.fixture(scope="module", autouse=True)
def cortex_m_toolchain():
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-objdump", "qemu-system-arm", "gcc"):
        require_tool(tool, ARM_PACKAGES)
    cortex_m.instruction_count_plugin()


def write_model_function(folder, body, name="probe", prelude=""):
    """Write ``<name>.h/.c`` with ``void <name>_predict_q(const int16_t *x, int16_t *y)`` running ``body``.

    ``prelude`` goes at file scope before the function (includes, for example).
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.h").write_text(
        "#include <stdint.h>\nvoid %s_predict_q(const int16_t *x_q, int16_t *y_q);\n" % name)
    (folder / f"{name}.c").write_text(
        '#include "%s.h"\n%s\nvoid %s_predict_q(const int16_t *x_q, int16_t *y_q)\n{\n%s\n}\n'
        % (name, prelude, name, body))
    return cortex_m.ModelSources(str(folder), f"{name}.h", f"{name}_predict_q", 1, 1)


def spec_example_model():
    """The worked example of docs/fixed_point_spec.md section 3."""
    layer = QuantizedLayer(
        segments=np.array([4]),
        in_requant=Requantizer(np.array([0]), np.array([20000]), np.array([15]), np.array([512])),
        domain_lo=np.array([-1.0]), domain_hi=np.array([1.0]),
        table=np.array([-1000, -200, 300, 900, 1500], dtype=np.int16),
        bias=np.array([1280], dtype=np.int32), table_scale=np.array([1.0 / 256]))
    return QuantizedModel(
        name="spec_example", task="regression", input_scale=np.array([1.0]), input_offset=np.array([0.0]),
        layers=[layer], out_requant=Requantizer(np.array([8]), np.array([16384]), np.array([14]), np.array([0])),
        output_scale=np.array([1.0]), output_offset=np.array([0.0])).validate()


# ---------------------------------------------------------------------- registry


def test_registry_lists_every_board():
    assert set(BOARDS) == {"uno", "portenta_h7", "rp2040", "host"}
    assert get_board("rp2040").cpu == "Cortex-M0+"
    assert get_board("portenta_h7").cpu == "Cortex-M7"
    assert get_board("rp2040").count_unit == "instructions"


def test_registry_rejects_unknown_board():
    with pytest.raises(UnknownBoardError, match="unknown board 'esp32'.*portenta_h7"):
        get_board("esp32")


# ---------------------------------------------------------------------- bit-exact runs


@pytest.mark.parametrize("board_name", CORTEX_M_BOARDS)
def test_spec_worked_example(board_name, tmp_path):
    # Expected outputs are the hand-computed values of spec section 3.
    board = get_board(board_name)
    build = board.build(spec_example_model(), tmp_path, firmware="verify")
    run = board.run_cases(build, np.array([[1000], [-3000]], dtype=np.int16))
    assert run.outputs[:, 0].tolist() == [1503, -995]


@pytest.mark.parametrize("board_name", CORTEX_M_BOARDS)
def test_random_model_matches_reference(board_name, tmp_path):
    rng = np.random.default_rng(11)
    qmodel = random_quantized_model(rng, [5, 7, 3], min_segments=1, max_segments=256)
    x_q = with_extreme_rows(rng, random_inputs(rng, 3000, 5), 5)
    board = get_board(board_name)
    run = board.run_cases(board.build(qmodel, tmp_path, firmware="verify"), x_q)
    assert_same_outputs(run.outputs, reference_forward(qmodel, x_q)[0], x_q)
    assert run.counts.shape == (len(x_q),)
    assert run.counts.min() > qmodel.n_edges


@st.composite
def model_and_inputs(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_layers = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 6), min_size=n_layers + 1, max_size=n_layers + 1))
    max_segments = draw(st.sampled_from([1, 3, 16, 256]))
    extreme_fraction = draw(st.sampled_from([0.0, 0.5, 1.0]))
    drawn_rows = draw(st.lists(
        st.lists(st.one_of(st.sampled_from(INT16_EXTREMES), st.integers(-32768, 32767)),
                 min_size=widths[0], max_size=widths[0]),
        min_size=1, max_size=20))

    rng = np.random.default_rng(seed)
    qmodel = random_quantized_model(rng, widths, min_segments=1, max_segments=max_segments,
                                    extreme_fraction=extreme_fraction, name="prop")
    x_q = np.vstack([np.array(drawn_rows, dtype=np.int16),
                     with_extreme_rows(rng, random_inputs(rng, 300, widths[0]), widths[0])])
    return qmodel, x_q


@pytest.mark.parametrize("board_name", CORTEX_M_BOARDS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=model_and_inputs())
def test_property_matches_reference(board_name, case, tmp_path):
    # One image and one QEMU run per example: the whole batch of rows goes through it.
    qmodel, x_q = case
    board = get_board(board_name)
    run = board.run_cases(board.build(qmodel, tmp_path / "prop", firmware="verify"), x_q)
    assert_same_outputs(run.outputs, reference_forward(qmodel, x_q)[0], x_q)


def test_portenta_fast_path_matches_portable(tmp_path):
    rng = np.random.default_rng(5)
    qmodel = random_quantized_model(rng, [6, 9, 2], min_segments=1, max_segments=40, extreme_fraction=1.0)
    x_q = with_extreme_rows(rng, random_inputs(rng, 1500, 6), 6)
    fast = cortex_m.PortentaH7Board()
    portable = cortex_m.PortentaH7Board(extra_cflags=("-DKANC_NO_FAST_EDGE",))
    fast_run = fast.run_cases(fast.build(qmodel, tmp_path / "fast", firmware="verify"), x_q)
    portable_build = portable.build(qmodel, tmp_path / "portable", firmware="verify")
    portable_run = portable.run_cases(portable_build, x_q)

    expected = reference_forward(qmodel, x_q)[0]
    assert_same_outputs(fast_run.outputs, expected, x_q)
    assert_same_outputs(portable_run.outputs, expected, x_q)
    assert fast_run.counts.mean() < portable_run.counts.mean()


def test_portenta_image_uses_smlad(tmp_path):
    rng = np.random.default_rng(2)
    qmodel = random_quantized_model(rng, [3, 4], max_segments=8)
    build = get_board("portenta_h7").build(qmodel, tmp_path, firmware="app")
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", build.elf_path],
                             capture_output=True, text=True, check=True).stdout
    assert re.search(r"\bsmlad\b", listing)


def test_large_model_falls_back_to_mps2_an385(tmp_path):
    # 4 * 64 * 257 * 2 samples of 2 bytes = 263 KB of tables, more than the microbit's 256 KiB flash.
    rng = np.random.default_rng(9)
    qmodel = random_quantized_model(rng, [4, 64, 4], min_segments=256, max_segments=256, sparse_fraction=0.0)
    x_q = random_inputs(rng, 50, 4)
    board = get_board("rp2040")
    build = board.build(qmodel, tmp_path, firmware="verify")
    run = board.run_cases(build, x_q)
    assert build.details["machine"] == "mps2-an385"
    assert run.machine == "mps2-an385"
    assert build.flash_bytes > 256 * 1024
    assert_same_outputs(run.outputs, reference_forward(qmodel, x_q)[0], x_q)


# ---------------------------------------------------------------------- instruction counts


@pytest.mark.parametrize("board_name", CORTEX_M_BOARDS)
def test_counts_exact_per_instruction(board_name, tmp_path):
    # Two images differ only by 100 NOPs in the measured function, so every count differs by exactly 100.
    board = get_board(board_name)
    x_q = np.arange(-5, 5, dtype=np.int16).reshape(-1, 1)
    counts = []
    for nops in (0, 100):
        body = "    __asm__ volatile(\"%s\");\n    y_q[0] = x_q[0];" % ("nop\\n" * nops)
        sources = write_model_function(tmp_path / f"src{nops}", body)
        build = board.build_sources(sources, tmp_path / f"build{nops}", firmware="verify")
        run = board.run_cases(build, x_q)
        assert run.outputs[:, 0].tolist() == x_q[:, 0].tolist()
        counts.append(run.counts)
    assert len(set(counts[0].tolist())) == 1
    assert (counts[1] - counts[0]).tolist() == [100] * len(x_q)


# One 32-bit LDR from an odd address, written in assembly so that gcc cannot split it into byte loads.
UNALIGNED_LOAD_BODY = """
    static const uint8_t bytes[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t *address = bytes + 1 + (x_q[0] & 0);
    uint32_t word;
    __asm__ volatile("ldr %0, [%1]" : "=l"(word) : "l"(address) : "memory");
    y_q[0] = (int16_t)(word & 0xFFFF);
"""


def test_microbit_faults_on_unaligned_load(tmp_path):
    # ARMv6-M has no unaligned LDR; the fault handler must end the run with the HardFault number (3).
    body = UNALIGNED_LOAD_BODY
    board = get_board("rp2040")
    build = board.build_sources(write_model_function(tmp_path / "src", body), tmp_path, firmware="verify")
    assert build.details["machine"] == "microbit"
    with pytest.raises(ToolchainError, match="CPU exception 3"):
        board.run_cases(build, np.zeros((1, 1), dtype=np.int16))


def test_cortex_m7_allows_unaligned_load(tmp_path):
    body = UNALIGNED_LOAD_BODY
    board = get_board("portenta_h7")
    build = board.build_sources(write_model_function(tmp_path / "src", body), tmp_path, firmware="verify")
    run = board.run_cases(build, np.zeros((1, 1), dtype=np.int16))
    assert run.outputs[0, 0] == 0x0302


# ---------------------------------------------------------------------- verify API and memory


def test_verify_reports_counts_and_memory(tmp_path):
    rng = np.random.default_rng(4)
    qmodel = random_quantized_model(rng, [3, 5, 2], max_segments=32)
    x_q = random_inputs(rng, 400, 3)
    result = verify("rp2040", qmodel, x_q, out_dir=tmp_path)
    assert result.passed
    assert result.mismatches == 0
    assert result.first_mismatch is None
    assert result.machine == "microbit"
    assert result.count_unit == "instructions"
    assert result.n_rows == 400
    assert result.count_per_edge == pytest.approx(result.counts.mean() / qmodel.n_edges)
    assert result.flash_bytes == memory_use(result.elf_path).flash_bytes


def test_verify_rejects_bad_inputs():
    rng = np.random.default_rng(4)
    qmodel = random_quantized_model(rng, [3, 2], max_segments=8)
    with pytest.raises(KancError, match=r"shape \(N, 3\)"):
        verify("rp2040", qmodel, np.zeros((4, 2), dtype=np.int16))
    with pytest.raises(KancError, match="40000 is outside int16"):
        verify("rp2040", qmodel, np.full((1, 3), 40000))
    with pytest.raises(KancError, match="at least one row"):
        verify("rp2040", qmodel, np.zeros((0, 3), dtype=np.int16))


def test_run_cases_rejects_app_image(tmp_path):
    rng = np.random.default_rng(4)
    qmodel = random_quantized_model(rng, [2, 2], max_segments=8)
    board = get_board("portenta_h7")
    build = board.build(qmodel, tmp_path, firmware="app")
    with pytest.raises(KancError, match="firmware='verify'"):
        board.run_cases(build, np.zeros((1, 2), dtype=np.int16))


@pytest.mark.parametrize("board_name", CORTEX_M_BOARDS)
def test_app_image_prints_outputs(board_name, tmp_path):
    rng = np.random.default_rng(8)
    qmodel = random_quantized_model(rng, [3, 4, 2], max_segments=16)
    row = np.array([-32768, 5, 32767], dtype=np.int16)
    build = get_board(board_name).build(qmodel, tmp_path, firmware="app", app_input=row)
    completed = subprocess.run(
        ["qemu-system-arm", "-M", build.details["machine"], "-display", "none", "-monitor", "none",
         "-serial", "none", "-semihosting-config", "enable=on,target=native", "-kernel", build.elf_path],
        capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0
    expected = reference_forward(qmodel, row.reshape(1, -1))[0][0]
    assert "y_q: " + " ".join(str(int(v)) for v in expected) in completed.stdout + completed.stderr


@pytest.mark.parametrize("board_name", CORTEX_M_BOARDS)
def test_elf_memory_matches_size_tool(board_name, tmp_path):
    rng = np.random.default_rng(6)
    qmodel = random_quantized_model(rng, [4, 6, 2], max_segments=20)
    build = get_board(board_name).build(qmodel, tmp_path, firmware="app")
    output = subprocess.run(["arm-none-eabi-size", "-A", build.elf_path],
                            capture_output=True, text=True, check=True).stdout
    sizes = dict(re.findall(r"^(\.\S+)\s+(\d+)", output, flags=re.MULTILINE))
    sizes = {name: int(value) for name, value in sizes.items()}
    flash = sizes[".text"] + sizes.get(".ARM.exidx", 0) + sizes.get(".data", 0)
    ram = sizes.get(".data", 0) + sizes.get(".bss", 0)
    assert build.flash_bytes == flash
    assert build.ram_bytes == ram
    assert build.details["stack_reserve_bytes"] == sizes[".stack_reserve"]
    assert build.flash_bytes > 2 * len(qmodel.layers[0].table)


def test_symbol_addresses_reports_missing_symbol(tmp_path):
    rng = np.random.default_rng(6)
    qmodel = random_quantized_model(rng, [2, 2], max_segments=4)
    build = get_board("rp2040").build(qmodel, tmp_path, firmware="verify")
    addresses = symbol_addresses(build.elf_path, ["kanc_mark_begin", "kanc_mark_end"])
    assert addresses["kanc_mark_begin"] != addresses["kanc_mark_end"]
    with pytest.raises(ToolchainError, match="no_such_symbol"):
        symbol_addresses(build.elf_path, ["no_such_symbol"])


def test_host_board_verifies(tmp_path):
    rng = np.random.default_rng(12)
    qmodel = random_quantized_model(rng, [3, 4, 2], max_segments=64)
    x_q = random_inputs(rng, 200, 3)
    result = verify("host", qmodel, x_q, out_dir=tmp_path)
    assert result.mismatches == 0
    assert result.count_unit == "none"
    assert result.counts.tolist() == [0] * 200


def node_sum_probe(folder, table, starts, max_edges):
    """Write a probe whose predict calls kanc_hal_node_sum on records built from its inputs.

    Inputs: edge count k, bias low and high words, then max_edges coordinates u_i.
    Outputs: the int32 result as low and high int16 words.
    """
    body = """
    static const int16_t row[%d] = {%s};
    static const uint16_t starts[%d] = {%s};
    struct { uint16_t offset; uint8_t frac; uint8_t reserved; } records[%d];
    int32_t count = x_q[0];
    int32_t bias = (int32_t)((uint32_t)(uint16_t)x_q[1] | ((uint32_t)(uint16_t)x_q[2] << 16));
    int32_t i;
    uint32_t sum;
    for (i = 0; i < count; i++) {
        uint16_t u = (uint16_t)x_q[3 + i];
        records[i].offset = (uint16_t)(starts[i] + (u >> 8));
        records[i].frac = (uint8_t)(u & 255);
        records[i].reserved = 0;
    }
    sum = (uint32_t)kanc_hal_node_sum(records, records + count, row, bias);
    y_q[0] = (int16_t)(sum & 0xFFFF);
    y_q[1] = (int16_t)(sum >> 16);
""" % (len(table), ", ".join(str(int(v)) for v in table), len(starts), ", ".join(str(int(v)) for v in starts),
       max_edges)
    sources = write_model_function(folder, body, prelude='#include "kanc_hal.h"')
    return cortex_m.ModelSources(sources.source_dir, sources.header, sources.predict, 3 + max_edges, 2)


def test_rp2040_node_sum_matches_spec(tmp_path):
    # The Thumb-1 node loop on a real ARMv6-M core against the spec's edge formula, for 0..9 edges.
    from kanc.quantize.random_model import random_table
    rng = np.random.default_rng(31)
    max_edges = 9
    segments = rng.integers(1, 127, size=max_edges)
    tables = [random_table(rng, int(s) + 1, extreme=True) for s in segments]
    starts = np.concatenate([[0], np.cumsum(segments + 1)[:-1]])
    row = np.concatenate(tables)

    rows, expected = [], []
    for _ in range(400):
        count = int(rng.integers(0, max_edges + 1))
        u = [int(rng.choice([0, int(s) * 256 - 1, int(rng.integers(0, int(s) * 256))])) for s in segments]
        bias = int(rng.integers(-(1 << 24), 1 << 24))
        acc = bias
        for i in range(count):
            s, f = u[i] >> 8, u[i] & 255
            left, right = int(tables[i][s]), int(tables[i][s + 1])
            acc += left * 256 + (right - left) * f
        rows.append([count, np.int16(np.uint16(bias & 0xFFFF)), bias >> 16, *[np.int16(np.uint16(v)) for v in u]])
        expected.append(acc)

    board = get_board("rp2040")
    sources = node_sum_probe(tmp_path / "src", row, starts, max_edges)
    build = board.build_sources(sources, tmp_path, firmware="verify")
    run = board.run_cases(build, np.array(rows, dtype=np.int64).astype(np.int16))
    got = (run.outputs[:, 0].astype(np.int64) & 0xFFFF) | (run.outputs[:, 1].astype(np.int64) << 16)
    assert got.tolist() == expected
