"""TLS over fastloop's transports: asyncio's own sslproto runs on top of
them (create_server/create_connection with ssl=, streams, start_tls), on
both loops."""

import asyncio
import shutil
import subprocess

import pytest

from netutil import Echo, Recorder, no_fd_leak, run  # noqa: F401

ssl = pytest.importorskip("ssl")



@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_tls_protocol_echo(loop, contexts):
    server_ctx, client_ctx = contexts

    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"
        )
        assert tr.get_extra_info("sslcontext") is client_ctx
        assert tr.get_extra_info("peercert")["subject"]
        payload = b"secret" * 100000
        tr.write(payload)
        await pr.wait_data(len(payload))
        assert bytes(pr.data) == payload
        tr.close()
        assert await pr.lost is None
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=20)


def test_tls_streams_and_start_tls(loop, contexts):
    server_ctx, client_ctx = contexts

    async def main():
        async def handler(reader, writer):
            line = await reader.readline()
            assert line == b"STARTTLS\n"
            writer.write(b"OK\n")
            await writer.drain()
            await writer.start_tls(server_ctx)
            data = await reader.readline()
            writer.write(data.upper())
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"STARTTLS\n")
        assert await reader.readline() == b"OK\n"
        await writer.start_tls(client_ctx, server_hostname="localhost")
        assert writer.get_extra_info("ssl_object") is not None
        writer.write(b"over tls\n")
        assert await reader.readline() == b"OVER TLS\n"
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=20)


def test_tls_handshake_failure(loop, contexts):
    server_ctx, _ = contexts

    async def main():
        server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        untrusting = ssl.create_default_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            await loop.create_connection(
                asyncio.Protocol, "127.0.0.1", port, ssl=untrusting, server_hostname="localhost"
            )
        server.close()
        await server.wait_closed()

    loop.set_exception_handler(lambda l, c: None)
    run(loop, main(), timeout=20)
