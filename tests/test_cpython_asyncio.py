"""CPython's own test.test_asyncio tests, run against fastloop.

Each CPython test in scope is one pytest item, with the id
"<module>.<class>.<test>" (e.g. "test_events.FastloopEventLoopTests.test_call_soon"),
so `pytest tests/test_cpython_asyncio.py -k call_soon` picks tests as usual.
A failing item shows the CPython test's traceback; an excluded test is a
skip whose message is the reason it is left out; a test CPython itself skips
here is a skip saying so.

Where things live (tests/cpython/):
  suites/<name>.py  one file per CPython module in scope (suites/events.py is
                    test_events): how its tests are made to run on fastloop,
                    which classes only test stock asyncio, and the excluded
                    tests with their reasons, per Python version range;
  runner.py         the machinery (Suite, collect, run_case);
  reasons.py        the wording of the common reasons;
  report.py         `python3 -m tests.cpython.report test_locks` runs whole
                    modules, in scope or not, and lists what fails.

How the tests get fastloop: each suite's adapt() subclasses the CPython
classes so that the loop under test is a fastloop loop: test_events mixes
EventLoopTestsMixin into FastloopEventLoopTests whose create_event_loop()
returns one; test_base_events and test_unix_events replace the setUp() that
builds a stock loop; test_runners' BaseTest.new_loop() returns one; and every
test runs with fastloop.EventLoopPolicy installed (and asyncio's default
policy class building fastloop loops), so asyncio.run() and
asyncio.new_event_loop() inside the tests give fastloop.  Guards keep this
honest: a test that creates a stock asyncio loop fails (unless its suite
allows it as a bystander, with a reason), and so does a test that passes
without creating any fastloop loop (exclude it with reasons.stock_only() if
it only tests stock asyncio).  As under CPython's regrtest, a test also
fails on an altered environment (dangling threads or processes), an
unraisable exception or an exception in a thread, and here on any
ResourceWarning (an unclosed loop, socket or transport).  A stale
exclusion (naming no test on this Python) fails too.

To bring a module into scope: run the report on it, add suites/<name>.py
(copy suites/context.py), and list what cannot pass yet, with reasons.
Modules whose tests drive a Future or Task class on CPython's fake-clock
TestLoop (test_futures, test_tasks) set stock_loops_allowed and override
Suite.check_loops() to check instead that the class under test is fastloop's.
"""

import os
import sys

import pytest

# tests/ is on sys.path under pytest's default import mode; make sure of it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpython import runner  # noqa: E402

del sys.path[0]

_CASES = runner.collect()


def _param(case):
    marks = ()
    if case.excluded is not None:
        marks = (pytest.mark.skip(reason=case.excluded),)
    return pytest.param(case, id=case.test_id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in _CASES])
def test_cpython(case):
    outcome = runner.run_case(case)
    if outcome.status == "failed":
        pytest.fail(f"{case.test_id} failed on fastloop:\n{outcome.details}", pytrace=False)
    if outcome.status == "skipped":
        pytest.skip(reason=outcome.details)


@pytest.mark.parametrize("suite", runner.suites(), ids=lambda suite: suite.module)
def test_exclusions_name_existing_tests(suite):
    stale = suite.stale_exclusions([case for case in _CASES if case.suite is suite])
    assert not stale, f"exclusions that name no test on Python {runner.PY_NAME}: {stale}"
