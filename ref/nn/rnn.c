/* rnn.c — see rnn.h.
 *
 * Cache layout, per layer l (in order):
 *   out_l [B, L, 2H]       layer output, forward half then backward half
 *   for d = 0 (forward), 1 (backward):
 *     gi_{l,d} [B, L, G·H]  input-to-hidden pre-activations W_ih x + b_ih
 *     st_{l,d} [B, L, S·H]  cell state: GRU (r, z, n, W_hn h + b_hn), S = 4;
 *                           LSTM (i, f, g, o, c, tanh c), S = 6
 */
#include "ref/nn/rnn.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ref/core/blas.h"
#include "ref/nn/vmath.h"

static size_t G_of(const mr_rnn *r) { return r->kind == MR_RNN_GRU ? 3 : 4; }
static size_t S_of(const mr_rnn *r) { return r->kind == MR_RNN_GRU ? 4 : 6; }
static size_t in_of(const mr_rnn *r, size_t l) { return l == 0 ? r->din : 2 * r->H; }

int mr_rnn_register(mr_rnn *r, mr_params *p, const char *prefix, mr_rnn_kind kind, size_t din,
                    size_t H, size_t layers, mr_error *e) {
    if (layers == 0 || layers > MR_RNN_MAXL) return mr_fail(e, MR_EINVAL, "%s: %zu layers (1..%d)", prefix, layers, MR_RNN_MAXL);
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->din = din;
    r->H = H;
    r->layers = layers;
    size_t GH = G_of(r) * H;
    for (size_t l = 0; l < layers; l++)
        for (int d = 0; d < 2; d++) {
            char name[MR_NAME_MAX];
            const char *suf = d ? "_reverse" : "";
            size_t sih[2] = {GH, in_of(r, l)}, shh[2] = {GH, H}, sb[1] = {GH};
            int rc;
            snprintf(name, sizeof name, "%s.weight_ih_l%zu%s", prefix, l, suf);
            r->w_ih[l][d] = p->n;
            if ((rc = mr_params_add(p, name, 2, sih, e))) return rc;
            snprintf(name, sizeof name, "%s.weight_hh_l%zu%s", prefix, l, suf);
            r->w_hh[l][d] = p->n;
            if ((rc = mr_params_add(p, name, 2, shh, e))) return rc;
            snprintf(name, sizeof name, "%s.bias_ih_l%zu%s", prefix, l, suf);
            r->b_ih[l][d] = p->n;
            if ((rc = mr_params_add(p, name, 1, sb, e))) return rc;
            snprintf(name, sizeof name, "%s.bias_hh_l%zu%s", prefix, l, suf);
            r->b_hh[l][d] = p->n;
            if ((rc = mr_params_add(p, name, 1, sb, e))) return rc;
        }
    return MR_OK;
}

void mr_orthogonal_init(double *W, size_t rows, size_t cols, gsl_rng *rng) {
    int tr = rows < cols;
    size_t M = tr ? cols : rows, N = tr ? rows : cols;
    gsl_matrix *A = gsl_matrix_alloc(M, N), *Q = gsl_matrix_alloc(M, M), *R = gsl_matrix_alloc(M, N);
    gsl_vector *tau = gsl_vector_alloc(N);
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) gsl_matrix_set(A, i, j, gsl_ran_gaussian(rng, 1.0));
    gsl_linalg_QR_decomp(A, tau);
    gsl_linalg_QR_unpack(A, tau, Q, R);
    for (size_t j = 0; j < N; j++) {
        double s = gsl_matrix_get(R, j, j) < 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < M; i++) {
            double q = s * gsl_matrix_get(Q, i, j);
            if (tr) W[j * cols + i] = q; /* W = Qᵀ */
            else W[i * cols + j] = q;
        }
    }
    gsl_matrix_free(A);
    gsl_matrix_free(Q);
    gsl_matrix_free(R);
    gsl_vector_free(tau);
}

void mr_rnn_init(const mr_rnn *r, mr_params *p, gsl_rng *rng) {
    double k = 1.0 / sqrt((double)r->H);
    for (size_t l = 0; l < r->layers; l++)
        for (int d = 0; d < 2; d++) {
            size_t idx[4] = {r->w_ih[l][d], r->w_hh[l][d], r->b_ih[l][d], r->b_hh[l][d]};
            for (int t = 0; t < 4; t++) {
                const mr_tensor *T = &p->t[idx[t]];
                for (size_t i = 0; i < T->size; i++) p->data[T->offset + i] = k * (2.0 * gsl_rng_uniform(rng) - 1.0);
            }
        }
    for (size_t l = 0; l < r->layers; l++)
        for (int d = 0; d < 2; d++) {
            const mr_tensor *T = &p->t[r->w_hh[l][d]];
            mr_orthogonal_init(p->data + T->offset, T->shape[0], T->shape[1], rng);
        }
}

void mr_seq_lengths(const double *x, size_t B, size_t L, size_t d, int *len) {
    for (size_t b = 0; b < B; b++) {
        int n = 0;
        for (size_t t = 0; t < L; t++) {
            double s = 0.0;
            for (size_t f = 0; f < d; f++) s += fabs(x[(b * L + t) * d + f]);
            n += s != 0.0;
        }
        len[b] = n ? n : 1;
    }
}

/* -------------------------------------------------------------- layout */

/* per layer: the output [B×L×2H] and, per direction, the gate states
 * [B×L×S·H] the backward reads (the input projections live in the work
 * buffer: only the forward of one direction needs them) */
static size_t layer_size(const mr_rnn *r, size_t B, size_t L) {
    size_t H = r->H;
    return B * L * (2 * H + 2 * S_of(r) * H);
}

size_t mr_rnn_cache_size(const mr_rnn *r, size_t B, size_t L) { return r->layers * layer_size(r, B, L); }

/* The work buffer, in doubles (the same buffer serves forward and backward):
 *   forward:  hp [B×H], gh [B×G·H], act [B], off [B+1] (sizes_t), gi [Σlen × G·H]
 *             (one direction's input projections, packed), inc [Σlen × Din]
 *   backward: dout, din [B×L×2H] each, dgi [Σlen × G·H] (packed), dh, dc, hp,
 *             dhp, gsc [B×H] each, dgh [B×G·H], inc [Σlen × Din], act [B], off [B+1]
 * with Din = max(din, 2H) and Σlen ≤ B·L. */
static size_t din_max(const mr_rnn *r) { return in_of(r, 0) > 2 * r->H ? in_of(r, 0) : 2 * r->H; }

size_t mr_rnn_work_size(const mr_rnn *r, size_t B, size_t L) {
    size_t H = r->H, GH = G_of(r) * H;
    return 2 * B * L * 2 * H + B * L * GH + B * (5 * H + GH) + B * L * din_max(r) + 2 * B + 1;
}

/* hp, gh, act, off, gi, inc of the forward layout above */
size_t mr_rnn_forward_work_size(const mr_rnn *r, size_t B, size_t L) {
    size_t H = r->H, GH = G_of(r) * H;
    return B * H + B * GH + 2 * B + 1 + B * L * GH + B * L * din_max(r);
}

typedef struct {
    double *out, *st[2];
} layer_view;

static layer_view view(const mr_rnn *r, const double *cache, size_t B, size_t L, size_t l) {
    layer_view v;
    size_t H = r->H, SH = S_of(r) * H;
    double *c = (double *)cache + l * layer_size(r, B, L);
    v.out = c;
    c += B * L * 2 * H;
    for (int d = 0; d < 2; d++) {
        v.st[d] = c;
        c += B * L * SH;
    }
    return v;
}

static int max_len(const int *len, size_t B) {
    int m = 0;
    for (size_t b = 0; b < B; b++)
        if (len[b] > m) m = len[b];
    return m;
}

/* act ← the samples with len > s, increasing; returns their count. Products
 * over the active rows only equal, in the reference loops, the products over
 * all rows with zeros at the inactive ones bit for bit: each row's dot
 * products are unchanged, and sums over rows skip exact zeros in the same
 * order. */
static size_t active(const int *len, size_t B, int s, size_t *act) {
    size_t n = 0;
    for (size_t b = 0; b < B; b++)
        if (len[b] > s) act[n++] = b;
    return n;
}

/* position of step s of sample b in direction d, and of its predecessor */
static size_t pos_of(int d, int s, int len) { return (size_t)(d == 0 ? s : len - 1 - s); }

/* off[b] = Σ_{c<b} len[c] (the first packed row of sample b); returns Σ len */
static size_t offsets(const int *len, size_t B, size_t *off) {
    size_t k = 0;
    for (size_t b = 0; b < B; b++) {
        off[b] = k;
        k += (size_t)len[b];
    }
    off[B] = k;
    return k;
}

/* the valid rows of src [B, L, D], packed in increasing (b, t) into dst [Σlen, D] */
static void gather(double *dst, const double *src, size_t B, size_t L, size_t D, const int *len) {
    for (size_t b = 0; b < B; b++) {
        memcpy(dst, src + b * L * D, (size_t)len[b] * D * sizeof *dst);
        dst += (size_t)len[b] * D;
    }
}

_Static_assert(sizeof(size_t) <= sizeof(double), "index arrays live in the double work buffer");

/* ------------------------------------------------------------- forward */

/* Elementwise loops over rows, in functions whose pointers are restrict so
 * that the compiler vectorizes them (elementwise: the same operations on
 * every element, results bit for bit the scalar loop's). */
static void add_bias_rows(double *restrict y, const double *restrict bias, size_t rows, size_t n) {
    for (size_t k = 0; k < rows; k++)
        for (size_t j = 0; j < n; j++) y[k * n + j] += bias[j];
}

/* y [rows × H] = out[:, :H] + out[:, H:] (out [rows × 2H]) */
static void sum_halves(double *restrict y, const double *restrict out, size_t rows, size_t H) {
    for (size_t k = 0; k < rows; k++)
        for (size_t j = 0; j < H; j++) y[k * H + j] = out[k * 2 * H + j] + out[k * 2 * H + H + j];
}

/* One time step of the GRU cell for one sample, on the pre-activations
 * gi = W_ih x + b_ih, gh = W_hh h0 (b_hh added here); st ← (r, z, n, W_hn h0 + b_hn),
 * h1 ← h'. The nonlinearities run over whole gate rows (mr_vsigmoid,
 * mr_vtanh); every element sees exactly the operations of the scalar cell. */
static void gru_cell(size_t H, const double *restrict gi, const double *restrict gh, const double *restrict bhh,
                     const double *restrict h0, double *restrict st, double *restrict h1) {
    for (size_t j = 0; j < 2 * H; j++) st[j] = gi[j] + gh[j] + bhh[j];
    mr_vsigmoid(st, st, 2 * H); /* r, z */
    for (size_t j = 0; j < H; j++) {
        double ghn = gh[2 * H + j] + bhh[2 * H + j];
        st[3 * H + j] = ghn;
        st[2 * H + j] = gi[2 * H + j] + st[j] * ghn;
    }
    mr_vtanh(st + 2 * H, st + 2 * H, H); /* n */
    for (size_t j = 0; j < H; j++) {
        double zz = st[H + j];
        h1[j] = (1.0 - zz) * st[2 * H + j] + zz * h0[j];
    }
}

/* The LSTM cell: st ← (i, f, g, o, c', tanh c'), h1 ← h'; c0 = NULL for c = 0. */
static void lstm_cell(size_t H, const double *restrict gi, const double *restrict gh, const double *restrict bhh,
                      const double *restrict c0, double *restrict st, double *restrict h1) {
    for (size_t j = 0; j < 4 * H; j++) st[j] = gi[j] + gh[j] + bhh[j];
    mr_vsigmoid(st, st, 2 * H);                 /* i, f */
    mr_vtanh(st + 2 * H, st + 2 * H, H);        /* g */
    mr_vsigmoid(st + 3 * H, st + 3 * H, H);     /* o */
    for (size_t j = 0; j < H; j++) st[4 * H + j] = st[H + j] * (c0 ? c0[j] : 0.0) + st[j] * st[2 * H + j];
    mr_vtanh(st + 5 * H, st + 4 * H, H);        /* tanh c' */
    for (size_t j = 0; j < H; j++) h1[j] = st[3 * H + j] * st[5 * H + j];
}

size_t mr_rnn_eval_size(const mr_rnn *r, size_t B, size_t L) {
    size_t H = r->H, nout = r->layers < 2 ? r->layers : 2;
    return nout * B * L * 2 * H + 2 * B * S_of(r) * H;
}

/* eval = 0: the training forward into cache (layer outputs and the gate
 * states of every position); eval = 1: cache is mr_rnn_eval_size() scratch —
 * layer l's output in slot l mod 2, the gate states of step s of sample b in
 * row (s mod 2)·B + b (the LSTM's c0 is the previous step's row). Every
 * arithmetic operation is the same in both, in the same order. */
static void rnn_forward(const mr_rnn *r, const mr_params *p, const double *x, size_t B, size_t L, const int *len,
                        double *y, double *cache, double *work, int eval) {
    size_t H = r->H, G = G_of(r), GH = G * H, S = S_of(r), SH = S * H;
    int Lmax = max_len(len, B);
    double *hp = work, *gh = work + B * H;        /* h_prev [B×H], W_hh·h_prev [B×G·H] */
    size_t *act = (size_t *)(gh + B * GH);        /* B indices */
    size_t *off = act + B;                        /* B + 1 packed-row offsets */
    double *giw = gh + B * GH + 2 * B + 1;        /* in·W_ihᵀ + b_ih [Σlen × G·H] of one direction */
    double *inc = giw + B * L * GH;               /* the layer's inputs at valid positions [Σlen × Din] */
    size_t nv = offsets(len, B, off);
    double *eout[2] = {cache, cache + B * L * 2 * H}, *est = cache + (r->layers < 2 ? 1 : 2) * B * L * 2 * H;
    for (size_t l = 0; l < r->layers; l++) {
        layer_view v;
        const double *in;
        if (eval) {
            v.out = eout[l % 2], v.st[0] = v.st[1] = NULL;
            in = l == 0 ? x : eout[(l - 1) % 2];
        } else {
            v = view(r, cache, B, L, l);
            in = l == 0 ? x : view(r, cache, B, L, l - 1).out;
        }
        size_t Din = in_of(r, l);
        /* outputs at padding positions are 0; the valid ones are written below */
        for (size_t b = 0; b < B; b++)
            memset(v.out + (b * L + (size_t)len[b]) * 2 * H, 0, (L - (size_t)len[b]) * 2 * H * sizeof *v.out);
        /* the inputs at the Σlen valid positions, packed once for both directions */
        gather(inc, in, B, L, Din, len);
        for (int d = 0; d < 2; d++) {
            const double *Wih = p->data + p->t[r->w_ih[l][d]].offset, *Whh = p->data + p->t[r->w_hh[l][d]].offset;
            const double *bih = p->data + p->t[r->b_ih[l][d]].offset, *bhh = p->data + p->t[r->b_hh[l][d]].offset;
            /* gi = in·W_ihᵀ + b_ih: one product over all valid rows (row off[b] + t
             * ↔ position t of sample b); each entry's dot product is the one the
             * per-sample product computed */
            mr_gemm(0, 1, nv, GH, Din, 1.0, inc, Din, Wih, Din, 0.0, giw, GH);
            add_bias_rows(giw, bih, nv, GH);
            for (int s = 0; s < Lmax; s++) {
                /* the samples still running at step s, in increasing order: the
                 * recurrent product runs on those rows only (row i ↔ sample act[i]) */
                size_t n = active(len, B, s, act);
                for (size_t i = 0; i < n; i++) {
                    size_t b = act[i];
                    double *h = hp + i * H;
                    if (s == 0) memset(h, 0, H * sizeof *h);
                    else memcpy(h, v.out + (b * L + pos_of(d, s - 1, len[b])) * 2 * H + d * H, H * sizeof *h);
                }
                mr_gemm(0, 1, n, GH, H, 1.0, hp, H, Whh, H, 0.0, gh, GH);
                for (size_t i = 0; i < n; i++) {
                    size_t b = act[i];
                    size_t t = pos_of(d, s, len[b]);
                    const double *gi = giw + (off[b] + t) * GH;
                    double *st = eval ? est + ((size_t)(s % 2) * B + b) * SH : v.st[d] + (b * L + t) * SH;
                    double *h1 = v.out + (b * L + t) * 2 * H + d * H;
                    if (r->kind == MR_RNN_GRU) gru_cell(H, gi, gh + i * GH, bhh, hp + i * H, st, h1);
                    else {
                        const double *c0 = s == 0 ? NULL
                                           : eval ? est + ((size_t)((s - 1) % 2) * B + b) * SH + 4 * H
                                                  : v.st[d] + (b * L + pos_of(d, s - 1, len[b])) * SH + 4 * H;
                        lstm_cell(H, gi, gh + i * GH, bhh, c0, st, h1);
                    }
                }
            }
        }
    }
    /* sum the two directions of the last layer */
    const double *out = eval ? eout[(r->layers - 1) % 2] : view(r, cache, B, L, r->layers - 1).out;
    sum_halves(y, out, B * L, H);
}

void mr_rnn_forward(const mr_rnn *r, const mr_params *p, const double *x, size_t B, size_t L,
                    const int *len, double *y, double *cache, double *work) {
    rnn_forward(r, p, x, B, L, len, y, cache, work, 0);
}

void mr_rnn_forward_eval(const mr_rnn *r, const mr_params *p, const double *x, size_t B, size_t L,
                         const int *len, double *y, double *scratch, double *work) {
    rnn_forward(r, p, x, B, L, len, y, scratch, work, 1);
}

/* The GRU cell backward at one step of one sample: dh (in: the gradient
 * reaching h' from the step after; out: its direct path z ⊙ ·, the gate path
 * is added by the caller's product), go the layer-output gradient at this
 * position; gi ← the pre-activation gradients, gh ← those of W_hh h0 + b_hh. */
static void gru_cell_back(size_t H, const double *restrict st, const double *restrict h0, const double *restrict go,
                          double *restrict dh, double *restrict gi, double *restrict gh) {
    for (size_t j = 0; j < H; j++) {
        double g = dh[j] + go[j];
        double rr = st[j], zz = st[H + j], nn = st[2 * H + j], ghn = st[3 * H + j];
        double dn = g * (1.0 - zz), dz = g * (h0[j] - nn);
        double dan = dn * (1.0 - nn * nn);
        double dar = dan * ghn * rr * (1.0 - rr);
        double daz = dz * zz * (1.0 - zz);
        gi[j] = dar;
        gi[H + j] = daz;
        gi[2 * H + j] = dan;
        gh[j] = dar;
        gh[H + j] = daz;
        gh[2 * H + j] = dan * rr;
        dh[j] = g * zz; /* direct path h' ← z ⊙ h; the gate path is added by the caller */
    }
}

/* The LSTM cell backward: as above with the cell state's gradient dc (in/out)
 * and c0 the previous cell state (NULL: 0); dh ← 0 (all of it goes through
 * the gates). */
static void lstm_cell_back(size_t H, const double *restrict st, const double *restrict c0, const double *restrict go,
                           double *restrict dh, double *restrict dc, double *restrict gi, double *restrict gh) {
    for (size_t j = 0; j < H; j++) {
        double g = dh[j] + go[j];
        double ii = st[j], ff = st[H + j], gg = st[2 * H + j], oo = st[3 * H + j], tc = st[5 * H + j];
        double dct = dc[j] + g * oo * (1.0 - tc * tc);
        double dai = dct * gg * ii * (1.0 - ii);
        double daf = dct * (c0 ? c0[j] : 0.0) * ff * (1.0 - ff);
        double dag = dct * ii * (1.0 - gg * gg);
        double dao = g * tc * oo * (1.0 - oo);
        gi[j] = gh[j] = dai;
        gi[H + j] = gh[H + j] = daf;
        gi[2 * H + j] = gh[2 * H + j] = dag;
        gi[3 * H + j] = gh[3 * H + j] = dao;
        dc[j] = dct * ff;
        dh[j] = 0.0;
    }
}

/* dW_hh += Σ dghᵀ·h_prev and db_hh += Σ dgh over every valid (b, t) as one
 * product (K = Σlen) instead of one per time step (K = running rows): fast
 * builds only — the sum runs in another order than the per-step products, so
 * BLAS=none keeps those (bit-identity). dgh equals dgi but for the GRU's n
 * block (dan·r); h_prev is the direction's previous output, 0 at its first
 * step. Scratch: 2·Σlen·H doubles of sc (the inc buffer). */
#ifndef MR_REF
static void recurrent_weight_grad(const mr_rnn *r, const layer_view *v, int d, size_t B, size_t L, const int *len,
                                  const size_t *off, size_t nv, const double *dgi, double *sc, double *dWhh,
                                  double *dbhh) {
    size_t H = r->H, GH = G_of(r) * H, SH = S_of(r) * H;
    double *hprev = sc, *dghn = sc + nv * H;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < (size_t)len[b]; t++) {
            double *hrow = hprev + (off[b] + t) * H;
            int first = d == 0 ? t == 0 : t + 1 == (size_t)len[b];
            if (first) memset(hrow, 0, H * sizeof *hrow);
            else memcpy(hrow, v->out + (b * L + (d == 0 ? t - 1 : t + 1)) * 2 * H + (size_t)d * H, H * sizeof *hrow);
            if (r->kind == MR_RNN_GRU) {
                const double *st = v->st[d] + (b * L + t) * SH, *g = dgi + (off[b] + t) * GH + 2 * H;
                double *o = dghn + (off[b] + t) * H;
                for (size_t j = 0; j < H; j++) o[j] = g[j] * st[j];
            }
        }
    size_t Gd = r->kind == MR_RNN_GRU ? 2 * H : GH; /* the rows of dW_hh whose dgh is dgi */
    mr_gemm(1, 0, Gd, H, nv, 1.0, dgi, GH, hprev, H, 1.0, dWhh, H);
    for (size_t k = 0; k < nv; k++)
        for (size_t j = 0; j < Gd; j++) dbhh[j] += dgi[k * GH + j];
    if (r->kind == MR_RNN_GRU) {
        mr_gemm(1, 0, H, H, nv, 1.0, dghn, H, hprev, H, 1.0, dWhh + 2 * H * H, H);
        for (size_t k = 0; k < nv; k++)
            for (size_t j = 0; j < H; j++) dbhh[2 * H + j] += dghn[k * H + j];
    }
}
#endif

/* ------------------------------------------------------------ backward */

void mr_rnn_backward(const mr_rnn *r, mr_params *p, const double *x, size_t B, size_t L,
                     const int *len, const double *dy, double *dx, const double *cache, double *work) {
    size_t H = r->H, G = G_of(r), GH = G * H, SH = S_of(r) * H;
    int Lmax = max_len(len, B);
    double *dout = work, *din = dout + B * L * 2 * H, *dgi = din + B * L * 2 * H; /* dgi packed [Σlen × G·H] */
    double *dh = dgi + B * L * GH, *dc = dh + B * H, *hp = dc + B * H, *dhp = hp + B * H, *gsc = dhp + B * H;
    double *dgh = gsc + B * H, *inc = dgh + B * GH; /* inc: the inputs at valid positions, packed */
    size_t *act = (size_t *)(inc + B * L * din_max(r)), *off = act + B;
    size_t nv = offsets(len, B, off);
    /* top layer: y = fwd + bwd → both halves receive dy (only valid positions are read) */
    for (size_t b = 0; b < B; b++)
        for (size_t k = b * L; k < b * L + (size_t)len[b]; k++)
            for (size_t j = 0; j < H; j++) dout[k * 2 * H + j] = dout[k * 2 * H + H + j] = dy[k * H + j];
    for (size_t l = r->layers; l-- > 0;) {
        layer_view v = view(r, cache, B, L, l);
        const double *in = l == 0 ? x : view(r, cache, B, L, l - 1).out;
        size_t Din = in_of(r, l);
        for (int d = 0; d < 2; d++) {
            const double *Wih = p->data + p->t[r->w_ih[l][d]].offset, *Whh = p->data + p->t[r->w_hh[l][d]].offset;
            double *dWih = p->grad + p->t[r->w_ih[l][d]].offset, *dWhh = p->grad + p->t[r->w_hh[l][d]].offset;
            double *dbih = p->grad + p->t[r->b_ih[l][d]].offset, *dbhh = p->grad + p->t[r->b_hh[l][d]].offset;
            memset(dh, 0, B * H * sizeof *dh);
            memset(dc, 0, B * H * sizeof *dc);
            for (int s = Lmax - 1; s >= 0; s--) {
                size_t n = active(len, B, s, act); /* row i ↔ sample act[i], as in the forward */
                for (size_t i = 0; i < n; i++) {
                    size_t b = act[i];
                    double *h0 = hp + i * H;
                    if (s == 0) memset(h0, 0, H * sizeof *h0);
                    else memcpy(h0, v.out + (b * L + pos_of(d, s - 1, len[b])) * 2 * H + d * H, H * sizeof *h0);
                    size_t t = pos_of(d, s, len[b]);
                    const double *st = v.st[d] + (b * L + t) * SH;
                    const double *go = dout + (b * L + t) * 2 * H + d * H;
                    /* every gate entry of gi (valid row) and ghb is written */
                    double *gi = dgi + (off[b] + t) * GH, *ghb = dgh + i * GH, *dhb = dh + b * H;
                    if (r->kind == MR_RNN_GRU) gru_cell_back(H, st, h0, go, dhb, gi, ghb);
                    else {
                        const double *c0 = s > 0 ? v.st[d] + (b * L + pos_of(d, s - 1, len[b])) * SH + 4 * H : NULL;
                        lstm_cell_back(H, st, c0, go, dhb, dc + b * H, gi, ghb);
                    }
                }
                /* hidden-to-hidden: dh_prev += dgh·W_hh; dW_hh += dghᵀ·h_prev; db_hh += Σ dgh */
                mr_gemm(0, 0, n, H, GH, 1.0, dgh, GH, Whh, H, 0.0, dhp, H);
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < H; j++) dh[act[i] * H + j] += dhp[i * H + j];
#ifdef MR_REF
                mr_gemm(1, 0, GH, H, n, 1.0, dgh, GH, hp, H, 1.0, dWhh, H);
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < GH; j++) dbhh[j] += dgh[i * GH + j];
#endif
            }
#ifndef MR_REF
            recurrent_weight_grad(r, &v, d, B, L, len, off, nv, dgi, inc, dWhh, dbhh);
#endif
            /* input side, one product each over the Σlen valid rows (dgi is
             * packed in increasing (b, t)): the input gradient dgi·W_ih into inc,
             * scattered onto dx (layer 0, accumulated) or din (the first
             * direction starts it at 0 + ·, as a product onto zeros would);
             * then the inputs gathered into inc for dW_ih and db_ih */
            double *dxo = l > 0 ? din : dx;
            if (dxo) {
                mr_gemm(0, 0, nv, Din, GH, 1.0, dgi, GH, Wih, Din, 0.0, inc, Din);
                for (size_t b = 0; b < B; b++) {
                    double *o = dxo + b * L * Din;
                    const double *src = inc + off[b] * Din;
                    size_t m = (size_t)len[b] * Din;
                    if (l > 0 && d == 0)
                        for (size_t k = 0; k < m; k++) o[k] = 0.0 + src[k];
                    else
                        for (size_t k = 0; k < m; k++) o[k] += src[k];
                }
            }
            gather(inc, in, B, L, Din, len);
            mr_gemm(1, 0, GH, Din, nv, 1.0, dgi, GH, inc, Din, 1.0, dWih, Din);
            for (size_t k = 0; k < nv; k++)
                for (size_t j = 0; j < GH; j++) dbih[j] += dgi[k * GH + j];
        }
        if (l > 0) {
            double *t = dout;
            dout = din;
            din = t;
        }
    }
}

/* --------------------------------------------------------------- conv1d */

void mr_conv1d_forward(double *y, const double *x, const double *w, const double *bias, size_t B,
                       size_t L, size_t din, size_t D) {
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < L; t++) {
            double *yo = y + (b * L + t) * D;
            for (size_t o = 0; o < D; o++) {
                double s = 0.0;
                for (size_t i = 0; i < din; i++)
                    for (size_t k = 0; k < 3; k++) {
                        long tt = (long)t + (long)k - 1;
                        if (tt < 0 || tt >= (long)L) continue;
                        s += w[(o * din + i) * 3 + k] * x[(b * L + (size_t)tt) * din + i];
                    }
                yo[o] = s + (bias ? bias[o] : 0.0);
            }
        }
}

void mr_conv1d_backward(double *dx, double *dw, double *dbias, const double *dy, const double *x,
                        const double *w, size_t B, size_t L, size_t din, size_t D) {
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < L; t++) {
            const double *g = dy + (b * L + t) * D;
            for (size_t o = 0; o < D; o++) {
                if (dbias) dbias[o] += g[o];
                for (size_t i = 0; i < din; i++)
                    for (size_t k = 0; k < 3; k++) {
                        long tt = (long)t + (long)k - 1;
                        if (tt < 0 || tt >= (long)L) continue;
                        if (dw) dw[(o * din + i) * 3 + k] += g[o] * x[(b * L + (size_t)tt) * din + i];
                        if (dx) dx[(b * L + (size_t)tt) * din + i] += g[o] * w[(o * din + i) * 3 + k];
                    }
            }
        }
}

/* ------------------------------------------------- read-only accessors */

void mr_rnn_final_states(const mr_rnn *r, const double *cache, size_t B, size_t L, const int *len, double *h_n) {
    size_t H = r->H;
    for (size_t l = 0; l < r->layers; l++) {
        layer_view v = view(r, cache, B, L, l);
        for (int d = 0; d < 2; d++)
            for (size_t b = 0; b < B; b++) {
                /* forward: the state after the last valid frame; reverse: after frame 0 */
                size_t t = d == 0 ? (size_t)len[b] - 1 : 0;
                memcpy(h_n + ((2 * l + (size_t)d) * B + b) * H, v.out + (b * L + t) * 2 * H + (size_t)d * H, H * sizeof *h_n);
            }
    }
}
