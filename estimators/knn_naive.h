/* knn_naive.h — the obviously-correct k-nearest-neighbour search that the
 * fast sampler (mr_knn_neighbors, cmine.h) is checked against in the tests
 * and validated against in bench/est_bench before it is timed.
 *
 * For each anchor a: every bank row that is not an anchor, keyed by
 * (squared Euclidean distance to row anchors[a], row index), fully sorted;
 * the first k indices → out[a·k … a·k + k). Ties therefore go to the lower
 * row index, the order the README documents (O-14). O(m·N·(m + dZ + log N)).
 */
#ifndef MR_KNN_NAIVE_H
#define MR_KNN_NAIVE_H

#include <stddef.h>
#include <stdint.h>

#include "ref/core/common.h"

/* Z [N × dZ] row-major; anchors [m] distinct rows of Z; out [m × k].
 * MR_EINVAL when fewer than k non-anchor rows exist, MR_ENOMEM on allocation
 * failure (out untouched in both cases). */
int mr_knn_naive(const double *Z, size_t dZ, size_t N, const int64_t *anchors, size_t m, size_t k, int64_t *out,
                 mr_error *e);

#endif
