#!/usr/bin/env python3
"""`make bitcheck`: the refactoring invariant of mimrl.c — every output and
gradient of the BLAS=none build is bit-identical to a base commit's.

1. Builds the BLAS=none `mimrl` of BASE (a detached git worktree under WORK)
   and of the working tree.
2. Oracle: on every configuration of verify/torch/crosscheck.py (the same
   checkpoints and batches `make crosscheck` uses, the README shape among
   them; not those with BERT or injected neighbours, batch members the base
   predates) runs `mimrl oracle` with both binaries and compares every
   member of OUT.npz byte for byte (dtype, shape, bits).
3. Training: `mimrl synth` small splits, then `mimrl train` for 3 epochs with
   dropout on, stopped after 2 and resumed, with both binaries; last.npz,
   best.npz and the prediction files must agree member by member and
   metrics.csv in every column of the base but the timings (columns the tree adds are listed).

Exit 0 when everything is identical; otherwise every differing tensor is
listed and the exit status is 1. Needs python3-numpy and python3-torch (the
parameter shapes come from verify/torch).
"""
import argparse
import csv
import io
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, 'torch'))
import crosscheck as cc  # noqa: E402
import mimrl_torch as mt  # noqa: E402

TRAIN_FLAGS = ['--batch_size', '16', '--d_common', '16', '--time_len', '12', '--d_hiddens', '6-3-16=4-3-16',
               '--d_outs', '6-3-16=4-3-16', '--dropout', '0.1-0.1-0.1-0.1', '--dropout_mlp', '0.1-0.1-0.1',
               '--bias', '--res_project', '1-1', '--stage1_n', '2', '--seed', '5', '--learning_rate', '1e-3']
SYNTH_FLAGS = ['--n-train', '48', '--n-valid', '20', '--n-test', '20', '--max-frames', '30', '--max-words', '12',
               '--seed', '3']


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit(f'bitcheck: {" ".join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}')
    return r.stdout


def build(tree):
    sh(['make', '-C', tree, '-j2', 'BLAS=none', 'all'])
    return os.path.join(tree, 'build', 'none', 'mimrl')


# Trainer checkpoints of format 1 hold trainer/state, a positional [16]
# vector; format 2 names each field (ref/train/train.c state_fields, same
# order). A format-1 file is compared in its format-2 form.
STATE_FIELDS = ['epoch', 'best_valid', 'best_test', 'best_epoch', 'best_test_epoch', 'lr_main', 'lr_vmi',
                'sched_main/last_epoch', 'sched_main/best', 'sched_main/num_bad_epochs', 'sched_main/cooldown_counter',
                'sched_vmi/last_epoch', 'sched_vmi/best', 'sched_vmi/num_bad_epochs', 'sched_vmi/cooldown_counter',
                'bank_rows']
STATE_REAL = {'best_valid', 'best_test', 'lr_main', 'lr_vmi', 'sched_main/best', 'sched_vmi/best'}


def members(path):
    with np.load(path, allow_pickle=False) as z:
        m = {k: z[k] for k in z.files}
    if 'trainer/state' in m:
        st = m.pop('trainer/state')
        m['trainer/format'] = np.array(2, dtype='<i8')
        for k, name in enumerate(STATE_FIELDS):
            m['trainer/' + name] = np.array(st[k], dtype='<f8') if name in STATE_REAL else np.array(int(st[k]), dtype='<i8')
    return m


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare_npz(label, pa, pb, diffs):
    a, b = members(pa), members(pb)
    n = 0
    for k in sorted(set(a) | set(b)):
        n += 1
        if k not in a or k not in b:
            diffs.append(f'{label}: {k} only in {"base" if k in a else "tree"}')
        elif not same(a[k], b[k]):
            if a[k].dtype.kind == 'f' and a[k].shape == b[k].shape:
                d = float(np.max(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)))) if a[k].size else 0.0
                diffs.append(f'{label}: {k} differs (max |Δ| {d:.3e})')
            else:
                diffs.append(f'{label}: {k} differs ({a[k].dtype}{a[k].shape} vs {b[k].dtype}{b[k].shape})')
    return n


def oracle(bins, work, diffs):
    n = 0
    for name, over, spec in cc.CONFIGS:
        if spec.get('bert') or spec.get('inject'):   # batch members the base binary does not read
            continue
        js = dict(cc.SMALL)
        js.update(over)
        js['batch_size'] = spec['B']
        cfg = mt.Config(js)
        params = cc.gen_params(mt.param_shapes(cfg), spec['seed'], spec.get('gain', 1.7))
        ck, bp = os.path.join(work, name + '.ckpt.npz'), os.path.join(work, name + '.batch.npz')
        np.savez(ck, config_json=cc.u1(json.dumps(js, sort_keys=True)), **params)
        np.savez(bp, **cc.make_batch(cfg, spec))
        outs = []
        for tag, b in bins.items():
            op = os.path.join(work, f'{name}.{tag}.npz')
            sh([b, 'oracle', '--checkpoint', ck, '--batch', bp, '--out', op])
            outs.append(op)
        n += compare_npz(f'oracle {name}', outs[0], outs[1], diffs)
    return n


def metrics_rows(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if 'second' not in k and not k.startswith('time')} for r in rows]


def training(bins, work, diffs):
    data = os.path.join(work, 'synth')
    sh([bins['base'], 'synth', '--like', 'mosi', '--out', data] + SYNTH_FLAGS)
    n = 0
    runs = {}
    for tag, b in bins.items():
        rd = os.path.join(work, 'run-' + tag)
        sh(['rm', '-rf', rd])
        sh([b, 'train', '--data', data, '--out', rd, '--epochs_num', '2'] + TRAIN_FLAGS)
        sh([b, 'train', '--resume', rd, '--epochs_num', '3'])
        runs[tag] = rd
    for f in sorted(os.listdir(runs['base'])):
        if f.endswith('.npz'):
            n += compare_npz(f'train {f}', os.path.join(runs['base'], f), os.path.join(runs['tree'], f), diffs)
    ma, mb = metrics_rows(os.path.join(runs['base'], 'metrics.csv')), metrics_rows(os.path.join(runs['tree'], 'metrics.csv'))
    n += 1
    # columns the base has must be equal; columns the tree adds (e.g. the nats read-outs) are listed
    added = sorted(set(mb[0]) - set(ma[0])) if ma and mb else []
    if added:
        print(f'bitcheck: metrics.csv adds {len(added)} columns the base does not have (not compared): {added[0]} … {added[-1]}')
    if len(ma) != len(mb) or any(r.get(k) != v for ra, r in zip(ma, mb) for k, v in ra.items()):
        diffs.append('train metrics.csv differs (timings excluded; the base\'s columns)')
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--base', required=True, help='commit to compare the working tree with')
    ap.add_argument('--work', default=os.path.join(ROOT, 'build', 'bitcheck'))
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    base_tree = os.path.join(a.work, 'base')
    rev = sh(['git', '-C', ROOT, 'rev-parse', a.base]).strip()
    have = os.path.isdir(base_tree) and sh(['git', '-C', base_tree, 'rev-parse', 'HEAD']).strip() == rev
    if not have:
        subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', base_tree], capture_output=True)
        sh(['rm', '-rf', base_tree])
        sh(['git', '-C', ROOT, 'worktree', 'add', '--detach', base_tree, rev])
    bins = {'base': build(base_tree), 'tree': build(ROOT)}
    diffs = []
    n = oracle(bins, a.work, diffs)
    n += training(bins, a.work, diffs)
    for d in diffs:
        print('  ' + d)
    print(f'bitcheck: BLAS=none, base {rev[:10]} vs working tree: {n} tensors/files compared, '
          f'{len(diffs)} differ' + ('' if diffs else ' — bit-identical'))
    return 1 if diffs else 0


if __name__ == '__main__':
    sys.exit(main())
