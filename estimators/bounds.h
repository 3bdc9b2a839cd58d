/* bounds.h — variational lower bounds on mutual information evaluated on a
 * critic score matrix (spec §2.3–2.5; Poole et al. 2019; Song & Ermon 2020).
 *
 * S is B×B, row-major, diagonal = joint pairs. For the separate critic rows
 * index y and columns x (S[i,j] = h(y_i)·g(x_j)); for the concat critic rows
 * index x (O-19). Bounds that take a baseline read log a(y) as a vector
 * log_a[B] that shifts row i (NULL = the constant baseline, zeros).
 *
 * Off-diagonal log-mean-exp is computed over the B(B−1) entries explicitly
 * (never by adding −∞), so the diagonal gets an exact zero gradient.
 *
 *   dv          I = mean_i S_ii − LME_{i≠j} S_ij
 *   mine        value of dv; the wrapper's loss is the MINE surrogate
 *               mean_i S_ii − (1/m)·mean_{all} E, E = exp(S) with zero
 *               diagonal, m = 0.99 + 0.01·mean(E) held constant, NOT negated
 *               (O-16, faithful)
 *   tuba        S' = S − log a(y) (row-wise); I = 1 + mean_i S'_ii − exp(LME_{i≠j} S'_ij)
 *   nwj         tuba(S − 1) with a zero baseline
 *   infonce     I = log B + mean_i (S_ii − LSE_j S_ij)  (≤ log B, exactly in
 *               floating point thanks to this grouping)
 *   js_fgan     I = mean_i(−softplus(−S_ii)) − (Σ_ij softplus(S_ij) − Σ_i softplus(S_ii))/(B(B−1))
 *   js          value js_fgan + (nwj − js_fgan), gradient of js_fgan
 *               (straight-through, O-17)
 *   smile       value js_fgan + (dv_τ − js_fgan) with dv_τ = mean_i S_ii −
 *               LME_{i≠j} clamp(S_ij, −τ, τ); gradient of js_fgan; τ = 1 in
 *               the official code (clip forced to 1, O-17), configurable
 *   interpolate I_α of Poole et al. with α = σ(alpha_logit) (official 0.01):
 *               nce[i,j] = log Σ_{k≠j} e^{S_ik} − log(B−1) (leave-one-out,
 *               via a row max and softplus⁻¹(d) = d + log(−expm1(−d)), d == 0
 *               replaced by 1); ib[i,j] = log(α e^{nce_ij} + (1−α) a(y_i));
 *               official (faithful, O-18): marg = mean_{i≠j} exp(S_ij − ib_jj),
 *               joint = mean_{i≠j} (S_jj − ib_ij); per-row variant (Poole):
 *               marg = mean_{i≠j} exp(S_ij − ib_ii), joint = mean_{i≠j} (S_ii − ib_ij);
 *               I = 1 + joint − marg.
 *
 * Every function accumulates scale·∂(returned value)/∂S into dS and
 * scale·∂/∂log_a into dlog_a when those are non-NULL — the gradient autograd
 * computes through the official expression (for js and smile that is the
 * js_fgan gradient, not the derivative of the value). B must be ≥ 2; for
 * B < 2 the value is NaN and no gradient is written.
 */
#ifndef MR_BOUNDS_H
#define MR_BOUNDS_H

#include <stddef.h>

typedef enum {
    MR_BOUND_NWJ = 0,
    MR_BOUND_INFONCE,
    MR_BOUND_JS,
    MR_BOUND_SMILE,
    MR_BOUND_DV,
    MR_BOUND_MINE,
    MR_BOUND_TUBA,
    MR_BOUND_INTERPOLATE,
    MR_BOUND_JS_FGAN,
    MR_BOUND_COUNT
} mr_bound;

typedef struct {
    double smile_clip;  /* τ; official 1 */
    double alpha_logit; /* interpolate; official 0.01 */
    int interp_per_row; /* 0: official per-column diagonal (O-18); 1: Poole et al. */
} mr_bound_opts;

void mr_bound_opts_default(mr_bound_opts *o);
const char *mr_bound_name(mr_bound b);
int mr_bound_parse(const char *name); /* −1 if unknown */
int mr_bound_uses_baseline(mr_bound b);

/* Scratch doubles needed by mr_bound_mi / mr_bound_loss for a B×B matrix. */
size_t mr_bound_work_size(size_t B);

/* The estimate I (value returned by the official estimator). work holds
 * mr_bound_work_size(B) doubles; nwj, tuba, js, smile and interpolate need it
 * and return NaN (writing no gradient) when it is NULL — nothing allocates. */
double mr_bound_mi(mr_bound b, const double *S, size_t B, const double *log_a,
                   const mr_bound_opts *o, double *dS, double *dlog_a, double scale, double *work);
/* The wrapper's mi_loss: −I for every bound except mine (its surrogate). */
double mr_bound_loss(mr_bound b, const double *S, size_t B, const double *log_a,
                     const mr_bound_opts *o, double *dS, double *dlog_a, double scale, double *work);

/* Off-diagonal log-mean-exp, LSE_{i≠j} S_ij − log(B(B−1)); accumulates
 * scale·∂/∂S into dS when non-NULL. Exposed for tests and estimators. */
double mr_logmeanexp_nodiag(const double *S, size_t B, double *dS, double scale);

#endif
