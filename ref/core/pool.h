/* pool.h — a small persistent thread pool: its threads are started once
 * (with the workspace that owns it) and serve every step, so that a step
 * starts no thread.
 *
 * A pool has N lanes: lane 0 is the calling thread, lanes 1 … N−1 threads of
 * the pool. mr_pool_run(p, n, fn, arg) runs fn(arg, k) for the tasks
 * k = 0 … n−1, task k on lane k mod N, each lane its tasks in increasing k,
 * and returns when all are done. Which task runs where is therefore fixed by
 * n and N alone: a caller that gives each task its own buffers gets the same
 * bits for any N (and for N = 1, where every task runs on the caller in
 * order). No allocation, no thread start in mr_pool_run. One run at a time
 * per pool; a task must not run its own pool. */
#ifndef MR_POOL_H
#define MR_POOL_H

#include "ref/core/common.h"

typedef struct mr_pool mr_pool;
typedef void mr_pool_fn(void *arg, int task);

/* A pool of nthreads lanes (1 … MR_POOL_MAX_LANES; 1 starts no thread).
 * NULL with MR_EINVAL for a count outside that range, MR_ENOMEM when the
 * pool or one of its nthreads − 1 threads cannot be had (the message names
 * the threads asked for); nothing is left running then. */
#define MR_POOL_MAX_LANES 64
mr_pool *mr_pool_create(int nthreads, mr_error *e);
int mr_pool_lanes(const mr_pool *p);
void mr_pool_run(mr_pool *p, int ntasks, mr_pool_fn *fn, void *arg);
/* stops and joins the threads; NULL is fine */
void mr_pool_destroy(mr_pool *p);

#endif
