#!/usr/bin/env python3
"""Where the time of profiled steps goes, op by op, from the Chrome traces that
`run.profile_steps` writes (<run.dir>/profile/<command>_rank<R>.json).

For each phase (the acerl::... scopes: generate, score, learn, forward_backward, optimizer, ...)
it prints the phase's wall time and the operators that spent it, by self time (an operator's time
minus the operators it called), with calls and the share of the phase; "(outside operators)" is
the phase time no operator accounts for (acerl's own C++, MPI waits, the sandbox, allocation).
Nested phases are reported on their own and excluded from the enclosing one.

  python tools/profile_table.py RUN_DIR/profile/rl_rank0.json [--top 12] [--markdown]
"""
import argparse
import collections
import json
import sys


def load_events(path):
    with open(path) as f:
        trace = json.load(f)
    return [e for e in trace.get("traceEvents", [])
            if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "user_annotation")]


def is_phase(e):
    return e["cat"] == "user_annotation" and e["name"].startswith("acerl::")


def phase_table(events):
    """{phase: {"wall": us, "ops": {name: [calls, self_us]}}} and the profiled wall time (us)."""
    phases = collections.defaultdict(lambda: {"wall": 0.0, "ops": collections.defaultdict(
        lambda: [0, 0.0])})
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[e.get("tid")].append(e)
    begin, end = float("inf"), 0.0
    for evs in by_thread.values():
        # Parents first: earlier start, and at equal starts the longer one.
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, end_ts, child_us, phase]
        def close(item):
            e, _, child, phase = item
            if is_phase(e):  # its own time: nested phases are reported on their own
                phases[e["name"]]["wall"] += e["dur"] - child
                return
            op = phases[phase]["ops"][e["name"]]
            op[0] += 1
            op[1] += max(0.0, e["dur"] - child)
        for e in evs:
            ts, dur = e["ts"], e["dur"]
            begin, end = min(begin, ts), max(end, ts + dur)
            while stack and stack[-1][1] <= ts:
                close(stack.pop())
            if stack and stack[-1][0]["cat"] == "cpu_op":
                stack[-1][2] += dur  # time inside an operator counts once
            if is_phase(e):
                enclosing = next((s for s in reversed(stack) if is_phase(s[0])), None)
                if enclosing:
                    enclosing[2] += dur
            phase = stack[-1][3] if stack else "(no phase)"
            if is_phase(e):
                phase = e["name"]
            stack.append([e, ts + dur, 0.0, phase])
        while stack:
            close(stack.pop())
    return phases, max(0.0, end - begin)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("trace", nargs="+", help="profile JSON file(s) of one rank each")
    p.add_argument("--top", type=int, default=12, help="operators listed per phase")
    a = p.parse_args()
    for path in a.trace:
        events = load_events(path)
        if not events:
            print(f"{path}: no operator events (was run.profile_steps set?)", file=sys.stderr)
            return 1
        phases, wall = phase_table(events)
        print(f"## {path}\n\nprofiled wall time {wall / 1e3:.1f} ms\n")
        print("| phase | operator | calls | self ms | share of phase |")
        print("|---|---|---:|---:|---:|")
        for name in sorted(phases, key=lambda n: -phases[n]["wall"]):
            ph = phases[name]
            total = ph["wall"] if ph["wall"] > 0 else sum(v[1] for v in ph["ops"].values())
            print(f"| **{name}** | (wall) | | {total / 1e3:.1f} | 100% |")
            ops = sorted(ph["ops"].items(), key=lambda kv: -kv[1][1])
            for op, (calls, self_us) in ops[:a.top]:
                print(f"| | {op} | {calls} | {self_us / 1e3:.1f} | {100 * self_us / total:.1f}% |")
            rest = sum(v[1] for _, v in ops[a.top:])
            if rest > 0:
                print(f"| | ({len(ops) - a.top} more operators) | | {rest / 1e3:.1f} | "
                      f"{100 * rest / total:.1f}% |")
            if ph["wall"] > 0:
                outside = ph["wall"] - sum(v[1] for v in ph["ops"].values())
                print(f"| | (outside operators) | | {outside / 1e3:.1f} | "
                      f"{100 * outside / total:.1f}% |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
