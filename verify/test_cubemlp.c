/* test_cubemlp.c — CubeMLP: configuration strings, parameter names and
 * shapes against the official state_dict listings, finite-difference
 * gradients of the encoder (post-LN and pre-LN, with and without residual
 * projections and biases, several activations, fixed dropout masks), the
 * composition over modality then time, and the classifier head rule. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/model/cubemlp.h"
#include "ref/core/gradcheck.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

Test(cubemlp, parse_configuration_strings) {
    size_t d[8][3], n;
    mr_error e;
    cr_assert(mr_parse_dims3("50-3-128=10-3-128", d, 8, &n, "--d_hiddens", &e) == MR_OK);
    cr_assert(n == 2 && d[0][0] == 50 && d[0][1] == 3 && d[0][2] == 128 && d[1][0] == 10);
    const char *bad[] = {"", "50-3", "50-3-128=", "50-3-x", "0-3-128", "50-3-128-4", "-5-3-128"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(mr_parse_dims3(bad[i], d, 8, &n, "--d_hiddens", &e) == MR_EINVAL && strstr(e.msg, "--d_hiddens"), "'%s' accepted", bad[i]);
    double v[4];
    cr_assert(mr_parse_dashed("0.1-0.2-0.3", v, 3, "--dropout_mlp", &e) == MR_OK && v[2] == 0.3);
    cr_assert(mr_parse_dashed("0.1-0.2", v, 3, "--dropout_mlp", &e) == MR_EINVAL);
    cr_assert(mr_parse_dashed("0.1-0.2-0.3-0.4", v, 3, "--dropout_mlp", &e) == MR_EINVAL);
    int f[8];
    cr_assert(mr_parse_flags01("1-0-1", f, 8, &n, "--res_project", &e) == MR_OK && n == 3 && f[0] == 1 && f[1] == 0);
    cr_assert(mr_parse_flags01("1-2", f, 8, &n, "--res_project", &e) == MR_EINVAL);
}

/* registered names and shapes equal the official listing's mlp_encoder lines */
static void compare_with_tsv(const char *tsv, const char *hid, const char *res, int bias) {
    char path[1024];
    t_state_dict_path(path, sizeof path, tsv);
    FILE *fp = fopen(path, "r");
    cr_assert(fp != NULL, T_STATE_DICT_MISSING, path);
    mr_params p;
    mr_params_init(&p);
    mr_cubemlp m;
    size_t hd[8][3], nb;
    int rs[8];
    size_t nr;
    mr_error e;
    cr_assert(mr_parse_dims3(hid, hd, 8, &nb, "d", &e) == MR_OK);
    cr_assert(mr_parse_flags01(res, rs, 8, &nr, "r", &e) == MR_OK && nr == nb);
    size_t in0[3] = {100, 3, 128};
    double drop[3] = {0, 0, 0};
    cr_assert(mr_cubemlp_register(&m, &p, "mlp_encoder", in0, hd, hd, nb, rs, bias, 0, MR_ACT_GELU, drop, &e) == MR_OK, "%s", e.msg);
    char line[512];
    size_t k = 0;
    while (fgets(line, sizeof line, fp)) {
        if (strncmp(line, "mlp_encoder", 11) != 0) continue;
        line[strcspn(line, "\r\n")] = 0;
        char *tab = strchr(line, '\t');
        *tab = 0;
        cr_assert(k < p.n, "%s: fewer parameters registered than listed", tsv);
        cr_assert(strcmp(p.t[k].name, line) == 0, "%s: #%zu is '%s', listed '%s'", tsv, k, p.t[k].name, line);
        char shape[64];
        if (p.t[k].ndim == 2) snprintf(shape, sizeof shape, "%zux%zu", p.t[k].shape[0], p.t[k].shape[1]);
        else snprintf(shape, sizeof shape, "%zu", p.t[k].shape[0]);
        cr_assert(strcmp(shape, tab + 1) == 0, "%s: %s has %s, listed %s", tsv, line, shape, tab + 1);
        k++;
    }
    fclose(fp);
    cr_assert(k == p.n, "%s: %zu registered, %zu listed", tsv, p.n, k);
    mr_params_free(&p);
}

Test(cubemlp, names_match_official_state_dicts) {
    compare_with_tsv("mosi_dec-gru-separate", "50-3-128=10-3-128", "1-1", 1);
    compare_with_tsv("mosi_dec-nobias-nores-3blocks", "100-3-128=100-3-128=100-3-128", "0-0-0", 0);
}

Test(cubemlp, parameter_count_matches_spec) {
    /* spec §1.9: block 0 62,403 and block 1 50,843 parameters */
    mr_params p;
    mr_params_init(&p);
    mr_cubemlp m;
    size_t hd[2][3] = {{50, 3, 128}, {10, 3, 128}}, in0[3] = {100, 3, 128};
    int rs[2] = {1, 1};
    double drop[3] = {0, 0, 0};
    mr_error e;
    cr_assert(mr_cubemlp_register(&m, &p, "mlp_encoder", in0, hd, hd, 2, rs, 1, 0, MR_ACT_GELU, drop, &e) == MR_OK);
    cr_assert(p.total == 62403 + 50843, "%zu", p.total);
    mr_params_free(&p);
    size_t bad[1][3] = {{50, 3, 128}};
    int nores[1] = {0};
    mr_params_init(&p);
    cr_assert(mr_cubemlp_register(&m, &p, "mlp_encoder", in0, bad, bad, 1, nores, 1, 0, MR_ACT_GELU, drop, &e) == MR_ESHAPE);
    cr_assert(strstr(e.msg, "res_project") != NULL, "%s", e.msg);
    mr_params_free(&p);
}

/* ------------------------------------------------------------- gradients */

typedef struct {
    mr_cubemlp m;
    mr_params p;
    size_t B, nin, nout;
    double *X, *Y, *W, *cache, *work, *masks;
} cctx;

static double closs(void *c_) {
    cctx *c = c_;
    mr_cubemlp_forward(&c->m, &c->p, c->X, c->B, c->Y, c->cache, c->work, c->masks, NULL);
    double s = 0;
    for (size_t i = 0; i < c->nout; i++) s += c->Y[i] * c->W[i];
    return s;
}

static void check_cube(int ln_first, int res, int bias, mr_act act, double pdrop, unsigned long seed) {
    cctx c;
    memset(&c, 0, sizeof c);
    mr_params_init(&c.p);
    size_t in0[3] = {4, 3, 5};
    /* every LayerNorm spans ≥ 3 entries: over 2 entries LN is close to a
     * sign function, whose curvature defeats any finite-difference step */
    size_t hid[2][3] = {{3, 4, 4}, {4, 3, 5}}, out[2][3] = {{3, 3, 4}, {3, 3, 5}};
    if (!res) {
        size_t h2[2][3] = {{3, 2, 6}, {5, 4, 3}}, o2[2][3] = {{4, 3, 5}, {4, 3, 5}};
        memcpy(hid, h2, sizeof hid);
        memcpy(out, o2, sizeof out);
    }
    int rs[2] = {res, res};
    double drop[3] = {pdrop, pdrop, pdrop};
    mr_error e;
    cr_assert(mr_cubemlp_register(&c.m, &c.p, "mlp_encoder", in0, hid, out, 2, rs, bias, ln_first, act, drop, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_params_alloc(&c.p, &e) == MR_OK);
    gsl_rng *r = t_rng(seed);
    mr_cubemlp_init(&c.m, &c.p, r);
    /* perturb LayerNorm affine parameters away from 1/0 so their gradients matter */
    for (size_t i = 0; i < c.p.n; i++)
        if (strstr(c.p.t[i].name, ".ln_")) t_fill_uniform(mr_params_val(&c.p, i), c.p.t[i].size, 0.5, 1.5, r);
    c.B = 2;
    c.nin = c.B * 4 * 3 * 5;
    c.nout = c.B * out[1][0] * out[1][1] * out[1][2];
    c.X = t_alloc(c.nin);
    c.Y = t_alloc(c.nout);
    c.W = t_alloc(c.nout);
    c.cache = t_alloc(mr_cubemlp_cache_size(&c.m, c.B));
    c.work = t_alloc(mr_cubemlp_work_size(&c.m, c.B));
    c.masks = t_alloc(mr_cubemlp_mask_size(&c.m, c.B));
    mr_dropout_mask(c.masks, mr_cubemlp_mask_size(&c.m, c.B), pdrop, r);
    t_fill_uniform(c.X, c.nin, -1, 1, r);
    t_fill_uniform(c.W, c.nout, -1, 1, r);
    double *dX = t_alloc(c.nin);
    mr_params_zero_grad(&c.p);
    closs(&c);
    mr_cubemlp_backward(&c.m, &c.p, c.B, c.W, dX, c.cache, c.work);
    mr_gc_var v[2] = {{"params", c.p.data, c.p.grad, c.p.total}, {"X", c.X, dX, c.nin}};
    mr_gc_result res_;
    int fails = mr_gradcheck(closs, &c, v, 2, 0, &res_);
    cr_assert(fails == 0, "ln_first=%d res=%d bias=%d act=%s p=%g: %d failures (max err %g)", ln_first, res, bias, mr_act_name(act),
              pdrop, fails, res_.max_err);
    gsl_rng_free(r);
    mr_params_free(&c.p);
}

Test(cubemlp, gradient_post_ln_residual_bias_gelu) { check_cube(0, 1, 1, MR_ACT_GELU, 0.0, 1); }
Test(cubemlp, gradient_post_ln_with_dropout_masks) { check_cube(0, 1, 1, MR_ACT_TANH, 0.3, 2); }
Test(cubemlp, gradient_pre_ln_residual) { check_cube(1, 1, 1, MR_ACT_GELU, 0.2, 3); }
Test(cubemlp, gradient_no_residual_no_bias) { check_cube(0, 0, 0, MR_ACT_ELU, 0.0, 4); }
Test(cubemlp, gradient_pre_ln_no_residual) { check_cube(1, 0, 1, MR_ACT_SIGMOID, 0.0, 5); }

Test(cubemlp, identity_mlp_gives_layernormed_residual) {
    /* with zero fc2 weights and biases, post-LN block = LN(P(X)) along each axis;
     * with P = I too (no res_project, in = out): LN_d(LN_k(LN_l(X))) */
    mr_params p;
    mr_params_init(&p);
    mr_cubemlp m;
    size_t in0[3] = {4, 3, 2}, hd[1][3] = {{4, 3, 2}};
    int rs[1] = {0};
    double drop[3] = {0, 0, 0};
    mr_error e;
    cr_assert(mr_cubemlp_register(&m, &p, "mlp_encoder", in0, hd, hd, 1, rs, 1, 0, MR_ACT_RELU, drop, &e) == MR_OK);
    cr_assert(mr_params_alloc(&p, &e) == MR_OK);
    gsl_rng *r = t_rng(7);
    mr_cubemlp_init(&m, &p, r);
    for (int a = 0; a < 3; a++) {
        memset(mr_params_val(&p, m.w2[0][a]), 0, p.t[m.w2[0][a]].size * sizeof(double));
        memset(mr_params_val(&p, m.b2[0][a]), 0, p.t[m.b2[0][a]].size * sizeof(double));
    }
    double X[24], Y[24], cache[4096], work[4096];
    cr_assert(mr_cubemlp_cache_size(&m, 1) <= 4096 && mr_cubemlp_work_size(&m, 1) <= 4096);
    t_fill_uniform(X, 24, -1, 1, r);
    mr_cubemlp_forward(&m, &p, X, 1, Y, cache, work, NULL, NULL);
    /* manual: LN along l (4), then along k (3), then along d (2) */
    double T[24];
    memcpy(T, X, sizeof T);
    size_t dims[3] = {4, 3, 2};
    for (int a = 0; a < 3; a++)
        for (size_t i0 = 0; i0 < 4; i0++)
            for (size_t i1 = 0; i1 < 3; i1++)
                for (size_t i2 = 0; i2 < 2; i2++) {
                    size_t id[3] = {i0, i1, i2};
                    if (id[a] != 0) continue;
                    double mu = 0, var = 0, v[4];
                    for (size_t z = 0; z < dims[a]; z++) {
                        id[a] = z;
                        v[z] = T[(id[0] * 3 + id[1]) * 2 + id[2]];
                        mu += v[z];
                    }
                    mu /= dims[a];
                    for (size_t z = 0; z < dims[a]; z++) var += (v[z] - mu) * (v[z] - mu);
                    var /= dims[a];
                    for (size_t z = 0; z < dims[a]; z++) {
                        id[a] = z;
                        T[(id[0] * 3 + id[1]) * 2 + id[2]] = (v[z] - mu) / sqrt(var + 1e-6);
                    }
                }
    for (int i = 0; i < 24; i++) cr_assert(fabs(Y[i] - T[i]) < T_MANY_OPS, "%d: %.17g vs %.17g", i, Y[i], T[i]);
    gsl_rng_free(r);
    mr_params_free(&p);
}

/* ----------------------------------------------------- compose and head */

typedef struct {
    size_t B, L, K, D;
    mr_compose ck, ct;
    double *X, *F, *W;
    size_t dim;
} cpctx;

static double cploss(void *c_) {
    cpctx *c = c_;
    mr_compose_forward(c->X, c->B, c->L, c->K, c->D, c->ck, c->ct, c->F);
    double s = 0;
    for (size_t i = 0; i < c->B * c->dim; i++) s += c->F[i] * c->W[i];
    return s;
}

Test(compose, every_combination_values_and_gradients) {
    gsl_rng *r = t_rng(8);
    for (int ck = 0; ck < 3; ck++)
        for (int ct = 0; ct < 3; ct++) {
            cpctx c = {2, 3, 3, 4, (mr_compose)ck, (mr_compose)ct, t_alloc(72), t_alloc(72), t_alloc(72), 0};
            c.dim = mr_compose_dim(3, 3, 4, c.ck, c.ct);
            t_fill_uniform(c.X, 72, -1, 1, r);
            t_fill_uniform(c.W, 72, -1, 1, r);
            cploss(&c);
            /* value: feature j of sample 1 for mean/mean is the mean over (t, k) */
            if (ck == MR_COMPOSE_MEAN && ct == MR_COMPOSE_MEAN) {
                double s = 0;
                for (int t = 0; t < 3; t++)
                    for (int k = 0; k < 3; k++) s += c.X[((1 * 3 + t) * 3 + k) * 4 + 2];
                cr_assert(fabs(c.F[4 + 2] - s / 9) < T_FEW_OPS);
            }
            if (ck == MR_COMPOSE_CAT && ct == MR_COMPOSE_SUM) {
                /* [B, K·D]: block k = 1 first after k = 0, summed over t */
                double s = 0;
                for (int t = 0; t < 3; t++) s += c.X[((0 * 3 + t) * 3 + 1) * 4 + 3];
                cr_assert(fabs(c.F[1 * 4 + 3] - s) < T_FEW_OPS);
            }
            double *dX = t_alloc(72);
            mr_compose_backward(c.W, 2, 3, 3, 4, c.ck, c.ct, dX);
            mr_gc_var v = {"X", c.X, dX, 72};
            cr_assert(mr_gradcheck(cploss, &c, &v, 1, 0, NULL) == 0, "compose k=%d t=%d", ck, ct);
        }
    cr_assert(mr_compose_dim(10, 3, 128, MR_COMPOSE_MEAN, MR_COMPOSE_MEAN) == 128);
    cr_assert(mr_compose_dim(10, 3, 32, MR_COMPOSE_CAT, MR_COMPOSE_MEAN) == 96);
    cr_assert(mr_compose_dim(10, 3, 3, MR_COMPOSE_CAT, MR_COMPOSE_CAT) == 90);
    gsl_rng_free(r);
}

typedef struct {
    mr_head h;
    mr_params p;
    size_t B;
    double *F, *out, *W, *cache, *mask;
} hctx;

static double hloss(void *c_) {
    hctx *c = c_;
    mr_head_forward(&c->h, &c->p, c->F, c->B, c->out, c->cache, c->mask, NULL);
    double s = 0;
    for (size_t i = 0; i < c->B * c->h.nc; i++) s += c->out[i] * c->W[i];
    return s;
}

Test(head, shallow_and_deep_rule_and_gradients) {
    for (int deep = 0; deep < 2; deep++) {
        hctx c;
        memset(&c, 0, sizeof c);
        mr_params_init(&c.p);
        size_t dim = deep ? 130 : 128;
        mr_error e;
        cr_assert(mr_head_register(&c.h, &c.p, "classifier", dim, 2, 0.1, &e) == MR_OK);
        cr_assert(c.h.deep == deep, "dim ≤ 128 → a single Linear");
        cr_assert(mr_params_alloc(&c.p, &e) == MR_OK);
        cr_assert((mr_params_find(&c.p, "classifier.3.weight") >= 0) == deep);
        gsl_rng *r = t_rng(9 + deep);
        mr_head_init(&c.h, &c.p, r);
        c.B = 2;
        c.F = t_alloc(2 * dim);
        c.out = t_alloc(4);
        c.W = t_alloc(4);
        c.cache = t_alloc(mr_head_cache_size(&c.h, 2));
        c.mask = t_alloc(2 * 128);
        mr_dropout_mask(c.mask, 256, 0.1, r);
        t_fill_uniform(c.F, 2 * dim, -1, 1, r);
        t_fill_uniform(c.W, 4, -1, 1, r);
        double *dF = t_alloc(2 * dim);
        mr_params_zero_grad(&c.p);
        hloss(&c);
        mr_head_backward(&c.h, &c.p, c.F, 2, c.W, dF, c.cache, t_alloc(mr_head_work_size(&c.h, 2)));
        /* ReLU kinks: the deep head's pre-activations must be away from 0 */
        int kink = 0;
        for (int i = 0; deep && i < 256; i++) kink |= fabs(c.cache[i]) < 1e-2;
        if (kink) fprintf(stderr, "head: a pre-activation lies within 1e-2 of the ReLU kink; checking directionally\n");
        mr_gc_var v[2] = {{"params", c.p.data, c.p.grad, c.p.total}, {"F", c.F, dF, 2 * dim}};
        int fails = kink ? mr_gradcheck_dir(hloss, &c, v, 2, 0, 6, 3, NULL) : mr_gradcheck(hloss, &c, v, 2, 0, NULL);
        cr_assert(fails == 0, "head deep=%d", deep);
        gsl_rng_free(r);
        mr_params_free(&c.p);
    }
}
