/* truth.c — see truth.h. */
#include "estimators/truth.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int mr_logdet_spd(const double *A, size_t n, double *out, mr_error *e) {
    if (n == 0) {
        *out = 0.0;
        return MR_OK;
    }
    double *buf = malloc(n * n * sizeof *buf);
    if (!buf) return mr_fail(e, MR_ENOMEM, "out of memory");
    memcpy(buf, A, n * n * sizeof *buf);
    gsl_matrix_view m = gsl_matrix_view_array(buf, n, n);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = gsl_linalg_cholesky_decomp1(&m.matrix);
    gsl_set_error_handler(old);
    if (st != GSL_SUCCESS) {
        free(buf);
        return mr_fail(e, MR_EINVAL, "covariance block of size %zu is not positive definite", n);
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += log(buf[i * n + i]);
    free(buf);
    *out = 2.0 * s;
    return MR_OK;
}

/* log det of the sub-matrix of Σ on the concatenated index lists */
static int logdet_sub(const double *S, size_t n, const size_t *a, size_t na, const size_t *b, size_t nb,
                      const size_t *c, size_t nc, double *out, mr_error *e) {
    size_t k = na + nb + nc;
    size_t *idx = malloc((k ? k : 1) * sizeof *idx);
    double *sub = malloc((k ? k * k : 1) * sizeof *sub);
    if (!idx || !sub) {
        free(idx);
        free(sub);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    if (na) memcpy(idx, a, na * sizeof *idx);
    if (nb) memcpy(idx + na, b, nb * sizeof *idx);
    if (nc) memcpy(idx + na + nb, c, nc * sizeof *idx);
    int rc = MR_OK;
    for (size_t i = 0; i < k && rc == MR_OK; i++) {
        if (idx[i] >= n) rc = mr_fail(e, MR_EINVAL, "index %zu outside the %zu×%zu covariance", idx[i], n, n);
        for (size_t j = 0; j < k && rc == MR_OK; j++) sub[i * k + j] = S[idx[i] * n + idx[j]];
    }
    if (rc == MR_OK) rc = mr_logdet_spd(sub, k, out, e);
    free(idx);
    free(sub);
    return rc;
}

int mr_gauss_mi(const double *Sigma, size_t n, const size_t *ix, size_t nx, const size_t *iy,
                size_t ny, double *mi, mr_error *e) {
    double lx, ly, lxy;
    int rc;
    if ((rc = logdet_sub(Sigma, n, ix, nx, NULL, 0, NULL, 0, &lx, e))) return rc;
    if ((rc = logdet_sub(Sigma, n, iy, ny, NULL, 0, NULL, 0, &ly, e))) return rc;
    if ((rc = logdet_sub(Sigma, n, ix, nx, iy, ny, NULL, 0, &lxy, e))) return rc;
    *mi = 0.5 * (lx + ly - lxy);
    return MR_OK;
}

int mr_gauss_cmi(const double *Sigma, size_t n, const size_t *ix, size_t nx, const size_t *iy,
                 size_t ny, const size_t *iz, size_t nz, double *cmi, mr_error *e) {
    double lxz, lyz, lz, lxyz;
    int rc;
    if ((rc = logdet_sub(Sigma, n, ix, nx, iz, nz, NULL, 0, &lxz, e))) return rc;
    if ((rc = logdet_sub(Sigma, n, iy, ny, iz, nz, NULL, 0, &lyz, e))) return rc;
    if ((rc = logdet_sub(Sigma, n, iz, nz, NULL, 0, NULL, 0, &lz, e))) return rc;
    if ((rc = logdet_sub(Sigma, n, ix, nx, iy, ny, iz, nz, &lxyz, e))) return rc;
    *cmi = 0.5 * (lxz + lyz - lz - lxyz);
    return MR_OK;
}

int mr_gauss_pid(const double *Sigma, size_t n1, size_t n2, mr_pid *pid, mr_error *e) {
    size_t n = n1 + n2 + 1;
    size_t *i1 = malloc((n1 ? n1 : 1) * sizeof *i1), *i2 = malloc((n2 ? n2 : 1) * sizeof *i2);
    size_t *i12 = malloc((n1 + n2 ? n1 + n2 : 1) * sizeof *i12), iy[1] = {n1 + n2};
    if (!i1 || !i2 || !i12) {
        free(i1);
        free(i2);
        free(i12);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n1; k++) i1[k] = i12[k] = k;
    for (size_t k = 0; k < n2; k++) i2[k] = i12[n1 + k] = n1 + k;
    int rc = mr_gauss_mi(Sigma, n, i1, n1, iy, 1, &pid->i1, e);
    if (!rc) rc = mr_gauss_mi(Sigma, n, i2, n2, iy, 1, &pid->i2, e);
    if (!rc) rc = mr_gauss_mi(Sigma, n, i12, n1 + n2, iy, 1, &pid->i12, e);
    free(i1);
    free(i2);
    free(i12);
    if (rc) return rc;
    pid->r = pid->i1 < pid->i2 ? pid->i1 : pid->i2;
    pid->u1 = pid->i1 - pid->r;
    pid->u2 = pid->i2 - pid->r;
    pid->s = pid->i12 - pid->i1 - pid->i2 + pid->r;
    return MR_OK;
}

/* ------------------------------------------------------------ distributions */

double mr_staircase_rho(double mi, size_t d) { return sqrt(1.0 - exp(-2.0 * mi / (double)d)); }
double mr_staircase_mi(double rho, size_t d) { return -0.5 * (double)d * log1p(-rho * rho); }

void mr_sample_staircase(gsl_rng *r, size_t B, size_t d, double rho, int cubic, double *x, double *y) {
    double s = sqrt(1.0 - rho * rho);
    for (size_t i = 0; i < B * d; i++) {
        x[i] = gsl_ran_gaussian(r, 1.0);
        double v = rho * x[i] + s * gsl_ran_gaussian(r, 1.0);
        y[i] = cubic ? v * v * v : v;
    }
}

double mr_cmine_chain_cmi(double sx, double sy, double sz, size_t d) {
    double x2 = sx * sx, y2 = sy * sy, z2 = sz * sz;
    return 0.5 * (double)d * log((x2 + y2) * (y2 + z2) / (y2 * (x2 + y2 + z2)));
}

void mr_sample_cmine_chain(gsl_rng *r, size_t n, size_t d, double sx, double sy, double sz, double *x,
                           double *y, double *z) {
    for (size_t i = 0; i < n * d; i++) {
        x[i] = gsl_ran_gaussian(r, sx);
        y[i] = x[i] + gsl_ran_gaussian(r, sy);
        z[i] = y[i] + gsl_ran_gaussian(r, sz);
    }
}

double mr_ccmi_cmi(void) { return 0.5 * log(1.0 + 1.0 / 0.01); }

void mr_sample_ccmi(gsl_rng *r, size_t n, size_t dz, int category_g, const double *w, double *x,
                    double *y, double *z) {
    for (size_t i = 0; i < n; i++) {
        x[i] = gsl_ran_gaussian(r, 1.0);
        double mu = 0.0;
        for (size_t k = 0; k < dz; k++) {
            z[i * dz + k] = category_g ? gsl_ran_gaussian(r, 1.0) : gsl_rng_uniform(r) - 0.5;
            if (category_g) mu += w[k] * z[i * dz + k];
        }
        if (!category_g) mu = z[i * dz];
        y[i] = x[i] + mu + gsl_ran_gaussian(r, 0.1);
    }
}
