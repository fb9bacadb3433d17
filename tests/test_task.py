"""Tasks made by loop.create_task(): asyncio.Task's API and behaviour, and
what asyncio builds on tasks (TaskGroup, timeout, wait_for, shield, gather,
locks, queues...).

Every test runs on stock asyncio and on fastloop (the `loop` fixture); on
fastloop the tasks are fastloop.Task, stepped straight from the loop's
ready queue.
"""

import asyncio
import contextvars
import gc
import io
import re
import sys
import types

import pytest

import fastloop

var = contextvars.ContextVar("var", default="unset")

PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)


class Boom(Exception):
    pass


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


async def value(x, yields=1):
    for _ in range(yields):
        await asyncio.sleep(0)
    return x


# ---- basics ------------------------------------------------------------------


def test_result(loop):
    task = loop.create_task(value(5))
    assert not task.done()
    assert loop.run_until_complete(task) == 5
    assert task.done() and not task.cancelled()
    assert task.result() == 5 and task.exception() is None


def test_exception(loop):
    async def fail():
        await asyncio.sleep(0)
        raise Boom("task")

    task = loop.create_task(fail())
    with pytest.raises(Boom, match="task"):
        loop.run_until_complete(task)
    assert isinstance(task.exception(), Boom)


def test_names(loop):
    t1 = loop.create_task(value(1))
    t2 = loop.create_task(value(2))
    n1, n2 = t1.get_name(), t2.get_name()
    assert re.fullmatch(r"Task-\d+", n1) and re.fullmatch(r"Task-\d+", n2)
    assert int(n2[5:]) > int(n1[5:])
    t1.set_name(123)
    assert t1.get_name() == "123"
    t3 = loop.create_task(value(3), name=("a", 1))
    assert t3.get_name() == "('a', 1)"
    loop.run_until_complete(asyncio.gather(t1, t2, t3))


def test_get_coro(loop):
    coro = value(1)
    task = loop.create_task(coro)
    assert task.get_coro() is coro
    loop.run_until_complete(task)


@pytest.mark.skipif(not PY312, reason="Task.get_context() is new in 3.12")
def test_get_context(loop):
    ctx = contextvars.copy_context()
    task = loop.create_task(value(1), context=ctx)
    assert task.get_context() is ctx
    loop.run_until_complete(task)


def test_task_runs_in_its_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "ctx")
    seen = []

    async def main():
        seen.append(var.get())
        await asyncio.sleep(0)
        seen.append(var.get())
        var.set("changed")
        await asyncio.sleep(0)
        seen.append(var.get())

    loop.run_until_complete(loop.create_task(main(), context=ctx))
    assert seen == ["ctx", "ctx", "changed"]
    assert ctx[var] == "changed"
    assert var.get() == "unset"


def test_set_result_and_set_exception_refused(loop):
    task = loop.create_task(value(1))
    with pytest.raises(RuntimeError, match="Task does not support set_result operation"):
        task.set_result(1)
    with pytest.raises(RuntimeError, match="Task does not support set_exception operation"):
        task.set_exception(Boom())
    loop.run_until_complete(task)


def test_not_a_coroutine(loop):
    with pytest.raises(TypeError, match="a coroutine was expected, got 42"):
        loop.create_task(42)


def test_task_awaits_task(loop):
    async def outer():
        inner = asyncio.ensure_future(value("in", yields=3))
        return await inner

    assert loop.run_until_complete(outer()) == "in"


def test_repr(loop):
    async def sleeper():
        await asyncio.sleep(10)

    task = loop.create_task(sleeper(), name="T")
    assert re.fullmatch(r"<Task pending name='T' coro=<.*sleeper\(\) running at .+:\d+>>", repr(task))
    run_once(loop)
    assert "wait_for=<Future pending" in repr(task)
    task.cancel()
    assert repr(task).startswith("<Task cancelling name='T'")
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert re.fullmatch(r"<Task cancelled name='T' coro=<.*sleeper\(\) done, defined at .+:\d+>>", repr(task))
    done = loop.create_task(value(7), name="D")
    loop.run_until_complete(done)
    assert repr(done).endswith("result=7>")


def test_get_stack_and_print_stack(loop):
    async def sleeper():
        await asyncio.sleep(10)

    task = loop.create_task(sleeper(), name="S")
    run_once(loop)
    stack = task.get_stack()
    assert len(stack) == 1 and stack[0].f_code.co_name == "sleeper"
    out = io.StringIO()
    task.print_stack(file=out)
    text = out.getvalue()
    assert text.startswith("Stack for <Task pending name='S'")
    assert "in sleeper" in text
    assert task.get_stack(limit=0) == []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_get_stack_of_failed_task(loop):
    async def fail():
        raise Boom()

    task = loop.create_task(fail())
    with pytest.raises(Boom):
        loop.run_until_complete(task)
    frames = task.get_stack()
    assert frames and frames[-1].f_code.co_name == "fail"
    out = io.StringIO()
    task.print_stack(file=out)
    assert "Traceback for" in out.getvalue()


# ---- current task and all tasks -------------------------------------------


def test_current_task(loop):
    async def main():
        return asyncio.current_task()

    task = loop.create_task(main())
    assert loop.run_until_complete(task) is task
    assert asyncio.current_task(loop) is None


def test_current_task_across_awaits(loop):
    seen = []

    async def worker(i):
        for _ in range(3):
            seen.append((i, asyncio.current_task().get_name()))
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(*(loop.create_task(worker(i), name=f"w{i}") for i in range(2)))

    loop.run_until_complete(main())
    assert all(name == f"w{i}" for i, name in seen)


def test_all_tasks(loop):
    async def main():
        blocker = loop.create_future()

        async def wait_on(fut):
            await fut

        others = [loop.create_task(wait_on(blocker)) for _ in range(3)]
        await asyncio.sleep(0)
        tasks = asyncio.all_tasks()
        assert tasks == {asyncio.current_task(), *others}
        blocker.set_result(None)
        await asyncio.gather(*others)
        return asyncio.all_tasks() == {asyncio.current_task()}

    assert loop.run_until_complete(main()) is True


def test_all_tasks_forgets_done_tasks(loop):
    async def main():
        t = loop.create_task(value(1))
        assert t in asyncio.all_tasks()
        await t
        return t in asyncio.all_tasks(), len(asyncio.all_tasks())

    assert loop.run_until_complete(main()) == (False, 1)


# ---- cancellation ------------------------------------------------------------


def test_cancel_before_start(loop):
    task = loop.create_task(value(1))
    assert task.cancel()
    assert task.cancelling() == 1
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()
    assert not task.cancel()


def test_cancel_waiting_task_cancels_its_future(loop):
    fut = loop.create_future()

    async def waiter():
        await fut

    task = loop.create_task(waiter())
    run_once(loop)
    assert task.cancel(msg="because")
    assert fut.cancelled()
    with pytest.raises(asyncio.CancelledError) as info:
        loop.run_until_complete(task)
    assert task.cancelled()
    assert info.value.args == ("because",)


def test_cancel_message_reaches_the_coroutine(loop):
    async def catcher():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as e:
            return e.args

    task = loop.create_task(catcher())
    run_once(loop)
    task.cancel("msg!")
    assert loop.run_until_complete(task) == ("msg!",)
    assert not task.cancelled()


def test_cancel_done_task(loop):
    task = loop.create_task(value(1))
    loop.run_until_complete(task)
    assert task.cancel() is False
    assert task.cancelling() == 0


def test_cancelling_and_uncancel(loop):
    async def stubborn():
        for _ in range(3):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                pass
        return "survived"

    task = loop.create_task(stubborn())
    run_once(loop)
    task.cancel()
    task.cancel()
    assert task.cancelling() == 2
    assert task.uncancel() == 1
    assert task.uncancel() == 0
    assert task.uncancel() == 0
    run_once(loop)
    task.cancel()
    run_once(loop)
    task.cancel()
    assert loop.run_until_complete(task) == "survived"


def test_uncancel_before_the_task_runs(loop):
    task = loop.create_task(value("ran"))
    task.cancel()
    task.uncancel()
    if PY313:
        # 3.13: uncancel() down to zero withdraws the pending request.
        assert loop.run_until_complete(task) == "ran"
    else:
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)


def test_cancel_right_before_coroutine_returns(loop):
    async def returns_at_once():
        return "value"

    async def main():
        t = loop.create_task(returns_at_once())
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return t.cancelled()

    assert loop.run_until_complete(main()) is True


def test_cancel_inner_task_chain(loop):
    async def inner():
        await asyncio.sleep(10)

    async def outer(inner_task):
        await inner_task

    async def main():
        i = loop.create_task(inner())
        o = loop.create_task(outer(i))
        await asyncio.sleep(0)
        o.cancel()
        with pytest.raises(asyncio.CancelledError):
            await o
        return i.cancelled(), o.cancelled()

    assert loop.run_until_complete(main()) == (True, True)


def test_must_cancel_attribute(loop):
    task = loop.create_task(value(1))
    assert task._must_cancel is False
    task.cancel()
    assert task._must_cancel is True
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task._must_cancel is False


def test_cancelled_error_chained_from_coroutine(loop):
    async def raiser():
        raise asyncio.CancelledError("from inside")

    task = loop.create_task(raiser())
    with pytest.raises(asyncio.CancelledError) as info:
        loop.run_until_complete(task)
    assert task.cancelled()
    assert "from inside" in repr(info.value) or "from inside" in repr(info.value.__context__)


# ---- bad yields ----------------------------------------------------------------


@types.coroutine
def bad_yield(x):
    yield x


def test_bad_yield(loop):
    async def main():
        await bad_yield(1)

    with pytest.raises(RuntimeError, match="^Task got bad yield: 1$"):
        loop.run_until_complete(loop.create_task(main()))


def test_yield_generator(loop):
    def gen():
        yield

    async def main():
        await bad_yield(gen())

    with pytest.raises(RuntimeError, match="yield was used instead of yield from for generator"):
        loop.run_until_complete(loop.create_task(main()))


def test_yield_future_without_yield_from(loop):
    async def main():
        fut = loop.create_future()
        await bad_yield(fut)

    with pytest.raises(RuntimeError, match="yield was used instead of yield from in task"):
        loop.run_until_complete(loop.create_task(main()))


def test_bare_yield_gives_one_iteration(loop):
    order = []

    async def main():
        loop.call_soon(order.append, "callback")
        await bad_yield(None)
        order.append("task")

    loop.run_until_complete(loop.create_task(main()))
    assert order == ["callback", "task"]


def test_task_awaits_itself(loop):
    async def main():
        await asyncio.current_task()

    with pytest.raises(RuntimeError, match="Task cannot await on itself"):
        loop.run_until_complete(loop.create_task(main()))


# ---- reports -------------------------------------------------------------------


def test_destroyed_pending_task_is_reported(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def forever():
        await loop.create_future()

    task = loop.create_task(forever())
    run_once(loop)
    del task
    gc.collect()
    assert len(errors) == 1
    assert errors[0]["message"] == "Task was destroyed but it is pending!"
    assert asyncio.isfuture(errors[0]["task"])


def test_destroyed_pending_task_not_reported_if_told(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def forever():
        await loop.create_future()

    task = loop.create_task(forever())
    task._log_destroy_pending = False
    run_once(loop)
    del task
    gc.collect()
    assert errors == []


def test_task_exception_never_retrieved_is_reported(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

    async def fail():
        raise Boom("unseen")

    task = loop.create_task(fail())
    run_once(loop)
    del task
    gc.collect()
    assert len(errors) == 1
    assert errors[0]["message"] == "Task exception was never retrieved"
    assert isinstance(errors[0]["exception"], Boom)


def test_source_traceback_in_debug_mode(loop):
    loop.set_debug(True)
    task = loop.create_task(value(1))
    line = sys._getframe().f_lineno - 1
    assert task._source_traceback[-1][:3] == (__file__, line, "test_source_traceback_in_debug_mode")
    loop.run_until_complete(task)


def test_keyboard_interrupt_in_task_propagates(loop):
    async def interrupt():
        raise KeyboardInterrupt

    task = loop.create_task(interrupt())
    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(task)
    assert task.done()
    assert isinstance(task.exception(), KeyboardInterrupt)
    # The loop is still usable.
    assert loop.run_until_complete(value(2)) == 2


def test_debug_mode_tasks_work(loop):
    loop.set_debug(True)

    async def main():
        fut = loop.create_future()
        loop.call_soon(fut.set_result, 1)
        a = await fut
        b = await asyncio.gather(value(2), value(3))
        return a, b

    assert loop.run_until_complete(main()) == (1, [2, 3])


# ---- what asyncio builds on tasks ------------------------------------------------


def test_gather(loop):
    async def fail():
        raise Boom()

    async def main():
        ok = await asyncio.gather(*(value(i) for i in range(10)))
        mixed = await asyncio.gather(value(1), fail(), return_exceptions=True)
        return ok, [type(x) for x in mixed]

    assert loop.run_until_complete(main()) == (list(range(10)), [int, Boom])


def test_gather_cancel(loop):
    async def main():
        g = asyncio.gather(asyncio.sleep(10), asyncio.sleep(10))
        await asyncio.sleep(0)
        g.cancel()
        with pytest.raises(asyncio.CancelledError):
            await g

    loop.run_until_complete(main())


def test_wait_for(loop):
    async def main():
        fast = await asyncio.wait_for(value("fast"), timeout=10)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
        return fast

    assert loop.run_until_complete(main()) == "fast"


def test_wait(loop):
    async def main():
        tasks = [loop.create_task(value(i, yields=10 * i)) for i in range(3)]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        assert [t.result() for t in done] == [0]
        assert len(pending) == 2
        done, pending = await asyncio.wait(tasks)
        return sorted(t.result() for t in done), pending

    assert loop.run_until_complete(main()) == ([0, 1, 2], set())


def test_shield(loop):
    async def main():
        inner = loop.create_task(value("shielded", yields=3))
        outer = asyncio.shield(inner)
        await asyncio.sleep(0)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        return await inner

    assert loop.run_until_complete(main()) == "shielded"


def test_as_completed(loop):
    async def main():
        out = []
        for fut in asyncio.as_completed([value(i, yields=3 - i) for i in range(3)]):
            out.append(await fut)
        return out

    assert loop.run_until_complete(main()) == [2, 1, 0]


def test_timeout(loop):
    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        async with asyncio.timeout(10):
            return await value("in time")

    assert loop.run_until_complete(main()) == "in time"


def test_taskgroup(loop):
    async def fail():
        await asyncio.sleep(0)
        raise Boom()

    async def main():
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(value(i)) for i in range(5)]
        results = [t.result() for t in tasks]
        with pytest.raises(ExceptionGroup) as info:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fail())
                slow = tg.create_task(asyncio.sleep(10))
        assert slow.cancelled()
        return results, [type(e) for e in info.value.exceptions]

    assert loop.run_until_complete(main()) == ([0, 1, 2, 3, 4], [Boom])


def test_to_thread(loop):
    async def main():
        return await asyncio.to_thread(sum, [1, 2, 3])

    assert loop.run_until_complete(main()) == 6


def test_locks_events_conditions_semaphores(loop):
    async def main():
        lock = asyncio.Lock()
        event = asyncio.Event()
        cond = asyncio.Condition()
        sem = asyncio.Semaphore(2)
        log = []

        async def locked(i):
            async with lock:
                log.append(("lock", i))
                await asyncio.sleep(0)

        async def waiter():
            await event.wait()
            log.append("event")

        async def cond_waiter():
            async with cond:
                await cond.wait()
                log.append("cond")

        async def limited(i):
            async with sem:
                log.append(("sem", i, sem.locked()))
                await asyncio.sleep(0)

        w = loop.create_task(waiter())
        c = loop.create_task(cond_waiter())
        await asyncio.gather(*(locked(i) for i in range(3)))
        await asyncio.sleep(0)
        event.set()
        async with cond:
            cond.notify_all()
        await asyncio.gather(w, c, *(limited(i) for i in range(3)))
        return log

    log = loop.run_until_complete(main())
    assert log[:3] == [("lock", 0), ("lock", 1), ("lock", 2)]
    assert set(log[3:5]) == {"event", "cond"}
    assert [entry[:2] for entry in log[5:]] == [("sem", 0), ("sem", 1), ("sem", 2)]


def test_queue(loop):
    async def main():
        q = asyncio.Queue(maxsize=2)
        got = []

        async def producer():
            for i in range(10):
                await q.put(i)
            await q.put(None)

        async def consumer():
            while (item := await q.get()) is not None:
                got.append(item)

        await asyncio.gather(producer(), consumer())
        return got

    assert loop.run_until_complete(main()) == list(range(10))


def test_asyncio_run_on_the_loop(loop_factory):
    async def main():
        return await asyncio.gather(value(1), value(2))

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        assert runner.run(main()) == [1, 2]


# ---- eager tasks (3.12+) -------------------------------------------------------


needs_eager = pytest.mark.skipif(not PY312, reason="eager tasks are new in 3.12")


def task_class(loop):
    return type(loop.create_future()) is fastloop.Future and fastloop.Task or asyncio.Task


@needs_eager
def test_eager_task_completes_synchronously(loop):
    Task = task_class(loop)

    async def quick():
        return asyncio.current_task()

    async def main():
        t = Task(quick(), loop=loop, eager_start=True)
        assert t.done()
        assert t.result() is t
        if Task is fastloop.Task:
            # Stock asyncio crashes here on the 3.12 releases before the fix
            # of python/cpython#122332 (get_coro() of an eager task that
            # finished at once); fixed releases give None, as asyncio documents.
            assert t.get_coro() is None
        return t

    loop.run_until_complete(main())


@needs_eager
def test_eager_task_runs_until_first_suspension(loop):
    Task = task_class(loop)
    order = []

    async def eager():
        order.append("eager start")
        await asyncio.sleep(0)
        order.append("eager end")
        return "done"

    async def main():
        t = Task(eager(), loop=loop, eager_start=True)
        order.append("created")
        assert not t.done()
        assert t in asyncio.all_tasks()
        assert asyncio.current_task() is not t
        return await t

    assert loop.run_until_complete(main()) == "done"
    assert order == ["eager start", "created", "eager end"]


@needs_eager
def test_eager_start_outside_running_loop_is_lazy(loop):
    Task = task_class(loop)
    started = []

    async def coro():
        started.append(True)

    t = Task(coro(), loop=loop, eager_start=True)
    assert started == []
    loop.run_until_complete(t)
    assert started == [True]


@needs_eager
@pytest.mark.parametrize("factory", ["asyncio.eager_task_factory", "create_eager_task_factory"])
def test_eager_task_factory(loop, factory):
    if factory == "asyncio.eager_task_factory":
        loop.set_task_factory(asyncio.eager_task_factory)
    else:
        loop.set_task_factory(asyncio.create_eager_task_factory(task_class(loop)))
    order = []

    async def child(i):
        order.append(("start", i))
        await asyncio.sleep(0)
        order.append(("end", i))
        return i

    async def main():
        tasks = [asyncio.create_task(child(i)) for i in range(3)]
        order.append("created")
        return await asyncio.gather(*tasks)

    assert loop.run_until_complete(main()) == [0, 1, 2]
    assert order[:4] == [("start", 0), ("start", 1), ("start", 2), "created"]


@needs_eager
def test_eager_task_exception_and_cancel(loop):
    Task = task_class(loop)

    async def fail():
        raise Boom()

    async def main():
        t = Task(fail(), loop=loop, eager_start=True)
        assert t.done() and isinstance(t.exception(), Boom)
        s = Task(asyncio.sleep(10), loop=loop, eager_start=True)
        s.cancel()
        with pytest.raises(asyncio.CancelledError):
            await s

    loop.run_until_complete(main())


@needs_eager
def test_eager_task_in_taskgroup(loop):
    loop.set_task_factory(asyncio.eager_task_factory)

    async def main():
        async with asyncio.TaskGroup() as tg:
            a = tg.create_task(value(1, yields=0))
            b = tg.create_task(value(2, yields=2))
        return a.result(), b.result()

    assert loop.run_until_complete(main()) == (1, 2)


def test_task_constructor_on_fastloop():
    """fastloop.Task takes what asyncio.Task takes."""
    lp = fastloop.new_event_loop()
    try:
        ctx = contextvars.copy_context()
        t = fastloop.Task(value(1), loop=lp, name="n", context=ctx)
        assert t.get_name() == "n" and t.get_context() is ctx
        assert lp.run_until_complete(t) == 1
        coro = value(1)
        with pytest.raises(TypeError):
            fastloop.Task(coro, lp)
        coro.close()
        kwargs = {"eager_start": False}
        if PY312:
            t = fastloop.Task(value(2), loop=lp, **kwargs)
            assert lp.run_until_complete(t) == 2
        else:
            coro = value(2)
            with pytest.raises(TypeError):
                fastloop.Task(coro, loop=lp, **kwargs)
            coro.close()
    finally:
        lp.close()


@pytest.mark.filterwarnings("ignore:coroutine 'value' was never awaited:RuntimeWarning")
def test_pending_task_dropped_by_close_is_reported(loop_factory):
    lp = loop_factory()
    errors = []
    lp.set_exception_handler(lambda l, ctx: errors.append(ctx["message"]))
    task = lp.create_task(value(1))
    assert task in asyncio.all_tasks(lp)
    lp.close()
    del task
    gc.collect()
    assert errors == ["Task was destroyed but it is pending!"]
    assert asyncio.all_tasks(lp) == set()


def test_all_tasks_sees_tasks_in_every_state(loop):
    async def sleeper():
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    async def waiter(fut):
        await fut

    async def main():
        fut = loop.create_future()
        created = loop.create_task(sleeper())
        waiting = loop.create_task(waiter(fut))
        me = asyncio.current_task()
        assert asyncio.all_tasks() == {me, created, waiting}
        await asyncio.sleep(0)  # both ran once: one re-queued, one waiting
        assert asyncio.all_tasks() == {me, created, waiting}
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert created.done()
        assert asyncio.all_tasks() == {me, waiting}
        fut.set_result(None)
        await waiting
        return asyncio.all_tasks() == {me}

    assert loop.run_until_complete(main()) is True


@pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning")
@pytest.mark.filterwarnings("ignore:coroutine 'value' was never awaited:RuntimeWarning")
def test_pending_task_of_an_unclosed_loop_that_is_collected(loop_factory):
    errors = []
    lp = loop_factory()
    lp.set_exception_handler(lambda l, ctx: errors.append(ctx["message"]))
    task = lp.create_task(value(1))
    del lp, task
    gc.collect()
    assert errors == ["Task was destroyed but it is pending!"]


@pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning")
@pytest.mark.filterwarnings("ignore:coroutine 'value' was never awaited:RuntimeWarning")
def test_tasks_queued_when_the_loop_stops_stay_tracked_and_collectable(loop_factory):
    errors = []
    lp = loop_factory()
    lp.set_exception_handler(lambda l, ctx: errors.append(ctx["message"]))

    async def spawn():
        return lp.create_task(value(1, yields=5))

    task = lp.run_until_complete(spawn())  # stops with the new task's first step queued
    assert task in asyncio.all_tasks(lp)
    del lp, task
    gc.collect()
    assert errors == ["Task was destroyed but it is pending!"]
