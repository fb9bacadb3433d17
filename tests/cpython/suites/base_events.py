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
from ..reasons import NEEDS_SSL, NEEDS_TCP, NEEDS_UDP, internals, needs, not_asyncio_future, stock_only

M = "test_base_events."
B = M + "BaseEventLoopTests."
S = M + "BaseEventLoopWithSelectorTests."

NOT_ASYNCIO_HANDLE = (
    "asserts isinstance(handle, asyncio.Handle / asyncio.TimerHandle): fastloop's "
    "Handle and TimerHandle are C types with asyncio's API but do not derive from "
    "asyncio's Python classes (uvloop's do not either)"
)
NEEDS_GETNAMEINFO = needs("loop.getaddrinfo / loop.getnameinfo")


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


class BaseEventsSuite(runner.Suite):
    module = "test_base_events"

    not_adapted = {
        "BaseEventTests": "tests the module helper base_events._ipaddr_info; no loop is created",
        "TestSelectorUtils": "tests the module helper base_events._set_nodelay; no loop is created",
        "BaseLoopSockSendfileTests": "tests sock_sendfile's read-and-send fallback on a stock "
        "BaseSelectorEventLoop that has no native sendfile; to be adapted with fastloop's "
        "sock_sendfile (" + NEEDS_TCP + ")",
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
            S + "test_getnameinfo": NEEDS_GETNAMEINFO,
            S + "test_create_connection_bluetooth": NEEDS_TCP,
            S + "test_create_connection_connect_err": NEEDS_TCP,
            S + "test_create_connection_host_port_sock": NEEDS_TCP,
            S + "test_create_connection_ip_addr": NEEDS_TCP,
            S + "test_create_connection_ipv6_scope": NEEDS_TCP,
            S + "test_create_connection_multiple": NEEDS_TCP,
            S + "test_create_connection_multiple_errors": NEEDS_TCP,
            S + "test_create_connection_multiple_errors_local_addr": NEEDS_TCP,
            S + "test_create_connection_no_getaddrinfo": NEEDS_TCP,
            S + "test_create_connection_no_host_port_sock": NEEDS_TCP,
            S + "test_create_connection_no_inet_pton": NEEDS_TCP,
            S + "test_create_connection_no_local_addr": NEEDS_TCP,
            S + "test_create_connection_service_name": NEEDS_TCP,
            S + "test_create_connection_timeout": NEEDS_TCP,
            S + "test_create_connection_wrong_sock": NEEDS_TCP,
            S + "test_create_connection_no_ssl_server_hostname_errors": NEEDS_SSL,
            S + "test_create_connection_ssl_server_hostname_default": NEEDS_SSL,
            S + "test_create_connection_ssl_server_hostname_errors": NEEDS_SSL,
            S + "test_create_connection_ssl_timeout_for_plain_socket": NEEDS_SSL,
            S + "test_create_server_cant_bind": NEEDS_TCP,
            S + "test_create_server_empty_host": NEEDS_TCP,
            S + "test_create_server_host_port_sock": NEEDS_TCP,
            S + "test_create_server_ipv6": NEEDS_TCP,
            S + "test_create_server_no_getaddrinfo": NEEDS_TCP,
            S + "test_create_server_no_host_port_sock": NEEDS_TCP,
            S + "test_create_server_nosoreuseport": NEEDS_TCP,
            S + "test_create_server_soreuseport_only_defined": NEEDS_TCP,
            S + "test_create_server_stream_bittype": NEEDS_TCP,
            S + "test_create_server_wrong_sock": NEEDS_TCP,
            S + "test_create_server_ssl_timeout_for_plain_socket": NEEDS_SSL,
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
