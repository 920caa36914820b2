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

/*
 * Reads the int32 stored as two int16 words, low word first, from flash: four
 * LPM Z+ give its bytes in order, because AVR is little-endian. The asm is not
 * volatile, so the compiler may merge repeated reads of constant flash.
 */
#define KANC_HAL_HAS_READ_S32 1

static inline int32_t kanc_hal_read_s32(const int16_t *words)
{
    int32_t value;

    __asm__ (
        "lpm %A[value], Z+"         "\n\t"
        "lpm %B[value], Z+"         "\n\t"
        "lpm %C[value], Z+"         "\n\t"
        "lpm %D[value], Z"          "\n\t"
        : [value] "=r" (value), [z] "+z" (words)
    );
    return value;
}

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
 * Per edge, with d = T[s + 1] - T[s] split into bytes dH (signed) and dL:
 *
 *     e + 2^23 = dL * f + 2^8 * (T[s] + dH * f + 2^15)       in [0, 2^24)
 *
 * The bracket is computed modulo 2^16 (MULSU, then a 16-bit add into T[s]), and
 * the 2^15 is the 0x80 added to the third byte. The true value lies in [0, 2^24),
 * so the three bytes taken modulo 2^24 are exact and need no sign extension.
 * The fourth byte of the 32-bit add takes 0x80 on odd copies of the unrolled body
 * and 0x7F on even ones. One pair of edges then adds 2 * 2^23 + 0xFF * 2^24, which
 * is 0 modulo 2^32, so the 2^23 offsets cancel without a count of the records.
 * When the count is odd the first edge runs unpaired, and its excess 0x7F800000
 * is taken off up front. All of this is addition modulo 2^32, and the accumulator
 * invariant puts the true sum in int32, so the result is exact.
 *
 * The body is written four times and the loop test runs once per four edges. The
 * entry copy follows from (coords_end - coords) mod 4, because 3 * n mod 4 picks
 * n mod 4. Cost per edge: 6 cycles for three LD, 2 for Z = row + offset, 12 for
 * four LPM, 2 for the slope, 12 for the two products and the 32-bit add, and 1.25
 * for the loop test: 35.25 cycles. Per node: about 36 cycles of entry, exit and
 * five saved registers, plus the call.
 *
 * The function is naked so that it saves only the five call-saved registers it
 * uses (r13, r14, r15, r28, r29); the C caller sees an ordinary avr-gcc call:
 * bias in r22..r25 (and the result there), coords in r20:r21, coords_end in
 * r18:r19, row in r16:r17 (read only). MUL writes r1, the compiler's zero
 * register, so it is cleared before the return.
 */
#define KANC_HAL_HAS_NODE_SUM 1

#define KANC_HAL_NODE_EDGE(fourth_byte)                                                     \
        /* Step 1: Z = row + byte offset (address of T[s]), f = frac. */                    \
        "ld r30, X+"                "\n\t"                                                  \
        "ld r31, X+"                "\n\t"                                                  \
        "ld r20, X+"                "\n\t"                                                  \
        "add r30, r16"              "\n\t"                                                  \
        "adc r31, r17"              "\n\t"                                                  \
        /* Step 2: T[s] in r15:r14, slope d in r19:r18 (exact by the slope invariant). */   \
        "lpm r14, Z+"               "\n\t"                                                  \
        "lpm r15, Z+"               "\n\t"                                                  \
        "lpm r18, Z+"               "\n\t"                                                  \
        "lpm r19, Z"                "\n\t"                                                  \
        "sub r18, r14"              "\n\t"                                                  \
        "sbc r19, r15"              "\n\t"                                                  \
        /* Step 3: r15:r14 = T[s] + dH * f modulo 2^16. */                                  \
        "mulsu r19, r20"            "\n\t"                                                  \
        "add r14, r0"               "\n\t"                                                  \
        "adc r15, r1"               "\n\t"                                                  \
        /* Step 4: e + 2^23 in bytes r0, r1, r15, from dL * f and the bracket. */           \
        "mul r18, r20"              "\n\t"                                                  \
        "add r1, r14"               "\n\t"                                                  \
        "adc r15, r21"              "\n\t"  /* r21 = 0x80: the 2^23 offset */               \
        /* Step 5: sum += e + 2^23, and 0x80 or 0x7F into the fourth byte. */               \
        "add r22, r0"               "\n\t"                                                  \
        "adc r23, r1"               "\n\t"                                                  \
        "adc r24, r15"              "\n\t"                                                  \
        "adc r25, " fourth_byte     "\n\t"

/* A naked function has no C return statement: its assembly returns with RET. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wreturn-type"
static __attribute__((naked, noinline, noclone, unused)) int32_t
kanc_hal_node_asm(int32_t bias __attribute__((unused)), const void *coords __attribute__((unused)),
                  const void *coords_end __attribute__((unused)), const int16_t *row __attribute__((unused)))
{
    __asm__ volatile (
        "push r13"                  "\n\t"
        "push r14"                  "\n\t"
        "push r15"                  "\n\t"
        "push r28"                  "\n\t"
        "push r29"                  "\n\t"
        "movw r26, r20"             "\n\t"  /* X = coords */
        "movw r28, r18"             "\n\t"  /* Y = coords_end */
        "ldi r20, 0x7F"             "\n\t"
        "mov r13, r20"              "\n\t"
        "ldi r21, 0x80"             "\n\t"

        /* r20 = low byte of 3 * n. An odd n leaves one unpaired 0x7F copy: take off 0x7F800000. */
        "mov r20, r28"              "\n\t"
        "sub r20, r26"              "\n\t"
        "sbrs r20, 0"               "\n\t"
        "rjmp 1f"                   "\n\t"
        "subi r24, 0x80"            "\n\t"
        "sbci r25, 0x7F"            "\n\t"
        "1:"                        "\n\t"

        /* Enter at copy 1 + (3 * n mod 4), so that the copies left run in whole groups of four. */
        "sbrc r20, 1"               "\n\t"
        "rjmp 2f"                   "\n\t"
        "sbrc r20, 0"               "\n\t"
        "rjmp 12f"                  "\n\t"
        "rjmp 11f"                  "\n\t"
        "2:"                        "\n\t"
        "sbrc r20, 0"               "\n\t"
        "rjmp 14f"                  "\n\t"
        "rjmp 13f"                  "\n\t"

        "11:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r21")
        "12:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r13")
        "13:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r21")
        "14:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r13")

        /* Next group of four records until coords_end. */
        "cp r26, r28"               "\n\t"
        "cpc r27, r29"              "\n\t"
        "breq 15f"                  "\n\t"
        "rjmp 11b"                  "\n\t"
        "15:"                       "\n\t"
        "clr r1"                    "\n\t"
        "pop r29"                   "\n\t"
        "pop r28"                   "\n\t"
        "pop r15"                   "\n\t"
        "pop r14"                   "\n\t"
        "pop r13"                   "\n\t"
        "ret"                       "\n\t"
    );
}

/*
 * Fast layer path: all n_out nodes of a dense layer in one call, two nodes per
 * pass. A pass reads each coordinate record once and adds its edge term to the
 * sums of nodes j (r25..r22) and j + 1 (r7..r4): the rows lie row_length samples
 * apart, so the second address is the first plus a constant. Each sum gets the
 * 0x80 and 0x7F fourth bytes and the odd-count correction of kanc_hal_node_asm,
 * so both stay exact. An odd n_out ends with one node in the single-row loop of
 * kanc_hal_node_asm. The entry copy and the odd-count correction depend only on
 * the number of records, so they are worked out once per layer (r12).
 *
 * Arguments (avr-gcc ABI): coords r25:r24, coords_end r23:r22, table r21:r20,
 * bias r19:r18 (int16 words in flash, low word first), acc r17:r16 (RAM),
 * n_out r15:r14 (at least 1), row_length r13:r12 (samples, below 32768).
 * It saves the call-saved r2..r17, r28 and r29 (72 cycles per layer). During a
 * pass the bias and accumulator pointers wait on the stack, because the second
 * sum needs r4..r7.
 *
 * Cost per edge in a pass: 6 cycles for three LD, 2 + 2 for the two row addresses,
 * 2 x 26 for the two edge terms and 1.25 for the loop test, 31.6 cycles. Per pair
 * of nodes about 90 cycles: the two bias reads, four PUSH and POP, the odd-count
 * correction, the entry jump, the two stores, the row advance and the pair count.
 */
/* Edge term of the record at Z into the sum in s0..s3 (see KANC_HAL_NODE_EDGE); Z ends at T[s] + 3 bytes. */
#define KANC_HAL_PAIR_TERM(s0, s1, s2, s3, fourth_byte)                                     \
        "lpm r14, Z+"               "\n\t"                                                  \
        "lpm r15, Z+"               "\n\t"                                                  \
        "lpm r18, Z+"               "\n\t"                                                  \
        "lpm r19, Z"                "\n\t"                                                  \
        "sub r18, r14"              "\n\t"                                                  \
        "sbc r19, r15"              "\n\t"                                                  \
        "mulsu r19, r20"            "\n\t"                                                  \
        "add r14, r0"               "\n\t"                                                  \
        "adc r15, r1"               "\n\t"                                                  \
        "mul r18, r20"              "\n\t"                                                  \
        "add r1, r14"               "\n\t"                                                  \
        "adc r15, r21"              "\n\t"                                                  \
        "add " s0 ", r0"          "\n\t"                                                    \
        "adc " s1 ", r1"          "\n\t"                                                    \
        "adc " s2 ", r15"         "\n\t"                                                    \
        "adc " s3 ", " fourth_byte"\n\t"

/* One record for two nodes: row j at Z = row + offset, then row j + 1 at Z + row_bytes - 3. */
#define KANC_HAL_PAIR_EDGE(fourth_byte)                                                     \
        "ld r30, X+"                "\n\t"                                                  \
        "ld r31, X+"                "\n\t"                                                  \
        "ld r20, X+"                "\n\t"                                                  \
        "add r30, r16"              "\n\t"                                                  \
        "adc r31, r17"              "\n\t"                                                  \
        KANC_HAL_PAIR_TERM("r22", "r23", "r24", "r25", fourth_byte)                         \
        "add r30, r10"              "\n\t"                                                  \
        "adc r31, r11"              "\n\t"                                                  \
        KANC_HAL_PAIR_TERM("r4", "r5", "r6", "r7", fourth_byte)

static __attribute__((naked, noinline, noclone, unused)) void
kanc_hal_layer_asm(const void *coords __attribute__((unused)), const void *coords_end __attribute__((unused)),
                   const int16_t *table __attribute__((unused)), const int16_t *bias __attribute__((unused)),
                   int32_t *acc __attribute__((unused)), uint16_t n_out __attribute__((unused)),
                   uint16_t row_length __attribute__((unused)))
{
    __asm__ volatile (
        "push r2"                   "\n\t"
        "push r3"                   "\n\t"
        "push r4"                   "\n\t"
        "push r5"                   "\n\t"
        "push r6"                   "\n\t"
        "push r7"                   "\n\t"
        "push r8"                   "\n\t"
        "push r9"                   "\n\t"
        "push r10"                  "\n\t"
        "push r11"                  "\n\t"
        "push r12"                  "\n\t"
        "push r13"                  "\n\t"
        "push r14"                  "\n\t"
        "push r15"                  "\n\t"
        "push r16"                  "\n\t"
        "push r17"                  "\n\t"
        "push r28"                  "\n\t"
        "push r29"                  "\n\t"

        /* r3:r2 = coords, Y = coords_end, r5:r4 = bias, r7:r6 = acc, r17:r16 = row j. */
        "movw r2, r24"              "\n\t"
        "movw r28, r22"             "\n\t"
        "movw r4, r18"              "\n\t"
        "movw r6, r16"              "\n\t"
        "movw r16, r20"             "\n\t"

        /* T flag = n_out odd, r9:r8 = pairs of nodes, r11:r10 = 2 * row_length - 3 (bytes). */
        "bst r14, 0"                "\n\t"
        "movw r8, r14"              "\n\t"
        "lsr r9"                    "\n\t"
        "ror r8"                    "\n\t"
        "movw r10, r12"             "\n\t"
        "lsl r10"                   "\n\t"
        "rol r11"                   "\n\t"
        "ldi r20, 3"                "\n\t"
        "sub r10, r20"              "\n\t"
        "sbc r11, r1"               "\n\t"

        /* r12 = low byte of 3 * n (n records), the same for every node; r13 = 0x7F, r21 = 0x80. */
        "mov r12, r22"              "\n\t"
        "sub r12, r24"              "\n\t"
        "ldi r20, 0x7F"             "\n\t"
        "mov r13, r20"              "\n\t"
        "ldi r21, 0x80"             "\n\t"
        "cp r8, r1"                 "\n\t"
        "cpc r9, r1"                "\n\t"
        "brne 6f"                   "\n\t"
        "rjmp 50f"                  "\n\t"

        /* Next pair: push acc, sums = B_j and B_j+1 from flash, push the bias pointer, X = coords. */
        "6:"                        "\n\t"
        "push r6"                   "\n\t"
        "push r7"                   "\n\t"
        "movw r30, r4"              "\n\t"
        "lpm r22, Z+"               "\n\t"
        "lpm r23, Z+"               "\n\t"
        "lpm r24, Z+"               "\n\t"
        "lpm r25, Z+"               "\n\t"
        "lpm r4, Z+"                "\n\t"
        "lpm r5, Z+"                "\n\t"
        "lpm r6, Z+"                "\n\t"
        "lpm r7, Z+"                "\n\t"
        "push r30"                  "\n\t"
        "push r31"                  "\n\t"
        "movw r26, r2"              "\n\t"

        /* An odd n leaves one unpaired 0x7F copy in each sum: take 0x7F800000 off each sum. */
        "sbrs r12, 0"               "\n\t"
        "rjmp 1f"                   "\n\t"
        "subi r24, 0x80"            "\n\t"
        "sbci r25, 0x7F"            "\n\t"
        "sub r6, r21"               "\n\t"
        "sbc r7, r13"               "\n\t"
        "1:"                        "\n\t"

        /* Enter at copy 1 + (3 * n mod 4), as in kanc_hal_node_asm. */
        "sbrc r12, 1"               "\n\t"
        "rjmp 2f"                   "\n\t"
        "sbrc r12, 0"               "\n\t"
        "rjmp 62f"                  "\n\t"
        "rjmp 61f"                  "\n\t"
        "2:"                        "\n\t"
        "sbrc r12, 0"               "\n\t"
        "rjmp 64f"                  "\n\t"
        "rjmp 63f"                  "\n\t"

        "61:"                       "\n\t"
        KANC_HAL_PAIR_EDGE("r21")
        "62:"                       "\n\t"
        KANC_HAL_PAIR_EDGE("r13")
        "63:"                       "\n\t"
        KANC_HAL_PAIR_EDGE("r21")
        "64:"                       "\n\t"
        KANC_HAL_PAIR_EDGE("r13")

        "cp r26, r28"               "\n\t"
        "cpc r27, r29"              "\n\t"
        "breq 65f"                  "\n\t"
        "rjmp 61b"                  "\n\t"

        /* acc[j] and acc[j + 1] = the sums, pointers back from the stack, row j += 2 rows. */
        "65:"                       "\n\t"
        "clr r1"                    "\n\t"
        "pop r31"                   "\n\t"
        "pop r30"                   "\n\t"
        "pop r27"                   "\n\t"
        "pop r26"                   "\n\t"
        "st X+, r22"                "\n\t"
        "st X+, r23"                "\n\t"
        "st X+, r24"                "\n\t"
        "st X+, r25"                "\n\t"
        "st X+, r4"                 "\n\t"
        "st X+, r5"                 "\n\t"
        "st X+, r6"                 "\n\t"
        "st X+, r7"                 "\n\t"
        "movw r4, r30"              "\n\t"
        "movw r6, r26"              "\n\t"
        "movw r30, r10"             "\n\t"
        "adiw r30, 3"               "\n\t"
        "lsl r30"                   "\n\t"
        "rol r31"                   "\n\t"
        "add r16, r30"              "\n\t"
        "adc r17, r31"              "\n\t"
        "ldi r30, 1"                "\n\t"
        "sub r8, r30"               "\n\t"
        "sbc r9, r1"                "\n\t"
        "breq 50f"                  "\n\t"
        "rjmp 6b"                   "\n\t"

        /* Odd n_out: the last node alone, sum = B_j, X = coords. */
        "50:"                       "\n\t"
        "brts 5f"                   "\n\t"
        "rjmp 16f"                  "\n\t"
        "5:"                        "\n\t"
        "movw r30, r4"              "\n\t"
        "lpm r22, Z+"               "\n\t"
        "lpm r23, Z+"               "\n\t"
        "lpm r24, Z+"               "\n\t"
        "lpm r25, Z"                "\n\t"
        "movw r26, r2"              "\n\t"
        "sbrs r12, 0"               "\n\t"
        "rjmp 1f"                   "\n\t"
        "subi r24, 0x80"            "\n\t"
        "sbci r25, 0x7F"            "\n\t"
        "1:"                        "\n\t"
        "sbrc r12, 1"               "\n\t"
        "rjmp 2f"                   "\n\t"
        "sbrc r12, 0"               "\n\t"
        "rjmp 12f"                  "\n\t"
        "rjmp 11f"                  "\n\t"
        "2:"                        "\n\t"
        "sbrc r12, 0"               "\n\t"
        "rjmp 14f"                  "\n\t"
        "rjmp 13f"                  "\n\t"

        "11:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r21")
        "12:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r13")
        "13:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r21")
        "14:"                       "\n\t"
        KANC_HAL_NODE_EDGE("r13")

        "cp r26, r28"               "\n\t"
        "cpc r27, r29"              "\n\t"
        "breq 15f"                  "\n\t"
        "rjmp 11b"                  "\n\t"
        "15:"                       "\n\t"
        "clr r1"                    "\n\t"
        "movw r30, r6"              "\n\t"
        "st Z+, r22"                "\n\t"
        "st Z+, r23"                "\n\t"
        "st Z+, r24"                "\n\t"
        "st Z, r25"                 "\n\t"

        "16:"                       "\n\t"
        "pop r29"                   "\n\t"
        "pop r28"                   "\n\t"
        "pop r17"                   "\n\t"
        "pop r16"                   "\n\t"
        "pop r15"                   "\n\t"
        "pop r14"                   "\n\t"
        "pop r13"                   "\n\t"
        "pop r12"                   "\n\t"
        "pop r11"                   "\n\t"
        "pop r10"                   "\n\t"
        "pop r9"                    "\n\t"
        "pop r8"                    "\n\t"
        "pop r7"                    "\n\t"
        "pop r6"                    "\n\t"
        "pop r5"                    "\n\t"
        "pop r4"                    "\n\t"
        "pop r3"                    "\n\t"
        "pop r2"                    "\n\t"
        "ret"                       "\n\t"
    );
}
#pragma GCC diagnostic pop
#undef KANC_HAL_PAIR_EDGE
#undef KANC_HAL_PAIR_TERM
#undef KANC_HAL_NODE_EDGE

/*
 * Layer hook of kanc_board.h: acc[j] = B_j + the edge sum of row j for every node
 * j < n_out, with `bias` the n_out int32 biases as int16 word pairs in flash.
 * Define KANC_NO_FAST_LAYER to run the node loop of kanc_layer.h in C around
 * kanc_hal_node_sum instead (and the coordinate loop in C around the requantizer).
 */
#ifndef KANC_NO_FAST_LAYER
#define KANC_HAL_HAS_LAYER_SUM 1

static inline void kanc_hal_layer_sum(const void *coords, const void *coords_end, const int16_t *table,
                                      uint16_t row_length, const int16_t *bias, int32_t *acc, uint16_t n_out)
{
    if (n_out != 0u) {
        kanc_hal_layer_asm(coords, coords_end, table, bias, acc, n_out, row_length);
    }
}
#endif /* KANC_NO_FAST_LAYER */

static inline int32_t kanc_hal_node_sum(const void *coords, const void *coords_end, const int16_t *row, int32_t bias)
{
    return kanc_hal_node_asm(bias, coords, coords_end, row);
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
 * for n = 31, 45 for n = 14 (a typical r), 3 for n = 0. The C requantizer uses
 * it only in builds with KANC_NO_FAST_REQUANT; the assembly one below has its own.
 */
#if !defined(KANC_NO_FAST_RSHIFT) && !defined(KANC_NO_FAST_EDGE)
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
#endif /* KANC_NO_FAST_RSHIFT, KANC_NO_FAST_EDGE */

/*
 * Fast requantizer (spec 2.2 steps 1 to 4) in assembly, for every valid record:
 *
 *     kanc_hal_requant_scale(a, record)      = rshift_round(sat16(rshift_round(a, p)) * M, r) + z
 *     kanc_hal_requant_multiply(t, record)   = rshift_round(t * M, r) + z       (steps 2 to 4 only)
 *
 * `record` points at a kanc_requant_t in flash: z at byte 0 (int32, low word
 * first), M at byte 4, p at byte 6, r at byte 8, each word little-endian, so the
 * low byte of p and r is the whole value. kanc_requant.h checks that layout at
 * compile time against the KANC_HAL_REQUANT_*_BYTE macros below.
 *
 * Each record byte is read once with LPM. Each rounding shift by n >= 1 floor-
 * shifts by n - 1 (two bytes with MOVW, one byte with MOV, then 4, 2 and 1 bits,
 * each selected by one bit of n - 1), shifts one more bit and adds the bit that
 * leaves into the carry: (a >> n) + ((a >> (n - 1)) & 1). The int16 saturation
 * compares the two high bytes with the sign of the second byte. The 16 x 16 -> 32
 * multiply is four MUL, MULS and MULSU instructions: t is signed and M in
 * [0, 32767] has a high byte below 0x80, so MULS and MULSU read it exactly.
 *
 * Cost, with the call: about 100 cycles plus 4 per shifted bit for
 * kanc_hal_requant_scale, and about 70 plus 4 per bit for
 * kanc_hal_requant_multiply. requant_selftest.c checks both against the
 * spec's formulas over random and boundary values.
 *
 * Both functions are naked and use only r0, r1 (cleared before RET) and the
 * call-clobbered r18..r27, r30, r31, so a call saves no register. The model
 * outputs use kanc_hal_requant_scale. The layer coordinate loops at the end of
 * this block run the same steps inline and add step 5. Define
 * KANC_NO_FAST_REQUANT (or KANC_NO_FAST_EDGE, which turns off every fast path)
 * to compile the portable C requantizer and coordinate loops.
 */
#if !defined(KANC_NO_FAST_REQUANT) && !defined(KANC_NO_FAST_EDGE)
#define KANC_HAL_HAS_REQUANT 1
#define KANC_HAL_REQUANT_OFFSET_BYTE 0
#define KANC_HAL_REQUANT_MULTIPLIER_BYTE 4
#define KANC_HAL_REQUANT_PRE_SHIFT_BYTE 6
#define KANC_HAL_REQUANT_SHIFT_BYTE 8

/*
 * Rounding shift of the int32 in bytes (b0, b1, b2, b3), least significant first,
 * by n = count + 1 with count in [0, 30]. `zero` contains 0. b0:b1 and b2:b3 must be
 * register pairs for MOVW. Labels 21..24 and 26 are local to one expansion.
 */
#define KANC_HAL_RSHIFT_ROUND_BYTES(b0, b1, b2, b3, count, zero)                          \
        /* Whole bytes: 16 bits if count has bit 4, 8 bits if it has bit 3. */          \
        "sbrs " count ", 4"         "\n\t"                                              \
        "rjmp 21f"                  "\n\t"                                              \
        "movw " b0 ", " b2          "\n\t"                                              \
        "lsl " b3                   "\n\t"                                              \
        "sbc " b3 ", " b3           "\n\t"                                              \
        "mov " b2 ", " b3           "\n\t"                                              \
        "21:"                       "\n\t"                                              \
        "sbrs " count ", 3"         "\n\t"                                              \
        "rjmp 22f"                  "\n\t"                                              \
        "mov " b0 ", " b1           "\n\t"                                              \
        "mov " b1 ", " b2           "\n\t"                                              \
        "mov " b2 ", " b3           "\n\t"                                              \
        "lsl " b3                   "\n\t"                                              \
        "sbc " b3 ", " b3           "\n\t"                                              \
        "22:"                       "\n\t"                                              \
        /* The remaining 0..7 bits of the floor shift: 4, 2 and 1 as count selects. */  \
        "sbrs " count ", 2"         "\n\t"                                              \
        "rjmp 23f"                  "\n\t"                                              \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        "23:"                       "\n\t"                                              \
        "sbrs " count ", 1"         "\n\t"                                              \
        "rjmp 24f"                  "\n\t"                                              \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        "24:"                       "\n\t"                                              \
        "sbrs " count ", 0"         "\n\t"                                              \
        "rjmp 26f"                  "\n\t"                                              \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        "26:"                       "\n\t"                                              \
        /* Last bit: t >> 1, and round half up with the bit that left (in the carry). */ \
        KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        "adc " b0 ", " zero         "\n\t"                                              \
        "adc " b1 ", " zero         "\n\t"                                              \
        "adc " b2 ", " zero         "\n\t"                                              \
        "adc " b3 ", " zero         "\n\t"

/* Arithmetic shift right by one bit of an int32 in four bytes; the bit that leaves goes to the carry. */
#define KANC_HAL_ASR32(b0, b1, b2, b3)                                                  \
        "asr " b3                   "\n\t"                                              \
        "ror " b2                   "\n\t"                                              \
        "ror " b1                   "\n\t"                                              \
        "ror " b0                   "\n\t"

/*
 * Steps 2 to 4, entered with t in r23:r22 (signed), M in r21:r20, r in r19, Z at
 * the record (its z) and r1 = 0. Leaves v in r25..r22 and r1 = 0.
 */
#define KANC_HAL_REQUANT_STEPS_2_TO_4                                                   \
        /* Step 2: m = t * M in r27..r24, 16 x 16 -> 32 bits. r18 = 0. */               \
        "clr r18"                   "\n\t"                                              \
        "mul r22, r20"              "\n\t"  /* tL * ML, unsigned */                     \
        "movw r24, r0"              "\n\t"                                              \
        "muls r23, r21"             "\n\t"  /* tH * MH, signed (MH < 0x80) */           \
        "movw r26, r0"              "\n\t"                                              \
        "mulsu r23, r20"            "\n\t"  /* tH * ML, signed x unsigned */            \
        "sbc r27, r18"              "\n\t"  /* sign-extend: the carry is bit 15 */      \
        "add r25, r0"               "\n\t"                                              \
        "adc r26, r1"               "\n\t"                                              \
        "adc r27, r18"              "\n\t"                                              \
        "mul r22, r21"              "\n\t"  /* tL * MH, unsigned */                     \
        "add r25, r0"               "\n\t"                                              \
        "adc r26, r1"               "\n\t"                                              \
        "adc r27, r18"              "\n\t"                                              \
        /* Step 3: m = rshift_round(m, r); nothing to do for r = 0. */                  \
        "subi r19, 1"               "\n\t"                                              \
        "brcs 31f"                  "\n\t"                                              \
        KANC_HAL_RSHIFT_ROUND_BYTES("r24", "r25", "r26", "r27", "r19", "r18")           \
        "31:"                       "\n\t"                                              \
        /* Step 4: v = m + z, z read from flash; no overflow (|m| < 2^30, |z| <= 2^30). */ \
        "lpm r22, Z+"               "\n\t"                                              \
        "lpm r23, Z+"               "\n\t"                                              \
        "lpm r20, Z+"               "\n\t"                                              \
        "lpm r21, Z"                "\n\t"                                              \
        "add r22, r24"              "\n\t"                                              \
        "adc r23, r25"              "\n\t"                                              \
        "adc r20, r26"              "\n\t"                                              \
        "adc r21, r27"              "\n\t"                                              \
        "movw r24, r20"             "\n\t"                                              \
        "clr r1"                    "\n\t"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wreturn-type"

/* Steps 1 to 4 of spec 2.2: a in r25..r22, record in r21:r20 and r1 = 0; v left in r25..r22. */
#define KANC_HAL_REQUANT_STEPS_1_TO_4                                                   \
        /* Read M (r21:r20), p (r18) and r (r19), then point Z back at z. */            \
        "movw r30, r20"             "\n\t"                                              \
        "adiw r30, 4"               "\n\t"                                              \
        "lpm r20, Z+"               "\n\t"                                              \
        "lpm r21, Z+"               "\n\t"                                              \
        "lpm r18, Z+"               "\n\t"                                              \
        "adiw r30, 1"               "\n\t"                                              \
        "lpm r19, Z"                "\n\t"                                              \
        "sbiw r30, 8"               "\n\t"                                              \
        /* Step 1: rshift_round(a, p); nothing to do for p = 0. */                      \
        "subi r18, 1"               "\n\t"                                              \
        "brcs 1f"                   "\n\t"                                              \
        KANC_HAL_RSHIFT_ROUND_BYTES("r22", "r23", "r24", "r25", "r18", "r1")            \
        "1:"                        "\n\t"                                              \
        /* Step 1: saturate to int16. In range iff bytes 2 and 3 equal the sign of byte 1. */\
        "mov r18, r23"              "\n\t"                                              \
        "lsl r18"                   "\n\t"                                              \
        "sbc r18, r18"              "\n\t"                                              \
        "cp r24, r18"               "\n\t"                                              \
        "cpc r25, r18"              "\n\t"                                              \
        "breq 2f"                   "\n\t"                                              \
        "ldi r22, 0xFF"             "\n\t"  /* 32767 */                                 \
        "ldi r23, 0x7F"             "\n\t"                                              \
        "sbrs r25, 7"               "\n\t"                                              \
        "rjmp 2f"                   "\n\t"                                              \
        "ldi r22, 0x00"             "\n\t"  /* -32768 */                                \
        "ldi r23, 0x80"             "\n\t"                                              \
        "2:"                        "\n\t"                                              \
        KANC_HAL_REQUANT_STEPS_2_TO_4

/* Steps 1 to 4 of spec 2.2: a in r25..r22, record in r21:r20, v returned in r25..r22. */
static __attribute__((naked, noinline, noclone, unused)) int32_t
kanc_hal_requant_scale(int32_t a __attribute__((unused)), const int16_t *record __attribute__((unused)))
{
    __asm__ volatile (
        KANC_HAL_REQUANT_STEPS_1_TO_4
        "ret"                       "\n\t"
    );
}

/* Steps 2 to 4 of spec 2.2 (layer 0, where p = 0): t in r25:r24, record in r23:r22, v returned in r25..r22. */
static __attribute__((naked, noinline, noclone, unused)) int32_t
kanc_hal_requant_multiply(int16_t t __attribute__((unused)), const int16_t *record __attribute__((unused)))
{
    __asm__ volatile (
        "movw r30, r22"             "\n\t"
        "movw r22, r24"             "\n\t"  /* t */
        "adiw r30, 4"               "\n\t"
        "lpm r20, Z+"               "\n\t"
        "lpm r21, Z+"               "\n\t"
        "adiw r30, 2"               "\n\t"
        "lpm r19, Z"                "\n\t"
        "sbiw r30, 8"               "\n\t"
        KANC_HAL_REQUANT_STEPS_2_TO_4
        "ret"                       "\n\t"
    );
}

/*
 * Step 5 and the coordinate record of one layer input, entered with v in r25..r22,
 * the record in r17:r16, the next coordinate record at r15:r14, E(0, i) in bytes
 * in r13:r12 and r1 = 0. Stores {2 * (E(0, i) + s), f} as kanc_coord_store does,
 * then advances r17:r16 by one record (12 bytes), r15:r14 by 3 and r13:r12 by
 * 2 * (S + 1), counts the inputs left in r11:r10 down and branches to label 44
 * (the epilogue) after the last one. Labels 41 to 43 are local to it.
 */
#define KANC_HAL_COORD_STEP_5                                                           \
        /* S in r19:r18 (1..256), and r20 = S - 1, the high byte of U = S * 256 - 1. */ \
        "movw r30, r16"             "\n\t"                                              \
        "adiw r30, 10"              "\n\t"                                              \
        "lpm r18, Z+"               "\n\t"                                              \
        "lpm r19, Z"                "\n\t"                                              \
        "mov r20, r18"              "\n\t"                                              \
        "subi r20, 1"               "\n\t"                                              \
        /* Step 5: u = v saturated to [0, U]. U has low byte 0xFF, so u = v when */      \
        /* bytes 3 and 2 of v are 0 and byte 1 is at most S - 1. */                     \
        "sbrc r25, 7"               "\n\t"                                              \
        "rjmp 41f"                  "\n\t"                                              \
        "or r24, r25"               "\n\t"                                              \
        "brne 42f"                  "\n\t"                                              \
        "cp r20, r23"               "\n\t"                                              \
        "brcc 43f"                  "\n\t"                                              \
        "42:"                       "\n\t"  /* v > U: u = U */                          \
        "ldi r22, 0xFF"             "\n\t"                                              \
        "mov r23, r20"              "\n\t"                                              \
        "rjmp 43f"                  "\n\t"                                              \
        "41:"                       "\n\t"  /* v < 0: u = 0 */                          \
        "clr r22"                   "\n\t"                                              \
        "clr r23"                   "\n\t"                                              \
        "43:"                       "\n\t"                                              \
        /* Record: byte offset E(0, i) * 2 + s * 2 with s = u >> 8, then f = u & 255. */ \
        "mov r24, r23"              "\n\t"                                              \
        "clr r25"                   "\n\t"                                              \
        "lsl r24"                   "\n\t"                                              \
        "rol r25"                   "\n\t"                                              \
        "add r24, r12"              "\n\t"                                              \
        "adc r25, r13"              "\n\t"                                              \
        "movw r30, r14"             "\n\t"                                              \
        "st Z+, r24"                "\n\t"                                              \
        "st Z+, r25"                "\n\t"                                              \
        "st Z+, r22"                "\n\t"                                              \
        "movw r14, r30"             "\n\t"                                              \
        /* Next input: E(0, i + 1) = E(0, i) + S + 1, next record, one input less. */   \
        "subi r18, 0xFF"            "\n\t"  /* S + 1 */                              \
        "sbci r19, 0xFF"            "\n\t"                                              \
        "lsl r18"                   "\n\t"                                              \
        "rol r19"                   "\n\t"                                              \
        "add r12, r18"              "\n\t"                                              \
        "adc r13, r19"              "\n\t"                                              \
        "subi r16, -12"             "\n\t"                                              \
        "sbci r17, -1"              "\n\t"                                              \
        "ldi r30, 1"                "\n\t"                                              \
        "sub r10, r30"              "\n\t"                                              \
        "sbc r11, r1"               "\n\t"                                              \
        "breq 44f"                  "\n\t"

/* Saves r10..r17, r28, r29 and loads the loop state from the arguments (see kanc_hal_coords_asm_scale). */
#define KANC_HAL_COORD_PROLOGUE                                                         \
        "push r10"                  "\n\t"                                              \
        "push r11"                  "\n\t"                                              \
        "push r12"                  "\n\t"                                              \
        "push r13"                  "\n\t"                                              \
        "push r14"                  "\n\t"                                              \
        "push r15"                  "\n\t"                                              \
        "push r16"                  "\n\t"                                              \
        "push r17"                  "\n\t"                                              \
        "push r28"                  "\n\t"                                              \
        "push r29"                  "\n\t"                                              \
        "movw r28, r24"             "\n\t"  /* Y = inputs (RAM) */                      \
        "movw r10, r22"             "\n\t"  /* inputs left */                           \
        "movw r16, r20"             "\n\t"  /* requantizer record (flash) */            \
        "movw r14, r18"             "\n\t"  /* coordinate record (RAM) */               \
        "clr r12"                   "\n\t"  /* E(0, 0) = 0 */                           \
        "clr r13"                   "\n\t"

#define KANC_HAL_COORD_EPILOGUE                                                         \
        "44:"                       "\n\t"                                              \
        "pop r29"                   "\n\t"                                              \
        "pop r28"                   "\n\t"                                              \
        "pop r17"                   "\n\t"                                              \
        "pop r16"                   "\n\t"                                              \
        "pop r15"                   "\n\t"                                              \
        "pop r14"                   "\n\t"                                              \
        "pop r13"                   "\n\t"                                              \
        "pop r12"                   "\n\t"                                              \
        "pop r11"                   "\n\t"                                              \
        "pop r10"                   "\n\t"                                              \
        "ret"                       "\n\t"

/*
 * Coordinates of n_in >= 1 layer inputs from int32 accumulators: for input i,
 * v = kanc_hal_requant_scale(acc[i], record i), u = v saturated to [0, S_i * 256 - 1]
 * and the record {2 * (E(0, i) + (u >> 8)), u & 255}. Arguments: acc r25:r24 (RAM),
 * n_in r23:r22, records r21:r20 (flash, 12 bytes each), coords r19:r18 (RAM).
 * It saves the call-saved r10..r17, r28 and r29 (40 cycles per layer). Per input it
 * costs the inline requantizer plus about 40 cycles for the loads, step 5, the
 * record store and the loop.
 */
static __attribute__((naked, noinline, noclone, unused)) void
kanc_hal_coords_asm_scale(const int32_t *acc __attribute__((unused)), uint16_t n_in __attribute__((unused)),
                          const int16_t *records __attribute__((unused)), void *coords __attribute__((unused)))
{
    __asm__ volatile (
        KANC_HAL_COORD_PROLOGUE
        "40:"                       "\n\t"
        "ld r22, Y+"                "\n\t"
        "ld r23, Y+"                "\n\t"
        "ld r24, Y+"                "\n\t"
        "ld r25, Y+"                "\n\t"
        "movw r20, r16"             "\n\t"
        KANC_HAL_REQUANT_STEPS_1_TO_4
        KANC_HAL_COORD_STEP_5
        "rjmp 40b"                  "\n\t"
        KANC_HAL_COORD_EPILOGUE
    );
}

/*
 * As kanc_hal_coords_asm_scale for layer 0, from the int16 model inputs x_q
 * (r25:r24, RAM) with steps 2 to 4 only, because p = 0 in every layer-0 record.
 */
static __attribute__((naked, noinline, noclone, unused)) void
kanc_hal_coords_asm_multiply(const int16_t *x_q __attribute__((unused)), uint16_t n_in __attribute__((unused)),
                             const int16_t *records __attribute__((unused)), void *coords __attribute__((unused)))
{
    __asm__ volatile (
        KANC_HAL_COORD_PROLOGUE
        "40:"                       "\n\t"
        "ld r22, Y+"                "\n\t"
        "ld r23, Y+"                "\n\t"
        "movw r30, r16"             "\n\t"
        "adiw r30, 4"               "\n\t"
        "lpm r20, Z+"               "\n\t"
        "lpm r21, Z+"               "\n\t"
        "adiw r30, 2"               "\n\t"
        "lpm r19, Z"                "\n\t"
        "sbiw r30, 8"               "\n\t"
        KANC_HAL_REQUANT_STEPS_2_TO_4
        KANC_HAL_COORD_STEP_5
        "rjmp 40b"                  "\n\t"
        KANC_HAL_COORD_EPILOGUE
    );
}

#pragma GCC diagnostic pop
#undef KANC_HAL_COORD_PROLOGUE
#undef KANC_HAL_COORD_EPILOGUE
#undef KANC_HAL_COORD_STEP_5
#undef KANC_HAL_REQUANT_STEPS_1_TO_4
#undef KANC_HAL_REQUANT_STEPS_2_TO_4
#undef KANC_HAL_RSHIFT_ROUND_BYTES
#undef KANC_HAL_ASR32

/*
 * Layer coordinate hooks of kanc_board.h: the records of n_in dense-layer inputs
 * in the byte-offset layout of KANC_HAL_COORD_BYTE_OFFSET, from accumulators
 * (steps 1 to 5 of spec 2.2) or from the int16 model inputs (steps 2 to 5).
 * `records` points at the first kanc_requant_t in flash. KANC_NO_FAST_LAYER turns
 * them off.
 */
#ifndef KANC_NO_FAST_LAYER
#define KANC_HAL_HAS_LAYER_COORDS 1

static inline void kanc_hal_coords_from_accumulators(const int32_t *acc, uint16_t n_in, const int16_t *records,
                                                     void *coords)
{
    if (n_in != 0u) {
        kanc_hal_coords_asm_scale(acc, n_in, records, coords);
    }
}

static inline void kanc_hal_coords_from_inputs(const int16_t *x_q, uint16_t n_in, const int16_t *records,
                                               void *coords)
{
    if (n_in != 0u) {
        kanc_hal_coords_asm_multiply(x_q, n_in, records, coords);
    }
}
#endif /* KANC_NO_FAST_LAYER */
#endif /* KANC_NO_FAST_REQUANT, KANC_NO_FAST_EDGE */

#endif /* KANC_HAL_H */
