/* test_tokenizer.c — datasets/tokenizer (bert-base-uncased WordPiece, spec
 * §7.6) and `mimrl tokenize` (ref/cli/cli_tokenize.c).
 *
 * The vocabulary is written by the test: line 0 [PAD], lines 1–99
 * [unused0..98], 100 [UNK], 101 [CLS], 102 [SEP], 103 [MASK] (the
 * bert-base-uncased ids of the specials), then WORDS[] from line 104. Every
 * expectation below is a list of token strings derived by hand from the
 * steps of HF's BasicTokenizer/WordpieceTokenizer; the test turns them into
 * ids with its own table (104 + position in WORDS), never with the code
 * under test. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/tokenizer.h"
#include "verify/helpers.h"

enum { PAD = 0, UNK = 100, CLS = 101, SEP = 102, MASK = 103, FIRST = 104 };

static const char *const WORDS[] = {
    "hello", ",", "world", "!", "cafe", "naive", "un", "##aff", "##able", "中", "国", "a", "b", "あ", "##い", "豈",
    "¿", "que", "?", "—", "“", "”", "$", "+", "##€", "x", "##x", "i", "οδοσ", "[", "]", "sep", "·", "##ः"};
enum { NWORDS = sizeof WORDS / sizeof WORDS[0] };

/* The test's own id table: specials by their line, words by position. */
static long long id_of(const char *tok) {
    if (!strcmp(tok, "[PAD]")) return PAD;
    if (!strcmp(tok, "[UNK]")) return UNK;
    if (!strcmp(tok, "[CLS]")) return CLS;
    if (!strcmp(tok, "[SEP]")) return SEP;
    if (!strcmp(tok, "[MASK]")) return MASK;
    for (int i = 0; i < NWORDS; i++)
        if (!strcmp(tok, WORDS[i])) return FIRST + i;
    cr_assert_fail("test bug: '%s' is not in the test vocabulary", tok);
    return -1;
}

/* Write the vocabulary (optionally without one special) and return its path. */
static void write_vocab(char *path, size_t n, const char *name, const char *skip) {
    t_path(path, n, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fputs(skip && !strcmp(skip, "[PAD]") ? "[unusedP]\n" : "[PAD]\n", f);
    for (int i = 0; i < 99; i++) fprintf(f, "[unused%d]\n", i);
    const char *sp[] = {"[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (int k = 0; k < 4; k++) fprintf(f, "%s\n", skip && !strcmp(skip, sp[k]) ? "[unusedS]" : sp[k]);
    for (int i = 0; i < NWORDS; i++) fprintf(f, "%s\n", WORDS[i]);
    cr_assert(fclose(f) == 0);
}

static mr_tokenizer tok;

static void setup(void) {
    char path[512];
    write_vocab(path, sizeof path, "vocab.txt", NULL);
    mr_error e;
    cr_assert(mr_tokenizer_load(&tok, path, &e) == MR_OK, "%s", e.msg);
}
static void teardown(void) { mr_tokenizer_free(&tok); }

/* Tokenize text[0..len) and compare with the NULL-terminated token list. */
static void expect_n(const char *text, size_t len, ...) {
    long long want[512];
    size_t nw = 0;
    va_list ap;
    va_start(ap, len);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;) want[nw++] = id_of(s);
    va_end(ap);
    int64_t *ids;
    size_t n;
    mr_error e;
    cr_assert(mr_tokenize(&tok, text, len, &ids, &n, &e) == MR_OK, "'%s': %s", text, e.msg);
    char got[4096] = "";
    for (size_t i = 0; i < n && strlen(got) < 4000; i++) snprintf(got + strlen(got), 64, " %lld", (long long)ids[i]);
    cr_assert(n == nw, "'%s': %zu pieces, want %zu (got%s)", text, n, nw, got);
    for (size_t i = 0; i < n; i++) cr_assert(ids[i] == want[i], "'%s': piece %zu is %lld, want %lld (got%s)", text, i, (long long)ids[i], want[i], got);
    free(ids);
}
#define EXPECT(lit, ...) expect_n(lit, sizeof(lit) - 1, __VA_ARGS__, (const char *)NULL)
#define EXPECT_NONE(lit) expect_n(lit, sizeof(lit) - 1, (const char *)NULL)

TestSuite(tokenizer, .init = setup, .fini = teardown);

Test(tokenizer, special_ids_from_the_vocab) {
    cr_assert(tok.pad_id == PAD && tok.unk_id == UNK && tok.cls_id == CLS && tok.sep_id == SEP && tok.mask_id == MASK);
    cr_assert(mr_vocab_size(tok.vocab) == FIRST + NWORDS);
}

Test(tokenizer, ascii_and_punctuation) {
    EXPECT("Hello, world!", "hello", ",", "world", "!");
    EXPECT("hello,world", "hello", ",", "world");
    /* every ASCII range counts, also $ (Sc), + (Sm), [ ] (Ps/Pe) */
    EXPECT("a$b+a", "a", "$", "b", "+", "a");
    EXPECT("[hello]", "[", "hello", "]");
}

Test(tokenizer, lower_case_and_accents) {
    EXPECT("HELLO World", "hello", "world");
    EXPECT("Café", "cafe");                     /* U+00E9, NFD e + U+0301 (Mn) */
    EXPECT("CAFÉ", "cafe");                     /* U+00C9 lowers to U+00E9 first */
    EXPECT("naïve", "naive");
    EXPECT("\xC4\xB0", "i");                    /* U+0130: Python gives i + U+0307, stripped */
    EXPECT("ΟΔΟΣ", "οδοσ");                     /* per-character lowering: no final sigma */
}

Test(tokenizer, combining_marks) {
    EXPECT("cafe\xCC\x81", "cafe");             /* decomposed already */
    EXPECT("c\xCC\xA7" "afe", "cafe");          /* U+0327 cedilla */
    EXPECT("\xC7\xBA", "a");                    /* U+01FA Ǻ → a + U+030A + U+0301 */
    EXPECT("a \xCC\x81 b", "a", "b");           /* a lone mark leaves no token */
    EXPECT("a\xE0\xA4\x83", "a", "##ः");        /* U+0903 is Mc, not Mn: kept */
}

Test(tokenizer, cjk_ideographs_are_words) {
    EXPECT("中国", "中", "国");
    EXPECT("a中b", "a", "中", "b");
    EXPECT("\xEF\xA4\x80", "豈");               /* U+F900 (compatibility range) → NFD U+8C48 */
    EXPECT("あい", "あ", "##い");               /* Hiragana is outside HF's ranges: one word */
    uint32_t in[] = {0x4E00, 0x9FFF, 0x3400, 0x4DBF, 0x20000, 0x2A6DF, 0x2A700, 0x2B73F,
                     0x2B740, 0x2B81F, 0x2B820, 0x2CEAF, 0xF900, 0xFAFF, 0x2F800, 0x2FA1F};
    uint32_t out[] = {0x4DFF, 0x4DC0, 0xA000, 0x33FF, 0x1FFFF, 0x2A6E0, 0x2A6FF, 0x2CEB0,
                      0xF8FF, 0xFB00, 0x2F7FF, 0x2FA20, 0x3000, 0x3042, 0x30000, 0xAC00};
    for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) cr_assert(mr_tok_is_cjk(in[k]), "U+%04X", in[k]);
    for (size_t k = 0; k < sizeof out / sizeof out[0]; k++) cr_assert(!mr_tok_is_cjk(out[k]), "U+%04X", out[k]);
}

Test(tokenizer, controls_nul_and_replacement_removed) {
    EXPECT("hel\0lo", "hello");
    EXPECT("hel\x01lo", "hello");
    EXPECT("hel\x7flo", "hello");
    EXPECT("hel\xEF\xBF\xBDlo", "hello");       /* U+FFFD */
    EXPECT("hel\xE2\x80\x8Blo", "hello");       /* U+200B (Cf) */
    EXPECT("hel\xEE\x80\x80lo", "hello");       /* U+E000 (Co) */
    EXPECT("hel\xCD\xB8lo", "hello");           /* U+0378 unassigned (Cn) */
    EXPECT("hel\xC2\x85lo", "hello");           /* U+0085 is Cc: dropped, not a space */
    EXPECT("hel\x1flo", "hello");
    EXPECT_NONE("\x01\x02\xEF\xBF\xBD");
}

Test(tokenizer, whitespace) {
    EXPECT("hello\tworld\nhello\r\nworld", "hello", "world", "hello", "world");
    EXPECT("  hello   world  ", "hello", "world");
    EXPECT("hello\xC2\xA0world", "hello", "world");      /* U+00A0 (Zs) */
    EXPECT("hello\xE3\x80\x80world", "hello", "world");  /* U+3000 (Zs) */
    EXPECT("hello\xE2\x80\xA8world", "hello", "world");  /* U+2028 (Zl): str.split() */
    EXPECT_NONE("");
    EXPECT_NONE(" \t\r\n ");
    cr_assert(mr_tok_is_whitespace(' ') && mr_tok_is_whitespace('\t') && mr_tok_is_whitespace(0x2003));
    cr_assert(!mr_tok_is_whitespace(0x0B) && mr_tok_is_control(0x0B) && !mr_tok_is_control('\n'));
}

Test(tokenizer, wordpiece_greedy_longest_match) {
    EXPECT("unaffable", "un", "##aff", "##able");
    EXPECT("UnAffable!", "un", "##aff", "##able", "!");
    EXPECT("a€", "a", "##€");                             /* € is Sc: not punctuation */
}

Test(tokenizer, unmatched_word_is_one_unk) {
    EXPECT("unaffablez", "[UNK]");
    EXPECT("hello zzz world", "hello", "[UNK]", "world");
    EXPECT("ab a", "[UNK]", "a"); /* "ab": a matches, then ##b does not */
}

Test(tokenizer, word_length_limit_is_100_code_points) {
    char w[400];
    memset(w, 'x', 100);
    int64_t *ids;
    size_t n;
    mr_error e;
    cr_assert(mr_tokenize(&tok, w, 100, &ids, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 100 && ids[0] == id_of("x"), "%zu pieces", n);
    for (size_t i = 1; i < n; i++) cr_assert(ids[i] == id_of("##x"));
    free(ids);
    memset(w, 'x', 101);
    cr_assert(mr_tokenize(&tok, w, 101, &ids, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 1 && ids[0] == UNK, "%zu pieces", n);
    free(ids);
    /* counted after accent stripping: 100 × (x U+0301) is 100 characters */
    for (int k = 0; k < 100; k++) memcpy(w + 3 * k, "x\xCC\x81", 3);
    cr_assert(mr_tokenize(&tok, w, 300, &ids, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 100, "%zu pieces", n);
    free(ids);
    /* 100 x then punctuation: the word is still 100 long */
    memset(w, 'x', 100);
    w[100] = '!';
    cr_assert(mr_tokenize(&tok, w, 101, &ids, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 101 && ids[100] == id_of("!"), "%zu pieces", n);
    free(ids);
    /* 101 two-byte characters: over the limit by characters, not bytes */
    for (int k = 0; k < 101; k++) memcpy(w + 2 * k, "\xC3\xA9", 2);
    cr_assert(mr_tokenize(&tok, w, 202, &ids, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 1 && ids[0] == UNK, "%zu pieces", n);
    free(ids);
}

Test(tokenizer, unicode_punctuation) {
    EXPECT("¿Que?", "¿", "que", "?");
    EXPECT("a—b", "a", "—", "b");                         /* U+2014 Pd */
    EXPECT("“hello”", "“", "hello", "”");                 /* Pi, Pf */
    EXPECT("a·b", "a", "·", "b");                         /* U+00B7 Po */
    uint32_t p[] = {'!', '/', ':', '@', '[', '`', '{', '~', 0xBF, 0x2014, 0x201C, 0x3001, 0xA7, 0x2E3A};
    uint32_t q[] = {'0', 'a', ' ', 0x20AC, 0xA9, 0x2260, 0x4E00, 0x7F};
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++) cr_assert(mr_tok_is_punctuation(p[k]), "U+%04X", p[k]);
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) cr_assert(!mr_tok_is_punctuation(q[k]), "U+%04X", q[k]);
}

Test(tokenizer, literal_special_tokens_kept_whole) {
    EXPECT("hello [SEP] world", "hello", "[SEP]", "world");
    EXPECT("a[MASK]b", "a", "[MASK]", "b");
    EXPECT("[CLS][PAD][UNK]", "[CLS]", "[PAD]", "[UNK]");
    EXPECT("[sep]", "[", "sep", "]"); /* case-sensitive, like HF's no-split tokens */
}

Test(tokenizer, invalid_utf8_names_the_offset) {
    const char *bad[] = {"ab\xC3(", "\xC0\xAF", "xy\xED\xA0\x80", "\xF4\x90\x80\x80", "abc\xE4\xB8", "\x80", "a\xFF"};
    size_t off[] = {2, 0, 2, 0, 3, 0, 1};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int64_t *ids = (int64_t *)1;
        size_t n = 7;
        mr_error e = {0};
        cr_assert(mr_tokenize(&tok, bad[k], strlen(bad[k]), &ids, &n, &e) == MR_EFORMAT, "case %zu", k);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu", off[k]);
        cr_assert(strstr(e.msg, "invalid UTF-8") && strstr(e.msg, want), "case %zu: %s", k, e.msg);
        cr_assert(ids == NULL && n == 0);
    }
}

Test(tokenizer, strings_spell_the_vocab) {
    char **p;
    size_t n;
    mr_error e;
    cr_assert(mr_tokenize_strings(&tok, "Unaffable zz", 12, &p, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 4 && !strcmp(p[0], "un") && !strcmp(p[1], "##aff") && !strcmp(p[2], "##able") && !strcmp(p[3], "[UNK]"));
    mr_tokens_free(p, n);
}

/* ----------------------------------------------------------------- batches */

static void check_row(const mr_encoding *enc, size_t b, const long long *want, size_t nreal) {
    for (size_t j = 0; j < enc->L; j++) {
        long long id = enc->ids[b * enc->L + j], m = enc->att_mask[b * enc->L + j], tt = enc->type_ids[b * enc->L + j];
        cr_assert(id == (j < nreal ? want[j] : PAD), "row %zu pos %zu: id %lld", b, j, id);
        cr_assert(m == (j < nreal), "row %zu pos %zu: mask %lld", b, j, m);
        cr_assert(tt == 0);
    }
}

Test(tokenizer, padding_longest_and_max_length) {
    const char *texts[] = {"hello", "Hello, world!", ""};
    size_t lens[] = {5, 13, 0};
    long long r0[] = {CLS, id_of("hello"), SEP};
    long long r1[] = {CLS, id_of("hello"), id_of(","), id_of("world"), id_of("!"), SEP};
    long long r2[] = {CLS, SEP};
    mr_encoding enc;
    mr_error e;
    /* SDK/AVEC: longest in the batch (4 pieces + 2), no truncation */
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 3, 0, MR_PAD_LONGEST, &enc, &e) == MR_OK, "%s", e.msg);
    cr_assert(enc.B == 3 && enc.L == 6, "%zu × %zu", enc.B, enc.L);
    check_row(&enc, 0, r0, 3), check_row(&enc, 1, r1, 6), check_row(&enc, 2, r2, 2);
    mr_encoding_free(&enc);
    /* Dec: max_length 10 pads to exactly 10 */
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 3, 10, MR_PAD_MAX_LENGTH, &enc, &e) == MR_OK, "%s", e.msg);
    cr_assert(enc.L == 10);
    check_row(&enc, 0, r0, 3), check_row(&enc, 1, r1, 6), check_row(&enc, 2, r2, 2);
    mr_encoding_free(&enc);
    /* Dec: max_length 4 keeps 2 pieces, then [SEP] */
    long long t1[] = {CLS, id_of("hello"), id_of(","), SEP};
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 3, 4, MR_PAD_MAX_LENGTH, &enc, &e) == MR_OK, "%s", e.msg);
    cr_assert(enc.L == 4);
    check_row(&enc, 0, r0, 3), check_row(&enc, 1, t1, 4), check_row(&enc, 2, r2, 2);
    mr_encoding_free(&enc);
    /* truncation with padding to the longest (HF: padding=True, truncation, max_length) */
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 1, 4, MR_PAD_LONGEST, &enc, &e) == MR_OK, "%s", e.msg);
    cr_assert(enc.B == 1 && enc.L == 3);
    check_row(&enc, 0, r0, 3);
    mr_encoding_free(&enc);
    /* max_length 2: nothing but [CLS] [SEP] */
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 3, 2, MR_PAD_MAX_LENGTH, &enc, &e) == MR_OK, "%s", e.msg);
    cr_assert(enc.L == 2);
    for (size_t b = 0; b < 3; b++) check_row(&enc, b, r2, 2);
    mr_encoding_free(&enc);
    /* bad requests */
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 3, 1, MR_PAD_MAX_LENGTH, &enc, &e) == MR_EINVAL);
    cr_assert(strstr(e.msg, "max_length"), "%s", e.msg);
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 3, 0, MR_PAD_MAX_LENGTH, &enc, &e) == MR_EINVAL);
    cr_assert(enc.ids == NULL);
    /* an empty batch */
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 0, 0, MR_PAD_LONGEST, &enc, &e) == MR_OK);
    cr_assert(enc.B == 0 && enc.ids == NULL);
}

Test(tokenizer, batch_error_names_the_text) {
    const char *texts[] = {"hello", "ok \xC3"};
    size_t lens[] = {5, 4};
    mr_encoding enc;
    mr_error e;
    cr_assert(mr_tokenizer_encode_batch(&tok, texts, lens, 2, 0, MR_PAD_LONGEST, &enc, &e) == MR_EFORMAT);
    cr_assert(strstr(e.msg, "text 1") && strstr(e.msg, "byte offset 3"), "%s", e.msg);
    cr_assert(enc.ids == NULL);
}

/* ------------------------------------------------------------------- vocab */

static mr_vocab *parse(const char *s, size_t n) {
    mr_vocab *v;
    mr_error e;
    cr_assert(mr_vocab_parse(s, n, "mem", &v, &e) == MR_OK, "%s", e.msg);
    return v;
}

Test(tokenizer, vocab_lines_like_load_vocab) {
    /* later duplicates win; an empty line is a line; \r\n, \r and a missing last newline */
    const char txt[] = "a\nb\na\n\nc\r\nd\re";
    mr_vocab *v = parse(txt, sizeof txt - 1);
    cr_assert(mr_vocab_size(v) == 7, "%zu", mr_vocab_size(v));
    cr_assert(mr_vocab_id(v, "a", 1) == 2 && mr_vocab_id(v, "b", 1) == 1 && mr_vocab_id(v, "", 0) == 3);
    cr_assert(mr_vocab_id(v, "c", 1) == 4 && mr_vocab_id(v, "d", 1) == 5 && mr_vocab_id(v, "e", 1) == 6);
    cr_assert(mr_vocab_id(v, "c\r", 2) == -1 && mr_vocab_id(v, "z", 1) == -1 && mr_vocab_id(v, "ab", 2) == -1);
    size_t len;
    cr_assert(!strcmp(mr_vocab_token(v, 0, &len), "a") && len == 1 && !strcmp(mr_vocab_token(v, 6, NULL), "e"));
    cr_assert(mr_vocab_token(v, 7, NULL) == NULL && mr_vocab_token(v, -1, NULL) == NULL);
    mr_vocab_free(v);
    v = parse("x\n", 2); /* the final newline ends a line, it does not start one */
    cr_assert(mr_vocab_size(v) == 1);
    mr_vocab_free(v);
    v = parse("", 0);
    cr_assert(mr_vocab_size(v) == 0 && mr_vocab_id(v, "x", 1) == -1);
    mr_vocab_free(v);
}

Test(tokenizer, vocab_errors_name_file_and_line) {
    mr_vocab *v;
    mr_error e;
    cr_assert(mr_vocab_parse("a\nb\nc\xC3(\n", 8, "v.txt", &v, &e) == MR_EFORMAT && v == NULL);
    cr_assert(strstr(e.msg, "v.txt line 3") && strstr(e.msg, "UTF-8"), "%s", e.msg);
    char path[512];
    t_path(path, sizeof path, "no-such-vocab.txt");
    mr_tokenizer t;
    cr_assert(mr_tokenizer_load(&t, path, &e) == MR_EIO);
    cr_assert(strstr(e.msg, "no-such-vocab.txt"), "%s", e.msg);
}

Test(tokenizer, missing_special_tokens) {
    const char *sp[] = {"[UNK]", "[CLS]", "[SEP]", "[PAD]"};
    for (int k = 0; k < 4; k++) {
        char path[512];
        write_vocab(path, sizeof path, "vocab-missing.txt", sp[k]);
        mr_tokenizer t;
        mr_error e;
        cr_assert(mr_tokenizer_load(&t, path, &e) == MR_EFORMAT, "%s", sp[k]);
        cr_assert(strstr(e.msg, sp[k]) && strstr(e.msg, "vocab-missing.txt"), "%s", e.msg);
        cr_assert(t.vocab == NULL);
    }
    /* [MASK] is optional: the literal then maps to [UNK], as HF's convert_tokens_to_ids */
    char path[512];
    write_vocab(path, sizeof path, "vocab-nomask.txt", "[MASK]");
    mr_tokenizer t;
    mr_error e;
    cr_assert(mr_tokenizer_load(&t, path, &e) == MR_OK, "%s", e.msg);
    cr_assert(t.mask_id == -1);
    int64_t *ids;
    size_t n;
    cr_assert(mr_tokenize(&t, "a [MASK]", 8, &ids, &n, &e) == MR_OK);
    cr_assert(n == 2 && ids[0] == id_of("a") && ids[1] == UNK);
    free(ids);
    mr_tokenizer_free(&t);
}

/* --------------------------------------------------------------------- CLI */

static void ids_line(char *out, size_t n, const char *const *toks, size_t L) {
    size_t k = 0, j = 0;
    for (; toks[j]; j++) k += (size_t)snprintf(out + k, n - k, "%s%lld", j ? " " : "", id_of(toks[j]));
    for (; j < L; j++) k += (size_t)snprintf(out + k, n - k, " %d", PAD);
    snprintf(out + k, n - k, "\n");
}

Test(tokenizer, cli_on_a_file) {
    char vocab[512], in[512], args[2048], out[8192], want[8192] = "", line[512];
    write_vocab(vocab, sizeof vocab, "vocab-cli.txt", NULL);
    t_path(in, sizeof in, "cli-in.txt");
    const char text[] = "Hello, world!\nCafé unaffable\n\n中国 ¿Que?"; /* last line without newline */
    cr_assert(t_write_file(in, text, sizeof text - 1) == 0);
    const char *r0[] = {"[CLS]", "hello", ",", "world", "!", "[SEP]", NULL};
    const char *r1[] = {"[CLS]", "cafe", "un", "##aff", "##able", "[SEP]", NULL};
    const char *r2[] = {"[CLS]", "[SEP]", NULL};
    const char *r3[] = {"[CLS]", "中", "国", "¿", "que", "?", "[SEP]", NULL};
    const char *const *rows[] = {r0, r1, r2, r3};
    /* default without --max_length: pad to the longest (7) */
    for (int b = 0; b < 4; b++) ids_line(line, sizeof line, rows[b], 7), strcat(want, line);
    snprintf(args, sizeof args, "tokenize --vocab %s < %s", vocab, in);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strcmp(out, want) == 0, "got:\n%swant:\n%s", out, want);
    /* --max_length 5: truncation to 3 pieces, padding to exactly 5 */
    const char *s0[] = {"[CLS]", "hello", ",", "world", "[SEP]", NULL};
    const char *s1[] = {"[CLS]", "cafe", "un", "##aff", "[SEP]", NULL};
    const char *s3[] = {"[CLS]", "中", "国", "¿", "[SEP]", NULL};
    const char *const *srows[] = {s0, s1, r2, s3};
    want[0] = 0;
    for (int b = 0; b < 4; b++) ids_line(line, sizeof line, srows[b], 5), strcat(want, line);
    snprintf(args, sizeof args, "tokenize --vocab %s --max_length 5 < %s", vocab, in);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strcmp(out, want) == 0, "got:\n%swant:\n%s", out, want);
    /* --tokens spells them */
    snprintf(args, sizeof args, "tokenize --vocab %s --max_length 5 --pad longest --tokens < %s", vocab, in);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "[CLS] cafe un ##aff [SEP]\n[CLS] [SEP] [PAD] [PAD] [PAD]\n"), "%s", out);
    /* --mask */
    snprintf(args, sizeof args, "tokenize --vocab %s --mask < %s", vocab, in);
    cr_assert(t_run_cli(args, out, sizeof out) == 0, "%s", out);
    cr_assert(strstr(out, "1 1 1 1 1 1 0\n1 1 1 1 1 1 0\n1 1 0 0 0 0 0\n1 1 1 1 1 1 1\n"), "%s", out);
}

Test(tokenizer, cli_bad_input_exit_2) {
    char vocab[512], in[512], args[2048], out[8192];
    write_vocab(vocab, sizeof vocab, "vocab-cli2.txt", NULL);
    t_path(in, sizeof in, "cli-bad.txt");
    const char text[] = "fine\nbad \xC3(\n";
    cr_assert(t_write_file(in, text, sizeof text - 1) == 0);
    snprintf(args, sizeof args, "tokenize --vocab %s < %s", vocab, in);
    cr_assert(t_run_cli(args, out, sizeof out) == 2, "%s", out);
    cr_assert(strstr(out, "line 2") && strstr(out, "byte offset 4"), "%s", out);
    cr_assert(t_run_cli("tokenize < /dev/null", out, sizeof out) == 2 && strstr(out, "--vocab"), "%s", out);
    snprintf(args, sizeof args, "tokenize --vocab %s --pad max_length < /dev/null", vocab);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "--max_length"), "%s", out);
    snprintf(args, sizeof args, "tokenize --vocab %s --pad shortest < /dev/null", vocab);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "--pad"), "%s", out);
    snprintf(args, sizeof args, "tokenize --vocab %s --max_length 1 < /dev/null", vocab);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "--max_length"), "%s", out);
    t_path(in, sizeof in, "no-such-vocab.txt");
    snprintf(args, sizeof args, "tokenize --vocab %s < /dev/null", in);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "no-such-vocab.txt"), "%s", out);
    write_vocab(vocab, sizeof vocab, "vocab-cli3.txt", "[CLS]");
    snprintf(args, sizeof args, "tokenize --vocab %s < /dev/null", vocab);
    cr_assert(t_run_cli(args, out, sizeof out) == 2 && strstr(out, "[CLS]"), "%s", out);
    /* empty input, no output */
    write_vocab(vocab, sizeof vocab, "vocab-cli4.txt", NULL);
    snprintf(args, sizeof args, "tokenize --vocab %s < /dev/null", vocab);
    cr_assert(t_run_cli(args, out, sizeof out) == 0 && out[0] == 0, "%s", out);
}

/* ------------------------------------------------- against a Python reference */

/* verify/tokenizer_ref.py transcribes HF's slow BertTokenizer in plain Python
 * (unicodedata) and writes a random corpus over Latin, Greek, Cyrillic,
 * Arabic, Devanagari, CJK, Hangul, combining marks, controls, exotic spaces,
 * punctuation, symbols and literal special tokens, a vocabulary drawn from it
 * and the expected output of `mimrl tokenize`; both must agree line by line. */
Test(tokenizer, matches_python_reference_on_random_text) {
    if (!t_python()) cr_skip_test(T_NO_PYTHON);
    const char *dir = t_tmpdir();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s verify/tokenizer_ref.py %s 7 600 > %s/ref.log 2>&1", t_python(), dir, dir);
    cr_assert(system(cmd) == 0, "tokenizer_ref.py failed (see %s/ref.log)", dir);
    const char *mode[][2] = {{"", "expect_longest.txt"}, {"--max_length 8", "expect_max8.txt"}};
    size_t cap = (size_t)16 << 20;
    char *got = malloc(cap);
    cr_assert(got);
    for (int k = 0; k < 2; k++) {
        char args[2048], want[600];
        snprintf(want, sizeof want, "%s/%s", dir, mode[k][1]);
        snprintf(args, sizeof args, "tokenize --vocab %s/vocab.txt %s < %s/corpus.txt", dir, mode[k][0], dir);
        cr_assert(t_run_cli(args, got, cap) == 0, "%.2000s", got);
        size_t ng = strlen(got), nw;
        unsigned char *w = t_read_file(want, &nw);
        cr_assert(w && nw > 0 && nw < cap - 1);
        size_t i = 0, line = 1;
        for (; i < ng && i < nw && (unsigned char)got[i] == w[i]; i++) line += w[i] == '\n';
        cr_assert(ng == nw && i == nw, "mimrl tokenize %s: line %zu differs from %s", mode[k][0], line, want);
        free(w);
    }
    free(got);
}

/* Random bytes (mostly invalid UTF-8) and random valid code points: a status,
 * never a crash; valid text always tokenizes into ids of the vocabulary, and
 * invalid text is an MR_EFORMAT saying so. */
Test(tokenizer, random_input_never_crashes) {
    gsl_rng *r = t_rng(12);
    unsigned char buf[256];
    for (int it = 0; it < 3000; it++) {
        size_t n = gsl_rng_uniform_int(r, sizeof buf);
        int valid = it % 2;
        size_t k = 0;
        while (k < n) {
            if (!valid) {
                buf[k++] = (unsigned char)gsl_rng_uniform_int(r, 256);
                continue;
            }
            uint32_t cp = (uint32_t)gsl_rng_uniform_int(r, it % 4 == 1 ? 0x80 : 0x110000);
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            unsigned char u[4];
            size_t m = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (k + m > n) break;
            if (m == 1) u[0] = (unsigned char)cp;
            else if (m == 2) u[0] = (unsigned char)(0xC0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3F));
            else if (m == 3)
                u[0] = (unsigned char)(0xE0 | cp >> 12), u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)),
                u[2] = (unsigned char)(0x80 | (cp & 0x3F));
            else
                u[0] = (unsigned char)(0xF0 | cp >> 18), u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F)),
                u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (unsigned char)(0x80 | (cp & 0x3F));
            memcpy(buf + k, u, m);
            k += m;
        }
        n = k;
        int64_t *ids;
        size_t m;
        mr_error e = {0};
        int rc = mr_tokenize(&tok, (const char *)buf, n, &ids, &m, &e);
        if (valid) cr_assert(rc == MR_OK, "iteration %d: %s", it, e.msg);
        else cr_assert(rc == MR_OK || (rc == MR_EFORMAT && strstr(e.msg, "invalid UTF-8")), "iteration %d: %d %s", it, rc, e.msg);
        if (rc == MR_OK) {
            for (size_t j = 0; j < m; j++) cr_assert(ids[j] >= 0 && (size_t)ids[j] < mr_vocab_size(tok.vocab));
            free(ids);
        }
    }
    gsl_rng_free(r);
}
