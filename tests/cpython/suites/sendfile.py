"""test_sendfile: loop.sock_sendfile and loop.sendfile (asyncio's own code
over fastloop's sockets and transports: native os.sendfile for sockets,
the read-and-write fallback for transports), run on a fastloop loop."""

import fastloop

from .. import runner
from ..reasons import NEEDS_UDP

_STOCK = "SendfileTestsBase on stock asyncio's {} loop; FastloopSendfileTests runs the same tests on fastloop"


class SendfileSuite(runner.Suite):
    module = "test_sendfile"

    not_adapted = {
        "EPollEventLoopTests": _STOCK.format("epoll"),
        "PollEventLoopTests": _STOCK.format("poll"),
        "SelectEventLoopTests": _STOCK.format("select"),
    }

    excluded = {
        "all": {
            "test_sendfile.FastloopSendfileTests.test_sendfile_not_supported": NEEDS_UDP
            + " (it checks that a datagram transport refuses sendfile)",
        },
    }

    def adapt(self, module):
        from test.test_asyncio import utils as test_utils

        class FastloopSendfileTests(module.SendfileTestsBase, test_utils.TestCase):
            def create_event_loop(self):
                return fastloop.new_event_loop()

        FastloopSendfileTests.__module__ = module.__name__
        FastloopSendfileTests.__qualname__ = "FastloopSendfileTests"
        classes = [FastloopSendfileTests]
        for name, cls in runner._testcase_classes(module):
            if name not in self.not_adapted:
                classes.append(runner.subclass(cls))
        return classes


SUITE = SendfileSuite()
