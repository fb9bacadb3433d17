"""Futures made by loop.create_future(): asyncio.Future's API and behaviour.

Every test here runs on stock asyncio and on fastloop (the `loop` fixture);
on fastloop the futures are fastloop.Future, whose callbacks go straight
into the loop's ready queue.  The last part checks the mix of fastloop's
and asyncio's futures and tasks, which must work both ways.
"""

import asyncio
import concurrent.futures
import contextvars
import gc
import re
import sys
import threading
import types

import pytest

import fastloop

var = contextvars.ContextVar("var", default="unset")


class Boom(Exception):
    pass


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


# ---- state and results ----------------------------------------------------


def test_pending_future(loop):
    fut = loop.create_future()
    assert asyncio.isfuture(fut)
    assert not fut.done() and not fut.cancelled()
    assert fut.get_loop() is loop
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    with pytest.raises(asyncio.InvalidStateError):
        fut.exception()
    assert fut._state == "PENDING"


def test_set_result(loop):
    fut = loop.create_future()
    fut.set_result([1])
    assert fut.done() and not fut.cancelled()
    assert fut.result() == [1]
    assert fut.exception() is None
    assert fut._state == "FINISHED"
    with pytest.raises(asyncio.InvalidStateError):
        fut.set_result(2)
    with pytest.raises(asyncio.InvalidStateError):
        fut.set_exception(Boom())
    assert fut.result() == [1]


def test_set_exception(loop):
    fut = loop.create_future()
    exc = Boom("x")
    fut.set_exception(exc)
    assert fut.done()
    assert fut.exception() is exc
    with pytest.raises(Boom) as info:
        fut.result()
    assert info.value is exc


def test_set_exception_class_is_instantiated(loop):
    fut = loop.create_future()
    fut.set_exception(Boom)
    assert type(fut.exception()) is Boom


@pytest.mark.parametrize("bad", [1, "x", object(), Boom()], ids=["int", "str", "object", "none"])
def test_set_exception_refuses_non_exceptions(loop, bad):
    fut = loop.create_future()
    if isinstance(bad, Boom):
        bad = Boom  # an exception class is fine, as a control
        fut.set_exception(bad)
        return
    with pytest.raises(TypeError, match="^invalid exception object$"):
        fut.set_exception(bad)
    assert not fut.done()


def test_set_exception_stop_iteration(loop):
    fut = loop.create_future()
    stop = StopIteration(1)
    if sys.version_info >= (3, 13):
        # 3.13 keeps it as the cause of a RuntimeError.
        fut.set_exception(stop)
        exc = fut.exception()
        assert type(exc) is RuntimeError
        assert "StopIteration interacts badly" in str(exc)
        assert exc.__cause__ is stop
    else:
        with pytest.raises(TypeError, match="StopIteration interacts badly with generators"):
            fut.set_exception(stop)
        assert not fut.done()


def test_exception_traceback_is_the_one_it_was_set_with(loop):
    def fail():
        raise Boom("deep")

    try:
        fail()
    except Boom as e:
        exc = e
    fut = loop.create_future()
    fut.set_exception(exc)
    names = []
    with pytest.raises(Boom) as info:
        fut.result()
    tb = info.value.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert names[-1] == "fail"


def test_cancel(loop):
    fut = loop.create_future()
    assert fut.cancel() is True
    assert fut.cancelled() and fut.done()
    assert fut.cancel() is False
    assert fut._state == "CANCELLED"
    with pytest.raises(asyncio.CancelledError):
        fut.result()
    with pytest.raises(asyncio.CancelledError):
        fut.exception()


def test_cancel_message(loop):
    fut = loop.create_future()
    assert fut.cancel(msg="why")
    assert fut._cancel_message == "why"
    with pytest.raises(asyncio.CancelledError) as info:
        fut.result()
    assert info.value.args == ("why",)
    fut2 = loop.create_future()
    fut2.cancel("positional")
    with pytest.raises(asyncio.CancelledError, match="positional"):
        fut2.exception()


def test_cancel_done_future(loop):
    fut = loop.create_future()
    fut.set_result(1)
    assert fut.cancel() is False
    assert not fut.cancelled()


def test_get_loop_and_loop_attribute(loop):
    fut = loop.create_future()
    assert fut.get_loop() is loop
    assert fut._loop is loop


def test_class_getitem(loop):
    cls = type(loop.create_future())
    alias = cls[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__args__ == (int,)


def test_log_traceback_attribute(loop):
    fut = loop.create_future()
    fut.set_exception(Boom())
    assert fut._log_traceback is True
    with pytest.raises(ValueError, match="_log_traceback can only be set to False"):
        fut._log_traceback = True
    fut._log_traceback = False
    assert fut._log_traceback is False


def test_asyncio_future_blocking_attribute(loop):
    fut = loop.create_future()
    assert fut._asyncio_future_blocking is False
    fut._asyncio_future_blocking = True
    assert fut._asyncio_future_blocking is True
    with pytest.raises(AttributeError):
        del fut._asyncio_future_blocking
    fut.cancel()


# ---- callbacks ---------------------------------------------------------------


def test_callbacks_run_later_in_order(loop):
    fut = loop.create_future()
    calls = []
    for i in range(5):
        fut.add_done_callback(lambda f, i=i: calls.append((i, f)))
    fut.set_result(None)
    assert calls == []  # never synchronously
    run_once(loop)
    assert calls == [(i, fut) for i in range(5)]


def test_callbacks_are_fifo_with_call_soon(loop):
    fut = loop.create_future()
    order = []
    fut.add_done_callback(lambda f: order.append("cb1"))
    fut.add_done_callback(lambda f: order.append("cb2"))
    loop.call_soon(order.append, "before")
    fut.set_result(None)
    loop.call_soon(order.append, "after")
    run_once(loop)
    assert order == ["before", "cb1", "cb2", "after"]


def test_callback_added_to_done_future_is_scheduled(loop):
    fut = loop.create_future()
    fut.set_result(3)
    calls = []
    fut.add_done_callback(lambda f: calls.append(f.result()))
    assert calls == []
    run_once(loop)
    assert calls == [3]


def test_callback_context(loop):
    fut = loop.create_future()
    seen = []
    ctx = contextvars.Context()
    ctx.run(var.set, "explicit")
    fut.add_done_callback(lambda f: seen.append(var.get()), context=ctx)
    token = var.set("current")
    try:
        fut.add_done_callback(lambda f: seen.append(var.get()))
    finally:
        var.reset(token)
    fut.add_done_callback(lambda f: seen.append(var.get()), context=None)
    fut.set_result(None)
    run_once(loop)
    assert seen == ["explicit", "current", "unset"]


def test_callback_runs_in_a_copy_of_the_context(loop):
    fut = loop.create_future()

    def setter(f):
        var.set("changed by callback")

    fut.add_done_callback(setter)
    fut.set_result(None)
    run_once(loop)
    assert var.get() == "unset"


@pytest.mark.parametrize("debug", [False, True], ids=["normal", "debug"])
def test_callbacks_added_with_no_variable_set_each_get_their_own_context(loop, debug):
    loop.set_debug(debug)
    fut = loop.create_future()
    seen = []

    def setter(i):
        def callback(f):
            seen.append(var.get())
            var.set(i)
            seen.append(var.get())

        return callback

    def add_callbacks():
        for i in range(3):
            fut.add_done_callback(setter(i))

    contextvars.Context().run(add_callbacks)  # an empty context, whatever pytest sets
    fut.set_result(None)
    run_once(loop)
    assert seen == ["unset", 0, "unset", 1, "unset", 2]
    assert var.get() == "unset"


def test_callbacks_listing_shows_an_empty_context(loop):
    fut = loop.create_future()
    contextvars.Context().run(fut.add_done_callback, print)
    ((fn, ctx),) = fut._callbacks
    assert fn is print
    assert isinstance(ctx, contextvars.Context) and len(ctx) == 0
    fut.cancel()
    run_once(loop)


def test_callback_added_with_no_variable_set_that_raises_is_reported(loop):
    fut = loop.create_future()
    reports = []
    loop.set_exception_handler(lambda l, ctx: reports.append(ctx))

    def fail(f):
        var.set("set before failing")
        raise Boom("callback")

    contextvars.Context().run(fut.add_done_callback, fail)
    fut.set_result(None)
    run_once(loop)
    (report,) = reports
    assert isinstance(report["exception"], Boom)
    assert "fail" in repr(report["handle"])
    assert var.get() == "unset"


def test_cancel_schedules_callbacks(loop):
    fut = loop.create_future()
    seen = []
    fut.add_done_callback(lambda f: seen.append(f.cancelled()))
    fut.cancel()
    run_once(loop)
    assert seen == [True]


def test_remove_done_callback(loop):
    fut = loop.create_future()
    calls = []

    def a(f):
        calls.append("a")

    def b(f):
        calls.append("b")

    for cb in (a, b, a, b, a):
        fut.add_done_callback(cb)
    assert fut.remove_done_callback(a) == 3
    assert fut.remove_done_callback(a) == 0
    fut.set_result(None)
    run_once(loop)
    assert calls == ["b", "b"]


def test_remove_done_callback_uses_equality(loop):
    fut = loop.create_future()

    class Callback:
        def __init__(self, key):
            self.key = key
            self.called = 0

        def __call__(self, f):
            self.called += 1

        def __eq__(self, other):
            return isinstance(other, Callback) and other.key == self.key

        __hash__ = object.__hash__

    first, second = Callback(1), Callback(1)
    fut.add_done_callback(first)
    assert fut.remove_done_callback(second) == 1
    fut.set_result(None)
    run_once(loop)
    assert first.called == 0


def test_remove_first_callback_keeps_order_of_the_rest(loop):
    fut = loop.create_future()
    calls = []

    def first(f):
        calls.append(0)

    fut.add_done_callback(first)
    for i in range(1, 4):
        fut.add_done_callback(lambda f, i=i: calls.append(i))
    fut.remove_done_callback(first)
    fut.add_done_callback(lambda f: calls.append(4))
    fut.set_result(None)
    run_once(loop)
    assert calls == [1, 2, 3, 4]


def test_callbacks_attribute(loop):
    fut = loop.create_future()
    assert not fut._callbacks

    def cb(f):
        pass

    fut.add_done_callback(cb)
    fut.add_done_callback(cb)
    callbacks = fut._callbacks
    assert [fn for fn, ctx in callbacks] == [cb, cb]
    assert all(isinstance(ctx, contextvars.Context) for fn, ctx in callbacks)
    fut.set_result(None)
    assert not fut._callbacks
    run_once(loop)


def test_callback_error_goes_to_exception_handler(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    fut = loop.create_future()

    def bad(f):
        raise Boom("in callback")

    fut.add_done_callback(bad)
    fut.set_result(None)
    run_once(loop)
    assert len(errors) == 1
    ctx = errors[0]
    assert isinstance(ctx["exception"], Boom)
    assert ctx["message"].startswith("Exception in callback ")
    assert "bad" in ctx["message"]
    assert "handle" in ctx


def test_add_done_callback_on_closed_loop(loop):
    fut = loop.create_future()
    fut.add_done_callback(lambda f: None)
    loop.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        fut.set_result(1)


# ---- error reports -------------------------------------------------------------


def test_exception_never_retrieved_is_reported(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    fut = loop.create_future()
    exc = Boom("lost")
    fut.set_exception(exc)
    del fut
    gc.collect()
    assert len(errors) == 1
    assert errors[0]["message"] == "Future exception was never retrieved"
    assert errors[0]["exception"] is exc
    assert asyncio.isfuture(errors[0]["future"])


@pytest.mark.parametrize("how", ["exception", "result", "log_traceback", "cancel"])
def test_retrieved_exception_is_not_reported(loop, how):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    fut = loop.create_future()
    fut.set_exception(Boom())
    if how == "exception":
        fut.exception()
    elif how == "result":
        with pytest.raises(Boom):
            fut.result()
    elif how == "log_traceback":
        fut._log_traceback = False
    else:
        fut.cancel()
    del fut
    gc.collect()
    assert errors == []


def test_exception_never_retrieved_has_source_traceback_in_debug_mode(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    loop.set_debug(True)
    fut = loop.create_future()
    line = sys._getframe().f_lineno - 1
    tb = fut._source_traceback
    # The caller's frame, then (on stock asyncio) create_future()'s own.
    here = (__file__, line, "test_exception_never_retrieved_has_source_traceback_in_debug_mode")
    assert here in [entry[:3] for entry in tb[-2:]]
    fut.set_exception(Boom())
    del fut
    gc.collect()
    assert errors[0]["source_traceback"] is tb


def test_no_source_traceback_outside_debug_mode(loop):
    assert loop.create_future()._source_traceback is None


# ---- repr ------------------------------------------------------------------------


def test_repr(loop):
    fut = loop.create_future()
    assert repr(fut) == "<Future pending>"

    def my_callback(f):
        pass

    fut.add_done_callback(my_callback)
    assert re.fullmatch(r"<Future pending cb=\[.*my_callback\(\) at .+:\d+\]>", repr(fut))
    fut.set_result("r" * 100)
    assert re.fullmatch(r"<Future finished result='r+\.\.\.r+'>", repr(fut))
    fut = loop.create_future()
    fut.set_exception(Boom("e"))
    assert repr(fut) == "<Future finished exception=Boom('e')>"
    fut.exception()
    fut = loop.create_future()
    fut.cancel()
    assert repr(fut) == "<Future cancelled>"


def test_repr_of_future_awaited_by_a_task(loop):
    fut = loop.create_future()

    async def waiter():
        await fut

    task = loop.create_task(waiter())
    run_once(loop)
    assert re.fullmatch(r"<Future pending cb=\[Task\..*wakeup.*\(\).*\]>", repr(fut))
    assert "wait_for=<Future pending" in repr(task)
    fut.set_result(None)
    loop.run_until_complete(task)


# ---- awaiting ----------------------------------------------------------------


def test_await_result(loop):
    fut = loop.create_future()

    async def main():
        loop.call_soon(fut.set_result, "value")
        return await fut

    assert loop.run_until_complete(main()) == "value"


def test_await_done_future_does_not_suspend(loop):
    fut = loop.create_future()
    fut.set_result(1)
    steps = []

    async def main():
        loop.call_soon(steps.append, "other")
        r = await fut
        steps.append("after await")
        return r

    assert loop.run_until_complete(main()) == 1
    assert steps == ["after await", "other"]


def test_await_exception(loop):
    fut = loop.create_future()

    async def main():
        loop.call_soon(fut.set_exception, Boom("e"))
        await fut

    with pytest.raises(Boom, match="e"):
        loop.run_until_complete(main())


def test_await_cancelled_future_raises_with_message(loop):
    fut = loop.create_future()

    async def main():
        loop.call_soon(fut.cancel, "stop it")
        try:
            await fut
        except asyncio.CancelledError as e:
            return e.args

    assert loop.run_until_complete(main()) == ("stop it",)


def test_yield_from_without_task(loop):
    fut = loop.create_future()

    def gen():
        yield from fut

    with pytest.raises(RuntimeError, match="await wasn't used with future"):
        a, b = gen()
    fut.cancel()


def test_iterator_protocol(loop):
    fut = loop.create_future()
    it = fut.__await__()
    assert next(it) is fut
    assert fut._asyncio_future_blocking is True
    fut.set_result((1, 2))
    with pytest.raises(StopIteration) as info:
        it.send(None)
    assert info.value.value == (1, 2)


def test_iterator_throw(loop):
    fut = loop.create_future()
    it = iter(fut)
    with pytest.raises(Boom):
        it.throw(Boom("thrown"))
    with pytest.raises(TypeError):
        it.throw(list)
    fut.cancel()


def test_two_tasks_await_one_future(loop):
    fut = loop.create_future()

    async def waiter(i):
        return (i, await fut)

    async def main():
        tasks = [loop.create_task(waiter(i)) for i in range(3)]
        await asyncio.sleep(0)
        fut.set_result("x")
        return await asyncio.gather(*tasks)

    assert loop.run_until_complete(main()) == [(0, "x"), (1, "x"), (2, "x")]


# ---- loops, threads, executors ----------------------------------------------


def test_future_of_another_loop(loop, loop_factory):
    other = loop_factory()
    try:
        foreign = other.create_future()

        async def main():
            await foreign

        with pytest.raises(RuntimeError, match="attached to a different loop"):
            loop.run_until_complete(main())
    finally:
        other.close()


def test_run_until_complete_future_of_another_loop(loop, loop_factory):
    other = loop_factory()
    try:
        with pytest.raises(ValueError, match="The future belongs to a different loop"):
            loop.run_until_complete(other.create_future())
    finally:
        other.close()


def test_wrap_future(loop):
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        cf = ex.submit(lambda: 41 + 1)

        async def main():
            return await asyncio.wrap_future(cf)

        assert loop.run_until_complete(main()) == 42


def test_run_in_executor(loop):
    async def main():
        ok = await loop.run_in_executor(None, sum, [1, 2, 3])
        with pytest.raises(ZeroDivisionError):
            await loop.run_in_executor(None, lambda: 1 / 0)
        return ok

    assert loop.run_until_complete(main()) == 6


def test_run_coroutine_threadsafe(loop):
    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    results = []

    def thread():
        cf = asyncio.run_coroutine_threadsafe(add(2, 3), loop)
        results.append(cf.result(timeout=10))
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=thread)
    t.start()
    loop.run_forever()
    t.join()
    assert results == [5]


def test_set_result_from_thread_via_call_soon_threadsafe(loop):
    fut = loop.create_future()
    t = threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, "t"))

    async def main():
        t.start()
        return await fut

    assert loop.run_until_complete(main()) == "t"
    t.join()


def test_chain_future_between_loop_futures(loop):
    src = loop.create_future()
    dst = loop.create_future()
    asyncio.futures._chain_future(src, dst)
    src.set_result("chained")
    assert loop.run_until_complete(dst) == "chained"


# ---- mixing fastloop's and asyncio's futures and tasks -----------------------


class DuckFuture:
    """The Future protocol a Task relies on, and nothing else."""

    _asyncio_future_blocking = False

    def __init__(self, loop):
        self._loop = loop
        self._done = False
        self._result = None
        self._callbacks = []

    def get_loop(self):
        return self._loop

    def add_done_callback(self, fn, *, context=None):
        self._callbacks.append((fn, context))

    def done(self):
        return self._done

    def cancel(self, msg=None):
        return False

    def result(self):
        return self._result

    def set_result(self, value):
        self._done, self._result = True, value
        for fn, ctx in self._callbacks:
            self._loop.call_soon(fn, self, context=ctx)

    def __await__(self):
        if not self._done:
            self._asyncio_future_blocking = True
            yield self
        return self._result


def test_task_awaits_duck_future(loop):
    duck = DuckFuture(loop)

    async def main():
        loop.call_soon(duck.set_result, "quack")
        return await duck

    assert loop.run_until_complete(main()) == "quack"


def test_task_awaits_stock_asyncio_future(loop):
    fut = asyncio.Future(loop=loop)

    async def main():
        loop.call_soon(fut.set_result, "stock")
        return await fut

    assert loop.run_until_complete(loop.create_task(main())) == "stock"


def test_stock_asyncio_task_awaits_loop_future(loop):
    fut = loop.create_future()

    async def main():
        loop.call_soon(fut.set_result, "ours")
        return await fut

    assert loop.run_until_complete(asyncio.Task(main(), loop=loop)) == "ours"


def test_stock_asyncio_task_awaits_cancelled_loop_future(loop):
    fut = loop.create_future()

    async def main():
        loop.call_soon(fut.cancel, "bye")
        await fut

    task = asyncio.Task(main(), loop=loop)
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_fastloop_future_on_any_loop(loop):
    """fastloop.Future works on stock asyncio's loop too (through call_soon)."""
    fut = fastloop.Future(loop=loop)
    calls = []
    fut.add_done_callback(calls.append)

    async def main():
        loop.call_soon(fut.set_result, 7)
        return await fut

    assert loop.run_until_complete(asyncio.Task(main(), loop=loop)) == 7
    run_once(loop)
    assert calls == [fut]


def test_fastloop_task_on_any_loop(loop):
    async def main():
        await asyncio.sleep(0)
        f = asyncio.Future(loop=loop)
        loop.call_soon(f.set_result, 8)
        return await f

    task = fastloop.Task(main(), loop=loop)
    assert loop.run_until_complete(task) == 8


def test_future_without_loop_uses_the_running_loop(loop):
    async def main():
        return fastloop.Future().get_loop()

    assert loop.run_until_complete(main()) is loop


def test_types_and_isinstance(loop_factory):
    """What README says about the types: fastloop's are their own classes,
    not subclasses of asyncio's, and asyncio.isfuture() holds for them."""
    lp = fastloop.new_event_loop()
    try:
        fut = lp.create_future()

        async def nothing():
            pass

        task = lp.create_task(nothing())
        assert type(fut) is fastloop.Future
        assert type(task) is fastloop.Task
        assert issubclass(fastloop.Task, fastloop.Future)
        assert asyncio.isfuture(fut) and asyncio.isfuture(task)
        assert not isinstance(fut, asyncio.Future)
        assert not isinstance(task, asyncio.Task)
        lp.run_until_complete(task)
    finally:
        lp.close()


def test_subclass(loop):
    class MyFuture(fastloop.Future):
        def __init__(self, *, loop=None):
            super().__init__(loop=loop)
            self.extra = "attribute"

    fut = MyFuture(loop=loop)
    assert fut.extra == "attribute"
    assert repr(fut) == "<MyFuture pending>"

    async def main():
        loop.call_soon(fut.set_result, 9)
        return await fut

    assert loop.run_until_complete(main()) == 9


def test_uninitialized_future():
    fut = fastloop.Future.__new__(fastloop.Future)
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    with pytest.raises(RuntimeError, match="not initialized"):
        fut.set_result(1)
    with pytest.raises(RuntimeError, match="not initialized"):
        fut.add_done_callback(print)
    with pytest.raises(RuntimeError, match="not initialized"):
        fut.get_loop()
    assert not fut.done() and not fut.cancelled()
