/* optim.h — optimizers, gradient clipping and LR schedules with PyTorch
 * (1.10–1.13) semantics, over the parameter store (params.h).
 *
 * Adam (torch.optim.Adam, amsgrad off), per tensor, with t = ++step:
 *   g ← g + wd·p                       (L2 added to the gradient)
 *   m ← m·β1 + (1−β1)·g ;  v ← v·β2 + (1−β2)·g·g
 *   p ← p − (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + eps)
 * SGD (torch.optim.SGD, dampening 0, no Nesterov):
 *   g ← g + wd·p ; buf ← g at the first step, else buf·μ + g ; p ← p − lr·buf
 * The moments live in the store's m / v buffers and the step counts in
 * p->step, so a checkpoint with optimizer state resumes bit-exactly.
 *
 * Parameter groups hold their own learning rate and list of tensors (by
 * index into the store), as torch param_groups do.
 */
#ifndef MR_OPTIM_H
#define MR_OPTIM_H

#include "ref/core/params.h"

typedef enum { MR_OPT_ADAM = 0, MR_OPT_SGD } mr_opt_kind;

#define MR_MAX_GROUPS 4

typedef struct {
    size_t *tensors;
    size_t n;
    double lr, initial_lr;
} mr_param_group;

typedef struct {
    mr_opt_kind kind;
    double beta1, beta2, eps, weight_decay, momentum;
    size_t ngroups;
    mr_param_group g[MR_MAX_GROUPS];
    mr_params *p;
} mr_optim;

/* Adam with β = (0.9, 0.999), eps = 1e-8. */
void mr_optim_adam(mr_optim *o, mr_params *p, double weight_decay);
/* SGD with the given momentum (the official code uses 0.9). */
void mr_optim_sgd(mr_optim *o, mr_params *p, double momentum, double weight_decay);
/* Add a group of tensors (indices into the store) with its learning rate. */
int mr_optim_add_group(mr_optim *o, const size_t *tensors, size_t n, double lr, mr_error *e);
/* Tensors whose name contains `substr` (NULL: all), excluding those for
 * which `exclude(name)` is true when exclude is non-NULL. Returns the count;
 * idx must hold p->n entries. */
size_t mr_params_select(const mr_params *p, const char *substr, int (*exclude)(const char *),
                        size_t *idx);
/* One step of every group on the store's current gradients. */
void mr_optim_step(mr_optim *o);
void mr_optim_free(mr_optim *o);

/* ---- gradient clipping (over the listed tensors, or the flat buffer) */
/* torch.nn.utils.clip_grad_value_: clamp every gradient entry to [−c, c]. */
void mr_clip_grad_value(mr_params *p, const size_t *tensors, size_t n, double c);
/* torch.nn.utils.clip_grad_norm_ (L2): total = ‖(‖g_i‖)_i‖, coef =
 * min(1, max_norm/(total + 1e-6)), every gradient multiplied by coef.
 * Returns the total norm before clipping. */
double mr_clip_grad_norm(mr_params *p, const size_t *tensors, size_t n, double max_norm);

/* ---- learning-rate schedules, stepped once per epoch (chainable form:
 * each step multiplies the group's current lr, as PyTorch does, so the
 * values are bitwise those of torch.optim.lr_scheduler) */
typedef enum { MR_LR_CONSTANT = 0, MR_LR_STEP, MR_LR_MULTISTEP, MR_LR_EXP, MR_LR_PLATEAU } mr_lr_kind;

#define MR_MAX_MILESTONES 16

typedef struct {
    mr_lr_kind kind;
    int last_epoch;
    double gamma;
    int step_size;                         /* step */
    int milestones[MR_MAX_MILESTONES], nm; /* multi_step */
    /* plateau (ReduceLROnPlateau defaults: mode min, threshold 1e-4 rel,
     * cooldown 0, min_lr 0, eps 1e-8; patience and factor given) */
    int mode_max, patience, cooldown, cooldown_counter, num_bad_epochs;
    double threshold, best, min_lr, eps;
} mr_lr_sched;

void mr_sched_init(mr_lr_sched *s, mr_lr_kind kind, double gamma);
/* One epoch done; `metric` is used by plateau only. */
void mr_sched_step(mr_lr_sched *s, mr_optim *o, double metric);
/* Parse the official --lr_decrease name (step, multi_step, exp, plateau). */
int mr_lr_parse(const char *name);

#endif
