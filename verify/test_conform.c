/* test_conform.c — `mimrl conform` and `mimrl oracle --dump all` (README
 * "Conformance"): the PyTorch twin passes as a port in float64 and float32;
 * ports broken on purpose fail and the first diverging tensor named is the
 * one the break touches; a port that crashes, hangs or writes a malformed
 * file gets its own line and the suite goes on; the dump leaves the plain
 * out.npz members bit for bit as they are. Tests that need PyTorch skip
 * without it (MIMRL_PYTHON without torch). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "verify/helpers.h"

#define T_NO_TORCH "MIMRL_PYTHON has no torch (python3-torch): the PyTorch twin cannot run as a port"

static char out[1 << 16];

/* MIMRL_PYTHON when it imports numpy and torch, else NULL; the twin's runs
 * are skipped in the BLAS=none phase (T_ONCE_PER_TEST_RUN) */
static const char *torch_python(void) {
    if (t_reference_phase()) cr_skip_test(T_ONCE_PER_TEST_RUN);
    const char *py = t_python();
    if (!py) return NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c 'import numpy, torch' > /dev/null 2>&1", py);
    return system(cmd) == 0 ? py : NULL;
}

/* mimrl conform with the given port and extra flags, its own work directory */
static int conform(const char *work, const char *port, const char *extra) {
    char args[8192], dir[512];
    t_path(dir, sizeof dir, work);
    snprintf(args, sizeof args, "conform --work %s --port \"%s\" %s", dir, port, extra);
    return t_run_cli(args, out, sizeof out);
}

static void twin(char *buf, size_t n, const char *py, const char *flags) {
    snprintf(buf, n, "%s verify/torch/mimrl_torch.py --checkpoint {ckpt} --batch {batch} --out {out} --dump all %s", py, flags);
}

static size_t count(const char *s, const char *what) {
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

/* ---- the twin as the example port */

Test(conform, twin_float64_passes_quick_suite, .timeout = 600) {
    const char *py = torch_python();
    if (!py) cr_skip_test("%s", t_python() ? T_NO_TORCH : T_NO_PYTHON);
    char port[1024], rep[512];
    twin(port, sizeof port, py, "");
    t_path(rep, sizeof rep, "twin64.json");
    char extra[700];
    snprintf(extra, sizeof extra, "--report %s", rep);
    int rc = conform("c64", port, extra);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "10 passed, 0 failed"), "%s", out);
    cr_assert_eq(count(out, "PASS "), 10, "%s", out);
    cr_assert(!strstr(out, "not written (listed"), "the twin writes every intermediate: %s", out);
    size_t len = 0;
    char *j = (char *)t_read_file(rep, &len);
    cr_assert(j && strstr(j, "\"failed\": 0") && strstr(j, "\"case\": \"bert-small\""), "report %s", j ? j : "(none)");
    free(j);
}

Test(conform, twin_float32_passes_quick_suite, .timeout = 600) {
    const char *py = torch_python();
    if (!py) cr_skip_test("%s", t_python() ? T_NO_TORCH : T_NO_PYTHON);
    char port[1024];
    twin(port, sizeof port, py, "--dtype float32");
    int rc = conform("c32", port, "--dtype float32 --seed 101");
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "10 passed, 0 failed"), "%s", out);
}

/* the twin at float32 judged by the float64 rule fails: the float32 bounds are what let it pass */
Test(conform, twin_float32_fails_the_float64_rule, .timeout = 300) {
    const char *py = torch_python();
    if (!py) cr_skip_test("%s", t_python() ? T_NO_TORCH : T_NO_PYTHON);
    char port[1024];
    twin(port, sizeof port, py, "--dtype float32");
    int rc = conform("c32as64", port, "--only gru-infonce-separate");
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "FAIL gru-infonce-separate") && strstr(out, "first diverging tensor"), "%s", out);
}

/* ---- ports broken on purpose: the first diverging tensor is the one the break touches */

static void broken(const char *brk, const char *only, const char *dtype, const char *first) {
    const char *py = torch_python();
    if (!py) cr_skip_test("%s", t_python() ? T_NO_TORCH : T_NO_PYTHON);
    char port[1024], flags[128], extra[256], work[64];
    snprintf(flags, sizeof flags, "--break %s%s%s", brk, strcmp(dtype, "float32") == 0 ? " --dtype float32" : "", "");
    twin(port, sizeof port, py, flags);
    snprintf(extra, sizeof extra, "--only %s --dtype %s", only, dtype);
    snprintf(work, sizeof work, "b-%s-%s", brk, dtype);
    int rc = conform(work, port, extra);
    cr_assert_eq(rc, 1, "break %s: %s", brk, out);
    char want[256];
    snprintf(want, sizeof want, "first diverging tensor %s:", first);
    cr_assert(strstr(out, want), "break %s: expected '%s' in\n%s", brk, want, out);
}

Test(conform, break_gelu_tanh_in_bert, .timeout = 300) { broken("gelu_tanh", "bert-small", "float64", "bert/layer.0"); }
Test(conform, break_transposed_recurrent_weight, .timeout = 300) {
    broken("whh_transposed", "gru-infonce-separate", "float64", "enc_a/h_n");
}
Test(conform, break_length_off_by_one, .timeout = 300) { broken("len_off_by_one", "gru-infonce-separate", "float64", "enc_a/lengths"); }
Test(conform, break_textbook_cmi_readout, .timeout = 300) { broken("textbook_cmi", "gru-infonce-separate", "float64", "cmi/ac_t/estimate"); }
Test(conform, break_dropped_readout_eps, .timeout = 300) { broken("no_readout_eps", "gru-infonce-separate", "float64", "cmi/ac_t/estimate"); }
/* the big breaks show in float32 too */
Test(conform, break_transposed_recurrent_weight_float32, .timeout = 300) {
    broken("whh_transposed", "lstm-nwj-concat-hardtanh-preln", "float32", "enc_a/h_n");
}
Test(conform, break_textbook_cmi_readout_float32, .timeout = 300) {
    broken("textbook_cmi", "gru-infonce-separate", "float32", "cmi/ac_t/estimate");
}

/* ---- ports without PyTorch: the oracle's own file (needs numpy for the perturbed copy) */

/* copies the oracle's out.npz beside the checkpoint, optionally perturbing or dropping one member */
static void copy_port(char *buf, size_t n, const char *py, const char *edit) {
    snprintf(buf, n,
             "%s -c 'import numpy as np, os, sys; d = dict(np.load(os.path.join(os.path.dirname(sys.argv[1]), \\\"out.npz\\\"))); %s; "
             "np.savez(sys.argv[2], **d)' {ckpt} {out} {batch}",
             py, edit);
}

Test(conform, oracle_copy_passes_and_a_perturbed_tensor_is_named, .timeout = 300) {
    const char *py = t_python();
    if (!py) cr_skip_test(T_NO_PYTHON);
    char port[2048];
    copy_port(port, sizeof port, py, "pass");
    cr_assert_eq(conform("copy", port, "--only gru-neighbors-injected"), 0, "%s", out);
    cr_assert(strstr(out, "worst rel 0.0e+00"), "%s", out);
    /* 1e-9 relative on one intermediate: over the float64 rule, under float32's */
    copy_port(port, sizeof port, py, "d[\\\"cube/block.0\\\"] = d[\\\"cube/block.0\\\"] * (1 + 1e-9)");
    cr_assert_eq(conform("pert", port, "--only gru-neighbors-injected"), 1, "%s", out);
    cr_assert(strstr(out, "first diverging tensor cube/block.0: rel"), "%s", out);
    cr_assert_eq(conform("pert32", port, "--only gru-neighbors-injected --dtype float32"), 0, "%s", out);
}

/* float64 bounds per group follow the float32 measurement (cli_conform.c tol_of): the ill-conditioned
 * stage-1 gradients of the main model (float32 rel up to 4.4, bound 5e+01) get 5e+01 x DBL_EPSILON /
 * FLT_EPSILON = 9.3e-08; a forward intermediate keeps 1e-10 (the test above) */
Test(conform, float64_bound_of_an_ill_conditioned_gradient_group, .timeout = 300) {
    const char *py = t_python();
    if (!py) cr_skip_test(T_NO_PYTHON);
    char port[2048];
    const char *t = "grad_stage1/mlp_encoder.layers_stack.0.mlp_l.fc1.bias";
    char edit[512];
    snprintf(edit, sizeof edit, "d[\\\"%s\\\"] = d[\\\"%s\\\"] * (1 + 1e-8)", t, t);
    copy_port(port, sizeof port, py, edit);
    cr_assert_eq(conform("g1ok", port, "--only gru-interpolate-gaussian"), 0, "1e-8 is under 9.3e-8: %s", out);
    snprintf(edit, sizeof edit, "d[\\\"%s\\\"] = d[\\\"%s\\\"] * (1 + 1e-6)", t, t);
    copy_port(port, sizeof port, py, edit);
    cr_assert_eq(conform("g1bad", port, "--only gru-interpolate-gaussian"), 1, "%s", out);
    cr_assert(strstr(out, "first diverging tensor grad_stage1/mlp_encoder.layers_stack.0.mlp_l.fc1.bias: rel") && strstr(out, "> 9.3e-08"), "%s", out);
}

Test(conform, unwritten_intermediates_are_listed_required_ones_fail, .timeout = 300) {
    const char *py = t_python();
    if (!py) cr_skip_test(T_NO_PYTHON);
    char port[2048];
    copy_port(port, sizeof port, py, "d.pop(\\\"cube/input\\\"); d.pop(\\\"enc_v/h_n\\\")");
    cr_assert_eq(conform("opt", port, "--only gru-infonce-separate"), 0, "%s", out);
    cr_assert(strstr(out, "PASS gru-infonce-separate") && strstr(out, "not written (listed, not failed): enc_v/h_n, cube/input"), "%s", out);
    copy_port(port, sizeof port, py, "d.pop(\\\"grad_stage2/W_t.weight\\\")");
    cr_assert_eq(conform("req", port, "--only gru-infonce-separate"), 1, "%s", out);
    cr_assert(strstr(out, "first diverging tensor grad_stage2/W_t.weight: required and not written"), "%s", out);
}

/* ---- crash, hang, malformed: one clear line per case, the suite goes on */

Test(conform, crashing_port_fails_every_case_and_the_suite_goes_on, .timeout = 300) {
    cr_assert_eq(conform("crash", "echo broken port >&2; exit 3 # {ckpt} {batch} {out}", ""), 1, "%s", out);
    cr_assert_eq(count(out, "port exited with status 3"), 10, "%s", out);
    cr_assert(strstr(out, "broken port") && strstr(out, "0 passed, 10 failed"), "%s", out);
}

Test(conform, killed_port_is_a_crash, .timeout = 300) {
    cr_assert_eq(conform("segv", "kill -SEGV \\$\\$ # {ckpt} {batch} {out}", "--only gru-epoch0-nobanks"), 1, "%s", out);
    cr_assert(strstr(out, "port crashed (signal 11)"), "%s", out);
}

Test(conform, hanging_port_times_out, .timeout = 300) {
    cr_assert_eq(conform("hang", "sleep 60 # {ckpt} {batch} {out}", "--timeout 1 --only gru-epoch0-nobanks"), 1, "%s", out);
    cr_assert(strstr(out, "port timed out after 1 s (killed"), "%s", out);
    cr_assert(strstr(out, "1 cases, 0 passed, 1 failed"), "%s", out);
}

Test(conform, malformed_out_npz, .timeout = 300) {
    cr_assert_eq(conform("garbage", "echo not an npz > {out} # {ckpt} {batch}", "--only gru-epoch0-nobanks"), 1, "%s", out);
    cr_assert(strstr(out, "malformed out.npz:"), "%s", out);
    cr_assert_eq(conform("none", "true {ckpt} {batch} {out}", "--only gru-epoch0-nobanks"), 1, "%s", out);
    cr_assert(strstr(out, "malformed out.npz:"), "a port that writes nothing: %s", out);
}

Test(conform, usage_errors_exit_2) {
    cr_assert_eq(t_run_cli("conform --suite huge --port 'x {ckpt} {batch} {out}'", out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "--suite is quick, full or bert"), "%s", out);
    cr_assert_eq(t_run_cli("conform --port 'x {ckpt} {batch}'", out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "must contain {ckpt}, {batch} and {out}"), "%s", out);
    cr_assert_eq(t_run_cli("conform --dtype float16 --port 'x {ckpt} {batch} {out}'", out, sizeof out), 2, "%s", out);
    cr_assert_eq(t_run_cli("conform --report r.txt --port 'x {ckpt} {batch} {out}'", out, sizeof out), 2, "%s", out);
    cr_assert_eq(t_run_cli("conform --only nosuchcase", out, sizeof out), 2, "%s", out);
}

/* ---- the suite is deterministic in its seed; --dump all keeps the plain members */

static int same_file(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    unsigned char *x = t_read_file(a, &la), *y = t_read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x), free(y);
    return same;
}

Test(conform, suite_is_deterministic_and_dump_keeps_plain_members_bitwise, .timeout = 300) {
    char a[512], b[512], args[2048], p1[600], p2[600];
    t_path(a, sizeof a, "gen1");
    t_path(b, sizeof b, "gen2");
    snprintf(args, sizeof args, "conform --work %s --only bert-small", a);
    cr_assert_eq(t_run_cli(args, out, sizeof out), 0, "%s", out);
    snprintf(args, sizeof args, "conform --work %s --only bert-small", b);
    cr_assert_eq(t_run_cli(args, out, sizeof out), 0, "%s", out);
    const char *files[3] = {"ckpt.npz", "batch.npz", "out.npz"};
    for (int i = 0; i < 3; i++) {
        snprintf(p1, sizeof p1, "%s/bert-small/%s", a, files[i]);
        snprintf(p2, sizeof p2, "%s/bert-small/%s", b, files[i]);
        cr_assert(same_file(p1, p2), "%s differs between two runs of the same seed", files[i]);
    }
    /* another seed, other shapes or values */
    snprintf(args, sizeof args, "conform --work %s --only bert-small --seed 2", b);
    cr_assert_eq(t_run_cli(args, out, sizeof out), 0, "%s", out);
    cr_assert(!same_file(p1, p2), "seed 2 wrote the same out.npz as seed 1");
    /* the plain oracle on the case: every member bit for bit the dump's */
    char plain[600];
    snprintf(plain, sizeof plain, "%s/plain.npz", a);
    snprintf(args, sizeof args, "oracle --checkpoint %s/bert-small/ckpt.npz --batch %s/bert-small/batch.npz --out %s", a, a, plain);
    cr_assert_eq(t_run_cli(args, out, sizeof out), 0, "%s", out);
    snprintf(p1, sizeof p1, "%s/bert-small/out.npz", a);
    mr_npz zp, zd;
    mr_error e;
    cr_assert_eq(mr_npz_open(&zp, plain, &e), MR_OK, "%s", e.msg);
    cr_assert_eq(mr_npz_open(&zd, p1, &e), MR_OK, "%s", e.msg);
    cr_assert_gt(zd.n, zp.n + 50, "the dump has the intermediates (%zu vs %zu members)", zd.n, zp.n);
    cr_assert_geq(mr_npz_find(&zd, "bert/layer.1"), 0);
    cr_assert_geq(mr_npz_find(&zd, "cmi/tc_v/product_logits"), 0);
    for (size_t i = 0; i < zp.n; i++) {
        mr_array x, y;
        cr_assert_eq(mr_npz_read_index(&zp, i, &x, &e), MR_OK, "%s", e.msg);
        cr_assert_eq(mr_npz_read(&zd, zp.m[i].name, &y, &e), MR_OK, "%s", e.msg);
        cr_assert(x.dtype == y.dtype && x.count == y.count && memcmp(x.data, y.data, x.count * mr_dtype_size(x.dtype)) == 0,
                  "member %s differs between the plain oracle and --dump all", zp.m[i].name);
        mr_array_free(&x), mr_array_free(&y);
    }
    mr_npz_close(&zp), mr_npz_close(&zd);
}
