"""Writes and reads safetensors with the reference `safetensors` library for the C++ tests.

  write DIR      DIR/hf.safetensors: f32, bf16, f16, i64 tensors (values below), metadata
                 {"format": "pt"}; and DIR/sharded/: the same tensors as two shards + index
  check FILE     reads FILE with safetensors and compares to the values below; prints OK
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file


def tensors():
    g = torch.Generator().manual_seed(5)
    return {
        "model.layers.0.mlp.up_proj.weight": torch.randn(8, 4, generator=g),
        "model.embed_tokens.weight": torch.randn(16, 4, generator=g).to(torch.bfloat16),
        "half": torch.randn(3, 5, generator=g).to(torch.float16),
        "steps": torch.arange(6, dtype=torch.int64).reshape(2, 3) * 1000003,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 7),
    }


def main():
    mode, path = sys.argv[1], sys.argv[2]
    expected = tensors()
    if mode == "write":
        save_file(expected, os.path.join(path, "hf.safetensors"), metadata={"format": "pt"})
        shard_dir = os.path.join(path, "sharded")
        os.makedirs(shard_dir, exist_ok=True)
        names = sorted(expected)
        halves = [names[:3], names[3:]]
        weight_map = {}
        for i, part in enumerate(halves):
            file = f"model-{i + 1:05d}-of-00002.safetensors"
            save_file({n: expected[n] for n in part}, os.path.join(shard_dir, file), metadata={"format": "pt"})
            weight_map.update({n: file for n in part})
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map},
                  open(os.path.join(shard_dir, "model.safetensors.index.json"), "w"))
    elif mode == "check":
        got = load_file(path)
        assert sorted(got) == sorted(expected), (sorted(got), sorted(expected))
        for name, value in expected.items():
            assert got[name].dtype == value.dtype and got[name].shape == value.shape, name
            assert torch.equal(got[name], value), name
        print("OK")


if __name__ == "__main__":
    main()
