/* encoders.h — what sits between the sequence encoders and CubeMLP
 * (spec §1.3 tail, §1.4, §1.5).
 *
 *  audio/visual tail   y = Dropout(ReLU(LN_D(x))), LN eps 1e-6 (ln_a, ln_v):
 *                      at RNN padding positions x = 0, so y = Dropout(ReLU(β))
 *  text                t = Dropout(W_t H), W_t = Linear(768 → D, no bias)
 *                      (mr_linear_forward with b = NULL, then mr_dropout_*)
 *  pooling             T_F, A_F, V_F = mean over time. Official (faithful):
 *                      over all L positions of the batch's padded length
 *                      (O-8); option: masked mean over τ < len[b]
 *  pad / crop, stack   each of t, a, v cut to its first T frames or padded
 *                      with exact zeros to T (O-7), stacked into X0 [B, T, 3, D]
 *                      with modality order (text, audio, visual)
 */
#ifndef MR_ENCODERS_H
#define MR_ENCODERS_H

#include <stddef.h>

/* x, y, and the caches ln/relu [N×D], mean/rstd [N]; mask [N×D] (dropout). */
void mr_av_tail_forward(const double *x, size_t N, size_t D, const double *g, const double *b,
                        const double *mask, double *ln, double *mean, double *rstd, double *relu, double *y);
/* dx, dg, db accumulate; scratch [2·N×D]. */
void mr_av_tail_backward(const double *dy, const double *x, size_t N, size_t D, const double *g,
                         const double *mask, const double *ln, const double *mean, const double *rstd,
                         const double *relu, double *dx, double *dg, double *db, double *scratch);

/* x [B, L, D] → out [B, D]; len NULL = the official unmasked mean over L. */
void mr_pool_mean_forward(const double *x, size_t B, size_t L, size_t D, const int *len, double *out);
void mr_pool_mean_backward(const double *dout, size_t B, size_t L, size_t D, const int *len, double *dx);

/* mods[m] is [B, Ls[m], D] for m = text, audio, visual → X0 [B, T, 3, D]. */
void mr_stack_forward(const double *const mods[3], const size_t Ls[3], size_t B, size_t T, size_t D,
                      double *X0);
/* dmods[m] accumulate (NULL to skip). */
void mr_stack_backward(const double *dX0, size_t B, size_t T, size_t D, double *const dmods[3],
                       const size_t Ls[3]);

#endif
