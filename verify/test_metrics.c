/* test_metrics.c — metrics on hand-worked examples (spec §6), plus the CLI. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/nn/metrics.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

/* Worked by hand in the comments below. */
static const double P[6] = {1.4, -0.5, 2.6, 0.0, -3.7, 0.2};
static const double Y[6] = {1.0, 0.0, 2.0, 0.6, -3.0, -0.2};

Test(metrics, mosi_hand_worked_example) {
    mr_metrics m;
    mr_metrics_mosi(P, Y, 6, &m);
    /* |err| = .4 .5 .6 .6 .7 .4 */
    cr_assert(fabs(m.mae - 3.2 / 6) < T_FEW_OPS, "mae %.17g", m.mae);
    /* acc7: rint(clip(p,±3)) = 1 −0 3 0 −3 0 vs y: 1 0 2 1 −3 −0 → 4/6 */
    cr_assert(m.acc7 == 4.0 / 6, "acc7 %g", m.acc7);
    /* acc5: clip ±2: 1 −0 2 0 −2 0 vs 1 0 2 1 −2 −0 → 5/6 */
    cr_assert(m.acc5 == 5.0 / 6, "acc5 %g", m.acc5);
    /* has0: truth y≥0 TTTTFF, pred p≥0 TFTTFT → 4/6; F1: T (support 4) tp 3
     * fp 1 fn 1 → .75; F (support 2) tp 1 fp 1 fn 1 → .5; weighted 4/6 */
    cr_assert(m.acc2_has0 == 4.0 / 6);
    cr_assert(fabs(m.f1_has0 - 4.0 / 6) < T_FEW_OPS, "f1_has0 %.17g", m.f1_has0);
    /* non0 drops y == 0 (index 1): truth TTTFF, pred (p > 0, so 0.0 is
     * negative) TTFFT → 3/5; F1: T (3) tp 2 fp 1 fn 1 → 2/3; F (2) → .5;
     * weighted (2 + 1)/5 = .6 */
    cr_assert(m.n_non0 == 5 && m.acc2_non0 == 3.0 / 5);
    cr_assert(fabs(m.f1_non0 - 0.6) < T_FEW_OPS, "f1_non0 %.17g", m.f1_non0);
}

Test(metrics, round_half_to_even) {
    /* numpy.round: 0.5 → 0, 1.5 → 2, 2.5 → 2, −0.5 → −0 */
    double p[4] = {0.5, 1.5, 2.5, -0.5}, y[4] = {0, 2, 2, 0};
    mr_metrics m;
    mr_metrics_mosi(p, y, 4, &m);
    cr_assert(m.acc7 == 1.0, "acc7 %g", m.acc7);
}

Test(metrics, pearson_and_ccc) {
    double x[3] = {1, 2, 3}, y[3] = {2, 4, 7};
    /* sxy = 5, sxx = 2, syy = 114/9 → r = 15/√228 */
    cr_assert(fabs(mr_pearson(x, y, 3) - 15 / sqrt(228.0)) < T_FEW_OPS);
    double c[3] = {5, 5, 5};
    cr_assert(isnan(mr_pearson(x, c, 3)), "constant vector gives NaN");
    cr_assert(mr_ccc(x, x, 3) == 1.0);
    double s[3] = {2, 3, 4}; /* x + 1: var 2/3 each, shift² 1 → (4/3)/(4/3 + 1) */
    cr_assert(fabs(mr_ccc(s, x, 3) - (4.0 / 3) / (4.0 / 3 + 1)) < T_FEW_OPS);
    cr_assert(isnan(mr_ccc(c, c, 3)), "zero denominator gives NaN");
}

Test(metrics, avec_rmse_scaled) {
    double p[2] = {0.1, 0.5}, y[2] = {0.2, 0.3};
    mr_metrics m;
    mr_metrics_avec(p, y, 2, 25.0, &m);
    /* 25·err = −2.5, 5 → sqrt((6.25 + 25)/2) */
    cr_assert(fabs(m.rmse - sqrt(31.25 / 2)) < MR_TOL_CLOSED, "rmse %.17g", m.rmse);
    cr_assert(fabs(m.mae - 0.15) < T_FEW_OPS);
}

Test(metrics, weighted_f1_sklearn_conventions) {
    int t[4] = {1, 1, 1, 1}, q[4] = {0, 0, 0, 0};
    /* class 1: tp 0 → F1 0; class 0 (support 0, only predicted) weight 0 */
    cr_assert(mr_weighted_f1(t, q, NULL, 4) == 0.0);
    cr_assert(mr_weighted_f1(t, t, NULL, 4) == 1.0);
    unsigned char none[4] = {0};
    cr_assert(mr_weighted_f1(t, q, none, 4) == 0.0, "empty selection gives 0 like sklearn");
}

/* ------------------------------------------------------------------- CLI */



Test(cli, metrics_from_npy_and_npz) {
    char pp[512], yp[512], zp[512], args[2048], out[8192];
    uint64_t sh[1] = {6};
    mr_error e;
    t_path(pp, sizeof pp, "pred.npy");
    t_path(yp, sizeof yp, "true.npy");
    cr_assert(mr_npy_save(pp, MR_DT_F8, 1, sh, P, &e) == MR_OK);
    float yf[6];
    for (int i = 0; i < 6; i++) yf[i] = (float)Y[i];
    cr_assert(mr_npy_save(yp, MR_DT_F4, 1, sh, yf, &e) == MR_OK);
    snprintf(args, sizeof args, "metrics --pred %s --true %s --json", pp, yp);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "\"acc7\": 0.66666666666666663") != NULL, "%s", out);
    cr_assert(strstr(out, "\"f1_non0\": 0.59999999999999998") != NULL || strstr(out, "\"f1_non0\": 0.6") != NULL, "%s", out);
    /* npz with member syntax, AVEC task */
    t_path(zp, sizeof zp, "preds.npz");
    mr_npz_writer w;
    cr_assert(mr_npz_writer_open(&w, zp, 0, &e) == MR_OK);
    mr_npz_add(&w, "pred", MR_DT_F8, 1, sh, P, &e);
    mr_npz_add(&w, "label", MR_DT_F8, 1, sh, Y, &e);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    snprintf(args, sizeof args, "metrics --pred %s:pred --true %s:label --task avec", zp, zp);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "ccc") != NULL && strstr(out, "rmse") != NULL, "%s", out);
}

Test(cli, metrics_bad_input_is_a_clear_error) {
    char pp[512], yp[512], args[2048], out[8192];
    uint64_t s6[1] = {6}, s5[1] = {5};
    mr_error e;
    t_path(pp, sizeof pp, "p6.npy");
    t_path(yp, sizeof yp, "y5.npy");
    mr_npy_save(pp, MR_DT_F8, 1, s6, P, &e);
    mr_npy_save(yp, MR_DT_F8, 1, s5, Y, &e);
    snprintf(args, sizeof args, "metrics --pred %s --true %s", pp, yp);
    cr_assert(t_run_cli(args, out, sizeof out) == 2, "%s", out);
    cr_assert(strstr(out, "6") && strstr(out, "5") && strstr(out, "y5.npy"), "%s", out);
    snprintf(args, sizeof args, "metrics --pred %s --true %s --task imdb", pp, pp);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "--task"), "%s", out);
    snprintf(args, sizeof args, "metrics --pred %s --bogus 1", pp);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "--bogus"), "%s", out);
    cr_assert(t_run_cli("metrics --pred nowhere.npy --true nowhere.npy", out, sizeof out) == 2 && strstr(out, "nowhere.npy"), "%s", out);
    double bad[6] = {1, 2, 3, 4, 5, 6};
    t_traps_off();
    bad[2] = NAN;
    t_traps_on();
    t_path(yp, sizeof yp, "nan.npy");
    mr_npy_save(yp, MR_DT_F8, 1, s6, bad, &e);
    snprintf(args, sizeof args, "metrics --pred %s --true %s", pp, yp);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "nan.npy") && strstr(out, "index 2"), "%s", out);
    cr_assert(t_run_cli("frobnicate", out, sizeof out) == 2 && strstr(out, "frobnicate"), "%s", out);
}

Test(cli, info_lists_and_validates) {
    char out[16384], args[1024];
    snprintf(args, sizeof args, "info verify/fixtures/numpy_deflated.npz");
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "grad_stage1/rnn_a.weight_ih_l0") && strstr(out, "<i8") && strstr(out, "deflated"), "%s", out);
    cr_assert(strstr(out, "valid") != NULL, "%s", out);
    /* a corrupted copy */
    size_t n;
    unsigned char *b = t_read_file("verify/fixtures/numpy_stored.npz", &n);
    b[200] ^= 0xff;
    char p[512];
    t_path(p, sizeof p, "corrupt.npz");
    t_write_file(p, b, n);
    free(b);
    snprintf(args, sizeof args, "info %s", p);
    cr_assert(t_run_cli(args, out, sizeof out) == 2, "%s", out);
    cr_assert(strstr(out, "corrupt.npz") && strstr(out, "INVALID"), "%s", out);
    cr_assert(t_run_cli("info verify/fixtures/numpy_f4_2d.npy", out, sizeof out) == 0 && strstr(out, "<f4") && strstr(out, "[2, 3]"), "%s", out);
}

Test(cli, demo_runs_and_is_deterministic) {
    char d1[512], d2[512], args[2048], out[16384];
    t_path(d1, sizeof d1, "demo1");
    t_path(d2, sizeof d2, "demo2");
    snprintf(args, sizeof args, "demo --out %s --epochs 4 --seed 7", d1);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "gradient check of the whole network (4 random directions): pass"), "%s", out);
    cr_assert(strstr(out, "bit-identical"), "%s", out);
    snprintf(args, sizeof args, "demo --out %s --epochs 4 --seed 7", d2);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/test_pred.npy", d1);
    snprintf(b, sizeof b, "%s/test_pred.npy", d2);
    size_t la, lb;
    unsigned char *x = t_read_file(a, &la), *y = t_read_file(b, &lb);
    cr_assert(x && y && la == lb && memcmp(x, y, la) == 0, "same seed must give the same bits");
    free(x);
    free(y);
    snprintf(a, sizeof a, "%s/model.npz", d1);
    snprintf(b, sizeof b, "%s/model.npz", d2);
    x = t_read_file(a, &la);
    y = t_read_file(b, &lb);
    cr_assert(x && y && la == lb && memcmp(x, y, la) == 0, "same seed must give the same checkpoint bytes");
    free(x);
    free(y);
    cr_assert(t_run_cli("demo --epochs zero", out, sizeof out) == 2 && strstr(out, "--epochs"), "%s", out);
}
