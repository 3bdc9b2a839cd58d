/* cli_data.c — `mimrl synth` and the dataset part of `mimrl info`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/dataset.h"
#include "datasets/synth.h"
#include "ref/cli/cli.h"

static const char *SYNTH_HELP =
    "usage: mimrl synth [--like mosi|mosei|avec] [--out PREFIX] [options]\n"
    "writes PREFIX_train.npz, PREFIX_valid.npz, PREFIX_test.npz in the mimrl-npz schema\n"
    "(datasets/SCHEMA.md), with split sizes, feature widths, length distributions and label\n"
    "range like the real dataset, labels built from known latent parts (datasets/synth.h):\n"
    "  y = c_s·s + c_t·u_t + c_a·u_a + c_v·u_v + c_x·w_a·w_v + sigma_y·ε\n"
    "and the implied information quantities in meta_json.ground_truth.\n"
    "options:\n"
    "  --out PREFIX          default build/data/<like>\n"
    "  --seed N              default 0\n"
    "  --mix cs,ct,ca,cv,cx  label coefficients (default 0.8,0.6,0.4,0.4,0.6)\n"
    "  --sigma-y X --sigma-o X --sigma-f X   label, view and frame noise (0.3, 0.5, 0.5)\n"
    "  --n-train N --n-valid N --n-test N    split sizes (default: the real ones)\n"
    "  --max-frames N        cap audio/visual lengths (default: the real maxima 375/500)\n"
    "  --max-words N         cap words per utterance (default 60; AVEC 120)\n"
    "  --mc-samples N        Monte-Carlo draws for non-Gaussian ground truth (3000)\n"
    "planted-information knobs (datasets/planted.h; giving any of them switches meta_json\n"
    "to planted_knobs and the three-level ground truth; without them the files are the\n"
    "historical ones, bit for bit). The model, all latents N(0,1):\n"
    "  T = (λ s + σ_o e_t, u_t [, w_t]) + σ_n n,  A = (λ s + σ_o e_a, u_a, w_a) + σ_n n,\n"
    "  V = (λ s + σ_o e_v, u_v, w_v) + σ_n n      (w_t only with T×A or T×V synergy)\n"
    "  y = c_s λ s + c_t u_t + c_a u_a + c_v u_v + g_ta w_t w_a + g_tv w_t w_v + g_av w_a w_v + σ_y ε\n"
    "  --redundancy λ        shared latent's strength in every view and in the label (1; ≥ 0)\n"
    "  --unique-t c_t --unique-a c_a --unique-v c_v   label weight of the modality's private\n"
    "                        latent, i.e. its unique predictive information (0.6, 0.4, 0.4; ≥ 0)\n"
    "  --synergy-ta g_ta --synergy-tv g_tv --synergy-av g_av   weight of the pair's product,\n"
    "                        uncorrelated with each factor but not independent of it (a factor\n"
    "                        alone tells the label's scale) (0, 0, 0.6; ≥ 0; not all three non-zero)\n"
    "  --obs-noise σ_n       extra Gaussian noise on every view coordinate (0; ≥ 0)\n"
    "  (the label's sd must stay ≤ 3, the clip range; --mix still sets c_s and the defaults)\n"
    "  --truth-only          print the ground truth as JSON and write no files: (a) the 11 MIMRL\n"
    "                        terms on the raw views with F := Y and the composites of spec §4.3\n"
    "                        (inv = I(T;A)+I(T;V), spec_T = I(T;Y|A)+I(T;Y|V)−I(T;A|Y)−I(T;V|Y),\n"
    "                        spec_A = I(A;Y|T)−I(T;A|Y), spec_V = I(V;Y|T)−I(T;V|Y),\n"
    "                        comp = I(T;A|Y)+I(T;V|Y)); (b) the MMI PID of (T,A→Y), (T,V→Y), (A,V→Y):\n"
    "                        R = min(I1,I2), U_i = I_i−R, S = I12−max(I1,I2), and coi = I1+I2−I12;\n"
    "                        nats; closed form when no synergy (Gaussian), else Monte Carlo with se\n";

int mr_cmd_synth(int argc, char **argv) {
    mr_flag fl[] = {{"--like", 1, 0, 0},    {"--out", 1, 0, 0},      {"--seed", 1, 0, 0},      {"--mix", 1, 0, 0},
                    {"--sigma-y", 1, 0, 0}, {"--sigma-o", 1, 0, 0},  {"--sigma-f", 1, 0, 0},   {"--n-train", 1, 0, 0},
                    {"--n-valid", 1, 0, 0}, {"--n-test", 1, 0, 0},   {"--max-frames", 1, 0, 0}, {"--max-words", 1, 0, 0},
                    {"--mc-samples", 1, 0, 0}, {"--help", 0, 0, 0},
                    /* 14.. planted knobs */
                    {"--redundancy", 1, 0, 0}, {"--unique-t", 1, 0, 0}, {"--unique-a", 1, 0, 0}, {"--unique-v", 1, 0, 0},
                    {"--synergy-ta", 1, 0, 0}, {"--synergy-tv", 1, 0, 0}, {"--synergy-av", 1, 0, 0}, {"--obs-noise", 1, 0, 0},
                    {"--truth-only", 0, 0, 0}};
    size_t nf = sizeof fl / sizeof fl[0];
    int rc = mr_parse_flags(argc, argv, 2, fl, nf, "synth");
    if (rc) return rc;
    if (fl[13].seen) {
        fputs(SYNTH_HELP, stdout);
        return 0;
    }
    const char *like = fl[0].value ? fl[0].value : "mosi";
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
    if (fl[2].value) {
        if (mr_parse_ulong("synth", "--seed", fl[2].value, &v)) return 2;
        c.seed = v;
    }
    if (fl[3].value) {
        double m[5];
        char *s = (char *)fl[3].value, *end;
        for (int k = 0; k < 5; k++) {
            errno = 0;
            m[k] = strtod(s, &end);
            if (end == s || errno || (k < 4 && *end != ',') || (k == 4 && *end)) {
                fprintf(stderr, "mimrl synth: --mix expects five numbers cs,ct,ca,cv,cx (got '%s')\n", fl[3].value);
                return 2;
            }
            s = end + 1;
        }
        c.c_s = m[0], c.c_t = m[1], c.c_a = m[2], c.c_v = m[3], c.c_x = m[4];
    }
    double *dd[3] = {&c.sigma_y, &c.sigma_o, &c.sigma_f};
    for (int k = 0; k < 3; k++)
        if (fl[4 + k].value && (mr_parse_double("synth", fl[4 + k].name, fl[4 + k].value, dd[k]) || *dd[k] < 0)) {
            fprintf(stderr, "mimrl synth: %s must be a non-negative number\n", fl[4 + k].name);
            return 2;
        }
    if (c.sigma_o <= 0 || c.sigma_y <= 0) {
        fprintf(stderr, "mimrl synth: --sigma-o and --sigma-y must be positive (the ground truth would be infinite)\n");
        return 2;
    }
    size_t *sz[6] = {&c.n[0], &c.n[1], &c.n[2], &c.max_frames, &c.max_words, &c.mc_samples};
    for (int k = 0; k < 6; k++)
        if (fl[7 + k].value) {
            if (mr_parse_ulong("synth", fl[7 + k].name, fl[7 + k].value, &v) || v == 0 || (k == 3 && v < 8)) {
                fprintf(stderr, "mimrl synth: %s must be a positive integer%s\n", fl[7 + k].name, k == 3 ? " ≥ 8" : "");
                return 2;
            }
            *sz[k] = v;
        }
    double *kn[8] = {&c.redundancy, &c.c_t, &c.c_a, &c.c_v, &c.c_ta, &c.c_tv, &c.c_x, &c.sigma_n};
    for (int k = 0; k < 8; k++)
        if (fl[14 + k].value) {
            if (mr_parse_double("synth", fl[14 + k].name, fl[14 + k].value, kn[k])) return 2;
            c.planted = 1;
        }
    if (fl[22].seen) c.planted = 1;
    if (c.planted) {
        mr_planted_model m;
        mr_synth_model(&c, &m);
        mr_error ke = {0};
        if (mr_planted_check(&m, &ke)) {
            fprintf(stderr, "mimrl synth: %s\n", ke.msg);
            return 2;
        }
    }
    if (fl[22].seen) {
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
    const char *out = fl[1].value ? fl[1].value : def;
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
