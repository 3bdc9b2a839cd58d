#!/usr/bin/env python3
"""paper/test_paper.py - tests of the paper sweep (make test-paper; part of make test).

  local_smoke        the whole smoke profile through the local pool: T1-T6 (.md, .tex), figures, manifest;
                     a second `run` finds everything done and trains nothing
  failed_run         a run that exits non-zero is recorded as failed with its stderr's last lines
  kill_resume        SIGKILL of a `mimrl train` mid-epoch; the re-run continues it with --resume and the
                     tables equal the uninterrupted sweep's byte for byte
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
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SWEEP = os.path.join(HERE, "sweep.py")


class Skip(Exception):
    pass


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


def t_local_smoke(args, w):
    root, out = os.path.join(w, "local"), os.path.join(w, "local-out")
    p = sweep(args, "run", "--root", root, "--out", out, check=0)
    assert "projected duration" in p.stdout, "no projected duration printed"
    for n in ("T1", "T2", "T3", "T4", "T5", "T6"):
        for ext in (".md", ".tex"):
            text = open(os.path.join(out, n + ext)).read()
            assert "synthetic" in text and "smoke" in text, "%s%s does not say it is synthetic smoke data" % (n, ext)
            assert "/" + os.path.basename(w) + "/" not in text, "%s%s contains a run-root path" % (n, ext)
    for f in ("F1_mosi.png", "F1_mosei.png", "F1_avec.png", "F1_planted.png", "F2_shares.png", "manifest.json", "README.md"):
        assert os.path.getsize(os.path.join(out, f)) > 0, f
    man = json.load(open(os.path.join(out, "manifest.json")))
    cells = man["tables"]["T1"]
    assert len(cells) == 4 and all(c["status"] == "ok" and c["commit"] and os.path.isdir(c["run_dir"]) for c in cells), cells
    assert "2/2" in open(os.path.join(out, "T3.md")).read()
    p = sweep(args, "run", "--root", root, "--out", out, check=0)
    assert "(36 done" in p.stdout and "for 0 runs" in p.stdout, "re-run did not find every run done:\n" + p.stdout[:800]
    return "36 runs, %s" % p.stdout.split("projected duration: ")[1].split("\n")[0]


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


def t_slurm_smoke(args, w):
    cdir = os.path.join(w, "slurm-cluster")
    p = subprocess.run(["bash", os.path.join(HERE, "slurm", "local_cluster.sh"), "start", cdir], capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip((p.stderr.strip() or p.stdout.strip() or "local_cluster.sh exited %d" % p.returncode).splitlines()[-1])
    env = dict(os.environ, SLURM_CONF=os.path.join(cdir, "slurm.conf"))
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


TESTS = [("local_smoke", t_local_smoke), ("failed_run", t_failed_run), ("kill_resume", t_kill_resume),
         ("aggregate_reports", t_aggregate_reports), ("planted_smoke", t_planted_smoke), ("slurm_smoke", t_slurm_smoke)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "mimrl"))
    ap.add_argument("--work", default=os.path.join(REPO, "build", "paper-test"))
    ap.add_argument("--only", help="comma-separated test names")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    w = os.path.abspath(args.work)
    if os.path.exists(w):
        shutil.rmtree(w)
    os.makedirs(w)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    t_all = time.time()
    for name, fn in TESTS:
        if args.only and name not in args.only.split(","):
            continue
        t0 = time.time()
        try:
            note = fn(args, w)
            counts["passed"] += 1
            print("[PASS] paper::%s (%.0f s)%s" % (name, time.time() - t0, ": " + note if note else ""), flush=True)
        except Skip as e:
            counts["skipped"] += 1
            print("[SKIP] paper::%s: %s" % (name, e), flush=True)
        except Exception as e:  # noqa: BLE001 - any error is a failed test
            counts["failed"] += 1
            print("[FAIL] paper::%s (%.0f s): %s: %s" % (name, time.time() - t0, e.__class__.__name__, e), flush=True)
    print("paper: %d passed, %d failed, %d skipped (%.0f s)" % (counts["passed"], counts["failed"], counts["skipped"], time.time() - t_all))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
