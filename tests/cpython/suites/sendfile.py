"""test_sendfile: loop.sock_sendfile and loop.sendfile (asyncio's own code
over fastloop's sockets and transports: native os.sendfile for sockets,
the read-and-write fallback for transports), run on a fastloop loop."""


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
        tests = runner.fastloop_tests(module, "FastloopSendfileTests", module.SendfileTestsBase)
        return [tests] + super().adapt(module)


SUITE = SendfileSuite()
