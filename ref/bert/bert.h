/* bert.h — BERT (spec §1.2; Hugging Face BertModel of the transformers 4.x
 * era where the spec is silent) forward and backward in double, run over
 * chunks of samples so that BERT-base at B = 128 × 100 tokens fits.
 *
 * Computation (H hidden, n layers, nh heads of d = H/nh, I intermediate;
 * sample b, token t, all rows [B·L, ·] row-major):
 *   e  = word[ids] + pos[t] + type[type_ids]      (position ids 0..L−1)
 *   x0 = Dropout_h(LN(e))                         (LN eps = layer_norm_eps)
 *   layer l (post-LN):
 *     q, k, v = x·Wqᵀ + bq, …                     (one product over all rows)
 *     per sample and head: S = q_h k_hᵀ / √d + m[key],  P = softmax_keys(S)
 *     ctx_h = Dropout_a(P) · v_h
 *     h1 = LN(x + Dropout_h(ctx·Woᵀ + bo))
 *     x' = LN(h1 + Dropout_h(GELU(h1·W1ᵀ + b1)·W2ᵀ + b2))   (exact erf GELU)
 *   last_hidden_state = x_n.  The pooler is not computed (its tensors are
 *   registered so weights load, and never get a gradient).
 * Mask term m[key] = (1 − mask)·c, the additive extended attention mask:
 *   MR_BERT_MASK_FINFO_MIN (default; transformers ≥ 4.2x): c = finfo(float64).min
 *     = −DBL_MAX. s + c rounds to −DBL_MAX for any |s| < 1e292, so a PAD key
 *     gets weight exactly 0, and a row whose keys are all PAD is uniform.
 *   MR_BERT_MASK_10000 (older transformers): c = −10000. In double
 *     exp(s − 10000 − max) underflows to exactly 0 too while the scores of a
 *     row span < ~9,250 (always, for BERT at sane weights), so both give the
 *     same weights except on a row whose keys are ALL PAD: there −10000 keeps
 *     softmax(s) over the PAD keys and finfo.min gives 1/L each.
 * The spec (§1.2) names both and says both give exactly zero weight; the
 *   default follows transformers 4.x current at the time of the code.
 * Mask values must be 0 or 1 (HF accepts others; they are meaningless).
 *
 * Dropout (training: an rng is given; eval: rng NULL, no dropout). Masks do
 * not depend on the chunk size: forward first draws one gsl_rng_get(rng) per
 * sample (b = 0..B−1) as that sample's seed; sample b's masks come from the
 * workspace's own generator reseeded with it (gsl_rng_set), in this order:
 * embedding mask [L, H]; then per layer: attention-probability mask
 * [nh, L, L] (p = attention_probs_dropout_prob), attention-output mask
 * [L, H], FFN-output mask [L, H] (p = hidden_dropout_prob); each by
 * mr_dropout_mask (one uniform per element, kept iff u < 1 − p). The backward
 * reuses the seeds; mr_bert_forward_seeded takes them from the caller.
 *
 * Gradients (HF semantics): every tensor except the pooler's. The word
 * embedding gets a scatter-add of the rows used, except the row of
 * pad_token_id (HF builds word_embeddings with padding_idx = pad_token_id = 0,
 * and nn.Embedding gives that row no gradient; −1 disables).
 *
 * Memory by chunks. The batch runs as ceil(B / chunk) chunks of `chunk`
 * samples. The cache holds the activations of one chunk (keep = 0: the
 * backward recomputes each chunk's forward, in order, before its backward;
 * with a single chunk it reuses the forward's) or of every chunk (keep = 1).
 * Per sample (N_s = L rows) the cache holds, in doubles,
 *     A(L) = L·[(4 + 10n)·H + 2n·I + 3 + 4n] + 2n·nh·L²
 * and the work area W(c, L) = c·L·(7H + 2I) + 2L² for a chunk of c samples.
 * Peak (keep = 0, T threads, see "Threads" below) = T·(chunk·A(L) + W(chunk,
 * L)) + the caller's out and dout (B·L·H each). BERT-base, L = 100: A =
 * 19.8 M doubles = 158 MB per sample (B = 128 kept whole: 20.3 GB); chunk 8
 * → 1.27 GB + 0.07 GB work per thread.
 *
 * Summation order. Rows never mix across samples except in parameter
 * gradients, and those are accumulated per sample in sample order (weight
 * gradients: one doutᵀ·in product per sample of K = L rows added into the
 * gradient; biases, LayerNorm and embedding rows: row by row). So with
 * BLAS=none outputs and gradients are bit-identical for every chunk size and
 * for keep 0/1, and so they are with OpenBLAS on one thread (test_bert.c
 * checks both). OpenBLAS on several threads picks its threaded or serial
 * path by product size, and they group the K sums differently: the last
 * bits can then differ (measured at BERT-base: ≤ 1e-15 of the scale).
 *
 * No allocation and no thread start in forward/backward: all buffers and
 * the chunk-forward threads (a pool, ref/core/pool.h) are in mr_bert_ws,
 * made by mr_bert_ws_alloc(_threads); buffers carved by hand with the size
 * functions and no pool run the chunks on the caller, with the same bits.
 */
#ifndef MR_BERT_H
#define MR_BERT_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "ref/bert/bert_config.h"
#include "ref/core/params.h"
#include "ref/core/pool.h"

typedef enum { MR_BERT_MASK_FINFO_MIN = 0, MR_BERT_MASK_10000 } mr_bert_mask_kind;
typedef enum { MR_BERT_FREEZE_NO = 0, MR_BERT_FREEZE_PART, MR_BERT_FREEZE_ALL } mr_bert_freeze_mode;

/* Tensors per encoder layer and the offset of each in the registration
 * order of mr_bert_for_each_param. */
#define MR_BERT_EMB_TENSORS 5
#define MR_BERT_LAYER_TENSORS 16
enum {
    MR_BERT_QW = 0, MR_BERT_QB, MR_BERT_KW, MR_BERT_KB, MR_BERT_VW, MR_BERT_VB, MR_BERT_AOW, MR_BERT_AOB,
    MR_BERT_LN1W, MR_BERT_LN1B, MR_BERT_IW, MR_BERT_IB, MR_BERT_OW, MR_BERT_OB, MR_BERT_LN2W, MR_BERT_LN2B
};

typedef struct {
    mr_bert_config cfg;
    char prefix[64];
    size_t t0;                   /* store index of <prefix>embeddings.word_embeddings.weight */
    size_t ntensors;             /* 5 + 16·layers + 2 (pooler), consecutive from t0 */
    mr_bert_mask_kind mask_kind; /* MR_BERT_MASK_FINFO_MIN after mr_bert_add */
    long pad_token_id;           /* 0 after mr_bert_add; −1: no padding_idx */
} mr_bert;

/* Registers every tensor of mr_bert_for_each_param(c, prefix) (prefix
 * "bertmodel." for the official names) in p, before mr_params_alloc. */
int mr_bert_add(mr_bert *m, mr_params *p, const mr_bert_config *c, const char *prefix, mr_error *e);
/* HF _init_weights: Linear and Embedding weights N(0, 0.02²) (gsl_ran_gaussian,
 * tensors in registration order, entries in row-major order), the
 * pad_token_id row of word_embeddings zeroed, biases 0, LayerNorm γ = 1, β = 0. */
void mr_bert_init(const mr_bert *m, mr_params *p, gsl_rng *rng);
/* Store index of tensor k of layer l (k = MR_BERT_QW …), of embedding tensor
 * k (0 word, 1 position, 2 token type, 3 LN weight, 4 LN bias). */
size_t mr_bert_layer_tensor(const mr_bert *m, size_t l, int k);
size_t mr_bert_emb_tensor(const mr_bert *m, int k);

/* bert_freeze (spec §1.8) as a per-tensor mask over the store (frozen[i] for
 * tensor i of p; entries of other tensors untouched): no → nothing set;
 * all → every BERT tensor; part → tensors whose name contains
 * "<prefix>encoder.layer.<n>." with n ≤ 8 (the spec: layers 0–8 frozen;
 * embeddings, layers 9–11 and the pooler trainable — the trailing dot keeps
 * "layer.1" from matching layers 10 and 11). The backward takes any mask. */
void mr_bert_freeze(const mr_bert *m, const mr_params *p, mr_bert_freeze_mode mode, unsigned char *frozen);
/* "no"/"part"/"all" → mode, −1 otherwise. */
int mr_bert_freeze_parse(const char *s);

/* ---- sizes (doubles) */
size_t mr_bert_sample_cache_size(const mr_bert *m, size_t L); /* A(L) above */
size_t mr_bert_work_size(const mr_bert *m, size_t chunk, size_t L); /* per thread */
/* one thread: keep ? every chunk : one chunk of activations */
size_t mr_bert_cache_size(const mr_bert *m, size_t B, size_t L, size_t chunk, int keep);
/* T threads, keep = 0: min(T, chunks) chunks of activations */
size_t mr_bert_cache_size_threads(const mr_bert *m, size_t B, size_t L, size_t chunk, int keep, int threads);

/* Threads. With T > 1 (mr_bert_ws_alloc_threads, which starts the T − 1
 * threads of the workspace's pool once; MR_ENOMEM naming them if one cannot
 * start) the chunk forwards — the forward, and the recompute in the
 * backward — run on T threads (pool lanes, the caller's the first), thread t
 * taking chunks t, t + T, … of a run of chunks, each chunk in a cache slot,
 * work area and mask generator of its own, OpenBLAS at one thread per call
 * meanwhile (mr_blas_threads_set). A chunk computes exactly what it computes
 * on one thread with one BLAS thread, so outputs and gradients do not depend
 * on T. The chunk backwards (which add into the parameter gradients in
 * sample order) stay sequential, but each of their linear layers' products
 * and the GELU backward is split across the T lanes by rows (the input
 * gradient's token rows, the weight and bias gradients' output rows, at
 * multiples of 32 rows; OpenBLAS at one thread per call meanwhile): every
 * element is the same sum over the same terms in the same order, so this
 * changes no bit either (BLAS=none by construction; the fast builds because
 * the row blocks keep OpenBLAS's tiles, checked by
 * bert::thread_invariance_with_split_products). keep = 0 then
 * holds T chunks of activations (peak = T·chunk·A(L) + T·W(chunk, L) + …),
 * and the backward recomputes T chunks at a time; a chunk still in its slot
 * from the forward (the forward's last T chunks' slots, when B has at most T
 * chunks) is not recomputed. */
#define MR_BERT_MAX_THREADS 8

typedef struct {
    size_t B, L, chunk; /* capacity: batches up to B samples of up to L tokens */
    int keep;           /* 1: every chunk's activations kept; 0: one chunk per thread, recompute */
    int threads;        /* chunk-forward threads (1 … MR_BERT_MAX_THREADS) */
    size_t nslots;      /* chunk slots in cache */
    size_t *slot_chunk; /* [nslots]: the chunk whose activations the slot holds ((size_t)−1: none) */
    double *cache;      /* mr_bert_cache_size_threads(m, B, L, chunk, keep, threads) */
    double *work_t[MR_BERT_MAX_THREADS]; /* mr_bert_work_size(m, chunk, L) each; [0] also for the chunk backwards */
    unsigned long *seeds; /* [B] per-sample dropout seeds of the last forward */
    gsl_rng *srng_t[MR_BERT_MAX_THREADS]; /* per-thread mask generators (mt19937), reseeded per sample */
    mr_pool *pool;      /* `threads` lanes, started with the workspace (none for 1) */
    /* set by the forward, checked by the backward */
    size_t fwd_B, fwd_L;
    int fwd_dropout, fwd_valid;
    size_t eval_slots;  /* during mr_bert_forward_eval: chunk c in slot c mod eval_slots; else 0 */
} mr_bert_ws;

int mr_bert_ws_alloc(mr_bert_ws *w, const mr_bert *m, size_t B, size_t L, size_t chunk, int keep, mr_error *e);
int mr_bert_ws_alloc_threads(mr_bert_ws *w, const mr_bert *m, size_t B, size_t L, size_t chunk, int keep, int threads,
                             mr_error *e);
void mr_bert_ws_free(mr_bert_ws *w);
/* Read-only: hidden state `layer` (0: the embeddings after their LayerNorm,
 * l ≥ 1: the output of layer l − 1; HF's hidden_states[layer]) of the last
 * forward, [B, L, H] into out. Needs every chunk's activations in the cache
 * (keep = 1, or all chunks in their own slots); MR_EINVAL otherwise. */
int mr_bert_ws_hidden(const mr_bert *m, const mr_bert_ws *w, size_t layer, double *out, mr_error *e);

/* ids, type_ids (NULL: all 0, HF's default), att_mask (NULL: all 1) are
 * [B, L] int64; out [B, L, H] = last_hidden_state (overwritten). rng NULL:
 * no dropout (eval mode); else training mode, B seeds drawn from rng.
 * MR_EINVAL (nothing computed) for B or L beyond the workspace, L beyond
 * max_position_embeddings, an id outside [0, vocab), a type id outside
 * [0, type_vocab), a mask value other than 0/1. */
int mr_bert_forward(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *type_ids,
                    const int64_t *att_mask, size_t B, size_t L, double *out, gsl_rng *rng, mr_bert_ws *w,
                    mr_error *e);
/* The evaluation forward: out exactly as mr_bert_forward with rng NULL
 * computes it (bit for bit), keeping no chunk's activations beyond the one
 * each thread is computing (its slot is reused by its next chunk), so a
 * keep = 1 workspace holds no more than a keep = 0 one would. Afterwards
 * mr_bert_backward and mr_bert_ws_hidden are MR_EINVAL. */
int mr_bert_forward_eval(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *type_ids,
                         const int64_t *att_mask, size_t B, size_t L, double *out, mr_bert_ws *w, mr_error *e);
/* The same with the per-sample seeds given (NULL: no dropout): replays masks. */
int mr_bert_forward_seeded(const mr_bert *m, const mr_params *p, const int64_t *ids, const int64_t *type_ids,
                           const int64_t *att_mask, size_t B, size_t L, double *out, const unsigned long *seeds,
                           mr_bert_ws *w, mr_error *e);
/* Accumulates ∂(Σ dout·out)/∂θ into p->grad for every tensor i of the BERT
 * not frozen[i] (frozen NULL: all trainable) except the pooler's. The
 * inputs must be those of the last forward on w (MR_EINVAL if B, L differ
 * or no forward ran). Layers below the lowest trainable tensor are not
 * back-propagated; with everything frozen nothing runs. Parameter values
 * must not change between forward and backward (a recomputing backward
 * reads them again). */
int mr_bert_backward(const mr_bert *m, mr_params *p, const unsigned char *frozen, const int64_t *ids,
                     const int64_t *type_ids, const int64_t *att_mask, size_t B, size_t L, const double *dout,
                     mr_bert_ws *w, mr_error *e);

/* ---- pieces, exposed for their own gradient tests */
/* ext[b·L + j] = (1 − mask[b,j])·c (c per kind above). */
void mr_bert_mask_term(double *ext, const int64_t *att_mask, size_t n, mr_bert_mask_kind kind);
/* Masked softmax over rows of C: p[r,j] = softmax_j(s[r,j]/sq + ext[j])
 * (max subtracted; p may alias s). Backward accumulates
 * ds[r,j] += p[r,j]·(dp[r,j] − Σ_k p[r,k]·dp[r,k]) / sq; ext gets none. */
void mr_bert_softmax_forward(double *p, const double *s, const double *ext, size_t R, size_t C, double sq);
void mr_bert_softmax_backward(double *ds, const double *dp, const double *p, size_t R, size_t C, double sq);
/* Multi-head attention core of nb samples of L tokens: q, k, v, ctx [nb·L, H]
 * (head h = columns h·d … h·d + d − 1), ext [nb, L], P [nb, nh, L, L] (the
 * softmax, written), Pm [nb, nh, L, L] dropout mask or NULL; work 2·L².
 * Backward accumulates into dq, dk, dv. */
void mr_bert_attention_forward(double *ctx, double *P, const double *Pm, const double *q, const double *k,
                               const double *v, const double *ext, size_t nb, size_t L, size_t H, size_t nh,
                               double *work);
void mr_bert_attention_backward(double *dq, double *dk, double *dv, const double *dctx, const double *P,
                                const double *Pm, const double *q, const double *k, const double *v, size_t nb,
                                size_t L, size_t H, size_t nh, double *work);

#endif
