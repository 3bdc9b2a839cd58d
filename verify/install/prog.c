/* prog.c — a program a user writes against an installed mimrl (built by
 * verify/install_test.sh with `pkg-config --cflags --libs mimrl`): a model
 * from a configuration, parameters set by name, one oracle step with the
 * banks and drawn anchors, OUT.npz written; prints the losses.
 * usage: prog OUT.npz */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <mimrl/mimrl.h>

static const char *CFG =
    "{\"d_t\": 6, \"d_a\": 3, \"d_v\": 4, \"d_common\": 8, \"time_len\": 5, \"encoders\": \"gru\", \"activate\": \"gelu\", "
    "\"d_hiddens\": \"3-3-8=3-3-8\", \"d_outs\": \"3-3-8=3-3-8\", \"res_project\": \"1-1\", \"bias\": true, "
    "\"bound_type\": \"infonce\", \"k_neighbor\": 2, \"cmi_last_acticate\": \"sigmoid\", \"loss\": \"MAE\"}";

static void fill(double *x, size_t n, double phase) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5 * sin(0.37 * (double)i + phase);
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: prog OUT.npz\n"), 2;
    mimrl_error e;
    mimrl_model *m;
    if (mimrl_model_create(&m, CFG, &e)) return fprintf(stderr, "create: %s\n", e.msg), 1;
    for (size_t i = 0; i < mimrl_param_count(m); i++) {
        size_t shape[MIMRL_MAXDIM], n = 1;
        int nd = mimrl_param_shape(m, i, shape);
        for (int d = 0; d < nd; d++) n *= shape[d];
        double *v = malloc(n * sizeof *v);
        fill(v, n, (double)i);
        int rc = mimrl_param_set(m, mimrl_param_name(m, i), nd, shape, v, &e);
        free(v);
        if (rc) return fprintf(stderr, "param: %s\n", e.msg), 1;
    }
    enum { B = 6, L = 5, N = 12, D = 8 };
    static double text[B * L * 6], audio[B * L * 3], vision[B * L * 4], label[B], bl[N], bt[N * D], ba[N * D], bv[N * D];
    fill(text, B * L * 6, 1), fill(audio, B * L * 3, 2), fill(vision, B * L * 4, 3), fill(label, B, 4);
    fill(bl, N, 5), fill(bt, N * D, 6), fill(ba, N * D, 7), fill(bv, N * D, 8);
    size_t st[3] = {B, L, 6}, sa[3] = {B, L, 3}, sv[3] = {B, L, 4}, sl[1] = {B}, sbl[2] = {N, 1}, sb[2] = {N, D};
    if (mimrl_set_input(m, "text", 3, st, text, &e) || mimrl_set_input(m, "audio", 3, sa, audio, &e) ||
        mimrl_set_input(m, "vision", 3, sv, vision, &e) || mimrl_set_input(m, "label", 1, sl, label, &e) ||
        mimrl_set_input(m, "bank_label", 2, sbl, bl, &e) || mimrl_set_input(m, "bank_text", 2, sb, bt, &e) ||
        mimrl_set_input(m, "bank_audio", 2, sb, ba, &e) || mimrl_set_input(m, "bank_vision", 2, sb, bv, &e))
        return fprintf(stderr, "input: %s\n", e.msg), 1;
    mimrl_set_anchor_seed(m, 7);
    if (mimrl_step(m, &e) || mimrl_write_out(m, argv[1], &e)) return fprintf(stderr, "step: %s\n", e.msg), 1;
    mimrl_tensor t1, t2;
    if (mimrl_output(m, "loss_stage1", &t1, &e) || mimrl_output(m, "loss_stage2", &t2, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    printf("mimrl %s (%s): %zu parameters, %zu outputs, loss_stage1 %.17g, loss_stage2 %.17g\n", mimrl_version(), mimrl_blas(),
           mimrl_param_count(m), mimrl_output_count(m), *(const double *)t1.data, *(const double *)t2.data);
    mimrl_model_free(m);
    return 0;
}
