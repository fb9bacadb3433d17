"""Pipe transports: loop.connect_read_pipe / connect_write_pipe, on both
loops."""

import asyncio
import os
import tempfile

import pytest

from netutil import Recorder, no_fd_leak, run  # noqa: F401


def test_read_pipe_delivers_data_then_eof(loop):
    async def main():
        rfd, wfd = os.pipe()
        pipe = open(rfd, "rb", 0)
        transport, protocol = await loop.connect_read_pipe(lambda: Recorder(loop), pipe)
        assert transport.get_extra_info("pipe") is pipe
        assert transport.is_reading()
        os.write(wfd, b"hello ")
        os.write(wfd, b"world")
        os.close(wfd)
        assert await protocol.lost is None
        return bytes(protocol.data), protocol.events[0], protocol.events[-2:], pipe.closed

    data, first, last, closed = run(loop, main())
    assert data == b"hello world"
    assert first == "made"
    assert last == ["eof", "lost"]
    assert closed


def test_read_pipe_pause_and_resume(loop):
    async def main():
        rfd, wfd = os.pipe()
        transport, protocol = await loop.connect_read_pipe(
            lambda: Recorder(loop), open(rfd, "rb", 0))
        transport.pause_reading()
        assert not transport.is_reading()
        os.write(wfd, b"held")
        for _ in range(5):
            await asyncio.sleep(0.01)
        held = bytes(protocol.data)
        transport.resume_reading()
        os.close(wfd)
        await protocol.lost
        return held, bytes(protocol.data)

    assert run(loop, main()) == (b"", b"held")


def test_write_pipe_writes_and_closes(loop):
    async def main():
        rfd, wfd = os.pipe()
        transport, protocol = await loop.connect_write_pipe(
            lambda: Recorder(loop), open(wfd, "wb", 0))
        assert transport.can_write_eof()
        transport.write(b"abc")
        transport.writelines([b"def", bytearray(b"ghi")])
        transport.write_eof()
        assert await protocol.lost is None
        with open(rfd, "rb") as reader:
            return reader.read()

    assert run(loop, main()) == b"abcdefghi"


def test_write_pipe_buffers_a_big_write_and_drains_it(loop):
    data = os.urandom(4 * 1024 * 1024)

    async def main():
        rfd, wfd = os.pipe()
        transport, protocol = await loop.connect_write_pipe(
            lambda: Recorder(loop), open(wfd, "wb", 0))
        reader_transport, reader = await loop.connect_read_pipe(
            lambda: Recorder(loop), open(rfd, "rb", 0))
        transport.write(data)
        # More than a pipe holds: the rest waits in the transport.
        assert transport.get_write_buffer_size() > 0
        transport.close()
        assert await protocol.lost is None
        assert await reader.lost is None
        return protocol.paused, bytes(reader.data)

    paused, received = run(loop, main(), timeout=30)
    assert paused == 1
    assert received == data


def test_write_pipe_reader_gone_loses_the_connection(loop):
    async def main():
        rfd, wfd = os.pipe()
        transport, protocol = await loop.connect_write_pipe(
            lambda: Recorder(loop), open(wfd, "wb", 0))
        os.close(rfd)
        transport.write(b"x" * 100)
        exc = await protocol.lost
        return type(exc), transport.is_closing()

    assert run(loop, main()) == (BrokenPipeError, True)


def test_a_regular_file_is_refused(loop):
    async def main():
        with tempfile.TemporaryFile() as f:
            with pytest.raises(ValueError, match="Pipe transport is"):
                await loop.connect_read_pipe(asyncio.Protocol, f)
            with pytest.raises(ValueError, match="Pipe transport is"):
                await loop.connect_write_pipe(asyncio.Protocol, f)

    run(loop, main())


def test_streams_over_a_pipe(loop):
    async def main():
        rfd, wfd = os.pipe()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), open(rfd, "rb", 0))
        os.write(wfd, b"line one\nline two\n")
        os.close(wfd)
        lines = [await reader.readline(), await reader.readline(), await reader.readline()]
        transport.close()
        return lines

    assert run(loop, main()) == [b"line one\n", b"line two\n", b""]


def test_a_closed_fd_is_refused(loop):
    async def main():
        rfd, wfd = os.pipe()
        pipe = open(rfd, "rb", 0)
        os.close(wfd)
        os.close(rfd)
        try:
            with pytest.raises(OSError) as info:
                await loop.connect_read_pipe(asyncio.Protocol, pipe)
            return info.value.errno
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    import errno
    assert run(loop, main()) == errno.EBADF
