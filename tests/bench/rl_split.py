"""The split layout against colocated RL on the same total ranks (a benchmark, not a test): the
quickstart task and model, one SFT run, then `acerl rl` colocated (every rank generates, then
learns: dp = ranks), split at lag 0 and split at lag 1 (by default half the ranks learn, half
generate; --rollout-ranks R makes the last R ranks generate),
each for the same number of steps from the same SFT checkpoint. Reports per layout the median
step time, the mean generate / score / learn seconds, both idle ratios, the weight-sync time, the
overlap efficiency (t_generate + t_score + t_learn) / t_step, the share of kept groups sent while
generation still ran, and math accuracy against step and wall-clock.

  python tests/bench/rl_split.py [--build build] [--ranks 2] [--rollout-ranks R] [--steps 24]
                                 [--out DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INI = os.path.join(ROOT, "inputs/quickstart/quickstart.ini")


def mpirun(ranks, args, log):
    flags = ["-n", str(ranks), "--bind-to", "none", "--oversubscribe"]
    if os.geteuid() == 0:
        flags.append("--allow-run-as-root")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log, "w") as out:
        subprocess.run(["mpirun", *flags, *args], check=True, stdout=out, stderr=subprocess.STDOUT,
                       env=env, cwd=ROOT)


def summary(trace):
    with h5py.File(trace, "r") as f:
        rl = f["rl"]
        col = lambda name: rl[name][...] if name in rl else None
        step, gen, learn = col("step_time"), col("time_generate"), col("time_learn")
        score = col("time_score")
        s = slice(2, None)  # the first steps warm up (and a lag-k pipeline fills)
        out = {
            "steps": len(step),
            "step_time_median": float(np.median(step[s])),
            "time_generate_mean": float(np.mean(gen[s])),
            "time_score_mean": float(np.mean(score[s])),
            "time_learn_mean": float(np.mean(learn[s])),
            # generate + score is the producer's work, learn the consumer's
            "overlap_efficiency": float(np.median((gen[s] + score[s] + learn[s]) / step[s])),
            "accuracy": [round(float(x), 4) for x in col("accuracy/math")],
            "wall_clock": [round(float(x), 2) for x in np.cumsum(step)],
        }
        if "time_wait_rollouts" in rl:
            out["learner_idle_ratio"] = float(np.median(col("time_wait_rollouts")[s] / step[s]))
            out["rollout_idle_ratio"] = float(
                np.median(col("time_rollout_wait_weights")[s] / step[s]))
            out["time_weight_sync_mean"] = float(np.mean(col("time_weight_sync")[s]))
            out["lag"] = [int(x) for x in col("lag")]
            # kept groups sent while the rollout rank was still generating (streaming)
            out["groups_sent_early_fraction"] = float(
                np.sum(col("groups_sent_early")[s]) / max(1.0, np.sum(col("groups_kept")[s])))
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--rollout-ranks", type=int, default=0,
                   help="rollout ranks of the split runs (default: half the ranks)")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--out", default=os.path.join(ROOT, "build/bench-rl-split"))
    a = p.parse_args()
    acerl = os.path.join(a.build, "acerl")
    os.makedirs(a.out, exist_ok=True)
    data, sft = os.path.join(a.out, "data"), os.path.join(a.out, "sft")
    if not os.path.exists(os.path.join(sft, "checkpoints/latest")):
        mpirun(1, [acerl, "data", "synth", "--output", data], os.path.join(a.out, "synth.log"))
        mpirun(a.ranks, [acerl, "sft", INI, f"--run.dir={sft}", f"--data.path={data}/sft.jsonl"],
               os.path.join(a.out, "sft.log"))
    start = os.path.join(sft, "checkpoints", open(os.path.join(sft, "checkpoints/latest")).read().strip())
    rollout = a.rollout_ranks or a.ranks // 2
    layouts = {
        "colocated": [f"--parallel.dp={a.ranks}"],
        "split_lag0": [f"--parallel.rollout_ranks={rollout}"],
        "split_lag1": [f"--parallel.rollout_ranks={rollout}", "--rl.max_lag=1"],
    }
    results = {}
    for name, extra in layouts.items():
        run = os.path.join(a.out, name)
        subprocess.run(["rm", "-rf", run], check=True)
        mpirun(a.ranks, [acerl, "rl", INI, f"--run.dir={run}", f"--model.path={start}",
                         f"--data.path={data}/rl.jsonl", f"--rl.steps={a.steps}",
                         "--checkpoint.interval=0", *extra], os.path.join(a.out, name + ".log"))
        results[name] = summary(os.path.join(run, "trace.h5"))
        r = results[name]
        print(f"{name:11s} step {r['step_time_median']:.3f} s | generate {r['time_generate_mean']:.3f}"
              f" s | score {r['time_score_mean']:.3f} s | learn {r['time_learn_mean']:.3f} s"
              f" | overlap {r['overlap_efficiency']:.2f}"
              + (f" | learner idle {r['learner_idle_ratio']:.2f} | rollout idle "
                 f"{r['rollout_idle_ratio']:.2f} | weight sync {r['time_weight_sync_mean'] * 1e3:.1f} ms"
                 f" | groups sent early {r['groups_sent_early_fraction']:.2f}"
                 if "lag" in r else ""), flush=True)
    json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)
    print("results:", os.path.join(a.out, "results.json"))


if __name__ == "__main__":
    sys.exit(main())
