/* bert_config.c — BERT sizes and the canonical parameter list. */
#include "ref/core/bert_config.h"

#include <stdio.h>

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
