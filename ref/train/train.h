/* train.h — MIMRL's two-stage training (spec §5) and evaluation.
 *
 * Per epoch e:
 *   stage 1 (e > 0): stage1_n full passes over the shuffled training split;
 *     each batch: forward (training mode), L1 with the PREVIOUS epoch's
 *     banks, backward, clip by value, step of the estimator optimizer
 *     (lr × mi_lr_rate; the CMI classifiers too — cmi_lr_rate is unused, O-21).
 *     At e = 0 nothing happens (the official step is a no-op, O-22).
 *   stage 2: one pass; each batch: forward, append (label, T_F, A_F, V_F)
 *     to the new banks (values before this batch's update), L2 with the old
 *     banks (task loss only at e = 0), backward, clip, main optimizer step.
 *   the new banks replace the old; valid and test are evaluated (eval mode,
 *     MI terms with fresh anchors on the training banks: a stochastic loss,
 *     O-25); both schedulers step (plateau on the valid loss); the best epoch
 *     by valid MAE (CCC for AVEC) is kept as a real copy (O-23 not reproduced).
 * Every random draw comes from its own seeded stream: init (seed), dropout
 * (seed+1), shuffling (seed+2), anchors (seed+3).
 */
#ifndef MR_TRAIN_H
#define MR_TRAIN_H

#include <stdio.h>

#include "datasets/dataset.h"
#include "datasets/tokenizer.h"
#include "ref/train/config.h"
#include "ref/nn/metrics.h"
#include "ref/model/model.h"

typedef struct {
    double loss, mi[8];      /* mean L2 and the 8 derived quantities (cmi_readout: official by default, not nats) */
    double mi_nats[8];       /* the 8 quantities in nats (mr_step.derived_nats: CMI terms by the dv read-out) */
    double terms[MR_NMI], terms_nats[MR_NMI]; /* the 11 estimates (§4.1 order), as read out / in nats */
    double loss1;            /* mean L1 over one stage-1 pass */
    mr_metrics met;
    size_t n;
} mr_split_stats;

typedef struct {
    mr_model m;
    mr_model_cfg mc;
    mr_train_cfg tc;
    int avec;                            /* selection by CCC, RMSE ×25 */
    mr_optim opt_main, opt_vmi;
    mr_lr_sched sch_main, sch_vmi;
    gsl_rng *r_drop, *r_anchor;
    mr_batcher bt_train;
    const mr_dataset *train, *valid, *test;
    /* banks from the last stage-2 pass */
    size_t N;
    double *bank_label, *bank_T, *bank_A, *bank_V;
    size_t epoch;                        /* epochs completed */
    double best_valid, best_test;
    long best_epoch, best_test_epoch;
    double *best_params;                 /* a copy at the best valid epoch */
    double *pred_valid, *pred_test, *pred_test_at_best, *pred_valid_best, *pred_test_best;
    FILE *log;
    int progress;                        /* progress line on log: a terminal, or MIMRL_PROGRESS=1 */
    double prog_t0, prog_shown, prog_units;
    size_t prog_samples;
    int diverged;                        /* the last error was a non-finite loss or gradient */
    /* BERT text branch (mc.bert): transcripts (text_bytes) tokenized per batch */
    const mr_tokenizer *tok;             /* borrowed */
    mr_pad_mode pad;                     /* MR_PAD_MAX_LENGTH (Dec: truncate + pad to time_len) or
                                            MR_PAD_LONGEST (SDK/AVEC: longest of the batch, cropped by the model) */
    mr_encoding enc;                     /* the current batch's ids */
    /* transcripts tokenized once per split (WordPiece ids without [CLS]/[SEP]);
     * a batch only packs them (mr_tokenizer_pack): the same ids as tokenizing
     * per batch */
    struct {
        const mr_dataset *d;
        int64_t **pieces;
        size_t *n;
    } tokc[4];
    /* the run's one step workspace, shared by training and evaluation, sized
     * for the largest batch, lengths and bank of its splits (grown, never
     * shrunk, when mr_evaluate meets a larger split); evaluation-only
     * (mr_workspace_create_eval) for a trainer without a training split */
    mr_workspace *ws;
} mr_trainer;

/* The BERT side of a trainer (mc->bert): the tokenizer (vocab.txt), the
 * padding rule, and the pretrained weights (a store holding every
 * bertmodel.* tensor by name; NULL keeps HF's random init from the seed). */
typedef struct {
    const mr_tokenizer *tok;
    mr_pad_mode pad;
    const mr_params *weights;
} mr_trainer_bert;

int mr_trainer_init(mr_trainer *t, const mr_model_cfg *mc, const mr_train_cfg *tc, const mr_dataset *train,
                    const mr_dataset *valid, const mr_dataset *test, int avec, FILE *log, mr_error *e);
/* The same with BERT (tb required when mc->bert): bert_freeze (spec §1.8)
 * from tc as the model's frozen mask; the optimizer_main groups are main
 * (lr) and BERT (lr·bert_lr_rate when bert_lr_rate > 0, else lr), frozen
 * tensors and the never-used pooler in no group (PyTorch skips parameters
 * whose grad is None: no step count, no weight decay). */
int mr_trainer_init_bert(mr_trainer *t, const mr_model_cfg *mc, const mr_train_cfg *tc, const mr_dataset *train,
                         const mr_dataset *valid, const mr_dataset *test, int avec, const mr_trainer_bert *tb, FILE *log,
                         mr_error *e);
void mr_trainer_free(mr_trainer *t);
/* What mr_evaluate on a hand-built trainer (mimrl eval) leaves behind: the
 * workspace and the tokenized transcripts (mr_trainer_free does this too). */
void mr_trainer_release(mr_trainer *t);
/* One epoch; fills the statistics of train (stage 2), valid and test.
 * A non-finite loss (stage 1 or 2) or gradient stops it before any
 * parameter changes: MR_EINVAL, a message naming the epoch, the batch and
 * the term or the parameter, and t->diverged = 1. */
int mr_trainer_epoch(mr_trainer *t, mr_split_stats *tr, mr_split_stats *va, mr_split_stats *te, mr_error *e);
/* Evaluate a split (eval mode: mr_model_forward_eval, no dropout, no
 * backward caches; the same bits as the training forward without dropout);
 * pred[N] receives the predictions in split order. */
int mr_evaluate(mr_trainer *t, const mr_dataset *d, mr_split_stats *st, double *pred, mr_error *e);

/* last.npz: parameters, optimizer state, schedulers, RNG states, batcher
 * state, banks, best-so-far bookkeeping — everything to continue bit-exactly. */
int mr_trainer_save(const mr_trainer *t, const char *path, mr_error *e);
int mr_trainer_restore(mr_trainer *t, const char *path, mr_error *e);

#endif
