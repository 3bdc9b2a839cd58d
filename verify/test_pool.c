/* test_pool.c — ref/core/pool.h: task k runs on lane k mod N (lane 0 the
 * caller), every task exactly once per run, the threads are started by
 * mr_pool_create and by nothing else, and a thread that cannot start is an
 * error naming the threads asked for, with nothing left running. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/core/pool.h"
#include "verify/alloc_count.h"
#include "verify/helpers.h"

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

/* ---- `mimrl train` without its threads (verify/shim/fail_threads.c, an
 * LD_PRELOAD shim whose pthread_create fails): exit 1 before any step, the
 * threads it asked for named, and the last.npz of an earlier epoch left as
 * it was, byte for byte. */
#define SMALL_RUN "--d_common 8 --time_len 8 --d_hiddens 4-3-8=2-3-8 --d_outs 4-3-8=2-3-8 --res_project 1-1 --batch_size 16 --stage1_n 1 --seed 3"

static int shim_path(char *buf, size_t n) { return t_beside_bin(buf, n, "fail_threads.so"); }

/* `mimrl args` with pthread_create failing; its exit status */
static int run_without_threads(const char *args, char *out, size_t n) {
    char shim[4096], abs[8192];
    cr_assert(shim_path(shim, sizeof shim), "%s is not built (make %s)", shim, shim);
    cr_assert(realpath(shim, abs) != NULL, "%s", shim);
    setenv("LD_PRELOAD", abs, 1);
    setenv("OPENBLAS_NUM_THREADS", "1", 1);   /* OpenBLAS starts no thread of its own */
    setenv("MIMRL_ENCODER_THREADS", "2", 1);  /* two branch lanes whatever the cores */
    setenv("ASAN_OPTIONS", "verify_asan_link_order=0:handle_sigfpe=0", 1); /* the shim before ASan's runtime */
    int rc = t_run_cli(args, out, n);
    unsetenv("LD_PRELOAD");
    unsetenv("MIMRL_ENCODER_THREADS");
    return rc;
}

Test(pool, train_without_its_threads_exits_1_and_keeps_last_npz, .timeout = 600) {
    char prefix[512], run[512], fresh[512], args[4096], out[65536], last[700];
    t_path(prefix, sizeof prefix, "pool_d");
    t_path(run, sizeof run, "pool_run");
    t_path(fresh, sizeof fresh, "pool_fresh");
    snprintf(args, sizeof args, "synth --like mosi --out %s --n-train 32 --n-valid 16 --n-test 16 --max-frames 8 --max-words 5 --mc-samples 50",
             prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 1 " SMALL_RUN, prefix, run);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(last, sizeof last, "%s/last.npz", run);
    size_t n0 = 0, n1 = 0;
    unsigned char *before = t_read_file(last, &n0);
    cr_assert(before && n0 > 0, "%s was not written", last);
    /* resumed: the epoch cannot start */
    snprintf(args, sizeof args, "train --resume %s --epochs_num 2", run);
    int rc = run_without_threads(args, out, sizeof out);
    cr_assert(rc == 1, "exit %d without threads, expected 1:\n%s", rc, out);
    cr_assert(strstr(out, "2 threads asked for") != NULL, "the message does not name the threads asked for:\n%s", out);
    cr_assert(strstr(out, "\n    1 ") == NULL && strstr(out, "\n    2 ") == NULL, "an epoch was logged:\n%s", out);
    unsigned char *after = t_read_file(last, &n1);
    cr_assert(after && n1 == n0 && memcmp(before, after, n0) == 0, "%s changed (%zu bytes before, %zu after)", last, n0, n1);
    free(before), free(after);
    /* a new run: no checkpoint at all */
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 1 " SMALL_RUN, prefix, fresh);
    rc = run_without_threads(args, out, sizeof out);
    cr_assert(rc == 1, "exit %d without threads, expected 1:\n%s", rc, out);
    cr_assert(strstr(out, "2 threads asked for") != NULL, "%s", out);
    snprintf(last, sizeof last, "%s/last.npz", fresh);
    cr_assert(access(last, F_OK) != 0, "%s written by a run without its threads", last);
}
