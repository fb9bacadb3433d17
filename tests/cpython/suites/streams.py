"""test_streams: StreamReader, StreamWriter, open_connection, start_server
and their Unix variants on fastloop loops (CPython's setUp() calls
asyncio.new_event_loop(), which gives fastloop under the installed
policy)."""

from .. import runner


class StreamsSuite(runner.Suite):
    module = "test_streams"


SUITE = StreamsSuite()
