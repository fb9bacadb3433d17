"""test_server: asyncio.start_server / start_unix_server and the Server
object on fastloop.

SelectorStartServerTests builds a stock SelectorEventLoop in new_loop();
here it builds a fastloop loop.  The IsolatedAsyncioTestCase classes
(3.12+: TestServer2, 3.13+: UnixServerCleanupTests) get fastloop through
the installed policy.
"""

import fastloop

from .. import runner


class ServerSuite(runner.Suite):
    module = "test_server"

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name in self.not_adapted:
                continue
            if name == "SelectorStartServerTests":
                classes.append(runner.subclass(cls, new_loop=lambda self: fastloop.new_event_loop()))
            else:
                classes.append(runner.subclass(cls))
        return classes


SUITE = ServerSuite()
