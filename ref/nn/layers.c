/* layers.c — elementary layers (see layers.h for the contracts). */
#include "ref/nn/layers.h"

#include <math.h>
#include <string.h>

#include "ref/core/blas.h"

/* ------------------------------------------------------------------ linear */

void mr_linear_forward(double *out, const double *inp, const double *w, const double *b,
                       size_t N, size_t I, size_t O) {
    /* out = inp · wᵀ */
    mr_gemm(0, 1, N, O, I, 1.0, inp, I, w, I, 0.0, out, O);
    if (b)
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < O; o++) out[n * O + o] += b[o];
}

void mr_linear_backward(double *dinp, double *dw, double *db, const double *dout,
                        const double *inp, const double *w, size_t N, size_t I, size_t O) {
    if (dinp) mr_gemm(0, 0, N, I, O, 1.0, dout, O, w, I, 1.0, dinp, I); /* dout[N,O]·w[O,I] */
    if (dw) mr_gemm(1, 0, O, I, N, 1.0, dout, O, inp, I, 1.0, dw, I);   /* doutᵀ·inp */
    if (db)
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < O; o++) db[o] += dout[n * O + o];
}

/* --------------------------------------------------------------- layernorm */

void mr_layernorm_forward(double *out, double *mean, double *rstd, const double *inp,
                          const double *g, const double *b, size_t N, size_t C, double eps) {
    for (size_t n = 0; n < N; n++) {
        const double *x = inp + n * C;
        double m = 0.0;
        for (size_t c = 0; c < C; c++) m += x[c];
        m /= (double)C;
        double v = 0.0;
        for (size_t c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= (double)C;
        double s = 1.0 / sqrt(v + eps);
        double *y = out + n * C;
        for (size_t c = 0; c < C; c++) {
            double xh = (x[c] - m) * s;
            y[c] = (g ? xh * g[c] : xh) + (b ? b[c] : 0.0);
        }
        mean[n] = m;
        rstd[n] = s;
    }
}

void mr_layernorm_backward(double *dinp, double *dg, double *db, const double *dout,
                           const double *inp, const double *g, const double *mean,
                           const double *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N; n++) {
        const double *x = inp + n * C, *dy = dout + n * C;
        double m = mean[n], s = rstd[n];
        double sd = 0.0, sdx = 0.0;
        for (size_t c = 0; c < C; c++) {
            double xh = (x[c] - m) * s;
            double d = g ? dy[c] * g[c] : dy[c];
            sd += d;
            sdx += d * xh;
            if (dg) dg[c] += dy[c] * xh;
            if (db) db[c] += dy[c];
        }
        sd /= (double)C;
        sdx /= (double)C;
        if (dinp) {
            double *dx = dinp + n * C;
            for (size_t c = 0; c < C; c++) {
                double xh = (x[c] - m) * s;
                double d = g ? dy[c] * g[c] : dy[c];
                dx[c] += s * (d - sd - xh * sdx);
            }
        }
    }
}

/* ----------------------------------------------------------------- dropout */

void mr_dropout_mask(double *mask, size_t n, double p, gsl_rng *rng) {
    if (p <= 0.0) {
        for (size_t i = 0; i < n; i++) mask[i] = 1.0;
        return;
    }
    if (p >= 1.0) {
        memset(mask, 0, n * sizeof *mask);
        return;
    }
    double keep = 1.0 - p, scale = 1.0 / keep;
    for (size_t i = 0; i < n; i++) mask[i] = gsl_rng_uniform(rng) < keep ? scale : 0.0;
}

void mr_dropout_forward(double *out, const double *inp, const double *mask, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * mask[i];
}

void mr_dropout_backward(double *dinp, const double *dout, const double *mask, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}

/* ------------------------------------------------------------- activations */

#define RRELU_SLOPE ((1.0 / 8.0 + 1.0 / 3.0) / 2.0)
#define SOFTPLUS_THRESHOLD 20.0

static const char *const act_names[MR_ACT_COUNT] = {
    "identity", "relu", "gelu", "tanh", "sigmoid", "elu",
    "leakyrelu", "hardtanh", "hardshrink", "rrelu", "softplus"};

const char *mr_act_name(mr_act a) { return (a >= 0 && a < MR_ACT_COUNT) ? act_names[a] : "?"; }

int mr_act_parse(const char *name) {
    for (int i = 0; i < MR_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) return i;
    return -1;
}

static double sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

void mr_act_forward(mr_act a, double *out, const double *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = inp[i], y;
        switch (a) {
        case MR_ACT_RELU: y = x > 0.0 ? x : 0.0; break;
        case MR_ACT_GELU: y = 0.5 * x * (1.0 + erf(x * M_SQRT1_2)); break;
        case MR_ACT_TANH: y = tanh(x); break;
        case MR_ACT_SIGMOID: y = sigmoid(x); break;
        case MR_ACT_ELU: y = x > 0.0 ? x : expm1(x); break;
        case MR_ACT_LEAKYRELU: y = x > 0.0 ? x : 0.01 * x; break;
        case MR_ACT_HARDTANH: y = x < -1.0 ? -1.0 : (x > 1.0 ? 1.0 : x); break;
        case MR_ACT_HARDSHRINK: y = (x > 0.5 || x < -0.5) ? x : 0.0; break;
        case MR_ACT_RRELU: y = x >= 0.0 ? x : x * RRELU_SLOPE; break;
        case MR_ACT_SOFTPLUS: y = x > SOFTPLUS_THRESHOLD ? x : log1p(exp(x)); break;
        default: y = x; break;
        }
        out[i] = y;
    }
}

void mr_act_backward(mr_act a, double *dinp, const double *dout, const double *inp,
                     const double *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = inp[i], d;
        switch (a) {
        case MR_ACT_RELU: d = x > 0.0 ? 1.0 : 0.0; break;
        case MR_ACT_GELU:
        {   /* Φ(x) + x·φ(x), evaluated as PyTorch's GeluBackward does */
            const double kAlpha = M_2_SQRTPI * M_SQRT1_2 * 0.5;
            double cdf = 0.5 * (1.0 + erf(x * M_SQRT1_2));
            double pdf = kAlpha * exp(x * x * -0.5);
            d = cdf + x * pdf;
            break;
        }
        case MR_ACT_TANH: d = 1.0 - out[i] * out[i]; break;
        case MR_ACT_SIGMOID: d = (1.0 - out[i]) * out[i]; break;
        case MR_ACT_ELU: d = x > 0.0 ? 1.0 : exp(x); break;
        case MR_ACT_LEAKYRELU: d = x > 0.0 ? 1.0 : 0.01; break;
        case MR_ACT_HARDTANH: d = (x > -1.0 && x < 1.0) ? 1.0 : 0.0; break;
        case MR_ACT_HARDSHRINK: d = (x >= -0.5 && x <= 0.5) ? 0.0 : 1.0; break;
        case MR_ACT_RRELU: d = x > 0.0 ? 1.0 : RRELU_SLOPE; break;
        case MR_ACT_SOFTPLUS: {
            if (x > SOFTPLUS_THRESHOLD) {
                d = 1.0;
            } else {
                double z = exp(x);
                d = z / (z + 1.0);
            }
            break;
        }
        default: d = 1.0; break;
        }
        dinp[i] += dout[i] * d;
    }
}

/* ------------------------------------------------------- hardtanh / clamp */

void mr_hardtanh_forward(double *out, const double *inp, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] < lo ? lo : (inp[i] > hi ? hi : inp[i]);
}

void mr_hardtanh_backward(double *dinp, const double *dout, const double *inp, size_t n,
                          double lo, double hi) {
    for (size_t i = 0; i < n; i++)
        if (inp[i] > lo && inp[i] < hi) dinp[i] += dout[i];
}

void mr_clamp_forward(double *out, const double *inp, size_t n, double lo, double hi) {
    mr_hardtanh_forward(out, inp, n, lo, hi);
}

void mr_clamp_backward(double *dinp, const double *dout, const double *inp, size_t n,
                       double lo, double hi) {
    for (size_t i = 0; i < n; i++)
        if (inp[i] >= lo && inp[i] <= hi) dinp[i] += dout[i];
}

/* -------------------------------------------------------------- mean axis */

void mr_mean_axis_forward(double *out, const double *inp, size_t O, size_t L, size_t I) {
    for (size_t o = 0; o < O; o++) {
        double *y = out + o * I;
        for (size_t i = 0; i < I; i++) y[i] = 0.0;
        for (size_t l = 0; l < L; l++) {
            const double *x = inp + (o * L + l) * I;
            for (size_t i = 0; i < I; i++) y[i] += x[i];
        }
        for (size_t i = 0; i < I; i++) y[i] /= (double)L;
    }
}

void mr_mean_axis_backward(double *dinp, const double *dout, size_t O, size_t L, size_t I) {
    for (size_t o = 0; o < O; o++)
        for (size_t l = 0; l < L; l++) {
            double *dx = dinp + (o * L + l) * I;
            const double *dy = dout + o * I;
            for (size_t i = 0; i < I; i++) dx[i] += dy[i] / (double)L;
        }
}

/* -------------------------------------------------------------- logsumexp */

double mr_logsumexp(const double *x, size_t n, size_t stride) {
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i * stride] > m) m = x[i * stride];
    if (m == -INFINITY) return -INFINITY;
    if (m == INFINITY) return INFINITY;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += exp(x[i * stride] - m);
    return m + log(s);
}

void mr_logsumexp_rows_forward(double *out, const double *inp, size_t R, size_t C) {
    for (size_t r = 0; r < R; r++) out[r] = mr_logsumexp(inp + r * C, C, 1);
}

void mr_logsumexp_rows_backward(double *dinp, const double *dout, const double *inp,
                                const double *out, size_t R, size_t C) {
    for (size_t r = 0; r < R; r++) {
        if (out[r] == -INFINITY) continue; /* no mass anywhere: zero gradient */
        for (size_t c = 0; c < C; c++) {
            double x = inp[r * C + c];
            if (x == -INFINITY) continue;
            dinp[r * C + c] += dout[r] * exp(x - out[r]);
        }
    }
}
