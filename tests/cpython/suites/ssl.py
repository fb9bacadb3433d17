"""test_ssl: TLS through asyncio's sslproto over fastloop's transports
(CPython's setUp() calls asyncio.new_event_loop(), which gives fastloop
under the installed policy)."""

from .. import runner


class SslSuite(runner.Suite):
    module = "test_ssl"


SUITE = SslSuite()
