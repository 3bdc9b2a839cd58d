"""tokenizer_ref.py — independent reference for verify/test_tokenizer.c: Hugging Face's slow
BertTokenizer (transformers 4.x, bert-base-uncased: do_lower_case=True, tokenize_chinese_chars=True,
strip_accents=None) transcribed in plain Python (stdlib only: unicodedata), plus a random corpus.

    python3 tokenizer_ref.py DIR SEED LINES

writes DIR/corpus.txt (UTF-8, one text per line), DIR/vocab.txt (the test's layout: [PAD] at 0,
[UNK] [CLS] [SEP] [MASK] at 100-103, then pieces drawn from the corpus), and the expected output of
`mimrl tokenize` for that corpus: DIR/expect_longest.txt (padding=True) and DIR/expect_max8.txt
(max_length=8, truncation=True, padding="max_length").
"""
import random
import re
import sys
import unicodedata

SPECIALS = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]  # BertTokenizer.all_special_tokens


# ---------------------------------------------------------------- tokenization_bert.py (4.x)

def whitespace_tokenize(text):
    text = text.strip()
    if not text:
        return []
    return text.split()


def _is_whitespace(char):
    if char == " " or char == "\t" or char == "\n" or char == "\r":
        return True
    return unicodedata.category(char) == "Zs"


def _is_control(char):
    if char == "\t" or char == "\n" or char == "\r":
        return False
    return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
    cp = ord(char)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese_char(cp):
    return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or (0x20000 <= cp <= 0x2A6DF)
            or (0x2A700 <= cp <= 0x2B73F) or (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF)
            or (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


def basic_tokenize(text, never_split):
    out = []
    for char in text:  # _clean_text
        cp = ord(char)
        if cp == 0 or cp == 0xFFFD or _is_control(char):
            continue
        out.append(" " if _is_whitespace(char) else char)
    text = "".join(out)
    text = "".join(" " + c + " " if _is_chinese_char(ord(c)) else c for c in text)
    split_tokens = []
    for token in whitespace_tokenize(text):
        if token not in never_split:
            token = token.lower()
            token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        if token in never_split:  # _run_split_on_punc
            split_tokens.append(token)
            continue
        output, start_new_word = [], True
        for char in token:
            if _is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
        split_tokens.extend("".join(x) for x in output)
    return whitespace_tokenize(" ".join(split_tokens))


def wordpiece(token, vocab):
    chars = list(token)
    if len(chars) > 100:
        return ["[UNK]"]
    start, sub = 0, []
    while start < len(chars):
        end, cur = len(chars), None
        while start < end:
            s = "".join(chars[start:end])
            if start > 0:
                s = "##" + s
            if s in vocab:
                cur = s
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        sub.append(cur)
        start = end
    return sub


def tokenize(text, vocab):
    """PreTrainedTokenizer.tokenize: lower-case outside the special tokens (one character per
    regex match), split on the special tokens, BertTokenizer._tokenize on the rest."""
    esc = [re.escape(s) for s in SPECIALS]
    pattern = r"(" + r"|".join(esc) + r")|" + r"(.+?)"
    text = re.sub(pattern, lambda m: m.groups()[0] or m.groups()[1].lower(), text, flags=re.DOTALL)
    tokens = []
    for part in re.split("(" + "|".join(esc) + ")", text):
        if part in SPECIALS:
            tokens.append(part)
        elif part:
            for t in basic_tokenize(part, set(SPECIALS)):
                tokens.extend([t] if t in SPECIALS else wordpiece(t, vocab))
    return tokens


# ---------------------------------------------------------------------------- random corpus

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "".join(chr(c) for c in range(33, 127)),
    "".join(chr(c) for c in range(0xC0, 0x250)),            # Latin-1, Latin Extended-A/B (İ, Ǻ, Ǆ)
    "".join(chr(c) for c in range(0x300, 0x370)),           # combining marks
    "".join(chr(c) for c in range(0x391, 0x3CA) if c != 0x3A2),  # Greek (Σ)
    "".join(chr(c) for c in range(0x400, 0x460)),           # Cyrillic
    "".join(chr(c) for c in range(0x600, 0x700)),           # Arabic (Cf, Mn, Po)
    "".join(chr(c) for c in range(0x900, 0x980)),           # Devanagari (Mn and Mc)
    "".join(chr(c) for c in range(0x2010, 0x2065)),         # general punctuation, Zl, Zp, Cf
    "".join(chr(c) for c in range(0x20A0, 0x20C0)) + "©®≠≮∉℃№™",  # symbols, some decomposing
    "".join(chr(c) for c in range(0x4E00, 0x4E40)) + "".join(chr(c) for c in range(0xF900, 0xF920)),
    "".join(chr(c) for c in range(0x3041, 0x3097)) + "".join(chr(c) for c in range(0xAC00, 0xAC40)),
    "\x00\x01\x07\x0b\x0c\x1c\x1f\x7f\x85\u200b\ufeff\ue000\ufffd\u00ad",  # removed
    " \t\r\u00a0\u2000\u2003\u200a\u3000\u2028\u2029\u1680",          # whitespace
]
WORDS = ["[SEP]", "[MASK]", "[CLS]", "[sep]", "[SEP", "Hello", "CAFÉ", "ΟΔΟΣ", "Straße", "ﬁne", "İstanbul"]


def random_line(rng):
    parts = []
    for _ in range(rng.randint(0, 12)):
        r = rng.random()
        if r < 0.1:
            parts.append(rng.choice(WORDS))
        elif r < 0.13:
            parts.append("".join(rng.choice("abc") for _ in range(rng.choice([99, 100, 101, 102]))))
        else:
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        parts.append(rng.choice([" ", " ", "", "\t"]))
    return "".join(parts)


def main():
    out, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    lines = [random_line(rng) for _ in range(n)]
    # vocabulary: most single characters (bare and ##), and random substrings of the words
    words = set()
    for ln in lines:
        words.update(basic_tokenize(ln.lower(), set(SPECIALS)))
    pieces = set()
    for w in sorted(words):
        for i, c in enumerate(w):
            if rng.random() < 0.9:
                pieces.add(c if i == 0 or rng.random() < 0.3 else "##" + c)
            if rng.random() < 0.3:
                j = rng.randint(i + 1, len(w))
                pieces.add(("##" if i else "") + w[i:j])
    pieces -= set(SPECIALS)
    vocab_list = ["[PAD]"] + ["[unused%d]" % i for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab_list += sorted(pieces)
    vocab = {t: i for i, t in enumerate(vocab_list)}
    with open(out + "/vocab.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in vocab_list))
    with open(out + "/corpus.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(ln + "\n" for ln in lines))
    ids = [[vocab.get(t, vocab["[UNK]"]) for t in tokenize(ln, vocab)] for ln in lines]
    longest = max(len(r) for r in ids) + 2
    with open(out + "/expect_longest.txt", "w") as f:
        for r in ids:
            row = [101] + r + [102]
            f.write(" ".join(str(x) for x in row + [0] * (longest - len(row))) + "\n")
    with open(out + "/expect_max8.txt", "w") as f:
        for r in ids:
            row = [101] + r[:6] + [102]
            f.write(" ".join(str(x) for x in row + [0] * (8 - len(row))) + "\n")
    print(len(lines), len(vocab_list), unicodedata.unidata_version)


if __name__ == "__main__":
    main()
