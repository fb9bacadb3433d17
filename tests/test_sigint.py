"""Ctrl-C: SIGINT reaches a loop that sleeps in the poller, in a child
interpreter so the signal hits nobody else."""

import os
import signal
import subprocess
import sys

import pytest

import fastloop

HANG_GUARD = 60
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastloop.__file__)))

PRELUDE = """
import asyncio, sys, fastloop
factory = {"asyncio": asyncio.new_event_loop, "fastloop": fastloop.new_event_loop}[sys.argv[1]]
"""

RUNNER = PRELUDE + """
async def main():
    try:
        print("ready", flush=True)
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        print("main cancelled", flush=True)
        raise

with asyncio.Runner(loop_factory=factory) as runner:
    runner.run(main())
"""

RUN_FOREVER = PRELUDE + """
loop = factory()
loop.call_soon(lambda: print("ready", flush=True))
try:
    loop.run_forever()
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
print(loop.is_running(), loop.run_until_complete(asyncio.sleep(0, "usable")), flush=True)
loop.close()
"""


def interrupt(script, kind):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-c", script, kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize("kind", ["asyncio", "fastloop"])
def test_runner_cancels_main_and_raises_keyboard_interrupt(kind):
    """asyncio.Runner turns the first Ctrl-C into cancelling the main task,
    then re-raises KeyboardInterrupt; an uncaught KeyboardInterrupt makes
    the interpreter die of SIGINT."""
    code, out, err = interrupt(RUNNER, kind)
    assert out == "main cancelled\n"
    assert err.rstrip().endswith("KeyboardInterrupt")
    assert code == -signal.SIGINT


@pytest.mark.parametrize("kind", ["asyncio", "fastloop"])
def test_idle_run_forever_is_interrupted(kind):
    """No timers, no fds: the loop sleeps in the poller with no timeout and
    the default SIGINT handler's KeyboardInterrupt leaves run_forever()."""
    code, out, err = interrupt(RUN_FOREVER, kind)
    assert out == "KeyboardInterrupt\nFalse usable\n", err
    assert code == 0, err
