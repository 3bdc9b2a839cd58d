/* json.h — a small reader for flat JSON objects (config_json): string,
 * number, true/false/null values; nested objects and arrays are refused.
 * Values are kept as text (numbers as written, strings unescaped). */
#ifndef MR_JSON_H
#define MR_JSON_H

#include <stddef.h>

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

#endif
