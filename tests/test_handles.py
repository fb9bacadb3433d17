"""Handle and TimerHandle: cancel, cancelled, when, get_context, repr,
comparison and hashing, as asyncio has them."""

import asyncio
import contextvars
import functools
import re
import sys
import weakref

import pytest

import fastloop


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def plain():
    pass


def with_args(a, b):
    pass


class Callbacks:
    def method(self):
        pass

    @staticmethod
    def static():
        pass


async def coro_func():
    pass


def test_cancel_and_cancelled(loop):
    h = loop.call_soon(plain)
    t = loop.call_later(10, plain)
    assert not h.cancelled() and not t.cancelled()
    h.cancel()
    t.cancel()
    assert h.cancelled() and t.cancelled()
    h.cancel()
    t.cancel()
    assert h.cancelled() and t.cancelled()


def test_cancel_drops_the_callback_and_its_arguments(loop):
    class Arg:
        pass

    arg = Arg()
    ref = weakref.ref(arg)
    h = loop.call_soon(with_args, arg, 2)
    t = loop.call_later(10, with_args, arg, 3)
    del arg
    assert ref() is not None
    h.cancel()
    t.cancel()
    assert ref() is None


def test_cancel_may_run_finalizers_that_schedule_more(loop):
    """Dropping the callback's arguments in cancel() runs their __del__,
    which may use the loop, even cancel the same handle again."""
    calls = []
    box = []

    class Arg:
        def __del__(self):
            box[0].cancel()
            loop.call_soon(calls.append, "from __del__")

    for make in (lambda a: loop.call_soon(with_args, a, 1), lambda a: loop.call_later(10, with_args, a, 1)):
        box[:] = [make(Arg())]
        box[0].cancel()
        assert box[0].cancelled()
    run_once(loop)
    assert calls == ["from __del__", "from __del__"]


def test_handle_after_run_can_still_be_cancelled(loop):
    h = loop.call_soon(plain)
    run_once(loop)
    assert not h.cancelled()
    h.cancel()
    assert h.cancelled()


def test_when(loop):
    now = loop.time()
    t = loop.call_at(now + 10, plain)
    assert t.when() == now + 10
    t2 = loop.call_later(10, plain)
    assert now + 10 <= t2.when() <= loop.time() + 10
    t.cancel()
    t2.cancel()
    assert t.when() == now + 10


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.Handle.get_context() is new in 3.12")
def test_get_context(loop):
    ctx = contextvars.Context()
    assert loop.call_soon(plain, context=ctx).get_context() is ctx
    assert loop.call_later(1, plain, context=ctx).get_context() is ctx
    assert loop.call_at(1, plain, context=ctx).get_context() is ctx
    assert loop.call_soon_threadsafe(plain, context=ctx).get_context() is ctx
    default = loop.call_soon(plain).get_context()
    assert isinstance(default, contextvars.Context)
    assert default is not contextvars.copy_context()


def test_get_context_on_fastloop_before_312():
    """fastloop's handles have get_context() on every Python version."""
    loop = fastloop.new_event_loop()
    try:
        ctx = contextvars.Context()
        assert loop.call_soon(plain, context=ctx).get_context() is ctx
        assert loop.call_later(1, plain, context=ctx).get_context() is ctx
    finally:
        loop.close()


def test_handles_are_weakly_referenceable_and_hashable(loop):
    h = loop.call_soon(plain)
    t = loop.call_later(10, plain)
    assert weakref.ref(h)() is h
    assert weakref.ref(t)() is t
    assert {h: 1}[h] == 1
    assert hash(t) == hash(t.when())


def test_timer_handle_ordering_and_equality(loop):
    now = loop.time()
    a = loop.call_at(now + 1, plain)
    b = loop.call_at(now + 2, plain)
    a2 = loop.call_at(now + 1, plain)
    c = loop.call_at(now + 1, with_args, 1, 2)
    assert a < b and b > a and a <= b and b >= a
    assert a == a2 and a <= a2 and a >= a2 and not (a != a2)
    assert a != c and not (a == c)
    assert not (a < a2) and not (a > a2)
    a2.cancel()
    assert a != a2
    assert a.__eq__(object()) is NotImplemented
    assert (a == object()) is False


# ---- repr -------------------------------------------------------------------

ADDRESS = re.compile(r"0x[0-9a-f]+")


def _reprs(make, debug):
    """repr() of the handle that make(loop) returns, on stock asyncio and on
    fastloop, with object addresses blanked out.  Both handles are made on
    the same source line so 'created at' agrees too."""
    loops = [asyncio.new_event_loop(), fastloop.new_event_loop()]
    try:
        for lp in loops:
            lp.set_debug(debug)
        handles = [make(lp) for lp in loops]
        return [ADDRESS.sub("0x?", repr(h)) for h in handles], handles
    finally:
        for lp in loops:
            lp.close()


CASES = {
    "function": lambda lp: lp.call_soon(plain),
    "args": lambda lp: lp.call_soon(with_args, 1, "two"),
    "long args": lambda lp: lp.call_soon(with_args, "x" * 200, list(range(100))),
    "builtin": lambda lp: lp.call_soon(print, "hi"),
    "lambda": lambda lp: lp.call_soon(lambda: None),
    "bound method": lambda lp: lp.call_soon(Callbacks().method),
    "staticmethod": lambda lp: lp.call_soon(Callbacks.static),
    "partial": lambda lp: lp.call_soon(functools.partial(with_args, 1), 2),
    "partial kw": lambda lp: lp.call_soon(functools.partial(with_args, b=2), 1),
    "not callable": lambda lp: lp.call_soon(42),
    "threadsafe": lambda lp: lp.call_soon_threadsafe(plain),
    "timer": lambda lp: lp.call_at(12345.5, with_args, 1, 2),
    "timer int when": lambda lp: lp.call_at(7, plain),
    "timer cancelled": lambda lp: _cancelled(lp.call_at(12345.5, plain)),
    "cancelled": lambda lp: _cancelled(lp.call_soon(plain)),
}


def _cancelled(h):
    h.cancel()
    return h


@pytest.mark.parametrize("debug", [False, True], ids=["nodebug", "debug"])
@pytest.mark.parametrize("case", list(CASES))
def test_repr_matches_asyncio(case, debug):
    """Same text on both loops, in and out of debug mode, for callbacks of
    every kind."""
    if debug and case == "not callable":
        pytest.skip("debug mode refuses a non-callable callback at once (see test_call_soon)")
    (stock, fast), handles = _reprs(CASES[case], debug)
    assert fast == stock
    assert fast.startswith("<TimerHandle " if "timer" in case else "<Handle ")


def test_repr_shows_the_source_line(loop):
    h = loop.call_soon(plain)
    code = plain.__code__
    assert repr(h) == f"<Handle plain() at {code.co_filename}:{code.co_firstlineno}>"
    h.cancel()
    assert repr(h) == "<Handle cancelled>"
    t = loop.call_at(10.5, with_args, 1, 2)
    code = with_args.__code__
    # asyncio 3.13 shows a callback's arguments in debug mode only.
    shown_args = "1, 2" if sys.version_info < (3, 13) else ""
    assert repr(t) == (
        f"<TimerHandle when=10.5 with_args({shown_args}) at {code.co_filename}:{code.co_firstlineno}>"
    )
    t.cancel()
    assert repr(t) == "<TimerHandle cancelled when=10.5>"


def test_debug_repr_says_where_the_handle_was_created(loop):
    loop.set_debug(True)
    line = sys._getframe().f_lineno + 1
    h = loop.call_soon(plain)
    assert repr(h).endswith(f" created at {__file__}:{line}>")
    line = sys._getframe().f_lineno + 1
    t = loop.call_later(10, plain)
    assert repr(t).endswith(f" created at {__file__}:{line}>")
    # A handle cancelled in debug mode keeps its description.
    before = repr(t)
    t.cancel()
    assert repr(t) == before.replace("<TimerHandle ", "<TimerHandle cancelled ", 1)
    assert h._source_traceback[-1].lineno == line - 3
    assert h._source_traceback[-1].filename == __file__


def deep_call_soon(loop, depth):
    if depth:
        return deep_call_soon(loop, depth - 1)
    return loop.call_soon(plain), loop.call_later(10, plain), loop.call_at(10, plain)


def test_debug_source_traceback_depth(loop):
    """asyncio keeps DEBUG_STACK_DEPTH (10) frames counted from inside its
    own methods, then drops its own frames: 8 caller frames for call_soon
    and call_at, 7 for call_later."""
    loop.set_debug(True)
    soon, later, at = deep_call_soon(loop, 20)
    for h in (soon, later, at):
        assert all(f.name == "deep_call_soon" for f in h._source_traceback)
    assert len(soon._source_traceback) == 8
    assert len(at._source_traceback) == 8
    assert len(later._source_traceback) == 7
    for h in (soon, later, at):
        h.cancel()
