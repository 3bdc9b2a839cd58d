#!/usr/bin/env bash
# bench/run_gru.sh BENCH_BIN PYTHON REPS — GRU benchmark, C and PyTorch in one run.
set -euo pipefail
bin=$1; py=$2; reps=$3
# PyTorch rows above this length are skipped (see bench/gru_torch.py for why).
torch_max_l=${BENCH_TORCH_MAX_L:-100}
out=bench/results/gru.csv
tmp=$(mktemp)
source bench/lib.sh
for thr in 1 2; do
  OPENBLAS_NUM_THREADS=$thr "$bin" "$reps" | sed "s/^c-openblas/c-openblas-${thr}thr/" >> "$tmp"
  "$py" bench/gru_torch.py "$reps" "$thr" "$torch_max_l" >> "$tmp"
done
[ -s "$out" ] || echo "utc,commit,impl,B,L,din,H,layers,median_ms,min_ms,gflops_median" > "$out"
grep -v '^impl' "$tmp" | sed "s/^/$stamp,$commit,/" >> "$out"
echo
printf '%-22s %5s %4s %12s %12s %10s\n' impl L din median_ms min_ms GFLOP/s
grep -v '^impl' "$tmp" | awk -F, '{printf "%-22s %5s %4s %12s %12s %10s\n", $1, $3, $4, $7, $8, $9}'
echo
echo "ratio PyTorch f64 / C (median time, same thread count):"
for thr in 1 2; do
  awk -F, -v t=$thr '$1=="c-openblas-" t "thr" || $1=="c-gslcblas" || $1=="c-none (reference loops)" {c[$3","$4]=$7}
       $1=="torch-f64-" t "thr" {p[$3","$4]=$7}
       END {for (k in c) if (k in p) printf "  %d thr  L,din=%-7s  C %9.1f ms  torch %9.1f ms  ratio %.2fx\n", t, k, c[k], p[k], p[k]/c[k]}' "$tmp" | sort
done
rm -f "$tmp"
echo "(appended to $out; PyTorch rows only for L <= $torch_max_l, BENCH_TORCH_MAX_L=500 for all)"
