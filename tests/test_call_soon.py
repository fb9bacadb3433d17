"""call_soon: order, the one-iteration rule, arguments, contexts, bad input."""

import contextvars
import gc
import warnings

import pytest

var = contextvars.ContextVar("var", default="unset")


def run_once(loop):
    """Run exactly one iteration of a loop that is not running."""
    loop.call_soon(loop.stop)
    loop.run_forever()


def recording_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    return contexts


def test_fifo(loop):
    calls = []
    for i in range(1000):
        loop.call_soon(calls.append, i)
    run_once(loop)
    assert calls == list(range(1000))


def test_one_iteration_runs_only_callbacks_ready_when_it_began(loop):
    calls = []

    def first():
        calls.append("first")
        loop.call_soon(calls.append, "queued by first")

    loop.call_soon(first)
    loop.call_soon(calls.append, "second")
    run_once(loop)
    assert calls == ["first", "second"]
    run_once(loop)
    assert calls == ["first", "second", "queued by first"]


def test_callbacks_queued_while_running_go_after_earlier_ones(loop):
    calls = []

    def chain(n):
        calls.append(("chain", n))
        if n < 3:
            loop.call_soon(chain, n + 1)
        else:
            loop.stop()

    loop.call_soon(chain, 0)
    loop.call_soon(calls.append, "other")
    loop.run_forever()
    assert calls == [("chain", 0), "other", ("chain", 1), ("chain", 2), ("chain", 3)]


def test_queue_growing_while_running_keeps_order(loop):
    """Each callback queues two more: the queue grows while its head is in
    the middle of its storage, and order must still be first-in first-out
    (here: breadth-first)."""
    n = 50_000
    calls = []

    def cb(i):
        calls.append(i)
        for child in (2 * i + 1, 2 * i + 2):
            if child < n:
                loop.call_soon(cb, child)
        if len(calls) == n:
            loop.stop()

    loop.call_soon(cb, 0)
    loop.run_forever()
    assert calls == list(range(n))


def test_positional_arguments(loop):
    got = []
    loop.call_soon(lambda *a: got.append(a), 1, "two", None)
    loop.call_soon(lambda: got.append(()))
    run_once(loop)
    assert got == [(1, "two", None), ()]


def test_returns_handle(loop):
    h = loop.call_soon(print)
    assert not h.cancelled()
    h.cancel()
    assert h.cancelled()


def test_cancelled_handle_does_not_run(loop):
    calls = []
    h = loop.call_soon(calls.append, 1)
    loop.call_soon(calls.append, 2)
    h.cancel()
    run_once(loop)
    assert calls == [2]


def test_callback_cancels_a_later_handle_of_the_same_iteration(loop):
    calls = []
    later = None

    def first():
        calls.append(1)
        later.cancel()

    loop.call_soon(first)
    later = loop.call_soon(calls.append, 2)
    loop.call_soon(calls.append, 3)
    run_once(loop)
    assert calls == [1, 3]


def test_callback_cancels_its_own_handle(loop):
    calls = []
    box = []

    def cb(tag):
        calls.append(tag)
        box[0].cancel()
        calls.append(box[0].cancelled())

    box.append(loop.call_soon(cb, "x"))
    run_once(loop)
    assert calls == ["x", True]


# ---- contexts -----------------------------------------------------------


def test_default_context_is_a_copy_taken_at_call_time(loop):
    seen = []

    def cb():
        seen.append(var.get())
        var.set("changed inside")
        seen.append(var.get())

    token = var.set("at call time")
    try:
        loop.call_soon(cb)
        var.set("after the call")
        run_once(loop)
        assert seen == ["at call time", "changed inside"]
        # The callback's change stayed in its copy.
        assert var.get() == "after the call"
    finally:
        var.reset(token)


def test_each_default_context_is_a_separate_copy(loop):
    seen = []

    def setter():
        var.set("from setter")

    loop.call_soon(setter)
    loop.call_soon(lambda: seen.append(var.get()))
    run_once(loop)
    assert seen == ["unset"]


def test_explicit_context_is_used_and_changes_stay_in_it(loop):
    ctx = contextvars.copy_context()
    ctx.run(var.set, "in ctx")
    seen = []

    def cb():
        seen.append(var.get())
        var.set("set by cb")

    loop.call_soon(cb, context=ctx)
    loop.call_soon(lambda: seen.append(var.get()), context=ctx)
    run_once(loop)
    assert seen == ["in ctx", "set by cb"]
    assert ctx[var] == "set by cb"
    assert var.get() == "unset"


def test_context_none_means_copy_of_current(loop):
    seen = []
    token = var.set("current")
    try:
        loop.call_soon(lambda: seen.append(var.get()), context=None)
    finally:
        var.reset(token)
    run_once(loop)
    assert seen == ["current"]


def test_call_soon_threadsafe_takes_context(loop):
    ctx = contextvars.Context()
    ctx.run(var.set, "threadsafe ctx")
    seen = []
    loop.call_soon_threadsafe(lambda: seen.append(var.get()), context=ctx)
    run_once(loop)
    assert seen == ["threadsafe ctx"]


# ---- bad input ----------------------------------------------------------


def test_context_that_is_not_a_context(loop):
    """Not checked when scheduling; running the callback fails and the
    error goes to the exception handler (asyncio: AttributeError, no
    .run(); fastloop: TypeError, not a Context), and the loop goes on."""
    contexts = recording_handler(loop)
    calls = []
    loop.call_soon(calls.append, "bad ctx", context="not a context")
    loop.call_soon(calls.append, "next")
    run_once(loop)
    assert calls == ["next"]
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], (AttributeError, TypeError))


def test_missing_callback(loop):
    with pytest.raises(TypeError, match=r"call_soon\(\) missing"):
        loop.call_soon()
    with pytest.raises(TypeError, match=r"call_soon_threadsafe\(\) missing"):
        loop.call_soon_threadsafe()


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_unexpected_keyword(loop, method):
    with pytest.raises(TypeError, match=rf"{method}\(\) got an unexpected keyword argument 'foo'"):
        getattr(loop, method)(print, foo=1)


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_non_callable_is_accepted_and_fails_when_run(loop, method):
    """Without debug mode asyncio does not check the callback: the error is
    a TypeError from calling it, reported to the exception handler."""
    contexts = recording_handler(loop)
    h = getattr(loop, method)(42)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(contexts) == 1
    ctx = contexts[0]
    assert ctx["message"] == "Exception in callback 42()"
    assert isinstance(ctx["exception"], TypeError)
    assert "'int' object is not callable" in str(ctx["exception"])
    assert ctx["handle"] is h


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_coroutine_object_is_accepted_and_fails_when_run(loop, method):
    contexts = recording_handler(loop)

    async def coro_func():
        pass

    coro = coro_func()
    try:
        getattr(loop, method)(coro)
        run_once(loop)
    finally:
        coro.close()
    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], TypeError)
    assert "'coroutine' object is not callable" in str(contexts[0]["exception"])
    assert contexts[0]["message"] == f"Exception in callback {coro_func.__qualname__}()"


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_coroutine_function_is_called_and_its_coroutine_dropped(loop, method):
    """Without debug mode asyncio calls a coroutine function like any
    callable and drops the coroutine it returns: nothing reaches the
    exception handler; Python warns that the coroutine was never awaited."""
    contexts = recording_handler(loop)
    ran = []

    async def coro_func():
        ran.append(1)

    getattr(loop, method)(coro_func)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_once(loop)
        gc.collect()
    assert contexts == []
    assert ran == []
    assert any(
        issubclass(w.category, RuntimeWarning) and "was never awaited" in str(w.message)
        for w in caught
    )


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_debug_mode_rejects_non_callable_at_once(loop, method):
    loop.set_debug(True)
    with pytest.raises(TypeError) as info:
        getattr(loop, method)(42)
    assert str(info.value) == f"a callable object was expected by {method}(), got 42"


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_debug_mode_rejects_coroutines_at_once(loop, method):
    loop.set_debug(True)

    async def coro_func():
        pass

    with pytest.raises(TypeError) as info:
        getattr(loop, method)(coro_func)
    assert str(info.value) == f"coroutines cannot be used with {method}()"
    coro = coro_func()
    try:
        with pytest.raises(TypeError) as info:
            getattr(loop, method)(coro)
        assert str(info.value) == f"coroutines cannot be used with {method}()"
    finally:
        coro.close()


@pytest.mark.parametrize("method", ["call_soon", "call_soon_threadsafe"])
def test_closed_loop(loop, method):
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        getattr(loop, method)(print)


def test_handles_queued_before_close_are_dropped(loop):
    calls = []
    loop.call_soon(calls.append, 1)
    loop.close()
    assert calls == []
    assert loop.is_closed()
