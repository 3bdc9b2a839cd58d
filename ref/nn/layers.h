/* layers.h — forward/backward pairs of the elementary layers of MIMRL.
 *
 * Conventions (llm.c style, see ../shared/style.md):
 *  - Row-major buffers with explicit sizes; the last axis is contiguous.
 *  - Forward functions overwrite their outputs. Backward functions ACCUMULATE
 *    (+=) into every gradient they are given, so calling a backward twice
 *    doubles the gradient; any gradient pointer may be NULL to skip it.
 *  - No allocation inside; caches (layernorm mean/rstd, dropout masks) are
 *    caller-owned buffers written by the forward.
 *  - Semantics follow PyTorch (torch.nn.functional) wherever the official code
 *    calls it, including the value of the gradient at kinks; each function
 *    comment names the PyTorch function it matches.
 * These functions cannot fail.
 */
#ifndef MR_LAYERS_H
#define MR_LAYERS_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

/* ---- Linear: out[N,O] = inp[N,I] · w[O,I]ᵀ + b[O]  (torch.nn.Linear; b may be NULL) */
void mr_linear_forward(double *out, const double *inp, const double *w, const double *b,
                       size_t N, size_t I, size_t O);
/* dinp[N,I] += dout·w ; dw[O,I] += doutᵀ·inp ; db[O] += Σ_n dout */
void mr_linear_backward(double *dinp, double *dw, double *db, const double *dout,
                        const double *inp, const double *w, size_t N, size_t I, size_t O);

/* ---- LayerNorm over the last axis (torch.nn.LayerNorm, biased variance):
 * out = (x − μ)·rstd·γ + β, rstd = 1/sqrt(σ² + eps). mean[N], rstd[N] are
 * caches written by the forward. g and b may be NULL (no affine). */
void mr_layernorm_forward(double *out, double *mean, double *rstd, const double *inp,
                          const double *g, const double *b, size_t N, size_t C, double eps);
/* With x̂ = (x−μ)·rstd and d = dout·γ:
 * dinp += rstd·(d − mean(d) − x̂·mean(d·x̂)); dg += Σ dout·x̂; db += Σ dout. */
void mr_layernorm_backward(double *dinp, double *dg, double *db, const double *dout,
                           const double *inp, const double *g, const double *mean,
                           const double *rstd, size_t N, size_t C);

/* ---- Inverted dropout (F.dropout, training mode). mask[i] is 0 or 1/(1−p).
 * mr_dropout_mask draws one gsl_rng_uniform per element (kept iff u < 1−p)
 * unless p == 0 (all ones, no draws) or p == 1 (all zeros, no draws). A
 * supplied mask can be used instead, so runs can be replayed. */
void mr_dropout_mask(double *mask, size_t n, double p, gsl_rng *rng);
void mr_dropout_forward(double *out, const double *inp, const double *mask, size_t n);
void mr_dropout_backward(double *dinp, const double *dout, const double *mask, size_t n);

/* ---- Elementwise activations.
 * relu      F.relu            grad 0 at x = 0
 * gelu      F.gelu (exact)    0.5·x·(1 + erf(x/√2))
 * tanh      torch.tanh
 * sigmoid   torch.sigmoid     1/(1+e^{−x}), evaluated without overflow
 * elu       F.elu, α = 1      x > 0 ? x : expm1(x)
 * leakyrelu F.leaky_relu 0.01 grad 0.01 at x = 0
 * hardtanh  F.hardtanh(−1, 1) grad 0 at and beyond the bounds
 * hardshrink F.hardshrink 0.5 x if |x| > 0.5 else 0; grad 0 on [−0.5, 0.5]
 * rrelu     F.rrelu, training=False: leaky relu with slope (1/8 + 1/3)/2 = 11/48
 * softplus  F.softplus(β=1, threshold=20): x > 20 ? x : log1p(exp(x))
 * identity
 */
typedef enum {
    MR_ACT_IDENTITY = 0,
    MR_ACT_RELU,
    MR_ACT_GELU,
    MR_ACT_TANH,
    MR_ACT_SIGMOID,
    MR_ACT_ELU,
    MR_ACT_LEAKYRELU,
    MR_ACT_HARDTANH,
    MR_ACT_HARDSHRINK,
    MR_ACT_RRELU,
    MR_ACT_SOFTPLUS,
    MR_ACT_COUNT
} mr_act;

/* Name as on the official command line ("relu", "gelu", ...); parse returns
 * -1 for an unknown name (and for "prelu", which cannot run upstream). */
const char *mr_act_name(mr_act a);
int mr_act_parse(const char *name);

void mr_act_forward(mr_act a, double *out, const double *inp, size_t n);
/* dinp += dout · φ'(inp); out is the forward's output (used by tanh and
 * sigmoid, whose derivatives PyTorch computes from the result). */
void mr_act_backward(mr_act a, double *dinp, const double *dout, const double *inp,
                     const double *out, size_t n);

/* ---- Hardtanh with bounds (F.hardtanh(x, lo, hi)): grad 1 strictly inside (lo, hi). */
void mr_hardtanh_forward(double *out, const double *inp, size_t n, double lo, double hi);
void mr_hardtanh_backward(double *dinp, const double *dout, const double *inp, size_t n,
                          double lo, double hi);

/* ---- Clamp (torch.clamp(x, lo, hi)): grad 1 on the closed interval [lo, hi]
 * (PyTorch's clamp passes the gradient at the bounds, hardtanh does not). */
void mr_clamp_forward(double *out, const double *inp, size_t n, double lo, double hi);
void mr_clamp_backward(double *dinp, const double *dout, const double *inp, size_t n,
                       double lo, double hi);

/* ---- Mean over one axis: inp viewed as [O, L, I], out[O, I] = (1/L)·Σ_l inp[o,l,i].
 * Any axis of any tensor is reached by choosing O (product of the axes before)
 * and I (product of the axes after). Sums run in increasing l. */
void mr_mean_axis_forward(double *out, const double *inp, size_t O, size_t L, size_t I);
void mr_mean_axis_backward(double *dinp, const double *dout, size_t O, size_t L, size_t I);

/* ---- Stable logsumexp: m + log Σ exp(x − m), m = max; −inf for n == 0 or all −inf. */
double mr_logsumexp(const double *x, size_t n, size_t stride);
/* Row-wise over inp[R,C] → out[R]; backward dinp += dout[r]·softmax(inp[r,:]). */
void mr_logsumexp_rows_forward(double *out, const double *inp, size_t R, size_t C);
void mr_logsumexp_rows_backward(double *dinp, const double *dout, const double *inp,
                                const double *out, size_t R, size_t C);

#endif
