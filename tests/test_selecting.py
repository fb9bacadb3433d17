"""The ways a program selects fastloop: new_event_loop, run, Runner,
asyncio.run(loop_factory=), EventLoopPolicy and install().  (python -m
fastloop has its own tests.)"""

import asyncio
import os
import subprocess
import sys
import warnings

import pytest

import fastloop


async def loop_type():
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop())


@pytest.fixture
def restore_policy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        saved = asyncio.get_event_loop_policy()
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(saved)


def test_new_event_loop():
    loop, other = fastloop.new_event_loop(), fastloop.new_event_loop()
    try:
        assert isinstance(loop, fastloop.Loop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert loop is not other
    finally:
        loop.close()
        other.close()


def test_run():
    assert fastloop.run(loop_type()) is fastloop.Loop


def test_run_debug():
    async def debug():
        return asyncio.get_running_loop().get_debug()

    assert fastloop.run(debug(), debug=True) is True
    assert fastloop.run(debug(), debug=False) is False


def test_run_propagates_exceptions_and_closes_the_loop():
    seen = []

    async def main():
        seen.append(asyncio.get_running_loop())
        raise ValueError("from main")

    with pytest.raises(ValueError, match="from main"):
        fastloop.run(main())
    assert seen[0].is_closed()


def test_run_refuses_to_nest():
    """As asyncio.run() does: refuse at once, creating no loop."""

    async def outer():
        coro = loop_type()
        try:
            fastloop.run(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="cannot be called from a running event loop") as info:
        fastloop.run(outer())
    assert info.value.__context__ is None


def test_runner():
    with asyncio.Runner(loop_factory=fastloop.new_event_loop) as runner:
        assert runner.run(loop_type()) is fastloop.Loop
        assert runner.run(loop_type()) is fastloop.Loop


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is new in 3.12")
def test_asyncio_run_loop_factory():
    assert asyncio.run(loop_type(), loop_factory=fastloop.new_event_loop) is fastloop.Loop


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="policies are deprecated from 3.14 on")
def test_event_loop_policy(restore_policy):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        asyncio.set_event_loop_policy(fastloop.EventLoopPolicy())
    assert asyncio.run(loop_type()) is fastloop.Loop
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, fastloop.Loop)
    finally:
        loop.close()


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="policies are deprecated from 3.14 on")
def test_install(restore_policy):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        fastloop.install()
    assert isinstance(asyncio.get_event_loop_policy(), fastloop.EventLoopPolicy)
    assert asyncio.run(loop_type()) is fastloop.Loop


async def loop_debug():
    return asyncio.get_running_loop().get_debug()


def test_run_debug_none_is_asyncio_default():
    assert fastloop.run(loop_debug(), debug=None) is asyncio.run(loop_debug(), debug=None)
    assert fastloop.run(loop_debug()) is asyncio.coroutines._is_debug_mode()


@pytest.mark.parametrize(
    "options, env, expected",
    [([], {}, False), ([], {"PYTHONASYNCIODEBUG": "1"}, True), (["-X", "dev"], {}, True)],
)
def test_run_debug_none_follows_the_environment(options, env, expected):
    code = (
        "import asyncio, fastloop\n"
        "async def debug():\n"
        "    return asyncio.get_running_loop().get_debug()\n"
        "print(fastloop.run(debug()), fastloop.run(debug(), debug=None), asyncio.run(debug()))\n"
    )
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    child_env.update(env)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastloop.__file__)))
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, child_env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, *options, "-c", code],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(expected)] * 3


def test_runner_debug_and_get_loop():
    with asyncio.Runner(loop_factory=fastloop.new_event_loop, debug=True) as runner:
        assert isinstance(runner.get_loop(), fastloop.Loop)
        assert runner.run(loop_debug()) is True


def test_get_event_loop_inside_a_running_fastloop():
    async def main():
        return asyncio.get_running_loop(), asyncio.get_event_loop()

    running, current = fastloop.run(main())
    assert isinstance(running, fastloop.Loop)
    assert current is running

    # In a plain callback too, not only in a task.
    loop = fastloop.new_event_loop()
    seen = []
    try:
        loop.call_soon(lambda: seen.append(asyncio.get_event_loop()))
        loop.call_soon(loop.stop)
        loop.run_forever()
    finally:
        loop.close()
    assert seen == [loop]


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="policies are deprecated from 3.14 on")
def test_policy_get_event_loop_and_set_event_loop(restore_policy):
    asyncio.set_event_loop_policy(fastloop.EventLoopPolicy())
    try:
        # No current loop in the main thread: the policy makes one (3.12
        # and 3.13 warn about that, as they do with asyncio's own policy).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            made = asyncio.get_event_loop()
        assert isinstance(made, fastloop.Loop)
        made.close()

        loop = asyncio.new_event_loop()
        assert isinstance(loop, fastloop.Loop)
        asyncio.set_event_loop(loop)
        assert asyncio.get_event_loop() is loop
        assert loop.run_until_complete(loop_type()) is fastloop.Loop
        loop.close()
    finally:
        asyncio.set_event_loop(None)


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="policies are deprecated from 3.14 on")
def test_install_then_runner_without_factory(restore_policy):
    fastloop.install()
    try:
        with asyncio.Runner() as runner:
            assert isinstance(runner.get_loop(), fastloop.Loop)
            assert runner.run(loop_type()) is fastloop.Loop
    finally:
        asyncio.set_event_loop(None)
