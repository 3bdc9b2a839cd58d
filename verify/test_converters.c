/* test_converters.c — datasets/convert.py on fabricated files of every
 * source structure (verify/make_fake_sources.py): the outputs pass the C
 * loader and `mimrl info`, carry the right frames, lengths, labels and
 * transcripts, and a file with the wrong padding side (or, for POM, a wrong
 * label width or a missing field) is refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static char dir[512];

static int sh(const char *fmt, const char *a, const char *b) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, t_python(), a, b);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void fabricate(void) {
    if (!t_python()) cr_skip_test(T_NO_PYTHON);
    t_path(dir, sizeof dir, "fake");
    cr_assert(sh("%s verify/make_fake_sources.py %s >/dev/null%s", dir, "") == 0);
}

static float pattern(size_t i, size_t t, size_t f) { return (float)(i + 1 + t / 100.0 + f / 10000.0); }

static void open_ok(mr_dataset *d, const char *prefix, const char *split) {
    char p[700];
    snprintf(p, sizeof p, "%s/out/%s_%s.npz", dir, prefix, split);
    mr_error e;
    cr_assert(mr_dataset_open(d, p, NULL, &e) == MR_OK, "%s", e.msg);
}

static const char *text_of(const mr_dataset *d, size_t i, char *buf) {
    size_t n = (size_t)(d->text_off[i + 1] - d->text_off[i]);
    memcpy(buf, d->text_bytes + d->text_off[i], n);
    buf[n] = 0;
    return buf;
}

Test(converters, mmsa_unaligned_and_aligned) {
    fabricate();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/mmsa_unaligned.pkl --out %s/out/mmsa_u", dir, dir);
    cr_assert(sh("%s datasets/convert.py mmsa %s >/dev/null%s", cmd, "") == 0);
    mr_dataset d;
    open_ok(&d, "mmsa_u", "train");
    int alen[4] = {5, 3, 7, 1};
    cr_assert(d.N == 4 && !d.aligned && d.audio.dim == 5 && d.vision.dim == 20 && d.text_emb.dim == 16);
    for (size_t i = 0; i < 4; i++) cr_assert(d.audio.off[i + 1] - d.audio.off[i] == alen[i], "end padding stripped");
    cr_assert(d.audio.x[(d.audio.off[2] + 1) * 5 + 3] == pattern(2, 1, 3));
    char buf[256];
    cr_assert(strcmp(text_of(&d, 1, buf), "hello world") == 0);
    cr_assert(strncmp(d.id_bytes + d.id_off[1], "vid1_1", 6) == 0, "'$_$' becomes '_'");
    mr_dataset_free(&d);
    snprintf(cmd, sizeof cmd, "%s/mmsa_aligned.pkl --aligned --out %s/out/mmsa_a", dir, dir);
    cr_assert(sh("%s datasets/convert.py mmsa %s >/dev/null%s", cmd, "") == 0);
    open_ok(&d, "mmsa_a", "test");
    cr_assert(d.aligned && d.N == 3);
    for (size_t i = 0; i <= 3; i++) cr_assert(d.audio.off[i] == d.vision.off[i] && d.audio.off[i] == d.text_emb.off[i]);
    mr_dataset_free(&d);
}

Test(converters, mult_declarelab_front_padding_and_csv_text) {
    fabricate();
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/mult_noalign.pkl %s/label.csv --dataset mosi --glove", dir, dir);
    char full[2600];
    snprintf(full, sizeof full, "%s --out %s/out/mult", cmd, dir);
    cr_assert(sh("%s datasets/convert.py mult %s >/dev/null%s", full, "") == 0);
    mr_dataset d;
    open_ok(&d, "mult", "valid");
    cr_assert(d.N == 2);
    cr_assert(d.vision.off[2] - d.vision.off[1] == 2, "front padding stripped: the last len frames kept");
    cr_assert(d.vision.x[(d.vision.off[1] + 1) * 20 + 7] == pattern(1, 1, 7));
    char buf[256];
    cr_assert(strcmp(text_of(&d, 1, buf), "hello world") == 0, "MOSI text matched by (video, clip): %s", buf);
    cr_assert(d.text_emb.dim == 300 && d.text_emb.off[1] == 2, "GloVe rows without the all-zero ones");
    mr_dataset_free(&d);
    /* end-padded data given to the MulT converter is refused */
    snprintf(full, sizeof full, "%s/mult_bad_padding.pkl %s/label.csv --dataset mosi --out %s/out/bad", dir, dir, dir);
    char log[600];
    t_path(log, sizeof log, "conv.log");
    char cmd2[4096];
    snprintf(cmd2, sizeof cmd2, "%s datasets/convert.py mult %s > %s 2>&1", t_python(), full, log);
    int rc = system(cmd2);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    size_t n;
    char *msg = (char *)t_read_file(log, &n);
    cr_assert(msg && strstr(msg, "mult_bad_padding.pkl[train]") && strstr(msg, "front-padded"), "%s", msg ? msg : "");
    free(msg);
    snprintf(cmd2, sizeof cmd2, "ls %s/out/bad_train.npz >/dev/null 2>&1", dir);
    cr_assert(system(cmd2) != 0, "nothing written for a refused input");
}

Test(converters, cubemlp_sdk_and_avec) {
    fabricate();
    char full[2600];
    snprintf(full, sizeof full, "%s/sdk_train.pkl --dataset mosi --split train --out %s/out/sdk", dir, dir);
    cr_assert(sh("%s datasets/convert.py sdk %s >/dev/null%s", full, "") == 0);
    mr_dataset d;
    open_ok(&d, "sdk", "train");
    cr_assert(d.aligned && d.audio.dim == 74 && d.vision.dim == 47 && d.text_emb.dim == 768);
    cr_assert(d.audio.off[3] - d.audio.off[2] == 4 && d.label[0] == -1.5);
    cr_assert(d.text_emb.x[(d.text_emb.off[1] + 1) * 768 + 5] == pattern(1, 1, 5));
    mr_dataset_free(&d);
    snprintf(full, sizeof full, "%s/avec_train.pkl --split train --out %s/out/avec", dir, dir);
    cr_assert(sh("%s datasets/convert.py avec %s >/dev/null%s", full, "") == 0);
    open_ok(&d, "avec", "train");
    cr_assert(d.audio.dim == 39 && d.vision.dim == 49);
    cr_assert(fabs(d.label[1] - 6.0) < T_F32_WIDE, "labels stored /25 are restored to the PHQ-8 scale: %g", d.label[1]);
    char buf[512];
    cr_assert(strchr(text_of(&d, 2, buf), '\n') != NULL, "sentences newline-separated");
    mr_dataset_free(&d);
}

/* convert.py on a fabricated file that must be refused: exit 2, the message
 * holds every string in want[], and no <out>_train.npz is written. */
static void refused(const char *sub, const char *args, const char *out, const char *const *want, size_t nwant) {
    char log[600], cmd[4096];
    t_path(log, sizeof log, "conv_refused.log");
    snprintf(cmd, sizeof cmd, "%s datasets/convert.py %s %s > %s 2>&1", t_python(), sub, args, log);
    int rc = system(cmd);
    size_t n;
    char *msg = (char *)t_read_file(log, &n);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "exit %d: %s", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, msg ? msg : "");
    for (size_t k = 0; k < nwant; k++) cr_assert(msg && strstr(msg, want[k]), "message lacks '%s': %s", want[k], msg ? msg : "");
    free(msg);
    snprintf(cmd, sizeof cmd, "ls %s_train.npz >/dev/null 2>&1", out);
    cr_assert(system(cmd) != 0, "nothing written for a refused input (%s)", out);
}

/* POM (pom_SDK): [[l, a, v], label (18 targets), label_7, segment], covarep 43,
 * facet42 35. The official loader trains regression on column 0 of the 18
 * (kiva12138/MIMRL Solver.get_label_from_datas: labels[0][:, 0]). */
Test(converters, cubemlp_sdk_pom) {
    fabricate();
    char full[2600];
    const char *split[3] = {"train", "valid", "test"};
    size_t nsplit[3] = {4, 2, 3};
    for (int s = 0; s < 3; s++) {
        snprintf(full, sizeof full, "%s/pom_%s.pkl --dataset pom --split %s --out %s/out/pom", dir, split[s], split[s], dir);
        cr_assert(sh("%s datasets/convert.py sdk %s >/dev/null%s", full, "") == 0, "convert.py sdk --dataset pom --split %s", split[s]);
        mr_dataset d;
        open_ok(&d, "pom", split[s]);
        cr_assert(d.N == nsplit[s] && d.aligned, "%s: N %zu", split[s], d.N);
        cr_assert(d.audio.dim == 43 && d.vision.dim == 35 && d.text_emb.dim == 768, "POM widths: covarep 43, facet42 35, BERT 768");
        for (size_t i = 0; i < d.N; i++) {
            cr_assert(d.label[i] == 1.0 + (double)i, "%s label[%zu] = %g: column 0 of the 18 targets", split[s], i, d.label[i]);
            cr_assert(d.audio.off[i + 1] - d.audio.off[i] == d.vision.off[i + 1] - d.vision.off[i], "word-aligned");
        }
        cr_assert(strstr(d.meta_json, "\"dataset\": \"pom\"") && strstr(d.meta_json, "\"label_column\": 0"), "%s", d.meta_json);
        mr_dataset_free(&d);
    }
    mr_dataset d;
    open_ok(&d, "pom", "train");
    cr_assert(d.audio.off[3] - d.audio.off[2] == 4, "sample 2 has 4 words");
    cr_assert(d.audio.x[(d.audio.off[1] + 1) * 43 + 42] == pattern(1, 1, 42));
    cr_assert(d.vision.x[(d.vision.off[3] + 0) * 35 + 7] == pattern(3, 0, 7));
    char buf[256];
    cr_assert(strcmp(text_of(&d, 2, buf), "one two three four") == 0, "transcript from the SDK word array: %s", buf);
    cr_assert(strncmp(d.id_bytes + d.id_off[1], "pom_seg1", 8) == 0);
    mr_dataset_free(&d);
    /* every target is kept: label_all (N, 18) in pickle order, label_7 (N,) */
    char p[700];
    snprintf(p, sizeof p, "%s/out/pom_train.npz", dir);
    mr_npz z;
    mr_error e;
    cr_assert(mr_npz_open(&z, p, &e) == MR_OK, "%s", e.msg);
    mr_array a;
    cr_assert(mr_npz_read(&z, "label_all", &a, &e) == MR_OK, "%s", e.msg);
    cr_assert(a.ndim == 2 && a.shape[0] == 4 && a.shape[1] == 18, "label_all shape");
    mr_array_free(&a);
    double *all = t_npz_get(&z, "label_all", 4 * 18); /* t_alloc'd: freed at exit */
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < 18; k++)
            cr_assert(fabs(all[i * 18 + k] - (1.0 + i + k / 100.0)) < T_F32_WIDE, "label_all[%zu][%zu] = %g", i, k, all[i * 18 + k]);
    double *l7 = t_npz_get(&z, "label_7", 4);
    for (size_t i = 0; i < 4; i++) cr_assert(l7[i] == (double)(i % 7));
    mr_npz_close(&z);
    /* `mimrl info` reads it */
    char out[4096];
    snprintf(full, sizeof full, "info %s", p);
    cr_assert(t_run_cli(full, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "schema: valid mimrl-npz v1: 4 samples, labels in [1, 4], audio 43-d") != NULL, "%s", out);
    /* bad input is refused, naming the file, the field and the row */
    char args[2600], prefix[700];
    snprintf(prefix, sizeof prefix, "%s/out/pom_bad", dir);
    snprintf(args, sizeof args, "%s/pom_bad_label_width.pkl --dataset pom --split train --out %s", dir, prefix);
    const char *w1[] = {"pom_bad_label_width.pkl", "sample 2", "'label'", "17 values", "18"};
    refused("sdk", args, prefix, w1, 5);
    snprintf(args, sizeof args, "%s/pom_missing_field.pkl --dataset pom --split train --out %s", dir, prefix);
    const char *w2[] = {"pom_missing_field.pkl", "sample 1", "'label_7'"};
    refused("sdk", args, prefix, w2, 3);
    /* a MOSI-structured pickle (5 items) given as POM is refused too */
    snprintf(args, sizeof args, "%s/sdk_train.pkl --dataset pom --split train --out %s", dir, prefix);
    const char *w3[] = {"sdk_train.pkl", "sample 0", "4 items"};
    refused("sdk", args, prefix, w3, 3);
}
