/* test_encoders.c — the audio/visual tail, pooling (official unmasked and
 * masked), pad/crop and stacking: values by hand and finite-difference
 * gradients. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ref/model/encoders.h"
#include "ref/core/gradcheck.h"
#include "ref/nn/layers.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

typedef struct {
    size_t N, D;
    double *x, *g, *b, *mask, *ln, *mean, *rstd, *relu, *y, *w;
} tctx;

static double tloss(void *c_) {
    tctx *c = c_;
    mr_av_tail_forward(c->x, c->N, c->D, c->g, c->b, c->mask, c->ln, c->mean, c->rstd, c->relu, c->y);
    double s = 0;
    for (size_t i = 0; i < c->N * c->D; i++) s += c->y[i] * c->w[i];
    return s;
}

Test(encoders, av_tail_gradient_and_padding_value) {
    gsl_rng *r = t_rng(1);
    size_t N = 4, D = 5;
    tctx c = {N, D, t_alloc(N * D), t_alloc(D), t_alloc(D), t_alloc(N * D), t_alloc(N * D), t_alloc(N), t_alloc(N),
              t_alloc(N * D), t_alloc(N * D), t_alloc(N * D)};
    t_fill_uniform(c.x, N * D, -1, 1, r);
    t_fill_uniform(c.g, D, 0.5, 1.5, r);
    t_fill_uniform(c.b, D, -1, 1, r);
    t_fill_uniform(c.w, N * D, -1, 1, r);
    mr_dropout_mask(c.mask, N * D, 0.25, r);
    tloss(&c);
    /* keep the ReLU kink 2h away: resample rows whose LN output is near 0 */
    for (int tries = 0; tries < 50; tries++) {
        int near = 0;
        for (size_t i = 0; i < N * D; i++) near |= fabs(c.ln[i]) < 0.02;
        if (!near) break;
        t_fill_uniform(c.x, N * D, -1, 1, r);
        tloss(&c);
    }
    double *dx = t_alloc(N * D), *dg = t_alloc(D), *db = t_alloc(D), *sc = t_alloc(2 * N * D);
    mr_av_tail_backward(c.w, c.x, N, D, c.g, c.mask, c.ln, c.mean, c.rstd, c.relu, dx, dg, db, sc);
    mr_gc_var v[3] = {{"x", c.x, dx, N * D}, {"ln.weight", c.g, dg, D}, {"ln.bias", c.b, db, D}};
    cr_assert(mr_gradcheck(tloss, &c, v, 3, 0, NULL) == 0);
    /* an all-zero frame (RNN padding) comes out as ReLU(β) (times the mask) */
    memset(c.x, 0, D * sizeof(double));
    for (size_t i = 0; i < N * D; i++) c.mask[i] = 1;
    tloss(&c);
    for (size_t k = 0; k < D; k++) cr_assert(c.y[k] == (c.b[k] > 0 ? c.b[k] : 0.0), "padding → ReLU(β)");
    gsl_rng_free(r);
}

typedef struct {
    size_t B, L, D;
    const int *len;
    double *x, *out, *w;
} pctx;

static double ploss(void *c_) {
    pctx *c = c_;
    mr_pool_mean_forward(c->x, c->B, c->L, c->D, c->len, c->out);
    double s = 0;
    for (size_t i = 0; i < c->B * c->D; i++) s += c->out[i] * c->w[i];
    return s;
}

Test(encoders, pooling_official_and_masked) {
    gsl_rng *r = t_rng(2);
    int len[2] = {2, 3};
    for (int masked = 0; masked < 2; masked++) {
        pctx c = {2, 4, 3, masked ? len : NULL, t_alloc(24), t_alloc(6), t_alloc(6)};
        t_fill_uniform(c.x, 24, -1, 1, r);
        t_fill_uniform(c.w, 6, -1, 1, r);
        ploss(&c);
        /* sample 0, feature 1: official divides by L = 4 over all frames, masked by 2 */
        double s = 0;
        for (int t = 0; t < (masked ? 2 : 4); t++) s += c.x[t * 3 + 1];
        cr_assert(fabs(c.out[1] - s / (masked ? 2 : 4)) < T_FEW_OPS);
        double *dx = t_alloc(24);
        mr_pool_mean_backward(c.w, 2, 4, 3, c.len, dx);
        mr_gc_var v = {"x", c.x, dx, 24};
        cr_assert(mr_gradcheck(ploss, &c, &v, 1, 0, NULL) == 0);
        if (masked) cr_assert(dx[3 * 3] == 0.0, "masked mean: no gradient past the length");
    }
    gsl_rng_free(r);
}

typedef struct {
    double *m[3];
    size_t Ls[3], B, T, D;
    double *X0, *w;
} sctx;

static double sloss(void *c_) {
    sctx *c = c_;
    const double *mods[3] = {c->m[0], c->m[1], c->m[2]};
    mr_stack_forward(mods, c->Ls, c->B, c->T, c->D, c->X0);
    double s = 0;
    for (size_t i = 0; i < c->B * c->T * 3 * c->D; i++) s += c->X0[i] * c->w[i];
    return s;
}

Test(encoders, pad_crop_and_stack) {
    gsl_rng *r = t_rng(3);
    /* T = 4: text exactly 4, audio cropped from 6, visual padded from 2 */
    sctx c = {{t_alloc(2 * 4 * 2), t_alloc(2 * 6 * 2), t_alloc(2 * 2 * 2)}, {4, 6, 2}, 2, 4, 2, t_alloc(2 * 4 * 3 * 2), t_alloc(48)};
    for (int m = 0; m < 3; m++) t_fill_uniform(c.m[m], 2 * c.Ls[m] * 2, -1, 1, r);
    t_fill_uniform(c.w, 48, -1, 1, r);
    sloss(&c);
    /* X0[b=1, t=3, audio] = audio[1, 3] (first T frames kept); visual past 2 is exactly 0 */
    cr_assert(c.X0[((1 * 4 + 3) * 3 + 1) * 2 + 0] == c.m[1][(1 * 6 + 3) * 2 + 0]);
    cr_assert(c.X0[((1 * 4 + 3) * 3 + 2) * 2 + 1] == 0.0);
    cr_assert(c.X0[((0 * 4 + 1) * 3 + 0) * 2 + 1] == c.m[0][(0 * 4 + 1) * 2 + 1], "modality order: text first");
    double *d[3] = {t_alloc(16), t_alloc(24), t_alloc(8)};
    mr_stack_backward(c.w, 2, 4, 2, d, c.Ls);
    mr_gc_var v[3] = {{"t", c.m[0], d[0], 16}, {"a", c.m[1], d[1], 24}, {"v", c.m[2], d[2], 8}};
    cr_assert(mr_gradcheck(sloss, &c, v, 3, 0, NULL) == 0);
    cr_assert(d[1][(0 * 6 + 5) * 2] == 0.0, "cropped frames get no gradient");
    gsl_rng_free(r);
}
