/*
 * QEMU TCG plugin: exact count of executed guest instructions between two marker addresses.
 *
 * Arguments (qemu-system-arm -plugin FILE,begin=ADDR,end=ADDR,out=PATH):
 *   begin  address of the first instruction of kanc_mark_begin (hex or decimal)
 *   end    address of the first instruction of kanc_mark_end
 *   out    text file that receives one count per begin/end pair, one per line
 *
 * Every translated instruction gets an inline 64-bit add of 1 to a global
 * counter, so partially executed translation blocks are counted exactly. The
 * instructions at the two marker addresses additionally get a callback that
 * stores the counter (begin) or writes the difference since the last begin
 * (end). The count of a pair therefore includes the begin marker's own
 * instructions and the caller's code up to the end marker; the firmware runs
 * one empty pair first so that this fixed overhead can be subtracted.
 *
 * QEMU models no pipeline or memory timing, so these are executed instructions,
 * not cycles. The image must run on a single vCPU.
 *
 * Debian's qemu-system-arm 7.2 supports plugins but ships no qemu-plugin.h, so
 * the few declarations used here are written out below. They follow the plugin
 * API version 1 of QEMU 7.2 (include/qemu/qemu-plugin.h); later QEMU releases
 * replaced the inline-add call, so this file builds only against 7.x and 8.x.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API version 1 (QEMU 7.2), the subset this plugin calls ---- */

typedef uint64_t qemu_plugin_id_t;

struct qemu_plugin_tb;
struct qemu_plugin_insn;

/* Guest and host information; this plugin does not read it, so it stays opaque. */
typedef struct qemu_info_t qemu_info_t;

enum qemu_plugin_cb_flags {
    QEMU_PLUGIN_CB_NO_REGS,
    QEMU_PLUGIN_CB_R_REGS,
    QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_op {
    QEMU_PLUGIN_INLINE_ADD_U64,
};

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

/* ---- the counter ---- */

static uint64_t executed_insns;
static uint64_t begin_snapshot;
static bool begin_seen;
static uint64_t begin_address;
static uint64_t end_address;
static uint64_t unpaired_ends;
static FILE *count_file;

static void on_begin(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    begin_snapshot = executed_insns;
    begin_seen = true;
}

static void on_end(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    if (!begin_seen) {
        unpaired_ends++;
        return;
    }
    fprintf(count_file, "%" PRIu64 "\n", executed_insns - begin_snapshot);
    begin_seen = false;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t count = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;

    for (i = 0; i < count; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t address = qemu_plugin_insn_vaddr(insn);

        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed_insns, 1);
        if (address == begin_address) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        } else if (address == end_address) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata)
{
    char message[128];
    (void)id;
    (void)userdata;

    if (unpaired_ends != 0) {
        snprintf(message, sizeof message, "insn_count: %" PRIu64 " end markers without a begin marker\n",
                 unpaired_ends);
        qemu_plugin_outs(message);
    }
    if (count_file != NULL) {
        fclose(count_file);
        count_file = NULL;
    }
}

static bool parse_address(const char *text, uint64_t *address)
{
    char *stop;
    unsigned long long value = strtoull(text, &stop, 0);
    if (*text == '\0' || *stop != '\0') {
        return false;
    }
    /* Thumb function symbols have bit 0 set; the instruction address does not. */
    *address = (uint64_t)value & ~(uint64_t)1;
    return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *out_path = NULL;
    bool have_begin = false;
    bool have_end = false;
    int i;
    (void)info;

    for (i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "begin=", 6) == 0) {
            have_begin = parse_address(arg + 6, &begin_address);
        } else if (strncmp(arg, "end=", 4) == 0) {
            have_end = parse_address(arg + 4, &end_address);
        } else if (strncmp(arg, "out=", 4) == 0) {
            out_path = arg + 4;
        } else {
            fprintf(stderr, "insn_count: unknown argument '%s' (expected begin=, end=, out=)\n", arg);
            return -1;
        }
    }
    if (!have_begin || !have_end || out_path == NULL) {
        fprintf(stderr, "insn_count: missing or invalid argument; pass begin=ADDR,end=ADDR,out=PATH\n");
        return -1;
    }
    if (begin_address == end_address) {
        fprintf(stderr, "insn_count: begin and end addresses are equal (0x%" PRIx64 ")\n", begin_address);
        return -1;
    }
    count_file = fopen(out_path, "w");
    if (count_file == NULL) {
        fprintf(stderr, "insn_count: cannot open output file '%s'\n", out_path);
        return -1;
    }

    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
