/*
 * kanc_layer.h - one KAN layer: table coordinates of its inputs (spec 2.2, 2.3)
 * and the node-major edge loop (spec 2.4, 2.5).
 *
 * The edge loop keeps one walking row pointer into the table, one accumulator
 * per node in a register, and reads (offset, fraction) pairs that were computed
 * once per input. Its only multiply is 16 x 16 -> 32 bits.
 */
#ifndef KANC_LAYER_H
#define KANC_LAYER_H

#include <stdint.h>

#include "kanc_arith.h"
#include "kanc_board.h"
#include "kanc_model.h"
#include "kanc_requant.h"

#if defined(KANC_FRAC_T) && !defined(KANC_HAL_HAS_EDGE_ACCUMULATE)
#error "kanc_hal.h changes KANC_FRAC_T, so it must also provide kanc_hal_edge_accumulate"
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
 * Fills coords[i] for one layer input: u from the requantizer, then segment
 * s = u >> 8 and fraction f = u & 255. `row_offset` is E(0, i), the index of
 * T_0i[0] within a node's row.
 */
static inline void kanc_coord_set(kanc_coord_t *coord, int32_t a, const kanc_requant_t *rq,
                                  uint16_t row_offset)
{
    uint16_t u = kanc_requant_coordinate(a, rq);

    coord->offset = (uint16_t)(row_offset + (u >> KANC_FRAC_BITS));
    coord->frac = KANC_FRAC_ENCODE(u & KANC_FRAC_MASK);
}

/* Returns the row offset E(0, i + 1) of the input after the one described by `rq`. */
static inline uint16_t kanc_next_row_offset(uint16_t row_offset, const kanc_requant_t *rq)
{
    return (uint16_t)(row_offset + (uint16_t)KANC_READ_S16(&rq->segments) + 1u);
}

/* Computes the coordinates of layer 0 from the int16 model inputs x_q[0..n_in). */
static inline void kanc_coords_from_inputs(const int16_t *x_q, uint16_t n_in,
                                           const kanc_requant_t *rq, kanc_coord_t *coords)
{
    uint16_t row_offset = 0;
    uint16_t i;

    for (i = 0; i < n_in; ++i) {
        kanc_coord_set(&coords[i], (int32_t)x_q[i], &rq[i], row_offset);
        row_offset = kanc_next_row_offset(row_offset, &rq[i]);
    }
}

/* Computes the coordinates of layer l >= 1 from the accumulators of layer l - 1. */
static inline void kanc_coords_from_accumulators(const int32_t *acc, uint16_t n_in,
                                                 const kanc_requant_t *rq, kanc_coord_t *coords)
{
    uint16_t row_offset = 0;
    uint16_t i;

    for (i = 0; i < n_in; ++i) {
        kanc_coord_set(&coords[i], acc[i], &rq[i], row_offset);
        row_offset = kanc_next_row_offset(row_offset, &rq[i]);
    }
}

/*
 * Computes acc[j] = B_j + sum over i of e_ji for every node j of a layer.
 * `table` is the node-major sample array (n_out rows of `row_length` samples),
 * `coords` the n_in coordinates of this layer's inputs. `acc` may be the buffer
 * the coordinates were computed from: it is written only after they exist.
 */
static inline void kanc_layer_accumulate(const kanc_coord_t *coords, uint16_t n_in, uint16_t n_out,
                                         uint16_t row_length, const int16_t *table,
                                         const kanc_bias_t *bias, int32_t *acc)
{
    const kanc_coord_t *coords_end = coords + n_in;
    uint16_t j;

    for (j = 0; j < n_out; ++j) {
        const kanc_coord_t *coord;
        int32_t sum = kanc_read_s32_pair(bias[j].value);

        for (coord = coords; coord != coords_end; ++coord) {
            sum = kanc_edge_accumulate(sum, table + coord->offset, coord->frac);
        }
        acc[j] = sum;
        table += row_length;
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
