/* synth.h — synthetic multimodal datasets with known information structure
 * (`mimrl synth`), shaped like CMU-MOSI, CMU-MOSEI or AVEC 2019.
 *
 * Construction (all latents independent N(0, 1), per utterance):
 *   shared      s                       (redundant: seen by every modality)
 *   private     u_t, u_a, u_v           (unique to text, audio, vision)
 *   synergy     w_a, w_v                (the product w_a·w_v: uncorrelated with each factor, not independent of it; planted.h)
 *   observation noise e_t, e_a, e_v; label noise ε
 * Each modality's latent view:
 *   T = (s + σ_o e_t, u_t),  A = (s + σ_o e_a, u_a, w_a),  V = (s + σ_o e_v, u_v, w_v)
 * Label (before the dataset's scaling):
 *   y = c_s s + c_t u_t + c_a u_a + c_v u_v + c_x w_a w_v + σ_y ε
 * Frames: every frame of modality m is A_m·view_m + σ_f·noise with a fixed
 * random matrix A_m [d_m × |view_m|] (seeded), so the pooled mean over n
 * frames recovers A_m·view_m up to σ_f/√n. Text frames are 768-wide token
 * features (one per word plus [CLS], [SEP]) standing in for BERT's last
 * hidden state; transcripts are synthetic words.
 * Labels: MOSI/MOSEI use y clipped to [−3, 3]; AVEC stores a PHQ-8-like
 * 12 + 4y clipped to [0, 24] (schema: raw PHQ-8 scale).
 *
 * Ground truth in meta_json (nats), for the latent views and the unclipped y:
 * I(T;Y), I(A;Y), I(V;Y), I(T;A), I(T;V), I(A;Y|T), I(V;Y|T), I(T;Y|A),
 * I(T;Y|V), I(T;A|Y), I(T;V|Y) — closed form (Gaussian log-determinants) when
 * c_x = 0 or the quantity does not involve y; otherwise a Monte-Carlo value
 * (KSG for MI, Frenzel–Pompe for CMI, k = 5, on mc_samples draws of the
 * latent model), and meta_json says which.
 */
#ifndef MR_SYNTH_H
#define MR_SYNTH_H

#include <stdio.h>

#include "ref/core/common.h"

typedef enum { MR_LIKE_MOSI = 0, MR_LIKE_MOSEI, MR_LIKE_AVEC } mr_like;

typedef struct {
    mr_like like;
    size_t n[3];            /* train, valid, test sizes */
    size_t da, dv, dt;      /* feature widths */
    size_t max_frames;      /* cap on audio/visual lengths (0 = the real maxima) */
    size_t max_words;       /* cap on words per utterance */
    double c_s, c_t, c_a, c_v, c_x, sigma_y, sigma_o, sigma_f;
    unsigned long seed;
    size_t mc_samples;
    /* planted knobs (datasets/planted.h): c_t, c_a, c_v are the uniqueness
     * knobs, c_x the A×V synergy; these add redundancy λ (default 1), T×A and
     * T×V synergy (0) and observation noise σ_n (0). planted = 1 when any knob
     * was given: meta_json then carries the knobs and the three-level ground
     * truth of planted.h; planted = 0 writes exactly the historical files. */
    double redundancy, c_ta, c_tv, sigma_n;
    int planted;
} mr_synth_cfg;

#include "datasets/planted.h"
/* the planted model behind a configuration */
void mr_synth_model(const mr_synth_cfg *c, mr_planted_model *m);

void mr_synth_default(mr_synth_cfg *c, mr_like like);
/* Writes <prefix>_train.npz, _valid.npz, _test.npz (atomically). */
int mr_synth_write(const mr_synth_cfg *c, const char *prefix, FILE *log, mr_error *e);

#endif
