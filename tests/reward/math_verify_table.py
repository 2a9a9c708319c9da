"""Runs Hugging Face math-verify on every row of math_cases.tsv (or a TSV given as argv[1]).

Each answer is wrapped as \\boxed{...} and parsed with math_verify.parse (its default LaTeX and
expression extraction), then verify(gold, prediction). Prints one line per data row, in order:
"1" (equivalent), "0" (not equivalent) or "E" (math-verify raised). Used by the [math] test that
lists where our checker and math-verify disagree.
"""
import logging
import os
import sys

logging.disable(logging.CRITICAL)
from math_verify import parse, verify  # noqa: E402


def verdict(reference: str, candidate: str) -> str:
    try:
        gold = parse("\\boxed{" + reference + "}")
        pred = parse("\\boxed{" + candidate + "}")
        return "1" if verify(gold, pred) else "0"
    except Exception:  # math-verify's own timeouts and parser errors
        return "E"


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "math_cases.tsv")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            out.append(verdict(fields[0], fields[1]))
    print("\n".join(out))


if __name__ == "__main__":
    main()
