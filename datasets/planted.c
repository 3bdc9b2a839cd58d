/* planted.c — see planted.h. */
#include "datasets/planted.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const mr_planted_term_names[MR_PT_NTERMS] = {"I(T;Y)",   "I(A;Y)",   "I(V;Y)",   "I(T;A)",
                                                         "I(T;V)",   "I(A;Y|T)", "I(V;Y|T)", "I(T;Y|A)",
                                                         "I(T;Y|V)", "I(T;A|Y)", "I(T;V|Y)"};
const char *const mr_planted_comp_names[MR_PT_NCOMP] = {"fus_T", "fus_A", "fus_V", "inv", "spec_T", "spec_A", "spec_V", "comp"};
const char *const mr_planted_pair_names[MR_PT_NPAIRS] = {"T,A", "T,V", "A,V"};

void mr_planted_default(mr_planted_model *m) {
    m->redundancy = 1.0;
    m->c_s = 0.8, m->c_t = 0.6, m->c_a = 0.4, m->c_v = 0.4;
    m->g_ta = 0.0, m->g_tv = 0.0, m->g_av = 0.6;
    m->sigma_o = 0.5, m->sigma_n = 0.0, m->sigma_y = 0.3;
}

int mr_planted_has_wt(const mr_planted_model *m) { return m->g_ta != 0.0 || m->g_tv != 0.0; }

/* The largest label sd accepted: the labels are clipped to [−3, 3] (MOSI/MOSEI)
 * or 12 + 4y to [0, 24] (AVEC), i.e. |y| ≤ 3 in both; at sd 3 a third of the
 * labels would already sit on the clip bounds. */
#define MR_PT_MAX_LABEL_SD 3.0

int mr_planted_check(const mr_planted_model *m, mr_error *e) {
    struct {
        const char *flag;
        double v;
        int strict; /* 1: must be > 0 */
    } k[] = {{"--redundancy", m->redundancy, 0}, {"--mix (c_s)", m->c_s, 0},  {"--unique-t", m->c_t, 0},
             {"--unique-a", m->c_a, 0},        {"--unique-v", m->c_v, 0},     {"--synergy-ta", m->g_ta, 0},
             {"--synergy-tv", m->g_tv, 0},     {"--synergy-av", m->g_av, 0},  {"--sigma-o", m->sigma_o, 1},
             {"--obs-noise", m->sigma_n, 0},   {"--sigma-y", m->sigma_y, 1}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        if (!isfinite(k[i].v)) return mr_fail(e, MR_EINVAL, "%s must be a finite number (got %g)", k[i].flag, k[i].v);
        if (k[i].v < 0 || (k[i].strict && k[i].v == 0))
            return mr_fail(e, MR_EINVAL, "%s must be %s (got %g)", k[i].flag, k[i].strict ? "positive" : "non-negative", k[i].v);
    }
    if (m->g_ta != 0 && m->g_tv != 0 && m->g_av != 0)
        return mr_fail(e, MR_EINVAL,
                       "--synergy-ta, --synergy-tv and --synergy-av cannot all be non-zero (the ground truth integrates over the "
                       "one synergy latent shared by every product; set one of them to 0)");
    double lam = m->redundancy;
    double var = m->c_s * m->c_s * lam * lam + m->c_t * m->c_t + m->c_a * m->c_a + m->c_v * m->c_v + m->g_ta * m->g_ta +
                 m->g_tv * m->g_tv + m->g_av * m->g_av + m->sigma_y * m->sigma_y;
    if (sqrt(var) > MR_PT_MAX_LABEL_SD)
        return mr_fail(e, MR_EINVAL,
                       "the label would be degenerate: sd(y) = %.3g > %g (most labels clipped to the label range); lower "
                       "--redundancy, --unique-t/-a/-v, --synergy-ta/-tv/-av, --mix or --sigma-y",
                       sqrt(var), MR_PT_MAX_LABEL_SD);
    return MR_OK;
}

void mr_planted_draw(const mr_planted_model *m, gsl_rng *r, double *T, double *A, double *V, double *y) {
    double s = gsl_ran_gaussian(r, 1), ut = gsl_ran_gaussian(r, 1), ua = gsl_ran_gaussian(r, 1), uv = gsl_ran_gaussian(r, 1);
    double wa = gsl_ran_gaussian(r, 1), wv = gsl_ran_gaussian(r, 1);
    double lam = m->redundancy;
    T[0] = lam * s + m->sigma_o * gsl_ran_gaussian(r, 1);
    T[1] = ut;
    A[0] = lam * s + m->sigma_o * gsl_ran_gaussian(r, 1);
    A[1] = ua;
    A[2] = wa;
    V[0] = lam * s + m->sigma_o * gsl_ran_gaussian(r, 1);
    V[1] = uv;
    V[2] = wv;
    /* λ = 1: c_s·λ = c_s exactly, so the historical y is reproduced bit for bit */
    *y = m->c_s * lam * s + m->c_t * ut + m->c_a * ua + m->c_v * uv + m->g_av * wa * wv + m->sigma_y * gsl_ran_gaussian(r, 1);
    int kt = 2;
    if (mr_planted_has_wt(m)) {
        double wt = gsl_ran_gaussian(r, 1);
        T[2] = wt;
        kt = 3;
        *y += m->g_ta * wt * wa + m->g_tv * wt * wv;
    }
    if (m->sigma_n > 0) {
        for (int k = 0; k < kt; k++) T[k] += m->sigma_n * gsl_ran_gaussian(r, 1);
        for (int k = 0; k < 3; k++) A[k] += m->sigma_n * gsl_ran_gaussian(r, 1);
        for (int k = 0; k < 3; k++) V[k] += m->sigma_n * gsl_ran_gaussian(r, 1);
    }
}

/* ---------------------------------------------------------- conditional law */

/* subsets S of {T, A, V} used: index → bit mask (T 1, A 2, V 4) */
enum { S_0, S_T, S_A, S_V, S_TA, S_TV, S_AV, NSUB };
static const int SUB_MASK[NSUB] = {0, 1, 2, 4, 3, 5, 6};

/* posterior (mean, var) of a N(0,1) latent seen as x = latent + σ_n·noise */
static void post1(int seen, double x, double sn, double *m, double *v) {
    if (!seen) *m = 0, *v = 1;
    else if (sn == 0) *m = x, *v = 0;
    else *m = x / (1 + sn * sn), *v = sn * sn / (1 + sn * sn);
}

/* log p(y | views in mask). x: T0 T1 T2 A0 A1 A2 V0 V1 V2 (T2 unused without w_t). */
static double log_cond(const mr_planted_model *m, int mask, const double *x, double y) {
    double lam = m->redundancy, sn = m->sigma_n, sh2 = m->sigma_o * m->sigma_o + sn * sn;
    /* shared latent s from the shared coordinates of the seen views */
    double sx = 0;
    int k = 0;
    for (int b = 0; b < 3; b++)
        if (mask & (1 << b)) sx += x[3 * b], k++;
    double prec = 1 + k * lam * lam / sh2, ms = lam * sx / sh2 / prec, vs = 1 / prec;
    double mu[3], vu[3], mw[3], vw[3];
    for (int b = 0; b < 3; b++) {
        int seen = (mask >> b) & 1;
        post1(seen, x[3 * b + 1], sn, &mu[b], &vu[b]);
        post1(seen && (b > 0 || mr_planted_has_wt(m)), x[3 * b + 2], sn, &mw[b], &vw[b]);
    }
    double cs = m->c_s * lam, c[3] = {m->c_t, m->c_a, m->c_v};
    double muL = cs * ms, vL = cs * cs * vs + m->sigma_y * m->sigma_y;
    for (int b = 0; b < 3; b++) muL += c[b] * mu[b], vL += c[b] * c[b] * vu[b];
    /* synergy: B = w_h · Σ_k β_k w_k over the hub h */
    double g[3][3] = {{0, m->g_ta, m->g_tv}, {m->g_ta, 0, m->g_av}, {m->g_tv, m->g_av, 0}};
    int hub = -1;
    for (int h = 0; h < 3 && hub < 0; h++) {
        int covers = 1, any = 0;
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (g[i][j] != 0) {
                    any = 1;
                    if (i != h && j != h) covers = 0;
                }
        if (any && covers) hub = h;
    }
    if (hub < 0) return -0.5 * log(2 * M_PI * vL) - 0.5 * (y - muL) * (y - muL) / vL;
    double bm = 0, bv = 0; /* Σ β_k m_k, Σ β_k² v_k */
    for (int j = 0; j < 3; j++)
        if (j != hub) bm += g[hub][j] * mw[j], bv += g[hub][j] * g[hub][j] * vw[j];
    double mh = mw[hub], sdh = sqrt(vw[hub]);
    if (sdh == 0) {
        double mean = muL + mh * bm, var = vL + mh * mh * bv;
        return -0.5 * log(2 * M_PI * var) - 0.5 * (y - mean) * (y - mean) / var;
    }
    /* trapezoid over z, h = mh + sdh·z, weight φ(z); the integrand's scale in z
     * is at least sqrt(vL) / (sdh·(|bm| + sqrt(bv)·(|mh| + 9 sdh))) */
    const double L = 9.0;
    double scale = sqrt(vL) / (sdh * (fabs(bm) + sqrt(bv) * (fabs(mh) + L * sdh)) + 1e-300);
    double dz = scale / 3 < 0.02 ? scale / 3 : 0.02;
    size_t n = (size_t)ceil(2 * L / dz);
    if (n > 400000) n = 400000;
    dz = 2 * L / (double)n;
    double mx = -INFINITY;
    /* two passes: max, then the sum (log-sum-exp) */
    for (int pass = 0; pass < 2; pass++) {
        double sum = 0;
        for (size_t i = 0; i <= n; i++) {
            double z = -L + dz * (double)i, h = mh + sdh * z;
            double mean = muL + h * bm, var = vL + h * h * bv;
            double lt = -0.5 * z * z - 0.5 * log(2 * M_PI) + log(i == 0 || i == n ? 0.5 * dz : dz) - 0.5 * log(2 * M_PI * var) -
                        0.5 * (y - mean) * (y - mean) / var;
            if (pass == 0) {
                if (lt > mx) mx = lt;
            } else
                sum += exp(lt - mx);
        }
        if (pass == 1) return mx + log(sum);
    }
    return 0; /* not reached */
}

/* --------------------------------------------------------------- functionals */

/* a quantity = c + E[Σ_S w_S · log p(Y|S)] */
typedef struct {
    double c, w[NSUB];
} fnl;

static fnl f_add(fnl a, fnl b, double sb) {
    a.c += sb * b.c;
    for (int s = 0; s < NSUB; s++) a.w[s] += sb * b.w[s];
    return a;
}

static fnl f_mi(int x, int z) { /* I(X;Y|Z) = E log p(y|X,Z) − E log p(y|Z), masks as subset indices */
    fnl f = {0, {0}};
    f.w[x] += 1, f.w[z] -= 1;
    return f;
}

static mr_pt_value f_eval(const fnl *f, const double *lc, size_t N, const double *lbar) {
    mr_pt_value r = {f->c, 0};
    if (!lc) {
        for (int s = 0; s < NSUB; s++) r.value += f->w[s] * lbar[s];
        return r;
    }
    double a = 0, b = 0;
    for (size_t i = 0; i < N; i++) {
        double v = 0;
        for (int s = 0; s < NSUB; s++) v += f->w[s] * lc[i * NSUB + s];
        double d = v - a;
        a += d / (double)(i + 1);
        b += d * (v - a);
    }
    r.value += a;
    r.se = sqrt(b / (double)(N - 1) / (double)N);
    return r;
}

int mr_planted_truth_compute(const mr_planted_model *m, size_t mc_samples, unsigned long seed, int force_mc,
                             mr_planted_truth *t, mr_error *e) {
    int rc = mr_planted_check(m, e);
    if (rc) return rc;
    memset(t, 0, sizeof *t);
    int closed = !force_mc && m->g_ta == 0 && m->g_tv == 0 && m->g_av == 0;
    if (!closed && mc_samples < 10) return mr_fail(e, MR_EINVAL, "--mc-samples must be at least 10 (got %zu)", mc_samples);
    t->closed = closed;
    t->mc_samples = closed ? 0 : mc_samples;
    /* views only: I(T;A) = I(T0;A0) = −½ ln(1 − ρ²), ρ = λ² / (λ² + σ_o² + σ_n²) */
    double lam2 = m->redundancy * m->redundancy;
    double rho = lam2 / (lam2 + m->sigma_o * m->sigma_o + m->sigma_n * m->sigma_n);
    double ita = -0.5 * log1p(-rho * rho);
    double *lc = NULL, lbar[NSUB] = {0};
    size_t N = mc_samples;
    if (closed) {
        /* Y|S Gaussian with a variance that does not depend on the seen values:
         * E log p(Y|S) = −½ ln(2πe Var(Y|S)); log_cond at y = mean gives −½ ln(2π Var) */
        double x[9] = {0};
        for (int s = 0; s < NSUB; s++) {
            double lp = log_cond(m, SUB_MASK[s], x, 0.0);
            lbar[s] = lp - 0.5; /* −½ ln(2πV) − ½ */
        }
    } else {
        lc = malloc(N * NSUB * sizeof *lc);
        if (!lc) return mr_fail(e, MR_ENOMEM, "out of memory");
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r, seed);
        for (size_t i = 0; i < N; i++) {
            double x[9] = {0}, y;
            mr_planted_draw(m, r, x, x + 3, x + 6, &y);
            for (int s = 0; s < NSUB; s++) lc[i * NSUB + s] = log_cond(m, SUB_MASK[s], x, y);
        }
        gsl_rng_free(r);
    }
    fnl F[MR_PT_NTERMS];
    F[0] = f_mi(S_T, S_0), F[1] = f_mi(S_A, S_0), F[2] = f_mi(S_V, S_0);
    F[3] = (fnl){ita, {0}}, F[4] = (fnl){ita, {0}}; /* I(T;V) = I(T;A) by symmetry of the shared coordinates */
    F[5] = f_mi(S_TA, S_T), F[6] = f_mi(S_TV, S_T), F[7] = f_mi(S_TA, S_A), F[8] = f_mi(S_TV, S_V);
    /* I(T;A|Y) = I(T;A) − I(T;Y) + I(T;Y|A) */
    F[9] = f_add(f_add(F[3], F[0], -1), F[7], 1);
    F[10] = f_add(f_add(F[4], F[0], -1), F[8], 1);
    for (int q = 0; q < MR_PT_NTERMS; q++) t->term[q] = f_eval(&F[q], lc, N, lbar);
    fnl C[MR_PT_NCOMP];
    C[0] = F[0], C[1] = F[1], C[2] = F[2];
    C[3] = f_add(F[3], F[4], 1);
    C[4] = f_add(f_add(f_add(F[7], F[8], 1), F[9], -1), F[10], -1);
    C[5] = f_add(F[5], F[9], -1);
    C[6] = f_add(F[6], F[10], -1);
    C[7] = f_add(F[9], F[10], 1);
    for (int q = 0; q < MR_PT_NCOMP; q++) t->comp[q] = f_eval(&C[q], lc, N, lbar);
    static const int P1[3] = {S_T, S_T, S_A}, P2[3] = {S_A, S_V, S_V}, P12[3] = {S_TA, S_TV, S_AV};
    for (int p = 0; p < MR_PT_NPAIRS; p++) {
        fnl i1 = f_mi(P1[p], S_0), i2 = f_mi(P2[p], S_0), i12 = f_mi(P12[p], S_0);
        mr_pt_pid *d = &t->pid[p];
        d->i1 = f_eval(&i1, lc, N, lbar), d->i2 = f_eval(&i2, lc, N, lbar), d->i12 = f_eval(&i12, lc, N, lbar);
        int first_min = d->i1.value <= d->i2.value;
        fnl r = first_min ? i1 : i2, mx = first_min ? i2 : i1;
        fnl u1 = f_add(i1, r, -1), u2 = f_add(i2, r, -1), s = f_add(i12, mx, -1);
        fnl coi = f_add(f_add(i1, i2, 1), i12, -1);
        d->r = f_eval(&r, lc, N, lbar), d->u1 = f_eval(&u1, lc, N, lbar), d->u2 = f_eval(&u2, lc, N, lbar);
        d->s = f_eval(&s, lc, N, lbar), d->coi = f_eval(&coi, lc, N, lbar);
    }
    free(lc);
    return MR_OK;
}

int mr_planted_truth_json(const mr_planted_truth *t, char *buf, size_t n) {
    size_t k = 0;
#define PUT(...) k += (size_t)snprintf(buf + (k < n ? k : n), k < n ? n - k : 0, __VA_ARGS__)
    if (t->closed)
        PUT("{\"method\": \"closed form (Gaussian: h(Y|S) from Var(Y|S); I(T;A), I(T;V) from the view correlation)\", "
            "\"mc_samples\": 0, \"units\": \"nats\", \"terms\": {");
    else
        PUT("{\"method\": \"Monte Carlo over %zu draws of exact log p(Y|S) (trapezoid over the hub synergy latent); se = "
            "sample sd / sqrt(N); I(T;A), I(T;V) closed form\", \"mc_samples\": %zu, \"units\": \"nats\", \"terms\": {",
            t->mc_samples, t->mc_samples);
    for (int q = 0; q < MR_PT_NTERMS; q++)
        PUT("%s\"%s\": {\"value\": %.9g, \"se\": %.3g}", q ? ", " : "", mr_planted_term_names[q], t->term[q].value, t->term[q].se);
    PUT("}, \"composites\": {");
    for (int q = 0; q < MR_PT_NCOMP; q++)
        PUT("%s\"%s\": {\"value\": %.9g, \"se\": %.3g}", q ? ", " : "", mr_planted_comp_names[q], t->comp[q].value, t->comp[q].se);
    PUT("}, \"composites_note\": \"spec 4.3 formulas on the raw views with F replaced by Y\", "
        "\"pid_definition\": \"MMI (Barrett 2015): R = min(I1, I2), U_i = I_i - R, S = I12 - max(I1, I2); coi = I1 + I2 - I12 "
        "(co-information = R - S under every PID); exact BROJA for jointly Gaussian (X1, X2, Y), a stated reference otherwise\", "
        "\"pid\": {");
    for (int p = 0; p < MR_PT_NPAIRS; p++) {
        const mr_pt_pid *d = &t->pid[p];
        const mr_pt_value *v[8] = {&d->i1, &d->i2, &d->i12, &d->r, &d->u1, &d->u2, &d->s, &d->coi};
        static const char *nm[8] = {"I1", "I2", "I12", "R", "U1", "U2", "S", "coi"};
        PUT("%s\"%s\": {", p ? ", " : "", mr_planted_pair_names[p]);
        for (int j = 0; j < 8; j++) PUT("%s\"%s\": {\"value\": %.9g, \"se\": %.3g}", j ? ", " : "", nm[j], v[j]->value, v[j]->se);
        PUT("}");
    }
    PUT("}}");
#undef PUT
    return (int)k;
}
