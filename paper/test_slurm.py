#!/usr/bin/env python3
"""paper/test_slurm.py - the Slurm engine of paper/sweep.py on a real local Slurm (make test-paper).

One throw-away cluster (paper/slurm/local_cluster.sh: munged, slurmctld, slurmd; port 16827 so that
test_paper.py's cluster on 16817 can run beside it; the node declares 8 CPUs so that the sweeps below
run side by side: smoke runs are one small thread each). No accounting database: see the README.
The tests run concurrently, each in its own run root, on the smoke profile's AVEC table (T2, 2 runs),
with the epochs raised so that there is time to interrupt a run:

  scancel_resume   (a) `scancel` of one array task after its first checkpoint: the sweep records it
                   failed with Slurm's CANCELLED; the next `run` resubmits it, it resumes (--resume), and
                   T2 equals an uninterrupted local sweep's byte for byte
  timeout          (b) `--limit avec:time=1` on runs of about 190 s (120 epochs, 96 training samples):
                   Slurm kills the tasks at the 1-minute limit; both are
                   recorded failed with TIMEOUT (from the scheduler, not guessed); the next `run` without
                   the override resubmits and they complete, resumed (also when the killed attempt was
                   itself a resume: a scheduler kill never sets a run directory aside as broken)
  requeue_resume   a run over --max-time goes in segments: SIGUSR1 (what --signal=B:USR1@300 sends at
                   the end of a segment; sent here with `scancel --signal=USR1 --batch`) makes the task
                   requeue itself; another task is requeued by `scontrol requeue` (what a preemption or
                   node failure does with --requeue); both resume within the same `run`, T2 byte-equal
  squeue_fails     (d) arrays held in the queue (--sbatch-arg=--hold, --no-wait); `squeue` made to fail
                   (a wrong SLURM_CONF for that command only: slurm.conf naming a port where no
                   controller listens): the sweep stops with the message (exit 3)
                   and no file under the run root changes; with squeue back the held runs count as
                   queued, not failed, and are not resubmitted; cancelled while pending, they are
                   recorded failed (CANCELLED, never started) and the next `run` completes them
  no_wait          (e) --no-wait submits the array and an aggregation job with
                   --dependency=afterany:<array>; that job writes T2 (byte-equal); --slurm-setup lines
                   ran in the task, --sbatch-arg reached sbatch, logs are opened with --open-mode=append
  stale_running    (c) after no_wait: one finished run set back to what a task killed on another node
                   leaves (status running, host node17, no summary.json); the next `run` resubmits it

Skips every test with the reason when the cluster cannot start (not root, packages missing).
Prints one line per test and `slurm: N passed, N failed, N skipped (S s)`; exit 1 on any failure.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

from testlib import Skip, counts, parse_args, run_one, selected, summary

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SWEEP = os.path.join(HERE, "sweep.py")
CLUSTER = os.path.join(HERE, "slurm", "local_cluster.sh")
AVEC = ("avec-avec_main-seed33", "avec-avec_main-seed44")


class Ctx:
    def __init__(self, args, w, env):
        self.args, self.w, self.env = args, w, env
        self.ref_ready = threading.Event()
        self.ref_error = None


def write_spec(path, epochs, smoke_epoch_s=None, n_train=None):
    with open(os.path.join(HERE, "experiments.json")) as f:
        spec = json.load(f)
    spec["profiles"]["smoke"]["flags"]["epochs_num"] = str(epochs)
    if n_train is not None:
        sa = spec["profiles"]["smoke"]["synth_args"]
        sa[sa.index("--n-train") + 1] = str(n_train)
    if smoke_epoch_s is not None:
        spec["limits"]["profiles"]["smoke"]["epoch_s"] = smoke_epoch_s
    with open(path, "w") as f:
        json.dump(spec, f, indent=1)
    return path


def sweep(ctx, spec, *extra, env=None, check=None, timeout=900):
    argv = [sys.executable, SWEEP] + list(extra) + ["--profile", "smoke", "--bin", ctx.args.bin, "--spec", spec]
    p = subprocess.run(argv, capture_output=True, text=True, env=env or ctx.env, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError("sweep %s exited %d, expected %d:\n%s%s" % (" ".join(extra), p.returncode, check, p.stdout[-3000:], p.stderr[-2000:]))
    return p


def popen_sweep(ctx, spec, *extra):
    argv = [sys.executable, SWEEP] + list(extra) + ["--profile", "smoke", "--bin", ctx.args.bin, "--spec", spec]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ctx.env)


def status(root, rid):
    try:
        with open(os.path.join(root, "logs", rid + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def rundir(root, rid):
    return os.path.join(root, "runs", "avec", "avec_main", rid.split("-")[-1])


def checkpointed(root, rid):
    """status running, epoch 0 in metrics.csv and last.npz written, no summary.json yet."""
    d = rundir(root, rid)
    try:
        rows = [l for l in open(os.path.join(d, "metrics.csv")).read().splitlines() if l.strip()]
    except OSError:
        return False
    st = status(root, rid)
    return st.get("state") == "running" and st.get("job_task") and len(rows) >= 2 \
        and os.path.exists(os.path.join(d, "last.npz")) and not os.path.exists(os.path.join(d, "summary.json"))


def wait_for(pred, timeout, what):
    t = time.time() + timeout
    while time.time() < t:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


def squeue_gone(ctx, jobs, timeout=600):
    """waits until squeue lists none of the given jobs (array job ids or plain job ids)."""
    def gone():
        p = subprocess.run(["squeue", "-h", "-r", "-o", "%F %A"], capture_output=True, text=True, env=ctx.env)
        listed = set(p.stdout.split())
        return p.returncode == 0 and not (set(jobs) & listed)
    wait_for(gone, timeout, "jobs %s to leave the queue" % ", ".join(jobs))


def agg_job(stdout):
    return stdout.split("submitted aggregation job ")[1].split()[0]


def same_file(a, b):
    with open(a, "rb") as f1, open(b, "rb") as f2:
        if f1.read() != f2.read():
            raise AssertionError("%s differs from %s" % (a, b))


def same_t2(out, ref):
    for ext in (".md", ".tex"):
        same_file(os.path.join(out, "T2" + ext), os.path.join(ref, "T2" + ext))


def need_ref(ctx):
    ctx.ref_ready.wait(900)
    if ctx.ref_error:
        raise AssertionError("the uninterrupted local reference sweep failed: " + ctx.ref_error)
    return os.path.join(ctx.w, "ref-out")


def tree(root):
    """every path under root with its size and modification time (what 'touched' would change)."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            s = os.lstat(p)
            out[os.path.relpath(p, root)] = (s.st_size, s.st_mtime_ns)
    return out


# ------------------------------------------------------------------ tests
def reference(ctx):
    """the uninterrupted sweep the interrupted ones must equal: T2 at 6 epochs through the local pool."""
    try:
        sweep(ctx, ctx.spec6, "run", "--root", os.path.join(ctx.w, "ref"), "--out", os.path.join(ctx.w, "ref-out"),
              "--tables", "T2", "--jobs", "2", check=0)
    except Exception as e:  # noqa: BLE001 - reported by the tests that need it
        ctx.ref_error = str(e)
    ctx.ref_ready.set()


def t_scancel_resume(ctx):
    root, out = os.path.join(ctx.w, "a"), os.path.join(ctx.w, "a-out")
    proc = popen_sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2")
    victim = wait_for(lambda: next((r for r in AVEC if checkpointed(root, r)), None), 600, "a task past its first checkpoint")
    task = status(root, victim)["job_task"]
    subprocess.run(["scancel", task], check=True, env=ctx.env)
    first = proc.communicate(timeout=600)[0]
    assert proc.returncode == 1, "a cancelled task must make the sweep exit 1 (got %d):\n%s" % (proc.returncode, first[-2000:])
    st = status(root, victim)
    assert st["state"] == "failed" and st.get("slurm_state") == "CANCELLED" and "CANCELLED" in st["reason"], st
    assert not os.path.exists(os.path.join(rundir(root, victim), "summary.json")), "the cancel landed after the run finished"
    p = sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2", check=0)
    assert "submitted job array" in p.stdout and "1 failed before" in p.stdout and "(1 tasks" in p.stdout, p.stdout[-1500:]
    log = open(os.path.join(root, "logs", victim + ".out")).read()
    assert "train --resume" in log and "resuming" in log, "the resubmitted task did not continue with --resume:\n" + log[-1500:]
    same_t2(out, need_ref(ctx))
    return "scancel %s (%s) after epoch 0: failed CANCELLED, resubmitted, resumed; T2 equal" % (task, victim)


def t_timeout(ctx):
    root, out = os.path.join(ctx.w, "b"), os.path.join(ctx.w, "b-out")
    t0 = time.time()
    p = sweep(ctx, ctx.spec_slow, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2",
              "--limit", "avec:time=1", check=1)
    killed = time.time() - t0
    script = open([os.path.join(root, "slurm", f) for f in sorted(os.listdir(os.path.join(root, "slurm"))) if f.endswith(".sbatch")][0]).read()
    assert "#SBATCH --time=0-00:01:00" in script, "--limit avec:time=1 did not reach the job script"
    for rid in AVEC:
        st = status(root, rid)
        assert st["state"] == "failed" and st.get("slurm_state") == "TIMEOUT" and "TIMEOUT" in st["reason"], (rid, st)
        assert os.path.exists(os.path.join(rundir(root, rid), "last.npz")), "%s: no checkpoint before the time limit" % rid
    assert "TIMEOUT" in p.stdout, p.stdout[-2000:]
    s = sweep(ctx, ctx.spec_slow, "status", "--root", root, "--tables", "T2", check=0)
    assert s.stdout.count("TIMEOUT") >= 2, s.stdout
    # as if the killed attempt had itself been a resume: a run over the limit is killed again and again,
    # and each resubmission must still resume (not set the directory aside as a broken checkpoint)
    with open(os.path.join(root, "logs", AVEC[0] + ".json")) as f:
        st = json.load(f)
    with open(os.path.join(root, "logs", AVEC[0] + ".json"), "w") as f:
        json.dump(dict(st, resumed=True), f)
    p = sweep(ctx, ctx.spec_slow, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2", check=0)
    for rid in AVEC:
        log = open(os.path.join(root, "logs", rid + ".out")).read()
        assert "train --resume" in log, "%s was not resumed after the TIMEOUT:\n%s" % (rid, log[-1500:])
        assert os.path.exists(os.path.join(rundir(root, rid), "summary.json"))
    assert "2/2" in open(os.path.join(out, "T2.md")).read()
    assert not [d for d in os.listdir(os.path.join(root, "runs", "avec", "avec_main")) if ".broken" in d], "a killed run was set aside"
    return "both tasks killed by the 1-min limit after %.0f s, failed TIMEOUT; resubmitted, resumed, done" % killed


def t_requeue_resume(ctx):
    root, out = os.path.join(ctx.w, "r"), os.path.join(ctx.w, "r-out")
    # spec6 with a smoke epoch of 100 s: each run "needs" 2 x (6 x 100 + 60) s = 22 min > --max-time 10
    proc = popen_sweep(ctx, ctx.spec6slow, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2",
                       "--max-time", "10")
    # a requeued task waits cred_expire (30 s on the test cluster: local_cluster.sh) before it starts
    # again; forcing StartTime=now can restart it while its old credential is still revoked (FAILED)
    done = {}

    def step():
        for rid in AVEC:
            if rid not in done and checkpointed(ctx_root, rid):
                st = status(ctx_root, rid)
                if rid == AVEC[0]:  # the end of a time-limit segment
                    subprocess.run(["scancel", "--signal=USR1", "--batch", st["slurm_job"]], check=True, env=ctx.env)
                else:  # a preemption / node failure: Slurm requeues the task
                    subprocess.run(["scontrol", "requeue", st["job_task"]], check=True, env=ctx.env)
                done[rid] = st["job_task"]
        return len(done) == 2
    ctx_root = root
    wait_for(step, 600, "both tasks past their first checkpoint")
    text = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, "the sweep did not finish the requeued runs (exit %d):\n%s" % (proc.returncode, text[-2500:])
    script = open([os.path.join(root, "slurm", f) for f in os.listdir(os.path.join(root, "slurm")) if f.endswith(".sbatch")][0]).read()
    assert "#SBATCH --signal=B:USR1@300" in script and "--requeue-on-signal" in script and "#SBATCH --time=0-00:10:00" in script, script
    assert "self-requeuing segments" in text, text[-1500:]
    for rid in AVEC:
        log = open(os.path.join(root, "logs", rid + ".out")).read()
        assert log.count("# attempt") >= 2 and "train --resume" in log and "resuming" in log, "%s did not resume:\n%s" % (rid, log[-1500:])
    same_t2(out, need_ref(ctx))
    return "USR1 -> %s requeued itself, scontrol requeue %s; both resumed in the same run; T2 equal" % (done[AVEC[0]], done[AVEC[1]])


def t_squeue_fails(ctx):
    root, out = os.path.join(ctx.w, "d"), os.path.join(ctx.w, "d-out")
    p = sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2", "--no-wait",
              "--sbatch-arg=--hold", check=0)
    assert "submitted job array" in p.stdout and "aggregation job" in p.stdout, p.stdout
    array, held_agg = json.load(open(os.path.join(root, "slurm", "jobs.json")))[0]["job"], agg_job(p.stdout)
    fake = os.path.join(ctx.w, "broken-squeue")
    os.makedirs(fake, exist_ok=True)
    # a wrong SLURM_CONF for squeue only: a copy of slurm.conf naming a port where no slurmctld listens
    # (a missing file would do too, but squeue then spends a minute on DNS SRV lookups per call here)
    with open(ctx.env["SLURM_CONF"]) as f:
        conf = "".join("SlurmctldPort=9\n" if l.startswith("SlurmctldPort=") else l for l in f)
    with open(os.path.join(fake, "wrong-slurm.conf"), "w") as f:
        f.write(conf)
    with open(os.path.join(fake, "squeue"), "w") as f:
        f.write("#!/bin/sh\nSLURM_CONF=%s/wrong-slurm.conf exec %s \"$@\"\n" % (fake, shutil.which("squeue")))
    os.chmod(os.path.join(fake, "squeue"), 0o755)
    before = tree(root)
    env = dict(ctx.env, PATH=fake + os.pathsep + ctx.env["PATH"])
    for cmd in (["run", "--engine", "slurm"], ["run", "--engine", "local"]):
        p = sweep(ctx, ctx.spec6, *cmd, "--root", root, "--out", out, "--tables", "T2", env=env, check=3)
        assert "STOPPED" in p.stdout and "squeue failed" in p.stdout and "accounting storage is disabled" in p.stdout, p.stdout
        assert tree(root) == before, "a stopped sweep changed files under the run root"
    assert not os.path.exists(out), "a stopped sweep wrote tables"
    p = sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2", "--no-wait", check=0)
    assert "2 queued" in p.stdout and "submitted job array" not in p.stdout and "marked failed" not in p.stdout, p.stdout
    assert not os.path.exists(os.path.join(root, "logs")), "pending runs got a status"
    subprocess.run(["scancel", array, held_agg], check=True, env=ctx.env)  # --hold held the first aggregation job too
    squeue_gone(ctx, [array, held_agg, agg_job(p.stdout)])
    p = sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2", check=0)
    assert p.stdout.count("marked failed") == 2 and "never started" in p.stdout and "CANCELLED" in p.stdout, p.stdout
    assert "submitted job array" in p.stdout and "2/2" in open(os.path.join(out, "T2.md")).read()
    same_t2(out, need_ref(ctx))
    return "stopped with exit 3 and an unchanged run root; held runs stayed queued; cancelled while pending -> failed, resubmitted"


def t_no_wait(ctx):
    root, out = os.path.join(ctx.w, "e"), os.path.join(ctx.w, "e-out")
    setup = os.path.join(ctx.w, "setup.sh")
    with open(setup, "w") as f:
        f.write("echo \"paper-test setup ran on $(hostname)\"\nexport PAPER_TEST_SETUP=1\n")
    p = sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out, "--tables", "T2", "--no-wait",
              "--slurm-setup", setup, "--sbatch-arg=--comment=paper-test-e", check=0)
    assert "aggregation job" in p.stdout and "--dependency=afterany:" in p.stdout, p.stdout
    agg = agg_job(p.stdout)
    array = json.load(open(os.path.join(root, "slurm", "jobs.json")))[0]["job"]
    q = subprocess.run(["scontrol", "-o", "show", "job", agg], capture_output=True, text=True, env=ctx.env).stdout
    assert "Dependency=afterany:%s" % array in q and "Comment=paper-test-e" in q, q
    assert not os.path.exists(os.path.join(out, "T2.md")), "tables written before the runs ran"
    squeue_gone(ctx, [array, agg])
    same_t2(out, need_ref(ctx))
    for f in os.listdir(os.path.join(root, "slurm")):
        if f.endswith(".sbatch"):
            s = open(os.path.join(root, "slurm", f)).read()
            assert "#SBATCH --open-mode=append" in s and "export PAPER_TEST_SETUP=1" in s, f
    logs = [f for f in os.listdir(os.path.join(root, "slurm")) if f.startswith(array + "_") and f.endswith(".out")]
    assert len(logs) == 2 and all("paper-test setup ran" in open(os.path.join(root, "slurm", f)).read() for f in logs), logs
    assert os.path.exists(os.path.join(root, "slurm", "aggregate-%s.out" % agg))
    return "array %s + aggregation job %s (afterany) wrote T2, equal" % (array, agg)


def t_stale_running(ctx):
    root, out = os.path.join(ctx.w, "e"), os.path.join(ctx.w, "e-out")
    ctx.e_done.wait(900)
    if not os.path.exists(os.path.join(out, "T2.md")):
        raise Skip("needs no_wait's finished run root")
    rid = AVEC[1]
    os.remove(os.path.join(rundir(root, rid), "summary.json"))
    st = status(root, rid)
    with open(os.path.join(root, "logs", rid + ".json"), "w") as f:  # what a task killed on node17 leaves
        json.dump(dict(st, state="running", host="node17", pid=4242, ended=None, rc=None), f)
    p = sweep(ctx, ctx.spec6, "run", "--engine", "slurm", "--root", root, "--out", out + "2", "--tables", "T2", check=0)
    assert "marked failed %s" % rid in p.stdout and "node17" in p.stdout and "submitted job array" in p.stdout \
        and "(1 tasks" in p.stdout, p.stdout
    assert status(root, rid)["state"] == "done" and status(root, rid)["host"] != "node17"
    same_t2(out + "2", need_ref(ctx))
    return "stale running on node17 (task %s long gone) resubmitted and done; T2 equal" % st.get("job_task")


TESTS = [("scancel_resume", t_scancel_resume), ("timeout", t_timeout), ("requeue_resume", t_requeue_resume),
         ("squeue_fails", t_squeue_fails), ("no_wait", t_no_wait), ("stale_running", t_stale_running)]


def main():
    args, w = parse_args(REPO, "paper-test-slurm")
    if os.path.exists(w):
        subprocess.run(["bash", CLUSTER, "stop", os.path.join(w, "cluster")], capture_output=True)
        shutil.rmtree(w)
    os.makedirs(w)
    t_all = time.time()
    chosen = selected(TESTS, args.only)
    cdir = os.path.join(w, "cluster")
    cenv = dict(os.environ, PAPER_SLURM_PORT=os.environ.get("PAPER_SLURM_PORT", "16827"), PAPER_SLURM_CPUS="8")
    p = subprocess.run(["bash", CLUSTER, "start", cdir], capture_output=True, text=True, env=cenv)
    if p.returncode != 0:
        why = (p.stderr.strip() or p.stdout.strip() or "local_cluster.sh exited %d" % p.returncode).splitlines()[-1]
        for n, _ in chosen:
            print("[SKIP] slurm::%s: %s" % (n, why), flush=True)
        return summary("slurm", dict(counts(), skipped=len(chosen)), t_all)
    env = dict(os.environ, SLURM_CONF=os.path.join(cdir, "slurm.conf"), OPENBLAS_NUM_THREADS="1", PAPER_SLURM_POLL_S="1")
    env.pop("PAPER_SPEC", None)
    ctx = Ctx(args, w, env)
    ctx.spec6 = write_spec(os.path.join(w, "spec6.json"), 6)
    ctx.spec6slow = write_spec(os.path.join(w, "spec6slow.json"), 6, smoke_epoch_s=100)
    # the TIMEOUT test needs runs that outlast Slurm's 1-minute limit with room to spare on an idle machine:
    # measured here (idle, 1 thread) 0.82 s per smoke AVEC epoch at 32 training samples, so 50 epochs (41 s)
    # can finish before the limit bites (it did once, in 88 s); at 96 samples 1.56 s per epoch, so 120 epochs
    # take about 190 s, three times the limit, and under load only longer
    ctx.spec_slow = write_spec(os.path.join(w, "spec_timeout.json"), 120, n_train=96)
    ctx.e_done = threading.Event()
    c = counts()
    lock = threading.Lock()

    def one(name, fn):
        try:
            line, k = run_one("slurm", name, fn, ctx)
        finally:
            if name == "no_wait":
                ctx.e_done.set()
        with lock:
            c[k] += 1
            print(line, flush=True)

    try:
        threads = [threading.Thread(target=reference, args=(ctx,), daemon=True)]
        if not any(n == "no_wait" for n, _ in chosen):
            ctx.e_done.set()
        for name, fn in chosen:
            threads.append(threading.Thread(target=one, args=(name, fn), daemon=True))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        subprocess.run(["bash", CLUSTER, "stop", cdir], capture_output=True)
    return summary("slurm", c, t_all)


if __name__ == "__main__":
    sys.exit(main())
