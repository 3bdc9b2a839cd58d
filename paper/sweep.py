#!/usr/bin/env python3
"""paper/sweep.py - runs the sweeps declared in paper/experiments.json and aggregates them.

  sweep.py run       --profile P [--engine local|slurm] [--root DIR] [--out DIR] [--jobs N] ...
                     Slurm: [--partition P] [--account A] [--throttle N] [--max-time T] [--limit DS:time=T,mem=GB]
                     [--slurm-setup FILE] [--sbatch-arg=OPT ...] [--no-wait]
  sweep.py status    --profile P [--root DIR]
  sweep.py aggregate --profile P [--root DIR] [--out DIR]
  sweep.py estimate  --profile P [--engine ...]
  sweep.py exec      --root DIR --tasks FILE --index I     (one run; what a Slurm array task calls)

Slurm: a run's state comes from the scheduler. Each run's status records its array task (job_task);
a task that squeue still lists is queued or running and its run directory is not touched; a task
that ended without writing done/failed (TIMEOUT, NODE_FAIL, CANCELLED, PREEMPTED, OUT_OF_MEMORY) is
recorded as failed with the scheduler's state and reason (sacct, else `scontrol show job`, else the
jobcomp/filetxt file) and resubmitted by the next `run` (with --resume when last.npz exists). When
neither squeue nor sacct answers, the sweep stops (exit 3) without changing anything.

One `mimrl train` per run directory ROOT/runs/<dataset>/<config>/seed<N>. A run directory with
summary.json is done and never touched; one with last.npz but no summary.json is continued with
`mimrl train --resume`; anything else is (re)started. Status and logs of each attempt live apart
from the run directory, in ROOT/logs/<run id>.{json,out,err}. Python stdlib only (matplotlib for
the figures, in aggregate.py).
"""
import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from plan import (HERE, REPO, SPEC, load_spec, Run, train_argv, config_flags, config_seeds, selected_items, bert_dir,
                  plan_runs, read_json, data_hashes, data_changed, git_commit)

QUANTITIES = ["ft", "fa", "fv", "in", "st", "sa", "sv", "cp"]
FULL_N_TRAIN = {"mosi": 1284, "mosei": 16326, "avec": 163}


def log(msg):
    print("[paper] " + msg, flush=True)


# ------------------------------------------------------------------ run state
def status_path(root, run_id, ext="json"):
    return os.path.join(root, "logs", "%s.%s" % (run_id, ext))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def run_state(root, run, active=None):
    """done | partial (resumable) | failed | running | queued | missing. active: run id -> (Slurm
    state, task) of the runs whose task the scheduler lists (from reconcile); None when the
    scheduler was not asked (then a Slurm run marked running is reported as running, unchecked)."""
    if os.path.exists(os.path.join(run.dir, "summary.json")):
        return "done"
    if active and run.id in active:
        return "queued" if active[run.id][0] == "PENDING" else "running"
    st = read_json(status_path(root, run.id)) or {}
    if st.get("state") in ("running", "requeued") and st.get("engine") == "slurm":
        if active is None:
            return "running"
    elif st.get("state") == "running" and pid_alive(st):
        return "running"
    if st.get("state") == "failed":
        return "failed"
    if os.path.exists(os.path.join(run.dir, "last.npz")):
        return "partial"
    return "missing"


def pid_alive(st):
    """a local-engine run's process on this host; a pid of another host means nothing here."""
    if st.get("host") != socket.gethostname() or not st.get("pid"):
        return False
    try:
        os.kill(st["pid"], 0)
        return True
    except OSError:
        return False


def thread_env(threads):
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(threads)
    if threads <= 1:
        env["MIMRL_ENCODER_THREADS"] = "1"
    return env


def slurm_task_here():
    """"<array job>_<task>" of the Slurm array task this process runs in, else None."""
    a, t = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return "%s_%s" % (a, t) if a and t else None


def listed_elsewhere(prev):
    """None when no other Slurm task may still use this run directory, else why not."""
    other = prev.get("job_task")
    if prev.get("engine") != "slurm" or not other or other == slurm_task_here() \
            or prev.get("state") not in ("running", "requeued"):
        return None
    try:
        tasks = squeue_tasks({other.split("_")[0]})
    except SchedulerUnavailable as e:
        return "cannot check whether Slurm task %s still uses it: %s" % (other, e)
    if other in tasks:
        return "Slurm task %s (%s) still uses it" % (other, tasks[other][0])
    return None


def epochs_done(rdir):
    try:
        with open(os.path.join(rdir, "metrics.csv")) as f:
            return max(0, len([l for l in f.read().splitlines() if l.strip()]) - 1)
    except OSError:
        return 0


# set by the SIGUSR1 handler of `sweep.py exec --requeue-on-signal` (a time-limit segment ends)
REQUEUE = {"asked": False}


def run_one(root, task, binary, threads, keep_checkpoints, engine, on_start=None):
    """Trains (or continues) one run directory; returns (ok, reason). Never raises for a failed run."""
    rid, rdir = task["id"], task["dir"]
    if os.path.exists(os.path.join(rdir, "summary.json")):
        return True, "already done"
    prev = read_json(status_path(root, rid)) or {}
    busy = listed_elsewhere(prev)
    if busy:  # never delete, move or write into a run directory the scheduler still lists
        return False, "run directory %s not touched: %s" % (rdir, busy)
    attempt = prev.get("attempt", 0) + 1
    resume = os.path.exists(os.path.join(rdir, "last.npz"))
    if resume and prev.get("state") == "failed" and prev.get("resumed") and not prev.get("slurm_state"):
        # the last attempt was already a resume and failed by itself (not killed by the scheduler:
        # TIMEOUT, CANCELLED, ... say nothing against the checkpoint): keep that directory aside, start afresh
        aside = "%s.broken-%d" % (rdir, attempt)
        os.replace(rdir, aside)
        resume = False
    if not resume and os.path.isdir(rdir):
        shutil.rmtree(rdir)  # killed before its first checkpoint: nothing to continue
    os.makedirs(os.path.dirname(rdir), exist_ok=True)
    if resume:
        argv = [binary, "train", "--resume", rdir]
    else:
        argv = train_argv(binary, task["data"], rdir, task["flags"], task.get("extra", []))
    os.makedirs(os.path.join(root, "logs"), exist_ok=True)
    t0 = time.time()
    with open(status_path(root, rid, "out"), "a") as fo, open(status_path(root, rid, "err"), "a") as fe:
        fo.write("# attempt %d: %s\n" % (attempt, " ".join(argv)))
        fo.flush()
        fe_start = fe.tell()
        p = subprocess.Popen(argv, stdout=fo, stderr=fe, env=thread_env(threads), cwd=REPO)
        st = {"state": "running", "pid": p.pid, "host": socket.gethostname(), "attempt": attempt, "resumed": resume,
              "argv": argv, "engine": engine, "started": t0, "slurm_job": os.environ.get("SLURM_JOB_ID"),
              "job_task": slurm_task_here(), "slurm_restarts": os.environ.get("SLURM_RESTART_COUNT")}
        write_json(status_path(root, rid), st)
        epochs0 = epochs_done(rdir)
        if on_start:
            on_start(rid, p)
        rc = p.wait()
    st.update({"ended": time.time(), "seconds": round(time.time() - t0, 1), "rc": rc})
    if REQUEUE["asked"] and not os.path.exists(os.path.join(rdir, "summary.json")):
        return requeue_self(root, rid, rdir, st, epochs0)
    if rc == 0 and os.path.exists(os.path.join(rdir, "summary.json")):
        st["state"] = "done"
        write_json(os.path.join(rdir, "provenance.json"),
                   {"commit": git_commit(), "binary": os.path.abspath(binary), "host": socket.gethostname(),
                    "engine": engine, "threads": threads, "argv_last_attempt": argv, "attempts": attempt,
                    "data_sha256": data_hashes(task["data"])})
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


def requeue_self(root, rid, rdir, st, epochs0):
    """The end of a time-limit segment (SIGUSR1 from --signal): requeue this array task, which then
    resumes from last.npz. A segment that finished no epoch is not requeued (it would loop): failed."""
    n = epochs_done(rdir)
    if n <= epochs0 or not os.path.exists(os.path.join(rdir, "last.npz")):
        st.update({"state": "failed", "reason": "time-limit segment ended with no new epoch checkpointed (%d epochs before and after): "
                   "not requeued; give a longer --max-time or --limit" % n})
        write_json(status_path(root, rid), st)
        return False, st["reason"]
    st.update({"state": "requeued", "reason": "time-limit segment ended after epoch %d; requeued to resume from last.npz" % n})
    write_json(status_path(root, rid), st)
    rc, _, err = sh(["scontrol", "requeue", os.environ.get("SLURM_JOB_ID", "")])
    if rc != 0:
        st.update({"state": "failed", "reason": "time-limit segment ended after epoch %d; scontrol requeue failed: %s" % (n, err)})
        write_json(status_path(root, rid), st)
        return False, st["reason"]
    return True, st["reason"]


# ------------------------------------------------------------------ limits
def parse_slurm_time(text):
    """seconds of a Slurm time: MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS."""
    t = str(text).strip()
    try:
        days = 0
        if "-" in t:
            d, t = t.split("-", 1)
            days = int(d)
            parts = [int(x) for x in t.split(":")] + [0, 0]
            h, m, sec = parts[0], parts[1], parts[2]
        else:
            parts = [int(x) for x in t.split(":")]
            if len(parts) == 1:
                h, m, sec = 0, parts[0], 0
            elif len(parts) == 2:
                h, m, sec = 0, parts[0], parts[1]
            elif len(parts) == 3:
                h, m, sec = parts
            else:
                raise ValueError
    except ValueError:
        raise ValueError("not a Slurm time (MINUTES, HH:MM:SS or D-HH:MM:SS): %r" % text)
    return ((days * 24 + h) * 60 + m) * 60 + sec


def slurm_time(seconds):
    m = int(math.ceil(seconds / 60.0))
    return "%d-%02d:%02d:00" % (m // 1440, m % 1440 // 60, m % 60)


def parse_limit_overrides(items, datasets):
    """--limit DATASET:time=T,mem=GB (repeatable) -> {dataset: {"time_s", "mem_gb"}}."""
    out = {}
    for item in items or []:
        if ":" not in item:
            sys.exit("[paper] --limit %s: expected DATASET:time=T,mem=GB (e.g. mosei:time=1-00:00:00,mem=12)" % item)
        ds, rest = item.split(":", 1)
        if ds not in datasets:
            sys.exit("[paper] --limit %s: unknown dataset %s (one of %s)" % (item, ds, ", ".join(datasets)))
        for kv in rest.split(","):
            k, _, v = kv.partition("=")
            try:
                if k == "time":
                    out.setdefault(ds, {})["time_s"] = parse_slurm_time(v)
                elif k == "mem":
                    out.setdefault(ds, {})["mem_gb"] = float(v)
                else:
                    raise ValueError("key %r is neither time nor mem" % k)
            except ValueError as e:
                sys.exit("[paper] --limit %s: %s" % (item, e))
    return out


def text_protocol(run):
    """the run's text protocol (experiments.json text_protocols: features | bert)."""
    return getattr(run, "text", "features")


def run_limits(spec, profile, run, threads, overrides, max_time_s):
    """{"time_s", "mem_gb", "capped", "basis"}: the run's Slurm --time (capped by --max-time; a capped
    run goes in segments that requeue themselves) and memory, from experiments.json "limits"."""
    lim = spec.get("limits", {})
    proto = text_protocol(run)
    prof = spec["profiles"][profile]
    m = lim.get("profiles", {}).get(profile)
    if not m and "smoke_epoch_seconds" in prof:  # a small profile with its own measured epoch and memory
        m = {"epoch_s": prof["smoke_epoch_seconds"], "threads": 1, "peak_gb": prof.get("mem_gb_per_run", 7.0),
             "overhead_s": 60, "min_time_s": 300, "source": "profiles.%s.smoke_epoch_seconds and mem_gb_per_run" % profile}
    m = m or lim.get("runs", {}).get(run.dataset, {}).get(proto)
    epochs = int(run.flags.get("epochs_num", 70))
    if m:
        over = m.get("overhead_s", lim.get("overhead_s", 300))
        epoch = m["epoch_s"] * max(1.0, float(m.get("threads", 1)) / max(1, threads))
        t = max(m.get("min_time_s", lim.get("min_time_s", 600)), lim.get("margin_time", 2.0) * (epochs * epoch + over))
        mem = lim.get("margin_mem", 1.25) * m["peak_gb"]
        basis = "%d epochs x %.1f s + %d s, x%g margin; %.2f GiB x%g (%s)" % (
            epochs, epoch, over, lim.get("margin_time", 2.0), m["peak_gb"], lim.get("margin_mem", 1.25), m.get("source", "?"))
    else:
        t, mem = 3 * 86400, spec["profiles"][profile].get("mem_gb_per_run", 7.0)
        basis = "no measured limits for %s x %s in experiments.json: 3 days, the profile's mem_gb_per_run" % (run.dataset, proto)
    o = overrides.get(run.dataset, {})
    if "time_s" in o:
        t, basis = o["time_s"], "%s; " % o.get("time_src", "--limit %s:time" % run.dataset) + basis
    if "mem_gb" in o:
        mem, basis = o["mem_gb"], "%s; " % o.get("mem_src", "--limit %s:mem" % run.dataset) + basis
    t = int(math.ceil(t / 60.0)) * 60
    capped = max_time_s and t > max_time_s and "time_s" not in o
    return {"time_s": max_time_s if capped else t, "mem_gb": mem, "capped": bool(capped), "need_s": t, "basis": basis}


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
        like = spec["datasets"][r.dataset].get("like", r.dataset)  # POM has no synthetic shape; bench rows are keyed by shape
        if r.dataset in measured:
            s, why = measured[r.dataset], "measured in this run root"
        elif "smoke_epoch_seconds" in prof:
            s, why = prof["smoke_epoch_seconds"], "experiments.json profiles.%s.smoke_epoch_seconds" % profile
        elif spec.get("limits", {}).get("runs", {}).get(r.dataset, {}).get(text_protocol(r)):
            m = spec["limits"]["runs"][r.dataset][text_protocol(r)]
            s = m["epoch_s"] * max(1.0, float(m.get("threads", 1)))
            why = "experiments.json limits (%s x %s: %.0f s per epoch on %s threads, x%s for one core per run; %s)" % (
                r.dataset, text_protocol(r), m["epoch_s"], m.get("threads", 1), m.get("threads", 1), m.get("source", "?")[:80])
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
def default_jobs(max_mem_gb, threads):
    """local engine: runs at a time = min(cores / threads, 80 % of MemAvailable / the largest run's
    memory limit from experiments.json "limits")."""
    cores = os.cpu_count() or 1
    mem_gb = 4.0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    mem_gb = int(line.split()[1]) / 1048576
    except OSError:
        pass
    return max(1, min(cores // max(1, threads), int(mem_gb * 0.8 // max(0.1, max_mem_gb))))


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


# ------------------------------------------------------------------ the scheduler's view
POLL_S = float(os.environ.get("PAPER_SLURM_POLL_S", "15"))  # seconds between two squeue calls while waiting


class SchedulerUnavailable(Exception):
    pass


def sh(argv, timeout=120):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        return 127, "", str(e)
    return p.returncode, p.stdout, p.stderr.strip()


ENDED_BAD = ("TIMEOUT", "NODE_FAIL", "CANCELLED", "PREEMPTED", "OUT_OF_MEMORY", "FAILED", "BOOT_FAIL", "DEADLINE")
SACCT_ACTIVE = ("PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED")


def squeue_tasks(jobs, retries=3, pause=2.0):
    """{"<array job>_<task>" (or "<job>"): (state, reason)} of the given jobs (array job ids) still in
    the queue, whoever submitted them, pending array tasks one by one. squeue -j answers "Invalid job
    id specified" (exit 1) when the controller knows none of the ids any more: none is queued.
    Raises SchedulerUnavailable when squeue does not answer."""
    rc, err = 0, ""
    for i in range(retries):
        rc, out, err = sh(["squeue", "-h", "-r", "-j", ",".join(sorted(jobs)), "-o", "%F|%K|%A|%T|%r"], timeout=60)  # a hang: no answer
        if rc != 0 and "Invalid job id specified" in err:
            return {}
        if rc == 0:
            tasks = {}
            for line in out.splitlines():
                f = line.strip().split("|")
                if len(f) == 5:
                    tasks["%s_%s" % (f[0], f[1]) if f[1] not in ("N/A", "") else f[2]] = (f[3], f[4])
            return tasks
        if i + 1 < retries:
            time.sleep(pause)
    raise SchedulerUnavailable("squeue failed (exit %d): %s" % (rc, err or "no message"))


def sacct_tasks(keys):
    """({key: (state, text)}, None) from accounting, or (None, why not)."""
    rc, out, err = sh(["sacct", "-n", "-P", "-X", "-j", ",".join(keys), "-o", "JobID,State,ExitCode"])
    if rc != 0:
        return None, "sacct failed (exit %d): %s" % (rc, err or "no message")
    res = {}
    for line in out.splitlines():
        f = line.split("|")
        if len(f) >= 3 and f[0] in keys:
            res[f[0]] = (f[1].split()[0] if f[1] else "UNKNOWN", "sacct: State=%s ExitCode=%s" % (f[1], f[2]))
    return res, None


def jobcomp_file():
    """The jobcomp/filetxt log when slurm.conf has one and this host can read it (the controller's
    host, or a shared file), else None."""
    rc, out, _ = sh(["scontrol", "show", "config"])
    conf = {}
    for line in out.splitlines() if rc == 0 else []:
        k, _, v = line.partition("=")
        conf[k.strip()] = v.strip()
    if conf.get("JobCompType") == "jobcomp/filetxt" and os.access(conf.get("JobCompLoc", ""), os.R_OK):
        return conf["JobCompLoc"]
    return None


def ended_task(key):
    """(state, text) of a task squeue no longer lists: sacct (accounting), else `scontrol show job`
    (slurmctld keeps ended jobs MinJobAge seconds, 300 by default), else the jobcomp/filetxt log;
    ("UNKNOWN", what each said) when none knows it."""
    said = []
    res, why = sacct_tasks([key])
    if res and key in res:
        return res[key]
    said.append(why or "sacct: no record")
    rc, out, err = sh(["scontrol", "-o", "show", "job", key])
    if rc == 0 and "JobState=" in out:
        f = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
        return f["JobState"], "scontrol: JobState=%s Reason=%s ExitCode=%s" % (f["JobState"], f.get("Reason", "?"), f.get("ExitCode", "?"))
    said.append("scontrol: " + (err or "no record"))
    path = jobcomp_file()
    if path:
        a, _, t = key.partition("_")
        want = ("ArrayJobId=%s" % a, "ArrayTaskId=%s" % t) if t else ("JobId=%s" % a,)
        last = None
        with open(path, errors="replace") as f:
            for line in f:
                if all((" " + w + " ") in (" " + line.strip() + " ") for w in want):
                    last = line
        if last:
            f = dict(kv.split("=", 1) for kv in last.split() if "=" in kv)
            return f.get("JobState", "UNKNOWN"), "jobcomp %s: JobState=%s ExitCode=%s" % (path, f.get("JobState"), f.get("ExitCode", "?"))
        said.append("jobcomp %s: no record" % path)
    else:
        said.append("no readable jobcomp/filetxt log")
    return "UNKNOWN", "; ".join(said)


def latest_tasks(jobs):
    """run id -> the array task of its latest submission ("<job>_<index>")."""
    out = {}
    for j in jobs:
        for i, rid in enumerate(j["runs"]):
            out[rid] = "%s_%d" % (j["job"], i)
    return out


def scheduler_view(keys):
    """{key: state} for the keys that are still pending/running, from squeue; when squeue does not
    answer, from sacct if it knows every key; else raises SchedulerUnavailable."""
    if not keys:
        return {}
    try:
        tasks = squeue_tasks({k.split("_")[0] for k in keys})
        return {k: tasks[k][0] for k in keys if k in tasks}
    except SchedulerUnavailable as e:
        res, why = sacct_tasks(sorted(keys))
        if res is not None and set(keys) <= set(res):
            log("squeue did not answer (%s); states from sacct" % e)
            return {k: v[0] for k, v in res.items() if v[0] in SACCT_ACTIVE}
        raise SchedulerUnavailable("%s; %s" % (e, why or "sacct has no record of %s" % ", ".join(sorted(set(keys) - set(res)))))


def reconcile(root, runs, jobs, write=True):
    """Asks the scheduler about every Slurm run that is not done. Returns {run id: (state, task)} of
    runs whose task the scheduler still lists. A run whose task ended without writing done/failed
    (killed: TIMEOUT, NODE_FAIL, CANCELLED, PREEMPTED, OUT_OF_MEMORY, or never started) is recorded
    as failed with the scheduler's state and reason (write=False: only returned, in `notes`).
    Raises SchedulerUnavailable before anything is written."""
    latest = latest_tasks(jobs)
    cand = {}
    for r in runs:
        if os.path.exists(os.path.join(r.dir, "summary.json")):
            continue
        st = read_json(status_path(root, r.id)) or {}
        keys = [k for k in (latest.get(r.id), st.get("job_task") if st.get("engine") == "slurm" else None) if k]
        if keys:
            cand[r.id] = (st, keys)
    if not cand:
        return {}, {}  # no Slurm task was ever recorded for these runs: nothing to ask
    view = scheduler_view({k for _, ks in cand.values() for k in ks})
    active, notes = {}, {}
    for rid, (st, keys) in cand.items():
        live = [k for k in keys if k in view]
        if live:
            active[rid] = (view[live[0]], live[0])
            continue
        newest = keys[0]
        mine = st.get("job_task") == newest
        if mine and st.get("state") not in ("running", "requeued"):
            if not (st.get("state") == "failed" and isinstance(st.get("rc"), int) and st["rc"] < 0 and "slurm_state" not in st):
                continue  # the task itself wrote how it ended (done, failed)
            state, text = ended_task(newest)  # killed by a signal: was it the scheduler (TIMEOUT, scancel, ...)?
            st = dict(st, slurm_state=state, reason="%s; Slurm task %s: %s (%s)" % (st.get("reason", ""), newest, state, text))
            notes[rid] = st["reason"]
            if write:
                write_json(status_path(root, rid), st)
            continue
        state, text = ended_task(newest)
        if mine:
            what = "Slurm task %s ended while the run was %s on %s" % (newest, st.get("state"), st.get("host", "?"))
        elif st.get("state") in ("running", "requeued"):
            what = "Slurm task %s is not listed; the status says %s on %s (%s)" % (
                newest, st.get("state"), st.get("host", "?"), "task %s" % st["job_task"] if st.get("job_task") else "no task recorded")
        else:
            what = "Slurm task %s ended before it wrote a status (never started?)" % newest
        reason = "%s: %s%s (%s)" % (what, state, " but no summary.json" if state == "COMPLETED" else "", text)
        notes[rid] = reason
        if write:
            write_json(status_path(root, rid), dict(st, state="failed", reason=reason, slurm_state=state, job_task=newest, engine="slurm"))
    return active, notes


def stop_unavailable(e):
    log("STOPPED: the scheduler cannot say which runs are still queued or running: %s" % e)
    log("nothing was submitted, marked failed, moved or deleted; run again when `squeue` answers "
        "(check `scontrol ping` and SLURM_CONF)")
    return 3




SLURM_TEMPLATE = os.path.join(HERE, "slurm", "job.sbatch.in")
AGG_TEMPLATE = os.path.join(HERE, "slurm", "aggregate.sbatch.in")
REQUEUE_GRACE_S = 300  # --signal=B:USR1@300: a capped segment is told 5 min (give or take Slurm's 60 s resolution) before its end


def setup_lines(args):
    if not args.slurm_setup:
        return "# (no --slurm-setup file)"
    with open(args.slurm_setup) as f:
        return "# from --slurm-setup %s\n%s" % (os.path.abspath(args.slurm_setup), f.read().rstrip("\n"))


def fill(template, subs):
    with open(template) as f:
        text = f.read()
    for k, v in subs.items():
        text = text.replace(k, v)
    return text


def slurm_script(root, tasks_file, n, args, spec, profile, lim):
    opts = []
    if args.partition:
        opts.append("#SBATCH --partition=%s" % args.partition)
    if args.account:
        opts.append("#SBATCH --account=%s" % args.account)
    requeue = ""
    if lim["capped"]:  # the run needs more than --max-time: segments that requeue themselves and resume
        opts.append("#SBATCH --signal=B:USR1@%d" % REQUEUE_GRACE_S)
        requeue = " --requeue-on-signal"
    throttle = ("%%%d" % args.throttle) if args.throttle else ""
    return fill(SLURM_TEMPLATE, {
        "@OPTIONS@": "\n".join(opts), "@TIME@": slurm_time(lim["time_s"]), "@MEM@": "%dM" % int(math.ceil(lim["mem_gb"] * 1024)),
        "@CPUS@": str(args.threads), "@ARRAY@": "0-%d%s" % (n - 1, throttle), "@LOGDIR@": os.path.join(root, "slurm"),
        "@PYTHON@": sys.executable, "@SWEEP@": os.path.abspath(__file__), "@ROOT@": root,
        "@TASKS@": tasks_file, "@BIN@": os.path.abspath(args.bin), "@THREADS@": str(args.threads),
        "@KEEP@": "1" if spec["profiles"][profile].get("keep_checkpoints", True) else "0",
        "@REQUEUE@": requeue, "@SETUP@": setup_lines(args),
        "@LIMITS@": "need %s per run, %s" % (slurm_time(lim["need_s"]), lim["basis"])})


def sbatch(argv_tail, args):
    argv = ["sbatch", "--parsable"] + list(args.sbatch_arg or []) + argv_tail
    rc, out, err = sh(argv)
    if rc != 0:
        return None, "sbatch failed (exit %d): %s [%s]" % (rc, err, " ".join(argv))
    return out.strip().split(";")[0], None


def engine_slurm(root, todo, args, spec, profile, est_run_s, jobs, active, limits):
    """Submits the runs of todo (one job array per distinct time/memory limit); unless --no-wait,
    follows them with squeue until none is listed, then reconciles. Returns (failures, submitted
    job ids, ids still to follow)."""
    sdir = os.path.join(root, "slurm")
    os.makedirs(sdir, exist_ok=True)
    jobs_file = os.path.join(sdir, "jobs.json")
    groups = {}
    for r in todo:
        lim = limits[r.id]
        groups.setdefault((lim["time_s"], round(lim["mem_gb"], 3), lim["capped"]), []).append(r)
    new_jobs = []
    for gi, (key, grp) in enumerate(sorted(groups.items(), key=lambda kv: kv[0])):
        lim = limits[grp[0].id]
        stamp = time.strftime("%Y%m%dT%H%M%S") + "-%d-%d" % (os.getpid(), gi)
        tasks_file = os.path.join(sdir, "tasks-%s.json" % stamp)
        write_json(tasks_file, [r.task() for r in grp])
        script = os.path.join(sdir, "job-%s.sbatch" % stamp)
        with open(script, "w") as f:
            f.write(slurm_script(root, tasks_file, len(grp), args, spec, profile, lim))
        jid, err = sbatch([script], args)
        if err:
            log(err)
            return [("sbatch", err)], new_jobs, []
        log("submitted job array %s (%d tasks, --time %s%s, --mem %.1f GiB): %s" % (
            jid, len(grp), slurm_time(lim["time_s"]), " in self-requeuing segments (needs %s)" % slurm_time(lim["need_s"]) if lim["capped"] else "",
            lim["mem_gb"], script))
        jobs.append({"job": jid, "runs": [r.id for r in grp], "tasks": tasks_file, "script": script,
                     "time": slurm_time(lim["time_s"]), "mem_gb": lim["mem_gb"], "segments": lim["capped"]})
        write_json(jobs_file, jobs)
        new_jobs.append(jid)
    follow = sorted({j for j in new_jobs} | {t.split("_")[0] for _, t in active.values()})
    if args.no_wait:
        return [], new_jobs, follow
    keys = set(latest_tasks(jobs)[r.id] for r in todo) | {t for _, t in active.values()}
    prog = Progress(len(keys), args.throttle or len(keys) or 1, est_run_s)
    while True:
        view = scheduler_view(keys)  # SchedulerUnavailable: stop, nothing written
        prog.running = sum(1 for v in view.values() if v != "PENDING")
        prog.done = sum(1 for r in todo if os.path.exists(os.path.join(r.dir, "summary.json")))
        prog.failed = sum(1 for r in todo if (read_json(status_path(root, r.id)) or {}).get("state") == "failed")
        if not view:
            break
        prog.show()
        time.sleep(POLL_S)
    prog.show(force=True)
    follow_runs = todo + [r for r in args.all_runs if r.id in active]
    reconcile(root, follow_runs, jobs)
    failures = []
    for r in follow_runs:
        if not os.path.exists(os.path.join(r.dir, "summary.json")):
            st = read_json(status_path(root, r.id)) or {}
            failures.append((r.id, st.get("reason") or "no status written and the scheduler does not list its task"))
    return failures, new_jobs, []


def submit_aggregation(root, args, after):
    """--no-wait: `sweep.py aggregate` as a job that starts when every array in `after` has ended
    (afterany: failed runs are listed in the tables as not averaged in)."""
    sdir = os.path.join(root, "slurm")
    script = os.path.join(sdir, "aggregate-%s-%d.sbatch" % (time.strftime("%Y%m%dT%H%M%S"), os.getpid()))
    extra = ["--spec", os.path.abspath(args.spec)] + (["--tables", args.tables] if args.tables else [])
    opts = []
    if args.partition:
        opts.append("#SBATCH --partition=%s" % args.partition)
    if args.account:
        opts.append("#SBATCH --account=%s" % args.account)
    with open(script, "w") as f:
        f.write(fill(AGG_TEMPLATE, {"@OPTIONS@": "\n".join(opts), "@LOGDIR@": sdir, "@PYTHON@": sys.executable,
                                    "@SWEEP@": os.path.abspath(__file__), "@ROOT@": root, "@OUT@": os.path.abspath(args.out),
                                    "@PROFILE@": args.profile, "@EXTRA@": " ".join('"%s"' % x for x in extra),
                                    "@SETUP@": setup_lines(args)}))
    jid, err = sbatch(["--dependency=afterany:" + ":".join(after), script], args)
    if err:
        log(err)
        return None
    log("submitted aggregation job %s (--dependency=afterany:%s): writes %s when the arrays have ended; log %s"
        % (jid, ":".join(after), os.path.abspath(args.out), os.path.join(sdir, "aggregate-%s.out" % jid)))
    return jid


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


def npz_members(path):
    import zipfile
    with zipfile.ZipFile(path) as z:
        return {n[:-4] if n.endswith(".npy") else n for n in z.namelist()}


def npz_int_max(path, member):
    """the largest value of an integer npy member (stdlib: zip + npy header), or None."""
    import ast
    import struct
    import zipfile
    with zipfile.ZipFile(path) as z:
        raw = z.read(member + ".npy")
    hl, off = (struct.unpack("<H", raw[8:10])[0], 10) if raw[6] == 1 else (struct.unpack("<I", raw[8:12])[0], 12)
    hdr = ast.literal_eval(raw[off:off + hl].decode("latin1"))
    code = {"<i4": "i", "<i8": "q", "<u2": "H", "<u4": "I"}.get(hdr["descr"])
    if code is None:
        return None
    body = raw[off + hl:]
    n = len(body) // struct.calcsize(code)
    return max(struct.unpack("<%d%s" % (n, code), body[:n * struct.calcsize(code)]), default=None)


def preflight(spec, profile, runs, dplan, skipped, args):
    """what must hold before any run starts; returns a list of problems (each names the file or variable)."""
    prof = spec["profiles"][profile]
    problems = []
    if prof["data"] == "env" and skipped and not args.allow_missing:
        problems += ["dataset %s: %s" % (ds, why) for ds, why in skipped]
    if prof.get("text", "features") == "bert" and not prof.get("bert_init"):
        bert = bert_dir(spec, profile, os.path.abspath(args.root), os.environ)
        if not bert:
            problems.append("PAPER_BERT not set: the bert text protocol (the paper's) needs a local Hugging Face BERT directory "
                            "(config.json, vocab.txt, model.safetensors), e.g. PAPER_BERT=models/bert-base-uncased")
        else:
            for f in ("config.json", "vocab.txt"):
                if not os.path.exists(os.path.join(bert, f)):
                    problems.append("PAPER_BERT=%s: %s is missing" % (bert, os.path.join(bert, f)))
    return problems


def check_bert_data(runs, bert):
    """bert protocol: every split has transcripts, and ids the data carries fit the BERT's vocabulary."""
    problems, seen = [], set()
    try:
        with open(os.path.join(bert, "vocab.txt"), encoding="utf-8") as f:
            vocab = sum(1 for _ in f)
    except OSError as e:
        return ["%s: %s" % (os.path.join(bert, "vocab.txt"), e.strerror)]
    for r in runs:
        if r.data in seen:
            continue
        seen.add(r.data)
        for split in ("train", "valid", "test"):
            path = "%s_%s.npz" % (r.data, split)
            try:
                m = npz_members(path)
            except (OSError, ValueError) as e:
                problems.append("%s: not a readable npz (%s)" % (path, e))
                continue
            if "text_bytes" not in m:
                problems.append("%s has no text_bytes (transcripts): converted for the features protocol; the bert protocol "
                                "tokenizes the transcripts (convert again from a source with text, or use a features profile)" % path)
            if "bert_ids" in m:
                top = npz_int_max(path, "bert_ids")
                if top is not None and top >= vocab:
                    problems.append("%s: bert_ids reach id %d, but %s has %d entries: the data was tokenized with another vocabulary"
                                    % (path, top, os.path.join(bert, "vocab.txt"), vocab))
    return problems


def ensure_bert(spec, profile, root, binary, dplan, runs):
    """profiles with bert_init: a small random BERT under the run root, its vocabulary from the first dataset's train transcripts."""
    prof = spec["profiles"][profile]
    if not prof.get("bert_init") or not runs:
        return
    out = os.path.join(root, "bert")
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    argv = [binary, "bert-init"] + prof["bert_init"] + ["--out", out, "--vocab-from", runs[0].data + "_train.npz"]
    log("writing a random BERT for the bert protocol: " + " ".join(argv[1:]))
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("[paper] mimrl bert-init failed: " + p.stderr.strip())


def slurm_in_play(root, runs, engine):
    if engine == "slurm" or os.path.exists(os.path.join(root, "slurm", "jobs.json")):
        return True
    return any((read_json(status_path(root, r.id)) or {}).get("engine") == "slurm" for r in runs)


def cmd_run(args, spec):
    root = os.path.abspath(args.root)
    tables = args.tables.split(",") if args.tables else None
    runs, dplan, skipped = plan_runs(spec, args.profile, root, os.environ, tables)
    args.all_runs = runs
    problems = preflight(spec, args.profile, runs, dplan, skipped, args)
    if problems and args.dry_run:
        for p in problems:
            log("note: a run would not start: " + p)
    elif problems:
        log("profile %s cannot start; nothing was run:" % args.profile)
        for p in problems:
            log("  " + p)
        return 2
    for ds, why in skipped:
        log("dataset %s skipped: %s" % (ds, why))
    overrides = parse_limit_overrides(args.limit, spec["datasets"])
    if args.time:
        try:
            t = parse_slurm_time(args.time)
        except ValueError as e:
            sys.exit("[paper] --time: %s" % e)
        for ds in spec["datasets"]:
            if "time_s" not in overrides.setdefault(ds, {}):
                overrides[ds].update(time_s=t, time_src="--time %s" % args.time)
    if args.mem:
        mem = args.mem.upper()
        try:  # Slurm's units: a bare number is MB
            gb = float(mem[:-1]) / (1024 if mem.endswith("M") else 1) if mem[-1] in "MG" else float(mem) / 1024
        except ValueError:
            sys.exit("[paper] --mem %s: expected MB, or a number with M or G (e.g. 12G)" % args.mem)
        for ds in spec["datasets"]:
            if "mem_gb" not in overrides.setdefault(ds, {}):
                overrides[ds].update(mem_gb=gb, mem_src="--mem %s" % args.mem)
    try:
        max_time_s = parse_slurm_time(args.max_time) if args.max_time else 0
    except ValueError as e:
        sys.exit("[paper] --max-time: %s" % e)
    if max_time_s and max_time_s < 2 * REQUEUE_GRACE_S:
        sys.exit("[paper] --max-time %s: segments shorter than %d min leave no time to train before the requeue "
                 "signal (--signal=B:USR1@%d); give at least that, or 0 for no cap" % (args.max_time, 2 * REQUEUE_GRACE_S // 60, REQUEUE_GRACE_S))
    limits = {r.id: run_limits(spec, args.profile, r, args.threads, overrides, max_time_s) for r in runs}
    # the scheduler first: nothing is written before it has answered
    jobs_file = os.path.join(root, "slurm", "jobs.json")
    jobs = read_json(jobs_file) or []
    active = None
    if slurm_in_play(root, runs, args.engine):
        try:
            active, notes = reconcile(root, runs, jobs, write=not args.dry_run)
        except SchedulerUnavailable as e:
            return stop_unavailable(e)
        for rid, why in sorted(notes.items()):
            log("%s %s: %s" % ("would mark failed" if args.dry_run else "marked failed", rid, why))
    states = {r.id: run_state(root, r, active) for r in runs}
    todo = [r for r in runs if states[r.id] not in ("done", "running", "queued")]
    n = {s: sum(1 for v in states.values() if v == s) for s in ("done", "partial", "failed", "running", "queued", "missing")}
    if args.engine == "local":
        jobs_n = args.jobs or default_jobs(max([limits[r.id]["mem_gb"] for r in todo] or [0.1]), args.threads)
    else:
        jobs_n = args.throttle or len(todo) or 1
    wall, basis = projection(spec, args.profile, todo, root, jobs_n, dplan)
    log("profile %s, engine %s, run root %s: %d runs (%d done, %d to resume, %d failed before, %d running, %d queued, %d missing)"
        % (args.profile, args.engine, root, len(runs), n["done"], n["partial"], n["failed"], n["running"], n["queued"], n["missing"]))
    if active:
        log("%d runs still queued or running in Slurm (%s); not resubmitted, their directories untouched"
            % (len(active), ", ".join(sorted({t for _, t in active.values()}))[:200]))
    for ds, b in sorted(basis.items()):
        log("  %s: %s" % (ds, b))
    shown = set()
    for r in todo:
        lim = limits[r.id]
        k = (r.dataset, text_protocol(r))
        if k not in shown:
            shown.add(k)
            log("  limits %s x %s: --time %s%s, --mem %.1f GiB (%s)" % (
                k[0], k[1], slurm_time(lim["time_s"]), " per segment, needs %s: requeues itself and resumes" % slurm_time(lim["need_s"])
                if lim["capped"] else "", lim["mem_gb"], lim["basis"]))
    log("projected duration: %s for %d runs with %d at a time" % (fmt_duration(wall), len(todo), jobs_n))
    if args.dry_run:
        return 0
    ensure_data(dplan, args.bin, sorted({r.dataset for r in runs}))
    stale = [(r, data_changed(r.dir, r.data)) for r in runs if states[r.id] == "done"]
    stale = [(r, f) for r, f in stale if f]
    if stale:
        log("data changed since finished runs were trained on it; nothing was run or deleted:")
        for r, f in stale:
            log("  %s: %s differ%s from the run's record (provenance.json data_sha256)" % (r.rel, ", ".join(f), "s" if len(f) == 1 else ""))
        log("use a new --root for the new data, or move those run directories away yourself")
        return 2
    ensure_bert(spec, args.profile, root, args.bin, dplan, runs)
    if runs and runs[0].text == "bert":
        problems = check_bert_data(runs, runs[0].extra[1])
        if problems:
            log("bert protocol: the data does not fit; nothing was run:")
            for p in problems:
                log("  " + p)
            return 2
    keep = spec["profiles"][args.profile].get("keep_checkpoints", True)
    est_run = wall * jobs_n / max(1, len(todo))
    t0 = time.time()
    follow = []
    if not todo and not (args.engine == "slurm" and active):
        failures = []
    elif args.engine == "local":
        failures = engine_local(root, todo, args.bin, jobs_n, args.threads, keep, est_run)
    else:
        try:
            failures, _, follow = engine_slurm(root, todo, args, spec, args.profile, est_run, jobs, active or {}, limits)
        except SchedulerUnavailable as e:
            return stop_unavailable(e)
    if args.no_wait and args.engine == "slurm" and follow:
        jid = submit_aggregation(root, args, follow)
        log("--no-wait: follow with `squeue -u $USER`; `sweep.py status` any time; the tables appear when job %s ends" % jid)
        return 0 if jid else 1
    log("sweep finished in %s: %d failed" % (fmt_duration(time.time() - t0), len(failures)))
    for rid, why in failures:
        log("  failed %s: %s" % (rid, why))
    if failures:
        log("after a failure: `sweep.py status` shows each reason; raise the limit that was hit (--limit DATASET:time=..,mem=..) "
            "and run the same command again: only failed and missing runs are submitted, killed ones resume from last.npz")
    import aggregate
    rc = aggregate.aggregate(spec, args.profile, root, os.path.abspath(args.out), dplan, skipped, tables)
    return 1 if failures else rc


def cmd_costs(args, spec):
    """what each profile costs here (local pool, this machine's cores and memory) and on Slurm (every run
    at once: the longest run; and the core-hours), from the same per-epoch estimates as a run's projection."""
    log("what each profile costs (projections; measured per-epoch times where this machine has them):")
    for prof in spec["profiles"]:
        root = os.path.join(REPO, "runs", "paper", prof)
        env = dict(os.environ)
        if spec["profiles"][prof]["data"] == "env":  # the cost with the data, whether or not it is here
            for name, ds in spec["datasets"].items():
                if ds.get("env") and not env.get(ds["env"]):
                    env[ds["env"]] = os.path.join(root, "costs-placeholder", name)
        runs, dplan, skipped = plan_runs(spec, prof, root, env)
        for ds, why in skipped:  # placeholders have no files: count their runs anyway
            for d2, cfg in selected_items(spec, prof):
                if d2 == ds:
                    for sd in config_seeds(spec, prof, cfg):
                        runs.append(Run(ds, cfg, sd, "", config_flags(spec, prof, cfg, sd), root,
                                        spec["profiles"][prof].get("text", "features"), "-"))
        skipped = [(ds, w) for ds, w in skipped if "costs-placeholder" not in w]
        todo = [r for r in runs if run_state(root, r) != "done"]
        jobs = default_jobs(max([run_limits(spec, prof, r, args.threads, {}, 0)["mem_gb"] for r in todo] or [0.1]), args.threads)
        local, _ = projection(spec, prof, todo, root, jobs, dplan)
        serial, _ = projection(spec, prof, todo, root, 1, dplan)
        slurm, _ = projection(spec, prof, todo, root, max(1, len(todo)), dplan)
        miss = "; not runnable here: " + "; ".join(w for _, w in skipped) if skipped else ""
        log("  %-10s %3d runs (%d left, text %s): here %s with %d at a time; Slurm %s with every run at once, %.1f core-h%s"
            % (prof, len(runs), len(todo), spec["profiles"][prof].get("text", "features"), fmt_duration(local), jobs,
               fmt_duration(slurm), serial * args.threads / 3600.0, miss))
    return 0


def cmd_status(args, spec):
    root = os.path.abspath(args.root)
    runs, _, skipped = plan_runs(spec, args.profile, root, os.environ)
    active, notes = None, {}
    if slurm_in_play(root, runs, "local"):
        try:
            active, notes = reconcile(root, runs, read_json(os.path.join(root, "slurm", "jobs.json")) or [], write=False)
        except SchedulerUnavailable as e:
            print("(scheduler not asked: %s; Slurm runs marked running are shown unchecked)" % e)
    for r in runs:
        st = run_state(root, r, active)
        extra = ""
        if r.id in notes:
            st, extra = "failed", notes[r.id] + " [not yet recorded: the next run records and resubmits it]"
        elif st == "failed":
            extra = (read_json(status_path(root, r.id)) or {}).get("reason", "")
        elif active and r.id in active:
            extra = "Slurm task %s %s" % (active[r.id][1], active[r.id][0])
        print("%-9s %s %s" % (st, r.rel, extra))
    for ds, why in skipped:
        print("skipped   %s: %s" % (ds, why))
    return 0


def cmd_exec(args, spec):
    with open(args.tasks) as f:
        task = json.load(f)[args.index]
    if args.requeue_on_signal:
        child = {}

        def on_usr1(signum, frame):
            REQUEUE["asked"] = True
            if child.get("p") and child["p"].poll() is None:
                child["p"].terminate()  # last.npz (written atomically after each epoch) is what resumes

        signal.signal(signal.SIGUSR1, on_usr1)
        on_start = lambda rid, p: child.__setitem__("p", p)  # noqa: E731
    else:
        on_start = None
    ok, why = run_one(os.path.abspath(args.root), task, args.bin, args.threads, args.keep == 1, "slurm", on_start)
    if not ok:
        print("[paper] %s failed: %s" % (task["id"], why), file=sys.stderr)
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("run", "status", "aggregate", "estimate", "exec", "costs"):
        p = sub.add_parser(name)
        p.add_argument("--profile", default="smoke")
        p.add_argument("--root", help="run root (default runs/paper/<profile>; on a shared filesystem for Slurm)")
        p.add_argument("--out", help="tables and figures (default paper/out/<profile>)")
        p.add_argument("--bin", default=os.path.join(REPO, "build", "mimrl"))
        p.add_argument("--threads", type=int, default=1, help="threads per run (OpenBLAS; Slurm --cpus-per-task)")
        p.add_argument("--tables", help="comma-separated subset, e.g. T1,T4 (default: all)")
        p.add_argument("--spec", default=os.environ.get("PAPER_SPEC") or SPEC, help="experiments file (default paper/experiments.json)")
        if name in ("run", "estimate"):
            p.add_argument("--engine", choices=["local", "slurm"], default="local")
            p.add_argument("--jobs", type=int, default=0, help="local: concurrent runs (default from cores and the runs' memory limits)")
            p.add_argument("--partition", default="")
            p.add_argument("--account", default="")
            p.add_argument("--limit", action="append", default=[], metavar="DATASET:time=T,mem=GB",
                           help="override experiments.json limits for one dataset (repeatable); T in minutes or D-HH:MM:SS, mem in GB")
            p.add_argument("--time", default="", help="Slurm --time of every run (overrides the per-dataset limits)")
            p.add_argument("--mem", default="", help="Slurm --mem of every run, e.g. 12G (overrides the per-dataset limits)")
            p.add_argument("--max-time", default="1-00:00:00", help="the partition's time limit: a run needing more runs in "
                           "segments of this length that requeue themselves and resume (default 1-00:00:00; 0: no cap)")
            p.add_argument("--throttle", type=int, default=0, help="Slurm array throttle %%N")
            p.add_argument("--slurm-setup", default="", metavar="FILE", help="lines put in each job script before the run (module load, PATH)")
            p.add_argument("--sbatch-arg", action="append", default=[], metavar="OPT",
                           help="passed to sbatch as is (repeatable), e.g. --sbatch-arg=--qos=long --sbatch-arg=--constraint=avx2")
            p.add_argument("--no-wait", action="store_true", help="Slurm: submit the arrays and a dependent aggregation job, and return")
            p.add_argument("--dry-run", action="store_true")
            p.add_argument("--allow-missing", action="store_true",
                           help="real profile: run the datasets whose PAPER_DATA_* is given; the others' rows say 'not run'")
        if name == "exec":
            p.add_argument("--tasks", required=True)
            p.add_argument("--index", type=int, required=True)
            p.add_argument("--keep", type=int, default=1)
            p.add_argument("--requeue-on-signal", action="store_true", help="SIGUSR1 ends a time-limit segment: requeue and resume")
    args = ap.parse_args(argv)
    spec = load_spec(args.spec)
    if args.profile not in spec["profiles"]:
        sys.exit("[paper] unknown profile %s (one of %s)" % (args.profile, ", ".join(spec["profiles"])))
    args.root = args.root or os.path.join(REPO, "runs", "paper", args.profile)
    args.out = args.out or os.path.join(HERE, "out", args.profile)
    if getattr(args, "slurm_setup", "") and not os.path.isfile(args.slurm_setup):
        sys.exit("[paper] --slurm-setup %s: no such file" % args.slurm_setup)
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
    return {"run": cmd_run, "status": cmd_status, "exec": cmd_exec, "costs": cmd_costs}[args.cmd](args, spec)


if __name__ == "__main__":
    sys.exit(main())
