/* estimate.c — see estimate.h. */
#include "estimators/estimate.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimators/knn_mi.h"
#include "estimators/truth.h"
#include "ref/nn/optim.h"

void mr_mi_run_default(mr_mi_run *c) {
    memset(c, 0, sizeof *c);
    c->bound = MR_BOUND_INFONCE;
    mr_bound_opts_default(&c->bopt);
    c->critic = MR_CRITIC_SEPARATE;
    c->base = MR_BASE_CONSTANT;
    c->d = 20;
    c->B = 64;
    c->hidden = 256;
    c->embed = 32;
    c->layers = 1; /* in → 256 → 256 → out: Poole's two hidden layers */
    c->steps_per_level = 4000;
    c->nlevels = 5;
    for (int i = 0; i < 5; i++) c->levels[i] = 2.0 * (i + 1);
    c->lr = 5e-4;
    c->seed = 0;
}

int mr_run_mi(const mr_mi_run *c, mr_mi_result *res, mr_error *e) {
    memset(res, 0, sizeof *res);
    if (c->B < 2 || c->d == 0 || c->nlevels == 0 || c->nlevels > MR_MAX_LEVELS || c->steps_per_level == 0)
        return mr_fail(e, MR_EINVAL, "estimate: need batch ≥ 2, d ≥ 1, 1..%d levels and steps ≥ 1", MR_MAX_LEVELS);
    mr_params p;
    mr_params_init(&p);
    mr_critic cr;
    int rc = mr_critic_register(&cr, &p, "estimator", c->critic, c->base, c->d, c->d, c->hidden, c->embed, c->layers, e);
    if (!rc) rc = mr_params_alloc(&p, e);
    if (rc) {
        mr_params_free(&p);
        return rc;
    }
    gsl_rng *r_init = gsl_rng_alloc(gsl_rng_mt19937), *r_data = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r_init, c->seed);
    gsl_rng_set(r_data, c->seed + 1);
    mr_critic_init(&cr, &p, r_init);
    mr_optim opt;
    mr_optim_adam(&opt, &p, 0.0);
    size_t *all = malloc(p.n * sizeof *all);
    size_t nall = mr_params_select(&p, NULL, NULL, all);
    mr_optim_add_group(&opt, all, nall, c->lr, NULL);
    size_t B = c->B, d = c->d;
    double *x = malloc(B * d * sizeof *x), *y = malloc(B * d * sizeof *y);
    double *S = malloc(B * B * sizeof *S), *dS = malloc(B * B * sizeof *dS);
    double *la = calloc(B, sizeof *la), *dla = malloc(B * sizeof *dla);
    double *work = malloc(mr_critic_work_size(&cr, B) * sizeof *work);
    double *bwork = malloc(mr_bound_work_size(B) * sizeof *bwork);
    size_t keep = c->steps_per_level - c->steps_per_level / 2;
    double *hist = malloc(keep * sizeof *hist);
    if (!x || !y || !S || !dS || !la || !dla || !work || !bwork || !hist || !all) {
        rc = mr_fail(e, MR_ENOMEM, "estimate: out of memory");
        goto done;
    }
    int base = mr_bound_uses_baseline(c->bound);
    double t0 = mr_seconds();
    if (c->csv) fprintf(c->csv, "step,level,true_mi,estimate,loss\n");
    for (size_t L = 0; L < c->nlevels; L++) {
        double rho = mr_staircase_rho(c->levels[L], d);
        res->truth[L] = c->levels[L];
        size_t nh = 0;
        for (size_t s = 0; s < c->steps_per_level; s++) {
            mr_sample_staircase(r_data, B, d, rho, c->cubic, x, y);
            mr_critic_forward(&cr, &p, x, y, B, S, work);
            if (base) mr_baseline_forward(&cr, &p, y, B, la, work);
            mr_params_zero_grad(&p);
            memset(dS, 0, B * B * sizeof *dS);
            memset(dla, 0, B * sizeof *dla);
            double I = mr_bound_mi(c->bound, S, B, base ? la : NULL, &c->bopt, NULL, NULL, 0, bwork);
            double loss = mr_bound_loss(c->bound, S, B, base ? la : NULL, &c->bopt, dS, base ? dla : NULL, 1.0, bwork);
            if (base) mr_baseline_backward(&cr, &p, y, B, dla, NULL, work);
            mr_critic_backward(&cr, &p, x, y, B, dS, NULL, NULL, work);
            mr_optim_step(&opt);
            if (s >= c->steps_per_level / 2) hist[nh++] = I;
            size_t step = L * c->steps_per_level + s;
            if (c->csv) fprintf(c->csv, "%zu,%zu,%.6f,%.10g,%.10g\n", step, L, c->levels[L], I, loss);
            if (c->progress && (s + 1) % 500 == 0) {
                double m = 0;
                size_t from = nh > 100 ? nh - 100 : 0;
                for (size_t k = from; k < nh; k++) m += hist[k];
                fprintf(c->progress, "  %-11s level %zu/%zu  step %5zu/%zu  true %6.3f  estimate %s%8.4f  %6.1fs\n",
                        mr_bound_name(c->bound), L + 1, c->nlevels, s + 1, c->steps_per_level, c->levels[L],
                        nh ? "(last 100) " : "(this step)", nh ? m / (double)(nh - from) : I, mr_seconds() - t0);
                fflush(c->progress);
            }
            if (!isfinite(I) && c->progress) {
                fprintf(c->progress, "  %s: non-finite estimate at step %zu (reported as is)\n", mr_bound_name(c->bound), step);
            }
        }
        double m = 0, v = 0;
        for (size_t k = 0; k < nh; k++) m += hist[k];
        m /= (double)nh;
        for (size_t k = 0; k < nh; k++) v += (hist[k] - m) * (hist[k] - m);
        res->mean[L] = m;
        res->sd[L] = nh > 1 ? sqrt(v / (double)(nh - 1)) : 0.0;
    }
    res->seconds = mr_seconds() - t0;
done:
    free(x);
    free(y);
    free(S);
    free(dS);
    free(la);
    free(dla);
    free(work);
    free(bwork);
    free(hist);
    free(all);
    mr_optim_free(&opt);
    mr_params_free(&p);
    gsl_rng_free(r_init);
    gsl_rng_free(r_data);
    return rc;
}

/* ------------------------------------------------------------------- CMI */

void mr_cmi_run_default(mr_cmi_run *c) {
    memset(c, 0, sizeof *c);
    c->dist = MR_CMI_DIST_CMINE;
    c->d = 1;
    c->k = 2;
    c->n_train = 20000;
    c->n_eval = 5000;
    c->hidden = 64;
    c->epochs = 20;
    c->batch = 256;
    c->head = MR_CMI_HEAD_SIGMOID;
    c->lr = 1e-3;
    c->with_fp = 1;
}

typedef struct {
    size_t dx, dy, dz;
    double *x, *y, *z;
} triple;

static int sample_triple(const mr_cmi_run *c, gsl_rng *r, const double *w, size_t n, triple *t) {
    int chain = c->dist == MR_CMI_DIST_CMINE || c->dist == MR_CMI_DIST_CMINE_ZERO;
    t->dx = chain ? c->d : 1;
    t->dy = chain ? c->d : 1;
    t->dz = c->d;
    t->x = malloc(n * t->dx * sizeof(double));
    t->y = malloc(n * t->dy * sizeof(double));
    t->z = malloc(n * t->dz * sizeof(double));
    if (!t->x || !t->y || !t->z) return MR_ENOMEM;
    if (chain) {
        /* X → Y → Z; the zero case estimates I(X;Z|Y): swap the roles of Y and Z */
        if (c->dist == MR_CMI_DIST_CMINE) mr_sample_cmine_chain(r, n, c->d, 10, 1, 5, t->x, t->y, t->z);
        else mr_sample_cmine_chain(r, n, c->d, 10, 1, 5, t->x, t->z, t->y);
    } else {
        mr_sample_ccmi(r, n, c->d, c->dist == MR_CMI_DIST_CCMI_G, w, t->x, t->y, t->z);
    }
    return MR_OK;
}

static void free_triple(triple *t) {
    free(t->x);
    free(t->y);
    free(t->z);
}

/* Joint rows (first m·k samples) and k-NN product rows of one sample set. */
static int build_rows(const mr_cmi_run *c, gsl_rng *r, const triple *t, size_t n, size_t dmax, double **J,
                      double **P, size_t *Mp, mr_error *e) {
    size_t m = n / c->k;
    *Mp = m * c->k;
    int64_t *anchors = malloc((m ? m : 1) * sizeof *anchors), *nb = malloc((*Mp ? *Mp : 1) * sizeof *nb);
    *J = malloc(*Mp * 3 * dmax * sizeof **J);
    *P = malloc(*Mp * 3 * dmax * sizeof **P);
    if (!anchors || !nb || !*J || !*P) {
        free(anchors);
        free(nb);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    int rc = mr_knn_draw_anchors(n, m, r, anchors, e);
    if (!rc) rc = mr_knn_neighbors(t->z, t->dz, n, anchors, m, c->k, nb, e);
    if (!rc) rc = mr_knn_product_rows(t->x, t->dx, t->y, t->dy, t->z, t->dz, anchors, m, c->k, nb, dmax, *P, e);
    if (!rc) rc = mr_cmi_joint_rows(t->x, t->dx, t->y, t->dy, t->z, t->dz, *Mp, dmax, *J, e);
    free(anchors);
    free(nb);
    return rc;
}

int mr_run_cmi(const mr_cmi_run *c, mr_cmi_result *res, mr_error *e) {
    memset(res, 0, sizeof *res);
    if (c->k == 0 || c->batch == 0 || c->n_train < 2 * c->k || c->n_eval < 2 * c->k || c->d == 0)
        return mr_fail(e, MR_EINVAL, "estimate: need k ≥ 1, batch ≥ 1, d ≥ 1 and at least 2k samples");
    double t0 = mr_seconds();
    gsl_rng *r_init = gsl_rng_alloc(gsl_rng_mt19937), *r_data = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r_init, c->seed);
    gsl_rng_set(r_data, c->seed + 1);
    double *w = malloc(c->d * sizeof *w), nrm = 0;
    for (size_t k = 0; k < c->d; k++) w[k] = gsl_ran_gaussian(r_init, 1.0), nrm += w[k] * w[k];
    for (size_t k = 0; k < c->d; k++) w[k] /= sqrt(nrm);
    res->truth = c->dist == MR_CMI_DIST_CMINE ? mr_cmine_chain_cmi(10, 1, 5, c->d)
                 : c->dist == MR_CMI_DIST_CMINE_ZERO ? 0.0 : mr_ccmi_cmi();
    triple tr = {0}, ev = {0};
    double *J = NULL, *P = NULL, *Je = NULL, *Pe = NULL;
    mr_cmi_trainer t;
    memset(&t, 0, sizeof t);
    int rc = MR_OK;
    if (sample_triple(c, r_data, w, c->n_train, &tr) || sample_triple(c, r_data, w, c->n_eval, &ev)) {
        rc = mr_fail(e, MR_ENOMEM, "out of memory");
        goto done;
    }
    size_t dmax = tr.dx > tr.dy ? tr.dx : tr.dy;
    if (tr.dz > dmax) dmax = tr.dz;
    size_t Mp, Mpe;
    if ((rc = build_rows(c, r_data, &tr, c->n_train, dmax, &J, &P, &Mp, e))) goto done;
    if ((rc = build_rows(c, r_data, &ev, c->n_eval, dmax, &Je, &Pe, &Mpe, e))) goto done;
    if ((rc = mr_cmi_trainer_init(&t, dmax, c->hidden, c->head, c->lr, J, P, Mp, c->batch, Mpe, r_init, e))) goto done;
    for (size_t ep = 0; ep < c->epochs; ep++) {
        double bce = mr_cmi_trainer_epoch(&t, r_data);
        if (c->progress && ((ep + 1) % 5 == 0 || ep + 1 == c->epochs)) {
            fprintf(c->progress, "  cmi  epoch %3zu/%zu  train BCE %.5f  %6.1fs\n", ep + 1, c->epochs, bce, mr_seconds() - t0);
            fflush(c->progress);
        }
    }
    for (int ro = 0; ro < MR_CMI_READ_COUNT; ro++) {
        res->est[ro] = mr_cmi_trainer_eval(&t, Je, Pe, Mpe, (mr_cmi_readout)ro).cmi;
        res->se[ro] = mr_cmi_readout_se(&t.cm, Mpe, (mr_cmi_readout)ro, t.work);
    }
    res->fp = c->with_fp ? mr_fp_cmi(ev.x, ev.dx, ev.y, ev.dy, ev.z, ev.dz, c->n_eval, 5) : NAN;
    res->seconds = mr_seconds() - t0;
done:
    free_triple(&tr);
    free_triple(&ev);
    free(J);
    free(P);
    free(Je);
    free(Pe);
    free(w);
    mr_cmi_trainer_free(&t);
    gsl_rng_free(r_init);
    gsl_rng_free(r_data);
    return rc;
}
