/* tokenizer.c — bert-base-uncased WordPiece (see tokenizer.h for the pipeline). */
#include "datasets/tokenizer.h"
#include "ref/core/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ------------------------------------------------------------------ vocab */

struct mr_vocab {
    char *blob;        /* every token, NUL-terminated, in line order */
    size_t *off, *len; /* per line */
    size_t n;          /* lines */
    int64_t *slot;     /* open addressing: line id or −1 */
    size_t nslot;      /* power of two */
};

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Slot of s: the one holding it, or the empty one where it would go. */
static size_t find_slot(const mr_vocab *v, const char *s, size_t n) {
    size_t m = v->nslot - 1, i = (size_t)fnv1a(s, n) & m;
    for (;;) {
        int64_t id = v->slot[i];
        if (id < 0 || (v->len[id] == n && memcmp(v->blob + v->off[id], s, n) == 0)) return i;
        i = (i + 1) & m;
    }
}

void mr_vocab_free(mr_vocab *v) {
    if (!v) return;
    free(v->blob);
    free(v->off);
    free(v->len);
    free(v->slot);
    free(v);
}

int mr_vocab_parse(const char *buf, size_t len, const char *name, mr_vocab **out, mr_error *e) {
    *out = NULL;
    mr_vocab *v = calloc(1, sizeof *v);
    if (!v) return mr_fail(e, MR_ENOMEM, "%s: out of memory", name);
    /* count lines: a terminator is \n, \r\n or \r; a last line without one counts */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            if (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') i++;
            lines++;
        } else if (i + 1 == len)
            lines++;
    }
    v->blob = malloc(len + 1);
    v->off = malloc((lines ? lines : 1) * sizeof *v->off);
    v->len = malloc((lines ? lines : 1) * sizeof *v->len);
    v->nslot = 16;
    while (v->nslot < 2 * lines) v->nslot *= 2;
    v->slot = malloc(v->nslot * sizeof *v->slot);
    if (!v->blob || !v->off || !v->len || !v->slot) {
        mr_vocab_free(v);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory for %zu lines", name, lines);
    }
    for (size_t i = 0; i < v->nslot; i++) v->slot[i] = -1;
    size_t w = 0, i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && buf[i] != '\n' && buf[i] != '\r') i++;
        size_t n = i - start;
        /* UTF-8, as open(..., encoding="utf-8") demands */
        for (size_t k = 0; k < n;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)buf + start + k, (utf8proc_ssize_t)(n - k), &cp);
            if (step < 0) {
                int code = mr_fail(e, MR_EFORMAT, "%s line %zu: invalid UTF-8 at byte %zu of the line", name, v->n + 1, k);
                mr_vocab_free(v);
                return code;
            }
            k += (size_t)step;
        }
        memcpy(v->blob + w, buf + start, n);
        v->blob[w + n] = 0;
        v->off[v->n] = w;
        v->len[v->n] = n;
        /* a later duplicate overwrites the id (HF: vocab[token] = index) */
        v->slot[find_slot(v, buf + start, n)] = (int64_t)v->n;
        v->n++;
        w += n + 1;
        if (i < len) i += (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n') ? 2 : 1;
    }
    *out = v;
    return MR_OK;
}

int mr_vocab_load(const char *path, mr_vocab **out, mr_error *e) {
    *out = NULL;
    char *buf;
    size_t len;
    /* bert-base-uncased's vocab.txt is 226 kB; 256 MiB is far beyond any WordPiece vocabulary */
    int rc = mr_read_file(path, (size_t)1 << 28, &buf, &len, e);
    if (rc == MR_EIO) return mr_fail_append(e, MR_EIO, "cannot read the vocabulary");
    if (rc != MR_OK) return rc;
    rc = mr_vocab_parse(buf, len, path, out, e);
    free(buf);
    return rc;
}

size_t mr_vocab_size(const mr_vocab *v) { return v->n; }

int64_t mr_vocab_id(const mr_vocab *v, const char *s, size_t len) { return v->slot[find_slot(v, s, len)]; }

const char *mr_vocab_token(const mr_vocab *v, int64_t id, size_t *len) {
    if (id < 0 || (uint64_t)id >= v->n) return NULL;
    if (len) *len = v->len[id];
    return v->blob + v->off[id];
}

/* -------------------------------------------------------------- tokenizer */

static const char *const SPECIALS[] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
enum { N_SPECIALS = sizeof SPECIALS / sizeof SPECIALS[0] };

int mr_tokenizer_init(mr_tokenizer *t, mr_vocab *v, const char *name, mr_error *e) {
    memset(t, 0, sizeof *t);
    t->vocab = v;
    if (e) e->code = MR_OK, e->msg[0] = 0;
    int64_t *dst[] = {&t->unk_id, &t->sep_id, &t->pad_id, &t->cls_id, &t->mask_id};
    int rc = MR_OK;
    for (int k = 0; k < N_SPECIALS; k++) {
        *dst[k] = mr_vocab_id(v, SPECIALS[k], strlen(SPECIALS[k]));
        if (*dst[k] < 0 && k < 4)
            rc = mr_fail_append(e, MR_EFORMAT, "%s: special token %s is not in the vocabulary", name, SPECIALS[k]);
    }
    if (rc != MR_OK) mr_tokenizer_free(t);
    return rc;
}

int mr_tokenizer_load(mr_tokenizer *t, const char *vocab_path, mr_error *e) {
    memset(t, 0, sizeof *t);
    mr_vocab *v;
    int rc = mr_vocab_load(vocab_path, &v, e);
    if (rc != MR_OK) return rc;
    return mr_tokenizer_init(t, v, vocab_path, e);
}

void mr_tokenizer_free(mr_tokenizer *t) {
    if (!t) return;
    mr_vocab_free(t->vocab);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------ character classes */

int mr_tok_is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

static utf8proc_category_t category(uint32_t cp) {
    return cp > 0x10FFFF ? UTF8PROC_CATEGORY_CN : utf8proc_category((utf8proc_int32_t)cp);
}

int mr_tok_is_punctuation(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return 1;
    utf8proc_category_t c = category(cp);
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

int mr_tok_is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return 0;
    utf8proc_category_t c = category(cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CS ||
           c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CN;
}

int mr_tok_is_whitespace(uint32_t cp) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return 1;
    utf8proc_category_t c = category(cp);
    return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* ------------------------------------------------------------ byte buffers */

typedef struct {
    char *p;
    size_t n, cap;
} bytes;

static int bytes_put(bytes *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) return -1;
        b->p = np, b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

static int bytes_cp(bytes *b, uint32_t cp) {
    utf8proc_uint8_t u[4];
    utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)cp, u);
    return bytes_put(b, u, (size_t)k);
}

typedef struct {
    int64_t *p;
    size_t n, cap;
} ids_vec;

static int ids_push(ids_vec *v, int64_t id) {
    if (v->n == v->cap) {
        size_t nc = v->cap ? 2 * v->cap : 32;
        int64_t *np = realloc(v->p, nc * sizeof *np);
        if (!np) return -1;
        v->p = np, v->cap = nc;
    }
    v->p[v->n++] = id;
    return 0;
}

/* -------------------------------------------------------------- WordPiece */

/* One basic token (UTF-8 w[0..n), nchar code points) → ids. */
static int wordpiece(const mr_tokenizer *t, const char *w, size_t n, size_t nchar, ids_vec *out, bytes *scratch) {
    if (nchar == 0) return 0;
    if (nchar > MR_TOK_MAX_WORD_CHARS) return ids_push(out, t->unk_id);
    size_t first = out->n, start = 0;
    while (start < n) {
        int64_t found = -1;
        size_t end = n;
        while (end > start) {
            scratch->n = 0;
            if (start > 0 && bytes_put(scratch, "##", 2)) return -1;
            if (bytes_put(scratch, w + start, end - start)) return -1;
            found = mr_vocab_id(t->vocab, scratch->p, scratch->n);
            if (found >= 0) break;
            /* one code point shorter: step back over continuation bytes */
            do end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80);
        }
        if (found < 0) { /* an unmatched piece: the whole word is [UNK] */
            out->n = first;
            return ids_push(out, t->unk_id);
        }
        if (ids_push(out, found)) return -1;
        start = end;
    }
    return 0;
}

/* ------------------------------------------------------------ basic tokens */

/* Tokenize text[a..b), which holds no special token; offsets in messages are
 * relative to base. */
static int basic_segment(const mr_tokenizer *t, const char *text, size_t a, size_t b, ids_vec *out, bytes *clean,
                         bytes *word, bytes *scratch, mr_error *e) {
    clean->n = 0;
    for (size_t i = a; i < b;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(b - i), &cp);
        if (step < 0) {
            unsigned char c = (unsigned char)text[i];
            return mr_fail(e, MR_EFORMAT, "invalid UTF-8 at byte offset %zu (byte 0x%02X)", i, c);
        }
        i += (size_t)step;
        uint32_t u = (uint32_t)cp;
        int rc = 0;
        if (u == 0 || u == 0xFFFD || mr_tok_is_control(u)) continue;
        if (mr_tok_is_whitespace(u))
            rc = bytes_put(clean, " ", 1);
        else if (mr_tok_is_cjk(u))
            rc = bytes_put(clean, " ", 1) || bytes_cp(clean, u) || bytes_put(clean, " ", 1);
        else
            rc = bytes_cp(clean, (uint32_t)utf8proc_tolower(cp));
        if (rc) return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    if (clean->n == 0) return MR_OK;
    /* NFD (canonical decomposition and ordering) of the cleaned text */
    utf8proc_int32_t probe;
    utf8proc_ssize_t need = utf8proc_decompose((const utf8proc_uint8_t *)clean->p, (utf8proc_ssize_t)clean->n, &probe, 0,
                                               UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    if (need < 0) return mr_fail(e, MR_EFORMAT, "NFD failed: %s", utf8proc_errmsg(need));
    utf8proc_int32_t *cps = malloc(((size_t)need + 1) * sizeof *cps);
    if (!cps) return mr_fail(e, MR_ENOMEM, "out of memory");
    utf8proc_ssize_t got = utf8proc_decompose((const utf8proc_uint8_t *)clean->p, (utf8proc_ssize_t)clean->n, cps, need,
                                              UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    if (got != need) {
        free(cps);
        return mr_fail(e, MR_EFORMAT, "NFD failed: %s", got < 0 ? utf8proc_errmsg(got) : "size changed");
    }
    word->n = 0;
    size_t nchar = 0;
    int rc = 0;
    for (utf8proc_ssize_t k = 0; k < got && !rc; k++) {
        uint32_t u = (uint32_t)cps[k];
        if (category(u) == UTF8PROC_CATEGORY_MN) continue; /* accent stripping */
        if (mr_tok_is_whitespace(u) || mr_tok_is_punctuation(u)) {
            rc = wordpiece(t, word->p, word->n, nchar, out, scratch);
            word->n = 0, nchar = 0;
            if (!rc && mr_tok_is_punctuation(u)) {
                rc = bytes_cp(word, u) || wordpiece(t, word->p, word->n, 1, out, scratch);
                word->n = 0;
            }
        } else {
            rc = bytes_cp(word, u);
            nchar++;
        }
    }
    if (!rc) rc = wordpiece(t, word->p, word->n, nchar, out, scratch);
    free(cps);
    return rc ? mr_fail(e, MR_ENOMEM, "out of memory") : MR_OK;
}

int mr_tokenize(const mr_tokenizer *t, const char *text, size_t len, int64_t **ids, size_t *n, mr_error *e) {
    *ids = NULL, *n = 0;
    ids_vec out = {0};
    bytes clean = {0}, word = {0}, scratch = {0};
    int rc = MR_OK;
    size_t seg = 0;
    for (size_t i = 0; i <= len && rc == MR_OK; i++) {
        /* the literal special tokens are never split (HF's no-split tokens) */
        int k = -1;
        size_t kl = 0;
        if (i < len && text[i] == '[')
            for (int s = 0; s < N_SPECIALS; s++) {
                size_t sl = strlen(SPECIALS[s]);
                if (len - i >= sl && memcmp(text + i, SPECIALS[s], sl) == 0) {
                    k = s, kl = sl;
                    break;
                }
            }
        if (k < 0 && i < len) continue;
        rc = basic_segment(t, text, seg, i, &out, &clean, &word, &scratch, e);
        if (rc == MR_OK && k >= 0) {
            int64_t id = mr_vocab_id(t->vocab, SPECIALS[k], kl);
            if (ids_push(&out, id >= 0 ? id : t->unk_id)) rc = mr_fail(e, MR_ENOMEM, "out of memory");
            i += kl - 1;
            seg = i + 1;
        }
    }
    free(clean.p);
    free(word.p);
    free(scratch.p);
    if (rc != MR_OK) {
        free(out.p);
        return rc;
    }
    *ids = out.p, *n = out.n;
    return MR_OK;
}

void mr_tokens_free(char **pieces, size_t n) {
    if (!pieces) return;
    for (size_t i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
}

int mr_tokenize_strings(const mr_tokenizer *t, const char *text, size_t len, char ***pieces, size_t *n, mr_error *e) {
    *pieces = NULL, *n = 0;
    int64_t *ids;
    size_t m;
    int rc = mr_tokenize(t, text, len, &ids, &m, e);
    if (rc != MR_OK) return rc;
    char **p = calloc(m ? m : 1, sizeof *p);
    if (!p) {
        free(ids);
        return mr_fail(e, MR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m; i++) {
        p[i] = mr_strdup(mr_vocab_token(t->vocab, ids[i], NULL));
        if (!p[i]) {
            mr_tokens_free(p, i);
            free(ids);
            return mr_fail(e, MR_ENOMEM, "out of memory");
        }
    }
    free(ids);
    *pieces = p, *n = m;
    return MR_OK;
}

/* ---------------------------------------------------------------- batches */

void mr_encoding_free(mr_encoding *enc) {
    if (!enc) return;
    free(enc->ids);
    free(enc->type_ids);
    free(enc->att_mask);
    memset(enc, 0, sizeof *enc);
}

int mr_tokenizer_pack(const mr_tokenizer *t, const int64_t *const *pieces, const size_t *n, size_t B,
                      size_t max_length, mr_pad_mode pad, mr_encoding *out, mr_error *e) {
    memset(out, 0, sizeof *out);
    if (max_length == 1) return mr_fail(e, MR_EINVAL, "max_length 1 leaves no room for [CLS] and [SEP] (need at least 2)");
    if (pad == MR_PAD_MAX_LENGTH && max_length == 0)
        return mr_fail(e, MR_EINVAL, "padding to max_length needs a max_length");
    if (pad != MR_PAD_MAX_LENGTH && pad != MR_PAD_LONGEST) return mr_fail(e, MR_EINVAL, "unknown padding mode %d", (int)pad);
    size_t keep_max = max_length ? max_length - 2 : (size_t)-1, L = 0;
    for (size_t b = 0; b < B; b++) {
        size_t k = n[b] < keep_max ? n[b] : keep_max;
        if (k + 2 > L) L = k + 2;
    }
    if (pad == MR_PAD_MAX_LENGTH) L = max_length;
    if (B == 0) return MR_OK;
    uint64_t cells;
    if (mr_mul_overflow(B, L, &cells) || cells > SIZE_MAX / sizeof(int64_t))
        return mr_fail(e, MR_EINVAL, "batch of %zu × %zu tokens is too large", B, L);
    out->ids = malloc(cells * sizeof(int64_t));
    out->type_ids = calloc(cells, sizeof(int64_t));
    out->att_mask = calloc(cells, sizeof(int64_t));
    if (!out->ids || !out->type_ids || !out->att_mask) {
        mr_encoding_free(out);
        return mr_fail(e, MR_ENOMEM, "out of memory for %zu × %zu tokens", B, L);
    }
    out->B = B, out->L = L;
    for (size_t b = 0; b < B; b++) {
        int64_t *row = out->ids + b * L, *m = out->att_mask + b * L;
        size_t k = n[b] < keep_max ? n[b] : keep_max;
        row[0] = t->cls_id;
        for (size_t j = 0; j < k; j++) row[1 + j] = pieces[b][j];
        row[k + 1] = t->sep_id;
        for (size_t j = k + 2; j < L; j++) row[j] = t->pad_id;
        for (size_t j = 0; j < k + 2; j++) m[j] = 1;
    }
    return MR_OK;
}

int mr_tokenizer_encode_batch(const mr_tokenizer *t, const char *const *texts, const size_t *lens, size_t B,
                              size_t max_length, mr_pad_mode pad, mr_encoding *out, mr_error *e) {
    memset(out, 0, sizeof *out);
    int64_t **p = calloc(B ? B : 1, sizeof *p);
    size_t *n = calloc(B ? B : 1, sizeof *n);
    int rc = MR_OK;
    if (!p || !n) rc = mr_fail(e, MR_ENOMEM, "out of memory");
    for (size_t b = 0; b < B && rc == MR_OK; b++) {
        mr_error sub = {0};
        rc = mr_tokenize(t, texts[b], lens[b], &p[b], &n[b], &sub);
        if (rc != MR_OK) mr_fail(e, rc, "text %zu: %s", b, sub.msg);
    }
    if (rc == MR_OK) rc = mr_tokenizer_pack(t, (const int64_t *const *)p, n, B, max_length, pad, out, e);
    for (size_t b = 0; p && b < B; b++) free(p[b]);
    free(p);
    free(n);
    return rc;
}
