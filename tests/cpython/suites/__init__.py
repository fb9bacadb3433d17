"""One file per CPython test module in scope.

Each file defines SUITE, an instance of runner.Suite subclassed for that
module: how its tests are made to run on fastloop (adapt()), which classes
only test stock asyncio (not_adapted) and which tests are left out and why
(excluded, per Python version range).  A new file here is picked up by
tests/test_cpython_asyncio.py and by report.py without further wiring.
"""
