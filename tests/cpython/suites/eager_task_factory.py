"""test_eager_task_factory (3.12+) on fastloop loops.

Run with fastloop's policy installed, so the loops the tests make are
fastloop loops.  CPython's classes run as they are, with asyncio's own Task
classes (asyncio.eager_task_factory makes asyncio Tasks, on any loop); and
each class that takes its Task class as a parameter runs once more with
fastloop.Task.
"""

import fastloop

from .. import runner


class Suite(runner.Suite):
    module = "test_eager_task_factory"
    versions = ">=3.12"

    def adapt(self, module):
        classes = super().adapt(module)
        for origin, name in [
            (module.PyEagerTaskFactoryLoopTests, "FastloopEagerTaskFactoryLoopTests"),
            (module.NonEagerPyTaskTests, "NonEagerFastloopTaskTests"),
            (module.EagerPyTaskTests, "EagerFastloopTaskTests"),
        ]:
            classes.append(runner.subclass(origin, name, Task=fastloop.Task))
        return classes


SUITE = Suite()
