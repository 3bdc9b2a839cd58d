/* gru_bench.c — GRU forward+backward at MIMRL shapes (issue: encoders).
 *
 * B = 128, H = d_common = 128, 2 layers, bidirectional, input widths 5, 20,
 * 74, 35 (MOSI audio/visual, MOSEI audio/visual), 100 and 500 frames.
 * Sample b has length L − (37·b mod L/2), so batches are ragged as real
 * padded batches are; bench/gru_torch.py uses the same lengths.
 *
 * Validates before timing (a directional finite-difference check of the
 * same code on a reduced shape, and zeros past every length at the full
 * shape), then times forward+backward: median and min of REPS calls with
 * CLOCK_MONOTONIC. GFLOP/s is the GEMM work as done (mr_gemm_flops: the
 * recurrent products on the running rows, the input products on valid
 * positions) over the median time; PyTorch's lines (gru_torch.py) carry
 * times only.
 * Output: one CSV line per shape on stdout (header first).
 */
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/blas.h"
#include "ref/core/common.h"
#include "ref/core/gradcheck.h"
#include "ref/nn/rnn.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    mr_rnn r;
    mr_params p;
    size_t B, L;
    int *len;
    double *x, *y, *w, *cache, *work;
} ctx;

static double loss(void *c_) {
    ctx *c = c_;
    mr_rnn_forward(&c->r, &c->p, c->x, c->B, c->L, c->len, c->y, c->cache, c->work);
    double s = 0;
    for (size_t i = 0; i < c->B * c->L * c->r.H; i++) s += c->y[i] * c->w[i];
    return s;
}

static int build(ctx *c, size_t B, size_t L, size_t din, size_t H, gsl_rng *g) {
    memset(c, 0, sizeof *c);
    mr_params_init(&c->p);
    mr_error e;
    if (mr_rnn_register(&c->r, &c->p, "rnn_a", MR_RNN_GRU, din, H, 2, &e) || mr_params_alloc(&c->p, &e)) return -1;
    mr_rnn_init(&c->r, &c->p, g);
    c->B = B;
    c->L = L;
    c->len = malloc(B * sizeof *c->len);
    c->x = calloc(B * L * din, sizeof *c->x);
    c->y = malloc(B * L * H * sizeof *c->y);
    c->w = malloc(B * L * H * sizeof *c->w);
    c->cache = malloc(mr_rnn_cache_size(&c->r, B, L) * sizeof *c->cache);
    c->work = malloc(mr_rnn_work_size(&c->r, B, L) * sizeof *c->work);
    if (!c->len || !c->x || !c->y || !c->w || !c->cache || !c->work) return -1;
    for (size_t b = 0; b < B; b++) {
        c->len[b] = (int)(L - (37 * b) % (L / 2 > 0 ? L / 2 : 1));
        for (size_t t = 0; t < (size_t)c->len[b]; t++)
            for (size_t f = 0; f < din; f++) c->x[(b * L + t) * din + f] = 2 * gsl_rng_uniform(g) - 1;
    }
    for (size_t i = 0; i < B * L * H; i++) c->w[i] = 2 * gsl_rng_uniform(g) - 1;
    return 0;
}

static void release(ctx *c) {
    mr_params_free(&c->p);
    free(c->len);
    free(c->x);
    free(c->y);
    free(c->w);
    free(c->cache);
    free(c->work);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 1);
    /* validation on a reduced shape */
    ctx v;
    if (build(&v, 4, 12, 5, 6, g)) return 1;
    double *dx = calloc(4 * 12 * 5, sizeof *dx);
    loss(&v);
    mr_rnn_backward(&v.r, &v.p, v.x, 4, 12, v.len, v.w, dx, v.cache, v.work);
    mr_gc_var var[2] = {{"params", v.p.data, v.p.grad, v.p.total}, {"x", v.x, dx, 4 * 12 * 5}};
    mr_gc_result res;
    int fails = mr_gradcheck_dir(loss, &v, var, 2, 0, 4, 7, &res);
    free(dx);
    release(&v);
    if (fails) {
        fprintf(stderr, "gru_bench: validation failed (directional gradient check)\n");
        return 1;
    }
    char blas[512];
    mr_blas_describe(blas, sizeof blas);
    fprintf(stderr, "gru_bench: validated (directional gradient check, worst %.2g of bound); BLAS %s; OPENBLAS_NUM_THREADS=%s\n",
            res.max_ratio, blas, getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "unset");
    printf("impl,B,L,din,H,layers,median_ms,min_ms,gflops_median\n");
    size_t Ls[2] = {100, 500}, dins[4] = {5, 20, 74, 35}, B = 128, H = 128;
    for (int li = 0; li < 2; li++)
        for (int di = 0; di < 4; di++) {
            size_t L = Ls[li], din = dins[di];
            ctx c;
            if (build(&c, B, L, din, H, g)) return 1;
            double *dxx = calloc(B * L * din, sizeof *dxx), *t = malloc(reps * sizeof *t);
            unsigned long long work = 0; /* GEMM operations of one call, as done (mr_gemm_flops) */
            for (int k = 0; k <= reps; k++) { /* k = 0 warms up */
                mr_params_zero_grad(&c.p);
                unsigned long long f0 = mr_gemm_flops();
                double t0 = mr_seconds();
                mr_rnn_forward(&c.r, &c.p, c.x, B, L, c.len, c.y, c.cache, c.work);
                mr_rnn_backward(&c.r, &c.p, c.x, B, L, c.len, c.w, dxx, c.cache, c.work);
                if (k) t[k - 1] = mr_seconds() - t0;
                work = mr_gemm_flops() - f0;
            }
            /* zeros past every length */
            for (size_t b = 0; b < B; b++)
                for (size_t tt = (size_t)c.len[b]; tt < L; tt++)
                    for (size_t j = 0; j < H; j++)
                        if (c.y[(b * L + tt) * H + j] != 0.0) {
                            fprintf(stderr, "gru_bench: non-zero output past a length\n");
                            return 1;
                        }
            qsort(t, reps, sizeof *t, cmp);
            double med = t[reps / 2];
            printf("c-%s,%zu,%zu,%zu,%zu,2,%.2f,%.2f,%.2f\n", mr_blas_name(), B, L, din, H, med * 1e3, t[0] * 1e3,
                   (double)work / med / 1e9);
            fflush(stdout);
            free(dxx);
            free(t);
            release(&c);
        }
    gsl_rng_free(g);
    return 0;
}
