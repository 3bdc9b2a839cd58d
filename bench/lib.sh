# bench/lib.sh — sourced by the bench/run_*.sh scripts: the run stamp
# (UTC time, commit, cores, CPU model) every results row carries.
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD -- ref estimators datasets bench ':!bench/results' ':!bench/RESULTS.md' 2>/dev/null; then commit="$commit+dirty"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo "[bench] $stamp commit $commit, $(nproc) cores, $cpu"
