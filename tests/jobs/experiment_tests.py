"""The experiment jobs of jobs/experiments/ and their post-run tool, tools/findings.py. One CTest
entry per case:

  experiment_tests.py CASE --build BUILD_DIR

Cases:
  report   tools/findings.py on run directories made here with hand-chosen results (traces written
           with h5py, eval reports as `acerl eval` writes them): the fit, gaps and verdicts it
           prints must be the hand-computed ones.
  scripts  the three job scripts end to end on a tiny setting (a few steps, a few problems), so
           that they cannot rot: each ends in its table and plot, the table shows the eval
           reports' numbers, a second invocation skips every finished step, and a missing
           ACERL_SFT_FROM cell is bad input (exit 2).
Exit 0 = passed, 1 = failed (each failed check printed).
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

from checks import check, finish

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "findings.py"


def run_cmd(cmd, env=None, timeout=900):
    p = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return p.returncode, p.stdout


# ---- report: the tool on hand-made run directories --------------------------------------------

def write_trace(path, config, rl=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = "".join(f"[{s}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items())
                   for s, kv in config.items())
    with h5py.File(path, "w") as f:
        f.attrs["config"] = text
        for name, values in (rl or {}).items():
            f[f"rl/{name}"] = np.asarray(values)


def write_eval(run_dir, model, correct, samples=1):
    """An eval report of `model` with per-problem correct counts `correct` (k = samples)."""
    d = os.path.join(run_dir, "eval")
    os.makedirs(d, exist_ok=True)
    n = len(correct)
    frac = np.asarray(correct) / samples
    with open(os.path.join(d, "eval_eval_problems.jsonl"), "w") as f:
        for i, c in enumerate(correct):
            f.write(json.dumps({"id": f"eval-{i:04d}", "type": "math", "correct": int(c),
                                "samples": samples, "reasons": []}) + "\n")
    report = {"k": samples, "model": model, "benchmarks": [{
        "file": "eval.jsonl", "problems": n, "avg_at_k": float(frac.mean()),
        "standard_error": float(frac.std(ddof=1) / math.sqrt(n)),
        "pass_at": {str(samples): float((np.asarray(correct) > 0).mean())},
        "problems_file": "/elsewhere/eval_eval_problems.jsonl"}]}
    json.dump(report, open(os.path.join(d, "eval.json"), "w"))


def ones(n_correct, n=50):
    return [1] * n_correct + [0] * (n - n_correct)


def report_sft_scaling(tmp):
    run = os.path.join(tmp, "f1")
    # avg@k (%) = 3 log2 P + 1 log2 R - 20 exactly: the fit must give a = 3, b = 1, R^2 = 1.
    # 100 problems with k = 100 samples each make every whole-percent value exact.
    for p in (128, 256, 512, 1024):
        for r in (1, 2, 4):
            d = os.path.join(run, "sft", f"p{p}_r{r}")
            write_trace(os.path.join(d, "trace.h5"),
                        {"sft": {"max_prompts": p, "responses_per_prompt": r, "max_steps": 10}})
            z = 3 * math.log2(p) + math.log2(r) - 20
            write_eval(d, f"{d}/checkpoints/step_00000010.h5", [round(z)] * 100, samples=100)
    rc, out = run_cmd([sys.executable, str(TOOL), "sft-scaling", run])
    check(rc == 0, f"findings.py sft-scaling exits 0 (got {rc})")
    check("a = 3.00 ± 0.00, b = 1.00 ± 0.00" in out and "R² = 1.000" in out,
          "finding 1: the fit recovers a = 3, b = 1, R² = 1")
    check("| 512 | 4 | 2048 | 9.0 ± 0.0 |" in out, "finding 1: a cell's row shows its avg@k")
    # Equal samples: 256x1 against 128x2; 512x1 against 256x2 and 128x4; 1024x1 against 512x2
    # and 256x4; 1024x2 against 512x4: the more-prompts cell is higher by 2 (a - b) or 4 points.
    check(len(re.findall(r"\| \+[24]\.0 ± 0\.0 \| clearly better \|", out)) == 6,
          "finding 1: six equal-sample comparisons, each clearly for more prompts")
    check("**Verdict: reproduced (a > b" in out, "finding 1: verdict reproduced")
    check(os.path.getsize(os.path.join(run, "finding1.png")) > 1000, "finding 1: the plot is written")


def report_sft_to_rl(tmp):
    run = os.path.join(tmp, "f2")
    # Start A 20 %, start B 50 % (50 problems, k = 1); after RL A: 40, 44 %, B: 60, 64 %.
    # Gap 30 points before, 20 after (narrowed by 10).
    for name, before, afters in (("p100_r1", 10, (20, 22)), ("p400_r4", 25, (30, 32))):
        start_dir = os.path.join(run, "starts", name)
        start = os.path.join(start_dir, "checkpoints", "step_00000010.h5")
        os.makedirs(os.path.dirname(start), exist_ok=True)
        open(start, "w").close()
        write_eval(start_dir, start, ones(before))
        for seed, after in enumerate(afters, 1):
            d = os.path.join(run, "rl", f"{name}_s{seed}")
            write_trace(os.path.join(d, "trace.h5"), {"model": {"path": start}, "run": {"seed": seed}})
            write_eval(d, f"{d}/checkpoints/step_00000005.h5", ones(after))
    rc, out = run_cmd([sys.executable, str(TOOL), "sft-to-rl", run])
    check(rc == 0, f"findings.py sft-to-rl exits 0 (got {rc})")
    check(re.search(r"\| p100_r1 \| 20\.0 ± [0-9.]+ \| 42\.0 ± [0-9.]+ \| \+22\.0 ± ", out) is not None,
          "finding 2: start p100_r1 20 % -> 42 % (mean of seeds)")
    # SEs by hand, paired over the 50 problems: before, the gap is 100 on 15 problems (sample SD
    # 46.29 / sqrt 50 = 6.55); after (seed means), 50 on 4 problems and 100 on 8 (5.35; both seeds
    # give a gap of 20, so no seed term); the change of the gap is 100 x 10, 50 x 2, -100 x 5,
    # -50 x 2 (7.95).
    check("**30.0 ± 6.5 before RL, 20.0 ± 5.3 after**; narrowed by 10.0 ± 8.0 points" in out,
          "finding 2: gap 30 ± 6.5 before, 20 ± 5.3 after, narrowed by 10 ± 8.0 (hand-computed SEs)")
    check("**Verdict: partly reproduced: the stronger start stays stronger after RL, but the gap "
          "stays within noise.**" in out, "finding 2: verdict (narrowing within twice its SE)")


def report_temperature(tmp):
    run = os.path.join(tmp, "f3")
    start = "/models/sft.h5"
    for h, t in ((0.1, 0.5), (0.3, 0.8), (0.5, 1.1)):
        d = os.path.join(run, "tune", f"h{h}")
        os.makedirs(d, exist_ok=True)
        json.dump({"target_entropy": h, "temperature": t + 1e-5}, open(f"{d}/tune_temperature.json", "w"))
    # 200 problems, k = 1; fixed T: 40/42 % (entropy 0.1), 60/62 % (0.3), 50/52 % (0.5);
    # auto: target 0.3 at 55/57 %, target 0.4 at 65/67 %.
    cases = [("fixed_h0.1", "0.5000", None, (80, 84)), ("fixed_h0.3", "0.8000", None, (120, 124)),
             ("fixed_h0.5", "1.1000", None, (100, 104)), ("auto_h0.3", "auto", 0.3, (110, 114)),
             ("auto_h0.4", "auto", 0.4, (130, 134))]
    for name, temp, target, correct in cases:
        for seed, c in enumerate(correct, 1):
            d = os.path.join(run, "rl", f"{name}_s{seed}")
            rl_cfg = {"temperature": temp, "target_entropy": target if target else 0.3}
            write_trace(os.path.join(d, "trace.h5"), {"model": {"path": start}, "rl": rl_cfg},
                        rl={"entropy": [0.3, 0.31, 0.32, 0.33, 0.34],
                            "temperature": [0.8] * 5, "step": [1, 2, 3, 4, 5]})
            write_eval(d, f"{d}/checkpoints/step_00000005.h5", ones(c, 200))
    rc, out = run_cmd([sys.executable, str(TOOL), "temperature", run])
    check(rc == 0, f"findings.py temperature exits 0 (got {rc})")
    check(re.search(r"\| fixed T = 0\.80 \(start entropy 0\.3\) \| 0\.80 → 0\.80 \| 0\.300 → 0\.340 \| 61\.0 ± ", out)
          is not None, "finding 3: the entropy-0.3 row (temperature, entropy start -> end, avg@k)")
    # Paired SEs by hand: against entropy 0.1 the per-problem differences are 50 x 8 and 100 x 36
    # (sample SD 38.83 / sqrt 200 = 2.75), against 0.5 50 x 8 and 100 x 16 (2.00); each side's
    # seeds add 1.0 (60 and 62 %: SD 1.41 / sqrt 2): sqrt(2.75^2 + 1 + 1) = 3.09, sqrt(2.00^2 + 2)
    # = 2.45.
    check("minus fixed T = 0.50 (start entropy 0.1): +20.0 ± 3.1 points (clearly better)" in out,
          "finding 3: entropy 0.3 minus 0.1 is +20.0 ± 3.1 (hand-computed paired SE)")
    check("minus fixed T = 1.10 (start entropy 0.5): +10.0 ± 2.5 points (clearly better)" in out,
          "finding 3: entropy 0.3 minus 0.5 is +10.0 ± 2.5 (hand-computed paired SE)")
    check("**Verdict: reproduced.**" in out, "finding 3: verdict reproduced")
    check("best target is 0.4" in out and "target 0.4 minus target 0.3: +10.0" in out,
          "finding 3: the target sweep names 0.4, 10 points above 0.3")


def case_report():
    with tempfile.TemporaryDirectory() as tmp:
        report_sft_scaling(tmp)
        report_sft_to_rl(tmp)
        report_temperature(tmp)


# ---- scripts: the three jobs on a tiny setting ------------------------------------------------

def case_scripts(build):
    tmp = tempfile.mkdtemp(prefix="acerl-experiments-")
    env = dict(os.environ, ACERL_BUILD_DIR=build, ACERL_PROMPTS="40", ACERL_SFT_STEPS="3",
               ACERL_RL_STEPS="2", ACERL_EVAL_PROMPTS="8", ACERL_SEEDS="1 2",
               ACERL_PROMPT_DIVISORS="2 1", ACERL_RESPONSES="1 2")
    f1 = os.path.join(tmp, "sft_scaling")
    rc, out = run_cmd(["jobs/experiments/sft_scaling.sh"], dict(env, ACERL_RUN_DIR=f1))
    print(out)
    check(rc == 0, f"sft_scaling.sh exits 0 (got {rc})")
    md = os.path.join(f1, "finding1.md")
    if check(os.path.exists(md) and os.path.getsize(os.path.join(f1, "finding1.png")) > 1000,
             "sft_scaling.sh writes finding1.md and finding1.png"):
        table = open(md).read()
        for p, r in ((20, 1), (20, 2), (40, 1), (40, 2)):
            report = json.load(open(os.path.join(f1, "sft", f"p{p}_r{r}", "eval", "eval.json")))
            b = report["benchmarks"][0]
            row = f"| {p} | {r} | {p * r} | {100 * b['avg_at_k']:.1f} ± {100 * b['standard_error']:.1f} |"
            check(row in table, f"finding 1 table row for {p}x{r} is its eval report: {row}")
        # The job's own report counts its wall time (recorded before the report is written).
        check(re.search(r"wall time \d+ s \(", table) is not None,
              "finding1.md states the job's measured wall time")
        sft = [json.loads(x) for x in open(os.path.join(f1, "data", "sft.jsonl"))]
        check(len(sft) == 160, f"the task has 40 prompts x 4 solutions (got {len(sft)} records)")
    # A second invocation finds every step done: no step runs again.
    logs = sorted(Path(f1).rglob("*.log"))
    before = {p: p.stat().st_mtime_ns for p in logs}
    rc, out = run_cmd(["jobs/experiments/sft_scaling.sh"], dict(env, ACERL_RUN_DIR=f1))
    check(rc == 0 and all(p.stat().st_mtime_ns == t for p, t in before.items()) and logs,
          "sft_scaling.sh run again skips every finished step")
    # Other settings on the same run directory would mix stale steps in: refused, exit 2.
    rc, out = run_cmd(["jobs/experiments/sft_scaling.sh"], dict(env, ACERL_RUN_DIR=f1, ACERL_SFT_STEPS="4"))
    check(rc == 2 and "was made with other settings" in out and "sft_steps=4" in out,
          f"other settings on a finished run directory are bad input, exit 2 (got {rc})")

    f2 = os.path.join(tmp, "sft_to_rl")
    rc, out = run_cmd(["jobs/experiments/sft_to_rl.sh"],
                  dict(env, ACERL_RUN_DIR=f2, ACERL_SFT_FROM=f1, ACERL_STARTS="20:1 40:2"))
    print(out)
    check(rc == 0, f"sft_to_rl.sh (starts from the scaling run) exits 0 (got {rc})")
    check(os.path.exists(os.path.join(f2, "finding2.md")) and
          len(list(Path(f2, "rl").glob("*/eval/eval.json"))) == 4,
          "sft_to_rl.sh: 2 starts x 2 seeds evaluated, finding2.md written")
    rc, out = run_cmd(["jobs/experiments/sft_to_rl.sh"],
                  dict(env, ACERL_RUN_DIR=os.path.join(tmp, "bad"), ACERL_SFT_FROM=f1,
                       ACERL_STARTS="7:3"))
    check(rc == 2 and "has no finished cell p7_r3" in out,
          f"a cell missing from ACERL_SFT_FROM is bad input, exit 2 (got {rc}: {out.strip()[-200:]})")

    f3 = os.path.join(tmp, "temperature")
    rc, out = run_cmd(["jobs/experiments/temperature.sh"],
                  dict(env, ACERL_RUN_DIR=f3, ACERL_SEEDS="1", ACERL_TARGETS="0.3"))
    print(out)
    check(rc == 0, f"temperature.sh (its own SFT start) exits 0 (got {rc})")
    check(os.path.exists(os.path.join(f3, "finding3.md")) and
          os.path.exists(os.path.join(f3, "starts", "p40_r4", "eval", "eval.json")) and
          len(list(Path(f3, "tune").glob("*/tune_temperature.json"))) == 3,
          "temperature.sh: its SFT start, three tunings and finding3.md")
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=["report", "scripts"])
    p.add_argument("--build", default=str(ROOT / "build"))
    a = p.parse_args()
    if a.case == "report":
        case_report()
    else:
        case_scripts(os.path.abspath(a.build))
    finish(a.case)


if __name__ == "__main__":
    main()
