/*
 * Reset handler, vector table and fault handler for the kanc Cortex-M emulator images.
 *
 * QEMU's M-profile machines (microbit, mps2-an385, mps2-an500) start like a real
 * core: they read the initial stack pointer and the reset vector from the vector
 * table at address 0. The reset handler copies .data from flash, zeroes .bss,
 * enables the FPU when the image is built for one, calls main() and exits through
 * semihosting with main's return value. Every other exception goes to
 * kanc_fault_handler, which reports the exception number and the faulting PC and
 * exits with status 128 + exception number, so a crash ends the run instead of
 * hanging the emulator.
 */
#include <stdint.h>

#include "semihost.h"

/* Symbols from the linker script (cortex_m_*.ld). */
extern uint32_t __data_load_start;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;
extern uint32_t __stack_top;

int main(void);
void kanc_reset_handler(void);
void kanc_fault_handler(void);

/* Exceptions 1..15 plus 32 external interrupts; none is enabled, so any entry but reset is a fault. */
#define VECTOR_COUNT (16 + 32)

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t kanc_vector_table[VECTOR_COUNT] = {
    (vector_t)(uintptr_t)&__stack_top,
    kanc_reset_handler,
#define FAULT kanc_fault_handler
    FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT, FAULT,
    FAULT, FAULT, FAULT, FAULT,
#undef FAULT
};

static void enable_fpu(void)
{
#if defined(__ARM_FP)
    /* CPACR: full access to coprocessors CP10 and CP11 (the FPU). */
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
}

void kanc_reset_handler(void)
{
    uint32_t *source = &__data_load_start;
    uint32_t *target = &__data_start;

    while (target < &__data_end) {
        *target++ = *source++;
    }
    for (target = &__bss_start; target < &__bss_end; target++) {
        *target = 0;
    }
    enable_fpu();

    sh_exit(main());
}

static void format_hex32(char *text, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    int i;
    text[0] = '0';
    text[1] = 'x';
    for (i = 0; i < 8; i++) {
        text[2 + i] = digits[(value >> (28 - 4 * i)) & 0xFu];
    }
    text[10] = '\0';
}

void kanc_fault_handler(void)
{
    uint32_t ipsr;
    uint32_t *frame;
    char number[11];
    char pc[11];

    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    __asm__ volatile("mrs %0, msp" : "=r"(frame));
    ipsr &= 0x1FFu;

    /* The core stacked r0-r3, r12, lr, pc, xPSR on the main stack; pc is word 6. */
    format_hex32(number, ipsr);
    format_hex32(pc, frame[6]);
    sh_write0("kanc: fault: exception ");
    sh_write0(number);
    sh_write0(" at pc ");
    sh_write0(pc);
    sh_write0("\n");

    sh_exit(128 + (int)ipsr);
}
