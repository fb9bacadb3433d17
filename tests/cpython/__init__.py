"""CPython's own test.test_asyncio tests, run against fastloop.

runner.py holds the machinery; suites/ has one file per CPython test module
in scope, saying how that module is made to run on fastloop and which of its
tests are left out, each with its reason; report.py runs whole modules from
the command line.  tests/test_cpython_asyncio.py turns all of it into pytest
items.
"""
