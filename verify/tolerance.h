/* tolerance.h — the tolerance model of mimrl.c's tests, written down once.
 *
 * 1. Gradient checks (verify/gradcheck.c). The analytic gradient g of a
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
 *    Pass iff |g − D| ≤ GC_ATOL·F + GC_RTOL·max(|g|, |D|). A wrong backward
 *    (missing term, wrong sign, transposed index, factor 2) errs by O(|g|),
 *    ≥ 1e5 times this bound for |g| ~ F; verify/test_gradcheck.c proves the
 *    checker rejects such gradients. Every check also requires a non-trivial
 *    gradient (max |g| > GC_NONTRIVIAL · F), so an all-zero backward fails.
 *
 * 2. Same function, same inputs, two BLAS backends (reference loops vs
 *    OpenBLAS): a dot product of length K differs by at most
 *    γ_K·Σ|a_k b_k| with γ_K = K·ε/(1−K·ε) for any summation order, so
 *    |C_blas − C_ref| ≤ 2·K·ε·(|A||B|)_ij (MR_TOL_GEMM(K) below), entry-wise,
 *    with the absolute-value product as the scale — an absolute floor that
 *    also covers entries near zero.
 *
 * 3. Elementwise functions computed by the same formula in C and in the
 *    test: at most 4 ulp (Criterion's ieee_ulp_eq advice); against closed
 *    forms evaluated differently (e.g. hand-derived sequences): 1e-14
 *    relative plus a 1e-300 floor.
 */
#ifndef MR_TOLERANCE_H
#define MR_TOLERANCE_H

#include <float.h>

#define GC_H 1e-3
#define GC_ATOL 1e-9
#define GC_RTOL 1e-7
#define GC_NONTRIVIAL 1e-8

#define MR_TOL_GEMM(K) (2.0 * (double)(K) * DBL_EPSILON)
#define MR_TOL_CLOSED 1e-14

#endif
