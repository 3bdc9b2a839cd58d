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
        spec = json.load(f)
    for t in spec["tables"].values():
        if t["kind"] == "ratio":
            t["groups"] = expand_ratio_table(spec, t, t["grid"])
    return spec


def ratio_points(grid):
    """the simplex grid (i, j, k), i + j + k = grid, in a fixed order (inv-heavy first)."""
    return [(i, j, grid - i - j) for i in range(grid, -1, -1) for j in range(grid - i, -1, -1)]


def ratio_coefficients(c2, point, grid):
    """loss_mi_coefficient2 with inv : (spec_T + spec_A + spec_V) : comp = point, at the total weight W of those
    five terms in c2 and with the specific weight split in c2's proportions (equal thirds when c2 has none)."""
    v = [float(x) for x in c2.split("-")]
    W = v[3] + v[4] + v[5] + v[6] + v[7]
    sp = v[4] + v[5] + v[6]
    prop = [x / sp for x in v[4:7]] if sp > 0 else [1 / 3.0] * 3
    i, j, k = point
    spec_w = W * j / grid
    new = v[:3] + [W * i / grid] + [spec_w * q for q in prop] + [W * k / grid]
    return "-".join("%.10g" % x for x in new), W


def expand_ratio_table(spec, t, grid):
    """registers the ratio table's configs (one per grid point and base; the official ratio is the base
    config itself) and returns its groups, one per dataset."""
    groups = []
    for ds in t["datasets"]:
        base = t["bases"][ds]
        bc = spec["configs"][base]
        c2 = bc.get("set", {}).get("loss_mi_coefficient2") or spec["flagsets"][bc["base"]]["flags"]["loss_mi_coefficient2"]
        rows = []
        for pt in ratio_points(grid):
            coef, W = ratio_coefficients(c2, pt, grid)
            name = "ratio_%s_%s" % ("".join(str(x) for x in pt), base)
            setf = dict(bc.get("set", {}))
            setf["loss_mi_coefficient2"] = coef
            spec["configs"][name] = {"base": bc["base"], "set": setf, "ratio": list(pt), "ratio_total": W,
                                     "label": "inv:spec:comp = %d:%d:%d (thirds of W = %g)" % (pt + (W,))}
            rows.append({"config": name})
        v = [float(x) for x in c2.split("-")]
        W = v[3] + v[4] + v[5] + v[6] + v[7]
        off = [v[3] / W * grid, (v[4] + v[5] + v[6]) / W * grid, v[7] / W * grid] if W > 0 else [0, 0, 0]
        spec["configs"][base] = dict(bc, ratio=off, ratio_total=W, ratio_official=True)
        rows.append({"config": base, "label": "official ratio %.2f:%.2f:%.2f (%s)" % (off[0], off[1], off[2], bc["label"])})
        groups.append({"dataset": ds, "rows": rows})
    return groups


def table_groups(spec, profile, tname):
    """a table's groups in this profile (a profile may restrict ratio tables to ratio_datasets)."""
    t, prof = spec["tables"][tname], spec["profiles"][profile]
    if t["kind"] != "ratio":
        return t["groups"]
    groups = t["groups"] if prof.get("ratio_grid", t["grid"]) == t["grid"] else expand_ratio_table(spec, t, prof["ratio_grid"])
    only = prof.get("ratio_datasets")
    return [g for g in groups if only is None or g["dataset"] in only]


def profile_tables(spec, profile, tables=None):
    """the tables a sweep covers: those asked for, else the profile's list, else all."""
    return tables or spec["profiles"][profile].get("tables") or list(spec["tables"])


# ------------------------------------------------------------------ planning
class Run:
    def __init__(self, dataset, config, seed, data, flags, root, text="features", bert=None):
        self.dataset, self.config, self.seed, self.data, self.flags = dataset, config, seed, data, flags
        self.text = text  # text protocol (experiments.json text_protocols); bert runs get --bert DIR
        self.extra = ["--bert", bert] if text == "bert" else []
        self.rel = os.path.join("runs", dataset, config, "seed%d" % seed)
        self.dir = os.path.join(root, self.rel)
        self.id = "%s-%s-seed%d" % (dataset, config, seed)

    def argv(self, binary):
        return train_argv(binary, self.data, self.dir, self.flags, self.extra)

    def task(self):
        return {"id": self.id, "dir": self.dir, "data": self.data, "flags": self.flags, "extra": self.extra}


def train_argv(binary, data, rundir, flags, extra=()):
    """the mimrl train command of a run: its flags (checked against config.json by aggregate.py) and extra
    arguments that are not configuration (the BERT directory, which may sit elsewhere on another machine)."""
    a = [binary, "train", "--data", data, "--out", rundir] + list(extra)
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
    flags.update(spec["profiles"][profile].get("flags_per_flagset", {}).get(c["base"], {}))
    flags["seed"] = str(seed)
    return flags


def config_seeds(spec, profile, config):
    """a profile's seeds (smoke, pilot) override everything; else the flagset's (the notebook cell's); else the default."""
    prof = spec["profiles"][profile]
    if "seeds" in prof:
        return prof["seeds"]
    return spec["flagsets"][spec["configs"][config]["base"]].get("seeds", spec["seeds"])


def selected_items(spec, profile, tables=None):
    """(dataset, config) pairs behind the selected tables and figures, in declaration order."""
    pairs = []
    names = profile_tables(spec, profile, tables)
    for t in names:
        for g in table_groups(spec, profile, t):
            for r in g["rows"]:
                pairs.append((g["dataset"], r["config"]))
    for f in spec["figures"].values():
        if f.get("table") and (tables is None or f["table"] in names):
            continue
        if tables is None and spec["profiles"][profile].get("tables") is None:
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


def bert_dir(spec, profile, root, env):
    """the BERT directory of a bert-protocol profile: one made by mimrl bert-init under the run root
    (profiles with bert_init), else PAPER_BERT; None for the features protocol."""
    prof = spec["profiles"][profile]
    if prof.get("text", "features") != "bert":
        return None
    if prof.get("bert_init"):
        return os.path.join(root, "bert")
    return env.get("PAPER_BERT", "")


def plan_runs(spec, profile, root, env, tables=None):
    prof = spec["profiles"][profile]
    dplan = data_plan(spec, profile, root, env)
    text, bert = prof.get("text", "features"), bert_dir(spec, profile, root, env)
    runs, skipped = [], []
    for ds, cfg in selected_items(spec, profile, tables):
        if "skip" in dplan[ds]:
            if ds not in [s[0] for s in skipped]:
                skipped.append((ds, dplan[ds]["skip"]))
            continue
        for s in config_seeds(spec, profile, cfg):
            runs.append(Run(ds, cfg, s, dplan[ds]["prefix"], config_flags(spec, profile, cfg, s), root, text,
                            os.path.abspath(bert) if bert else None))
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


_HASHES = {}


def data_hashes(prefix):
    """{file name: sha256} of a data prefix's three splits (cached per process; a missing file hashes to None).
    Recorded in each finished run's provenance.json and checked before a run is reused or aggregated, so a
    re-converted or truncated file under the same name is noticed."""
    import hashlib
    if prefix not in _HASHES:
        out = {}
        for split in ("train", "valid", "test"):
            path = "%s_%s.npz" % (prefix, split)
            try:
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                out[os.path.basename(path)] = h.hexdigest()
            except OSError:
                out[os.path.basename(path)] = None
        _HASHES[prefix] = out
    return _HASHES[prefix]


def data_changed(run_dir, prefix):
    """the data files whose content differs from what the finished run in run_dir was trained on ([] when the
    same, or when the run predates the record)."""
    prov = read_json(os.path.join(run_dir, "provenance.json")) or {}
    then = prov.get("data_sha256")
    if not then:
        return []
    now = data_hashes(prefix)
    return [f for f in sorted(then) if now.get(f) != then[f]]


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
        argv = train_argv(binary, task["data"], rdir, task["flags"], task.get("extra", []))
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


def cmd_run(args, spec):
    root = os.path.abspath(args.root)
    tables = args.tables.split(",") if args.tables else None
    runs, dplan, skipped = plan_runs(spec, args.profile, root, os.environ, tables)
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


def cmd_costs(args, spec):
    """what each profile costs here (local pool, this machine's cores and memory) and on Slurm (every run
    at once: the longest run; and the core-hours), from the same per-epoch estimates as a run's projection."""
    log("what each profile costs (projections; measured per-epoch times where this machine has them):")
    for prof in spec["profiles"]:
        root = os.path.join(REPO, "runs", "paper", prof)
        runs, dplan, skipped = plan_runs(spec, prof, root, os.environ)
        todo = [r for r in runs if run_state(root, r) != "done"]
        jobs = default_jobs(spec, prof, args.threads)
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
    for name in ("run", "status", "aggregate", "estimate", "exec", "costs"):
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
            p.add_argument("--allow-missing", action="store_true",
                           help="real profile: run the datasets whose PAPER_DATA_* is given; the others' rows say 'not run'")
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
    return {"run": cmd_run, "status": cmd_status, "exec": cmd_exec, "costs": cmd_costs}[args.cmd](args, spec)


if __name__ == "__main__":
    sys.exit(main())
