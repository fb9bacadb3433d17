"""test_context: contextvars (decimal's context) across tasks under asyncio.run().

Run with fastloop's policy installed, so asyncio.run() makes fastloop loops.
"""

from .. import runner


class ContextSuite(runner.Suite):
    module = "test_context"


SUITE = ContextSuite()
