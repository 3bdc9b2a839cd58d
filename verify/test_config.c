/* test_config.c — the official flag table (ref/train/config.c): every entry
 * changes its destination and survives config_json both ways, --help lists
 * every entry, accepted-but-inert flags return MR_OK (not a value that can
 * be mistaken for an error code), presets; the JSON quoting and \u escapes
 * of ref/core/json.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/json.h"
#include "ref/train/config.h"
#include "verify/helpers.h"

/* A valid value different from the default, by kind. */
static const char *other_value(const mr_flag_def *f, char *b, size_t n) {
    static const struct {
        const char *name, *value;
    } custom[] = {{"activate", "tanh"},   {"d_hiddens", "4-3-8=2-3-8"}, {"d_outs", "4-3-8=2-3-8"}, {"res_project", "0-1"},
                  {"bound_type", "smile"}, {"optm", "SGD"},              {"lr_decrease_iter", "3-7"}, {"bert_freeze", "all"},
                  {"dataset", "mosi \"dec\"\\x"}, {"task_name", "run\t\"7\"\n"}};
    for (size_t i = 0; i < sizeof custom / sizeof custom[0]; i++)
        if (!strcmp(f->name, custom[i].name)) return custom[i].value;
    size_t k = 0;
    switch (f->kind) {
    case MR_FK_SIZE: return "7";
    case MR_FK_ULONG: return "12345678901";
    case MR_FK_REAL: return "0.375";
    case MR_FK_BOOL: return "true";
    case MR_FK_LIST:
        for (size_t i = 0; i < (size_t)f->lo; i++) k += (size_t)snprintf(b + k, n - k, "%s0.25", i ? "-" : "");
        return b;
    case MR_FK_FLAGS3: return "1-0-1";
    case MR_FK_ENUM: {
        size_t last = 0;
        while (f->names[last + 1]) last++;
        return f->names[last];
    }
    default: return NULL;
    }
}

Test(config, every_flag_changes_its_field_and_round_trips_through_config_json) {
    size_t tried = 0;
    for (size_t i = 0; i < mr_flag_count; i++) {
        const mr_flag_def *f = &mr_flag_defs[i];
        if (f->kind == MR_FK_IGNORED || f->kind == MR_FK_FIXED) continue;
        char buf[256], v0[1024], v1[1024], what[64];
        const char *v = other_value(f, buf, sizeof buf);
        cr_assert(v, "no test value for --%s", f->name);
        mr_model_cfg m, m2;
        mr_train_cfg t, t2;
        mr_error e = {0};
        mr_model_cfg_default(&m), mr_train_cfg_default(&t);
        mr_cfg_check(&m, &t, &e);
        cr_assert(mr_cfg_value(&m, &t, f, v0, sizeof v0));
        cr_assert(mr_cfg_apply(&m, &t, f->name, v, NULL, &e) == MR_OK, "--%s %s: %s", f->name, v, e.msg);
        cr_assert(mr_cfg_check(&m, &t, &e) == MR_OK, "--%s %s: %s", f->name, v, e.msg);
        cr_assert(mr_cfg_value(&m, &t, f, v1, sizeof v1));
        cr_assert(strcmp(v0, v1) != 0, "--%s %s left the configuration at %s", f->name, v, v0);
        char *j = mr_cfg_to_json(&m, &t);
        cr_assert(j);
        char key[1200];
        snprintf(key, sizeof key, "\"%s\": %s", f->name, v1);
        cr_assert(strstr(j, key), "config_json lacks %s", key);
        mr_model_cfg_default(&m2), mr_train_cfg_default(&t2);
        snprintf(what, sizeof what, "round trip of --%s", f->name);
        cr_assert(mr_cfg_from_json(&m2, &t2, j, what, NULL, &e) == MR_OK, "%s", e.msg);
        char *j2 = mr_cfg_to_json(&m2, &t2);
        cr_assert(j2 && !strcmp(j, j2), "--%s %s:\n%s\n%s", f->name, v, j, j2);
        free(j), free(j2);
        tried++;
    }
    cr_assert(tried > 45, "%zu flags", tried);
}

Test(config, fixed_and_inert_flags) {
    mr_model_cfg m;
    mr_train_cfg t;
    mr_error e = {0};
    mr_model_cfg_default(&m), mr_train_cfg_default(&t);
    char path[512];
    t_path(path, sizeof path, "notes.txt");
    FILE *notes = fopen(path, "w+");
    cr_assert(notes);
    /* accepted but meaningless here: MR_OK (formerly 1 = MR_EIO) and a note */
    cr_assert(mr_cfg_apply(&m, &t, "parallel", "true", notes, &e) == MR_OK);
    cr_assert(mr_cfg_apply(&m, &t, "num_workers", "8", notes, &e) == MR_OK);
    cr_assert(mr_cfg_apply(&m, &t, "radius", "2", notes, &e) == MR_OK && t.radius == 2);
    cr_assert(mr_cfg_apply(&m, &t, "radius", "x", notes, &e) == MR_EINVAL && strstr(e.msg, "--radius"), "%s", e.msg);
    cr_assert(mr_cfg_apply(&m, &t, "task", "regression", notes, &e) == MR_OK);
    cr_assert(mr_cfg_apply(&m, &t, "task", "classification", notes, &e) == MR_EINVAL && strstr(e.msg, "--task"));
    cr_assert(mr_cfg_apply(&m, &t, "num_class", "1", notes, &e) == MR_OK);
    cr_assert(mr_cfg_apply(&m, &t, "num_class", "3", notes, &e) == MR_EINVAL);
    cr_assert(mr_cfg_apply(&m, &t, "frobnicate", "1", notes, &e) == MR_EINVAL && strstr(e.msg, "--frobnicate"));
    fflush(notes);
    rewind(notes);
    char text[2048] = "";
    size_t n = fread(text, 1, sizeof text - 1, notes);
    text[n] = 0;
    fclose(notes);
    cr_assert(strstr(text, "note: --parallel") && strstr(text, "note: --num_workers") && strstr(text, "note: --radius"), "%s", text);
    char *j = mr_cfg_to_json(&m, &t);
    cr_assert(!strstr(j, "parallel") && !strstr(j, "num_workers") && strstr(j, "\"task\": \"regression\", \"num_class\": 1"), "%s", j);
    free(j);
}

Test(config, help_lists_every_flag_and_preset) {
    static char out[1 << 16];
    cr_assert(t_run_cli("train --help", out, sizeof out) == 0, "%s", out);
    for (size_t i = 0; i < mr_flag_count; i++) {
        char k[80];
        snprintf(k, sizeof k, "\n  --%s ", mr_flag_defs[i].name);
        cr_assert(strstr(out, k), "--help lacks --%s", mr_flag_defs[i].name);
    }
    for (size_t i = 0; i < mr_cfg_preset_count; i++) cr_assert(strstr(out, mr_cfg_presets[i].flags), "--help lacks preset %s", mr_cfg_presets[i].name);
    cr_assert(strstr(out, "--overwrite") && strstr(out, "--resume") && strstr(out, "Exit status"));
}

Test(config, readme_preset) {
    mr_model_cfg m;
    mr_train_cfg t;
    mr_error e = {0};
    mr_model_cfg_default(&m), mr_train_cfg_default(&t);
    cr_assert(mr_cfg_apply_preset(&m, &t, "readme", NULL, &e) == MR_OK, "%s", e.msg);
    cr_assert(mr_cfg_check(&m, &t, &e) == MR_OK, "%s", e.msg);
    /* spot checks against the official README command (Run2.ipynb cell 8) */
    cr_assert(t.batch_size == 128 && m.d_common == 128 && m.time_len == 100 && m.bias == 1 && t.stage1_n == 2 && t.epochs_num == 70);
    cr_assert(m.nb == 2 && m.hid[0][0] == 50 && m.hid[1][0] == 10 && m.c2[7] == 0.01 && t.gradient_clip == 1.5);
    cr_assert(t.lr_decrease == MR_LR_MULTISTEP && t.n_iter == 2 && t.lr_decrease_iter[0] == 9 && t.lr_decrease_iter[1] == 60);
    cr_assert(mr_cfg_apply_preset(&m, &t, "nosuch", NULL, &e) == MR_EINVAL && strstr(e.msg, "nosuch"));
    char out[4096];
    cr_assert(t_run_cli("train --preset nosuch", out, sizeof out) == 2 && strstr(out, "nosuch"), "%s", out);
}

Test(config, json_quote_and_unicode_escapes) {
    char b[256];
    mr_json_quote(b, sizeof b, "a\"b\\c\nd\te\x01");
    cr_assert_str_eq(b, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    char doc[400];
    snprintf(doc, sizeof doc, "{\"k\": %s, \"u\": \"\\u00e9\\u20ac\\ud83d\\ude00\"}", b);
    mr_kvlist l;
    mr_error e = {0};
    cr_assert(mr_json_parse_flat(doc, &l, "doc", &e) == MR_OK, "%s", e.msg);
    cr_assert(l.n == 2 && !strcmp(l.kv[0].value, "a\"b\\c\nd\te\x01"));
    cr_assert_str_eq(l.kv[1].value, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    mr_kvlist_free(&l);
    /* a lone surrogate, a NUL and a short escape are refused */
    cr_assert(mr_json_parse_flat("{\"k\": \"\\ud83d\"}", &l, "doc", &e) == MR_EFORMAT);
    cr_assert(mr_json_parse_flat("{\"k\": \"\\u0000\"}", &l, "doc", &e) == MR_EFORMAT);
    cr_assert(mr_json_parse_flat("{\"k\": \"\\u12\"}", &l, "doc", &e) == MR_EFORMAT);
}
