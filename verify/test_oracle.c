/* test_oracle.c — `mimrl oracle` (ref/cli/cli_model.c) end to end: a checkpoint written with its
 * config_json (official flag names), a batch file, and the output file
 * compared with the same step computed in-process (identical code, so the
 * numbers must agree bit for bit: the test checks the file contract —
 * names, shapes, the two stages kept apart); plus clear errors for bad files. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/train/config.h"
#include "ref/model/model.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static const char *CFG =
    "{\"d_t\": 6, \"d_a\": 3, \"d_v\": 4, \"d_common\": 8, \"time_len\": 5, \"encoders\": \"gru\", \"activate\": \"gelu\", "
    "\"d_hiddens\": \"3-3-8=3-3-8\", \"d_outs\": \"3-3-8=3-3-8\", \"res_project\": \"1-1\", \"bias\": true, "
    "\"dropout\": \"0.1-0.1-0.1-0.1\", \"dropout_mlp\": \"0.0-0.0-0.0\", \"bound_type\": \"infonce\", "
    "\"loss_mi_coefficient1\": \"1-1-1-1-1-1-1-1-1-1-1\", \"loss_mi_coefficient2\": \"0.01-0.01-0.01-0.01-0.01-0.01-0.01-0.01\", "
    "\"k_neighbor\": 2, \"cmi_last_acticate\": \"sigmoid\", \"loss\": \"MAE\", \"batch_size\": 6, \"parallel\": true}";



typedef struct {
    size_t B, Lt, La, Lv, N;
    double *text, *audio, *vision, *label, *bl, *bt, *ba, *bv;
    int64_t anchors[6][3];
} batch;

static void make_batch(batch *b, gsl_rng *g) {
    b->B = 6, b->Lt = 4, b->La = 5, b->Lv = 7, b->N = 20;
    b->text = t_alloc(6 * 4 * 6), b->audio = t_alloc(6 * 5 * 3), b->vision = t_alloc(6 * 7 * 4), b->label = t_alloc(6);
    b->bl = t_alloc(20), b->bt = t_alloc(160), b->ba = t_alloc(160), b->bv = t_alloc(160);
    t_fill_uniform(b->text, 144, -1, 1, g);
    t_fill_uniform(b->label, 6, -3, 3, g);
    for (int s = 0; s < 6; s++) {
        for (int t = 0; t < 1 + s % 5; t++) t_fill_uniform(b->audio + (s * 5 + t) * 3, 3, -1, 1, g);
        for (int t = 0; t < 1 + (2 * s) % 7; t++) t_fill_uniform(b->vision + (s * 7 + t) * 4, 4, -1, 1, g);
    }
    t_fill_uniform(b->bl, 20, -3, 3, g);
    t_fill_uniform(b->bt, 160, -1, 1, g);
    t_fill_uniform(b->ba, 160, -1, 1, g);
    t_fill_uniform(b->bv, 160, -1, 1, g);
    for (int j = 0; j < 6; j++)
        for (int a = 0; a < 3; a++) b->anchors[j][a] = (7 * j + 3 * a) % 20;
}

static void write_batch(const char *path, const batch *b, size_t da) {
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, path, 0, &e) == MR_OK);
    uint64_t st[3] = {6, 4, 6}, sa[3] = {6, 5, da}, sv[3] = {6, 7, 4}, sl[1] = {6};
    mr_npz_add(&w, "text", MR_DT_F8, 3, st, b->text, &e);
    mr_npz_add(&w, "audio", MR_DT_F8, 3, sa, b->audio, &e);
    mr_npz_add(&w, "vision", MR_DT_F8, 3, sv, b->vision, &e);
    mr_npz_add(&w, "label", MR_DT_F8, 1, sl, b->label, &e);
    t_npz_add_banks(&w, 20, 8, b->bl, b->bt, b->ba, b->bv, &b->anchors[0][0], 3);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
}

Test(oracle, file_contract_matches_in_process_step) {
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    mr_error e;
    cr_assert(mr_cfg_from_json(&mc, &tc, CFG, "test config", NULL, &e) == MR_OK, "%s", e.msg);
    mr_model m;
    cr_assert(mr_model_build(&m, &mc, &e) == MR_OK, "%s", e.msg);
    mr_model_init(&m, 3);
    char ck[512], bp[512], op[512];
    t_path(ck, sizeof ck, "ckpt.npz");
    t_path(bp, sizeof bp, "batch.npz");
    t_path(op, sizeof op, "out.npz");
    cr_assert(mr_params_save(&m.p, ck, CFG, 0, &e) == MR_OK);
    gsl_rng *g = t_rng(4);
    batch b;
    make_batch(&b, g);
    write_batch(bp, &b, 3);
    char args[2048], out[8192];
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", ck, bp, op);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    /* the same step in-process */
    mr_inputs in = {6, 4, 5, 7, b.text, b.audio, b.vision, b.label, NULL, NULL, NULL};
    mr_banks bk = {20, b.bl, b.bt, b.ba, b.bv};
    mr_rand r;
    memset(&r, 0, sizeof r);
    for (int j = 0; j < 6; j++) r.given[j] = b.anchors[j];
    mr_step st;
    mr_workspace *f;
    mr_step_dims dims = {6, 4, 5, 7, 20};
    cr_assert(mr_workspace_create(&m, &dims, &f, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_model_forward(&m, &in, &bk, &r, &st, f, &e) == MR_OK, "%s", e.msg);
    mr_npz z;
    cr_assert(mr_npz_open(&z, op, &e) == MR_OK);
    double v[64];
    t_npz_copy(&z, "output", v, 6);
    cr_assert(memcmp(v, st.output, 6 * sizeof(double)) == 0);
    t_npz_copy(&z, "mi", v, MR_NMI);
    cr_assert(memcmp(v, st.mi, MR_NMI * sizeof(double)) == 0);
    t_npz_copy(&z, "mi_derived", v, MR_NDERIVED);
    cr_assert(memcmp(v, st.derived, MR_NDERIVED * sizeof(double)) == 0);
    t_npz_copy(&z, "loss_stage2", v, 1);
    cr_assert(v[0] == st.loss_stage2);
    t_npz_copy(&z, "loss_stage1", v, 1);
    cr_assert(v[0] == st.loss_stage1);
    double *F = t_alloc(48);
    t_npz_copy(&z, "F_F", F, 48);
    cr_assert(memcmp(F, st.F_F, 48 * sizeof(double)) == 0);
    t_npz_copy(&z, "neighbors_ta_c", v, 6);
    for (int q = 0; q < 6; q++) cr_assert(v[q] == (double)st.neighbors[1][q]);
    /* gradients of each stage, under every parameter's state_dict name */
    double *buf = t_alloc(m.p.total);
    for (int stage = 1; stage <= 2; stage++) {
        mr_params_zero_grad(&m.p);
        cr_assert(mr_model_backward(&m, f, stage, 1, &e) == MR_OK, "%s", e.msg);
        for (size_t i = 0; i < m.p.n; i++) {
            char name[256];
            snprintf(name, sizeof name, "grad_stage%d/%s", stage, m.p.t[i].name);
            t_npz_copy(&z, name, buf, m.p.t[i].size);
            cr_assert(memcmp(buf, mr_params_grad(&m.p, i), m.p.t[i].size * sizeof(double)) == 0, "%s", name);
        }
    }
    /* the stages really differ: the head gets no stage-1 gradient, the critics do */
    t_npz_copy(&z, "grad_stage1/classifier.0.weight", buf, 8);
    for (int i = 0; i < 8; i++) cr_assert(buf[i] == 0.0);
    mr_workspace_free(f);
    mr_npz_close(&z);
    /* bad inputs: wrong audio width; a checkpoint missing a parameter */
    char bad[512];
    t_path(bad, sizeof bad, "bad_batch.npz");
    write_batch(bad, &b, 3);
    batch b2 = b;
    b2.audio = t_alloc(6 * 5 * 4);
    write_batch(bad, &b2, 4);
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", ck, bad, op);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "'audio'") && strstr(out, "bad_batch.npz"), "%s", out);
    mr_params q;
    mr_params_init(&q);
    size_t s1[1] = {1};
    mr_params_add(&q, "W_t.weight", 1, s1, &e);
    mr_params_alloc(&q, &e);
    char ck2[512];
    t_path(ck2, sizeof ck2, "ckpt_bad.npz");
    cr_assert(mr_params_save(&q, ck2, CFG, 0, &e) == MR_OK);
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", ck2, bp, op);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "missing 'rnn_a.weight_ih_l0'") && strstr(out, "'W_t.weight' has shape"), "%s", out);
    mr_params_free(&q);
    gsl_rng_free(g);
    mr_model_free(&m);
}

Test(oracle, config_json_errors_name_the_key) {
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    mr_error e;
    cr_assert(mr_cfg_from_json(&mc, &tc, "{\"encoders\": \"transformer\"}", "x.npz: config_json", NULL, &e) == MR_EINVAL);
    cr_assert(strstr(e.msg, "'encoders'") && strstr(e.msg, "transformer"), "%s", e.msg);
    cr_assert(mr_cfg_from_json(&mc, &tc, "{\"frobnicate\": 1}", "x", NULL, &e) == MR_EINVAL && strstr(e.msg, "frobnicate"), "%s", e.msg);
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    cr_assert(mr_cfg_from_json(&mc, &tc, "{\"d_hiddens\": \"50-3-128\"}", "x", NULL, &e) == MR_EINVAL && strstr(e.msg, "--d_outs"), "%s", e.msg);
    /* the official defaults round-trip through JSON */
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    cr_assert(mr_cfg_check(&mc, &tc, &e) == MR_OK);
    char *j = mr_cfg_to_json(&mc, &tc);
    mr_model_cfg m2;
    mr_train_cfg t2;
    mr_model_cfg_default(&m2);
    mr_train_cfg_default(&t2);
    cr_assert(mr_cfg_from_json(&m2, &t2, j, "round trip", NULL, &e) == MR_OK, "%s", e.msg);
    char *j2 = mr_cfg_to_json(&m2, &t2);
    cr_assert(strcmp(j, j2) == 0, "%s\n%s", j, j2);
    free(j);
    free(j2);
}

/* The reference build (BLAS=none) and the OpenBLAS build give the same
 * oracle output up to summation order. `make test` runs the BLAS=none suite
 * second and points MIMRL_BIN_OTHER at the OpenBLAS binary. Bound: each dot
 * product differs by ≤ K·ε relative (K ≤ 768 here), and the backward chains
 * ~30 such layers; observed differences are ~1e-13 of each tensor's scale, and
 * 1e-9 of the scale leaves 10⁴ for amplification by the chain's conditioning.
 * Tensors that are exactly zero in exact arithmetic (e.g. the last bias of an
 * InfoNCE critic's x-embedding: its gradient sums a softmax minus its mean)
 * come out as ±1e-19-sized rounding: an absolute floor of 1e-12 of the
 * largest value in the file covers them. */
Test(oracle, blas_builds_agree) {
    const char *other = getenv("MIMRL_BIN_OTHER");
    if (!other || !*other) cr_skip_test("MIMRL_BIN_OTHER unset: run by make test in the BLAS=none phase");
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    mr_error e;
    cr_assert(mr_cfg_from_json(&mc, &tc, CFG, "test config", NULL, &e) == MR_OK);
    mr_model m;
    cr_assert(mr_model_build(&m, &mc, &e) == MR_OK);
    mr_model_init(&m, 5);
    char ck[512], bp[512], o1[512], o2[512], args[4096], out[8192];
    t_path(ck, sizeof ck, "ck.npz");
    t_path(bp, sizeof bp, "b.npz");
    t_path(o1, sizeof o1, "o1.npz");
    t_path(o2, sizeof o2, "o2.npz");
    cr_assert(mr_params_save(&m.p, ck, CFG, 0, &e) == MR_OK);
    gsl_rng *g = t_rng(6);
    batch b;
    make_batch(&b, g);
    write_batch(bp, &b, 3);
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", ck, bp, o1);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s oracle --checkpoint %s --batch %s --out %s > /dev/null 2>&1", other, ck, bp, o2);
    cr_assert(system(cmd) == 0, "%s failed", other);
    mr_npz za, zb;
    cr_assert(mr_npz_open(&za, o1, &e) == MR_OK && mr_npz_open(&zb, o2, &e) == MR_OK);
    cr_assert(za.n == zb.n);
    double worst = 0, global = 0;
    for (size_t i = 0; i < za.n; i++) {
        mr_array x;
        cr_assert(mr_npz_read_index(&za, i, &x, &e) == MR_OK);
        double *vx = t_alloc(x.count);
        mr_array_to_f64(&x, vx);
        for (size_t k = 0; k < x.count; k++) global = fmax(global, fabs(vx[k]));
        mr_array_free(&x);
    }
    for (size_t i = 0; i < za.n; i++) {
        mr_array x, y;
        cr_assert(mr_npz_read_index(&za, i, &x, &e) == MR_OK && mr_npz_read(&zb, za.m[i].name, &y, &e) == MR_OK);
        cr_assert(x.count == y.count);
        double *vx = t_alloc(x.count), *vy = t_alloc(y.count), scale = 0;
        mr_array_to_f64(&x, vx);
        mr_array_to_f64(&y, vy);
        for (size_t k = 0; k < x.count; k++) scale = fmax(scale, fabs(vy[k]));
        for (size_t k = 0; k < x.count; k++) {
            double d = fabs(vx[k] - vy[k]);
            cr_assert(d <= T_BLAS_CHAIN * scale + T_BLAS_CHAIN_FLOOR * global, "%s[%zu]: %.17g vs %.17g", za.m[i].name, k, vx[k], vy[k]);
            if (scale > T_BLAS_CHAIN_FLOOR * global) worst = fmax(worst, d / scale);
        }
        mr_array_free(&x);
        mr_array_free(&y);
    }
    fprintf(stderr, "oracle: BLAS=none vs OpenBLAS, largest difference %.2e of a tensor's scale\n", worst);
    mr_npz_close(&za);
    mr_npz_close(&zb);
    gsl_rng_free(g);
    mr_model_free(&m);
}
