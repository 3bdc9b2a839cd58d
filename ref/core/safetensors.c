/* safetensors.c — see safetensors.h. */
#include "ref/core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ref/core/json.h"
#include "ref/core/npz.h"

static const struct {
    const char *name;
    size_t size;
} DT[MR_ST_DT_COUNT] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"BOOL", 1},    {"U8", 1},
                        {"I8", 1},  {"U16", 2}, {"I16", 2}, {"U32", 4},  {"I32", 4},     {"U64", 8},
                        {"I64", 8}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

const char *mr_st_dtype_name(mr_st_dtype dt) { return (unsigned)dt < MR_ST_DT_COUNT ? DT[dt].name : "?"; }
size_t mr_st_dtype_size(mr_st_dtype dt) { return (unsigned)dt < MR_ST_DT_COUNT ? DT[dt].size : 0; }

double mr_f16_to_double(uint16_t h) {
    int sign = h >> 15, ex = (h >> 10) & 0x1F;
    unsigned mant = h & 0x3FF;
    double v;
    if (ex == 0) v = ldexp((double)mant, -24); /* zero and subnormals */
    else if (ex == 31) v = mant ? NAN : INFINITY;
    else v = ldexp((double)(mant | 0x400), ex - 25);
    return sign ? -v : v;
}

/* float bits → double without an FP operation on NaN (converting a
 * signalling NaN would raise FE_INVALID, and the tests trap on it). */
static double f32_bits_to_double(uint32_t bits) {
    if ((bits & 0x7F800000u) == 0x7F800000u) {
        double v = (bits & 0x7FFFFFu) ? NAN : INFINITY;
        return (bits >> 31) ? -v : v;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

double mr_bf16_to_double(uint16_t h) { return f32_bits_to_double((uint32_t)h << 16); }

void mr_st_close(mr_st_file *f) {
    if (f->fd >= 0) close(f->fd);
    for (size_t i = 0; i < f->n; i++) free(f->t[i].name);
    for (size_t i = 0; i < f->n_meta; i++) free(f->meta_key[i]), free(f->meta_val[i]);
    free(f->t);
    free(f->meta_key);
    free(f->meta_val);
    free(f->mem);
    free(f->label);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

long mr_st_find(const mr_st_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return (long)i;
    return -1;
}

const char *mr_st_meta(const mr_st_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_key[i], key) == 0) return f->meta_val[i];
    return NULL;
}

static int read_at(const mr_st_file *f, uint64_t off, void *buf, uint64_t n, mr_error *e) {
    if (f->mem) {
        memcpy(buf, f->mem + off, (size_t)n);
        return MR_OK;
    }
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = pread(f->fd, p, n > (1u << 30) ? (1u << 30) : (size_t)n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return mr_fail(e, MR_EIO, "%s: read failed at byte %llu: %s", f->label, (unsigned long long)off,
                           r < 0 ? strerror(errno) : "file shrank while reading");
        p += r, off += (uint64_t)r, n -= (uint64_t)r;
    }
    return MR_OK;
}

/* ------------------------------------------------------------------ header */

static int parse_entry(mr_st_file *f, const char *name, const mr_json *v, mr_st_tensor *t, mr_error *e) {
    const char *L = f->label;
    if (v->type != MR_JOBJ) return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': entry is not a JSON object", L, name);
    const mr_json *dt = mr_json_get(v, "dtype"), *sh = mr_json_get(v, "shape"), *off = mr_json_get(v, "data_offsets");
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], "dtype") && strcmp(v->keys[i], "shape") && strcmp(v->keys[i], "data_offsets"))
            return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': unexpected field '%.100s'", L, name, v->keys[i]);
    if (!dt || dt->type != MR_JSTR) return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': field 'dtype' missing or not a string", L, name);
    if (!sh || sh->type != MR_JARR) return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': field 'shape' missing or not an array", L, name);
    if (!off || off->type != MR_JARR)
        return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': field 'data_offsets' missing or not an array", L, name);
    int k;
    for (k = 0; k < MR_ST_DT_COUNT; k++)
        if (strcmp(dt->str, DT[k].name) == 0) break;
    if (k == MR_ST_DT_COUNT)
        return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': unknown dtype '%.40s' (the format knows F64 F32 F16 BF16 "
                       "I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2)", L, name, dt->str);
    t->dtype = (mr_st_dtype)k;
    if (sh->n > MR_ST_MAXDIM)
        return mr_fail(e, MR_EUNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d supported)", L, name, sh->n,
                       MR_ST_MAXDIM);
    t->ndim = (int)sh->n;
    t->count = 1;
    for (size_t d = 0; d < sh->n; d++) {
        if (mr_json_u64(&sh->items[d], &t->shape[d]))
            return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", L, name, d);
        if (mr_mul_overflow(t->count, t->shape[d], &t->count))
            return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': the shape's element count overflows", L, name);
    }
    if (off->n != 2 || mr_json_u64(&off->items[0], &t->begin) || mr_json_u64(&off->items[1], &t->end))
        return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", L, name);
    if (t->end < t->begin)
        return mr_fail(e, MR_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu) end before they begin", L, name,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    uint64_t bytes;
    if (mr_mul_overflow(t->count, DT[k].size, &bytes) || bytes != t->end - t->begin)
        return mr_fail(e, MR_EFORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu) hold %llu bytes but shape × %s size needs %s%llu", L,
                       name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin), DT[k].name,
                       mr_mul_overflow(t->count, DT[k].size, &bytes) ? "more than 2^64: " : "",
                       (unsigned long long)bytes);
    if (t->end > f->data_len)
        return mr_fail(e, MR_EFORMAT,
                       "%s: tensor '%s': data_offsets [%llu, %llu) run past the end of the data (%llu bytes; "
                       "truncated file?)", L, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)f->data_len);
    return MR_OK;
}

typedef struct {
    uint64_t begin, end;
    size_t i;
} span;
static int by_begin(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int check_tiling(mr_st_file *f, mr_error *e) {
    const char *L = f->label;
    if (f->n == 0) {
        if (f->data_len)
            return mr_fail(e, MR_EFORMAT, "%s: %llu data bytes after a header that lists no tensor", L,
                           (unsigned long long)f->data_len);
        return MR_OK;
    }
    span *idx = malloc(f->n * sizeof *idx);
    if (!idx) return mr_fail(e, MR_ENOMEM, "%s: out of memory", L);
    for (size_t i = 0; i < f->n; i++) idx[i] = (span){f->t[i].begin, f->t[i].end, i};
    qsort(idx, f->n, sizeof *idx, by_begin);
    int rc = MR_OK;
    uint64_t at = 0;
    const char *prev = NULL;
    for (size_t k = 0; k < f->n && rc == MR_OK; k++) {
        const mr_st_tensor *t = &f->t[idx[k].i];
        if (t->begin > at)
            rc = mr_fail(e, MR_EFORMAT, "%s: tensor '%s': a hole of %llu bytes before its data_offsets [%llu, %llu) "
                         "(the buffer must be covered exactly)", L, t->name, (unsigned long long)(t->begin - at),
                         (unsigned long long)t->begin, (unsigned long long)t->end);
        else if (t->begin < at)
            rc = mr_fail(e, MR_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu) overlap tensor '%s' (ending at %llu)", L,
                         t->name, (unsigned long long)t->begin, (unsigned long long)t->end, prev ? prev : "?",
                         (unsigned long long)at);
        at = t->end;
        if (t->end > t->begin) prev = t->name;
    }
    if (rc == MR_OK && at != f->data_len)
        rc = mr_fail(e, MR_EFORMAT, "%s: %llu bytes after the last tensor's data (the buffer must be covered exactly)", L,
                     (unsigned long long)(f->data_len - at));
    free(idx);
    return rc;
}

static int parse_header(mr_st_file *f, const char *hdr, uint64_t n, mr_error *e) {
    const char *L = f->label;
    if (n == 0 || hdr[0] != '{')
        return mr_fail(e, MR_EFORMAT, "%s: the header does not start with '{' (not a safetensors file?)", L);
    char what[600];
    snprintf(what, sizeof what, "%s: header", L);
    mr_json root;
    int rc = mr_json_parse(hdr, (size_t)n, MR_ST_MAX_DEPTH, &root, what, e);
    if (rc != MR_OK) return rc;
    size_t nt = 0;
    for (size_t i = 0; i < root.n; i++) nt += strcmp(root.keys[i], "__metadata__") != 0;
    f->t = calloc(nt ? nt : 1, sizeof *f->t);
    if (!f->t) rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", L);
    for (size_t i = 0; i < root.n && rc == MR_OK; i++) {
        const char *key = root.keys[i];
        const mr_json *v = &root.items[i];
        if (strcmp(key, "__metadata__") == 0) {
            if (v->type != MR_JOBJ) {
                rc = mr_fail(e, MR_EFORMAT, "%s: __metadata__ is not an object of strings", L);
                break;
            }
            f->meta_key = calloc(v->n ? v->n : 1, sizeof *f->meta_key);
            f->meta_val = calloc(v->n ? v->n : 1, sizeof *f->meta_val);
            if (!f->meta_key || !f->meta_val) {
                rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", L);
                break;
            }
            for (size_t j = 0; j < v->n && rc == MR_OK; j++) {
                if (v->items[j].type != MR_JSTR) {
                    rc = mr_fail(e, MR_EFORMAT, "%s: __metadata__ value of '%.100s' is not a string", L, v->keys[j]);
                    break;
                }
                f->meta_key[j] = mr_strdup(v->keys[j]);
                f->meta_val[j] = mr_strdup(v->items[j].str);
                f->n_meta = j + 1;
                if (!f->meta_key[j] || !f->meta_val[j]) rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", L);
            }
            continue;
        }
        if (!key[0]) {
            rc = mr_fail(e, MR_EFORMAT, "%s: a tensor with an empty name", L);
            break;
        }
        mr_st_tensor *t = &f->t[f->n];
        t->name = mr_strdup(key);
        if (!t->name) {
            rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", L);
            break;
        }
        f->n++;
        rc = parse_entry(f, key, v, t, e);
    }
    mr_json_free(&root);
    if (rc == MR_OK) rc = check_tiling(f, e);
    return rc;
}

static int open_common(mr_st_file *f, uint64_t size, mr_error *e) {
    const char *L = f->label;
    if (size < 8) return mr_fail(e, MR_EFORMAT, "%s: %llu bytes, too short for the 8-byte header length", L, (unsigned long long)size);
    unsigned char lb[8];
    int rc = read_at(f, 0, lb, 8, e);
    if (rc != MR_OK) return rc;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | lb[i];
    if (n > size - 8)
        return mr_fail(e, MR_EFORMAT, "%s: header length %llu runs beyond the file (%llu bytes)", L, (unsigned long long)n,
                       (unsigned long long)size);
    if (n > MR_ST_MAX_HEADER)
        return mr_fail(e, MR_EFORMAT, "%s: header length %llu exceeds the format's limit of %llu bytes", L,
                       (unsigned long long)n, MR_ST_MAX_HEADER);
    f->data_start = 8 + n;
    f->data_len = size - 8 - n;
    char *hdr = malloc((size_t)n + 1);
    if (!hdr) return mr_fail(e, MR_ENOMEM, "%s: out of memory for a %llu-byte header", L, (unsigned long long)n);
    rc = read_at(f, 8, hdr, n, e);
    if (rc == MR_OK) {
        hdr[n] = '\0';
        rc = parse_header(f, hdr, n, e);
    }
    free(hdr);
    return rc;
}

int mr_st_open(mr_st_file *f, const char *path, mr_error *e) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->label = mr_strdup(path);
    if (!f->label) return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    f->fd = open(path, O_RDONLY);
    struct stat st;
    int rc;
    if (f->fd < 0) rc = mr_fail(e, MR_EIO, "%s: cannot open: %s", path, strerror(errno));
    else if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) rc = mr_fail(e, MR_EIO, "%s: not a regular file", path);
    else rc = open_common(f, (uint64_t)st.st_size, e);
    if (rc != MR_OK) mr_st_close(f);
    return rc;
}

int mr_st_open_mem(mr_st_file *f, const char *label, const void *buf, size_t len, mr_error *e) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->label = mr_strdup(label);
    f->mem = malloc(len ? len : 1);
    if (!f->label || !f->mem) {
        mr_st_close(f);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory", label);
    }
    if (len) memcpy(f->mem, buf, len);
    int rc = open_common(f, len, e);
    if (rc != MR_OK) mr_st_close(f);
    return rc;
}

int mr_st_read_raw(const mr_st_file *f, size_t i, void *out, mr_error *e) {
    const mr_st_tensor *t = &f->t[i];
    return read_at(f, f->data_start + t->begin, out, t->end - t->begin, e);
}

int mr_st_read_f64(const mr_st_file *f, size_t i, double *out, mr_error *e) {
    const mr_st_tensor *t = &f->t[i];
    if (t->dtype > MR_ST_BF16)
        return mr_fail(e, MR_EUNSUPPORTED, "%s: tensor '%s' has dtype %s (only F64, F32, F16 and BF16 convert to double)",
                       f->label, t->name, DT[t->dtype].name);
    size_t es = DT[t->dtype].size, n = (size_t)t->count;
    /* read in chunks into the tail of out (element size ≤ 8 = sizeof(double)),
     * converting front to back is unsafe in place, so use a bounce buffer */
    enum { CH = 1 << 16 };
    unsigned char *b = malloc(CH * 8);
    if (!b) return mr_fail(e, MR_ENOMEM, "%s: out of memory", f->label);
    int rc = MR_OK;
    for (size_t s = 0; s < n && rc == MR_OK; s += CH) {
        size_t m = n - s < CH ? n - s : CH;
        rc = read_at(f, f->data_start + t->begin + (uint64_t)s * es, b, (uint64_t)m * es, e);
        for (size_t k = 0; rc == MR_OK && k < m; k++) {
            const unsigned char *p = b + k * es;
            uint64_t u = 0;
            for (size_t j = es; j-- > 0;) u = (u << 8) | p[j];
            double v;
            if (t->dtype == MR_ST_F64) memcpy(&v, &u, 8);
            else if (t->dtype == MR_ST_F32) {
                v = f32_bits_to_double((uint32_t)u);
            } else if (t->dtype == MR_ST_F16) v = mr_f16_to_double((uint16_t)u);
            else v = mr_bf16_to_double((uint16_t)u);
            out[s + k] = v;
        }
    }
    free(b);
    return rc;
}

/* ------------------------------------------------------------------ writer */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (b->n + n + 1 > nc) nc *= 2;
        char *q = realloc(b->s, nc);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->s = q, b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else sb_put(b, (const char *)&c, 1);
    }
    sb_put(b, "\"", 1);
}

int mr_st_save(const char *path, size_t n, const mr_st_entry *t, size_t n_meta, const char *const *meta,
               mr_error *e) {
    sbuf h = {0};
    uint64_t at = 0;
    sb_str(&h, "{");
    if (n_meta) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t k = 0; k < n_meta; k++) {
            if (k) sb_str(&h, ",");
            sb_json_string(&h, meta[2 * k]);
            sb_str(&h, ":");
            sb_json_string(&h, meta[2 * k + 1]);
        }
        sb_str(&h, "}");
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i].dtype != MR_ST_F64 && t[i].dtype != MR_ST_F32) {
            free(h.s);
            return mr_fail(e, MR_EUNSUPPORTED, "%s: tensor '%s': the writer supports F64 and F32 only", path, t[i].name);
        }
        if (t[i].ndim < 0 || t[i].ndim > MR_ST_MAXDIM) {
            free(h.s);
            return mr_fail(e, MR_EINVAL, "%s: tensor '%s': %d dimensions", path, t[i].name, t[i].ndim);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0) {
                free(h.s);
                return mr_fail(e, MR_EINVAL, "%s: tensor '%s' given twice", path, t[i].name);
            }
        uint64_t cnt = 1, bytes;
        for (int d = 0; d < t[i].ndim; d++)
            if (mr_mul_overflow(cnt, t[i].shape[d], &cnt)) cnt = UINT64_MAX;
        if (mr_mul_overflow(cnt, DT[t[i].dtype].size, &bytes) || mr_add_overflow(at, bytes, &bytes)) {
            free(h.s);
            return mr_fail(e, MR_EINVAL, "%s: tensor '%s': size overflows", path, t[i].name);
        }
        char num[96];
        sb_str(&h, (n_meta || i) ? "," : "");
        sb_json_string(&h, t[i].name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, DT[t[i].dtype].name);
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            snprintf(num, sizeof num, "%s%zu", d ? "," : "", t[i].shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)bytes);
        sb_str(&h, num);
        at = bytes;
    }
    sb_str(&h, "}");
    while (!h.oom && (8 + h.n) % 8) sb_str(&h, " ");
    if (h.oom) {
        free(h.s);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    }
    char *tmp;
    FILE *fp;
    int rc = mr_atomic_open(path, &tmp, &fp, e);
    if (rc != MR_OK) {
        free(h.s);
        return rc;
    }
    unsigned char lb[8];
    for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(((uint64_t)h.n >> (8 * i)) & 0xff);
    int bad = fwrite(lb, 1, 8, fp) != 8 || fwrite(h.s, 1, h.n, fp) != h.n;
    free(h.s);
    enum { CH = 4096 };
    unsigned char buf[CH * 8];
    for (size_t i = 0; i < n && !bad; i++) {
        size_t cnt = 1, es = DT[t[i].dtype].size;
        for (int d = 0; d < t[i].ndim; d++) cnt *= t[i].shape[d];
        for (size_t s = 0; s < cnt && !bad; s += CH) {
            size_t m = cnt - s < CH ? cnt - s : CH;
            for (size_t k = 0; k < m; k++) {
                uint64_t u;
                if (t[i].dtype == MR_ST_F64) memcpy(&u, &t[i].data[s + k], 8);
                else {
                    float x = (float)t[i].data[s + k];
                    uint32_t u32;
                    memcpy(&u32, &x, 4);
                    u = u32;
                }
                for (size_t j = 0; j < es; j++) buf[k * es + j] = (unsigned char)(u >> (8 * j));
            }
            bad = fwrite(buf, es, m, fp) != m;
        }
    }
    if (bad) {
        mr_atomic_abort(tmp, fp);
        return mr_fail(e, MR_EIO, "%s: write failed: %s (previous file, if any, left intact)", path, strerror(errno));
    }
    return mr_atomic_commit(path, tmp, fp, e);
}
