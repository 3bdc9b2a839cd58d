"""mimrl_ref — the mimrl.c oracle step from Python, to check a port against.

Needs numpy and the standard library (ctypes) only; loads libmimrl.so (the
shared library of the C reference: `make shared` or `make install`) from
MIMRL_LIB, else next to this module, else the repository's build/.

    from mimrl_ref import Oracle, compare
    o = Oracle(state_dict, config)      # name → array (numpy or torch), official flags
    out = o.step(batch)                 # text, audio, vision, label[, bank_*, anchors_*]
    print(compare(out, theirs))         # worst tensor per group, first neighbour list that differs

    from mimrl_ref import estimate
    r = estimate(x, y)                   # MI I(X;Y) in nats, several estimators
    r = estimate(x, y, z, method='cmine-nwj,fp', seeds=5)   # CMI I(X;Y|Z)
    for m in r['methods']: print(m['method'], m['mean'], m['sd'], m['unit'])

`estimate` is `mimrl estimate --data … --json` on numpy arrays (the same
numbers for the same arrays, options and seeds; README "Estimating MI and CMI
on your own data").

`out` holds every OUT.npz tensor of `mimrl oracle` (README "Oracle"): output,
F_F, T_F, A_F, V_F, mi, mi_derived, stage1_terms, loss_task, loss_stage1,
loss_stage2, neighbors_<name>, grad_stage1/<param>, grad_stage2/<param>, and
the anchors used (anchors_<name>; drawn from `anchor_seed` when not given).
Float64 C-contiguous inputs are passed to the library as they are (no copy);
other arrays are converted once. The results are copies owned by numpy.
"""
import ctypes
import json
import os

import numpy as np

__all__ = ['Oracle', 'compare', 'Report', 'MimrlError', 'load_library', 'FLOOR', 'estimate']

FLOOR = 1e-4     # the group floor of `make crosscheck` (verify/torch/crosscheck.py)
MAXDIM = 4
F64, I64 = 0, 2
INPUTS = ('text', 'audio', 'vision', 'label', 'bank_label', 'bank_text', 'bank_audio', 'bank_vision')
INT_INPUTS = ('bert_ids', 'bert_type_ids', 'bert_att_mask')
CMI = ('ac_t', 'ta_c', 'vc_t', 'tv_c', 'tc_a', 'tc_v')
CHECKPOINT_EXTRAS = ('config_json', 'mimrl_format_version')


class MimrlError(RuntimeError):
    """A failed library call; .code is the MIMRL_E* status."""

    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


class _Error(ctypes.Structure):
    _fields_ = [('code', ctypes.c_int), ('msg', ctypes.c_char * 8192)]


class _Tensor(ctypes.Structure):
    _fields_ = [('name', ctypes.c_char_p), ('dtype', ctypes.c_int), ('ndim', ctypes.c_int),
                ('shape', ctypes.c_size_t * MAXDIM), ('count', ctypes.c_size_t), ('data', ctypes.c_void_p),
                ('in_out_npz', ctypes.c_int)]


_libs = {}


def load_library(path=None):
    """libmimrl.so: path, $MIMRL_LIB, next to this module, or ../../build/."""
    here = os.path.dirname(os.path.abspath(__file__))
    cands = [path] if path else [os.environ.get('MIMRL_LIB'), os.path.join(here, 'libmimrl.so'),
                                 os.path.join(here, '..', '..', 'build', 'libmimrl.so')]
    cands = [c for c in cands if c]
    for c in cands:
        if os.path.exists(c):
            c = os.path.realpath(c)
            if c not in _libs:
                _libs[c] = _bind(ctypes.CDLL(c))
            return _libs[c]
    raise MimrlError(6, 'libmimrl.so not found (tried %s); build it with `make shared` or set MIMRL_LIB' % ', '.join(cands))


def _bind(lib):
    P, E, S = ctypes.c_void_p, ctypes.POINTER(_Error), ctypes.POINTER(ctypes.c_size_t)
    sig = {
        'mimrl_version': (ctypes.c_char_p, []), 'mimrl_blas': (ctypes.c_char_p, []),
        'mimrl_model_load': (ctypes.c_int, [ctypes.POINTER(P), ctypes.c_char_p, E]),
        'mimrl_model_create': (ctypes.c_int, [ctypes.POINTER(P), ctypes.c_char_p, E]),
        'mimrl_model_free': (None, [P]),
        'mimrl_model_config': (ctypes.c_char_p, [P]),
        'mimrl_param_count': (ctypes.c_size_t, [P]),
        'mimrl_param_name': (ctypes.c_char_p, [P, ctypes.c_size_t]),
        'mimrl_param_shape': (ctypes.c_int, [P, ctypes.c_size_t, S]),
        'mimrl_param_set': (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, S, P, E]),
        'mimrl_set_input': (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, S, P, E]),
        'mimrl_set_input_i64': (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_int, S, P, E]),
        'mimrl_set_anchors': (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t, P, E]),
        'mimrl_set_anchor_seed': (None, [P, ctypes.c_uint64]),
        'mimrl_clear_inputs': (None, [P]),
        'mimrl_step': (ctypes.c_int, [P, E]),
        'mimrl_output_count': (ctypes.c_size_t, [P]),
        'mimrl_output_at': (ctypes.c_int, [P, ctypes.c_size_t, ctypes.POINTER(_Tensor), E]),
        'mimrl_write_out': (ctypes.c_int, [P, ctypes.c_char_p, E]),
        'mimrl_estimate': (ctypes.c_int, [P, ctypes.c_size_t, ctypes.c_size_t, P, ctypes.c_size_t, P, ctypes.c_size_t,
                                          ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), E]),
        'mimrl_free': (None, [P]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def _np(x, dtype):
    """x as a C-contiguous array of dtype; the same object when it already is one."""
    if hasattr(x, 'detach'):                         # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=dtype)


def _shape(a):
    return (ctypes.c_size_t * max(a.ndim, 1))(*a.shape)


class Oracle:
    """A model of the C reference; Oracle(state_dict, config) or Oracle(checkpoint=path).

    state_dict: mapping of official parameter names to arrays (numpy, torch, lists);
    names the model does not have are an error unless strict=False (the
    checkpoint members config_json / mimrl_format_version and optim/* are skipped).
    config: dict of official flags (values as on the official command line, plus
    d_t, d_a, d_v) or its JSON text."""

    def __init__(self, state_dict=None, config=None, checkpoint=None, lib=None, strict=True):
        self._lib = lib if isinstance(lib, ctypes.CDLL) else load_library(lib)
        self._h = ctypes.c_void_p()
        e = _Error()
        if checkpoint is not None:
            self._check(self._lib.mimrl_model_load(ctypes.byref(self._h), os.fsencode(checkpoint), ctypes.byref(e)), e)
            return
        if state_dict is None:
            raise ValueError('Oracle needs state_dict and config, or checkpoint=')
        js = config if isinstance(config, str) else json.dumps(config or {})
        self._check(self._lib.mimrl_model_create(ctypes.byref(self._h), js.encode(), ctypes.byref(e)), e)
        unknown, errors = [], []
        names = set(self.param_names())
        for k, v in state_dict.items():
            if k in CHECKPOINT_EXTRAS or k.startswith('optim/'):
                continue
            if k not in names:
                unknown.append(k)
                continue
            a = _np(v, np.float64)
            if self._lib.mimrl_param_set(self._h, k.encode(), a.ndim, _shape(a), a.ctypes.data, ctypes.byref(e)):
                errors.append(e.msg.decode())
        if strict and unknown:
            errors.append('not parameters of this model: ' + ', '.join(repr(k) for k in unknown))
        if errors:
            raise MimrlError(7, '; '.join(errors))

    def _check(self, rc, e):
        if rc:
            raise MimrlError(rc, e.msg.decode())

    def __del__(self):
        h = getattr(self, '_h', None)
        if h:
            self._lib.mimrl_model_free(h)
            self._h = None

    @property
    def config(self):
        """The whole configuration (official names) as a dict."""
        return json.loads(self._lib.mimrl_model_config(self._h).decode())

    def param_names(self):
        return [self._lib.mimrl_param_name(self._h, i).decode() for i in range(self._lib.mimrl_param_count(self._h))]

    def param_shapes(self):
        out = {}
        for i in range(self._lib.mimrl_param_count(self._h)):
            sh = (ctypes.c_size_t * MAXDIM)()
            nd = self._lib.mimrl_param_shape(self._h, i, sh)
            out[self._lib.mimrl_param_name(self._h, i).decode()] = tuple(sh[:nd])
        return out

    def step(self, batch, anchor_seed=0, out_npz=None):
        """The oracle step on batch (BATCH.npz names → arrays); a dict of every
        result by its OUT.npz name (plus anchors_<name>). out_npz: also write
        OUT.npz there, as `mimrl oracle` would."""
        lib, h, e = self._lib, self._h, _Error()
        lib.mimrl_clear_inputs(h)
        held = {}                                  # keeps the borrowed arrays alive through the step
        for k, v in batch.items():
            if k.startswith('anchors_'):
                a = held[k] = _np(v, np.int64).reshape(-1)
                self._check(lib.mimrl_set_anchors(h, k.encode(), a.size, a.ctypes.data, ctypes.byref(e)), e)
            elif k in INPUTS:
                a = held[k] = _np(v, np.float64)
                self._check(lib.mimrl_set_input(h, k.encode(), a.ndim, _shape(a), a.ctypes.data, ctypes.byref(e)), e)
            elif k in INT_INPUTS or k.startswith('neighbors_'):   # BERT token ids, injected k-NN lists
                a = held[k] = _np(v, np.int64)
                self._check(lib.mimrl_set_input_i64(h, k.encode(), a.ndim, _shape(a), a.ctypes.data, ctypes.byref(e)), e)
            else:
                raise MimrlError(6, 'batch member %r is not one of %s, %s, neighbors_<%s> or anchors_<%s>'
                                 % (k, ', '.join(INPUTS), ', '.join(INT_INPUTS), '|'.join(CMI), '|'.join(CMI)))
        lib.mimrl_set_anchor_seed(h, int(anchor_seed))
        self._held = held
        try:
            self._check(lib.mimrl_step(h, ctypes.byref(e)), e)
            if out_npz is not None:
                self._check(lib.mimrl_write_out(h, os.fsencode(out_npz), ctypes.byref(e)), e)
            out = {}
            t = _Tensor()
            for i in range(lib.mimrl_output_count(h)):
                self._check(lib.mimrl_output_at(h, i, ctypes.byref(t), ctypes.byref(e)), e)
                ct = ctypes.c_double if t.dtype == F64 else ctypes.c_int64
                buf = (ct * t.count).from_address(t.data)
                out[t.name.decode()] = np.frombuffer(buf, dtype=np.float64 if t.dtype == F64 else np.int64).reshape(tuple(t.shape[:t.ndim])).copy()
            return out
        finally:
            lib.mimrl_clear_inputs(h)


def group(k):
    """outputs / grad_stage1 / grad_stage2 / neighbors, as `make crosscheck` groups them."""
    return k.split('/')[0] if '/' in k else ('neighbors' if k.startswith('neighbors_') else 'outputs')


class Report:
    """rows: (name, rel, scale) per compared tensor; worst: group → (name, rel);
    neighbors: the first neighbour list that differs (name, anchor row, ours,
    theirs) or None; missing / extra: names only the reference / only theirs has;
    shape: names whose shapes differ."""

    def __init__(self):
        self.rows, self.worst, self.neighbors, self.missing, self.extra, self.shape = [], {}, None, [], [], []

    def ok(self, tol=1e-10):
        return (not self.missing and not self.shape and self.neighbors is None
                and all(rel <= tol for g, (_, rel) in self.worst.items() if g != 'neighbors'))

    def __str__(self):
        lines = []
        for g in ('outputs', 'grad_stage1', 'grad_stage2'):
            if g in self.worst:
                n, rel = self.worst[g]
                lines.append('%-12s worst %-48s rel %.3e' % (g, n, rel))
        if self.neighbors:
            n, r, a, b = self.neighbors
            lines.append('neighbors    first difference: %s row %d: reference %s, theirs %s' % (n, r, list(a), list(b)))
        elif any(k.startswith('neighbors_') for k, _, _ in self.rows):
            lines.append('neighbors    all equal')
        for what, names in (('missing', self.missing), ('extra', self.extra), ('shape differs', self.shape)):
            if names:
                lines.append('%-12s %s' % (what, ', '.join(names[:8]) + (', …' if len(names) > 8 else '')))
        return '\n'.join(lines)


def compare(ref, theirs, floor=FLOOR):
    """Compares theirs (a port's tensors by OUT.npz name) with ref (Oracle.step's
    results, or an OUT.npz) by the rule of `make crosscheck`: per tensor
    rel = max|theirs − ref| / max(max|ref|, floor · largest |ref| of its group),
    groups outputs / grad_stage1 / grad_stage2; neighbour lists must be equal."""
    ref = {k: np.asarray(v) for k, v in ref.items() if not k.startswith('anchors_')}
    theirs = {k: _np(v, None) for k, v in theirs.items() if not k.startswith('anchors_')}
    r = Report()
    gscale = {}
    for k, v in ref.items():
        if v.size and group(k) != 'neighbors':
            gscale[group(k)] = max(gscale.get(group(k), 0.0), float(np.max(np.abs(v))))
    r.missing = [k for k in ref if k not in theirs]
    r.extra = [k for k in theirs if k not in ref]
    for k in ref:                                  # OUT.npz order
        if k not in theirs:
            continue
        a, b = ref[k], theirs[k]
        if a.shape != b.shape and not (a.size == b.size and a.squeeze().shape == b.squeeze().shape):
            r.shape.append(k)
            continue
        b = b.reshape(a.shape)
        g = group(k)
        if g == 'neighbors':
            rows = np.nonzero(np.any(a != b, axis=-1))[0] if a.ndim == 2 else ([] if np.array_equal(a, b) else [0])
            rel = 0.0 if len(rows) == 0 else float('inf')
            if len(rows) and r.neighbors is None:
                q = int(rows[0])
                r.neighbors = (k, q, a[q].tolist(), b[q].tolist())
            r.rows.append((k, rel, 0.0))
            continue
        scale = float(np.max(np.abs(a))) if a.size else 0.0
        d = float(np.max(np.abs(b.astype(np.float64) - a))) if a.size else 0.0
        rel = d / max(scale, floor * gscale.get(g, 0.0), 1e-300)
        if rel != rel:                             # NaN in theirs
            rel = float('inf')
        r.rows.append((k, rel, scale))
        if g not in r.worst or rel > r.worst[g][1]:
            r.worst[g] = (k, rel)
    return r


def _member(a, name):
    """a as a float64 C-order 2-D array (1-D: one column); integer, boolean and
    complex arrays are refused, as the CLI refuses them."""
    if hasattr(a, 'detach'):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    if a.dtype.kind != 'f':
        raise MimrlError(3, "member '%s' has dtype %s; estimation needs a float array (float64 or float32)" % (name, a.dtype))
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise MimrlError(7, "member '%s' has %d dimensions; it must be 2-D (rows = samples) or 1-D (one column)" % (name, a.ndim))
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise MimrlError(7, "member '%s' is empty (shape %s)" % (name, a.shape))
    return np.ascontiguousarray(a, dtype=np.float64)


def estimate(x, y, z=None, method=None, seeds=1, seed=0, lib=None, names=('x', 'y', 'z'), **options):
    """MI I(X;Y) (nats) or, with z, CMI I(X;Y|Z) on arrays (rows = samples).

    method: 'infonce-separate,ksg', a list of names, or 'all' (default: as
    `mimrl estimate`); seeds, seed: as --seeds, --seed; options: the other
    flags of `mimrl estimate --data` without '--' and with '-' -> '_'
    (standardize=False, test_frac=0.5, steps=4000, batch=128, lr=5e-4,
    eval_every=100, patience=10, hidden, embed, layers, k, epochs, cmi_batch,
    cmi_hidden, cmi_lr, knn). Returns the report of `mimrl estimate --json`
    as a dict: 'methods' is a list of {'method', 'unit', 'mean', 'sd',
    'values', ...}. The official CMINE read-out ('cmine-mimrl') is not in
    nats (offset 1, half scale); every other method is in nats.
    Bad input raises MimrlError with a message naming the member and the row
    or column."""
    L = lib if isinstance(lib, ctypes.CDLL) else load_library(lib)
    xs = _member(x, names[0])
    ys = _member(y, names[1])
    zs = _member(z, names[2]) if z is not None else None
    opts = {'seeds': int(seeds), 'seed': int(seed), 'x_name': names[0], 'y_name': names[1], 'z_name': names[2]}
    if method is not None:
        opts['method'] = method if isinstance(method, str) else ','.join(method)
    for k, v in options.items():
        opts[k] = v if isinstance(v, (bool, str)) else (int(v) if isinstance(v, (int, np.integer)) else float(v))
    for k, a in ((names[1], ys), (names[2], zs)):
        if a is not None and a.shape[0] != xs.shape[0]:  # the C call takes one row count: checked here, worded as the library
            raise MimrlError(7, "member '%s' has %d rows but member '%s' has %d (rows are samples and must match)"
                             % (k, a.shape[0], names[0], xs.shape[0]))
    out = ctypes.c_void_p()
    e = _Error()
    P = ctypes.c_void_p
    rc = L.mimrl_estimate(xs.ctypes.data_as(P), xs.shape[0], xs.shape[1], ys.ctypes.data_as(P), ys.shape[1],
                          zs.ctypes.data_as(P) if zs is not None else None, zs.shape[1] if zs is not None else 0,
                          json.dumps(opts).encode(), ctypes.byref(out), ctypes.byref(e))
    if rc:
        raise MimrlError(rc, e.msg.decode(errors='replace'))
    try:
        text = ctypes.string_at(out.value).decode()
    finally:
        L.mimrl_free(out)
    return json.loads(text)
