/* cli_tokenize.c — `mimrl tokenize`: bert-base-uncased WordPiece ids of each
 * line of stdin (datasets/tokenizer.h), for diffing against another tokenizer. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "ref/cli/cli.h"

typedef struct {
    const char *vocab, *max_length, *pad;
    int tokens, mask;
} tokenize_opts;

static const mr_opt TOKENIZE_OPTS[] = {
    {"--vocab", MR_OPT_TEXT, offsetof(tokenize_opts, vocab), NULL, "FILE", "vocab.txt, one token per line, id = line number (required)",
     NULL, 0},
    {"--max_length", MR_OPT_TEXT, offsetof(tokenize_opts, max_length), NULL, "N",
     "truncate to N tokens including [CLS] and [SEP] (N ≥ 2)", NULL, 0},
    {"--pad", MR_OPT_TEXT, offsetof(tokenize_opts, pad), NULL, "MODE",
     "longest: pad to the longest line (default without --max_length; the\n"
     "SDK/AVEC loaders); max_length: pad to exactly N (default with\n"
     "--max_length; the Dec loaders)", NULL, 0},
    {"--tokens", MR_OPT_SWITCH, offsetof(tokenize_opts, tokens), NULL, NULL, "print the token strings instead of the ids", NULL, 0},
    {"--mask", MR_OPT_SWITCH, offsetof(tokenize_opts, mask), NULL, NULL, "print the attention mask instead of the ids", NULL, 0},
};

const mr_cmd_flags mr_flags_tokenize = {
    "tokenize", "--vocab FILE [--max_length N] [--pad longest|max_length] [--tokens|--mask] < TEXT",
    "one text per input line (UTF-8) → one output line per input line: [CLS] pieces [SEP] and\n"
    "padding, as bert-base-uncased's BertTokenizer gives them (spec §7.6), space-separated.\n"
    "All lines form one batch.\n",
    TOKENIZE_OPTS, MR_OPT_N(TOKENIZE_OPTS), "Invalid UTF-8 is an error naming the line and the byte offset (exit status 2).\n"};

int mr_cmd_tokenize(int argc, char **argv) {
    tokenize_opts o = {0};
    int rc = mr_opts_parse(&mr_flags_tokenize, argc, argv, 2, &o);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    if (!o.vocab) {
        fprintf(stderr, "mimrl tokenize: --vocab FILE is required (see 'mimrl tokenize --help')\n");
        return 2;
    }
    unsigned long max_length = 0;
    if (o.max_length && (mr_parse_ulong("tokenize", "--max_length", o.max_length, &max_length) || max_length < 2)) {
        fprintf(stderr, "mimrl tokenize: --max_length must be an integer ≥ 2 (room for [CLS] and [SEP])\n");
        return 2;
    }
    mr_pad_mode pad = max_length ? MR_PAD_MAX_LENGTH : MR_PAD_LONGEST;
    if (o.pad) {
        if (!strcmp(o.pad, "longest")) pad = MR_PAD_LONGEST;
        else if (!strcmp(o.pad, "max_length")) pad = MR_PAD_MAX_LENGTH;
        else {
            fprintf(stderr, "mimrl tokenize: --pad must be longest or max_length (got '%s')\n", o.pad);
            return 2;
        }
        if (pad == MR_PAD_MAX_LENGTH && !max_length) {
            fprintf(stderr, "mimrl tokenize: --pad max_length needs --max_length N\n");
            return 2;
        }
    }
    if (o.tokens && o.mask) {
        fprintf(stderr, "mimrl tokenize: --tokens and --mask exclude each other\n");
        return 2;
    }

    mr_error e = {0};
    mr_tokenizer t;
    rc = mr_tokenizer_load(&t, o.vocab, &e);
    if (rc != MR_OK) {
        fprintf(stderr, "mimrl tokenize: %s\n", e.msg);
        return rc == MR_ENOMEM ? 1 : 2;
    }
    int64_t **pieces = NULL;
    size_t *n = NULL, B = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    int status = 0;
    while ((got = getline(&line, &lcap, stdin)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') len--;
        if (B == cap) {
            size_t nc = cap ? 2 * cap : 256;
            int64_t **np = realloc(pieces, nc * sizeof *np);
            if (np) pieces = np;
            size_t *nn = np ? realloc(n, nc * sizeof *nn) : NULL;
            if (nn) n = nn;
            if (!np || !nn) {
                fprintf(stderr, "mimrl tokenize: out of memory at line %zu\n", B + 1);
                status = 1;
                break;
            }
            cap = nc;
        }
        mr_error le = {0};
        rc = mr_tokenize(&t, line, len, &pieces[B], &n[B], &le);
        if (rc != MR_OK) {
            fprintf(stderr, "mimrl tokenize: <stdin> line %zu: %s\n", B + 1, le.msg);
            status = rc == MR_ENOMEM ? 1 : 2;
            break;
        }
        B++;
    }
    free(line);
    if (status == 0 && ferror(stdin)) {
        fprintf(stderr, "mimrl tokenize: read error on stdin\n");
        status = 2;
    }
    mr_encoding enc = {0};
    if (status == 0) {
        rc = mr_tokenizer_pack(&t, (const int64_t *const *)pieces, n, B, max_length, pad, &enc, &e);
        if (rc != MR_OK) {
            fprintf(stderr, "mimrl tokenize: %s\n", e.msg);
            status = rc == MR_ENOMEM ? 1 : 2;
        }
    }
    for (size_t b = 0; status == 0 && b < enc.B; b++) {
        for (size_t j = 0; j < enc.L; j++) {
            int64_t id = enc.ids[b * enc.L + j];
            if (j) putchar(' ');
            if (o.tokens) fputs(mr_vocab_token(t.vocab, id, NULL), stdout);
            else if (o.mask) printf("%lld", (long long)enc.att_mask[b * enc.L + j]);
            else printf("%lld", (long long)id);
        }
        putchar('\n');
    }
    if (status == 0 && (fflush(stdout) || ferror(stdout))) {
        fprintf(stderr, "mimrl tokenize: write error on stdout\n");
        status = 1;
    }
    mr_encoding_free(&enc);
    for (size_t b = 0; b < B; b++) free(pieces[b]);
    free(pieces);
    free(n);
    mr_tokenizer_free(&t);
    return status;
}
