"""Network benchmarks (group "net"): echo servers on the loop under test,
driven out of process by a load generator written in C (netload.c),
pinned to another core; and an aiohttp "hello world" under wrk.

The echo benchmarks report messages per second of the server's CPU time
(user + system, of the loop's process or of the C server), not of wall
time: on a two-core machine the load generator has one core and cannot
saturate a server as fast as itself, so wall-clock throughput would measure
the load generator (and whoever else shares the machine) as much as the
server.  The CPU time a server spends per message is what it costs.

Three echo servers, as users write them:
- protocol: an asyncio.Protocol whose data_received() writes the data back;
- streams:  asyncio.start_server() with reader.read() / writer.write() /
            await writer.drain();
- sock:     loop.sock_accept(), then loop.sock_recv() / loop.sock_sendall().
Each runs with 1 KiB, 10 KiB and 100 KiB messages over 50 connections; an
operation is one message sent by the load generator and echoed back in full.
echo_c_epoll_1k runs the same load against a plain C epoll echo server
(epoll_echo.c) instead of the loop: the physical limit on this machine, the
same in every column.
"""

import asyncio
import os
import re
import resource
import shutil
import socket
import subprocess
import sysconfig
import tempfile

from .registry import Skip, benchmark, spare_cpus

_HERE = os.path.dirname(os.path.abspath(__file__))
_CONNS = 50


def _tool(name):
    """Build benchmarks/<name>.c once per source version; the path of the
    binary."""
    src = os.path.join(_HERE, name + ".c")
    stamp = int(os.stat(src).st_mtime)
    out_dir = os.path.join(tempfile.gettempdir(), f"fastloop-bench-{os.getuid()}")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, f"{name}-{stamp}")
    if os.path.exists(exe):
        return exe
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    if shutil.which(cc) is None:
        raise Skip(f"no C compiler ({cc}) to build {name}.c")
    tmp = f"{exe}.{os.getpid()}"
    subprocess.run([cc, "-O2", "-o", tmp, src], check=True)
    os.replace(tmp, exe)
    return exe


def _pin_to_spare():
    spare = spare_cpus()
    if spare:
        cpu = spare[-1]
        return lambda: os.sched_setaffinity(0, {cpu})
    return None


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid):
    """CPU seconds used so far by process pid, which has one thread.

    /proc/PID/schedstat gives the thread's run time in nanoseconds; the
    utime and stime of /proc/PID/stat come in clock ticks (10 ms), which
    is 2-3% of a measurement of the C server.  The ticks are the fallback
    on kernels built without schedstat."""

    def cpu():
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            pass
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return cpu


async def _drive(loop, args, server_cpu=_own_cpu):
    """Run the load generator against the server; (messages, seconds of
    the server's CPU time they took)."""
    proc = subprocess.Popen(
        [_tool("netload"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_pin_to_spare(),
    )
    cpu0 = server_cpu()
    out, err = await loop.run_in_executor(None, proc.communicate)
    cpu = server_cpu() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"netload failed: {err.decode().strip()}")
    done, _wall = out.split()
    return int(done), cpu


class _EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def _serve_protocol(loop):
    server = await loop.create_server(_EchoProtocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def stop():
        server.close()

    return port, stop


async def _serve_streams(loop):
    async def handle(reader, writer):
        read = reader.read
        write = writer.write
        drain = writer.drain
        while True:
            data = await read(262144)
            if not data:
                break
            write(data)
            await drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def stop():
        server.close()

    return port, stop


async def _serve_sock(loop):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    listener.setblocking(False)
    tasks = set()

    async def handle(conn):
        recv = loop.sock_recv
        sendall = loop.sock_sendall
        with conn:
            while True:
                data = await recv(conn, 262144)
                if not data:
                    break
                await sendall(conn, data)

    async def accept():
        while True:
            conn, _ = await loop.sock_accept(listener)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(handle(conn))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    acceptor = loop.create_task(accept())

    async def stop():
        acceptor.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(acceptor, *tasks, return_exceptions=True)
        listener.close()

    return listener.getsockname()[1], stop


_SERVERS = {"protocol": _serve_protocol, "streams": _serve_streams, "sock": _serve_sock}


def _echo(loop, mode, size, n):
    async def main():
        port, stop = await _SERVERS[mode](loop)
        try:
            return await _drive(loop, ["-p", port, "-c", _CONNS, "-s", size, "-n", n])
        finally:
            await stop()

    done, seconds = loop.run_until_complete(main())
    assert done == n, (done, n)
    return done, seconds


def _make(mode, label, size, n, targets, limit=None):
    def bench(loop, n):
        return _echo(loop, mode, size, n)

    bench.__name__ = f"echo_{mode}_{label}"
    bench.__doc__ = (
        f"{mode} echo server, {label} messages over {_CONNS} "
        "connections from the C load generator; an operation is one message echoed, "
        "per second of the server's CPU time."
    )
    return benchmark(group="net", n=n, unit="msgs/cpu-s", targets=targets, limit=limit)(bench)


_SIZES = (("1k", 1024, 60_000), ("10k", 10 * 1024, 30_000), ("100k", 100 * 1024, 4_000))
_TARGETS = {
    "protocol": {"uvloop": 1.1},
    "streams": {"asyncio": 1.3, "uvloop": 1.0},
    "sock": {"asyncio": 1.5, "uvloop": 1.2},
}
# Protocol echo at 1 KiB is also held against the plain C server.
_LIMITS = {("protocol", "1k"): ("echo_c_epoll_1k", 0.9)}
for _mode in ("protocol", "streams", "sock"):
    for _label, _size, _n in _SIZES:
        _make(_mode, _label, _size, _n, _TARGETS[_mode] if _label == "1k" else {},
              _LIMITS.get((_mode, _label)))


@benchmark(group="net", n=60_000, unit="msgs/cpu-s")
def echo_c_epoll_1k(loop, n):
    """The same load (1 KiB messages, 50 connections) against a plain C epoll
    echo server on the core the loops get: the physical limit.  Does not use
    the loop; the same in every column."""
    server = subprocess.Popen([_tool("epoll_echo")], stdout=subprocess.PIPE)
    try:
        port = int(server.stdout.readline())

        async def main():
            args = ["-p", port, "-c", _CONNS, "-s", 1024, "-n", n]
            return await _drive(loop, args, _process_cpu(server.pid))

        return loop.run_until_complete(main())
    finally:
        server.kill()
        server.wait()
        server.stdout.close()


@benchmark(group="net", n=30, warmup_n=10, unit="requests", targets={"uvloop": 1.0})
def aiohttp_hello(loop, n):
    """aiohttp "Hello, World" server on the loop under wrk (1 thread, 50
    connections, keep-alive) for n/10 seconds; an operation is one request,
    per second of wall time (the server is saturated here)."""
    try:
        from aiohttp import web
    except ImportError:
        raise Skip("aiohttp is not installed") from None
    wrk = shutil.which("wrk")
    if wrk is None:
        raise Skip("wrk is not installed (apt-get install wrk)")

    async def hello(request):
        return web.Response(text="Hello, World!")

    async def main():
        app = web.Application()
        app.router.add_get("/", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            proc = subprocess.Popen(
                [wrk, "-t1", "-c50", f"-d{max(1, n // 10)}s", f"http://127.0.0.1:{port}/"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_pin_to_spare(),
            )
            out, err = await loop.run_in_executor(None, proc.communicate)
        finally:
            await runner.cleanup()
        text = out.decode()
        m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
        if proc.returncode != 0 or m is None:
            raise RuntimeError(f"wrk failed: {text} {err.decode()}")
        if "Non-2xx" in text or "Socket errors" in text:
            raise RuntimeError(f"wrk saw errors: {text}")
        seconds = float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)
        return int(m.group(1)), seconds

    return loop.run_until_complete(main())

