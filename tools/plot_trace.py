"""Plots an acerl HDF5 trace with h5py + matplotlib: SFT loss / learning rate, or the RL entropy
story (temperature, temperature-adjusted entropy and its target, accuracy, the H(T) curve).

  python tools/plot_trace.py TRACE.h5 OUT.png [--phase sft|rl]
"""
import argparse

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_sft(g, axes):
    axes[0].plot(g["step"][...], g["loss"][...], label="train loss")
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[1].plot(g["step"][...], g["lr"][...], label="lr")
    axes[1].plot(g["step"][...], g["tokens_per_s"][...] / g["tokens_per_s"][...].max(), label="tokens/s (rel.)")
    axes[1].legend()


def plot_rl(g, axes):
    step = g["step"][...]
    axes[0].plot(step, g["temperature"][...], label="temperature")
    axes[0].plot(step, g["entropy"][...], label="entropy at T")
    axes[0].axhline(0.3, color="gray", ls=":", label="target 0.3")
    for name in ("accuracy/math", "accuracy/code"):
        if name in g:
            axes[0].plot(step, g[name][...], label=name)
    axes[0].set_xlabel("step")
    axes[0].legend()
    grid = g["entropy_grid"][0]
    curve = g["entropy_curve"][...]
    for i in np.linspace(0, len(step) - 1, min(5, len(step))).astype(int):
        axes[1].plot(grid, curve[i], marker="o", label=f"step {step[i]}")
    axes[1].set_xlabel("T'")
    axes[1].set_ylabel("H(T') of the sampled tokens")
    axes[1].legend()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("out")
    p.add_argument("--phase", default="rl")
    a = p.parse_args()
    with h5py.File(a.trace, "r") as f:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        (plot_rl if a.phase == "rl" else plot_sft)(f[a.phase], axes)
        fig.suptitle(f"{a.trace} [{a.phase}]")
        fig.tight_layout()
        fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
