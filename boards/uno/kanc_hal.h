/*
 * kanc_hal.h for the Arduino Uno (ATmega328P, 16 MHz, avr-gcc with avr-libc).
 *
 * Tables live in flash (PROGMEM) because the ATmega328P has 32 KiB of flash but
 * only 2 KiB of SRAM. AVR flash is a separate address space, so every table
 * sample is read with LPM (pgm_read_word or the inline assembly below). A plain
 * pointer dereference would read SRAM at the same address instead.
 *
 * Cycle markers: a write to GPIOR0 (I/O address 0x1E, data address 0x3E) costs
 * one cycle (OUT) and has no side effect on the chip, so the simavr harness
 * counts exact cycles between two marker writes.
 */
#ifndef KANC_HAL_H
#define KANC_HAL_H

#include <stdint.h>
#include <avr/io.h>
#include <avr/pgmspace.h>

#define KANC_HAL_BOARD "uno"

/* Table placement and the sample read: every table access goes through LPM. */
#define KANC_TABLE_ATTR PROGMEM
#define KANC_READ_S16(ptr) ((int16_t)pgm_read_word(ptr))

/* Cycle marker: write `value` to GPIOR0 (one OUT instruction, one cycle). */
#define KANC_CYCLE_MARK(value) (GPIOR0 = (uint8_t)(value))

/*
 * Fast edge path (spec section 2.4, first form):
 *
 *     acc + T[s] * 2^8 + (T[s + 1] - T[s]) * f
 *
 * `samples` points at T[s] in flash, `f` is the fraction in [0, 255]. The result
 * is the same int32 as the portable C expression for every table that obeys the
 * slope invariant (T[s + 1] - T[s] fits in int16):
 *
 *   - the difference d is computed with SUB/SBC modulo 2^16, which is exact
 *     because the slope invariant keeps d within int16;
 *   - the edge term e = T[s] * 256 + d * f lies in [-2^23, 2^23 - 1], so it is
 *     assembled exactly in 24 bits from the partial products
 *     MUL (d low byte, unsigned x unsigned) and MULSU (d high byte, signed x unsigned)
 *     plus T[s] shifted up by one byte, then sign-extended to 32 bits;
 *   - the accumulator add is a plain 32-bit ADD/ADC chain (no rounding, no
 *     saturation: the accumulator invariant rules out int32 overflow).
 *
 * Cost: 32 cycles from the first LPM to the last ADC (4 LPM x 3, MUL and MULSU
 * x 2, 18 one-cycle instructions), not counting the pointer and fraction set-up
 * that the caller's loop does. MULSU takes its operands from r16..r23 only,
 * hence the "a" constraints. Define KANC_NO_FAST_EDGE to compile the portable C
 * path of the runtime instead (for comparisons).
 */
#ifndef KANC_NO_FAST_EDGE
#define KANC_HAL_HAS_EDGE_ACCUMULATE 1

static inline int32_t kanc_hal_edge_accumulate(int32_t acc, const int16_t *samples, uint8_t f)
{
    int16_t t0;       /* T[s] */
    int16_t d;        /* T[s + 1] - T[s], then clobbered */
    uint32_t e;       /* edge term, 24 bits sign-extended to 32 */
    uint8_t frac = f;

    __asm__ (
        /* Step 1: read T[s] and T[s + 1] from flash (LPM, 3 cycles each). */
        "lpm %A[t0], Z+"            "\n\t"
        "lpm %B[t0], Z+"            "\n\t"
        "lpm %A[d], Z+"             "\n\t"
        "lpm %B[d], Z"              "\n\t"

        /* Step 2: slope d = T[s + 1] - T[s] (exact by the slope invariant). */
        "sub %A[d], %A[t0]"         "\n\t"
        "sbc %B[d], %B[t0]"         "\n\t"

        /* Step 3: e = d * f + T[s] * 256, exact in 24 bits. */
        "mul %A[d], %[f]"           "\n\t"  /* r1:r0 = d.lo * f (unsigned) */
        "movw %A[e], r0"            "\n\t"  /* e.b0 = r0, e.b1 = r1 */
        "mulsu %B[d], %[f]"         "\n\t"  /* r1:r0 = d.hi * f (signed x unsigned) */
        "add %B[e], r0"             "\n\t"
        "mov %C[e], r1"             "\n\t"
        "clr r1"                    "\n\t"  /* restore __zero_reg__; EOR keeps the carry */
        "adc %C[e], %B[t0]"         "\n\t"
        "add %B[e], %A[t0]"         "\n\t"
        "adc %C[e], r1"             "\n\t"

        /* Step 4: sign-extend e from 24 to 32 bits. */
        "mov %D[e], %C[e]"          "\n\t"
        "lsl %D[e]"                 "\n\t"
        "sbc %D[e], %D[e]"          "\n\t"

        /* Step 5: acc += e (exact: the accumulator invariant rules out overflow). */
        "add %A[acc], %A[e]"        "\n\t"
        "adc %B[acc], %B[e]"        "\n\t"
        "adc %C[acc], %C[e]"        "\n\t"
        "adc %D[acc], %D[e]"        "\n\t"
        : [acc] "+r" (acc), [t0] "=&r" (t0), [d] "=&a" (d), [e] "=&r" (e), [z] "+z" (samples)
        : [f] "a" (frac)
        : "r0"
    );
    return acc;
}

/*
 * Coordinate record for the row loop below: {uint16_t offset; uint8_t frac;},
 * 3 bytes on AVR (no padding), read with three LD X+.
 */
#define KANC_FRAC_T uint8_t
#define KANC_FRAC_ENCODE(f) ((uint8_t)(f))
#define KANC_HAL_COORD_BYTES 3

/*
 * Fast row path: returns acc + the sum, over the n_in >= 1 coordinate records c
 * at `coords` (KANC_HAL_COORD_BYTES bytes each), of the edge term of samples
 * row[c.offset], row[c.offset + 1] with fraction c.frac (spec 2.4): the same
 * int32 as calling kanc_hal_edge_accumulate once per coordinate. Not inlined,
 * because its 20 register operands do not fit next to a caller's live values.
 *
 * Each edge term e lies in [-2^23, 2^23 - 1]. The loop adds e + 2^23, which is
 * in [0, 2^24) and so needs no sign extension: flipping bit 23 of the 24-bit
 * two's complement e gives it (SUBI 0x80 on the top byte). The n extra 2^23 are
 * subtracted up front. All of this is addition modulo 2^32, and the accumulator
 * invariant puts the true sum in int32, so the result is exact.
 *
 * Cost per edge: 44 cycles (6 for three LD, 4 for Z = row + 2 * offset, 12 for
 * four LPM, 18 for the slope, the edge term and the add, 4 for the loop test).
 * NOTE: runtime_c (kanc_layer.h) does not call this yet. It calls
 * kanc_hal_edge_accumulate once per edge (about 59 cycles per edge in the loop).
 */
#define KANC_HAL_HAS_ROW_ACCUMULATE 1

static __attribute__((noinline, unused)) int32_t kanc_hal_row_accumulate(int32_t acc, const int16_t *row,
                                                                         const void *coords, uint16_t n_in)
{
    const uint8_t *coord = (const uint8_t *)coords;
    const uint8_t *coords_end = coord + (uint16_t)(n_in * KANC_HAL_COORD_BYTES);
    uint32_t sum = (uint32_t)acc - ((uint32_t)n_in << 23);
    int16_t t0;        /* T[s] */
    int16_t d;         /* T[s + 1] - T[s] */
    uint16_t e_low;    /* bits 0..15 of e + 2^23 */
    uint8_t e_high;    /* bits 16..23 of e + 2^23 */
    uint8_t frac;
    const int16_t *samples;

    __asm__ volatile (
        "1:"                        "\n\t"
        /* Step 1: Z = row + 2 * offset (byte address of T[s]), f = frac. */
        "ld r30, X+"                "\n\t"
        "ld r31, X+"                "\n\t"
        "ld %[f], X+"               "\n\t"
        "lsl r30"                   "\n\t"
        "rol r31"                   "\n\t"
        "add r30, %A[row]"          "\n\t"
        "adc r31, %B[row]"          "\n\t"

        /* Step 2: read T[s] and T[s + 1]; slope d (exact by the slope invariant). */
        "lpm %A[t0], Z+"            "\n\t"
        "lpm %B[t0], Z+"            "\n\t"
        "lpm %A[d], Z+"             "\n\t"
        "lpm %B[d], Z"              "\n\t"
        "sub %A[d], %A[t0]"         "\n\t"
        "sbc %B[d], %B[t0]"         "\n\t"

        /* Step 3: e = d * f + T[s] * 256 in 24 bits, as in kanc_hal_edge_accumulate. */
        "mul %A[d], %[f]"           "\n\t"
        "movw %[el], r0"            "\n\t"
        "mulsu %B[d], %[f]"         "\n\t"
        "add %B[el], r0"            "\n\t"
        "mov %[eh], r1"             "\n\t"
        "clr r1"                    "\n\t"
        "adc %[eh], %B[t0]"         "\n\t"
        "add %B[el], %A[t0]"        "\n\t"
        "adc %[eh], r1"             "\n\t"

        /* Step 4: e + 2^23 (flip bit 23), then sum += it as an unsigned 24-bit value. */
        "subi %[eh], 0x80"          "\n\t"
        "add %A[sum], %A[el]"       "\n\t"
        "adc %B[sum], %B[el]"       "\n\t"
        "adc %C[sum], %[eh]"        "\n\t"
        "adc %D[sum], r1"           "\n\t"

        /* Step 5: next coordinate until coords_end. */
        "cp r26, %A[end]"           "\n\t"
        "cpc r27, %B[end]"          "\n\t"
        "brne 1b"                   "\n\t"
        : [sum] "+r" (sum), [x] "+x" (coord), [t0] "=&r" (t0), [d] "=&a" (d), [f] "=&a" (frac),
          [el] "=&r" (e_low), [eh] "=&d" (e_high), [z] "=&z" (samples)
        : [row] "r" (row), [end] "r" (coords_end)
        : "r0", "memory"
    );
    return (int32_t)sum;
}
#endif /* KANC_NO_FAST_EDGE */

/*
 * Rounding shift of spec section 1, rshift_round(a, n) = (a >> n) + ((a >> (n - 1)) & 1),
 * for n in [0, 31]. avr-gcc 5.4 turns a variable int32 shift into a loop of about
 * 6 cycles per bit. Here t = a >> (n - 1) is built from constant shifts by 16, 8,
 * 4, 2 and 1 (byte moves and short ASR/ROR runs, about 70 cycles at most), and
 * (t >> 1) + (t & 1) is the same integer because floor shifts compose.
 */
/* NOTE: runtime_c (kanc_requant.h) does not call this yet. */
#define KANC_HAL_HAS_RSHIFT_ROUND 1

static inline int32_t kanc_hal_rshift_round(int32_t a, uint8_t n)
{
    uint8_t first;
    int32_t t = a;

    if (n == 0) {
        return a;
    }
    first = (uint8_t)(n - 1);
    if (first & 16) {
        t >>= 16;
    }
    if (first & 8) {
        t >>= 8;
    }
    if (first & 4) {
        t >>= 4;
    }
    if (first & 2) {
        t >>= 2;
    }
    if (first & 1) {
        t >>= 1;
    }
    return (t >> 1) + (t & 1);
}

#endif /* KANC_HAL_H */
