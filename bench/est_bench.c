/* est_bench.c — estimator throughput (issue 7, "estimator throughput").
 *
 * 1. Critic steps per second: forward S[B×B] + backward of ⟨S, W⟩ through the
 *    critic (MIMRL's hard-coded hidden 256, embed 128, 2 hidden layers) for
 *    the separate and the concat critic, d_x = d_y = 128 (d_common of the
 *    official README configuration), B = 32, 64, 128.
 * 2. k-NN product sampling time against bank size: m = ⌊128/2⌋ = 64 anchors
 *    (batch 128, k = 2, as in training), bank N = 128, 1284 (MOSI train),
 *    16326 (MOSEI train), 65536 rows, d_Z = 1 and 128.
 *
 * Validates before timing: a directional finite-difference check of both
 * critics on a reduced shape (tanh units there, see below), and the k-NN search against a full sort of
 * (distance, index) pairs for every anchor of a 300-row bank. Then times
 * REPS calls after one warm-up: median and min, CLOCK_MONOTONIC.
 * Output: CSV on stdout (header first), machine facts on stderr.
 */
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/cmine.h"
#include "estimators/critic.h"
#include "estimators/knn_naive.h"
#include "ref/core/common.h"
#include "ref/core/gradcheck.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    mr_critic c;
    mr_params p;
    size_t B, d;
    double *x, *y, *S, *W, *dx, *dy, *work;
} cctx;

static double closs(void *v) {
    cctx *c = v;
    mr_critic_forward(&c->c, &c->p, c->x, c->y, c->B, c->S, c->work);
    double s = 0;
    for (size_t i = 0; i < c->B * c->B; i++) s += c->S[i] * c->W[i];
    return s;
}

static int cbuild(cctx *c, mr_critic_kind kind, size_t B, size_t d, size_t hidden, size_t embed, size_t layers,
                  gsl_rng *g) {
    memset(c, 0, sizeof *c);
    mr_params_init(&c->p);
    mr_error e;
    if (mr_critic_register(&c->c, &c->p, "est", kind, MR_BASE_CONSTANT, d, d, hidden, embed, layers, &e) ||
        mr_params_alloc(&c->p, &e)) {
        fprintf(stderr, "est_bench: %s\n", e.msg);
        return -1;
    }
    mr_critic_init(&c->c, &c->p, g);
    c->B = B;
    c->d = d;
    c->x = malloc(B * d * sizeof *c->x);
    c->y = malloc(B * d * sizeof *c->y);
    c->dx = calloc(B * d, sizeof *c->dx);
    c->dy = calloc(B * d, sizeof *c->dy);
    c->S = malloc(B * B * sizeof *c->S);
    c->W = malloc(B * B * sizeof *c->W);
    c->work = malloc(mr_critic_work_size(&c->c, B) * sizeof *c->work);
    if (!c->x || !c->y || !c->dx || !c->dy || !c->S || !c->W || !c->work) return -1;
    for (size_t i = 0; i < B * d; i++) c->x[i] = 2 * gsl_rng_uniform(g) - 1;
    for (size_t i = 0; i < B * d; i++) c->y[i] = 2 * gsl_rng_uniform(g) - 1;
    for (size_t i = 0; i < B * B; i++) c->W[i] = 2 * gsl_rng_uniform(g) - 1;
    return 0;
}

static void cfree(cctx *c) {
    mr_params_free(&c->p);
    free(c->x);
    free(c->y);
    free(c->dx);
    free(c->dy);
    free(c->S);
    free(c->W);
    free(c->work);
}

static void cstep(cctx *c) {
    mr_params_zero_grad(&c->p);
    memset(c->dx, 0, c->B * c->d * sizeof *c->dx);
    memset(c->dy, 0, c->B * c->d * sizeof *c->dy);
    closs(c);
    mr_critic_backward(&c->c, &c->p, c->x, c->y, c->B, c->W, c->dx, c->dy, c->work);
}

static const char *kname(mr_critic_kind k) { return k == MR_CRITIC_SEPARATE ? "separate" : "concat"; }

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) reps = 1;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 1);
    mr_error e;

    /* ---- validation: critic gradients */
    double worst = 0;
    for (int k = 0; k < 2; k++) {
        cctx v;
        if (cbuild(&v, (mr_critic_kind)k, 5, 4, 7, 3, 1, g)) return 1;
        /* tanh for the check (as verify/test_critic.c): with ReLU, a
         * directional step crosses some of the ~10² kinks of the concat
         * critic and the finite difference is off by O(1) in the kink's
         * share; the matmul and backprop paths timed below are the same */
        v.c.g.act = v.c.h.act = v.c.f.act = v.c.bmlp.act = MR_ACT_TANH;
        cstep(&v);
        mr_gc_var var[3] = {{"params", v.p.data, v.p.grad, v.p.total},
                            {"x", v.x, v.dx, v.B * v.d},
                            {"y", v.y, v.dy, v.B * v.d}};
        mr_gc_result res;
        int fails = mr_gradcheck_dir(closs, &v, var, 3, 0, 6, 11, &res);
        cfree(&v);
        if (fails) {
            fprintf(stderr, "est_bench: validation failed (%s critic gradient)\n", kname((mr_critic_kind)k));
            return 1;
        }
        worst = res.max_ratio > worst ? res.max_ratio : worst;
    }
    /* ---- validation: k-NN against a full sort */
    {
        size_t N = 300, dZ = 3, m = 40, k = 5;
        double *Z = malloc(N * dZ * sizeof *Z);
        int64_t *anc = malloc(m * sizeof *anc), *nb = malloc(m * k * sizeof *nb), *want = malloc(m * k * sizeof *want);
        if (!Z || !anc || !nb || !want) return 1;
        /* coarse grid values make exact distance ties common */
        for (size_t i = 0; i < N * dZ; i++) Z[i] = (double)gsl_rng_uniform_int(g, 4);
        if (mr_knn_draw_anchors(N, m, g, anc, &e) || mr_knn_neighbors(Z, dZ, N, anc, m, k, nb, &e) ||
            mr_knn_naive(Z, dZ, N, anc, m, k, want, &e)) {
            fprintf(stderr, "est_bench: %s\n", e.msg);
            return 1;
        }
        for (size_t j = 0; j < m * k; j++)
            if (nb[j] != want[j]) {
                fprintf(stderr, "est_bench: validation failed (k-NN anchor %zu neighbour %zu: %lld, full sort says %lld)\n",
                        j / k, j % k, (long long)nb[j], (long long)want[j]);
                return 1;
            }
        free(Z);
        free(anc);
        free(nb);
        free(want);
    }
    char blas[512];
    mr_blas_describe(blas, sizeof blas);
    fprintf(stderr,
            "est_bench: validated (critic directional gradient check, worst %.2g of bound; k-NN equals a full sort on a "
            "tied 300-row bank); BLAS %s; OPENBLAS_NUM_THREADS=%s\n",
            worst, blas, getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "unset");

    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return 1;
    printf("bench,variant,B_or_N,d,median_ms,min_ms,per_second_median\n");
    /* ---- critic steps */
    size_t Bs[3] = {32, 64, 128};
    for (int k = 0; k < 2; k++)
        for (int bi = 0; bi < 3; bi++) {
            cctx c;
            if (cbuild(&c, (mr_critic_kind)k, Bs[bi], 128, 256, 128, 2, g)) return 1;
            for (int r = 0; r <= reps; r++) {
                double t0 = mr_seconds();
                cstep(&c);
                if (r) t[r - 1] = mr_seconds() - t0;
            }
            cfree(&c);
            qsort(t, (size_t)reps, sizeof *t, cmp_d);
            double med = t[reps / 2];
            printf("critic_step,%s,%zu,128,%.3f,%.3f,%.1f\n", kname((mr_critic_kind)k), Bs[bi], med * 1e3, t[0] * 1e3,
                   1.0 / med);
            fflush(stdout);
        }
    /* ---- k-NN product sampling */
    size_t Ns[4] = {128, 1284, 16326, 65536}, ds[2] = {1, 128}, m = 64, kk = 2;
    for (int di = 0; di < 2; di++)
        for (int ni = 0; ni < 4; ni++) {
            size_t N = Ns[ni], dZ = ds[di];
            double *Z = malloc(N * dZ * sizeof *Z);
            int64_t *anc = malloc(m * sizeof *anc), *nb = malloc(m * kk * sizeof *nb);
            if (!Z || !anc || !nb) return 1;
            for (size_t i = 0; i < N * dZ; i++) Z[i] = 2 * gsl_rng_uniform(g) - 1;
            for (int r = 0; r <= reps; r++) {
                double t0 = mr_seconds();
                if (mr_knn_draw_anchors(N, m, g, anc, &e) || mr_knn_neighbors(Z, dZ, N, anc, m, kk, nb, &e)) {
                    fprintf(stderr, "est_bench: %s\n", e.msg);
                    return 1;
                }
                if (r) t[r - 1] = mr_seconds() - t0;
            }
            free(Z);
            free(anc);
            free(nb);
            qsort(t, (size_t)reps, sizeof *t, cmp_d);
            double med = t[reps / 2];
            printf("knn_sample,m64_k2,%zu,%zu,%.3f,%.3f,%.1f\n", N, dZ, med * 1e3, t[0] * 1e3, 1.0 / med);
            fflush(stdout);
        }
    free(t);
    gsl_rng_free(g);
    return 0;
}
