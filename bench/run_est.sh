#!/usr/bin/env bash
# bench/run_est.sh BENCH_BIN REPS — estimator throughput with 1 and 2 BLAS threads.
set -euo pipefail
bin=$1; reps=$2
out=bench/results/estimators.csv
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
source bench/lib.sh
for thr in 1 2; do
  OPENBLAS_NUM_THREADS=$thr "$bin" "$reps" | grep -v '^bench,' | sed "s/^/${thr},/" >> "$tmp"
done
[ -s "$out" ] || echo "utc,commit,threads,bench,variant,B_or_N,d,median_ms,min_ms,per_second_median" > "$out"
sed "s/^/$stamp,$commit,/" "$tmp" >> "$out"
echo
printf '%-4s %-12s %-9s %7s %4s %12s %12s %12s\n' thr bench variant B/N d median_ms min_ms per_s
awk -F, '{printf "%-4s %-12s %-9s %7s %4s %12s %12s %12s\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$tmp"
echo "(appended to $out)"
