/* oracle.c — the oracle step shared by `mimrl oracle` and the public API
 * (oracle.h). */
#include "ref/api/oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void shape_str(char *buf, size_t n, int ndim, const uint64_t *shape) {
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && len < n; d++) {
        if (shape[d]) len += (size_t)snprintf(buf + len, n - len, "%s%llu", d ? ", " : "", (unsigned long long)shape[d]);
        else len += (size_t)snprintf(buf + len, n - len, "%s*", d ? ", " : "");
    }
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* a present array of ndim dims whose sizes match shape (0 = any), finite */
static int check(const mr_oracle_arr *a, const char *name, int ndim, const uint64_t *shape, const char *what, mr_error *e) {
    if (!a->v) return mr_fail(e, MR_ENOTFOUND, "%s: no member '%s'", what, name);
    int ok = a->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = shape[d] == 0 || a->shape[d] == shape[d];
    if (!ok) {
        char got[128], want[128];
        shape_str(got, sizeof got, a->ndim > 3 ? 3 : a->ndim, a->shape);
        shape_str(want, sizeof want, ndim, shape);
        return mr_fail(e, MR_ESHAPE, "%s: member '%s' has shape %s; expected %s", what, name, got, want);
    }
    uint64_t count = 1;
    for (int d = 0; d < ndim; d++) count *= a->shape[d];
    for (uint64_t i = 0; i < count; i++)
        if (a->v[i] != a->v[i] || a->v[i] - a->v[i] != 0)
            return mr_fail(e, MR_EFORMAT, "%s: member '%s' holds a non-finite value at flat index %llu", what, name, (unsigned long long)i);
    return MR_OK;
}

/* an int64 [B, L] member (rows, cols 0 = any), present */
static int icheck(const mr_oracle_iarr *a, const char *name, uint64_t rows, uint64_t cols, const char *what, mr_error *e) {
    if (!a->v) return mr_fail(e, MR_ENOTFOUND, "%s: no member '%s'", what, name);
    if (a->ndim != 2 || (rows && a->shape[0] != rows) || (cols && a->shape[1] != cols) || a->shape[0] == 0 || a->shape[1] == 0) {
        char got[128], want[128];
        uint64_t w[2] = {rows, cols};
        shape_str(got, sizeof got, a->ndim > 3 ? 3 : a->ndim, a->shape);
        shape_str(want, sizeof want, 2, w);
        return mr_fail(e, MR_ESHAPE, "%s: member '%s' has shape %s; expected %s integers", what, name, got, want);
    }
    return MR_OK;
}

static mr_oracle_tensor *add(mr_oracle_result *r, const char *name, mr_dtype dt, int ndim, const uint64_t *shape, const void *data,
                             int in_out) {
    mr_oracle_tensor *t = &r->t[r->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt, t->ndim = ndim, t->data = data, t->in_out = in_out, t->count = 1;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d], t->count *= shape[d];
    return t;
}

static void list(const mr_model *m, mr_oracle_result *r) {
    const mr_step *st = &r->st;
    uint64_t sB1[2] = {r->B, 1}, sBD[2] = {r->B, r->D}, s11[1] = {11}, s8[1] = {8};
    add(r, "output", MR_DT_F8, 2, sB1, st->output, 1);
    const double *feats[4] = {st->F_F, st->T_F, st->A_F, st->V_F};
    const char *fn[4] = {"F_F", "T_F", "A_F", "V_F"};
    for (int k = 0; k < 4; k++) add(r, fn[k], MR_DT_F8, 2, sBD, feats[k], 1);
    add(r, "mi", MR_DT_F8, 1, s11, st->mi, 1);
    add(r, "mi_derived", MR_DT_F8, 1, s8, st->derived, 1);
    add(r, "stage1_terms", MR_DT_F8, 1, s11, st->stage1_terms, 1);
    add(r, "loss_task", MR_DT_F8, 0, NULL, &st->loss_task, 1);
    add(r, "loss_stage1", MR_DT_F8, 0, NULL, &st->loss_stage1, 1);
    add(r, "loss_stage2", MR_DT_F8, 0, NULL, &st->loss_stage2, 1);
    char name[MR_NAME_MAX + 16];
    for (int j = 0; j < MR_NCMI && st->has_mi; j++) {
        uint64_t sn[2] = {st->m_anchor, st->k};
        snprintf(name, sizeof name, "neighbors_%s", mr_cmi_names[j]);
        add(r, name, MR_DT_I8, 2, sn, st->neighbors[j], 1);
    }
    for (int stage = 1; stage <= 2; stage++)
        for (size_t i = 0; i < m->p.n; i++) {
            uint64_t sh[MR_MAXDIM];
            for (int d = 0; d < m->p.t[i].ndim; d++) sh[d] = m->p.t[i].shape[d];
            snprintf(name, sizeof name, "grad_stage%d/%s", stage, m->p.t[i].name);
            add(r, name, MR_DT_F8, m->p.t[i].ndim, sh, r->grad[stage - 1] + m->p.t[i].offset, 1);
        }
    for (int j = 0; j < MR_NCMI && st->has_mi; j++) {
        uint64_t sm[1] = {st->m_anchor};
        snprintf(name, sizeof name, "anchors_%s", mr_cmi_names[j]);
        add(r, name, MR_DT_I8, 1, sm, st->anchors[j], 0);
    }
}

/* dump all: everything in forward order (oracle.h) */
static void list_all(const mr_model *m, mr_oracle_result *r) {
    const mr_step *st = &r->st;
    uint64_t sB1[2] = {r->B, 1}, sBD[2] = {r->B, r->D}, s11[1] = {11}, s8[1] = {8};
    char name[MR_NAME_MAX + 16];
    const double *feats[3] = {st->T_F, st->A_F, st->V_F};
    const char *fn[3] = {"T_F", "A_F", "V_F"};
    int sects[3] = {MR_SECT_TEXT, MR_SECT_AUDIO, MR_SECT_VISUAL};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < r->ninter; i++)
            if (r->inter[i].sect == sects[k])
                add(r, r->inter[i].name, r->inter[i].is_int ? MR_DT_I8 : MR_DT_F8, r->inter[i].ndim, r->inter[i].shape, r->inter[i].data, 1);
        add(r, fn[k], MR_DT_F8, 2, sBD, feats[k], 1);
    }
    for (size_t i = 0; i < r->ninter; i++)
        if (r->inter[i].sect == MR_SECT_CUBE) add(r, r->inter[i].name, MR_DT_F8, r->inter[i].ndim, r->inter[i].shape, r->inter[i].data, 1);
    add(r, "F_F", MR_DT_F8, 2, sBD, st->F_F, 1);
    add(r, "output", MR_DT_F8, 2, sB1, st->output, 1);
    add(r, "loss_task", MR_DT_F8, 0, NULL, &st->loss_task, 1);
    for (int e = 0; e < MR_NMI && st->has_mi; e++) {
        int cmi = e >= MR_NVMI, j = cmi ? e - MR_NVMI : e;
        const char *nm = cmi ? mr_cmi_names[j] : mr_vmi_names[j];
        if (cmi) {
            uint64_t sn[2] = {st->m_anchor, st->k};
            snprintf(name, sizeof name, "neighbors_%s", nm);
            add(r, name, MR_DT_I8, 2, sn, st->neighbors[j], 1);
        }
        for (size_t i = 0; i < r->ninter; i++)
            if (r->inter[i].sect == (cmi ? MR_SECT_CMI : MR_SECT_VMI) && r->inter[i].idx == j)
                add(r, r->inter[i].name, MR_DT_F8, r->inter[i].ndim, r->inter[i].shape, r->inter[i].data, 1);
        snprintf(name, sizeof name, "%s/%s/estimate", cmi ? "cmi" : "vmi", nm);
        add(r, name, MR_DT_F8, 0, NULL, &st->mi[e], 1);
        snprintf(name, sizeof name, "%s/%s/%s", cmi ? "cmi" : "vmi", nm, cmi ? "bce" : "loss");
        add(r, name, MR_DT_F8, 0, NULL, &st->stage1_terms[e], 1);
    }
    add(r, "mi", MR_DT_F8, 1, s11, st->mi, 1);
    add(r, "mi_derived", MR_DT_F8, 1, s8, st->derived, 1);
    add(r, "stage1_terms", MR_DT_F8, 1, s11, st->stage1_terms, 1);
    add(r, "loss_stage1", MR_DT_F8, 0, NULL, &st->loss_stage1, 1);
    add(r, "loss_stage2", MR_DT_F8, 0, NULL, &st->loss_stage2, 1);
    for (int stage = 1; stage <= 2; stage++)
        for (size_t i = 0; i < m->p.n; i++) {
            uint64_t sh[MR_MAXDIM];
            for (int d = 0; d < m->p.t[i].ndim; d++) sh[d] = m->p.t[i].shape[d];
            snprintf(name, sizeof name, "grad_stage%d/%s", stage, m->p.t[i].name);
            add(r, name, MR_DT_F8, m->p.t[i].ndim, sh, r->grad[stage - 1] + m->p.t[i].offset, 1);
        }
    for (int j = 0; j < MR_NCMI && st->has_mi; j++) {
        uint64_t sm[1] = {st->m_anchor};
        snprintf(name, sizeof name, "anchors_%s", mr_cmi_names[j]);
        add(r, name, MR_DT_I8, 1, sm, st->anchors[j], 0);
    }
}

int mr_oracle_run(mr_model *m, const mr_oracle_batch *b, const char *what, gsl_rng *anchor_rng, mr_oracle_result *res,
                  mr_error *e) {
    return mr_oracle_run_dump(m, b, what, anchor_rng, 0, res, e);
}

int mr_oracle_run_dump(mr_model *m, const mr_oracle_batch *b, const char *what, gsl_rng *anchor_rng, int dump_all,
                       mr_oracle_result *res, mr_error *e) {
    memset(res, 0, sizeof *res);
    const mr_model_cfg *mc = &m->cfg;
    size_t D = mc->d_common;
    uint64_t s_t[3] = {0, 0, mc->d_t}, s_a[3] = {0, 0, mc->d_a}, s_v[3] = {0, 0, mc->d_v};
    int rc;
    const char *tname = mc->bert ? "bert_ids" : "text";
    if (mc->bert) {
        if ((rc = icheck(&b->bert_ids, "bert_ids", 0, 0, what, e))) return rc;
        if (b->text.v) return mr_fail(e, MR_EINVAL, "%s: the checkpoint has a BERT: give 'bert_ids' (and 'bert_type_ids', 'bert_att_mask'), not 'text'", what);
        uint64_t B0 = b->bert_ids.shape[0], L0 = b->bert_ids.shape[1];
        if (b->bert_type_ids.v && (rc = icheck(&b->bert_type_ids, "bert_type_ids", B0, L0, what, e))) return rc;
        if (b->bert_att_mask.v && (rc = icheck(&b->bert_att_mask, "bert_att_mask", B0, L0, what, e))) return rc;
    } else {
        if (b->bert_ids.v || b->bert_type_ids.v || b->bert_att_mask.v)
            return mr_fail(e, MR_EINVAL, "%s: 'bert_ids' given but the checkpoint has no BERT (bertmodel.* and bert_config_json)", what);
        if ((rc = check(&b->text, "text", 3, s_t, what, e))) return rc;
    }
    if ((rc = check(&b->audio, "audio", 3, s_a, what, e)) || (rc = check(&b->vision, "vision", 3, s_v, what, e))) return rc;
    size_t B = (size_t)(mc->bert ? b->bert_ids.shape[0] : b->text.shape[0]);
    size_t Lt = (size_t)(mc->bert ? b->bert_ids.shape[1] : b->text.shape[1]);
    if (b->audio.shape[0] != B || b->vision.shape[0] != B)
        return mr_fail(e, MR_ESHAPE, "%s: '%s', 'audio' and 'vision' disagree on the batch size (%zu, %llu, %llu)", what, tname, B,
                       (unsigned long long)b->audio.shape[0], (unsigned long long)b->vision.shape[0]);
    uint64_t s_b[2] = {B, 1};
    if ((rc = check(&b->label, "label", b->label.ndim == 2 ? 2 : 1, s_b, what, e))) return rc;
    int have_banks = b->bank_label.v != NULL;
    size_t N = 0;
    if (!have_banks && (b->bank_text.v || b->bank_audio.v || b->bank_vision.v))
        return mr_fail(e, MR_ENOTFOUND, "%s: banks given without 'bank_label'", what);
    if (have_banks) {
        uint64_t s_n1[2] = {0, 1};
        if ((rc = check(&b->bank_label, "bank_label", 2, s_n1, what, e))) return rc;
        N = (size_t)b->bank_label.shape[0];
        uint64_t s_nd[2] = {N, D};
        if ((rc = check(&b->bank_text, "bank_text", 2, s_nd, what, e)) || (rc = check(&b->bank_audio, "bank_audio", 2, s_nd, what, e)) ||
            (rc = check(&b->bank_vision, "bank_vision", 2, s_nd, what, e)))
            return rc;
        size_t mA = B / mc->k_neighbor;
        for (int j = 0; j < MR_NCMI; j++) {
            if (!b->anchors[j]) {
                if (!anchor_rng)
                    return mr_fail(e, MR_ENOTFOUND, "%s: no member 'anchors_%s' and no anchor stream to draw them", what, mr_cmi_names[j]);
                continue;
            }
            if (b->n_anchors[j] != mA)
                return mr_fail(e, MR_ESHAPE, "%s: member 'anchors_%s' has %zu entries; expected [%zu] (batch %zu / k_neighbor %zu)", what,
                               mr_cmi_names[j], b->n_anchors[j], mA, B, mc->k_neighbor);
            for (size_t a = 0; a < mA; a++)
                if (b->anchors[j][a] < 0 || (uint64_t)b->anchors[j][a] >= N)
                    return mr_fail(e, MR_EINVAL, "%s: member 'anchors_%s' entry %zu is %lld, not a row of the %zu-row banks", what,
                                   mr_cmi_names[j], a, (long long)b->anchors[j][a], N);
            const mr_oracle_iarr *nb = &b->neighbors[j];
            if (!nb->v) continue;
            char nm[64];
            snprintf(nm, sizeof nm, "neighbors_%s", mr_cmi_names[j]);
            if ((rc = icheck(nb, nm, mA, mc->k_neighbor, what, e))) return rc;
            for (size_t a = 0; a < mA * mc->k_neighbor; a++)
                if (nb->v[a] < 0 || (uint64_t)nb->v[a] >= N)
                    return mr_fail(e, MR_EINVAL, "%s: member '%s' entry %zu is %lld, not a row of the %zu-row banks", what, nm, a,
                                   (long long)nb->v[a], N);
        }
    }
    for (int j = 0; j < MR_NCMI; j++)
        if (b->neighbors[j].v && (!have_banks || !b->anchors[j]))
            return mr_fail(e, MR_EINVAL, "%s: member 'neighbors_%s' needs the banks and 'anchors_%s'", what, mr_cmi_names[j], mr_cmi_names[j]);
    mr_inputs in = {B,         Lt,        (size_t)b->audio.shape[1], (size_t)b->vision.shape[1], b->text.v, b->audio.v, b->vision.v,
                    b->label.v, b->bert_ids.v, b->bert_type_ids.v, b->bert_att_mask.v};
    mr_banks bk = {N, b->bank_label.v, b->bank_text.v, b->bank_audio.v, b->bank_vision.v};
    mr_rand rnd;
    memset(&rnd, 0, sizeof rnd);
    rnd.anchor = anchor_rng;
    for (int j = 0; j < MR_NCMI; j++) rnd.given[j] = b->anchors[j], rnd.given_nb[j] = b->neighbors[j].v;
    size_t T = m->p.total;
    size_t cap = 11 + MR_NCMI * 2 + 2 * m->p.n;
    res->grad[0] = malloc((T ? T : 1) * sizeof(double));
    res->grad[1] = malloc((T ? T : 1) * sizeof(double));
    res->t = calloc(cap, sizeof *res->t);
    if (!res->grad[0] || !res->grad[1] || !res->t) return mr_fail(e, MR_ENOMEM, "out of memory");
    /* the step: the model's forward and the backward of each stage from zero gradients */
    mr_step_dims dims = {in.B, in.Lt, in.La, in.Lv, N};
    int keep = m->cfg.bert_keep;
    if (dump_all) m->cfg.bert_keep = 1; /* every BERT chunk's hidden states stay readable */
    rc = mr_workspace_create(m, &dims, &res->ws, e);
    m->cfg.bert_keep = keep;
    if (rc) return rc;
    if ((rc = mr_model_forward(m, &in, have_banks ? &bk : NULL, &rnd, &res->st, res->ws, e))) return rc;
    if (dump_all) {
        if ((rc = mr_workspace_intermediates(m, res->ws, &res->inter, &res->ninter, e))) return rc;
        mr_oracle_tensor *t = realloc(res->t, (cap + res->ninter + 2 * MR_NMI) * sizeof *t);
        if (!t) return mr_fail(e, MR_ENOMEM, "out of memory");
        res->t = t;
    }
    for (int stage = 1; stage <= 2; stage++) {
        mr_params_zero_grad(&m->p);
        if ((rc = mr_model_backward(m, res->ws, stage, 1, e))) return rc;
        memcpy(res->grad[stage - 1], m->p.grad, T * sizeof(double));
    }
    res->B = B, res->D = D;
    if (dump_all) list_all(m, res);
    else list(m, res);
    return MR_OK;
}

void mr_oracle_result_free(mr_oracle_result *res) {
    mr_workspace_free(res->ws);
    free(res->grad[0]);
    free(res->grad[1]);
    free(res->t);
    mr_ws_tensors_free(res->inter, res->ninter);
    memset(res, 0, sizeof *res);
}

const mr_oracle_tensor *mr_oracle_find(const mr_oracle_result *res, const char *name) {
    for (size_t i = 0; i < res->n; i++)
        if (strcmp(res->t[i].name, name) == 0) return &res->t[i];
    return NULL;
}

int mr_oracle_write(const mr_oracle_result *res, const char *path, mr_error *e) {
    mr_npz_writer w;
    int rc = mr_npz_writer_open(&w, path, 0, e);
    if (rc) return rc;
    for (size_t i = 0; i < res->n && !rc; i++)
        if (res->t[i].in_out) rc = mr_npz_add(&w, res->t[i].name, res->t[i].dtype, res->t[i].ndim, res->t[i].shape, res->t[i].data, e);
    if (rc) {
        mr_npz_writer_abort(&w);
        return rc;
    }
    return mr_npz_writer_close(&w, e);
}
