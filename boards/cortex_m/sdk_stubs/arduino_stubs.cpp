/*
 * Emulator versions of the Arduino calls declared in Arduino.h, plus the main() the core would supply.
 *
 * Serial text goes to the host through semihosting; micros() advances by one per
 * call (QEMU has no real time base worth reporting). main() runs setup() once and
 * exits with status 0 instead of calling loop() forever.
 */
#include "Arduino.h"

extern "C" {
#include "semihost.h"
}

StubSerial Serial;

static unsigned long stub_micros;

unsigned long micros(void)
{
    return ++stub_micros;
}

void StubSerial::begin(unsigned long baud)
{
    (void)baud;
}

void StubSerial::print(const char *text)
{
    sh_write0(text);
}

void StubSerial::print(int value)
{
    char text[12];
    char digits[11];
    int count = 0;
    int position = 0;
    unsigned long magnitude = value < 0 ? 0ul - (unsigned long)value : (unsigned long)value;

    do {
        digits[count++] = (char)('0' + magnitude % 10u);
        magnitude /= 10u;
    } while (magnitude != 0u);
    if (value < 0) {
        text[position++] = '-';
    }
    while (count > 0) {
        text[position++] = digits[--count];
    }
    text[position] = '\0';
    sh_write0(text);
}

void StubSerial::print(double value, int digits)
{
    // Fixed-point text of a non-negative value, enough for the timing line.
    unsigned long scale = 1;
    for (int i = 0; i < digits; i++) {
        scale *= 10u;
    }
    unsigned long scaled = (unsigned long)(value * (double)scale + 0.5);
    print((int)(scaled / scale));
    print(".");
    unsigned long fraction = scaled % scale;
    for (unsigned long place = scale / 10u; place > 0; place /= 10u) {
        char digit[2] = {(char)('0' + (fraction / place) % 10u), '\0'};
        sh_write0(digit);
    }
}

void StubSerial::println()
{
    sh_write0("\r\n");
}

void StubSerial::println(const char *text)
{
    print(text);
    println();
}

void StubSerial::println(double value, int digits)
{
    print(value, digits);
    println();
}

int main(void)
{
    setup();
    return 0;
}
