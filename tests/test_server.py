"""loop.create_server and the Server object, on both loops."""

import asyncio
import socket
import sys

import pytest

from netutil import Echo, Recorder, no_fd_leak, run  # noqa: F401


async def roundtrip(loop, addr, payload=b"ping"):
    tr, pr = await loop.create_connection(lambda: Recorder(loop), *addr[:2])
    tr.write(payload)
    await pr.wait_data(len(payload))
    tr.close()
    await pr.lost
    return bytes(pr.data)


def test_server_api(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        assert server.get_loop() is loop
        assert server.is_serving()
        (sock,) = server.sockets
        assert sock.family == socket.AF_INET
        addr = sock.getsockname()
        assert await roundtrip(loop, addr) == b"ping"
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()
        await server.wait_closed()
        server.close()  # twice: nothing
        with pytest.raises(OSError):
            await roundtrip(loop, addr)

    run(loop, main())


def test_several_hosts_and_reuse(loop):
    async def main():
        server = await loop.create_server(
            Echo, ["127.0.0.1", "127.0.0.2"], 0, reuse_address=True, reuse_port=True, backlog=5
        )
        assert len(server.sockets) == 2
        hosts = sorted(s.getsockname()[0] for s in server.sockets)
        assert hosts == ["127.0.0.1", "127.0.0.2"]
        for s in server.sockets:
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
            assert await roundtrip(loop, s.getsockname()) == b"ping"
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_start_serving_false(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0, start_serving=False)
        assert not server.is_serving()
        addr = server.sockets[0].getsockname()
        await server.start_serving()
        assert server.is_serving()
        assert await roundtrip(loop, addr) == b"ping"
        await server.start_serving()  # again: nothing
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_async_context_manager(loop):
    async def main():
        async with await loop.create_server(Echo, "127.0.0.1", 0) as server:
            addr = server.sockets[0].getsockname()
            assert await roundtrip(loop, addr) == b"ping"
        assert not server.is_serving()

    run(loop, main())


def test_serve_forever(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0, start_serving=False)
        task = loop.create_task(server.serve_forever())
        await asyncio.sleep(0)
        assert server.is_serving()
        with pytest.raises(RuntimeError, match="already being awaited"):
            await server.serve_forever()
        addr = server.sockets[0].getsockname()
        assert await roundtrip(loop, addr) == b"ping"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving()
        with pytest.raises(RuntimeError, match="is closed"):
            await server.serve_forever()

    run(loop, main())


def test_server_sock_argument(loop):
    async def main():
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = await loop.create_server(Echo, sock=sock)
        assert server.sockets[0].fileno() == sock.fileno()
        assert await roundtrip(loop, sock.getsockname()) == b"ping"
        server.close()
        await server.wait_closed()
        assert sock.fileno() == -1

    run(loop, main())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(host="127.0.0.1", port=0, sock=True), ValueError, "host/port and sock"),
        (dict(), ValueError, "Neither host/port nor sock were specified"),
        (dict(host="127.0.0.1", port=0, ssl=True), TypeError, "ssl argument must be an SSLContext"),
        (dict(host="127.0.0.1", port=0, ssl_handshake_timeout=1), ValueError, "only meaningful"),
        (dict(sock="dgram"), ValueError, "A Stream Socket was expected"),
    ],
)
def test_create_server_bad_arguments(loop, kwargs, error, match):
    socks = []
    if kwargs.get("sock") is True:
        kwargs["sock"] = socket.socket()
        socks.append(kwargs["sock"])
    elif kwargs.get("sock") == "dgram":
        kwargs["sock"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks.append(kwargs["sock"])

    async def main():
        with pytest.raises(error, match=match):
            await loop.create_server(Echo, **kwargs)

    try:
        run(loop, main())
    finally:
        for s in socks:
            s.close()


def test_address_in_use(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(OSError, match="address already in use|Address already in use"):
            await loop.create_server(Echo, "127.0.0.1", port, reuse_address=False)
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_wait_closed_waits_for_connections(loop):
    async def main():
        conns = []

        class Keep(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                conns.append(self)

        server = await loop.create_server(lambda: Keep(loop), "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        tr, pr = await loop.create_connection(lambda: Recorder(loop), *addr)
        while not conns:
            await asyncio.sleep(0.001)
        server.close()
        waiter = loop.create_task(server.wait_closed())
        await asyncio.sleep(0.02)
        if sys.version_info >= (3, 12):
            # 3.12 and later wait for the connections to go as well
            assert not waiter.done()
        conns[0].transport.close()
        await waiter
        tr.close()
        await pr.lost

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 13), reason="close_clients/abort_clients are 3.13+")
@pytest.mark.parametrize("how", ["close_clients", "abort_clients"])
def test_close_and_abort_clients(loop, how):
    async def main():
        server = await loop.create_server(lambda: Recorder(loop), "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        clients = []
        for _ in range(3):
            clients.append(await loop.create_connection(lambda: Recorder(loop), *addr))
        await asyncio.sleep(0.02)
        server.close()
        getattr(server, how)()
        await server.wait_closed()
        for tr, pr in clients:
            await pr.lost
            tr.close()

    run(loop, main())


def test_many_connections_at_once(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=200)
        addr = server.sockets[0].getsockname()
        results = await asyncio.gather(*[roundtrip(loop, addr, b"%d" % i) for i in range(150)])
        assert results == [b"%d" % i for i in range(150)]
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=30)


def test_protocol_factory_error_does_not_stop_server(loop):
    async def main():
        calls = []

        def factory():
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("first one fails")
            return Echo()

        server = await loop.create_server(factory, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        tr, pr = await loop.create_connection(lambda: Recorder(loop), *addr)
        await pr.lost  # the server dropped it
        tr.close()
        assert await roundtrip(loop, addr) == b"ping"
        server.close()
        await server.wait_closed()

    run(loop, main())
