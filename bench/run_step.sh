#!/usr/bin/env bash
# bench/run_step.sh OUT PYTHON REPS [SHAPES] — training-step throughput of the
# whole model at the official README configuration, mimrl.c (OpenBLAS on 1
# core and on 2 cores, BLAS=none) and the verify/torch implementation in
# float64 and float32 (2 threads), the same batch files, in one run.
#   OUT     the build folder (OUT/step_bench, OUT/mimrl, OUT/none/…)
#   SHAPES  mosi mosei avec (default all); BENCH_DATA_<SHAPE>=PREFIX uses real
#           converted data instead of the synthetic stand-in
# Rows → bench/results/step.csv; ratios printed; RESULTS.md regenerated.
set -euo pipefail
out=$1; py=$2; reps=$3; shift 3
shapes=${*:-mosi mosei avec}
source bench/lib.sh
# the machine's FP64 GEMM rate (n = 2048) on 1 and 2 threads → peak.csv
[ -s bench/results/peak.csv ] || echo "utc,commit,threads,n,gflops" > bench/results/peak.csv
for thr in 1 2; do
  OPENBLAS_NUM_THREADS=$thr "$out/step_bench" peak | sed "s/^/$stamp,$commit,$thr,/" >> bench/results/peak.csv
done
tail -2 bench/results/peak.csv | awk -F, '{printf "[peak] FP64 GEMM n=%s, %s thread(s): %s GFLOP/s\n", $4, $3, $5}'
csv=bench/results/step.csv
[ -s "$csv" ] || echo "utc,commit,shape,B,La,Lv,Lt,bank_N,impl,threads,phase,median_ms,min_ms,max_ms" > "$csv"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.err"' EXIT
for shape in $shapes; do
  case $shape in
    mosi) N=1284;; mosei) N=16326;; avec) N=163;;
    *) echo "run_step.sh: unknown shape $shape (mosi, mosei, avec)"; exit 2;;
  esac
  dir=$out/bench/${shape}_step
  mkdir -p "$dir"
  var=BENCH_DATA_$(echo "$shape" | tr a-z A-Z)
  data=${!var:-}
  if [ -z "$data" ]; then
    data=$out/bench/synth_$shape
    # the batch is drawn from 256 samples: the first shuffled batch of 128 (same length distribution as the full split)
    "$out/mimrl" synth --like "$shape" --n-train 256 --n-valid 8 --n-test 8 --out "$data" > /dev/null
  fi
  info=$("$out/step_bench" prepare --data "$data" --out "$dir" --bank-N $N)
  echo "[$shape] $info"
  dims=$(echo "$info" | sed -E 's/.*B=([0-9]+), Lt=([0-9]+), La=([0-9]+), Lv=([0-9]+).*/\1,\3,\4,\2/')
  # validation before timing: both builds' oracle outputs against PyTorch float64
  "$out/mimrl" oracle --checkpoint "$dir/ckpt.npz" --batch "$dir/batch.npz" --out "$dir/c_openblas.npz" > /dev/null
  "$out/none/mimrl" oracle --checkpoint "$dir/ckpt.npz" --batch "$dir/batch.npz" --out "$dir/c_none.npz" > /dev/null
  rows() { grep -v '^phase' | sed "s/^/$stamp,$commit,$shape,$dims,$N,$1,$2,/" >> "$tmp"; }
  MIMRL_ENCODER_THREADS=1 OPENBLAS_NUM_THREADS=1 "$out/step_bench" time --dir "$dir" --reps "$reps" 2>/dev/null | rows c_openblas 1
  OPENBLAS_NUM_THREADS=2 "$out/step_bench" time --dir "$dir" --reps "$reps" 2>"$tmp.err" | rows c_openblas 2
  # GEMM work of each phase (mr_gemm_flops) → step_flops.csv
  [ -s bench/results/step_flops.csv ] || echo "utc,commit,shape,phase,gemm_gflop" > bench/results/step_flops.csv
  sed -nE 's/^\[flops\] forward ([0-9.]+) backward1 ([0-9.]+) backward2 ([0-9.]+).*/forward,\1\nbackward1,\2\nbackward2,\3/p' "$tmp.err" \
    | sed "s/^/$stamp,$commit,$shape,/" >> bench/results/step_flops.csv
  MIMRL_ENCODER_THREADS=1 "$out/none/step_bench" time --dir "$dir" --reps 1 2>/dev/null | rows c_none 1
  "$py" bench/step_torch.py "$dir" "$reps" 2 "$dir/c_openblas.npz" "$dir/c_none.npz" | sed "s/^/$stamp,$commit,$shape,$dims,$N,/" >> "$tmp"
done
cat "$tmp" >> "$csv"
echo
echo "step time = forward + backward of the stage (ms, median of $reps; c_none: 1 rep); ratio = PyTorch / mimrl.c on 2 cores"
awk -F, '{k=$3","$9","$10; t[k","$11]=$12} END {
  n = split("mosi mosei avec", S, " ");
  printf "%-6s %-12s %4s %12s %12s\n", "shape", "impl", "thr", "stage1_ms", "stage2_ms";
  for (i = 1; i <= n; i++) {
    s = S[i];
    split("c_openblas,1 c_openblas,2 c_none,1 torch_f64,2 torch_f32,2", I, " ");
    for (j = 1; j <= 5; j++) { k = s "," I[j]; if ((k ",forward") in t) {
      split(I[j], q, ","); s1 = t[k ",forward"] + t[k ",backward1"]; s2 = t[k ",forward"] + t[k ",backward2"];
      st1[s "," I[j]] = s1; st2[s "," I[j]] = s2;
      printf "%-6s %-12s %4s %12.1f %12.1f\n", s, q[1], q[2], s1, s2 } }
    c = s ",c_openblas,2";
    if (c in st2) for (j = 4; j <= 5; j++) { k = s "," I[j]; if (k in st2)
      printf "%-6s ratio %-9s / mimrl.c 2 cores: stage 1 %.2fx, stage 2 %.2fx\n", s, I[j], st1[k] / st1[c], st2[k] / st2[c] }
  } }' "$tmp"
echo "(appended to $csv)"
