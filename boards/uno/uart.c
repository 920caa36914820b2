/* Polled USART0 output; see uart.h. */
#include <avr/io.h>

#include "uart.h"

#define UART_UBRR_115200_U2X 16

void uart_init(void)
{
    UBRR0H = 0;
    UBRR0L = UART_UBRR_115200_U2X;
    UCSR0A = (uint8_t)(1 << U2X0);
    UCSR0C = (uint8_t)((1 << UCSZ01) | (1 << UCSZ00));
    UCSR0B = (uint8_t)(1 << TXEN0);
}

void uart_write_byte(uint8_t byte)
{
    while (!(UCSR0A & (1 << UDRE0))) {
    }
    /* Clear TXC0 (write one) before each byte so uart_flush waits for this one. */
    UCSR0A = (uint8_t)((UCSR0A & (1 << U2X0)) | (1 << TXC0));
    UDR0 = byte;
}

void uart_write_string(const char *text)
{
    while (*text != '\0') {
        uart_write_byte((uint8_t)*text++);
    }
}

void uart_write_int16(int16_t value)
{
    char digits[6];
    uint8_t count = 0;
    /* Widen before negating: -(-32768) does not fit in int16. */
    int32_t wide = value;
    uint16_t magnitude = (uint16_t)(wide < 0 ? -wide : wide);

    do {
        digits[count++] = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (wide < 0) {
        uart_write_byte('-');
    }
    while (count > 0) {
        uart_write_byte((uint8_t)digits[--count]);
    }
}

void uart_write_uint32(uint32_t value)
{
    char digits[10];
    uint8_t count = 0;

    do {
        digits[count++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    while (count > 0) {
        uart_write_byte((uint8_t)digits[--count]);
    }
}

void uart_flush(void)
{
    while (!(UCSR0A & (1 << TXC0))) {
    }
}
