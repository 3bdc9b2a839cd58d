/* losses.h — task and classifier losses with PyTorch semantics (reduction =
 * mean unless stated).
 *
 * Each function returns the loss value and, when dp is non-NULL, ACCUMULATES
 * scale · ∂loss/∂p into dp (scale is the upstream gradient, 1 for a loss at
 * the root of the graph). Targets never receive gradients. Cannot fail;
 * n (or B) must be ≥ 1.
 */
#ifndef MR_LOSSES_H
#define MR_LOSSES_H

#include <stddef.h>
#include <stdint.h>

/* MAE  (nn.L1Loss):   mean |p − y|; gradient sign(p − y)/n, 0 where p == y. */
double mr_loss_mae(const double *p, const double *y, size_t n, double *dp, double scale);
/* MSE  (nn.MSELoss):  mean (p − y)². */
double mr_loss_mse(const double *p, const double *y, size_t n, double *dp, double scale);
/* RMSE: sqrt(MSE). At MSE == 0 PyTorch's gradient is 0·∞ = NaN; we return a
 * zero gradient there (documented deviation: a NaN would only poison training). */
double mr_loss_rmse(const double *p, const double *y, size_t n, double *dp, double scale);
/* SIMSE (scale-invariant MSE of the official code): (Σ (y − p))² / n². */
double mr_loss_simse(const double *p, const double *y, size_t n, double *dp, double scale);
/* CCC loss: 1 − 2·cov/(var_y + var_p + (μ_y − μ_p)² + 1e-10), population
 * (1/n) moments over the batch (spec §5.7). */
double mr_loss_ccc(const double *p, const double *y, size_t n, double *dp, double scale);
/* BCE (nn.BCELoss) on probabilities p ∈ [0,1] with targets t:
 * −mean[ t·max(log p, −100) + (1−t)·max(log(1−p), −100) ].
 * Gradient as PyTorch's binary_cross_entropy_backward:
 * (p − t) / max(p·(1−p), 1e-12) / n — equal to the analytic derivative
 * wherever the log clamp is inactive. */
double mr_loss_bce(const double *p, const double *t, size_t n, double *dp, double scale);
/* BCE with logits (nn.BCEWithLogitsLoss): mean[(1−t)·x + log(1 + e^{−x})],
 * evaluated without overflow; gradient (σ(x) − t)/n. */
double mr_loss_bce_logits(const double *x, const double *t, size_t n, double *dx, double scale);
/* Cross entropy (nn.CrossEntropyLoss) on logits[B,C] and class indices
 * target[B] ∈ [0, C): mean over the batch of −log softmax(logits)[target].
 * Gradient (softmax − onehot)/B. */
double mr_loss_ce(const double *logits, const int64_t *target, size_t B, size_t C,
                  double *dlogits, double scale);

#endif
