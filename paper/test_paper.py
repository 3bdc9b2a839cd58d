#!/usr/bin/env python3
"""paper/test_paper.py - tests of the paper sweep (make test-paper; part of make test).

  layers             paper/ imports point one way (plan <- aggregate <- sweep); planted upward imports are caught
  local_smoke        the whole smoke profile through the local pool: T1-T6 (.md, .tex), figures, manifest;
                     a second `run` finds everything done and trains nothing
  failed_run         a run that exits non-zero is recorded as failed with its stderr's last lines
  kill_resume        SIGKILL of a `mimrl train` mid-epoch; the re-run continues it with --resume and the
                     tables equal the uninterrupted sweep's byte for byte
  data_plan          every profile plans every declared dataset: one without a synthetic shape (POM) is skipped
                     with the reason in synthetic profiles, and needs its PAPER_DATA_* in the real one (no binary)
  limits             experiments.json "limits" per dataset: Slurm --time/--mem, --limit overrides, --max-time
                     segments, the local engine's concurrency (no Slurm needed)
  scheduler_fallbacks  a run's state without a live cluster (stand-in squeue/sacct/scontrol): the jobcomp
                     log's NODE_FAIL, UNKNOWN naming what each source said, sacct when squeue is down,
                     stop (exit 3) when both are; status/estimate write nothing
  aggregate_reports  aggregation needs only config.json, metrics.csv, summary.json; a missing, partial or
                     other-configuration run directory is reported and not averaged in
  planted_smoke      paper/planted.py --smoke (the planted-information study at tiny sizes): every knob in
                     the response matrix, the closed-form target cell redundancy x inv is TRACKS, the
                     verdict rule and the Spearman/bootstrap helpers on hand cases, figures and RUN.md
  slurm_smoke        a real single-node Slurm (munge, slurmctld, slurmd) started here; the smoke sweep
                     (PAPER_TEST_SLURM_TABLES, default T1,T2; 'all' for every table) through sbatch job
                     arrays; tables equal the local ones byte for byte; skipped with the reason when the
                     cluster cannot start (not root, packages missing)
Prints one line per test and `paper: N passed, N failed, N skipped`; exit 1 on any failure.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from testlib import Skip, counts, parse_args, run_one, selected, summary

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SWEEP = os.path.join(HERE, "sweep.py")


def sweep(args, *extra, env=None, check=None):
    p = subprocess.run([sys.executable, SWEEP] + list(extra) + ["--profile", "smoke", "--bin", args.bin],
                       capture_output=True, text=True, env=env)
    if check is not None and p.returncode != check:
        raise AssertionError("sweep %s exited %d, expected %d:\n%s%s" % (" ".join(extra), p.returncode, check, p.stdout[-3000:], p.stderr[-2000:]))
    return p


def same_tables(a, b, names):
    for n in names:
        for ext in (".md", ".tex"):
            with open(os.path.join(a, n + ext), "rb") as f1, open(os.path.join(b, n + ext), "rb") as f2:
                if f1.read() != f2.read():
                    raise AssertionError("%s%s differs between %s and %s" % (n, ext, a, b))

# the layers of paper/ (plan.py's docstring): a module imports only modules of a lower rank; anything
# not listed here is not one of ours (stdlib, matplotlib)
PAPER_LAYERS = {"plan": 0, "aggregate": 1, "sweep": 2, "planted": 2, "testlib": 3, "test_paper": 4, "test_slurm": 4}


def layer_violations(folder):
    """'file:line: imports X (rank a -> b)' for every import in folder/*.py, at any depth (function-local
    imports included), of a sibling module whose rank is not lower than the importer's."""
    import ast
    bad = []
    for fn in sorted(os.listdir(folder)):
        mod = fn[:-3]
        if not fn.endswith(".py"):
            continue
        if mod not in PAPER_LAYERS:
            bad.append("%s: in no layer (add it to PAPER_LAYERS)" % fn)
            continue
        tree = ast.parse(open(os.path.join(folder, fn)).read(), fn)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module.split(".")[0]]
            else:
                continue
            for n in names:
                if n in PAPER_LAYERS and n != mod and PAPER_LAYERS[n] >= PAPER_LAYERS[mod]:
                    bad.append("%s:%d: imports %s (rank %d -> %d)" % (fn, node.lineno, n, PAPER_LAYERS[mod], PAPER_LAYERS[n]))
    return bad


def t_layers(args, w):
    bad = layer_violations(HERE)
    assert not bad, "paper/ imports point up:\n" + "\n".join(bad)
    # the check must see each kind of violation: a top-level, a function-local and a from-import upward
    plants = {"top": "import sweep\n", "local": "def f():\n    import aggregate\n", "from": "from sweep import Run\n"}
    for kind, code in plants.items():
        d = os.path.join(w, "layers-" + kind)
        os.makedirs(d)
        for fn in ("plan.py", "aggregate.py", "sweep.py"):
            shutil.copy(os.path.join(HERE, fn), d)
        with open(os.path.join(d, "plan.py"), "a") as f:
            f.write("\n" + code)
        found = layer_violations(d)
        assert any(b.startswith("plan.py:") for b in found), "planted %s import not caught: %s" % (kind, found)
    return "%d modules, 3 planted violations caught" % len([f for f in os.listdir(HERE) if f.endswith(".py")])


def t_local_smoke(args, w):
    root, out = os.path.join(w, "local"), os.path.join(w, "local-out")
    p = sweep(args, "run", "--root", root, "--out", out, check=0)
    assert "projected duration" in p.stdout, "no projected duration printed"
    for n in ("T1", "T2", "T3", "T4", "T5", "T6", "T7"):
        for ext in (".md", ".tex"):
            text = open(os.path.join(out, n + ext)).read()
            assert "synthetic" in text and "smoke" in text, "%s%s does not say it is synthetic smoke data" % (n, ext)
            assert "/" + os.path.basename(w) + "/" not in text, "%s%s contains a run-root path" % (n, ext)
            if ext == ".md":
                for want in ("What this table shows:", "What it cannot show:"):
                    assert want in text, "%s.md does not say %r" % (n, want)
                if n != "T6":  # T6 is planted synthetic data by design; its limits are in cannot_show
                    assert "on this profile's synthetic data, whatever the numbers:" in text, "%s.md does not say what synthetic data cannot show" % n
    for f in ("F1_mosi.png", "F1_mosei.png", "F1_avec.png", "F1_planted.png", "F2_shares.png", "F3_ratio.png", "manifest.json", "README.md"):
        assert os.path.getsize(os.path.join(out, f)) > 0, f
    man = json.load(open(os.path.join(out, "manifest.json")))
    cells = man["tables"]["T1"]
    assert len(cells) == 6 and all(c["status"] == "ok" and c["commit"] and os.path.isdir(c["run_dir"]) for c in cells), cells
    assert "2/2" in open(os.path.join(out, "T3.md")).read()
    t4 = open(os.path.join(out, "T4.md")).read()
    assert "amount (nats)" in t4 and "official read-out (offset 1, half scale, not nats)" in t4, t4[:600]
    assert "Text protocol: features" in t4, "T4 does not name its text protocol"
    t7 = open(os.path.join(out, "T7.md")).read()
    for want in ("inv:spec:comp = 1:0:0", "inv:spec:comp = 0:0:1", "official ratio", "**best**", "bootstrap P(best)", "CMU-MOSI vs AVEC 2019: the best ratios"):
        assert want in t7, "T7 lacks %r:\n%s" % (want, t7[:1500])
    p = sweep(args, "run", "--root", root, "--out", out, check=0)
    assert "(52 done" in p.stdout and "for 0 runs" in p.stdout, "re-run did not find every run done:\n" + p.stdout[:800]
    return "52 runs, %s" % p.stdout.split("projected duration: ")[1].split("\n")[0]


def t_failed_run(args, w):
    fake = os.path.join(w, "failing-mimrl")
    with open(fake, "w") as f:
        f.write("#!/bin/bash\n[ \"$1\" = synth ] && exec %s \"$@\"\necho 'mimrl train: non-finite loss at epoch 0 batch 3 (task loss)' >&2\nexit 1\n" % args.bin)
    os.chmod(fake, 0o755)
    root = os.path.join(w, "failing")
    p = subprocess.run([sys.executable, SWEEP, "run", "--profile", "smoke", "--bin", fake, "--root", root, "--out", root + "-out",
                        "--tables", "T2"], capture_output=True, text=True)
    assert p.returncode == 1, "a failing run must make the sweep exit 1 (got %d)" % p.returncode
    st = json.load(open(os.path.join(root, "logs", "avec-avec_main-seed33.json")))
    assert st["state"] == "failed" and "non-finite loss at epoch 0 batch 3" in st["reason"] and "exit 1" in st["reason"], st
    assert "not averaged in" in p.stdout and "0/2" in open(os.path.join(root + "-out", "T2.md")).read()
    s = sweep(args, "status", "--root", root, check=0)
    assert s.stdout.count("failed") == 2, s.stdout


def t_kill_resume(args, w):
    root, out = os.path.join(w, "killed"), os.path.join(w, "killed-out")
    ref = os.path.join(w, "local-out")
    if not os.path.exists(os.path.join(ref, "T2.md")):
        raise Skip("needs local_smoke's tables")
    proc = subprocess.Popen([sys.executable, SWEEP, "run", "--profile", "smoke", "--bin", args.bin, "--root", root, "--out", out,
                             "--tables", "T2", "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.time() + 300
    while proc.poll() is None and killed is None and time.time() < deadline:
        for seed in (33, 44):
            rid = "avec-avec_main-seed%d" % seed
            rdir = os.path.join(root, "runs", "avec", "avec_main", "seed%d" % seed)
            try:
                st = json.load(open(os.path.join(root, "logs", rid + ".json")))
                rows = open(os.path.join(rdir, "metrics.csv")).read().splitlines()
            except (OSError, ValueError):
                continue
            if st.get("state") == "running" and len(rows) == 2 and os.path.exists(os.path.join(rdir, "last.npz")) \
                    and not os.path.exists(os.path.join(rdir, "summary.json")):
                os.kill(st["pid"], signal.SIGKILL)  # epoch 0 checkpointed, epoch 1 under way
                killed = rid
                break
        time.sleep(0.02)
    first = proc.communicate()[0]
    if killed is None:
        raise AssertionError("never caught a run between its first checkpoint and its end:\n" + first[-1500:])
    rdir = os.path.join(root, "runs", "avec", "avec_main", killed.split("-")[-1])
    assert not os.path.exists(os.path.join(rdir, "summary.json")), "the kill landed after the run finished"
    assert proc.returncode == 1 and "killed by signal 9" in first, first[-1500:]
    p = sweep(args, "run", "--root", root, "--out", out, "--tables", "T2", check=0)
    log = open(os.path.join(root, "logs", killed + ".out")).read()
    assert "--resume" in log and "resuming" in log, "the re-run did not continue with --resume"
    same_tables(out, ref, ["T2"])
    return "killed %s in epoch 1, resumed; T2.md/.tex equal" % killed


def t_aggregate_reports(args, w):
    src = os.path.join(w, "local")
    if not os.path.exists(os.path.join(src, "runs")):
        raise Skip("needs local_smoke's runs")
    root, out, ref = os.path.join(w, "agg"), os.path.join(w, "agg-out"), os.path.join(w, "local-out")
    if os.path.exists(root):
        shutil.rmtree(root)
    for seed in (33, 44):
        rel = os.path.join("runs", "avec", "avec_main", "seed%d" % seed)
        os.makedirs(os.path.join(root, rel))
        for f in ("config.json", "metrics.csv", "summary.json"):  # nothing else
            shutil.copy(os.path.join(src, rel, f), os.path.join(root, rel, f))
    sweep(args, "aggregate", "--root", root, "--out", out, "--tables", "T2", check=0)
    same_tables(out, ref, ["T2"])
    d33, d44 = os.path.join(root, "runs", "avec", "avec_main", "seed33"), os.path.join(root, "runs", "avec", "avec_main", "seed44")
    best44 = json.load(open(os.path.join(d44, "summary.json")))["test_at_best_valid"]["ccc"]

    def t2():
        sweep(args, "aggregate", "--root", root, "--out", out, "--tables", "T2", check=0)
        return open(os.path.join(out, "T2.md")).read()

    cfg = json.load(open(os.path.join(d33, "config.json")))
    cfg["learning_rate"] = 0.01
    json.dump(cfg, open(os.path.join(d33, "config.json"), "w"))
    text = t2()
    assert "seed33: other configuration: learning_rate expected 1e-3, found 0.01" in text, text
    # smoke's minimum is 2 seeds: one complete seed is shown as 1/2, never as a mean to compare
    assert "| 1/2 seeds |" in text and "| %.3f |" % best44 not in text, text
    cfg["learning_rate"] = "1e-3"
    json.dump(cfg, open(os.path.join(d33, "config.json"), "w"))
    # a non-finite seed is counted and named, not averaged
    with open(os.path.join(d33, "metrics.csv")) as f:
        lines = f.read().splitlines()
    head = lines[0].split(",")
    be = json.load(open(os.path.join(d33, "summary.json")))["best_valid_epoch"]
    nanl = []
    for l in lines:
        v = l.split(",")
        if v[0] == str(be):
            v[head.index("test_ccc")] = "nan"
        nanl.append(",".join(v))
    with open(os.path.join(d33, "metrics.csv"), "w") as f:
        f.write("\n".join(nanl) + "\n")
    text = t2()
    assert "seed 33: non-finite test_ccc (counted, not averaged)" in text and "| 1/2 seeds |" in text, text
    os.remove(os.path.join(d44, "summary.json"))
    os.remove(os.path.join(d33, "summary.json"))
    # no complete run behind the table: written, but the exit status says so
    p = sweep(args, "aggregate", "--root", root, "--out", out, "--tables", "T2", check=1)
    assert "no complete run behind T2" in p.stdout + p.stderr, p.stdout[-2000:]
    text = open(os.path.join(out, "T2.md")).read()
    assert "0/2" in text and "seed44: partial: 2 of 2 epochs in metrics.csv, no summary.json" in text, text
    shutil.rmtree(d33)
    sweep(args, "aggregate", "--root", root, "--out", out, "--tables", "T2", check=1)
    text = open(os.path.join(out, "T2.md")).read()
    assert "seed33: no run directory" in text, text
    with open(os.path.join(d44, "metrics.csv")) as f:
        lines = f.read().splitlines()
    with open(os.path.join(d44, "metrics.csv"), "w") as f:
        f.write("\n".join(lines[:2]) + "\n")
    sweep(args, "aggregate", "--root", root, "--out", out, "--tables", "T2", check=1)
    text = open(os.path.join(out, "T2.md")).read()
    assert "seed44: partial: 1 of 2 epochs" in text, text


def t_ratio_bootstrap(args, w):
    """best_sets on tables with known answers: a clear winner is best in every resample; two configs with the
    same values per seed share the 95% set; the orientation (larger or smaller is better) is respected."""
    sys.path.insert(0, os.path.join(REPO, "paper"))
    import random
    import aggregate
    seeds = [1, 2, 3, 4, 5]
    noise = {1: 0.01, 2: -0.02, 3: 0.0, 4: 0.015, 5: -0.005}
    clear = {"a": {s: 0.50 + noise[s] for s in seeds}, "b": {s: 0.80 + noise[s] for s in seeds}, "c": {s: 0.90 - noise[s] for s in seeds}}
    best, freq, cover = aggregate.best_sets(clear, False, 500, random.Random(1))
    assert best == "a" and freq["a"] == 1.0 and cover == ["a"], (best, freq, cover)
    best, freq, cover = aggregate.best_sets(clear, True, 500, random.Random(1))
    assert best == "c" and cover == ["c"], (best, freq, cover)
    # a and b equal at every seed but one, where they swap: neither is best beyond seed noise
    tie = {"a": {1: 0.5, 2: 0.6, 3: 0.4, 4: 0.55, 5: 0.45}, "b": {1: 0.6, 2: 0.5, 3: 0.4, 4: 0.55, 5: 0.45}, "c": {s: 2.0 for s in seeds}}
    best, freq, cover = aggregate.best_sets(tie, False, 2000, random.Random(2))
    assert set(cover) == {"a", "b"} and freq["c"] == 0.0 and 0.2 < freq["a"] < 0.8, (best, freq, cover)
    return "winner, orientation and tie cases"


def t_preflight(args, w):
    """the real profile without data or PAPER_BERT stops before any run, naming what is missing; a bert
    profile refuses data converted without transcripts, naming the file."""
    env = dict(os.environ)
    for k in ("PAPER_BERT", "PAPER_DATA_MOSI", "PAPER_DATA_MOSEI", "PAPER_DATA_AVEC"):
        env.pop(k, None)
    root = os.path.join(w, "pre")
    p = subprocess.run([sys.executable, SWEEP, "run", "--profile", "real", "--bin", args.bin, "--root", root, "--out", os.path.join(w, "pre-out")],
                       capture_output=True, text=True, env=env)
    text = p.stdout + p.stderr
    assert p.returncode == 2 and "PAPER_BERT not set" in text and "PAPER_DATA_MOSEI not set" in text, text[-2000:]
    assert not os.path.exists(os.path.join(root, "runs")), "a run directory was made"
    sys.path.insert(0, os.path.join(REPO, "paper"))
    import sweep as sw
    d = os.path.join(w, "pre-data")
    os.makedirs(d, exist_ok=True)
    prefix = os.path.join(d, "x")
    subprocess.run([args.bin, "synth", "--like", "mosi", "--out", prefix, "--n-train", "16", "--n-valid", "8", "--n-test", "8",
                    "--max-frames", "8", "--max-words", "4", "--mc-samples", "50"], check=True, capture_output=True)
    bert = os.path.join(d, "bert")
    subprocess.run([args.bin, "bert-init", "--layers", "1", "--hidden", "8", "--heads", "1", "--out", bert, "--vocab-from",
                    prefix + "_train.npz"], check=True, capture_output=True)
    run = sw.Run("mosi", "main", 1, prefix, {}, root, "bert", bert)
    assert sw.check_bert_data([run], bert) == [], "synthetic data with transcripts must pass"
    import zipfile
    with zipfile.ZipFile(prefix + "_valid.npz") as z, zipfile.ZipFile(prefix + "_valid.tmp.npz", "w") as o:
        for n in z.namelist():
            if not n.startswith("text_"):
                o.writestr(n, z.read(n))
    os.replace(prefix + "_valid.tmp.npz", prefix + "_valid.npz")
    probs = sw.check_bert_data([run], bert)
    assert len(probs) == 1 and prefix + "_valid.npz has no text_bytes" in probs[0], probs
    return "real without PAPER_* stops (exit 2, nothing made); data without transcripts refused by name"


def t_smoke_bert(args, w):
    """the bert text protocol end to end: a random BERT from mimrl bert-init, runs with --bert, tables labelled."""
    root, out = os.path.join(w, "bert"), os.path.join(w, "bert-out")
    p = subprocess.run([sys.executable, SWEEP, "run", "--profile", "smoke-bert", "--root", root, "--out", out, "--bin", args.bin],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    t1 = open(os.path.join(out, "T1.md")).read()
    assert "Text protocol: bert" in t1 and "| 2/2 |" in t1, t1[:2000]
    cfg = json.load(open(os.path.join(root, "runs", "mosi", "main", "seed33", "config.json")))
    assert cfg.get("text_input") == "bert" and cfg.get("bert_freeze") == "no" and float(cfg.get("bert_lr_rate")) == 0.01, cfg
    return "T1, T2 with BERT fine-tuned (bert_freeze no, bert_lr_rate 0.01)"


def t_data_hash(args, w):
    """a data file changed (here truncated) after its runs finished is named by its hash: the sweep stops before
    running or deleting anything, and aggregation does not average the stale runs in."""
    root, out = os.path.join(w, "hash"), os.path.join(w, "hash-out")
    sweep(args, "run", "--root", root, "--out", out, "--tables", "T2", check=0)
    prov = json.load(open(os.path.join(root, "runs", "avec", "avec_main", "seed33", "provenance.json")))
    assert len(prov["data_sha256"]) == 3 and all(len(h) == 64 for h in prov["data_sha256"].values()), prov
    test_file = os.path.join(root, "data", "avec_test.npz")
    with open(test_file, "rb") as f:
        body = f.read()
    with open(test_file, "wb") as f:
        f.write(body[:len(body) // 2])
    p = sweep(args, "run", "--root", root, "--out", out, "--tables", "T2", check=2)
    assert "avec_test.npz differs" in p.stdout and "nothing was run or deleted" in p.stdout, p.stdout[-2000:]
    assert os.path.exists(os.path.join(root, "runs", "avec", "avec_main", "seed33", "summary.json")), "a finished run was touched"
    sweep(args, "aggregate", "--root", root, "--out", out, "--tables", "T2", check=1)
    text = open(os.path.join(out, "T2.md")).read()
    assert "data changed since this run: avec_test.npz" in text, text
    return "truncated avec_test.npz named; runs kept; not aggregated"


def t_slurm_smoke(args, w):
    cdir = os.path.join(w, "slurm-cluster")
    p = subprocess.run(["bash", os.path.join(HERE, "slurm", "local_cluster.sh"), "start", cdir], capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip((p.stderr.strip() or p.stdout.strip() or "local_cluster.sh exited %d" % p.returncode).splitlines()[-1])
    env = dict(os.environ, SLURM_CONF=os.path.join(cdir, "slurm.conf"), PAPER_SLURM_POLL_S="1")
    try:
        tables = os.environ.get("PAPER_TEST_SLURM_TABLES", "T1,T2")
        sel = [] if tables == "all" else ["--tables", tables]
        root, out = os.path.join(w, "slurm"), os.path.join(w, "slurm-out")
        t0 = time.time()
        p = sweep(args, "run", "--engine", "slurm", "--root", root, "--out", out, "--throttle", "2", *sel, env=env, check=0)
        secs = time.time() - t0
        assert "submitted job array" in p.stdout, p.stdout
        script = open([os.path.join(root, "slurm", f) for f in os.listdir(os.path.join(root, "slurm")) if f.endswith(".sbatch")][0]).read()
        assert "#SBATCH --array=0-" in script and "%2" in script, script
        names = tables.split(",") if tables != "all" else ["T1", "T2", "T3", "T4", "T5", "T6"]
        same_tables(out, os.path.join(w, "local-out"), names)
        p = sweep(args, "run", "--engine", "slurm", "--root", root, "--out", out, *sel, env=env, check=0)
        assert "submitted" not in p.stdout and "for 0 runs" in p.stdout, "a re-run submitted again:\n" + p.stdout
        return "%s through sbatch arrays in %.0f s; tables equal the local ones" % (tables, secs)
    finally:
        subprocess.run(["bash", os.path.join(HERE, "slurm", "local_cluster.sh"), "stop", cdir], capture_output=True)


def t_planted_smoke(args, w):
    sys.path.insert(0, HERE)
    import planted
    # hand cases of the helpers: ranks with ties, rho of a monotone / reversed / constant response
    assert planted.ranks([3.0, 1.0, 1.0]) == [2.0, 0.5, 0.5]
    assert planted.spearman([1, 2, 3, 4, 5], [0.1, 0.4, 0.5, 2.0, 9.0]) == 1.0
    assert planted.spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == -1.0
    assert planted.spearman([1, 2, 3], [7.0, 7.0, 7.0]) == 0.0
    rho, lo, hi, _ = planted.response([0, 1, 2, 3, 4], [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    assert (rho, lo, hi) == (1.0, 1.0, 1.0), (rho, lo, hi)
    assert planted.verdict(0.2, 0.9, 1) == "TRACKS" and planted.verdict(-0.9, -0.2, 1) == "WRONG WAY"
    assert planted.verdict(-0.3, 0.9, 1) == "FLAT" and planted.verdict(0.1, 0.5, 0) == "up" and planted.verdict(-0.5, -0.1, -1) == "TRACKS"
    out, work = os.path.join(w, "planted-out"), os.path.join(w, "planted-work")
    p = subprocess.run([sys.executable, os.path.join(HERE, "planted.py"), "run", "--smoke", "--bin", args.bin, "--out", out,
                        "--work", work], capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError("planted.py exited %d:\n%s%s" % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    import csv
    rows = list(csv.DictReader(open(os.path.join(out, "matrix.csv"))))
    knobs = {r["knob"] for r in rows}
    assert knobs == set(planted.LEVELS), knobs
    cell = [r for r in rows if r["knob"] == "redundancy" and r["quantity"] == "a:inv"]
    assert len(cell) == 1 and cell[0]["verdict"] == "TRACKS", cell
    assert any(r["knob"] == "redundancy" and r["quantity"].startswith("c:") for r in rows), "no trained (c) cells"
    allowed = {"TRACKS", "FLAT", "WRONG WAY", "up", "down", "flat"}
    assert all(r["verdict"] in allowed for r in rows), {r["verdict"] for r in rows}
    assert "wall time" in open(os.path.join(out, "RUN.md")).read()
    for f in ("F_planted_mimrl.png", "F_planted_pid.png"):
        assert os.path.getsize(os.path.join(out, f)) > 0, f
    return "%d cells" % len(rows)


def t_scheduler_fallbacks(args, w):
    """reconcile without a live cluster, with stand-in squeue/sacct/scontrol (shell scripts in PATH):
    squeue no longer knows the array and accounting is off -> the reason comes from the jobcomp/filetxt
    log (NODE_FAIL), or is UNKNOWN and says what each source answered; `status` and `estimate` write
    nothing; squeue down but sacct answering -> states from sacct; both down -> stop, exit 3."""
    root = os.path.join(w, "fallbacks")
    fake = os.path.join(w, "fallbacks-bin")
    os.makedirs(os.path.join(root, "slurm"))
    os.makedirs(os.path.join(root, "logs"))
    os.makedirs(fake)
    comp = os.path.join(w, "fallbacks-jobcomp.txt")
    with open(comp, "w") as f:
        f.write("JobId=12 UserId=u(1) Name=mimrl-paper JobState=NODE_FAIL Partition=cpu ArrayJobId=7 ArrayTaskId=1 ExitCode=0:0 \n")
    scripts = {
        "squeue": '[ "$FAKE_SQUEUE" = gone ] && { echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; }\n'
                  'echo "slurm_load_jobs error: Unable to contact slurm controller (connect failure)" >&2; exit 1\n',
        "sacct": '[ "$FAKE_SACCT" = answers ] && { printf "7_0|PENDING|0:0\\n7_1|RUNNING|0:0\\n"; exit 0; }\n'
                 'echo "Slurm accounting storage is disabled" >&2; exit 1\n',
        "scontrol": '[ "$1 $2" = "show config" ] && { echo "JobCompType             = jobcomp/filetxt"; '
                    'echo "JobCompLoc              = %s"; exit 0; }\n'
                    'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1\n' % comp}
    for name, body in scripts.items():
        with open(os.path.join(fake, name), "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(os.path.join(fake, name), 0o755)
    runs = ["avec-avec_main-seed33", "avec-avec_main-seed44"]
    with open(os.path.join(root, "slurm", "jobs.json"), "w") as f:
        json.dump([{"job": "7", "runs": runs}], f)
    with open(os.path.join(root, "logs", runs[1] + ".json"), "w") as f:
        json.dump({"state": "running", "engine": "slurm", "job_task": "7_1", "host": "node17", "pid": 4242}, f)

    def snapshot():
        return {os.path.join(d, n): os.stat(os.path.join(d, n)).st_mtime_ns for d, _, fs in os.walk(root) for n in fs}
    before = snapshot()

    def run(*extra, **env):
        e = dict(os.environ, PATH=fake + os.pathsep + os.environ["PATH"], **env)
        return subprocess.run([sys.executable, SWEEP] + list(extra) + ["--profile", "smoke", "--bin", args.bin, "--root", root],
                              capture_output=True, text=True, env=e)
    p = run("status", FAKE_SQUEUE="gone")
    line44 = [l for l in p.stdout.splitlines() if "avec_main/seed44" in l][0]
    line33 = [l for l in p.stdout.splitlines() if "avec_main/seed33" in l][0]
    assert line44.startswith("failed") and "NODE_FAIL" in line44 and "jobcomp " + comp in line44 and "node17" in line44, line44
    assert line33.startswith("failed") and "UNKNOWN" in line33 and "never started" in line33 \
        and "accounting storage is disabled" in line33 and "no record" in line33, line33
    p = run("estimate", "--engine", "slurm", FAKE_SQUEUE="gone")
    assert p.returncode == 0 and p.stdout.count("would mark failed") == 2, p.stdout + p.stderr
    assert snapshot() == before, "status/estimate wrote under the run root"
    p = run("status", FAKE_SACCT="answers")
    assert "states from sacct" in p.stdout, p.stdout
    assert [l for l in p.stdout.splitlines() if "avec_main/seed33" in l][0].startswith("queued"), p.stdout
    assert [l for l in p.stdout.splitlines() if "avec_main/seed44" in l][0].startswith("running"), p.stdout
    p = run("estimate", "--engine", "slurm")
    assert p.returncode == 3 and "STOPPED" in p.stdout and "Unable to contact slurm controller" in p.stdout, p.stdout + p.stderr
    assert snapshot() == before, "a stopped sweep wrote under the run root"
    return "jobcomp NODE_FAIL, UNKNOWN with what each source said, sacct when squeue is down, stop when both are"


def t_limits(args, w):
    """experiments.json "limits" reach the job script and the local concurrency; --limit overrides
    one dataset; --max-time splits a longer run into self-requeuing segments. The expected values are
    worked out here by hand from the declared numbers and the formula the limits block states."""
    spec = json.load(open(os.path.join(HERE, "experiments.json")))
    lim = spec["limits"]
    p = subprocess.run([sys.executable, SWEEP, "estimate", "--profile", "synthetic", "--engine", "slurm", "--bin", args.bin,
                        "--root", os.path.join(w, "limits-none")], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr

    def expect(ds, epochs):  # one thread per run; the measurements were taken at 2 threads
        m = lim["runs"][ds]["features"]
        sec = max(lim["min_time_s"], lim["margin_time"] * (epochs * m["epoch_s"] * m["threads"] / 1 + lim["overhead_s"]))
        minutes = -(-int(round(sec * 1000)) // 60000)  # ceil to whole minutes (Slurm's unit)
        return "%d-%02d:%02d:00" % (minutes // 1440, minutes % 1440 // 60, minutes % 60), "%.1f GiB" % (lim["margin_mem"] * m["peak_gb"])
    t, mem = expect("mosi", 50)  # mosi_final: 50 epochs
    assert "limits mosi x features: --time %s, --mem %s" % (t, mem) in p.stdout, (t, mem, p.stdout)
    t, mem = expect("avec", 70)  # avec_final: 70 epochs
    assert "limits avec x features: --time %s, --mem %s" % (t, mem) in p.stdout, (t, mem, p.stdout)
    t, mem = expect("mosei", 50)  # longer than the default --max-time of one day: segments
    assert "limits mosei x features: --time 1-00:00:00 per segment, needs %s: requeues itself" % t in p.stdout, (t, p.stdout)
    p = subprocess.run([sys.executable, SWEEP, "estimate", "--profile", "synthetic", "--engine", "slurm", "--bin", args.bin,
                        "--root", os.path.join(w, "limits-none"), "--limit", "mosei:time=3-00:00:00,mem=14", "--limit", "avec:time=90"],
                       capture_output=True, text=True)
    assert "limits mosei x features: --time 3-00:00:00, --mem 14.0 GiB (--limit mosei:mem; --limit mosei:time;" in p.stdout, p.stdout
    assert "limits avec x features: --time 0-01:30:00, --mem" in p.stdout, p.stdout
    p = subprocess.run([sys.executable, SWEEP, "estimate", "--profile", "synthetic", "--bin", args.bin, "--limit", "avec:time=soon"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "--limit avec:time=soon" in p.stderr and "not a Slurm time" in p.stderr, p.stderr
    p = subprocess.run([sys.executable, SWEEP, "estimate", "--profile", "synthetic", "--bin", args.bin, "--limit", "iemocap:mem=3"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "unknown dataset iemocap" in p.stderr, p.stderr
    # local concurrency: 80 % of MemAvailable over the largest memory limit, at most one run per core
    p = subprocess.run([sys.executable, SWEEP, "estimate", "--profile", "synthetic", "--bin", args.bin,
                        "--root", os.path.join(w, "limits-none")], capture_output=True, text=True)
    avail = [int(l.split()[1]) / 1048576 for l in open("/proc/meminfo") if l.startswith("MemAvailable:")][0]
    biggest = lim["margin_mem"] * max(v["features"]["peak_gb"] for v in lim["runs"].values())
    jobs = int(p.stdout.split(" at a time")[0].split(" with ")[-1])
    assert 1 <= jobs <= (os.cpu_count() or 1) and (jobs == 1 or jobs <= avail * 0.8 / biggest + 1), (jobs, avail, biggest)
    return "synthetic profile limits as declared; --limit, bad --limit, --max-time segments, local concurrency %d" % jobs


def t_data_plan(args, w):
    """plan.data_plan on every profile of experiments.json: a dataset with no 'like' (no mimrl synth shape)
    is skipped with a stated reason instead of breaking the plan; the others are planned as before."""
    sys.path.insert(0, HERE)
    import plan as pl
    spec = json.load(open(os.path.join(HERE, "experiments.json")))
    no_shape = [n for n, d in spec["datasets"].items() if "like" not in d]
    assert "pom" in no_shape, "POM is declared without a synthetic shape: %s" % no_shape
    for prof in spec["profiles"]:
        plan = pl.data_plan(spec, prof, os.path.join(w, "dp"), {})
        assert sorted(plan) == sorted(spec["datasets"]), (prof, sorted(plan))
        for n in no_shape:
            why = plan[n].get("skip", "")
            if spec["profiles"][prof]["data"] == "synthetic":
                assert "no synthetic shape" in why and "mimrl synth" in why, (prof, n, plan[n])
            else:
                assert spec["datasets"][n]["env"] + " not set" in why, (prof, n, plan[n])
        for n, d in spec["datasets"].items():
            if "like" in d and (spec["profiles"][prof]["data"] == "synthetic" or d.get("always_synthetic")):
                assert plan[n]["synth"][:2] == ["--like", d["like"]], (prof, n, plan[n])
    return "%d profiles planned; %s skipped with the reason where data is synthetic" % (len(spec["profiles"]), ", ".join(no_shape))


TESTS = [("layers", t_layers), ("data_plan", t_data_plan), ("limits", t_limits), ("scheduler_fallbacks", t_scheduler_fallbacks), ("local_smoke", t_local_smoke), ("failed_run", t_failed_run), ("kill_resume", t_kill_resume),
         ("aggregate_reports", t_aggregate_reports), ("ratio_bootstrap", t_ratio_bootstrap), ("preflight", t_preflight),
         ("smoke_bert", t_smoke_bert), ("data_hash", t_data_hash), ("planted_smoke", t_planted_smoke),
         ("slurm_smoke", t_slurm_smoke)]


def main():
    args, w = parse_args(REPO, "paper-test")
    if os.path.exists(w):
        shutil.rmtree(w)
    os.makedirs(w)
    c = counts()
    t_all = time.time()
    for name, fn in selected(TESTS, args.only):
        line, k = run_one("paper", name, fn, args, w)
        c[k] += 1
        print(line, flush=True)
    return summary("paper", c, t_all)


if __name__ == "__main__":
    sys.exit(main())
