"""HF transformers' greedy generate() with a static KV cache, the reference of the GPU check's decode
benchmark (acerl_bench_gpu): the Qwen2.5-0.5B shape with random weights, 64-token random prompts,
exactly NEW new tokens per row (no stop token), tokens/s over the whole call, prefill included,
after a short warm-up call per batch size. Prints one JSON object: {"decode_tokens_per_s": {batch: tok/s}}.

  python hf_generate.py [--device cuda] [--dtype bf16] [--batch 1,8,64] [--new 256] [--shape qwen0.5b]
"""
import argparse
import json
import time

import torch
import transformers

SHAPES = {
    "small": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
                  intermediate_size=1408, vocab_size=32000, tie_word_embeddings=False),
    "qwen0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                     num_key_value_heads=2, intermediate_size=4864, vocab_size=151936,
                     tie_word_embeddings=True),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"])
    p.add_argument("--shape", default="qwen0.5b", choices=sorted(SHAPES))
    p.add_argument("--batch", default="1,8,64")
    p.add_argument("--new", type=int, default=256)
    p.add_argument("--prompt", type=int, default=64)
    a = p.parse_args()
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    config = transformers.Qwen2Config(rope_theta=1e6, max_position_embeddings=4096,
                                      **SHAPES[a.shape])
    torch.manual_seed(0)
    model = transformers.Qwen2ForCausalLM(config).to(device=a.device, dtype=dtype).eval()

    def sync():
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()

    out = {}
    for batch in [int(b) for b in a.batch.split(",")]:
        ids = torch.randint(config.vocab_size, (batch, a.prompt), device=a.device)
        mask = torch.ones_like(ids)
        kwargs = dict(attention_mask=mask, do_sample=False, max_new_tokens=a.new,
                      min_new_tokens=a.new, cache_implementation="static", pad_token_id=0,
                      eos_token_id=None)
        with torch.inference_mode():
            model.generate(ids, **dict(kwargs, max_new_tokens=8, min_new_tokens=8))  # warm-up
            sync()
            start = time.perf_counter()
            result = model.generate(ids, **kwargs)
            sync()
            seconds = time.perf_counter() - start
        generated = (result.shape[1] - a.prompt) * batch
        out[str(batch)] = generated / seconds
    print(json.dumps({"transformers": transformers.__version__, "dtype": a.dtype,
                      "decode_tokens_per_s": out}))


if __name__ == "__main__":
    main()
