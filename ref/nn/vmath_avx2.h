/* vmath_avx2.h — SLEEF AVX2 kernels behind ref/nn/vmath.h (fast builds
 * only; call them only on a CPU with AVX2 and FMA). */
#ifndef MR_VMATH_AVX2_H
#define MR_VMATH_AVX2_H

#include <stddef.h>

void mr_vexp_avx2(double *y, const double *x, size_t n);
void mr_vtanh_avx2(double *y, const double *x, size_t n);
void mr_vsigmoid_avx2(double *y, const double *x, size_t n);

#endif
