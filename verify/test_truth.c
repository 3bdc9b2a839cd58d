/* test_truth.c — ground truth: closed forms against independent
 * computations (scalar formulas, Monte Carlo of log-density ratios), the
 * samplers' moments, the KSG / Frenzel–Pompe estimators, and small-budget
 * accuracy of the trained estimators.
 *
 * Statistical thresholds: a mean of n independent draws with sample standard
 * deviation s is accepted within 4·s/√n of its expectation (false-alarm
 * probability < 1e-4 under normality). Where an estimator has a known
 * systematic bias, an allowance of 10% of the relevant true value — the
 * accuracy criterion of the estimator issue — is added and said so. */
#include <criterion/criterion.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <string.h>

#include "estimators/bounds.h"
#include "estimators/estimate.h"
#include "estimators/knn_mi.h"
#include "estimators/truth.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"
#include <stdio.h>
#include <stdlib.h>

static void mean_sd(const double *v, size_t n, double *m, double *sd) {
    double a = 0, b = 0;
    for (size_t i = 0; i < n; i++) a += v[i];
    a /= n;
    for (size_t i = 0; i < n; i++) b += (v[i] - a) * (v[i] - a);
    *m = a;
    *sd = sqrt(b / (n - 1));
}

Test(truth, logdet_and_closed_forms) {
    double A[4] = {4, 2, 2, 3}, ld;
    mr_error e;
    cr_assert(mr_logdet_spd(A, 2, &ld, &e) == MR_OK);
    cr_assert(fabs(ld - log(8.0)) < T_FEW_OPS);
    double bad[4] = {1, 2, 2, 1};
    cr_assert(mr_logdet_spd(bad, 2, &ld, &e) == MR_EINVAL && strstr(e.msg, "positive definite"));
    /* staircase covariance, d = 3: I = −(3/2) ln(1 − ρ²) */
    double rho = 0.6, S[36] = {0};
    for (int i = 0; i < 6; i++) S[i * 6 + i] = 1;
    for (int i = 0; i < 3; i++) S[i * 6 + 3 + i] = S[(3 + i) * 6 + i] = rho;
    size_t ix[3] = {0, 1, 2}, iy[3] = {3, 4, 5};
    double mi;
    cr_assert(mr_gauss_mi(S, 6, ix, 3, iy, 3, &mi, &e) == MR_OK);
    cr_assert(fabs(mi - (-1.5 * log(1 - rho * rho))) < MR_TOL_CLOSED);
    cr_assert(fabs(mr_staircase_mi(mr_staircase_rho(6.0, 20), 20) - 6.0) < T_MANY_OPS);
    /* anchors §C.1: ρ for 2, 4, 6, 8, 10 nats at d = 20 */
    double want_rho[5] = {0.4258, 0.5742, 0.6717, 0.7421, 0.7951};
    for (int k = 0; k < 5; k++) cr_assert(fabs(mr_staircase_rho(2.0 * (k + 1), 20) - want_rho[k]) < T_DEC(4));
}

Test(truth, cmine_chain_and_ccmi_values) {
    /* Σ of (X, Y, Z) for the chain, d = 1 */
    double x2 = 100, y2 = 1, z2 = 25;
    double S[9] = {x2, x2, x2, x2, x2 + y2, x2 + y2, x2, x2 + y2, x2 + y2 + z2};
    size_t X[1] = {0}, Y[1] = {1}, Z[1] = {2};
    double cmi, zero;
    mr_error e;
    cr_assert(mr_gauss_cmi(S, 3, X, 1, Y, 1, Z, 1, &cmi, &e) == MR_OK);
    cr_assert(mr_gauss_cmi(S, 3, X, 1, Z, 1, Y, 1, &zero, &e) == MR_OK);
    cr_assert(fabs(cmi - mr_cmine_chain_cmi(10, 1, 5, 1)) < T_MANY_OPS, "%.17g vs %.17g", cmi, mr_cmine_chain_cmi(10, 1, 5, 1));
    cr_assert(fabs(cmi - 1.5185) < T_DEC(4), "anchors: 1.5185 nats per dimension (%.6f)", cmi);
    cr_assert(fabs(zero) < T_MANY_OPS, "Markov chain: I(X;Z|Y) = 0 (%.3g)", zero);
    cr_assert(fabs(mr_cmine_chain_cmi(10, 1, 5, 10) - 15.185) < T_DEC(3));
    cr_assert(fabs(mr_ccmi_cmi() - 2.3076) < T_DEC(4));
}

Test(truth, gaussian_mi_monte_carlo) {
    /* I(X;Y) = E[log p(x,y) − log p(x) − log p(y)] for a random SPD Σ over
     * X (2 coords) and Y (2 coords), by sampling with GSL. */
    gsl_rng *r = t_rng(11);
    double L[16] = {0}, S[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j <= i; j++) L[i * 4 + j] = (i == j ? 1.0 : 0.0) + 0.8 * (gsl_rng_uniform(r) - 0.5);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += L[i * 4 + k] * L[j * 4 + k];
            S[i * 4 + j] = s;
        }
    size_t ix[2] = {0, 1}, iy[2] = {2, 3};
    double mi;
    mr_error e;
    cr_assert(mr_gauss_mi(S, 4, ix, 2, iy, 2, &mi, &e) == MR_OK);
    double sj[16], sx[4] = {S[0], S[1], S[4], S[5]}, sy[4] = {S[10], S[11], S[14], S[15]};
    memcpy(sj, S, sizeof sj);
    gsl_matrix_view Lj = gsl_matrix_view_array(sj, 4, 4), Lx = gsl_matrix_view_array(sx, 2, 2), Ly = gsl_matrix_view_array(sy, 2, 2);
    gsl_linalg_cholesky_decomp1(&Lj.matrix);
    gsl_linalg_cholesky_decomp1(&Lx.matrix);
    gsl_linalg_cholesky_decomp1(&Ly.matrix);
    double mu[4] = {0};
    gsl_vector_view m4 = gsl_vector_view_array(mu, 4), m2 = gsl_vector_view_array(mu, 2);
    gsl_vector *v = gsl_vector_alloc(4), *w4 = gsl_vector_alloc(4), *w2 = gsl_vector_alloc(2);
    size_t N = 100000;
    double *lr = t_alloc(N);
    for (size_t n = 0; n < N; n++) {
        gsl_ran_multivariate_gaussian(r, &m4.vector, &Lj.matrix, v);
        double lj, lx, ly;
        gsl_ran_multivariate_gaussian_log_pdf(v, &m4.vector, &Lj.matrix, &lj, w4);
        gsl_vector_view vx = gsl_vector_subvector(v, 0, 2), vy = gsl_vector_subvector(v, 2, 2);
        gsl_ran_multivariate_gaussian_log_pdf(&vx.vector, &m2.vector, &Lx.matrix, &lx, w2);
        gsl_ran_multivariate_gaussian_log_pdf(&vy.vector, &m2.vector, &Ly.matrix, &ly, w2);
        lr[n] = lj - lx - ly;
    }
    double m, sd;
    mean_sd(lr, N, &m, &sd);
    cr_assert(fabs(m - mi) <= 4 * sd / sqrt((double)N), "Monte Carlo %.5f ± %.5f vs closed form %.5f", m, sd / sqrt((double)N), mi);
    gsl_vector_free(v);
    gsl_vector_free(w4);
    gsl_vector_free(w2);
    gsl_rng_free(r);
}

Test(truth, gaussian_pid_identities) {
    /* X1 ~ N(0,1), X2 = X1 + N(0, 0.5²) (redundant, noisier), Y = X1 + N(0,1) */
    double S[9] = {1, 1, 1, 1, 1.25, 1, 1, 1, 2};
    mr_pid p;
    mr_error e;
    cr_assert(mr_gauss_pid(S, 1, 1, &p, &e) == MR_OK);
    cr_assert(fabs(p.i1 - 0.5 * log(2.0)) < MR_TOL_CLOSED);                   /* I(X1;Y) = ½ ln 2 */
    cr_assert(fabs(p.i2 - 0.5 * log(2.0 / (2.0 - 1.0 / 1.25))) < MR_TOL_CLOSED); /* ½ ln(σy²/σ_{y|x2}²) */
    cr_assert(p.r == p.i2 && fabs(p.u1 - (p.i1 - p.i2)) < T_FEW_OPS && p.u2 == 0);
    cr_assert(fabs(p.r + p.u1 + p.u2 + p.s - p.i12) < MR_TOL_CLOSED, "the four parts add up to I(X1,X2;Y)");
    cr_assert(fabs(p.i12 - p.i1) < T_MANY_OPS && fabs(p.s) < T_MANY_OPS, "X2 adds nothing given X1 (Markov)");
}

Test(truth, samplers_have_the_stated_moments) {
    gsl_rng *r = t_rng(12);
    size_t n = 20000, d = 2;
    double *x = t_alloc(n * d), *y = t_alloc(n * d), *z = t_alloc(n * d);
    double rho = 0.7;
    mr_sample_staircase(r, n, d, rho, 0, x, y);
    double *xy = t_alloc(n), m, sd;
    for (size_t i = 0; i < n; i++) xy[i] = x[i * d] * y[i * d];
    mean_sd(xy, n, &m, &sd);
    cr_assert(fabs(m - rho) <= 4 * sd / sqrt((double)n), "E[xy] = ρ: %.4f", m);
    mr_sample_cmine_chain(r, n, 1, 10, 1, 5, x, y, z);
    for (size_t i = 0; i < n; i++) xy[i] = (z[i] - y[i]) * (z[i] - y[i]);
    mean_sd(xy, n, &m, &sd);
    cr_assert(fabs(m - 25) <= 4 * sd / sqrt((double)n), "Var(Z − Y) = σz²: %.3f", m);
    double *zz = t_alloc(n * 3), w[3] = {1, 0, 0};
    mr_sample_ccmi(r, n, 3, 0, w, x, y, zz);
    for (size_t i = 0; i < n; i++) xy[i] = (y[i] - x[i] - zz[i * 3]) * (y[i] - x[i] - zz[i * 3]);
    mean_sd(xy, n, &m, &sd);
    cr_assert(fabs(m - 0.01) <= 4 * sd / sqrt((double)n), "F: Var(Y − X − Z₁) = 0.01: %.5f", m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------ kNN estimators */

Test(knn_mi, ksg_independent_and_correlated) {
    gsl_rng *r = t_rng(13);
    size_t N = 800, R = 6;
    double *x = t_alloc(N), *y = t_alloc(N), est0[6], est1[6], m, sd;
    double rho = 0.6, truth = mr_staircase_mi(rho, 1);
    for (size_t k = 0; k < R; k++) {
        mr_sample_staircase(r, N, 1, 0.0, 0, x, y);
        est0[k] = mr_ksg_mi(x, 1, y, 1, N, 3);
        mr_sample_staircase(r, N, 1, rho, 0, x, y);
        est1[k] = mr_ksg_mi(x, 1, y, 1, N, 3);
    }
    mean_sd(est0, R, &m, &sd);
    /* independent variables: allowance 10% of the correlated case's truth */
    cr_assert(fabs(m) <= 4 * sd / sqrt((double)R) + 0.1 * truth, "KSG at I = 0: %.4f ± %.4f", m, sd);
    mean_sd(est1, R, &m, &sd);
    cr_assert(fabs(m - truth) <= 4 * sd / sqrt((double)R) + 0.1 * truth, "KSG at I = %.4f: %.4f ± %.4f", truth, m, sd);
    gsl_rng_free(r);
}

Test(knn_mi, frenzel_pompe_chain) {
    gsl_rng *r = t_rng(14);
    size_t N = 1500, R = 3;
    double *x = t_alloc(N), *y = t_alloc(N), *z = t_alloc(N), e1[3], e0[3], m, sd;
    double truth = mr_cmine_chain_cmi(10, 1, 5, 1);
    for (size_t k = 0; k < R; k++) {
        mr_sample_cmine_chain(r, N, 1, 10, 1, 5, x, y, z);
        e1[k] = mr_fp_cmi(x, 1, y, 1, z, 1, N, 5);
        e0[k] = mr_fp_cmi(x, 1, z, 1, y, 1, N, 5);
    }
    mean_sd(e1, R, &m, &sd);
    cr_assert(fabs(m - truth) <= 4 * sd / sqrt((double)R) + 0.1 * truth, "FP I(X;Y|Z): %.4f vs %.4f", m, truth);
    mean_sd(e0, R, &m, &sd);
    cr_assert(fabs(m) <= 4 * sd / sqrt((double)R) + 0.1 * truth, "FP I(X;Z|Y) = 0: %.4f", m);
    gsl_rng_free(r);
}

/* ------------------------------------------ bounds at the optimal critic */

/* For y = ρx + √(1−ρ²)ε (d = 1) the optimal critic is the log density ratio
 * f*(x, y) = log p(y|x) − log p(y). NWJ evaluated at f* + 1 (its optimum) is
 * an unbiased estimate of I; InfoNCE and interpolate at any critic are lower
 * bounds in expectation. */
Test(bounds, optimal_critic_recovers_mi) {
    gsl_rng *r = t_rng(15);
    size_t B = 64, R = 200;
    double rho = 0.7, I = mr_staircase_mi(rho, 1), s2 = 1 - rho * rho;
    double *x = t_alloc(B), *y = t_alloc(B), *S = t_alloc(B * B), *S1 = t_alloc(B * B);
    double *nwj = t_alloc(R), *nce = t_alloc(R), *itp = t_alloc(R), *dv = t_alloc(R);
    double *bw = t_alloc(mr_bound_work_size(B));
    for (size_t k = 0; k < R; k++) {
        mr_sample_staircase(r, B, 1, rho, 0, x, y);
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                double f = -(y[i] - rho * x[j]) * (y[i] - rho * x[j]) / (2 * s2) - 0.5 * log(s2) + 0.5 * y[i] * y[i];
                S[i * B + j] = f; /* rows index y, as the separate critic */
                S1[i * B + j] = f + 1;
            }
        nwj[k] = mr_bound_mi(MR_BOUND_NWJ, S1, B, NULL, NULL, NULL, NULL, 0, bw);
        nce[k] = mr_bound_mi(MR_BOUND_INFONCE, S, B, NULL, NULL, NULL, NULL, 0, bw);
        itp[k] = mr_bound_mi(MR_BOUND_INTERPOLATE, S, B, NULL, NULL, NULL, NULL, 0, bw);
        dv[k] = mr_bound_mi(MR_BOUND_DV, S, B, NULL, NULL, NULL, NULL, 0, bw);
    }
    double m, sd;
    mean_sd(nwj, R, &m, &sd);
    cr_assert(fabs(m - I) <= 4 * sd / sqrt((double)R), "NWJ at its optimal critic: %.4f ± %.4f vs I = %.4f", m, sd / sqrt((double)R), I);
    mean_sd(nce, R, &m, &sd);
    cr_assert(m <= I + 4 * sd / sqrt((double)R) && m <= log((double)B), "InfoNCE %.4f must stay below I = %.4f", m, I);
    cr_assert(m >= 4 * sd / sqrt((double)R), "InfoNCE at the optimal critic must be clearly positive: %.4f", m);
    mean_sd(itp, R, &m, &sd);
    cr_assert(m <= I + 4 * sd / sqrt((double)R), "interpolate %.4f must stay below I = %.4f", m, I);
    mean_sd(dv, R, &m, &sd);
    /* DV at f*: I − E[log mean_{i≠j} e^{f*}], the second term → 0 as B grows */
    cr_assert(fabs(m - I) <= 4 * sd / sqrt((double)R) + 0.1 * I, "DV at f*: %.4f vs %.4f", m, I);
    gsl_rng_free(r);
}

/* --------------------------------------- small-budget trained estimators */

Test(estimate, trained_critics_are_lower_bounds_that_learn, .timeout = 120) {
    mr_bound bounds[3] = {MR_BOUND_INFONCE, MR_BOUND_NWJ, MR_BOUND_JS};
    for (int b = 0; b < 3; b++) {
        mr_mi_run c;
        mr_mi_run_default(&c);
        c.bound = bounds[b];
        c.d = 2;
        c.hidden = 32;
        c.embed = 8;
        c.nlevels = 1;
        c.levels[0] = 0.5;
        c.steps_per_level = 600;
        c.lr = 2e-3;
        c.seed = 31 + b;
        mr_mi_result res;
        mr_error e;
        cr_assert(mr_run_mi(&c, &res, &e) == MR_OK, "%s", e.msg);
        double se = res.sd[0] / sqrt(300.0);
        cr_expect(res.mean[0] <= 0.5 + 4 * se, "%s: %.4f exceeds the truth 0.5 beyond 4 SE (%.4f)", mr_bound_name(c.bound), res.mean[0], se);
        cr_expect(res.mean[0] >= 4 * se, "%s: %.4f is not significantly above 0 (SE %.4f): nothing learned", mr_bound_name(c.bound), res.mean[0], se);
    }
}

Test(estimate, cmine_small_budget, .timeout = 120) {
    for (int zero = 0; zero < 2; zero++) {
        mr_cmi_run c;
        mr_cmi_run_default(&c);
        c.dist = zero ? MR_CMI_DIST_CMINE_ZERO : MR_CMI_DIST_CMINE;
        c.n_train = 6000;
        c.n_eval = 3000;
        c.epochs = 8;
        c.with_fp = 0;
        c.seed = 41 + zero;
        mr_cmi_result r;
        mr_error e;
        cr_assert(mr_run_cmi(&c, &r, &e) == MR_OK, "%s", e.msg);
        double chain = mr_cmine_chain_cmi(10, 1, 5, 1);
        for (int ro = MR_CMI_READ_NWJ; ro <= MR_CMI_READ_DV; ro++) {
            if (zero)
                cr_expect(fabs(r.est[ro]) <= 4 * r.se[ro] + 0.1 * chain, "%s at I = 0: %.4f (SE %.4f)",
                          mr_cmi_readout_name((mr_cmi_readout)ro), r.est[ro], r.se[ro]);
            else {
                cr_expect(r.est[ro] <= r.truth + 4 * r.se[ro], "%s: %.4f above the truth %.4f", mr_cmi_readout_name((mr_cmi_readout)ro), r.est[ro], r.truth);
                cr_expect(r.est[ro] >= 4 * r.se[ro], "%s: %.4f not significantly positive", mr_cmi_readout_name((mr_cmi_readout)ro), r.est[ro]);
            }
        }
    }
}

/* ------------------------------------------ `mimrl estimate` (ref/cli/cli_estimate.c) */


Test(estimate, cli_runs_and_refuses_bad_flags, .timeout = 120) {
    char out[16384], csv[512], args[1024];
    t_path(csv, sizeof csv, "traj.csv");
    snprintf(args, sizeof args, "estimate --dist staircase --d 2 --mi 0.5,1 --steps 50 --batch 16 --hidden 16 --embed 4 --bound nwj --csv %s", csv);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "0.5000") && strstr(out, "1.0000"), "truth printed beside the estimate: %s", out);
    size_t n;
    char *c = (char *)t_read_file(csv, &n);
    size_t lines = 0;
    for (size_t i = 0; c && i < n; i++) lines += c[i] == '\n';
    cr_assert(lines == 101, "header + 2 levels × 50 steps (%zu lines)", lines);
    free(c);
    cr_assert(t_run_cli("estimate --dist cmine --n-train 200 --n-eval 100 --epochs 1 --no-fp", out, sizeof out) == 0 && strstr(out, "1.5185"), "%s", out);
    cr_assert(t_run_cli("estimate --bound cpc", out, sizeof out) == 2 && strstr(out, "--bound"), "%s", out);
    cr_assert(t_run_cli("estimate --preset imagenet", out, sizeof out) == 2 && strstr(out, "--preset"), "%s", out);
    cr_assert(t_run_cli("estimate --mi 2,-1", out, sizeof out) == 2 && strstr(out, "--mi"), "%s", out);
    cr_assert(t_run_cli("verify-estimators --seeds 0", out, sizeof out) == 2, "%s", out);
}
