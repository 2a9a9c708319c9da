"""The Qwen2 architecture written plainly in PyTorch eager (the same torch wheel acerl links), as
the baseline of acerl's model benchmark. KV cache by concatenation, as a plain implementation
does it. Prints one JSON object: {"tokens_per_s": ...}.

  python qwen2_eager.py SHAPE DTYPE MODE [--seq 512] [--batch 1] [--new 32] [--repeats 3] [--threads 2]
  SHAPE: small | qwen0.5b   DTYPE: fp32 | bf16   MODE: train (forward+backward) | decode |
  generate | sftstep | sample (one sampling call over the shape's vocabulary, float32 logits:
  prints {"ms_per_call": ...})
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    "small": dict(d=512, layers=8, heads=8, kv=2, ffn=1408, vocab=32000, tied=False, theta=1e6),
    "qwen0.5b": dict(d=896, layers=24, heads=14, kv=2, ffn=4864, vocab=151936, tied=True, theta=1e6),
}


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Layer(nn.Module):
    def __init__(self, s):
        super().__init__()
        d, h, kv = s["d"], s["heads"], s["kv"]
        self.h, self.kv, self.hd = h, kv, d // h
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, kv * self.hd)
        self.v = nn.Linear(d, kv * self.hd)
        self.o = nn.Linear(d, d, bias=False)
        self.gate = nn.Linear(d, s["ffn"], bias=False)
        self.up = nn.Linear(d, s["ffn"], bias=False)
        self.down = nn.Linear(s["ffn"], d, bias=False)
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)

    def forward(self, x, cos, sin, past=None):
        B, T, _ = x.shape
        y = self.n1(x)
        q = self.q(y).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        v = self.v(y).view(B, T, self.kv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=past is None, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(B, T, -1))
        y = self.n2(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y)), (k, v)


class Model(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.embed = nn.Embedding(s["vocab"], s["d"])
        self.layers = nn.ModuleList(Layer(s) for _ in range(s["layers"]))
        self.norm = RMSNorm(s["d"])
        self.head = None if s["tied"] else nn.Linear(s["d"], s["vocab"], bias=False)
        hd = s["d"] // s["heads"]
        self.inv_freq = 1.0 / (s["theta"] ** (torch.arange(0, hd, 2).float() / hd))

    def forward(self, ids, start=0, past=None):
        pos = torch.arange(start, start + ids.shape[1]).float()
        ang = torch.outer(pos, self.inv_freq)
        emb = torch.cat([ang, ang], -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.embed(ids)
        cache = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, cos.to(x.dtype), sin.to(x.dtype), None if past is None else past[i])
            cache.append(kv)
        x = self.norm(x)
        logits = F.linear(x, self.embed.weight if self.head is None else self.head.weight)
        return logits, cache


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("shape")
    p.add_argument("dtype")
    p.add_argument("mode")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--new", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    s = SHAPES[a.shape]
    if a.mode == "sample":
        # One sampling call as eager code writes it: softmax at T = 1, a multinomial draw, the
        # drawn token's log-prob and the entropy, for (batch, vocab) float32 logits.
        logits = torch.randn(a.batch, s["vocab"]) * 3

        def sample():
            with torch.no_grad():
                logp = torch.log_softmax(logits / 1.0, -1)
                prob = logp.exp()
                tok = torch.multinomial(prob, 1)
                return logp.gather(-1, tok), -(prob * logp).sum(-1)
        print(json.dumps({"ms_per_call": 1e3 * timed(sample, a.repeats)}))
        return
    model = Model(s)
    for prm in model.parameters():
        nn.init.normal_(prm, std=0.02)
    ids = torch.randint(0, s["vocab"], (a.batch, a.seq))
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if a.dtype == "bf16" else torch.autocast("cpu", enabled=False)
    if a.mode == "generate":
        # Greedy generation of `new` tokens after a `seq`-token prompt for `batch` sequences, KV
        # cache by concatenation; tokens/s over the whole call (prefill included).
        prompt = torch.randint(0, s["vocab"], (a.batch, a.seq))

        def generate():
            with torch.no_grad(), ctx:
                logits, past = model(prompt)
                tok = logits[:, -1:].argmax(-1)
                for i in range(a.new - 1):
                    logits, past = model(tok, a.seq + i, past)
                    tok = logits[:, -1:].argmax(-1)
        seconds = timed(generate, a.repeats)
        print(json.dumps({"tokens_per_s": a.batch * a.new / seconds}))
        return
    if a.mode == "sftstep":
        # A full SFT step: forward, backward, global-norm clipping, AdamW (PyTorch's default
        # implementation), on a (batch, seq) block of tokens.
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)

        def sft_step():
            opt.zero_grad(set_to_none=True)
            with ctx:
                logits, _ = model(ids)
            loss = F.cross_entropy(logits.float().view(-1, s["vocab"]), ids.view(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        seconds = timed(sft_step, a.repeats)
        print(json.dumps({"tokens_per_s": a.batch * a.seq / seconds}))
    elif a.mode == "train":
        def step():
            model.zero_grad(set_to_none=True)
            with ctx:
                logits, _ = model(ids)
            loss = F.cross_entropy(logits.float().view(-1, s["vocab"]), ids.view(-1))
            loss.backward()
        seconds = timed(step, a.repeats)
        print(json.dumps({"tokens_per_s": a.batch * a.seq / seconds}))
    else:
        def decode():
            with torch.no_grad(), ctx:
                logits, past = model(ids)
                tok = logits[:, -1:].argmax(-1)
                for i in range(a.new):
                    logits, past = model(tok, a.seq + i, past)
                    tok = logits[:, -1:].argmax(-1)
        with torch.no_grad(), ctx:
            t_prefill = timed(lambda: model(ids), a.repeats)
        total = timed(decode, a.repeats)
        print(json.dumps({"tokens_per_s": a.batch * a.new / max(total - t_prefill, 1e-9)}))


if __name__ == "__main__":
    main()
