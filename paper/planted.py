#!/usr/bin/env python3
"""paper/planted.py - the planted-information study (issue #20; T6 of the paper).

Does MIMRL's decomposition measure what it claims? Each knob of `mimrl synth`
(datasets/planted.h) is swept alone over >= 5 levels, the others at their
defaults, and three levels of quantities are recorded per setting:
  (a) MIMRL's composites on the raw latent views with perfect estimators
      (`mimrl synth --truth-only`: closed form without synergy, Monte Carlo with
      standard error otherwise), nats;
  (b) the MMI PID reference of (T,A->Y), (T,V->Y), (A,V->Y) and the co-information, nats;
  (c) MIMRL trained with `mimrl train` on the synthetic data (small sizes), the
      best-valid-epoch valid-split averages in metrics.csv: the official composites
      (VMI bounds + official CMI read-out, NOT nats) and, where metrics.csv has them
      (the "units:" commit on main), the composites in nats.
Response matrix: Spearman rho of (level, seed-mean) per knob x quantity, with a 95%
seed-bootstrap interval (seeds resampled with replacement within each level, 2000
replicates). For (a)/(b) the "seeds" are independent Monte-Carlo replicates (closed
forms: all equal, the interval is a point).
Verdict rule (fixed before the run): the interval decides the direction:
  up    = lower bound > 0;  down = upper bound < 0;  flat = the interval contains 0
          (or the quantity does not change at all).
  On a target cell (the knob the quantity is meant to measure) up = "tracks",
  flat = "flat", down = "moves the wrong way"; for --obs-noise the expected
  direction is down (more noise, less information) on fus_* and inv.
  Other cells report the direction only.

  planted.py run [--smoke] [--out DIR] [--work DIR] [--bin build/mimrl] [--jobs N]
  planted.py report [--smoke] [--out DIR]     matrix and figures again from OUT/values.csv
"""
import argparse
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

DEFAULTS = {"redundancy": 1.0, "unique-t": 0.6, "unique-a": 0.4, "unique-v": 0.4,
            "synergy-ta": 0.0, "synergy-tv": 0.0, "synergy-av": 0.6, "obs-noise": 0.0}
LEVELS = {
    "redundancy": [0.0, 0.5, 1.0, 1.5, 2.0],
    "unique-t": [0.0, 0.3, 0.6, 1.0, 1.5],
    "unique-a": [0.0, 0.2, 0.4, 0.8, 1.2],
    "unique-v": [0.0, 0.2, 0.4, 0.8, 1.2],
    "synergy-ta": [0.0, 0.3, 0.6, 1.0, 1.5],
    "synergy-tv": [0.0, 0.3, 0.6, 1.0, 1.5],
    "synergy-av": [0.0, 0.3, 0.6, 1.0, 1.5],
    "obs-noise": [0.0, 0.25, 0.5, 1.0, 2.0],
}
COMP = ["fus_T", "fus_A", "fus_V", "inv", "spec_T", "spec_A", "spec_V", "comp"]
CSVQ = ["ft", "fa", "fv", "in", "st", "sa", "sv", "cp"]  # metrics.csv suffixes, same order
PIDQ = [("T,A", "R"), ("T,A", "U1"), ("T,A", "U2"), ("T,A", "S"), ("T,V", "R"), ("T,V", "U1"), ("T,V", "U2"), ("T,V", "S"),
        ("A,V", "R"), ("A,V", "U1"), ("A,V", "U2"), ("A,V", "S"), ("A,V", "coi")]
PIDNAME = {("T,A", "U1"): "U_T(TA)", ("T,A", "U2"): "U_A(TA)", ("T,V", "U1"): "U_T(TV)", ("T,V", "U2"): "U_V(TV)",
           ("A,V", "U1"): "U_A(AV)", ("A,V", "U2"): "U_V(AV)"}
TARGET = {  # knob -> {quantity: expected sign}
    "redundancy": {"a:inv": 1, "c:inv": 1, "c:inv_nats": 1, "b:R_TA": 1, "b:R_TV": 1, "b:R_AV": 1},
    "unique-t": {"a:spec_T": 1, "c:spec_T": 1, "c:spec_T_nats": 1, "b:U_T(TA)": 1, "b:U_T(TV)": 1},
    "unique-a": {"a:spec_A": 1, "c:spec_A": 1, "c:spec_A_nats": 1, "b:U_A(TA)": 1, "b:U_A(AV)": 1},
    "unique-v": {"a:spec_V": 1, "c:spec_V": 1, "c:spec_V_nats": 1, "b:U_V(TV)": 1, "b:U_V(AV)": 1},
    "synergy-ta": {"a:comp": 1, "c:comp": 1, "c:comp_nats": 1, "b:S_TA": 1},
    "synergy-tv": {"a:comp": 1, "c:comp": 1, "c:comp_nats": 1, "b:S_TV": 1},
    "synergy-av": {"b:S_AV": 1},
    "obs-noise": {"a:fus_T": -1, "a:fus_A": -1, "a:fus_V": -1, "a:inv": -1, "c:fus_T": -1, "c:fus_A": -1, "c:fus_V": -1,
                  "c:inv": -1, "c:inv_nats": -1},
}
PROFILES = {
    # n: synthetic split sizes; epochs etc.: `mimrl train` flags over the official mosi_final flag set
    "full": {"seeds": [1, 2, 3], "mc": 10000, "n": (256, 64, 64), "epochs": 4, "knobs": list(LEVELS), "train_knobs": list(LEVELS),
             "levels": LEVELS},
    "smoke": {"seeds": [1, 2], "mc": 400, "n": (32, 16, 16), "epochs": 1, "knobs": list(LEVELS), "train_knobs": ["redundancy"],
              "levels": {k: v[:5] for k, v in LEVELS.items()}},
}
PRIORITY = ["redundancy", "unique-t", "synergy-ta", "unique-a", "obs-noise", "synergy-av", "synergy-tv", "unique-v"]
TRAIN_FLAGS = {"batch_size": "32", "time_len": "8", "d_hiddens": "8-3-128=4-3-128", "d_outs": "8-3-128=4-3-128"}


def key(knob, level):
    return "%s=%g" % (knob, level)


def knob_args(knob, level):
    return ["--" + knob, repr(float(level))]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode, (p.stderr or p.stdout)[-1500:]))
    return p.stdout


# ------------------------------------------------------------------ (a), (b)
def truth(binary, knob, level, seed, mc, cache=None):
    path = os.path.join(cache, "%s_seed%d_mc%d.json" % (key(knob, level), seed, mc)) if cache else None
    if path and os.path.exists(path):
        with open(path) as f:
            out = f.read()
    else:
        out = run([binary, "synth", "--truth-only", "--seed", str(seed), "--mc-samples", str(mc)] + knob_args(knob, level))
        if path:
            with open(path + ".tmp", "w") as f:
                f.write(out)
            os.replace(path + ".tmp", path)
    t = json.loads(out)["truth"]
    row = {}
    for q in COMP:
        row["a:" + q] = t["composites"][q]["value"]
        row["a:" + q + ":se"] = t["composites"][q]["se"]
    for name, v in t["terms"].items():
        row["a:" + name] = v["value"]
    for pair, atom in PIDQ:
        n = "b:" + PIDNAME.get((pair, atom), "%s_%s" % (atom, pair.replace(",", "")))
        row[n] = t["pid"][pair][atom]["value"]
        row[n + ":se"] = t["pid"][pair][atom]["se"]
    row["closed"] = 1 if t["mc_samples"] == 0 else 0
    return row


# ------------------------------------------------------------------ (c)
def base_flags():
    with open(os.path.join(HERE, "experiments.json")) as f:
        spec = json.load(f)
    flags = dict(spec["flagsets"]["mosi_final"]["flags"])
    flags.update(TRAIN_FLAGS)
    return flags


def canon(knob, level):
    """one training directory per distinct model: every knob's default level is the same setting"""
    return "default" if level == DEFAULTS[knob] else key(knob, level)


def train_one(binary, work, prof, knob, level, seed, flags, start_by=None):
    d = os.path.join(work, "runs", canon(knob, level), "seed%d" % seed)
    summ = os.path.join(d, "run", "summary.json")
    if not os.path.exists(summ) and start_by is not None and time.time() > start_by:
        return None  # not started before --start-by: reported as not run
    if not os.path.exists(summ):
        if os.path.exists(d):
            shutil.rmtree(d)
        os.makedirs(d)
        n = prof["n"]
        run([binary, "synth", "--seed", str(seed), "--n-train", str(n[0]), "--n-valid", str(n[1]), "--n-test", str(n[2]),
             "--max-frames", "16", "--max-words", "8", "--mc-samples", "100", "--out", os.path.join(d, "data", "p")]
            + knob_args(knob, level))
        a = [binary, "train", "--data", os.path.join(d, "data", "p"), "--out", os.path.join(d, "run")]
        fl = dict(flags, epochs_num=str(prof["epochs"]), seed=str(seed))
        for k, v in fl.items():
            if v is True:
                a.append("--" + k)
            elif v is not False:
                a += ["--" + k, str(v)]
        run(a, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        shutil.rmtree(os.path.join(d, "data"), ignore_errors=True)
        for f in ("best.npz", "last.npz"):
            try:
                os.remove(os.path.join(d, "run", f))
            except OSError:
                pass
    with open(summ) as f:
        best = json.load(f)["best_valid_epoch"]
    with open(os.path.join(d, "run", "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    r = next(x for x in rows if int(x["epoch"]) == int(best))
    out = {}
    for q, c in zip(COMP, CSVQ):
        out["c:" + q] = float(r["valid_" + c])
        if "valid_%s_nats" % c in r and r["valid_%s_nats" % c] not in ("", None):
            out["c:" + q + "_nats"] = float(r["valid_%s_nats" % c])
    for col, v in r.items():  # the 11 terms as read out and in nats (values.csv only)
        if col.startswith("valid_I_") and v not in ("", None):
            out["c:" + col[len("valid_"):]] = float(v)
    return out


# ------------------------------------------------------------------ statistics
def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(x, y):
    y = [round(v, 9) for v in y]  # closed forms: differences below 1e-9 nats are rounding, not response
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return 0.0  # constant response: no rank correlation
    return sxy / math.sqrt(sxx * syy)


def response(levels, per_level, nboot=2000, seed=12345):
    """per_level: list (per level) of lists (per seed) of values. rho on seed means, percentile bootstrap."""
    means = [sum(v) / len(v) for v in per_level]
    rho = spearman(levels, means)
    rng = random.Random(seed)
    boots = []
    for _ in range(nboot):
        m = []
        for v in per_level:
            s = [v[rng.randrange(len(v))] for _ in v]
            m.append(sum(s) / len(s))
        boots.append(spearman(levels, m))
    boots.sort()
    return rho, boots[int(0.025 * nboot)], boots[int(0.975 * nboot) - 1], means


def verdict(lo, hi, expect):
    d = "up" if lo > 0 else "down" if hi < 0 else "flat"
    if not expect:
        return d
    if d == "flat":
        return "FLAT"
    return "TRACKS" if (d == "up") == (expect > 0) else "WRONG WAY"


# ------------------------------------------------------------------ report
def figures(out, res, prof):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return ["figures skipped: matplotlib not importable (%s)" % e]
    made = []
    knobs = prof["knobs"]
    cols = {"inv": "C0", "spec_T": "C1", "spec_A": "C2", "spec_V": "C3", "comp": "C4"}
    fig, axes = plt.subplots(2, 4, figsize=(18, 8), squeeze=False)
    for ax, knob in zip(axes.flat, knobs):
        lv = res[knob]["levels"]
        for q, c in cols.items():
            a = res[knob]["means"].get("a:" + q)
            if a:
                ax.plot(lv, a, "-o", color=c, label=q + " (a) truth")
            cc = res[knob]["means"].get("c:" + q + "_nats")
            if cc:
                ax.plot(lv, cc, "--x", color=c, alpha=0.7, label=q + " (c) trained, nats")
        ax.set_title("--" + knob)
        ax.set_xlabel("knob level")
        ax.axhline(0, color="k", lw=0.5)
    axes.flat[0].set_ylabel("nats")
    axes.flat[0].legend(fontsize=6)
    fig.suptitle("Planted information: MIMRL composites with perfect estimators on the raw views (a, solid) and trained "
                 "on learned representations (c, dashed, VMI bounds + CMI dv read-out; mean of 3 seeds), nats")
    fig.tight_layout()
    p = os.path.join(out, "F_planted_mimrl.png")
    fig.savefig(p, dpi=80)
    plt.close(fig)
    made.append(p)
    fig, axes = plt.subplots(2, 4, figsize=(18, 8), squeeze=False)
    pq = ["b:R_TA", "b:U_T(TA)", "b:U_A(TA)", "b:S_TA", "b:S_TV", "b:R_AV", "b:S_AV"]
    for ax, knob in zip(axes.flat, knobs):
        lv = res[knob]["levels"]
        for i, q in enumerate(pq):
            v = res[knob]["means"].get(q)
            if v:
                ax.plot(lv, v, "-o", color="C%d" % i, label=q[2:])
        ax.set_title("--" + knob)
        ax.set_xlabel("knob level")
    axes.flat[0].set_ylabel("nats (MMI PID)")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Planted information: MMI PID reference (b)")
    fig.tight_layout()
    p = os.path.join(out, "F_planted_pid.png")
    fig.savefig(p, dpi=80)
    plt.close(fig)
    made.append(p)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "report"], help="report: matrix and figures again from OUT/values.csv")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "mimrl"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--work", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-train", action="store_true", help="(a), (b) only")
    ap.add_argument("--start-by", help="HH:MM UTC: training runs not started by then are skipped and reported as not run")
    a = ap.parse_args(argv)
    pname = "smoke" if a.smoke else "full"
    prof = PROFILES[pname]
    out = a.out or os.path.join(HERE, "out", "planted" if pname == "full" else "planted-smoke")
    work = a.work or os.path.join(REPO, "runs", "planted", pname)
    os.makedirs(out, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    binary = os.path.abspath(a.bin)
    if a.cmd == "report":
        made = report(out, read_values(os.path.join(out, "values.csv")), prof, pname)
        print("planted: report -> %s (%s)" % (out, ", ".join(os.path.basename(m) for m in made)))
        return 0
    t0 = time.time()
    settings = sorted({(k, l) for k in prof["knobs"] for l in prof["levels"][k]})
    rows = {(k, l, s): {} for k, l in settings for s in prof["seeds"]}
    start_by = None
    if a.start_by:
        hh, mm = a.start_by.split(":")
        now = time.gmtime()
        start_by = time.mktime(time.struct_time((now.tm_year, now.tm_mon, now.tm_mday, int(hh), int(mm), 0, 0, 0, 0))) - time.timezone
    not_run = []
    if not a.no_train:  # training first (targets first: PRIORITY), then the truths (cached per setting)
        flags = base_flags()
        tasks = {}
        for k in sorted(prof["train_knobs"], key=PRIORITY.index):
            for l in prof["levels"][k]:
                for s in prof["seeds"]:
                    tasks.setdefault((canon(k, l), s), (k, l, s))
        with ThreadPoolExecutor(max_workers=a.jobs) as ex:
            futs = {ck: ex.submit(train_one, binary, work, prof, *t, flags, start_by) for ck, t in tasks.items()}
            done = {ck: f.result() for ck, f in futs.items()}
        for k, l in settings:
            if k in prof["train_knobs"]:
                for s in prof["seeds"]:
                    r = done[(canon(k, l), s)]
                    if r is None:
                        not_run.append((k, l, s))
                    else:
                        rows[(k, l, s)].update(r)
    t1 = time.time()
    cache = os.path.join(work, "truth")
    os.makedirs(cache, exist_ok=True)
    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = {(k, l, s): ex.submit(truth, binary, k, l, s, prof["mc"], cache) for k, l in settings for s in prof["seeds"]}
        for kk, f in futs.items():
            rows[kk].update(f.result())
    t_truth = time.time() - t1
    wall = time.time() - t0
    # long table
    names = sorted({n for r in rows.values() for n in r if n != "closed"})
    with open(os.path.join(out, "values.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["knob", "level", "seed", "closed_form"] + names)
        for (k, l, s), r in sorted(rows.items()):
            w.writerow([k, l, s, r.get("closed", "")] + ["%.6g" % r[n] if n in r else "" for n in names])
    made = report(out, rows, prof, pname)
    write_run_md(out, argv, wall, t_truth, a.jobs, pname, prof, made, not_run)
    print("planted: %d settings, wall %.0f s -> %s" % (len(settings), wall, out))
    return 0


def read_values(path):
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            k = (r["knob"], float(r["level"]), int(r["seed"]))
            # values.csv of the first full run named the PID uniques U_T|TA etc. ('|' breaks markdown tables)
            rows[k] = {(n.split("|")[0] + "(" + n.split("|")[1] + ")" if n.startswith("b:") and "|" in n else n): float(v)
                       for n, v in r.items() if n not in ("knob", "level", "seed", "closed_form") and v != ""}
    return rows


def write_run_md(out, argv, wall, t_truth, jobs, pname, prof, made, not_run=()):
    with open(os.path.join(out, "RUN.md"), "w") as f:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        f.write("# How these files were made\n\ncommand: `%s`\n\ncommit: %s\n\nwall time: %.0f s (truth %.0f s), %d jobs, host %s\n\n"
                "profile %s: seeds %s, synthetic splits %s (MOSI-like, --max-frames 16 --max-words 8), %d epoch(s), "
                "`mimrl train` flags = experiments.json mosi_final + %s\n\nfigures: %s\n" % (
                    " ".join([os.path.relpath(sys.argv[0], REPO)] + (argv if argv is not None else sys.argv[1:])),
                    commit, wall, t_truth, jobs, os.uname().nodename, pname, prof["seeds"], prof["n"], prof["epochs"],
                    json.dumps(TRAIN_FLAGS), ", ".join(os.path.basename(m) for m in made)))
        if not_run:
            f.write("\ntraining runs not run (not started by --start-by): %d — %s\n" % (
                len(not_run), ", ".join("%s seed %d" % (key(k, l), s) for k, l, s in not_run)))


def report(out, rows, prof, pname):
    # matrix
    qcols = ["a:" + q for q in COMP] + ["b:" + PIDNAME.get(p, "%s_%s" % (p[1], p[0].replace(",", ""))) for p in PIDQ] + \
            ["c:" + q for q in COMP] + ["c:" + q + "_nats" for q in COMP]
    res, mrows = {}, []
    for knob in prof["knobs"]:
        lv = sorted({k[1] for k in rows if k[0] == knob})  # the levels that were run
        res[knob] = {"levels": lv, "means": {}}
        for q in qcols:
            per = [[rows[(knob, l, s)][q] for s in prof["seeds"] if q in rows[(knob, l, s)]] for l in lv]
            if any(len(p) != len(prof["seeds"]) for p in per):
                continue  # a level without every seed (not run): no cell
            rho, lo, hi, means = response(lv, per)
            exp = TARGET.get(knob, {}).get(q, 0)
            res[knob]["means"][q] = means
            mrows.append([knob, q, "%.3f" % rho, "[%.3f, %.3f]" % (lo, hi), verdict(lo, hi, exp),
                          "target %+d" % exp if exp else "", " ".join("%.3f" % m for m in means)])
    hdr = ["knob", "quantity", "Spearman rho", "95% seed-bootstrap", "verdict", "expected", "seed means per level"]
    with open(os.path.join(out, "matrix.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(hdr)
        w.writerows(mrows)
    with open(os.path.join(out, "matrix.md"), "w") as f:
        f.write("# Planted-information response matrix (%s profile)\n\n" % pname)
        f.write("Quantities: `a:` MIMRL composites on the raw latent views with perfect estimators (F := Y), nats; "
                "`b:` MMI PID (Barrett 2015) and co-information, nats; `c:` MIMRL trained (`mimrl train`), best-valid epoch, "
                "valid split: `c:<q>` the official composites (VMI bounds + official CMI read-out, NOT nats), "
                "`c:<q>_nats` the nats composites (present only when metrics.csv has them).\n\n"
                "Verdict (rule fixed before the run): up/down/flat from the 95%% seed-bootstrap interval of Spearman rho "
                "(lower > 0 / upper < 0 / contains 0); on target cells TRACKS / FLAT / WRONG WAY against the expected sign. "
                "Knob levels: %s; seeds %s; Monte-Carlo draws per truth %d.\n\n" % (
                    "; ".join("--%s %s" % (k, ",".join("%g" % x for x in res[k]["levels"])) for k in prof["knobs"]),
                    prof["seeds"], prof["mc"]))
        f.write("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr) + "\n")
        for r in mrows:
            f.write("| " + " | ".join(r) + " |\n")
    return figures(out, res, prof)


if __name__ == "__main__":
    sys.exit(main())
