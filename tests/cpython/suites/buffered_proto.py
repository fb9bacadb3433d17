"""test_buffered_proto: asyncio.BufferedProtocol over create_connection, on
fastloop (BufferedProtocolSelectorTests builds a fastloop loop in
new_loop() instead of a stock SelectorEventLoop)."""

import fastloop

from .. import runner


class BufferedProtoSuite(runner.Suite):
    module = "test_buffered_proto"

    def adapt(self, module):
        classes = []
        for name, cls in runner._testcase_classes(module):
            if name == "BufferedProtocolSelectorTests":
                classes.append(runner.subclass(cls, new_loop=lambda self: fastloop.new_event_loop()))
            else:
                classes.append(runner.subclass(cls))
        return classes


SUITE = BufferedProtoSuite()
