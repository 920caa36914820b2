/*
 * App firmware: one inference on a fixed input row, outputs printed through semihosting.
 *
 * This is the smallest complete image that contains the model, the runtime and
 * the start-up code, so its ELF sections give the flash and RAM a deployment
 * needs (plus about 0.5 KiB for start-up, fault handler and semihosting calls).
 *
 * Compile-time definitions (set by kanc/build/cortex_m.py): KANC_MODEL_HEADER,
 * KANC_PREDICT, KANC_N_INPUTS, KANC_N_OUTPUTS, and KANC_APP_INPUT, a brace
 * list of KANC_N_INPUTS int16 values.
 */
#include <stdint.h>

#include "semihost.h"
#include KANC_MODEL_HEADER

static const int16_t app_input[KANC_N_INPUTS] = KANC_APP_INPUT;
static int16_t app_output[KANC_N_OUTPUTS];

/* Write value as signed decimal into text (at least 8 bytes) and return text. */
static char *format_int16(char *text, int32_t value)
{
    char digits[7];
    int count = 0;
    int position = 0;
    uint32_t magnitude = value < 0 ? (uint32_t)(-value) : (uint32_t)value;

    do {
        digits[count++] = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (value < 0) {
        text[position++] = '-';
    }
    while (count > 0) {
        text[position++] = digits[--count];
    }
    text[position] = '\0';
    return text;
}

int main(void)
{
    char text[8];
    int j;

    KANC_PREDICT(app_input, app_output);

    sh_write0("y_q:");
    for (j = 0; j < KANC_N_OUTPUTS; j++) {
        sh_write0(" ");
        sh_write0(format_int16(text, app_output[j]));
    }
    sh_write0("\n");
    return 0;
}
