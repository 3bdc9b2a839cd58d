/* gradcheck.c — see gradcheck.h and tolerance.h. */
#include "ref/core/gradcheck.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>


static double five_point(mr_gc_fn f, void *ctx, double *x, double h) {
    double x0 = *x;
    *x = x0 + h;
    double f1 = f(ctx);
    *x = x0 - h;
    double fm1 = f(ctx);
    *x = x0 + 2 * h;
    double f2 = f(ctx);
    *x = x0 - 2 * h;
    double fm2 = f(ctx);
    *x = x0;
    return (8.0 * (f1 - fm1) - (f2 - fm2)) / (12.0 * h);
}

/* Pass test at step h: the rounding part of the bound scales as 1/h. */
static int within(double g, double d, double scale, double h, double *ratio) {
    double err = fabs(g - d);
    double bound = GC_ATOL * scale * (GC_H / h) + GC_RTOL * fmax(fabs(g), fabs(d));
    *ratio = err / bound;
    return err <= bound; /* NaN fails */
}

static void record(mr_gc_result *r, double g, double d, double ratio) {
    r->checked++;
    if (fabs(g - d) > r->max_err) r->max_err = fabs(g - d);
    if (ratio > r->max_ratio) r->max_ratio = ratio;
    if (fabs(g) > r->max_abs_grad) r->max_abs_grad = fabs(g);
}

int mr_gradcheck(mr_gc_fn f, void *ctx, mr_gc_var *vars, size_t nvars, double scale,
                 mr_gc_result *res) {
    mr_gc_result r = {0};
    if (scale <= 0.0) scale = fmax(1.0, fabs(f(ctx)));
    r.scale = scale;
    int printed = 0;
    for (size_t v = 0; v < nvars; v++) {
        for (size_t i = 0; i < vars[v].n; i++) {
            double g = vars[v].g[i], d = 0.0, ratio = 0.0;
            int ok = 0;
            for (int k = 0; k < GC_STEPS && !ok; k++) {
                double hs = GC_H * pow(0.1, k);
                d = five_point(f, ctx, &vars[v].x[i], hs * fmax(1.0, fabs(vars[v].x[i])));
                ok = within(g, d, scale, hs, &ratio);
            }
            record(&r, g, d, ratio);
            if (!ok) {
                r.failed++;
                if (printed++ < 5)
                    fprintf(stderr, "gradcheck: %s[%zu]: analytic %.17g, finite difference %.17g\n",
                            vars[v].name, i, g, d);
            }
        }
    }
    int trivial = r.max_abs_grad <= GC_NONTRIVIAL * scale;
    if (trivial) fprintf(stderr, "gradcheck: gradient is trivially zero (max |g| = %g)\n", r.max_abs_grad);
    if (res) *res = r;
    return (int)r.failed + trivial;
}

int mr_gradcheck_dir(mr_gc_fn f, void *ctx, mr_gc_var *vars, size_t nvars, double scale,
                     size_t ndirs, unsigned long seed, mr_gc_result *res) {
    mr_gc_result r = {0};
    if (scale <= 0.0) scale = fmax(1.0, fabs(f(ctx)));
    r.scale = scale;
    size_t total = 0;
    for (size_t v = 0; v < nvars; v++) total += vars[v].n;
    double *x0 = malloc((total ? total : 1) * sizeof *x0);
    double *dir = malloc((total ? total : 1) * sizeof *dir);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    size_t k = 0;
    for (size_t v = 0; v < nvars; v++)
        for (size_t i = 0; i < vars[v].n; i++) x0[k++] = vars[v].x[i];
    int fails = 0;
    for (size_t d = 0; d < ndirs; d++) {
        double norm = 0.0;
        for (k = 0; k < total; k++) {
            dir[k] = 2.0 * gsl_rng_uniform(rng) - 1.0;
            norm += dir[k] * dir[k];
        }
        norm = sqrt(norm);
        double gd = 0.0;
        k = 0;
        for (size_t v = 0; v < nvars; v++)
            for (size_t i = 0; i < vars[v].n; i++, k++) {
                dir[k] /= norm;
                gd += vars[v].g[i] * dir[k];
            }
        double fd = 0.0, ratio = 0.0;
        int ok = 0;
        for (int st = 0; st < GC_STEPS && !ok; st++) {
            double fv[4], ts[4] = {1, -1, 2, -2}, h = GC_H * pow(0.1, st);
            for (int s = 0; s < 4; s++) {
                k = 0;
                for (size_t v = 0; v < nvars; v++)
                    for (size_t i = 0; i < vars[v].n; i++, k++) vars[v].x[i] = x0[k] + ts[s] * h * dir[k];
                fv[s] = f(ctx);
            }
            k = 0;
            for (size_t v = 0; v < nvars; v++)
                for (size_t i = 0; i < vars[v].n; i++, k++) vars[v].x[i] = x0[k];
            fd = (8.0 * (fv[0] - fv[1]) - (fv[2] - fv[3])) / (12.0 * h);
            ok = within(gd, fd, scale, h, &ratio);
        }
        record(&r, gd, fd, ratio);
        if (!ok) {
            fails++;
            r.failed++;
            fprintf(stderr, "gradcheck_dir: direction %zu: analytic %.17g, finite difference %.17g\n", d, gd, fd);
        }
    }
    gsl_rng_free(rng);
    free(x0);
    free(dir);
    int trivial = r.max_abs_grad <= GC_NONTRIVIAL * scale;
    if (trivial) fprintf(stderr, "gradcheck_dir: directional derivative trivially zero\n");
    if (res) *res = r;
    return fails + trivial;
}
