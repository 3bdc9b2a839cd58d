/* npz.h — reading and writing numpy .npy / .npz files (zlib only).
 *
 * Reader: the ZIP central directory is authoritative (sizes, CRC, offsets;
 * ZIP64 records and extras honoured), each member's own local header gives
 * where its data starts. Members may be stored (method 0) or deflated
 * (method 8); CRC-32 is always checked. npy headers v1.0, v2.0 and v3.0 are
 * parsed; dtypes <f8 <f4 <i8 <i4 |u1 |b1 in C order are supported, anything
 * else is refused with a message naming the file, the member and the dtype.
 * Every size is checked against the file before anything is allocated: a
 * stored member is never larger than the file, a deflated one never larger
 * than deflate's maximal ratio (1032:1) allows.
 *
 * Writer: npz (stored by default, deflated on request) or a single .npy,
 * written to a temporary file in the target's directory, fsync'ed and
 * renamed over the target, so a crash never leaves a half-written file and
 * never destroys the previous version. Zip timestamps are fixed (1980-01-01)
 * so the same arrays give the same bytes.
 */
#ifndef MR_NPZ_H
#define MR_NPZ_H

#include <stdint.h>
#include <stdio.h>

#include "ref/core/common.h"

typedef enum { MR_DT_F8 = 0, MR_DT_F4, MR_DT_I8, MR_DT_I4, MR_DT_U1, MR_DT_B1, MR_DT_COUNT } mr_dtype;

const char *mr_dtype_descr(mr_dtype dt); /* "<f8", ..., "|b1" */
size_t mr_dtype_size(mr_dtype dt);

#define MR_NPY_MAXDIM 16

typedef struct {
    mr_dtype dtype;
    int ndim;
    uint64_t shape[MR_NPY_MAXDIM];
    uint64_t count; /* product of shape (1 for a 0-d array) */
    void *data;     /* count · itemsize bytes, malloc'd, suitably aligned */
} mr_array;

void mr_array_free(mr_array *a);
/* Convert any supported dtype to double (out has a->count entries). */
void mr_array_to_f64(const mr_array *a, double *out);

/* Parse one .npy image of len bytes. `file` and `member` only label errors
 * (member may be NULL). On success a->data is a fresh allocation. */
int mr_npy_parse(const unsigned char *buf, uint64_t len, mr_array *a, const char *file,
                 const char *member, mr_error *e);

typedef struct {
    char *name;     /* member name without its ".npy" suffix */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, lho, data_off;
} mr_npz_member;

typedef struct {
    char *path;
    FILE *f;
    void *mem; /* private copy for mr_npz_open_mem */
    uint64_t fsize;
    size_t n;
    mr_npz_member *m;
    int zip64;
} mr_npz;

int mr_npz_open(mr_npz *z, const char *path, mr_error *e);
/* Same, over a caller's buffer (copied); `label` names it in errors. */
int mr_npz_open_mem(mr_npz *z, const char *label, const void *buf, size_t len, mr_error *e);
void mr_npz_close(mr_npz *z);
/* Index of a member by name (without ".npy"), or -1. */
long mr_npz_find(const mr_npz *z, const char *name);
/* The raw bytes of member i (inflated, CRC checked). *buf is malloc'd. */
int mr_npz_read_bytes(const mr_npz *z, size_t i, unsigned char **buf, uint64_t *len, mr_error *e);
int mr_npz_read_index(const mr_npz *z, size_t i, mr_array *a, mr_error *e);
int mr_npz_read(const mr_npz *z, const char *name, mr_array *a, mr_error *e);

/* Standalone .npy file, or a member of an npz when path is "FILE.npz:member". */
int mr_npy_load(const char *path, mr_array *a, mr_error *e);

/* ------------------------------------------------------------------ writer */

typedef struct {
    char *path, *tmp;
    FILE *f;
    int deflate;
    int force_zip64; /* write ZIP64 records even when not needed (for tests) */
    uint64_t off;
    size_t n, cap;
    struct mr_npz_wentry *ent;
} mr_npz_writer;

/* deflate: 0 = stored (like np.savez), 1 = deflated (np.savez_compressed). */
int mr_npz_writer_open(mr_npz_writer *w, const char *path, int deflate, mr_error *e);
/* Add one array; name without ".npy"; names must be unique. */
int mr_npz_add(mr_npz_writer *w, const char *name, mr_dtype dt, int ndim, const uint64_t *shape,
               const void *data, mr_error *e);
/* Add a member whose bytes are given as they are (a prepared .npy image, or
 * anything else: used to build test files). */
int mr_npz_add_bytes(mr_npz_writer *w, const char *name, const void *buf, size_t len, mr_error *e);
/* Write the central directory, fsync, rename into place. Frees w. */
int mr_npz_writer_close(mr_npz_writer *w, mr_error *e);
/* Remove the temporary file; the target is untouched. Frees w. */
void mr_npz_writer_abort(mr_npz_writer *w);

/* A single .npy, written atomically. */
int mr_npy_save(const char *path, mr_dtype dt, int ndim, const uint64_t *shape, const void *data,
                mr_error *e);

/* Atomic whole-file write helpers shared with other writers (JSON, CSV). */
int mr_atomic_open(const char *path, char **tmp, FILE **f, mr_error *e);
int mr_atomic_commit(const char *path, char *tmp, FILE *f, mr_error *e);
void mr_atomic_abort(char *tmp, FILE *f);

#endif
