/* json.c — see json.h. */
#include "ref/core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ws(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

/* 4 hex digits, or 0x110000 (invalid) */
static unsigned long hex4(const char *h) {
    unsigned long u = 0;
    for (int i = 0; i < 4; i++) {
        char c = h[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return 0x110000;
        u = u * 16 + (unsigned long)d;
    }
    return u;
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
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'r': ch = '\r'; break;
            case 'u': { /* \uXXXX (a surrogate pair for beyond the BMP) → UTF-8 */
                unsigned long u = hex4(*p + 1);
                if (u >= 0xD800 && u < 0xDC00 && (*p)[5] == '\\' && (*p)[6] == 'u') {
                    unsigned long lo = hex4(*p + 7);
                    if (lo >= 0xDC00 && lo < 0xE000) u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00), *p += 6;
                    else u = 0x110000;
                }
                if (u == 0 || u > 0x10FFFF || (u >= 0xD800 && u < 0xE000)) {
                    free(s);
                    return NULL;
                }
                *p += 4;
                char utf[4];
                size_t k = u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
                if (k == 1) utf[0] = (char)u;
                else {
                    for (size_t j = k - 1; j > 0; j--, u >>= 6) utf[j] = (char)(0x80 | (u & 0x3F));
                    utf[0] = (char)((k == 2 ? 0xC0 : k == 3 ? 0xE0 : 0xF0) | u);
                }
                if (n + k + 1 > cap) {
                    char *q = realloc(s, cap = 2 * cap + k);
                    if (!q) {
                        free(s);
                        return NULL;
                    }
                    s = q;
                }
                memcpy(s + n, utf, k - 1);
                n += k - 1;
                ch = utf[k - 1];
                break;
            }
            default: free(s); return NULL;
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

void mr_json_quote(char *b, size_t n, const char *s) {
    size_t k = 0;
    if (n < 3) {
        if (n) b[0] = 0;
        return;
    }
    b[k++] = '"';
    for (; *s && k + 8 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') b[k++] = '\\', b[k++] = (char)c;
        else if (c == '\n') b[k++] = '\\', b[k++] = 'n';
        else if (c == '\t') b[k++] = '\\', b[k++] = 't';
        else if (c < 0x20) k += (size_t)snprintf(b + k, n - k, "\\u%04x", c);
        else b[k++] = (char)c;
    }
    b[k++] = '"';
    b[k] = 0;
}

/* ------------------------------------------------------------ full JSON */

int mr_utf8_check(const unsigned char *s, size_t n, size_t *bad) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            *bad = i;
            return 1;
        }
        if (n - i <= k) {
            *bad = i;
            return 1;
        }
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) {
                *bad = i;
                return 1;
            }
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad = i;
            return 1;
        }
        i += k + 1;
    }
    return 0;
}

typedef struct {
    const char *s;
    size_t len, pos;
    int max_depth;
    const char *what;
    mr_error *e;
} jp;

static int jfail(jp *p, const char *msg) {
    return mr_fail(p->e, MR_EFORMAT, "%s: malformed JSON at byte %zu: %s", p->what, p->pos, msg);
}

static void jws(jp *p) {
    while (p->pos < p->len &&
           (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int jhex4(jp *p, uint32_t *out) {
    if (p->len - p->pos < 4) return 1;
    unsigned long v = hex4(p->s + p->pos);
    if (v > 0xFFFF) return 1;
    p->pos += 4;
    *out = (uint32_t)v;
    return 0;
}

/* A string at p->pos (the opening quote); *out malloc'd. The output is never
 * longer than the input, so one allocation of the remaining length bounds it
 * (shrunk afterwards). */
static int jstring(jp *p, char **out) {
    size_t start = ++p->pos, end = start;
    while (end < p->len && p->s[end] != '"') end += (p->s[end] == '\\' && end + 1 < p->len) ? 2 : 1;
    if (end >= p->len) return jfail(p, "unterminated string");
    char *b = malloc(end - start + 1);
    if (!b) return mr_fail(p->e, MR_ENOMEM, "%s: out of memory", p->what);
    size_t n = 0;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            free(b);
            return jfail(p, "control character inside a string");
        }
        if (c != '\\') {
            b[n++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        char x = p->s[p->pos++];
        switch (x) {
        case '"': b[n++] = '"'; break;
        case '\\': b[n++] = '\\'; break;
        case '/': b[n++] = '/'; break;
        case 'b': b[n++] = '\b'; break;
        case 'f': b[n++] = '\f'; break;
        case 'n': b[n++] = '\n'; break;
        case 'r': b[n++] = '\r'; break;
        case 't': b[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (jhex4(p, &cp)) {
                free(b);
                return jfail(p, "bad \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    free(b);
                    return jfail(p, "lone surrogate in a \\u escape");
                }
                p->pos += 2;
                if (jhex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(b);
                    return jfail(p, "lone surrogate in a \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(b);
                return jfail(p, "lone surrogate in a \\u escape");
            } else if (cp == 0) {
                free(b);
                return jfail(p, "\\u0000 inside a string");
            }
            /* 6 (or 12) input bytes give at most 3 (or 4) output bytes. */
            if (cp < 0x80) b[n++] = (char)cp;
            else if (cp < 0x800) {
                b[n++] = (char)(0xC0 | (cp >> 6));
                b[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                b[n++] = (char)(0xE0 | (cp >> 12));
                b[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                b[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                b[n++] = (char)(0xF0 | (cp >> 18));
                b[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                b[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                b[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: free(b); p->pos--; return jfail(p, "bad escape");
        }
    }
    p->pos++; /* closing quote */
    b[n] = '\0';
    *out = b;
    return MR_OK;
}

static int jnumber(jp *p, mr_json *v) {
    size_t st = p->pos;
    const char *s = p->s;
    if (p->pos < p->len && s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len) return jfail(p, "bad number");
    if (s[p->pos] == '0') p->pos++;
    else if (s[p->pos] >= '1' && s[p->pos] <= '9')
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    else return jfail(p, "bad number");
    if (p->pos < p->len && s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || s[p->pos] < '0' || s[p->pos] > '9') return jfail(p, "bad number");
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || s[p->pos] < '0' || s[p->pos] > '9') return jfail(p, "bad number");
        while (p->pos < p->len && s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    size_t n = p->pos - st;
    v->str = malloc(n + 1);
    if (!v->str) return mr_fail(p->e, MR_ENOMEM, "%s: out of memory", p->what);
    memcpy(v->str, s + st, n);
    v->str[n] = '\0';
    v->num = strtod(v->str, NULL);
    v->type = MR_JNUM;
    return MR_OK;
}

static int keycmp(const void *a, const void *b) { return strcmp(**(char *const *const *)a, **(char *const *const *)b); }

static int jvalue(jp *p, mr_json *v, int depth);

static int jgrow(jp *p, mr_json *v, size_t *cap, int obj) {
    if (v->n < *cap) return MR_OK;
    size_t nc = *cap ? 2 * *cap : 4;
    mr_json *it = realloc(v->items, nc * sizeof *it);
    if (!it) return mr_fail(p->e, MR_ENOMEM, "%s: out of memory", p->what);
    v->items = it;
    if (obj) {
        char **k = realloc(v->keys, nc * sizeof *k);
        if (!k) return mr_fail(p->e, MR_ENOMEM, "%s: out of memory", p->what);
        v->keys = k;
    }
    *cap = nc;
    return MR_OK;
}

static int jcontainer(jp *p, mr_json *v, int depth, int obj) {
    v->type = obj ? MR_JOBJ : MR_JARR;
    if (depth >= p->max_depth) {
        mr_fail(p->e, MR_EFORMAT, "%s: JSON nested deeper than %d levels at byte %zu", p->what, p->max_depth, p->pos);
        return MR_EFORMAT;
    }
    char close = obj ? '}' : ']';
    size_t cap = 0;
    p->pos++;
    jws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return MR_OK;
    }
    for (;;) {
        int rc = jgrow(p, v, &cap, obj);
        if (rc) return rc;
        char *key = NULL;
        if (obj) {
            jws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return jfail(p, "expected a quoted key");
            if ((rc = jstring(p, &key)) != MR_OK) return rc;
            jws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                return jfail(p, "expected ':' after a key");
            }
            p->pos++;
        }
        mr_json *it = &v->items[v->n];
        memset(it, 0, sizeof *it);
        if (obj) v->keys[v->n] = key;
        v->n++;
        if ((rc = jvalue(p, it, depth + 1)) != MR_OK) return rc;
        jws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    if (obj && v->n > 1) { /* duplicate keys: sort pointers, compare neighbours */
        char ***idx = malloc(v->n * sizeof *idx);
        if (!idx) return mr_fail(p->e, MR_ENOMEM, "%s: out of memory", p->what);
        for (size_t i = 0; i < v->n; i++) idx[i] = &v->keys[i];
        qsort(idx, v->n, sizeof *idx, keycmp);
        for (size_t i = 1; i < v->n; i++)
            if (strcmp(*idx[i - 1], *idx[i]) == 0) {
                int rc = mr_fail(p->e, MR_EFORMAT, "%s: duplicate key '%.200s' in a JSON object", p->what, *idx[i]);
                free(idx);
                return rc;
            }
        free(idx);
    }
    return MR_OK;
}

static int jlit(jp *p, const char *lit) {
    size_t n = strlen(lit);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0) return 1;
    p->pos += n;
    return 0;
}

static int jvalue(jp *p, mr_json *v, int depth) {
    jws(p);
    if (p->pos >= p->len) return jfail(p, "unexpected end of input");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') return jcontainer(p, v, depth, c == '{');
    if (c == '"') {
        v->type = MR_JSTR;
        return jstring(p, &v->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return jnumber(p, v);
    if (!jlit(p, "true")) return v->type = MR_JBOOL, v->b = 1, MR_OK;
    if (!jlit(p, "false")) return v->type = MR_JBOOL, v->b = 0, MR_OK;
    if (!jlit(p, "null")) return v->type = MR_JNULL, MR_OK;
    return jfail(p, "unexpected character");
}

int mr_json_parse(const char *text, size_t len, int max_depth, mr_json *out, const char *what, mr_error *e) {
    memset(out, 0, sizeof *out);
    size_t bad;
    if (mr_utf8_check((const unsigned char *)text, len, &bad))
        return mr_fail(e, MR_EFORMAT, "%s: not valid UTF-8 (byte %zu)", what, bad);
    jp p = {text, len, 0, max_depth, what, e};
    int rc = jvalue(&p, out, 0);
    if (rc == MR_OK) {
        jws(&p);
        if (p.pos != len) rc = jfail(&p, "trailing characters after the JSON value");
    }
    if (rc != MR_OK) mr_json_free(out);
    return rc;
}

void mr_json_free(mr_json *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        mr_json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const mr_json *mr_json_get(const mr_json *v, const char *key) {
    if (!v || v->type != MR_JOBJ) return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

int mr_json_u64(const mr_json *v, uint64_t *out) {
    if (!v || v->type != MR_JNUM || !v->str[0]) return 1;
    uint64_t x = 0;
    for (const char *s = v->str; *s; s++) {
        if (*s < '0' || *s > '9') return 1;
        if (mr_mul_overflow(x, 10, &x) || mr_add_overflow(x, (uint64_t)(*s - '0'), &x)) return 1;
    }
    *out = x;
    return 0;
}
