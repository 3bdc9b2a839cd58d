/* gradcheck.h — finite-difference gradient checks (tolerances: tolerance.h). */
#ifndef MR_GRADCHECK_H
#define MR_GRADCHECK_H

#include <stddef.h>

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
