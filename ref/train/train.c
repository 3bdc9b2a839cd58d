/* train.c — see train.h. */
#include "ref/train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/core/npz.h"
#include <zlib.h>

static int setup_sched(mr_lr_sched *s, const mr_train_cfg *tc) {
    mr_sched_init(s, tc->lr_decrease, tc->lr_decrease_rate);
    if (tc->lr_decrease == MR_LR_STEP) s->step_size = tc->lr_decrease_iter[0];
    if (tc->lr_decrease == MR_LR_PLATEAU) s->patience = tc->lr_decrease_iter[0];
    if (tc->lr_decrease == MR_LR_MULTISTEP) {
        s->nm = tc->n_iter;
        memcpy(s->milestones, tc->lr_decrease_iter, (size_t)tc->n_iter * sizeof(int));
    }
    return MR_OK;
}

int mr_trainer_init(mr_trainer *t, const mr_model_cfg *mc, const mr_train_cfg *tc, const mr_dataset *train,
                    const mr_dataset *valid, const mr_dataset *test, int avec, FILE *log, mr_error *e) {
    return mr_trainer_init_bert(t, mc, tc, train, valid, test, avec, NULL, log, e);
}

int mr_trainer_init_bert(mr_trainer *t, const mr_model_cfg *mc, const mr_train_cfg *tc, const mr_dataset *train,
                         const mr_dataset *valid, const mr_dataset *test, int avec, const mr_trainer_bert *tb, FILE *log,
                         mr_error *e) {
    memset(t, 0, sizeof *t);
    t->mc = *mc;
    t->tc = *tc;
    t->avec = avec;
    t->train = train, t->valid = valid, t->test = test;
    t->log = log;
    const char *pe = getenv("MIMRL_PROGRESS");
    t->progress = log && (pe && *pe ? *pe == '1' : isatty(fileno(log)));
    if (mc->bert) {
        if (!tb || !tb->tok) return mr_fail(e, MR_EINVAL, "the BERT text branch needs a tokenizer (vocab.txt)");
        t->tok = tb->tok, t->pad = tb->pad;
        const mr_dataset *sp[3] = {train, valid, test};
        for (int k = 0; k < 3; k++)
            if (!sp[k]->text_bytes || !sp[k]->text_off)
                return mr_fail(e, MR_EINVAL, "%s: no transcripts (text_bytes) for the BERT text branch", sp[k]->path);
    } else if (!train->text_emb.x || !valid->text_emb.x || !test->text_emb.x)
        return mr_fail(e, MR_EINVAL, "every split needs text_emb (token features) without a BERT (--bert DIR)");
    int rc = mr_model_build(&t->m, mc, e);
    if (rc) return rc;
    mr_model_init(&t->m, tc->seed);
    size_t n = t->m.p.n, nm = t->m.n_main;
    if (mc->bert) {
        /* pretrained weights by name */
        for (size_t i = t->m.bert.t0; tb->weights && i < t->m.bert.t0 + t->m.bert.ntensors; i++) {
            const double *src = mr_params_get(tb->weights, t->m.p.t[i].name);
            long j = mr_params_find(tb->weights, t->m.p.t[i].name);
            if (!src || tb->weights->t[j].size != t->m.p.t[i].size)
                return mr_fail(e, MR_ESHAPE, "BERT weights: '%s' missing or of another size", t->m.p.t[i].name);
            memcpy(mr_params_val(&t->m.p, i), src, t->m.p.t[i].size * sizeof(double));
        }
        int fm = mr_bert_freeze_parse(tc->bert_freeze);
        if (fm < 0) return mr_fail(e, MR_EINVAL, "--bert_freeze '%s': expected no, part or all", tc->bert_freeze);
        mr_model_bert_freeze(&t->m, (mr_bert_freeze_mode)fm);
    }
    size_t *idx = malloc((n ? n : 1) * sizeof *idx), *bidx = malloc((n ? n : 1) * sizeof *bidx), nmain = 0, nbert = 0;
    if (!idx || !bidx) {
        free(idx), free(bidx);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nm; i++) {
        if (!mr_model_is_bert(&t->m, i)) idx[nmain++] = i;
        else if (!t->m.frozen[i] && !strstr(t->m.p.t[i].name, ".pooler.")) bidx[nbert++] = i;
    }
    for (size_t i = nm; i < n; i++) idx[i] = i;
    if (tc->sgd) {
        mr_optim_sgd(&t->opt_main, &t->m.p, 0.9, tc->weight_decay);
        mr_optim_sgd(&t->opt_vmi, &t->m.p, 0.9, tc->weight_decay);
    } else {
        mr_optim_adam(&t->opt_main, &t->m.p, tc->weight_decay);
        mr_optim_adam(&t->opt_vmi, &t->m.p, tc->weight_decay);
    }
    /* main: one group at lr (the BERT group at lr·bert_lr_rate joins when BERT does);
     * estimators: one group at lr·mi_lr_rate */
    rc = mr_optim_add_group(&t->opt_main, idx, nmain, tc->learning_rate, e);
    if (!rc && nbert)
        rc = mr_optim_add_group(&t->opt_main, bidx, nbert, tc->learning_rate * (tc->bert_lr_rate > 0 ? tc->bert_lr_rate : 1.0), e);
    if (!rc) rc = mr_optim_add_group(&t->opt_vmi, idx + nm, n - nm, tc->learning_rate * tc->mi_lr_rate, e);
    free(idx);
    free(bidx);
    if (rc) return rc;
    setup_sched(&t->sch_main, tc);
    setup_sched(&t->sch_vmi, tc);
    t->r_drop = gsl_rng_alloc(gsl_rng_mt19937);
    t->r_anchor = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(t->r_drop, tc->seed + 1);
    gsl_rng_set(t->r_anchor, tc->seed + 3);
    if ((rc = mr_batcher_init(&t->bt_train, train, tc->batch_size, 1, tc->drop_last, tc->seed + 2, e))) return rc;
    t->best_valid = avec ? -INFINITY : INFINITY;
    t->best_test = t->best_valid;
    t->best_epoch = t->best_test_epoch = -1;
    t->best_params = malloc(t->m.p.total * sizeof(double));
    t->pred_valid = calloc(valid->N, sizeof(double));
    t->pred_test = calloc(test->N, sizeof(double));
    t->pred_valid_best = calloc(valid->N, sizeof(double));
    t->pred_test_at_best = calloc(test->N, sizeof(double));
    t->pred_test_best = calloc(test->N, sizeof(double));
    if (!t->best_params || !t->pred_valid || !t->pred_test || !t->pred_valid_best || !t->pred_test_at_best || !t->pred_test_best)
        return mr_fail(e, MR_ENOMEM, "out of memory");
    memcpy(t->best_params, t->m.p.data, t->m.p.total * sizeof(double));
    return MR_OK;
}

void mr_trainer_free(mr_trainer *t) {
    mr_optim_free(&t->opt_main);
    mr_optim_free(&t->opt_vmi);
    if (t->r_drop) gsl_rng_free(t->r_drop);
    if (t->r_anchor) gsl_rng_free(t->r_anchor);
    mr_batcher_free(&t->bt_train);
    free(t->bank_label), free(t->bank_T), free(t->bank_A), free(t->bank_V);
    free(t->best_params), free(t->pred_valid), free(t->pred_test), free(t->pred_valid_best), free(t->pred_test_at_best),
        free(t->pred_test_best);
    mr_trainer_release(t);
    mr_model_free(&t->m);
    memset(t, 0, sizeof *t);
}

void mr_trainer_release(mr_trainer *t) {
    mr_workspace_free(t->ws);
    t->ws = NULL;
    mr_encoding_free(&t->enc);
    memset(&t->enc, 0, sizeof t->enc);
    for (int c = 0; c < 4; c++) {
        for (size_t i = 0; t->tokc[c].pieces && i < t->tokc[c].d->N; i++) free(t->tokc[c].pieces[i]);
        free(t->tokc[c].pieces), free(t->tokc[c].n);
        memset(&t->tokc[c], 0, sizeof t->tokc[c]);
    }
}

/* The transcripts of d tokenized once (spec §7.6; errors name the sample):
 * its slot of t->tokc, filled on first use. */
static int tokenized(mr_trainer *t, const mr_dataset *d, int *slot, mr_error *e) {
    int c = 0;
    for (; c < 4 && t->tokc[c].d && t->tokc[c].d != d; c++) {}
    if (c == 4) return mr_fail(e, MR_EINVAL, "more than 4 splits tokenized by one trainer");
    *slot = c;
    if (t->tokc[c].d) return MR_OK;
    int64_t **p = calloc(d->N ? d->N : 1, sizeof *p);
    size_t *n = calloc(d->N ? d->N : 1, sizeof *n);
    if (!p || !n) {
        free(p), free(n);
        return mr_fail(e, MR_ENOMEM, "out of memory for the token ids of %zu transcripts", d->N);
    }
    t->tokc[c].d = d, t->tokc[c].pieces = p, t->tokc[c].n = n;
    for (size_t i = 0; i < d->N; i++) {
        mr_error sub = {0};
        int rc = mr_tokenize(t->tok, d->text_bytes + d->text_off[i], (size_t)(d->text_off[i + 1] - d->text_off[i]), &p[i], &n[i], &sub);
        if (rc) return mr_fail(e, rc, "transcript of sample %zu: %s", i, sub.msg);
    }
    return MR_OK;
}

/* the batch's transcripts, tokenized once per split, packed with [CLS],
 * [SEP] and padding (spec §7.6) */
static int encode(mr_trainer *t, const mr_dataset *d, const size_t *index, size_t B, mr_error *e) {
    int c, rc = tokenized(t, d, &c, e);
    if (rc) return rc;
    const int64_t *pc[B ? B : 1];
    size_t n[B ? B : 1];
    for (size_t k = 0; k < B; k++) pc[k] = t->tokc[c].pieces[index[k]], n[k] = t->tokc[c].n[index[k]];
    mr_encoding_free(&t->enc);
    memset(&t->enc, 0, sizeof t->enc);
    return mr_tokenizer_pack(t->tok, pc, n, B, t->pad == MR_PAD_MAX_LENGTH ? t->mc.time_len : 0, t->pad, &t->enc, e);
}

static int to_inputs(mr_trainer *t, const mr_dataset *d, const mr_batch *b, mr_inputs *in, double *label_buf, mr_error *e) {
    memset(in, 0, sizeof *in);
    in->B = b->B, in->Lt = b->Lt, in->La = b->La, in->Lv = b->Lv;
    in->text = b->text, in->audio = b->audio, in->vision = b->vision;
    for (size_t k = 0; k < b->B; k++) label_buf[k] = t->avec ? b->label[k] / 25.0 : b->label[k]; /* AVEC: PHQ-8/25 (§6.2) */
    in->label = label_buf;
    if (t->mc.bert) {
        if (!t->tok) return mr_fail(e, MR_EINVAL, "the model has a BERT but no tokenizer was given");
        int rc = encode(t, d, b->index, b->B, e);
        if (rc) return rc;
        in->text = NULL, in->Lt = t->enc.L;
        in->bert_ids = t->enc.ids, in->bert_type_ids = t->enc.type_ids, in->bert_att_mask = t->enc.att_mask;
    }
    return MR_OK;
}

/* The step workspace for batches of d (lengths as the batcher pads them)
 * against the current banks. */
static size_t max_len(const mr_ragged *r, size_t N) {
    size_t L = 1;
    for (size_t i = 0; i < N; i++)
        if ((size_t)(r->off[i + 1] - r->off[i]) > L) L = (size_t)(r->off[i + 1] - r->off[i]);
    return L;
}

/* The step dimensions batches of d need (lengths as the batcher pads them;
 * with BERT the longest packed transcript), against a bank of N rows. */
static int split_dims(mr_trainer *t, const mr_dataset *d, size_t N, mr_step_dims *x, mr_error *e) {
    size_t B = t->tc.batch_size < d->N ? t->tc.batch_size : d->N;
    mr_step_dims r = {B ? B : 1, d->text_emb.x ? max_len(&d->text_emb, d->N) : 1, max_len(&d->audio, d->N), max_len(&d->vision, d->N), N};
    if (t->mc.bert && !t->tok) return mr_fail(e, MR_EINVAL, "the model has a BERT but no tokenizer was given");
    if (t->mc.bert) { /* [CLS] + pieces + [SEP]: time_len (Dec), or the longest transcript + 2 */
        size_t Lt = t->pad == MR_PAD_MAX_LENGTH ? t->mc.time_len : 1;
        int c, rc = tokenized(t, d, &c, e);
        if (rc) return rc;
        for (size_t i = 0; i < d->N && t->pad == MR_PAD_LONGEST; i++)
            if (t->tokc[c].n[i] + 2 > Lt) Lt = t->tokc[c].n[i] + 2;
        r.Lt = Lt;
    }
    *x = r;
    return MR_OK;
}

#define MAXZ(a, b) ((a) > (b) ? (a) : (b))

/* The run's workspace, fit for batches of d against the current banks:
 * created on first use for every split the trainer knows (and d), kept for
 * the run, and grown only when d needs more. A trainer without a training
 * split (mimrl eval) gets an evaluation-only workspace (no backward caches,
 * fewer bytes); mr_evaluate runs the evaluation forward on either. */
static int step_workspace(mr_trainer *t, const mr_dataset *d, mr_error *e) {
    mr_step_dims need, x;
    const mr_dataset *all[4] = {d, t->train, t->valid, t->test};
    size_t bankN = MAXZ(t->N, t->train ? t->train->N : 0);
    int rc = split_dims(t, d, bankN, &need, e);
    for (int k = 1; k < 4 && !rc; k++) {
        if (!all[k]) continue;
        if ((rc = split_dims(t, all[k], bankN, &x, e))) break;
        need.B = MAXZ(need.B, x.B), need.Lt = MAXZ(need.Lt, x.Lt), need.La = MAXZ(need.La, x.La), need.Lv = MAXZ(need.Lv, x.Lv);
    }
    if (rc) return rc;
    int eval_only = t->train == NULL;
    if (t->ws && mr_workspace_eval_only(t->ws) && !eval_only) { /* training needs its caches */
        mr_workspace_free(t->ws);
        t->ws = NULL;
    }
    if (t->ws) {
        mr_step_dims h = mr_workspace_dims(t->ws);
        if (need.B <= h.B && need.Lt <= h.Lt && need.La <= h.La && need.Lv <= h.Lv && need.N <= h.N) return MR_OK;
        need.B = MAXZ(need.B, h.B), need.Lt = MAXZ(need.Lt, h.Lt), need.La = MAXZ(need.La, h.La), need.Lv = MAXZ(need.Lv, h.Lv);
        need.N = MAXZ(need.N, h.N);
        mr_workspace_free(t->ws);
        t->ws = NULL;
    }
    return eval_only ? mr_workspace_create_eval(&t->m, &need, &t->ws, e) : mr_workspace_create(&t->m, &need, &t->ws, e);
}

/* The next batch: *more = 1 with a batch, 0 when the epoch is over; an
 * allocation failure is an error (MR_ENOMEM), never an early end of epoch. */
static int next_batch(mr_batcher *bt, mr_batch *b, int *more, mr_error *e) {
    int r = mr_batcher_next(bt, b, e);
    *more = r > 0;
    return r < 0 ? MR_ENOMEM : MR_OK;
}

static int clip(mr_trainer *t, mr_error *e) {
    if (t->tc.gradient_clip <= 0) return MR_OK;
    size_t *all = malloc(t->m.p.n * sizeof *all);
    if (!all) return mr_fail(e, MR_ENOMEM, "out of memory for the gradient-clip index (%zu bytes)", t->m.p.n * sizeof *all);
    size_t n = mr_params_select(&t->m.p, NULL, NULL, all);
    mr_clip_grad_value(&t->m.p, all, n, t->tc.gradient_clip);
    free(all);
    return MR_OK;
}

/* ------------------------------------------------------------ progress */

/* Work of one epoch in sample-passes: forward+backward counts 1 per sample,
 * a forward only (valid, test) 1/3. */
static double epoch_units(const mr_trainer *t, int with_stage1) {
    return (double)t->train->N * (double)(1 + (with_stage1 ? t->tc.stage1_n : 0)) + (double)(t->valid->N + t->test->N) / 3.0;
}

static void hms(char *b, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) snprintf(b, n, "?");
    else if (s < 60) snprintf(b, n, "%.0fs", s);
    else if (s < 3600) snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/* One batch of `samples` samples done (weight 1 or 1/3 per sample); on a
 * terminal, the progress line is redrawn at most every 0.5 s. */
static void progress(mr_trainer *t, const char *what, size_t i, size_t n, size_t samples, double weight) {
    t->prog_units += (double)samples * weight;
    t->prog_samples += samples;
    if (!t->progress) return;
    double now = mr_seconds();
    if (now - t->prog_shown < 0.5 && i + 1 < n) return;
    t->prog_shown = now;
    double el = now - t->prog_t0, rate = el > 0 ? t->prog_units / el : 0;
    double total = epoch_units(t, t->epoch > 0 && t->N > 0), left = rate > 0 ? fmax(total - t->prog_units, 0) / rate : -1;
    size_t later = t->tc.epochs_num > t->epoch + 1 ? t->tc.epochs_num - t->epoch - 1 : 0;
    double run_left = rate > 0 ? left + (double)later * epoch_units(t, 1) / rate : -1;
    char a[32], b[32];
    hms(a, sizeof a, left);
    hms(b, sizeof b, run_left);
    fprintf(t->log, "\r  epoch %zu/%zu %-7s batch %zu/%zu  %.0f samples/s  epoch left %s  run left %s   ", t->epoch, t->tc.epochs_num, what, i + 1,
            n, el > 0 ? (double)t->prog_samples / el : 0.0, a, b);
    fflush(t->log);
}

/* ------------------------------------------------- non-finite detection */

/* A non-finite loss stops the run: the message names the epoch, the batch
 * and the first non-finite term; t->diverged is set. */
static int check_loss(mr_trainer *t, const char *phase, size_t i, size_t n, const mr_step *s, int stage, mr_error *e) {
    double total = stage == 1 ? s->loss_stage1 : s->loss_stage2;
    if (isfinite(total)) return MR_OK;
    char term[96] = "";
    if (stage == 2 && !isfinite(s->loss_task)) snprintf(term, sizeof term, "loss_task");
    for (int k = 0; k < 11 && !*term && stage == 1; k++)
        if (!isfinite(s->stage1_terms[k])) snprintf(term, sizeof term, "stage-1 term of %s", mr_mi_labels[k]);
    for (int k = 0; k < 8 && !*term && stage == 2; k++)
        if (!isfinite(s->derived[k])) snprintf(term, sizeof term, "information term %s", mr_derived_labels[k]);
    t->diverged = 1;
    return mr_fail(e, MR_EINVAL, "non-finite loss at epoch %zu, %s batch %zu/%zu: loss_stage%d = %g%s%s", t->epoch, phase, i + 1, n, stage, total,
                   *term ? ", first non-finite part: " : "", term);
}

static int check_grads(mr_trainer *t, const char *phase, size_t i, size_t n, mr_error *e) {
    const mr_params *p = &t->m.p;
    for (size_t k = 0; k < p->n; k++) {
        const double *g = p->grad + p->t[k].offset;
        for (size_t j = 0; j < p->t[k].size; j++)
            if (!isfinite(g[j])) {
                t->diverged = 1;
                return mr_fail(e, MR_EINVAL, "non-finite gradient at epoch %zu, %s batch %zu/%zu: grad of %s (element %zu) = %g", t->epoch, phase,
                               i + 1, n, p->t[k].name, j, g[j]);
            }
    }
    return MR_OK;
}

/* One batch's loss and information estimates into a split's sums … */
static void stats_add(mr_split_stats *st, const mr_step *s) {
    st->loss += s->loss_stage2;
    for (int k = 0; k < 8; k++) st->mi[k] += s->derived[k], st->mi_nats[k] += s->derived_nats[k];
    for (int k = 0; k < MR_NMI; k++) st->terms[k] += s->mi[k], st->terms_nats[k] += s->mi_nats[k];
}

/* … and the sums into means over nb batches. */
static void stats_mean(mr_split_stats *st, size_t nb) {
    if (!nb) return;
    st->loss /= (double)nb;
    for (int k = 0; k < 8; k++) st->mi[k] /= (double)nb, st->mi_nats[k] /= (double)nb;
    for (int k = 0; k < MR_NMI; k++) st->terms[k] /= (double)nb, st->terms_nats[k] /= (double)nb;
}

static int finish_stats(mr_trainer *t, mr_split_stats *st, const double *pred, const mr_dataset *d, size_t nb, mr_error *e) {
    stats_mean(st, nb);
    double *y = malloc(d->N * sizeof *y);
    if (!y) return mr_fail(e, MR_ENOMEM, "out of memory for %zu labels", d->N);
    for (size_t i = 0; i < d->N; i++) y[i] = t->avec ? d->label[i] / 25.0 : d->label[i];
    if (t->avec) mr_metrics_avec(pred, y, d->N, 25.0, &st->met);
    else mr_metrics_mosi(pred, y, d->N, &st->met);
    st->n = d->N;
    free(y);
    return MR_OK;
}

int mr_evaluate(mr_trainer *t, const mr_dataset *d, mr_split_stats *st, double *pred, mr_error *e) {
    memset(st, 0, sizeof *st);
    mr_batcher bt;
    int rc = mr_batcher_init(&bt, d, t->tc.batch_size, 0, t->tc.drop_last, 0, e);
    if (rc) return rc;
    mr_batch b;
    memset(&b, 0, sizeof b);
    double *lab = malloc(t->tc.batch_size * sizeof *lab);
    mr_banks bk = {t->N, t->bank_label, t->bank_T, t->bank_A, t->bank_V};
    mr_rand r = {NULL, t->r_anchor, {0}, {0}};
    size_t nb = 0, nbt = mr_batcher_count(&bt);
    int more = 0;
    for (size_t i = 0; i < d->N; i++) pred[i] = 0.0;
    rc = lab ? step_workspace(t, d, e) : mr_fail(e, MR_ENOMEM, "out of memory for %zu labels", t->tc.batch_size);
    mr_workspace *ws = t->ws;
    while (!rc && (rc = next_batch(&bt, &b, &more, e)) == MR_OK && more) {
        mr_inputs in;
        if ((rc = to_inputs(t, d, &b, &in, lab, e))) break;
        mr_step s;
        /* no dropout, no backward caches: the training forward's eval-mode step, bit for bit */
        if ((rc = mr_model_forward_eval(&t->m, &in, t->N ? &bk : NULL, &r, &s, ws, e))) break;
        stats_add(st, &s);
        for (size_t k = 0; k < b.B; k++) pred[b.index[k]] = s.output[k];
        progress(t, d == t->valid ? "valid" : d == t->test ? "test" : "eval", nb++, nbt, b.B, 1.0 / 3.0);
    }
    free(lab);
    mr_batch_free(&b);
    mr_batcher_free(&bt);
    if (!rc) rc = finish_stats(t, st, pred, d, nb, e);
    return rc;
}

int mr_trainer_epoch(mr_trainer *t, mr_split_stats *tr, mr_split_stats *va, mr_split_stats *te, mr_error *e) {
    memset(tr, 0, sizeof *tr);
    const mr_dataset *d = t->train;
    size_t B = t->tc.batch_size, D = t->mc.d_common, nbat = mr_batcher_count(&t->bt_train);
    double *lab = malloc(B * sizeof *lab);
    mr_batch b;
    memset(&b, 0, sizeof b);
    int rc = MR_OK, more = 0;
    t->prog_t0 = t->prog_shown = mr_seconds();
    t->prog_units = 0, t->prog_samples = 0;
    mr_banks old = {t->N, t->bank_label, t->bank_T, t->bank_A, t->bank_V};
    mr_rand r = {t->r_drop, t->r_anchor, {0}, {0}};
    rc = lab ? step_workspace(t, d, e) : mr_fail(e, MR_ENOMEM, "out of memory for %zu labels", B);
    mr_workspace *ws = t->ws;
    /* ---- stage 1: the estimators (not at epoch 0) */
    if (t->epoch > 0 && t->N > 0) {
        for (size_t pass = 0; pass < t->tc.stage1_n && !rc; pass++) {
            mr_batcher_epoch(&t->bt_train);
            double l1 = 0;
            size_t i = 0;
            while (!rc && (rc = next_batch(&t->bt_train, &b, &more, e)) == MR_OK && more) {
                mr_inputs in;
                if ((rc = to_inputs(t, d, &b, &in, lab, e))) break;
                mr_step s;
                if ((rc = mr_model_forward(&t->m, &in, &old, &r, &s, ws, e))) break;
                if ((rc = check_loss(t, "stage 1", i, nbat, &s, 1, e))) break;
                mr_params_zero_grad(&t->m.p);
                if ((rc = mr_model_backward(&t->m, ws, 1, 0, e))) break;
                if ((rc = check_grads(t, "stage 1", i, nbat, e))) break;
                if ((rc = clip(t, e))) break;
                mr_optim_step(&t->opt_vmi);
                l1 += s.loss_stage1;
                progress(t, "stage 1", i++, nbat, b.B, 1.0);
            }
            tr->loss1 = i ? l1 / (double)i : 0;
        }
    }
    /* ---- stage 2: the model; collect the new banks */
    size_t N = d->N;
    double *nl = malloc(N * sizeof *nl), *nT = malloc(N * D * sizeof *nT), *nA = malloc(N * D * sizeof *nA), *nV = malloc(N * D * sizeof *nV);
    if (!nl || !nT || !nA || !nV || !lab) {
        free(nl), free(nT), free(nA), free(nV), free(lab);
        return mr_fail(e, MR_ENOMEM, "out of memory for the feature banks");
    }
    size_t rows = 0, nb2 = 0;
    double *pred = malloc(N * sizeof *pred);
    double *ytr = malloc(N * sizeof *ytr);
    if (!rc && (!pred || !ytr)) rc = mr_fail(e, MR_ENOMEM, "out of memory for %zu predictions and labels", N);
    mr_batcher_epoch(&t->bt_train);
    while (!rc && (rc = next_batch(&t->bt_train, &b, &more, e)) == MR_OK && more) {
        mr_inputs in;
        if ((rc = to_inputs(t, d, &b, &in, lab, e))) break;
        mr_step s;
        if ((rc = mr_model_forward(&t->m, &in, t->N ? &old : NULL, &r, &s, ws, e))) break;
        if ((rc = check_loss(t, "stage 2", nb2, nbat, &s, 2, e))) break;
        for (size_t k = 0; k < b.B; k++) {
            nl[rows + k] = in.label[k];
            pred[rows + k] = s.output[k];
            ytr[rows + k] = in.label[k];
        }
        memcpy(nT + rows * D, s.T_F, b.B * D * sizeof(double));
        memcpy(nA + rows * D, s.A_F, b.B * D * sizeof(double));
        memcpy(nV + rows * D, s.V_F, b.B * D * sizeof(double));
        rows += b.B;
        mr_params_zero_grad(&t->m.p);
        if ((rc = mr_model_backward(&t->m, ws, 2, 1, e))) break;
        if ((rc = check_grads(t, "stage 2", nb2, nbat, e))) break;
        if ((rc = clip(t, e))) break;
        mr_optim_step(&t->opt_main);
        stats_add(tr, &s);
        progress(t, "stage 2", nb2++, nbat, b.B, 1.0);
    }
    free(lab);
    mr_batch_free(&b);
    if (rc) {
        free(nl), free(nT), free(nA), free(nV), free(pred), free(ytr);
        return rc;
    }
    stats_mean(tr, nb2);
    if (t->avec) mr_metrics_avec(pred, ytr, rows, 25.0, &tr->met);
    else mr_metrics_mosi(pred, ytr, rows, &tr->met);
    tr->n = rows;
    free(pred);
    free(ytr);
    free(t->bank_label), free(t->bank_T), free(t->bank_A), free(t->bank_V);
    t->bank_label = nl, t->bank_T = nT, t->bank_A = nA, t->bank_V = nV, t->N = rows;
    /* ---- evaluation, schedulers, selection */
    if ((rc = mr_evaluate(t, t->valid, va, t->pred_valid, e))) return rc;
    if ((rc = mr_evaluate(t, t->test, te, t->pred_test, e))) return rc;
    if (t->progress) fprintf(t->log, "\r%110s\r", "");
    mr_sched_step(&t->sch_main, &t->opt_main, va->loss);
    mr_sched_step(&t->sch_vmi, &t->opt_vmi, va->loss);
    double vscore = t->avec ? va->met.ccc : va->met.mae, tscore = t->avec ? te->met.ccc : te->met.mae;
    int better = t->avec ? vscore > t->best_valid : vscore < t->best_valid;
    if (better) {
        t->best_valid = vscore;
        t->best_epoch = (long)t->epoch;
        memcpy(t->best_params, t->m.p.data, t->m.p.total * sizeof(double));
        memcpy(t->pred_valid_best, t->pred_valid, t->valid->N * sizeof(double));
        memcpy(t->pred_test_at_best, t->pred_test, t->test->N * sizeof(double));
    }
    int tbetter = t->avec ? tscore > t->best_test : tscore < t->best_test;
    if (tbetter) {
        t->best_test = tscore;
        t->best_test_epoch = (long)t->epoch;
        memcpy(t->pred_test_best, t->pred_test, t->test->N * sizeof(double));
    }
    t->epoch++;
    return MR_OK;
}

/* ---------------------------------------------------------------- state */

static int add_rng(mr_npz_writer *w, const char *name, const gsl_rng *r, mr_error *e) {
    uint64_t n = gsl_rng_size(r);
    return mr_npz_add(w, name, MR_DT_U1, 1, &n, gsl_rng_state(r), e);
}

static int add_f8(mr_npz_writer *w, const char *name, const double *v, uint64_t n, mr_error *e) {
    return mr_npz_add(w, name, MR_DT_F8, 1, &n, v, e);
}

/* The trainer's scalar state, by name (members trainer/<name>, 0-d: <i8
 * for counters, <f8 for values). The order is that of the positional
 * trainer/state [16] vector of format 1 checkpoints, which are still read. */
typedef struct {
    const char *name;
    char type; /* z size_t, l long, i int, d double */
    void *p;
} st_field;

#define MR_TRAINER_FORMAT 2
#define N_STATE 16

static void state_fields(mr_trainer *t, st_field f[N_STATE]) {
    st_field x[N_STATE] = {{"epoch", 'z', &t->epoch},
                           {"best_valid", 'd', &t->best_valid},
                           {"best_test", 'd', &t->best_test},
                           {"best_epoch", 'l', &t->best_epoch},
                           {"best_test_epoch", 'l', &t->best_test_epoch},
                           {"lr_main", 'd', &t->opt_main.g[0].lr},
                           {"lr_vmi", 'd', &t->opt_vmi.g[0].lr},
                           {"sched_main/last_epoch", 'i', &t->sch_main.last_epoch},
                           {"sched_main/best", 'd', &t->sch_main.best},
                           {"sched_main/num_bad_epochs", 'i', &t->sch_main.num_bad_epochs},
                           {"sched_main/cooldown_counter", 'i', &t->sch_main.cooldown_counter},
                           {"sched_vmi/last_epoch", 'i', &t->sch_vmi.last_epoch},
                           {"sched_vmi/best", 'd', &t->sch_vmi.best},
                           {"sched_vmi/num_bad_epochs", 'i', &t->sch_vmi.num_bad_epochs},
                           {"sched_vmi/cooldown_counter", 'i', &t->sch_vmi.cooldown_counter},
                           {"bank_rows", 'z', &t->N}};
    memcpy(f, x, sizeof x);
}

static int64_t field_int(const st_field *f) {
    return f->type == 'z' ? (int64_t) * (size_t *)f->p : f->type == 'l' ? (int64_t) * (long *)f->p : (int64_t) * (int *)f->p;
}

static void field_set(const st_field *f, double d, int64_t i) {
    switch (f->type) {
    case 'd': *(double *)f->p = d; break;
    case 'z': *(size_t *)f->p = (size_t)i; break;
    case 'l': *(long *)f->p = (long)i; break;
    default: *(int *)f->p = (int)i;
    }
}

static int add_state(mr_npz_writer *w, const mr_trainer *t, mr_error *e) {
    st_field f[N_STATE];
    state_fields((mr_trainer *)t, f);
    int64_t fmt = MR_TRAINER_FORMAT;
    int rc = mr_npz_add(w, "trainer/format", MR_DT_I8, 0, NULL, &fmt, e);
    for (int k = 0; k < N_STATE && !rc; k++) {
        char name[96];
        snprintf(name, sizeof name, "trainer/%s", f[k].name);
        int64_t v = f[k].type == 'd' ? 0 : field_int(&f[k]);
        rc = f[k].type == 'd' ? mr_npz_add(w, name, MR_DT_F8, 0, NULL, f[k].p, e) : mr_npz_add(w, name, MR_DT_I8, 0, NULL, &v, e);
    }
    return rc;
}

/* A BERT frozen whole (bert_freeze all) is not rewritten per epoch:
 * last.npz then holds every other tensor and, for BERT, a reference — its
 * size in doubles and the CRC-32 of its values' bytes (trainer/bert_frozen_n,
 * trainer/bert_frozen_crc32); the run's config.json names the directory it
 * came from, and --resume reloads it from there and checks the two.
 * BERT's tensors are [0, nb) of the store, values [0, off) (registered first). */
static size_t frozen_bert(const mr_trainer *t, size_t *nb) {
    if (!t->mc.bert || !t->m.frozen || t->m.bert.t0 != 0) return 0;
    for (size_t i = 0; i < t->m.bert.ntensors; i++)
        if (!t->m.frozen[i]) return 0;
    *nb = t->m.bert.ntensors;
    return t->m.p.t[*nb].offset;
}

static uint64_t bert_crc(const mr_trainer *t, size_t off) {
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *b = (const unsigned char *)t->m.p.data;
    size_t n = off * sizeof(double);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, k);
        b += k, n -= k;
    }
    return (uint64_t)c;
}

/* the store without BERT's tensors (tensor records copied into buf, offsets rebased) */
static void store_view(const mr_params *p, size_t nb, size_t off, mr_params *v, mr_tensor *buf) {
    *v = *p;
    v->n = p->n - nb, v->cap = v->n, v->t = buf, v->total = p->total - off;
    for (size_t i = 0; i < v->n; i++) buf[i] = p->t[nb + i], buf[i].offset -= off;
    v->data = p->data + off, v->grad = p->grad + off, v->m = p->m + off, v->v = p->v + off, v->step = p->step + nb;
}

int mr_trainer_save(const mr_trainer *t, const char *path, mr_error *e) {
    char *cfg = mr_cfg_to_json(&t->mc, &t->tc);
    if (!cfg) return mr_fail(e, MR_ENOMEM, "%s: out of memory for config_json", path);
    mr_npz_writer w;
    int rc = mr_npz_writer_open(&w, path, 0, e);
    if (rc) {
        free(cfg);
        return rc;
    }
    size_t nb = 0, off = frozen_bert(t, &nb);
    if (off) {
        mr_tensor *buf = malloc((t->m.p.n - nb) * sizeof *buf);
        mr_params v;
        if (!buf) rc = mr_fail(e, MR_ENOMEM, "out of memory");
        else {
            store_view(&t->m.p, nb, off, &v, buf);
            rc = mr_params_write(&v, &w, cfg, 1, e);
            free(buf);
        }
        uint64_t one = 1;
        int64_t n = (int64_t)off, crc = (int64_t)bert_crc(t, off);
        if (!rc) rc = mr_npz_add(&w, "trainer/bert_frozen_n", MR_DT_I8, 1, &one, &n, e);
        if (!rc) rc = mr_npz_add(&w, "trainer/bert_frozen_crc32", MR_DT_I8, 1, &one, &crc, e);
        if (!rc && t->mc.bert) {
            char *js = mr_bert_config_to_json(&t->mc.bert_cfg);
            uint64_t len = js ? strlen(js) : 0;
            rc = js ? mr_npz_add(&w, "bert_config_json", MR_DT_U1, 1, &len, js, e) : mr_fail(e, MR_ENOMEM, "out of memory");
            free(js);
        }
    } else {
        rc = mr_model_write(&t->m, &w, cfg, 1, e);
    }
    free(cfg);
    if (!rc) rc = add_state(&w, t, e);
    if (!rc) rc = add_rng(&w, "trainer/rng_drop", t->r_drop, e);
    if (!rc) rc = add_rng(&w, "trainer/rng_anchor", t->r_anchor, e);
    if (!rc) rc = add_rng(&w, "trainer/rng_shuffle", t->bt_train.rng, e);
    size_t D = t->mc.d_common;
    if (!rc && t->N) {
        rc = add_f8(&w, "trainer/bank_label", t->bank_label, t->N, e);
        if (!rc) rc = add_f8(&w, "trainer/bank_T", t->bank_T, t->N * D, e);
        if (!rc) rc = add_f8(&w, "trainer/bank_A", t->bank_A, t->N * D, e);
        if (!rc) rc = add_f8(&w, "trainer/bank_V", t->bank_V, t->N * D, e);
    }
    if (!rc) rc = add_f8(&w, "trainer/best_params", t->best_params + off, t->m.p.total - off, e); /* frozen BERT: as now */
    if (!rc) rc = add_f8(&w, "trainer/pred_valid_best", t->pred_valid_best, t->valid->N, e);
    if (!rc) rc = add_f8(&w, "trainer/pred_test_at_best", t->pred_test_at_best, t->test->N, e);
    if (!rc) rc = add_f8(&w, "trainer/pred_test_best", t->pred_test_best, t->test->N, e);
    if (rc) {
        mr_npz_writer_abort(&w);
        return rc;
    }
    return mr_npz_writer_close(&w, e);
}

static int rd_f8(const mr_npz *z, const char *name, double *out, size_t n, mr_error *e) {
    mr_array a;
    int rc = mr_npz_read(z, name, &a, e);
    if (rc) return rc;
    if (a.dtype != MR_DT_F8 || a.count != n) {
        mr_array_free(&a);
        return mr_fail(e, MR_ESHAPE, "%s: member '%s' has %llu values, expected %zu", z->path, name, (unsigned long long)a.count, n);
    }
    memcpy(out, a.data, n * sizeof *out);
    mr_array_free(&a);
    return MR_OK;
}

static int rd_rng(const mr_npz *z, const char *name, gsl_rng *r, mr_error *e) {
    mr_array a;
    int rc = mr_npz_read(z, name, &a, e);
    if (rc) return rc;
    if (a.count != gsl_rng_size(r)) rc = mr_fail(e, MR_ESHAPE, "%s: member '%s' is not a %s state", z->path, name, gsl_rng_name(r));
    else memcpy(gsl_rng_state(r), a.data, a.count);
    mr_array_free(&a);
    return rc;
}

/* Named fields (format 2), or the positional trainer/state [16] of format 1. */
static int read_state(const mr_npz *z, mr_trainer *t, mr_error *e) {
    st_field f[N_STATE];
    state_fields(t, f);
    if (mr_npz_find(z, "trainer/state") >= 0) {
        double st[N_STATE];
        int rc = rd_f8(z, "trainer/state", st, N_STATE, e);
        for (int k = 0; k < N_STATE && !rc; k++) field_set(&f[k], st[k], f[k].type == 'd' ? 0 : (int64_t)st[k]); /* doubles may be ±inf */
        return rc;
    }
    for (int k = 0; k < N_STATE; k++) {
        char name[96];
        snprintf(name, sizeof name, "trainer/%s", f[k].name);
        mr_array a;
        int rc = mr_npz_read(z, name, &a, e);
        if (rc) return rc;
        mr_dtype want = f[k].type == 'd' ? MR_DT_F8 : MR_DT_I8;
        if (a.dtype != want || a.count != 1) {
            mr_array_free(&a);
            return mr_fail(e, MR_ESHAPE, "%s: member '%s' must be a single %s", z->path, name, want == MR_DT_F8 ? "<f8" : "<i8");
        }
        if (want == MR_DT_F8) field_set(&f[k], *(const double *)a.data, 0);
        else field_set(&f[k], 0, *(const int64_t *)a.data);
        mr_array_free(&a);
    }
    return MR_OK;
}

int mr_trainer_restore(mr_trainer *t, const char *path, mr_error *e) {
    size_t nb = 0, off = frozen_bert(t, &nb);
    mr_npz z;
    int rc = mr_npz_open(&z, path, e);
    if (rc) return rc;
    int ref = mr_npz_find(&z, "trainer/bert_frozen_n") >= 0;
    if (ref != (off != 0)) {
        mr_npz_close(&z);
        return mr_fail(e, MR_EINVAL, "%s: %s", path,
                       ref ? "holds a reference to a frozen BERT, but this run's BERT is not frozen whole"
                           : "this run's BERT is frozen whole but the checkpoint holds no reference to it");
    }
    if (off) { /* the BERT the run loaded must be the one it started from */
        mr_array a, b;
        mr_error ie = {0};
        int ok = mr_npz_read(&z, "trainer/bert_frozen_n", &a, &ie) == MR_OK;
        int ok2 = ok && mr_npz_read(&z, "trainer/bert_frozen_crc32", &b, &ie) == MR_OK;
        int64_t n = -1, crc = -1;
        if (ok && a.dtype == MR_DT_I8 && a.count == 1) memcpy(&n, a.data, 8);
        if (ok2 && b.dtype == MR_DT_I8 && b.count == 1) memcpy(&crc, b.data, 8);
        if (ok) mr_array_free(&a);
        if (ok2) mr_array_free(&b);
        if (n != (int64_t)off || crc != (int64_t)bert_crc(t, off)) {
            mr_npz_close(&z);
            return mr_fail(e, MR_EINVAL,
                           "%s: the frozen BERT is not the one the run started from (%lld doubles, CRC-32 %lld recorded; %zu, %llu "
                           "loaded): give the run's --bert directory unchanged",
                           path, (long long)n, (long long)crc, off, (unsigned long long)bert_crc(t, off));
        }
        mr_tensor *buf = malloc((t->m.p.n - nb) * sizeof *buf);
        mr_params v;
        if (!buf) rc = mr_fail(e, MR_ENOMEM, "out of memory");
        else {
            store_view(&t->m.p, nb, off, &v, buf);
            rc = mr_params_load(&v, path, NULL, 1, e);
            free(buf);
        }
    } else {
        rc = mr_params_load(&t->m.p, path, NULL, 1, e);
    }
    if (rc) {
        mr_npz_close(&z);
        return rc;
    }
    size_t D = t->mc.d_common;
    rc = read_state(&z, t, e);
    if (!rc) rc = rd_rng(&z, "trainer/rng_drop", t->r_drop, e);
    if (!rc) rc = rd_rng(&z, "trainer/rng_anchor", t->r_anchor, e);
    if (!rc) rc = rd_rng(&z, "trainer/rng_shuffle", t->bt_train.rng, e);
    if (!rc && t->N) {
        t->bank_label = malloc(t->N * sizeof(double));
        t->bank_T = malloc(t->N * D * sizeof(double));
        t->bank_A = malloc(t->N * D * sizeof(double));
        t->bank_V = malloc(t->N * D * sizeof(double));
        if (!t->bank_label || !t->bank_T || !t->bank_A || !t->bank_V) rc = mr_fail(e, MR_ENOMEM, "out of memory");
        if (!rc) rc = rd_f8(&z, "trainer/bank_label", t->bank_label, t->N, e);
        if (!rc) rc = rd_f8(&z, "trainer/bank_T", t->bank_T, t->N * D, e);
        if (!rc) rc = rd_f8(&z, "trainer/bank_A", t->bank_A, t->N * D, e);
        if (!rc) rc = rd_f8(&z, "trainer/bank_V", t->bank_V, t->N * D, e);
    }
    if (!rc) rc = rd_f8(&z, "trainer/best_params", t->best_params + off, t->m.p.total - off, e);
    if (!rc && off) memcpy(t->best_params, t->m.p.data, off * sizeof(double)); /* the frozen BERT */
    if (!rc) rc = rd_f8(&z, "trainer/pred_valid_best", t->pred_valid_best, t->valid->N, e);
    if (!rc) rc = rd_f8(&z, "trainer/pred_test_at_best", t->pred_test_at_best, t->test->N, e);
    if (!rc) rc = rd_f8(&z, "trainer/pred_test_best", t->pred_test_best, t->test->N, e);
    mr_npz_close(&z);
    return rc;
}
