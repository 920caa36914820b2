"""Arduino library export: build the example sketch with arduino-builder, run it under simavr."""
import os
import re

import numpy as np
import pytest

from kanc.build import avr
from kanc.emit.arduino import compile_arduino_example, export_arduino
from kanc.errors import KancError
from kanc.quantize.random_model import random_inputs, random_quantized_model
from kanc.simulate import simulate
from toolchain_checks import ARDUINO_PACKAGES, require_tool

ARDUINO_CORE = "/usr/share/arduino/hardware/arduino/avr"


def require_arduino():
    require_tool("arduino-builder", ARDUINO_PACKAGES)
    require_tool("arduino-core-avr", ARDUINO_PACKAGES, os.path.isdir(ARDUINO_CORE))
    require_tool("avr-gcc", ARDUINO_PACKAGES)


def expected_predictions(y_q):
    """The sketch's prediction lines for int16 outputs ``y_q``, as Arduino's println writes them."""
    return "".join(f"row {k}: " + " ".join(str(int(v)) for v in row) + "\r\n" for k, row in enumerate(y_q))


def test_exported_sketch_prints_simulated_outputs(tmp_path):
    require_arduino()
    rng = np.random.default_rng(12)
    qmodel = random_quantized_model(rng, [4, 8, 3], min_segments=16, max_segments=16, name="demo")
    x_q = random_inputs(rng, 12, 4)
    x_q[0] = -32768
    x_q[1] = 32767

    sketch = export_arduino(qmodel, tmp_path / "demo", x_q=x_q)
    elf = compile_arduino_example(tmp_path / "demo", tmp_path / "build")
    _, uart = avr.run_harness(elf, tmp_path / "run", max_cycles=200_000_000)

    text = uart.decode("ascii")
    predictions = expected_predictions(simulate(qmodel, x_q).outputs)
    assert text.startswith(predictions), f"serial output:\n{text}\nexpected prediction lines:\n{predictions}"
    tail = text[len(predictions):]
    timing = re.fullmatch(r"us_per_inference: (\d+)\r\ndone\r\n", tail)
    assert timing is not None, f"unexpected end of serial output: {tail!r}"
    # simavr runs the 16 MHz clock, so micros() is simulated time; an inference takes well over 100 us.
    assert 100 < int(timing.group(1)) < 1_000_000
    assert sketch == tmp_path / "demo" / "examples" / "demo" / "demo.ino"


def test_library_layout(tmp_path):
    rng = np.random.default_rng(1)
    qmodel = random_quantized_model(rng, [2, 3, 1], min_segments=4, max_segments=8, name="tiny")
    export_arduino(qmodel, tmp_path / "tiny")

    properties = dict(line.split("=", 1) for line in
                      (tmp_path / "tiny" / "library.properties").read_text().splitlines() if line)
    assert properties["name"] == "tiny"
    assert properties["architectures"] == "avr"
    assert properties["includes"] == "tiny.h"
    for required in ("version", "author", "maintainer", "sentence", "paragraph", "category", "url"):
        assert properties[required]
    source = tmp_path / "tiny" / "src"
    for name in ("tiny.h", "tiny.c", "kanc_hal.h", "kanc_layer.h", "kanc_board.h"):
        assert (source / name).is_file(), name
    assert "PROGMEM" in (source / "kanc_hal.h").read_text()
    sketch = (tmp_path / "tiny" / "examples" / "tiny" / "tiny.ino").read_text()
    assert "#define N_ROWS 8" in sketch
    # The default rows include zeros and the int16 extremes.
    assert "{0, 0}" in sketch
    assert "{-32768, -32768}" in sketch
    assert "{32767, 32767}" in sketch


def test_export_rejects_bad_arguments(tmp_path):
    rng = np.random.default_rng(1)
    qmodel = random_quantized_model(rng, [2, 1], min_segments=4, max_segments=4)
    with pytest.raises(KancError, match="portenta"):
        export_arduino(qmodel, tmp_path / "a", board="portenta")
    with pytest.raises(KancError, match=r"shape \(N, 2\)"):
        export_arduino(qmodel, tmp_path / "b", x_q=np.zeros((3, 5), dtype=np.int16))
    with pytest.raises(KancError, match="1 to 256"):
        export_arduino(qmodel, tmp_path / "c", x_q=np.zeros((0, 2), dtype=np.int16))
