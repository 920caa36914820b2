"""Uno assembly requantizer (kanc_hal_requant_scale, kanc_hal_requant_multiply) against the spec on simavr."""
import os
import shutil

import numpy as np
import pytest

from kanc.build import avr

INT32_MIN = -2**31
INT32_MAX = 2**31 - 1
OFFSET_LIMIT = 2**30

PRE_SHIFTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 30, 31]
SHIFTS = [0, 1, 2, 7, 8, 9, 13, 15, 16, 17, 24, 30, 31]
MULTIPLIERS = [0, 1, 2, 255, 256, 16384, 32767]
OFFSETS = [0, -1, 1, OFFSET_LIMIT, -OFFSET_LIMIT, 65535, -65536]
INT16_INPUTS = [-32768, -32767, -256, -255, -1, 0, 1, 255, 256, 32766, 32767]


@pytest.fixture(scope="module", autouse=True)
def uno_toolchain():
    """Skip without avr-gcc and simavr, but fail under CI=true, where every toolchain must be installed."""
    missing = [tool for tool in ("avr-gcc", "gcc", "pkg-config") if shutil.which(tool) is None]
    if not os.path.isfile("/usr/include/simavr/sim_avr.h"):
        missing.append("libsimavr-dev")
    if missing:
        message = (f"{', '.join(missing)} not installed (apt-get install --no-install-recommends gcc-avr "
                   "avr-libc binutils-avr simavr libsimavr-dev libelf-dev pkg-config gcc)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    avr.harness_path()


def records(rng):
    """Return (z, M, p, r) tuples: every listed (p, r) pair, with M and z cycling through extremes and random values."""
    result = []
    for k, (p, r) in enumerate((p, r) for p in PRE_SHIFTS for r in SHIFTS):
        if k % 3 == 2:
            multiplier = int(rng.integers(0, 32768))
            offset = int(rng.integers(-OFFSET_LIMIT, OFFSET_LIMIT + 1))
        else:
            multiplier = MULTIPLIERS[k % len(MULTIPLIERS)]
            offset = OFFSETS[k % len(OFFSETS)]
        result.append((offset, multiplier, p, r))
    return result


def int32_values(rng):
    """Return int32 inputs: extremes, and for every p the values on both sides of each step-1 saturation and rounding tie."""
    values = {INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1, -1, 2, -2, 32767, 32768, -32768, -32769}
    for p in range(1, 32):
        half = 1 << (p - 1)
        # rshift_round(a, p) reaches 32768 at a = 32767 * 2^p + 2^(p-1) and -32769 below -32768 * 2^p - 2^(p-1).
        upper = 32767 * (1 << p) + half
        lower = -32768 * (1 << p) - half
        # a = (2k + 1) * 2^(p-1) lies exactly between two results: ties round up.
        tie = 5 * half
        values.update({upper - 1, upper, lower, lower - 1, tie, tie - 1, -tie, -tie - 1})
    values.update(int(v) for v in rng.integers(INT32_MIN, INT32_MAX, size=40, endpoint=True))
    return sorted(v for v in values if INT32_MIN <= v <= INT32_MAX)


def int16_inputs(rng):
    values = set(INT16_INPUTS)
    values.update(sign * (1 << k) for k in range(15) for sign in (1, -1))
    values.update(int(v) for v in rng.integers(-32768, 32768, size=30))
    return sorted(values)


def write_cases(path, record_list, values, inputs):
    words = []
    for offset, multiplier, p, r in record_list:
        low = offset & 0xFFFF
        words.append([low - 0x10000 if low >= 0x8000 else low, offset >> 16, multiplier, p, r, 16])
    rows = ", ".join("{" + ", ".join(str(w) for w in row) + "}" for row in words)
    path.write_text(
        f"#define REQUANT_RECORDS {len(words)}\n"
        f"static const int16_t requant_records[REQUANT_RECORDS][6] PROGMEM = {{{rows}}};\n"
        f"#define REQUANT_VALUES {len(values)}\n"
        "static const int32_t requant_values[REQUANT_VALUES] = {"
        + ", ".join(f"(int32_t){v}" if v != INT32_MIN else "(int32_t)(-2147483647 - 1)" for v in values) + "};\n"
        f"#define REQUANT_INPUTS {len(inputs)}\n"
        "static const int16_t requant_inputs[REQUANT_INPUTS] = {" + ", ".join(str(v) for v in inputs) + "};\n")


def test_requantizer_matches_spec_on_device(tmp_path):
    rng = np.random.default_rng(13)
    record_list = records(rng)
    values = int32_values(rng)
    inputs = int16_inputs(rng)
    # Every record obeys the ranges of spec section 4 that the assembly relies on.
    assert all(0 <= p <= 31 for _, _, p, _ in record_list)
    assert all(0 <= r <= 31 for _, _, _, r in record_list)
    assert all(0 <= m <= 32767 for _, m, _, _ in record_list)
    assert all(abs(z) <= OFFSET_LIMIT for z, _, _, _ in record_list)
    write_cases(tmp_path / "requant_cases.h", record_list, values, inputs)

    elf = avr.compile_firmware([avr.board_dir() / "requant_selftest.c", avr.board_dir() / "uart.c"],
                               [tmp_path], tmp_path / "requant_selftest.elf", what="requantizer self-test")
    _, uart = avr.run_harness(elf, tmp_path, max_cycles=2_000_000_000)

    lines = uart.decode("ascii").split("\r\n")
    assert lines[0] == f"scale checked {len(record_list) * len(values)} mismatches 0"
    assert lines[1] == f"multiply checked {len(record_list) * len(inputs)} mismatches 0"
    assert lines[2:] == [""]
