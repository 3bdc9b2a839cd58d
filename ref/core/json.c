/* json.c — see json.h. */
#include "ref/core/json.h"

#include <stdlib.h>
#include <string.h>

static void ws(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

static char *str(const char **p) {
    if (**p != '"') return NULL;
    (*p)++;
    size_t cap = 32, n = 0;
    char *s = malloc(cap);
    while (s && **p && **p != '"') {
        char ch = **p;
        if (ch == '\\') {
            (*p)++;
            switch (**p) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            default: free(s); return NULL; /* \u escapes are not needed for flags */
            }
        }
        if (n + 2 > cap) {
            char *q = realloc(s, cap *= 2);
            if (!q) {
                free(s);
                return NULL;
            }
            s = q;
        }
        s[n++] = ch;
        (*p)++;
    }
    if (!s || **p != '"') {
        free(s);
        return NULL;
    }
    (*p)++;
    s[n] = 0;
    return s;
}

void mr_kvlist_free(mr_kvlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->kv[i].key), free(l->kv[i].value);
    free(l->kv);
    l->kv = NULL;
    l->n = 0;
}

int mr_json_parse_flat(const char *text, mr_kvlist *out, const char *what, mr_error *e) {
    out->n = 0;
    out->kv = NULL;
    const char *p = text;
    ws(&p);
    if (*p != '{') return mr_fail(e, MR_EFORMAT, "%s: not a JSON object", what);
    p++;
    ws(&p);
    if (*p == '}') return MR_OK;
    for (;;) {
        ws(&p);
        char *k = str(&p);
        if (!k) {
            mr_kvlist_free(out);
            return mr_fail(e, MR_EFORMAT, "%s: expected a quoted key at offset %ld", what, (long)(p - text));
        }
        ws(&p);
        if (*p != ':') {
            mr_fail(e, MR_EFORMAT, "%s: expected ':' after key '%s'", what, k);
            free(k);
            mr_kvlist_free(out);
            return MR_EFORMAT;
        }
        p++;
        ws(&p);
        char *v = NULL;
        int is_str = 0;
        if (*p == '"') {
            v = str(&p);
            is_str = 1;
        } else if (*p == '{' || *p == '[') {
            mr_fail(e, MR_EFORMAT, "%s: key '%s' holds an object or array; only flat values are accepted", what, k);
            free(k);
            mr_kvlist_free(out);
            return MR_EFORMAT;
        } else {
            const char *st = p;
            while (*p && *p != ',' && *p != '}' && *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') p++;
            v = malloc((size_t)(p - st) + 1);
            if (v) {
                memcpy(v, st, (size_t)(p - st));
                v[p - st] = 0;
            }
        }
        if (!v || (!is_str && !*v)) {
            free(k);
            free(v);
            mr_kvlist_free(out);
            return mr_fail(e, MR_EFORMAT, "%s: bad value at offset %ld", what, (long)(p - text));
        }
        mr_kv *nk = realloc(out->kv, (out->n + 1) * sizeof *nk);
        if (!nk) {
            free(k);
            free(v);
            mr_kvlist_free(out);
            return mr_fail(e, MR_ENOMEM, "out of memory");
        }
        out->kv = nk;
        out->kv[out->n++] = (mr_kv){k, v, is_str};
        ws(&p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == '}') break;
        mr_kvlist_free(out);
        return mr_fail(e, MR_EFORMAT, "%s: expected ',' or '}' at offset %ld", what, (long)(p - text));
    }
    return MR_OK;
}
