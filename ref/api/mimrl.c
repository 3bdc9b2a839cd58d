/* mimrl.c — the public API (include/mimrl/mimrl.h) over the shared oracle
 * step (oracle.h): a handle owns the model, which parameters were set, the
 * borrowed inputs and the last results. */
#include "mimrl/mimrl.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/data_est.h"
#include "ref/api/oracle.h"
#include "ref/core/json.h"
#include "ref/train/config.h"

_Static_assert(sizeof(mimrl_error) == sizeof(mr_error) && offsetof(mimrl_error, msg) == offsetof(mr_error, msg),
               "mimrl_error mirrors mr_error");
_Static_assert((int)MIMRL_F64 == (int)MR_DT_F8 && (int)MIMRL_I64 == (int)MR_DT_I8 && MIMRL_MAXDIM == MR_MAXDIM, "dtype codes and ranks mirror npz.h");

#define NIN 8
static const char *const in_names[NIN] = {"text", "audio", "vision", "label", "bank_label", "bank_text", "bank_audio", "bank_vision"};

struct mimrl_model {
    mr_model m;
    mr_model_cfg mc;
    mr_train_cfg tc;
    char *config;          /* mr_cfg_to_json */
    unsigned char *is_set; /* per parameter: set by load or mimrl_param_set */
    mr_oracle_batch b;
    uint64_t seed;
    mr_oracle_result res;
    int have;              /* res holds the results of a successful step */
};

#define E(e) ((mr_error *)(void *)(e))

const char *mimrl_version(void) { return MIMRL_VERSION_STRING; }
const char *mimrl_strerror(int code) { return mr_strerror(code); }
const char *mimrl_blas(void) { return mr_blas_name(); }

static int finish(mimrl_model *h, int all_set, mimrl_model **out, mimrl_error *e) {
    h->config = mr_cfg_to_json(&h->mc, &h->tc);
    h->is_set = malloc(h->m.p.n ? h->m.p.n : 1);
    if (!h->config || !h->is_set) {
        mimrl_model_free(h);
        return mr_fail(E(e), MR_ENOMEM, "out of memory");
    }
    memset(h->is_set, all_set, h->m.p.n ? h->m.p.n : 1);
    *out = h;
    return MR_OK;
}

int mimrl_model_load(mimrl_model **out, const char *checkpoint_path, mimrl_error *e) {
    *out = NULL;
    if (!checkpoint_path) return mr_fail(E(e), MR_EINVAL, "mimrl_model_load: no checkpoint path");
    mimrl_model *h = calloc(1, sizeof *h);
    if (!h) return mr_fail(E(e), MR_ENOMEM, "out of memory");
    int rc = mr_model_from_checkpoint(&h->m, &h->mc, &h->tc, checkpoint_path, E(e));
    if (rc) {
        free(h);
        return rc;
    }
    return finish(h, 1, out, e);
}

int mimrl_model_create(mimrl_model **out, const char *config_json, mimrl_error *e) {
    *out = NULL;
    mimrl_model *h = calloc(1, sizeof *h);
    if (!h) return mr_fail(E(e), MR_ENOMEM, "out of memory");
    mr_model_cfg_default(&h->mc);
    mr_train_cfg_default(&h->tc);
    int rc = mr_cfg_from_json(&h->mc, &h->tc, config_json ? config_json : "{}", "config_json", NULL, E(e));
    if (!rc) rc = mr_model_build(&h->m, &h->mc, E(e));
    if (rc) {
        free(h);
        return rc;
    }
    return finish(h, 0, out, e);
}

void mimrl_model_free(mimrl_model *h) {
    if (!h) return;
    mr_oracle_result_free(&h->res);
    mr_model_free(&h->m);
    free(h->config);
    free(h->is_set);
    free(h);
}

const char *mimrl_model_config(const mimrl_model *h) { return h->config; }
size_t mimrl_param_count(const mimrl_model *h) { return h->m.p.n; }
const char *mimrl_param_name(const mimrl_model *h, size_t i) { return i < h->m.p.n ? h->m.p.t[i].name : NULL; }

int mimrl_param_shape(const mimrl_model *h, size_t i, size_t shape[MIMRL_MAXDIM]) {
    if (i >= h->m.p.n) return 0;
    for (int d = 0; d < h->m.p.t[i].ndim; d++) shape[d] = h->m.p.t[i].shape[d];
    return h->m.p.t[i].ndim;
}

int mimrl_param_set(mimrl_model *h, const char *name, int ndim, const size_t *shape, const double *data, mimrl_error *e) {
    long i = name ? mr_params_find(&h->m.p, name) : -1;
    if (i < 0) return mr_fail(E(e), MR_ENOTFOUND, "parameter '%s' is not a tensor of this model", name ? name : "(null)");
    const mr_tensor *t = &h->m.p.t[i];
    int ok = ndim == t->ndim && data;
    for (int d = 0; ok && d < ndim; d++) ok = shape[d] == t->shape[d];
    if (!ok) {
        char got[160] = "[", want[160] = "[";
        for (int d = 0; d < ndim && d < 8; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu", d ? ", " : "", shape[d]);
        for (int d = 0; d < t->ndim; d++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%zu", d ? ", " : "", t->shape[d]);
        return mr_fail(E(e), MR_ESHAPE, "parameter '%s' given with shape %s]; the model's is %s]", name, got, want);
    }
    for (size_t k = 0; k < t->size; k++)
        if (data[k] != data[k] || data[k] - data[k] != 0)
            return mr_fail(E(e), MR_EFORMAT, "parameter '%s' holds a non-finite value at flat index %zu", name, k);
    memcpy(h->m.p.data + t->offset, data, t->size * sizeof(double));
    h->is_set[i] = 1;
    return MR_OK;
}

const double *mimrl_param_get(const mimrl_model *h, const char *name, size_t *count) {
    long i = name ? mr_params_find(&h->m.p, name) : -1;
    if (i < 0) return NULL;
    if (count) *count = h->m.p.t[i].size;
    return h->m.p.data + h->m.p.t[i].offset;
}

static void drop_results(mimrl_model *h) {
    mr_oracle_result_free(&h->res);
    h->have = 0;
}

int mimrl_set_input(mimrl_model *h, const char *name, int ndim, const size_t *shape, const double *data, mimrl_error *e) {
    mr_oracle_arr *slot[NIN] = {&h->b.text, &h->b.audio, &h->b.vision, &h->b.label, &h->b.bank_label, &h->b.bank_text, &h->b.bank_audio, &h->b.bank_vision};
    for (int i = 0; name && i < NIN; i++)
        if (strcmp(name, in_names[i]) == 0) {
            if (ndim < 1 || ndim > 3 || !data || !shape)
                return mr_fail(E(e), MR_ESHAPE, "input '%s': %d dimensions%s; expected 1 to 3 and data", name, ndim, data ? "" : " and no data");
            slot[i]->ndim = ndim;
            for (int d = 0; d < ndim; d++) slot[i]->shape[d] = shape[d];
            slot[i]->v = data;
            return MR_OK;
        }
    return mr_fail(E(e), MR_ENOTFOUND, "input '%s' is not a batch member (text, audio, vision, label, bank_label, bank_text, bank_audio, bank_vision)",
                   name ? name : "(null)");
}

int mimrl_set_input_i64(mimrl_model *h, const char *name, int ndim, const size_t *shape, const int64_t *data, mimrl_error *e) {
    mr_oracle_iarr *a = NULL;
    if (name && !strcmp(name, "bert_ids")) a = &h->b.bert_ids;
    else if (name && !strcmp(name, "bert_type_ids")) a = &h->b.bert_type_ids;
    else if (name && !strcmp(name, "bert_att_mask")) a = &h->b.bert_att_mask;
    for (int j = 0; name && !a && j < MR_NCMI; j++)
        if (strncmp(name, "neighbors_", 10) == 0 && strcmp(name + 10, mr_cmi_names[j]) == 0) a = &h->b.neighbors[j];
    if (!a)
        return mr_fail(E(e), MR_ENOTFOUND, "int64 input '%s' is not bert_ids, bert_type_ids, bert_att_mask or neighbors_<ac_t|ta_c|vc_t|tv_c|tc_a|tc_v>",
                       name ? name : "(null)");
    if (ndim != 2 || !data || !shape)
        return mr_fail(E(e), MR_ESHAPE, "input '%s': %d dimensions%s; expected 2 and data", name, ndim, data ? "" : " and no data");
    a->ndim = ndim;
    for (int d = 0; d < ndim; d++) a->shape[d] = shape[d];
    a->v = data;
    return MR_OK;
}

int mimrl_set_anchors(mimrl_model *h, const char *name, size_t n, const int64_t *rows, mimrl_error *e) {
    for (int j = 0; name && j < MR_NCMI; j++)
        if (strncmp(name, "anchors_", 8) == 0 && strcmp(name + 8, mr_cmi_names[j]) == 0) {
            h->b.anchors[j] = rows, h->b.n_anchors[j] = n;
            return MR_OK;
        }
    return mr_fail(E(e), MR_ENOTFOUND, "'%s' is not anchors_<ac_t|ta_c|vc_t|tv_c|tc_a|tc_v>", name ? name : "(null)");
}

void mimrl_set_anchor_seed(mimrl_model *h, uint64_t seed) { h->seed = seed; }

void mimrl_clear_inputs(mimrl_model *h) {
    memset(&h->b, 0, sizeof h->b);
    drop_results(h);
}

int mimrl_step(mimrl_model *h, mimrl_error *e) {
    drop_results(h);
    char missing[4096] = "";
    size_t n_missing = 0;
    for (size_t i = 0; i < h->m.p.n; i++)
        if (!h->is_set[i]) {
            if (n_missing++ < 8) snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s'%s'", n_missing > 1 ? ", " : "", h->m.p.t[i].name);
        }
    if (n_missing)
        return mr_fail(E(e), MR_ENOTFOUND, "%zu parameter(s) never set: %s%s", n_missing, missing, n_missing > 8 ? ", …" : "");
    gsl_rng *r = NULL;
    int need = 0;
    for (int j = 0; j < MR_NCMI; j++) need |= !h->b.anchors[j];
    if (need && h->b.bank_label.v) {
        if (!(r = gsl_rng_alloc(gsl_rng_mt19937))) return mr_fail(E(e), MR_ENOMEM, "out of memory");
        gsl_rng_set(r, (unsigned long)h->seed);
    }
    int rc = mr_oracle_run(&h->m, &h->b, "batch", r, &h->res, E(e));
    if (r) gsl_rng_free(r);
    if (rc) drop_results(h);
    else h->have = 1;
    return rc;
}

size_t mimrl_output_count(const mimrl_model *h) { return h->have ? h->res.n : 0; }

static void fill(const mr_oracle_tensor *s, mimrl_tensor *t) {
    memset(t, 0, sizeof *t);
    t->name = s->name, t->dtype = (int)s->dtype, t->ndim = s->ndim, t->count = (size_t)s->count, t->data = s->data, t->in_out_npz = s->in_out;
    for (int d = 0; d < s->ndim; d++) t->shape[d] = (size_t)s->shape[d];
}

int mimrl_output_at(const mimrl_model *h, size_t i, mimrl_tensor *t, mimrl_error *e) {
    if (!h->have) return mr_fail(E(e), MR_ENOTFOUND, "no results: no successful mimrl_step since the inputs were set");
    if (i >= h->res.n) return mr_fail(E(e), MR_EINVAL, "output %zu of %zu", i, h->res.n);
    fill(&h->res.t[i], t);
    return MR_OK;
}

int mimrl_output(const mimrl_model *h, const char *name, mimrl_tensor *t, mimrl_error *e) {
    if (!h->have) return mr_fail(E(e), MR_ENOTFOUND, "no results: no successful mimrl_step since the inputs were set");
    const mr_oracle_tensor *s = name ? mr_oracle_find(&h->res, name) : NULL;
    if (!s) return mr_fail(E(e), MR_ENOTFOUND, "no output '%s'", name ? name : "(null)");
    fill(s, t);
    return MR_OK;
}

int mimrl_write_out(const mimrl_model *h, const char *path, mimrl_error *e) {
    if (!h->have) return mr_fail(E(e), MR_ENOTFOUND, "no results: no successful mimrl_step since the inputs were set");
    return mr_oracle_write(&h->res, path, E(e));
}

/* ------------------------------------------------------------ estimate */

void mimrl_free(void *p) { free(p); }

int mimrl_estimate(const double *x, size_t n, size_t dx, const double *y, size_t dy, const double *z, size_t dz, const char *options_json,
                   char **json_out, mimrl_error *e) {
    if (!json_out) return mr_fail(E(e), MR_EINVAL, "mimrl_estimate: json_out is NULL");
    *json_out = NULL;
    if (!x || !y || n == 0) return mr_fail(E(e), MR_EINVAL, "mimrl_estimate: x and y must be non-NULL with at least one row");
    mr_est_opts o;
    mr_est_opts_default(&o);
    mr_kvlist kv = {0, NULL};
    if (options_json && mr_json_parse_flat(options_json, &kv, "mimrl_estimate options", E(e))) return E(e)->code;
    const char *names[3] = {"x", "y", "z"}, *mlist = NULL;
    int rc = 0;
    for (size_t i = 0; i < kv.n && !rc; i++) {
        const char *k = kv.kv[i].key, *v = kv.kv[i].value;
        if (!strcmp(k, "method")) mlist = v;
        else if (!strcmp(k, "x_name")) names[0] = v;
        else if (!strcmp(k, "y_name")) names[1] = v;
        else if (!strcmp(k, "z_name")) names[2] = v;
        else rc = mr_est_opts_set(&o, k, v, E(e));
    }
    mr_est_method ms[MR_EST_MAXMETHODS];
    size_t nm = 0;
    mr_est_result *res = NULL;
    char *buf = NULL;
    size_t len = 0;
    if (!rc) rc = mr_est_methods_parse(mlist ? mlist : z ? "all" : MR_EST_DEFAULT_MI_METHODS, z != NULL, ms, MR_EST_MAXMETHODS, &nm, E(e));
    mr_est_member mx = {names[0], x, n, dx}, my = {names[1], y, n, dy}, mz = {names[2], z, n, dz};
    if (!rc && !(res = calloc(nm, sizeof *res))) rc = mr_fail(E(e), MR_ENOMEM, "out of memory");
    if (!rc) rc = mr_est_run(&mx, &my, z ? &mz : NULL, ms, nm, &o, res, E(e));
    if (!rc) {
        FILE *f = open_memstream(&buf, &len);
        if (!f) rc = mr_fail(E(e), MR_ENOMEM, "out of memory");
        else {
            mr_est_write_json(f, &mx, &my, z ? &mz : NULL, res, nm, &o);
            if (fclose(f)) rc = mr_fail(E(e), MR_ENOMEM, "out of memory");
        }
    }
    if (rc) free(buf);
    else *json_out = buf;
    free(res);
    mr_kvlist_free(&kv);
    return rc;
}
