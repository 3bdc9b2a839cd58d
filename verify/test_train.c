/* test_train.c — `mimrl train` / `mimrl eval` (ref/cli/cli_train.c, ref/train/train.c) end to end on small synthetic
 * data: a run beats the predict-the-mean baseline, --resume continues bit
 * for bit, the run directory holds what the README says, and bad flags or
 * data/config mismatches are clear errors (exit status 2). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "verify/helpers.h"



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

static double json_num(const char *text, const char *key) {
    const char *p = strstr(text, key);
    cr_assert(p, "%s missing", key);
    p = strchr(p + strlen(key), ':');
    return strtod(p + 1, NULL);
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
    /* predict-the-mean baseline on test, with the training mean */
    char p[700];
    mr_dataset tr, te;
    mr_error e;
    snprintf(p, sizeof p, "%s_train.npz", prefix);
    cr_assert(mr_dataset_open(&tr, p, NULL, &e) == MR_OK);
    snprintf(p, sizeof p, "%s_test.npz", prefix);
    cr_assert(mr_dataset_open(&te, p, NULL, &e) == MR_OK);
    double mu = 0, base = 0;
    for (size_t i = 0; i < tr.N; i++) mu += tr.label[i];
    mu /= tr.N;
    for (size_t i = 0; i < te.N; i++) base += fabs(te.label[i] - mu);
    base /= te.N;
    snprintf(p, sizeof p, "%s/summary.json", rd);
    size_t n;
    char *sum = (char *)t_read_file(p, &n);
    sum = realloc(sum, n + 1);
    sum[n] = 0;
    double mae = json_num(strstr(sum, "test_at_best_valid"), "\"mae\"");
    /* stated margin: at least 20% below the baseline. Rounding differences
     * between BLAS builds or OpenBLAS kernels change the trajectory of such a
     * small run noticeably; over seeds 1–3 in both builds this configuration
     * gave 0.70–0.88 against a baseline of 1.23 (28–43% below). */
    cr_assert(mae < 0.8 * base, "test MAE at best valid %.4f vs predict-the-mean %.4f", mae, base);
    /* eval reproduces the test metric of the best checkpoint (eval mode is deterministic) */
    snprintf(args, sizeof args, "eval --checkpoint %s/best.npz --data %s --split test --json", rd, prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    double emae = json_num(out, "\"mae\"");
    cr_assert(fabs(emae - mae) < 1e-9, "eval %.12g vs summary %.12g", emae, mae);
    /* metrics.csv: a header and one row per epoch */
    snprintf(p, sizeof p, "%s/metrics.csv", rd);
    char *csv = (char *)t_read_file(p, &n);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += csv[i] == '\n';
    cr_assert(lines == 17, "%zu lines", lines);
    free(csv);
    free(sum);
    mr_dataset_free(&tr);
    mr_dataset_free(&te);
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
            cr_assert(rows == 4 && !*px && !*py, "header and three epochs (%zu rows)", rows);
        } else {
            cr_assert(x && y && la == lb && memcmp(x, y, la) == 0, "%s differs between the straight and the resumed run", files[k]);
        }
        free(x);
        free(y);
    }
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
