"""test_sock_lowlevel: the loop's sock_* calls (and create_connection with
sock=) of BaseSockTestsMixin, run on a fastloop loop.

CPython runs BaseSockTestsMixin once per stock selector loop;
FastloopSockTests runs the same tests on fastloop.
"""

import fastloop

from .. import runner

_STOCK = (
    "BaseSockTestsMixin on stock asyncio's {} loop; FastloopSockTests runs the same "
    "tests on fastloop"
)


class SockLowlevelSuite(runner.Suite):
    module = "test_sock_lowlevel"

    not_adapted = {
        "EPollEventLoopTests": _STOCK.format("epoll"),
        "PollEventLoopTests": _STOCK.format("poll"),
        "SelectEventLoopTests": _STOCK.format("select"),
    }

    def adapt(self, module):
        from test.test_asyncio import utils as test_utils

        class FastloopSockTests(module.BaseSockTestsMixin, test_utils.TestCase):
            def create_event_loop(self):
                return fastloop.new_event_loop()

        FastloopSockTests.__module__ = module.__name__
        FastloopSockTests.__qualname__ = "FastloopSockTests"
        classes = [FastloopSockTests]
        for name, cls in runner._testcase_classes(module):
            if name not in self.not_adapted:
                classes.append(runner.subclass(cls))
        return classes


SUITE = SockLowlevelSuite()
