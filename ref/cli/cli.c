/* cli.c — the `mimrl` command: one binary, subcommands.
 *
 * Exit status: 0 success, 2 bad input (flags, files, shapes, values: the
 * message names the file and the field; for train also a run directory in
 * use or already holding a run), 3 a training run diverged (non-finite loss
 * or gradient), 1 anything else.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "ref/core/common.h"
#include "ref/cli/demo.h"
#include "ref/nn/metrics.h"
#include "ref/cli/cli.h"

#define MIMRL_VERSION "0.1.0"

/* ------------------------------------------------------------------- info */

static void shape_str(char *b, size_t n, const mr_array *a) {
    size_t k = (size_t)snprintf(b, n, "[");
    for (int d = 0; d < a->ndim && k < n; d++)
        k += (size_t)snprintf(b + k, n - k, "%s%llu", d ? ", " : "", (unsigned long long)a->shape[d]);
    if (k < n) snprintf(b + k, n - k, "]");
}

static const mr_cmd_flags FLAGS_INFO = {
    "info", "FILE.npz|FILE.npy",
    "Lists the members (dtype, shape, compression) and validates every one; a mimrl-npz\n"
    "dataset split is also checked against the schema (datasets/SCHEMA.md).\n",
    NULL, 0, NULL};

static int cmd_info(int argc, char **argv) {
    if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        mr_opts_help(&FLAGS_INFO, stdout);
        return 0;
    }
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

typedef struct {
    const char *pred, *truth, *task, *rmse_scale;
    int json;
} metrics_opts;

static const mr_opt METRICS_OPTS[] = {
    {"--pred", MR_OPT_TEXT, offsetof(metrics_opts, pred), NULL, "P", "predictions: a .npy file or FILE.npz:member (required)", NULL, 0},
    {"--true", MR_OPT_TEXT, offsetof(metrics_opts, truth), NULL, "Y", "labels, same forms (required)", NULL, 0},
    {"--task", MR_OPT_TEXT, offsetof(metrics_opts, task), "mosi", "mosi|mosei|avec", "the metric set of spec §6", NULL, 0},
    {"--json", MR_OPT_SWITCH, offsetof(metrics_opts, json), NULL, NULL, "print JSON instead of a table", NULL, 0},
    {"--rmse-scale", MR_OPT_TEXT, offsetof(metrics_opts, rmse_scale), "25", "X", "avec: labels are multiplied by X for the RMSE", NULL, 0},
};
static const mr_cmd_flags FLAGS_METRICS = {
    "metrics", "--pred P --true Y [--task mosi|avec] [--json]",
    "Evaluation metrics of spec §6. P and Y are .npy files or FILE.npz:member (an npz with a single\n"
    "member needs no :member), vectors [N] or [N, 1] of finite numbers.\n",
    METRICS_OPTS, MR_OPT_N(METRICS_OPTS), NULL};

static int cmd_metrics(int argc, char **argv) {
    metrics_opts o = {0};
    int rc = mr_opts_parse(&FLAGS_METRICS, argc, argv, 2, &o);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    if (!o.pred || !o.truth) {
        fprintf(stderr, "mimrl metrics: --pred and --true are required\n");
        return 2;
    }
    const char *task = o.task;
    int avec;
    if (strcmp(task, "mosi") == 0 || strcmp(task, "mosei") == 0) avec = 0;
    else if (strcmp(task, "avec") == 0 || strcmp(task, "avec2019") == 0) avec = 1;
    else {
        fprintf(stderr, "mimrl metrics: --task must be mosi, mosei or avec (got '%s')\n", task);
        return 2;
    }
    double scale = 25.0;
    {
        char *end;
        scale = strtod(o.rmse_scale, &end);
        if (*end || !isfinite(scale) || scale <= 0) {
            fprintf(stderr, "mimrl metrics: --rmse-scale expects a positive number, got '%s'\n", o.rmse_scale);
            return 2;
        }
    }
    double *p = NULL, *y = NULL;
    size_t np = 0, ny = 0;
    if ((rc = load_vector("metrics", "--pred", o.pred, &p, &np))) return rc;
    if ((rc = load_vector("metrics", "--true", o.truth, &y, &ny))) {
        free(p);
        return rc;
    }
    if (np != ny) {
        fprintf(stderr, "mimrl metrics: --pred %s has %zu values but --true %s has %zu\n", o.pred, np, o.truth, ny);
        free(p);
        free(y);
        return 2;
    }
    mr_metrics m;
    if (avec) mr_metrics_avec(p, y, np, scale, &m);
    else mr_metrics_mosi(p, y, np, &m);
    if (o.json) {
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

typedef struct {
    const char *out;
    unsigned long seed, epochs;
} demo_opts;

static const mr_opt DEMO_OPTS[] = {
    {"--out", MR_OPT_TEXT, offsetof(demo_opts, out), "build/demo", "DIR", "output directory", NULL, 0},
    {"--seed", MR_OPT_ULONG, offsetof(demo_opts, seed), "0", "N", "random seed", NULL, 0},
    {"--epochs", MR_OPT_ULONG, offsetof(demo_opts, epochs), "30", "N", "training epochs, 1 … 100000", NULL, 0},
};
static const mr_cmd_flags FLAGS_DEMO = {
    "demo", "[--out DIR] [--seed N] [--epochs N]",
    "End-to-end run of the foundation: train, checkpoint, metrics.\n", DEMO_OPTS, MR_OPT_N(DEMO_OPTS), NULL};

static int cmd_demo(int argc, char **argv) {
    demo_opts o = {0};
    int rc = mr_opts_parse(&FLAGS_DEMO, argc, argv, 2, &o);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    if (o.epochs == 0 || o.epochs > 100000) {
        fprintf(stderr, "mimrl demo: --epochs must be between 1 and 100000\n");
        return 2;
    }
    mr_error e = {0};
    rc = mr_demo(o.out, o.seed, (int)o.epochs, stdout, &e);
    if (rc != MR_OK) {
        fprintf(stderr, "mimrl demo: %s\n", e.msg);
        return rc == MR_EIO || rc == MR_EINVAL ? 2 : 1;
    }
    return 0;
}

/* ------------------------------------------------------- the command table */

static int cmd_version(int argc, char **argv);
static int cmd_blas(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const mr_cmd_flags FLAGS_BLAS = {"blas", "", "Which BLAS this build uses.\n", NULL, 0, NULL};
static const mr_cmd_flags FLAGS_VERSION = {"version", "", "The version and the BLAS of this build.\n", NULL, 0, NULL};
static const mr_cmd_flags FLAGS_HELP = {"help", "[COMMAND]", "The list of commands; 'mimrl help CMD' is 'mimrl CMD --help'.\n", NULL, 0,
                                        NULL};

typedef struct {
    int (*run)(int argc, char **argv); /* argv[1] is the command's name, its flags from argv[2] */
    const mr_cmd_flags *flags;         /* name, usage line, flags */
    const char *summary;               /* the line of `mimrl help` */
} command;

static const command COMMANDS[] = {
    {mr_cmd_train, &mr_flags_train, "MIMRL's two-stage training ('mimrl train --help')"},
    {mr_cmd_eval, &mr_flags_eval, "metrics of a saved model on a split"},
    {cmd_demo, &FLAGS_DEMO, "end-to-end run of the foundation (train, checkpoint, metrics)"},
    {cmd_info, &FLAGS_INFO, "list members (dtype, shape, compression) and validate every one;\n"
                            "a mimrl-npz dataset split is also checked against the schema"},
    {mr_cmd_synth, &mr_flags_synth, "synthetic dataset with known information structure ('mimrl synth --help')"},
    {cmd_metrics, &FLAGS_METRICS, "evaluation metrics of spec §6; P and Y are .npy files or\n"
                                  "FILE.npz:member (an npz with a single member needs no :member)"},
    {mr_cmd_estimate, &mr_flags_estimate, "train an MI/CMI estimator on a distribution with known information and\n"
                                          "print truth beside estimate, or MI/CMI of your own samples\n"
                                          "(--data FILE.npz --x NAME --y NAME [--z NAME], or --x X.npy --y Y.npy)"},
    {mr_cmd_verify_estimators, &mr_flags_verify_estimators, "the slow estimator benchmark of make verify (CSV + Markdown)"},
    {mr_cmd_verify_peer, &mr_flags_verify_peer, "our estimators on peer benchmarks (Beyond Normal, CCMI, tigramite)"},
    {mr_cmd_oracle, &mr_flags_oracle, "one forward and the backward of both stage losses, randomness injected"},
    {mr_cmd_conform, &mr_flags_conform, "run a port on a generated suite; per case pass/fail, first diverging tensor"},
    {mr_cmd_tokenize, &mr_flags_tokenize, "bert-base-uncased WordPiece ids, one line of text per line"},
    {mr_cmd_bert, &mr_flags_bert_init, "a small random BERT as a Hugging Face directory ('mimrl bert-init --help')"},
    {mr_cmd_bert, &mr_flags_bert_info, "check and describe a BERT directory or safetensors file"},
    {cmd_blas, &FLAGS_BLAS, "which BLAS this build uses"},
    {cmd_version, &FLAGS_VERSION, "version and BLAS of this build"},
    {cmd_help, &FLAGS_HELP, "this list; 'mimrl help CMD' is 'mimrl CMD --help'"},
};
enum { NCOMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

/* `mimrl help`, generated from COMMANDS: each command's usage line(s), then
 * its summary indented. */
static void usage(FILE *f) {
    fprintf(f, "mimrl %s — double-precision reference implementation of MIMRL\n\nusage: mimrl <command> [options]\n\ncommands:\n",
            MIMRL_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const mr_cmd_flags *c = COMMANDS[i].flags;
        const char *u = c->usage ? c->usage : "";
        int col = fprintf(f, "  %s%s", c->name, *u ? " " : "");
        for (; *u; u++) {
            if (*u == '\n') col = fprintf(f, "\n  %s ", c->name) - 1;
            else col += fputc(*u, f) != EOF;
        }
        if (col < 19) fprintf(f, "%*s", 21 - col, ""); /* a short line: the summary beside it */
        else fputs("\n                     ", f);
        for (const char *s = COMMANDS[i].summary; *s; s++) {
            fputc(*s, f);
            if (*s == '\n') fputs("                     ", f);
        }
        fputc('\n', f);
    }
    fputs("\n'mimrl CMD --help' (or 'mimrl help CMD') lists a command's flags.\n", f);
}

static const command *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(COMMANDS[i].flags->name, name)) return &COMMANDS[i];
    return NULL;
}

static int no_flags(const mr_cmd_flags *c, int argc, char **argv) {
    int rc = mr_opts_parse(c, argc, argv, 2, NULL);
    return rc == MR_OPTS_HELP ? 0 : rc;
}

static int cmd_version(int argc, char **argv) {
    if (argc > 2) return no_flags(&FLAGS_VERSION, argc, argv);
    printf("mimrl %s (BLAS: %s)\n", MIMRL_VERSION, mr_blas_name());
    return 0;
}

static int cmd_blas(int argc, char **argv) {
    if (argc > 2) return no_flags(&FLAGS_BLAS, argc, argv);
    char b[512];
    mr_blas_describe(b, sizeof b);
    printf("[blas] %s\n", b);
    return 0;
}

static int cmd_help(int argc, char **argv) {
    if (argc == 2) {
        usage(stdout);
        return 0;
    }
    const command *c = argc == 3 ? find_command(argv[2]) : NULL;
    if (!c) {
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "mimrl help: unknown command '%s' (see 'mimrl help')\n", argc > 2 ? argv[2] : "");
        return 2;
    }
    char *args[] = {argv[0], argv[2], "--help", NULL};
    return c->run(3, args);
}

int main(int argc, char **argv) {
    mr_alloc_policy();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) cmd = "help";
    if (strcmp(cmd, "--version") == 0) cmd = "version";
    const command *c = find_command(cmd);
    if (!c) {
        fprintf(stderr, "mimrl: unknown command '%s' (see 'mimrl help')\n", cmd);
        return 2;
    }
    return c->run(argc, argv);
}
