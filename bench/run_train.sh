#!/usr/bin/env bash
# bench/run_train.sh OUT [SHAPES] — full training runs at the official README
# configuration (README "Training"), on synthetic data shaped like each
# dataset, or on real converted data given as BENCH_DATA_<SHAPE>=PREFIX.
#   mosi   the full split sizes, BENCH_EPOCHS_MOSI epochs (default 2)
#   mosei  BENCH_MOSEI_TRAIN training samples (default 2048 of 16326: one
#          epoch of the full split is ~8× longer) and valid/test splits cut
#          by the same factor (evaluation is a large part of an epoch), so
#          the whole epoch scales with it; BENCH_EPOCHS_MOSEI (2)
#   avec   the full split sizes, BENCH_EPOCHS_AVEC epochs (default 3)
# Epoch 0 has no stage 1 (O-22); every later epoch runs stage1_n = 2 estimator
# passes before the model pass, so the 70-epoch projection is
#   t(epoch 0) + 69 · t(epoch ≥ 1, median), scaled by 16326 / n_train for MOSEI
# (all three splits cut by that factor; with real data given, no scaling
# beyond the training-set ratio).
# Wall time per epoch from metrics.csv, peak memory from /usr/bin/time
# (maximum resident set), final metrics from the last row. Both BLAS threads
# available (OpenBLAS 2 threads, encoders on two threads).
# Rows → bench/results/train.csv.
set -euo pipefail
out=$1; shift
shapes=${*:-mosi mosei avec}
source bench/lib.sh
csv=bench/results/train.csv
[ -s "$csv" ] || echo "utc,commit,shape,data,n_train,epochs,epoch0_s,epoch_s_median,projected_70_epochs_h,peak_rss_mb,final_train_loss,final_valid_mae,final_test_mae,final_test_corr,final_test_ccc" > "$csv"
flags="--preset readme"  # the official README command (mimrl train --help lists it)
for shape in $shapes; do
  U=$(echo "$shape" | tr a-z A-Z)
  var=BENCH_DATA_$U; data=${!var:-}
  var=BENCH_EPOCHS_$U; epochs=${!var:-}
  case $shape in
    mosi) epochs=${epochs:-2}; full=1284; ntrain=;;
    mosei) epochs=${epochs:-2}; full=16326; ntrain=${BENCH_MOSEI_TRAIN:-2048};;
    avec) epochs=${epochs:-3}; full=163; ntrain=;;
    *) echo "run_train.sh: unknown shape $shape"; exit 2;;
  esac
  label=real
  if [ -z "$data" ]; then
    label=synthetic
    data=$out/bench/train_$shape
    cut=
    # MOSEI's real valid/test sizes, cut by n_train / 16326
    [ -n "$ntrain" ] && cut="--n-valid $(( (1871 * ntrain + 8163) / 16326 )) --n-test $(( (4659 * ntrain + 8163) / 16326 ))"
    "$out/mimrl" synth --like "$shape" ${ntrain:+--n-train $ntrain} $cut --out "$data" > /dev/null
  fi
  n=$("$out/mimrl" info "${data}_train.npz" | sed -nE 's/^ +label +<f[48] +\[([0-9]+).*/\1/p' | head -1)
  n=${n:-${ntrain:-$full}}
  run=$out/bench/run_$shape
  rm -rf "$run"
  echo "[$shape] $label data $data ($n training samples), $epochs epochs → $run"
  /usr/bin/time -f '%M' -o "$run.rss" "$out/mimrl" train --data "$data" --out "$run" $flags --epochs_num "$epochs" \
      --dataset "$([ "$shape" = avec ] && echo avec2019 || echo "${shape}_Dec")" > "$run.log" 2>&1 \
    || { echo "run_train.sh: training failed, see $run.log"; tail -5 "$run.log"; exit 1; }
  rss=$(( $(cat "$run.rss") / 1024 ))
  "${PYTHON:-/usr/bin/python3}" - "$run/metrics.csv" "$shape" "$label" "$n" "$full" "$epochs" "$rss" "$stamp" "$commit" >> "$csv" <<'PY'
import csv, statistics, sys
path, shape, label, n, full, epochs, rss, stamp, commit = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
t = [float(r['seconds']) for r in rows]
e0 = t[0]; e1 = statistics.median(t[1:]) if len(t) > 1 else float('nan')
proj = (e0 + 69 * e1) * int(full) / int(n) / 3600
last = rows[-1]
g = lambda k: last.get(k, '')
print(f"{stamp},{commit},{shape},{label},{n},{epochs},{e0:.1f},{e1:.1f},{proj:.2f},{rss},{g('train_loss')},{g('valid_mae')},{g('test_mae')},{g('test_corr')},{g('test_ccc')}")
PY
  tail -1 "$csv"
done
echo "(appended to $csv)"
