"""Reads the files the h5 tests write, with h5py as users do, and checks every value against
numbers computed here, independently of the C++ writer. Prints OK or raises."""
import sys

import h5py
import numpy as np


def bf16_to_f32(bits):
    return (np.asarray(bits).astype(np.uint32) << 16).view(np.float32)


def check_serial(path):
    with h5py.File(path, "r") as f:
        x = f["tensors/f32"][...]
        assert x.dtype == np.float32 and x.shape == (2, 3, 4), (x.dtype, x.shape)
        np.testing.assert_array_equal(x, np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.25 - 3)
        b = f["tensors/bf16"]
        assert b.attrs["dtype"] == "bfloat16", b.attrs["dtype"]
        assert b.dtype == np.uint16 and b.shape == (3, 4)
        np.testing.assert_array_equal(bf16_to_f32(b[...]), (np.arange(12, dtype=np.float32).reshape(3, 4) - 6) * 0.5)
        i = f["tensors/i64"][...]
        assert i.dtype == np.int64
        np.testing.assert_array_equal(i, np.arange(5, dtype=np.int64) * (1 << 40))
        assert f.attrs["config"] == "[run]\nname = x\n", repr(f.attrs["config"])
        assert f.attrs["step"] == 42 and f.attrs["lr"] == 1.5e-6
        assert list(f.attrs["shape"]) == [3, 4]
        loss = f["series/loss"]
        assert loss.shape == (1000,) and loss.maxshape == (None,)
        np.testing.assert_array_equal(loss[...], 1.0 / (np.arange(1000) + 1.0))
        curve = f["series/curve"][...]
        assert curve.shape == (5, 3) and curve.dtype == np.float32
        np.testing.assert_array_equal(curve, np.arange(5, dtype=np.float32)[:, None] * np.array([1, 2, 3], np.float32))


def check_parallel(path):
    with h5py.File(path, "r") as f:
        w = f["w"][...]
        rows, cols = np.indices((4, 6))
        np.testing.assert_array_equal(w, (rows * 10 + cols).astype(np.float32))
        b = f["b"]
        assert b.attrs["dtype"] == "bfloat16"
        rows, cols = np.indices((6, 4))
        np.testing.assert_array_equal(bf16_to_f32(b[...]), ((rows - cols) * 0.5).astype(np.float32))
        np.testing.assert_array_equal(f["i"][...], np.array([7, 8, 9, 10, 11], np.int64))
        assert f.attrs["config"] == "same on every rank"


def count_rows(path):
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        d = f["series/step"]
        d.refresh()
        values = d[...]
        np.testing.assert_array_equal(values, np.arange(len(values)))
        print(len(values))


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "rows":
        count_rows(path)
    else:
        {"serial": check_serial, "parallel": check_parallel}[mode](path)
        print("OK")
