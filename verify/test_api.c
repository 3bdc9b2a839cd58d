/* test_api.c — the public C API (include/mimrl/mimrl.h, ref/api/mimrl.c):
 * a handle loaded from a checkpoint, or created from a config and given its
 * parameters by name, runs the same step as `mimrl oracle` — every OUT.npz
 * member bit for bit, and mimrl_write_out byte for byte; anchors drawn from
 * the seeded stream are reproducible and, given back, give the same step;
 * handles on different threads agree with sequential runs; errors name the
 * parameter or input. The problems come from the cross-check fixtures
 * (config, generated parameters, batch). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "mimrl/mimrl.h"
#include "ref/bert/bert_config.h"
#include "ref/core/npz.h"
#include "ref/train/config.h"
#include "ref/model/model.h"
#include "verify/helpers.h"

#define FX "verify/fixtures/crosscheck/"

/* A fixture written out as the two files of `mimrl oracle`, with the batch
 * kept in memory as the API's inputs. */
typedef struct {
    char ckpt[512], batch[512], out[512];
    char *json;
    mr_model m;
    size_t nin;
    char name[32][64];
    mr_array a[32];
    double *v[32];
    int64_t *anchors[32];
    const int64_t *ints[32]; /* int64 members other than anchors (bert_ids, …, neighbors_*): into a[k] */
} problem;

static void problem_load(problem *p, const char *fixture, const char *tag) {
    memset(p, 0, sizeof *p);
    mr_npz z;
    mr_error e;
    cr_assert(mr_npz_open(&z, fixture, &e) == MR_OK, "%s", e.msg);
    mr_array cj;
    cr_assert(mr_npz_read(&z, "config_json", &cj, &e) == MR_OK, "%s", e.msg);
    p->json = calloc(cj.count + 1, 1);
    memcpy(p->json, cj.data, cj.count);
    mr_array_free(&cj);
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    cr_assert(mr_cfg_from_json(&mc, &tc, p->json, fixture, NULL, &e) == MR_OK, "%s", e.msg);
    if (mr_npz_find(&z, "bert_config_json") >= 0) { /* a BERT text branch, as mr_model_from_checkpoint */
        mr_array bj;
        cr_assert(mr_npz_read(&z, "bert_config_json", &bj, &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_bert_config_parse_json((const char *)bj.data, (size_t)bj.count, fixture, &mc.bert_cfg, &e) == MR_OK, "%s", e.msg);
        mr_array_free(&bj);
        mc.bert = 1, mc.d_t = mc.bert_cfg.hidden_size;
    }
    cr_assert(mr_model_build(&p->m, &mc, &e) == MR_OK, "%s", e.msg);
    mr_array s, g;
    cr_assert(mr_npz_read(&z, "param_seed", &s, &e) == MR_OK && mr_npz_read(&z, "param_gain", &g, &e) == MR_OK);
    double sd, gn;
    mr_array_to_f64(&s, &sd), mr_array_to_f64(&g, &gn);
    mr_array_free(&s), mr_array_free(&g);
    t_gen_params(&p->m.p, (uint64_t)sd, gn);
    char n[600];
    snprintf(n, sizeof n, "%s_ckpt.npz", tag), t_path(p->ckpt, sizeof p->ckpt, n);
    snprintf(n, sizeof n, "%s_batch.npz", tag), t_path(p->batch, sizeof p->batch, n);
    snprintf(n, sizeof n, "%s_out.npz", tag), t_path(p->out, sizeof p->out, n);
    cr_assert(mr_model_save(&p->m, p->ckpt, p->json, 0, &e) == MR_OK, "%s", e.msg); /* + bert_config_json with BERT */
    mr_npz_writer w;
    cr_assert(mr_npz_writer_open(&w, p->batch, 0, &e) == MR_OK);
    for (size_t i = 0; i < z.n; i++) {
        if (strncmp(z.m[i].name, "batch/", 6) != 0) continue;
        cr_assert(p->nin < 32);
        size_t k = p->nin++;
        snprintf(p->name[k], sizeof p->name[k], "%s", z.m[i].name + 6);
        cr_assert(mr_npz_read_index(&z, i, &p->a[k], &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_npz_add(&w, p->name[k], p->a[k].dtype, p->a[k].ndim, p->a[k].shape, p->a[k].data, &e) == MR_OK, "%s", e.msg);
        p->v[k] = malloc((size_t)p->a[k].count * sizeof(double) + 8);
        mr_array_to_f64(&p->a[k], p->v[k]);
        if (p->a[k].dtype == MR_DT_I8 && strncmp(p->name[k], "anchors_", 8) != 0)
            p->ints[k] = (const int64_t *)p->a[k].data; /* bert_*, neighbors_* */
        if (strncmp(p->name[k], "anchors_", 8) == 0) {
            p->anchors[k] = malloc((size_t)p->a[k].count * sizeof(int64_t) + 8);
            for (uint64_t q = 0; q < p->a[k].count; q++) p->anchors[k][q] = (int64_t)p->v[k][q];
        }
    }
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    mr_npz_close(&z);
}

static void problem_free(problem *p) {
    for (size_t k = 0; k < p->nin; k++) mr_array_free(&p->a[k]), free(p->v[k]), free(p->anchors[k]);
    free(p->json);
    mr_model_free(&p->m);
}

/* every batch member as an input (anchors too unless skip_anchors) */
static void give_inputs(mimrl_model *h, const problem *p, int skip_anchors) {
    mimrl_error e;
    for (size_t k = 0; k < p->nin; k++) {
        if (p->anchors[k]) {
            if (!skip_anchors)
                cr_assert(mimrl_set_anchors(h, p->name[k], (size_t)p->a[k].count, p->anchors[k], &e) == MIMRL_OK, "%s", e.msg);
            continue;
        }
        size_t sh[4];
        for (int d = 0; d < p->a[k].ndim; d++) sh[d] = (size_t)p->a[k].shape[d];
        if (p->ints[k])
            cr_assert(mimrl_set_input_i64(h, p->name[k], p->a[k].ndim, sh, p->ints[k], &e) == MIMRL_OK, "%s", e.msg);
        else
            cr_assert(mimrl_set_input(h, p->name[k], p->a[k].ndim, sh, p->v[k], &e) == MIMRL_OK, "%s", e.msg);
    }
}

/* every member of OUT.npz equals the handle's output of that name, bit for
 * bit, and the handle lists no other OUT.npz tensor */
static void same_as_file(const mimrl_model *h, const char *out) {
    mr_npz z;
    mr_error e;
    mimrl_error me;
    cr_assert(mr_npz_open(&z, out, &e) == MR_OK, "%s", e.msg);
    size_t listed = 0;
    for (size_t i = 0; i < mimrl_output_count(h); i++) {
        mimrl_tensor t;
        cr_assert(mimrl_output_at(h, i, &t, &me) == MIMRL_OK);
        listed += t.in_out_npz;
    }
    cr_assert(listed == z.n, "the API lists %zu OUT.npz tensors, the file has %zu", listed, z.n);
    for (size_t i = 0; i < z.n; i++) {
        mr_array a;
        cr_assert(mr_npz_read_index(&z, i, &a, &e) == MR_OK);
        mimrl_tensor t;
        cr_assert(mimrl_output(h, z.m[i].name, &t, &me) == MIMRL_OK, "%s", me.msg);
        cr_assert(t.in_out_npz && (int)a.dtype == t.dtype && a.ndim == t.ndim && a.count == t.count, "%s: dtype/shape differ", t.name);
        for (int d = 0; d < a.ndim; d++) cr_assert(a.shape[d] == t.shape[d], "%s", t.name);
        cr_assert(memcmp(a.data, t.data, t.count * 8) == 0, "%s differs from OUT.npz", t.name);
        mr_array_free(&a);
    }
    mr_npz_close(&z);
}

static void run_cli(const problem *p) {
    char args[2048], out[8192];
    snprintf(args, sizeof args, "oracle --checkpoint %s --batch %s --out %s", p->ckpt, p->batch, p->out);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    unsigned char *x = t_read_file(a, &na), *y = t_read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

Test(api, loaded_model_matches_mimrl_oracle_bit_for_bit) {
    const char *fx[2] = {FX "gru-infonce-separate.npz", FX "gru-epoch0-nobanks.npz"};
    for (int f = 0; f < 2; f++) {
        problem p;
        problem_load(&p, fx[f], f ? "load_nobanks" : "load");
        run_cli(&p);
        mimrl_model *h;
        mimrl_error e;
        cr_assert(mimrl_model_load(&h, p.ckpt, &e) == MIMRL_OK, "%s", e.msg);
        cr_assert(mimrl_output_count(h) == 0);
        give_inputs(h, &p, 0);
        cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
        same_as_file(h, p.out);
        mimrl_tensor t;
        cr_assert((mimrl_output(h, "neighbors_ac_t", &t, &e) == MIMRL_OK) == (f == 0), "neighbour lists exactly when banks are given");
        char mine[600];
        snprintf(mine, sizeof mine, "%s.api.npz", p.out);
        cr_assert(mimrl_write_out(h, mine, &e) == MIMRL_OK, "%s", e.msg);
        cr_assert(same_file(mine, p.out), "mimrl_write_out and mimrl oracle wrote different bytes");
        /* a second step on the same inputs gives the same bits */
        cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
        same_as_file(h, p.out);
        mimrl_model_free(h);
        problem_free(&p);
    }
}

Test(api, created_model_with_parameters_by_name) {
    problem p;
    problem_load(&p, FX "lstm-nwj-concat-hardtanh-preln.npz", "create");
    run_cli(&p);
    mimrl_model *h;
    mimrl_error e;
    cr_assert(mimrl_model_create(&h, p.json, &e) == MIMRL_OK, "%s", e.msg);
    cr_assert(mimrl_param_count(h) == p.m.p.n);
    give_inputs(h, &p, 0);
    /* nothing set yet: the step names what is missing */
    cr_assert(mimrl_step(h, &e) == MIMRL_ENOTFOUND);
    cr_assert(strstr(e.msg, "never set") && strstr(e.msg, p.m.p.t[0].name), "%s", e.msg);
    for (size_t i = 0; i < mimrl_param_count(h); i++) {
        size_t sh[MIMRL_MAXDIM];
        int nd = mimrl_param_shape(h, i, sh);
        const char *name = mimrl_param_name(h, i);
        cr_assert(strcmp(name, p.m.p.t[i].name) == 0 && nd == p.m.p.t[i].ndim);
        cr_assert(mimrl_param_set(h, name, nd, sh, p.m.p.data + p.m.p.t[i].offset, &e) == MIMRL_OK, "%s", e.msg);
        if (i == 0) {
            char q0[300], q1[300];
            snprintf(q0, sizeof q0, "'%s'", p.m.p.t[0].name), snprintf(q1, sizeof q1, "'%s'", p.m.p.t[1].name);
            cr_assert(mimrl_step(h, &e) == MIMRL_ENOTFOUND && strstr(e.msg, q1) && !strstr(e.msg, q0), "%s", e.msg);
        }
    }
    /* a wrong shape, an unknown name, a NaN are refused and named */
    size_t bad[2] = {3, 3};
    double nine[9] = {0};
    cr_assert(mimrl_param_set(h, "W_t.weight", 2, bad, nine, &e) == MIMRL_ESHAPE && strstr(e.msg, "'W_t.weight'"), "%s", e.msg);
    cr_assert(mimrl_param_set(h, "bert.embeddings", 2, bad, nine, &e) == MIMRL_ENOTFOUND && strstr(e.msg, "'bert.embeddings'"), "%s", e.msg);
    size_t cnt;
    const double *wt = mimrl_param_get(h, "W_t.weight", &cnt);
    cr_assert(wt && cnt == p.m.p.t[mr_params_find(&p.m.p, "W_t.weight")].size);
    cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
    same_as_file(h, p.out);
    cr_assert(strstr(mimrl_model_config(h), "\"encoders\"") != NULL, "%s", mimrl_model_config(h));
    mimrl_model_free(h);
    problem_free(&p);
}

Test(api, drawn_anchors_are_seeded_and_replayable) {
    problem p;
    problem_load(&p, FX "gru-dv-elu.npz", "draw");
    mimrl_model *h, *g;
    mimrl_error e;
    cr_assert(mimrl_model_load(&h, p.ckpt, &e) == MIMRL_OK, "%s", e.msg);
    cr_assert(mimrl_model_load(&g, p.ckpt, &e) == MIMRL_OK, "%s", e.msg);
    give_inputs(h, &p, 1);
    mimrl_set_anchor_seed(h, 11);
    cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
    mimrl_tensor a1, a2, l1, l2;
    cr_assert(mimrl_output(h, "anchors_tc_v", &a1, &e) == MIMRL_OK && !a1.in_out_npz && a1.dtype == MIMRL_I64, "%s", e.msg);
    int64_t keep[6][64];
    size_t m = a1.count;
    cr_assert(m <= 64);
    for (int j = 0; j < 6; j++) {
        char n[64];
        snprintf(n, sizeof n, "anchors_%s", mr_cmi_names[j]);
        cr_assert(mimrl_output(h, n, &a1, &e) == MIMRL_OK);
        memcpy(keep[j], a1.data, m * sizeof(int64_t));
    }
    cr_assert(mimrl_output(h, "loss_stage1", &l1, &e) == MIMRL_OK);
    double loss1 = *(const double *)l1.data;
    /* the same seed again: the same anchors */
    cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
    cr_assert(mimrl_output(h, "anchors_ac_t", &a2, &e) == MIMRL_OK && memcmp(a2.data, keep[0], m * sizeof(int64_t)) == 0);
    /* those anchors given to another handle: the same step */
    give_inputs(g, &p, 1);
    for (int j = 0; j < 6; j++) {
        char n[64];
        snprintf(n, sizeof n, "anchors_%s", mr_cmi_names[j]);
        cr_assert(mimrl_set_anchors(g, n, m, keep[j], &e) == MIMRL_OK);
    }
    cr_assert(mimrl_step(g, &e) == MIMRL_OK, "%s", e.msg);
    cr_assert(mimrl_output(g, "loss_stage1", &l2, &e) == MIMRL_OK && *(const double *)l2.data == loss1);
    char o1[600], o2[600];
    snprintf(o1, sizeof o1, "%s.h.npz", p.out), snprintf(o2, sizeof o2, "%s.g.npz", p.out);
    cr_assert(mimrl_write_out(h, o1, &e) == MIMRL_OK && mimrl_write_out(g, o2, &e) == MIMRL_OK);
    cr_assert(same_file(o1, o2), "given anchors and drawn ones gave different steps");
    mimrl_model_free(h);
    mimrl_model_free(g);
    problem_free(&p);
}

typedef struct {
    const problem *p;
    int reps;
    char out[600];
    int rc;
    char msg[sizeof(mimrl_error)];
} job;

static void *worker(void *arg) {
    job *j = arg;
    mimrl_model *h;
    mimrl_error e;
    j->rc = mimrl_model_load(&h, j->p->ckpt, &e);
    for (int r = 0; r < j->reps && !j->rc; r++) {
        give_inputs(h, j->p, 0);
        j->rc = mimrl_step(h, &e);
    }
    if (!j->rc) j->rc = mimrl_write_out(h, j->out, &e);
    if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", e.msg);
    mimrl_model_free(h);
    return NULL;
}

Test(api, handles_on_different_threads_agree_with_sequential_runs) {
    problem p[2];
    problem_load(&p[0], FX "gru-smile-clip5.npz", "thr0");
    problem_load(&p[1], FX "conv-tuba-unnormalized.npz", "thr1");
    run_cli(&p[0]), run_cli(&p[1]);
    job j[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        memset(&j[k], 0, sizeof j[k]);
        j[k].p = &p[k % 2], j[k].reps = 2;
        snprintf(j[k].out, sizeof j[k].out, "%s.thread%d.npz", p[k % 2].out, k);
        cr_assert(pthread_create(&th[k], NULL, worker, &j[k]) == 0);
    }
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 4; k++) {
        cr_assert(j[k].rc == 0, "thread %d: %s", k, j[k].msg);
        cr_assert(same_file(j[k].out, p[k % 2].out), "thread %d differs from mimrl oracle", k);
    }
    problem_free(&p[0]), problem_free(&p[1]);
}

Test(api, errors_name_the_input) {
    problem p;
    problem_load(&p, FX "gru-infonce-separate.npz", "err");
    mimrl_model *h;
    mimrl_error e;
    cr_assert(mimrl_model_load(&h, "/nonexistent/ckpt.npz", &e) != MIMRL_OK && h == NULL && strstr(e.msg, "/nonexistent/ckpt.npz"), "%s", e.msg);
    cr_assert(mimrl_model_create(&h, "{\"encoders\": \"transformer\"}", &e) != MIMRL_OK && strstr(e.msg, "encoders"), "%s", e.msg);
    cr_assert(mimrl_model_load(&h, p.ckpt, &e) == MIMRL_OK, "%s", e.msg);
    mimrl_tensor t;
    cr_assert(mimrl_output(h, "output", &t, &e) == MIMRL_ENOTFOUND);
    size_t sh[3] = {2, 2, 2};
    cr_assert(mimrl_set_input(h, "txt", 3, sh, p.v[0], &e) == MIMRL_ENOTFOUND && strstr(e.msg, "'txt'"), "%s", e.msg);
    cr_assert(mimrl_set_anchors(h, "anchors_xx", 1, p.anchors[0], &e) == MIMRL_ENOTFOUND, "%s", e.msg);
    give_inputs(h, &p, 0);
    cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
    cr_assert(mimrl_output_count(h) > 0);
    cr_assert(mimrl_output(h, "grad_stage2/nope", &t, &e) == MIMRL_ENOTFOUND && strstr(e.msg, "grad_stage2/nope"));
    /* audio one feature too wide: refused, named, and the old results dropped */
    size_t k = 0;
    while (strcmp(p.name[k], "audio") != 0) k++;
    size_t bad[3] = {(size_t)p.a[k].shape[0], (size_t)p.a[k].shape[1] / 2, (size_t)p.a[k].shape[2] * 2};
    cr_assert(mimrl_set_input(h, "audio", 3, bad, p.v[k], &e) == MIMRL_OK);
    cr_assert(mimrl_step(h, &e) == MIMRL_ESHAPE && strstr(e.msg, "'audio'"), "%s", e.msg);
    cr_assert(mimrl_output_count(h) == 0);
    /* an anchor outside the banks */
    give_inputs(h, &p, 0);
    int64_t far[64];
    size_t m = 0;
    for (size_t q = 0; q < p.nin; q++)
        if (p.anchors[q]) m = (size_t)p.a[q].count;
    for (size_t q = 0; q < m; q++) far[q] = 1000000;
    cr_assert(mimrl_set_anchors(h, "anchors_tv_c", m, far, &e) == MIMRL_OK);
    cr_assert(mimrl_step(h, &e) == MIMRL_EINVAL && strstr(e.msg, "anchors_tv_c"), "%s", e.msg);
    mimrl_clear_inputs(h);
    cr_assert(mimrl_step(h, &e) == MIMRL_ENOTFOUND && strstr(e.msg, "'text'"), "%s", e.msg);
    cr_assert(strcmp(mimrl_strerror(MIMRL_ESHAPE), "") != 0 && strcmp(mimrl_version(), MIMRL_VERSION_STRING) == 0);
    mimrl_model_free(h);
    problem_free(&p);
}


static void python_binding_on(const char *fixture, const char *tag) {
    const char *py = t_python();
    if (!py) cr_skip_test(T_NO_PYTHON);
    const char *variant = getenv("MIMRL_VARIANT");
    if (variant && strncmp(variant, "debug", 5) == 0) cr_skip_test("sanitizer build (%s): Python cannot load its library", variant);
    char lib[4096];
    if (!t_shared_lib(lib, sizeof lib)) cr_skip_test("%s not built (make shared; make test builds it)", lib);
    problem p;
    problem_load(&p, fixture, tag);
    run_cli(&p);
    char cmd[16384], out[16384];
    snprintf(cmd, sizeof cmd, "MIMRL_LIB='%s' '%s' verify/python/test_mimrl_ref.py '%s' '%s' '%s' 2>&1", lib, py, p.ckpt, p.batch, p.out);
    FILE *f = popen(cmd, "r");
    cr_assert(f != NULL);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    int st = pclose(f);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "python binding: ok"), "%s\n%s", cmd, out);
    problem_free(&p);
}

Test(api, python_binding_is_bit_identical_to_mimrl_oracle, .timeout = 300) {
    python_binding_on(FX "gru-jsfgan-nwjreadout-maskedpool.npz", "py");
}

Test(api, python_binding_with_bert_ids_and_neighbors, .timeout = 300) {
    python_binding_on(FX "bert-small-neighbors.npz", "pybert");
}

Test(api, python_binding_without_banks, .timeout = 300) {
    python_binding_on(FX "gru-epoch0-nobanks.npz", "py_nobanks");
}

/* A checkpoint with a BERT text branch through the API (bert_ids,
 * bert_type_ids, bert_att_mask and injected neighbors_<name> as int64
 * inputs): every OUT.npz tensor of `mimrl oracle` on the same files, bit for
 * bit, the grad_stage1/2 bertmodel.* tensors included; text instead of ids and a
 * misnamed or mis-ranked int64 input are refused, naming it. */
Test(api, bert_checkpoint_with_ids_and_neighbors_equals_the_oracle) {
    problem p;
    problem_load(&p, FX "bert-small-neighbors.npz", "bert");
    run_cli(&p);
    mimrl_model *h;
    mimrl_error e;
    cr_assert(mimrl_model_load(&h, p.ckpt, &e) == MIMRL_OK, "%s", e.msg);
    give_inputs(h, &p, 0);
    cr_assert(mimrl_step(h, &e) == MIMRL_OK, "%s", e.msg);
    same_as_file(h, p.out);
    mimrl_tensor t;
    cr_assert(mimrl_output(h, "grad_stage2/bertmodel.embeddings.word_embeddings.weight", &t, &e) == MIMRL_OK, "%s", e.msg);
    size_t sh[2] = {2, 3};
    int64_t x[6] = {0};
    cr_assert(mimrl_set_input_i64(h, "bert_idz", 2, sh, x, &e) == MIMRL_ENOTFOUND && strstr(e.msg, "bert_idz"), "%s", e.msg);
    cr_assert(mimrl_set_input_i64(h, "neighbors_tc_v", 1, sh, x, &e) == MIMRL_ESHAPE && strstr(e.msg, "neighbors_tc_v"), "%s", e.msg);
    /* features instead of ids: the step names what a BERT model needs */
    mimrl_clear_inputs(h);
    double feat[2 * 3 * 16] = {0};
    size_t st[3] = {2, 3, 16};
    cr_assert(mimrl_set_input(h, "text", 3, st, feat, &e) == MIMRL_OK);
    cr_assert(mimrl_step(h, &e) != MIMRL_OK && strstr(e.msg, "bert_ids"), "%s", e.msg);
    mimrl_model_free(h);
    problem_free(&p);
}
