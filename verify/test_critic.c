/* test_critic.c — the generic MLP, the separate/concat critics and the
 * baselines: orientation of the score matrix, state_dict names, and
 * finite-difference gradients of a whole estimator loss (critic + bound +
 * baseline) with respect to every parameter and both inputs.
 *
 * Kinks: the official critics use ReLU. The structural gradient checks run
 * with tanh in place of ReLU (the MLP's activation is a field), so every
 * coordinate is smooth; the ReLU network itself is checked directionally at
 * inputs whose pre-activations all lie at least 1e-2 from 0, far beyond the
 * ≤ 1e-4 change a 2h = 2e-3 step along a unit direction can cause. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "estimators/bounds.h"
#include "estimators/critic.h"
#include "ref/core/gradcheck.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

Test(mlp, forward_by_hand_and_names) {
    mr_params p;
    mr_params_init(&p);
    mr_mlp m;
    size_t dims[3] = {2, 3, 1};
    mr_error e;
    cr_assert(mr_mlp_register(&m, &p, "net.mlp", dims, 2, 1, MR_ACT_RELU, &e) == MR_OK);
    cr_assert(mr_params_alloc(&p, &e) == MR_OK);
    cr_assert(mr_params_find(&p, "net.mlp.0.weight") == 0 && mr_params_find(&p, "net.mlp.2.bias") == 3);
    double *w0 = mr_params_get(&p, "net.mlp.0.weight"), *b0 = mr_params_get(&p, "net.mlp.0.bias");
    double *w1 = mr_params_get(&p, "net.mlp.2.weight"), *b1 = mr_params_get(&p, "net.mlp.2.bias");
    double W0[6] = {1, 2, -1, 0.5, 0, -3}, B0[3] = {0.1, 0.2, 0.3}, W1[3] = {1, -1, 2}, B1[1] = {-0.5};
    memcpy(w0, W0, sizeof W0);
    memcpy(b0, B0, sizeof B0);
    memcpy(w1, W1, sizeof W1);
    memcpy(b1, B1, sizeof B1);
    double x[2] = {1, 2}, out;
    double cache[64];
    cr_assert(mr_mlp_cache_size(&m, 1) <= 64);
    mr_mlp_forward(&m, &p, x, 1, cache, &out);
    /* h = relu([1+4+.1, −1+1+.2, 0−6+.3]) = [5.1, .2, 0]; out = 5.1 − .2 + 0 − .5 */
    cr_assert(fabs(out - 4.4) < MR_TOL_CLOSED, "%.17g", out);
    mr_params_free(&p);
}

typedef struct {
    mr_critic c;
    mr_params p;
    mr_bound bound;
    size_t B;
    double *x, *y, *S, *la, *work, *bw; /* bw: the bound's scratch */
} ectx;

/* the estimator loss of spec §2.5 with the critic and (optional) baseline */
static double eloss(void *c_) {
    ectx *c = c_;
    mr_critic_forward(&c->c, &c->p, c->x, c->y, c->B, c->S, c->work);
    const double *la = NULL;
    if (mr_bound_uses_baseline(c->bound)) {
        mr_baseline_forward(&c->c, &c->p, c->y, c->B, c->la, c->work);
        la = c->la;
    }
    return mr_bound_loss(c->bound, c->S, c->B, la, NULL, NULL, NULL, 0, c->bw);
}

static void egrad(ectx *c, double *dx, double *dy) {
    size_t B = c->B;
    double *dS = t_alloc(B * B), *dla = t_alloc(B);
    mr_params_zero_grad(&c->p);
    eloss(c);
    int base = mr_bound_uses_baseline(c->bound);
    mr_bound_loss(c->bound, c->S, B, base ? c->la : NULL, NULL, dS, base ? dla : NULL, 1.0, c->bw);
    if (base) mr_baseline_backward(&c->c, &c->p, c->y, B, dla, dy, c->work);
    mr_critic_backward(&c->c, &c->p, c->x, c->y, B, dS, dx, dy, c->work);
}

static void build(ectx *c, mr_critic_kind kind, mr_baseline_kind base, mr_bound bound, size_t B, unsigned long seed) {
    memset(c, 0, sizeof *c);
    mr_params_init(&c->p);
    mr_error e;
    cr_assert(mr_critic_register(&c->c, &c->p, "vmi_estimator_t_a", kind, base, 3, 2, 6, 4, 1, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_params_alloc(&c->p, &e) == MR_OK);
    gsl_rng *r = t_rng(seed);
    mr_critic_init(&c->c, &c->p, r);
    /* non-zero biases so their gradients are exercised */
    for (size_t i = 0; i < c->p.n; i++)
        if (strstr(c->p.t[i].name, ".bias"))
            t_fill_uniform(mr_params_val(&c->p, i), c->p.t[i].size, -0.3, 0.3, r);
    c->bound = bound;
    c->B = B;
    c->x = t_alloc(B * 3);
    c->y = t_alloc(B * 2);
    c->S = t_alloc(B * B);
    c->la = t_alloc(B);
    c->work = t_alloc(mr_critic_work_size(&c->c, B));
    c->bw = t_alloc(mr_bound_work_size(B));
    t_fill_uniform(c->x, B * 3, -1, 1, r);
    t_fill_uniform(c->y, B * 2, -1, 1, r);
    gsl_rng_free(r);
}

static void set_act(mr_critic *c, mr_act a) {
    c->g.act = c->h.act = c->f.act = c->bmlp.act = a;
}

Test(critic, gradients_every_kind_and_baseline) {
    mr_bound bounds[3] = {MR_BOUND_INFONCE, MR_BOUND_TUBA, MR_BOUND_INTERPOLATE};
    unsigned long seed = 10;
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < 3; b++)
            for (int bi = 0; bi < 3; bi++) {
                if (b != MR_BASE_CONSTANT && !mr_bound_uses_baseline(bounds[bi])) continue;
                ectx c;
                build(&c, (mr_critic_kind)k, (mr_baseline_kind)b, bounds[bi], 4, seed++);
                set_act(&c.c, MR_ACT_TANH);
                double *dx = t_alloc(4 * 3), *dy = t_alloc(4 * 2);
                egrad(&c, dx, dy);
                mr_gc_var v[3] = {{"params", c.p.data, c.p.grad, c.p.total}, {"x", c.x, dx, 12}, {"y", c.y, dy, 8}};
                mr_gc_result res;
                int fails = mr_gradcheck(eloss, &c, v, 3, 0, &res);
                cr_expect(fails == 0, "critic %d baseline %d bound %s: %d failures (max err %g)", k, b,
                          mr_bound_name(bounds[bi]), fails, res.max_err);
                mr_params_free(&c.p);
            }
}

/* smallest |pre-activation| over every hidden layer of the critic's MLPs */
static double min_abs_pre(ectx *c) {
    const mr_mlp *ms[3] = {&c->c.g, &c->c.h, &c->c.f};
    double mn = INFINITY;
    eloss(c);
    double *w = c->work;
    for (int k = 0; k < 3; k++) {
        const mr_mlp *m = ms[k];
        if (m->nl == 0) continue;
        size_t N = c->c.kind == MR_CRITIC_SEPARATE ? c->B : c->B * c->B;
        if (c->c.kind == MR_CRITIC_CONCAT) w = c->work + N * 5; /* skip the pairs block */
        size_t off = 0;
        for (size_t l = 0; l + 1 < m->nl; l++) {
            size_t O = m->dims[l + 1];
            for (size_t i = 0; i < N * O; i++) mn = fmin(mn, fabs(w[off + i]));
            off += 2 * N * O;
        }
        if (c->c.kind == MR_CRITIC_SEPARATE) w += mr_mlp_cache_size(m, N) + N * c->c.embed;
    }
    return mn;
}

Test(critic, relu_network_directional) {
    for (int k = 0; k < 2; k++) {
        ectx c;
        int found = 0;
        for (unsigned long seed = 100; seed < 140 && !found; seed++) {
            build(&c, (mr_critic_kind)k, MR_BASE_CONSTANT, MR_BOUND_NWJ, 4, seed);
            if (min_abs_pre(&c) > 1e-2) found = 1;
            else mr_params_free(&c.p);
        }
        cr_assert(found, "no input set with all ReLU pre-activations away from 0");
        double *dx = t_alloc(12), *dy = t_alloc(8);
        egrad(&c, dx, dy);
        mr_gc_var v[3] = {{"params", c.p.data, c.p.grad, c.p.total}, {"x", c.x, dx, 12}, {"y", c.y, dy, 8}};
        cr_assert(mr_gradcheck_dir(eloss, &c, v, 3, 0, 6, 5, NULL) == 0, "critic %d", k);
        mr_params_free(&c.p);
    }
}

Test(critic, orientation_and_official_shapes) {
    ectx c;
    build(&c, MR_CRITIC_SEPARATE, MR_BASE_CONSTANT, MR_BOUND_INFONCE, 3, 7);
    eloss(&c);
    /* S[i,j] = h(y_i)·g(x_j) */
    double G[3 * 4], H[3 * 4], cache[512];
    cr_assert(mr_mlp_cache_size(&c.c.g, 3) <= 512);
    mr_mlp_forward(&c.c.g, &c.p, c.x, 3, cache, G);
    mr_mlp_forward(&c.c.h, &c.p, c.y, 3, cache, H);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += H[i * 4 + k] * G[j * 4 + k];
            cr_assert(fabs(c.S[i * 3 + j] - s) < MR_TOL_CLOSED, "rows must index y");
        }
    mr_params_free(&c.p);
    build(&c, MR_CRITIC_CONCAT, MR_BASE_CONSTANT, MR_BOUND_INFONCE, 3, 8);
    eloss(&c);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double in[5], o;
            memcpy(in, c.x + i * 3, 3 * sizeof(double));
            memcpy(in + 3, c.y + j * 2, 2 * sizeof(double));
            mr_mlp_forward(&c.c.f, &c.p, in, 1, cache, &o);
            cr_assert(fabs(c.S[i * 3 + j] - o) < MR_TOL_CLOSED, "concat rows must index x");
        }
    mr_params_free(&c.p);
    /* the MIMRL critic: 128 → 256 → 256 → 256 → 128, biases zero after init */
    mr_params p;
    mr_params_init(&p);
    mr_critic cc;
    mr_error e;
    cr_assert(mr_critic_register(&cc, &p, "vmi_estimator_f_t", MR_CRITIC_SEPARATE, MR_BASE_UNNORMALIZED, 128, 128, 256, 128, 2, &e) == MR_OK);
    cr_assert(mr_params_alloc(&p, &e) == MR_OK);
    long k = mr_params_find(&p, "vmi_estimator_f_t.critic_model.MLP_g.6.weight");
    cr_assert(k >= 0 && p.t[k].shape[0] == 128 && p.t[k].shape[1] == 256);
    k = mr_params_find(&p, "vmi_estimator_f_t.baseline_model.MLP.6.weight");
    cr_assert(k >= 0 && p.t[k].shape[0] == 1 && p.t[k].shape[1] == 256);
    gsl_rng *r = t_rng(1);
    mr_critic_init(&cc, &p, r);
    gsl_rng_free(r);
    double wmax = 0;
    for (size_t i = 0; i < p.n; i++) {
        const mr_tensor *t = &p.t[i];
        for (size_t j = 0; j < t->size; j++) {
            double v = mr_params_val(&p, i)[j];
            if (strstr(t->name, ".bias")) cr_assert(v == 0.0, "%s must start at 0", t->name);
            else cr_assert(fabs(v) <= 1 / sqrt((double)t->shape[1]), "%s outside U(±1/√fan_in)", t->name);
            if (strstr(t->name, "MLP_g.0.weight")) wmax = fmax(wmax, fabs(v));
        }
    }
    cr_assert(wmax > 0.9 / sqrt(128.0), "init spans its range");
    mr_params_free(&p);
}

Test(critic, gaussian_baseline_value) {
    ectx c;
    build(&c, MR_CRITIC_SEPARATE, MR_BASE_GAUSSIAN, MR_BOUND_TUBA, 2, 9);
    double la[2];
    mr_baseline_forward(&c.c, &c.p, c.y, 2, la, c.work);
    for (int i = 0; i < 2; i++) {
        double want = 0;
        for (int f = 0; f < 2; f++) want += log(exp(-0.5 * c.y[i * 2 + f] * c.y[i * 2 + f]) / sqrt(2 * M_PI));
        cr_assert(fabs(la[i] - want) < MR_TOL_CLOSED);
    }
    cr_assert(mr_baseline_parse("gaussain") == MR_BASE_GAUSSIAN && mr_critic_parse("concat") == MR_CRITIC_CONCAT);
    mr_params_free(&c.p);
}
