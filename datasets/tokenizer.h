/* tokenizer.h — bert-base-uncased's WordPiece tokenizer (spec §7.6), as
 * Hugging Face's slow BertTokenizer (transformers 4.x, do_lower_case=True)
 * computes it, with Unicode properties, lower-casing and NFD from libutf8proc.
 *
 * Pipeline for one text (README, section Tokenizer, lists where and why it
 * can differ from Python):
 *   1. the literal special tokens [CLS] [SEP] [PAD] [UNK] [MASK] in the text
 *      are kept whole (HF's no-split tokens; case-sensitive);
 *   2. every other code point is lower-cased on its own (utf8proc_tolower;
 *      HF lower-cases character by character before tokenizing);
 *   3. clean: NUL, U+FFFD and controls (category C* except \t \n \r) are
 *      dropped, whitespace (\t \n \r, Zs; Zl and Zp split like Python's
 *      str.split) becomes a space, CJK ideographs get spaces around them;
 *   4. NFD, combining marks (Mn) dropped;
 *   5. split on whitespace and on punctuation (ASCII 33–47, 58–64, 91–96,
 *      123–126 and every P* category), each punctuation a token of its own;
 *   6. WordPiece: greedy longest match first with "##" continuations; a
 *      word of more than 100 code points, or one with a piece that matches
 *      nothing, becomes [UNK] as a whole.
 * Invalid UTF-8 is an error (HF receives decoded str and never sees it).
 */
#ifndef MR_TOKENIZER_H
#define MR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "ref/core/common.h"

/* Longest word WordPiece splits (HF's max_input_chars_per_word). */
#define MR_TOK_MAX_WORD_CHARS 100

/* A vocab.txt: one token per line, id = line number (0-based), lines split
 * at \n, \r\n or \r (Python's universal newlines, as HF's load_vocab reads
 * it). A token on several lines gets the id of its last line (HF's dict
 * assignment); an empty line is the token "" (never looked up). */
typedef struct mr_vocab mr_vocab;

int mr_vocab_load(const char *path, mr_vocab **out, mr_error *e);
/* The same from memory; name is used in messages. */
int mr_vocab_parse(const char *buf, size_t len, const char *name, mr_vocab **out, mr_error *e);
void mr_vocab_free(mr_vocab *v);
/* Number of lines (ids are 0 .. size−1). */
size_t mr_vocab_size(const mr_vocab *v);
/* Id of the token s[0..len), or −1. */
int64_t mr_vocab_id(const mr_vocab *v, const char *s, size_t len);
/* Token of line id (NUL-terminated, *len its length if len != NULL), NULL when out of range. */
const char *mr_vocab_token(const mr_vocab *v, int64_t id, size_t *len);

typedef struct {
    mr_vocab *vocab;
    int64_t cls_id, sep_id, pad_id, unk_id; /* looked up; all required */
    int64_t mask_id;                        /* −1 when the vocab has no [MASK] */
} mr_tokenizer;

/* Load vocab.txt and look up the special tokens; an absent [CLS], [SEP],
 * [PAD] or [UNK] is an error naming the file and the token. */
int mr_tokenizer_load(mr_tokenizer *t, const char *vocab_path, mr_error *e);
/* The same around a vocabulary already loaded (t takes ownership, also on error). */
int mr_tokenizer_init(mr_tokenizer *t, mr_vocab *v, const char *name, mr_error *e);
void mr_tokenizer_free(mr_tokenizer *t);

/* Word-piece ids of text[0..len) without [CLS]/[SEP] (*ids malloc'd, free
 * it; NULL when *n = 0). Invalid UTF-8 → MR_EFORMAT naming the byte offset. */
int mr_tokenize(const mr_tokenizer *t, const char *text, size_t len, int64_t **ids, size_t *n, mr_error *e);
/* The same as strings: *pieces holds *n malloc'd NUL-terminated tokens
 * (free with mr_tokens_free). Spelled as in the vocab, or "[UNK]". */
int mr_tokenize_strings(const mr_tokenizer *t, const char *text, size_t len, char ***pieces, size_t *n, mr_error *e);
void mr_tokens_free(char **pieces, size_t n);

typedef enum {
    MR_PAD_LONGEST,   /* SDK / AVEC: to the longest sequence of the batch */
    MR_PAD_MAX_LENGTH /* Dec loaders: to exactly max_length */
} mr_pad_mode;

/* A padded batch, row-major [B, L], as BertTokenizer returns it: input_ids,
 * token_type_ids (all 0), attention_mask (1 on tokens with CLS/SEP, 0 on PAD). */
typedef struct {
    size_t B, L;
    int64_t *ids, *type_ids, *att_mask;
} mr_encoding;

/* [CLS] + pieces + [SEP] per row, then padding with [PAD] at the end.
 * max_length > 0 truncates: at most max_length − 2 pieces (needs
 * max_length ≥ 2); 0 means no truncation. MR_PAD_MAX_LENGTH pads to
 * exactly max_length (needs max_length > 0); MR_PAD_LONGEST to the longest
 * row (after truncation). B = 0 gives L = 0 and no buffers. */
int mr_tokenizer_pack(const mr_tokenizer *t, const int64_t *const *pieces, const size_t *n, size_t B,
                      size_t max_length, mr_pad_mode pad, mr_encoding *out, mr_error *e);
/* mr_tokenize of every text, then mr_tokenizer_pack; errors name "text i" (0-based). */
int mr_tokenizer_encode_batch(const mr_tokenizer *t, const char *const *texts, const size_t *lens, size_t B,
                              size_t max_length, mr_pad_mode pad, mr_encoding *out, mr_error *e);
void mr_encoding_free(mr_encoding *enc);

/* Character classes of HF's BasicTokenizer (exposed for the tests). */
int mr_tok_is_cjk(uint32_t cp);         /* _is_chinese_char */
int mr_tok_is_punctuation(uint32_t cp); /* _is_punctuation */
int mr_tok_is_control(uint32_t cp);     /* _is_control */
int mr_tok_is_whitespace(uint32_t cp);  /* _is_whitespace, plus Zl/Zp (str.split) */

#endif
