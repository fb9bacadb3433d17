"""Ctrl-C: SIGINT reaches a loop that sleeps in epoll_wait, and asyncio.run()
and friends on fastloop react to it exactly as on stock asyncio: the main
task is cancelled (it sees CancelledError and its finally clauses run) and
KeyboardInterrupt comes out of the runner.

Each case runs a child process on stock asyncio and on fastloop.  The child
prints a "ready" line; the parent waits until the child's main thread is
blocked in epoll_wait (read from /proc), so the signal is known to arrive
while the loop sleeps, then sends SIGINT.  The two children's output, exit
status and (loop frames masked) tracebacks must be the same.  Nothing is
timed: a loop that missed the signal would sleep forever, which the
subprocess timeout turns into a failure.
"""

import platform
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from _subproc import child_env, mask_loop_frames

TIMEOUT = 30

LOOP_LINE = re.compile(r"^loop: (\S+)$", re.M)

# epoll_wait, epoll_pwait, epoll_pwait2 (for when the kernel does not name
# its wait channel).
EPOLL_SYSCALLS = {
    "x86_64": {"232", "281", "441"},
    "aarch64": {"22", "441"},
}.get(platform.machine(), set())


def blocked_in_epoll(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
        if "epoll" in wchan or "ep_poll" in wchan:
            return True
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split(" ", 1)[0] in EPOLL_SYSCALLS
    except OSError:
        return False


def wait_until_blocked(proc):
    deadline = time.monotonic() + TIMEOUT
    while not blocked_in_epoll(proc.pid):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the child never blocked in epoll_wait\n{out}\n{err}")
        time.sleep(0.005)


def run_child(source, args, cwd, interrupt_after=("ready",), fastloop_main=False):
    """Run the program; each time it prints a line starting with one of
    interrupt_after (in order), wait until it sleeps in epoll_wait and send
    it SIGINT.  Returns stdout, stderr, exit status."""
    script = cwd / "child.py"
    script.write_text(textwrap.dedent(source))
    env = child_env()
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, *(["-m", "fastloop"] if fastloop_main else []), str(script), *args]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        seen = []
        pending = list(interrupt_after)
        while pending:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith(pending[0]):
                pending.pop(0)
                wait_until_blocked(proc)
                proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "".join(seen) + out, err, proc.returncode


def compare(asyncio_run, fastloop_run):
    out_a, err_a, rc_a = asyncio_run
    out_f, err_f, rc_f = fastloop_run
    assert LOOP_LINE.findall(out_a) and set(LOOP_LINE.findall(out_a)) == {"asyncio.unix_events"}
    assert LOOP_LINE.findall(out_f) and set(LOOP_LINE.findall(out_f)) == {"fastloop._loop"}
    out_a = LOOP_LINE.sub("loop: <loop>", out_a)
    out_f = LOOP_LINE.sub("loop: <loop>", out_f)
    assert (out_f, mask_loop_frames(err_f), rc_f) == (out_a, mask_loop_frames(err_a), rc_a)


# ---- a bare loop sleeping in epoll_wait -----------------------------------

BLOCKED = """\
    import asyncio, signal, sys
    import fastloop

    new_loop = fastloop.new_event_loop if sys.argv[1] == "fastloop" else asyncio.new_event_loop
    loop = new_loop()
    print("loop:", type(loop).__module__)

    def ready():
        print("ready")  # nothing is scheduled after this: the loop sleeps

    loop.call_soon(ready)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        print("KeyboardInterrupt from run_forever")
    print("running:", loop.is_running(), "closed:", loop.is_closed())

    # The loop is still usable afterwards.
    loop.call_soon(print, "callback after the interrupt")
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()
    print("done")
"""


def test_sigint_interrupts_a_loop_sleeping_in_epoll_wait(tmp_path):
    results = [run_child(BLOCKED, [name], tmp_path) for name in ("asyncio", "fastloop")]
    compare(*results)
    assert "KeyboardInterrupt from run_forever" in results[1][0]
    assert "callback after the interrupt\ndone\n" in results[1][0]


BLOCKED_WITH_TIMER = """\
    import asyncio, signal, sys
    import fastloop

    new_loop = fastloop.new_event_loop if sys.argv[1] == "fastloop" else asyncio.new_event_loop
    loop = new_loop()
    print("loop:", type(loop).__module__)
    loop.call_later(3600, print, "timer fired")
    loop.call_soon(print, "ready")
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        print("KeyboardInterrupt from run_forever")
    loop.close()
"""


def test_sigint_interrupts_a_loop_waiting_for_a_timer(tmp_path):
    results = [run_child(BLOCKED_WITH_TIMER, [name], tmp_path) for name in ("asyncio", "fastloop")]
    compare(*results)
    assert "KeyboardInterrupt from run_forever" in results[1][0]


# ---- asyncio.run() and the other runners -----------------------------------

MAIN = """\
    import asyncio, signal, sys
    import fastloop

    how, wait, swallow = sys.argv[1:4]

    async def main():
        print("loop:", type(asyncio.get_running_loop()).__module__)
        try:
            print("ready")
            if wait == "event":
                await asyncio.Event().wait()  # no timer at all
            else:
                await asyncio.sleep(3600)
        except asyncio.CancelledError:
            print("main: CancelledError")
            if swallow == "swallow":
                return "main returned after cancellation"
            raise
        finally:
            await asyncio.sleep(0)  # the cleanup can still await
            print("main: finally ran")

    def run():
        if how == "asyncio.run":
            return asyncio.run(main())
        if how == "asyncio.run(loop_factory)":
            return asyncio.run(main(), loop_factory=LOOP_FACTORY)
        if how == "Runner":
            with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
                return runner.run(main())
        if how == "fastloop.run":
            return RUN(main())
        raise AssertionError(how)

    on_fastloop = sys.argv[4] == "fastloop"
    LOOP_FACTORY = fastloop.new_event_loop if on_fastloop else asyncio.new_event_loop
    RUN = fastloop.run if on_fastloop else asyncio.run

    try:
        print("result:", run())
    except KeyboardInterrupt:
        print("KeyboardInterrupt from", how)
    print("SIGINT handler restored:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""

HOWS = [
    pytest.param(
        "asyncio.run(loop_factory)",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 12), reason="asyncio.run() has no loop_factory before 3.12"
        ),
    ),
    "Runner",
    "fastloop.run",
    "asyncio.run",  # unchanged program under python -m fastloop
]


def run_main_both(tmp_path, how, wait, swallow, **kwargs):
    results = []
    for name in ("asyncio", "fastloop"):
        fastloop_main = how == "asyncio.run" and name == "fastloop"
        args = [how, wait, swallow, name]
        results.append(run_child(MAIN, args, tmp_path, fastloop_main=fastloop_main, **kwargs))
    compare(*results)
    return results


@pytest.mark.parametrize("wait", ["event", "sleep"])
@pytest.mark.parametrize("how", HOWS)
def test_sigint_cancels_main_and_raises_keyboard_interrupt(tmp_path, how, wait):
    _, (out, err, status) = run_main_both(tmp_path, how, wait, "reraise")
    assert out.splitlines()[1:] == [
        "ready",
        "main: CancelledError",
        "main: finally ran",
        f"KeyboardInterrupt from {how}",
        "SIGINT handler restored: True",
    ]
    assert status == 0


@pytest.mark.parametrize("how", HOWS)
def test_main_that_swallows_the_cancellation_returns_normally(tmp_path, how):
    _, (out, err, status) = run_main_both(tmp_path, how, "event", "swallow")
    assert "result: main returned after cancellation" in out
    assert "KeyboardInterrupt" not in out


UNCAUGHT = """\
    import asyncio

    async def main():
        print("loop:", type(asyncio.get_running_loop()).__module__)
        try:
            print("ready")
            await asyncio.Event().wait()
        finally:
            print("main: finally ran")

    asyncio.run(main())
"""


def test_uncaught_keyboard_interrupt_under_python_m_fastloop(tmp_path):
    results = [
        run_child(UNCAUGHT, [], tmp_path, fastloop_main=fastloop_main)
        for fastloop_main in (False, True)
    ]
    compare(*results)
    out, err, status = results[1]
    assert status == -signal.SIGINT
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert "CancelledError" in err  # the cancelled main task is the context


SECOND_SIGINT = """\
    import asyncio, sys
    import fastloop

    async def main():
        print("loop:", type(asyncio.get_running_loop()).__module__)
        try:
            print("ready")
            await asyncio.Event().wait()
        finally:
            print("cleanup started")
            try:
                await asyncio.Event().wait()  # a cleanup that hangs
            finally:
                print("cleanup interrupted")

    runner = fastloop.run if sys.argv[1] == "fastloop" else asyncio.run
    try:
        runner(main())
    except KeyboardInterrupt:
        print("KeyboardInterrupt")
"""


def test_second_sigint_interrupts_a_hanging_cleanup(tmp_path):
    results = [
        run_child(SECOND_SIGINT, [name], tmp_path, interrupt_after=("ready", "cleanup started"))
        for name in ("asyncio", "fastloop")
    ]
    compare(*results)
    assert results[1][0].splitlines()[1:] == [
        "ready",
        "cleanup started",
        "cleanup interrupted",
        "KeyboardInterrupt",
    ]
