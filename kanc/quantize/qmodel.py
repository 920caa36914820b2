"""The quantized model: integer tables and requantizers as defined in docs/fixed_point_spec.md.

A QuantizedModel is what the simulator runs, the C generator emits and the model
file stores. Everything the device computes is in its integer arrays; the float
arrays (scales, offsets, domains) only give the integers a real meaning.
"""
import dataclasses
import re

import numpy as np

from kanc.errors import ModelFileError
from kanc.io.npzfile import read_model_file, require_array, write_model_file

FRAC_BITS = 8
"""F in the spec: fraction bits of a table coordinate."""

MAX_SEGMENTS = 256
"""Largest segment count of one layer input, so that u = s * 2^F + f fits in uint16."""

FORMAT = "kanc-quant"
VERSION = 1

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MAX = (1 << 31) - 1
OFFSET_LIMIT = 1 << 30

_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")


@dataclasses.dataclass
class Requantizer:
    """Per-value requantizer parameters (spec section 2.2), one entry per layer input or model output.

    Arrays of equal length: ``pre_shift`` p, ``multiplier`` M, ``shift`` r (all int32
    arrays holding small values) and ``offset`` z (int32).
    """

    pre_shift: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    offset: np.ndarray

    def __len__(self):
        return len(self.multiplier)

    def as_dict(self, prefix):
        return {f"{prefix}pre_shift": self.pre_shift, f"{prefix}multiplier": self.multiplier,
                f"{prefix}shift": self.shift, f"{prefix}offset": self.offset}


@dataclasses.dataclass
class QuantizedLayer:
    """One layer: per-input segment counts, domains and requantizers, node-major tables, biases.

    A layer is dense (``edge_mask`` None, every edge has samples) or sparse (spec
    section 2.7): masked-out edges have no samples and contribute nothing to acc_j.

    Attributes
    ----------
    segments : int32 array (n_in,)
        S_i, segment count of each input, in [1, 256].
    in_requant : Requantizer of length n_in
        Maps the previous layer's accumulator (or the model input) to u.
    domain_lo, domain_hi : float64 arrays (n_in,)
        Real values that u = 0 and u = S_i * 256 stand for.
    table : int16 array (sum of W_j,)
        Samples T_ji[0..S_i] of the live edges, node-major (spec sections 2.5 and 2.7).
    bias : int32 array (n_out,)
        B_j in accumulator units (table steps * 2^F).
    table_scale : float64 array (n_out,)
        Real value of one table step of node j.
    edge_mask : bool array (n_out, n_in) or None
        True for a live edge. None means dense: every edge is live.
    acc_offset : float64 array (n_out,)
        Real value added to each node's output: node j stands for
        acc_j * table_scale[j] / 2^F + acc_offset[j]. The integer path never uses
        it; the quantizer folds it into the next requantizer's offset z. None
        (the default) means zeros, the meaning of files written before this field.
    """

    segments: np.ndarray
    in_requant: Requantizer
    domain_lo: np.ndarray
    domain_hi: np.ndarray
    table: np.ndarray
    bias: np.ndarray
    table_scale: np.ndarray
    edge_mask: np.ndarray = None
    acc_offset: np.ndarray = None

    def __post_init__(self):
        if self.acc_offset is None:
            self.acc_offset = np.zeros(len(self.bias), dtype=np.float64)

    @property
    def n_in(self):
        return len(self.segments)

    @property
    def n_out(self):
        return len(self.bias)

    @property
    def is_sparse(self):
        """True when ``edge_mask`` marks at least one edge as pruned."""
        return self.edge_mask is not None and not bool(np.all(self.edge_mask))

    def live_mask(self):
        """Return the (n_out, n_in) bool array of live edges (all True for a dense layer)."""
        if self.edge_mask is None:
            return np.ones((self.n_out, self.n_in), dtype=bool)
        return np.asarray(self.edge_mask, dtype=bool)

    @property
    def n_live_edges(self):
        """Number of edges that have samples in the table."""
        return int(self.live_mask().sum())

    @property
    def row_length(self):
        """W in the spec: samples per node of a dense layer, sum of (S_i + 1) over all inputs.

        A sparse layer's rows differ per node; see ``row_lengths``.
        """
        return int(np.sum(self.segments.astype(np.int64) + 1))

    def row_lengths(self):
        """Return W_j per node (int64, n_out): the sum of S_i + 1 over the live edges of node j."""
        return self.live_mask().astype(np.int64) @ (self.segments.astype(np.int64) + 1)

    def edge_starts(self):
        """Return an (n_out, n_in) int64 array of E(j, i), the first sample index of each edge.

        Pruned edges of a sparse layer have no samples and get -1.
        """
        mask = self.live_mask()
        samples = mask.astype(np.int64) * (self.segments.astype(np.int64) + 1)[None, :]
        row_ends = np.cumsum(samples.sum(axis=1))
        row_starts = row_ends - samples.sum(axis=1)
        within_row = np.cumsum(samples, axis=1) - samples
        return np.where(mask, row_starts[:, None] + within_row, -1)

    def edge_table(self, j, i):
        """Return the S_i + 1 samples of edge (j, i) as a view; raise ValueError for a pruned edge."""
        start = self.edge_starts()[j, i]
        if start < 0:
            raise ValueError(f"edge (node {j}, input {i}) is pruned in this sparse layer and has no samples")
        return self.table[start:start + int(self.segments[i]) + 1]

    def coordinate_max(self):
        """Return U_i = S_i * 2^F - 1 for every input (int64 array)."""
        return self.segments.astype(np.int64) * (1 << FRAC_BITS) - 1


@dataclasses.dataclass
class QuantizedModel:
    """A whole quantized KAN plus the real-valued meaning of its inputs and outputs.

    ``task`` is "regression" or "classification"; ``metadata`` is a JSON-serialisable
    dict for reports (error bounds, calibration statistics, source model).
    """

    name: str
    task: str
    input_scale: np.ndarray
    input_offset: np.ndarray
    layers: list
    out_requant: Requantizer
    output_scale: np.ndarray
    output_offset: np.ndarray
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def widths(self):
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_inputs(self):
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        return self.layers[-1].n_out

    @property
    def n_edges(self):
        """Number of live edges, the ones that have samples and cost work on the device."""
        return sum(layer.n_live_edges for layer in self.layers)

    # ------------------------------------------------------------------ validation

    def validate(self, source="model"):
        """Check every rule of spec section 4; raise ModelFileError naming the field and value."""
        def fail(message):
            raise ModelFileError(f"{source}: {message}")

        if not _C_IDENTIFIER.match(self.name or ""):
            fail(f"name {self.name!r} is not a C identifier of at most 40 characters "
                 "(letters, digits, '_', not starting with a digit)")
        if self.name.lower().startswith("kanc_"):
            fail(f"name {self.name!r} starts with 'kanc_', which the runtime headers use (kanc_layer.h, ...); "
                 "choose another name")
        if self.task not in ("regression", "classification"):
            fail(f"task {self.task!r} must be 'regression' or 'classification'")
        if not self.layers:
            fail("model has no layers")

        n_in = self.n_inputs
        _check_real(fail, "input_scale", self.input_scale, n_in, positive=True)
        _check_real(fail, "input_offset", self.input_offset, n_in)

        for index, layer in enumerate(self.layers):
            where = f"layer {index}"
            if layer.n_in != n_in:
                fail(f"{where} has {layer.n_in} inputs but the previous layer has {n_in} outputs")
            segments = np.asarray(layer.segments)
            if segments.dtype.kind not in "iu" or segments.ndim != 1 or len(segments) == 0:
                fail(f"{where}: segments must be a non-empty 1-D integer array")
            bad = np.flatnonzero((segments < 1) | (segments > MAX_SEGMENTS))
            if bad.size:
                fail(f"{where}: input {bad[0]} has {segments[bad[0]]} segments; allowed range is 1..{MAX_SEGMENTS}")
            _check_requantizer(fail, f"{where} input requantizer", layer.in_requant, layer.n_in,
                               first_layer=(index == 0))
            _check_real(fail, f"{where} domain_lo", layer.domain_lo, layer.n_in)
            _check_real(fail, f"{where} domain_hi", layer.domain_hi, layer.n_in)
            if np.any(layer.domain_lo >= layer.domain_hi):
                i = int(np.flatnonzero(layer.domain_lo >= layer.domain_hi)[0])
                fail(f"{where}: input {i} has empty domain [{layer.domain_lo[i]}, {layer.domain_hi[i]}]")

            bias = np.asarray(layer.bias)
            if bias.dtype != np.int32 or bias.ndim != 1 or len(bias) == 0:
                fail(f"{where}: bias must be a non-empty 1-D int32 array")
            _check_real(fail, f"{where} table_scale", layer.table_scale, layer.n_out, positive=True)
            _check_real(fail, f"{where} acc_offset", layer.acc_offset, layer.n_out)

            _check_edge_mask(fail, where, layer)
            table = np.asarray(layer.table)
            expected = int(layer.row_lengths().sum())
            if table.dtype != np.int16 or table.ndim != 1 or len(table) != expected:
                fail(f"{where}: table must be a 1-D int16 array of {expected} samples "
                     f"(S_i + 1 per live edge), got {table.dtype} shape {table.shape}")
            _check_tables(fail, where, layer)
            n_in = layer.n_out

        _check_requantizer(fail, "output requantizer", self.out_requant, self.n_outputs, first_layer=False)
        _check_real(fail, "output_scale", self.output_scale, self.n_outputs, positive=True)
        _check_real(fail, "output_offset", self.output_offset, self.n_outputs)
        return self

    # ------------------------------------------------------------------ file format

    def save(self, path):
        """Write the model to ``path`` (format kanc-quant version 1) atomically, after validating it."""
        self.validate()
        header = {"format": FORMAT, "version": VERSION, "name": self.name, "task": self.task,
                  "frac_bits": FRAC_BITS, "n_layers": len(self.layers), "metadata": self.metadata}
        arrays = {"input_scale": self.input_scale, "input_offset": self.input_offset,
                  "output_scale": self.output_scale, "output_offset": self.output_offset}
        arrays.update(self.out_requant.as_dict("out_requant/"))
        for index, layer in enumerate(self.layers):
            prefix = f"layer{index}/"
            arrays.update(layer.in_requant.as_dict(prefix + "in_requant/"))
            for field in ("segments", "domain_lo", "domain_hi", "table", "bias", "table_scale", "acc_offset"):
                arrays[prefix + field] = getattr(layer, field)
            # Dense layers store no mask, so files of dense models read the same as before sparse layers existed.
            if layer.is_sparse:
                arrays[prefix + "edge_mask"] = layer.live_mask().astype(np.uint8)
        write_model_file(path, header, arrays)

    @classmethod
    def load(cls, path):
        """Read and validate a kanc-quant model file; raise ModelFileError on any problem."""
        header, arrays = read_model_file(path, FORMAT, {VERSION})
        if header.get("frac_bits") != FRAC_BITS:
            raise ModelFileError(f"model file {path} uses {header.get('frac_bits')!r} fraction bits; "
                                 f"this kanc implements {FRAC_BITS}")
        n_layers = header.get("n_layers")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ModelFileError(f"model file {path}: header field n_layers={n_layers!r} must be a positive integer")

        def array(name, kind, ndim=1):
            return require_array(arrays, name, path, kind, ndim)

        def requantizer(prefix):
            return Requantizer(*(array(prefix + field, "iu").astype(np.int64)
                                 for field in ("pre_shift", "multiplier", "shift", "offset")))

        layers = []
        for index in range(n_layers):
            prefix = f"layer{index}/"
            layers.append(QuantizedLayer(
                segments=array(prefix + "segments", "iu").astype(np.int64),
                in_requant=requantizer(prefix + "in_requant/"),
                domain_lo=array(prefix + "domain_lo", "f").astype(np.float64),
                domain_hi=array(prefix + "domain_hi", "f").astype(np.float64),
                table=array(prefix + "table", "i"),
                bias=array(prefix + "bias", "i"),
                table_scale=array(prefix + "table_scale", "f").astype(np.float64),
                edge_mask=_read_edge_mask(arrays, prefix + "edge_mask", path),
                acc_offset=_read_acc_offset(arrays, prefix + "acc_offset", path),
            ))
        metadata = header.get("metadata", {})
        model = cls(
            name=header.get("name"), task=header.get("task"),
            input_scale=array("input_scale", "f").astype(np.float64),
            input_offset=array("input_offset", "f").astype(np.float64),
            layers=layers, out_requant=requantizer("out_requant/"),
            output_scale=array("output_scale", "f").astype(np.float64),
            output_offset=array("output_offset", "f").astype(np.float64),
            metadata=metadata if isinstance(metadata, dict) else {},
        )
        return model.validate(source=f"model file {path}")

    # ------------------------------------------------------------------ real-value conversion

    def quantize_inputs(self, x):
        """Convert real inputs (N, n_inputs) to int16 x_q by spec section 2.1 (float64, round half up)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected inputs of shape (N, {self.n_inputs}), got {x.shape}")
        if np.isnan(x).any():
            row, col = np.argwhere(np.isnan(x))[0]
            raise ValueError(f"input row {row}, feature {col} is NaN; remove or impute it before inference")
        scaled = np.floor((x - self.input_offset) / self.input_scale + 0.5)
        return np.clip(scaled, INT16_MIN, INT16_MAX).astype(np.int16)

    def dequantize_outputs(self, y_q):
        """Convert int16 outputs (N, n_outputs) to real values."""
        return np.asarray(y_q, dtype=np.float64) * self.output_scale + self.output_offset


def _check_real(fail, name, values, length, positive=False):
    values = np.asarray(values)
    if values.dtype.kind != "f" or values.shape != (length,):
        fail(f"{name} must be a float array of length {length}, got {values.dtype} shape {values.shape}")
    if not np.all(np.isfinite(values)):
        fail(f"{name} contains NaN or infinite values")
    if positive and np.any(values <= 0):
        fail(f"{name} must be positive, found {values[values <= 0][0]}")


def _check_requantizer(fail, where, requant, length, first_layer):
    limits = {"pre_shift": (0, 31), "multiplier": (0, INT16_MAX), "shift": (0, 31),
              "offset": (-OFFSET_LIMIT, OFFSET_LIMIT)}
    for field, (low, high) in limits.items():
        values = np.asarray(getattr(requant, field))
        if values.dtype.kind not in "iu" or values.shape != (length,):
            fail(f"{where}: {field} must be an integer array of length {length}, "
                 f"got {values.dtype} shape {values.shape}")
        bad = np.flatnonzero((values < low) | (values > high))
        if bad.size:
            fail(f"{where}: {field}[{bad[0]}] = {values[bad[0]]} is outside [{low}, {high}]")
    if first_layer and np.any(np.asarray(requant.pre_shift) != 0):
        fail(f"{where}: layer-0 requantizers must have pre_shift 0 (inputs are already int16)")


def _read_edge_mask(arrays, name, path):
    """Return the bool edge mask stored under ``name``, or None (a dense layer) when it is absent."""
    if name not in arrays:
        return None
    stored = require_array(arrays, name, path, "iub", 2)
    if stored.size and (stored.min() < 0 or stored.max() > 1):
        raise ModelFileError(f"model file {path}: array '{name}' must contain only 0 (pruned) and 1 (live), "
                             f"found {stored.min() if stored.min() < 0 else stored.max()}")
    return stored.astype(bool)


def _read_acc_offset(arrays, name, path):
    """Return the float64 acc_offset stored under ``name``, or None (zeros) for files written without it."""
    if name not in arrays:
        return None
    return require_array(arrays, name, path, "f", 1).astype(np.float64)


def _check_edge_mask(fail, where, layer):
    if layer.edge_mask is None:
        return
    mask = np.asarray(layer.edge_mask)
    if mask.dtype != np.bool_ or mask.shape != (layer.n_out, layer.n_in):
        fail(f"{where}: edge_mask must be a bool array of shape (n_out, n_in) = ({layer.n_out}, {layer.n_in}), "
             f"got {mask.dtype} shape {mask.shape}; pass None for a dense layer")


def live_edge_samples(layer, i):
    """Return (nodes, samples): the nodes j whose edge (j, i) is live, and their (len(nodes), S_i + 1) int64 samples."""
    starts = layer.edge_starts()[:, i]
    nodes = np.flatnonzero(starts >= 0)
    count = int(layer.segments[i]) + 1
    samples = layer.table.astype(np.int64)[starts[nodes, None] + np.arange(count)[None, :]]
    return nodes, samples


def _check_tables(fail, where, layer):
    for i in range(layer.n_in):
        # Samples of every live edge leaving input i.
        nodes, samples = live_edge_samples(layer, i)
        slopes = np.diff(samples, axis=1)
        bad = np.argwhere((slopes < INT16_MIN) | (slopes > INT16_MAX))
        if bad.size:
            row, s = bad[0]
            fail(f"{where}: edge (node {nodes[row]}, input {i}) breaks the slope invariant: "
                 f"T[{s + 1}] - T[{s}] = {slopes[row, s]} does not fit in int16")
    bound = accumulator_bounds(layer)
    bad = np.flatnonzero(bound > INT32_MAX)
    if bad.size:
        fail(f"{where}: node {bad[0]} breaks the accumulator invariant: |bias| + sum of 256 * max|T| = "
             f"{bound[bad[0]]} exceeds 2^31 - 1")


def accumulator_bounds(layer):
    """Return, per node, |B_j| + sum over live i of 2^F * max_s |T_ji[s]| (int64): the proven |acc_j| bound."""
    bound = np.abs(layer.bias.astype(np.int64))
    for i in range(layer.n_in):
        nodes, samples = live_edge_samples(layer, i)
        bound[nodes] += np.abs(samples).max(axis=1) << FRAC_BITS
    return bound
