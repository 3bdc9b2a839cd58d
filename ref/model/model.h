/* model.h — the MIMRL model (spec §1–§4): text from a BERT run on token ids
 * (cfg.bert, ref/bert/bert.h; spec §1.2) or from precomputed token features,
 * through W_t, audio and visual encoders with their tails, pooled
 * T_F / A_F / V_F, CubeMLP, composition, head, F_F; the 5 variational MI
 * estimators and the 6 conditional MI estimators wired as §4.1; the stage-1
 * objective (11 coefficients) and the stage-2 objective (task loss + 8
 * coefficients) of §4.2–§4.3 with the official signs; and the gradients of
 * both stages through everything they reach.
 *
 * Parameters carry the official state_dict names (rnn_a.*, ln_a.*, W_t.weight,
 * mlp_encoder.*, classifier.*, vmi_estimator_<xy>.*, vcmi_estimator_<xy_z>.*).
 *
 * Randomness is injected: dropout masks come from a gsl_rng (or are off), the
 * k-NN anchors of each CMI estimator from a gsl_rng or from the caller, so a
 * step can be replayed exactly (the oracle).
 */
#ifndef MR_MODEL_H
#define MR_MODEL_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "estimators/bounds.h"
#include "estimators/cmine.h"
#include "estimators/critic.h"
#include "ref/model/cubemlp.h"
#include "ref/core/npz.h"
#include "ref/core/params.h"
#include "ref/bert/bert.h"
#include "ref/nn/rnn.h"

typedef enum { MR_ENC_GRU = 0, MR_ENC_LSTM, MR_ENC_CONV } mr_encoder;
typedef enum { MR_TASK_MAE = 0, MR_TASK_MSE, MR_TASK_RMSE, MR_TASK_SIMSE, MR_TASK_CCC } mr_task_loss;

#define MR_NVMI 5
#define MR_NCMI 6
#define MR_NMI (MR_NVMI + MR_NCMI) /* the 11 estimated MI terms, spec §4.1 */
#define MR_NDERIVED 8              /* the 8 derived terms weighted in stage 2, spec §4.3 */

/* The two sequence branches (spec §1.3), one type indexed by modality. */
typedef enum { MR_AUDIO = 0, MR_VISUAL = 1, MR_NBRANCH = 2 } mr_modality;

typedef struct {
    size_t d_t, d_a, d_v, d_common, time_len;
    mr_encoder encoder;
    mr_act activate;
    size_t nb;
    size_t hid[MR_CUBE_MAXB][3], out[MR_CUBE_MAXB][3];
    int res[MR_CUBE_MAXB];
    double dropout_mlp[3], dropout[4];
    int bias, ln_first;
    mr_compose compose_t, compose_k;
    mr_critic_kind critic;
    mr_baseline_kind baseline;
    mr_bound bound;
    mr_bound_opts bopt;
    double c1[MR_NMI], c2[MR_NDERIVED];
    size_t k_neighbor;
    mr_cmi_head cmi_head;
    mr_cmi_readout cmi_readout; /* mimrl (official) | nwj | dv */
    int masked_pool;            /* 0: official unmasked means (O-8) */
    mr_task_loss loss;
    /* Text branch (spec §1.2). bert = 0: precomputed token features [B, Lt,
     * d_t] (mr_inputs.text; the path of every release before BERT, bits
     * unchanged). bert = 1: a BERT of bert_cfg runs on token ids
     * (mr_inputs.bert_*), d_t is set to its hidden size, its tensors
     * `bertmodel.*` are registered first (before conv/rnn: the official
     * Model assigns self.bertmodel before its encoders — our reading, and
     * only the listing order depends on it; loaders and the oracle go by
     * name). bert_chunk: samples per BERT chunk in the workspace (0: 8);
     * bert_keep: 1 keeps every chunk's activations (no recompute). */
    int bert;
    mr_bert_config bert_cfg;
    size_t bert_chunk;
    int bert_keep;
} mr_model_cfg;

/* The official Parameters.py defaults (spec §8.1) with d_t = 768, d_a = 5, d_v = 20. */
void mr_model_cfg_default(mr_model_cfg *c);

/* One sequence branch: its encoder (conv_a / conv_v, or rnn_a / rnn_v) and
 * its tail LayerNorm (ln_a / ln_v); tensor indices in the store. */
typedef struct {
    size_t d_in;           /* d_a or d_v */
    size_t conv_w, conv_b; /* conv encoder only */
    mr_rnn rnn;            /* gru / lstm encoders */
    size_t ln_g, ln_b;
} mr_branch;

typedef struct {
    mr_model_cfg cfg;
    mr_params p;
    size_t W_t;
    mr_branch br[MR_NBRANCH];
    mr_cubemlp cube;
    mr_head head;
    mr_critic vmi[MR_NVMI];
    mr_cmi vcmi[MR_NCMI];
    size_t n_main; /* tensors [0, n_main) are the main model (BERT included); the rest estimators */
    mr_bert bert;  /* cfg.bert: tensors [bert.t0, bert.t0 + bert.ntensors) */
    unsigned char *frozen; /* cfg.bert: [p.n], 1 = frozen (no gradient); all 0 after build */
} mr_model;

/* The CMI read-out that gives mr_step.mi_nats: dv (CMINE's/CCMI's
 * mean_J log r − log mean_P r, r = γ/(1−γ)), in nats. */
#define MR_CMI_NATS_READOUT MR_CMI_READ_DV

extern const char *const mr_vmi_names[MR_NVMI];   /* f_t f_a f_v t_a t_v */
extern const char *const mr_cmi_names[MR_NCMI];   /* ac_t ta_c vc_t tv_c tc_a tc_v */
extern const char *const mr_mi_labels[MR_NMI];           /* "I(F;T)", … in §4.1 order */
extern const char *const mr_derived_labels[MR_NDERIVED]; /* ft fa fv in st sa sv cp */

int mr_model_build(mr_model *m, const mr_model_cfg *c, mr_error *e);
/* PyTorch-default init from a seeded stream of its own (orthogonal weight_hh,
 * zero critic biases, LayerNorm 1/0). */
void mr_model_init(mr_model *m, unsigned long seed);
void mr_model_free(mr_model *m);
/* bert_freeze (spec §1.8) as the model's frozen mask (no-op without BERT). */
void mr_model_bert_freeze(mr_model *m, mr_bert_freeze_mode mode);
/* 1 if tensor i is BERT's (name starts with "bertmodel."). */
int mr_model_is_bert(const mr_model *m, size_t i);
/* A checkpoint of the model: its parameters (mr_params_write) and, with
 * BERT, the member bert_config_json (|u1, the HF config.json text of its
 * sizes: mr_model_from_checkpoint turns BERT on when it is present). */
int mr_model_write(const mr_model *m, mr_npz_writer *w, const char *config_json, int with_optim, mr_error *e);
int mr_model_save(const mr_model *m, const char *path, const char *config_json, int with_optim, mr_error *e);
/* 1 if tensor i belongs to an estimator (name contains "vmi" or "vcmi"). */
int mr_model_is_estimator(const mr_model *m, size_t i);

typedef struct {
    size_t B, Lt, La, Lv;
    const double *text;   /* [B, Lt, d_t] */
    const double *audio;  /* [B, La, d_a], zero-padded at the end */
    const double *vision; /* [B, Lv, d_v] */
    const double *label;  /* [B] */
    /* cfg.bert only (text unused): [B, Lt] int64; type ids NULL = all 0,
     * attention mask NULL = all 1 (HF's defaults) */
    const int64_t *bert_ids, *bert_type_ids, *bert_att_mask;
} mr_inputs;

typedef struct {
    size_t N;
    const double *label;   /* [N] (width-1 bank) */
    const double *T, *A, *V; /* [N × D] */
} mr_banks;

typedef struct {
    gsl_rng *drop;                   /* NULL: no dropout (eval, or the oracle) */
    gsl_rng *anchor;                 /* draws the anchors when given is NULL */
    const int64_t *given[MR_NCMI];   /* supplied anchors, m = ⌊B/k⌋ each */
    const int64_t *given_nb[MR_NCMI]; /* supplied neighbour lists [m, k] (bank rows) instead of
                                         the k-NN search; the caller checks their range */
} mr_rand;

/* The step's workspace (llm.c style): every activation, cache, mask,
 * estimator buffer and activation gradient of one step, allocated once for
 * the largest batch (B), padded lengths (Lt, La, Lv) and feature bank (N
 * rows) it will see, and the threads its steps run on (a pool of 2 lanes
 * for the audio and visual branches and BERT's chunk forwards, or 1; see
 * mr_model_branch_threads), started once with it. Forward and backward
 * allocate nothing and start no thread; a batch or bank beyond these sizes
 * is MR_EINVAL naming the dimension. */
typedef struct {
    size_t B, Lt, La, Lv, N;
} mr_step_dims;

typedef struct mr_workspace mr_workspace;

/* MR_ENOMEM is only possible here: the bytes, or the threads it asked for
 * (a thread that cannot start is an error, not a silent single thread). */
int mr_workspace_create(const mr_model *m, const mr_step_dims *max, mr_workspace **ws, mr_error *e);
void mr_workspace_free(mr_workspace *ws);
/* The sizes ws was created for. */
mr_step_dims mr_workspace_dims(const mr_workspace *ws);
/* An evaluation-only workspace for the same sizes: the buffers of
 * mr_model_forward_eval only (no backward caches, no activation gradients,
 * BERT's chunk activations for one chunk per thread), so fewer bytes.
 * mr_model_forward and mr_model_backward on it are MR_EINVAL. */
int mr_workspace_create_eval(const mr_model *m, const mr_step_dims *max, mr_workspace **ws, mr_error *e);
/* The bytes of ws's buffers (BERT's included; the threads' stacks not). */
size_t mr_workspace_bytes(const mr_workspace *ws);
/* 1 if ws was made by mr_workspace_create_eval. */
int mr_workspace_eval_only(const mr_workspace *ws);
/* For tests: every double buffer of ws (BERT's chunk buffers excepted) ← v.
 * The contract it checks: a forward and a backward read no element of the
 * workspace that the same step did not write first, so that a step's results
 * do not depend on what the buffers held before (a previous batch, another
 * shape, calloc's zeros). Forward and backward therefore clear only what they
 * accumulate into, not whole caches. */
void mr_workspace_poison(mr_workspace *ws, double v);

typedef struct {
    double *output;             /* [B], inside the workspace */
    const double *F_F, *T_F, *A_F, *V_F; /* [B × D], inside the workspace */
    double mi[MR_NMI];          /* §4.1 order: 5 VMI estimates, 6 CMI estimates */
    double stage1_terms[MR_NMI]; /* mi_loss of the 5 VMI, BCE of the 6 CMI */
    double derived[MR_NDERIVED]; /* fus_T fus_A fus_V inv spec_T spec_A spec_V comp */
    /* The same 11 terms and 8 quantities in nats: the VMI estimates as they
     * are (bounds on MI, nats), the CMI terms by the textbook dv read-out
     * (MR_CMI_NATS_READOUT) of the same classifier outputs. mi and derived
     * use cfg.cmi_readout, by default the official read-out (1 + s_J/n −
     * s_P/n, O-12: offset 1, half scale, not nats); only mi/derived enter
     * the losses. */
    double mi_nats[MR_NMI], derived_nats[MR_NDERIVED];
    double loss_task, loss_stage1, loss_stage2;
    int has_mi;                 /* 0 when no banks were given (epoch 0) */
    size_t m_anchor, k;         /* anchors per CMI estimator, neighbours per anchor */
    const int64_t *anchors[MR_NCMI], *neighbors[MR_NCMI]; /* inside the workspace */
} mr_step;

/* Dropout draws, in order, from r->drop: with BERT first its B per-sample
 * seeds (one gsl_rng_get each, ref/bert/bert.h), then the text mask, audio,
 * visual, CubeMLP, head masks.
 * Forward pass and both objectives into ws (valid until its next forward).
 * banks NULL: no MI terms (epoch 0, O-22). */
int mr_model_forward(mr_model *m, const mr_inputs *in, const mr_banks *banks, const mr_rand *r,
                     mr_step *out, mr_workspace *ws, mr_error *e);
/* The evaluation forward: the outputs, features, MI terms (mi, mi_nats,
 * stage1_terms), derived terms and losses of mr_model_forward without
 * dropout (r->drop is not read), bit for bit, and the same anchor draws from
 * r->anchor, computed without keeping what only the backward reads: the
 * recurrent encoders write their gate states into per-step scratch and keep
 * only the layer outputs they feed forward, BERT keeps no chunk's
 * activations beyond the one it is computing (per thread). Runs on any
 * workspace (a training one or mr_workspace_create_eval's); afterwards
 * mr_model_backward and mr_workspace_intermediates are MR_EINVAL (nothing
 * stale is used). Allocates nothing, starts no thread. */
int mr_model_forward_eval(mr_model *m, const mr_inputs *in, const mr_banks *banks, const mr_rand *r, mr_step *out,
                          mr_workspace *ws, mr_error *e);
/* Accumulates ∂(loss_stage1 or loss_stage2)/∂θ into m->p.grad from the last
 * forward held by ws (may be called more than once per forward).
 * stage = 1 or 2; full = 0 lets stage 1 stop at the pooled features (the
 * main-model gradients it would produce are discarded in training anyway).
 * With BERT, stage 2 and a full stage 1 reach its tensors too (not the
 * pooler's, nor frozen ones, nor the [PAD] row of word_embeddings); the
 * chunked BERT backward recomputes its forward from the same dropout seeds.
 * MR_EINVAL (nothing accumulated) without a forward or for another stage. */
int mr_model_backward(mr_model *m, mr_workspace *ws, int stage, int full, mr_error *e);

/* The audio and visual branches (and BERT's chunk forwards) of the
 * workspaces created from now on run on two threads (2), sequentially (1),
 * or as MIMRL_ENCODER_THREADS (1: sequential, 2: two threads whatever the
 * cores) and the core count say (0, the default: two threads on ≥ 2
 * cores). Read by mr_workspace_create only: a workspace keeps the threads
 * it started with. The results are the same either way. Process-wide. */
void mr_model_branch_threads(int n);

/* ---- read-only access to the last forward's intermediates (README
 * "Conformance": `mimrl oracle --dump all`). Each is a copy owned by the
 * list; nothing in the workspace changes. sect says where it belongs in
 * forward order: MR_SECT_TEXT (BERT hidden states, W_t H), MR_SECT_AUDIO,
 * MR_SECT_VISUAL (lengths, RNN h_n, encoder output, tail), MR_SECT_CUBE
 * (stacked input, each block's output), MR_SECT_VMI (estimator idx: scores,
 * log baseline), MR_SECT_CMI (estimator idx: logits of the joint and of the
 * product rows, before the clamp). With BERT the workspace must hold every
 * chunk's activations (cfg.bert_keep = 1, or one chunk). */
enum { MR_SECT_TEXT = 0, MR_SECT_AUDIO, MR_SECT_VISUAL, MR_SECT_CUBE, MR_SECT_VMI, MR_SECT_CMI };

typedef struct {
    char name[64];
    int sect, idx;
    int is_int; /* 1: int64 data, else double */
    int ndim;
    uint64_t shape[4];
    uint64_t count;
    void *data;
} mr_ws_tensor;

int mr_workspace_intermediates(const mr_model *m, const mr_workspace *w, mr_ws_tensor **out, size_t *n, mr_error *e);
void mr_ws_tensors_free(mr_ws_tensor *t, size_t n);

#endif
