"""Faults: peers that reset or vanish, writes to closing transports, a
peer that never reads, accept under EMFILE, fds closed behind the
transport's back.  On both loops."""

import asyncio
import logging
import os
import socket
import struct
import subprocess
import sys
import textwrap

import pytest

from netutil import Captured, Echo, Errors, NeverReads, Recorder, no_fd_leak, run, tcp_pair  # noqa: F401


def reset(transport):
    """Make the peer see a reset: close with SO_LINGER 0."""
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def test_peer_reset_closes_quietly(loop):
    async def main():
        errors = Errors(loop)
        server_side = Captured(lambda: Recorder(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        await asyncio.sleep(0.01)
        reset(tr)
        exc = await server_side.protocol.lost
        assert isinstance(exc, ConnectionResetError)
        assert errors.contexts == []
        assert server_side.protocol.transport.is_closing()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_write_to_reset_peer_is_quiet_and_warns_later(loop, caplog):
    async def main():
        errors = Errors(loop)
        server_side = Captured(lambda: Recorder(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        await asyncio.sleep(0.01)
        server_side.protocol.transport.pause_reading()
        reset(tr)
        await asyncio.sleep(0.05)
        st = server_side.protocol.transport
        # the reset is only seen by the write
        st.write(b"x")
        exc = await server_side.protocol.lost
        assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
        assert errors.contexts == []
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(10):
                st.write(b"more")
        warnings = [r for r in caplog.records if r.getMessage() == "socket.send() raised exception."]
        assert len(warnings) == 6  # from the 5th write after the loss on
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_writes_to_closing_transport(loop, caplog):
    async def main():
        server, tr, pr = await tcp_pair(loop, Echo, lambda: Recorder(loop))
        tr.close()
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(3):
                tr.write(b"dropped")
        assert not [r for r in caplog.records if "socket.send" in r.getMessage()]
        assert await pr.lost is None
        assert pr.data == b""
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_peer_that_never_reads_keeps_memory_bounded(loop):
    async def main():
        server_side = Captured(lambda: NeverReads(loop))

        reader_writer = []

        async def producer(reader, writer):
            reader_writer.append(writer)
            chunk = b"m" * 65536
            # a well-behaved producer: drain() blocks once the buffer is full
            while True:
                writer.write(chunk)
                await writer.drain()

        server = await asyncio.start_server(producer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        tr, pr = await loop.create_connection(server_side, "127.0.0.1", port)
        await asyncio.sleep(0.2)
        (writer,) = reader_writer
        # the producer is parked in drain(): the buffer never grew past
        # the high-water mark plus one write
        assert writer.transport.get_write_buffer_size() <= 65536 + 65536
        assert writer.transport._protocol_paused
        tr.abort()
        await pr.lost
        server.close()
        await asyncio.sleep(0.05)
        writer.transport.abort()
        await server.wait_closed()

    run(loop, main())


def test_fd_closed_inside_data_received(loop):
    async def main():
        errors = Errors(loop)

        class Closer(Recorder):
            def data_received(self, data):
                super().data_received(data)
                sock = self.transport.get_extra_info("socket")
                os.close(sock.fileno())

        server_side = Captured(lambda: Closer(loop))
        server, tr, pr = await tcp_pair(loop, server_side, lambda: Recorder(loop))
        tr.write(b"first")
        await server_side.protocol.wait_data(5)
        await asyncio.sleep(0.05)
        st = server_side.protocol.transport
        st.close()
        await asyncio.sleep(0.05)
        # the loop is still healthy
        await asyncio.sleep(0)
        assert server_side.protocol.events[:2] == ["made", "data"]
        tr.close()
        await pr.lost
        # (no wait_closed(): asyncio's transport, failing to close the
        # already closed fd, never detaches from its server)
        server.close()
        # closing the already closed fd fails in connection_lost's cleanup;
        # that is reported, not fatal
        assert all(isinstance(c.get("exception"), OSError) for c in errors.contexts)

    run(loop, main())


EMFILE_SCRIPT = textwrap.dedent(
    r"""
    import asyncio, resource, socket, sys
    import fastloop

    kind = sys.argv[1]
    server_side = fastloop.new_event_loop if kind == "fastloop" else asyncio.new_event_loop

    async def main():
        loop = asyncio.get_running_loop()
        errors = []
        loop.set_exception_handler(lambda l, c: errors.append(c["message"]))
        accepted = []

        class P(asyncio.Protocol):
            def connection_made(self, tr):
                accepted.append(tr)

        server = await loop.create_server(P, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        import os
        used = len(os.listdir("/proc/self/fd"))
        # leave room for the client sockets and a few accepted ones only
        resource.setrlimit(resource.RLIMIT_NOFILE, (used + 12, hard))
        clients = []
        for _ in range(10):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            clients.append(c)
        await asyncio.sleep(0.3)
        n_errors = len(errors)
        assert n_errors >= 1, errors
        assert errors[0] == "socket.accept() out of system resource", errors
        # not spinning: at most one batch of reports (asyncio reports each
        # failed accept of the batch, fastloop only the first), then a
        # pause of a second before the next try
        assert n_errors <= 100, n_errors
        # free descriptors: accepting goes on after the retry delay
        for tr in accepted:
            tr.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for _ in range(40):
            await asyncio.sleep(0.1)
            if len(accepted) >= 10:
                break
        assert len(accepted) >= 10, len(accepted)
        for tr in accepted:
            tr.close()
        for c in clients:
            c.close()
        server.close()
        await server.wait_closed()
        print("OK", n_errors)

    with asyncio.Runner(loop_factory=server_side) as r:
        r.run(main())
    """
)


@pytest.mark.parametrize("kind", ["asyncio", "fastloop"])
def test_accept_under_emfile(kind, tmp_path):
    script = tmp_path / "emfile.py"
    script.write_text(EMFILE_SCRIPT)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, str(script), kind], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("OK")


def test_connection_lost_raising_is_reported(loop):
    async def main():
        errors = Errors(loop)

        class Bad(Recorder):
            def connection_lost(self, exc):
                super().connection_lost(exc)
                raise ValueError("in connection_lost")

        server, tr, pr = await tcp_pair(loop, Echo, lambda: Bad(loop))
        tr.close()
        await pr.lost
        await asyncio.sleep(0)
        assert len(errors.contexts) == 1
        assert isinstance(errors.contexts[0]["exception"], ValueError)
        # the socket was closed all the same
        assert tr.get_extra_info("socket").fileno() == -1
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_keyboard_interrupt_in_data_received_propagates(loop):
    async def main():
        return await tcp_pair(loop, Echo, lambda: Recorder(loop))

    server, tr, pr = run(loop, main())

    def interrupt(data):
        raise KeyboardInterrupt

    pr.data_received = interrupt
    tr.write(b"x")
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()

    async def finish():
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, finish())
