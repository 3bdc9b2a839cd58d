/* test_fixtures.c — the encoders and CubeMLP against PyTorch float64
 * (fixtures written by verify/torch_fixtures.py, `make fixtures`).
 * Tolerance: T_TORCH_LAYER (verify/tolerance.h, item 6). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/model/cubemlp.h"
#include "ref/nn/rnn.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static mr_npz open_fx(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "verify/fixtures/%s", name);
    mr_npz z;
    mr_error e;
    if (mr_npz_open(&z, path, &e) != MR_OK) cr_skip_test("%s missing (regenerate with make fixtures): %s", path, e.msg);
    return z;
}

/* every store tensor from param/<name minus strip prefix> */
static void load_params(const mr_npz *z, mr_params *p, const char *strip) {
    for (size_t i = 0; i < p->n; i++) {
        const char *nm = p->t[i].name;
        if (strip && strncmp(nm, strip, strlen(strip)) == 0) nm += strlen(strip);
        char m[256];
        snprintf(m, sizeof m, "param/%s", nm);
        double *v = t_npz_get(z, m, p->t[i].size);
        memcpy(p->data + p->t[i].offset, v, p->t[i].size * sizeof(double));
    }
}

static void compare(const char *what, const double *c, const double *t, size_t n) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(t[i]));
    for (size_t i = 0; i < n; i++) {
        double err = fabs(c[i] - t[i]), bound = T_TORCH_LAYER * fabs(t[i]) + T_TORCH_LAYER * scale;
        worst = fmax(worst, err / (scale > 0 ? scale : 1));
        cr_expect(err <= bound, "%s[%zu]: C %.17g, PyTorch %.17g", what, i, c[i], t[i]);
    }
    cr_log_info("%s: max |C − PyTorch| / max|PyTorch| = %.2e", what, worst);
}

static void compare_grads(const mr_npz *z, const mr_params *p, const char *strip) {
    for (size_t i = 0; i < p->n; i++) {
        const char *nm = p->t[i].name;
        if (strip && strncmp(nm, strip, strlen(strip)) == 0) nm += strlen(strip);
        char m[256];
        snprintf(m, sizeof m, "grad/%s", nm);
        double *t = t_npz_get(z, m, p->t[i].size);
        compare(m, p->grad + p->t[i].offset, t, p->t[i].size);
    }
}

static void rnn_case(const char *file, mr_rnn_kind kind, size_t B, size_t L, size_t din, size_t H, size_t layers) {
    mr_npz z = open_fx(file);
    mr_params p;
    mr_params_init(&p);
    mr_rnn r;
    mr_error e;
    cr_assert(mr_rnn_register(&r, &p, "rnn", kind, din, H, layers, &e) == MR_OK);
    cr_assert(mr_params_alloc(&p, &e) == MR_OK);
    load_params(&z, &p, "rnn.");
    double *x = t_npz_get(&z, "x", B * L * din), *dy = t_npz_get(&z, "dy", B * L * H), *yt = t_npz_get(&z, "y", B * L * H);
    double *lf = t_npz_get(&z, "len", B);
    int len[8], ours[8];
    for (size_t b = 0; b < B; b++) len[b] = (int)lf[b];
    mr_seq_lengths(x, B, L, din, ours);
    for (size_t b = 0; b < B; b++) cr_assert(ours[b] == len[b], "length rule differs from the fixture at %zu", b);
    double *y = t_alloc(B * L * H), *cache = t_alloc(mr_rnn_cache_size(&r, B, L)), *work = t_alloc(mr_rnn_work_size(&r, B, L));
    double *dx = t_alloc(B * L * din);
    mr_rnn_forward(&r, &p, x, B, L, len, y, cache, work);
    compare("y", y, yt, B * L * H);
    mr_rnn_backward(&r, &p, x, B, L, len, dy, dx, cache, work);
    compare("grad/x", dx, t_npz_get(&z, "grad/x", B * L * din), B * L * din);
    compare_grads(&z, &p, "rnn.");
    mr_params_free(&p);
    mr_npz_close(&z);
}

Test(fixtures, gru_against_pytorch) { rnn_case("torch_gru.npz", MR_RNN_GRU, 3, 6, 4, 5, 2); }
Test(fixtures, gru_batch_one_against_pytorch) { rnn_case("torch_gru_b1.npz", MR_RNN_GRU, 1, 5, 3, 4, 2); }
Test(fixtures, lstm_against_pytorch) { rnn_case("torch_lstm.npz", MR_RNN_LSTM, 3, 6, 4, 5, 1); }

Test(fixtures, conv1d_against_pytorch) {
    mr_npz z = open_fx("torch_conv1d.npz");
    size_t B = 2, L = 5, din = 3, D = 4;
    double *x = t_npz_get(&z, "x", B * L * din), *w = t_npz_get(&z, "param/weight", D * din * 3), *b = t_npz_get(&z, "param/bias", D);
    double *y = t_alloc(B * L * D), *dx = t_alloc(B * L * din), *dw = t_alloc(D * din * 3), *db = t_alloc(D);
    mr_conv1d_forward(y, x, w, b, B, L, din, D);
    compare("y", y, t_npz_get(&z, "y", B * L * D), B * L * D);
    mr_conv1d_backward(dx, dw, db, t_npz_get(&z, "dy", B * L * D), x, w, B, L, din, D);
    compare("grad/x", dx, t_npz_get(&z, "grad/x", B * L * din), B * L * din);
    compare("grad/weight", dw, t_npz_get(&z, "grad/weight", D * din * 3), D * din * 3);
    compare("grad/bias", db, t_npz_get(&z, "grad/bias", D), D);
    mr_npz_close(&z);
}

Test(fixtures, layernorm_relu_linear_against_pytorch) {
    mr_npz z = open_fx("torch_ln_linear.npz");
    size_t N = 4, C = 6, O = 3;
    double *x = t_npz_get(&z, "x", N * C), *g = t_npz_get(&z, "param/ln.weight", C), *bb = t_npz_get(&z, "param/ln.bias", C);
    double *w = t_npz_get(&z, "param/fc.weight", O * C), *fb = t_npz_get(&z, "param/fc.bias", O), *dy = t_npz_get(&z, "dy", N * O);
    double *h = t_alloc(N * C), *a = t_alloc(N * C), *y = t_alloc(N * O), mean[4], rstd[4];
    mr_layernorm_forward(h, mean, rstd, x, g, bb, N, C, 1e-6);
    mr_act_forward(MR_ACT_RELU, a, h, N * C);
    mr_linear_forward(y, a, w, fb, N, C, O);
    compare("y", y, t_npz_get(&z, "y", N * O), N * O);
    double *da = t_alloc(N * C), *dh = t_alloc(N * C), *dx = t_alloc(N * C), *dw = t_alloc(O * C), *dfb = t_alloc(O);
    double *dg = t_alloc(C), *dbb = t_alloc(C);
    mr_linear_backward(da, dw, dfb, dy, a, w, N, C, O);
    mr_act_backward(MR_ACT_RELU, dh, da, h, a, N * C);
    mr_layernorm_backward(dx, dg, dbb, dh, x, g, mean, rstd, N, C);
    compare("grad/x", dx, t_npz_get(&z, "grad/x", N * C), N * C);
    compare("grad/ln.weight", dg, t_npz_get(&z, "grad/ln.weight", C), C);
    compare("grad/ln.bias", dbb, t_npz_get(&z, "grad/ln.bias", C), C);
    compare("grad/fc.weight", dw, t_npz_get(&z, "grad/fc.weight", O * C), O * C);
    compare("grad/fc.bias", dfb, t_npz_get(&z, "grad/fc.bias", O), O);
    mr_npz_close(&z);
}

static void cube_case(const char *file, size_t in0[3], size_t hid[][3], size_t out[][3], size_t nb, int *res, int bias,
                      int ln_first, mr_act act, mr_compose ck, mr_compose ct) {
    mr_npz z = open_fx(file);
    size_t B = 2;
    mr_params p;
    mr_params_init(&p);
    mr_cubemlp m;
    mr_head h;
    double drop[3] = {0, 0, 0};
    mr_error e;
    cr_assert(mr_cubemlp_register(&m, &p, "mlp_encoder", in0, hid, out, nb, res, bias, ln_first, act, drop, &e) == MR_OK, "%s", e.msg);
    size_t Lo = out[nb - 1][0], Ko = out[nb - 1][1], Do = out[nb - 1][2];
    size_t dim = mr_compose_dim(Lo, Ko, Do, ck, ct);
    cr_assert(mr_head_register(&h, &p, "classifier", dim, 1, 0.2, &e) == MR_OK);
    cr_assert(mr_params_alloc(&p, &e) == MR_OK);
    load_params(&z, &p, NULL);
    size_t nin = B * in0[0] * in0[1] * in0[2], nenc = B * Lo * Ko * Do;
    double *x = t_npz_get(&z, "x", nin), *masks = t_npz_get(&z, "masks", mr_cubemlp_mask_size(&m, B));
    double *hmask = t_npz_get(&z, "head_mask", B * MR_HEAD_WIDTH);
    double *enc = t_alloc(nenc), *F = t_alloc(B * dim), *y = t_alloc(B);
    double *cache = t_alloc(mr_cubemlp_cache_size(&m, B)), *work = t_alloc(mr_cubemlp_work_size(&m, B));
    double *hc = t_alloc(mr_head_cache_size(&h, B)), *hw = t_alloc(mr_head_work_size(&h, B));
    mr_cubemlp_forward(&m, &p, x, B, enc, cache, work, masks, NULL);
    compare("enc", enc, t_npz_get(&z, "enc", nenc), nenc);
    mr_compose_forward(enc, B, Lo, Ko, Do, ck, ct, F);
    compare("f", F, t_npz_get(&z, "f", B * dim), B * dim);
    mr_head_forward(&h, &p, F, B, y, hc, hmask, NULL);
    compare("y", y, t_npz_get(&z, "y", B), B);
    double *dF = t_alloc(B * dim), *denc = t_alloc(nenc), *dx = t_alloc(nin);
    mr_head_backward(&h, &p, F, B, t_npz_get(&z, "dy", B), dF, hc, hw);
    mr_compose_backward(dF, B, Lo, Ko, Do, ck, ct, denc);
    mr_cubemlp_backward(&m, &p, B, denc, dx, cache, work);
    compare("grad/x", dx, t_npz_get(&z, "grad/x", nin), nin);
    compare_grads(&z, &p, NULL);
    mr_params_free(&p);
    mr_npz_close(&z);
}

Test(fixtures, cubemlp_post_ln_against_pytorch) {
    size_t in0[3] = {6, 3, 8}, hid[2][3] = {{4, 3, 8}, {2, 3, 8}}, out[2][3] = {{4, 3, 8}, {2, 3, 8}};
    int res[2] = {1, 1};
    cube_case("torch_cubemlp_post.npz", in0, hid, out, 2, res, 1, 0, MR_ACT_GELU, MR_COMPOSE_MEAN, MR_COMPOSE_MEAN);
}

Test(fixtures, cubemlp_pre_ln_deep_head_against_pytorch) {
    size_t in0[3] = {5, 3, 10}, hid[2][3] = {{7, 4, 6}, {3, 5, 9}}, out[2][3] = {{5, 3, 10}, {5, 3, 10}};
    int res[2] = {1, 0};
    cube_case("torch_cubemlp_pre.npz", in0, hid, out, 2, res, 0, 1, MR_ACT_RELU, MR_COMPOSE_CAT, MR_COMPOSE_CAT);
}
