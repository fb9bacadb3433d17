"""TCP transports: protocol callbacks, writing, closing, flow control,
extra info.  Every test runs on stock asyncio and on fastloop."""

import asyncio
import socket
import sys

import pytest

from netutil import Captured, Echo, Errors, NeverReads, Recorder, connected_pair, no_fd_leak, run, tcp_pair  # noqa: F401


def test_echo_and_callback_order(loop):
    async def main():
        client = None

        def factory():
            nonlocal client
            client = Recorder(loop)
            return client

        server, tr, pr = await tcp_pair(loop, Echo, factory)
        assert pr is client
        assert pr.events == ["made"]
        tr.write(b"hello ")
        tr.write(bytearray(b"world"))
        tr.write(memoryview(b"!!"))
        await pr.wait_data(13)
        assert bytes(pr.data) == b"hello world!!"
        tr.write_eof()
        assert await pr.lost is None
        assert pr.events == ["made", "data", "eof", "lost"]
        assert tr.is_closing()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_transport_is_an_asyncio_transport(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        assert isinstance(tr, asyncio.Transport)
        assert isinstance(tr, asyncio.WriteTransport)
        assert tr.get_protocol() is pr
        assert tr.can_write_eof() is True
        assert tr.is_reading()
        assert not tr.is_closing()
        assert "fd=" in repr(tr)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_extra_info(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        sock = tr.get_extra_info("socket")
        assert sock.family == socket.AF_INET
        assert sock.type == socket.SOCK_STREAM
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert tr.get_extra_info("sockname") == sock.getsockname()
        assert tr.get_extra_info("peername") == server.sockets[0].getsockname()
        assert tr.get_extra_info("nope") is None
        assert tr.get_extra_info("nope", 42) == 42
        assert tr.get_extra_info(name="nope", default=7) == 7
        with pytest.raises(TypeError):
            tr.get_extra_info()
        tr.close()
        # still answered after closing
        assert tr.get_extra_info("peername") == server.sockets[0].getsockname()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_server_side_extra_info_and_nodelay(loop):
    async def main():
        made = loop.create_future()

        class P(asyncio.Protocol):
            def connection_made(self, transport):
                made.set_result(transport)

        server, tr, pr = await tcp_pair(loop, P, lambda: Recorder(loop))
        st = await made
        assert st.get_extra_info("peername") == tr.get_extra_info("sockname")
        assert st.get_extra_info("sockname") == tr.get_extra_info("peername")
        assert st.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        tr.close()
        st.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_write_errors(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        with pytest.raises(TypeError, match="data argument must be a bytes-like object, not 'str'"):
            tr.write("text")
        with pytest.raises(TypeError):
            tr.write(12)
        tr.write(b"")  # nothing, no error
        tr.write_eof()
        with pytest.raises(RuntimeError, match=r"Cannot call write\(\) after write_eof\(\)"):
            tr.write(b"x")
        tr.write_eof()  # second time: nothing
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_writelines(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        tr.writelines([b"a", bytearray(b"bc"), memoryview(b"def")])
        tr.writelines([])
        big = [bytes([i % 256]) * 50000 for i in range(20)]
        tr.writelines(big)
        want = b"abcdef" + b"".join(big)
        await pr.wait_data(len(want))
        assert bytes(pr.data) == want
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_close_flushes_then_connection_lost_once(loop):
    payload = bytes(range(256)) * 32768  # 8 MiB: more than the socket buffers take

    async def main():
        class Sender(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.write(payload)
                transport.close()
                assert transport.is_closing()
                transport.close()  # twice: nothing more

        server_side = Captured(lambda: Sender(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        assert await pr.lost is None
        assert bytes(pr.data) == payload
        assert await server_side.protocol.lost is None
        assert server_side.protocol.events.count("lost") == 1
        assert server_side.protocol.transport.get_write_buffer_size() == 0
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_abort_discards_buffer(loop):
    async def main():
        class Aborter(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.write(b"x" * (4 * 1024 * 1024))
                transport.abort()
                assert transport.get_write_buffer_size() == 0
                assert transport.is_closing()
                transport.abort()
                transport.close()

        server_side = Captured(lambda: Aborter(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        assert await server_side.protocol.lost is None
        assert [e for e in server_side.protocol.events if e != "pause_writing"] == ["made", "lost"]
        await pr.lost
        assert len(pr.data) < 4 * 1024 * 1024
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_connection_lost_is_scheduled_not_immediate(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        tr.close()
        assert "lost" not in pr.events
        await asyncio.sleep(0)
        assert pr.events[-1] == "lost"
        server.close()
        await server.wait_closed()

    run(loop, main())


@pytest.mark.parametrize("keep_open", [False, None, 0, True, 1])
def test_eof_received_result(loop, keep_open):
    async def main():
        server_side = Captured(lambda: Recorder(loop, eof_result=keep_open))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write_eof()
        await server_side.protocol.eof
        if keep_open:
            # half-closed: the server can still send
            await asyncio.sleep(0.01)
            assert not server_side.protocol.transport.is_closing()
            server_side.protocol.transport.write(b"after eof")
            await pr.wait_data(9)
            server_side.protocol.transport.close()
        else:
            assert server_side.protocol.transport.is_closing()
        assert await server_side.protocol.lost is None
        assert await pr.lost is None
        assert server_side.protocol.events == ["made", "eof", "lost"]
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_pause_and_resume_reading(loop):
    async def main():
        class Paused(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.pause_reading()
                assert not transport.is_reading()
                transport.pause_reading()  # twice: nothing

        server_side = Captured(lambda: Paused(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"data")
        await asyncio.sleep(0.05)
        assert server_side.protocol.data == b""
        st = server_side.protocol.transport
        st.resume_reading()
        assert st.is_reading()
        st.resume_reading()
        await server_side.protocol.wait_data(4)
        assert server_side.protocol.data == b"data"
        st.close()
        assert not st.is_reading()
        st.resume_reading()  # closing: nothing
        assert not st.is_reading()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_flow_control_with_a_peer_that_never_reads(loop):
    async def main():
        server_side = Captured(lambda: NeverReads(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        assert tr.get_write_buffer_limits() == (16384, 65536)
        chunk = b"z" * 65536
        written = 0
        while not pr.paused:
            tr.write(chunk)
            written += len(chunk)
            await asyncio.sleep(0)
            assert written < 64 * 1024 * 1024, "pause_writing never came"
        assert tr.get_write_buffer_size() > 65536
        assert pr.events.count("pause_writing") == 1
        # the peer starts reading: the buffer drains, resume_writing follows
        server_side.protocol.transport.resume_reading()
        while not pr.resumed:
            await asyncio.sleep(0.001)
        assert tr.get_write_buffer_size() <= 16384
        await server_side.protocol.wait_data(written)
        assert len(server_side.protocol.data) == written
        tr.close()
        await pr.lost
        server_side.protocol.transport.close()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_set_write_buffer_limits(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        tr.set_write_buffer_limits(high=1000)
        assert tr.get_write_buffer_limits() == (250, 1000)
        tr.set_write_buffer_limits(low=100)
        assert tr.get_write_buffer_limits() == (100, 400)
        tr.set_write_buffer_limits(2000, 10)
        assert tr.get_write_buffer_limits() == (10, 2000)
        tr.set_write_buffer_limits()
        assert tr.get_write_buffer_limits() == (16384, 65536)
        with pytest.raises(ValueError, match=r"high \(1\) must be >= low \(2\) must be >= 0"):
            tr.set_write_buffer_limits(high=1, low=2)
        with pytest.raises(ValueError):
            tr.set_write_buffer_limits(high=-1)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_set_protocol(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        other = Recorder(loop)
        tr.set_protocol(other)
        assert tr.get_protocol() is other
        tr.write(b"ping")
        await other.wait_data(4)
        assert pr.data == b""
        tr.close()
        assert await other.lost is None
        assert not pr.lost.done()
        server.close()
        await server.wait_closed()

    run(loop, main())


class Buffered(asyncio.BufferedProtocol):
    def __init__(self, loop, size=7):
        self.buf = bytearray(size)
        self.received = bytearray()
        self.sizehints = []
        self.lost = loop.create_future()
        self.eof = False

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        self.sizehints.append(sizehint)
        return self.buf

    def buffer_updated(self, nbytes):
        self.received += self.buf[:nbytes]

    def eof_received(self):
        self.eof = True

    def connection_lost(self, exc):
        self.lost.set_result(exc)


def test_buffered_protocol(loop):
    payload = bytes(range(256)) * 400

    async def main():
        client = Buffered(loop)
        server, tr, pr = await tcp_pair(loop, Echo, lambda: client)
        tr.write(payload)
        tr.write_eof()
        assert await client.lost is None
        assert client.received == payload
        assert client.eof
        assert set(client.sizehints) == {-1}
        server.close()
        await server.wait_closed()

    run(loop, main())


@pytest.mark.parametrize("bad", ["empty", "raises", "not_a_buffer"])
def test_buffered_protocol_bad_get_buffer(loop, bad):
    async def main():
        errors = Errors(loop)
        client = Buffered(loop)

        def get_buffer(sizehint):
            if bad == "empty":
                return bytearray()
            if bad == "raises":
                raise ZeroDivisionError
            return 42

        client.get_buffer = get_buffer
        server, tr, pr = await tcp_pair(loop, Echo, lambda: client)
        tr.write(b"hello")
        exc = await client.lost
        assert exc is not None
        assert len(errors.contexts) == 1
        context = errors.contexts[0]
        if bad == "not_a_buffer":
            assert isinstance(exc, TypeError)
        else:
            assert context["message"] == "Fatal error: protocol.get_buffer() call failed."
            assert isinstance(exc, RuntimeError if bad == "empty" else ZeroDivisionError)
        assert context["transport"] is tr
        assert context["protocol"] is client
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_data_received_raises(loop):
    async def main():
        errors = Errors(loop)

        class Bad(Recorder):
            def data_received(self, data):
                super().data_received(data)
                raise ValueError("boom")

        client = Bad(loop)
        server, tr, pr = await tcp_pair(loop, Echo, lambda: client)
        tr.write(b"x")
        exc = await client.lost
        assert isinstance(exc, ValueError)
        assert errors.messages == ["Fatal error: protocol.data_received() call failed."]
        assert errors.contexts[0]["exception"] is exc
        assert tr.is_closing()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_eof_received_raises(loop):
    async def main():
        errors = Errors(loop)

        class Bad(Recorder):
            def eof_received(self):
                raise ValueError("boom")

        server_side = Captured(lambda: Bad(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write_eof()
        exc = await server_side.protocol.lost
        assert isinstance(exc, ValueError)
        assert errors.messages == ["Fatal error: protocol.eof_received() call failed."]
        tr.close()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_pause_writing_raises(loop):
    async def main():
        errors = Errors(loop)

        class Bad(Recorder):
            def pause_writing(self):
                raise ValueError("pause")

        server_side = Captured(lambda: NeverReads(loop))

        client = Bad(loop)
        server, tr, pr = await tcp_pair(loop, server_side, lambda: client)
        tr.set_write_buffer_limits(high=1)
        tr.write(b"x" * (8 * 1024 * 1024))
        assert errors.messages == ["protocol.pause_writing() failed"]
        assert not tr.is_closing()
        tr.abort()
        await client.lost
        server_side.protocol.transport.close()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_close_inside_data_received(loop):
    async def main():
        class Closer(Recorder):
            def data_received(self, data):
                super().data_received(data)
                self.transport.close()
                self.transport.write(b"ignored")

        server_side = Captured(lambda: Closer(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"a" * 100000)
        assert await server_side.protocol.lost is None
        assert server_side.protocol.events == ["made", "data", "lost"]
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_abort_inside_data_received(loop):
    async def main():
        class Aborter(Recorder):
            def data_received(self, data):
                super().data_received(data)
                self.transport.abort()
                self.transport.abort()

        server_side = Captured(lambda: Aborter(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"a" * 100000)
        assert await server_side.protocol.lost is None
        assert server_side.protocol.events == ["made", "data", "lost"]
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_stop_loop_inside_data_received(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        return server, tr, pr

    server, tr, pr = run(loop, main())

    def stop(data):
        pr.data += data
        loop.stop()

    pr.data_received = stop
    tr.write(b"ping")
    loop.run_forever()
    assert pr.data == b"ping"

    async def finish():
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, finish())


def test_create_connection_sock_argument(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        addr = server.sockets[0].getsockname()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, addr)
        tr, pr = await loop.create_connection(lambda: Recorder(loop), sock=sock)
        assert tr.get_extra_info("socket").fileno() == sock.fileno()
        tr.write(b"abc")
        await pr.wait_data(3)
        tr.close()
        await pr.lost
        assert sock.fileno() == -1
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_create_connection_refused(loop):
    async def main():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)

    run(loop, main())


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(host="127.0.0.1", port=1, sock=socket.socket), ValueError),
        (dict(), ValueError),
        (dict(host="127.0.0.1", port=1, server_hostname="x"), ValueError),
        (dict(host="127.0.0.1", port=1, ssl_handshake_timeout=1), ValueError),
        (dict(host="127.0.0.1", port=1, happy_eyeballs_delay=-1, interleave=0), None),
    ],
)
def test_create_connection_bad_arguments(loop, kwargs, error):
    if "sock" in kwargs:
        kwargs["sock"] = sock = socket.socket()
    else:
        sock = None

    async def main():
        if error is None:
            # a valid combination: reaches the connect, which is refused
            with pytest.raises(OSError):
                await loop.create_connection(asyncio.Protocol, **kwargs)
        else:
            with pytest.raises(error):
                await loop.create_connection(asyncio.Protocol, **kwargs)

    try:
        run(loop, main())
    finally:
        if sock is not None:
            sock.close()


def test_create_connection_wrong_socket_type(loop):
    async def main():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match="A Stream Socket was expected"):
                await loop.create_connection(asyncio.Protocol, sock=sock)

    run(loop, main())


def test_create_connection_local_addr(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            local_port = probe.getsockname()[1]
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port, local_addr=("127.0.0.1", local_port)
        )
        assert tr.get_extra_info("sockname") == ("127.0.0.1", local_port)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="all_errors is new in 3.12")
def test_create_connection_all_errors(loop):
    async def main():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with pytest.raises(ExceptionGroup):
            await loop.create_connection(asyncio.Protocol, "127.0.0.1", port, all_errors=True)

    run(loop, main())


def test_happy_eyeballs_localhost(loop):
    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), "localhost", port, happy_eyeballs_delay=0.05, interleave=1,
            family=socket.AF_INET,
        )
        tr.write(b"hi")
        await pr.wait_data(2)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_add_reader_on_a_transport_fd_is_refused(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        fd = tr.get_extra_info("socket").fileno()
        with pytest.raises(RuntimeError, match="is used by transport"):
            loop.add_reader(fd, lambda: None)
        with pytest.raises(RuntimeError, match="is used by transport"):
            loop.add_writer(fd, lambda: None)
        with pytest.raises(RuntimeError, match="is used by transport"):
            loop.remove_reader(fd)
        with pytest.raises(RuntimeError, match="is used by transport"):
            loop.remove_writer(fd)
        tr.close()
        # closing: allowed again, as in asyncio
        assert loop.remove_reader(fd) is False
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_connect_accepted_socket(loop):
    async def main():
        client, conn = await connected_pair(loop)
        tr, pr = await loop.connect_accepted_socket(lambda: Recorder(loop), conn)
        await loop.sock_sendall(client, b"hello")
        await pr.wait_data(5)
        tr.write(b"back")
        assert await loop.sock_recv(client, 10) == b"back"
        tr.close()
        await pr.lost
        client.close()

    run(loop, main())


def test_context_of_protocol_callbacks(loop):
    import contextvars

    var = contextvars.ContextVar("var", default="unset")

    async def main():
        seen = []

        class P(Recorder):
            def data_received(self, data):
                seen.append(var.get())
                super().data_received(data)

        server = await loop.create_server(Echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        var.set("creator")
        tr, pr = await loop.create_connection(lambda: P(loop), "127.0.0.1", port)
        var.set("changed later")
        tr.write(b"x")
        await pr.wait_data(1)
        assert seen == ["creator"]
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_pause_reading_inside_data_received(loop):
    async def main():
        class Pauser(Recorder):
            def data_received(self, data):
                super().data_received(data)
                self.transport.pause_reading()

        server_side = Captured(lambda: Pauser(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"a")
        await server_side.protocol.wait_data(1)
        tr.write(b"b" * 1000)
        await asyncio.sleep(0.05)
        assert server_side.protocol.data == b"a"  # nothing more while paused
        server_side.protocol.transport.resume_reading()
        await server_side.protocol.wait_data(1001)
        server_side.protocol.transport.close()
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_set_protocol_inside_data_received(loop):
    async def main():
        second = Recorder(loop)
        class Switcher(Recorder):
            def data_received(self, data):
                super().data_received(data)
                self.transport.set_protocol(second)

        server_side = Captured(lambda: Switcher(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"first")
        await server_side.protocol.wait_data(5)
        tr.write(b"second")
        await second.wait_data(6)
        assert server_side.protocol.data == b"first"
        tr.close()
        assert await second.lost is None
        assert not server_side.protocol.lost.done()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_close_inside_connection_made(loop):
    async def main():
        class Closer(Recorder):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.close()

        server_side = Captured(lambda: Closer(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"too late")
        assert await server_side.protocol.lost is None
        assert server_side.protocol.events == ["made", "lost"]
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_abort_inside_eof_received(loop):
    async def main():
        class Aborter(Recorder):
            def eof_received(self):
                super().eof_received()
                self.transport.abort()
                return True

        server_side = Captured(lambda: Aborter(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write_eof()
        assert await server_side.protocol.lost is None
        assert server_side.protocol.events == ["made", "eof", "lost"]
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_write_inside_resume_writing(loop):
    async def main():
        extra = b"written from resume_writing"

        server_side = Captured(lambda: NeverReads(loop))

        class Writer(Recorder):
            def resume_writing(self):
                super().resume_writing()
                self.transport.write(extra)
                self.transport.close()

        client = Writer(loop)
        server, tr, pr = await tcp_pair(loop, server_side, lambda: client)
        tr.set_write_buffer_limits(high=1024)
        total = 0
        while not client.paused:
            tr.write(b"w" * 65536)
            total += 65536
            await asyncio.sleep(0)
        server_side.protocol.transport.resume_reading()
        assert await client.lost is None
        await server_side.protocol.wait_data(total + len(extra))
        assert bytes(server_side.protocol.data[-len(extra):]) == extra
        server_side.protocol.transport.close()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_pause_and_resume_reading_inside_data_received(loop):
    async def main():
        errors = Errors(loop)

        class PauseResume(Echo):
            def data_received(self, data):
                self.transport.pause_reading()
                self.transport.resume_reading()
                super().data_received(data)

        server, tr, pr = await tcp_pair(loop, PauseResume, lambda: Recorder(loop))
        for chunk in (b"one", b"two"):
            tr.write(chunk)
            await pr.wait_data(len(pr.data) + len(chunk))
        assert pr.data == b"onetwo"
        assert errors.contexts == []
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="__buffer__ (PEP 688) is 3.12+")
def test_writelines_whose_buffer_export_changes_the_list(loop):
    async def main():
        class Changes:
            def __init__(self, items):
                self.items = items

            def __buffer__(self, flags):
                self.items[:] = [bytearray(b"Q" * 10) for _ in range(1000)]
                return memoryview(b"evil")

        server_side = Captured(lambda: Recorder(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        items = [b"a", None, b"b" * 100]
        items[1] = Changes(items)
        tr.writelines(items)
        # As asyncio's list comprehension over the argument: each item's
        # buffer is taken before the next item is read from the list.
        expected = b"aevil" + b"Q" * 9980
        await server_side.protocol.wait_data(len(expected))
        assert server_side.protocol.data == expected
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_get_buffer_that_closes_the_transport_still_gets_the_data(loop):
    async def main():
        events = []

        class ClosesInGetBuffer(asyncio.BufferedProtocol):
            def connection_made(self, transport):
                self.transport = transport
                self.buf = bytearray(100)

            def get_buffer(self, sizehint):
                self.transport.close()
                return self.buf

            def buffer_updated(self, nbytes):
                events.append(("updated", bytes(self.buf[:nbytes])))

            def connection_lost(self, exc):
                events.append(("lost", exc))
                done.set_result(None)

        done = loop.create_future()
        server, tr, pr = await tcp_pair(loop, ClosesInGetBuffer, lambda: Recorder(loop))
        tr.write(b"hello")
        await done
        assert events == [("updated", b"hello"), ("lost", None)]
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_write_events_run_in_the_context_of_the_write_that_started_buffering(loop):
    import contextvars

    var = contextvars.ContextVar("var", default="unset")
    seen = []

    class Watcher(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport = transport

        def pause_writing(self):
            seen.append(("pause", var.get()))

        def resume_writing(self):
            seen.append(("resume", var.get()))

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        with b:
            tr, pr = await loop.create_connection(Watcher, sock=a)

            async def writer():
                var.set("writer task")
                tr.write(b"x" * (8 * 1024 * 1024))

            await loop.create_task(writer())
            while tr.get_write_buffer_size():
                try:
                    b.recv(1 << 20)
                except BlockingIOError:
                    pass
                await asyncio.sleep(0)
            tr.close()
            await asyncio.sleep(0.01)

    run(loop, main())
    assert seen == [("pause", "writer task"), ("resume", "writer task")]


def test_get_extra_info_argument_errors(loop):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        with pytest.raises(TypeError, match="multiple values for argument 'name'"):
            tr.get_extra_info("peername", name="sockname")
        with pytest.raises(TypeError, match="unhashable"):
            tr.get_extra_info({})
        assert tr.get_extra_info(name="nothing", default=5) == 5
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())
