"""Turns the run directory of an experiment job (jobs/experiments/) into its table (Markdown) and
plot (PNG), from the HDF5 traces, the `acerl eval` reports and the `acerl tune-temperature`
reports alone (each trace carries the configuration its run used).

  python tools/findings.py sft-scaling RUN_DIR   # finding 1 -> RUN_DIR/finding1.md, .png
  python tools/findings.py sft-to-rl RUN_DIR     # finding 2 -> RUN_DIR/finding2.md, .png
  python tools/findings.py temperature RUN_DIR   # finding 3 -> RUN_DIR/finding3.md, .png

Accuracy is avg@k on the held-out problems, in percent. Standard errors (SE): of one evaluation,
over its problems; of a mean over seeds, the seeds' spread and the problems' spread added in
quadrature (each seed is scored on the same problems). Differences between models scored on the
same problems are paired per problem. "Clearly" means by more than twice the SE.
"""
import argparse
import configparser
import glob
import json
import math
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


# ---- reading a run directory -------------------------------------------------------------------

def trace_config(path):
    """The configuration a run used, from its trace's `config` attribute (INI text)."""
    with h5py.File(path, "r") as f:
        text = f.attrs["config"]
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text if isinstance(text, str) else text.decode())
    return {f"{s}.{k}": v.strip().strip('"') for s in parser.sections() for k, v in parser[s].items()}


class Eval:
    """One `acerl eval` report: avg@k, its SE, pass@k and the per-problem correct fractions."""

    def __init__(self, path):
        report = json.load(open(path))
        if len(report["benchmarks"]) != 1:
            sys.exit(f"{path}: expected one benchmark file, found {len(report['benchmarks'])}")
        b = report["benchmarks"][0]
        self.path, self.model, self.k = path, report["model"], report["k"]
        self.avg, self.se = 100 * b["avg_at_k"], 100 * b["standard_error"]
        self.pass_k = 100 * b["pass_at"][str(report["k"])]
        self.problems = b["problems"]
        # The per-problem file sits beside the report (the run directory may have moved).
        rows = [json.loads(line) for line in
                open(os.path.join(os.path.dirname(path), os.path.basename(b["problems_file"])))]
        rows.sort(key=lambda r: r["id"])
        self.ids = [r["id"] for r in rows]
        self.per_problem = 100 * np.array([r["correct"] / r["samples"] for r in rows])


def evals_under(run):
    """Every eval report under RUN, by the checkpoint it evaluated."""
    out = {}
    for path in glob.glob(os.path.join(run, "**", "eval.json"), recursive=True):
        e = Eval(path)
        out[os.path.realpath(e.model)] = e
    return out


def eval_in(run_dir):
    path = os.path.join(run_dir, "eval", "eval.json")
    if not os.path.exists(path):
        sys.exit(f"{run_dir}: no eval/eval.json (the job did not finish this run)")
    return Eval(path)


def same_problems(evals, what):
    """Exits unless every report scored the same problems with the same k."""
    first = evals[0]
    for e in evals[1:]:
        if e.ids != first.ids or e.k != first.k:
            sys.exit(f"{what}: {e.path} and {first.path} scored different problems or k; "
                     "results of different settings cannot be compared (use a fresh run directory)")


def paired_se(a, b):
    """SE of mean(a - b) over problems (a and b: per-problem accuracies on the same problems)."""
    d = np.asarray(a) - np.asarray(b)
    return float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0


def seed_mean(evals):
    """Mean avg@k over seeds, its SE (seeds and problems in quadrature), and the per-problem mean."""
    avgs = np.array([e.avg for e in evals])
    per_problem = np.mean([e.per_problem for e in evals], axis=0)
    se_problems = float(per_problem.std(ddof=1) / math.sqrt(len(per_problem)))
    se_seeds = float(avgs.std(ddof=1) / math.sqrt(len(avgs))) if len(avgs) > 1 else 0.0
    return float(avgs.mean()), math.hypot(se_seeds, se_problems), per_problem, se_seeds


def wall_time(run):
    path = os.path.join(run, "wall_seconds")
    if not os.path.exists(path):
        return "not recorded"
    seconds = sum(int(x) for x in open(path).read().split())
    return f"{seconds} s ({seconds / 60:.1f} min)"


def verdict(diff, se):
    if diff > 2 * se:
        return "clearly better"
    return "clearly worse" if diff < -2 * se else "within noise (2 SE)"


def fmt(v, se):
    return f"{v:.1f} ± {se:.1f}"


def write(run, name, lines, fig):
    md, png = os.path.join(run, f"{name}.md"), os.path.join(run, f"{name}.png")
    lines.append(f"\n![{name}]({name}.png)\n")
    open(md, "w").write("\n".join(lines))
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print("\n".join(lines))
    print(f"wrote {md} and {png}")


# ---- finding 1: prompts against responses per prompt -------------------------------------------

def sft_scaling(run):
    cells = []
    for d in sorted(glob.glob(os.path.join(run, "sft", "*"))):
        cfg = trace_config(os.path.join(d, "trace.h5"))
        cells.append(dict(prompts=int(cfg["sft.max_prompts"]),
                          responses=int(cfg["sft.responses_per_prompt"]),
                          steps=int(cfg["sft.max_steps"]), eval=eval_in(d)))
    if len(cells) < 4:
        sys.exit(f"{run}: {len(cells)} SFT cells under sft/; the fit needs at least 4")
    if len({c["prompts"] for c in cells}) < 2 or len({c["responses"] for c in cells}) < 2:
        sys.exit(f"{run}: the fit needs at least two prompt counts and two response counts")
    if len({c["steps"] for c in cells}) > 1:
        sys.exit(f"{run}: the cells were trained for different step counts "
                 f"{sorted({c['steps'] for c in cells})}; use a fresh run directory")
    same_problems([c["eval"] for c in cells], run)
    cells.sort(key=lambda c: (c["prompts"], c["responses"]))
    k = cells[0]["eval"].k
    z = np.array([c["eval"].avg for c in cells])
    x = np.array([[math.log2(c["prompts"]), math.log2(c["responses"]), 1.0] for c in cells])
    coef, *_ = np.linalg.lstsq(x, z, rcond=None)
    resid = z - x @ coef
    dof = max(1, len(z) - 3)
    cov = (resid @ resid / dof) * np.linalg.inv(x.T @ x)
    ss_tot = ((z - z.mean()) ** 2).sum()
    r2 = 1 - (resid @ resid) / ss_tot if ss_tot > 0 else float("nan")
    a, b, c = coef
    se_a, se_b = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    se_ab = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])

    lines = [f"# Finding 1: more prompts against more responses per prompt (SFT)\n",
             f"Run directory `{run}`; wall time {wall_time(run)}. Every cell: "
             f"{cells[0]['steps']} SFT steps from scratch, the same settings; held-out avg@{k} "
             f"on {cells[0]['eval'].problems} problems (%, ± SE over problems).\n",
             "| prompts | responses | samples | avg@k | pass@k |", "|---|---|---|---|---|"]
    for cell in cells:
        e = cell["eval"]
        lines.append(f"| {cell['prompts']} | {cell['responses']} | "
                     f"{cell['prompts'] * cell['responses']} | {fmt(e.avg, e.se)} | {e.pass_k:.1f} |")
    lines += ["", f"Fit z = a·log2(prompts) + b·log2(responses) + c over {len(cells)} cells "
              f"(z = avg@{k} in %): **a = {a:.2f} ± {se_a:.2f}, b = {b:.2f} ± {se_b:.2f}**, "
              f"c = {c:.1f}, R² = {r2:.3f}; a − b = {a - b:.2f} ± {se_ab:.2f} "
              f"(the paper: a = 4.83, b = 2.64, R² = 0.91).", ""]
    # The equal-sample diagonals: the same number of samples, split differently.
    diag = {}
    for cell in cells:
        diag.setdefault(cell["prompts"] * cell["responses"], []).append(cell)
    rows, wins, total = [], 0, 0
    for samples, group in sorted(diag.items()):
        group.sort(key=lambda c: -c["prompts"])
        for other in group[1:]:
            hi, lo = group[0], other
            d = hi["eval"].avg - lo["eval"].avg
            se = paired_se(hi["eval"].per_problem, lo["eval"].per_problem)
            wins += d > 2 * se
            total += 1
            rows.append(f"| {samples} | {hi['prompts']}×{hi['responses']} | "
                        f"{lo['prompts']}×{lo['responses']} | {d:+.1f} ± {se:.1f} | {verdict(d, se)} |")
    if rows:
        lines += ["Equal sample counts (more prompts minus more responses, paired over problems):",
                  "", "| samples | more prompts | more responses | difference | more prompts |",
                  "|---|---|---|---|---|"] + rows + [""]
    if a - b > 2 * se_ab and a > 0:
        word = "reproduced (a > b by more than twice the SE of a − b)"
    elif a - b > 2 * se_ab:
        word = "not reproduced: a > b, but more prompts do not help (a <= 0)"
    elif b - a > 2 * se_ab:
        word = "not reproduced: the other way round (b > a by more than twice the SE of a − b)"
    else:
        word = "not reproduced: a and b are equal within twice the SE of a − b"
    lines.append(f"**Verdict: {word}.** More prompts beat more responses clearly in {wins} of "
                 f"{total} equal-sample comparisons.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for responses in sorted({c["responses"] for c in cells}):
        row = [c for c in cells if c["responses"] == responses]
        for ax, xs in ((axes[0], [c["prompts"] for c in row]),
                       (axes[1], [c["prompts"] * c["responses"] for c in row])):
            ax.errorbar(xs, [c["eval"].avg for c in row], yerr=[c["eval"].se for c in row],
                        marker="o", capsize=3, label=f"{responses} response(s) per prompt")
    axes[0].set_xlabel("prompts")
    axes[1].set_xlabel("SFT samples (prompts × responses)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_ylabel(f"held-out avg@{k} (%)")
        ax.legend()
    fig.suptitle(f"Finding 1: a = {a:.2f} ± {se_a:.2f}, b = {b:.2f} ± {se_b:.2f}, R² = {r2:.2f}")
    write(run, "finding1", lines, fig)


# ---- finding 2: SFT strength carried through RL ------------------------------------------------

def rl_runs(run):
    """(trace path, config, eval of the RL model) for every run under RUN/rl/."""
    out = []
    for d in sorted(glob.glob(os.path.join(run, "rl", "*"))):
        trace = os.path.join(d, "trace.h5")
        out.append((trace, trace_config(trace), eval_in(d)))
    if not out:
        sys.exit(f"{run}: no RL runs under rl/")
    return out


def sft_to_rl(run):
    starts = evals_under(os.path.join(run, "starts"))
    groups = {}
    for _, cfg, after in rl_runs(run):
        start = os.path.realpath(cfg["model.path"])
        if start not in starts:
            sys.exit(f"{run}: no eval report of the RL start {start} under starts/")
        after.seed = cfg.get("run.seed", "")
        groups.setdefault(start, []).append(after)
    same_problems(list(starts.values()) + [e for g in groups.values() for e in g], run)
    if len(groups) < 2:
        sys.exit(f"{run}: RL from {len(groups)} start(s); the finding needs at least 2")
    rows = []
    for start, afters in groups.items():
        before = starts[start]
        mean, se, per_problem, se_seeds = seed_mean(afters)
        name = os.path.basename(os.path.dirname(os.path.dirname(start)))
        rows.append(dict(name=name, before=before, after=mean, after_se=se, se_seeds=se_seeds,
                         after_problem=per_problem, afters=afters, seeds=len(afters)))
    rows.sort(key=lambda r: r["before"].avg)
    k = rows[0]["before"].k
    lines = [f"# Finding 2: a stronger SFT start gives a stronger RL model, and RL narrows the gap\n",
             f"Run directory `{run}`; wall time {wall_time(run)}. The same GRPO run from each SFT "
             f"start ({rows[0]['seeds']} seeds each); held-out avg@{k} (%, ± SE).\n",
             "| SFT start | before RL | after RL (mean of seeds) | gain |", "|---|---|---|---|"]
    for r in rows:
        gain_se = math.hypot(paired_se(r["after_problem"], r["before"].per_problem), r["se_seeds"])
        lines.append(f"| {r['name']} | {fmt(r['before'].avg, r['before'].se)} | "
                     f"{fmt(r['after'], r['after_se'])} | {r['after'] - r['before'].avg:+.1f} ± {gain_se:.1f} |")
    weak, strong = rows[0], rows[-1]
    gap_before = strong["before"].avg - weak["before"].avg
    se_before = paired_se(strong["before"].per_problem, weak["before"].per_problem)
    # Seeds are paired by run.seed: the same seed from both starts.
    weak_by_seed = {e.seed: e for e in weak["afters"]}
    pairs = [(e, weak_by_seed[e.seed]) for e in strong["afters"] if e.seed in weak_by_seed]
    seeds = len(pairs)
    per_seed_gaps = np.array([s_.avg - w_.avg for s_, w_ in pairs])
    se_gap_seeds = per_seed_gaps.std(ddof=1) / math.sqrt(seeds) if seeds > 1 else 0.0
    gap_after = strong["after"] - weak["after"]
    se_after = math.hypot(paired_se(strong["after_problem"], weak["after_problem"]), se_gap_seeds)
    narrowing = gap_before - gap_after
    se_narrow = math.hypot(
        paired_se(strong["before"].per_problem - weak["before"].per_problem,
                  strong["after_problem"] - weak["after_problem"]),
        se_gap_seeds)
    ordered = all(rows[i]["after"] <= rows[i + 1]["after"] for i in range(len(rows) - 1))
    lines += ["", f"Gap between the strongest and the weakest start ({strong['name']} − {weak['name']}): "
              f"**{fmt(gap_before, se_before)} before RL, {fmt(gap_after, se_after)} after**; "
              f"narrowed by {fmt(narrowing, se_narrow)} points.",
              f"Order of the starts kept after RL: {'yes' if ordered else 'no'}.", ""]
    stronger = gap_after > 2 * se_after
    narrowed = narrowing > 2 * se_narrow
    gap = ("the gap narrows" if narrowed else
           "the gap widens" if narrowing < -2 * se_narrow else "the gap stays within noise")
    if stronger and ordered and narrowed:
        word = "reproduced"
    elif stronger and narrowed:
        word = "partly reproduced: the gap narrows, but the order of the starts changes"
    elif stronger:
        word = f"partly reproduced: the stronger start stays stronger after RL, but {gap}"
    elif narrowed:
        word = "partly reproduced: the gap narrows, but the stronger start is not clearly stronger after RL"
    else:
        word = f"not reproduced: the stronger start is not clearly stronger after RL, and {gap}"
    lines.append(f"**Verdict: {word}.**")

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        ax.errorbar([0, 1], [r["before"].avg, r["after"]], yerr=[r["before"].se, r["after_se"]],
                    marker="o", capsize=3, label=r["name"])
    ax.set_xticks([0, 1], ["after SFT", "after RL"])
    ax.set_ylabel(f"held-out avg@{k} (%)")
    ax.legend(title="SFT start")
    ax.set_title(f"Finding 2: gap {gap_before:.1f} -> {gap_after:.1f} points")
    write(run, "finding2", lines, fig)


# ---- finding 3: the temperature that keeps the entropy near 0.3 -------------------------------

def temperature(run):
    tuned = {}
    for path in glob.glob(os.path.join(run, "tune", "**", "tune_temperature.json"), recursive=True):
        t = json.load(open(path))
        tuned.setdefault(t["temperature"], []).append(t["target_entropy"])
    conditions = {}
    for trace, cfg, after in rl_runs(run):
        with h5py.File(trace, "r") as f:
            entropy = f["rl/entropy"][...]
            temps = f["rl/temperature"][...]
            step = f["rl/step"][...]
        if cfg["rl.temperature"] == "auto":
            key = ("auto", float(cfg["rl.target_entropy"]))
        else:
            t = float(cfg["rl.temperature"])
            # The start entropies tuned to this temperature (the job passes it to 4 decimals;
            # two targets share one when the curve's bound is reached).
            targets = sorted(h for tt, hs in tuned.items() if abs(tt - t) < 1e-3 for h in hs)
            key = ("fixed", tuple(targets), t)
        conditions.setdefault(key, []).append(dict(entropy=entropy, temps=temps, step=step, eval=after))
    if not conditions:
        sys.exit(f"{run}: no RL runs")
    same_problems([r["eval"] for runs in conditions.values() for r in runs], run)
    k = next(iter(conditions.values()))[0]["eval"].k
    summary = {}
    for key, runs in conditions.items():
        mean, se, per_problem, se_seeds = seed_mean([r["eval"] for r in runs])
        tail = max(1, len(runs[0]["entropy"]) // 5)
        summary[key] = dict(avg=mean, se=se, per_problem=per_problem, seeds=len(runs), se_seeds=se_seeds,
                            h0=np.mean([r["entropy"][0] for r in runs]),
                            h1=np.mean([r["entropy"][-tail:].mean() for r in runs]),
                            t0=np.mean([r["temps"][0] for r in runs]),
                            t1=np.mean([r["temps"][-1] for r in runs]))

    def label(key):
        if key[0] == "auto":
            return f"auto, target {key[1]:g}"
        tuned_for = ", ".join(f"{h:g}" for h in key[1]) or "not tuned here"
        return f"fixed T = {key[2]:.2f} (start entropy {tuned_for})"

    fixed = sorted((k_ for k_ in summary if k_[0] == "fixed"), key=lambda k_: k_[2])
    auto = sorted((k_ for k_ in summary if k_[0] == "auto"), key=lambda k_: k_[1])
    seeds = min(s["seeds"] for s in summary.values())
    one_seed = (" With one seed per condition the seed-to-seed spread is not measured: the SEs"
                " understate." if seeds < 2 else "")
    lines = [f"# Finding 3: the temperature that keeps the entropy near 0.3\n",
             f"Run directory `{run}`; wall time {wall_time(run)}. GRPO from one SFT start, "
             f"{seeds} seeds per condition; entropy = temperature-adjusted entropy of the sampled "
             f"tokens (trace `rl/entropy`), start = step 1, end = mean of the last fifth; held-out "
             f"avg@{k} at T = 0.6 after RL (%, mean of seeds ± SE).{one_seed}\n",
             "| condition | temperature (start → end) | entropy start → end | avg@k after RL |",
             "|---|---|---|---|"]
    for key in fixed + auto:
        s = summary[key]
        lines.append(f"| {label(key)} | {s['t0']:.2f} → {s['t1']:.2f} | {s['h0']:.3f} → {s['h1']:.3f} | "
                     f"{fmt(s['avg'], s['se'])} |")
    lines.append("")

    def compare(x, y):
        # Paired over the problems (both scored on the same ones), plus each side's seed spread.
        d = summary[x]["avg"] - summary[y]["avg"]
        se = math.hypot(paired_se(summary[x]["per_problem"], summary[y]["per_problem"]),
                        summary[x]["se_seeds"], summary[y]["se_seeds"])
        return d, se

    word = "not run (no fixed temperature tuned to entropy 0.3)"
    mid = [k_ for k_ in fixed if any(abs(h - 0.3) < 1e-9 for h in k_[1])]
    if mid:
        mid = mid[0]
        lower = [k_ for k_ in fixed if k_[2] < mid[2]]
        higher = [k_ for k_ in fixed if k_[2] > mid[2]]
        outcome, diffs = {}, {}
        for o in lower + higher:
            d, se = compare(mid, o)
            outcome[o], diffs[o] = verdict(d, se), d
            lines.append(f"- {label(mid)} minus {label(o)}: {d:+.1f} ± {se:.1f} points ({outcome[o]})")
        if not lower or not higher:
            word = ("not testable: no distinct fixed temperature " +
                    ("below" if not lower else "above") + " the one for entropy 0.3")
        elif all(v == "clearly better" for v in outcome.values()):
            word = "reproduced"
        elif "clearly worse" in outcome.values():
            word = "not reproduced: entropy 0.3 is clearly worse than another fixed temperature"
        elif "clearly better" in outcome.values() and all(d > 0 for d in diffs.values()):
            word = "partly reproduced: entropy 0.3 is clearly better than one side, better within noise than the other"
        elif "clearly better" in outcome.values():
            word = ("not reproduced: entropy 0.3 is clearly better than one side, "
                    "but below the other (within noise)")
        else:
            word = "not reproduced: every difference is within noise"
    if auto:
        best = max(auto, key=lambda k_: summary[k_]["avg"])
        bias = (f"; the best of {len(auto)}, so the difference below is biased in its favour"
                if len(auto) > 1 else "")
        lines.append(f"- Under auto, the best target is {best[1]:g} "
                     f"({fmt(summary[best]['avg'], summary[best]['se'])}{bias})")
        ref = [k_ for k_ in auto if abs(k_[1] - 0.3) < 1e-9]
        if ref and best != ref[0]:
            d, se = compare(best, ref[0])
            lines.append(f"  - target {best[1]:g} minus target 0.3: {d:+.1f} ± {se:.1f} points "
                         f"({verdict(d, se)})")
    lines += ["", f"**Verdict: {word}.**"]

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, keys in ((axes[0], fixed), (axes[1], auto)):
        for key in keys:
            runs = conditions[key]
            n = min(len(r["entropy"]) for r in runs)
            ax.plot(runs[0]["step"][:n], np.mean([r["entropy"][:n] for r in runs], axis=0), label=label(key))
        ax.axhline(0.3, color="gray", ls=":")
        ax.set_xlabel("RL step")
        ax.set_ylabel("temperature-adjusted entropy (mean of seeds)")
        ax.legend(fontsize=8)
    axes[0].set_title("fixed temperatures")
    axes[1].set_title("auto temperature, target swept")
    keys = fixed + auto
    axes[2].errorbar(range(len(keys)), [summary[k_]["avg"] for k_ in keys],
                     yerr=[summary[k_]["se"] for k_ in keys], fmt="o", capsize=3)
    axes[2].set_xticks(range(len(keys)), [("T=%.2f" % k_[2]) if k_[0] == "fixed" else f"auto {k_[1]:g}"
                                          for k_ in keys], rotation=30)
    axes[2].set_ylabel(f"held-out avg@{k} after RL (%)")
    write(run, "finding3", lines, fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("finding", choices=["sft-scaling", "sft-to-rl", "temperature"])
    p.add_argument("run_dir")
    a = p.parse_args()
    {"sft-scaling": sft_scaling, "sft-to-rl": sft_to_rl, "temperature": temperature}[a.finding](a.run_dir)


if __name__ == "__main__":
    main()
