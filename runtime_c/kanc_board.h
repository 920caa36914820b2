/*
 * kanc_board.h - the board HAL contract: includes the board's kanc_hal.h, checks
 * the required macros and supplies portable defaults for the optional hooks.
 *
 * Required in kanc_hal.h:
 *   KANC_TABLE_ATTR      storage attribute of every const array the model emits
 *                        (PROGMEM on AVR, empty elsewhere)
 *   KANC_READ_S16(ptr)   read one int16_t from such an array (pgm_read_word on AVR,
 *                        a plain load elsewhere). The runtime reads every table,
 *                        requantizer and bias word through it.
 * Optional:
 *   KANC_FRAC_T, KANC_FRAC_ENCODE(f)
 *                        type and encoding of the per-input fraction f in [0, 255]
 *                        handed to the edge hook (default: uint8_t holding f)
 *   KANC_HAL_HAS_EDGE_ACCUMULATE and
 *   int32_t kanc_hal_edge_accumulate(int32_t acc, const int16_t *samples, KANC_FRAC_T f)
 *                        returns acc + T[s] * 256 + (T[s+1] - T[s]) * f exactly, where
 *                        `samples` points at T[s] in table storage
 *   KANC_HAL_HAS_NODE_SUM and
 *   int32_t kanc_hal_node_sum(const void *coords, const void *coords_end,
 *                             const int16_t *row, int32_t bias)
 *                        returns bias + the sum of the edge terms of one node: for each
 *                        kanc_coord_t c in [coords, coords_end) (at least one),
 *                        row[c.offset] * 256 + (row[c.offset + 1] - row[c.offset]) * c.frac,
 *                        with `row` the node's row in table storage. It replaces the
 *                        whole inner loop, so it takes precedence over the edge hook.
 *                        The HAL also defines KANC_HAL_COORD_BYTES (sizeof(kanc_coord_t))
 *                        and KANC_HAL_COORD_FRAC_OFFSET (offsetof(kanc_coord_t, frac)),
 *                        and kanc_layer.h checks both at compile time; the fraction
 *                        must be one byte holding f.
 *   KANC_HAL_HAS_LAYER_SUM and
 *   void kanc_hal_layer_sum(const void *coords, const void *coords_end, const int16_t *table,
 *                           uint16_t row_length, const int16_t *bias, int32_t *acc, uint16_t n_out)
 *                        with the node-sum hook only: for every node j < n_out of a dense
 *                        layer, acc[j] = the int32 at bias + 2 * j (two int16 words, low
 *                        word first, in table storage) + the edge terms of the records in
 *                        [coords, coords_end) against row j, which starts at
 *                        table + j * row_length. It replaces the node loop of
 *                        kanc_layer_accumulate; sparse layers keep their own loop.
 *   KANC_HAL_HAS_LAYER_COORDS and
 *   void kanc_hal_coords_from_accumulators(const int32_t *acc, uint16_t n_in,
 *                                          const int16_t *records, void *coords)
 *   void kanc_hal_coords_from_inputs(const int16_t *x_q, uint16_t n_in,
 *                                    const int16_t *records, void *coords)
 *                        with KANC_HAL_COORD_BYTE_OFFSET only: the n_in coordinate records
 *                        of a dense layer exactly as kanc_coords_from_accumulators and
 *                        kanc_coords_from_inputs in kanc_layer.h compute them (steps 1 to 5
 *                        of spec 2.2, or 2 to 5 from the int16 inputs, then the byte offset
 *                        and fraction). `records` points at the first kanc_requant_t in
 *                        table storage; kanc_layer.h checks that it is 12 bytes.
 *   KANC_HAL_COORD_BYTE_OFFSET
 *                        with the node-sum hook only: c.offset holds the byte offset
 *                        2 * (E(0, i) + s) instead of the sample index, and the hook
 *                        reads row[c.offset / 2] (the row must stay below 32768 samples)
 *   KANC_HAL_HAS_RSHIFT_ROUND and
 *   int32_t kanc_hal_rshift_round(int32_t a, uint8_t n)
 *                        returns the rounding shift of spec section 1 for every int32 a
 *                        and n in [0, 31]; the requantizers call it instead of
 *                        kanc_rshift_round
 *   KANC_HAL_HAS_REQUANT and
 *   int32_t kanc_hal_requant_scale(int32_t a, const int16_t *record)
 *   int32_t kanc_hal_requant_multiply(int16_t t, const int16_t *record)
 *                        steps 1 to 4 (scale) or 2 to 4 (multiply) of spec 2.2 for
 *                        every valid record and every int32 a or int16 t: they return
 *                        v = rshift_round(t * M, r) + z, with t = sat16(rshift_round(a, p))
 *                        for scale. `record` points at a kanc_requant_t in table storage.
 *                        The HAL also defines the byte offsets it reads,
 *                        KANC_HAL_REQUANT_OFFSET_BYTE (z), KANC_HAL_REQUANT_MULTIPLIER_BYTE,
 *                        KANC_HAL_REQUANT_PRE_SHIFT_BYTE and KANC_HAL_REQUANT_SHIFT_BYTE,
 *                        and kanc_requant.h checks them at compile time. Step 5 (both
 *                        saturations) stays in kanc_requant.h. Takes precedence over
 *                        the rounding-shift hook.
 *   KANC_HAL_HAS_READ_S32 and
 *   int32_t kanc_hal_read_s32(const int16_t *words)
 *                        returns the int32 stored as two int16 words, low word first,
 *                        in table storage (biases and offsets z)
 */
#ifndef KANC_BOARD_H
#define KANC_BOARD_H

#include <stdint.h>

#include "kanc_hal.h"

#ifndef KANC_TABLE_ATTR
#error "kanc_hal.h must define KANC_TABLE_ATTR (empty, or PROGMEM on AVR)"
#endif

#ifndef KANC_READ_S16
#error "kanc_hal.h must define KANC_READ_S16(ptr), the int16_t read from table storage"
#endif

#ifdef KANC_FRAC_T
#ifndef KANC_FRAC_ENCODE
#error "kanc_hal.h defines KANC_FRAC_T but not KANC_FRAC_ENCODE(f)"
#endif
typedef KANC_FRAC_T kanc_frac_t;
#else
typedef uint8_t kanc_frac_t;
#define KANC_FRAC_ENCODE(f) ((kanc_frac_t)(f))
#endif

/*
 * Reads an int32 stored as two int16 words, low half first. The low word stores
 * the bits 0..15 as a signed value, so it is taken back as uint16_t. The sum
 * hi * 2^16 + lo is exact in int32 and needs no implementation-defined cast.
 */
static inline int32_t kanc_read_s32_pair(const int16_t *words)
{
#ifdef KANC_HAL_HAS_READ_S32
    return kanc_hal_read_s32(words);
#else
    int32_t hi = KANC_READ_S16(words + 1);
    uint16_t lo = (uint16_t)KANC_READ_S16(words);

    return hi * 65536 + (int32_t)lo;
#endif
}

#endif /* KANC_BOARD_H */
