#!/usr/bin/env python3
"""Regenerates bench/RESULTS.md from bench/results/*.csv (make bench-report;
run at the end of make bench). Standard library only.

Tables show the latest run of each benchmark (rows sharing the newest UTC
stamp); the CSVs keep every run. The prose sections (profile, where the time
goes) live in bench/profile.md and are copied in verbatim: they are
measurements written down by hand, with the commit they were taken at.
"""
import csv
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, 'results')


def latest(name):
    path = os.path.join(RES, name)
    if not os.path.exists(path):
        return [], None
    rows = [r for r in csv.DictReader(open(path))]
    if not rows:
        return [], None
    last = max(r['utc'] for r in rows)
    return [r for r in rows if r['utc'] == last], last


def f(x, nd=1):
    try:
        return f'{float(x):,.{nd}f}'
    except (TypeError, ValueError):
        return x or '–'


def step_section(out):
    rows, stamp = latest('step.csv')
    out.append('## Training step (whole model, official README configuration)\n')
    if not rows:
        out.append('_no rows yet: make bench-step_\n')
        return
    out.append(f'Run {stamp}, commit {rows[0]["commit"]} (`bench/run_step.sh`, rows in `results/step.csv`). '
               'One batch of B = 128 drawn like training draws it (first shuffled batch, padded to the batch maximum) '
               'from synthetic data shaped like each dataset; feature banks with the real training-set size; the same '
               'checkpoint and batch files for every implementation. Before timing, the oracle outputs of the OpenBLAS '
               'and BLAS=none builds are compared with PyTorch float64 (every tensor, `bench/step_torch.py`). '
               'A stage-1 step is the forward plus the estimator backward (stopping at the pooled features, as '
               'training runs it); a stage-2 step is the forward plus the backward of every parameter. Optimizer '
               'updates (≪ 1 % of a step) are not included. Medians in ms (mimrl.c BLAS=none: 1 repetition).\n')
    t = {}
    shapes = []
    for r in rows:
        key = (r['shape'], r['impl'], r['threads'])
        t.setdefault(key, {})[r['phase']] = float(r['median_ms'])
        if r['shape'] not in shapes:
            shapes.append(r['shape'])
    dims = {r['shape']: (r['La'], r['Lv'], r['Lt'], r['bank_N']) for r in rows}
    names = [('c_openblas', '1', 'mimrl.c OpenBLAS, 1 core'), ('c_openblas', '2', 'mimrl.c OpenBLAS, 2 cores'),
             ('c_none', '1', 'mimrl.c BLAS=none (reference), 1 core'), ('torch_f64', '2', 'PyTorch float64, 2 threads'),
             ('torch_f32', '2', 'PyTorch float32, 2 threads')]
    out.append('| shape (La, Lv, Lt, bank N) | implementation | forward | stage-1 step | stage-2 step | PyTorch ÷ mimrl.c 2 cores (stage 1 / stage 2) |')
    out.append('| --- | --- | ---: | ---: | ---: | --- |')
    for s in shapes:
        c = t.get((s, 'c_openblas', '2'))
        for impl, thr, label in names:
            v = t.get((s, impl, thr))
            if not v:
                continue
            s1, s2 = v['forward'] + v['backward1'], v['forward'] + v['backward2']
            ratio = ''
            if impl.startswith('torch') and c:
                ratio = f'{s1 / (c["forward"] + c["backward1"]):.2f}× / **{s2 / (c["forward"] + c["backward2"]):.2f}×**'
            elif impl == 'c_none' and c:
                ratio = f'(reference ÷ fast build: {s1 / (c["forward"] + c["backward1"]):.2f}× / {s2 / (c["forward"] + c["backward2"]):.2f}×)'
            La, Lv, Lt, N = dims[s]
            out.append(f'| {s} ({La}, {Lv}, {Lt}, {N}) | {label} | {f(v["forward"])} | {f(s1)} | {f(s2)} | {ratio} |')
    out.append('')


def train_section(out):
    rows, stamp = latest('train.csv')
    out.append('## Full training runs (official README configuration)\n')
    if not rows:
        out.append('_no rows yet: make bench-train_\n')
        return
    out.append(f'Run {stamp}, commit {rows[0]["commit"]} (`bench/run_train.sh`, rows in `results/train.csv`). '
               'Epoch 0 trains the model only (no banks yet, O-22); every later epoch runs 2 estimator passes and one '
               'model pass plus evaluation. The projection is epoch 0 + 69 × the median later epoch, scaled to the full '
               'training split where fewer samples were used. Peak memory is the process\'s maximum resident set. '
               'Metrics are those of the last epoch run (not of a 70-epoch training).\n')
    out.append('| shape | data | training samples | epochs run | epoch 0 (s) | later epochs (s, median) | projected 70 epochs, full split (h) | peak memory (MB) | train loss | valid MAE | test MAE | test corr | test CCC |')
    out.append('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        out.append(f'| {r["shape"]} | {r["data"]} | {r["n_train"]} | {r["epochs"]} | {f(r["epoch0_s"])} | {f(r["epoch_s_median"])} | '
                   f'**{f(r["projected_70_epochs_h"], 2)}** | {r["peak_rss_mb"]} | {f(r["final_train_loss"], 3)} | '
                   f'{f(r["final_valid_mae"], 3)} | {f(r["final_test_mae"], 3)} | {f(r["final_test_corr"], 3)} | {f(r["final_test_ccc"], 3)} |')
    out.append('')


def gru_section(out):
    rows, stamp = latest('gru.csv')
    out.append('## GRU alone (B = 128, H = 128, 2 layers, bidirectional, forward + backward)\n')
    if not rows:
        out.append('_no rows yet_\n')
        return
    out.append(f'Run {stamp}, commit {rows[0]["commit"]} (`bench/run_gru.sh`, `results/gru.csv`).\n')
    out.append('| implementation | L | d_in | median ms | min ms | GFLOP/s (median) |')
    out.append('| --- | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        out.append(f'| {r["impl"]} | {r["L"]} | {r["din"]} | {f(r["median_ms"])} | {f(r["min_ms"])} | {f(r["gflops_median"])} |')
    out.append('')


def est_section(out):
    rows, stamp = latest('estimators.csv')
    out.append('## Estimators (critic steps, k-NN product sampling)\n')
    if not rows:
        out.append('_no rows yet_\n')
        return
    out.append(f'Run {stamp}, commit {rows[0]["commit"]} (`bench/run_est.sh`, `results/estimators.csv`).\n')
    out.append('| threads | bench | variant | B or N | d | median ms | min ms | per second |')
    out.append('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        out.append(f'| {r["threads"]} | {r["bench"]} | {r["variant"]} | {r["B_or_N"]} | {r["d"]} | {r["median_ms"]} | {r["min_ms"]} | {r["per_second_median"]} |')
    out.append('')


def main():
    out = ['# mimrl.c benchmark results', '',
           '_Generated by `bench/report.py` from `bench/results/*.csv` (do not edit; `make bench-report`). '
           'Machine: the run stamp in each CSV row; all numbers below were measured by the scripts named._', '']
    step_section(out)
    train_section(out)
    prof = os.path.join(HERE, 'profile.md')
    if os.path.exists(prof):
        out.append(open(prof).read().rstrip() + '\n')
    gru_section(out)
    est_section(out)
    with open(os.path.join(HERE, 'RESULTS.md'), 'w') as fh:
        fh.write('\n'.join(out))
    print('wrote bench/RESULTS.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
