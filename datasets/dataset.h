/* dataset.h — the mimrl-npz loader and the batcher (datasets/SCHEMA.md).
 *
 * mr_dataset_open reads one split, validates every member against the schema
 * and against the expected feature widths, and reports every problem at once
 * with the file and member named. Features stay float32 in memory (MOSEI is
 * large); batches are double.
 *
 * The batcher follows the official loaders: the training split is shuffled
 * by a seeded stream each epoch, the others are not; batches of batch_size
 * (the last may be smaller unless drop_last); within a batch, samples are
 * sorted by transcript word count, descending and stable (the Dec collate);
 * every modality is padded at the end with zeros to the batch maximum.
 */
#ifndef MR_DATASET_H
#define MR_DATASET_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#include "ref/core/common.h"

typedef struct {
    size_t rows, dim;
    float *x;     /* [rows × dim] */
    int64_t *off; /* [N + 1] */
} mr_ragged;

typedef struct {
    char *path;
    size_t N;
    int aligned;
    double *label;
    char *id_bytes, *text_bytes;
    int64_t *id_off, *text_off;
    mr_ragged audio, vision, text_emb; /* text_emb.x == NULL when absent */
    char *meta_json;
    size_t nonfinite_replaced; /* feature NaN/inf set to 0 at load */
} mr_dataset;

/* Expected widths; 0 = accept what the file has. need_text_emb: require it. */
typedef struct {
    size_t d_a, d_v, d_t;
    int need_text_emb;
} mr_dataset_expect;

int mr_dataset_open(mr_dataset *d, const char *path, const mr_dataset_expect *x, mr_error *e);
void mr_dataset_free(mr_dataset *d);
size_t mr_dataset_words(const mr_dataset *d, size_t i); /* words in transcript i */

/* ---- normalisation options (applied to a loaded split, in place) */
/* Official per-split min–max to [−1, 1] with scalar min and max over all
 * samples and dims of this split (O-6). which: 'a' audio, 'v' vision, 't' text. */
void mr_dataset_minmax(mr_dataset *d, char which);
/* Official log scaling: x ← log(x − min_const + 1 + 1e-6), non-finite → 0. */
void mr_dataset_logscale(mr_dataset *d, char which, double min_const);
/* Per-feature standardisation with statistics of another split (train). */
void mr_dataset_standardize(mr_dataset *d, const mr_dataset *train, char which);

/* ---- batches */
typedef struct {
    size_t B, La, Lv, Lt; /* batch size, padded lengths */
    size_t da, dv, dt;
    double *audio, *vision, *text; /* [B × L × d], zero-padded at the end */
    double *label;                 /* [B] */
    int *alen, *vlen, *tlen;       /* stored lengths (before the model's own rule) */
    size_t *index;                 /* sample indices in the split */
} mr_batch;

typedef struct {
    const mr_dataset *d;
    size_t batch_size, pos, n_order;
    int shuffle, drop_last;
    size_t *order;
    gsl_rng *rng; /* own stream */
} mr_batcher;

int mr_batcher_init(mr_batcher *bt, const mr_dataset *d, size_t batch_size, int shuffle, int drop_last,
                    unsigned long seed, mr_error *e);
/* Starts an epoch: reshuffles (when shuffling) and rewinds. */
void mr_batcher_epoch(mr_batcher *bt);
/* Fills the next batch; returns 1, 0 when the epoch is over, or −1 when a
 * buffer could not grow (e says how many bytes; the epoch is not over).
 * b must be zero-initialised once; its buffers grow as needed. */
int mr_batcher_next(mr_batcher *bt, mr_batch *b, mr_error *e);
size_t mr_batcher_count(const mr_batcher *bt); /* batches per epoch */
void mr_batcher_free(mr_batcher *bt);
void mr_batch_free(mr_batch *b);

#endif
