/* mimrl.h — the public C API of mimrl.c, the double-precision reference
 * implementation of MIMRL, for ports to check themselves against in-process.
 *
 *   #include <mimrl/mimrl.h>         cc prog.c $(pkg-config --cflags --libs mimrl)
 *
 * One computation: the oracle step of `mimrl oracle` (README "Oracle") — one
 * forward of the model in training mode with dropout off, the k-NN anchors
 * of each CMI estimator given by the caller or drawn from a seeded stream,
 * and the backward of both stage losses — with every output, information
 * term, loss, neighbour list and gradient readable by its OUT.npz name.
 *
 * Contract.
 * - Status: functions that can fail return MIMRL_OK (0) or a MIMRL_E* code
 *   and, given a non-NULL mimrl_error, leave a message there that names the
 *   file, member, parameter or input at fault. Nothing calls exit/abort.
 * - Ownership: a mimrl_model handle owns its configuration, parameters and
 *   the results of its last step. Parameters passed in are copied. Inputs
 *   (mimrl_set_input*) are borrowed: the caller keeps them alive and
 *   unchanged until mimrl_step returns (they are not copied; float64
 *   C-order arrays cross as they are). Result pointers (mimrl_tensor.data,
 *   names) belong to the handle and stay valid until the next mimrl_step,
 *   mimrl_clear_inputs or mimrl_model_free on it.
 * - Threads: no global state. Different handles may be used from different
 *   threads at the same time; one handle from one thread at a time.
 * - Arrays are C order (row-major), float64 unless said otherwise; shapes
 *   are given as ndim sizes.
 */
#ifndef MIMRL_MIMRL_H
#define MIMRL_MIMRL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(MIMRL_STATIC)
#define MIMRL_API __attribute__((visibility("default")))
#else
#define MIMRL_API
#endif

#define MIMRL_VERSION_MAJOR 0
#define MIMRL_VERSION_MINOR 2
#define MIMRL_VERSION_PATCH 0
#define MIMRL_VERSION_STRING "0.2.0"

/* Status codes (the same numbers as the CLI's internal codes). */
enum {
    MIMRL_OK = 0,
    MIMRL_EIO = 1,          /* open/read/write/rename failed */
    MIMRL_EFORMAT = 2,      /* malformed content (file, JSON, non-finite value) */
    MIMRL_EINVAL = 3,       /* bad argument or value */
    MIMRL_ENOMEM = 4,       /* allocation failed */
    MIMRL_EUNSUPPORTED = 5, /* well-formed but outside what is supported */
    MIMRL_ENOTFOUND = 6,    /* named parameter / input / output absent */
    MIMRL_ESHAPE = 7        /* shapes do not match */
};

/* Error report: code and a NUL-terminated message. */
typedef struct {
    int code;
    char msg[8192];
} mimrl_error;

#define MIMRL_MAXDIM 4
enum { MIMRL_F64 = 0, MIMRL_I64 = 2 }; /* mimrl_tensor.dtype */

/* One result tensor, borrowed from the handle (see Ownership). */
typedef struct {
    const char *name;           /* OUT.npz name, e.g. "grad_stage2/W_t.weight" */
    int dtype;                  /* MIMRL_F64 (double) or MIMRL_I64 (int64_t) */
    int ndim;                   /* 0 for a scalar (loss_*) */
    size_t shape[MIMRL_MAXDIM];
    size_t count;               /* product of shape (1 for a scalar) */
    const void *data;
    int in_out_npz;             /* 1: a member of OUT.npz; 0: anchors_<name> */
} mimrl_tensor;

typedef struct mimrl_model mimrl_model; /* opaque */

MIMRL_API const char *mimrl_version(void);      /* "0.2.0" */
MIMRL_API const char *mimrl_strerror(int code); /* "bad argument", … */
MIMRL_API const char *mimrl_blas(void);         /* the BLAS the library was built with */

/* ----------------------------------------------------------------- models */

/* A model from a checkpoint npz (README "Files"): its config_json and every
 * parameter by name (<f8 or <f4; every missing, extra or mis-shaped tensor
 * reported at once). *out is NULL on failure. */
MIMRL_API int mimrl_model_load(mimrl_model **out, const char *checkpoint_path, mimrl_error *e);

/* A model from a configuration: a JSON object with the official flag names
 * and values as on the official command line ({"d_hiddens":
 * "50-3-128=10-3-128", "bias": true, "d_t": 768, …}; missing keys take the
 * official defaults; NULL or "{}" = all defaults). Its parameters are then
 * set by name with mimrl_param_set; mimrl_step refuses to run until every
 * one has been set, and names all that were not. */
MIMRL_API int mimrl_model_create(mimrl_model **out, const char *config_json, mimrl_error *e);
MIMRL_API void mimrl_model_free(mimrl_model *m);

/* The whole configuration as a flat JSON object (official names; owned by m). */
MIMRL_API const char *mimrl_model_config(const mimrl_model *m);

/* Parameters in state_dict order: count, name and shape of parameter i
 * (name NULL and ndim 0 when i is out of range). */
MIMRL_API size_t mimrl_param_count(const mimrl_model *m);
MIMRL_API const char *mimrl_param_name(const mimrl_model *m, size_t i);
MIMRL_API int mimrl_param_shape(const mimrl_model *m, size_t i, size_t shape[MIMRL_MAXDIM]); /* returns ndim */
/* Copy data (ndim sizes in shape, which must equal the parameter's; the
 * count must match too) into the parameter called name (its official
 * state_dict name). Non-finite values are refused. */
MIMRL_API int mimrl_param_set(mimrl_model *m, const char *name, int ndim, const size_t *shape, const double *data, mimrl_error *e);
/* The current values of parameter name (count entries), owned by m; NULL if absent. */
MIMRL_API const double *mimrl_param_get(const mimrl_model *m, const char *name, size_t *count);

/* ------------------------------------------------------------------ inputs */

/* Borrow one input under its BATCH.npz name (README "Oracle"):
 *   text [B, Lt, d_t]; audio [B, La, d_a]; vision [B, Lv, d_v] (zero-padded
 *   at the end: lengths come from the zero frames); label [B] or [B, 1];
 *   bank_label [N, 1]; bank_text, bank_audio, bank_vision [N, d_common]
 *   (no banks: no MI terms, as in epoch 0).
 * Shapes are checked by mimrl_step against the model and each other. */
MIMRL_API int mimrl_set_input(mimrl_model *m, const char *name, int ndim, const size_t *shape, const double *data, mimrl_error *e);
/* Borrow one int64 input under its BATCH.npz name (README "Oracle"):
 *   bert_ids, bert_type_ids, bert_att_mask [B, Lt]: a model with a BERT text
 *   branch (a checkpoint with bert_config_json) takes token ids instead of
 *   text (type ids absent: all 0; mask absent: all 1, HF's defaults);
 *   neighbors_<ac_t|ta_c|vc_t|tv_c|tc_a|tc_v> [⌊B/k⌋, k]: bank rows the step
 *   uses as that estimator's k nearest neighbours instead of its own search
 *   (with the banks and that estimator's anchors given).
 * Checked by mimrl_step like the oracle's batch file. */
MIMRL_API int mimrl_set_input_i64(mimrl_model *m, const char *name, int ndim, const size_t *shape, const int64_t *data, mimrl_error *e);
/* Borrow the anchors of one CMI estimator: name "anchors_ac_t", "anchors_ta_c",
 * "anchors_vc_t", "anchors_tv_c", "anchors_tc_a" or "anchors_tc_v"; n =
 * ⌊B / k_neighbor⌋ bank rows. Anchors not given are drawn, when banks are
 * given, from a stream seeded with the anchor seed afresh at every step. */
MIMRL_API int mimrl_set_anchors(mimrl_model *m, const char *name, size_t n, const int64_t *rows, mimrl_error *e);
MIMRL_API void mimrl_set_anchor_seed(mimrl_model *m, uint64_t seed); /* default 0 */
/* Forget every borrowed input and the last results. */
MIMRL_API void mimrl_clear_inputs(mimrl_model *m);

/* ---------------------------------------------------------------- the step */

/* Run the oracle step on the inputs set; the results replace the previous
 * ones (on failure there are none). Bit-identical to `mimrl oracle` on the
 * same checkpoint and batch in the same build. */
MIMRL_API int mimrl_step(mimrl_model *m, mimrl_error *e);

/* Results of the last step, in OUT.npz order:
 *   output [B, 1]; F_F, T_F, A_F, V_F [B, d_common]; mi [11]; mi_derived [8];
 *   stage1_terms [11]; loss_task, loss_stage1, loss_stage2 (scalars);
 *   with banks: neighbors_<name> [⌊B/k⌋, k] (int64); then
 *   grad_stage1/<param> and grad_stage2/<param> (each parameter's shape);
 *   then, with banks, anchors_<name> [⌊B/k⌋] (int64, the anchors used;
 *   in_out_npz = 0).
 * mimrl_output_count is 0 before the first successful step. */
MIMRL_API size_t mimrl_output_count(const mimrl_model *m);
MIMRL_API int mimrl_output_at(const mimrl_model *m, size_t i, mimrl_tensor *t, mimrl_error *e);
MIMRL_API int mimrl_output(const mimrl_model *m, const char *name, mimrl_tensor *t, mimrl_error *e);
/* The results as OUT.npz (the in_out_npz tensors), written atomically. */
MIMRL_API int mimrl_write_out(const mimrl_model *m, const char *path, mimrl_error *e);


/* -------------------------------------------------------------- estimate */

/* MI I(X;Y), or with z non-NULL CMI I(X;Y|Z), on the caller's samples: the
 * computation of `mimrl estimate --data … --json` (README "Estimating MI and
 * CMI on your own data"), bit for bit the same numbers on the same arrays,
 * options and seeds in the same build.
 *   x [n × dx], y [n × dy], z [n × dz] (or NULL): float64, C order, rows =
 *   samples; borrowed for the call only.
 *   options_json: NULL or a flat JSON object; keys are the CLI's flags
 *   without "--" and with '-' → '_': "method" ("infonce-separate,ksg" or
 *   "all"; default as the CLI's), "seeds", "seed", "standardize" (true/false),
 *   "test_frac", "eval_every", "patience", "steps", "batch", "lr", "hidden",
 *   "embed", "layers", "k", "epochs", "cmi_batch", "cmi_hidden", "cmi_lr",
 *   "knn"; and "x_name", "y_name", "z_name" (how errors and the report name
 *   the members; default "x", "y", "z").
 *   *json_out: the report as the CLI prints it with --json (methods, units,
 *   mean, sd, per-seed values, seconds, settings); NUL-terminated, owned by
 *   the caller, released with mimrl_free. NULL on failure.
 * Every bad input (different row counts, NaN/Inf, a constant column, too few
 * rows, z with an MI-only method) fails with MIMRL_EINVAL / MIMRL_ESHAPE /
 * MIMRL_EFORMAT and a message naming the member and the row or column. */
MIMRL_API int mimrl_estimate(const double *x, size_t n, size_t dx, const double *y, size_t dy, const double *z, size_t dz,
                             const char *options_json, char **json_out, mimrl_error *e);
/* Release memory the library handed to the caller (mimrl_estimate's report). */
MIMRL_API void mimrl_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
