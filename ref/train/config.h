/* config.h — the official command-line flags (MIMRL Parameters.py, spec
 * §8.1) mapped onto the model and training configuration. The same names
 * are used on `mimrl train`'s command line (`--batch_size 128`) and as keys
 * of a checkpoint's config_json ({"batch_size": 128, "d_hiddens":
 * "50-3-128=10-3-128", "bias": true, …}); values are written as on the
 * official command line. Missing keys take the official defaults.
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stdio.h>

#include "ref/model/model.h"
#include "ref/nn/optim.h"

typedef struct {
    size_t batch_size, epochs_num, stage1_n;
    double learning_rate, mi_lr_rate, cmi_lr_rate, bert_lr_rate, weight_decay, gradient_clip;
    int sgd;
    mr_lr_kind lr_decrease;
    int lr_decrease_iter[MR_MAX_MILESTONES], n_iter;
    double lr_decrease_rate, radius;
    unsigned long seed;
    int normalize[3], log_scale[3], drop_last;
    char dataset[64], task_name[128], bert_freeze[16];
    size_t nb_hid, nb_out, nb_res; /* block counts seen while parsing */
} mr_train_cfg;

void mr_train_cfg_default(mr_train_cfg *t);

/* Apply one flag (name without leading dashes). Returns MR_OK, 1 when the
 * flag is accepted but means nothing here (a note is printed to `notes`), or
 * MR_EINVAL with a message naming the flag and the value. */
int mr_cfg_apply(mr_model_cfg *m, mr_train_cfg *t, const char *name, const char *value, FILE *notes, mr_error *e);
/* 1 if the flag is a store_true switch (takes no value on the command line). */
int mr_cfg_is_switch(const char *name);
/* Consistency checks after all flags (block counts, widths, …). */
/* Sets m->nb from the parsed block count. */
int mr_cfg_check(mr_model_cfg *m, const mr_train_cfg *t, mr_error *e);
/* The whole configuration as a flat JSON object with the official names. */
char *mr_cfg_to_json(const mr_model_cfg *m, const mr_train_cfg *t);
/* Apply every key of a flat JSON object (config_json). */
int mr_cfg_from_json(mr_model_cfg *m, mr_train_cfg *t, const char *json, const char *what, FILE *notes, mr_error *e);

/* Build a model from a checkpoint: its config_json (official flag names,
 * missing keys at the official defaults), then the parameters by name. */
int mr_model_from_checkpoint(mr_model *m, mr_model_cfg *mc, mr_train_cfg *tc, const char *path, mr_error *e);

#endif
