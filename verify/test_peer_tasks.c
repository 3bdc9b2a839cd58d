/* test_peer_tasks.c — the peer benchmark tasks (estimators/peer_tasks.h):
 * every truth against an independent computation (Gaussian log-determinants
 * through Cholesky, numeric integration for the 1×1 tasks, Monte Carlo of the
 * log-density ratio for the Student-t tasks), and every generator's sample
 * moments or known marginals.
 *
 * Statistical thresholds (as in test_truth.c): a mean of n independent draws
 * whose single-draw standard deviation is σ (known in closed form below, or
 * the sample's s) is accepted within 4·σ/√n of its expectation (false-alarm
 * probability < 1e-4 per check under normality). */
#include <criterion/criterion.h>
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/peer_tasks.h"
#include "estimators/truth.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

/* Cholesky log-determinants of matrices up to 50×50 with condition number
 * ≤ 51 (the equicorrelation matrix with c = 0.5: eigenvalues 0.5 and
 * 1 + 49·0.5): each log-det errs by ≤ n²·ε·κ = 2500·2.2e-16·51 = 2.8e-11;
 * three of them combined → 1e-10. */
#define T_LOGDET_50 1e-10

static const mr_peer_task *task(const char *name) {
    const mr_peer_task *t = mr_peer_task_find(name);
    cr_assert(t, "task %s", name);
    return t;
}

/* mean of v[i·stride + off] over n rows */
static double col_mean(const double *v, size_t n, size_t stride, size_t off) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m += v[i * stride + off];
    return m / (double)n;
}

static double prod_mean(const double *a, size_t sa, size_t oa, const double *b, size_t sb, size_t ob, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m += a[i * sa + oa] * b[i * sb + ob];
    return m / (double)n;
}

#define NS 20000
#define WITHIN(v, want, sigma) cr_assert(fabs((v) - (want)) < 4.0 * (sigma) / sqrt((double)NS), "%s = %.6f, expected %.6f ± 4·%.4f/√n", #v, (v), (want), (sigma))

static void sample(const char *name, double **x, double **y, double **z, size_t *dx, size_t *dy, size_t *dz, unsigned long seed) {
    const mr_peer_task *t = task(name);
    mr_peer_dims(t, dx, dy, dz);
    *x = t_alloc(NS * *dx), *y = t_alloc(NS * *dy), *z = t_alloc(NS * (*dz ? *dz : 1)); /* freed at exit (helpers.h) */
    gsl_rng *r = t_rng(seed);
    mr_peer_sample(t, r, NS, *x, *y, *z);
    gsl_rng_free(r);
    for (size_t i = 0; i < NS * *dx; i++) cr_assert(isfinite((*x)[i]), "%s x[%zu] not finite", name, i);
    for (size_t i = 0; i < NS * *dy; i++) cr_assert(isfinite((*y)[i]), "%s y[%zu] not finite", name, i);
}

Test(peer_tasks, gaussian_truths_against_cholesky_logdets) {
    mr_error e;
    /* dense d×d: Σ = 0.5 everywhere off the diagonal */
    size_t dims[2] = {5, 25};
    for (int k = 0; k < 2; k++) {
        size_t d = dims[k], n = 2 * d;
        double *S = t_alloc(n * n);
        size_t ix[25], iy[25];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) S[i * n + j] = i == j ? 1 : 0.5;
        for (size_t i = 0; i < d; i++) ix[i] = i, iy[i] = d + i;
        double mi;
        cr_assert(mr_gauss_mi(S, n, ix, d, iy, d, &mi, &e) == MR_OK);
        char name[32];
        snprintf(name, sizeof name, "dense-%zux%zu", d, d);
        cr_assert(fabs(mr_peer_truth(task(name)) - mi) < T_LOGDET_50, "%s: %.12f vs %.12f", name, mr_peer_truth(task(name)), mi);
        /* 2-pair: corr(X_i, Y_i) = 0.8 for i < 2, identity otherwise; the same truth for every transform */
        for (size_t i = 0; i < n * n; i++) S[i] = 0;
        for (size_t i = 0; i < n; i++) S[i * n + i] = 1;
        for (size_t i = 0; i < 2; i++) S[i * n + d + i] = S[(d + i) * n + i] = 0.8;
        cr_assert(mr_gauss_mi(S, n, ix, d, iy, d, &mi, &e) == MR_OK);
        const char *fmt[3] = {"2pair-%zux%zu", "2pair-cdf-%zux%zu", "2pair-spiral-%zux%zu"};
        for (int v = 0; v < 3; v++) {
            snprintf(name, sizeof name, fmt[v], d, d);
            cr_assert(fabs(mr_peer_truth(task(name)) - mi) < T_LOGDET_50, "%s", name);
        }

    }
    /* tigramite: (X, Y, Z1, Z2, Z3) with X = A + 0.5ΣZ, Y = B + 0.7ΣZ, corr(A, B) = ρ:
     * Var X = 1 + 3·0.25, Var Y = 1 + 3·0.49, Cov(X, Y) = ρ + 3·0.35, Cov(X, Z_k) = 0.5, Cov(Y, Z_k) = 0.7 */
    double rhos[2] = {0.3, 0.6};
    const char *tn[2] = {"tigramite-0.3", "tigramite-0.6"};
    for (int k = 0; k < 2; k++) {
        double S[25] = {0};
        S[0] = 1.75, S[6] = 2.47, S[1] = S[5] = rhos[k] + 1.05;
        for (int j = 2; j < 5; j++) S[j * 5 + j] = 1, S[j] = S[j * 5] = 0.5, S[5 + j] = S[j * 5 + 1] = 0.7;
        size_t ix[1] = {0}, iy[1] = {1}, iz[3] = {2, 3, 4};
        double cmi;
        cr_assert(mr_gauss_cmi(S, 5, ix, 1, iy, 1, iz, 3, &cmi, &e) == MR_OK);
        cr_assert(fabs(mr_peer_truth(task(tn[k])) - cmi) < T_LOGDET_50, "%s: %.12f vs %.12f", tn[k], mr_peer_truth(task(tn[k])), cmi);
    }
    cr_assert(fabs(mr_peer_truth(task("ccmi1-dz20")) - 0.5 * log(101.0)) < MR_TOL_CLOSED);
}

/* The bivariate normal truth by a 2-D midpoint rule of p·ln(p/(p_x p_y)) on
 * [−10, 10]², h = 0.02. The integrand is analytic and decays like a Gaussian,
 * so the rule converges geometrically in 1/h (Trefethen & Weideman, SIAM
 * Review 2014): with a strip of analyticity of half-width ≥ 0.5 the
 * discretisation error is ~e^{−2π·0.5/h} — negligible; the truncated mass
 * beyond 10 standard deviations is < e^{−50}·100. Summing 10⁶ terms of
 * magnitude ≤ 1 adds ≤ 10⁶·ε = 2e-10 of rounding. Allowed: 1e-8. */
#define T_QUAD_2D 1e-8
Test(peer_tasks, binormal_truth_by_integration) {
    double rho = 0.75, h = 0.02, acc = 0, c = 1 - rho * rho;
    for (double u = -10 + h / 2; u < 10; u += h)
        for (double v = -10 + h / 2; v < 10; v += h) {
            double lp = -log(2 * M_PI * sqrt(c)) - (u * u - 2 * rho * u * v + v * v) / (2 * c);
            double lq = -log(2 * M_PI) - (u * u + v * v) / 2;
            acc += exp(lp) * (lp - lq);
        }
    acc *= h * h;
    const char *same[] = {"binormal-1x1", "normal-cdf-1x1", "half-cube-1x1", "wiggly-1x1", "bimodal-1x1", "swiss-roll-2x1"};
    for (int k = 0; k < 6; k++)
        cr_assert(fabs(mr_peer_truth(task(same[k])) - acc) < T_QUAD_2D, "%s: %.12f vs quadrature %.12f", same[k], mr_peer_truth(task(same[k])), acc);
}

/* The additive-uniform truth as h(Y) − h(N) with h(Y) = −∫ p ln p by the
 * midpoint rule, p the trapezoid density of Y = X + N, N ~ U(−ε, ε):
 * p(y) = (min(1, y + ε) − max(0, y − ε))⁺ / (2ε). With the kinks on cell
 * edges, the error comes from the ramps where p ln p behaves like t ln t:
 * the midpoint rule on t ln t over [0, a] with step h errs by ≤ h²(1 + |ln h|)
 * per ramp (the second derivative 1/t is integrable against the rule's
 * h²-kernel except in the first cell, bounded by h²|ln h|); 4 ramps, h = 1e-6:
 * 4·1e-12·15 = 6e-11; summing ~10⁶ terms adds ≤ 10⁶·ε·2 = 4e-10. Allowed 1e-8. */
#define T_QUAD_1D 1e-8
Test(peer_tasks, additive_truth_by_integration) {
    double eps[2] = {0.1, 0.75};
    const char *tn[2] = {"additive-0.1-1x1", "additive-0.75-1x1"};
    for (int k = 0; k < 2; k++) {
        double e = eps[k], h = 1e-6, hy = 0;
        long n = lround((1 + 2 * e) / h);
        for (long i = 0; i < n; i++) {
            double yv = -e + ((double)i + 0.5) * h;
            double p = ((yv + e < 1 ? yv + e : 1) - (yv - e > 0 ? yv - e : 0)) / (2 * e);
            if (p > 0) hy -= p * log(p);
        }
        hy *= h;
        double mi = hy - log(2 * e);
        cr_assert(fabs(mr_peer_truth(task(tn[k])) - mi) < T_QUAD_1D, "%s: %.12f vs %.12f", tn[k], mr_peer_truth(task(tn[k])), mi);
    }
    cr_assert(fabs(mr_peer_additive_mi(0.5) - 0.5) < T_FEW_OPS); /* both branches meet at ε = ½ */
}

/* Student t: Monte Carlo of E[ln p(x,y) − ln p(x) − ln p(y)] with the
 * multivariate t densities (dispersion I, ν degrees of freedom):
 * ln p(v) = lnΓ((ν+p)/2) − lnΓ(ν/2) − (p/2) ln(νπ) − ((ν+p)/2) ln(1 + ‖v‖²/ν);
 * the marginals are t in d dimensions with the same ν. asinh does not change
 * MI, so the samples are taken before it. */
static double log_t(const double *v, size_t p, double nu) {
    double r2 = 0;
    for (size_t k = 0; k < p; k++) r2 += v[k] * v[k];
    return gsl_sf_lngamma((nu + (double)p) / 2) - gsl_sf_lngamma(nu / 2) - ((double)p / 2) * log(nu * M_PI) -
           ((nu + (double)p) / 2) * log1p(r2 / nu);
}

Test(peer_tasks, student_truth_by_monte_carlo) {
    struct { const char *name; size_t d; double nu; } cs[2] = {{"asinh-student-1x1-nu1", 1, 1}, {"asinh-student-3x3-nu2", 3, 2}};
    gsl_rng *r = t_rng(2101);
    for (int k = 0; k < 2; k++) {
        size_t d = cs[k].d, M = 400000;
        double nu = cs[k].nu, s1 = 0, s2 = 0, v[6];
        for (size_t i = 0; i < M; i++) {
            double w = sqrt(nu / gsl_ran_chisq(r, nu));
            for (size_t j = 0; j < 2 * d; j++) v[j] = gsl_ran_gaussian(r, 1.0) * w;
            double l = log_t(v, 2 * d, nu) - log_t(v, d, nu) - log_t(v + d, d, nu);
            s1 += l, s2 += l * l;
        }
        double m = s1 / (double)M, sd = sqrt((s2 - (double)M * m * m) / (double)(M - 1));
        double truth = mr_peer_truth(task(cs[k].name));
        cr_assert(fabs(truth - m) < 4 * sd / sqrt((double)M), "%s: closed form %.6f, Monte Carlo %.6f ± %.6f", cs[k].name, truth, m,
                  sd / sqrt((double)M));
    }
    gsl_rng_free(r);
}

Test(peer_tasks, transforms_are_injective_and_bimodal_inverse_exact) {
    /* f′ > 0 on a fine grid (analytic lower bounds in peer_tasks.h) */
    for (double t = -20; t < 20; t += 1e-3) {
        cr_assert(mr_peer_wiggly_x(t + 1e-3) > mr_peer_wiggly_x(t), "wiggly x not increasing at %g", t);
        cr_assert(mr_peer_wiggly_y(t + 1e-3) > mr_peer_wiggly_y(t), "wiggly y not increasing at %g", t);
        cr_assert(mr_peer_half_cube(t + 1e-3) > mr_peer_half_cube(t));
    }
    /* F(F⁻¹(Φ(g))) = Φ(g): bisection to 1e-13·(1 + |t|) in t moves F by at
     * most that times the density (≤ 0.4): ≤ 0.4·1e-13·61 = 2.4e-12 → 1e-11 */
    for (double g = -8; g <= 8; g += 0.25) {
        double t0 = mr_peer_bimodal_icdf(0, g), t1 = mr_peer_bimodal_icdf(1, g);
        double F0 = 0.3 * gsl_cdf_ugaussian_P(t0) + 0.7 * gsl_cdf_ugaussian_P(t0 - 5);
        double F1 = 0.5 * gsl_cdf_ugaussian_P(t1 + 1) + 0.5 * gsl_cdf_ugaussian_P(t1 - 3);
        double P = gsl_cdf_ugaussian_P(g);
        cr_assert(fabs(F0 - P) < 1e-11 && fabs(F1 - P) < 1e-11, "g = %g: %.3e %.3e", g, F0 - P, F1 - P);
    }
}

Test(peer_tasks, generator_moments) {
    double *x, *y, *z;
    size_t dx, dy, dz;
    /* binormal: E[xy] = 0.75, sd(xy) = √(1 + ρ²) */
    sample("binormal-1x1", &x, &y, &z, &dx, &dy, &dz, 1);
    WITHIN(prod_mean(x, 1, 0, y, 1, 0, NS), 0.75, sqrt(1 + 0.5625));

    /* normal-cdf: uniform margins, mean ½, sd √(1/12) */
    sample("normal-cdf-1x1", &x, &y, &z, &dx, &dy, &dz, 2);
    WITHIN(col_mean(x, NS, 1, 0), 0.5, sqrt(1.0 / 12));
    WITHIN(col_mean(y, NS, 1, 0), 0.5, sqrt(1.0 / 12));

    /* half-cube: E[h(G)²] = E|G|³ = 2√(2/π); sd(|G|³) = √(15 − 8/π) */
    sample("half-cube-1x1", &x, &y, &z, &dx, &dy, &dz, 3);
    WITHIN(prod_mean(x, 1, 0, x, 1, 0, NS), 2 * sqrt(2 / M_PI), sqrt(15 - 8 / M_PI));

    /* wiggly: P(X ≤ f(0)) = ½ */
    sample("wiggly-1x1", &x, &y, &z, &dx, &dy, &dz, 4);
    double c = 0;
    for (size_t i = 0; i < NS; i++) c += x[i] <= mr_peer_wiggly_x(0);
    WITHIN(c / NS, 0.5, 0.5);

    /* bimodal: P(X > 2.5) = 0.3 Q(2.5) + 0.7 Q(−2.5) */
    sample("bimodal-1x1", &x, &y, &z, &dx, &dy, &dz, 5);
    double p = 0.3 * gsl_cdf_ugaussian_Q(2.5) + 0.7 * gsl_cdf_ugaussian_Q(-2.5);
    c = 0;
    for (size_t i = 0; i < NS; i++) c += x[i] > 2.5;
    WITHIN(c / NS, p, sqrt(p * (1 - p)));

    /* swiss roll: 21‖x‖ = t ∈ [1.5π, 4.5π] with x = (t cos t, t sin t)/21; u = (t/1.5π − 1)/2 uniform */
    sample("swiss-roll-2x1", &x, &y, &z, &dx, &dy, &dz, 6);
    cr_assert(dx == 2 && dy == 1);
    double um = 0;
    for (size_t i = 0; i < NS; i++) {
        double t = 21 * hypot(x[2 * i], x[2 * i + 1]);
        cr_assert(t >= 1.5 * M_PI - 1e-12 && t <= 4.5 * M_PI + 1e-12);
        cr_assert(fabs(x[2 * i] - t * cos(t) / 21) < 1e-12 && fabs(x[2 * i + 1] - t * sin(t) / 21) < 1e-12);
        um += (t / (1.5 * M_PI) - 1) / 2;
    }
    WITHIN(um / NS, 0.5, sqrt(1.0 / 12));

    /* additive ε = 0.1: mean ½, variance 1/12 + ε²/3 */
    sample("additive-0.1-1x1", &x, &y, &z, &dx, &dy, &dz, 7);
    WITHIN(col_mean(y, NS, 1, 0), 0.5, sqrt(1.0 / 12 + 0.01 / 3));
    for (size_t i = 0; i < NS; i++) cr_assert(fabs(y[i] - x[i]) <= 0.1);

    /* dense 5×5: every pair correlated 0.5; sd of a product of two unit normals with correlation c is √(1 + c²) */
    sample("dense-5x5", &x, &y, &z, &dx, &dy, &dz, 8);
    WITHIN(prod_mean(x, 5, 0, y, 5, 3, NS), 0.5, sqrt(1.25));
    WITHIN(prod_mean(x, 5, 1, x, 5, 4, NS), 0.5, sqrt(1.25));
    WITHIN(prod_mean(x, 5, 2, x, 5, 2, NS), 1.0, sqrt(2.0));

    /* 2-pair 25×25: corr(X_i, Y_i) = 0.8 for i < 2, 0 otherwise */
    sample("2pair-25x25", &x, &y, &z, &dx, &dy, &dz, 9);
    WITHIN(prod_mean(x, 25, 0, y, 25, 0, NS), 0.8, sqrt(1.64));
    WITHIN(prod_mean(x, 25, 1, y, 25, 1, NS), 0.8, sqrt(1.64));
    WITHIN(prod_mean(x, 25, 7, y, 25, 7, NS), 0.0, 1.0);

    /* 2-pair cdf: uniform margins */
    sample("2pair-cdf-5x5", &x, &y, &z, &dx, &dy, &dz, 10);
    WITHIN(col_mean(x, NS, 5, 4), 0.5, sqrt(1.0 / 12));

    /* spiral 5×5: ‖x‖² ~ χ²_5 (mean 5, sd √10); rotating back by −‖x‖²/d
     * recovers the 2-pair Gaussian: E[x₀y₀] = 0.8 (y rotated in the plane (1, 2)) */
    sample("2pair-spiral-5x5", &x, &y, &z, &dx, &dy, &dz, 11);
    double r2m = 0, back = 0;
    for (size_t i = 0; i < NS; i++) {
        double *a = x + 5 * i, *b = y + 5 * i, ra = 0, rb = 0;
        for (int k = 0; k < 5; k++) ra += a[k] * a[k], rb += b[k] * b[k];
        r2m += ra;
        double ta = -ra / 5, tb = -rb / 5;
        double a0 = cos(ta) * a[0] - sin(ta) * a[1];
        double b1 = cos(tb) * b[1] - sin(tb) * b[2];
        (void)b1;
        back += a0 * b[0]; /* y's coordinate 0 is outside its rotation plane */
    }
    WITHIN(r2m / NS, 5.0, sqrt(10.0));
    WITHIN(back / NS, 0.8, sqrt(1.64));

    /* asinh ∘ Student-t, ν = 1: sinh recovers a Cauchy margin, P(|T| > 1) = ½;
     * ν = 2: P(|T| > 1) = 1 − 1/√3 */
    sample("asinh-student-1x1-nu1", &x, &y, &z, &dx, &dy, &dz, 12);
    c = 0;
    for (size_t i = 0; i < NS; i++) c += fabs(sinh(x[i])) > 1;
    WITHIN(c / NS, 0.5, 0.5);

    sample("asinh-student-3x3-nu2", &x, &y, &z, &dx, &dy, &dz, 13);
    p = 1 - 1 / sqrt(3.0);
    c = 0;
    for (size_t i = 0; i < NS; i++) c += fabs(sinh(y[3 * i + 2])) > 1;
    WITHIN(c / NS, p, sqrt(p * (1 - p)));

    /* tigramite ρ = 0.6: E[x z_k] = 0.5, E[y z_k] = 0.7 (sd √(Var·1 + c²)) */
    sample("tigramite-0.6", &x, &y, &z, &dx, &dy, &dz, 14);
    cr_assert(dz == 3);
    WITHIN(prod_mean(x, 1, 0, z, 3, 1, NS), 0.5, sqrt(1.75 + 0.25));
    WITHIN(prod_mean(y, 1, 0, z, 3, 2, NS), 0.7, sqrt(2.47 + 0.49));
    WITHIN(prod_mean(x, 1, 0, y, 1, 0, NS), 0.6 + 1.05, sqrt(1.75 * 2.47 + 1.65 * 1.65));

    /* CCMI model I: Y − X − Z₁ ~ N(0, 0.1²) */
    sample("ccmi1-dz20", &x, &y, &z, &dx, &dy, &dz, 15);
    cr_assert(dz == 20);
    double res = 0;
    for (size_t i = 0; i < NS; i++) res += (y[i] - x[i] - z[20 * i]) * (y[i] - x[i] - z[20 * i]);
    WITHIN(res / NS, 0.01, 0.01 * sqrt(2.0));

}

/* ------------------------------------------------------------ DINE linear-Gaussian tasks */

static size_t dine_tasks(const mr_peer_task **out, size_t max) {
    const mr_peer_task *all;
    size_t n = mr_peer_tasks(&all), k = 0;
    for (size_t i = 0; i < n; i++)
        if (all[i].kind == MR_PT_DINE_LIN && k < max) out[k++] = &all[i];
    return k;
}

Test(peer_tasks, dine_grid_names_match_parameters) {
    const mr_peer_task *t[32];
    size_t n = dine_tasks(t, 32), quick = 0;
    cr_assert(n == 12, "the grid d ∈ {1,5} × d_z ∈ {1,5,20} × ρ ∈ {0.2,0.6} has 12 tasks, found %zu", n);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "dine-lin-d%zu-dz%zu-r%.1f", t[i]->d, t[i]->dz, t[i]->p1);
        cr_assert(!strcmp(name, t[i]->name), "%s has parameters of %s", t[i]->name, name);
        cr_assert(mr_peer_is_cmi(t[i]));
        size_t dx, dy, dz;
        mr_peer_dims(t[i], &dx, &dy, &dz);
        cr_assert(dx == t[i]->d && dy == t[i]->d && dz == t[i]->dz, "%s dims %zu %zu %zu", name, dx, dy, dz);
        quick += t[i]->quick;
    }
    cr_assert(quick >= 2, "at least two DINE tasks in --quick");
}

/* Truth against the Gaussian CMI of the joint covariance of
 * (D_x(X0 + ZA), D_y(Y0 + ZB), Z) by log-determinants (mr_gauss_cmi), with
 * Cov Z = σ²I (σ = 0.01), Cov(X0 + ZA) = I + σ²AᵀA, Cov(X0 + ZA, Y0 + ZB) =
 * ρI + σ²AᵀB, Cov(X0 + ZA, Z) = σ²Aᵀ, and D_x, D_y arbitrary positive diagonal
 * scalings (the transform's a/std): no formula of peer_tasks.c is used.
 * Tolerance: Cholesky's backward error is componentwise relative to the
 * diagonal, |ΔS_ij| ≤ (n+1)ε√(S_ii S_jj) (Demmel 1989), so with S̃ the
 * matrix scaled to unit diagonal each log-det errs by
 * ≤ ‖S̃⁻¹‖·‖ΔS̃‖_* ≤ n·n(n+1)ε/λ_min(S̃) (also for its principal submatrices,
 * whose λ_min is ≥ that of S̃ by interlacing); the CMI combines four log-dets
 * with weight ½: ≤ 2n²(n+1)ε/λ_min. λ_min is bounded below by Gershgorin on
 * S̃ (computed here; the test fails if that bound is not positive). */
Test(peer_tasks, dine_truth_against_gaussian_logdets) {
    const mr_peer_task *t[32];
    size_t nt = dine_tasks(t, 32);
    cr_assert(nt > 0);
    gsl_rng *r = t_rng(31);
    mr_error e;
    const double sg = 0.01;
    for (size_t ti = 0; ti < nt; ti++) {
        size_t d = t[ti]->d, dz = t[ti]->dz, n = 2 * d + dz;
        double rho = t[ti]->p1;
        double *A = t_alloc(dz * d), *B = t_alloc(dz * d), *D = t_alloc(2 * d), *S = t_alloc(n * n);
        for (size_t i = 0; i < dz * d; i++) A[i] = gsl_ran_gaussian(r, 1.0), B[i] = gsl_ran_gaussian(r, 1.0);
        for (size_t i = 0; i < 2 * d; i++) D[i] = 0.1 + 10 * gsl_rng_uniform(r);
        /* M is the (d+d)×dz loading of (U, V) on Z: U = X0 + ZA → row k of M = column k of A */
        for (size_t p = 0; p < n; p++)
            for (size_t q = 0; q < n; q++) {
                double v;
                if (p < 2 * d && q < 2 * d) {
                    const double *Mp = p < d ? A : B, *Mq = q < d ? A : B;
                    size_t kp = p % d, kq = q % d;
                    double zz = 0;
                    for (size_t j = 0; j < dz; j++) zz += Mp[j * d + kp] * Mq[j * d + kq];
                    double base = p == q ? 1 : (kp == kq ? rho : 0); /* Cov(X0_k, Y0_k) = ρ */
                    v = D[p] * D[q] * (base + sg * sg * zz);
                } else if (p < 2 * d) {
                    v = D[p] * sg * sg * (p < d ? A : B)[(q - 2 * d) * d + p % d];
                } else if (q < 2 * d) {
                    v = D[q] * sg * sg * (q < d ? A : B)[(p - 2 * d) * d + q % d];
                } else
                    v = p == q ? sg * sg : 0;
                S[p * n + q] = v;
            }
        double lmin = 1;
        for (size_t p = 0; p < n; p++) {
            double off = 0;
            for (size_t q = 0; q < n; q++)
                if (q != p) off += fabs(S[p * n + q]) / sqrt(S[p * n + p] * S[q * n + q]);
            if (1 - off < lmin) lmin = 1 - off;
        }
        cr_assert(lmin > 0, "%s: Gershgorin gives no positive lower bound (%g)", t[ti]->name, lmin);
        size_t ix[5], iy[5], iz[20];
        for (size_t k = 0; k < d; k++) ix[k] = k, iy[k] = d + k;
        for (size_t j = 0; j < dz; j++) iz[j] = 2 * d + j;
        double cmi;
        cr_assert(mr_gauss_cmi(S, n, ix, d, iy, d, iz, dz, &cmi, &e) == MR_OK, "%s: %s", t[ti]->name, e.msg);
        double tol = 2.0 * (double)(n * n * (n + 1)) * DBL_EPSILON / lmin;
        double want = mr_peer_truth(t[ti]);
        cr_assert(fabs(want - cmi) < tol, "%s: truth %.15f vs log-dets %.15f (tol %.2e)", t[ti]->name, want, cmi, tol);
        cr_assert(fabs(want + 0.5 * (double)d * log(1 - rho * rho)) < MR_TOL_CLOSED);
    }
    gsl_rng_free(r);
}

/* The generator: the task wiring equals the documented generator; the
 * transform's output has per-coordinate std (divisor n) exactly a ∈ [0.2, 2]
 * (two-pass variance over n = 2·10⁴ rows: relative rounding ≤ n·ε ≈ 4.4e-12;
 * allowed 1e-10); X0 = x/s_x − zA and Y0 = y/s_y − zB recovered from the
 * returned A, B, s have the moments of the definition (WITHIN: 4σ/√n with σ
 * the single-draw sd: X0_k, 1; X0_k², √2; X0_k·Y0_k with correlation ρ,
 * √(1 + ρ²); X0_0·Y0_1, 1; z_j², √2·10⁻⁴; X0_k·z_j, 0.01). */
Test(peer_tasks, dine_generator_moments) {
    const char *names[2] = {"dine-lin-d5-dz20-r0.6", "dine-lin-d1-dz1-r0.2"};
    for (int tn = 0; tn < 2; tn++) {
        const mr_peer_task *t = task(names[tn]);
        size_t d = t->d, dz = t->dz;
        double rho = t->p1;
        double *x = t_alloc(NS * d), *y = t_alloc(NS * d), *z = t_alloc(NS * dz);
        double *x2 = t_alloc(NS * d), *y2 = t_alloc(NS * d), *z2 = t_alloc(NS * dz);
        double *A = t_alloc(dz * d), *B = t_alloc(dz * d), *sx = t_alloc(d), *sy = t_alloc(d), ax, ay;
        gsl_rng *r = t_rng(40 + (unsigned long)tn);
        mr_peer_dine_sample(r, NS, d, dz, rho, x, y, z, A, B, sx, sy, &ax, &ay);
        gsl_rng_free(r);
        r = t_rng(40 + (unsigned long)tn);
        mr_peer_sample(t, r, NS, x2, y2, z2);
        gsl_rng_free(r);
        cr_assert(!memcmp(x, x2, NS * d * sizeof *x) && !memcmp(y, y2, NS * d * sizeof *y) && !memcmp(z, z2, NS * dz * sizeof *z),
                  "%s: mr_peer_sample differs from mr_peer_dine_sample", names[tn]);
        cr_assert(ax >= 0.2 && ax <= 2 && ay >= 0.2 && ay <= 2, "a_x = %g, a_y = %g", ax, ay);
        for (size_t k = 0; k < d; k++) {
            double mx = col_mean(x, NS, d, k), my = col_mean(y, NS, d, k), vx = 0, vy = 0;
            for (size_t i = 0; i < NS; i++) vx += (x[i * d + k] - mx) * (x[i * d + k] - mx), vy += (y[i * d + k] - my) * (y[i * d + k] - my);
            cr_assert(fabs(sqrt(vx / NS) / ax - 1) < 1e-10 && fabs(sqrt(vy / NS) / ay - 1) < 1e-10, "%s std %zu: %.15g/%.15g, %.15g/%.15g",
                      names[tn], k, sqrt(vx / NS), ax, sqrt(vy / NS), ay);
        }
        /* recover X0, Y0 in place */
        for (size_t i = 0; i < NS; i++)
            for (size_t k = 0; k < d; k++) {
                double za = 0, zb = 0;
                for (size_t j = 0; j < dz; j++) za += z[i * dz + j] * A[j * d + k], zb += z[i * dz + j] * B[j * d + k];
                x[i * d + k] = x[i * d + k] / sx[k] - za;
                y[i * d + k] = y[i * d + k] / sy[k] - zb;
            }
        for (size_t k = 0; k < d; k++) {
            WITHIN(col_mean(x, NS, d, k), 0.0, 1.0);
            WITHIN(prod_mean(x, d, k, x, d, k, NS), 1.0, sqrt(2.0));
            WITHIN(prod_mean(y, d, k, y, d, k, NS), 1.0, sqrt(2.0));
            WITHIN(prod_mean(x, d, k, y, d, k, NS), rho, sqrt(1 + rho * rho));
            WITHIN(prod_mean(x, d, k, z, dz, dz - 1, NS), 0.0, 0.01);
        }
        if (d > 1) WITHIN(prod_mean(x, d, 0, y, d, 1, NS), 0.0, 1.0);
        for (size_t j = 0; j < dz; j++) WITHIN(prod_mean(z, dz, j, z, dz, j, NS), 1e-4, sqrt(2.0) * 1e-4);
    }
}
