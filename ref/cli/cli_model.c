/* cli_model.c — `mimrl oracle`: one forward and the backward of both stage
 * losses of a checkpointed model on a given batch, with every random choice
 * injected (dropout off, anchors from the batch file). See README "Oracle". */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/api/oracle.h"
#include "ref/core/npz.h"
#include "ref/cli/cli.h"
#include "ref/train/config.h"
#include "ref/model/model.h"

typedef struct {
    mr_array a;
    double *v;
} arr;

/* a numeric member as float64 into x (absent: x->v stays NULL; the shared
 * step names what is missing or mis-shaped) */
static int load(const mr_npz *z, const char *name, arr *x, mr_oracle_arr *o, mr_error *e) {
    memset(x, 0, sizeof *x);
    memset(o, 0, sizeof *o);
    if (mr_npz_find(z, name) < 0) return MR_OK;
    int rc = mr_npz_read(z, name, &x->a, e);
    if (rc) return rc;
    const mr_array *a = &x->a;
    if (a->ndim > 3 || !(a->dtype == MR_DT_F8 || a->dtype == MR_DT_F4 || a->dtype == MR_DT_I8 || a->dtype == MR_DT_I4)) {
        rc = mr_fail(e, MR_ESHAPE, "%s: member '%s' has %d dimensions and dtype %s; expected a numeric array of at most 3", z->path, name,
                     a->ndim, mr_dtype_descr(a->dtype));
        mr_array_free(&x->a);
        return rc;
    }
    x->v = malloc((size_t)(a->count ? a->count : 1) * sizeof *x->v);
    if (!x->v) {
        mr_array_free(&x->a);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    mr_array_to_f64(a, x->v);
    o->ndim = a->ndim;
    for (int d = 0; d < a->ndim; d++) o->shape[d] = a->shape[d];
    o->v = x->v;
    return MR_OK;
}

static void arr_free(arr *x) {
    mr_array_free(&x->a);
    free(x->v);
}

/* an integer member (int64 or int32, or whole float64 values) into *out as
 * int64 (absent: o->v stays NULL) */
static int load_int(const mr_npz *z, const char *name, int64_t **out, mr_oracle_iarr *o, mr_error *e) {
    arr x;
    mr_oracle_arr d;
    memset(o, 0, sizeof *o);
    *out = NULL;
    int rc = load(z, name, &x, &d, e);
    if (rc || !d.v) return rc;
    size_t n = 1;
    for (int k = 0; k < d.ndim; k++) n *= (size_t)d.shape[k];
    if (!(*out = malloc((n ? n : 1) * sizeof **out))) rc = mr_fail(e, MR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        double v = d.v[i];
        if (!(v >= -9.2e18 && v <= 9.2e18) || v != (double)(int64_t)v)
            rc = mr_fail(e, MR_EINVAL, "%s: member '%s' entry %zu is %g, not an integer", z->path, name, i, v);
        else (*out)[i] = (int64_t)v;
    }
    if (!rc) {
        o->ndim = d.ndim;
        for (int k = 0; k < d.ndim; k++) o->shape[k] = d.shape[k];
        o->v = *out;
    }
    arr_free(&x);
    return rc;
}

typedef struct {
    const char *checkpoint, *batch, *out, *dump;
    size_t bert_chunk;
} oracle_opts;

static const mr_opt ORACLE_OPTS[] = {
    {"--checkpoint", MR_OPT_TEXT, offsetof(oracle_opts, checkpoint), NULL, "CKPT.npz", "the model (parameters and config_json; required)",
     NULL, 0},
    {"--batch", MR_OPT_TEXT, offsetof(oracle_opts, batch), NULL, "BATCH.npz",
     "inputs, labels and the injected randomness (README: Oracle; required)", NULL, 0},
    {"--out", MR_OPT_TEXT, offsetof(oracle_opts, out), NULL, "OUT.npz", "losses, outputs and every gradient (required)", NULL, 0},
    {"--bert_chunk", MR_OPT_CUSTOM, offsetof(oracle_opts, bert_chunk), NULL, "N",
     "samples per BERT chunk, 1 … 4096 [default: the checkpoint's]", mr_opt_bert_chunk, 0},
    {"--dump", MR_OPT_TEXT, offsetof(oracle_opts, dump), NULL, "all", "also every named intermediate (README: Conformance)", NULL, 0},
};

const mr_cmd_flags mr_flags_oracle = {
    "oracle", "--checkpoint CKPT.npz --batch BATCH.npz --out OUT.npz [--bert_chunk N] [--dump all]",
    "One forward and the backward of both stage losses with the randomness injected (README: Oracle).\n", ORACLE_OPTS,
    MR_OPT_N(ORACLE_OPTS), NULL};

int mr_cmd_oracle(int argc, char **argv) {
    oracle_opts op = {0};
    int rc = mr_opts_parse(&mr_flags_oracle, argc, argv, 2, &op);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    if (!op.checkpoint || !op.batch || !op.out) {
        fprintf(stderr, "usage: mimrl oracle --checkpoint CKPT.npz --batch BATCH.npz --out OUT.npz [--bert_chunk N] [--dump all] (README: Oracle)\n");
        return 2;
    }
    int dump_all = 0;
    if (op.dump) {
        if (strcmp(op.dump, "all") != 0) {
            fprintf(stderr, "mimrl oracle: --dump takes 'all' (every named intermediate, README: Conformance); got '%s'\n", op.dump);
            return 2;
        }
        dump_all = 1;
    }
    size_t bert_chunk = op.bert_chunk;
    mr_error e = {0};
    mr_model m;
    mr_model_cfg mc;
    mr_train_cfg tc;
    if ((rc = mr_model_from_checkpoint(&m, &mc, &tc, op.checkpoint, &e))) {
        fprintf(stderr, "mimrl oracle: %s\n", e.msg);
        return rc == MR_ENOMEM ? 1 : 2;
    }
    if (bert_chunk) m.cfg.bert_chunk = bert_chunk;
    mr_npz z;
    if ((rc = mr_npz_open(&z, op.batch, &e))) {
        fprintf(stderr, "mimrl oracle: %s\n", e.msg);
        mr_model_free(&m);
        return 2;
    }
    static const char *const members[8] = {"text", "audio", "vision", "label", "bank_label", "bank_text", "bank_audio", "bank_vision"};
    arr x[8 + MR_NCMI];
    memset(x, 0, sizeof x);
    int64_t *given[MR_NCMI] = {0}, *ints[3 + MR_NCMI] = {0};
    mr_oracle_batch b;
    memset(&b, 0, sizeof b);
    mr_oracle_arr *slot[8] = {&b.text, &b.audio, &b.vision, &b.label, &b.bank_label, &b.bank_text, &b.bank_audio, &b.bank_vision};
    mr_oracle_result res;
    memset(&res, 0, sizeof res);
    int status = 2;
    for (int i = 0; i < 8 && !rc; i++) rc = load(&z, members[i], &x[i], slot[i], &e);
    /* the anchors: integers, checked here; their count and range by the step */
    for (int j = 0; j < MR_NCMI && !rc && b.bank_label.v; j++) {
        char name[64];
        mr_oracle_arr o;
        snprintf(name, sizeof name, "anchors_%s", mr_cmi_names[j]);
        if ((rc = load(&z, name, &x[8 + j], &o, &e))) break;
        if (!o.v) {
            rc = mr_fail(&e, MR_ENOTFOUND, "%s: no member '%s'", op.batch, name);
            break;
        }
        size_t n = o.ndim == 1 ? (size_t)o.shape[0] : 0;
        if (o.ndim != 1) {
            rc = mr_fail(&e, MR_ESHAPE, "%s: member '%s' has %d dimensions; expected 1", op.batch, name, o.ndim);
            break;
        }
        if (!(given[j] = malloc((n ? n : 1) * sizeof(int64_t)))) {
            rc = mr_fail(&e, MR_ENOMEM, "out of memory");
            break;
        }
        for (size_t a = 0; a < n && !rc; a++) {
            double v = o.v[a];
            if (!(v >= -9.2e18 && v <= 9.2e18) || v != (double)(int64_t)v)
                rc = mr_fail(&e, MR_EINVAL, "%s: member '%s' entry %zu is %g, not a row index", op.batch, name, a, v);
            else given[j][a] = (int64_t)v;
        }
        b.anchors[j] = given[j], b.n_anchors[j] = n;
    }
    /* BERT token ids, and neighbour lists that replace the k-NN search */
    static const char *const inames[3] = {"bert_ids", "bert_type_ids", "bert_att_mask"};
    mr_oracle_iarr *islot[3] = {&b.bert_ids, &b.bert_type_ids, &b.bert_att_mask};
    for (int i = 0; i < 3 && !rc; i++) rc = load_int(&z, inames[i], &ints[i], islot[i], &e);
    for (int j = 0; j < MR_NCMI && !rc; j++) {
        char name[64];
        snprintf(name, sizeof name, "neighbors_%s", mr_cmi_names[j]);
        rc = load_int(&z, name, &ints[3 + j], &b.neighbors[j], &e);
    }
    if (rc) goto fail;
    if ((rc = mr_oracle_run_dump(&m, &b, op.batch, NULL, dump_all, &res, &e))) {
        if (rc == MR_ENOMEM) status = 1;
        goto fail;
    }
    if ((rc = mr_oracle_write(&res, op.out, &e))) goto fail;
    printf("oracle: B=%zu, loss_task %.17g, loss_stage1 %.17g, loss_stage2 %.17g%s → %s\n", res.B, res.st.loss_task, res.st.loss_stage1,
           res.st.loss_stage2, res.st.has_mi ? "" : " (no banks: MI terms off, as in epoch 0)", op.out);
    status = 0;
fail:
    if (status) fprintf(stderr, "mimrl oracle: %s\n", e.msg);
    mr_oracle_result_free(&res);
    for (int i = 0; i < 8 + MR_NCMI; i++) arr_free(&x[i]);
    for (int j = 0; j < MR_NCMI; j++) free(given[j]);
    for (int j = 0; j < 3 + MR_NCMI; j++) free(ints[j]);
    mr_npz_close(&z);
    mr_model_free(&m);
    return status;
}
