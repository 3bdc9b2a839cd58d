/* tolerance.h — the tolerance model of mimrl.c's tests, written down once.
 *
 * 1. Gradient checks: the model and its derivation are in ref/core/gradcheck.h
 *    (GC_H, GC_ATOL, GC_RTOL, GC_NONTRIVIAL), used by every test and by
 *    `mimrl demo`.
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

#include "ref/core/gradcheck.h"


#define MR_TOL_GEMM(K) (2.0 * (double)(K) * DBL_EPSILON)
#define MR_TOL_CLOSED 1e-14

#endif
