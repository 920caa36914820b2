/*
 * kanc_layer.h - one KAN layer: table coordinates of its inputs (spec 2.2, 2.3)
 * and the node-major edge loop (spec 2.4, 2.5).
 *
 * The edge loop keeps one walking row pointer into the table, one accumulator
 * per node in a register, and reads (offset, fraction) pairs that were computed
 * once per input. Its only multiply is 16 x 16 -> 32 bits. A board HAL may
 * replace one edge (KANC_HAL_HAS_EDGE_ACCUMULATE), the inner loop of a node
 * (KANC_HAL_HAS_NODE_SUM) or the whole node loop of a dense layer
 * (KANC_HAL_HAS_LAYER_SUM). It may also compute all coordinates of a dense layer
 * in one call (KANC_HAL_HAS_LAYER_COORDS). kanc_board.h states the contracts.
 *
 * Sparse layers (spec 2.7) have their own coordinate and edge loops below, the
 * kanc_sparse_* functions. They visit only the live edges and call the edge hook
 * per edge; the node-sum hook is for dense rows only.
 */
#ifndef KANC_LAYER_H
#define KANC_LAYER_H

#include <stddef.h>
#include <stdint.h>

#include "kanc_arith.h"
#include "kanc_board.h"
#include "kanc_model.h"
#include "kanc_requant.h"

#if defined(KANC_FRAC_T) && !defined(KANC_HAL_HAS_EDGE_ACCUMULATE) && !defined(KANC_HAL_HAS_NODE_SUM)
#error "kanc_hal.h changes KANC_FRAC_T, so it must also provide kanc_hal_edge_accumulate or kanc_hal_node_sum"
#endif

#if defined(KANC_HAL_HAS_LAYER_COORDS) && !defined(KANC_HAL_COORD_BYTE_OFFSET)
#error "kanc_hal.h defines KANC_HAL_HAS_LAYER_COORDS, whose records hold byte offsets, so it must define KANC_HAL_COORD_BYTE_OFFSET"
#endif

#if defined(KANC_HAL_HAS_LAYER_SUM) && !defined(KANC_HAL_HAS_NODE_SUM)
#error "kanc_hal.h defines KANC_HAL_HAS_LAYER_SUM, so it must also provide kanc_hal_node_sum"
#endif

#ifdef KANC_HAL_HAS_NODE_SUM
#if !defined(KANC_HAL_COORD_BYTES) || !defined(KANC_HAL_COORD_FRAC_OFFSET)
#error "kanc_hal.h defines KANC_HAL_HAS_NODE_SUM, so it must give KANC_HAL_COORD_BYTES and KANC_HAL_COORD_FRAC_OFFSET"
#endif
/*
 * The node-sum and layer-sum hooks are assembly that reads the coordinate
 * records by byte offsets. These checks fail the build (array size -1) when
 * kanc_coord_t does not have the layout the hooks were written for.
 */
typedef char kanc_check_coord_bytes[(sizeof(kanc_coord_t) == KANC_HAL_COORD_BYTES) ? 1 : -1];
typedef char kanc_check_coord_offset_at_0[(offsetof(kanc_coord_t, offset) == 0) ? 1 : -1];
typedef char kanc_check_coord_frac_offset[(offsetof(kanc_coord_t, frac) == KANC_HAL_COORD_FRAC_OFFSET) ? 1 : -1];
typedef char kanc_check_coord_frac_is_byte[(sizeof(kanc_frac_t) == 1) ? 1 : -1];
#ifdef KANC_HAL_HAS_LAYER_SUM
/* The layer-sum hook reads the biases as one array of int16 word pairs. */
typedef char kanc_check_bias_bytes[(sizeof(kanc_bias_t) == 4) ? 1 : -1];
#endif
#ifdef KANC_HAL_HAS_LAYER_COORDS
/* The layer coordinate hooks step through the requantizers in 12-byte records. */
typedef char kanc_check_requant_bytes[(sizeof(kanc_requant_t) == 12) ? 1 : -1];
#endif
#elif defined(KANC_HAL_COORD_BYTE_OFFSET)
#error "KANC_HAL_COORD_BYTE_OFFSET needs KANC_HAL_HAS_NODE_SUM: the portable edge loop indexes samples, not bytes"
#endif

#define KANC_FRAC_BITS 8
#define KANC_FRAC_MASK 0xFF

/*
 * Returns acc + e with the edge term e = T[s] * 2^8 + (T[s+1] - T[s]) * f, the
 * exact linear interpolation kept at 8 extra fraction bits (no rounding here).
 * `samples` points at T[s] in table storage. The slope fits in int16 by the slope
 * invariant, and the accumulator invariant rules out int32 overflow of the sum.
 */
static inline int32_t kanc_edge_accumulate(int32_t acc, const int16_t *samples, kanc_frac_t frac)
{
#ifdef KANC_HAL_HAS_EDGE_ACCUMULATE
    return kanc_hal_edge_accumulate(acc, samples, frac);
#else
    int16_t left = KANC_READ_S16(samples);
    int16_t right = KANC_READ_S16(samples + 1);
    int16_t slope = (int16_t)(right - left);

    return acc + (int32_t)left * 256 + (int32_t)slope * (int32_t)frac;
#endif
}

/*
 * Stores the coordinate u of one layer input in `coord`: offset E(0, i) + s with
 * s = u >> 8 (spec 2.3), and f = u & 255. `row_offset` is E(0, i), the index of
 * T_0i[0] within a node's row. With KANC_HAL_COORD_BYTE_OFFSET the offset is
 * stored in bytes, twice the index.
 */
static inline void kanc_coord_store(kanc_coord_t *coord, uint16_t u, uint16_t row_offset)
{
#ifdef KANC_HAL_COORD_BYTE_OFFSET
    coord->offset = (uint16_t)((row_offset + (u >> KANC_FRAC_BITS)) * 2u);
#else
    coord->offset = (uint16_t)(row_offset + (u >> KANC_FRAC_BITS));
#endif
    coord->frac = KANC_FRAC_ENCODE(u & KANC_FRAC_MASK);
}

/*
 * Saturates the requantized value v of an input with S segments to
 * [0, 256 * S - 1] (spec 2.2 step 5), stores its coordinate at `row_offset`
 * (kanc_coord_store) and returns the row offset of the next input,
 * row_offset + S + 1.
 */
static inline uint16_t kanc_coord_store_saturated(kanc_coord_t *coord, int32_t v,
                                                  uint16_t segments, uint16_t row_offset)
{
    kanc_coord_store(coord, kanc_saturate_coordinate(v, kanc_coordinate_max(segments)), row_offset);
    return (uint16_t)(row_offset + segments + 1u);
}

/*
 * Computes the coordinates of layer 0 from the int16 model inputs x_q[0..n_in).
 * Step 1 is skipped: a valid model has p = 0 in every layer-0 requantizer
 * (spec section 4), and an int16 value passes an int16 saturation unchanged.
 * With KANC_HAL_HAS_LAYER_COORDS the board computes all n_in records in one call.
 */
static inline void kanc_coords_from_inputs(const int16_t *x_q, uint16_t n_in,
                                           const kanc_requant_t *rq, kanc_coord_t *coords)
{
#ifdef KANC_HAL_HAS_LAYER_COORDS
    kanc_hal_coords_from_inputs(x_q, n_in, rq->offset, coords);
#else
    uint16_t row_offset = 0;
    uint16_t i;

    for (i = 0; i < n_in; ++i) {
        uint16_t segments = (uint16_t)KANC_READ_S16(&rq[i].segments);
        int32_t v = kanc_requant_multiply(x_q[i], &rq[i]);

        row_offset = kanc_coord_store_saturated(&coords[i], v, segments, row_offset);
    }
#endif
}

/* Computes the coordinates of layer l >= 1 from the accumulators of layer l - 1. */
static inline void kanc_coords_from_accumulators(const int32_t *acc, uint16_t n_in,
                                                 const kanc_requant_t *rq, kanc_coord_t *coords)
{
#ifdef KANC_HAL_HAS_LAYER_COORDS
    kanc_hal_coords_from_accumulators(acc, n_in, rq->offset, coords);
#else
    uint16_t row_offset = 0;
    uint16_t i;

    for (i = 0; i < n_in; ++i) {
        uint16_t segments = (uint16_t)KANC_READ_S16(&rq[i].segments);
        int32_t v = kanc_requant_scale(acc[i], &rq[i]);

        row_offset = kanc_coord_store_saturated(&coords[i], v, segments, row_offset);
    }
#endif
}

/*
 * Computes acc[j] = B_j + sum over i of e_ji for every node j of a layer.
 * `table` is the node-major sample array (n_out rows of `row_length` samples),
 * `coords` the n_in coordinates of this layer's inputs. `acc` may be the buffer
 * the coordinates were computed from: it is written only after they exist.
 * A layer has n_in >= 1, which the node-sum and layer-sum hooks rely on. With
 * KANC_HAL_HAS_LAYER_SUM the board runs the whole node loop in one call.
 */
static inline void kanc_layer_accumulate(const kanc_coord_t *coords, uint16_t n_in, uint16_t n_out,
                                         uint16_t row_length, const int16_t *table,
                                         const kanc_bias_t *bias, int32_t *acc)
{
    const kanc_coord_t *coords_end = coords + n_in;
#ifdef KANC_HAL_HAS_LAYER_SUM
    kanc_hal_layer_sum(coords, coords_end, table, row_length, bias->value, acc, n_out);
#else
    uint16_t j;

    for (j = 0; j < n_out; ++j) {
        int32_t sum = kanc_read_s32_pair(bias[j].value);

#ifdef KANC_HAL_HAS_NODE_SUM
        sum = kanc_hal_node_sum(coords, coords_end, table, sum);
#else
        const kanc_coord_t *coord;

        for (coord = coords; coord != coords_end; ++coord) {
            sum = kanc_edge_accumulate(sum, table + coord->offset, coord->frac);
        }
#endif
        acc[j] = sum;
        table += row_length;
    }
#endif
}

/*
 * A sparse layer reads each live edge through kanc_edge_accumulate. Without the
 * edge hook that is the portable formula, which needs the default fraction
 * encoding, so a HAL that changes KANC_FRAC_T must provide the edge hook. The
 * generated source of a model with a sparse layer fails to build on
 * KANC_SPARSE_UNSUPPORTED.
 */
#if defined(KANC_FRAC_T) && !defined(KANC_HAL_HAS_EDGE_ACCUMULATE)
#define KANC_SPARSE_UNSUPPORTED 1
#endif

/*
 * Returns the address of T[s] of an edge whose samples start at `edge`, for a
 * sparse-layer coordinate (offset s, or 2 * s bytes with KANC_HAL_COORD_BYTE_OFFSET).
 */
static inline const int16_t *kanc_sparse_samples(const int16_t *edge, const kanc_coord_t *coord)
{
#ifdef KANC_HAL_COORD_BYTE_OFFSET
    return (const int16_t *)((const uint8_t *)edge + coord->offset);
#else
    return edge + coord->offset;
#endif
}

/*
 * Computes the coordinates of a sparse layer 0 from the int16 model inputs. As
 * kanc_coords_from_inputs, but the offset is s_i alone: a sparse row has no
 * fixed E(0, i), so the edge loop adds s_i to the start of each live edge.
 */
static inline void kanc_sparse_coords_from_inputs(const int16_t *x_q, uint16_t n_in,
                                                  const kanc_requant_t *rq, kanc_coord_t *coords)
{
    uint16_t i;

    for (i = 0; i < n_in; ++i) {
        uint16_t segments = (uint16_t)KANC_READ_S16(&rq[i].segments);
        int32_t v = kanc_requant_multiply(x_q[i], &rq[i]);

        (void)kanc_coord_store_saturated(&coords[i], v, segments, 0u);
    }
}

/* Computes the coordinates of a sparse layer l >= 1 from the accumulators of layer l - 1 (offset s_i alone). */
static inline void kanc_sparse_coords_from_accumulators(const int32_t *acc, uint16_t n_in,
                                                        const kanc_requant_t *rq, kanc_coord_t *coords)
{
    uint16_t i;

    for (i = 0; i < n_in; ++i) {
        uint16_t segments = (uint16_t)KANC_READ_S16(&rq[i].segments);
        int32_t v = kanc_requant_scale(acc[i], &rq[i]);

        (void)kanc_coord_store_saturated(&coords[i], v, segments, 0u);
    }
}

/*
 * Computes acc[j] = B_j + sum over live i of e_ji for every node j of a sparse
 * layer (spec 2.7). `live_counts[j]` is the number of live edges of node j and
 * `live_inputs` the input index of every live edge in table order, both uint16
 * values stored as int16 words in table storage. `table` walks forward by
 * S_i + 1 samples per live edge, with S_i read from the input's requantizer `rq`.
 * A node without live edges gets acc[j] = B_j. The table and index pointers may
 * be null when the layer has no live edge at all.
 * NOTE: on the Uno (avr-gcc -Os) a live edge here costs an estimated three times a dense
 * edge of the assembly node-sum loop (index read, coords[i], S_i read), so a layer
 * at 50% density runs about 1.2x slower than the same layer dense with zero edges
 * (benchmarks/sparse_uno_cycles.py). A sparse node-sum hook in the HAL would close that gap.
 */
static inline void kanc_sparse_layer_accumulate(const kanc_coord_t *coords, uint16_t n_out,
                                                const kanc_requant_t *rq, const int16_t *table,
                                                const int16_t *live_counts, const int16_t *live_inputs,
                                                const kanc_bias_t *bias, int32_t *acc)
{
    uint16_t j;

    for (j = 0; j < n_out; ++j) {
        int32_t sum = kanc_read_s32_pair(bias[j].value);
        uint16_t count = (uint16_t)KANC_READ_S16(&live_counts[j]);

        for (; count != 0u; --count) {
            uint16_t i = (uint16_t)KANC_READ_S16(live_inputs);
            const kanc_coord_t *coord = &coords[i];

            sum = kanc_edge_accumulate(sum, kanc_sparse_samples(table, coord), coord->frac);

            /* Next live edge: this edge's S_i + 1 samples lie behind it. */
            table += (uint16_t)KANC_READ_S16(&rq[i].segments) + 1u;
            ++live_inputs;
        }
        acc[j] = sum;
    }
}

/* Requantizes the last layer's accumulators to the int16 model outputs y_q. */
static inline void kanc_outputs_from_accumulators(const int32_t *acc, uint16_t n_out,
                                                  const kanc_requant_t *rq, int16_t *y_q)
{
    uint16_t j;

    for (j = 0; j < n_out; ++j) {
        y_q[j] = kanc_requant_output(acc[j], &rq[j]);
    }
}

#endif /* KANC_LAYER_H */
