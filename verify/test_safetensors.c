/* test_safetensors.c — ref/core/safetensors (reader/writer), the strict JSON
 * reader under it (ref/core/json), config.json (ref/bert/bert_config), the
 * BERT weight loaders (ref/bert/hfdir) and `mimrl bert-init` / `bert-info`
 * (ref/cli/cli_bert.c).
 *
 * Files are hand-built byte by byte, so the expected values are known
 * without any other implementation. The malformed corpus doubles as the seed
 * corpus of the fuzz target (MIMRL_FUZZ_SEEDS, `make fuzz-safetensors`). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/bert/bert_config.h"
#include "ref/bert/hfdir.h"
#include "ref/core/json.h"
#include "ref/core/npz.h"
#include "ref/core/safetensors.h"
#include "verify/helpers.h"

/* ------------------------------------------------------------ helpers */

static unsigned char *image(const char *hdr, const void *data, size_t dlen, size_t *len) {
    size_t h = strlen(hdr);
    *len = 8 + h + dlen;
    unsigned char *b = malloc(*len + 1);
    cr_assert(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(((uint64_t)h >> (8 * i)) & 0xff);
    memcpy(b + 8, hdr, h);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    return b;
}

static void seed_out(const char *label, const void *buf, size_t len) {
    const char *seeds = getenv("MIMRL_FUZZ_SEEDS");
    if (seeds) {
        char p[1024];
        snprintf(p, sizeof p, "%s/st_%s.safetensors", seeds, label);
        t_write_file(p, buf, len);
    }
}

static void put_le(unsigned char *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* ------------------------------------------------------------ dtypes */

Test(safetensors, f16_edge_values_bit_exact) {
    struct {
        uint16_t h;
        double v;
    } cases[] = {{0x0000, 0.0},
                 {0x0001, ldexp(1, -24)},           /* smallest subnormal */
                 {0x03FF, 1023 * ldexp(1, -24)},    /* largest subnormal */
                 {0x0400, ldexp(1, -14)},           /* smallest normal */
                 {0x3C00, 1.0},
                 {0x3C01, 1.0 + ldexp(1, -10)},
                 {0x3555, 1365 * ldexp(1, -12)}, /* ≈ 1/3 as F16 stores it */
                 {0x7BFF, 65504.0},
                 {0xC000, -2.0},
                 {0x8001, -ldexp(1, -24)}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect(same_bits(mr_f16_to_double(cases[i].h), cases[i].v), "F16 %04x -> %.17g, want %.17g", cases[i].h,
                  mr_f16_to_double(cases[i].h), cases[i].v);
    double nz = mr_f16_to_double(0x8000);
    cr_expect(nz == 0 && signbit(nz), "F16 8000 is -0");
    cr_expect(isinf(mr_f16_to_double(0x7C00)) && !signbit(mr_f16_to_double(0x7C00)));
    cr_expect(isinf(mr_f16_to_double(0xFC00)) && signbit(mr_f16_to_double(0xFC00)));
    cr_expect(isnan(mr_f16_to_double(0x7E00)) && isnan(mr_f16_to_double(0x7C01)) && isnan(mr_f16_to_double(0xFE00)));
#if defined(__FLT16_MAX__) && defined(__GNUC__)
    /* every finite half against the compiler's own _Float16 → double */
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1F) == 0x1F) continue;
        uint16_t b = (uint16_t)h;
        __extension__ _Float16 x;
        memcpy(&x, &b, 2);
        cr_assert(same_bits(mr_f16_to_double(b), (double)x), "F16 %04x", h);
    }
#endif
}

Test(safetensors, bf16_edge_values_bit_exact) {
    struct {
        uint16_t h;
        double v;
    } cases[] = {{0x0000, 0.0},         {0x0001, ldexp(1, -133)}, /* smallest subnormal */
                 {0x007F, 127 * ldexp(1, -133)}, {0x0080, ldexp(1, -126)},
                 {0x3F80, 1.0},         {0x3F81, 1.0 + ldexp(1, -7)},
                 {0xC040, -3.0},        {0x7F7F, 255 * ldexp(1, 120)}}; /* largest finite */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect(same_bits(mr_bf16_to_double(cases[i].h), cases[i].v), "BF16 %04x -> %.17g, want %.17g", cases[i].h,
                  mr_bf16_to_double(cases[i].h), cases[i].v);
    cr_expect(isinf(mr_bf16_to_double(0x7F80)) && signbit(mr_bf16_to_double(0xFF80)));
    cr_expect(isnan(mr_bf16_to_double(0x7FC0)) && isnan(mr_bf16_to_double(0x7F81)), "quiet and signalling NaN, no trap");
    cr_expect(signbit(mr_bf16_to_double(0x8000)) && mr_bf16_to_double(0x8000) == 0);
}

Test(safetensors, each_dtype_read_from_known_bytes) {
    unsigned char d[8 * 3 + 4 * 3 + 2 * 3 + 2 * 3 + 8 * 2];
    size_t o = 0;
    double f64[3] = {-0.0, ldexp(1, -1074), 1.0 / 3.0};
    for (int i = 0; i < 3; i++) {
        uint64_t u;
        memcpy(&u, &f64[i], 8);
        put_le(d + o, u, 8), o += 8;
    }
    float f32[3] = {1.5f, -ldexpf(1, -149), 3.40282347e38f};
    for (int i = 0; i < 3; i++) {
        uint32_t u;
        memcpy(&u, &f32[i], 4);
        put_le(d + o, u, 4), o += 4;
    }
    uint16_t f16[3] = {0x0001, 0x3C00, 0xC000}, bf16[3] = {0x0001, 0x3F80, 0xC040};
    for (int i = 0; i < 3; i++) put_le(d + o, f16[i], 2), o += 2;
    for (int i = 0; i < 3; i++) put_le(d + o, bf16[i], 2), o += 2;
    put_le(d + o, (uint64_t)-5, 8), o += 8;
    put_le(d + o, 7, 8), o += 8;
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"\\u00e9\\ud83d\\ude00\"},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]},"
                      "\"a\":{\"dtype\":\"F64\",\"shape\":[1,3],\"data_offsets\":[0,24]},"
                      "\"c\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[36,42]},"
                      "\"d\":{\"dtype\":\"BF16\",\"shape\":[3,1],\"data_offsets\":[42,48]},"
                      "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[48,64]},"
                      "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[64,64]}}   ";
    size_t len;
    unsigned char *img = image(hdr, d, o, &len);
    seed_out("valid_dtypes", img, len);
    mr_st_file f;
    mr_error e = {0};
    cr_assert(mr_st_open_mem(&f, "dtypes.safetensors", img, len, &e) == MR_OK, "%s", e.msg);
    cr_assert_eq(f.n, 6);
    cr_expect_str_eq(mr_st_meta(&f, "format"), "pt");
    cr_expect_str_eq(mr_st_meta(&f, "note"), "\xc3\xa9\xf0\x9f\x98\x80", "escapes decoded to UTF-8");
    double v[3];
    long k = mr_st_find(&f, "a");
    cr_assert(k >= 0 && f.t[k].ndim == 2 && f.t[k].shape[1] == 3);
    cr_assert(mr_st_read_f64(&f, (size_t)k, v, &e) == MR_OK, "%s", e.msg);
    for (int i = 0; i < 3; i++) cr_expect(same_bits(v[i], f64[i]), "F64 %d", i);
    cr_assert(mr_st_read_f64(&f, (size_t)mr_st_find(&f, "b"), v, &e) == MR_OK);
    for (int i = 0; i < 3; i++) cr_expect(same_bits(v[i], (double)f32[i]), "F32 %d", i);
    cr_assert(mr_st_read_f64(&f, (size_t)mr_st_find(&f, "c"), v, &e) == MR_OK);
    cr_expect(same_bits(v[0], ldexp(1, -24)) && v[1] == 1.0 && v[2] == -2.0);
    cr_assert(mr_st_read_f64(&f, (size_t)mr_st_find(&f, "d"), v, &e) == MR_OK);
    cr_expect(same_bits(v[0], ldexp(1, -133)) && v[1] == 1.0 && v[2] == -3.0);
    cr_expect(f.t[mr_st_find(&f, "empty")].count == 0);
    cr_expect(mr_st_read_f64(&f, (size_t)mr_st_find(&f, "i"), v, &e) == MR_EUNSUPPORTED);
    cr_expect(strstr(e.msg, "'i'") && strstr(e.msg, "I64") && strstr(e.msg, "dtypes.safetensors"), "%s", e.msg);
    int64_t raw[2];
    cr_assert(mr_st_read_raw(&f, (size_t)mr_st_find(&f, "i"), raw, &e) == MR_OK);
    cr_expect(raw[0] == -5 && raw[1] == 7);
    mr_st_close(&f);
    /* the same bytes from a file */
    char path[512];
    t_path(path, sizeof path, "dtypes.safetensors");
    cr_assert(t_write_file(path, img, len) == 0);
    cr_assert(mr_st_open(&f, path, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_st_read_f64(&f, (size_t)mr_st_find(&f, "a"), v, &e) == MR_OK);
    for (int i = 0; i < 3; i++) cr_expect(same_bits(v[i], f64[i]));
    mr_st_close(&f);
    free(img);
}

Test(safetensors, writer_round_trip_f64_exact_f32_rounded) {
    double a[6] = {0.1, -1e-300, 1e300, -0.0, 4.9e-324, 1.0 / 7.0}, s = 2.5;
    size_t sa[2] = {2, 3}, s3 = 3;
    mr_st_entry ent[3] = {{"weird \"name\"\\\n", MR_ST_F64, 2, sa, a},
                          {"f32", MR_ST_F32, 1, &s3, a + 3}, /* -0, tiny, 1/7 */
                          {"scalar", MR_ST_F64, 0, NULL, &s}};
    const char *meta[4] = {"format", "pt", "k", "v"};
    char path[512];
    t_path(path, sizeof path, "w.safetensors");
    mr_error e = {0};
    t_traps_off(); /* 4.9e-324 → float underflows by design */
    int rc = mr_st_save(path, 3, ent, 2, meta, &e);
    t_traps_on();
    cr_assert(rc == MR_OK, "%s", e.msg);
    mr_st_file f;
    cr_assert(mr_st_open(&f, path, &e) == MR_OK, "%s", e.msg);
    cr_expect(f.data_start % 8 == 0, "buffer 8-byte aligned");
    cr_assert_eq(f.n, 3);
    cr_expect_str_eq(f.t[0].name, "weird \"name\"\\\n");
    double v[6];
    cr_assert(mr_st_read_f64(&f, 0, v, &e) == MR_OK);
    for (int i = 0; i < 6; i++) cr_expect(same_bits(v[i], a[i]), "F64 %d", i);
    cr_assert(mr_st_read_f64(&f, 1, v, &e) == MR_OK);
    cr_expect(same_bits(v[0], -0.0) && v[1] == 0 && same_bits(v[2], (double)(float)(1.0 / 7.0)));
    cr_expect(f.t[2].ndim == 0 && f.t[2].count == 1);
    cr_assert(mr_st_read_f64(&f, 2, v, &e) == MR_OK);
    cr_expect(v[0] == 2.5);
    cr_expect_str_eq(mr_st_meta(&f, "k"), "v");
    mr_st_close(&f);
    /* an empty file list is a valid file too */
    cr_assert(mr_st_save(path, 0, NULL, 0, NULL, &e) == MR_OK);
    cr_assert(mr_st_open(&f, path, &e) == MR_OK, "%s", e.msg);
    cr_expect(f.n == 0);
    mr_st_close(&f);
    /* duplicate names refused by the writer */
    mr_st_entry dup[2] = {{"x", MR_ST_F64, 0, NULL, &s}, {"x", MR_ST_F64, 0, NULL, &s}};
    cr_expect(mr_st_save(path, 2, dup, 0, NULL, &e) == MR_EINVAL);
}

/* ------------------------------------------------------------ malformed */

typedef struct {
    const char *label, *hdr;
    size_t dlen;  /* data bytes (zeros) after the header */
    int code;
    const char *want; /* substring of the message */
} bad_case;

#define T4(off) "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" off "}"

static const bad_case BAD[] = {
    {"not_json_object", "[1,2]", 0, MR_EFORMAT, "does not start with '{'"},
    {"empty_header", "", 0, MR_EFORMAT, "does not start with '{'"},
    {"trailing_comma", "{" T4("[0,4]") ",}", 4, MR_EFORMAT, "malformed JSON"},
    {"unterminated", "{\"t\":{\"dtype\":\"F32", 0, MR_EFORMAT, "unterminated string"},
    {"missing_colon", "{\"t\" {}}", 0, MR_EFORMAT, "expected ':'"},
    {"trailing_garbage", "{" T4("[0,4]") "} x", 4, MR_EFORMAT, "trailing characters"},
    {"bad_utf8", "{\"t\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "not valid UTF-8"},
    {"overlong_utf8", "{\"t\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "not valid UTF-8"},
    {"surrogate_utf8", "{\"t\xed\xa0\x80\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "not valid UTF-8"},
    {"lone_surrogate_escape", "{\"t\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "lone surrogate"},
    {"nul_escape", "{\"t\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "\\u0000"},
    {"control_char", "{\"t\n\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "control character"},
    {"deep_nesting", "{\"__metadata__\":{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}}", 0, MR_EFORMAT, "nested deeper than 8"},
    {"duplicate_name", "{" T4("[0,4]") "," T4("[4,8]") "}", 8, MR_EFORMAT, "duplicate key 't'"},
    {"duplicate_field", "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "duplicate key 'dtype'"},
    {"unknown_dtype", "{\"t\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "unknown dtype 'F128'"},
    {"dtype_not_string", "{\"t\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "'dtype' missing or not a string"},
    {"missing_shape", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "'shape' missing"},
    {"missing_offsets", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, MR_EFORMAT, "'data_offsets' missing"},
    {"extra_field", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, MR_EFORMAT, "unexpected field 'x'"},
    {"entry_not_object", "{\"t\":[1]}", 0, MR_EFORMAT, "not a JSON object"},
    {"negative_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "shape[0]"},
    {"fractional_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "shape[0]"},
    {"string_dim", "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "shape[0]"},
    {"dims_overflow", "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "overflows"},
    {"too_many_dims", "{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, MR_EUNSUPPORTED, "9 dimensions"},
    {"offsets_three", "{" T4("[0,4,8]") "}", 4, MR_EFORMAT, "two non-negative integers"},
    {"offsets_huge", "{" T4("[0,18446744073709551616]") "}", 4, MR_EFORMAT, "two non-negative integers"},
    {"offsets_reversed", "{" T4("[4,0]") "}", 4, MR_EFORMAT, "end before they begin"},
    {"size_mismatch", "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, MR_EFORMAT, "shape × F32 size needs 12"},
    {"beyond_data", "{" T4("[0,4]") "}", 2, MR_EFORMAT, "run past the end of the data"},
    {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, MR_EFORMAT, "overlap tensor 'a'"},
    {"same_range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "overlap"},
    {"hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, MR_EFORMAT, "a hole of 4 bytes"},
    {"not_from_zero", "{" T4("[4,8]") "}", 8, MR_EFORMAT, "a hole of 4 bytes"},
    {"trailing_bytes", "{" T4("[0,4]") "}", 9, MR_EFORMAT, "5 bytes after the last tensor"},
    {"data_without_tensors", "{}", 3, MR_EFORMAT, "lists no tensor"},
    {"metadata_not_string", "{\"__metadata__\":{\"a\":1}," T4("[0,4]") "}", 4, MR_EFORMAT, "__metadata__ value of 'a'"},
    {"metadata_not_object", "{\"__metadata__\":[]," T4("[0,4]") "}", 4, MR_EFORMAT, "__metadata__ is not an object"},
    {"empty_name", "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MR_EFORMAT, "empty name"},
};

static void check_bad(const char *label, const unsigned char *img, size_t len, int code, const char *want) {
    mr_st_file f;
    mr_error e = {0};
    char lab[128];
    snprintf(lab, sizeof lab, "bad_%s.safetensors", label);
    int rc = mr_st_open_mem(&f, lab, img, len, &e);
    if (rc == MR_OK) mr_st_close(&f);
    cr_expect(rc == code, "%s: status %d, want %d (%s)", label, rc, code, e.msg);
    cr_expect(strstr(e.msg, lab) != NULL, "%s: message does not name the file: %s", label, e.msg);
    cr_expect(strstr(e.msg, want) != NULL, "%s: message lacks '%s': %s", label, want, e.msg);
}

static void run_bad_corpus(void) {
    unsigned char zeros[64] = {0};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        size_t len;
        unsigned char *img = image(BAD[i].hdr, zeros, BAD[i].dlen, &len);
        seed_out(BAD[i].label, img, len);
        check_bad(BAD[i].label, img, len, BAD[i].code, BAD[i].want);
        free(img);
    }
    /* header length field itself */
    unsigned char shortf[4] = {1, 0, 0, 0};
    check_bad("too_short", shortf, 4, MR_EFORMAT, "too short");
    seed_out("too_short", shortf, 4);
    size_t len;
    unsigned char *img = image("{" T4("[0,4]") "}", zeros, 4, &len);
    put_le(img, 1000, 8);
    check_bad("header_beyond_file", img, len, MR_EFORMAT, "header length 1000 runs beyond the file");
    seed_out("header_beyond_file", img, len);
    put_le(img, UINT64_MAX, 8);
    check_bad("header_len_max", img, len, MR_EFORMAT, "runs beyond the file");
    free(img);
    /* truncated data: a valid file cut short */
    img = image("{\"a\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}", zeros, 32, &len);
    check_bad("truncated", img, len - 5, MR_EFORMAT, "run past the end of the data (27 bytes; truncated file?)");
    seed_out("truncated", img, len - 5);
    free(img);
    /* a valid image with everything: good seed */
    img = image("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[4,6]}}",
                "\x80\x3f\x00\x7f\x00\x3c", 6, &len);
    seed_out("valid_small", img, len);
    mr_st_file f;
    mr_error e = {0};
    cr_expect(mr_st_open_mem(&f, "valid_small", img, len, &e) == MR_OK, "%s", e.msg);
    mr_st_close(&f);
    free(img);
}

Test(safetensors, malformed_corpus_gives_clear_errors) { run_bad_corpus(); }

/* `make fuzz-safetensors` runs this with MIMRL_FUZZ_SEEDS set to collect the corpus. */
Test(safetensors, write_fuzz_seeds) {
    if (!getenv("MIMRL_FUZZ_SEEDS")) cr_skip_test("only used by make fuzz to write its seed corpus (MIMRL_FUZZ_SEEDS unset)");
    run_bad_corpus();
}

Test(safetensors, missing_file_and_directory) {
    mr_st_file f;
    mr_error e = {0};
    cr_expect(mr_st_open(&f, "build/no/such.safetensors", &e) == MR_EIO);
    cr_expect(strstr(e.msg, "build/no/such.safetensors: cannot open"), "%s", e.msg);
    cr_expect(mr_st_open(&f, "build", &e) == MR_EIO);
}

/* ------------------------------------------------------------ JSON */

Test(safetensors, json_reader_strictness) {
    mr_json v;
    mr_error e = {0};
    const char *ok = " {\"a\": [1, -2.5e3, true, false, null, {\"b\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"}], \"n\": 0} ";
    cr_assert(mr_json_parse(ok, strlen(ok), 4, &v, "t", &e) == MR_OK, "%s", e.msg);
    const mr_json *a = mr_json_get(&v, "a");
    cr_assert(a && a->type == MR_JARR && a->n == 6);
    cr_expect(a->items[1].num == -2500 && a->items[2].b == 1 && a->items[4].type == MR_JNULL);
    cr_expect_str_eq(mr_json_get(&a->items[5], "b")->str, "\"\\/\b\f\n\r\tA");
    uint64_t u = 1;
    cr_expect(mr_json_u64(mr_json_get(&v, "n"), &u) == 0 && u == 0);
    cr_expect(mr_json_u64(&a->items[1], &u) == 1, "negative or fractional is not a u64");
    mr_json_free(&v);
    const char *bad[] = {"{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":tru}", "{'a':1}",
                         "{\"a\":1,\"a\":2}", "{\"x\":{\"a\":1,\"a\":1}}", "[[[[[1]]]]]", "{\"a\":\"\\x\"}", "",
                         "{\"a\":1", "{\"a\":\"\\uD83D\"}", "{\"a\":\"\\uDE00\"}", "{\"a\":\"\\u12G4\"}", "1 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect(mr_json_parse(bad[i], strlen(bad[i]), 4, &v, "t", &e) == MR_EFORMAT, "accepted: %s", bad[i]);
        cr_expect(v.n == 0 && v.items == NULL, "left allocated after an error");
    }
    cr_expect(mr_json_parse("[[[[1]]]]", 9, 4, &v, "t", &e) == MR_OK, "depth 4 allowed with max 4");
    mr_json_free(&v);
    size_t badpos;
    cr_expect(mr_utf8_check((const unsigned char *)"ok \xf4\x8f\xbf\xbf", 7, &badpos) == 0, "U+10FFFF valid");
    cr_expect(mr_utf8_check((const unsigned char *)"ok \xf4\x90\x80\x80", 7, &badpos) == 1 && badpos == 3);
    cr_expect(mr_utf8_check((const unsigned char *)"\xe2\x82", 2, &badpos) == 1, "cut sequence");
}

/* ------------------------------------------------------------ config.json */

static const char *BASE_CONFIG =
    "{\n  \"architectures\": [\"BertForMaskedLM\"],\n  \"attention_probs_dropout_prob\": 0.1,\n"
    "  \"gradient_checkpointing\": false,\n  \"hidden_act\": \"gelu\",\n  \"hidden_dropout_prob\": 0.1,\n"
    "  \"hidden_size\": 768,\n  \"initializer_range\": 0.02,\n  \"intermediate_size\": 3072,\n"
    "  \"layer_norm_eps\": 1e-12,\n  \"max_position_embeddings\": 512,\n  \"model_type\": \"bert\",\n"
    "  \"num_attention_heads\": 12,\n  \"num_hidden_layers\": 12,\n  \"pad_token_id\": 0,\n"
    "  \"position_embedding_type\": \"absolute\",\n  \"transformers_version\": \"4.6.0.dev0\",\n"
    "  \"type_vocab_size\": 2,\n  \"use_cache\": true,\n  \"vocab_size\": 30522\n}\n";

Test(safetensors, config_json_reader) {
    mr_bert_config c, base;
    mr_bert_config_base(&base);
    mr_error e = {0};
    cr_assert(mr_bert_config_parse_json(BASE_CONFIG, strlen(BASE_CONFIG), "config.json", &c, &e) == MR_OK, "%s", e.msg);
    cr_expect(memcmp(&c, &base, sizeof c) == 0, "bert-base-uncased's config.json gives the base sizes");
    const char *small = "{\"hidden_size\": 8, \"num_attention_heads\": 2, \"num_hidden_layers\": 1, "
                        "\"intermediate_size\": 16, \"vocab_size\": 20, \"layer_norm_eps\": 1e-5}";
    cr_assert(mr_bert_config_parse_json(small, strlen(small), "small", &c, &e) == MR_OK, "%s", e.msg);
    cr_expect(c.hidden_size == 8 && c.vocab_size == 20 && c.layer_norm_eps == 1e-5 && c.max_position_embeddings == 512,
              "absent keys take BertConfig's defaults");
    struct {
        const char *json, *want;
        int code;
    } bad[] = {{"{\"hidden_act\": \"relu\"}", "field 'hidden_act' is \"relu\"", MR_EUNSUPPORTED},
               {"{\"model_type\": \"roberta\"}", "field 'model_type'", MR_EUNSUPPORTED},
               {"{\"position_embedding_type\": \"relative_key\"}", "position_embedding_type", MR_EUNSUPPORTED},
               {"{\"hidden_size\": 76.8}", "field 'hidden_size' is not a non-negative integer", MR_EFORMAT},
               {"{\"hidden_size\": \"768\"}", "field 'hidden_size'", MR_EFORMAT},
               {"{\"vocab_size\": -1}", "field 'vocab_size'", MR_EFORMAT},
               {"{\"layer_norm_eps\": \"x\"}", "field 'layer_norm_eps'", MR_EFORMAT},
               {"{\"hidden_size\": 100}", "not a multiple of num_attention_heads", MR_EINVAL},
               {"{\"hidden_dropout_prob\": 1}", "hidden_dropout_prob", MR_EINVAL},
               {"{\"num_hidden_layers\": 0}", "num_hidden_layers must be positive", MR_EINVAL},
               {"[]", "not a JSON object", MR_EFORMAT},
               {"{\"a\":1,}", "malformed JSON", MR_EFORMAT}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e.msg[0] = 0;
        int rc = mr_bert_config_parse_json(bad[i].json, strlen(bad[i].json), "dir/config.json", &c, &e);
        cr_expect(rc == bad[i].code, "%s: %d (%s)", bad[i].json, rc, e.msg);
        cr_expect(strstr(e.msg, bad[i].want) && strstr(e.msg, "dir/config.json"), "%s: %s", bad[i].json, e.msg);
    }
    /* the writer's text reads back to the same config */
    c = base;
    c.hidden_size = 64, c.num_attention_heads = 4, c.vocab_size = 123, c.layer_norm_eps = 1e-7;
    char *js = mr_bert_config_to_json(&c);
    mr_bert_config r;
    cr_assert(mr_bert_config_parse_json(js, strlen(js), "w", &r, &e) == MR_OK, "%s", e.msg);
    cr_expect(memcmp(&r, &c, sizeof c) == 0);
    cr_expect(strstr(js, "\"layer_norm_eps\": 1e-07"), "%s", js);
    free(js);
}

/* ------------------------------------------------------------ BERT loaders */

static void tiny(mr_bert_config *c) {
    mr_bert_config_base(c);
    c->vocab_size = 10, c->hidden_size = 4, c->num_hidden_layers = 2, c->num_attention_heads = 2;
    c->intermediate_size = 8, c->max_position_embeddings = 6, c->type_vocab_size = 2;
}

/* A store with the bertmodel.* tensors plus one unrelated tensor. */
static void store(mr_params *p, const mr_bert_config *c) {
    mr_params_init(p);
    mr_error e = {0};
    size_t s = 3;
    cr_assert(mr_params_add(p, "fusion.weight", 1, &s, &e) == MR_OK);
    cr_assert(mr_bert_params_add(p, c, MR_BERT_PREFIX, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_params_alloc(p, &e) == MR_OK);
}

/* The tiny config and a store filled by the name-keyed generator. */
static void tiny_src(mr_bert_config *c, mr_params *src, uint64_t seed) {
    tiny(c);
    store(src, c);
    t_gen_params(src, seed, 1.0);
}

typedef struct {
    const mr_params *p;
    mr_st_entry ent[80];
    char names[80][MR_NAME_MAX];
    size_t n;
    const char *prefix; /* what to put in front of the bare HF name */
    int gamma;          /* LayerNorm weight/bias → gamma/beta */
} hf_ctx;

static int hf_one(void *ctx, const char *name, int ndim, const size_t *shape) {
    hf_ctx *h = ctx;
    (void)shape;
    long i = mr_params_find(h->p, name);
    cr_assert(i >= 0);
    char *nm = h->names[h->n];
    snprintf(nm, MR_NAME_MAX, "%s%s", h->prefix, name + strlen(MR_BERT_PREFIX));
    size_t L = strlen(nm);
    if (h->gamma && L > 16 && strcmp(nm + L - 16, "LayerNorm.weight") == 0) strcpy(nm + L - 6, "gamma");
    else if (h->gamma && L > 14 && strcmp(nm + L - 14, "LayerNorm.bias") == 0) strcpy(nm + L - 4, "beta");
    h->ent[h->n] = (mr_st_entry){nm, MR_ST_F64, ndim, h->p->t[i].shape, h->p->data + h->p->t[i].offset};
    h->n++;
    return 0;
}

static void write_hf(const mr_params *src, const mr_bert_config *c, const char *path, const char *prefix, int gamma,
                     const mr_st_entry *more, size_t n_more, const char *skip) {
    hf_ctx *h = calloc(1, sizeof *h);
    h->p = src, h->prefix = prefix, h->gamma = gamma;
    mr_bert_for_each_param(c, MR_BERT_PREFIX, hf_one, h);
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!skip || !strstr(h->names[i], skip)) h->ent[k++] = h->ent[i];
    for (size_t i = 0; i < n_more; i++) h->ent[k++] = more[i];
    mr_error e = {0};
    cr_assert(mr_st_save(path, k, h->ent, 0, NULL, &e) == MR_OK, "%s", e.msg);
    free(h);
}

static void check_equal(const mr_params *a, const mr_params *b) {
    for (size_t i = 0; i < a->n; i++) {
        if (strncmp(a->t[i].name, MR_BERT_PREFIX, strlen(MR_BERT_PREFIX))) continue;
        const double *x = mr_params_get(a, a->t[i].name), *y = mr_params_get(b, a->t[i].name);
        cr_assert(y);
        cr_assert(memcmp(x, y, a->t[i].size * sizeof *x) == 0, "%s differs", a->t[i].name);
    }
}

Test(safetensors, hf_names_with_and_without_bert_prefix_and_gamma_beta) {
    mr_bert_config c;
    mr_params src, dst;
    tiny_src(&c, &src, 7);
    const char *variants[][2] = {{"", "bare"}, {"bert.", "bert"}, {"bertmodel.", "bertmodel"}};
    for (int v = 0; v < 3; v++)
        for (int gamma = 0; gamma < 2; gamma++) {
            char path[512], lab[64];
            snprintf(lab, sizeof lab, "hf_%s_%d.safetensors", variants[v][1], gamma);
            t_path(path, sizeof path, lab);
            /* a BertForPreTraining-like file: heads and the position_ids buffer besides */
            double cb[10] = {0}, pid[6] = {0, 1, 2, 3, 4, 5};
            size_t s10 = 10, s16[2] = {1, 6};
            mr_st_entry more[2] = {{"cls.predictions.bias", MR_ST_F64, 1, &s10, cb},
                                   {"bert.embeddings.position_ids", MR_ST_F64, 2, s16, pid}};
            write_hf(&src, &c, path, variants[v][0], gamma, more, v == 1 ? 2 : 0, NULL);
            store(&dst, &c);
            double *fw = mr_params_get(&dst, "fusion.weight");
            fw[0] = 42;
            char *note = NULL;
            mr_error e = {0};
            cr_assert(mr_bert_load_weights(&dst, &c, path, &note, &e) == MR_OK, "%s: %s", lab, e.msg);
            check_equal(&src, &dst);
            cr_expect(fw[0] == 42, "other tensors untouched");
            if (v == 1) {
                cr_assert(note, "ignored entries are noted");
                cr_expect(strstr(note, "ignored 2") && strstr(note, "cls.predictions.bias") &&
                              strstr(note, "bert.embeddings.position_ids"), "%s", note);
            } else cr_expect(note == NULL);
            free(note);
            mr_params_free(&dst);
        }
    mr_params_free(&src);
}

Test(safetensors, f16_bf16_f32_checkpoints_convert_exactly) {
    mr_bert_config c;
    tiny(&c);
    c.num_hidden_layers = 1;
    mr_params src, dst;
    store(&src, &c);
    t_gen_params(&src, 3, 1.0);
    /* round every value to a half so the F16 file holds it exactly */
    for (size_t i = 0; i < src.total; i++) src.data[i] = ldexp(round(ldexp(src.data[i], 10)), -10);
    char path[512];
    t_path(path, sizeof path, "f16.safetensors");
    /* hand-write an F16 checkpoint from the rounded values */
    hf_ctx *h = calloc(1, sizeof *h);
    h->p = &src, h->prefix = "bert.";
    mr_bert_for_each_param(&c, MR_BERT_PREFIX, hf_one, h);
    size_t hdr_cap = 1 << 16, dl = 0;
    char *hdr = malloc(hdr_cap);
    unsigned char *data = malloc(src.total * 2);
    size_t hl = (size_t)snprintf(hdr, hdr_cap, "{");
    for (size_t i = 0; i < h->n; i++) {
        const mr_st_entry *t = &h->ent[i];
        size_t cnt = t->ndim == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
        hl += (size_t)snprintf(hdr + hl, hdr_cap - hl, "%s\"%s\":{\"dtype\":\"F16\",\"shape\":[%zu%s", i ? "," : "",
                               t->name, t->shape[0], t->ndim == 2 ? "," : "");
        if (t->ndim == 2) hl += (size_t)snprintf(hdr + hl, hdr_cap - hl, "%zu", t->shape[1]);
        hl += (size_t)snprintf(hdr + hl, hdr_cap - hl, "],\"data_offsets\":[%zu,%zu]}", dl, dl + 2 * cnt);
        for (size_t j = 0; j < cnt; j++) {
            double x = t->data[j];
            uint16_t b;
            if (x == 0) b = 0;
            else {
                int ex;
                double m = frexp(fabs(x), &ex); /* x = m·2^ex, m in [0.5, 1) */
                if (ex - 1 < -14) b = (uint16_t)ldexp(fabs(x), 24); /* subnormal */
                else b = (uint16_t)(((ex - 1 + 15) << 10) | ((uint16_t)ldexp(m, 11) & 0x3FF));
                if (x < 0) b |= 0x8000;
            }
            put_le(data + dl, b, 2), dl += 2;
        }
    }
    hl += (size_t)snprintf(hdr + hl, hdr_cap - hl, "}");
    size_t len;
    unsigned char *img = image(hdr, data, dl, &len);
    cr_assert(t_write_file(path, img, len) == 0);
    store(&dst, &c);
    mr_error e = {0};
    cr_assert(mr_bert_load_weights(&dst, &c, path, NULL, &e) == MR_OK, "%s", e.msg);
    check_equal(&src, &dst);
    /* an inf in the file: refused, store untouched */
    put_le(img + len - 2, 0x7C00, 2);
    cr_assert(t_write_file(path, img, len) == 0);
    memset(dst.data, 0, dst.total * sizeof(double));
    cr_expect(mr_bert_load_weights(&dst, &c, path, NULL, &e) == MR_EFORMAT);
    cr_expect(strstr(e.msg, "bert.pooler.dense.bias' holds a non-finite value at flat index 3"), "%s", e.msg);
    for (size_t i = 0; i < dst.total; i++) cr_assert(dst.data[i] == 0, "store written despite the error");
    free(img);
    free(hdr);
    free(data);
    free(h);
    mr_params_free(&src);
    mr_params_free(&dst);
}

Test(safetensors, missing_extra_misshaped_reported_together) {
    mr_bert_config c;
    mr_params src, dst;
    tiny_src(&c, &src, 5);
    char path[512];
    t_path(path, sizeof path, "bad_bert.safetensors");
    double junk[40] = {0};
    size_t s1 = 4, s2[2] = {9, 4}, s3 = 3;
    mr_st_entry more[4] = {{"bert.encoder.layer.0.attention.self.rotary.weight", MR_ST_F64, 1, &s1, junk},
                           {"encoder.layer.5.output.dense.bias", MR_ST_F64, 1, &s1, junk},
                           {"bert.embeddings.word_embeddings.weight", MR_ST_F64, 2, s2, junk}, /* 9 rows, want 10 */
                           {"bert.embeddings.LayerNorm.gamma", MR_ST_F64, 1, &s3, junk}};
    /* drop the pooler bias and the real word embeddings / embeddings LayerNorm weight */
    hf_ctx *h = calloc(1, sizeof *h);
    h->p = &src, h->prefix = "bert.";
    mr_bert_for_each_param(&c, MR_BERT_PREFIX, hf_one, h);
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!strstr(h->names[i], "pooler.dense.bias") && !strstr(h->names[i], "word_embeddings") &&
            !strstr(h->names[i], "embeddings.LayerNorm.weight"))
            h->ent[k++] = h->ent[i];
    for (size_t i = 0; i < 4; i++) h->ent[k++] = more[i];
    mr_error e = {0};
    cr_assert(mr_st_save(path, k, h->ent, 0, NULL, &e) == MR_OK, "%s", e.msg);
    free(h);
    store(&dst, &c);
    for (size_t i = 0; i < dst.total; i++) dst.data[i] = 0.5;
    int rc = mr_bert_load_weights(&dst, &c, path, NULL, &e);
    cr_expect(rc == MR_ESHAPE, "%d %s", rc, e.msg);
    const char *want[] = {"bad_bert.safetensors",
                          "5 problems",
                          "extra 'bert.encoder.layer.0.attention.self.rotary.weight' (as 'bertmodel.encoder.layer.0.attention.self.rotary.weight')",
                          "extra 'encoder.layer.5.output.dense.bias'",
                          "missing 'bertmodel.pooler.dense.bias'",
                          "'bert.embeddings.word_embeddings.weight' has shape [9,4] in the file but [10,4] in the model",
                          "'bert.embeddings.LayerNorm.gamma' has shape [3] in the file but [4]"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) cr_expect(strstr(e.msg, want[i]), "lacks '%s': %s", want[i], e.msg);
    for (size_t i = 0; i < dst.total; i++) cr_assert(dst.data[i] == 0.5, "store written despite the error");
    mr_params_free(&src);
    mr_params_free(&dst);
}

Test(safetensors, duplicate_mapping_and_store_checks) {
    mr_bert_config c;
    tiny(&c);
    mr_params src, dst;
    store(&src, &c);
    char path[512];
    t_path(path, sizeof path, "dup.safetensors");
    double z[4] = {0};
    size_t s1 = 4;
    mr_st_entry more[1] = {{"embeddings.LayerNorm.gamma", MR_ST_F64, 1, &s1, z}}; /* beside the .weight one */
    write_hf(&src, &c, path, "", 0, more, 1, NULL);
    store(&dst, &c);
    mr_error e = {0};
    cr_expect(mr_bert_load_weights(&dst, &c, path, NULL, &e) == MR_ESHAPE);
    cr_expect(strstr(e.msg, "'embeddings.LayerNorm.weight' and 'embeddings.LayerNorm.gamma' both map to "
                            "'bertmodel.embeddings.LayerNorm.weight'"), "%s", e.msg);
    /* a store without the BERT tensors is the caller's error */
    mr_params empty;
    mr_params_init(&empty);
    size_t one = 1;
    mr_params_add(&empty, "x", 1, &one, &e);
    mr_params_alloc(&empty, &e);
    cr_expect(mr_bert_load_weights(&empty, &c, path, NULL, &e) == MR_EINVAL);
    cr_expect(strstr(e.msg, "lacks 'bertmodel.pooler.dense.bias'"), "%s", e.msg);
    mr_params_free(&empty);
    mr_params_free(&src);
    mr_params_free(&dst);
}

Test(safetensors, npz_state_dict_loads_too) {
    mr_bert_config c;
    mr_params src, dst;
    tiny_src(&c, &src, 11);
    char path[512];
    t_path(path, sizeof path, "state_dict.npz");
    mr_error e = {0};
    /* mr_params_save writes every tensor under its name (bertmodel.*, and the
     * unrelated fusion.weight: an extra here) plus config_json */
    mr_params bert_only;
    mr_params_init(&bert_only);
    cr_assert(mr_bert_params_add(&bert_only, &c, MR_BERT_PREFIX, &e) == MR_OK);
    cr_assert(mr_params_alloc(&bert_only, &e) == MR_OK);
    for (size_t i = 0; i < bert_only.n; i++)
        memcpy(bert_only.data + bert_only.t[i].offset, mr_params_get(&src, bert_only.t[i].name),
               bert_only.t[i].size * sizeof(double));
    cr_assert(mr_params_save(&bert_only, path, "{\"x\":1}", 1, &e) == MR_OK, "%s", e.msg);
    store(&dst, &c);
    char *note = NULL;
    cr_assert(mr_bert_load_weights(&dst, &c, path, &note, &e) == MR_OK, "%s", e.msg);
    cr_expect(note == NULL, "bookkeeping members are ignored silently");
    check_equal(&src, &dst);
    /* the whole-model npz: fusion.weight is reported as extra */
    cr_assert(mr_params_save(&src, path, NULL, 0, &e) == MR_OK);
    cr_expect(mr_bert_load_weights(&dst, &c, path, NULL, &e) == MR_ESHAPE);
    cr_expect(strstr(e.msg, "extra 'fusion.weight'"), "%s", e.msg);
    mr_params_free(&bert_only);
    mr_params_free(&src);
    mr_params_free(&dst);
}

/* ------------------------------------------------------------ directories, CLI */

Test(safetensors, hf_directory_and_its_errors) {
    mr_bert_config c, got;
    tiny(&c);
    mr_params src, dst;
    store(&src, &c);
    t_gen_params(&src, 13, 1.0);
    char dir[512], path[600];
    t_path(dir, sizeof dir, "hfdir");
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *js = mr_bert_config_to_json(&c);
    t_write_file(path, js, strlen(js));
    free(js);
    mr_error e = {0};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert(mr_bert_save_safetensors(&src, &c, MR_BERT_PREFIX, path, 0, &e) == MR_OK, "%s", e.msg);
    mr_params_init(&dst);
    cr_assert(mr_bert_load_dir(dir, &got, &dst, NULL, &e) == MR_OK, "%s", e.msg);
    cr_expect(memcmp(&got, &c, sizeof c) == 0);
    check_equal(&src, &dst);
    mr_params_free(&dst);
    /* F32 save: values rounded to float */
    cr_assert(mr_bert_save_safetensors(&src, &c, MR_BERT_PREFIX, path, 1, &e) == MR_OK);
    mr_params_init(&dst);
    cr_assert(mr_bert_load_dir(dir, &got, &dst, NULL, &e) == MR_OK, "%s", e.msg);
    const double *a = mr_params_get(&src, "bertmodel.pooler.dense.weight"), *b = mr_params_get(&dst, "bertmodel.pooler.dense.weight");
    for (size_t i = 0; i < 16; i++) cr_expect(b[i] == (double)(float)a[i]);
    mr_params_free(&dst);
    /* no model.safetensors: hints */
    remove(path);
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    t_write_file(path, "x", 1);
    mr_params_init(&dst);
    cr_expect(mr_bert_load_dir(dir, &got, &dst, NULL, &e) == MR_EUNSUPPORTED);
    cr_expect(strstr(e.msg, "pytorch_model.bin"), "%s", e.msg);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    t_write_file(path, "{}", 2);
    cr_expect(mr_bert_load_dir(dir, &got, &dst, NULL, &e) == MR_EUNSUPPORTED);
    cr_expect(strstr(e.msg, "sharded"), "%s", e.msg);
    /* a config.json whose sizes the weights file cannot back: refused before allocating */
    remove(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert(mr_bert_save_safetensors(&src, &c, MR_BERT_PREFIX, path, 0, &e) == MR_OK);
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *huge = "{\"vocab_size\": 1099511627776, \"hidden_size\": 4, \"num_attention_heads\": 2}";
    t_write_file(path, huge, strlen(huge));
    cr_expect(mr_bert_load_dir(dir, &got, &dst, NULL, &e) == MR_EFORMAT);
    cr_expect(strstr(e.msg, "more than ") && strstr(e.msg, "/model.safetensors (") && dst.data == NULL, "%s", e.msg);
    /* a failed load leaves a fresh store as the caller had it */
    snprintf(path, sizeof path, "%s/config.json", dir);
    c.hidden_size = 8; /* the file holds hidden 4: every tensor mis-shaped */
    js = mr_bert_config_to_json(&c);
    t_write_file(path, js, strlen(js));
    free(js);
    size_t three = 3;
    cr_assert(mr_params_add(&dst, "fusion.weight", 1, &three, &e) == MR_OK);
    cr_expect(mr_bert_load_dir(dir, &got, &dst, NULL, &e) == MR_ESHAPE, "%s", e.msg);
    cr_expect(dst.n == 1 && dst.total == 3 && dst.data == NULL, "store restored: %zu tensors", dst.n);
    cr_expect(strstr(e.msg, "has shape [4] in the file but [8] in the model"), "%s", e.msg);
    cr_expect(mr_bert_load_dir("build/no/such/dir", &got, &dst, NULL, &e) == MR_EIO);
    mr_params_free(&dst);
    mr_params_free(&src);
}

static char *line_of(const char *text, int n, char *buf, size_t cap) {
    const char *p = text;
    for (int i = 0; i < n && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) return NULL;
    size_t k = strcspn(p, "\n");
    if (k >= cap) k = cap - 1;
    memcpy(buf, p, k);
    buf[k] = 0;
    return buf;
}

Test(safetensors, bert_init_writes_a_directory_that_loads_back_exactly) {
    char dir[512], words[512], args[2048], out[8192];
    t_path(dir, sizeof dir, "bert_init");
    t_path(words, sizeof words, "words.txt");
    const char *text = "Hello, world! the THE the\nnaïve x-ray 42\n";
    t_write_file(words, text, strlen(text));
    snprintf(args, sizeof args, "bert-init --layers 2 --hidden 16 --heads 4 --intermediate 24 --max-positions 40 "
             "--vocab-from %s --seed 5 --out %s", words, dir);
    int rc = t_run_cli(args, out, sizeof out);
    cr_assert(rc == 0, "%s", out);
    mr_bert_config c;
    mr_params p;
    mr_params_init(&p);
    mr_error e = {0};
    cr_assert(mr_bert_load_dir(dir, &c, &p, NULL, &e) == MR_OK, "%s", e.msg);
    cr_expect(c.num_hidden_layers == 2 && c.hidden_size == 16 && c.num_attention_heads == 4 &&
              c.intermediate_size == 24 && c.max_position_embeddings == 40);
    /* the same initialisation in-process: bit-identical */
    mr_params q;
    mr_params_init(&q);
    cr_assert(mr_bert_params_add(&q, &c, MR_BERT_PREFIX, &e) == MR_OK);
    cr_assert(mr_params_alloc(&q, &e) == MR_OK);
    mr_bert_init_hf(&q, &c, MR_BERT_PREFIX, 5);
    cr_assert(q.total == p.total);
    cr_expect(memcmp(q.data, p.data, p.total * sizeof(double)) == 0, "written weights differ from mr_bert_init_hf");
    const double *we = mr_params_get(&p, "bertmodel.embeddings.word_embeddings.weight");
    for (int j = 0; j < 16; j++) cr_expect(we[j] == 0, "[PAD] row is zero");
    const double *lw = mr_params_get(&p, "bertmodel.encoder.layer.1.output.LayerNorm.weight");
    const double *qb = mr_params_get(&p, "bertmodel.encoder.layer.1.attention.self.query.bias");
    cr_expect(lw[0] == 1 && lw[15] == 1 && qb[0] == 0 && qb[15] == 0);
    /* sample statistics of the normal(0, 0.02) draws */
    const double *w = mr_params_get(&p, "bertmodel.embeddings.position_embeddings.weight");
    double s = 0, s2 = 0;
    for (int i = 0; i < 40 * 16; i++) s += w[i], s2 += w[i] * w[i];
    cr_expect(fabs(s / 640) < 0.003 && fabs(sqrt(s2 / 640) - 0.02) < 0.003, "mean %g sd %g", s / 640, sqrt(s2 / 640));
    /* vocab.txt */
    char path[600], ln[128];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    size_t vlen;
    char *voc = (char *)t_read_file(path, &vlen);
    cr_assert(voc);
    voc = realloc(voc, vlen + 1);
    voc[vlen] = 0;
    cr_expect_str_eq(line_of(voc, 0, ln, sizeof ln), "[PAD]");
    cr_expect_str_eq(line_of(voc, 1, ln, sizeof ln), "[unused0]");
    cr_expect_str_eq(line_of(voc, 99, ln, sizeof ln), "[unused98]");
    cr_expect_str_eq(line_of(voc, 100, ln, sizeof ln), "[UNK]");
    cr_expect_str_eq(line_of(voc, 101, ln, sizeof ln), "[CLS]");
    cr_expect_str_eq(line_of(voc, 102, ln, sizeof ln), "[SEP]");
    cr_expect_str_eq(line_of(voc, 103, ln, sizeof ln), "[MASK]");
    cr_expect_str_eq(line_of(voc, 104, ln, sizeof ln), "!");
    size_t lines = 0;
    for (size_t i = 0; i < vlen; i++) lines += voc[i] == '\n';
    cr_expect(lines == c.vocab_size, "vocab.txt has %zu lines, config %zu", lines, c.vocab_size);
    /* words: "the" (3×) first, then alphabetical; punctuation split off; upper-cased folded; non-ASCII skipped */
    int first_word = 104 + 94 - 26 + 36;
    cr_expect_str_eq(line_of(voc, first_word, ln, sizeof ln), "the");
    cr_expect(strstr(voc, "\nhello\n") && strstr(voc, "\nworld\n") && strstr(voc, "\nray\n") &&
              strstr(voc, "\n42\n") && strstr(voc, "\n##z\n") && !strstr(voc, "Hello") && !strstr(voc, "na\xc3"));
    cr_expect(strstr(out, "1 word occurrences with non-ASCII"), "%s", out);
    free(voc);
    /* bert-info reads it */
    snprintf(args, sizeof args, "bert-info %s", dir);
    cr_expect(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_expect(strstr(out, "2 layers, hidden 16"), "%s", out);
    mr_params_free(&p);
    mr_params_free(&q);
}

Test(safetensors, bert_init_from_synth_transcripts_covers_every_word) {
    char prefix[512], dir[512], args[2048], out[8192];
    t_path(prefix, sizeof prefix, "syn");
    t_path(dir, sizeof dir, "bert_syn");
    snprintf(args, sizeof args, "synth --out %s --n-train 30 --n-valid 5 --n-test 5 --max-frames 20", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "bert-init --layers 1 --hidden 8 --vocab-from %s_train.npz --out %s", prefix, dir);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    char path[600];
    snprintf(path, sizeof path, "%s_train.npz", prefix);
    mr_npz z;
    mr_error e = {0};
    cr_assert(mr_npz_open(&z, path, &e) == MR_OK, "%s", e.msg);
    mr_array tb, to;
    cr_assert(mr_npz_read(&z, "text_bytes", &tb, &e) == MR_OK);
    cr_assert(mr_npz_read(&z, "text_offsets", &to, &e) == MR_OK);
    mr_npz_close(&z);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    size_t vlen;
    char *voc = (char *)t_read_file(path, &vlen);
    voc = realloc(voc, vlen + 2);
    memmove(voc + 1, voc, vlen);
    voc[0] = '\n';
    voc[vlen + 1] = 0;
    const int64_t *off = to.data;
    const char *txt = tb.data;
    size_t checked = 0;
    for (uint64_t i = 0; i + 1 < to.count; i++) {
        for (int64_t s = off[i]; s < off[i + 1];) {
            int64_t t = s;
            while (t < off[i + 1] && txt[t] != ' ' && txt[t] != '\n') t++;
            char w[160];
            snprintf(w, sizeof w, "\n%.*s\n", (int)(t - s), txt + s);
            if (t > s) {
                cr_assert(strstr(voc, w), "word '%.*s' of transcript %llu not in vocab.txt", (int)(t - s), txt + s,
                          (unsigned long long)i);
                checked++;
            }
            s = t + 1;
        }
    }
    cr_expect(checked > 30);
    free(voc);
    mr_array_free(&tb);
    mr_array_free(&to);
}

Test(safetensors, cli_exit_2_on_bad_input) {
    char path[512], args[1024], out[8192];
    t_path(path, sizeof path, "cli_bad.safetensors");
    size_t len;
    unsigned char zeros[8] = {0};
    unsigned char *img = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", zeros, 8, &len);
    t_write_file(path, img, len);
    free(img);
    snprintf(args, sizeof args, "bert-info %s", path);
    cr_expect(t_run_cli(args, out, sizeof out) == 2, "%s", out);
    cr_expect(strstr(out, "cli_bad.safetensors") && strstr(out, "tensor 'b'") && strstr(out, "overlap"), "%s", out);
    cr_expect(t_run_cli("bert-info build/no/such/dir", out, sizeof out) == 2, "%s", out);
    cr_expect(t_run_cli("bert-init --layers 2 --out build/x", out, sizeof out) == 2, "%s", out);
    cr_expect(t_run_cli("bert-init --layers 2 --hidden 30 --heads 4 --out build/x", out, sizeof out) == 2, "%s", out);
    cr_expect(strstr(out, "not a multiple of num_attention_heads"), "%s", out);
    cr_expect(t_run_cli("bert-init --layers 1 --hidden 8 --vocab-from build/no/such.npz --out build/x", out, sizeof out) == 2,
              "%s", out);
    cr_expect(t_run_cli("bert-nothing", out, sizeof out) == 2, "%s", out);
}

/* ------------------------------------------------------------ against numpy */

static int run_py(const char *mode, const char *a, const char *b) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s verify/safetensors_numpy.py %s %s %s", t_python(), mode, a, b);
    return system(cmd);
}

Test(safetensors, numpy_written_file_reads_bit_exact) {
    if (!t_python()) cr_skip_test(T_NO_PYTHON);
    char st[512], ex[512];
    t_path(st, sizeof st, "numpy.safetensors");
    t_path(ex, sizeof ex, "numpy_expected.npz");
    cr_assert(run_py("write", st, ex) == 0, "python writer failed");
    mr_st_file f;
    mr_npz z;
    mr_error e = {0};
    cr_assert(mr_st_open(&f, st, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_open(&z, ex, &e) == MR_OK, "%s", e.msg);
    cr_assert_eq(f.n, 4);
    for (size_t i = 0; i < f.n; i++) {
        mr_array a;
        cr_assert(mr_npz_read(&z, f.t[i].name, &a, &e) == MR_OK, "%s", e.msg);
        cr_assert(a.count == f.t[i].count && a.ndim == f.t[i].ndim, "%s", f.t[i].name);
        double *v = malloc(a.count * sizeof *v);
        cr_assert(mr_st_read_f64(&f, i, v, &e) == MR_OK, "%s", e.msg);
        cr_expect(memcmp(v, a.data, a.count * sizeof *v) == 0, "%s differs from numpy's float64", f.t[i].name);
        free(v);
        mr_array_free(&a);
    }
    cr_expect(f.t[mr_st_find(&f, "c.f16")].count == 63488, "every finite half");
    mr_npz_close(&z);
    mr_st_close(&f);
}

Test(safetensors, numpy_reads_bert_init_output_bit_exact) {
    if (!t_python()) cr_skip_test(T_NO_PYTHON);
    char dir[512], args[1024], out[4096], st[600], npz[512];
    t_path(dir, sizeof dir, "bert_np");
    snprintf(args, sizeof args, "bert-init --layers 1 --hidden 8 --heads 2 --seed 9 --out %s", dir);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(st, sizeof st, "%s/model.safetensors", dir);
    t_path(npz, sizeof npz, "bert_np.npz");
    cr_assert(run_py("read", st, npz) == 0, "numpy could not read our file");
    mr_bert_config c;
    mr_params p;
    mr_params_init(&p);
    mr_error e = {0};
    cr_assert(mr_bert_load_dir(dir, &c, &p, NULL, &e) == MR_OK, "%s", e.msg);
    mr_npz z;
    cr_assert(mr_npz_open(&z, npz, &e) == MR_OK, "%s", e.msg);
    cr_expect_eq(z.n, p.n);
    for (size_t i = 0; i < p.n; i++) {
        mr_array a;
        cr_assert(mr_npz_read(&z, p.t[i].name + strlen(MR_BERT_PREFIX), &a, &e) == MR_OK, "%s", e.msg);
        cr_expect(a.count == p.t[i].size && memcmp(a.data, p.data + p.t[i].offset, a.count * sizeof(double)) == 0,
                  "%s", p.t[i].name);
        mr_array_free(&a);
    }
    mr_npz_close(&z);
    mr_params_free(&p);
}

/* mr_bert_load_dir_weights (mimrl train --bert_weights): config.json from
 * the directory, the weights from a given safetensors file or npz state_dict
 * (by first bytes, whatever the name); the directory's own
 * model.safetensors is not read. */
Test(safetensors, directory_with_weights_from_another_file) {
    mr_bert_config c, got;
    tiny(&c);
    mr_params src, a, b, z;
    store(&src, &c);
    t_gen_params(&src, 17, 1.0);
    char dir[512], path[600], st[600], np[600];
    t_path(dir, sizeof dir, "hfdir_w");
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *js = mr_bert_config_to_json(&c);
    t_write_file(path, js, strlen(js));
    free(js);
    mr_error e = {0};
    t_path(st, sizeof st, "weights_elsewhere.bin");
    cr_assert(mr_bert_save_safetensors(&src, &c, MR_BERT_PREFIX, st, 0, &e) == MR_OK, "%s", e.msg);
    /* the directory has no model.safetensors: only the explicit file works */
    mr_params_init(&z);
    cr_expect(mr_bert_load_dir(dir, &got, &z, NULL, &e) == MR_EIO && strstr(e.msg, "model.safetensors"), "%s", e.msg);
    mr_params_init(&a), mr_params_init(&b);
    cr_assert(mr_bert_load_dir_weights(dir, st, &got, &a, NULL, &e) == MR_OK, "%s", e.msg);
    cr_assert(got.hidden_size == c.hidden_size && got.num_hidden_layers == c.num_hidden_layers);
    check_equal(&src, &a);
    /* a's store holds the bertmodel.* tensors only: its npz is a state_dict */
    t_path(np, sizeof np, "weights_elsewhere.safetensors"); /* an npz, misnamed on purpose */
    cr_assert(mr_params_save(&a, np, NULL, 0, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_bert_load_dir_weights(dir, np, &got, &b, NULL, &e) == MR_OK, "%s", e.msg);
    check_equal(&src, &b);
    /* a missing weights file is named */
    cr_expect(mr_bert_load_dir_weights(dir, "/nonexistent/w.npz", &got, &z, NULL, &e) == MR_EIO &&
                  strstr(e.msg, "/nonexistent/w.npz"), "%s", e.msg);
    cr_expect(z.data == NULL && z.n == 0, "the store is returned unallocated on error");
    mr_params_free(&src), mr_params_free(&a), mr_params_free(&b), mr_params_free(&z);
}
