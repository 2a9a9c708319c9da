"""Times Hugging Face math-verify on the reward_math benchmark set in one process.

The set is built exactly as make_set() in reward_math_bench.cpp: every row of
tests/reward/math_cases.tsv as a short response and as a long one with a think section. Each item
is parse(response) + parse(\\boxed{reference}) + verify, as a GRPO reward would call it. Runs over
the set (cycling) until --seconds have passed and prints answers/s on stdout.
"""
import argparse
import logging
import os
import time

logging.disable(logging.CRITICAL)
from math_verify import parse, verify  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_set():
    think = "<think>"
    for k in range(60):
        think += f"Step {k}: we try n = {k}, compute 12 * n and compare with \\boxed{{{k}}} so far. "
    think += "</think>\n\n"
    short, long = [], []
    with open(os.path.join(ROOT, "tests", "reward", "math_cases.tsv"), encoding="utf-8") as f:
        for row in f:
            row = row.rstrip("\n")
            if not row or row.startswith("#"):
                continue
            reference, candidate = row.split("\t")[:2]
            short.append(("</think>The answer is $\\boxed{" + candidate + "}$.", reference))
            long.append((think + "Therefore the answer is $\\boxed{" + candidate + "}$.", reference))
    return short + long


def score(response, reference):
    try:
        tail = response.split("</think>")[-1]
        return 1.0 if verify(parse("\\boxed{" + reference + "}"), parse(tail)) else 0.0
    except Exception:
        return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    items = make_set()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        for response, reference in items:
            score(response, reference)
            done += 1
            if time.perf_counter() - start >= args.seconds:
                break
    print(f"{done / (time.perf_counter() - start):.2f}")


if __name__ == "__main__":
    main()
