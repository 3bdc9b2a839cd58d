/* test_layers.c — values and finite-difference gradients of ref/nn/layers.c.
 *
 * Every layer is checked through a "fake loss" L = Σ out ⊙ w with a fixed
 * random w (llm.c's layernorm tutorial trick): the backward called with
 * dout = w must give ∂L/∂(inputs, parameters), which mr_gradcheck compares
 * with finite differences (tolerances derived in verify/tolerance.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ref/nn/layers.h"
#include "ref/core/gradcheck.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------------ linear */

typedef struct {
    size_t N, I, O;
    double *inp, *w, *b, *out, *wout;
    int bias;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    mr_linear_forward(c->out, c->inp, c->w, c->bias ? c->b : NULL, c->N, c->I, c->O);
    return dot(c->out, c->wout, c->N * c->O);
}

static void check_linear(size_t N, size_t I, size_t O, int bias, unsigned long seed) {
    gsl_rng *r = t_rng(seed);
    lin_ctx c = {N, I, O, t_alloc(N * I), t_alloc(O * I), t_alloc(O), t_alloc(N * O),
                 t_alloc(N * O), bias};
    t_fill_uniform(c.inp, N * I, -1, 1, r);
    t_fill_uniform(c.w, O * I, -1, 1, r);
    t_fill_uniform(c.b, O, -1, 1, r);
    t_fill_uniform(c.wout, N * O, -1, 1, r);
    double *dinp = t_alloc(N * I), *dw = t_alloc(O * I), *db = t_alloc(O);
    lin_loss(&c);
    mr_linear_backward(dinp, dw, db, c.wout, c.inp, c.w, N, I, O);
    mr_gc_var vars[3] = {{"inp", c.inp, dinp, N * I}, {"w", c.w, dw, O * I}, {"b", c.b, db, O}};
    mr_gc_result res;
    int fails = mr_gradcheck(lin_loss, &c, vars, bias ? 3 : 2, 0, &res);
    cr_assert(fails == 0, "linear N=%zu I=%zu O=%zu bias=%d: %d failures (max err %g)", N, I, O,
              bias, fails, res.max_err);
    /* Accumulation: a second backward doubles every gradient exactly. */
    double *dinp2 = t_alloc(N * I);
    memcpy(dinp2, dinp, N * I * sizeof *dinp);
    mr_linear_backward(dinp2, NULL, NULL, c.wout, c.inp, c.w, N, I, O);
    for (size_t i = 0; i < N * I; i++)
        cr_assert(fabs(dinp2[i] - 2 * dinp[i]) <= 4 * DBL_EPSILON * fabs(dinp[i]),
                  "linear backward does not accumulate at %zu", i);
    gsl_rng_free(r);
}

Test(linear, gradient_with_bias) { check_linear(3, 4, 5, 1, 1); }
Test(linear, gradient_without_bias) { check_linear(2, 7, 3, 0, 2); }
Test(linear, gradient_batch_one_odd_sizes) { check_linear(1, 5, 1, 1, 3); }

Test(linear, forward_matches_definition) {
    double inp[2 * 3] = {1, 2, 3, -1, 0.5, 4}, w[2 * 3] = {0.1, 0.2, 0.3, -1, 1, 2}, b[2] = {5, -5};
    double out[4];
    mr_linear_forward(out, inp, w, b, 2, 3, 2);
    double want[4] = {1 * 0.1 + 2 * 0.2 + 3 * 0.3 + 5, -1 + 2 + 6 - 5, -0.1 + 0.1 + 1.2 + 5,
                      1 + 0.5 + 8 - 5};
    for (int i = 0; i < 4; i++) cr_assert(fabs(out[i] - want[i]) < MR_TOL_CLOSED, "out[%d]=%g want %g", i, out[i], want[i]);
}

/* --------------------------------------------------------------- layernorm */

typedef struct {
    size_t N, C;
    double eps;
    double *inp, *g, *b, *out, *mean, *rstd, *wout;
} ln_ctx;

static double ln_loss(void *p) {
    ln_ctx *c = p;
    mr_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->g, c->b, c->N, c->C, c->eps);
    return dot(c->out, c->wout, c->N * c->C);
}

static void check_layernorm(size_t N, size_t C, double eps, unsigned long seed) {
    gsl_rng *r = t_rng(seed);
    ln_ctx c = {N, C, eps, t_alloc(N * C), t_alloc(C), t_alloc(C), t_alloc(N * C), t_alloc(N),
                t_alloc(N), t_alloc(N * C)};
    t_fill_uniform(c.inp, N * C, -2, 2, r);
    t_fill_uniform(c.g, C, 0.5, 1.5, r);
    t_fill_uniform(c.b, C, -1, 1, r);
    t_fill_uniform(c.wout, N * C, -1, 1, r);
    double *dinp = t_alloc(N * C), *dg = t_alloc(C), *db = t_alloc(C);
    ln_loss(&c);
    mr_layernorm_backward(dinp, dg, db, c.wout, c.inp, c.g, c.mean, c.rstd, N, C);
    mr_gc_var vars[3] = {{"inp", c.inp, dinp, N * C}, {"gamma", c.g, dg, C}, {"beta", c.b, db, C}};
    mr_gc_result res;
    int fails = mr_gradcheck(ln_loss, &c, vars, 3, 0, &res);
    cr_assert(fails == 0, "layernorm N=%zu C=%zu: %d failures (max err %g)", N, C, fails, res.max_err);
    gsl_rng_free(r);
}

Test(layernorm, gradient_eps_1e6) { check_layernorm(3, 5, 1e-6, 11); }
Test(layernorm, gradient_eps_1e12_three_entries) { check_layernorm(4, 3, 1e-12, 12); }
Test(layernorm, gradient_eps_1e5_single_row) { check_layernorm(1, 7, 1e-5, 13); }

Test(layernorm, zero_vector_gives_beta) {
    double x[4] = {0}, g[4] = {2, 2, 2, 2}, b[4] = {0.1, -0.2, 0.3, 0.4}, y[4], m, s;
    mr_layernorm_forward(y, &m, &s, x, g, b, 1, 4, 1e-6);
    for (int i = 0; i < 4; i++) cr_assert(y[i] == b[i], "LN(0) must be beta exactly");
}

Test(layernorm, normalises_to_unit_variance) {
    double x[5] = {1, 2, 3, 4, 10}, y[5], m, s;
    mr_layernorm_forward(y, &m, &s, x, NULL, NULL, 1, 5, 0.0);
    double mu = 0, v = 0;
    for (int i = 0; i < 5; i++) mu += y[i];
    mu /= 5;
    for (int i = 0; i < 5; i++) v += (y[i] - mu) * (y[i] - mu);
    v /= 5;
    cr_assert(fabs(mu) < T_FEW_OPS && fabs(v - 1) < MR_TOL_CLOSED, "mean %g var %g", mu, v);
    cr_assert(fabs(m - 4.0) < T_FEW_OPS);
}

/* ----------------------------------------------------------------- dropout */

typedef struct {
    size_t n;
    double *inp, *mask, *out, *wout;
} do_ctx;

static double do_loss(void *p) {
    do_ctx *c = p;
    mr_dropout_forward(c->out, c->inp, c->mask, c->n);
    return dot(c->out, c->wout, c->n);
}

Test(dropout, gradient_with_fixed_mask) {
    gsl_rng *r = t_rng(21);
    size_t n = 40;
    do_ctx c = {n, t_alloc(n), t_alloc(n), t_alloc(n), t_alloc(n)};
    mr_dropout_mask(c.mask, n, 0.3, r);
    t_fill_uniform(c.inp, n, -1, 1, r);
    t_fill_uniform(c.wout, n, -1, 1, r);
    double *dinp = t_alloc(n);
    mr_dropout_backward(dinp, c.wout, c.mask, n);
    mr_gc_var v = {"inp", c.inp, dinp, n};
    cr_assert(mr_gradcheck(do_loss, &c, &v, 1, 0, NULL) == 0);
    gsl_rng_free(r);
}

Test(dropout, mask_values_and_rate) {
    gsl_rng *r = t_rng(22);
    size_t n = 100000;
    double *m = t_alloc(n), p = 0.3;
    mr_dropout_mask(m, n, p, r);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(m[i] == 0.0 || m[i] == 1.0 / (1.0 - p), "mask value %g", m[i]);
        zeros += m[i] == 0.0;
    }
    /* Binomial(n, p): sd = sqrt(n p (1-p)) ≈ 145; accept ±5 sd. */
    double sd = sqrt(n * p * (1 - p));
    cr_assert(fabs((double)zeros - n * p) < 5 * sd, "zeros %zu", zeros);
    mr_dropout_mask(m, 10, 0.0, r);
    for (int i = 0; i < 10; i++) cr_assert(m[i] == 1.0);
    mr_dropout_mask(m, 10, 1.0, r);
    for (int i = 0; i < 10; i++) cr_assert(m[i] == 0.0);
    gsl_rng_free(r);
}

Test(dropout, same_seed_same_mask) {
    gsl_rng *a = t_rng(5), *b = t_rng(5);
    double ma[64], mb[64];
    mr_dropout_mask(ma, 64, 0.5, a);
    mr_dropout_mask(mb, 64, 0.5, b);
    cr_assert(memcmp(ma, mb, sizeof ma) == 0);
    gsl_rng_free(a);
    gsl_rng_free(b);
}

/* ------------------------------------------------------------- activations */

typedef struct {
    mr_act a;
    size_t n;
    double *inp, *out, *wout;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    mr_act_forward(c->a, c->out, c->inp, c->n);
    return dot(c->out, c->wout, c->n);
}

Test(activation, gradient_every_activation) {
    gsl_rng *r = t_rng(31);
    size_t n = 24;
    act_ctx c = {0, n, t_alloc(n), t_alloc(n), t_alloc(n)};
    double *dinp = t_alloc(n);
    for (int a = 0; a < MR_ACT_COUNT; a++) {
        c.a = (mr_act)a;
        /* Inputs in ±[0.01, 3] avoid the kinks at 0 by more than 2h; for
         * hardtanh (±1) and hardshrink (±0.5) resample near those. */
        for (size_t i = 0; i < n; i++) {
            double x;
            do {
                t_fill_away(&x, 1, 0.01, 3.0, r);
            } while (fabs(fabs(x) - 1.0) < 0.01 || fabs(fabs(x) - 0.5) < 0.01);
            c.inp[i] = x;
        }
        c.inp[0] = 25.0; /* exercises softplus's threshold branch */
        c.inp[1] = -30.0;
        t_fill_uniform(c.wout, n, -1, 1, r);
        memset(dinp, 0, n * sizeof *dinp);
        act_loss(&c);
        mr_act_backward(c.a, dinp, c.wout, c.inp, c.out, n);
        mr_gc_var v = {mr_act_name(c.a), c.inp, dinp, n};
        mr_gc_result res;
        int fails = mr_gradcheck(act_loss, &c, &v, 1, 0, &res);
        cr_expect(fails == 0, "activation %s: %d failures (max err %g)", mr_act_name(c.a), fails, res.max_err);
    }
    gsl_rng_free(r);
}

Test(activation, values_at_known_points) {
    struct { mr_act a; double x, y; } cases[] = {
        {MR_ACT_RELU, -2, 0}, {MR_ACT_RELU, 2, 2},
        {MR_ACT_GELU, 1, 0.8413447460685429}, /* Φ(1) */
        {MR_ACT_GELU, -1, -0.15865525393145707},
        {MR_ACT_TANH, 0.5, 0.46211715726000974},
        {MR_ACT_SIGMOID, 0, 0.5}, {MR_ACT_SIGMOID, -800, 0}, {MR_ACT_SIGMOID, 2, 0.8807970779778823},
        {MR_ACT_ELU, -1, -0.6321205588285577}, {MR_ACT_ELU, 3, 3},
        {MR_ACT_LEAKYRELU, -2, -0.02}, {MR_ACT_HARDTANH, 3, 1}, {MR_ACT_HARDTANH, -0.3, -0.3},
        {MR_ACT_HARDSHRINK, 0.5, 0}, {MR_ACT_HARDSHRINK, -0.6, -0.6},
        {MR_ACT_RRELU, -48, -11}, /* slope 11/48 */
        {MR_ACT_SOFTPLUS, 0, 0.6931471805599453}, {MR_ACT_SOFTPLUS, 21, 21},
        {MR_ACT_SOFTPLUS, 20, 20.000000002061153}, {MR_ACT_SOFTPLUS, -40, 4.248354255291589e-18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double y;
        mr_act_forward(cases[i].a, &y, &cases[i].x, 1);
        cr_expect(fabs(y - cases[i].y) <= T_REL_FEW * fabs(cases[i].y),
                  "%s(%g) = %.17g, want %.17g", mr_act_name(cases[i].a), cases[i].x, y, cases[i].y);
    }
}

Test(activation, kink_gradients_follow_pytorch) {
    double x, y, d;
    struct { mr_act a; double x, d; } cases[] = {
        {MR_ACT_RELU, 0, 0}, {MR_ACT_LEAKYRELU, 0, 0.01}, {MR_ACT_RRELU, 0, 11.0 / 48},
        {MR_ACT_HARDTANH, 1, 0}, {MR_ACT_HARDTANH, -1, 0}, {MR_ACT_HARDSHRINK, 0.5, 0},
        {MR_ACT_ELU, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        x = cases[i].x;
        d = 0;
        double one = 1;
        mr_act_forward(cases[i].a, &y, &x, 1);
        mr_act_backward(cases[i].a, &d, &one, &x, &y, 1);
        cr_expect(d == cases[i].d, "%s'(%g) = %g, want %g", mr_act_name(cases[i].a), x, d, cases[i].d);
    }
}

Test(activation, names_round_trip) {
    for (int a = 0; a < MR_ACT_COUNT; a++) cr_assert(mr_act_parse(mr_act_name((mr_act)a)) == a);
    cr_assert(mr_act_parse("prelu") == -1);
    cr_assert(mr_act_parse("Relu") == -1);
}

/* ---------------------------------------------------- hardtanh and clamp */

typedef struct {
    int clamp;
    double lo, hi;
    size_t n;
    double *inp, *out, *wout;
} ht_ctx;

static double ht_loss(void *p) {
    ht_ctx *c = p;
    if (c->clamp)
        mr_clamp_forward(c->out, c->inp, c->n, c->lo, c->hi);
    else
        mr_hardtanh_forward(c->out, c->inp, c->n, c->lo, c->hi);
    return dot(c->out, c->wout, c->n);
}

Test(hardtanh, gradient_with_bounds_and_clamp) {
    gsl_rng *r = t_rng(41);
    size_t n = 30;
    for (int clamp = 0; clamp < 2; clamp++) {
        ht_ctx c = {clamp, 1e-4, 1 - 1e-4, n, t_alloc(n), t_alloc(n), t_alloc(n)};
        if (clamp) { c.lo = -10; c.hi = 10; }
        for (size_t i = 0; i < n; i++) { /* keep 2h·max(1,|x|) away from the bounds */
            double x;
            do x = (c.hi - c.lo) * 1.6 * (gsl_rng_uniform(r) - 0.5) + 0.5 * (c.hi + c.lo);
            while (fabs(x - c.lo) < 0.05 * fmax(1, fabs(x)) || fabs(x - c.hi) < 0.05 * fmax(1, fabs(x)));
            c.inp[i] = x;
        }
        t_fill_uniform(c.wout, n, -1, 1, r);
        double *d = t_alloc(n);
        ht_loss(&c);
        if (clamp) mr_clamp_backward(d, c.wout, c.inp, n, c.lo, c.hi);
        else mr_hardtanh_backward(d, c.wout, c.inp, n, c.lo, c.hi);
        mr_gc_var v = {clamp ? "clamp" : "hardtanh", c.inp, d, n};
        cr_assert(mr_gradcheck(ht_loss, &c, &v, 1, 0, NULL) == 0);
    }
    gsl_rng_free(r);
}

Test(clamp, boundary_gradient_differs_from_hardtanh) {
    double x = 10, one = 1, dc = 0, dh = 0;
    mr_clamp_backward(&dc, &one, &x, 1, -10, 10);
    mr_hardtanh_backward(&dh, &one, &x, 1, -10, 10);
    cr_assert(dc == 1.0 && dh == 0.0, "clamp passes the gradient at its bound, hardtanh does not");
}

/* -------------------------------------------------------------- mean axis */

typedef struct {
    size_t O, L, I;
    double *inp, *out, *wout;
} mean_ctx;

static double mean_loss(void *p) {
    mean_ctx *c = p;
    mr_mean_axis_forward(c->out, c->inp, c->O, c->L, c->I);
    return dot(c->out, c->wout, c->O * c->I);
}

Test(mean_axis, gradient_every_axis_of_3d) {
    gsl_rng *r = t_rng(51);
    size_t dims[3] = {2, 3, 4};
    for (int ax = 0; ax < 3; ax++) {
        size_t O = 1, I = 1;
        for (int k = 0; k < ax; k++) O *= dims[k];
        for (int k = ax + 1; k < 3; k++) I *= dims[k];
        size_t L = dims[ax], n = O * L * I;
        mean_ctx c = {O, L, I, t_alloc(n), t_alloc(O * I), t_alloc(O * I)};
        t_fill_uniform(c.inp, n, -1, 1, r);
        t_fill_uniform(c.wout, O * I, -1, 1, r);
        double *d = t_alloc(n);
        mean_loss(&c);
        mr_mean_axis_backward(d, c.wout, O, L, I);
        mr_gc_var v = {"inp", c.inp, d, n};
        cr_assert(mr_gradcheck(mean_loss, &c, &v, 1, 0, NULL) == 0, "axis %d", ax);
        /* value: compare with a direct strided sum (recompute: the check
         * left the output of its last perturbed evaluation) */
        mean_loss(&c);
        for (size_t o = 0; o < O; o++)
            for (size_t i = 0; i < I; i++) {
                double s = 0;
                for (size_t l = 0; l < L; l++) s += c.inp[(o * L + l) * I + i];
                cr_assert(fabs(c.out[o * I + i] - s / L) < T_FEW_OPS);
            }
    }
    gsl_rng_free(r);
}

/* -------------------------------------------------------------- logsumexp */

typedef struct {
    size_t R, C;
    double *inp, *out, *wout;
} lse_ctx;

static double lse_loss(void *p) {
    lse_ctx *c = p;
    mr_logsumexp_rows_forward(c->out, c->inp, c->R, c->C);
    return dot(c->out, c->wout, c->R);
}

Test(logsumexp, gradient) {
    gsl_rng *r = t_rng(61);
    size_t R = 3, C = 5;
    lse_ctx c = {R, C, t_alloc(R * C), t_alloc(R), t_alloc(R)};
    t_fill_uniform(c.inp, R * C, -3, 3, r);
    t_fill_uniform(c.wout, R, -1, 1, r);
    double *d = t_alloc(R * C);
    lse_loss(&c);
    mr_logsumexp_rows_backward(d, c.wout, c.inp, c.out, R, C);
    mr_gc_var v = {"inp", c.inp, d, R * C};
    cr_assert(mr_gradcheck(lse_loss, &c, &v, 1, 0, NULL) == 0);
    gsl_rng_free(r);
}

Test(logsumexp, stable_for_large_and_empty_inputs) {
    double big[3] = {1000, 1000, 1000};
    cr_assert(fabs(mr_logsumexp(big, 3, 1) - (1000 + log(3.0))) < T_LSE_1000);
    double small[2] = {-1000, -1000};
    cr_assert(fabs(mr_logsumexp(small, 2, 1) - (-1000 + log(2.0))) < T_LSE_1000);
    double ninf[2] = {-INFINITY, -INFINITY};
    cr_assert(mr_logsumexp(ninf, 2, 1) == -INFINITY);
    cr_assert(mr_logsumexp(NULL, 0, 1) == -INFINITY);
    double mixed[3] = {-INFINITY, 0, 0};
    cr_assert(fabs(mr_logsumexp(mixed, 3, 1) - log(2.0)) < T_FEW_OPS);
    double strided[6] = {1, 99, 2, 99, 3, 99};
    cr_assert(fabs(mr_logsumexp(strided, 3, 2) - log(exp(1) + exp(2) + exp(3))) < MR_TOL_CLOSED);
}

/* ------------------------------------------------------------ accumulation */

/* Every backward ADDS into its gradients: calling it twice on zeroed
 * buffers gives twice one call, for every gradient it writes (an overwrite
 * would give once). Elementwise gradients double exactly (x + x is exact);
 * reductions over rows (dγ, dβ, dw, db) accumulated in place are summed in a
 * different association, off by at most 2N·ε·Σ|terms| with N ≤ 15 terms of
 * magnitude ≤ C = 5 here: bound 64·ε·N·C ≈ 2e-13. */
static void expect_doubled(const char *what, const double *once, const double *twice, size_t n) {
    for (size_t i = 0; i < n; i++)
        cr_expect(fabs(twice[i] - 2.0 * once[i]) <= 64 * DBL_EPSILON * 15 * 5 && (once[i] == 0 || twice[i] != once[i]),
                  "%s: entry %zu: %.17g after two calls, %.17g after one", what, i, twice[i], once[i]);
}

Test(accumulation, every_backward_accumulates) {
    gsl_rng *r = t_rng(91);
    enum { N = 3, C = 5 };
    double x[N * C], y[N * C], w[N * C], g[C], b[C], mean[N], rstd[N], mask[N * C];
    double a1[N * C], a2[N * C], g1[C], g2[C], b1[C], b2[C];
    t_fill_away(x, N * C, 0.1, 2, r);
    t_fill_uniform(w, N * C, -1, 1, r);
    t_fill_uniform(g, C, 0.5, 1.5, r);
    t_fill_uniform(b, C, -1, 1, r);
    /* layernorm */
    mr_layernorm_forward(y, mean, rstd, x, g, b, N, C, 1e-6);
    memset(a1, 0, sizeof a1); memset(g1, 0, sizeof g1); memset(b1, 0, sizeof b1);
    memset(a2, 0, sizeof a2); memset(g2, 0, sizeof g2); memset(b2, 0, sizeof b2);
    mr_layernorm_backward(a1, g1, b1, w, x, g, mean, rstd, N, C);
    for (int k = 0; k < 2; k++) mr_layernorm_backward(a2, g2, b2, w, x, g, mean, rstd, N, C);
    expect_doubled("layernorm dinp", a1, a2, N * C);
    expect_doubled("layernorm dgamma", g1, g2, C);
    expect_doubled("layernorm dbeta", b1, b2, C);
    /* dropout */
    mr_dropout_mask(mask, N * C, 0.4, r);
    memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
    mr_dropout_backward(a1, w, mask, N * C);
    for (int k = 0; k < 2; k++) mr_dropout_backward(a2, w, mask, N * C);
    expect_doubled("dropout", a1, a2, N * C);
    /* every activation */
    for (int a = 0; a < MR_ACT_COUNT; a++) {
        mr_act_forward((mr_act)a, y, x, N * C);
        memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
        mr_act_backward((mr_act)a, a1, w, x, y, N * C);
        for (int k = 0; k < 2; k++) mr_act_backward((mr_act)a, a2, w, x, y, N * C);
        expect_doubled(mr_act_name((mr_act)a), a1, a2, N * C);
    }
    /* hardtanh, clamp */
    memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
    mr_hardtanh_backward(a1, w, x, N * C, -1, 1);
    for (int k = 0; k < 2; k++) mr_hardtanh_backward(a2, w, x, N * C, -1, 1);
    expect_doubled("hardtanh", a1, a2, N * C);
    memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
    mr_clamp_backward(a1, w, x, N * C, -1, 1);
    for (int k = 0; k < 2; k++) mr_clamp_backward(a2, w, x, N * C, -1, 1);
    expect_doubled("clamp", a1, a2, N * C);
    /* mean over the middle axis of [1, N, C] */
    memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
    mr_mean_axis_backward(a1, w, 1, N, C);
    for (int k = 0; k < 2; k++) mr_mean_axis_backward(a2, w, 1, N, C);
    expect_doubled("mean_axis", a1, a2, N * C);
    /* logsumexp rows */
    double lse[N];
    mr_logsumexp_rows_forward(lse, x, N, C);
    memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
    mr_logsumexp_rows_backward(a1, w, x, lse, N, C);
    for (int k = 0; k < 2; k++) mr_logsumexp_rows_backward(a2, w, x, lse, N, C);
    expect_doubled("logsumexp", a1, a2, N * C);
    /* linear, all three gradients */
    double W[C * C], B[C], dW1[C * C] = {0}, dW2[C * C] = {0}, dB1[C] = {0}, dB2[C] = {0};
    t_fill_uniform(W, C * C, -1, 1, r);
    t_fill_uniform(B, C, -1, 1, r);
    memset(a1, 0, sizeof a1); memset(a2, 0, sizeof a2);
    mr_linear_backward(a1, dW1, dB1, w, x, W, N, C, C);
    for (int k = 0; k < 2; k++) mr_linear_backward(a2, dW2, dB2, w, x, W, N, C, C);
    expect_doubled("linear dinp", a1, a2, N * C);
    expect_doubled("linear dw", dW1, dW2, C * C);
    expect_doubled("linear db", dB1, dB2, C);
    gsl_rng_free(r);
}
