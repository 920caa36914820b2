/*
 * Emulator versions of the Pico SDK calls declared in pico/stdlib.h.
 *
 * stdio goes to the host through newlib's semihosting library (librdimon), the
 * clock advances by one microsecond per call (QEMU has no real time base worth
 * reporting), and the idle loop after main's output ends the run with status 0.
 */
#include <stdio.h>

#include "pico/stdlib.h"
#include "semihost.h"

void initialise_monitor_handles(void);

static uint64_t stub_time_us;

bool stdio_init_all(void)
{
    initialise_monitor_handles();
    return true;
}

uint64_t time_us_64(void)
{
    return ++stub_time_us;
}

void sleep_ms(uint32_t ms)
{
    stub_time_us += (uint64_t)ms * 1000u;
}

void tight_loop_contents(void)
{
    fflush(stdout);
    sh_exit(0);
}
