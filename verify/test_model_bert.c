/* test_model_bert.c — the whole model with a BERT text branch (issue 12
 * items 4 and 7): the gradients of both stage losses w.r.t. every
 * bertmodel.* tensor against finite differences along random directions;
 * the pooler gets nothing; the oracle file contract with bert_ids /
 * bert_type_ids / bert_att_mask and bert_config_json in the checkpoint; and
 * the injected neighbour lists (neighbors_<name> in the batch) replacing the
 * k-NN search, range-checked. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/api/oracle.h"
#include "ref/core/gradcheck.h"
#include "ref/core/npz.h"
#include "ref/model/model.h"
#include "ref/train/config.h"
#include "verify/alloc_count.h"
#include "verify/helpers.h"

static const char *CFG =
    "{\"d_t\": 6, \"d_a\": 3, \"d_v\": 4, \"d_common\": 8, \"time_len\": 5, \"encoders\": \"gru\", \"activate\": \"gelu\", "
    "\"d_hiddens\": \"3-3-8=3-3-8\", \"d_outs\": \"3-3-8=3-3-8\", \"res_project\": \"1-1\", \"bias\": true, "
    "\"dropout\": \"0.1-0.1-0.1-0.1\", \"dropout_mlp\": \"0.0-0.0-0.0\", \"bound_type\": \"infonce\", "
    "\"loss_mi_coefficient1\": \"1-1-1-1-1-1-1-1-1-1-1\", \"loss_mi_coefficient2\": \"0.1-0.1-0.1-0.1-0.1-0.1-0.1-0.1\", "
    "\"k_neighbor\": 2, \"cmi_last_acticate\": \"sigmoid\", \"loss\": \"MSE\", \"batch_size\": 6, \"parallel\": true}";

enum { B = 6, LT = 4, LA = 5, LV = 7, N = 20, MA = 3, K = 2 };

typedef struct {
    int64_t ids[B * LT], type[B * LT], mask[B * LT];
    double *audio, *vision, *label, *bl, *bt, *ba, *bv;
    int64_t anchors[MR_NCMI][MA];
} bbatch;

static void tiny_bert(mr_bert_config *c) {
    mr_bert_config_base(c);
    c->vocab_size = 20, c->hidden_size = 6, c->num_hidden_layers = 2, c->num_attention_heads = 2;
    c->intermediate_size = 8, c->max_position_embeddings = 8, c->type_vocab_size = 2;
}

static void build(mr_model *m, mr_model_cfg *mc) {
    mr_train_cfg tc;
    mr_model_cfg_default(mc);
    mr_train_cfg_default(&tc);
    mr_error e;
    cr_assert(mr_cfg_from_json(mc, &tc, CFG, "test config", NULL, &e) == MR_OK, "%s", e.msg);
    mc->bert = 1;
    tiny_bert(&mc->bert_cfg);
    mc->bert_chunk = 4; /* two chunks of the 6 samples, recomputed */
    cr_assert(mr_model_build(m, mc, &e) == MR_OK, "%s", e.msg);
    mr_model_init(m, 3);
    /* the estimators' ReLU kinks defeat finite differences (test_model.c):
     * tanh here; the activation is a field of each MLP */
    for (int i = 0; i < MR_NVMI; i++) m->vmi[i].g.act = m->vmi[i].h.act = m->vmi[i].f.act = m->vmi[i].bmlp.act = MR_ACT_TANH;
    for (int j = 0; j < MR_NCMI; j++) m->vcmi[j].mlp.act = MR_ACT_TANH;
    /* LayerNorm γ/β and biases away from 1/0 so that every path carries a gradient */
    gsl_rng *g = t_rng(11);
    for (size_t i = m->bert.t0; i < m->bert.t0 + m->bert.ntensors; i++)
        if (strstr(m->p.t[i].name, "LayerNorm") || strstr(m->p.t[i].name, ".bias"))
            t_fill_uniform(mr_params_val(&m->p, i), m->p.t[i].size, 0.5, 1.5, g);
    /* weights at 0.02 are nearly linear: widen them so the check sees curvature */
    for (size_t i = m->bert.t0; i < m->bert.t0 + m->bert.ntensors; i++)
        if (strstr(m->p.t[i].name, "dense.weight") || strstr(m->p.t[i].name, "self."))
            t_fill_uniform(mr_params_val(&m->p, i), m->p.t[i].size, -0.5, 0.5, g);
    gsl_rng_free(g);
}

static void make_batch(bbatch *b, gsl_rng *g) {
    for (int s = 0; s < B; s++)
        for (int t = 0; t < LT; t++) {
            int valid = t < 2 + s % 3; /* 2, 3 or 4 real tokens, then [PAD] */
            b->ids[s * LT + t] = valid ? 1 + (int64_t)gsl_rng_uniform_int(g, 19) : 0;
            b->mask[s * LT + t] = valid;
            b->type[s * LT + t] = valid && t >= 2 ? 1 : 0;
        }
    b->audio = t_alloc(B * LA * 3), b->vision = t_alloc(B * LV * 4), b->label = t_alloc(B);
    b->bl = t_alloc(N), b->bt = t_alloc(N * 8), b->ba = t_alloc(N * 8), b->bv = t_alloc(N * 8);
    t_fill_uniform(b->label, B, -3, 3, g);
    for (int s = 0; s < B; s++) {
        for (int t = 0; t < 1 + s % LA; t++) t_fill_uniform(b->audio + (s * LA + t) * 3, 3, -1, 1, g);
        for (int t = 0; t < 1 + (2 * s) % LV; t++) t_fill_uniform(b->vision + (s * LV + t) * 4, 4, -1, 1, g);
    }
    t_fill_uniform(b->bl, N, -3, 3, g);
    t_fill_uniform(b->bt, N * 8, -1, 1, g);
    t_fill_uniform(b->ba, N * 8, -1, 1, g);
    t_fill_uniform(b->bv, N * 8, -1, 1, g);
    for (int j = 0; j < MR_NCMI; j++)
        for (int a = 0; a < MA; a++) b->anchors[j][a] = (7 * j + 3 * a) % N;
}


typedef struct {
    mr_model *m;
    mr_workspace *w;
    const mr_inputs *in;
    const mr_banks *bk;
    const mr_rand *r;
    int stage;
} fctx;

static double f_stage(void *v) {
    fctx *c = v;
    mr_step st;
    mr_error e;
    cr_assert(mr_model_forward(c->m, c->in, c->bk, c->r, &st, c->w, &e) == MR_OK, "%s", e.msg);
    return c->stage == 1 ? st.loss_stage1 : st.loss_stage2;
}

Test(model_bert, stage_gradients_match_finite_differences) {
    mr_model m;
    mr_model_cfg mc;
    build(&m, &mc);
    cr_assert(m.bert.t0 == 0, "bertmodel.* registered first");
    cr_assert(m.cfg.d_t == 6);
    gsl_rng *g = t_rng(4);
    bbatch b;
    make_batch(&b, g);
    mr_inputs in = {B, LT, LA, LV, NULL, b.audio, b.vision, b.label, b.ids, b.type, b.mask};
    mr_banks bk = {N, b.bl, b.bt, b.ba, b.bv};
    mr_rand r;
    memset(&r, 0, sizeof r);
    for (int j = 0; j < MR_NCMI; j++) r.given[j] = b.anchors[j];
    mr_workspace *w;
    mr_error e;
    mr_step_dims dims = {B, LT, LA, LV, N};
    mr_model_branch_threads(2); /* branches and BERT's chunk forwards on 2 threads, whatever the cores */
    cr_assert(mr_workspace_create(&m, &dims, &w, &e) == MR_OK, "%s", e.msg);
    mr_model_branch_threads(0);
    size_t nb = m.bert.ntensors, tb = m.p.t[nb - 1].offset + m.p.t[nb - 1].size; /* BERT is [0, tb) */
    double *g1 = t_alloc(tb);
    for (int stage = 1; stage <= 2; stage++) {
        mr_step st;
        cr_assert(mr_model_forward(&m, &in, &bk, &r, &st, w, &e) == MR_OK, "%s", e.msg);
        cr_assert(st.has_mi);
        mr_params_zero_grad(&m.p);
        cr_assert(mr_model_backward(&m, w, stage, 1, &e) == MR_OK, "%s", e.msg);
        memcpy(g1, m.p.grad, tb * sizeof(double));
        /* the pooler: nothing */
        for (size_t i = nb - 2; i < nb; i++)
            for (size_t q = 0; q < m.p.t[i].size; q++) cr_assert(g1[m.p.t[i].offset + q] == 0.0, "%s", m.p.t[i].name);
        /* every other BERT tensor, along 4 random directions over all of them */
        /* all of BERT but the [PAD] row of word_embeddings, which HF's
         * padding_idx gives no gradient although [PAD] tokens use it */
        size_t H = 6;
        cr_assert(strcmp(m.p.t[0].name, "bertmodel.embeddings.word_embeddings.weight") == 0);
        for (size_t q = 0; q < H; q++) cr_assert(g1[q] == 0.0);
        mr_gc_var var = {"bertmodel.* but the [PAD] row", m.p.data + H, g1 + H, tb - H};
        fctx c = {&m, w, &in, &bk, &r, stage};
        mr_gc_result res;
        int fails = mr_gradcheck_dir(f_stage, &c, &var, 1, -1.0, 4, 100 + (unsigned long)stage, &res);
        cr_assert(fails == 0, "stage %d: %d directions fail (max ratio %g)", stage, fails, res.max_ratio);
        /* and per tensor (one direction each), so a tensor with a wrong
         * gradient cannot hide behind the large ones */
        for (size_t i = 0; i + 2 < nb; i++) {
            if (strstr(m.p.t[i].name, "key.bias")) { /* softmax is shift-invariant: exactly 0 */
                for (size_t q = 0; q < m.p.t[i].size; q++) cr_assert(fabs(g1[m.p.t[i].offset + q]) < 1e-12);
                continue;
            }
            size_t skip = i == 0 ? H : 0;
            mr_gc_var vi = {m.p.t[i].name, mr_params_val(&m.p, i) + skip, g1 + m.p.t[i].offset + skip, m.p.t[i].size - skip};
            cr_assert(mr_gradcheck_dir(f_stage, &c, &vi, 1, -1.0, 1, 200 + i, &res) == 0, "stage %d, %s: ratio %g", stage,
                      m.p.t[i].name, res.max_ratio);
        }
    }
    /* stage 1 without `full` leaves BERT alone */
    mr_step st;
    cr_assert(mr_model_forward(&m, &in, &bk, &r, &st, w, &e) == MR_OK, "%s", e.msg);
    mr_params_zero_grad(&m.p);
    cr_assert(mr_model_backward(&m, w, 1, 0, &e) == MR_OK, "%s", e.msg);
    for (size_t q = 0; q < tb; q++) cr_assert(m.p.grad[q] == 0.0);
    /* a training step (BERT's dropouts on, two chunks recomputed) allocates nothing */
    gsl_rng *drop = t_rng(9);
    mr_rand rd = r;
    rd.drop = drop;
    for (int rep = 0; rep < 2; rep++) {
        if (rep == 1) t_alloc_count_start(), t_thread_count_start();
        int rc = mr_model_forward(&m, &in, &bk, &rd, &st, w, &e);
        for (int stage = 1; stage <= 2 && !rc; stage++) rc = mr_model_backward(&m, w, stage, 1, &e);
        long n = rep == 1 ? t_alloc_count_stop() : 0, nt = rep == 1 ? t_thread_count_stop() : 0;
        cr_assert(rc == MR_OK, "%s", e.msg);
        cr_assert(n == 0, "%ld allocations in a step with BERT", n);
        cr_assert(nt == 0, "%ld threads started in a step with BERT (branches and chunk forwards on 2 threads)", nt);
    }
    gsl_rng_free(drop);
    /* frozen (all): no BERT gradient, the rest unchanged */
    mr_model_bert_freeze(&m, MR_BERT_FREEZE_ALL);
    mr_params_zero_grad(&m.p);
    cr_assert(mr_model_backward(&m, w, 2, 1, &e) == MR_OK, "%s", e.msg);
    for (size_t q = 0; q < tb; q++) cr_assert(m.p.grad[q] == 0.0);
    mr_workspace_free(w);
    gsl_rng_free(g);
    mr_model_free(&m);
}

static void write_batch(const char *path, const bbatch *b, const int64_t *nbr /* [MR_NCMI][MA·K] or NULL */) {
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, path, 0, &e) == MR_OK);
    uint64_t si[2] = {B, LT}, sa[3] = {B, LA, 3}, sv[3] = {B, LV, 4}, sl[1] = {B}, sn[2] = {MA, K};
    mr_npz_add(&w, "bert_ids", MR_DT_I8, 2, si, b->ids, &e);
    mr_npz_add(&w, "bert_type_ids", MR_DT_I8, 2, si, b->type, &e);
    mr_npz_add(&w, "bert_att_mask", MR_DT_I8, 2, si, b->mask, &e);
    mr_npz_add(&w, "audio", MR_DT_F8, 3, sa, b->audio, &e);
    mr_npz_add(&w, "vision", MR_DT_F8, 3, sv, b->vision, &e);
    mr_npz_add(&w, "label", MR_DT_F8, 1, sl, b->label, &e);
    t_npz_add_banks(&w, N, 8, b->bl, b->bt, b->ba, b->bv, &b->anchors[0][0], MA);
    for (int j = 0; nbr && j < MR_NCMI; j++) {
        char n[64];
        snprintf(n, sizeof n, "neighbors_%s", mr_cmi_names[j]);
        mr_npz_add(&w, n, MR_DT_I8, 2, sn, nbr + j * MA * K, &e);
    }
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
}

Test(model_bert, oracle_file_contract_and_injected_neighbors) {
    mr_model m;
    mr_model_cfg mc;
    build(&m, &mc);
    char ck[512], bp[512], bp2[512], op[512], op2[512];
    t_path(ck, sizeof ck, "bert_ckpt.npz");
    t_path(bp, sizeof bp, "bert_batch.npz");
    t_path(bp2, sizeof bp2, "bert_batch_nb.npz");
    t_path(op, sizeof op, "bert_out.npz");
    t_path(op2, sizeof op2, "bert_out_nb.npz");
    mr_error e;
    cr_assert(mr_model_save(&m, ck, CFG, 0, &e) == MR_OK, "%s", e.msg);
    gsl_rng *g = t_rng(5);
    bbatch b;
    make_batch(&b, g);
    write_batch(bp, &b, NULL);
    char args[2048], out[8192];
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", ck, bp, op);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    /* in-process: the checkpoint round trip rebuilt the same BERT model */
    mr_model m2;
    mr_model_cfg mc2;
    mr_train_cfg tc2;
    cr_assert(mr_model_from_checkpoint(&m2, &mc2, &tc2, ck, &e) == MR_OK, "%s", e.msg);
    cr_assert(m2.cfg.bert && m2.p.n == m.p.n && m2.cfg.bert_cfg.num_attention_heads == 2 && m2.cfg.d_t == 6);
    mr_oracle_batch ob;
    memset(&ob, 0, sizeof ob);
    uint64_t si[2] = {B, LT};
    ob.bert_ids = (mr_oracle_iarr){2, {B, LT, 0}, b.ids};
    ob.bert_type_ids = (mr_oracle_iarr){2, {B, LT, 0}, b.type};
    ob.bert_att_mask = (mr_oracle_iarr){2, {B, LT, 0}, b.mask};
    (void)si;
    ob.audio = (mr_oracle_arr){3, {B, LA, 3}, b.audio};
    ob.vision = (mr_oracle_arr){3, {B, LV, 4}, b.vision};
    ob.label = (mr_oracle_arr){1, {B, 0, 0}, b.label};
    ob.bank_label = (mr_oracle_arr){2, {N, 1, 0}, b.bl};
    ob.bank_text = (mr_oracle_arr){2, {N, 8, 0}, b.bt};
    ob.bank_audio = (mr_oracle_arr){2, {N, 8, 0}, b.ba};
    ob.bank_vision = (mr_oracle_arr){2, {N, 8, 0}, b.bv};
    for (int j = 0; j < MR_NCMI; j++) ob.anchors[j] = b.anchors[j], ob.n_anchors[j] = MA;
    mr_oracle_result res;
    cr_assert(mr_oracle_run(&m2, &ob, "in-process", NULL, &res, &e) == MR_OK, "%s", e.msg);
    mr_npz z;
    cr_assert(mr_npz_open(&z, op, &e) == MR_OK);
    double *buf = t_alloc(m2.p.total);
    size_t nonzero = 0;
    for (size_t i = 0; i < res.n; i++) {
        const mr_oracle_tensor *t = &res.t[i];
        if (!t->in_out || t->dtype != MR_DT_F8) continue;
        t_npz_copy(&z, t->name, buf, t->count);
        cr_assert(memcmp(buf, t->data, t->count * sizeof(double)) == 0, "%s", t->name);
        if (strncmp(t->name, "grad_stage2/bertmodel.", 22) == 0)
            for (size_t q = 0; q < t->count; q++) nonzero += buf[q] != 0.0;
    }
    cr_assert(nonzero > 0);
    cr_assert(mr_oracle_find(&res, "grad_stage1/bertmodel.encoder.layer.1.output.dense.weight") != NULL);
    t_npz_copy(&z, "grad_stage2/bertmodel.pooler.dense.weight", buf, 36);
    for (int q = 0; q < 36; q++) cr_assert(buf[q] == 0.0);
    mr_npz_close(&z);
    /* injected neighbour lists: the step's own, fed back, give the same bits;
     * other rows are used as given */
    int64_t nbr[MR_NCMI * MA * K];
    for (int j = 0; j < MR_NCMI; j++) memcpy(nbr + j * MA * K, res.st.neighbors[j], MA * K * sizeof(int64_t));
    double loss2 = res.st.loss_stage2;
    write_batch(bp2, &b, nbr);
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", ck, bp2, op2);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(mr_npz_open(&z, op2, &e) == MR_OK);
    t_npz_copy(&z, "loss_stage2", buf, 1);
    cr_assert(buf[0] == loss2);
    mr_npz_close(&z);
    for (int q = 0; q < MR_NCMI * MA * K; q++) nbr[q] = (5 * q + 1) % N;
    for (int j = 0; j < MR_NCMI; j++) ob.neighbors[j] = (mr_oracle_iarr){2, {MA, K, 0}, nbr + j * MA * K};
    mr_oracle_result_free(&res);
    cr_assert(mr_oracle_run(&m2, &ob, "in-process", NULL, &res, &e) == MR_OK, "%s", e.msg);
    for (int j = 0; j < MR_NCMI; j++) cr_assert(memcmp(res.st.neighbors[j], nbr + j * MA * K, MA * K * sizeof(int64_t)) == 0);
    cr_assert(res.st.loss_stage2 != loss2);
    mr_oracle_result_free(&res);
    /* out of range, wrong shape: clear errors */
    nbr[4] = N;
    cr_assert(mr_oracle_run(&m2, &ob, "batch.npz", NULL, &res, &e) == MR_EINVAL && strstr(e.msg, "neighbors_ac_t") &&
                  strstr(e.msg, "entry 4"),
              "%s", e.msg);
    mr_oracle_result_free(&res);
    nbr[4] = 0;
    ob.neighbors[2].shape[1] = 1;
    cr_assert(mr_oracle_run(&m2, &ob, "batch.npz", NULL, &res, &e) == MR_ESHAPE && strstr(e.msg, "neighbors_vc_t"), "%s", e.msg);
    mr_oracle_result_free(&res);
    /* text given to a BERT checkpoint */
    ob.neighbors[2].shape[1] = K;
    ob.text = (mr_oracle_arr){3, {B, LT, 6}, b.audio};
    cr_assert(mr_oracle_run(&m2, &ob, "batch.npz", NULL, &res, &e) == MR_EINVAL && strstr(e.msg, "'bert_ids'"), "%s", e.msg);
    mr_oracle_result_free(&res);
    gsl_rng_free(g);
    mr_model_free(&m);
    mr_model_free(&m2);
}

/* The evaluation forward with BERT: the training forward's step without
 * dropout bit for bit (outputs, features, terms, losses), on the training
 * workspace and on an evaluation-only one, for chunk activations kept or
 * recomputed, 1 or 2 threads, 2 or 3 chunks; it allocates nothing and
 * starts no thread, the evaluation-only workspace is smaller, a backward
 * after it is refused, and a training step after it gives the same
 * gradients as one before it (no chunk slot is mistaken for its own). */
Test(model_bert, eval_forward_matches_training_forward_bit_for_bit) {
    gsl_rng *g = t_rng(4);
    bbatch b;
    make_batch(&b, g);
    mr_inputs in = {B, LT, LA, LV, NULL, b.audio, b.vision, b.label, b.ids, b.type, b.mask};
    mr_banks bk = {N, b.bl, b.bt, b.ba, b.bv};
    mr_rand r;
    memset(&r, 0, sizeof r);
    for (int j = 0; j < MR_NCMI; j++) r.given[j] = b.anchors[j];
    gsl_rng *drop = t_rng(9);
    mr_rand rd = r;
    rd.drop = drop;
    for (int keep = 0; keep <= 1; keep++)
        for (int threads = 1; threads <= 2; threads++)
            for (size_t chunk = 2; chunk <= 4; chunk += 2) {
                mr_model m;
                mr_model_cfg mc;
                build(&m, &mc);
                m.cfg.bert_keep = keep, m.cfg.bert_chunk = chunk;
                mr_workspace *w, *ev;
                mr_error e;
                mr_step_dims dims = {B, LT, LA, LV, N};
                mr_model_branch_threads(threads);
                cr_assert(mr_workspace_create(&m, &dims, &w, &e) == MR_OK, "%s", e.msg);
                cr_assert(mr_workspace_create_eval(&m, &dims, &ev, &e) == MR_OK, "%s", e.msg);
                mr_model_branch_threads(0);
                cr_assert(mr_workspace_bytes(ev) < mr_workspace_bytes(w), "keep %d: eval-only %zu bytes, training %zu", keep,
                          mr_workspace_bytes(ev), mr_workspace_bytes(w));
                mr_step st;
                double ref[B + 4 * B * 8 + 2 * MR_NMI + MR_NMI + 2 * MR_NDERIVED + 3], got[sizeof ref / sizeof ref[0]];
#define COPY(dst)                                                                                                          \
    do {                                                                                                                   \
        double *q_ = (dst);                                                                                                \
        memcpy(q_, st.output, B * sizeof(double)), q_ += B;                                                                \
        const double *F_[4] = {st.F_F, st.T_F, st.A_F, st.V_F};                                                            \
        for (int k_ = 0; k_ < 4; k_++) memcpy(q_, F_[k_], B * 8 * sizeof(double)), q_ += B * 8;                            \
        memcpy(q_, st.mi, sizeof st.mi), q_ += MR_NMI;                                                                     \
        memcpy(q_, st.mi_nats, sizeof st.mi_nats), q_ += MR_NMI;                                                           \
        memcpy(q_, st.stage1_terms, sizeof st.stage1_terms), q_ += MR_NMI;                                                 \
        memcpy(q_, st.derived, sizeof st.derived), q_ += MR_NDERIVED;                                                      \
        memcpy(q_, st.derived_nats, sizeof st.derived_nats), q_ += MR_NDERIVED;                                            \
        q_[0] = st.loss_task, q_[1] = st.loss_stage1, q_[2] = st.loss_stage2;                                              \
    } while (0)
                cr_assert(mr_model_forward(&m, &in, &bk, &r, &st, w, &e) == MR_OK, "%s", e.msg);
                COPY(ref);
                /* a training step's gradients, to compare with one after the eval forwards */
                gsl_rng_set(drop, 9);
                cr_assert(mr_model_forward(&m, &in, &bk, &rd, &st, w, &e) == MR_OK, "%s", e.msg);
                mr_params_zero_grad(&m.p);
                cr_assert(mr_model_backward(&m, w, 2, 1, &e) == MR_OK, "%s", e.msg);
                double *g0 = t_alloc(m.p.total);
                memcpy(g0, m.p.grad, m.p.total * sizeof(double));
                for (int where = 0; where < 2; where++) {
                    mr_workspace *x = where ? ev : w;
                    for (int rep = 0; rep < 2; rep++) {
                        if (rep == 1) t_alloc_count_start(), t_thread_count_start();
                        int rc = mr_model_forward_eval(&m, &in, &bk, &rd, &st, x, &e);
                        long n = rep == 1 ? t_alloc_count_stop() : 0, nt = rep == 1 ? t_thread_count_stop() : 0;
                        cr_assert(rc == MR_OK, "%s", e.msg);
                        cr_assert(n == 0 && nt == 0, "%ld allocations, %ld threads in an eval forward with BERT", n, nt);
                    }
                    COPY(got);
                    cr_assert(memcmp(ref, got, sizeof ref) == 0, "keep %d, %d threads, chunk %zu, %s workspace: eval forward differs", keep,
                              threads, chunk, where ? "eval-only" : "training");
                    mr_params_zero_grad(&m.p);
                    cr_assert(mr_model_backward(&m, x, 2, 1, &e) == MR_EINVAL, "backward after an eval forward must be refused");
                    for (size_t i = 0; i < m.p.total; i++) cr_assert(m.p.grad[i] == 0.0);
                }
                /* the same dropout stream again: the same training step as before the eval forwards */
                gsl_rng_set(drop, 9);
                cr_assert(mr_model_forward(&m, &in, &bk, &rd, &st, w, &e) == MR_OK, "%s", e.msg);
                mr_params_zero_grad(&m.p);
                cr_assert(mr_model_backward(&m, w, 2, 1, &e) == MR_OK, "%s", e.msg);
                cr_assert(memcmp(g0, m.p.grad, m.p.total * sizeof(double)) == 0, "keep %d, %d threads, chunk %zu: gradients after eval forwards differ",
                          keep, threads, chunk);
#undef COPY
                mr_workspace_free(ev);
                mr_workspace_free(w);
                mr_model_free(&m);
            }
    gsl_rng_free(drop);
    gsl_rng_free(g);
}
