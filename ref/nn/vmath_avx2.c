/* vmath_avx2.c — see vmath_avx2.h. Compiled with -mavx2 -mfma (Makefile);
 * empty in the BLAS=none build. Four doubles at a time; a tail of n mod 4
 * goes through the same vector function on a zero-padded copy, so every
 * element is computed by SLEEF whatever n is. */
#include "ref/nn/vmath_avx2.h"

#ifndef MR_REF
#include <immintrin.h>
#include <sleef.h>
#include <string.h>

#define MAP4(NAME, F)                                                       \
    void NAME(double *y, const double *x, size_t n) {                       \
        size_t i = 0;                                                       \
        for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, F(_mm256_loadu_pd(x + i))); \
        if (i < n) {                                                        \
            double t[4] = {0.0, 0.0, 0.0, 0.0};                             \
            memcpy(t, x + i, (n - i) * sizeof *t);                          \
            _mm256_storeu_pd(t, F(_mm256_loadu_pd(t)));                     \
            memcpy(y + i, t, (n - i) * sizeof *t);                          \
        }                                                                   \
    }

/* SLEEF evaluates its branches for every lane and raises FE_OVERFLOW and
 * FE_INVALID for tanh(|x| ≥ 710) and exp(x ≤ −1e300) although the results
 * are right; the tests trap on those flags. The arguments are clamped where
 * the result no longer changes: tanh(±20) is ±1 exactly in double
 * (1 − tanh 20 ≈ 8.5e−18 < ulp(1)/2), exp(−800) is 0 (below the smallest
 * subnormal, e^−744.4). min/max keep NaN: _mm256_min_pd(a, x) returns x when x is NaN. */
static __m256d tanh4(__m256d v) {
    const __m256d hi = _mm256_set1_pd(20.0), lo = _mm256_set1_pd(-20.0);
    return Sleef_tanhd4_u10avx2(_mm256_max_pd(lo, _mm256_min_pd(hi, v)));
}

/* σ with e = exp(−|x|): 1/(1 + e) where x ≥ 0, e/(1 + e) elsewhere (NaN too) */
static __m256d sigmoid4(__m256d v) {
    const __m256d one = _mm256_set1_pd(1.0), sign = _mm256_set1_pd(-0.0), lo = _mm256_set1_pd(-800.0);
    __m256d e = Sleef_expd4_u10avx2(_mm256_max_pd(lo, _mm256_or_pd(v, sign))); /* −|x| */
    __m256d den = _mm256_add_pd(one, e);
    __m256d pos = _mm256_div_pd(one, den), neg = _mm256_div_pd(e, den);
    return _mm256_blendv_pd(neg, pos, _mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_GE_OQ));
}

MAP4(mr_vexp_avx2, Sleef_expd4_u10avx2)
MAP4(mr_vtanh_avx2, tanh4)
MAP4(mr_vsigmoid_avx2, sigmoid4)
#else
typedef int mr_vmath_avx2_unused; /* ISO C wants a declaration in every file */
#endif
