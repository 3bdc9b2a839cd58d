/* mlp.c — see mlp.h. */
#include "ref/nn/mlp.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int mr_mlp_register(mr_mlp *m, mr_params *p, const char *prefix, const size_t *dims, size_t nl,
                    int bias, mr_act act, mr_error *e) {
    if (nl == 0 || nl > MR_MLP_MAXL) return mr_fail(e, MR_EINVAL, "%s: %zu layers (1..%d)", prefix, nl, MR_MLP_MAXL);
    memset(m, 0, sizeof *m);
    m->nl = nl;
    m->bias = bias;
    m->act = act;
    memcpy(m->dims, dims, (nl + 1) * sizeof *dims);
    for (size_t l = 0; l < nl; l++) {
        char name[MR_NAME_MAX];
        size_t ws[2] = {dims[l + 1], dims[l]}, bs[1] = {dims[l + 1]};
        snprintf(name, sizeof name, "%s.%zu.weight", prefix, 2 * l);
        m->w[l] = p->n;
        m->b[l] = MR_NO_TENSOR;
        int rc = mr_params_add(p, name, 2, ws, e);
        if (rc) return rc;
        if (bias) {
            snprintf(name, sizeof name, "%s.%zu.bias", prefix, 2 * l);
            m->b[l] = p->n;
            if ((rc = mr_params_add(p, name, 1, bs, e))) return rc;
        }
    }
    return MR_OK;
}

void mr_mlp_init(const mr_mlp *m, mr_params *p, gsl_rng *r, int zero_bias) {
    for (size_t l = 0; l < m->nl; l++) {
        double k = 1.0 / sqrt((double)m->dims[l]);
        double *w = mr_params_val(p, m->w[l]), *b = mr_params_val(p, m->b[l]);
        for (size_t i = 0; i < p->t[m->w[l]].size; i++) w[i] = k * (2.0 * gsl_rng_uniform(r) - 1.0);
        for (size_t i = 0; b && i < p->t[m->b[l]].size; i++) {
            double v = k * (2.0 * gsl_rng_uniform(r) - 1.0);
            b[i] = zero_bias ? 0.0 : v;
        }
    }
}

/* cache: for each hidden layer l < nl−1: pre_l then post_l, N·dims[l+1] each. */
size_t mr_mlp_cache_size(const mr_mlp *m, size_t N) {
    size_t s = 0;
    for (size_t l = 0; l + 1 < m->nl; l++) s += 2 * N * m->dims[l + 1];
    return s;
}

size_t mr_mlp_work_size(const mr_mlp *m, size_t N) {
    size_t mx = 0;
    for (size_t l = 0; l <= m->nl; l++)
        if (m->dims[l] > mx) mx = m->dims[l];
    return 2 * N * mx;
}


void mr_mlp_forward(const mr_mlp *m, const mr_params *p, const double *x, size_t N, double *cache,
                    double *out) {
    const double *in = x;
    double *c = cache;
    for (size_t l = 0; l < m->nl; l++) {
        size_t I = m->dims[l], O = m->dims[l + 1];
        if (l + 1 == m->nl) {
            mr_linear_forward(out, in, mr_params_val(p, m->w[l]), mr_params_val(p, m->b[l]), N, I, O);
        } else {
            double *pre = c, *post = c + N * O;
            mr_linear_forward(pre, in, mr_params_val(p, m->w[l]), mr_params_val(p, m->b[l]), N, I, O);
            mr_act_forward(m->act, post, pre, N * O);
            in = post;
            c += 2 * N * O;
        }
    }
}

void mr_mlp_backward(const mr_mlp *m, mr_params *p, const double *x, size_t N, const double *cache,
                     const double *dout, double *dx, double *work) {
    /* locate the cached activations of each hidden layer */
    const double *pre[MR_MLP_MAXL], *post[MR_MLP_MAXL];
    const double *c = cache;
    for (size_t l = 0; l + 1 < m->nl; l++) {
        size_t O = m->dims[l + 1];
        pre[l] = c;
        post[l] = c + N * O;
        c += 2 * N * O;
    }
    size_t half = mr_mlp_work_size(m, N) / 2;
    /* g_cur holds the gradient w.r.t. the current layer's output (after the
     * first step), g_prev receives the gradient w.r.t. its input; g_cur is
     * only overwritten once the linear backward has consumed it. */
    double *g_cur = work, *g_prev = work + half;
    const double *g_out = dout;
    for (size_t l = m->nl; l-- > 0;) {
        size_t I = m->dims[l], O = m->dims[l + 1];
        const double *in = l == 0 ? x : post[l - 1];
        double *dW = mr_params_grad(p, m->w[l]);
        double *dB = mr_params_grad(p, m->b[l]);
        if (l == 0) {
            mr_linear_backward(dx, dW, dB, g_out, in, mr_params_val(p, m->w[l]), N, I, O);
        } else {
            /* d(post_{l-1}) then through the activation into d(pre_{l-1}) */
            memset(g_prev, 0, N * I * sizeof *g_prev);
            mr_linear_backward(g_prev, dW, dB, g_out, in, mr_params_val(p, m->w[l]), N, I, O);
            memset(g_cur, 0, N * I * sizeof *g_cur);
            mr_act_backward(m->act, g_cur, g_prev, pre[l - 1], post[l - 1], N * I);
            g_out = g_cur;
        }
    }
}
