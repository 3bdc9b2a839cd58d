/* bounds.c — see bounds.h for the formulas and the gradient convention. */
#include "estimators/bounds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/nn/layers.h"

static const char *const names[MR_BOUND_COUNT] = {"nwj", "infonce", "js", "smile", "dv",
                                                   "mine", "tuba", "interpolate", "js_fgan"};

void mr_bound_opts_default(mr_bound_opts *o) {
    o->smile_clip = 1.0;
    o->alpha_logit = 0.01;
    o->interp_per_row = 0;
}

const char *mr_bound_name(mr_bound b) { return (b >= 0 && b < MR_BOUND_COUNT) ? names[b] : "?"; }

int mr_bound_parse(const char *name) {
    for (int i = 0; i < MR_BOUND_COUNT; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

int mr_bound_uses_baseline(mr_bound b) { return b == MR_BOUND_TUBA || b == MR_BOUND_INTERPOLATE; }

size_t mr_bound_work_size(size_t B) { return 5 * B * B + B; }

/* ------------------------------------------------------------------ helpers */

/* LSE over i ≠ j of S_ij (−∞ when B < 2). */
static double lse_offdiag(const double *S, size_t B) {
    double m = -INFINITY;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j && S[i * B + j] > m) m = S[i * B + j];
    if (m == -INFINITY || m == INFINITY) return m;
    double s = 0.0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) s += exp(S[i * B + j] - m);
    return m + log(s);
}

double mr_logmeanexp_nodiag(const double *S, size_t B, double *dS, double scale) {
    double lse = lse_offdiag(S, B);
    if (dS && isfinite(lse))
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++)
                if (i != j) dS[i * B + j] += scale * exp(S[i * B + j] - lse);
    return lse - log((double)B * (double)(B - 1));
}

static double mean_diag(const double *S, size_t B) {
    double s = 0.0;
    for (size_t i = 0; i < B; i++) s += S[i * B + i];
    return s / (double)B;
}

static void add_diag(double *dS, size_t B, double v) {
    for (size_t i = 0; i < B; i++) dS[i * B + i] += v;
}

/* F.softplus (β = 1, threshold 20) and its derivative σ(x). */
static double softplus(double x) { return x > 20.0 ? x : log1p(exp(x)); }
static double sigmoid(double x) {
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* ---------------------------------------------------------------- the bounds */

static double dv_bound(const double *S, size_t B, double *dS, double sc) {
    double md = mean_diag(S, B);
    if (dS) add_diag(dS, B, sc / (double)B);
    return md - mr_logmeanexp_nodiag(S, B, dS, -sc);
}

/* tuba on S' = S − c − log_a (row-wise): 1 + mean diag S' − exp(LME_off S'). */
static double tuba_core(const double *S, size_t B, double c, const double *log_a, double *dS,
                        double *dla, double sc, double *Sp) {
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) Sp[i * B + j] = S[i * B + j] - c - (log_a ? log_a[i] : 0.0);
    double joint = mean_diag(Sp, B);
    double lme = mr_logmeanexp_nodiag(Sp, B, NULL, 0);
    double marg = exp(lme);
    if (dS || dla) {
        double lnn = log((double)B * (double)(B - 1));
        for (size_t i = 0; i < B; i++) {
            double row = 0.0;
            for (size_t j = 0; j < B; j++) {
                double g = (i == j) ? 1.0 / (double)B : -exp(Sp[i * B + j] - lnn);
                row += g;
                if (dS) dS[i * B + j] += sc * g;
            }
            if (dla) dla[i] -= sc * row;
        }
    }
    return 1.0 + joint - marg;
}

/* Evaluated as log B + mean_i (S_ii − LSE_i): each term is ≤ 0 exactly in
 * floating point (LSE_i ≥ max_j S_ij ≥ S_ii), so I ≤ log B holds bit for
 * bit; Poole's grouping log B + (mean_k S_kk − LSE_i) is equal in exact
 * arithmetic but can exceed log B by an ulp. */
static double infonce_bound(const double *S, size_t B, double *dS, double sc) {
    double acc = 0.0;
    for (size_t i = 0; i < B; i++) {
        double lse = mr_logsumexp(S + i * B, B, 1);
        acc += S[i * B + i] - lse;
        if (dS)
            for (size_t j = 0; j < B; j++) dS[i * B + j] -= sc * exp(S[i * B + j] - lse) / (double)B;
    }
    if (dS) add_diag(dS, B, sc / (double)B);
    return log((double)B) + acc / (double)B;
}

static double js_fgan_bound(const double *S, size_t B, double *dS, double sc) {
    double first = 0.0, all = 0.0, diag = 0.0;
    for (size_t i = 0; i < B; i++) first += -softplus(-S[i * B + i]);
    first /= (double)B;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) all += softplus(S[i * B + j]);
    for (size_t i = 0; i < B; i++) diag += softplus(S[i * B + i]);
    double nn = (double)B * (double)(B - 1);
    if (dS)
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                /* diagonal: σ(−S_ii)/B; its softplus(S_ii) terms cancel */
                dS[i * B + j] += (i == j) ? sc * sigmoid(-S[i * B + i]) / (double)B
                                          : -sc * sigmoid(S[i * B + j]) / nn;
            }
    return first - (all - diag) / nn;
}

static double smile_dv(const double *S, size_t B, double tau, double *Sc) {
    for (size_t k = 0; k < B * B; k++) Sc[k] = S[k] < -tau ? -tau : (S[k] > tau ? tau : S[k]);
    return mean_diag(S, B) - mr_logmeanexp_nodiag(Sc, B, NULL, 0);
}

/* Poole et al.'s I_α; see bounds.h. work: 5·B² + B doubles.
 * Backward (reverse mode through the same graph):
 *   marg = mean_{i≠j} e^{C_ij}, C_ij = S_ij − ib_dd  → ∂/∂S_ij −= q_ij, ∂/∂ib_dd += q_ij
 *   joint = mean_{i≠j}(S_kk − ib_ij)                 → ∂/∂S_kk += 1/(B(B−1)), ∂/∂ib_ij −= 1/(B(B−1))
 *   ib_ij = log(α e^{nce_ij} + (1−α) e^{la_i})        → ∂ib/∂nce = w_ij, ∂ib/∂la_i = 1 − w_ij
 *   nce_ij = S_ij + spi(d_ij) − log(B−1), d_ij = LSE_i − S_ij, spi'(d) = 1/(1 − e^{−d})
 *   (0 where d was replaced by 1), ∂LSE_i/∂S_ik = softmax_ik.
 * The row max used in the forward cancels mathematically and carries no gradient. */
static double interpolate_bound(const double *S, size_t B, const double *log_a, const mr_bound_opts *o,
                                double *dS, double *dla, double sc, double *work) {
    double *nce = work, *ib = work + B * B, *wgt = work + 2 * B * B, *gib = work + 3 * B * B;
    double *dmat = work + 4 * B * B, *lse = work + 5 * B * B;
    double log_alpha = -softplus(-o->alpha_logit), log_1ma = -softplus(o->alpha_logit);
    double lnm1 = log((double)B - 1.0);
    /* 1. leave-one-out log-mean-exp and 2. interpolated baseline */
    for (size_t i = 0; i < B; i++) {
        const double *r = S + i * B;
        double mx = -INFINITY;
        for (size_t k = 0; k < B; k++)
            if (r[k] > mx) mx = r[k];
        double l = mr_logsumexp(r, B, 1) - mx; /* logsumexp(S − max) */
        lse[i] = l + mx;
        double la = log_a ? log_a[i] : 0.0;
        for (size_t j = 0; j < B; j++) {
            double d = l + (mx - r[j]);
            dmat[i * B + j] = d;
            double safe = d != 0.0 ? d : 1.0;
            double spi = safe + log(-expm1(-safe));
            nce[i * B + j] = r[j] + spi - lnm1;
            double u = log_alpha + nce[i * B + j], v = log_1ma + la;
            double m2 = u > v ? u : v;
            ib[i * B + j] = m2 + log(exp(u - m2) + exp(v - m2));
            wgt[i * B + j] = exp(u - ib[i * B + j]); /* ∂ib/∂nce */
        }
    }
    double nn = (double)B * (double)(B - 1);
    /* 3. marginal term: C_ij = S_ij − ib_jj (official) or S_ij − ib_ii */
    double mx = -INFINITY;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) {
                double c = S[i * B + j] - (o->interp_per_row ? ib[i * B + i] : ib[j * B + j]);
                if (c > mx) mx = c;
            }
    double s = 0.0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) s += exp(S[i * B + j] - (o->interp_per_row ? ib[i * B + i] : ib[j * B + j]) - mx);
    double marg = exp(mx + log(s) - log(nn));
    /* 4. joint term */
    double joint_sum = 0.0;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) joint_sum += (o->interp_per_row ? S[i * B + i] : S[j * B + j]) - ib[i * B + j];
    double joint = joint_sum / nn;
    double I = 1.0 + joint - marg;
    if (!dS && !dla) return I;
    /* backward */
    memset(gib, 0, B * B * sizeof *gib);
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++) {
            if (i == j) continue;
            size_t dd = o->interp_per_row ? i * B + i : j * B + j;
            double q = exp(S[i * B + j] - ib[dd] - log(nn)); /* ∂marg/∂C_ij */
            if (dS) dS[i * B + j] -= sc * q;
            gib[dd] += sc * q;
            if (dS) dS[o->interp_per_row ? i * B + i : j * B + j] += sc / nn;
            gib[i * B + j] -= sc / nn;
        }
    for (size_t i = 0; i < B; i++) {
        double gla = 0.0, gdsum = 0.0;
        const double *r = S + i * B;
        for (size_t j = 0; j < B; j++) {
            double g = gib[i * B + j];
            double gn = g * wgt[i * B + j];
            gla += g * (1.0 - wgt[i * B + j]);
            double d = dmat[i * B + j];
            double gd = d != 0.0 ? gn / (-expm1(-d)) : 0.0;
            if (dS) dS[i * B + j] += gn - gd;
            gdsum += gd;
        }
        if (dS)
            for (size_t k = 0; k < B; k++) dS[i * B + k] += gdsum * exp(r[k] - lse[i]);
        if (dla) dla[i] += gla;
    }
    return I;
}

/* ------------------------------------------------------------------- public */

double mr_bound_mi(mr_bound b, const double *S, size_t B, const double *log_a,
                   const mr_bound_opts *o, double *dS, double *dlog_a, double scale, double *work) {
    if (B < 2) return NAN;
    mr_bound_opts def;
    if (!o) {
        mr_bound_opts_default(&def);
        o = &def;
    }
    if (!work && (b == MR_BOUND_INTERPOLATE || b == MR_BOUND_TUBA || b == MR_BOUND_NWJ || b == MR_BOUND_JS ||
                  b == MR_BOUND_SMILE))
        return NAN;
    double I;
    switch (b) {
    case MR_BOUND_DV:
    case MR_BOUND_MINE: I = dv_bound(S, B, dS, scale); break;
    case MR_BOUND_TUBA: I = tuba_core(S, B, 0.0, log_a, dS, dlog_a, scale, work); break;
    case MR_BOUND_NWJ: I = tuba_core(S, B, 1.0, NULL, dS, NULL, scale, work); break;
    case MR_BOUND_INFONCE: I = infonce_bound(S, B, dS, scale); break;
    case MR_BOUND_JS_FGAN: I = js_fgan_bound(S, B, dS, scale); break;
    case MR_BOUND_JS: {
        double js = js_fgan_bound(S, B, dS, scale);
        double nwj = tuba_core(S, B, 1.0, NULL, NULL, NULL, 0.0, work);
        I = js + (nwj - js);
        break;
    }
    case MR_BOUND_SMILE: {
        double js = js_fgan_bound(S, B, dS, scale);
        double dv = smile_dv(S, B, o->smile_clip, work);
        I = js + (dv - js);
        break;
    }
    case MR_BOUND_INTERPOLATE: I = interpolate_bound(S, B, log_a, o, dS, dlog_a, scale, work); break;
    default: I = NAN; break;
    }
    return I;
}

double mr_bound_loss(mr_bound b, const double *S, size_t B, const double *log_a,
                     const mr_bound_opts *o, double *dS, double *dlog_a, double scale, double *work) {
    if (B < 2) return NAN;
    if (b != MR_BOUND_MINE) return -mr_bound_mi(b, S, B, log_a, o, dS, dlog_a, -scale, work);
    /* MINE surrogate: mean diag S − (1/m)·mean_{all} E, m held constant */
    double md = mean_diag(S, B), sumE = 0.0, nb2 = (double)B * (double)B;
    for (size_t i = 0; i < B; i++)
        for (size_t j = 0; j < B; j++)
            if (i != j) sumE += exp(S[i * B + j]);
    double meanE = sumE / nb2;
    double m = 0.99 * 1.0 + 0.01 * meanE;
    if (dS) {
        add_diag(dS, B, scale / (double)B);
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++)
                if (i != j) dS[i * B + j] -= scale * exp(S[i * B + j]) / (m * nb2);
    }
    return md - (1.0 / m) * meanE;
}
