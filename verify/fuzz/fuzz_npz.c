/* fuzz_npz.c — libFuzzer target for the npz/npy reader (make fuzz).
 * Each input is opened as an npz from memory and every member is read and
 * converted to double; the same bytes are also parsed as a bare .npy. Any
 * crash, sanitizer report or leak is a bug; error returns are expected. */
#include <stdint.h>
#include <stdlib.h>

#include "ref/core/npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mr_error e;
    mr_npz z;
    if (mr_npz_open_mem(&z, "fuzz.npz", data, size, &e) == MR_OK) {
        for (size_t i = 0; i < z.n; i++) {
            mr_array a;
            if (mr_npz_read_index(&z, i, &a, &e) == MR_OK) {
                if (a.count <= (1u << 20)) {
                    double *v = malloc((a.count ? a.count : 1) * sizeof *v);
                    if (v) mr_array_to_f64(&a, v);
                    free(v);
                }
                mr_array_free(&a);
            }
        }
        mr_npz_close(&z);
    }
    mr_array a;
    if (mr_npy_parse(data, size, &a, "fuzz.npy", NULL, &e) == MR_OK) mr_array_free(&a);
    return 0;
}
