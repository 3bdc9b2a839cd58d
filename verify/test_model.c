/* test_model.c — the whole MIMRL model on a small configuration:
 * directional finite-difference checks of both stage losses with respect to
 * every parameter (the k-NN anchors supplied, dropout off, so the loss is a
 * fixed smooth function of the parameters away from ReLU kinks), the
 * objectives recomputed from the reported estimates with the spec's signs,
 * epoch 0 without MI terms, and the parameter names against the official
 * state_dict listing. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/gradcheck.h"
#include "ref/model/model.h"
#include "verify/alloc_count.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

typedef struct {
    mr_model m;
    mr_inputs in;
    mr_banks bk;
    mr_rand r;
    int stage, with_banks;
    int64_t anchors[MR_NCMI][8];
    mr_workspace *ws; /* sized for exactly this batch and bank */
} mctx;

static double *mk(size_t n, gsl_rng *g, double lo, double hi) {
    double *x = t_alloc(n);
    t_fill_uniform(x, n, lo, hi, g);
    return x;
}

static void small_model(mctx *c, mr_encoder enc, mr_bound bound, mr_critic_kind critic, int ln_first, unsigned long seed) {
    memset(c, 0, sizeof *c);
    mr_model_cfg cfg;
    mr_model_cfg_default(&cfg);
    cfg.d_t = 6, cfg.d_a = 3, cfg.d_v = 4, cfg.d_common = 8, cfg.time_len = 5;
    cfg.encoder = enc;
    cfg.activate = MR_ACT_GELU;
    size_t h[2][3] = {{3, 3, 8}, {3, 3, 8}};
    memcpy(cfg.hid, h, sizeof h);
    memcpy(cfg.out, h, sizeof h);
    cfg.bias = 1;
    cfg.ln_first = ln_first;
    cfg.bound = bound;
    cfg.critic = critic;
    if (bound == MR_BOUND_TUBA) cfg.baseline = MR_BASE_GAUSSIAN;
    for (int k = 0; k < MR_NMI; k++) cfg.c1[k] = 0.3 + 0.05 * k;
    for (int k = 0; k < MR_NDERIVED; k++) cfg.c2[k] = 0.2 + 0.03 * k;
    mr_error e;
    cr_assert(mr_model_build(&c->m, &cfg, &e) == MR_OK, "%s", e.msg);
    mr_model_init(&c->m, seed);
    gsl_rng *g = t_rng(seed + 1);
    /* LayerNorm biases start at exactly 0, and the RNN output at padded
     * positions is exactly 0, so the tail sits on ReLU's kink: ReLU(LN(0)) =
     * ReLU(β). Move every LayerNorm's affine parameters off 1/0 (β in
     * ±[0.1, 0.5]) so the loss is smooth where it is checked. */
    for (size_t i = 0; i < c->m.n_main; i++) {
        const char *n = c->m.p.t[i].name;
        if (!strstr(n, "ln_")) continue;
        double *v = mr_params_val(&c->m.p, i);
        if (strstr(n, ".weight")) t_fill_uniform(v, c->m.p.t[i].size, 0.5, 1.5, g);
        else t_fill_away(v, c->m.p.t[i].size, 0.1, 0.5, g);
    }
    size_t B = 6, Lt = 4, La = 5, Lv = 7;
    c->in = (mr_inputs){B, Lt, La, Lv, mk(B * Lt * 6, g, -1, 1), mk(B * La * 3, g, -1, 1), mk(B * Lv * 4, g, -1, 1), mk(B, g, -3, 3), NULL, NULL, NULL};
    /* variable lengths: zero the tail frames */
    int la[6] = {5, 2, 4, 1, 5, 3}, lv[6] = {7, 3, 1, 6, 2, 7};
    for (size_t b = 0; b < B; b++) {
        memset((double *)c->in.audio + (b * La + la[b]) * 3, 0, (La - la[b]) * 3 * sizeof(double));
        memset((double *)c->in.vision + (b * Lv + lv[b]) * 4, 0, (Lv - lv[b]) * 4 * sizeof(double));
    }
    size_t N = 20;
    c->bk = (mr_banks){N, mk(N, g, -3, 3), mk(N * 8, g, -1, 1), mk(N * 8, g, -1, 1), mk(N * 8, g, -1, 1)};
    /* distinct anchors per estimator */
    for (int j = 0; j < MR_NCMI; j++) {
        for (int a = 0; a < 3; a++) c->anchors[j][a] = (j * 3 + a * 5) % 20;
        c->r.given[j] = c->anchors[j];
    }
    c->with_banks = 1;
    /* The estimators' ReLU MLPs have ~10⁵ units on this batch: a random
     * direction crosses some of their kinks within the finite-difference
     * stencil, which no step size avoids at 1e-7 relative accuracy. The
     * whole-model check therefore runs them with tanh (the activation is a
     * field of each MLP); the ReLU critics and classifiers are checked on
     * their own in test_critic.c and test_cmine.c. */
    for (int i = 0; i < MR_NVMI; i++) c->m.vmi[i].g.act = c->m.vmi[i].h.act = c->m.vmi[i].f.act = c->m.vmi[i].bmlp.act = MR_ACT_TANH;
    for (int j = 0; j < MR_NCMI; j++) c->m.vcmi[j].mlp.act = MR_ACT_TANH;
    gsl_rng_free(g);
    mr_step_dims x = {B, Lt, La, Lv, N};
    cr_assert(mr_workspace_create(&c->m, &x, &c->ws, &e) == MR_OK, "%s", e.msg);
}

static void free_model(mctx *c) {
    mr_workspace_free(c->ws);
    mr_model_free(&c->m);
}

static double mloss(void *c_) {
    mctx *c = c_;
    mr_step st;
    mr_error e;
    cr_assert(mr_model_forward(&c->m, &c->in, c->with_banks ? &c->bk : NULL, &c->r, &st, c->ws, &e) == MR_OK, "%s", e.msg);
    return c->stage == 1 ? st.loss_stage1 : st.loss_stage2;
}

static void check_model(mr_encoder enc, mr_bound bound, mr_critic_kind critic, int ln_first, unsigned long seed) {
    mctx c;
    small_model(&c, enc, bound, critic, ln_first, seed);
    for (int stage = 1; stage <= 2; stage++) {
        c.stage = stage;
        mr_step st;
        mr_error e;
        cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &st, c.ws, &e) == MR_OK, "%s", e.msg);
        mr_params_zero_grad(&c.m.p);
        cr_assert(mr_model_backward(&c.m, c.ws, stage, 1, &e) == MR_OK, "%s", e.msg);
        /* main model and estimators separately: each direction must match */
        mr_gc_var vmain = {"main", c.m.p.data, c.m.p.grad, c.m.p.t[c.m.n_main].offset};
        size_t off = c.m.p.t[c.m.n_main].offset;
        mr_gc_var vest = {"estimators", c.m.p.data + off, c.m.p.grad + off, c.m.p.total - off};
        mr_gc_result r1, r2;
        int f1 = mr_gradcheck_dir(mloss, &c, &vmain, 1, 0, 4, seed + 10 * stage, &r1);
        int f2 = mr_gradcheck_dir(mloss, &c, &vest, 1, 0, 4, seed + 10 * stage + 5, &r2);
        cr_expect(f1 == 0, "stage %d, main model (encoder %d, bound %s, ln_first %d): %d failing directions (worst %.3g of bound)", stage, enc,
                  mr_bound_name(bound), ln_first, f1, r1.max_ratio);
        cr_expect(f2 == 0, "stage %d, estimators (bound %s): %d failing directions (worst %.3g of bound)", stage, mr_bound_name(bound), f2,
                  r2.max_ratio);
    }
    free_model(&c);
}

Test(model, gradients_gru_infonce_separate, .timeout = 300) { check_model(MR_ENC_GRU, MR_BOUND_INFONCE, MR_CRITIC_SEPARATE, 0, 1); }
Test(model, gradients_lstm_nwj_concat_preln, .timeout = 300) { check_model(MR_ENC_LSTM, MR_BOUND_NWJ, MR_CRITIC_CONCAT, 1, 2); }
Test(model, gradients_conv_tuba_gaussian, .timeout = 300) { check_model(MR_ENC_CONV, MR_BOUND_TUBA, MR_CRITIC_SEPARATE, 0, 3); }

Test(model, objectives_follow_the_spec_signs) {
    mctx c;
    small_model(&c, MR_ENC_GRU, MR_BOUND_INFONCE, MR_CRITIC_SEPARATE, 0, 4);
    mr_step st;
    mr_error e;
    cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &st, c.ws, &e) == MR_OK);
    const double *I = st.mi, *c1 = c.m.cfg.c1, *c2 = c.m.cfg.c2;
    /* stage 1: Σ c1[i]·ℓ_i with ℓ = −I for the VMI (infonce), BCE for the CMI */
    double L1 = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert(st.stage1_terms[i] == -I[i], "mi_loss = −I for infonce");
        L1 += c1[i] * -I[i];
    }
    for (int j = 0; j < 6; j++) L1 += c1[5 + j] * st.stage1_terms[5 + j];
    cr_assert(fabs(st.loss_stage1 - L1) < T_LOSS_SUM);
    /* stage 2 with the net coefficients of spec §4.3 */
    double L2 = st.loss_task - c2[0] * I[0] - c2[1] * I[1] - c2[2] * I[2] - c2[3] * (I[3] + I[4]);
    L2 += -c2[4] * I[9] - c2[4] * I[10] - c2[5] * I[5] - c2[6] * I[7];
    L2 += (c2[4] + c2[5] - c2[7]) * I[6] + (c2[4] + c2[6] - c2[7]) * I[8];
    cr_assert(fabs(st.loss_stage2 - L2) < T_LOSS_SUM, "%.17g vs %.17g", st.loss_stage2, L2);
    /* the 8 derived quantities */
    cr_assert(st.derived[3] == I[3] + I[4] && fabs(st.derived[4] - (I[9] + I[10] - I[6] - I[8])) < T_FEW_OPS);
    cr_assert(st.derived[7] == I[6] + I[8]);
    /* InfoNCE estimates respect log B */
    for (int i = 0; i < 5; i++) cr_assert(I[i] <= log(6.0));
    /* the nats read-outs: the VMI terms as they are; the CMI terms equal what
     * a forward with the dv read-out itself reports (same classifier outputs,
     * same anchors: bit for bit); the official values and the losses are
     * untouched by it; the 8 quantities follow spec §4.3 from them */
    mr_step sd;
    c.m.cfg.cmi_readout = MR_CMI_READ_DV;
    cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &sd, c.ws, &e) == MR_OK);
    c.m.cfg.cmi_readout = MR_CMI_READ_MIMRL;
    for (int i = 0; i < 5; i++) cr_assert(st.mi_nats[i] == I[i]);
    for (int j = 5; j < 11; j++) {
        cr_assert(st.mi_nats[j] == sd.mi[j], "term %d: %.17g vs dv forward %.17g", j, st.mi_nats[j], sd.mi[j]);
        cr_assert(sd.mi_nats[j] == sd.mi[j]);
        cr_assert(st.mi_nats[j] != I[j], "term %d: the official read-out is not the dv one", j);
    }
    for (int k = 0; k < 8; k++) cr_assert(st.derived_nats[k] == sd.derived[k], "quantity %d", k);
    const double *N = st.mi_nats;
    cr_assert(st.derived_nats[3] == N[3] + N[4] && st.derived_nats[7] == N[6] + N[8]);
    cr_assert(fabs(st.derived_nats[4] - (N[9] + N[10] - N[6] - N[8])) < T_FEW_OPS);
    /* product rows: neighbours are never anchors */
    for (int j = 0; j < 6; j++)
        for (size_t q = 0; q < st.m_anchor * st.k; q++)
            for (size_t a = 0; a < st.m_anchor; a++) cr_assert(st.neighbors[j][q] != st.anchors[j][a]);
    /* epoch 0: no banks → task loss only, MI zero */
    c.with_banks = 0;
    cr_assert(mr_model_forward(&c.m, &c.in, NULL, &c.r, &st, c.ws, &e) == MR_OK);
    cr_assert(!st.has_mi && st.loss_stage2 == st.loss_task && st.mi[0] == 0 && st.loss_stage1 == 0);
    for (int k = 0; k < 8; k++) cr_assert(st.derived_nats[k] == 0);
    free_model(&c);
}

Test(model, names_and_shapes_match_the_official_state_dict) {
    char path[1024];
    cr_assert(t_state_dict_path(path, sizeof path, "mosi_dec-gru-separate"), T_STATE_DICT_MISSING, path);
    /* the README configuration: GRU, d_hiddens = d_outs = 50-3-128=10-3-128, bias, res 1-1 */
    mr_model_cfg cfg;
    mr_model_cfg_default(&cfg);
    size_t h[2][3] = {{50, 3, 128}, {10, 3, 128}};
    memcpy(cfg.hid, h, sizeof h);
    memcpy(cfg.out, h, sizeof h);
    cfg.bias = 1;
    mr_model m;
    mr_error e;
    cr_assert(mr_model_build(&m, &cfg, &e) == MR_OK, "%s", e.msg);
    mr_params ref;
    mr_params_init(&ref);
    cr_assert(mr_params_add_tsv(&ref, path, &e) == MR_OK);
    cr_assert(ref.n == m.p.n, "%zu tensors listed, %zu built", ref.n, m.p.n);
    for (size_t i = 0; i < ref.n; i++) {
        long k = mr_params_find(&m.p, ref.t[i].name);
        cr_assert(k >= 0, "'%s' is not built", ref.t[i].name);
        cr_assert(m.p.t[k].ndim == ref.t[i].ndim, "%s", ref.t[i].name);
        for (int d = 0; d < ref.t[i].ndim; d++) cr_assert(m.p.t[k].shape[d] == ref.t[i].shape[d], "%s", ref.t[i].name);
    }
    mr_params_free(&ref);
    mr_model_free(&m);
}

/* A training step draws its anchors from a stream; the oracle takes them
 * from the caller. Given the anchors a training step drew, the oracle path
 * reproduces that step's outputs and both stages' gradients bit for bit. */
Test(model, oracle_replays_a_training_step) {
    mctx c;
    small_model(&c, MR_ENC_GRU, MR_BOUND_INFONCE, MR_CRITIC_SEPARATE, 0, 7);
    gsl_rng *anchor = t_rng(99);
    mr_rand train_r;
    memset(&train_r, 0, sizeof train_r);
    train_r.anchor = anchor;
    mr_step st1, st2;
    mr_workspace *f1 = c.ws, *f2;
    mr_error e;
    mr_step_dims x = {c.in.B, c.in.Lt, c.in.La, c.in.Lv, c.bk.N};
    cr_assert(mr_workspace_create(&c.m, &x, &f2, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &train_r, &st1, f1, &e) == MR_OK, "%s", e.msg);
    mr_rand oracle_r;
    memset(&oracle_r, 0, sizeof oracle_r);
    for (int j = 0; j < MR_NCMI; j++) oracle_r.given[j] = st1.anchors[j];
    cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &oracle_r, &st2, f2, &e) == MR_OK, "%s", e.msg);
    cr_assert(memcmp(st1.mi, st2.mi, sizeof st1.mi) == 0 && st1.loss_stage1 == st2.loss_stage1 && st1.loss_stage2 == st2.loss_stage2);
    cr_assert(memcmp(st1.output, st2.output, 6 * sizeof(double)) == 0);
    double *g = t_alloc(c.m.p.total);
    for (int stage = 1; stage <= 2; stage++) {
        mr_params_zero_grad(&c.m.p);
        cr_assert(mr_model_backward(&c.m, f1, stage, 1, &e) == MR_OK);
        memcpy(g, c.m.p.grad, c.m.p.total * sizeof(double));
        mr_params_zero_grad(&c.m.p);
        cr_assert(mr_model_backward(&c.m, f2, stage, 1, &e) == MR_OK);
        cr_assert(memcmp(g, c.m.p.grad, c.m.p.total * sizeof(double)) == 0, "stage %d gradients differ", stage);
    }
    mr_workspace_free(f2);
    gsl_rng_free(anchor);
    free_model(&c);
}

/* The audio and visual branches on two threads compute what they compute
 * one after the other: outputs, estimates, losses and both stages'
 * gradients identical bit for bit, with dropout on (the masks are drawn
 * before the branches start, in the sequential order) — for each encoder. */
Test(model, branch_threads_do_not_change_results) {
    mr_encoder encs[3] = {MR_ENC_GRU, MR_ENC_LSTM, MR_ENC_CONV};
    for (int q = 0; q < 3; q++) {
        mctx c;
        small_model(&c, encs[q], MR_BOUND_INFONCE, MR_CRITIC_SEPARATE, 0, 11 + q);
        mr_step st[2];
        double *g[2][2];
        double mi[2][MR_NMI];
        double out[2][6];
        for (int run = 0; run < 2; run++) {
            /* the schedule is the workspace's (its threads start with it) */
            mr_step_dims x = mr_workspace_dims(c.ws);
            mr_error e;
            mr_model_branch_threads(run == 0 ? 1 : 2);
            mr_workspace_free(c.ws);
            cr_assert(mr_workspace_create(&c.m, &x, &c.ws, &e) == MR_OK, "%s", e.msg);
            gsl_rng *drop = t_rng(5), *anchor = t_rng(6);
            mr_rand r;
            memset(&r, 0, sizeof r);
            r.drop = drop, r.anchor = anchor;
            cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &r, &st[run], c.ws, &e) == MR_OK, "%s", e.msg);
            memcpy(out[run], st[run].output, sizeof out[run]);
            memcpy(mi[run], st[run].mi, sizeof mi[run]);
            for (int stage = 1; stage <= 2; stage++) {
                mr_params_zero_grad(&c.m.p);
                cr_assert(mr_model_backward(&c.m, c.ws, stage, 1, &e) == MR_OK);
                g[run][stage - 1] = t_alloc(c.m.p.total);
                memcpy(g[run][stage - 1], c.m.p.grad, c.m.p.total * sizeof(double));
            }
            gsl_rng_free(drop);
            gsl_rng_free(anchor);
        }
        mr_model_branch_threads(0);
        cr_assert(memcmp(out[0], out[1], sizeof out[0]) == 0, "encoder %d: outputs differ", q);
        cr_assert(memcmp(mi[0], mi[1], sizeof mi[0]) == 0 && st[0].loss_stage2 == st[1].loss_stage2, "encoder %d", q);
        for (int s = 0; s < 2; s++)
            cr_assert(memcmp(g[0][s], g[1][s], c.m.p.total * sizeof(double)) == 0, "encoder %d: stage %d gradients differ", q, s + 1);
        free_model(&c);
    }
}

/* A batch, a sequence or a bank beyond the workspace's sizes is refused
 * with the dimension named, before anything is computed; a backward after a
 * refused forward is refused too and accumulates nothing. */
Test(model, batch_beyond_the_workspace_fails_cleanly) {
    mctx c;
    small_model(&c, MR_ENC_GRU, MR_BOUND_INFONCE, MR_CRITIC_SEPARATE, 0, 21);
    mr_step_dims full = {c.in.B, c.in.Lt, c.in.La, c.in.Lv, c.bk.N};
    struct {
        mr_step_dims x;
        const char *says;
    } small[5] = {{full, "B = 6"}, {full, "Lt = 4"}, {full, "La = 5"}, {full, "Lv = 7"}, {full, "N = 20"}};
    small[0].x.B = 5, small[1].x.Lt = 3, small[2].x.La = 4, small[3].x.Lv = 6, small[4].x.N = 19;
    mr_error e;
    mr_step st;
    /* a forward that fits leaves a state behind: the refused one must clear it */
    mr_workspace *ws;
    for (int q = 0; q < 5; q++) {
        cr_assert(mr_workspace_create(&c.m, &small[q].x, &ws, &e) == MR_OK, "%s", e.msg);
        if (q == 0) {
            mr_inputs fit = c.in;
            fit.B = 5;
            cr_assert(mr_model_forward(&c.m, &fit, &c.bk, &c.r, &st, ws, &e) == MR_OK, "%s", e.msg);
        }
        memset(&e, 0, sizeof e);
        cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &st, ws, &e) == MR_EINVAL);
        cr_assert(strstr(e.msg, small[q].says) != NULL, "'%s' should name %s", e.msg, small[q].says);
        mr_params_zero_grad(&c.m.p);
        cr_assert(mr_model_backward(&c.m, ws, 2, 1, &e) == MR_EINVAL);
        for (size_t i = 0; i < c.m.p.total; i++) cr_assert(c.m.p.grad[i] == 0.0);
        mr_workspace_free(ws);
    }
    cr_assert(mr_model_backward(&c.m, c.ws, 2, 1, &e) == MR_EINVAL, "no forward yet");
    cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &st, c.ws, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_model_backward(&c.m, c.ws, 3, 1, &e) == MR_EINVAL && strstr(e.msg, "stage"));
    free_model(&c);
}

/* A smaller batch in a larger workspace gives the same bits as in a
 * workspace of its own size, and a reused workspace the same bits as a fresh
 * one (nothing left over from the previous step leaks into the next). */
Test(model, workspace_reuse_and_size_do_not_change_results) {
    mctx c;
    small_model(&c, MR_ENC_GRU, MR_BOUND_INFONCE, MR_CRITIC_SEPARATE, 0, 23);
    mr_inputs sub = c.in;
    sub.B = 4; /* the first 4 samples: a prefix of every input */
    mr_step_dims exact = {sub.B, sub.Lt, sub.La, sub.Lv, c.bk.N};
    mr_workspace *own;
    mr_error e;
    cr_assert(mr_workspace_create(&c.m, &exact, &own, &e) == MR_OK, "%s", e.msg);
    double *g[2][2];
    double out[2][4], L[2];
    for (int run = 0; run < 2; run++) {
        mr_workspace *w = run == 0 ? own : c.ws;
        mr_step st;
        /* the big workspace first holds a full-size step */
        if (run == 1) cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &st, w, &e) == MR_OK);
        if (run == 1) cr_assert(mr_model_backward(&c.m, w, 2, 1, &e) == MR_OK);
        cr_assert(mr_model_forward(&c.m, &sub, &c.bk, &c.r, &st, w, &e) == MR_OK, "%s", e.msg);
        memcpy(out[run], st.output, sizeof out[run]);
        L[run] = st.loss_stage2;
        for (int stage = 1; stage <= 2; stage++) {
            mr_params_zero_grad(&c.m.p);
            cr_assert(mr_model_backward(&c.m, w, stage, 1, &e) == MR_OK);
            g[run][stage - 1] = t_alloc(c.m.p.total);
            memcpy(g[run][stage - 1], c.m.p.grad, c.m.p.total * sizeof(double));
        }
    }
    cr_assert(memcmp(out[0], out[1], sizeof out[0]) == 0 && L[0] == L[1]);
    for (int s = 0; s < 2; s++) cr_assert(memcmp(g[0][s], g[1][s], c.m.p.total * sizeof(double)) == 0, "stage %d", s + 1);
    mr_workspace_free(own);
    free_model(&c);
}

/* the name of the tensor holding element i of the flat parameter array */
static const char *tensor_at(const mr_params *p, size_t i) {
    for (size_t k = 0; k < p->n; k++)
        if (i >= p->t[k].offset && i < p->t[k].offset + p->t[k].size) return p->t[k].name;
    return "?";
}

/* A step reads only what it wrote (mr_workspace_poison): a workspace whose
 * every double is NaN, or a huge finite value (what a comparison or a
 * multiplication by 0 would not turn into NaN), before the forward gives the
 * fresh (calloc'd) workspace's outputs, terms, losses and both stages'
 * gradients bit for bit, for every encoder; so does the evaluation forward
 * on a poisoned evaluation-only workspace. Any element read before it is
 * written carries the poison into a result. */
Test(model, a_step_reads_only_what_it_wrote, .timeout = 120) {
    mr_encoder encs[3] = {MR_ENC_GRU, MR_ENC_LSTM, MR_ENC_CONV};
    const double poison[2] = {NAN, 7.5e300};
    for (int q = 0; q < 3; q++) {
        mctx c;
        small_model(&c, encs[q], q == 2 ? MR_BOUND_TUBA : MR_BOUND_INFONCE, q == 1 ? MR_CRITIC_CONCAT : MR_CRITIC_SEPARATE, 0, 61 + q);
        mr_error e;
        mr_step_dims x = mr_workspace_dims(c.ws);
        double out[3][6], mi[3][MR_NMI], L[3][3], ev[3][6], *g[3][2];
        for (int run = 0; run < 3; run++) { /* 0: fresh, 1: NaN, 2: huge */
            mr_workspace *w, *we;
            cr_assert(mr_workspace_create(&c.m, &x, &w, &e) == MR_OK, "%s", e.msg);
            cr_assert(mr_workspace_create_eval(&c.m, &x, &we, &e) == MR_OK, "%s", e.msg);
            if (run) mr_workspace_poison(w, poison[run - 1]), mr_workspace_poison(we, poison[run - 1]);
            mr_step st;
            cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &c.r, &st, w, &e) == MR_OK, "%s", e.msg);
            memcpy(out[run], st.output, sizeof out[run]);
            memcpy(mi[run], st.mi, sizeof mi[run]);
            L[run][0] = st.loss_task, L[run][1] = st.loss_stage1, L[run][2] = st.loss_stage2;
            for (int stage = 1; stage <= 2; stage++) {
                mr_params_zero_grad(&c.m.p);
                cr_assert(mr_model_backward(&c.m, w, stage, 1, &e) == MR_OK, "%s", e.msg);
                g[run][stage - 1] = t_alloc(c.m.p.total);
                memcpy(g[run][stage - 1], c.m.p.grad, c.m.p.total * sizeof(double));
            }
            cr_assert(mr_model_forward_eval(&c.m, &c.in, &c.bk, &c.r, &st, we, &e) == MR_OK, "%s", e.msg);
            memcpy(ev[run], st.output, sizeof ev[run]);
            mr_workspace_free(w), mr_workspace_free(we);
        }
        for (int run = 1; run < 3; run++) {
            cr_assert(memcmp(out[0], out[run], sizeof out[0]) == 0, "encoder %d, poison %g: outputs differ (%g vs %g)", q, poison[run - 1],
                      out[0][0], out[run][0]);
            cr_assert(memcmp(mi[0], mi[run], sizeof mi[0]) == 0, "encoder %d, poison %g: MI terms differ", q, poison[run - 1]);
            cr_assert(memcmp(L[0], L[run], sizeof L[0]) == 0, "encoder %d, poison %g: losses differ", q, poison[run - 1]);
            cr_assert(memcmp(ev[0], ev[run], sizeof ev[0]) == 0, "encoder %d, poison %g: eval outputs differ", q, poison[run - 1]);
            for (int s = 0; s < 2; s++)
                for (size_t i = 0; i < c.m.p.total; i++)
                    cr_assert(memcmp(&g[0][s][i], &g[run][s][i], sizeof(double)) == 0, "encoder %d, poison %g: stage %d gradient of %s differs",
                              q, poison[run - 1], s + 1, tensor_at(&c.m.p, i));
        }
        free_model(&c);
    }
}

static void *t_nothing(void *v) { return v; }

/* Forward and backward of both stages allocate nothing and start no thread
 * (the branch threads are the workspace's, started with it), with dropout
 * and anchors drawn from streams, for every encoder and both branch
 * schedules. The counters see every malloc/calloc/realloc and every
 * pthread_create our code makes (the binary is linked with --wrap,
 * verify/alloc_count.h); that they do is checked on a library function
 * that does allocate and on a thread started here. */
Test(model, forward_and_backward_do_not_allocate) {
    mr_encoder encs[3] = {MR_ENC_GRU, MR_ENC_LSTM, MR_ENC_CONV};
    for (int q = 0; q < 3; q++)
        for (int threads = 1; threads <= 2; threads++) {
            mctx c;
            mr_model_branch_threads(threads); /* read when the workspace is created */
            small_model(&c, encs[q], q == 2 ? MR_BOUND_TUBA : MR_BOUND_INFONCE, q == 1 ? MR_CRITIC_CONCAT : MR_CRITIC_SEPARATE, 0, 31 + q);
            gsl_rng *drop = t_rng(5), *anchor = t_rng(6);
            mr_rand r;
            memset(&r, 0, sizeof r);
            r.drop = drop, r.anchor = anchor;
            mr_error e;
            mr_step st;
            for (int rep = 0; rep < 2; rep++) { /* the second step is counted */
                if (rep == 1) t_alloc_count_start(), t_thread_count_start();
                int rc = mr_model_forward(&c.m, &c.in, &c.bk, &r, &st, c.ws, &e);
                for (int stage = 1; stage <= 2 && !rc; stage++) rc = mr_model_backward(&c.m, c.ws, stage, 1, &e);
                long n = rep == 1 ? t_alloc_count_stop() : 0, nt = rep == 1 ? t_thread_count_stop() : 0;
                cr_assert(rc == MR_OK, "%s", e.msg);
                cr_assert(n == 0, "encoder %d, %d branch threads: %ld allocations in a step", q, threads, n);
                cr_assert(nt == 0, "encoder %d, %d branch threads: %ld threads started in a step", q, threads, nt);
            }
            mr_model_branch_threads(0);
            gsl_rng_free(drop);
            gsl_rng_free(anchor);
            free_model(&c);
        }
    /* the counter counts: the allocating k-NN entry point is seen */
    int64_t anc[2], nb[2];
    double Z[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    mr_error e;
    gsl_rng *g = t_rng(1);
    t_alloc_count_start();
    int rc = mr_knn_draw_anchors(8, 2, g, anc, &e) || mr_knn_neighbors(Z, 1, 8, anc, 2, 1, nb, &e);
    long n = t_alloc_count_stop();
    cr_assert(rc == 0 && n >= 2, "%ld allocations counted", n);
    gsl_rng_free(g);
    /* the thread counter counts */
    pthread_t th;
    t_thread_count_start();
    cr_assert(pthread_create(&th, NULL, t_nothing, NULL) == 0);
    long nt = t_thread_count_stop();
    pthread_join(th, NULL);
    cr_assert(nt == 1, "%ld thread starts counted for 1", nt);
}

/* ---- the evaluation forward (mr_model_forward_eval) */

/* Everything of a step that evaluation reads, copied out of the workspace. */
typedef struct {
    double out[8], F[4][8 * 8];
    double mi[MR_NMI], mi_nats[MR_NMI], s1[MR_NMI], dv[MR_NDERIVED], dvn[MR_NDERIVED], L[3];
    int64_t anc[MR_NCMI][8], nbr[MR_NCMI][8];
    int has_mi;
} step_copy;

static void copy_step(step_copy *s, const mr_step *st, size_t B, size_t D) {
    memset(s, 0, sizeof *s);
    memcpy(s->out, st->output, B * sizeof(double));
    const double *F[4] = {st->F_F, st->T_F, st->A_F, st->V_F};
    for (int k = 0; k < 4; k++) memcpy(s->F[k], F[k], B * D * sizeof(double));
    memcpy(s->mi, st->mi, sizeof s->mi), memcpy(s->mi_nats, st->mi_nats, sizeof s->mi_nats);
    memcpy(s->s1, st->stage1_terms, sizeof s->s1), memcpy(s->dv, st->derived, sizeof s->dv);
    memcpy(s->dvn, st->derived_nats, sizeof s->dvn);
    s->L[0] = st->loss_task, s->L[1] = st->loss_stage1, s->L[2] = st->loss_stage2;
    s->has_mi = st->has_mi;
    for (int j = 0; j < MR_NCMI && st->has_mi; j++) {
        memcpy(s->anc[j], st->anchors[j], st->m_anchor * sizeof(int64_t));
        memcpy(s->nbr[j], st->neighbors[j], st->m_anchor * st->k * sizeof(int64_t));
    }
}

/* The evaluation forward gives the training forward's step without dropout
 * bit for bit (outputs, features, the 11 terms in both read-outs, the
 * derived terms, the losses, the anchors drawn from the stream), on the
 * training workspace and on an evaluation-only one, with and without banks,
 * for every encoder; it allocates nothing and starts no thread; the
 * evaluation-only workspace is smaller; a backward (or the intermediates)
 * after it is refused instead of reading stale caches. */
Test(model, eval_forward_matches_training_forward_bit_for_bit) {
    mr_encoder encs[3] = {MR_ENC_GRU, MR_ENC_LSTM, MR_ENC_CONV};
    for (int q = 0; q < 3; q++)
        for (int banks = 0; banks <= 1; banks++) {
            mctx c;
            small_model(&c, encs[q], q == 2 ? MR_BOUND_TUBA : MR_BOUND_INFONCE, q == 1 ? MR_CRITIC_CONCAT : MR_CRITIC_SEPARATE, 0, 41 + q);
            mr_error e;
            mr_step_dims x = mr_workspace_dims(c.ws);
            mr_workspace *ev;
            cr_assert(mr_workspace_create_eval(&c.m, &x, &ev, &e) == MR_OK, "%s", e.msg);
            cr_assert(mr_workspace_bytes(ev) < mr_workspace_bytes(c.ws), "encoder %d: eval-only workspace %zu bytes, training %zu", q,
                      mr_workspace_bytes(ev), mr_workspace_bytes(c.ws));
            const mr_banks *bk = banks ? &c.bk : NULL;
            step_copy ref, got;
            mr_step st;
            /* the training forward in eval mode, anchors from a stream */
            gsl_rng *a0 = t_rng(77), *drop = t_rng(78);
            mr_rand r0 = {NULL, a0, {0}, {0}};
            cr_assert(mr_model_forward(&c.m, &c.in, bk, &r0, &st, c.ws, &e) == MR_OK, "%s", e.msg);
            copy_step(&ref, &st, c.in.B, 8);
            for (int where = 0; where < 2; where++) {
                mr_workspace *w = where == 0 ? c.ws : ev;
                /* a training step with dropout first: nothing of it may leak */
                if (where == 0) {
                    mr_rand rd = {drop, a0, {0}, {0}};
                    cr_assert(mr_model_forward(&c.m, &c.in, &c.bk, &rd, &st, w, &e) == MR_OK, "%s", e.msg);
                    cr_assert(mr_model_backward(&c.m, w, 2, 1, &e) == MR_OK, "%s", e.msg);
                }
                gsl_rng *a1 = t_rng(77);
                mr_rand r1 = {drop, a1, {0}, {0}}; /* a drop stream given: not read */
                for (int rep = 0; rep < 2; rep++) {
                    if (rep == 1) { /* the second one is counted, from the same anchor draws */
                        gsl_rng_set(a1, 77);
                        t_alloc_count_start(), t_thread_count_start();
                    }
                    int rc = mr_model_forward_eval(&c.m, &c.in, bk, &r1, &st, w, &e);
                    long n = rep == 1 ? t_alloc_count_stop() : 0, nt = rep == 1 ? t_thread_count_stop() : 0;
                    cr_assert(rc == MR_OK, "%s", e.msg);
                    cr_assert(n == 0 && nt == 0, "encoder %d: %ld allocations, %ld threads in an eval forward", q, n, nt);
                }
                copy_step(&got, &st, c.in.B, 8);
                cr_assert(memcmp(&ref, &got, sizeof ref) == 0, "encoder %d, banks %d, %s workspace: eval forward differs", q, banks,
                          where ? "eval-only" : "training");
                mr_params_zero_grad(&c.m.p);
                cr_assert(mr_model_backward(&c.m, w, 2, 1, &e) == MR_EINVAL, "backward after an eval forward must be refused");
                cr_assert(mr_model_backward(&c.m, w, 1, 1, &e) == MR_EINVAL);
                for (size_t i = 0; i < c.m.p.total; i++) cr_assert(c.m.p.grad[i] == 0.0, "a refused backward accumulated");
                mr_ws_tensor *tl;
                size_t nt;
                cr_assert(mr_workspace_intermediates(&c.m, w, &tl, &nt, &e) == MR_EINVAL);
                gsl_rng_free(a1);
            }
            /* the evaluation-only workspace refuses the training forward */
            cr_assert(mr_model_forward(&c.m, &c.in, bk, &r0, &st, ev, &e) == MR_EINVAL);
            gsl_rng_free(a0), gsl_rng_free(drop);
            mr_workspace_free(ev);
            free_model(&c);
        }
}
