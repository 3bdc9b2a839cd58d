/* test_params.c — parameter store: layout, state-dict TSVs, checkpoint
 * save/load by name with full error reports, atomicity. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/core/params.h"
#include "verify/helpers.h"

static void small_store(mr_params *p) {
    mr_params_init(p);
    size_t s1[2] = {3, 4}, s2[1] = {5}, s3[3] = {2, 1, 3};
    mr_error e;
    cr_assert(mr_params_add(p, "a.weight", 2, s1, &e) == MR_OK);
    cr_assert(mr_params_add(p, "a.bias", 1, s2, &e) == MR_OK);
    cr_assert(mr_params_add(p, "b.w", 3, s3, &e) == MR_OK);
    cr_assert(mr_params_alloc(p, &e) == MR_OK);
    for (size_t i = 0; i < p->total; i++) {
        p->data[i] = 0.25 * (double)i - 1.0 / 3.0;
        p->m[i] = 1e-3 * (double)i;
        p->v[i] = 1e-6 * (double)(i * i);
    }
    for (size_t i = 0; i < p->n; i++) p->step[i] = 10 + (int64_t)i;
}

Test(params, contiguous_layout_and_lookup) {
    mr_params p;
    small_store(&p);
    cr_assert(p.n == 3 && p.total == 12 + 5 + 6);
    cr_assert(p.t[0].offset == 0 && p.t[1].offset == 12 && p.t[2].offset == 17);
    cr_assert(mr_params_get(&p, "a.bias") == p.data + 12);
    cr_assert(mr_params_get_grad(&p, "b.w") == p.grad + 17);
    cr_assert(mr_params_get(&p, "nope") == NULL);
    mr_error e;
    size_t s[1] = {1};
    cr_assert(mr_params_add(&p, "late", 1, s, &e) == MR_EINVAL, "registration after alloc must fail");
    p.grad[3] = 5;
    mr_params_zero_grad(&p);
    cr_assert(p.grad[3] == 0);
    mr_params_free(&p);
    mr_params q;
    mr_params_init(&q);
    cr_assert(mr_params_add(&q, "x", 1, s, &e) == MR_OK);
    cr_assert(mr_params_add(&q, "x", 1, s, &e) == MR_EINVAL && strstr(e.msg, "'x'"));
    mr_params_free(&q);
}

Test(params, state_dict_tsv_counts_match_spec) {
    /* spec §1.9: mosi_Dec README config, main 1,023,967; 5 VMI critics
     * 1,975,040; 6 CMI classifiers 1,383,948. */
    char path[1024];
    cr_assert(t_state_dict_path(path, sizeof path, "mosi_dec-gru-separate"), T_STATE_DICT_MISSING, path);
    mr_params p;
    mr_params_init(&p);
    mr_error e;
    cr_assert(mr_params_add_tsv(&p, path, &e) == MR_OK, "%s", e.msg);
    size_t main = 0, vmi = 0, vcmi = 0;
    for (size_t i = 0; i < p.n; i++) {
        if (strncmp(p.t[i].name, "vmi", 3) == 0) vmi += p.t[i].size;
        else if (strncmp(p.t[i].name, "vcmi", 4) == 0) vcmi += p.t[i].size;
        else main += p.t[i].size;
    }
    cr_assert(main == 1023967, "main %zu", main);
    cr_assert(vmi == 1975040, "vmi %zu", vmi);
    cr_assert(vcmi == 1383948, "vcmi %zu", vcmi);
    long k = mr_params_find(&p, "rnn_a.weight_ih_l0");
    cr_assert(k >= 0 && p.t[k].ndim == 2 && p.t[k].shape[0] == 384 && p.t[k].shape[1] == 5);
    mr_params_free(&p);
}

Test(params, every_shared_state_dict_round_trips) {
    for (size_t k = 0; k < t_state_dict_count; k++) {
        char path[1024], out[512];
        cr_assert(t_state_dict_path(path, sizeof path, t_state_dict_names[k]), T_STATE_DICT_MISSING, path);
        mr_params p, q;
        mr_params_init(&p);
        mr_params_init(&q);
        mr_error e;
        cr_assert(mr_params_add_tsv(&p, path, &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_params_add_tsv(&q, path, &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_params_alloc(&p, &e) == MR_OK && mr_params_alloc(&q, &e) == MR_OK);
        for (size_t i = 0; i < p.total; i++) p.data[i] = sin((double)i);
        t_path(out, sizeof out, "sd.npz");
        cr_assert(mr_params_save(&p, out, "{\"d_common\": 128}", 0, &e) == MR_OK, "%s", e.msg);
        char *cfg = NULL;
        cr_assert(mr_params_load(&q, out, &cfg, 0, &e) == MR_OK, "%s: %s", t_state_dict_names[k], e.msg);
        cr_assert(memcmp(p.data, q.data, p.total * sizeof(double)) == 0);
        cr_assert(cfg && strcmp(cfg, "{\"d_common\": 128}") == 0);
        free(cfg);
        mr_params_free(&p);
        mr_params_free(&q);
    }
}

Test(params, save_load_with_optimizer_state) {
    mr_params p, q;
    small_store(&p);
    mr_params_init(&q);
    mr_error e;
    size_t s1[2] = {3, 4}, s2[1] = {5}, s3[3] = {2, 1, 3};
    /* a different registration order: loading is by name */
    mr_params_add(&q, "b.w", 3, s3, &e);
    mr_params_add(&q, "a.weight", 2, s1, &e);
    mr_params_add(&q, "a.bias", 1, s2, &e);
    mr_params_alloc(&q, &e);
    char out[512];
    t_path(out, sizeof out, "opt.npz");
    cr_assert(mr_params_save(&p, out, NULL, 1, &e) == MR_OK, "%s", e.msg);
    char *cfg = (char *)1;
    cr_assert(mr_params_load(&q, out, &cfg, 1, &e) == MR_OK, "%s", e.msg);
    cr_assert(cfg == NULL);
    for (size_t i = 0; i < p.n; i++) {
        long k = mr_params_find(&q, p.t[i].name);
        cr_assert(memcmp(p.data + p.t[i].offset, q.data + q.t[k].offset, p.t[i].size * 8) == 0);
        cr_assert(memcmp(p.m + p.t[i].offset, q.m + q.t[k].offset, p.t[i].size * 8) == 0);
        cr_assert(memcmp(p.v + p.t[i].offset, q.v + q.t[k].offset, p.t[i].size * 8) == 0);
        cr_assert(p.step[i] == q.step[k]);
    }
    /* a values-only checkpoint cannot resume an optimizer */
    t_path(out, sizeof out, "noopt.npz");
    cr_assert(mr_params_save(&p, out, NULL, 0, &e) == MR_OK);
    cr_assert(mr_params_load(&q, out, NULL, 1, &e) != MR_OK);
    cr_assert(strstr(e.msg, "optim/exp_avg/a.weight") != NULL, "%s", e.msg);
    mr_params_free(&p);
    mr_params_free(&q);
}

Test(params, load_reports_every_problem_at_once_and_changes_nothing) {
    char out[512];
    t_path(out, sizeof out, "bad.npz");
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_writer_open(&w, out, 0, &e) == MR_OK);
    double buf[64] = {0};
    float fbuf[5] = {1, 2, 3, 4, 5};
    uint64_t s_wrong[2] = {4, 3}, s5[1] = {5}, s1[1] = {1};
    mr_npz_add(&w, "a.weight", MR_DT_F8, 2, s_wrong, buf, &e); /* mis-shaped */
    mr_npz_add(&w, "a.bias", MR_DT_F4, 1, s5, fbuf, &e);      /* f4 accepted */
    mr_npz_add(&w, "stray", MR_DT_F8, 1, s1, buf, &e);        /* extra */
    /* b.w missing */
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    mr_params p;
    small_store(&p);
    double *before = malloc(p.total * 8);
    memcpy(before, p.data, p.total * 8);
    cr_assert(mr_params_load(&p, out, NULL, 0, &e) == MR_ESHAPE, "%s", e.msg);
    cr_assert(strstr(e.msg, out) != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "3 problems") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "'a.weight' has shape [4,3] in the file but [3,4] in the model") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "missing 'b.w'") != NULL, "%s", e.msg);
    cr_assert(strstr(e.msg, "extra 'stray'") != NULL, "%s", e.msg);
    cr_assert(memcmp(before, p.data, p.total * 8) == 0, "a failed load must not modify the store");
    free(before);
    mr_params_free(&p);
}

Test(params, load_refuses_nan_and_bad_version) {
    mr_params p;
    small_store(&p);
    char out[512];
    mr_error e;
    t_path(out, sizeof out, "nan.npz");
    t_traps_off();
    p.data[13] = NAN;
    cr_assert(mr_params_save(&p, out, NULL, 0, &e) == MR_OK);
    cr_assert(mr_params_load(&p, out, NULL, 0, &e) == MR_EFORMAT, "%s", e.msg);
    t_traps_on();
    cr_assert(strstr(e.msg, "'a.bias' holds a non-finite value at flat index 1") != NULL, "%s", e.msg);
    /* version 2 */
    t_path(out, sizeof out, "v2.npz");
    mr_npz_writer w;
    cr_assert(mr_npz_writer_open(&w, out, 0, &e) == MR_OK);
    int32_t v = 2;
    uint64_t one = 1;
    mr_npz_add(&w, "mimrl_format_version", MR_DT_I4, 1, &one, &v, &e);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK);
    cr_assert(mr_params_load(&p, out, NULL, 0, &e) != MR_OK);
    cr_assert(strstr(e.msg, "format version 2") != NULL, "%s", e.msg);
    mr_params_free(&p);
}

Test(params, numpy_sees_state_dict_names) {
    const char *py = t_python();
    if (!py) cr_skip_test(T_NO_PYTHON);
    mr_params p;
    small_store(&p);
    char out[512], cmd[2048];
    mr_error e;
    t_path(out, sizeof out, "torchlike.npz");
    cr_assert(mr_params_save(&p, out, "{}", 1, &e) == MR_OK);
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np,sys; z=np.load('%s'); "
             "ok=z['a.weight'].shape==(3,4) and z['b.w'].shape==(2,1,3) and z['a.bias'].dtype==np.float64 "
             "and int(z['optim/step/a.bias'])==11 and bytes(z['config_json'])==b'{}' and int(z['mimrl_format_version'][0])==1; "
             "sys.exit(0 if ok else 1)\"",
             py, out);
    cr_assert(system(cmd) == 0, "numpy view of a checkpoint differs");
    mr_params_free(&p);
}

/* The committed copy in verify/fixtures/state-dict/ is the spec's listing,
 * byte for byte, whenever the spec folder is reachable. */
Test(params, committed_state_dicts_equal_the_spec) {
    const char *sh = getenv("MIMRL_SHARED");
    if (!sh || !*sh) sh = "../shared";
    const char *const *names = t_state_dict_names;
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/spec/state-dict/%s.tsv", sh, names[0]);
    FILE *pf = fopen(probe, "r");
    if (!pf) cr_skip_test("%s not reachable (MIMRL_SHARED); the committed copy is used unchecked", probe);
    fclose(pf);
    for (size_t k = 0; k < t_state_dict_count; k++) {
        char a[1024], b[1024];
        snprintf(a, sizeof a, "%s/spec/state-dict/%s.tsv", sh, names[k]);
        t_state_dict_path(b, sizeof b, names[k]);
        size_t la, lb;
        unsigned char *xa = t_read_file(a, &la), *xb = t_read_file(b, &lb);
        cr_assert(xa && xb, "cannot read %s or %s", a, b);
        size_t pos = 0;
        while (pos < la && pos < lb && xa[pos] == xb[pos]) pos++;
        cr_assert(pos == la && pos == lb, "%s differs from %s at byte %zu", b, a, pos);
        free(xa);
        free(xb);
    }
}
