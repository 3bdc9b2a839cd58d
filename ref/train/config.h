/* config.h — the official command-line flags (MIMRL Parameters.py, spec
 * §8.1) mapped onto the model and training configuration.
 *
 * One table (mr_flag_defs: name, kind, destination, note) drives parsing of
 * `mimrl train`'s command line (`--batch_size 128`), the keys of a
 * checkpoint's config_json and of a run's config.json ({"batch_size": 128,
 * "d_hiddens": "50-3-128=10-3-128", "bias": true, …}; values written as on
 * the official command line, in table order) and `mimrl train --help`.
 * Missing keys take the official defaults. Presets (e.g. "readme", the
 * official README command) are named flag lists over the same table.
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

/* ------------------------------------------------------------ the table */

typedef enum {
    MR_FK_SIZE,    /* whole number ≥ lo                       → size_t   */
    MR_FK_ULONG,   /* whole number                            → unsigned long */
    MR_FK_REAL,    /* finite number ≥ lo                      → double   */
    MR_FK_BOOL,    /* true/false (a store_true switch)        → int      */
    MR_FK_LIST,    /* count dash-separated numbers a-b-…      → double[count] */
    MR_FK_FLAGS3,  /* three 0/1 flags t-a-v                   → int[3]   */
    MR_FK_TEXT,    /* free text                               → char[size] */
    MR_FK_ENUM,    /* one of names[] (or parse())             → enum (int) */
    MR_FK_CUSTOM,  /* set()/show() hooks                                  */
    MR_FK_FIXED,   /* only the value `fixed` is implemented; written as such */
    MR_FK_IGNORED  /* accepted with a note, not stored, not written        */
} mr_flag_kind;

typedef struct mr_flag_def {
    const char *name;            /* official name, without dashes */
    mr_flag_kind kind;
    int model;                   /* destination: 1 mr_model_cfg, 0 mr_train_cfg */
    size_t off;                  /* offsetof the field in that struct */
    double lo;                   /* SIZE/REAL: smallest value; LIST: count; TEXT: size */
    int is_switch;               /* store_true: the value may be omitted on the command line */
    const char *const *names;    /* ENUM: names in enum order (what config.json holds) */
    int (*parse)(const char *);  /* ENUM: parser with aliases; NULL = match names */
    int (*set)(mr_model_cfg *, mr_train_cfg *, const struct mr_flag_def *, const char *, FILE *, mr_error *);
    void (*show)(const mr_model_cfg *, const mr_train_cfg *, char *, size_t); /* JSON value text */
    const char *fixed;           /* FIXED: the one accepted value (JSON text) */
    const char *want;            /* error text: "expected …" */
    const char *given;           /* note printed when the flag is given ("is unused …") */
    const char *note;            /* --help line */
} mr_flag_def;

extern const mr_flag_def mr_flag_defs[];
extern const size_t mr_flag_count;

/* The table entry of a flag, or NULL. */
const mr_flag_def *mr_flag_find(const char *name);

/* Apply one flag (name without leading dashes). Returns MR_OK (a flag that
 * is accepted but means nothing here prints a note to `notes` and returns
 * MR_OK too) or MR_EINVAL with a message naming the flag and the value. */
int mr_cfg_apply(mr_model_cfg *m, mr_train_cfg *t, const char *name, const char *value, FILE *notes, mr_error *e);
/* 1 if the flag is a store_true switch (takes no value on the command line). */
int mr_cfg_is_switch(const char *name);
/* Consistency checks after all flags (block counts, widths, …); sets m->nb
 * from the parsed block count. */
int mr_cfg_check(mr_model_cfg *m, const mr_train_cfg *t, mr_error *e);
/* The whole configuration as a flat JSON object with the official names,
 * in table order (malloc'd; NULL when out of memory). */
char *mr_cfg_to_json(const mr_model_cfg *m, const mr_train_cfg *t);
/* The JSON value text of one flag (e.g. "128", "\"gru\"", "true"); 0 if the
 * flag is not written to config_json (IGNORED). */
int mr_cfg_value(const mr_model_cfg *m, const mr_train_cfg *t, const mr_flag_def *f, char *buf, size_t n);
/* Apply every key of a flat JSON object (config_json). */
int mr_cfg_from_json(mr_model_cfg *m, mr_train_cfg *t, const char *json, const char *what, FILE *notes, mr_error *e);
/* Every flag of the table with its default and note, for --help. */
void mr_cfg_help(FILE *f);

/* ----------------------------------------------------------- presets */

typedef struct {
    const char *name, *about;
    const char *flags; /* "--batch_size 128 --bias …" as on the command line */
} mr_cfg_preset;

extern const mr_cfg_preset mr_cfg_presets[];
extern const size_t mr_cfg_preset_count;
const mr_cfg_preset *mr_cfg_preset_find(const char *name);
/* Apply a preset's flags in order; MR_EINVAL names an unknown preset. */
int mr_cfg_apply_preset(mr_model_cfg *m, mr_train_cfg *t, const char *name, FILE *notes, mr_error *e);

/* Build a model from a checkpoint: its config_json (official flag names,
 * missing keys at the official defaults), then the parameters by name. */
int mr_model_from_checkpoint(mr_model *m, mr_model_cfg *mc, mr_train_cfg *tc, const char *path, mr_error *e);

#endif
