/* test_blas.c — mr_gemm against the reference loops, entry-wise with the
 * bound of tolerance.h item 2; in the BLAS=none build they must be
 * bitwise identical. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "ref/core/blas.h"
#include "ref/core/common.h"
#include "ref/nn/layers.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"

static void check_gemm(int ta, int tb, size_t M, size_t N, size_t K, double alpha, double beta,
                       unsigned long seed) {
    gsl_rng *r = t_rng(seed);
    size_t lda = ta ? M + 1 : K + 2, ldb = tb ? K + 3 : N + 1, ldc = N + 2;
    size_t arows = ta ? K : M, brows = tb ? N : K;
    double *A = t_alloc(arows * lda), *B = t_alloc(brows * ldb);
    double *C1 = t_alloc(M * ldc), *C2 = t_alloc(M * ldc), *absC = t_alloc(M * ldc);
    t_fill_uniform(A, arows * lda, -1, 1, r);
    t_fill_uniform(B, brows * ldb, -1, 1, r);
    t_fill_uniform(C1, M * ldc, -1, 1, r);
    memcpy(C2, C1, M * ldc * sizeof *C1);
    mr_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C1, ldc);
    mr_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
    /* |alpha|·|A||B| + |beta||C| as the scale */
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++)
                s += fabs(ta ? A[k * lda + i] : A[i * lda + k]) * fabs(tb ? B[j * ldb + k] : B[k * ldb + j]);
            absC[i * ldc + j] = fabs(alpha) * s + 2.0;
        }
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double d = fabs(C1[i * ldc + j] - C2[i * ldc + j]);
#ifdef MR_REF
            cr_assert(d == 0.0, "BLAS=none must be bitwise the reference");
#endif
            cr_assert(d <= MR_TOL_GEMM(K + 2) * absC[i * ldc + j], "gemm(%d,%d,%zu,%zu,%zu) [%zu,%zu]: %g vs %g",
                      ta, tb, M, N, K, i, j, C1[i * ldc + j], C2[i * ldc + j]);
        }
    gsl_rng_free(r);
}

Test(blas, gemm_agrees_with_reference_all_transposes) {
    unsigned long seed = 1;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_gemm(ta, tb, 7, 5, 3, 1.0, 0.0, seed++);
            check_gemm(ta, tb, 1, 1, 1, -0.5, 1.0, seed++);
            check_gemm(ta, tb, 33, 17, 129, 1.0, 1.0, seed++);
            check_gemm(ta, tb, 64, 128, 384, 0.75, 0.25, seed++);
        }
}

Test(blas, beta_zero_ignores_nan_in_c) {
    double A[2] = {1, 2}, B[2] = {3, 4}, C[1];
    t_traps_off();
    C[0] = NAN;
    mr_gemm(0, 0, 1, 1, 2, 1.0, A, 2, B, 1, 0.0, C, 1);
    t_traps_on();
    cr_assert(C[0] == 11.0);
}

Test(blas, k_zero_scales_c) {
    double C[2] = {1, 2};
    mr_gemm(0, 0, 1, 2, 0, 1.0, NULL, 1, NULL, 2, 0.5, C, 2);
    cr_assert(C[0] == 0.5 && C[1] == 1.0);
}

Test(blas, linear_layer_agrees_across_backends) {
    /* a linear layer at a MIMRL shape through mr_gemm vs reference loops */
    gsl_rng *r = t_rng(77);
    size_t N = 64, I = 384, O = 256;
    double *x = t_alloc(N * I), *w = t_alloc(O * I), *y = t_alloc(N * O), *yr = t_alloc(N * O);
    t_fill_uniform(x, N * I, -1, 1, r);
    t_fill_uniform(w, O * I, -1, 1, r);
    mr_linear_forward(y, x, w, NULL, N, I, O);
    mr_gemm_ref(0, 1, N, O, I, 1.0, x, I, w, I, 0.0, yr, O);
    for (size_t i = 0; i < N * O; i++) cr_assert(fabs(y[i] - yr[i]) <= MR_TOL_GEMM(I) * I);
    gsl_rng_free(r);
}

Test(blas, describes_itself) {
    char buf[512];
    mr_blas_describe(buf, sizeof buf);
#if defined(MR_REF)
    cr_assert(strstr(buf, "none") != NULL, "%s", buf);
#elif defined(MR_OPENBLAS)
    cr_assert(strstr(buf, "openblas (core ") != NULL, "%s", buf);
#endif
}
