#!/usr/bin/env python3
"""A PyTorch twin of ref/bert/bert.c written from the spec (§1.2) with torch
operations — not a library model class — and the fixtures it writes.

    bert_torch.py fixtures OUTDIR      verify/fixtures/bert/*.npz (make bert-fixtures)
    bert_torch.py bench [--B 128 --L 100 --dtype float64 --threads 2 --reps 1 --chunk 8]
                                       BERT-base forward+backward timing (bench/)

The computation (Hugging Face BertModel of transformers 4.x where the spec
is silent): embeddings word[ids] + position[0..L-1] + token_type[type_ids]
→ LayerNorm(eps) → dropout; per layer scores q·kᵀ/√d + (1 − mask)·c with
c = finfo(float64).min (mask_kind 0) or −10000 (mask_kind 1), softmax over
keys, attention-probability dropout, context → output dense → dropout →
residual → LayerNorm; FFN dense → exact GELU → dense → dropout → residual →
LayerNorm; last_hidden_state out; the pooler is not computed.
word_embeddings has padding_idx = pad_token_id (no gradient for that row),
as nn.Embedding(padding_idx=0) in BertEmbeddings. Dropout masks can be
passed in (dict name → tensor, inverted-dropout scale included).

Fixture members: config [10] = vocab, hidden, layers, heads, intermediate,
max positions, type vocab, layer_norm_eps, mask_kind, pad_token_id; shape
[B, L, H]; ids, type_ids, att_mask <i8 [B, L]; R [B, L, H] (loss = Σ out·R);
out; param/<name>, grad/<name> under bertmodel.* (pooler gradients zero);
with dropout also dropout [2] = hidden, attention probability and seeds
[B], the per-sample seeds whose masks (GslMt19937 below replays GSL's
generator) the C side draws itself from mr_bert_forward_seeded.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

PFX = 'bertmodel.'
LAYER = ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense',
         'attention.output.LayerNorm', 'intermediate.dense', 'output.dense', 'output.LayerNorm']


def param_shapes(cfg):
    V, H, n, I, P, T = cfg['vocab'], cfg['hidden'], cfg['layers'], cfg['inter'], cfg['pos'], cfg['types']
    s = [('embeddings.word_embeddings.weight', (V, H)), ('embeddings.position_embeddings.weight', (P, H)),
         ('embeddings.token_type_embeddings.weight', (T, H)), ('embeddings.LayerNorm.weight', (H,)),
         ('embeddings.LayerNorm.bias', (H,))]
    for l in range(n):
        for m in LAYER:
            b = f'encoder.layer.{l}.{m}.'
            if m.endswith('LayerNorm'):
                s += [(b + 'weight', (H,)), (b + 'bias', (H,))]
            else:
                o, i = {'intermediate.dense': (I, H), 'output.dense': (H, I)}.get(m, (H, H))
                s += [(b + 'weight', (o, i)), (b + 'bias', (o,))]
    s += [('pooler.dense.weight', (H, H)), ('pooler.dense.bias', (H,))]
    return [(PFX + k, v) for k, v in s]


def bert(p, cfg, ids, type_ids, att_mask, masks=None, hidden=None, gelu=F.gelu):
    """last_hidden_state [B, L, H] from parameters p (name → tensor).
    hidden: a list that receives HF's hidden_states (the embeddings' output,
    then each layer's); gelu: the FFN activation (the conformance tests swap
    in the tanh approximation)."""
    H, nh, eps = cfg['hidden'], cfg['heads'], cfg['eps']
    d = H // nh
    B, L = ids.shape
    g = lambda k: p[PFX + k]
    mk = lambda k: None if masks is None else masks.get(k)
    drop = lambda x, k: x if mk(k) is None else x * mk(k)
    pos = torch.arange(L)
    e = (F.embedding(ids, g('embeddings.word_embeddings.weight'), padding_idx=cfg['pad'])
         + F.embedding(type_ids, g('embeddings.token_type_embeddings.weight'))
         + F.embedding(pos, g('embeddings.position_embeddings.weight'))[None])
    x = drop(F.layer_norm(e, (H,), g('embeddings.LayerNorm.weight'), g('embeddings.LayerNorm.bias'), eps), 'emb')
    c = torch.finfo(x.dtype).min if cfg['mask_kind'] == 0 else -10000.0
    ext = (1.0 - att_mask.to(x.dtype))[:, None, None, :] * c  # [B, 1, 1, L]
    heads = lambda t: t.view(B, L, nh, d).permute(0, 2, 1, 3)
    if hidden is not None:
        hidden.append(x)
    for l in range(cfg['layers']):
        w = lambda m, k='weight': g(f'encoder.layer.{l}.{m}.{k}')
        lin = lambda t, m: F.linear(t, w(m), w(m, 'bias'))
        q, k, v = heads(lin(x, LAYER[0])), heads(lin(x, LAYER[1])), heads(lin(x, LAYER[2]))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
        a = drop(torch.softmax(s, dim=-1), f'att{l}')
        ctx = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(B, L, H)
        h1 = F.layer_norm(x + drop(lin(ctx, LAYER[3]), f'h1_{l}'), (H,), w(LAYER[4]), w(LAYER[4], 'bias'), eps)
        f = lin(gelu(lin(h1, LAYER[5])), LAYER[6])
        x = F.layer_norm(h1 + drop(f, f'h2_{l}'), (H,), w(LAYER[7]), w(LAYER[7], 'bias'), eps)
        if hidden is not None:
            hidden.append(x)
    return x


class GslMt19937:
    """GSL's mt19937 (gsl_rng_set, gsl_rng_get, gsl_rng_uniform), to replay
    the C side's dropout masks: seed 0 means 4357; Knuth's initialisation."""

    def __init__(self, s):
        s = s or 4357
        self.mt = [s & 0xffffffff]
        for i in range(1, 624):
            self.mt.append((1812433253 * (self.mt[-1] ^ (self.mt[-1] >> 30)) + i) & 0xffffffff)
        self.i = 624

    def get(self):
        if self.i >= 624:
            mt = self.mt
            for k in range(624):
                y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff)
                mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (0x9908b0df if y & 1 else 0)
            self.i = 0
        y = self.mt[self.i]
        self.i += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c5680
        y ^= (y << 15) & 0xefc60000
        y ^= y >> 18
        return y

    def uniform(self):
        return self.get() / 4294967296.0


def dropout_masks(cfg, seeds, L):
    """ref/bert/bert.h's masks: per sample, from mt19937 seeded with its seed,
    embedding [L, H], then per layer attention [nh, L, L], attention output
    [L, H], FFN output [L, H]; kept iff u < 1 − p, scaled by 1/(1 − p)."""
    H, nh, n = cfg['hidden'], cfg['heads'], cfg['layers']

    def draw(r, shape, p):
        keep = 1.0 - p
        u = torch.tensor([r.uniform() for _ in range(int(np.prod(shape)))]).view(shape)
        return torch.where(u < keep, torch.tensor(1.0 / keep), torch.tensor(0.0))

    per = []
    for s in seeds:
        r = GslMt19937(int(s))
        d = {'emb': draw(r, (L, H), cfg['p_hidden'])}
        for l in range(n):
            d[f'att{l}'] = draw(r, (nh, L, L), cfg['p_att'])
            d[f'h1_{l}'] = draw(r, (L, H), cfg['p_hidden'])
            d[f'h2_{l}'] = draw(r, (L, H), cfg['p_hidden'])
        per.append(d)
    return {k: torch.stack([d[k] for d in per]) for k in per[0]}


def fixture(path, cfg, B, L, seed):
    gen = torch.Generator().manual_seed(seed)
    p = {}
    for name, shape in param_shapes(cfg):
        if 'LayerNorm.weight' in name:
            t = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        else:
            t = 0.4 * torch.randn(shape, generator=gen)
        p[name] = t.requires_grad_()
    ids = torch.randint(1, cfg['vocab'], (B, L), generator=gen)
    type_ids = torch.zeros(B, L, dtype=torch.int64)
    att = torch.ones(B, L, dtype=torch.int64)
    for b in range(B):
        n = [L, L - 2, L - 1, 0][b % 4]  # ragged; the 4th sample is all PAD
        ids[b, n:] = 0
        att[b, n:] = 0
        type_ids[b, n // 2:n] = 1
    R = torch.randn(B, L, cfg['hidden'], generator=gen)
    seeds = [1000 + 7 * b for b in range(B)]
    masks = dropout_masks(cfg, seeds, L) if cfg.get('p_hidden', 0) > 0 else None
    out = bert(p, cfg, ids, type_ids, att, masks)
    (out * R).sum().backward()
    a = {'config': np.array([cfg['vocab'], cfg['hidden'], cfg['layers'], cfg['heads'], cfg['inter'], cfg['pos'],
                             cfg['types'], cfg['eps'], cfg['mask_kind'], cfg['pad']], dtype=np.float64),
         'shape': np.array([B, L, cfg['hidden']], dtype=np.float64),
         'ids': ids.numpy(), 'type_ids': type_ids.numpy(), 'att_mask': att.numpy(),
         'R': R.numpy(), 'out': out.detach().numpy()}
    if masks is not None:
        a['dropout'] = np.array([cfg['p_hidden'], cfg['p_att']])
        a['seeds'] = np.array(seeds, dtype=np.int64)
    for name, t in p.items():
        a['param/' + name] = t.detach().numpy()
        a['grad/' + name] = (t.grad if t.grad is not None else torch.zeros_like(t)).numpy()
    np.savez_compressed(path, **a)
    print('wrote', path, len(a), 'members')


def fixtures(outdir):
    os.makedirs(outdir, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    cfg = dict(vocab=20, hidden=8, layers=2, heads=2, inter=12, pos=16, types=2, eps=1e-12, pad=0)
    fixture(os.path.join(outdir, 'bert_finfo.npz'), dict(cfg, mask_kind=0), 4, 6, 1)
    fixture(os.path.join(outdir, 'bert_10000.npz'), dict(cfg, mask_kind=1, layers=3, heads=4, hidden=12), 4, 7, 2)
    fixture(os.path.join(outdir, 'bert_dropout.npz'), dict(cfg, mask_kind=0, p_hidden=0.2, p_att=0.25), 4, 6, 3)


def bench(args):
    """BERT-base forward + backward of loss sum(out * R) at B x L, training
    mode (dropout 0.1 masks, inverted scale, as the C side); with --chunk c > 0
    the batch runs as chunks of c samples, each forward then backward
    (gradient accumulation: no activation recompute, so one forward fewer
    than mimrl.c's keep = 0 backward); --chunk 0 runs the batch whole."""
    import resource
    dt = {'float64': torch.float64, 'float32': torch.float32}[args.dtype]
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(dt)
    cfg = dict(vocab=30522, hidden=768, layers=12, heads=12, inter=3072, pos=512, types=2, eps=1e-12, pad=0,
               mask_kind=0)
    gen = torch.Generator().manual_seed(0)
    p = {n: (0.02 * torch.randn(s, generator=gen)).requires_grad_() for n, s in param_shapes(cfg)}
    ids = torch.randint(1, 30522, (args.B, args.L), generator=gen)
    att = torch.ones(args.B, args.L, dtype=torch.int64)
    tt = torch.zeros_like(ids)
    R = torch.randn(args.B, args.L, 768, generator=gen)
    H, nh, L = cfg['hidden'], cfg['heads'], args.L

    def masks(b):
        m = lambda shape: F.dropout(torch.ones(shape), 0.1, True)
        d = {'emb': m((b, L, H))}
        for l in range(cfg['layers']):
            d[f'att{l}'], d[f'h1_{l}'], d[f'h2_{l}'] = m((b, nh, L, L)), m((b, L, H)), m((b, L, H))
        return d

    c = args.chunk if args.chunk > 0 else args.B
    best = None
    for _ in range(args.reps):
        tf = tb = 0.0
        for s in range(0, args.B, c):
            sl = slice(s, s + c)
            t0 = time.perf_counter()
            out = bert(p, cfg, ids[sl], tt[sl], att[sl], masks(ids[sl].shape[0]))
            t1 = time.perf_counter()
            (out * R[sl]).sum().backward()
            t2 = time.perf_counter()
            tf, tb = tf + t1 - t0, tb + t2 - t1
            del out
        if best is None or tf + tb < best[0] + best[1]:
            best = (tf, tb)
        for t in p.values():
            t.grad = None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576
    print(f'torch {args.dtype} threads={args.threads} B={args.B} L={args.L} chunk={c} forward_s={best[0]:.3f} '
          f'backward_s={best[1]:.3f} total_s={best[0] + best[1]:.3f} peak_rss_gb={rss:.2f}')


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['fixtures', 'bench'])
    ap.add_argument('outdir', nargs='?', default='verify/fixtures/bert')
    ap.add_argument('--B', type=int, default=128)
    ap.add_argument('--L', type=int, default=100)
    ap.add_argument('--dtype', default='float64')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reps', type=int, default=1)
    ap.add_argument('--chunk', type=int, default=8)
    a = ap.parse_args()
    fixtures(a.outdir) if a.cmd == 'fixtures' else bench(a)
