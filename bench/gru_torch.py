#!/usr/bin/env python3
"""PyTorch float64 CPU timing of the same GRU call as bench/gru_bench.c:
nn.GRU(din, 128, 2, bidirectional) over pack_padded_sequence, directions
summed, backward of (y * w).sum(); same lengths; median and min of REPS.

Usage: gru_torch.py REPS THREADS [MAX_L].  Lengths above MAX_L are skipped:
the backward of PyTorch 1.13's packed GRU on CPU grows much faster than
linearly in L (first calls measured here: 6.6 s at L=100, 46 s at L=200,
95 s at L=300, 277 s per rep at L=500), so run_gru.sh defaults MAX_L to 100."""
import sys
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
threads = int(sys.argv[2]) if len(sys.argv) > 2 else torch.get_num_threads()
max_l = int(sys.argv[3]) if len(sys.argv) > 3 else 500
torch.set_num_threads(threads)
torch.manual_seed(0)
B, H = 128, 128
for L in (100, 500):
    if L > max_l:
        print('# torch L=%d skipped (MAX_L=%d)' % (L, max_l), file=sys.stderr)
        continue
    for din in (5, 20, 74, 35):
        m = torch.nn.GRU(din, H, 2, batch_first=True, bidirectional=True).double()
        lens = torch.tensor([L - (37 * b) % (L // 2) for b in range(B)])
        x = torch.zeros(B, L, din, dtype=torch.float64)
        for b in range(B):
            x[b, :lens[b]] = torch.rand(int(lens[b]), din, dtype=torch.float64) * 2 - 1
        x.requires_grad_(True)
        w = torch.rand(B, L, H, dtype=torch.float64) * 2 - 1
        ts = []
        for k in range(reps + 1):
            m.zero_grad()
            x.grad = None
            t0 = time.perf_counter()
            out, _ = m(pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False))
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=L)
            y = out[..., :H] + out[..., H:]
            (y * w).sum().backward()
            if k:
                ts.append(time.perf_counter() - t0)
        ts.sort()
        print('torch-f64-%dthr,%d,%d,%d,%d,2,%.2f,%.2f,' % (threads, B, L, din, H, ts[len(ts) // 2] * 1e3, ts[0] * 1e3), flush=True)
