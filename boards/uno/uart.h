/*
 * Polled USART0 output for the Uno firmware (no interrupts, no buffer): 115200
 * baud, 8N1, with double speed (U2X0), UBRR0 = 16 at 16 MHz (2.1 % baud error).
 */
#ifndef KANC_UNO_UART_H
#define KANC_UNO_UART_H

#include <stdint.h>

void uart_init(void);
void uart_write_byte(uint8_t byte);
void uart_write_string(const char *text);
void uart_write_int16(int16_t value);   /* signed decimal, no padding */
void uart_write_uint32(uint32_t value); /* unsigned decimal, no padding */
void uart_flush(void);                  /* wait until the last byte has left the shift register */

#endif /* KANC_UNO_UART_H */
