/* gradcheck.h — finite-difference gradient checks: the one utility every
 * gradient test (verify/) and `mimrl demo` use, and its tolerance model.
 *
 * 1. Gradient checks (ref/core/gradcheck.c). The analytic gradient g of a
 *    scalar function f is compared with the 5-point central difference
 *        D = [8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))] / (12h),
 *        h = GC_H · max(1, |x|),  GC_H = 1e-3.
 *    Error of D: truncation ≤ h⁴/30 · |f⁽⁵⁾| and rounding ≤ (18/12)·κ·ε·F/h,
 *    where ε = 2^-53 ≈ 1.1e-16, F is the magnitude scale of f (the caller's
 *    Σ|terms|, by default max(1, |f(x)|)) and κ bounds the relative error of
 *    one evaluation of f in units of ε (κ ≤ 1e3 for the tiny shapes used in
 *    checks). Hence:
 *      rounding  ≤ 1.5 · 1e3 · 1.1e-16 · F / 1e-3 ≈ 1.7e-10 · F
 *                  → GC_ATOL = 1e-9 · F  (≥ 6× margin at κ = 1e3);
 *      truncation relative to |g|: 3.3e-14 · |f⁽⁵⁾|/|f'|, which is below
 *                  GC_RTOL = 1e-7 whenever |f⁽⁵⁾|/|f'| < 3e6 — true for the
 *                  smooth functions here evaluated at O(1) inputs kept at
 *                  least 2h from any kink.
 *    Pass iff |g − D| ≤ GC_ATOL·F + GC_RTOL·max(|g|, |D|).
 *    Strongly curved functions (LayerNorm over a handful of entries whose
 *    spread is small, deep stacks of them) can have |f⁽⁵⁾|/|f'| far above
 *    3e6; the truncation error then dominates at h = 1e-3 (observed: it
 *    falls by 10⁴ when h falls by 10, the h⁴ signature). So a coordinate that
 *    fails at h is retried at h/10 and h/100 (GC_STEPS steps in all), with the
 *    rounding allowance scaled by GC_H/h as the derivation requires
 *    (≈ 1.7e-8·F at h = 1e-5, still ≥ 6× margin). A wrong gradient fails at
 *    every step; a correct one passes once truncation is small. A wrong backward
 *    (missing term, wrong sign, transposed index, factor 2) errs by O(|g|),
 *    ≥ 1e5 times this bound for |g| ~ F; verify/test_gradcheck.c proves the
 *    checker rejects such gradients. Every check also requires a non-trivial
 *    gradient (max |g| > GC_NONTRIVIAL · F), so an all-zero backward fails.
 *
 */
#ifndef MR_GRADCHECK_H
#define MR_GRADCHECK_H

#include <stddef.h>

#define GC_H 1e-3
#define GC_ATOL 1e-9
#define GC_RTOL 1e-7
#define GC_NONTRIVIAL 1e-8
#define GC_STEPS 3

/* Evaluates the scalar loss at the current contents of the variables. */
typedef double (*mr_gc_fn)(void *ctx);

typedef struct {
    const char *name;
    double *x;       /* perturbed in place and restored */
    const double *g; /* analytic gradient ∂f/∂x, same length */
    size_t n;
} mr_gc_var;

typedef struct {
    size_t checked, failed;
    double max_err;      /* largest |g − D| */
    double max_ratio;    /* largest |g − D| / bound (≤ 1 passes) */
    double max_abs_grad; /* largest |g| seen (non-triviality) */
    double scale;        /* F used */
} mr_gc_result;

/* Elementwise check of every coordinate of every variable. scale = F of
 * tolerance.h (≤ 0: max(1, |f(x)|)). Prints up to 5 failures to stderr with
 * their names and indices. Returns the number of failures (+1 if the
 * gradient is trivially zero). */
int mr_gradcheck(mr_gc_fn f, void *ctx, mr_gc_var *vars, size_t nvars, double scale,
                 mr_gc_result *res);

/* Directional check (KANN style) for large parameter counts: for `ndirs`
 * random directions δ (seeded), compares Σ g·δ with the 5-point difference of
 * t ↦ f(x + tδ). Returns the number of failing directions. */
int mr_gradcheck_dir(mr_gc_fn f, void *ctx, mr_gc_var *vars, size_t nvars, double scale,
                     size_t ndirs, unsigned long seed, mr_gc_result *res);

#endif
