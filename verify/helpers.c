/* helpers.c — see helpers.h. */
#define _GNU_SOURCE
#include "verify/helpers.h"

#include "ref/model/model.h"

#include <criterion/criterion.h>
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Criterion re-executes the test binary for every test with BXFI_MAP set in
 * the environment (BoxFort); traps go on only there, not in the runner,
 * whose own bookkeeping is not trap-clean. */
__attribute__((constructor)) static void t_enable_traps(void) {
    if (getenv("BXFI_MAP")) t_traps_on();
}

void t_traps_on(void) {
    feclearexcept(FE_ALL_EXCEPT);
    feenableexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
}

void t_traps_off(void) {
    fedisableexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
}

gsl_rng *t_rng(unsigned long seed) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    return r;
}

void t_fill_uniform(double *x, size_t n, double lo, double hi, gsl_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * gsl_rng_uniform(r);
}

void t_fill_away(double *x, size_t n, double lo, double hi, gsl_rng *r) {
    for (size_t i = 0; i < n; i++) {
        double m = lo + (hi - lo) * gsl_rng_uniform(r);
        x[i] = gsl_rng_uniform(r) < 0.5 ? -m : m;
    }
}

/* Test buffers live until the test process exits; they are released by an
 * atexit handler so LeakSanitizer (make debug) reports only real leaks. */
static void **t_allocs;
static size_t t_nallocs, t_capallocs;

static void t_free_all(void) {
    for (size_t i = 0; i < t_nallocs; i++) free(t_allocs[i]);
    free(t_allocs);
    t_allocs = NULL;
    t_nallocs = t_capallocs = 0;
}

double *t_alloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    if (!p) abort();
    if (t_nallocs == t_capallocs) {
        if (!t_allocs) atexit(t_free_all);
        t_capallocs = t_capallocs ? 2 * t_capallocs : 64;
        t_allocs = realloc(t_allocs, t_capallocs * sizeof *t_allocs);
        if (!t_allocs) abort();
    }
    t_allocs[t_nallocs++] = p;
    return p;
}

double t_max_abs_diff(const double *a, const double *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= m)) m = d;
    }
    return m;
}

const char *t_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        mkdir("build", 0777);
        mkdir("build/tmp", 0777);
        snprintf(dir, sizeof dir, "build/tmp/t%ld", (long)getpid());
        mkdir(dir, 0777);
    }
    return dir;
}

void t_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", t_tmpdir(), name); }

int t_write_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = len ? fwrite(buf, 1, len, f) : 0;
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

unsigned char *t_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    if (b && sz > 0 && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) *len = (size_t)sz;
    return b;
}

int t_run_cli(const char *args, char *out, size_t n) {
    const char *b = getenv("MIMRL_BIN");
    char cmd[16384], path[512];
    t_path(path, sizeof path, "cli_out.txt");
    snprintf(cmd, sizeof cmd, "%s %s > %s 2>&1", (b && *b) ? b : "build/mimrl", args, path);
    int rc = system(cmd);
    size_t len = 0;
    unsigned char *buf = t_read_file(path, &len);
    if (out && n) {
        size_t k = buf ? (len < n - 1 ? len : n - 1) : 0;
        if (k) memcpy(out, buf, k);
        out[k] = 0;
    }
    free(buf);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const char *t_state_dict_dir(void) {
    const char *s = getenv("MIMRL_STATE_DICT");
    return (s && *s) ? s : "verify/fixtures/state-dict";
}

const char *const t_state_dict_names[] = {"avec2019-mfcc-au", "mosei_dec-gru-separate", "mosi_dec-concat-unnormalized",
                                          "mosi_dec-conv",    "mosi_dec-gru-separate",  "mosi_dec-lstm",
                                          "mosi_dec-nobias-nores-3blocks"};
const size_t t_state_dict_count = sizeof t_state_dict_names / sizeof t_state_dict_names[0];

int t_state_dict_path(char *path, size_t n, const char *name) {
    snprintf(path, n, "%s/%s.tsv", t_state_dict_dir(), name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* ---- brute-force k-NN: the oracle for mr_knn_neighbors */

/* ---- the crosscheck parameter generator (verify/torch/crosscheck.py) */

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

void t_gen_uniform(const char *name, size_t n, uint64_t seed, double *out) {
    const uint64_t gold = 0x9E3779B97F4A7C15ull;
    uint64_t h = fnv1a64(name) ^ (seed * gold);
    for (size_t i = 0; i < n; i++) {
        uint64_t z = h + (uint64_t)(i + 1) * gold;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        out[i] = 2.0 * ((double)(z >> 11) * (1.0 / 9007199254740992.0)) - 1.0;
    }
}

void t_gen_params(mr_params *p, uint64_t seed, double gain) {
    for (size_t t = 0; t < p->n; t++) {
        const mr_tensor *x = &p->t[t];
        double *v = p->data + x->offset;
        t_gen_uniform(x->name, x->size, seed, v);
        size_t nl = strlen(x->name);
        int is_weight = nl >= 6 && strcmp(x->name + nl - 6, "weight") == 0;
        double fan = 1.0;
        for (int d = 1; d < x->ndim; d++) fan *= (double)x->shape[d];
        for (size_t i = 0; i < x->size; i++) {
            if (x->ndim == 1) v[i] = is_weight ? 1.0 + v[i] / 4 : v[i] / 4;
            else v[i] = gain * v[i] / sqrt(fan);
        }
    }
}

const char *t_python(void) {
    const char *p = getenv("MIMRL_PYTHON");
    return (p && *p) ? p : NULL;
}

double *t_npz_get(const mr_npz *z, const char *name, size_t want) {
    mr_array a;
    mr_error e;
    cr_assert(mr_npz_read(z, name, &a, &e) == MR_OK, "%s", e.msg);
    cr_assert(want == 0 || a.count == want, "%s: %llu values, want %zu", name, (unsigned long long)a.count, want);
    double *v = t_alloc(a.count); /* freed with every t_alloc at exit */
    mr_array_to_f64(&a, v);
    mr_array_free(&a);
    return v;
}

void t_npz_copy(const mr_npz *z, const char *name, double *out, size_t n) {
    mr_array a;
    mr_error e;
    cr_assert(mr_npz_read(z, name, &a, &e) == MR_OK, "%s", e.msg);
    cr_assert(a.count == n, "%s: %llu values, want %zu", name, (unsigned long long)a.count, n);
    mr_array_to_f64(&a, out);
    mr_array_free(&a);
}

void t_npz_add_banks(mr_npz_writer *w, size_t N, size_t D, const double *label, const double *T, const double *A,
                     const double *V, const int64_t *anchors, size_t m) {
    mr_error e;
    uint64_t sl[2] = {N, 1}, sb[2] = {N, D}, sm[1] = {m};
    cr_assert(mr_npz_add(w, "bank_label", MR_DT_F8, 2, sl, label, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_add(w, "bank_text", MR_DT_F8, 2, sb, T, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_add(w, "bank_audio", MR_DT_F8, 2, sb, A, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_add(w, "bank_vision", MR_DT_F8, 2, sb, V, &e) == MR_OK, "%s", e.msg);
    for (int j = 0; j < MR_NCMI; j++) {
        char n[64];
        snprintf(n, sizeof n, "anchors_%s", mr_cmi_names[j]);
        cr_assert(mr_npz_add(w, n, MR_DT_I8, 1, sm, anchors + (size_t)j * m, &e) == MR_OK, "%s", e.msg);
    }
}

int t_reference_phase(void) {
    const char *b = getenv("MIMRL_BLAS");
    return b && strcmp(b, "none") == 0;
}

int t_beside_bin(char *buf, size_t n, const char *name) {
    const char *bin = getenv("MIMRL_BIN");
    snprintf(buf, n, "%s", bin && *bin ? bin : "build/mimrl");
    char *slash = strrchr(buf, '/');
    size_t at = slash ? (size_t)(slash - buf + 1) : 0;
    snprintf(buf + at, n - at, "%s", name);
    FILE *f = fopen(buf, "rb");
    if (f) fclose(f);
    return f != NULL;
}

int t_shared_lib(char *buf, size_t n) {
    const char *lib = getenv("MIMRL_LIB");
    if (!lib || !*lib) return t_beside_bin(buf, n, "libmimrl.so");
    snprintf(buf, n, "%s", lib);
    FILE *f = fopen(buf, "rb");
    if (f) fclose(f);
    return f != NULL;
}
