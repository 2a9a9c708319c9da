"""A run directory's traces as pictures and a short text summary (h5py + matplotlib).

  python tools/report.py RUN_DIR [--out DIR]

Finds every acerl trace under RUN_DIR (trace.h5 of sft/rl runs; eval reports eval.json) and
writes, into --out (default RUN_DIR/report):
  <name>_sft.png   loss, learning rate, gradient norm, throughput
  <name>_rl.png    reward and accuracy per task type, temperature and entropy, the H(T') heat
                   map over steps, response length and truncation, groups kept/dropped, step
                   time split into generate / score / learn
  summary.txt      the numbers a user checks first (also printed)
where <name> is the trace's directory relative to RUN_DIR (a chain's RUN_DIR/rl -> "rl").
`acerl trace FILE` stays the quick terminal view.
"""
import argparse
import json
import sys
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_phase(group):
    """{name: array} for every dataset of a phase, nested groups as "a/b"."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[...]

    group.visititems(visit)
    return out


def sft_figure(d, title, path):
    step = d["step"]
    fig, ax = plt.subplots(2, 2, figsize=(11, 7))
    ax[0, 0].plot(step, d["loss"], label="train loss")
    if "eval_loss" in d:
        ax[0, 0].plot(step, d["eval_loss"], label="held-out loss")
    ax[0, 0].set_ylabel("loss")
    ax[0, 0].legend()
    ax[0, 1].plot(step, d["lr"])
    ax[0, 1].set_ylabel("learning rate")
    ax[1, 0].plot(step, d["grad_norm"])
    ax[1, 0].set_ylabel("gradient norm (before clipping)")
    ax[1, 1].plot(step, d["tokens_per_s"])
    ax[1, 1].set_ylabel("tokens/s")
    for a in ax.flat:
        a.set_xlabel("step")
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rl_figure(d, title, path):
    step = d["step"]
    fig, ax = plt.subplots(3, 2, figsize=(12, 11))
    a = ax[0, 0]
    for key in sorted(k for k in d if k.startswith("reward/") or k.startswith("accuracy/")):
        a.plot(step, d[key], label=key, ls="-" if key.startswith("reward") else "--")
    a.set_ylabel("per task type")
    a.legend(fontsize=8)
    a = ax[0, 1]
    a.plot(step, d["temperature"], label="temperature")
    a.plot(step, d["entropy"], label="entropy at T (per token)")
    a.legend(fontsize=8)
    a = ax[1, 0]
    curve, grid = d["entropy_curve"], d["entropy_grid"][0]
    im = a.imshow(curve.T, aspect="auto", origin="lower", cmap="viridis",
                  extent=[step[0] - 0.5, step[-1] + 0.5, -0.5, len(grid) - 0.5])
    a.set_yticks(range(len(grid)))
    a.set_yticklabels([f"{t:g}" for t in grid])
    a.set_ylabel("T'")
    a.set_title("H(T') of the sampled tokens", fontsize=9)
    fig.colorbar(im, ax=a)
    a = ax[1, 1]
    a.plot(step, d["response_length_mean"], label="mean length")
    a.plot(step, d["response_length_max"], label="max length", alpha=0.6)
    a.set_ylabel("tokens")
    b = a.twinx()
    b.plot(step, d["truncation_rate"], color="tab:red", label="truncated")
    b.set_ylabel("truncation rate")
    a.legend(fontsize=8, loc="upper left")
    b.legend(fontsize=8, loc="upper right")
    a = ax[2, 0]
    a.bar(step, d["groups_kept"], label="groups kept")
    a.bar(step, d["groups_dropped"], bottom=d["groups_kept"], label="groups dropped")
    a.legend(fontsize=8)
    a = ax[2, 1]
    gen, score, learn = d["time_generate"], d["time_score"], d["time_learn"]
    a.stackplot(step, gen, score, learn, labels=["generate", "score", "learn"])
    a.set_ylabel("seconds per step")
    a.legend(fontsize=8, loc="upper left")
    for a in ax.flat:
        a.set_xlabel("step")
    if "stage" in d and len(np.unique(d["stage"])) > 1:
        for s in np.flatnonzero(np.diff(d["stage"])) + 1:
            for a in ax.flat:
                a.axvline(step[s] - 0.5, color="gray", ls=":", lw=1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summarize_sft(name, d):
    s = d["step"]
    tps = d["tokens_per_s"][1:] if len(s) > 1 else d["tokens_per_s"]
    lines = [f"{name}: sft, {len(s)} steps (last {int(s[-1])}), loss {d['loss'][0]:.4f} -> "
             f"{d['loss'][-1]:.4f}, median {np.median(tps):.0f} tokens/s, "
             f"{int(d['skipped'].sum()) if 'skipped' in d else 0} skipped steps"]
    return lines


def summarize_rl(name, d):
    s = d["step"]
    n = len(s)
    tail = slice(max(0, n - max(1, n // 4)), n)  # the last quarter of the steps
    parts = [f"{name}: rl, {n} steps (last {int(s[-1])})"]
    if "stage" in d:
        parts.append(f"{len(np.unique(d['stage']))} stage(s)")
    # Steps without a prompt of a type have NaN for it.
    mean = lambda x: f"{np.nanmean(x):.3f}" if np.isfinite(x).any() else "n/a"  # noqa: E731
    for key in sorted(k for k in d if k.startswith("accuracy/")):
        parts.append(f"{key} {mean(d[key][:max(1, n // 4)])} (first quarter) -> "
                     f"{mean(d[key][tail])} (last quarter)")
    parts.append(f"T {d['temperature'][0]:.3f} -> {d['temperature'][-1]:.3f}")
    parts.append(f"entropy {d['entropy'][0]:.3f} -> {d['entropy'][-1]:.3f}")
    total = d["time_generate"] + d["time_score"] + d["time_learn"]
    if total.sum() > 0:
        parts.append("time " + ", ".join(
            f"{k} {100 * d['time_' + k].sum() / total.sum():.0f}%" for k in ("generate", "score", "learn")))
    parts.append(f"groups dropped {int(d['groups_dropped'].sum())} of "
                 f"{int(d['groups_dropped'].sum() + d['groups_kept'].sum())}")
    return [", ".join(parts)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out")
    a = p.parse_args()
    run = Path(a.run_dir)
    if not run.is_dir():
        sys.exit(f"report: {run} is not a directory")
    out = Path(a.out) if a.out else run / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary, written = [], []
    for trace in sorted(run.rglob("trace.h5")):
        rel = trace.parent.relative_to(run)
        name = "run" if str(rel) == "." else str(rel).replace("/", "_")
        with h5py.File(trace, "r") as f:
            for phase, figure, summarize in (("sft", sft_figure, summarize_sft),
                                             ("rl", rl_figure, summarize_rl)):
                if phase not in f or "step" not in f[phase] or len(f[phase]["step"]) == 0:
                    continue
                d = read_phase(f[phase])
                png = out / f"{name}_{phase}.png"
                figure(d, f"{trace} ({phase})", png)
                written.append(png)
                summary += summarize(name, d)
    for report in sorted(run.rglob("eval.json")):
        r = json.loads(report.read_text())
        for b in r.get("benchmarks", []):
            summary.append(f"{report.parent.relative_to(run)}: eval {Path(b['file']).name}, "
                           f"{b['problems']} problems, avg@{r['k']} {b['avg_at_k']:.4f} +- "
                           f"{b['standard_error']:.4f} (SE), model {Path(r['model']).name}")
    if not summary:
        sys.exit(f"report: no acerl trace (trace.h5) or eval.json under {run}")
    text = "\n".join(summary) + "\n"
    (out / "summary.txt").write_text(text)
    print(text, end="")
    for png in written:
        print(f"wrote {png}")
    print(f"wrote {out / 'summary.txt'}")


if __name__ == "__main__":
    main()
