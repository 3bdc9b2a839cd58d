/* alloc_count.c — see alloc_count.h. */
#include "verify/alloc_count.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static atomic_int counting;
static atomic_long calls, fail_at;

/* counts the call; 1 when it is the one to fail */
static int note(void) {
    if (!atomic_load(&counting)) return 0;
    long k = atomic_fetch_add(&calls, 1) + 1;
    return k == atomic_load(&fail_at);
}

void *__wrap_malloc(size_t n) {
    return note() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size) {
    return note() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n) {
    return note() ? NULL : __real_realloc(p, n);
}

void t_alloc_count_start(void) {
    atomic_store(&fail_at, 0);
    atomic_store(&calls, 0);
    atomic_store(&counting, 1);
}

void t_alloc_fail_at(long n) {
    atomic_store(&counting, 0);
    atomic_store(&calls, 0);
    atomic_store(&fail_at, n);
    atomic_store(&counting, 1);
}

long t_alloc_count_stop(void) {
    atomic_store(&counting, 0);
    atomic_store(&fail_at, 0);
    return atomic_load(&calls);
}

/* ---- threads */
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

static atomic_int thread_counting, thread_failing;
static atomic_long thread_calls;

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    if (atomic_load(&thread_counting)) atomic_fetch_add(&thread_calls, 1);
    if (atomic_load(&thread_failing)) return EAGAIN;
    return __real_pthread_create(t, a, fn, arg);
}

void t_thread_count_start(void) {
    atomic_store(&thread_calls, 0);
    atomic_store(&thread_counting, 1);
}

long t_thread_count_stop(void) {
    atomic_store(&thread_counting, 0);
    return atomic_load(&thread_calls);
}

void t_thread_fail(int on) { atomic_store(&thread_failing, on ? 1 : 0); }
