/* test_train_oom.c — the trainer (ref/train/train.c) under allocation
 * failure. Every heap allocation our code makes during one training epoch
 * with its two evaluations (stage 1, stage 2, valid, test; verify/
 * alloc_count.h counts them) is made to fail, one at a time, on a fresh
 * trainer. Each failure must either be an error (MR_ENOMEM with a message)
 * or change nothing: the epoch's statistics equal, bit for bit, those of the
 * epoch without the failure. What it must never be is an epoch cut short
 * and reported as done — the batcher's out-of-memory used to read as "epoch
 * over" and the loops then finished with status 0. The batcher's own
 * failure is checked directly too. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "ref/train/config.h"
#include "ref/train/train.h"
#include "verify/alloc_count.h"
#include "verify/helpers.h"

typedef struct {
    mr_dataset tr, va, te;
    mr_model_cfg mc;
    mr_train_cfg tc;
} oom_ctx;

static void setup(oom_ctx *c) {
    char prefix[512], args[1024], out[4096], p[700];
    t_path(prefix, sizeof prefix, "d");
    snprintf(args, sizeof args,
             "synth --like mosi --out %s --n-train 24 --n-valid 10 --n-test 10 --max-frames 8 --max-words 5 --mc-samples 50", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    mr_error e = {0};
    mr_dataset *d[3] = {&c->tr, &c->va, &c->te};
    const char *sp[3] = {"train", "valid", "test"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s_%s.npz", prefix, sp[k]);
        cr_assert(mr_dataset_open(d[k], p, NULL, &e) == MR_OK, "%s", e.msg);
    }
    mr_model_cfg_default(&c->mc);
    mr_train_cfg_default(&c->tc);
    const char *fl[][2] = {{"d_common", "8"}, {"time_len", "6"}, {"d_hiddens", "4-3-8=2-3-8"}, {"d_outs", "4-3-8=2-3-8"},
                           {"res_project", "1-1"}, {"batch_size", "8"}, {"stage1_n", "1"}, {"seed", "4"},
                           {"loss_mi_coefficient2", "0.1-0.1-0.1-0.1-0.1-0.1-0.1-0.1"}, {"gradient_clip", "1.5"}};
    for (size_t k = 0; k < sizeof fl / sizeof fl[0]; k++)
        cr_assert(mr_cfg_apply(&c->mc, &c->tc, fl[k][0], fl[k][1], NULL, &e) == MR_OK, "%s: %s", fl[k][0], e.msg);
    c->mc.d_a = c->tr.audio.dim, c->mc.d_v = c->tr.vision.dim, c->mc.d_t = c->tr.text_emb.dim;
    cr_assert(mr_cfg_check(&c->mc, &c->tc, &e) == MR_OK, "%s", e.msg);
}

/* A fresh trainer past epoch 0 (so the epoch under test has banks and a
 * stage 1), then that epoch with the n-th allocation failing (n = 0: none).
 * Returns its status; *count receives the allocations it made. */
static int epoch_with_failure(oom_ctx *c, long n, mr_split_stats st[3], long *count, mr_error *e) {
    mr_trainer t;
    cr_assert(mr_trainer_init(&t, &c->mc, &c->tc, &c->tr, &c->va, &c->te, 0, NULL, e) == MR_OK, "%s", e->msg);
    cr_assert(mr_trainer_epoch(&t, &st[0], &st[1], &st[2], e) == MR_OK, "%s", e->msg);
    t.epoch++;
    memset(st, 0, 3 * sizeof *st);
    memset(e, 0, sizeof *e);
    if (n > 0) t_alloc_fail_at(n);
    else t_alloc_count_start();
    int rc = mr_trainer_epoch(&t, &st[0], &st[1], &st[2], e);
    *count = t_alloc_count_stop();
    mr_trainer_free(&t);
    return rc;
}

Test(train_oom, every_allocation_failure_is_an_error_or_harmless, .timeout = 600) {
    oom_ctx c;
    setup(&c);
    mr_split_stats ref[3], st[3];
    mr_error e = {0};
    long total = 0, errors = 0, harmless = 0, k;
    cr_assert(epoch_with_failure(&c, 0, ref, &total, &e) == MR_OK, "%s", e.msg);
    cr_assert(total > 10, "only %ld allocations counted: the wrapper does not see the trainer", total);
    for (long n = 1; n <= total; n++) {
        int rc = epoch_with_failure(&c, n, st, &k, &e);
        if (rc != MR_OK) {
            cr_assert(rc == MR_ENOMEM, "allocation %ld of %ld: status %d (%s), expected MR_ENOMEM", n, total, rc, e.msg);
            cr_assert(strstr(e.msg, "out of memory") != NULL, "allocation %ld: the message does not say so: %s", n, e.msg);
            errors++;
            continue;
        }
        /* no error: then nothing may differ, above all not the batch counts behind the means */
        for (int s = 0; s < 3; s++) {
            cr_assert(st[s].n == ref[s].n && st[s].loss == ref[s].loss && st[s].loss1 == ref[s].loss1 && st[s].met.mae == ref[s].met.mae,
                      "allocation %ld of %ld failed, the epoch reported success, and split %d differs (loss %.17g vs %.17g, n %zu vs %zu)",
                      n, total, s, st[s].loss, ref[s].loss, st[s].n, ref[s].n);
            for (int q = 0; q < 8; q++) cr_assert(st[s].mi[q] == ref[s].mi[q] && st[s].mi_nats[q] == ref[s].mi_nats[q]);
        }
        harmless++;
    }
    cr_assert(errors > 0, "no allocation failure was reported as an error");
    cr_log_info("train_oom: %ld allocations in an epoch; %ld failures reported MR_ENOMEM, %ld changed nothing", total, errors, harmless);
    mr_dataset_free(&c.tr), mr_dataset_free(&c.va), mr_dataset_free(&c.te);
}

Test(train_oom, batcher_out_of_memory_is_not_the_end_of_the_epoch) {
    oom_ctx c;
    setup(&c);
    mr_batcher bt;
    mr_batch b;
    mr_error e = {0};
    memset(&b, 0, sizeof b);
    cr_assert(mr_batcher_init(&bt, &c.tr, 8, 0, 0, 0, &e) == MR_OK);
    t_alloc_fail_at(1);
    int r = mr_batcher_next(&bt, &b, &e);
    t_alloc_count_stop();
    cr_assert(r == -1, "mr_batcher_next returned %d on an allocation failure: 0 would end the epoch silently", r);
    cr_assert(strstr(e.msg, "out of memory") != NULL, "%s", e.msg);
    mr_batch_free(&b);
    mr_batcher_free(&bt);
    mr_dataset_free(&c.tr), mr_dataset_free(&c.va), mr_dataset_free(&c.te);
}
