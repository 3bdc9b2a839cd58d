/* cli_data.c — `mimrl synth` and the dataset part of `mimrl info`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset.h"
#include "datasets/synth.h"
#include "ref/cli/cli.h"

static const char *SYNTH_HELP =
    "usage: mimrl synth [--like mosi|mosei|avec] [--out PREFIX] [options]\n"
    "writes PREFIX_train.npz, PREFIX_valid.npz, PREFIX_test.npz in the mimrl-npz schema\n"
    "(datasets/SCHEMA.md), with split sizes, feature widths, length distributions and label\n"
    "range like the real dataset, labels built from known latent parts (datasets/synth.h):\n"
    "  y = c_s·s + c_t·u_t + c_a·u_a + c_v·u_v + c_x·w_a·w_v + sigma_y·ε\n"
    "and the implied information quantities in meta_json.ground_truth.\n"
    "options:\n"
    "  --out PREFIX          default build/data/<like>\n"
    "  --seed N              default 0\n"
    "  --mix cs,ct,ca,cv,cx  label coefficients (default 0.8,0.6,0.4,0.4,0.6)\n"
    "  --sigma-y X --sigma-o X --sigma-f X   label, view and frame noise (0.3, 0.5, 0.5)\n"
    "  --n-train N --n-valid N --n-test N    split sizes (default: the real ones)\n"
    "  --max-frames N        cap audio/visual lengths (default: the real maxima 375/500)\n"
    "  --max-words N         cap words per utterance (default 60; AVEC 120)\n"
    "  --mc-samples N        Monte-Carlo draws for non-Gaussian ground truth (3000)\n";

int mr_cmd_synth(int argc, char **argv) {
    mr_flag fl[] = {{"--like", 1, 0, 0},    {"--out", 1, 0, 0},      {"--seed", 1, 0, 0},      {"--mix", 1, 0, 0},
                    {"--sigma-y", 1, 0, 0}, {"--sigma-o", 1, 0, 0},  {"--sigma-f", 1, 0, 0},   {"--n-train", 1, 0, 0},
                    {"--n-valid", 1, 0, 0}, {"--n-test", 1, 0, 0},   {"--max-frames", 1, 0, 0}, {"--max-words", 1, 0, 0},
                    {"--mc-samples", 1, 0, 0}, {"--help", 0, 0, 0}};
    size_t nf = sizeof fl / sizeof fl[0];
    int rc = mr_parse_flags(argc, argv, 2, fl, nf, "synth");
    if (rc) return rc;
    if (fl[13].seen) {
        fputs(SYNTH_HELP, stdout);
        return 0;
    }
    const char *like = fl[0].value ? fl[0].value : "mosi";
    mr_like l;
    if (!strcmp(like, "mosi")) l = MR_LIKE_MOSI;
    else if (!strcmp(like, "mosei")) l = MR_LIKE_MOSEI;
    else if (!strcmp(like, "avec") || !strcmp(like, "avec2019")) l = MR_LIKE_AVEC;
    else {
        fprintf(stderr, "mimrl synth: --like must be mosi, mosei or avec (got '%s')\n", like);
        return 2;
    }
    mr_synth_cfg c;
    mr_synth_default(&c, l);
    unsigned long v;
    if (fl[2].value) {
        if (mr_parse_ulong("synth", "--seed", fl[2].value, &v)) return 2;
        c.seed = v;
    }
    if (fl[3].value) {
        double m[5];
        char *s = (char *)fl[3].value, *end;
        for (int k = 0; k < 5; k++) {
            errno = 0;
            m[k] = strtod(s, &end);
            if (end == s || errno || (k < 4 && *end != ',') || (k == 4 && *end)) {
                fprintf(stderr, "mimrl synth: --mix expects five numbers cs,ct,ca,cv,cx (got '%s')\n", fl[3].value);
                return 2;
            }
            s = end + 1;
        }
        c.c_s = m[0], c.c_t = m[1], c.c_a = m[2], c.c_v = m[3], c.c_x = m[4];
    }
    double *dd[3] = {&c.sigma_y, &c.sigma_o, &c.sigma_f};
    for (int k = 0; k < 3; k++)
        if (fl[4 + k].value && (mr_parse_double("synth", fl[4 + k].name, fl[4 + k].value, dd[k]) || *dd[k] < 0)) {
            fprintf(stderr, "mimrl synth: %s must be a non-negative number\n", fl[4 + k].name);
            return 2;
        }
    if (c.sigma_o <= 0 || c.sigma_y <= 0) {
        fprintf(stderr, "mimrl synth: --sigma-o and --sigma-y must be positive (the ground truth would be infinite)\n");
        return 2;
    }
    size_t *sz[6] = {&c.n[0], &c.n[1], &c.n[2], &c.max_frames, &c.max_words, &c.mc_samples};
    for (int k = 0; k < 6; k++)
        if (fl[7 + k].value) {
            if (mr_parse_ulong("synth", fl[7 + k].name, fl[7 + k].value, &v) || v == 0 || (k == 3 && v < 8)) {
                fprintf(stderr, "mimrl synth: %s must be a positive integer%s\n", fl[7 + k].name, k == 3 ? " ≥ 8" : "");
                return 2;
            }
            *sz[k] = v;
        }
    char def[256];
    snprintf(def, sizeof def, "build/data/%s", l == MR_LIKE_MOSI ? "mosi" : l == MR_LIKE_MOSEI ? "mosei" : "avec2019");
    const char *out = fl[1].value ? fl[1].value : def;
    /* create the prefix's directory */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0777);
                *p = '/';
            }
        mkdir(dir, 0777);
    }
    mr_error e = {0};
    if ((rc = mr_synth_write(&c, out, stdout, &e))) {
        fprintf(stderr, "mimrl synth: %s\n", e.msg);
        return rc == MR_EIO || rc == MR_EINVAL ? 2 : 1;
    }
    return 0;
}

/* `mimrl info` on a mimrl-npz split: schema validation and a summary. */
int mr_info_dataset(const char *path) {
    mr_dataset d;
    mr_error e = {0};
    if (mr_dataset_open(&d, path, NULL, &e)) {
        printf("schema: INVALID mimrl-npz: %s\n", e.msg);
        return 2;
    }
    size_t amax = 0, vmax = 0, tmax = 0;
    for (size_t i = 0; i < d.N; i++) {
        size_t a = (size_t)(d.audio.off[i + 1] - d.audio.off[i]), v = (size_t)(d.vision.off[i + 1] - d.vision.off[i]);
        if (a > amax) amax = a;
        if (v > vmax) vmax = v;
        if (d.text_emb.off) {
            size_t t = (size_t)(d.text_emb.off[i + 1] - d.text_emb.off[i]);
            if (t > tmax) tmax = t;
        }
    }
    double lmin = d.label[0], lmax = d.label[0];
    for (size_t i = 0; i < d.N; i++) {
        if (d.label[i] < lmin) lmin = d.label[i];
        if (d.label[i] > lmax) lmax = d.label[i];
    }
    printf("schema: valid mimrl-npz v1: %zu samples, labels in [%g, %g], audio %zu-d (max %zu frames), vision %zu-d (max %zu "
           "frames), text_emb %s",
           d.N, lmin, lmax, d.audio.dim, amax, d.vision.dim, vmax, d.text_emb.x ? "" : "absent");
    if (d.text_emb.x) printf("%zu-d (max %zu tokens)", d.text_emb.dim, tmax);
    printf("%s\n", d.aligned ? ", aligned" : "");
    if (d.nonfinite_replaced) printf("note: %zu non-finite feature values would be replaced by 0 at load\n", d.nonfinite_replaced);
    printf("meta_json: %.600s%s\n", d.meta_json ? d.meta_json : "", d.meta_json && strlen(d.meta_json) > 600 ? " …" : "");
    mr_dataset_free(&d);
    return 0;
}
