/* ARM semihosting calls (see semihost.h). */
#include "semihost.h"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_EXIT_EXTENDED 0x20

/* ADP_Stopped_ApplicationExit: the reason code that turns the subcode into the exit status. */
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static int32_t semihost_call(uint32_t operation, const void *argument)
{
    register uint32_t r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

static size_t string_length(const char *text)
{
    size_t length = 0;
    while (text[length] != '\0') {
        length++;
    }
    return length;
}

int32_t sh_open(const char *path, uint32_t mode)
{
    uint32_t block[3];
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = mode;
    block[2] = (uint32_t)string_length(path);
    return semihost_call(SYS_OPEN, block);
}

int32_t sh_read(int32_t handle, void *buffer, size_t len)
{
    uint32_t block[3];
    int32_t not_read;
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buffer;
    block[2] = (uint32_t)len;

    /* SYS_READ returns the number of bytes NOT read. */
    not_read = semihost_call(SYS_READ, block);
    if (not_read < 0 || (uint32_t)not_read > (uint32_t)len) {
        return -1;
    }
    return (int32_t)len - not_read;
}

int32_t sh_write(int32_t handle, const void *buffer, size_t len)
{
    uint32_t block[3];
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buffer;
    block[2] = (uint32_t)len;

    /* SYS_WRITE returns the number of bytes NOT written. */
    return semihost_call(SYS_WRITE, block) == 0 ? 0 : -1;
}

void sh_close(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    (void)semihost_call(SYS_CLOSE, block);
}

void sh_write0(const char *text)
{
    (void)semihost_call(SYS_WRITE0, text);
}

void sh_exit(int status)
{
    uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    (void)semihost_call(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}
