/*
 * On-device check of the assembly requantizer in kanc_hal.h against a portable C
 * transcription of spec 2.2 steps 1 to 4, run under simavr by tests/test_uno_requant.py:
 *
 *   scale:    kanc_hal_requant_scale(a, record)
 *                 == rshift_round(sat16(rshift_round(a, p)) * M, r) + z
 *             for every record and every int32 value a;
 *   multiply: kanc_hal_requant_multiply(t, record) == rshift_round(t * M, r) + z
 *             for every record and every int16 value t.
 *
 * The same two lines also count the layer coordinate hooks (step 5 and the
 * coordinate record): kanc_hal_coords_from_accumulators on the scale line and
 * kanc_hal_coords_from_inputs on the multiply line, once per record and value as
 * a one-input layer, and once per value on a five-input layer of the records in
 * coord_records below, whose segment counts S (1, 2, 16, 255, 256) the test's
 * records (all S = 16) do not reach. A coordinate mismatch is reported with
 * device and expected packed as byte_offset * 256 + f.
 *
 * The reference uses the spec's two-shift rounding, (a >> n) + ((a >> (n - 1)) & 1),
 * not the runtime's kanc_rshift_round, so the two do not share code.
 *
 * Output over USART0, one line per check: "<name> checked <count> mismatches <count>\r\n".
 * After a check with mismatches, one more line gives the first of them:
 * "first record <k> value <x> device <v> expected <v>\r\n". Then the firmware sleeps.
 *
 * requant_cases.h (written by the test) defines:
 *   REQUANT_RECORDS, requant_records[REQUANT_RECORDS][6] PROGMEM
 *                               kanc_requant_t words: z low, z high, M, p, r, S
 *   REQUANT_VALUES, requant_values[]   int32 inputs of kanc_hal_requant_scale
 *   REQUANT_INPUTS, requant_inputs[]   int16 inputs of kanc_hal_requant_multiply
 */
#include <stdint.h>
#include <avr/interrupt.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>

#include "kanc_hal.h"
#include "uart.h"
#include "requant_cases.h"

#ifndef KANC_HAL_HAS_REQUANT
#error "requant_selftest.c checks the assembly requantizer, which KANC_NO_FAST_REQUANT or KANC_NO_FAST_EDGE turn off"
#endif

/* Word indices of a record, in the kanc_requant_t order the assembly reads. */
enum { WORD_Z_LOW, WORD_Z_HIGH, WORD_MULTIPLIER, WORD_PRE_SHIFT, WORD_SHIFT, WORD_SEGMENTS };

typedef char check_offset_byte[(KANC_HAL_REQUANT_OFFSET_BYTE == 2 * WORD_Z_LOW) ? 1 : -1];
typedef char check_multiplier_byte[(KANC_HAL_REQUANT_MULTIPLIER_BYTE == 2 * WORD_MULTIPLIER) ? 1 : -1];
typedef char check_pre_shift_byte[(KANC_HAL_REQUANT_PRE_SHIFT_BYTE == 2 * WORD_PRE_SHIFT) ? 1 : -1];
typedef char check_shift_byte[(KANC_HAL_REQUANT_SHIFT_BYTE == 2 * WORD_SHIFT) ? 1 : -1];

struct mismatch {
    uint16_t record;
    int32_t value;
    int32_t device;
    int32_t expected;
};

/* Rounding shift exactly as spec section 1 writes it. */
static int32_t rshift_round_spec(int32_t a, uint8_t n)
{
    if (n == 0) {
        return a;
    }
    return (a >> n) + ((a >> (n - 1)) & 1);
}

static int16_t read_word(const int16_t *record, uint8_t word)
{
    return (int16_t)pgm_read_word(record + word);
}

/* Steps 2 to 4 of spec 2.2, kept out of line so the compiler cannot fold it into the checks. */
static int32_t __attribute__((noinline)) multiply_reference(int16_t t, const int16_t *record)
{
    int32_t multiplier = read_word(record, WORD_MULTIPLIER);
    uint8_t shift = (uint8_t)read_word(record, WORD_SHIFT);
    int32_t offset = (int32_t)(uint16_t)read_word(record, WORD_Z_LOW)
                     + (int32_t)read_word(record, WORD_Z_HIGH) * 65536;

    return rshift_round_spec((int32_t)t * multiplier, shift) + offset;
}

/* Steps 1 to 4 of spec 2.2: pre-shift, saturation to int16, then steps 2 to 4. */
static int32_t __attribute__((noinline)) scale_reference(int32_t a, const int16_t *record)
{
    int32_t x = rshift_round_spec(a, (uint8_t)read_word(record, WORD_PRE_SHIFT));
    int16_t t;

    if (x < -32768) {
        t = -32768;
    } else if (x > 32767) {
        t = 32767;
    } else {
        t = (int16_t)x;
    }
    return multiply_reference(t, record);
}

/*
 * Records of the five-input layer check, in kanc_requant_t words (z low, z high, M, p, r, S).
 * The multiply line uses them as layer-0 records: steps 2 to 4 ignore p.
 */
#define COORD_RECORDS 5
static const int16_t coord_records[COORD_RECORDS][6] PROGMEM = {
    {0, 0, 16384, 0, 6, 1},
    {-1000, -1, 20000, 4, 13, 2},
    {2048, 0, 20000, 8, 14, 16},
    {0, 1, 32767, 8, 9, 255},
    {-32768, 0, 30000, 12, 14, 256},
};

/* Coordinate record in the layout the hooks write: byte offset of T[s] in the row, then f. */
typedef struct {
    uint16_t offset;
    uint8_t frac;
} coord_t;

typedef char check_coord_size[(sizeof(coord_t) == KANC_HAL_COORD_BYTES) ? 1 : -1];

static coord_t coords[COORD_RECORDS];
static int32_t layer_values[COORD_RECORDS];
static int16_t layer_inputs[COORD_RECORDS];

static int32_t coord_packed(const coord_t *coord)
{
    return (int32_t)coord->offset * 256 + coord->frac;
}

/*
 * Step 5 of spec 2.2 and the record of spec 2.3: u = v saturated to [0, S * 256 - 1],
 * byte offset 2 * (row_offset + (u >> 8)), f = u & 255, packed as coord_packed does.
 */
static int32_t __attribute__((noinline)) coord_reference(int32_t v, const int16_t *record, uint16_t row_offset)
{
    int32_t u_max = (int32_t)read_word(record, WORD_SEGMENTS) * 256 - 1;
    int32_t u = v < 0 ? 0 : (v > u_max ? u_max : v);

    return (2 * ((int32_t)row_offset + u / 256)) * 256 + u % 256;
}

static void write_int32(int32_t value)
{
    if (value < 0) {
        uart_write_byte('-');
        uart_write_uint32(0u - (uint32_t)value);
    } else {
        uart_write_uint32((uint32_t)value);
    }
}

static void report(const char *name, uint32_t checked, uint32_t mismatches, const struct mismatch *first)
{
    uart_write_string(name);
    uart_write_string(" checked ");
    uart_write_uint32(checked);
    uart_write_string(" mismatches ");
    uart_write_uint32(mismatches);
    uart_write_string("\r\n");
    if (mismatches != 0u) {
        uart_write_string("first record ");
        uart_write_uint32(first->record);
        uart_write_string(" value ");
        write_int32(first->value);
        uart_write_string(" device ");
        write_int32(first->device);
        uart_write_string(" expected ");
        write_int32(first->expected);
        uart_write_string("\r\n");
    }
}

/* Counts a mismatch and keeps the first one. */
static void compare(uint32_t *mismatches, struct mismatch *first, uint16_t record, int32_t value,
                    int32_t device, int32_t expected)
{
    if (device == expected) {
        return;
    }
    if (*mismatches == 0u) {
        first->record = record;
        first->value = value;
        first->device = device;
        first->expected = expected;
    }
    ++*mismatches;
}

int main(void)
{
    struct mismatch first = {0, 0, 0, 0};
    uint32_t checked, mismatches;
    uint16_t k, i, row_offset;

    uart_init();

    /* Steps 1 to 4 on int32 values. */
    checked = mismatches = 0;
    for (k = 0; k < REQUANT_RECORDS; k++) {
        for (i = 0; i < REQUANT_VALUES; i++) {
            int32_t a = requant_values[i];

            compare(&mismatches, &first, k, a, kanc_hal_requant_scale(a, requant_records[k]),
                    scale_reference(a, requant_records[k]));
            kanc_hal_coords_from_accumulators(&requant_values[i], 1u, requant_records[k], coords);
            compare(&mismatches, &first, k, a, coord_packed(&coords[0]),
                    coord_reference(scale_reference(a, requant_records[k]), requant_records[k], 0u));
            checked++;
        }
    }
    for (i = 0; i < REQUANT_VALUES; i++) {
        for (k = 0; k < COORD_RECORDS; k++) {
            layer_values[k] = requant_values[(i + k) % REQUANT_VALUES];
        }
        kanc_hal_coords_from_accumulators(layer_values, COORD_RECORDS, coord_records[0], coords);
        for (k = 0, row_offset = 0; k < COORD_RECORDS; k++) {
            compare(&mismatches, &first, (uint16_t)(REQUANT_RECORDS + k), layer_values[k], coord_packed(&coords[k]),
                    coord_reference(scale_reference(layer_values[k], coord_records[k]), coord_records[k], row_offset));
            row_offset = (uint16_t)(row_offset + read_word(coord_records[k], WORD_SEGMENTS) + 1);
        }
    }
    report("scale", checked, mismatches, &first);

    /* Steps 2 to 4 on int16 values. */
    checked = mismatches = 0;
    for (k = 0; k < REQUANT_RECORDS; k++) {
        for (i = 0; i < REQUANT_INPUTS; i++) {
            int16_t t = requant_inputs[i];

            compare(&mismatches, &first, k, t, kanc_hal_requant_multiply(t, requant_records[k]),
                    multiply_reference(t, requant_records[k]));
            kanc_hal_coords_from_inputs(&requant_inputs[i], 1u, requant_records[k], coords);
            compare(&mismatches, &first, k, t, coord_packed(&coords[0]),
                    coord_reference(multiply_reference(t, requant_records[k]), requant_records[k], 0u));
            checked++;
        }
    }
    for (i = 0; i < REQUANT_INPUTS; i++) {
        for (k = 0; k < COORD_RECORDS; k++) {
            layer_inputs[k] = requant_inputs[(i + k) % REQUANT_INPUTS];
        }
        kanc_hal_coords_from_inputs(layer_inputs, COORD_RECORDS, coord_records[0], coords);
        for (k = 0, row_offset = 0; k < COORD_RECORDS; k++) {
            compare(&mismatches, &first, (uint16_t)(REQUANT_RECORDS + k), layer_inputs[k], coord_packed(&coords[k]),
                    coord_reference(multiply_reference(layer_inputs[k], coord_records[k]), coord_records[k], row_offset));
            row_offset = (uint16_t)(row_offset + read_word(coord_records[k], WORD_SEGMENTS) + 1);
        }
    }
    report("multiply", checked, mismatches, &first);
    uart_flush();

    cli();
    sleep_enable();
    sleep_cpu();
    for (;;) {
    }
}
