/* cli_data.c — `mimrl synth` and the dataset part of `mimrl info`. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset.h"
#include "datasets/synth.h"
#include "ref/cli/cli.h"

typedef struct {
    const char *like, *out, *seed, *mix, *sigma_y, *sigma_o, *sigma_f, *n_train, *n_valid, *n_test, *max_frames, *max_words,
        *mc_samples, *redundancy, *unique_t, *unique_a, *unique_v, *synergy_ta, *synergy_tv, *synergy_av, *obs_noise;
    int truth_only;
} synth_opts;

#define SO(f) MR_OPT_TEXT, offsetof(synth_opts, f)
static const mr_opt SYNTH_OPTS[] = {
    {"--like", SO(like), "mosi", "mosi|mosei|avec", "split sizes, widths, lengths and label range of that dataset", NULL, 0},
    {"--out", SO(out), NULL, "PREFIX", "default build/data/<like>", NULL, 0},
    {"--seed", SO(seed), NULL, "N", "default 0", NULL, 0},
    {"--mix", SO(mix), NULL, "cs,ct,ca,cv,cx", "label coefficients (default 0.8,0.6,0.4,0.4,0.6)", NULL, 0},
    {"--sigma-y", SO(sigma_y), NULL, "X", "label noise (default 0.3)", NULL, 0},
    {"--sigma-o", SO(sigma_o), NULL, "X", "view noise (default 0.5)", NULL, 0},
    {"--sigma-f", SO(sigma_f), NULL, "X", "frame noise (default 0.5)", NULL, 0},
    {"--n-train", SO(n_train), NULL, "N", "split sizes (default: the real ones)", NULL, 0},
    {"--n-valid", SO(n_valid), NULL, "N", "", NULL, 0},
    {"--n-test", SO(n_test), NULL, "N", "", NULL, 0},
    {"--max-frames", SO(max_frames), NULL, "N", "cap audio/visual lengths, ≥ 8 (default: the real maxima 375/500)", NULL, 0},
    {"--max-words", SO(max_words), NULL, "N", "cap words per utterance (default 60; AVEC 120)", NULL, 0},
    {"--mc-samples", SO(mc_samples), NULL, "N", "Monte-Carlo draws for non-Gaussian ground truth (default 3000)", NULL, 0},
    {NULL, MR_OPT_HEADING, 0, NULL, NULL,
     "planted-information knobs (datasets/planted.h; giving any of them switches meta_json\n"
     "to planted_knobs and the three-level ground truth; without them the files are the\n"
     "historical ones, bit for bit). The model, all latents N(0,1):\n"
     "  T = (λ s + σ_o e_t, u_t [, w_t]) + σ_n n,  A = (λ s + σ_o e_a, u_a, w_a) + σ_n n,\n"
     "  V = (λ s + σ_o e_v, u_v, w_v) + σ_n n      (w_t only with T×A or T×V synergy)\n"
     "  y = c_s λ s + c_t u_t + c_a u_a + c_v u_v + g_ta w_t w_a + g_tv w_t w_v + g_av w_a w_v + σ_y ε\n",
     NULL, 0},
    {"--redundancy", SO(redundancy), NULL, "λ", "shared latent's strength in every view and in the label (1; ≥ 0)", NULL, 0},
    {"--unique-t", SO(unique_t), NULL, "c_t", "label weight of the modality's private latent, i.e. its unique\n"
                                              "predictive information (0.6, 0.4, 0.4 for t, a, v; ≥ 0)", NULL, 0},
    {"--unique-a", SO(unique_a), NULL, "c_a", "", NULL, 0},
    {"--unique-v", SO(unique_v), NULL, "c_v", "", NULL, 0},
    {"--synergy-ta", SO(synergy_ta), NULL, "g_ta", "weight of the pair's product, uncorrelated with each factor but not\n"
                                                  "independent of it (a factor alone tells the label's scale)\n"
                                                  "(0, 0, 0.6 for ta, tv, av; ≥ 0; not all three non-zero)", NULL, 0},
    {"--synergy-tv", SO(synergy_tv), NULL, "g_tv", "", NULL, 0},
    {"--synergy-av", SO(synergy_av), NULL, "g_av", "", NULL, 0},
    {"--obs-noise", SO(obs_noise), NULL, "σ_n", "extra Gaussian noise on every view coordinate (0; ≥ 0)", NULL, 0},
    {NULL, MR_OPT_HEADING, 0, NULL, NULL, "  (the label's sd must stay ≤ 3, the clip range; --mix still sets c_s and the defaults)\n", NULL, 0},
    {"--truth-only", MR_OPT_SWITCH, offsetof(synth_opts, truth_only), NULL, NULL,
     "print the ground truth as JSON and write no files: (a) the 11 MIMRL\n"
     "terms on the raw views with F := Y and the composites of spec §4.3\n"
     "(inv = I(T;A)+I(T;V), spec_T = I(T;Y|A)+I(T;Y|V)−I(T;A|Y)−I(T;V|Y),\n"
     "spec_A = I(A;Y|T)−I(T;A|Y), spec_V = I(V;Y|T)−I(T;V|Y),\n"
     "comp = I(T;A|Y)+I(T;V|Y)); (b) the MMI PID of (T,A→Y), (T,V→Y), (A,V→Y):\n"
     "R = min(I1,I2), U_i = I_i−R, S = I12−max(I1,I2), and coi = I1+I2−I12;\n"
     "nats; closed form when no synergy (Gaussian), else Monte Carlo with se", NULL, 0},
};
#undef SO

const mr_cmd_flags mr_flags_synth = {
    "synth", "[--like mosi|mosei|avec] [--out PREFIX] [options]",
    "writes PREFIX_train.npz, PREFIX_valid.npz, PREFIX_test.npz in the mimrl-npz schema\n"
    "(datasets/SCHEMA.md), with split sizes, feature widths, length distributions and label\n"
    "range like the real dataset, labels built from known latent parts (datasets/synth.h):\n"
    "  y = c_s·s + c_t·u_t + c_a·u_a + c_v·u_v + c_x·w_a·w_v + sigma_y·ε\n"
    "and the implied information quantities in meta_json.ground_truth.\n",
    SYNTH_OPTS, MR_OPT_N(SYNTH_OPTS), NULL};

/* The text value at offset off of o. */
static const char *val_at(const synth_opts *o, size_t off) { return *(const char *const *)((const char *)o + off); }

int mr_cmd_synth(int argc, char **argv) {
    synth_opts o = {0};
    int rc = mr_opts_parse(&mr_flags_synth, argc, argv, 2, &o);
    if (rc) return rc == MR_OPTS_HELP ? 0 : rc;
    const char *like = o.like;
    mr_like l;
    if (!strcmp(like, "mosi")) l = MR_LIKE_MOSI;
    else if (!strcmp(like, "mosei")) l = MR_LIKE_MOSEI;
    else if (!strcmp(like, "avec") || !strcmp(like, "avec2019")) l = MR_LIKE_AVEC;
    else {
        fprintf(stderr, "mimrl synth: --like must be mosi, mosei or avec (got '%s')\n", like);
        return 2;
    }
    mr_synth_cfg c;
    mr_synth_default(&c, l);
    unsigned long v;
    if (o.seed) {
        if (mr_parse_ulong("synth", "--seed", o.seed, &v)) return 2;
        c.seed = v;
    }
    if (o.mix) {
        double m[5];
        char *s = (char *)o.mix, *end;
        for (int k = 0; k < 5; k++) {
            errno = 0;
            m[k] = strtod(s, &end);
            if (end == s || errno || (k < 4 && *end != ',') || (k == 4 && *end)) {
                fprintf(stderr, "mimrl synth: --mix expects five numbers cs,ct,ca,cv,cx (got '%s')\n", o.mix);
                return 2;
            }
            s = end + 1;
        }
        c.c_s = m[0], c.c_t = m[1], c.c_a = m[2], c.c_v = m[3], c.c_x = m[4];
    }
    const struct {
        size_t off;
        double *dst;
    } sigmas[] = {{offsetof(synth_opts, sigma_y), &c.sigma_y}, {offsetof(synth_opts, sigma_o), &c.sigma_o},
                  {offsetof(synth_opts, sigma_f), &c.sigma_f}};
    for (size_t k = 0; k < sizeof sigmas / sizeof sigmas[0]; k++) {
        const char *val = val_at(&o, sigmas[k].off), *name = mr_opts_name(&mr_flags_synth, sigmas[k].off);
        if (val && (mr_parse_double("synth", name, val, sigmas[k].dst) || *sigmas[k].dst < 0)) {
            fprintf(stderr, "mimrl synth: %s must be a non-negative number\n", name);
            return 2;
        }
    }
    if (c.sigma_o <= 0 || c.sigma_y <= 0) {
        fprintf(stderr, "mimrl synth: --sigma-o and --sigma-y must be positive (the ground truth would be infinite)\n");
        return 2;
    }
    const struct {
        size_t off, *dst;
        unsigned long min;
    } sizes[] = {{offsetof(synth_opts, n_train), &c.n[0], 1},          {offsetof(synth_opts, n_valid), &c.n[1], 1},
                 {offsetof(synth_opts, n_test), &c.n[2], 1},           {offsetof(synth_opts, max_frames), &c.max_frames, 8},
                 {offsetof(synth_opts, max_words), &c.max_words, 1},   {offsetof(synth_opts, mc_samples), &c.mc_samples, 1}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const char *val = val_at(&o, sizes[k].off), *name = mr_opts_name(&mr_flags_synth, sizes[k].off);
        if (!val) continue;
        if (mr_parse_ulong("synth", name, val, &v) || v < sizes[k].min) {
            fprintf(stderr, "mimrl synth: %s must be a positive integer%s\n", name, sizes[k].min > 1 ? " ≥ 8" : "");
            return 2;
        }
        *sizes[k].dst = v;
    }
    const struct {
        size_t off;
        double *dst;
    } knobs[] = {{offsetof(synth_opts, redundancy), &c.redundancy}, {offsetof(synth_opts, unique_t), &c.c_t},
                 {offsetof(synth_opts, unique_a), &c.c_a},          {offsetof(synth_opts, unique_v), &c.c_v},
                 {offsetof(synth_opts, synergy_ta), &c.c_ta},       {offsetof(synth_opts, synergy_tv), &c.c_tv},
                 {offsetof(synth_opts, synergy_av), &c.c_x},        {offsetof(synth_opts, obs_noise), &c.sigma_n}};
    for (size_t k = 0; k < sizeof knobs / sizeof knobs[0]; k++) {
        const char *val = val_at(&o, knobs[k].off);
        if (!val) continue;
        if (mr_parse_double("synth", mr_opts_name(&mr_flags_synth, knobs[k].off), val, knobs[k].dst)) return 2;
        c.planted = 1;
    }
    if (o.truth_only) c.planted = 1;
    if (c.planted) {
        mr_planted_model m;
        mr_synth_model(&c, &m);
        mr_error ke = {0};
        if (mr_planted_check(&m, &ke)) {
            fprintf(stderr, "mimrl synth: %s\n", ke.msg);
            return 2;
        }
    }
    if (o.truth_only) {
        mr_planted_model m;
        mr_synth_model(&c, &m);
        mr_planted_truth t;
        mr_error te = {0};
        if ((rc = mr_planted_truth_compute(&m, c.mc_samples, c.seed + 99, 0, &t, &te))) {
            fprintf(stderr, "mimrl synth: %s\n", te.msg);
            return rc == MR_EINVAL ? 2 : 1;
        }
        size_t bn = 32768;
        char *buf = malloc(bn);
        if (!buf) return 1;
        mr_planted_truth_json(&t, buf, bn);
        printf("{\"knobs\": {\"redundancy\": %.17g, \"unique_t\": %.17g, \"unique_a\": %.17g, \"unique_v\": %.17g, "
               "\"synergy_ta\": %.17g, \"synergy_tv\": %.17g, \"synergy_av\": %.17g, \"obs_noise\": %.17g, \"c_s\": %.17g, "
               "\"sigma_o\": %.17g, \"sigma_y\": %.17g, \"seed\": %lu}, \"truth\": %s}\n",
               c.redundancy, c.c_t, c.c_a, c.c_v, c.c_ta, c.c_tv, c.c_x, c.sigma_n, c.c_s, c.sigma_o, c.sigma_y, c.seed, buf);
        free(buf);
        return 0;
    }
    char def[256];
    snprintf(def, sizeof def, "build/data/%s", l == MR_LIKE_MOSI ? "mosi" : l == MR_LIKE_MOSEI ? "mosei" : "avec2019");
    const char *out = o.out ? o.out : def;
    /* create the prefix's directory */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    mr_error e = {0};
    if (slash && slash > dir) {
        *slash = '\0';
        if ((rc = mr_mkdir_p(dir, &e))) {
            fprintf(stderr, "mimrl synth: --out %s: %s\n", out, e.msg);
            return 2;
        }
    }
    if ((rc = mr_synth_write(&c, out, stdout, &e))) {
        fprintf(stderr, "mimrl synth: %s\n", e.msg);
        return rc == MR_EIO || rc == MR_EINVAL ? 2 : 1;
    }
    return 0;
}

/* `mimrl info` on a mimrl-npz split: schema validation and a summary. */
int mr_info_dataset(const char *path) {
    mr_dataset d;
    mr_error e = {0};
    if (mr_dataset_open(&d, path, NULL, &e)) {
        printf("schema: INVALID mimrl-npz: %s\n", e.msg);
        return 2;
    }
    size_t amax = 0, vmax = 0, tmax = 0;
    for (size_t i = 0; i < d.N; i++) {
        size_t a = (size_t)(d.audio.off[i + 1] - d.audio.off[i]), v = (size_t)(d.vision.off[i + 1] - d.vision.off[i]);
        if (a > amax) amax = a;
        if (v > vmax) vmax = v;
        if (d.text_emb.off) {
            size_t t = (size_t)(d.text_emb.off[i + 1] - d.text_emb.off[i]);
            if (t > tmax) tmax = t;
        }
    }
    double lmin = d.label[0], lmax = d.label[0];
    for (size_t i = 0; i < d.N; i++) {
        if (d.label[i] < lmin) lmin = d.label[i];
        if (d.label[i] > lmax) lmax = d.label[i];
    }
    printf("schema: valid mimrl-npz v1: %zu samples, labels in [%g, %g], audio %zu-d (max %zu frames), vision %zu-d (max %zu "
           "frames), text_emb %s",
           d.N, lmin, lmax, d.audio.dim, amax, d.vision.dim, vmax, d.text_emb.x ? "" : "absent");
    if (d.text_emb.x) printf("%zu-d (max %zu tokens)", d.text_emb.dim, tmax);
    printf("%s\n", d.aligned ? ", aligned" : "");
    if (d.nonfinite_replaced) printf("note: %zu non-finite feature values would be replaced by 0 at load\n", d.nonfinite_replaced);
    printf("meta_json: %.600s%s\n", d.meta_json ? d.meta_json : "", d.meta_json && strlen(d.meta_json) > 600 ? " …" : "");
    mr_dataset_free(&d);
    return 0;
}
