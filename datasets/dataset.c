/* dataset.c — see dataset.h and SCHEMA.md. */
#include "datasets/dataset.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"

/* ------------------------------------------------------------------ load */

typedef struct {
    const mr_npz *z;
    mr_error *acc;
    int problems;
} vctx;

static void problem(vctx *v, int code, const char *fmt, const char *member, const char *detail) {
    v->problems++;
    mr_fail_append(v->acc, code, fmt, member, detail);
}

/* read member as an array (NULL when absent and optional) */
static int rd(vctx *v, const char *name, int required, mr_array *a) {
    memset(a, 0, sizeof *a);
    long k = mr_npz_find(v->z, name);
    if (k < 0) {
        if (required) problem(v, MR_ENOTFOUND, "member '%s' is missing%s", name, "");
        return 0;
    }
    mr_error e = {0};
    if (mr_npz_read_index(v->z, (size_t)k, a, &e) != MR_OK) {
        v->problems++;
        mr_fail_append(v->acc, e.code, "%s", e.msg);
        return 0;
    }
    return 1;
}

static int want_dtype(vctx *v, const char *name, const mr_array *a, mr_dtype d1, int d2) {
    if (a->dtype == d1 || (d2 >= 0 && a->dtype == (mr_dtype)d2)) return 1;
    char det[64];
    snprintf(det, sizeof det, "%s (want %s%s%s)", mr_dtype_descr(a->dtype), mr_dtype_descr(d1), d2 >= 0 ? " or " : "",
             d2 >= 0 ? mr_dtype_descr((mr_dtype)d2) : "");
    problem(v, MR_EFORMAT, "member '%s' has dtype %s", name, det);
    return 0;
}

static int64_t *load_offsets(vctx *v, const char *name, size_t N, size_t rows) {
    mr_array a;
    if (!rd(v, name, 1, &a)) return NULL;
    int64_t *off = NULL;
    if (want_dtype(v, name, &a, MR_DT_I8, MR_DT_I4)) {
        if (a.ndim != 1 || a.count != N + 1) {
            char det[96];
            snprintf(det, sizeof det, "has %llu entries; want N + 1 = %zu", (unsigned long long)a.count, N + 1);
            problem(v, MR_ESHAPE, "member '%s' %s", name, det);
        } else {
            off = malloc((N + 1) * sizeof *off);
            double *tmp = malloc((N + 1) * sizeof *tmp);
            if (off && tmp) {
                mr_array_to_f64(&a, tmp);
                for (size_t i = 0; i <= N; i++) off[i] = (int64_t)tmp[i];
                int bad = off[0] != 0 || off[N] != (int64_t)rows;
                for (size_t i = 0; i < N && !bad; i++) bad = off[i + 1] < off[i];
                if (bad) {
                    char det[160];
                    snprintf(det, sizeof det, "must start at 0, never decrease and end at the row count %zu (ends at %lld)", rows,
                             (long long)off[N]);
                    problem(v, MR_EFORMAT, "member '%s' %s", name, det);
                    free(off);
                    off = NULL;
                }
            }
            free(tmp);
        }
    }
    mr_array_free(&a);
    return off;
}

static size_t replace_nonfinite(float *x, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            x[i] = 0.0f;
            k++;
        }
    return k;
}

/* a ragged float block: feature array [rows × dim] plus offsets */
static void load_ragged(vctx *v, mr_dataset *d, const char *name, size_t want_dim, int required, mr_ragged *r) {
    memset(r, 0, sizeof *r);
    mr_array a;
    char offname[64];
    snprintf(offname, sizeof offname, "%s_offsets", name);
    if (!rd(v, name, required, &a)) {
        if (!required && mr_npz_find(v->z, offname) >= 0) problem(v, MR_ENOTFOUND, "member '%s' is missing but '%s' is present", name, offname);
        return;
    }
    if (want_dtype(v, name, &a, MR_DT_F4, MR_DT_F8)) {
        if (a.ndim != 2) {
            problem(v, MR_ESHAPE, "member '%s' must be 2-d [rows, dim]%s", name, "");
        } else if (want_dim && a.shape[1] != want_dim) {
            char det[96];
            snprintf(det, sizeof det, "has %llu features per frame; the configuration expects %zu", (unsigned long long)a.shape[1], want_dim);
            problem(v, MR_ESHAPE, "member '%s' %s", name, det);
        } else {
            r->rows = (size_t)a.shape[0];
            r->dim = (size_t)a.shape[1];
            r->x = malloc(((r->rows * r->dim) != 0 ? r->rows * r->dim : 1) * sizeof *r->x);
            if (r->x) {
                if (a.dtype == MR_DT_F4) memcpy(r->x, a.data, r->rows * r->dim * sizeof(float));
                else
                    for (size_t i = 0; i < r->rows * r->dim; i++) r->x[i] = (float)((double *)a.data)[i];
                d->nonfinite_replaced += replace_nonfinite(r->x, r->rows * r->dim);
            }
        }
    }
    mr_array_free(&a);
    if (r->x) {
        r->off = load_offsets(v, offname, d->N, r->rows);
        if (!r->off) {
            free(r->x);
            r->x = NULL;
        }
    }
}

static char *load_bytes(vctx *v, const char *name, int64_t **off, size_t N) {
    mr_array a;
    if (!rd(v, name, 1, &a)) return NULL;
    char *s = NULL;
    char offname[64];
    snprintf(offname, sizeof offname, "%.50s", name);
    char *u = strstr(offname, "_bytes");
    if (u) strcpy(u, "_offsets");
    if (want_dtype(v, name, &a, MR_DT_U1, -1) && a.ndim == 1) {
        s = malloc((size_t)a.count + 1);
        if (s) {
            memcpy(s, a.data, (size_t)a.count);
            s[a.count] = '\0';
        }
        *off = load_offsets(v, offname, N, (size_t)a.count);
    } else if (a.ndim != 1) {
        problem(v, MR_ESHAPE, "member '%s' must be 1-d%s", name, "");
    }
    mr_array_free(&a);
    return s;
}

int mr_dataset_open(mr_dataset *d, const char *path, const mr_dataset_expect *x, mr_error *e) {
    memset(d, 0, sizeof *d);
    mr_npz z;
    int rc = mr_npz_open(&z, path, e);
    if (rc) return rc;
    mr_error acc = {0};
    vctx v = {&z, &acc, 0};
    mr_array a;
    if (rd(&v, "schema_version", 1, &a)) {
        double ver = 0;
        if (a.count == 1 && (a.dtype == MR_DT_I4 || a.dtype == MR_DT_I8)) mr_array_to_f64(&a, &ver);
        if (ver != 1) problem(&v, MR_EUNSUPPORTED, "member '%s' is not 1%s (this build reads mimrl-npz v1)", "schema_version", "");
        mr_array_free(&a);
    }
    if (rd(&v, "aligned", 1, &a)) {
        double al = 0;
        if (a.count == 1) mr_array_to_f64(&a, &al);
        d->aligned = al != 0;
        mr_array_free(&a);
    }
    if (rd(&v, "label", 1, &a)) {
        if (want_dtype(&v, "label", &a, MR_DT_F4, MR_DT_F8)) {
            if (a.ndim != 1 || a.count == 0) {
                problem(&v, MR_ESHAPE, "member '%s' must be a non-empty 1-d array%s (an empty split cannot be used)", "label", "");
            } else {
                d->N = (size_t)a.count;
                d->label = malloc(d->N * sizeof *d->label);
                if (d->label) {
                    mr_array_to_f64(&a, d->label);
                    for (size_t i = 0; i < d->N; i++)
                        if (!isfinite(d->label[i])) {
                            char det[64];
                            snprintf(det, sizeof det, "%zu", i);
                            problem(&v, MR_EFORMAT, "member '%s' holds a non-finite label at index %s", "label", det);
                            break;
                        }
                }
            }
        }
        mr_array_free(&a);
    }
    if (d->N) {
        size_t da = x ? x->d_a : 0, dv = x ? x->d_v : 0, dt = x ? x->d_t : 0;
        d->id_bytes = load_bytes(&v, "id_bytes", &d->id_off, d->N);
        d->text_bytes = load_bytes(&v, "text_bytes", &d->text_off, d->N);
        load_ragged(&v, d, "audio", da, 1, &d->audio);
        load_ragged(&v, d, "vision", dv, 1, &d->vision);
        load_ragged(&v, d, "text_emb", dt, x && x->need_text_emb, &d->text_emb);
        if (d->aligned && d->audio.off && d->vision.off) {
            for (size_t i = 0; i <= d->N; i++)
                if (d->audio.off[i] != d->vision.off[i]) {
                    problem(&v, MR_EFORMAT, "member '%s' differs from 'vision_offsets' although 'aligned' is 1%s", "audio_offsets", "");
                    break;
                }
        }
    }
    if (rd(&v, "meta_json", 1, &a)) {
        if (a.dtype == MR_DT_U1 && a.ndim == 1) {
            d->meta_json = malloc((size_t)a.count + 1);
            if (d->meta_json) {
                memcpy(d->meta_json, a.data, (size_t)a.count);
                d->meta_json[a.count] = '\0';
            }
        } else {
            problem(&v, MR_EFORMAT, "member '%s' must be 1-d |u1 UTF-8 bytes%s", "meta_json", "");
        }
        mr_array_free(&a);
    }
    mr_npz_close(&z);
    if (v.problems) {
        rc = mr_fail(e, acc.code ? acc.code : MR_EFORMAT, "%s: %d problem%s: %s", path, v.problems, v.problems > 1 ? "s" : "", acc.msg);
        mr_dataset_free(d);
        return rc;
    }
    d->path = mr_strdup(path);
    return MR_OK;
}

void mr_dataset_free(mr_dataset *d) {
    free(d->path);
    free(d->label);
    free(d->id_bytes);
    free(d->text_bytes);
    free(d->id_off);
    free(d->text_off);
    mr_ragged *r[3] = {&d->audio, &d->vision, &d->text_emb};
    for (int k = 0; k < 3; k++) {
        free(r[k]->x);
        free(r[k]->off);
    }
    free(d->meta_json);
    memset(d, 0, sizeof *d);
}

size_t mr_dataset_words(const mr_dataset *d, size_t i) {
    size_t n = 0;
    int in = 0;
    for (int64_t k = d->text_off[i]; k < d->text_off[i + 1]; k++) {
        char c = d->text_bytes[k];
        int sp = c == ' ' || c == '\n' || c == '\t';
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

/* ---------------------------------------------------------- normalisation */

static mr_ragged *pick(mr_dataset *d, char which) {
    return which == 'a' ? &d->audio : which == 'v' ? &d->vision : &d->text_emb;
}

void mr_dataset_minmax(mr_dataset *d, char which) {
    mr_ragged *r = pick(d, which);
    size_t n = r->rows * r->dim;
    if (!r->x || n == 0) return;
    double mn = r->x[0], mx = r->x[0];
    for (size_t i = 0; i < n; i++) {
        if (r->x[i] < mn) mn = r->x[i];
        if (r->x[i] > mx) mx = r->x[i];
    }
    if (mx == mn) return; /* the official code would divide by zero */
    for (size_t i = 0; i < n; i++) r->x[i] = (float)(2.0 * (r->x[i] - mn) / (mx - mn) - 1.0);
}

void mr_dataset_logscale(mr_dataset *d, char which, double min_const) {
    mr_ragged *r = pick(d, which);
    for (size_t i = 0; r->x && i < r->rows * r->dim; i++) {
        double arg = r->x[i] - min_const + 1.0 + 1e-6;
        double v = arg > 0 ? log(arg) : 0.0;
        r->x[i] = isfinite(v) ? (float)v : 0.0f;
    }
}

void mr_dataset_standardize(mr_dataset *d, const mr_dataset *train, char which) {
    mr_ragged *r = pick(d, which);
    const mr_ragged *t = pick((mr_dataset *)train, which);
    if (!r->x || !t->x || t->rows == 0 || r->dim != t->dim) return;
    for (size_t f = 0; f < t->dim; f++) {
        double m = 0, s = 0;
        for (size_t i = 0; i < t->rows; i++) m += t->x[i * t->dim + f];
        m /= (double)t->rows;
        for (size_t i = 0; i < t->rows; i++) s += (t->x[i * t->dim + f] - m) * (t->x[i * t->dim + f] - m);
        s = sqrt(s / (double)t->rows);
        if (s == 0) s = 1;
        for (size_t i = 0; i < r->rows; i++) r->x[i * r->dim + f] = (float)((r->x[i * r->dim + f] - m) / s);
    }
}

/* ----------------------------------------------------------------- batcher */

int mr_batcher_init(mr_batcher *bt, const mr_dataset *d, size_t batch_size, int shuffle, int drop_last,
                    unsigned long seed, mr_error *e) {
    memset(bt, 0, sizeof *bt);
    if (batch_size == 0) return mr_fail(e, MR_EINVAL, "batch size must be at least 1");
    bt->d = d;
    bt->batch_size = batch_size;
    bt->shuffle = shuffle;
    bt->drop_last = drop_last;
    bt->order = malloc(d->N * sizeof *bt->order);
    bt->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!bt->order || !bt->rng) {
        mr_batcher_free(bt);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    gsl_rng_set(bt->rng, seed);
    bt->n_order = d->N;
    for (size_t i = 0; i < d->N; i++) bt->order[i] = i;
    mr_batcher_epoch(bt);
    return MR_OK;
}

void mr_batcher_epoch(mr_batcher *bt) {
    if (bt->shuffle) {
        for (size_t i = 0; i < bt->n_order; i++) bt->order[i] = i;
        gsl_ran_shuffle(bt->rng, bt->order, bt->n_order, sizeof *bt->order);
    }
    bt->pos = 0;
}

size_t mr_batcher_count(const mr_batcher *bt) {
    size_t n = bt->n_order / bt->batch_size;
    if (!bt->drop_last && bt->n_order % bt->batch_size) n++;
    return n;
}

void mr_batcher_free(mr_batcher *bt) {
    free(bt->order);
    if (bt->rng) gsl_rng_free(bt->rng);
    memset(bt, 0, sizeof *bt);
}

void mr_batch_free(mr_batch *b) {
    free(b->audio);
    free(b->vision);
    free(b->text);
    free(b->label);
    free(b->alen);
    free(b->vlen);
    free(b->tlen);
    free(b->index);
    memset(b, 0, sizeof *b);
}

static int grow(double **p, size_t n) {
    double *q = realloc(*p, (n ? n : 1) * sizeof *q);
    if (!q) return -1;
    *p = q;
    return 0;
}

static size_t len_of(const mr_ragged *r, size_t i) { return r->off ? (size_t)(r->off[i + 1] - r->off[i]) : 0; }

static void fill(double *dst, const mr_ragged *r, const size_t *idx, size_t B, size_t L) {
    memset(dst, 0, B * L * r->dim * sizeof *dst);
    for (size_t b = 0; b < B; b++) {
        size_t n = len_of(r, idx[b]);
        const float *src = r->x + (size_t)r->off[idx[b]] * r->dim;
        for (size_t k = 0; k < n * r->dim; k++) dst[b * L * r->dim + k] = src[k];
    }
}

int mr_batcher_next(mr_batcher *bt, mr_batch *b, mr_error *e) {
    const mr_dataset *d = bt->d;
    size_t left = bt->n_order - bt->pos;
    if (left == 0 || (bt->drop_last && left < bt->batch_size)) return 0;
    size_t B = left < bt->batch_size ? left : bt->batch_size;
    size_t *idx = realloc(b->index, B * sizeof *idx);
    if (!idx) return mr_fail(e, MR_ENOMEM, "out of memory for the %zu batch indices (%zu bytes)", B, B * sizeof *idx), -1;
    b->index = idx;
    memcpy(idx, bt->order + bt->pos, B * sizeof *idx);
    bt->pos += B;
    /* stable sort by word count, descending (insertion sort keeps ties in order) */
    for (size_t i = 1; i < B; i++) {
        size_t v = idx[i], w = mr_dataset_words(d, v), j = i;
        while (j > 0 && mr_dataset_words(d, idx[j - 1]) < w) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    b->B = B;
    b->da = d->audio.dim;
    b->dv = d->vision.dim;
    b->dt = d->text_emb.x ? d->text_emb.dim : 0;
    b->La = b->Lv = b->Lt = 0;
    int *al = realloc(b->alen, B * sizeof *al), *vl = realloc(b->vlen, B * sizeof *vl), *tl = realloc(b->tlen, B * sizeof *tl);
    if (al) b->alen = al;
    if (vl) b->vlen = vl;
    if (tl) b->tlen = tl;
    if (!al || !vl || !tl) return mr_fail(e, MR_ENOMEM, "out of memory for the lengths of a batch of %zu (%zu bytes)", B, 3 * B * sizeof *al), -1;
    for (size_t k = 0; k < B; k++) {
        al[k] = (int)len_of(&d->audio, idx[k]);
        vl[k] = (int)len_of(&d->vision, idx[k]);
        tl[k] = (int)len_of(&d->text_emb, idx[k]);
        if ((size_t)al[k] > b->La) b->La = (size_t)al[k];
        if ((size_t)vl[k] > b->Lv) b->Lv = (size_t)vl[k];
        if ((size_t)tl[k] > b->Lt) b->Lt = (size_t)tl[k];
    }
    /* a batch where every sequence is empty still gets one (zero) frame */
    if (b->La == 0) b->La = 1;
    if (b->Lv == 0) b->Lv = 1;
    if (b->dt && b->Lt == 0) b->Lt = 1;
    if (grow(&b->audio, B * b->La * b->da) || grow(&b->vision, B * b->Lv * b->dv) ||
        grow(&b->text, B * (b->Lt ? b->Lt : 1) * (b->dt ? b->dt : 1)) || grow(&b->label, B))
        return mr_fail(e, MR_ENOMEM, "out of memory for a batch of %zu (%zu + %zu + %zu audio/visual/text values)", B, B * b->La * b->da,
                       B * b->Lv * b->dv, B * (b->Lt ? b->Lt : 1) * (b->dt ? b->dt : 1)), -1;
    fill(b->audio, &d->audio, idx, B, b->La);
    fill(b->vision, &d->vision, idx, B, b->Lv);
    if (b->dt) fill(b->text, &d->text_emb, idx, B, b->Lt);
    for (size_t k = 0; k < B; k++) b->label[k] = d->label[idx[k]];
    return 1;
}
