"""create_future, create_task (name=, context=), set_task_factory and
get_task_factory."""

import asyncio
import contextvars
import sys

import pytest

var = contextvars.ContextVar("var", default="unset")


async def value(x):
    await asyncio.sleep(0)
    return x


def test_create_future(loop):
    fut = loop.create_future()
    # asyncio lets a loop return its own Future implementation from
    # create_future() (fastloop does: fastloop.Future, see README);
    # asyncio.isfuture() is the check that holds for all of them.
    assert asyncio.isfuture(fut)
    assert fut.get_loop() is loop
    assert not fut.done()
    loop.call_soon(fut.set_result, 5)
    assert loop.run_until_complete(fut) == 5


def test_create_task(loop):
    task = loop.create_task(value(3))
    # fastloop's own Task type (see README); the Task API is what counts.
    assert asyncio.isfuture(task)
    assert task.get_coro() is not None
    assert task.get_loop() is loop
    assert loop.run_until_complete(task) == 3


def test_create_task_name(loop):
    task = loop.create_task(value(1), name="named")
    assert task.get_name() == "named"
    other = loop.create_task(value(2))
    assert other.get_name().startswith("Task-")
    loop.run_until_complete(asyncio.gather(task, other))


def test_create_task_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "task ctx")

    async def read():
        await asyncio.sleep(0)
        return var.get()

    assert loop.run_until_complete(loop.create_task(read(), context=ctx)) == "task ctx"
    token = var.set("current")
    try:
        task = loop.create_task(read())
    finally:
        var.reset(token)
    assert loop.run_until_complete(task) == "current"


def test_create_task_closed_loop(loop):
    loop.close()
    coro = value(1)
    try:
        with pytest.raises(RuntimeError, match="^Event loop is closed$"):
            loop.create_task(coro)
    finally:
        coro.close()


def test_create_task_not_a_coroutine(loop):
    with pytest.raises(TypeError, match="a coroutine was expected"):
        loop.create_task(42)


def test_task_factory(loop):
    calls = []

    def factory(lp, coro, **kwargs):
        calls.append((lp, kwargs))
        return asyncio.Task(coro, loop=lp, **kwargs)

    assert loop.get_task_factory() is None
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory
    t1 = loop.create_task(value(1), name="by factory")
    ctx = contextvars.Context()
    t2 = loop.create_task(value(2), context=ctx)
    assert t1.get_name() == "by factory"
    assert loop.run_until_complete(asyncio.gather(t1, t2)) == [1, 2]
    # Without context= the factory is called the old way, (loop, coro).
    assert calls == [(loop, {}), (loop, {"context": ctx})]
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None


def test_task_factory_is_used_by_ensure_future_and_gather(loop):
    made = []

    def factory(lp, coro, **kwargs):
        task = asyncio.Task(coro, loop=lp, **kwargs)
        made.append(task)
        return task

    loop.set_task_factory(factory)

    async def main():
        return await asyncio.gather(value(1), asyncio.ensure_future(value(2)))

    assert loop.run_until_complete(main()) == [1, 2]
    # main itself, and the two coroutines it wraps.
    assert len(made) == 3


@pytest.mark.parametrize("bad", [1, "factory", object()], ids=["int", "str", "object"])
def test_set_task_factory_refuses_non_callable(loop, bad):
    with pytest.raises(TypeError, match="^task factory must be a callable or None$"):
        loop.set_task_factory(bad)
    assert loop.get_task_factory() is None


@pytest.mark.skipif(
    (3, 13, 0) <= sys.version_info[:3] < (3, 13, 3),
    reason="asyncio 3.13.0-3.13.2 renames a factory-made task 'None' when no name "
    "is given (python/cpython#130033); fastloop keeps the task's own name",
)
def test_task_factory_without_name_keeps_the_task_name(loop):
    loop.set_task_factory(lambda lp, coro, **kw: asyncio.Task(coro, loop=lp, name="own", **kw))
    task = loop.create_task(value(1))
    assert task.get_name() == "own"
    loop.run_until_complete(task)
