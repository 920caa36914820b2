/*
 * kanc_requant.h - the requantizer of spec section 2.2: int32 value -> table
 * coordinate, and the output variant of section 2.6: int32 -> int16.
 *
 * A board with KANC_HAL_HAS_REQUANT runs steps 1 to 4 in its own code
 * (kanc_hal_requant_scale, kanc_hal_requant_multiply); step 5 (saturation) stays here.
 */
#ifndef KANC_REQUANT_H
#define KANC_REQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "kanc_arith.h"
#include "kanc_board.h"
#include "kanc_model.h"

/* Rounding shift of spec section 1, through the board's hook when it has one. */
static inline int32_t kanc_requant_rshift_round(int32_t a, uint8_t n)
{
#ifdef KANC_HAL_HAS_RSHIFT_ROUND
    return kanc_hal_rshift_round(a, n);
#else
    return kanc_rshift_round(a, n);
#endif
}

#ifdef KANC_HAL_HAS_REQUANT
/*
 * The board's requantizer reads the record by byte offsets. These checks fail the
 * build (array size -1) when kanc_requant_t does not have the layout it expects.
 */
typedef char kanc_check_requant_offset[(offsetof(kanc_requant_t, offset) == KANC_HAL_REQUANT_OFFSET_BYTE) ? 1 : -1];
typedef char kanc_check_requant_multiplier[
    (offsetof(kanc_requant_t, multiplier) == KANC_HAL_REQUANT_MULTIPLIER_BYTE) ? 1 : -1];
typedef char kanc_check_requant_pre_shift[
    (offsetof(kanc_requant_t, pre_shift) == KANC_HAL_REQUANT_PRE_SHIFT_BYTE) ? 1 : -1];
typedef char kanc_check_requant_shift[(offsetof(kanc_requant_t, shift) == KANC_HAL_REQUANT_SHIFT_BYTE) ? 1 : -1];
#endif

/*
 * Runs steps 2 to 4 of requantizer `rq` (in table storage) on the pre-shifted
 * int16 value t and returns v = rshift_round(t * M, r) + z. No step overflows
 * int32: |t| <= 2^15 and M < 2^15 give |m| < 2^30, and |z| <= 2^30.
 */
static inline int32_t kanc_requant_multiply(int16_t t, const kanc_requant_t *rq)
{
#ifdef KANC_HAL_HAS_REQUANT
    return kanc_hal_requant_multiply(t, rq->offset);
#else
    int16_t multiplier = KANC_READ_S16(&rq->multiplier);
    uint8_t shift = (uint8_t)KANC_READ_S16(&rq->shift);
    int32_t offset = kanc_read_s32_pair(rq->offset);
    int32_t m;

    /* Step 2: the only multiply, 16 x 16 -> 32 bits. */
    m = (int32_t)t * (int32_t)multiplier;

    /* Step 3: shift with round half up. */
    m = kanc_requant_rshift_round(m, shift);

    /* Step 4: add the offset. */
    return m + offset;
#endif
}

/* Runs steps 1 to 4 of `rq` on the int32 value `a`: step 1 is the pre-shift by p, then int16 saturation. */
static inline int32_t kanc_requant_scale(int32_t a, const kanc_requant_t *rq)
{
#ifdef KANC_HAL_HAS_REQUANT
    return kanc_hal_requant_scale(a, rq->offset);
#else
    uint8_t pre_shift = (uint8_t)KANC_READ_S16(&rq->pre_shift);

    /* Step 1: pre-shift with round half up, then saturate to int16. */
    int16_t t = kanc_sat_s16(kanc_requant_rshift_round(a, pre_shift));

    return kanc_requant_multiply(t, rq);
#endif
}

/* Returns U = S * 256 - 1, the largest coordinate of an input with S segments (S in [1, 256]). */
static inline uint16_t kanc_coordinate_max(uint16_t segments)
{
    return (uint16_t)(((uint16_t)(segments << 8)) - 1u);
}

/*
 * Step 5: saturates v to [0, U]. One unsigned compare covers both ends in the
 * common in-range case, because a negative v converts to a value above 2^31. On
 * 8-bit AVR two 16-bit tests are cheaper than that 32-bit compare: the high half
 * of an in-range v is zero (a negative v has it set) and the low half is at most U.
 */
static inline uint16_t kanc_saturate_coordinate(int32_t v, uint16_t u_max)
{
#ifdef __AVR__
    if ((uint16_t)((uint32_t)v >> 16) == 0u && (uint16_t)v <= u_max) {
        return (uint16_t)v;
    }
#else
    if ((uint32_t)v <= (uint32_t)u_max) {
        return (uint16_t)v;
    }
#endif
    return (v < 0) ? 0u : u_max;
}

/*
 * Maps `a` to the table coordinate u in [0, U] with U = S * 256 - 1, where S is
 * the segment count in `rq`.
 */
static inline uint16_t kanc_requant_coordinate(int32_t a, const kanc_requant_t *rq)
{
    uint16_t u_max = kanc_coordinate_max((uint16_t)KANC_READ_S16(&rq->segments));

    return kanc_saturate_coordinate(kanc_requant_scale(a, rq), u_max);
}

/* Maps a last-layer accumulator to the int16 model output (spec 2.6). */
static inline int16_t kanc_requant_output(int32_t acc, const kanc_requant_t *rq)
{
    /* Step 5 of the output requantizer: saturate to int16. */
    return kanc_sat_s16(kanc_requant_scale(acc, rq));
}

#endif /* KANC_REQUANT_H */
