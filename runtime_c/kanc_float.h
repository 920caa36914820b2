/*
 * kanc_float.h - float conversions of the optional <name>_predict wrapper.
 *
 * Only the wrapper uses float; the integer path never includes this header.
 * The results can differ from the host's float64 conversion by one step for a
 * value that falls exactly between two steps (spec 2.1); the verified contract
 * is <name>_predict_q.
 */
#ifndef KANC_FLOAT_H
#define KANC_FLOAT_H

#include <stdint.h>

/*
 * Returns sat(floor((x - offset) / scale + 0.5), -32768, 32767), computed in
 * float. NaN maps to 0. Needs no libm: floor comes from truncation plus a fix-up.
 */
static inline int16_t kanc_quantize_input(float x, float offset, float scale)
{
    float v = (x - offset) / scale + 0.5f;
    int32_t whole;

    if (v != v) {
        return 0;
    }

    /* Saturate before the cast, so the float -> int conversion stays in range. */
    if (v >= 32767.0f) {
        return 32767;
    }
    if (v <= -32768.0f) {
        return -32767 - 1;
    }

    /* floor: truncate toward zero, then step down when a negative v had a fraction. */
    whole = (int32_t)v;
    if ((float)whole > v) {
        whole -= 1;
    }
    return (int16_t)whole;
}

/* Returns the real value y_q * scale + offset of one model output. */
static inline float kanc_dequantize_output(int16_t y_q, float scale, float offset)
{
    return (float)y_q * scale + offset;
}

#endif /* KANC_FLOAT_H */
