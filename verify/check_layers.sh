#!/usr/bin/env bash
# check_layers.sh [ROOT] — the layering rule of mimrl.c: a folder includes
# only from itself and from the folders below it. Ranks, lowest first:
#
#  -1 include     the installed public header: includes nothing of the tree
#   0 ref/core    numeric base: errors, BLAS, JSON, npz/npy, parameters, gradcheck
#   1 ref/nn      layers, losses, metrics, optimizers, MLP, recurrences
#   2 ref/bert    BERT: config.json, weights (HF directory,  (2: siblings,
#                 safetensors, npz), the layers               neither includes
#   2 estimators  MI bounds, critics, CMINE, k-NN, truth      the other)
#   3 datasets    mimrl-npz loader, synthetic data     (3: siblings, neither
#   3 ref/model   encoders, CubeMLP, the MIMRL model    includes the other)
#   4 ref/train   configuration, two-stage training
#   5 ref/api     the oracle step, the public C API (include/mimrl/mimrl.h)
#   6 ref/cli     the mimrl command
#   7 bench, verify (bench does not include verify, nor verify bench)
#
# Every .c/.h file below ROOT (default: the repository; build/ and .git/
# left out) is read, whatever folder it is in. An include is resolved the
# way the compiler resolves it with -I. -Iinclude: a quoted name first
# relative to the including file's folder ("../model/model.h", "rnn.h"),
# then from ROOT, then from include/; an angle-bracket name from ROOT, then
# from include/ (<ref/model/model.h> compiles too). A name that resolves to
# no file of the tree but starts with a layer folder ("ref/…", <verify/…>)
# counts as that path; any other unresolved name is a system header.
# A target whose folder is not the file's own and not of a lower rank is
# printed as  file:line: #include "…" points up (A → B)  and a source file
# in no layer as  file: in no layer  ; either makes the script exit 1.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
layers="include:-1 ref/core:0 ref/nn:1 ref/bert:2 estimators:2 datasets:3 ref/model:3 ref/train:4 ref/api:5 ref/cli:6 bench:7 verify:7"
files=$(find . \( -path ./build -o -path ./.git -o -path './build-*' \) -prune -o -type f -name '*.[ch]' -print 2>/dev/null | sed 's|^\./||' | sort)
printf '%s\n' "$files" | awk -v layers="$layers" '
function folder(p,   i, best, f) {
    best = ""
    for (i = 1; i <= n; i++) { f = name[i]; if (index(p, f "/") == 1 && length(f) > length(best)) best = f }
    return best
}
# a/b/../c → a/c, ./x → x; "" when the path climbs above ROOT
function norm(p,   parts, k, i, out, m) {
    k = split(p, parts, "/"); m = 0
    for (i = 1; i <= k; i++) {
        if (parts[i] == "" || parts[i] == ".") continue
        if (parts[i] == "..") { if (m == 0) return ""; m--; continue }
        out[++m] = parts[i]
    }
    p = ""
    for (i = 1; i <= m; i++) p = p (i > 1 ? "/" : "") out[i]
    return p
}
function dirof(p) { return p ~ /\// ? substr(p, 1, match(p, /\/[^\/]*$/) - 1) : "" }
function resolve(file, t, quoted,   c) {
    if (quoted) { c = norm(dirof(file) "/" t); if (c != "" && (c in exists)) return c }
    c = norm(t); if (c != "" && (c in exists)) return c
    c = norm("include/" t); if (c != "" && (c in exists)) return c
    c = norm(t)
    if (c != "" && folder(c) != "") return c
    if (quoted) { c = norm(dirof(file) "/" t); if (c != "" && folder(c) != "") return c }
    return ""
}
BEGIN { n = split(layers, L, " "); for (i = 1; i <= n; i++) { split(L[i], kv, ":"); name[i] = kv[1]; rank[kv[1]] = kv[2] + 0 } }
NF { exists[$0] = 1; list[++nf] = $0 }
END {
    for (j = 1; j <= nf; j++) {
        file = list[j]; src = folder(file); line = 0
        if (src == "") { printf "%s: in no layer (a source file outside %s)\n", file, layers; bad++ }
        while ((getline text < file) > 0) {
            line++
            if (text !~ /^[ \t]*#[ \t]*include[ \t]*["<]/) continue
            quoted = text ~ /^[ \t]*#[ \t]*include[ \t]*"/
            t = text
            if (quoted) { sub(/^[^"]*"/, "", t); sub(/".*$/, "", t) } else { sub(/^[^<]*</, "", t); sub(/>.*$/, "", t) }
            target = resolve(file, t, quoted)
            if (target == "") continue
            dst = folder(target)
            if (dst == "" || dst == src || src == "") continue
            if (rank[dst] >= rank[src]) {
                printf "%s:%d: #include %s%s%s points up (%s → %s)\n", file, line, quoted ? "\"" : "<", t, quoted ? "\"" : ">", src, dst
                bad++
            }
        }
        close(file)
    }
    if (bad) { printf "check_layers: %d violation(s)\n", bad; exit 1 }
    printf "check_layers: %d files, no upward include\n", nf
}'
