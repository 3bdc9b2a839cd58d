/* peer_tasks.h — the peer benchmark tasks of `mimrl verify-peer`, written
 * from their published definitions (no code copied), each with its true
 * MI / CMI in nats.
 *
 * Beyond Normal (Czyż, Grabowski, Vogt, Beerenwinkel, Marx, NeurIPS 2023;
 * arXiv 2306.11078; package cbg-ethz/bmi) — tasks with analytic MI:
 *   binormal      (X, Y) bivariate normal, unit variances, correlation ρ = 0.75:
 *                 I = −½ ln(1 − ρ²) = 0.413339…
 *   normal-cdf    binormal with Φ applied to X and Y (uniform margins)
 *   half-cube     binormal with h(t) = t·√|t| applied to X and Y
 *   wiggly        binormal with
 *                   f(t) = t + 0.4 sin t + 0.2 sin(1.7t + 1) + 0.03 sin(3.3t − 2.5) on X,
 *                   g(t) = t − 0.4 sin 0.4t + 0.17 sin(1.3t + 3.5) + 0.02 sin(4.3t − 2.5) on Y
 *                 (f′ ≥ 1 − 0.4 − 0.34 − 0.099 > 0, g′ ≥ 1 − 0.16 − 0.221 − 0.086 > 0)
 *   bimodal       normal-cdf, then X = F⁻¹(U) with F = 0.3Φ(t) + 0.7Φ(t − 5) and
 *                 Y = G⁻¹(V) with G = 0.5Φ(t + 1) + 0.5Φ(t − 3)
 *   swiss-roll    normal-cdf; X (one uniform coordinate u) embedded in the plane:
 *                 t = 1.5π(1 + 2u), X = (t cos t, t sin t)/21; Y stays uniform (2 × 1)
 *   every transform above is a smooth injection of each variable separately,
 *   so I is unchanged: 0.413339 nats.
 *   additive-ε    X ~ U(0,1), N ~ U(−ε, ε), Y = X + N, ε = 0.1 and 0.75:
 *                 I = h(Y) − h(N), h(N) = ln 2ε; for ε ≤ ½ the density of Y is
 *                 a trapezoid with linear ramps of width 2ε whose entropy is ε,
 *                 so I = ε − ln 2ε; for ε > ½ Y has a plateau 1/(2ε) of width
 *                 2ε − 1 and ramps of width 1 and I = 1/(4ε).
 *                 ε = 0.1: 1.709438; ε = 0.75: 0.333333.
 *   dense-d       (X, Y) ~ N(0, Σ), X, Y ∈ ℝ^d, Σ_ii = 1, Σ_ij = 0.5 (i ≠ j):
 *                 I = ½[ln det Σ_X + ln det Σ_Y − ln det Σ] with det of the
 *                 equicorrelation matrix of size m: (1 − c)^{m−1}(1 + (m − 1)c).
 *   2pair-d       (X, Y) ∈ ℝ^d × ℝ^d Gaussian, unit variances, corr(X_i, Y_i) =
 *                 λ²/(λ² + ε²) = 4/5 for i = 1, 2 (λ = 2, ε = 1; the "sparse"
 *                 latent-variable model with 2 interacting pairs), every other
 *                 correlation 0: I = −2·½ ln(1 − 0.8²) = −ln 0.36 = 1.021651.
 *   2pair-d-cdf   the same with Φ on every coordinate.
 *   2pair-d-spiral the same with the spiral x ↦ R(v‖x‖²)x on X (rotation in the
 *                 plane of coordinates 1, 2) and on Y (coordinates 2, 3),
 *                 v = 1/d (bmi's normalised speed 1 / dim); R preserves ‖x‖,
 *                 so the map is a diffeomorphism with inverse R(−v‖x‖²).
 *   student-d-ν   (X, Y) multivariate Student t, dispersion I_{2d}, ν degrees of
 *                 freedom: (X, Y) = G/√(W/ν), G ~ N(0, I), W ~ χ²_ν; then asinh
 *                 on every coordinate (the "asinh ∘ Student-t" tasks). With
 *                 f(t) = ln Γ(t/2) − (t/2) ψ(t/2):
 *                 I = f(ν) + f(ν + 2d) − 2 f(ν + d)  (the Gaussian part is 0
 *                 for identity dispersion; Arellano-Valle, Contreras-Reyes &
 *                 Genton 2013). 1×1 ν=1: 0.223959…; 3×3 ν=2: see the test.
 *
 * Conditional MI tasks:
 *   ccmi1-dz, ccmi2-dz   CCMI models I (category F) and II (category G) of
 *                 truth.h, X, Y scalar, Z ∈ ℝ^dz: I(X;Y|Z) = ½ ln 101 = 2.307560.
 *   tigramite-ρ   (X, Y) bivariate normal with correlation ρ, Z = (Z1, Z2, Z3) iid
 *                 N(0,1), then X += 0.5 ΣZ, Y += 0.7 ΣZ (the confounded test
 *                 data of tigramite's CMIknn test): given Z the original pair
 *                 is recovered, so I(X;Y|Z) = −½ ln(1 − ρ²); ρ = 0.3: 0.047155,
 *                 ρ = 0.6: 0.223144.
 *   dine-lin-d<d>-dz<dz>-r<ρ>   DINE's linear-Gaussian CMI tasks (Duong & Nguyen,
 *                 "Diffeomorphic Information Neural Estimation", AAAI 2023; the
 *                 generator is theirs, the grid d ∈ {1, 5}, d_z ∈ {1, 5, 20},
 *                 ρ ∈ {0.2, 0.6} is ours). X0, Y0 ∈ ℝ^d Gaussian, unit variances,
 *                 corr(X0_i, Y0_i) = ρ, independent across i; Z = 0.01·ε ∈ ℝ^dz,
 *                 ε iid N(0,1) ("Gaussian noise" variant); A, B ∈ ℝ^{dz×d} with
 *                 iid N(0,1) entries, drawn once per data set; X = f_x(Z·A + X0),
 *                 Y = f_y(Z·B + Y0) with the "linear" transform
 *                 f(h) = a·h/std(h), a ~ U(0.2, 2) drawn once per transform (one
 *                 scalar for X, one for Y) and std(h) the (ddof 0) standard
 *                 deviation of each coordinate of h over the n rows of the
 *                 data set. Truth: given Z = z, X = D_x(zA + X0) with D_x the
 *                 positive diagonal a_x/std(h) — an invertible affine map of X0
 *                 (shift zA, then scale); likewise Y of Y0. (X0, Y0) is
 *                 independent of Z, so p(x0, y0 | z) = p(x0, y0) and, as MI is
 *                 invariant under invertible maps of each side,
 *                 I(X;Y|Z = z) = I(X0;Y0) = Σ_i I(X0_i;Y0_i) (independent
 *                 pairs) = −(d/2) ln(1 − ρ²) for every z, hence also its mean
 *                 over z. (The scale is one constant per data set computed
 *                 from the sample; conditionally on it the map is still
 *                 invertible, so the truth does not depend on it.)
 *                 d = 1: ρ = 0.2 0.020411, ρ = 0.6 0.223144; d = 5: 0.102055,
 *                 1.115718 nats.
 * Every truth is also checked against an independent computation in
 * verify/test_peer_tasks.c.
 */
#ifndef MR_PEER_TASKS_H
#define MR_PEER_TASKS_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

typedef enum {
    MR_PT_BINORMAL = 0,
    MR_PT_NORMAL_CDF,
    MR_PT_HALF_CUBE,
    MR_PT_WIGGLY,
    MR_PT_BIMODAL,
    MR_PT_SWISS_ROLL,
    MR_PT_ADDITIVE,    /* p1 = ε */
    MR_PT_DENSE,       /* d */
    MR_PT_2PAIR,       /* d, p1: 0 none, 1 normal cdf, 2 spiral */
    MR_PT_STUDENT,     /* d, p1 = ν, asinh applied */
    MR_PT_CCMI1,       /* d = dz */
    MR_PT_CCMI2,       /* d = dz */
    MR_PT_TIGRAMITE,   /* p1 = ρ */
    MR_PT_DINE_LIN     /* d, dz, p1 = ρ */
} mr_peer_kind;

typedef struct {
    const char *name;
    mr_peer_kind kind;
    size_t d;
    double p1;
    int quick; /* in the --quick subset */
    size_t dz; /* MR_PT_DINE_LIN only */
} mr_peer_task;

/* The task list (Beyond Normal MI tasks, then the CMI tasks). */
size_t mr_peer_tasks(const mr_peer_task **out);
const mr_peer_task *mr_peer_task_find(const char *name);

int mr_peer_is_cmi(const mr_peer_task *t);
void mr_peer_dims(const mr_peer_task *t, size_t *dx, size_t *dy, size_t *dz);
/* True MI / CMI in nats (closed forms above). */
double mr_peer_truth(const mr_peer_task *t);
/* n samples: x[n×dx], y[n×dy], z[n×dz] (z unused for MI tasks; may be NULL). */
void mr_peer_sample(const mr_peer_task *t, gsl_rng *r, size_t n, double *x, double *y, double *z);

/* Pieces exposed for the tests. */
double mr_peer_student_mi(double nu, size_t dx, size_t dy);
double mr_peer_additive_mi(double eps);
double mr_peer_wiggly_x(double t);
double mr_peer_wiggly_y(double t);
double mr_peer_half_cube(double t);
/* F⁻¹(Φ(g)) for the bimodal margins (which = 0: X, 1: Y), by bisection on
 * the upper or lower tail, whichever is smaller (exact to ~1e-12). */
double mr_peer_bimodal_icdf(int which, double g);
/* DINE's linear-Gaussian generator (as mr_peer_sample for MR_PT_DINE_LIN);
 * if the out-pointers are not NULL it also returns A, B (dz×d, row-major),
 * the per-coordinate factors sx[k] = a_x/std(h_x,k), sy[k] = a_y/std(h_y,k)
 * (d each) and a_x, a_y, so that X0 = x/sx − zA can be recovered. */
void mr_peer_dine_sample(gsl_rng *r, size_t n, size_t d, size_t dz, double rho, double *x, double *y, double *z, double *A, double *B,
                         double *sx, double *sy, double *ax, double *ay);

#endif
