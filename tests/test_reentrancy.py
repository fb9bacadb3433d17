"""Futures and tasks called back into while they are busy.

Done-callbacks that cancel, add or remove callbacks while callbacks run;
__eq__ methods that change the callbacks remove_done_callback() is looking
at; __del__ methods that run in the middle of it all; coroutines that end
in unusual ways.  Nothing may crash, leak or lose a callback, and where
asyncio defines the outcome both loops must agree (the `loop` fixture runs
each test on both).
"""

import asyncio
import collections.abc
import gc
import weakref

import pytest

import fastloop


class Boom(Exception):
    pass


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


# ---- done-callbacks that touch callbacks ------------------------------------


def test_callback_removes_a_sibling_that_is_already_scheduled(loop):
    fut = loop.create_future()
    calls = []

    def second(f):
        calls.append("second")

    def first(f):
        calls.append(("removed", f.remove_done_callback(second)))

    fut.add_done_callback(first)
    fut.add_done_callback(second)
    fut.set_result(None)
    run_once(loop)
    # Once the future is done its callbacks are all scheduled: too late.
    assert calls == [("removed", 0), "second"]


def test_callback_adds_callbacks_to_its_done_future(loop):
    fut = loop.create_future()
    calls = []

    def first(f):
        calls.append("first")
        f.add_done_callback(lambda f: calls.append("added"))

    fut.add_done_callback(first)
    fut.add_done_callback(lambda f: calls.append("second"))
    fut.set_result(None)
    run_once(loop)
    assert calls == ["first", "second"]
    run_once(loop)
    assert calls == ["first", "second", "added"]


def test_callback_cancels_other_futures(loop):
    futs = [loop.create_future() for _ in range(3)]
    calls = []

    def cancel_rest(f):
        calls.append(("cancel", [g.cancel() for g in futs[1:]]))

    futs[0].add_done_callback(cancel_rest)
    for i, g in enumerate(futs[1:], 1):
        g.add_done_callback(lambda g, i=i: calls.append(("cancelled", i, g.cancelled())))
    futs[0].set_result(None)
    run_once(loop)
    run_once(loop)
    assert calls == [("cancel", [True, True]), ("cancelled", 1, True), ("cancelled", 2, True)]


def test_callback_cancels_the_task_it_is_about_to_wake(loop):
    fut = loop.create_future()

    async def waiter():
        await fut
        return "woke normally"

    # Added before the task waits, so it runs before the task's wake-up:
    # the task is asked to cancel with its wake-up already queued.
    fut.add_done_callback(lambda f: task.cancel())
    task = loop.create_task(waiter())
    run_once(loop)
    fut.set_result(None)
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_callback_sets_result_of_the_next_future_in_a_chain(loop):
    futs = [loop.create_future() for _ in range(50)]
    for a, b in zip(futs, futs[1:]):
        a.add_done_callback(lambda f, b=b: b.set_result(f.result() + 1))
    futs[0].set_result(0)
    assert loop.run_until_complete(futs[-1]) == 49


def test_callback_stops_the_loop(loop):
    fut = loop.create_future()
    calls = []
    fut.add_done_callback(lambda f: (calls.append(1), loop.stop()))
    fut.add_done_callback(lambda f: calls.append(2))
    fut.set_result(None)
    loop.run_forever()
    assert calls == [1, 2]


# ---- __eq__ that re-enters remove_done_callback ---------------------------


class EvilEq:
    """A callback whose __eq__ runs `action` the first time it is asked."""

    def __init__(self, action=None):
        self.action = action

    def __call__(self, fut):
        pass

    def __eq__(self, other):
        action, self.action = self.action, None
        if action is not None:
            action()
        return False

    __hash__ = object.__hash__


def fns(fut):
    return [fn for fn, ctx in (fut._callbacks or [])]


def test_eq_adds_a_callback(loop):
    fut = loop.create_future()
    added = EvilEq()
    evil = EvilEq(lambda: fut.add_done_callback(added))
    fut.add_done_callback(evil)
    assert fut.remove_done_callback(object()) == 0
    assert fns(fut) == [evil, added]
    fut.cancel()


def test_eq_removes_the_other_callbacks(loop):
    fut = loop.create_future()

    def plain(f):
        pass

    evil = EvilEq(lambda: fut.remove_done_callback(plain))
    fut.add_done_callback(evil)
    fut.add_done_callback(plain)
    fut.add_done_callback(plain)
    removed = fut.remove_done_callback(object())
    assert isinstance(removed, int) and removed >= 0
    assert plain not in fns(fut)
    assert evil in fns(fut)
    fut.cancel()


def test_eq_clears_every_callback_by_finishing_the_future(loop):
    fut = loop.create_future()
    calls = []
    evil = EvilEq(lambda: fut.set_result("done inside __eq__"))
    fut.add_done_callback(evil)
    for i in range(3):
        fut.add_done_callback(lambda f, i=i: calls.append(i))
    removed = fut.remove_done_callback(object())
    assert isinstance(removed, int)
    assert fut.done()
    run_once(loop)
    assert calls == [0, 1, 2]


def test_eq_raises(loop):
    fut = loop.create_future()

    def raiser():
        raise Boom("eq")

    evil = EvilEq(raiser)

    def plain(f):
        pass

    fut.add_done_callback(plain)
    fut.add_done_callback(evil)
    with pytest.raises(Boom):
        fut.remove_done_callback(object())
    assert fns(fut) == [plain, evil]
    fut.cancel()


def test_eq_drops_the_last_reference_to_the_callbacks(loop):
    fut = loop.create_future()
    fut.add_done_callback(EvilEq(lambda: fut.remove_done_callback(EvilAll())))
    fut.add_done_callback(EvilEq())
    gc.collect()
    fut.remove_done_callback(object())
    fut.cancel()
    run_once(loop)


class EvilAll:
    """Equal to every callback."""

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_remove_with_an_object_equal_to_everything(loop):
    fut = loop.create_future()
    for _ in range(5):
        fut.add_done_callback(lambda f: None)
    assert fut.remove_done_callback(EvilAll()) == 5
    assert not fut._callbacks


async def wait_on(fut):
    return await fut


def test_remove_callback_while_a_task_waits(loop):
    fut = loop.create_future()
    task = loop.create_task(wait_on(fut))
    run_once(loop)
    # The task's wake-up callable equals nothing but itself (as got from
    # _callbacks)...
    wakeup = fns(fut)[0]
    assert fut.remove_done_callback(lambda f: None) == 0
    assert fut.remove_done_callback(wakeup) == 1
    assert not fut._callbacks
    fut.set_result("never seen")
    run_once(loop)
    assert not task.done()
    # ...or an object that claims to equal everything.
    fut2 = loop.create_future()
    task2 = loop.create_task(wait_on(fut2))
    run_once(loop)
    assert fut2.remove_done_callback(EvilAll()) == 1
    # Nothing can wake these tasks any more.
    for t in (task, task2):
        t._log_destroy_pending = False


# ---- __del__ that re-enters --------------------------------------------------


class DelAction:
    def __init__(self, action):
        self.action = action

    def __call__(self, fut):
        pass

    def __del__(self):
        self.action()


def test_del_of_a_removed_callback_adds_a_callback(loop):
    fut = loop.create_future()
    calls = []
    fut.add_done_callback(DelAction(lambda: fut.add_done_callback(lambda f: calls.append("from del"))))
    assert fut.remove_done_callback(EvilAll()) == 1
    gc.collect()
    fut.set_result(None)
    run_once(loop)
    assert calls == ["from del"]


def test_del_of_a_result_touches_the_future(loop):
    fut = loop.create_future()
    other = loop.create_future()
    fut.set_result(DelAction(lambda: other.set_result("set in __del__")))
    del fut
    gc.collect()
    assert other.result() == "set in __del__"


def test_del_that_collects_garbage(loop):
    class Evil:
        def __del__(self):
            gc.collect()

    for _ in range(100):
        fut = loop.create_future()
        fut.set_result(Evil())
    del fut
    gc.collect()


def test_del_of_a_callback_context_while_scheduling(loop):
    calls = []
    fut = loop.create_future()
    for i in range(5):
        fut.add_done_callback(DelAction(lambda i=i: calls.append(i)))
    fut.set_result(None)
    run_once(loop)
    gc.collect()
    assert sorted(calls) == [0, 1, 2, 3, 4]


def test_exception_handler_keeps_the_unretrieved_future_alive(loop):
    kept = []
    loop.set_exception_handler(lambda lp, ctx: kept.append(ctx["future"]))
    fut = loop.create_future()
    fut.set_exception(Boom())
    ref = weakref.ref(fut)
    del fut
    gc.collect()
    assert len(kept) == 1 and kept[0] is ref()
    # Resurrected: still a working, done future, reported once only.
    assert isinstance(kept[0].exception(), Boom)
    kept.clear()
    gc.collect()
    assert ref() is None


def test_exception_handler_keeps_the_destroyed_task_alive(loop):
    kept = []
    loop.set_exception_handler(lambda lp, ctx: kept.append(ctx.get("task")))

    async def forever():
        await loop.create_future()

    task = loop.create_task(forever())
    run_once(loop)
    del task
    gc.collect()
    # Resurrected as it was: pending (its coroutine was finalized with it,
    # as on stock asyncio, so it cannot run again).
    assert len(kept) == 1 and not kept[0].done()
    kept.clear()
    gc.collect()


# ---- coroutines that end in unusual ways -----------------------------------


class StopAtFirstSend(collections.abc.Coroutine):
    """A coroutine-like object whose send() raises StopIteration(value)."""

    def __init__(self, value, steps=0):
        self.value = value
        self.steps = steps

    def send(self, arg):
        if self.steps:
            self.steps -= 1
            return None  # a bare yield
        raise StopIteration(self.value)

    def throw(self, *args):
        raise args[0] if len(args) == 1 else args[1]

    def close(self):
        pass

    def __await__(self):
        return self


def test_coroutine_object_raises_stop_iteration_at_first_send(loop):
    assert loop.run_until_complete(loop.create_task(StopAtFirstSend("v"))) == "v"


def test_coroutine_object_stops_after_bare_yields(loop):
    assert loop.run_until_complete(loop.create_task(StopAtFirstSend(("t", 1), steps=3))) == ("t", 1)


def test_coroutine_returns_at_first_send(loop):
    async def at_once():
        return "first"

    task = loop.create_task(at_once())
    assert loop.run_until_complete(task) == "first"


def test_coroutine_raising_stop_iteration_becomes_runtime_error(loop):
    async def bad():
        raise StopIteration("nope")

    task = loop.create_task(bad())
    with pytest.raises(RuntimeError, match="coroutine raised StopIteration"):
        loop.run_until_complete(task)


def test_coroutine_cancels_itself(loop):
    async def self_cancel():
        asyncio.current_task().cancel("self")
        await asyncio.sleep(0)
        return "not reached"

    task = loop.create_task(self_cancel())
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    assert task.cancelled()


def test_coroutine_swallows_every_cancel(loop):
    async def stubborn():
        for _ in range(5):
            try:
                await asyncio.sleep(0)
            except asyncio.CancelledError:
                asyncio.current_task().uncancel()
        return "kept going"

    async def main():
        t = loop.create_task(stubborn())
        for _ in range(5):
            await asyncio.sleep(0)
            t.cancel()
        return await t

    assert loop.run_until_complete(main()) == "kept going"


def test_task_result_refers_to_the_task(loop):
    async def me():
        return asyncio.current_task()

    task = loop.create_task(me())
    assert loop.run_until_complete(task) is task
    ref = weakref.ref(task)
    del task
    gc.collect()
    assert ref() is None


def test_task_reinitialised_from_its_own_coroutine_does_not_crash():
    lp = fastloop.new_event_loop()
    errors = []
    lp.set_exception_handler(lambda l, ctx: errors.append(ctx))
    try:
        async def other():
            return "other"

        async def reinit():
            me = asyncio.current_task()
            me.__init__(other(), loop=lp)
            await asyncio.sleep(0)
            return "first"

        task = lp.create_task(reinit())
        for _ in range(3):
            run_once(lp)
        # The new coroutine ran to the end; the old one's pending step then
        # finds the task done, which is reported, as asyncio reports it.
        assert task.result() == "other"
        assert any(isinstance(e.get("exception"), asyncio.InvalidStateError) for e in errors)
    finally:
        lp.close()


@pytest.mark.parametrize(
    "future_type", [asyncio.futures._PyFuture, fastloop.Future], ids=["asyncio-python", "fastloop"]
)
def test_reading_callbacks_while_garbage_collection_adds_callbacks(future_type):
    # Building the listing allocates, and any allocation may collect garbage
    # whose __del__ adds callbacks to the same future (growing its storage).
    # The reference is asyncio's Python Future: its C Future reads freed
    # memory here.
    loop = fastloop.new_event_loop()
    fut = future_type(loop=loop)
    added = [0]

    def noop(f):
        pass

    class AddsCallbacks:
        def __init__(self):
            self.cycle = self

        def __del__(self):
            added[0] += 1
            if added[0] < 200:
                for _ in range(64):
                    fut.add_done_callback(noop)
                AddsCallbacks()

    for _ in range(3):
        fut.add_done_callback(noop)
    AddsCallbacks()
    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        listings = [fut._callbacks for _ in range(5)]
    finally:
        gc.set_threshold(*old)
    added[0] = 200  # the objects still to be collected add nothing more
    gc.collect()
    assert all(fn is noop for listing in listings for fn, _ in listing)
    assert len(listings[0]) >= 3
    fut.cancel()
    run_once(loop)
    loop.close()


@pytest.mark.parametrize(
    "future_type", [asyncio.futures._PyFuture, fastloop.Future], ids=["asyncio-python", "fastloop"]
)
def test_call_soon_that_reinitializes_the_future_being_completed(future_type):
    # A loop whose call_soon runs the future's __init__ again, which fails
    # (no current loop): the other callbacks of this completion still go to
    # the loop it completed on, as with asyncio's Python Future.  (asyncio's
    # C Future drops them: its __init__ empties the list being scheduled.)
    scheduled = []

    class Loop(asyncio.SelectorEventLoop):
        def call_soon(self, callback, *args, context=None):
            scheduled.append(callback)
            with pytest.raises(RuntimeError):
                fut.__init__()
            return super().call_soon(callback, *args, context=context)

    lp = Loop()
    asyncio.set_event_loop(None)
    try:
        fut = future_type(loop=lp)
        fut.add_done_callback(print)
        fut.add_done_callback(repr)
        fut.set_result(1)
        assert scheduled == [print, repr]
    finally:
        lp.close()
