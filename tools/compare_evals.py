"""Compares two `acerl eval` reports (e.g. after SFT and after RL): avg@k with standard errors, the
difference, and whether it exceeds twice the standard error of the difference.

  python tools/compare_evals.py BEFORE.json AFTER.json [--labels SFT RL]
"""
import argparse
import json
import math


def main():
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--labels", nargs=2, default=["before", "after"])
    a = p.parse_args()
    before = json.load(open(a.before))["benchmarks"]
    after = {b["file"]: b for b in json.load(open(a.after))["benchmarks"]}
    for b in before:
        c = after[b["file"]]
        k = json.load(open(a.before))["k"]
        diff = c["avg_at_k"] - b["avg_at_k"]
        se = math.sqrt(b["standard_error"] ** 2 + c["standard_error"] ** 2)
        print(f"{b['file']}: {b['problems']} held-out problems, {k} samples each")
        for label, r in zip(a.labels, (b, c)):
            print(f"  {label:>6}: avg@{k} {r['avg_at_k']:.4f} +- {r['standard_error']:.4f} (SE)"
                  f"   pass@{k} {r['pass_at'][str(k)]:.4f}   reasons {r['reasons']}")
        verdict = "larger" if diff > 2 * se else "NOT larger"
        print(f"  {a.labels[1]} - {a.labels[0]}: {diff:+.4f}; twice its standard error {2 * se:.4f}: the gain is {verdict}")


if __name__ == "__main__":
    main()
