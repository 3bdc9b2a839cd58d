/* losses.c — see losses.h. */
#include "ref/nn/losses.h"

#include <math.h>

#include "ref/nn/layers.h"
#include "ref/nn/metrics.h"

double mr_loss_mae(const double *p, const double *y, size_t n, double *dp, double scale) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += fabs(p[i] - y[i]);
    if (dp)
        for (size_t i = 0; i < n; i++) {
            double d = p[i] - y[i];
            double sg = d > 0.0 ? 1.0 : (d < 0.0 ? -1.0 : 0.0);
            dp[i] += scale * sg / (double)n;
        }
    return s / (double)n;
}

double mr_loss_mse(const double *p, const double *y, size_t n, double *dp, double scale) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (p[i] - y[i]) * (p[i] - y[i]);
    if (dp)
        for (size_t i = 0; i < n; i++) dp[i] += scale * 2.0 * (p[i] - y[i]) / (double)n;
    return s / (double)n;
}

double mr_loss_rmse(const double *p, const double *y, size_t n, double *dp, double scale) {
    double mse = mr_loss_mse(p, y, n, NULL, 0.0);
    double r = sqrt(mse);
    if (dp && r > 0.0)
        for (size_t i = 0; i < n; i++) dp[i] += scale * (p[i] - y[i]) / ((double)n * r);
    return r;
}

double mr_loss_simse(const double *p, const double *y, size_t n, double *dp, double scale) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += y[i] - p[i];
    double nn = (double)n * (double)n;
    if (dp)
        for (size_t i = 0; i < n; i++) dp[i] += scale * (-2.0 * s / nn);
    return s * s / nn;
}

double mr_loss_ccc(const double *p, const double *y, size_t n, double *dp, double scale) {
    double mp, my, vp, vy, cov;
    mr_moments(p, y, n, &mp, &my, &vp, &vy, &cov);
    double num = 2.0 * cov;
    double den = vy + vp + (my - mp) * (my - mp) + 1e-10;
    if (dp) {
        /* L = 1 − num/den; ∂cov/∂p_i = (y_i−μ_y)/n, ∂vp/∂p_i = 2(p_i−μ_p)/n,
         * ∂(μ_y−μ_p)²/∂p_i = −2(μ_y−μ_p)/n. */
        for (size_t i = 0; i < n; i++) {
            double dnum = 2.0 * (y[i] - my) / (double)n;
            double dden = 2.0 * (p[i] - mp) / (double)n - 2.0 * (my - mp) / (double)n;
            dp[i] += scale * (-(dnum * den - num * dden) / (den * den));
        }
    }
    return 1.0 - num / den;
}

/* log clamped at −100 as torch.nn.BCELoss does; log(0) is never evaluated. */
static double clamped_log(double x) {
    if (x <= 0.0) return -100.0;
    double l = log(x);
    return l < -100.0 ? -100.0 : l;
}

double mr_loss_bce(const double *p, const double *t, size_t n, double *dp, double scale) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s -= t[i] * clamped_log(p[i]) + (1.0 - t[i]) * clamped_log(1.0 - p[i]);
    if (dp)
        for (size_t i = 0; i < n; i++) {
            double den = p[i] * (1.0 - p[i]);
            if (den < 1e-12) den = 1e-12;
            dp[i] += scale * (p[i] - t[i]) / den / (double)n;
        }
    return s / (double)n;
}

double mr_loss_bce_logits(const double *x, const double *t, size_t n, double *dx, double scale) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        /* (1−t)·x + log(1+e^{−x}) = (1−t)·x + max(−x,0) + log(e^{−max} + e^{−x−max}) */
        double m = x[i] < 0.0 ? -x[i] : 0.0;
        s += (1.0 - t[i]) * x[i] + m + log(exp(-m) + exp(-x[i] - m));
    }
    if (dx)
        for (size_t i = 0; i < n; i++) {
            double sg;
            if (x[i] >= 0.0) {
                sg = 1.0 / (1.0 + exp(-x[i]));
            } else {
                double e = exp(x[i]);
                sg = e / (1.0 + e);
            }
            dx[i] += scale * (sg - t[i]) / (double)n;
        }
    return s / (double)n;
}

double mr_loss_ce(const double *logits, const int64_t *target, size_t B, size_t C,
                  double *dlogits, double scale) {
    double s = 0.0;
    for (size_t b = 0; b < B; b++) {
        const double *z = logits + b * C;
        double lse = mr_logsumexp(z, C, 1);
        s += lse - z[target[b]];
        if (dlogits)
            for (size_t c = 0; c < C; c++) {
                double g = exp(z[c] - lse) - ((int64_t)c == target[b] ? 1.0 : 0.0);
                dlogits[b * C + c] += scale * g / (double)B;
            }
    }
    return s / (double)B;
}
