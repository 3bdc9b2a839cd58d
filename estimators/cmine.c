/* cmine.c — see cmine.h. */
#include "estimators/cmine.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/nn/losses.h"

static const char *const ro_names[MR_CMI_READ_COUNT] = {"mimrl", "nwj", "dv"};

const char *mr_cmi_readout_name(mr_cmi_readout r) { return (r >= 0 && r < MR_CMI_READ_COUNT) ? ro_names[r] : "?"; }

int mr_cmi_readout_parse(const char *name) {
    for (int i = 0; i < MR_CMI_READ_COUNT; i++)
        if (strcmp(name, ro_names[i]) == 0) return i;
    return -1;
}

int mr_cmi_head_parse(const char *name) {
    if (strcmp(name, "sigmoid") == 0) return MR_CMI_HEAD_SIGMOID;
    if (strcmp(name, "hardtanh") == 0) return MR_CMI_HEAD_HARDTANH;
    return -1;
}

int mr_cmi_register(mr_cmi *c, mr_params *p, const char *prefix, size_t d, size_t hidden,
                    mr_cmi_head head, mr_error *e) {
    memset(c, 0, sizeof *c);
    c->d = d;
    c->head = head;
    char name[MR_NAME_MAX];
    snprintf(name, sizeof name, "%s.classifier.mlp", prefix);
    size_t dims[5] = {3 * d, hidden, hidden, hidden, 2};
    return mr_mlp_register(&c->mlp, p, name, dims, 4, 1, MR_ACT_RELU, e);
}

void mr_cmi_init(const mr_cmi *c, mr_params *p, gsl_rng *r) { mr_mlp_init(&c->mlp, p, r, 0); }

/* ---------------------------------------------------------------- sampling */

/* work layout (bytes): draw — perm int64 [N]; neighbours — best distances
 * double [k] | best indices int64 [k] | is_anchor [N] */
size_t mr_knn_work_bytes(size_t N, size_t k) { return 8 * (N ? N : 1) + 16 * (k ? k : 1); }

int mr_knn_draw_anchors_ws(size_t N, size_t m, gsl_rng *r, int64_t *anchors, void *work, mr_error *e) {
    if (m > N) return mr_fail(e, MR_EINVAL, "cannot draw %zu distinct anchors from a bank of %zu rows", m, N);
    int64_t *perm = work;
    for (size_t i = 0; i < N; i++) perm[i] = (int64_t)i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + gsl_rng_uniform_int(r, N - i);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        anchors[i] = perm[i];
    }
    return MR_OK;
}

int mr_knn_draw_anchors(size_t N, size_t m, gsl_rng *r, int64_t *anchors, mr_error *e) {
    void *w = malloc(mr_knn_work_bytes(N, 1));
    if (!w) return mr_fail(e, MR_ENOMEM, "out of memory");
    int rc = mr_knn_draw_anchors_ws(N, m, r, anchors, w, e);
    free(w);
    return rc;
}

int mr_knn_neighbors_ws(const double *Z, size_t dZ, size_t N, const int64_t *anchors, size_t m,
                        size_t k, int64_t *neighbors, void *work, mr_error *e) {
    double *bd = work;
    int64_t *bi = (int64_t *)(bd + (k ? k : 1));
    unsigned char *is_anchor = (unsigned char *)(bi + (k ? k : 1));
    memset(is_anchor, 0, N);
    for (size_t a = 0; a < m; a++) {
        if (anchors[a] < 0 || (size_t)anchors[a] >= N)
            return mr_fail(e, MR_EINVAL, "anchor %lld outside the bank of %zu rows", (long long)anchors[a], N);
        if (is_anchor[anchors[a]]) return mr_fail(e, MR_EINVAL, "anchor %lld given twice", (long long)anchors[a]);
        is_anchor[anchors[a]] = 1;
    }
    if (N - m < k)
        return mr_fail(e, MR_EINVAL, "%zu neighbours requested but only %zu non-anchor rows in the bank", k, N - m);
    for (size_t a = 0; a < m; a++) {
        const double *zs = Z + (size_t)anchors[a] * dZ;
        size_t have = 0;
        for (size_t i = 0; i < N; i++) {
            if (is_anchor[i]) continue;
            const double *zi = Z + i * dZ;
            double dist = 0.0;
            for (size_t f = 0; f < dZ; f++) dist += (zi[f] - zs[f]) * (zi[f] - zs[f]);
            /* keep the k best by (distance, index); i increases, so an equal
             * distance never displaces an earlier index */
            if (have == k && !(dist < bd[k - 1])) continue;
            size_t pos = have < k ? have++ : k - 1;
            while (pos > 0 && dist < bd[pos - 1]) {
                bd[pos] = bd[pos - 1];
                bi[pos] = bi[pos - 1];
                pos--;
            }
            bd[pos] = dist;
            bi[pos] = (int64_t)i;
        }
        memcpy(neighbors + a * k, bi, k * sizeof *bi);
    }
    return MR_OK;
}

int mr_knn_neighbors(const double *Z, size_t dZ, size_t N, const int64_t *anchors, size_t m,
                     size_t k, int64_t *neighbors, mr_error *e) {
    void *w = malloc(mr_knn_work_bytes(N, k));
    if (!w) return mr_fail(e, MR_ENOMEM, "out of memory");
    int rc = mr_knn_neighbors_ws(Z, dZ, N, anchors, m, k, neighbors, w, e);
    free(w);
    return rc;
}

static int tile_factor(size_t d, size_t dmax, const char *what, size_t *t, mr_error *e) {
    if (d == 0 || dmax % d != 0)
        return mr_fail(e, MR_ESHAPE, "%s block width %zu does not divide %zu (cannot tile)", what, d, dmax);
    *t = dmax / d;
    return MR_OK;
}

static void put_tiled(double *dst, const double *src, size_t d, size_t t) {
    for (size_t r = 0; r < t; r++) memcpy(dst + r * d, src, d * sizeof *dst);
}

int mr_knn_product_rows(const double *X, size_t dX, const double *Y, size_t dY, const double *Z,
                        size_t dZ, const int64_t *anchors, size_t m, size_t k,
                        const int64_t *neighbors, size_t dmax, double *P, mr_error *e) {
    size_t tx = 0, ty = 0, tz = 0;
    int rc;
    if ((rc = tile_factor(dX, dmax, "X", &tx, e)) || (rc = tile_factor(dY, dmax, "Y", &ty, e)) ||
        (rc = tile_factor(dZ, dmax, "Z", &tz, e)))
        return rc;
    for (size_t a = 0; a < m; a++)
        for (size_t j = 0; j < k; j++) {
            double *row = P + (a * k + j) * 3 * dmax;
            put_tiled(row, X + (size_t)neighbors[a * k + j] * dX, dX, tx);
            put_tiled(row + dmax, Y + (size_t)anchors[a] * dY, dY, ty);
            put_tiled(row + 2 * dmax, Z + (size_t)anchors[a] * dZ, dZ, tz);
        }
    return MR_OK;
}

int mr_cmi_joint_rows(const double *fx, size_t dx, const double *fy, size_t dy, const double *fz,
                      size_t dz, size_t Mp, size_t dmax, double *J, mr_error *e) {
    size_t tx = 0, ty = 0, tz = 0;
    int rc;
    if ((rc = tile_factor(dx, dmax, "x", &tx, e)) || (rc = tile_factor(dy, dmax, "y", &ty, e)) ||
        (rc = tile_factor(dz, dmax, "z", &tz, e)))
        return rc;
    for (size_t r = 0; r < Mp; r++) {
        double *row = J + r * 3 * dmax;
        put_tiled(row, fx + r * dx, dx, tx);
        put_tiled(row + dmax, fy + r * dy, dy, ty);
        put_tiled(row + 2 * dmax, fz + r * dz, dz, tz);
    }
    return MR_OK;
}

static void sum_tiles(double *dst, const double *src, size_t d, size_t dmax) {
    if (!dst) return;
    for (size_t r = 0; r < dmax / d; r++)
        for (size_t f = 0; f < d; f++) dst[f] += src[r * d + f];
}

void mr_cmi_joint_rows_backward(const double *dJ, size_t dx, size_t dy, size_t dz, size_t Mp,
                                size_t dmax, double *dfx, double *dfy, double *dfz) {
    for (size_t r = 0; r < Mp; r++) {
        const double *row = dJ + r * 3 * dmax;
        sum_tiles(dfx ? dfx + r * dx : NULL, row, dx, dmax);
        sum_tiles(dfy ? dfy + r * dy : NULL, row + dmax, dy, dmax);
        sum_tiles(dfz ? dfz + r * dz : NULL, row + 2 * dmax, dz, dmax);
    }
}

/* --------------------------------------------------------------- estimator */

/* work: rows [2M'·3d] | cache | logits [4M'] | o [4M'] | t [4M'] | g [4M'] | drows [2M'·3d] | mlp work */
size_t mr_cmi_work_size(const mr_cmi *c, size_t Mp) {
    size_t R = 2 * Mp;
    return 2 * R * 3 * c->d + mr_mlp_cache_size(&c->mlp, R) + 4 * 2 * R + mr_mlp_work_size(&c->mlp, R);
}

typedef struct {
    double *rows, *cache, *logits, *o, *t, *g, *drows, *mw;
} cmi_ws;

static cmi_ws carve(const mr_cmi *c, size_t Mp, double *w) {
    size_t R = 2 * Mp;
    cmi_ws s;
    s.rows = w;
    s.cache = s.rows + R * 3 * c->d;
    s.logits = s.cache + mr_mlp_cache_size(&c->mlp, R);
    s.o = s.logits + 2 * R;
    s.t = s.o + 2 * R;
    s.g = s.t + 2 * R;
    s.drows = s.g + 2 * R;
    s.mw = s.drows + R * 3 * c->d;
    return s;
}

static double readout(mr_cmi_readout ro, const double *o, size_t Mp) {
    double n = 2.0 * (double)Mp;
    if (ro == MR_CMI_READ_MIMRL) {
        double s1 = 0.0, s2 = 0.0;
        for (size_t r = 0; r < Mp; r++) s1 += log(o[2 * r] / (1.0 - o[2 * r] + 1e-6));
        for (size_t r = Mp; r < 2 * Mp; r++) s2 += log(o[2 * r] / (1.0 - o[2 * r] + 1e-6));
        return 1.0 + s1 / n - s2 / n;
    }
    double lj = 0.0, rp = 0.0;
    for (size_t r = 0; r < Mp; r++) lj += log(o[2 * r] / (1.0 - o[2 * r]));
    for (size_t r = Mp; r < 2 * Mp; r++) rp += o[2 * r] / (1.0 - o[2 * r]);
    lj /= (double)Mp;
    rp /= (double)Mp;
    return ro == MR_CMI_READ_NWJ ? 1.0 + lj - rp : lj - log(rp);
}

mr_cmi_out mr_cmi_forward(const mr_cmi *c, const mr_params *p, const double *J, const double *P,
                          size_t Mp, mr_cmi_readout ro, double *work) {
    cmi_ws s = carve(c, Mp, work);
    size_t R = 2 * Mp, W = 3 * c->d;
    memcpy(s.rows, J, Mp * W * sizeof *s.rows);
    memcpy(s.rows + Mp * W, P, Mp * W * sizeof *s.rows);
    mr_mlp_forward(&c->mlp, p, s.rows, R, s.cache, s.logits);
    for (size_t i = 0; i < 2 * R; i++) {
        double z = s.logits[i] < -10.0 ? -10.0 : (s.logits[i] > 10.0 ? 10.0 : s.logits[i]);
        if (c->head == MR_CMI_HEAD_SIGMOID) {
            s.o[i] = z >= 0.0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
        } else {
            s.o[i] = z < 1e-4 ? 1e-4 : (z > 1.0 - 1e-4 ? 1.0 - 1e-4 : z);
        }
        size_t row = i / 2, col = i % 2;
        s.t[i] = (row < Mp) == (col == 0) ? 1.0 : 0.0;
    }
    mr_cmi_out out;
    out.bce = mr_loss_bce(s.o, s.t, 2 * R, NULL, 0.0);
    out.cmi = readout(ro, s.o, Mp);
    return out;
}

double mr_cmi_readout_value(const mr_cmi *c, size_t Mp, mr_cmi_readout ro, const double *work) {
    cmi_ws s = carve(c, Mp, (double *)work);
    return readout(ro, s.o, Mp);
}

static void mean_var(const double *v, size_t n, double *m, double *var) {
    double a = 0.0, b = 0.0;
    for (size_t i = 0; i < n; i++) a += v[i];
    a /= (double)n;
    for (size_t i = 0; i < n; i++) b += (v[i] - a) * (v[i] - a);
    *m = a;
    *var = n > 1 ? b / (double)(n - 1) : 0.0;
}

double mr_cmi_readout_se(const mr_cmi *c, size_t Mp, mr_cmi_readout ro, const double *work) {
    cmi_ws s = carve(c, Mp, (double *)work);
    double *tj = malloc(Mp * sizeof *tj), *tp = malloc(Mp * sizeof *tp);
    if (!tj || !tp) {
        free(tj);
        free(tp);
        return NAN;
    }
    for (size_t r = 0; r < Mp; r++) {
        double gj = s.o[2 * r], gp = s.o[2 * (Mp + r)];
        if (ro == MR_CMI_READ_MIMRL) {
            tj[r] = log(gj / (1.0 - gj + 1e-6));
            tp[r] = log(gp / (1.0 - gp + 1e-6));
        } else {
            tj[r] = log(gj / (1.0 - gj));
            tp[r] = gp / (1.0 - gp);
        }
    }
    double mj, vj, mp, vp;
    mean_var(tj, Mp, &mj, &vj);
    mean_var(tp, Mp, &mp, &vp);
    free(tj);
    free(tp);
    double M = (double)Mp;
    if (ro == MR_CMI_READ_MIMRL) return sqrt((vj + vp) / (4.0 * M));
    if (ro == MR_CMI_READ_NWJ) return sqrt(vj / M + vp / M);
    return sqrt(vj / M + vp / (M * mp * mp));
}

void mr_cmi_backward(const mr_cmi *c, mr_params *p, size_t Mp, mr_cmi_readout ro, double g_cmi,
                     double g_bce, double *dJ, double *work) {
    cmi_ws s = carve(c, Mp, work);
    size_t R = 2 * Mp, W = 3 * c->d;
    memset(s.g, 0, 2 * R * sizeof *s.g);
    if (g_bce != 0.0) mr_loss_bce(s.o, s.t, 2 * R, s.g, g_bce);
    if (g_cmi != 0.0) {
        /* ∂CMI/∂γ on column 0 */
        double rp = 0.0;
        if (ro == MR_CMI_READ_DV) {
            for (size_t r = Mp; r < R; r++) rp += s.o[2 * r] / (1.0 - s.o[2 * r]);
            rp /= (double)Mp;
        }
        for (size_t r = 0; r < R; r++) {
            double gm = s.o[2 * r], d;
            int joint = r < Mp;
            if (ro == MR_CMI_READ_MIMRL) {
                d = (1.0 / gm + 1.0 / (1.0 - gm + 1e-6)) / (2.0 * (double)Mp);
                if (!joint) d = -d;
            } else if (joint) {
                d = (1.0 / gm + 1.0 / (1.0 - gm)) / (double)Mp;
            } else {
                double dr = 1.0 / ((1.0 - gm) * (1.0 - gm)) / (double)Mp;
                d = ro == MR_CMI_READ_NWJ ? -dr : -dr / rp;
            }
            s.g[2 * r] += g_cmi * d;
        }
    }
    /* head, clamp: gradient w.r.t. the logits, in place */
    for (size_t i = 0; i < 2 * R; i++) {
        double x = s.logits[i], z = x < -10.0 ? -10.0 : (x > 10.0 ? 10.0 : x), g = s.g[i];
        if (c->head == MR_CMI_HEAD_SIGMOID) g *= (1.0 - s.o[i]) * s.o[i];
        else g = (z > 1e-4 && z < 1.0 - 1e-4) ? g : 0.0;
        s.g[i] = (x >= -10.0 && x <= 10.0) ? g : 0.0; /* torch.clamp passes at the bounds */
    }
    memset(s.drows, 0, R * W * sizeof *s.drows);
    mr_mlp_backward(&c->mlp, p, s.rows, R, s.cache, s.g, dJ ? s.drows : NULL, s.mw);
    if (dJ)
        for (size_t i = 0; i < Mp * W; i++) dJ[i] += s.drows[i];
}

/* ---------------------------------------------------------------- trainer */

int mr_cmi_trainer_init(mr_cmi_trainer *t, size_t d, size_t hidden, mr_cmi_head head, double lr, const double *J,
                        const double *P, size_t Mp, size_t batch, size_t Mp_eval, gsl_rng *r_init, mr_error *e) {
    memset(t, 0, sizeof *t);
    mr_params_init(&t->p);
    if (Mp == 0 || batch == 0)
        return mr_fail(e, MR_EINVAL, "cmine trainer: %zu training rows, batch %zu (both must be positive)", Mp, batch);
    t->J = J, t->P = P, t->Mp = Mp, t->Mp_eval = Mp_eval;
    t->batch = batch < Mp ? batch : Mp;
    int rc = mr_cmi_register(&t->cm, &t->p, "estimator", d, hidden, head, e);
    if (!rc) rc = mr_params_alloc(&t->p, e);
    if (rc) return rc;
    mr_cmi_init(&t->cm, &t->p, r_init);
    mr_optim_adam(&t->opt, &t->p, 0.0);
    size_t *all = malloc(t->p.n * sizeof *all);
    if (!all) return mr_fail(e, MR_ENOMEM, "cmine trainer: out of memory (%zu tensor indices)", t->p.n);
    rc = mr_optim_add_group(&t->opt, all, mr_params_select(&t->p, NULL, NULL, all), lr, e);
    free(all);
    if (rc) return rc;
    size_t W = 3 * t->cm.d, wsz = mr_cmi_work_size(&t->cm, t->batch), wsz_e = mr_cmi_work_size(&t->cm, Mp_eval);
    if (wsz_e > wsz) wsz = wsz_e;
    t->work = malloc(wsz * sizeof *t->work);
    t->bj = malloc(t->batch * W * sizeof *t->bj);
    t->bp = malloc(t->batch * W * sizeof *t->bp);
    t->order = malloc(2 * Mp * sizeof *t->order);
    if (!t->work || !t->bj || !t->bp || !t->order)
        return mr_fail(e, MR_ENOMEM, "cmine trainer: out of memory (%zu doubles of workspace, 2 × %zu × %zu rows, %zu indices)",
                       wsz, t->batch, W, 2 * Mp);
    return MR_OK;
}

double mr_cmi_trainer_epoch(mr_cmi_trainer *t, gsl_rng *r) {
    size_t Mp = t->Mp, bs = t->batch, W = 3 * t->cm.d, *order = t->order;
    for (size_t i = 0; i < Mp; i++) order[i] = i, order[Mp + i] = i;
    gsl_ran_shuffle(r, order, Mp, sizeof *order);
    gsl_ran_shuffle(r, order + Mp, Mp, sizeof *order);
    double bsum = 0;
    size_t nb = 0;
    for (size_t s = 0; s + bs <= Mp; s += bs) {
        for (size_t i = 0; i < bs; i++) {
            memcpy(t->bj + i * W, t->J + order[s + i] * W, W * sizeof *t->bj);
            memcpy(t->bp + i * W, t->P + order[Mp + s + i] * W, W * sizeof *t->bp);
        }
        mr_cmi_out o = mr_cmi_forward(&t->cm, &t->p, t->bj, t->bp, bs, MR_CMI_READ_MIMRL, t->work);
        mr_params_zero_grad(&t->p);
        mr_cmi_backward(&t->cm, &t->p, bs, MR_CMI_READ_MIMRL, 0.0, 1.0, NULL, t->work);
        mr_optim_step(&t->opt);
        bsum += o.bce;
        nb++;
    }
    return bsum / (double)nb;
}

mr_cmi_out mr_cmi_trainer_eval(mr_cmi_trainer *t, const double *Je, const double *Pe, size_t Mpe, mr_cmi_readout ro) {
    return mr_cmi_forward(&t->cm, &t->p, Je, Pe, Mpe, ro, t->work);
}

void mr_cmi_trainer_free(mr_cmi_trainer *t) {
    free(t->work);
    free(t->bj);
    free(t->bp);
    free(t->order);
    mr_optim_free(&t->opt);
    mr_params_free(&t->p);
    memset(t, 0, sizeof *t);
}
