"""test_events: the loop API tests of EventLoopTestsMixin, run on fastloop.

CPython runs EventLoopTestsMixin (with SubprocessTestsMixin) once per stock
selector; FastloopEventLoopTests runs the same tests on a fastloop loop.
"""


from .. import runner
from ..reasons import (
    NEEDS_UDP,
    internals,
    stock_only,
)

M = "test_events."
F = M + "FastloopEventLoopTests."


class EventsSuite(runner.Suite):
    module = "test_events"

    not_adapted = {
        "EPollEventLoopTests": "EventLoopTestsMixin on stock asyncio's epoll loop; "
        "FastloopEventLoopTests runs the same tests on fastloop",
        "PollEventLoopTests": "EventLoopTestsMixin on stock asyncio's poll loop; "
        "FastloopEventLoopTests runs the same tests on fastloop",
        "SelectEventLoopTests": "EventLoopTestsMixin on stock asyncio's select loop; "
        "FastloopEventLoopTests runs the same tests on fastloop",
        "TimerTests": "builds asyncio.TimerHandle by hand on a mock loop; fastloop's "
        "TimerHandle is made only by its loop's call_later/call_at",
        "AbstractEventLoopTests": "checks that asyncio.AbstractEventLoop's methods "
        "raise NotImplementedError; no loop is created",
    }

    excluded = {
        "all": {
            # Datagrams.
            F + "test_create_datagram_endpoint": NEEDS_UDP,
            F + "test_create_datagram_endpoint_ipv6": NEEDS_UDP,
            F + "test_create_datagram_endpoint_sock": NEEDS_UDP,
            # Stock asyncio's loop internals.
            F + "test_internal_fds": internals(
                "the self-pipe: _internal_fds, _csock, _ssock; fastloop wakes up "
                "through an eventfd"
            ),
            F + "test_timeout_rounding": internals(
                "it counts calls of loop._run_once and reports loop._selector; "
                "fastloop's iterations run in C"
            ),
            # Tests that never create a loop.
            M + "HandleTests.test_callback_with_exception": stock_only(
                "asyncio.Handle built by hand on a mock loop"
            ),
            M + "HandleTests.test_coroutine_like_object_debug_formatting": stock_only(
                "asyncio.coroutines._format_coroutine"
            ),
            M + "HandleTests.test_handle": stock_only("asyncio.Handle built by hand on a mock loop"),
            M + "HandleTests.test_handle_repr": stock_only(
                "asyncio.Handle built by hand on a mock loop"
            ),
            M + "HandleTests.test_handle_repr_debug": stock_only(
                "asyncio.Handle built by hand on a mock loop"
            ),
            M + "HandleTests.test_handle_weakref": stock_only(
                "asyncio.Handle built by hand on a mock loop"
            ),
            M + "PolicyTests.test_event_loop_policy": stock_only(
                "asyncio.AbstractEventLoopPolicy's NotImplementedError stubs"
            ),
            M + "PolicyTests.test_get_event_loop_after_set_none": stock_only(
                "asyncio's default policy after set_event_loop(None)"
            ),
            M + "PolicyTests.test_get_event_loop_policy": stock_only("asyncio.get_event_loop_policy"),
            M + "PolicyTests.test_get_event_loop_thread": stock_only(
                "asyncio's default policy in a thread without a loop"
            ),
            M + "PolicyTests.test_set_event_loop_policy": stock_only("asyncio.set_event_loop_policy"),
            M + "TestAbstractServer.test_close": stock_only(
                "asyncio.AbstractServer's NotImplementedError stubs"
            ),
            M + "TestAbstractServer.test_get_loop": stock_only(
                "asyncio.AbstractServer's NotImplementedError stubs"
            ),
        },
        ">=3.12": {
        },
        ">=3.13": {
            F + "test_datagram_send_to_non_listening_address": NEEDS_UDP,
        },
    }

    def adapt(self, module):
        # Mirror EPollEventLoopTests: the Unix mixin (which attaches a child
        # watcher on 3.11-3.13) where the module has it.
        mixin = getattr(module, "UnixEventLoopTestsMixin", module.EventLoopTestsMixin)

        tests = runner.fastloop_tests(module, "FastloopEventLoopTests", mixin,
                                      module.SubprocessTestsMixin)
        return [tests] + super().adapt(module)


SUITE = EventsSuite()
