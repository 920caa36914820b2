/*
 * Measurement markers for the instruction-counting QEMU plugin (insn_count_plugin.c).
 *
 * The plugin counts executed instructions from the first instruction of
 * kanc_mark_begin() to the first instruction of kanc_mark_end() and writes one
 * count per pair. The functions do nothing on the target; they must stay
 * separate, non-inlined functions so that their addresses exist in the ELF.
 */
#ifndef KANC_MARKERS_H
#define KANC_MARKERS_H

void kanc_mark_begin(void) __attribute__((noinline));
void kanc_mark_end(void) __attribute__((noinline));

#endif
