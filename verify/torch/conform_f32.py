#!/usr/bin/env python3
"""The float32 tolerances of `mimrl conform --dtype float32`, measured.

For each seed, `mimrl conform --suite SUITE --seed S --work DIR` (no --port)
writes the suite's cases (ckpt.npz, batch.npz and the oracle's out.npz with
every intermediate); the PyTorch twin (mimrl_torch.py) runs each case in
float32 with --dump all, in this process, and every tensor is compared with
the oracle's float64 value by conform's rule

    rel = max|port − oracle| / max(max|oracle|, 1e-4 · the largest magnitude of its group)

(groups: the prefix before '/', grad_stage1, grad_stage2, 'outputs' for the
required forward members). The float32 bounds are per tolerance group: the
group, and for gradients also stage/module (grad_stage1/mlp_encoder, …), so
that the ill-conditioned CubeMLP LayerNorm gradients do not set the bound of
every other gradient. The script prints, per group, the largest rel
over all seeds and cases and the tensor where it occurred, and the bound
MARGIN × max(that maximum, FLT_EPSILON) rounded up to one significant digit — the numbers
ref/cli/cli_conform.c's TOL32 table carries (README "Conformance").
Integer tensors (lengths, neighbour picks) must be equal; a float32 run
whose picks differ from the oracle's is counted and reported.

  python3 verify/torch/conform_f32.py [--bin build/mimrl] [--suite quick] [--seeds 1-20] [--margin 10]
"""
import argparse
import math
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
EPS32 = 1.1920928955078125e-07   # FLT_EPSILON: no bound below MARGIN x one float32 rounding unit
REQUIRED = {'output', 'F_F', 'T_F', 'A_F', 'V_F', 'mi', 'mi_derived', 'stage1_terms', 'loss_task', 'loss_stage1', 'loss_stage2'}


def group(k):
    if '/' in k:
        return k.split('/')[0]
    return 'neighbors' if k.startswith('neighbors_') else 'outputs'


def tol_group(k):
    """the float32 tolerance group: group(k), and for a gradient its stage and
    module (grad_stage1/mlp_encoder, grad_stage2/vmi_estimator, …)"""
    if not k.startswith('grad_stage'):
        return group(k)
    stage, name = k.split('/', 1)
    mod = name.split('.')[0]
    for pre in ('vmi_estimator', 'vcmi_estimator'):
        if mod.startswith(pre):
            mod = pre
    return f'{stage}/{mod}'


def rels(ref, port):
    """{tensor: rel} for the float tensors, and the integer tensors that differ"""
    gs = {}
    for k, v in ref.items():
        if v.dtype.kind == 'f' and v.size:
            gs[group(k)] = max(gs.get(group(k), 0.0), float(np.max(np.abs(v))))
    out, bad_int = {}, []
    for k, v in ref.items():
        if k not in port:
            continue
        p = np.asarray(port[k])
        if v.dtype.kind != 'f':
            if p.shape != v.shape or not np.array_equal(p, v):
                bad_int.append(k)
            continue
        if not v.size:
            continue
        d = float(np.max(np.abs(p.astype(np.float64) - v))) if p.shape == v.shape else math.inf
        out[k] = d / max(float(np.max(np.abs(v))), FLOOR * gs.get(group(k), 0.0), 1e-300)
    return out, bad_int


def ceil1(x):
    """x rounded up to one significant digit"""
    if x <= 0:
        return 0.0
    e = math.floor(math.log10(x))
    m = math.ceil(x / 10 ** e - 1e-12)
    return m * 10.0 ** e


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bin', default='build/mimrl')
    ap.add_argument('--suite', default='quick')
    ap.add_argument('--seeds', default='1-20')
    ap.add_argument('--margin', type=float, default=10.0)
    ap.add_argument('--work', default=os.path.join(tempfile.gettempdir(), 'mimrl-conform-f32'))
    a = ap.parse_args()
    torch.set_num_threads(1)
    s0, s1 = (int(x) for x in a.seeds.split('-'))
    worst = {}
    int_diff = []
    n_cases = 0
    t0 = time.perf_counter()
    for seed in range(s0, s1 + 1):
        work = os.path.join(a.work, f'seed{seed}')
        r = subprocess.run([a.bin, 'conform', '--suite', a.suite, '--seed', str(seed), '--work', work], capture_output=True, text=True)
        if r.returncode:
            sys.exit(f'{a.bin} conform --seed {seed}: {r.stdout}{r.stderr}')
        for case in sorted(os.listdir(work)):
            d = os.path.join(work, case)
            if not os.path.exists(os.path.join(d, 'out.npz')):
                continue
            ref = mt.read_npz(os.path.join(d, 'out.npz'))
            mt.DUMP = {}
            cfg, p = mt.load_checkpoint(os.path.join(d, 'ckpt.npz'), torch.float32)
            port = mt.oracle(cfg, p, mt.load_batch(os.path.join(d, 'batch.npz'), torch.float32))
            mt.DUMP = None
            rr, bad = rels(ref, port)
            n_cases += 1
            int_diff += [(seed, case, k) for k in bad]
            for k, v in rr.items():
                for g in {group(k), tol_group(k)}:
                    if g not in worst or v > worst[g][0]:
                        worst[g] = (v, k, seed, case)
    print(f'# float32 twin vs the float64 oracle: suite {a.suite}, seeds {a.seeds}, {n_cases} cases, '
          f'{time.perf_counter() - t0:.0f} s; bound = {a.margin:g} x max(max, FLT_EPSILON), rounded up to 1 significant digit')
    print('group\tmax_rel\tbound\ttensor\tseed\tcase')
    for g in sorted(worst):
        v, k, seed, case = worst[g]
        print(f'{g}\t{v:.2e}\t{ceil1(a.margin * max(v, EPS32)):.0e}\t{k}\t{seed}\t{case}')
    print(f'integer tensors that differ (neighbour picks, lengths): {len(int_diff)}')
    for seed, case, k in int_diff[:20]:
        print(f'  seed {seed} {case}: {k}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
