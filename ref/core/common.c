/* common.c — error messages and checked arithmetic (see common.h). */
#include "ref/core/common.h"

#include <stdarg.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int mr_fail(mr_error *e, int code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int mr_fail_append(mr_error *e, int code, const char *fmt, ...) {
    if (e) {
        size_t len = strnlen(e->msg, sizeof e->msg);
        if (e->code == MR_OK) {
            e->code = code;
            len = 0;
            e->msg[0] = '\0';
        } else if (len + 2 < sizeof e->msg) {
            memcpy(e->msg + len, "; ", 3);
            len += 2;
        }
        if (len < sizeof e->msg) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(e->msg + len, sizeof e->msg - len, fmt, ap);
            va_end(ap);
        }
        return e->code;
    }
    return code;
}

const char *mr_strerror(int code) {
    switch (code) {
    case MR_OK: return "ok";
    case MR_EIO: return "I/O error";
    case MR_EFORMAT: return "malformed input";
    case MR_EINVAL: return "invalid argument";
    case MR_ENOMEM: return "out of memory";
    case MR_EUNSUPPORTED: return "unsupported";
    case MR_ENOTFOUND: return "not found";
    case MR_ESHAPE: return "shape mismatch";
    default: return "unknown error";
    }
}

int mr_mul_overflow(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return 1;
    *out = a * b;
    return 0;
}

int mr_add_overflow(uint64_t a, uint64_t b, uint64_t *out) {
    if (b > UINT64_MAX - a) return 1;
    *out = a + b;
    return 0;
}

char *mr_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

double mr_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* glibc returns every block above M_MMAP_THRESHOLD (≤ 32 MB) to the kernel on
 * free and maps fresh zero pages on the next request. When the step's
 * activations were allocated per batch, that cost a third of the step in page
 * faults (perf: clear_page_erms under do_anonymous_page, bench/RESULTS.md).
 * The step now allocates nothing (its buffers and threads are the
 * workspace's, made once per run); what is still allocated and freed over a
 * run (batches, evaluation buffers, a workspace that grows) is served from
 * the heap, never trimmed, so its pages stay mapped and are reused (calloc
 * then clears them in user space). Numerics are untouched.
 * MIMRL_MALLOC=system keeps glibc's defaults (for measuring the difference). */
void mr_alloc_policy(void) {
#ifdef __GLIBC__
    const char *v = getenv("MIMRL_MALLOC");
    if (v && !strcmp(v, "system")) return;
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, -1);
#endif
}
