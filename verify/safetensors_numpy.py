"""Independent safetensors partner for verify/test_safetensors.c (numpy and
the standard library only; Debian's python3-numpy, no safetensors package).

  safetensors_numpy.py write FILE.safetensors EXPECTED.npz
      writes F64, F32 and F16 tensors the way the reference writer lays them
      out (JSON header padded with spaces to 8 bytes, data in header order,
      offsets tiling the buffer) and the same values as float64 in an npz;
      F16 holds every finite half, so numpy's own float16 decoding checks ours.
  safetensors_numpy.py read FILE.safetensors OUT.npz
      reads a file (ours) with json + numpy.frombuffer, checking the layout
      rules, and writes every F64/F32/F16 tensor as float64 under its name.
"""
import json
import struct
import sys

import numpy as np

DT = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}


def write(path, expected):
    rng = np.random.default_rng(3)
    halves = np.arange(65536, dtype=np.uint16).view("<f2")
    halves = halves[np.isfinite(halves)]
    tensors = {
        "a.f64": np.concatenate([rng.standard_normal(37), [0.0, -0.0, 5e-324, 1.7976931348623157e308]]).reshape(41, 1),
        "b.f32": np.concatenate([rng.standard_normal(20).astype("<f4"),
                                 np.array([1e-45, -1e-40, 3.4028235e38], dtype="<f4")]),
        "c.f16": halves.reshape(-1, 16) if halves.size % 16 == 0 else halves,
        "d.scalar": np.array(2.5, dtype="<f8"),
    }
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = np.array(tensors[name], order="C")  # ascontiguousarray would make 0-d 1-d
        b = t.tobytes()
        dt = {8: "F64", 4: "F32", 2: "F16"}[t.dtype.itemsize]
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    np.savez(expected, **{k: v.astype("<f8") for k, v in tensors.items()})


def read(path, out):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert 8 + n <= len(data), "header beyond the file"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    header.pop("__metadata__", None)
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    at = 0
    for b, e, k in spans:
        assert b == at, f"{k}: hole or overlap"
        at = e
    assert at == len(buf), "buffer not covered exactly"
    arrays = {}
    for k, v in header.items():
        b, e = v["data_offsets"]
        a = np.frombuffer(buf[b:e], dtype=DT[v["dtype"]]).reshape(v["shape"])
        arrays[k] = a.astype("<f8")
    np.savez(out, **arrays)


if __name__ == "__main__":
    {"write": write, "read": read}[sys.argv[1]](sys.argv[2], sys.argv[3])
