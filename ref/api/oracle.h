/* oracle.h — the oracle step (README "Oracle"), the one function that
 * `mimrl oracle` (ref/cli/cli_model.c) and the public API (include/mimrl/
 * mimrl.h, ref/api/mimrl.c) both call: one forward of a model in training
 * mode with dropout off, the k-NN anchors of each CMI estimator given by the
 * caller or drawn from a seeded stream, and the backward of both stage
 * losses; then every output, estimate, loss, neighbour list and gradient
 * under its OUT.npz name.
 *
 * Inputs are borrowed (caller-owned, read during mr_oracle_run only);
 * the result owns everything it lists. */
#ifndef MR_ORACLE_H
#define MR_ORACLE_H

#include <gsl/gsl_rng.h>

#include "ref/core/npz.h"
#include "ref/model/model.h"

/* A caller-owned float64 array, C order; v == NULL means absent. */
typedef struct {
    int ndim;
    uint64_t shape[3];
    const double *v;
} mr_oracle_arr;

/* The BATCH.npz members (README "Oracle"): text [B, Lt, d_t], audio
 * [B, La, d_a], vision [B, Lv, d_v], label [B] or [B, 1]; the banks
 * bank_label [N, 1], bank_text/audio/vision [N, D] (all absent: no MI terms,
 * epoch 0); anchors[j] [n_anchors[j] = ⌊B/k⌋] bank rows of CMI estimator j
 * (mr_cmi_names order; NULL: drawn from the anchor stream). */
/* A caller-owned int64 array, C order; v == NULL means absent. */
typedef struct {
    int ndim;
    uint64_t shape[3];
    const int64_t *v;
} mr_oracle_iarr;

/* With a BERT model (cfg.bert) the batch carries bert_ids [B, Lt] and
 * optionally bert_type_ids, bert_att_mask [B, Lt] (absent: all 0 / all 1,
 * HF's defaults) instead of text. neighbors[j] [⌊B/k⌋, k] (optional, only
 * with the banks and anchors_<name> given): bank rows the step uses instead
 * of its own k-NN search. */
typedef struct {
    mr_oracle_arr text, audio, vision, label, bank_label, bank_text, bank_audio, bank_vision;
    const int64_t *anchors[MR_NCMI];
    size_t n_anchors[MR_NCMI];
    mr_oracle_iarr bert_ids, bert_type_ids, bert_att_mask;
    mr_oracle_iarr neighbors[MR_NCMI];
} mr_oracle_batch;

/* One named result tensor: dtype MR_DT_F8 or MR_DT_I8; in_out = 1 when it
 * is a member of OUT.npz (the drawn or given anchors_<name> are listed
 * after those, with in_out = 0). */
typedef struct {
    char name[MR_NAME_MAX + 16];
    mr_dtype dtype;
    int ndim;
    uint64_t shape[MR_MAXDIM];
    uint64_t count;
    const void *data;
    int in_out;
} mr_oracle_tensor;

typedef struct {
    mr_step st;
    mr_workspace *ws;  /* sized for this batch; holds the features st points into */
    double *grad[2];   /* [p.total] ∂loss_stage1/∂θ, ∂loss_stage2/∂θ */
    size_t B, D;
    size_t n;          /* named tensors */
    mr_oracle_tensor *t;
    mr_ws_tensor *inter; /* dump all: the step's intermediates (model.h), owned */
    size_t ninter;
} mr_oracle_result;

/* Checks the batch (shapes against the model and each other, finite values,
 * anchors inside the banks; messages start with `what`, e.g. the batch
 * file), runs the step and fills res (free with mr_oracle_result_free, also
 * after a failure). anchor_rng: draws missing anchors (may be NULL when all
 * are given or there are no banks). m->p.grad is overwritten. */
int mr_oracle_run(mr_model *m, const mr_oracle_batch *b, const char *what, gsl_rng *anchor_rng, mr_oracle_result *res,
                  mr_error *e);
/* The same with dump_all = 1: res also lists every named intermediate of the
 * step (README "Conformance"), all in_out, and the whole list is in forward
 * order (text, audio, visual branches with their pooled features, CubeMLP
 * and F_F, output, loss_task, per VMI estimator its scores and estimate and
 * loss, per CMI estimator its neighbours, logits, estimate and BCE, then the
 * objectives and the gradients). dump_all = 0 is mr_oracle_run. Values are
 * the same bits either way (a BERT workspace keeps every chunk's
 * activations, which does not change them). */
int mr_oracle_run_dump(mr_model *m, const mr_oracle_batch *b, const char *what, gsl_rng *anchor_rng, int dump_all,
                       mr_oracle_result *res, mr_error *e);
void mr_oracle_result_free(mr_oracle_result *res);
/* The tensor called name, or NULL. */
const mr_oracle_tensor *mr_oracle_find(const mr_oracle_result *res, const char *name);
/* OUT.npz, atomically: every tensor with in_out, in the listed order. */
int mr_oracle_write(const mr_oracle_result *res, const char *path, mr_error *e);

#endif
