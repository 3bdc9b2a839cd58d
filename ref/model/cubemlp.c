/* cubemlp.c — see cubemlp.h.
 *
 * Each (block, axis) stage works on the input permuted so that its axis is
 * last: [R, n_in] with R = B × (the other two dims). Cache per stage:
 *   xp [R·n_in]  permuted input            xn [R·n_in]  LN(xp) (pre-LN only)
 *   h1 [R·n_hid] fc1 output                a1 [R·n_hid] φ(h1)
 *   mask [R·n_out]                         u [R·n_out]  MLP + residual (post-LN: LN input)
 *   mean, rstd [R] of whichever LayerNorm the variant applies
 */
#include "ref/model/cubemlp.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/blas.h"

static const char AX[3] = {'l', 'k', 'd'};

/* ------------------------------------------------------------- parsing */

int mr_parse_dims3(const char *s, size_t out[][3], size_t maxn, size_t *n, const char *what, mr_error *e) {
    *n = 0;
    const char *p = s;
    while (*p) {
        if (*n == maxn) return mr_fail(e, MR_EINVAL, "%s '%s': more than %zu blocks", what, s, maxn);
        for (int k = 0; k < 3; k++) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(p, &end, 10);
            char want = k < 2 ? '-' : '=';
            if (end == p || errno || v == 0 || *p == '-' || (*end != want && !(k == 2 && *end == '\0')))
                return mr_fail(e, MR_EINVAL, "%s '%s': expected blocks 'l-k-d' of positive integers separated by '='", what, s);
            out[*n][k] = v;
            p = end + (*end ? 1 : 0);
            if (k == 2 && *end == '=' && !*p) return mr_fail(e, MR_EINVAL, "%s '%s': trailing '='", what, s);
        }
        (*n)++;
    }
    if (*n == 0) return mr_fail(e, MR_EINVAL, "%s is empty", what);
    return MR_OK;
}

int mr_parse_dashed(const char *s, double *out, size_t n, const char *what, mr_error *e) {
    const char *p = s;
    for (size_t k = 0; k < n; k++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        char want = k + 1 < n ? '-' : '\0';
        if (end == p || errno || *end != want || !isfinite(v))
            return mr_fail(e, MR_EINVAL, "%s '%s': expected %zu numbers separated by '-'", what, s, n);
        out[k] = v;
        p = end + (*end ? 1 : 0);
    }
    return MR_OK;
}

int mr_parse_flags01(const char *s, int *out, size_t maxn, size_t *n, const char *what, mr_error *e) {
    *n = 0;
    const char *p = s;
    while (*p) {
        if ((*p != '0' && *p != '1') || (p[1] && p[1] != '-') || *n == maxn)
            return mr_fail(e, MR_EINVAL, "%s '%s': expected 0/1 flags separated by '-'", what, s);
        out[(*n)++] = *p == '1';
        p += p[1] ? 2 : 1;
    }
    if (*n == 0) return mr_fail(e, MR_EINVAL, "%s is empty", what);
    return MR_OK;
}

/* ------------------------------------------------------------ register */

static int add(mr_params *p, size_t *idx, const char *prefix, size_t i, const char *part, int nd, size_t a, size_t b,
               mr_error *e) {
    char name[MR_NAME_MAX];
    snprintf(name, sizeof name, "%s.layers_stack.%zu.%s", prefix, i, part);
    size_t sh[2] = {a, b};
    *idx = p->n;
    return mr_params_add(p, name, nd, sh, e);
}

int mr_cubemlp_register(mr_cubemlp *m, mr_params *p, const char *prefix, const size_t in0[3],
                        size_t hid[][3], size_t out[][3], size_t nb, const int *res, int bias,
                        int ln_first, mr_act act, const double drop[3], mr_error *e) {
    memset(m, 0, sizeof *m);
    if (nb == 0 || nb > MR_CUBE_MAXB) return mr_fail(e, MR_EINVAL, "CubeMLP: %zu blocks (1..%d)", nb, MR_CUBE_MAXB);
    m->nb = nb;
    m->bias = bias;
    m->ln_first = ln_first;
    m->act = act;
    memcpy(m->drop, drop, sizeof m->drop);
    for (size_t i = 0; i < nb; i++)
        for (int a = 0; a < 3; a++) {
            m->in[i][a] = i == 0 ? in0[a] : out[i - 1][a];
            m->hid[i][a] = hid[i][a];
            m->out[i][a] = out[i][a];
            m->res[i] = res[i];
            m->w1[i][a] = m->b1[i][a] = m->w2[i][a] = m->b2[i][a] = m->wp[i][a] = MR_NO_TENSOR;
            if (!res[i] && m->in[i][a] != m->out[i][a])
                return mr_fail(e, MR_ESHAPE, "CubeMLP block %zu: without res_project the %c axis must keep its size (%zu → %zu)", i,
                               AX[a], m->in[i][a], m->out[i][a]);
        }
    int rc = MR_OK;
    char part[64];
    for (size_t i = 0; i < nb && !rc; i++) {
        for (int a = 0; a < 3 && !rc; a++) {
            size_t ni = m->in[i][a], nh = m->hid[i][a], no = m->out[i][a];
            snprintf(part, sizeof part, "mlp_%c.fc1.weight", AX[a]);
            rc = add(p, &m->w1[i][a], prefix, i, part, 2, nh, ni, e);
            if (!rc && bias) {
                snprintf(part, sizeof part, "mlp_%c.fc1.bias", AX[a]);
                rc = add(p, &m->b1[i][a], prefix, i, part, 1, nh, 0, e);
            }
            if (!rc) {
                snprintf(part, sizeof part, "mlp_%c.fc2.weight", AX[a]);
                rc = add(p, &m->w2[i][a], prefix, i, part, 2, no, nh, e);
            }
            if (!rc && bias) {
                snprintf(part, sizeof part, "mlp_%c.fc2.bias", AX[a]);
                rc = add(p, &m->b2[i][a], prefix, i, part, 1, no, 0, e);
            }
        }
        for (int a = 0; a < 3 && !rc; a++) {
            size_t n = ln_first ? m->in[i][a] : m->out[i][a];
            snprintf(part, sizeof part, "ln_%c.weight", AX[a]);
            rc = add(p, &m->lng[i][a], prefix, i, part, 1, n, 0, e);
            if (!rc) {
                snprintf(part, sizeof part, "ln_%c.bias", AX[a]);
                rc = add(p, &m->lnb[i][a], prefix, i, part, 1, n, 0, e);
            }
        }
        for (int a = 0; a < 3 && !rc && res[i]; a++) {
            snprintf(part, sizeof part, "res_projection_%c.weight", AX[a]);
            rc = add(p, &m->wp[i][a], prefix, i, part, 2, m->out[i][a], m->in[i][a], e);
        }
    }
    return rc;
}

static void uni(mr_params *p, size_t idx, double k, gsl_rng *r) {
    if (idx == MR_NO_TENSOR) return;
    double *x = mr_params_val(p, idx);
    for (size_t i = 0; i < p->t[idx].size; i++) x[i] = k * (2.0 * gsl_rng_uniform(r) - 1.0);
}

void mr_cubemlp_init(const mr_cubemlp *m, mr_params *p, gsl_rng *r) {
    for (size_t i = 0; i < m->nb; i++) {
        for (int a = 0; a < 3; a++) {
            double k1 = 1.0 / sqrt((double)m->in[i][a]), k2 = 1.0 / sqrt((double)m->hid[i][a]);
            uni(p, m->w1[i][a], k1, r);
            uni(p, m->b1[i][a], k1, r);
            uni(p, m->w2[i][a], k2, r);
            uni(p, m->b2[i][a], k2, r);
        }
        for (int a = 0; a < 3; a++) {
            double *g = mr_params_val(p, m->lng[i][a]), *b = mr_params_val(p, m->lnb[i][a]);
            for (size_t j = 0; j < p->t[m->lng[i][a]].size; j++) g[j] = 1.0, b[j] = 0.0;
        }
        for (int a = 0; a < 3 && m->res[i]; a++) uni(p, m->wp[i][a], 1.0 / sqrt((double)m->in[i][a]), r);
    }
}

/* ------------------------------------------------------------- stages */

typedef struct {
    size_t dims[3]; /* block-layout dims before this stage */
    size_t a, nin, nhid, nout, R;
    double *xp, *xn, *h1, *a1, *mask, *u, *mean, *rstd;
} stage;

static size_t stage_size(const stage *s, int pre) {
    return s->R * (s->nin * (pre ? 2 : 1) + 2 * s->nhid + 2 * s->nout + 2);
}

/* Fill stage (i, a); with cache non-NULL also carve its buffers at *off. */
static void stage_at(const mr_cubemlp *m, size_t B, size_t i, int a, stage *s) {
    size_t d[3] = {m->in[i][0], m->in[i][1], m->in[i][2]};
    for (int k = 0; k < a; k++) d[k] = m->out[i][k];
    memcpy(s->dims, d, sizeof d);
    s->a = (size_t)a;
    s->nin = d[a];
    s->nhid = m->hid[i][a];
    s->nout = m->out[i][a];
    s->R = B * d[0] * d[1] * d[2] / d[a];
}

static void carve(stage *s, int pre, double *c) {
    s->xp = c;
    c += s->R * s->nin;
    s->xn = pre ? c : NULL;
    if (pre) c += s->R * s->nin;
    s->h1 = c;
    c += s->R * s->nhid;
    s->a1 = c;
    c += s->R * s->nhid;
    s->mask = c;
    c += s->R * s->nout;
    s->u = c;
    c += s->R * s->nout;
    s->mean = c;
    c += s->R;
    s->rstd = c;
}

size_t mr_cubemlp_cache_size(const mr_cubemlp *m, size_t B) {
    size_t n = 0;
    for (size_t i = 0; i < m->nb; i++)
        for (int a = 0; a < 3; a++) {
            stage s;
            stage_at(m, B, i, a, &s);
            n += stage_size(&s, m->ln_first);
        }
    return n;
}

size_t mr_cubemlp_mask_size(const mr_cubemlp *m, size_t B) {
    size_t n = 0;
    for (size_t i = 0; i < m->nb; i++)
        for (int a = 0; a < 3; a++) {
            stage s;
            stage_at(m, B, i, a, &s);
            n += s.R * s.nout;
        }
    return n;
}

size_t mr_cubemlp_work_size(const mr_cubemlp *m, size_t B) {
    size_t mx = 0;
    for (size_t i = 0; i < m->nb; i++)
        for (int a = 0; a < 3; a++) {
            stage s;
            stage_at(m, B, i, a, &s);
            size_t in = s.R * s.nin, out = s.R * s.nout, hid = s.R * s.nhid;
            if (in > mx) mx = in;
            if (out > mx) mx = out;
            if (hid > mx) mx = hid;
        }
    return 4 * mx;
}

/* [B, d0, d1, d2] → permuted [B, (others), d_a] with the others in order. */
static void to_last(const double *src, size_t B, const size_t d[3], size_t a, double *dst) {
    size_t o1 = a == 0 ? 1 : 0, o2 = a == 2 ? 1 : 2;
    for (size_t b = 0; b < B; b++)
        for (size_t x = 0; x < d[o1]; x++)
            for (size_t y = 0; y < d[o2]; y++)
                for (size_t z = 0; z < d[a]; z++) {
                    size_t idx[3];
                    idx[o1] = x;
                    idx[o2] = y;
                    idx[a] = z;
                    dst[((b * d[o1] + x) * d[o2] + y) * d[a] + z] = src[((b * d[0] + idx[0]) * d[1] + idx[1]) * d[2] + idx[2]];
                }
}

/* inverse of to_last for dims d (d[a] is the permuted last size); accumulate if acc */
static void from_last(const double *src, size_t B, const size_t d[3], size_t a, double *dst, int acc) {
    size_t o1 = a == 0 ? 1 : 0, o2 = a == 2 ? 1 : 2;
    for (size_t b = 0; b < B; b++)
        for (size_t x = 0; x < d[o1]; x++)
            for (size_t y = 0; y < d[o2]; y++)
                for (size_t z = 0; z < d[a]; z++) {
                    size_t idx[3];
                    idx[o1] = x;
                    idx[o2] = y;
                    idx[a] = z;
                    double v = src[((b * d[o1] + x) * d[o2] + y) * d[a] + z];
                    double *t = &dst[((b * d[0] + idx[0]) * d[1] + idx[1]) * d[2] + idx[2]];
                    *t = acc ? *t + v : v;
                }
}

void mr_cubemlp_forward(const mr_cubemlp *m, const mr_params *p, const double *X, size_t B,
                        double *Y, double *cache, double *work, const double *masks, gsl_rng *drop_rng) {
    size_t mx = mr_cubemlp_work_size(m, B) / 4;
    double *cur = work, *nxt = work + mx, *tmp = work + 2 * mx;
    size_t n0 = B * m->in[0][0] * m->in[0][1] * m->in[0][2];
    memcpy(cur, X, n0 * sizeof *cur);
    double *c = cache;
    const double *mk = masks;
    for (size_t i = 0; i < m->nb; i++)
        for (int a = 0; a < 3; a++) {
            stage s;
            stage_at(m, B, i, a, &s);
            carve(&s, m->ln_first, c);
            c += stage_size(&s, m->ln_first);
            to_last(cur, B, s.dims, s.a, s.xp);
            const double *fin = s.xp;
            if (m->ln_first) {
                mr_layernorm_forward(s.xn, s.mean, s.rstd, s.xp, mr_params_val(p, m->lng[i][a]), mr_params_val(p, m->lnb[i][a]), s.R, s.nin, 1e-6);
                fin = s.xn;
            }
            mr_linear_forward(s.h1, fin, mr_params_val(p, m->w1[i][a]), mr_params_val(p, m->b1[i][a]), s.R, s.nin, s.nhid);
            mr_act_forward(m->act, s.a1, s.h1, s.R * s.nhid);
            mr_linear_forward(tmp, s.a1, mr_params_val(p, m->w2[i][a]), mr_params_val(p, m->b2[i][a]), s.R, s.nhid, s.nout);
            size_t nm = s.R * s.nout;
            if (mk) {
                memcpy(s.mask, mk, nm * sizeof *s.mask);
                mk += nm;
            } else if (drop_rng) {
                mr_dropout_mask(s.mask, nm, m->drop[a], drop_rng);
            } else {
                for (size_t k = 0; k < nm; k++) s.mask[k] = 1.0;
            }
            /* u = dropout(MLP) + residual */
            if (m->res[i]) mr_linear_forward(s.u, s.xp, mr_params_val(p, m->wp[i][a]), NULL, s.R, s.nin, s.nout);
            else memcpy(s.u, s.xp, nm * sizeof *s.u);
            for (size_t k = 0; k < nm; k++) s.u[k] += tmp[k] * s.mask[k];
            const double *res;
            if (!m->ln_first) {
                mr_layernorm_forward(tmp, s.mean, s.rstd, s.u, mr_params_val(p, m->lng[i][a]), mr_params_val(p, m->lnb[i][a]), s.R, s.nout, 1e-6);
                res = tmp;
            } else {
                res = s.u;
            }
            size_t d2[3] = {s.dims[0], s.dims[1], s.dims[2]};
            d2[a] = s.nout;
            from_last(res, B, d2, s.a, nxt, 0);
            double *t = cur;
            cur = nxt;
            nxt = t;
        }
    size_t nl = m->nb - 1;
    memcpy(Y, cur, B * m->out[nl][0] * m->out[nl][1] * m->out[nl][2] * sizeof *Y);
}

void mr_cubemlp_backward(const mr_cubemlp *m, mr_params *p, size_t B, const double *dY, double *dX,
                         const double *cache, double *work) {
    size_t mx = mr_cubemlp_work_size(m, B) / 4;
    double *dcur = work, *dnxt = work + mx, *t1 = work + 2 * mx, *t2 = work + 3 * mx;
    size_t nl = m->nb - 1;
    memcpy(dcur, dY, B * m->out[nl][0] * m->out[nl][1] * m->out[nl][2] * sizeof *dcur);
    /* stage offsets, forward order */
    size_t offs[MR_CUBE_MAXB * 3], off = 0;
    for (size_t i = 0; i < m->nb; i++)
        for (int a = 0; a < 3; a++) {
            stage s;
            stage_at(m, B, i, a, &s);
            offs[i * 3 + a] = off;
            off += stage_size(&s, m->ln_first);
        }
    for (size_t i = m->nb; i-- > 0;)
        for (int a = 3; a-- > 0;) {
            stage s;
            stage_at(m, B, i, a, &s);
            carve(&s, m->ln_first, (double *)cache + offs[i * 3 + a]);
            size_t d2[3] = {s.dims[0], s.dims[1], s.dims[2]};
            d2[a] = s.nout;
            size_t nm = s.R * s.nout, ni = s.R * s.nin;
            to_last(dcur, B, d2, s.a, t1); /* dY of this stage, permuted [R, nout] */
            double *du = t1;
            if (!m->ln_first) {
                memset(t2, 0, nm * sizeof *t2);
                mr_layernorm_backward(t2, mr_params_grad(p, m->lng[i][a]), mr_params_grad(p, m->lnb[i][a]), t1, s.u, mr_params_val(p, m->lng[i][a]),
                                      s.mean, s.rstd, s.R, s.nout);
                du = t2;
            }
            /* dxp (permuted input gradient) accumulates in dnxt, used as [R, nin] */
            double *dxp = dnxt;
            memset(dxp, 0, ni * sizeof *dxp);
            if (m->res[i]) mr_linear_backward(dxp, mr_params_grad(p, m->wp[i][a]), NULL, du, s.xp, mr_params_val(p, m->wp[i][a]), s.R, s.nin, s.nout);
            else
                for (size_t k = 0; k < nm; k++) dxp[k] += du[k];
            /* through dropout and fc2 → d a1 (in the other half of t1/t2) */
            double *dm = du == t1 ? t2 : t1;
            for (size_t k = 0; k < nm; k++) dm[k] = du[k] * s.mask[k];
            double *da = du; /* du no longer needed */
            memset(da, 0, s.R * s.nhid * sizeof *da);
            mr_linear_backward(da, mr_params_grad(p, m->w2[i][a]), mr_params_grad(p, m->b2[i][a]), dm, s.a1, mr_params_val(p, m->w2[i][a]), s.R, s.nhid, s.nout);
            double *dh = dm;
            memset(dh, 0, s.R * s.nhid * sizeof *dh);
            mr_act_backward(m->act, dh, da, s.h1, s.a1, s.R * s.nhid);
            if (m->ln_first) {
                double *dxn = da;
                memset(dxn, 0, ni * sizeof *dxn);
                mr_linear_backward(dxn, mr_params_grad(p, m->w1[i][a]), mr_params_grad(p, m->b1[i][a]), dh, s.xn, mr_params_val(p, m->w1[i][a]), s.R, s.nin, s.nhid);
                mr_layernorm_backward(dxp, mr_params_grad(p, m->lng[i][a]), mr_params_grad(p, m->lnb[i][a]), dxn, s.xp, mr_params_val(p, m->lng[i][a]), s.mean,
                                      s.rstd, s.R, s.nin);
            } else {
                mr_linear_backward(dxp, mr_params_grad(p, m->w1[i][a]), mr_params_grad(p, m->b1[i][a]), dh, s.xp, mr_params_val(p, m->w1[i][a]), s.R, s.nin, s.nhid);
            }
            /* back to block layout (dims before this stage) */
            if (i == 0 && a == 0) {
                if (dX) from_last(dxp, B, s.dims, s.a, dX, 1);
            } else {
                from_last(dxp, B, s.dims, s.a, dcur, 0);
            }
        }
}

/* --------------------------------------------------------- composition */

int mr_compose_parse(const char *s) {
    if (strcmp(s, "mean") == 0) return MR_COMPOSE_MEAN;
    if (strcmp(s, "sum") == 0) return MR_COMPOSE_SUM;
    if (strcmp(s, "cat") == 0) return MR_COMPOSE_CAT;
    return -1;
}

size_t mr_compose_dim(size_t L, size_t K, size_t D, mr_compose ck, mr_compose ct) {
    return D * (ck == MR_COMPOSE_CAT ? K : 1) * (ct == MR_COMPOSE_CAT ? L : 1);
}

/* cat is the identity on the row-major layout; mean/sum reduce one axis */
void mr_compose_forward(const double *X, size_t B, size_t L, size_t K, size_t D, mr_compose ck,
                        mr_compose ct, double *F) {
    size_t W = ck == MR_COMPOSE_CAT ? K * D : D; /* width after the K step */
    for (size_t b = 0; b < B; b++) {
        double *f = F + b * (ct == MR_COMPOSE_CAT ? L * W : W);
        if (ct != MR_COMPOSE_CAT)
            for (size_t j = 0; j < W; j++) f[j] = 0.0;
        for (size_t t = 0; t < L; t++) {
            const double *x = X + (b * L + t) * K * D;
            double *dst = ct == MR_COMPOSE_CAT ? f + t * W : f;
            for (size_t j = 0; j < W; j++) {
                double v;
                if (ck == MR_COMPOSE_CAT) {
                    v = x[j];
                } else {
                    v = 0.0;
                    for (size_t k = 0; k < K; k++) v += x[k * D + j];
                    if (ck == MR_COMPOSE_MEAN) v /= (double)K;
                }
                if (ct == MR_COMPOSE_CAT) dst[j] = v;
                else dst[j] += v;
            }
        }
        if (ct == MR_COMPOSE_MEAN)
            for (size_t j = 0; j < W; j++) f[j] /= (double)L;
    }
}

void mr_compose_backward(const double *dF, size_t B, size_t L, size_t K, size_t D, mr_compose ck,
                         mr_compose ct, double *dX) {
    size_t W = ck == MR_COMPOSE_CAT ? K * D : D;
    for (size_t b = 0; b < B; b++) {
        const double *g = dF + b * (ct == MR_COMPOSE_CAT ? L * W : W);
        for (size_t t = 0; t < L; t++) {
            const double *gt = ct == MR_COMPOSE_CAT ? g + t * W : g;
            double st = ct == MR_COMPOSE_MEAN ? 1.0 / (double)L : 1.0;
            double *dx = dX + (b * L + t) * K * D;
            for (size_t j = 0; j < W; j++) {
                double v = gt[j] * st;
                if (ck == MR_COMPOSE_CAT) {
                    dx[j] += v;
                } else {
                    double sk = ck == MR_COMPOSE_MEAN ? 1.0 / (double)K : 1.0;
                    for (size_t k = 0; k < K; k++) dx[k * D + j] += v * sk;
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- head */

int mr_head_register(mr_head *h, mr_params *p, const char *prefix, size_t dim, size_t nc, double drop,
                     mr_error *e) {
    memset(h, 0, sizeof *h);
    h->dim = dim;
    h->nc = nc;
    h->p = drop;
    h->deep = dim > MR_HEAD_WIDTH;
    char name[MR_NAME_MAX];
    size_t o0 = h->deep ? MR_HEAD_WIDTH : nc;
    size_t sw[2] = {o0, dim}, sb[1] = {o0};
    int rc;
    snprintf(name, sizeof name, "%s.0.weight", prefix);
    h->w0 = p->n;
    if ((rc = mr_params_add(p, name, 2, sw, e))) return rc;
    snprintf(name, sizeof name, "%s.0.bias", prefix);
    h->b0 = p->n;
    if ((rc = mr_params_add(p, name, 1, sb, e))) return rc;
    if (h->deep) {
        size_t s3[2] = {nc, MR_HEAD_WIDTH}, b3[1] = {nc};
        snprintf(name, sizeof name, "%s.3.weight", prefix);
        h->w3 = p->n;
        if ((rc = mr_params_add(p, name, 2, s3, e))) return rc;
        snprintf(name, sizeof name, "%s.3.bias", prefix);
        h->b3 = p->n;
        if ((rc = mr_params_add(p, name, 1, b3, e))) return rc;
    }
    return MR_OK;
}

void mr_head_init(const mr_head *h, mr_params *p, gsl_rng *r) {
    uni(p, h->w0, 1.0 / sqrt((double)h->dim), r);
    uni(p, h->b0, 1.0 / sqrt((double)h->dim), r);
    if (h->deep) {
        uni(p, h->w3, 1.0 / sqrt((double)MR_HEAD_WIDTH), r);
        uni(p, h->b3, 1.0 / sqrt((double)MR_HEAD_WIDTH), r);
    }
}

/* cache (deep only), W = MR_HEAD_WIDTH: pre [B·W] | relu [B·W] | mask [B·W] | dropped [B·W] */
size_t mr_head_cache_size(const mr_head *h, size_t B) { return h->deep ? 4 * B * MR_HEAD_WIDTH : 1; }

/* work (deep only): the gradients at the hidden layer, after and before the ReLU [2·B·W] */
size_t mr_head_work_size(const mr_head *h, size_t B) { return h->deep ? 2 * B * MR_HEAD_WIDTH : 1; }

void mr_head_forward(const mr_head *h, const mr_params *p, const double *F, size_t B, double *out,
                     double *cache, const double *mask, gsl_rng *drop_rng) {
    if (!h->deep) {
        mr_linear_forward(out, F, mr_params_val(p, h->w0), mr_params_val(p, h->b0), B, h->dim, h->nc);
        return;
    }
    double *pre = cache, *rl = pre + B * MR_HEAD_WIDTH, *mk = rl + B * MR_HEAD_WIDTH, *dr = mk + B * MR_HEAD_WIDTH;
    mr_linear_forward(pre, F, mr_params_val(p, h->w0), mr_params_val(p, h->b0), B, h->dim, MR_HEAD_WIDTH);
    mr_act_forward(MR_ACT_RELU, rl, pre, B * MR_HEAD_WIDTH);
    if (mask) memcpy(mk, mask, B * MR_HEAD_WIDTH * sizeof *mk);
    else if (drop_rng) mr_dropout_mask(mk, B * MR_HEAD_WIDTH, h->p, drop_rng);
    else
        for (size_t k = 0; k < B * MR_HEAD_WIDTH; k++) mk[k] = 1.0;
    mr_dropout_forward(dr, rl, mk, B * MR_HEAD_WIDTH);
    mr_linear_forward(out, dr, mr_params_val(p, h->w3), mr_params_val(p, h->b3), B, MR_HEAD_WIDTH, h->nc);
}

void mr_head_backward(const mr_head *h, mr_params *p, const double *F, size_t B, const double *dout,
                      double *dF, const double *cache, double *work) {
    if (!h->deep) {
        mr_linear_backward(dF, mr_params_grad(p, h->w0), mr_params_grad(p, h->b0), dout, F, mr_params_val(p, h->w0), B, h->dim, h->nc);
        return;
    }
    const double *pre = cache, *rl = pre + B * MR_HEAD_WIDTH, *mk = rl + B * MR_HEAD_WIDTH, *dr = mk + B * MR_HEAD_WIDTH;
    double *g1 = work, *g2 = g1 + B * MR_HEAD_WIDTH;
    memset(g1, 0, 2 * B * MR_HEAD_WIDTH * sizeof *g1);
    mr_linear_backward(g1, mr_params_grad(p, h->w3), mr_params_grad(p, h->b3), dout, dr, mr_params_val(p, h->w3), B, MR_HEAD_WIDTH, h->nc);
    for (size_t k = 0; k < B * MR_HEAD_WIDTH; k++) g1[k] *= mk[k];
    mr_act_backward(MR_ACT_RELU, g2, g1, pre, rl, B * MR_HEAD_WIDTH);
    mr_linear_backward(dF, mr_params_grad(p, h->w0), mr_params_grad(p, h->b0), g2, F, mr_params_val(p, h->w0), B, h->dim, MR_HEAD_WIDTH);
}

/* ------------------------------------------------- read-only accessors */

void mr_cubemlp_block_output(const mr_cubemlp *m, size_t B, const double *cache, const double *Y, size_t i, double *out) {
    if (i + 1 >= m->nb) {
        memcpy(out, Y, B * m->out[m->nb - 1][0] * m->out[m->nb - 1][1] * m->out[m->nb - 1][2] * sizeof *out);
        return;
    }
    /* block i's output is block i + 1's input: its first stage (axis 0) holds it permuted */
    size_t off = 0;
    for (size_t j = 0; j <= i; j++)
        for (int a = 0; a < 3; a++) {
            stage s;
            stage_at(m, B, j, a, &s);
            off += stage_size(&s, m->ln_first);
        }
    stage s;
    stage_at(m, B, i + 1, 0, &s);
    carve(&s, m->ln_first, (double *)cache + off);
    from_last(s.xp, B, s.dims, 0, out, 0);
}
