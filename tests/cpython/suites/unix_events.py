"""test_unix_events: what of it concerns a loop rather than stock asyncio's
Unix classes: TestFunctional (add_reader/add_writer argument checks),
TestFork (3.12+: the loop in a forked child) and the Unix socket tests of
SelectorEventLoopUnixSocketTests, run on a fastloop loop.

The other classes are unit tests of stock asyncio's own Unix code (its
signal plumbing with the signal module mocked, its pipe transports on mock
loops, its child watchers and policy) and are not run.
"""

import fastloop

from .. import runner

M = "test_unix_events."
U = M + "SelectorEventLoopUnixSocketTests."

_STOCK_UNIT = "unit tests of stock asyncio's {} with mocks; no fastloop code runs"


def _setup(self):
    # test_utils.TestCase.setUp, then a fastloop loop where CPython's setUp
    # builds asyncio.SelectorEventLoop.
    from test.test_asyncio import utils as test_utils

    test_utils.TestCase.setUp(self)
    self.loop = fastloop.new_event_loop()
    self.set_event_loop(self.loop)


class UnixEventsSuite(runner.Suite):
    module = "test_unix_events"

    not_adapted = {
        "SelectorEventLoopSignalTests": _STOCK_UNIT.format(
            "signal handling (_check_signal, _handle_signal, _signal_handlers, "
            "asyncio.unix_events.signal patched)"
        )
        + "; fastloop's signal handlers run test_events' signal tests",
        "SelectorEventLoopUnixSockSendfileTests": "sock_sendfile over Unix sockets on "
        "stock SelectorEventLoop internals (_sock_sendfile_native, _sock_add_cancellation_callback)",
        "UnixReadPipeTransportTests": _STOCK_UNIT.format("_UnixReadPipeTransport"),
        "UnixWritePipeTransportTests": _STOCK_UNIT.format("_UnixWritePipeTransport"),
        "AbstractChildWatcherTests": _STOCK_UNIT.format("AbstractChildWatcher"),
        "BaseChildWatcherTests": _STOCK_UNIT.format("BaseChildWatcher"),
        "SafeChildWatcherTests": _STOCK_UNIT.format("SafeChildWatcher"),
        "FastChildWatcherTests": _STOCK_UNIT.format("FastChildWatcher"),
        "PolicyTests": _STOCK_UNIT.format("Unix event loop policy (child watchers)"),
    }

    excluded = {
        "all": {
        },
        "<3.13": {
        },
        ">=3.13": {
        },
        ">=3.12": {
        },
    }

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name in self.not_adapted:
                continue
            if name == "SelectorEventLoopUnixSocketTests":
                classes.append(runner.subclass(cls, setUp=_setup))
            else:
                classes.append(runner.subclass(cls))
        return classes


SUITE = UnixEventsSuite()
