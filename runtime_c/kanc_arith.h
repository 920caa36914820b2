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
 * The int16 saturation below tests "v fits in int16" as (int16_t)v == v. C99
 * leaves the conversion of an out-of-range value implementation-defined, so the
 * build fails unless it wraps modulo 2^16 (two's complement, as gcc and clang do).
 */
typedef char kanc_check_int16_conversion_wraps[((int16_t)(int32_t)40000 == -25536) ? 1 : -1];

/*
 * Rounding shift: a / 2^n rounded to nearest, ties toward plus infinity
 * (floor((a + 2^(n-1)) / 2^n)) for every int32 `a` and n in [0, 31].
 *
 * One variable shift: t = a >> (n - 1) = floor(a / 2^(n-1)), and then
 * t - (t >> 1) = ceil(t / 2) = floor((t + 1) / 2), which is the spec's
 * (a >> n) + ((a >> (n - 1)) & 1). Unlike t + 1 or a + 2^(n-1) it cannot
 * overflow, so `a` may be any int32.
 */
static inline int32_t kanc_rshift_round(int32_t a, uint8_t n)
{
    int32_t t;

    if (n == 0) {
        return a;
    }
    t = a >> (n - 1);
    return t - (t >> 1);
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

/*
 * Saturation to int16: min(max(v, -32768), 32767). The in-range test is one
 * sign-extension compare (SXTH + CMP on Cortex-M, a byte compare on AVR).
 */
static inline int16_t kanc_sat_s16(int32_t v)
{
    int16_t low = (int16_t)v;

    if ((int32_t)low == v) {
        return low;
    }
    return (v < 0) ? (int16_t)KANC_INT16_MIN : (int16_t)KANC_INT16_MAX;
}

#endif /* KANC_ARITH_H */
