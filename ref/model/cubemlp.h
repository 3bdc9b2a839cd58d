/* cubemlp.h — the CubeMLP fusion encoder (MLPProcess.py MLPEncoder, spec
 * §1.6) and what surrounds it in MIMRL: the composition over modality then
 * time and the classifier head (§1.7).
 *
 * Input X [B, L, K, C] (time, modality, channel). Block i has input dims
 * [L_i, K_i, C_i], hidden dims from d_hiddens, output dims from d_outs. Along
 * each axis a ∈ (L, K, C) in that order, every vector along a is mapped by
 *   MLP_a(u) = W2 φ(W1 u + b1) + b2          (fc1, fc2; biases iff `bias`)
 *   P_a(u)   = W_p u (no bias)               iff res_project[i], else u
 * post-LN (ln_first = 0, MIMRL's default):
 *   U = Dropout_{p_a}(MLP_a(X)) + P_a(X);  X ← LN_a(U)   (LN over out[a])
 * pre-LN (ln_first = 1):
 *   X ← Dropout_{p_a}(MLP_a(LN_a(X))) + P_a(X)          (LN over in[a])
 * LayerNorm eps 1e-6. Names: <prefix>.layers_stack.<i>.mlp_{l,k,d}.fc{1,2}.{weight,bias},
 * .ln_{l,k,d}.{weight,bias}, .res_projection_{l,k,d}.weight. Without
 * res_project the block requires in == out on every axis.
 *
 * Dropout masks are part of the cache: drawn from a gsl_rng in training,
 * supplied by the caller (replay, cross-checks), or all ones (eval).
 */
#ifndef MR_CUBEMLP_H
#define MR_CUBEMLP_H

#include <gsl/gsl_rng.h>

#include "ref/nn/layers.h"
#include "ref/core/params.h"

#define MR_CUBE_MAXB 8

typedef struct {
    size_t nb;
    size_t in[MR_CUBE_MAXB][3], hid[MR_CUBE_MAXB][3], out[MR_CUBE_MAXB][3];
    int res[MR_CUBE_MAXB];
    int bias, ln_first;
    mr_act act;
    double drop[3];
    /* tensor indices per block and axis; SIZE_MAX when absent */
    size_t w1[MR_CUBE_MAXB][3], b1[MR_CUBE_MAXB][3], w2[MR_CUBE_MAXB][3], b2[MR_CUBE_MAXB][3];
    size_t lng[MR_CUBE_MAXB][3], lnb[MR_CUBE_MAXB][3], wp[MR_CUBE_MAXB][3];
} mr_cubemlp;

/* "50-3-128=10-3-128" → n triples. */
int mr_parse_dims3(const char *s, size_t out[][3], size_t maxn, size_t *n, const char *what, mr_error *e);
/* "0.1-0.1-0.1" / "1-1" → exactly n numbers. */
int mr_parse_dashed(const char *s, double *out, size_t n, const char *what, mr_error *e);
/* "1-1" → n flags; n is the count found. */
int mr_parse_flags01(const char *s, int *out, size_t maxn, size_t *n, const char *what, mr_error *e);

/* in0 = [T, 3, D]; hid/out from d_hiddens/d_outs (nb blocks each); res has nb entries. */
int mr_cubemlp_register(mr_cubemlp *m, mr_params *p, const char *prefix, const size_t in0[3],
                        size_t hid[][3], size_t out[][3], size_t nb, const int *res, int bias,
                        int ln_first, mr_act act, const double drop[3], mr_error *e);
void mr_cubemlp_init(const mr_cubemlp *m, mr_params *p, gsl_rng *r);

size_t mr_cubemlp_cache_size(const mr_cubemlp *m, size_t B);
size_t mr_cubemlp_work_size(const mr_cubemlp *m, size_t B);
/* Number of dropout-mask entries (all blocks and axes, in forward order). */
size_t mr_cubemlp_mask_size(const mr_cubemlp *m, size_t B);
/* masks: NULL → drawn from drop_rng (NULL too → no dropout); else copied. */
void mr_cubemlp_forward(const mr_cubemlp *m, const mr_params *p, const double *X, size_t B,
                        double *Y, double *cache, double *work, const double *masks, gsl_rng *drop_rng);
void mr_cubemlp_backward(const mr_cubemlp *m, mr_params *p, size_t B, const double *dY, double *dX,
                         const double *cache, double *work);
/* Read-only: the output of block i [B, out[i][0], out[i][1], out[i][2]] of
 * the last forward (cache and its output Y) into out. */
void mr_cubemlp_block_output(const mr_cubemlp *m, size_t B, const double *cache, const double *Y, size_t i, double *out);

/* ---- composition (spec §1.7): over K first, then T; each mean | sum | cat */
typedef enum { MR_COMPOSE_MEAN = 0, MR_COMPOSE_SUM, MR_COMPOSE_CAT } mr_compose;
int mr_compose_parse(const char *s);
size_t mr_compose_dim(size_t L, size_t K, size_t D, mr_compose ck, mr_compose ct);
/* X [B, L, K, D] → F [B, dim]. */
void mr_compose_forward(const double *X, size_t B, size_t L, size_t K, size_t D, mr_compose ck,
                        mr_compose ct, double *F);
void mr_compose_backward(const double *dF, size_t B, size_t L, size_t K, size_t D, mr_compose ck,
                         mr_compose ct, double *dX);

/* ---- classifier head (spec §1.7): dim ≤ 128 → classifier.0 = Linear(dim → nc); else
 * classifier.0 Linear(dim → 128), ReLU, Dropout(p), classifier.3 Linear(128 → nc).
 * The backward uses a caller scratch of mr_head_work_size(h, B) doubles. */
#define MR_HEAD_WIDTH 128 /* hidden width of the deep head, spec §1.7 */
typedef struct {
    size_t dim, nc;
    int deep;
    double p;
    size_t w0, b0, w3, b3;
} mr_head;
int mr_head_register(mr_head *h, mr_params *p, const char *prefix, size_t dim, size_t nc, double drop,
                     mr_error *e);
void mr_head_init(const mr_head *h, mr_params *p, gsl_rng *r);
size_t mr_head_cache_size(const mr_head *h, size_t B);
size_t mr_head_work_size(const mr_head *h, size_t B);
void mr_head_forward(const mr_head *h, const mr_params *p, const double *F, size_t B, double *out,
                     double *cache, const double *mask, gsl_rng *drop_rng);
void mr_head_backward(const mr_head *h, mr_params *p, const double *F, size_t B, const double *dout,
                      double *dF, const double *cache, double *work);

#endif
