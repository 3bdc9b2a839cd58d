"""test_mimrl_ref.py CKPT BATCH OUT — the Python binding (mimrl_ref) against
`mimrl oracle`'s OUT.npz for the same checkpoint and batch: every tensor with
identical bits, from Oracle(state_dict, config) and from Oracle(checkpoint=);
float64 inputs borrowed without copies; compare() finds a planted gradient
difference and a swapped neighbour list; errors name the input. Run by
verify/test_api.c (make test) with MIMRL_LIB set; prints 'python binding: ok'."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mimrl_ref import MimrlError, Oracle, compare  # noqa: E402


def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)


def main():
    ckpt, batch_path, out_path = sys.argv[1:4]
    ck = dict(np.load(ckpt))
    config = json.loads(bytes(ck['config_json']).decode())
    state = {k: v for k, v in ck.items() if k not in ('config_json', 'mimrl_format_version')}
    batch = dict(np.load(batch_path))
    ref = dict(np.load(out_path))

    if 'bert_config_json' in ck:
        # a BERT text branch (only from a checkpoint: its config.json is in
        # the file): int64 bert_ids, bert_type_ids, bert_att_mask and
        # neighbors_<name> through mimrl_set_input_i64
        out = Oracle(checkpoint=ckpt).step(batch)
        for k, v in ref.items():
            if k not in out or out[k].dtype != v.dtype or out[k].tobytes() != v.tobytes():
                fail('%s differs from OUT.npz (BERT checkpoint)' % k)
        if not any(k.startswith('grad_stage2/bertmodel.') for k in out):
            fail('no BERT gradients')
        print('python binding: ok (BERT checkpoint, %d tensors)' % len(ref))
        return
    o = Oracle(state, config)
    out = o.step(batch)
    for k, v in ref.items():
        if k not in out:
            fail('%s missing from Oracle.step' % k)
        w = out[k]
        if w.dtype != v.dtype or w.shape != v.shape or w.tobytes() != v.tobytes():
            fail('%s differs from OUT.npz (%s %s vs %s %s)' % (k, w.dtype, w.shape, v.dtype, v.shape))
    extra = sorted(k for k in out if k not in ref and not k.startswith('anchors_'))
    if extra:
        fail('Oracle.step has tensors OUT.npz has not: %s' % extra)
    # float64 C-contiguous inputs are borrowed, not copied; others converted
    if not all(np.shares_memory(o._held[k], batch[k]) for k in ('text', 'audio', 'vision')):
        fail('float64 inputs were copied')
    # the same from the checkpoint file, and from float32 / non-contiguous inputs
    o2 = Oracle(checkpoint=ckpt)
    b2 = dict(batch)
    b2['text'] = np.asfortranarray(batch['text'])
    out2 = o2.step(b2, out_npz=out_path + '.py.npz')
    if any(out2[k].tobytes() != ref[k].tobytes() for k in ref):
        fail('Oracle(checkpoint=) differs from OUT.npz')
    if open(out_path + '.py.npz', 'rb').read() != open(out_path, 'rb').read():
        fail('Oracle.step(out_npz=) wrote other bytes than mimrl oracle')
    # compare(): identical → all zero; planted differences found
    rep = compare(out, ref)
    if not rep.ok() or any(rel != 0 for _, rel, _ in rep.rows):
        fail('compare of identical results:\n%s' % rep)
    theirs = {k: v.copy() for k, v in ref.items()}
    g = 'grad_stage2/W_t.weight'
    theirs[g].flat[3] += 1e-6 * np.max(np.abs(ref[g]))
    nb = sorted(k for k in ref if k.startswith('neighbors_'))
    if nb:
        k = 'neighbors_tc_a'
        theirs[k][1] = theirs[k][1][::-1].copy()
    del theirs['mi_derived']
    rep = compare(out, theirs)
    if rep.ok() or rep.worst['grad_stage2'][0] != g or not (0.9e-6 < rep.worst['grad_stage2'][1] <= 1.0001e-6):
        fail('planted gradient difference not reported:\n%s' % rep)
    if rep.worst['outputs'][1] != 0 or rep.missing != ['mi_derived']:
        fail('outputs / missing wrong:\n%s' % rep)
    if nb and (rep.neighbors is None or rep.neighbors[:2] != ('neighbors_tc_a', 1)):
        fail('swapped neighbour list not reported:\n%s' % rep)
    print(rep)
    # errors name the input
    bad = dict(batch)
    bad['audio'] = np.zeros(batch['audio'].shape[:2] + (batch['audio'].shape[2] + 1,))
    try:
        o.step(bad)
        fail('a wrong audio width was accepted')
    except MimrlError as e:
        if "'audio'" not in str(e):
            fail('error does not name audio: %s' % e)
    try:
        Oracle(dict(state, **{'bert.embeddings.weight': np.zeros(3)}), config)
        fail('an unknown parameter was accepted')
    except MimrlError as e:
        if 'bert.embeddings.weight' not in str(e):
            fail('error does not name the parameter: %s' % e)
    print('python binding: ok — %d tensors bit-identical to mimrl oracle' % len(ref))


if __name__ == '__main__':
    main()
