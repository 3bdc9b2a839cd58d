/* test_layout.c — the folder layering rule (verify/check_layers.sh): the
 * repository has no upward include, and the check names the offending line
 * when one is planted in a scratch tree. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "verify/helpers.h"

static int run(const char *root, char *out, size_t n) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "bash verify/check_layers.sh %s 2>&1", root);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL, "popen failed");
    size_t len = fread(out, 1, n - 1, p);
    out[len] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(layout, repository_has_no_upward_include) {
    char out[65536];
    int rc = run(".", out, sizeof out);
    cr_assert(rc == 0, "check_layers.sh exited %d:\n%s", rc, out);
    cr_assert(strstr(out, "no upward include") != NULL, "unexpected output: %s", out);
}

static void put(const char *root, const char *rel, const char *text) {
    char path[4096], dir[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", path);
    for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = 0;
        mkdir(dir, 0755);
        *s = '/';
    }
    cr_assert(t_write_file(path, text, strlen(text)) == 0, "cannot write %s", path);
}

/* Plants each {file, text, expected line} alone in the clean tree at root:
 * the check must fail with exactly that one violation, and pass again once
 * the file is removed. */
static void plant_each(const char *root, const char *plant[][3], int n) {
    char out[65536];
    for (int k = 0; k < n; k++) {
        char path[4200];
        put(root, plant[k][0], plant[k][1]);
        cr_assert(run(root, out, sizeof out) == 1, "planted %s not refused:\n%s", plant[k][0], out);
        cr_assert(strstr(out, plant[k][2]) != NULL, "expected \"%s\" in:\n%s", plant[k][2], out);
        cr_assert(strstr(out, "1 violation(s)") != NULL, "%s", out);
        snprintf(path, sizeof path, "%s/%s", root, plant[k][0]);
        remove(path);
    }
    cr_assert(run(root, out, sizeof out) == 0, "clean again:\n%s", out);
}

Test(layout, check_names_an_upward_include) {
    char root[4096], out[65536];
    t_path(root, sizeof root, "layers");
    mkdir(root, 0755);
    put(root, "ref/core/a.h", "#include <stdio.h>\n#include \"ref/core/b.h\"\n");
    put(root, "ref/nn/c.c", "#include \"ref/core/a.h\"\n");
    put(root, "estimators/e.c", "#include \"ref/nn/c.h\"\n");
    put(root, "bench/x.c", "#include \"ref/cli/cli.h\"\n");
    put(root, "ref/api/o.c", "#include \"ref/train/config.h\"\n");
    put(root, "ref/cli/m.c", "#include \"ref/api/oracle.h\"\n");
    cr_assert(run(root, out, sizeof out) == 0, "a tree that only points down was refused:\n%s", out);
    /* one line pointing up, one sideways between siblings, one from bench to verify */
    put(root, "ref/nn/d.c", "/* x */\n\n#include \"ref/model/model.h\"\n");
    put(root, "datasets/s.c", "#include \"ref/model/model.h\"\n");
    put(root, "bench/y.c", "#include \"verify/helpers.h\"\n");
    put(root, "ref/train/u.c", "#include \"ref/api/oracle.h\"\n"); /* ref/api sits above ref/train */
    cr_assert(run(root, out, sizeof out) == 1, "upward includes not refused:\n%s", out);
    cr_assert(strstr(out, "ref/nn/d.c:3: #include \"ref/model/model.h\" points up") != NULL, "%s", out);
    cr_assert(strstr(out, "datasets/s.c:1:") != NULL, "sibling include not named: %s", out);
    cr_assert(strstr(out, "bench/y.c:1:") != NULL, "bench → verify not named: %s", out);
    cr_assert(strstr(out, "ref/train/u.c:1:") != NULL, "train → api not named: %s", out);
    cr_assert(strstr(out, "4 violation(s)") != NULL, "%s", out);
}

/* The loopholes of the first version, each planted alone in a tree that is
 * otherwise clean: an angle-bracket include of the tree (compiles with -I.),
 * a relative one ("../model/model.h" from ref/nn), one from the installed
 * public header into the tree, and a source file in a folder of no layer
 * (paper/) — each must fail and be named; same-folder and downward relative
 * includes must not. */
Test(layout, check_sees_angle_relative_include_and_unlisted_folders) {
    char root[4096], out[65536];
    t_path(root, sizeof root, "layers2");
    mkdir(root, 0755);
    put(root, "ref/core/common.h", "#include <stdio.h>\n");
    put(root, "ref/model/model.h", "#include \"ref/core/common.h\"\n");
    put(root, "ref/nn/rnn.h", "#include \"../core/common.h\"\n");
    put(root, "ref/nn/rnn.c", "#include \"rnn.h\"\n#include <math.h>\n");
    put(root, "include/mimrl/mimrl.h", "#include <stddef.h>\n");
    put(root, "ref/api/mimrl.c", "#include \"mimrl/mimrl.h\"\n#include <mimrl/mimrl.h>\n");
    cr_assert(run(root, out, sizeof out) == 0, "a clean tree was refused:\n%s", out);
    const char *plant[4][3] = {
        {"ref/nn/a.c", "#include <ref/model/model.h>\n", "ref/nn/a.c:1: #include <ref/model/model.h> points up (ref/nn → ref/model)"},
        {"ref/nn/b.c", "#include \"../model/model.h\"\n", "ref/nn/b.c:1: #include \"../model/model.h\" points up (ref/nn → ref/model)"},
        {"include/mimrl/extra.h", "#include \"ref/core/common.h\"\n", "include/mimrl/extra.h:1: #include \"ref/core/common.h\" points up (include → ref/core)"},
        {"paper/tool.c", "#include <stdio.h>\n", "paper/tool.c: in no layer"}};
    plant_each(root, plant, 4);
}

/* ref/bert (BERT's config, weight loaders and layers) sits at rank 2: it may
 * include ref/core and ref/nn, ref/model and everything above may include it,
 * and it is a sibling of estimators (neither includes the other). */
Test(layout, bert_sits_between_nn_and_model) {
    char root[4096], out[65536];
    t_path(root, sizeof root, "layers3");
    mkdir(root, 0755);
    put(root, "ref/core/params.h", "#include <stddef.h>\n");
    put(root, "ref/nn/layers.h", "#include \"ref/core/params.h\"\n");
    put(root, "ref/bert/bert.h", "#include \"ref/core/params.h\"\n#include \"ref/nn/layers.h\"\n");
    put(root, "ref/bert/bert.c", "#include \"bert.h\"\n#include \"ref/bert/hfdir.h\"\n");
    put(root, "ref/bert/hfdir.h", "#include \"../core/params.h\"\n");
    put(root, "ref/model/model.h", "#include \"ref/bert/bert.h\"\n");
    put(root, "ref/cli/cli_bert.c", "#include \"ref/bert/hfdir.h\"\n");
    put(root, "estimators/cmine.h", "#include \"ref/nn/layers.h\"\n");
    cr_assert(run(root, out, sizeof out) == 0, "a tree with ref/bert between ref/nn and ref/model was refused:\n%s", out);
    const char *plant[4][3] = {
        {"ref/bert/up.c", "#include \"ref/model/model.h\"\n", "ref/bert/up.c:1: #include \"ref/model/model.h\" points up (ref/bert → ref/model)"},
        {"ref/bert/side.c", "#include <estimators/cmine.h>\n", "ref/bert/side.c:1: #include <estimators/cmine.h> points up (ref/bert → estimators)"},
        {"estimators/side.c", "#include \"../ref/bert/bert.h\"\n", "estimators/side.c:1: #include \"../ref/bert/bert.h\" points up (estimators → ref/bert)"},
        {"ref/nn/up.c", "#include \"ref/bert/bert.h\"\n", "ref/nn/up.c:1: #include \"ref/bert/bert.h\" points up (ref/nn → ref/bert)"}};
    plant_each(root, plant, 4);
}
