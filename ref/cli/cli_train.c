/* cli_train.c — `mimrl train` and `mimrl eval`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "datasets/synth.h"
#include "ref/cli/cli.h"
#include "ref/train/config.h"
#include "ref/core/json.h"
#include "ref/core/fsutil.h"
#include "ref/train/train.h"
#include "ref/bert/hfdir.h"
#include "datasets/tokenizer.h"

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* the built-in dataset for the README's main command */
static int ensure_synth(const char *prefix, mr_error *e) {
    char p[4200];
    snprintf(p, sizeof p, "%s_test.npz", prefix);
    if (exists(p)) return MR_OK;
    int rc = mr_mkdir_p("build/data", e);
    if (rc != MR_OK) return rc;
    mr_synth_cfg c;
    mr_synth_default(&c, MR_LIKE_MOSI);
    c.max_frames = 50; /* shorter sequences than real MOSI: a run of a few minutes on 2 cores */
    c.max_words = 20;
    printf("writing the built-in synthetic MOSI-like dataset %s_{train,valid,test}.npz (mimrl synth --like mosi --max-frames 50 --max-words 20)\n",
           prefix);
    return mr_synth_write(&c, prefix, stdout, e);
}

static int write_text(const char *path, const char *text, mr_error *e) {
    char *tmp;
    FILE *f;
    int rc = mr_atomic_open(path, &tmp, &f, e);
    if (rc) return rc;
    fputs(text, f);
    return mr_atomic_commit(path, tmp, f, e);
}

static void met_csv(char *b, size_t n, const mr_split_stats *s) {
    snprintf(b, n, "%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g", s->loss, s->met.mae, s->met.corr, s->met.acc7,
             s->met.acc5, s->met.acc2_non0, s->met.f1_non0, s->met.acc2_has0, s->met.f1_has0, s->met.ccc, s->met.rmse);
}

static void mi_csv(char *b, size_t n, const double *mi) {
    snprintf(b, n, "%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g", mi[0], mi[1], mi[2], mi[3], mi[4], mi[5], mi[6], mi[7]);
}

static int save_predictions(const mr_trainer *t, const char *dir, mr_error *e) {
    char p[4200];
    mr_npz_writer w;
    snprintf(p, sizeof p, "%s/predictions_valid.npz", dir);
    int rc = mr_npz_writer_open(&w, p, 0, e);
    if (rc) return rc;
    uint64_t nv = t->valid->N, nt = t->test->N;
    double *yv = malloc(nv * sizeof *yv), *yt = malloc(nt * sizeof *yt);
    for (size_t i = 0; i < nv; i++) yv[i] = t->avec ? t->valid->label[i] / 25 : t->valid->label[i];
    for (size_t i = 0; i < nt; i++) yt[i] = t->avec ? t->test->label[i] / 25 : t->test->label[i];
    rc = mr_npz_add(&w, "pred", MR_DT_F8, 1, &nv, t->pred_valid_best, e);
    if (!rc) rc = mr_npz_add(&w, "label", MR_DT_F8, 1, &nv, yv, e);
    if (rc) mr_npz_writer_abort(&w);
    else rc = mr_npz_writer_close(&w, e);
    snprintf(p, sizeof p, "%s/predictions_test.npz", dir);
    if (!rc) rc = mr_npz_writer_open(&w, p, 0, e);
    if (!rc) {
        rc = mr_npz_add(&w, "pred", MR_DT_F8, 1, &nt, t->pred_test_at_best, e);
        if (!rc) rc = mr_npz_add(&w, "pred_best_test", MR_DT_F8, 1, &nt, t->pred_test_best, e);
        if (!rc) rc = mr_npz_add(&w, "label", MR_DT_F8, 1, &nt, yt, e);
        if (rc) mr_npz_writer_abort(&w);
        else rc = mr_npz_writer_close(&w, e);
    }
    free(yv);
    free(yt);
    return rc;
}

static int load_split(mr_dataset *d, const char *prefix, const char *split, const mr_model_cfg *mc, mr_error *e) {
    char p[4200];
    snprintf(p, sizeof p, "%s_%s.npz", prefix, split);
    mr_dataset_expect x = {mc->d_a, mc->d_v, mc->bert ? 0 : mc->d_t, !mc->bert};
    return mr_dataset_open(d, p, &x, e);
}

static const char *CSV_HEAD =
    "epoch,seconds,lr_main,lr_vmi,train_loss,train_loss_stage1,train_ft,train_fa,train_fv,train_in,train_st,train_sa,train_sv,train_cp,"
    "train_mae,valid_loss,valid_mae,valid_corr,valid_acc7,valid_acc5,valid_acc2_non0,valid_f1_non0,valid_acc2_has0,valid_f1_has0,valid_ccc,"
    "valid_rmse,valid_ft,valid_fa,valid_fv,valid_in,valid_st,valid_sa,valid_sv,valid_cp,test_loss,test_mae,test_corr,test_acc7,test_acc5,"
    "test_acc2_non0,test_f1_non0,test_acc2_has0,test_f1_has0,test_ccc,test_rmse,test_ft,test_fa,test_fv,test_in,test_st,test_sa,test_sv,test_cp";

/* The unit columns that follow, per split s of train, valid, test (README
 * "Information units"): s_<q>_nats for the 8 quantities with the CMI terms
 * read out by dv (nats); s_I_<name> for the 11 estimates as read out (VMI
 * bounds in nats, CMI by the official read-out: not nats); s_I_<name>_nats
 * the same 11 in nats. The columns before them keep their places. */
static const char *const CSV_SPLITS[3] = {"train", "valid", "test"};

static void csv_head(char *b, size_t n) {
    size_t L = (size_t)snprintf(b, n, "%s", CSV_HEAD);
    for (int sp = 0; sp < 3; sp++) {
        for (int k = 0; k < MR_NDERIVED; k++) L += (size_t)snprintf(b + L, n - L, ",%s_%s_nats", CSV_SPLITS[sp], mr_derived_labels[k]);
        for (int nats = 0; nats < 2; nats++)
            for (int k = 0; k < MR_NMI; k++)
                L += (size_t)snprintf(b + L, n - L, ",%s_I_%s%s", CSV_SPLITS[sp], k < MR_NVMI ? mr_vmi_names[k] : mr_cmi_names[k - MR_NVMI],
                                      nats ? "_nats" : "");
    }
    snprintf(b + L, n - L, "\n");
}

/* A split's unit columns, in csv_head's order (with a leading comma). */
static size_t units_csv(char *b, size_t n, const mr_split_stats *s) {
    size_t L = 0;
    for (int k = 0; k < MR_NDERIVED; k++) L += (size_t)snprintf(b + L, n - L, ",%.10g", s->mi_nats[k]);
    for (int k = 0; k < MR_NMI; k++) L += (size_t)snprintf(b + L, n - L, ",%.10g", s->terms[k]);
    for (int k = 0; k < MR_NMI; k++) L += (size_t)snprintf(b + L, n - L, ",%.10g", s->terms_nats[k]);
    return L;
}

/* ------------------------------------------------------------ mimrl train */

typedef struct {
    mr_model_cfg mc;
    mr_train_cfg tc;
    const char *data, *out, *resume, *bert, *bert_pad, *text_input, *bert_weights;
    int overwrite, explicit_dims, have_epochs;
    char rundir[4096], blas[512];
    char resumed[8][4096]; /* --resume: the config.json values the pointers above point to */
    size_t nresumed;
} train_args;

/* Exit status of a failed step: 0 = go on. */
static int fail(int status, const mr_error *e);

/* --preset NAME: the named flag list, applied where it stands (later flags override it). */
static int set_preset(void *field, const char *cmd, const char *val) {
    train_args *a = field;
    mr_error e = {0};
    (void)cmd;
    if (mr_cfg_apply_preset(&a->mc, &a->tc, val, stdout, &e)) return fail(2, &e);
    a->have_epochs |= strstr(mr_cfg_preset_find(val)->flags, "--epochs_num ") != NULL;
    return 0;
}

/* The run options (the official flags are the table of ref/train/config.c).
 * MR_OPT_CONFIG: written to the run's config.json and read back on --resume. */
static const mr_opt TRAIN_OPTS[] = {
    {NULL, MR_OPT_HEADING, 0, NULL, NULL, "run options:\n", NULL, 0},
    {"--data", MR_OPT_TEXT, offsetof(train_args, data), NULL, "PREFIX", "the three splits PREFIX_{train,valid,test}.npz", NULL,
     MR_OPT_CONFIG},
    {"--out", MR_OPT_TEXT, offsetof(train_args, out), NULL, "RUNDIR", "run directory [default runs/TASK_NAME]", NULL, 0},
    {"--resume", MR_OPT_TEXT, offsetof(train_args, resume), NULL, "RUNDIR",
     "continue a run from its last.npz (bit-exact); --epochs_num N extends it", NULL, 0},
    {"--overwrite", MR_OPT_SWITCH, offsetof(train_args, overwrite), NULL, NULL, "replace the run already in RUNDIR (refused without it)",
     NULL, 0},
    {"--preset", MR_OPT_CUSTOM, 0, NULL, "NAME", "apply a named flag set first (later flags override it)", set_preset, 0},
    {"--bert", MR_OPT_TEXT, offsetof(train_args, bert), NULL, "DIR",
     "run BERT on the transcripts (text_bytes): a Hugging Face directory\n"
     "(config.json, vocab.txt, model.safetensors); mimrl bert-init makes one", NULL, MR_OPT_CONFIG},
    {"--text_input", MR_OPT_TEXT, offsetof(train_args, text_input), NULL, "bert|features",
     "the text branch [default bert with --bert, else features = text_emb]", NULL, MR_OPT_CONFIG},
    {"--bert_pad", MR_OPT_TEXT, offsetof(train_args, bert_pad), NULL, "dec|longest",
     "Dec rule (truncate + pad to time_len) or SDK/AVEC rule (pad to the longest\n"
     "of the batch, cropped at time_len by the model) [default dec for MulT data]", NULL, MR_OPT_CONFIG},
    {"--bert_weights", MR_OPT_TEXT, offsetof(train_args, bert_weights), NULL, "FILE",
     "BERT weights from FILE (a .safetensors file or an npz state_dict, e.g. the\n"
     "official model's bertmodel.* or HF's bert.* names) instead of DIR/model.safetensors;\n"
     "DIR still gives config.json and vocab.txt", NULL, MR_OPT_CONFIG},
    {"--bert_chunk", MR_OPT_CUSTOM, offsetof(train_args, mc.bert_chunk), NULL, "N",
     "samples per BERT chunk (activations of one chunk kept, the rest recomputed in\n"
     "the backward; memory ≈ N × 158 MB for BERT-base at 100 tokens) [default 8];\n"
     "results do not depend on it beyond summation order (bit-identical with BLAS=none)", mr_opt_bert_chunk, MR_OPT_CONFIG},
};

const mr_cmd_flags mr_flags_train = {
    "train", "[--data PREFIX] [--out RUNDIR] [--overwrite] [--preset NAME] [official flags…]\n--resume RUNDIR [--epochs_num N]",
    "Trains MIMRL on PREFIX_train.npz / _valid.npz / _test.npz (mimrl-npz, datasets/SCHEMA.md).\n"
    "Without --data: the built-in synthetic MOSI-like dataset (build/data/synth_mosi_*, written on first use).\n"
    "\n",
    TRAIN_OPTS, MR_OPT_N(TRAIN_OPTS),
    "\n"
    "Run directory: config.json, metrics.csv, best.npz, last.npz, predictions_valid.npz,\n"
    "predictions_test.npz, summary.json (written last: the run is finished), train.lock (held while running;\n"
    "a second mimrl train on the same directory is refused).\n"
    "Exit status: 0 done; 2 bad input or run directory in use/already holding a run; 3 the run diverged\n"
    "(a non-finite loss or gradient: the message names epoch, batch and term; last.npz keeps the last good\n"
    "epoch); 1 anything else.\n"};

static void train_help(void) {
    mr_opts_help(&mr_flags_train, stdout);
    printf("\npresets:\n");
    for (size_t i = 0; i < mr_cfg_preset_count; i++) printf("  %s: %s\n    %s\n", mr_cfg_presets[i].name, mr_cfg_presets[i].about, mr_cfg_presets[i].flags);
    printf("\nofficial flags (Parameters.py names; V = a value, switches take none or true/false):\n");
    mr_cfg_help(stdout);
}


static int fail(int status, const mr_error *e) {
    fprintf(stderr, "mimrl train: %s\n", e->msg);
    return status;
}

/* The command line; -1 = go on, else the exit status (0 after --help). */
static int parse_args(int argc, char **argv, train_args *a) {
    mr_model_cfg_default(&a->mc);
    mr_train_cfg_default(&a->tc);
    mr_error e = {0};
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            train_help();
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
            fprintf(stderr, "mimrl train: unexpected argument '%s' (flags start with --; see 'mimrl train --help')\n", arg);
            return 2;
        }
        const char *name = arg + 2, *val = NULL;
        const mr_opt *o = mr_opts_find(&mr_flags_train, arg);
        if (o) { /* a run option */
            if (mr_opt_takes_value(o)) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "mimrl train: flag --%s needs a value\n", name);
                    return 2;
                }
                val = argv[++i];
            }
            if (mr_opt_set(&mr_flags_train, o, val, a)) return 2;
            continue;
        }
        /* an official flag */
        if (!mr_cfg_is_switch(name)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mimrl train: flag --%s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        } else if (i + 1 < argc && (!strcmp(argv[i + 1], "true") || !strcmp(argv[i + 1], "false"))) {
            val = argv[++i];
        }
        if (mr_cfg_apply(&a->mc, &a->tc, name, val ? val : "true", stdout, &e)) return fail(2, &e);
        if (!strcmp(name, "d_a") || !strcmp(name, "d_v") || !strcmp(name, "d_t")) a->explicit_dims = 1;
        if (!strcmp(name, "epochs_num")) a->have_epochs = 1;
    }
    return -1;
}

/* A run's config.json is a few kB; 16 MiB leaves room for long paths and
 * whitespace, and a bigger file is refused by name, never cut. */
enum { CONFIG_JSON_MAX = 16 << 20 };

/* --resume: every setting comes from the run directory's config.json;
 * --epochs_num may extend the run. */
static int resume_config(train_args *a) {
    size_t want_epochs = a->tc.epochs_num;
    char path[4200];
    mr_error e = {0};
    snprintf(path, sizeof path, "%s/config.json", a->resume);
    char *txt;
    size_t n;
    int frc = mr_read_file(path, CONFIG_JSON_MAX, &txt, &n, &e);
    if (frc == MR_EIO && access(path, F_OK) != 0) {
        fprintf(stderr, "mimrl train: --resume %s: no config.json there\n", a->resume);
        return 2;
    }
    if (frc != MR_OK) {
        fprintf(stderr, "mimrl train: --resume %s: %s\n", a->resume, e.msg);
        return frc == MR_ENOMEM ? 1 : 2;
    }
    mr_model_cfg_default(&a->mc);
    mr_train_cfg_default(&a->tc);
    mr_kvlist l;
    int rc = mr_json_parse_flat(txt, &l, path, &e);
    free(txt);
    if (rc) return fail(2, &e);
    for (size_t k = 0; k < l.n && !rc; k++) {
        char flag[140];
        snprintf(flag, sizeof flag, "--%.128s", l.kv[k].key);
        const mr_opt *o = mr_opts_find(&mr_flags_train, flag);
        if (o && (o->bits & MR_OPT_CONFIG)) { /* a run option saved by write_config */
            if (a->nresumed == sizeof a->resumed / sizeof a->resumed[0] || strlen(l.kv[k].value) >= sizeof a->resumed[0]) {
                fprintf(stderr, "mimrl train: %s: \"%s\" too long or too many run options\n", path, l.kv[k].key);
                rc = 2;
                break;
            }
            char *v = a->resumed[a->nresumed++];
            snprintf(v, sizeof a->resumed[0], "%s", l.kv[k].value);
            if ((rc = mr_opt_set(&mr_flags_train, o, v, a))) fprintf(stderr, "mimrl train: in %s\n", path);
        } else if (strcmp(l.kv[k].key, "blas") && strcmp(l.kv[k].key, "run_dir")) {
            if ((rc = mr_cfg_apply(&a->mc, &a->tc, l.kv[k].key, l.kv[k].value, NULL, &e))) fprintf(stderr, "mimrl train: %s: %s\n", path, e.msg);
        }
    }
    mr_kvlist_free(&l);
    if (rc) return 2;
    if (a->have_epochs) a->tc.epochs_num = want_epochs;
    snprintf(a->rundir, sizeof a->rundir, "%s", a->resume);
    a->explicit_dims = 1;
    return -1;
}

/* The three splits, feature widths from the data unless given, the
 * official normalization. */
static int load_data(train_args *a, mr_dataset *tr, mr_dataset *va, mr_dataset *te, int *avec) {
    static char synth_prefix[] = "build/data/synth_mosi";
    char path[4200];
    mr_error e = {0};
    if (!a->data) {
        if (ensure_synth(synth_prefix, &e)) return fail(1, &e);
        a->data = synth_prefix;
    }
    if (!a->explicit_dims) {
        mr_dataset probe;
        snprintf(path, sizeof path, "%s_test.npz", a->data);
        if (mr_dataset_open(&probe, path, NULL, &e)) return fail(2, &e);
        a->mc.d_a = probe.audio.dim, a->mc.d_v = probe.vision.dim;
        if (probe.text_emb.x && !a->mc.bert) a->mc.d_t = probe.text_emb.dim;
        mr_dataset_free(&probe);
    }
    if (load_split(tr, a->data, "train", &a->mc, &e)) return fail(2, &e);
    if (load_split(va, a->data, "valid", &a->mc, &e)) {
        mr_dataset_free(tr);
        return fail(2, &e);
    }
    if (load_split(te, a->data, "test", &a->mc, &e)) {
        mr_dataset_free(tr), mr_dataset_free(va);
        return fail(2, &e);
    }
    *avec = strstr(tr->meta_json ? tr->meta_json : "", "\"avec2019\"") != NULL || !strcmp(a->tc.dataset, "avec2019");
    int dec = strstr(tr->meta_json ? tr->meta_json : "", "MulT") != NULL;
    for (int k = 0; k < 3; k++) {
        if (a->tc.normalize[k] && !dec) {
            char w = "tav"[k];
            mr_dataset_minmax(tr, w), mr_dataset_minmax(va, w), mr_dataset_minmax(te, w);
        } else if (a->tc.normalize[k]) {
            printf("note: --normalize is ignored for MulT/DeclareLab data, as in the official code (O-5)\n");
        }
        if (a->tc.log_scale[k]) printf("note: --log_scale needs the official per-dataset minimum constants; not applied to this data\n");
    }
    return -1;
}

/* The files of a run; removed by --overwrite before the new run starts. */
static const char *const RUN_FILES[] = {"summary.json", "last.npz", "best.npz", "metrics.csv", "predictions_valid.npz", "predictions_test.npz",
                                        "config.json"};

/* Create the run directory and hold its lock (train.lock, an fcntl lock
 * the kernel drops with the process, also on SIGKILL; fcntl rather than
 * flock so that it also holds on NFS). A new run refuses a directory that
 * already holds one unless --overwrite, which removes the old run's files. */
static int open_rundir(train_args *a, int *lockfd) {
    char path[4200];
    if (!a->resume) snprintf(a->rundir, sizeof a->rundir, "%s%s", a->out ? "" : "runs/", a->out ? a->out : a->tc.task_name);
    mr_error me = {0};
    if (mr_mkdir_p(a->rundir, &me)) {
        fprintf(stderr, "mimrl train: cannot create the run directory %s: %s\n", a->rundir, me.msg);
        return 2;
    }
    snprintf(path, sizeof path, "%s/train.lock", a->rundir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        fprintf(stderr, "mimrl train: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        long pid = fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK ? (long)q.l_pid : -1;
        fprintf(stderr, "mimrl train: run directory %s is in use by another mimrl train (pid %ld holds %s); one run per directory\n", a->rundir,
                pid, path);
        close(fd);
        return 2;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) { /* the pid is for people only: F_GETLK names the holder */
    }
    *lockfd = fd;
    if (!a->resume) {
        const char *held = NULL;
        for (size_t i = 0; i < sizeof RUN_FILES / sizeof RUN_FILES[0] && !held; i++) {
            snprintf(path, sizeof path, "%s/%s", a->rundir, RUN_FILES[i]);
            if (exists(path)) held = RUN_FILES[i];
        }
        if (held && !a->overwrite) {
            fprintf(stderr, "mimrl train: %s already holds a%s run (%s); --resume %s continues it, --overwrite replaces it\n", a->rundir,
                    !strcmp(held, "summary.json") ? " finished" : "n unfinished", held, a->rundir);
            return 2;
        }
        for (size_t i = 0; held && i < sizeof RUN_FILES / sizeof RUN_FILES[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", a->rundir, RUN_FILES[i]);
            if (unlink(path) != 0 && errno != ENOENT) {
                fprintf(stderr, "mimrl train: --overwrite: cannot remove %s: %s\n", path, strerror(errno));
                return 2;
            }
        }
    }
    return -1;
}

/* metrics.csv rows, kept in memory and rewritten atomically each epoch */
typedef struct {
    char *rows;
    size_t len, cap;
} csv_rows;

static int rows_add(csv_rows *r, const char *line) {
    size_t L = strlen(line);
    while (r->len + L + 1 > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1 << 16;
        char *q = realloc(r->rows, cap);
        if (!q) return MR_ENOMEM;
        r->rows = q, r->cap = cap;
    }
    memcpy(r->rows + r->len, line, L + 1);
    r->len += L;
    return MR_OK;
}

/* --resume: the trainer state from last.npz and the metrics rows of the
 * epochs it has completed. */
static int resume_state(mr_trainer *t, const train_args *a, csv_rows *rows) {
    char path[4200];
    mr_error e = {0};
    snprintf(path, sizeof path, "%s/last.npz", a->rundir);
    if (mr_trainer_restore(t, path, &e)) {
        fprintf(stderr, "mimrl train: --resume: %s\n", e.msg);
        return 2;
    }
    snprintf(path, sizeof path, "%s/metrics.csv", a->rundir);
    FILE *f = fopen(path, "r");
    char line[8192];
    size_t ln = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (ln++ == 0) continue;
        if ((size_t)atol(line) >= t->epoch) break;
        if (rows_add(rows, line)) {
            fclose(f);
            fprintf(stderr, "mimrl train: out of memory\n");
            return 1;
        }
    }
    if (f) fclose(f);
    if (t->epoch < a->tc.epochs_num) { /* the run goes on: it is no longer finished */
        snprintf(path, sizeof path, "%s/summary.json", a->rundir);
        unlink(path);
    }
    printf("resuming %s at epoch %zu of %zu\n", a->rundir, t->epoch, a->tc.epochs_num);
    return -1;
}

/* config.json: the configuration, the data prefix, the run directory and the BLAS. */
static int write_config(const train_args *a, const char *cfgjson) {
    char path[4200], data[8300], rundir[8300], blas[1100];
    mr_error e = {0};
    mr_json_quote(data, sizeof data, a->data);
    mr_json_quote(rundir, sizeof rundir, a->rundir);
    mr_json_quote(blas, sizeof blas, a->blas);
    char bert[16600] = "";
    if (a->mc.bert) {
        char q[8200], qw[8200] = "";
        mr_json_quote(q, sizeof q, a->bert);
        if (a->bert_weights) {
            char t[8200];
            mr_json_quote(t, sizeof t, a->bert_weights);
            snprintf(qw, sizeof qw, ", \"bert_weights\": %.8100s", t);
        }
        snprintf(bert, sizeof bert, ", \"bert\": %.8100s, \"text_input\": \"bert\", \"bert_pad\": \"%s\", \"bert_chunk\": %zu%s", q,
                 a->bert_pad, a->mc.bert_chunk ? a->mc.bert_chunk : (size_t)8, qw);
    }
    size_t cl = strlen(cfgjson), n = cl + strlen(data) + strlen(rundir) + strlen(blas) + strlen(bert) + 64;
    char *full = malloc(n);
    if (!full) return 1;
    snprintf(full, n, "%.*s, \"data\": %s, \"run_dir\": %s, \"blas\": %s%s}\n", (int)(cl - 1), cfgjson, data, rundir, blas, bert);
    snprintf(path, sizeof path, "%s/config.json", a->rundir);
    int rc = write_text(path, full, &e);
    free(full);
    return rc ? fail(2, &e) : -1;
}

/* One epoch done: its line on stdout, its metrics.csv row, best.npz when it
 * is the best so far, the predictions, then last.npz (the checkpoint
 * --resume continues from, written last). */
static int log_epoch(mr_trainer *t, const train_args *a, csv_rows *rows, const char *cfgjson, const mr_split_stats *s_tr, const mr_split_stats *s_va,
                     const mr_split_stats *s_te, double lr_m, double lr_v, double secs) {
    size_t ep = t->epoch - 1;
    printf("%5zu %8.4f %8.4f | %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f | %8.4f %7.4f %7.4f | %8.4f %6.1f%s\n", ep, s_tr->loss, s_tr->loss1,
           s_tr->mi[0], s_tr->mi[1], s_tr->mi[2], s_tr->mi[3], s_tr->mi[4], s_tr->mi[5], s_tr->mi[6], s_tr->mi[7], s_va->met.mae, s_va->met.corr,
           s_va->met.acc2_non0, s_te->met.mae, secs, t->best_epoch == (long)ep ? "  *best valid" : "");
    fflush(stdout);
    char m1[512], m2[512], m3[512], m4[512], m5[512], row[8192], path[4200];
    mi_csv(m1, sizeof m1, s_tr->mi);
    met_csv(m2, sizeof m2, s_va);
    mi_csv(m3, sizeof m3, s_va->mi);
    met_csv(m4, sizeof m4, s_te);
    mi_csv(m5, sizeof m5, s_te->mi);
    size_t L = (size_t)snprintf(row, sizeof row, "%zu,%.3f,%.10g,%.10g,%.10g,%.10g,%s,%.10g,%s,%s,%s,%s", ep, secs, lr_m, lr_v, s_tr->loss, s_tr->loss1, m1,
                                s_tr->met.mae, m2, m3, m4, m5);
    const mr_split_stats *sp[3] = {s_tr, s_va, s_te};
    for (int k = 0; k < 3; k++) L += units_csv(row + L, sizeof row - L, sp[k]);
    snprintf(row + L, sizeof row - L, "\n");
    mr_error e = {0};
    char head[8192];
    csv_head(head, sizeof head);
    size_t hl = strlen(head);
    char *csv = rows_add(rows, row) ? NULL : malloc(hl + rows->len + 1);
    if (!csv) {
        fprintf(stderr, "mimrl train: out of memory\n");
        return 1;
    }
    memcpy(csv, head, hl);
    memcpy(csv + hl, rows->rows, rows->len + 1);
    snprintf(path, sizeof path, "%s/metrics.csv", a->rundir);
    int rc = write_text(path, csv, &e);
    free(csv);
    if (!rc && t->best_epoch == (long)ep) {
        snprintf(path, sizeof path, "%s/best.npz", a->rundir);
        mr_model bm = t->m;
        bm.p.data = t->best_params;
        rc = mr_model_save(&bm, path, cfgjson, 0, &e);
    }
    if (!rc) rc = save_predictions(t, a->rundir, &e);
    snprintf(path, sizeof path, "%s/last.npz", a->rundir);
    if (!rc) rc = mr_trainer_save(t, path, &e);
    return rc ? fail(1, &e) : -1;
}

/* summary.json (written last: its presence marks a finished run) and the
 * closing line: test at best valid (the headline) and best test (selected
 * on test, O-24). */
static int write_summary(const mr_trainer *t, const train_args *a, double total_s, size_t run_epochs) {
    const mr_dataset *te = t->test;
    double *yt = malloc(te->N * sizeof *yt);
    if (!yt) {
        fprintf(stderr, "mimrl train: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < te->N; i++) yt[i] = t->avec ? te->label[i] / 25 : te->label[i];
    mr_metrics at, bt;
    if (t->avec) mr_metrics_avec(t->pred_test_at_best, yt, te->N, 25, &at), mr_metrics_avec(t->pred_test_best, yt, te->N, 25, &bt);
    else mr_metrics_mosi(t->pred_test_at_best, yt, te->N, &at), mr_metrics_mosi(t->pred_test_best, yt, te->N, &bt);
    free(yt);
    char sum[16384], data[8300], path[4200];
    mr_json_quote(data, sizeof data, a->data);
    snprintf(sum, sizeof sum,
             "{\"epochs\": %zu, \"best_valid_epoch\": %ld, \"best_valid_%s\": %.10g, \"test_at_best_valid\": {\"mae\": %.10g, \"corr\": %.10g, "
             "\"acc7\": %.10g, \"acc5\": %.10g, \"acc2_non0\": %.10g, \"f1_non0\": %.10g, \"acc2_has0\": %.10g, \"f1_has0\": %.10g, "
             "\"ccc\": %.10g, \"rmse\": %.10g}, \"best_test_selected_on_test\": {\"epoch\": %ld, \"mae\": %.10g, \"ccc\": %.10g}, "
             "\"seconds_per_epoch_this_invocation\": %.3f, \"data\": %s}\n",
             t->epoch, t->best_epoch, t->avec ? "ccc" : "mae", t->best_valid, at.mae, at.corr, at.acc7, at.acc5, at.acc2_non0, at.f1_non0,
             at.acc2_has0, at.f1_has0, at.ccc, at.rmse, t->best_test_epoch, bt.mae, bt.ccc, run_epochs ? total_s / (double)run_epochs : 0, data);
    snprintf(path, sizeof path, "%s/summary.json", a->rundir);
    mr_error e = {0};
    if (write_text(path, sum, &e)) return fail(1, &e);
    printf("best valid epoch %ld (%s %.4f); test at best valid: MAE %.4f, corr %.4f, Acc-2 %.4f/%.4f, Acc-7 %.4f; best test MAE %.4f "
           "(selected on test, epoch %ld)\nrun directory: %s\n",
           t->best_epoch, t->avec ? "CCC" : "MAE", t->best_valid, at.mae, at.corr, at.acc2_non0, at.acc2_has0, at.acc7, bt.mae, t->best_test_epoch,
           a->rundir);
    return 0;
}

/* The epochs still to run; their logs and checkpoints. */
static int run_epochs(mr_trainer *t, const train_args *a, csv_rows *rows, const char *cfgjson) {
    double total_s = 0;
    size_t n_run = 0;
    mr_error e = {0};
    while (t->epoch < a->tc.epochs_num) {
        double t_epoch = mr_seconds();
        double lr_m = t->opt_main.g[0].lr, lr_v = t->opt_vmi.g[0].lr;
        mr_split_stats s_tr, s_va, s_te;
        if (mr_trainer_epoch(t, &s_tr, &s_va, &s_te, &e)) {
            if (t->progress) printf("\n");
            fflush(stdout);
            if (!t->diverged) return fail(1, &e);
            fprintf(stderr, "mimrl train: %s\nmimrl train: the run stops (diverged); %s/last.npz %s\n", e.msg, a->rundir,
                    t->epoch ? "holds the state after the last good epoch" : "was not written (no epoch completed)");
            return 3;
        }
        double secs = mr_seconds() - t_epoch;
        total_s += secs;
        n_run++;
        int rc = log_epoch(t, a, rows, cfgjson, &s_tr, &s_va, &s_te, lr_m, lr_v, secs);
        if (rc >= 0) return rc;
    }
    return write_summary(t, a, total_s, n_run);
}

int mr_cmd_train(int argc, char **argv) {
    train_args a;
    memset(&a, 0, sizeof a);
    mr_error e = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0 && a.resume) rc = resume_config(&a);
    if (rc < 0 && mr_cfg_check(&a.mc, &a.tc, &e)) rc = fail(2, &e);
    if (rc >= 0) return rc;
    /* the text branch: BERT on the transcripts, or precomputed features */
    mr_params bw;
    mr_params_init(&bw);
    mr_tokenizer tok;
    memset(&tok, 0, sizeof tok);
    int have_tok = 0;
    if (!a.text_input) a.text_input = a.bert ? "bert" : "features";
    if (strcmp(a.text_input, "bert") && strcmp(a.text_input, "features")) {
        fprintf(stderr, "mimrl train: --text_input '%s': expected bert or features\n", a.text_input);
        return 2;
    }
    if (a.bert_pad && strcmp(a.bert_pad, "dec") && strcmp(a.bert_pad, "longest")) {
        fprintf(stderr, "mimrl train: --bert_pad '%s': expected dec or longest\n", a.bert_pad);
        return 2;
    }
    if (!strcmp(a.text_input, "bert")) {
        if (!a.bert) {
            fprintf(stderr, "mimrl train: --text_input bert needs --bert DIR (mimrl bert-init --out DIR makes a small one)\n");
            return 2;
        }
        char vp[4200];
        snprintf(vp, sizeof vp, "%s/vocab.txt", a.bert);
        if (mr_bert_load_dir_weights(a.bert, a.bert_weights, &a.mc.bert_cfg, &bw, NULL, &e) || mr_tokenizer_load(&tok, vp, &e)) {
            mr_params_free(&bw);
            return fail(2, &e);
        }
        have_tok = 1;
        a.mc.bert = 1, a.mc.d_t = a.mc.bert_cfg.hidden_size;
    }
    mr_dataset tr, va, te;
    int avec = 0, lockfd = -1;
    if ((rc = load_data(&a, &tr, &va, &te, &avec)) >= 0) {
        mr_params_free(&bw);
        if (have_tok) mr_tokenizer_free(&tok);
        return rc;
    }
    mr_trainer_bert tb = {&tok, MR_PAD_MAX_LENGTH, &bw};
    if (a.mc.bert) {
        int dec = strstr(tr.meta_json ? tr.meta_json : "", "MulT") != NULL;
        if (!a.bert_pad) a.bert_pad = dec ? "dec" : "longest";
        tb.pad = strcmp(a.bert_pad, "dec") ? MR_PAD_LONGEST : MR_PAD_MAX_LENGTH;
    }
    mr_trainer t;
    memset(&t, 0, sizeof t);
    csv_rows rows = {0};
    char *cfgjson = NULL;
    rc = open_rundir(&a, &lockfd);
    if (rc < 0 && mr_trainer_init_bert(&t, &a.mc, &a.tc, &tr, &va, &te, avec, a.mc.bert ? &tb : NULL, stdout, &e)) rc = fail(2, &e);
    /* the model holds the BERT weights now: the loaded store (values,
     * gradients and moments: 3.5 GB for BERT-base) goes before training */
    mr_params_free(&bw);
    tb.weights = NULL;
    if (rc < 0 && !(cfgjson = mr_cfg_to_json(&t.mc, &t.tc))) rc = 1;
    mr_blas_describe(a.blas, sizeof a.blas);
    if (rc < 0 && !a.resume) rc = write_config(&a, cfgjson);
    if (rc < 0 && a.resume) rc = resume_state(&t, &a, &rows);
    if (rc < 0) {
        printf("mimrl train: %zu train / %zu valid / %zu test samples from %s; %zu parameters (%zu main); BLAS %s\n", tr.N, va.N, te.N, a.data,
               t.m.p.total, t.m.p.t[t.m.n_main].offset, a.blas);
        printf("%5s %8s %8s | %7s %7s %7s %7s %7s %7s %7s %7s | %8s %7s %7s | %8s %6s\n", "epoch", "loss", "loss1", "ft", "fa", "fv", "in", "st", "sa",
               "sv", "cp", "val MAE", "corr", "acc2", "test MAE", "s");
        rc = run_epochs(&t, &a, &rows, cfgjson);
    }
    free(cfgjson);
    free(rows.rows);
    mr_trainer_free(&t); /* safe on the zeroed struct */
    mr_dataset_free(&tr), mr_dataset_free(&va), mr_dataset_free(&te);
    mr_params_free(&bw);
    if (have_tok) mr_tokenizer_free(&tok);
    if (lockfd >= 0) close(lockfd);
    return rc;
}

typedef struct {
    const char *checkpoint, *data, *split, *bert, *bert_pad;
    int json;
    size_t bert_chunk;
} eval_opts;

static const mr_opt EVAL_OPTS[] = {
    {"--checkpoint", MR_OPT_TEXT, offsetof(eval_opts, checkpoint), NULL, "FILE.npz", "a saved model (best.npz, last.npz; required)", NULL, 0},
    {"--data", MR_OPT_TEXT, offsetof(eval_opts, data), NULL, "PREFIX", "the dataset: PREFIX_{train,valid,test}.npz (required)", NULL, 0},
    {"--split", MR_OPT_TEXT, offsetof(eval_opts, split), "test", "test|valid|train", "which split", NULL, 0},
    {"--json", MR_OPT_SWITCH, offsetof(eval_opts, json), NULL, NULL, "print JSON instead of a table", NULL, 0},
    {"--bert", MR_OPT_TEXT, offsetof(eval_opts, bert), NULL, "DIR", "a checkpoint with BERT: the directory with its vocab.txt", NULL, 0},
    {"--bert_pad", MR_OPT_TEXT, offsetof(eval_opts, bert_pad), NULL, "dec|longest",
     "padding rule of the transcripts [default dec for MulT data, else longest]", NULL, 0},
    {"--bert_chunk", MR_OPT_CUSTOM, offsetof(eval_opts, bert_chunk), NULL, "N",
     "samples per BERT chunk, 1 … 4096 [default: the checkpoint's]", mr_opt_bert_chunk, 0},
};

const mr_cmd_flags mr_flags_eval = {
    "eval", "--checkpoint FILE.npz --data PREFIX [--split test|valid|train] [--json] [--bert DIR ...]",
    "Metrics of a saved model on a split (a checkpoint with BERT needs --bert DIR for its vocab.txt).\n", EVAL_OPTS,
    MR_OPT_N(EVAL_OPTS), NULL};

int mr_cmd_eval(int argc, char **argv) {
    eval_opts o = {0};
    int rc = mr_opts_parse(&mr_flags_eval, argc, argv, 2, &o);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    size_t bert_chunk = o.bert_chunk;
    if (!o.checkpoint || !o.data) {
        fprintf(stderr, "usage: mimrl eval --checkpoint FILE.npz --data PREFIX [--split test|valid|train] [--json] [--bert DIR "
                        "[--bert_pad dec|longest] [--bert_chunk N]]\n(a checkpoint with BERT needs --bert DIR for its vocab.txt)\n");
        return 2;
    }
    const char *split = o.split;
    if (strcmp(split, "test") && strcmp(split, "valid") && strcmp(split, "train")) {
        fprintf(stderr, "mimrl eval: --split must be train, valid or test (got '%s')\n", split);
        return 2;
    }
    mr_error e = {0};
    mr_trainer t;
    memset(&t, 0, sizeof t);
    if (mr_model_from_checkpoint(&t.m, &t.mc, &t.tc, o.checkpoint, &e)) {
        fprintf(stderr, "mimrl eval: %s\n", e.msg);
        return 2;
    }
    if (bert_chunk) t.m.cfg.bert_chunk = t.mc.bert_chunk = bert_chunk;
    mr_dataset d;
    if (load_split(&d, o.data, split, &t.mc, &e)) {
        fprintf(stderr, "mimrl eval: %s\n", e.msg);
        mr_model_free(&t.m);
        return 2;
    }
    t.avec = strstr(d.meta_json ? d.meta_json : "", "\"avec2019\"") != NULL;
    mr_tokenizer tok;
    int have_tok = 0;
    if (t.mc.bert) {
        const char *pad = o.bert_pad ? o.bert_pad : strstr(d.meta_json ? d.meta_json : "", "MulT") ? "dec" : "longest";
        char vp[4200];
        snprintf(vp, sizeof vp, "%s/vocab.txt", o.bert ? o.bert : "");
        if (!o.bert || (strcmp(pad, "dec") && strcmp(pad, "longest")) || mr_tokenizer_load(&tok, vp, &e)) {
            fprintf(stderr, "mimrl eval: %s\n", !o.bert ? "the checkpoint has a BERT: --bert DIR gives its vocab.txt"
                                                  : strcmp(pad, "dec") && strcmp(pad, "longest") ? "--bert_pad: expected dec or longest"
                                                                                                   : e.msg);
            mr_dataset_free(&d);
            mr_model_free(&t.m);
            return 2;
        }
        have_tok = 1;
        t.tok = &tok, t.pad = strcmp(pad, "dec") ? MR_PAD_LONGEST : MR_PAD_MAX_LENGTH;
    }
    t.r_anchor = gsl_rng_alloc(gsl_rng_mt19937);
    double *pred = malloc(d.N * sizeof *pred);
    mr_split_stats st;
    rc = mr_evaluate(&t, &d, &st, pred, &e);
    if (rc) {
        fprintf(stderr, "mimrl eval: %s\n", e.msg);
    } else if (o.json) {
        printf("{\"split\": \"%s\", \"n\": %zu, \"task_loss_mean\": %.17g, \"mae\": %.17g, \"corr\": %.17g, \"acc7\": %.17g, \"acc5\": %.17g, "
               "\"acc2_non0\": %.17g, \"f1_non0\": %.17g, \"acc2_has0\": %.17g, \"f1_has0\": %.17g, \"ccc\": %.17g, \"rmse\": %.17g}\n",
               split, d.N, st.loss, st.met.mae, st.met.corr, st.met.acc7, st.met.acc5, st.met.acc2_non0, st.met.f1_non0, st.met.acc2_has0,
               st.met.f1_has0, st.met.ccc, st.met.rmse);
    } else {
        printf("%s split (%zu samples): MAE %.6f, corr %.6f, Acc-7 %.6f, Acc-5 %.6f, Acc-2 non0 %.6f (F1 %.6f), has0 %.6f (F1 %.6f), CCC %.6f, RMSE %.6f\n",
               split, d.N, st.met.mae, st.met.corr, st.met.acc7, st.met.acc5, st.met.acc2_non0, st.met.f1_non0, st.met.acc2_has0, st.met.f1_has0,
               st.met.ccc, st.met.rmse);
    }
    free(pred);
    gsl_rng_free(t.r_anchor);
    mr_trainer_release(&t); /* workspace, token ids, encoding: before the dataset they point into */
    mr_dataset_free(&d);
    mr_model_free(&t.m);
    if (have_tok) mr_tokenizer_free(&tok);
    return rc ? 2 : 0;
}
