/*
 * kanc_hal.h for the host (and any target with one flat address space): tables
 * are ordinary const arrays and a table read is a plain load. The runtime's
 * portable C edge loop is used as is.
 */
#ifndef KANC_HAL_H
#define KANC_HAL_H

#include <stdint.h>

#define KANC_HAL_BOARD "host"

#define KANC_TABLE_ATTR
#define KANC_READ_S16(ptr) (*(const int16_t *)(ptr))

#endif /* KANC_HAL_H */
