/* metrics.c — see metrics.h. */
#include "ref/nn/metrics.h"

#include <math.h>

void mr_moments(const double *p, const double *y, size_t n, double *mp, double *my, double *vp, double *vy,
                double *cov) {
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        a += p[i];
        b += y[i];
    }
    a /= (double)n;
    b /= (double)n;
    double c = 0, u = 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        c += (p[i] - a) * (y[i] - b);
        u += (p[i] - a) * (p[i] - a);
        v += (y[i] - b) * (y[i] - b);
    }
    *mp = a, *my = b;
    *cov = c / (double)n, *vp = u / (double)n, *vy = v / (double)n;
}

double mr_pearson(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double mx, my, vx, vy, cov;
    mr_moments(x, y, n, &mx, &my, &vx, &vy, &cov);
    if (vx == 0.0 || vy == 0.0) return NAN;
    double r = cov / sqrt(vx) / sqrt(vy);
    return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r); /* numpy clips to [−1, 1] */
}

double mr_ccc(const double *p, const double *y, size_t n) {
    double mp, my, vp, vy, cov;
    mr_moments(p, y, n, &mp, &my, &vp, &vy, &cov);
    double den = vp + vy + (mp - my) * (mp - my);
    return den == 0.0 ? NAN : 2.0 * cov / den;
}

/* Binary confusion counts, indexed by class 0/1. */
typedef struct {
    size_t tp[2], fp[2], fn[2], support[2];
} f1_counts;

static void f1_add(f1_counts *c, int t, int q) {
    c->support[t]++;
    if (t == q) c->tp[t]++;
    else {
        c->fp[q]++;
        c->fn[t]++;
    }
}

/* sklearn: per-class F1 = 2tp/(2tp + fp + fn) (0 when undefined), averaged
 * with the truth supports as weights; 0 when there is no sample at all. */
static double f1_weighted(const f1_counts *c) {
    size_t total = c->support[0] + c->support[1];
    if (total == 0) return 0.0;
    double s = 0.0;
    for (int k = 0; k < 2; k++) {
        size_t den = 2 * c->tp[k] + c->fp[k] + c->fn[k];
        double f = den ? (double)(2 * c->tp[k]) / (double)den : 0.0;
        s += f * (double)c->support[k];
    }
    return s / (double)total;
}

double mr_weighted_f1(const int *truth, const int *pred, const unsigned char *mask, size_t n) {
    f1_counts c = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i]) f1_add(&c, truth[i] != 0, pred[i] != 0);
    return f1_weighted(&c);
}

static double clip(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

void mr_metrics_mosi(const double *p, const double *y, size_t n, mr_metrics *m) {
    m->n = n;
    double ae = 0, se = 0;
    size_t eq7 = 0, eq5 = 0, has0_ok = 0, non0_ok = 0, non0 = 0;
    f1_counts has0 = {{0, 0}, {0, 0}, {0, 0}, {0, 0}}, nz = has0;
    for (size_t i = 0; i < n; i++) {
        ae += fabs(p[i] - y[i]);
        se += (p[i] - y[i]) * (p[i] - y[i]);
        eq7 += rint(clip(p[i], -3, 3)) == rint(clip(y[i], -3, 3));
        eq5 += rint(clip(p[i], -2, 2)) == rint(clip(y[i], -2, 2));
        has0_ok += (p[i] >= 0) == (y[i] >= 0);
        f1_add(&has0, y[i] >= 0, p[i] >= 0);
        if (y[i] != 0) {
            non0++;
            non0_ok += (p[i] > 0) == (y[i] > 0);
            f1_add(&nz, y[i] > 0, p[i] > 0);
        }
    }
    double dn = n ? (double)n : NAN;
    m->mae = ae / dn;
    m->corr = mr_pearson(p, y, n);
    m->acc7 = (double)eq7 / dn;
    m->acc5 = (double)eq5 / dn;
    m->acc2_has0 = (double)has0_ok / dn;
    m->f1_has0 = f1_weighted(&has0);
    m->n_non0 = non0;
    m->acc2_non0 = non0 ? (double)non0_ok / (double)non0 : NAN;
    m->f1_non0 = f1_weighted(&nz);
    m->ccc = n ? mr_ccc(p, y, n) : NAN;
    m->rmse = sqrt(se / dn);
}

void mr_metrics_avec(const double *p, const double *y, size_t n, double s, mr_metrics *m) {
    mr_metrics_mosi(p, y, n, m);
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = s * p[i] - s * y[i];
        se += d * d;
    }
    m->rmse = sqrt(se / (double)n);
}
