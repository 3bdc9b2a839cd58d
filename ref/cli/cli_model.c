/* cli_model.c — `mimrl oracle`: one forward and the backward of both stage
 * losses of a checkpointed model on a given batch, with every random choice
 * injected (dropout off, anchors from the batch file). See README "Oracle". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/cli/cli.h"
#include "ref/train/config.h"
#include "ref/model/model.h"

typedef struct {
    mr_array a;
    double *v;
} arr;

/* read a float member with the expected shape (0 = any) */
static int need(const mr_npz *z, const char *name, int ndim, const uint64_t *shape, arr *out, mr_error *e) {
    memset(out, 0, sizeof *out);
    int rc = mr_npz_read(z, name, &out->a, e);
    if (rc) return rc;
    const mr_array *a = &out->a;
    int ok = a->ndim == ndim && (a->dtype == MR_DT_F8 || a->dtype == MR_DT_F4 || a->dtype == MR_DT_I8 || a->dtype == MR_DT_I4);
    for (int d = 0; ok && d < ndim; d++) ok = shape[d] == 0 || a->shape[d] == shape[d];
    if (!ok) {
        char got[128] = "[";
        for (int d = 0; d < a->ndim; d++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? ", " : "", (unsigned long long)a->shape[d]);
        strcat(got, "]");
        char w2[160] = "[";
        for (int d = 0; d < ndim; d++) {
            if (shape[d]) snprintf(w2 + strlen(w2), sizeof w2 - strlen(w2), "%s%llu", d ? ", " : "", (unsigned long long)shape[d]);
            else snprintf(w2 + strlen(w2), sizeof w2 - strlen(w2), "%s*", d ? ", " : "");
        }
        strcat(w2, "]");
        rc = mr_fail(e, MR_ESHAPE, "%s: member '%s' has shape %s and dtype %s; expected a numeric %s", z->path, name, got,
                     mr_dtype_descr(a->dtype), w2);
        mr_array_free(&out->a);
        return rc;
    }
    out->v = malloc((size_t)(a->count ? a->count : 1) * sizeof *out->v);
    if (!out->v) {
        mr_array_free(&out->a);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    mr_array_to_f64(a, out->v);
    for (uint64_t i = 0; i < a->count; i++)
        if (out->v[i] != out->v[i] || out->v[i] - out->v[i] != 0) {
            mr_array_free(&out->a);
            free(out->v);
            return mr_fail(e, MR_EFORMAT, "%s: member '%s' holds a non-finite value at flat index %llu", z->path, name, (unsigned long long)i);
        }
    return MR_OK;
}

static void arr_free(arr *x) {
    mr_array_free(&x->a);
    free(x->v);
}

int mr_cmd_oracle(int argc, char **argv) {
    mr_flag fl[] = {{"--checkpoint", 1, 0, 0}, {"--batch", 1, 0, 0}, {"--out", 1, 0, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, 3, "oracle");
    if (rc) return rc;
    if (!fl[0].value || !fl[1].value || !fl[2].value) {
        fprintf(stderr, "usage: mimrl oracle --checkpoint CKPT.npz --batch BATCH.npz --out OUT.npz (README: Oracle)\n");
        return 2;
    }
    mr_error e = {0};
    mr_model m;
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_workspace *ws = NULL;
    if ((rc = mr_model_from_checkpoint(&m, &mc, &tc, fl[0].value, &e))) {
        fprintf(stderr, "mimrl oracle: %s\n", e.msg);
        return rc == MR_ENOMEM ? 1 : 2;
    }
    mr_npz z;
    if ((rc = mr_npz_open(&z, fl[1].value, &e))) {
        fprintf(stderr, "mimrl oracle: %s\n", e.msg);
        mr_model_free(&m);
        return 2;
    }
    size_t D = mc.d_common;
    arr text = {0}, audio = {0}, vision = {0}, label = {0}, bl = {0}, bt = {0}, ba = {0}, bv = {0}, anc[MR_NCMI];
    memset(anc, 0, sizeof anc);
    int64_t *given[MR_NCMI] = {0};
    uint64_t s_t[3] = {0, 0, mc.d_t}, s_a[3] = {0, 0, mc.d_a}, s_v[3] = {0, 0, mc.d_v};
    int status = 2;
    if ((rc = need(&z, "text", 3, s_t, &text, &e)) || (rc = need(&z, "audio", 3, s_a, &audio, &e)) ||
        (rc = need(&z, "vision", 3, s_v, &vision, &e)))
        goto fail;
    size_t B = (size_t)text.a.shape[0];
    if (audio.a.shape[0] != B || vision.a.shape[0] != B) {
        rc = mr_fail(&e, MR_ESHAPE, "%s: 'text', 'audio' and 'vision' disagree on the batch size (%zu, %llu, %llu)", fl[1].value, B,
                     (unsigned long long)audio.a.shape[0], (unsigned long long)vision.a.shape[0]);
        goto fail;
    }
    uint64_t s_b[1] = {B};
    if ((rc = need(&z, "label", 1, s_b, &label, &e))) {
        uint64_t s_b1[2] = {B, 1};
        if ((rc = need(&z, "label", 2, s_b1, &label, &e))) goto fail;
    }
    int have_banks = mr_npz_find(&z, "bank_label") >= 0;
    size_t N = 0;
    if (have_banks) {
        uint64_t s_n1[2] = {0, 1};
        if ((rc = need(&z, "bank_label", 2, s_n1, &bl, &e))) goto fail;
        N = (size_t)bl.a.shape[0];
        uint64_t s_nd[2] = {N, D};
        if ((rc = need(&z, "bank_text", 2, s_nd, &bt, &e)) || (rc = need(&z, "bank_audio", 2, s_nd, &ba, &e)) ||
            (rc = need(&z, "bank_vision", 2, s_nd, &bv, &e)))
            goto fail;
        size_t mA = B / mc.k_neighbor;
        for (int j = 0; j < MR_NCMI; j++) {
            char name[64];
            snprintf(name, sizeof name, "anchors_%s", mr_cmi_names[j]);
            uint64_t s_m[1] = {mA};
            if ((rc = need(&z, name, 1, s_m, &anc[j], &e))) goto fail;
            given[j] = malloc((mA ? mA : 1) * sizeof(int64_t));
            for (size_t a = 0; a < mA; a++) {
                double v = anc[j].v[a];
                if (v < 0 || v >= (double)N || v != (double)(int64_t)v) {
                    rc = mr_fail(&e, MR_EINVAL, "%s: member '%s' entry %zu is %g, not a row of the %zu-row banks", fl[1].value, name, a, v, N);
                    goto fail;
                }
                given[j][a] = (int64_t)v;
            }
        }
    }
    mr_inputs in = {B, (size_t)text.a.shape[1], (size_t)audio.a.shape[1], (size_t)vision.a.shape[1], text.v, audio.v, vision.v, label.v};
    mr_banks bk = {N, bl.v, bt.v, ba.v, bv.v};
    mr_rand rnd;
    memset(&rnd, 0, sizeof rnd);
    for (int j = 0; j < MR_NCMI; j++) rnd.given[j] = given[j];
    mr_step st;
    mr_step_dims dims = {in.B, in.Lt, in.La, in.Lv, N};
    if ((rc = mr_workspace_create(&m, &dims, &ws, &e))) {
        if (rc == MR_ENOMEM) status = 1;
        goto fail;
    }
    if ((rc = mr_model_forward(&m, &in, have_banks ? &bk : NULL, &rnd, &st, ws, &e))) goto fail;
    size_t T = m.p.total;
    double *g1 = malloc(T * sizeof *g1);
    if (!g1) {
        rc = mr_fail(&e, MR_ENOMEM, "out of memory");
        status = 1;
        goto fail;
    }
    mr_params_zero_grad(&m.p);
    rc = mr_model_backward(&m, ws, 1, 1, &e);
    memcpy(g1, m.p.grad, T * sizeof *g1);
    mr_params_zero_grad(&m.p);
    if (!rc) rc = mr_model_backward(&m, ws, 2, 1, &e);
    /* write OUT */
    mr_npz_writer w;
    if (rc || (rc = mr_npz_writer_open(&w, fl[2].value, 0, &e))) {
        free(g1);
        goto fail;
    }
    uint64_t sB1[2] = {B, 1}, sBD[2] = {B, D}, s11[1] = {MR_NMI}, s8[1] = {MR_NDERIVED};
    rc = mr_npz_add(&w, "output", MR_DT_F8, 2, sB1, st.output, &e);
    const double *feats[4] = {st.F_F, st.T_F, st.A_F, st.V_F};
    const char *fn[4] = {"F_F", "T_F", "A_F", "V_F"};
    for (int k = 0; k < 4 && !rc; k++) rc = mr_npz_add(&w, fn[k], MR_DT_F8, 2, sBD, feats[k], &e);
    if (!rc) rc = mr_npz_add(&w, "mi", MR_DT_F8, 1, s11, st.mi, &e);
    if (!rc) rc = mr_npz_add(&w, "mi_derived", MR_DT_F8, 1, s8, st.derived, &e);
    if (!rc) rc = mr_npz_add(&w, "stage1_terms", MR_DT_F8, 1, s11, st.stage1_terms, &e);
    if (!rc) rc = mr_npz_add(&w, "loss_task", MR_DT_F8, 0, NULL, &st.loss_task, &e);
    if (!rc) rc = mr_npz_add(&w, "loss_stage1", MR_DT_F8, 0, NULL, &st.loss_stage1, &e);
    if (!rc) rc = mr_npz_add(&w, "loss_stage2", MR_DT_F8, 0, NULL, &st.loss_stage2, &e);
    for (int j = 0; j < MR_NCMI && !rc && st.has_mi; j++) {
        char name[64];
        uint64_t sn[2] = {st.m_anchor, st.k};
        snprintf(name, sizeof name, "neighbors_%s", mr_cmi_names[j]);
        rc = mr_npz_add(&w, name, MR_DT_I8, 2, sn, st.neighbors[j], &e);
    }
    for (int stage = 1; stage <= 2 && !rc; stage++)
        for (size_t i = 0; i < m.p.n && !rc; i++) {
            char name[MR_NAME_MAX + 32];
            snprintf(name, sizeof name, "grad_stage%d/%s", stage, m.p.t[i].name);
            uint64_t sh[MR_MAXDIM];
            for (int d = 0; d < m.p.t[i].ndim; d++) sh[d] = m.p.t[i].shape[d];
            const double *g = (stage == 1 ? g1 : m.p.grad) + m.p.t[i].offset;
            rc = mr_npz_add(&w, name, MR_DT_F8, m.p.t[i].ndim, sh, g, &e);
        }
    if (rc) mr_npz_writer_abort(&w);
    else rc = mr_npz_writer_close(&w, &e);
    free(g1);
    if (rc) goto fail;
    printf("oracle: B=%zu, loss_task %.17g, loss_stage1 %.17g, loss_stage2 %.17g%s → %s\n", B, st.loss_task, st.loss_stage1,
           st.loss_stage2, st.has_mi ? "" : " (no banks: MI terms off, as in epoch 0)", fl[2].value);
    status = 0;
fail:
    if (status) fprintf(stderr, "mimrl oracle: %s\n", e.msg);
    arr_free(&text), arr_free(&audio), arr_free(&vision), arr_free(&label), arr_free(&bl), arr_free(&bt), arr_free(&ba), arr_free(&bv);
    for (int j = 0; j < MR_NCMI; j++) arr_free(&anc[j]), free(given[j]);
    mr_npz_close(&z);
    mr_workspace_free(ws);
    mr_model_free(&m);
    return status;
}
