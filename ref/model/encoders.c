/* encoders.c — see encoders.h. */
#include "ref/model/encoders.h"

#include <string.h>

#include "ref/nn/layers.h"

void mr_av_tail_forward(const double *x, size_t N, size_t D, const double *g, const double *b,
                        const double *mask, double *ln, double *mean, double *rstd, double *relu, double *y) {
    mr_layernorm_forward(ln, mean, rstd, x, g, b, N, D, 1e-6);
    mr_act_forward(MR_ACT_RELU, relu, ln, N * D);
    mr_dropout_forward(y, relu, mask, N * D);
}

void mr_av_tail_backward(const double *dy, const double *x, size_t N, size_t D, const double *g,
                         const double *mask, const double *ln, const double *mean, const double *rstd,
                         const double *relu, double *dx, double *dg, double *db, double *scratch) {
    double *drelu = scratch, *dln = scratch + N * D;
    memset(scratch, 0, 2 * N * D * sizeof *scratch);
    mr_dropout_backward(drelu, dy, mask, N * D);
    mr_act_backward(MR_ACT_RELU, dln, drelu, ln, relu, N * D);
    mr_layernorm_backward(dx, dg, db, dln, x, g, mean, rstd, N, D);
}

void mr_pool_mean_forward(const double *x, size_t B, size_t L, size_t D, const int *len, double *out) {
    for (size_t b = 0; b < B; b++) {
        size_t n = len ? (size_t)len[b] : L;
        mr_mean_axis_forward(out + b * D, x + b * L * D, 1, n, D);
    }
}

void mr_pool_mean_backward(const double *dout, size_t B, size_t L, size_t D, const int *len, double *dx) {
    for (size_t b = 0; b < B; b++) {
        size_t n = len ? (size_t)len[b] : L;
        mr_mean_axis_backward(dx + b * L * D, dout + b * D, 1, n, D);
    }
}

void mr_stack_forward(const double *const mods[3], const size_t Ls[3], size_t B, size_t T, size_t D,
                      double *X0) {
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t m = 0; m < 3; m++) {
                double *dst = X0 + ((b * T + t) * 3 + m) * D;
                if (t < Ls[m]) memcpy(dst, mods[m] + (b * Ls[m] + t) * D, D * sizeof *dst);
                else memset(dst, 0, D * sizeof *dst);
            }
}

void mr_stack_backward(const double *dX0, size_t B, size_t T, size_t D, double *const dmods[3],
                       const size_t Ls[3]) {
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t m = 0; m < 3; m++) {
                if (t >= Ls[m] || !dmods[m]) continue;
                const double *src = dX0 + ((b * T + t) * 3 + m) * D;
                double *dst = dmods[m] + (b * Ls[m] + t) * D;
                for (size_t k = 0; k < D; k++) dst[k] += src[k];
            }
}
