/* peer_tasks.c — see peer_tasks.h. */
#include "estimators/peer_tasks.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/truth.h"

#define PT_RHO 0.75 /* Beyond Normal's GAUSSIAN_CORRELATION */

static const mr_peer_task TASKS[] = {
    {"binormal-1x1", MR_PT_BINORMAL, 1, 0, 1, 0},
    {"normal-cdf-1x1", MR_PT_NORMAL_CDF, 1, 0, 0, 0},
    {"half-cube-1x1", MR_PT_HALF_CUBE, 1, 0, 1, 0},
    {"wiggly-1x1", MR_PT_WIGGLY, 1, 0, 0, 0},
    {"bimodal-1x1", MR_PT_BIMODAL, 1, 0, 1, 0},
    {"swiss-roll-2x1", MR_PT_SWISS_ROLL, 1, 0, 0, 0},
    {"additive-0.1-1x1", MR_PT_ADDITIVE, 1, 0.1, 1, 0},
    {"additive-0.75-1x1", MR_PT_ADDITIVE, 1, 0.75, 0, 0},
    {"dense-5x5", MR_PT_DENSE, 5, 0, 1, 0},
    {"dense-25x25", MR_PT_DENSE, 25, 0, 0, 0},
    {"2pair-5x5", MR_PT_2PAIR, 5, 0, 0, 0},
    {"2pair-25x25", MR_PT_2PAIR, 25, 0, 1, 0},
    {"2pair-cdf-5x5", MR_PT_2PAIR, 5, 1, 0, 0},
    {"2pair-cdf-25x25", MR_PT_2PAIR, 25, 1, 0, 0},
    {"2pair-spiral-5x5", MR_PT_2PAIR, 5, 2, 1, 0},
    {"2pair-spiral-25x25", MR_PT_2PAIR, 25, 2, 0, 0},
    {"asinh-student-1x1-nu1", MR_PT_STUDENT, 1, 1, 1, 0},
    {"asinh-student-3x3-nu2", MR_PT_STUDENT, 3, 2, 0, 0},
    {"ccmi1-dz20", MR_PT_CCMI1, 20, 0, 1, 0},
    {"ccmi2-dz20", MR_PT_CCMI2, 20, 0, 0, 0},
    {"tigramite-0.3", MR_PT_TIGRAMITE, 3, 0.3, 0, 0},
    {"tigramite-0.6", MR_PT_TIGRAMITE, 3, 0.6, 1, 0},
    /* DINE linear-Gaussian grid (ours: d × d_z × ρ; the generator is DINE's) */
    {"dine-lin-d1-dz1-r0.2", MR_PT_DINE_LIN, 1, 0.2, 0, 1},
    {"dine-lin-d1-dz1-r0.6", MR_PT_DINE_LIN, 1, 0.6, 0, 1},
    {"dine-lin-d1-dz5-r0.2", MR_PT_DINE_LIN, 1, 0.2, 0, 5},
    {"dine-lin-d1-dz5-r0.6", MR_PT_DINE_LIN, 1, 0.6, 1, 5},
    {"dine-lin-d1-dz20-r0.2", MR_PT_DINE_LIN, 1, 0.2, 0, 20},
    {"dine-lin-d1-dz20-r0.6", MR_PT_DINE_LIN, 1, 0.6, 0, 20},
    {"dine-lin-d5-dz1-r0.2", MR_PT_DINE_LIN, 5, 0.2, 0, 1},
    {"dine-lin-d5-dz1-r0.6", MR_PT_DINE_LIN, 5, 0.6, 0, 1},
    {"dine-lin-d5-dz5-r0.2", MR_PT_DINE_LIN, 5, 0.2, 0, 5},
    {"dine-lin-d5-dz5-r0.6", MR_PT_DINE_LIN, 5, 0.6, 0, 5},
    {"dine-lin-d5-dz20-r0.2", MR_PT_DINE_LIN, 5, 0.2, 0, 20},
    {"dine-lin-d5-dz20-r0.6", MR_PT_DINE_LIN, 5, 0.6, 1, 20},
};

size_t mr_peer_tasks(const mr_peer_task **out) {
    *out = TASKS;
    return sizeof TASKS / sizeof TASKS[0];
}

const mr_peer_task *mr_peer_task_find(const char *name) {
    for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
        if (!strcmp(TASKS[i].name, name)) return &TASKS[i];
    return NULL;
}

int mr_peer_is_cmi(const mr_peer_task *t) {
    return t->kind == MR_PT_CCMI1 || t->kind == MR_PT_CCMI2 || t->kind == MR_PT_TIGRAMITE || t->kind == MR_PT_DINE_LIN;
}

void mr_peer_dims(const mr_peer_task *t, size_t *dx, size_t *dy, size_t *dz) {
    *dz = 0;
    switch (t->kind) {
    case MR_PT_SWISS_ROLL: *dx = 2, *dy = 1; break;
    case MR_PT_DENSE:
    case MR_PT_2PAIR:
    case MR_PT_STUDENT: *dx = *dy = t->d; break;
    case MR_PT_CCMI1:
    case MR_PT_CCMI2: *dx = *dy = 1, *dz = t->d; break;
    case MR_PT_TIGRAMITE: *dx = *dy = 1, *dz = 3; break;
    case MR_PT_DINE_LIN: *dx = *dy = t->d, *dz = t->dz; break;
    default: *dx = *dy = 1; break;
    }
}

double mr_peer_additive_mi(double eps) { return eps <= 0.5 ? eps - log(2 * eps) : 1.0 / (4 * eps); }

static double f_student(double t) { return gsl_sf_lngamma(t / 2) - (t / 2) * gsl_sf_psi(t / 2); }

double mr_peer_student_mi(double nu, size_t dx, size_t dy) {
    return f_student(nu) + f_student(nu + (double)(dx + dy)) - f_student(nu + (double)dx) - f_student(nu + (double)dy);
}

/* ln det of the m×m equicorrelation matrix with off-diagonal c */
static double logdet_equi(size_t m, double c) { return (double)(m - 1) * log(1 - c) + log(1 + (double)(m - 1) * c); }

double mr_peer_truth(const mr_peer_task *t) {
    switch (t->kind) {
    case MR_PT_BINORMAL:
    case MR_PT_NORMAL_CDF:
    case MR_PT_HALF_CUBE:
    case MR_PT_WIGGLY:
    case MR_PT_BIMODAL:
    case MR_PT_SWISS_ROLL: return -0.5 * log(1 - PT_RHO * PT_RHO);
    case MR_PT_ADDITIVE: return mr_peer_additive_mi(t->p1);
    case MR_PT_DENSE: return 0.5 * (2 * logdet_equi(t->d, 0.5) - logdet_equi(2 * t->d, 0.5));
    case MR_PT_2PAIR: return -log(1 - 0.8 * 0.8);
    case MR_PT_STUDENT: return mr_peer_student_mi(t->p1, t->d, t->d);
    case MR_PT_CCMI1:
    case MR_PT_CCMI2: return mr_ccmi_cmi();
    case MR_PT_TIGRAMITE: return -0.5 * log(1 - t->p1 * t->p1);
    case MR_PT_DINE_LIN: return -0.5 * (double)t->d * log(1 - t->p1 * t->p1); /* derivation: peer_tasks.h */
    }
    return NAN;
}

double mr_peer_half_cube(double t) { return t * sqrt(fabs(t)); }
double mr_peer_wiggly_x(double t) { return t + 0.4 * sin(t) + 0.2 * sin(1.7 * t + 1) + 0.03 * sin(3.3 * t - 2.5); }
double mr_peer_wiggly_y(double t) { return t - 0.4 * sin(0.4 * t) + 0.17 * sin(1.3 * t + 3.5) + 0.02 * sin(4.3 * t - 2.5); }

/* mixture tails: lower P(T ≤ t), upper P(T > t) */
static double mix(int which, double t, int upper) {
    if (which == 0) return upper ? 0.3 * gsl_cdf_ugaussian_Q(t) + 0.7 * gsl_cdf_ugaussian_Q(t - 5)
                                 : 0.3 * gsl_cdf_ugaussian_P(t) + 0.7 * gsl_cdf_ugaussian_P(t - 5);
    return upper ? 0.5 * gsl_cdf_ugaussian_Q(t + 1) + 0.5 * gsl_cdf_ugaussian_Q(t - 3)
                 : 0.5 * gsl_cdf_ugaussian_P(t + 1) + 0.5 * gsl_cdf_ugaussian_P(t - 3);
}

double mr_peer_bimodal_icdf(int which, double g) {
    int upper = g > 0; /* solve in the smaller tail: target Q(g) or P(g) */
    double target = upper ? gsl_cdf_ugaussian_Q(g) : gsl_cdf_ugaussian_P(g);
    double lo = -60, hi = 60;
    for (int it = 0; it < 200 && hi - lo > 1e-13 * (1 + fabs(lo)); it++) {
        double mid = 0.5 * (lo + hi), v = mix(which, mid, upper);
        /* lower tail increases with t, upper tail decreases */
        if (upper ? v > target : v < target) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void binormal(gsl_rng *r, double rho, double *a, double *b) {
    double g1 = gsl_ran_gaussian(r, 1.0), g2 = gsl_ran_gaussian(r, 1.0);
    *a = g1;
    *b = rho * g1 + sqrt(1 - rho * rho) * g2;
}

/* rotate coordinates (i, j) of v by angle θ */
static void rot(double *v, size_t i, size_t j, double th) {
    double c = cos(th), s = sin(th), a = v[i], b = v[j];
    v[i] = c * a - s * b;
    v[j] = s * a + c * b;
}

static void spiral(double *v, size_t d, size_t i, size_t j) {
    double r2 = 0;
    for (size_t k = 0; k < d; k++) r2 += v[k] * v[k];
    rot(v, i, j, r2 / (double)d);
}

/* f(h) = a·h/std(h) on each column of h[n×d] (std with divisor n); fac[k] = a/std */
static void dine_linear(double *h, size_t n, size_t d, double a, double *fac) {
    for (size_t k = 0; k < d; k++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += h[i * d + k];
        m /= (double)n;
        for (size_t i = 0; i < n; i++) v += (h[i * d + k] - m) * (h[i * d + k] - m);
        double f = a / sqrt(v / (double)n);
        for (size_t i = 0; i < n; i++) h[i * d + k] *= f;
        if (fac) fac[k] = f;
    }
}

void mr_peer_dine_sample(gsl_rng *r, size_t n, size_t d, size_t dz, double rho, double *x, double *y, double *z, double *A, double *B,
                         double *sx, double *sy, double *ax, double *ay) {
    double *own = (A && B) ? NULL : malloc(2 * dz * d * sizeof *own);
    if (!A || !B) {
        if (!own) { /* no status to return here: poison the data so every estimate is NaN */
            for (size_t i = 0; i < n * d; i++) x[i] = y[i] = NAN;
            return;
        }
        A = own, B = own + dz * d;
    }
    for (size_t i = 0; i < dz * d; i++) A[i] = gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < dz * d; i++) B[i] = gsl_ran_gaussian(r, 1.0);
    double a_x = 0.2 + 1.8 * gsl_rng_uniform(r), a_y = 0.2 + 1.8 * gsl_rng_uniform(r);
    for (size_t i = 0; i < n; i++) {
        double *xi = x + i * d, *yi = y + i * d, *zi = z + i * dz;
        for (size_t k = 0; k < d; k++) binormal(r, rho, &xi[k], &yi[k]);
        for (size_t j = 0; j < dz; j++) zi[j] = 0.01 * gsl_ran_gaussian(r, 1.0);
        for (size_t j = 0; j < dz; j++)
            for (size_t k = 0; k < d; k++) xi[k] += zi[j] * A[j * d + k], yi[k] += zi[j] * B[j * d + k];
    }
    dine_linear(x, n, d, a_x, sx);
    dine_linear(y, n, d, a_y, sy);
    if (ax) *ax = a_x;
    if (ay) *ay = a_y;
    free(own);
}

void mr_peer_sample(const mr_peer_task *t, gsl_rng *r, size_t n, double *x, double *y, double *z) {
    size_t dx, dy, dz;
    mr_peer_dims(t, &dx, &dy, &dz);
    if (t->kind == MR_PT_DINE_LIN) {
        mr_peer_dine_sample(r, n, t->d, t->dz, t->p1, x, y, z, NULL, NULL, NULL, NULL, NULL, NULL);
        return;
    }
    if (t->kind == MR_PT_CCMI1 || t->kind == MR_PT_CCMI2) {
        double *w = malloc(dz * sizeof *w), nrm = 0;
        if (!w) return;
        for (size_t k = 0; k < dz; k++) w[k] = gsl_ran_gaussian(r, 1.0), nrm += w[k] * w[k];
        for (size_t k = 0; k < dz; k++) w[k] /= sqrt(nrm);
        mr_sample_ccmi(r, n, dz, t->kind == MR_PT_CCMI2, w, x, y, z);
        free(w);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double *xi = x + i * dx, *yi = y + i * dy, a, b;
        switch (t->kind) {
        case MR_PT_BINORMAL: binormal(r, PT_RHO, xi, yi); break;
        case MR_PT_NORMAL_CDF:
            binormal(r, PT_RHO, &a, &b);
            xi[0] = gsl_cdf_ugaussian_P(a), yi[0] = gsl_cdf_ugaussian_P(b);
            break;
        case MR_PT_HALF_CUBE:
            binormal(r, PT_RHO, &a, &b);
            xi[0] = mr_peer_half_cube(a), yi[0] = mr_peer_half_cube(b);
            break;
        case MR_PT_WIGGLY:
            binormal(r, PT_RHO, &a, &b);
            xi[0] = mr_peer_wiggly_x(a), yi[0] = mr_peer_wiggly_y(b);
            break;
        case MR_PT_BIMODAL:
            binormal(r, PT_RHO, &a, &b);
            xi[0] = mr_peer_bimodal_icdf(0, a), yi[0] = mr_peer_bimodal_icdf(1, b);
            break;
        case MR_PT_SWISS_ROLL: {
            binormal(r, PT_RHO, &a, &b);
            double u = gsl_cdf_ugaussian_P(a), tt = 1.5 * M_PI * (1 + 2 * u);
            xi[0] = tt * cos(tt) / 21.0, xi[1] = tt * sin(tt) / 21.0;
            yi[0] = gsl_cdf_ugaussian_P(b);
            break;
        }
        case MR_PT_ADDITIVE:
            xi[0] = gsl_rng_uniform(r);
            yi[0] = xi[0] + t->p1 * (2 * gsl_rng_uniform(r) - 1);
            break;
        case MR_PT_DENSE: {
            /* equicorrelation 0.5 over all 2d coordinates: √0.5·(common) + √0.5·(own) */
            double c = gsl_ran_gaussian(r, 1.0);
            for (size_t k = 0; k < dx; k++) xi[k] = sqrt(0.5) * c + sqrt(0.5) * gsl_ran_gaussian(r, 1.0);
            for (size_t k = 0; k < dy; k++) yi[k] = sqrt(0.5) * c + sqrt(0.5) * gsl_ran_gaussian(r, 1.0);
            break;
        }
        case MR_PT_2PAIR:
            for (size_t k = 0; k < dx; k++) {
                if (k < 2) binormal(r, 0.8, &xi[k], &yi[k]);
                else xi[k] = gsl_ran_gaussian(r, 1.0), yi[k] = gsl_ran_gaussian(r, 1.0);
            }
            if (t->p1 == 1)
                for (size_t k = 0; k < dx; k++) xi[k] = gsl_cdf_ugaussian_P(xi[k]), yi[k] = gsl_cdf_ugaussian_P(yi[k]);
            if (t->p1 == 2) spiral(xi, dx, 0, 1), spiral(yi, dy, 1, 2);
            break;
        case MR_PT_STUDENT: {
            double s = sqrt(t->p1 / gsl_ran_chisq(r, t->p1));
            for (size_t k = 0; k < dx; k++) xi[k] = asinh(gsl_ran_gaussian(r, 1.0) * s);
            for (size_t k = 0; k < dy; k++) yi[k] = asinh(gsl_ran_gaussian(r, 1.0) * s);
            break;
        }
        case MR_PT_TIGRAMITE: {
            binormal(r, t->p1, &a, &b);
            double sz = 0;
            for (size_t k = 0; k < 3; k++) z[i * 3 + k] = gsl_ran_gaussian(r, 1.0), sz += z[i * 3 + k];
            xi[0] = a + 0.5 * sz, yi[0] = b + 0.7 * sz;
            break;
        }
        default: break;
        }
    }
}
