/* cli.h — pieces shared by the `mimrl` subcommands (the .c files of ref/cli). */
#ifndef MR_CLI_H
#define MR_CLI_H

#include <stddef.h>

#include "ref/core/fsutil.h"
#include "ref/train/config.h"

typedef struct {
    const char *name; /* "--pred" */
    int takes_value;
    const char *value;
    int seen;
} mr_flag;

/* Parse argv[from..] against the flags; an unknown, repeated or valueless
 * flag prints a message naming it and returns 2. */
int mr_parse_flags(int argc, char **argv, int from, mr_flag *fl, size_t nf, const char *cmd);
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
