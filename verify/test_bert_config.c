/* test_bert_config.c — ref/bert/bert_config: BERT sizes and the canonical
 * parameter list. bert-base-uncased's BertModel has 199 tensors and
 * 109,482,240 parameters (embeddings 23,837,184; 12 layers of 7,087,872;
 * pooler 590,592 — each count from the shapes of spec §1.2). */
#include <criterion/criterion.h>
#include <string.h>

#include "ref/bert/bert_config.h"
#include "verify/helpers.h"

typedef struct {
    size_t n, total;
    char first[256], last[256];
    int bad;
} tally;

static int count(void *ctx, const char *name, int ndim, const size_t *shape) {
    tally *t = ctx;
    size_t s = 1;
    for (int d = 0; d < ndim; d++) s *= shape[d];
    if (t->n == 0) snprintf(t->first, sizeof t->first, "%s", name);
    snprintf(t->last, sizeof t->last, "%s", name);
    t->bad |= strncmp(name, "bertmodel.", 10) != 0;
    t->n++;
    t->total += s;
    return 0;
}

Test(bert_config, base_parameter_list) {
    mr_bert_config c;
    mr_bert_config_base(&c);
    mr_error e;
    cr_assert(mr_bert_config_check(&c, "base", &e) == MR_OK, "%s", e.msg);
    tally t = {0};
    cr_assert(mr_bert_for_each_param(&c, "bertmodel.", count, &t) == 0);
    cr_assert(t.n == 199, "%zu tensors", t.n);
    /* embeddings (30522 + 512 + 2)·768 + 2·768; per layer 4·(768² + 768) +
     * 2·768·3072 + 3072 + 768 + 4·768; pooler 768² + 768 */
    size_t emb = (30522 + 512 + 2) * 768 + 2 * 768, layer = 4 * (768 * 768 + 768) + 2 * 768 * 3072 + 3072 + 768 + 4 * 768,
           pool = 768 * 768 + 768;
    cr_assert(emb == 23837184 && layer == 7087872 && pool == 590592);
    cr_assert(t.total == emb + 12 * layer + pool && t.total == 109482240, "%zu parameters", t.total);
    cr_assert(strcmp(t.first, "bertmodel.embeddings.word_embeddings.weight") == 0, "%s", t.first);
    cr_assert(strcmp(t.last, "bertmodel.pooler.dense.bias") == 0, "%s", t.last);
    cr_assert(!t.bad);
}

static int stop_at_third(void *ctx, const char *name, int ndim, const size_t *shape) {
    (void)name, (void)ndim, (void)shape;
    return ++*(int *)ctx == 3 ? 42 : 0;
}

Test(bert_config, callback_stops_the_walk) {
    mr_bert_config c;
    mr_bert_config_base(&c);
    int n = 0;
    cr_assert(mr_bert_for_each_param(&c, "", stop_at_third, &n) == 42 && n == 3);
}

Test(bert_config, bad_sizes_named) {
    mr_bert_config c;
    mr_error e;
    mr_bert_config_base(&c);
    c.num_attention_heads = 5;
    cr_assert(mr_bert_config_check(&c, "cfg.json", &e) == MR_EINVAL && strstr(e.msg, "cfg.json") && strstr(e.msg, "multiple"));
    mr_bert_config_base(&c);
    c.intermediate_size = 0;
    cr_assert(mr_bert_config_check(&c, "cfg.json", &e) == MR_EINVAL && strstr(e.msg, "intermediate_size"));
    mr_bert_config_base(&c);
    c.attention_probs_dropout_prob = 1.0;
    cr_assert(mr_bert_config_check(&c, "cfg.json", &e) == MR_EINVAL && strstr(e.msg, "attention_probs_dropout_prob"));
}
