/* data_est.h — MI and CMI estimation on the caller's samples (`mimrl
 * estimate --data`, mimrl_estimate in the public API, `mimrl verify-peer`).
 *
 * Members are row-major double arrays, rows = samples: x[n×dx], y[n×dy] and,
 * for conditional MI, z[n×dz].
 *
 * Methods (mr_est_method_parse names):
 *   <bound>-<critic>  a variational bound of bounds.h (nwj infonce js smile dv
 *                     mine tuba interpolate js_fgan) with a critic of critic.h
 *                     (separate concat); tuba and interpolate use the learned
 *                     (unnormalized) baseline, the others the constant one. MI,
 *                     nats — except js_fgan, whose value is the f-GAN JS
 *                     objective 2·JSD − ln 4 (not MI; its unit string says
 *                     so), and mine, whose official surrogate is not negated
 *                     (spec O-16) and so diverges (see diverged_at).
 *   ksg               Kraskov–Stögbauer–Grassberger (knn_mi.h), k = knn_k. MI, nats.
 *   cmine-mimrl       CMINE classifier (cmine.h), the official MIMRL read-out
 *                     1 + s_J/n − s_P/n: offset 1 and half scale, NOT nats.
 *   cmine-nwj         the same classifier, the NWJ read-out (nats).
 *   cmine-dv          the same classifier, the DV read-out (nats).
 *   fp                Frenzel–Pompe conditional MI, k = knn_k (nats).
 *
 * Protocol of the neural methods (the Beyond Normal protocol, Czyż et al.
 * NeurIPS 2023, as far as it is stated there; every item is an option):
 *   1. every column standardised (mean 0, sd 1 over all rows)      standardize
 *   2. rows shuffled by the seed, split train/test 50/50           test_frac
 *   3. trained on the train half only
 *   4. evaluated on the held-out half every eval_every steps (MI: the bound
 *      averaged over consecutive test batches of the training batch size;
 *      CMI: BCE and read-outs on all test rows with their own k-NN product
 *      samples, after every epoch)
 *   5. early stopping: no better held-out objective for `patience`
 *      evaluations in a row (or max_steps / cmi_epochs reached)
 *   6. reported value: the held-out estimate at the best held-out objective
 *      (MI: the largest held-out bound, the objective being the bound;
 *      CMI: the three read-outs at the lowest held-out BCE, BCE being what
 *      the classifier is trained on).
 * A non-finite training loss (MINE's unstabilised exp can overflow, O-16)
 * stops that seed's training; its value is the best held-out estimate
 * before it (−inf if none) and diverged_at says where.
 * The k-NN methods use all rows (no split; they are not trained) after
 * standardisation; they are deterministic, so one value is reported whatever
 * the number of seeds.
 *
 * Seeds: seed s of S uses opts.seed + s for the split, the initialisation
 * and the batch order. Mean ± sd are over the S seeds (sd with n − 1).
 */
#ifndef MR_DATA_EST_H
#define MR_DATA_EST_H

#include <stdio.h>

#include "estimators/bounds.h"
#include "estimators/cmine.h"
#include "estimators/critic.h"

#define MR_EST_MAXSEEDS 64
#define MR_EST_MAXMETHODS 32
/* The MI methods run when none are named (CLI and API alike). */
#define MR_EST_DEFAULT_MI_METHODS "infonce-separate,nwj-separate,smile-separate,ksg"

typedef enum { MR_EK_BOUND = 0, MR_EK_KSG, MR_EK_CMINE, MR_EK_FP } mr_est_kind;

typedef struct {
    mr_est_kind kind;
    mr_bound bound;        /* MR_EK_BOUND */
    mr_critic_kind critic; /* MR_EK_BOUND */
    mr_cmi_readout ro;     /* MR_EK_CMINE */
} mr_est_method;

int mr_est_method_parse(const char *name, mr_est_method *m); /* 0 or −1 */
void mr_est_method_name(const mr_est_method *m, char *buf, size_t n);
int mr_est_method_is_cmi(const mr_est_method *m);
/* A comma-separated list; "all" = every MI method (cmi = 0) or every CMI
 * method (cmi = 1). Unknown names and duplicates are errors. */
int mr_est_methods_parse(const char *list, int cmi, mr_est_method *out, size_t max, size_t *n, mr_error *e);

typedef struct {
    int standardize;   /* 1 */
    double test_frac;  /* 0.5 */
    size_t batch;      /* 128: MI batch */
    size_t max_steps;  /* 4000: MI training steps at most */
    size_t eval_every; /* 100 steps */
    size_t patience;   /* 10 evaluations (MI) or epochs (CMI) */
    double lr;         /* 5e-4: MI critic, Adam */
    size_t hidden, embed, layers; /* 128, 32, 1 (in → 128 → 128 → out) */
    size_t knn_k;      /* 5: KSG and Frenzel–Pompe */
    size_t cmi_k;      /* 2: neighbours per anchor of the CMINE product sampler */
    size_t cmi_hidden; /* 64 */
    size_t cmi_epochs; /* 100 at most */
    size_t cmi_batch;  /* 256 */
    double cmi_lr;     /* 1e-3 */
    size_t seeds;      /* 1 */
    unsigned long seed;/* 0 */
    FILE *progress;    /* one line per evaluation (may be NULL) */
} mr_est_opts;

void mr_est_opts_default(mr_est_opts *o);
/* One option by its API name (the CLI flag without "--", '-' → '_'):
 * seeds seed standardize(true|false) test_frac eval_every patience steps
 * batch lr hidden embed layers k epochs cmi_batch cmi_hidden cmi_lr knn. */
int mr_est_opts_set(mr_est_opts *o, const char *key, const char *value, mr_error *e);

typedef struct {
    const char *name; /* names the member in errors */
    const double *v;
    size_t n, d;
} mr_est_member;

typedef struct {
    mr_est_method m;
    char name[32];
    const char *unit;   /* "nats" or "official read-out (offset 1, half scale; not nats)" */
    size_t nseeds;      /* values below (1 for the deterministic k-NN methods) */
    double val[MR_EST_MAXSEEDS];
    size_t steps[MR_EST_MAXSEEDS]; /* steps (MI) or epochs (CMI) trained; 0 for k-NN */
    size_t best_at[MR_EST_MAXSEEDS]; /* step/epoch of the reported value */
    size_t diverged_at[MR_EST_MAXSEEDS]; /* MI: step whose training loss was non-finite (training stopped there); 0 = none */
    double mean, sd, seconds;
} mr_est_result;

/* Every input check of the issue-21 contract; the message names the member
 * and the row or column: different row counts, NaN/Inf, a constant column,
 * too few rows for k-NN (k + 1) or for the split, z given to an MI method or
 * missing for a CMI method, a zero-width member. z may be NULL. */
int mr_est_check(const mr_est_member *x, const mr_est_member *y, const mr_est_member *z,
                 const mr_est_method *ms, size_t nm, const mr_est_opts *o, mr_error *e);

/* Checks, then runs every method for every seed; res[nm]. */
int mr_est_run(const mr_est_member *x, const mr_est_member *y, const mr_est_member *z,
               const mr_est_method *ms, size_t nm, const mr_est_opts *o, mr_est_result *res, mr_error *e);

/* The report as JSON (one object: settings, members, methods with mean, sd,
 * values, unit, seconds), numbers with 17 significant digits. */
void mr_est_write_json(FILE *f, const mr_est_member *x, const mr_est_member *y, const mr_est_member *z,
                       const mr_est_result *res, size_t nm, const mr_est_opts *o);
/* The same as a plain-text table. */
void mr_est_write_table(FILE *f, const mr_est_member *x, const mr_est_member *y, const mr_est_member *z,
                        const mr_est_result *res, size_t nm, const mr_est_opts *o);

#endif
