"""test_subprocess on fastloop loops: asyncio.create_subprocess_exec/_shell
and loop.subprocess_exec/_shell with each of asyncio's child watchers.

The SubprocessMixin tests build their loop with the policy's
new_event_loop(); run with fastloop's policy installed, that is a fastloop
loop, and the child watcher under test is attached to it.
"""

from .. import runner

_STOCK_UNIT = "unit test of stock asyncio's {} on a mock loop; no fastloop code runs"


class Suite(runner.Suite):
    module = "test_subprocess"

    not_adapted = {
        "SubprocessTransportTests": _STOCK_UNIT.format("BaseSubprocessTransport"),
        # 3.12+
        "MultiLoopChildWatcherTests": "checks that creating asyncio's MultiLoopChildWatcher "
        "warns of its deprecation; no loop is created",
    }


SUITE = Suite()
