/* tolerance.h — every tolerance of mimrl.c's tests, written down once with
 * its derivation. A test names the case that applies; a literal threshold in
 * a test is a bug (ε = DBL_EPSILON = 2.2e-16, ε_f = FLT_EPSILON = 1.2e-7; a
 * correctly rounded operation errs by at most ε/2 relative).
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
 * 3. A value against a hand calculation (absolute, for results of magnitude
 *    ≤ 2 unless said otherwise):
 *    T_FEW_OPS      ≤ 4 roundings on both sides: 2·4·(ε/2)·2 = 1.8e-15 would
 *                   be the worst case of two independent evaluations; the
 *                   tests using it compare against an expression the library
 *                   evaluates in the same order or an exact constant, so one
 *                   side's 4·(ε/2)·2 = 8.9e-16 applies → 1e-15.
 *    MR_TOL_CLOSED  closed forms evaluated differently (libm calls ≤ 1 ulp
 *                   each, ≤ 20 operations): 20·ε = 4.4e-15 → 1e-14.
 *    T_MANY_OPS     sums and series: n roundings on values of magnitude |x|
 *                   with n·|x| ≤ 900 (e.g. 20 terms of a value 15):
 *                   900·ε/2 = 1.0e-13.
 *    T_LSE_1000     log-sum-exp of arguments of magnitude 1000: each rounding
 *                   near 1000 errs by ≤ 1000·ε/2 = 1.1e-13, ≤ 8 of them
 *                   → 9e-13 < 1e-12.
 *    T_REL_FEW      relative counterpart of T_FEW_OPS for values of any
 *                   magnitude (≤ 4 roundings: 4·ε/2 = 4.4e-16 < 1e-15).
 *    T_REL_RECUR    relative, a recurrence of ≤ 100 steps of a few roundings
 *                   each (an optimizer run): 100·4·ε/2 = 4.4e-14 per
 *                   quantity, compounded through sqrt and division → 1e-12.
 *
 *    T_LOSS_SUM     an objective recomposed from its ≤ 11 weighted terms of
 *                   magnitude ≤ 100: 11·100·ε = 2.4e-13 → 1e-12.
 *
 * 4. Numbers quoted to n decimals (published anchors, JSON written with
 *    %.nf): half a unit in the last place, T_DEC(n) = 0.5·10⁻ⁿ, plus
 *    MR_TOL_CLOSED for the other side's own rounding. Printed with %.ng
 *    (n significant digits): relative T_SIG(n) = 0.5·10^(1−n) per print, two
 *    prints compared → 10^(1−n).
 *
 * 5. Data stored as float32 (the mimrl-npz feature members):
 *    T_F32_UNIT     values of magnitude ≤ 1 after ≤ 16 float32 roundings:
 *                   16·ε_f/2 = 9.5e-7 → 1e-6.
 *    T_F32_WIDE     values of magnitude ≤ 10, or means over rows of float32
 *                   data (≤ 80 roundings relative to the largest value):
 *                   80·ε_f/2·1 = 4.8e-6 → 1e-5.
 *
 * 7. The whole oracle step, reference loops against OpenBLAS
 *    (test_oracle.c blas_builds_agree): each dot product differs by
 *    ≤ K·ε relative (K ≤ 768), and the backward chains ~30 such layers;
 *    observed differences are ~1e-13 of each tensor's scale, and
 *    T_BLAS_CHAIN = 1e-9 of the scale leaves 10⁴ for amplification by the
 *    chain's conditioning. Tensors that are exactly zero in exact arithmetic
 *    come out as ±1e-19-sized rounding: an absolute floor of
 *    T_BLAS_CHAIN_FLOOR = 1e-12 of the largest value in the file.
 *
 * 6. A layer against PyTorch float64 (verify/fixtures, test_fixtures.c): both
 *    sides compute in double with different summation orders; a sum of K
 *    products differs by at most ~K·ε·Σ|terms|, and through the shallow, tiny
 *    networks of the fixtures (K ≤ 150, ≤ 6 recurrent steps) that stays below
 *    1e-13 of the tensor's largest magnitude. Entry-wise
 *      |c − t| ≤ T_TORCH_LAYER·|t| + T_TORCH_LAYER·max_j |t_j|
 *    (relative 1e-12 with an absolute floor at 1e-12 of the tensor's scale,
 *    for entries near zero). The whole-model cross-check has its own rule,
 *    carried per tensor in its fixtures (test_crosscheck.c).
 */
#ifndef MR_TOLERANCE_H
#define MR_TOLERANCE_H

#include <float.h>

#include "ref/core/gradcheck.h"

#define MR_TOL_GEMM(K) (2.0 * (double)(K) * DBL_EPSILON)
#define MR_TOL_CLOSED 1e-14

#define T_FEW_OPS 1e-15
#define T_MANY_OPS 1e-13
#define T_LSE_1000 1e-12
#define T_REL_FEW 1e-15
#define T_REL_RECUR 1e-12
#define T_LOSS_SUM 1e-12

#define T_DEC(n) (0.5 * pow(10.0, -(double)(n)) + MR_TOL_CLOSED)
#define T_SIG(n) pow(10.0, 1.0 - (double)(n))

#define T_F32_UNIT 1e-6
#define T_F32_WIDE 1e-5

#define T_TORCH_LAYER 1e-12

#define T_BLAS_CHAIN 1e-9
#define T_BLAS_CHAIN_FLOOR 1e-12

#endif
