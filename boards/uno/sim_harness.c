/*
 * simavr harness for the Arduino Uno (ATmega328P at 16 MHz), built on the host
 * against libsimavr by kanc/build/avr.py.
 *
 *   kanc_uno_sim --elf FW.elf [--cases IN.bin --results OUT.bin]
 *                [--uart UART.bin] [--max-cycles N]
 *
 * - Mailbox mode (--cases): IN.bin contains the cases as little-endian int16
 *   rows, and the firmware's RAM mailbox (symbols kanc_mailbox_x, kanc_mailbox_y,
 *   kanc_mailbox_state, see verify_main.c) is found through the ELF symbol table.
 *   OUT.bin receives, per case, the int16 outputs then the uint64 cycle count
 *   between the GPIOR0 <- 1 and GPIOR0 <- 2 marker writes, less the count of
 *   the empty marker pair that the firmware runs before its first request
 *   (simavr counts AVR cycles exactly).
 * - UART: every byte the firmware sends on USART0 goes unchanged to UART.bin.
 * - The run always ends: on sleep with interrupts off (exit 0), on a crash
 *   (exit 2), or after N cycles (exit 3; default 2e9 cycles, 125 s of Uno
 *   time). Exit 4: the mailbox protocol was broken, exit 1: bad arguments or ELF.
 * No gdb server is ever opened (gdb_port stays 0).
 */
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>

#define GPIOR0_DATA_ADDR 0x3E
#define GPIOR1_DATA_ADDR 0x4A
#define AVR_DATA_SEGMENT 0x800000u
#define CPU_FREQUENCY 16000000u

typedef struct {
    uint32_t addr, size;
} symbol_t;

static struct {
    symbol_t x, y, state;
    FILE *cases, *results, *uart;
    uint64_t start_cycle, cycles, overhead;
    int have_case, broken;
    long n_cases, n_results;
} h;

static void log_to_stderr(avr_t *avr, const int level, const char *format, va_list ap)
{
    (void)avr;
    if (level <= LOG_WARNING) {
        vfprintf(stderr, format, ap);
    }
}

/* Look up a data symbol (address relative to SRAM, size in bytes) with libelf. */
static int find_symbol(const char *path, const char *name, symbol_t *out)
{
    int found = 0, fd = open(path, O_RDONLY);
    Elf *elf;
    Elf_Scn *scn = NULL;

    if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE || !(elf = elf_begin(fd, ELF_C_READ, NULL))) {
        return 0;
    }
    while (!found && (scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr shdr;
        Elf_Data *data;
        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB || !(data = elf_getdata(scn, NULL))) {
            continue;
        }
        for (size_t k = 0; k < shdr.sh_size / shdr.sh_entsize; k++) {
            GElf_Sym sym;
            const char *sym_name;
            if (gelf_getsym(data, (int)k, &sym) && (sym_name = elf_strptr(elf, shdr.sh_link, sym.st_name))
                && strcmp(sym_name, name) == 0) {
                out->addr = (uint32_t)(sym.st_value - AVR_DATA_SEGMENT);
                out->size = (uint32_t)sym.st_size;
                found = 1;
                break;
            }
        }
    }
    elf_end(elf);
    close(fd);
    return found;
}

/* GPIOR0: cycle markers. 1 = start, 2 = stop. */
static void on_marker(avr_t *avr, avr_io_addr_t addr, uint8_t value, void *param)
{
    (void)addr, (void)param;
    if (value == 1) {
        h.start_cycle = avr->cycle;
    } else if (value == 2) {
        uint64_t count = avr->cycle - h.start_cycle;
        if (h.have_case) {
            h.cycles = count - h.overhead;
        } else {
            h.overhead = count;  /* empty pair before the first case */
        }
    }
}

/* GPIOR1: mailbox. 1 = request the next case, 2 = result ready. */
static void on_mailbox(avr_t *avr, avr_io_addr_t addr, uint8_t value, void *param)
{
    (void)addr, (void)param;
    if (value == 1) {
        size_t got = h.cases ? fread(avr->data + h.x.addr, 1, h.x.size, h.cases) : 0;
        if (got != 0 && got != h.x.size) {
            h.broken = 1;  /* truncated case file */
        }
        h.have_case = got == h.x.size;
        avr->data[h.state.addr] = (uint8_t)h.have_case;
        h.n_cases += h.have_case;
    } else if (value == 2 && h.have_case) {
        fwrite(avr->data + h.y.addr, 1, h.y.size, h.results);
        fwrite(&h.cycles, sizeof h.cycles, 1, h.results);
        h.have_case = 0;
        h.n_results++;
    } else {
        h.broken = 1;
    }
}

static void on_uart_byte(struct avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq, (void)param;
    fputc((int)(value & 0xFF), h.uart);
}

int main(int argc, char **argv)
{
    const char *elf_path = NULL, *cases_path = NULL, *results_path = NULL, *uart_path = NULL;
    uint64_t max_cycles = 2000000000ull;
    static struct option options[] = {
        {"elf", required_argument, 0, 'e'}, {"cases", required_argument, 0, 'c'},
        {"results", required_argument, 0, 'r'}, {"uart", required_argument, 0, 'u'},
        {"max-cycles", required_argument, 0, 'm'}, {0, 0, 0, 0}};
    elf_firmware_t firmware;
    avr_t *avr;
    int opt, state;
    uint32_t flags = 0;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'e': elf_path = optarg; break;
        case 'c': cases_path = optarg; break;
        case 'r': results_path = optarg; break;
        case 'u': uart_path = optarg; break;
        case 'm': max_cycles = strtoull(optarg, NULL, 10); break;
        default: return 1;
        }
    }
    if (!elf_path || !cases_path != !results_path) {
        fprintf(stderr, "usage: %s --elf FW.elf [--cases IN.bin --results OUT.bin] [--uart UART.bin] "
                        "[--max-cycles N]\n", argv[0]);
        return 1;
    }

    /* Step 1: load the firmware. The MCU and clock are fixed here, so firmware
       needs no AVR_MCU() section (which would shift the .data load address). */
    avr_global_logger_set(log_to_stderr);
    memset(&firmware, 0, sizeof firmware);
    if (elf_read_firmware(elf_path, &firmware) != 0) {
        fprintf(stderr, "cannot read firmware ELF %s\n", elf_path);
        return 1;
    }
    strcpy(firmware.mmcu, "atmega328p");
    firmware.frequency = CPU_FREQUENCY;
    avr = avr_make_mcu_by_name(firmware.mmcu);
    if (!avr || avr_init(avr) != 0) {
        fprintf(stderr, "simavr has no atmega328p core\n");
        return 1;
    }
    avr->gdb_port = 0;
    avr->log = LOG_WARNING;
    avr_load_firmware(avr, &firmware);

    /* Step 2: attach the mailbox, the cycle markers and the UART capture. */
    if (cases_path) {
        if (!find_symbol(elf_path, "kanc_mailbox_x", &h.x) || !find_symbol(elf_path, "kanc_mailbox_y", &h.y)
            || !find_symbol(elf_path, "kanc_mailbox_state", &h.state)) {
            fprintf(stderr, "%s has no kanc_mailbox_x/_y/_state symbols; build it as verify firmware\n", elf_path);
            return 1;
        }
        h.cases = fopen(cases_path, "rb");
        h.results = fopen(results_path, "wb");
        if (!h.cases || !h.results) {
            fprintf(stderr, "cannot open %s or %s\n", cases_path, results_path);
            return 1;
        }
    }
    avr_register_io_write(avr, GPIOR0_DATA_ADDR, on_marker, NULL);
    if (h.cases) {
        avr_register_io_write(avr, GPIOR1_DATA_ADDR, on_mailbox, NULL);
    }
    h.uart = fopen(uart_path ? uart_path : "/dev/null", "wb");
    if (!h.uart) {
        fprintf(stderr, "cannot open %s\n", uart_path);
        return 1;
    }
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~AVR_UART_FLAG_STDIO;  /* no coloured console copy of the UART */
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), on_uart_byte, NULL);

    /* Step 3: run until sleep with interrupts off, a crash or the cycle limit. */
    do {
        state = avr_run(avr);
    } while (state != cpu_Done && state != cpu_Crashed && avr->cycle < max_cycles);

    fclose(h.uart);
    if (h.results) {
        fclose(h.results);
    }
    if (state == cpu_Crashed) {
        fprintf(stderr, "firmware crashed at pc 0x%05x after %" PRIu64 " cycles\n", avr->pc, (uint64_t)avr->cycle);
        return 2;
    }
    if (state != cpu_Done) {
        fprintf(stderr, "cycle limit of %" PRIu64 " reached\n", max_cycles);
        return 3;
    }
    if (h.broken || h.n_results != h.n_cases) {
        fprintf(stderr, "mailbox protocol broken: %ld cases sent, %ld results\n", h.n_cases, h.n_results);
        return 4;
    }
    return 0;
}
