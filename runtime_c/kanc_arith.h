/*
 * kanc_arith.h - integer helpers of the fixed-point spec, section 1.
 *
 * Rounding shift and saturation on int32 values. Every function is exact for its
 * whole documented input range; nothing here can overflow.
 */
#ifndef KANC_ARITH_H
#define KANC_ARITH_H

#include <stdint.h>

/*
 * C99 leaves `a >> n` on a negative value implementation-defined. The spec needs
 * an arithmetic (floor) shift, so the build fails on a compiler that does
 * anything else: the array size below is -1 unless -3 >> 1 == -2.
 */
typedef char kanc_check_arithmetic_right_shift[(((int32_t)-3 >> 1) == -2) ? 1 : -1];

#define KANC_INT16_MIN (-32767 - 1)
#define KANC_INT16_MAX 32767

/*
 * Rounding shift: a / 2^n rounded to nearest, ties toward plus infinity
 * (floor((a + 2^(n-1)) / 2^n)) for every int32 `a` and n in [0, 31].
 *
 * The two-shift form adds the last bit shifted out instead of adding 2^(n-1)
 * before the shift, so `a` near INT32_MAX cannot overflow.
 */
static inline int32_t kanc_rshift_round(int32_t a, uint8_t n)
{
    if (n == 0) {
        return a;
    }
    return (a >> n) + ((a >> (n - 1)) & 1);
}

/* Saturation: min(max(v, lo), hi), for lo <= hi. */
static inline int32_t kanc_sat_s32(int32_t v, int32_t lo, int32_t hi)
{
    if (v < lo) {
        return lo;
    }
    if (v > hi) {
        return hi;
    }
    return v;
}

/* Saturation to int16: min(max(v, -32768), 32767). */
static inline int16_t kanc_sat_s16(int32_t v)
{
    return (int16_t)kanc_sat_s32(v, KANC_INT16_MIN, KANC_INT16_MAX);
}

#endif /* KANC_ARITH_H */
