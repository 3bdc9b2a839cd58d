/* hfdir.h — BERT weights without network: a local Hugging Face directory
 * (config.json + model.safetensors), a single safetensors file, or a
 * state_dict saved as npz, loaded into a parameter store (params.h) that
 * holds the `bertmodel.*` tensors of mr_bert_for_each_param (bert_config.h).
 *
 * Name mapping (what transformers 4.x does when it loads a BertModel):
 *   - a leading "bert." (BertForPreTraining / BertForMaskedLM / ...
 *     checkpoints) or "bertmodel." (MIMRL's own state_dict) is removed, then
 *     "bertmodel." is put in front; bare BertModel names get it too;
 *   - old checkpoints' LayerNorm ".gamma" / ".beta" become ".weight" /
 *     ".bias";
 *   - non-parameter entries are ignored and listed in the note: heads under
 *     "cls." (pre-training / MLM heads) and the buffers
 *     "embeddings.position_ids" / "embeddings.token_type_ids"; in an npz also
 *     MIMRL's bookkeeping members (config_json, mimrl_format_version, optim/…,
 *     trainer/…).
 * Every missing, extra (unmapped and not ignorable), duplicated (two file
 * names mapping to one parameter), mis-shaped, non-float or non-finite
 * tensor is reported at once (MR_ESHAPE / MR_EFORMAT, the file named), and
 * the store is untouched on any error. Accepted dtypes: safetensors F64,
 * F32, F16, BF16 (exact conversion); npz <f8, <f4.
 */
#ifndef MR_HFDIR_H
#define MR_HFDIR_H

#include "ref/bert/bert_config.h"
#include "ref/core/params.h"

#define MR_BERT_PREFIX "bertmodel."

/* Register prefix + every BERT parameter of c in p (before mr_params_alloc). */
int mr_bert_params_add(mr_params *p, const mr_bert_config *c, const char *prefix, mr_error *e);

/* Fill the bertmodel.* tensors of an allocated store from path: a
 * .safetensors file, or an .npz state_dict (chosen by the file's first
 * bytes, not its name). The store must hold every bertmodel.* tensor of c
 * (other tensors are left alone). *note (if note non-NULL) receives a
 * malloc'd line listing the ignored entries, or NULL when none. */
int mr_bert_load_weights(mr_params *p, const mr_bert_config *c, const char *path, char **note, mr_error *e);

/* A Hugging Face directory: DIR/config.json → *c, DIR/model.safetensors →
 * the store. When p is not yet allocated, the bertmodel.* tensors are
 * registered and p allocated here (p may already have other tensors
 * registered; on any error p is returned to those registrations,
 * unallocated); when it is, it must hold them with c's shapes. A
 * config.json whose sizes need more parameters than model.safetensors can
 * hold at 2 bytes each is refused before anything is allocated. A sharded
 * checkpoint (model.safetensors.index.json) or a pickle-only directory
 * (pytorch_model.bin) is MR_EUNSUPPORTED with a hint. */
int mr_bert_load_dir(const char *dir, mr_bert_config *c, mr_params *p, char **note, mr_error *e);
/* The same with the weights from `weights` (a .safetensors file or an npz
 * state_dict, by its first bytes) instead of DIR/model.safetensors; NULL is
 * mr_bert_load_dir. DIR still gives config.json (and the caller vocab.txt). */
int mr_bert_load_dir_weights(const char *dir, const char *weights, mr_bert_config *c, mr_params *p, char **note,
                             mr_error *e);

/* Hugging Face's initialisation of a fresh BertModel (_init_weights with
 * initializer_range 0.02): every matrix and embedding ~ normal(0, 0.02)
 * drawn from gsl_rng_mt19937 seeded with seed, in parameter order, row-major
 * (gsl_ran_gaussian); the [PAD] row (id 0) of the word embeddings zeroed
 * (padding_idx); biases 0; LayerNorm weight 1, bias 0. */
void mr_bert_init_hf(mr_params *p, const mr_bert_config *c, const char *prefix, unsigned long seed);

/* The store's prefix.* BERT tensors as model.safetensors under BertModel's
 * own names (no prefix), F64 (exact) or F32, __metadata__ {"format": "pt"};
 * atomic. */
int mr_bert_save_safetensors(const mr_params *p, const mr_bert_config *c, const char *prefix, const char *path,
                             int f32, mr_error *e);

#endif
