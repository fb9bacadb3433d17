"""run_forever, run_until_complete, stop, close, is_running, is_closed,
and the running loop as asyncio.get_running_loop()/get_event_loop() see it."""

import asyncio
import gc
import sys
import threading
import warnings

import pytest

HANG_GUARD = 10.0


class Awaitable:
    def __init__(self, value):
        self.value = value

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return self.value


def recording_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    return contexts


def test_is_an_abstract_event_loop(loop):
    assert isinstance(loop, asyncio.AbstractEventLoop)


def test_repr(loop):
    name = type(loop).__name__
    assert repr(loop) == f"<{name} running=False closed=False debug=False>"
    loop.set_debug(True)
    seen = []
    loop.call_soon(lambda: seen.append(repr(loop)))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [f"<{name} running=True closed=False debug=True>"]
    loop.close()
    assert repr(loop) == f"<{name} running=False closed=True debug=True>"


# ---- run_until_complete -----------------------------------------------------


def test_run_until_complete_coroutine(loop):
    async def main():
        await asyncio.sleep(0)
        return "result"

    assert loop.run_until_complete(main()) == "result"


def test_run_until_complete_future(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, 42)
    assert loop.run_until_complete(fut) == 42


def test_run_until_complete_done_future(loop):
    fut = loop.create_future()
    fut.set_result("already")
    assert loop.run_until_complete(fut) == "already"


def test_run_until_complete_task(loop):
    async def main():
        return 7

    task = loop.create_task(main())
    assert loop.run_until_complete(task) == 7
    assert task.done()


def test_run_until_complete_awaitable(loop):
    assert loop.run_until_complete(Awaitable("awaited")) == "awaited"


def test_run_until_complete_exception(loop):
    async def main():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        loop.run_until_complete(main())


def test_run_until_complete_cancelled(loop):
    fut = loop.create_future()
    loop.call_soon(fut.cancel)
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(fut)


def test_run_until_complete_not_awaitable(loop):
    with pytest.raises(TypeError, match="An asyncio.Future, a coroutine or an awaitable is required"):
        loop.run_until_complete(42)


def test_run_until_complete_future_of_another_loop(loop, loop_factory):
    other = loop_factory()
    try:
        fut = other.create_future()
        with pytest.raises(ValueError, match="The future belongs to a different loop"):
            loop.run_until_complete(fut)
    finally:
        other.close()


def test_stopped_before_future_completed(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match=r"^Event loop stopped before Future completed\.$"):
        loop.run_until_complete(fut)
    assert not fut.done()
    # The loop is still usable.
    loop.call_soon(fut.set_result, "later")
    assert loop.run_until_complete(fut) == "later"


def test_coroutine_stopped_before_completion_is_not_reported_as_pending(loop):
    """asyncio turns off the 'Task was destroyed but it is pending!' report
    for the task it wrapped the coroutine in."""
    contexts = recording_handler(loop)

    async def forever():
        await loop.create_future()

    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match="Event loop stopped before Future completed"):
        loop.run_until_complete(forever())
    gc.collect()
    assert contexts == []


def test_run_until_complete_leaves_no_done_callback(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, 1)
    loop.run_until_complete(fut)
    fut2 = loop.create_future()
    loop.call_soon(fut2.set_result, 2)
    assert loop.run_until_complete(fut2) == 2
    assert fut.remove_done_callback(lambda f: None) == 0


def test_run_until_complete_twice(loop):
    async def main(x):
        await asyncio.sleep(0)
        return x

    assert loop.run_until_complete(main(1)) == 1
    assert loop.run_until_complete(main(2)) == 2


# ---- nested and concurrent runs -------------------------------------------


def test_already_running_from_a_callback(loop):
    errors = []

    async def noop():
        pass

    def nested():
        coro = noop()
        try:
            loop.run_until_complete(coro)
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            coro.close()
        try:
            loop.run_forever()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(nested)
    loop.run_forever()
    assert errors == ["This event loop is already running"] * 2


def test_already_running_from_a_coroutine(loop):
    async def main():
        with pytest.raises(RuntimeError, match="^This event loop is already running$"):
            loop.run_forever()
        return "ok"

    assert loop.run_until_complete(main()) == "ok"


def test_another_loop_cannot_run_inside_a_running_one(loop, loop_factory):
    other = loop_factory()
    errors = []

    def nested():
        try:
            other.run_forever()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    try:
        loop.call_soon(nested)
        loop.run_forever()
    finally:
        other.close()
    assert errors == ["Cannot run the event loop while another loop is running"]


def test_loops_in_two_threads(loop, loop_factory):
    results = {}

    def in_thread():
        other = loop_factory()
        try:
            results["thread"] = other.run_until_complete(asyncio.sleep(0.01, "thread"))
        finally:
            other.close()

    async def main():
        t = threading.Thread(target=in_thread)
        t.start()
        await loop.run_in_executor(None, t.join, HANG_GUARD)
        return "main"

    results["main"] = loop.run_until_complete(main())
    assert results == {"thread": "thread", "main": "main"}


# ---- stop -----------------------------------------------------------------


def test_stop_before_run_forever_runs_one_iteration(loop):
    calls = []
    loop.stop()
    loop.call_soon(calls.append, 1)
    loop.run_forever()
    assert calls == [1]
    # The stop request was used up.
    loop.call_soon(calls.append, 2)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == [1, 2]


def test_stop_lets_the_rest_of_the_iteration_run(loop):
    calls = []
    loop.call_soon(loop.stop)
    loop.call_soon(calls.append, "same iteration")
    loop.call_soon(lambda: loop.call_soon(calls.append, "next iteration"))
    loop.run_forever()
    assert calls == ["same iteration"]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["same iteration", "next iteration"]


def test_stop_twice(loop):
    loop.call_soon(loop.stop)
    loop.call_soon(loop.stop)
    loop.run_forever()
    calls = []
    loop.call_soon(calls.append, 1)
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert calls == [1]


def test_stop_from_a_timer(loop):
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert not loop.is_running()


# ---- is_running, running loop ---------------------------------------------


def test_is_running_and_running_loop(loop):
    seen = []

    def cb():
        seen.append(loop.is_running())
        seen.append(asyncio.get_running_loop() is loop)
        seen.append(asyncio.get_event_loop() is loop)
        seen.append(asyncio._get_running_loop() is loop)
        loop.stop()

    assert not loop.is_running()
    loop.call_soon(cb)
    loop.run_forever()
    assert seen == [True, True, True, True]
    assert not loop.is_running()
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.get_running_loop()


def test_running_loop_in_a_coroutine(loop):
    async def main():
        return asyncio.get_running_loop(), asyncio.get_event_loop()

    assert loop.run_until_complete(main()) == (loop, loop)


def test_running_loop_is_unset_after_an_error(loop):
    def cb():
        raise KeyboardInterrupt

    loop.call_soon(cb)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()
    assert asyncio._get_running_loop() is None


def test_asyncgen_hooks_restored_after_run(loop):
    before = sys.get_asyncgen_hooks()
    seen = []
    loop.call_soon(lambda: seen.append(sys.get_asyncgen_hooks()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert sys.get_asyncgen_hooks() == before
    assert seen[0].firstiter is not None and seen[0].finalizer is not None


# ---- close ------------------------------------------------------------------


def test_close(loop):
    assert not loop.is_closed()
    loop.close()
    assert loop.is_closed()
    loop.close()
    assert loop.is_closed()


def test_closed_loop_refuses_to_run(loop):
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        loop.run_forever()

    async def main():
        pass

    coro = main()
    try:
        with pytest.raises(RuntimeError, match="^Event loop is closed$"):
            loop.run_until_complete(coro)
    finally:
        coro.close()


def test_close_with_finalizers_that_use_the_loop(loop):
    """close() drops queued callbacks, timers and readers; the finalizers
    of their arguments find the loop closed already."""
    import os

    errors = []

    class Arg:
        def __del__(self):
            try:
                loop.call_soon(print)
            except RuntimeError as exc:
                errors.append(str(exc))

    r, w = os.pipe()
    try:
        loop.call_soon(print, Arg())
        loop.call_later(10, print, Arg())
        loop.add_reader(r, print, Arg())
        loop.close()
        gc.collect()
    finally:
        os.close(r)
        os.close(w)
    assert errors == ["Event loop is closed"] * 3


def test_time_still_works_after_close(loop):
    loop.close()
    assert isinstance(loop.time(), float)


def test_close_while_running_is_refused(loop):
    errors = []

    def cb():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.stop()

    loop.call_soon(cb)
    loop.run_forever()
    assert errors == ["Cannot close a running event loop"]
    assert not loop.is_closed()


def test_close_from_a_callback_goes_to_the_exception_handler(loop):
    """close() raising inside a callback is an ordinary callback error."""
    contexts = recording_handler(loop)
    loop.call_soon(loop.close)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(contexts) == 1
    assert str(contexts[0]["exception"]) == "Cannot close a running event loop"
    assert not loop.is_closed()


def test_close_from_a_coroutine(loop):
    async def main():
        loop.close()

    with pytest.raises(RuntimeError, match="^Cannot close a running event loop$"):
        loop.run_until_complete(main())


def test_unclosed_loop_warns(loop_factory):
    lp = loop_factory()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del lp
        gc.collect()
    assert any(
        issubclass(w.category, ResourceWarning) and "unclosed event loop" in str(w.message)
        for w in caught
    )


# ---- selecting the loop -------------------------------------------------------


def test_runner_with_loop_factory(loop_factory):
    async def main():
        return type(asyncio.get_running_loop())

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        cls = runner.run(main())
        assert runner.get_loop().is_running() is False
        assert isinstance(runner.get_loop(), cls)
    probe = loop_factory()
    try:
        assert cls is type(probe)
    finally:
        probe.close()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is new in 3.12")
def test_asyncio_run_with_loop_factory(loop_factory):
    async def main():
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop())

    cls = asyncio.run(main(), loop_factory=loop_factory)
    probe = loop_factory()
    try:
        assert cls is type(probe)
    finally:
        probe.close()
