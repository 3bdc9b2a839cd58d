/* cli.c — the `mimrl` command: one binary, subcommands.
 *
 * Exit status: 0 success, 2 bad input (flags, files, shapes, values: the
 * message names the file and the field; for train also a run directory in
 * use or already holding a run), 3 a training run diverged (non-finite loss
 * or gradient), 1 anything else.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/core/common.h"
#include "ref/cli/demo.h"
#include "ref/nn/metrics.h"
#include "ref/cli/cli.h"

#define MIMRL_VERSION "0.1.0"

static void usage(FILE *f) {
    fprintf(f,
            "mimrl %s — double-precision reference implementation of MIMRL\n"
            "\n"
            "usage: mimrl <command> [options]\n"
            "\n"
            "commands:\n"
            "  train [--data PREFIX] [--out RUNDIR] [--preset readme] [official flags] | --resume RUNDIR\n"
            "                     MIMRL's two-stage training ('mimrl train --help')\n"
            "  eval --checkpoint FILE.npz --data PREFIX [--split test]\n"
            "                     metrics of a saved model on a split\n"
            "  demo [--out DIR] [--seed N] [--epochs N]\n"
            "                     end-to-end run of the foundation (train, checkpoint, metrics)\n"
            "  info FILE.npz|FILE.npy\n"
            "                     list members (dtype, shape, compression) and validate every one;\n"
            "                     a mimrl-npz dataset split is also checked against the schema\n"
            "  synth [--like mosi|mosei|avec] [--out PREFIX] ...\n"
            "                     synthetic dataset with known information structure ('mimrl synth --help')\n"
            "  metrics --pred P --true Y [--task mosi|avec] [--json]\n"
            "                     evaluation metrics of spec §6; P and Y are .npy files or\n"
            "                     FILE.npz:member (an npz with a single member needs no :member)\n"
            "  estimate [--preset poole|cmine|ccmi] [--dist D] [--bound B] [--critic C] ...\n"
            "                     train an MI/CMI estimator on a distribution with known\n"
            "                     information and print truth beside estimate ('mimrl estimate --help')\n"
            "  estimate --data FILE.npz --x NAME --y NAME [--z NAME] [--method M,..|all] [--json]\n"
            "                     MI or CMI of your own samples (also --x X.npy --y Y.npy)\n"
            "  verify-estimators [--out DIR] [--quick]\n"
            "                     the slow estimator benchmark of make verify (CSV + Markdown)\n"
            "  verify-peer [--quick] [--seeds N] [--n N] [--out DIR] [--tasks T,..] [--methods M,..]\n"
            "                     our estimators on peer benchmarks (Beyond Normal, CCMI, tigramite)\n"
            "  oracle --checkpoint CKPT.npz --batch BATCH.npz --out OUT.npz\n"
            "                     one forward and the backward of both stage losses, randomness injected\n"
            "  conform --port 'CMD {ckpt} {batch} {out}' [--suite quick|full|bert] [--dtype float64|float32]\n"
            "                     run a port on a generated suite; per case pass/fail, first diverging tensor\n"
            "  tokenize --vocab FILE [--max_length N] [--pad longest|max_length] < TEXT\n"
            "                     bert-base-uncased WordPiece ids, one line of text per line\n"
            "  bert-init --layers N --hidden H --out DIR [--vocab-from PREFIX_train.npz|FILE] ...\n"
            "                     a small random BERT as a Hugging Face directory ('mimrl bert-init --help')\n"
            "  bert-info DIR|FILE.safetensors\n"
            "                     check and describe a BERT directory or safetensors file\n"
            "  blas               which BLAS this build uses\n"
            "  version, help\n",
            MIMRL_VERSION);
}

/* ------------------------------------------------------------------- info */

static void shape_str(char *b, size_t n, const mr_array *a) {
    size_t k = (size_t)snprintf(b, n, "[");
    for (int d = 0; d < a->ndim && k < n; d++)
        k += (size_t)snprintf(b + k, n - k, "%s%llu", d ? ", " : "", (unsigned long long)a->shape[d]);
    if (k < n) snprintf(b + k, n - k, "]");
}

static int cmd_info(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: mimrl info FILE.npz|FILE.npy\n");
        return 2;
    }
    const char *path = argv[2];
    mr_error e = {0};
    size_t len = strlen(path);
    if (len > 4 && strcmp(path + len - 4, ".npy") == 0) {
        mr_array a;
        if (mr_npy_load(path, &a, &e) != MR_OK) {
            printf("%s: INVALID: %s\n", path, e.msg);
            return 2;
        }
        char sh[256];
        shape_str(sh, sizeof sh, &a);
        printf("%s: npy, dtype %s, shape %s, %llu elements\nvalidation: valid\n", path, mr_dtype_descr(a.dtype), sh,
               (unsigned long long)a.count);
        mr_array_free(&a);
        return 0;
    }
    mr_npz z;
    if (mr_npz_open(&z, path, &e) != MR_OK) {
        printf("%s: INVALID: %s\n", path, e.msg);
        return 2;
    }
    printf("%s: npz, %zu member%s%s\n", path, z.n, z.n == 1 ? "" : "s", z.zip64 ? ", ZIP64 records" : "");
    printf("  %-44s %-5s %-20s %-9s %12s %12s\n", "member", "dtype", "shape", "method", "bytes", "in file");
    int bad = 0;
    for (size_t i = 0; i < z.n; i++) {
        mr_array a;
        mr_error me = {0};
        const mr_npz_member *m = &z.m[i];
        const char *method = m->method == 8 ? "deflated" : "stored";
        if (mr_npz_read_index(&z, i, &a, &me) != MR_OK) {
            printf("  %-44s INVALID: %s\n", m->name, me.msg);
            bad++;
            continue;
        }
        char sh[256];
        shape_str(sh, sizeof sh, &a);
        printf("  %-44s %-5s %-20s %-9s %12llu %12llu\n", m->name, mr_dtype_descr(a.dtype), sh, method,
               (unsigned long long)m->usize, (unsigned long long)m->csize);
        mr_array_free(&a);
    }
    mr_npz_close(&z);
    if (bad) {
        printf("validation: INVALID (%d of %zu members unreadable)\n", bad, z.n);
        return 2;
    }
    printf("validation: valid (every member read, CRC-32 and .npy header checked)\n");
    mr_npz z2;
    mr_error e2 = {0};
    if (mr_npz_open(&z2, path, &e2) == MR_OK) {
        int is_dataset = mr_npz_find(&z2, "schema_version") >= 0;
        mr_npz_close(&z2);
        if (is_dataset) return mr_info_dataset(path);
    }
    return 0;
}

/* ---------------------------------------------------------------- metrics */

/* Load a 1-d (or [N,1]) numeric array as doubles; NaN/inf refused. */
static int load_vector(const char *cmd, const char *flagname, const char *spec, double **out, size_t *n) {
    mr_error e = {0};
    mr_array a;
    int rc;
    size_t len = strlen(spec);
    if (len > 4 && strcmp(spec + len - 4, ".npz") == 0) {
        /* an npz with exactly one member */
        mr_npz z;
        rc = mr_npz_open(&z, spec, &e);
        if (rc == MR_OK) {
            if (z.n != 1) {
                fprintf(stderr, "mimrl %s: %s: %s has %zu members; name one as %s:MEMBER\n", cmd, flagname, spec, z.n, spec);
                mr_npz_close(&z);
                return 2;
            }
            rc = mr_npz_read_index(&z, 0, &a, &e);
            mr_npz_close(&z);
        }
    } else {
        rc = mr_npy_load(spec, &a, &e);
    }
    if (rc != MR_OK) {
        fprintf(stderr, "mimrl %s: %s: %s\n", cmd, flagname, e.msg);
        return 2;
    }
    int ok_shape = a.ndim == 1 || (a.ndim == 2 && a.shape[1] == 1) || (a.ndim == 3 && a.shape[1] == 1 && a.shape[2] == 1);
    if (!ok_shape || a.count == 0) {
        char sh[256];
        shape_str(sh, sizeof sh, &a);
        fprintf(stderr, "mimrl %s: %s: %s has shape %s; expected a non-empty vector [N] or [N, 1]\n", cmd, flagname, spec, sh);
        mr_array_free(&a);
        return 2;
    }
    double *v = malloc((size_t)a.count * sizeof *v);
    if (!v) {
        mr_array_free(&a);
        fprintf(stderr, "mimrl %s: out of memory\n", cmd);
        return 1;
    }
    mr_array_to_f64(&a, v);
    mr_array_free(&a);
    for (size_t i = 0; i < a.count; i++)
        if (!isfinite(v[i])) {
            fprintf(stderr, "mimrl %s: %s: %s holds a non-finite value at index %zu\n", cmd, flagname, spec, i);
            free(v);
            return 2;
        }
    *out = v;
    *n = (size_t)a.count;
    return 0;
}

static void json_num(FILE *f, const char *key, double v, int last) {
    if (isfinite(v)) fprintf(f, "  \"%s\": %.17g%s\n", key, v, last ? "" : ",");
    else fprintf(f, "  \"%s\": null%s\n", key, last ? "" : ",");
}

static int cmd_metrics(int argc, char **argv) {
    mr_flag fl[] = {{"--pred", 1, NULL, 0}, {"--true", 1, NULL, 0}, {"--task", 1, NULL, 0}, {"--json", 0, NULL, 0},
                 {"--rmse-scale", 1, NULL, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, sizeof fl / sizeof fl[0], "metrics");
    if (rc) return rc;
    if (!fl[0].value || !fl[1].value) {
        fprintf(stderr, "mimrl metrics: --pred and --true are required\n");
        return 2;
    }
    const char *task = fl[2].value ? fl[2].value : "mosi";
    int avec;
    if (strcmp(task, "mosi") == 0 || strcmp(task, "mosei") == 0) avec = 0;
    else if (strcmp(task, "avec") == 0 || strcmp(task, "avec2019") == 0) avec = 1;
    else {
        fprintf(stderr, "mimrl metrics: --task must be mosi, mosei or avec (got '%s')\n", task);
        return 2;
    }
    double scale = 25.0;
    if (fl[4].value) {
        char *end;
        scale = strtod(fl[4].value, &end);
        if (*end || !isfinite(scale) || scale <= 0) {
            fprintf(stderr, "mimrl metrics: --rmse-scale expects a positive number, got '%s'\n", fl[4].value);
            return 2;
        }
    }
    double *p = NULL, *y = NULL;
    size_t np = 0, ny = 0;
    if ((rc = load_vector("metrics", "--pred", fl[0].value, &p, &np))) return rc;
    if ((rc = load_vector("metrics", "--true", fl[1].value, &y, &ny))) {
        free(p);
        return rc;
    }
    if (np != ny) {
        fprintf(stderr, "mimrl metrics: --pred %s has %zu values but --true %s has %zu\n", fl[0].value, np, fl[1].value, ny);
        free(p);
        free(y);
        return 2;
    }
    mr_metrics m;
    if (avec) mr_metrics_avec(p, y, np, scale, &m);
    else mr_metrics_mosi(p, y, np, &m);
    if (fl[3].seen) {
        printf("{\n  \"task\": \"%s\",\n  \"n\": %zu,\n", avec ? "avec" : "mosi", np);
        if (avec) {
            json_num(stdout, "mae", m.mae, 0);
            json_num(stdout, "ccc", m.ccc, 0);
            json_num(stdout, "rmse", m.rmse, 0);
            json_num(stdout, "rmse_scale", scale, 1);
        } else {
            printf("  \"n_non0\": %zu,\n", m.n_non0);
            json_num(stdout, "mae", m.mae, 0);
            json_num(stdout, "corr", m.corr, 0);
            json_num(stdout, "acc7", m.acc7, 0);
            json_num(stdout, "acc5", m.acc5, 0);
            json_num(stdout, "acc2_non0", m.acc2_non0, 0);
            json_num(stdout, "f1_non0", m.f1_non0, 0);
            json_num(stdout, "acc2_has0", m.acc2_has0, 0);
            json_num(stdout, "f1_has0", m.f1_has0, 1);
        }
        printf("}\n");
    } else if (avec) {
        printf("AVEC 2019 metrics over %zu samples\n  mae   %.6f\n  ccc   %.6f\n  rmse  %.6f  (labels ×%g)\n", np, m.mae,
               m.ccc, m.rmse, scale);
    } else {
        printf("MOSI/MOSEI metrics over %zu samples (%zu with a non-zero label)\n", np, m.n_non0);
        printf("  mae        %.6f\n  corr       %.6f\n  acc7       %.6f\n  acc5       %.6f\n", m.mae, m.corr, m.acc7, m.acc5);
        printf("  acc2_non0  %.6f\n  f1_non0    %.6f\n  acc2_has0  %.6f\n  f1_has0    %.6f\n", m.acc2_non0, m.f1_non0,
               m.acc2_has0, m.f1_has0);
    }
    free(p);
    free(y);
    return 0;
}

/* ------------------------------------------------------------------- demo */

static int cmd_demo(int argc, char **argv) {
    mr_flag fl[] = {{"--out", 1, NULL, 0}, {"--seed", 1, NULL, 0}, {"--epochs", 1, NULL, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, sizeof fl / sizeof fl[0], "demo");
    if (rc) return rc;
    unsigned long seed = 0, epochs = 30;
    if (fl[1].value && mr_parse_ulong("demo", "--seed", fl[1].value, &seed)) return 2;
    if (fl[2].value && (mr_parse_ulong("demo", "--epochs", fl[2].value, &epochs) || epochs == 0 || epochs > 100000)) {
        fprintf(stderr, "mimrl demo: --epochs must be between 1 and 100000\n");
        return 2;
    }
    mr_error e = {0};
    rc = mr_demo(fl[0].value ? fl[0].value : "build/demo", seed, (int)epochs, stdout, &e);
    if (rc != MR_OK) {
        fprintf(stderr, "mimrl demo: %s\n", e.msg);
        return rc == MR_EIO || rc == MR_EINVAL ? 2 : 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    mr_alloc_policy();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mimrl %s (BLAS: %s)\n", MIMRL_VERSION, mr_blas_name());
        return 0;
    }
    if (strcmp(cmd, "blas") == 0) {
        char b[512];
        mr_blas_describe(b, sizeof b);
        printf("[blas] %s\n", b);
        return 0;
    }
    if (strcmp(cmd, "info") == 0) return cmd_info(argc, argv);
    if (strcmp(cmd, "metrics") == 0) return cmd_metrics(argc, argv);
    if (strcmp(cmd, "demo") == 0) return cmd_demo(argc, argv);
    if (strcmp(cmd, "estimate") == 0) return mr_cmd_estimate(argc, argv);
    if (strcmp(cmd, "synth") == 0) return mr_cmd_synth(argc, argv);
    if (strcmp(cmd, "oracle") == 0) return mr_cmd_oracle(argc, argv);
    if (strcmp(cmd, "conform") == 0) return mr_cmd_conform(argc, argv);
    if (strcmp(cmd, "train") == 0) return mr_cmd_train(argc, argv);
    if (strcmp(cmd, "eval") == 0) return mr_cmd_eval(argc, argv);
    if (strncmp(cmd, "bert-", 5) == 0) return mr_cmd_bert(argc, argv);
    if (strcmp(cmd, "verify-estimators") == 0) return mr_cmd_verify_estimators(argc, argv);
    if (strcmp(cmd, "verify-peer") == 0) return mr_cmd_verify_peer(argc, argv);
    if (strcmp(cmd, "tokenize") == 0) return mr_cmd_tokenize(argc, argv);
    fprintf(stderr, "mimrl: unknown command '%s' (see 'mimrl help')\n", cmd);
    return 2;
}
