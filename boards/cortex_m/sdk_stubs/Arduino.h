/*
 * Stand-in for the Arduino core's Arduino.h with only the calls a kanc Portenta sketch uses.
 *
 * The Arduino mbed core cannot be installed offline, so tests compile the
 * exported sketch as C++ against this header with the Portenta's flags, link it
 * with arduino_stubs.cpp and run it on QEMU. Serial writes through semihosting.
 */
#ifndef KANC_STUB_ARDUINO_H
#define KANC_STUB_ARDUINO_H

#include <stdint.h>

class StubSerial {
public:
    void begin(unsigned long baud);
    explicit operator bool() const { return true; }
    void print(const char *text);
    void print(int value);
    void print(double value, int digits);
    void println();
    void println(const char *text);
    void println(double value, int digits);
};

extern StubSerial Serial;

unsigned long micros(void);

void setup(void);
void loop(void);

#endif
