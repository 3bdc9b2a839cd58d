/* test_gradcheck.c — the checker itself must reject wrong gradients: a
 * gradient check that cannot fail proves nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>

#include "ref/core/gradcheck.h"
#include "verify/helpers.h"

typedef struct {
    double x[3];
} qctx;

/* f(x) = x0² x1 + sin(x2) + exp(x0 x2) */
static double qf(void *c_) {
    qctx *c = c_;
    return c->x[0] * c->x[0] * c->x[1] + sin(c->x[2]) + exp(c->x[0] * c->x[2]);
}

static void qgrad(const double *x, double *g) {
    g[0] = 2 * x[0] * x[1] + x[2] * exp(x[0] * x[2]);
    g[1] = x[0] * x[0];
    g[2] = cos(x[2]) + x[0] * exp(x[0] * x[2]);
}

Test(gradcheck, accepts_correct_gradient) {
    qctx c = {{0.7, -1.3, 0.4}};
    double g[3];
    qgrad(c.x, g);
    mr_gc_var v = {"x", c.x, g, 3};
    mr_gc_result r;
    cr_assert(mr_gradcheck(qf, &c, &v, 1, 0, &r) == 0);
    cr_assert(r.checked == 3);
    cr_assert(mr_gradcheck_dir(qf, &c, &v, 1, 0, 4, 7, &r) == 0);
}

Test(gradcheck, rejects_wrong_gradients) {
    qctx c = {{0.7, -1.3, 0.4}};
    double g[3];
    /* relative error of 1e-5 in one entry: 100× the 1e-7 relative bound */
    qgrad(c.x, g);
    g[1] *= 1 + 1e-5;
    mr_gc_var v = {"x", c.x, g, 3};
    cr_assert(mr_gradcheck(qf, &c, &v, 1, 0, NULL) == 1);
    /* sign error */
    qgrad(c.x, g);
    g[2] = -g[2];
    cr_assert(mr_gradcheck(qf, &c, &v, 1, 0, NULL) >= 1);
    cr_assert(mr_gradcheck_dir(qf, &c, &v, 1, 0, 4, 7, NULL) >= 1);
    /* all-zero backward */
    g[0] = g[1] = g[2] = 0;
    cr_assert(mr_gradcheck(qf, &c, &v, 1, 0, NULL) >= 1);
    /* NaN gradient */
    t_traps_off();
    qgrad(c.x, g);
    g[0] = NAN;
    cr_assert(mr_gradcheck(qf, &c, &v, 1, 0, NULL) >= 1);
    t_traps_on();
}

Test(gradcheck, restores_inputs) {
    qctx c = {{0.7, -1.3, 0.4}};
    double g[3];
    qgrad(c.x, g);
    mr_gc_var v = {"x", c.x, g, 3};
    mr_gradcheck(qf, &c, &v, 1, 0, NULL);
    mr_gradcheck_dir(qf, &c, &v, 1, 0, 3, 1, NULL);
    cr_assert(c.x[0] == 0.7 && c.x[1] == -1.3 && c.x[2] == 0.4);
}

Test(traps, invalid_operation_traps_in_tests, .signal = SIGFPE) {
    volatile double z = 0.0;
    volatile double r = z / z;
    (void)r;
}
