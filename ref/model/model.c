/* model.c — see model.h. */
#include "ref/model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/core/blas.h"
#include "ref/core/pool.h"
#include "ref/model/encoders.h"
#include "ref/nn/layers.h"
#include "ref/nn/losses.h"

const char *const mr_vmi_names[MR_NVMI] = {"f_t", "f_a", "f_v", "t_a", "t_v"};
const char *const mr_cmi_names[MR_NCMI] = {"ac_t", "ta_c", "vc_t", "tv_c", "tc_a", "tc_v"};
const char *const mr_mi_labels[MR_NMI] = {"I(F;T)",   "I(F;A)",   "I(F;V)",   "I(T;A)",   "I(T;V)",  "I(A;C|T)",
                                      "I(T;A|C)", "I(V;C|T)", "I(T;V|C)", "I(T;C|A)", "I(T;C|V)"};
const char *const mr_derived_labels[MR_NDERIVED] = {"ft", "fa", "fv", "in", "st", "sa", "sv", "cp"};

/* feature ids: 0 T_F, 1 A_F, 2 V_F, 3 F_F, 4 label */
enum { FT = 0, FA, FV, FF, FC };
_Static_assert(FA + MR_AUDIO == FA && FA + MR_VISUAL == FV, "branch v pools into feature FA + v");
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
    mr_bert_config_base(&c->bert_cfg);
    for (int k = 0; k < MR_NMI; k++) c->c1[k] = 0.1;
    for (int k = 0; k < MR_NDERIVED; k++) c->c2[k] = 0.1;
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

/* the per-branch state_dict prefixes: conv_a, rnn_a, ln_a / conv_v, rnn_v, ln_v */
static const char branch_tag[MR_NBRANCH] = {'a', 'v'};

int mr_model_build(mr_model *m, const mr_model_cfg *c, mr_error *e) {
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    mr_params_init(&m->p);
    size_t D = c->d_common;
    m->br[MR_AUDIO].d_in = c->d_a;
    m->br[MR_VISUAL].d_in = c->d_v;
    char name[MR_NAME_MAX];
    int rc = MR_OK;
    if (c->bert) {
        if ((rc = mr_bert_config_check(&c->bert_cfg, "BERT config", e))) return rc;
        m->cfg.d_t = c->bert_cfg.hidden_size;
        if ((rc = mr_bert_add(&m->bert, &m->p, &c->bert_cfg, "bertmodel.", e))) {
            mr_params_free(&m->p);
            return rc;
        }
    }
    c = &m->cfg;
    /* registration order is the official state_dict order: conv_a, conv_v or
     * rnn_v, rnn_a; then ln_a, ln_v */
    if (c->encoder == MR_ENC_CONV) {
        for (int v = 0; v < MR_NBRANCH && !rc; v++) {
            mr_branch *b = &m->br[v];
            snprintf(name, sizeof name, "conv_%c.weight", branch_tag[v]);
            rc = addp(&m->p, &b->conv_w, name, 3, D, b->d_in, 3, e);
            snprintf(name, sizeof name, "conv_%c.bias", branch_tag[v]);
            if (!rc) rc = addp(&m->p, &b->conv_b, name, 1, D, 0, 0, e);
        }
    } else {
        mr_rnn_kind k = c->encoder == MR_ENC_GRU ? MR_RNN_GRU : MR_RNN_LSTM;
        size_t layers = c->encoder == MR_ENC_GRU ? 2 : 1;
        for (int v = MR_NBRANCH; v-- > 0 && !rc;) {
            snprintf(name, sizeof name, "rnn_%c", branch_tag[v]);
            rc = mr_rnn_register(&m->br[v].rnn, &m->p, name, k, m->br[v].d_in, D, layers, e);
        }
    }
    for (int v = 0; v < MR_NBRANCH && !rc; v++) {
        snprintf(name, sizeof name, "ln_%c.weight", branch_tag[v]);
        rc = addp(&m->p, &m->br[v].ln_g, name, 1, D, 0, 0, e);
        snprintf(name, sizeof name, "ln_%c.bias", branch_tag[v]);
        if (!rc) rc = addp(&m->p, &m->br[v].ln_b, name, 1, D, 0, 0, e);
    }
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
    for (int i = 0; i < MR_NVMI && !rc; i++) {
        snprintf(name, sizeof name, "vmi_estimator_%s", mr_vmi_names[i]);
        rc = mr_critic_register(&m->vmi[i], &m->p, name, c->critic, c->baseline, D, D, MR_CRITIC_HIDDEN, MR_CRITIC_EMBED,
                                MR_CRITIC_LAYERS, e);
    }
    for (int i = 0; i < MR_NCMI && !rc; i++) {
        snprintf(name, sizeof name, "vcmi_estimator_%s", mr_cmi_names[i]);
        rc = mr_cmi_register(&m->vcmi[i], &m->p, name, D, MR_CMI_HIDDEN, c->cmi_head, e);
    }
    if (!rc && c->k_neighbor == 0) rc = mr_fail(e, MR_EINVAL, "--k_neighbor must be at least 1");
    if (!rc) rc = mr_params_alloc(&m->p, e);
    if (!rc && c->bert && !(m->frozen = calloc(m->p.n, 1))) rc = mr_fail(e, MR_ENOMEM, "out of memory");
    if (rc) mr_params_free(&m->p);
    return rc;
}

static void uni(mr_params *p, size_t idx, double k, gsl_rng *r) {
    double *x = mr_params_val(p, idx);
    for (size_t i = 0; i < p->t[idx].size; i++) x[i] = k * (2.0 * gsl_rng_uniform(r) - 1.0);
}

void mr_model_init(mr_model *m, unsigned long seed) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    if (c->encoder == MR_ENC_CONV) {
        for (int v = 0; v < MR_NBRANCH; v++) {
            double k = 1.0 / sqrt(3.0 * (double)m->br[v].d_in);
            uni(p, m->br[v].conv_w, k, r);
            uni(p, m->br[v].conv_b, k, r);
        }
    } else {
        for (int v = MR_NBRANCH; v-- > 0;) mr_rnn_init(&m->br[v].rnn, p, r);
    }
    for (int v = 0; v < MR_NBRANCH; v++) {
        double *g = mr_params_val(p, m->br[v].ln_g), *b = mr_params_val(p, m->br[v].ln_b);
        for (size_t i = 0; i < p->t[m->br[v].ln_g].size; i++) g[i] = 1.0, b[i] = 0.0;
    }
    uni(p, m->W_t, 1.0 / sqrt((double)c->d_t), r);
    mr_cubemlp_init(&m->cube, p, r);
    mr_head_init(&m->head, p, r);
    for (int i = 0; i < MR_NVMI; i++) mr_critic_init(&m->vmi[i], p, r);
    for (int i = 0; i < MR_NCMI; i++) mr_cmi_init(&m->vcmi[i], p, r);
    /* BERT (HF init) last, from the same stream: the other tensors' values do
     * not depend on whether BERT is on */
    if (c->bert) mr_bert_init(&m->bert, p, r);
    gsl_rng_free(r);
}

void mr_model_free(mr_model *m) {
    mr_params_free(&m->p);
    free(m->frozen);
    m->frozen = NULL;
}

void mr_model_bert_freeze(mr_model *m, mr_bert_freeze_mode mode) {
    if (!m->cfg.bert || !m->frozen) return;
    memset(m->frozen, 0, m->p.n);
    mr_bert_freeze(&m->bert, &m->p, mode, m->frozen);
}

int mr_model_is_bert(const mr_model *m, size_t i) {
    return m->cfg.bert && i >= m->bert.t0 && i < m->bert.t0 + m->bert.ntensors;
}

int mr_model_is_estimator(const mr_model *m, size_t i) { return i >= m->n_main; }


int mr_model_write(const mr_model *m, mr_npz_writer *w, const char *config_json, int with_optim, mr_error *e) {
    int rc = mr_params_write(&m->p, w, config_json, with_optim, e);
    if (rc || !m->cfg.bert) return rc;
    char *js = mr_bert_config_to_json(&m->cfg.bert_cfg);
    if (!js) return mr_fail(e, MR_ENOMEM, "out of memory");
    uint64_t n = strlen(js);
    rc = mr_npz_add(w, "bert_config_json", MR_DT_U1, 1, &n, js, e);
    free(js);
    return rc;
}

int mr_model_save(const mr_model *m, const char *path, const char *config_json, int with_optim, mr_error *e) {
    mr_npz_writer w;
    int rc = mr_npz_writer_open(&w, path, 0, e);
    if (rc) return rc;
    if ((rc = mr_model_write(m, &w, config_json, with_optim, e))) {
        mr_npz_writer_abort(&w);
        return rc;
    }
    return mr_npz_writer_close(&w, e);
}

/* -------------------------------------------------------------- workspace */

/* one branch's buffers, each for the workspace's largest B·L */
typedef struct {
    int *len;                                  /* [B] */
    double *y, *rc, *rw;                       /* encoder output [B·L·D], rnn cache / work */
    double *ln, *mu, *rs, *re, *mk, *d;        /* tail caches, mask, output */
    double *dpool, *dy, *scratch;              /* backward: d(tail out), d(encoder out), tail scratch [2·B·L·D] */
} branch_ws;

#define MR_WS_MAXBUF 128 /* the buffers below number 101 */

struct mr_workspace {
    mr_step_dims max;
    size_t rc_cap[MR_NBRANCH], rw_cap[MR_NBRANCH], cube_cap; /* allocated sizes */
    void *buf[MR_WS_MAXBUF];
    size_t nbuf, bytes, buf_n[MR_WS_MAXBUF]; /* buf_n: the doubles of buf[i], 0 for other element types */
    int eval_only; /* mr_workspace_create_eval: no backward caches, no activation gradients */
    /* the last forward */
    int ready, has_mi, last_eval; /* last_eval: it was mr_model_forward_eval (no backward from it) */
    mr_inputs in;
    double *t_lin, *t_mask, *t_d;
    branch_ws br[MR_NBRANCH];
    double *feat[5];                           /* T_F, A_F, V_F, F_F, label */
    double *X0, *cube_cache, *cube_work, *enc, *head_cache, *head_mask, *output;
    double *S[MR_NVMI], *la[MR_NVMI], *cw[MR_NVMI], *bw;
    size_t Mp;
    double *J[MR_NCMI], *P[MR_NCMI], *qw[MR_NCMI];
    int64_t *anchors[MR_NCMI], *neighbors[MR_NCMI];
    void *knn;                                 /* k-NN sampling scratch */
    /* activation gradients */
    double *dfeat[4], *dout, *head_work, *denc, *dX0, *dt, *dtl, *dS, *dla, *dJ;
    /* BERT (cfg.bert): its output = the text features, their gradient, its cache */
    double *bert_out, *bert_dout;
    mr_bert_ws bws;
    int has_bws;
    mr_pool *pool; /* the branch threads: 2 lanes (audio on the caller, visual on the pool's thread) or 1 */
};

/* zeroed (calloc), although no step reads what it did not write
 * (mr_workspace_poison); dbl: the buffer holds doubles */
static void *take(mr_workspace *w, size_t n, size_t size, int dbl) {
    if (!w || w->nbuf == MR_WS_MAXBUF) return NULL;
    void *p = calloc(n ? n : 1, size);
    if (p) w->buf_n[w->nbuf] = dbl ? (n ? n : 1) : 0, w->buf[w->nbuf++] = p, w->bytes += (n ? n : 1) * size;
    return p;
}
#define TAKE(ok, w, p, n) ((ok) = (ok) && ((p) = take((w), (n), sizeof *(p), _Generic((p), double *: 1, default: 0))) != NULL)

void mr_workspace_poison(mr_workspace *w, double v) {
    for (size_t i = 0; i < w->nbuf; i++)
        for (size_t k = 0; k < w->buf_n[i]; k++) ((double *)w->buf[i])[k] = v;
}

void mr_workspace_free(mr_workspace *w) {
    if (!w) return;
    for (size_t i = 0; i < w->nbuf; i++) free(w->buf[i]);
    if (w->has_bws) mr_bert_ws_free(&w->bws);
    mr_pool_destroy(w->pool);
    free(w);
}

static size_t branch_len(const mr_step_dims *d, int v) { return v == MR_VISUAL ? d->Lv : d->La; }

static int branch_parallel(void); /* below, with the encoder threads */

mr_step_dims mr_workspace_dims(const mr_workspace *ws) { return ws->max; }

size_t mr_workspace_bytes(const mr_workspace *ws) { return ws->bytes; }

int mr_workspace_eval_only(const mr_workspace *ws) { return ws->eval_only; }

static int workspace_create(const mr_model *m, const mr_step_dims *max, int eval_only, mr_workspace **out, mr_error *e);

int mr_workspace_create(const mr_model *m, const mr_step_dims *max, mr_workspace **out, mr_error *e) {
    return workspace_create(m, max, 0, out, e);
}

int mr_workspace_create_eval(const mr_model *m, const mr_step_dims *max, mr_workspace **out, mr_error *e) {
    return workspace_create(m, max, 1, out, e);
}

/* eval_only: the buffers of mr_model_forward_eval only (the encoders' cache
 * at its evaluation size, no activation gradients, BERT with one chunk of
 * activations per thread) */
static int workspace_create(const mr_model *m, const mr_step_dims *max, int eval_only, mr_workspace **out, mr_error *e) {
    *out = NULL;
    const mr_model_cfg *c = &m->cfg;
    size_t B = max->B, Lt = max->Lt, D = c->d_common, T = c->time_len;
    if (B == 0 || Lt == 0 || max->La == 0 || max->Lv == 0) return mr_fail(e, MR_EINVAL, "workspace for an empty batch or sequence");
    mr_workspace *w = calloc(1, sizeof *w);
    if (!w) return mr_fail(e, MR_ENOMEM, "out of memory for the step workspace");
    w->max = *max;
    w->eval_only = eval_only;
    const int tr = !eval_only; /* 1: the training buffers too */
    /* the branch threads, started here once for every step of the workspace */
    mr_error pe = {0};
    if (!(w->pool = mr_pool_create(branch_parallel() ? 2 : 1, &pe))) {
        free(w);
        return mr_fail(e, pe.code, "step workspace: %s (MIMRL_ENCODER_THREADS=1: none)", pe.msg);
    }
    int ok = 1;
    TAKE(ok, w, w->t_lin, B * Lt * D), TAKE(ok, w, w->t_mask, B * Lt * D), TAKE(ok, w, w->t_d, B * Lt * D);
    if (tr) TAKE(ok, w, w->dt, B * Lt * D), TAKE(ok, w, w->dtl, B * Lt * D);
    for (int v = 0; v < MR_NBRANCH; v++) {
        branch_ws *b = &w->br[v];
        size_t n = B * branch_len(max, v);
        TAKE(ok, w, b->len, B), TAKE(ok, w, b->y, n * D), TAKE(ok, w, b->ln, n * D), TAKE(ok, w, b->mu, n);
        TAKE(ok, w, b->rs, n), TAKE(ok, w, b->re, n * D), TAKE(ok, w, b->mk, n * D), TAKE(ok, w, b->d, n * D);
        if (tr) TAKE(ok, w, b->dpool, n * D), TAKE(ok, w, b->dy, n * D), TAKE(ok, w, b->scratch, 2 * n * D);
        if (c->encoder != MR_ENC_CONV) {
            /* the training cache also serves as the evaluation forward's scratch (eval size ≤ cache size) */
            w->rc_cap[v] = tr ? mr_rnn_cache_size(&m->br[v].rnn, B, branch_len(max, v)) : mr_rnn_eval_size(&m->br[v].rnn, B, branch_len(max, v));
            w->rw_cap[v] = tr ? mr_rnn_work_size(&m->br[v].rnn, B, branch_len(max, v)) : mr_rnn_forward_work_size(&m->br[v].rnn, B, branch_len(max, v));
            TAKE(ok, w, b->rc, w->rc_cap[v]), TAKE(ok, w, b->rw, w->rw_cap[v]);
        }
    }
    for (int k = 0; k < 5; k++) TAKE(ok, w, w->feat[k], B * (k == FC ? 1 : D));
    for (int k = 0; k < 4 && tr; k++) TAKE(ok, w, w->dfeat[k], B * D);
    size_t Lo = c->out[c->nb - 1][0], Ko = c->out[c->nb - 1][1], Do = c->out[c->nb - 1][2];
    w->cube_cap = mr_cubemlp_cache_size(&m->cube, B);
    TAKE(ok, w, w->X0, B * T * 3 * D);
    if (tr) TAKE(ok, w, w->dX0, B * T * 3 * D);
    TAKE(ok, w, w->cube_cache, w->cube_cap), TAKE(ok, w, w->cube_work, mr_cubemlp_work_size(&m->cube, B));
    TAKE(ok, w, w->enc, B * Lo * Ko * Do);
    TAKE(ok, w, w->head_cache, mr_head_cache_size(&m->head, B));
    TAKE(ok, w, w->head_mask, B * MR_HEAD_WIDTH), TAKE(ok, w, w->output, B);
    if (tr) TAKE(ok, w, w->denc, B * Lo * Ko * Do), TAKE(ok, w, w->head_work, mr_head_work_size(&m->head, B)), TAKE(ok, w, w->dout, B);
    /* estimators */
    for (int i = 0; i < MR_NVMI; i++) {
        size_t cw = mr_critic_work_size(&m->vmi[i], B);
        TAKE(ok, w, w->S[i], B * B), TAKE(ok, w, w->la[i], B), TAKE(ok, w, w->cw[i], cw);
    }
    TAKE(ok, w, w->bw, mr_bound_work_size(B));
    if (tr) TAKE(ok, w, w->dS, B * B), TAKE(ok, w, w->dla, B);
    size_t k = c->k_neighbor, mA = B / k, Mp = mA * k;
    for (int j = 0; j < MR_NCMI; j++) {
        TAKE(ok, w, w->J[j], Mp * 3 * D), TAKE(ok, w, w->P[j], Mp * 3 * D), TAKE(ok, w, w->qw[j], mr_cmi_work_size(&m->vcmi[j], Mp));
        TAKE(ok, w, w->anchors[j], mA), TAKE(ok, w, w->neighbors[j], Mp);
    }
    if (tr) TAKE(ok, w, w->dJ, Mp * 3 * D);
    uint64_t *knn = NULL; /* 8-byte aligned */
    TAKE(ok, w, knn, (mr_knn_work_bytes(max->N, k) + 7) / 8);
    w->knn = knn;
    if (ok && c->bert) {
        size_t H = c->d_t;
        TAKE(ok, w, w->bert_out, B * Lt * H);
        if (tr) TAKE(ok, w, w->bert_dout, B * Lt * H);
        mr_error be = {0};
        size_t chunk = c->bert_chunk ? c->bert_chunk : 8;
        if (chunk > B) chunk = B;
        /* BERT's chunk forwards on as many threads as the branches (bert.h "Threads"): the same bits either way */
        int keep = tr && c->bert_keep, lanes = mr_pool_lanes(w->pool); /* evaluation keeps no chunk beyond one per thread */
        int rc = ok ? mr_bert_ws_alloc_threads(&w->bws, &m->bert, B, Lt, chunk, keep, lanes, &be) : MR_ENOMEM;
        if (rc == MR_OK) {
            w->has_bws = 1;
            w->bytes += (mr_bert_cache_size_threads(&m->bert, B, Lt, chunk, keep, lanes) + (size_t)lanes * mr_bert_work_size(&m->bert, chunk, Lt)) *
                            sizeof(double) + B * sizeof(unsigned long);
        }
        else if (ok) { /* its own message: the bytes or the threads it asked for */
            mr_workspace_free(w);
            return mr_fail(e, rc, "step workspace: %s", be.msg);
        }
    }
    if (!ok) {
        mr_workspace_free(w);
        return mr_fail(e, MR_ENOMEM, "out of memory for the step workspace (batch %zu, lengths %zu/%zu/%zu, bank %zu rows)",
                       B, Lt, max->La, max->Lv, max->N);
    }
    *out = w;
    return MR_OK;
}

/* the inputs against the workspace's sizes */
static int fits(const mr_model *m, const mr_workspace *w, const mr_inputs *in, const mr_banks *banks, int eval, mr_error *e) {
    const mr_step_dims *x = &w->max;
    if (in->B > x->B) return mr_fail(e, MR_EINVAL, "batch size B = %zu exceeds the workspace's %zu", in->B, x->B);
    if (in->Lt > x->Lt) return mr_fail(e, MR_EINVAL, "text length Lt = %zu exceeds the workspace's %zu", in->Lt, x->Lt);
    if (in->La > x->La) return mr_fail(e, MR_EINVAL, "audio length La = %zu exceeds the workspace's %zu", in->La, x->La);
    if (in->Lv > x->Lv) return mr_fail(e, MR_EINVAL, "visual length Lv = %zu exceeds the workspace's %zu", in->Lv, x->Lv);
    if (banks && banks->N > x->N)
        return mr_fail(e, MR_EINVAL, "feature bank of N = %zu rows exceeds the workspace's %zu", banks->N, x->N);
    /* sizes computed by the layers themselves (monotone in B and L; checked anyway) */
    if (m->cfg.encoder != MR_ENC_CONV)
        for (int v = 0; v < MR_NBRANCH; v++) {
            size_t L = v == MR_VISUAL ? in->Lv : in->La;
            size_t need = eval ? mr_rnn_eval_size(&m->br[v].rnn, in->B, L) : mr_rnn_cache_size(&m->br[v].rnn, in->B, L);
            size_t work = eval ? mr_rnn_forward_work_size(&m->br[v].rnn, in->B, L) : mr_rnn_work_size(&m->br[v].rnn, in->B, L);
            if (need > w->rc_cap[v] || work > w->rw_cap[v])
                return mr_fail(e, MR_EINVAL, "encoder buffers for B = %zu, L = %zu exceed the workspace", in->B, L);
        }
    if (mr_cubemlp_cache_size(&m->cube, in->B) > w->cube_cap)
        return mr_fail(e, MR_EINVAL, "CubeMLP cache for B = %zu exceeds the workspace", in->B);
    return MR_OK;
}

static void masks(double *mk, size_t n, double p, gsl_rng *r) {
    if (r) mr_dropout_mask(mk, n, p, r);
    else
        for (size_t i = 0; i < n; i++) mk[i] = 1.0;
}

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
 * cores they run on two lanes of the workspace's pool (its thread started
 * with the workspace; OpenBLAS at 1 thread meanwhile), each computing
 * exactly what it computes sequentially, so the results do not depend on
 * it. MIMRL_ENCODER_THREADS=1 keeps them sequential, =2 makes two lanes
 * whatever the cores; both are read when a workspace is created. */
typedef void branch_fn(mr_model *, mr_workspace *, int);

typedef struct {
    branch_fn *fn;
    mr_model *m;
    mr_workspace *w;
} branch_job;

/* task 0: audio (lane 0, the caller), task 1: visual */
static void branch_task(void *v, int k) {
    branch_job *j = v;
    j->fn(j->m, j->w, k == 0 ? MR_AUDIO : MR_VISUAL);
}

static int branch_threads; /* 0: decide from MIMRL_ENCODER_THREADS and the cores */

void mr_model_branch_threads(int n) { branch_threads = n == 1 || n == 2 ? n : 0; }

static int branch_parallel(void) {
    if (branch_threads) return branch_threads == 2;
    const char *e = getenv("MIMRL_ENCODER_THREADS");
    if (e && atoi(e) == 1) return 0;
    if (e && atoi(e) == 2) return 1;
    return sysconf(_SC_NPROCESSORS_ONLN) >= 2;
}

static void both_branches(branch_fn *fn, mr_model *m, mr_workspace *w) {
    branch_job j = {fn, m, w};
    if (mr_pool_lanes(w->pool) > 1) {
        int old = mr_blas_threads_set(1);
        mr_pool_run(w->pool, MR_NBRANCH, branch_task, &j);
        mr_blas_threads_set(old);
    } else {
        branch_task(&j, 0);
        branch_task(&j, 1);
    }
}

static size_t in_len(const mr_inputs *in, int v) { return v == MR_VISUAL ? in->Lv : in->La; }
static const double *in_seq(const mr_inputs *in, int v) { return v == MR_VISUAL ? in->vision : in->audio; }

/* encoder + tail of one branch */
static void branch_forward(mr_model *m, mr_workspace *w, int v) {
    const mr_branch *br = &m->br[v];
    branch_ws *b = &w->br[v];
    mr_params *p = &m->p;
    size_t B = w->in.B, D = m->cfg.d_common, L = in_len(&w->in, v);
    const double *x = in_seq(&w->in, v);
    if (m->cfg.encoder == MR_ENC_CONV) {
        mr_conv1d_forward(b->y, x, mr_params_val(p, br->conv_w), mr_params_val(p, br->conv_b), B, L, br->d_in, D);
    } else {
        /* the encoder's cache and scratch are not cleared: the recurrence
         * writes every element it reads later (mr_workspace_poison; clearing
         * them cost 3.3 GB of stores per MOSI-shaped forward) */
        int ev = w->last_eval; /* the evaluation forward: rc is scratch of mr_rnn_eval_size() */
        if (ev) mr_rnn_forward_eval(&br->rnn, p, x, B, L, b->len, b->y, b->rc, b->rw);
        else mr_rnn_forward(&br->rnn, p, x, B, L, b->len, b->y, b->rc, b->rw);
    }
    mr_av_tail_forward(b->y, B * L, D, mr_params_val(p, br->ln_g), mr_params_val(p, br->ln_b), b->mk, b->ln, b->mu, b->rs, b->re, b->d);
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

/* the 5 variational estimators (spec §2, §4.1) */
static void vmi_forward(mr_model *m, mr_workspace *w, mr_step *out) {
    const mr_model_cfg *c = &m->cfg;
    size_t B = w->in.B;
    int base = mr_bound_uses_baseline(c->bound);
    for (int i = 0; i < MR_NVMI; i++) {
        const double *x = w->feat[vmi_src[i][0]], *y = w->feat[vmi_src[i][1]];
        mr_critic_forward(&m->vmi[i], &m->p, x, y, B, w->S[i], w->cw[i]);
        if (base) mr_baseline_forward(&m->vmi[i], &m->p, y, B, w->la[i], w->cw[i]);
        out->mi[i] = mr_bound_mi(c->bound, w->S[i], B, base ? w->la[i] : NULL, &c->bopt, NULL, NULL, 0, w->bw);
        out->stage1_terms[i] = mr_bound_loss(c->bound, w->S[i], B, base ? w->la[i] : NULL, &c->bopt, NULL, NULL, 0, w->bw);
    }
}

/* the 6 conditional estimators (spec §3, §4.1) */
static int cmi_forward(mr_model *m, mr_workspace *w, const mr_banks *banks, const mr_rand *r, mr_step *out, mr_error *e) {
    const mr_model_cfg *c = &m->cfg;
    size_t D = c->d_common, k = c->k_neighbor, mA = w->in.B / k, N = banks->N;
    w->Mp = mA * k;
    out->m_anchor = mA;
    out->k = k;
    const double *bank[5] = {banks->T, banks->A, banks->V, NULL, banks->label};
    size_t wd[5] = {D, D, D, D, 1};
    for (int j = 0; j < MR_NCMI && mA > 0; j++) {
        int x = cmi_src[j][0], y = cmi_src[j][1], z = cmi_src[j][2];
        int rc = MR_OK;
        if (r && r->given[j]) memcpy(w->anchors[j], r->given[j], mA * sizeof(int64_t));
        else if (!r || !r->anchor)
            return mr_fail(e, MR_EINVAL, "CMI estimator %s: no anchors given and no anchor stream", mr_cmi_names[j]);
        else rc = mr_knn_draw_anchors_ws(N, mA, r->anchor, w->anchors[j], w->knn, e);
        if (!rc && r && r->given_nb[j]) memcpy(w->neighbors[j], r->given_nb[j], mA * k * sizeof(int64_t));
        else if (!rc) rc = mr_knn_neighbors_ws(bank[z], wd[z], N, w->anchors[j], mA, k, w->neighbors[j], w->knn, e);
        if (!rc)
            rc = mr_knn_product_rows(bank[x], wd[x], bank[y], wd[y], bank[z], wd[z], w->anchors[j], mA, k, w->neighbors[j], D,
                                     w->P[j], e);
        if (!rc) rc = mr_cmi_joint_rows(w->feat[x], wd[x], w->feat[y], wd[y], w->feat[z], wd[z], w->Mp, D, w->J[j], e);
        if (rc) return rc;
        mr_cmi_out o = mr_cmi_forward(&m->vcmi[j], &m->p, w->J[j], w->P[j], w->Mp, c->cmi_readout, w->qw[j]);
        out->mi[MR_NVMI + j] = o.cmi;
        out->mi_nats[MR_NVMI + j] = mr_cmi_readout_value(&m->vcmi[j], w->Mp, MR_CMI_NATS_READOUT, w->qw[j]);
        out->stage1_terms[MR_NVMI + j] = o.bce;
        out->anchors[j] = w->anchors[j];
        out->neighbors[j] = w->neighbors[j];
    }
    return MR_OK;
}

/* the 8 derived quantities from the 11 terms (spec §4.3) */
static void derive(const double *I, double *dv) {
    dv[0] = I[0], dv[1] = I[1], dv[2] = I[2];
    dv[3] = I[3] + I[4];
    dv[4] = I[9] + I[10] - I[6] - I[8];
    dv[5] = I[5] - I[6];
    dv[6] = I[7] - I[8];
    dv[7] = I[6] + I[8];
}

/* the stage-1 objective and the derived terms of stage 2 (spec §4.2, §4.3) */
static void objectives(const mr_model_cfg *c, mr_step *out) {
    double L1 = 0;
    for (int i = 0; i < MR_NMI; i++) L1 += c->c1[i] * out->stage1_terms[i];
    out->loss_stage1 = L1;
    const double *dv = out->derived;
    derive(out->mi, out->derived);
    for (int i = 0; i < MR_NVMI; i++) out->mi_nats[i] = out->mi[i];
    derive(out->mi_nats, out->derived_nats);
    /* L2 = task + c2[0..2]·mi_loss_f_* − c2[3..7]·(inv, spec_T, spec_A, spec_V, comp) */
    out->loss_stage2 = out->loss_task + c->c2[0] * out->stage1_terms[0] + c->c2[1] * out->stage1_terms[1] +
                       c->c2[2] * out->stage1_terms[2] - c->c2[3] * dv[3] - c->c2[4] * dv[4] - c->c2[5] * dv[5] -
                       c->c2[6] * dv[6] - c->c2[7] * dv[7];
}

/* eval = 0: the training forward (every backward cache); 1: the evaluation
 * forward (no dropout, the encoders' and BERT's caches as scratch, nothing
 * a backward may read afterwards). The same operations either way. */
static int forward(mr_model *m, const mr_inputs *in, const mr_banks *banks, const mr_rand *r, mr_step *out,
                   mr_workspace *w, int eval, mr_error *e) {
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    size_t B = in->B, Lt = in->Lt, La = in->La, Lv = in->Lv, D = c->d_common, T = c->time_len;
    memset(out, 0, sizeof *out);
    if (!w) return mr_fail(e, MR_EINVAL, "no workspace");
    w->ready = 0;
    w->last_eval = eval;
    if (!eval && w->eval_only)
        return mr_fail(e, MR_EINVAL, "the training forward needs a training workspace (this one was made by mr_workspace_create_eval)");
    if (B == 0 || Lt == 0 || La == 0 || Lv == 0) return mr_fail(e, MR_EINVAL, "empty batch or sequence");
    int rc = fits(m, w, in, banks, eval, e);
    if (rc) return rc;
    w->in = *in;
    gsl_rng *dr = r && !eval ? r->drop : NULL;
    /* ---- text: H = BERT(ids) (its B dropout seeds first from the stream) */
    if (c->bert) {
        if (!in->bert_ids) return mr_fail(e, MR_EINVAL, "the model runs BERT: the inputs need bert_ids");
        if (!w->has_bws) return mr_fail(e, MR_EINVAL, "the workspace has no BERT buffers");
        rc = eval ? mr_bert_forward_eval(&m->bert, p, in->bert_ids, in->bert_type_ids, in->bert_att_mask, B, Lt, w->bert_out, &w->bws, e)
                  : mr_bert_forward(&m->bert, p, in->bert_ids, in->bert_type_ids, in->bert_att_mask, B, Lt, w->bert_out, dr, &w->bws, e);
        if (rc) return rc;
        w->in.text = w->bert_out;
    } else if (!in->text) return mr_fail(e, MR_EINVAL, "no text features");
    /* ---- text: t = Dropout(W_t H) */
    mr_linear_forward(w->t_lin, w->in.text, mr_params_val(p, m->W_t), NULL, B * Lt, c->d_t, D);
    masks(w->t_mask, B * Lt * D, c->dropout[0], dr);
    mr_dropout_forward(w->t_d, w->t_lin, w->t_mask, B * Lt * D);
    /* ---- audio / visual encoders and tails; the masks first (the stream's
     * order: text, audio, visual, CubeMLP, head) */
    for (int v = 0; v < MR_NBRANCH; v++) {
        mr_seq_lengths(in_seq(in, v), B, in_len(in, v), m->br[v].d_in, w->br[v].len);
        masks(w->br[v].mk, B * in_len(in, v) * D, c->dropout[1 + v], dr);
    }
    both_branches(branch_forward, m, w);
    /* ---- pooled features (before temporal padding/cropping) */
    mr_pool_mean_forward(w->t_d, B, Lt, D, NULL, w->feat[FT]);
    for (int v = 0; v < MR_NBRANCH; v++)
        mr_pool_mean_forward(w->br[v].d, B, in_len(in, v), D, c->masked_pool ? w->br[v].len : NULL, w->feat[FA + v]);
    memcpy(w->feat[FC], in->label, B * sizeof(double));
    /* ---- CubeMLP, composition, head */
    const double *mods[3] = {w->t_d, w->br[MR_AUDIO].d, w->br[MR_VISUAL].d};
    size_t Ls[3] = {Lt, La, Lv};
    size_t Lo = c->out[c->nb - 1][0], Ko = c->out[c->nb - 1][1], Do = c->out[c->nb - 1][2];
    mr_stack_forward(mods, Ls, B, T, D, w->X0);
    mr_cubemlp_forward(&m->cube, p, w->X0, B, w->enc, w->cube_cache, w->cube_work, NULL, dr);
    mr_compose_forward(w->enc, B, Lo, Ko, Do, c->compose_k, c->compose_t, w->feat[FF]);
    masks(w->head_mask, B * MR_HEAD_WIDTH, c->dropout[3], dr);
    mr_head_forward(&m->head, p, w->feat[FF], B, w->output, w->head_cache, w->head_mask, NULL);
    out->output = w->output;
    out->F_F = w->feat[FF], out->T_F = w->feat[FT], out->A_F = w->feat[FA], out->V_F = w->feat[FV];
    out->loss_task = task_loss(c->loss, w->output, in->label, B, NULL, 0.0);
    out->loss_stage2 = out->loss_task;
    w->has_mi = banks != NULL && banks->N > 0;
    out->has_mi = w->has_mi;
    if (w->has_mi) {
        vmi_forward(m, w, out);
        if ((rc = cmi_forward(m, w, banks, r, out, e))) return rc;
        objectives(c, out);
    }
    w->ready = !eval;
    return MR_OK;
}

int mr_model_forward(mr_model *m, const mr_inputs *in, const mr_banks *banks, const mr_rand *r,
                     mr_step *out, mr_workspace *w, mr_error *e) {
    return forward(m, in, banks, r, out, w, 0, e);
}

int mr_model_forward_eval(mr_model *m, const mr_inputs *in, const mr_banks *banks, const mr_rand *r, mr_step *out,
                          mr_workspace *w, mr_error *e) {
    return forward(m, in, banks, r, out, w, 1, e);
}

/* ---------------------------------------------------------------- backward */

static void zero(double *x, size_t n) { memset(x, 0, n * sizeof *x); }

static void vmi_backward(mr_model *m, mr_workspace *w, int i, double scale_mi, double scale_loss, int to_features) {
    const mr_model_cfg *c = &m->cfg;
    size_t B = w->in.B;
    int base = mr_bound_uses_baseline(c->bound);
    double *dS = w->dS, *dla = w->dla;
    zero(dS, B * B);
    zero(dla, B);
    if (scale_mi != 0.0) mr_bound_mi(c->bound, w->S[i], B, base ? w->la[i] : NULL, &c->bopt, dS, base ? dla : NULL, scale_mi, w->bw);
    if (scale_loss != 0.0)
        mr_bound_loss(c->bound, w->S[i], B, base ? w->la[i] : NULL, &c->bopt, dS, base ? dla : NULL, scale_loss, w->bw);
    double *dx = to_features ? w->dfeat[vmi_src[i][0]] : NULL, *dy = to_features ? w->dfeat[vmi_src[i][1]] : NULL;
    if (base) mr_baseline_backward(&m->vmi[i], &m->p, w->feat[vmi_src[i][1]], B, dla, dy, w->cw[i]);
    mr_critic_backward(&m->vmi[i], &m->p, w->feat[vmi_src[i][0]], w->feat[vmi_src[i][1]], B, dS, dx, dy, w->cw[i]);
}

static void cmi_backward(mr_model *m, mr_workspace *w, int j, double g_cmi, double g_bce, int to_features) {
    size_t D = m->cfg.d_common;
    if (w->Mp == 0) return;
    /* the estimator's workspace holds the last forward of this estimator: run it
     * again so the read-out matches (the forward is deterministic) */
    mr_cmi_forward(&m->vcmi[j], &m->p, w->J[j], w->P[j], w->Mp, m->cfg.cmi_readout, w->qw[j]);
    double *dJ = to_features ? w->dJ : NULL;
    if (dJ) zero(dJ, w->Mp * 3 * D);
    mr_cmi_backward(&m->vcmi[j], &m->p, w->Mp, m->cfg.cmi_readout, g_cmi, g_bce, dJ, w->qw[j]);
    if (dJ) {
        int x = cmi_src[j][0], y = cmi_src[j][1], z = cmi_src[j][2];
        size_t wd[5] = {D, D, D, D, 1};
        /* the label block gets no gradient */
        mr_cmi_joint_rows_backward(dJ, wd[x], wd[y], wd[z], w->Mp, D, x == FC ? NULL : w->dfeat[x], y == FC ? NULL : w->dfeat[y],
                                   z == FC ? NULL : w->dfeat[z]);
    }
}

/* tail + encoder backward of one branch (gradients of its own parameters only) */
static void branch_backward(mr_model *m, mr_workspace *w, int v) {
    const mr_branch *br = &m->br[v];
    branch_ws *b = &w->br[v];
    mr_params *p = &m->p;
    size_t B = w->in.B, D = m->cfg.d_common, L = in_len(&w->in, v);
    const double *x = in_seq(&w->in, v);
    zero(b->dy, B * L * D);
    mr_av_tail_backward(b->dpool, b->y, B * L, D, mr_params_val(p, br->ln_g), b->mk, b->ln, b->mu, b->rs, b->re, b->dy, mr_params_grad(p, br->ln_g),
                        mr_params_grad(p, br->ln_b), b->scratch);
    if (m->cfg.encoder == MR_ENC_CONV)
        mr_conv1d_backward(NULL, mr_params_grad(p, br->conv_w), mr_params_grad(p, br->conv_b), b->dy, x, mr_params_val(p, br->conv_w), B, L, br->d_in, D);
    else
        mr_rnn_backward(&br->rnn, p, x, B, L, b->len, b->dy, NULL, b->rc, b->rw);
}

static int main_backward(mr_model *m, mr_workspace *w, const double *dout, mr_error *e) {
    const mr_model_cfg *c = &m->cfg;
    mr_params *p = &m->p;
    size_t B = w->in.B, Lt = w->in.Lt, D = c->d_common, T = c->time_len;
    size_t Lo = c->out[c->nb - 1][0], Ko = c->out[c->nb - 1][1], Do = c->out[c->nb - 1][2];
    zero(w->denc, B * Lo * Ko * Do);
    zero(w->dX0, B * T * 3 * D);
    zero(w->dt, B * Lt * D);
    zero(w->dtl, B * Lt * D);
    for (int v = 0; v < MR_NBRANCH; v++) zero(w->br[v].dpool, B * in_len(&w->in, v) * D);
    if (dout) mr_head_backward(&m->head, p, w->feat[FF], B, dout, w->dfeat[FF], w->head_cache, w->head_work);
    mr_compose_backward(w->dfeat[FF], B, Lo, Ko, Do, c->compose_k, c->compose_t, w->denc);
    mr_cubemlp_backward(&m->cube, p, B, w->denc, w->dX0, w->cube_cache, w->cube_work);
    double *dm[3] = {w->dt, w->br[MR_AUDIO].dpool, w->br[MR_VISUAL].dpool};
    size_t Ls[3] = {Lt, w->in.La, w->in.Lv};
    mr_stack_backward(w->dX0, B, T, D, dm, Ls);
    mr_pool_mean_backward(w->dfeat[FT], B, Lt, D, NULL, w->dt);
    for (int v = 0; v < MR_NBRANCH; v++)
        mr_pool_mean_backward(w->dfeat[FA + v], B, in_len(&w->in, v), D, c->masked_pool ? w->br[v].len : NULL, w->br[v].dpool);
    /* text */
    mr_dropout_backward(w->dtl, w->dt, w->t_mask, B * Lt * D);
    double *dH = NULL;
    if (c->bert) zero(dH = w->bert_dout, B * Lt * c->d_t);
    mr_linear_backward(dH, mr_params_grad(p, m->W_t), NULL, w->dtl, w->in.text, mr_params_val(p, m->W_t), B * Lt, c->d_t, D);
    /* audio / visual */
    both_branches(branch_backward, m, w);
    /* BERT (pooler and frozen tensors get nothing) */
    if (c->bert)
        return mr_bert_backward(&m->bert, p, m->frozen, w->in.bert_ids, w->in.bert_type_ids, w->in.bert_att_mask, B, Lt, dH, &w->bws, e);
    return MR_OK;
}

int mr_model_backward(mr_model *m, mr_workspace *w, int stage, int full, mr_error *e) {
    const mr_model_cfg *c = &m->cfg;
    if (w && w->last_eval)
        return mr_fail(e, MR_EINVAL, "backward after an evaluation forward (mr_model_forward_eval keeps no backward caches): run mr_model_forward");
    if (!w || !w->ready) return mr_fail(e, MR_EINVAL, "backward without a forward in this workspace");
    if (stage != 1 && stage != 2) return mr_fail(e, MR_EINVAL, "stage must be 1 or 2 (got %d)", stage);
    size_t B = w->in.B, D = c->d_common;
    for (int k = 0; k < 4; k++) zero(w->dfeat[k], B * D);
    if (stage == 1) {
        if (!w->has_mi) return MR_OK;
        for (int i = 0; i < MR_NVMI; i++) vmi_backward(m, w, i, 0.0, c->c1[i], full);
        for (int j = 0; j < MR_NCMI; j++) cmi_backward(m, w, j, 0.0, c->c1[MR_NVMI + j], full);
        return full ? main_backward(m, w, NULL, e) : MR_OK;
    }
    zero(w->dout, B);
    task_loss(c->loss, w->output, w->in.label, B, w->dout, 1.0);
    if (w->has_mi) {
        for (int i = 0; i < 3; i++) vmi_backward(m, w, i, 0.0, c->c2[i], 1);
        for (int i = 3; i < MR_NVMI; i++) vmi_backward(m, w, i, -c->c2[3], 0.0, 1);
        for (int j = 0; j < MR_NCMI; j++) cmi_backward(m, w, j, cmi_coef(c->c2, j), 0.0, 1);
    }
    return main_backward(m, w, w->dout, e);
}

/* ------------------------------------------------- read-only accessors */

typedef struct {
    mr_ws_tensor *t;
    size_t n, cap;
    int ok;
} ws_list;

static mr_ws_tensor *ws_add(ws_list *l, int sect, int idx, const char *name, int is_int, int ndim, const uint64_t *shape,
                            const void *src) {
    if (!l->ok) return NULL;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        mr_ws_tensor *t = realloc(l->t, cap * sizeof *t);
        if (!t) return l->ok = 0, NULL;
        l->t = t, l->cap = cap;
    }
    mr_ws_tensor *t = &l->t[l->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->sect = sect, t->idx = idx, t->is_int = is_int, t->ndim = ndim, t->count = 1;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d], t->count *= shape[d];
    if (!(t->data = malloc((t->count ? t->count : 1) * 8))) return l->ok = 0, NULL;
    l->n++;
    if (src) memcpy(t->data, src, t->count * 8);
    return t;
}

void mr_ws_tensors_free(mr_ws_tensor *t, size_t n) {
    for (size_t i = 0; t && i < n; i++) free(t[i].data);
    free(t);
}

int mr_workspace_intermediates(const mr_model *m, const mr_workspace *w, mr_ws_tensor **out, size_t *n, mr_error *e) {
    *out = NULL, *n = 0;
    if (w && w->last_eval) return mr_fail(e, MR_EINVAL, "the last forward in this workspace was an evaluation forward: it keeps no intermediates");
    if (!w || !w->ready) return mr_fail(e, MR_EINVAL, "no forward in this workspace");
    const mr_model_cfg *c = &m->cfg;
    const mr_params *p = &m->p;
    size_t B = w->in.B, Lt = w->in.Lt, D = c->d_common, T = c->time_len;
    ws_list l = {NULL, 0, 0, 1};
    char name[64];
    int rc = MR_OK;
    if (c->bert) {
        size_t H = c->d_t;
        uint64_t sh[3] = {B, Lt, H};
        for (size_t k = 0; k <= c->bert_cfg.num_hidden_layers && !rc && l.ok; k++) {
            if (k == 0) snprintf(name, sizeof name, "bert/embeddings");
            else snprintf(name, sizeof name, "bert/layer.%zu", k - 1);
            mr_ws_tensor *t = ws_add(&l, MR_SECT_TEXT, 0, name, 0, 3, sh, NULL);
            if (t) rc = mr_bert_ws_hidden(&m->bert, &w->bws, k, t->data, e);
        }
    }
    uint64_t st[3] = {B, Lt, D};
    ws_add(&l, MR_SECT_TEXT, 0, "text/W_t", 0, 3, st, w->t_lin);
    for (int v = 0; v < MR_NBRANCH && !rc; v++) {
        const branch_ws *b = &w->br[v];
        size_t L = in_len(&w->in, v);
        int sect = v == MR_AUDIO ? MR_SECT_AUDIO : MR_SECT_VISUAL;
        uint64_t sb[1] = {B}, sy[3] = {B, L, D};
        snprintf(name, sizeof name, "enc_%c/lengths", branch_tag[v]);
        mr_ws_tensor *t = ws_add(&l, sect, 0, name, 1, 1, sb, NULL);
        for (size_t i = 0; t && i < B; i++) ((int64_t *)t->data)[i] = b->len[i];
        if (c->encoder != MR_ENC_CONV) {
            const mr_rnn *r = &m->br[v].rnn;
            uint64_t sh[3] = {2 * r->layers, B, D};
            snprintf(name, sizeof name, "enc_%c/h_n", branch_tag[v]);
            if ((t = ws_add(&l, sect, 0, name, 0, 3, sh, NULL))) mr_rnn_final_states(r, b->rc, B, L, b->len, t->data);
        }
        snprintf(name, sizeof name, "enc_%c/output", branch_tag[v]);
        ws_add(&l, sect, 0, name, 0, 3, sy, b->y);
        snprintf(name, sizeof name, "enc_%c/tail", branch_tag[v]);
        ws_add(&l, sect, 0, name, 0, 3, sy, b->d);
    }
    uint64_t s0[4] = {B, T, 3, D};
    ws_add(&l, MR_SECT_CUBE, 0, "cube/input", 0, 4, s0, w->X0);
    for (size_t i = 0; i < c->nb && !rc; i++) {
        uint64_t sh[4] = {B, c->out[i][0], c->out[i][1], c->out[i][2]};
        snprintf(name, sizeof name, "cube/block.%zu", i);
        mr_ws_tensor *t = ws_add(&l, MR_SECT_CUBE, 0, name, 0, 4, sh, NULL);
        if (t) mr_cubemlp_block_output(&m->cube, B, w->cube_cache, w->enc, i, t->data);
    }
    if (w->has_mi) {
        int base = mr_bound_uses_baseline(c->bound);
        for (int i = 0; i < MR_NVMI; i++) {
            uint64_t sS[2] = {B, B}, sl[1] = {B};
            snprintf(name, sizeof name, "vmi/%s/scores", mr_vmi_names[i]);
            ws_add(&l, MR_SECT_VMI, i, name, 0, 2, sS, w->S[i]);
            if (base) {
                snprintf(name, sizeof name, "vmi/%s/log_baseline", mr_vmi_names[i]);
                ws_add(&l, MR_SECT_VMI, i, name, 0, 1, sl, w->la[i]);
            }
        }
        for (int j = 0; j < MR_NCMI && w->Mp > 0; j++) {
            /* the estimator's workspace (estimators/cmine.c): rows [2M'·3d] | MLP cache | logits [2M' × 2] */
            size_t R = 2 * w->Mp;
            const double *logits = w->qw[j] + R * 3 * m->vcmi[j].d + mr_mlp_cache_size(&m->vcmi[j].mlp, R);
            uint64_t sh[2] = {w->Mp, 2};
            snprintf(name, sizeof name, "cmi/%s/joint_logits", mr_cmi_names[j]);
            ws_add(&l, MR_SECT_CMI, j, name, 0, 2, sh, logits);
            snprintf(name, sizeof name, "cmi/%s/product_logits", mr_cmi_names[j]);
            ws_add(&l, MR_SECT_CMI, j, name, 0, 2, sh, logits + 2 * w->Mp);
        }
    }
    (void)p;
    if (!rc && !l.ok) rc = mr_fail(e, MR_ENOMEM, "out of memory for the intermediates");
    if (rc) {
        mr_ws_tensors_free(l.t, l.n);
        return rc;
    }
    *out = l.t, *n = l.n;
    return MR_OK;
}
