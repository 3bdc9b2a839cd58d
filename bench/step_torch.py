#!/usr/bin/env python3
"""The PyTorch side of the training-step benchmark (bench/run_step.sh).

    step_torch.py DIR REPS THREADS [C_ORACLE.npz ...]

Loads DIR/ckpt.npz and DIR/batch.npz (written by step_bench prepare), and
1. validates: the float64 step of verify/torch/mimrl_torch.py against each
   given `mimrl oracle` output (every output, estimate, loss and gradient of
   both stages; largest relative difference per tensor, floor 1e-4 of the
   group's scale as in make crosscheck); fails (exit 1) above 1e-8 — at full
   MOSI lengths recurrences of 500 steps amplify rounding beyond the 1e-10 of
   the small crosscheck shapes, and this check is a guard that the timed code
   computes the same step, not the precision claim (that is make crosscheck);
2. times, in float64 and float32 ($STEP_TORCH_DTYPES, default "float64
   float32"), with torch.set_num_threads(THREADS),
   REPS repetitions after one warm-up ($STEP_TORCH_WARMUP=0: none) of: the forward (training mode: the
   dropouts of the configuration on, as in mimrl.c's timed step), the stage-1 backward (gradients of L1 for
   the estimator parameters only — autograd then stops at the pooled features,
   as mimrl.c's training step does) and the stage-2 backward (every
   parameter). With a BERT text branch it runs in chunks of
   $STEP_TORCH_BERT_CHUNK (default 8) samples under torch.utils.checkpoint,
   as mimrl.c runs it (float64 BERT-base at B = 128 x 100 tokens does not
   fit 24 GB otherwise). Recurrences: the 'dense' path (PyTorch's own GRU kernel, the
   backward direction reversed within each length), the faster of the two.
Prints CSV rows: impl,threads,phase,median_ms,min_ms,max_ms.
"""
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'verify', 'torch'))
import mimrl_torch as mt  # noqa: E402
import crosscheck as cc  # noqa: E402


def main():
    d, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    oracles = sys.argv[4:]
    torch.set_num_threads(threads)
    ck, bp = os.path.join(d, 'ckpt.npz'), os.path.join(d, 'batch.npz')
    # 1. validation in float64 (dropout off: the oracle contract)
    if oracles:
        cfg, p = mt.load_checkpoint(ck)
        ref = mt.oracle(cfg, p, mt.load_batch(bp), 'dense')
        for o in oracles:
            rows = cc.compare(mt.read_npz(o), ref)
            worst = max(rows, key=lambda r: r[1])
            print(f'# validate {o}: {len(rows)} tensors, largest rel {worst[1]:.2e} ({worst[0]})', file=sys.stderr)
            if not worst[1] <= 1e-8:
                print(f'step_torch: {o} disagrees with the PyTorch step ({worst[0]}: {worst[1]:.2e})', file=sys.stderr)
                return 1
    # 2. timing
    dtypes = os.environ.get('STEP_TORCH_DTYPES', 'float64 float32').split()
    for dt in (getattr(torch, d) for d in dtypes):
        cfg, p = mt.load_checkpoint(ck, dt)
        cfg.train = True
        if cfg.bert:   # BERT in chunks of samples with recompute, as mimrl.c (verify/torch/mimrl_torch.py text_input)
            cfg.bert_chunk = int(os.environ.get('STEP_TORCH_BERT_CHUNK', '8'))
        batch = mt.load_batch(bp, dt)
        est = [v for k, v in p.items() if k.startswith('vmi_') or k.startswith('vcmi_')]
        allp = list(p.values())
        t = {'forward': [], 'backward1': [], 'backward2': []}
        for rep in range(-int(os.environ.get('STEP_TORCH_WARMUP', '1')), reps):
            for stage in (1, 2):
                t0 = time.perf_counter()
                r, _ = mt.step(cfg, p, batch, 'dense')
                t1 = time.perf_counter()
                if stage == 1:
                    torch.autograd.grad(r['loss_stage1'], est)
                else:
                    torch.autograd.grad(r['loss_stage2'], allp, allow_unused=True)  # BERT's pooler: unused
                t2 = time.perf_counter()
                del r, _   # the step's graph, before the next forward builds another (MOSI + BERT-base: 24 GB otherwise)
                if rep >= 0:
                    if stage == 1:
                        t['forward'].append(t1 - t0)
                    t[f'backward{stage}'].append(t2 - t1)
        name = 'torch_f64' if dt == torch.float64 else 'torch_f32'
        for ph, v in t.items():
            print(f'{name},{threads},{ph},{1e3 * statistics.median(v):.1f},{1e3 * min(v):.1f},{1e3 * max(v):.1f}', flush=True)
        print(f'# {name}: peak RSS of the process so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576:.2f} GB',
              file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
