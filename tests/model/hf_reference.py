"""Reference computations with Hugging Face transformers' own Qwen2ForCausalLM, on a checkpoint
directory written by acerl. Inputs and outputs are JSON / safetensors files.

  logits   DIR IDS.json OUT.safetensors   forward each id list separately (fp32, eager attention);
                                          OUT has logits_<i> of shape (len_i, vocab)
  generate DIR IDS.json N OUT.json         greedy generate N new tokens for each id list

Environment: ACERL_HF_DEVICE (cpu | cuda, default cpu) and ACERL_HF_DTYPE (fp32 | bf16, default
fp32) run the reference on a GPU and in bfloat16, for the GPU tests; outputs are float32 on the CPU.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import Qwen2ForCausalLM


DEVICE = os.environ.get("ACERL_HF_DEVICE", "cpu")
DTYPE = {"fp32": torch.float32, "bf16": torch.bfloat16}[os.environ.get("ACERL_HF_DTYPE", "fp32")]


def load(path):
    model = Qwen2ForCausalLM.from_pretrained(path, torch_dtype=DTYPE, attn_implementation="eager")
    return model.to(DEVICE).eval()


def main():
    mode, path, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
    sequences = json.load(open(ids_file))
    model = load(path)
    torch.manual_seed(0)
    with torch.no_grad():
        if mode == "logits":
            out = {}
            for i, ids in enumerate(sequences):
                logits = model(torch.tensor([ids], device=DEVICE)).logits[0]
                out[f"logits_{i}"] = logits.float().cpu().contiguous()
            save_file(out, sys.argv[4])
        elif mode == "generate":
            n = int(sys.argv[4])
            result = []
            for ids in sequences:
                gen = model.generate(torch.tensor([ids], device=DEVICE), max_new_tokens=n, do_sample=False,
                                     eos_token_id=None, pad_token_id=0,
                                     attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=DEVICE))
                result.append(gen[0, len(ids):].tolist())
            json.dump(result, open(sys.argv[5], "w"))
        else:
            raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
