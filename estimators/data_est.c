/* data_est.c — see data_est.h. */
#include "estimators/data_est.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/knn_mi.h"
#include "ref/nn/optim.h"

static const char *CMI_UNIT_OFFICIAL = "official read-out (offset 1, half scale; not nats)";
/* js_fgan's value is the f-GAN Jensen–Shannon objective 2·JSD − ln 4 ∈ [−ln 4, 0], not an MI bound */
static const char *JS_FGAN_UNIT = "f-GAN JS objective 2·JSD − ln 4 (not MI)";

void mr_est_opts_default(mr_est_opts *o) {
    memset(o, 0, sizeof *o);
    o->standardize = 1;
    o->test_frac = 0.5;
    o->batch = 128;
    o->max_steps = 4000;
    o->eval_every = 100;
    o->patience = 10;
    o->lr = 5e-4;
    o->hidden = 128;
    o->embed = 32;
    o->layers = 1;
    o->knn_k = 5;
    o->cmi_k = 2;
    o->cmi_hidden = 64;
    o->cmi_epochs = 100;
    o->cmi_batch = 256;
    o->cmi_lr = 1e-3;
    o->seeds = 1;
    o->seed = 0;
}

/* ------------------------------------------------------------- methods */

int mr_est_method_is_cmi(const mr_est_method *m) { return m->kind == MR_EK_CMINE || m->kind == MR_EK_FP; }

void mr_est_method_name(const mr_est_method *m, char *buf, size_t n) {
    switch (m->kind) {
    case MR_EK_BOUND:
        snprintf(buf, n, "%s-%s", mr_bound_name(m->bound), m->critic == MR_CRITIC_SEPARATE ? "separate" : "concat");
        break;
    case MR_EK_KSG: snprintf(buf, n, "ksg"); break;
    case MR_EK_CMINE: snprintf(buf, n, "cmine-%s", mr_cmi_readout_name(m->ro)); break;
    default: snprintf(buf, n, "fp"); break;
    }
}

int mr_est_method_parse(const char *name, mr_est_method *m) {
    memset(m, 0, sizeof *m);
    if (!strcmp(name, "ksg")) return m->kind = MR_EK_KSG, 0;
    if (!strcmp(name, "fp")) return m->kind = MR_EK_FP, 0;
    if (!strncmp(name, "cmine-", 6)) {
        int r = mr_cmi_readout_parse(name + 6);
        if (r < 0) return -1;
        m->kind = MR_EK_CMINE, m->ro = (mr_cmi_readout)r;
        return 0;
    }
    const char *dash = strrchr(name, '-');
    if (!dash || dash - name >= 32) return -1;
    char b[32];
    memcpy(b, name, (size_t)(dash - name));
    b[dash - name] = 0;
    int bd = mr_bound_parse(b), cr = mr_critic_parse(dash + 1);
    if (bd < 0 || cr < 0) return -1;
    m->kind = MR_EK_BOUND, m->bound = (mr_bound)bd, m->critic = (mr_critic_kind)cr;
    return 0;
}

int mr_est_methods_parse(const char *list, int cmi, mr_est_method *out, size_t max, size_t *n, mr_error *e) {
    *n = 0;
    if (!strcmp(list, "all")) {
        if (cmi) {
            for (int r = 0; r < MR_CMI_READ_COUNT && *n < max; r++) out[(*n)++] = (mr_est_method){MR_EK_CMINE, 0, 0, (mr_cmi_readout)r};
            if (*n < max) out[(*n)++] = (mr_est_method){MR_EK_FP, 0, 0, 0};
        } else {
            for (int c = 0; c < 2; c++)
                for (int b = 0; b < MR_BOUND_COUNT && *n < max; b++)
                    out[(*n)++] = (mr_est_method){MR_EK_BOUND, (mr_bound)b, (mr_critic_kind)c, 0};
            if (*n < max) out[(*n)++] = (mr_est_method){MR_EK_KSG, 0, 0, 0};
        }
        return 0;
    }
    const char *s = list;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char name[64];
        if (len == 0 || len >= sizeof name) return mr_fail(e, MR_EINVAL, "--method: empty or overlong name in '%s'", list);
        memcpy(name, s, len);
        name[len] = 0;
        mr_est_method m;
        if (mr_est_method_parse(name, &m))
            return mr_fail(e, MR_EINVAL,
                           "--method: unknown method '%s' (MI: <bound>-<critic> with bound nwj|infonce|js|smile|dv|mine|tuba|"
                           "interpolate|js_fgan and critic separate|concat, or ksg; CMI: cmine-mimrl, cmine-nwj, cmine-dv, fp; or all)",
                           name);
        char a[32], b[32];
        mr_est_method_name(&m, a, sizeof a);
        for (size_t i = 0; i < *n; i++) {
            mr_est_method_name(&out[i], b, sizeof b);
            if (!strcmp(a, b)) return mr_fail(e, MR_EINVAL, "--method: '%s' given twice", name);
        }
        if (*n == max) return mr_fail(e, MR_EINVAL, "--method: more than %zu methods", max);
        out[(*n)++] = m;
        s = end ? end + 1 : s + len;
    }
    if (*n == 0) return mr_fail(e, MR_EINVAL, "--method: no method named");
    return 0;
}

/* --------------------------------------------------------------- checks */

static int check_member(const mr_est_member *m, mr_error *e) {
    if (m->d == 0) return mr_fail(e, MR_ESHAPE, "member '%s' has no columns", m->name);
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->d; j++) {
            double v = m->v[i * m->d + j];
            if (!isfinite(v))
                return mr_fail(e, MR_EFORMAT, "member '%s' row %zu column %zu is %s (every value must be finite)", m->name, i, j,
                               isnan(v) ? "NaN" : "Inf");
        }
    for (size_t j = 0; j < m->d; j++) {
        size_t i = 1;
        while (i < m->n && m->v[i * m->d + j] == m->v[j]) i++;
        if (i == m->n)
            return mr_fail(e, MR_EINVAL, "member '%s' column %zu is constant (zero variance: it carries no information and cannot be standardised)",
                           m->name, j);
    }
    return 0;
}

int mr_est_check(const mr_est_member *x, const mr_est_member *y, const mr_est_member *z, const mr_est_method *ms, size_t nm,
                 const mr_est_opts *o, mr_error *e) {
    if (nm == 0) return mr_fail(e, MR_EINVAL, "no method to run");
    if (o->seeds == 0 || o->seeds > MR_EST_MAXSEEDS) return mr_fail(e, MR_EINVAL, "--seeds must be 1..%d", MR_EST_MAXSEEDS);
    if (!(o->test_frac > 0 && o->test_frac < 1)) return mr_fail(e, MR_EINVAL, "the test fraction must lie strictly between 0 and 1");
    const mr_est_member *all[3] = {x, y, z};
    for (int k = 1; k < 3; k++)
        if (all[k] && all[k]->n != x->n)
            return mr_fail(e, MR_ESHAPE, "member '%s' has %zu rows but member '%s' has %zu (rows are samples and must match)",
                           all[k]->name, all[k]->n, x->name, x->n);
    int knn = 0, neural = 0;
    for (size_t i = 0; i < nm; i++) {
        char nmb[32];
        mr_est_method_name(&ms[i], nmb, sizeof nmb);
        if (z && !mr_est_method_is_cmi(&ms[i]))
            return mr_fail(e, MR_EINVAL, "method '%s' estimates MI I(X;Y) and takes no conditioning member ('%s' given as z)", nmb, z->name);
        if (!z && mr_est_method_is_cmi(&ms[i]))
            return mr_fail(e, MR_EINVAL, "method '%s' estimates conditional MI I(X;Y|Z) and needs a conditioning member (--z)", nmb);
        if (ms[i].kind == MR_EK_KSG || ms[i].kind == MR_EK_FP) knn = 1;
        else neural = 1;
    }
    if (knn && (o->knn_k == 0 || x->n < o->knn_k + 1))
        return mr_fail(e, MR_EINVAL, "the k-NN methods need at least k + 1 = %zu rows; member '%s' has %zu", o->knn_k + 1, x->name, x->n);
    if (neural) {
        size_t nte = (size_t)floor((double)x->n * o->test_frac), ntr = x->n - nte;
        size_t need = 2;
        for (size_t i = 0; i < nm; i++)
            if (ms[i].kind == MR_EK_CMINE) need = 2 * (o->cmi_k ? o->cmi_k : 1);
        if (nte < need || ntr < need)
            return mr_fail(e, MR_EINVAL, "member '%s' has %zu rows: the neural methods need at least %zu rows in each half of the train/test split",
                           x->name, x->n, need);
        if (o->eval_every == 0 || o->max_steps == 0 || o->batch < 2 || o->cmi_epochs == 0 || o->cmi_batch == 0 || o->cmi_k == 0)
            return mr_fail(e, MR_EINVAL, "steps, eval-every, epochs, k and batch must be positive (MI batch at least 2)");
    }
    for (int k = 0; k < 3; k++)
        if (all[k] && check_member(all[k], e)) return e->code;
    return 0;
}

/* ------------------------------------------------------------- helpers */

static double *standardized(const mr_est_member *m, int on) {
    double *v = malloc(m->n * m->d * sizeof *v);
    if (!v) return NULL;
    memcpy(v, m->v, m->n * m->d * sizeof *v);
    if (!on) return v;
    for (size_t j = 0; j < m->d; j++) {
        double mu = 0, s2 = 0;
        for (size_t i = 0; i < m->n; i++) mu += v[i * m->d + j];
        mu /= (double)m->n;
        for (size_t i = 0; i < m->n; i++) s2 += (v[i * m->d + j] - mu) * (v[i * m->d + j] - mu);
        double sd = sqrt(s2 / (double)(m->n > 1 ? m->n - 1 : 1));
        for (size_t i = 0; i < m->n; i++) v[i * m->d + j] = (v[i * m->d + j] - mu) / sd;
    }
    return v;
}

/* rows idx[0..k) of v (width d) into out */
static void gather(const double *v, size_t d, const size_t *idx, size_t k, double *out) {
    for (size_t i = 0; i < k; i++) memcpy(out + i * d, v + idx[i] * d, d * sizeof *out);
}

/* ---------------------------------------------------------- neural MI */

static int run_bound(const mr_est_method *me, const double *X, size_t dx, const double *Y, size_t dy, size_t n,
                     const mr_est_opts *o, unsigned long seed, const char *label, double *out, size_t *steps_out,
                     size_t *best_at, size_t *diverged_at, mr_error *e) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    size_t nte = (size_t)floor((double)n * o->test_frac), ntr = n - nte;
    size_t B = o->batch;
    if (B > ntr) B = ntr;
    if (B > nte) B = nte;
    mr_params p;
    mr_params_init(&p);
    mr_critic cr;
    mr_bound_opts bo;
    mr_bound_opts_default(&bo);
    int base = mr_bound_uses_baseline(me->bound);
    mr_baseline_kind bk = base ? MR_BASE_UNNORMALIZED : MR_BASE_CONSTANT;
    mr_optim opt;
    memset(&opt, 0, sizeof opt);
    size_t *perm = malloc(n * sizeof *perm), *order = malloc(ntr * sizeof *order), *all = NULL;
    double *xb = malloc(B * dx * sizeof *xb), *yb = malloc(B * dy * sizeof *yb);
    double *S = malloc(B * B * sizeof *S), *dS = malloc(B * B * sizeof *dS);
    double *la = calloc(B, sizeof *la), *dla = malloc(B * sizeof *dla);
    double *bwork = malloc(mr_bound_work_size(B) * sizeof *bwork), *work = NULL;
    int rc = mr_critic_register(&cr, &p, "estimator", me->critic, bk, dx, dy, o->hidden, o->embed, o->layers, e);
    if (!rc) rc = mr_params_alloc(&p, e);
    if (rc) goto done;
    all = malloc(p.n * sizeof *all);
    work = malloc(mr_critic_work_size(&cr, B) * sizeof *work);
    if (!perm || !order || !xb || !yb || !S || !dS || !la || !dla || !bwork || !all || !work) {
        rc = mr_fail(e, MR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) perm[i] = i;
    gsl_ran_shuffle(r, perm, n, sizeof *perm); /* perm[0..ntr) train, the rest test */
    mr_critic_init(&cr, &p, r);
    mr_optim_adam(&opt, &p, 0.0);
    mr_optim_add_group(&opt, all, mr_params_select(&p, NULL, NULL, all), o->lr, NULL);
    double best = -INFINITY;
    size_t since = 0, pos = ntr, step = 0, nbt = nte / B;
    *best_at = 0, *diverged_at = 0;
    while (step < o->max_steps) {
        if (pos + B > ntr) { /* a new pass over the train half */
            memcpy(order, perm, ntr * sizeof *order);
            gsl_ran_shuffle(r, order, ntr, sizeof *order);
            pos = 0;
        }
        gather(X, dx, order + pos, B, xb);
        gather(Y, dy, order + pos, B, yb);
        pos += B;
        mr_critic_forward(&cr, &p, xb, yb, B, S, work);
        if (base) mr_baseline_forward(&cr, &p, yb, B, la, work);
        mr_params_zero_grad(&p);
        memset(dS, 0, B * B * sizeof *dS);
        memset(dla, 0, B * sizeof *dla);
        double loss = mr_bound_loss(me->bound, S, B, base ? la : NULL, &bo, dS, base ? dla : NULL, 1.0, bwork);
        if (!isfinite(loss)) { /* diverged (e.g. MINE's unstabilised exp, O-16): keep the best held-out value so far */
            *diverged_at = step + 1;
            if (o->progress) {
                fprintf(o->progress, "  %s step %zu: non-finite training loss, training stopped (best held-out %.4f at step %zu)\n", label,
                        step + 1, best, *best_at);
                fflush(o->progress);
            }
            break;
        }
        if (base) mr_baseline_backward(&cr, &p, yb, B, dla, NULL, work);
        mr_critic_backward(&cr, &p, xb, yb, B, dS, NULL, NULL, work);
        mr_optim_step(&opt);
        step++;
        if (step % o->eval_every == 0 || step == o->max_steps) {
            double acc = 0;
            for (size_t b = 0; b < nbt; b++) {
                gather(X, dx, perm + ntr + b * B, B, xb);
                gather(Y, dy, perm + ntr + b * B, B, yb);
                mr_critic_forward(&cr, &p, xb, yb, B, S, work);
                if (base) mr_baseline_forward(&cr, &p, yb, B, la, work);
                acc += mr_bound_mi(me->bound, S, B, base ? la : NULL, &bo, NULL, NULL, 0, bwork);
            }
            double v = acc / (double)nbt;
            if (v > best) best = v, since = 0, *best_at = step;
            else since++;
            if (o->progress) {
                fprintf(o->progress, "  %s step %zu/%zu: held-out estimate %.4f (best %.4f at step %zu)\n", label, step,
                        o->max_steps, v, best, *best_at);
                fflush(o->progress);
            }
            if (since >= o->patience) break;
        }
    }
    *out = best;
    *steps_out = step;
done:
    free(perm), free(order), free(all), free(xb), free(yb), free(S), free(dS), free(la), free(dla), free(bwork), free(work);
    mr_optim_free(&opt);
    mr_params_free(&p);
    gsl_rng_free(r);
    return rc;
}

/* ---------------------------------------------------------------- CMINE */

/* Block of width d widened to w: ⌊w/d⌋ tiles, then zeros (the classifier's
 * three blocks must share one width; MIMRL tiles, a width that does not
 * divide is zero-padded here). */
static void widen(const double *v, size_t d, size_t n, size_t w, double *out) {
    size_t t = w / d;
    for (size_t i = 0; i < n; i++) {
        double *o = out + i * w;
        for (size_t k = 0; k < t; k++) memcpy(o + k * d, v + i * d, d * sizeof *o);
        memset(o + t * d, 0, (w - t * d) * sizeof *o);
    }
}

/* joint rows J and k-NN product rows P (each Mp × 3w) of the rows idx[0..m) */
static int cmi_rows(const double *Xw, const double *Yw, const double *Zw, const double *Z, size_t dz, size_t w,
                    const size_t *idx, size_t m, size_t k, gsl_rng *r, double **J, double **P, size_t *Mp, mr_error *e) {
    size_t na = m / k;
    *Mp = na * k;
    double *zs = malloc(m * dz * sizeof *zs), *xs = malloc(m * w * sizeof *xs), *ys = malloc(m * w * sizeof *ys),
           *zw = malloc(m * w * sizeof *zw);
    int64_t *anc = malloc((na ? na : 1) * sizeof *anc), *nb = malloc((*Mp ? *Mp : 1) * sizeof *nb);
    *J = malloc(*Mp * 3 * w * sizeof **J);
    *P = malloc(*Mp * 3 * w * sizeof **P);
    int rc = 0;
    if (!zs || !xs || !ys || !zw || !anc || !nb || !*J || !*P) {
        rc = mr_fail(e, MR_ENOMEM, "out of memory");
        goto done;
    }
    gather(Z, dz, idx, m, zs);
    gather(Xw, w, idx, m, xs);
    gather(Yw, w, idx, m, ys);
    gather(Zw, w, idx, m, zw);
    if ((rc = mr_knn_draw_anchors(m, na, r, anc, e))) goto done;
    if ((rc = mr_knn_neighbors(zs, dz, m, anc, na, k, nb, e))) goto done;
    if ((rc = mr_knn_product_rows(xs, w, ys, w, zw, w, anc, na, k, nb, w, *P, e))) goto done;
    rc = mr_cmi_joint_rows(xs, w, ys, w, zw, w, *Mp, w, *J, e);
done:
    free(zs), free(xs), free(ys), free(zw), free(anc), free(nb);
    return rc;
}

/* One seed of CMINE: est[3] = the read-outs at the lowest held-out BCE. */
static int run_cmine(const double *X, size_t dx, const double *Y, size_t dy, const double *Z, size_t dz, size_t n,
                     const mr_est_opts *o, unsigned long seed, double est[MR_CMI_READ_COUNT], size_t *epochs_out,
                     size_t *best_at, mr_error *e) {
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    size_t w = dx > dy ? dx : dy;
    if (dz > w) w = dz;
    size_t nte = (size_t)floor((double)n * o->test_frac), ntr = n - nte;
    double *Xw = malloc(n * w * sizeof *Xw), *Yw = malloc(n * w * sizeof *Yw), *Zw = malloc(n * w * sizeof *Zw);
    size_t *perm = malloc(n * sizeof *perm);
    double *J = NULL, *P = NULL, *Je = NULL, *Pe = NULL;
    mr_cmi_trainer t;
    memset(&t, 0, sizeof t);
    int rc = 0;
    size_t Mp = 0, Mpe = 0;
    if (!Xw || !Yw || !Zw || !perm) {
        rc = mr_fail(e, MR_ENOMEM, "out of memory");
        goto done;
    }
    widen(X, dx, n, w, Xw), widen(Y, dy, n, w, Yw), widen(Z, dz, n, w, Zw);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    gsl_ran_shuffle(r, perm, n, sizeof *perm);
    if ((rc = cmi_rows(Xw, Yw, Zw, Z, dz, w, perm, ntr, o->cmi_k, r, &J, &P, &Mp, e))) goto done;
    if ((rc = cmi_rows(Xw, Yw, Zw, Z, dz, w, perm + ntr, nte, o->cmi_k, r, &Je, &Pe, &Mpe, e))) goto done;
    if ((rc = mr_cmi_trainer_init(&t, w, o->cmi_hidden, MR_CMI_HEAD_SIGMOID, o->cmi_lr, J, P, Mp, o->cmi_batch, Mpe, r, e)))
        goto done;
    double best = INFINITY;
    size_t since = 0, ep = 0;
    *best_at = 0;
    for (int k = 0; k < MR_CMI_READ_COUNT; k++) est[k] = NAN;
    while (ep < o->cmi_epochs) {
        mr_cmi_trainer_epoch(&t, r);
        ep++;
        double ro[MR_CMI_READ_COUNT], bce = 0;
        for (int k = 0; k < MR_CMI_READ_COUNT; k++) {
            mr_cmi_out out = mr_cmi_trainer_eval(&t, Je, Pe, Mpe, (mr_cmi_readout)k);
            ro[k] = out.cmi;
            bce = out.bce;
        }
        if (bce < best) {
            best = bce, since = 0, *best_at = ep;
            memcpy(est, ro, sizeof ro);
        } else since++;
        if (o->progress) {
            fprintf(o->progress, "  cmine seed %lu epoch %zu/%zu: held-out BCE %.5f (best at epoch %zu), nwj %.4f nats, dv %.4f nats, official read-out %.4f\n",
                    seed, ep, o->cmi_epochs, bce, *best_at, ro[MR_CMI_READ_NWJ], ro[MR_CMI_READ_DV], ro[MR_CMI_READ_MIMRL]);
            fflush(o->progress);
        }
        if (since >= o->patience) break;
    }
    *epochs_out = ep;
done:
    free(Xw), free(Yw), free(Zw), free(perm), free(J), free(P), free(Je), free(Pe);
    mr_cmi_trainer_free(&t);
    gsl_rng_free(r);
    return rc;
}

/* ------------------------------------------------------------------ run */

static void summarize(mr_est_result *r) {
    double m = 0, v = 0;
    for (size_t s = 0; s < r->nseeds; s++) m += r->val[s];
    m /= (double)r->nseeds;
    for (size_t s = 0; s < r->nseeds; s++) v += (r->val[s] - m) * (r->val[s] - m);
    r->mean = m;
    r->sd = r->nseeds > 1 ? sqrt(v / (double)(r->nseeds - 1)) : 0.0;
}

int mr_est_run(const mr_est_member *x, const mr_est_member *y, const mr_est_member *z, const mr_est_method *ms, size_t nm,
               const mr_est_opts *o, mr_est_result *res, mr_error *e) {
    int rc = mr_est_check(x, y, z, ms, nm, o, e);
    if (rc) return rc;
    size_t n = x->n;
    double *X = standardized(x, o->standardize), *Y = standardized(y, o->standardize), *Z = z ? standardized(z, o->standardize) : NULL;
    if (!X || !Y || (z && !Z)) {
        free(X), free(Y), free(Z);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    memset(res, 0, nm * sizeof *res);
    for (size_t i = 0; i < nm; i++) {
        res[i].m = ms[i];
        mr_est_method_name(&ms[i], res[i].name, sizeof res[i].name);
        res[i].unit = ms[i].kind == MR_EK_CMINE && ms[i].ro == MR_CMI_READ_MIMRL ? CMI_UNIT_OFFICIAL
                      : ms[i].kind == MR_EK_BOUND && ms[i].bound == MR_BOUND_JS_FGAN ? JS_FGAN_UNIT
                                                                                        : "nats";
    }
    for (size_t i = 0; i < nm && !rc; i++) {
        mr_est_result *r = &res[i];
        if (r->nseeds) continue; /* filled with an earlier CMINE read-out */
        double t0 = mr_seconds();
        if (ms[i].kind == MR_EK_KSG || ms[i].kind == MR_EK_FP) {
            r->val[0] = ms[i].kind == MR_EK_KSG ? mr_ksg_mi(X, x->d, Y, y->d, n, o->knn_k)
                                                 : mr_fp_cmi(X, x->d, Y, y->d, Z, z->d, n, o->knn_k);
            r->nseeds = 1;
            if (!isfinite(r->val[0])) rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", r->name);
            if (o->progress) fprintf(o->progress, "  %s: %.4f nats (%.1f s)\n", r->name, r->val[0], mr_seconds() - t0);
        } else if (ms[i].kind == MR_EK_BOUND) {
            for (size_t s = 0; s < o->seeds && !rc; s++) {
                char label[80];
                snprintf(label, sizeof label, "%s seed %zu/%zu", r->name, s + 1, o->seeds);
                rc = run_bound(&ms[i], X, x->d, Y, y->d, n, o, o->seed + s, label, &r->val[s], &r->steps[s], &r->best_at[s],
                               &r->diverged_at[s], e);
            }
            r->nseeds = o->seeds;
        } else { /* one classifier per seed gives every requested read-out */
            for (size_t s = 0; s < o->seeds && !rc; s++) {
                double est[MR_CMI_READ_COUNT];
                size_t ep = 0, at = 0;
                rc = run_cmine(X, x->d, Y, y->d, Z, z->d, n, o, o->seed + s, est, &ep, &at, e);
                for (size_t j = i; j < nm && !rc; j++)
                    if (ms[j].kind == MR_EK_CMINE) res[j].val[s] = est[ms[j].ro], res[j].steps[s] = ep, res[j].best_at[s] = at;
            }
            double dt = mr_seconds() - t0;
            for (size_t j = i; j < nm; j++)
                if (ms[j].kind == MR_EK_CMINE) res[j].nseeds = o->seeds, res[j].seconds = dt;
        }
        r->seconds = mr_seconds() - t0;
    }
    for (size_t i = 0; i < nm; i++)
        if (res[i].nseeds) summarize(&res[i]);
    free(X), free(Y), free(Z);
    return rc;
}

/* --------------------------------------------------------------- output */

static void settings_json(FILE *f, const mr_est_opts *o) {
    fprintf(f,
            "{\"standardize\": %s, \"test_fraction\": %.17g, \"seeds\": %zu, \"seed\": %lu, \"mi\": {\"batch\": %zu, \"max_steps\": %zu, "
            "\"eval_every\": %zu, \"patience\": %zu, \"lr\": %.17g, \"hidden\": %zu, \"embed\": %zu, \"layers\": %zu, "
            "\"selection\": \"largest held-out bound\"}, \"cmi\": {\"k\": %zu, \"hidden\": %zu, \"max_epochs\": %zu, \"batch\": %zu, "
            "\"lr\": %.17g, \"patience\": %zu, \"selection\": \"read-outs at the lowest held-out BCE\"}, \"knn_k\": %zu}",
            o->standardize ? "true" : "false", o->test_frac, o->seeds, o->seed, o->batch, o->max_steps, o->eval_every, o->patience, o->lr,
            o->hidden, o->embed, o->layers, o->cmi_k, o->cmi_hidden, o->cmi_epochs, o->cmi_batch, o->cmi_lr, o->patience, o->knn_k);
}

static void member_json(FILE *f, const char *key, const mr_est_member *m) {
    char q[600];
    size_t k = 0;
    q[k++] = '"';
    for (const char *s = m->name; *s && k < sizeof q - 8; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') q[k++] = '\\', q[k++] = (char)c;
        else if (c < 0x20) k += (size_t)snprintf(q + k, sizeof q - k, "\\u%04x", c);
        else q[k++] = (char)c;
    }
    q[k++] = '"';
    q[k] = 0;
    fprintf(f, "\"%s\": {\"name\": %s, \"rows\": %zu, \"columns\": %zu}", key, q, m->n, m->d);
}

static void num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fprintf(f, "null");
}

void mr_est_write_json(FILE *f, const mr_est_member *x, const mr_est_member *y, const mr_est_member *z, const mr_est_result *res,
                       size_t nm, const mr_est_opts *o) {
    fprintf(f, "{\"quantity\": \"%s\", ", z ? "I(X;Y|Z)" : "I(X;Y)");
    member_json(f, "x", x);
    fprintf(f, ", ");
    member_json(f, "y", y);
    if (z) {
        fprintf(f, ", ");
        member_json(f, "z", z);
    }
    fprintf(f, ", \"settings\": ");
    settings_json(f, o);
    fprintf(f, ", \"methods\": [");
    for (size_t i = 0; i < nm; i++) {
        const mr_est_result *r = &res[i];
        fprintf(f, "%s\n  {\"method\": \"%s\", \"unit\": \"%s\", \"mean\": ", i ? "," : "", r->name, r->unit);
        num(f, r->mean);
        fprintf(f, ", \"sd\": ");
        num(f, r->sd);
        fprintf(f, ", \"n\": %zu, \"deterministic\": %s, \"values\": [", r->nseeds,
                r->m.kind == MR_EK_KSG || r->m.kind == MR_EK_FP ? "true" : "false");
        for (size_t s = 0; s < r->nseeds; s++) {
            if (s) fprintf(f, ", ");
            num(f, r->val[s]);
        }
        fprintf(f, "], \"trained\": [");
        for (size_t s = 0; s < r->nseeds; s++) fprintf(f, "%s%zu", s ? ", " : "", r->steps[s]);
        fprintf(f, "], \"best_at\": [");
        for (size_t s = 0; s < r->nseeds; s++) fprintf(f, "%s%zu", s ? ", " : "", r->best_at[s]);
        fprintf(f, "], \"diverged_at\": [");
        for (size_t s = 0; s < r->nseeds; s++) fprintf(f, "%s%zu", s ? ", " : "", r->diverged_at[s]);
        fprintf(f, "], \"seconds\": %.3f}", r->seconds);
    }
    fprintf(f, "\n]}\n");
}

void mr_est_write_table(FILE *f, const mr_est_member *x, const mr_est_member *y, const mr_est_member *z, const mr_est_result *res,
                        size_t nm, const mr_est_opts *o) {
    fprintf(f, "%s with x = '%s' (%zu × %zu), y = '%s' (%zu × %zu)", z ? "I(X;Y|Z)" : "I(X;Y)", x->name, x->n, x->d, y->name, y->n, y->d);
    if (z) fprintf(f, ", z = '%s' (%zu × %zu)", z->name, z->n, z->d);
    fprintf(f, "\n%-22s %12s %10s %5s %9s  %s\n", "method", "mean", "sd", "n", "seconds", "unit (trained: steps or epochs, mean)");
    for (size_t i = 0; i < nm; i++) {
        const mr_est_result *r = &res[i];
        double st = 0;
        for (size_t s = 0; s < r->nseeds; s++) st += (double)r->steps[s];
        fprintf(f, "%-22s %12.4f %10.4f %5zu %9.1f  %s", r->name, r->mean, r->sd, r->nseeds, r->seconds, r->unit);
        if (r->m.kind == MR_EK_KSG || r->m.kind == MR_EK_FP) fprintf(f, " (deterministic, k = %zu, all rows)\n", o->knn_k);
        else {
            size_t nd = 0;
            for (size_t s = 0; s < r->nseeds; s++) nd += r->diverged_at[s] > 0;
            fprintf(f, " (trained %.0f %s", st / (double)r->nseeds, r->m.kind == MR_EK_CMINE ? "epochs" : "steps");
            if (nd) fprintf(f, "; training loss non-finite in %zu of %zu seed(s): value = best held-out before it", nd, r->nseeds);
            fprintf(f, ")\n");
        }
    }
    fprintf(f,
            "settings: columns %s; %.0f/%.0f train/test split; MI: batch %zu, ≤ %zu steps, held-out evaluation every %zu steps, "
            "patience %zu, Adam lr %g, critic MLP hidden %zu, %zu extra hidden layer(s), embedding %zu, reported = largest held-out bound; CMI: k = %zu, classifier "
            "hidden %zu, ≤ %zu epochs, batch %zu, lr %g, reported = read-outs at the lowest held-out BCE; k-NN: k = %zu; %zu seed(s) from %lu\n",
            o->standardize ? "standardised" : "as given", 100 * (1 - o->test_frac), 100 * o->test_frac, o->batch, o->max_steps,
            o->eval_every, o->patience, o->lr, o->hidden, o->layers, o->embed, o->cmi_k, o->cmi_hidden, o->cmi_epochs,
            o->cmi_batch, o->cmi_lr, o->knn_k, o->seeds, o->seed);
}

/* ------------------------------------------------------------- options */

int mr_est_opts_set(mr_est_opts *o, const char *key, const char *value, mr_error *e) {
    struct {
        const char *k;
        size_t *p;
        size_t lo;
    } sz[] = {{"seeds", &o->seeds, 1},     {"eval_every", &o->eval_every, 1}, {"patience", &o->patience, 1},
              {"steps", &o->max_steps, 1}, {"batch", &o->batch, 2},           {"hidden", &o->hidden, 1},
              {"embed", &o->embed, 1},     {"layers", &o->layers, 0},         {"k", &o->cmi_k, 1},
              {"epochs", &o->cmi_epochs, 1}, {"cmi_batch", &o->cmi_batch, 1}, {"cmi_hidden", &o->cmi_hidden, 1},
              {"knn", &o->knn_k, 1}};
    struct {
        const char *k;
        double *p;
    } db[] = {{"lr", &o->lr}, {"cmi_lr", &o->cmi_lr}, {"test_frac", &o->test_frac}};
    char *end;
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        if (!strcmp(key, sz[i].k)) {
            unsigned long v = strtoul(value, &end, 10);
            if (!*value || *end || *value == '-' || v < sz[i].lo)
                return mr_fail(e, MR_EINVAL, "option '%s' expects an integer ≥ %zu, got '%s'", key, sz[i].lo, value);
            if (!strcmp(key, "layers") && v + 2 > MR_MLP_MAXL) return mr_fail(e, MR_EINVAL, "option 'layers' at most %d", MR_MLP_MAXL - 2);
            *sz[i].p = (size_t)v;
            return 0;
        }
    for (size_t i = 0; i < sizeof db / sizeof db[0]; i++)
        if (!strcmp(key, db[i].k)) {
            double v = strtod(value, &end);
            if (!*value || *end || !(v > 0) || !isfinite(v))
                return mr_fail(e, MR_EINVAL, "option '%s' expects a positive number, got '%s'", key, value);
            *db[i].p = v;
            return 0;
        }
    if (!strcmp(key, "seed")) {
        unsigned long v = strtoul(value, &end, 10);
        if (!*value || *end || *value == '-') return mr_fail(e, MR_EINVAL, "option 'seed' expects a non-negative integer, got '%s'", value);
        o->seed = v;
        return 0;
    }
    if (!strcmp(key, "standardize")) {
        if (strcmp(value, "true") && strcmp(value, "false"))
            return mr_fail(e, MR_EINVAL, "option 'standardize' expects true or false, got '%s'", value);
        o->standardize = !strcmp(value, "true");
        return 0;
    }
    return mr_fail(e, MR_EINVAL,
                   "unknown option '%s' (known: method, seeds, seed, standardize, test_frac, eval_every, patience, steps, batch, lr, "
                   "hidden, embed, layers, k, epochs, cmi_batch, cmi_hidden, cmi_lr, knn, x_name, y_name, z_name)",
                   key);
}
