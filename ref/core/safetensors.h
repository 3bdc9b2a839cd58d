/* safetensors.h — reading and writing Hugging Face .safetensors files.
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON (the header),
 * then the byte buffer. The header is an object mapping each tensor name to
 * {"dtype": "F64"|"F32"|..., "shape": [d0, ...], "data_offsets": [begin, end]}
 * (offsets relative to the start of the buffer, end exclusive), plus an
 * optional "__metadata__" object of string → string. Data are little-endian,
 * C order.
 *
 * What the reader enforces (the format's rules as the reference Rust
 * implementation checks them, plus a few of ours), each as an MR_EFORMAT
 * (MR_EUNSUPPORTED for a known but unsupported dtype when read) naming the
 * file and the tensor or field:
 *   - the file holds the 8 length bytes; N ≤ 100,000,000 (the reference
 *     limit) and 8 + N ≤ the file size; the header starts with '{';
 *   - the header is strict JSON (json.h): valid UTF-8, nesting ≤ 8 levels, no
 *     duplicate key anywhere, only trailing whitespace after the object;
 *   - every entry has exactly dtype, shape and data_offsets; dtype is one of
 *     the format's names (BOOL U8 I8 U16 I16 F16 BF16 U32 I32 F32 U64 I64
 *     F64 F8_E4M3 F8_E5M2), otherwise "unknown dtype"; shape is an array of
 *     at most MR_ST_MAXDIM non-negative integers; offsets two integers with
 *     begin ≤ end; "__metadata__" values are strings;
 *   - end − begin = product(shape) · dtype size (overflow-checked);
 *   - the ranges, sorted by begin, tile the buffer exactly: the first starts
 *     at 0, each starts where the previous ended (no overlap, no hole), the
 *     last ends at the end of the file (so a truncated file, a range beyond
 *     the file and trailing bytes are all errors).
 * Empty tensors (a 0 in the shape) and 0-d scalars are allowed, as in the
 * format. Values are not checked here (NaN/inf may be stored); loaders that
 * fill parameters refuse them.
 *
 * Memory: the header (≤ the file size) is read whole; tensor data are read on
 * demand from the file (pread), never the whole file at once.
 */
#ifndef MR_SAFETENSORS_H
#define MR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "ref/core/common.h"

#define MR_ST_MAXDIM 8
#define MR_ST_MAX_HEADER 100000000ull
#define MR_ST_MAX_DEPTH 8

typedef enum {
    MR_ST_F64 = 0,
    MR_ST_F32,
    MR_ST_F16,
    MR_ST_BF16, /* the four convertible to double */
    MR_ST_BOOL,
    MR_ST_U8,
    MR_ST_I8,
    MR_ST_U16,
    MR_ST_I16,
    MR_ST_U32,
    MR_ST_I32,
    MR_ST_U64,
    MR_ST_I64,
    MR_ST_F8_E4M3,
    MR_ST_F8_E5M2,
    MR_ST_DT_COUNT
} mr_st_dtype;

const char *mr_st_dtype_name(mr_st_dtype dt); /* "F64", ... */
size_t mr_st_dtype_size(mr_st_dtype dt);      /* bytes per element */

typedef struct {
    char *name;
    mr_st_dtype dtype;
    int ndim;
    uint64_t shape[MR_ST_MAXDIM];
    uint64_t count;      /* product of shape (1 for 0-d) */
    uint64_t begin, end; /* relative to the byte buffer */
} mr_st_tensor;

typedef struct {
    char *label;               /* the path (or label) used in messages */
    int fd;                    /* -1 when reading from memory */
    unsigned char *mem;        /* copy of the whole image (open_mem) */
    uint64_t data_start;       /* 8 + N */
    uint64_t data_len;
    size_t n;                  /* tensors, in header order */
    mr_st_tensor *t;
    size_t n_meta;             /* __metadata__ entries */
    char **meta_key, **meta_val;
} mr_st_file;

int mr_st_open(mr_st_file *f, const char *path, mr_error *e);
/* Same over a caller's buffer (copied); `label` names it in errors. */
int mr_st_open_mem(mr_st_file *f, const char *label, const void *buf, size_t len, mr_error *e);
void mr_st_close(mr_st_file *f);
long mr_st_find(const mr_st_file *f, const char *name);
/* Value of __metadata__[key] or NULL. */
const char *mr_st_meta(const mr_st_file *f, const char *key);

/* Tensor i converted to double (out has t[i].count entries). F64 and F32
 * are widened exactly; F16 and BF16 bit-exactly (subnormals, ±0, ±inf, NaN
 * kept as such). Any other dtype: MR_EUNSUPPORTED naming the tensor. */
int mr_st_read_f64(const mr_st_file *f, size_t i, double *out, mr_error *e);
/* The raw little-endian bytes of tensor i (end − begin bytes into out). */
int mr_st_read_raw(const mr_st_file *f, size_t i, void *out, mr_error *e);

double mr_f16_to_double(uint16_t h);
double mr_bf16_to_double(uint16_t h);

/* ------------------------------------------------------------------ writer */
typedef struct {
    const char *name;
    mr_st_dtype dtype;      /* MR_ST_F64 (exact) or MR_ST_F32 (rounded) */
    int ndim;
    const size_t *shape;
    const double *data;     /* product(shape) values */
} mr_st_entry;

/* Write the entries in the given order (names unique) with an optional
 * __metadata__ (n_meta key/value pairs meta[2k], meta[2k+1]); the header is
 * padded with spaces so the buffer starts 8-byte aligned, as the reference
 * writer does. Atomic (temporary file + rename). */
int mr_st_save(const char *path, size_t n, const mr_st_entry *t, size_t n_meta, const char *const *meta,
               mr_error *e);

#endif
