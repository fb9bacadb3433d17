"""Nothing leaks: a hundred thousand futures and tasks leave memory flat,
and the references futures and tasks take are all given back.

The flat-memory and refcount tests run on both loops (the `loop` fixture);
the last test compares what a pending task costs on each.
"""

import asyncio
import contextvars
import gc
import sys
import tracemalloc

import pytest

import fastloop

# Allowed growth after the measured runs: small next to what one leaked
# object per operation would cost (100k operations x 50+ bytes = 5 MB).
SLACK = 256 * 1024


def traced(fn):
    """Bytes still allocated after fn() ran and garbage was collected."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_100k_futures_leave_memory_flat(loop):
    def cb(fut):
        pass

    def batch(n):
        futs = []
        for i in range(n):
            fut = loop.create_future()
            fut.add_done_callback(cb)
            if i % 3 == 0:
                fut.set_result(i)
            elif i % 3 == 1:
                fut.set_exception(ValueError(i))
                fut.exception()
            else:
                fut.cancel("msg")
            futs.append(fut)
        loop.run_until_complete(asyncio.sleep(0))

    def run():
        for _ in range(100):
            batch(1000)

    batch(1000)  # warm up: the ready ring and free lists reach their size
    assert traced(run) < SLACK


def test_100k_tasks_leave_memory_flat(loop):
    async def tiny(i):
        if i % 2:
            await asyncio.sleep(0)
        if i % 7 == 0:
            raise ValueError(i)
        return i

    async def waits(fut):
        return await fut

    async def batch(n):
        futs = [loop.create_future() for _ in range(n // 4)]
        tasks = [loop.create_task(tiny(i)) for i in range(n // 2)]
        tasks += [loop.create_task(waits(f)) for f in futs]
        tasks += [loop.create_task(asyncio.sleep(10)) for _ in range(n - len(tasks))]
        await asyncio.sleep(0)
        for f in futs:
            f.set_result(None)
        for t in tasks[-(n // 4):]:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def run():
        for _ in range(100):
            loop.run_until_complete(batch(1000))

    loop.run_until_complete(batch(1000))
    assert traced(run) < SLACK


def test_awaiting_leaves_memory_flat(loop):
    async def pingpong(n):
        for _ in range(n):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut

    def run():
        loop.run_until_complete(pingpong(100_000))

    loop.run_until_complete(pingpong(1000))
    assert traced(run) < SLACK


# ---- references ------------------------------------------------------------------


class Marker:
    pass


def test_future_gives_back_result_callback_and_context(loop):
    result, ctx = Marker(), contextvars.copy_context()

    def cb(f):
        pass

    base = [sys.getrefcount(o) for o in (result, cb, ctx, loop)]
    for _ in range(100):
        fut = loop.create_future()
        fut.add_done_callback(cb, context=ctx)
        fut.add_done_callback(cb, context=ctx)
        fut.set_result(result)
        loop.run_until_complete(asyncio.sleep(0))
        del fut
    gc.collect()
    assert [sys.getrefcount(o) for o in (result, cb, ctx, loop)] == base


def test_removed_callbacks_are_released(loop):
    def cb(f):
        pass

    base = sys.getrefcount(cb)
    fut = loop.create_future()
    for _ in range(10):
        fut.add_done_callback(cb)
    assert sys.getrefcount(cb) > base
    assert fut.remove_done_callback(cb) == 10
    assert sys.getrefcount(cb) == base
    fut.cancel()


def test_exception_and_cancel_message_are_released(loop):
    exc, msg = ValueError("x"), "a cancel message"
    base = sys.getrefcount(exc), sys.getrefcount(msg)
    for _ in range(100):
        fut = loop.create_future()
        fut.set_exception(exc)
        fut.exception()
        other = loop.create_future()
        other.cancel(msg)
        with pytest.raises(asyncio.CancelledError):
            other.result()
    del fut, other
    gc.collect()
    exc.__traceback__ = None
    assert (sys.getrefcount(exc), sys.getrefcount(msg)) == base


def test_await_iterator_releases_the_future(loop):
    fut = loop.create_future()
    base = sys.getrefcount(fut)
    it = fut.__await__()
    assert sys.getrefcount(fut) == base + 1
    del it
    assert sys.getrefcount(fut) == base
    it = iter(fut)
    next(it)
    fut.set_result(1)
    with pytest.raises(StopIteration):
        next(it)
    # A finished iteration lets go of the future even while it is alive.
    assert sys.getrefcount(fut) == base
    del it


def test_task_gives_back_coroutine_result_name_and_loop(loop):
    result, name = Marker(), "a task name"

    async def coro():
        await asyncio.sleep(0)
        return result

    base = [sys.getrefcount(o) for o in (result, name, loop)]
    for _ in range(100):
        task = loop.create_task(coro(), name=name)
        assert loop.run_until_complete(task) is result
        del task
    gc.collect()
    assert [sys.getrefcount(o) for o in (result, name, loop)] == base


def test_task_waiting_on_future_gives_everything_back(loop):
    async def waiter(fut):
        return await fut

    value = Marker()
    base = sys.getrefcount(value), sys.getrefcount(loop)
    for _ in range(100):
        fut = loop.create_future()
        task = loop.create_task(waiter(fut))
        loop.run_until_complete(asyncio.sleep(0))
        fut.set_result(value)
        assert loop.run_until_complete(task) is value
        del fut, task
    gc.collect()
    assert (sys.getrefcount(value), sys.getrefcount(loop)) == base


def test_cancelled_tasks_give_everything_back(loop):
    marker = Marker()
    base = sys.getrefcount(marker)

    async def holder(m):
        await asyncio.sleep(10)

    for _ in range(100):
        task = loop.create_task(holder(marker))
        loop.run_until_complete(asyncio.sleep(0))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)
        del task
    gc.collect()
    assert sys.getrefcount(marker) == base


def test_done_futures_and_tasks_are_freed_without_the_gc(loop):
    """Reference counting alone frees them: no cycle is left behind."""
    import weakref

    async def coro():
        await asyncio.sleep(0)
        return 1

    fut = loop.create_future()
    fut.set_result(1)
    fref = weakref.ref(fut)
    task = loop.create_task(coro())
    loop.run_until_complete(task)
    tref = weakref.ref(task)
    gc.disable()
    try:
        del fut, task
        assert fref() is None
        assert tref() is None
    finally:
        gc.enable()


# ---- what a pending task costs ---------------------------------------------


def pending_task_bytes(factory, n=5000):
    loop = factory()
    try:
        futs = [loop.create_future() for _ in range(n)]

        async def waiter(fut):
            await fut

        async def main():
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                tasks = [loop.create_task(waiter(f)) for f in futs]
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                cost = (tracemalloc.get_traced_memory()[0] - before) / n
            finally:
                tracemalloc.stop()
            for f in futs:
                f.set_result(None)
            await asyncio.gather(*tasks)
            return cost

        return loop.run_until_complete(main())
    finally:
        loop.close()


def test_pending_task_costs_no_more_than_asyncio():
    asyncio_cost = pending_task_bytes(asyncio.new_event_loop)
    fastloop_cost = pending_task_bytes(fastloop.new_event_loop)
    assert fastloop_cost <= asyncio_cost, (fastloop_cost, asyncio_cost)
