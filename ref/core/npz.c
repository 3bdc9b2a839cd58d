/* npz.c — numpy .npy/.npz reader and writer (see npz.h).
 *
 * Formats: PKWARE APPNOTE 6.3 (ZIP, ZIP64) and numpy's NEP 1 (.npy);
 * summary in ../shared/spec/data-formats.md §4. All integers little-endian.
 */
#include "ref/core/npz.h"
#include "ref/core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------------ dtypes */

static const char *const dt_descr[MR_DT_COUNT] = {"<f8", "<f4", "<i8", "<i4", "|u1", "|b1"};
static const size_t dt_size[MR_DT_COUNT] = {8, 4, 8, 4, 1, 1};

const char *mr_dtype_descr(mr_dtype dt) { return (dt >= 0 && dt < MR_DT_COUNT) ? dt_descr[dt] : "?"; }
size_t mr_dtype_size(mr_dtype dt) { return (dt >= 0 && dt < MR_DT_COUNT) ? dt_size[dt] : 0; }

void mr_array_free(mr_array *a) {
    if (a) {
        free(a->data);
        a->data = NULL;
    }
}

void mr_array_to_f64(const mr_array *a, double *out) {
    const unsigned char *p = a->data;
    for (uint64_t i = 0; i < a->count; i++) {
        switch (a->dtype) {
        case MR_DT_F8: { double v; memcpy(&v, p + 8 * i, 8); out[i] = v; break; }
        case MR_DT_F4: { float v; memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
        case MR_DT_I8: { int64_t v; memcpy(&v, p + 8 * i, 8); out[i] = (double)v; break; }
        case MR_DT_I4: { int32_t v; memcpy(&v, p + 4 * i, 4); out[i] = v; break; }
        case MR_DT_U1: out[i] = p[i]; break;
        case MR_DT_B1: out[i] = p[i] ? 1.0 : 0.0; break;
        default: out[i] = 0.0; break;
        }
    }
}

/* ---------------------------------------------------------- little endian */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static void wr16(unsigned char *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void wr32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xff;
}
static void wr64(unsigned char *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* ---------------------------------------------------------------- npy parse */

#define WHERE(file, member) (file), (member) ? ": member '" : "", (member) ? (member) : "", (member) ? "'" : ""

typedef struct {
    const char *s, *end;
} hcur;

static void skip_ws(hcur *c) {
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r')) c->s++;
}

static int eat(hcur *c, char ch) {
    skip_ws(c);
    if (c->s < c->end && *c->s == ch) {
        c->s++;
        return 1;
    }
    return 0;
}

/* Python string literal with ' or " quotes, no escapes needed for our keys. */
static int parse_str(hcur *c, char *out, size_t n) {
    skip_ws(c);
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"')) return 0;
    char q = *c->s++;
    size_t k = 0;
    while (c->s < c->end && *c->s != q) {
        if (*c->s == '\\' || k + 1 >= n) return 0;
        out[k++] = *c->s++;
    }
    if (c->s >= c->end) return 0;
    c->s++;
    out[k] = '\0';
    return 1;
}

static int parse_word(hcur *c, const char *w) {
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->s) >= n && memcmp(c->s, w, n) == 0) {
        c->s += n;
        return 1;
    }
    return 0;
}

int mr_npy_parse(const unsigned char *buf, uint64_t len, mr_array *a, const char *file,
                 const char *member, mr_error *e) {
    memset(a, 0, sizeof *a);
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (len < 10 || memcmp(buf, magic, 6) != 0)
        return mr_fail(e, MR_EFORMAT, "%s%s%s%s: not a .npy image (bad magic or shorter than 10 bytes)", WHERE(file, member));
    unsigned major = buf[6], minor = buf[7];
    uint64_t hstart, hlen;
    if (major == 1) {
        hlen = rd16(buf + 8);
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return mr_fail(e, MR_EFORMAT, "%s%s%s%s: truncated .npy header", WHERE(file, member));
        hlen = rd32(buf + 8);
        hstart = 12;
    } else {
        return mr_fail(e, MR_EUNSUPPORTED, "%s%s%s%s: .npy format version %u.%u is not supported (1.0, 2.0, 3.0 are)",
                       WHERE(file, member), major, minor);
    }
    if (minor != 0)
        return mr_fail(e, MR_EUNSUPPORTED, "%s%s%s%s: .npy format version %u.%u is not supported", WHERE(file, member), major, minor);
    if (hlen > len - hstart)
        return mr_fail(e, MR_EFORMAT, "%s%s%s%s: .npy header length %llu exceeds the %llu bytes present",
                       WHERE(file, member), (unsigned long long)hlen, (unsigned long long)(len - hstart));
    hcur c = {(const char *)buf + hstart, (const char *)buf + hstart + hlen};
    char descr[32] = "", key[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    int ndim = 0;
    uint64_t shape[MR_NPY_MAXDIM];
    if (!eat(&c, '{')) return mr_fail(e, MR_EFORMAT, "%s%s%s%s: .npy header is not a dict", WHERE(file, member));
    while (!eat(&c, '}')) {
        if (!parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            return mr_fail(e, MR_EFORMAT, "%s%s%s%s: malformed .npy header dict", WHERE(file, member));
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!parse_str(&c, descr, sizeof descr))
                return mr_fail(e, MR_EUNSUPPORTED, "%s%s%s%s: 'descr' is not a simple dtype string (structured dtypes are not supported)", WHERE(file, member));
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (parse_word(&c, "True")) fortran = 1;
            else if (parse_word(&c, "False")) fortran = 0;
            else return mr_fail(e, MR_EFORMAT, "%s%s%s%s: 'fortran_order' must be True or False", WHERE(file, member));
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!eat(&c, '(')) return mr_fail(e, MR_EFORMAT, "%s%s%s%s: 'shape' is not a tuple", WHERE(file, member));
            while (!eat(&c, ')')) {
                skip_ws(&c);
                if (c.s >= c.end || *c.s < '0' || *c.s > '9')
                    return mr_fail(e, MR_EFORMAT, "%s%s%s%s: 'shape' holds something other than non-negative integers", WHERE(file, member));
                uint64_t v = 0;
                while (c.s < c.end && *c.s >= '0' && *c.s <= '9') {
                    if (v > (UINT64_MAX - 9) / 10)
                        return mr_fail(e, MR_EFORMAT, "%s%s%s%s: a dimension in 'shape' overflows 64 bits", WHERE(file, member));
                    v = v * 10 + (uint64_t)(*c.s++ - '0');
                }
                if (c.s < c.end && (*c.s == 'L' || *c.s == 'l')) c.s++; /* Python 2 long */
                if (ndim >= MR_NPY_MAXDIM)
                    return mr_fail(e, MR_EUNSUPPORTED, "%s%s%s%s: more than %d dimensions", WHERE(file, member), MR_NPY_MAXDIM);
                shape[ndim++] = v;
                if (!eat(&c, ',')) {
                    if (!eat(&c, ')')) return mr_fail(e, MR_EFORMAT, "%s%s%s%s: malformed 'shape' tuple", WHERE(file, member));
                    break;
                }
            }
            have_shape = 1;
        } else {
            return mr_fail(e, MR_EFORMAT, "%s%s%s%s: unexpected or repeated key '%s' in .npy header", WHERE(file, member), key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return mr_fail(e, MR_EFORMAT, "%s%s%s%s: malformed .npy header dict", WHERE(file, member));
            break;
        }
    }
    skip_ws(&c);
    if (c.s != c.end) return mr_fail(e, MR_EFORMAT, "%s%s%s%s: trailing bytes after the .npy header dict", WHERE(file, member));
    if (!have_descr || !have_fortran || !have_shape)
        return mr_fail(e, MR_EFORMAT, "%s%s%s%s: .npy header lacks %s", WHERE(file, member),
                       !have_descr ? "'descr'" : !have_fortran ? "'fortran_order'" : "'shape'");
    int dt = -1;
    for (int i = 0; i < MR_DT_COUNT; i++)
        if (strcmp(descr, dt_descr[i]) == 0) dt = i;
    /* '=' is native order (little-endian here); 1-byte types accept '<', '=', '|'. */
    if (dt < 0 && (descr[0] == '=' || descr[0] == '<' || descr[0] == '|')) {
        char alt[32];
        snprintf(alt, sizeof alt, "<%s", descr + 1);
        for (int i = 0; i < MR_DT_COUNT; i++)
            if (strcmp(alt, dt_descr[i]) == 0) dt = i;
        snprintf(alt, sizeof alt, "|%s", descr + 1);
        for (int i = 0; i < MR_DT_COUNT; i++)
            if (strcmp(alt, dt_descr[i]) == 0) dt = i;
    }
    if (dt < 0)
        return mr_fail(e, MR_EUNSUPPORTED, "%s%s%s%s: dtype '%s' is not supported (supported: <f8 <f4 <i8 <i4 |u1 |b1)",
                       WHERE(file, member), descr);
    if (fortran && ndim > 1)
        return mr_fail(e, MR_EUNSUPPORTED, "%s%s%s%s: Fortran-order arrays are not supported; save with np.ascontiguousarray",
                       WHERE(file, member));
    uint64_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (mr_mul_overflow(count, shape[i], &count))
            return mr_fail(e, MR_EFORMAT, "%s%s%s%s: the product of 'shape' overflows", WHERE(file, member));
    if (mr_mul_overflow(count, dt_size[dt], &bytes))
        return mr_fail(e, MR_EFORMAT, "%s%s%s%s: the data size overflows", WHERE(file, member));
    uint64_t avail = len - hstart - hlen;
    if (bytes != avail)
        return mr_fail(e, MR_EFORMAT, "%s%s%s%s: shape and dtype %s call for %llu data bytes but %llu are present",
                       WHERE(file, member), descr, (unsigned long long)bytes, (unsigned long long)avail);
    if (bytes > SIZE_MAX) return mr_fail(e, MR_ENOMEM, "%s%s%s%s: too large for this machine", WHERE(file, member));
    a->data = malloc(bytes ? (size_t)bytes : 1);
    if (!a->data) return mr_fail(e, MR_ENOMEM, "%s%s%s%s: out of memory for %llu bytes", WHERE(file, member), (unsigned long long)bytes);
    if (bytes) memcpy(a->data, buf + hstart + hlen, (size_t)bytes);
    a->dtype = (mr_dtype)dt;
    a->ndim = ndim;
    memcpy(a->shape, shape, (size_t)ndim * sizeof shape[0]);
    a->count = count;
    return MR_OK;
}

/* ---------------------------------------------------------------- zip read */

#define SIG_LFH 0x04034b50u
#define SIG_CDH 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_Z64EOCD 0x06064b50u
#define SIG_Z64LOC 0x07064b50u
#define DEFLATE_MAX_RATIO 1032u

static int read_at(const mr_npz *z, uint64_t off, void *buf, size_t n) {
    if (off > z->fsize || n > z->fsize - off) return -1;
    if (fseeko(z->f, (off_t)off, SEEK_SET) != 0) return -1;
    return fread(buf, 1, n, z->f) == n ? 0 : -1;
}

static int cmp_names(const void *a, const void *b) {
    const mr_npz_member *x = *(mr_npz_member *const *)a, *y = *(mr_npz_member *const *)b;
    return strcmp(x->name, y->name);
}

static int npz_index(mr_npz *z, mr_error *e) {
    const char *P = z->path;
    if (fseeko(z->f, 0, SEEK_END) != 0) return mr_fail(e, MR_EIO, "%s: cannot seek: %s", P, strerror(errno));
    off_t end = ftello(z->f);
    if (end < 0) return mr_fail(e, MR_EIO, "%s: cannot tell size", P);
    z->fsize = (uint64_t)end;
    if (z->fsize < 22) return mr_fail(e, MR_EFORMAT, "%s: not a zip/npz file (only %llu bytes)", P, (unsigned long long)z->fsize);
    /* 1. EOCD: the last 22 + ≤65535 bytes. */
    size_t tail = (size_t)(z->fsize < 22 + 65535 ? z->fsize : 22 + 65535);
    unsigned char *t = malloc(tail);
    if (!t) return mr_fail(e, MR_ENOMEM, "%s: out of memory", P);
    if (read_at(z, z->fsize - tail, t, tail) != 0) {
        free(t);
        return mr_fail(e, MR_EIO, "%s: read error near the end of the file", P);
    }
    long pos = -1;
    for (long i = (long)tail - 22; i >= 0; i--)
        if (rd32(t + i) == SIG_EOCD && (uint64_t)i + 22 + rd16(t + i + 20) <= tail) {
            pos = i;
            break;
        }
    if (pos < 0) {
        free(t);
        return mr_fail(e, MR_EFORMAT, "%s: not a zip/npz file (no end-of-central-directory record; truncated?)", P);
    }
    uint64_t eocd = z->fsize - tail + (uint64_t)pos;
    uint64_t nent = rd16(t + pos + 10), cdsize = rd32(t + pos + 12), cdoff = rd32(t + pos + 16);
    uint16_t disk = rd16(t + pos + 4), cddisk = rd16(t + pos + 6);
    free(t);
    if (disk != 0 || cddisk != 0) return mr_fail(e, MR_EUNSUPPORTED, "%s: multi-disk zip archives are not supported", P);
    /* 2. ZIP64 locator right before the EOCD. */
    unsigned char loc[20];
    if (eocd >= 20 && read_at(z, eocd - 20, loc, 20) == 0 && rd32(loc) == SIG_Z64LOC) {
        uint64_t z64 = rd64(loc + 8);
        unsigned char r[56];
        if (z64 > eocd - 20 || read_at(z, z64, r, 56) != 0 || rd32(r) != SIG_Z64EOCD)
            return mr_fail(e, MR_EFORMAT, "%s: ZIP64 end-of-central-directory locator points to no ZIP64 record", P);
        nent = rd64(r + 32);
        cdsize = rd64(r + 40);
        cdoff = rd64(r + 48);
        z->zip64 = 1;
        eocd = z64; /* the central directory ends before the ZIP64 record */
    } else if (nent == 0xFFFF || cdsize == 0xFFFFFFFFu || cdoff == 0xFFFFFFFFu) {
        return mr_fail(e, MR_EFORMAT, "%s: end-of-central-directory fields are saturated but there is no ZIP64 locator", P);
    }
    if (cdoff > eocd || cdsize > eocd - cdoff)
        return mr_fail(e, MR_EFORMAT, "%s: central directory (offset %llu, size %llu) lies outside the file", P,
                       (unsigned long long)cdoff, (unsigned long long)cdsize);
    if (nent > cdsize / 46)
        return mr_fail(e, MR_EFORMAT, "%s: %llu entries cannot fit in a %llu-byte central directory", P,
                       (unsigned long long)nent, (unsigned long long)cdsize);
    /* 3. Central directory. */
    unsigned char *cd = malloc(cdsize ? (size_t)cdsize : 1);
    z->m = calloc(nent ? (size_t)nent : 1, sizeof *z->m);
    if (!cd || !z->m) {
        free(cd);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory for the central directory", P);
    }
    if (read_at(z, cdoff, cd, (size_t)cdsize) != 0) {
        free(cd);
        return mr_fail(e, MR_EIO, "%s: cannot read the central directory", P);
    }
    int rc = MR_OK;
    uint64_t p = 0;
    for (uint64_t k = 0; k < nent; k++) {
        if (cdsize - p < 46 || rd32(cd + p) != SIG_CDH) {
            rc = mr_fail(e, MR_EFORMAT, "%s: central directory entry %llu is malformed", P, (unsigned long long)k);
            break;
        }
        const unsigned char *h = cd + p;
        mr_npz_member *m = &z->m[k];
        m->flags = rd16(h + 8);
        m->method = rd16(h + 10);
        m->crc = rd32(h + 16);
        m->csize = rd32(h + 20);
        m->usize = rd32(h + 24);
        uint16_t nlen = rd16(h + 28), xlen = rd16(h + 30), clen = rd16(h + 32);
        uint16_t mdisk = rd16(h + 34);
        m->lho = rd32(h + 42);
        if ((uint64_t)46 + nlen + xlen + clen > cdsize - p) {
            rc = mr_fail(e, MR_EFORMAT, "%s: central directory entry %llu runs past the directory", P, (unsigned long long)k);
            break;
        }
        if (nlen == 0 || memchr(h + 46, 0, nlen)) {
            rc = mr_fail(e, MR_EFORMAT, "%s: central directory entry %llu has an empty or invalid name", P, (unsigned long long)k);
            break;
        }
        size_t keep = nlen;
        if (nlen > 4 && memcmp(h + 46 + nlen - 4, ".npy", 4) == 0) keep = nlen - 4;
        m->name = malloc(keep + 1);
        if (!m->name) {
            rc = mr_fail(e, MR_ENOMEM, "%s: out of memory", P);
            break;
        }
        memcpy(m->name, h + 46, keep);
        m->name[keep] = '\0';
        z->n = (size_t)k + 1;
        /* ZIP64 extended information: only the saturated fields, in order. */
        const unsigned char *x = h + 46 + nlen, *xe = x + xlen;
        while (xe - x >= 4) {
            uint16_t id = rd16(x), sz = rd16(x + 2);
            if (sz > xe - x - 4) break;
            if (id == 1) {
                const unsigned char *q = x + 4, *qe = x + 4 + sz;
                if (m->usize == 0xFFFFFFFFu) { if (qe - q < 8) { rc = -1; break; } m->usize = rd64(q); q += 8; }
                if (m->csize == 0xFFFFFFFFu) { if (qe - q < 8) { rc = -1; break; } m->csize = rd64(q); q += 8; }
                if (m->lho == 0xFFFFFFFFu) { if (qe - q < 8) { rc = -1; break; } m->lho = rd64(q); q += 8; }
            }
            x += 4 + sz;
        }
        if (rc == -1) {
            rc = mr_fail(e, MR_EFORMAT, "%s: member '%s': ZIP64 extra field too short for the saturated sizes", P, m->name);
            break;
        }
        p += 46 + (uint64_t)nlen + xlen + clen;
        if (mdisk != 0) { rc = mr_fail(e, MR_EUNSUPPORTED, "%s: member '%s' is on another disk", P, m->name); break; }
        if (m->flags & 1) { rc = mr_fail(e, MR_EUNSUPPORTED, "%s: member '%s' is encrypted", P, m->name); break; }
        if (m->method != 0 && m->method != 8) {
            rc = mr_fail(e, MR_EUNSUPPORTED, "%s: member '%s' uses compression method %u (only stored and deflate are supported)", P, m->name, m->method);
            break;
        }
        if (m->method == 0 && m->csize != m->usize) {
            rc = mr_fail(e, MR_EFORMAT, "%s: member '%s' is stored but its sizes differ (%llu vs %llu)", P, m->name,
                         (unsigned long long)m->csize, (unsigned long long)m->usize);
            break;
        }
        if (m->method == 8 && m->usize / DEFLATE_MAX_RATIO > m->csize + 1) {
            rc = mr_fail(e, MR_EFORMAT, "%s: member '%s' claims %llu bytes from %llu deflated bytes, beyond deflate's maximal ratio", P,
                         m->name, (unsigned long long)m->usize, (unsigned long long)m->csize);
            break;
        }
        /* Local header: its own name/extra lengths locate the data. */
        unsigned char lh[30];
        if (m->lho > cdoff || read_at(z, m->lho, lh, 30) != 0 || rd32(lh) != SIG_LFH) {
            rc = mr_fail(e, MR_EFORMAT, "%s: member '%s': no local file header at offset %llu", P, m->name, (unsigned long long)m->lho);
            break;
        }
        m->data_off = m->lho + 30 + rd16(lh + 26) + rd16(lh + 28);
        if (m->data_off > cdoff || m->csize > cdoff - m->data_off) {
            rc = mr_fail(e, MR_EFORMAT, "%s: member '%s': data (%llu bytes at %llu) runs past the start of the central directory",
                         P, m->name, (unsigned long long)m->csize, (unsigned long long)m->data_off);
            break;
        }
    }
    free(cd);
    if (rc != MR_OK) return rc;
    /* Duplicate names. */
    if (z->n > 1) {
        mr_npz_member **s = malloc(z->n * sizeof *s);
        if (!s) return mr_fail(e, MR_ENOMEM, "%s: out of memory", P);
        for (size_t i = 0; i < z->n; i++) s[i] = &z->m[i];
        qsort(s, z->n, sizeof *s, cmp_names);
        for (size_t i = 1; i < z->n; i++)
            if (strcmp(s[i]->name, s[i - 1]->name) == 0) {
                rc = mr_fail(e, MR_EFORMAT, "%s: member name '%s' appears more than once", P, s[i]->name);
                break;
            }
        free(s);
    }
    return rc;
}

int mr_npz_open(mr_npz *z, const char *path, mr_error *e) {
    memset(z, 0, sizeof *z);
    z->path = mr_strdup(path);
    if (!z->path) return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    z->f = fopen(path, "rb");
    if (!z->f) {
        int rc = mr_fail(e, MR_EIO, "%s: cannot open: %s", path, strerror(errno));
        mr_npz_close(z);
        return rc;
    }
    int rc = npz_index(z, e);
    if (rc != MR_OK) mr_npz_close(z);
    return rc;
}

int mr_npz_open_mem(mr_npz *z, const char *label, const void *buf, size_t len, mr_error *e) {
    memset(z, 0, sizeof *z);
    z->path = mr_strdup(label);
    z->mem = malloc(len ? len : 1);
    if (!z->path || !z->mem) {
        mr_npz_close(z);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory", label);
    }
    if (len) memcpy(z->mem, buf, len);
    z->f = fmemopen(z->mem, len ? len : 1, "rb");
    if (!z->f) {
        mr_npz_close(z);
        return mr_fail(e, MR_EIO, "%s: fmemopen failed", label);
    }
    int rc = len ? npz_index(z, e) : mr_fail(e, MR_EFORMAT, "%s: empty file", label);
    if (rc != MR_OK) mr_npz_close(z);
    return rc;
}

void mr_npz_close(mr_npz *z) {
    if (!z) return;
    if (z->f) fclose(z->f);
    for (size_t i = 0; i < z->n; i++) free(z->m[i].name);
    free(z->m);
    free(z->path);
    free(z->mem);
    memset(z, 0, sizeof *z);
}

long mr_npz_find(const mr_npz *z, const char *name) {
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->m[i].name, name) == 0) return (long)i;
    return -1;
}

static uint32_t crc_of(const unsigned char *b, uint64_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

int mr_npz_read_bytes(const mr_npz *z, size_t i, unsigned char **out, uint64_t *len, mr_error *e) {
    *out = NULL;
    const mr_npz_member *m = &z->m[i];
    const char *P = z->path;
    if (m->csize > SIZE_MAX || m->usize > SIZE_MAX) return mr_fail(e, MR_ENOMEM, "%s: member '%s' is too large for this machine", P, m->name);
    unsigned char *u = malloc(m->usize ? (size_t)m->usize : 1);
    if (!u) return mr_fail(e, MR_ENOMEM, "%s: member '%s': out of memory for %llu bytes", P, m->name, (unsigned long long)m->usize);
    if (m->method == 0) {
        if (read_at(z, m->data_off, u, (size_t)m->usize) != 0) {
            free(u);
            return mr_fail(e, MR_EIO, "%s: member '%s': read error", P, m->name);
        }
    } else {
        unsigned char *c = malloc(m->csize ? (size_t)m->csize : 1);
        if (!c) {
            free(u);
            return mr_fail(e, MR_ENOMEM, "%s: member '%s': out of memory", P, m->name);
        }
        if (read_at(z, m->data_off, c, (size_t)m->csize) != 0) {
            free(c);
            free(u);
            return mr_fail(e, MR_EIO, "%s: member '%s': read error", P, m->name);
        }
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
            free(c);
            free(u);
            return mr_fail(e, MR_ENOMEM, "%s: member '%s': inflateInit failed", P, m->name);
        }
        uint64_t in_left = m->csize, out_left = m->usize;
        unsigned char *ip = c, *op = u;
        int zr = Z_OK;
        unsigned char spill[1];
        while (zr == Z_OK) {
            uInt ia = in_left > 0x40000000u ? 0x40000000u : (uInt)in_left;
            uInt oa = out_left > 0x40000000u ? 0x40000000u : (uInt)out_left;
            s.next_in = ip;
            s.avail_in = ia;
            /* With no room left, offer a 1-byte spill so excess output is detected. */
            s.next_out = oa ? op : spill;
            s.avail_out = oa ? oa : 1;
            zr = inflate(&s, Z_NO_FLUSH);
            uint64_t used_in = ia - s.avail_in, made = (oa ? oa : 1) - s.avail_out;
            ip += used_in;
            in_left -= used_in;
            if (!oa && made) { zr = Z_DATA_ERROR; break; }
            op += made;
            out_left -= made;
            if (zr == Z_OK && used_in == 0 && made == 0) zr = Z_BUF_ERROR;
        }
        inflateEnd(&s);
        free(c);
        if (zr != Z_STREAM_END || out_left != 0) {
            free(u);
            return mr_fail(e, MR_EFORMAT, "%s: member '%s': corrupt deflate stream or size mismatch (declared %llu bytes)", P,
                           m->name, (unsigned long long)m->usize);
        }
    }
    uint32_t crc = crc_of(u, m->usize);
    if (crc != m->crc) {
        free(u);
        return mr_fail(e, MR_EFORMAT, "%s: member '%s': CRC-32 mismatch (stored %08x, computed %08x)", P, m->name, m->crc, crc);
    }
    *out = u;
    *len = m->usize;
    return MR_OK;
}

int mr_npz_read_index(const mr_npz *z, size_t i, mr_array *a, mr_error *e) {
    memset(a, 0, sizeof *a);
    if (i >= z->n) return mr_fail(e, MR_ENOTFOUND, "%s: no member #%zu", z->path, i);
    unsigned char *b;
    uint64_t len;
    int rc = mr_npz_read_bytes(z, i, &b, &len, e);
    if (rc != MR_OK) return rc;
    rc = mr_npy_parse(b, len, a, z->path, z->m[i].name, e);
    free(b);
    return rc;
}

int mr_npz_read(const mr_npz *z, const char *name, mr_array *a, mr_error *e) {
    memset(a, 0, sizeof *a);
    long i = mr_npz_find(z, name);
    if (i < 0) return mr_fail(e, MR_ENOTFOUND, "%s: no member '%s'", z->path, name);
    return mr_npz_read_index(z, (size_t)i, a, e);
}

int mr_npy_load(const char *path, mr_array *a, mr_error *e) {
    memset(a, 0, sizeof *a);
    const char *colon = strrchr(path, ':');
    if (colon && colon - path > 4 && strncmp(colon - 4, ".npz", 4) == 0) {
        char file[4096];
        size_t n = (size_t)(colon - path);
        if (n >= sizeof file) return mr_fail(e, MR_EINVAL, "%s: path too long", path);
        memcpy(file, path, n);
        file[n] = '\0';
        mr_npz z;
        int rc = mr_npz_open(&z, file, e);
        if (rc != MR_OK) return rc;
        rc = mr_npz_read(&z, colon + 1, a, e);
        mr_npz_close(&z);
        return rc;
    }
    char *b;
    size_t sz;
    /* no limit beyond memory: an .npy is data, its header is checked by the parser */
    int rc = mr_read_file(path, SIZE_MAX - 1, &b, &sz, e);
    if (rc != MR_OK) return rc;
    rc = mr_npy_parse((unsigned char *)b, (uint64_t)sz, a, path, NULL, e);
    free(b);
    return rc;
}

/* --------------------------------------------------------- atomic writes */

int mr_atomic_open(const char *path, char **tmp, FILE **f, mr_error *e) {
    size_t n = strlen(path) + 16;
    *tmp = malloc(n);
    *f = NULL;
    if (!*tmp) return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    snprintf(*tmp, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        int rc = mr_fail(e, MR_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return rc;
    }
    fchmod(fd, 0644);
    *f = fdopen(fd, "wb");
    if (!*f) {
        close(fd);
        unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
        return mr_fail(e, MR_EIO, "%s: fdopen failed", path);
    }
    return MR_OK;
}

void mr_atomic_abort(char *tmp, FILE *f) {
    if (f) fclose(f);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
}

int mr_atomic_commit(const char *path, char *tmp, FILE *f, mr_error *e) {
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    int err = errno;
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        unlink(tmp);
        free(tmp);
        return mr_fail(e, MR_EIO, "%s: write failed: %s (previous file, if any, left intact)", path, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        free(tmp);
        return mr_fail(e, MR_EIO, "%s: cannot rename the temporary file into place: %s", path, strerror(err));
    }
    free(tmp);
    /* Make the rename itself durable. */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof dir) {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        if (dir[0] == '\0') strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return MR_OK;
}

/* ---------------------------------------------------------------- writer */

struct mr_npz_wentry {
    char *name; /* with .npy */
    uint16_t method;
    uint32_t crc;
    uint64_t csize, usize, lho;
};

/* The .npy header for an array: v1.0, padded with spaces to a multiple of 64
 * bytes (numpy's ARRAY_ALIGN) and ending in '\n'. Returns its length. */
static size_t npy_header(unsigned char *h, size_t cap, mr_dtype dt, int ndim, const uint64_t *shape) {
    char dict[1024];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", dt_descr[dt]);
    for (int i = 0; i < ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%llu,%s", (unsigned long long)shape[i],
                      (ndim > 1 && i + 1 < ndim) ? " " : "");
    if (ndim > 1) k--; /* numpy writes (3, 4) but (3,) */
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    size_t total = 10 + (size_t)k + 1;
    size_t padded = (total + 63) / 64 * 64;
    if (padded > cap) return 0;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    wr16(h + 8, (uint16_t)(padded - 10));
    memcpy(h + 10, dict, (size_t)k);
    memset(h + 10 + k, ' ', padded - 10 - (size_t)k - 1);
    h[padded - 1] = '\n';
    return padded;
}

int mr_npz_writer_open(mr_npz_writer *w, const char *path, int deflate, mr_error *e) {
    memset(w, 0, sizeof *w);
    w->deflate = deflate;
    w->path = mr_strdup(path);
    if (!w->path) return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = mr_atomic_open(path, &w->tmp, &w->f, e);
    if (rc != MR_OK) {
        free(w->path);
        w->path = NULL;
    }
    return rc;
}

static int wbytes(mr_npz_writer *w, const void *b, size_t n) {
    if (n && fwrite(b, 1, n, w->f) != n) return -1;
    w->off += n;
    return 0;
}

#define DOS_DATE 0x0021 /* 1980-01-01 */
#define DOS_TIME 0x0000

static int add_member(mr_npz_writer *w, const char *name, const unsigned char *hdr, size_t hl,
                      const void *data, uint64_t bytes, mr_error *e);

int mr_npz_add(mr_npz_writer *w, const char *name, mr_dtype dt, int ndim, const uint64_t *shape,
               const void *data, mr_error *e) {
    const char *P = w->path;
    if (dt < 0 || dt >= MR_DT_COUNT) return mr_fail(e, MR_EINVAL, "%s: member '%s': bad dtype", P, name);
    if (ndim < 0 || ndim > MR_NPY_MAXDIM) return mr_fail(e, MR_EINVAL, "%s: member '%s': bad ndim %d", P, name, ndim);
    uint64_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (mr_mul_overflow(count, shape[i], &count)) return mr_fail(e, MR_EINVAL, "%s: member '%s': shape overflows", P, name);
    if (mr_mul_overflow(count, dt_size[dt], &bytes) || bytes > SIZE_MAX / 2)
        return mr_fail(e, MR_EINVAL, "%s: member '%s': too large", P, name);
    unsigned char hdr[1280];
    size_t hl = npy_header(hdr, sizeof hdr, dt, ndim, shape);
    if (!hl) return mr_fail(e, MR_EINVAL, "%s: member '%s': header too long", P, name);
    return add_member(w, name, hdr, hl, data, bytes, e);
}

int mr_npz_add_bytes(mr_npz_writer *w, const char *name, const void *buf, size_t len, mr_error *e) {
    return add_member(w, name, buf, len, NULL, 0, e);
}

static int add_member(mr_npz_writer *w, const char *name, const unsigned char *hdr, size_t hl,
                      const void *data, uint64_t bytes, mr_error *e) {
    const char *P = w->path;
    for (size_t i = 0; i < w->n; i++)
        if (strlen(w->ent[i].name) == strlen(name) + 4 && strncmp(w->ent[i].name, name, strlen(name)) == 0)
            return mr_fail(e, MR_EINVAL, "%s: member '%s' written twice", P, name);
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        struct mr_npz_wentry *ne = realloc(w->ent, nc * sizeof *ne);
        if (!ne) return mr_fail(e, MR_ENOMEM, "%s: out of memory", P);
        w->ent = ne;
        w->cap = nc;
    }
    struct mr_npz_wentry *en = &w->ent[w->n];
    memset(en, 0, sizeof *en);
    size_t nl = strlen(name) + 4;
    if (nl > 0xFFFF) return mr_fail(e, MR_EINVAL, "%s: member name too long", P);
    en->name = malloc(nl + 1);
    if (!en->name) return mr_fail(e, MR_ENOMEM, "%s: out of memory", P);
    snprintf(en->name, nl + 1, "%s.npy", name);
    en->usize = hl + bytes;
    en->lho = w->off;
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, hdr, (uInt)hl); /* hl < 4 GiB: callers pass headers or small images */
    {
        const unsigned char *d = data;
        uint64_t left = bytes;
        while (left) {
            uInt ch = left > 0x40000000u ? 0x40000000u : (uInt)left;
            crc = crc32(crc, d, ch);
            d += ch;
            left -= ch;
        }
    }
    en->crc = (uint32_t)crc;
    unsigned char *comp = NULL;
    if (w->deflate) {
        unsigned char *raw = malloc((size_t)en->usize);
        if (!raw) { free(en->name); return mr_fail(e, MR_ENOMEM, "%s: out of memory", P); }
        if (hl) memcpy(raw, hdr, hl);
        if (bytes) memcpy(raw + hl, data, (size_t)bytes);
        z_stream s;
        memset(&s, 0, sizeof s);
        if (deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(raw);
            free(en->name);
            return mr_fail(e, MR_ENOMEM, "%s: deflateInit failed", P);
        }
        uLong bound = deflateBound(&s, (uLong)en->usize);
        comp = malloc(bound);
        if (!comp || en->usize > 0xFFFFFFFFu) {
            deflateEnd(&s);
            free(raw);
            free(comp);
            free(en->name);
            return mr_fail(e, MR_EUNSUPPORTED, "%s: member '%s': cannot deflate (too large or out of memory)", P, name);
        }
        s.next_in = raw;
        s.avail_in = (uInt)en->usize;
        s.next_out = comp;
        s.avail_out = (uInt)bound;
        int zr = deflate(&s, Z_FINISH);
        en->csize = bound - s.avail_out;
        deflateEnd(&s);
        free(raw);
        if (zr != Z_STREAM_END) {
            free(comp);
            free(en->name);
            return mr_fail(e, MR_EIO, "%s: member '%s': deflate failed", P, name);
        }
        en->method = 8;
    } else {
        en->csize = en->usize;
        en->method = 0;
    }
    /* Local header: ZIP64 extra carries both sizes when either is large. */
    int z64 = en->usize >= 0xFFFFFFFFu || en->csize >= 0xFFFFFFFFu || w->force_zip64;
    unsigned char lh[30 + 20];
    wr32(lh, SIG_LFH);
    wr16(lh + 4, z64 ? 45 : 20);
    wr16(lh + 6, 0);
    wr16(lh + 8, en->method);
    wr16(lh + 10, DOS_TIME);
    wr16(lh + 12, DOS_DATE);
    wr32(lh + 14, en->crc);
    wr32(lh + 18, z64 ? 0xFFFFFFFFu : (uint32_t)en->csize);
    wr32(lh + 22, z64 ? 0xFFFFFFFFu : (uint32_t)en->usize);
    wr16(lh + 26, (uint16_t)nl);
    wr16(lh + 28, z64 ? 20 : 0);
    if (z64) {
        wr16(lh + 30, 1);
        wr16(lh + 32, 16);
        wr64(lh + 34, en->usize);
        wr64(lh + 42, en->csize);
    }
    int bad = wbytes(w, lh, 30) || wbytes(w, en->name, nl) || (z64 && wbytes(w, lh + 30, 20));
    if (!bad) {
        if (comp) bad = wbytes(w, comp, (size_t)en->csize);
        else bad = wbytes(w, hdr, hl) || (bytes && wbytes(w, data, (size_t)bytes));
    }
    free(comp);
    if (bad) {
        free(en->name);
        return mr_fail(e, MR_EIO, "%s: write error: %s", P, strerror(errno));
    }
    w->n++;
    return MR_OK;
}

static void writer_free(mr_npz_writer *w) {
    for (size_t i = 0; i < w->n; i++) free(w->ent[i].name);
    free(w->ent);
    free(w->path);
    memset(w, 0, sizeof *w);
}

void mr_npz_writer_abort(mr_npz_writer *w) {
    mr_atomic_abort(w->tmp, w->f);
    w->tmp = NULL;
    w->f = NULL;
    writer_free(w);
}

int mr_npz_writer_close(mr_npz_writer *w, mr_error *e) {
    uint64_t cdoff = w->off;
    int bad = 0;
    for (size_t i = 0; i < w->n && !bad; i++) {
        struct mr_npz_wentry *en = &w->ent[i];
        int zs = en->usize >= 0xFFFFFFFFu || en->csize >= 0xFFFFFFFFu || w->force_zip64;
        int zo = en->lho >= 0xFFFFFFFFu || w->force_zip64;
        unsigned char h[46], x[4 + 24];
        size_t nl = strlen(en->name), xl = 0;
        if (zs || zo) {
            wr16(x, 1);
            xl = 4;
            if (zs) { wr64(x + xl, en->usize); xl += 8; wr64(x + xl, en->csize); xl += 8; }
            if (zo) { wr64(x + xl, en->lho); xl += 8; }
            wr16(x + 2, (uint16_t)(xl - 4));
        }
        wr32(h, SIG_CDH);
        wr16(h + 4, (3 << 8) | 45); /* made by Unix, spec 4.5 */
        wr16(h + 6, (zs || zo) ? 45 : 20);
        wr16(h + 8, 0);
        wr16(h + 10, en->method);
        wr16(h + 12, DOS_TIME);
        wr16(h + 14, DOS_DATE);
        wr32(h + 16, en->crc);
        wr32(h + 20, zs ? 0xFFFFFFFFu : (uint32_t)en->csize);
        wr32(h + 24, zs ? 0xFFFFFFFFu : (uint32_t)en->usize);
        wr16(h + 28, (uint16_t)nl);
        wr16(h + 30, (uint16_t)xl);
        wr16(h + 32, 0);
        wr16(h + 34, 0);
        wr16(h + 36, 0);
        wr32(h + 38, 0644u << 16);
        wr32(h + 42, zo ? 0xFFFFFFFFu : (uint32_t)en->lho);
        bad = wbytes(w, h, 46) || wbytes(w, en->name, nl) || wbytes(w, x, xl);
    }
    uint64_t cdsize = w->off - cdoff;
    int z64 = w->n >= 0xFFFF || cdoff >= 0xFFFFFFFFu || cdsize >= 0xFFFFFFFFu || w->force_zip64;
    if (!bad && z64) {
        unsigned char r[56], l[20];
        uint64_t z64off = w->off;
        wr32(r, SIG_Z64EOCD);
        wr64(r + 4, 44);
        wr16(r + 12, (3 << 8) | 45);
        wr16(r + 14, 45);
        wr32(r + 16, 0);
        wr32(r + 20, 0);
        wr64(r + 24, w->n);
        wr64(r + 32, w->n);
        wr64(r + 40, cdsize);
        wr64(r + 48, cdoff);
        wr32(l, SIG_Z64LOC);
        wr32(l + 4, 0);
        wr64(l + 8, z64off);
        wr32(l + 16, 1);
        bad = wbytes(w, r, 56) || wbytes(w, l, 20);
    }
    if (!bad) {
        unsigned char d[22];
        wr32(d, SIG_EOCD);
        wr16(d + 4, 0);
        wr16(d + 6, 0);
        wr16(d + 8, z64 ? 0xFFFF : (uint16_t)w->n);
        wr16(d + 10, z64 ? 0xFFFF : (uint16_t)w->n);
        wr32(d + 12, z64 ? 0xFFFFFFFFu : (uint32_t)cdsize);
        wr32(d + 16, z64 ? 0xFFFFFFFFu : (uint32_t)cdoff);
        wr16(d + 20, 0);
        bad = wbytes(w, d, 22);
    }
    int rc;
    if (bad) {
        rc = mr_fail(e, MR_EIO, "%s: write error: %s (previous file, if any, left intact)", w->path, strerror(errno));
        mr_atomic_abort(w->tmp, w->f);
    } else {
        rc = mr_atomic_commit(w->path, w->tmp, w->f, e);
    }
    w->tmp = NULL;
    w->f = NULL;
    writer_free(w);
    return rc;
}

int mr_npy_save(const char *path, mr_dtype dt, int ndim, const uint64_t *shape, const void *data,
                mr_error *e) {
    if (dt < 0 || dt >= MR_DT_COUNT || ndim < 0 || ndim > MR_NPY_MAXDIM)
        return mr_fail(e, MR_EINVAL, "%s: bad dtype or ndim", path);
    uint64_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (mr_mul_overflow(count, shape[i], &count)) return mr_fail(e, MR_EINVAL, "%s: shape overflows", path);
    if (mr_mul_overflow(count, dt_size[dt], &bytes) || bytes > SIZE_MAX) return mr_fail(e, MR_EINVAL, "%s: too large", path);
    unsigned char hdr[1280];
    size_t hl = npy_header(hdr, sizeof hdr, dt, ndim, shape);
    char *tmp;
    FILE *f;
    int rc = mr_atomic_open(path, &tmp, &f, e);
    if (rc != MR_OK) return rc;
    if (fwrite(hdr, 1, hl, f) != hl || (bytes && fwrite(data, 1, (size_t)bytes, f) != bytes)) {
        mr_atomic_abort(tmp, f);
        return mr_fail(e, MR_EIO, "%s: write error", path);
    }
    return mr_atomic_commit(path, tmp, f, e);
}
