/* critic.h — critics and baselines of the variational MI estimators
 * (spec §2.1–2.2; MIMRL's CriticModel / BaselineModel).
 *
 * MLP shape (mlps(in, hidden, out, layers, ReLU)): Linear(in→hidden), ReLU,
 * [Linear(hidden→hidden), ReLU] × layers, Linear(hidden→out); biases start at
 * zero. MIMRL hard-codes hidden 256, embed 128, layers 2.
 *
 *   separate  g = mlps(d_x → embed), h = mlps(d_y → embed);
 *             S[i,j] = ⟨h(y_i), g(x_j)⟩ — rows index y, columns x
 *   concat    f = mlps(d_x + d_y → 1); S[i,j] = f([x_i ; y_j]) — rows index
 *             x (the transpose convention, O-19)
 * Parameter names: <prefix>.critic_model.MLP_g / MLP_h / MLP_f and
 * <prefix>.baseline_model.MLP (unnormalized baseline), Sequential-indexed.
 *
 * Baselines (log a(y), one value per row y_i):
 *   constant      0
 *   gaussian      Σ_f log N(y_f; 0, 1)     (the official name is "gaussain")
 *   unnormalized  mlps(d_y → 1)
 *
 * Forward writes into a caller workspace of mr_critic_work_size(c, B)
 * doubles, which the backward then reads; backward accumulates into the
 * store's gradients and into dx, dy when non-NULL.
 */
#ifndef MR_CRITIC_H
#define MR_CRITIC_H

#include <gsl/gsl_rng.h>

#include "ref/nn/mlp.h"

/* The widths MIMRL hard-codes for every critic and baseline MLP (spec §2.1, §8.2). */
#define MR_CRITIC_HIDDEN 256
#define MR_CRITIC_EMBED 128
#define MR_CRITIC_LAYERS 2

typedef enum { MR_CRITIC_SEPARATE = 0, MR_CRITIC_CONCAT } mr_critic_kind;
typedef enum { MR_BASE_CONSTANT = 0, MR_BASE_GAUSSIAN, MR_BASE_UNNORMALIZED } mr_baseline_kind;

typedef struct {
    mr_critic_kind kind;
    mr_baseline_kind base;
    size_t dx, dy, hidden, embed, layers;
    mr_mlp g, h, f, bmlp;
} mr_critic;

int mr_critic_parse(const char *name);   /* "separate" | "concat", else −1 */
int mr_baseline_parse(const char *name); /* "constant" | "gaussain" | "gaussian" | "unnormalized" */

int mr_critic_register(mr_critic *c, mr_params *p, const char *prefix, mr_critic_kind kind,
                       mr_baseline_kind base, size_t dx, size_t dy, size_t hidden, size_t embed,
                       size_t layers, mr_error *e);
/* PyTorch default init, then zero biases (official critic and baseline). */
void mr_critic_init(const mr_critic *c, mr_params *p, gsl_rng *r);

size_t mr_critic_work_size(const mr_critic *c, size_t B);
/* S[B×B] from x[B×dx], y[B×dy]. */
void mr_critic_forward(const mr_critic *c, const mr_params *p, const double *x, const double *y,
                       size_t B, double *S, double *work);
void mr_critic_backward(const mr_critic *c, mr_params *p, const double *x, const double *y,
                        size_t B, const double *dS, double *dx, double *dy, double *work);

/* log a(y)[B]; the unnormalized baseline uses its own part of the workspace. */
void mr_baseline_forward(const mr_critic *c, const mr_params *p, const double *y, size_t B,
                         double *log_a, double *work);
void mr_baseline_backward(const mr_critic *c, mr_params *p, const double *y, size_t B,
                          const double *dlog_a, double *dy, double *work);

#endif
