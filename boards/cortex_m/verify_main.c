/*
 * Verify firmware: run every input row of a host file through the model and write the outputs.
 *
 * Input  kanc_in.bin:  N rows of KANC_N_INPUTS little-endian int16 values.
 * Output kanc_out.bin: N rows of KANC_N_OUTPUTS little-endian int16 values.
 * Both files are read and written through semihosting in QEMU's working folder.
 *
 * Each inference sits between kanc_mark_begin() and kanc_mark_end(), so the
 * instruction-counting plugin reports its cost. One empty marker pair runs
 * first and measures the fixed overhead of the pair itself.
 *
 * Compile-time definitions (set by kanc/build/cortex_m.py):
 *   KANC_MODEL_HEADER     generated model header, as a string literal
 *   KANC_PREDICT          the model's <name>_predict_q function
 *   KANC_N_INPUTS, KANC_N_OUTPUTS
 *   KANC_IO_ROWS          rows per semihosting read and write
 *
 * Exit status: 0 on success, 2 input file missing, 3 output file not writable,
 * 4 input size not a whole number of rows, 5 write failed.
 */
#include <stdint.h>

#include "markers.h"
#include "semihost.h"
#include KANC_MODEL_HEADER

#define EXIT_NO_INPUT 2
#define EXIT_NO_OUTPUT 3
#define EXIT_PARTIAL_ROW 4
#define EXIT_WRITE_FAILED 5

static int16_t input_rows[KANC_IO_ROWS][KANC_N_INPUTS];
static int16_t output_rows[KANC_IO_ROWS][KANC_N_OUTPUTS];

int main(void)
{
    const int32_t row_bytes = (int32_t)sizeof input_rows[0];
    int32_t input_file;
    int32_t output_file;
    int status = 0;

    input_file = sh_open("kanc_in.bin", SH_MODE_READ_BINARY);
    if (input_file < 0) {
        sh_write0("kanc: cannot open kanc_in.bin\n");
        return EXIT_NO_INPUT;
    }
    output_file = sh_open("kanc_out.bin", SH_MODE_WRITE_BINARY);
    if (output_file < 0) {
        sh_write0("kanc: cannot open kanc_out.bin for writing\n");
        return EXIT_NO_OUTPUT;
    }

    /* Calibration pair: the plugin's first count is the cost of the markers alone. */
    kanc_mark_begin();
    kanc_mark_end();

    for (;;) {
        int32_t got = sh_read(input_file, input_rows, sizeof input_rows);
        int32_t rows;
        int32_t row;

        if (got <= 0) {
            status = got < 0 ? EXIT_PARTIAL_ROW : 0;
            break;
        }
        if (got % row_bytes != 0) {
            sh_write0("kanc: input file size is not a whole number of rows\n");
            status = EXIT_PARTIAL_ROW;
            break;
        }
        rows = got / row_bytes;

        for (row = 0; row < rows; row++) {
            kanc_mark_begin();
            KANC_PREDICT(input_rows[row], output_rows[row]);
            kanc_mark_end();
        }

        if (sh_write(output_file, output_rows, (uint32_t)rows * sizeof output_rows[0]) != 0) {
            sh_write0("kanc: writing kanc_out.bin failed\n");
            status = EXIT_WRITE_FAILED;
            break;
        }
    }

    sh_close(input_file);
    sh_close(output_file);
    return status;
}
