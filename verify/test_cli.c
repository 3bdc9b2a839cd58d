/* test_cli.c — the `mimrl` command line as a whole (ref/cli): `mimrl help`
 * lists every command, `mimrl CMD --help` lists every flag of CMD, a bad
 * flag or value is an error (exit status 2) naming the flag and the
 * command, and --resume reads a run's config.json whole, however long.
 *
 * The lists below are the test's own, written from the README's command
 * table and the flags the commands have always accepted, never read from
 * the code under test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verify/helpers.h"

static const char *const COMMANDS[] = {"train", "eval", "demo", "info", "synth", "metrics", "estimate", "verify-estimators",
                                       "verify-peer", "oracle", "conform", "tokenize", "bert-init", "bert-info", "blas",
                                       "version", "help"};

static const struct {
    const char *cmd, *flags;
} FLAGS[] = {
    {"train", "--data --out --resume --overwrite --preset --bert --text_input --bert_pad --bert_weights --bert_chunk "
              "--batch_size --epochs_num --learning_rate --seed --d_hiddens"},
    {"eval", "--checkpoint --data --split --json --bert --bert_pad --bert_chunk"},
    {"demo", "--out --seed --epochs"},
    {"synth", "--like --out --seed --mix --sigma-y --sigma-o --sigma-f --n-train --n-valid --n-test --max-frames "
              "--max-words --mc-samples --redundancy --unique-t --unique-a --unique-v --synergy-ta --synergy-tv "
              "--synergy-av --obs-noise --truth-only"},
    {"metrics", "--pred --true --task --json --rmse-scale"},
    {"estimate", "--preset --dist --bound --critic --baseline --mi --steps --batch --d --lr --hidden --embed --layers "
                 "--smile-clip --alpha-logit --interp-per-row --k --n-train --n-eval --epochs --head --no-fp --seed --csv "
                 "--data --x --y --z --method --seeds --json --no-standardize --test-frac --eval-every --patience "
                 "--cmi-batch --cmi-hidden --cmi-lr --knn"},
    {"verify-estimators", "--out --quick --seeds"},
    {"verify-peer", "--out --quick --seeds --n --tasks --methods --label"},
    {"oracle", "--checkpoint --batch --out --bert_chunk --dump"},
    {"conform", "--port --suite --dtype --report --seed --work --timeout --only --list"},
    {"tokenize", "--vocab --max_length --pad --tokens --mask"},
    {"bert-init", "--layers --hidden --heads --intermediate --vocab-from --seed --out --max-positions"},
};
enum { NFLAGS = sizeof FLAGS / sizeof FLAGS[0] };

/* word occurs in text as a whole token (not as the prefix of a longer flag) */
static int has_word(const char *text, const char *word) {
    size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        char before = p == text ? ' ' : p[-1], after = p[n];
        int wb = !(before == '-' || (before >= 'a' && before <= 'z') || before == '_');
        int wa = !(after == '-' || after == '_' || (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9'));
        if (wb && wa) return 1;
    }
    return 0;
}

Test(cli, help_lists_every_command) {
    static char out[1 << 16];
    cr_assert(t_run_cli("help", out, sizeof out) == 0, "%s", out);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        cr_expect(has_word(out, COMMANDS[i]), "mimrl help does not list '%s':\n%s", COMMANDS[i], out);
    /* no arguments: the same list on stderr, exit status 2 */
    static char out2[1 << 16];
    cr_assert(t_run_cli("", out2, sizeof out2) == 2);
    cr_assert(has_word(out2, "bert-init") && has_word(out2, "verify-peer"), "%s", out2);
}

/* The README's command table has a row for every command (tests run in the
 * repository's root, as make test does). */
Test(cli, readme_command_table_has_every_command) {
    size_t n;
    char *readme = (char *)t_read_file("README.md", &n);
    cr_assert(readme, "README.md not readable from the working directory");
    readme = realloc(readme, n + 1);
    readme[n] = 0;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++) {
        char row[64];
        snprintf(row, sizeof row, "| `mimrl %s", COMMANDS[i]);
        const char *p = strstr(readme, row);
        cr_expect(p && (p[strlen(row)] == ' ' || p[strlen(row)] == '`'), "README's command table has no row %s", row);
    }
    free(readme);
}

Test(cli, every_command_help_lists_its_flags) {
    static char out[1 << 18];
    for (size_t i = 0; i < NFLAGS; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s --help", FLAGS[i].cmd);
        int rc = t_run_cli(args, out, sizeof out);
        cr_expect(rc == 0, "mimrl %s: exit status %d:\n%s", args, rc, out);
        if (rc) continue;
        char fl[2048];
        snprintf(fl, sizeof fl, "%s", FLAGS[i].flags);
        for (char *f = strtok(fl, " "); f; f = strtok(NULL, " "))
            cr_expect(has_word(out, f), "mimrl %s --help does not list %s:\n%s", FLAGS[i].cmd, f, out);
    }
    /* -h is --help too, and `mimrl help CMD` is `mimrl CMD --help` */
    static char out2[1 << 18];
    cr_assert(t_run_cli("demo -h", out, sizeof out) == 0, "%s", out);
    cr_assert(t_run_cli("help demo", out2, sizeof out2) == 0, "%s", out2);
    cr_assert(strcmp(out, out2) == 0 && has_word(out, "--epochs"), "%s\n---\n%s", out, out2);
}

Test(cli, unknown_flag_names_flag_and_command) {
    static char out[1 << 16];
    for (size_t i = 0; i < NFLAGS; i++) {
        char args[256];
        snprintf(args, sizeof args, "%s --frobnicate 3", FLAGS[i].cmd);
        int rc = t_run_cli(args, out, sizeof out);
        cr_expect(rc == 2 && strstr(out, "--frobnicate") && strstr(out, FLAGS[i].cmd), "mimrl %s: exit %d:\n%s", args, rc, out);
    }
    cr_assert(t_run_cli("frobnicate", out, sizeof out) == 2 && strstr(out, "frobnicate"), "%s", out);
}

Test(cli, bad_value_names_the_flag) {
    static const struct {
        const char *args, *flag;
    } BAD[] = {
        {"demo --epochs many", "--epochs"},
        {"demo --seed -1", "--seed"},
        {"metrics --pred p.npy --true y.npy --rmse-scale x", "--rmse-scale"},
        {"metrics --pred p.npy --true y.npy --task nosuch", "--task"},
        {"synth --seed x", "--seed"},
        {"synth --sigma-y abc", "--sigma-y"},
        {"synth --n-train 0", "--n-train"},
        {"synth --like nosuch", "--like"},
        {"tokenize --vocab v.txt --max_length x", "--max_length"},
        {"estimate --steps x", "--steps"},
        {"estimate --data d.npz --x a --y b --seeds x", "--seeds"},
        {"verify-estimators --seeds x", "--seeds"},
        {"verify-peer --n x", "--n"},
        {"conform --seed x", "--seed"},
        {"conform --timeout -3", "--timeout"},
        {"oracle --checkpoint a --batch b --out c --bert_chunk 0", "--bert_chunk"},
        {"eval --checkpoint a --data b --bert_chunk x", "--bert_chunk"},
        {"train --batch_size many", "--batch_size"},
        {"train --bert_chunk 0", "--bert_chunk"},
        {"bert-init --layers x --hidden 8 --out d", "--layers"},
    };
    static char out[1 << 16];
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        int rc = t_run_cli(BAD[i].args, out, sizeof out);
        cr_expect(rc == 2 && strstr(out, BAD[i].flag), "mimrl %s: exit %d, expected 2 and a message naming %s:\n%s", BAD[i].args, rc,
                  BAD[i].flag, out);
    }
    /* a missing value and a repeated flag */
    cr_assert(t_run_cli("demo --seed", out, sizeof out) == 2 && strstr(out, "--seed") && strstr(out, "demo"), "%s", out);
    cr_assert(t_run_cli("metrics --json --json", out, sizeof out) == 2 && strstr(out, "--json") && strstr(out, "metrics"), "%s", out);
}

/* A run's config.json longer than 1 MiB (here: padded with whitespace, as
 * an editor or a long path list could make it) is read whole on --resume;
 * the old reader cut it at 1 MiB and the resume failed on broken JSON. */
Test(cli, resume_reads_a_config_json_above_1_mib, .timeout = 300) {
    char prefix[512], run[512], args[4096], path[700];
    static char out[1 << 16];
    t_path(prefix, sizeof prefix, "cli_d");
    snprintf(args, sizeof args,
             "synth --like mosi --out %s --n-train 64 --n-valid 16 --n-test 16 --max-frames 8 --max-words 4 --mc-samples 50", prefix);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    t_path(run, sizeof run, "cli_run");
    snprintf(args, sizeof args,
             "train --data %s --out %s --epochs_num 1 --d_common 4 --time_len 4 --d_hiddens 2-3-4=2-3-4 --d_outs 2-3-4=2-3-4 "
             "--res_project 1-1 --batch_size 32 --stage1_n 1 --seed 1",
             prefix, run);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    snprintf(path, sizeof path, "%s/config.json", run);
    size_t n;
    unsigned char *cfg = t_read_file(path, &n);
    cr_assert(cfg && n > 2 && cfg[0] == '{');
    size_t pad = (1u << 20) + 4096, m = n + pad;
    char *big = malloc(m);
    cr_assert(big);
    big[0] = '{';
    memset(big + 1, ' ', pad);
    memcpy(big + 1 + pad, cfg + 1, n - 1);
    cr_assert(t_write_file(path, big, m) == 0);
    free(big);
    free(cfg);
    snprintf(args, sizeof args, "train --resume %s --epochs_num 2", run);
    int rc = t_run_cli(args, out, sizeof out);
    cr_assert(rc == 0, "resume with a %zu-byte config.json: exit %d:\n%s", m, rc, out);
}
