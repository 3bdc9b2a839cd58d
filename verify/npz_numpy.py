#!/usr/bin/env python3
"""Round-trip partner of verify/test_npz.c: numpy writes or checks the
"recipe" arrays that the C test also builds (keep both in sync).

  npz_numpy.py write OUT.npz stored|deflated
  npz_numpy.py check IN.npz      exit 0 if every recipe array is present and exact
"""
import sys
import numpy as np


def recipe():
    f8 = (np.arange(12, dtype='<f8') * 0.5 - 1.25).reshape(3, 4)
    f8[2, 3] = 1e-310  # subnormal survives bit-exactly
    return {
        'f8': f8,
        'f4': np.arange(5, dtype='<f4') / np.float32(4),
        'i8': np.array([-(2**62), -1, 0, 7, 2**62 + 3], dtype='<i8'),
        'i4': (np.arange(6, dtype='<i4') - 3).reshape(2, 3),
        'u1': np.arange(256, dtype='u1'),
        'b1': np.array([True, False, True]),
        'scalar': np.array(3.5, dtype='<f8'),
        'empty': np.zeros((0, 3), dtype='<f8'),
        'grad_stage1/rnn_a.weight_ih_l0': np.ones((2, 2), dtype='<f8'),
    }


def main():
    if sys.argv[1] == 'write':
        r = recipe()
        (np.savez_compressed if sys.argv[3] == 'deflated' else np.savez)(sys.argv[2], **r)
        return 0
    if sys.argv[1] == 'check':
        with np.load(sys.argv[2], allow_pickle=False) as z:
            got = dict(z)
        want = recipe()
        if set(got) != set(want):
            print('members differ: %s vs %s' % (sorted(got), sorted(want)))
            return 1
        for k, v in want.items():
            g = got[k]
            if g.dtype != v.dtype or g.shape != v.shape or g.tobytes() != v.tobytes():
                print('member %s differs: %s %s vs %s %s' % (k, g.dtype, g.shape, v.dtype, v.shape))
                return 1
        print('numpy read %d members exactly' % len(want))
        return 0
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
