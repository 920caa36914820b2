/*
 * kanc_model.h - layout of the const records a generated model stores next to
 * its tables, and of the RAM coordinate buffer.
 *
 * Every record is made of int16_t words only, so the board HAL needs one read
 * macro (KANC_READ_S16) and the records have the same size on AVR, Cortex-M and
 * the host. 32-bit values are stored as two words, low half first (see
 * kanc_read_s32_pair in kanc_board.h).
 *
 * A generated model holds, per layer l:
 *   <name>_l<l>_inputs[n_in]   kanc_requant_t, one per layer input (spec 2.2)
 *   <name>_l<l>_table[]        int16_t samples, node-major (spec 2.5)
 *   <name>_l<l>_bias[n_out]    kanc_bias_t, B_j in accumulator units (spec 2.4)
 * and for a sparse layer (spec 2.7) also
 *   <name>_l<l>_live_counts[n_out]  int16_t words, live-edge count of each node (read as uint16)
 *   <name>_l<l>_live_inputs[]       int16_t words, input index i of each live edge in
 *                                   table order (read as uint16, for every n_in)
 * where a layer with no live edge at all emits neither its table nor live_inputs,
 * and <name>_outputs[n_outputs], the output requantizers (spec 2.6). Its
 * <name>_predict_q calls the functions of kanc_layer.h once per layer with these
 * arrays and the layer widths as constants, so no descriptor has to be read from
 * table storage at run time.
 */
#ifndef KANC_MODEL_H
#define KANC_MODEL_H

#include <stdint.h>

#include "kanc_board.h"

/*
 * Requantizer R = (p, M, r, z) of one layer input or model output (12 bytes).
 * `segments` is S_i of the layer input (1..256); output requantizers store 0.
 */
typedef struct {
    int16_t offset[2];     /* z, int32 in [-2^30, 2^30], low word first */
    int16_t multiplier;    /* M in [0, 32767] */
    int16_t pre_shift;     /* p in [0, 31] */
    int16_t shift;         /* r in [0, 31] */
    int16_t segments;      /* S_i in [1, 256], or 0 for a model output */
} kanc_requant_t;

/* Node bias B_j, int32 in accumulator units (table steps * 2^8), low word first. */
typedef struct {
    int16_t value[2];
} kanc_bias_t;

/*
 * Table coordinate of one layer input (spec 2.3), computed once per input and
 * reused by every edge that leaves it. `offset` is E(0, i) + s_i, the index of
 * T_0i[s_i] within a node's row; `frac` is f_i encoded by KANC_FRAC_ENCODE.
 */
typedef struct {
    uint16_t offset;
    kanc_frac_t frac;
#ifndef KANC_FRAC_T
    uint8_t reserved;      /* pads the default record to 4 bytes on every target */
#endif
} kanc_coord_t;

#endif /* KANC_MODEL_H */
