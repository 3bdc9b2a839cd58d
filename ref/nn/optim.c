/* optim.c — see optim.h. */
#include "ref/nn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void optim_base(mr_optim *o, mr_params *p, mr_opt_kind kind, double wd) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->p = p;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = wd;
}

void mr_optim_adam(mr_optim *o, mr_params *p, double weight_decay) {
    optim_base(o, p, MR_OPT_ADAM, weight_decay);
}

void mr_optim_sgd(mr_optim *o, mr_params *p, double momentum, double weight_decay) {
    optim_base(o, p, MR_OPT_SGD, weight_decay);
    o->momentum = momentum;
}

int mr_optim_add_group(mr_optim *o, const size_t *tensors, size_t n, double lr, mr_error *e) {
    if (o->ngroups >= MR_MAX_GROUPS) return mr_fail(e, MR_EINVAL, "at most %d parameter groups", MR_MAX_GROUPS);
    mr_param_group *g = &o->g[o->ngroups];
    g->tensors = malloc((n ? n : 1) * sizeof *g->tensors);
    if (!g->tensors) return mr_fail(e, MR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (tensors[i] >= o->p->n) {
            free(g->tensors);
            g->tensors = NULL;
            return mr_fail(e, MR_EINVAL, "tensor index %zu out of range", tensors[i]);
        }
        g->tensors[i] = tensors[i];
    }
    g->n = n;
    g->lr = g->initial_lr = lr;
    o->ngroups++;
    return MR_OK;
}

size_t mr_params_select(const mr_params *p, const char *substr, int (*exclude)(const char *),
                        size_t *idx) {
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (substr && !strstr(p->t[i].name, substr)) continue;
        if (exclude && exclude(p->t[i].name)) continue;
        idx[k++] = i;
    }
    return k;
}

void mr_optim_free(mr_optim *o) {
    for (size_t i = 0; i < o->ngroups; i++) free(o->g[i].tensors);
    memset(o, 0, sizeof *o);
}

static void adam_tensor(mr_optim *o, size_t ti, double lr) {
    mr_params *P = o->p;
    const mr_tensor *t = &P->t[ti];
    double *p = P->data + t->offset, *g = P->grad + t->offset;
    double *m = P->m + t->offset, *v = P->v + t->offset;
    int64_t step = ++P->step[ti];
    double b1 = o->beta1, b2 = o->beta2, wd = o->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)step);
    double bc2 = 1.0 - pow(b2, (double)step);
    double step_size = lr / bc1;
    double bc2_sqrt = sqrt(bc2);
    for (size_t i = 0; i < t->size; i++) {
        double gi = wd != 0.0 ? g[i] + p[i] * wd : g[i];
        m[i] = m[i] * b1 + (1.0 - b1) * gi;
        v[i] = v[i] * b2 + (1.0 - b2) * gi * gi;
        double denom = sqrt(v[i]) / bc2_sqrt + o->eps;
        p[i] = p[i] + (-step_size) * m[i] / denom;
    }
}

static void sgd_tensor(mr_optim *o, size_t ti, double lr) {
    mr_params *P = o->p;
    const mr_tensor *t = &P->t[ti];
    double *p = P->data + t->offset, *g = P->grad + t->offset, *buf = P->m + t->offset;
    int first = P->step[ti] == 0;
    P->step[ti]++;
    double wd = o->weight_decay, mu = o->momentum;
    for (size_t i = 0; i < t->size; i++) {
        double d = wd != 0.0 ? g[i] + p[i] * wd : g[i];
        if (mu != 0.0) {
            buf[i] = first ? d : buf[i] * mu + d;
            d = buf[i];
        }
        p[i] = p[i] + (-lr) * d;
    }
}

void mr_optim_step(mr_optim *o) {
    for (size_t gi = 0; gi < o->ngroups; gi++)
        for (size_t k = 0; k < o->g[gi].n; k++) {
            if (o->kind == MR_OPT_ADAM) adam_tensor(o, o->g[gi].tensors[k], o->g[gi].lr);
            else sgd_tensor(o, o->g[gi].tensors[k], o->g[gi].lr);
        }
}

/* ---------------------------------------------------------------- clipping */

void mr_clip_grad_value(mr_params *p, const size_t *tensors, size_t n, double c) {
    for (size_t k = 0; k < n; k++) {
        const mr_tensor *t = &p->t[tensors[k]];
        double *g = p->grad + t->offset;
        for (size_t i = 0; i < t->size; i++) g[i] = g[i] < -c ? -c : (g[i] > c ? c : g[i]);
    }
}

double mr_clip_grad_norm(mr_params *p, const size_t *tensors, size_t n, double max_norm) {
    double total = 0.0;
    for (size_t k = 0; k < n; k++) {
        const mr_tensor *t = &p->t[tensors[k]];
        const double *g = p->grad + t->offset;
        double s = 0.0;
        for (size_t i = 0; i < t->size; i++) s += g[i] * g[i];
        double nrm = sqrt(s);
        total += nrm * nrm;
    }
    total = sqrt(total);
    double coef = max_norm / (total + 1e-6);
    if (coef > 1.0) coef = 1.0;
    for (size_t k = 0; k < n; k++) {
        const mr_tensor *t = &p->t[tensors[k]];
        double *g = p->grad + t->offset;
        for (size_t i = 0; i < t->size; i++) g[i] *= coef;
    }
    return total;
}

/* --------------------------------------------------------------- schedules */

void mr_sched_init(mr_lr_sched *s, mr_lr_kind kind, double gamma) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->gamma = gamma;
    s->last_epoch = 0; /* PyTorch's constructor performs the initial step */
    s->step_size = 60;
    s->patience = 10;
    s->threshold = 1e-4;
    s->eps = 1e-8;
    s->best = INFINITY;
}

static void scale_lrs(mr_optim *o, double f) {
    for (size_t i = 0; i < o->ngroups; i++) o->g[i].lr = o->g[i].lr * f;
}

void mr_sched_step(mr_lr_sched *s, mr_optim *o, double metric) {
    s->last_epoch++;
    int e = s->last_epoch;
    switch (s->kind) {
    case MR_LR_STEP:
        if (e != 0 && s->step_size > 0 && e % s->step_size == 0) scale_lrs(o, s->gamma);
        break;
    case MR_LR_MULTISTEP: {
        int count = 0; /* a repeated milestone applies gamma once per occurrence */
        for (int i = 0; i < s->nm; i++) count += s->milestones[i] == e;
        if (count) scale_lrs(o, pow(s->gamma, count));
        break;
    }
    case MR_LR_EXP:
        if (e != 0) scale_lrs(o, s->gamma);
        break;
    case MR_LR_PLATEAU: {
        double cur = metric;
        int better = s->mode_max ? cur > s->best * (1.0 + s->threshold) : cur < s->best * (1.0 - s->threshold);
        if (better) {
            s->best = cur;
            s->num_bad_epochs = 0;
        } else {
            s->num_bad_epochs++;
        }
        if (s->cooldown_counter > 0) {
            s->cooldown_counter--;
            s->num_bad_epochs = 0;
        }
        if (s->num_bad_epochs > s->patience) {
            for (size_t i = 0; i < o->ngroups; i++) {
                double old = o->g[i].lr, nl = old * s->gamma;
                if (nl < s->min_lr) nl = s->min_lr;
                if (old - nl > s->eps) o->g[i].lr = nl;
            }
            s->cooldown_counter = s->cooldown;
            s->num_bad_epochs = 0;
        }
        break;
    }
    default: break;
    }
}

int mr_lr_parse(const char *name) {
    if (strcmp(name, "step") == 0) return MR_LR_STEP;
    if (strcmp(name, "multi_step") == 0) return MR_LR_MULTISTEP;
    if (strcmp(name, "exp") == 0) return MR_LR_EXP;
    if (strcmp(name, "plateau") == 0) return MR_LR_PLATEAU;
    return -1;
}
