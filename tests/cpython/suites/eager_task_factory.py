"""test_eager_task_factory (3.12+) on fastloop loops.

Run with fastloop's policy installed, so the loops the tests make are
fastloop loops.  The tasks are still asyncio's own here.
"""

from .. import runner


class Suite(runner.Suite):
    module = "test_eager_task_factory"
    versions = ">=3.12"


SUITE = Suite()
