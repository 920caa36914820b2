/*
 * Measurement markers (see markers.h).
 *
 * The asm bodies are assembler comments that emit no code. They differ so that
 * identical-code folding (-fipa-icf, on at -O2) cannot give both functions one address.
 */
#include "markers.h"

__attribute__((noinline, used)) void kanc_mark_begin(void)
{
    __asm__ volatile("@ kanc_mark_begin" ::: "memory");
}

__attribute__((noinline, used)) void kanc_mark_end(void)
{
    __asm__ volatile("@ kanc_mark_end" ::: "memory");
}
