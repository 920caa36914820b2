/*
 * Verify firmware for the Arduino Uno: runs the model on cases that the simavr
 * harness (boards/uno/sim_harness.c) writes into a RAM mailbox.
 *
 * Protocol, one round per case:
 *   1. GPIOR1 <- 1: request. The harness writes the next input into
 *      kanc_mailbox_x and sets kanc_mailbox_state to 1, or sets it to 0 when no
 *      case is left.
 *   2. GPIOR0 <- 1, <model>_predict_q(x, y), GPIOR0 <- 2: the harness counts the
 *      cycles between the two marker writes (one OUT, the call and the return
 *      included).
 *   3. GPIOR1 <- 2: the result is in kanc_mailbox_y; the harness reads it.
 * With no case left the firmware disables interrupts and sleeps, which simavr
 * treats as a clean stop.
 *
 * Before the first case, one empty marker pair lets the harness measure the
 * cost of the pair itself and subtract it from every count.
 *
 * Build defines: KANC_MODEL_HEADER ("<name>.h"), KANC_PREDICT (<name>_predict_q),
 * KANC_N_INPUTS and KANC_N_OUTPUTS (model input and output counts).
 */
#include <stdint.h>
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>

#include "kanc_hal.h"
#include KANC_MODEL_HEADER

#define MAILBOX_REQUEST 1
#define MAILBOX_RESULT 2

/* Mailbox in SRAM; the harness finds these by their ELF symbol names. */
volatile int16_t kanc_mailbox_x[KANC_N_INPUTS];
volatile int16_t kanc_mailbox_y[KANC_N_OUTPUTS];
volatile uint8_t kanc_mailbox_state;

int main(void)
{
    int16_t x[KANC_N_INPUTS];
    int16_t y[KANC_N_OUTPUTS];
    uint16_t k;

    KANC_CYCLE_MARK(1);
    KANC_CYCLE_MARK(2);

    for (;;) {
        GPIOR1 = MAILBOX_REQUEST;
        if (kanc_mailbox_state == 0) {
            break;
        }
        for (k = 0; k < KANC_N_INPUTS; k++) {
            x[k] = kanc_mailbox_x[k];
        }

        KANC_CYCLE_MARK(1);
        KANC_PREDICT(x, y);
        KANC_CYCLE_MARK(2);

        for (k = 0; k < KANC_N_OUTPUTS; k++) {
            kanc_mailbox_y[k] = y[k];
        }
        GPIOR1 = MAILBOX_RESULT;
    }

    /* Sleep with interrupts off: simavr stops with state cpu_Done. */
    cli();
    sleep_enable();
    sleep_cpu();
    for (;;) {
    }
}
