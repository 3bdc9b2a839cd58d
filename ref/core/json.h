/* json.h — a small reader for flat JSON objects (config_json): string,
 * number, true/false/null values; nested objects and arrays are refused.
 * Values are kept as text (numbers as written, strings unescaped). */
#ifndef MR_JSON_H
#define MR_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ref/core/common.h"

typedef struct {
    char *key, *value;
    int is_string;
} mr_kv;

typedef struct {
    size_t n;
    mr_kv *kv;
} mr_kvlist;

int mr_json_parse_flat(const char *text, mr_kvlist *out, const char *what, mr_error *e);
void mr_kvlist_free(mr_kvlist *l);
/* s as a JSON string literal into b[n]: quotes, backslashes and control
 * characters escaped (\n, \t, \u00XX); truncated, still quoted, to fit. */
void mr_json_quote(char *b, size_t n, const char *s);


/* ------------------------------------------------------------ full JSON */
/* A strict RFC 8259 reader producing a tree, for headers and configs that
 * come from outside (safetensors headers, Hugging Face config.json). The
 * whole text must be valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF); \u escapes are decoded (surrogate pairs joined; a lone
 * surrogate and \u0000 are refused); nesting deeper than max_depth, a
 * duplicate key in any object, and anything after the value other than
 * whitespace are errors naming `what` and the byte offset. Memory is
 * proportional to len. Numbers keep their text (`str`) beside the double. */
typedef enum { MR_JNULL, MR_JBOOL, MR_JNUM, MR_JSTR, MR_JARR, MR_JOBJ } mr_jtype;

typedef struct mr_json {
    mr_jtype type;
    int b;           /* MR_JBOOL */
    double num;      /* MR_JNUM */
    char *str;       /* MR_JSTR (unescaped, NUL-free) and MR_JNUM (as written) */
    size_t n;        /* MR_JARR / MR_JOBJ: number of items */
    struct mr_json *items;
    char **keys;     /* MR_JOBJ: keys[i] names items[i], in file order */
} mr_json;

int mr_json_parse(const char *text, size_t len, int max_depth, mr_json *out, const char *what, mr_error *e);
void mr_json_free(mr_json *v);
/* Member of an object by key, or NULL (also when v is not an object). */
const mr_json *mr_json_get(const mr_json *v, const char *key);
/* A number written as a non-negative integer (digits only) that fits in
 * uint64: 0 and *out set; 1 otherwise. */
int mr_json_u64(const mr_json *v, uint64_t *out);
/* 0 when the n bytes at s are valid UTF-8 (as above), else 1 and *bad = the
 * offset of the first bad byte. */
int mr_utf8_check(const unsigned char *s, size_t n, size_t *bad);

#endif
