"""Helpers shared by the network tests: an fd-leak check and small
protocols that record what happens to them."""

import asyncio
import gc
import os
import socket

import pytest


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_fd_leak():
    """Fails a test that leaves file descriptors open behind it."""
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    after = open_fds()
    assert after <= before, f"{after - before} file descriptor(s) leaked"


def run(loop, coro, timeout=10):
    """Run coro to completion on loop; a test that would hang fails instead."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Echo(asyncio.Protocol):
    """Writes back what it receives; at EOF the transport closes itself."""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class Recorder(asyncio.Protocol):
    """Records every protocol callback in order; `lost` is a future that
    gets the exception (or None) given to connection_lost."""

    def __init__(self, loop, eof_result=None):
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.made = loop.create_future()
        self.lost = loop.create_future()
        self.eof = loop.create_future()
        self.eof_result = eof_result
        self.paused = 0
        self.resumed = 0

    def connection_made(self, transport):
        self.events.append("made")
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data):
        assert type(data) is bytes
        if not self.events or self.events[-1] != "data":
            self.events.append("data")
        self.data += data

    def eof_received(self):
        self.events.append("eof")
        self.eof.set_result(None)
        return self.eof_result

    def pause_writing(self):
        self.events.append("pause_writing")
        self.paused += 1

    def resume_writing(self):
        self.events.append("resume_writing")
        self.resumed += 1

    def connection_lost(self, exc):
        self.events.append("lost")
        if self.lost.done():
            raise AssertionError("connection_lost called twice")
        self.lost.set_result(exc)

    async def wait_data(self, size):
        while len(self.data) < size:
            await asyncio.sleep(0.001)


class Errors:
    """An exception handler that keeps what it was given."""

    def __init__(self, loop):
        self.contexts = []
        loop.set_exception_handler(self)

    def __call__(self, loop, context):
        self.contexts.append(context)

    @property
    def messages(self):
        return [c["message"] for c in self.contexts]


class NeverReads(Recorder):
    """A Recorder that stops reading as soon as it is connected: a peer
    that never reads, so the other side's writes pile up."""

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.pause_reading()


class Captured:
    """A protocol factory that keeps the protocol it made last, for tests
    that look at the server's side of their one connection."""

    def __init__(self, make):
        self.make = make
        self.protocol = None

    def __call__(self):
        self.protocol = self.make()
        return self.protocol


async def connected_pair(loop):
    """Two connected non-blocking TCP sockets over loopback, made with the
    loop's own sock_* calls: (client, accepted)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    client = socket.socket()
    client.setblocking(False)
    connect = loop.create_task(loop.sock_connect(client, listener.getsockname()))
    server, addr = await loop.sock_accept(listener)
    await connect
    listener.close()
    assert addr == client.getsockname()
    assert server.gettimeout() == 0
    return client, server


async def tcp_pair(loop, server_proto_factory, client_proto_factory, **server_kw):
    """A listening server and a client connected to it; returns
    (server, client_transport, client_protocol)."""
    server = await loop.create_server(server_proto_factory, "127.0.0.1", 0, **server_kw)
    port = server.sockets[0].getsockname()[1]
    tr, pr = await loop.create_connection(client_proto_factory, "127.0.0.1", port)
    return server, tr, pr


async def check_http_app(session, base):
    """Requests against an HTTP app that serves "/" (the text "Hello,
    world"), "/echo" (the request body back, its length in X-Length) and
    "/stream" (100 chunked lines "chunk N"), with an aiohttp ClientSession:
    keep-alive, a 1 MiB body both ways, a chunked response and 30 requests
    at once."""
    for _ in range(20):
        async with session.get(base + "/") as resp:
            assert resp.status == 200
            assert await resp.text() == "Hello, world"
    body = bytes(range(256)) * 4096  # 1 MiB
    async with session.post(base + "/echo", data=body) as resp:
        assert resp.headers["X-Length"] == str(len(body))
        assert await resp.read() == body
    async with session.get(base + "/stream") as resp:
        assert (await resp.text()).count("chunk") == 100
    responses = await asyncio.gather(*[session.get(base + "/") for _ in range(30)])
    for resp in responses:
        assert resp.status == 200
        assert await resp.text() == "Hello, world"
        resp.release()
