"""The ways a program selects fastloop: new_event_loop, run, Runner,
asyncio.run(loop_factory=), EventLoopPolicy and install().  (python -m
fastloop has its own tests.)"""

import asyncio
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
