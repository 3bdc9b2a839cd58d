/* knn_mi.c — see knn_mi.h. */
#include "estimators/knn_mi.h"

#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>

static double maxnorm(const double *a, const double *b, size_t d) {
    double m = 0.0;
    for (size_t f = 0; f < d; f++) {
        double t = fabs(a[f] - b[f]);
        if (t > m) m = t;
    }
    return m;
}

/* Joint max-norm distance over up to three blocks. */
typedef struct {
    const double *p[3];
    size_t d[3];
    int nb;
} blocks;

static double joint_dist(const blocks *b, size_t i, size_t j) {
    double m = 0.0;
    for (int k = 0; k < b->nb; k++) {
        double t = maxnorm(b->p[k] + i * b->d[k], b->p[k] + j * b->d[k], b->d[k]);
        if (t > m) m = t;
    }
    return m;
}

/* k-th smallest joint distance from i to the other points (insertion into a
 * sorted buffer of k). */
static double kth_dist(const blocks *b, size_t N, size_t i, size_t k, double *buf) {
    size_t have = 0;
    for (size_t j = 0; j < N; j++) {
        if (j == i) continue;
        double dd = joint_dist(b, i, j);
        if (have == k && !(dd < buf[k - 1])) continue;
        size_t pos = have < k ? have++ : k - 1;
        while (pos > 0 && dd < buf[pos - 1]) {
            buf[pos] = buf[pos - 1];
            pos--;
        }
        buf[pos] = dd;
    }
    return buf[k - 1];
}

static size_t count_within(const blocks *b, size_t N, size_t i, double eps) {
    size_t n = 0;
    for (size_t j = 0; j < N; j++)
        if (j != i && joint_dist(b, i, j) < eps) n++;
    return n;
}

double mr_ksg_mi(const double *x, size_t dx, const double *y, size_t dy, size_t N, size_t k) {
    if (k == 0 || k >= N) return NAN;
    double *buf = malloc(k * sizeof *buf);
    if (!buf) return NAN;
    blocks J = {{x, y, NULL}, {dx, dy, 0}, 2}, X = {{x}, {dx}, 1}, Y = {{y}, {dy}, 1};
    double acc = 0.0;
    for (size_t i = 0; i < N; i++) {
        double eps = kth_dist(&J, N, i, k, buf);
        acc += gsl_sf_psi_int((int)count_within(&X, N, i, eps) + 1) + gsl_sf_psi_int((int)count_within(&Y, N, i, eps) + 1);
    }
    free(buf);
    return gsl_sf_psi_int((int)k) + gsl_sf_psi_int((int)N) - acc / (double)N;
}

double mr_fp_cmi(const double *x, size_t dx, const double *y, size_t dy, const double *z, size_t dz,
                 size_t N, size_t k) {
    if (k == 0 || k >= N) return NAN;
    double *buf = malloc(k * sizeof *buf);
    if (!buf) return NAN;
    blocks J = {{x, y, z}, {dx, dy, dz}, 3}, XZ = {{x, z}, {dx, dz}, 2}, YZ = {{y, z}, {dy, dz}, 2};
    blocks Z = {{z}, {dz}, 1};
    double acc = 0.0;
    for (size_t i = 0; i < N; i++) {
        double eps = kth_dist(&J, N, i, k, buf);
        acc += gsl_sf_psi_int((int)count_within(&XZ, N, i, eps) + 1) + gsl_sf_psi_int((int)count_within(&YZ, N, i, eps) + 1) -
               gsl_sf_psi_int((int)count_within(&Z, N, i, eps) + 1);
    }
    free(buf);
    return gsl_sf_psi_int((int)k) - acc / (double)N;
}
