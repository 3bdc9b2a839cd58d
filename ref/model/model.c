/* model.c — see model.h. */
#include "ref/model/model.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/core/blas.h"
#include "ref/model/encoders.h"
#include "ref/nn/layers.h"
#include "ref/nn/losses.h"

const char *const mr_vmi_names[MR_NVMI] = {"f_t", "f_a", "f_v", "t_a", "t_v"};
const char *const mr_cmi_names[MR_NCMI] = {"ac_t", "ta_c", "vc_t", "tv_c", "tc_a", "tc_v"};
const char *const mr_mi_labels[11] = {"I(F;T)",   "I(F;A)",   "I(F;V)",   "I(T;A)",   "I(T;V)",  "I(A;C|T)",
                                      "I(T;A|C)", "I(V;C|T)", "I(T;V|C)", "I(T;C|A)", "I(T;C|V)"};
const char *const mr_derived_labels[8] = {"ft", "fa", "fv", "in", "st", "sa", "sv", "cp"};

/* feature ids: 0 T_F, 1 A_F, 2 V_F, 3 F_F, 4 label */
enum { FT = 0, FA, FV, FF, FC };
static const int vmi_src[MR_NVMI][2] = {{FF, FT}, {FF, FA}, {FF, FV}, {FT, FA}, {FT, FV}};
static const int cmi_src[MR_NCMI][3] = {{FA, FC, FT}, {FT, FA, FC}, {FV, FC, FT}, {FT, FV, FC}, {FT, FC, FA}, {FT, FC, FV}};

void mr_model_cfg_default(mr_model_cfg *c) {
    memset(c, 0, sizeof *c);
    c->d_t = 768, c->d_a = 5, c->d_v = 20, c->d_common = 128, c->time_len = 100;
    c->encoder = MR_ENC_GRU;
    c->activate = MR_ACT_GELU;
    c->nb = 2;
    size_t h[2][3] = {{10, 2, 128}, {5, 2, 128}};
    memcpy(c->hid, h, sizeof h);
    memcpy(c->out, h, sizeof h);
    c->res[0] = c->res[1] = 1;
    for (int k = 0; k < 3; k++) c->dropout_mlp[k] = 0.5;
    for (int k = 0; k < 4; k++) c->dropout[k] = 0.5;
    c->bias = 0, c->ln_first = 0;
    c->compose_t = c->compose_k = MR_COMPOSE_MEAN;
    c->critic = MR_CRITIC_SEPARATE;
    c->baseline = MR_BASE_CONSTANT;
    c->bound = MR_BOUND_INFONCE;
    mr_bound_opts_default(&c->bopt);
    for (int k = 0; k < 11; k++) c->c1[k] = 0.1;
    for (int k = 0; k < 8; k++) c->c2[k] = 0.1;
    c->k_neighbor = 2;
    c->cmi_head = MR_CMI_HEAD_SIGMOID;
    c->cmi_readout = MR_CMI_READ_MIMRL;
    c->loss = MR_TASK_MAE;
}

static int addp(mr_params *p, size_t *idx, const char *name, int nd, size_t a, size_t b, size_t c, mr_error *e) {
    size_t sh[3] = {a, b, c};
    *idx = p->n;
    return mr_params_add(p, name, nd, sh, e);
}

int mr_model_build(mr_model *m, const mr_model_cfg *c, mr_error *e) {
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    mr_params_init(&m->p);
    size_t D = c->d_common;
    int rc = MR_OK;
    if (c->encoder == MR_ENC_CONV) {
        if (!rc) rc = addp(&m->p, &m->conv_a_w, "conv_a.weight", 3, D, c->d_a, 3, e);
        if (!rc) rc = addp(&m->p, &m->conv_a_b, "conv_a.bias", 1, D, 0, 0, e);
        if (!rc) rc = addp(&m->p, &m->conv_v_w, "conv_v.weight", 3, D, c->d_v, 3, e);
        if (!rc) rc = addp(&m->p, &m->conv_v_b, "conv_v.bias", 1, D, 0, 0, e);
    } else {
        mr_rnn_kind k = c->encoder == MR_ENC_GRU ? MR_RNN_GRU : MR_RNN_LSTM;
        size_t layers = c->encoder == MR_ENC_GRU ? 2 : 1;
        if (!rc) rc = mr_rnn_register(&m->rnn_v, &m->p, "rnn_v", k, c->d_v, D, layers, e);
        if (!rc) rc = mr_rnn_register(&m->rnn_a, &m->p, "rnn_a", k, c->d_a, D, layers, e);
    }
    if (!rc) rc = addp(&m->p, &m->ln_a_g, "ln_a.weight", 1, D, 0, 0, e);
    if (!rc) rc = addp(&m->p, &m->ln_a_b, "ln_a.bias", 1, D, 0, 0, e);
    if (!rc) rc = addp(&m->p, &m->ln_v_g, "ln_v.weight", 1, D, 0, 0, e);
    if (!rc) rc = addp(&m->p, &m->ln_v_b, "ln_v.bias", 1, D, 0, 0, e);
    if (!rc) rc = addp(&m->p, &m->W_t, "W_t.weight", 2, D, c->d_t, 0, e);
    size_t in0[3] = {c->time_len, 3, D};
    if (!rc)
        rc = mr_cubemlp_register(&m->cube, &m->p, "mlp_encoder", in0, (size_t(*)[3])c->hid, (size_t(*)[3])c->out, c->nb, c->res,
                                 c->bias, c->ln_first, c->activate, c->dropout_mlp, e);
    size_t Lo = c->out[c->nb - 1][0], Ko = c->out[c->nb - 1][1], Do = c->out[c->nb - 1][2];
    size_t dim = mr_compose_dim(Lo, Ko, Do, c->compose_k, c->compose_t);
    if (!rc) rc = mr_head_register(&m->head, &m->p, "classifier", dim, 1, c->dropout[3], e);
    if (!rc && dim != D)
        rc = mr_fail(e, MR_EINVAL, "the fused feature F_F has %zu dimensions but the MI estimators need d_common = %zu: use "
                     "--d_outs ending in d_common and mean or sum compositions", dim, D);
    m->n_main = m->p.n;
    char name[MR_NAME_MAX];
    for (int i = 0; i < MR_NVMI && !rc; i++) {
        snprintf(name, sizeof name, "vmi_estimator_%s", mr_vmi_names[i]);
        rc = mr_critic_register(&m->vmi[i], &m->p, name, c->critic, c->baseline, D, D, 256, 128, 2, e);
    }
    for (int i = 0; i < MR_NCMI && !rc; i++) {
        snprintf(name, sizeof name, "vcmi_estimator_%s", mr_cmi_names[i]);
        rc = mr_cmi_register(&m->vcmi[i], &m->p, name, D, 256, c->cmi_head, e);
    }
    if (!rc && c->k_neighbor == 0) rc = mr_fail(e, MR_EINVAL, "--k_neighbor must be at least 1");
    if (!rc) rc = mr_params_alloc(&m->p, e);
    if (rc) mr_params_free(&m->p);
    return rc;
}

static void uni(mr_params *p, size_t idx, double k, gsl_rng *r) {
    const mr_tensor *t = &p->t[idx];
    for (size_t i = 0; i < t->size; i++) p->data[t->offset + i] = k * (2.0 * gsl_rng_uniform(r) - 1.0);
}

void mr_model_init(mr_model *m, unsigned long seed) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    if (c->encoder == MR_ENC_CONV) {
        double ka = 1.0 / sqrt(3.0 * (double)c->d_a), kv = 1.0 / sqrt(3.0 * (double)c->d_v);
        uni(p, m->conv_a_w, ka, r);
        uni(p, m->conv_a_b, ka, r);
        uni(p, m->conv_v_w, kv, r);
        uni(p, m->conv_v_b, kv, r);
    } else {
        mr_rnn_init(&m->rnn_v, p, r);
        mr_rnn_init(&m->rnn_a, p, r);
    }
    size_t lns[4] = {m->ln_a_g, m->ln_a_b, m->ln_v_g, m->ln_v_b};
    for (int k = 0; k < 4; k++) {
        const mr_tensor *t = &p->t[lns[k]];
        for (size_t i = 0; i < t->size; i++) p->data[t->offset + i] = (k % 2 == 0) ? 1.0 : 0.0;
    }
    uni(p, m->W_t, 1.0 / sqrt((double)c->d_t), r);
    mr_cubemlp_init(&m->cube, p, r);
    mr_head_init(&m->head, p, r);
    for (int i = 0; i < MR_NVMI; i++) mr_critic_init(&m->vmi[i], p, r);
    for (int i = 0; i < MR_NCMI; i++) mr_cmi_init(&m->vcmi[i], p, r);
    gsl_rng_free(r);
}

void mr_model_free(mr_model *m) { mr_params_free(&m->p); }

int mr_model_is_estimator(const mr_model *m, size_t i) { return i >= m->n_main; }

/* ------------------------------------------------------------ forward state */

struct mr_fwd {
    mr_inputs in;
    int has_mi;
    int *alen, *vlen;
    double *t_lin, *t_mask, *t_d;
    double *ya, *yv;                                    /* encoder outputs [B·L·D] */
    double *rc_a, *rw_a, *rc_v, *rw_v;                  /* rnn caches / work */
    double *ln_a, *mu_a, *rs_a, *re_a, *mk_a, *a_d;     /* audio tail */
    double *ln_v, *mu_v, *rs_v, *re_v, *mk_v, *v_d;     /* visual tail */
    double *feat[5];                                    /* T_F, A_F, V_F, F_F, label */
    double *X0, *cube_cache, *cube_work, *cube_masks, *enc, *head_cache, *head_mask, *output;
    /* estimators */
    double *S[MR_NVMI], *la[MR_NVMI], *cw[MR_NVMI], *bw;
    size_t Mp;
    double *J[MR_NCMI], *P[MR_NCMI], *qw[MR_NCMI];
    int64_t *anchors[MR_NCMI], *neighbors[MR_NCMI];
    double I_vmi[MR_NVMI], I_cmi[MR_NCMI];
    /* gradient buffers */
    double *dfeat[4];
};

static void *zalloc(size_t n, size_t size) { return calloc(n != 0 ? n : 1, size); }
#define ALLOC(p, n) ((p) = zalloc((n), sizeof *(p)))

void mr_fwd_free(mr_fwd *s) {
    if (!s) return;
    void *ptrs[] = {s->alen, s->vlen, s->t_lin, s->t_mask, s->t_d, s->ya, s->yv, s->rc_a, s->rw_a, s->rc_v, s->rw_v,
                    s->ln_a, s->mu_a, s->rs_a, s->re_a, s->mk_a, s->a_d, s->ln_v, s->mu_v, s->rs_v, s->re_v, s->mk_v,
                    s->v_d, s->X0, s->cube_cache, s->cube_work, s->cube_masks, s->enc, s->head_cache, s->head_mask,
                    s->output, s->bw};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    for (int i = 0; i < 5; i++) free(s->feat[i]);
    for (int i = 0; i < 4; i++) free(s->dfeat[i]);
    for (int i = 0; i < MR_NVMI; i++) free(s->S[i]), free(s->la[i]), free(s->cw[i]);
    for (int i = 0; i < MR_NCMI; i++) free(s->J[i]), free(s->P[i]), free(s->qw[i]), free(s->anchors[i]), free(s->neighbors[i]);
    free(s);
}

static void masks(double *mk, size_t n, double p, gsl_rng *r) {
    if (r) mr_dropout_mask(mk, n, p, r);
    else
        for (size_t i = 0; i < n; i++) mk[i] = 1.0;
}

static double *P_(const mr_params *p, size_t i) { return p->data + p->t[i].offset; }
static double *G_(const mr_params *p, size_t i) { return p->grad + p->t[i].offset; }

static double task_loss(mr_task_loss l, const double *p, const double *y, size_t n, double *dp, double scale) {
    switch (l) {
    case MR_TASK_MSE: return mr_loss_mse(p, y, n, dp, scale);
    case MR_TASK_RMSE: return mr_loss_rmse(p, y, n, dp, scale);
    case MR_TASK_SIMSE: return mr_loss_simse(p, y, n, dp, scale);
    case MR_TASK_CCC: return mr_loss_ccc(p, y, n, dp, scale);
    default: return mr_loss_mae(p, y, n, dp, scale);
    }
}

/* ---- the audio and the visual branch are independent: with two or more
 * cores they run on two threads (OpenBLAS at 1 thread meanwhile), each
 * computing exactly what it computes sequentially, so the results do not
 * depend on it. MIMRL_ENCODER_THREADS=1 keeps them sequential. */
typedef struct {
    void (*fn)(mr_model *, mr_fwd *, int, void *);
    mr_model *m;
    mr_fwd *s;
    int which; /* 0 audio, 1 visual */
    void *arg;
} branch_job;

static void *branch_run(void *v) {
    branch_job *j = v;
    j->fn(j->m, j->s, j->which, j->arg);
    return NULL;
}

static int branch_threads; /* 0: decide from MIMRL_ENCODER_THREADS and the cores */

void mr_model_branch_threads(int n) { branch_threads = n == 1 || n == 2 ? n : 0; }

static int branch_parallel(void) {
    if (branch_threads) return branch_threads == 2;
    const char *e = getenv("MIMRL_ENCODER_THREADS");
    return !(e && atoi(e) == 1) && sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

static void both_branches(void (*fn)(mr_model *, mr_fwd *, int, void *), mr_model *m, mr_fwd *s, void *arg) {
    branch_job j[2] = {{fn, m, s, 0, arg}, {fn, m, s, 1, arg}};
    pthread_t t;
    if (branch_parallel()) {
        int old = mr_blas_threads_set(1);
        if (pthread_create(&t, NULL, branch_run, &j[1]) == 0) {
            branch_run(&j[0]);
            pthread_join(t, NULL);
            mr_blas_threads_set(old);
            return;
        }
        mr_blas_threads_set(old);
    }
    branch_run(&j[0]);
    branch_run(&j[1]);
}

/* encoder + tail of one branch */
static void branch_forward(mr_model *m, mr_fwd *s, int v, void *arg) {
    (void)arg;
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    size_t B = s->in.B, D = c->d_common, L = v ? s->in.Lv : s->in.La, d = v ? c->d_v : c->d_a;
    const double *x = v ? s->in.vision : s->in.audio;
    double *y = v ? s->yv : s->ya;
    if (c->encoder == MR_ENC_CONV)
        mr_conv1d_forward(y, x, P_(p, v ? m->conv_v_w : m->conv_a_w), P_(p, v ? m->conv_v_b : m->conv_a_b), B, L, d, D);
    else
        mr_rnn_forward(v ? &m->rnn_v : &m->rnn_a, p, x, B, L, v ? s->vlen : s->alen, y, v ? s->rc_v : s->rc_a, v ? s->rw_v : s->rw_a);
    if (v)
        mr_av_tail_forward(s->yv, B * L, D, P_(p, m->ln_v_g), P_(p, m->ln_v_b), s->mk_v, s->ln_v, s->mu_v, s->rs_v, s->re_v, s->v_d);
    else
        mr_av_tail_forward(s->ya, B * L, D, P_(p, m->ln_a_g), P_(p, m->ln_a_b), s->mk_a, s->ln_a, s->mu_a, s->rs_a, s->re_a, s->a_d);
}

/* net coefficient of each CMI estimate in L2 (spec §4.3 table) */
static double cmi_coef(const double *c2, int j) {
    switch (j) {
    case 0: return -c2[5];                 /* ac_t */
    case 1: return c2[4] + c2[5] - c2[7];  /* ta_c */
    case 2: return -c2[6];                 /* vc_t */
    case 3: return c2[4] + c2[6] - c2[7];  /* tv_c */
    default: return -c2[4];                /* tc_a, tc_v */
    }
}

int mr_model_forward(mr_model *m, const mr_inputs *in, const mr_banks *banks, const mr_rand *r,
                     mr_step *out, mr_fwd **state, mr_error *e) {
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    size_t B = in->B, Lt = in->Lt, La = in->La, Lv = in->Lv, D = c->d_common, T = c->time_len;
    memset(out, 0, sizeof *out);
    *state = NULL;
    if (B == 0 || Lt == 0 || La == 0 || Lv == 0) return mr_fail(e, MR_EINVAL, "empty batch or sequence");
    mr_fwd *s = calloc(1, sizeof *s);
    if (!s) return mr_fail(e, MR_ENOMEM, "out of memory");
    s->in = *in;
    gsl_rng *dr = r ? r->drop : NULL;
    int ok = 1;
    /* ---- text: t = Dropout(W_t H) */
    ok &= ALLOC(s->t_lin, B * Lt * D) && ALLOC(s->t_mask, B * Lt * D) && ALLOC(s->t_d, B * Lt * D);
    /* ---- audio / visual encoders and tails */
    ok &= ALLOC(s->alen, B) && ALLOC(s->vlen, B) && ALLOC(s->ya, B * La * D) && ALLOC(s->yv, B * Lv * D);
    ok &= ALLOC(s->ln_a, B * La * D) && ALLOC(s->mu_a, B * La) && ALLOC(s->rs_a, B * La) && ALLOC(s->re_a, B * La * D) &&
          ALLOC(s->mk_a, B * La * D) && ALLOC(s->a_d, B * La * D);
    ok &= ALLOC(s->ln_v, B * Lv * D) && ALLOC(s->mu_v, B * Lv) && ALLOC(s->rs_v, B * Lv) && ALLOC(s->re_v, B * Lv * D) &&
          ALLOC(s->mk_v, B * Lv * D) && ALLOC(s->v_d, B * Lv * D);
    if (c->encoder != MR_ENC_CONV)
        ok &= ALLOC(s->rc_a, mr_rnn_cache_size(&m->rnn_a, B, La)) && ALLOC(s->rw_a, mr_rnn_work_size(&m->rnn_a, B, La)) &&
              ALLOC(s->rc_v, mr_rnn_cache_size(&m->rnn_v, B, Lv)) && ALLOC(s->rw_v, mr_rnn_work_size(&m->rnn_v, B, Lv));
    for (int k = 0; k < 5; k++) ok &= ALLOC(s->feat[k], B * (k == FC ? 1 : D)) != NULL;
    for (int k = 0; k < 4; k++) ok &= ALLOC(s->dfeat[k], B * D) != NULL;
    size_t Lo = c->out[c->nb - 1][0], Ko = c->out[c->nb - 1][1], Do = c->out[c->nb - 1][2];
    ok &= ALLOC(s->X0, B * T * 3 * D) && ALLOC(s->cube_cache, mr_cubemlp_cache_size(&m->cube, B)) &&
          ALLOC(s->cube_work, mr_cubemlp_work_size(&m->cube, B)) && ALLOC(s->cube_masks, mr_cubemlp_mask_size(&m->cube, B)) &&
          ALLOC(s->enc, B * Lo * Ko * Do) && ALLOC(s->head_cache, mr_head_cache_size(&m->head, B)) &&
          ALLOC(s->head_mask, B * 128) && ALLOC(s->output, B);
    if (!ok) {
        mr_fwd_free(s);
        return mr_fail(e, MR_ENOMEM, "out of memory for a batch of %zu", B);
    }
    mr_linear_forward(s->t_lin, in->text, P_(p, m->W_t), NULL, B * Lt, c->d_t, D);
    masks(s->t_mask, B * Lt * D, c->dropout[0], dr);
    mr_dropout_forward(s->t_d, s->t_lin, s->t_mask, B * Lt * D);
    mr_seq_lengths(in->audio, B, La, c->d_a, s->alen);
    mr_seq_lengths(in->vision, B, Lv, c->d_v, s->vlen);
    /* the masks first (the stream's order: text, audio, visual, CubeMLP, head) */
    masks(s->mk_a, B * La * D, c->dropout[1], dr);
    masks(s->mk_v, B * Lv * D, c->dropout[2], dr);
    both_branches(branch_forward, m, s, NULL);
    /* ---- pooled features (before temporal padding/cropping) */
    mr_pool_mean_forward(s->t_d, B, Lt, D, NULL, s->feat[FT]);
    mr_pool_mean_forward(s->a_d, B, La, D, c->masked_pool ? s->alen : NULL, s->feat[FA]);
    mr_pool_mean_forward(s->v_d, B, Lv, D, c->masked_pool ? s->vlen : NULL, s->feat[FV]);
    memcpy(s->feat[FC], in->label, B * sizeof(double));
    /* ---- CubeMLP, composition, head */
    const double *mods[3] = {s->t_d, s->a_d, s->v_d};
    size_t Ls[3] = {Lt, La, Lv};
    mr_stack_forward(mods, Ls, B, T, D, s->X0);
    if (dr) mr_cubemlp_forward(&m->cube, p, s->X0, B, s->enc, s->cube_cache, s->cube_work, NULL, dr);
    else mr_cubemlp_forward(&m->cube, p, s->X0, B, s->enc, s->cube_cache, s->cube_work, NULL, NULL);
    mr_compose_forward(s->enc, B, Lo, Ko, Do, c->compose_k, c->compose_t, s->feat[FF]);
    masks(s->head_mask, B * 128, c->dropout[3], dr);
    mr_head_forward(&m->head, p, s->feat[FF], B, s->output, s->head_cache, s->head_mask, NULL);
    out->output = s->output;
    out->F_F = s->feat[FF], out->T_F = s->feat[FT], out->A_F = s->feat[FA], out->V_F = s->feat[FV];
    out->loss_task = task_loss(c->loss, s->output, in->label, B, NULL, 0.0);
    out->loss_stage2 = out->loss_task;
    s->has_mi = banks != NULL && banks->N > 0;
    out->has_mi = s->has_mi;
    if (!s->has_mi) {
        *state = s;
        return MR_OK;
    }
    /* ---- variational MI estimators */
    ok = ALLOC(s->bw, mr_bound_work_size(B)) != NULL;
    for (int i = 0; i < MR_NVMI && ok; i++) {
        ok &= ALLOC(s->S[i], B * B) && ALLOC(s->la[i], B) && ALLOC(s->cw[i], mr_critic_work_size(&m->vmi[i], B));
        if (!ok) break;
        const double *x = s->feat[vmi_src[i][0]], *y = s->feat[vmi_src[i][1]];
        mr_critic_forward(&m->vmi[i], p, x, y, B, s->S[i], s->cw[i]);
        int base = mr_bound_uses_baseline(c->bound);
        if (base) mr_baseline_forward(&m->vmi[i], p, y, B, s->la[i], s->cw[i]);
        s->I_vmi[i] = mr_bound_mi(c->bound, s->S[i], B, base ? s->la[i] : NULL, &c->bopt, NULL, NULL, 0, s->bw);
        out->mi[i] = s->I_vmi[i];
        out->stage1_terms[i] = mr_bound_loss(c->bound, s->S[i], B, base ? s->la[i] : NULL, &c->bopt, NULL, NULL, 0, s->bw);
    }
    /* ---- conditional MI estimators */
    size_t k = c->k_neighbor, mA = B / k, N = banks->N;
    s->Mp = mA * k;
    out->m_anchor = mA;
    out->k = k;
    for (int j = 0; j < MR_NCMI && ok && mA > 0; j++) {
        ok &= ALLOC(s->J[j], s->Mp * 3 * D) && ALLOC(s->P[j], s->Mp * 3 * D) && ALLOC(s->qw[j], mr_cmi_work_size(&m->vcmi[j], s->Mp)) &&
              ALLOC(s->anchors[j], mA) && ALLOC(s->neighbors[j], s->Mp);
        if (!ok) break;
        const double *bank[5] = {banks->T, banks->A, banks->V, NULL, banks->label};
        size_t w[5] = {D, D, D, D, 1};
        int x = cmi_src[j][0], y = cmi_src[j][1], z = cmi_src[j][2];
        int rc;
        if (r && r->given[j]) {
            memcpy(s->anchors[j], r->given[j], mA * sizeof(int64_t));
            rc = MR_OK;
        } else {
            if (!r || !r->anchor) {
                mr_fwd_free(s);
                return mr_fail(e, MR_EINVAL, "CMI estimator %s: no anchors given and no anchor stream", mr_cmi_names[j]);
            }
            rc = mr_knn_draw_anchors(N, mA, r->anchor, s->anchors[j], e);
        }
        if (!rc) rc = mr_knn_neighbors(bank[z], w[z], N, s->anchors[j], mA, k, s->neighbors[j], e);
        if (!rc) rc = mr_knn_product_rows(bank[x], w[x], bank[y], w[y], bank[z], w[z], s->anchors[j], mA, k, s->neighbors[j], D, s->P[j], e);
        if (!rc)
            rc = mr_cmi_joint_rows(s->feat[x], w[x], s->feat[y], w[y], s->feat[z], w[z], s->Mp, D, s->J[j], e);
        if (rc) {
            mr_fwd_free(s);
            return rc;
        }
        mr_cmi_out o = mr_cmi_forward(&m->vcmi[j], p, s->J[j], s->P[j], s->Mp, c->cmi_readout, s->qw[j]);
        s->I_cmi[j] = o.cmi;
        out->mi[5 + j] = o.cmi;
        out->stage1_terms[5 + j] = o.bce;
        out->anchors[j] = s->anchors[j];
        out->neighbors[j] = s->neighbors[j];
    }
    if (!ok) {
        mr_fwd_free(s);
        return mr_fail(e, MR_ENOMEM, "out of memory for the estimators");
    }
    /* ---- objectives */
    double L1 = 0;
    for (int i = 0; i < 11; i++) L1 += c->c1[i] * out->stage1_terms[i];
    out->loss_stage1 = L1;
    const double *I = out->mi;
    double *dv = out->derived;
    dv[0] = I[0], dv[1] = I[1], dv[2] = I[2];
    dv[3] = I[3] + I[4];
    dv[4] = I[9] + I[10] - I[6] - I[8];
    dv[5] = I[5] - I[6];
    dv[6] = I[7] - I[8];
    dv[7] = I[6] + I[8];
    /* L2 = task + c2[0..2]·mi_loss_f_* − c2[3..7]·(inv, spec_T, spec_A, spec_V, comp) */
    out->loss_stage2 = out->loss_task + c->c2[0] * out->stage1_terms[0] + c->c2[1] * out->stage1_terms[1] +
                       c->c2[2] * out->stage1_terms[2] - c->c2[3] * dv[3] - c->c2[4] * dv[4] - c->c2[5] * dv[5] -
                       c->c2[6] * dv[6] - c->c2[7] * dv[7];
    *state = s;
    return MR_OK;
}

/* ---------------------------------------------------------------- backward */

static void vmi_backward(mr_model *m, mr_fwd *s, int i, double scale_mi, double scale_loss, int to_features) {
    const mr_model_cfg *c = &m->cfg;
    size_t B = s->in.B;
    int base = mr_bound_uses_baseline(c->bound);
    double *dS = calloc(B * B, sizeof *dS), *dla = calloc(B, sizeof *dla);
    if (!dS || !dla) {
        free(dS);
        free(dla);
        return;
    }
    if (scale_mi != 0.0) mr_bound_mi(c->bound, s->S[i], B, base ? s->la[i] : NULL, &c->bopt, dS, base ? dla : NULL, scale_mi, s->bw);
    if (scale_loss != 0.0)
        mr_bound_loss(c->bound, s->S[i], B, base ? s->la[i] : NULL, &c->bopt, dS, base ? dla : NULL, scale_loss, s->bw);
    double *dx = to_features ? s->dfeat[vmi_src[i][0]] : NULL, *dy = to_features ? s->dfeat[vmi_src[i][1]] : NULL;
    if (base) mr_baseline_backward(&m->vmi[i], &m->p, s->feat[vmi_src[i][1]], B, dla, dy, s->cw[i]);
    mr_critic_backward(&m->vmi[i], &m->p, s->feat[vmi_src[i][0]], s->feat[vmi_src[i][1]], B, dS, dx, dy, s->cw[i]);
    free(dS);
    free(dla);
}

static void cmi_backward(mr_model *m, mr_fwd *s, int j, double g_cmi, double g_bce, int to_features) {
    size_t D = m->cfg.d_common;
    if (s->Mp == 0) return;
    /* the forward's workspace holds the last forward of this estimator: run it again
     * so the read-out matches (the forward is deterministic) */
    mr_cmi_forward(&m->vcmi[j], &m->p, s->J[j], s->P[j], s->Mp, m->cfg.cmi_readout, s->qw[j]);
    double *dJ = to_features ? calloc(s->Mp * 3 * D, sizeof *dJ) : NULL;
    mr_cmi_backward(&m->vcmi[j], &m->p, s->Mp, m->cfg.cmi_readout, g_cmi, g_bce, dJ, s->qw[j]);
    if (dJ) {
        int x = cmi_src[j][0], y = cmi_src[j][1], z = cmi_src[j][2];
        size_t w[5] = {D, D, D, D, 1};
        /* the label block gets no gradient */
        mr_cmi_joint_rows_backward(dJ, w[x], w[y], w[z], s->Mp, D, x == FC ? NULL : s->dfeat[x], y == FC ? NULL : s->dfeat[y],
                                   z == FC ? NULL : s->dfeat[z]);
        free(dJ);
    }
}

typedef struct {
    double *dpool[2], *dy[2], *scratch[2]; /* audio, visual */
} branch_grads;

/* tail + encoder backward of one branch (gradients of its own parameters only) */
static void branch_backward(mr_model *m, mr_fwd *s, int v, void *arg) {
    const branch_grads *bg = arg;
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    size_t B = s->in.B, D = c->d_common, L = v ? s->in.Lv : s->in.La, d = v ? c->d_v : c->d_a;
    const double *x = v ? s->in.vision : s->in.audio;
    if (v)
        mr_av_tail_backward(bg->dpool[1], s->yv, B * L, D, P_(p, m->ln_v_g), s->mk_v, s->ln_v, s->mu_v, s->rs_v, s->re_v, bg->dy[1],
                            G_(p, m->ln_v_g), G_(p, m->ln_v_b), bg->scratch[1]);
    else
        mr_av_tail_backward(bg->dpool[0], s->ya, B * L, D, P_(p, m->ln_a_g), s->mk_a, s->ln_a, s->mu_a, s->rs_a, s->re_a, bg->dy[0],
                            G_(p, m->ln_a_g), G_(p, m->ln_a_b), bg->scratch[0]);
    if (c->encoder == MR_ENC_CONV)
        mr_conv1d_backward(NULL, G_(p, v ? m->conv_v_w : m->conv_a_w), G_(p, v ? m->conv_v_b : m->conv_a_b), bg->dy[v], x,
                           P_(p, v ? m->conv_v_w : m->conv_a_w), B, L, d, D);
    else
        mr_rnn_backward(v ? &m->rnn_v : &m->rnn_a, p, x, B, L, v ? s->vlen : s->alen, bg->dy[v], NULL, v ? s->rc_v : s->rc_a,
                        v ? s->rw_v : s->rw_a);
}

static void main_backward(mr_model *m, mr_fwd *s, const double *dout) {
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    size_t B = s->in.B, Lt = s->in.Lt, La = s->in.La, Lv = s->in.Lv, D = c->d_common, T = c->time_len;
    size_t Lo = c->out[c->nb - 1][0], Ko = c->out[c->nb - 1][1], Do = c->out[c->nb - 1][2];
    double *denc = calloc(B * Lo * Ko * Do, sizeof *denc), *dX0 = calloc(B * T * 3 * D, sizeof *dX0);
    double *dt = calloc(B * Lt * D, sizeof *dt), *da = calloc(B * La * D, sizeof *da), *dv = calloc(B * Lv * D, sizeof *dv);
    double *dtl = calloc(B * Lt * D, sizeof *dtl), *dya = calloc(B * La * D, sizeof *dya), *dyv = calloc(B * Lv * D, sizeof *dyv);
    double *sc = calloc(2 * B * (La + Lv) * D, sizeof *sc); /* tail scratch, one part per branch */
    if (!denc || !dX0 || !dt || !da || !dv || !dtl || !dya || !dyv || !sc) goto out;
    if (dout) mr_head_backward(&m->head, p, s->feat[FF], B, dout, s->dfeat[FF], s->head_cache);
    mr_compose_backward(s->dfeat[FF], B, Lo, Ko, Do, c->compose_k, c->compose_t, denc);
    mr_cubemlp_backward(&m->cube, p, B, denc, dX0, s->cube_cache, s->cube_work);
    double *dm[3] = {dt, da, dv};
    size_t Ls[3] = {Lt, La, Lv};
    mr_stack_backward(dX0, B, T, D, dm, Ls);
    mr_pool_mean_backward(s->dfeat[FT], B, Lt, D, NULL, dt);
    mr_pool_mean_backward(s->dfeat[FA], B, La, D, c->masked_pool ? s->alen : NULL, da);
    mr_pool_mean_backward(s->dfeat[FV], B, Lv, D, c->masked_pool ? s->vlen : NULL, dv);
    /* text */
    mr_dropout_backward(dtl, dt, s->t_mask, B * Lt * D);
    mr_linear_backward(NULL, G_(p, m->W_t), NULL, dtl, s->in.text, P_(p, m->W_t), B * Lt, c->d_t, D);
    /* audio / visual */
    branch_grads bg = {{da, dv}, {dya, dyv}, {sc, sc + 2 * B * La * D}};
    both_branches(branch_backward, m, s, &bg);
out:
    free(denc);
    free(dX0);
    free(dt);
    free(da);
    free(dv);
    free(dtl);
    free(dya);
    free(dyv);
    free(sc);
}

void mr_model_backward(mr_model *m, mr_fwd *s, int stage, int full) {
    const mr_model_cfg *c = &m->cfg;
    size_t B = s->in.B, D = c->d_common;
    for (int k = 0; k < 4; k++) memset(s->dfeat[k], 0, B * D * sizeof(double));
    if (stage == 1) {
        if (!s->has_mi) return;
        for (int i = 0; i < MR_NVMI; i++) vmi_backward(m, s, i, 0.0, c->c1[i], full);
        for (int j = 0; j < MR_NCMI; j++) cmi_backward(m, s, j, 0.0, c->c1[5 + j], full);
        if (full) main_backward(m, s, NULL);
        return;
    }
    double *dout = calloc(B, sizeof *dout);
    if (!dout) return;
    task_loss(c->loss, s->output, s->in.label, B, dout, 1.0);
    if (s->has_mi) {
        for (int i = 0; i < 3; i++) vmi_backward(m, s, i, 0.0, c->c2[i], 1);
        for (int i = 3; i < 5; i++) vmi_backward(m, s, i, -c->c2[3], 0.0, 1);
        for (int j = 0; j < MR_NCMI; j++) cmi_backward(m, s, j, cmi_coef(c->c2, j), 0.0, 1);
    }
    main_backward(m, s, dout);
    free(dout);
}
