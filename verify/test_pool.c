/* test_pool.c — ref/core/pool.h: task k runs on lane k mod N (lane 0 the
 * caller), every task exactly once per run, the threads are started by
 * mr_pool_create and by nothing else, and a thread that cannot start is an
 * error naming the threads asked for, with nothing left running. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ref/core/pool.h"
#include "verify/alloc_count.h"

enum { NT = 11 };

typedef struct {
    pthread_t who[NT];
    atomic_int runs[NT];
} rec;

static void note(void *v, int k) {
    rec *r = v;
    r->who[k] = pthread_self();
    atomic_fetch_add(&r->runs[k], 1);
}

Test(pool, task_k_runs_on_lane_k_mod_n_and_runs_start_no_thread) {
    for (int n = 1; n <= 4; n++) {
        mr_error e = {0};
        t_thread_count_start();
        mr_pool *p = mr_pool_create(n, &e);
        long started = t_thread_count_stop();
        cr_assert(p != NULL, "%d lanes: %s", n, e.msg);
        cr_assert(mr_pool_lanes(p) == n);
        cr_assert(started == n - 1, "%d lanes: %ld threads started, expected %d", n, started, n - 1);
        for (int ntasks = 0; ntasks <= NT; ntasks++)
            for (int rep = 0; rep < 3; rep++) {
                rec r;
                memset(&r, 0, sizeof r);
                t_thread_count_start(), t_alloc_count_start();
                mr_pool_run(p, ntasks, note, &r);
                long nt = t_thread_count_stop(), na = t_alloc_count_stop();
                cr_assert(nt == 0 && na == 0, "a run started %ld threads, made %ld allocations", nt, na);
                for (int k = 0; k < ntasks; k++) {
                    cr_assert(atomic_load(&r.runs[k]) == 1, "%d lanes, %d tasks: task %d ran %d times", n, ntasks, k,
                              atomic_load(&r.runs[k]));
                    if (k % n == 0) cr_assert(pthread_equal(r.who[k], pthread_self()), "task %d is the caller's", k);
                    else cr_assert(!pthread_equal(r.who[k], pthread_self()), "task %d ran on the caller", k);
                    if (k >= n) cr_assert(pthread_equal(r.who[k], r.who[k - n]), "tasks %d and %d on different lanes", k, k - n);
                    else
                        for (int q = 0; q < k; q++) cr_assert(!pthread_equal(r.who[k], r.who[q]), "tasks %d and %d share a lane", q, k);
                }
                for (int k = ntasks; k < NT; k++) cr_assert(atomic_load(&r.runs[k]) == 0);
            }
        mr_pool_destroy(p);
    }
    mr_pool_destroy(NULL);
}

Test(pool, a_thread_that_cannot_start_is_an_error_naming_the_threads) {
    mr_error e = {0};
    t_thread_fail(1);
    mr_pool *p = mr_pool_create(3, &e);
    t_thread_fail(0);
    cr_assert(p == NULL);
    cr_assert(e.code == MR_ENOMEM, "code %d: %s", e.code, e.msg);
    cr_assert(strstr(e.msg, "3 threads asked for") != NULL, "%s", e.msg);
    /* one lane needs no thread */
    t_thread_fail(1);
    p = mr_pool_create(1, &e);
    t_thread_fail(0);
    cr_assert(p != NULL, "%s", e.msg);
    mr_pool_destroy(p);
    cr_assert(mr_pool_create(0, &e) == NULL && e.code == MR_EINVAL, "%s", e.msg);
    cr_assert(mr_pool_create(MR_POOL_MAX_LANES + 1, &e) == NULL && e.code == MR_EINVAL, "%s", e.msg);
}
