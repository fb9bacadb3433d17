"""test_runners: asyncio.run() and asyncio.Runner on fastloop.

The module's BaseTest installs a policy whose loops come from its new_loop(),
a stock BaseEventLoop with a mocked selector.  Here new_loop() makes a
fastloop loop instead, keeping the one thing BaseTest.tearDown checks on it:
that asyncio.run() / Runner called shutdown_asyncgens() (fastloop's own, not
a stub as in CPython).
"""

import fastloop

from .. import runner
from ..reasons import stock_only


def _new_loop(self):
    loop = fastloop.new_event_loop()
    loop.shutdown_ag_run = False
    shutdown_asyncgens = loop.shutdown_asyncgens

    async def tracked_shutdown_asyncgens():
        loop.shutdown_ag_run = True
        await shutdown_asyncgens()

    loop.shutdown_asyncgens = tracked_shutdown_asyncgens
    return loop


class RunnersSuite(runner.Suite):
    module = "test_runners"

    excluded = {
        "all": {
            "test_runners.RunnerTests.test_custom_factory": stock_only(
                "asyncio.Runner handing out the mock returned by its loop_factory"
            ),
        },
        ">=3.13": {
            "test_runners.RunTests.test_loop_factory_default_event_loop": "creates "
            "stock asyncio.EventLoop on purpose: it checks asyncio's own default loop "
            "class, whichever loop the program otherwise uses",
        },
    }

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name in self.not_adapted:
                continue
            if issubclass(cls, module.BaseTest):
                classes.append(runner.subclass(cls, new_loop=_new_loop))
            else:
                classes.append(runner.subclass(cls))
        return classes


SUITE = RunnersSuite()
