#!/usr/bin/env python3
"""Cross-check fixtures for the encoders and CubeMLP (run by `make fixtures`).

PyTorch (float64) computes, on small seeded inputs, the forward and every
gradient of torch.nn.GRU / LSTM over pack_padded_sequence, Conv1d,
LayerNorm, Linear, and a CubeMLP encoder + composition + head written here
from ../shared/spec/mimrl.md §1.6–1.7 (not from the official code). Each
fixture is an npz:

  meta_json          |u1  JSON: what was computed, with which configuration
  x, dy              inputs and the upstream gradient (loss = Σ y ⊙ dy)
  y                  the module's output
  len                <i8 per-sample lengths (official rule) where relevant
  masks              dropout masks in mimrl.c's stage order (CubeMLP)
  param/<name>       parameters under their state_dict names
  grad/<name>        ∂loss/∂param;  grad/x: ∂loss/∂x

verify/test_fixtures.c loads them; the C tests do not need Python.
"""
import json
import os
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)
OUT = sys.argv[1] if len(sys.argv) > 1 else 'verify/fixtures'


def save(name, meta, tensors):
    path = os.path.join(OUT, name)
    arrays = {'meta_json': np.frombuffer(json.dumps(meta, sort_keys=True).encode(), 'u1').copy()}
    for k, v in tensors.items():
        a = v.detach().numpy() if torch.is_tensor(v) else np.asarray(v)
        arrays[k] = np.ascontiguousarray(a)
    np.savez(path, **arrays)
    print('wrote', path, len(arrays), 'members')


def official_lengths(x):
    """a frame is padding iff the sum of |x| over features is 0; 0 → 1"""
    n = (x.abs().sum(-1) != 0).sum(1)
    n[n == 0] = 1
    return n


def padded_input(B, L, d, lens, g):
    x = torch.randn(B, L, d, generator=g)
    for b, n in enumerate(lens):
        x[b, n:] = 0
    return x


def rnn_fixture(name, kind, B, L, din, H, layers, lens, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cls = torch.nn.GRU if kind == 'gru' else torch.nn.LSTM
    m = cls(din, H, layers, batch_first=True, bidirectional=True).double()
    x = padded_input(B, L, din, lens, g).requires_grad_(True)
    n = official_lengths(x.detach())
    packed = pack_padded_sequence(x, n, batch_first=True, enforce_sorted=False)
    out, _ = m(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=L)
    y = torch.stack([out[..., :H], out[..., H:]], 0).sum(0)  # directions summed
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    t = {'x': x, 'y': y, 'dy': dy, 'len': n.to(torch.int64), 'grad/x': x.grad}
    for k, v in m.named_parameters():
        t['param/' + k] = v
        t['grad/' + k] = v.grad
    save(name, dict(module=kind, B=B, L=L, din=din, H=H, layers=layers), t)


def conv_fixture(name, B, L, din, D, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = torch.nn.Conv1d(din, D, 3, padding=1).double()
    x = torch.randn(B, L, din, generator=g, requires_grad=True)
    y = m(x.transpose(1, 2)).transpose(1, 2)
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    save(name, dict(module='conv1d', B=B, L=L, din=din, D=D),
         {'x': x, 'y': y, 'dy': dy, 'grad/x': x.grad, 'param/weight': m.weight, 'param/bias': m.bias,
          'grad/weight': m.weight.grad, 'grad/bias': m.bias.grad})


def ln_linear_fixture(name, N, C, O, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ln = torch.nn.LayerNorm(C, eps=1e-6).double()
    with torch.no_grad():
        ln.weight.copy_(torch.rand(C, generator=g) + 0.5)
        ln.bias.copy_(torch.randn(C, generator=g))
    lin = torch.nn.Linear(C, O).double()
    x = torch.randn(N, C, generator=g, requires_grad=True)
    y = lin(torch.relu(ln(x)))
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    save(name, dict(module='layernorm+relu+linear', N=N, C=C, O=O),
         {'x': x, 'y': y, 'dy': dy, 'grad/x': x.grad, 'param/ln.weight': ln.weight, 'param/ln.bias': ln.bias,
          'param/fc.weight': lin.weight, 'param/fc.bias': lin.bias, 'grad/ln.weight': ln.weight.grad,
          'grad/ln.bias': ln.bias.grad, 'grad/fc.weight': lin.weight.grad, 'grad/fc.bias': lin.bias.grad})


# ---------------------------------------------------------------- CubeMLP

ACT = {'gelu': torch.nn.functional.gelu, 'relu': torch.relu, 'tanh': torch.tanh}
AX = 'lkd'
# permutation that brings axis a (1, 2, 3 of [B, L, K, C]) last, others in order
PERM = {0: (0, 2, 3, 1), 1: (0, 1, 3, 2), 2: (0, 1, 2, 3)}


def inv(p):
    q = [0] * 4
    for i, v in enumerate(p):
        q[v] = i
    return tuple(q)


class Cube(torch.nn.Module):
    def __init__(self, in0, hid, out, res, bias, ln_first, act):
        super().__init__()
        self.cfg = (in0, hid, out, res, bias, ln_first, act)
        self.layers_stack = torch.nn.ModuleList()
        dims = list(in0)
        for i in range(len(hid)):
            blk = torch.nn.Module()
            for a in range(3):
                unit = torch.nn.Module()
                unit.fc1 = torch.nn.Linear(dims[a], hid[i][a], bias=bias)
                unit.fc2 = torch.nn.Linear(hid[i][a], out[i][a], bias=bias)
                setattr(blk, 'mlp_' + AX[a], unit)
            for a in range(3):
                setattr(blk, 'ln_' + AX[a], torch.nn.LayerNorm(dims[a] if ln_first else out[i][a], eps=1e-6))
            if res[i]:
                for a in range(3):
                    setattr(blk, 'res_projection_' + AX[a], torch.nn.Linear(dims[a], out[i][a], bias=False))
            self.layers_stack.append(blk)
            dims = list(out[i])

    def forward(self, x, masks):
        in0, hid, out, res, bias, ln_first, act = self.cfg
        k = 0
        for i, blk in enumerate(self.layers_stack):
            for a in range(3):
                xp = x.permute(*PERM[a])
                unit = getattr(blk, 'mlp_' + AX[a])
                ln = getattr(blk, 'ln_' + AX[a])
                h = ln(xp) if ln_first else xp
                m = unit.fc2(ACT[act](unit.fc1(h)))
                mask = masks[k].reshape(m.shape)
                k += 1
                r = getattr(blk, 'res_projection_' + AX[a])(xp) if res[i] else xp
                u = m * mask + r
                y = u if ln_first else ln(u)
                x = y.permute(*inv(PERM[a]))
        return x


def compose(x, ck, ct):
    B, L, K, D = x.shape
    x = {'mean': x.mean(2), 'sum': x.sum(2), 'cat': x.reshape(B, L, K * D)}[ck]
    return {'mean': x.mean(1), 'sum': x.sum(1), 'cat': x.reshape(B, -1)}[ct]


def cube_fixture(name, B, in0, hid, out, res, bias, ln_first, act, pdrop, ck, ct, seed):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cube = Cube(in0, hid, out, res, bias, ln_first, act).double()
    with torch.no_grad():  # LayerNorm affine away from 1/0
        for n, p in cube.named_parameters():
            if '.ln_' in n:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
    Lo, Ko, Do = out[-1]
    dim = Do * (Ko if ck == 'cat' else 1) * (Lo if ct == 'cat' else 1)
    deep = dim > 128
    head = (torch.nn.Sequential(torch.nn.Linear(dim, 128), torch.nn.ReLU(), torch.nn.Dropout(0.0), torch.nn.Linear(128, 1))
            if deep else torch.nn.Sequential(torch.nn.Linear(dim, 1))).double()
    x = torch.randn(B, *in0, generator=g, requires_grad=True)
    # masks in stage order, shaped like the permuted stage outputs
    masks, dims = [], list(in0)
    for i in range(len(hid)):
        for a in range(3):
            others = [dims[j] for j in range(3) if j != a]
            shape = (B, others[0], others[1], out[i][a])
            masks.append(((torch.rand(shape, generator=g) >= pdrop).double() / (1 - pdrop)))
            dims[a] = out[i][a]
    hmask = (torch.rand(B, 128, generator=g) >= 0.2).double() / 0.8
    enc = cube(x, masks)
    f = compose(enc, ck, ct)
    if deep:
        y = head[3](torch.relu(head[0](f)) * hmask)
    else:
        y = head(f)
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    t = {'x': x, 'y': y, 'dy': dy, 'grad/x': x.grad, 'enc': enc, 'f': f,
         'masks': torch.cat([m.reshape(-1) for m in masks]), 'head_mask': hmask}
    for n, p in cube.named_parameters():
        t['param/mlp_encoder.' + n] = p
        t['grad/mlp_encoder.' + n] = p.grad
    for n, p in head.named_parameters():
        t['param/classifier.' + n] = p
        t['grad/classifier.' + n] = p.grad
    save(name, dict(module='cubemlp+compose+head', B=B, in0=in0, hid=hid, out=out, res=res, bias=bias,
                    ln_first=ln_first, act=act, pdrop=pdrop, compose_k=ck, compose_t=ct), t)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    rnn_fixture('torch_gru.npz', 'gru', 3, 6, 4, 5, 2, [6, 1, 4], 1)
    rnn_fixture('torch_gru_b1.npz', 'gru', 1, 5, 3, 4, 2, [5], 2)
    rnn_fixture('torch_lstm.npz', 'lstm', 3, 6, 4, 5, 1, [3, 6, 1], 3)
    conv_fixture('torch_conv1d.npz', 2, 5, 3, 4, 4)
    ln_linear_fixture('torch_ln_linear.npz', 4, 6, 3, 5)
    cube_fixture('torch_cubemlp_post.npz', 2, [6, 3, 8], [[4, 3, 8], [2, 3, 8]], [[4, 3, 8], [2, 3, 8]], [1, 1], True,
                 False, 'gelu', 0.1, 'mean', 'mean', 6)
    cube_fixture('torch_cubemlp_pre.npz', 2, [5, 3, 10], [[7, 4, 6], [3, 5, 9]], [[5, 3, 10], [5, 3, 10]], [1, 0], False,
                 True, 'relu', 0.2, 'cat', 'cat', 7)
