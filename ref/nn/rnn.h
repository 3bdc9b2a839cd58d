/* rnn.h — bidirectional GRU and LSTM over zero-padded batches with
 * per-sample lengths, with exactly the semantics of PyTorch's nn.GRU /
 * nn.LSTM applied to pack_padded_sequence (spec §1.3):
 *
 *  - sample b's forward direction reads frames 0..len[b]−1, its backward
 *    direction reads len[b]−1 down to 0; both start from h = 0 (and c = 0);
 *  - outputs at positions τ ≥ len[b] are exactly 0;
 *  - layer l ≥ 1 reads [h_fwd ; h_bwd] (2H) of layer l−1 at each position;
 *  - the encoder output sums the two directions of the last layer:
 *    y[b,τ,:] = h_fwd[b,τ,:] + h_bwd[b,τ,:]  ([B, L, H]).
 *
 * GRU cell, gate order (r, z, n) in the stacked weights:
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h' = (1 − z) ⊙ n + z ⊙ h
 * LSTM cell, gate order (i, f, g, o):
 *   i, f, o = σ(·), g = tanh(·), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c')
 * Parameter names (PyTorch): <prefix>.weight_ih_l<k>[_reverse] [G·H × in],
 * weight_hh_l<k>[_reverse] [G·H × H], bias_ih_l<k>[_reverse], bias_hh_l<k>[_reverse]
 * with G = 3 (GRU) or 4 (LSTM).
 *
 * The input-to-hidden products of a layer are one GEMM per direction over
 * the Σ len valid positions (gathered once per layer), and so are the input
 * gradient and dW_ih (and, in the fast builds, dW_hh); the recurrence does
 * one n×H by H×G·H GEMM per time step on the n samples still running. The
 * gate nonlinearities go through ref/nn/vmath.h (SLEEF in the fast builds,
 * libm in BLAS=none). Forward stores what the backward needs in a caller
 * cache of mr_rnn_cache_size() doubles; backward accumulates into the store's
 * gradients and into dx (if non-NULL) using mr_rnn_work_size() scratch (one
 * buffer serves both; its contents need not be initialised).
 */
#ifndef MR_RNN_H
#define MR_RNN_H

#include <gsl/gsl_rng.h>

#include "ref/core/params.h"

#define MR_RNN_MAXL 4

typedef enum { MR_RNN_GRU = 0, MR_RNN_LSTM } mr_rnn_kind;

typedef struct {
    mr_rnn_kind kind;
    size_t din, H, layers;
    size_t w_ih[MR_RNN_MAXL][2], w_hh[MR_RNN_MAXL][2], b_ih[MR_RNN_MAXL][2], b_hh[MR_RNN_MAXL][2];
} mr_rnn;

int mr_rnn_register(mr_rnn *r, mr_params *p, const char *prefix, mr_rnn_kind kind, size_t din,
                    size_t H, size_t layers, mr_error *e);
/* PyTorch's init: every weight and bias U(±1/√H); then (as the official
 * other_model_operations does) every weight_hh re-initialised orthogonally
 * (orthonormal columns, gain 1, via GSL's Householder QR of a Gaussian
 * matrix with the signs of R's diagonal folded in, like torch.nn.init.orthogonal_). */
void mr_rnn_init(const mr_rnn *r, mr_params *p, gsl_rng *rng);
/* Orthogonal init of one rows×cols matrix (rows ≥ cols or transposed). */
void mr_orthogonal_init(double *W, size_t rows, size_t cols, gsl_rng *rng);

/* The official length rule: a frame is padding iff Σ_f |x[b,τ,f]| == 0;
 * len[b] = number of non-padding frames, and 0 becomes 1 (O-4, O-10). */
void mr_seq_lengths(const double *x, size_t B, size_t L, size_t d, int *len);

size_t mr_rnn_cache_size(const mr_rnn *r, size_t B, size_t L);
size_t mr_rnn_work_size(const mr_rnn *r, size_t B, size_t L);
/* x [B, L, din], len[b] ∈ [1, L]; y [B, L, H] (directions summed).
 * work: mr_rnn_work_size() scratch (the same size serves the backward). */
void mr_rnn_forward(const mr_rnn *r, const mr_params *p, const double *x, size_t B, size_t L,
                    const int *len, double *y, double *cache, double *work);
void mr_rnn_backward(const mr_rnn *r, mr_params *p, const double *x, size_t B, size_t L,
                     const int *len, const double *dy, double *dx, const double *cache, double *work);
/* The evaluation forward: y exactly as mr_rnn_forward computes it (the
 * same operations in the same order, bit for bit), keeping no cache for a
 * backward: scratch of mr_rnn_eval_size() doubles holds the layer outputs
 * feeding the next layer (two at most) and the gate states of one time step
 * per sample (two: the LSTM reads the previous cell state); work as for
 * mr_rnn_forward. mr_rnn_eval_size() ≤ mr_rnn_cache_size(). */
size_t mr_rnn_eval_size(const mr_rnn *r, size_t B, size_t L);
/* The part of the work buffer a forward uses (≤ mr_rnn_work_size(), which
 * also holds the backward's scratch): enough work for mr_rnn_forward_eval. */
size_t mr_rnn_forward_work_size(const mr_rnn *r, size_t B, size_t L);
void mr_rnn_forward_eval(const mr_rnn *r, const mr_params *p, const double *x, size_t B, size_t L,
                         const int *len, double *y, double *scratch, double *work);
/* Read-only: the final hidden states of the last forward held by cache, in
 * PyTorch's h_n order [2·layers, B, H] (layer-major, forward then reverse;
 * packed semantics: forward after frame len−1, reverse after frame 0). */
void mr_rnn_final_states(const mr_rnn *r, const double *cache, size_t B, size_t L, const int *len, double *h_n);

/* ---- Conv1d(d_x → D, kernel 3, stride 1, zero padding 1) along time:
 * y[b,τ,:] = bias + Σ_{k=0..2} W[:, :, k] · x[b, τ+k−1, :]; names
 * <prefix>.weight [D, d_x, 3], <prefix>.bias [D]. No lengths, no masking. */
void mr_conv1d_forward(double *y, const double *x, const double *w, const double *bias, size_t B,
                       size_t L, size_t din, size_t D);
void mr_conv1d_backward(double *dx, double *dw, double *dbias, const double *dy, const double *x,
                        const double *w, size_t B, size_t L, size_t din, size_t D);

#endif
