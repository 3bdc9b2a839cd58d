#!/usr/bin/env python3
"""`make crosscheck`: mimrl.c's `mimrl oracle` against the independent PyTorch
float64 implementation (verify/torch/mimrl_torch.py) on a list of
configurations, every output and gradient compared tensor by tensor.

For each configuration: parameters from a name-keyed generator (below; the
same generator is in verify/helpers.c, so committed fixtures need no
checkpoint), written as a checkpoint with its config_json; a batch with
ragged lengths, quantized labels (ties in the label k-NN) and given anchors;
`mimrl oracle` and mimrl_torch.oracle on the same two files; then per tensor

    rel = max|c − torch| / max(max|torch|, FLOOR · group scale)

where the groups are the forward outputs, the stage-1 gradients and the
stage-2 gradients, a group's scale is the largest magnitude in it, and
FLOOR = 1e-4: a tensor smaller than 1e-4 of its group's largest (such as a
gradient that is zero in exact arithmetic — the output bias of a separate
critic under InfoNCE — and so pure rounding noise of O(ε) of the terms that
cancel) is held to 1e-14 of the group's scale in absolute terms. Neighbour
lists must be equal. Target: rel ≤ 1e-10 — or, for an ill-conditioned tensor,
no more than PyTorch's own disagreement with itself: the step is evaluated
twice in PyTorch (recurrences 'dense' and 'packed', the same mathematics in
different summation orders) and a tensor passes when rel ≤ max(1e-10,
rel(dense, packed)). The report lists both. (Example: the gradient of a
CubeMLP LayerNorm over the K axis — 3 entries, small spread, so rounding is
amplified by 1/σ — differed by 1.9e-10 between the two PyTorch runs and by
1.25e-10 between mimrl.c and PyTorch.)

  --fixtures DIR   write DIR/<config>.npz for the Criterion test
                   verify/test_crosscheck.c (no Python at test time): the
                   config, the generator seed and gain, the batch, the torch
                   outputs, and per gradient tensor either all entries
                   (≤ 64) or 64 evenly spaced entries, its largest
                   magnitude and its projection on generator weights
                   (write_fixture has the layout); without --only, runs
                   just the fixture configurations. A BERT configuration also
                   bert_config_json, and its batch has bert_ids,
                   bert_type_ids, bert_att_mask instead of text.
  --report FILE    per-tensor table (config, tensor, rel, scale)

Parameter generator: for a tensor named n, entry i (row-major):
  h = FNV-1a-64(n) XOR (seed · 0x9E3779B97F4A7C15)
  u = splitmix64(h + (i + 1) · 0x9E3779B97F4A7C15) >> 11, times 2⁻⁵³  ∈ [0, 1)
  v = 2u − 1
  1-d tensors named *weight (LayerNorm γ): 1 + v/4; other 1-d: v/4;
  others: gain · v / √(shape[1]·shape[2]…)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mimrl_torch as mt  # noqa: E402

FLOOR = 1e-4
TARGET = 1e-10
M64 = (1 << 64) - 1
GOLD = 0x9E3779B97F4A7C15


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def gen_uniform(name, n, seed):
    """v ∈ [−1, 1) for entries 0..n−1 of the tensor called name"""
    h = np.uint64(fnv1a64(name) ^ ((seed * GOLD) & M64))
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over='ignore'):
        z = h + i * np.uint64(GOLD)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return 2.0 * u - 1.0


def gen_params(shapes, seed, gain):
    p = {}
    for name, shape in shapes.items():
        n = int(np.prod(shape))
        v = gen_uniform(name, n, seed)
        if len(shape) == 1:
            v = 1.0 + v / 4 if name.endswith('weight') else v / 4
        else:
            v = gain * v / np.sqrt(float(np.prod(shape[1:])))
        p[name] = v.reshape(shape)
    return p


# ---------------------------------------------------------------- configurations
SMALL = {
    'd_t': 6, 'd_a': 3, 'd_v': 4, 'd_common': 8, 'time_len': 5, 'encoders': 'gru', 'activate': 'gelu',
    'd_hiddens': '4-2-8=3-4-8', 'd_outs': '4-3-8=2-3-8', 'res_project': '1-1', 'bias': True,
    'dropout': '0.1-0.2-0.3-0.4', 'dropout_mlp': '0.1-0.1-0.1', 'bound_type': 'infonce',
    # distinct coefficients, so a term in the wrong slot shows
    'loss_mi_coefficient1': '1-0.9-0.8-0.7-0.6-0.5-0.4-0.3-0.2-0.15-0.1',
    'loss_mi_coefficient2': '0.11-0.13-0.17-0.19-0.23-0.29-0.31-0.37',
    'k_neighbor': 2, 'cmi_last_acticate': 'sigmoid', 'loss': 'MAE',
}
# BERT configurations carry a Hugging Face config.json (checkpoint member
# bert_config_json); d_t is its hidden size. A 2-layer BERT (hidden 16, 2 heads, vocab 50):
BERT_SMALL = {'vocab_size': 50, 'hidden_size': 16, 'num_hidden_layers': 2, 'num_attention_heads': 2,
              'intermediate_size': 24, 'max_position_embeddings': 16, 'type_vocab_size': 2,
              'layer_norm_eps': 1e-12, 'hidden_act': 'gelu', 'model_type': 'bert'}
BERT_BASE = {'vocab_size': 30522, 'hidden_size': 768, 'num_hidden_layers': 12, 'num_attention_heads': 12,
             'intermediate_size': 3072, 'max_position_embeddings': 512, 'type_vocab_size': 2,
             'layer_norm_eps': 1e-12, 'hidden_act': 'gelu', 'model_type': 'bert'}
# (name, config overrides, batch: B, Lt, La, Lv, N, seed, interior-zero frame, banks,
#  bert: a config.json, token ids instead of text features; inject: neighbors_<name> given)
CONFIGS = [
    ('gru-infonce-separate', {}, dict(B=7, Lt=4, La=6, Lv=9, N=23, seed=1, interior=True)),
    ('lstm-nwj-concat-hardtanh-preln', {'encoders': 'lstm', 'bound_type': 'nwj', 'critic_type': 'concat',
                                        'cmi_last_acticate': 'hardtanh', 'ln_first': True, 'activate': 'relu',
                                        'loss': 'MSE', 'k_neighbor': 3}, dict(B=6, Lt=7, La=4, Lv=5, N=19, seed=2)),
    ('conv-tuba-unnormalized', {'encoders': 'conv', 'bound_type': 'tuba', 'baseline_type': 'unnormalized',
                                'activate': 'tanh', 'loss': 'CCC', 'features_compose_t': 'sum',
                                'features_compose_k': 'sum'}, dict(B=8, Lt=3, La=5, Lv=6, N=21, seed=3)),
    ('gru-dv-elu', {'bound_type': 'dv', 'activate': 'elu', 'loss': 'RMSE'}, dict(B=6, Lt=5, La=7, Lv=4, N=20, seed=4)),
    ('gru-mine-leakyrelu', {'bound_type': 'mine', 'activate': 'leakyrelu', 'loss': 'SIMSE'},
     dict(B=5, Lt=4, La=3, Lv=8, N=18, seed=5)),
    ('gru-js-concat-rrelu', {'bound_type': 'js', 'critic_type': 'concat', 'activate': 'rrelu', 'k_neighbor': 3},
     dict(B=8, Lt=4, La=5, Lv=6, N=22, seed=6)),
    ('gru-smile-hardshrink', {'bound_type': 'smile', 'activate': 'hardshrink'}, dict(B=7, Lt=6, La=6, Lv=5, N=20, seed=7)),
    ('gru-smile-clip5', {'bound_type': 'smile', 'smile_clip': 5}, dict(B=6, Lt=4, La=5, Lv=5, N=17, seed=13)),
    ('gru-interpolate-gaussian', {'bound_type': 'interpolate', 'baseline_type': 'gaussain', 'activate': 'hardtanh'},
     dict(B=6, Lt=4, La=5, Lv=7, N=20, seed=8)),
    ('gru-interpolate-perrow-unnormalized', {'bound_type': 'interpolate', 'baseline_type': 'unnormalized',
                                             'interp_per_row': True}, dict(B=7, Lt=5, La=4, Lv=6, N=24, seed=9)),
    ('gru-jsfgan-nwjreadout-maskedpool', {'bound_type': 'js_fgan', 'cmi_readout': 'nwj', 'masked_pool': True,
                                          'k_neighbor': 4}, dict(B=9, Lt=4, La=6, Lv=7, N=25, seed=10)),
    ('lstm-infonce-dvreadout-nobias-nores', {'encoders': 'lstm', 'cmi_readout': 'dv', 'bias': False,
                                             'res_project': '0-0', 'd_hiddens': '3-2-6=4-5-3',
                                             'd_outs': '5-3-8=5-3-8'}, dict(B=6, Lt=4, La=5, Lv=4, N=18, seed=11)),
    ('gru-epoch0-nobanks', {}, dict(B=5, Lt=4, La=5, Lv=6, N=0, seed=12)),
    # neighbours given in the batch (neighbors_<name>) instead of the k-NN search
    ('gru-neighbors-injected', {'k_neighbor': 3}, dict(B=7, Lt=4, La=5, Lv=6, N=21, seed=15, inject=True)),
    # BERT text branch (bert_ids / bert_type_ids / bert_att_mask; bertmodel.* parameters)
    ('bert-small', {'d_t': 16}, dict(B=6, Lt=7, La=5, Lv=6, N=20, seed=16, bert=BERT_SMALL)),
    ('bert-small-neighbors', {'d_t': 16, 'bound_type': 'nwj', 'critic_type': 'concat', 'k_neighbor': 3},
     dict(B=7, Lt=6, La=4, Lv=5, N=19, seed=17, bert=BERT_SMALL, inject=True)),
    ('bert-base-shape', {'d_t': 768, 'd_a': 5, 'd_v': 20, 'd_common': 128, 'time_len': 100,
                         'd_hiddens': '50-3-128=10-3-128', 'd_outs': '50-3-128=10-3-128', 'bias': True},
     dict(B=4, Lt=100, La=60, Lv=50, N=16, seed=18, gain=1.0, bert=BERT_BASE)),
    ('readme-shape', {'d_t': 768, 'd_a': 5, 'd_v': 20, 'd_common': 128, 'time_len': 100, 'activate': 'gelu',
                      'd_hiddens': '50-3-128=10-3-128', 'd_outs': '50-3-128=10-3-128', 'bias': True},
     dict(B=12, Lt=50, La=120, Lv=90, N=64, seed=14, gain=1.0)),
]
# committed as fixtures for `make test` (small ones; all bounds, encoders, critics, heads, readouts)
FIXTURES = [c[0] for c in CONFIGS if c[0] not in ('readme-shape', 'bert-base-shape')]


def c_supports_bert(binary):
    """the C binary reads bert_ids and neighbors_<name> (older ones do not)"""
    try:
        with open(binary, 'rb') as f:
            return b'bert_ids' in f.read()
    except OSError:
        return False


def make_batch(cfg, spec):
    g = np.random.default_rng(1000 + spec['seed'])
    B, Lt, La, Lv, N = spec['B'], spec['Lt'], spec['La'], spec['Lv'], spec['N']
    if spec.get('bert'):
        V = cfg.bert['vocab']
        ids = g.integers(1, V, (B, Lt))
        ids[:, 0] = min(101, V - 1)                    # [CLS]
        att = np.zeros((B, Lt), dtype=np.int64)
        types = np.zeros((B, Lt), dtype=np.int64)
        lens = g.integers(2, Lt + 1, B)
        lens[0] = Lt                                   # one full-length sample; the others ragged
        for s in range(B):
            att[s, :lens[s]] = 1
            ids[s, lens[s] - 1] = min(102, V - 1)      # [SEP]
            ids[s, lens[s]:] = 0                       # [PAD] (padding_idx: no gradient)
            if s % 2:
                types[s, lens[s] // 2:lens[s]] = 1     # a second segment on odd samples
        b = {'bert_ids': ids.astype(np.int64), 'bert_type_ids': types, 'bert_att_mask': att}
    else:
        b = {'text': g.uniform(-1, 1, (B, Lt, cfg.d_t))}
    for key, L, d in (('audio', La, cfg.d_a), ('vision', Lv, cfg.d_v)):
        x = np.zeros((B, L, d))
        lens = g.integers(1, L + 1, B)
        lens[0] = L                       # one full-length sample
        for s in range(B):
            x[s, :lens[s]] = g.uniform(-1, 1, (lens[s], d))
        if spec.get('interior') and L > 3:   # O-10: an interior zero frame shortens the packed sequence
            x[1, 1] = 0
            x[1, 2:] = g.uniform(-1, 1, (L - 2, d))
        b[key] = x
    b['label'] = np.round(g.uniform(-3, 3, B) * 2) / 2
    if N:
        D = cfg.D
        b['bank_label'] = (np.round(g.uniform(-3, 3, N) * 2) / 2).reshape(N, 1)   # many exact ties
        for k in ('text', 'audio', 'vision'):
            b['bank_' + k] = g.normal(0, 1, (N, D))
        m = B // cfg.k
        for n in mt.CMI:
            b['anchors_' + n] = g.choice(N, m, replace=False).astype(np.int64)
            if spec.get('inject'):   # any rows outside the anchors, not nearest first
                rest = np.setdiff1d(np.arange(N), b['anchors_' + n])
                b['neighbors_' + n] = g.choice(rest, (m, cfg.k), replace=False).astype(np.int64)
    return b


def u1(s):
    return np.frombuffer(s.encode(), dtype=np.uint8).copy()


def group(k):
    return k.split('/')[0] if '/' in k else ('neighbors' if k.startswith('neighbors_') else 'outputs')


def compare(c, t):
    """[(tensor, rel, scale)]; rel = inf for a missing tensor or different neighbours"""
    rows = []
    gscale = {}
    for k, v in t.items():
        if v.size and not k.startswith('neighbors_'):
            gscale[group(k)] = max(gscale.get(group(k), 0.0), float(np.max(np.abs(v))))
    for k in sorted(set(c) | set(t)):
        if k not in c or k not in t:
            rows.append((k, float('inf'), float('nan')))
            continue
        a, b = np.asarray(c[k]), np.asarray(t[k])
        if a.shape != b.shape:
            rows.append((k, float('inf'), float('nan')))
            continue
        if k.startswith('neighbors_'):
            rows.append((k, 0.0 if np.array_equal(a, b) else float('inf'), 0.0))
            continue
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        d = float(np.max(np.abs(a - b))) if b.size else 0.0
        rows.append((k, d / max(scale, FLOOR * gscale.get(group(k), 0.0), 1e-300), scale))
    return rows


NSAMPLE = 64


def write_fixture(path, js, seed, gain, batch, out, tol, bert=None):
    """config, generator seed and gain, batch, PyTorch's outputs in full, and
    per stage the gradients packed in the sorted order of grad_names: all
    entries of a tensor with ≤ 64, else 64 evenly spaced ones (entry
    ⌊q·n/64⌋); grad_stage<s>_stats[t] = [max|g|, Σ g·r, Σ|r|, tol] with r the
    generator's values for 'proj:<name>'; tol/<output> per forward output"""
    z = {'config_json': u1(json.dumps(js, sort_keys=True)), 'param_seed': np.array(seed, dtype=np.int64),
         'param_gain': np.array(gain)}
    if bert:
        z['bert_config_json'] = u1(json.dumps(bert, sort_keys=True))
    for k, v in batch.items():
        z['batch/' + k] = v
    names = sorted(k.split('/', 1)[1] for k in out if k.startswith('grad_stage1/'))
    z['grad_names'] = u1('\n'.join(names))
    for s in (1, 2):
        vals, stats = [], []
        for n in names:
            g = out[f'grad_stage{s}/{n}'].reshape(-1)
            r = gen_uniform('proj:' + n, g.size, seed)
            vals.append(g if g.size <= NSAMPLE else g[(np.arange(NSAMPLE) * g.size) // NSAMPLE])
            stats.append([np.max(np.abs(g)), np.dot(g, r), np.sum(np.abs(r)), tol[f'grad_stage{s}/{n}']])
        z[f'grad_stage{s}'] = np.concatenate(vals)
        z[f'grad_stage{s}_stats'] = np.array(stats)
    for k, v in out.items():
        if not k.startswith('grad_stage'):
            z['expect/' + k] = v
            if not k.startswith('neighbors_'):
                z['tol/' + k] = np.array(tol[k])
    np.savez_compressed(path, **z)


def run(args):
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    t_start = time.perf_counter()
    report = []
    worst_all = 0.0
    failed = []
    bert_ok = c_supports_bert(args.bin)
    for name, over, spec in CONFIGS:
        if (args.only and name not in args.only) or (args.fixtures and not args.only and name not in FIXTURES):
            continue
        t_cfg = time.perf_counter()
        if (spec.get('bert') or spec.get('inject')) and not bert_ok:
            print(f'skip {name}: {args.bin} reads no bert_ids / neighbors_<name> batch members')
            continue
        js = dict(SMALL)
        js.update(over)
        js['batch_size'] = spec['B']
        cfg = mt.Config(js, spec.get('bert'))
        shapes = mt.param_shapes(cfg)
        seed, gain = spec['seed'], spec.get('gain', 1.7)
        params = gen_params(shapes, seed, gain)
        batch = make_batch(cfg, spec)
        ck = os.path.join(args.work, name + '.ckpt.npz')
        bp = os.path.join(args.work, name + '.batch.npz')
        op = os.path.join(args.work, name + '.c.npz')
        extra = {'bert_config_json': u1(json.dumps(spec['bert'], sort_keys=True))} if spec.get('bert') else {}
        np.savez(ck, config_json=u1(json.dumps(js, sort_keys=True)), **extra, **params)
        np.savez(bp, **batch)
        t_c = time.perf_counter()
        r = subprocess.run([args.bin, 'oracle', '--checkpoint', ck, '--batch', bp, '--out', op],
                           capture_output=True, text=True)
        t_c = time.perf_counter() - t_c
        if r.returncode:
            print(f'{name}: mimrl oracle failed ({r.returncode}): {r.stderr.strip()}')
            failed.append(name)
            continue
        c = mt.read_npz(op)
        tcfg, tp = mt.load_checkpoint(ck)
        tout = mt.oracle(tcfg, tp, mt.load_batch(bp), args.rnn)
        tcfg, tp = mt.load_checkpoint(ck)
        talt = mt.oracle(tcfg, tp, mt.load_batch(bp), 'packed' if args.rnn == 'dense' else 'dense')
        yard = {k: rel for k, rel, _ in compare(talt, tout)}
        rows = compare(c, tout)
        tol = {k: max(TARGET, yard.get(k, 0.0)) for k, _, _ in rows}
        for k, rel, scale in rows:
            report.append((name, k, rel, scale, yard.get(k, float('nan'))))
        groups = {}
        for k, rel, _ in rows:
            for gname in (group(k),) + ((group(k) + ' bert',) if '/bertmodel.' in k else ()):
                if gname not in groups or rel > groups[gname][1]:
                    groups[gname] = (k, rel)
        worst = max(rel for _, rel, _ in rows)
        worst_all = max(worst_all, worst)
        over = [k for k, rel, _ in rows if rel > TARGET]
        ok = all(rel <= tol[k] for k, rel, _ in rows)
        if not ok:
            failed.append(name)
        print(f'{"ok  " if ok else "FAIL"} {name:40s} {len(rows):4d} tensors, largest rel {worst:.2e}, '
              f'{time.perf_counter() - t_cfg:.0f} s (C {t_c:.0f} s)', flush=True)
        for k in over:
            print(f'       above 1e-10: {k} rel {dict((r[0], r[1]) for r in rows)[k]:.2e}, torch dense vs packed {yard.get(k, 0):.2e}')
        for gname, (k, rel) in sorted(groups.items()):
            print(f'       {gname:17s} worst {rel:.2e}  {k}')
        if args.fixtures and name in FIXTURES:
            os.makedirs(args.fixtures, exist_ok=True)
            write_fixture(os.path.join(args.fixtures, name + '.npz'), js, seed, gain, batch, tout, tol, spec.get('bert'))
    if args.report:
        with open(args.report, 'w') as f:
            f.write(f'# mimrl oracle vs verify/torch (float64, rnn={args.rnn}); rel = max|c - torch| / max(max|torch|, {FLOOR:g} x largest of its group)\n')
            f.write('config\ttensor\trel\tscale\ttorch_dense_vs_packed\n')
            for n, k, rel, scale, y in report:
                f.write(f'{n}\t{k}\t{rel:.3e}\t{scale:.3e}\t{y:.3e}\n')
    print(f'crosscheck: {len(set(r[0] for r in report))} configurations, {len(report)} tensors, largest rel {worst_all:.2e} '
          f'(target {TARGET:g}, floor {FLOOR:g} of the group scale), {time.perf_counter() - t_start:.0f} s' + (f'; FAILED: {" ".join(failed)}' if failed else ''))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bin', default='build/mimrl')
    ap.add_argument('--work', default=os.path.join(tempfile.gettempdir(), 'mimrl-crosscheck'))
    ap.add_argument('--fixtures')
    ap.add_argument('--report')
    ap.add_argument('--rnn', default='dense', choices=['dense', 'packed'])
    ap.add_argument('--only', nargs='*')
    return run(ap.parse_args())


if __name__ == '__main__':
    sys.exit(main())
