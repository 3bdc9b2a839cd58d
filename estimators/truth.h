/* truth.h — ground truth for the estimator benchmarks (../shared/spec/anchors.md
 * §C–§E): closed-form Gaussian MI / CMI / PID and the samplers of the
 * benchmark distributions.
 *
 * Gaussian formulas, for a covariance Σ over a set of coordinates and index
 * blocks X, Y, Z (log-determinants through GSL's Cholesky):
 *   I(X;Y)   = ½ [log det Σ_X + log det Σ_Y − log det Σ_XY]
 *   I(X;Y|Z) = ½ [log det Σ_XZ + log det Σ_YZ − log det Σ_Z − log det Σ_XYZ]
 * MMI partial information decomposition (Barrett 2015) of jointly Gaussian
 * (X1, X2, Y) with univariate Y: R = min(I(X1;Y), I(X2;Y)), U_i = I(X_i;Y) − R,
 * S = I(X1,X2;Y) − I(X1;Y) − I(X2;Y) + R.
 */
#ifndef MR_TRUTH_H
#define MR_TRUTH_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "ref/core/common.h"

/* log det of a symmetric positive-definite n×n matrix (row-major). */
int mr_logdet_spd(const double *A, size_t n, double *out, mr_error *e);
int mr_gauss_mi(const double *Sigma, size_t n, const size_t *ix, size_t nx, const size_t *iy,
                size_t ny, double *mi, mr_error *e);
int mr_gauss_cmi(const double *Sigma, size_t n, const size_t *ix, size_t nx, const size_t *iy,
                 size_t ny, const size_t *iz, size_t nz, double *cmi, mr_error *e);

typedef struct {
    double i1, i2, i12; /* I(X1;Y), I(X2;Y), I(X1,X2;Y) */
    double r, u1, u2, s;
} mr_pid;
/* Σ over [X1 (n1 coords), X2 (n2 coords), Y (1 coord)]. */
int mr_gauss_pid(const double *Sigma, size_t n1, size_t n2, mr_pid *pid, mr_error *e);

/* ---- the benchmark distributions */

/* Poole staircase: x ~ N(0, I_d), y = ρx + √(1−ρ²)ε; I = −(d/2) ln(1−ρ²). */
double mr_staircase_rho(double mi, size_t d);
double mr_staircase_mi(double rho, size_t d);
/* x, y: [B×d]; cubic = 1 maps y → y³ (MI unchanged). */
void mr_sample_staircase(gsl_rng *r, size_t B, size_t d, double rho, int cubic, double *x, double *y);

/* CMINE Markov chain X ~ N(0, σx² I_d), Y = X + N(0, σy² I_d), Z = Y + N(0, σz² I_d):
 * I(X;Y|Z) = (d/2) ln[(σx²+σy²)(σy²+σz²) / (σy²(σx²+σy²+σz²))], I(X;Z|Y) = 0. */
double mr_cmine_chain_cmi(double sx, double sy, double sz, size_t d);
void mr_sample_cmine_chain(gsl_rng *r, size_t n, size_t d, double sx, double sy, double sz, double *x,
                           double *y, double *z);

/* CCMI categories F and G (X, Y scalar; Z of dimension dz):
 *   F: X ~ N(0,1), Z ~ U(−½, ½)^dz, Y = X + ε, ε ~ N(Z₁, 0.1²)
 *   G: X ~ N(0,1), Z ~ N(0, I), Y = X + ε, ε ~ N(wᵀZ, 0.1²), w a fixed unit vector
 * I(X;Y|Z) = ½ ln(1 + 1/0.01) = 2.3076 nats for every dz. */
double mr_ccmi_cmi(void);
void mr_sample_ccmi(gsl_rng *r, size_t n, size_t dz, int category_g, const double *w, double *x,
                    double *y, double *z);

#endif
