"""test_sock_lowlevel: the loop's sock_* calls (and create_connection with
sock=) of BaseSockTestsMixin, run on a fastloop loop.

CPython runs BaseSockTestsMixin once per stock selector loop;
FastloopSockTests runs the same tests on fastloop.
"""


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
        tests = runner.fastloop_tests(module, "FastloopSockTests", module.BaseSockTestsMixin)
        return [tests] + super().adapt(module)


SUITE = SockLowlevelSuite()
