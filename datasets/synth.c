/* synth.c — see synth.h. */
#include "datasets/synth.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/npz.h"
#include "estimators/knn_mi.h"
#include "estimators/truth.h"

static const char *like_name(mr_like l) { return l == MR_LIKE_MOSI ? "mosi" : l == MR_LIKE_MOSEI ? "mosei" : "avec2019"; }

void mr_synth_default(mr_synth_cfg *c, mr_like like) {
    memset(c, 0, sizeof *c);
    c->like = like;
    if (like == MR_LIKE_MOSI) {
        c->n[0] = 1284, c->n[1] = 229, c->n[2] = 686;
        c->da = 5, c->dv = 20;
    } else if (like == MR_LIKE_MOSEI) {
        c->n[0] = 16326, c->n[1] = 1871, c->n[2] = 4659;
        c->da = 74, c->dv = 35;
    } else {
        c->n[0] = 163, c->n[1] = 56, c->n[2] = 56;
        c->da = 39, c->dv = 49; /* MFCC, OpenFace AU */
    }
    c->dt = 768;
    c->max_words = like == MR_LIKE_AVEC ? 120 : 60;
    c->c_s = 0.8, c->c_t = 0.6, c->c_a = 0.4, c->c_v = 0.4, c->c_x = 0.6;
    c->sigma_y = 0.3, c->sigma_o = 0.5, c->sigma_f = 0.5;
    c->mc_samples = 3000;
    c->redundancy = 1.0;
}

void mr_synth_model(const mr_synth_cfg *c, mr_planted_model *m) {
    m->redundancy = c->redundancy;
    m->c_s = c->c_s, m->c_t = c->c_t, m->c_a = c->c_a, m->c_v = c->c_v;
    m->g_ta = c->c_ta, m->g_tv = c->c_tv, m->g_av = c->c_x;
    m->sigma_o = c->sigma_o, m->sigma_n = c->sigma_n, m->sigma_y = c->sigma_y;
}

/* latent draw: T(2, or 3 with w_t) A(3) V(3), unclipped y — planted.h's model
 * (λ = 1, no T synergy, σ_n = 0: the historical draws, bit for bit) */
static void draw_latent(const mr_synth_cfg *c, gsl_rng *r, double *T, double *A, double *V, double *y) {
    mr_planted_model m;
    mr_synth_model(c, &m);
    mr_planted_draw(&m, r, T, A, V, y);
}

/* ------------------------------------------------------------ ground truth */

/* Covariance of (T0 T1 A0 A1 A2 V0 V1 V2 Y) for the Gaussian part (product term
 * contributes c_x² variance to Y, uncorrelated with everything else). */
static void covariance(const mr_synth_cfg *c, double S[81]) {
    /* rows: loadings on (s, ut, ua, uv, wa, wv, et, ea, ev, eps) */
    double M[9][10] = {{0}};
    M[0][0] = 1, M[0][6] = c->sigma_o;
    M[1][1] = 1;
    M[2][0] = 1, M[2][7] = c->sigma_o;
    M[3][2] = 1;
    M[4][4] = 1;
    M[5][0] = 1, M[5][8] = c->sigma_o;
    M[6][3] = 1;
    M[7][5] = 1;
    M[8][0] = c->c_s, M[8][1] = c->c_t, M[8][2] = c->c_a, M[8][3] = c->c_v, M[8][9] = c->sigma_y;
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++) {
            double v = 0;
            for (int k = 0; k < 10; k++) v += M[i][k] * M[j][k];
            S[i * 9 + j] = v;
        }
    S[80] += c->c_x * c->c_x;
}

typedef struct {
    const char *name;
    int x, y, z; /* blocks: 0 T, 1 A, 2 V, 3 Y; z = −1 for MI */
} quantity;

static const quantity Q[11] = {
    {"I(T;Y)", 0, 3, -1},   {"I(A;Y)", 1, 3, -1},   {"I(V;Y)", 2, 3, -1},   {"I(T;A)", 0, 1, -1},
    {"I(T;V)", 0, 2, -1},   {"I(A;Y|T)", 1, 3, 0},  {"I(V;Y|T)", 2, 3, 0},  {"I(T;Y|A)", 0, 3, 1},
    {"I(T;Y|V)", 0, 3, 2},  {"I(T;A|Y)", 0, 1, 3},  {"I(T;V|Y)", 0, 2, 3},
};

static const size_t blk_off[4] = {0, 2, 5, 8}, blk_len[4] = {2, 3, 3, 1};

static void idx_of(int b, size_t *out) {
    for (size_t k = 0; k < blk_len[b]; k++) out[k] = blk_off[b] + k;
}

/* writes the JSON object of ground truths into buf */
static int ground_truth(const mr_synth_cfg *c, char *buf, size_t n, mr_error *e) {
    double S[81];
    covariance(c, S);
    size_t N = c->mc_samples;
    double *lat = malloc(N * 9 * sizeof *lat);
    double *blk[4];
    for (int b = 0; b < 4; b++) blk[b] = malloc(N * blk_len[b] * sizeof(double));
    if (!lat || !blk[0] || !blk[1] || !blk[2] || !blk[3]) return mr_fail(e, MR_ENOMEM, "out of memory");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, c->seed + 99);
    for (size_t i = 0; i < N; i++) {
        double T[3], A[3], V[3], y;
        draw_latent(c, r, T, A, V, &y);
        memcpy(blk[0] + 2 * i, T, 2 * sizeof(double));
        memcpy(blk[1] + 3 * i, A, sizeof A);
        memcpy(blk[2] + 3 * i, V, sizeof V);
        blk[3][i] = y;
    }
    gsl_rng_free(r);
    free(lat);
    size_t k = (size_t)snprintf(buf, n, "{");
    int rc = MR_OK;
    for (int q = 0; q < 11 && rc == MR_OK; q++) {
        const quantity *qq = &Q[q];
        int involves_y = qq->x == 3 || qq->y == 3 || qq->z == 3;
        int closed = c->c_x == 0.0 || !involves_y;
        double v;
        size_t ix[3], iy[3], iz[3];
        idx_of(qq->x, ix);
        idx_of(qq->y, iy);
        if (qq->z >= 0) idx_of(qq->z, iz);
        if (closed) {
            rc = qq->z < 0 ? mr_gauss_mi(S, 9, ix, blk_len[qq->x], iy, blk_len[qq->y], &v, e)
                           : mr_gauss_cmi(S, 9, ix, blk_len[qq->x], iy, blk_len[qq->y], iz, blk_len[qq->z], &v, e);
        } else {
            v = qq->z < 0 ? mr_ksg_mi(blk[qq->x], blk_len[qq->x], blk[qq->y], blk_len[qq->y], N, 5)
                          : mr_fp_cmi(blk[qq->x], blk_len[qq->x], blk[qq->y], blk_len[qq->y], blk[qq->z], blk_len[qq->z], N, 5);
        }
        k += (size_t)snprintf(buf + k, n - k, "%s\"%s\": {\"value\": %.6f, \"method\": \"%s\"}", q ? ", " : "", qq->name, v,
                              closed ? "closed form (Gaussian)" : "Monte Carlo (KSG / Frenzel-Pompe, k=5)");
    }
    snprintf(buf + k, n - k, "}");
    for (int b = 0; b < 4; b++) free(blk[b]);
    return rc;
}

/* planted mode: the historical keys (value, se, method) plus the whole
 * three-level truth under "planted" */
static int ground_truth_planted(const mr_synth_cfg *c, char *buf, size_t n, mr_error *e) {
    mr_planted_model m;
    mr_synth_model(c, &m);
    mr_planted_truth t;
    int rc = mr_planted_truth_compute(&m, c->mc_samples, c->seed + 99, 0, &t, e);
    if (rc) return rc;
    size_t k = (size_t)snprintf(buf, n, "{");
    for (int q = 0; q < MR_PT_NTERMS; q++)
        k += (size_t)snprintf(buf + k, n - k, "\"%s\": {\"value\": %.6f, \"se\": %.2g, \"method\": \"%s\"}, ", mr_planted_term_names[q],
                              t.term[q].value, t.term[q].se,
                              t.closed || q == 3 || q == 4 ? "closed form (Gaussian)" : "Monte Carlo (exact log-densities)");
    k += (size_t)snprintf(buf + k, n - k, "\"planted\": ");
    k += (size_t)mr_planted_truth_json(&t, buf + k, n - k);
    k += (size_t)snprintf(buf + k, n - k, "}");
    if (k >= n) return mr_fail(e, MR_EINVAL, "synth: ground-truth JSON longer than %zu bytes", n);
    return MR_OK;
}

/* ------------------------------------------------------------------ splits */

typedef struct {
    float *x;
    size_t rows, cap, dim;
    int64_t *off;
} fbuf;

static int fb_reserve(fbuf *f, size_t rows) {
    if (f->rows + rows <= f->cap) return 0;
    size_t nc = f->cap ? f->cap : 1024;
    while (nc < f->rows + rows) nc *= 2;
    float *q = realloc(f->x, nc * f->dim * sizeof *q);
    if (!q) return -1;
    f->x = q;
    f->cap = nc;
    return 0;
}

static size_t draw_len(gsl_rng *r, double median, double sigma, size_t lo, size_t hi) {
    double v = median * exp(sigma * gsl_ran_gaussian(r, 1.0));
    size_t n = (size_t)lround(v);
    return n < lo ? lo : n > hi ? hi : n;
}

/* frames of one modality: n rows of A·view + σ_f noise */
static void frames(fbuf *f, size_t n, const double *Amat, const double *view, size_t k, double sf, gsl_rng *r) {
    for (size_t t = 0; t < n; t++) {
        float *row = f->x + (f->rows + t) * f->dim;
        for (size_t j = 0; j < f->dim; j++) {
            double s = 0;
            for (size_t q = 0; q < k; q++) s += Amat[j * k + q] * view[q];
            row[j] = (float)(s + sf * gsl_ran_gaussian(r, 1.0));
        }
    }
    f->rows += n;
}

static int write_split(const mr_synth_cfg *c, const char *prefix, int split, const double *Aa, const double *Av,
                       const double *At, const char *gt_json, FILE *log, mr_error *e) {
    char knobs[1024] = "";
    if (c->planted)
        snprintf(knobs, sizeof knobs,
                 "\"planted_knobs\": {\"redundancy\": %.17g, \"unique_t\": %.17g, \"unique_a\": %.17g, \"unique_v\": %.17g, "
                 "\"synergy_ta\": %.17g, \"synergy_tv\": %.17g, \"synergy_av\": %.17g, \"obs_noise\": %.17g, \"c_s\": %.17g, "
                 "\"sigma_o\": %.17g, \"sigma_y\": %.17g, \"model\": \"T=(lam s+sigma_o e_t, u_t[, w_t])+obs_noise n, "
                 "A=(lam s+sigma_o e_a, u_a, w_a)+obs_noise n, V=(lam s+sigma_o e_v, u_v, w_v)+obs_noise n, Y=c_s lam s+c_t u_t+c_a "
                 "u_a+c_v u_v+g_ta w_t w_a+g_tv w_t w_v+g_av w_a w_v+sigma_y eps (datasets/planted.h)\"}, ",
                 c->redundancy, c->c_t, c->c_a, c->c_v, c->c_ta, c->c_tv, c->c_x, c->sigma_n, c->c_s, c->sigma_o, c->sigma_y);
    static const char *names[3] = {"train", "valid", "test"};
    size_t N = c->n[split];
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, c->seed + 1 + (unsigned long)split);
    fbuf fa = {0}, fv = {0}, ft = {0};
    fa.dim = c->da, fv.dim = c->dv, ft.dim = c->dt;
    fa.off = calloc(N + 1, sizeof(int64_t));
    fv.off = calloc(N + 1, sizeof(int64_t));
    ft.off = calloc(N + 1, sizeof(int64_t));
    double *label = malloc(N * sizeof *label);
    size_t tcap = 1 << 16, tlen = 0, icap = 1 << 12, ilen = 0;
    char *text = malloc(tcap), *ids = malloc(icap);
    int64_t *toff = calloc(N + 1, sizeof *toff), *ioff = calloc(N + 1, sizeof *ioff);
    int rc = MR_OK;
    if (!fa.off || !fv.off || !ft.off || !label || !text || !ids || !toff || !ioff) {
        rc = mr_fail(e, MR_ENOMEM, "out of memory");
        goto done;
    }
    int avec = c->like == MR_LIKE_AVEC, mosei = c->like == MR_LIKE_MOSEI;
    size_t amax = avec ? 400 : mosei ? 500 : 375, vmax = avec ? 400 : 500;
    if (c->max_frames) {
        if (amax > c->max_frames) amax = c->max_frames;
        if (vmax > c->max_frames) vmax = c->max_frames;
    }
    double med = avec ? 80 : mosei ? 150 : 120;
    size_t kt = (c->c_ta != 0 || c->c_tv != 0) ? 3 : 2;
    size_t clip_count = 0;
    for (size_t i = 0; i < N; i++) {
        double T[3], A[3], V[3], y;
        draw_latent(c, r, T, A, V, &y);
        double lab = avec ? 12 + 4 * y : y, lo = avec ? 0 : -3, hi = avec ? 24 : 3;
        if (lab < lo || lab > hi) clip_count++;
        label[i] = lab < lo ? lo : lab > hi ? hi : lab;
        size_t la = draw_len(r, med, 0.5, 8, amax), lv = draw_len(r, med, 0.5, 8, vmax);
        size_t words = draw_len(r, avec ? 40 : mosei ? 20 : 10, 0.6, 1, c->max_words);
        if (fb_reserve(&fa, la) || fb_reserve(&fv, lv) || fb_reserve(&ft, words + 2)) {
            rc = mr_fail(e, MR_ENOMEM, "out of memory");
            goto done;
        }
        frames(&fa, la, Aa, A, 3, c->sigma_f, r);
        frames(&fv, lv, Av, V, 3, c->sigma_f, r);
        frames(&ft, words + 2, At, T, kt, c->sigma_f, r);
        fa.off[i + 1] = (int64_t)fa.rows;
        fv.off[i + 1] = (int64_t)fv.rows;
        ft.off[i + 1] = (int64_t)ft.rows;
        /* transcript: synthetic words (AVEC: one per "sentence", '\n'-separated) */
        for (size_t w = 0; w < words; w++) {
            if (tlen + 16 > tcap) {
                char *q = realloc(text, tcap *= 2);
                if (!q) {
                    rc = mr_fail(e, MR_ENOMEM, "out of memory");
                    goto done;
                }
                text = q;
            }
            tlen += (size_t)snprintf(text + tlen, tcap - tlen, "%sw%lu", w ? (avec ? "\n" : " ") : "",
                                     gsl_rng_uniform_int(r, 5000));
        }
        toff[i + 1] = (int64_t)tlen;
        if (ilen + 64 > icap) {
            char *q = realloc(ids, icap *= 2);
            if (!q) {
                rc = mr_fail(e, MR_ENOMEM, "out of memory");
                goto done;
            }
            ids = q;
        }
        ilen += (size_t)snprintf(ids + ilen, icap - ilen, "synth_%s_%s_%zu", like_name(c->like), names[split], i);
        ioff[i + 1] = (int64_t)ilen;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s_%s.npz", prefix, names[split]);
    char *meta = malloc(8192 + sizeof knobs + strlen(gt_json));
    if (!meta) {
        rc = mr_fail(e, MR_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(meta, 8192 + sizeof knobs + strlen(gt_json),
             "{\"source\": \"mimrl synth\", \"dataset\": \"%s\", \"split\": \"%s\", \"audio_feat\": \"synthetic-%zu\", "
             "\"vision_feat\": \"synthetic-%zu\", \"text_emb\": \"synthetic-%zu (stand-in for the BERT last hidden state)\", "
             "\"padding_side\": \"none (ragged)\", \"converter_version\": 1, \"seed\": %lu, "
             "\"construction\": {\"c_s\": %g, \"c_t\": %g, \"c_a\": %g, \"c_v\": %g, \"c_x\": %g, \"sigma_y\": %g, "
             "\"sigma_o\": %g, \"sigma_f\": %g, \"label\": \"%s\", \"labels_clipped\": %zu}, "
             "%s\"ground_truth_variables\": \"%s\", \"ground_truth\": %s}",
             like_name(c->like), names[split], c->da, c->dv, c->dt, c->seed, c->c_s, c->c_t, c->c_a, c->c_v, c->c_x, c->sigma_y,
             c->sigma_o, c->sigma_f, avec ? "12 + 4y clipped to [0, 24]" : "y clipped to [-3, 3]", clip_count, knobs,
             c->planted ? "T, A, V = the latent views of planted_knobs.model, Y=unclipped y"
                        : "T=(s+sigma_o e_t, u_t), A=(s+sigma_o e_a, u_a, w_a), V=(s+sigma_o e_v, u_v, w_v), Y=unclipped y",
             gt_json);
    mr_npz_writer w;
    if ((rc = mr_npz_writer_open(&w, path, 0, e))) {
        free(meta);
        goto done;
    }
    int32_t ver = 1;
    uint8_t aligned = 0;
    uint64_t one = 1, sN = N, sN1 = N + 1, sti = tlen, sid = ilen, sm = strlen(meta);
    uint64_t sa[2] = {fa.rows, fa.dim}, sv[2] = {fv.rows, fv.dim}, st[2] = {ft.rows, ft.dim};
    rc = mr_npz_add(&w, "schema_version", MR_DT_I4, 1, &one, &ver, e);
    if (!rc) rc = mr_npz_add(&w, "aligned", MR_DT_U1, 1, &one, &aligned, e);
    if (!rc) rc = mr_npz_add(&w, "label", MR_DT_F8, 1, &sN, label, e);
    if (!rc) rc = mr_npz_add(&w, "id_bytes", MR_DT_U1, 1, &sid, ids, e);
    if (!rc) rc = mr_npz_add(&w, "id_offsets", MR_DT_I8, 1, &sN1, ioff, e);
    if (!rc) rc = mr_npz_add(&w, "text_bytes", MR_DT_U1, 1, &sti, text, e);
    if (!rc) rc = mr_npz_add(&w, "text_offsets", MR_DT_I8, 1, &sN1, toff, e);
    if (!rc) rc = mr_npz_add(&w, "audio", MR_DT_F4, 2, sa, fa.x, e);
    if (!rc) rc = mr_npz_add(&w, "audio_offsets", MR_DT_I8, 1, &sN1, fa.off, e);
    if (!rc) rc = mr_npz_add(&w, "vision", MR_DT_F4, 2, sv, fv.x, e);
    if (!rc) rc = mr_npz_add(&w, "vision_offsets", MR_DT_I8, 1, &sN1, fv.off, e);
    if (!rc) rc = mr_npz_add(&w, "text_emb", MR_DT_F4, 2, st, ft.x, e);
    if (!rc) rc = mr_npz_add(&w, "text_emb_offsets", MR_DT_I8, 1, &sN1, ft.off, e);
    if (!rc) rc = mr_npz_add(&w, "meta_json", MR_DT_U1, 1, &sm, meta, e);
    free(meta);
    if (rc) mr_npz_writer_abort(&w);
    else rc = mr_npz_writer_close(&w, e);
    if (!rc && log)
        fprintf(log, "wrote %s: %zu samples, audio %zu×%zu, vision %zu×%zu, text %zu×%zu frames\n", path, N, fa.rows, fa.dim,
                fv.rows, fv.dim, ft.rows, ft.dim);
done:
    free(fa.x);
    free(fv.x);
    free(ft.x);
    free(fa.off);
    free(fv.off);
    free(ft.off);
    free(label);
    free(text);
    free(ids);
    free(toff);
    free(ioff);
    gsl_rng_free(r);
    return rc;
}

int mr_synth_write(const mr_synth_cfg *c, const char *prefix, FILE *log, mr_error *e) {
    if (c->planted) {
        mr_planted_model m;
        mr_synth_model(c, &m);
        int rc = mr_planted_check(&m, e);
        if (rc) return rc;
    }
    if (c->da == 0 || c->dv == 0 || c->dt == 0 || c->max_words == 0 || c->mc_samples < 10)
        return mr_fail(e, MR_EINVAL, "synth: feature widths, --max-words and the Monte-Carlo sample count must be positive");
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, c->seed);
    size_t kt = (c->c_ta != 0 || c->c_tv != 0) ? 3 : 2, gtn = c->planted ? 32768 : 8192;
    double *Aa = malloc(c->da * 3 * sizeof *Aa), *Av = malloc(c->dv * 3 * sizeof *Av), *At = malloc(c->dt * kt * sizeof *At);
    char *gt = malloc(gtn);
    int rc = (Aa && Av && At && gt) ? MR_OK : mr_fail(e, MR_ENOMEM, "out of memory");
    /* loading matrices with unit-variance entries scaled so each frame feature has variance ≈ 1 */
    for (size_t i = 0; !rc && i < c->da * 3; i++) Aa[i] = gsl_ran_gaussian(r, 1.0) / sqrt(3.0);
    for (size_t i = 0; !rc && i < c->dv * 3; i++) Av[i] = gsl_ran_gaussian(r, 1.0) / sqrt(3.0);
    for (size_t i = 0; !rc && i < c->dt * kt; i++) At[i] = gsl_ran_gaussian(r, 1.0) / sqrt((double)kt);
    if (!rc) rc = c->planted ? ground_truth_planted(c, gt, gtn, e) : ground_truth(c, gt, gtn, e);
    if (!rc && log) fprintf(log, "ground truth (nats): %s\n", gt);
    for (int s = 0; s < 3 && !rc; s++) rc = write_split(c, prefix, s, Aa, Av, At, gt, log, e);
    free(Aa);
    free(Av);
    free(At);
    free(gt);
    gsl_rng_free(r);
    return rc;
}
