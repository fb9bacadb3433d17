"""Unix stream sockets: create_unix_server / create_unix_connection, on
both loops."""

import asyncio
import os
import socket
import sys

import pytest

from netutil import Echo, Recorder, no_fd_leak, run  # noqa: F401


def test_unix_echo(loop, tmp_path):
    path = str(tmp_path / "echo.sock")

    async def main():
        server = await loop.create_unix_server(Echo, path)
        assert server.sockets[0].family == socket.AF_UNIX
        tr, pr = await loop.create_unix_connection(lambda: Recorder(loop), path)
        assert tr.get_extra_info("peername") == path
        assert tr.get_extra_info("socket").family == socket.AF_UNIX
        tr.write(b"unix" * 100000)
        await pr.wait_data(400000)
        tr.write_eof()
        tr.close()
        assert await pr.lost is None
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_stale_socket_file_is_replaced(loop, tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    assert os.path.exists(path)

    async def main():
        server = await loop.create_unix_server(Echo, path)
        tr, pr = await loop.create_unix_connection(lambda: Recorder(loop), path)
        tr.write(b"x")
        await pr.wait_data(1)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())
    if sys.version_info >= (3, 13):
        # 3.13 removes the socket file it made when the server closes
        assert not os.path.exists(path)


def test_path_that_is_not_a_socket_is_kept(loop, tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me")

    async def main():
        with pytest.raises(OSError):
            await loop.create_unix_server(Echo, str(path))

    run(loop, main())
    assert path.read_text() == "keep me"


def test_unix_server_sock_argument(loop, tmp_path):
    path = str(tmp_path / "s.sock")

    async def main():
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        server = await loop.create_unix_server(Echo, sock=sock)
        tr, pr = await loop.create_unix_connection(lambda: Recorder(loop), path)
        tr.write(b"abc")
        await pr.wait_data(3)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_unix_bad_arguments(loop, tmp_path):
    async def main():
        with pytest.raises(ValueError, match="path was not specified, and no sock specified"):
            await loop.create_unix_server(Echo)
        with socket.socket(socket.AF_UNIX) as s:
            with pytest.raises(ValueError, match="path and sock can not be specified"):
                await loop.create_unix_server(Echo, str(tmp_path / "x"), sock=s)
        with socket.socket() as s:
            with pytest.raises(ValueError, match="A UNIX Domain Stream Socket was expected"):
                await loop.create_unix_server(Echo, sock=s)
        with pytest.raises(ValueError, match="no path and sock were specified"):
            await loop.create_unix_connection(Echo)
        with pytest.raises(FileNotFoundError):
            await loop.create_unix_connection(Echo, str(tmp_path / "missing"))

    run(loop, main())


def test_abstract_namespace(loop):
    name = "\0fastloop-test-%d" % os.getpid()

    async def main():
        server = await loop.create_unix_server(Echo, name)
        tr, pr = await loop.create_unix_connection(lambda: Recorder(loop), name)
        tr.write(b"abstract")
        await pr.wait_data(8)
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_server_side_peername_of_unbound_client(loop, tmp_path):
    path = str(tmp_path / "p.sock")

    async def main():
        made = loop.create_future()

        class P(asyncio.Protocol):
            def connection_made(self, transport):
                made.set_result(transport)

        server = await loop.create_unix_server(P, path)
        tr, pr = await loop.create_unix_connection(lambda: Recorder(loop), path)
        st = await made
        assert st.get_extra_info("peername") == ""
        assert st.get_extra_info("sockname") == path
        st.close()
        tr.close()
        await pr.lost
        server.close()
        await server.wait_closed()

    run(loop, main())
