/* test_optim.c — Adam, SGD, clipping and LR schedules against sequences
 * derived by hand (closed forms in the comments). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ref/nn/optim.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static void store(mr_params *p, size_t n1, size_t n2) {
    mr_params_init(p);
    mr_error e;
    size_t s1[1] = {n1}, s2[1] = {n2};
    cr_assert(mr_params_add(p, "w", 1, s1, &e) == MR_OK);
    cr_assert(mr_params_add(p, "vmi_x", 1, s2, &e) == MR_OK);
    cr_assert(mr_params_alloc(p, &e) == MR_OK);
}

static int rel_close(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(fabs(a), fabs(b)) + 1e-300; }

Test(adam, constant_gradient_closed_form) {
    /* With a constant gradient g, bias correction makes m̂ = g and v̂ = g² at
     * every step: p_t = p0 − t·lr·g/(|g| + eps) (up to the √ rounding). */
    mr_params p;
    store(&p, 3, 1);
    double g[3] = {0.5, -2.0, 1e-3}, p0[3] = {1.0, -1.0, 0.25}, lr = 0.01;
    memcpy(p.data, p0, sizeof p0);
    mr_optim o;
    mr_optim_adam(&o, &p, 0.0);
    size_t idx[1] = {0};
    mr_error e;
    cr_assert(mr_optim_add_group(&o, idx, 1, lr, &e) == MR_OK);
    for (int t = 1; t <= 50; t++) {
        memcpy(p.grad, g, sizeof g);
        mr_optim_step(&o);
        for (int i = 0; i < 3; i++) {
            double want = p0[i] - t * lr * g[i] / (fabs(g[i]) + 1e-8);
            /* rounding: ≤ 4ε per step on a value of size ≤ |p0| + t·lr */
            double tol = t * 4 * DBL_EPSILON * (fabs(p0[i]) + t * lr);
            cr_assert(fabs(p.data[i] - want) <= tol, "step %d [%d]: %.17g vs %.17g", t, i, p.data[i], want);
        }
    }
    cr_assert(p.step[0] == 50 && p.step[1] == 0, "only the group's tensors step");
    cr_assert(p.data[3] == 0.0);
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(adam, varying_gradient_recurrence_and_weight_decay) {
    /* Hand recurrence of torch.optim.Adam(lr, betas=(0.9,0.999), eps=1e-8,
     * weight_decay) for one scalar, written out independently. */
    mr_params p;
    store(&p, 1, 1);
    double lr = 4e-3, wd = 0.01, x = 0.7, m = 0, v = 0;
    p.data[0] = x;
    mr_optim o;
    mr_optim_adam(&o, &p, wd);
    size_t idx[1] = {0};
    mr_optim_add_group(&o, idx, 1, lr, NULL);
    for (int t = 1; t <= 20; t++) {
        double g = sin(t) - 0.3 * x;
        p.grad[0] = g;
        mr_optim_step(&o);
        double ge = g + wd * x;
        m = 0.9 * m + 0.1 * ge;
        v = 0.999 * v + 0.001 * ge * ge;
        double mhat = m / (1 - pow(0.9, t)), vhat = v / (1 - pow(0.999, t));
        x = x - lr * mhat / (sqrt(vhat) + 1e-8);
        /* same algebra, different rounding order: ≤ a few ε per step */
        cr_assert(fabs(p.data[0] - x) <= t * 8 * DBL_EPSILON, "t=%d: %.17g vs %.17g", t, p.data[0], x);
    }
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(adam, groups_have_their_own_lr) {
    mr_params p;
    store(&p, 1, 1);
    mr_optim o;
    mr_optim_adam(&o, &p, 0);
    size_t a[1] = {0}, b[1] = {1};
    mr_optim_add_group(&o, a, 1, 0.1, NULL);
    mr_optim_add_group(&o, b, 1, 0.001, NULL);
    p.grad[0] = p.grad[1] = 1.0;
    mr_optim_step(&o);
    cr_assert(rel_close(p.data[0], -0.1 / (1 + 1e-8), T_REL_FEW));
    cr_assert(rel_close(p.data[1], -0.001 / (1 + 1e-8), T_REL_FEW));
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(sgd, momentum_closed_form) {
    /* constant g, momentum μ: buf_t = g(1−μ^t)/(1−μ); p_t = p0 − lr·Σ_s buf_s */
    mr_params p;
    store(&p, 1, 1);
    double mu = 0.9, lr = 0.05, g = 0.3;
    mr_optim o;
    mr_optim_sgd(&o, &p, mu, 0.0);
    size_t idx[1] = {0};
    mr_optim_add_group(&o, idx, 1, lr, NULL);
    double want = 0;
    for (int t = 1; t <= 30; t++) {
        p.grad[0] = g;
        mr_optim_step(&o);
        want -= lr * g * (1 - pow(mu, t)) / (1 - mu);
        cr_assert(rel_close(p.data[0], want, T_REL_RECUR), "t=%d %.17g vs %.17g", t, p.data[0], want);
    }
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(sgd, weight_decay_plain) {
    mr_params p;
    store(&p, 1, 1);
    p.data[0] = 2.0;
    mr_optim o;
    mr_optim_sgd(&o, &p, 0.0, 0.5);
    size_t idx[1] = {0};
    mr_optim_add_group(&o, idx, 1, 0.1, NULL);
    p.grad[0] = 1.0;
    mr_optim_step(&o); /* p − 0.1·(1 + 0.5·2) = 1.8 */
    cr_assert(rel_close(p.data[0], 1.8, T_REL_FEW));
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(clip, by_value_and_by_norm) {
    mr_params p;
    store(&p, 2, 2);
    double g[4] = {3, -4, 0.5, -0.25};
    memcpy(p.grad, g, sizeof g);
    size_t idx[2] = {0, 1};
    mr_clip_grad_value(&p, idx, 2, 1.0);
    cr_assert(p.grad[0] == 1.0 && p.grad[1] == -1.0 && p.grad[2] == 0.5 && p.grad[3] == -0.25);
    memcpy(p.grad, g, sizeof g);
    /* total = sqrt(25 + 0.3125) */
    double total = mr_clip_grad_norm(&p, idx, 2, 1.0);
    cr_assert(rel_close(total, sqrt(25.3125), T_REL_FEW));
    double coef = 1.0 / (sqrt(25.3125) + 1e-6);
    for (int i = 0; i < 4; i++) cr_assert(rel_close(p.grad[i], g[i] * coef, T_REL_FEW));
    memcpy(p.grad, g, sizeof g);
    mr_clip_grad_norm(&p, idx, 2, 100.0); /* coef clamped to 1: unchanged */
    cr_assert(memcmp(p.grad, g, sizeof g) == 0);
    mr_params_free(&p);
}

Test(params, select_by_name) {
    mr_params p;
    store(&p, 1, 1);
    size_t idx[2];
    cr_assert(mr_params_select(&p, "vmi", NULL, idx) == 1 && idx[0] == 1);
    cr_assert(mr_params_select(&p, NULL, NULL, idx) == 2);
    mr_params_free(&p);
}

/* ------------------------------------------------------------- schedules */

static double lr_after(mr_lr_sched *s, mr_optim *o, double metric) {
    mr_sched_step(s, o, metric);
    return o->g[0].lr;
}

Test(schedule, step_multistep_exp_chain_like_pytorch) {
    mr_params p;
    store(&p, 1, 1);
    mr_optim o;
    mr_optim_adam(&o, &p, 0);
    size_t idx[1] = {0};
    mr_optim_add_group(&o, idx, 1, 4e-3, NULL);
    mr_lr_sched s;
    /* multi_step 2-4 (the official "a-b" milestones), γ = 0.1: lr used in
     * epoch e is 4e-3 for e < 2, 4e-3·0.1 for 2 ≤ e < 4, (4e-3·0.1)·0.1 after. */
    mr_sched_init(&s, MR_LR_MULTISTEP, 0.1);
    s.milestones[0] = 2;
    s.milestones[1] = 4;
    s.nm = 2;
    double want[6] = {4e-3, 4e-3 * 0.1, 4e-3 * 0.1, (4e-3 * 0.1) * 0.1, (4e-3 * 0.1) * 0.1, (4e-3 * 0.1) * 0.1};
    for (int e = 0; e < 6; e++) cr_assert(lr_after(&s, &o, 0) == want[e], "multi_step after epoch %d", e);
    /* step 3, γ = 0.5 */
    o.g[0].lr = 1.0;
    mr_sched_init(&s, MR_LR_STEP, 0.5);
    s.step_size = 3;
    double ws[7] = {1, 1, 0.5, 0.5, 0.5, 0.25, 0.25};
    for (int e = 0; e < 7; e++) cr_assert(lr_after(&s, &o, 0) == ws[e], "step after epoch %d", e);
    /* exp γ = 0.9: lr·0.9 each epoch, chained */
    o.g[0].lr = 1.0;
    mr_sched_init(&s, MR_LR_EXP, 0.9);
    double x = 1.0;
    for (int e = 0; e < 5; e++) {
        x = x * 0.9;
        cr_assert(lr_after(&s, &o, 0) == x);
    }
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(schedule, plateau_defaults) {
    /* ReduceLROnPlateau(mode=min, factor=0.1, patience=2, threshold=1e-4 rel):
     * metrics 1.0 (best), 0.99995 (not better: needs < 0.9999), 0.9999 (no:
     * not < 0.9999), 1.2 → 3 bad epochs > patience → lr·0.1, counter reset;
     * 0.5 (best), 0.6, 0.6, 0.6 → reduce again. */
    mr_params p;
    store(&p, 1, 1);
    mr_optim o;
    mr_optim_adam(&o, &p, 0);
    size_t idx[1] = {0};
    mr_optim_add_group(&o, idx, 1, 1.0, NULL);
    mr_lr_sched s;
    mr_sched_init(&s, MR_LR_PLATEAU, 0.1);
    s.patience = 2;
    double metrics[8] = {1.0, 0.99995, 0.9999, 1.2, 0.5, 0.6, 0.6, 0.6};
    double want[8] = {1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1 * 0.1};
    for (int i = 0; i < 8; i++) cr_assert(lr_after(&s, &o, metrics[i]) == want[i], "plateau after metric %d: %g", i, o.g[0].lr);
    /* a NaN metric counts as not better */
    mr_optim_free(&o);
    mr_params_free(&p);
}

Test(schedule, names) {
    cr_assert(mr_lr_parse("multi_step") == MR_LR_MULTISTEP);
    cr_assert(mr_lr_parse("plateau") == MR_LR_PLATEAU);
    cr_assert(mr_lr_parse("cosine") == -1);
}
