/* test_npz.c — npz/npy reader and writer: round trips (C↔C, numpy↔C),
 * committed numpy-written fixtures, a corpus of malformed files, atomic
 * writes. The recipe arrays must match verify/npz_numpy.py. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ref/core/npz.h"
#include "verify/helpers.h"

/* ------------------------------------------------------------------ recipe */

typedef struct {
    const char *name;
    mr_dtype dt;
    int ndim;
    uint64_t shape[3];
    unsigned char bytes[2048];
    size_t nbytes;
} rarr;

static size_t recipe(rarr *r) {
    size_t n = 0;
    double f8[12];
    for (int i = 0; i < 12; i++) f8[i] = i * 0.5 - 1.25;
    f8[11] = 1e-310;
    r[n] = (rarr){"f8", MR_DT_F8, 2, {3, 4}, {0}, sizeof f8};
    memcpy(r[n++].bytes, f8, sizeof f8);
    float f4[5];
    for (int i = 0; i < 5; i++) f4[i] = (float)i / 4.0f;
    r[n] = (rarr){"f4", MR_DT_F4, 1, {5}, {0}, sizeof f4};
    memcpy(r[n++].bytes, f4, sizeof f4);
    int64_t i8[5] = {-((int64_t)1 << 62), -1, 0, 7, ((int64_t)1 << 62) + 3};
    r[n] = (rarr){"i8", MR_DT_I8, 1, {5}, {0}, sizeof i8};
    memcpy(r[n++].bytes, i8, sizeof i8);
    int32_t i4[6];
    for (int i = 0; i < 6; i++) i4[i] = i - 3;
    r[n] = (rarr){"i4", MR_DT_I4, 2, {2, 3}, {0}, sizeof i4};
    memcpy(r[n++].bytes, i4, sizeof i4);
    r[n] = (rarr){"u1", MR_DT_U1, 1, {256}, {0}, 256};
    for (int i = 0; i < 256; i++) r[n].bytes[i] = (unsigned char)i;
    n++;
    r[n] = (rarr){"b1", MR_DT_B1, 1, {3}, {1, 0, 1}, 3};
    n++;
    double sc = 3.5;
    r[n] = (rarr){"scalar", MR_DT_F8, 0, {0}, {0}, 8};
    memcpy(r[n++].bytes, &sc, 8);
    r[n] = (rarr){"empty", MR_DT_F8, 2, {0, 3}, {0}, 0};
    n++;
    double ones[4] = {1, 1, 1, 1};
    r[n] = (rarr){"grad_stage1/rnn_a.weight_ih_l0", MR_DT_F8, 2, {2, 2}, {0}, sizeof ones};
    memcpy(r[n++].bytes, ones, sizeof ones);
    return n;
}

static void write_recipe(const char *path, int deflate, int force_zip64) {
    rarr r[16];
    size_t n = recipe(r);
    mr_npz_writer w;
    mr_error e = {0};
    cr_assert(mr_npz_writer_open(&w, path, deflate, &e) == MR_OK, "%s", e.msg);
    w.force_zip64 = force_zip64;
    for (size_t i = 0; i < n; i++)
        cr_assert(mr_npz_add(&w, r[i].name, r[i].dt, r[i].ndim, r[i].shape, r[i].bytes, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK, "%s", e.msg);
}

static void check_recipe(const char *path, int want_method) {
    rarr r[16];
    size_t n = recipe(r);
    mr_npz z;
    mr_error e = {0};
    cr_assert(mr_npz_open(&z, path, &e) == MR_OK, "%s", e.msg);
    cr_assert(z.n == n, "%s: %zu members, want %zu", path, z.n, n);
    for (size_t i = 0; i < n; i++) {
        mr_array a;
        cr_assert(mr_npz_read(&z, r[i].name, &a, &e) == MR_OK, "%s", e.msg);
        cr_assert(a.dtype == r[i].dt, "%s: dtype %s", r[i].name, mr_dtype_descr(a.dtype));
        cr_assert(a.ndim == r[i].ndim, "%s: ndim %d", r[i].name, a.ndim);
        for (int d = 0; d < a.ndim; d++) cr_assert(a.shape[d] == r[i].shape[d]);
        cr_assert(a.count * mr_dtype_size(a.dtype) == r[i].nbytes);
        cr_assert(r[i].nbytes == 0 || memcmp(a.data, r[i].bytes, r[i].nbytes) == 0, "%s: data differs", r[i].name);
        long k = mr_npz_find(&z, r[i].name);
        if (want_method >= 0) cr_assert(z.m[k].method == want_method, "%s: method %u", r[i].name, z.m[k].method);
        mr_array_free(&a);
    }
    mr_npz_close(&z);
}

/* ------------------------------------------------------------ round trips */

Test(npz, c_round_trip_stored_and_deflated) {
    char p[512];
    t_path(p, sizeof p, "rt_stored.npz");
    write_recipe(p, 0, 0);
    check_recipe(p, 0);
    t_path(p, sizeof p, "rt_deflated.npz");
    write_recipe(p, 1, 0);
    check_recipe(p, 8);
    t_path(p, sizeof p, "rt_zip64.npz");
    write_recipe(p, 0, 1);
    check_recipe(p, 0);
    mr_npz z;
    mr_error e;
    cr_assert(mr_npz_open(&z, p, &e) == MR_OK && z.zip64 == 1, "forced ZIP64 records must be read back");
    mr_npz_close(&z);
}

Test(npz, same_arrays_same_bytes) {
    char a[512], b[512];
    t_path(a, sizeof a, "det_a.npz");
    t_path(b, sizeof b, "det_b.npz");
    write_recipe(a, 1, 0);
    write_recipe(b, 1, 0);
    size_t la, lb;
    unsigned char *x = t_read_file(a, &la), *y = t_read_file(b, &lb);
    cr_assert(x && y && la == lb && memcmp(x, y, la) == 0, "writer output must be deterministic");
    free(x);
    free(y);
}

Test(npz, reads_committed_numpy_fixtures) {
    /* written by numpy 1.24 (np.savez / np.savez_compressed) from npz_numpy.py */
    check_recipe("verify/fixtures/numpy_stored.npz", 0);
    check_recipe("verify/fixtures/numpy_deflated.npz", 8);
    mr_array a;
    mr_error e;
    cr_assert(mr_npy_load("verify/fixtures/numpy_f4_2d.npy", &a, &e) == MR_OK, "%s", e.msg);
    cr_assert(a.dtype == MR_DT_F4 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    double v[6];
    mr_array_to_f64(&a, v);
    for (int i = 0; i < 6; i++) cr_assert(v[i] == i - 2.5);
    mr_array_free(&a);
    cr_assert(mr_npy_load("verify/fixtures/numpy_stored.npz:i4", &a, &e) == MR_OK, "%s", e.msg);
    cr_assert(a.dtype == MR_DT_I4 && a.count == 6);
    mr_array_free(&a);
}

static int run_py(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s verify/npz_numpy.py %s", t_python(), args);
    return system(cmd);
}

Test(npz, numpy_reads_what_we_write) {
    if (!t_python()) cr_skip_test(T_NO_PYTHON);
    char p[512], args[600];
    const char *names[3] = {"np_stored.npz", "np_deflated.npz", "np_zip64.npz"};
    for (int k = 0; k < 3; k++) {
        t_path(p, sizeof p, names[k]);
        write_recipe(p, k == 1, k == 2);
        snprintf(args, sizeof args, "check %s", p);
        cr_assert(run_py(args) == 0, "numpy could not read %s", p);
    }
    /* a single .npy too */
    t_path(p, sizeof p, "single.npy");
    double v[3] = {1, 2, 3};
    uint64_t sh[1] = {3};
    mr_error e;
    cr_assert(mr_npy_save(p, MR_DT_F8, 1, sh, v, &e) == MR_OK);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c \"import numpy as np,sys; a=np.load('%s'); sys.exit(0 if a.tolist()==[1.0,2.0,3.0] else 1)\"", t_python(), p);
    cr_assert(system(cmd) == 0, "numpy could not read our .npy");
}

Test(npz, we_read_what_numpy_writes) {
    if (!t_python()) cr_skip_test(T_NO_PYTHON);
    char p[512], args[600];
    t_path(p, sizeof p, "from_numpy_stored.npz");
    snprintf(args, sizeof args, "write %s stored", p);
    cr_assert(run_py(args) == 0);
    check_recipe(p, 0);
    t_path(p, sizeof p, "from_numpy_deflated.npz");
    snprintf(args, sizeof args, "write %s deflated", p);
    cr_assert(run_py(args) == 0);
    check_recipe(p, 8);
}

/* --------------------------------------------------------- atomic writes */

Test(npz, failed_write_keeps_previous_file) {
    char p[512];
    t_path(p, sizeof p, "keep.npz");
    write_recipe(p, 0, 0);
    size_t l0;
    unsigned char *before = t_read_file(p, &l0);
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, p, 0, &e) == MR_OK);
    double x = 1;
    uint64_t sh[1] = {1};
    cr_assert(mr_npz_add(&w, "x", MR_DT_F8, 1, sh, &x, &e) == MR_OK);
    cr_assert(mr_npz_add(&w, "x", MR_DT_F8, 1, sh, &x, &e) == MR_EINVAL, "duplicate name must be refused");
    cr_assert(strstr(e.msg, "'x'") != NULL, "%s", e.msg);
    mr_npz_writer_abort(&w); /* the "crash" */
    size_t l1;
    unsigned char *after = t_read_file(p, &l1);
    cr_assert(after && l0 == l1 && memcmp(before, after, l0) == 0, "previous file must survive an aborted write");
    check_recipe(p, 0);
    /* no temporary files left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q 'keep.npz.tmp'", t_tmpdir());
    cr_assert(system(cmd) != 0, "temporary file left behind");
    free(before);
    free(after);
}

Test(npz, write_into_missing_directory_fails_cleanly) {
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, "build/tmp/no/such/dir/x.npz", 0, &e) == MR_EIO);
    cr_assert(strstr(e.msg, "build/tmp/no/such/dir/x.npz") != NULL, "%s", e.msg);
}

/* ------------------------------------------------------ malformed corpus */

/* A valid stored file with members a (f8 2×3) and b (i4 4). */
static unsigned char *valid_file(size_t *len, int deflate) {
    char p[512];
    t_path(p, sizeof p, deflate ? "base_d.npz" : "base.npz");
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, p, deflate, &e) == MR_OK);
    double a[6] = {1, 2, 3, 4, 5, 6};
    int32_t b[4] = {1, 2, 3, 4};
    uint64_t sa[2] = {2, 3}, sb[1] = {4};
    cr_assert(mr_npz_add(&w, "a", MR_DT_F8, 2, sa, a, &e) == MR_OK);
    cr_assert(mr_npz_add(&w, "b", MR_DT_I4, 1, sb, b, &e) == MR_OK);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    unsigned char *buf = t_read_file(p, len);
    cr_assert(buf);
    return buf;
}

/* An npz whose member "m" is the given .npy image (CRC correct). */
static unsigned char *npz_with_npy(const void *npy, size_t n, size_t *len) {
    char p[512];
    t_path(p, sizeof p, "crafted.npz");
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, p, 0, &e) == MR_OK);
    cr_assert(mr_npz_add_bytes(&w, "m", npy, n, &e) == MR_OK);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    return t_read_file(p, len);
}

static size_t make_npy(unsigned char *out, const char *dict, size_t data_bytes, int major) {
    size_t dl = strlen(dict), hs = major == 1 ? 10 : 12;
    size_t total = (hs + dl + 1 + 63) / 64 * 64;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    size_t hlen = total - hs;
    if (major == 1) {
        out[8] = hlen & 0xff;
        out[9] = (unsigned char)(hlen >> 8);
    } else {
        for (int i = 0; i < 4; i++) out[8 + i] = (hlen >> (8 * i)) & 0xff;
    }
    memcpy(out + hs, dict, dl);
    memset(out + hs + dl, ' ', total - hs - dl - 1);
    out[total - 1] = '\n';
    for (size_t i = 0; i < data_bytes; i++) out[total + i] = (unsigned char)i;
    return total + data_bytes;
}

static size_t find_bytes(const unsigned char *b, size_t n, const void *pat, size_t pl, size_t from) {
    for (size_t i = from; i + pl <= n; i++)
        if (memcmp(b + i, pat, pl) == 0) return i;
    return (size_t)-1;
}

/* Opens and reads every member; returns the first error (or MR_OK). */
static int load_all(const void *buf, size_t len, const char *label, mr_error *e) {
    mr_npz z;
    int rc = mr_npz_open_mem(&z, label, buf, len, e);
    if (rc != MR_OK) return rc;
    for (size_t i = 0; i < z.n && rc == MR_OK; i++) {
        mr_array a;
        rc = mr_npz_read_index(&z, i, &a, e);
        mr_array_free(&a);
    }
    mr_npz_close(&z);
    return rc;
}

static void expect_error(const void *buf, size_t len, const char *label, const char *must_contain) {
    mr_error e = {0};
    int rc = load_all(buf, len, label, &e);
    cr_expect(rc != MR_OK, "%s: malformed input was accepted", label);
    cr_expect(strstr(e.msg, label) != NULL, "%s: message does not name the file: %s", label, e.msg);
    if (must_contain) cr_expect(strstr(e.msg, must_contain) != NULL, "%s: message lacks '%s': %s", label, must_contain, e.msg);
    /* corpus for the fuzzer */
    const char *seeds = getenv("MIMRL_FUZZ_SEEDS");
    if (seeds) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", seeds, label);
        t_write_file(p, buf, len);
    }
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff;
}

static void fix_crc(unsigned char *f, size_t len) {
    /* recompute the CRC of the first member (stored) in local + central headers */
    uint32_t usize = f[22] | (f[23] << 8) | (f[24] << 16) | ((uint32_t)f[25] << 24);
    size_t data = 30 + (f[26] | (f[27] << 8)) + (f[28] | (f[29] << 8));
    uint32_t c = (uint32_t)crc32(0, f + data, usize);
    put32(f + 14, c);
    size_t cd = find_bytes(f, len, "PK\x01\x02", 4, 0);
    put32(f + cd + 16, c);
}

static void run_corpus(void) {
    size_t n, nd;
    unsigned char *good = valid_file(&n, 0), *goodd = valid_file(&nd, 1);
    mr_error e = {0};
    cr_assert(load_all(good, n, "valid.npz", &e) == MR_OK, "%s", e.msg);
    cr_assert(load_all(goodd, nd, "valid_deflated.npz", &e) == MR_OK, "%s", e.msg);
    unsigned char *f = malloc(n + 4096);
    char label[64];

    /* every truncation of both files */
    for (size_t k = 0; k < n; k++) {
        snprintf(label, sizeof label, "trunc_%zu.npz", k);
        expect_error(good, k, label, NULL);
    }
    for (size_t k = 0; k < nd; k++) {
        snprintf(label, sizeof label, "truncd_%zu.npz", k);
        expect_error(goodd, k, label, NULL);
    }
    size_t cd = find_bytes(good, n, "PK\x01\x02", 4, 0), eocd = find_bytes(good, n, "PK\x05\x06", 4, 0);
    cr_assert(cd != (size_t)-1 && eocd != (size_t)-1);

    memcpy(f, good, n); f[0] = 'X'; expect_error(f, n, "bad_local_magic.npz", "'a'");
    memcpy(f, good, n); f[eocd] = 'X'; expect_error(f, n, "bad_eocd_magic.npz", "end-of-central-directory");
    memcpy(f, good, n); put32(f + eocd + 16, (uint32_t)n + 100); expect_error(f, n, "cd_offset_lies.npz", "central directory");
    memcpy(f, good, n); f[eocd + 10] = 200; f[eocd + 8] = 200; expect_error(f, n, "too_many_entries.npz", "entries");
    memcpy(f, good, n); put32(f + cd + 20, 1000000); put32(f + cd + 24, 1000000); expect_error(f, n, "csize_lies.npz", "'a'");
    memcpy(f, good, n); put32(f + cd + 24, 7); expect_error(f, n, "stored_sizes_differ.npz", "'a'");
    memcpy(f, good, n); f[cd + 16] ^= 0xff; expect_error(f, n, "bad_crc.npz", "CRC");
    memcpy(f, good, n); f[cd + 8] |= 1; expect_error(f, n, "encrypted.npz", "encrypted");
    memcpy(f, good, n); f[cd + 10] = 12; expect_error(f, n, "bzip2_method.npz", "method 12");
    memcpy(f, good, n); put32(f + cd + 42, 5); expect_error(f, n, "lho_lies.npz", "local file header");
    /* duplicate names: rename "b.npy" to "a.npy" in both headers */
    memcpy(f, good, n);
    for (size_t at = 0; (at = find_bytes(f, n, "b.npy", 5, at)) != (size_t)-1; at++) f[at] = 'a';
    expect_error(f, n, "duplicate_names.npz", "more than once");
    /* ZIP64 locator pointing nowhere: insert 20 bytes before the EOCD */
    memcpy(f, good, eocd);
    unsigned char loc[20] = {0x50, 0x4b, 0x06, 0x07, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    memcpy(f + eocd, loc, 20);
    memcpy(f + eocd + 20, good + eocd, n - eocd);
    expect_error(f, n + 20, "zip64_locator_lies.npz", "ZIP64");
    /* saturated EOCD without ZIP64 */
    memcpy(f, good, n); put32(f + eocd + 16, 0xFFFFFFFFu); expect_error(f, n, "saturated_no_zip64.npz", "ZIP64");
    /* corrupt deflate stream (CRC fields untouched) */
    {
        size_t ds = 30 + (goodd[26] | (goodd[27] << 8)) + (goodd[28] | (goodd[29] << 8));
        memcpy(f, goodd, nd);
        for (int k = 0; k < 8; k++) f[ds + 2 + k] ^= 0x5a;
        expect_error(f, nd, "corrupt_deflate.npz", "'a'");
        size_t cdd = find_bytes(goodd, nd, "PK\x01\x02", 4, 0);
        memcpy(f, goodd, nd);
        put32(f + cdd + 24, 0x7fffffff);
        expect_error(f, nd, "deflate_ratio_lies.npz", "ratio");
        memcpy(f, goodd, nd);
        put32(f + cdd + 24, (uint32_t)(f[cdd + 24] | (f[cdd + 25] << 8)) + 1);
        expect_error(f, nd, "deflate_usize_off_by_one.npz", "'a'");
    }

    /* .npy-level problems, each inside a valid zip (CRC correct) */
    struct { const char *label, *dict; size_t data; int major; const char *msg; } npy[] = {
        {"npy_unsupported_dtype.npz", "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32, 1, "<c16"},
        {"npy_big_endian.npz", "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 16, 1, ">f8"},
        {"npy_object.npz", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, 1, "|O"},
        {"npy_structured.npz", "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 16, 1, "structured"},
        {"npy_fortran.npz", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", 32, 1, "Fortran"},
        {"npy_shape_overflow.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", 8, 1, "overflow"},
        {"npy_shape_exceeds.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (100,), }", 16, 1, "800"},
        {"npy_shape_short.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 16, 1, "8 data bytes"},
        {"npy_dim_overflow.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 8, 1, "64 bits"},
        {"npy_negative_dim.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", 8, 1, "non-negative"},
        {"npy_missing_shape.npz", "{'descr': '<f8', 'fortran_order': False, }", 8, 1, "'shape'"},
        {"npy_extra_key.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1, }", 8, 1, "'x'"},
        {"npy_not_dict.npz", "['descr']", 8, 1, "dict"},
        {"npy_version4.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, 4, "version"},
        {"npy_v2_ok_but_short.npz", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 16, 2, "24"},
    };
    unsigned char img[1024];
    for (size_t k = 0; k < sizeof npy / sizeof npy[0]; k++) {
        size_t il = make_npy(img, npy[k].dict, npy[k].data, npy[k].major);
        size_t fl;
        unsigned char *ff = npz_with_npy(img, il, &fl);
        expect_error(ff, fl, npy[k].label, npy[k].msg);
        free(ff);
    }
    /* header length lying past the member */
    {
        size_t il = make_npy(img, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8, 1);
        img[8] = 0xff;
        img[9] = 0x7f;
        size_t fl;
        unsigned char *ff = npz_with_npy(img, il, &fl);
        expect_error(ff, fl, "npy_header_len_lies.npz", "header length");
        free(ff);
        unsigned char bad[4] = {0x93, 'N', 'U', 'M'};
        ff = npz_with_npy(bad, 4, &fl);
        expect_error(ff, fl, "npy_truncated_magic.npz", "magic");
        free(ff);
    }
    /* a v2 header that is valid must be accepted */
    {
        size_t il = make_npy(img, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16, 2);
        size_t fl;
        unsigned char *ff = npz_with_npy(img, il, &fl);
        cr_expect(load_all(ff, fl, "npy_v2_valid.npz", &e) == MR_OK, "%s", e.msg);
        const char *seeds = getenv("MIMRL_FUZZ_SEEDS");
        if (seeds) {
            char p[1024];
            snprintf(p, sizeof p, "%s/valid_v2.npz", seeds);
            t_write_file(p, ff, fl);
            snprintf(p, sizeof p, "%s/valid.npz", seeds);
            t_write_file(p, good, n);
            snprintf(p, sizeof p, "%s/valid_deflated.npz", seeds);
            t_write_file(p, goodd, nd);
        }
        free(ff);
    }
    (void)fix_crc;
    free(f);
    free(good);
    free(goodd);
}

Test(npz, malformed_corpus_gives_clear_errors) { run_corpus(); }

/* `make fuzz` runs this with MIMRL_FUZZ_SEEDS set to collect the corpus. */
Test(npz, write_fuzz_seeds) {
    if (!getenv("MIMRL_FUZZ_SEEDS")) cr_skip_test("only used by make fuzz to write its seed corpus (MIMRL_FUZZ_SEEDS unset)");
    run_corpus();
}

Test(npz, missing_member_and_missing_file) {
    mr_npz z;
    mr_error e;
    cr_assert(mr_npz_open(&z, "verify/fixtures/does_not_exist.npz", &e) == MR_EIO);
    cr_assert(strstr(e.msg, "does_not_exist.npz") != NULL);
    cr_assert(mr_npz_open(&z, "verify/fixtures/numpy_stored.npz", &e) == MR_OK);
    mr_array a;
    cr_assert(mr_npz_read(&z, "nope", &a, &e) == MR_ENOTFOUND);
    cr_assert(strstr(e.msg, "'nope'") != NULL && strstr(e.msg, "numpy_stored.npz") != NULL, "%s", e.msg);
    mr_npz_close(&z);
    cr_assert(mr_npy_load("verify/fixtures/numpy_stored.npz", &a, &e) != MR_OK, "an npz is not an npy");
}
