/* test_bert.c — BERT (ref/bert/bert.h): finite-difference gradients of the
 * masked softmax, the attention core and a whole tiny BERT (every tensor,
 * dropout off and on with fixed masks), accumulation, exact zero weight on
 * PAD keys, chunk-size invariance, the pooler and frozen tensors, input
 * checks, and the PyTorch float64 twin's fixtures (verify/torch/bert_torch.py). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/gradcheck.h"
#include "ref/core/npz.h"
#include "ref/bert/bert.h"
#include "ref/nn/layers.h"
#include "verify/alloc_count.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

/* ------------------------------------------------------------ masked softmax */

typedef struct {
    double *s, *ext, *p, *R;
    size_t Rn, C;
    double sq;
} sm_ctx;

static double sm_loss(void *vc) {
    sm_ctx *c = vc;
    mr_bert_softmax_forward(c->p, c->s, c->ext, c->Rn, c->C, c->sq);
    double f = 0;
    for (size_t i = 0; i < c->Rn * c->C; i++) f += c->p[i] * c->R[i];
    return f;
}

Test(bert, softmax_gradient_and_pad_zero) {
    gsl_rng *r = t_rng(11);
    size_t R = 3, C = 6;
    int64_t mask[6] = {1, 1, 0, 1, 0, 1};
    for (int kind = 0; kind < 2; kind++) {
        sm_ctx c = {t_alloc(R * C), t_alloc(C), t_alloc(R * C), t_alloc(R * C), R, C, sqrt(3.0)};
        t_fill_uniform(c.s, R * C, -2, 2, r);
        t_fill_uniform(c.R, R * C, -1, 1, r);
        mr_bert_mask_term(c.ext, mask, C, (mr_bert_mask_kind)kind);
        sm_loss(&c);
        for (size_t i = 0; i < R; i++) {
            cr_assert(c.p[i * C + 2] == 0.0 && c.p[i * C + 4] == 0.0, "PAD key got weight %g (kind %d)", c.p[i * C + 2],
                      kind);
            double sum = 0;
            for (size_t j = 0; j < C; j++) sum += c.p[i * C + j];
            cr_assert(fabs(sum - 1) <= T_FEW_OPS * C);
        }
        double *ds = t_alloc(R * C);
        mr_bert_softmax_backward(ds, c.R, c.p, R, C, c.sq);
        mr_gc_var v = {"s", c.s, ds, R * C};
        mr_gc_result res;
        cr_assert(mr_gradcheck(sm_loss, &c, &v, 1, 0, &res) == 0, "kind %d: max err %g", kind, res.max_err);
        /* accumulation (p recomputed: the check left it at a perturbed point) */
        sm_loss(&c);
        memset(ds, 0, R * C * sizeof(double));
        mr_bert_softmax_backward(ds, c.R, c.p, R, C, c.sq);
        double *d2 = t_alloc(R * C);
        memcpy(d2, ds, R * C * sizeof(double));
        mr_bert_softmax_backward(d2, c.R, c.p, R, C, c.sq);
        for (size_t i = 0; i < R * C; i++) cr_assert(d2[i] == 2 * ds[i]);
    }
    gsl_rng_free(r);
}

Test(bert, all_pad_row) {
    /* every key PAD: finfo.min gives a uniform row, −10000 keeps softmax(s) */
    double s[4] = {0.3, -1.0, 2.0, 0.5}, ext[4], p[4];
    int64_t mask[4] = {0, 0, 0, 0};
    mr_bert_mask_term(ext, mask, 4, MR_BERT_MASK_FINFO_MIN);
    mr_bert_softmax_forward(p, s, ext, 1, 4, 1.0);
    for (int j = 0; j < 4; j++) cr_assert(p[j] == 0.25);
    mr_bert_mask_term(ext, mask, 4, MR_BERT_MASK_10000);
    mr_bert_softmax_forward(p, s, ext, 1, 4, 1.0);
    double z = exp(0.3 - 2) + exp(-1.0 - 2) + exp(0.0) + exp(0.5 - 2);
    /* s − 10000 and its difference to the max are rounded at magnitude 1e4:
     * ≤ 2 roundings of 1e4·ε/2 per exponent, relative error of each exp ≤
     * 2.2e-12 → 4 terms and the quotient stay below 2·4·2.2e-12 < 2e-11 */
    cr_assert(fabs(p[2] - 1.0 / z) <= 8 * 1e4 * DBL_EPSILON, "%.17g vs %.17g", p[2], 1.0 / z);
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    double *q, *k, *v, *ext, *P, *Pm, *ctx, *R, *work;
    size_t nb, L, H, nh;
} at_ctx;

static double at_loss(void *vc) {
    at_ctx *c = vc;
    mr_bert_attention_forward(c->ctx, c->P, c->Pm, c->q, c->k, c->v, c->ext, c->nb, c->L, c->H, c->nh, c->work);
    double f = 0;
    for (size_t i = 0; i < c->nb * c->L * c->H; i++) f += c->ctx[i] * c->R[i];
    return f;
}

Test(bert, attention_gradient) {
    gsl_rng *r = t_rng(12);
    size_t nb = 2, L = 5, H = 6, nh = 2, N = nb * L * H;
    int64_t mask[10] = {1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    for (int drop = 0; drop < 2; drop++) {
        at_ctx c = {t_alloc(N), t_alloc(N), t_alloc(N), t_alloc(nb * L), t_alloc(nb * nh * L * L),
                    drop ? t_alloc(nb * nh * L * L) : NULL, t_alloc(N), t_alloc(N), t_alloc(2 * L * L), nb, L, H, nh};
        t_fill_uniform(c.q, N, -1, 1, r);
        t_fill_uniform(c.k, N, -1, 1, r);
        t_fill_uniform(c.v, N, -1, 1, r);
        t_fill_uniform(c.R, N, -1, 1, r);
        if (drop) mr_dropout_mask(c.Pm, nb * nh * L * L, 0.3, r);
        mr_bert_mask_term(c.ext, mask, nb * L, MR_BERT_MASK_FINFO_MIN);
        at_loss(&c);
        for (size_t h = 0; h < nh; h++)
            for (size_t i = 0; i < L; i++)
                for (size_t j = 3; j < 5; j++) cr_assert(c.P[(0 * nh + h) * L * L + i * L + j] == 0.0);
        double *dq = t_alloc(N), *dk = t_alloc(N), *dv = t_alloc(N);
        mr_bert_attention_backward(dq, dk, dv, c.R, c.P, c.Pm, c.q, c.k, c.v, nb, L, H, nh, c.work);
        mr_gc_var v[3] = {{"q", c.q, dq, N}, {"k", c.k, dk, N}, {"v", c.v, dv, N}};
        mr_gc_result res;
        cr_assert(mr_gradcheck(at_loss, &c, v, 3, 0, &res) == 0, "dropout %d: max err %g", drop, res.max_err);
    }
    gsl_rng_free(r);
}

/* ------------------------------------------------------------ a tiny BERT */

static mr_bert_config tiny_cfg(size_t layers) {
    mr_bert_config c;
    mr_bert_config_base(&c);
    c.vocab_size = 20;
    c.hidden_size = 8;
    c.num_hidden_layers = layers;
    c.num_attention_heads = 2;
    c.intermediate_size = 12;
    c.max_position_embeddings = 16;
    c.type_vocab_size = 2;
    c.hidden_dropout_prob = 0.2;
    c.attention_probs_dropout_prob = 0.25;
    return c;
}

typedef struct {
    mr_bert m;
    mr_params p;
    mr_bert_ws w;
    size_t B, L;
    int64_t *ids, *tt, *am;
    double *out, *R;
    unsigned long *seeds; /* NULL: dropout off */
} tb;

static void tb_init_cfg(tb *t, mr_bert_config c, size_t B, size_t L, size_t chunk, int keep, unsigned long seed) {
    mr_error e;
    mr_params_init(&t->p);
    cr_assert(mr_bert_add(&t->m, &t->p, &c, "bertmodel.", &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_params_alloc(&t->p, &e) == MR_OK);
    gsl_rng *r = t_rng(seed);
    mr_bert_init(&t->m, &t->p, r);
    /* larger than HF's 0.02 so that every path carries a visible gradient */
    for (size_t i = 0; i < t->p.total; i++)
        if (t->p.data[i] != 1.0) t->p.data[i] = t->p.data[i] * 20 + 0.05 * (gsl_rng_uniform(r) - 0.5);
    t->B = B;
    t->L = L;
    t->ids = calloc(B * L, sizeof(int64_t));
    t->tt = calloc(B * L, sizeof(int64_t));
    t->am = calloc(B * L, sizeof(int64_t));
    for (size_t b = 0; b < B; b++) {
        size_t len = L - (b % 3); /* ragged: 0, 1 or 2 PAD tokens */
        for (size_t i = 0; i < L; i++) {
            t->ids[b * L + i] = i < len ? 1 + (int64_t)gsl_rng_uniform_int(r, 19) : 0;
            t->tt[b * L + i] = i >= len / 2 && i < len;
            t->am[b * L + i] = i < len;
        }
    }
    t->out = t_alloc(B * L * c.hidden_size);
    t->R = t_alloc(B * L * c.hidden_size);
    t_fill_uniform(t->R, B * L * c.hidden_size, -1, 1, r);
    cr_assert(mr_bert_ws_alloc(&t->w, &t->m, B, L, chunk, keep, &e) == MR_OK);
    t->seeds = NULL;
    gsl_rng_free(r);
}

static void tb_init(tb *t, size_t layers, size_t B, size_t L, size_t chunk, int keep, unsigned long seed) {
    tb_init_cfg(t, tiny_cfg(layers), B, L, chunk, keep, seed);
}

static void tb_free(tb *t) {
    mr_bert_ws_free(&t->w);
    mr_params_free(&t->p);
    free(t->ids);
    free(t->tt);
    free(t->am);
}

static double tb_loss(void *vc) {
    tb *t = vc;
    mr_error e;
    cr_assert(mr_bert_forward_seeded(&t->m, &t->p, t->ids, t->tt, t->am, t->B, t->L, t->out, t->seeds, &t->w, &e) ==
              MR_OK);
    double f = 0;
    for (size_t i = 0; i < t->B * t->L * t->m.cfg.hidden_size; i++) f += t->out[i] * t->R[i];
    return f;
}

static void tb_backward(tb *t, const unsigned char *frozen) {
    mr_error e;
    cr_assert(mr_bert_backward(&t->m, &t->p, frozen, t->ids, t->tt, t->am, t->B, t->L, t->R, &t->w, &e) == MR_OK,
              "%s", e.msg);
}

/* forward, zeroed gradients, one backward; a copy of the gradients */
static double *tb_grads(tb *t) {
    tb_loss(t);
    mr_params_zero_grad(&t->p);
    tb_backward(t, NULL);
    double *g = t_alloc(t->p.total);
    memcpy(g, t->p.grad, t->p.total * sizeof(double));
    return g;
}

static const double *tgrad(const tb *t, size_t i) { return t->p.grad + t->p.t[i].offset; }

static int all_zero(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0) return 0;
    return 1;
}

static void whole_gradcheck(int drop, size_t chunk) {
    tb t;
    tb_init(&t, 2, 3, 5, chunk, 0, 21);
    t.m.pad_token_id = -1; /* the true derivative of row 0 too (padding_idx tested apart) */
    unsigned long seeds[3] = {101, 202, 303};
    if (drop) t.seeds = seeds;
    tb_loss(&t);
    mr_params_zero_grad(&t.p);
    tb_backward(&t, NULL);
    /* every tensor except the pooler's carries a gradient */
    for (size_t i = t.m.t0; i < t.m.t0 + t.m.ntensors; i++) {
        int pooler = strstr(t.p.t[i].name, "pooler") != NULL;
        cr_assert(pooler == all_zero(tgrad(&t, i), t.p.t[i].size), "%s: gradient %s", t.p.t[i].name,
                  pooler ? "nonzero on the pooler" : "all zero");
    }
    mr_gc_var v[64];
    size_t nv = 0;
    for (size_t i = t.m.t0; i < t.m.t0 + t.m.ntensors; i++)
        v[nv++] = (mr_gc_var){t.p.t[i].name, t.p.data + t.p.t[i].offset, t.p.grad + t.p.t[i].offset,
                              t.p.t[i].size};
    mr_gc_result res;
    int fails = mr_gradcheck(tb_loss, &t, v, nv, 0, &res);
    cr_assert(fails == 0, "dropout %d chunk %zu: %d failures, max err %g (ratio %g)", drop, chunk, fails, res.max_err,
              res.max_ratio);
    cr_log_info("tiny BERT dropout %d: %zu coordinates, max ratio to bound %.2e", drop, res.checked, res.max_ratio);
    tb_free(&t);
}

Test(bert, whole_gradient_no_dropout, .timeout = 300) { whole_gradcheck(0, 3); }
Test(bert, whole_gradient_dropout_chunked, .timeout = 300) { whole_gradcheck(1, 2); }

Test(bert, directional_gradient_mask10000) {
    tb t;
    tb_init(&t, 2, 3, 5, 3, 0, 22);
    t.m.mask_kind = MR_BERT_MASK_10000;
    t.m.pad_token_id = -1;
    unsigned long seeds[3] = {7, 8, 9};
    t.seeds = seeds;
    tb_loss(&t);
    mr_params_zero_grad(&t.p);
    tb_backward(&t, NULL);
    mr_gc_var v = {"all", t.p.data, t.p.grad, t.p.total};
    mr_gc_result res;
    cr_assert(mr_gradcheck_dir(tb_loss, &t, &v, 1, 0, 8, 5, &res) == 0, "max err %g", res.max_err);
    tb_free(&t);
}

Test(bert, accumulation_and_padding_row) {
    tb t;
    tb_init(&t, 2, 3, 5, 2, 0, 23);
    unsigned long seeds[3] = {1, 2, 3};
    t.seeds = seeds;
    double *g1 = tb_grads(&t);
    tb_backward(&t, NULL);
    /* The second pass adds the same n ≤ B·L terms per entry again (rows of
     * the bias, LayerNorm and embedding gradients, one product per sample of
     * the weights), so g2 = 2·g1 up to the rounding of those n additions:
     * each ≤ ε/2 of a partial sum ≤ 2·S (S = the largest |g1| of the store,
     * the scale of the terms; a tensor's own largest entry is no scale: the
     * key bias's gradient is zero up to cancellation), n ≤ B·L = 15 →
     * 2·B·L·ε·S. */
    double S = 0;
    for (size_t i = 0; i < t.p.total; i++) S = fmax(S, fabs(g1[i]));
    for (size_t k = 0; k < t.p.n; k++) {
        const mr_tensor *ten = &t.p.t[k];
        for (size_t i = 0; i < ten->size; i++)
            cr_assert(fabs(t.p.grad[ten->offset + i] - 2 * g1[ten->offset + i]) <= 2 * 15 * DBL_EPSILON * S,
                      "%s[%zu] not doubled", ten->name, i);
    }
    /* padding_idx 0: row 0 of word_embeddings gets nothing, though PAD ids occur */
    const double *gw = tgrad(&t, mr_bert_emb_tensor(&t.m, 0));
    cr_assert(all_zero(gw, t.m.cfg.hidden_size));
    cr_assert(!all_zero(gw + t.m.cfg.hidden_size, t.m.cfg.vocab_size * t.m.cfg.hidden_size - t.m.cfg.hidden_size));
    tb_free(&t);
}

/* ------------------------------------------------ chunk-size invariance */

/* chunk size, keep and threads (bert.h "Threads": 1, 2 or 3 chunk-forward
 * threads; 2 chunks on 2 threads leave both in their slots, so the backward
 * recomputes nothing) change no bit; nor does a second backward after the
 * first (it recomputes what the slots no longer hold). */
/* t ← a 2-layer BERT of config c on a B × L batch, its workspace on
 * `threads` chunk-forward threads; one training forward (dropout stream
 * rng_seed) and one backward into zeroed gradients */
static void tb_threaded_step(tb *t, mr_bert_config c, size_t B, size_t L, size_t chunk, int keep, int threads, unsigned long seed,
                             unsigned long rng_seed) {
    tb_init_cfg(t, c, B, L, chunk, keep, seed);
    mr_error e;
    mr_bert_ws_free(&t->w);
    cr_assert(mr_bert_ws_alloc_threads(&t->w, &t->m, B, L, chunk, keep, threads, &e) == MR_OK, "%s", e.msg);
    gsl_rng *r = t_rng(rng_seed);
    cr_assert(mr_bert_forward(&t->m, &t->p, t->ids, t->tt, t->am, B, L, t->out, r, &t->w, &e) == MR_OK);
    gsl_rng_free(r);
    mr_params_zero_grad(&t->p);
    tb_backward(t, NULL);
}

Test(bert, chunk_size_and_thread_invariance) {
    size_t B = 5, L = 6;
    double *out0 = NULL, *g0 = NULL;
    size_t total = 0, H = 8;
    const size_t chunks[] = {5, 1, 2, 3, 4};
    for (int threads = 1; threads <= 3; threads++)
    for (int keep = 0; keep < 2; keep++)
        for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
            tb t;
            tb_threaded_step(&t, tiny_cfg(2), B, L, chunks[ci], keep, threads, 24, 99);
            if (out0) { /* a second backward: the same gradient again */
                double *g1 = malloc(total * sizeof *g1);
                cr_assert(g1);
                memcpy(g1, t.p.grad, total * sizeof(double));
                mr_params_zero_grad(&t.p);
                tb_backward(&t, NULL);
                cr_assert(memcmp(g1, t.p.grad, total * sizeof(double)) == 0, "second backward differs at chunk %zu keep %d threads %d",
                          chunks[ci], keep, threads);
                free(g1);
            }
            if (!out0) {
                total = t.p.total;
                out0 = t_alloc(B * L * H);
                g0 = t_alloc(total);
                memcpy(out0, t.out, B * L * H * sizeof(double));
                memcpy(g0, t.p.grad, total * sizeof(double));
            } else {
                cr_assert(memcmp(out0, t.out, B * L * H * sizeof(double)) == 0, "output differs at chunk %zu keep %d threads %d",
                          chunks[ci], keep, threads);
                cr_assert(memcmp(g0, t.p.grad, total * sizeof(double)) == 0, "gradient differs at chunk %zu keep %d threads %d",
                          chunks[ci], keep, threads);
            }
            tb_free(&t);
        }
}

/* Hidden 80, FFN 240, chunks of up to 70 token rows: the backward's
 * products are split across the threads (bert.c lin_part, at multiples of 32
 * rows); for each chunk size and keep, 2 and 3 threads give the outputs and
 * gradients of 1 bit for bit. (Across chunk sizes the forward's products
 * change shape, which in the fast builds may change bits at these sizes.) */
Test(bert, thread_invariance_with_split_products, .timeout = 120) {
    size_t B = 5, L = 14, H = 80;
    mr_bert_config wide = tiny_cfg(2);
    wide.hidden_size = H, wide.intermediate_size = 3 * H;
    const size_t chunks[] = {5, 2};
    for (int keep = 0; keep < 2; keep++)
        for (size_t ci = 0; ci < 2; ci++) {
            double *out0 = NULL, *g0 = NULL;
            for (int threads = 1; threads <= 3; threads++) {
                tb t;
                tb_threaded_step(&t, wide, B, L, chunks[ci], keep, threads, 25, 98);
                if (!out0) {
                    out0 = t_alloc(B * L * H), g0 = t_alloc(t.p.total);
                    memcpy(out0, t.out, B * L * H * sizeof(double));
                    memcpy(g0, t.p.grad, t.p.total * sizeof(double));
                } else {
                    cr_assert(memcmp(out0, t.out, B * L * H * sizeof(double)) == 0, "output differs at chunk %zu keep %d threads %d",
                              chunks[ci], keep, threads);
                    for (size_t i = 0; i < t.p.total; i++)
                        cr_assert(memcmp(&g0[i], &t.p.grad[i], sizeof(double)) == 0, "gradient %zu differs at chunk %zu keep %d threads %d: %a vs %a",
                                  i, chunks[ci], keep, threads, g0[i], t.p.grad[i]);
                }
                tb_free(&t);
            }
        }
}

/* A training forward and backward on 2 and 3 chunk-forward threads (keep
 * 0, so the backward recomputes) start no thread: the workspace's threads
 * serve every step (verify/alloc_count.h counts our pthread_create calls).
 * Nor do they allocate. */
Test(bert, step_starts_no_thread) {
    for (int threads = 2; threads <= 3; threads++) {
        tb t;
        tb_init(&t, 2, 5, 6, 1, 0, 26);
        mr_error e;
        mr_bert_ws_free(&t.w);
        cr_assert(mr_bert_ws_alloc_threads(&t.w, &t.m, 5, 6, 1, 0, threads, &e) == MR_OK, "%s", e.msg);
        gsl_rng *r = t_rng(98);
        for (int rep = 0; rep < 2; rep++) { /* the second step is counted */
            if (rep == 1) t_alloc_count_start(), t_thread_count_start();
            int rc = mr_bert_forward(&t.m, &t.p, t.ids, t.tt, t.am, t.B, t.L, t.out, r, &t.w, &e);
            if (rc == MR_OK) rc = mr_bert_backward(&t.m, &t.p, NULL, t.ids, t.tt, t.am, t.B, t.L, t.R, &t.w, &e);
            long n = rep == 1 ? t_alloc_count_stop() : 0, nt = rep == 1 ? t_thread_count_stop() : 0;
            cr_assert(rc == MR_OK, "%s", e.msg);
            cr_assert(nt == 0, "%d chunk-forward threads: %ld threads started in a step", threads, nt);
            cr_assert(n == 0, "%d chunk-forward threads: %ld allocations in a step", threads, n);
        }
        gsl_rng_free(r);
        tb_free(&t);
    }
}

/* ----------------------------------------------------------------- freezing */

Test(bert, freeze_part_and_all) {
    tb t;
    tb_init(&t, 10, 2, 4, 2, 0, 25);
    unsigned long seeds[2] = {4, 5};
    t.seeds = seeds;
    double *full = tb_grads(&t);

    unsigned char *fr = calloc(t.p.n, 1);
    mr_bert_freeze(&t.m, &t.p, MR_BERT_FREEZE_PART, fr);
    mr_params_zero_grad(&t.p);
    tb_backward(&t, fr);
    for (size_t i = t.m.t0; i < t.m.t0 + t.m.ntensors; i++) {
        const char *nm = t.p.t[i].name;
        int layer = -1;
        sscanf(nm, "bertmodel.encoder.layer.%d.", &layer);
        int want_frozen = layer >= 0 && layer <= 8;
        cr_assert(fr[i] == want_frozen, "%s: frozen %d", nm, fr[i]);
        const double *g = tgrad(&t, i);
        if (want_frozen)
            cr_assert(all_zero(g, t.p.t[i].size), "%s frozen but got a gradient", nm);
        else
            cr_assert(memcmp(g, full + t.p.t[i].offset, t.p.t[i].size * sizeof(double)) == 0,
                      "%s: gradient differs from the unfrozen run", nm);
    }
    /* a 12-layer name list: layers 10 and 11 stay trainable */
    mr_bert_config c12 = tiny_cfg(12);
    mr_params p12;
    mr_params_init(&p12);
    mr_bert m12;
    mr_error e;
    cr_assert(mr_bert_add(&m12, &p12, &c12, "bertmodel.", &e) == MR_OK);
    unsigned char *f12 = calloc(p12.n, 1);
    mr_bert_freeze(&m12, &p12, MR_BERT_FREEZE_PART, f12);
    size_t nfrozen = 0;
    for (size_t i = 0; i < p12.n; i++) nfrozen += f12[i];
    cr_assert(nfrozen == 9 * MR_BERT_LAYER_TENSORS, "%zu frozen", nfrozen);
    cr_assert(!f12[mr_bert_layer_tensor(&m12, 10, 0)] && !f12[mr_bert_layer_tensor(&m12, 11, 15)]);
    mr_params_free(&p12);
    free(f12);

    /* only the top layer trainable: layers below are not back-propagated */
    memset(fr, 1, t.p.n);
    for (int k = 0; k < MR_BERT_LAYER_TENSORS; k++) fr[mr_bert_layer_tensor(&t.m, 9, k)] = 0;
    mr_params_zero_grad(&t.p);
    tb_backward(&t, fr);
    for (size_t i = 0; i < t.p.n; i++)
        if (fr[i])
            cr_assert(all_zero(tgrad(&t, i), t.p.t[i].size));
        else
            cr_assert(memcmp(tgrad(&t, i), full + t.p.t[i].offset, t.p.t[i].size * sizeof(double)) == 0);

    memset(fr, 0, t.p.n);
    mr_bert_freeze(&t.m, &t.p, MR_BERT_FREEZE_ALL, fr);
    mr_params_zero_grad(&t.p);
    tb_backward(&t, fr);
    cr_assert(all_zero(t.p.grad, t.p.total));
    cr_assert(mr_bert_freeze_parse("part") == MR_BERT_FREEZE_PART && mr_bert_freeze_parse("x") == -1);
    free(fr);
    tb_free(&t);
}

Test(bert, input_checks) {
    tb t;
    tb_init(&t, 1, 2, 4, 2, 0, 26);
    mr_error e;
    t.ids[3] = 20;
    cr_assert(mr_bert_forward(&t.m, &t.p, t.ids, t.tt, t.am, 2, 4, t.out, NULL, &t.w, &e) == MR_EINVAL);
    cr_assert(strstr(e.msg, "input id 20"), "%s", e.msg);
    t.ids[3] = 1;
    t.tt[5] = 2;
    cr_assert(mr_bert_forward(&t.m, &t.p, t.ids, t.tt, t.am, 2, 4, t.out, NULL, &t.w, &e) == MR_EINVAL);
    t.tt[5] = 0;
    t.am[1] = 2;
    cr_assert(mr_bert_forward(&t.m, &t.p, t.ids, t.tt, t.am, 2, 4, t.out, NULL, &t.w, &e) == MR_EINVAL);
    t.am[1] = 1;
    cr_assert(mr_bert_forward(&t.m, &t.p, t.ids, t.tt, t.am, 3, 4, t.out, NULL, &t.w, &e) == MR_EINVAL);
    cr_assert(mr_bert_backward(&t.m, &t.p, NULL, t.ids, t.tt, t.am, 2, 4, t.R, &t.w, &e) == MR_EINVAL,
              "backward without a forward");
    cr_assert(mr_bert_forward(&t.m, &t.p, t.ids, NULL, NULL, 2, 4, t.out, NULL, &t.w, &e) == MR_OK);
    tb_free(&t);
}

Test(bert, sizes) {
    mr_bert_config c;
    mr_bert_config_base(&c);
    mr_params p;
    mr_params_init(&p);
    mr_bert m;
    mr_error e;
    cr_assert(mr_bert_add(&m, &p, &c, "bertmodel.", &e) == MR_OK);
    cr_assert(m.ntensors == 199 && p.n == 199);
    /* A(100) for BERT-base: the header's 19,781,100 doubles (158 MB) per sample */
    cr_assert(mr_bert_sample_cache_size(&m, 100) == 19781100, "%zu", mr_bert_sample_cache_size(&m, 100));
    cr_assert(mr_bert_cache_size(&m, 128, 100, 8, 0) == 8 * 19781100UL);
    cr_assert(mr_bert_cache_size(&m, 128, 100, 8, 1) == 128 * 19781100UL);
    /* one chunk of activations per thread (keep 0), never more than the chunks */
    cr_assert(mr_bert_cache_size_threads(&m, 128, 100, 8, 0, 2) == 2 * 8 * 19781100UL);
    cr_assert(mr_bert_cache_size_threads(&m, 128, 100, 8, 1, 2) == 128 * 19781100UL);
    cr_assert(mr_bert_cache_size_threads(&m, 6, 100, 8, 0, 2) == 6 * 19781100UL);
    cr_assert(mr_bert_cache_size_threads(&m, 128, 100, 8, 0, 1) == mr_bert_cache_size(&m, 128, 100, 8, 0));
    mr_params_free(&p);
}

/* ------------------------------------------------------- PyTorch fixtures */

/* T_TORCH_LAYER (tolerance.h item 6): both sides in double, sums of at most
 * K = max(I, H, L) products per entry through ≤ 3 layers of ≤ 12-wide
 * tensors differ by ~K·ε relative to the tensor's scale, far below 1e-12.
 * The scale of a gradient is at least 1e-3 of the largest gradient G of the
 * store (like the whole-model cross-check's group rule, README): the key
 * biases' gradients are zero analytically (softmax is shift-invariant per
 * query), and both sides hold only rounding noise there, sums of B·L ≤ 28
 * terms of up to ~G that cancel: ≤ 28·ε·G ≈ 6e-15·G apart; the floor allows
 * 2·1e-12·1e-3·G = 2e-15·G plus the entry's own 1e-12·|t| — measured worst
 * 2.9e-15 absolute against G ≈ 20 in the BLAS=none build. */
static void fx_compare(const char *what, const double *c, const double *t, size_t n, double floor_scale,
                       double *worst_all) {
    double scale = floor_scale, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(t[i]));
    for (size_t i = 0; i < n; i++) {
        double err = fabs(c[i] - t[i]), bound = T_TORCH_LAYER * fabs(t[i]) + T_TORCH_LAYER * scale;
        worst = fmax(worst, err / (scale > 0 ? scale : 1));
        cr_expect(err <= bound, "%s[%zu]: C %.17g, PyTorch %.17g", what, i, c[i], t[i]);
    }
    *worst_all = fmax(*worst_all, worst);
}

static void fixture_case(const char *file) {
    char path[256];
    snprintf(path, sizeof path, "verify/fixtures/bert/%s", file);
    mr_npz z;
    mr_error e;
    if (mr_npz_open(&z, path, &e) != MR_OK) cr_skip_test("%s missing (make bert-fixtures): %s", path, e.msg);
    double *cf = t_npz_get(&z, "config", 10);
    mr_bert_config c;
    c.vocab_size = (size_t)cf[0];
    c.hidden_size = (size_t)cf[1];
    c.num_hidden_layers = (size_t)cf[2];
    c.num_attention_heads = (size_t)cf[3];
    c.intermediate_size = (size_t)cf[4];
    c.max_position_embeddings = (size_t)cf[5];
    c.type_vocab_size = (size_t)cf[6];
    c.layer_norm_eps = cf[7];
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0;
    unsigned long *seeds = NULL;
    if (mr_npz_find(&z, "seeds") >= 0) {
        double *dp = t_npz_get(&z, "dropout", 2);
        c.hidden_dropout_prob = dp[0];
        c.attention_probs_dropout_prob = dp[1];
    }
    double *shape = t_npz_get(&z, "shape", 3);
    size_t B = (size_t)shape[0], L = (size_t)shape[1];
    if (c.hidden_dropout_prob > 0) {
        double *sd = t_npz_get(&z, "seeds", B);
        seeds = calloc(B, sizeof *seeds);
        for (size_t b = 0; b < B; b++) seeds[b] = (unsigned long)sd[b];
    }
    mr_bert m;
    mr_params p;
    mr_params_init(&p);
    cr_assert(mr_bert_add(&m, &p, &c, "bertmodel.", &e) == MR_OK, "%s", e.msg);
    m.mask_kind = (mr_bert_mask_kind)(int)cf[8];
    m.pad_token_id = (long)cf[9];
    cr_assert(mr_params_alloc(&p, &e) == MR_OK);
    for (size_t i = 0; i < p.n; i++) {
        char nm[256];
        snprintf(nm, sizeof nm, "param/%s", p.t[i].name);
        double *v = t_npz_get(&z, nm, p.t[i].size);
        memcpy(p.data + p.t[i].offset, v, p.t[i].size * sizeof(double));
    }
    double *fi = t_npz_get(&z, "ids", B * L), *ft = t_npz_get(&z, "type_ids", B * L), *fm = t_npz_get(&z, "att_mask", B * L);
    int64_t *ids = calloc(B * L, 8), *tt = calloc(B * L, 8), *am = calloc(B * L, 8);
    for (size_t i = 0; i < B * L; i++) {
        ids[i] = (int64_t)fi[i];
        tt[i] = (int64_t)ft[i];
        am[i] = (int64_t)fm[i];
    }
    size_t H = c.hidden_size;
    double *R = t_npz_get(&z, "R", B * L * H), *want = t_npz_get(&z, "out", B * L * H), *out = t_alloc(B * L * H);
    double worst = 0, G = 0;
    double **tg = calloc(p.n, sizeof *tg);
    for (size_t i = 0; i < p.n; i++) {
        char nm[256];
        snprintf(nm, sizeof nm, "grad/%s", p.t[i].name);
        tg[i] = t_npz_get(&z, nm, p.t[i].size);
        for (size_t j = 0; j < p.t[i].size; j++) G = fmax(G, fabs(tg[i][j]));
    }
    for (size_t chunk = 1; chunk <= B; chunk += B - 1) {
        mr_bert_ws w;
        cr_assert(mr_bert_ws_alloc(&w, &m, B, L, chunk, 0, &e) == MR_OK);
        cr_assert(mr_bert_forward_seeded(&m, &p, ids, tt, am, B, L, out, seeds, &w, &e) == MR_OK, "%s", e.msg);
        fx_compare("out", out, want, B * L * H, 0, &worst);
        mr_params_zero_grad(&p);
        cr_assert(mr_bert_backward(&m, &p, NULL, ids, tt, am, B, L, R, &w, &e) == MR_OK);
        for (size_t i = 0; i < p.n; i++) fx_compare(p.t[i].name, p.grad + p.t[i].offset, tg[i], p.t[i].size, 1e-3 * G, &worst);
        mr_bert_ws_free(&w);
        if (B == 1) break;
    }
    cr_log_info("%s: max |C − PyTorch| / max|PyTorch| over out and %zu gradients = %.2e", file, p.n, worst);
    free(tg);
    free(seeds);
    free(ids);
    free(tt);
    free(am);
    mr_params_free(&p);
    mr_npz_close(&z);
}

Test(bert, torch_fixture_finfo) { fixture_case("bert_finfo.npz"); }
Test(bert, torch_fixture_10000) { fixture_case("bert_10000.npz"); }
/* dropout on: the twin replays GSL's mt19937 from the same per-sample seeds */
Test(bert, torch_fixture_dropout) { fixture_case("bert_dropout.npz"); }
