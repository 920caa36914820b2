/*
 * kanc_requant.h - the requantizer of spec section 2.2: int32 value -> table
 * coordinate, and the output variant of section 2.6: int32 -> int16.
 */
#ifndef KANC_REQUANT_H
#define KANC_REQUANT_H

#include <stdint.h>

#include "kanc_arith.h"
#include "kanc_board.h"
#include "kanc_model.h"

/*
 * Runs steps 1 to 4 of requantizer `rq` (in table storage) on `a` and returns
 * v = rshift_round(sat16(rshift_round(a, p)) * M, r) + z. No step overflows
 * int32: |t| <= 2^15 and M < 2^15 give |m| < 2^30, and |z| <= 2^30.
 */
static inline int32_t kanc_requant_scale(int32_t a, const kanc_requant_t *rq)
{
    uint8_t pre_shift = (uint8_t)KANC_READ_S16(&rq->pre_shift);
    int16_t multiplier = KANC_READ_S16(&rq->multiplier);
    uint8_t shift = (uint8_t)KANC_READ_S16(&rq->shift);
    int32_t offset = kanc_read_s32_pair(rq->offset);
    int16_t t;
    int32_t m;

    /* Step 1: pre-shift with round half up, then saturate to int16. */
    t = kanc_sat_s16(kanc_rshift_round(a, pre_shift));

    /* Step 2: the only multiply, 16 x 16 -> 32 bits. */
    m = (int32_t)t * (int32_t)multiplier;

    /* Step 3: shift with round half up. */
    m = kanc_rshift_round(m, shift);

    /* Step 4: add the offset. */
    return m + offset;
}

/*
 * Maps `a` to the table coordinate u in [0, U] with U = S * 256 - 1, where S is
 * the segment count in `rq`. Step 5 saturates v to that range.
 */
static inline uint16_t kanc_requant_coordinate(int32_t a, const kanc_requant_t *rq)
{
    int32_t u_max = (int32_t)KANC_READ_S16(&rq->segments) * 256 - 1;

    /* Step 5: saturate to the last sample step of the last segment. */
    return (uint16_t)kanc_sat_s32(kanc_requant_scale(a, rq), 0, u_max);
}

/* Maps a last-layer accumulator to the int16 model output (spec 2.6). */
static inline int16_t kanc_requant_output(int32_t acc, const kanc_requant_t *rq)
{
    /* Step 5 of the output requantizer: saturate to int16. */
    return kanc_sat_s16(kanc_requant_scale(acc, rq));
}

#endif /* KANC_REQUANT_H */
