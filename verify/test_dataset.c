/* test_dataset.c — the mimrl-npz loader, the batcher, the normalisation (datasets/dataset.c, synth.c, ref/cli/cli_data.c)
 * options, `mimrl synth` and its ground truth, and a corpus of broken
 * dataset files (each a clear error naming file and member; exit status 2
 * from the CLI). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "datasets/synth.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static void small_synth(char *prefix, size_t n, double cx) {
    t_path(prefix, 512, "syn");
    mr_synth_cfg c;
    mr_synth_default(&c, MR_LIKE_MOSI);
    c.n[0] = 40, c.n[1] = 12, c.n[2] = 10;
    c.max_frames = 30;
    c.max_words = 12;
    c.c_x = cx;
    c.mc_samples = 400;
    mr_error e;
    cr_assert(mr_synth_write(&c, prefix, NULL, &e) == MR_OK, "%s", e.msg);
    (void)n;
}



Test(dataset, synth_loads_with_expected_shapes) {
    char prefix[512], path[600];
    small_synth(prefix, 40, 0.6);
    snprintf(path, sizeof path, "%s_train.npz", prefix);
    mr_dataset d;
    mr_dataset_expect x = {5, 20, 768, 1};
    mr_error e;
    cr_assert(mr_dataset_open(&d, path, &x, &e) == MR_OK, "%s", e.msg);
    cr_assert(d.N == 40 && d.audio.dim == 5 && d.vision.dim == 20 && d.text_emb.dim == 768);
    cr_assert(d.audio.off[0] == 0 && (size_t)d.audio.off[40] == d.audio.rows);
    for (size_t i = 0; i < d.N; i++) {
        size_t la = (size_t)(d.audio.off[i + 1] - d.audio.off[i]);
        cr_assert(la >= 8 && la <= 30, "lengths capped by --max-frames: %zu", la);
        cr_assert(d.label[i] >= -3 && d.label[i] <= 3);
        cr_assert((size_t)(d.text_emb.off[i + 1] - d.text_emb.off[i]) == mr_dataset_words(&d, i) + 2, "one token per word + CLS/SEP");
    }
    cr_assert(strstr(d.meta_json, "\"ground_truth\"") && strstr(d.meta_json, "I(T;A|Y)"), "ground truth recorded");
    mr_dataset_free(&d);
    /* same seed, same bytes */
    char p2[512];
    t_path(p2, sizeof p2, "syn2");
    mr_synth_cfg c;
    mr_synth_default(&c, MR_LIKE_MOSI);
    c.n[0] = 40, c.n[1] = 12, c.n[2] = 10, c.max_frames = 30, c.max_words = 12, c.mc_samples = 400;
    cr_assert(mr_synth_write(&c, p2, NULL, &e) == MR_OK);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s_valid.npz", prefix);
    snprintf(b, sizeof b, "%s_valid.npz", p2);
    size_t la, lb;
    unsigned char *xa = t_read_file(a, &la), *xb = t_read_file(b, &lb);
    cr_assert(xa && xb && la == lb && memcmp(xa, xb, la) == 0, "synth must be deterministic from its seed");
    free(xa);
    free(xb);
}

static double gt_value(const char *meta, const char *q) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\": {\"value\": ", q);
    const char *p = strstr(meta, key);
    cr_assert(p, "%s missing from meta_json", q);
    return strtod(p + strlen(key), NULL);
}

Test(dataset, synth_ground_truth_closed_forms) {
    /* with c_x = 0 every quantity is Gaussian; check two by hand:
     * I(T;A): only s links them, corr(s+σe, s+σe') = 1/(1+σ²) → −½ ln(1 − ρ²);
     * I(T;Y) = ½ ln(Var Y / Var(Y | T)) with T = (s+σe, u_t):
     * Var(Y|T) = Var Y − c_t² − c_s²/(1+σ²). */
    char prefix[512], path[600];
    small_synth(prefix, 40, 0.0);
    snprintf(path, sizeof path, "%s_test.npz", prefix);
    mr_dataset d;
    mr_error e;
    cr_assert(mr_dataset_open(&d, path, NULL, &e) == MR_OK, "%s", e.msg);
    double so = 0.5, rho = 1 / (1 + so * so);
    cr_assert(fabs(gt_value(d.meta_json, "I(T;A)") - (-0.5 * log(1 - rho * rho))) < T_DEC(6)); /* meta_json: %.6f */
    double vy = 0.64 + 0.36 + 0.16 + 0.16 + 0.09, vyt = vy - 0.36 - 0.64 / (1 + so * so);
    cr_assert(fabs(gt_value(d.meta_json, "I(T;Y)") - 0.5 * log(vy / vyt)) < T_DEC(6));
    cr_assert(strstr(d.meta_json, "Monte Carlo") == NULL, "c_x = 0: all closed form");
    mr_dataset_free(&d);
    small_synth(prefix, 40, 0.6);
    snprintf(path, sizeof path, "%s_test.npz", prefix);
    cr_assert(mr_dataset_open(&d, path, NULL, &e) == MR_OK);
    cr_assert(strstr(d.meta_json, "Monte Carlo") != NULL, "the synergy term needs Monte Carlo");
    mr_dataset_free(&d);
}

Test(dataset, batches_pad_sort_and_shuffle) {
    char prefix[512], path[600];
    small_synth(prefix, 40, 0.6);
    snprintf(path, sizeof path, "%s_train.npz", prefix);
    mr_dataset d;
    mr_error e;
    cr_assert(mr_dataset_open(&d, path, NULL, &e) == MR_OK);
    mr_batcher bt;
    cr_assert(mr_batcher_init(&bt, &d, 16, 1, 0, 5, &e) == MR_OK);
    cr_assert(mr_batcher_count(&bt) == 3, "40 = 16 + 16 + 8");
    mr_batch b;
    memset(&b, 0, sizeof b);
    size_t seen = 0, nb = 0;
    unsigned char *hit = calloc(40, 1);
    while (mr_batcher_next(&bt, &b, &e) > 0) {
        nb++;
        cr_assert(b.B == (nb < 3 ? 16u : 8u));
        for (size_t k = 0; k < b.B; k++) {
            size_t i = b.index[k];
            cr_assert(!hit[i], "a sample twice in one epoch");
            hit[i] = 1;
            seen++;
            cr_assert(b.label[k] == d.label[i]);
            cr_assert((size_t)b.alen[k] <= b.La);
            /* data at the start, exact zeros after the length */
            const float *src = d.audio.x + (size_t)d.audio.off[i] * 5;
            for (size_t t = 0; t < b.La; t++)
                for (size_t f = 0; f < 5; f++) {
                    double v = b.audio[(k * b.La + t) * 5 + f];
                    if (t < (size_t)b.alen[k]) cr_assert(v == (double)src[t * 5 + f]);
                    else cr_assert(v == 0.0, "padding must be zeros at the end");
                }
            if (k) cr_assert(mr_dataset_words(&d, b.index[k - 1]) >= mr_dataset_words(&d, i), "sorted by word count, descending");
        }
        size_t mx = 0;
        for (size_t k = 0; k < b.B; k++) mx = (size_t)b.vlen[k] > mx ? (size_t)b.vlen[k] : mx;
        cr_assert(b.Lv == mx, "padded to the batch maximum");
    }
    cr_assert(seen == 40 && nb == 3);
    /* same seed, same order; drop_last drops the short batch */
    mr_batcher b2;
    cr_assert(mr_batcher_init(&b2, &d, 16, 1, 1, 5, &e) == MR_OK);
    cr_assert(mr_batcher_count(&b2) == 2);
    mr_batcher_epoch(&bt); /* second epoch of bt: a different order than its first */
    mr_batch c2;
    memset(&c2, 0, sizeof c2);
    cr_assert(mr_batcher_next(&b2, &c2, &e) == 1);
    free(hit);
    mr_batch_free(&b);
    mr_batch_free(&c2);
    mr_batcher_free(&bt);
    mr_batcher_free(&b2);
    mr_dataset_free(&d);
}

Test(dataset, normalisation_options) {
    char prefix[512], path[600];
    small_synth(prefix, 40, 0.6);
    snprintf(path, sizeof path, "%s_valid.npz", prefix);
    mr_dataset d, t;
    mr_error e;
    cr_assert(mr_dataset_open(&d, path, NULL, &e) == MR_OK);
    mr_dataset_minmax(&d, 'a');
    float mn = 1e30f, mx = -1e30f;
    for (size_t i = 0; i < d.audio.rows * 5; i++) mn = fminf(mn, d.audio.x[i]), mx = fmaxf(mx, d.audio.x[i]);
    cr_assert(fabsf(mn + 1) < T_F32_UNIT && fabsf(mx - 1) < T_F32_UNIT, "per-split min-max to [-1, 1]: %g %g", mn, mx);
    snprintf(path, sizeof path, "%s_train.npz", prefix);
    cr_assert(mr_dataset_open(&t, path, NULL, &e) == MR_OK);
    mr_dataset_standardize(&t, &t, 'v');
    double m = 0;
    for (size_t i = 0; i < t.vision.rows; i++) m += t.vision.x[i * 20 + 3];
    cr_assert(fabs(m / t.vision.rows) < T_F32_WIDE, "train statistics standardise train to mean 0");
    float before = d.vision.x[7];
    mr_dataset_logscale(&d, 'v', -10.0);
    cr_assert(fabs(d.vision.x[7] - log(before + 10.0 + 1 + 1e-6)) < T_F32_WIDE);
    mr_dataset_free(&d);
    mr_dataset_free(&t);
}

/* ------------------------------------------------------- broken files */

typedef enum { DROP, REPLACE } op_kind;

/* copy src to dst, dropping or replacing one member */
static void rewrite(const char *src, const char *dst, const char *member, op_kind op, mr_dtype dt, int ndim,
                    const uint64_t *shape, const void *data) {
    mr_npz z;
    mr_error e;
    cr_assert(mr_npz_open(&z, src, &e) == MR_OK);
    mr_npz_writer w;
    cr_assert(mr_npz_writer_open(&w, dst, 0, &e) == MR_OK);
    for (size_t i = 0; i < z.n; i++) {
        if (strcmp(z.m[i].name, member) == 0) {
            if (op == REPLACE) cr_assert(mr_npz_add(&w, member, dt, ndim, shape, data, &e) == MR_OK);
            continue;
        }
        mr_array a;
        cr_assert(mr_npz_read_index(&z, i, &a, &e) == MR_OK);
        cr_assert(mr_npz_add(&w, z.m[i].name, a.dtype, a.ndim, a.shape, a.data, &e) == MR_OK);
        mr_array_free(&a);
    }
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    mr_npz_close(&z);
}

static void expect_broken(const char *path, const mr_dataset_expect *x, const char *must, const char *must2) {
    mr_dataset d;
    mr_error e = {0};
    cr_expect(mr_dataset_open(&d, path, x, &e) != MR_OK, "%s was accepted", path);
    cr_expect(strstr(e.msg, path) != NULL, "message does not name the file: %s", e.msg);
    cr_expect(strstr(e.msg, must) != NULL, "message lacks '%s': %s", must, e.msg);
    if (must2) cr_expect(strstr(e.msg, must2) != NULL, "message lacks '%s': %s", must2, e.msg);
    if (!x) { /* the CLI reports the same with exit status 2 */
        char args[1024], out[16384];
        snprintf(args, sizeof args, "info %s", path);
        cr_expect(t_run_cli(args, out, sizeof out) == 2, "mimrl info must exit 2 on %s: %s", path, out);
        cr_expect(strstr(out, must) != NULL, "mimrl info output lacks '%s'", must);
    }
}

Test(dataset, broken_files_give_clear_errors) {
    char prefix[512], good[600], p[600];
    small_synth(prefix, 40, 0.6);
    snprintf(good, sizeof good, "%s_test.npz", prefix); /* N = 10 */
    t_path(p, sizeof p, "missing_label.npz");
    rewrite(good, p, "label", DROP, 0, 0, NULL, NULL);
    expect_broken(p, NULL, "'label'", "missing");
    t_path(p, sizeof p, "label_wrong_dtype.npz");
    int32_t il[10] = {0};
    uint64_t s10[1] = {10};
    rewrite(good, p, "label", REPLACE, MR_DT_I4, 1, s10, il);
    expect_broken(p, NULL, "'label'", "<i4");
    t_path(p, sizeof p, "nan_label.npz");
    double lab[10] = {0};
    t_traps_off();
    lab[4] = NAN;
    t_traps_on();
    rewrite(good, p, "label", REPLACE, MR_DT_F8, 1, s10, lab);
    expect_broken(p, NULL, "'label'", "index 4");
    t_path(p, sizeof p, "offsets_out_of_range.npz");
    int64_t off[11];
    for (int i = 0; i <= 10; i++) off[i] = 1000000 * i;
    uint64_t s11[1] = {11};
    rewrite(good, p, "audio_offsets", REPLACE, MR_DT_I8, 1, s11, off);
    expect_broken(p, NULL, "'audio_offsets'", "row count");
    t_path(p, sizeof p, "offsets_decreasing.npz");
    for (int i = 0; i <= 10; i++) off[i] = i == 5 ? 0 : 3 * i;
    rewrite(good, p, "vision_offsets", REPLACE, MR_DT_I8, 1, s11, off);
    expect_broken(p, NULL, "'vision_offsets'", "decrease");
    t_path(p, sizeof p, "offsets_wrong_count.npz");
    rewrite(good, p, "audio_offsets", REPLACE, MR_DT_I8, 1, s10, off);
    expect_broken(p, NULL, "'audio_offsets'", "N + 1");
    t_path(p, sizeof p, "empty_split.npz");
    uint64_t s0[1] = {0};
    rewrite(good, p, "label", REPLACE, MR_DT_F8, 1, s0, lab);
    expect_broken(p, NULL, "'label'", "empty");
    /* dimension mismatch with the configuration (MOSEI widths on MOSI data) */
    mr_dataset_expect mosei = {74, 35, 768, 1};
    expect_broken(good, &mosei, "'audio'", "expects 74");
    /* text features required for training but absent */
    t_path(p, sizeof p, "no_text_emb.npz");
    rewrite(good, p, "text_emb", DROP, 0, 0, NULL, NULL);
    mr_dataset_expect need = {0, 0, 0, 1};
    expect_broken(p, &need, "'text_emb'", NULL);
    t_path(p, sizeof p, "bad_version.npz");
    int32_t v2 = 2;
    uint64_t s1[1] = {1};
    rewrite(good, p, "schema_version", REPLACE, MR_DT_I4, 1, s1, &v2);
    expect_broken(p, NULL, "'schema_version'", NULL);
    /* several problems are reported at once */
    char p2[600];
    t_path(p2, sizeof p2, "two_problems.npz");
    rewrite(p, p2, "meta_json", DROP, 0, 0, NULL, NULL);
    mr_dataset d;
    mr_error e;
    cr_assert(mr_dataset_open(&d, p2, NULL, &e) != MR_OK);
    cr_assert(strstr(e.msg, "2 problems") && strstr(e.msg, "'meta_json'") && strstr(e.msg, "'schema_version'"), "%s", e.msg);
}

Test(dataset, synth_cli_errors_and_info) {
    char out[16384], args[1024], prefix[512];
    t_path(prefix, sizeof prefix, "clisyn");
    snprintf(args, sizeof args, "synth --like mosi --out %s --n-train 20 --n-valid 5 --n-test 5 --max-frames 16 --mc-samples 100", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "info %s_train.npz", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0 && strstr(out, "schema: valid mimrl-npz v1: 20 samples"), "%s", out);
    cr_assert(t_run_cli("synth --like imdb", out, sizeof out) == 2 && strstr(out, "--like"), "%s", out);
    cr_assert(t_run_cli("synth --mix 1,2", out, sizeof out) == 2 && strstr(out, "--mix"), "%s", out);
    cr_assert(t_run_cli("synth --max-frames 3", out, sizeof out) == 2 && strstr(out, "--max-frames"), "%s", out);
}
