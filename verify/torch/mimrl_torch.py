#!/usr/bin/env python3
"""An independent PyTorch implementation of the MIMRL step, for cross-checking
mimrl.c (`make crosscheck`) and as the PyTorch side of the step benchmark.

Written from ../shared/spec/mimrl.md (§1 model, §2 bounds, §3 CMI, §4
objectives, §5.7 task losses) and the decisions listed in the README's
deviation table — not from mimrl.c and not from the official code. It is
functional: every parameter is a tensor in a dict keyed by its official
state_dict name, so a checkpoint moves in by name and autograd gives the
gradient of each stage loss under the same names.

Independence from the C code, where it matters:
  * recurrences are PyTorch's own GRU/LSTM kernels (torch._VF.gru / lstm,
    the functions nn.GRU / nn.LSTM call); packed-sequence semantics come from
    running the backward direction on each sequence reversed within its
    length ('dense', fast) or from pack_padded_sequence ('packed');
  * LayerNorm, Linear, Conv1d, activations, clamp, hardtanh, BCE and
    logsumexp are torch.nn.functional, with PyTorch's gradient conventions;
  * the leave-one-out log-sum-exp of the interpolated bound is a masked
    B×B×B logsumexp, not the row-max/expm1 formula;
  * k-NN: squared distances and a stable sort (ties by bank row); batch
    members neighbors_<name> [⌊B/k⌋, k] replace the search when given;
  * BERT (text from bert_ids / bert_type_ids / bert_att_mask): torch
    operations from spec §1.2 in bert_torch.bert (shared with the layer
    fixtures), not a library model class: embeddings → LayerNorm, post-LN
    layers with the (1 − mask)·finfo.min term, exact GELU; no dropout in the
    oracle (training mode: masks from F.dropout).

Usage (the oracle contract of the README, same files as `mimrl oracle`):
  python3 verify/torch/mimrl_torch.py --checkpoint CKPT.npz --batch BATCH.npz --out OUT.npz
      [--dtype float64|float32] [--rnn dense|packed] [--dump all] [--break NAME]

--dump all also writes every named intermediate of `mimrl oracle --dump all`
(README "Conformance"), so the twin is an example port for `mimrl conform`.
--break NAME (tests of `mimrl conform` only) computes the step wrong on
purpose: gelu_tanh (tanh-approximate GELU in BERT's FFN), whh_transposed
(each gate block of every weight_hh transposed), len_off_by_one (packing
lengths one short, floor 1), textbook_cmi (the nwj read-out where the
checkpoint asks for the official one), no_readout_eps (the official read-out
without its +1e-6).
"""
import argparse
import json
import math
import sys

import os

import numpy as np
import torch
import torch.utils.checkpoint
import torch.nn.functional as F
from torch import _VF
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_torch  # noqa: E402

VMI = ['f_t', 'f_a', 'f_v', 't_a', 't_v']
CMI = ['ac_t', 'ta_c', 'vc_t', 'tv_c', 'tc_a', 'tc_v']
# §4.1: (x, y) of the VMI critics and (x, y, z) of the CMI estimators
VMI_SRC = [('F', 'T'), ('F', 'A'), ('F', 'V'), ('T', 'A'), ('T', 'V')]
CMI_SRC = [('A', 'C', 'T'), ('T', 'A', 'C'), ('V', 'C', 'T'), ('T', 'V', 'C'), ('T', 'C', 'A'), ('T', 'C', 'V')]

# ---------------------------------------------------------------- dump / breaks
# DUMP: None, or a dict that receives the named intermediates (README
# "Conformance"); BREAKS: the deliberate errors of --break (tests only).
DUMP = None
BREAKS = set()
BREAK_NAMES = ('gelu_tanh', 'whh_transposed', 'len_off_by_one', 'textbook_cmi', 'no_readout_eps')


def keep(name, t):
    if DUMP is not None:
        DUMP[name] = t


# ---------------------------------------------------------------- configuration
# Parameters.py defaults (spec §8.1), d_t = 768, d_a = 5, d_v = 20.
DEFAULTS = {
    'd_t': 768, 'd_a': 5, 'd_v': 20, 'd_common': 128, 'time_len': 100, 'encoders': 'gru',
    'activate': 'gelu', 'd_hiddens': '10-2-128=5-2-128', 'd_outs': '10-2-128=5-2-128', 'res_project': '1-1',
    'bias': False, 'ln_first': False, 'features_compose_t': 'mean', 'features_compose_k': 'mean',
    'critic_type': 'separate', 'baseline_type': 'constant', 'bound_type': 'infonce',
    'loss_mi_coefficient1': '-'.join(['0.1'] * 11), 'loss_mi_coefficient2': '-'.join(['0.1'] * 8),
    'k_neighbor': 2, 'cmi_last_acticate': 'sigmoid', 'cmi_readout': 'mimrl', 'masked_pool': False,
    'interp_per_row': False, 'smile_clip': 1.0, 'loss': 'MAE',
    'dropout': '0.5-0.5-0.5-0.5', 'dropout_mlp': '0.5-0.5-0.5',
}


def as_bool(v):
    return v in (True, 1, 'true', 'True', '1')


class Config:
    def __init__(self, js, bert_json=None):
        """js: config_json; bert_json: the checkpoint's bert_config_json (a
        Hugging Face config.json object), None without BERT"""
        c = dict(DEFAULTS)
        c.update(js)
        self.d_t, self.d_a, self.d_v = int(c['d_t']), int(c['d_a']), int(c['d_v'])
        self.D, self.T = int(c['d_common']), int(c['time_len'])
        self.encoder = c['encoders']
        self.act = c['activate']
        self.hid = [[int(x) for x in b.split('-')] for b in str(c['d_hiddens']).split('=')]
        self.out = [[int(x) for x in b.split('-')] for b in str(c['d_outs']).split('=')]
        self.res = [int(x) for x in str(c['res_project']).split('-')]
        self.bias, self.ln_first = as_bool(c['bias']), as_bool(c['ln_first'])
        self.compose_t, self.compose_k = c['features_compose_t'], c['features_compose_k']
        self.critic, self.baseline, self.bound = c['critic_type'], c['baseline_type'], c['bound_type']
        if self.baseline == 'gaussain':
            self.baseline = 'gaussian'
        self.c1 = [float(x) for x in str(c['loss_mi_coefficient1']).split('-')]
        self.c2 = [float(x) for x in str(c['loss_mi_coefficient2']).split('-')]
        self.k = int(c['k_neighbor'])
        self.head = c['cmi_last_acticate']
        self.readout = c['cmi_readout']
        self.masked_pool = as_bool(c['masked_pool'])
        self.interp_per_row = as_bool(c['interp_per_row'])
        self.smile_clip = float(c['smile_clip'])
        self.loss = c['loss']
        self.dropout = [float(x) for x in str(c['dropout']).split('-')]
        self.dropout_mlp = [float(x) for x in str(c['dropout_mlp']).split('-')]
        self.train = False   # dropout on (training-mode forward); the oracle runs with it off
        assert len(self.c1) == 11 and len(self.c2) == 8
        self.bert = None if bert_json is None else bert_config(bert_json)   # None: text features given
        if self.bert:
            self.d_t = self.bert['hidden']


# HF BertConfig defaults (bert-base-uncased), for keys config.json omits
BERT_BASE = {'vocab_size': 30522, 'hidden_size': 768, 'num_hidden_layers': 12, 'num_attention_heads': 12,
             'intermediate_size': 3072, 'max_position_embeddings': 512, 'type_vocab_size': 2,
             'layer_norm_eps': 1e-12, 'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1}


def bert_config(hf):
    """bert_torch's size dict from a Hugging Face config.json object; the
    mask term is finfo.min (transformers ≥ 4.2x), as mimrl.c's default"""
    if hf.get('hidden_act', 'gelu') != 'gelu' or hf.get('position_embedding_type', 'absolute') != 'absolute':
        raise SystemExit('bert_config_json: only hidden_act gelu and absolute positions (spec §1.2)')
    v = {k: hf.get(k, d) for k, d in BERT_BASE.items()}
    return {'vocab': int(v['vocab_size']), 'hidden': int(v['hidden_size']), 'layers': int(v['num_hidden_layers']),
            'heads': int(v['num_attention_heads']), 'inter': int(v['intermediate_size']),
            'pos': int(v['max_position_embeddings']), 'types': int(v['type_vocab_size']),
            'eps': float(v['layer_norm_eps']), 'p_hidden': float(v['hidden_dropout_prob']),
            'p_att': float(v['attention_probs_dropout_prob']),
            'mask_kind': 0, 'pad': int(hf.get('pad_token_id', 0))}


def param_shapes(cfg):
    """{official state_dict name: shape} for a configuration, as listed in
    spec/state-dict/*.tsv; bertmodel.* (pooler included) when BERT runs"""
    D, s = cfg.D, {}
    if cfg.bert:
        s.update(bert_torch.param_shapes(cfg.bert))
    if cfg.encoder == 'conv':
        for w, d in (('a', cfg.d_a), ('v', cfg.d_v)):
            s[f'conv_{w}.weight'], s[f'conv_{w}.bias'] = (D, d, 3), (D,)
    else:
        G, layers = (3, 2) if cfg.encoder == 'gru' else (4, 1)
        for w, d in (('v', cfg.d_v), ('a', cfg.d_a)):
            for l in range(layers):
                for suf in ('', '_reverse'):
                    s[f'rnn_{w}.weight_ih_l{l}{suf}'] = (G * D, d if l == 0 else 2 * D)
                    s[f'rnn_{w}.weight_hh_l{l}{suf}'] = (G * D, D)
                    s[f'rnn_{w}.bias_ih_l{l}{suf}'] = (G * D,)
                    s[f'rnn_{w}.bias_hh_l{l}{suf}'] = (G * D,)
    for w in 'av':
        s[f'ln_{w}.weight'], s[f'ln_{w}.bias'] = (D,), (D,)
    s['W_t.weight'] = (D, cfg.d_t)
    ins = [cfg.T, 3, D]
    for i, (hid, out) in enumerate(zip(cfg.hid, cfg.out)):
        pre = f'mlp_encoder.layers_stack.{i}.'
        for a, ax in enumerate('lkd'):
            s[pre + f'mlp_{ax}.fc1.weight'] = (hid[a], ins[a])
            if cfg.bias:
                s[pre + f'mlp_{ax}.fc1.bias'] = (hid[a],)
            s[pre + f'mlp_{ax}.fc2.weight'] = (out[a], hid[a])
            if cfg.bias:
                s[pre + f'mlp_{ax}.fc2.bias'] = (out[a],)
        for a, ax in enumerate('lkd'):
            n = ins[a] if cfg.ln_first else out[a]
            s[pre + f'ln_{ax}.weight'], s[pre + f'ln_{ax}.bias'] = (n,), (n,)
        if cfg.res[i]:
            for a, ax in enumerate('lkd'):
                s[pre + f'res_projection_{ax}.weight'] = (out[a], ins[a])
        ins = out
    L, K, C = cfg.out[-1]
    dim = C * (K if cfg.compose_k == 'cat' else 1) * (L if cfg.compose_t == 'cat' else 1)
    if dim <= 128:
        s['classifier.0.weight'], s['classifier.0.bias'] = (1, dim), (1,)
    else:
        s['classifier.0.weight'], s['classifier.0.bias'] = (128, dim), (128,)
        s['classifier.3.weight'], s['classifier.3.bias'] = (1, 128), (1,)

    def mlp(pre, dims):
        for j in range(len(dims) - 1):
            s[f'{pre}.{2 * j}.weight'], s[f'{pre}.{2 * j}.bias'] = (dims[j + 1], dims[j]), (dims[j + 1],)
    for n in VMI:
        pre = f'vmi_estimator_{n}.'
        if cfg.critic == 'separate':
            mlp(pre + 'critic_model.MLP_g', [D, 256, 256, 256, 128])
            mlp(pre + 'critic_model.MLP_h', [D, 256, 256, 256, 128])
        else:
            mlp(pre + 'critic_model.MLP_f', [2 * D, 256, 256, 256, 1])
        if cfg.baseline == 'unnormalized':
            mlp(pre + 'baseline_model.MLP', [D, 256, 256, 256, 1])
    for n in CMI:
        mlp(f'vcmi_estimator_{n}.classifier.mlp', [3 * D, 256, 256, 256, 2])
    return s


# ---------------------------------------------------------------- encoders (§1.3)
def seq_lengths(x):
    """number of frames with Σ_f |x| ≠ 0; 0 → 1 (O-4, O-10)"""
    n = (x.abs().sum(-1) != 0).sum(1)
    if 'len_off_by_one' in BREAKS:
        n = n - 1
    return torch.clamp(n, min=1)


def reverse_within(x, lens):
    """x[b, t] → x[b, len_b − 1 − t] for t < len_b, unchanged beyond (an involution)"""
    B, L = x.shape[0], x.shape[1]
    t = torch.arange(L).unsqueeze(0).expand(B, L)
    n = lens.unsqueeze(1)
    idx = torch.where(t < n, n - 1 - t, t)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand_as(x))


def rnn_dir(kind, x, w, H):
    """one direction of one layer over a dense batch-first tensor, h0 = 0"""
    B = x.shape[0]
    h0 = x.new_zeros(1, B, H)
    if kind == 'gru':
        return _VF.gru(x, h0, w, True, 1, 0.0, True, False, True)[0]
    return _VF.lstm(x, (h0, h0), w, True, 1, 0.0, True, False, True)[0]


def rnn_encoder(kind, p, prefix, x, lens, H, layers, impl, which='a'):
    """bidirectional GRU/LSTM with packed-sequence semantics; directions summed"""
    B, L = x.shape[0], x.shape[1]
    names = lambda l, s: [f'{prefix}.{n}_l{l}{s}' for n in ('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh')]
    if 'whh_transposed' in BREAKS:
        G = 3 if kind == 'gru' else 4
        p = dict(p)
        for l in range(layers):
            for s in ('', '_reverse'):
                n = f'{prefix}.weight_hh_l{l}{s}'
                p[n] = p[n].view(G, H, H).transpose(1, 2).reshape(G * H, H)
    if impl == 'packed':
        flat = [p[n] for l in range(layers) for s in ('', '_reverse') for n in names(l, s)]
        pk = pack_padded_sequence(x, lens.cpu(), batch_first=True, enforce_sorted=False)
        h0 = x.new_zeros(2 * layers, B, H)
        if kind == 'gru':
            out, h_n = _VF.gru(pk.data, pk.batch_sizes, h0, flat, True, layers, 0.0, True, True)[:2]
        else:
            out, (h_n, _) = _VF.lstm(pk.data, pk.batch_sizes, (h0, h0), flat, True, layers, 0.0, True, True)[:2]
        keep(f'enc_{which}/h_n', h_n.index_select(1, pk.unsorted_indices))
        y, _ = pad_packed_sequence(torch.nn.utils.rnn.PackedSequence(out, pk.batch_sizes, pk.sorted_indices, pk.unsorted_indices),
                                   batch_first=True, total_length=L)
    else:
        valid = (torch.arange(L).unsqueeze(0) < lens.unsqueeze(1)).unsqueeze(-1).to(x.dtype)
        y = x
        h_n, rows = [], torch.arange(B)
        for l in range(layers):
            fw = rnn_dir(kind, y, [p[n] for n in names(l, '')], H) * valid
            bw = reverse_within(rnn_dir(kind, reverse_within(y, lens), [p[n] for n in names(l, '_reverse')], H), lens) * valid
            h_n += [fw[rows, lens - 1], bw[:, 0]]   # forward after frame len − 1, reverse after frame 0
            y = torch.cat([fw, bw], -1)
        keep(f'enc_{which}/h_n', torch.stack(h_n))
    return y[..., :H] + y[..., H:]


def encode(cfg, p, x, which, impl):
    lens = seq_lengths(x)
    keep(f'enc_{which}/lengths', lens)
    if cfg.encoder == 'conv':
        y = F.conv1d(x.transpose(1, 2), p[f'conv_{which}.weight'], p[f'conv_{which}.bias'], padding=1).transpose(1, 2)
    else:
        layers = 2 if cfg.encoder == 'gru' else 1
        y = rnn_encoder(cfg.encoder, p, f'rnn_{which}', x, lens, cfg.D, layers, impl, which)
    keep(f'enc_{which}/output', y)
    y = F.relu(F.layer_norm(y, (cfg.D,), p[f'ln_{which}.weight'], p[f'ln_{which}.bias'], 1e-6))
    keep(f'enc_{which}/tail', y)
    return y, lens


def pool(y, lens, masked):
    if not masked:
        return y.mean(1)
    L = y.shape[1]
    m = (torch.arange(L).unsqueeze(0) < lens.unsqueeze(1)).unsqueeze(-1).to(y.dtype)
    return (y * m).sum(1) / lens.unsqueeze(1).to(y.dtype)


def pad_or_crop(y, T):
    L = y.shape[1]
    if L >= T:
        return y[:, :T]
    return torch.cat([y, y.new_zeros(y.shape[0], T - L, y.shape[2])], 1)


# ---------------------------------------------------------------- CubeMLP (§1.6)
ACT = {
    'elu': F.elu, 'gelu': F.gelu, 'relu': F.relu, 'tanh': torch.tanh,
    'hardshrink': lambda x: F.hardshrink(x, 0.5), 'hardtanh': F.hardtanh,
    'leakyrelu': lambda x: F.leaky_relu(x, 0.01),
    'rrelu': lambda x: F.leaky_relu(x, (1.0 / 8 + 1.0 / 3) / 2),   # rrelu without the training flag
}


def along(X, axis, f):
    """apply f to the vectors along axis (1 = L, 2 = K, 3 = C) of [B, L, K, C]"""
    return f(X.movedim(axis, -1)).movedim(-1, axis)


def drop(cfg, x, rate):
    return F.dropout(x, rate, True) if cfg.train and rate > 0 else x


def cubemlp(cfg, p, X):
    act = ACT[cfg.act]
    ins = [cfg.T, 3, cfg.D]
    for i in range(len(cfg.out)):
        pre = f'mlp_encoder.layers_stack.{i}.'
        for a, ax in enumerate('lkd'):
            lin = lambda u, n: F.linear(u, p[pre + f'mlp_{ax}.{n}.weight'], p.get(pre + f'mlp_{ax}.{n}.bias'))
            mlp = lambda u: drop(cfg, lin(act(lin(u, 'fc1')), 'fc2'), cfg.dropout_mlp[a])
            ln = lambda u: F.layer_norm(u, (u.shape[-1],), p[pre + f'ln_{ax}.weight'], p[pre + f'ln_{ax}.bias'], 1e-6)
            res = (lambda u: F.linear(u, p[pre + f'res_projection_{ax}.weight'])) if cfg.res[i] else (lambda u: u)
            if cfg.ln_first:
                X = along(X, a + 1, lambda u: mlp(ln(u)) + res(u))
            else:
                X = along(X, a + 1, lambda u: ln(mlp(u) + res(u)))
        ins = cfg.out[i]
        keep(f'cube/block.{i}', X)
    return X


def compose(X, how_k, how_t):
    """K first, then T (O-29); cat puts k = 0 (resp. τ = 0) first"""
    B, L, K, C = X.shape
    X = {'mean': lambda: X.mean(2), 'sum': lambda: X.sum(2), 'cat': lambda: X.reshape(B, L, K * C)}[how_k]()
    return {'mean': lambda: X.mean(1), 'sum': lambda: X.sum(1), 'cat': lambda: X.reshape(B, -1)}[how_t]()


def head(cfg, p, f):
    if 'classifier.3.weight' in p:   # classify_dim > 128
        f = drop(cfg, F.relu(F.linear(f, p['classifier.0.weight'], p['classifier.0.bias'])), cfg.dropout[3])
        return F.linear(f, p['classifier.3.weight'], p['classifier.3.bias'])
    return F.linear(f, p['classifier.0.weight'], p['classifier.0.bias'])


def bert_masks(cfg, B, L, dtype):
    """training mode: inverted-dropout masks for bert_torch.bert"""
    b = cfg.bert
    H, nh = b['hidden'], b['heads']
    m = lambda shape, q: F.dropout(torch.ones(shape, dtype=dtype), q, True)
    d = {'emb': m((B, L, H), b['p_hidden'])}
    for l in range(b['layers']):
        d[f'att{l}'] = m((B, nh, L, L), b['p_att'])
        d[f'h1_{l}'], d[f'h2_{l}'] = m((B, L, H), b['p_hidden']), m((B, L, H), b['p_hidden'])
    return d


def text_input(cfg, p, batch):
    """the text features: batch member text, or BERT's last_hidden_state"""
    if 'bert_ids' not in batch:
        return batch['text']
    ids = batch['bert_ids']
    tt = batch.get('bert_type_ids', torch.zeros_like(ids))
    am = batch.get('bert_att_mask', torch.ones_like(ids))
    dt = p['W_t.weight'].dtype
    chunk = getattr(cfg, 'bert_chunk', 0)
    if not chunk:
        masks = bert_masks(cfg, ids.shape[0], ids.shape[1], dt) if cfg.train else None
        hidden = [] if DUMP is not None else None
        gelu = (lambda u: F.gelu(u, approximate='tanh')) if 'gelu_tanh' in BREAKS else F.gelu
        x = bert_torch.bert(p, cfg.bert, ids, tt, am, masks, hidden, gelu)
        for l, h in enumerate(hidden or []):
            keep('bert/embeddings' if l == 0 else f'bert/layer.{l - 1}', h)
        return x
    # cfg.bert_chunk = c (the benchmark, bench/step_torch.py): chunks of c
    # samples, each under torch.utils.checkpoint (activations recomputed in
    # the backward) — mimrl.c's strategy, without which BERT-base at
    # B = 128 x 100 tokens does not fit 24 GB in float64
    outs = []
    for s in range(0, ids.shape[0], chunk):
        sl = slice(s, s + chunk)
        masks = bert_masks(cfg, ids[sl].shape[0], ids.shape[1], dt) if cfg.train else None
        run = lambda i, t, a, m=masks: bert_torch.bert(p, cfg.bert, i, t, a, m)
        outs.append(torch.utils.checkpoint.checkpoint(run, ids[sl], tt[sl], am[sl], use_reentrant=False))
    return torch.cat(outs)


def model_forward(cfg, p, text, audio, vision, impl='dense'):
    t = F.linear(text, p['W_t.weight'])
    keep('text/W_t', t)
    t = drop(cfg, t, cfg.dropout[0])
    a, alen = encode(cfg, p, audio, 'a', impl)
    v, vlen = encode(cfg, p, vision, 'v', impl)
    a, v = drop(cfg, a, cfg.dropout[1]), drop(cfg, v, cfg.dropout[2])
    feats = {'T': t.mean(1), 'A': pool(a, alen, cfg.masked_pool), 'V': pool(v, vlen, cfg.masked_pool)}
    X0 = torch.stack([pad_or_crop(t, cfg.T), pad_or_crop(a, cfg.T), pad_or_crop(v, cfg.T)], 2)
    keep('cube/input', X0)
    fused = compose(cubemlp(cfg, p, X0), cfg.compose_k, cfg.compose_t)
    feats['F'] = fused
    return head(cfg, p, fused), feats


# ---------------------------------------------------------------- MI bounds (§2)
def mlps(p, prefix, x):
    """Linear, ReLU, ... , Linear under prefix.{0,2,4,...}"""
    i = 0
    while f'{prefix}.{i + 2}.weight' in p:
        x = F.relu(F.linear(x, p[f'{prefix}.{i}.weight'], p[f'{prefix}.{i}.bias']))
        i += 2
    return F.linear(x, p[f'{prefix}.{i}.weight'], p[f'{prefix}.{i}.bias'])


def critic(cfg, p, pre, x, y):
    if cfg.critic == 'separate':   # S[i, j] = <h(y_i), g(x_j)>: rows index y
        return mlps(p, pre + 'critic_model.MLP_h', y) @ mlps(p, pre + 'critic_model.MLP_g', x).T
    B = x.shape[0]                 # concat: S[i, j] = f([x_i; y_j]): rows index x (O-19)
    xy = torch.cat([x.unsqueeze(1).expand(B, B, x.shape[1]), y.unsqueeze(0).expand(B, B, y.shape[1])], -1)
    return mlps(p, pre + 'critic_model.MLP_f', xy).squeeze(-1)


def log_baseline(cfg, p, pre, y):
    if cfg.baseline == 'unnormalized':
        return mlps(p, pre + 'baseline_model.MLP', y).squeeze(-1)
    if cfg.baseline == 'gaussian':
        return (-0.5 * y * y - 0.5 * math.log(2 * math.pi)).sum(1)
    return y.new_zeros(y.shape[0])


def offdiag(S):
    B = S.shape[0]
    return S[~torch.eye(B, dtype=torch.bool)]


def lme_nodiag(S):
    B = S.shape[0]
    return torch.logsumexp(offdiag(S), 0) - math.log(B * (B - 1))


def tuba(S, la):
    Sp = S - la.unsqueeze(1)
    return 1 + Sp.diagonal().mean() - torch.exp(lme_nodiag(Sp))


def nwj(S):
    return tuba(S - 1, S.new_zeros(S.shape[0]))


def js_fgan(S):
    B = S.shape[0]
    d = S.diagonal()
    return (-F.softplus(-d)).mean() - (F.softplus(S).sum() - F.softplus(d).sum()) / (B * (B - 1))


def interpolate(cfg, S, la):
    B = S.shape[0]
    alpha = torch.sigmoid(S.new_tensor(0.01))
    eye = torch.eye(B, dtype=torch.bool)
    # nce[i, j] = log Σ_{k≠j} exp S[i, k] − log(B − 1): a masked B×B×B log-sum-exp
    masked = S.unsqueeze(1).expand(B, B, B).masked_fill(eye.unsqueeze(0), float('-inf'))
    nce = torch.logsumexp(masked, 2) - math.log(B - 1)
    ib = torch.logaddexp(torch.log(alpha) + nce, torch.log(1 - alpha) + la.unsqueeze(1))
    ibd = ib.diagonal()
    if cfg.interp_per_row:
        marg = torch.exp(lme_nodiag(S - ibd.unsqueeze(1)))
        joint = offdiag(S.diagonal().unsqueeze(1) - ib).mean()
    else:                          # official (O-18): diagonal of ib per column
        marg = torch.exp(lme_nodiag(S - ibd.unsqueeze(0)))
        joint = offdiag(S.diagonal().unsqueeze(0) - ib).mean()
    return 1 + joint - marg


def bound(cfg, S, la):
    """(I, mi_loss) of §2.4–2.5"""
    B = S.shape[0]
    b = cfg.bound
    if b in ('dv', 'mine'):
        I = S.diagonal().mean() - lme_nodiag(S)
        if b == 'dv':
            return I, -I
        E = torch.exp(S).masked_fill(torch.eye(B, dtype=torch.bool), 0.0)
        m = (0.99 + 0.01 * E.mean()).detach()
        return I, S.diagonal().mean() - E.mean() / m        # not negated (O-16)
    if b == 'tuba':
        I = tuba(S, la)
    elif b == 'nwj':
        I = nwj(S)
    elif b == 'infonce':
        I = math.log(B) + (S.diagonal() - torch.logsumexp(S, 1)).mean()
    elif b == 'js_fgan':
        I = js_fgan(S)
    elif b == 'js':
        j = js_fgan(S)
        I = j + (nwj(S) - j).detach()
    elif b == 'smile':
        j = js_fgan(S)
        Sc = torch.clamp(S, -cfg.smile_clip, cfg.smile_clip)
        I = j + (S.diagonal().mean() - lme_nodiag(Sc) - j).detach()
    elif b == 'interpolate':
        I = interpolate(cfg, S, la)
    else:
        raise ValueError(f'bound_type {b}')
    return I, -I


# ---------------------------------------------------------------- CMI (§3)
def knn(Zbank, anchors, k):
    """k nearest rows of the bank without the anchors, in Z-space, per anchor;
    squared Euclidean distance, ties by bank row (README deviation O-14)"""
    N = Zbank.shape[0]
    keep = torch.ones(N, dtype=torch.bool)
    keep[anchors] = False
    pool_idx = torch.arange(N)[keep]
    Zp = Zbank[pool_idx]
    out = []
    for s in anchors.tolist():
        d2 = ((Zp - Zbank[s]) ** 2).sum(1)
        order = torch.sort(d2, stable=True).indices[:k]
        out.append(pool_idx[order])
    return torch.stack(out)


def tile(x, d):
    return x.repeat(1, d // x.shape[1]) if x.shape[1] < d else x


def cmi_estimate(cfg, p, pre, J, P, name='?'):
    Mp = J.shape[0]
    z = mlps(p, pre + 'classifier.mlp', torch.cat([J, P], 0))
    keep(f'cmi/{name}/joint_logits', z[:Mp])
    keep(f'cmi/{name}/product_logits', z[Mp:])
    z = torch.clamp(z, -10, 10)
    o = torch.sigmoid(z) if cfg.head == 'sigmoid' else F.hardtanh(z, 1e-4, 1 - 1e-4)
    t = torch.cat([o.new_tensor([[1.0, 0.0]]).expand(Mp, 2), o.new_tensor([[0.0, 1.0]]).expand(Mp, 2)], 0)
    bce = F.binary_cross_entropy(o, t)
    g = o[:, 0]
    gJ, gP = g[:Mp], g[Mp:]
    readout = 'nwj' if cfg.readout == 'mimrl' and 'textbook_cmi' in BREAKS else cfg.readout
    if readout == 'mimrl':         # O-12: 1 + s_J/n − s_P/n, n = 2M'
        n = 2 * Mp
        eps = 0.0 if 'no_readout_eps' in BREAKS else 1e-6
        cmi = 1 + torch.log(gJ / (1 - gJ + eps)).sum() / n - torch.log(gP / (1 - gP + eps)).sum() / n
    elif readout == 'nwj':
        cmi = 1 + torch.log(gJ / (1 - gJ)).mean() - (gP / (1 - gP)).mean()
    else:
        cmi = torch.log(gJ / (1 - gJ)).mean() - torch.log((gP / (1 - gP)).mean())
    return cmi, bce


# ---------------------------------------------------------------- task losses (§5.7)
def task_loss(name, pred, y):
    pred, y = pred.reshape(-1), y.reshape(-1)
    B = pred.shape[0]
    if name == 'MSE':
        return ((pred - y) ** 2).mean()
    if name == 'RMSE':
        return torch.sqrt(((pred - y) ** 2).mean())
    if name == 'SIMSE':
        return (y - pred).sum() ** 2 / (B * B)
    if name == 'CCC':
        mp, my = pred.mean(), y.mean()
        cov = ((pred - mp) * (y - my)).mean()
        return 1 - 2 * cov / (((y - my) ** 2).mean() + ((pred - mp) ** 2).mean() + (my - mp) ** 2 + 1e-10)
    return (pred - y).abs().mean()


# ---------------------------------------------------------------- the step
def step(cfg, p, batch, impl='dense', want=('stage1', 'stage2')):
    """forward, the 11 estimates, both objectives; returns a dict of tensors
    (graph attached) and the neighbour lists"""
    out, feats = model_forward(cfg, p, text_input(cfg, p, batch), batch['audio'], batch['vision'], impl)
    y = batch['label'].reshape(-1)
    B, D = y.shape[0], cfg.D
    r = {'output': out, 'F_F': feats['F'], 'T_F': feats['T'], 'A_F': feats['A'], 'V_F': feats['V']}
    r['loss_task'] = task_loss(cfg.loss, out, y)
    if 'bank_label' not in batch:   # epoch 0: no MI terms (O-22)
        r['loss_stage2'] = r['loss_task']
        r['loss_stage1'] = out.new_zeros(())
        r['mi'], r['mi_derived'], r['stage1_terms'] = out.new_zeros(11), out.new_zeros(8), out.new_zeros(11)
        return r, {}
    feats['C'] = y.unsqueeze(1)
    bank = {'C': batch['bank_label'], 'T': batch['bank_text'], 'A': batch['bank_audio'], 'V': batch['bank_vision']}
    mi, losses = [], []
    for name, (xs, ys) in zip(VMI, VMI_SRC):
        pre = f'vmi_estimator_{name}.'
        x, yy = feats[xs], feats[ys]
        S = critic(cfg, p, pre, x, yy)
        keep(f'vmi/{name}/scores', S)
        la = log_baseline(cfg, p, pre, yy) if cfg.bound in ('tuba', 'interpolate') else S.new_zeros(B)
        if cfg.bound in ('tuba', 'interpolate'):
            keep(f'vmi/{name}/log_baseline', la)
        I, l = bound(cfg, S, la)
        keep(f'vmi/{name}/estimate', I)
        keep(f'vmi/{name}/loss', l)
        mi.append(I)
        losses.append(l)
    k = cfg.k
    m = B // k
    Mp = m * k
    neigh = {}
    for name, (xs, ys, zs) in zip(CMI, CMI_SRC):
        anchors = batch[f'anchors_{name}']
        nb = batch[f'neighbors_{name}'] if f'neighbors_{name}' in batch else knn(bank[zs], anchors, k)
        neigh[name] = nb
        s = anchors.repeat_interleave(k)
        P = torch.cat([tile(bank[xs][nb.reshape(-1)], D), tile(bank[ys][s], D), tile(bank[zs][s], D)], 1)
        J = torch.cat([tile(feats[xs], D), tile(feats[ys], D), tile(feats[zs], D)], 1)[:Mp]
        cmi, bce = cmi_estimate(cfg, p, f'vcmi_estimator_{name}.', J, P, name)
        keep(f'cmi/{name}/estimate', cmi)
        keep(f'cmi/{name}/bce', bce)
        mi.append(cmi)
        losses.append(bce)
    I = mi
    derived = [I[0], I[1], I[2], I[3] + I[4], I[9] + I[10] - I[6] - I[8], I[5] - I[6], I[7] - I[8], I[6] + I[8]]
    r['mi'] = torch.stack(mi)
    r['mi_derived'] = torch.stack(derived)
    r['stage1_terms'] = torch.stack(losses)
    r['loss_stage1'] = sum(c * l for c, l in zip(cfg.c1, losses))
    c2 = cfg.c2
    r['loss_stage2'] = (r['loss_task'] + c2[0] * losses[0] + c2[1] * losses[1] + c2[2] * losses[2]
                        - sum(c2[3 + q] * derived[3 + q] for q in range(5)))
    return r, neigh


# ---------------------------------------------------------------- files
def read_npz(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def load_checkpoint(path, dtype=torch.float64):
    z = read_npz(path)
    bj = z.pop('bert_config_json', None)   # present: BERT runs on bert_ids (its config.json)
    cfg = Config(json.loads(bytes(z.pop('config_json')).decode()), None if bj is None else json.loads(bytes(bj).decode()))
    shapes = param_shapes(cfg)
    bad = [f'{k}: missing' for k in shapes if k not in z] + \
          [f'{k}: shape {z[k].shape}, expected {shapes[k]}' for k in shapes if k in z and z[k].shape != tuple(shapes[k])]
    if bad:
        raise SystemExit(f'{path}: ' + '; '.join(bad))
    # other members (mimrl_format_version, trainer/*) are not parameters
    p = {k: torch.tensor(z[k], dtype=dtype, requires_grad=True) for k in shapes}
    return cfg, p


def load_batch(path, dtype=torch.float64):
    z = read_npz(path)
    b = {}
    for k, v in z.items():
        integer = k.startswith(('anchors_', 'neighbors_', 'bert_'))
        b[k] = torch.tensor(v, dtype=torch.int64) if integer else torch.tensor(v, dtype=dtype)
    return b


def oracle(cfg, p, batch, impl='dense'):
    """every output, estimate, loss and both stages' gradients, as numpy arrays
    under the names of the oracle contract"""
    r, neigh = step(cfg, p, batch, impl)
    names = list(p.keys())
    res = {}
    for stage in (1, 2):
        L = r[f'loss_stage{stage}']
        if L.requires_grad:
            gs = torch.autograd.grad(L, [p[n] for n in names], retain_graph=True, allow_unused=True)
        else:
            gs = [None] * len(names)
        for n, g in zip(names, gs):
            res[f'grad_stage{stage}/{n}'] = (torch.zeros_like(p[n]) if g is None else g).detach().double().numpy()
    for k, v in r.items():
        a = v.detach().double().numpy()
        res[k] = a.reshape(-1, 1) if k == 'output' else a
    for k, v in neigh.items():
        res[f'neighbors_{k}'] = v.numpy().astype(np.int64)
    for k, v in (DUMP or {}).items():
        a = v.detach()
        res[k] = a.numpy().astype(np.int64) if not a.is_floating_point() else a.double().numpy()
    return res


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--batch', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--dtype', default='float64', choices=['float64', 'float32'])
    ap.add_argument('--rnn', default='dense', choices=['dense', 'packed'])
    ap.add_argument('--dump', choices=['all'], help='also every named intermediate (README "Conformance")')
    ap.add_argument('--break', dest='breaks', action='append', default=[], choices=BREAK_NAMES,
                    help='compute the step wrong on purpose (tests of mimrl conform only)')
    a = ap.parse_args(argv)
    global DUMP
    DUMP = {} if a.dump else None
    BREAKS.update(a.breaks)
    dt = getattr(torch, a.dtype)
    cfg, p = load_checkpoint(a.checkpoint, dt)
    batch = load_batch(a.batch, dt)
    np.savez(a.out, **oracle(cfg, p, batch, a.rnn))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
