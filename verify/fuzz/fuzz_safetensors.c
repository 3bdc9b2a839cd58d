/* fuzz_safetensors.c — libFuzzer target for the safetensors reader and the
 * strict JSON reader under it (make fuzz-safetensors). Each input is opened
 * as a safetensors image from memory and every tensor is read (converted to
 * double where the dtype allows, raw bytes otherwise); the same bytes are
 * also parsed as a JSON document and as a Hugging Face config.json. Any
 * crash, sanitizer report or leak is a bug; error returns are expected. */
#include <stdint.h>
#include <stdlib.h>

#include "ref/bert/bert_config.h"
#include "ref/core/json.h"
#include "ref/core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mr_error e;
    mr_st_file f;
    if (mr_st_open_mem(&f, "fuzz.safetensors", data, size, &e) == MR_OK) {
        for (size_t i = 0; i < f.n; i++) {
            const mr_st_tensor *t = &f.t[i];
            if (t->count > (1u << 20)) continue;
            double *v = malloc((t->count ? t->count : 1) * sizeof *v);
            unsigned char *raw = malloc(t->end - t->begin + 1);
            if (v) mr_st_read_f64(&f, i, v, &e);
            if (raw) mr_st_read_raw(&f, i, raw, &e);
            free(v);
            free(raw);
        }
        mr_st_close(&f);
    }
    mr_json j;
    if (mr_json_parse((const char *)data, size, 64, &j, "fuzz.json", &e) == MR_OK) mr_json_free(&j);
    mr_bert_config c;
    mr_bert_config_parse_json((const char *)data, size, "fuzz/config.json", &c, &e);
    return 0;
}
