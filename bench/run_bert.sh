#!/usr/bin/env bash
# bench/run_bert.sh OUT PYTHON — BERT-base in the benchmark (issue 12 item 9),
# mimrl.c against the PyTorch twin in float64 and float32, one run:
#  1. BERT-base forward + backward at B x L tokens (bench/bert_bench.c; the
#     twin: verify/torch/bert_torch.py bench), dropout on, in chunks of CHUNK
#     samples. mimrl.c on 1 core; on 2 cores with OpenBLAS threads only; on 2
#     cores with the chunk forwards on 2 threads (bert.h "Threads").
#     The twin runs each chunk's forward then backward (gradient
#     accumulation: no recompute, one chunk forward fewer than mimrl.c).
#  2. The MOSI training step with BERT-base fine-tuned (bert_freeze no, the
#     official default) at the README configuration: step_bench prepare
#     --bert base (Lt = L = time_len: the Dec loaders pad to exactly
#     time_len), timed by step_bench and by bench/step_torch.py (BERT in
#     chunks under torch.utils.checkpoint; each dtype in a process of its
#     own), 1 repetition, no warm-up; peak RSS of each process. At B = 128
#     the twin runs in float32 only (BENCH_BERT_STEP_DTYPES): in float64 it
#     needs more than 24 GB (killed by the kernel's OOM killer at 23.2 GiB resident);
#     at B = 32 (BENCH_BERT_SMALL_B; empty: skip) both dtypes run, beside
#     mimrl.c at the same B, for the speed ratio. From the step: the projected 70-epoch MOSI run (1,284
#     training samples = 10.03 batches of 128, each a stage-1 and a stage-2
#     step; evaluation forwards of 229 + 686 valid/test samples = 7.15
#     batches; optimizer updates and data loading not counted).
# Knobs: BENCH_BERT_B (128), BENCH_BERT_L (100), BENCH_BERT_CHUNK (8),
# BENCH_BERT_PARTS ("bert step"). Rows → bench/results/bert.csv and
# bench/results/bert_step.csv.
set -euo pipefail
out=$1; py=$2
B=${BENCH_BERT_B:-128}; L=${BENCH_BERT_L:-100}; chunk=${BENCH_BERT_CHUNK:-8}
parts=${BENCH_BERT_PARTS:-bert step}
source bench/lib.sh
mkdir -p bench/results "$out/bench"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.o" "$tmp.e"' EXIT

if [[ " $parts " == *" bert "* ]]; then
  csv=bench/results/bert.csv
  [ -s "$csv" ] || echo "utc,commit,B,L,chunk,impl,blas_threads,chunk_threads,phase,seconds,gemm_gflop,gemm_peak_gflops,fraction,peak_rss_gb" > "$csv"
  : > "$tmp"
  c_rows() { # impl openblas_threads chunk_threads
    OPENBLAS_NUM_THREADS=$2 "$out/bert_bench" --B "$B" --L "$L" --chunk "$chunk" --threads "$3" > "$tmp.o" 2> "$tmp.e" || { cat "$tmp.e" >&2; exit 1; }
    cat "$tmp.e" >&2
    local rss
    rss=$(sed -nE 's/.*peak RSS ([0-9.]+) GB.*/\1/p' "$tmp.o")
    grep -E '^(forward|backward|total),' "$tmp.o" | while IFS=, read -r ph sec gf _gfs pk fr; do
      echo "$stamp,$commit,$B,$L,$chunk,$1,$2,$3,$ph,$sec,$gf,$pk,$fr,$rss"
    done | tee -a "$tmp"
  }
  c_rows c_openblas 1 1
  c_rows c_openblas 2 1
  c_rows c_openblas 2 2
  for dt in float64 float32; do
    line=$("$py" verify/torch/bert_torch.py bench --B "$B" --L "$L" --chunk "$chunk" --dtype $dt --threads 2)
    echo "$line"
    f=$(echo "$line" | sed -nE 's/.*forward_s=([0-9.]+).*/\1/p'); b=$(echo "$line" | sed -nE 's/.*backward_s=([0-9.]+).*/\1/p')
    t=$(echo "$line" | sed -nE 's/.*total_s=([0-9.]+).*/\1/p'); r=$(echo "$line" | sed -nE 's/.*peak_rss_gb=([0-9.]+).*/\1/p')
    impl=torch_f64; [ $dt = float32 ] && impl=torch_f32
    for ph in forward:$f backward:$b total:$t; do
      echo "$stamp,$commit,$B,$L,$chunk,$impl,2,,${ph%%:*},${ph#*:},,,,$r" >> "$tmp"
    done
  done
  cat "$tmp" >> "$csv"
  echo
  echo "BERT-base forward + backward, B=$B L=$L chunk=$chunk (seconds; fraction of the FP64 GEMM rate measured in the same process)"
  awk -F, '{printf "  %-10s blas %s chunk-threads %-2s %-8s %9s s  %s  RSS %s GB\n", $6, $7, $8, $9, $10, ($13 == "" ? "" : "fraction " $13), $14}' "$tmp"
  awk -F, '$9 == "total" {t[$6 "/" $7 "/" $8] = $10} END {
    c = t["c_openblas/2/2"]; if (c > 0) printf "  PyTorch f64 / mimrl.c (2 cores): %.2fx, f32 / mimrl.c: %.2fx\n", t["torch_f64/2/"] / c, t["torch_f32/2/"] / c }' "$tmp"
fi

if [[ " $parts " == *" step "* ]]; then
  csv=bench/results/bert_step.csv
  [ -s "$csv" ] || echo "utc,commit,B,Lt,La,Lv,impl,threads,phase,ms,peak_rss_gb" > "$csv"
  data=$out/bench/synth_mosi_bert
  "$out/mimrl" synth --like mosi --n-train 256 --n-valid 8 --n-test 8 --out "$data" > /dev/null
  # step_at BATCH "DTYPES": mimrl.c, then the twin in each dtype in a process
  # of its own (its peak RSS is its own; a process the kernel kills for
  # memory is reported, not fatal)
  step_at() {
    local b=$1 dtypes=$2 dir=$out/bench/mosi_bert_step_$1
    : > "$tmp"
    mkdir -p "$dir"
    info=$("$out/step_bench" prepare --data "$data" --out "$dir" --B "$b" --bert base --Lt "$L")
    echo "[mosi+bert B=$b] $info"
    dims=$(echo "$info" | sed -E 's/.*B=([0-9]+), Lt=([0-9]+), La=([0-9]+), Lv=([0-9]+).*/\1,\2,\3,\4/')
    OPENBLAS_NUM_THREADS=2 "$out/step_bench" time --dir "$dir" --reps 1 --warmup 0 > "$tmp.o" 2> "$tmp.e" || { cat "$tmp.e" >&2; exit 1; }
    cat "$tmp.e" >&2
    rss=$(sed -nE 's/.*peak RSS ([0-9.]+) GB.*/\1/p' "$tmp.e")
    grep -E '^(forward|backward1|backward2),' "$tmp.o" | while IFS=, read -r ph med _mn _mx; do
      echo "$stamp,$commit,$dims,c_openblas,2,$ph,$med,$rss"
    done >> "$tmp"
    for dt in $dtypes; do
      impl=torch_f64; [ "$dt" = float32 ] && impl=torch_f32
      if STEP_TORCH_DTYPES=$dt STEP_TORCH_WARMUP=0 STEP_TORCH_BERT_CHUNK=$chunk "$py" bench/step_torch.py "$dir" 1 2 > "$tmp.o" 2> "$tmp.e"; then
        cat "$tmp.e" >&2
        r=$(sed -nE "s/^# $impl: peak RSS of the process so far ([0-9.]+) GB.*/\1/p" "$tmp.e")
        grep "^$impl," "$tmp.o" | while IFS=, read -r _i thr ph med _mn _mx; do
          echo "$stamp,$commit,$dims,$impl,$thr,$ph,$med,$r"
        done >> "$tmp"
      else
        st=$?
        cat "$tmp.e" >&2
        echo "[mosi+bert B=$b] $impl: exit $st$([ $st = 137 ] && echo ' (killed: out of memory)')"
        echo "$stamp,$commit,$dims,$impl,2,failed_exit_$st,," >> "$tmp"
      fi
    done
    cat "$tmp" >> "$csv"
    echo
    echo "MOSI training step with BERT-base, B=$b (ms, 1 repetition; peak RSS of the process)"
    awk -F, '{printf "  %-10s %-16s %10s ms  RSS %s GB\n", $7, $9, $10, $11}' "$tmp"
    awk -F, '{t[$7 "," $9] = $10} END {
      n = split("c_openblas torch_f64 torch_f32", I, " ");
      for (i = 1; i <= n; i++) {
        f = t[I[i] ",forward"]; b1 = t[I[i] ",backward1"]; b2 = t[I[i] ",backward2"];
        if (f == "") continue;
        printf "  %-10s stage-1 step %.1f s, stage-2 step %.1f s", I[i], (f + b1) / 1000, (f + b2) / 1000;
        ep = (10.03 * (2 * f + b1 + b2) + 7.15 * f) / 1000;   # batches of 128 only
        if ('"$b"' == 128) printf "; epoch %.0f s; projected 70 epochs %.1f h", ep, 70 * ep / 3600;
        printf "\n" }
    }' "$tmp"
  }
  # the real shape (B = 128): the twin in float32 only by default — in
  # float64 it needs more than the machine's 24 GB (BENCH_BERT_STEP_DTYPES);
  # and B = 32, where both dtypes of the twin fit, for the speed ratio
  step_at "$B" "${BENCH_BERT_STEP_DTYPES:-float32}"
  [ -n "${BENCH_BERT_SMALL_B:-32}" ] && step_at "${BENCH_BERT_SMALL_B:-32}" "float64 float32"
fi
