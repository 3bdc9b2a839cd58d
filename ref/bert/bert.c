/* bert.c — BERT forward and backward over chunks of samples (bert.h). */
#include "ref/bert/bert.h"

#include <float.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/blas.h"
#include "ref/bert/hfdir.h"
#include "ref/nn/layers.h"

/* ------------------------------------------------------------ registration */


int mr_bert_add(mr_bert *m, mr_params *p, const mr_bert_config *c, const char *prefix, mr_error *e) {
    if (mr_bert_config_check(c, "bert config", e) != MR_OK) return MR_EINVAL;
    if (!prefix) prefix = "";
    if (strlen(prefix) >= sizeof m->prefix) return mr_fail(e, MR_EINVAL, "bert: prefix '%s' too long", prefix);
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix);
    m->t0 = p->n;
    m->ntensors = MR_BERT_EMB_TENSORS + MR_BERT_LAYER_TENSORS * c->num_hidden_layers + 2;
    m->mask_kind = MR_BERT_MASK_FINFO_MIN;
    m->pad_token_id = 0;
    int rc = mr_bert_params_add(p, c, prefix, e);
    if (rc != MR_OK) return rc;
    if (p->n != m->t0 + m->ntensors)
        return mr_fail(e, MR_EINVAL, "bert: %zu tensors registered, expected %zu", p->n - m->t0, m->ntensors);
    return MR_OK;
}

size_t mr_bert_layer_tensor(const mr_bert *m, size_t l, int k) {
    return m->t0 + MR_BERT_EMB_TENSORS + MR_BERT_LAYER_TENSORS * l + (size_t)k;
}
size_t mr_bert_emb_tensor(const mr_bert *m, int k) { return m->t0 + (size_t)k; }

void mr_bert_init(const mr_bert *m, mr_params *p, gsl_rng *rng) {
    for (size_t i = m->t0; i < m->t0 + m->ntensors; i++) {
        const mr_tensor *t = &p->t[i];
        double *x = p->data + t->offset;
        size_t nl = strlen(t->name);
        int is_ln = strstr(t->name, "LayerNorm") != NULL;
        int is_weight = nl >= 6 && strcmp(t->name + nl - 6, "weight") == 0;
        for (size_t j = 0; j < t->size; j++)
            x[j] = is_ln ? (is_weight ? 1.0 : 0.0) : (is_weight ? gsl_ran_gaussian(rng, 0.02) : 0.0);
    }
    if (m->pad_token_id >= 0 && (size_t)m->pad_token_id < m->cfg.vocab_size) {
        const mr_tensor *w = &p->t[mr_bert_emb_tensor(m, 0)];
        memset(p->data + w->offset + (size_t)m->pad_token_id * m->cfg.hidden_size, 0,
               m->cfg.hidden_size * sizeof(double));
    }
}

int mr_bert_freeze_parse(const char *s) {
    if (!s) return -1;
    if (!strcmp(s, "no")) return MR_BERT_FREEZE_NO;
    if (!strcmp(s, "part")) return MR_BERT_FREEZE_PART;
    if (!strcmp(s, "all")) return MR_BERT_FREEZE_ALL;
    return -1;
}

void mr_bert_freeze(const mr_bert *m, const mr_params *p, mr_bert_freeze_mode mode, unsigned char *frozen) {
    for (size_t i = m->t0; i < m->t0 + m->ntensors; i++) {
        if (mode == MR_BERT_FREEZE_ALL) frozen[i] = 1;
        if (mode != MR_BERT_FREEZE_PART) continue;
        for (int n = 0; n <= 8; n++) {
            char pat[128];
            snprintf(pat, sizeof pat, "%sencoder.layer.%d.", m->prefix, n);
            if (strstr(p->t[i].name, pat)) frozen[i] = 1;
        }
    }
}

/* ------------------------------------------------------------------- sizes */

size_t mr_bert_sample_cache_size(const mr_bert *m, size_t L) {
    size_t H = m->cfg.hidden_size, I = m->cfg.intermediate_size, n = m->cfg.num_hidden_layers;
    size_t nh = m->cfg.num_attention_heads;
    return L * ((4 + 10 * n) * H + 2 * n * I + 3 + 4 * n) + 2 * n * nh * L * L;
}

size_t mr_bert_work_size(const mr_bert *m, size_t chunk, size_t L) {
    return chunk * L * (7 * m->cfg.hidden_size + 2 * m->cfg.intermediate_size) + 2 * L * L;
}

static size_t nchunks_of(size_t B, size_t chunk) { return (B + chunk - 1) / chunk; }

/* threads for n chunks */
static int w_threads(const mr_bert_ws *w, size_t n) {
    int T = w->threads > 1 ? w->threads : 1;
    return (size_t)T < n ? T : (int)n;
}

/* chunk slots in the cache: every chunk (keep), else one per thread (at most
 * one per chunk) */
static size_t nslots_of(size_t B, size_t chunk, int keep, int threads) {
    size_t nc = nchunks_of(B, chunk), t = threads > 1 ? (size_t)threads : 1;
    return keep ? nc : (t < nc ? t : nc);
}

size_t mr_bert_cache_size_threads(const mr_bert *m, size_t B, size_t L, size_t chunk, int keep, int threads) {
    if (chunk > B) chunk = B;
    return nslots_of(B, chunk, keep, threads) * chunk * mr_bert_sample_cache_size(m, L);
}

size_t mr_bert_cache_size(const mr_bert *m, size_t B, size_t L, size_t chunk, int keep) {
    return mr_bert_cache_size_threads(m, B, L, chunk, keep, 1);
}

int mr_bert_ws_alloc(mr_bert_ws *w, const mr_bert *m, size_t B, size_t L, size_t chunk, int keep, mr_error *e) {
    return mr_bert_ws_alloc_threads(w, m, B, L, chunk, keep, 1, e);
}

int mr_bert_ws_alloc_threads(mr_bert_ws *w, const mr_bert *m, size_t B, size_t L, size_t chunk, int keep, int threads,
                             mr_error *e) {
    memset(w, 0, sizeof *w);
    if (B == 0 || L == 0 || chunk == 0) return mr_fail(e, MR_EINVAL, "bert workspace: B, L and chunk must be positive");
    if (threads < 1 || threads > MR_BERT_MAX_THREADS)
        return mr_fail(e, MR_EINVAL, "bert workspace: threads must be 1 … %d", MR_BERT_MAX_THREADS);
    if (chunk > B) chunk = B;
    w->B = B;
    w->L = L;
    w->chunk = chunk;
    w->keep = keep ? 1 : 0;
    w->threads = threads;
    w->nslots = nslots_of(B, chunk, keep, threads);
    int ok = 1;
    w->cache = malloc(mr_bert_cache_size_threads(m, B, L, chunk, keep, threads) * sizeof(double));
    w->seeds = calloc(B, sizeof *w->seeds);
    w->slot_chunk = malloc(w->nslots * sizeof *w->slot_chunk);
    ok = w->cache && w->seeds && w->slot_chunk;
    for (int t = 0; t < threads && ok; t++) {
        w->work_t[t] = malloc(mr_bert_work_size(m, chunk, L) * sizeof(double));
        w->srng_t[t] = gsl_rng_alloc(gsl_rng_mt19937);
        ok = w->work_t[t] && w->srng_t[t];
    }
    if (!ok) {
        mr_bert_ws_free(w);
        return mr_fail(e, MR_ENOMEM, "bert workspace: out of memory (%zu doubles of cache)",
                       mr_bert_cache_size_threads(m, B, L, chunk, keep, threads));
    }
    /* the chunk-forward threads, started here once for every step */
    mr_error pe = {0};
    if (!(w->pool = mr_pool_create(threads, &pe))) {
        mr_bert_ws_free(w);
        return mr_fail(e, pe.code, "bert workspace: %s", pe.msg);
    }
    for (size_t i = 0; i < w->nslots; i++) w->slot_chunk[i] = (size_t)-1;
    return MR_OK;
}

void mr_bert_ws_free(mr_bert_ws *w) {
    free(w->cache);
    free(w->seeds);
    free(w->slot_chunk);
    for (int t = 0; t < MR_BERT_MAX_THREADS; t++) {
        free(w->work_t[t]);
        if (w->srng_t[t]) gsl_rng_free(w->srng_t[t]);
    }
    mr_pool_destroy(w->pool);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------ masked softmax, attention */

void mr_bert_mask_term(double *ext, const int64_t *att_mask, size_t n, mr_bert_mask_kind kind) {
    double c = kind == MR_BERT_MASK_10000 ? -10000.0 : -DBL_MAX;
    for (size_t i = 0; i < n; i++) ext[i] = (1.0 - (double)(att_mask ? att_mask[i] : 1)) * c;
}

void mr_bert_softmax_forward(double *p, const double *s, const double *ext, size_t R, size_t C, double sq) {
    for (size_t r = 0; r < R; r++) {
        const double *x = s + r * C;
        double *y = p + r * C;
        double mx = -INFINITY;
        for (size_t j = 0; j < C; j++) {
            double v = x[j] / sq + ext[j];
            y[j] = v;
            if (v > mx) mx = v;
        }
        double sum = 0.0;
        for (size_t j = 0; j < C; j++) {
            y[j] = exp(y[j] - mx);
            sum += y[j];
        }
        for (size_t j = 0; j < C; j++) y[j] /= sum;
    }
}

void mr_bert_softmax_backward(double *ds, const double *dp, const double *p, size_t R, size_t C, double sq) {
    for (size_t r = 0; r < R; r++) {
        const double *y = p + r * C, *dy = dp + r * C;
        double dot = 0.0;
        for (size_t j = 0; j < C; j++) dot += y[j] * dy[j];
        for (size_t j = 0; j < C; j++) ds[r * C + j] += y[j] * (dy[j] - dot) / sq;
    }
}

void mr_bert_attention_forward(double *ctx, double *P, const double *Pm, const double *q, const double *k,
                               const double *v, const double *ext, size_t nb, size_t L, size_t H, size_t nh,
                               double *work) {
    size_t d = H / nh;
    double sq = sqrt((double)d);
    for (size_t b = 0; b < nb; b++)
        for (size_t h = 0; h < nh; h++) {
            size_t ro = b * L * H + h * d;
            double *Pb = P + (b * nh + h) * L * L;
            /* S = q_h k_hᵀ, then P = softmax(S/√d + m) in place */
            mr_gemm(0, 1, L, L, d, 1.0, q + ro, H, k + ro, H, 0.0, Pb, L);
            mr_bert_softmax_forward(Pb, Pb, ext + b * L, L, L, sq);
            const double *A = Pb;
            if (Pm) {
                const double *M = Pm + (b * nh + h) * L * L;
                for (size_t i = 0; i < L * L; i++) work[i] = Pb[i] * M[i];
                A = work;
            }
            mr_gemm(0, 0, L, d, L, 1.0, A, L, v + ro, H, 0.0, ctx + ro, H);
        }
}

void mr_bert_attention_backward(double *dq, double *dk, double *dv, const double *dctx, const double *P,
                                const double *Pm, const double *q, const double *k, const double *v, size_t nb,
                                size_t L, size_t H, size_t nh, double *work) {
    size_t d = H / nh;
    double sq = sqrt((double)d);
    double *Pd = work, *dS = work + L * L;
    for (size_t b = 0; b < nb; b++)
        for (size_t h = 0; h < nh; h++) {
            size_t ro = b * L * H + h * d;
            const double *Pb = P + (b * nh + h) * L * L;
            const double *M = Pm ? Pm + (b * nh + h) * L * L : NULL;
            const double *A = Pb;
            if (M) {
                for (size_t i = 0; i < L * L; i++) Pd[i] = Pb[i] * M[i];
                A = Pd;
            }
            /* dv_h += Aᵀ dctx_h ; dA = dctx_h v_hᵀ */
            mr_gemm(1, 0, L, d, L, 1.0, A, L, dctx + ro, H, 1.0, dv + ro, H);
            mr_gemm(0, 1, L, L, d, 1.0, dctx + ro, H, v + ro, H, 0.0, dS, L);
            if (M)
                for (size_t i = 0; i < L * L; i++) dS[i] *= M[i];
            /* softmax backward in place: dS = P (dP − Σ P dP) / √d */
            for (size_t r = 0; r < L; r++) {
                const double *y = Pb + r * L;
                double *g = dS + r * L, dot = 0.0;
                for (size_t j = 0; j < L; j++) dot += y[j] * g[j];
                for (size_t j = 0; j < L; j++) g[j] = y[j] * (g[j] - dot) / sq;
            }
            mr_gemm(0, 0, L, d, L, 1.0, dS, L, k + ro, H, 1.0, dq + ro, H);
            mr_gemm(1, 0, L, d, L, 1.0, dS, L, q + ro, H, 1.0, dk + ro, H);
        }
}

/* ------------------------------------------------------------ chunk layout */

typedef struct {
    double *e, *mean0, *rstd0, *ln0, *m0, *ext;
} emb_acts;

typedef struct {
    double *x, *q, *k, *v, *P, *Pm, *ctx, *m1, *r1, *mean1, *rstd1, *h1, *f1, *g, *m2, *r2, *mean2, *rstd2;
    double *y; /* the layer's output = next layer's x */
} layer_acts;

/* Cache of nb samples: embedding block, then per layer its block, then the
 * final output. Sizes add up to nb·A(L). */
static emb_acts emb_at(double *c, size_t N, size_t H) {
    emb_acts a;
    a.e = c;
    a.mean0 = c + N * H;
    a.rstd0 = a.mean0 + N;
    a.ln0 = a.rstd0 + N;
    a.m0 = a.ln0 + N * H;
    a.ext = a.m0 + N * H;
    return a;
}

static size_t emb_size(size_t N, size_t H) { return 3 * N * H + 3 * N; }

static size_t layer_size(const mr_bert *m, size_t nb, size_t L) {
    size_t N = nb * L, H = m->cfg.hidden_size, I = m->cfg.intermediate_size, nh = m->cfg.num_attention_heads;
    return 10 * N * H + 2 * N * I + 4 * N + 2 * nb * nh * L * L;
}

static layer_acts layer_at(const mr_bert *m, double *c, size_t nb, size_t L, size_t l) {
    size_t N = nb * L, H = m->cfg.hidden_size, I = m->cfg.intermediate_size, nh = m->cfg.num_attention_heads;
    double *b = c + emb_size(N, H) + l * layer_size(m, nb, L);
    layer_acts a;
    a.x = b;
    a.q = a.x + N * H;
    a.k = a.q + N * H;
    a.v = a.k + N * H;
    a.P = a.v + N * H;
    a.Pm = a.P + nb * nh * L * L;
    a.ctx = a.Pm + nb * nh * L * L;
    a.m1 = a.ctx + N * H;
    a.r1 = a.m1 + N * H;
    a.mean1 = a.r1 + N * H;
    a.rstd1 = a.mean1 + N;
    a.h1 = a.rstd1 + N;
    a.f1 = a.h1 + N * H;
    a.g = a.f1 + N * I;
    a.m2 = a.g + N * I;
    a.r2 = a.m2 + N * H;
    a.mean2 = a.r2 + N * H;
    a.rstd2 = a.mean2 + N;
    a.y = b + layer_size(m, nb, L); /* next layer's x, or the final output */
    return a;
}

static double *par(const mr_params *p, size_t i) { return p->data + p->t[i].offset; }

/* gradient pointer or NULL when frozen */
static double *grd(const mr_params *p, const unsigned char *frozen, size_t i) {
    return frozen && frozen[i] ? NULL : p->grad + p->t[i].offset;
}

/* dinp += dout·w (one product over all rows); dw += doutᵀ·inp one sample
 * (L rows) at a time in sample order; db += rows in order. On a pool of T
 * lanes (the backward's products, bert.h "Threads"): lane k computes the
 * k-th of T row blocks of dinp (token rows) and of dw and db (output rows),
 * the blocks cut by split_at, one OpenBLAS thread each; every element is the
 * sum it is in the one product, over the same terms in the same order. */
typedef struct {
    double *dinp, *dw, *db;
    const double *dout, *inp, *w;
    size_t nb, L, I, O;
    int T;
} lin_job;

/* where part k of T of n rows starts: k·n/T rounded down to a multiple of
 * MR_SPLIT_ROWS. In the fast builds a row block of that size keeps the rows
 * in the same micro-kernel tiles as the one product (OpenBLAS tiles rows by
 * 4, 8 or 16 with its Haswell, SkylakeX and Cooperlake kernels, and the sum
 * over K of an element depends on its tile only), so the split results are
 * the one product's bit for bit (checked in verify/test_bert.c); BLAS=none
 * computes each element alone anyway. Fewer rows than that: no split. */
#define MR_SPLIT_ROWS 32
static size_t split_at(size_t n, int k, int T) {
    if (k >= T) return n;
    size_t r = n * (size_t)k / (size_t)T;
    return r - r % MR_SPLIT_ROWS;
}

static void lin_part(const lin_job *j, int k) {
    size_t N = j->nb * j->L, I = j->I, O = j->O, L = j->L;
    size_t r0 = split_at(N, k, j->T), r1 = split_at(N, k + 1, j->T);
    size_t o0 = split_at(O, k, j->T), o1 = split_at(O, k + 1, j->T);
    if (j->dinp && r1 > r0) mr_gemm(0, 0, r1 - r0, I, O, 1.0, j->dout + r0 * O, O, j->w, I, 1.0, j->dinp + r0 * I, I);
    if (j->dw && o1 > o0)
        for (size_t b = 0; b < j->nb; b++)
            mr_gemm(1, 0, o1 - o0, I, L, 1.0, j->dout + b * L * O + o0, O, j->inp + b * L * I, I, 1.0, j->dw + o0 * I, I);
    if (j->db)
        for (size_t n = 0; n < N; n++)
            for (size_t o = o0; o < o1; o++) j->db[o] += j->dout[n * O + o];
}

static void lin_task(void *v, int k) { lin_part(v, k); }

static int pool_lanes(mr_pool *pool) { return pool ? mr_pool_lanes(pool) : 1; }

static void lin_bwd(mr_pool *pool, double *dinp, double *dw, double *db, const double *dout, const double *inp,
                    const double *w, size_t nb, size_t L, size_t I, size_t O) {
    lin_job j = {dinp, dw, db, dout, inp, w, nb, L, I, O, pool_lanes(pool)};
    if (j.T <= 1) {
        lin_part(&j, 0);
        return;
    }
    int old = mr_blas_threads_set(1);
    mr_pool_run(pool, j.T, lin_task, &j);
    mr_blas_threads_set(old);
}

/* dF = GELU'(f1)·dG elementwise, the n elements split across the pool's lanes */
typedef struct {
    double *dF;
    const double *dG, *f1, *g;
    size_t n;
    int T;
} act_job;

static void act_task(void *v, int k) {
    const act_job *j = v;
    size_t i0 = j->n * (size_t)k / (size_t)j->T, i1 = j->n * (size_t)(k + 1) / (size_t)j->T;
    memset(j->dF + i0, 0, (i1 - i0) * sizeof(double));
    mr_act_backward(MR_ACT_GELU, j->dF + i0, j->dG + i0, j->f1 + i0, j->g + i0, i1 - i0);
}

static void gelu_bwd(mr_pool *pool, double *dF, const double *dG, const double *f1, const double *g, size_t n) {
    act_job j = {dF, dG, f1, g, n, pool_lanes(pool)};
    if (j.T <= 1) act_task(&j, 0);
    else mr_pool_run(pool, j.T, act_task, &j);
}

/* r = x + a·mask (mask NULL: none) */
static void residual(double *r, const double *x, const double *a, const double *mask, size_t n) {
    if (mask)
        for (size_t i = 0; i < n; i++) r[i] = x[i] + a[i] * mask[i];
    else
        for (size_t i = 0; i < n; i++) r[i] = x[i] + a[i];
}

/* ----------------------------------------------------------------- forward */

/* Forward of nb samples (rows of ids etc. start at the chunk) into cache c;
 * seeds NULL: no dropout. work: 2·L² at least (attention) plus N·H (temp). */
static void chunk_forward(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *tt,
                          const int64_t *am, size_t nb, size_t L, const unsigned long *seeds, gsl_rng *srng,
                          double *c, double *work) {
    const mr_bert_config *cf = &m->cfg;
    size_t H = cf->hidden_size, I = cf->intermediate_size, nh = cf->num_attention_heads, nl = cf->num_hidden_layers;
    size_t N = nb * L;
    double *tmp = work, *aw = work + N * H;
    emb_acts E = emb_at(c, N, H);
    int drop = seeds != NULL;

    /* dropout masks, sample by sample in the documented order */
    if (drop)
        for (size_t b = 0; b < nb; b++) {
            gsl_rng_set(srng, seeds[b]);
            mr_dropout_mask(E.m0 + b * L * H, L * H, cf->hidden_dropout_prob, srng);
            for (size_t l = 0; l < nl; l++) {
                layer_acts A = layer_at(m, c, nb, L, l);
                mr_dropout_mask(A.Pm + b * nh * L * L, nh * L * L, cf->attention_probs_dropout_prob, srng);
                mr_dropout_mask(A.m1 + b * L * H, L * H, cf->hidden_dropout_prob, srng);
                mr_dropout_mask(A.m2 + b * L * H, L * H, cf->hidden_dropout_prob, srng);
            }
        }

    /* embeddings */
    const double *We = par(p, mr_bert_emb_tensor(m, 0)), *Wp = par(p, mr_bert_emb_tensor(m, 1)),
                 *Wt = par(p, mr_bert_emb_tensor(m, 2));
    for (size_t n = 0; n < N; n++) {
        const double *a = We + (size_t)ids[n] * H, *b = Wp + (n % L) * H, *t = Wt + (size_t)(tt ? tt[n] : 0) * H;
        double *o = E.e + n * H;
        for (size_t j = 0; j < H; j++) o[j] = a[j] + t[j] + b[j];
    }
    mr_layernorm_forward(E.ln0, E.mean0, E.rstd0, E.e, par(p, mr_bert_emb_tensor(m, 3)),
                         par(p, mr_bert_emb_tensor(m, 4)), N, H, cf->layer_norm_eps);
    mr_bert_mask_term(E.ext, am, N, m->mask_kind);
    layer_acts A0 = layer_at(m, c, nb, L, 0);
    if (drop)
        mr_dropout_forward(A0.x, E.ln0, E.m0, N * H);
    else
        memcpy(A0.x, E.ln0, N * H * sizeof(double));

    for (size_t l = 0; l < nl; l++) {
        layer_acts A = layer_at(m, c, nb, L, l);
#define W(k) par(p, mr_bert_layer_tensor(m, l, k))
        mr_linear_forward(A.q, A.x, W(MR_BERT_QW), W(MR_BERT_QB), N, H, H);
        mr_linear_forward(A.k, A.x, W(MR_BERT_KW), W(MR_BERT_KB), N, H, H);
        mr_linear_forward(A.v, A.x, W(MR_BERT_VW), W(MR_BERT_VB), N, H, H);
        mr_bert_attention_forward(A.ctx, A.P, drop ? A.Pm : NULL, A.q, A.k, A.v, E.ext, nb, L, H, nh, aw);
        mr_linear_forward(tmp, A.ctx, W(MR_BERT_AOW), W(MR_BERT_AOB), N, H, H);
        residual(A.r1, A.x, tmp, drop ? A.m1 : NULL, N * H);
        mr_layernorm_forward(A.h1, A.mean1, A.rstd1, A.r1, W(MR_BERT_LN1W), W(MR_BERT_LN1B), N, H,
                             cf->layer_norm_eps);
        mr_linear_forward(A.f1, A.h1, W(MR_BERT_IW), W(MR_BERT_IB), N, H, I);
        mr_act_forward(MR_ACT_GELU, A.g, A.f1, N * I);
        mr_linear_forward(tmp, A.g, W(MR_BERT_OW), W(MR_BERT_OB), N, I, H);
        residual(A.r2, A.h1, tmp, drop ? A.m2 : NULL, N * H);
        mr_layernorm_forward(A.y, A.mean2, A.rstd2, A.r2, W(MR_BERT_LN2W), W(MR_BERT_LN2B), N, H,
                             cf->layer_norm_eps);
#undef W
    }
}

static int check_inputs(const mr_bert *m, const int64_t *ids, const int64_t *tt, const int64_t *am, size_t B,
                        size_t L, const mr_bert_ws *w, mr_error *e) {
    const mr_bert_config *c = &m->cfg;
    if (B == 0 || L == 0) return mr_fail(e, MR_EINVAL, "bert: empty batch (B %zu, L %zu)", B, L);
    if (B > w->B || L > w->L)
        return mr_fail(e, MR_EINVAL, "bert: batch %zu × %zu exceeds the workspace (%zu × %zu)", B, L, w->B, w->L);
    if (L > c->max_position_embeddings)
        return mr_fail(e, MR_EINVAL, "bert: %zu tokens exceed max_position_embeddings %zu", L,
                       c->max_position_embeddings);
    for (size_t i = 0; i < B * L; i++) {
        if (ids[i] < 0 || (uint64_t)ids[i] >= c->vocab_size)
            return mr_fail(e, MR_EINVAL, "bert: input id %lld at [%zu, %zu] outside [0, %zu)", (long long)ids[i],
                           i / L, i % L, c->vocab_size);
        if (tt && (tt[i] < 0 || (uint64_t)tt[i] >= c->type_vocab_size))
            return mr_fail(e, MR_EINVAL, "bert: token type id %lld at [%zu, %zu] outside [0, %zu)",
                           (long long)tt[i], i / L, i % L, c->type_vocab_size);
        if (am && am[i] != 0 && am[i] != 1)
            return mr_fail(e, MR_EINVAL, "bert: attention mask %lld at [%zu, %zu] is not 0 or 1", (long long)am[i],
                           i / L, i % L);
    }
    return MR_OK;
}

/* chunk c lives in slot c (keep) or c mod nslots; with several threads,
 * thread t runs the chunks c ≡ t (mod threads), so each has slots of its own */
static size_t slot_of(const mr_bert_ws *w, size_t c) {
    return w->eval_slots ? c % w->eval_slots : w->keep ? c : c % w->nslots;
}

static double *slot(const mr_bert *m, mr_bert_ws *w, size_t c, size_t L) {
    return w->cache + slot_of(w, c) * w->chunk * mr_bert_sample_cache_size(m, L);
}

/* ---- chunk forwards on several threads. Chunks are independent (no
 * parameter gradient, each its own cache slot, work area and mask
 * generator), so thread t forwards the chunks first + t, first + t + T, …
 * (T = the workspace's threads) while OpenBLAS runs one thread per call;
 * every chunk computes exactly what it computes alone (with one BLAS thread),
 * whatever the thread count. */
typedef struct {
    const mr_bert *m;
    const mr_params *p;
    const int64_t *ids, *tt, *am;
    size_t B, L, c0, c1; /* chunks [c0, c1) */
    const unsigned long *seeds;
    mr_bert_ws *w;
    double *out; /* NULL: keep the cache only (recompute) */
    int t, T;
} fwd_job;

static void forward_chunk(const fwd_job *j, size_t c) {
    const mr_bert *m = j->m;
    mr_bert_ws *w = j->w;
    size_t L = j->L, H = m->cfg.hidden_size, b0 = c * w->chunk, nb = j->B - b0 < w->chunk ? j->B - b0 : w->chunk;
    double *cc = slot(m, w, c, L);
    chunk_forward(m, j->p, j->ids + b0 * L, j->tt ? j->tt + b0 * L : NULL, j->am ? j->am + b0 * L : NULL, nb, L,
                  j->seeds ? j->seeds + b0 : NULL, w->srng_t[j->t], cc, w->work_t[j->t]);
    w->slot_chunk[slot_of(w, c)] = c;
    if (j->out) {
        layer_acts last = layer_at(m, cc, nb, L, m->cfg.num_hidden_layers - 1);
        memcpy(j->out + b0 * L * H, last.y, nb * L * H * sizeof(double));
    }
}

static void forward_worker(const fwd_job *j) {
    for (size_t c = j->c0 + (size_t)j->t; c < j->c1; c += (size_t)j->T) forward_chunk(j, c);
}

/* task t of the pool: the chunks of thread t (lane t, as T ≤ the lanes) */
static void forward_task(void *v, int t) { forward_worker((const fwd_job *)v + t); }

/* forward chunks [c0, c1) on the workspace's pool (fewer threads when fewer
 * chunks) */
static void forward_chunks(fwd_job j) {
    int T = w_threads(j.w, j.c1 - j.c0);
    if (T <= 1) {
        j.t = 0, j.T = 1;
        forward_worker(&j);
        return;
    }
    fwd_job jt[MR_BERT_MAX_THREADS];
    int old = mr_blas_threads_set(1);
    for (int t = 0; t < T; t++) jt[t] = j, jt[t].t = t, jt[t].T = T;
    mr_pool_run(j.w->pool, T, forward_task, jt);
    mr_blas_threads_set(old);
}

int mr_bert_forward_seeded(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *type_ids,
                           const int64_t *att_mask, size_t B, size_t L, double *out, const unsigned long *seeds,
                           mr_bert_ws *w, mr_error *e) {
    w->fwd_valid = 0;
    for (size_t i = 0; i < w->nslots; i++) w->slot_chunk[i] = (size_t)-1;
    if (check_inputs(m, ids, type_ids, att_mask, B, L, w, e) != MR_OK) return MR_EINVAL;
    if (seeds && seeds != w->seeds) memcpy(w->seeds, seeds, B * sizeof *seeds);
    fwd_job j = {m, p, ids, type_ids, att_mask, B, L, 0, nchunks_of(B, w->chunk), seeds ? w->seeds : NULL, w, out, 0, 1};
    forward_chunks(j);
    w->fwd_B = B;
    w->fwd_L = L;
    w->fwd_dropout = seeds != NULL;
    w->fwd_valid = 1;
    return MR_OK;
}

int mr_bert_forward_eval(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *type_ids,
                         const int64_t *att_mask, size_t B, size_t L, double *out, mr_bert_ws *w, mr_error *e) {
    w->fwd_valid = 0;
    for (size_t i = 0; i < w->nslots; i++) w->slot_chunk[i] = (size_t)-1;
    if (check_inputs(m, ids, type_ids, att_mask, B, L, w, e) != MR_OK) return MR_EINVAL;
    /* thread t of the T forwarding runs the chunks ≡ t (mod T): slot t is its own (T ≤ nslots) */
    size_t nc = nchunks_of(B, w->chunk);
    w->eval_slots = (size_t)w_threads(w, nc);
    fwd_job j = {m, p, ids, type_ids, att_mask, B, L, 0, nc, NULL, w, out, 0, 1};
    forward_chunks(j);
    w->eval_slots = 0;
    /* nothing a backward or mr_bert_ws_hidden could use */
    for (size_t i = 0; i < w->nslots; i++) w->slot_chunk[i] = (size_t)-1;
    return MR_OK;
}

int mr_bert_forward(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *type_ids,
                    const int64_t *att_mask, size_t B, size_t L, double *out, gsl_rng *rng, mr_bert_ws *w,
                    mr_error *e) {
    if (check_inputs(m, ids, type_ids, att_mask, B, L, w, e) != MR_OK) return MR_EINVAL;
    if (rng)
        for (size_t b = 0; b < B; b++) w->seeds[b] = gsl_rng_get(rng);
    return mr_bert_forward_seeded(m, p, ids, type_ids, att_mask, B, L, out, rng ? w->seeds : NULL, w, e);
}

/* ---------------------------------------------------------------- backward */

static int any_trainable(const unsigned char *frozen, size_t from, size_t n) {
    if (!frozen) return 1;
    for (size_t i = from; i < from + n; i++)
        if (!frozen[i]) return 1;
    return 0;
}

/* Backward of one chunk from its cache; dy [N, H] is the gradient of the
 * output. Layers below `lowest` are skipped; emb: embeddings too. */
static void chunk_backward(const mr_bert *m, mr_params *p, const unsigned char *frozen, const int64_t *ids,
                           const int64_t *tt, size_t nb, size_t L, const double *dy, int drop, size_t lowest, int emb,
                           double *c, double *work, mr_pool *pool) {
    const mr_bert_config *cf = &m->cfg;
    size_t H = cf->hidden_size, I = cf->intermediate_size, nh = cf->num_attention_heads, nl = cf->num_hidden_layers;
    size_t N = nb * L, NH = N * H;
    double *dX = work, *dT = dX + NH, *dQ = dT + NH, *dK = dQ + NH, *dV = dK + NH, *dC = dV + NH, *dH1 = dC + NH;
    double *dG = dH1 + NH, *dF = dG + N * I, *aw = dF + N * I;
    memcpy(dX, dy, NH * sizeof(double));
    for (size_t l = nl; l-- > lowest;) {
        layer_acts A = layer_at(m, c, nb, L, l);
#define W(k) par(p, mr_bert_layer_tensor(m, l, k))
#define G(k) grd(p, frozen, mr_bert_layer_tensor(m, l, k))
        int below = l > lowest || emb; /* the layer input's gradient is needed */
        /* x' = LN2(r2), r2 = h1 + drop(f2) */
        memset(dT, 0, NH * sizeof(double));
        mr_layernorm_backward(dT, G(MR_BERT_LN2W), G(MR_BERT_LN2B), dX, A.r2, W(MR_BERT_LN2W), A.mean2, A.rstd2, N,
                              H);
        memcpy(dH1, dT, NH * sizeof(double));
        if (drop)
            for (size_t i = 0; i < NH; i++) dT[i] *= A.m2[i];
        /* f2 = g·W2ᵀ + b2, g = GELU(f1), f1 = h1·W1ᵀ + b1 */
        memset(dG, 0, N * I * sizeof(double));
        lin_bwd(pool, dG, G(MR_BERT_OW), G(MR_BERT_OB), dT, A.g, W(MR_BERT_OW), nb, L, I, H);
        gelu_bwd(pool, dF, dG, A.f1, A.g, N * I);
        lin_bwd(pool, dH1, G(MR_BERT_IW), G(MR_BERT_IB), dF, A.h1, W(MR_BERT_IW), nb, L, H, I);
        /* h1 = LN1(r1), r1 = x + drop(a), a = ctx·Woᵀ + bo */
        memset(dT, 0, NH * sizeof(double));
        mr_layernorm_backward(dT, G(MR_BERT_LN1W), G(MR_BERT_LN1B), dH1, A.r1, W(MR_BERT_LN1W), A.mean1, A.rstd1,
                              N, H);
        memcpy(dX, dT, NH * sizeof(double)); /* residual: dx = dr1 */
        if (drop)
            for (size_t i = 0; i < NH; i++) dT[i] *= A.m1[i];
        memset(dC, 0, NH * sizeof(double));
        lin_bwd(pool, dC, G(MR_BERT_AOW), G(MR_BERT_AOB), dT, A.ctx, W(MR_BERT_AOW), nb, L, H, H);
        memset(dQ, 0, 3 * NH * sizeof(double));
        mr_bert_attention_backward(dQ, dK, dV, dC, A.P, drop ? A.Pm : NULL, A.q, A.k, A.v, nb, L, H, nh, aw);
        double *dx = below ? dX : NULL;
        lin_bwd(pool, dx, G(MR_BERT_QW), G(MR_BERT_QB), dQ, A.x, W(MR_BERT_QW), nb, L, H, H);
        lin_bwd(pool, dx, G(MR_BERT_KW), G(MR_BERT_KB), dK, A.x, W(MR_BERT_KW), nb, L, H, H);
        lin_bwd(pool, dx, G(MR_BERT_VW), G(MR_BERT_VB), dV, A.x, W(MR_BERT_VW), nb, L, H, H);
#undef W
#undef G
    }
    if (!emb) return;
    emb_acts E = emb_at(c, N, H);
    if (drop)
        for (size_t i = 0; i < NH; i++) dX[i] *= E.m0[i];
    memset(dT, 0, NH * sizeof(double));
    mr_layernorm_backward(dT, grd(p, frozen, mr_bert_emb_tensor(m, 3)), grd(p, frozen, mr_bert_emb_tensor(m, 4)), dX,
                          E.e, par(p, mr_bert_emb_tensor(m, 3)), E.mean0, E.rstd0, N, H);
    double *gw = grd(p, frozen, mr_bert_emb_tensor(m, 0)), *gp = grd(p, frozen, mr_bert_emb_tensor(m, 1)),
           *gt = grd(p, frozen, mr_bert_emb_tensor(m, 2));
    for (size_t n = 0; n < N; n++) {
        const double *d = dT + n * H;
        if (gw && ids[n] != m->pad_token_id) {
            double *o = gw + (size_t)ids[n] * H;
            for (size_t j = 0; j < H; j++) o[j] += d[j];
        }
        if (gp) {
            double *o = gp + (n % L) * H;
            for (size_t j = 0; j < H; j++) o[j] += d[j];
        }
        if (gt) {
            double *o = gt + (size_t)(tt ? tt[n] : 0) * H;
            for (size_t j = 0; j < H; j++) o[j] += d[j];
        }
    }
}

int mr_bert_backward(const mr_bert *m, mr_params *p, const unsigned char *frozen, const int64_t *ids,
                     const int64_t *type_ids, const int64_t *att_mask, size_t B, size_t L, const double *dout,
                     mr_bert_ws *w, mr_error *e) {
    if (!w->fwd_valid || w->fwd_B != B || w->fwd_L != L)
        return mr_fail(e, MR_EINVAL, "bert backward: no forward of a %zu × %zu batch on this workspace", B, L);
    size_t nl = m->cfg.num_hidden_layers, H = m->cfg.hidden_size;
    int emb = any_trainable(frozen, m->t0, MR_BERT_EMB_TENSORS);
    size_t lowest = nl;
    for (size_t l = 0; l < nl; l++)
        if (any_trainable(frozen, mr_bert_layer_tensor(m, l, 0), MR_BERT_LAYER_TENSORS)) {
            lowest = l;
            break;
        }
    if (emb) lowest = 0;
    if (!emb && lowest == nl) return MR_OK; /* all frozen */
    size_t nc = nchunks_of(B, w->chunk);
    fwd_job j = {m, p, ids, type_ids, att_mask, B, L, 0, 0, w->fwd_dropout ? w->seeds : NULL, w, NULL, 0, 1};
    for (size_t c = 0; c < nc; c++) {
        size_t b0 = c * w->chunk, nb = B - b0 < w->chunk ? B - b0 : w->chunk;
        const int64_t *id = ids + b0 * L, *tt = type_ids ? type_ids + b0 * L : NULL;
        /* keep = 0: a chunk no longer in its slot is recomputed, together
         * with the next ones of the other slots (one per thread) */
        if (w->slot_chunk[slot_of(w, c)] != c) {
            j.c0 = c, j.c1 = c + w->nslots < nc ? c + w->nslots : nc;
            forward_chunks(j);
        }
        chunk_backward(m, p, frozen, id, tt, nb, L, dout + b0 * L * H, w->fwd_dropout, lowest, emb, slot(m, w, c, L),
                       w->work_t[0], w->pool);
    }
    /* the slots keep the last chunks recomputed: a second backward
     * recomputes what it needs again, which gives the same bits */
    return MR_OK;
}

/* ------------------------------------------------- read-only accessors */

int mr_bert_ws_hidden(const mr_bert *m, const mr_bert_ws *w, size_t layer, double *out, mr_error *e) {
    size_t nl = m->cfg.num_hidden_layers, H = m->cfg.hidden_size;
    if (!w->fwd_valid) return mr_fail(e, MR_EINVAL, "bert: no forward in the workspace");
    if (layer > nl) return mr_fail(e, MR_EINVAL, "bert: hidden state %zu of a %zu-layer model", layer, nl);
    size_t B = w->fwd_B, L = w->fwd_L, nc = nchunks_of(B, w->chunk);
    for (size_t c = 0; c < nc; c++) {
        if (w->slot_chunk[slot_of(w, c)] != c)
            return mr_fail(e, MR_EINVAL, "bert: the activations of chunk %zu are not in the workspace (keep them: bert_keep)", c);
        size_t b0 = c * w->chunk, nb = B - b0 < w->chunk ? B - b0 : w->chunk, N = nb * L;
        double *cs = w->cache + slot_of(w, c) * w->chunk * mr_bert_sample_cache_size(m, L);
        /* hidden state 0 is layer 0's input (after the embedding LayerNorm; no dropout in
         * the oracle), hidden state l ≥ 1 the output of layer l − 1 */
        const double *src = layer == 0 ? layer_at(m, cs, nb, L, 0).x : layer_at(m, cs, nb, L, layer - 1).y;
        memcpy(out + b0 * L * H, src, N * H * sizeof *out);
    }
    return MR_OK;
}
