"""test_protocols: in scope, but it only checks that asyncio's protocol base
classes have their default methods; no loop is involved."""

from .. import runner


class ProtocolsSuite(runner.Suite):
    module = "test_protocols"

    not_adapted = {
        "ProtocolsAbsTests": "checks the methods of asyncio's protocol base classes "
        "(BaseProtocol, Protocol, BufferedProtocol, DatagramProtocol, SubprocessProtocol) "
        "with mocks; no event loop is created, so it proves nothing about fastloop",
    }


SUITE = ProtocolsSuite()
