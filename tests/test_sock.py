"""The loop's sock_* coroutines and name resolution, on both loops."""

import asyncio
import gc
import socket
import weakref

import pytest

from netutil import connected_pair, no_fd_leak, run  # noqa: F401


def test_sock_recv_sendall_roundtrip(loop):
    async def main():
        a, b = await connected_pair(loop)
        with a, b:
            recv = loop.create_task(loop.sock_recv(b, 100))
            await asyncio.sleep(0.01)
            assert not recv.done()
            await loop.sock_sendall(a, b"hello")
            assert await recv == b"hello"
            await loop.sock_sendall(a, b"")
            # a large payload goes out in pieces as the peer reads
            payload = bytes(range(256)) * 40000
            send = loop.create_task(loop.sock_sendall(a, payload))
            got = bytearray()
            while len(got) < len(payload):
                got += await loop.sock_recv(b, 65536)
            await send
            assert got == payload
            a.shutdown(socket.SHUT_WR)
            assert await loop.sock_recv(b, 10) == b""

    run(loop, main())


def test_sock_recv_into(loop):
    async def main():
        a, b = await connected_pair(loop)
        with a, b:
            buf = bytearray(10)
            recv = loop.create_task(loop.sock_recv_into(b, buf))
            await asyncio.sleep(0)
            await loop.sock_sendall(a, b"abc")
            assert await recv == 3
            assert buf[:3] == b"abc"
            view = memoryview(buf)[5:]
            await loop.sock_sendall(a, b"0123456789")
            await asyncio.sleep(0.01)
            assert await loop.sock_recv_into(b, view) == 5
            assert buf[5:] == b"01234"

    run(loop, main())


def test_sock_udp_calls(loop):
    async def main():
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with a, b:
            a.setblocking(False)
            b.setblocking(False)
            b.bind(("127.0.0.1", 0))
            a.bind(("127.0.0.1", 0))
            recv = loop.create_task(loop.sock_recvfrom(b, 100))
            await asyncio.sleep(0)
            assert await loop.sock_sendto(a, b"dgram", b.getsockname()) == 5
            assert await recv == (b"dgram", a.getsockname())
            buf = bytearray(3)
            await loop.sock_sendto(a, b"12345", b.getsockname())
            assert await loop.sock_recvfrom_into(b, buf) == (3, a.getsockname())
            assert buf == b"123"
            buf = bytearray(10)
            await loop.sock_sendto(a, b"abcdef", b.getsockname())
            assert await loop.sock_recvfrom_into(b, buf, 2) == (2, a.getsockname())

    run(loop, main())


def test_sock_connect_refused_and_resolved(loop):
    async def main():
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with socket.socket() as s:
            s.setblocking(False)
            with pytest.raises(ConnectionRefusedError):
                await loop.sock_connect(s, ("127.0.0.1", port))
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with listener, socket.socket() as s:
            s.setblocking(False)
            # a name is resolved first
            await loop.sock_connect(s, ("localhost", listener.getsockname()[1]))
            assert s.getpeername()[1] == listener.getsockname()[1]

    run(loop, main())


@pytest.mark.parametrize(
    "call",
    ["sock_recv", "sock_recv_into", "sock_sendall", "sock_connect", "sock_accept"],
)
def test_blocking_socket_rejected_in_debug_mode(loop, call):
    args = {
        "sock_recv": (10,),
        "sock_recv_into": (bytearray(10),),
        "sock_sendall": (b"x",),
        "sock_connect": (("127.0.0.1", 1),),
        "sock_accept": (),
    }[call]
    loop.set_debug(True)

    async def main():
        with socket.socket() as s:
            with pytest.raises(ValueError, match="the socket must be non-blocking"):
                await getattr(loop, call)(s, *args)

    run(loop, main())


def test_ssl_socket_rejected(loop):
    ssl = pytest.importorskip("ssl")

    async def main():
        ctx = ssl.create_default_context()
        with ctx.wrap_socket(socket.socket(), server_hostname="x", do_handshake_on_connect=False) as s:
            with pytest.raises(TypeError, match="Socket cannot be of type SSLSocket"):
                await loop.sock_recv(s, 1)

    run(loop, main())


def test_cancelled_sock_recv_leaves_fd_unwatched(loop):
    async def main():
        a, b = await connected_pair(loop)
        with a, b:
            recv = loop.create_task(loop.sock_recv(b, 10))
            await asyncio.sleep(0.01)
            recv.cancel()
            with pytest.raises(asyncio.CancelledError):
                await recv
            await asyncio.sleep(0)
            # nothing still waits on the fd: a reader can be added and removed
            loop.add_reader(b.fileno(), lambda: None)
            assert loop.remove_reader(b.fileno())
            await loop.sock_sendall(a, b"after")
            assert await loop.sock_recv(b, 10) == b"after"

    run(loop, main())


def test_sock_accept_waits(loop):
    async def main():
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        with listener:
            accept = loop.create_task(loop.sock_accept(listener))
            await asyncio.sleep(0.01)
            assert not accept.done()
            with socket.socket() as c:
                c.setblocking(False)
                await loop.sock_connect(c, listener.getsockname())
                conn, addr = await accept
                conn.close()
                assert addr == c.getsockname()

    run(loop, main())


def test_getaddrinfo_and_getnameinfo(loop):
    async def main():
        infos = await loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        assert infos == socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
        infos = await loop.getaddrinfo("::1", "8080", family=socket.AF_INET6)
        assert infos == socket.getaddrinfo("::1", "8080", family=socket.AF_INET6)
        infos = await loop.getaddrinfo("localhost", None)
        assert infos == socket.getaddrinfo("localhost", None)
        with pytest.raises(socket.gaierror):
            await loop.getaddrinfo("no such host.invalid", 80)
        assert await loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV) == (
            "127.0.0.1",
            "80",
        )

    run(loop, main())


def test_concurrent_recv_and_sendall_on_one_socket(loop):
    async def main():
        a, b = await connected_pair(loop)
        with a, b:
            b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            payload = b"p" * (8 * 1024 * 1024)
            # a's send fills up while a also waits to receive
            recv = loop.create_task(loop.sock_recv(a, 100))
            send = loop.create_task(loop.sock_sendall(a, payload))
            await asyncio.sleep(0.01)
            assert not send.done() and not recv.done()
            await loop.sock_sendall(b, b"reply")
            assert await recv == b"reply"
            got = 0
            while got < len(payload):
                got += len(await loop.sock_recv(b, 1 << 20))
            await send
            assert got == len(payload)

    run(loop, main())


def test_sock_recv_on_a_transport_socket_is_refused(loop):
    async def main():
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        tr, _ = await loop.create_connection(asyncio.Protocol, *server.sockets[0].getsockname())
        sock = tr.get_extra_info("socket")._sock
        with pytest.raises(RuntimeError, match="is used by transport"):
            await loop.sock_recv(sock, 10)
        tr.close()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)

    run(loop, main())


def test_sock_recv_bad_arguments(loop):
    async def main():
        a, b = await connected_pair(loop)
        with a, b:
            with pytest.raises(ValueError, match="negative buffersize in recv"):
                await loop.sock_recv(a, -1)
            with pytest.raises(TypeError):
                await loop.sock_recv(a, "10")
            with pytest.raises(TypeError, match="must be read-write bytes-like object, not bytes"):
                await loop.sock_recv_into(a, b"read-only")
            with pytest.raises(TypeError, match="a bytes-like object is required, not 'str'"):
                await loop.sock_sendall(a, "text")
        with pytest.raises(OSError):
            await loop.sock_recv(a, 10)  # closed socket
        with pytest.raises(OSError):
            await loop.sock_sendall(a, b"x")

    run(loop, main())


def test_sendall_of_a_reused_bytearray_sends_what_was_given(loop):
    async def main():
        a, b = await connected_pair(loop)
        with a, b:
            b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            data = bytearray(b"1" * (4 * 1024 * 1024))
            send = loop.create_task(loop.sock_sendall(a, data))
            await asyncio.sleep(0.01)
            assert not send.done()
            got = bytearray()
            while len(got) < len(data):
                got += await loop.sock_recv(b, 1 << 20)
            await send
            assert got == b"1" * len(data)

    run(loop, main())


def test_cancelled_sock_recv_then_transport(loop):
    """After a cancelled sock_recv, data that arrives later goes to whoever
    reads next (here a transport made on the same socket), not to the
    cancelled call."""

    async def main():
        a, b = await connected_pair(loop)
        with a:
            recv = loop.create_task(loop.sock_recv(b, 10))
            await asyncio.sleep(0.01)
            recv.cancel()
            with pytest.raises(asyncio.CancelledError):
                await recv
            # the data that arrives later is for the transport, not for the
            # cancelled sock_recv
            got = loop.create_future()

            class P(asyncio.Protocol):
                def data_received(self, data):
                    got.set_result(data)

            tr, pr = await loop.connect_accepted_socket(P, b)
            await loop.sock_sendall(a, b"for the transport")
            assert await got == b"for the transport"
            tr.close()
            await asyncio.sleep(0)

    run(loop, main())


def test_cancelled_recv_into_on_a_closed_socket_lets_go_of_the_buffer(loop):
    class Buffer(bytearray):
        pass

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        with b:
            buf = Buffer(100)
            ref = weakref.ref(buf)
            task = loop.create_task(loop.sock_recv_into(a, buf))
            await asyncio.sleep(0)
            a.close()  # closed while the wait is pending, then given up
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del buf, task
            gc.collect()
            await asyncio.sleep(0)
            gc.collect()
            return ref() is None

    assert run(loop, main())
