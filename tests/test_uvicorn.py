"""Real software on fastloop: a uvicorn ASGI server, with each of its two HTTP
implementations (h11 in Python, httptools in C), answering an aiohttp client
over loopback, on both loops."""

import asyncio
import socket

import pytest

from netutil import check_http_app, no_fd_leak, run  # noqa: F401

uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is in the test extra")
aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is in the test extra")



class App:
    """An ASGI application: hello, echo of the request body, a streamed
    response, and the lifespan protocol (it records the loop it started on)."""

    def __init__(self):
        self.startup_loop = None
        self.shut_down = False

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        path = scope["path"]
        if path == "/echo":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            await self.respond(send, body, [(b"x-length", str(len(body)).encode())])
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for i in range(100):
                await send({"type": "http.response.body", "body": b"chunk %d\n" % i,
                            "more_body": True})
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b""})
        else:
            await self.respond(send, b"Hello, world")

    async def respond(self, send, body, headers=()):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), *headers]})
        await send({"type": "http.response.body", "body": body})

    async def lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.startup_loop = asyncio.get_running_loop()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shut_down = True
                await send({"type": "lifespan.shutdown.complete"})
                return


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_uvicorn_server_and_aiohttp_client(loop, http):
    if http == "httptools":
        pytest.importorskip("httptools", reason="httptools is in the test extra")
    app = App()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(app, http=http, lifespan="on", log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)

    async def client():
        while not server.started:
            await asyncio.sleep(0.01)
        async with aiohttp.ClientSession() as session:
            await check_http_app(session, base)

    async def main():
        serving = asyncio.ensure_future(server.serve(sockets=[listener]))
        try:
            await client()
        finally:
            server.should_exit = True
            await serving

    try:
        run(loop, main(), timeout=30)
    finally:
        listener.close()
    assert app.startup_loop is loop
    assert app.shut_down
