/* cli_train.c — `mimrl train` and `mimrl eval`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "datasets/synth.h"
#include "ref/cli/cli.h"
#include "ref/train/config.h"
#include "ref/core/json.h"
#include "ref/train/train.h"

static const char *TRAIN_HELP =
    "usage: mimrl train [--data PREFIX] [--out RUNDIR] [official flags…]\n"
    "       mimrl train --resume RUNDIR [--epochs_num N]\n"
    "Trains MIMRL on PREFIX_train.npz / _valid.npz / _test.npz (mimrl-npz, datasets/SCHEMA.md).\n"
    "Without --data: the built-in synthetic MOSI-like dataset (build/data/synth_mosi_*, written on first use).\n"
    "Flags are the official ones (Parameters.py), e.g. the official README command with --dataset\n"
    "swapped for --data:\n"
    "  --batch_size 128 --d_common 128 --encoders gru --activate gelu --time_len 100\n"
    "  --d_hiddens 50-3-128=10-3-128 --d_outs 50-3-128=10-3-128 --dropout_mlp 0.0-0.0-0.0\n"
    "  --dropout 0.1-0.1-0.1-0.1 --bias --res_project 1-1 --critic_type separate\n"
    "  --baseline_type constant --bound_type infonce --loss_mi_coefficient1 1-1-1-1-1-1-1-1-1-1-1\n"
    "  --loss_mi_coefficient2 0.01-0.01-0.01-0.01-0.01-0.01-0.01-0.01 --mi_lr_rate 1.0 --k_neighbor 2\n"
    "  --cmi_last_acticate sigmoid --stage1_n 2 --seed 0 --loss MAE --gradient_clip 1.5 --epochs_num 70\n"
    "  --optm Adam --learning_rate 4e-3 --lr_decrease multi_step --lr_decrease_iter 9-60 --lr_decrease_rate 0.1\n"
    "Extensions: --cmi_readout mimrl|nwj|dv, --masked_pool, --smile_clip T, --interp_per_row.\n"
    "Run directory: config.json, metrics.csv, best.npz, last.npz, predictions_valid.npz,\n"
    "predictions_test.npz, summary.json.\n";

static int mkdirs(const char *d) {
    char b[4096];
    snprintf(b, sizeof b, "%s", d);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(b, 0777);
            *p = '/';
        }
    return mkdir(b, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* the built-in dataset for the README's main command */
static int ensure_synth(const char *prefix, mr_error *e) {
    char p[4200];
    snprintf(p, sizeof p, "%s_test.npz", prefix);
    if (exists(p)) return MR_OK;
    mkdirs("build/data");
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
    mr_dataset_expect x = {mc->d_a, mc->d_v, mc->d_t, 1};
    return mr_dataset_open(d, p, &x, e);
}

static const char *CSV_HEAD =
    "epoch,seconds,lr_main,lr_vmi,train_loss,train_loss_stage1,train_ft,train_fa,train_fv,train_in,train_st,train_sa,train_sv,train_cp,"
    "train_mae,valid_loss,valid_mae,valid_corr,valid_acc7,valid_acc5,valid_acc2_non0,valid_f1_non0,valid_acc2_has0,valid_f1_has0,valid_ccc,"
    "valid_rmse,valid_ft,valid_fa,valid_fv,valid_in,valid_st,valid_sa,valid_sv,valid_cp,test_loss,test_mae,test_corr,test_acc7,test_acc5,"
    "test_acc2_non0,test_f1_non0,test_acc2_has0,test_f1_has0,test_ccc,test_rmse,test_ft,test_fa,test_fv,test_in,test_st,test_sa,test_sv,test_cp\n";

int mr_cmd_train(int argc, char **argv) {
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    const char *data = NULL, *out = NULL, *resume = NULL;
    int explicit_dims = 0, have_epochs = 0;
    mr_error e = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(TRAIN_HELP, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fprintf(stderr, "mimrl train: unexpected argument '%s' (flags start with --; see 'mimrl train --help')\n", a);
            return 2;
        }
        const char *name = a + 2;
        const char *val = NULL;
        if (!mr_cfg_is_switch(name)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mimrl train: flag --%s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        } else if (i + 1 < argc && (!strcmp(argv[i + 1], "true") || !strcmp(argv[i + 1], "false"))) {
            val = argv[++i];
        }
        if (!strcmp(name, "data")) data = val;
        else if (!strcmp(name, "out")) out = val;
        else if (!strcmp(name, "resume")) resume = val;
        else {
            int rc = mr_cfg_apply(&mc, &tc, name, val ? val : "true", stdout, &e);
            if (rc != MR_OK && rc != 1) {
                fprintf(stderr, "mimrl train: %s\n", e.msg);
                return 2;
            }
            if (!strcmp(name, "d_a") || !strcmp(name, "d_v") || !strcmp(name, "d_t")) explicit_dims = 1;
            if (!strcmp(name, "epochs_num")) have_epochs = 1;
        }
    }
    char rundir[4096], path[4200];
    if (resume) {
        /* everything comes from the run directory; --epochs_num may extend the run */
        size_t want_epochs = tc.epochs_num;
        snprintf(path, sizeof path, "%s/config.json", resume);
        size_t n;
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "mimrl train: --resume %s: no config.json there\n", resume);
            return 2;
        }
        char *txt = malloc(1 << 20);
        n = fread(txt, 1, (1 << 20) - 1, f);
        fclose(f);
        txt[n] = 0;
        mr_model_cfg_default(&mc);
        mr_train_cfg_default(&tc);
        mr_kvlist l;
        if (mr_json_parse_flat(txt, &l, path, &e)) {
            free(txt);
            fprintf(stderr, "mimrl train: %s\n", e.msg);
            return 2;
        }
        static char dbuf[4096];
        for (size_t k = 0; k < l.n; k++) {
            if (!strcmp(l.kv[k].key, "data")) {
                snprintf(dbuf, sizeof dbuf, "%s", l.kv[k].value);
                data = dbuf;
                continue;
            }
            if (!strcmp(l.kv[k].key, "blas") || !strcmp(l.kv[k].key, "run_dir")) continue;
            int rc = mr_cfg_apply(&mc, &tc, l.kv[k].key, l.kv[k].value, NULL, &e);
            if (rc != MR_OK && rc != 1) {
                fprintf(stderr, "mimrl train: %s: %s\n", path, e.msg);
                mr_kvlist_free(&l);
                free(txt);
                return 2;
            }
        }
        mr_kvlist_free(&l);
        free(txt);
        if (have_epochs) tc.epochs_num = want_epochs;
        snprintf(rundir, sizeof rundir, "%s", resume);
        explicit_dims = 1;
    }
    if (mr_cfg_check(&mc, &tc, &e)) {
        fprintf(stderr, "mimrl train: %s\n", e.msg);
        return 2;
    }
    static char synth_prefix[] = "build/data/synth_mosi";
    if (!data) {
        if (ensure_synth(synth_prefix, &e)) {
            fprintf(stderr, "mimrl train: %s\n", e.msg);
            return 1;
        }
        data = synth_prefix;
    }
    /* feature widths: from the data unless given */
    mr_dataset tr, va, te;
    if (!explicit_dims) {
        mr_dataset probe;
        snprintf(path, sizeof path, "%s_test.npz", data);
        if (mr_dataset_open(&probe, path, NULL, &e)) {
            fprintf(stderr, "mimrl train: %s\n", e.msg);
            return 2;
        }
        mc.d_a = probe.audio.dim, mc.d_v = probe.vision.dim;
        if (probe.text_emb.x) mc.d_t = probe.text_emb.dim;
        mr_dataset_free(&probe);
    }
    if (load_split(&tr, data, "train", &mc, &e) || load_split(&va, data, "valid", &mc, &e) || load_split(&te, data, "test", &mc, &e)) {
        fprintf(stderr, "mimrl train: %s\n", e.msg);
        return 2;
    }
    int avec = strstr(tr.meta_json ? tr.meta_json : "", "\"avec2019\"") != NULL || !strcmp(tc.dataset, "avec2019");
    int dec = strstr(tr.meta_json ? tr.meta_json : "", "MulT") != NULL;
    for (int k = 0; k < 3; k++) {
        if (tc.normalize[k] && !dec) {
            char w = "tav"[k];
            mr_dataset_minmax(&tr, w), mr_dataset_minmax(&va, w), mr_dataset_minmax(&te, w);
        } else if (tc.normalize[k]) {
            printf("note: --normalize is ignored for MulT/DeclareLab data, as in the official code (O-5)\n");
        }
        if (tc.log_scale[k]) printf("note: --log_scale needs the official per-dataset minimum constants; not applied to this data\n");
    }
    if (!resume) {
        if (out) snprintf(rundir, sizeof rundir, "%s", out);
        else snprintf(rundir, sizeof rundir, "runs/%s", tc.task_name);
    }
    if (mkdirs(rundir)) {
        fprintf(stderr, "mimrl train: cannot create the run directory %s\n", rundir);
        return 2;
    }
    mr_trainer t;
    if (mr_trainer_init(&t, &mc, &tc, &tr, &va, &te, avec, stdout, &e)) {
        fprintf(stderr, "mimrl train: %s\n", e.msg);
        return 2;
    }
    char *cfgjson = mr_cfg_to_json(&t.mc, &t.tc);
    char blas[512];
    mr_blas_describe(blas, sizeof blas);
    size_t cl = strlen(cfgjson);
    char *full = malloc(cl + 8192);
    snprintf(full, cl + 8192, "%.*s, \"data\": \"%s\", \"run_dir\": \"%s\", \"blas\": \"%s\"}\n", (int)(cl - 1), cfgjson, data, rundir, blas);
    snprintf(path, sizeof path, "%s/config.json", rundir);
    if (!resume && write_text(path, full, &e)) {
        fprintf(stderr, "mimrl train: %s\n", e.msg);
        return 2;
    }
    /* metrics.csv rows kept in memory and rewritten atomically each epoch */
    size_t rows_cap = 1 << 16, rows_len = 0;
    char *rows = malloc(rows_cap);
    rows[0] = 0;
    if (resume) {
        snprintf(path, sizeof path, "%s/last.npz", rundir);
        if (mr_trainer_restore(&t, path, &e)) {
            fprintf(stderr, "mimrl train: --resume: %s\n", e.msg);
            return 2;
        }
        snprintf(path, sizeof path, "%s/metrics.csv", rundir);
        FILE *f = fopen(path, "r");
        char line[8192];
        size_t ln = 0;
        while (f && fgets(line, sizeof line, f)) {
            if (ln++ == 0) continue;
            if ((size_t)atol(line) >= t.epoch) break;
            size_t L = strlen(line);
            if (rows_len + L + 1 > rows_cap) rows = realloc(rows, rows_cap *= 2);
            memcpy(rows + rows_len, line, L + 1);
            rows_len += L;
        }
        if (f) fclose(f);
        printf("resuming %s at epoch %zu of %zu\n", rundir, t.epoch, tc.epochs_num);
    }
    printf("mimrl train: %zu train / %zu valid / %zu test samples from %s; %zu parameters (%zu main); BLAS %s\n", tr.N, va.N, te.N, data,
           t.m.p.total, t.m.p.t[t.m.n_main].offset, blas);
    printf("%5s %8s %8s | %7s %7s %7s %7s %7s %7s %7s %7s | %8s %7s %7s | %8s %6s\n", "epoch", "loss", "loss1", "ft", "fa", "fv", "in", "st", "sa",
           "sv", "cp", "val MAE", "corr", "acc2", "test MAE", "s");
    double total_s = 0;
    size_t run_epochs = 0;
    while (t.epoch < tc.epochs_num) {
        double t_epoch = mr_seconds();
        double lr_m = t.opt_main.g[0].lr, lr_v = t.opt_vmi.g[0].lr;
        mr_split_stats s_tr, s_va, s_te;
        if (mr_trainer_epoch(&t, &s_tr, &s_va, &s_te, &e)) {
            fprintf(stderr, "mimrl train: %s\n", e.msg);
            return 1;
        }
        double secs = mr_seconds() - t_epoch;
        total_s += secs;
        run_epochs++;
        size_t ep = t.epoch - 1;
        printf("%5zu %8.4f %8.4f | %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f | %8.4f %7.4f %7.4f | %8.4f %6.1f%s\n", ep, s_tr.loss, s_tr.loss1,
               s_tr.mi[0], s_tr.mi[1], s_tr.mi[2], s_tr.mi[3], s_tr.mi[4], s_tr.mi[5], s_tr.mi[6], s_tr.mi[7], s_va.met.mae, s_va.met.corr,
               s_va.met.acc2_non0, s_te.met.mae, secs, t.best_epoch == (long)ep ? "  *best valid" : "");
        fflush(stdout);
        char m1[512], m2[512], m3[512], m4[512], m5[512];
        mi_csv(m1, sizeof m1, s_tr.mi);
        met_csv(m2, sizeof m2, &s_va);
        mi_csv(m3, sizeof m3, s_va.mi);
        met_csv(m4, sizeof m4, &s_te);
        mi_csv(m5, sizeof m5, s_te.mi);
        char row[8192];
        snprintf(row, sizeof row, "%zu,%.3f,%.10g,%.10g,%.10g,%.10g,%s,%.10g,%s,%s,%s,%s\n", ep, secs, lr_m, lr_v, s_tr.loss, s_tr.loss1, m1,
                 s_tr.met.mae, m2, m3, m4, m5);
        size_t L = strlen(row);
        if (rows_len + L + 1 > rows_cap) rows = realloc(rows, rows_cap *= 2);
        memcpy(rows + rows_len, row, L + 1);
        rows_len += L;
        size_t hl = strlen(CSV_HEAD);
        char *csv = malloc(hl + rows_len + 1);
        memcpy(csv, CSV_HEAD, hl);
        memcpy(csv + hl, rows, rows_len + 1);
        snprintf(path, sizeof path, "%s/metrics.csv", rundir);
        int rc = write_text(path, csv, &e);
        free(csv);
        if (!rc && t.best_epoch == (long)ep) {
            snprintf(path, sizeof path, "%s/best.npz", rundir);
            mr_params bp = t.m.p;
            bp.data = t.best_params;
            rc = mr_params_save(&bp, path, cfgjson, 0, &e);
        }
        if (!rc) rc = save_predictions(&t, rundir, &e);
        snprintf(path, sizeof path, "%s/last.npz", rundir);
        if (!rc) rc = mr_trainer_save(&t, path, &e);
        if (rc) {
            fprintf(stderr, "mimrl train: %s\n", e.msg);
            return 1;
        }
    }
    /* summary: test at best valid (the headline) and best test (selected on test, O-24) */
    double *yt = malloc(te.N * sizeof *yt);
    for (size_t i = 0; i < te.N; i++) yt[i] = avec ? te.label[i] / 25 : te.label[i];
    mr_metrics at, bt;
    if (avec) mr_metrics_avec(t.pred_test_at_best, yt, te.N, 25, &at), mr_metrics_avec(t.pred_test_best, yt, te.N, 25, &bt);
    else mr_metrics_mosi(t.pred_test_at_best, yt, te.N, &at), mr_metrics_mosi(t.pred_test_best, yt, te.N, &bt);
    free(yt);
    char sum[16384];
    snprintf(sum, sizeof sum,
             "{\"epochs\": %zu, \"best_valid_epoch\": %ld, \"best_valid_%s\": %.10g, \"test_at_best_valid\": {\"mae\": %.10g, \"corr\": %.10g, "
             "\"acc7\": %.10g, \"acc5\": %.10g, \"acc2_non0\": %.10g, \"f1_non0\": %.10g, \"acc2_has0\": %.10g, \"f1_has0\": %.10g, "
             "\"ccc\": %.10g, \"rmse\": %.10g}, \"best_test_selected_on_test\": {\"epoch\": %ld, \"mae\": %.10g, \"ccc\": %.10g}, "
             "\"seconds_per_epoch_this_invocation\": %.3f, \"data\": \"%s\"}\n",
             t.epoch, t.best_epoch, avec ? "ccc" : "mae", t.best_valid, at.mae, at.corr, at.acc7, at.acc5, at.acc2_non0, at.f1_non0,
             at.acc2_has0, at.f1_has0, at.ccc, at.rmse, t.best_test_epoch, bt.mae, bt.ccc, run_epochs ? total_s / (double)run_epochs : 0,
             data);
    snprintf(path, sizeof path, "%s/summary.json", rundir);
    if (write_text(path, sum, &e)) fprintf(stderr, "mimrl train: %s\n", e.msg);
    printf("best valid epoch %ld (%s %.4f); test at best valid: MAE %.4f, corr %.4f, Acc-2 %.4f/%.4f, Acc-7 %.4f; best test MAE %.4f "
           "(selected on test, epoch %ld)\nrun directory: %s\n",
           t.best_epoch, avec ? "CCC" : "MAE", t.best_valid, at.mae, at.corr, at.acc2_non0, at.acc2_has0, at.acc7, bt.mae, t.best_test_epoch,
           rundir);
    free(full);
    free(cfgjson);
    free(rows);
    mr_trainer_free(&t);
    mr_dataset_free(&tr), mr_dataset_free(&va), mr_dataset_free(&te);
    return 0;
}

int mr_cmd_eval(int argc, char **argv) {
    mr_flag fl[] = {{"--checkpoint", 1, 0, 0}, {"--data", 1, 0, 0}, {"--split", 1, 0, 0}, {"--json", 0, 0, 0}};
    int rc = mr_parse_flags(argc, argv, 2, fl, 4, "eval");
    if (rc) return rc;
    if (!fl[0].value || !fl[1].value) {
        fprintf(stderr, "usage: mimrl eval --checkpoint FILE.npz --data PREFIX [--split test|valid|train] [--json]\n");
        return 2;
    }
    const char *split = fl[2].value ? fl[2].value : "test";
    if (strcmp(split, "test") && strcmp(split, "valid") && strcmp(split, "train")) {
        fprintf(stderr, "mimrl eval: --split must be train, valid or test (got '%s')\n", split);
        return 2;
    }
    mr_error e = {0};
    mr_trainer t;
    memset(&t, 0, sizeof t);
    if (mr_model_from_checkpoint(&t.m, &t.mc, &t.tc, fl[0].value, &e)) {
        fprintf(stderr, "mimrl eval: %s\n", e.msg);
        return 2;
    }
    mr_dataset d;
    if (load_split(&d, fl[1].value, split, &t.mc, &e)) {
        fprintf(stderr, "mimrl eval: %s\n", e.msg);
        mr_model_free(&t.m);
        return 2;
    }
    t.avec = strstr(d.meta_json ? d.meta_json : "", "\"avec2019\"") != NULL;
    t.r_anchor = gsl_rng_alloc(gsl_rng_mt19937);
    double *pred = malloc(d.N * sizeof *pred);
    mr_split_stats st;
    rc = mr_evaluate(&t, &d, &st, pred, &e);
    if (rc) {
        fprintf(stderr, "mimrl eval: %s\n", e.msg);
    } else if (fl[3].seen) {
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
    mr_dataset_free(&d);
    mr_model_free(&t.m);
    return rc ? 2 : 0;
}
