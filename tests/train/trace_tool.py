"""Reads acerl traces and checkpoints with h5py, as users do, for the SFT tests.

  equal A.h5 B.h5 PHASE NAMES...   prints "equal N" when every named dataset of PHASE is
                                   bit-identical in both traces (N rows), else the differences
  untimed A.h5 B.h5 GROUP...       prints "equal N" when every dataset of each GROUP but the
                                   timings (time_*, step_time, groups_sent_early) and the weight traffic
                                   (weight_sync_*: a resumed rollout rank starts with the
                                   checkpoint's weights) is bit-identical (N datasets)
  weights A.h5 B.h5                prints "equal N" when the two checkpoints' /model tensors
                                   are bit-identical (N tensors)
  column TRACE.h5 PHASE NAME       prints the dataset as space-separated values
  checkpoint FILE CONFIG.json      checks every tensor of the checkpoint against the parameter
                                   names and shapes transformers' Qwen2ForCausalLM has for the
                                   config; prints "ok N"
"""
import json
import sys

import h5py
import numpy as np


def equal(a, b, phase, names):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        rows = None
        for name in ["step"] + names:
            x, y = fa[phase][name][...], fb[phase][name][...]
            if x.shape != y.shape or not np.array_equal(x, y):
                print(f"{name}: {x.tolist()} != {y.tolist()}")
                return
            rows = len(x)
        print(f"equal {rows}")


def untimed(a, b, groups):
    n = 0
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for group in groups:
            names = []
            fa[group].visititems(lambda name, obj: names.append(name)
                                 if isinstance(obj, h5py.Dataset) else None)
            for name in sorted(names):
                leaf = name.rsplit("/", 1)[-1]
                if leaf.startswith(("time_", "weight_sync_")) or leaf in ("step_time",
                                                                         "groups_sent_early"):
                    continue
                if name not in fb[group]:
                    print(f"{group}/{name}: missing")
                    return
                x, y = fa[group][name][...], fb[group][name][...]
                if x.shape != y.shape or x.tobytes() != y.tobytes():
                    print(f"{group}/{name}: {x.tolist()} != {y.tolist()}")
                    return
                n += 1
    print(f"equal {n}")


def weights(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names = sorted(fa["model"])
        if names != sorted(fb["model"]):
            print("different tensor names")
            return
        for name in names:
            if fa["model"][name][...].tobytes() != fb["model"][name][...].tobytes():
                print(f"{name} differs")
                return
        print(f"equal {len(names)}")


def column(path, phase, name):
    with h5py.File(path, "r") as f:
        print(" ".join(repr(float(v)) for v in f[phase][name][...]))


def checkpoint(path, config_path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    config = Qwen2Config(**{k: v for k, v in json.load(open(config_path)).items() if k != "model_type"})
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Qwen2ForCausalLM(config).state_dict().items()}
    if config.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
    with h5py.File(path, "r") as f:
        got = {k: f["model"][k].shape for k in f["model"]}
        assert got == expected, (sorted(set(got) ^ set(expected)), [k for k in got if got[k] != expected.get(k)])
        for k in got:
            assert f["model"][k].dtype == np.float32, k
            assert np.isfinite(f["model"][k][...]).all(), k
            assert f["optimizer/exp_avg"][k].shape == got[k]
        assert f.attrs["format_version"] == 1
        json.loads(f.attrs["state"])
    print(f"ok {len(got)}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "equal":
        equal(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif mode == "untimed":
        untimed(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif mode == "weights":
        weights(sys.argv[2], sys.argv[3])
    elif mode == "column":
        column(*sys.argv[2:5])
    elif mode == "checkpoint":
        checkpoint(sys.argv[2], sys.argv[3])
