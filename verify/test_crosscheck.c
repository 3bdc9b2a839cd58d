/* test_crosscheck.c — the whole MIMRL step against the independent PyTorch
 * float64 implementation (verify/torch/mimrl_torch.py), without Python: the
 * fixtures in verify/fixtures/crosscheck/ were written by
 * `make crosscheck-fixtures` (verify/torch/crosscheck.py --fixtures).
 *
 * Each fixture holds a configuration (config_json), the seed and gain of the
 * name-keyed parameter generator (t_gen_params; same definition in
 * crosscheck.py), a batch with banks and anchors, and PyTorch's results:
 * every forward output, estimate and loss in full, the k-NN neighbour lists,
 * and per gradient tensor either every entry (≤ 64) or 64 evenly spaced
 * entries, with the tensor's largest magnitude and its projection on
 * generator weights r (Σ g·r) — the projection covers the entries the sample
 * skips.
 * A BERT fixture also holds bert_config_json (the HF config.json of its
 * sizes, as a checkpoint does), and its batch has bert_ids, bert_type_ids
 * and bert_att_mask instead of text; batch/neighbors_<name>, when present,
 * replace the k-NN search (mr_rand.given_nb).
 *
 * Tolerance (the crosscheck's, written down in crosscheck.py): per tensor
 *   rel = max|c − t| / max(max|t|, 1e-4 · largest magnitude of its group)
 * with groups forward outputs / stage-1 gradients / stage-2 gradients, and
 * rel ≤ tol/<tensor> from the fixture = max(1e-10, PyTorch's own
 * disagreement between two evaluation orders of that tensor). A projection
 * over n entries that each agree within δ agrees within δ·Σ|r|, which is
 * what the projection is held to. Neighbour lists must be equal. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/train/config.h"
#include "ref/model/model.h"
#include "verify/helpers.h"

#define FX_DIR "verify/fixtures/crosscheck"
#define FLOOR 1e-4

static double *get(const mr_npz *z, const char *name, size_t *n) {
    mr_array a;
    mr_error e;
    cr_assert(mr_npz_read(z, name, &a, &e) == MR_OK, "%s", e.msg);
    double *v = malloc((a.count ? a.count : 1) * sizeof *v); /* freed here (t_alloc would free again at exit) */
    cr_assert(v);
    mr_array_to_f64(&a, v);
    if (n) *n = (size_t)a.count;
    mr_array_free(&a);
    return v;
}

static int has(const mr_npz *z, const char *name) { return mr_npz_find(z, name) >= 0; }

/* an integer member as int64 (NULL when absent) */
static int64_t *geti(const mr_npz *z, const char *name, size_t *n) {
    if (!has(z, name)) return NULL;
    size_t c;
    double *v = get(z, name, &c);
    int64_t *x = malloc((c ? c : 1) * sizeof *x);
    cr_assert(x);
    for (size_t q = 0; q < c; q++) x[q] = (int64_t)v[q];
    free(v);
    if (n) *n = c;
    return x;
}

static double scalar(const mr_npz *z, const char *name) {
    double *v = get(z, name, NULL), x = v[0];
    free(v);
    return x;
}

static double absmax(const double *v, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

typedef struct {
    double worst;
    char worst_name[300];
    int failures;
    char first_failure[600];
} tally;

static void judge(tally *t, const char *what, double rel, double tol) {
    if (rel > t->worst) {
        t->worst = rel;
        snprintf(t->worst_name, sizeof t->worst_name, "%s", what);
    }
    if (!(rel <= tol)) {
        if (!t->failures++) snprintf(t->first_failure, sizeof t->first_failure, "%s: rel %.3e > tol %.3e", what, rel, tol);
    }
}

static void check_fixture(const char *path, tally *t) {
    mr_npz z;
    mr_error e;
    cr_assert(mr_npz_open(&z, path, &e) == MR_OK, "%s", e.msg);
    /* model from config_json, parameters from the generator */
    mr_array cj;
    cr_assert(mr_npz_read(&z, "config_json", &cj, &e) == MR_OK, "%s", e.msg);
    char *json = calloc(cj.count + 1, 1);
    memcpy(json, cj.data, cj.count);
    mr_array_free(&cj);
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    cr_assert(mr_cfg_from_json(&mc, &tc, json, path, NULL, &e) == MR_OK, "%s", e.msg);
    free(json);
    if (has(&z, "bert_config_json")) { /* a BERT text branch of these sizes, as mr_model_from_checkpoint */
        mr_array bj;
        cr_assert(mr_npz_read(&z, "bert_config_json", &bj, &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_bert_config_parse_json((const char *)bj.data, (size_t)bj.count, path, &mc.bert_cfg, &e) == MR_OK, "%s",
                  e.msg);
        mr_array_free(&bj);
        mc.bert = 1, mc.d_t = mc.bert_cfg.hidden_size;
    }
    mr_model m;
    cr_assert(mr_model_build(&m, &mc, &e) == MR_OK, "%s: %s", path, e.msg);
    t_gen_params(&m.p, (uint64_t)scalar(&z, "param_seed"), scalar(&z, "param_gain"));
    /* batch */
    /* batch: text features, or with BERT token ids, types and attention mask [B, Lt] */
    size_t nt, na, nv, nl, B;
    double *text = mc.bert ? NULL : get(&z, "batch/text", &nt), *audio = get(&z, "batch/audio", &na),
           *vision = get(&z, "batch/vision", &nv);
    int64_t *ids = mc.bert ? geti(&z, "batch/bert_ids", &nt) : NULL, *types = geti(&z, "batch/bert_type_ids", NULL),
            *att = geti(&z, "batch/bert_att_mask", NULL);
    cr_assert(!mc.bert || ids, "%s: a BERT fixture without batch/bert_ids", path);
    double *label = get(&z, "batch/label", &nl);
    B = nl;
    mr_inputs in = {B,     nt / (B * (mc.bert ? 1 : mc.d_t)), na / (B * mc.d_a), nv / (B * mc.d_v), text, audio, vision, label, ids,
                    types, att};
    int banks = has(&z, "batch/bank_label");
    mr_banks bk = {0};
    double *bl = NULL, *bt = NULL, *ba = NULL, *bv = NULL;
    int64_t *anchors[MR_NCMI] = {0}, *given_nb[MR_NCMI] = {0};
    mr_rand r;
    memset(&r, 0, sizeof r);
    if (banks) {
        size_t N;
        bl = get(&z, "batch/bank_label", &N);
        bt = get(&z, "batch/bank_text", NULL), ba = get(&z, "batch/bank_audio", NULL), bv = get(&z, "batch/bank_vision", NULL);
        bk = (mr_banks){N, bl, bt, ba, bv};
        for (int j = 0; j < MR_NCMI; j++) {
            char n[64];
            size_t na_c;
            snprintf(n, sizeof n, "batch/anchors_%s", mr_cmi_names[j]);
            double *a = get(&z, n, &na_c);
            anchors[j] = malloc((na_c ? na_c : 1) * sizeof(int64_t));
            for (size_t q = 0; q < na_c; q++) anchors[j][q] = (int64_t)a[q];
            free(a);
            r.given[j] = anchors[j];
            snprintf(n, sizeof n, "batch/neighbors_%s", mr_cmi_names[j]); /* injected instead of the k-NN search */
            r.given_nb[j] = given_nb[j] = geti(&z, n, NULL);
        }
    }
    mr_step st;
    mr_workspace *f;
    mr_step_dims dims = {in.B, in.Lt, in.La, in.Lv, banks ? bk.N : 0};
    cr_assert(mr_workspace_create(&m, &dims, &f, &e) == MR_OK, "%s: %s", path, e.msg);
    cr_assert(mr_model_forward(&m, &in, banks ? &bk : NULL, &r, &st, f, &e) == MR_OK, "%s: %s", path, e.msg);
    size_t T = m.p.total;
    double *g[3] = {NULL, malloc(T * sizeof(double)), malloc(T * sizeof(double))};
    cr_assert(g[1] && g[2]);
    for (int s = 1; s <= 2; s++) {
        mr_params_zero_grad(&m.p);
        cr_assert(mr_model_backward(&m, f, s, 1, &e) == MR_OK, "%s: %s", path, e.msg);
        memcpy(g[s], m.p.grad, T * sizeof(double));
    }
    /* forward outputs */
    size_t D = mc.d_common;
    struct {
        const char *name;
        const double *v;
        size_t n;
    } outs[] = {{"output", st.output, B},           {"F_F", st.F_F, B * D},          {"T_F", st.T_F, B * D},
                {"A_F", st.A_F, B * D},             {"V_F", st.V_F, B * D},          {"mi", st.mi, 11},
                {"mi_derived", st.derived, 8},      {"stage1_terms", st.stage1_terms, 11},
                {"loss_task", &st.loss_task, 1},    {"loss_stage1", &st.loss_stage1, 1},
                {"loss_stage2", &st.loss_stage2, 1}};
    size_t nouts = sizeof outs / sizeof outs[0];
    double *ex[16];
    double gscale = 0;
    for (size_t i = 0; i < nouts; i++) {
        char n[64];
        size_t cnt;
        snprintf(n, sizeof n, "expect/%s", outs[i].name);
        ex[i] = get(&z, n, &cnt);
        cr_assert(cnt == outs[i].n, "%s: %s has %zu values, mimrl.c %zu", path, n, cnt, outs[i].n);
        gscale = fmax(gscale, absmax(ex[i], cnt));
    }
    for (size_t i = 0; i < nouts; i++) {
        char n[64], what[400];
        snprintf(n, sizeof n, "tol/%s", outs[i].name);
        double d = 0;
        for (size_t q = 0; q < outs[i].n; q++) d = fmax(d, fabs(outs[i].v[q] - ex[i][q]));
        double rel = d / fmax(fmax(absmax(ex[i], outs[i].n), FLOOR * gscale), 1e-300);
        snprintf(what, sizeof what, "%s %s", path, outs[i].name);
        judge(t, what, rel, scalar(&z, n));
        free(ex[i]);
    }
    for (int j = 0; j < MR_NCMI && banks; j++) {
        char n[64];
        size_t cnt;
        snprintf(n, sizeof n, "expect/neighbors_%s", mr_cmi_names[j]);
        double *nb = get(&z, n, &cnt);
        cr_assert(cnt == st.m_anchor * st.k, "%s: %s has %zu entries, mimrl.c %zu", path, n, cnt, st.m_anchor * st.k);
        for (size_t q = 0; q < cnt; q++)
            cr_assert(nb[q] == (double)st.neighbors[j][q], "%s: %s[%zu] = %g, mimrl.c %lld", path, n, q, nb[q],
                      (long long)st.neighbors[j][q]);
        free(nb);
    }
    /* gradients, packed in the order of grad_names (crosscheck.py write_fixture) */
    mr_array na_;
    cr_assert(mr_npz_read(&z, "grad_names", &na_, &e) == MR_OK, "%s", e.msg);
    char *names = calloc(na_.count + 1, 1);
    memcpy(names, na_.data, na_.count);
    mr_array_free(&na_);
    size_t nn = 1;
    for (char *q = names; *q; q++) nn += *q == '\n';
    cr_assert(nn == m.p.n, "%s: %zu gradient tensors in the fixture, mimrl.c has %zu", path, nn, m.p.n);
    for (int s = 1; s <= 2; s++) {
        char n[64];
        size_t nvals, nstats;
        snprintf(n, sizeof n, "grad_stage%d", s);
        double *vals = get(&z, n, &nvals);
        snprintf(n, sizeof n, "grad_stage%d_stats", s);
        double *stats = get(&z, n, &nstats);
        cr_assert(nstats == 4 * nn);
        double gs = 0;
        for (size_t q = 0; q < nn; q++) gs = fmax(gs, stats[4 * q]);
        size_t off = 0;
        char *save = NULL, *copy = strdup(names);
        size_t i = 0;
        for (char *nm = strtok_r(copy, "\n", &save); nm; nm = strtok_r(NULL, "\n", &save), i++) {
            long ti = mr_params_find(&m.p, nm);
            cr_assert(ti >= 0, "%s: fixture tensor %s is not a parameter of mimrl.c's model", path, nm);
            const mr_tensor *x = &m.p.t[ti];
            const double *c = g[s] + x->offset;
            double am = stats[4 * i], proj = stats[4 * i + 1], rabs = stats[4 * i + 2], tol = stats[4 * i + 3];
            double den = fmax(fmax(am, FLOOR * gs), 1e-300), d = 0;
            size_t ns = x->size <= 64 ? x->size : 64;
            cr_assert(off + ns <= nvals, "%s: stage %d gradient values end early", path, s);
            for (size_t q = 0; q < ns; q++) d = fmax(d, fabs(c[ns == x->size ? q : (q * x->size) / 64] - vals[off + q]));
            off += ns;
            char what[600];
            snprintf(what, sizeof what, "%s grad_stage%d/%s", path, s, nm);
            judge(t, what, d / den, tol);
            judge(t, what, fabs(absmax(c, x->size) - am) / den, tol);
            double *rr = malloc(x->size * sizeof *rr), pc = 0;
            cr_assert(rr);
            char pn[400];
            snprintf(pn, sizeof pn, "proj:%s", nm);
            t_gen_uniform(pn, x->size, (uint64_t)scalar(&z, "param_seed"), rr);
            for (size_t q = 0; q < x->size; q++) pc += c[q] * rr[q];
            free(rr);
            judge(t, what, fabs(pc - proj) / (den * rabs), tol);
        }
        cr_assert(off == nvals, "%s: stage %d has %zu gradient values, %zu used", path, s, nvals, off);
        free(copy);
        free(vals);
        free(stats);
    }
    free(names);
    mr_workspace_free(f);
    free(g[1]), free(g[2]);
    free(text), free(audio), free(vision), free(label), free(bl), free(bt), free(ba), free(bv);
    for (int j = 0; j < MR_NCMI; j++) free(anchors[j]), free(given_nb[j]);
    free(ids), free(types), free(att);
    mr_model_free(&m);
    mr_npz_close(&z);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

Test(crosscheck, oracle_equals_pytorch_on_committed_fixtures, .timeout = 300) {
    DIR *d = opendir(FX_DIR);
    cr_assert(d, FX_DIR " is missing (regenerate with make crosscheck-fixtures)");
    char *names[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".npz") == 0) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    /* the configurations the crosscheck lists: every encoder, critic, bound, CMI head and read-out,
     * injected neighbours, and BERT (2 layers) as the text branch */
    cr_assert(n >= 16, "%zu fixtures in " FX_DIR ", expected the 16 of crosscheck.py", n);
    int fails = 0;
    for (size_t i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, FX_DIR "/%s", names[i]);
        tally t = {0};
        check_fixture(path, &t);
        fprintf(stderr, "crosscheck %-44s worst rel %.2e (%s)%s%s\n", names[i], t.worst, strrchr(t.worst_name, ' ') + 1,
                t.failures ? " — FAIL: " : "", t.failures ? t.first_failure : "");
        fails += t.failures;
        free(names[i]);
    }
    cr_assert(fails == 0, "%d tensors outside tolerance (lines above)", fails);
}
