/*
 * kanc board support for the Raspberry Pi RP2040 (Cortex-M0+, ARMv6-M, no FPU).
 *
 * Tables stay in flash (XIP through the 16 KiB cache on the real chip) and are
 * read with plain loads. Compile with -mcpu=cortex-m0plus -mthumb.
 *
 * The per-edge hook (KANC_HAL_HAS_EDGE_ACCUMULATE) is not used: ARMv6-M has no
 * unaligned loads and no SMLAD, and a C edge term without the portable code's
 * int16 cast of the slope measured one instruction per edge slower with gcc 12.2.
 * The portable loop compiles to 15 instructions per edge.
 *
 * Node-sum fast path (KANC_HAL_HAS_NODE_SUM, off with -DKANC_NO_FAST_EDGE):
 * kanc_hal_node_sum computes one node's accumulator in Thumb-1 assembly, two
 * edges per iteration, 10.5 instructions per edge. It uses the first edge form
 * but sums the left samples apart from the slope terms:
 *
 *     acc = B + 256 * sum(T[s]) + sum((T[s + 1] - T[s]) * f)
 *
 * Both sums and the final additions are done modulo 2^32. The partial sums may
 * wrap, but the true accumulator lies in int32 by the accumulator invariant, so
 * the wrapped result is that exact integer (two's complement addition is exact
 * modulo 2^32). The slope fits in int16 by the slope invariant, so each
 * slope * f product is below 2^23 and exact in MULS. runtime_c/kanc_layer.h
 * calls it once per node and checks the record layout below at compile time.
 */
#ifndef KANC_HAL_H
#define KANC_HAL_H

#include <stdint.h>

/* Tables need no placement attribute: const data is linked into flash by the Pico SDK and the test image. */
#define KANC_TABLE_ATTR

/* One int16 table sample; flash is in the normal address space. */
#define KANC_READ_S16(ptr) (*(const int16_t *)(ptr))

#if !defined(KANC_NO_FAST_EDGE) && defined(__thumb__) && !defined(__thumb2__)

#define KANC_HAL_HAS_NODE_SUM 1
#define KANC_HAL_COORD_BYTES 4
#define KANC_HAL_COORD_FRAC_OFFSET 2

/*
 * Returns B + sum over the coordinate records in [coords, coords_end) of the edge
 * terms of one node, whose table row starts at `row`. A record is the runtime's
 * kanc_coord_t with the default fraction type: uint16 sample offset at byte 0,
 * uint8 fraction at byte 2, 4 bytes per record (4-byte aligned).
 */
static inline int32_t kanc_hal_node_sum(const void *coords, const void *coords_end, const int16_t *row,
                                        int32_t bias)
{
    const uint8_t *record = (const uint8_t *)coords;
    const uint8_t *end = (const uint8_t *)coords_end;
    uint32_t slope_sum = 0;
    uint32_t left_sum = 0;
    uint32_t offset;
    uint32_t left;
    uint32_t frac;

    /* An odd record count: one edge in C, so the assembly loop always takes pairs. */
    if (((uint32_t)(end - record) & 4u) != 0) {
        const int16_t *samples = row + *(const uint16_t *)record;
        int32_t left_sample = samples[0];
        int32_t slope = samples[1] - left_sample;

        slope_sum = (uint32_t)(slope * (int32_t)record[2]);
        left_sum = (uint32_t)left_sample;
        record += 4;
    }

    if (record != end) {
        /* T[s + 1] is read through a second row pointer, so both samples use the same byte offset. */
        const int16_t *row_next = row + 1;

        /*
         * Per edge: sample offset -> byte offset, T[s] and T[s + 1] with LDRSH,
         * slope = T[s + 1] - T[s], slope * f with MULS, then both running sums.
         * Seven low registers are taken (r7 may be the frame pointer), so the
         * left sum (ADD without flags) and `end` (CMP) live in high registers.
         * gcc 12 assembles Thumb-1 inline assembly in divided syntax unless
         * -masm-syntax-unified is given, hence the .syntax switches.
         */
        __asm__ volatile(
            ".syntax unified\n"
            "1:\n\t"
            "ldrh  %[offset], [%[record], #0]\n\t"
            "lsls  %[offset], %[offset], #1\n\t"
            "ldrsh %[left], [%[row], %[offset]]\n\t"
            "ldrsh %[offset], [%[row_next], %[offset]]\n\t"
            "subs  %[offset], %[offset], %[left]\n\t"
            "ldrb  %[frac], [%[record], #2]\n\t"
            "muls  %[frac], %[offset], %[frac]\n\t"
            "adds  %[slope_sum], %[slope_sum], %[frac]\n\t"
            "add   %[left_sum], %[left]\n\t"
            "ldrh  %[offset], [%[record], #4]\n\t"
            "lsls  %[offset], %[offset], #1\n\t"
            "ldrsh %[left], [%[row], %[offset]]\n\t"
            "ldrsh %[offset], [%[row_next], %[offset]]\n\t"
            "subs  %[offset], %[offset], %[left]\n\t"
            "ldrb  %[frac], [%[record], #6]\n\t"
            "muls  %[frac], %[offset], %[frac]\n\t"
            "adds  %[slope_sum], %[slope_sum], %[frac]\n\t"
            "add   %[left_sum], %[left]\n\t"
            "adds  %[record], %[record], #8\n\t"
            "cmp   %[record], %[end]\n\t"
            "bne   1b\n\t"
            ".syntax divided\n"
            : [record] "+l"(record), [slope_sum] "+l"(slope_sum), [left_sum] "+h"(left_sum),
              [offset] "=&l"(offset), [left] "=&l"(left), [frac] "=&l"(frac)
            : [row] "l"(row), [row_next] "l"(row_next), [end] "r"(end)
            : "cc", "memory");
    }

    /* Modulo 2^32, then back to int32 (gcc converts modulo 2^32): exact because the true sum fits. */
    return (int32_t)((uint32_t)bias + (left_sum << 8) + slope_sum);
}

#endif

#endif
