/* common.h — error reporting, checked arithmetic and small helpers shared by
 * every part of mimrl.c.
 *
 * Error convention (GSL-like, without a global handler): functions that can
 * fail return an int status (MR_OK = 0) and, when given a non-NULL
 * mr_error*, leave a human-readable message there that names the file and the
 * field (npz member, flag, tensor) at fault. Nothing in the library calls
 * exit() or abort(); the CLI decides what to do with a status.
 *
 * Numerical kernels (layers, losses, bounds) cannot fail and return void:
 * their preconditions are shapes, which the caller owns.
 */
#ifndef MR_COMMON_H
#define MR_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    MR_OK = 0,
    MR_EIO = 1,          /* open/read/write/rename failed */
    MR_EFORMAT = 2,      /* malformed file content */
    MR_EINVAL = 3,       /* bad argument, flag or value */
    MR_ENOMEM = 4,       /* allocation failed */
    MR_EUNSUPPORTED = 5, /* well-formed but outside what we support */
    MR_ENOTFOUND = 6,    /* named member / tensor absent */
    MR_ESHAPE = 7        /* shapes do not match */
};

typedef struct {
    int code;
    char msg[8192];
} mr_error;

/* Fill e (if non-NULL) with code and a printf-style message; return code. */
int mr_fail(mr_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Append ("; " separated) to an existing message, keeping the first code. */
int mr_fail_append(mr_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

const char *mr_strerror(int code);

/* Checked size arithmetic: return 0 on success, 1 on overflow. */
int mr_mul_overflow(uint64_t a, uint64_t b, uint64_t *out);
int mr_add_overflow(uint64_t a, uint64_t b, uint64_t *out);

/* Duplicate a string (NULL on allocation failure). */
char *mr_strdup(const char *s);

/* Seconds on the monotonic clock (differences are wall time). */
double mr_seconds(void);

/* Human-readable name of the BLAS this build uses ("openblas", "gslcblas",
 * "none (reference loops)") and, for OpenBLAS, its core name and threads. */
const char *mr_blas_name(void);
void mr_blas_describe(char *buf, size_t n);
/* Process-wide allocator policy for long runs (CLI, benches): keep freed
 * memory in the heap instead of returning it to the kernel (glibc mallopt;
 * no-op elsewhere). Call once at the start of main. */
void mr_alloc_policy(void);

#endif
