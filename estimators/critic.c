/* critic.c — see critic.h. */
#include "estimators/critic.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ref/core/blas.h"

int mr_critic_parse(const char *name) {
    if (strcmp(name, "separate") == 0) return MR_CRITIC_SEPARATE;
    if (strcmp(name, "concat") == 0) return MR_CRITIC_CONCAT;
    return -1;
}

int mr_baseline_parse(const char *name) {
    if (strcmp(name, "constant") == 0) return MR_BASE_CONSTANT;
    if (strcmp(name, "gaussain") == 0 || strcmp(name, "gaussian") == 0) return MR_BASE_GAUSSIAN;
    if (strcmp(name, "unnormalized") == 0) return MR_BASE_UNNORMALIZED;
    return -1;
}

static int reg_mlp(mr_mlp *m, mr_params *p, const char *prefix, const char *part, size_t in,
                   size_t hidden, size_t out, size_t layers, mr_error *e) {
    char name[MR_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, part);
    size_t dims[MR_MLP_MAXL + 1], nl = layers + 2;
    if (nl > MR_MLP_MAXL) return mr_fail(e, MR_EINVAL, "%s: too many layers", name);
    dims[0] = in;
    for (size_t l = 1; l < nl; l++) dims[l] = hidden;
    dims[nl] = out;
    return mr_mlp_register(m, p, name, dims, nl, 1, MR_ACT_RELU, e);
}

int mr_critic_register(mr_critic *c, mr_params *p, const char *prefix, mr_critic_kind kind,
                       mr_baseline_kind base, size_t dx, size_t dy, size_t hidden, size_t embed,
                       size_t layers, mr_error *e) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->base = base;
    c->dx = dx;
    c->dy = dy;
    c->hidden = hidden;
    c->embed = embed;
    c->layers = layers;
    int rc;
    if (kind == MR_CRITIC_SEPARATE) {
        if ((rc = reg_mlp(&c->g, p, prefix, "critic_model.MLP_g", dx, hidden, embed, layers, e))) return rc;
        if ((rc = reg_mlp(&c->h, p, prefix, "critic_model.MLP_h", dy, hidden, embed, layers, e))) return rc;
    } else {
        if ((rc = reg_mlp(&c->f, p, prefix, "critic_model.MLP_f", dx + dy, hidden, 1, layers, e))) return rc;
    }
    if (base == MR_BASE_UNNORMALIZED)
        if ((rc = reg_mlp(&c->bmlp, p, prefix, "baseline_model.MLP", dy, hidden, 1, layers, e))) return rc;
    return MR_OK;
}

void mr_critic_init(const mr_critic *c, mr_params *p, gsl_rng *r) {
    if (c->kind == MR_CRITIC_SEPARATE) {
        mr_mlp_init(&c->g, p, r, 1);
        mr_mlp_init(&c->h, p, r, 1);
    } else {
        mr_mlp_init(&c->f, p, r, 1);
    }
    if (c->base == MR_BASE_UNNORMALIZED) mr_mlp_init(&c->bmlp, p, r, 1);
}

/* Workspace layout.
 * separate: [cache_g | G (B·E) | cache_h | H (B·E) | dG | dH | mlp work]
 * concat:   [pairs (B²·(dx+dy)) | cache_f | dpairs | mlp work]
 * then, for the unnormalized baseline: [cache_b | out_b (B) | dout_b (B) | work_b] */
static size_t critic_part(const mr_critic *c, size_t B) {
    if (c->kind == MR_CRITIC_SEPARATE) {
        size_t wg = mr_mlp_work_size(&c->g, B), wh = mr_mlp_work_size(&c->h, B);
        return mr_mlp_cache_size(&c->g, B) + mr_mlp_cache_size(&c->h, B) + 4 * B * c->embed + (wg > wh ? wg : wh);
    }
    size_t P = B * B, din = c->dx + c->dy;
    return 2 * P * din + mr_mlp_cache_size(&c->f, P) + mr_mlp_work_size(&c->f, P);
}

static size_t base_part(const mr_critic *c, size_t B) {
    if (c->base != MR_BASE_UNNORMALIZED) return 0;
    return mr_mlp_cache_size(&c->bmlp, B) + 2 * B + mr_mlp_work_size(&c->bmlp, B);
}

size_t mr_critic_work_size(const mr_critic *c, size_t B) { return critic_part(c, B) + base_part(c, B); }

void mr_critic_forward(const mr_critic *c, const mr_params *p, const double *x, const double *y,
                       size_t B, double *S, double *work) {
    if (c->kind == MR_CRITIC_SEPARATE) {
        size_t E = c->embed;
        double *cg = work, *G = cg + mr_mlp_cache_size(&c->g, B);
        double *ch = G + B * E, *H = ch + mr_mlp_cache_size(&c->h, B);
        mr_mlp_forward(&c->g, p, x, B, cg, G);
        mr_mlp_forward(&c->h, p, y, B, ch, H);
        mr_gemm(0, 1, B, B, E, 1.0, H, E, G, E, 0.0, S, B); /* S = H·Gᵀ */
    } else {
        size_t P = B * B, din = c->dx + c->dy;
        double *pairs = work, *cf = pairs + P * din;
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                double *row = pairs + (i * B + j) * din;
                memcpy(row, x + i * c->dx, c->dx * sizeof *row);
                memcpy(row + c->dx, y + j * c->dy, c->dy * sizeof *row);
            }
        mr_mlp_forward(&c->f, p, pairs, P, cf, S); /* [B², 1] = S row-major */
    }
}

void mr_critic_backward(const mr_critic *c, mr_params *p, const double *x, const double *y,
                        size_t B, const double *dS, double *dx, double *dy, double *work) {
    if (c->kind == MR_CRITIC_SEPARATE) {
        size_t E = c->embed;
        double *cg = work, *G = cg + mr_mlp_cache_size(&c->g, B);
        double *ch = G + B * E, *H = ch + mr_mlp_cache_size(&c->h, B);
        double *dG = H + B * E, *dH = dG + B * E, *mw = dH + B * E;
        mr_gemm(1, 0, B, E, B, 1.0, dS, B, H, E, 0.0, dG, E); /* dG = dSᵀ·H */
        mr_gemm(0, 0, B, E, B, 1.0, dS, B, G, E, 0.0, dH, E); /* dH = dS·G */
        mr_mlp_backward(&c->g, p, x, B, cg, dG, dx, mw);
        mr_mlp_backward(&c->h, p, y, B, ch, dH, dy, mw);
    } else {
        size_t P = B * B, din = c->dx + c->dy;
        double *pairs = work, *cf = pairs + P * din;
        double *dpairs = cf + mr_mlp_cache_size(&c->f, P), *mw = dpairs + P * din;
        memset(dpairs, 0, P * din * sizeof *dpairs);
        mr_mlp_backward(&c->f, p, pairs, P, cf, dS, dpairs, mw);
        for (size_t i = 0; i < B; i++)
            for (size_t j = 0; j < B; j++) {
                const double *row = dpairs + (i * B + j) * din;
                if (dx)
                    for (size_t k = 0; k < c->dx; k++) dx[i * c->dx + k] += row[k];
                if (dy)
                    for (size_t k = 0; k < c->dy; k++) dy[j * c->dy + k] += row[c->dx + k];
            }
    }
}

void mr_baseline_forward(const mr_critic *c, const mr_params *p, const double *y, size_t B,
                         double *log_a, double *work) {
    switch (c->base) {
    case MR_BASE_GAUSSIAN: {
        const double half_log_2pi = 0.5 * log(2.0 * M_PI);
        for (size_t i = 0; i < B; i++) {
            double s = 0.0;
            for (size_t f = 0; f < c->dy; f++) s += -0.5 * y[i * c->dy + f] * y[i * c->dy + f] - half_log_2pi;
            log_a[i] = s;
        }
        break;
    }
    case MR_BASE_UNNORMALIZED: {
        double *cb = work + critic_part(c, B);
        mr_mlp_forward(&c->bmlp, p, y, B, cb, log_a);
        break;
    }
    default:
        for (size_t i = 0; i < B; i++) log_a[i] = 0.0;
        break;
    }
}

void mr_baseline_backward(const mr_critic *c, mr_params *p, const double *y, size_t B,
                          const double *dlog_a, double *dy, double *work) {
    if (c->base == MR_BASE_GAUSSIAN && dy) {
        for (size_t i = 0; i < B; i++)
            for (size_t f = 0; f < c->dy; f++) dy[i * c->dy + f] += -y[i * c->dy + f] * dlog_a[i];
    } else if (c->base == MR_BASE_UNNORMALIZED) {
        double *cb = work + critic_part(c, B);
        double *mw = cb + mr_mlp_cache_size(&c->bmlp, B) + 2 * B;
        mr_mlp_backward(&c->bmlp, p, y, B, cb, dlog_a, dy, mw);
    }
}
