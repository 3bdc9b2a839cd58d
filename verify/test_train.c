/* test_train.c — `mimrl train` / `mimrl eval` (ref/cli/cli_train.c, ref/train/train.c) end to end on small synthetic
 * data: a run beats the predict-the-mean baseline, --resume continues bit
 * for bit (also after SIGKILL, also from a format-1 checkpoint), the run
 * directory holds what the README says, bad flags or data/config mismatches
 * are clear errors (exit status 2), a run directory in use or finished is
 * refused, a non-finite loss stops the run (exit status 3) and leaves the
 * last checkpoint, the progress line appears on terminals only. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "ref/bert/hfdir.h"
#include "verify/helpers.h"
#include "verify/tolerance.h"



/* Small model, strong signal (the text carries most of the label). The
 * stage-2 MI coefficients are 0 here: on a few hundred samples the MI terms
 * make the trajectory erratic (observed: test MAE 0.76 with c2 = 0, between
 * 0.95 and 1.16 with c2 = 0.001–0.01 for the same seed), which would make a
 * learning test depend on luck. Stage 1 still trains all 11 estimators and
 * stage 2 still computes them; their gradients are checked elsewhere
 * (test_model.c, test_oracle.c). */
#define SMALL "--d_common 8 --time_len 8 --d_hiddens 4-3-8=2-3-8 --d_outs 4-3-8=2-3-8 --res_project 1-1 --bias " \
              "--dropout 0.0-0.0-0.0-0.0 --dropout_mlp 0.0-0.0-0.0 --batch_size 32 --learning_rate 1e-3 --stage1_n 1 " \
              "--loss_mi_coefficient1 1-1-1-1-1-1-1-1-1-1-1 --loss_mi_coefficient2 0-0-0-0-0-0-0-0 " \
              "--gradient_clip 1.5 --lr_decrease multi_step --lr_decrease_iter 50-60 --seed 3"

static void make_data(char *prefix) {
    t_path(prefix, 512, "d");
    char args[1024], out[4096];
    snprintf(args, sizeof args,
             "synth --like mosi --out %s --n-train 320 --n-valid 48 --n-test 64 --max-frames 10 --max-words 6 --mc-samples 100 "
             "--mix 1.2,0.8,0.1,0.1,0 --sigma-y 0.1 --sigma-o 0.2 --sigma-f 0.1",
             prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double json_num(const char *text, const char *key) {
    const char *p = strstr(text, key);
    cr_assert(p, "%s missing", key);
    p = strchr(p + strlen(key), ':');
    return strtod(p + 1, NULL);
}

/* metrics.csv field `name` of a data line (the header names the fields). */
static double csv_field(const char *head, const char *line, const char *name) {
    size_t col = 0, L = strlen(name);
    const char *h = head;
    for (;;) {
        if (strncmp(h, name, L) == 0 && (h[L] == ',' || h[L] == '\n')) break;
        h = strpbrk(h, ",\n");
        cr_assert(h && *h == ',', "metrics.csv has no column %s", name);
        h++, col++;
    }
    const char *v = line;
    for (size_t i = 0; i < col; i++) v = strchr(v, ',') + 1;
    return strtod(v, NULL);
}

static size_t csv_fields(const char *line) {
    size_t k = 1;
    for (; *line && *line != '\n'; line++) k += *line == ',';
    return k;
}

/* The unit columns (README "Information units"): each data row as wide as
 * the header; the 8 nats quantities recomputed from the 11 per-term nats
 * columns by spec §4.3 and the official 8 from the 11 official terms (each
 * printed to 10 significant digits, so a sum of 5 printed values is exact to
 * T_SIG(10)·Σ|v|); the VMI terms equal in both read-outs (bounds: nats
 * already); the CMI terms differ between the official and the dv read-out
 * once the estimators run, and the train columns are all zero at epoch 0
 * (no banks before its stage 2; valid and test have them). */
static void check_unit_columns(const char *csv, size_t n) {
    const char *head = csv, *last = NULL, *first = strchr(csv, '\n') + 1;
    for (const char *q = csv; q + 1 < csv + n; q++)
        if (*q == '\n') last = q + 1;
    cr_assert(csv_fields(first) == csv_fields(head) && csv_fields(last) == csv_fields(head), "%zu %zu %zu", csv_fields(head),
              csv_fields(first), csv_fields(last));
    const char *sp[3] = {"train", "valid", "test"}, *vm[5] = {"f_t", "f_a", "f_v", "t_a", "t_v"};
    const char *cm[6] = {"ac_t", "ta_c", "vc_t", "tv_c", "tc_a", "tc_v"}, *q8[8] = {"ft", "fa", "fv", "in", "st", "sa", "sv", "cp"};
    for (int s = 0; s < 3; s++)
        for (int nats = 0; nats < 2; nats++) {
            char nm[64];
            double I[11], Q[8];
            for (int k = 0; k < 11; k++) {
                snprintf(nm, sizeof nm, "%s_I_%s%s", sp[s], k < 5 ? vm[k] : cm[k - 5], nats ? "_nats" : "");
                I[k] = csv_field(head, last, nm);
                if (s == 0) cr_assert(csv_field(head, first, nm) == 0.0, "%s at epoch 0 (no banks yet)", nm);
            }
            for (int k = 0; k < 8; k++) {
                snprintf(nm, sizeof nm, nats ? "%s_%s_nats" : "%s_%s", sp[s], q8[k]);
                Q[k] = csv_field(head, last, nm);
            }
            double want[8] = {I[0], I[1], I[2], I[3] + I[4], I[9] + I[10] - I[6] - I[8], I[5] - I[6], I[7] - I[8], I[6] + I[8]};
            double mag[8] = {fabs(I[0]), fabs(I[1]), fabs(I[2]), fabs(I[3]) + fabs(I[4]), fabs(I[9]) + fabs(I[10]) + fabs(I[6]) + fabs(I[8]),
                             fabs(I[5]) + fabs(I[6]), fabs(I[7]) + fabs(I[8]), fabs(I[6]) + fabs(I[8])};
            for (int k = 0; k < 8; k++)
                cr_assert(fabs(Q[k] - want[k]) <= T_SIG(10) * (mag[k] + fabs(Q[k])), "%s %s%s: %.12g vs %.12g from the terms", sp[s], q8[k],
                          nats ? " (nats)" : "", Q[k], want[k]);
        }
    for (int s = 0; s < 3; s++) {
        char a[64], b[64];
        for (int k = 0; k < 5; k++) {
            snprintf(a, sizeof a, "%s_I_%s", sp[s], vm[k]);
            snprintf(b, sizeof b, "%s_I_%s_nats", sp[s], vm[k]);
            cr_assert(csv_field(head, last, a) == csv_field(head, last, b), "%s: a VMI bound is in nats in both", a);
        }
        for (int k = 0; k < 6; k++) {
            snprintf(a, sizeof a, "%s_I_%s", sp[s], cm[k]);
            snprintf(b, sizeof b, "%s_I_%s_nats", sp[s], cm[k]);
            cr_assert(csv_field(head, last, a) != csv_field(head, last, b), "%s: official and dv read-outs coincide", a);
        }
    }
}

Test(train, learns_and_writes_the_run_directory, .timeout = 600) {
    char prefix[512], rd[512], args[4096], out[65536];
    make_data(prefix);
    t_path(rd, sizeof rd, "run");
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 16 " SMALL, prefix, rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    const char *files[] = {"config.json", "metrics.csv", "best.npz", "last.npz", "predictions_valid.npz", "predictions_test.npz", "summary.json"};
    for (size_t i = 0; i < 7; i++) {
        char p[700];
        snprintf(p, sizeof p, "%s/%s", rd, files[i]);
        FILE *f = fopen(p, "r");
        cr_assert(f, "%s missing", p);
        fclose(f);
    }
    /* against the best constant predictor on test */
    char p[700];
    mr_dataset te;
    mr_error e;
    snprintf(p, sizeof p, "%s_test.npz", prefix);
    cr_assert(mr_dataset_open(&te, p, NULL, &e) == MR_OK);
    /* the best any constant prediction can do on the test split: the MAE of
     * the test labels' own median (the median minimises Σ|y − c| over c) */
    double *y = malloc(te.N * sizeof *y), base = 0;
    memcpy(y, te.label, te.N * sizeof *y);
    qsort(y, te.N, sizeof *y, cmp_double);
    double med = te.N % 2 ? y[te.N / 2] : 0.5 * (y[te.N / 2 - 1] + y[te.N / 2]);
    for (size_t i = 0; i < te.N; i++) base += fabs(te.label[i] - med);
    base /= te.N;
    free(y);
    snprintf(p, sizeof p, "%s/summary.json", rd);
    size_t n;
    char *sum = (char *)t_read_file(p, &n);
    sum = realloc(sum, n + 1);
    sum[n] = 0;
    double mae = json_num(strstr(sum, "test_at_best_valid"), "\"mae\"");
    /* Learning means using the inputs: no constant prediction, however it
     * was chosen, can reach an MAE below the test median's, so beating it is
     * the criterion, with no margin to tune. (A margin was tried: rounding
     * differences between BLAS builds and vector-math kernels move the
     * trajectory of so small a run by up to 20% of the baseline — seeds 1–4
     * gave 0.70–1.07 against a train-mean baseline of 1.23.) */
    cr_assert(mae < base, "test MAE at best valid %.4f vs the best constant (test median) %.4f", mae, base);
    /* eval reproduces the test metric of the best checkpoint (eval mode is deterministic) */
    snprintf(args, sizeof args, "eval --checkpoint %s/best.npz --data %s --split test --json", rd, prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    double emae = json_num(out, "\"mae\"");
    cr_assert(fabs(emae - mae) < T_SIG(10) * fmax(1, fabs(mae)), "eval %.12g vs summary %.12g", emae, mae); /* both printed %.10g */
    /* metrics.csv: a header and one row per epoch */
    snprintf(p, sizeof p, "%s/metrics.csv", rd);
    char *csv = (char *)t_read_file(p, &n);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += csv[i] == '\n';
    cr_assert(lines == 17, "%zu lines", lines);
    check_unit_columns(csv, n);
    free(csv);
    free(sum);
    mr_dataset_free(&te);
}

/* Rewrite an npz member by member through edit(name, array, arg): 0 keeps
 * it, 1 drops it; extra members are added by the callback at the end
 * (name NULL). */
typedef int (*npz_edit)(mr_npz_writer *w, const char *name, mr_array *a, void *arg);

static void rewrite_npz(const char *path, npz_edit edit, void *arg) {
    char tmp[800];
    snprintf(tmp, sizeof tmp, "%s.edit.npz", path);
    mr_npz z;
    mr_npz_writer w;
    mr_error e;
    cr_assert(mr_npz_open(&z, path, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_writer_open(&w, tmp, 0, &e) == MR_OK, "%s", e.msg);
    for (size_t i = 0; i < z.n; i++) {
        mr_array a;
        cr_assert(mr_npz_read_index(&z, i, &a, &e) == MR_OK, "%s", e.msg);
        if (!edit(&w, z.m[i].name, &a, arg)) cr_assert(mr_npz_add(&w, z.m[i].name, a.dtype, a.ndim, a.shape, a.data, &e) == MR_OK, "%s", e.msg);
        mr_array_free(&a);
    }
    edit(&w, NULL, NULL, arg);
    mr_npz_close(&z);
    cr_assert(mr_npz_writer_close(&w, &e) == MR_OK, "%s", e.msg);
    cr_assert(rename(tmp, path) == 0);
}

/* the 16 named trainer fields, in the order of format 1's trainer/state */
static const char *const STATE_FIELDS[16] = {"epoch", "best_valid", "best_test", "best_epoch", "best_test_epoch", "lr_main", "lr_vmi",
                                             "sched_main/last_epoch", "sched_main/best", "sched_main/num_bad_epochs",
                                             "sched_main/cooldown_counter", "sched_vmi/last_epoch", "sched_vmi/best",
                                             "sched_vmi/num_bad_epochs", "sched_vmi/cooldown_counter", "bank_rows"};

static int to_format1(mr_npz_writer *w, const char *name, mr_array *a, void *arg) {
    static double st[16];
    static int seen;
    (void)arg;
    mr_error e;
    if (!name) {
        uint64_t n = 16;
        cr_assert(seen == 16, "%d named fields", seen);
        cr_assert(mr_npz_add(w, "trainer/state", MR_DT_F8, 1, &n, st, &e) == MR_OK);
        return 0;
    }
    if (!strcmp(name, "trainer/format")) return 1;
    for (int k = 0; k < 16; k++) {
        char full[96];
        snprintf(full, sizeof full, "trainer/%s", STATE_FIELDS[k]);
        if (!strcmp(name, full)) {
            cr_assert(a->count == 1);
            mr_array_to_f64(a, &st[k]);
            seen++;
            return 1;
        }
    }
    return 0;
}

/* Run directories a (straight) and b (interrupted and resumed) agree: every
 * parameter of best.npz (its config_json records the invocation's
 * epochs_num), last.npz and the predictions byte for byte, metrics.csv but
 * for the seconds column (header + `epochs` rows). */
static void same_run(const char *a, const char *b, size_t epochs) {
    /* best.npz embeds config_json, whose epochs_num differs between the two
     * invocations of the resumed run: compare its parameters instead */
    {
        char pa[700], pb[700];
        snprintf(pa, sizeof pa, "%s/best.npz", a);
        snprintf(pb, sizeof pb, "%s/best.npz", b);
        mr_npz za, zb;
        mr_error e;
        cr_assert(mr_npz_open(&za, pa, &e) == MR_OK && mr_npz_open(&zb, pb, &e) == MR_OK);
        cr_assert(za.n == zb.n);
        for (size_t i = 0; i < za.n; i++) {
            if (!strcmp(za.m[i].name, "config_json")) continue;
            mr_array x, y;
            cr_assert(mr_npz_read(&za, za.m[i].name, &x, &e) == MR_OK && mr_npz_read(&zb, za.m[i].name, &y, &e) == MR_OK);
            cr_assert(x.count == y.count && memcmp(x.data, y.data, x.count * mr_dtype_size(x.dtype)) == 0, "best.npz: %s differs", za.m[i].name);
            mr_array_free(&x);
            mr_array_free(&y);
        }
        mr_npz_close(&za);
        mr_npz_close(&zb);
    }
    const char *files[] = {"last.npz", "predictions_valid.npz", "predictions_test.npz", "metrics.csv"};
    for (int k = 0; k < 4; k++) {
        char pa[700], pb[700];
        snprintf(pa, sizeof pa, "%s/%s", a, files[k]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[k]);
        size_t la, lb;
        unsigned char *x = t_read_file(pa, &la), *y = t_read_file(pb, &lb);
        if (k == 3) { /* metrics.csv: identical but for the seconds column */
            cr_assert(x && y);
            x = realloc(x, la + 1), y = realloc(y, lb + 1);
            x[la] = y[lb] = 0;
            char *px = (char *)x, *py = (char *)y;
            size_t rows = 0;
            while (*px && *py) {
                char *ex = strchr(px, '\n'), *ey = strchr(py, '\n');
                cr_assert(ex && ey);
                *ex = *ey = 0;
                /* drop field 2 (seconds) */
                char *cx = strchr(px, ','), *cy = strchr(py, ',');
                char *dx = cx ? strchr(cx + 1, ',') : NULL, *dy = cy ? strchr(cy + 1, ',') : NULL;
                cr_assert(cx && cy && dx && dy);
                *cx = *cy = 0;
                cr_assert(strcmp(px, py) == 0 && strcmp(dx, dy) == 0, "metrics.csv row %zu differs", rows);
                rows++;
                px = ex + 1, py = ey + 1;
            }
            cr_assert(rows == epochs + 1 && !*px && !*py, "header and %zu epochs (%zu rows)", epochs, rows);
        } else {
            cr_assert(x && y && la == lb && memcmp(x, y, la) == 0, "%s differs between the straight and the resumed run", files[k]);
        }
        free(x);
        free(y);
    }
}

Test(train, resume_is_bit_exact, .timeout = 600) {
    char prefix[512], a[512], b[512], args[4096], out[65536];
    make_data(prefix);
    t_path(a, sizeof a, "straight");
    t_path(b, sizeof b, "resumed");
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 3 " SMALL, prefix, a);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 2 " SMALL, prefix, b);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --resume %s --epochs_num 3", b);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    same_run(a, b, 3);
    /* a format-1 checkpoint (positional trainer/state [16]) still resumes bit-exactly */
    char c[512], pc[700];
    t_path(c, sizeof c, "resumed_v1");
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 2 " SMALL, prefix, c);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(pc, sizeof pc, "%s/last.npz", c);
    rewrite_npz(pc, to_format1, NULL);
    snprintf(args, sizeof args, "train --resume %s --epochs_num 3", c);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    same_run(a, c, 3);
}

Test(train, bad_flags_and_mismatched_data_are_clear_errors) {
    char prefix[512], args[4096], out[16384];
    make_data(prefix);
    cr_assert(t_run_cli("train --frobnicate 3", out, sizeof out) == 2 && strstr(out, "--frobnicate"), "%s", out);
    cr_assert(t_run_cli("train --batch_size many", out, sizeof out) == 2 && strstr(out, "--batch_size"), "%s", out);
    cr_assert(t_run_cli("train --d_hiddens 50-3-128=10-3-128 --d_outs 10-3-128", out, sizeof out) == 2 && strstr(out, "--d_outs"), "%s", out);
    cr_assert(t_run_cli("train --optm SAM", out, sizeof out) == 2 && strstr(out, "SAM"), "%s", out);
    cr_assert(t_run_cli("train --learning_rate", out, sizeof out) == 2 && strstr(out, "--learning_rate"), "%s", out);
    snprintf(args, sizeof args, "train --data %s --d_a 74 --epochs_num 1", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "'audio'") && strstr(out, "74"), "%s", out);
    snprintf(args, sizeof args, "train --data %s/nowhere --epochs_num 1", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "nowhere"), "%s", out);
    /* official flags that mean nothing here are accepted with a note */
    snprintf(args, sizeof args, "train --data %s --out %s_r --epochs_num 1 --parallel --num_workers 8 --cuda 0 " SMALL, prefix, prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0 && strstr(out, "note: --parallel"), "%s", out);
}

/* ------------------------------------------------ runs a sweep can trust */

static int file_exists(const char *dir, const char *name) {
    char p[800];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Fresh data in prefix and a run of SMALL + extra flags in rd (t_path(name)); its exit status. */
static int small_run(char *prefix, char *rd, const char *name, const char *extra, char *out, size_t n) {
    char args[4096];
    make_data(prefix);
    t_path(rd, 512, name);
    snprintf(args, sizeof args, "train --data %s --out %s " SMALL " %s", prefix, rd, extra);
    return t_run_cli(args, out, n);
}

Test(train, nonfinite_loss_stops_the_run_with_status_3, .timeout = 300) {
    char prefix[512], rd[512], out[65536];
    cr_assert(small_run(prefix, rd, "diverged", "--epochs_num 2 --learning_rate 1e200 --gradient_clip -1", out, sizeof out) == 3, "%s", out);
    cr_assert(strstr(out, "non-finite") && strstr(out, "epoch 0") && strstr(out, "batch ") &&
                  (strstr(out, "loss_stage") || strstr(out, "grad of ")),
              "%s", out);
    cr_assert(!file_exists(rd, "summary.json") && !file_exists(rd, "last.npz"), "a diverged run wrote a checkpoint or a summary");
}

/* lr_main of a checkpoint set to 1e200: the next stage-2 step overflows */
static int blow_lr(mr_npz_writer *w, const char *name, mr_array *a, void *arg) {
    (void)w, (void)arg;
    if (name && !strcmp(name, "trainer/lr_main")) {
        cr_assert(a->dtype == MR_DT_F8 && a->count == 1);
        *(double *)a->data = 1e200;
    }
    return 0;
}

Test(train, divergence_leaves_the_last_good_checkpoint, .timeout = 300) {
    char prefix[512], rd[512], args[4096], out[65536], p[800];
    cr_assert(small_run(prefix, rd, "run", "--epochs_num 1 --gradient_clip -1", out, sizeof out) == 0, "%s", out);
    snprintf(p, sizeof p, "%s/last.npz", rd);
    rewrite_npz(p, blow_lr, NULL);
    const char *keep[] = {"last.npz", "best.npz", "metrics.csv", "predictions_test.npz"};
    unsigned char *before[4];
    size_t len[4];
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/%s", rd, keep[k]);
        before[k] = t_read_file(p, &len[k]);
        cr_assert(before[k]);
    }
    snprintf(args, sizeof args, "train --resume %s --epochs_num 3", rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 3, "%s", out);
    cr_assert(strstr(out, "non-finite") && strstr(out, "epoch 1, stage 2 batch 2/10"), "%s", out);
    for (int k = 0; k < 4; k++) {
        size_t n;
        snprintf(p, sizeof p, "%s/%s", rd, keep[k]);
        unsigned char *now = t_read_file(p, &n);
        cr_assert(now && n == len[k] && !memcmp(now, before[k], n), "%s changed after the divergence", keep[k]);
        free(now), free(before[k]);
    }
    cr_assert(!file_exists(rd, "summary.json"));
}

Test(train, run_directory_in_use_or_finished_is_refused, .timeout = 300) {
    char prefix[512], rd[512], args[4096], out[65536], p[800];
    cr_assert(small_run(prefix, rd, "run", "--epochs_num 1", out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 1 " SMALL, prefix, rd);
    /* finished: the same command again is refused, --overwrite replaces, --resume continues */
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "finished") && strstr(out, "--overwrite"), "%s", out);
    snprintf(p, sizeof p, "%s/summary.json", rd);
    size_t n0, n1;
    unsigned char *s0 = t_read_file(p, &n0);
    cr_assert(s0);
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 1 --overwrite " SMALL, prefix, rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --resume %s --epochs_num 2", rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    unsigned char *s1 = t_read_file(p, &n1);
    cr_assert(s1 && strstr((char *)s0, "\"epochs\": 1") && n1 > 12 && !memcmp(s1, "{\"epochs\": 2", 12));
    free(s0), free(s1);
    /* in use: a process holding the lock of train.lock (as a running mimrl train does) */
    snprintf(p, sizeof p, "%s/train.lock", rd);
    int fd = open(p, O_RDWR);
    cr_assert(fd >= 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    cr_assert(fcntl(fd, F_SETLK, &fl) == 0);
    snprintf(args, sizeof args, "train --resume %s --epochs_num 3", rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "in use") && strstr(out, "train.lock"), "%s", out);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    cr_assert(strstr(out, pid), "the message names the holder: %s", out);
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 1 --overwrite " SMALL, prefix, rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "in use"), "%s", out);
    close(fd); /* the lock dies with its holder */
    snprintf(args, sizeof args, "train --resume %s --epochs_num 3", rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
}

/* A run killed with SIGKILL after its first checkpoint, mid-epoch, resumes
 * into the uninterrupted run bit for bit. */
Test(train, sigkill_mid_epoch_then_resume_is_bit_exact, .timeout = 600) {
    char prefix[512], a[512], b[512], args[4096], out[65536], p[800];
    cr_assert(small_run(prefix, a, "straight", "--epochs_num 3", out, sizeof out) == 0, "%s", out);
    t_path(b, sizeof b, "killed");
    const char *bin = getenv("MIMRL_BIN");
    snprintf(args, sizeof args, "exec %s train --data %s --out %s --epochs_num 3 " SMALL " >/dev/null 2>&1", bin && *bin ? bin : "build/mimrl", prefix, b);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", args, (char *)NULL);
        _exit(127);
    }
    snprintf(p, sizeof p, "%s/last.npz", b);
    int waited = 0;
    while (access(p, F_OK) != 0 && waited < 120000) {
        usleep(5000);
        waited += 5;
    }
    cr_assert(access(p, F_OK) == 0, "no checkpoint after %d ms", waited);
    usleep(200000); /* into epoch 1 (a small run's epoch takes seconds) */
    cr_assert(kill(pid, SIGKILL) == 0);
    int st;
    cr_assert(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the run ended before the kill");
    cr_assert(!file_exists(b, "summary.json"));
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 3 " SMALL, prefix, b);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "unfinished"), "an unfinished run is not silently restarted: %s", out);
    snprintf(args, sizeof args, "train --resume %s", b);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    same_run(a, b, 3);
}

/* Progress: redrawn in place (\r) by time on a terminal (forced here with
 * MIMRL_PROGRESS=1, the output being a file); none in a log. */
Test(train, progress_line_on_a_terminal_only, .timeout = 300) {
    char prefix[512], rd[512], args[4096], out[65536];
    cr_assert(small_run(prefix, rd, "run", "--epochs_num 2", out, sizeof out) == 0, "%s", out);
    cr_assert(!strchr(out, '\r'), "carriage return in a log:\n%s", out);
    setenv("MIMRL_PROGRESS", "1", 1);
    snprintf(args, sizeof args, "train --data %s --out %s --epochs_num 2 --overwrite " SMALL, prefix, rd);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    unsetenv("MIMRL_PROGRESS");
    /* the last batch of each phase is always drawn */
    const char *want[] = {"\r  epoch 0/2 stage 2 batch 10/10 ", "\r  epoch 1/2 stage 1 batch 10/10 ", "\r  epoch 1/2 valid   batch 2/2 ",
                          "samples/s", "epoch left ", "run left "};
    for (int k = 0; k < 6; k++) cr_assert(strstr(out, want[k]), "missing '%s' in\n%s", want[k], out);
}

/* BERT text branch (issue 12 item 4): a bert-init BERT fine-tuned on the
 * transcripts; --resume bit-exact with BERT's dropouts on (0.1 in its
 * config.json) drawn from the dropout stream; BERT tensors move, the pooler
 * does not (no gradient, in no optimizer group); bert_freeze all keeps BERT
 * exactly at its weights. */
static void bert_tensor(const char *ckpt, const char *name, double *out, size_t n) {
    mr_npz z;
    mr_error e;
    mr_array a;
    cr_assert(mr_npz_open(&z, ckpt, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_npz_read(&z, name, &a, &e) == MR_OK, "%s: %s", ckpt, e.msg);
    cr_assert(a.count == n, "%s: %llu values", name, (unsigned long long)a.count);
    mr_array_to_f64(&a, out);
    mr_array_free(&a);
    mr_npz_close(&z);
}

/* run a: `epochs` epochs straight; run b: one fewer, then --resume to `epochs` */
static void straight_and_resumed(const char *prefix, const char *flags, const char *a, const char *b, int epochs) {
    char args[4096], out[65536];
    snprintf(args, sizeof args, "train --data %s %s --out %s --epochs_num %d " SMALL, prefix, flags, a, epochs);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --data %s %s --out %s --epochs_num %d " SMALL, prefix, flags, b, epochs - 1);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --resume %s --epochs_num %d", b, epochs);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    same_run(a, b, (size_t)epochs);
}

Test(train, bert_fine_tuning_and_resume_are_bit_exact, .timeout = 900) {
    char prefix[512], bdir[512], a[512], b[512], f[512], args[4096], out[65536];
    make_data(prefix);
    t_path(bdir, sizeof bdir, "bert");
    snprintf(args, sizeof args, "bert-init --layers 2 --hidden 16 --heads 2 --intermediate 32 --out %s", bdir);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    t_path(a, sizeof a, "bert_straight");
    t_path(b, sizeof b, "bert_resumed");
    t_path(f, sizeof f, "bert_frozen");
    char flags[700];
    snprintf(flags, sizeof flags, "--bert %s --bert_pad longest", bdir);
    straight_and_resumed(prefix, flags, a, b, 3);
    /* the weights moved; the pooler did not */
    char la[700], lf[700];
    snprintf(la, sizeof la, "%s/last.npz", a);
    snprintf(lf, sizeof lf, "%s/last.npz", f);
    mr_bert_config c;
    char cj[700];
    snprintf(cj, sizeof cj, "%s/config.json", bdir);
    mr_error e;
    cr_assert(mr_bert_config_read_json(cj, &c, &e) == MR_OK, "%s", e.msg);
    mr_params p0;
    mr_params_init(&p0);
    cr_assert(mr_bert_load_dir(bdir, &c, &p0, NULL, &e) == MR_OK, "%s", e.msg);
    double *x = t_alloc(p0.total);
    size_t moved = 0;
    for (size_t i = 0; i < p0.n; i++) {
        bert_tensor(la, p0.t[i].name, x, p0.t[i].size);
        int same = memcmp(x, mr_params_val(&p0, i), p0.t[i].size * sizeof(double)) == 0;
        if (strstr(p0.t[i].name, ".pooler.")) cr_assert(same, "%s changed", p0.t[i].name);
        else moved += !same;
    }
    cr_assert(moved > p0.n / 2, "only %zu BERT tensors changed", moved);
    /* bert_freeze all: BERT stays exactly at its weights (best.npz holds it
     * in full); last.npz holds a reference instead of the tensors, and the
     * run resumes bit-exactly from it */
    char g[512];
    t_path(g, sizeof g, "bert_frozen_resumed");
    snprintf(flags, sizeof flags, "--bert %s --bert_freeze all", bdir);
    straight_and_resumed(prefix, flags, f, g, 2);
    {
        mr_npz z;
        cr_assert(mr_npz_open(&z, lf, &e) == MR_OK, "%s", e.msg);
        cr_assert(mr_npz_find(&z, "bertmodel.embeddings.word_embeddings.weight") < 0 && mr_npz_find(&z, "trainer/bert_frozen_crc32") >= 0);
        mr_npz_close(&z);
    }
    snprintf(lf, sizeof lf, "%s/best.npz", f);
    for (size_t i = 0; i < p0.n; i++) {
        bert_tensor(lf, p0.t[i].name, x, p0.t[i].size);
        cr_assert(memcmp(x, mr_params_val(&p0, i), p0.t[i].size * sizeof(double)) == 0, "%s changed while frozen", p0.t[i].name);
    }
    mr_params_free(&p0);
    /* the BERT directory changed under a frozen run: --resume refuses (exit 2) */
    snprintf(args, sizeof args, "bert-init --layers 2 --hidden 16 --heads 2 --intermediate 32 --seed 1 --out %s", bdir);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(args, sizeof args, "train --resume %s --epochs_num 3", g);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "not the one the run started from"), "%s", out);
}

/* --bert_weights FILE (issue 12 item 3: "a state_dict saved as npz loads
 * too") and --bert_chunk N in training: a directory holding only config.json
 * and vocab.txt plus the same weights as an npz state_dict under HF's
 * "bert." names, trained with chunks of 3 samples, gives exactly the run of
 * the Hugging Face directory at the default chunk (8). Chunking sums no
 * differently with one BLAS thread (bert.h "Summation order"; with two,
 * OpenBLAS may choose its threaded path by product size), so the test pins
 * OPENBLAS_NUM_THREADS=1. The resumed run finds both flags in config.json. */
Test(train, bert_weights_npz_and_chunk_size_give_the_same_run, .timeout = 600) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    char prefix[512], bdir[512], wdir[512], wnpz[600], a[512], b[512], c2[512], args[4096], out[65536];
    make_data(prefix);
    t_path(bdir, sizeof bdir, "bert_w");
    snprintf(args, sizeof args, "bert-init --layers 2 --hidden 16 --heads 2 --intermediate 32 --out %s", bdir);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    /* the weights-less directory and the npz state_dict */
    t_path(wdir, sizeof wdir, "bert_w_nofile");
    cr_assert(mkdir(wdir, 0755) == 0);
    const char *keep[] = {"config.json", "vocab.txt"};
    for (int k = 0; k < 2; k++) {
        char s[700], d[700];
        size_t n;
        snprintf(s, sizeof s, "%s/%s", bdir, keep[k]);
        snprintf(d, sizeof d, "%s/%s", wdir, keep[k]);
        unsigned char *x = t_read_file(s, &n);
        cr_assert(x && t_write_file(d, x, n) == 0);
        free(x);
    }
    mr_bert_config c;
    mr_params p0, hf;
    mr_params_init(&p0), mr_params_init(&hf);
    mr_error e;
    cr_assert(mr_bert_load_dir(bdir, &c, &p0, NULL, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_bert_params_add(&hf, &c, "bert.", &e) == MR_OK && mr_params_alloc(&hf, &e) == MR_OK, "%s", e.msg);
    cr_assert(hf.total == p0.total);
    memcpy(hf.data, p0.data, p0.total * sizeof(double));
    snprintf(wnpz, sizeof wnpz, "%s/bert_state_dict.npz", wdir);
    cr_assert(mr_params_save(&hf, wnpz, NULL, 0, &e) == MR_OK, "%s", e.msg);
    mr_params_free(&p0), mr_params_free(&hf);
    /* without --bert_weights the directory has no weights: exit 2 naming the file */
    t_path(a, sizeof a, "bert_w_a");
    snprintf(args, sizeof args, "train --data %s --bert %s --out %s --epochs_num 1 " SMALL, prefix, wdir, a);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "model.safetensors"), "%s", out);
    snprintf(args, sizeof args, "train --data %s --bert %s --bert_weights %s/nothing.npz --out %s --epochs_num 1 " SMALL, prefix,
             wdir, wdir, a);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "nothing.npz"), "%s", out);
    const char *bad[] = {"0", "-1", "4097", "3x", ""};
    for (int k = 0; k < 5; k++) {
        snprintf(args, sizeof args, "train --data %s --bert %s --bert_chunk '%s' --out %s --epochs_num 1 " SMALL, prefix, bdir, bad[k], a);
        cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "--bert_chunk"), "--bert_chunk '%s': %s", bad[k], out);
    }
    /* the HF directory at chunk 8, against the npz at chunk 3 (straight and resumed) */
    t_path(b, sizeof b, "bert_w_b");
    t_path(c2, sizeof c2, "bert_w_c");
    snprintf(args, sizeof args, "train --data %s --bert %s --bert_pad longest --out %s --epochs_num 2 " SMALL, prefix, bdir, a);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    char flags[1400];
    snprintf(flags, sizeof flags, "--bert %s --bert_weights %s --bert_chunk 3 --bert_pad longest", wdir, wnpz);
    straight_and_resumed(prefix, flags, b, c2, 2);
    /* chunk 8 against chunk 3, bit for bit: a claim about the BLAS=none
     * build, whose products sum in a fixed order whatever the shape. OpenBLAS
     * may pick its kernel or blocking by the product's shape, and the chunk
     * size changes the shapes: on an AMD EPYC with AVX-512 and Debian's
     * OpenBLAS 0.3.21 (measured 2026-12-06) these two 2-epoch runs differ by up
     * to 8.9e-6 in the parameters (last-bit differences grown by training),
     * while each is bit-reproducible, on any thread count. */
    if (t_reference_phase())
        same_run(a, b, 2);
    else
        cr_log_info("chunk 8 vs chunk 3 compared bit for bit in the BLAS=none phase only (OpenBLAS may group sums by shape)");
    char cj[700];
    snprintf(cj, sizeof cj, "%s/config.json", c2);
    size_t n;
    char *txt = (char *)t_read_file(cj, &n);
    cr_assert(txt && strstr(txt, "\"bert_chunk\": 3") && strstr(txt, "bert_state_dict.npz"), "%s", txt ? txt : "(none)");
    free(txt);
}
