/* fail_threads.c — an LD_PRELOAD shim whose pthread_create always fails
 * with EAGAIN, as at the process's thread limit (ulimit -u, a cgroup's
 * pids.max). Built by the Makefile as $(OUT)/fail_threads.so next to mimrl;
 * verify/test_pool.c runs `mimrl train` under it: the run must exit 1 with
 * the threads it asked for named, and leave an existing last.npz as it was.
 * Run OpenBLAS at one thread under it (OPENBLAS_NUM_THREADS=1): OpenBLAS
 * starts its own threads when it loads. */
#include <errno.h>
#include <pthread.h>

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    (void)t, (void)a, (void)fn, (void)arg;
    return EAGAIN;
}
