/* hfdir.c — see hfdir.h. */
#include "ref/bert/hfdir.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/core/npz.h"
#include "ref/core/safetensors.h"

/* ------------------------------------------------------------ canonical list */

typedef struct {
    char name[MR_NAME_MAX];
    int ndim;
    size_t shape[2];
    size_t size;
    long src;       /* index of the file entry that supplies it, -1 none */
    long store;     /* index in the store */
} canon;

typedef struct {
    canon *c;
    size_t n, cap;
} canon_list;

static int canon_put(void *ctx, const char *name, int ndim, const size_t *shape) {
    canon_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        canon *q = realloc(l->c, nc * sizeof *q);
        if (!q) return MR_ENOMEM;
        l->c = q, l->cap = nc;
    }
    canon *k = &l->c[l->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    k->ndim = ndim;
    k->size = 1;
    for (int d = 0; d < ndim; d++) k->shape[d] = shape[d], k->size *= shape[d];
    k->src = -1;
    k->store = -1;
    return 0;
}

static long canon_find(const canon_list *l, const char *name) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->c[i].name, name) == 0) return (long)i;
    return -1;
}

typedef struct {
    mr_params *p;
    mr_error *e;
} add_ctx;

static int add_one(void *ctx, const char *name, int ndim, const size_t *shape) {
    add_ctx *a = ctx;
    return mr_params_add(a->p, name, ndim, shape, a->e);
}

int mr_bert_params_add(mr_params *p, const mr_bert_config *c, const char *prefix, mr_error *e) {
    int rc = mr_bert_config_check(c, "BERT config", e);
    if (rc != MR_OK) return rc;
    add_ctx a = {p, e};
    return mr_bert_for_each_param(c, prefix, add_one, &a);
}

/* ------------------------------------------------------------ name mapping */

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static int ends(const char *s, const char *p) {
    size_t a = strlen(s), b = strlen(p);
    return a >= b && strcmp(s + a - b, p) == 0;
}

/* 0: mapped into out; 1: ignorable non-parameter entry; 2: npz bookkeeping
 * (ignored silently). */
static int map_name(const char *name, int npz, char *out, size_t n) {
    if (npz && (strcmp(name, "config_json") == 0 || strcmp(name, "mimrl_format_version") == 0 ||
                starts(name, "optim/") || starts(name, "trainer/")))
        return 2;
    const char *s = name;
    if (starts(s, MR_BERT_PREFIX)) s += strlen(MR_BERT_PREFIX);
    else if (starts(s, "bert.")) s += 5;
    if (starts(s, "cls.") || strcmp(s, "embeddings.position_ids") == 0 || strcmp(s, "embeddings.token_type_ids") == 0)
        return 1;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", s);
    size_t L = strlen(tmp);
    if (ends(tmp, "LayerNorm.gamma")) snprintf(tmp + L - 5, sizeof tmp - (L - 5), "weight");
    else if (ends(tmp, "LayerNorm.beta")) snprintf(tmp + L - 4, sizeof tmp - (L - 4), "bias");
    snprintf(out, n, "%s%s", MR_BERT_PREFIX, tmp);
    return 0;
}

/* ------------------------------------------------------------ sources */

typedef struct {
    int npz;
    const char *path;
    mr_st_file st;
    mr_npz z;
} source;

static size_t src_n(const source *s) { return s->npz ? s->z.n : s->st.n; }
static const char *src_name(const source *s, size_t i) { return s->npz ? s->z.m[i].name : s->st.t[i].name; }

static void shape_str(char *buf, size_t n, int ndim, const uint64_t *s64, const size_t *s) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%llu", d ? "," : "", (unsigned long long)(s64 ? s64[d] : s[d]));
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Read entry i as the canonical tensor k into dst; problems are appended to
 * acc (each counted) and MR_OK returned; only allocation failure aborts. */
static int src_read(const source *s, size_t i, const canon *k, double *dst, int *problems, mr_error *acc) {
    const char *nm = src_name(s, i);
    int ndim;
    const uint64_t *shape;
    mr_array a = {0};
    mr_error ie = {0};
    if (s->npz) {
        if (mr_npz_read_index(&s->z, i, &a, &ie) != MR_OK) {
            (*problems)++;
            mr_fail_append(acc, ie.code, "%s", ie.msg);
            return ie.code == MR_ENOMEM ? MR_ENOMEM : MR_OK;
        }
        if (a.dtype != MR_DT_F8 && a.dtype != MR_DT_F4) {
            (*problems)++;
            mr_fail_append(acc, MR_EFORMAT, "'%s' has dtype %s (want <f8 or <f4)", nm, mr_dtype_descr(a.dtype));
            mr_array_free(&a);
            return MR_OK;
        }
        ndim = a.ndim, shape = a.shape;
    } else {
        const mr_st_tensor *t = &s->st.t[i];
        if (t->dtype > MR_ST_BF16) {
            (*problems)++;
            mr_fail_append(acc, MR_EFORMAT, "'%s' has dtype %s (want F64, F32, F16 or BF16)", nm,
                           mr_st_dtype_name(t->dtype));
            return MR_OK;
        }
        ndim = t->ndim, shape = t->shape;
    }
    int same = ndim == k->ndim;
    for (int d = 0; same && d < ndim; d++) same = shape[d] == k->shape[d];
    if (!same) {
        char fs[128], ms[64];
        shape_str(fs, sizeof fs, ndim, shape, NULL);
        shape_str(ms, sizeof ms, k->ndim, NULL, k->shape);
        (*problems)++;
        mr_fail_append(acc, MR_ESHAPE, "'%s' has shape %s in the file but %s in the model (as '%s')", nm, fs, ms,
                       k->name);
        mr_array_free(&a);
        return MR_OK;
    }
    if (s->npz) {
        mr_array_to_f64(&a, dst);
        mr_array_free(&a);
    } else if (mr_st_read_f64(&s->st, i, dst, &ie) != MR_OK) {
        (*problems)++;
        mr_fail_append(acc, ie.code, "%s", ie.msg);
        return MR_OK;
    }
    for (size_t j = 0; j < k->size; j++)
        if (!isfinite(dst[j])) {
            (*problems)++;
            mr_fail_append(acc, MR_EFORMAT, "'%s' holds a non-finite value at flat index %zu", nm, j);
            break;
        }
    return MR_OK;
}

/* A zip (npz) starts "PK\3\4" (or "PK\5\6" when empty); a safetensors file
 * starts with its header length, then '{' at byte 8, where a zip has the
 * low byte of its compression method (0 or 8). */
static int is_npz_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[9] = {0};
    size_t n = fread(b, 1, 9, f);
    fclose(f);
    return n >= 4 && b[0] == 'P' && b[1] == 'K' && ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6)) &&
           !(n == 9 && b[8] == '{');
}

int mr_bert_load_weights(mr_params *p, const mr_bert_config *c, const char *path, char **note, mr_error *e) {
    if (note) *note = NULL;
    int rc = mr_bert_config_check(c, path, e);
    if (rc != MR_OK) return rc;
    if (!p->data) return mr_fail(e, MR_EINVAL, "%s: the parameter store is not allocated", path);
    canon_list L = {0};
    if (mr_bert_for_each_param(c, MR_BERT_PREFIX, canon_put, &L) != 0) {
        free(L.c);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    /* the store must hold every BERT tensor with its shape */
    mr_error acc = {0};
    int problems = 0;
    for (size_t k = 0; k < L.n; k++) {
        long si = mr_params_find(p, L.c[k].name);
        const mr_tensor *t = si >= 0 ? &p->t[si] : NULL;
        int same = t && t->ndim == L.c[k].ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == L.c[k].shape[d];
        if (!same) {
            problems++;
            mr_fail_append(&acc, MR_EINVAL, "the store %s '%s' with the config's shape", t ? "does not hold" : "lacks",
                           L.c[k].name);
        }
        L.c[k].store = si;
    }
    if (problems) {
        free(L.c);
        return mr_fail(e, MR_EINVAL, "%s: %s", path, acc.msg);
    }

    source s = {0};
    s.path = path;
    s.npz = is_npz_file(path);
    rc = s.npz ? mr_npz_open(&s.z, path, e) : mr_st_open(&s.st, path, e);
    if (rc != MR_OK) {
        free(L.c);
        return rc;
    }
    size_t nn = src_n(&s);
    /* names: map every entry; collect ignored ones for the note */
    size_t note_cap = 256, note_len = 0, n_ignored = 0;
    char *ign = malloc(note_cap);
    if (!ign) rc = mr_fail(e, MR_ENOMEM, "out of memory");
    if (ign) ign[0] = '\0';
    for (size_t i = 0; i < nn && rc == MR_OK; i++) {
        const char *nm = src_name(&s, i);
        char mapped[MR_NAME_MAX + 64];
        int kind = map_name(nm, s.npz, mapped, sizeof mapped);
        if (kind == 2) continue;
        if (kind == 1) {
            size_t need = note_len + strlen(nm) + 3;
            if (need > note_cap) {
                while (need > note_cap) note_cap *= 2;
                char *q = realloc(ign, note_cap);
                if (!q) {
                    rc = mr_fail(e, MR_ENOMEM, "out of memory");
                    break;
                }
                ign = q;
            }
            note_len += (size_t)sprintf(ign + note_len, "%s%s", n_ignored ? ", " : "", nm);
            n_ignored++;
            continue;
        }
        long k = canon_find(&L, mapped);
        if (k < 0) {
            problems++;
            if (strcmp(mapped + strlen(MR_BERT_PREFIX), nm) == 0 || strcmp(mapped, nm) == 0)
                mr_fail_append(&acc, MR_ESHAPE, "extra '%s'", nm);
            else mr_fail_append(&acc, MR_ESHAPE, "extra '%s' (as '%s')", nm, mapped);
        } else if (L.c[k].src >= 0) {
            problems++;
            mr_fail_append(&acc, MR_ESHAPE, "'%s' and '%s' both map to '%s'", src_name(&s, (size_t)L.c[k].src), nm,
                           mapped);
        } else L.c[k].src = (long)i;
    }
    for (size_t k = 0; k < L.n && rc == MR_OK; k++)
        if (L.c[k].src < 0) {
            problems++;
            mr_fail_append(&acc, MR_ESHAPE, "missing '%s'", L.c[k].name);
        }
    /* values into a scratch buffer; the store is written only when all is well */
    size_t total = 0;
    for (size_t k = 0; k < L.n; k++) total += L.c[k].size;
    double *tmp = NULL;
    if (rc == MR_OK) {
        tmp = malloc((total ? total : 1) * sizeof *tmp);
        if (!tmp) rc = mr_fail(e, MR_ENOMEM, "%s: out of memory for %zu values", path, total);
    }
    for (size_t k = 0, off = 0; k < L.n && rc == MR_OK; off += L.c[k].size, k++)
        if (L.c[k].src >= 0 && (rc = src_read(&s, (size_t)L.c[k].src, &L.c[k], tmp + off, &problems, &acc)) != MR_OK)
            mr_fail(e, rc, "%s: out of memory", path);
    if (rc == MR_OK && problems)
        rc = mr_fail(e, acc.code ? acc.code : MR_ESHAPE, "%s: %d problem%s: %s", path, problems, problems > 1 ? "s" : "",
                     acc.msg);
    if (rc == MR_OK) {
        for (size_t k = 0, off = 0; k < L.n; off += L.c[k].size, k++)
            memcpy(p->data + p->t[L.c[k].store].offset, tmp + off, L.c[k].size * sizeof *tmp);
        if (note && n_ignored) {
            size_t nl = note_len + strlen(path) + 96;
            *note = malloc(nl);
            if (*note)
                snprintf(*note, nl, "%s: ignored %zu non-parameter entr%s: %s", path, n_ignored,
                         n_ignored > 1 ? "ies" : "y", ign);
        }
    }
    free(tmp);
    free(ign);
    free(L.c);
    if (s.npz) mr_npz_close(&s.z);
    else mr_st_close(&s.st);
    return rc;
}

/* Parameters of c (overflow-checked; UINT64_MAX when it overflows). */
static int count_one(void *ctx, const char *name, int ndim, const size_t *shape) {
    (void)name;
    uint64_t *tot = ctx, n = 1;
    for (int d = 0; d < ndim; d++)
        if (mr_mul_overflow(n, shape[d], &n)) n = UINT64_MAX;
    if (mr_add_overflow(*tot, n, tot)) *tot = UINT64_MAX;
    return 0;
}

static uint64_t param_count(const mr_bert_config *c) {
    uint64_t tot = 0;
    mr_bert_for_each_param(c, "", count_one, &tot);
    return tot;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int mr_bert_load_dir(const char *dir, mr_bert_config *c, mr_params *p, char **note, mr_error *e) {
    return mr_bert_load_dir_weights(dir, NULL, c, p, note, e);
}

int mr_bert_load_dir_weights(const char *dir, const char *weights, mr_bert_config *c, mr_params *p, char **note,
                             mr_error *e) {
    if (note) *note = NULL;
    char path[4096];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mr_fail(e, MR_EIO, "%s: not a directory (want a Hugging Face model directory)", dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    mr_bert_config cfg;
    int rc = mr_bert_config_read_json(path, &cfg, e);
    if (rc != MR_OK) return rc;
    if (weights) {
        if (strlen(weights) >= sizeof path) return mr_fail(e, MR_EINVAL, "%s: path too long", weights);
        snprintf(path, sizeof path, "%s", weights);
        if (!exists(path)) return mr_fail(e, MR_EIO, "%s: cannot open: %s", path, strerror(ENOENT));
    } else
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (!weights && !exists(path)) {
        char alt[4200];
        snprintf(alt, sizeof alt, "%s/model.safetensors.index.json", dir);
        if (exists(alt))
            return mr_fail(e, MR_EUNSUPPORTED, "%s: sharded checkpoint (model.safetensors.index.json); "
                           "merge the shards into one model.safetensors", dir);
        snprintf(alt, sizeof alt, "%s/pytorch_model.bin", dir);
        if (exists(alt))
            return mr_fail(e, MR_EUNSUPPORTED, "%s: only pytorch_model.bin (a pickle) is there; save it as "
                           "model.safetensors (safetensors.torch.save_file) or as an npz state_dict", dir);
        return mr_fail(e, MR_EIO, "%s: cannot open: %s", path, strerror(ENOENT));
    }
    /* allocate only what the file can fill: 2 bytes (F16/BF16) per parameter at least */
    /* (an npz may be deflated: its size bounds nothing) */
    uint64_t need = param_count(&cfg), bytes;
    if (!is_npz_file(path) && stat(path, &st) == 0 && (mr_mul_overflow(need, 2, &bytes) || bytes > (uint64_t)st.st_size))
        return mr_fail(e, MR_EFORMAT, "%s: config.json's sizes make %llu parameters, more than %s (%llu bytes) can hold",
                       dir, (unsigned long long)need, path, (unsigned long long)st.st_size);
    int fresh = !p->data;
    size_t n0 = p->n, total0 = p->total;
    if (fresh) {
        rc = mr_bert_params_add(p, &cfg, MR_BERT_PREFIX, e);
        if (rc == MR_OK) rc = mr_params_alloc(p, e);
    }
    if (rc == MR_OK) rc = mr_bert_load_weights(p, &cfg, path, note, e);
    if (rc == MR_OK) *c = cfg;
    else if (fresh) { /* back to the registrations the caller made */
        free(p->data), free(p->grad), free(p->m), free(p->v), free(p->step);
        p->data = p->grad = p->m = p->v = NULL;
        p->step = NULL;
        p->n = n0, p->total = total0;
    }
    return rc;
}

/* ------------------------------------------------------------ init, save */

typedef struct {
    mr_params *p;
    gsl_rng *r;
} init_ctx;

static int init_one(void *ctx, const char *name, int ndim, const size_t *shape) {
    init_ctx *a = ctx;
    double *v = mr_params_get(a->p, name);
    if (!v) return 0;
    size_t n = ndim == 2 ? shape[0] * shape[1] : shape[0];
    if (ndim == 2) {
        for (size_t i = 0; i < n; i++) v[i] = gsl_ran_gaussian(a->r, 0.02);
        if (ends(name, "embeddings.word_embeddings.weight"))
            for (size_t j = 0; j < shape[1]; j++) v[j] = 0.0; /* padding_idx 0 */
    } else {
        double fill = ends(name, "LayerNorm.weight") ? 1.0 : 0.0;
        for (size_t i = 0; i < n; i++) v[i] = fill;
    }
    return 0;
}

void mr_bert_init_hf(mr_params *p, const mr_bert_config *c, const char *prefix, unsigned long seed) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return;
    gsl_rng_set(r, seed);
    init_ctx a = {p, r};
    mr_bert_for_each_param(c, prefix, init_one, &a);
    gsl_rng_free(r);
}

typedef struct {
    const mr_params *p;
    size_t plen, n;
    mr_st_entry *ent;
    char (*names)[MR_NAME_MAX];
    int f32, missing;
} save_ctx;

static int save_one(void *ctx, const char *name, int ndim, const size_t *shape) {
    (void)shape;
    save_ctx *a = ctx;
    long i = mr_params_find(a->p, name);
    if (i < 0) {
        a->missing = 1;
        return 1;
    }
    snprintf(a->names[a->n], MR_NAME_MAX, "%s", name + a->plen);
    a->ent[a->n] = (mr_st_entry){a->names[a->n], a->f32 ? MR_ST_F32 : MR_ST_F64, ndim, a->p->t[i].shape,
                                 a->p->data + a->p->t[i].offset};
    a->n++;
    return 0;
}

int mr_bert_save_safetensors(const mr_params *p, const mr_bert_config *c, const char *prefix, const char *path,
                             int f32, mr_error *e) {
    size_t n = 5 + 16 * c->num_hidden_layers + 2;
    save_ctx a = {p, strlen(prefix), 0, calloc(n, sizeof(mr_st_entry)), calloc(n, MR_NAME_MAX), f32, 0};
    int rc;
    if (!a.ent || !a.names) rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    else if (mr_bert_for_each_param(c, prefix, save_one, &a) != 0 || a.missing)
        rc = mr_fail(e, MR_EINVAL, "%s: the store lacks a BERT tensor under '%s'", path, prefix);
    else {
        const char *meta[2] = {"format", "pt"};
        rc = mr_st_save(path, a.n, a.ent, 1, meta, e);
    }
    free(a.ent);
    free(a.names);
    return rc;
}
