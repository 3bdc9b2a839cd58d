/* alloc_count.h — counts the heap allocations made by mimrl.c's own code.
 *
 * The test binary is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc (Makefile, TESTBIN): every call to those functions from an
 * object of the test binary — libmimrl.a's objects and the tests — goes to
 * the __wrap_ functions in alloc_count.c, which count it and forward to
 * glibc. Calls made inside shared libraries (glibc, GSL, OpenBLAS,
 * Criterion) are not redirected, so the count is exactly the allocations
 * our code asks for, from any thread; it works under ASan too (the real
 * functions are then ASan's). */
#ifndef MR_ALLOC_COUNT_H
#define MR_ALLOC_COUNT_H

/* Start counting from zero; stop and return the number of calls since. */
void t_alloc_count_start(void);
long t_alloc_count_stop(void);
/* Start counting from zero and make the n-th call from now (1-based) fail
 * (return NULL, as an exhausted heap would); t_alloc_count_stop ends it. */
void t_alloc_fail_at(long n);

/* Threads. The test binary is linked with --wrap=pthread_create too: every
 * thread our code (libmimrl.a, the tests) starts is counted while counting
 * is on; OpenBLAS's and Criterion's own threads are not (shared
 * libraries). t_thread_fail(1) makes every pthread_create of ours fail
 * with EAGAIN (as at the process's thread limit) until t_thread_fail(0). */
void t_thread_count_start(void);
long t_thread_count_stop(void);
void t_thread_fail(int on);

#endif
