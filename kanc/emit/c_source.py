"""Generate the C sources of a quantized model: <name>.h and <name>.c next to the C runtime.

The generated code stores every table and parameter behind KANC_TABLE_ATTR as
int16 words (see runtime_c/kanc_model.h) and calls the runtime once per layer.
All exported symbols and macros start with the model name, so several models
link into one firmware.
"""
import os
import pathlib

import numpy as np

from kanc.emit.c_format import c_float_literal, c_int16_block, split_int32
from kanc.emit.paths import RUNTIME_HEADERS, board_dir, runtime_dir
from kanc.errors import KancError
from kanc.io.atomic import write_text_atomic

REQUANT_RECORD_BYTES = 12
"""sizeof(kanc_requant_t): six int16 words on every target."""

BIAS_RECORD_BYTES = 4
"""sizeof(kanc_bias_t): two int16 words."""

COORD_RECORD_BYTES = 4
"""sizeof(kanc_coord_t) with the default fraction type (uint16 offset, uint8 fraction, 1 pad byte)."""

ACC_BYTES = 4
"""One int32 node accumulator."""

INDEX_WORD_BYTES = 2
"""One entry of a sparse layer's live_counts or live_inputs array (an int16 word read as uint16)."""

UINT16_LIMIT = 65535


class CodegenError(KancError):
    """A valid quantized model cannot be turned into C (a size limit of the C runtime)."""


def model_sizes(qmodel):
    """Return the memory a generated model needs, in bytes.

    Keys: ``table_bytes`` (int16 samples), ``param_bytes`` (requantizer and bias
    records), ``index_bytes`` (the live-edge counts and input indices of sparse
    layers, one int16 word per node and per live edge), ``flash_bytes`` (the sum of
    the three, the const data behind KANC_TABLE_ATTR; code not included) and
    ``ram_bytes`` (the static accumulator and coordinate buffers, with the default
    4-byte coordinate record).
    """
    table_bytes = 2 * sum(len(layer.table) for layer in qmodel.layers)
    n_requant = sum(layer.n_in for layer in qmodel.layers) + qmodel.n_outputs
    n_bias = sum(layer.n_out for layer in qmodel.layers)
    param_bytes = REQUANT_RECORD_BYTES * n_requant + BIAS_RECORD_BYTES * n_bias
    index_bytes = INDEX_WORD_BYTES * sum(layer.n_out + layer.n_live_edges
                                         for layer in qmodel.layers if layer.is_sparse)
    ram_bytes = ACC_BYTES * _max_nodes(qmodel) + COORD_RECORD_BYTES * _max_layer_inputs(qmodel)
    return {"table_bytes": table_bytes, "param_bytes": param_bytes, "index_bytes": index_bytes,
            "flash_bytes": table_bytes + param_bytes + index_bytes, "ram_bytes": ram_bytes}


def write_c_sources(qmodel, out_dir, board=None, float_wrapper=True):
    """Write ``<name>.h``, ``<name>.c`` and the runtime headers into ``out_dir``; return their paths.

    With ``board`` (a folder name under boards/, such as "host" or "uno") the
    board's kanc_hal.h is copied too and the folder compiles on its own. Without
    it the build must put boards/<board> on the include path. ``float_wrapper``
    False leaves out ``<name>_predict`` (it can also be compiled out with
    -D<NAME>_NO_FLOAT or -DKANC_NO_FLOAT). Every file is written atomically.
    """
    qmodel.validate()
    _check_limits(qmodel)
    if float_wrapper:
        _check_float_parameters(qmodel)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    paths = []
    header_path = out_dir / f"{qmodel.name}.h"
    write_text_atomic(header_path, render_header(qmodel, float_wrapper))
    paths.append(header_path)
    source_path = out_dir / f"{qmodel.name}.c"
    write_text_atomic(source_path, render_source(qmodel, float_wrapper))
    paths.append(source_path)

    sources = [runtime_dir() / name for name in RUNTIME_HEADERS]
    if board is not None:
        sources.append(board_dir(board) / "kanc_hal.h")
    for source in sources:
        target = out_dir / source.name
        write_text_atomic(target, source.read_text(encoding="utf-8"))
        paths.append(target)
    return [os.fspath(path) for path in paths]


# ---------------------------------------------------------------------- limits


def _max_nodes(qmodel):
    return max(layer.n_out for layer in qmodel.layers)


def _max_layer_inputs(qmodel):
    return max(layer.n_in for layer in qmodel.layers)


def _check_limits(qmodel):
    for index, layer in enumerate(qmodel.layers):
        # A sparse layer walks its table with a pointer, so only dense rows are indexed with uint16.
        if not layer.is_sparse and layer.row_length > UINT16_LIMIT:
            raise CodegenError(
                f"model {qmodel.name}: layer {index} has {layer.row_length} samples per node "
                f"(sum of S_i + 1 over {layer.n_in} inputs); the C runtime indexes a row with uint16, "
                f"so at most {UINT16_LIMIT}. Use fewer segments or fewer inputs in that layer")
        if layer.n_out > UINT16_LIMIT:
            raise CodegenError(f"model {qmodel.name}: layer {index} has {layer.n_out} nodes; "
                               f"the C runtime allows at most {UINT16_LIMIT}")


def _check_float_parameters(qmodel):
    for field in ("input_scale", "output_scale"):
        values = np.asarray(getattr(qmodel, field), dtype=np.float64)
        as_float32 = values.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(as_float32) | (as_float32 == 0))
        if bad.size:
            raise CodegenError(
                f"model {qmodel.name}: {field}[{bad[0]}] = {values[bad[0]]!r} is not a normal float32, "
                "so the float wrapper cannot use it; pass float_wrapper=False and call "
                f"{qmodel.name}_predict_q")


# ---------------------------------------------------------------------- header


def _input_lines(qmodel):
    """Comment lines naming each input's feature column and its int16 format, when the model stores names."""
    names = qmodel.metadata.get("feature_names")
    if not names or len(names) != qmodel.n_inputs:
        return []
    lines = [" *", " * Inputs (x = x_q * scale + offset):"]
    for index, feature in enumerate(names):
        # Names come from a CSV header: keep comment terminators out of the C comment.
        safe = " ".join(str(feature).split()).replace("*/", "* /")
        lines.append(f" *   x_q[{index}] {safe}: scale {qmodel.input_scale[index]:.9g}, "
                     f"offset {qmodel.input_offset[index]:.9g}")
    return lines


def render_header(qmodel, float_wrapper=True):
    """Return the text of ``<name>.h``: the size macros and the predict prototypes."""
    name, upper = qmodel.name, qmodel.name.upper()
    sizes = model_sizes(qmodel)
    widths = "-".join(str(w) for w in qmodel.widths)
    float_guard = f"!defined(KANC_NO_FLOAT) && !defined({upper}_NO_FLOAT)"
    lines = [
        "/*",
        f" * {name}.h - kanc model \"{name}\" ({qmodel.task}, widths {widths}).",
        " * Generated by kanc from a quantized model; do not edit.",
        " *",
        f" * {name}_predict_q is the verified integer contract of the kanc fixed-point spec:",
        f" * x_q[{upper}_N_INPUTS] int16 inputs in, y_q[{upper}_N_OUTPUTS] int16 outputs out.",
        " * Real meaning: x = x_q * input_scale + input_offset and y = y_q * output_scale + output_offset.",
        " * Not reentrant: both predict functions use static RAM buffers.",
        *_input_lines(qmodel),
        " */",
        f"#ifndef {upper}_H",
        f"#define {upper}_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define {upper}_N_INPUTS {qmodel.n_inputs}",
        f"#define {upper}_N_OUTPUTS {qmodel.n_outputs}",
        f"#define {upper}_N_LAYERS {len(qmodel.layers)}",
        "",
        "/* Const data behind KANC_TABLE_ATTR (flash on AVR), in bytes. */",
        f"#define {upper}_TABLE_BYTES {sizes['table_bytes']}UL",
        f"#define {upper}_PARAM_BYTES {sizes['param_bytes']}UL",
        f"#define {upper}_INDEX_BYTES {sizes['index_bytes']}UL",
        "",
        "/* Static RAM buffers, in bytes (int32 accumulators plus 4-byte input coordinates). */",
        f"#define {upper}_RAM_BYTES {sizes['ram_bytes']}UL",
        "",
        "#ifdef __cplusplus",
        "extern \"C\" {",
        "#endif",
        "",
        f"void {name}_predict_q(const int16_t *x_q, int16_t *y_q);",
    ]
    if float_wrapper:
        lines += [
            "",
            f"#if {float_guard}",
            f"/* Quantizes x (real inputs), runs {name}_predict_q and dequantizes y (real outputs). */",
            f"void {name}_predict(const float *x, float *y);",
            "#endif",
        ]
    lines += [
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {upper}_H */",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- source


def render_source(qmodel, float_wrapper=True):
    """Return the text of ``<name>.c``: const tables and records, RAM buffers and the predict functions."""
    name, upper = qmodel.name, qmodel.name.upper()
    float_guard = f"!defined(KANC_NO_FLOAT) && !defined({upper}_NO_FLOAT)"
    lines = [
        f"/* {name}.c - kanc model \"{name}\". Generated by kanc from a quantized model; do not edit. */",
        f"#include \"{name}.h\"",
        "",
        "#include \"kanc_board.h\"",
        "#include \"kanc_layer.h\"",
        "#include \"kanc_model.h\"",
    ]
    if float_wrapper:
        lines += [f"#if {float_guard}", "#include \"kanc_float.h\"", "#endif"]
    lines.append("")
    if any(layer.is_sparse for layer in qmodel.layers):
        lines += [
            "#ifdef KANC_SPARSE_UNSUPPORTED",
            "#error \"this model has sparse layers, which need kanc_hal_edge_accumulate on a HAL that sets KANC_FRAC_T\"",
            "#endif",
            "",
        ]

    for index, layer in enumerate(qmodel.layers):
        lines += _layer_arrays(name, index, layer)
    lines += ["/* Output requantizers (spec 2.6): {z low, z high}, M, p, r, 0. */"]
    lines += _requant_array(f"{name}_outputs", qmodel.out_requant, np.zeros(qmodel.n_outputs, dtype=np.int64))
    lines += _buffers_and_checks(qmodel)
    lines += _predict_q(qmodel)
    if float_wrapper:
        lines += [f"#if {float_guard}"] + _predict_float(qmodel) + ["#endif", ""]
    return "\n".join(lines)


def _layer_arrays(name, index, layer):
    if layer.is_sparse:
        return _sparse_layer_arrays(name, index, layer)
    prefix = f"{name}_l{index}"
    lines = [
        f"/* Layer {index}: {layer.n_in} inputs -> {layer.n_out} nodes, W = {layer.row_length} samples per node. */",
        "",
        "/* Input requantizers (spec 2.2): {z low, z high}, M, p, r, S. */",
    ]
    lines += _requant_array(f"{prefix}_inputs", layer.in_requant, layer.segments)
    lines += [
        f"/* Samples T_ji[0..S_i], node-major: node j starts at j * {layer.row_length}. */",
        f"static const int16_t {prefix}_table[{len(layer.table)}] KANC_TABLE_ATTR = {{",
        c_int16_block(layer.table),
        "};",
        "",
    ]
    return lines + _bias_array(prefix, layer)


def _sparse_layer_arrays(name, index, layer):
    """Return the const arrays of a sparse layer (spec 2.7): requantizers, live-edge index, table, biases."""
    prefix = f"{name}_l{index}"
    live = layer.live_mask()
    counts = live.sum(axis=1)
    inputs = np.nonzero(live)[1]              # row-major: node by node, increasing i
    lines = [
        f"/* Layer {index} (sparse): {layer.n_in} inputs -> {layer.n_out} nodes, "
        f"{layer.n_live_edges} of {layer.n_in * layer.n_out} edges live. */",
        "",
        "/* Input requantizers (spec 2.2): {z low, z high}, M, p, r, S. */",
    ]
    lines += _requant_array(f"{prefix}_inputs", layer.in_requant, layer.segments)
    lines += [
        "/* Live edges per node (uint16 values in int16 words). */",
        f"static const int16_t {prefix}_live_counts[{layer.n_out}] KANC_TABLE_ATTR = {{",
        c_int16_block(uint16_words(counts)),
        "};",
        "",
    ]
    if len(inputs):
        lines += [
            "/* Input index i of every live edge, node by node (uint16 values in int16 words). */",
            f"static const int16_t {prefix}_live_inputs[{len(inputs)}] KANC_TABLE_ATTR = {{",
            c_int16_block(uint16_words(inputs)),
            "};",
            "",
            "/* Samples T_ji[0..S_i] of the live edges, node-major, increasing i within a node. */",
            f"static const int16_t {prefix}_table[{len(layer.table)}] KANC_TABLE_ATTR = {{",
            c_int16_block(layer.table),
            "};",
            "",
        ]
    return lines + _bias_array(prefix, layer)


def _bias_array(prefix, layer):
    lines = [
        "/* Node biases B_j (accumulator units): {low word, high word}. */",
        f"static const kanc_bias_t {prefix}_bias[{layer.n_out}] KANC_TABLE_ATTR = {{",
    ]
    for value in np.asarray(layer.bias, dtype=np.int64):
        low, high = split_int32(int(value))
        lines.append(f"    {{{{{low}, {high}}}}},  /* {int(value)} */")
    lines += ["};", ""]
    return lines


def uint16_words(values):
    """Return uint16 values (0..65535) as the int16 words with the same bits, for an int16_t initializer."""
    values = np.asarray(values, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() > UINT16_LIMIT):
        raise ValueError(f"index value {values.max() if values.max() > UINT16_LIMIT else values.min()} "
                         "does not fit in uint16")
    return np.where(values > 32767, values - 65536, values)


def _requant_array(symbol, requant, segments):
    lines = [f"static const kanc_requant_t {symbol}[{len(requant)}] KANC_TABLE_ATTR = {{"]
    for k in range(len(requant)):
        low, high = split_int32(int(requant.offset[k]))
        lines.append(f"    {{{{{low}, {high}}}, {int(requant.multiplier[k])}, {int(requant.pre_shift[k])}, "
                     f"{int(requant.shift[k])}, {int(segments[k])}}},  /* z = {int(requant.offset[k])} */")
    lines += ["};", ""]
    return lines


def _buffers_and_checks(qmodel):
    name, upper = qmodel.name, qmodel.name.upper()
    n_layers = len(qmodel.layers)
    table_sum = " + ".join([f"sizeof({name}_l{index}_table)" for index, layer in enumerate(qmodel.layers)
                            if len(layer.table)] or ["0"])
    index_terms = []
    for index, layer in enumerate(qmodel.layers):
        if layer.is_sparse:
            index_terms.append(f"sizeof({name}_l{index}_live_counts)")
            if layer.n_live_edges:
                index_terms.append(f"sizeof({name}_l{index}_live_inputs)")
    index_sum = " + ".join(index_terms or ["0"])
    param_sum = " + ".join(
        [f"sizeof({name}_l{index}_inputs) + sizeof({name}_l{index}_bias)" for index in range(n_layers)]
        + [f"sizeof({name}_outputs)"])
    return [
        "/* Work buffers, sized for the widest layer: accumulators of one layer's nodes, coordinates of one layer's inputs. */",
        f"static int32_t {name}_acc[{_max_nodes(qmodel)}];",
        f"static kanc_coord_t {name}_coords[{_max_layer_inputs(qmodel)}];",
        "",
        "/* Compile-time checks that the size macros in the header match the arrays (the size is -1 otherwise). */",
        f"typedef char {name}_check_table_bytes[(({table_sum}) == {upper}_TABLE_BYTES) ? 1 : -1];",
        f"typedef char {name}_check_param_bytes[(({param_sum}) == {upper}_PARAM_BYTES) ? 1 : -1];",
        f"typedef char {name}_check_index_bytes[(({index_sum}) == {upper}_INDEX_BYTES) ? 1 : -1];",
        "#ifndef KANC_FRAC_T",
        f"typedef char {name}_check_ram_bytes[((sizeof({name}_acc) + sizeof({name}_coords)) == {upper}_RAM_BYTES) ? 1 : -1];",
        "#endif",
        "",
    ]


def _predict_q(qmodel):
    name = qmodel.name
    lines = [f"void {name}_predict_q(const int16_t *x_q, int16_t *y_q)", "{"]
    for index, layer in enumerate(qmodel.layers):
        prefix = f"{name}_l{index}"
        if layer.is_sparse:
            lines += _predict_sparse_layer(name, index, layer)
            continue
        if index == 0:
            coords = f"kanc_coords_from_inputs(x_q, {layer.n_in}u, {prefix}_inputs, {name}_coords);"
        else:
            coords = f"kanc_coords_from_accumulators({name}_acc, {layer.n_in}u, {prefix}_inputs, {name}_coords);"
        lines += [
            f"    /* Layer {index}: requantize its inputs to coordinates, then accumulate {layer.n_out} nodes. */",
            f"    {coords}",
            f"    kanc_layer_accumulate({name}_coords, {layer.n_in}u, {layer.n_out}u, {layer.row_length}u,",
            f"                          {prefix}_table, {prefix}_bias, {name}_acc);",
            "",
        ]
    lines += [
        "    /* Model outputs: requantize the last accumulators to int16. */",
        f"    kanc_outputs_from_accumulators({name}_acc, {qmodel.n_outputs}u, {name}_outputs, y_q);",
        "}",
        "",
    ]
    return lines


def _predict_sparse_layer(name, index, layer):
    prefix = f"{name}_l{index}"
    if index == 0:
        coords = f"kanc_sparse_coords_from_inputs(x_q, {layer.n_in}u, {prefix}_inputs, {name}_coords);"
    else:
        coords = f"kanc_sparse_coords_from_accumulators({name}_acc, {layer.n_in}u, {prefix}_inputs, {name}_coords);"
    # A layer without any live edge emits no table and no live_inputs array.
    table = f"{prefix}_table" if layer.n_live_edges else "(const int16_t *)0"
    live_inputs = f"{prefix}_live_inputs" if layer.n_live_edges else "(const int16_t *)0"
    return [
        f"    /* Layer {index} (sparse): requantize its inputs, then accumulate the live edges of {layer.n_out} nodes. */",
        f"    {coords}",
        f"    kanc_sparse_layer_accumulate({name}_coords, {layer.n_out}u, {prefix}_inputs, {table},",
        f"                                 {prefix}_live_counts, {live_inputs}, {prefix}_bias, {name}_acc);",
        "",
    ]


def _predict_float(qmodel):
    name, upper = qmodel.name, qmodel.name.upper()
    lines = [
        f"void {name}_predict(const float *x, float *y)",
        "{",
        f"    int16_t x_q[{upper}_N_INPUTS];",
        f"    int16_t y_q[{upper}_N_OUTPUTS];",
        "",
        "    /* Quantize: x_q = sat(floor((x - offset) / scale + 0.5)), in float. */",
    ]
    for i in range(qmodel.n_inputs):
        lines.append(f"    x_q[{i}] = kanc_quantize_input(x[{i}], {c_float_literal(qmodel.input_offset[i])}, "
                     f"{c_float_literal(qmodel.input_scale[i])});")
    lines += ["", f"    {name}_predict_q(x_q, y_q);", "", "    /* Dequantize: y = y_q * scale + offset. */"]
    for j in range(qmodel.n_outputs):
        lines.append(f"    y[{j}] = kanc_dequantize_output(y_q[{j}], {c_float_literal(qmodel.output_scale[j])}, "
                     f"{c_float_literal(qmodel.output_offset[j])});")
    lines += ["}"]
    return lines
