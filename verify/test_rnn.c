/* test_rnn.c — GRU, LSTM and Conv1d: packed-sequence semantics (padding
 * invariance, zeros past the length, the backward direction starting at the
 * last valid frame), the official length rule, orthogonal init, and
 * finite-difference gradients with variable lengths, a length-1 sample, an
 * all-padding sample, odd sizes and B = 1; the gates' vector math
 * (ref/nn/vmath.c, and the SLEEF AVX2 kernels of ref/nn/vmath_avx2.c against
 * libm within a derived ulp bound). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ref/core/gradcheck.h"
#include "ref/nn/rnn.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

typedef struct {
    mr_rnn r;
    mr_params p;
    size_t B, L;
    int len[8];
    double *x, *y, *w, *cache, *work;
} rctx;

static double rloss(void *c_) {
    rctx *c = c_;
    mr_rnn_forward(&c->r, &c->p, c->x, c->B, c->L, c->len, c->y, c->cache, c->work);
    double s = 0;
    for (size_t i = 0; i < c->B * c->L * c->r.H; i++) s += c->y[i] * c->w[i];
    return s;
}

static void rbuild(rctx *c, mr_rnn_kind kind, size_t layers, size_t B, size_t L, size_t din, size_t H, const int *len,
                   unsigned long seed) {
    memset(c, 0, sizeof *c);
    mr_params_init(&c->p);
    mr_error e;
    cr_assert(mr_rnn_register(&c->r, &c->p, "rnn_a", kind, din, H, layers, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_params_alloc(&c->p, &e) == MR_OK);
    gsl_rng *g = t_rng(seed);
    mr_rnn_init(&c->r, &c->p, g);
    c->B = B;
    c->L = L;
    memcpy(c->len, len, B * sizeof *len);
    c->x = t_alloc(B * L * din);
    c->y = t_alloc(B * L * H);
    c->w = t_alloc(B * L * H);
    c->cache = t_alloc(mr_rnn_cache_size(&c->r, B, L));
    c->work = t_alloc(mr_rnn_work_size(&c->r, B, L));
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < (size_t)len[b]; t++) t_fill_uniform(c->x + (b * L + t) * din, din, -1, 1, g);
    t_fill_uniform(c->w, B * L * H, -1, 1, g);
    gsl_rng_free(g);
}

static void check_rnn_grad(mr_rnn_kind kind, size_t layers, size_t B, size_t L, size_t din, size_t H, const int *len,
                           unsigned long seed) {
    rctx c;
    rbuild(&c, kind, layers, B, L, din, H, len, seed);
    double *dx = t_alloc(B * L * din);
    mr_params_zero_grad(&c.p);
    rloss(&c);
    mr_rnn_backward(&c.r, &c.p, c.x, B, L, c.len, c.w, dx, c.cache, c.work);
    mr_gc_var v[2] = {{"params", c.p.data, c.p.grad, c.p.total}, {"x", c.x, dx, B * L * din}};
    mr_gc_result res;
    int fails = mr_gradcheck(rloss, &c, v, 2, 0, &res);
    cr_assert(fails == 0, "%s layers=%zu B=%zu L=%zu: %d failures (max err %g)", kind == MR_RNN_GRU ? "GRU" : "LSTM", layers,
              B, L, fails, res.max_err);
    /* gradients w.r.t. padded input frames are exactly zero */
    for (size_t b = 0; b < B; b++)
        for (size_t t = (size_t)len[b]; t < L; t++)
            for (size_t f = 0; f < din; f++) cr_assert(dx[(b * L + t) * din + f] == 0.0, "padding frame got a gradient");
    mr_params_free(&c.p);
}

Test(rnn, gru_two_layers_variable_lengths) {
    int len[3] = {4, 1, 3}; /* full, length 1, partial */
    check_rnn_grad(MR_RNN_GRU, 2, 3, 4, 2, 3, len, 1);
}

Test(rnn, gru_one_layer_batch_one_odd_sizes) {
    int len[1] = {5};
    check_rnn_grad(MR_RNN_GRU, 1, 1, 5, 3, 5, len, 2);
}

Test(rnn, lstm_variable_lengths) {
    int len[3] = {2, 4, 1};
    check_rnn_grad(MR_RNN_LSTM, 1, 3, 4, 3, 2, len, 3);
}

Test(rnn, lstm_two_layers) {
    int len[2] = {3, 2};
    check_rnn_grad(MR_RNN_LSTM, 2, 2, 3, 2, 3, len, 4);
}

/* The evaluation forward (no cache) gives the training forward's output bit
 * for bit, GRU and LSTM, 1 to 3 layers (the third reuses the first layer's
 * output slot), variable lengths; its scratch is smaller than the cache, and
 * it writes nothing beyond it (a guard after it stays untouched). */
Test(rnn, eval_forward_equals_training_forward) {
    int len[5] = {5, 2, 4, 1, 3};
    for (int k = 0; k < 2; k++)
        for (size_t layers = 1; layers <= 3; layers++) {
            rctx c;
            mr_rnn_kind kind = k ? MR_RNN_LSTM : MR_RNN_GRU;
            rbuild(&c, kind, layers, 5, 5, 3, 4, len, 60 + layers + 10 * (size_t)k);
            mr_rnn_forward(&c.r, &c.p, c.x, c.B, c.L, c.len, c.y, c.cache, c.work);
            size_t n = c.B * c.L * c.r.H, es = mr_rnn_eval_size(&c.r, c.B, c.L);
            cr_assert(es < mr_rnn_cache_size(&c.r, c.B, c.L), "eval scratch %zu, cache %zu", es, mr_rnn_cache_size(&c.r, c.B, c.L));
            double *y2 = t_alloc(n), *sc = t_alloc(es + 16), *wk = t_alloc(mr_rnn_forward_work_size(&c.r, c.B, c.L) + 16);
            cr_assert(mr_rnn_forward_work_size(&c.r, c.B, c.L) < mr_rnn_work_size(&c.r, c.B, c.L));
            for (size_t i = 0; i < 16; i++) wk[mr_rnn_forward_work_size(&c.r, c.B, c.L) + i] = -777.0;
            for (size_t i = 0; i < 16; i++) sc[es + i] = 12345.0;
            mr_rnn_forward_eval(&c.r, &c.p, c.x, c.B, c.L, c.len, y2, sc, wk);
            cr_assert(memcmp(c.y, y2, n * sizeof(double)) == 0, "kind %d, %zu layers: eval output differs", k, layers);
            for (size_t i = 0; i < 16; i++) cr_assert(sc[es + i] == 12345.0, "kind %d, %zu layers: wrote past the scratch", k, layers);
            for (size_t i = 0; i < 16; i++)
                cr_assert(wk[mr_rnn_forward_work_size(&c.r, c.B, c.L) + i] == -777.0, "kind %d, %zu layers: wrote past the forward's work", k, layers);
            mr_params_free(&c.p);
        }
}

Test(rnn, all_padding_sample_counts_as_length_one) {
    /* an all-zero sample: the official rule gives len 1, so frame 0 (zeros)
     * is processed and the output there is the cell applied to x = 0 */
    int len[2];
    double x[2 * 3 * 2] = {1, 2, 3, 0, 0, 0, /* sample 0: 2 frames then padding */ 0, 0, 0, 0, 0, 0};
    mr_seq_lengths(x, 2, 3, 2, len);
    cr_assert(len[0] == 2 && len[1] == 1);
    int l2[2] = {2, 1};
    check_rnn_grad(MR_RNN_GRU, 2, 2, 3, 2, 2, l2, 5);
}

Test(rnn, length_rule_counts_nonzero_frames) {
    /* interior zero frame: counted out, so len = 2 though the last real frame is at 2 (O-10) */
    double x[4 * 2] = {1, 0, 0, 0, 0, -2, 0, 0};
    int len[1];
    mr_seq_lengths(x, 1, 4, 2, len);
    cr_assert(len[0] == 2);
    double y[3] = {0, 0, 0}; /* Σ|x| == 0 only: a frame (1, −1) is not padding */
    mr_seq_lengths(y, 1, 3, 1, len);
    cr_assert(len[0] == 1);
}

Test(rnn, padding_invariance_and_zeros_past_length) {
    /* each sample run alone without padding gives the same outputs as in the
     * padded batch, and outputs past a length are exactly zero */
    for (int kind = 0; kind < 2; kind++) {
        int len[3] = {5, 2, 3};
        rctx c;
        rbuild(&c, (mr_rnn_kind)kind, kind == 0 ? 2 : 1, 3, 6, 3, 4, len, 10 + kind);
        rloss(&c);
        for (size_t b = 0; b < 3; b++) {
            rctx s;
            memset(&s, 0, sizeof s);
            s.r = c.r;
            s.p = c.p;
            s.B = 1;
            s.L = (size_t)len[b];
            s.len[0] = len[b];
            s.x = c.x + b * 6 * 3;
            s.y = t_alloc(s.L * 4);
            s.w = t_alloc(s.L * 4);
            s.cache = t_alloc(mr_rnn_cache_size(&s.r, 1, s.L));
            s.work = t_alloc(mr_rnn_work_size(&s.r, 1, s.L));
            rloss(&s);
            for (size_t t = 0; t < 6; t++)
                for (size_t j = 0; j < 4; j++) {
                    double got = c.y[(b * 6 + t) * 4 + j];
                    if (t >= (size_t)len[b]) cr_assert(got == 0.0, "output past the length must be 0");
                    else cr_assert(fabs(got - s.y[t * 4 + j]) <= T_FEW_OPS * fmax(1, fabs(got)), "padding changed sample %zu", b);
                }
        }
        mr_params_free(&c.p);
    }
}

Test(rnn, backward_direction_starts_at_last_valid_frame) {
    /* single layer: the backward direction's output at the last valid frame
     * is one cell step from h = 0 on that frame alone */
    int len[1] = {3};
    rctx c;
    rbuild(&c, MR_RNN_GRU, 1, 1, 5, 2, 3, len, 20);
    rloss(&c);
    const double *st = c.cache; /* out_0 [1, 5, 2H]: backward half at τ = 2 */
    rctx one;
    int l1[1] = {1};
    rbuild(&one, MR_RNN_GRU, 1, 1, 1, 2, 3, l1, 20);
    memcpy(one.p.data, c.p.data, c.p.total * sizeof(double));
    memcpy(one.x, c.x + 2 * 2, 2 * sizeof(double));
    rloss(&one);
    for (int j = 0; j < 3; j++) cr_assert(fabs(st[2 * 6 + 3 + j] - one.cache[3 + j]) < T_FEW_OPS);
    mr_params_free(&c.p);
    mr_params_free(&one.p);
}

Test(rnn, orthogonal_recurrent_init_and_names) {
    rctx c;
    int len[1] = {1};
    rbuild(&c, MR_RNN_GRU, 2, 1, 1, 5, 8, len, 30);
    long k = mr_params_find(&c.p, "rnn_a.weight_hh_l1_reverse");
    cr_assert(k >= 0 && c.p.t[k].shape[0] == 24 && c.p.t[k].shape[1] == 8);
    cr_assert(mr_params_find(&c.p, "rnn_a.weight_ih_l1") >= 0 && c.p.t[mr_params_find(&c.p, "rnn_a.weight_ih_l1")].shape[1] == 16);
    const double *W = c.p.data + c.p.t[k].offset;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double s = 0;
            for (int r = 0; r < 24; r++) s += W[r * 8 + i] * W[r * 8 + j];
            cr_assert(fabs(s - (i == j)) < T_MANY_OPS, "WᵀW = I (columns orthonormal)");
        }
    long b = mr_params_find(&c.p, "rnn_a.bias_ih_l0");
    for (size_t i = 0; i < c.p.t[b].size; i++) cr_assert(fabs(c.p.data[c.p.t[b].offset + i]) <= 1 / sqrt(8.0));
    mr_params_free(&c.p);
    /* spec §1.9: GRU audio (d_a = 5) + visual (d_v = 20), H = 128, 2 layers: 400,128 + 411,648 */
    mr_params p;
    mr_params_init(&p);
    mr_rnn a, v;
    mr_error e;
    mr_rnn_register(&a, &p, "rnn_a", MR_RNN_GRU, 5, 128, 2, &e);
    size_t na = p.total;
    mr_rnn_register(&v, &p, "rnn_v", MR_RNN_GRU, 20, 128, 2, &e);
    cr_assert(na == 400128 && p.total - na == 411648, "%zu %zu", na, p.total - na);
    mr_params_free(&p);
}

/* ------------------------------------------------------------------ conv */

typedef struct {
    size_t B, L, din, D;
    double *x, *w, *b, *y, *g;
} cvctx;

static double cvloss(void *c_) {
    cvctx *c = c_;
    mr_conv1d_forward(c->y, c->x, c->w, c->b, c->B, c->L, c->din, c->D);
    double s = 0;
    for (size_t i = 0; i < c->B * c->L * c->D; i++) s += c->y[i] * c->g[i];
    return s;
}

Test(conv1d, values_and_gradient) {
    gsl_rng *r = t_rng(40);
    cvctx c = {2, 4, 3, 5, t_alloc(24), t_alloc(45), t_alloc(5), t_alloc(40), t_alloc(40)};
    t_fill_uniform(c.x, 24, -1, 1, r);
    t_fill_uniform(c.w, 45, -1, 1, r);
    t_fill_uniform(c.b, 5, -1, 1, r);
    t_fill_uniform(c.g, 40, -1, 1, r);
    cvloss(&c);
    /* y[1, 0, 2] = b + Σ_i W[2,i,1] x[1,0,i] + W[2,i,2] x[1,1,i] (zero padding before τ = 0) */
    double want = c.b[2];
    for (int i = 0; i < 3; i++) want += c.w[(2 * 3 + i) * 3 + 1] * c.x[(4 + 0) * 3 + i] + c.w[(2 * 3 + i) * 3 + 2] * c.x[(4 + 1) * 3 + i];
    cr_assert(fabs(c.y[(4 + 0) * 5 + 2] - want) < MR_TOL_CLOSED);
    double *dx = t_alloc(24), *dw = t_alloc(45), *db = t_alloc(5);
    mr_conv1d_backward(dx, dw, db, c.g, c.x, c.w, 2, 4, 3, 5);
    mr_gc_var v[3] = {{"x", c.x, dx, 24}, {"w", c.w, dw, 45}, {"b", c.b, db, 5}};
    cr_assert(mr_gradcheck(cvloss, &c, v, 3, 0, NULL) == 0);
    gsl_rng_free(r);
}

/* ------------------------------------------------ vector math (vmath.h) */

#include <stdint.h>

#include "ref/nn/vmath.h"

/* distance in units in the last place: the number of doubles between a and b */
static uint64_t ulps(double a, double b) {
    int64_t ia, ib;
    memcpy(&ia, &a, sizeof a);
    memcpy(&ib, &b, sizeof b);
    if (ia < 0) ia = INT64_MIN - ia; /* sign-magnitude → monotone two's complement */
    if (ib < 0) ib = INT64_MIN - ib;
    return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

/* arguments: a dense grid over [−40, 40] (both branches of σ, the whole
 * range where tanh and σ are not yet ±1/0/1 to the last bit) and the edges:
 * signed zeros, tiny and subnormal values, exp's overflow/underflow limits */
static size_t vm_args(double *x) {
    size_t n = 0;
    for (int i = -40000; i <= 40000; i++) x[n++] = i * 1e-3 + 1e-7 * (i % 7);
    const double edge[] = {0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324, 1e-17, -1e-17, 700.0, -700.0,
                           709.7, -708.0, -745.0, 800.0, -800.0, 1e300, -1e300};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) x[n++] = edge[i];
    return n;
}

Test(vmath, libm_path_is_the_scalar_expressions) {
    /* with SLEEF off (always, in BLAS=none) every element is exactly the
     * scalar libm expression the recurrences used before the array form */
    int was = mr_vmath_sleef(0);
    t_traps_off(); /* the edge arguments overflow exp on purpose; NaN compares raise INVALID */
    static double x[80100], y[80100];
    size_t n = vm_args(x);
    mr_vexp(y, x, n);
    for (size_t i = 0; i < n; i++) cr_assert(ulps(y[i], exp(x[i])) == 0 && signbit(y[i]) == signbit(exp(x[i])));
    mr_vtanh(y, x, n);
    for (size_t i = 0; i < n; i++) cr_assert(ulps(y[i], tanh(x[i])) == 0 && signbit(y[i]) == signbit(tanh(x[i])));
    mr_vsigmoid(y, x, n);
    for (size_t i = 0; i < n; i++) {
        double s = x[i] >= 0.0 ? 1.0 / (1.0 + exp(-x[i])) : exp(x[i]) / (1.0 + exp(x[i]));
        cr_assert(ulps(y[i], s) == 0, "sigmoid(%a) = %a, scalar %a", x[i], y[i], s);
    }
    mr_vmath_sleef(was);
    t_traps_on();
#ifdef MR_REF
    cr_assert(mr_vmath_sleef(1) == 0, "the BLAS=none build must never use SLEEF");
#endif
}

/* Bounds, SLEEF against glibc, elementwise. SLEEF's u10 functions are within
 * 1.0 ulp of the exact value (SLEEF documentation); glibc's double exp is
 * within 1 ulp and tanh within 3 ulp on the targets glibc lists in its
 * libm-test-ulps (tanh: 2 on x86_64, 3 on others). Two results within a and b
 * ulp of the same exact value are within a + b ulp of each other: exp 2,
 * tanh 4. σ = 1/(1 + e) or e/(1 + e) from e = exp(−|x|) computed by the same
 * two roundings on both sides: a relative error η in e changes σ by at most
 * (1 − σ)·η ≤ η (and e/(1+e) by at most η), i.e. ≤ 2 ulp, and each of the two
 * correctly rounded operations on inputs that differ can round to neighbours
 * 1 ulp apart: 4 ulp. Overflow semantics: σ ∈ [0, 1] and finite for every
 * finite x, NaN → NaN. */
Test(vmath, sleef_within_derived_ulp_bound_of_libm) {
    int was = mr_vmath_sleef(-1);
    if (!mr_vmath_sleef(1)) {
        mr_vmath_sleef(was);
        cr_skip_test("SLEEF path not in this build (BLAS=none) or no AVX2+FMA");
    }
    static double x[80100], y[80100];
    size_t n = vm_args(x);
    t_traps_off(); /* as above */
    const uint64_t bexp = 2, btanh = 4, bsig = 4;
    mr_vexp(y, x, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(ulps(y[i], exp(x[i])) <= bexp, "exp(%a): SLEEF %a, libm %a", x[i], y[i], exp(x[i]));
    mr_vtanh(y, x, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(ulps(y[i], tanh(x[i])) <= btanh, "tanh(%a): SLEEF %a, libm %a", x[i], y[i], tanh(x[i]));
    mr_vsigmoid(y, x, n);
    for (size_t i = 0; i < n; i++) {
        double s = x[i] >= 0.0 ? 1.0 / (1.0 + exp(-x[i])) : exp(x[i]) / (1.0 + exp(x[i]));
        cr_assert(ulps(y[i], s) <= bsig, "sigmoid(%a): SLEEF %a, libm %a", x[i], y[i], s);
        cr_assert(isfinite(y[i]) && y[i] >= 0.0 && y[i] <= 1.0);
    }
    double nan_in[5] = {NAN, 1.0, -1.0, 2.0, NAN}, out[5]; /* odd length: the padded tail too */
    mr_vsigmoid(out, nan_in, 5);
    cr_assert(isnan(out[0]) && isnan(out[4]) && out[1] > 0.5 && out[2] < 0.5);
    mr_vtanh(out, nan_in, 5);
    cr_assert(isnan(out[0]) && isnan(out[4]) && fabs(out[1] - tanh(1.0)) < T_FEW_OPS);
    t_traps_on();
    /* no floating-point exception for any non-NaN argument of the gates
     * (under the runner's traps: a flag would be SIGFPE) */
    double big[4] = {1e300, -1e300, 710.0, -800.0};
    mr_vtanh(out, big, 4);
    mr_vsigmoid(out, big, 4);
    cr_assert(out[0] == 1.0 && out[1] == 0.0 && out[2] == 1.0 && out[3] == 0.0);
    mr_vmath_sleef(was);
}

/* max over rows of Σ_j |W[i, j]| for rows r0 .. r0+rows−1 of a [· × cols] matrix */
static double inf_norm(const double *W, size_t r0, size_t rows, size_t cols) {
    double m = 0;
    for (size_t i = r0; i < r0 + rows; i++) {
        double s = 0;
        for (size_t j = 0; j < cols; j++) s += fabs(W[i * cols + j]);
        m = fmax(m, s);
    }
    return m;
}

/* One layer, outputs with SLEEF's gates against libm's (same BLAS), within a
 * bound from a forward error recursion. Every nonlinearity value v (|v| ≤ 1)
 * differs by at most ε = 4 ulp(1) = 2^−50 (the elementwise bounds above).
 * With a the largest ∞-norm of the recurrent gate blocks W_h·, M = max|W_hn h + b_hn|
 * (GRU) or C = max|c| (LSTM), σ' ≤ 1/4 and tanh' ≤ 1, the state difference
 * Δ_t (max over h, c) obeys Δ_t ≤ ρ·Δ_{t−1} + κ:
 *   GRU  h' = (1−z)n + z h: |h−n| ≤ 2, Δr·M enters n's pre-activation:
 *        ρ = 1 + a(1/2 + M/4 + 1), κ = (3 + M)ε + 2ε(1 + M)  (the second term:
 *        the ~8 roundings of the cell on inputs that differ, 2^−52(1+M) each)
 *   LSTM c' = f c + i g, h' = o tanh c':
 *        ρ = 1 + a(1 + (C + 2)/4), κ = (C + 4)ε + ε(C + 1)
 * so Δ_T ≤ κ(ρ^T − 1)/(ρ − 1), and y = h_fwd + h_bwd differs by ≤ 2Δ_T + 2^−51. */
static void check_fast_gates(mr_rnn_kind kind, unsigned long seed) {
    int len[4] = {12, 5, 1, 9};
    size_t B = 4, L = 12, din = 3, H = 8, G = kind == MR_RNN_GRU ? 3 : 4;
    rctx c;
    rbuild(&c, kind, 1, B, L, din, H, len, seed);
    int was = mr_vmath_sleef(-1);
    if (!mr_vmath_sleef(1)) {
        mr_vmath_sleef(was);
        mr_params_free(&c.p);
        cr_skip_test("SLEEF path not in this build (BLAS=none) or no AVX2+FMA");
    }
    double *yf = t_alloc(B * L * H);
    rloss(&c);
    memcpy(yf, c.y, B * L * H * sizeof *yf);
    mr_vmath_sleef(0);
    rloss(&c);
    mr_vmath_sleef(was);
    double a = 0, big = 0;
    for (int d = 0; d < 2; d++) {
        const double *W = c.p.data + c.p.t[c.r.w_hh[0][d]].offset;
        for (size_t g = 0; g < G; g++) a = fmax(a, inf_norm(W, g * H, H, H));
    }
    /* M (GRU: st slot 3) or C (LSTM: slot 4) from the reference run's cache */
    size_t S = kind == MR_RNN_GRU ? 4 : 6, slot = kind == MR_RNN_GRU ? 3 : 4;
    const double *st = c.cache + B * L * 2 * H;
    for (size_t k = 0; k < 2 * B * L; k++)
        for (size_t j = 0; j < H; j++) big = fmax(big, fabs(st[k * S * H + slot * H + j]));
    double eps = ldexp(1.0, -50), rho, kappa;
    if (kind == MR_RNN_GRU) rho = 1 + a * (1.5 + big / 4), kappa = (3 + big) * eps + 2 * eps * (1 + big);
    else rho = 1 + a * (1 + (big + 2) / 4), kappa = (big + 4) * eps + eps * (big + 1);
    double bound = 2 * kappa * (pow(rho, (double)L) - 1) / (rho - 1) + ldexp(1.0, -51);
    double diff = t_max_abs_diff(yf, c.y, B * L * H);
    cr_assert(diff <= bound, "%s: SLEEF vs libm outputs differ by %g > bound %g (a %g, M/C %g)",
              kind == MR_RNN_GRU ? "GRU" : "LSTM", diff, bound, a, big);
    mr_params_free(&c.p);
}

Test(vmath, gru_sleef_gates_within_forward_error_bound) { check_fast_gates(MR_RNN_GRU, 50); }
Test(vmath, lstm_sleef_gates_within_forward_error_bound) { check_fast_gates(MR_RNN_LSTM, 51); }
