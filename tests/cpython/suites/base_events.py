"""test_base_events: the public-API tests of BaseEventLoopTests and
BaseEventLoopWithSelectorTests, run on a fastloop loop.

CPython runs them on a bare BaseEventLoop with a mocked selector (or on a
SelectorEventLoop); here setUp() makes a fastloop loop instead.  Tests that
inspect that loop's internals (_ready, _scheduled, _selector...) are
excluded as such.

Several tests check what the loop logs by patching
asyncio.base_events.logger, the module global stock asyncio's loop logs
through.  fastloop logs to the same "asyncio" logger object, but through
its own module globals; while these tests run, those globals forward to
whatever asyncio.base_events.logger is at the time, so the patch sees
fastloop's log calls too.
"""

import asyncio.base_events
import contextlib
import sys

import fastloop

from .. import runner
from ..reasons import NEEDS_UDP, internals, not_asyncio_future, stock_only

M = "test_base_events."
B = M + "BaseEventLoopTests."
S = M + "BaseEventLoopWithSelectorTests."

NOT_ASYNCIO_HANDLE = (
    "asserts isinstance(handle, asyncio.Handle / asyncio.TimerHandle): fastloop's "
    "Handle and TimerHandle are C types with asyncio's API but do not derive from "
    "asyncio's Python classes (uvloop's do not either)"
)


class _BaseEventsLogger:
    def __getattr__(self, name):
        return getattr(asyncio.base_events.logger, name)


def _fastloop_modules():
    return [
        module
        for name, module in sys.modules.items()
        if name.startswith("fastloop.") and getattr(module, "logger", None) is asyncio.log.logger
    ]


def _setup(self):
    # test_utils.TestCase.setUp, then a fastloop loop where CPython's setUp
    # builds a stock one.
    from test.test_asyncio import utils as test_utils

    test_utils.TestCase.setUp(self)
    self.loop = fastloop.new_event_loop()
    self.set_event_loop(self.loop)


class _NoNativeSendfileLoop(fastloop.Loop):
    # What BaseLoopSockSendfileTests wants of its loop: no os.sendfile(), so
    # sock_sendfile() takes asyncio's read-and-send fallback.
    _sock_sendfile_native = asyncio.base_events.BaseEventLoop._sock_sendfile_native


def _setup_no_native_sendfile(self):
    # CPython's setUp with a fastloop loop in place of BaseSelectorEventLoop().
    from test.support import os_helper
    from test.test_asyncio import utils as test_utils

    self.loop = _NoNativeSendfileLoop()
    self.set_event_loop(self.loop)
    self.file = open(os_helper.TESTFN, "rb")
    self.addCleanup(self.file.close)
    test_utils.TestCase.setUp(self)


class BaseEventsSuite(runner.Suite):
    module = "test_base_events"

    not_adapted = {
        "BaseEventTests": "tests the module helper base_events._ipaddr_info; no loop is created",
        "TestSelectorUtils": "tests the module helper base_events._set_nodelay; no loop is created",
    }

    excluded = {
        "all": {
            B + "test_call_soon": NOT_ASYNCIO_HANDLE,
            B + "test_call_later": NOT_ASYNCIO_HANDLE,
            B + "test_set_task_factory": not_asyncio_future("the task create_task() makes without a factory"),
            B + "test__add_callback_handle": internals("loop._add_callback, loop._ready"),
            B + "test__add_callback_cancelled_handle": internals("loop._add_callback, loop._ready"),
            B + "test__run_once": internals("loop._scheduled, loop._selector"),
            B + "test__run_once_schedule_handle": internals("loop._scheduled, loop._selector"),
            B + "test__run_once_cancelled_event_cleanup": internals(
                "loop._scheduled, loop._timer_cancelled_count"
            ),
            B + "test_not_implemented": internals(
                "the transport factory hooks loop._make_socket_transport and friends"
            ),
            B + "test_run_forever_pre_stopped": internals("loop._selector.select"),
            B + "test_single_selecter_event_callback_after_stopping": internals(
                "loop._selector.select, loop._process_events"
            ),
            B + "test_create_task": stock_only(
                "asyncio.ensure_future on a BaseEventLoop subclass with its own create_task"
            ),
            B + "test_default_exc_handler_broken": stock_only(
                "a BaseEventLoop subclass overriding default_exception_handler"
            ),
            B + "test_run_until_complete_loop": "the loop under test is the stock TestLoop "
            "(a fastloop future is handed to it); stock asyncio only",
            S + "test_accept_connection_exception": internals("loop._accept_connection"),
            S + "test_accept_connection_retry": internals("loop._accept_connection"),
            S + "test_create_datagram_endpoint_addr_error": NEEDS_UDP,
            S + "test_create_datagram_endpoint_allow_broadcast": NEEDS_UDP,
            S + "test_create_datagram_endpoint_cant_bind": NEEDS_UDP,
            S + "test_create_datagram_endpoint_connect_err": NEEDS_UDP,
            S + "test_create_datagram_endpoint_existing_sock_unix": NEEDS_UDP,
            S + "test_create_datagram_endpoint_ip_addr": NEEDS_UDP,
            S + "test_create_datagram_endpoint_no_addrinfo": NEEDS_UDP,
            S + "test_create_datagram_endpoint_no_matching_family": NEEDS_UDP,
            S + "test_create_datagram_endpoint_noaddr_nofamily": NEEDS_UDP,
            S + "test_create_datagram_endpoint_nosoreuseport": NEEDS_UDP,
            S + "test_create_datagram_endpoint_setblk_err": NEEDS_UDP,
            S + "test_create_datagram_endpoint_sock": NEEDS_UDP,
            S + "test_create_datagram_endpoint_sock_sockopts": NEEDS_UDP,
            S + "test_create_datagram_endpoint_sock_unix": NEEDS_UDP,
            S + "test_create_datagram_endpoint_socket_err": NEEDS_UDP,
            S + "test_create_datagram_endpoint_sockopts": NEEDS_UDP,
            S + "test_create_datagram_endpoint_wrong_sock": NEEDS_UDP,
        },
        ">=3.13": {
            B + "test_custom_run_forever_integration": internals(
                "the 3.13 hooks loop._run_forever_setup / _run_forever_cleanup that "
                "let GUI toolkits drive BaseEventLoop._run_once themselves"
            ),
        },
    }

    stock_loops_allowed_in = {
        "all": {
            B + "test_check_thread": "the other thread's current loop is a bystander "
            "BaseEventLoop; the loop whose thread checks run is fastloop",
        },
    }

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name in self.not_adapted:
                continue
            if name in ("BaseEventLoopTests", "BaseEventLoopWithSelectorTests"):
                classes.append(runner.subclass(cls, setUp=_setup))
            elif name == "BaseLoopSockSendfileTests":
                classes.append(runner.subclass(cls, setUp=_setup_no_native_sendfile))
            else:
                classes.append(runner.subclass(cls))
        return classes

    @contextlib.contextmanager
    def environment(self):
        modules = _fastloop_modules()
        proxy = _BaseEventsLogger()
        for module in modules:
            module.logger = proxy
        try:
            with super().environment():
                yield
        finally:
            for module in modules:
                module.logger = asyncio.log.logger


SUITE = BaseEventsSuite()
