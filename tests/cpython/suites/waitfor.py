"""test_waitfor on fastloop loops.

Run with fastloop's policy installed, so the loops that asyncio.run(),
asyncio.Runner and IsolatedAsyncioTestCase make are fastloop loops.  The
futures and tasks are fastloop's: loop.create_future() and loop.create_task()
make fastloop.Future and fastloop.Task.
"""

from .. import runner


class Suite(runner.Suite):
    module = "test_waitfor"


SUITE = Suite()
