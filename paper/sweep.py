#!/usr/bin/env python3
"""paper/sweep.py - runs the sweeps declared in paper/experiments.json and aggregates them.

  sweep.py run       --profile P [--engine local|slurm] [--root DIR] [--out DIR] [--jobs N] ...
  sweep.py status    --profile P [--root DIR]
  sweep.py aggregate --profile P [--root DIR] [--out DIR]
  sweep.py estimate  --profile P [--engine ...]
  sweep.py exec      --root DIR --tasks FILE --index I     (one run; what a Slurm array task calls)

One `mimrl train` per run directory ROOT/runs/<dataset>/<config>/seed<N>. A run directory with
summary.json is done and never touched; one with last.npz but no summary.json is continued with
`mimrl train --resume`; anything else is (re)started. Status and logs of each attempt live apart
from the run directory, in ROOT/logs/<run id>.{json,out,err}. Python stdlib only (matplotlib for
the figures, in aggregate.py).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SPEC = os.path.join(HERE, "experiments.json")
QUANTITIES = ["ft", "fa", "fv", "in", "st", "sa", "sv", "cp"]
FULL_N_TRAIN = {"mosi": 1284, "mosei": 16326, "avec": 163}


def log(msg):
    print("[paper] " + msg, flush=True)


def load_spec(path=SPEC):
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------ planning
class Run:
    def __init__(self, dataset, config, seed, data, flags, root):
        self.dataset, self.config, self.seed, self.data, self.flags = dataset, config, seed, data, flags
        self.rel = os.path.join("runs", dataset, config, "seed%d" % seed)
        self.dir = os.path.join(root, self.rel)
        self.id = "%s-%s-seed%d" % (dataset, config, seed)

    def argv(self, binary):
        return train_argv(binary, self.data, self.dir, self.flags)

    def task(self):
        return {"id": self.id, "dir": self.dir, "data": self.data, "flags": self.flags}


def train_argv(binary, data, rundir, flags):
    a = [binary, "train", "--data", data, "--out", rundir]
    for k, v in flags.items():
        if v is True:
            a.append("--" + k)
        elif v is not False:
            a += ["--" + k, str(v)]
    return a


def config_flags(spec, profile, config, seed):
    c = spec["configs"][config]
    flags = dict(spec["flagsets"][c["base"]]["flags"])
    flags.update(c.get("set", {}))
    flags.update(spec["profiles"][profile].get("flags", {}))
    flags["seed"] = str(seed)
    return flags


def selected_items(spec, tables=None):
    """(dataset, config) pairs behind the selected tables and figures, in declaration order."""
    pairs = []
    names = tables or list(spec["tables"])
    for t in names:
        for g in spec["tables"][t]["groups"]:
            for r in g["rows"]:
                pairs.append((g["dataset"], r["config"]))
    for f in spec["figures"].values():
        if f.get("table") and (tables is None or f["table"] in names):
            continue
        if tables is None:
            pairs += [(r["dataset"], r["config"]) for r in f.get("runs", [])]
    out = []
    for p in pairs:
        if p not in out:
            out.append(p)
    return out


def data_plan(spec, profile, root, env):
    """dataset -> {"prefix", "synth": argv or None, "describe", "synthetic": bool} or {"skip": reason}."""
    prof = spec["profiles"][profile]
    plan = {}
    for name, ds in spec["datasets"].items():
        synthetic = prof["data"] == "synthetic" or ds.get("always_synthetic")
        if synthetic:
            args = ["--like", ds["like"]] + prof.get("synth_args", []) + ds.get("synth_args", [])
            prefix = os.path.join(root, "data", name)
            plan[name] = {"prefix": prefix, "synth": args, "synthetic": True,
                          "describe": "synthetic, NOT the paper's data: mimrl synth " + " ".join(args)}
        else:
            prefix = env.get(ds["env"], "")
            if not prefix:
                plan[name] = {"skip": "%s not set (give the converted prefix, e.g. %s=data/%s)" % (ds["env"], ds["env"], name)}
            elif not os.path.exists(prefix + "_train.npz"):
                plan[name] = {"skip": "%s=%s but %s_train.npz does not exist" % (ds["env"], prefix, prefix)}
            else:
                plan[name] = {"prefix": prefix, "synth": None, "synthetic": False,
                              "describe": "%s (%s=%s)" % (ds["title"], ds["env"], prefix)}
    return plan


def plan_runs(spec, profile, root, env, tables=None):
    prof = spec["profiles"][profile]
    seeds = prof.get("seeds", spec["seeds"])
    dplan = data_plan(spec, profile, root, env)
    runs, skipped = [], []
    for ds, cfg in selected_items(spec, tables):
        if "skip" in dplan[ds]:
            if ds not in [s[0] for s in skipped]:
                skipped.append((ds, dplan[ds]["skip"]))
            continue
        for s in seeds:
            runs.append(Run(ds, cfg, s, dplan[ds]["prefix"], config_flags(spec, profile, cfg, s), root))
    return runs, dplan, skipped


# ------------------------------------------------------------------ run state
def status_path(root, run_id, ext="json"):
    return os.path.join(root, "logs", "%s.%s" % (run_id, ext))


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def run_state(root, run):
    """done | partial (resumable) | failed | running | missing"""
    if os.path.exists(os.path.join(run.dir, "summary.json")):
        return "done"
    st = read_json(status_path(root, run.id)) or {}
    if st.get("state") == "running" and pid_alive(st):
        return "running"
    if st.get("state") == "failed":
        return "failed"
    if os.path.exists(os.path.join(run.dir, "last.npz")):
        return "partial"
    return "missing"


def pid_alive(st):
    if st.get("host") != socket.gethostname() or not st.get("pid"):
        return st.get("engine") == "slurm"  # another node: trust squeue instead
    try:
        os.kill(st["pid"], 0)
        return True
    except OSError:
        return False


def git_commit():
    try:
        c = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        d = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10)
        return c.stdout.strip() + ("+dirty" if d.stdout.strip() else "") if c.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def thread_env(threads):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if threads <= 1:
        env["MIMRL_ENCODER_THREADS"] = "1"
    return env


def run_one(root, task, binary, threads, keep_checkpoints, engine, on_start=None):
    """Trains (or continues) one run directory; returns (ok, reason). Never raises for a failed run."""
    rid, rdir = task["id"], task["dir"]
    if os.path.exists(os.path.join(rdir, "summary.json")):
        return True, "already done"
    prev = read_json(status_path(root, rid)) or {}
    attempt = prev.get("attempt", 0) + 1
    resume = os.path.exists(os.path.join(rdir, "last.npz"))
    if resume and prev.get("state") == "failed" and prev.get("resumed"):
        # the last attempt was already a resume and failed: keep that directory aside, start afresh
        aside = "%s.broken-%d" % (rdir, attempt)
        os.replace(rdir, aside)
        resume = False
    if not resume and os.path.isdir(rdir):
        shutil.rmtree(rdir)  # killed before its first checkpoint: nothing to continue
    os.makedirs(os.path.dirname(rdir), exist_ok=True)
    if resume:
        argv = [binary, "train", "--resume", rdir]
    else:
        argv = train_argv(binary, task["data"], rdir, task["flags"])
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    t0 = time.time()
    with open(status_path(root, rid, "out"), "a") as fo, open(status_path(root, rid, "err"), "a") as fe:
        fo.write("# attempt %d: %s\n" % (attempt, " ".join(argv)))
        fo.flush()
        fe_start = fe.tell()
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, env=thread_env(threads), cwd=REPO)
        st = {"state": "running", "pid": p.pid, "host": socket.gethostname(), "attempt": attempt, "resumed": resume,
              "argv": argv, "engine": engine, "started": t0, "slurm_job": os.environ.get("SLURM_JOB_ID")}
        write_json(status_path(root, rid), st)
        if on_start:
            on_start(rid, p)
        rc = p.wait()
    st.update({"ended": time.time(), "seconds": round(time.time() - t0, 1), "rc": rc})
    if rc == 0 and os.path.exists(os.path.join(rdir, "summary.json")):
        st["state"] = "done"
        write_json(os.path.join(rdir, "provenance.json"),
                   {"commit": git_commit(), "binary": os.path.abspath(binary), "host": socket.gethostname(),
                    "engine": engine, "threads": threads, "argv_last_attempt": argv, "attempts": attempt})
        if not keep_checkpoints:
            for f in ("last.npz", "best.npz"):
                try:
                    os.remove(os.path.join(rdir, f))
                except OSError:
                    pass
        write_json(status_path(root, rid), st)
        return True, ""
    with open(status_path(root, rid, "err"), "rb") as fe:
        fe.seek(fe_start)
        tail = [l for l in fe.read().decode("utf-8", "replace").splitlines() if l.strip()][-5:]
    if rc < 0:
        reason = "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)
    elif rc == 0:
        reason = "exit 0 but no summary.json"
    else:
        reason = "exit %d" % rc
    if tail:
        reason += ": " + " | ".join(tail)
    st.update({"state": "failed", "reason": reason})
    write_json(status_path(root, rid), st)
    return False, reason


# ------------------------------------------------------------------ estimates
def measured_epoch_seconds(root, runs):
    """dataset -> median seconds per epoch seen in this root's metrics.csv files (threads as run)."""
    per = {}
    for r in runs:
        try:
            with open(os.path.join(r.dir, "metrics.csv")) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        secs = sorted(float(x.split(",")[1]) for x in rows if x)
        if secs:
            per.setdefault(r.dataset, []).append(secs[len(secs) // 2])
    return {k: sorted(v)[len(v) // 2] for k, v in per.items()}


def bench_epoch_seconds():
    """shape -> (seconds per epoch at full size, note) from bench/results/train.csv (2 threads, one run)."""
    out = {}
    try:
        with open(os.path.join(REPO, "bench", "results", "train.csv")) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    head = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        shape, n = row["shape"], int(row["n_train"])
        s = float(row["epoch_s_median"]) * FULL_N_TRAIN.get(shape, n) / n
        out[shape] = (s, "bench/results/train.csv %s (%s, n_train %d, %s s/epoch, scaled to %d)"
                      % (shape, row["utc"][:10], n, row["epoch_s_median"], FULL_N_TRAIN.get(shape, n)))
    return out


def projection(spec, profile, runs, root, jobs, dplan):
    """(seconds wall, basis text). Per-epoch times: this root's runs if any, else the profile's
    measured smoke time, else bench/results/train.csv (which measured one run on 2 threads; the
    projection assumes the core-seconds of a run stay the same when jobs share the cores)."""
    prof = spec["profiles"][profile]
    measured = measured_epoch_seconds(root, runs)
    bench = bench_epoch_seconds()
    total, longest, basis = 0.0, 0.0, {}
    for r in runs:
        if run_state(root, r) == "done":
            continue
        epochs = int(r.flags.get("epochs_num", 70))
        like = spec["datasets"][r.dataset]["like"]
        if r.dataset in measured:
            s, why = measured[r.dataset], "measured in this run root"
        elif "smoke_epoch_seconds" in prof:
            s, why = prof["smoke_epoch_seconds"], "experiments.json profiles.%s.smoke_epoch_seconds" % profile
        elif like in bench:
            s, why = bench[like][0] * 2, bench[like][1] + " x2 (one core per job)"
        else:
            s, why = 60.0, "no measurement (guess: 60 s)"
        one = epochs * s + prof.get("run_overhead_seconds", 2.0)
        total, longest = total + one, max(longest, one)
        basis[r.dataset] = "%.1f s/epoch: %s" % (s, why)
    return max(total / max(1, jobs), longest), basis


def fmt_duration(s):
    s = int(round(s))
    if s < 120:
        return "%d s" % s
    if s < 7200:
        return "%d min" % round(s / 60)
    return "%.1f h" % (s / 3600)


# ------------------------------------------------------------------ engines
def default_jobs(spec, profile, threads):
    cores = os.cpu_count() or 1
    mem_gb = 4.0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    mem_gb = int(line.split()[1]) / 1048576
    except OSError:
        pass
    per = spec["profiles"][profile].get("mem_gb_per_run", 7.0)
    return max(1, min(cores // max(1, threads), int(mem_gb * 0.8 // per)))


class Progress:
    def __init__(self, total, jobs, est_run_s):
        self.total, self.jobs, self.est = total, jobs, est_run_s
        self.done = self.failed = self.running = 0
        self.durations = []
        self.t0 = time.time()
        self.last = 0

    def show(self, force=False):
        if not force and time.time() - self.last < 5:
            return
        self.last = time.time()
        left = self.total - self.done - self.failed
        per = sum(self.durations) / len(self.durations) if self.durations else self.est
        eta = max(0.0, per * left / max(1, self.jobs) - (per / 2 if self.running else 0))
        log("progress: %d/%d done, %d running, %d failed; ~%s left (elapsed %s)"
            % (self.done, self.total, self.running, self.failed, fmt_duration(eta), fmt_duration(time.time() - self.t0)))


def engine_local(root, todo, binary, jobs, threads, keep, est_run_s):
    prog = Progress(len(todo), jobs, est_run_s)
    lock = threading.Lock()
    queue = list(todo)
    failures = []

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                r = queue.pop(0)
                prog.running += 1
            t = time.time()
            ok, why = run_one(root, r.task(), binary, threads, keep, "local")
            with lock:
                prog.running -= 1
                if ok:
                    prog.done += 1
                    prog.durations.append(time.time() - t)
                else:
                    prog.failed += 1
                    failures.append((r.id, why))
                    log("FAILED %s: %s" % (r.id, why))

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(min(jobs, len(todo)))]
    for t in ts:
        t.start()
    while any(t.is_alive() for t in ts):
        prog.show()
        time.sleep(0.5)
    prog.show(force=True)
    return failures


SLURM_TEMPLATE = os.path.join(HERE, "slurm", "job.sbatch.in")


def slurm_script(root, tasks_file, n, args, spec, profile):
    with open(SLURM_TEMPLATE) as f:
        text = f.read()
    opts = []
    if args.partition:
        opts.append("#SBATCH --partition=%s" % args.partition)
    if args.account:
        opts.append("#SBATCH --account=%s" % args.account)
    mem = args.mem or "%dM" % int(spec["profiles"][profile].get("mem_gb_per_run", 7.0) * 1024)
    throttle = ("%%%d" % args.throttle) if args.throttle else ""
    subs = {"@OPTIONS@": "\n".join(opts), "@TIME@": args.time, "@MEM@": mem, "@CPUS@": str(args.threads),
            "@ARRAY@": "0-%d%s" % (n - 1, throttle), "@LOGDIR@": os.path.join(root, "slurm"),
            "@PYTHON@": sys.executable, "@SWEEP@": os.path.abspath(__file__), "@ROOT@": root,
            "@TASKS@": tasks_file, "@BIN@": os.path.abspath(args.bin), "@THREADS@": str(args.threads),
            "@KEEP@": "1" if spec["profiles"][profile].get("keep_checkpoints", True) else "0"}
    for k, v in subs.items():
        text = text.replace(k, v)
    return text


def squeue_active(job_ids):
    """array task ids (job, index) still pending or running."""
    if not job_ids:
        return set()
    p = subprocess.run(["squeue", "-h", "-r", "-j", ",".join(job_ids), "-o", "%i %T"], capture_output=True, text=True)
    act = set()
    for line in p.stdout.splitlines():
        jid, _state = line.split()
        act.add(jid)
    return act


def engine_slurm(root, todo, args, spec, profile, est_run_s):
    sdir = os.path.join(root, "slurm")
    os.makedirs(sdir, exist_ok=True)
    jobs_file = os.path.join(sdir, "jobs.json")
    jobs = read_json(jobs_file) or []
    # runs of earlier submissions still pending/running are not submitted again
    active_ids = set()
    active = squeue_active([j["job"] for j in jobs])
    for j in jobs:
        for i, rid in enumerate(j["runs"]):
            if "%s_%d" % (j["job"], i) in active or (j["job"] in active and "%s_[" % j["job"] in " ".join(active)):
                active_ids.add(rid)
    todo = [r for r in todo if r.id not in active_ids]
    if active_ids:
        log("%d runs still queued or running in earlier Slurm jobs; not resubmitted" % len(active_ids))
    new_jobs = []
    if todo:
        stamp = time.strftime("%Y%m%dT%H%M%S") + "-%d" % os.getpid()
        tasks_file = os.path.join(sdir, "tasks-%s.json" % stamp)
        write_json(tasks_file, [r.task() for r in todo])
        script = os.path.join(sdir, "job-%s.sbatch" % stamp)
        with open(script, "w") as f:
            f.write(slurm_script(root, tasks_file, len(todo), args, spec, profile))
        p = subprocess.run(["sbatch", "--parsable", script], capture_output=True, text=True)
        if p.returncode != 0:
            log("sbatch failed: " + p.stderr.strip())
            return [("sbatch", p.stderr.strip())]
        jid = p.stdout.strip().split(";")[0]
        log("submitted job array %s (%d tasks): %s" % (jid, len(todo), script))
        jobs.append({"job": jid, "runs": [r.id for r in todo], "tasks": tasks_file, "script": script})
        write_json(jobs_file, jobs)
        new_jobs.append(jid)
    if args.no_wait:
        log("--no-wait: follow with `squeue -u $USER` / `sacct -j %s`; re-run to aggregate" % ",".join(new_jobs))
        return []
    follow = [j["job"] for j in jobs]
    allruns = {r.id: r for r in todo}
    prog = Progress(len(todo) + len(active_ids), args.throttle or len(todo) or 1, est_run_s)
    while True:
        act = squeue_active(follow)
        counts = {"done": 0, "failed": 0, "running": 0}
        for j in jobs:
            for rid in j["runs"]:
                st = (read_json(status_path(root, rid)) or {}).get("state")
                if st in counts:
                    counts[st] += 1
        prog.done, prog.failed, prog.running = counts["done"], counts["failed"], counts["running"]
        prog.total = max(prog.total, prog.done + prog.failed + prog.running)
        if not act:
            break
        prog.show()
        time.sleep(2)
    prog.show(force=True)
    failures = []
    for r in allruns.values():
        st = read_json(status_path(root, r.id)) or {}
        if st.get("state") != "done" or not os.path.exists(os.path.join(r.dir, "summary.json")):
            why = st.get("reason") or sacct_reason(follow, r.id, jobs) or "no status written (job never ran?)"
            if st.get("state") != "failed":
                st.update({"state": "failed", "reason": why})
                write_json(status_path(root, r.id), st)
            failures.append((r.id, why))
    return failures


def sacct_reason(job_ids, rid, jobs):
    for j in jobs:
        if rid in j["runs"]:
            tid = "%s_%d" % (j["job"], j["runs"].index(rid))
            p = subprocess.run(["sacct", "-n", "-P", "-j", tid, "-o", "JobID,State,ExitCode"], capture_output=True, text=True)
            if p.returncode == 0 and p.stdout.strip():
                return "slurm: " + p.stdout.strip().splitlines()[0]
    return None


# ------------------------------------------------------------------ commands
def ensure_data(dplan, binary, datasets):
    for ds in datasets:
        d = dplan[ds]
        if d.get("synth") is None or os.path.exists(d["prefix"] + "_test.npz"):
            continue
        os.makedirs(os.path.dirname(d["prefix"]), exist_ok=True)
        log("writing synthetic data %s: mimrl synth %s" % (d["prefix"], " ".join(d["synth"])))
        p = subprocess.run([binary, "synth"] + d["synth"] + ["--out", d["prefix"]], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("[paper] mimrl synth failed: " + p.stderr.strip())


def cmd_run(args, spec):
    root = os.path.abspath(args.root)
    tables = args.tables.split(",") if args.tables else None
    runs, dplan, skipped = plan_runs(spec, args.profile, root, os.environ, tables)
    for ds, why in skipped:
        log("dataset %s skipped: %s" % (ds, why))
    states = {r.id: run_state(root, r) for r in runs}
    todo = [r for r in runs if states[r.id] != "done" and states[r.id] != "running"]
    n = {s: sum(1 for v in states.values() if v == s) for s in ("done", "partial", "failed", "running", "missing")}
    jobs = args.jobs or (default_jobs(spec, args.profile, args.threads) if args.engine == "local" else (args.throttle or len(todo) or 1))
    wall, basis = projection(spec, args.profile, todo, root, jobs, dplan)
    log("profile %s, engine %s, run root %s: %d runs (%d done, %d to resume, %d failed before, %d running, %d missing)"
        % (args.profile, args.engine, root, len(runs), n["done"], n["partial"], n["failed"], n["running"], n["missing"]))
    for ds, b in sorted(basis.items()):
        log("  %s: %s" % (ds, b))
    log("projected duration: %s for %d runs with %d at a time" % (fmt_duration(wall), len(todo), jobs))
    if args.dry_run:
        return 0
    ensure_data(dplan, args.bin, sorted({r.dataset for r in runs}))
    keep = spec["profiles"][args.profile].get("keep_checkpoints", True)
    est_run = wall * jobs / max(1, len(todo))
    t0 = time.time()
    if not todo:
        failures = []
    elif args.engine == "local":
        failures = engine_local(root, todo, args.bin, jobs, args.threads, keep, est_run)
    else:
        failures = engine_slurm(root, todo, args, spec, args.profile, est_run)
    log("sweep finished in %s: %d failed" % (fmt_duration(time.time() - t0), len(failures)))
    for rid, why in failures:
        log("  failed %s: %s" % (rid, why))
    if args.no_wait and args.engine == "slurm":
        return 0
    import aggregate
    rc = aggregate.aggregate(spec, args.profile, root, os.path.abspath(args.out), dplan, skipped, tables)
    return 1 if failures else rc


def cmd_status(args, spec):
    root = os.path.abspath(args.root)
    runs, _, skipped = plan_runs(spec, args.profile, root, os.environ)
    for r in runs:
        st = run_state(root, r)
        extra = (read_json(status_path(root, r.id)) or {}).get("reason", "") if st == "failed" else ""
        print("%-9s %s %s" % (st, r.rel, extra))
    for ds, why in skipped:
        print("skipped   %s: %s" % (ds, why))
    return 0


def cmd_exec(args, spec):
    with open(args.tasks) as f:
        task = json.load(f)[args.index]
    ok, why = run_one(os.path.abspath(args.root), task, args.bin, args.threads, args.keep == 1, "slurm")
    if not ok:
        print("[paper] %s failed: %s" % (task["id"], why), file=sys.stderr)
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "status", "aggregate", "estimate", "exec"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="smoke")
        p.add_argument("--root", help="run root (default runs/paper/<profile>; on a shared filesystem for Slurm)")
        p.add_argument("--out", help="tables and figures (default paper/out/<profile>)")
        p.add_argument("--bin", default=os.path.join(REPO, "build", "mimrl"))
        p.add_argument("--threads", type=int, default=1, help="threads per run (OpenBLAS; Slurm --cpus-per-task)")
        p.add_argument("--tables", help="comma-separated subset, e.g. T1,T4 (default: all)")
        if name in ("run", "estimate"):
            p.add_argument("--engine", choices=["local", "slurm"], default="local")
            p.add_argument("--jobs", type=int, default=0, help="local: concurrent runs (default from cores and memory)")
            p.add_argument("--partition", default="")
            p.add_argument("--account", default="")
            p.add_argument("--time", default="3-00:00:00", help="Slurm --time per run")
            p.add_argument("--mem", default="", help="Slurm --mem per run (default: the profile's mem_gb_per_run)")
            p.add_argument("--throttle", type=int, default=0, help="Slurm array throttle %%N")
            p.add_argument("--no-wait", action="store_true", help="Slurm: submit and return")
            p.add_argument("--dry-run", action="store_true")
        if name == "exec":
            p.add_argument("--tasks", required=True)
            p.add_argument("--index", type=int, required=True)
            p.add_argument("--keep", type=int, default=1)
    args = ap.parse_args(argv)
    spec = load_spec()
    if args.profile not in spec["profiles"]:
        sys.exit("[paper] unknown profile %s (one of %s)" % (args.profile, ", ".join(spec["profiles"])))
    args.root = args.root or os.path.join(REPO, "runs", "paper", args.profile)
    args.out = args.out or os.path.join(HERE, "out", args.profile)
    sys.path.insert(0, HERE)
    if args.cmd == "estimate":
        args.dry_run = True
        return cmd_run(args, spec)
    if args.cmd == "aggregate":
        import aggregate
        root = os.path.abspath(args.root)
        tables = args.tables.split(",") if args.tables else None
        _, dplan, skipped = plan_runs(spec, args.profile, root, os.environ, tables)
        return aggregate.aggregate(spec, args.profile, root, os.path.abspath(args.out), dplan, skipped, tables)
    return {"run": cmd_run, "status": cmd_status, "exec": cmd_exec}[args.cmd](args, spec)


if __name__ == "__main__":
    sys.exit(main())
