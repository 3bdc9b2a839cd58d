#!/usr/bin/env python3
"""Convert the dataset files users own into mimrl-npz v1 (datasets/SCHEMA.md).

Run with Debian's system python3 (numpy and the standard library only):

  convert.py mmsa   unaligned_50.pkl --out data/mosi          [--aligned]
  convert.py mult   mosi_data_noalign.pkl MOSI-label.csv --dataset mosi --out data/mosi [--glove]
  convert.py sdk    mosi_train.pkl --dataset mosi --split train --out data/mosi
                    [--audio covarep] [--video facet41] [--text-feature last_hidden_state]
  convert.py sdk    pom_train.pkl --dataset pom --split train --out data/pom
                    (POM: label = column 0 of the 18 targets, all kept as label_all)
  convert.py avec   train.pkl --split train --out data/avec2019 [--audio mfcc] [--video au]

Each writes <out>_<split>.npz (MMSA and MulT files hold all three splits).
What is applied: the cast to float32, nan/±inf → 0, and stripping of padding
— nothing else (no normalisation). Every assumption about the input layout
(padding side, shapes, key names) is asserted, with a message naming the
file and the field, before anything is written.
Structures: ../shared/spec/data-formats.md §1 (and §5.3 for the mapping).
"""
import argparse
import csv
import json
import os
import pickle
import re
import sys

import numpy as np

CONVERTER_VERSION = 1


class ConvertError(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise ConvertError(msg)


def load_pickle(path):
    try:
        with open(path, 'rb') as f:
            return pickle.load(f, encoding='latin1')
    except FileNotFoundError:
        raise ConvertError('%s: no such file' % path)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a clear error here
        raise ConvertError('%s: cannot unpickle: %s' % (path, e))


def clean(a, dim, where):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1 and dim == a.shape[0]:
        a = a.reshape(1, dim)
    need(a.ndim == 2 and (a.shape[1] == dim or a.shape[0] == 0), '%s: expected [frames, %d], got %s' % (where, dim, a.shape))
    return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0).astype('<f4').reshape(-1, dim)


def ragged(seqs, dim):
    off = np.zeros(len(seqs) + 1, '<i8')
    off[1:] = np.cumsum([s.shape[0] for s in seqs])
    flat = np.concatenate(seqs) if off[-1] else np.zeros((0, dim), '<f4')
    return np.ascontiguousarray(flat, '<f4'), off


def ragged_bytes(strings):
    enc = [s.encode('utf-8') if isinstance(s, str) else bytes(s) for s in strings]
    off = np.zeros(len(enc) + 1, '<i8')
    off[1:] = np.cumsum([len(b) for b in enc])
    return np.frombuffer(b''.join(enc), 'u1').copy(), off


def write_split(path, ids, texts, labels, audio, vision, meta, text_emb=None, bert_ids=None, aligned=False, extra=None):
    n = len(labels)
    need(len(ids) == n and len(texts) == n and len(audio) == n and len(vision) == n,
         '%s: inconsistent sample counts (labels %d, ids %d, texts %d, audio %d, vision %d)'
         % (path, n, len(ids), len(texts), len(audio), len(vision)))
    lab = np.asarray(labels, dtype=np.float64).reshape(-1)
    need(np.all(np.isfinite(lab)), '%s: non-finite labels' % path)
    out = {'schema_version': np.array([1], '<i4'), 'aligned': np.array([int(aligned)], 'u1'), 'label': lab.astype('<f4')}
    out['id_bytes'], out['id_offsets'] = ragged_bytes(ids)
    out['text_bytes'], out['text_offsets'] = ragged_bytes(texts)
    out['audio'], out['audio_offsets'] = ragged(audio, meta['audio_dim'])
    out['vision'], out['vision_offsets'] = ragged(vision, meta['vision_dim'])
    if text_emb is not None:
        out['text_emb'], out['text_emb_offsets'] = ragged(text_emb, meta['text_emb_dim'])
    if bert_ids is not None:
        out['bert_ids'] = np.concatenate([np.asarray(t, '<i4') for t in bert_ids]) if n else np.zeros(0, '<i4')
        out['bert_ids_offsets'] = np.concatenate([[0], np.cumsum([len(t) for t in bert_ids])]).astype('<i8')
    for k, v in (extra or {}).items():
        need(np.shape(v)[0] == n, '%s: member %s has %d rows for %d samples' % (path, k, np.shape(v)[0], n))
        out[k] = v
    meta = dict(meta, converter_version=CONVERTER_VERSION)
    out['meta_json'] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), 'u1').copy()
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = path + '.tmp.npz'
    np.savez(tmp, **out)
    os.replace(tmp, path)  # atomic: a failed conversion never leaves half a file
    print('wrote %s: %d samples' % (path, n))


def split_names(d, where):
    need(isinstance(d, dict), '%s: expected a dict of splits, got %s' % (where, type(d).__name__))
    for s in ('train', 'valid', 'test'):
        need(s in d, "%s: split '%s' missing (keys: %s)" % (where, s, sorted(d)))
    return ('train', 'valid', 'test')


# ------------------------------------------------------------------ MMSA

def cmd_mmsa(a):
    data = load_pickle(a.pkl)
    for split in split_names(data, a.pkl):
        d = data[split]
        where = '%s[%s]' % (a.pkl, split)
        for k in ('raw_text', 'id', 'audio', 'vision', 'regression_labels'):
            need(k in d, "%s: key '%s' missing" % (where, k))
        au, vi = np.asarray(d['audio']), np.asarray(d['vision'])
        n = au.shape[0]
        tb = np.asarray(d['text_bert']) if 'text_bert' in d else None
        tx = np.asarray(d['text']) if 'text' in d else None
        if tb is not None:
            need(tb.ndim == 3 and tb.shape[1] == 3, "%s: 'text_bert' must be (N, 3, L), got %s" % (where, tb.shape))
        audio, vision, temb, bids = [], [], [], []
        for i in range(n):
            tlen = int(tb[i, 1].sum()) if tb is not None else None
            if a.aligned:
                need(tlen is not None, "%s: aligned data needs 'text_bert' for the token count" % where)
                la = lv = tlen
            else:
                need('audio_lengths' in d and 'vision_lengths' in d, "%s: unaligned data needs 'audio_lengths' and 'vision_lengths'" % where)
                la, lv = int(d['audio_lengths'][i]), int(d['vision_lengths'][i])
            # MMSA pads at the end: everything past the length must be zero
            for name, arr, ln in (('audio', au, la), ('vision', vi, lv)):
                need(0 <= ln <= arr.shape[1], '%s: %s length %d outside [0, %d] at sample %d' % (where, name, ln, arr.shape[1], i))
                need(not np.any(arr[i, ln:]), '%s: %s has non-zero frames past its length at sample %d: not end-padded as MMSA files are'
                     % (where, name, i))
            audio.append(clean(au[i, :la], au.shape[2], '%s audio[%d]' % (where, i)))
            vision.append(clean(vi[i, :lv], vi.shape[2], '%s vision[%d]' % (where, i)))
            if tx is not None and tlen is not None:
                temb.append(clean(tx[i, :tlen], tx.shape[2], '%s text[%d]' % (where, i)))
            if tb is not None:
                bids.append(tb[i, 0, :tlen].astype(np.int64))
        ids = [str(x).replace('$_$', '_') for x in d['id']]
        meta = dict(source='MMSA ' + ('aligned' if a.aligned else 'unaligned'), dataset=a.dataset, split=split,
                    audio_dim=int(au.shape[2]), vision_dim=int(vi.shape[2]), padding_side='end',
                    audio_feat='covarep-%d' % au.shape[2], vision_feat='facet-%d' % vi.shape[2])
        if temb:
            meta['text_emb_dim'] = int(tx.shape[2])
            meta['text_emb'] = 'bert-base-uncased last hidden state (MMSA text)'
        write_split('%s_%s.npz' % (a.out, split), ids, [str(t) for t in d['raw_text']], d['regression_labels'], audio, vision,
                    meta, temb if temb else None, bids if bids else None, a.aligned)


# --------------------------------------------------------- MulT / DeclareLab

def cmd_mult(a):
    data = load_pickle(a.pkl)
    rows = []
    try:
        with open(a.csv, newline='', encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise ConvertError('%s: no such file' % a.csv)
    for k in ('video_id', 'clip_id', 'text'):
        need(rows and k in rows[0], "%s: column '%s' missing" % (a.csv, k))
    by_key = {(r['video_id'], str(r['clip_id'])): r['text'] for r in rows}
    total = sum(np.asarray(data[s]['labels']).shape[0] for s in split_names(data, a.pkl))
    if a.dataset == 'mosei':
        need(total == len(rows), '%s: %d samples but %s has %d rows; MOSEI text is matched by row order (O-26), which needs equal counts'
             % (a.pkl, total, a.csv, len(rows)))
    row0 = 0
    for split in ('train', 'valid', 'test'):
        d = data[split]
        where = '%s[%s]' % (a.pkl, split)
        for k in ('audio', 'vision', 'labels', 'id'):
            need(k in d, "%s: key '%s' missing" % (where, k))
        au, vi = np.asarray(d['audio'], np.float64), np.asarray(d['vision'], np.float64)
        lab = np.asarray(d['labels']).reshape(au.shape[0], -1)[:, 0]
        audio, vision, texts, ids, temb = [], [], [], [], []
        for i in range(au.shape[0]):
            seqs = []
            for name, arr in (('audio', au), ('vision', vi)):
                x = np.nan_to_num(arr[i], nan=0.0, posinf=0.0, neginf=0.0)
                zero = ~np.any(x != 0, axis=1)
                n = x.shape[0] - int(zero.sum())
                # MulT pickles pad at the front: the zero rows must all come first
                need(not np.any(zero[x.shape[0] - n:]) if n else True,
                     '%s: %s sample %d has all-zero frames after real ones: not front-padded as MulT files are' % (where, name, i))
                seqs.append(clean(x[x.shape[0] - n:], x.shape[1], '%s %s[%d]' % (where, name, i)))
            audio.append(seqs[0])
            vision.append(seqs[1])
            raw = d['id'][i]
            raw = raw[0] if np.ndim(raw) else raw
            sid = raw.decode('utf-8') if isinstance(raw, bytes) else str(raw)
            ids.append(sid)
            if a.dataset == 'mosi':
                m = re.match(r'(.*)_(.*)', sid)
                need(m is not None, "%s: id '%s' is not '<video>_<clip>'" % (where, sid))
                need(m.groups() in by_key, "%s: id '%s' has no row in %s" % (where, sid, a.csv))
                texts.append(by_key[m.groups()])
            else:
                texts.append(rows[row0 + i]['text'])
            if a.glove and 'text' in d:
                g = np.asarray(d['text'][i], np.float64)
                temb.append(clean(g[np.any(g != 0, axis=1)], g.shape[1], '%s text[%d]' % (where, i)))
        row0 += au.shape[0]
        meta = dict(source='MulT/DeclareLab noalign + label.csv', dataset=a.dataset, split=split, audio_dim=int(au.shape[2]),
                    vision_dim=int(vi.shape[2]), padding_side='front (stripped)', audio_feat='covarep-%d' % au.shape[2],
                    vision_feat='facet-%d' % vi.shape[2])
        if temb:
            meta['text_emb_dim'] = int(np.asarray(d['text']).shape[2])
            meta['text_emb'] = 'glove-300'
        write_split('%s_%s.npz' % (a.out, split), ids, texts, lab, audio, vision, meta, temb if temb else None)


# ------------------------------------------------------------- CubeMLP SDK

SDK_AUDIO = {'mosi': ['covarep', 'opensmile_eb10', 'opensmile_is09'], 'mosei': ['covarep'], 'pom': ['covarep']}
SDK_VIDEO = {'mosi': ['facet41', 'facet42', 'openface'], 'mosei': ['facet42'], 'pom': ['facet42']}
SDK_TEXT = ['text', 'glove', 'last_hidden_state', 'masked_last_hidden_state', 'pooler_output', 'summed_last_four_states']


# POM (pom_SDK): [[l, a, v], label, label_7, segment]; label holds 18 regression targets (the official
# collate reshapes the batch's labels to (-1, 18)) and the official regression trains on column 0
# (kiva12138/MIMRL Solver.get_label_from_datas: `labels[0][:, 0]` for pom_SDK).
POM_TARGETS = 18
POM_LABEL_COLUMN = 0
POM_FIELDS = ['features', 'label', 'label_7', 'segment']  # MOSI/MOSEI samples have label_2 too (5 items)


def sdk_pom_sample(s, where):
    """the checked (label_all row, label_7) of one POM sample; every problem names the file, the row and the field."""
    fields = POM_FIELDS
    need(isinstance(s, (list, tuple)), '%s: expected a list %s, got %s' % (where, fields, type(s).__name__))
    if len(s) < len(fields):  # the segment is the last item in every SDK layout, so 3 items lack label_7
        missing = ['label_7'] if len(s) == 3 else fields[len(s):]
        raise ConvertError("%s: field%s %s missing: a POM sample is %s (%d items), got %d items"
                           % (where, 's' if len(missing) > 1 else '', ', '.join("'%s'" % m for m in missing), fields, len(fields), len(s)))
    need(len(s) == len(fields), '%s: a POM sample is %s (4 items), got %d items (a MOSI/MOSEI sample has 5: '
         'label_2 is not in POM)' % (where, fields, len(s)))
    try:
        row = np.asarray(s[1], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ConvertError("%s: field 'label' is not numeric: %s" % (where, e))
    need(row.size == POM_TARGETS, "%s: field 'label' has %d values, expected %d (POM's %d regression targets)"
         % (where, row.size, POM_TARGETS, POM_TARGETS))
    try:
        l7 = np.asarray(s[2]).reshape(-1)
        need(l7.size == 1 and float(l7[0]) == int(l7[0]), "%s: field 'label_7' must be one integer class, got %r" % (where, s[2]))
    except (TypeError, ValueError, IndexError):
        raise ConvertError("%s: field 'label_7' must be one integer class, got %r" % (where, s[2]))
    return row, int(l7[0])


def cmd_sdk(a):
    data = load_pickle(a.pkl)
    need(isinstance(data, list), '%s: expected a list of samples, got %s' % (a.pkl, type(data).__name__))
    pom = a.dataset == 'pom'
    label_all, label_7 = [], []
    ai = SDK_AUDIO[a.dataset].index(a.audio) if a.audio in SDK_AUDIO[a.dataset] else None
    vi = SDK_VIDEO[a.dataset].index(a.video) if a.video in SDK_VIDEO[a.dataset] else None
    need(ai is not None, '--audio %s is not among %s for %s' % (a.audio, SDK_AUDIO[a.dataset], a.dataset))
    need(vi is not None, '--video %s is not among %s for %s' % (a.video, SDK_VIDEO[a.dataset], a.dataset))
    ti = SDK_TEXT.index(a.text_feature)
    audio, vision, texts, ids, labels, temb = [], [], [], [], [], []
    adim = vdim = tdim = None
    for i, s in enumerate(data):
        where = '%s sample %d' % (a.pkl, i)
        if pom:
            row, l7 = sdk_pom_sample(s, where)
            label_all.append(row)
            label_7.append(l7)
        need(isinstance(s, (list, tuple)) and len(s) >= 3, '%s: expected [[l, a, v], label, ..., segment]' % where)
        feats = s[0]
        need(isinstance(feats, (list, tuple)) and len(feats) == 3,
             "%s: field 'features' must be [text_list, audio_list, video_list]" % where)
        for name, lst, names, k in (('text', feats[0], SDK_TEXT, 0), ('audio', feats[1], SDK_AUDIO[a.dataset], ai),
                                    ('video', feats[2], SDK_VIDEO[a.dataset], vi)):
            need(isinstance(lst, (list, tuple)) and len(lst) > k, "%s: field 'features' %s list has %s entries, needs %s (%s)"
                 % (where, name, len(lst) if isinstance(lst, (list, tuple)) else 'no', k + 1, ', '.join(names[:k + 1])))
        words = [w.decode('utf-8') if isinstance(w, bytes) else str(w) for w in np.asarray(feats[0][0]).reshape(-1)]
        A = np.asarray(feats[1][ai], np.float64)
        V = np.asarray(feats[2][vi], np.float64)
        need(A.ndim == 2 and V.ndim == 2, '%s: audio %s and video %s must be [words, dim]' % (where, A.shape, V.shape))
        need(A.shape[0] == V.shape[0] == len(words), '%s: audio %d, video %d and %d words must align (word-aligned SDK data)'
             % (where, A.shape[0], V.shape[0], len(words)))
        if adim is not None and (A.shape[1], V.shape[1]) != (adim, vdim):
            raise ConvertError('%s: audio %s is %d-d and video %s %d-d, but sample 0 had %d and %d'
                               % (where, a.audio, A.shape[1], a.video, V.shape[1], adim, vdim))
        adim, vdim = A.shape[1], V.shape[1]
        audio.append(clean(A, adim, where + ' audio'))
        vision.append(clean(V, vdim, where + ' video'))
        if ti > 0 and ti != 4:
            need(len(feats[0]) > ti, "%s: field 'features' text list has no %s (entry %d)" % (where, a.text_feature, ti))
            T = np.asarray(feats[0][ti], np.float64)
            tdim = T.shape[1]
            temb.append(clean(T, tdim, where + ' text feature'))
        texts.append(' '.join(words))
        labels.append(float(label_all[-1][POM_LABEL_COLUMN]) if pom else float(np.asarray(s[1]).reshape(-1)[0]))
        seg = s[-1]
        ids.append(seg.decode('utf-8') if isinstance(seg, bytes) else str(seg))
    meta = dict(source='CubeMLP SDK pickle', dataset=a.dataset, split=a.split, audio_dim=int(adim or 0), vision_dim=int(vdim or 0),
                padding_side='none (word-aligned)', audio_feat=a.audio, vision_feat=a.video)
    if temb:
        meta['text_emb_dim'] = int(tdim)
        meta['text_emb'] = a.text_feature
    extra = None
    if pom:
        la = np.asarray(label_all, np.float64).reshape(-1, POM_TARGETS)
        meta.update(label_column=POM_LABEL_COLUMN, label_targets=POM_TARGETS,
                    label_all_nonfinite=int(np.sum(~np.isfinite(la))),
                    label_note='label = label_all[:, %d], the target the official pom_SDK regression trains on; '
                               'label_all keeps all %d targets in pickle order; label_7 is the stored 7-class label'
                               % (POM_LABEL_COLUMN, POM_TARGETS))
        extra = {'label_all': la.astype('<f4'), 'label_7': np.asarray(label_7, '<i4')}
    write_split('%s_%s.npz' % (a.out, a.split), ids, texts, labels, audio, vision, meta, temb if temb else None, aligned=True,
                extra=extra)


# -------------------------------------------------------------- AVEC 2019

AVEC_FEATS = ['text', 'mfcc', 'ege', 'ds', 'au', 'resnet', 'label']


def cmd_avec(a):
    data = load_pickle(a.pkl)
    need(isinstance(data, list), '%s: expected a list of participants, got %s' % (a.pkl, type(data).__name__))
    ai, vi = AVEC_FEATS.index(a.audio), AVEC_FEATS.index(a.video)
    audio, vision, texts, labels = [], [], [], []
    adim = vdim = 0
    for i, s in enumerate(data):
        where = '%s participant %d' % (a.pkl, i)
        need(isinstance(s, (list, tuple)) and len(s) == 7, '%s: expected [text, mfcc, ege, ds, au, resnet, label]' % where)
        sentences = [x.decode('utf-8') if isinstance(x, bytes) else str(x) for x in s[0]]
        need(all('\n' not in x for x in sentences), '%s: a sentence contains a newline (sentences are stored newline-separated)' % where)
        A, V = np.asarray(s[ai], np.float64), np.asarray(s[vi], np.float64)
        adim, vdim = A.shape[1], V.shape[1]
        audio.append(clean(A, adim, where + ' ' + a.audio))
        vision.append(clean(V, vdim, where + ' ' + a.video))
        texts.append('\n'.join(sentences))
        labels.append(float(np.asarray(s[6]).reshape(-1)[0]))
    lab = np.asarray(labels)
    # the official pickles apparently store PHQ-8/25 (spec §6.2); the schema stores the raw 0-24 scale
    scaled = bool(len(lab) and lab.max() <= 1.0)
    if scaled:
        lab = lab * 25.0
    ids = [str(x) for x in (open(a.ids).read().split() if a.ids else range(len(data)))]
    need(len(ids) == len(data), '%s: %d ids for %d participants' % (a.ids, len(ids), len(data)))
    meta = dict(source='MIMRL AVEC 2019 pickle', dataset='avec2019', split=a.split, audio_dim=int(adim), vision_dim=int(vdim),
                padding_side='none (ragged)', audio_feat=a.audio, vision_feat=a.video, labels_rescaled_by_25=scaled)
    write_split('%s_%s.npz' % (a.out, a.split), ids, texts, lab, audio, vision, meta)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('mmsa')
    m.add_argument('pkl')
    m.add_argument('--out', required=True)
    m.add_argument('--dataset', default='mosi', choices=['mosi', 'mosei'])
    m.add_argument('--aligned', action='store_true')
    m = sub.add_parser('mult')
    m.add_argument('pkl')
    m.add_argument('csv')
    m.add_argument('--dataset', required=True, choices=['mosi', 'mosei'])
    m.add_argument('--out', required=True)
    m.add_argument('--glove', action='store_true', help='also store the GloVe rows as text_emb')
    m = sub.add_parser('sdk')
    m.add_argument('pkl')
    m.add_argument('--dataset', required=True, choices=['mosi', 'mosei', 'pom'])
    m.add_argument('--split', required=True, choices=['train', 'valid', 'test'])
    m.add_argument('--out', required=True)
    m.add_argument('--audio', default='covarep')
    m.add_argument('--video', default=None)
    m.add_argument('--text-feature', default='last_hidden_state', choices=SDK_TEXT)
    m = sub.add_parser('avec')
    m.add_argument('pkl')
    m.add_argument('--split', required=True, choices=['train', 'valid', 'test'])
    m.add_argument('--out', required=True)
    m.add_argument('--audio', default='mfcc', choices=['mfcc', 'ege', 'ds'])
    m.add_argument('--video', default='au', choices=['au', 'resnet'])
    m.add_argument('--ids', default=None, help='file with one participant id per line, in pickle order')
    a = p.parse_args(argv)
    if a.cmd == 'sdk' and a.video is None:
        a.video = 'facet41' if a.dataset == 'mosi' else 'facet42'
    try:
        {'mmsa': cmd_mmsa, 'mult': cmd_mult, 'sdk': cmd_sdk, 'avec': cmd_avec}[a.cmd](a)
    except ConvertError as e:
        print('convert.py %s: %s' % (a.cmd, e), file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
