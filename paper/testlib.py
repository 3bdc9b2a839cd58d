"""paper/testlib.py - the test runner shared by paper/test_paper.py and paper/test_slurm.py.

A test is a function that returns a note (or None) when it passes, raises Skip(reason) when it
cannot run here, and raises anything else when it fails. The runner prints one line a test,
  [PASS] suite::name (S s): note    [SKIP] suite::name: reason    [FAIL] suite::name (S s): Error: msg
and a last line `suite: N passed, N failed, N skipped (S s)`; the exit status is 1 on any failure.
"""
import argparse
import os
import time


class Skip(Exception):
    """A test that cannot run on this machine; the message says why."""


def parse_args(repo, work):
    """--bin (default REPO/build/mimrl), --work (default REPO/build/WORK), --only NAME,...; returns
    the arguments (bin made absolute) and the absolute work directory."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(repo, "build", "mimrl"))
    ap.add_argument("--work", default=os.path.join(repo, "build", work))
    ap.add_argument("--only", help="comma-separated test names")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    return args, os.path.abspath(args.work)


def selected(tests, only):
    """The (name, fn) pairs of tests named in --only (all of them without it), in their order."""
    return [(n, f) for n, f in tests if not only or n in only.split(",")]


def run_one(suite, name, fn, *a):
    """Runs fn(*a); returns its line and its outcome: "passed", "skipped" or "failed"."""
    t0 = time.time()
    try:
        note = fn(*a)
        return "[PASS] %s::%s (%.0f s)%s" % (suite, name, time.time() - t0, ": " + note if note else ""), "passed"
    except Skip as e:
        return "[SKIP] %s::%s: %s" % (suite, name, e), "skipped"
    except Exception as e:  # noqa: BLE001 - any error is a failed test
        return "[FAIL] %s::%s (%.0f s): %s: %s" % (suite, name, time.time() - t0, e.__class__.__name__, e), "failed"


def counts():
    return {"passed": 0, "failed": 0, "skipped": 0}


def summary(suite, c, t_all):
    """Prints the last line; returns the exit status."""
    print("%s: %d passed, %d failed, %d skipped (%.0f s)" % (suite, c["passed"], c["failed"], c["skipped"], time.time() - t_all))
    return 1 if c["failed"] else 0
