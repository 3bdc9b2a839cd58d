/* test_losses.c — values against closed forms and finite-difference
 * gradients of every loss in ref/nn/losses.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ref/nn/losses.h"
#include "ref/core/gradcheck.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

typedef double (*loss_fn)(const double *, const double *, size_t, double *, double);

typedef struct {
    loss_fn f;
    size_t n;
    double *p, *y;
} lctx;

static double lwrap(void *c_) {
    lctx *c = c_;
    return c->f(c->p, c->y, c->n, NULL, 0.0);
}

static void check_loss(const char *name, loss_fn f, double plo, double phi, double ylo,
                       double yhi, double scale_up, unsigned long seed) {
    gsl_rng *r = t_rng(seed);
    size_t n = 7;
    lctx c = {f, n, t_alloc(n), t_alloc(n)};
    t_fill_uniform(c.p, n, plo, phi, r);
    t_fill_uniform(c.y, n, ylo, yhi, r);
    double *dp = t_alloc(n);
    f(c.p, c.y, n, dp, scale_up);
    /* scale_up multiplies the gradient: divide back before comparing. */
    for (size_t i = 0; i < n; i++) dp[i] /= scale_up;
    mr_gc_var v = {name, c.p, dp, n};
    mr_gc_result res;
    int fails = mr_gradcheck(lwrap, &c, &v, 1, 0, &res);
    cr_assert(fails == 0, "%s: %d failures (max err %g)", name, fails, res.max_err);
    /* accumulation */
    double *dp2 = t_alloc(n);
    f(c.p, c.y, n, dp2, 1.0);
    f(c.p, c.y, n, dp2, 1.0);
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(dp2[i] - 2 * dp[i]) <= 8 * DBL_EPSILON * fabs(dp[i]) + 1e-300,
                  "%s: gradient does not accumulate", name);
    gsl_rng_free(r);
}

Test(losses, gradient_mae) { check_loss("mae", mr_loss_mae, -3, 3, -3, 3, 1.0, 1); }
Test(losses, gradient_mse) { check_loss("mse", mr_loss_mse, -3, 3, -3, 3, 0.5, 2); }
Test(losses, gradient_rmse) { check_loss("rmse", mr_loss_rmse, -3, 3, -3, 3, 2.0, 3); }
Test(losses, gradient_simse) { check_loss("simse", mr_loss_simse, -3, 3, -3, 3, 1.0, 4); }
Test(losses, gradient_ccc) { check_loss("ccc", mr_loss_ccc, -1, 1, 0, 1, 1.0, 5); }
Test(losses, gradient_bce) { check_loss("bce", mr_loss_bce, 0.05, 0.95, 0, 1, 1.0, 6); }
Test(losses, gradient_bce_logits) { check_loss("bce_logits", mr_loss_bce_logits, -5, 5, 0, 1, 1.0, 7); }

Test(losses, values_closed_form) {
    double p[4] = {1, 2, 3, 4}, y[4] = {2, 2, 1, 8};
    cr_assert(fabs(mr_loss_mae(p, y, 4, NULL, 0) - (1 + 0 + 2 + 4) / 4.0) < T_FEW_OPS);
    cr_assert(fabs(mr_loss_mse(p, y, 4, NULL, 0) - (1 + 0 + 4 + 16) / 4.0) < T_FEW_OPS);
    cr_assert(fabs(mr_loss_rmse(p, y, 4, NULL, 0) - sqrt(21 / 4.0)) < T_FEW_OPS);
    /* Σ(y−p) = 1+0−2+4 = 3 → 9/16 */
    cr_assert(fabs(mr_loss_simse(p, y, 4, NULL, 0) - 9 / 16.0) < T_FEW_OPS);
    /* CCC: μp = 2.5, μy = 3.25; cov = mean((p−μp)(y−μy)); by hand:
     * p−μp = −1.5 −.5 .5 1.5; y−μy = −1.25 −1.25 −2.25 4.75
     * cov = (1.875 + .625 − 1.125 + 7.125)/4 = 2.125; vp = 1.25;
     * vy = (1.5625+1.5625+5.0625+22.5625)/4 = 7.6875; (μy−μp)² = .5625 */
    double ccc = 1 - 2 * 2.125 / (7.6875 + 1.25 + 0.5625 + 1e-10);
    cr_assert(fabs(mr_loss_ccc(p, y, 4, NULL, 0) - ccc) < T_FEW_OPS);
    /* perfect agreement: CCC loss = 1 − 2v/(2v + 1e-10) */
    cr_assert(fabs(mr_loss_ccc(p, p, 4, NULL, 0) - (1 - 2.5 / (2.5 + 1e-10))) < T_FEW_OPS);
}

Test(losses, rmse_at_zero_has_zero_gradient) {
    double p[3] = {1, 2, 3}, d[3] = {0};
    cr_assert(mr_loss_rmse(p, p, 3, d, 1.0) == 0.0);
    for (int i = 0; i < 3; i++) cr_assert(d[i] == 0.0);
}

Test(losses, bce_log_clamp_like_pytorch) {
    double p[2] = {0.0, 1.0}, t[2] = {1.0, 1.0}, d[2] = {0};
    /* −(1·max(log 0, −100) + 1·log 1)/2 = 50 */
    cr_assert(mr_loss_bce(p, t, 2, d, 1.0) == 50.0);
    /* PyTorch backward: (p − t)/max(p(1−p), 1e-12)/n */
    cr_assert(d[0] == (0.0 - 1.0) / 1e-12 / 2);
    cr_assert(d[1] == 0.0);
    double q = 0.25, tt = 0.0;
    cr_assert(fabs(mr_loss_bce(&q, &tt, 1, NULL, 0) + log(0.75)) < T_FEW_OPS);
}

Test(losses, bce_logits_stable_and_consistent) {
    double x[4] = {-800, -3, 2, 800}, t[4] = {0, 1, 0.3, 1};
    double l = mr_loss_bce_logits(x, t, 4, NULL, 0);
    /* log(1+e^{-x}) with x = −800 → 800; (1−t)x = −800: term 0. x=800,t=1: 0.
     * x=−3,t=1: log(1+e^3). x=2,t=.3: .7·2 + log(1+e^{−2}) */
    double want = (0 + log1p(exp(3.0)) + 0.7 * 2 + log1p(exp(-2.0)) + 0) / 4;
    cr_assert(fabs(l - want) < T_MANY_OPS, "%.17g vs %.17g", l, want);
}

typedef struct {
    size_t B, C;
    double *z;
    int64_t *t;
} cectx;

static double cewrap(void *c_) {
    cectx *c = c_;
    return mr_loss_ce(c->z, c->t, c->B, c->C, NULL, 0);
}

Test(losses, gradient_and_value_ce) {
    gsl_rng *r = t_rng(8);
    int64_t t[3] = {0, 2, 1};
    cectx c = {3, 4, t_alloc(12), t};
    t_fill_uniform(c.z, 12, -3, 3, r);
    double *d = t_alloc(12);
    mr_loss_ce(c.z, c.t, 3, 4, d, 1.0);
    mr_gc_var v = {"logits", c.z, d, 12};
    cr_assert(mr_gradcheck(cewrap, &c, &v, 1, 0, NULL) == 0);
    double want = 0;
    for (int b = 0; b < 3; b++) {
        double s = 0;
        for (int k = 0; k < 4; k++) s += exp(c.z[b * 4 + k]);
        want += -log(exp(c.z[b * 4 + t[b]]) / s);
    }
    cr_assert(fabs(cewrap(&c) - want / 3) < MR_TOL_CLOSED);
    gsl_rng_free(r);
}
