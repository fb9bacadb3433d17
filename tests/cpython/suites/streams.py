"""test_streams: StreamReader, StreamWriter, open_connection, start_server
and their Unix variants on fastloop loops (CPython's setUp() calls
asyncio.new_event_loop(), which gives fastloop under the installed
policy)."""

from .. import runner
from ..reasons import NEEDS_PIPES

M = "test_streams.StreamTests."


class StreamsSuite(runner.Suite):
    module = "test_streams"

    excluded = {
        "all": {
            M + "test_read_all_from_pipe_reader": NEEDS_PIPES,
        },
    }


SUITE = StreamsSuite()
