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
 * Coordinate record for the node loop below: {uint16_t offset; uint8_t frac;},
 * 3 bytes on AVR (no padding), read with three LD X+. The offset is stored in
 * bytes (2 * (E(0, i) + s)), so the loop adds it to the row address without
 * doubling it: the doubling happens once per layer input instead of once per
 * edge. A row of the Uno's 32 KiB flash has far fewer than 32768 samples, so the
 * byte offset fits in uint16.
 */
#define KANC_FRAC_T uint8_t
#define KANC_FRAC_ENCODE(f) ((uint8_t)(f))
#define KANC_HAL_COORD_BYTES 3
#define KANC_HAL_COORD_FRAC_OFFSET 2
#define KANC_HAL_COORD_BYTE_OFFSET 1

/*
 * Fast node path: returns bias + the sum of the edge terms (spec 2.4) of the
 * coordinate records c in [coords, coords_end), at least one. Each term uses the
 * samples row[c.offset / 2] and row[c.offset / 2 + 1] with fraction c.frac, so the
 * result is the same int32 as calling kanc_hal_edge_accumulate once per record.
 *
 * Each edge term e lies in [-2^23, 2^23 - 1]. The loop adds e + 2^23, which is
 * in [0, 2^24) and so needs no sign extension: adding 0x80 to the high byte of
 * T[s] adds 2^15 * 256 = 2^23 to e. The wrapper subtracts n * 2^23 up front. All
 * of this is addition modulo 2^32, and the accumulator invariant puts the true
 * sum in int32, so the result is exact.
 *
 * The loop body is written twice, so the loop test runs once per two edges; an
 * odd count enters at the second copy. Cost per edge: 6 cycles for three LD,
 * 2 for Z = row + offset, 12 for four LPM, 16 for the slope, the edge term and
 * the 32-bit add, and 2 for the loop test (half of CP, CPC, BRNE): 38 cycles.
 * Not inlined, because its register operands do not fit next to a caller's
 * live values. MUL and MULSU write r1, so r1 (the compiler's zero register)
 * is cleared once after the loop and a local zero register is used inside it.
 */
#define KANC_HAL_HAS_NODE_SUM 1

static __attribute__((noinline, unused)) uint32_t kanc_hal_node_loop(const uint8_t *coord, const uint8_t *coords_end,
                                                                    const int16_t *row, uint32_t sum,
                                                                    uint8_t odd_count)
{
    int16_t t0;        /* T[s], then T[s] + 2^15 */
    int16_t d;         /* T[s + 1] - T[s] */
    uint16_t e_low;    /* bits 0..15 of e + 2^23; bits 16..23 are built in r1 */
    uint8_t frac;
    uint8_t zero = 0;
    const int16_t *samples;

#define KANC_HAL_NODE_EDGE                                                                  \
        /* Step 1: Z = row + byte offset (address of T[s]), f = frac. */                    \
        "ld r30, X+"                "\n\t"                                                  \
        "ld r31, X+"                "\n\t"                                                  \
        "ld %[f], X+"               "\n\t"                                                  \
        "add r30, %A[row]"          "\n\t"                                                  \
        "adc r31, %B[row]"          "\n\t"                                                  \
        /* Step 2: read T[s] and T[s + 1]; slope d (exact by the slope invariant). */       \
        "lpm %A[t0], Z+"            "\n\t"                                                  \
        "lpm %B[t0], Z+"            "\n\t"                                                  \
        "lpm %A[d], Z+"             "\n\t"                                                  \
        "lpm %B[d], Z"              "\n\t"                                                  \
        "sub %A[d], %A[t0]"         "\n\t"                                                  \
        "sbc %B[d], %B[t0]"         "\n\t"                                                  \
        /* Step 3: T[s] + 2^15, so that the edge term below is e + 2^23 >= 0. */            \
        "subi %B[t0], 0x80"         "\n\t"                                                  \
        /* Step 4: e + 2^23 = d * f + (T[s] + 2^15) * 256 in 24 bits: el and r1. */         \
        "mul %A[d], %[f]"           "\n\t"  /* r1:r0 = d.lo * f (unsigned) */               \
        "movw %[el], r0"            "\n\t"                                                  \
        "mulsu %B[d], %[f]"         "\n\t"  /* r1:r0 = d.hi * f (signed x unsigned) */      \
        "add %B[el], r0"            "\n\t"                                                  \
        "adc r1, %B[t0]"            "\n\t"                                                  \
        "add %B[el], %A[t0]"        "\n\t"                                                  \
        "adc r1, %[zero]"           "\n\t"                                                  \
        /* Step 5: sum += e + 2^23, an unsigned 24-bit value. */                            \
        "add %A[sum], %A[el]"       "\n\t"                                                  \
        "adc %B[sum], %B[el]"       "\n\t"                                                  \
        "adc %C[sum], r1"           "\n\t"                                                  \
        "adc %D[sum], %[zero]"      "\n\t"

    __asm__ volatile (
        "sbrc %[odd], 0"            "\n\t"
        "rjmp 2f"                   "\n\t"
        "1:"                        "\n\t"
        KANC_HAL_NODE_EDGE
        "2:"                        "\n\t"
        KANC_HAL_NODE_EDGE
        /* Next pair of records until coords_end. */
        "cp r26, %A[end]"           "\n\t"
        "cpc r27, %B[end]"          "\n\t"
        "brne 1b"                   "\n\t"
        "clr r1"                    "\n\t"
        : [sum] "+r" (sum), [x] "+x" (coord), [t0] "=&d" (t0), [d] "=&a" (d), [f] "=&a" (frac),
          [el] "=&r" (e_low), [z] "=&z" (samples)
        : [row] "r" (row), [end] "r" (coords_end), [odd] "r" (odd_count), [zero] "r" (zero)
        : "r0", "memory"
    );
#undef KANC_HAL_NODE_EDGE
    return sum;
}

static inline int32_t kanc_hal_node_sum(const void *coords, const void *coords_end, const int16_t *row, int32_t bias)
{
    const uint8_t *first = (const uint8_t *)coords;
    const uint8_t *end = (const uint8_t *)coords_end;
    uint16_t bytes = (uint16_t)(end - first);

    /* bytes = 3 * count exactly, and 43691 * 3 = 1 (mod 2^16), so this is count without a division. */
    uint16_t count = (uint16_t)(bytes * 43691u);

    /* count * 2^23 modulo 2^32 is (count * 2^7 modulo 2^16) * 2^16: one 16-bit shift, then byte moves. */
    uint32_t correction = (uint32_t)(uint16_t)(count << 7) << 16;

    /* Take off the 2^23 that the loop adds per edge, then convert back (exact, see above). */
    uint32_t sum = kanc_hal_node_loop(first, end, row, (uint32_t)bias - correction, (uint8_t)count);

    return (int32_t)sum;
}
#endif /* KANC_NO_FAST_EDGE */

/*
 * Rounding shift of spec section 1 for every int32 a and n in [0, 31], with one
 * variable shift: t = a >> (n - 1), then (t >> 1) + (the bit shifted out), which
 * is t - (t >> 1) = (a >> n) + ((a >> (n - 1)) & 1). avr-gcc 5.4 compiles a
 * variable int32 shift into a loop of 7 cycles per bit. Here whole bytes move
 * with MOV (8 cycles per 8 bits, the sign byte made with LSL, SBC), the rest
 * (at most 7 bits) shifts with ASR and three ROR, and the last one-bit shift
 * leaves the rounding bit in the carry flag for an ADC chain. Cost: 72 cycles
 * for n = 31, 45 for n = 14 (a typical r), 3 for n = 0.
 */
#ifndef KANC_NO_FAST_RSHIFT
#define KANC_HAL_HAS_RSHIFT_ROUND 1

static inline int32_t kanc_hal_rshift_round(int32_t a, uint8_t n)
{
    uint8_t count;
    uint8_t zero = 0;

    if (n == 0) {
        return a;
    }
    count = (uint8_t)(n - 1);
    __asm__ (
        /* Step 1: whole bytes of the shift by n - 1, sign-extending the top byte. */
        "subi %[count], 8"          "\n\t"
        "brcs 2f"                   "\n\t"
        "1:"                        "\n\t"
        "mov %A[a], %B[a]"          "\n\t"
        "mov %B[a], %C[a]"          "\n\t"
        "mov %C[a], %D[a]"          "\n\t"
        "lsl %D[a]"                 "\n\t"
        "sbc %D[a], %D[a]"          "\n\t"
        "subi %[count], 8"          "\n\t"
        "brcc 1b"                   "\n\t"
        "2:"                        "\n\t"
        /* Step 2: the remaining 0..7 bits (floor shift). */
        "subi %[count], -8"         "\n\t"
        "breq 4f"                   "\n\t"
        "3:"                        "\n\t"
        "asr %D[a]"                 "\n\t"
        "ror %C[a]"                 "\n\t"
        "ror %B[a]"                 "\n\t"
        "ror %A[a]"                 "\n\t"
        "dec %[count]"              "\n\t"
        "brne 3b"                   "\n\t"
        "4:"                        "\n\t"
        /* Step 3: t >> 1 plus the bit shifted out (round half up). */
        "asr %D[a]"                 "\n\t"
        "ror %C[a]"                 "\n\t"
        "ror %B[a]"                 "\n\t"
        "ror %A[a]"                 "\n\t"
        "adc %A[a], %[zero]"        "\n\t"
        "adc %B[a], %[zero]"        "\n\t"
        "adc %C[a], %[zero]"        "\n\t"
        "adc %D[a], %[zero]"        "\n\t"
        : [a] "+r" (a), [count] "+d" (count)
        : [zero] "r" (zero)
    );
    return a;
}
#endif /* KANC_NO_FAST_RSHIFT */

#endif /* KANC_HAL_H */
