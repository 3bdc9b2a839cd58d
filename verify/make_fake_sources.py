#!/usr/bin/env python3
"""Fabricate small files that follow each documented source structure
exactly (../shared/spec/data-formats.md §1), for verify/test_converters.c.

  make_fake_sources.py OUTDIR

Frame values follow one pattern so the C test can check them after
conversion: value(sample i, frame t, feature f) = i + t / 100 + f / 10000
(i counted within the split; real frames only, padding is zero).
"""
import csv
import os
import pickle
import sys

import numpy as np

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def frames(i, n, d):
    t = np.arange(n)[:, None] / 100.0
    f = np.arange(d)[None, :] / 10000.0
    return (i + 1 + t + f).astype(np.float64)  # +1: sample 0 must not be all-zero


SPLITS = {'train': 4, 'valid': 2, 'test': 3}
ALEN = [5, 3, 7, 1]  # real audio frames per sample (cycled)
VLEN = [6, 2, 8, 4]
WORDS = ['a b c', 'hello world', 'one two three four', 'x']


def mmsa(aligned):
    d = {}
    for s, n in SPLITS.items():
        La, Lv, Lt = (6, 6, 6) if aligned else (8, 9, 6)
        au, vi = np.zeros((n, La, 5)), np.zeros((n, Lv, 20))
        text, tb = np.zeros((n, Lt, 16)), np.zeros((n, 3, Lt))
        al, vl = [], []
        for i in range(n):
            tlen = 2 + len(WORDS[i % 4].split())
            la = tlen if aligned else ALEN[i % 4]
            lv = tlen if aligned else VLEN[i % 4]
            au[i, :la] = frames(i, la, 5)
            vi[i, :lv] = frames(i, lv, 20)
            text[i, :tlen] = frames(i, tlen, 16)
            tb[i, 0, :tlen] = 101 + np.arange(tlen)
            tb[i, 1, :tlen] = 1
            al.append(la)
            vl.append(lv)
        d[s] = {'raw_text': np.array(WORDS[:n] if n <= 4 else WORDS * 2), 'id': np.array(['vid%d$_$%d' % (i, i) for i in range(n)]),
                'text': text, 'text_bert': tb, 'audio': au, 'vision': vi, 'regression_labels': np.linspace(-2, 2, n),
                'annotations': np.array(['Neutral'] * n)}
        if not aligned:
            d[s]['audio_lengths'] = np.array(al)
            d[s]['vision_lengths'] = np.array(vl)
    with open(os.path.join(OUT, 'mmsa_%s.pkl' % ('aligned' if aligned else 'unaligned')), 'wb') as f:
        pickle.dump(d, f)


def mult():
    d, rows = {}, []
    for s, n in SPLITS.items():
        L = 9
        au, vi, gl = np.zeros((n, L, 5)), np.zeros((n, L, 20)), np.zeros((n, 4, 300))
        ids = []
        for i in range(n):
            la, lv = ALEN[i % 4], VLEN[i % 4]
            au[i, L - la:] = frames(i, la, 5)  # front padding
            vi[i, L - lv:] = frames(i, lv, 20)
            gl[i, :2] = 1.0
            vid = '%s_vid%d' % (s, i)
            ids.append([('%s_%d' % (vid, i + 1)).encode(), b'x', b'y'])
            rows.append({'video_id': vid, 'clip_id': str(i + 1), 'text': WORDS[i % 4], 'label': '0', 'mode': s})
        d[s] = {'text': gl, 'audio': au, 'vision': vi, 'labels': np.linspace(-1, 1, n).reshape(n, 1, 1), 'id': np.array(ids)}
    with open(os.path.join(OUT, 'mult_noalign.pkl'), 'wb') as f:
        pickle.dump(d, f)
    with open(os.path.join(OUT, 'label.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=['video_id', 'clip_id', 'text', 'label', 'mode'])
        w.writeheader()
        w.writerows(rows)
    # a broken variant: padding at the end instead of the front
    bad = {k: dict(v) for k, v in d.items()}
    au = bad['train']['audio'].copy()
    au[1] = 0
    au[1, :2] = frames(1, 2, 5)
    au[1, 5] = 1.0  # real frame after zero ones → neither front nor end padded cleanly
    bad['train']['audio'] = au
    with open(os.path.join(OUT, 'mult_bad_padding.pkl'), 'wb') as f:
        pickle.dump(bad, f)


def sdk():
    samples = []
    for i in range(SPLITS['train']):
        words = WORDS[i % 4].split()
        n = len(words)
        l_feats = [np.array(words), frames(i, n, 300), frames(i, n, 768), frames(i, n, 768), np.zeros(768), frames(i, n, 768)]
        a_feats = [frames(i, n, 74), frames(i, n, 1585), frames(i, n, 384)]
        v_feats = [frames(i, n, 47), frames(i, n, 35), frames(i, n, 430)]
        samples.append([[l_feats, a_feats, v_feats], float(i) - 1.5, int(i > 1), i % 7, 'seg%d' % i])
    with open(os.path.join(OUT, 'sdk_train.pkl'), 'wb') as f:
        pickle.dump(samples, f)


POM_TARGETS = 18


def pom_label(i):
    """POM's 18 regression targets of sample i (1..7 scale, as pom_r2c_7 assumes): column k = 1 + i + k / 100."""
    return 1.0 + i + np.arange(POM_TARGETS) / 100.0


def pom_sample(i):
    """one pom_SDK sample, [[l_features, a_features, v_features], label (18,), label_7, segment] (spec §1.1)."""
    words = WORDS[i % 4].split()
    n = len(words)
    l_feats = [np.array(words), frames(i, n, 300), frames(i, n, 768), frames(i, n, 768), np.zeros(768), frames(i, n, 768)]
    return [[l_feats, [frames(i, n, 43)], [frames(i, n, 35)]], pom_label(i), (i % 7), 'pom_seg%d' % i]


def pom():
    for s, n in SPLITS.items():
        with open(os.path.join(OUT, 'pom_%s.pkl' % s), 'wb') as f:
            pickle.dump([pom_sample(i) for i in range(n)], f)
    bad = [pom_sample(i) for i in range(SPLITS['train'])]
    bad[2][1] = pom_label(2)[:17]  # a label row with 17 targets instead of 18
    with open(os.path.join(OUT, 'pom_bad_label_width.pkl'), 'wb') as f:
        pickle.dump(bad, f)
    bad = [pom_sample(i) for i in range(SPLITS['train'])]
    del bad[1][2]  # sample 1 without its label_7: [feats, label, segment]
    with open(os.path.join(OUT, 'pom_missing_field.pkl'), 'wb') as f:
        pickle.dump(bad, f)


def avec():
    parts = []
    for i in range(SPLITS['train']):
        n = ALEN[i % 4]
        parts.append([['sentence %d of %d' % (k, i) for k in range(n)], frames(i, n, 39), frames(i, n, 23), frames(i, n, 1920),
                      frames(i, n, 49), frames(i, n, 2048), (4 * i + 2) / 25.0])
    with open(os.path.join(OUT, 'avec_train.pkl'), 'wb') as f:
        pickle.dump(parts, f)


mmsa(False)
mmsa(True)
mult()
sdk()
pom()
avec()
print('fabricated sources in', OUT)
