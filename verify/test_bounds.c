/* test_bounds.c — MI bounds on score matrices: values against naive
 * re-implementations written straight from the formulas (no stabilising
 * tricks, moderate inputs), gradients against finite differences of the
 * function autograd differentiates (js_fgan for the straight-through js and
 * smile), the log B ceiling of InfoNCE, and the baseline gradients. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "estimators/bounds.h"
#include "ref/core/gradcheck.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

/* ------------------------------------------------------- naive references */

/* The bounds' scratch for the largest B used here (64); nothing allocates inside. */
static double bw[5 * 64 * 64 + 64];

static double naive_lme_off(const double *S, size_t B) {
    double s = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) s += exp(S[i * B + j]);
    return log(s / (B * (B - 1.0)));
}

static double naive_mean_diag(const double *S, size_t B) {
    double s = 0;
    for (size_t i = 0; i < B; i++) s += S[i * B + i];
    return s / B;
}

static double naive(mr_bound b, const double *S, size_t B, const double *la, double tau, int per_row) {
    double md = naive_mean_diag(S, B), nn = B * (B - 1.0);
    switch (b) {
    case MR_BOUND_DV:
    case MR_BOUND_MINE: return md - naive_lme_off(S, B);
    case MR_BOUND_NWJ: {
        double s = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++)
                if (i != j) s += exp(S[i * B + j]);
        return md - exp(-1.0) * s / nn;
    }
    case MR_BOUND_TUBA: {
        double j = 0, s = 0;
        for (size_t i = 0; i < B; i++) {
            j += S[i * B + i] - la[i];
            for (size_t k = 0; k < B; k++)
                if (i != k) s += exp(S[i * B + k] - la[i]);
        }
        return 1 + j / B - s / nn;
    }
    case MR_BOUND_INFONCE: {
        double s = 0;
        for (size_t i = 0; i < B; i++) {
            double z = 0;
            for (size_t k = 0; k < B; k++) z += exp(S[i * B + k]);
            s += S[i * B + i] - log(z);
        }
        return log((double)B) + s / B;
    }
    case MR_BOUND_JS_FGAN: {
        double a = 0, c = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                if (i == j) a += -log1p(exp(-S[i * B + i]));
                else c += log1p(exp(S[i * B + j]));
            }
        return a / B - c / nn;
    }
    case MR_BOUND_JS: return naive(MR_BOUND_NWJ, S, B, la, tau, per_row);
    case MR_BOUND_SMILE: {
        double s = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++)
                if (i != j) s += exp(fmin(fmax(S[i * B + j], -tau), tau));
        return md - log(s / nn);
    }
    case MR_BOUND_INTERPOLATE: {
        double alpha = 1 / (1 + exp(-0.01));
        double ib[64 * 64];
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                double loo = 0;
                for (size_t k = 0; k < B; k++)
                    if (k != j) loo += exp(S[i * B + k]);
                loo /= (B - 1.0);
                ib[i * B + j] = log(alpha * loo + (1 - alpha) * exp(la[i]));
            }
        double marg = 0, joint = 0;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++)
                if (i != j) {
                    marg += exp(S[i * B + j] - (per_row ? ib[i * B + i] : ib[j * B + j]));
                    joint += (per_row ? S[i * B + i] : S[j * B + j]) - ib[i * B + j];
                }
        return 1 + joint / nn - marg / nn;
    }
    default: return NAN;
    }
}

/* --------------------------------------------------------------- fixtures */

typedef struct {
    mr_bound b;
    size_t B;
    double *S, *la;
    mr_bound_opts o;
    int loss;
} bctx;

static double bval(void *c_) {
    bctx *c = c_;
    return c->loss ? mr_bound_loss(c->b, c->S, c->B, c->la, &c->o, NULL, NULL, 0, bw)
                   : mr_bound_mi(c->b, c->S, c->B, c->la, &c->o, NULL, NULL, 0, bw);
}

static void fill_scores(double *S, size_t B, gsl_rng *r) {
    /* joint pairs scored higher, like a trained critic; |S| ≤ 3 */
    t_fill_uniform(S, B * B, -1.5, 1.5, r);
    for (size_t i = 0; i < B; i++) S[i * B + i] += 1.5;
}

Test(bounds, values_match_naive_formulas) {
    gsl_rng *r = t_rng(1);
    size_t sizes[3] = {2, 5, 16};
    for (int si = 0; si < 3; si++) {
        size_t B = sizes[si];
        double *S = t_alloc(B * B), *la = t_alloc(B);
        fill_scores(S, B, r);
        t_fill_uniform(la, B, -0.5, 0.5, r);
        for (int b = 0; b < MR_BOUND_COUNT; b++) {
            for (int per_row = 0; per_row < 2; per_row++) {
                if (per_row && b != MR_BOUND_INTERPOLATE) continue;
                mr_bound_opts o;
                mr_bound_opts_default(&o);
                o.interp_per_row = per_row;
                const double *lap = mr_bound_uses_baseline((mr_bound)b) ? la : NULL;
                double zero[16] = {0};
                double got = mr_bound_mi((mr_bound)b, S, B, lap, &o, NULL, NULL, 0, bw);
                double want = naive((mr_bound)b, S, B, lap ? la : zero, 1.0, per_row);
                cr_expect(fabs(got - want) <= T_MANY_OPS * fmax(1, fabs(want)), "%s (B=%zu, per_row=%d): %.17g vs naive %.17g",
                          mr_bound_name((mr_bound)b), B, per_row, got, want);
            }
        }
    }
    gsl_rng_free(r);
}

Test(bounds, smile_clip_is_configurable) {
    gsl_rng *r = t_rng(2);
    size_t B = 6;
    double *S = t_alloc(B * B);
    t_fill_uniform(S, B * B, -4, 4, r);
    mr_bound_opts o;
    mr_bound_opts_default(&o);
    cr_assert(o.smile_clip == 1.0, "official clip is 1");
    o.smile_clip = 5.0;
    double got = mr_bound_mi(MR_BOUND_SMILE, S, B, NULL, &o, NULL, NULL, 0, bw);
    double want = naive(MR_BOUND_SMILE, S, B, NULL, 5.0, 0);
    cr_assert(fabs(got - want) < T_MANY_OPS, "%.17g vs %.17g", got, want);
    gsl_rng_free(r);
}

/* Gradient of each bound's value (and loss) against finite differences. */
Test(bounds, gradients_of_every_bound) {
    gsl_rng *r = t_rng(3);
    size_t B = 5;
    for (int b = 0; b < MR_BOUND_COUNT; b++)
        for (int loss = 0; loss < 2; loss++)
            for (int per_row = 0; per_row < 2; per_row++) {
                if (per_row && b != MR_BOUND_INTERPOLATE) continue;
                bctx c;
                memset(&c, 0, sizeof c);
                c.b = (mr_bound)b;
                c.B = B;
                c.S = t_alloc(B * B);
                c.la = t_alloc(B);
                c.loss = loss;
                mr_bound_opts_default(&c.o);
                c.o.interp_per_row = per_row;
                fill_scores(c.S, B, r);
                /* keep SMILE's clamp kinks (±1) 2h away: entries in ±[1.02, 3] or |S| < 0.98 */
                for (size_t k = 0; k < B * B; k++)
                    if (fabs(fabs(c.S[k]) - 1.0) < 0.02) c.S[k] *= 1.1;
                t_fill_uniform(c.la, B, -0.5, 0.5, r);
                int base = mr_bound_uses_baseline(c.b);
                if (!base) c.la = NULL;
                double *dS = t_alloc(B * B), *dla = t_alloc(B);
                if (loss) mr_bound_loss(c.b, c.S, B, c.la, &c.o, dS, base ? dla : NULL, 1.0, bw);
                else mr_bound_mi(c.b, c.S, B, c.la, &c.o, dS, base ? dla : NULL, 1.0, bw);
                /* straight-through bounds: autograd differentiates js_fgan */
                bctx ref = c;
                if (c.b == MR_BOUND_JS || c.b == MR_BOUND_SMILE) ref.b = MR_BOUND_JS_FGAN;
                if (c.b == MR_BOUND_MINE && loss) continue; /* surrogate with a held constant: below */
                mr_gc_var v[2] = {{"S", c.S, dS, B * B}, {"log_a", base ? c.la : NULL, dla, B}};
                mr_gc_result res;
                int fails = mr_gradcheck(bval, &ref, v, base ? 2 : 1, 0, &res);
                cr_expect(fails == 0, "%s %s (per_row=%d): %d failures, max err %g", mr_bound_name(c.b),
                          loss ? "loss" : "value", per_row, fails, res.max_err);
                /* the diagonal of logmeanexp_nodiag gets exactly zero gradient */
            }
    gsl_rng_free(r);
}

typedef struct {
    double *S, m;
    size_t B;
} minectx;

/* MINE surrogate with m frozen at its value at the base point */
static double mine_frozen(void *c_) {
    minectx *c = c_;
    size_t B = c->B;
    double md = naive_mean_diag(c->S, B), e = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) e += exp(c->S[i * B + j]);
    return md - (1 / c->m) * e / (B * B);
}

Test(bounds, mine_surrogate_faithful) {
    gsl_rng *r = t_rng(4);
    size_t B = 6;
    minectx c = {t_alloc(B * B), 0, B};
    fill_scores(c.S, B, r);
    double e = 0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) e += exp(c.S[i * B + j]);
    c.m = 0.99 + 0.01 * e / (B * B);
    double *dS = t_alloc(B * B);
    double loss = mr_bound_loss(MR_BOUND_MINE, c.S, B, NULL, NULL, dS, NULL, 1.0, bw);
    /* O-16: the loss is the surrogate itself, not its negation */
    cr_assert(fabs(loss - mine_frozen(&c)) < MR_TOL_CLOSED, "%.17g vs %.17g", loss, mine_frozen(&c));
    mr_gc_var v = {"S", c.S, dS, B * B};
    cr_assert(mr_gradcheck(mine_frozen, &c, &v, 1, 0, NULL) == 0);
    /* its reported value is dv's */
    double I = mr_bound_mi(MR_BOUND_MINE, c.S, B, NULL, NULL, NULL, NULL, 0, bw);
    cr_assert(I == mr_bound_mi(MR_BOUND_DV, c.S, B, NULL, NULL, NULL, NULL, 0, bw));
    gsl_rng_free(r);
}

Test(bounds, loss_is_minus_value_except_mine) {
    gsl_rng *r = t_rng(5);
    size_t B = 7;
    double *S = t_alloc(B * B), *d1 = t_alloc(B * B), *d2 = t_alloc(B * B);
    fill_scores(S, B, r);
    for (int b = 0; b < MR_BOUND_COUNT; b++) {
        if (b == MR_BOUND_MINE) continue;
        memset(d1, 0, B * B * sizeof *d1);
        memset(d2, 0, B * B * sizeof *d2);
        double I = mr_bound_mi((mr_bound)b, S, B, NULL, NULL, d1, NULL, 1.0, bw);
        double L = mr_bound_loss((mr_bound)b, S, B, NULL, NULL, d2, NULL, 1.0, bw);
        cr_expect(L == -I, "%s", mr_bound_name((mr_bound)b));
        for (size_t k = 0; k < B * B; k++) cr_expect(d2[k] == -d1[k], "%s: gradient sign", mr_bound_name((mr_bound)b));
    }
    gsl_rng_free(r);
}

Test(bounds, infonce_never_exceeds_log_B) {
    gsl_rng *r = t_rng(6);
    for (size_t B = 2; B <= 64; B *= 2) {
        double *S = t_alloc(B * B);
        for (int rep = 0; rep < 20; rep++) {
            t_fill_uniform(S, B * B, -30, 30, r);
            for (size_t i = 0; i < B; i++) S[i * B + i] = 40 + 10 * gsl_rng_uniform(r); /* a near-perfect critic */
            double I = mr_bound_mi(MR_BOUND_INFONCE, S, B, NULL, NULL, NULL, NULL, 0, bw);
            cr_assert(I <= log((double)B), "B=%zu: %.17g > log B", B, I);
        }
        /* and reaches it in the limit: exp(−40+30)·B ≈ 3e-3 below */
        double I = mr_bound_mi(MR_BOUND_INFONCE, S, B, NULL, NULL, NULL, NULL, 0, bw);
        cr_assert(log((double)B) - I < 1e-2 * B, "B=%zu: %g", B, I);
    }
    gsl_rng_free(r);
}

Test(bounds, offdiagonal_logmeanexp_ignores_diagonal) {
    size_t B = 4;
    double S[16], dS[16] = {0};
    for (int k = 0; k < 16; k++) S[k] = 0.1 * k;
    double a = mr_logmeanexp_nodiag(S, B, dS, 1.0);
    for (size_t i = 0; i < B; i++) {
        S[i * B + i] = 1e300; /* anything on the diagonal */
        cr_assert(dS[i * B + i] == 0.0, "diagonal gradient must be exactly 0");
    }
    cr_assert(mr_logmeanexp_nodiag(S, B, NULL, 0) == a);
    double sum = 0;
    for (int k = 0; k < 16; k++) sum += dS[k];
    cr_assert(fabs(sum - 1) < T_FEW_OPS, "off-diagonal softmax sums to 1");
}

Test(bounds, degenerate_batch_is_nan_not_a_trap) {
    double S[1] = {0.5}, d[1] = {0};
    cr_assert(isnan(mr_bound_mi(MR_BOUND_INFONCE, S, 1, NULL, NULL, d, NULL, 1, bw)));
    cr_assert(d[0] == 0.0);
}

Test(bounds, names) {
    for (int b = 0; b < MR_BOUND_COUNT; b++) cr_assert(mr_bound_parse(mr_bound_name((mr_bound)b)) == b);
    cr_assert(mr_bound_parse("cpc") == -1);
}

/* Without a work buffer the bounds that need one refuse (NaN, no gradient)
 * instead of allocating. */
Test(bounds, work_required) {
    size_t B = 4;
    double S[16] = {0}, dS[16] = {0};
    cr_assert(isnan(mr_bound_mi(MR_BOUND_NWJ, S, B, NULL, NULL, dS, NULL, 1.0, NULL)));
    for (int i = 0; i < 16; i++) cr_assert(dS[i] == 0.0);
    cr_assert(!isnan(mr_bound_mi(MR_BOUND_NWJ, S, B, NULL, NULL, dS, NULL, 1.0, bw)));
    cr_assert(!isnan(mr_bound_mi(MR_BOUND_INFONCE, S, B, NULL, NULL, NULL, NULL, 0.0, NULL)));
}
