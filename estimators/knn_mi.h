/* knn_mi.h — nonparametric k-nearest-neighbour estimators, the baselines
 * against which the neural estimators are judged (anchors.md §D.3).
 *
 * KSG (Kraskov, Stögbauer, Grassberger 2004, algorithm 1), max-norm:
 *   ε_i = distance of point i to its k-th nearest neighbour in the joint
 *   space (max-norm over all coordinates); n_x(i), n_y(i) = number of points
 *   j ≠ i strictly closer than ε_i in the marginal spaces;
 *   Î(X;Y) = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩.
 * Frenzel–Pompe (2007) conditional MI, same conventions:
 *   Î(X;Y|Z) = ψ(k) − ⟨ψ(n_xz + 1) + ψ(n_yz + 1) − ψ(n_z + 1)⟩.
 * ψ is GSL's digamma. Brute force O(N²·d): exact, fine for N ≲ 10⁴.
 * Rows are samples: x[N×dx], y[N×dy], z[N×dz]. k < N.
 */
#ifndef MR_KNN_MI_H
#define MR_KNN_MI_H

#include <stddef.h>

double mr_ksg_mi(const double *x, size_t dx, const double *y, size_t dy, size_t N, size_t k);
double mr_fp_cmi(const double *x, size_t dx, const double *y, size_t dy, const double *z, size_t dz,
                 size_t N, size_t k);

#endif
