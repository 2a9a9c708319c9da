"""Reference computations with Hugging Face transformers' own Qwen2ForCausalLM, on a checkpoint
directory written by acerl. Inputs and outputs are JSON / safetensors files.

  logits   DIR IDS.json OUT.safetensors   forward each id list separately (fp32, eager attention);
                                          OUT has logits_<i> of shape (len_i, vocab)
  generate DIR IDS.json N OUT.json         greedy generate N new tokens for each id list
"""
import json
import sys

import torch
from safetensors.torch import save_file
from transformers import Qwen2ForCausalLM


def load(path):
    model = Qwen2ForCausalLM.from_pretrained(path, torch_dtype=torch.float32, attn_implementation="eager")
    return model.eval()


def main():
    mode, path, ids_file = sys.argv[1], sys.argv[2], sys.argv[3]
    sequences = json.load(open(ids_file))
    model = load(path)
    torch.manual_seed(0)
    with torch.no_grad():
        if mode == "logits":
            out = {}
            for i, ids in enumerate(sequences):
                out[f"logits_{i}"] = model(torch.tensor([ids])).logits[0].contiguous()
            save_file(out, sys.argv[4])
        elif mode == "generate":
            n = int(sys.argv[4])
            result = []
            for ids in sequences:
                gen = model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=None,
                                     pad_token_id=0, attention_mask=torch.ones(1, len(ids), dtype=torch.long))
                result.append(gen[0, len(ids):].tolist())
            json.dump(result, open(sys.argv[5], "w"))
        else:
            raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
