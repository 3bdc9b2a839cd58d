/* demo.c — `mimrl demo`: a short end-to-end run of what the foundation
 * provides, until MIMRL training lands (issue 6 replaces it as the main job).
 *
 * A two-layer regressor  y = fc2(dropout(LN(gelu(fc1(x)))))  on a synthetic
 * MOSI-like regression task (labels in [−3, 3]) is gradient-checked, trained
 * with Adam, MAE, clip-by-value and a multi_step schedule, saved atomically
 * as an npz checkpoint with its config, reloaded, and scored with the MOSI
 * metrics against the predict-the-mean baseline. Every random draw comes
 * from its own seeded gsl_rng stream (init, data, dropout, shuffling).
 */
#include "ref/cli/demo.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/core/npz.h"
#include "ref/core/gradcheck.h"
#include "ref/nn/layers.h"
#include "ref/nn/losses.h"
#include "ref/nn/metrics.h"
#include "ref/nn/optim.h"
#include "ref/core/params.h"

#define DIN 16
#define HID 32
#define BATCH 32
#define NTRAIN 1024
#define NTEST 256
#define DROPOUT 0.1

typedef struct {
    mr_params p;
    double *w1, *b1, *g, *beta, *w2, *b2;
    /* activations for one batch (B ≤ BATCH) */
    double h1[BATCH * HID], a1[BATCH * HID], ln[BATCH * HID], mean[BATCH], rstd[BATCH];
    double mask[BATCH * HID], d1[BATCH * HID], out[BATCH];
    double dout[BATCH], dd1[BATCH * HID], dln[BATCH * HID], da1[BATCH * HID], dh1[BATCH * HID];
} net;

static int net_build(net *n, mr_error *e) {
    mr_params_init(&n->p);
    size_t s_w1[2] = {HID, DIN}, s_h[1] = {HID}, s_w2[2] = {1, HID}, s_1[1] = {1};
    int rc = mr_params_add(&n->p, "demo.fc1.weight", 2, s_w1, e);
    if (!rc) rc = mr_params_add(&n->p, "demo.fc1.bias", 1, s_h, e);
    if (!rc) rc = mr_params_add(&n->p, "demo.ln.weight", 1, s_h, e);
    if (!rc) rc = mr_params_add(&n->p, "demo.ln.bias", 1, s_h, e);
    if (!rc) rc = mr_params_add(&n->p, "demo.fc2.weight", 2, s_w2, e);
    if (!rc) rc = mr_params_add(&n->p, "demo.fc2.bias", 1, s_1, e);
    if (!rc) rc = mr_params_alloc(&n->p, e);
    if (rc) return rc;
    n->w1 = mr_params_get(&n->p, "demo.fc1.weight");
    n->b1 = mr_params_get(&n->p, "demo.fc1.bias");
    n->g = mr_params_get(&n->p, "demo.ln.weight");
    n->beta = mr_params_get(&n->p, "demo.ln.bias");
    n->w2 = mr_params_get(&n->p, "demo.fc2.weight");
    n->b2 = mr_params_get(&n->p, "demo.fc2.bias");
    return MR_OK;
}

/* PyTorch defaults: Linear U(±1/√fan_in) for weight and bias; LN 1 / 0. */
static void net_init(net *n, gsl_rng *r) {
    double k1 = 1.0 / sqrt(DIN), k2 = 1.0 / sqrt(HID);
    for (size_t i = 0; i < HID * DIN; i++) n->w1[i] = k1 * (2 * gsl_rng_uniform(r) - 1);
    for (size_t i = 0; i < HID; i++) n->b1[i] = k1 * (2 * gsl_rng_uniform(r) - 1);
    for (size_t i = 0; i < HID; i++) n->g[i] = 1.0, n->beta[i] = 0.0;
    for (size_t i = 0; i < HID; i++) n->w2[i] = k2 * (2 * gsl_rng_uniform(r) - 1);
    n->b2[0] = k2 * (2 * gsl_rng_uniform(r) - 1);
}

/* Forward on B rows of x; dropout mask from `drop` (NULL: eval mode). */
static void net_forward(net *n, const double *x, size_t B, gsl_rng *drop) {
    mr_linear_forward(n->h1, x, n->w1, n->b1, B, DIN, HID);
    mr_act_forward(MR_ACT_GELU, n->a1, n->h1, B * HID);
    mr_layernorm_forward(n->ln, n->mean, n->rstd, n->a1, n->g, n->beta, B, HID, 1e-6);
    if (drop) mr_dropout_mask(n->mask, B * HID, DROPOUT, drop);
    else for (size_t i = 0; i < B * HID; i++) n->mask[i] = 1.0;
    mr_dropout_forward(n->d1, n->ln, n->mask, B * HID);
    mr_linear_forward(n->out, n->d1, n->w2, n->b2, B, HID, 1);
}

/* Backward of loss(out) given dout (already in n->dout); accumulates into grads. */
static void net_backward(net *n, const double *x, size_t B) {
    double *G = n->p.grad;
    mr_params *P = &n->p;
    memset(n->dd1, 0, sizeof n->dd1);
    memset(n->dln, 0, sizeof n->dln);
    memset(n->da1, 0, sizeof n->da1);
    memset(n->dh1, 0, sizeof n->dh1);
    mr_linear_backward(n->dd1, G + P->t[4].offset, G + P->t[5].offset, n->dout, n->d1, n->w2, B, HID, 1);
    mr_dropout_backward(n->dln, n->dd1, n->mask, B * HID);
    mr_layernorm_backward(n->da1, G + P->t[2].offset, G + P->t[3].offset, n->dln, n->a1, n->g, n->mean, n->rstd, B, HID);
    mr_act_backward(MR_ACT_GELU, n->dh1, n->da1, n->h1, n->a1, B * HID);
    mr_linear_backward(NULL, G + P->t[0].offset, G + P->t[1].offset, n->dh1, x, n->w1, B, DIN, HID);
}

/* MSE loss with the dropout mask held fixed (for the gradient check). */
static double loss_fixed_mask(net *n, const double *x, const double *y, size_t B) {
    mr_linear_forward(n->h1, x, n->w1, n->b1, B, DIN, HID);
    mr_act_forward(MR_ACT_GELU, n->a1, n->h1, B * HID);
    mr_layernorm_forward(n->ln, n->mean, n->rstd, n->a1, n->g, n->beta, B, HID, 1e-6);
    mr_dropout_forward(n->d1, n->ln, n->mask, B * HID);
    mr_linear_forward(n->out, n->d1, n->w2, n->b2, B, HID, 1);
    return mr_loss_mse(n->out, y, B, NULL, 0);
}

typedef struct {
    net *n;
    const double *x, *y;
    size_t B;
} gc_ctx;

static double gc_loss(void *c) {
    gc_ctx *g = c;
    return loss_fixed_mask(g->n, g->x, g->y, g->B);
}

/* Directional finite-difference check of the whole network with the dropout
 * mask held fixed (ref/core/gradcheck.h). Returns the number of failures. */
static int net_gradcheck(net *n, const double *x, const double *y, size_t B, gsl_rng *r, FILE *log) {
    mr_dropout_mask(n->mask, B * HID, DROPOUT, r);
    mr_params_zero_grad(&n->p);
    loss_fixed_mask(n, x, y, B);
    memset(n->dout, 0, sizeof n->dout);
    mr_loss_mse(n->out, y, B, n->dout, 1.0);
    net_backward(n, x, B);
    gc_ctx c = {n, x, y, B};
    mr_gc_var v = {"demo parameters", n->p.data, n->p.grad, n->p.total};
    mr_gc_result res;
    int fails = mr_gradcheck_dir(gc_loss, &c, &v, 1, 0, 4, gsl_rng_get(r), &res);
    fprintf(log, "gradient check of the whole network (4 random directions): %s (largest error %.2g of its bound)\n",
            fails ? "FAIL" : "pass", res.max_ratio);
    return fails;
}

static void make_data(double *x, double *y, size_t N, const double *wtrue, gsl_rng *r) {
    for (size_t i = 0; i < N; i++) {
        double s = 0;
        for (size_t k = 0; k < DIN; k++) {
            x[i * DIN + k] = 2 * gsl_rng_uniform(r) - 1;
            s += wtrue[k] * x[i * DIN + k];
        }
        double v = 3.0 * tanh(s + 0.5 * sin(3 * x[i * DIN])) + 0.1 * (2 * gsl_rng_uniform(r) - 1);
        y[i] = v > 3 ? 3 : (v < -3 ? -3 : v);
    }
}

static void predict(net *n, const double *x, size_t N, double *pred) {
    for (size_t s = 0; s < N; s += BATCH) {
        size_t B = N - s < BATCH ? N - s : BATCH;
        net_forward(n, x + s * DIN, B, NULL);
        memcpy(pred + s, n->out, B * sizeof *pred);
    }
}

int mr_demo(const char *outdir, unsigned long seed, int epochs, FILE *log, mr_error *e) {
    char blas[512];
    mr_blas_describe(blas, sizeof blas);
    fprintf(log, "mimrl demo — foundation end to end (BLAS: %s; seed %lu)\n", blas, seed);
    if (mkdir(outdir, 0777) != 0) {
        struct stat st;
        if (stat(outdir, &st) != 0 || !S_ISDIR(st.st_mode)) return mr_fail(e, MR_EIO, "%s: cannot create the output directory", outdir);
    }
    gsl_rng *r_init = gsl_rng_alloc(gsl_rng_mt19937), *r_data = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng *r_drop = gsl_rng_alloc(gsl_rng_mt19937), *r_shuf = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r_init, seed);
    gsl_rng_set(r_data, seed + 1);
    gsl_rng_set(r_drop, seed + 2);
    gsl_rng_set(r_shuf, seed + 3);
    double wtrue[DIN];
    for (size_t k = 0; k < DIN; k++) wtrue[k] = 1.5 * (2 * gsl_rng_uniform(r_data) - 1) / sqrt(DIN) * 2;
    double *xtr = malloc(NTRAIN * DIN * sizeof(double)), *ytr = malloc(NTRAIN * sizeof(double));
    double *xte = malloc(NTEST * DIN * sizeof(double)), *yte = malloc(NTEST * sizeof(double));
    double *pred = malloc(NTEST * sizeof(double)), *pred2 = malloc(NTEST * sizeof(double));
    size_t *order = malloc(NTRAIN * sizeof(size_t));
    double *xb = malloc(BATCH * DIN * sizeof(double)), yb[BATCH];
    net *n = calloc(1, sizeof *n), *n2 = calloc(1, sizeof *n2);
    int rc = (xtr && ytr && xte && yte && pred && pred2 && order && xb && n && n2) ? MR_OK : mr_fail(e, MR_ENOMEM, "out of memory");
    if (!rc) rc = net_build(n, e);
    if (!rc) rc = net_build(n2, e);
    if (rc) goto done;
    make_data(xtr, ytr, NTRAIN, wtrue, r_data);
    make_data(xte, yte, NTEST, wtrue, r_data);
    net_init(n, r_init);
    fprintf(log, "data: %d train / %d test samples, %d features, labels in [-3, 3]; model %zu parameters\n",
            NTRAIN, NTEST, DIN, n->p.total);
    if (net_gradcheck(n, xtr, ytr, 8, r_init, log) != 0) {
        rc = mr_fail(e, MR_EINVAL, "the demo network failed its gradient check");
        goto done;
    }
    mr_optim opt;
    mr_optim_adam(&opt, &n->p, 0.0);
    size_t all[8];
    size_t nall = mr_params_select(&n->p, NULL, NULL, all);
    mr_optim_add_group(&opt, all, nall, 4e-3, NULL);
    mr_lr_sched sched;
    mr_sched_init(&sched, MR_LR_MULTISTEP, 0.1);
    sched.milestones[0] = epochs * 6 / 10;
    sched.milestones[1] = epochs * 8 / 10;
    sched.nm = 2;
    double ymean = 0;
    for (size_t i = 0; i < NTRAIN; i++) ymean += ytr[i];
    ymean /= NTRAIN;
    double base = 0;
    for (size_t i = 0; i < NTEST; i++) base += fabs(yte[i] - ymean);
    base /= NTEST;
    for (size_t i = 0; i < NTRAIN; i++) order[i] = i;
    fprintf(log, "%5s %10s %10s %8s %8s %10s %7s\n", "epoch", "train MAE", "test MAE", "corr", "Acc-2", "lr", "ms");
    for (int ep = 0; ep < epochs; ep++) {
        double t0 = mr_seconds();
        for (size_t i = NTRAIN - 1; i > 0; i--) { /* Fisher–Yates with its own stream */
            size_t j = gsl_rng_uniform_int(r_shuf, i + 1), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        double tl = 0;
        size_t nb = 0;
        for (size_t s = 0; s < NTRAIN; s += BATCH) {
            size_t B = NTRAIN - s < BATCH ? NTRAIN - s : BATCH;
            for (size_t b = 0; b < B; b++) {
                memcpy(xb + b * DIN, xtr + order[s + b] * DIN, DIN * sizeof(double));
                yb[b] = ytr[order[s + b]];
            }
            net_forward(n, xb, B, r_drop);
            mr_params_zero_grad(&n->p);
            memset(n->dout, 0, sizeof n->dout);
            tl += mr_loss_mae(n->out, yb, B, n->dout, 1.0);
            nb++;
            net_backward(n, xb, B);
            mr_clip_grad_value(&n->p, all, nall, 1.0);
            mr_optim_step(&opt);
        }
        predict(n, xte, NTEST, pred);
        mr_metrics m;
        mr_metrics_mosi(pred, yte, NTEST, &m);
        double lr_used = opt.g[0].lr;
        mr_sched_step(&sched, &opt, 0.0);
        double ms = (mr_seconds() - t0) * 1e3;
        fprintf(log, "%5d %10.4f %10.4f %8.4f %8.4f %10.2e %7.1f\n", ep, tl / nb, m.mae, m.corr, m.acc2_non0, lr_used, ms);
    }
    mr_optim_free(&opt);
    /* save, reload into a fresh store, check the predictions are identical */
    char path[4096], cfg[512];
    snprintf(path, sizeof path, "%s/model.npz", outdir);
    snprintf(cfg, sizeof cfg,
             "{\"model\": \"demo-mlp\", \"d_in\": %d, \"d_hidden\": %d, \"dropout\": %g, \"seed\": %lu, \"epochs\": %d}",
             DIN, HID, DROPOUT, seed, epochs);
    if ((rc = mr_params_save(&n->p, path, cfg, 1, e))) goto done;
    char *cfg_back = NULL;
    if ((rc = mr_params_load(&n2->p, path, &cfg_back, 1, e))) goto done;
    predict(n, xte, NTEST, pred);
    predict(n2, xte, NTEST, pred2);
    int same = memcmp(pred, pred2, NTEST * sizeof(double)) == 0 && cfg_back && strcmp(cfg_back, cfg) == 0;
    free(cfg_back);
    fprintf(log, "checkpoint %s written atomically and reloaded by name: predictions %s\n", path,
            same ? "bit-identical" : "DIFFER");
    if (!same) {
        rc = mr_fail(e, MR_EINVAL, "reloaded checkpoint gives different predictions");
        goto done;
    }
    uint64_t sh[1] = {NTEST};
    char pp[4096], yp[4096];
    snprintf(pp, sizeof pp, "%s/test_pred.npy", outdir);
    snprintf(yp, sizeof yp, "%s/test_true.npy", outdir);
    if ((rc = mr_npy_save(pp, MR_DT_F8, 1, sh, pred, e))) goto done;
    if ((rc = mr_npy_save(yp, MR_DT_F8, 1, sh, yte, e))) goto done;
    mr_metrics m;
    mr_metrics_mosi(pred, yte, NTEST, &m);
    fprintf(log, "test: MAE %.4f (predict-the-mean baseline %.4f), corr %.4f, Acc-7 %.4f, Acc-2 non0 %.4f / has0 %.4f, F1 non0 %.4f\n",
            m.mae, base, m.corr, m.acc7, m.acc2_non0, m.acc2_has0, m.f1_non0);
    fprintf(log, "predictions: %s (score them again with: mimrl metrics --pred %s --true %s)\n", pp, pp, yp);
    if (!(m.mae < base)) rc = mr_fail(e, MR_EINVAL, "the demo model did not beat the predict-the-mean baseline");
done:
    if (n) mr_params_free(&n->p);
    if (n2) mr_params_free(&n2->p);
    free(n);
    free(n2);
    free(xtr);
    free(ytr);
    free(xte);
    free(yte);
    free(pred);
    free(pred2);
    free(order);
    free(xb);
    gsl_rng_free(r_init);
    gsl_rng_free(r_data);
    gsl_rng_free(r_drop);
    gsl_rng_free(r_shuf);
    return rc;
}
