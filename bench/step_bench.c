/* step_bench.c — training-step throughput of the whole MIMRL model (issue 7).
 *
 *   step_bench prepare --data PREFIX --out DIR [--B 128] [--bank-N N] [--seed S]
 *                      [--bert base --Lt 100]
 *   step_bench time --dir DIR [--reps R] [--warmup 1]
 *   step_bench peak
 *
 * prepare: the official README configuration (README "Training") with the
 * feature widths of the data; the first batch of the seeded shuffled training
 * split of PREFIX_train.npz (padded to the batch maximum, as in training);
 * feature banks of N rows (the training-set size of the real dataset: MOSI
 * 1284, MOSEI 16326, AVEC 163) of standard-normal features and labels from
 * the split, and ⌊B/k⌋ anchors per CMI estimator. Writes DIR/ckpt.npz and
 * DIR/batch.npz in the oracle's formats, so `mimrl oracle` and
 * verify/torch/step_torch.py run the very same step (the validation before
 * timing is theirs: bench/run_step.sh compares the oracle output of this
 * build and of BLAS=none with PyTorch float64).
 *
 * time: R repetitions after one warm-up (--warmup 0: none) of, each timed separately,
 *   forward      (the whole forward: encoders, CubeMLP, 5 critics, 6 CMI
 *                 classifiers with their k-NN sampling, both objectives)
 *   backward 1   stage-1 backward as training runs it (estimator gradients,
 *                 stopping at the pooled features, O-22)
 *   backward 2   stage-2 backward (every parameter)
 * and prints CSV: phase, median_ms, min_ms, max_ms (stdout), machine facts and
 * the floating-point operations of the dense products of each phase
 * (mr_gemm_flops; stderr). Dropout is on (training mode); anchors come from
 * the batch file.
 *
 * --bert base: the text branch is a BERT-base (hidden 768, 12 layers, vocab
 * 30522; HF random init from the seed) fine-tuned in full (bert_freeze no,
 * the official default): the checkpoint carries bertmodel.* and
 * bert_config_json, the batch bert_ids [B, Lt] and bert_att_mask instead of
 * text. Lt = --Lt (default 100 = time_len: the Dec loaders pad to exactly
 * time_len, spec §7.6). Sample b: [CLS], n_b random word pieces (ids 1000 …
 * 30521, n_b uniform in 8 … Lt − 2), [SEP], then [PAD] with mask 0. The
 * compute does not depend on n_b: padded positions run like the others.
 *
 * peak: the machine's FP64 GEMM rate through mr_gemm (n = 2048 square
 * products, median of 5) at the current OPENBLAS_NUM_THREADS: "n,gflops".
 */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "datasets/dataset.h"
#include "ref/core/npz.h"
#include "ref/core/blas.h"
#include "ref/core/common.h"
#include "ref/train/config.h"
#include "ref/model/model.h"

static const char *arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

static int die(const char *msg) {
    fprintf(stderr, "step_bench: %s\n", msg);
    return 2;
}

static int prepare(int argc, char **argv) {
    const char *prefix = arg(argc, argv, "--data", NULL), *dir = arg(argc, argv, "--out", NULL);
    if (!prefix || !dir) return die("prepare needs --data PREFIX --out DIR");
    size_t B = strtoul(arg(argc, argv, "--B", "128"), NULL, 10), N = strtoul(arg(argc, argv, "--bank-N", "1284"), NULL, 10);
    unsigned long seed = strtoul(arg(argc, argv, "--seed", "0"), NULL, 10);
    char path[1024];
    mr_error e = {0};
    mr_dataset d;
    snprintf(path, sizeof path, "%s_train.npz", prefix);
    mr_dataset_expect x = {0, 0, 0, 1};
    if (mr_dataset_open(&d, path, &x, &e)) return die(e.msg);
    mr_model_cfg mc;
    mr_train_cfg tc;
    mr_model_cfg_default(&mc);
    mr_train_cfg_default(&tc);
    mr_model m;
    const char *bert = arg(argc, argv, "--bert", "none");
    size_t Ltb = strtoul(arg(argc, argv, "--Lt", "100"), NULL, 10);
    if (strcmp(bert, "none") && strcmp(bert, "base")) return die("--bert takes none or base");
    if (!strcmp(bert, "base") && (Ltb < 10 || Ltb > 512)) return die("--Lt must be in 10 … 512");
    /* the README configuration (mimrl train --preset readme) at this data's widths and batch size B */
    if (mr_cfg_apply_preset(&mc, &tc, "readme", NULL, &e)) return die(e.msg);
    mc.d_t = d.text_emb.dim, mc.d_a = d.audio.dim, mc.d_v = d.vision.dim, tc.batch_size = B;
    if (!strcmp(bert, "base")) mc.bert = 1, mr_bert_config_base(&mc.bert_cfg), mc.d_t = mc.bert_cfg.hidden_size;
    char *json = mr_cfg_check(&mc, &tc, &e) ? NULL : mr_cfg_to_json(&mc, &tc);
    if (!json || mr_model_build(&m, &mc, &e)) return die(e.msg);
    mr_model_init(&m, seed);
    snprintf(path, sizeof path, "%s/ckpt.npz", dir);
    int saved = mr_model_save(&m, path, json, 0, &e);
    free(json);
    if (saved) return die(e.msg);
    mr_batcher bt;
    mr_batch b;
    memset(&b, 0, sizeof b);
    if (mr_batcher_init(&bt, &d, B, 1, 0, seed, &e)) return die(e.msg);
    mr_batcher_epoch(&bt);
    if (mr_batcher_next(&bt, &b, &e) != 1) return die(e.msg[0] ? e.msg : "the training split has no batch");
    size_t D = mc.d_common, k = mc.k_neighbor, mA = b.B / k;
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, seed + 1);
    double *bl = malloc(N * sizeof *bl), *bk[3];
    for (size_t i = 0; i < N; i++) bl[i] = d.label[gsl_rng_uniform_int(g, d.N)];
    for (int q = 0; q < 3; q++) {
        bk[q] = malloc(N * D * sizeof(double));
        for (size_t i = 0; i < N * D; i++) bk[q][i] = gsl_ran_gaussian_ziggurat(g, 1.0);
    }
    mr_npz_writer w;
    snprintf(path, sizeof path, "%s/batch.npz", dir);
    if (mr_npz_writer_open(&w, path, 0, &e)) return die(e.msg);
    uint64_t st[3] = {b.B, b.Lt, b.dt}, sa[3] = {b.B, b.La, b.da}, sv[3] = {b.B, b.Lv, b.dv}, sl[1] = {b.B}, sN1[2] = {N, 1},
             sND[2] = {N, D}, sm[1] = {mA};
    int64_t *ids = NULL, *am = NULL;
    int rc = 0;
    if (mc.bert) {
        uint64_t si[2] = {b.B, Ltb};
        ids = calloc(b.B * Ltb, sizeof *ids), am = calloc(b.B * Ltb, sizeof *am);
        if (!ids || !am) return die("out of memory");
        for (size_t i = 0; i < b.B; i++) {
            size_t n = 8 + gsl_rng_uniform_int(g, Ltb - 9);
            ids[i * Ltb] = 101, ids[i * Ltb + n + 1] = 102;
            for (size_t t = 1; t <= n; t++) ids[i * Ltb + t] = 1000 + (int64_t)gsl_rng_uniform_int(g, 30522 - 1000);
            for (size_t t = 0; t < n + 2; t++) am[i * Ltb + t] = 1;
        }
        rc = mr_npz_add(&w, "bert_ids", MR_DT_I8, 2, si, ids, &e) || mr_npz_add(&w, "bert_att_mask", MR_DT_I8, 2, si, am, &e);
    } else
        rc = mr_npz_add(&w, "text", MR_DT_F8, 3, st, b.text, &e);
    rc = rc || mr_npz_add(&w, "audio", MR_DT_F8, 3, sa, b.audio, &e) ||
             mr_npz_add(&w, "vision", MR_DT_F8, 3, sv, b.vision, &e) || mr_npz_add(&w, "label", MR_DT_F8, 1, sl, b.label, &e) ||
             mr_npz_add(&w, "bank_label", MR_DT_F8, 2, sN1, bl, &e) || mr_npz_add(&w, "bank_text", MR_DT_F8, 2, sND, bk[0], &e) ||
             mr_npz_add(&w, "bank_audio", MR_DT_F8, 2, sND, bk[1], &e) || mr_npz_add(&w, "bank_vision", MR_DT_F8, 2, sND, bk[2], &e);
    int64_t *anc = malloc((mA ? mA : 1) * sizeof *anc);
    for (int j = 0; j < MR_NCMI && !rc; j++) {
        char name[64];
        snprintf(name, sizeof name, "anchors_%s", mr_cmi_names[j]);
        if ((rc = mr_knn_draw_anchors(N, mA, g, anc, &e))) break;
        rc = mr_npz_add(&w, name, MR_DT_I8, 1, sm, anc, &e);
    }
    if (rc || mr_npz_writer_close(&w, &e)) return die(e.msg);
    printf("prepared %s: B=%zu, Lt=%zu, La=%zu, Lv=%zu, d_t=%zu d_a=%zu d_v=%zu, banks N=%zu, %zu parameters%s\n", dir, b.B,
           mc.bert ? Ltb : b.Lt, b.La, b.Lv, mc.bert ? mc.d_t : b.dt, b.da, b.dv, N, m.p.total, mc.bert ? ", BERT-base" : "");
    free(ids), free(am), free(anc), free(bl), free(bk[0]), free(bk[1]), free(bk[2]);
    gsl_rng_free(g);
    mr_batch_free(&b);
    mr_batcher_free(&bt);
    mr_model_free(&m);
    mr_dataset_free(&d);
    return 0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *member(const mr_npz *z, const char *name, mr_array *a) {
    mr_error e;
    if (mr_npz_read(z, name, a, &e)) {
        fprintf(stderr, "step_bench: %s\n", e.msg);
        exit(2);
    }
    double *v = malloc(a->count * sizeof *v);
    mr_array_to_f64(a, v);
    return v;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int time_steps(int argc, char **argv) {
    const char *dir = arg(argc, argv, "--dir", NULL);
    if (!dir) return die("time needs --dir DIR");
    int reps = atoi(arg(argc, argv, "--reps", "3")), warmup = atoi(arg(argc, argv, "--warmup", "1")) ? 1 : 0;
    char ck[1024], bp[1024];
    snprintf(ck, sizeof ck, "%s/ckpt.npz", dir);
    snprintf(bp, sizeof bp, "%s/batch.npz", dir);
    mr_error e = {0};
    mr_model m;
    mr_model_cfg mc;
    mr_train_cfg tc;
    if (mr_model_from_checkpoint(&m, &mc, &tc, ck, &e)) return die(e.msg);
    mr_npz z;
    if (mr_npz_open(&z, bp, &e)) return die(e.msg);
    mr_array at, aa, av, al, abl, abt, aba, abv, an[MR_NCMI], ai, am;
    memset(&at, 0, sizeof at), memset(&ai, 0, sizeof ai), memset(&am, 0, sizeof am);
    double *text = NULL;
    if (mc.bert) {
        if (mr_npz_read(&z, "bert_ids", &ai, &e) || mr_npz_read(&z, "bert_att_mask", &am, &e)) return die(e.msg);
        if (ai.dtype != MR_DT_I8 || am.dtype != MR_DT_I8 || ai.ndim != 2 || am.count != ai.count)
            return die("batch.npz: bert_ids and bert_att_mask must be int64 [B, Lt]");
        at.shape[0] = ai.shape[0], at.shape[1] = ai.shape[1];
    } else
        text = member(&z, "text", &at);
    double *audio = member(&z, "audio", &aa), *vision = member(&z, "vision", &av);
    double *label = member(&z, "label", &al), *bl = member(&z, "bank_label", &abl), *bt = member(&z, "bank_text", &abt);
    double *ba = member(&z, "bank_audio", &aba), *bv = member(&z, "bank_vision", &abv);
    mr_rand r;
    memset(&r, 0, sizeof r);
    gsl_rng *drop = gsl_rng_alloc(gsl_rng_mt19937);
    r.drop = drop;
    int64_t *anc[MR_NCMI];
    for (int j = 0; j < MR_NCMI; j++) {
        char name[64];
        snprintf(name, sizeof name, "anchors_%s", mr_cmi_names[j]);
        double *v = member(&z, name, &an[j]);
        anc[j] = malloc(an[j].count * sizeof(int64_t));
        for (uint64_t q = 0; q < an[j].count; q++) anc[j][q] = (int64_t)v[q];
        free(v);
        r.given[j] = anc[j];
    }
    mr_npz_close(&z);
    mr_inputs in = {at.shape[0], at.shape[1], aa.shape[1], av.shape[1], text, audio, vision, label,
                    mc.bert ? (const int64_t *)ai.data : NULL, NULL, mc.bert ? (const int64_t *)am.data : NULL};
    mr_banks bk = {abl.shape[0], bl, bt, ba, bv};
    double *t[3], *cpu[3];
    unsigned long long fl[3] = {0, 0, 0};
    for (int q = 0; q < 3; q++) t[q] = malloc((size_t)reps * sizeof(double)), cpu[q] = malloc((size_t)reps * sizeof(double));
    mr_step_dims dims = {in.B, in.Lt, in.La, in.Lv, bk.N};
    mr_workspace *ws;
    if (mr_workspace_create(&m, &dims, &ws, &e)) return die(e.msg);
    for (int rep = -warmup; rep < reps; rep++) {
        mr_step st;
        for (int stage = 1; stage <= 2; stage++) {
            unsigned long long f0 = mr_gemm_flops();
            double t0 = mr_seconds(), c0 = cpu_seconds();
            if (mr_model_forward(&m, &in, &bk, &r, &st, ws, &e)) return die(e.msg);
            double t1 = mr_seconds(), c1 = cpu_seconds();
            unsigned long long f1 = mr_gemm_flops();
            mr_params_zero_grad(&m.p);
            if (mr_model_backward(&m, ws, stage, 0, &e)) return die(e.msg);
            double t2 = mr_seconds(), c2 = cpu_seconds();
            unsigned long long f2 = mr_gemm_flops();
            if (stage == 1) fl[0] = f1 - f0;
            fl[stage] = f2 - f1;
            if (rep >= 0) {
                if (stage == 1) t[0][rep] = t1 - t0, cpu[0][rep] = c1 - c0;
                t[stage][rep] = t2 - t1, cpu[stage][rep] = c2 - c1;
            }
        }
    }
    const char *names[3] = {"forward", "backward1", "backward2"};
    printf("phase,median_ms,min_ms,max_ms\n");
    for (int q = 0; q < 3; q++) {
        qsort(t[q], (size_t)reps, sizeof(double), cmp_d);
        printf("%s,%.1f,%.1f,%.1f\n", names[q], 1e3 * t[q][reps / 2], 1e3 * t[q][0], 1e3 * t[q][reps - 1]);
        free(t[q]);
    }
    /* CPU time of the process (all threads): on a machine shared with other
     * jobs, a one-thread run's CPU time is closer to its idle-machine wall
     * time than its wall time is */
    fprintf(stderr, "[cpu] median CPU ms");
    for (int q = 0; q < 3; q++) {
        qsort(cpu[q], (size_t)reps, sizeof(double), cmp_d);
        fprintf(stderr, " %s %.1f", names[q], 1e3 * cpu[q][reps / 2]);
        free(cpu[q]);
    }
    fprintf(stderr, "\n");
    fprintf(stderr, "[flops] forward %.3f backward1 %.3f backward2 %.3f GFLOP in mr_gemm\n", 1e-9 * (double)fl[0],
            1e-9 * (double)fl[1], 1e-9 * (double)fl[2]);
    char blas[256];
    mr_blas_describe(blas, sizeof blas);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "[step_bench] %s; B=%zu La=%zu Lv=%zu Lt=%zu N=%zu%s; %d reps; peak RSS %.2f GB\n", blas, in.B, in.La, in.Lv,
            in.Lt, bk.N, mc.bert ? "; BERT text branch" : "", reps, ru.ru_maxrss / 1048576.0);
    gsl_rng_free(drop);
    mr_workspace_free(ws);
    mr_model_free(&m);
    return 0;
}

/* the machine's FP64 GEMM rate: C = A·B, n×n, n = 2048, median of 5 after a warm-up */
static int peak(void) {
    size_t n = 2048;
    double *A = malloc(n * n * sizeof *A), *B = malloc(n * n * sizeof *B), *C = malloc(n * n * sizeof *C), t[5];
    if (!A || !B || !C) return die("out of memory");
    for (size_t i = 0; i < n * n; i++) A[i] = (double)(i % 7) - 3, B[i] = (double)(i % 5) - 2;
    for (int rep = -1; rep < 5; rep++) {
        double t0 = mr_seconds();
        mr_gemm(0, 0, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
        if (rep >= 0) t[rep] = mr_seconds() - t0;
    }
    qsort(t, 5, sizeof(double), cmp_d);
    printf("%zu,%.1f\n", n, 2.0 * (double)n * (double)n * (double)n / t[2] * 1e-9);
    free(A), free(B), free(C);
    return 0;
}

int main(int argc, char **argv) {
    mr_alloc_policy();
    if (argc >= 2 && !strcmp(argv[1], "peak")) return peak();
    if (argc >= 2 && !strcmp(argv[1], "prepare")) return prepare(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "time")) return time_steps(argc, argv);
    fprintf(stderr, "usage: step_bench prepare --data PREFIX --out DIR [--B 128] [--bank-N N] [--seed S]\n"
                    "       step_bench time --dir DIR [--reps R]\n       step_bench peak\n");
    return 2;
}
