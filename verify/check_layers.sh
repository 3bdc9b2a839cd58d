#!/usr/bin/env bash
# check_layers.sh [ROOT] — the layering rule of mimrl.c: a folder includes
# only from itself and from the folders below it. Ranks, lowest first:
#
#   0 ref/core    numeric base: errors, BLAS, JSON, npz/npy, parameters, gradcheck
#   1 ref/nn      layers, losses, metrics, optimizers, MLP, recurrences
#   2 estimators  MI bounds, critics, CMINE, k-NN, ground truth
#   3 datasets    mimrl-npz loader, synthetic data     (3: siblings, neither
#   3 ref/model   encoders, CubeMLP, the MIMRL model    includes the other)
#   4 ref/train   configuration, two-stage training
#   5 ref/api     the oracle step, the public C API (include/mimrl/mimrl.h)
#   6 ref/cli     the mimrl command
#   7 bench, verify (bench does not include verify, nor verify bench)
#
# Every '#include "…"' in a .c/.h file below ROOT (default: the repository)
# whose target lies in a folder that is not the file's own and not of a
# lower rank is printed as  file:line: #include "…" points up (A → B)  and
# the script exits 1.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
layers="ref/core:0 ref/nn:1 estimators:2 datasets:3 ref/model:3 ref/train:4 ref/api:5 ref/cli:6 bench:7 verify:7"
find ref estimators datasets bench verify -name '*.[ch]' -type f 2>/dev/null | sort |
awk -v layers="$layers" '
function folder(p,   i, best, f) {
    best = ""
    for (i = 1; i <= n; i++) { f = name[i]; if (index(p, f "/") == 1 && length(f) > length(best)) best = f }
    return best
}
BEGIN { n = split(layers, L, " "); for (i = 1; i <= n; i++) { split(L[i], kv, ":"); name[i] = kv[1]; rank[kv[1]] = kv[2] } }
{
    file = $0; src = folder(file); line = 0
    while ((getline text < file) > 0) {
        line++
        if (text !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
        t = text; sub(/^[^"]*"/, "", t); sub(/".*$/, "", t)
        dst = folder(t)
        if (dst == "" || dst == src) continue
        if (src == "" || rank[dst] >= rank[src]) {
            printf "%s:%d: #include \"%s\" points up (%s → %s)\n", file, line, t, src, dst
            bad++
        }
    }
    close(file)
}
END { if (bad) { printf "check_layers: %d upward include(s)\n", bad; exit 1 }; printf "check_layers: %d files, no upward include\n", NR }'
