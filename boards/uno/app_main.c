/*
 * App firmware for the Uno: one inference on a fixed input row, outputs printed
 * over USART0 (115200 baud) as "y_q: <y0> <y1> ...\r\n", then sleep.
 *
 * This is the smallest complete image that contains the model, the runtime and
 * the avr-libc start-up code, so its ELF sections give the flash and RAM a
 * deployment needs (plus about 0.3 KiB for the vector table, start-up and UART).
 *
 * Build defines (set by kanc/build/avr.py): KANC_MODEL_HEADER, KANC_PREDICT,
 * KANC_N_INPUTS, KANC_N_OUTPUTS and KANC_APP_INPUT, a brace list of
 * KANC_N_INPUTS int16 values.
 */
#include <stdint.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>

#include "uart.h"
#include KANC_MODEL_HEADER

static const int16_t app_input[KANC_N_INPUTS] = KANC_APP_INPUT;
static int16_t app_output[KANC_N_OUTPUTS];

int main(void)
{
    uint16_t j;

    KANC_PREDICT(app_input, app_output);

    uart_init();
    uart_write_string("y_q:");
    for (j = 0; j < KANC_N_OUTPUTS; j++) {
        uart_write_byte(' ');
        uart_write_int16(app_output[j]);
    }
    uart_write_string("\r\n");
    uart_flush();

    /* Sleep with interrupts off: the board idles; simavr stops cleanly. */
    cli();
    sleep_enable();
    sleep_cpu();
    for (;;) {
    }
}
