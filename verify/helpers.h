/* helpers.h — shared test utilities: seeded random fills, array comparison,
 * temporary paths, environment lookups. FP traps (invalid, divide-by-zero,
 * overflow) are switched on in every test process by a constructor in
 * helpers.c, so the first NaN/inf produced by library code crashes the test. */
#ifndef MR_TEST_HELPERS_H
#define MR_TEST_HELPERS_H

#include <gsl/gsl_rng.h>
#include <stddef.h>
#include <stdint.h>

#include "ref/core/npz.h"
#include "ref/core/params.h"

gsl_rng *t_rng(unsigned long seed);
void t_fill_uniform(double *x, size_t n, double lo, double hi, gsl_rng *r);
/* Uniform in ±[lo, hi]: magnitudes kept away from 0 (for kinks at 0). */
void t_fill_away(double *x, size_t n, double lo, double hi, gsl_rng *r);
double *t_alloc(size_t n);             /* zeroed, aborts on failure */
double t_max_abs_diff(const double *a, const double *b, size_t n);
/* A fresh directory under build/tmp for this test process. */
const char *t_tmpdir(void);
/* path = t_tmpdir()/name (static buffer per call site is not needed: caller's buf). */
void t_path(char *buf, size_t n, const char *name);
/* Trap state helpers: tests that deliberately produce NaN/inf wrap the
 * computation in t_traps_off()/t_traps_on(). */
void t_traps_off(void);
void t_traps_on(void);
/* Write len bytes to path; returns 0 on success. */
int t_write_file(const char *path, const void *buf, size_t len);
/* Read a whole file (malloc'd), NULL on failure. */
unsigned char *t_read_file(const char *path, size_t *len);
/* Run `$MIMRL_BIN args` (default build/mimrl) with stdout and stderr captured
 * into out (NUL-terminated, truncated to n); returns the exit status. */
int t_run_cli(const char *args, char *out, size_t n);

/* The Python interpreter with numpy (MIMRL_PYTHON, set by `make test` from
 * verify/find_python.sh), or NULL when unset; tests that need it skip with
 * T_NO_PYTHON. */
const char *t_python(void);
#define T_NO_PYTHON "MIMRL_PYTHON unset: no python3 with numpy (run via make test, which installs python3-numpy)"

/* 1 in make test's BLAS=none phase (MIMRL_BLAS=none). The slow statistical
 * tests (estimator accuracy on thousands of samples, the PyTorch twin as a
 * conformance port) run once, in the OpenBLAS phase: what they measure does
 * not depend on the BLAS build beyond rounding, and the BLAS=none phase is
 * for bit-reproducibility, which the oracle and bitcheck tests cover. */
int t_reference_phase(void);

/* BUF = the file NAME in the folder of the mimrl binary (MIMRL_BIN, else build/mimrl); 1 when it exists. */
int t_beside_bin(char *buf, size_t n, const char *name);

/* The shared library this run's CLI goes with: MIMRL_LIB (make test), else
 * libmimrl.so next to MIMRL_BIN (default build/), in buf; 1 if it exists. */
int t_shared_lib(char *buf, size_t n);
#define T_ONCE_PER_TEST_RUN "slow test (PyTorch twin as a port, or estimator accuracy on 5,000 samples) run once per make test, in the OpenBLAS phase: its outcome does not depend on the BLAS build beyond rounding"

/* Member name of an npz as doubles (t_alloc'd; want = 0: any count, else
 * the count it must have), asserting on failure: the fixture readers' one
 * accessor. */
double *t_npz_get(const mr_npz *z, const char *name, size_t want);

/* The feature banks and anchors of an oracle batch (README, Oracle):
 * bank_label [N, 1], bank_text / bank_audio / bank_vision [N, D] and, for each
 * CMI estimator j, anchors_<name> [m] from anchors[j·m …]. */
void t_npz_add_banks(mr_npz_writer *w, size_t N, size_t D, const double *label, const double *T, const double *A,
                     const double *V, const int64_t *anchors, size_t m);

/* Folder of the official state-dict listings (the spec/state-dict TSV files):
 * MIMRL_STATE_DICT, else the copy committed in verify/fixtures/state-dict/
 * (so the name checks run on a clean clone without ../shared). */
const char *t_state_dict_dir(void);
/* The seven official listings, by name (file NAME.tsv). */
extern const char *const t_state_dict_names[];
extern const size_t t_state_dict_count;
/* path ← t_state_dict_dir()/NAME.tsv; 1 when that file can be opened. */
int t_state_dict_path(char *path, size_t n, const char *name);
/* The name-keyed parameter generator of verify/torch/crosscheck.py (its
 * docstring has the definition): uniform [−1, 1) values of entries 0..n−1 of
 * the tensor called name, and every tensor of a store filled by its rule. */
void t_gen_uniform(const char *name, size_t n, uint64_t seed, double *out);
void t_gen_params(mr_params *p, uint64_t seed, double gain);

#define T_STATE_DICT_MISSING "%s not found (committed copy of spec/state-dict; MIMRL_STATE_DICT overrides)"

/* Member `name` of an open npz as n doubles into out (asserts it exists and has n values). */
void t_npz_copy(const mr_npz *z, const char *name, double *out, size_t n); /* exactly n values into out */

#endif
