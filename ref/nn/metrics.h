/* metrics.h — evaluation metrics exactly as the official code computes them
 * (spec §6: Utils.calc_metrics, ccc_score, Solver.get_score_from_result).
 *
 * MOSI / MOSEI (mr_metrics_mosi), over the whole split:
 *   mae        mean |p − y|
 *   corr       Pearson (numpy.corrcoef; NaN if either vector is constant)
 *   acc7       clip both to [−3, 3], round half to even (numpy.round = rint),
 *              fraction equal
 *   acc5       the same with [−2, 2]
 *   acc2_non0  samples with y ≠ 0 only; truth y > 0, prediction p > 0
 *              (so p == 0 counts as negative)
 *   f1_non0    sklearn weighted F1 (average='weighted', truth first) there
 *   acc2_has0  all samples; truth y ≥ 0, prediction p ≥ 0
 *   f1_has0    weighted F1 for the has0 labelling
 * AVEC 2019 (mr_metrics_avec):
 *   mae        on the stored label scale
 *   ccc        2·cov/(var_p + var_y + (μ_p − μ_y)²), population moments, no
 *              epsilon (NaN when the denominator is 0)
 *   rmse       sqrt(mean((s·p − s·y)²)) with s = 25 in the official code
 *              (labels stored as PHQ-8/25); s = 1 gives the plain RMSE.
 * Cannot fail; n ≥ 1. Undefined quantities are NaN, never a trap.
 */
#ifndef MR_METRICS_H
#define MR_METRICS_H

#include <stddef.h>

typedef struct {
    size_t n, n_non0;
    double mae, corr, acc7, acc5, acc2_non0, f1_non0, acc2_has0, f1_has0;
    double ccc, rmse;
} mr_metrics;

void mr_metrics_mosi(const double *p, const double *y, size_t n, mr_metrics *m);
void mr_metrics_avec(const double *p, const double *y, size_t n, double rmse_scale, mr_metrics *m);

/* Population (1/n) means, variances and covariance of p and y. */
void mr_moments(const double *p, const double *y, size_t n, double *mp, double *my, double *vp, double *vy,
                double *cov);
double mr_pearson(const double *x, const double *y, size_t n);
double mr_ccc(const double *p, const double *y, size_t n);
/* sklearn f1_score(truth, pred, average='weighted') for binary 0/1 labels,
 * over the entries where mask is NULL or mask[i] != 0. */
double mr_weighted_f1(const int *truth, const int *pred, const unsigned char *mask, size_t n);

#endif
