/* vmath.c — see vmath.h. The AVX2 kernels live in vmath_avx2.c, the one
 * file compiled with -mavx2 -mfma; they run only after the CPU check here. */
#include "ref/nn/vmath.h"

#include <math.h>

#include "ref/nn/vmath_avx2.h"

static void exp_libm(double *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = exp(x[i]);
}

static void tanh_libm(double *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = tanh(x[i]);
}

static void sigmoid_libm(double *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = x[i], e = exp(-fabs(v));
        y[i] = v >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    }
}

#ifdef MR_REF
static _Atomic int use_sleef = 0;
static int sleef_available(void) { return 0; }
#else
static _Atomic int use_sleef = -1; /* −1: not decided yet (first call checks the CPU) */
static int sleef_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

int mr_vmath_sleef(int on) {
    if (on >= 0 || use_sleef < 0) use_sleef = (on != 0) && sleef_available();
    return use_sleef;
}

#ifdef MR_REF
#define FAST(call) ((void)0)
#else
#define FAST(call)                                   \
    do {                                             \
        if (use_sleef < 0) mr_vmath_sleef(1);        \
        if (use_sleef) {                             \
            call;                                    \
            return;                                  \
        }                                            \
    } while (0)
#endif

void mr_vexp(double *y, const double *x, size_t n) {
    FAST(mr_vexp_avx2(y, x, n));
    exp_libm(y, x, n);
}

void mr_vtanh(double *y, const double *x, size_t n) {
    FAST(mr_vtanh_avx2(y, x, n));
    tanh_libm(y, x, n);
}

void mr_vsigmoid(double *y, const double *x, size_t n) {
    FAST(mr_vsigmoid_avx2(y, x, n));
    sigmoid_libm(y, x, n);
}
