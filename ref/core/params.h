/* params.h — the parameter store: named tensors in one contiguous buffer.
 *
 * Every trainable tensor of a model is registered by its official PyTorch
 * state_dict name and shape (../shared/spec/state-dict/), then one call
 * allocates four mirrored buffers of `total` doubles: values, gradients and
 * the two optimizer moments (Adam exp_avg / exp_avg_sq; SGD's momentum
 * buffer lives in m). Tensor i occupies [offset, offset + size) of each.
 *
 * Checkpoints are npz files: one <f8 member per tensor under its name, a
 * `config_json` member (|u1 UTF-8 bytes), `mimrl_format_version` (<i4 [1]),
 * and optionally the optimizer state as `optim/exp_avg/<name>`,
 * `optim/exp_avg_sq/<name>` and `optim/step/<name>` (<i8 0-d). Loading
 * accepts <f8 and <f4, checks every name and shape and reports every missing,
 * extra or mis-shaped tensor at once, refuses NaN/inf, and leaves the store
 * untouched on any error. Saves are atomic (npz.h).
 */
#ifndef MR_PARAMS_H
#define MR_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "ref/core/common.h"
#include "ref/core/npz.h"

#define MR_NAME_MAX 160
#define MR_MAXDIM 4
#define MR_FORMAT_VERSION 1

typedef struct {
    char name[MR_NAME_MAX];
    int ndim;
    size_t shape[MR_MAXDIM];
    size_t size, offset;
} mr_tensor;

typedef struct {
    size_t n, cap;
    mr_tensor *t;
    size_t total;
    double *data, *grad, *m, *v;
    int64_t *step; /* optimizer steps taken, per tensor (PyTorch's state['step']) */
} mr_params;

void mr_params_init(mr_params *p);
/* Register a tensor (before mr_params_alloc). Names must be unique. */
int mr_params_add(mr_params *p, const char *name, int ndim, const size_t *shape, mr_error *e);
/* Allocate the zeroed buffers for everything registered. */
int mr_params_alloc(mr_params *p, mr_error *e);
void mr_params_free(mr_params *p);

/* Values and gradient of tensor i, the one accessor (no bounds check: i
 * comes from a register call). MR_NO_TENSOR stands for an absent optional
 * tensor (a bias turned off, no projection) and gives NULL, which the layers
 * read as "none". */
#define MR_NO_TENSOR SIZE_MAX
static inline double *mr_params_val(const mr_params *p, size_t i) {
    return i == MR_NO_TENSOR ? NULL : p->data + p->t[i].offset;
}
static inline double *mr_params_grad(const mr_params *p, size_t i) {
    return i == MR_NO_TENSOR ? NULL : p->grad + p->t[i].offset;
}

long mr_params_find(const mr_params *p, const char *name);
double *mr_params_get(const mr_params *p, const char *name);      /* values or NULL */
double *mr_params_get_grad(const mr_params *p, const char *name); /* gradient or NULL */
void mr_params_zero_grad(mr_params *p);

/* Register the tensors of a state-dict TSV ("name<TAB>AxB", '#' comments). */
int mr_params_add_tsv(mr_params *p, const char *path, mr_error *e);

/* Save values (and with_optim: moments and steps) plus config_json (may be NULL). */
int mr_params_save(const mr_params *p, const char *path, const char *config_json, int with_optim,
                   mr_error *e);
/* The same members written into an open npz writer (npz.h), so a caller can
 * add its own (names under "trainer/" are ignored when loading). */
int mr_params_write(const mr_params *p, mr_npz_writer *w, const char *config_json, int with_optim, mr_error *e);
/* Load by name. config_json (if non-NULL) receives a malloc'd string or NULL
 * when the file has none. with_optim: optimizer state must be present too. */
int mr_params_load(mr_params *p, const char *path, char **config_json, int with_optim,
                   mr_error *e);

#endif
