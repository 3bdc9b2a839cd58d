/* knn_naive.c — full-sort k-NN, the reference of knn_naive.h. */
#include "estimators/knn_naive.h"

#include <stdlib.h>

typedef struct {
    double d;
    int64_t i;
} knn_key;

static int cmp_key(const void *a, const void *b) {
    const knn_key *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int is_anchor(const int64_t *anchors, size_t m, size_t i) {
    for (size_t b = 0; b < m; b++)
        if (anchors[b] == (int64_t)i) return 1;
    return 0;
}

int mr_knn_naive(const double *Z, size_t dZ, size_t N, const int64_t *anchors, size_t m, size_t k, int64_t *out,
                 mr_error *e) {
    size_t avail = 0;
    for (size_t i = 0; i < N; i++) avail += !is_anchor(anchors, m, i);
    if (avail < k) return mr_fail(e, MR_EINVAL, "mr_knn_naive: %zu non-anchor rows for k = %zu", avail, k);
    knn_key *c = malloc((avail ? avail : 1) * sizeof *c);
    if (!c) return mr_fail(e, MR_ENOMEM, "mr_knn_naive: %zu candidates", avail);
    for (size_t a = 0; a < m; a++) {
        const double *za = Z + (size_t)anchors[a] * dZ;
        size_t n = 0;
        for (size_t i = 0; i < N; i++) {
            if (is_anchor(anchors, m, i)) continue;
            double s = 0;
            for (size_t f = 0; f < dZ; f++) {
                double t = Z[i * dZ + f] - za[f];
                s += t * t;
            }
            c[n].d = s;
            c[n].i = (int64_t)i;
            n++;
        }
        qsort(c, n, sizeof *c, cmp_key);
        for (size_t j = 0; j < k; j++) out[a * k + j] = c[j].i;
    }
    free(c);
    return MR_OK;
}
