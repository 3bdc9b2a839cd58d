/* blas.c — mr_gemm dispatch (see blas.h) and BLAS identification. */
#include "ref/core/blas.h"

#include <stdio.h>

#include "ref/core/common.h"

#ifndef MR_REF
#include <gsl/gsl_cblas.h>
#endif
#ifdef MR_OPENBLAS
/* Declared here rather than through OpenBLAS's cblas.h, which would clash
 * with gsl_cblas.h. Both are exported by libopenblas. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);
#endif

int mr_blas_threads_set(int n) {
#ifdef MR_OPENBLAS
    int old = openblas_get_num_threads();
    openblas_set_num_threads(n);
    return old;
#else
    (void)n;
    return 1;
#endif
}

void mr_gemm_ref(int transA, int transB, size_t M, size_t N, size_t K, double alpha,
                 const double *A, size_t lda, const double *B, size_t ldb, double beta,
                 double *C, size_t ldc) {
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (size_t k = 0; k < K; k++) {
                double a = transA ? A[k * lda + i] : A[i * lda + k];
                double b = transB ? B[j * ldb + k] : B[k * ldb + j];
                acc += a * b;
            }
            double *c = &C[i * ldc + j];
            *c = (beta == 0.0) ? alpha * acc : alpha * acc + beta * *c;
        }
    }
}

static _Atomic unsigned long long gemm_flops;

unsigned long long mr_gemm_flops(void) { return gemm_flops; }

void mr_gemm(int transA, int transB, size_t M, size_t N, size_t K, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
             size_t ldc) {
    gemm_flops += 2ull * M * N * K;
#ifdef MR_REF
    mr_gemm_ref(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    if (M == 0 || N == 0) return;
    if (K == 0) { /* BLAS leaves C·beta; keep the beta==0 overwrite rule */
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
        return;
    }
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
#endif
}

const char *mr_blas_name(void) {
#if defined(MR_REF)
    return "none (reference loops)";
#elif defined(MR_OPENBLAS)
    return "openblas";
#else
    return "gslcblas";
#endif
}

void mr_blas_describe(char *buf, size_t n) {
#if defined(MR_OPENBLAS)
    snprintf(buf, n, "openblas (core %s, %d threads; %s)", openblas_get_corename(),
             openblas_get_num_threads(), openblas_get_config());
#else
    snprintf(buf, n, "%s", mr_blas_name());
#endif
}
