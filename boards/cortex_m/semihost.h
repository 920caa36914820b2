/*
 * ARM semihosting calls used by the kanc Cortex-M test firmware.
 *
 * The firmware runs under QEMU with -semihosting-config enable=on,target=native,
 * so these calls read and write files in the directory QEMU was started in.
 * On M-profile cores a semihosting call is "bkpt 0xAB" with the operation number
 * in r0 and a pointer to its argument block in r1 (ARM "Semihosting for AArch32
 * and AArch64", version 2). Real boards have no debugger that serves these calls;
 * only the emulator images use this file.
 */
#ifndef KANC_SEMIHOST_H
#define KANC_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Open modes of SYS_OPEN, as in the semihosting specification's fopen table. */
#define SH_MODE_READ_BINARY 1
#define SH_MODE_WRITE_BINARY 5

/* Open a host file; return a handle, or -1 on failure. */
int32_t sh_open(const char *path, uint32_t mode);

/* Read up to len bytes; return the number of bytes read (0 at end of file), or -1 on error. */
int32_t sh_read(int32_t handle, void *buffer, size_t len);

/* Write len bytes; return 0 when every byte was written, -1 otherwise. */
int32_t sh_write(int32_t handle, const void *buffer, size_t len);

void sh_close(int32_t handle);

/* Print a NUL-terminated string on the host's console (stderr of QEMU). */
void sh_write0(const char *text);

/* Stop the emulator with the given process exit status (SYS_EXIT_EXTENDED). */
void sh_exit(int status) __attribute__((noreturn));

#endif
