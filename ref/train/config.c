/* config.c — see config.h. */
#include "ref/train/config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/core/json.h"

/* enum destinations are written through int pointers */
_Static_assert(sizeof(mr_encoder) == sizeof(int) && sizeof(mr_act) == sizeof(int) && sizeof(mr_compose) == sizeof(int) &&
                   sizeof(mr_critic_kind) == sizeof(int) && sizeof(mr_baseline_kind) == sizeof(int) && sizeof(mr_bound) == sizeof(int) &&
                   sizeof(mr_cmi_head) == sizeof(int) && sizeof(mr_cmi_readout) == sizeof(int) && sizeof(mr_task_loss) == sizeof(int) &&
                   sizeof(mr_lr_kind) == sizeof(int),
               "enum fields must be int-sized");

void mr_train_cfg_default(mr_train_cfg *t) {
    memset(t, 0, sizeof *t);
    t->batch_size = 16;
    t->epochs_num = 2;
    t->stage1_n = 1;
    t->learning_rate = 4e-3;
    t->mi_lr_rate = 1.0;
    t->cmi_lr_rate = 1.0;
    t->bert_lr_rate = -1;
    t->gradient_clip = 1.0;
    t->lr_decrease = MR_LR_STEP;
    t->lr_decrease_iter[0] = 60;
    t->n_iter = 1;
    t->lr_decrease_rate = 0.1;
    t->radius = 1.0;
    strcpy(t->dataset, "synthetic");
    strcpy(t->task_name, "test");
    strcpy(t->bert_freeze, "no");
    t->nb_hid = t->nb_out = t->nb_res = 2;
}

/* ------------------------------------------------------------- parsers */

static int bad(mr_error *e, const char *name, const char *value, const char *want) {
    return mr_fail(e, MR_EINVAL, "--%s '%s': %s", name, value, want);
}

static int num(const char *name, const char *v, double *out, double lo, mr_error *e) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < lo) return bad(e, name, v, "expected a number");
    *out = x;
    return MR_OK;
}

static int whole(const char *name, const char *v, unsigned long long *out, size_t lo, mr_error *e) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-' || x < lo) {
        char want[64];
        snprintf(want, sizeof want, "expected a whole number ≥ %zu", lo);
        return bad(e, name, v, want);
    }
    *out = x;
    return MR_OK;
}

static int boolean(const char *name, const char *v, int *out, mr_error *e) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "False")) *out = 0;
    else return bad(e, name, v, "expected true or false");
    return MR_OK;
}

static int flags3(const char *name, const char *v, int *out, mr_error *e) {
    int f[8];
    size_t n;
    char what[64];
    snprintf(what, sizeof what, "--%s", name);
    int rc = mr_parse_flags01(v, f, 8, &n, what, e);
    if (rc) return rc;
    if (n != 3) return bad(e, name, v, "expected three 0/1 flags t-a-v");
    memcpy(out, f, 3 * sizeof *out);
    return MR_OK;
}

/* ------------------------------------------------------ custom set/show */

static int set_activate(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)t, (void)notes;
    if (!strcmp(v, "prelu")) return bad(e, f->name, v, "prelu cannot run in the official code (called without a weight)");
    int a = mr_act_parse(v);
    if (a < 0 || a == MR_ACT_IDENTITY || a == MR_ACT_SIGMOID || a == MR_ACT_SOFTPLUS) return bad(e, f->name, v, f->want);
    m->activate = (mr_act)a;
    return MR_OK;
}
static void show_activate(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)t;
    snprintf(b, n, "\"%s\"", mr_act_name(m->activate));
}

static int set_bound(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)t, (void)notes;
    int k = mr_bound_parse(v);
    if (k < 0) return bad(e, f->name, v, f->want);
    m->bound = (mr_bound)k;
    return MR_OK;
}
static void show_bound(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)t;
    snprintf(b, n, "\"%s\"", mr_bound_name(m->bound));
}

static int set_dims(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)notes;
    char what[64];
    snprintf(what, sizeof what, "--%s", f->name);
    int hid = !strcmp(f->name, "d_hiddens");
    return mr_parse_dims3(v, hid ? m->hid : m->out, MR_CUBE_MAXB, hid ? &t->nb_hid : &t->nb_out, what, e);
}
static void dims(char *b, size_t n, const size_t d[][3], size_t nb) {
    size_t k = (size_t)snprintf(b, n, "\"");
    for (size_t i = 0; i < nb && k < n; i++) k += (size_t)snprintf(b + k, n - k, "%s%zu-%zu-%zu", i ? "=" : "", d[i][0], d[i][1], d[i][2]);
    if (k < n) snprintf(b + k, n - k, "\"");
}
static void show_hid(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)t;
    dims(b, n, (const size_t(*)[3])m->hid, m->nb);
}
static void show_out(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)t;
    dims(b, n, (const size_t(*)[3])m->out, m->nb);
}

static int set_res(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)notes, (void)f;
    return mr_parse_flags01(v, m->res, MR_CUBE_MAXB, &t->nb_res, "--res_project", e);
}
static void ints(char *b, size_t n, const int *v, size_t count) {
    size_t k = (size_t)snprintf(b, n, "\"");
    for (size_t i = 0; i < count && k < n; i++) k += (size_t)snprintf(b + k, n - k, "%s%d", i ? "-" : "", v[i]);
    if (k < n) snprintf(b + k, n - k, "\"");
}
static void show_res(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)t;
    ints(b, n, m->res, m->nb);
}

static int set_optm(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)m, (void)notes;
    if (!strcmp(v, "Adam")) t->sgd = 0;
    else if (!strcmp(v, "SGD")) t->sgd = 1;
    else if (!strcmp(v, "SAM")) return bad(e, f->name, v, "SAM is accepted by the official parser but raises an error there too");
    else return bad(e, f->name, v, f->want);
    return MR_OK;
}
static void show_optm(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)m;
    snprintf(b, n, "\"%s\"", t->sgd ? "SGD" : "Adam");
}

static int set_iter(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)m, (void)notes;
    const char *p = v;
    t->n_iter = 0;
    while (*p) {
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p || k < 0 || (*end && *end != '-') || t->n_iter == MR_MAX_MILESTONES) return bad(e, f->name, v, f->want);
        t->lr_decrease_iter[t->n_iter++] = (int)k;
        p = *end ? end + 1 : end;
    }
    if (!t->n_iter) return bad(e, f->name, v, f->want);
    return MR_OK;
}
static void show_iter(const mr_model_cfg *m, const mr_train_cfg *t, char *b, size_t n) {
    (void)m;
    ints(b, n, t->lr_decrease_iter, (size_t)t->n_iter);
}

static int set_bert_freeze(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)m, (void)notes;
    if (strcmp(v, "no") && strcmp(v, "part") && strcmp(v, "all")) return bad(e, f->name, v, f->want);
    snprintf(t->bert_freeze, sizeof t->bert_freeze, "%s", v);
    return MR_OK;
}

static int set_dataset(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f, const char *v, FILE *notes, mr_error *e) {
    (void)m, (void)f, (void)e;
    snprintf(t->dataset, sizeof t->dataset, "%s", v);
    if (notes) fprintf(notes, "note: --dataset %s only labels the run; give the data with --data PREFIX\n", v);
    return MR_OK;
}

/* ---------------------------------------------------------------- table */

static const char *const n_enc[] = {"gru", "lstm", "conv", NULL}, *const n_comp[] = {"mean", "sum", "cat", NULL};
static const char *const n_critic[] = {"separate", "concat", NULL}, *const n_base[] = {"constant", "gaussain", "unnormalized", NULL};
static const char *const n_head[] = {"sigmoid", "hardtanh", NULL}, *const n_ro[] = {"mimrl", "nwj", "dv", NULL};
static const char *const n_loss[] = {"MAE", "MSE", "RMSE", "SIMSE", "CCC", NULL};
static const char *const n_lr[] = {"constant", "step", "multi_step", "exp", "plateau", NULL};

#define M_(field) 1, offsetof(mr_model_cfg, field)
#define T_(field) 0, offsetof(mr_train_cfg, field)
#define NONE_ 0, 0
/* name, kind, destination, lo, switch, names, parse, set, show, fixed, want, given, note */
#define SIZE(nm, dst, l, note) {nm, MR_FK_SIZE, dst, l, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, note}
#define REAL(nm, dst, l, note) {nm, MR_FK_REAL, dst, l, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, note}
#define BOOL(nm, dst, note) {nm, MR_FK_BOOL, dst, 0, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, note}
#define LIST(nm, dst, count, note) {nm, MR_FK_LIST, dst, count, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, note}
#define ENUM(nm, dst, names, parse, want, note) {nm, MR_FK_ENUM, dst, 0, 0, names, parse, NULL, NULL, NULL, want, NULL, note}
#define CUSTOM(nm, set, show, want, note) {nm, MR_FK_CUSTOM, NONE_, 0, 0, NULL, NULL, set, show, NULL, want, NULL, note}
#define TEXT(nm, dst, size, set, note) {nm, MR_FK_TEXT, dst, size, 0, NULL, NULL, set, NULL, NULL, NULL, NULL, note}
#define FIXED(nm, fixed, want, note) {nm, MR_FK_FIXED, NONE_, 0, 0, NULL, NULL, NULL, NULL, fixed, want, NULL, note}
#define IGNORED(nm, sw) {nm, MR_FK_IGNORED, NONE_, 0, sw, NULL, NULL, NULL, NULL, NULL, NULL, NOTE_IGNORED, "accepted, no effect (official GPU/loader/logging option)"}
#define NOTE_IGNORED "is accepted and has no effect here (GPU, loader or logging option of the official code)"

/* In config_json order (the order of the JSON a checkpoint carries). */
const mr_flag_def mr_flag_defs[] = {
    SIZE("d_t", M_(d_t), 1, "text feature width (from the data unless given)"),
    SIZE("d_a", M_(d_a), 1, "audio feature width (from the data unless given)"),
    SIZE("d_v", M_(d_v), 1, "visual feature width (from the data unless given)"),
    SIZE("d_common", M_(d_common), 1, "width D of the common space"),
    SIZE("time_len", M_(time_len), 1, "sequence length: inputs are cut to time_len; CubeMLP L axis"),
    ENUM("encoders", M_(encoder), n_enc, NULL, "expected gru, lstm or conv", "audio/visual encoder: gru, lstm or conv"),
    CUSTOM("activate", set_activate, show_activate, "expected elu, gelu, hardshrink, hardtanh, leakyrelu, relu, rrelu or tanh",
           "CubeMLP activation: elu, gelu, hardshrink, hardtanh, leakyrelu, relu, rrelu, tanh"),
    CUSTOM("d_hiddens", set_dims, show_hid, NULL, "CubeMLP hidden widths per block, L-M-D blocks joined by ="),
    CUSTOM("d_outs", set_dims, show_out, NULL, "CubeMLP output widths per block, L-M-D blocks joined by ="),
    CUSTOM("res_project", set_res, show_res, NULL, "residual projection per block, 0/1 joined by -"),
    LIST("dropout_mlp", M_(dropout_mlp), 3, "CubeMLP dropout a-b-c"),
    LIST("dropout", M_(dropout), 4, "dropout of text, audio, visual features and the classifier head (spec §1), a-b-c-d"),
    BOOL("bias", M_(bias), "biases in the CubeMLP"),
    BOOL("ln_first", M_(ln_first), "LayerNorm before (not after) each CubeMLP block"),
    ENUM("features_compose_t", M_(compose_t), n_comp, NULL, "expected mean, sum or cat", "composition of the fused features over the time axis L (after K): mean, sum or cat"),
    ENUM("features_compose_k", M_(compose_k), n_comp, NULL, "expected mean, sum or cat", "composition of the fused features over the modality axis K (first): mean, sum or cat"),
    ENUM("critic_type", M_(critic), n_critic, mr_critic_parse, "expected separate or concat", "MI critic: separate or concat"),
    ENUM("baseline_type", M_(baseline), n_base, mr_baseline_parse, "expected constant, gaussain or unnormalized",
         "critic baseline: constant, gaussain (official spelling) or unnormalized"),
    CUSTOM("bound_type", set_bound, show_bound, "expected nwj, infonce, js, smile, dv, mine, tuba, interpolate or js_fgan",
           "MI bound: nwj, infonce, js, smile, dv, mine, tuba, interpolate, js_fgan"),
    LIST("loss_mi_coefficient1", M_(c1), 11, "stage-1 weights of the 11 estimator losses"),
    LIST("loss_mi_coefficient2", M_(c2), 8, "stage-2 weights of fus_T fus_A fus_V inv spec_T spec_A spec_V comp"),
    SIZE("k_neighbor", M_(k_neighbor), 1, "neighbours per anchor of the CMI estimators"),
    ENUM("cmi_last_acticate", M_(cmi_head), n_head, NULL, "expected sigmoid or hardtanh", "CMI classifier head: sigmoid or hardtanh"),
    ENUM("cmi_readout", M_(cmi_readout), n_ro, NULL, "expected mimrl, nwj or dv", "extension: CMI read-out mimrl (official), nwj or dv"),
    BOOL("masked_pool", M_(masked_pool), "extension: pool over valid frames only (official: unmasked, O-8)"),
    REAL("smile_clip", M_(bopt.smile_clip), 0, "extension: clip of the smile bound"),
    BOOL("interp_per_row", M_(bopt.interp_per_row), "extension: interpolated bound per row"),
    ENUM("loss", M_(loss), n_loss, NULL, "expected MAE, MSE, RMSE, SIMSE or CCC (classification losses need num_class > 1)",
         "task loss: MAE, MSE, RMSE, SIMSE or CCC"),
    FIXED("task", "\"regression\"", "only regression is implemented", "regression (the only task implemented)"),
    FIXED("num_class", "1", "only num_class 1 (regression) is implemented", "1 (regression)"),
    SIZE("batch_size", T_(batch_size), 1, "samples per batch (at least 2)"),
    SIZE("epochs_num", T_(epochs_num), 1, "epochs; with --resume, extends the run"),
    SIZE("stage1_n", T_(stage1_n), 0, "stage-1 passes per epoch (estimators)"),
    REAL("learning_rate", T_(learning_rate), 0, "learning rate of the model"),
    REAL("mi_lr_rate", T_(mi_lr_rate), 0, "estimators' learning rate = learning_rate × mi_lr_rate"),
    {"cmi_lr_rate", MR_FK_REAL, T_(cmi_lr_rate), 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
     "is unused, as in the official code: CMI classifiers train at lr × mi_lr_rate (O-21)", "unused, as in the official code (O-21)"},
    REAL("bert_lr_rate", T_(bert_lr_rate), -1e300, "BERT learning-rate factor (lr·bert_lr_rate for BERT when > 0; with --bert)"),
    TEXT("bert_freeze", T_(bert_freeze), 16, set_bert_freeze, "no, part or all: BERT tensors frozen (spec §1.8; with --bert)"),
    REAL("weight_decay", T_(weight_decay), 0, "weight decay of both optimizers"),
    REAL("gradient_clip", T_(gradient_clip), -1e300, "clip gradients by value; ≤ 0: no clipping"),
    CUSTOM("optm", set_optm, show_optm, "expected Adam or SGD", "optimizer: Adam or SGD (momentum 0.9)"),
    ENUM("lr_decrease", T_(lr_decrease), n_lr, mr_lr_parse, "expected step, multi_step, exp or plateau",
         "scheduler: step, multi_step, exp or plateau"),
    CUSTOM("lr_decrease_iter", set_iter, show_iter, "expected n or a-b-…", "step size, milestones a-b-… or plateau patience"),
    REAL("lr_decrease_rate", T_(lr_decrease_rate), 0, "scheduler factor"),
    {"radius", MR_FK_REAL, T_(radius), 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, "is unused, as in the official code (O-14)",
     "unused, as in the official code (O-14)"},
    {"seed", MR_FK_ULONG, T_(seed), 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "init (seed), dropout (+1), shuffling (+2), anchors (+3)"},
    {"normalize", MR_FK_FLAGS3, T_(normalize), 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "min-max normalize t-a-v, 0/1 each"},
    {"log_scale", MR_FK_FLAGS3, T_(log_scale), 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "log-scale t-a-v (not applied: needs official constants)"},
    BOOL("drop_last", T_(drop_last), "drop the last incomplete batch"),
    TEXT("dataset", T_(dataset), 64, set_dataset, "only labels the run; the data comes from --data PREFIX"),
    TEXT("task_name", T_(task_name), 128, NULL, "run name; the run directory defaults to runs/TASK_NAME"),
    IGNORED("parallel", 1),
    IGNORED("cuda", 0),
    IGNORED("num_workers", 0),
    IGNORED("persistent_workers", 1),
    IGNORED("pin_memory", 1),
    IGNORED("save_best_features", 1),
    IGNORED("print_params", 1),
    IGNORED("check_gradient", 1),
    IGNORED("text", 0),
    IGNORED("audio", 0),
    IGNORED("video", 0),
};
const size_t mr_flag_count = sizeof mr_flag_defs / sizeof mr_flag_defs[0];

const mr_flag_def *mr_flag_find(const char *name) {
    for (size_t i = 0; i < mr_flag_count; i++)
        if (!strcmp(name, mr_flag_defs[i].name)) return &mr_flag_defs[i];
    return NULL;
}

int mr_cfg_is_switch(const char *name) {
    const mr_flag_def *f = mr_flag_find(name);
    return f && f->is_switch;
}

static void *dest(mr_model_cfg *m, mr_train_cfg *t, const mr_flag_def *f) { return f->model ? (char *)m + f->off : (char *)t + f->off; }
static const void *cdest(const mr_model_cfg *m, const mr_train_cfg *t, const mr_flag_def *f) {
    return f->model ? (const char *)m + f->off : (const char *)t + f->off;
}

static int set_enum(const mr_flag_def *f, const char *v, int *out, mr_error *e) {
    int k = -1;
    if (f->parse) k = f->parse(v);
    else
        for (int i = 0; f->names[i] && k < 0; i++)
            if (!strcmp(v, f->names[i])) k = i;
    if (k < 0) return bad(e, f->name, v, f->want);
    *out = k;
    return MR_OK;
}

static int set_fixed(const mr_flag_def *f, const char *v, mr_error *e) {
    const char *x = f->fixed;
    size_t n = strlen(x);
    if (*x == '"') x++, n -= 2;
    return strlen(v) == n && !strncmp(v, x, n) ? MR_OK : bad(e, f->name, v, f->want);
}

int mr_cfg_apply(mr_model_cfg *m, mr_train_cfg *t, const char *name, const char *v, FILE *notes, mr_error *e) {
    const mr_flag_def *f = mr_flag_find(name);
    if (!f) return mr_fail(e, MR_EINVAL, "unknown flag --%s (see 'mimrl train --help')", name);
    void *d = dest(m, t, f);
    unsigned long long z = 0;
    char what[64];
    int rc = MR_OK;
    switch (f->kind) {
    case MR_FK_SIZE:
        if (!(rc = whole(name, v, &z, (size_t)f->lo, e))) *(size_t *)d = (size_t)z;
        break;
    case MR_FK_ULONG:
        if (!(rc = whole(name, v, &z, 0, e))) *(unsigned long *)d = (unsigned long)z;
        break;
    case MR_FK_REAL: rc = num(name, v, d, f->lo, e); break;
    case MR_FK_BOOL: rc = boolean(name, v, d, e); break;
    case MR_FK_LIST:
        snprintf(what, sizeof what, "--%s", name);
        rc = mr_parse_dashed(v, d, (size_t)f->lo, what, e);
        break;
    case MR_FK_FLAGS3: rc = flags3(name, v, d, e); break;
    case MR_FK_TEXT:
        if (f->set) return f->set(m, t, f, v, notes, e);
        snprintf(d, (size_t)f->lo, "%s", v);
        break;
    case MR_FK_ENUM: rc = set_enum(f, v, d, e); break;
    case MR_FK_CUSTOM: rc = f->set(m, t, f, v, notes, e); break;
    case MR_FK_FIXED: rc = set_fixed(f, v, e); break;
    case MR_FK_IGNORED: break;
    }
    if (!rc && f->given && notes) fprintf(notes, "note: --%s %s\n", name, f->given);
    return rc;
}

int mr_cfg_check(mr_model_cfg *m, const mr_train_cfg *t, mr_error *e) {
    m->nb = t->nb_hid;
    if (t->nb_hid != t->nb_out) return mr_fail(e, MR_EINVAL, "--d_hiddens has %zu blocks but --d_outs has %zu", t->nb_hid, t->nb_out);
    if (t->nb_res != t->nb_hid) return mr_fail(e, MR_EINVAL, "--res_project has %zu entries for %zu blocks", t->nb_res, t->nb_hid);
    for (int k = 0; k < 3; k++)
        if (m->dropout_mlp[k] < 0 || m->dropout_mlp[k] >= 1) return mr_fail(e, MR_EINVAL, "--dropout_mlp values must lie in [0, 1)");
    for (int k = 0; k < 4; k++)
        if (m->dropout[k] < 0 || m->dropout[k] >= 1) return mr_fail(e, MR_EINVAL, "--dropout values must lie in [0, 1)");
    if (t->batch_size < 2) return mr_fail(e, MR_EINVAL, "--batch_size must be at least 2 (the MI bounds need off-diagonal pairs)");
    if (m->k_neighbor > t->batch_size) return mr_fail(e, MR_EINVAL, "--k_neighbor %zu exceeds --batch_size %zu", m->k_neighbor, t->batch_size);
    return MR_OK;
}

/* real: the printf format of numbers (%.17g round-trips; help shows %.15g) */
static int value(const mr_model_cfg *m, const mr_train_cfg *t, const mr_flag_def *f, char *b, size_t n, const char *real) {
    const void *d = cdest(m, t, f);
    switch (f->kind) {
    case MR_FK_SIZE: snprintf(b, n, "%zu", *(const size_t *)d); break;
    case MR_FK_ULONG: snprintf(b, n, "%lu", *(const unsigned long *)d); break;
    case MR_FK_REAL: snprintf(b, n, real, *(const double *)d); break;
    case MR_FK_BOOL: snprintf(b, n, "%s", *(const int *)d ? "true" : "false"); break;
    case MR_FK_LIST: {
        const double *x = d;
        size_t k = (size_t)snprintf(b, n, "\"");
        for (size_t i = 0; i < (size_t)f->lo && k < n; i++) {
            if (i && k + 1 < n) b[k++] = '-', b[k] = 0;
            k += (size_t)snprintf(b + k, n - k, real, x[i]);
        }
        if (k < n) snprintf(b + k, n - k, "\"");
        break;
    }
    case MR_FK_FLAGS3: ints(b, n, d, 3); break;
    case MR_FK_TEXT: mr_json_quote(b, n, d); break;
    case MR_FK_ENUM: snprintf(b, n, "\"%s\"", f->names[*(const int *)d]); break;
    case MR_FK_CUSTOM: f->show(m, t, b, n); break;
    case MR_FK_FIXED: snprintf(b, n, "%s", f->fixed); break;
    case MR_FK_IGNORED: return 0;
    }
    return 1;
}

int mr_cfg_value(const mr_model_cfg *m, const mr_train_cfg *t, const mr_flag_def *f, char *b, size_t n) { return value(m, t, f, b, n, "%.17g"); }

char *mr_cfg_to_json(const mr_model_cfg *m, const mr_train_cfg *t) {
    size_t cap = 16384, k = 0;
    char *s = malloc(cap), v[1024];
    if (!s) return NULL;
    for (size_t i = 0; i < mr_flag_count; i++) {
        if (!mr_cfg_value(m, t, &mr_flag_defs[i], v, sizeof v)) continue;
        k += (size_t)snprintf(s + k, cap - k, "%s\"%s\": %s", k ? ", " : "{", mr_flag_defs[i].name, v);
        if (k >= cap) {
            free(s);
            return NULL;
        }
    }
    snprintf(s + k, cap - k, "}");
    return s;
}

int mr_cfg_from_json(mr_model_cfg *m, mr_train_cfg *t, const char *json, const char *what, FILE *notes, mr_error *e) {
    mr_kvlist l;
    int rc = mr_json_parse_flat(json, &l, what, e);
    if (rc) return rc;
    for (size_t i = 0; i < l.n && rc == MR_OK; i++) {
        int r = mr_cfg_apply(m, t, l.kv[i].key, l.kv[i].value, notes, e);
        if (r != MR_OK) {
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e->msg);
            rc = mr_fail(e, r, "%s: config_json key '%s': %s", what, l.kv[i].key, msg);
        }
    }
    mr_kvlist_free(&l);
    if (!rc) rc = mr_cfg_check(m, t, e);
    return rc;
}

void mr_cfg_help(FILE *f) {
    mr_model_cfg m;
    mr_train_cfg t;
    mr_model_cfg_default(&m);
    mr_train_cfg_default(&t);
    mr_cfg_check(&m, &t, NULL);
    char v[1024], flag[64];
    for (size_t i = 0; i < mr_flag_count; i++) {
        const mr_flag_def *d = &mr_flag_defs[i];
        snprintf(flag, sizeof flag, "--%s%s", d->name, d->is_switch ? "" : " V");
        if (value(&m, &t, d, v, sizeof v, "%.15g")) fprintf(f, "  %-26s %s [default %s]\n", flag, d->note, v);
        else fprintf(f, "  %-26s %s\n", flag, d->note);
    }
}

/* -------------------------------------------------------------- presets */

const mr_cfg_preset mr_cfg_presets[] = {
    {"readme", "the official README command (Run2.ipynb cell 8; --dataset swapped for --data)",
     "--batch_size 128 --d_common 128 --encoders gru --activate gelu --time_len 100 "
     "--d_hiddens 50-3-128=10-3-128 --d_outs 50-3-128=10-3-128 --dropout_mlp 0.0-0.0-0.0 "
     "--dropout 0.1-0.1-0.1-0.1 --bias --res_project 1-1 --critic_type separate "
     "--baseline_type constant --bound_type infonce --loss_mi_coefficient1 1-1-1-1-1-1-1-1-1-1-1 "
     "--loss_mi_coefficient2 0.01-0.01-0.01-0.01-0.01-0.01-0.01-0.01 --mi_lr_rate 1.0 --k_neighbor 2 "
     "--cmi_last_acticate sigmoid --stage1_n 2 --seed 0 --loss MAE --gradient_clip 1.5 --epochs_num 70 "
     "--optm Adam --learning_rate 4e-3 --lr_decrease multi_step --lr_decrease_iter 9-60 --lr_decrease_rate 0.1"},
};
const size_t mr_cfg_preset_count = sizeof mr_cfg_presets / sizeof mr_cfg_presets[0];

const mr_cfg_preset *mr_cfg_preset_find(const char *name) {
    for (size_t i = 0; i < mr_cfg_preset_count; i++)
        if (!strcmp(name, mr_cfg_presets[i].name)) return &mr_cfg_presets[i];
    return NULL;
}

int mr_cfg_apply_preset(mr_model_cfg *m, mr_train_cfg *t, const char *name, FILE *notes, mr_error *e) {
    const mr_cfg_preset *p = mr_cfg_preset_find(name);
    if (!p) return mr_fail(e, MR_EINVAL, "--preset '%s': unknown preset (known: readme)", name);
    char buf[2048], *save = NULL;
    snprintf(buf, sizeof buf, "%s", p->flags);
    char *tok = strtok_r(buf, " ", &save);
    int rc = MR_OK;
    while (tok && !rc) {
        const char *flag = tok + 2, *v = "true";
        char *next = strtok_r(NULL, " ", &save);
        if (!mr_cfg_is_switch(flag) || (next && (!strcmp(next, "true") || !strcmp(next, "false")))) {
            v = next;
            next = next ? strtok_r(NULL, " ", &save) : NULL;
        }
        rc = v ? mr_cfg_apply(m, t, flag, v, notes, e) : mr_fail(e, MR_EINVAL, "preset %s: --%s needs a value", name, flag);
        tok = next;
    }
    return rc;
}

/* Build a model from a checkpoint: its config_json (official flag names,
 * missing keys at the official defaults), then the parameters by name. */
int mr_model_from_checkpoint(mr_model *m, mr_model_cfg *mc, mr_train_cfg *tc, const char *path, mr_error *e) {
    mr_model_cfg_default(mc);
    mr_train_cfg_default(tc);
    mr_npz z;
    int rc = mr_npz_open(&z, path, e);
    if (rc) return rc;
    mr_array a;
    char *json = NULL;
    if (mr_npz_find(&z, "config_json") < 0) {
        mr_npz_close(&z);
        return mr_fail(e, MR_ENOTFOUND, "%s: member 'config_json' is missing (a checkpoint carries its configuration)", path);
    }
    rc = mr_npz_read(&z, "config_json", &a, e);
    /* a BERT text branch: its HF config.json as the member bert_config_json */
    mr_array ba;
    int has_bert = !rc && mr_npz_find(&z, "bert_config_json") >= 0;
    if (has_bert && (rc = mr_npz_read(&z, "bert_config_json", &ba, e))) mr_array_free(&a);
    mr_npz_close(&z);
    if (rc) return rc;
    if (has_bert) {
        char bw[4200];
        snprintf(bw, sizeof bw, "%s: bert_config_json", path);
        if (ba.dtype != MR_DT_U1 || ba.ndim != 1) rc = mr_fail(e, MR_EFORMAT, "%s must be 1-d |u1 UTF-8 bytes", bw);
        else rc = mr_bert_config_parse_json((const char *)ba.data, (size_t)ba.count, bw, &mc->bert_cfg, e);
        mr_array_free(&ba);
        if (rc) {
            mr_array_free(&a);
            return rc;
        }
    }
    if (a.dtype != MR_DT_U1 || a.ndim != 1) {
        mr_array_free(&a);
        return mr_fail(e, MR_EFORMAT, "%s: member 'config_json' must be 1-d |u1 UTF-8 bytes", path);
    }
    json = malloc((size_t)a.count + 1);
    if (!json) {
        mr_array_free(&a);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    memcpy(json, a.data, (size_t)a.count);
    json[a.count] = 0;
    mr_array_free(&a);
    char what[4200];
    snprintf(what, sizeof what, "%s: config_json", path);
    rc = mr_cfg_from_json(mc, tc, json, what, NULL, e);
    free(json);
    if (rc) return rc;
    if (has_bert) mc->bert = 1, mc->d_t = mc->bert_cfg.hidden_size;
    if ((rc = mr_model_build(m, mc, e))) return rc;
    if ((rc = mr_params_load(&m->p, path, NULL, 0, e))) mr_model_free(m);
    return rc;
}
