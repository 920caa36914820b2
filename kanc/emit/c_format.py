"""C literal formatting for the generated model sources."""
import numpy as np

VALUES_PER_LINE = 12


def split_int32(value):
    """Return (low, high) int16 words with value == high * 65536 + (low mod 65536).

    This is the layout kanc_read_s32_pair in runtime_c/kanc_board.h reads back.
    """
    if not -(1 << 31) <= value < (1 << 31):
        raise ValueError(f"{value} does not fit in int32")
    low = value & 0xFFFF
    if low >= 1 << 15:
        low -= 1 << 16
    return low, value >> 16


def c_int16_block(values, indent="    "):
    """Return int16 values as comma-separated C initializer lines, VALUES_PER_LINE per line."""
    values = np.asarray(values, dtype=np.int64)
    rows = []
    for start in range(0, len(values), VALUES_PER_LINE):
        chunk = values[start:start + VALUES_PER_LINE]
        rows.append(indent + ", ".join(str(int(v)) for v in chunk) + ",")
    return "\n".join(rows)


def c_float_literal(value):
    """Return a C float literal (suffix f) of the float32 nearest to ``value``, round-trip exact."""
    as_float32 = np.float32(value)
    if not np.isfinite(as_float32):
        raise ValueError(f"{value!r} is not a finite float32")
    text = np.format_float_positional(as_float32, unique=True, trim="0") \
        if 1e-4 <= abs(float(as_float32)) < 1e7 or as_float32 == 0 \
        else np.format_float_scientific(as_float32, unique=True, trim="0")
    return text + "f"
