/* test_cmine.c — k-NN product sampling against a brute-force reference
 * (random banks, tied labels), row layout and tiling, the three CMI
 * read-outs against their formulas, and finite-difference gradients of the
 * classifier, the BCE and every read-out with the sampled indices held fixed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/cmine.h"
#include "estimators/knn_naive.h"
#include "ref/core/gradcheck.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

/* ------------------------------------------------------------ k-NN sampler */

Test(knn, matches_brute_force_including_ties) {
    gsl_rng *r = t_rng(1);
    size_t cases[][3] = {{50, 3, 2}, {200, 8, 4}, {64, 1, 2}, {37, 5, 1}, {300, 128, 2}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        size_t N = cases[ci][0], dZ = cases[ci][1], k = cases[ci][2], B = 16, m = B / k;
        double *Z = t_alloc(N * dZ);
        t_fill_uniform(Z, N * dZ, -1, 1, r);
        if (dZ == 1) /* labels in half steps: many exact ties */
            for (size_t i = 0; i < N; i++) Z[i] = round(Z[i] * 6) / 2;
        if (ci == 0) /* duplicated rows */
            for (size_t i = 0; i < 10; i++) memcpy(Z + (i + 20) * dZ, Z + i * dZ, dZ * sizeof(double));
        int64_t anchors[64], got[256], want[256];
        mr_error e;
        cr_assert(mr_knn_draw_anchors(N, m, r, anchors, &e) == MR_OK);
        for (size_t a = 0; a < m; a++) {
            cr_assert(anchors[a] >= 0 && (size_t)anchors[a] < N);
            for (size_t b = 0; b < a; b++) cr_assert(anchors[a] != anchors[b], "anchors must be distinct");
        }
        cr_assert(mr_knn_neighbors(Z, dZ, N, anchors, m, k, got, &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_knn_naive(Z, dZ, N, anchors, m, k, want, &e) == MR_OK, "%s", e.msg);
        for (size_t i = 0; i < m * k; i++) {
            cr_assert(got[i] == want[i], "case %zu: neighbour %zu is %lld, brute force %lld", ci, i, (long long)got[i], (long long)want[i]);
            for (size_t a = 0; a < m; a++) cr_assert(got[i] != anchors[a], "an anchor was returned as a neighbour");
        }
    }
    gsl_rng_free(r);
}

Test(knn, errors_are_clear) {
    double Z[4] = {0, 1, 2, 3};
    int64_t a[3] = {0, 1, 2}, nb[6];
    mr_error e;
    cr_assert(mr_knn_neighbors(Z, 1, 4, a, 3, 2, nb, &e) == MR_EINVAL && strstr(e.msg, "non-anchor"), "%s", e.msg);
    int64_t dup[2] = {1, 1};
    cr_assert(mr_knn_neighbors(Z, 1, 4, dup, 2, 1, nb, &e) == MR_EINVAL && strstr(e.msg, "twice"), "%s", e.msg);
    int64_t out[1] = {9};
    cr_assert(mr_knn_neighbors(Z, 1, 4, out, 1, 1, nb, &e) == MR_EINVAL && strstr(e.msg, "outside"), "%s", e.msg);
    gsl_rng *r = t_rng(1);
    cr_assert(mr_knn_draw_anchors(3, 4, r, a, &e) == MR_EINVAL);
    gsl_rng_free(r);
}

Test(knn, product_rows_layout_and_tiling) {
    /* X [N×4], Y = label [N×1] tiled ×4, Z [N×2] tiled ×2 */
    double X[24], Y[6], Z[12];
    for (size_t i = 0; i < 24; i++) X[i] = 100 + i;
    for (size_t i = 0; i < 6; i++) Y[i] = -(double)i;
    for (size_t i = 0; i < 12; i++) Z[i] = 0.5 * i;
    int64_t anchors[2] = {4, 1}, nb[4] = {0, 2, 3, 5};
    double P[4 * 12];
    mr_error e;
    cr_assert(mr_knn_product_rows(X, 4, Y, 1, Z, 2, anchors, 2, 2, nb, 4, P, &e) == MR_OK, "%s", e.msg);
    for (size_t a = 0; a < 2; a++)
        for (size_t j = 0; j < 2; j++) {
            const double *row = P + (a * 2 + j) * 12;
            for (size_t f = 0; f < 4; f++) {
                cr_assert(row[f] == X[nb[a * 2 + j] * 4 + f], "x from the neighbour");
                cr_assert(row[4 + f] == Y[anchors[a]], "y from the anchor, tiled");
                cr_assert(row[8 + f] == Z[anchors[a] * 2 + f % 2], "z from the anchor, tiled");
            }
        }
    cr_assert(mr_knn_product_rows(X, 4, Y, 1, Z, 3, anchors, 2, 2, nb, 4, P, &e) == MR_ESHAPE && strstr(e.msg, "3"), "%s", e.msg);
}

Test(knn, same_seed_same_anchors) {
    gsl_rng *a = t_rng(9), *b = t_rng(9);
    int64_t x[10], y[10];
    mr_knn_draw_anchors(1000, 10, a, x, NULL);
    mr_knn_draw_anchors(1000, 10, b, y, NULL);
    cr_assert(memcmp(x, y, sizeof x) == 0);
    gsl_rng_free(a);
    gsl_rng_free(b);
}

/* -------------------------------------------------------------- estimator */

typedef struct {
    mr_cmi c;
    mr_params p;
    size_t Mp;
    double *J, *P, *work;
    mr_cmi_readout ro;
    double wc, wb; /* loss = wc·CMI + wb·BCE */
} cctx;

static double closs(void *c_) {
    cctx *c = c_;
    mr_cmi_out o = mr_cmi_forward(&c->c, &c->p, c->J, c->P, c->Mp, c->ro, c->work);
    return c->wc * o.cmi + c->wb * o.bce;
}

static void cbuild(cctx *c, mr_cmi_head head, size_t Mp, unsigned long seed) {
    memset(c, 0, sizeof *c);
    mr_params_init(&c->p);
    mr_error e;
    cr_assert(mr_cmi_register(&c->c, &c->p, "vcmi_estimator_ta_c", 2, 5, head, &e) == MR_OK);
    cr_assert(mr_params_alloc(&c->p, &e) == MR_OK);
    gsl_rng *r = t_rng(seed);
    mr_cmi_init(&c->c, &c->p, r);
    c->c.mlp.act = MR_ACT_TANH; /* smooth stand-in for ReLU: see test_critic.c */
    if (head == MR_CMI_HEAD_HARDTANH) {
        /* keep outputs inside (1e-4, 1 − 1e-4), where hardtanh passes gradients */
        double *b = mr_params_get(&c->p, "vcmi_estimator_ta_c.classifier.mlp.6.bias");
        double *w = mr_params_get(&c->p, "vcmi_estimator_ta_c.classifier.mlp.6.weight");
        b[0] = b[1] = 0.5;
        for (int i = 0; i < 10; i++) w[i] *= 0.3;
    }
    c->Mp = Mp;
    c->J = t_alloc(Mp * 6);
    c->P = t_alloc(Mp * 6);
    c->work = t_alloc(mr_cmi_work_size(&c->c, Mp));
    t_fill_uniform(c->J, Mp * 6, -1, 1, r);
    t_fill_uniform(c->P, Mp * 6, -1, 1, r);
    gsl_rng_free(r);
}

Test(cmine, gradients_every_readout_and_head) {
    unsigned long seed = 20;
    for (int head = 0; head < 2; head++)
        for (int ro = 0; ro < MR_CMI_READ_COUNT; ro++)
            for (int which = 0; which < 3; which++) {
                cctx c;
                cbuild(&c, (mr_cmi_head)head, 3, seed++);
                c.ro = (mr_cmi_readout)ro;
                c.wc = which != 1 ? 1.0 : 0.0;
                c.wb = which != 0 ? 0.7 : 0.0;
                double *dJ = t_alloc(3 * 6);
                mr_params_zero_grad(&c.p);
                closs(&c);
                mr_cmi_backward(&c.c, &c.p, 3, c.ro, c.wc, c.wb, dJ, c.work);
                mr_gc_var v[2] = {{"params", c.p.data, c.p.grad, c.p.total}, {"J", c.J, dJ, 18}};
                mr_gc_result res;
                int fails = mr_gradcheck(closs, &c, v, 2, 0, &res);
                cr_expect(fails == 0, "head %d readout %s (cmi %g, bce %g): %d failures, max err %g", head,
                          mr_cmi_readout_name(c.ro), c.wc, c.wb, fails, res.max_err);
                mr_params_free(&c.p);
            }
}

Test(cmine, readouts_match_formulas) {
    cctx c;
    cbuild(&c, MR_CMI_HEAD_SIGMOID, 4, 5);
    double o[3];
    for (int ro = 0; ro < 3; ro++) o[ro] = mr_cmi_forward(&c.c, &c.p, c.J, c.P, 4, (mr_cmi_readout)ro, c.work).cmi;
    /* recompute γ = σ(clamp(logits)) from the MLP directly */
    double rows[8 * 6], logits[16], cache[4096];
    cr_assert(mr_mlp_cache_size(&c.c.mlp, 8) <= 4096);
    memcpy(rows, c.J, 24 * sizeof(double));
    memcpy(rows + 24, c.P, 24 * sizeof(double));
    mr_mlp_forward(&c.c.mlp, &c.p, rows, 8, cache, logits);
    double s1 = 0, s2 = 0, lj = 0, rp = 0, bce = 0;
    for (int r = 0; r < 8; r++) {
        for (int col = 0; col < 2; col++) {
            double g = 1 / (1 + exp(-fmin(fmax(logits[2 * r + col], -10), 10)));
            double t = (r < 4) == (col == 0);
            bce -= t * log(g) + (1 - t) * log(1 - g);
            if (col) continue;
            if (r < 4) s1 += log(g / (1 - g + 1e-6)), lj += log(g / (1 - g));
            else s2 += log(g / (1 - g + 1e-6)), rp += g / (1 - g);
        }
    }
    cr_assert(fabs(o[MR_CMI_READ_MIMRL] - (1 + s1 / 8 - s2 / 8)) < MR_TOL_CLOSED);
    cr_assert(fabs(o[MR_CMI_READ_NWJ] - (1 + lj / 4 - rp / 4)) < MR_TOL_CLOSED);
    cr_assert(fabs(o[MR_CMI_READ_DV] - (lj / 4 - log(rp / 4))) < MR_TOL_CLOSED);
    double b = mr_cmi_forward(&c.c, &c.p, c.J, c.P, 4, MR_CMI_READ_MIMRL, c.work).bce;
    cr_assert(fabs(b - bce / 16) < MR_TOL_CLOSED, "BCE is the mean over 2M'×2 entries");
    mr_params_free(&c.p);
}

/* The read-outs of one forward's outputs (mr_cmi_readout_value): after a
 * forward with the official read-out, the textbook ones must equal what a
 * forward with them returns (same expression on the same γ: bit for bit),
 * and the dv value must equal its formula recomputed here from the MLP's
 * logits (MR_TOL_CLOSED, as in readouts_match_formulas). */
Test(cmine, readout_value_reads_the_last_forward) {
    cctx c;
    cbuild(&c, MR_CMI_HEAD_SIGMOID, 4, 9);
    double direct[3];
    for (int ro = 0; ro < 3; ro++) direct[ro] = mr_cmi_forward(&c.c, &c.p, c.J, c.P, 4, (mr_cmi_readout)ro, c.work).cmi;
    mr_cmi_forward(&c.c, &c.p, c.J, c.P, 4, MR_CMI_READ_MIMRL, c.work);
    for (int ro = 0; ro < 3; ro++)
        cr_assert(mr_cmi_readout_value(&c.c, 4, (mr_cmi_readout)ro, c.work) == direct[ro], "read-out %s: %.17g vs %.17g",
                  mr_cmi_readout_name((mr_cmi_readout)ro), mr_cmi_readout_value(&c.c, 4, (mr_cmi_readout)ro, c.work), direct[ro]);
    double rows[8 * 6], logits[16], cache[4096], lj = 0, rp = 0;
    cr_assert(mr_mlp_cache_size(&c.c.mlp, 8) <= 4096);
    memcpy(rows, c.J, 24 * sizeof(double));
    memcpy(rows + 24, c.P, 24 * sizeof(double));
    mr_mlp_forward(&c.c.mlp, &c.p, rows, 8, cache, logits);
    for (int r = 0; r < 8; r++) {
        double g = 1 / (1 + exp(-fmin(fmax(logits[2 * r], -10), 10)));
        if (r < 4) lj += log(g / (1 - g));
        else rp += g / (1 - g);
    }
    cr_assert(fabs(mr_cmi_readout_value(&c.c, 4, MR_CMI_READ_DV, c.work) - (lj / 4 - log(rp / 4))) < MR_TOL_CLOSED);
    /* a different batch changes the value: the function reads the work, not a cache of its own */
    gsl_rng *g = t_rng(77);
    t_fill_uniform(c.P, 24, -2, 2, g);
    gsl_rng_free(g);
    mr_cmi_forward(&c.c, &c.p, c.J, c.P, 4, MR_CMI_READ_MIMRL, c.work);
    cr_assert(mr_cmi_readout_value(&c.c, 4, MR_CMI_READ_DV, c.work) != direct[MR_CMI_READ_DV]);
    mr_params_free(&c.p);
}

Test(cmine, logit_clamp_kills_gradient) {
    cctx c;
    cbuild(&c, MR_CMI_HEAD_SIGMOID, 2, 6);
    double *b = mr_params_get(&c.p, "vcmi_estimator_ta_c.classifier.mlp.6.bias");
    b[0] = b[1] = 50; /* every logit far above 10 */
    double *dJ = t_alloc(12);
    mr_params_zero_grad(&c.p);
    mr_cmi_out o = mr_cmi_forward(&c.c, &c.p, c.J, c.P, 2, MR_CMI_READ_MIMRL, c.work);
    mr_cmi_backward(&c.c, &c.p, 2, MR_CMI_READ_MIMRL, 1.0, 1.0, dJ, c.work);
    for (size_t i = 0; i < c.p.total; i++) cr_assert(c.p.grad[i] == 0.0, "clamped logits pass no gradient");
    /* γ = σ(10) everywhere: joint and product terms cancel → CMI = 1 */
    cr_assert(fabs(o.cmi - 1.0) < T_REL_RECUR, "%g", o.cmi);
    mr_params_free(&c.p);
}

Test(cmine, joint_rows_truncate_and_tile) {
    /* B = 7, k = 2: m = 3, M' = 6; the first 6 batch rows, label tiled ×2 */
    double fx[7 * 2], fy[7], fz[7 * 2];
    for (int i = 0; i < 14; i++) fx[i] = i, fz[i] = -i;
    for (int i = 0; i < 7; i++) fy[i] = 10 * i;
    double J[6 * 6];
    mr_error e;
    cr_assert(mr_cmi_joint_rows(fx, 2, fy, 1, fz, 2, 6, 2, J, &e) == MR_OK);
    for (int r = 0; r < 6; r++) {
        cr_assert(J[r * 6 + 0] == fx[2 * r] && J[r * 6 + 1] == fx[2 * r + 1]);
        cr_assert(J[r * 6 + 2] == fy[r] && J[r * 6 + 3] == fy[r]);
        cr_assert(J[r * 6 + 4] == fz[2 * r] && J[r * 6 + 5] == fz[2 * r + 1]);
    }
    double dJ[36], dfx[14] = {0}, dfy[7] = {0}, dfz[14] = {0};
    for (int i = 0; i < 36; i++) dJ[i] = 1.0 + i;
    mr_cmi_joint_rows_backward(dJ, 2, 1, 2, 6, 2, dfx, dfy, dfz);
    cr_assert(dfy[0] == 3 + 4 && dfx[0] == 1 && dfz[13] == 0 && dfy[6] == 0, "tiles sum back; row 7 untouched");
}

Test(cmine, names_and_shapes) {
    mr_params p;
    mr_params_init(&p);
    mr_cmi c;
    mr_error e;
    cr_assert(mr_cmi_register(&c, &p, "vcmi_estimator_ac_t", 128, 256, MR_CMI_HEAD_SIGMOID, &e) == MR_OK);
    long k = mr_params_find(&p, "vcmi_estimator_ac_t.classifier.mlp.0.weight");
    cr_assert(k >= 0 && p.t[k].shape[0] == 256 && p.t[k].shape[1] == 384);
    k = mr_params_find(&p, "vcmi_estimator_ac_t.classifier.mlp.6.bias");
    cr_assert(k >= 0 && p.t[k].shape[0] == 2);
    cr_assert(p.total == 230658, "spec §1.9: 230,658 parameters per CMI classifier (got %zu)", p.total);
    mr_params_free(&p);
    cr_assert(mr_cmi_readout_parse("dv") == MR_CMI_READ_DV && mr_cmi_head_parse("hardtanh") == MR_CMI_HEAD_HARDTANH);
}

/* ------------------------------------------------------------- the trainer */

/* mr_cmi_trainer, the one training loop of `mimrl estimate` (synthetic CMI
 * runs and --data): its size checks name the sizes; an epoch takes ⌊M'/b⌋
 * Adam steps (the remainder left out); on joint and product rows that differ
 * in one coordinate the classifier learns to tell them apart (held-out BCE
 * far below ln 2, the BCE of a classifier that cannot). */
Test(cmine, trainer_checks_sizes_steps_and_learns) {
    mr_error e;
    mr_cmi_trainer t;
    gsl_rng *r = t_rng(5);
    double dummy[6] = {0};
    cr_assert(mr_cmi_trainer_init(&t, 2, 8, MR_CMI_HEAD_SIGMOID, 1e-2, dummy, dummy, 0, 4, 1, r, &e) == MR_EINVAL);
    cr_assert(strstr(e.msg, "0 training rows, batch 4") != NULL, "%s", e.msg);
    mr_cmi_trainer_free(&t);
    cr_assert(mr_cmi_trainer_init(&t, 2, 8, MR_CMI_HEAD_SIGMOID, 1e-2, dummy, dummy, 1, 0, 1, r, &e) == MR_EINVAL);
    cr_assert(strstr(e.msg, "batch 0") != NULL, "%s", e.msg);
    mr_cmi_trainer_free(&t);

    size_t d = 2, W = 3 * d, Mp = 202, Mpe = 100;
    double *J = t_alloc(Mp * W), *P = t_alloc(Mp * W), *Je = t_alloc(Mpe * W), *Pe = t_alloc(Mpe * W);
    t_fill_uniform(J, Mp * W, -1, 1, r);
    t_fill_uniform(P, Mp * W, -1, 1, r);
    t_fill_uniform(Je, Mpe * W, -1, 1, r);
    t_fill_uniform(Pe, Mpe * W, -1, 1, r);
    for (size_t i = 0; i < Mp; i++) J[i * W] = 2.0, P[i * W] = -2.0;
    for (size_t i = 0; i < Mpe; i++) Je[i * W] = 2.0, Pe[i * W] = -2.0;
    cr_assert(mr_cmi_trainer_init(&t, d, 16, MR_CMI_HEAD_SIGMOID, 1e-2, J, P, Mp, 50, Mpe, r, &e) == MR_OK, "%s", e.msg);
    double before = mr_cmi_trainer_eval(&t, Je, Pe, Mpe, MR_CMI_READ_NWJ).bce;
    double first = mr_cmi_trainer_epoch(&t, r);
    cr_assert(t.p.step[0] == 4, "one epoch of 202 rows in batches of 50 took %lld steps, not 4", (long long)t.p.step[0]);
    double last = first;
    for (int ep = 1; ep < 40; ep++) last = mr_cmi_trainer_epoch(&t, r);
    mr_cmi_out o = mr_cmi_trainer_eval(&t, Je, Pe, Mpe, MR_CMI_READ_NWJ);
    cr_assert(isfinite(before) && before > 0.5, "untrained held-out BCE %g", before);
    cr_assert(last < first, "training BCE did not fall: first epoch %g, last %g", first, last);
    cr_assert(o.bce < 0.1 * log(2.0), "held-out BCE %g after 40 epochs on separable rows (ln 2 = %g)", o.bce, log(2.0));
    cr_assert(t.p.step[0] == 160, "%lld steps after 40 epochs", (long long)t.p.step[0]);
    mr_cmi_trainer_free(&t);
    gsl_rng_free(r);
}
