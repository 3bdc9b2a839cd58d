/* bert_config.h — the sizes of a BERT (spec §1.2; Hugging Face's
 * BertConfig of the transformers 4.x era) and the canonical list of its
 * parameters under the official state_dict names (`bertmodel.…`, the name
 * MIMRL's Model gives its BertModel), shapes as PyTorch stores them
 * (Linear weights [out, in]).
 *
 * Shared by the BERT layer (ref/bert/bert.h), the weight loaders (safetensors,
 * Hugging Face directories, npz state_dicts) and `mimrl bert-init`, so the
 * names are written down once.
 */
#ifndef MR_BERT_CONFIG_H
#define MR_BERT_CONFIG_H

#include <stddef.h>

#include "ref/core/common.h"

typedef struct {
    size_t vocab_size;              /* 30522 for bert-base-uncased */
    size_t hidden_size;             /* 768 */
    size_t num_hidden_layers;       /* 12 */
    size_t num_attention_heads;     /* 12 (head size hidden/heads = 64) */
    size_t intermediate_size;       /* 3072 */
    size_t max_position_embeddings; /* 512 */
    size_t type_vocab_size;         /* 2 */
    double layer_norm_eps;          /* 1e-12 */
    double hidden_dropout_prob;     /* 0.1 */
    double attention_probs_dropout_prob; /* 0.1 */
} mr_bert_config;

/* bert-base-uncased's values. */
void mr_bert_config_base(mr_bert_config *c);

/* MR_EINVAL naming the field when a size is 0, hidden is not a multiple of
 * heads, or a probability lies outside [0, 1). */
int mr_bert_config_check(const mr_bert_config *c, const char *what, mr_error *e);

/* Every parameter in state_dict order: embeddings (word [V, H], position
 * [P, H], token_type [T, H], LayerNorm weight/bias [H]); per layer i
 * attention.self.{query,key,value}.{weight [H, H], bias [H]},
 * attention.output.dense.{weight [H, H], bias [H]},
 * attention.output.LayerNorm.{weight, bias} [H], intermediate.dense.{weight
 * [I, H], bias [I]}, output.dense.{weight [H, I], bias [H]},
 * output.LayerNorm.{weight, bias} [H]; pooler.dense.{weight [H, H], bias
 * [H]}. Names are prefix + "embeddings.word_embeddings.weight" etc. (prefix
 * "bertmodel." for the official names). fn returns nonzero to stop (that
 * value is returned). */
typedef int (*mr_bert_param_fn)(void *ctx, const char *name, int ndim, const size_t *shape);
int mr_bert_for_each_param(const mr_bert_config *c, const char *prefix, mr_bert_param_fn fn, void *ctx);


/* Hugging Face config.json (transformers 4.x BertConfig). Reads
 * vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
 * intermediate_size, max_position_embeddings, type_vocab_size (non-negative
 * integers), layer_norm_eps, hidden_dropout_prob,
 * attention_probs_dropout_prob (numbers); a key that is absent takes
 * BertConfig's default (bert-base's value), as HF does. hidden_act must be
 * "gelu" (HF's exact erf GELU), model_type (when present) "bert" and
 * position_embedding_type (when present) "absolute": anything else is
 * MR_EUNSUPPORTED naming the field. Other keys (architectures,
 * initializer_range, pad_token_id, ...) are ignored. The result passes
 * mr_bert_config_check. Errors name the file and the field. */
int mr_bert_config_read_json(const char *path, mr_bert_config *c, mr_error *e);
int mr_bert_config_parse_json(const char *text, size_t len, const char *what, mr_bert_config *c, mr_error *e);
/* The config.json text HF's save_pretrained writes for a BertModel of these
 * sizes (hidden_act gelu, initializer_range 0.02, pad_token_id 0), malloc'd,
 * or NULL when out of memory. */
char *mr_bert_config_to_json(const mr_bert_config *c);

#endif
