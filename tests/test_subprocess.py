"""Subprocesses: asyncio.create_subprocess_exec / create_subprocess_shell and
loop.subprocess_exec / subprocess_shell, on both loops."""

import asyncio
import os
import signal
import subprocess
import sys
import threading

import pytest

from netutil import no_fd_leak, run  # noqa: F401

PY = sys.executable


def test_exec_captures_output_and_exit_status(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return out, err, proc.returncode, await proc.wait()

    assert run(loop, main()) == (b"out\n", b"err\n", 3, 3)


def test_shell_with_stderr_into_stdout(loop):
    async def main():
        proc = await asyncio.create_subprocess_shell(
            "echo one; echo two >&2; exit 7",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, err = await proc.communicate()
        return sorted(out.split()), err, proc.returncode

    assert run(loop, main()) == ([b"one", b"two"], None, 7)


def test_stdin_pipe_round_trips_a_megabyte(loop):
    data = os.urandom(1024 * 1024)

    async def main():
        proc = await asyncio.create_subprocess_exec(
            "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate(data)
        return out, proc.returncode

    assert run(loop, main()) == (data, 0)


def test_interactive_line_by_line(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-u", "-c",
            "import sys\nfor line in sys.stdin: print(line.strip().upper(), flush=True)",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        answers = []
        for word in (b"alpha", b"beta", b"gamma"):
            proc.stdin.write(word + b"\n")
            await proc.stdin.drain()
            answers.append(await proc.stdout.readline())
        proc.stdin.close()
        await proc.stdin.wait_closed()
        assert await proc.stdout.read() == b""
        return answers, await proc.wait()

    assert run(loop, main()) == ([b"ALPHA\n", b"BETA\n", b"GAMMA\n"], 0)


@pytest.mark.parametrize("how", ["kill", "terminate", "send_signal"])
def test_killing_a_child(loop, how):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import time; print('ready', flush=True); time.sleep(60)",
            stdout=asyncio.subprocess.PIPE)
        assert await proc.stdout.readline() == b"ready\n"
        if how == "send_signal":
            proc.send_signal(signal.SIGUSR1)
        else:
            getattr(proc, how)()
        return await proc.wait()

    expected = {"kill": -signal.SIGKILL, "terminate": -signal.SIGTERM,
                "send_signal": -signal.SIGUSR1}[how]
    assert run(loop, main()) == expected


def test_a_program_that_does_not_exist(loop):
    async def main():
        with pytest.raises(FileNotFoundError):
            await asyncio.create_subprocess_exec("/nonexistent/program-for-fastloop-tests")

    run(loop, main())


def test_bad_arguments_raise_asyncio_errors(loop):
    async def main():
        errors = []
        for call in (
            lambda: loop.subprocess_exec(asyncio.SubprocessProtocol, PY, universal_newlines=True),
            lambda: loop.subprocess_exec(asyncio.SubprocessProtocol, PY, bufsize=4096),
            lambda: loop.subprocess_exec(asyncio.SubprocessProtocol, PY, text=True),
            lambda: loop.subprocess_shell(asyncio.SubprocessProtocol, ["echo"]),
            lambda: loop.subprocess_shell(asyncio.SubprocessProtocol, "echo", shell=False),
            lambda: loop.subprocess_exec(asyncio.SubprocessProtocol, PY, shell=True),
        ):
            with pytest.raises((TypeError, ValueError)) as info:
                await call()
            errors.append((type(info.value), str(info.value)))
        return errors

    errors = run(loop, main())
    assert errors == [
        (ValueError, "universal_newlines must be False"),
        (ValueError, "bufsize must be 0"),
        (ValueError, "text must be False"),
        (ValueError, "cmd must be a string"),
        (ValueError, "shell must be True"),
        (ValueError, "shell must be False"),
    ]


def test_subprocess_protocol_callbacks_in_order(loop):
    class Recorder(asyncio.SubprocessProtocol):
        def __init__(self):
            self.events = []
            self.output = bytearray()
            self.done = loop.create_future()

        def connection_made(self, transport):
            self.events.append("made")

        def pipe_data_received(self, fd, data):
            if "data" not in self.events:
                self.events.append("data")
            self.output += data

        def pipe_connection_lost(self, fd, exc):
            self.events.append(("pipe lost", fd, exc))

        def process_exited(self):
            self.events.append("exited")

        def connection_lost(self, exc):
            self.events.append(("lost", exc))
            self.done.set_result(None)

    async def main():
        transport, protocol = await loop.subprocess_exec(
            Recorder, PY, "-c", "print('hello')", stdin=None, stderr=None)
        await protocol.done
        status = transport.get_returncode()
        pid = transport.get_pid()
        transport.close()
        return protocol.events, bytes(protocol.output), status, pid

    events, output, status, pid = run(loop, main())
    assert output == b"hello\n"
    assert status == 0 and pid > 0
    assert events[:2] == ["made", "data"]
    # pipe_connection_lost and process_exited may come in either order, as
    # on stock asyncio; connection_lost comes last.
    assert sorted(map(str, events[2:-1])) == sorted(map(str, [("pipe lost", 1, None), "exited"]))
    assert events[-1] == ("lost", None)


def test_subprocess_from_a_loop_in_another_thread(loop_factory):
    results = []

    def worker():
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, "-c", "print(6 * 7)", stdout=subprocess.PIPE)
            out, _ = await proc.communicate()
            return out, proc.returncode

        new_loop = loop_factory()
        try:
            results.append(run(new_loop, main()))
        finally:
            new_loop.close()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(30)
    assert results == [(b"42\n", 0)]


def test_many_children_at_once(loop):
    async def one(i):
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", f"print({i})", stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return int(out), proc.returncode

    async def main():
        return await asyncio.gather(*[one(i) for i in range(20)])

    assert run(loop, main(), timeout=60) == [(i, 0) for i in range(20)]


def test_closed_loop_refuses(loop):
    loop.close()
    coro = loop.subprocess_exec(asyncio.SubprocessProtocol, PY, "-c", "pass")
    try:
        with pytest.raises(RuntimeError, match="Event loop is closed"):
            loop.run_until_complete(coro)
    finally:
        coro.close()


def test_output_read_after_the_child_has_exited(loop):
    # The child is gone before its pipe is read: what it wrote is not lost.
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import os, sys; os.write(1, b'x' * 20000); sys.exit(5)",
            stdout=asyncio.subprocess.PIPE)
        status = await proc.wait()
        return status, len(await proc.stdout.read())

    assert run(loop, main()) == (5, 20000)
