"""Run whole CPython test.test_asyncio modules on fastloop and list failures.

    python3 -m tests.cpython.report test_events test_runners
    python3 -m tests.cpython.report --run-excluded test_events
    python3 -m tests.cpython.report --tracebacks -k call_soon test_events
    python3 -m tests.cpython.report test_locks     # a module not in scope yet

A module with a file in suites/ runs as the pytest items do.  Any other
module runs with the default adaptation (fastloop's policy installed,
nothing excluded), which is how to see what it would take to bring a new
module into scope.  --run-excluded also runs the excluded tests and lists
those that pass now, so their exclusions can go.  Run it from the
repository root with the extension built in place.
"""

import argparse
import sys
import time

from . import runner


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tests.cpython.report", description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="CPython test modules (default: every module in scope)")
    parser.add_argument("-k", dest="substring", help="only tests whose id contains this")
    parser.add_argument("--run-excluded", action="store_true", help="run excluded tests too")
    parser.add_argument("--tracebacks", action="store_true", help="print each failure's traceback")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every test as it finishes")
    parser.add_argument("--list-excluded", action="store_true", help="list the excluded tests and their reasons, run nothing")
    args = parser.parse_args(argv)

    if args.modules:
        suites = [runner.suite_for(name) for name in args.modules]
    else:
        suites = runner.suites()

    failed_any = False
    for suite in suites:
        cases = suite.cases()
        if args.substring:
            cases = [c for c in cases if args.substring in c.test_id]
        if args.list_excluded:
            for case in cases:
                if case.excluded is not None:
                    print(f"{case.test_id}: {case.excluded}")
            continue
        failed_any |= _run_suite(suite, cases, args)
    return 1 if failed_any else 0


def _run_suite(suite, cases, args):
    counts = dict.fromkeys(["passed", "failed", "skipped", "excluded"], 0)
    failures, now_passing, loopless = [], [], []
    start = time.monotonic()
    for case in cases:
        if case.excluded is not None and (case.cls is None or not args.run_excluded):
            counts["excluded"] += 1
            continue
        if args.verbose:
            print(f"{case.test_id} ...", end=" ", flush=True)
            began = time.monotonic()
        outcome = runner.run_case(case)
        if args.verbose:
            print(f"{outcome.status} ({time.monotonic() - began:.2f}s)", flush=True)
        if case.excluded is not None:
            counts["excluded"] += 1
            if outcome.status == "passed":
                now_passing.append(case)
            continue
        counts[outcome.status] += 1
        if outcome.status == "failed":
            failures.append((case, outcome))
            if not args.verbose:
                print(f"FAIL {case.test_id}", flush=True)
        elif outcome.status == "passed" and outcome.fastloop_loops == 0:
            loopless.append(case)
    elapsed = time.monotonic() - start

    stale = suite.stale_exclusions(suite.cases())
    print(
        f"== {suite.module} on Python {runner.PY_NAME}: {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['skipped']} skipped by CPython, "
        f"{counts['excluded']} excluded ({elapsed:.1f}s)"
    )
    for case, outcome in failures:
        if args.tracebacks:
            print(f"\n---- {case.test_id}\n{outcome.details}")
        else:
            last = [line for line in outcome.details.strip().splitlines() if line.strip()]
            print(f"  failed: {case.test_id}: {last[-1] if last else ''}")
    for case in now_passing:
        print(f"  excluded but passes now: {case.test_id} ({case.excluded})")
    for case in loopless:
        print(f"  passed without creating a fastloop loop: {case.test_id}")
    for test_id in stale:
        print(f"  stale exclusion (no such test on {runner.PY_NAME}): {test_id}")
    return bool(failures or stale)


if __name__ == "__main__":
    sys.exit(main())
