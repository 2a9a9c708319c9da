"""The check-and-count helpers the job test scripts share (batch_tests.py, experiment_tests.py):
every check prints ok or FAILED with what it checked, and the script ends with exit 1 when any
failed."""
import sys

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def finish(case):
    """Prints the case's outcome and exits 1 if a check failed, 0 otherwise."""
    print(f"{case}: {'FAILED ' + str(len(failures)) + ' check(s)' if failures else 'passed'}")
    sys.exit(1 if failures else 0)
