/* cli_util.c — flag parsing shared by the mimrl subcommands (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/cli/cli.h"

/* ------------------------------------------------------------------ flags */

/* Parse argv[from..] against flags; unknown or malformed → message, 2. */
int mr_parse_flags(int argc, char **argv, int from, mr_flag *fl, size_t nf, const char *cmd) {
    for (int i = from; i < argc; i++) {
        size_t k;
        for (k = 0; k < nf; k++)
            if (strcmp(argv[i], fl[k].name) == 0) break;
        if (k == nf) {
            fprintf(stderr, "mimrl %s: unknown option '%s' (see 'mimrl help')\n", cmd, argv[i]);
            return 2;
        }
        if (fl[k].seen) {
            fprintf(stderr, "mimrl %s: option '%s' given twice\n", cmd, argv[i]);
            return 2;
        }
        fl[k].seen = 1;
        if (fl[k].takes_value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mimrl %s: option '%s' needs a value\n", cmd, argv[i]);
                return 2;
            }
            fl[k].value = argv[++i];
        }
    }
    return 0;
}

int mr_parse_ulong(const char *cmd, const char *flagname, const char *s, unsigned long *out) {
    char *end;
    if (!s || !*s || *s == '-') goto bad;
    unsigned long v = strtoul(s, &end, 10);
    if (*end) goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "mimrl %s: %s expects a non-negative integer, got '%s'\n", cmd, flagname, s ? s : "");
    return 2;
}

int mr_parse_double(const char *cmd, const char *flagname, const char *s, double *out) {
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || v != v || v == 1.0 / 0.0 || v == -1.0 / 0.0) {
        fprintf(stderr, "mimrl %s: %s expects a finite number, got '%s'\n", cmd, flagname, s ? s : "");
        return 2;
    }
    *out = v;
    return 0;
}

int mr_parse_bert_chunk(const char *s, size_t *out, const char *where) {
    char *end;
    unsigned long v = s && *s && *s != '-' ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *s == '-' || *end || v < 1 || v > 4096) {
        fprintf(stderr, "%s: --bert_chunk expects samples per chunk in 1 … 4096, got '%s'\n", where, s ? s : "");
        return 2;
    }
    *out = (size_t)v;
    return 0;
}
