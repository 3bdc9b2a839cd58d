/* cli_bert.c — `mimrl bert-init`: a small random BERT written as a Hugging
 * Face directory (config.json, vocab.txt, tokenizer_config.json,
 * model.safetensors), so the whole pipeline runs without downloaded weights. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/cli/cli.h"
#include "ref/bert/hfdir.h"
#include "ref/core/npz.h"
#include "ref/core/safetensors.h"

typedef struct {
    unsigned long layers, hidden, heads, intermediate, seed, max_positions;
    const char *vocab_from, *out;
    int have_heads, have_intermediate; /* set by the table's parsers */
} bert_init_opts;

static int set_heads(void *field, const char *cmd, const char *v) {
    bert_init_opts *o = (bert_init_opts *)((char *)field - offsetof(bert_init_opts, heads));
    o->have_heads = 1;
    return mr_parse_ulong(cmd, "--heads", v, &o->heads);
}
static int set_intermediate(void *field, const char *cmd, const char *v) {
    bert_init_opts *o = (bert_init_opts *)((char *)field - offsetof(bert_init_opts, intermediate));
    o->have_intermediate = 1;
    return mr_parse_ulong(cmd, "--intermediate", v, &o->intermediate);
}

static const mr_opt BERT_INIT_OPTS[] = {
    {"--layers", MR_OPT_ULONG, offsetof(bert_init_opts, layers), NULL, "N", "encoder layers (required)", NULL, 0},
    {"--hidden", MR_OPT_ULONG, offsetof(bert_init_opts, hidden), NULL, "H", "hidden size (required)", NULL, 0},
    {"--out", MR_OPT_TEXT, offsetof(bert_init_opts, out), NULL, "DIR", "the directory to write (required)", NULL, 0},
    {"--heads", MR_OPT_CUSTOM, offsetof(bert_init_opts, heads), NULL, "A",
     "attention heads (default H/64 when H is a multiple of 64, else 1)", set_heads, 0},
    {"--intermediate", MR_OPT_CUSTOM, offsetof(bert_init_opts, intermediate), NULL, "I", "feed-forward width (default 4H)",
     set_intermediate, 0},
    {"--max-positions", MR_OPT_ULONG, offsetof(bert_init_opts, max_positions), "512", "P", "max_position_embeddings", NULL, 0},
    {"--vocab-from", MR_OPT_TEXT, offsetof(bert_init_opts, vocab_from), NULL, "FILE",
     "a mimrl-npz split (its text_bytes transcripts) or a text file", NULL, 0},
    {"--seed", MR_OPT_ULONG, offsetof(bert_init_opts, seed), "0", "S", "random seed", NULL, 0},
};

const mr_cmd_flags mr_flags_bert_init = {
    "bert-init", "--layers N --hidden H --out DIR [options]",
    "writes a randomly initialised BERT as Hugging Face leaves one: DIR/config.json,\n"
    "DIR/vocab.txt, DIR/tokenizer_config.json and DIR/model.safetensors (F64, exact).\n"
    "Weights as BertModel's _init_weights: normal(0, 0.02) from a seeded gsl_rng (mt19937),\n"
    "the [PAD] embedding row 0, biases 0, LayerNorm 1/0.\n"
    "vocab.txt: [PAD]=0, [unused0..98]=1..99, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103,\n"
    "then every printable ASCII character but A-Z, '##' + every digit and letter (so no\n"
    "ASCII text is [UNK]), then the lower-cased words of --vocab-from, most frequent first.\n",
    BERT_INIT_OPTS, MR_OPT_N(BERT_INIT_OPTS), NULL};

static int is_punct(unsigned char c) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}
static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

typedef struct {
    char **w;
    size_t n, cap;
    size_t skipped; /* words with non-ASCII or control bytes, or over 100 characters */
} words;

static int add_word(words *W, const unsigned char *s, size_t n) {
    if (n < 2) return 0; /* single characters are in the vocabulary anyway */
    int ok = n <= 100;
    for (size_t i = 0; ok && i < n; i++) ok = s[i] > 32 && s[i] < 127;
    if (!ok) {
        W->skipped++;
        return 0;
    }
    if (W->n == W->cap) {
        size_t nc = W->cap ? 2 * W->cap : 1024;
        char **q = realloc(W->w, nc * sizeof *q);
        if (!q) return 1;
        W->w = q, W->cap = nc;
    }
    char *c = malloc(n + 1);
    if (!c) return 1;
    for (size_t i = 0; i < n; i++) c[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    c[n] = 0;
    W->w[W->n++] = c;
    return 0;
}

/* Split text as BERT's basic tokenizer does for ASCII: whitespace, then each
 * punctuation character on its own. */
static int split_text(words *W, const unsigned char *t, size_t n) {
    size_t st = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || is_space(t[i]) || is_punct(t[i])) {
            if (i > st && add_word(W, t + st, i - st)) return 1;
            st = i + 1;
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    const char *w;
    size_t count;
} wc;
static int cmp_wc(const void *a, const void *b) {
    const wc *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->w, y->w);
}

static int read_text(const char *path, words *W, mr_error *e) {
    size_t L = strlen(path);
    if (L > 4 && strcmp(path + L - 4, ".npz") == 0) {
        mr_npz z;
        int rc = mr_npz_open(&z, path, e);
        if (rc != MR_OK) return rc;
        /* transcripts are concatenated: split each [off[i], off[i+1]) on its own */
        mr_array a, o = {0};
        rc = mr_npz_read(&z, "text_bytes", &a, e);
        if (rc == MR_OK && (rc = mr_npz_read(&z, "text_offsets", &o, e)) != MR_OK) mr_array_free(&a);
        mr_npz_close(&z);
        if (rc != MR_OK) return rc;
        if (a.dtype != MR_DT_U1 || a.ndim != 1) rc = mr_fail(e, MR_EFORMAT, "%s: text_bytes is not |u1 (n,)", path);
        else if (o.dtype != MR_DT_I8 || o.ndim != 1 || o.count < 1)
            rc = mr_fail(e, MR_EFORMAT, "%s: text_offsets is not <i8 (N+1,)", path);
        const int64_t *off = o.data;
        for (uint64_t i = 0; rc == MR_OK && i + 1 < o.count; i++) {
            if (off[i] < 0 || off[i] > off[i + 1] || (uint64_t)off[i + 1] > a.count)
                rc = mr_fail(e, MR_EFORMAT, "%s: text_offsets[%llu..%llu] out of order or beyond text_bytes", path,
                             (unsigned long long)i, (unsigned long long)i + 1);
            else if (split_text(W, (const unsigned char *)a.data + off[i], (size_t)(off[i + 1] - off[i])))
                rc = mr_fail(e, MR_ENOMEM, "out of memory");
        }
        mr_array_free(&a);
        mr_array_free(&o);
        return rc;
    }
    char *b;
    size_t n;
    /* a corpus to count words in: up to 1 GiB, refused by name above */
    int rc = mr_read_file(path, (size_t)1 << 30, &b, &n, e);
    if (rc != MR_OK) return rc;
    rc = split_text(W, (const unsigned char *)b, n) ? mr_fail(e, MR_ENOMEM, "out of memory") : MR_OK;
    free(b);
    return rc;
}

/* vocab.txt as described in the help; *size receives the line count. */
static int write_vocab(const char *path, const words *W, size_t *size, mr_error *e) {
    char *tmp;
    FILE *f;
    int rc = mr_atomic_open(path, &tmp, &f, e);
    if (rc != MR_OK) return rc;
    size_t n = 0;
    fprintf(f, "[PAD]\n"), n++;
    for (int i = 0; i < 99; i++) fprintf(f, "[unused%d]\n", i), n++;
    fprintf(f, "[UNK]\n[CLS]\n[SEP]\n[MASK]\n"), n += 4;
    for (int c = 33; c < 127; c++)
        if (!(c >= 'A' && c <= 'Z')) fprintf(f, "%c\n", c), n++;
    for (int c = 33; c < 127; c++)
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) fprintf(f, "##%c\n", c), n++;
    /* distinct words by descending frequency, ties alphabetical */
    char **s = malloc((W->n ? W->n : 1) * sizeof *s);
    wc *u = malloc((W->n ? W->n : 1) * sizeof *u);
    if (!s || !u) {
        free(s);
        free(u);
        mr_atomic_abort(tmp, f);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    if (W->n) memcpy(s, W->w, W->n * sizeof *s);
    qsort(s, W->n, sizeof *s, cmp_str);
    size_t nu = 0;
    for (size_t i = 0; i < W->n; i++) {
        if (nu && strcmp(u[nu - 1].w, s[i]) == 0) u[nu - 1].count++;
        else u[nu++] = (wc){s[i], 1};
    }
    qsort(u, nu, sizeof *u, cmp_wc);
    for (size_t i = 0; i < nu; i++) fprintf(f, "%s\n", u[i].w), n++;
    free(s);
    free(u);
    *size = n;
    return mr_atomic_commit(path, tmp, f, e);
}

static int write_text(const char *path, const char *text, mr_error *e) {
    char *tmp;
    FILE *f;
    int rc = mr_atomic_open(path, &tmp, &f, e);
    if (rc != MR_OK) return rc;
    fputs(text, f);
    return mr_atomic_commit(path, tmp, f, e);
}

static int bert_init(int argc, char **argv) {
    bert_init_opts o = {.layers = ULONG_MAX, .hidden = ULONG_MAX}; /* ULONG_MAX: not given */
    int rc = mr_opts_parse(&mr_flags_bert_init, argc, argv, 2, &o);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    if (o.layers == ULONG_MAX || o.hidden == ULONG_MAX || !o.out) {
        fprintf(stderr, "mimrl bert-init: --layers, --hidden and --out are required\n");
        mr_opts_help(&mr_flags_bert_init, stderr);
        return 2;
    }
    mr_bert_config c;
    mr_bert_config_base(&c);
    unsigned long seed = o.seed;
    c.num_hidden_layers = o.layers;
    c.hidden_size = o.hidden;
    c.num_attention_heads = c.hidden_size >= 64 && c.hidden_size % 64 == 0 ? c.hidden_size / 64 : 1;
    c.intermediate_size = 4 * c.hidden_size;
    if (o.have_heads) c.num_attention_heads = o.heads;
    if (o.have_intermediate) c.intermediate_size = o.intermediate;
    c.max_position_embeddings = o.max_positions;
    mr_error e = {0};
    c.vocab_size = 1; /* checked below with the real size */
    if (mr_bert_config_check(&c, "bert-init", &e) != MR_OK) {
        fprintf(stderr, "mimrl %s\n", e.msg);
        return 2;
    }
    if (c.num_hidden_layers > 1000 || c.hidden_size > 65536 || c.intermediate_size > 1u << 20 ||
        c.max_position_embeddings > 1u << 20) {
        fprintf(stderr, "mimrl bert-init: sizes beyond 1000 layers, hidden 65536, intermediate or positions 2^20 refused\n");
        return 2;
    }
    const char *dir = o.out;
    words W = {0};
    if (o.vocab_from) rc = read_text(o.vocab_from, &W, &e);
    char path[4096];
    mr_params p;
    mr_params_init(&p);
    size_t vocab = 0;
    if (rc == MR_OK) rc = mr_mkdir_p(dir, &e);
    if (rc == MR_OK) {
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        rc = write_vocab(path, &W, &vocab, &e);
    }
    if (rc == MR_OK) {
        c.vocab_size = vocab;
        rc = mr_bert_params_add(&p, &c, MR_BERT_PREFIX, &e);
    }
    if (rc == MR_OK) rc = mr_params_alloc(&p, &e);
    if (rc == MR_OK) {
        mr_bert_init_hf(&p, &c, MR_BERT_PREFIX, seed);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        rc = mr_bert_save_safetensors(&p, &c, MR_BERT_PREFIX, path, 0, &e);
    }
    if (rc == MR_OK) {
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        char tc[256];
        snprintf(tc, sizeof tc, "{\n  \"do_lower_case\": true,\n  \"model_max_length\": %zu,\n  \"tokenizer_class\": \"BertTokenizer\"\n}\n",
                 c.max_position_embeddings);
        rc = write_text(path, tc, &e);
    }
    if (rc == MR_OK) {
        char *js = mr_bert_config_to_json(&c);
        snprintf(path, sizeof path, "%s/config.json", dir);
        rc = js ? write_text(path, js, &e) : mr_fail(&e, MR_ENOMEM, "out of memory");
        free(js);
    }
    for (size_t i = 0; i < W.n; i++) free(W.w[i]);
    free(W.w);
    if (rc != MR_OK) {
        mr_params_free(&p);
        fprintf(stderr, "mimrl bert-init: %s\n", e.msg);
        return rc == MR_ENOMEM ? 1 : 2;
    }
    printf("wrote %s: %zu layers, hidden %zu, %zu heads, intermediate %zu, %zu positions, vocabulary %zu, "
           "%zu parameters (F64), seed %lu\n",
           dir, c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
           c.max_position_embeddings, vocab, p.total, seed);
    if (W.skipped)
        printf("note: %zu word occurrences with non-ASCII bytes or over 100 characters were not added "
               "(they tokenize into characters or [UNK])\n", W.skipped);
    mr_params_free(&p);
    return 0;
}

const mr_cmd_flags mr_flags_bert_info = {
    "bert-info", "DIR|FILE.safetensors",
    "DIR (a Hugging Face model directory): loads config.json and model.safetensors as training\n"
    "would (names mapped to bertmodel.*, every missing/extra/mis-shaped tensor reported) and\n"
    "prints the sizes; FILE: checks the file and lists its tensors. Exit status 2 when invalid.\n",
    NULL, 0, NULL};

static int bert_info(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
        mr_opts_help(&mr_flags_bert_info, argc == 3 ? stdout : stderr);
        return argc == 3 ? 0 : 2;
    }
    const char *path = argv[2];
    struct stat st;
    mr_error e = {0};
    int rc;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        mr_bert_config c;
        mr_params p;
        mr_params_init(&p);
        char *note = NULL;
        rc = mr_bert_load_dir(path, &c, &p, &note, &e);
        if (rc == MR_OK) {
            printf("%s: BERT, %zu layers, hidden %zu, %zu heads, intermediate %zu, vocab %zu, %zu positions, "
                   "%zu token types, layer_norm_eps %g, dropout %g/%g; %zu tensors, %zu parameters\n",
                   path, c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
                   c.vocab_size, c.max_position_embeddings, c.type_vocab_size, c.layer_norm_eps,
                   c.hidden_dropout_prob, c.attention_probs_dropout_prob, p.n, p.total);
            if (note) printf("note: %s\n", note);
        }
        free(note);
        mr_params_free(&p);
    } else {
        mr_st_file f;
        rc = mr_st_open(&f, path, &e);
        if (rc == MR_OK) {
            printf("%s: %zu tensors, %llu data bytes\n", path, f.n, (unsigned long long)f.data_len);
            for (size_t i = 0; i < f.n_meta; i++) printf("  __metadata__ %s = %s\n", f.meta_key[i], f.meta_val[i]);
            for (size_t i = 0; i < f.n; i++) {
                printf("  %s %s [", f.t[i].name, mr_st_dtype_name(f.t[i].dtype));
                for (int d = 0; d < f.t[i].ndim; d++) printf("%s%llu", d ? "," : "", (unsigned long long)f.t[i].shape[d]);
                printf("]\n");
            }
            mr_st_close(&f);
        }
    }
    if (rc != MR_OK) {
        fprintf(stderr, "mimrl bert-info: %s\n", e.msg);
        return rc == MR_ENOMEM ? 1 : 2;
    }
    return 0;
}

int mr_cmd_bert(int argc, char **argv) {
    if (strcmp(argv[1], "bert-init") == 0) return bert_init(argc, argv);
    if (strcmp(argv[1], "bert-info") == 0) return bert_info(argc, argv);
    fprintf(stderr, "mimrl: unknown command '%s' (bert-init, bert-info)\n", argv[1]);
    return 2;
}
