/* cli_estimate.c — `mimrl estimate` and `mimrl verify-estimators`, with
 * progress: on a terminal one line redrawn every 0.5 s (job, phase, step or
 * epoch i/n, rate, time left); otherwise one clean line per unit of work
 * (an MI level, a CMI report of the estimator). */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ref/core/npz.h"
#include "estimators/data_est.h"
#include "estimators/estimate.h"
#include "estimators/peer_tasks.h"
#include "estimators/truth.h"
#include "ref/cli/cli.h"
#include "ref/core/common.h"

static const char *ESTIMATE_HELP =
    "usage: mimrl estimate [options]\n"
    "  --preset poole|cmine|ccmi   Poole staircase (d=20, B=64, 2..10 nats × 4000 steps),\n"
    "                              CMINE chain (d=1, I = 1.5185 nats), CCMI category F (2.3076 nats)\n"
    "  --dist staircase|cubic|cmine|cmine0|ccmi-f|ccmi-g   (cmine0: I(X;Z|Y) = 0)\n"
    "MI (staircase, cubic):\n"
    "  --bound nwj|infonce|js|smile|dv|mine|tuba|interpolate|js_fgan   (default infonce)\n"
    "  --critic separate|concat  --baseline constant|gaussian|unnormalized\n"
    "  --mi 2,4,6,8,10  --steps N (per level)  --batch B  --d D  --lr X\n"
    "  --hidden H  --embed E  --layers L  --smile-clip T  --alpha-logit A  --interp-per-row\n"
    "CMI (cmine, cmine0, ccmi-*):\n"
    "  --d D (chain dimension or dz)  --k K  --n-train N  --n-eval N  --epochs N\n"
    "  --batch B  --hidden H  --head sigmoid|hardtanh  --lr X  --no-fp\n"
    "common: --seed N  --csv FILE (MI: per-step trajectory)\n"
    "\n"
    "usage: mimrl estimate --data FILE.npz --x NAME --y NAME [--z NAME] [options]\n"
    "       mimrl estimate --x X.npy --y Y.npy [--z Z.npy] [options]\n"
    "  MI I(X;Y), or CMI I(X;Y|Z) with --z, on your samples. Members: float arrays\n"
    "  (<f8 or <f4), 2-D with rows = samples (a 1-D member is one column).\n"
    "  --method M[,M...]|all   MI: <bound>-<critic>, bound nwj|infonce|js|smile|dv|mine|\n"
    "                          tuba|interpolate|js_fgan, critic separate|concat, or ksg\n"
    "                          (default infonce-separate,nwj-separate,smile-separate,ksg);\n"
    "                          CMI: cmine-mimrl (official read-out: offset 1, half scale,\n"
    "                          NOT nats), cmine-nwj, cmine-dv (nats), fp (Frenzel-Pompe)\n"
    "                          (default all four)\n"
    "  --seeds N (1)  --seed S (0): seed s uses S+s for split, init and batch order\n"
    "  --json                  print a JSON object instead of the table\n"
    "  Protocol of the neural methods (Beyond Normal's; each can be changed):\n"
    "  --no-standardize        columns standardised to mean 0, sd 1 (default: on)\n"
    "  --test-frac F (0.5)     50/50 train/test split (rows shuffled by the seed)\n"
    "  --eval-every N (100)    held-out evaluation every N steps (CMI: every epoch)\n"
    "  --patience N (10)       early stopping: stop after N held-out evaluations\n"
    "                          without a better held-out objective\n"
    "                          reported value: MI the largest held-out bound; CMI the\n"
    "                          read-outs at the lowest held-out BCE\n"
    "  MI:  --steps N (4000, at most)  --batch B (128)  --lr X (5e-4)\n"
    "       --hidden H (128)  --embed E (32)  --layers L (1: in-H-H-out)\n"
    "  CMI: --k K (2 neighbours per anchor)  --epochs N (100, at most)\n"
    "       --cmi-batch B (256)  --cmi-hidden H (64)  --cmi-lr X (1e-3)\n"
    "  k-NN (ksg, fp): --knn K (5), all rows, deterministic (one value)\n";

enum {
    F_PRESET, F_DIST, F_BOUND, F_CRITIC, F_BASELINE, F_MI, F_STEPS, F_BATCH, F_D, F_LR, F_HIDDEN, F_EMBED,
    F_LAYERS, F_CLIP, F_ALPHA, F_PERROW, F_K, F_NTRAIN, F_NEVAL, F_EPOCHS, F_HEAD, F_NOFP, F_SEED, F_CSV,
    F_HELP, F_COUNT
};

/* ------------------------------------------------------------- progress
 * The estimators write a report line every 500 MI steps or 5 CMI epochs to
 * their `progress` stream; that stream is a cookie FILE whose lines are
 * parsed here. On a terminal (or MIMRL_PROGRESS=tty) a ticker thread redraws
 * one line in place every 0.5 s, time left counting down between reports;
 * otherwise (logs, pipes; MIMRL_PROGRESS=lines) each finished MI level and
 * each CMI report becomes one plain line. */
typedef struct {
    FILE *out;
    int tty;
    char job[160];           /* "[staircase 2/7] nwj", or "" */
    pthread_mutex_t mu;
    pthread_t th;
    int ticking, stop;
    double t0, t_event;      /* run start; elapsed at the last report */
    char phase[192];         /* "nwj level 2/5  step" | "cmi epoch" */
    const char *unit;        /* "steps" | "epochs" */
    size_t i, n, done, total;
    char extra[96];
    char line[1024];
    size_t len;
    int drawn;
} progress;

static void fmt_time(char *buf, size_t n, double s) {
    if (!(s >= 0)) s = 0;
    if (s < 10) snprintf(buf, n, "%.1f s", s);
    else if (s < 60) snprintf(buf, n, "%.0f s", s);
    else if (s < 3600) snprintf(buf, n, "%.0f min %02.0f s", floor(s / 60), fmod(s, 60));
    else snprintf(buf, n, "%.0f h %02.0f min", floor(s / 3600), floor(fmod(s, 3600) / 60));
}

/* rate per second and seconds left, from the last report */
static void pace(const progress *p, double now, double *rate, double *left) {
    *rate = p->t_event > 0 ? (double)p->done / p->t_event : 0;
    *left = p->done ? p->t_event * (double)p->total / (double)p->done - now : 0;
    if (*left < 0) *left = 0;
}

static void draw(progress *p) { /* with p->mu held */
    if (!p->done) return;
    double now = mr_seconds() - p->t0, rate, left;
    pace(p, now, &rate, &left);
    char el[32], lf[32];
    fmt_time(el, sizeof el, now), fmt_time(lf, sizeof lf, left);
    fprintf(p->out, "\r\033[K%s%s%s %zu/%zu  %.3g %s/s  %s, ~%s left  %s", p->job, *p->job ? "  " : "", p->phase, p->i, p->n, rate,
            p->unit, el, lf, p->extra);
    fflush(p->out);
    p->drawn = 1;
}

static void undraw(progress *p) {
    if (p->drawn) fputs("\r\033[K", p->out);
    p->drawn = 0;
}

static void report(progress *p, const char *l) { /* one line from the estimator, with p->mu held */
    char name[64];
    size_t a, b, c, d;
    double x, now = mr_seconds() - p->t0;
    const char *est = strstr(l, "estimate");
    const char *paren = est ? strchr(est, ')') : NULL;
    if (sscanf(l, " %63s level %zu/%zu step %zu/%zu true %lf", name, &a, &b, &c, &d, &x) == 6 && paren && b && d) {
        snprintf(p->phase, sizeof p->phase, "%s level %zu/%zu  step", name, a, b);
        p->unit = "steps", p->i = c, p->n = d, p->done = (a - 1) * d + c, p->total = b * d, p->t_event = now;
        double v = strtod(paren + 1, NULL);
        snprintf(p->extra, sizeof p->extra, "true %.3f, estimate %.4f", x, v);
        if (!p->tty && c == d) {
            double rate, left;
            char lf[32];
            pace(p, now, &rate, &left);
            fmt_time(lf, sizeof lf, left);
            fprintf(p->out, "%s%s%s level %zu/%zu: true %.3f, estimate %.4f (mean of the last 100 steps); %.0f steps/s, %.1f s, ~%s left\n",
                    p->job, *p->job ? " " : "  ", name, a, b, x, v, rate, now, lf);
        }
    } else if (sscanf(l, " cmi epoch %zu/%zu train BCE %lf", &a, &b, &x) == 3 && b) {
        snprintf(p->phase, sizeof p->phase, "cmi epoch");
        p->unit = "epochs", p->i = a, p->n = b, p->done = a, p->total = b, p->t_event = now;
        snprintf(p->extra, sizeof p->extra, "train BCE %.5f", x);
        if (!p->tty) {
            double rate, left;
            char lf[32];
            pace(p, now, &rate, &left);
            fmt_time(lf, sizeof lf, left);
            fprintf(p->out, "%s%scmi epoch %zu/%zu: train BCE %.5f; %.2f epochs/s, %.1f s, ~%s left\n", p->job, *p->job ? " " : "  ", a, b, x,
                    rate, now, lf);
        }
    } else {
        undraw(p);
        fprintf(p->out, "%s\n", l);
    }
    if (p->tty) draw(p);
    fflush(p->out);
}

static ssize_t progress_write(void *cookie, const char *buf, size_t n) {
    progress *p = cookie;
    pthread_mutex_lock(&p->mu);
    for (size_t k = 0; k < n; k++) {
        if (buf[k] == '\n' || p->len + 1 >= sizeof p->line) {
            p->line[p->len] = 0;
            report(p, p->line);
            p->len = 0;
            if (buf[k] == '\n') continue;
        }
        p->line[p->len++] = buf[k];
    }
    pthread_mutex_unlock(&p->mu);
    return (ssize_t)n;
}

static void *ticker(void *arg) {
    progress *p = arg;
    struct timespec ts = {0, 100000000};
    for (int k = 1;; k++) {
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        if (!stop && k % 5 == 0) draw(p);
        pthread_mutex_unlock(&p->mu);
        if (stop) return NULL;
    }
}

static int progress_tty(void) {
    const char *m = getenv("MIMRL_PROGRESS");
    if (m && strcmp(m, "tty") == 0) return 1;
    if (m && strcmp(m, "lines") == 0) return 0;
    return isatty(fileno(stdout));
}

/* A stream for the estimator's `progress`, labelled job (may be ""). */
static FILE *progress_start(progress *p, const char *job) {
    memset(p, 0, sizeof *p);
    p->out = stdout, p->tty = progress_tty(), p->t0 = mr_seconds(), p->unit = "steps";
    snprintf(p->job, sizeof p->job, "%s", job);
    pthread_mutex_init(&p->mu, NULL);
    cookie_io_functions_t io = {NULL, progress_write, NULL, NULL};
    FILE *f = fopencookie(p, "w", io);
    if (!f) return stdout; /* the estimator's own lines, as they are */
    setvbuf(f, NULL, _IONBF, 0);
    if (p->tty) p->ticking = pthread_create(&p->th, NULL, ticker, p) == 0;
    return f;
}

static void progress_end(progress *p, FILE *f) {
    if (f == stdout) return;
    fclose(f);
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
    if (p->ticking) pthread_join(p->th, NULL);
    undraw(p);
    fflush(p->out);
    pthread_mutex_destroy(&p->mu);
}

static int get_size(mr_flag *fl, int i, size_t *out, size_t lo) {
    if (!fl[i].value) return 0;
    unsigned long v;
    if (mr_parse_ulong("estimate", fl[i].name, fl[i].value, &v)) return 2;
    if (v < lo) {
        fprintf(stderr, "mimrl estimate: %s must be at least %zu\n", fl[i].name, lo);
        return 2;
    }
    *out = v;
    return 0;
}

static int get_pos(mr_flag *fl, int i, double *out) {
    if (!fl[i].value) return 0;
    if (mr_parse_double("estimate", fl[i].name, fl[i].value, out)) return 2;
    return 0;
}

/* ------------------------------------------------------- estimate --data */

typedef struct {
    char label[512]; /* "data.npz:x" or "x.npy" — names the member in errors */
    double *v;
    size_t n, d;
} user_member;

/* Load --x/--y/--z: a member of --data, or a .npy file. Refuses integer,
 * boolean and complex dtypes and arrays that are not 1-D or 2-D. */
static int load_member(const char *data, const char *val, const char *flag, user_member *u) {
    mr_error e = {0};
    mr_array a;
    memset(&a, 0, sizeof a);
    memset(u, 0, sizeof *u);
    int rc;
    if (data) {
        snprintf(u->label, sizeof u->label, "%s:%s", data, val);
        mr_npz z;
        if ((rc = mr_npz_open(&z, data, &e))) {
            fprintf(stderr, "mimrl estimate: --data: %s\n", e.msg);
            return 2;
        }
        if (mr_npz_find(&z, val) < 0) {
            char names[1024] = "";
            size_t k = 0;
            for (size_t i = 0; i < z.n && k < sizeof names - 80; i++)
                k += (size_t)snprintf(names + k, sizeof names - k, "%s'%s'", i ? ", " : "", z.m[i].name);
            fprintf(stderr, "mimrl estimate: %s: member '%s' not found in %s (its members: %s)\n", flag, val, data, z.n ? names : "none");
            mr_npz_close(&z);
            return 2;
        }
        rc = mr_npz_read(&z, val, &a, &e);
        mr_npz_close(&z);
    } else {
        snprintf(u->label, sizeof u->label, "%s", val);
        rc = mr_npy_load(val, &a, &e);
    }
    if (rc) {
        fprintf(stderr, "mimrl estimate: %s: %s\n", flag, e.msg);
        return 2;
    }
    if (a.dtype != MR_DT_F8 && a.dtype != MR_DT_F4) {
        fprintf(stderr, "mimrl estimate: %s: member '%s' has dtype %s (%s); estimation needs a float array (<f8 or <f4)\n", flag, u->label,
                mr_dtype_descr(a.dtype), a.dtype == MR_DT_B1 ? "boolean" : "integer");
        mr_array_free(&a);
        return 2;
    }
    if (a.ndim != 1 && a.ndim != 2) {
        fprintf(stderr, "mimrl estimate: %s: member '%s' has %d dimensions; it must be 2-D (rows = samples) or 1-D (one column)\n", flag,
                u->label, a.ndim);
        mr_array_free(&a);
        return 2;
    }
    u->n = (size_t)a.shape[0];
    u->d = a.ndim == 2 ? (size_t)a.shape[1] : 1;
    if (u->n == 0 || u->d == 0) {
        fprintf(stderr, "mimrl estimate: %s: member '%s' is empty (shape %zu × %zu)\n", flag, u->label, u->n, u->d);
        mr_array_free(&a);
        return 2;
    }
    u->v = malloc(u->n * u->d * sizeof *u->v);
    if (!u->v) {
        fprintf(stderr, "mimrl estimate: out of memory\n");
        mr_array_free(&a);
        return 2;
    }
    mr_array_to_f64(&a, u->v);
    mr_array_free(&a);
    return 0;
}

enum {
    D_DATA, D_X, D_Y, D_Z, D_METHOD, D_SEEDS, D_SEED, D_JSON, D_NOSTD, D_TESTFRAC, D_EVAL, D_PATIENCE, D_STEPS, D_BATCH,
    D_LR, D_HIDDEN, D_EMBED, D_LAYERS, D_K, D_EPOCHS, D_CMIBATCH, D_CMIHIDDEN, D_CMILR, D_KNN, D_HELP, D_COUNT
};

static int cmd_estimate_data(int argc, char **argv) {
    mr_flag fl[D_COUNT] = {
        {"--data", 1, 0, 0},     {"--x", 1, 0, 0},          {"--y", 1, 0, 0},        {"--z", 1, 0, 0},
        {"--method", 1, 0, 0},   {"--seeds", 1, 0, 0},      {"--seed", 1, 0, 0},     {"--json", 0, 0, 0},
        {"--no-standardize", 0, 0, 0}, {"--test-frac", 1, 0, 0}, {"--eval-every", 1, 0, 0}, {"--patience", 1, 0, 0},
        {"--steps", 1, 0, 0},    {"--batch", 1, 0, 0},      {"--lr", 1, 0, 0},       {"--hidden", 1, 0, 0},
        {"--embed", 1, 0, 0},    {"--layers", 1, 0, 0},     {"--k", 1, 0, 0},        {"--epochs", 1, 0, 0},
        {"--cmi-batch", 1, 0, 0}, {"--cmi-hidden", 1, 0, 0}, {"--cmi-lr", 1, 0, 0},  {"--knn", 1, 0, 0},
        {"--help", 0, 0, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, D_COUNT, "estimate");
    if (rc) return rc;
    if (fl[D_HELP].seen) {
        fputs(ESTIMATE_HELP, stdout);
        return 0;
    }
    if (!fl[D_X].value || !fl[D_Y].value) {
        fprintf(stderr, "mimrl estimate: --data needs --x NAME and --y NAME (and --z NAME for conditional MI)\n");
        return 2;
    }
    mr_est_opts o;
    mr_est_opts_default(&o);
    unsigned long ul;
    size_t *sz[D_COUNT] = {[D_SEEDS] = &o.seeds, [D_EVAL] = &o.eval_every, [D_PATIENCE] = &o.patience, [D_STEPS] = &o.max_steps,
                           [D_BATCH] = &o.batch, [D_HIDDEN] = &o.hidden, [D_EMBED] = &o.embed, [D_LAYERS] = &o.layers,
                           [D_K] = &o.cmi_k, [D_EPOCHS] = &o.cmi_epochs, [D_CMIBATCH] = &o.cmi_batch, [D_CMIHIDDEN] = &o.cmi_hidden,
                           [D_KNN] = &o.knn_k};
    for (int i = D_SEEDS; i <= D_KNN; i++) {
        size_t *t = sz[i];
        if (!t || !fl[i].value) continue;
        if (mr_parse_ulong("estimate", fl[i].name, fl[i].value, &ul)) return 2;
        if (ul == 0 && i != D_LAYERS) {
            fprintf(stderr, "mimrl estimate: %s must be at least 1\n", fl[i].name);
            return 2;
        }
        *t = (size_t)ul;
    }
    if (o.layers + 2 > MR_MLP_MAXL) {
        fprintf(stderr, "mimrl estimate: --layers at most %d\n", MR_MLP_MAXL - 2);
        return 2;
    }
    if (fl[D_SEED].value && mr_parse_ulong("estimate", "--seed", fl[D_SEED].value, &o.seed)) return 2;
    if ((fl[D_LR].value && mr_parse_double("estimate", "--lr", fl[D_LR].value, &o.lr)) ||
        (fl[D_CMILR].value && mr_parse_double("estimate", "--cmi-lr", fl[D_CMILR].value, &o.cmi_lr)) ||
        (fl[D_TESTFRAC].value && mr_parse_double("estimate", "--test-frac", fl[D_TESTFRAC].value, &o.test_frac)))
        return 2;
    if (!(o.lr > 0) || !(o.cmi_lr > 0)) {
        fprintf(stderr, "mimrl estimate: --lr and --cmi-lr must be positive\n");
        return 2;
    }
    o.standardize = !fl[D_NOSTD].seen;
    int cmi = fl[D_Z].value != NULL;
    mr_est_method ms[MR_EST_MAXMETHODS];
    size_t nm = 0;
    mr_error e = {0};
    const char *mlist = fl[D_METHOD].value ? fl[D_METHOD].value : cmi ? "all" : MR_EST_DEFAULT_MI_METHODS;
    if (mr_est_methods_parse(mlist, cmi, ms, MR_EST_MAXMETHODS, &nm, &e)) {
        fprintf(stderr, "mimrl estimate: %s\n", e.msg);
        return 2;
    }
    user_member u[3];
    memset(u, 0, sizeof u);
    const char *flags[3] = {"--x", "--y", "--z"};
    int nmem = cmi ? 3 : 2;
    rc = 0;
    for (int k = 0; k < nmem && !rc; k++) rc = load_member(fl[D_DATA].value, fl[D_X + k].value, flags[k], &u[k]);
    mr_est_member m[3];
    for (int k = 0; k < 3; k++) m[k] = (mr_est_member){u[k].label, u[k].v, u[k].n, u[k].d};
    mr_est_result *res = NULL;
    if (!rc && mr_est_check(&m[0], &m[1], cmi ? &m[2] : NULL, ms, nm, &o, &e)) {
        fprintf(stderr, "mimrl estimate: %s\n", e.msg);
        rc = 2;
    }
    if (!rc && !(res = calloc(nm, sizeof *res))) {
        fprintf(stderr, "mimrl estimate: out of memory\n");
        rc = 2;
    }
    if (!rc) {
        int json = fl[D_JSON].seen;
        FILE *pg = json ? stderr : stdout; /* progress never mixes with the JSON */
        fprintf(pg, "estimate: %s on %s, %zu rows, %zu method(s), %zu seed(s)\n", cmi ? "I(X;Y|Z)" : "I(X;Y)",
                fl[D_DATA].value ? fl[D_DATA].value : "npy files", m[0].n, nm, o.seeds);
        fflush(pg);
        o.progress = pg;
        if (mr_est_run(&m[0], &m[1], cmi ? &m[2] : NULL, ms, nm, &o, res, &e)) {
            fprintf(stderr, "mimrl estimate: %s\n", e.msg);
            rc = 2;
        } else if (json) {
            mr_est_write_json(stdout, &m[0], &m[1], cmi ? &m[2] : NULL, res, nm, &o);
        } else {
            mr_est_write_table(stdout, &m[0], &m[1], cmi ? &m[2] : NULL, res, nm, &o);
        }
    }
    free(res);
    for (int k = 0; k < 3; k++) free(u[k].v);
    return rc;
}

int mr_cmd_estimate(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--data") || !strcmp(argv[i], "--x")) return cmd_estimate_data(argc, argv);
    mr_flag fl[F_COUNT] = {
        {"--preset", 1, 0, 0}, {"--dist", 1, 0, 0},     {"--bound", 1, 0, 0},   {"--critic", 1, 0, 0},
        {"--baseline", 1, 0, 0}, {"--mi", 1, 0, 0},     {"--steps", 1, 0, 0},   {"--batch", 1, 0, 0},
        {"--d", 1, 0, 0},       {"--lr", 1, 0, 0},      {"--hidden", 1, 0, 0},  {"--embed", 1, 0, 0},
        {"--layers", 1, 0, 0},  {"--smile-clip", 1, 0, 0}, {"--alpha-logit", 1, 0, 0}, {"--interp-per-row", 0, 0, 0},
        {"--k", 1, 0, 0},       {"--n-train", 1, 0, 0}, {"--n-eval", 1, 0, 0},  {"--epochs", 1, 0, 0},
        {"--head", 1, 0, 0},    {"--no-fp", 0, 0, 0},   {"--seed", 1, 0, 0},    {"--csv", 1, 0, 0},
        {"--help", 0, 0, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, F_COUNT, "estimate");
    if (rc) return rc;
    if (fl[F_HELP].seen) {
        fputs(ESTIMATE_HELP, stdout);
        return 0;
    }
    const char *preset = fl[F_PRESET].value, *dist = fl[F_DIST].value;
    if (preset && strcmp(preset, "poole") && strcmp(preset, "cmine") && strcmp(preset, "ccmi")) {
        fprintf(stderr, "mimrl estimate: --preset must be poole, cmine or ccmi (got '%s')\n", preset);
        return 2;
    }
    if (!dist) dist = !preset || !strcmp(preset, "poole") ? "staircase" : !strcmp(preset, "cmine") ? "cmine" : "ccmi-f";
    int is_mi = !strcmp(dist, "staircase") || !strcmp(dist, "cubic");
    int cmi_dist = !strcmp(dist, "cmine") ? MR_CMI_DIST_CMINE : !strcmp(dist, "cmine0") ? MR_CMI_DIST_CMINE_ZERO
                   : !strcmp(dist, "ccmi-f") ? MR_CMI_DIST_CCMI_F : !strcmp(dist, "ccmi-g") ? MR_CMI_DIST_CCMI_G : -1;
    if (!is_mi && cmi_dist < 0) {
        fprintf(stderr, "mimrl estimate: --dist must be staircase, cubic, cmine, cmine0, ccmi-f or ccmi-g (got '%s')\n", dist);
        return 2;
    }
    unsigned long seed = 0;
    if (fl[F_SEED].value && mr_parse_ulong("estimate", "--seed", fl[F_SEED].value, &seed)) return 2;
    mr_error e = {0};
    if (is_mi) {
        mr_mi_run c;
        mr_mi_run_default(&c);
        c.seed = seed;
        c.cubic = !strcmp(dist, "cubic");
        if (fl[F_BOUND].value && (rc = mr_bound_parse(fl[F_BOUND].value)) < 0) {
            fprintf(stderr, "mimrl estimate: unknown --bound '%s'\n", fl[F_BOUND].value);
            return 2;
        } else if (fl[F_BOUND].value) c.bound = (mr_bound)rc;
        if (fl[F_CRITIC].value && (rc = mr_critic_parse(fl[F_CRITIC].value)) < 0) {
            fprintf(stderr, "mimrl estimate: --critic must be separate or concat (got '%s')\n", fl[F_CRITIC].value);
            return 2;
        } else if (fl[F_CRITIC].value) c.critic = (mr_critic_kind)rc;
        if (fl[F_BASELINE].value && (rc = mr_baseline_parse(fl[F_BASELINE].value)) < 0) {
            fprintf(stderr, "mimrl estimate: --baseline must be constant, gaussian or unnormalized (got '%s')\n", fl[F_BASELINE].value);
            return 2;
        } else if (fl[F_BASELINE].value) c.base = (mr_baseline_kind)rc;
        if (get_size(fl, F_STEPS, &c.steps_per_level, 1) || get_size(fl, F_BATCH, &c.B, 2) || get_size(fl, F_D, &c.d, 1) ||
            get_size(fl, F_HIDDEN, &c.hidden, 1) || get_size(fl, F_EMBED, &c.embed, 1) || get_size(fl, F_LAYERS, &c.layers, 0) ||
            get_pos(fl, F_LR, &c.lr) || get_pos(fl, F_CLIP, &c.bopt.smile_clip) || get_pos(fl, F_ALPHA, &c.bopt.alpha_logit))
            return 2;
        if (c.layers + 2 > MR_MLP_MAXL) {
            fprintf(stderr, "mimrl estimate: --layers at most %d\n", MR_MLP_MAXL - 2);
            return 2;
        }
        c.bopt.interp_per_row = fl[F_PERROW].seen;
        if (fl[F_MI].value) {
            c.nlevels = 0;
            const char *s = fl[F_MI].value;
            while (*s) {
                char *end;
                errno = 0;
                double v = strtod(s, &end);
                if (end == s || errno || !(v > 0) || c.nlevels == MR_MAX_LEVELS || (*end && *end != ',')) {
                    fprintf(stderr, "mimrl estimate: --mi expects up to %d positive numbers separated by commas, got '%s'\n",
                            MR_MAX_LEVELS, fl[F_MI].value);
                    return 2;
                }
                c.levels[c.nlevels++] = v;
                s = *end ? end + 1 : end;
            }
        }
        FILE *csv = NULL;
        char *tmp = NULL;
        if (fl[F_CSV].value && mr_atomic_open(fl[F_CSV].value, &tmp, &csv, &e)) {
            fprintf(stderr, "mimrl estimate: --csv: %s\n", e.msg);
            return 2;
        }
        c.csv = csv;
        progress pg;
        c.progress = progress_start(&pg, "");
        printf("estimate: %s on %s (d=%zu), %s critic, %s baseline, batch %zu, lr %g, %zu steps per level, seed %lu\n",
               mr_bound_name(c.bound), dist, c.d, c.critic == MR_CRITIC_SEPARATE ? "separate" : "concat",
               c.base == MR_BASE_CONSTANT ? "constant" : c.base == MR_BASE_GAUSSIAN ? "gaussian" : "unnormalized", c.B, c.lr,
               c.steps_per_level, seed);
        fflush(stdout);
        mr_mi_result res;
        rc = mr_run_mi(&c, &res, &e);
        progress_end(&pg, c.progress);
        if (csv) {
            if (rc) mr_atomic_abort(tmp, csv);
            else if (mr_atomic_commit(fl[F_CSV].value, tmp, csv, &e)) rc = e.code;
        }
        if (rc) {
            fprintf(stderr, "mimrl estimate: %s\n", e.msg);
            return 2;
        }
        printf("%8s %12s %12s   (mean ± sd of the estimates over the last half of each level)\n", "true", "estimate", "sd");
        for (size_t L = 0; L < c.nlevels; L++) printf("%8.4f %12.4f %12.4f\n", res.truth[L], res.mean[L], res.sd[L]);
        printf("log B = %.4f (InfoNCE's ceiling); %.1f s\n", log((double)c.B), res.seconds);
        return 0;
    }
    mr_cmi_run c;
    mr_cmi_run_default(&c);
    c.dist = (mr_cmi_dist)cmi_dist;
    c.seed = seed;
    if (c.dist == MR_CMI_DIST_CCMI_F || c.dist == MR_CMI_DIST_CCMI_G) c.d = 20;
    if (get_size(fl, F_D, &c.d, 1) || get_size(fl, F_K, &c.k, 1) || get_size(fl, F_NTRAIN, &c.n_train, 2) ||
        get_size(fl, F_NEVAL, &c.n_eval, 2) || get_size(fl, F_EPOCHS, &c.epochs, 1) || get_size(fl, F_BATCH, &c.batch, 1) ||
        get_size(fl, F_HIDDEN, &c.hidden, 1) || get_pos(fl, F_LR, &c.lr))
        return 2;
    if (fl[F_HEAD].value && (rc = mr_cmi_head_parse(fl[F_HEAD].value)) < 0) {
        fprintf(stderr, "mimrl estimate: --head must be sigmoid or hardtanh (got '%s')\n", fl[F_HEAD].value);
        return 2;
    } else if (fl[F_HEAD].value) c.head = (mr_cmi_head)rc;
    c.with_fp = !fl[F_NOFP].seen;
    printf("estimate: CMI on %s (d=%zu), k=%zu, %zu training + %zu evaluation samples, %zu epochs, batch %zu, lr %g, seed %lu\n",
           dist, c.d, c.k, c.n_train, c.n_eval, c.epochs, c.batch, c.lr, seed);
    fflush(stdout);
    progress pg;
    c.progress = progress_start(&pg, "");
    mr_cmi_result res;
    rc = mr_run_cmi(&c, &res, &e);
    progress_end(&pg, c.progress);
    if (rc) {
        fprintf(stderr, "mimrl estimate: %s\n", e.msg);
        return 2;
    }
    printf("%10s %10s %10s %10s %10s\n", "true", "mimrl", "nwj", "dv", "FP (k=5)");
    printf("%10.4f %10.4f %10.4f %10.4f %10.4f\n", res.truth, res.est[MR_CMI_READ_MIMRL], res.est[MR_CMI_READ_NWJ],
           res.est[MR_CMI_READ_DV], res.fp);
    printf("%.1f s\n", res.seconds);
    return 0;
}

/* ------------------------------------------------------ verify-estimators */

static int mkdir_p(const char *d) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", d);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    return mkdir(buf, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

int mr_cmd_verify_estimators(int argc, char **argv) {
    mr_flag fl[] = {{"--out", 1, 0, 0}, {"--quick", 0, 0, 0}, {"--seeds", 1, 0, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, 3, "verify-estimators");
    if (rc) return rc;
    const char *out = fl[0].value ? fl[0].value : "verify/results";
    int quick = fl[1].seen;
    unsigned long seeds = quick ? 2 : 5;
    if (fl[2].value && (mr_parse_ulong("verify-estimators", "--seeds", fl[2].value, &seeds) || seeds == 0)) return 2;
    if (mkdir_p(out)) {
        fprintf(stderr, "mimrl verify-estimators: cannot create %s\n", out);
        return 2;
    }
    char path[4096];
    mr_error e = {0};
    double t_start = mr_seconds();
    /* 1. the Poole staircase, every bound, separate critic (B = 64, d = 20) */
    mr_bound bounds[] = {MR_BOUND_NWJ, MR_BOUND_INFONCE, MR_BOUND_JS, MR_BOUND_SMILE, MR_BOUND_DV, MR_BOUND_TUBA, MR_BOUND_INTERPOLATE};
    size_t nb = sizeof bounds / sizeof bounds[0];
    size_t nseed = seeds < 64 ? (size_t)seeds : 64, njobs = nb + 4 * nseed; /* 4 CMI cases below */
    mr_mi_result mi[16];
    mr_mi_run mc;
    mr_mi_run_default(&mc);
    if (quick) mc.steps_per_level = 400;
    for (size_t b = 0; b < nb; b++) {
        mr_mi_run c = mc;
        c.bound = bounds[b];
        c.seed = 1000 + b;
        if (bounds[b] == MR_BOUND_TUBA) c.base = MR_BASE_UNNORMALIZED;
        if (bounds[b] == MR_BOUND_INTERPOLATE) c.base = MR_BASE_UNNORMALIZED;
        snprintf(path, sizeof path, "%s/staircase_%s.csv", out, mr_bound_name(bounds[b]));
        char *tmp;
        FILE *csv;
        if (mr_atomic_open(path, &tmp, &csv, &e)) {
            fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
            return 2;
        }
        c.csv = csv;
        char job[160];
        snprintf(job, sizeof job, "[job %zu/%zu staircase]", b + 1, njobs);
        printf("%s %s\n", job, mr_bound_name(bounds[b]));
        fflush(stdout);
        progress pg;
        c.progress = progress_start(&pg, job);
        rc = mr_run_mi(&c, &mi[b], &e);
        progress_end(&pg, c.progress);
        if (rc || (rc = mr_atomic_commit(path, tmp, csv, &e))) {
            fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
            return 1;
        }
    }
    /* 2. CMI benchmarks over several seeds */
    struct { const char *name; mr_cmi_dist dist; size_t d; } cases[] = {
        {"CMINE chain I(X;Y\\|Z), d=1", MR_CMI_DIST_CMINE, 1},
        {"CMINE chain I(X;Z\\|Y) = 0, d=1", MR_CMI_DIST_CMINE_ZERO, 1},
        {"CCMI category F, d_z=20", MR_CMI_DIST_CCMI_F, 20},
        {"CCMI category G, d_z=20", MR_CMI_DIST_CCMI_G, 20},
    };
    size_t ncase = sizeof cases / sizeof cases[0];
    _Static_assert(sizeof cases / sizeof cases[0] == 4, "njobs counts 4 CMI cases");
    double cm[8][5][64];
    mr_cmi_run cc0;
    mr_cmi_run_default(&cc0);
    if (quick) cc0.n_train = 4000, cc0.n_eval = 1000, cc0.epochs = 5;
    double truth[8];
    snprintf(path, sizeof path, "%s/cmi.csv", out);
    char *tmp;
    FILE *csv;
    if (mr_atomic_open(path, &tmp, &csv, &e)) {
        fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
        return 2;
    }
    fprintf(csv, "case,seed,n_train,n_eval,k,truth,mimrl,nwj,dv,frenzel_pompe,seconds\n");
    for (size_t ci = 0; ci < ncase; ci++)
        for (unsigned long s = 0; s < seeds && s < 64; s++) {
            mr_cmi_run c = cc0;
            c.dist = cases[ci].dist;
            c.d = cases[ci].d;
            c.seed = 2000 + 100 * ci + s;
            char job[160];
            snprintf(job, sizeof job, "[job %zu/%zu cmi]", nb + ci * nseed + s + 1, njobs);
            printf("%s %s, seed %lu\n", job, cases[ci].name, c.seed);
            fflush(stdout);
            progress pg;
            c.progress = progress_start(&pg, job);
            mr_cmi_result r;
            rc = mr_run_cmi(&c, &r, &e);
            progress_end(&pg, c.progress);
            if (rc) {
                mr_atomic_abort(tmp, csv);
                fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
                return 1;
            }
            truth[ci] = r.truth;
            for (int k = 0; k < 3; k++) cm[ci][k][s] = r.est[k];
            cm[ci][3][s] = r.fp;
            fprintf(csv, "\"%s\",%lu,%zu,%zu,%zu,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f\n", cases[ci].name, c.seed, c.n_train, c.n_eval,
                    c.k, r.truth, r.est[0], r.est[1], r.est[2], r.fp, r.seconds);
            fflush(csv);
        }
    if (mr_atomic_commit(path, tmp, csv, &e)) {
        fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
        return 1;
    }
    /* 3. the Markdown table */
    snprintf(path, sizeof path, "%s/RESULTS.md", out);
    FILE *md;
    if (mr_atomic_open(path, &tmp, &md, &e)) {
        fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
        return 2;
    }
    fprintf(md, "# Estimator verification (`make verify`%s)\n\n", quick ? ", quick mode" : "");
    char blas[512];
    mr_blas_describe(blas, sizeof blas);
    fprintf(md, "Generated by `mimrl verify-estimators` in %.1f minutes (BLAS: %s; OPENBLAS_NUM_THREADS=%s); per-step trajectories and per-seed rows are in the CSV files beside this one.\n\n",
            (mr_seconds() - t_start) / 60.0, blas, getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "unset");
    fprintf(md, "## Poole staircase (d = %zu, batch %zu, separate critic %zu-%zu-%zu → %zu, Adam lr %g, %zu steps per level)\n\n",
            mc.d, mc.B, mc.hidden, mc.hidden, mc.embed, mc.embed, mc.lr, mc.steps_per_level);
    fprintf(md, "Mean ± standard deviation of the per-step training estimates over the last half of each level. tuba and interpolate use the learned (unnormalized) baseline; interpolate uses the official α = σ(0.01) and the official per-column diagonal. log B = %.3f.\n\n", log((double)mc.B));
    fprintf(md, "| bound |");
    for (size_t L = 0; L < mc.nlevels; L++) fprintf(md, " %g nats |", mc.levels[L]);
    fprintf(md, "\n|---|");
    for (size_t L = 0; L < mc.nlevels; L++) fprintf(md, "---|");
    fprintf(md, "\n");
    for (size_t b = 0; b < nb; b++) {
        fprintf(md, "| %s |", mr_bound_name(bounds[b]));
        for (size_t L = 0; L < mc.nlevels; L++) fprintf(md, " %.3f ± %.3f |", mi[b].mean[L], mi[b].sd[L]);
        fprintf(md, "\n");
    }
    fprintf(md, "\n## Conditional MI (%lu seeds; %zu training + %zu evaluation samples, k = %zu, classifier 3d→%zu→%zu→%zu→2, %zu epochs, batch %zu, Adam lr %g)\n\n",
            seeds, cc0.n_train, cc0.n_eval, cc0.k, cc0.hidden, cc0.hidden, cc0.hidden, cc0.epochs, cc0.batch, cc0.lr);
    fprintf(md, "Mean ± standard deviation over seeds; relative error of the mean in brackets where the truth is non-zero. `mimrl` is the official read-out (O-12), `nwj`/`dv` the CMINE/CCMI textbook read-outs of the same classifier, FP is Frenzel–Pompe (k = 5) on the evaluation samples.\n\n");
    fprintf(md, "| case | truth | mimrl | nwj | dv | Frenzel–Pompe |\n|---|---|---|---|---|---|\n");
    const char *col[4] = {"mimrl", "nwj", "dv", "fp"};
    (void)col;
    for (size_t ci = 0; ci < ncase; ci++) {
        fprintf(md, "| %s | %.4f |", cases[ci].name, truth[ci]);
        for (int k = 0; k < 4; k++) {
            double m = 0, v = 0;
            size_t n = seeds < 64 ? seeds : 64;
            for (size_t s = 0; s < n; s++) m += cm[ci][k][s];
            m /= (double)n;
            for (size_t s = 0; s < n; s++) v += (cm[ci][k][s] - m) * (cm[ci][k][s] - m);
            double sd = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
            if (truth[ci] != 0) fprintf(md, " %.4f ± %.4f (%+.1f%%) |", m, sd, 100 * (m - truth[ci]) / truth[ci]);
            else fprintf(md, " %.4f ± %.4f |", m, sd);
        }
        fprintf(md, "\n");
    }
    if (mr_atomic_commit(path, tmp, md, &e)) {
        fprintf(stderr, "mimrl verify-estimators: %s\n", e.msg);
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}
