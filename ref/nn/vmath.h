/* vmath.h — the elementwise nonlinearities of the recurrences over arrays.
 *
 *   mr_vexp      y = exp(x)
 *   mr_vtanh     y = tanh(x)
 *   mr_vsigmoid  y = σ(x), overflow-safe: with e = exp(−|x|),
 *                σ = 1/(1 + e) for x ≥ 0 and e/(1 + e) otherwise
 *                (NaN in, NaN out; no overflow for any finite x)
 * y may equal x (in place); otherwise they must not overlap.
 *
 * The BLAS=none build (MR_REF) always computes with libm, element by element,
 * exactly the scalar expressions above: its results are bit-identical to
 * the scalar code they replaced. The fast builds use SLEEF's 1.0-ulp
 * double-precision AVX2 functions (Sleef_expd4_u10avx2, Sleef_tanhd4_u10avx2)
 * when the CPU has AVX2 and FMA, libm otherwise; their results differ from
 * libm's in the last bits (bounds in verify/test_rnn.c). */
#ifndef MR_VMATH_H
#define MR_VMATH_H

#include <stddef.h>

void mr_vexp(double *y, const double *x, size_t n);
void mr_vtanh(double *y, const double *x, size_t n);
void mr_vsigmoid(double *y, const double *x, size_t n);

/* Which implementation the functions above use: on = 1 asks for SLEEF (taken
 * only if compiled in and the CPU supports it), 0 for libm, −1 leaves it.
 * Returns the implementation now in use (1 SLEEF, 0 libm). Not thread-safe
 * against concurrent calls of the functions above (tests switch it between
 * runs). */
int mr_vmath_sleef(int on);

#endif
