/* blas.h — the one matrix-multiply entry point of mimrl.c.
 *
 * All dense products in ref/ and estimators/ go through mr_gemm, so the
 * whole library switches between the bitwise-reproducible reference loops
 * (BLAS=none build, MR_REF defined) and GSL's CBLAS interface bound to
 * OpenBLAS (BLAS=openblas, default) or to GSL's own gslcblas (BLAS=gslcblas).
 *
 * Row-major, like numpy/PyTorch: A is M×K (or K×M when transA), B is K×N (or
 * N×K when transB), C is M×N, with leading dimensions lda, ldb, ldc.
 *     C = alpha · op(A) · op(B) + beta · C
 * beta == 0 overwrites C without reading it (NaN in C does not propagate),
 * as BLAS specifies.
 */
#ifndef MR_BLAS_H
#define MR_BLAS_H

#include <stddef.h>

void mr_gemm(int transA, int transB, size_t M, size_t N, size_t K, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
             size_t ldc);

/* The reference loops, always compiled: for each (i, j) the K products are
 * summed in increasing k into one accumulator, then alpha·acc + beta·C.
 * mr_gemm is this function in the BLAS=none build. */
void mr_gemm_ref(int transA, int transB, size_t M, size_t N, size_t K, double alpha,
                 const double *A, size_t lda, const double *B, size_t ldb, double beta,
                 double *C, size_t ldc);

/* Floating-point operations (2·M·N·K) of every mr_gemm call so far, all
 * threads: the benches turn it into GFLOP/s and a fraction of the GEMM peak. */
unsigned long long mr_gemm_flops(void);

/* Threads OpenBLAS uses for one call (no-op in the other builds); returns the
 * previous count. The model sets 1 while it runs the audio and visual
 * encoders on two threads of its own. */
int mr_blas_threads_set(int n);

#endif
