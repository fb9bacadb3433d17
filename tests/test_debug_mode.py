"""Debug mode: get_debug/set_debug, PYTHONASYNCIODEBUG and -X dev,
coroutine origin tracking, slow callback warnings."""

import asyncio
import logging
import os
import re
import subprocess
import sys
import time

import pytest

import fastloop

HANG_GUARD = 60
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastloop.__file__)))


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def python(code, *flags, env_extra=None):
    """Run code in a fresh interpreter; return its stripped stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE")}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    proc = subprocess.run(
        [sys.executable, *flags, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


PRINT_DEBUG = """
import asyncio, fastloop
for loop in (asyncio.new_event_loop(), fastloop.new_event_loop()):
    print(loop.get_debug(), end=" ")
    loop.close()
"""


@pytest.mark.parametrize(
    "flags, env, expected",
    [
        ((), {}, "False False"),
        ((), {"PYTHONASYNCIODEBUG": "1"}, "True True"),
        ((), {"PYTHONASYNCIODEBUG": ""}, "False False"),
        (("-X", "dev"), {}, "True True"),
        ((), {"PYTHONDEVMODE": "1"}, "True True"),
        (("-E",), {"PYTHONASYNCIODEBUG": "1"}, "False False"),
    ],
    ids=["default", "PYTHONASYNCIODEBUG=1", "PYTHONASYNCIODEBUG=", "-X dev", "PYTHONDEVMODE=1", "-E"],
)
def test_debug_from_the_environment(flags, env, expected):
    """asyncio's loop and fastloop's agree on the debug default (printed as
    'asyncio fastloop')."""
    assert python(PRINT_DEBUG, *flags, env_extra=env) == expected


def test_fastloop_run_and_runner_honour_the_environment():
    code = """
import asyncio, fastloop
async def main():
    return asyncio.get_running_loop().get_debug()
print(fastloop.run(main()), fastloop.run(main(), debug=False))
"""
    assert python(code, env_extra={"PYTHONASYNCIODEBUG": "1"}) == "True False"
    assert python(code) == "False False"


def test_set_debug(loop):
    assert loop.get_debug() == asyncio.coroutines._is_debug_mode()
    loop.set_debug(True)
    assert loop.get_debug()
    loop.set_debug(False)
    assert not loop.get_debug()


def test_slow_callback_duration_default(loop):
    assert loop.slow_callback_duration == 0.1
    loop.slow_callback_duration = 0.5
    assert loop.slow_callback_duration == 0.5


def test_coroutine_origin_tracking_while_running(loop):
    loop.set_debug(True)
    outside = sys.get_coroutine_origin_tracking_depth()

    async def main():
        return sys.get_coroutine_origin_tracking_depth()

    assert loop.run_until_complete(main()) == asyncio.constants.DEBUG_STACK_DEPTH
    assert sys.get_coroutine_origin_tracking_depth() == outside


def test_set_debug_while_running_switches_origin_tracking(loop):
    async def main():
        before = sys.get_coroutine_origin_tracking_depth()
        loop.set_debug(True)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return before, sys.get_coroutine_origin_tracking_depth()

    assert loop.run_until_complete(main()) == (0, asyncio.constants.DEBUG_STACK_DEPTH)
    assert sys.get_coroutine_origin_tracking_depth() == 0


# ---- slow callbacks -----------------------------------------------------------------

SLOW = re.compile(r"^Executing (?P<what>.*) took (?P<secs>\d+\.\d{3}) seconds$", re.S)


def slow_records(caplog):
    return [r for r in caplog.records if r.name == "asyncio" and r.getMessage().startswith("Executing ")]


def sleepy():
    time.sleep(0.02)


def test_slow_callback_is_logged(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    h = loop.call_soon(sleepy)
    loop.call_soon(lambda: None)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run_once(loop)
    records = slow_records(caplog)
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING
    m = SLOW.match(records[0].getMessage())
    assert m, records[0].getMessage()
    assert m["what"] == repr(h)
    assert float(m["secs"]) >= 0.01


def test_slow_timer_and_task_are_logged(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    async def main():
        time.sleep(0.02)

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        loop.call_later(0, sleepy)
        task = loop.create_task(main())
        loop.run_until_complete(task)
    whats = sorted(SLOW.match(r.getMessage())["what"] for r in slow_records(caplog))
    assert len(whats) == 2
    assert whats[0].startswith("<Task finished name=")
    assert whats[1].startswith("<TimerHandle when=")


def test_no_slow_callback_warning_without_debug(loop, caplog):
    loop.slow_callback_duration = 0.0
    loop.call_soon(sleepy)
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        run_once(loop)
    assert slow_records(caplog) == []


ADDRESS = re.compile(r"0x[0-9a-f]+")
TIMES = re.compile(r"took \d+\.\d{3} seconds|when=[0-9.]+|name='Task-\d+'")
# What necessarily differs: the loop's class and the done-callback that
# run_until_complete() adds (a function of each implementation's own).
LOOP_NAMES = re.compile(r"\b(_UnixSelectorEventLoop|BaseEventLoop|Loop)\b")
STOP_CB = re.compile(r"(_run_until_complete_cb|_stop_when_done)\(\) at [^\]]*")


def _normalize(text):
    text = TIMES.sub("?", ADDRESS.sub("0x?", text))
    return STOP_CB.sub("STOP_CB", LOOP_NAMES.sub("LOOP", text))


def _debug_log_on_both_loops(scenario, caplog):
    out = []
    for factory in (asyncio.new_event_loop, fastloop.new_event_loop):
        lp = factory()
        lp.set_debug(True)
        lp.slow_callback_duration = 0.0
        caplog.clear()
        try:
            with caplog.at_level(logging.DEBUG, logger="asyncio"):
                scenario(lp)
                lp.close()
        finally:
            lp.close()
        out.append(
            [
                (r.levelname, _normalize(r.getMessage()))
                for r in caplog.records
                if r.name == "asyncio"
            ]
        )
    return out


def _callbacks(lp):
    lp.call_soon(sleepy)
    lp.call_soon(len, "abc")
    lp.call_later(0, sleepy)
    run_once(lp)


def _cancelled_after_queueing(lp):
    def cancel_other(h):
        h[0].cancel()

    box = []
    lp.call_soon(cancel_other, box)
    box.append(lp.call_soon(sleepy))
    run_once(lp)


def _task(lp):
    # Not through run_until_complete(): a handle that C code schedules
    # (there, a future's done-callback) is "created at" the innermost
    # Python frame, which is asyncio's own Handle._run on asyncio and
    # fastloop's run_forever on fastloop.
    async def main():
        await asyncio.sleep(0)
        return 1

    task = lp.create_task(main())
    for _ in range(3):
        run_once(lp)
    assert task.result() == 1


@pytest.mark.parametrize("scenario", [_callbacks, _cancelled_after_queueing, _task], ids=lambda f: f.__name__.strip("_"))
def test_debug_log_matches_asyncio(scenario, caplog):
    """Slow-callback warnings (every callback, with slow_callback_duration
    0) and the 'Close <loop>' debug line: same text on both loops, with
    durations, deadlines, addresses and the loop class name blanked out."""
    stock, fast = _debug_log_on_both_loops(scenario, caplog)
    assert stock
    assert fast == stock
