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
