/* params.c — see params.h. */
#include "ref/core/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"

void mr_params_init(mr_params *p) { memset(p, 0, sizeof *p); }

int mr_params_add(mr_params *p, const char *name, int ndim, const size_t *shape, mr_error *e) {
    if (p->data) return mr_fail(e, MR_EINVAL, "parameter '%s' registered after allocation", name);
    if (strlen(name) == 0 || strlen(name) >= MR_NAME_MAX) return mr_fail(e, MR_EINVAL, "parameter name '%s' is empty or too long", name);
    if (ndim < 0 || ndim > MR_MAXDIM) return mr_fail(e, MR_EINVAL, "parameter '%s': %d dimensions (at most %d)", name, ndim, MR_MAXDIM);
    if (mr_params_find(p, name) >= 0) return mr_fail(e, MR_EINVAL, "parameter '%s' registered twice", name);
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 32;
        mr_tensor *t = realloc(p->t, nc * sizeof *t);
        if (!t) return mr_fail(e, MR_ENOMEM, "out of memory");
        p->t = t;
        p->cap = nc;
    }
    mr_tensor *t = &p->t[p->n];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    uint64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        if (mr_mul_overflow(size, shape[i], &size)) return mr_fail(e, MR_EINVAL, "parameter '%s': size overflows", name);
    }
    t->size = (size_t)size;
    t->offset = p->total;
    p->total += t->size;
    p->n++;
    return MR_OK;
}

int mr_params_alloc(mr_params *p, mr_error *e) {
    size_t n = p->total ? p->total : 1;
    p->data = calloc(n, sizeof(double));
    p->grad = calloc(n, sizeof(double));
    p->m = calloc(n, sizeof(double));
    p->v = calloc(n, sizeof(double));
    p->step = calloc(p->n ? p->n : 1, sizeof(int64_t));
    if (!p->data || !p->grad || !p->m || !p->v || !p->step) {
        mr_params_free(p);
        return mr_fail(e, MR_ENOMEM, "out of memory for %zu parameters", p->total);
    }
    return MR_OK;
}

void mr_params_free(mr_params *p) {
    free(p->t);
    free(p->data);
    free(p->grad);
    free(p->m);
    free(p->v);
    free(p->step);
    memset(p, 0, sizeof *p);
}

long mr_params_find(const mr_params *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->t[i].name, name) == 0) return (long)i;
    return -1;
}

double *mr_params_get(const mr_params *p, const char *name) {
    long i = mr_params_find(p, name);
    return (i < 0 || !p->data) ? NULL : mr_params_val(p, (size_t)i);
}

double *mr_params_get_grad(const mr_params *p, const char *name) {
    long i = mr_params_find(p, name);
    return (i < 0 || !p->grad) ? NULL : mr_params_grad(p, (size_t)i);
}

void mr_params_zero_grad(mr_params *p) {
    if (p->grad) memset(p->grad, 0, p->total * sizeof(double));
}

int mr_params_add_tsv(mr_params *p, const char *path, mr_error *e) {
    FILE *f = fopen(path, "r");
    if (!f) return mr_fail(e, MR_EIO, "%s: cannot open: %s", path, strerror(errno));
    char line[512];
    int lineno = 0, rc = MR_OK;
    while (rc == MR_OK && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') continue;
        char *tab = strchr(line, '\t');
        if (!tab) {
            rc = mr_fail(e, MR_EFORMAT, "%s:%d: expected 'name<TAB>shape'", path, lineno);
            break;
        }
        *tab = '\0';
        size_t shape[MR_MAXDIM];
        int nd = 0;
        char *s = tab + 1;
        while (*s) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(s, &end, 10);
            if (end == s || errno || nd >= MR_MAXDIM || (*end && *end != 'x')) {
                rc = mr_fail(e, MR_EFORMAT, "%s:%d: bad shape '%s' for '%s'", path, lineno, tab + 1, line);
                break;
            }
            shape[nd++] = (size_t)v;
            s = *end ? end + 1 : end;
        }
        if (rc == MR_OK) rc = mr_params_add(p, line, nd, shape, e);
    }
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------ save */

static int add_tensor(mr_npz_writer *w, const char *prefix, const mr_tensor *t, const double *buf, mr_error *e) {
    char name[MR_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s%s", prefix, t->name);
    uint64_t shape[MR_MAXDIM];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
    return mr_npz_add(w, name, MR_DT_F8, t->ndim, shape, buf + t->offset, e);
}

int mr_params_save(const mr_params *p, const char *path, const char *config_json, int with_optim,
                   mr_error *e) {
    mr_npz_writer w;
    int rc = mr_npz_writer_open(&w, path, 0, e);
    if (rc != MR_OK) return rc;
    rc = mr_params_write(p, &w, config_json, with_optim, e);
    if (rc != MR_OK) {
        mr_npz_writer_abort(&w);
        return rc;
    }
    return mr_npz_writer_close(&w, e);
}

int mr_params_write(const mr_params *p, mr_npz_writer *wp, const char *config_json, int with_optim, mr_error *e) {
    mr_npz_writer w = *wp;
    int rc;
    int32_t ver = MR_FORMAT_VERSION;
    uint64_t one = 1;
    rc = mr_npz_add(&w, "mimrl_format_version", MR_DT_I4, 1, &one, &ver, e);
    if (rc == MR_OK && config_json) {
        uint64_t len = strlen(config_json);
        rc = mr_npz_add(&w, "config_json", MR_DT_U1, 1, &len, config_json, e);
    }
    for (size_t i = 0; i < p->n && rc == MR_OK; i++) rc = add_tensor(&w, "", &p->t[i], p->data, e);
    for (size_t i = 0; with_optim && i < p->n && rc == MR_OK; i++) {
        rc = add_tensor(&w, "optim/exp_avg/", &p->t[i], p->m, e);
        if (rc == MR_OK) rc = add_tensor(&w, "optim/exp_avg_sq/", &p->t[i], p->v, e);
        if (rc == MR_OK) {
            char name[MR_NAME_MAX + 32];
            snprintf(name, sizeof name, "optim/step/%s", p->t[i].name);
            rc = mr_npz_add(&w, name, MR_DT_I8, 0, NULL, &p->step[i], e);
        }
    }
    *wp = w;
    return rc;
}

/* ------------------------------------------------------------------ load */

static int is_reserved(const char *name) {
    return strcmp(name, "config_json") == 0 || strcmp(name, "mimrl_format_version") == 0 || strcmp(name, "bert_config_json") == 0 ||
           strncmp(name, "optim/", 6) == 0 || strncmp(name, "trainer/", 8) == 0;
}

static void shape_str(char *buf, size_t n, int ndim, const uint64_t *s64, const size_t *s) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%llu", d ? "," : "", (unsigned long long)(s64 ? s64[d] : s[d]));
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Read member `name` as a float tensor of t's shape into dst (size t->size). */
static int read_tensor(const mr_npz *z, const char *name, const mr_tensor *t, double *dst, int *problems,
                       mr_error *e) {
    long k = mr_npz_find(z, name);
    if (k < 0) {
        (*problems)++;
        return mr_fail_append(e, MR_ESHAPE, "missing '%s'", name);
    }
    mr_array a;
    mr_error ie = {0};
    if (mr_npz_read_index(z, (size_t)k, &a, &ie) != MR_OK) {
        (*problems)++;
        return mr_fail_append(e, ie.code, "%s", ie.msg);
    }
    int ok = a.dtype == MR_DT_F8 || a.dtype == MR_DT_F4;
    if (!ok) {
        (*problems)++;
        mr_fail_append(e, MR_ESHAPE, "'%s' has dtype %s (want <f8 or <f4)", name, mr_dtype_descr(a.dtype));
    } else {
        int same = a.ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = a.shape[d] == t->shape[d];
        if (!same) {
            char fs[96], ms[96];
            shape_str(fs, sizeof fs, a.ndim, a.shape, NULL);
            shape_str(ms, sizeof ms, t->ndim, NULL, t->shape);
            (*problems)++;
            mr_fail_append(e, MR_ESHAPE, "'%s' has shape %s in the file but %s in the model", name, fs, ms);
        } else {
            mr_array_to_f64(&a, dst);
            for (size_t i = 0; i < t->size; i++)
                if (!isfinite(dst[i])) {
                    (*problems)++;
                    mr_fail_append(e, MR_EFORMAT, "'%s' holds a non-finite value at flat index %zu", name, i);
                    break;
                }
        }
    }
    mr_array_free(&a);
    return MR_OK;
}

int mr_params_load(mr_params *p, const char *path, char **config_json, int with_optim, mr_error *e) {
    if (config_json) *config_json = NULL;
    mr_npz z;
    int rc = mr_npz_open(&z, path, e);
    if (rc != MR_OK) return rc;
    mr_error acc = {0};
    int problems = 0;
    long vk = mr_npz_find(&z, "mimrl_format_version");
    if (vk >= 0) {
        mr_array a;
        mr_error ie = {0};
        if (mr_npz_read_index(&z, (size_t)vk, &a, &ie) != MR_OK || a.count != 1 ||
            (a.dtype != MR_DT_I4 && a.dtype != MR_DT_I8)) {
            problems++;
            mr_fail_append(&acc, MR_EFORMAT, "'mimrl_format_version' is not a single integer");
        } else {
            double v;
            mr_array_to_f64(&a, &v);
            if (v != MR_FORMAT_VERSION) {
                problems++;
                mr_fail_append(&acc, MR_EUNSUPPORTED, "format version %g is not supported (this build reads %d)", v, MR_FORMAT_VERSION);
            }
        }
        mr_array_free(&a);
    }
    size_t nbuf = with_optim ? 3 : 1;
    double *tmp = malloc((p->total ? p->total : 1) * nbuf * sizeof(double));
    int64_t *steps = calloc(p->n ? p->n : 1, sizeof *steps);
    if (!tmp || !steps) {
        free(tmp);
        free(steps);
        mr_npz_close(&z);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < p->n; i++) {
        const mr_tensor *t = &p->t[i];
        read_tensor(&z, t->name, t, tmp + t->offset, &problems, &acc);
        if (with_optim) {
            char name[MR_NAME_MAX + 32];
            snprintf(name, sizeof name, "optim/exp_avg/%s", t->name);
            read_tensor(&z, name, t, tmp + p->total + t->offset, &problems, &acc);
            snprintf(name, sizeof name, "optim/exp_avg_sq/%s", t->name);
            read_tensor(&z, name, t, tmp + 2 * p->total + t->offset, &problems, &acc);
            snprintf(name, sizeof name, "optim/step/%s", t->name);
            mr_array a;
            mr_error ie = {0};
            if (mr_npz_read(&z, name, &a, &ie) != MR_OK || a.dtype != MR_DT_I8 || a.count != 1) {
                problems++;
                mr_fail_append(&acc, MR_ESHAPE, "missing or malformed '%s'", name);
            } else {
                memcpy(&steps[i], a.data, 8);
            }
            mr_array_free(&a);
        }
    }
    for (size_t k = 0; k < z.n; k++)
        if (!is_reserved(z.m[k].name) && mr_params_find(p, z.m[k].name) < 0) {
            problems++;
            mr_fail_append(&acc, MR_ESHAPE, "extra '%s' (not a parameter of this model)", z.m[k].name);
        }
    if (problems == 0 && config_json) {
        long ck = mr_npz_find(&z, "config_json");
        if (ck >= 0) {
            mr_array a;
            mr_error ie = {0};
            if (mr_npz_read_index(&z, (size_t)ck, &a, &ie) != MR_OK || a.dtype != MR_DT_U1 || a.ndim != 1) {
                problems++;
                mr_fail_append(&acc, MR_EFORMAT, "'config_json' is not a 1-d |u1 byte array");
            } else {
                char *s = malloc((size_t)a.count + 1);
                if (s) {
                    memcpy(s, a.data, (size_t)a.count);
                    s[a.count] = '\0';
                    if (strlen(s) != a.count) {
                        problems++;
                        mr_fail_append(&acc, MR_EFORMAT, "'config_json' contains a NUL byte");
                        free(s);
                        s = NULL;
                    }
                }
                *config_json = s;
            }
            mr_array_free(&a);
        }
    }
    mr_npz_close(&z);
    if (problems) {
        free(tmp);
        free(steps);
        if (config_json) {
            free(*config_json);
            *config_json = NULL;
        }
        return mr_fail(e, acc.code ? acc.code : MR_ESHAPE, "%s: %d problem%s: %s", path, problems,
                       problems > 1 ? "s" : "", acc.msg);
    }
    memcpy(p->data, tmp, p->total * sizeof(double));
    if (with_optim) {
        memcpy(p->m, tmp + p->total, p->total * sizeof(double));
        memcpy(p->v, tmp + 2 * p->total, p->total * sizeof(double));
        memcpy(p->step, steps, p->n * sizeof *steps);
    }
    free(tmp);
    free(steps);
    return MR_OK;
}
