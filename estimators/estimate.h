/* estimate.h — training estimators on synthetic distributions with known
 * information (`mimrl estimate`, `make verify`).
 *
 * MI runs (variational bounds): a critic (critic.h) is trained with Adam on
 * the bound's mi_loss over fresh batches every step, through a schedule of
 * true-MI levels (the Poole staircase: 2, 4, 6, 8, 10 nats, d = 20); the
 * per-step estimate is the bound's value on the training batch, as in Poole
 * et al. Per level we report the mean and standard deviation of the
 * estimates over the last half of the level's steps.
 *
 * CMI runs (classifier, cmine.h): n_train joint samples and as many k-NN
 * product samples (built from the same samples, anchors excluded) train the
 * classifier with BCE (Adam, minibatches); the three read-outs are evaluated
 * on n_eval fresh samples with their own product samples, and compared with
 * Frenzel–Pompe on the same evaluation samples.
 */
#ifndef MR_ESTIMATE_H
#define MR_ESTIMATE_H

#include <stdio.h>

#include "estimators/bounds.h"
#include "estimators/cmine.h"
#include "estimators/critic.h"

#define MR_MAX_LEVELS 16

typedef struct {
    mr_bound bound;
    mr_bound_opts bopt;
    mr_critic_kind critic;
    mr_baseline_kind base;
    size_t d, B, hidden, embed, layers;
    size_t steps_per_level, nlevels;
    double levels[MR_MAX_LEVELS]; /* true MI per level, nats */
    int cubic;
    double lr;
    unsigned long seed;
    FILE *csv;      /* per-step trajectory (may be NULL) */
    FILE *progress; /* progress lines (may be NULL) */
} mr_mi_run;

typedef struct {
    double truth[MR_MAX_LEVELS], mean[MR_MAX_LEVELS], sd[MR_MAX_LEVELS];
    double seconds;
} mr_mi_result;

void mr_mi_run_default(mr_mi_run *c); /* the Poole staircase, separate critic, infonce */
int mr_run_mi(const mr_mi_run *c, mr_mi_result *res, mr_error *e);

typedef enum {
    MR_CMI_DIST_CMINE = 0, /* I(X;Y|Z) of the CMINE chain, 1.5185 nats per dimension */
    MR_CMI_DIST_CMINE_ZERO, /* I(X;Z|Y) of the same chain, 0 */
    MR_CMI_DIST_CCMI_F,
    MR_CMI_DIST_CCMI_G
} mr_cmi_dist;

typedef struct {
    mr_cmi_dist dist;
    size_t d;  /* chain dimension, or dz for CCMI */
    size_t k;  /* neighbours per anchor */
    size_t n_train, n_eval, hidden, epochs, batch;
    mr_cmi_head head;
    double lr;
    unsigned long seed;
    int with_fp; /* also run Frenzel–Pompe on the evaluation set */
    FILE *progress;
} mr_cmi_run;

typedef struct {
    double truth, est[MR_CMI_READ_COUNT], se[MR_CMI_READ_COUNT], fp, seconds;
} mr_cmi_result;

void mr_cmi_run_default(mr_cmi_run *c);
int mr_run_cmi(const mr_cmi_run *c, mr_cmi_result *res, mr_error *e);

#endif
