/* config.c — see config.h. */
#include "ref/train/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/core/json.h"


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

static const char *const switches[] = {"bias", "ln_first", "drop_last", "parallel", "persistent_workers", "pin_memory",
                                       "save_best_features", "print_params", "check_gradient", "masked_pool", "interp_per_row"};

int mr_cfg_is_switch(const char *name) {
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++)
        if (!strcmp(name, switches[i])) return 1;
    return 0;
}

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

static int whole(const char *name, const char *v, size_t *out, size_t lo, mr_error *e) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-' || x < lo) {
        char want[64];
        snprintf(want, sizeof want, "expected a whole number ≥ %zu", lo);
        return bad(e, name, v, want);
    }
    *out = (size_t)x;
    return MR_OK;
}

static int boolean(const char *name, const char *v, int *out, mr_error *e) {
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True")) *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "False")) *out = 0;
    else return bad(e, name, v, "expected true or false");
    return MR_OK;
}

static int list(const char *name, const char *v, double *out, size_t n, mr_error *e) {
    char what[64];
    snprintf(what, sizeof what, "--%s", name);
    return mr_parse_dashed(v, out, n, what, e);
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

int mr_cfg_apply(mr_model_cfg *m, mr_train_cfg *t, const char *name, const char *v, FILE *notes, mr_error *e) {
    size_t z;
    double x;
    int b, rc;
    /* ---- accepted, but meaningless here */
    static const char *const ignored[] = {"parallel", "cuda", "num_workers", "persistent_workers", "pin_memory", "save_best_features",
                                          "print_params", "check_gradient", "text", "audio", "video"};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (!strcmp(name, ignored[i])) {
            if (notes) fprintf(notes, "note: --%s is accepted and has no effect here (GPU, loader or logging option of the official code)\n", name);
            return 1;
        }
    if (!strcmp(name, "radius")) {
        if ((rc = num(name, v, &t->radius, 0, e))) return rc;
        if (notes) fprintf(notes, "note: --radius is unused, as in the official code (O-14)\n");
        return 1;
    }
    if (!strcmp(name, "cmi_lr_rate")) {
        if ((rc = num(name, v, &t->cmi_lr_rate, 0, e))) return rc;
        if (notes) fprintf(notes, "note: --cmi_lr_rate is unused, as in the official code: CMI classifiers train at lr × mi_lr_rate (O-21)\n");
        return 1;
    }
    if (!strcmp(name, "dataset")) {
        snprintf(t->dataset, sizeof t->dataset, "%s", v);
        if (notes) fprintf(notes, "note: --dataset %s only labels the run; give the data with --data PREFIX\n", v);
        return 1;
    }
    if (!strcmp(name, "task_name")) return snprintf(t->task_name, sizeof t->task_name, "%s", v), MR_OK;
    if (!strcmp(name, "task")) return strcmp(v, "regression") ? bad(e, name, v, "only regression is implemented") : MR_OK;
    if (!strcmp(name, "num_class")) return strcmp(v, "1") ? bad(e, name, v, "only num_class 1 (regression) is implemented") : MR_OK;
    /* ---- model */
    if (!strcmp(name, "d_common")) return whole(name, v, &m->d_common, 1, e);
    if (!strcmp(name, "d_t")) return whole(name, v, &m->d_t, 1, e);
    if (!strcmp(name, "d_a")) return whole(name, v, &m->d_a, 1, e);
    if (!strcmp(name, "d_v")) return whole(name, v, &m->d_v, 1, e);
    if (!strcmp(name, "time_len")) return whole(name, v, &m->time_len, 1, e);
    if (!strcmp(name, "encoders")) {
        if (!strcmp(v, "gru")) m->encoder = MR_ENC_GRU;
        else if (!strcmp(v, "lstm")) m->encoder = MR_ENC_LSTM;
        else if (!strcmp(v, "conv")) m->encoder = MR_ENC_CONV;
        else return bad(e, name, v, "expected gru, lstm or conv");
        return MR_OK;
    }
    if (!strcmp(name, "activate")) {
        if (!strcmp(v, "prelu")) return bad(e, name, v, "prelu cannot run in the official code (called without a weight)");
        int a = mr_act_parse(v);
        if (a < 0 || a == MR_ACT_IDENTITY || a == MR_ACT_SIGMOID || a == MR_ACT_SOFTPLUS)
            return bad(e, name, v, "expected elu, gelu, hardshrink, hardtanh, leakyrelu, relu, rrelu or tanh");
        m->activate = (mr_act)a;
        return MR_OK;
    }
    if (!strcmp(name, "d_hiddens") || !strcmp(name, "d_outs")) {
        char what[64];
        snprintf(what, sizeof what, "--%s", name);
        return mr_parse_dims3(v, !strcmp(name, "d_hiddens") ? m->hid : m->out, MR_CUBE_MAXB, !strcmp(name, "d_hiddens") ? &t->nb_hid : &t->nb_out,
                              what, e);
    }
    if (!strcmp(name, "res_project")) return mr_parse_flags01(v, m->res, MR_CUBE_MAXB, &t->nb_res, "--res_project", e);
    if (!strcmp(name, "dropout_mlp")) return list(name, v, m->dropout_mlp, 3, e);
    if (!strcmp(name, "dropout")) return list(name, v, m->dropout, 4, e);
    if (!strcmp(name, "bias")) return boolean(name, v, &m->bias, e);
    if (!strcmp(name, "ln_first")) return boolean(name, v, &m->ln_first, e);
    if (!strcmp(name, "masked_pool")) return boolean(name, v, &m->masked_pool, e);
    if (!strcmp(name, "interp_per_row")) return boolean(name, v, &m->bopt.interp_per_row, e);
    if (!strcmp(name, "features_compose_t") || !strcmp(name, "features_compose_k")) {
        int k = mr_compose_parse(v);
        if (k < 0) return bad(e, name, v, "expected mean, sum or cat");
        if (name[17] == 't') m->compose_t = (mr_compose)k;
        else m->compose_k = (mr_compose)k;
        return MR_OK;
    }
    if (!strcmp(name, "critic_type")) {
        int k = mr_critic_parse(v);
        if (k < 0) return bad(e, name, v, "expected separate or concat");
        m->critic = (mr_critic_kind)k;
        return MR_OK;
    }
    if (!strcmp(name, "baseline_type")) {
        int k = mr_baseline_parse(v);
        if (k < 0) return bad(e, name, v, "expected constant, gaussain or unnormalized");
        m->baseline = (mr_baseline_kind)k;
        return MR_OK;
    }
    if (!strcmp(name, "bound_type")) {
        int k = mr_bound_parse(v);
        if (k < 0) return bad(e, name, v, "expected nwj, infonce, js, smile, dv, mine, tuba, interpolate or js_fgan");
        m->bound = (mr_bound)k;
        return MR_OK;
    }
    if (!strcmp(name, "loss_mi_coefficient1")) return list(name, v, m->c1, 11, e);
    if (!strcmp(name, "loss_mi_coefficient2")) return list(name, v, m->c2, 8, e);
    if (!strcmp(name, "k_neighbor")) return whole(name, v, &m->k_neighbor, 1, e);
    if (!strcmp(name, "cmi_last_acticate")) {
        int k = mr_cmi_head_parse(v);
        if (k < 0) return bad(e, name, v, "expected sigmoid or hardtanh");
        m->cmi_head = (mr_cmi_head)k;
        return MR_OK;
    }
    if (!strcmp(name, "cmi_readout")) {
        int k = mr_cmi_readout_parse(v);
        if (k < 0) return bad(e, name, v, "expected mimrl, nwj or dv");
        m->cmi_readout = (mr_cmi_readout)k;
        return MR_OK;
    }
    if (!strcmp(name, "smile_clip")) return num(name, v, &m->bopt.smile_clip, 0, e);
    if (!strcmp(name, "loss")) {
        if (!strcmp(v, "MAE")) m->loss = MR_TASK_MAE;
        else if (!strcmp(v, "MSE")) m->loss = MR_TASK_MSE;
        else if (!strcmp(v, "RMSE")) m->loss = MR_TASK_RMSE;
        else if (!strcmp(v, "SIMSE")) m->loss = MR_TASK_SIMSE;
        else if (!strcmp(v, "CCC")) m->loss = MR_TASK_CCC;
        else return bad(e, name, v, "expected MAE, MSE, RMSE, SIMSE or CCC (classification losses need num_class > 1)");
        return MR_OK;
    }
    /* ---- training */
    if (!strcmp(name, "batch_size")) return whole(name, v, &t->batch_size, 1, e);
    if (!strcmp(name, "epochs_num")) return whole(name, v, &t->epochs_num, 1, e);
    if (!strcmp(name, "stage1_n")) return whole(name, v, &t->stage1_n, 0, e);
    if (!strcmp(name, "learning_rate")) return num(name, v, &t->learning_rate, 0, e);
    if (!strcmp(name, "mi_lr_rate")) return num(name, v, &t->mi_lr_rate, 0, e);
    if (!strcmp(name, "bert_lr_rate")) return num(name, v, &t->bert_lr_rate, -1e300, e);
    if (!strcmp(name, "weight_decay")) return num(name, v, &t->weight_decay, 0, e);
    if (!strcmp(name, "gradient_clip")) return num(name, v, &t->gradient_clip, -1e300, e);
    if (!strcmp(name, "lr_decrease_rate")) return num(name, v, &t->lr_decrease_rate, 0, e);
    if (!strcmp(name, "seed")) {
        if ((rc = whole(name, v, &z, 0, e))) return rc;
        t->seed = z;
        return MR_OK;
    }
    if (!strcmp(name, "optm")) {
        if (!strcmp(v, "Adam")) t->sgd = 0;
        else if (!strcmp(v, "SGD")) t->sgd = 1;
        else if (!strcmp(v, "SAM")) return bad(e, name, v, "SAM is accepted by the official parser but raises an error there too");
        else return bad(e, name, v, "expected Adam or SGD");
        return MR_OK;
    }
    if (!strcmp(name, "lr_decrease")) {
        int k = mr_lr_parse(v);
        if (k < 0) return bad(e, name, v, "expected step, multi_step, exp or plateau");
        t->lr_decrease = (mr_lr_kind)k;
        return MR_OK;
    }
    if (!strcmp(name, "lr_decrease_iter")) {
        const char *p = v;
        t->n_iter = 0;
        while (*p) {
            char *end;
            long k = strtol(p, &end, 10);
            if (end == p || k < 0 || (*end && *end != '-') || t->n_iter == MR_MAX_MILESTONES) return bad(e, name, v, "expected n or a-b-…");
            t->lr_decrease_iter[t->n_iter++] = (int)k;
            p = *end ? end + 1 : end;
        }
        if (!t->n_iter) return bad(e, name, v, "expected n or a-b-…");
        return MR_OK;
    }
    if (!strcmp(name, "normalize")) return flags3(name, v, t->normalize, e);
    if (!strcmp(name, "log_scale")) return flags3(name, v, t->log_scale, e);
    if (!strcmp(name, "drop_last")) return boolean(name, v, &t->drop_last, e);
    if (!strcmp(name, "bert_freeze")) {
        if (strcmp(v, "no") && strcmp(v, "part") && strcmp(v, "all")) return bad(e, name, v, "expected no, part or all");
        snprintf(t->bert_freeze, sizeof t->bert_freeze, "%s", v);
        if (notes && strcmp(v, "no")) fprintf(notes, "note: --bert_freeze %s has no effect until BERT runs in C (text comes from precomputed features)\n", v);
        return MR_OK;
    }
    (void)x;
    (void)b;
    return mr_fail(e, MR_EINVAL, "unknown flag --%s (see 'mimrl train --help')", name);
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

static void dims(char *b, size_t n, size_t d[][3], size_t nb) {
    size_t k = 0;
    for (size_t i = 0; i < nb && k < n; i++) k += (size_t)snprintf(b + k, n - k, "%s%zu-%zu-%zu", i ? "=" : "", d[i][0], d[i][1], d[i][2]);
}

char *mr_cfg_to_json(const mr_model_cfg *m, const mr_train_cfg *t) {
    size_t cap = 8192;
    char *s = malloc(cap), hid[256], out[256], res[64] = "", c1[512] = "", c2[512] = "", it[128] = "";
    if (!s) return NULL;
    dims(hid, sizeof hid, (size_t(*)[3])m->hid, m->nb);
    dims(out, sizeof out, (size_t(*)[3])m->out, m->nb);
    for (size_t i = 0, k = 0; i < m->nb; i++) k += (size_t)snprintf(res + k, sizeof res - k, "%s%d", i ? "-" : "", m->res[i]);
    for (int i = 0, k = 0; i < 11; i++) k += snprintf(c1 + k, sizeof c1 - (size_t)k, "%s%.17g", i ? "-" : "", m->c1[i]);
    for (int i = 0, k = 0; i < 8; i++) k += snprintf(c2 + k, sizeof c2 - (size_t)k, "%s%.17g", i ? "-" : "", m->c2[i]);
    for (int i = 0, k = 0; i < t->n_iter; i++) k += snprintf(it + k, sizeof it - (size_t)k, "%s%d", i ? "-" : "", t->lr_decrease_iter[i]);
    static const char *const enc[3] = {"gru", "lstm", "conv"}, *const comp[3] = {"mean", "sum", "cat"};
    static const char *const loss[5] = {"MAE", "MSE", "RMSE", "SIMSE", "CCC"}, *const lrd[5] = {"constant", "step", "multi_step", "exp", "plateau"};
    static const char *const base[3] = {"constant", "gaussain", "unnormalized"};
    snprintf(s, cap,
             "{\"d_t\": %zu, \"d_a\": %zu, \"d_v\": %zu, \"d_common\": %zu, \"time_len\": %zu, \"encoders\": \"%s\", \"activate\": \"%s\", "
             "\"d_hiddens\": \"%s\", \"d_outs\": \"%s\", \"res_project\": \"%s\", \"dropout_mlp\": \"%.17g-%.17g-%.17g\", "
             "\"dropout\": \"%.17g-%.17g-%.17g-%.17g\", \"bias\": %s, \"ln_first\": %s, \"features_compose_t\": \"%s\", "
             "\"features_compose_k\": \"%s\", \"critic_type\": \"%s\", \"baseline_type\": \"%s\", \"bound_type\": \"%s\", "
             "\"loss_mi_coefficient1\": \"%s\", \"loss_mi_coefficient2\": \"%s\", \"k_neighbor\": %zu, \"cmi_last_acticate\": \"%s\", "
             "\"cmi_readout\": \"%s\", \"masked_pool\": %s, \"smile_clip\": %.17g, \"interp_per_row\": %s, \"loss\": \"%s\", "
             "\"task\": \"regression\", \"num_class\": 1, \"batch_size\": %zu, \"epochs_num\": %zu, \"stage1_n\": %zu, "
             "\"learning_rate\": %.17g, \"mi_lr_rate\": %.17g, \"cmi_lr_rate\": %.17g, \"bert_lr_rate\": %.17g, \"bert_freeze\": \"%s\", "
             "\"weight_decay\": %.17g, \"gradient_clip\": %.17g, \"optm\": \"%s\", \"lr_decrease\": \"%s\", \"lr_decrease_iter\": \"%s\", "
             "\"lr_decrease_rate\": %.17g, \"radius\": %.17g, \"seed\": %lu, \"normalize\": \"%d-%d-%d\", \"log_scale\": \"%d-%d-%d\", "
             "\"drop_last\": %s, \"dataset\": \"%s\", \"task_name\": \"%s\"}",
             m->d_t, m->d_a, m->d_v, m->d_common, m->time_len, enc[m->encoder], mr_act_name(m->activate), hid, out, res,
             m->dropout_mlp[0], m->dropout_mlp[1], m->dropout_mlp[2], m->dropout[0], m->dropout[1], m->dropout[2], m->dropout[3],
             m->bias ? "true" : "false", m->ln_first ? "true" : "false", comp[m->compose_t], comp[m->compose_k],
             m->critic == MR_CRITIC_SEPARATE ? "separate" : "concat", base[m->baseline], mr_bound_name(m->bound), c1, c2, m->k_neighbor,
             m->cmi_head == MR_CMI_HEAD_SIGMOID ? "sigmoid" : "hardtanh", mr_cmi_readout_name(m->cmi_readout),
             m->masked_pool ? "true" : "false", m->bopt.smile_clip, m->bopt.interp_per_row ? "true" : "false", loss[m->loss],
             t->batch_size, t->epochs_num, t->stage1_n, t->learning_rate, t->mi_lr_rate, t->cmi_lr_rate, t->bert_lr_rate, t->bert_freeze,
             t->weight_decay, t->gradient_clip, t->sgd ? "SGD" : "Adam", lrd[t->lr_decrease], it, t->lr_decrease_rate, t->radius, t->seed,
             t->normalize[0], t->normalize[1], t->normalize[2], t->log_scale[0], t->log_scale[1], t->log_scale[2],
             t->drop_last ? "true" : "false", t->dataset, t->task_name);
    return s;
}

int mr_cfg_from_json(mr_model_cfg *m, mr_train_cfg *t, const char *json, const char *what, FILE *notes, mr_error *e) {
    mr_kvlist l;
    int rc = mr_json_parse_flat(json, &l, what, e);
    if (rc) return rc;
    for (size_t i = 0; i < l.n && rc == MR_OK; i++) {
        int r = mr_cfg_apply(m, t, l.kv[i].key, l.kv[i].value, notes, e);
        if (r != MR_OK && r != 1) {
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e->msg);
            rc = mr_fail(e, r, "%s: config_json key '%s': %s", what, l.kv[i].key, msg);
        }
    }
    mr_kvlist_free(&l);
    if (!rc) rc = mr_cfg_check(m, t, e);
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
    mr_npz_close(&z);
    if (rc) return rc;
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
    if ((rc = mr_model_build(m, mc, e))) return rc;
    if ((rc = mr_params_load(&m->p, path, NULL, 0, e))) mr_model_free(m);
    return rc;
}
