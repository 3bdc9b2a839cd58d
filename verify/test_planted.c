/* test_planted.c — the planted-information knobs of `mimrl synth` and their
 * ground truth (datasets/planted.c): hand-derived values at three settings,
 * the closed forms against truth.c's log-determinants, Monte Carlo against
 * closed forms within its standard error, the hub quadrature against an
 * independent GSL integral, the knobs' domain, and the bit-identity of the
 * default files against hashes of the base commit's binary.
 *
 * Tolerances: hand values — MR_TOL_CLOSED (closed forms evaluated
 * differently, verify/tolerance.h). Log-det cross-check — 9×9 Cholesky,
 * condition number < 100 for these covariances (eigenvalues within
 * [0.09, 4]·const): backward error ≤ n·κ·ε = 9·100·2.2e-16 = 2e-13 per
 * log-det, four of them → 1e-12. Monte Carlo — a mean of N independent
 * per-draw log-density differences with sample sd s is accepted within
 * 4·s/√N = 4·se of its expectation (false alarm < 1e-4 each under normality,
 * ≈ 40 checks per test → < 4e-3; the draws are seeded, so a pass is
 * reproducible).
 *
 * Notation: all settings have σ_o = 1, σ_y = 1, σ_n = 0, λ = 1 unless said.
 * Shared coordinate X_m0 = s + e_m: Var = 2, Cov(X_T0, X_A0) = 1, and
 * Var(s | k shared coordinates) = 1/(1+k). */
#include <criterion/criterion.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "datasets/planted.h"
#include "estimators/truth.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static mr_planted_model zero_model(void) {
    mr_planted_model m = {.redundancy = 1, .sigma_o = 1, .sigma_y = 1};
    return m;
}

static void expect_terms(const mr_planted_truth *t, const double *want, double tol) {
    for (int q = 0; q < MR_PT_NTERMS; q++)
        cr_expect(fabs(t->term[q].value - want[q]) <= tol, "%s = %.15g, want %.15g", mr_planted_term_names[q], t->term[q].value,
                  want[q]);
}
static void expect_comp(const mr_planted_truth *t, const double *want, double tol) {
    for (int q = 0; q < MR_PT_NCOMP; q++)
        cr_expect(fabs(t->comp[q].value - want[q]) <= tol, "%s = %.15g, want %.15g", mr_planted_comp_names[q], t->comp[q].value,
                  want[q]);
}
/* want: I1 I2 I12 R U1 U2 S coi */
static void expect_pid(const mr_pt_pid *d, const double *want, double tol, const char *pair) {
    const mr_pt_value *v[8] = {&d->i1, &d->i2, &d->i12, &d->r, &d->u1, &d->u2, &d->s, &d->coi};
    static const char *nm[8] = {"I1", "I2", "I12", "R", "U1", "U2", "S", "coi"};
    for (int j = 0; j < 8; j++)
        cr_expect(fabs(v[j]->value - want[j]) <= tol, "PID %s %s = %.15g, want %.15g", pair, nm[j], v[j]->value, want[j]);
}

/* Purely redundant: Y = s + ε (c_s = 1, nothing else).
 * Var Y = 2; Var(Y|one view) = ½ + 1 = 3/2; Var(Y|two views) = ⅓ + 1 = 4/3.
 *   I(m;Y) = ½ ln(2 / (3/2)) = ½ ln(4/3);  I(m;Y|m') = ½ ln((3/2)/(4/3)) = ½ ln(9/8).
 *   I(T;A) = −½ ln(1 − ρ²), ρ = 1/2 → ½ ln(4/3).
 *   I(T;A|Y): Var(s|Y) = 1 − 1/2 = 1/2, so Var(X_m0|Y) = 3/2, Cov = 1/2, ρ = 1/3
 *   → −½ ln(8/9) = ½ ln(9/8).
 * Composites: inv = ln(4/3); spec_T = 2·½ln(9/8) − 2·½ln(9/8) = 0;
 * spec_A = spec_V = ½ln(9/8) − ½ln(9/8) = 0; comp = ln(9/8) (> 0 with no synergy).
 * MMI PID (T,A): I1 = I2 = ½ ln(4/3), I12 = ½ ln(2/(4/3)) = ½ ln(3/2), R = ½ ln(4/3),
 * U = 0, S = ½ ln(3/2) − ½ ln(4/3) = ½ ln(9/8), coi = ln(4/3) − ½ ln(3/2) = ½ ln(32/27). */
Test(planted, purely_redundant_hand_values) {
    mr_planted_model m = zero_model();
    m.c_s = 1;
    mr_planted_truth t;
    mr_error e;
    cr_assert(mr_planted_truth_compute(&m, 0, 1, 0, &t, &e) == MR_OK, "%s", e.msg);
    cr_assert(t.closed == 1);
    double a = 0.5 * log(4.0 / 3), b = 0.5 * log(9.0 / 8);
    double want[11] = {a, a, a, a, a, b, b, b, b, b, b};
    expect_terms(&t, want, MR_TOL_CLOSED);
    double wc[8] = {a, a, a, 2 * a, 0, 0, 0, 2 * b};
    expect_comp(&t, wc, MR_TOL_CLOSED);
    double wp[8] = {a, a, 0.5 * log(1.5), a, 0, 0, b, 0.5 * log(32.0 / 27)};
    for (int p = 0; p < 3; p++) expect_pid(&t.pid[p], wp, MR_TOL_CLOSED, mr_planted_pair_names[p]);
}

/* Purely unique (text): Y = u_t + ε (c_t = 1), the views still share s.
 *   I(T;Y) = ½ ln(2/1) = ½ ln 2; A, V independent of Y: I(A;Y) = I(V;Y) = 0.
 *   I(T;A) = I(T;V) = ½ ln(4/3) (as above). I(A;Y|T) = I(V;Y|T) = 0.
 *   I(T;Y|A) = I(u_t;Y) = ½ ln 2 (A is independent of (u_t, Y)).
 *   I(T;A|Y) = I(T;A) = ½ ln(4/3) (Y is independent of (X_T0, A)).
 * Composites: inv = ln(4/3); spec_T = ln 2 − ln(4/3) = ln(3/2);
 * spec_A = spec_V = −½ ln(4/3) (< 0); comp = ln(4/3) (> 0 with no synergy).
 * PID (T,A): I1 = I12 = ½ ln 2, I2 = 0, R = 0, U_T = ½ ln 2, U_A = 0, S = 0, coi = 0;
 * (A,V): all 0. */
Test(planted, purely_unique_hand_values) {
    mr_planted_model m = zero_model();
    m.c_t = 1;
    mr_planted_truth t;
    mr_error e;
    cr_assert(mr_planted_truth_compute(&m, 0, 1, 0, &t, &e) == MR_OK, "%s", e.msg);
    double h2 = 0.5 * log(2.0), a = 0.5 * log(4.0 / 3);
    double want[11] = {h2, 0, 0, a, a, 0, 0, h2, h2, a, a};
    expect_terms(&t, want, MR_TOL_CLOSED);
    double wc[8] = {h2, 0, 0, 2 * a, log(1.5), -a, -a, 2 * a};
    expect_comp(&t, wc, MR_TOL_CLOSED);
    double wp[8] = {h2, 0, h2, 0, h2, 0, 0, 0};
    expect_pid(&t.pid[0], wp, MR_TOL_CLOSED, "T,A");
    expect_pid(&t.pid[1], wp, MR_TOL_CLOSED, "T,V");
    double z[8] = {0};
    expect_pid(&t.pid[2], z, MR_TOL_CLOSED, "A,V");
}

/* Gaussian, mixed: Y = s + u_t + ½ u_a + ε. Var Y = 13/4.
 *   Var(Y|T) = ½ + ¼ + 1 = 7/4, Var(Y|A) = ½ + 1 + 1 = 5/2, Var(Y|V) = ½ + 1 + ¼ + 1 = 11/4,
 *   Var(Y|T,A) = ⅓ + 1 = 4/3, Var(Y|T,V) = ⅓ + ¼ + 1 = 19/12.
 *   I(T;Y) = ½ ln(13/7), I(A;Y) = ½ ln(13/10), I(V;Y) = ½ ln(13/11), I(T;A) = I(T;V) = ½ ln(4/3),
 *   I(A;Y|T) = ½ ln((7/4)/(4/3)) = ½ ln(21/16), I(V;Y|T) = ½ ln((7/4)/(19/12)) = ½ ln(21/19),
 *   I(T;Y|A) = ½ ln((5/2)/(4/3)) = ½ ln(15/8), I(T;Y|V) = ½ ln((11/4)/(19/12)) = ½ ln(33/19),
 *   I(T;A|Y) = I(T;A) − I(T;Y) + I(T;Y|A) = ½ ln(4/3 · 7/13 · 15/8) = ½ ln(35/26),
 *   I(T;V|Y) = ½ ln(4/3 · 7/13 · 33/19) = ½ ln(308/247).
 * MMI PID of (T, A → Y), closed form (Barrett 2015, exact for jointly Gaussian, univariate Y):
 *   I12 = ½ ln((13/4)/(4/3)) = ½ ln(39/16); R = min = ½ ln(13/10); U_T = ½ ln(13/7) − ½ ln(13/10)
 *   = ½ ln(10/7); U_A = 0; S = I12 − I(T;Y) = ½ ln((39/16)(7/13)) = ½ ln(21/16);
 *   coi = ½ ln((13/7)(13/10)(16/39)) = ½ ln(104/105). */
Test(planted, gaussian_mmi_pid_hand_values) {
    mr_planted_model m = zero_model();
    m.c_s = 1, m.c_t = 1, m.c_a = 0.5;
    mr_planted_truth t;
    mr_error e;
    cr_assert(mr_planted_truth_compute(&m, 0, 1, 0, &t, &e) == MR_OK, "%s", e.msg);
    double want[11] = {0.5 * log(13.0 / 7),  0.5 * log(13.0 / 10),  0.5 * log(13.0 / 11), 0.5 * log(4.0 / 3),
                       0.5 * log(4.0 / 3),   0.5 * log(21.0 / 16),  0.5 * log(21.0 / 19), 0.5 * log(15.0 / 8),
                       0.5 * log(33.0 / 19), 0.5 * log(35.0 / 26),  0.5 * log(308.0 / 247)};
    expect_terms(&t, want, MR_TOL_CLOSED);
    double wp[8] = {0.5 * log(13.0 / 7), 0.5 * log(13.0 / 10), 0.5 * log(39.0 / 16), 0.5 * log(13.0 / 10),
                    0.5 * log(10.0 / 7), 0,                    0.5 * log(21.0 / 16), 0.5 * log(104.0 / 105)};
    expect_pid(&t.pid[0], wp, MR_TOL_CLOSED, "T,A");
    /* spec_A = I(A;Y|T) − I(T;A|Y) = ½ ln((21/16)(26/35)) = ½ ln(39/40) */
    cr_expect(fabs(t.comp[5].value - 0.5 * log(39.0 / 40)) <= MR_TOL_CLOSED, "spec_A %.15g", t.comp[5].value);
}

/* A Gaussian setting with every knob away from its simple value, against the
 * log-determinant formulas of estimators/truth.c on the full covariance of
 * (T0 T1 A0 A1 A2 V0 V1 V2 Y), built here from the loadings. */
Test(planted, closed_forms_match_logdet) {
    mr_planted_model m = {.redundancy = 0.7, .c_s = 0.8, .c_t = 0.6, .c_a = 0.4, .c_v = 0.3, .sigma_o = 0.5, .sigma_n = 0.4, .sigma_y = 0.3};
    mr_planted_truth t;
    mr_error e;
    cr_assert(mr_planted_truth_compute(&m, 0, 1, 0, &t, &e) == MR_OK, "%s", e.msg);
    /* loadings on (s ut ua uv wa wv e_t e_a e_v n×8 ε) */
    enum { NL = 18 };
    double L[9][NL] = {{0}};
    double lam = m.redundancy, so = m.sigma_o, sn = m.sigma_n;
    L[0][0] = lam, L[0][6] = so, L[0][9] = sn;
    L[1][1] = 1, L[1][10] = sn;
    L[2][0] = lam, L[2][7] = so, L[2][11] = sn;
    L[3][2] = 1, L[3][12] = sn;
    L[4][4] = 1, L[4][13] = sn;
    L[5][0] = lam, L[5][8] = so, L[5][14] = sn;
    L[6][3] = 1, L[6][15] = sn;
    L[7][5] = 1, L[7][16] = sn;
    L[8][0] = m.c_s * lam, L[8][1] = m.c_t, L[8][2] = m.c_a, L[8][3] = m.c_v, L[8][17] = m.sigma_y;
    double S[81];
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++) {
            double v = 0;
            for (int k = 0; k < NL; k++) v += L[i][k] * L[j][k];
            S[i * 9 + j] = v;
        }
    size_t iT[2] = {0, 1}, iA[3] = {2, 3, 4}, iV[3] = {5, 6, 7}, iY[1] = {8};
    double w[11];
    cr_assert(mr_gauss_mi(S, 9, iT, 2, iY, 1, &w[0], &e) == MR_OK);
    mr_gauss_mi(S, 9, iA, 3, iY, 1, &w[1], &e);
    mr_gauss_mi(S, 9, iV, 3, iY, 1, &w[2], &e);
    mr_gauss_mi(S, 9, iT, 2, iA, 3, &w[3], &e);
    mr_gauss_mi(S, 9, iT, 2, iV, 3, &w[4], &e);
    mr_gauss_cmi(S, 9, iA, 3, iY, 1, iT, 2, &w[5], &e);
    mr_gauss_cmi(S, 9, iV, 3, iY, 1, iT, 2, &w[6], &e);
    mr_gauss_cmi(S, 9, iT, 2, iY, 1, iA, 3, &w[7], &e);
    mr_gauss_cmi(S, 9, iT, 2, iY, 1, iV, 3, &w[8], &e);
    mr_gauss_cmi(S, 9, iT, 2, iA, 3, iY, 1, &w[9], &e);
    mr_gauss_cmi(S, 9, iT, 2, iV, 3, iY, 1, &w[10], &e);
    expect_terms(&t, w, 1e-12);
    /* PID (T,A) against truth.c's mr_gauss_pid on Σ over [T, A, Y] */
    size_t idx[6] = {0, 1, 2, 3, 4, 8};
    double P[36];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) P[i * 6 + j] = S[idx[i] * 9 + idx[j]];
    mr_pid pid;
    cr_assert(mr_gauss_pid(P, 2, 3, &pid, &e) == MR_OK);
    double wp[8] = {pid.i1, pid.i2, pid.i12, pid.r, pid.u1, pid.u2, pid.s, pid.i1 + pid.i2 - pid.i12};
    expect_pid(&t.pid[0], wp, 1e-12, "T,A");
}

static void expect_mc_close(const mr_pt_value *mc, double want, const char *what) {
    cr_expect(fabs(mc->value - want) <= 4 * mc->se + 1e-12, "%s: Monte Carlo %.6g ± %.2g, closed form %.6g", what, mc->value, mc->se,
              want);
}

/* Monte Carlo path forced on the Gaussian setting above: every term,
 * composite and PID atom within 4 se of its closed form. */
Test(planted, monte_carlo_matches_closed_form) {
    mr_planted_model m = {.redundancy = 0.7, .c_s = 0.8, .c_t = 0.6, .c_a = 0.4, .c_v = 0.3, .sigma_o = 0.5, .sigma_n = 0.4, .sigma_y = 0.3};
    mr_planted_truth c, mc;
    mr_error e;
    cr_assert(mr_planted_truth_compute(&m, 0, 1, 0, &c, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_planted_truth_compute(&m, 20000, 5, 1, &mc, &e) == MR_OK, "%s", e.msg);
    cr_assert(mc.closed == 0 && mc.mc_samples == 20000);
    int positive_se = 0;
    for (int q = 0; q < MR_PT_NTERMS; q++) {
        expect_mc_close(&mc.term[q], c.term[q].value, mr_planted_term_names[q]);
        positive_se += mc.term[q].se > 0;
    }
    cr_assert(positive_se == 9, "every term but I(T;A), I(T;V) has a Monte-Carlo error (%d)", positive_se);
    for (int q = 0; q < MR_PT_NCOMP; q++) expect_mc_close(&mc.comp[q], c.comp[q].value, mr_planted_comp_names[q]);
    for (int p = 0; p < 3; p++) {
        expect_mc_close(&mc.pid[p].i12, c.pid[p].i12.value, "I12");
        expect_mc_close(&mc.pid[p].r, c.pid[p].r.value, "R");
        expect_mc_close(&mc.pid[p].s, c.pid[p].s.value, "S");
        expect_mc_close(&mc.pid[p].coi, c.pid[p].coi.value, "coi");
    }
}

/* ∫ φ(w) ½ ln(1 + g² w² / σ_y²) dw */
static double half_log_f(double w, void *p) {
    double k = *(double *)p;
    return exp(-0.5 * w * w) / sqrt(2 * M_PI) * 0.5 * log1p(k * w * w);
}
static double product_cmi(double g, double sy) {
    double k = g * g / (sy * sy), r, err;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
    gsl_function f = {half_log_f, &k};
    gsl_integration_qagi(&f, 0, 1e-12, 1000, ws, &r, &err);
    gsl_integration_workspace_free(ws);
    return r;
}

/* Pure synergy Y = g w_t w_v + σ_y ε (T×V) and Y = g w_t w_a + σ_y ε (T×A):
 * given one factor, Y is Gaussian in the other, so
 *   I(T;Y|V) = I(V;Y|T) = E_w[½ ln(1 + g² w² / σ_y²)]   (T×V; A for T×A),
 * a 1-D integral done here by GSL's qagi, independent of planted.c. The hub
 * is w_t: I(T;Y|V) (and I(T;Y|A)) condition on a view that leaves the hub
 * unknown, so they exercise the trapezoid; I(V;Y|T) the exact branch.
 * A product of Gaussians is not pure synergy: one factor alone gives the
 * label's scale, so I(T;Y) > 0 (measured 0.153 nats at g = 1, σ_y = 0.5).
 * Under A×V with c_s = 0 the text view is independent of (A, V, Y):
 * I(T;Y) = I(T;Y|A) = 0, exactly (identical log-densities per draw). */
Test(planted, synergy_quadrature_matches_integral) {
    double g = 1.0, sy = 0.5, want = product_cmi(g, sy);
    cr_assert(want > 0.3, "the integral is not trivially small (%g)", want);
    mr_planted_truth t;
    mr_error e;
    mr_planted_model m = zero_model();
    m.g_tv = g, m.sigma_y = sy;
    cr_assert(mr_planted_truth_compute(&m, 20000, 3, 0, &t, &e) == MR_OK, "%s", e.msg);
    cr_assert(t.closed == 0);
    expect_mc_close(&t.term[8], want, "T×V: I(T;Y|V)");
    expect_mc_close(&t.term[6], want, "T×V: I(V;Y|T)");
    /* not pure synergy: Y | w_t ~ N(0, g² w_t² + σ_y²) — a factor alone tells the
     * label's scale, so I(T;Y) > 0 (the product is uncorrelated with each
     * factor, not independent of it) */
    cr_expect(t.term[0].value > 4 * t.term[0].se && t.term[2].value > 4 * t.term[2].se, "T×V: I(T;Y) %g ± %g, I(V;Y) %g ± %g",
              t.term[0].value, t.term[0].se, t.term[2].value, t.term[2].se);
    m = zero_model();
    m.g_ta = g, m.sigma_y = sy;
    cr_assert(mr_planted_truth_compute(&m, 20000, 4, 0, &t, &e) == MR_OK, "%s", e.msg);
    expect_mc_close(&t.term[7], want, "T×A: I(T;Y|A)");
    expect_mc_close(&t.term[5], want, "T×A: I(A;Y|T)");
    m = zero_model();
    m.g_av = g, m.sigma_y = sy;
    cr_assert(mr_planted_truth_compute(&m, 2000, 5, 0, &t, &e) == MR_OK, "%s", e.msg);
    cr_expect(t.term[0].value == 0.0 && t.term[0].se == 0.0, "A×V: I(T;Y) = %g ± %g", t.term[0].value, t.term[0].se);
    cr_expect(t.term[7].value == 0.0, "A×V: I(T;Y|A) = %g", t.term[7].value);
    /* the A×V synergy is invisible to MIMRL's pairs with T but not to the (A,V) PID */
    cr_expect(t.pid[2].s.value > 4 * t.pid[2].s.se && t.pid[2].s.value > 0.1, "A×V PID synergy %g ± %g", t.pid[2].s.value,
              t.pid[2].s.se);
}

/* Domain of the knobs: the error names the knob. */
Test(planted, knob_domain_refused_with_name) {
    mr_planted_model m;
    mr_error e;
    struct {
        double *f;
        double v;
        const char *name;
    } bad[] = {{&m.redundancy, -0.1, "--redundancy"}, {&m.c_t, -1, "--unique-t"},     {&m.c_a, NAN, "--unique-a"},
               {&m.c_v, -2, "--unique-v"},         {&m.g_ta, -1, "--synergy-ta"},   {&m.g_tv, INFINITY, "--synergy-tv"},
               {&m.g_av, -0.5, "--synergy-av"},    {&m.sigma_n, -0.2, "--obs-noise"}, {&m.sigma_y, 0, "--sigma-y"},
               {&m.c_t, 4.0, "degenerate"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mr_planted_default(&m);
        cr_assert(mr_planted_check(&m, &e) == MR_OK, "defaults accepted");
        *bad[i].f = bad[i].v;
        cr_expect(mr_planted_check(&m, &e) == MR_EINVAL && strstr(e.msg, bad[i].name), "%s = %g: %s", bad[i].name, bad[i].v, e.msg);
    }
    mr_planted_default(&m);
    m.g_ta = 0.3, m.g_tv = 0.3; /* g_av = 0.6 too: no hub */
    cr_expect(mr_planted_check(&m, &e) == MR_EINVAL && strstr(e.msg, "--synergy-ta"), "%s", e.msg);
}

/* The CLI: refused knobs exit 2 naming the knob; --truth-only prints the
 * library's values; the default files are bit-identical to those of the
 * base commit (648ba05) binary, whose SHA-256 sums are written here (they
 * were computed with that binary, not with this code). */
Test(planted, cli_knobs_truth_only_and_bit_identity) {
    char out[65536], args[2048], prefix[512], cmd[4096];
    cr_assert(t_run_cli("synth --obs-noise -1 --truth-only", out, sizeof out) == 2 && strstr(out, "--obs-noise"), "%s", out);
    cr_assert(t_run_cli("synth --synergy-tv -1", out, sizeof out) == 2 && strstr(out, "--synergy-tv"), "%s", out);
    cr_assert(t_run_cli("synth --redundancy x", out, sizeof out) == 2 && strstr(out, "--redundancy"), "%s", out);
    cr_assert(t_run_cli("synth --unique-t 3 --truth-only", out, sizeof out) == 2 && strstr(out, "degenerate"), "%s", out);
    cr_assert(t_run_cli("synth --help", out, sizeof out) == 0 && strstr(out, "--synergy-av") && strstr(out, "g_ta w_t w_a"), "%s", out);
    cr_assert(t_run_cli("synth --truth-only --synergy-av 0 --unique-t 1 --mix 0,1,0,0,0", out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "\"closed form"), "%s", out);
    /* c_t = 1 (knob wins over --mix, which is parsed first), σ_o 0.5, σ_y 0.3: I(T;Y) = ½ ln(1 + 1/0.09) */
    char want[64];
    snprintf(want, sizeof want, "\"I(T;Y)\": {\"value\": %.9g", 0.5 * log(1 + 1 / 0.09));
    cr_expect(strstr(out, want), "want %s in %s", want, out);
    struct {
        const char *args, *sum[3];
    } base[2] = {
        {"--seed 7 --n-train 40 --n-valid 10 --n-test 10 --max-frames 16 --max-words 8 --mc-samples 200",
         {"18e42652f73c8bc442d28036c57a609a2994a0c6925a188ff075f8f604193898",
          "120c9ed69ed9ca4689448556c719003fb88b840b236a847831acd4c1a969a33c",
          "ffbea996d8f25443a2595e7286fc86efb4df485a1db08507c56c8ee35d36914f"}},
        {"--seed 3 --like avec --mix 0.5,0.1,0.2,0.3,0.4 --sigma-o 0.7 --n-train 30 --n-valid 10 --n-test 10 --max-frames 16 "
         "--max-words 8 --mc-samples 150",
         {"5750d4e878f50f8b96b4872deb1c4a4c6a83293ddf9d84f9f317443570482dd7",
          "7af080a0f511b0cbc965247e93cc774f9b770050a3297420c4fbdddeae1749cc",
          "0792bebe3afc9a1ed490514dc1a95703d5db7aefff6466aa9c301440aeaf9029"}}};
    static const char *split[3] = {"train", "valid", "test"};
    for (int b = 0; b < 2; b++) {
        t_path(prefix, sizeof prefix, b ? "planted_base_avec" : "planted_base_mosi");
        snprintf(args, sizeof args, "synth %s --out %s", base[b].args, prefix);
        cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
        for (int s = 0; s < 3; s++) {
            snprintf(cmd, sizeof cmd, "sha256sum %s_%s.npz", prefix, split[s]);
            FILE *f = popen(cmd, "r");
            cr_assert(f, "sha256sum not runnable");
            char got[128] = "";
            cr_assert(fgets(got, sizeof got, f) != NULL, "no sha256sum output");
            pclose(f);
            cr_expect(strncmp(got, base[b].sum[s], 64) == 0, "%s_%s.npz differs from the base commit's file: %.64s", prefix,
                      split[s], got);
        }
    }
    /* a knob given: meta_json carries planted_knobs and the three-level truth */
    t_path(prefix, sizeof prefix, "planted_knob");
    snprintf(args, sizeof args, "synth --seed 2 --n-train 20 --n-valid 5 --n-test 5 --max-frames 16 --max-words 8 --mc-samples 100 "
                                "--synergy-ta 0.5 --obs-noise 0.2 --out %s",
             prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "info %s_train.npz", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0 && strstr(out, "schema: valid") && strstr(out, "planted_knobs"), "%s", out);
}
