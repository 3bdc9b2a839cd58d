/* cli_util.c — flag parsing shared by the mimrl subcommands (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/cli/cli.h"

/* ------------------------------------------------------------------ flags */

int mr_opt_takes_value(const mr_opt *o) {
    return o->kind != MR_OPT_SWITCH && !(o->kind == MR_OPT_CUSTOM && (o->bits & MR_OPT_NOVALUE));
}

const mr_opt *mr_opts_find(const mr_cmd_flags *c, const char *name) {
    for (size_t k = 0; k < c->nopt; k++)
        if (c->opt[k].kind != MR_OPT_HEADING && strcmp(c->opt[k].name, name) == 0) return &c->opt[k];
    return NULL;
}

const char *mr_opts_name(const mr_cmd_flags *c, size_t off) {
    for (size_t k = 0; k < c->nopt; k++)
        if (c->opt[k].kind != MR_OPT_HEADING && c->opt[k].off == off) return c->opt[k].name;
    return "?";
}

int mr_opt_set(const mr_cmd_flags *c, const mr_opt *o, const char *value, void *dst) {
    void *field = (char *)dst + o->off;
    switch (o->kind) {
    case MR_OPT_TEXT: *(const char **)field = value; return 0;
    case MR_OPT_SWITCH: *(int *)field = 1; return 0;
    case MR_OPT_ULONG: return mr_parse_ulong(c->name, o->name, value, (unsigned long *)field);
    case MR_OPT_REAL: return mr_parse_double(c->name, o->name, value, (double *)field);
    case MR_OPT_CUSTOM: return o->set(field, c->name, value);
    case MR_OPT_HEADING: break;
    }
    return 0;
}

int mr_opts_parse(const mr_cmd_flags *c, int argc, char **argv, int from, void *dst) {
    for (size_t k = 0; k < c->nopt; k++)
        if (c->opt[k].kind != MR_OPT_HEADING && c->opt[k].def && mr_opt_set(c, &c->opt[k], c->opt[k].def, dst)) {
            fprintf(stderr, "mimrl %s: internal error: bad default '%s' of %s\n", c->name, c->opt[k].def, c->opt[k].name);
            return 2;
        }
    unsigned char seen[256] = {0};
    for (int i = from; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            mr_opts_help(c, stdout);
            return MR_OPTS_HELP;
        }
        const mr_opt *o = mr_opts_find(c, argv[i]);
        if (!o) {
            fprintf(stderr, "mimrl %s: unknown option '%s' (see 'mimrl %s --help')\n", c->name, argv[i], c->name);
            return 2;
        }
        size_t k = (size_t)(o - c->opt);
        if (k < sizeof seen && seen[k]) {
            fprintf(stderr, "mimrl %s: option '%s' given twice\n", c->name, argv[i]);
            return 2;
        }
        if (k < sizeof seen) seen[k] = 1;
        const char *value = NULL;
        if (mr_opt_takes_value(o)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mimrl %s: option '%s' needs a value\n", c->name, argv[i]);
                return 2;
            }
            value = argv[++i];
        }
        if (mr_opt_set(c, o, value, dst)) return 2;
    }
    return 0;
}

/* Text with '\n' continued at column `indent`. */
static void put_indented(FILE *f, const char *s, int indent) {
    for (; *s; s++) {
        fputc(*s, f);
        if (*s == '\n' && s[1]) fprintf(f, "%*s", indent, "");
    }
}

void mr_opts_help_rows(const mr_opt *opt, size_t nopt, FILE *f) {
    enum { COL = 24 };
    for (size_t k = 0; k < nopt; k++) {
        const mr_opt *o = &opt[k];
        if (o->kind == MR_OPT_HEADING) {
            fputs(o->help, f);
            continue;
        }
        char head[128];
        snprintf(head, sizeof head, "  %s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        int n = 0; /* columns: UTF-8 continuation bytes take none */
        for (const char *p = head; *p; p++) n += ((unsigned char)*p & 0xC0) != 0x80;
        fputs(head, f);
        const char *help = o->help ? o->help : "";
        int def = o->def && mr_opt_takes_value(o) && !strstr(help, "default");
        if (*help || def) {
            if (n >= COL - 1) fprintf(f, "\n%*s", COL, "");
            else fprintf(f, "%*s", COL - n, "");
        }
        put_indented(f, help, COL);
        if (def) fprintf(f, "%s[default %s]", *help ? " " : "", o->def);
        fputc('\n', f);
    }
}

void mr_opts_help(const mr_cmd_flags *c, FILE *f) {
    const char *u = c->usage ? c->usage : "";
    fprintf(f, "usage: mimrl %s ", c->name);
    for (; *u; u++) {
        fputc(*u, f);
        if (*u == '\n') fprintf(f, "       mimrl %s ", c->name);
    }
    fputc('\n', f);
    if (c->about) fputs(c->about, f);
    if (c->nopt) {
        if (c->opt[0].kind != MR_OPT_HEADING) fputs("options:\n", f);
        mr_opts_help_rows(c->opt, c->nopt, f);
    }
    if (c->epilog) fputs(c->epilog, f);
}

int mr_opt_bert_chunk(void *field, const char *cmd, const char *value) {
    char where[64];
    snprintf(where, sizeof where, "mimrl %s", cmd);
    return mr_parse_bert_chunk(value, (size_t *)field, where);
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
