"""Real software on fastloop: an aiohttp server and an aiohttp client
exchanging requests over loopback, on both loops."""

import pytest

from netutil import check_http_app, no_fd_leak, run  # noqa: F401

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is in the test extra")
from aiohttp import web  # noqa: E402



async def start_app(loop):
    async def hello(request):
        return web.Response(text="Hello, world")

    async def echo(request):
        body = await request.read()
        return web.Response(body=body, headers={"X-Length": str(len(body))})

    async def stream(request):
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(100):
            await response.write(b"chunk %d\n" % i)
        await response.write_eof()
        return response

    async def ws(request):
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            if msg.type == aiohttp.WSMsgType.TEXT:
                await sock.send_str(msg.data.upper())
        return sock

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/echo", echo)
    app.router.add_get("/stream", stream)
    app.router.add_get("/ws", ws)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


def test_aiohttp_server_and_client(loop):
    async def main():
        runner, base = await start_app(loop)
        try:
            async with aiohttp.ClientSession() as session:
                await check_http_app(session, base)
                async with session.ws_connect(base + "/ws") as sock:
                    await sock.send_str("hi")
                    msg = await sock.receive()
                    assert msg.data == "HI"
        finally:
            await runner.cleanup()

    run(loop, main(), timeout=30)
