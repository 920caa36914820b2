/*
 * Stand-in for the Pico SDK's pico/stdlib.h with only the calls a kanc Pico export uses.
 *
 * The Pico SDK cannot be installed offline, so tests compile the exported main.c
 * against this header with the RP2040's flags and run it on QEMU (pico_stubs.c).
 * Signatures follow pico-sdk 1.5: stdio_init_all returns bool there (void in
 * releases before 1.5; the export ignores the value).
 */
#ifndef KANC_STUB_PICO_STDLIB_H
#define KANC_STUB_PICO_STDLIB_H

#include <stdbool.h>
#include <stdint.h>

bool stdio_init_all(void);
uint64_t time_us_64(void);
void sleep_ms(uint32_t ms);
void tight_loop_contents(void);

#endif
