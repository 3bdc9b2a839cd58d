/* bert_config.c — BERT sizes and the canonical parameter list. */
#include "ref/bert/bert_config.h"
#include "ref/core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/json.h"

void mr_bert_config_base(mr_bert_config *c) {
    c->vocab_size = 30522;
    c->hidden_size = 768;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 12;
    c->intermediate_size = 3072;
    c->max_position_embeddings = 512;
    c->type_vocab_size = 2;
    c->layer_norm_eps = 1e-12;
    c->hidden_dropout_prob = 0.1;
    c->attention_probs_dropout_prob = 0.1;
}

int mr_bert_config_check(const mr_bert_config *c, const char *what, mr_error *e) {
    const struct {
        const char *name;
        size_t v;
    } sz[] = {{"vocab_size", c->vocab_size},
              {"hidden_size", c->hidden_size},
              {"num_hidden_layers", c->num_hidden_layers},
              {"num_attention_heads", c->num_attention_heads},
              {"intermediate_size", c->intermediate_size},
              {"max_position_embeddings", c->max_position_embeddings},
              {"type_vocab_size", c->type_vocab_size}};
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        if (sz[i].v == 0) return mr_fail(e, MR_EINVAL, "%s: %s must be positive", what, sz[i].name);
    if (c->hidden_size % c->num_attention_heads)
        return mr_fail(e, MR_EINVAL, "%s: hidden_size %zu is not a multiple of num_attention_heads %zu", what,
                       c->hidden_size, c->num_attention_heads);
    if (!(c->layer_norm_eps > 0)) return mr_fail(e, MR_EINVAL, "%s: layer_norm_eps must be positive", what);
    if (!(c->hidden_dropout_prob >= 0 && c->hidden_dropout_prob < 1))
        return mr_fail(e, MR_EINVAL, "%s: hidden_dropout_prob must lie in [0, 1)", what);
    if (!(c->attention_probs_dropout_prob >= 0 && c->attention_probs_dropout_prob < 1))
        return mr_fail(e, MR_EINVAL, "%s: attention_probs_dropout_prob must lie in [0, 1)", what);
    return MR_OK;
}

static int put(mr_bert_param_fn fn, void *ctx, const char *prefix, const char *name, size_t a, size_t b) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    size_t shape[2] = {a, b};
    return fn(ctx, full, b ? 2 : 1, shape);
}

int mr_bert_for_each_param(const mr_bert_config *c, const char *prefix, mr_bert_param_fn fn, void *ctx) {
    size_t H = c->hidden_size, I = c->intermediate_size;
    int rc;
#define PUT(name, a, b)                                                                                                \
    do {                                                                                                               \
        if ((rc = put(fn, ctx, prefix, name, a, b)) != 0) return rc;                                                   \
    } while (0)
    PUT("embeddings.word_embeddings.weight", c->vocab_size, H);
    PUT("embeddings.position_embeddings.weight", c->max_position_embeddings, H);
    PUT("embeddings.token_type_embeddings.weight", c->type_vocab_size, H);
    PUT("embeddings.LayerNorm.weight", H, 0);
    PUT("embeddings.LayerNorm.bias", H, 0);
    static const char *const lin[][2] = {{"attention.self.query", "HH"},  {"attention.self.key", "HH"},
                                         {"attention.self.value", "HH"},  {"attention.output.dense", "HH"},
                                         {"attention.output.LayerNorm", "L"}, {"intermediate.dense", "IH"},
                                         {"output.dense", "HI"},          {"output.LayerNorm", "L"}};
    for (size_t l = 0; l < c->num_hidden_layers; l++)
        for (size_t k = 0; k < sizeof lin / sizeof lin[0]; k++) {
            char w[160], b[160];
            const char *kind = lin[k][1];
            snprintf(w, sizeof w, "encoder.layer.%zu.%s.weight", l, lin[k][0]);
            snprintf(b, sizeof b, "encoder.layer.%zu.%s.bias", l, lin[k][0]);
            if (kind[0] == 'L') {
                PUT(w, H, 0);
                PUT(b, H, 0);
            } else {
                size_t out = kind[0] == 'I' ? I : H, in = kind[1] == 'I' ? I : H;
                PUT(w, out, in);
                PUT(b, out, 0);
            }
        }
    PUT("pooler.dense.weight", H, H);
    PUT("pooler.dense.bias", H, 0);
#undef PUT
    return 0;
}

/* ------------------------------------------------------------ config.json */

int mr_bert_config_parse_json(const char *text, size_t len, const char *what, mr_bert_config *c, mr_error *e) {
    mr_json root;
    int rc = mr_json_parse(text, len, 64, &root, what, e);
    if (rc != MR_OK) return rc;
    mr_bert_config r;
    mr_bert_config_base(&r);
    if (root.type != MR_JOBJ) {
        mr_json_free(&root);
        return mr_fail(e, MR_EFORMAT, "%s: not a JSON object", what);
    }
    struct {
        const char *key;
        size_t *dst;
    } ints[] = {{"vocab_size", &r.vocab_size},
                {"hidden_size", &r.hidden_size},
                {"num_hidden_layers", &r.num_hidden_layers},
                {"num_attention_heads", &r.num_attention_heads},
                {"intermediate_size", &r.intermediate_size},
                {"max_position_embeddings", &r.max_position_embeddings},
                {"type_vocab_size", &r.type_vocab_size}};
    struct {
        const char *key;
        double *dst;
    } nums[] = {{"layer_norm_eps", &r.layer_norm_eps},
                {"hidden_dropout_prob", &r.hidden_dropout_prob},
                {"attention_probs_dropout_prob", &r.attention_probs_dropout_prob}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && rc == MR_OK; i++) {
        const mr_json *v = mr_json_get(&root, ints[i].key);
        uint64_t u;
        if (!v) continue;
        if (mr_json_u64(v, &u) || u > (uint64_t)1 << 40)
            rc = mr_fail(e, MR_EFORMAT, "%s: field '%s' is not a non-negative integer (below 2^40)", what, ints[i].key);
        else *ints[i].dst = (size_t)u;
    }
    for (size_t i = 0; i < sizeof nums / sizeof nums[0] && rc == MR_OK; i++) {
        const mr_json *v = mr_json_get(&root, nums[i].key);
        if (!v) continue;
        if (v->type != MR_JNUM || !(v->num > -1e308 && v->num < 1e308))
            rc = mr_fail(e, MR_EFORMAT, "%s: field '%s' is not a finite number", what, nums[i].key);
        else *nums[i].dst = v->num;
    }
    const struct {
        const char *key, *want;
    } strs[] = {{"hidden_act", "gelu"}, {"model_type", "bert"}, {"position_embedding_type", "absolute"}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0] && rc == MR_OK; i++) {
        const mr_json *v = mr_json_get(&root, strs[i].key);
        if (!v) continue;
        if (v->type != MR_JSTR) rc = mr_fail(e, MR_EFORMAT, "%s: field '%s' is not a string", what, strs[i].key);
        else if (strcmp(v->str, strs[i].want) != 0)
            rc = mr_fail(e, MR_EUNSUPPORTED, "%s: field '%s' is \"%.60s\"; only \"%s\" is supported", what, strs[i].key,
                         v->str, strs[i].want);
    }
    mr_json_free(&root);
    if (rc == MR_OK) rc = mr_bert_config_check(&r, what, e);
    if (rc == MR_OK) *c = r;
    return rc;
}

int mr_bert_config_read_json(const char *path, mr_bert_config *c, mr_error *e) {
    enum { MAXLEN = 1 << 24 }; /* a config.json is < 1 kB; bigger than 16 MiB is not one */
    char *buf;
    size_t n;
    int rc = mr_read_file(path, MAXLEN, &buf, &n, e);
    if (rc == MR_EFORMAT) return mr_fail_append(e, MR_EFORMAT, "not a config.json");
    if (rc != MR_OK) return rc;
    rc = mr_bert_config_parse_json(buf, n, path, c, e);
    free(buf);
    return rc;
}

/* The shortest %g form that reads back as x (1e-12, not 9.9999999999999998e-13). */
static void shortest(char *buf, size_t n, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

char *mr_bert_config_to_json(const mr_bert_config *c) {
    char ap[40], hp[40], eps[40];
    shortest(ap, sizeof ap, c->attention_probs_dropout_prob);
    shortest(hp, sizeof hp, c->hidden_dropout_prob);
    shortest(eps, sizeof eps, c->layer_norm_eps);
    char *s = malloc(2048);
    if (!s) return NULL;
    snprintf(s, 2048,
             "{\n"
             "  \"architectures\": [\n    \"BertModel\"\n  ],\n"
             "  \"attention_probs_dropout_prob\": %s,\n"
             "  \"hidden_act\": \"gelu\",\n"
             "  \"hidden_dropout_prob\": %s,\n"
             "  \"hidden_size\": %zu,\n"
             "  \"initializer_range\": 0.02,\n"
             "  \"intermediate_size\": %zu,\n"
             "  \"layer_norm_eps\": %s,\n"
             "  \"max_position_embeddings\": %zu,\n"
             "  \"model_type\": \"bert\",\n"
             "  \"num_attention_heads\": %zu,\n"
             "  \"num_hidden_layers\": %zu,\n"
             "  \"pad_token_id\": 0,\n"
             "  \"position_embedding_type\": \"absolute\",\n"
             "  \"type_vocab_size\": %zu,\n"
             "  \"vocab_size\": %zu\n"
             "}\n",
             ap, hp, c->hidden_size, c->intermediate_size, eps, c->max_position_embeddings, c->num_attention_heads, c->num_hidden_layers,
             c->type_vocab_size, c->vocab_size);
    return s;
}
