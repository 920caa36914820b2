"""Arduino Uno board: avr-gcc firmware run under simavr, compared exactly with the simulator."""
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kanc.build import avr
from kanc.build.elf import memory_use
from kanc.errors import KancError
from kanc.quantize.qmodel import QuantizedLayer, QuantizedModel, Requantizer
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate import simulate
from kanc.simulate.reference import reference_forward
from device_outputs import assert_same_outputs, with_extreme_rows
from toolchain_checks import AVR_PACKAGES, require_tool


@pytest.fixture(scope="module", autouse=True)
def uno_toolchain():
    for tool in ("avr-gcc", "avr-size", "gcc", "pkg-config"):
        require_tool(tool, AVR_PACKAGES)
    require_tool("libsimavr-dev", AVR_PACKAGES, os.path.isfile("/usr/include/simavr/sim_avr.h"))
    require_tool("libelf-dev", AVR_PACKAGES, os.path.isfile("/usr/include/gelf.h"))
    avr.harness_path()


def check_exact(qmodel, x_q, run):
    """Compare the device outputs exactly with the numpy reference of the spec, then with the simulator."""
    assert_same_outputs(run.outputs, reference_forward(qmodel, x_q)[0], x_q, "reference")
    assert_same_outputs(run.outputs, simulate(qmodel, x_q).outputs, x_q, "simulator")


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1),
       widths=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       min_segments=st.sampled_from([1, 4, 64, 256]),
       extreme_fraction=st.sampled_from([0.0, 0.5, 1.0]))
def test_random_models_match_simulator(tmp_path_factory, seed, widths, min_segments, extreme_fraction):
    rng = np.random.default_rng(seed)
    qmodel = random_quantized_model(rng, widths, min_segments=min_segments,
                                    max_segments=min(256, min_segments * 4), extreme_fraction=extreme_fraction)
    x_q = with_extreme_rows(rng, random_inputs(rng, 60, widths[0]), widths[0])
    board = avr.UnoBoard()
    build = board.build(qmodel, tmp_path_factory.mktemp("uno"), firmware="verify")
    run = board.run_cases(build, x_q)

    check_exact(qmodel, x_q, run)
    assert run.count_unit == "cycles"
    assert run.machine == "simavr atmega328p"
    assert run.counts.shape == (len(x_q),)
    # Every inference reads at least 4 table bytes per edge with 3-cycle LPMs.
    assert run.counts.min() >= 12 * qmodel.n_edges


@pytest.mark.parametrize("optimize", ["s", "2"])
@pytest.mark.parametrize("extra_cflags", [(), ("-DKANC_NO_FAST_EDGE",)])
def test_optimization_levels_and_portable_path(tmp_path, optimize, extra_cflags):
    rng = np.random.default_rng(7)
    qmodel = random_quantized_model(rng, [3, 5, 2], min_segments=16, max_segments=40, extreme_fraction=0.5)
    x_q = with_extreme_rows(rng, random_inputs(rng, 40, 3), 3)
    board = avr.UnoBoard(optimize=optimize, extra_cflags=extra_cflags)
    build = board.build(qmodel, tmp_path, firmware="verify")
    run = board.run_cases(build, x_q)

    check_exact(qmodel, x_q, run)
    assert build.details["optimize"] == optimize


def test_fast_edge_path_is_faster(tmp_path):
    rng = np.random.default_rng(11)
    qmodel = random_quantized_model(rng, [4, 8, 3], min_segments=16, max_segments=16)
    x_q = random_inputs(rng, 10, 4)
    fast = avr.UnoBoard()
    portable = avr.UnoBoard(extra_cflags=("-DKANC_NO_FAST_EDGE",))
    fast_run = fast.run_cases(fast.build(qmodel, tmp_path / "fast", firmware="verify"), x_q)
    portable_run = portable.run_cases(portable.build(qmodel, tmp_path / "portable", firmware="verify"), x_q)

    np.testing.assert_array_equal(fast_run.outputs, portable_run.outputs)
    assert fast_run.counts.mean() < portable_run.counts.mean()


def edge_case_model():
    """One input with S = 4 segments and u = sat(x + 512, 0, 1023), and two kinds of output.

    Outputs 0..3 have tables at the int16 and slope extremes and pre-shift 8, so
    they show the high 16 bits of the accumulator. Outputs 4..7 have tables within
    [-128, 127] and pre-shift 0, so |acc| < 2^15 and every accumulator bit shows.
    """
    extreme_tables = [
        [-32768, -1, 32766, -2, -32768],
        [32767, -1, 32766, -2, 32765],
        [0, 32767, 0, -32768, -1],
        [5, 4, 3, 2, 1],
    ]
    small_tables = [
        [-128, 127, -128, 0, 127],
        [127, -128, 127, -128, 127],
        [0, 1, -1, 2, -2],
        [-128, -127, -126, -125, -124],
    ]
    n_out = len(extreme_tables) + len(small_tables)
    table = np.array(extreme_tables + small_tables, dtype=np.int16).ravel()
    layer = QuantizedLayer(
        segments=np.array([4]),
        in_requant=Requantizer(np.array([0]), np.array([1]), np.array([0]), np.array([512])),
        domain_lo=np.array([-1.0]), domain_hi=np.array([1.0]),
        table=table, bias=np.zeros(n_out, dtype=np.int32), table_scale=np.full(n_out, 1.0),
    )
    pre_shift = np.array([8] * len(extreme_tables) + [0] * len(small_tables))
    model = QuantizedModel(
        name="edges", task="regression", input_scale=np.array([1.0]), input_offset=np.array([0.0]),
        layers=[layer], out_requant=Requantizer(pre_shift, np.full(n_out, 1), np.zeros(n_out, dtype=np.int64),
                                                np.zeros(n_out, dtype=np.int64)),
        output_scale=np.ones(n_out), output_offset=np.zeros(n_out),
    )
    return model.validate()


def test_every_coordinate_of_extreme_tables(tmp_path):
    qmodel = edge_case_model()
    # x from -600 to 600 covers u = 0 .. 1023 and both clamped ends.
    x_q = np.arange(-600, 601, dtype=np.int16).reshape(-1, 1)
    board = avr.UnoBoard()
    run = board.run_cases(board.build(qmodel, tmp_path, firmware="verify"), x_q)

    check_exact(qmodel, x_q, run)
    # The outputs reach the int16 ends and odd values, so the check above is not vacuous.
    assert run.outputs[:, 0].min() == -32768
    assert run.outputs[:, 1].max() == 32767
    assert np.any(run.outputs[:, 4:] % 2 == 1)


def c_array(values, cast=""):
    return "{" + ", ".join(f"{cast}{int(v)}" for v in values) + "}"


def test_hal_fast_paths_on_device(tmp_path):
    rng = np.random.default_rng(3)
    # Pairs at the ends of the slope invariant: T[s + 1] - T[s] = -32768 or 32767.
    pairs = [(-32768, -1), (-1, -32768), (32767, -1), (-1, 32766), (0, 32767), (0, -32768),
             (-32768, -32768), (32767, 32767), (0, 0), (-32767, 0), (32767, 0), (-256, 255)]
    while len(pairs) < 48:
        left, right = (int(v) for v in rng.integers(-32768, 32768, size=2))
        if -32768 <= right - left <= 32767:
            pairs.append((left, right))
    assert all(-32768 <= right - left <= 32767 for left, right in pairs)
    accs = [0, -1, 2**31 - 1 - 40 * 2**23, -2**31 + 40 * 2**23, int(rng.integers(-2**30, 2**30))]
    row = [-32768, -1, 32766, -2, -32768, -1, 32766, 32767, 0, -32768]
    for step in rng.integers(-32768, 32768, size=30):
        # Clipping a step of at most 2^15 keeps the difference within int16.
        row.append(int(min(max(row[-1] + step, -32768), 32767)))
    assert all(-32768 <= right - left <= 32767 for left, right in zip(row, row[1:]))
    coords = [(0, 255), (1, 255), (3, 128), (4, 1), (6, 255), (7, 0)]
    coords += [(int(rng.integers(0, len(row) - 1)), int(rng.integers(0, 256))) for _ in range(34)]
    shift_values = [0, 1, -1, 2**31 - 1, -2**31, 2**30, -2**30, 255, -256, 0x7FFF8000, -0x7FFF8000]
    shift_values += [int(v) for v in rng.integers(-2**31, 2**31, size=40)]

    (tmp_path / "edge_cases.h").write_text(
        f"#define EDGE_PAIRS {len(pairs)}\n"
        "static const int16_t edge_samples[EDGE_PAIRS][2] PROGMEM = {"
        + ", ".join(c_array(pair) for pair in pairs) + "};\n"
        f"#define EDGE_ACCS {len(accs)}\n"
        f"static const int32_t edge_accs[EDGE_ACCS] = {c_array(accs, '(int32_t)')};\n"
        f"#define EDGE_ROW_LENGTH {len(row)}\n"
        f"static const int16_t edge_row[EDGE_ROW_LENGTH] PROGMEM = {c_array(row)};\n"
        f"#define EDGE_COORDS {len(coords)}\n"
        "static const uint16_t edge_coords[EDGE_COORDS][2] = {"
        + ", ".join(c_array(coord) for coord in coords) + "};\n"
        f"#define EDGE_SHIFT_VALUES {len(shift_values)}\n"
        f"static const int32_t edge_shift_values[EDGE_SHIFT_VALUES] = {c_array(shift_values, '(int32_t)')};\n")
    elf = avr.compile_firmware([avr.board_dir() / "edge_selftest.c", avr.board_dir() / "uart.c"],
                               [tmp_path], tmp_path / "selftest.elf", what="HAL self-test")
    _, uart = avr.run_harness(elf, tmp_path, max_cycles=500_000_000)

    lines = uart.decode("ascii").split("\r\n")
    assert lines[0] == f"edge checked {len(pairs) * len(accs) * 256} mismatches 0"
    assert lines[1] == f"row checked {len(accs) * len(coords)} mismatches 0"
    assert lines[2] == f"rshift checked {len(shift_values) * 32} mismatches 0"
    assert lines[3:] == [""]


def test_app_firmware_prints_outputs(tmp_path):
    rng = np.random.default_rng(5)
    qmodel = random_quantized_model(rng, [3, 4, 2], min_segments=8, max_segments=32)
    row = np.array([1234, -32768, 32767], dtype=np.int16)
    build = avr.UnoBoard().build(qmodel, tmp_path, firmware="app", app_input=row)
    _, uart = avr.run_harness(build.elf_path, tmp_path / "run")

    expected = simulate(qmodel, row.reshape(1, -1)).outputs[0]
    assert uart == ("y_q: " + " ".join(str(int(v)) for v in expected) + "\r\n").encode("ascii")


def test_memory_report_matches_elf_sections(tmp_path):
    rng = np.random.default_rng(9)
    qmodel = random_quantized_model(rng, [4, 8, 3], min_segments=16, max_segments=16)
    board = avr.UnoBoard()
    app = board.build(qmodel, tmp_path / "app", firmware="app")
    verify = board.build(qmodel, tmp_path / "verify", firmware="verify")
    table_bytes = 2 * sum(len(layer.table) for layer in qmodel.layers)

    for build in (app, verify):
        parsed = memory_use(build.elf_path)
        assert build.flash_bytes == parsed.flash_bytes
        assert build.ram_bytes == parsed.ram_bytes
        assert build.flash_bytes == build.details["sections"][".text"] + build.details["sections"][".data"]
        assert table_bytes < build.flash_bytes < avr.FLASH_BYTES - avr.BOOTLOADER_BYTES
        assert 0 < build.ram_bytes < avr.SRAM_BYTES
    # Tables stay in flash: RAM contains only buffers (accumulators and coordinates), not samples.
    assert app.ram_bytes < table_bytes


def test_too_large_model_is_rejected(tmp_path):
    rng = np.random.default_rng(1)
    qmodel = random_quantized_model(rng, [16, 16, 4], min_segments=256, max_segments=256)
    with pytest.raises(KancError, match=r"bytes of flash"):
        avr.UnoBoard().build(qmodel, tmp_path, firmware="verify")


def test_bad_inputs_are_rejected(tmp_path):
    rng = np.random.default_rng(2)
    qmodel = random_quantized_model(rng, [2, 2], min_segments=4, max_segments=4)
    board = avr.UnoBoard()
    build = board.build(qmodel, tmp_path, firmware="verify")
    with pytest.raises(KancError, match=r"shape \(N, 2\)"):
        board.run_cases(build, np.zeros((3, 3), dtype=np.int16))
    with pytest.raises(KancError, match="outside int16"):
        board.run_cases(build, np.array([[0, 40000]]))
    with pytest.raises(KancError, match="integers"):
        board.run_cases(build, np.zeros((1, 2)))
    with pytest.raises(KancError, match="verify firmware"):
        board.run_cases(board.build(qmodel, tmp_path / "app", firmware="app"), np.zeros((1, 2), dtype=np.int16))
    with pytest.raises(KancError, match="unknown firmware"):
        board.build(qmodel, tmp_path, firmware="bootloader")


def test_harness_stops_at_cycle_limit(tmp_path):
    rng = np.random.default_rng(4)
    qmodel = random_quantized_model(rng, [2, 3], min_segments=4, max_segments=4)
    build = avr.UnoBoard().build(qmodel, tmp_path, firmware="verify")
    with pytest.raises(KancError, match="cycle limit"):
        avr.run_harness(build.elf_path, tmp_path / "run", cases=random_inputs(rng, 100, 2), max_cycles=20_000)


def test_board_registry_returns_uno():
    from kanc.build.boards import BOARDS

    board = BOARDS["uno"]
    assert board.name == "uno"
    assert board.cpu == "ATmega328P"
    assert board.count_unit == "cycles"
    assert re.fullmatch(r"[s123]", board.optimize)


def test_harness_reports_crash(tmp_path):
    source = tmp_path / "crash.c"
    # Function pointers hold word addresses: word 0x4000 is byte 0x8000, past the end of flash.
    source.write_text("int main(void) { ((void (*)(void))0x4000)(); return 0; }\n")
    elf = avr.compile_firmware([source], [tmp_path], tmp_path / "crash.elf", what="crash firmware")
    with pytest.raises(KancError, match="crashed"):
        avr.run_harness(elf, tmp_path / "run", max_cycles=1_000_000)
