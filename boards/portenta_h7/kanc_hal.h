/*
 * kanc board support for the Arduino Portenta H7 (STM32H747, Cortex-M7 core with FPv5-D16).
 *
 * Tables stay in flash and are read with plain loads. Compile with
 * -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard.
 *
 * Fast edge path (define KANC_NO_FAST_EDGE to use the portable C loop instead):
 * the spec's second edge form
 *
 *     e = T[s] * (256 - f) + T[s + 1] * f
 *
 * is one SMLAD. The fraction is stored per layer input as the packed halfword
 * pair (256 - f) | (f << 16), and the two adjacent samples are fetched with one
 * 32-bit load, T[s] in the low half (little-endian). Both products and the sum
 * are exact: |T| <= 2^15 and 256 - f <= 256 bound each product by 2^23, and the
 * accumulator invariant keeps the int32 sum from overflowing, so SMLAD's Q flag
 * is never set. The load is unaligned when s is odd; ARMv7-M LDR allows that on
 * normal memory (flash and SRAM) as long as CCR.UNALIGN_TRP is clear, which is
 * its reset value and what the mbed core leaves.
 */
#ifndef KANC_HAL_H
#define KANC_HAL_H

#include <stdint.h>
#include <string.h>

/* Tables need no placement attribute: const data is linked into flash. */
#define KANC_TABLE_ATTR

/* One int16 table sample; flash is in the normal address space. */
#define KANC_READ_S16(ptr) (*(const int16_t *)(ptr))

#if !defined(KANC_NO_FAST_EDGE) && defined(__ARM_FEATURE_SIMD32)

#include <arm_acle.h>

#define KANC_FRAC_T uint32_t
#define KANC_FRAC_ENCODE(f) ((((uint32_t)(f)) << 16) | (uint32_t)(256 - (f)))
#define KANC_HAL_HAS_EDGE_ACCUMULATE 1

/* Return acc + T[s] * (256 - f) + T[s + 1] * f; `weights` is KANC_FRAC_ENCODE(f). */
static inline int32_t kanc_hal_edge_accumulate(int32_t acc, const int16_t *samples, uint32_t weights)
{
    int32_t pair;

    /* memcpy compiles to one LDR and expresses the unaligned access in portable C. */
    memcpy(&pair, samples, sizeof pair);
    return __smlad(pair, (int32_t)weights, acc);
}

#endif

#endif
