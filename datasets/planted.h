/* planted.h — the planted-information model of `mimrl synth` and its ground
 * truth on three levels (issue #20): MIMRL's 11 terms and composites on the
 * raw latent views, and a PID reference.
 *
 * Model (all latents independent N(0, 1), per utterance; the knobs in [ ]):
 *   shared s; private u_t, u_a, u_v; synergy latents w_t, w_a, w_v;
 *   noises e_m (shared coordinate), n (every coordinate), ε (label)
 *   T = (λ s + σ_o e_t, u_t [, w_t]) + σ_n n      w_t only when T×A or T×V ≠ 0
 *   A = (λ s + σ_o e_a, u_a, w_a)    + σ_n n
 *   V = (λ s + σ_o e_v, u_v, w_v)    + σ_n n
 *   Y = c_s λ s + c_t u_t + c_a u_a + c_v u_v
 *       + g_ta w_t w_a + g_tv w_t w_v + g_av w_a w_v + σ_y ε
 *   [λ]        --redundancy   strength of the shared latent in views and label (default 1)
 *   [c_t c_a c_v] --unique-t/-a/-v  label weight of the modality's private latent (0.6 0.4 0.4)
 *   [g_ta g_tv g_av] --synergy-ta/-tv/-av  weight of the pair's product (0 0 0.6)
 *   [σ_n]      --obs-noise    extra noise on every view coordinate (0)
 * The product terms are uncorrelated with every single latent but not
 * independent of it: Y | w_a has variance growing with w_a², so a factor alone
 * carries some information about Y (not pure XOR-type synergy; the PID shows
 * how much). The historical generator has this form, kept for bit-identity. With (λ, c, g_av, σ_n) = (1, as
 * above, 0.6, 0) the model is the one `mimrl synth` always generated.
 *
 * Ground truth (nats; for the unclipped Y):
 * (a) the 11 terms I(T;Y) I(A;Y) I(V;Y) I(T;A) I(T;V) I(A;Y|T) I(V;Y|T)
 *     I(T;Y|A) I(T;Y|V) I(T;A|Y) I(T;V|Y) — MIMRL's F (the learned fusion)
 *     is replaced by Y, i.e. a fusion that keeps exactly the label's
 *     information — and the composites of spec §4.3 from them:
 *     fus_m = I(m;Y), inv = I(T;A)+I(T;V),
 *     spec_T = I(T;Y|A)+I(T;Y|V)−I(T;A|Y)−I(T;V|Y), spec_A = I(A;Y|T)−I(T;A|Y),
 *     spec_V = I(V;Y|T)−I(T;V|Y), comp = I(T;A|Y)+I(T;V|Y).
 * (b) PID of (X1, X2 → Y) for (T,A), (T,V), (A,V): the MMI PID (Barrett
 *     2015): R = min(I(X1;Y), I(X2;Y)), U_i = I(Xi;Y) − R,
 *     S = I(X1,X2;Y) − max(I(X1;Y), I(X2;Y)); plus the co-information
 *     I(X1;Y)+I(X2;Y)−I(X1,X2;Y) (= R − S for every PID).
 * Every term is a combination of I(T;A), I(T;V) (views only: Gaussian,
 * log-determinants) and the conditional entropies h(Y|S), S ⊆ {T, A, V}.
 * Given S the latents have independent Gaussian posteriors, so Y|S is
 * Gaussian when g = 0 (closed form: h = ½ ln(2πe Var(Y|S))). With synergy,
 * Y|S is a Gaussian scale/location mixture over one "hub" synergy latent
 * (the one shared by every non-zero product; hence not all three g may be
 * non-zero); p(y|S) is computed up to a trapezoid rule over the hub's
 * posterior (spacing ≤ ⅓ of the integrand's scale in y; the rule converges
 * geometrically for such smooth integrands; the tests check it against an
 * independent GSL quadrature), and
 * h(Y|S) = −E log p(Y|S) is estimated by Monte Carlo over draws of the model:
 * every reported quantity is a mean of per-draw log-density differences, its
 * standard error the sample sd / √N (common draws for all quantities).
 */
#ifndef MR_PLANTED_H
#define MR_PLANTED_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "ref/core/common.h"

typedef struct {
    double redundancy;          /* λ */
    double c_s, c_t, c_a, c_v;  /* label weights of s and the private latents */
    double g_ta, g_tv, g_av;    /* synergy weights */
    double sigma_o, sigma_n, sigma_y;
} mr_planted_model;

enum { MR_PT_NTERMS = 11, MR_PT_NCOMP = 8, MR_PT_NPAIRS = 3 };
extern const char *const mr_planted_term_names[MR_PT_NTERMS];   /* "I(T;Y)" … "I(T;V|Y)" */
extern const char *const mr_planted_comp_names[MR_PT_NCOMP];    /* fus_T … comp */
extern const char *const mr_planted_pair_names[MR_PT_NPAIRS];   /* "T,A" "T,V" "A,V" */

typedef struct {
    double value, se; /* se = 0 for closed forms */
} mr_pt_value;

typedef struct {
    mr_pt_value i1, i2, i12, r, u1, u2, s, coi;
} mr_pt_pid;

typedef struct {
    int closed;        /* 1: every value in closed form (g = 0); 0: Monte Carlo */
    size_t mc_samples; /* draws behind the Monte-Carlo values */
    mr_pt_value term[MR_PT_NTERMS];
    mr_pt_value comp[MR_PT_NCOMP];
    mr_pt_pid pid[MR_PT_NPAIRS];
} mr_planted_truth;

/* The model of `mimrl synth`'s defaults (λ = 1, c = 0.8 0.6 0.4 0.4, g_av = 0.6,
 * σ_o 0.5, σ_n 0, σ_y 0.3). */
void mr_planted_default(mr_planted_model *m);
/* Domain of the knobs; the error names the knob (its CLI flag). */
int mr_planted_check(const mr_planted_model *m, mr_error *e);
/* 1 when the text view carries w_t (T×A or T×V synergy). */
int mr_planted_has_wt(const mr_planted_model *m);
/* One draw of the model: T [2 or 3 = 2 + has_wt], A [3], V [3], unclipped y.
 * Draw order: s u_t u_a u_v w_a w_v e_t e_a e_v ε, then w_t (if present), then
 * the σ_n noises (if σ_n > 0) — the first ten are `mimrl synth`'s historical order. */
void mr_planted_draw(const mr_planted_model *m, gsl_rng *r, double *T, double *A, double *V, double *y);
/* Ground truth. force_mc = 1 uses the Monte-Carlo path even when closed forms
 * exist (for tests). seed seeds the Monte-Carlo draws. */
int mr_planted_truth_compute(const mr_planted_model *m, size_t mc_samples, unsigned long seed, int force_mc,
                             mr_planted_truth *t, mr_error *e);
/* JSON object {"method": …, "terms": {name: {"value","se"}}, "composites": …, "pid": …};
 * returns the length written (as snprintf). */
int mr_planted_truth_json(const mr_planted_truth *t, char *buf, size_t n);

#endif
