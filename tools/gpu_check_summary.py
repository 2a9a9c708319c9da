"""Gathers the figures of one tools/gpu_check.sh run into OUT/gpu_check.json and prints them.

  python gpu_check_summary.py WORK OUT DEVICE SHAPE

WORK holds what the sections left: `sections` (name, exit code, seconds per line), bench.txt
(acerl_bench_gpu; its last line is JSON), hf.txt (hf_generate.py's JSON) and rl_big.csv (the 0.5B
RL steps' trace as `acerl trace --csv rl`). OUT already holds the quickstart traces.
"""
import csv
import json
import os
import sys


def last_json(path):
    try:
        lines = [l for l in open(path).read().splitlines() if l.startswith("{")]
    except OSError:
        return None
    return json.loads(lines[-1]) if lines else None


def main():
    work, out, device, shape = sys.argv[1:5]
    summary = {"device": device, "shape": shape, "sections": {}}
    if os.path.exists(f"{work}/sections"):
        for line in open(f"{work}/sections"):
            name, code, seconds = line.split()
            summary["sections"][name] = {"exit": int(code), "seconds": int(seconds)}

    bench = last_json(f"{work}/bench.txt")
    hf = last_json(f"{work}/hf.txt")
    if bench:
        summary["acerl"] = bench
    if hf:
        summary["transformers"] = hf
    if bench and hf:
        theirs = hf["decode_tokens_per_s"]
        summary["decode_ratio_acerl_over_hf"] = {
            mode: {b: ours[b] / theirs[b] for b in ours if b in theirs and theirs[b] > 0}
            for mode, ours in bench["decode_tokens_per_s"].items()}

    if os.path.exists(f"{work}/rl_big.csv"):
        rows = list(csv.DictReader(open(f"{work}/rl_big.csv")))
        keys = ["time_generate", "time_score", "time_learn", "step_time", "response_length_mean"]
        summary["rl_0.5b_steps"] = [
            {k: float(r[k]) for k in keys if r.get(k) not in (None, "")} for r in rows]

    for phase in ("sft", "rl"):
        try:
            summary[phase + "_trace"] = open(f"{out}/{phase}_trace.txt").read()
        except OSError:
            pass
    json.dump(summary, open(f"{out}/gpu_check.json", "w"), indent=1)
    print(json.dumps({k: v for k, v in summary.items() if not k.endswith("_trace")}, indent=1))


if __name__ == "__main__":
    main()
