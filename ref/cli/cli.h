/* cli.h — pieces shared by the `mimrl` subcommands (the .c files of ref/cli). */
#ifndef MR_CLI_H
#define MR_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "ref/core/fsutil.h"
#include "ref/train/config.h"

/* ------------------------------------------------------------ flags
 *
 * Every subcommand declares its flags once, in a table of mr_opt rows: the
 * name, the type, where the value goes (offsetof into the command's own
 * options struct), the default and the help text. mr_opts_parse fills the
 * struct from the defaults and then from argv; mr_opts_help prints
 * `mimrl CMD --help` from the same table. */

typedef enum {
    MR_OPT_TEXT,    /* const char *: the value as given (NULL when absent and no default) */
    MR_OPT_SWITCH,  /* int: 1 when given; takes no value */
    MR_OPT_ULONG,   /* unsigned long: a non-negative whole number */
    MR_OPT_REAL,    /* double: a finite number */
    MR_OPT_CUSTOM,  /* set(field, cmd, value) checks the value and stores it */
    MR_OPT_HEADING  /* not a flag: a paragraph of --help between the flags (help) */
} mr_opt_type;

typedef struct mr_opt {
    const char *name;  /* "--pred" */
    mr_opt_type kind;
    size_t off;        /* offsetof(options struct, field) */
    const char *def;   /* the default, as command-line text, applied before argv (NULL: none) */
    const char *arg;   /* --help: the value's placeholder ("FILE"); NULL for a switch */
    const char *help;  /* --help: what it does; '\n' continues on an indented line */
    /* CUSTOM: parse value into field (the options struct + off; NULL value
     * for a switch row); 0, or 2 after a message on stderr naming cmd and
     * the flag */
    int (*set)(void *field, const char *cmd, const char *value);
    int bits; /* MR_OPT_NOVALUE, MR_OPT_CONFIG */
} mr_opt;
#define MR_OPT_NOVALUE 1 /* CUSTOM: takes no value (a switch with a hook) */
#define MR_OPT_CONFIG 2  /* train: also a key of a run's config.json (read back on --resume) */

/* One subcommand's command line: `mimrl NAME USAGE`, the about text, its
 * flags, an epilog. */
typedef struct {
    const char *name;   /* "metrics" */
    const char *usage;  /* what follows "mimrl NAME" on the usage line(s) ('\n' starts another "mimrl NAME" line) */
    const char *about;  /* paragraph(s) after the usage line (NULL: none) */
    const mr_opt *opt;
    size_t nopt;
    const char *epilog; /* text after the flags (NULL: none) */
} mr_cmd_flags;

#define MR_OPT_N(table) (sizeof(table) / sizeof((table)[0]))
#define MR_OPTS_HELP (-1) /* mr_opts_parse: --help was given and printed */

/* Defaults, then argv[from..] into dst. Returns 0; MR_OPTS_HELP after
 * printing --help (or -h) to stdout; 2 after a message on stderr naming
 * the command and the flag (unknown, given twice, value missing or bad). */
int mr_opts_parse(const mr_cmd_flags *c, int argc, char **argv, int from, void *dst);
/* The row of flag name ("--pred") in c, or NULL. */
const mr_opt *mr_opts_find(const mr_cmd_flags *c, const char *name);
/* The flag name of the row whose value lands at offset off, or "?". */
const char *mr_opts_name(const mr_cmd_flags *c, size_t off);
/* 1 if row o takes a value on the command line. */
int mr_opt_takes_value(const mr_opt *o);
/* Store one value (NULL for a switch) of row o into dst; 0 or 2 (message). */
int mr_opt_set(const mr_cmd_flags *c, const mr_opt *o, const char *value, void *dst);
/* `mimrl NAME --help`, from the table. */
void mr_opts_help(const mr_cmd_flags *c, FILE *f);
/* The flag rows of --help alone (for commands that print more tables). */
void mr_opts_help_rows(const mr_opt *opt, size_t nopt, FILE *f);

/* The flag specs of commands whose parser lives in another file. */
extern const mr_cmd_flags mr_flags_train, mr_flags_eval, mr_flags_synth, mr_flags_estimate, mr_flags_verify_estimators,
    mr_flags_verify_peer, mr_flags_oracle, mr_flags_conform, mr_flags_tokenize, mr_flags_bert_init, mr_flags_bert_info;

/* --bert_chunk as an MR_OPT_CUSTOM setter: a size_t field. */
int mr_opt_bert_chunk(void *field, const char *cmd, const char *value);

int mr_parse_ulong(const char *cmd, const char *flagname, const char *s, unsigned long *out);
int mr_parse_double(const char *cmd, const char *flagname, const char *s, double *out);
/* --bert_chunk N: 1 … 4096 samples per BERT chunk; 2 (message on stderr
 * naming `where`) otherwise. */
int mr_parse_bert_chunk(const char *s, size_t *out, const char *where);

int mr_cmd_estimate(int argc, char **argv);
int mr_cmd_verify_estimators(int argc, char **argv);
int mr_cmd_verify_peer(int argc, char **argv); /* cli_estimate.c */
int mr_cmd_synth(int argc, char **argv);
int mr_cmd_oracle(int argc, char **argv);
int mr_cmd_train(int argc, char **argv);
int mr_cmd_eval(int argc, char **argv);
int mr_cmd_tokenize(int argc, char **argv);
/* conformance suite for ports (cli_conform.c) */
int mr_cmd_conform(int argc, char **argv);
/* bert-init, bert-info (cli_bert.c) */
int mr_cmd_bert(int argc, char **argv);

/* schema check and summary of a mimrl-npz split; 0 valid, 2 invalid */
int mr_info_dataset(const char *path);

#endif
