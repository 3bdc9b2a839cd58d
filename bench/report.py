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


def latest(name, per=None):
    """the rows of the newest run (UTC stamp) of results/<name> — per value of
    the column `per` when given (a run of one shape does not hide the others);
    and the newest stamp"""
    path = os.path.join(RES, name)
    if not os.path.exists(path):
        return [], None
    rows = [r for r in csv.DictReader(open(path))]
    if not rows:
        return [], None
    newest = {}
    for r in rows:
        k = r[per] if per else None
        newest[k] = max(newest.get(k, ''), r['utc'])
    keep = [r for r in rows if r['utc'] == newest[r[per] if per else None]]
    return keep, max(newest.values())


def f(x, nd=1):
    try:
        return f'{float(x):,.{nd}f}'
    except (TypeError, ValueError):
        return x or '–'


def heading(out, name, title, script, make, per=None, prose=''):
    """section title, run line and prose; the latest rows of results/<name>, or None"""
    rows, stamp = latest(name, per)
    out.append(f'## {title}\n')
    if not rows:
        out.append(f'_no rows yet: {make}_\n')
        return None
    runs = sorted({(r['utc'], r['commit']) for r in rows})
    out.append('Run' + ('s ' if len(runs) > 1 else ' ') + ', '.join(f'{u} (commit {c})' for u, c in runs) +
               f' (`{script}`, rows in `results/{name}`).')
    out.append(prose + '\n')
    return rows


STEP_PROSE = ('One batch of B = 128 drawn like training draws it (first shuffled batch, padded to the batch maximum) '
              'from synthetic data shaped like each dataset; feature banks with the real training-set size; the same '
              'checkpoint and batch files for every implementation. Before timing, the oracle outputs of the OpenBLAS '
              'and BLAS=none builds are compared with PyTorch float64 (every tensor, `bench/step_torch.py`). '
              'A stage-1 step is the forward plus the estimator backward (stopping at the pooled features, as '
              'training runs it); a stage-2 step is the forward plus the backward of every parameter. Optimizer '
              'updates (≪ 1 % of a step) are not included. Medians in ms (mimrl.c BLAS=none: 1 repetition).')


def step_section(out):
    rows = heading(out, 'step.csv', 'Training step (whole model, official README configuration)', 'bench/run_step.sh',
                   'make bench-step', 'shape', STEP_PROSE)
    if not rows:
        return
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
    out.append('| shape (La, Lv, Lt, bank N) | implementation | forward | backward 1 | backward 2 | stage-1 step | stage-2 step | PyTorch ÷ mimrl.c 2 cores (stage 1 / stage 2) |')
    out.append('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |')
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
            out.append(f'| {s} ({La}, {Lv}, {Lt}, {N}) | {label} | {f(v["forward"])} | {f(v["backward1"])} | {f(v["backward2"])} | '
                       f'{f(s1)} | {f(s2)} | {ratio} |')
    out.append('')


def gemm_section(out):
    """GEMM work per phase against the machine's GEMM rate (2 cores)"""
    peak_rows, _ = latest('peak.csv')
    fl_rows, _ = latest('step_flops.csv', per='shape')
    st_rows, _ = latest('step.csv', per='shape')
    if not (peak_rows and fl_rows and st_rows):
        return
    peak = {r['threads']: float(r['gflops']) for r in peak_rows}
    out.append('### Dense-product work against the GEMM peak\n')
    out.append(f'FP64 GEMM rate of this machine through `mr_gemm` (OpenBLAS, n = 2048 square products): '
               f'**{peak.get("1", 0):.1f} GFLOP/s on 1 core, {peak.get("2", 0):.1f} GFLOP/s on 2 cores** (`results/peak.csv`). '
               'GEMM work counted by `mr_gemm_flops` (every dense product of the step, 2·M·N·K each); time of mimrl.c on 2 cores. '
               'The fraction is of the 2-core GEMM rate: what the step would reach if it were one large product.\n')
    t = {(r['shape'], r['phase']): float(r['median_ms']) for r in st_rows if r['impl'] == 'c_openblas' and r['threads'] == '2'}
    out.append('| shape | phase | GEMM work (GFLOP) | time (ms) | GFLOP/s | of 2-core peak |')
    out.append('| --- | --- | ---: | ---: | ---: | ---: |')
    for r in fl_rows:
        k = (r['shape'], r['phase'])
        if k not in t:
            continue
        g = float(r['gemm_gflop'])
        rate = g / (t[k] / 1e3)
        out.append(f'| {r["shape"]} | {r["phase"]} | {g:.1f} | {t[k]:,.0f} | {rate:.1f} | {100 * rate / peak.get("2", float("nan")):.0f} % |')
    out.append('')


TRAIN_PROSE = ('Epoch 0 trains the model only (no banks yet, O-22); every later epoch runs 2 estimator passes and one '
               'model pass plus evaluation. The projection is epoch 0 + 69 × the median later epoch, scaled to the full '
               'split where fewer samples were used (a reduced MOSEI run cuts train, valid and test by the same factor). Peak memory is the process\'s maximum resident set. '
               'Metrics are those of the last epoch run (a 70-epoch training only where 70 epochs were run).')


def train_section(out):
    rows = heading(out, 'train.csv', 'Full training runs (official README configuration)', 'bench/run_train.sh',
                   'make bench-train', 'shape', TRAIN_PROSE)
    if not rows:
        return
    out.append('| shape | data | training samples | epochs run | epoch 0 (s) | later epochs (s, median) | projected 70 epochs, full split (h) | peak memory (MB) | train loss | valid MAE | test MAE | test corr | test CCC |')
    out.append('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    for r in rows:
        out.append(f'| {r["shape"]} | {r["data"]} | {r["n_train"]} | {r["epochs"]} | {f(r["epoch0_s"])} | {f(r["epoch_s_median"])} | '
                   f'**{f(r["projected_70_epochs_h"], 2)}** | {r["peak_rss_mb"]} | {f(r["final_train_loss"], 3)} | '
                   f'{f(r["final_valid_mae"], 3)} | {f(r["final_test_mae"], 3)} | {f(r["final_test_corr"], 3)} | {f(r["final_test_ccc"], 3)} |')
    out.append('')


BERT_PROSE = ('BERT-base (hidden 768, 12 layers, FFN 3072, vocab 30,522; random weights, HF init) at B × L tokens, '
              'training mode (dropout 0.1), loss Σ out·R, forward then backward, best of the repetitions. mimrl.c runs the '
              'batch in chunks of samples, keeps one chunk of activations per thread and recomputes the rest in the '
              'backward (`ref/bert/bert.h`); *chunk threads* 2 runs the chunk forwards (the forward and the recompute) on '
              'two threads with one OpenBLAS thread each, the chunk backwards one after another with each linear layer\'s '
              'products and the GELU backward split across the two threads by rows (one OpenBLAS thread each; from '
              'commit 9e4e89a on, before that with OpenBLAS\'s own threads). '
              'The PyTorch twin (`verify/torch/bert_torch.py bench`, torch operations, 2 threads) runs each chunk\'s '
              'forward then backward (gradient accumulation, no recompute: one chunk forward fewer than mimrl.c). '
              '*fraction*: GEMM work (mr_gemm\'s counter) per second over the FP64 GEMM rate (n = 2048) measured in the '
              'same process at the same OpenBLAS thread count. mimrl.c validates first: chunk 1 on one thread against '
              'the timed configuration on 2 samples, within 1e-10.')

BERT_STEP_PROSE = ('The whole MIMRL training step at the README configuration with a BERT-base text branch fine-tuned '
                   'in full (`bert_freeze no`, the official default), B = 128, Lt = 100 tokens (the Dec loaders pad to '
                   'exactly time_len = 100), MOSI-like audio/visual lengths; `step_bench prepare --bert base` and '
                   '`bench/step_torch.py` (BERT in chunks of 8 under torch.utils.checkpoint) on the same files, one '
                   'repetition without warm-up — the first step of a process, so first-touch page faults of the '
                   'workspace and of the 0.9 GB gradient array (zeroed inside the timed backward: mimrl.c\'s stage-1 '
                   'backward, 4.4 s here, takes 0.12 s warm) are in; the README gives a warm mimrl.c run and '
                   'the projection from it. *peak RSS*: of the whole process (each PyTorch dtype runs in a process '
                   'of its own). At B = 128 the twin runs in float32 only: in float64 it needs more than the '
                   'machine\'s 24 GB (the kernel\'s OOM killer stopped it at 23.2 GiB resident, all the machine had); B = 32 compares '
                   'both dtypes with mimrl.c at the same B. '
                   'The projection (B = 128 rows): 10.03 batches of 128 per epoch (1,284 training samples), each a stage-1 step '
                   '(forward + estimator backward) and a stage-2 step (forward + full backward), plus evaluation '
                   'forwards of the 229 + 686 valid/test samples (7.15 batches); optimizer updates and data '
                   'loading not counted.')


def bert_section(out):
    rows = heading(out, 'bert.csv', 'BERT-base forward + backward', 'bench/run_bert.sh', 'make bench-bert', None, BERT_PROSE)
    if rows:
        out.append('| implementation | OpenBLAS threads | chunk threads | B | L | chunk | phase | seconds | GEMM GFLOP | GEMM rate (GFLOP/s) | fraction | peak RSS (GB) |')
        out.append('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |')
        for r in rows:
            out.append(f'| {r["impl"]} | {r["blas_threads"]} | {r["chunk_threads"] or "–"} | {r["B"]} | {r["L"]} | {r["chunk"]} | '
                       f'{r["phase"]} | {f(r["seconds"], 2)} | {f(r["gemm_gflop"])} | {f(r["gemm_peak_gflops"])} | '
                       f'{f(r["fraction"], 2)} | {f(r["peak_rss_gb"], 2)} |')
        tot = {(r['impl'], r['blas_threads'], r['chunk_threads']): float(r['seconds']) for r in rows if r['phase'] == 'total'}
        c = tot.get(('c_openblas', '2', '2'))
        if c:
            out.append('')
            out.append(f'Total time, PyTorch ÷ mimrl.c (2 cores, chunk threads 2): float64 '
                       f'**{tot.get(("torch_f64", "2", ""), float("nan")) / c:.2f}×**, float32 '
                       f'{tot.get(("torch_f32", "2", ""), float("nan")) / c:.2f}×.')
        out.append('')
    rows = heading(out, 'bert_step.csv', 'MOSI training step with BERT-base, and the 70-epoch projection',
                   'bench/run_bert.sh', 'make bench-bert', None, BERT_STEP_PROSE)
    if not rows:
        return
    out.append('| B | Lt / La / Lv | implementation | forward (s) | stage-1 backward (s) | stage-2 backward (s) | stage-1 step (s) | stage-2 step (s) | peak RSS (GB) | epoch (s) | projected 70 epochs (h) |')
    out.append('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    t, shape, failed = {}, {}, {}
    for r in rows:
        k = (int(r['B']), r['impl'])
        shape[int(r['B'])] = f'{r["Lt"]} / {r["La"]} / {r["Lv"]}'
        if r['phase'].startswith('failed'):
            failed[k] = r['phase'].replace('failed_exit_', 'exit ')
            continue
        t.setdefault(k, {})[r['phase']] = float(r['ms']) / 1e3
        t[k]['rss'] = r['peak_rss_gb']
    for B in sorted(shape, reverse=True):
        for impl in ('c_openblas', 'torch_f64', 'torch_f32'):
            k = (B, impl)
            if k in failed:
                why = ' (killed: out of memory)' if failed[k] == 'exit 137' else ''
                out.append(f'| {B} | {shape[B]} | {impl} | did not run: {failed[k]}{why} | | | | | | | |')
                continue
            if k not in t or 'forward' not in t[k]:
                continue
            x = t[k]
            fw, b1, b2 = x['forward'], x.get('backward1', 0), x.get('backward2', 0)
            ep = 10.03 * (2 * fw + b1 + b2) + 7.15 * fw
            proj = f'**{70 * ep / 3600:,.1f}**' if B == 128 else '–'
            out.append(f'| {B} | {shape[B]} | {impl} | {fw:,.1f} | {b1:,.1f} | {b2:,.1f} | {fw + b1:,.1f} | {fw + b2:,.1f} | '
                       f'{f(x["rss"], 2)} | {ep if B == 128 else float("nan"):,.0f} | {proj} |'.replace('| nan |', '| – |'))
    out.append('')


def plain_section(out, name, title, script, cols):
    """the latest run of results/<name> as a table; cols: (header, key, right-aligned)"""
    rows = heading(out, name, title, script, 'make bench')
    if not rows:
        return
    out.append('| ' + ' | '.join(h for h, _, _ in cols) + ' |')
    out.append('| ' + ' | '.join('---:' if r else '---' for _, _, r in cols) + ' |')
    for r in rows:
        out.append('| ' + ' | '.join(r[k] for _, k, _ in cols) + ' |')
    out.append('')


def main():
    out = ['# mimrl.c benchmark results', '',
           '_Generated by `bench/report.py` from `bench/results/*.csv` (do not edit; `make bench-report`). '
           'Machine: the run stamp in each CSV row; all numbers below were measured by the scripts named._', '']
    step_section(out)
    gemm_section(out)
    train_section(out)
    bert_section(out)
    # prose measured by hand, copied in verbatim (the step profile; the paper
    # sweep's measured smoke times and projected profile durations)
    for prose in (os.path.join(HERE, 'profile.md'), os.path.join(HERE, '..', 'paper', 'out', 'TIMES.md')):
        if os.path.exists(prose):
            out.append(open(prose).read().rstrip() + '\n')
    plain_section(out, 'gru.csv', 'GRU alone (B = 128, H = 128, 2 layers, bidirectional, forward + backward)', 'bench/run_gru.sh',
                  [('implementation', 'impl', 0), ('L', 'L', 1), ('d_in', 'din', 1), ('median ms', 'median_ms', 1),
                   ('min ms', 'min_ms', 1), ('GFLOP/s (median)', 'gflops_median', 1)])
    plain_section(out, 'estimators.csv', 'Estimators (critic steps, k-NN product sampling)', 'bench/run_est.sh',
                  [('threads', 'threads', 1), ('bench', 'bench', 0), ('variant', 'variant', 0), ('B or N', 'B_or_N', 1),
                   ('d', 'd', 1), ('median ms', 'median_ms', 1), ('min ms', 'min_ms', 1), ('per second', 'per_second_median', 1)])
    with open(os.path.join(HERE, 'RESULTS.md'), 'w') as fh:
        fh.write('\n'.join(out))
    print('wrote bench/RESULTS.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
