"""asyncio streams (open_connection, start_server, StreamReader/Writer)
over fastloop's transports, on both loops."""

import asyncio
import os
import sys
import tempfile

import pytest

from netutil import no_fd_leak, run  # noqa: F401


async def echo_handler(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


def test_open_connection_and_start_server(loop):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(50):
            writer.write(b"line %d\n" % i)
            await writer.drain()
            assert await reader.readline() == b"line %d\n" % i
        writer.write_eof()
        assert await reader.read() == b""
        assert reader.at_eof()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_readexactly_readuntil_and_partial_reads(loop):
    async def main():
        async def handler(reader, writer):
            writer.write(b"abc")
            writer.write(b"def--ghi\n")
            writer.write(b"0123456789")
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.readexactly(2) == b"ab"
        assert await reader.readuntil(b"--") == b"cdef--"
        assert await reader.readline() == b"ghi\n"
        with pytest.raises(asyncio.IncompleteReadError) as info:
            await reader.readexactly(20)
        assert info.value.partial == b"0123456789"
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_large_transfer_with_drain(loop):
    size = 16 * 1024 * 1024

    async def main():
        got = loop.create_future()

        async def handler(reader, writer):
            total = 0
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                total += len(data)
            got.set_result(total)
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        chunk = os.urandom(256 * 1024)
        for _ in range(size // len(chunk)):
            writer.write(chunk)
            await writer.drain()
            # drain keeps the buffer at asyncio's high-water mark at most
            assert writer.transport.get_write_buffer_size() <= 65536
        writer.write_eof()
        assert await got == size
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=60)


def test_writer_extra_info_and_closing(loop):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        reader, writer = await asyncio.open_connection(*addr)
        assert writer.get_extra_info("peername") == addr
        assert writer.can_write_eof()
        assert not writer.is_closing()
        writer.close()
        assert writer.is_closing()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_drain_after_peer_reset_raises(loop):
    async def main():
        accepted = loop.create_future()

        async def handler(reader, writer):
            accepted.set_result(writer)

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = await accepted
        peer.transport.abort()
        with pytest.raises((ConnectionError, OSError)):
            for _ in range(1000):
                writer.write(b"x" * 65536)
                await writer.drain()
        writer.close()
        with pytest.raises((ConnectionError, OSError)):
            await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_start_server_serve_forever_cancel(loop):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        task = loop.create_task(server.serve_forever())
        await asyncio.sleep(0)
        assert server.is_serving()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving()

    run(loop, main())


def test_unix_streams(loop):
    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sock")
            server = await asyncio.start_unix_server(echo_handler, path)
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b"over unix\n")
            assert await reader.readline() == b"over unix\n"
            assert writer.get_extra_info("peername") == path
            writer.close()
            await writer.wait_closed()
            server.close()
            await server.wait_closed()

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.Runner(loop_factory) path")
def test_asyncio_run_with_loop_factory(loop_factory):
    async def main():
        server = await asyncio.start_server(echo_handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return line

    assert asyncio.run(main(), loop_factory=loop_factory) == b"x\n"
