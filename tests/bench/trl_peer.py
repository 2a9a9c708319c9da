"""acerl against TRL, the peer a user would pick instead (a benchmark, not a test).

RL: TRL's GRPOTrainer and `acerl rl` on the same model (the quickstart SFT checkpoint, exported
with `acerl convert`; or with --shape small the benchmarks' "small" shape, 55M parameters, randomly
initialised by `acerl convert --init`, whose responses all run to the length limit), the same math prompts rendered by the same chat format, the same group
size, response length, temperature, learning rate and loss (token-level GRPO, no KL, one update
per batch), fp32, on this machine with the same total thread count. Reports the median step time
(the first steps warm up), generated tokens/s and the ratio.
SFT: TRL's SFTTrainer (packed rows) and `acerl sft` at the same sequence length and batch:
trained tokens/s.

  pip install -r tests/bench/requirements.txt -c tools/requirements.txt   (trl, pinned)
  python tests/bench/trl_peer.py [--build build] [--steps 8] [--threads 2] [--out DIR]
                                 [--shape quickstart|small] [--skip rl,sft]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rl_split import INI, ROOT, mpirun  # noqa: E402  (same launcher as the split benchmark)

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def prompt_text(question):
    # acerl's chat format for the quickstart (chat.use_system = false): tokenizer/chat_template.
    return (f"<|im_start|>user\n{question}\n\n{MATH_INSTRUCTION}<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n")


def boxed_reward(completions, answer, **_):
    out = []
    for text, want in zip(completions, answer):
        tail = text.split("</think>")[-1] if "</think>" in text else ""
        found = re.findall(r"\\boxed\{([^{}]*)\}", tail)
        out.append(1.0 if found and found[-1].strip() == want.strip() else 0.0)
    return out


def prepare(a, acerl):
    data, sft = os.path.join(a.out, "data"), os.path.join(a.out, "sft")
    if not os.path.exists(os.path.join(sft, "checkpoints/latest")):
        os.makedirs(a.out, exist_ok=True)
        mpirun(1, [acerl, "data", "synth", "--output", data], os.path.join(a.out, "synth.log"))
        mpirun(2, [acerl, "sft", INI, f"--run.dir={sft}", f"--data.path={data}/sft.jsonl"],
               os.path.join(a.out, "sft.log"))
    ckpt = os.path.join(sft, "checkpoints",
                        open(os.path.join(sft, "checkpoints/latest")).read().strip())
    hf = os.path.join(a.out, "hf")
    if not os.path.exists(os.path.join(hf, "config.json")):
        subprocess.run([acerl, "convert", "--input", ckpt, "--output", hf], check=True,
                       stdout=subprocess.DEVNULL)
        shutil.copy(os.path.join(ROOT, "inputs/quickstart/tokenizer.json"), hf)
    if a.shape == "small":
        # The small shape (tests/bench/bench_util.h) over the quickstart tokenizer's ids; vocab
        # 32000 as in the benchmarks (ids past the tokenizer's 512 decode to nothing).
        cfg = json.load(open(os.path.join(ROOT, "inputs/quickstart/model.json")))
        cfg.update(hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                   num_key_value_heads=2, intermediate_size=1408, vocab_size=32000,
                   rope_theta=1e6, tie_word_embeddings=False)
        hf = os.path.join(a.out, "hf_small")
        if not os.path.exists(os.path.join(hf, "config.json")):
            cfg_path = os.path.join(a.out, "small.json")
            json.dump(cfg, open(cfg_path, "w"))
            subprocess.run([acerl, "convert", "--init", cfg_path, "--output", hf], check=True,
                           stdout=subprocess.DEVNULL)
            shutil.copy(os.path.join(ROOT, "inputs/quickstart/tokenizer.json"), hf)
        ckpt = os.path.join(a.out, "small.h5")
        if not os.path.exists(ckpt):
            subprocess.run([acerl, "convert", "--input", hf, "--output", ckpt], check=True,
                           stdout=subprocess.DEVNULL)
    math = os.path.join(a.out, "math.jsonl")
    with open(os.path.join(data, "rl.jsonl")) as src, open(math, "w") as dst:
        for line in src:
            if json.loads(line)["type"] == "math":
                dst.write(line)
    return data, ckpt, hf, math


def hf_tokenizer(hf):
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(hf, "tokenizer.json"),
                                  eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.padding_side = "left"
    return tok


class StepTimer:
    """Step times from trainer callbacks; with watch_generate(model), also the time each step
    spent in model.generate (TRL's GRPOTrainer calls it on the unwrapped model)."""

    def __init__(self):
        self.times, self.generate, self._t, self._gen = [], [], None, 0.0

    def watch_generate(self, model):
        original = model.generate

        def timed(*args, **kw):
            t = time.perf_counter()
            out = original(*args, **kw)
            self._gen += time.perf_counter() - t
            return out
        model.generate = timed

    def callback(self):
        from transformers import TrainerCallback
        timer = self

        class Cb(TrainerCallback):
            def on_step_begin(self, *args, **kw):
                timer._t = time.perf_counter()
                timer._gen = 0.0

            def on_step_end(self, *args, **kw):
                timer.times.append(time.perf_counter() - timer._t)
                timer.generate.append(timer._gen)
        return Cb()


def trl_rl(a, hf, math):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rows = [json.loads(l) for l in open(math)]
    ds = Dataset.from_list([{"prompt": prompt_text(r["prompt"]), "answer": r["answer"]}
                            for r in rows[:a.prompts * (a.steps + 1)]])
    cfg = GRPOConfig(
        output_dir=os.path.join(a.out, "trl_grpo_" + a.shape), per_device_train_batch_size=a.prompts * a.group,
        gradient_accumulation_steps=1, num_generations=a.group, max_completion_length=a.tokens,
        temperature=a.temperature, top_p=1.0, top_k=0, learning_rate=a.lr, beta=0.0,
        loss_type="dapo", num_iterations=1, max_steps=a.steps, use_cpu=True, bf16=False,
        logging_steps=1, report_to="none", save_strategy="no", seed=0, shuffle_dataset=False,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0)
    tok = hf_tokenizer(hf)
    model = AutoModelForCausalLM.from_pretrained(hf, torch_dtype=torch.float32)
    model.generation_config.eos_token_id = tok.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    model.generation_config.pad_token_id = tok.pad_token_id
    timer = StepTimer()
    timer.watch_generate(model)
    trainer = GRPOTrainer(model=model, reward_funcs=boxed_reward, args=cfg, train_dataset=ds,
                          processing_class=tok, callbacks=[timer.callback()])
    trainer.train()
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history
               if "completions/mean_length" in h]
    rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    if not any(timer.generate):
        sys.exit("trl_peer.py: GRPOTrainer never called model.generate; cannot split its step")
    rest = [t - g for t, g in zip(timer.times, timer.generate)]
    split = {"time_generate": float(np.median(timer.generate[2:])),
             "time_rest": float(np.median(rest[2:]))}
    return timer.times, lengths, rewards, split


def acerl_rl(a, acerl, ckpt, math, ranks):
    run = os.path.join(a.out, f"acerl_rl_{a.shape}_{ranks}x{a.threads // ranks}")
    shutil.rmtree(run, ignore_errors=True)
    env_threads = a.threads // ranks
    mpirun(ranks, [acerl, "rl", INI, f"--run.dir={run}", f"--model.path={ckpt}",
                   f"--data.path={math}", f"--rl.steps={a.steps}", "--checkpoint.interval=0",
                   f"--run.threads={env_threads}", f"--parallel.dp={ranks}",
                   f"--rl.prompts_per_step={a.prompts}", f"--rl.group_size={a.group}",
                   f"--rollout.max_new_tokens={a.tokens}", f"--rl.temperature={a.temperature}",
                   f"--rl.lr={a.lr}", "--rl.kl_coef=0", "--rl.drop_zero_variance_groups=false",
                   ], run + ".log")
    with h5py.File(os.path.join(run, "trace.h5")) as f:
        rl = f["rl"]
        return (list(rl["step_time"][...]), list(rl["response_length_mean"][...]),
                list(rl["reward/math"][...]), {k: float(np.median(rl[k][2:])) for k in
                                          ("time_generate", "time_score", "time_learn")})


def summary(name, times, lengths, rewards, rollouts):
    t = statistics.median(times[2:]) if len(times) > 2 else statistics.median(times)
    tokens = statistics.mean(lengths[2:] if len(lengths) > 2 else lengths) * rollouts
    print(f"  {name:26s} median step {t:.3f} s | {tokens / t:7.0f} generated tok/s | "
          f"mean length {tokens / rollouts:.1f} | reward {statistics.mean(rewards):.3f}", flush=True)
    return {"step_s": t, "generated_tok_s": tokens / t, "mean_length": tokens / rollouts,
            "reward_mean": statistics.mean(rewards), "step_times": [round(x, 4) for x in times]}


def trl_sft(a, hf, data, steps):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer
    torch.set_num_threads(a.threads)
    rows = [json.loads(l) for l in open(os.path.join(data, "sft.jsonl"))]
    texts = [prompt_text(r["prompt"]) + r["response"][len("<think>\n"):] + "<|im_end|>\n"
             for r in rows]
    ds = Dataset.from_list([{"text": t} for t in texts])
    tok = hf_tokenizer(hf)
    tok.padding_side = "right"
    cfg = SFTConfig(output_dir=os.path.join(a.out, "trl_sft_" + a.shape), per_device_train_batch_size=8,
                    max_length=512, packing=True, max_steps=steps, use_cpu=True, bf16=False,
                    learning_rate=1e-3, logging_steps=1, report_to="none", save_strategy="no",
                    dataset_text_field="text")
    model = AutoModelForCausalLM.from_pretrained(hf, torch_dtype=torch.float32)
    timer = StepTimer()
    trainer = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok,
                         callbacks=[timer.callback()])
    trainer.train()
    t = statistics.median(timer.times[2:])
    return 8 * 512 / t, t  # packed rows: every row is full


def acerl_sft(a, acerl, data, steps, ranks):
    run = os.path.join(a.out, f"acerl_sft_{a.shape}_{ranks}x{a.threads // ranks}")
    shutil.rmtree(run, ignore_errors=True)
    model = [f"--model.path={os.path.join(a.out, 'small.h5')}"] if a.shape == "small" else []
    mpirun(ranks, [acerl, "sft", INI, f"--run.dir={run}", f"--data.path={data}/sft.jsonl", *model,
                   f"--run.threads={a.threads // ranks}", f"--parallel.dp={ranks}",
                   "--sft.epochs=1", "--checkpoint.interval=0", "--sft.eval_interval=0"],
           run + ".log")
    with h5py.File(os.path.join(run, "trace.h5")) as f:
        sft = f["sft"]
        tps = sft["tokens_per_s"][2:steps + 2]
        return float(np.median(tps)), float(np.median(sft["step_time"][2:steps + 2]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--out", default=os.path.join(ROOT, "build/bench-trl"))
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompts", type=int, default=16)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--tokens", type=int, default=96)
    p.add_argument("--temperature", type=float, default=1.3)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--skip", default="", help="comma list of parts to skip: rl, sft")
    p.add_argument("--shape", default="quickstart", choices=["quickstart", "small"])
    a = p.parse_args()
    acerl = os.path.join(a.build, "acerl")
    data, ckpt, hf, math = prepare(a, acerl)
    import trl
    results = {"trl_version": trl.__version__, "threads": a.threads, "shape": a.shape}
    rollouts = a.prompts * a.group
    if "rl" not in a.skip:
        print(f"RL step: {a.prompts} prompts x {a.group} rollouts, {a.tokens} new tokens, "
              f"T = {a.temperature}, lr {a.lr}, no KL, fp32, {a.threads} threads in all")
        times, lengths, rewards, split = trl_rl(a, hf, math)
        results["trl_grpo"] = summary(f"TRL {trl.__version__} GRPOTrainer", times, lengths,
                                      rewards, rollouts)
        results["trl_grpo"].update(split)
        print(f"    generate {split['time_generate']:.3f} s (model.generate), everything else "
              f"(rewards, log-probs, loss, update) {split['time_rest']:.3f} s")
        for ranks in sorted({a.threads, 1}):
            times, lengths, rewards, phases = acerl_rl(a, acerl, ckpt, math, ranks)
            r = summary(f"acerl rl {ranks} x {a.threads // ranks} threads", times, lengths,
                        rewards, rollouts)
            r.update(phases)
            r["ratio_vs_trl"] = results["trl_grpo"]["step_s"] / r["step_s"]
            learn_ratio = results["trl_grpo"]["time_rest"] / max(phases["time_learn"], 1e-9)
            print(f"    {r['ratio_vs_trl']:.2f}x TRL's step | generate {phases['time_generate']:.3f}"
                  f" s, score {phases['time_score']:.3f} s, learn {phases['time_learn']:.3f} s "
                  f"({learn_ratio:.2f}x TRL's rest of the step)")
            results[f"acerl_rl_{ranks}x{a.threads // ranks}"] = r
    if "sft" not in a.skip:
        print("SFT: rows of 512 tokens, 8 rows per step, fp32")
        tps, t = trl_sft(a, hf, data, a.steps + 2)
        results["trl_sft"] = {"tokens_s": tps, "step_s": t}
        print(f"  TRL SFTTrainer            {tps:8.0f} tok/s ({t:.3f} s/step)", flush=True)
        for ranks in sorted({a.threads, 1}):
            tps_a, t_a = acerl_sft(a, acerl, data, a.steps, ranks)
            results[f"acerl_sft_{ranks}x{a.threads // ranks}"] = {
                "tokens_s": tps_a, "step_s": t_a, "ratio_vs_trl": tps_a / tps}
            print(f"  acerl sft {ranks} x {a.threads // ranks} threads    {tps_a:8.0f} tok/s "
                  f"({t_a:.3f} s/step) {tps_a / tps:.2f}x TRL", flush=True)
    path = os.path.join(a.out, f"results_{a.shape}.json")
    json.dump(results, open(path, "w"), indent=1)
    print("results:", path)


if __name__ == "__main__":
    sys.exit(main())
