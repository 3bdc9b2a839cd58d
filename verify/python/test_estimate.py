"""test_estimate.py MIMRL_BIN TMPDIR — mimrl_ref.estimate() against
`mimrl estimate --data … --json` on the same arrays, options and seeds: every
per-seed value, mean and sd identical (the same library code; the JSON
carries 17 significant digits, enough to round-trip a double), and bad input
raising MimrlError naming the member and the row or column. Run by
verify/test_data_est.c (make test) with MIMRL_LIB set; prints
'estimate binding: ok'."""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mimrl_ref import MimrlError, estimate  # noqa: E402


def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)


def main():
    binary, tmp = sys.argv[1:3]
    r = np.random.default_rng(21)
    n = 1200
    x = r.standard_normal((n, 2))
    y = 0.6 * x[:, :1] + 0.8 * r.standard_normal((n, 1))
    z = r.standard_normal(n)
    path = os.path.join(tmp, 'est_py.npz')
    np.savez(path, x=x, y=y, z=z)
    cases = [
        (dict(method='infonce-separate,js-concat,ksg', seeds=2, seed=3, steps=60, eval_every=20, batch=16),
         ['--method', 'infonce-separate,js-concat,ksg', '--seeds', '2', '--seed', '3', '--steps', '60', '--eval-every', '20',
          '--batch', '16'], False),
        (dict(method='cmine-mimrl,cmine-dv,fp', seeds=2, epochs=3, standardize=False),
         ['--method', 'cmine-mimrl,cmine-dv,fp', '--seeds', '2', '--epochs', '3', '--no-standardize'], True),
    ]
    for kw, flags, cmi in cases:
        args = [binary, 'estimate', '--data', path, '--x', 'x', '--y', 'y'] + (['--z', 'z'] if cmi else []) + flags + ['--json']
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode != 0:
            fail('CLI exited %d: %s' % (p.returncode, p.stderr))
        cli = json.loads(p.stdout)
        py = estimate(x, y, z if cmi else None, **kw)
        if [m['method'] for m in cli['methods']] != [m['method'] for m in py['methods']]:
            fail('method lists differ')
        for a, b in zip(cli['methods'], py['methods']):
            for key in ('values', 'mean', 'sd', 'unit', 'trained', 'best_at', 'n'):
                if a[key] != b[key]:
                    fail('%s %s: CLI %r, estimate() %r' % (a['method'], key, a[key], b[key]))
        if cli['settings'] != py['settings']:
            fail('settings differ: %r vs %r' % (cli['settings'], py['settings']))
    # bad input: the message names the member and the row/column
    bad = x.copy()
    bad[5, 1] = np.nan
    for args, want in (((bad, y), "member 'x' row 5 column 1 is NaN"),
                       ((x, np.ones(n)), "member 'y' column 0 is constant"),
                       ((x, y[:-1]), "member 'y' has 1199 rows but member 'x' has 1200"),
                       ((x.astype(np.int64), y), "member 'x' has dtype int64"),
                       ((x.astype(complex), y), "member 'x' has dtype complex128")):
        try:
            estimate(*args, method='ksg')
            fail('no error for %s' % want)
        except MimrlError as e:
            if want not in str(e):
                fail('message %r lacks %r' % (str(e), want))
    try:
        estimate(x, y, z, method='ksg')
        fail('ksg accepted z')
    except MimrlError as e:
        if "method 'ksg' estimates MI" not in str(e):
            fail('message %r' % str(e))
    print('estimate binding: ok')


if __name__ == '__main__':
    main()
