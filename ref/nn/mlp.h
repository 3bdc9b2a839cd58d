/* mlp.h — a stack of Linear layers with an activation between them, named
 * like a torch.nn.Sequential: Linear weights/biases at indices 0, 2, 4, …
 * (the activations occupy the odd indices), e.g.
 *   vmi_estimator_f_t.critic_model.MLP_g.{0,2,4,6}.{weight,bias}
 *   vcmi_estimator_ac_t.classifier.mlp.{0,2,4,6}.{weight,bias}
 * dims = {in, h1, …, out}: Linear(dims[l] → dims[l+1]), activation after every
 * layer but the last.
 *
 * Forward caches every pre- and post-activation in a caller buffer of
 * mr_mlp_cache_size(N) doubles; backward accumulates into the store's
 * gradients and into dx (if non-NULL), using a scratch buffer of
 * mr_mlp_work_size(N) doubles. No allocation inside.
 */
#ifndef MR_MLP_H
#define MR_MLP_H

#include <gsl/gsl_rng.h>

#include "ref/nn/layers.h"
#include "ref/core/params.h"

#define MR_MLP_MAXL 8

typedef struct {
    size_t nl;                   /* number of Linear layers */
    size_t dims[MR_MLP_MAXL + 1];
    int bias;
    mr_act act;
    size_t w[MR_MLP_MAXL], b[MR_MLP_MAXL]; /* tensor indices in the store; b MR_NO_TENSOR without bias */
} mr_mlp;

/* Register the parameters `prefix.<2l>.weight` [dims[l+1], dims[l]] (and
 * `.bias`) for l = 0..nl−1. */
int mr_mlp_register(mr_mlp *m, mr_params *p, const char *prefix, const size_t *dims, size_t nl,
                    int bias, mr_act act, mr_error *e);
/* PyTorch's default Linear init, U(±1/√fan_in) for weights and biases, in
 * layer order (weight then bias) from r; zero_bias sets the biases to 0
 * after drawing them (as the official critic MLPs do). */
void mr_mlp_init(const mr_mlp *m, mr_params *p, gsl_rng *r, int zero_bias);

size_t mr_mlp_cache_size(const mr_mlp *m, size_t N);
size_t mr_mlp_work_size(const mr_mlp *m, size_t N);
void mr_mlp_forward(const mr_mlp *m, const mr_params *p, const double *x, size_t N, double *cache,
                    double *out);
void mr_mlp_backward(const mr_mlp *m, mr_params *p, const double *x, size_t N, const double *cache,
                     const double *dout, double *dx, double *work);

#endif
