"""test_sslproto: asyncio's SSLProtocol on fastloop.  SslProtoHandshakeTests
gets fastloop through the installed policy; SelectorStartTLSTests builds a
stock SelectorEventLoop in new_loop() and builds a fastloop loop here."""

import fastloop

from .. import runner


class SslProtoSuite(runner.Suite):
    module = "test_sslproto"

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name == "SelectorStartTLSTests":
                classes.append(runner.subclass(cls, new_loop=lambda self: fastloop.new_event_loop()))
            else:
                classes.append(runner.subclass(cls))
        return classes


SUITE = SslProtoSuite()
