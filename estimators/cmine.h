/* cmine.h — the classifier-based conditional MI estimator of MIMRL
 * (spec §3: MLP_For_CMI, prod_knn_sample, VCMIEstimator, estimate_cmi).
 *
 * Product sampling (k-NN, CMINE "prod_iso_kNN"): from feature banks X[N×dX],
 * Y[N×dY], Z[N×dZ] and the current batch size B, m = ⌊B/k⌋ anchors are drawn
 * without replacement from 0..N−1 (random order; or supplied, so a run can be
 * replayed). The anchors are removed from the neighbour pool; for each anchor
 * s its k nearest pool rows in Z-space (exact squared Euclidean distance,
 * ties broken by bank index — deterministic, where sklearn's order is
 * implementation-defined) give product rows [X[n_j] | Y[s] | Z[s]], anchor-major.
 * Blocks narrower than d_max = max(dX, dY, dZ) are tiled ⌊d_max/d⌋ times (the
 * 1-d label becomes 128 copies); a width that does not divide d_max is an
 * error here (a crash upstream).
 *
 * Classifier: Linear(3d→h), ReLU, Linear(h→h), ReLU, Linear(h→h), ReLU,
 * Linear(h→2) (d = 128, h = 256 in MIMRL), logits clamped to [−10, 10], then
 * per-column sigmoid (default) or hardtanh to [1e-4, 1 − 1e-4].
 * Parameter names <prefix>.classifier.mlp.{0,2,4,6}.{weight,bias}; default
 * PyTorch init (biases not zeroed).
 *
 * Estimator on M' joint rows J (the batch's [fx|fy|fz], truncated to the
 * first M' = m·k rows when B is not a multiple of k) and M' product rows P:
 *   o = classifier([J; P]);  targets J → [1, 0], P → [0, 1]
 *   BCE = mean over the 2M'×2 entries (PyTorch's log clamp at −100)
 * and one of three read-outs of γ = o[:, 0]:
 *   mimrl (official, O-12): n = 2M', s = Σ log(γ/(1 − γ + 1e-6)) over J resp. P,
 *                           CMI = 1 + s_J/n − s_P/n
 *   nwj   (CMINE/CCMI):     r = γ/(1−γ), CMI = 1 + mean_J log r − mean_P r
 *   dv:                     CMI = mean_J log r − log mean_P r
 * Gradients flow to the classifier and to J, never to P (the banks).
 */
#ifndef MR_CMINE_H
#define MR_CMINE_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "ref/nn/mlp.h"
#include "ref/nn/optim.h"

/* The hidden width of MLP_For_CMI in MIMRL (spec §3.1, §8.2). */
#define MR_CMI_HIDDEN 256

typedef enum { MR_CMI_HEAD_SIGMOID = 0, MR_CMI_HEAD_HARDTANH } mr_cmi_head;
typedef enum { MR_CMI_READ_MIMRL = 0, MR_CMI_READ_NWJ, MR_CMI_READ_DV, MR_CMI_READ_COUNT } mr_cmi_readout;

const char *mr_cmi_readout_name(mr_cmi_readout r);
int mr_cmi_readout_parse(const char *name);
int mr_cmi_head_parse(const char *name); /* "sigmoid" | "hardtanh" */

typedef struct {
    mr_mlp mlp;
    size_t d; /* block width; input 3·d */
    mr_cmi_head head;
} mr_cmi;

int mr_cmi_register(mr_cmi *c, mr_params *p, const char *prefix, size_t d, size_t hidden,
                    mr_cmi_head head, mr_error *e);
void mr_cmi_init(const mr_cmi *c, mr_params *p, gsl_rng *r);

/* ---- product sampling */

/* m distinct indices of 0..N−1 in random order (partial Fisher–Yates). */
int mr_knn_draw_anchors(size_t N, size_t m, gsl_rng *r, int64_t *anchors, mr_error *e);
/* The k nearest non-anchor rows of Z to each anchor → neighbors[m·k]
 * (bank indices, anchor-major, nearest first). */
int mr_knn_neighbors(const double *Z, size_t dZ, size_t N, const int64_t *anchors, size_t m,
                     size_t k, int64_t *neighbors, mr_error *e);
/* The same two without allocating: work holds mr_knn_work_bytes(N, k)
 * bytes, 8-byte aligned (the two functions above allocate it and call these). */
size_t mr_knn_work_bytes(size_t N, size_t k);
int mr_knn_draw_anchors_ws(size_t N, size_t m, gsl_rng *r, int64_t *anchors, void *work, mr_error *e);
int mr_knn_neighbors_ws(const double *Z, size_t dZ, size_t N, const int64_t *anchors, size_t m,
                        size_t k, int64_t *neighbors, void *work, mr_error *e);
/* Product rows P[(m·k) × 3·dmax] = [tile(X[n]) | tile(Y[s]) | tile(Z[s])]. */
int mr_knn_product_rows(const double *X, size_t dX, const double *Y, size_t dY, const double *Z,
                        size_t dZ, const int64_t *anchors, size_t m, size_t k,
                        const int64_t *neighbors, size_t dmax, double *P, mr_error *e);
/* Joint rows J[M' × 3·dmax] from the batch, tiled the same way. */
int mr_cmi_joint_rows(const double *fx, size_t dx, const double *fy, size_t dy, const double *fz,
                      size_t dz, size_t Mp, size_t dmax, double *J, mr_error *e);
/* Gradient of mr_cmi_joint_rows: sums the tiles back (accumulates). */
void mr_cmi_joint_rows_backward(const double *dJ, size_t dx, size_t dy, size_t dz, size_t Mp,
                                size_t dmax, double *dfx, double *dfy, double *dfz);

/* ---- the estimator */

typedef struct {
    double cmi, bce;
} mr_cmi_out;

size_t mr_cmi_work_size(const mr_cmi *c, size_t Mp);
mr_cmi_out mr_cmi_forward(const mr_cmi *c, const mr_params *p, const double *J, const double *P,
                          size_t Mp, mr_cmi_readout ro, double *work);
/* Any read-out of the classifier outputs of the last forward (work as
 * filled by mr_cmi_forward), whatever read-out that forward used: the
 * official mimrl read-out is offset by 1 and at half scale (O-12), so the
 * trainer logs the textbook dv read-out of the same outputs beside it, in
 * nats. Equal, bit for bit, to mr_cmi_forward(…, ro, …).cmi. */
double mr_cmi_readout_value(const mr_cmi *c, size_t Mp, mr_cmi_readout ro, const double *work);
/* Sampling standard error of the read-out computed by the last forward
 * (delta method over the M' joint and M' product rows treated as
 * independent): mimrl √((v_J + v_P)/(4M')) with v the variances of
 * log(γ/(1−γ+1e-6)); nwj √(var_J(log r)/M' + var_P(r)/M'); dv the same with
 * the product term divided by mean_P(r)². */
double mr_cmi_readout_se(const mr_cmi *c, size_t Mp, mr_cmi_readout ro, const double *work);
/* Accumulates g_cmi·∂CMI + g_bce·∂BCE into the classifier gradients and,
 * when dJ is non-NULL, into dJ[M' × 3d]. Reads the forward's workspace. */
void mr_cmi_backward(const mr_cmi *c, mr_params *p, size_t Mp, mr_cmi_readout ro, double g_cmi,
                     double g_bce, double *dJ, double *work);

/* ---- training the classifier alone (`mimrl estimate` on the CMINE/CCMI
 * distributions, estimate.h, and on the caller's samples, data_est.h)
 *
 * One classifier "estimator.classifier.mlp.*" (mr_cmi_register, then
 * mr_cmi_init with r_init), Adam (β = 0.9, 0.999, no weight decay) at lr on
 * all its tensors, trained on the BCE of M' joint rows J and M' product rows
 * P (each M' × 3d, the caller's, not copied: they must outlive the trainer).
 * One epoch: the joint and the product row orders are shuffled
 * independently (two gsl_ran_shuffle calls of r, joint first), then
 * ⌊M'/b⌋ minibatches of b = min(batch, M') joint and b product rows in those
 * orders each make one step (forward with the mimrl read-out, gradients
 * zeroed, backward of the BCE alone, Adam step); a remainder of fewer than b
 * rows is left out. Evaluation reuses the workspace, which is sized for the
 * larger of a minibatch and Mp_eval rows. */
typedef struct {
    mr_cmi cm;
    mr_params p;
    mr_optim opt;
    const double *J, *P;
    size_t Mp, batch, Mp_eval;
    double *work, *bj, *bp; /* workspace; b joint and b product rows of a minibatch */
    size_t *order;          /* 2·M': joint order, then product order */
} mr_cmi_trainer;

int mr_cmi_trainer_init(mr_cmi_trainer *t, size_t d, size_t hidden, mr_cmi_head head, double lr, const double *J,
                        const double *P, size_t Mp, size_t batch, size_t Mp_eval, gsl_rng *r_init, mr_error *e);
/* One epoch (shuffles drawn from r); returns the mean training BCE of its
 * minibatches. */
double mr_cmi_trainer_epoch(mr_cmi_trainer *t, gsl_rng *r);
/* The classifier on Mpe ≤ Mp_eval joint and product rows, read-out ro;
 * mr_cmi_readout_se(&t->cm, Mpe, ro, t->work) gives its standard error. */
mr_cmi_out mr_cmi_trainer_eval(mr_cmi_trainer *t, const double *Je, const double *Pe, size_t Mpe, mr_cmi_readout ro);
void mr_cmi_trainer_free(mr_cmi_trainer *t); /* also after a failed init */

#endif
