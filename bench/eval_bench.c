/* eval_bench.c — the evaluation forward (mr_model_forward_eval) against the
 * training forward without dropout (mr_model_forward, what mr_evaluate ran
 * before): workspace bytes with and without the backward caches at the
 * README configuration (mimrl train --preset readme, MOSI widths d_t 768,
 * d_a 5, d_v 20), and the wall time of one evaluation pass over a synthetic
 * MOSI-shaped split (229 samples = batches of 128 and 101, full lengths
 * Lt 50, La 375, Lv 500, banks of 1284 rows: an epoch > 0 evaluation).
 *
 *   make build/eval_bench && OPENBLAS_NUM_THREADS=2 build/eval_bench [reps]
 *
 * Both forwards run in the same (training) workspace, alternately, after
 * one untimed pass of each (first touch of the pages); the
 * outputs are compared bit for bit. BERT-base workspace bytes (B 128 ×
 * 100 tokens, chunk 8) are printed too (sizes only: nothing is run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "ref/model/model.h"
#include "ref/train/config.h"

static double *rnd(size_t n, gsl_rng *g) {
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = gsl_ran_gaussian_ziggurat(g, 1.0);
    return x;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the README configuration at MOSI feature widths (with BERT-base as the text branch when bert) */
static int readme_model(mr_model *m, mr_model_cfg *mc, int bert, mr_error *e) {
    mr_train_cfg tc;
    mr_model_cfg_default(mc);
    mr_train_cfg_default(&tc);
    if (mr_cfg_apply_preset(mc, &tc, "readme", NULL, e)) return 1;
    mc->d_t = 768, mc->d_a = 5, mc->d_v = 20;
    if (bert) mc->bert = 1, mr_bert_config_base(&mc->bert_cfg), mc->d_t = mc->bert_cfg.hidden_size;
    return mr_model_build(m, mc, e) != MR_OK;
}

static int sizes(const char *what, int bert, size_t B, size_t Lt) {
    mr_model_cfg mc;
    mr_error e = {0};
    mr_model m;
    if (readme_model(&m, &mc, bert, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    mr_step_dims x = {B, Lt, 375, 500, 1284};
    mr_workspace *w, *ev;
    if (mr_workspace_create(&m, &x, &w, &e) || mr_workspace_create_eval(&m, &x, &ev, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    double a = (double)mr_workspace_bytes(w), b = (double)mr_workspace_bytes(ev);
    printf("%s, B %zu, Lt %zu, La 375, Lv 500, bank 1284: training workspace %.3f GB (%.0f bytes), evaluation-only %.3f GB (%.0f bytes), "
           "%.1f %%\n", what, B, Lt, a / 1e9, a, b / 1e9, b, 100.0 * b / a);
    mr_workspace_free(w);
    mr_workspace_free(ev);
    mr_model_free(&m);
    return 0;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (sizes("README configuration (precomputed text features)", 0, 128, 50)) return 1;
    if (sizes("README configuration with BERT-base (chunk 8, 2 threads)", 1, 128, 100)) return 1;
    /* the timed pass */
    mr_model_cfg mc;
    mr_error e = {0};
    mr_model m;
    if (readme_model(&m, &mc, 0, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    mr_model_init(&m, 1);
    size_t n = 229, B = 128, Lt = 50, La = 375, Lv = 500, N = 1284, D = mc.d_common;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 2);
    double *text = rnd(n * Lt * 768, g), *audio = rnd(n * La * 5, g), *vis = rnd(n * Lv * 20, g), *lab = rnd(n, g);
    mr_banks bk = {N, rnd(N, g), rnd(N * D, g), rnd(N * D, g), rnd(N * D, g)};
    mr_step_dims x = {B, Lt, La, Lv, N};
    mr_workspace *w;
    if (mr_workspace_create(&m, &x, &w, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    double *tt[2], *outs[2];
    for (int k = 0; k < 2; k++) tt[k] = calloc((size_t)reps, sizeof(double)), outs[k] = malloc(n * sizeof(double));
    gsl_rng *anc = gsl_rng_alloc(gsl_rng_mt19937);
    for (int rep = -1; rep < reps; rep++) /* rep −1: untimed, touches the workspace's pages first */
        for (int k = 0; k < 2; k++) { /* 0: training forward (before), 1: eval forward (after) */
            gsl_rng_set(anc, 5);
            mr_rand r = {NULL, anc, {0}, {0}};
            double t0 = mr_seconds();
            for (size_t b0 = 0; b0 < n; b0 += B) {
                size_t nb = n - b0 < B ? n - b0 : B;
                mr_inputs in = {nb, Lt, La, Lv, text + b0 * Lt * 768, audio + b0 * La * 5, vis + b0 * Lv * 20, lab + b0, NULL, NULL, NULL};
                mr_step st;
                int rc = k ? mr_model_forward_eval(&m, &in, &bk, &r, &st, w, &e) : mr_model_forward(&m, &in, &bk, &r, &st, w, &e);
                if (rc) return fprintf(stderr, "%s\n", e.msg), 1;
                memcpy(outs[k] + b0, st.output, nb * sizeof(double));
            }
            if (rep >= 0) tt[k][rep] = mr_seconds() - t0;
        }
    int same = memcmp(outs[0], outs[1], n * sizeof(double)) == 0;
    for (int k = 0; k < 2; k++) {
        qsort(tt[k], (size_t)reps, sizeof(double), cmpd);
        printf("%s: one evaluation pass (229 samples, batches 128 + 101, with MI terms): min %.3f s, median %.3f s over %d\n",
               k ? "eval forward    " : "training forward", tt[k][0], tt[k][reps / 2], reps);
    }
    printf("outputs bit-identical: %s\n", same ? "yes" : "NO");
    mr_workspace_free(w);
    mr_model_free(&m);
    return same ? 0 : 1;
}
