/* pool.c — see pool.h. One mutex, two condition variables: the caller
 * publishes a job and bumps a generation number; each thread runs its lane's
 * tasks of that generation and counts itself done. */
#include "ref/core/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    mr_pool *p;
    int lane;
} lane_arg;

struct mr_pool {
    int n; /* lanes, the caller's included */
    int started; /* threads running (lanes 1 … started) */
    pthread_t th[MR_POOL_MAX_LANES];
    lane_arg la[MR_POOL_MAX_LANES];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen; /* bumped per run */
    int pending;       /* threads still running the current generation */
    int quit;
    /* the current job */
    int ntasks;
    mr_pool_fn *fn;
    void *arg;
};

static void run_lane(mr_pool_fn *fn, void *arg, int ntasks, int lane, int n) {
    for (int k = lane; k < ntasks; k += n) fn(arg, k);
}

static void *worker(void *v) {
    lane_arg *a = v;
    mr_pool *p = a->p;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->quit) pthread_cond_wait(&p->go, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        mr_pool_fn *fn = p->fn;
        void *arg = p->arg;
        int ntasks = p->ntasks;
        pthread_mutex_unlock(&p->mu);
        run_lane(fn, arg, ntasks, a->lane, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void stop(mr_pool *p) {
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t <= p->started; t++) pthread_join(p->th[t], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->go);
    pthread_mutex_destroy(&p->mu);
}

mr_pool *mr_pool_create(int nthreads, mr_error *e) {
    if (nthreads < 1 || nthreads > MR_POOL_MAX_LANES) {
        mr_fail(e, MR_EINVAL, "thread pool: %d threads asked for (1 … %d)", nthreads, MR_POOL_MAX_LANES);
        return NULL;
    }
    mr_pool *p = calloc(1, sizeof *p);
    if (!p) {
        mr_fail(e, MR_ENOMEM, "thread pool of %d threads: out of memory (%zu bytes)", nthreads, sizeof *p);
        return NULL;
    }
    p->n = nthreads;
    if (pthread_mutex_init(&p->mu, NULL)) {
        free(p);
        mr_fail(e, MR_ENOMEM, "thread pool of %d threads: cannot create its mutex", nthreads);
        return NULL;
    }
    if (pthread_cond_init(&p->go, NULL)) {
        pthread_mutex_destroy(&p->mu);
        free(p);
        mr_fail(e, MR_ENOMEM, "thread pool of %d threads: cannot create its condition variable", nthreads);
        return NULL;
    }
    if (pthread_cond_init(&p->done, NULL)) {
        pthread_cond_destroy(&p->go);
        pthread_mutex_destroy(&p->mu);
        free(p);
        mr_fail(e, MR_ENOMEM, "thread pool of %d threads: cannot create its condition variable", nthreads);
        return NULL;
    }
    for (int t = 1; t < nthreads; t++) {
        p->la[t] = (lane_arg){p, t};
        int rc = pthread_create(&p->th[t], NULL, worker, &p->la[t]);
        if (rc) {
            stop(p);
            free(p);
            mr_fail(e, MR_ENOMEM, "thread pool: cannot start thread %d of the %d threads asked for (%d besides the caller): %s",
                    t, nthreads, nthreads - 1, strerror(rc));
            return NULL;
        }
        p->started = t;
    }
    return p;
}

int mr_pool_lanes(const mr_pool *p) { return p ? p->n : 1; }

void mr_pool_run(mr_pool *p, int ntasks, mr_pool_fn *fn, void *arg) {
    if (ntasks <= 0) return;
    if (!p || p->n == 1 || ntasks == 1) {
        run_lane(fn, arg, ntasks, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn, p->arg = arg, p->ntasks = ntasks;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_lane(fn, arg, ntasks, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->pending) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void mr_pool_destroy(mr_pool *p) {
    if (!p) return;
    stop(p);
    free(p);
}
