# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fast integer simulator of docs/fixed_point_spec.md (module ``kanc._sim``).

This is an implementation of the spec written independently of the C runtime in
runtime_c/. All arithmetic is on C ``int32_t`` with the shifts, products and sums
the spec names, so results are bit-exact with any other conforming implementation.
The kernel runs without the GIL on one thread.

The model is packed once into flat arrays (``PackedModel``), all layers
concatenated, so the batch loop touches no Python object. For each sample and
layer the kernel requantizes every layer input once into (segment, fraction).
Then one of two accumulation paths runs, both giving the same integers:

- SSE2 (default on x86-64): a pair-block copy of the tables, so one 16-byte load
  and one pmaddwd give the edge terms of four nodes;
- scalar: walks the node-major table of the spec four nodes at a time, with four
  accumulators in registers sharing each (offset, fraction) load.

Sparse layers (spec section 2.7) always take a third, scalar path that visits
only the live edges of each node, whatever ``simd`` says: their rows differ in
length, so the four-node blocks of the other two paths do not apply.

Signed right shift of a negative int32 must be arithmetic (floor). C leaves it
implementation-defined, so the C block below fails to compile where
``-3 >> 1 != -2``.
"""
from libc.stdint cimport int16_t, int32_t, int64_t
from libc.stdlib cimport free, malloc

cdef extern from *:
    """
    /* Edge terms of four nodes at once from the pair-block layout (see PackedModel).
     * block + offset[i] points at 8 int16: (T_j[s], T_j[s + 1]) for the block's four
     * nodes j. weight[i] packs (2^F - f) in its low and f in its high 16 bits, so
     * _mm_madd_epi16 yields T[s] * (2^F - f) + T[s + 1] * f per node, the spec's
     * second form of e, exactly: each product is below 2^23 in magnitude and
     * pmaddwd adds the two products in 32 bits without saturation. */
    typedef char kanc_sim_requires_arithmetic_right_shift[((-3) >> 1) == -2 ? 1 : -1];

    #if defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #define KANC_SIM_HAVE_SSE2 1
    static inline void kanc_sim_pair_blocks(const int16_t *block0, long long block_stride,
                                            const int32_t *offset, const int32_t *weight,
                                            int32_t n_in, int32_t *acc0, int32_t *acc1)
    {
        const int16_t *block1 = block0 + block_stride;
        __m128i sum0 = _mm_loadu_si128((const __m128i *) acc0);
        __m128i sum1 = _mm_loadu_si128((const __m128i *) acc1);
        for (int32_t i = 0; i < n_in; ++i) {
            __m128i w = _mm_set1_epi32(weight[i]);
            __m128i pairs0 = _mm_loadu_si128((const __m128i *) (block0 + offset[i]));
            __m128i pairs1 = _mm_loadu_si128((const __m128i *) (block1 + offset[i]));
            sum0 = _mm_add_epi32(sum0, _mm_madd_epi16(pairs0, w));
            sum1 = _mm_add_epi32(sum1, _mm_madd_epi16(pairs1, w));
        }
        _mm_storeu_si128((__m128i *) acc0, sum0);
        _mm_storeu_si128((__m128i *) acc1, sum1);
    }
    static inline void kanc_sim_pair_block(const int16_t *block, const int32_t *offset,
                                           const int32_t *weight, int32_t n_in, int32_t *acc)
    {
        __m128i sum = _mm_loadu_si128((const __m128i *) acc);
        for (int32_t i = 0; i < n_in; ++i) {
            __m128i pairs = _mm_loadu_si128((const __m128i *) (block + offset[i]));
            sum = _mm_add_epi32(sum, _mm_madd_epi16(pairs, _mm_set1_epi32(weight[i])));
        }
        _mm_storeu_si128((__m128i *) acc, sum);
    }
    #else
    /* Without SSE2 the pair-block path is never called (run() checks
     * KANC_SIM_HAVE_SSE2); these stubs only keep the module compiling.
     * NOTE: other hosts (aarch64) therefore run the scalar path, which measured
     * 2 to 3 times slower on x86-64; a NEON pair-block kernel would close the gap. */
    #define KANC_SIM_HAVE_SSE2 0
    static inline void kanc_sim_pair_blocks(const int16_t *block0, long long block_stride,
                                            const int32_t *offset, const int32_t *weight,
                                            int32_t n_in, int32_t *acc0, int32_t *acc1) {}
    static inline void kanc_sim_pair_block(const int16_t *block, const int32_t *offset,
                                           const int32_t *weight, int32_t n_in, int32_t *acc) {}
    #endif
    """
    int KANC_SIM_HAVE_SSE2
    void kanc_sim_pair_blocks(const int16_t* block0, long long block_stride, const int32_t* offset,
                              const int32_t* weight, int32_t n_in, int32_t* acc0, int32_t* acc1) noexcept nogil
    void kanc_sim_pair_block(const int16_t* block, const int32_t* offset, const int32_t* weight,
                             int32_t n_in, int32_t* acc) noexcept nogil

HAVE_SSE2 = bool(KANC_SIM_HAVE_SSE2)
"""True when the module was compiled with the SSE2 pair-block kernel."""

import numpy as np

cdef enum:
    FRAC_BITS = 8
    FRAC_MASK = 255
    FRAC_ONE = 256     # 2^F; multiply by it because left-shifting a negative int is undefined in C
    NODE_BLOCK = 4


cdef inline int32_t _rshift_round(int32_t a, int32_t n) noexcept nogil:
    """Round-half-up a / 2^n by two arithmetic shifts (spec section 1), for 0 <= n <= 31."""
    if n == 0:
        return a
    return (a >> n) + ((a >> (n - 1)) & 1)


def rshift_round(int32_t a, int32_t n):
    """Return rshift_round(a, n) of spec section 1 computed in C int32 (for tests)."""
    if n < 0 or n > 31:
        raise ValueError(f"shift n = {n} is outside [0, 31]")
    return _rshift_round(a, n)


cdef inline int32_t _saturate(int32_t v, int32_t lo, int32_t hi, int* clamped) noexcept nogil:
    """Return sat(v, lo, hi) and set clamped[0] to 1 when it changes v.

    Written without branches (the compiler emits conditional moves) because
    whether a value clamps varies from sample to sample and mispredicts.
    """
    clamped[0] |= (v < lo) | (v > hi)
    v = lo if v < lo else v
    return hi if v > hi else v


cdef inline int32_t _requantize(int32_t a, int32_t p, int32_t M, int32_t r, int32_t z,
                                int* clamped) noexcept nogil:
    """Run requantizer steps 1 to 4 (spec section 2.2) and return v; set clamped[0] on a step-1 saturation."""
    cdef int32_t t, m

    # Step 1: rounding pre-shift, then saturate to int16.
    t = _saturate(_rshift_round(a, p), -32768, 32767, clamped)

    # Step 2: 16 x 16 -> 32-bit multiply; |t * M| < 2^30.
    m = t * M

    # Step 3: rounding shift.
    m = _rshift_round(m, r)

    # Step 4: offset; |m| + |z| < 2^31, so the sum fits in int32.
    return m + z


cdef struct LayerView:
    int32_t n_in
    int32_t n_out
    int64_t row_length          # W: samples per node row
    const int16_t* table        # n_out * W samples, node-major (spec section 2.5)
    const int32_t* bias         # n_out
    const int32_t* edge_start   # n_in: E(0, i), start of edge (0, i) within a node row
    const int32_t* coord_max    # n_in: U_i = S_i * 2^F - 1
    const int32_t* pre_shift    # n_in requantizer parameters p, M, r, z
    const int32_t* multiplier
    const int32_t* shift
    const int32_t* offset
    int64_t* clamp_count        # n_in: clamped-input counters of this layer
    int32_t n_blocks            # pair-block layout: ceil(n_out / 4) blocks of four nodes
    int64_t block_length        # int16 entries per block, 8 * sum of S_i
    const int16_t* pair_table   # n_blocks * block_length entries
    const int32_t* pair_start   # n_in: start of input i within a block, 8 * sum over i' < i of S_i'
    bint sparse                 # spec 2.7: only the three arrays below describe the edges
    const int64_t* node_edges   # n_out + 1: live edges of node j are entries node_edges[j] .. node_edges[j + 1] - 1
    const int32_t* live_input   # per live edge: its input i
    const int64_t* live_start   # per live edge: E(j, i), its first sample in the layer's table


cdef void _layer_coordinates(const LayerView* layer, const int32_t* a,
                             int32_t* segment, int32_t* fraction) noexcept nogil:
    """Requantize each layer input to u (spec 2.2) and split it into segment and fraction (2.3)."""
    cdef int32_t i, v
    cdef int clamped

    for i in range(layer.n_in):
        # Steps 1 to 4.
        clamped = 0
        v = _requantize(a[i], layer.pre_shift[i], layer.multiplier[i], layer.shift[i],
                        layer.offset[i], &clamped)

        # Step 5: saturate to the table coordinate range [0, U_i].
        v = _saturate(v, 0, layer.coord_max[i], &clamped)
        layer.clamp_count[i] += clamped

        # 2.3: s = u >> F, f = u & (2^F - 1).
        segment[i] = v >> FRAC_BITS
        fraction[i] = v & FRAC_MASK


cdef void _accumulate_node_major(const LayerView* layer, const int32_t* segment,
                                 const int32_t* fraction, int32_t* offset, int32_t* acc) noexcept nogil:
    """Compute acc_j = B_j + sum_i e_ji (spec 2.4) by walking the node-major table, four nodes per pass.

    ``offset`` is scratch for n_in values. The accumulator invariant bounds every
    partial sum, so no int32 addition overflows.
    """
    cdef int32_t i, j, o, f, lo, n_in = layer.n_in, n_out = layer.n_out
    cdef int32_t acc0, acc1, acc2, acc3
    cdef const int16_t* row0
    cdef const int16_t* row1
    cdef const int16_t* row2
    cdef const int16_t* row3
    cdef int64_t W = layer.row_length

    # Index of T_0i[s_i] within a node row; every row j uses the same index.
    for i in range(n_in):
        offset[i] = layer.edge_start[i] + segment[i]

    # e = T[s] * 2^F + (T[s + 1] - T[s]) * f, the spec's first form.
    j = 0
    while j + NODE_BLOCK <= n_out:
        row0 = layer.table + j * W
        row1 = row0 + W
        row2 = row1 + W
        row3 = row2 + W
        acc0 = layer.bias[j]
        acc1 = layer.bias[j + 1]
        acc2 = layer.bias[j + 2]
        acc3 = layer.bias[j + 3]
        for i in range(n_in):
            o = offset[i]
            f = fraction[i]
            lo = row0[o]
            acc0 += lo * FRAC_ONE + (row0[o + 1] - lo) * f
            lo = row1[o]
            acc1 += lo * FRAC_ONE + (row1[o + 1] - lo) * f
            lo = row2[o]
            acc2 += lo * FRAC_ONE + (row2[o + 1] - lo) * f
            lo = row3[o]
            acc3 += lo * FRAC_ONE + (row3[o + 1] - lo) * f
        acc[j] = acc0
        acc[j + 1] = acc1
        acc[j + 2] = acc2
        acc[j + 3] = acc3
        j += NODE_BLOCK

    # Remaining nodes one at a time.
    while j < n_out:
        row0 = layer.table + j * W
        acc0 = layer.bias[j]
        for i in range(n_in):
            o = offset[i]
            lo = row0[o]
            acc0 += lo * FRAC_ONE + (row0[o + 1] - lo) * fraction[i]
        acc[j] = acc0
        j += 1


cdef void _accumulate_sparse(const LayerView* layer, const int32_t* segment,
                             const int32_t* fraction, int32_t* acc) noexcept nogil:
    """Compute acc_j = B_j + sum over live i of e_ji (spec 2.7), one node at a time over its live edges."""
    cdef int32_t i, j, f, lo, acc0
    cdef int64_t k, o

    for j in range(layer.n_out):
        acc0 = layer.bias[j]
        for k in range(layer.node_edges[j], layer.node_edges[j + 1]):
            i = layer.live_input[k]
            o = layer.live_start[k] + segment[i]
            f = fraction[i]
            lo = layer.table[o]
            acc0 += lo * FRAC_ONE + (layer.table[o + 1] - lo) * f
        acc[j] = acc0


cdef void _accumulate_pair_blocks(const LayerView* layer, const int32_t* segment,
                                  const int32_t* fraction, int32_t* offset, int32_t* weight,
                                  int32_t* acc) noexcept nogil:
    """Compute the same accumulators as _accumulate_node_major from the pair-block layout (SSE2).

    ``acc`` must have room for 4 * n_blocks values; the padding nodes past n_out
    have all-zero tables and bias and are ignored by the caller.
    """
    cdef int32_t i, b, n_in = layer.n_in, n_blocks = layer.n_blocks
    cdef int64_t stride = layer.block_length

    # Per input: where its segment's pairs start within a block, and the weight pair
    # (2^F - f, f) packed as two int16 in one int32 for pmaddwd.
    for i in range(n_in):
        offset[i] = layer.pair_start[i] + 8 * segment[i]
        weight[i] = (FRAC_ONE - fraction[i]) | (fraction[i] << 16)

    for b in range(NODE_BLOCK * n_blocks):
        acc[b] = layer.bias[b] if b < layer.n_out else 0

    b = 0
    while b + 2 <= n_blocks:
        kanc_sim_pair_blocks(layer.pair_table + b * stride, stride, offset, weight, n_in,
                             acc + NODE_BLOCK * b, acc + NODE_BLOCK * (b + 1))
        b += 2
    if b < n_blocks:
        kanc_sim_pair_block(layer.pair_table + b * stride, offset, weight, n_in, acc + NODE_BLOCK * b)


cdef class PackedModel:
    """A QuantizedModel flattened into contiguous C arrays for the batch kernel.

    Two table layouts are kept. The node-major table of spec section 2.5 feeds the
    portable scalar path. The pair-block table feeds the SSE2 path: nodes are
    grouped four at a time (the last group padded with zero rows) and, for each
    group, input i and segment s, it stores the eight int16 values
    (T_j[s], T_j[s + 1]) for the group's four nodes j, so one 16-byte load and one
    pmaddwd give four edge terms.

    Build it from a model that passed ``QuantizedModel.validate()``: the kernel
    indexes the tables without bounds checks and relies on the spec's invariants.
    """

    cdef readonly list widths
    cdef readonly int32_t n_layers
    cdef readonly int32_t max_width
    cdef int32_t _scratch_width        # max width rounded up to a multiple of 4
    cdef object _keep                  # numpy arrays that back the memoryviews below
    cdef int16_t[::1] _table
    cdef int16_t[::1] _pair_table
    cdef int32_t[::1] _bias
    cdef int32_t[::1] _edge_start
    cdef int32_t[::1] _pair_start
    cdef int32_t[::1] _coord_max
    cdef int32_t[:, ::1] _requant      # rows p, M, r, z; layer inputs first, then outputs
    cdef int64_t[::1] _table_base
    cdef int64_t[::1] _pair_base
    cdef int64_t[::1] _node_base
    cdef int64_t[::1] _input_base
    cdef int64_t[::1] _row_length
    cdef int64_t[::1] _node_edges      # per layer n_out + 1 entries, concatenated (sparse layers only)
    cdef int32_t[::1] _live_input
    cdef int64_t[::1] _live_start
    cdef int64_t[::1] _node_edges_base
    cdef int64_t[::1] _live_base
    cdef list _sparse

    def __init__(self, qmodel):
        layers = qmodel.layers
        self.n_layers = len(layers)
        self.widths = [int(layers[0].n_in)] + [int(layer.n_out) for layer in layers]
        self.max_width = max(self.widths)
        self._scratch_width = (self.max_width + NODE_BLOCK - 1) // NODE_BLOCK * NODE_BLOCK

        tables, pair_tables, biases, edge_starts, pair_starts, coord_max, requants = [], [], [], [], [], [], []
        row_length = []
        node_edges, live_inputs, live_starts = [np.zeros(1, dtype=np.int64)], [], []
        node_edges_base, live_base = [0], [0]
        self._sparse = []
        table_base, pair_base, node_base, input_base = [0], [0], [0], [0]
        for layer in layers:
            segments = np.asarray(layer.segments, dtype=np.int64)
            samples_per_row = segments + 1
            table = np.asarray(layer.table, dtype=np.int16)
            tables.append(table)
            sparse = bool(layer.is_sparse)
            self._sparse.append(sparse)
            if sparse:
                # Live edges in table order: node-major, increasing i within a node.
                starts = np.asarray(layer.edge_starts(), dtype=np.int64)
                nodes, inputs = np.nonzero(starts >= 0)
                counts = np.bincount(nodes, minlength=len(layer.bias))
                node_edges.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
                live_inputs.append(inputs.astype(np.int32))
                live_starts.append(starts[nodes, inputs])
                pair_tables.append(np.zeros(0, dtype=np.int16))
            else:
                node_edges.append(np.zeros(len(layer.bias) + 1, dtype=np.int64))
                pair_tables.append(_pair_blocks(table, segments, len(layer.bias)))
            node_edges_base.append(node_edges_base[len(node_edges_base) - 1] + len(layer.bias) + 1)
            live_base.append(live_base[len(live_base) - 1] + (len(live_inputs[len(live_inputs) - 1]) if sparse else 0))
            biases.append(np.asarray(layer.bias, dtype=np.int32))
            edge_starts.append(np.cumsum(samples_per_row) - samples_per_row)
            pair_starts.append(2 * NODE_BLOCK * (np.cumsum(segments) - segments))
            coord_max.append(segments * FRAC_ONE - 1)
            requants.append(_requant_rows(layer.in_requant))
            row_length.append(int(np.sum(samples_per_row)))
            # Running totals: where the next layer's tables, nodes and inputs begin.
            table_base.append(table_base[len(table_base) - 1] + len(table))
            pair_base.append(pair_base[len(pair_base) - 1] + len(pair_tables[len(pair_tables) - 1]))
            node_base.append(node_base[len(node_base) - 1] + len(layer.bias))
            input_base.append(input_base[len(input_base) - 1] + len(segments))
        requants.append(_requant_rows(qmodel.out_requant))

        arrays = {
            "table": np.ascontiguousarray(np.concatenate(tables), dtype=np.int16),
            "pair_table": np.ascontiguousarray(np.concatenate(pair_tables + [np.zeros(8)]), dtype=np.int16),
            "bias": np.ascontiguousarray(np.concatenate(biases), dtype=np.int32),
            "edge_start": np.ascontiguousarray(np.concatenate(edge_starts), dtype=np.int32),
            "pair_start": np.ascontiguousarray(np.concatenate(pair_starts), dtype=np.int32),
            "coord_max": np.ascontiguousarray(np.concatenate(coord_max), dtype=np.int32),
            "requant": np.ascontiguousarray(np.concatenate(requants, axis=1), dtype=np.int32),
            # One spare entry each, so that a model without live edges still has addressable arrays.
            "node_edges": np.ascontiguousarray(np.concatenate(node_edges), dtype=np.int64),
            "live_input": np.ascontiguousarray(np.concatenate(live_inputs + [np.zeros(1)]), dtype=np.int32),
            "live_start": np.ascontiguousarray(np.concatenate(live_starts + [np.zeros(1)]), dtype=np.int64),
            "table_padded": np.ascontiguousarray(np.concatenate(tables + [np.zeros(1)]), dtype=np.int16),
        }
        self._keep = arrays
        self._table = arrays["table_padded"]
        self._pair_table = arrays["pair_table"]
        self._bias = arrays["bias"]
        self._edge_start = arrays["edge_start"]
        self._pair_start = arrays["pair_start"]
        self._coord_max = arrays["coord_max"]
        self._requant = arrays["requant"]
        self._table_base = np.asarray(table_base, dtype=np.int64)
        self._pair_base = np.asarray(pair_base, dtype=np.int64)
        self._node_base = np.asarray(node_base, dtype=np.int64)
        self._input_base = np.asarray(input_base, dtype=np.int64)
        self._row_length = np.asarray(row_length, dtype=np.int64)
        self._node_edges = arrays["node_edges"]
        self._live_input = arrays["live_input"]
        self._live_start = arrays["live_start"]
        # node_edges has a leading 0 entry, so layer l's n_out + 1 entries start one past its base.
        self._node_edges_base = np.asarray(node_edges_base, dtype=np.int64) + 1
        self._live_base = np.asarray(live_base, dtype=np.int64)

    @property
    def n_clamp_counters(self):
        """Length of the clamp_count array that run() takes: all layer inputs, then the outputs."""
        return int(self._input_base[self.n_layers]) + self.widths[self.n_layers]

    def run(self, const int16_t[:, ::1] x_q, int16_t[:, ::1] y_q, int64_t[::1] clamp_count,
            bint simd=True):
        """Run the model on every row of ``x_q`` (N, n_inputs) and write ``y_q`` (N, n_outputs).

        ``clamp_count`` (int64, length ``n_clamp_counters``) is incremented, not
        cleared: entries follow the layer inputs in order, then the outputs. With
        ``simd`` false, or when HAVE_SSE2 is false, the scalar node-major path runs.
        """
        cdef Py_ssize_t n_samples = x_q.shape[0], n
        cdef int64_t k
        cdef int32_t l, i, v
        cdef int clamped
        cdef bint use_pairs = simd and KANC_SIM_HAVE_SSE2
        cdef int32_t width = self._scratch_width
        cdef int32_t n_in0 = self.widths[0]
        cdef int32_t n_outputs = self.widths[self.n_layers]
        cdef int32_t n_layers = self.n_layers
        cdef int64_t total_inputs = self._input_base[n_layers]
        cdef LayerView* views
        cdef int32_t* buffers
        cdef int32_t* a
        cdef int32_t* acc
        cdef int32_t* swap
        cdef int32_t* segment
        cdef int32_t* fraction
        cdef int32_t* offset
        cdef int32_t* weight
        cdef const int32_t* out_p
        cdef const int32_t* out_M
        cdef const int32_t* out_r
        cdef const int32_t* out_z
        cdef int64_t* out_clamp

        if x_q.shape[1] != n_in0:
            raise ValueError(f"x_q has {x_q.shape[1]} columns but the model has {n_in0} inputs")
        if y_q.shape[0] != n_samples or y_q.shape[1] != n_outputs:
            raise ValueError(f"y_q must have shape ({n_samples}, {n_outputs}), got "
                             f"({y_q.shape[0]}, {y_q.shape[1]})")
        if clamp_count.shape[0] != self.n_clamp_counters:
            raise ValueError(f"clamp_count must have {self.n_clamp_counters} entries, "
                             f"got {clamp_count.shape[0]}")
        if n_samples == 0:
            return

        views = <LayerView*> malloc(n_layers * sizeof(LayerView))
        buffers = <int32_t*> malloc(6 * width * sizeof(int32_t))
        if views == NULL or buffers == NULL:
            free(views)
            free(buffers)
            raise MemoryError("cannot allocate simulator scratch buffers")

        for l in range(n_layers):
            k = self._input_base[l]
            views[l].n_in = self.widths[l]
            views[l].n_out = self.widths[l + 1]
            views[l].row_length = self._row_length[l]
            views[l].table = &self._table[self._table_base[l]]
            views[l].bias = &self._bias[self._node_base[l]]
            views[l].edge_start = &self._edge_start[k]
            views[l].coord_max = &self._coord_max[k]
            views[l].pre_shift = &self._requant[0, k]
            views[l].multiplier = &self._requant[1, k]
            views[l].shift = &self._requant[2, k]
            views[l].offset = &self._requant[3, k]
            views[l].clamp_count = &clamp_count[k]
            views[l].n_blocks = (self.widths[l + 1] + NODE_BLOCK - 1) // NODE_BLOCK
            views[l].block_length = 2 * NODE_BLOCK * (self._row_length[l] - self.widths[l])
            views[l].pair_table = &self._pair_table[self._pair_base[l]]
            views[l].pair_start = &self._pair_start[k]
            views[l].sparse = self._sparse[l]
            views[l].node_edges = &self._node_edges[self._node_edges_base[l]]
            views[l].live_input = &self._live_input[self._live_base[l]]
            views[l].live_start = &self._live_start[self._live_base[l]]
        out_p = &self._requant[0, total_inputs]
        out_M = &self._requant[1, total_inputs]
        out_r = &self._requant[2, total_inputs]
        out_z = &self._requant[3, total_inputs]
        out_clamp = &clamp_count[total_inputs]

        with nogil:
            segment = buffers + 2 * width
            fraction = buffers + 3 * width
            offset = buffers + 4 * width
            weight = buffers + 5 * width
            for n in range(n_samples):
                a = buffers
                acc = buffers + width

                # 2.1: the model input is the int16 x_q, widened to int32.
                for i in range(n_in0):
                    a[i] = x_q[n, i]

                for l in range(n_layers):
                    _layer_coordinates(&views[l], a, segment, fraction)
                    if views[l].sparse:
                        _accumulate_sparse(&views[l], segment, fraction, acc)
                    elif use_pairs:
                        _accumulate_pair_blocks(&views[l], segment, fraction, offset, weight, acc)
                    else:
                        _accumulate_node_major(&views[l], segment, fraction, offset, acc)
                    swap = a
                    a = acc
                    acc = swap

                # 2.6: output requantizer, step 5 saturates to int16.
                for i in range(n_outputs):
                    clamped = 0
                    v = _requantize(a[i], out_p[i], out_M[i], out_r[i], out_z[i], &clamped)
                    v = _saturate(v, -32768, 32767, &clamped)
                    out_clamp[i] += clamped
                    y_q[n, i] = <int16_t> v

        free(views)
        free(buffers)


def _requant_rows(requant):
    """Stack a Requantizer's p, M, r, z into a (4, k) int64 array."""
    return np.stack([np.asarray(requant.pre_shift, dtype=np.int64),
                     np.asarray(requant.multiplier, dtype=np.int64),
                     np.asarray(requant.shift, dtype=np.int64),
                     np.asarray(requant.offset, dtype=np.int64)])


def _pair_blocks(table, segments, n_out):
    """Rearrange one layer's node-major table into the pair-block layout (see PackedModel).

    Return a flat int16 array of n_blocks * 8 * sum(S_i) entries, ordered
    (block, input i, segment s, node within block, left/right sample).
    """
    n_blocks = (n_out + NODE_BLOCK - 1) // NODE_BLOCK
    rows = np.zeros((n_blocks * NODE_BLOCK, int(np.sum(segments + 1))), dtype=np.int16)
    rows[:n_out] = np.asarray(table, dtype=np.int16).reshape(n_out, -1)
    parts = []
    start = 0
    for count in segments:
        left = rows[:, start:start + int(count)]
        right = rows[:, start + 1:start + int(count) + 1]
        pairs = np.stack([left, right], axis=-1)                                # (nodes, S_i, 2)
        pairs = pairs.reshape(n_blocks, NODE_BLOCK, int(count), 2).transpose(0, 2, 1, 3)
        parts.append(pairs)                                                     # (blocks, S_i, 4, 2)
        start += int(count) + 1
    return np.ascontiguousarray(np.concatenate(parts, axis=1)).reshape(-1)
