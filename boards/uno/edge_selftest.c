/*
 * On-device check of the fast paths in kanc_hal.h against the portable C
 * expressions of the fixed-point spec, run under simavr by tests/test_uno.py.
 *
 *   edge:   kanc_hal_edge_accumulate(acc, T + s, f) == acc + T[s] * 256 + (T[s + 1] - T[s]) * f
 *           for every sample pair, every f in [0, 255] and every start accumulator;
 *   row:    kanc_hal_node_sum(coords, coords + n, row, acc) == acc + the edge sum over
 *           the first n coordinates, for every n >= 1 and every start accumulator
 *           (both odd and even n, the two entry points of its unrolled loop);
 *           the same line also counts kanc_hal_layer_sum on those n coordinates with
 *           one to three nodes whose rows start one sample apart and whose biases
 *           come from flash, checked node by node against the portable edge sum;
 *   rshift: kanc_hal_rshift_round(a, n) == (a >> n) + ((a >> (n - 1)) & 1) (a if n = 0)
 *           for every value and every n in [0, 31].
 *
 * Output over USART0, one line per check: "<name> checked <count> mismatches <count>\r\n",
 * then sleep.
 *
 * edge_cases.h (written by the test) defines:
 *   EDGE_PAIRS, edge_samples[EDGE_PAIRS][2] PROGMEM   pairs obeying the slope invariant
 *   EDGE_ACCS, edge_accs[EDGE_ACCS]                   start accumulators (int32)
 *   EDGE_ROW_LENGTH, edge_row[] PROGMEM               a table row obeying the slope invariant
 *   EDGE_COORDS, edge_coords[EDGE_COORDS][2]          (offset < EDGE_ROW_LENGTH - 1, frac) pairs
 *   EDGE_SHIFT_VALUES, edge_shift_values[]            int32 values for the rounding shift
 */
#include <stddef.h>
#include <stdint.h>
#include <avr/interrupt.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>

#include "kanc_hal.h"
#include "uart.h"
#include "edge_cases.h"

/* Coordinate record in the layout kanc_hal_node_sum reads: byte offset of T[s] in the row, then f. */
typedef struct {
    uint16_t offset;
    uint8_t frac;
} coord_t;

typedef char check_coord_size[(sizeof(coord_t) == KANC_HAL_COORD_BYTES) ? 1 : -1];
typedef char check_coord_frac_offset[(offsetof(coord_t, frac) == KANC_HAL_COORD_FRAC_OFFSET) ? 1 : -1];

static coord_t coords[EDGE_COORDS];

/* Portable references, kept out of line so the compiler cannot fold them into the fast paths. */
static int32_t __attribute__((noinline)) edge_portable(int32_t acc, const int16_t *samples, uint8_t f)
{
    int16_t left = (int16_t)pgm_read_word(samples);
    int16_t right = (int16_t)pgm_read_word(samples + 1);
    int16_t slope = (int16_t)(right - left);

    return acc + (int32_t)left * 256 + (int32_t)slope * (int32_t)f;
}

static int32_t __attribute__((noinline)) rshift_portable(int32_t a, uint8_t n)
{
    if (n == 0) {
        return a;
    }
    return (a >> n) + ((a >> (n - 1)) & 1);
}

/* Layer check: up to LAYER_NODES rows, row j starting at edge_row + j, so offsets are clipped to fit. */
#define LAYER_NODES 3
#define LAYER_MAX_OFFSET (EDGE_ROW_LENGTH - 1 - LAYER_NODES)

/*
 * Node biases in flash as int16 word pairs, low word first. The third and fourth are
 * 2^31 - 1 - 40 * 2^23 and -2^31 + 40 * 2^23 (high words 32767 - 5120 and -32768 + 5120),
 * as close to the int32 limits as 40 edge terms of magnitude up to 2^23 allow.
 */
#define LAYER_BIASES 5
static const int16_t layer_bias[LAYER_BIASES + LAYER_NODES - 1][2] PROGMEM = {
    {0, 0}, {-1, -1}, {-1, 32767 - 5120}, {0, -32768 + 5120}, {0x1234, 0x0567}, {0, 0}, {-1, -1}
};

static coord_t layer_coords[EDGE_COORDS];
static int32_t layer_acc[LAYER_NODES];

static int32_t bias_portable(const int16_t *words)
{
    return (int32_t)((uint32_t)(uint16_t)pgm_read_word(words) | ((uint32_t)(uint16_t)pgm_read_word(words + 1) << 16));
}

/* Runs kanc_hal_layer_sum on the first n layer coordinates; returns 1 when a node differs from the portable sum. */
static uint8_t layer_mismatch(uint16_t n, uint16_t bias_index)
{
    uint16_t n_out = (uint16_t)(1u + n % LAYER_NODES);
    uint16_t j, k;
    uint8_t mismatch = 0;

    kanc_hal_layer_sum(layer_coords, layer_coords + n, edge_row, 1u, layer_bias[bias_index], layer_acc, n_out);
    for (j = 0; j < n_out; j++) {
        int32_t expected = bias_portable(layer_bias[bias_index + j]);
        for (k = 0; k < n; k++) {
            expected = edge_portable(expected, edge_row + j + layer_coords[k].offset / 2u, layer_coords[k].frac);
        }
        mismatch |= layer_acc[j] != expected;
    }
    return mismatch;
}

static void report(const char *name, uint32_t checked, uint32_t mismatches)
{
    uart_write_string(name);
    uart_write_string(" checked ");
    uart_write_uint32(checked);
    uart_write_string(" mismatches ");
    uart_write_uint32(mismatches);
    uart_write_string("\r\n");
}

int main(void)
{
    uint32_t checked, mismatches;
    uint16_t k, a, f, n;

    uart_init();

    /* Edge term, one pair at a time. */
    checked = mismatches = 0;
    for (k = 0; k < EDGE_PAIRS; k++) {
        for (a = 0; a < EDGE_ACCS; a++) {
            for (f = 0; f < 256; f++) {
                int32_t fast = kanc_hal_edge_accumulate(edge_accs[a], edge_samples[k], (uint8_t)f);
                mismatches += fast != edge_portable(edge_accs[a], edge_samples[k], (uint8_t)f);
                checked++;
            }
        }
    }
    report("edge", checked, mismatches);

    /* Node loop over the first n coordinates. */
    for (k = 0; k < EDGE_COORDS; k++) {
        coords[k].offset = (uint16_t)(2u * edge_coords[k][0]);
        coords[k].frac = (uint8_t)edge_coords[k][1];
        layer_coords[k].offset = (uint16_t)(2u * (edge_coords[k][0] < LAYER_MAX_OFFSET ? edge_coords[k][0]
                                                                                       : LAYER_MAX_OFFSET));
        layer_coords[k].frac = coords[k].frac;
    }
    checked = mismatches = 0;
    for (a = 0; a < EDGE_ACCS; a++) {
        for (n = 1; n <= EDGE_COORDS; n++) {
            int32_t expected = edge_accs[a];
            for (k = 0; k < n; k++) {
                expected = edge_portable(expected, edge_row + edge_coords[k][0], coords[k].frac);
            }
            mismatches += kanc_hal_node_sum(coords, coords + n, edge_row, edge_accs[a]) != expected
                          || layer_mismatch(n, (uint16_t)(a % LAYER_BIASES));
            checked++;
        }
    }
    report("row", checked, mismatches);

    /* Rounding shift. */
    checked = mismatches = 0;
    for (k = 0; k < EDGE_SHIFT_VALUES; k++) {
        for (n = 0; n < 32; n++) {
            mismatches += kanc_hal_rshift_round(edge_shift_values[k], (uint8_t)n)
                          != rshift_portable(edge_shift_values[k], (uint8_t)n);
            checked++;
        }
    }
    report("rshift", checked, mismatches);
    uart_flush();

    cli();
    sleep_enable();
    sleep_cpu();
    for (;;) {
    }
}
