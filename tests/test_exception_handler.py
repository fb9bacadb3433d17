"""Errors in callbacks: the exception handler API, the default handler's
log output, and KeyboardInterrupt/SystemExit propagating."""

import asyncio
import contextvars
import logging
import re
import sys

import pytest

import fastloop

var = contextvars.ContextVar("var", default="unset")


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def recording_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    return contexts


def failing(exc):
    raise exc


class CustomBaseException(BaseException):
    pass


def shown_args(text):
    """Outside debug mode asyncio 3.13 leaves a callback's arguments out of
    its description; earlier versions show them."""
    return text if sys.version_info < (3, 13) else ""


# ---- the handler API ----------------------------------------------------------


def test_set_and_get_exception_handler(loop):
    assert loop.get_exception_handler() is None

    def handler(lp, ctx):
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_set_exception_handler_refuses_non_callable(loop):
    with pytest.raises(TypeError, match=r"^A callable object or None is expected, got 1$"):
        loop.set_exception_handler(1)
    assert loop.get_exception_handler() is None


def test_callback_error_goes_to_handler_and_loop_goes_on(loop):
    contexts = recording_handler(loop)
    calls = []
    exc = ValueError("boom")
    h = loop.call_soon(failing, exc)
    loop.call_soon(calls.append, "after")
    run_once(loop)
    assert calls == ["after"]
    assert len(contexts) == 1
    ctx = contexts[0]
    code = failing.__code__
    assert ctx == {
        "message": f"Exception in callback failing({shown_args(repr(exc))}) at "
        f"{code.co_filename}:{code.co_firstlineno}",
        "exception": exc,
        "handle": h,
    }


def test_handler_receives_the_loop(loop):
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(lp))
    loop.call_soon(failing, ValueError())
    run_once(loop)
    assert seen == [loop]


def test_timer_error_goes_to_handler(loop):
    contexts = recording_handler(loop)
    t = loop.call_later(0, failing, KeyError("k"))
    run_once(loop)
    assert len(contexts) == 1
    assert contexts[0]["handle"] is t
    assert isinstance(contexts[0]["exception"], KeyError)


def test_base_exception_other_than_keyboard_interrupt_goes_to_handler(loop):
    contexts = recording_handler(loop)
    loop.call_soon(failing, CustomBaseException())
    loop.call_soon(failing, GeneratorExit())
    run_once(loop)
    assert [type(c["exception"]) for c in contexts] == [CustomBaseException, GeneratorExit]


def test_debug_mode_context_has_source_traceback(loop):
    loop.set_debug(True)
    contexts = recording_handler(loop)
    line = sys._getframe().f_lineno + 1
    h = loop.call_soon(failing, ValueError())
    run_once(loop)
    ctx = contexts[0]
    assert ctx["handle"] is h
    assert ctx["source_traceback"] is h._source_traceback
    assert ctx["source_traceback"][-1].lineno == line


def test_call_exception_handler_passes_the_context_through(loop):
    contexts = recording_handler(loop)
    ctx = {"message": "custom", "extra": object()}
    loop.call_exception_handler(ctx)
    assert contexts == [ctx]
    assert contexts[0] is ctx


def test_error_in_handler_is_logged_by_the_default_handler(loop, caplog):
    def bad_handler(lp, ctx):
        raise ZeroDivisionError("in handler")

    loop.set_exception_handler(bad_handler)
    calls = []
    loop.call_soon(failing, ValueError("cb"))
    loop.call_soon(calls.append, "after")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run_once(loop)
    assert calls == ["after"]
    records = [r for r in caplog.records if r.name == "asyncio"]
    assert len(records) == 1
    msg = records[0].getMessage()
    assert msg.startswith("Unhandled error in exception handler\ncontext: {'message': ")
    assert f"Exception in callback failing({shown_args(repr(ValueError('cb')))})" in msg
    assert isinstance(records[0].exc_info[1], ZeroDivisionError)


def test_keyboard_interrupt_in_handler_propagates(loop):
    def handler(lp, ctx):
        raise KeyboardInterrupt

    loop.set_exception_handler(handler)
    loop.call_soon(failing, ValueError())
    with pytest.raises(KeyboardInterrupt):
        run_once(loop)
    assert not loop.is_running()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="3.11 runs the handler in the caller's context")
def test_custom_handler_runs_in_the_handle_context(loop):
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(var.get()))
    ctx = contextvars.Context()
    ctx.run(var.set, "handle ctx")
    loop.call_soon(failing, ValueError(), context=ctx)
    run_once(loop)
    assert seen == ["handle ctx"]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 runs the handler in the handle's context")
def test_custom_handler_runs_in_the_caller_context_on_311(loop):
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(var.get()))
    ctx = contextvars.Context()
    ctx.run(var.set, "handle ctx")
    loop.call_soon(failing, ValueError(), context=ctx)
    run_once(loop)
    assert seen == ["unset"]


# ---- the default handler's log output -------------------------------------


def test_default_handler_logs_in_asyncio_format(loop, caplog):
    exc = ValueError("boom")
    h = loop.call_soon(failing, exc)
    calls = []
    loop.call_soon(calls.append, "after")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run_once(loop)
    assert calls == ["after"]
    records = [r for r in caplog.records if r.name == "asyncio"]
    assert len(records) == 1
    rec = records[0]
    assert rec.levelno == logging.ERROR
    code = failing.__code__
    src = f"{code.co_filename}:{code.co_firstlineno}"
    assert rec.getMessage() == (
        f"Exception in callback failing({shown_args(repr(exc))}) at {src}\nhandle: {h!r}"
    )
    assert rec.exc_info[1] is exc


def test_default_exception_handler_called_directly(loop, caplog):
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        loop.default_exception_handler({"zeta": 1, "alpha": "a"})
        loop.default_exception_handler({"message": "msg", "exception": KeyError("k")})
    msgs = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert msgs == ["Unhandled exception in event loop\nalpha: 'a'\nzeta: 1", "msg"]
    assert caplog.records[0].exc_info in (None, False) or caplog.records[0].exc_info[0] is None
    assert isinstance(caplog.records[1].exc_info[1], KeyError)


ADDRESS = re.compile(r"0x[0-9a-f]+")
TASK_NAME = re.compile(r"name='Task-\d+'")


def _normalize(text):
    return TASK_NAME.sub("name='Task-?'", ADDRESS.sub("0x?", text))


def _log_on_both_loops(scenario, debug, caplog):
    """Run scenario(loop) on stock asyncio and on fastloop and return the
    'asyncio' logger's messages for each, addresses blanked out."""
    out = []
    for factory in (asyncio.new_event_loop, fastloop.new_event_loop):
        lp = factory()
        lp.set_debug(debug)
        caplog.clear()
        try:
            with caplog.at_level(logging.ERROR, logger="asyncio"):
                scenario(lp)
        finally:
            lp.close()
        out.append(
            [
                (r.levelname, _normalize(r.getMessage()), type(r.exc_info[1]) if r.exc_info else None)
                for r in caplog.records
                if r.name == "asyncio"
            ]
        )
    return out


def _callback_error(lp):
    lp.call_soon(failing, ValueError("x"))
    run_once(lp)


def _timer_error(lp):
    lp.call_at(1.5, failing, KeyError("y"))
    run_once(lp)


def _task_error(lp):
    async def main():
        raise RuntimeError("in task")

    t = lp.create_task(main())
    run_once(lp)
    del t


def _nested_handle_traceback(lp):
    def outer():
        lp.call_exception_handler({"message": "reported from a callback"})

    lp.call_soon(outer)
    run_once(lp)


@pytest.mark.parametrize("debug", [False, True], ids=["nodebug", "debug"])
@pytest.mark.parametrize(
    "scenario", [_callback_error, _timer_error, _task_error, _nested_handle_traceback],
    ids=lambda f: f.__name__.strip("_"),
)
def test_default_handler_log_matches_asyncio(scenario, debug, caplog):
    stock, fast = _log_on_both_loops(scenario, debug, caplog)
    assert stock, "the scenario logged nothing on asyncio"
    assert fast == stock


# ---- KeyboardInterrupt and SystemExit ---------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_propagates_out_of_run_forever_and_loop_stays_usable(loop, exc_type):
    contexts = recording_handler(loop)
    calls = []
    loop.call_soon(calls.append, "before")
    loop.call_soon(failing, exc_type())
    loop.call_soon(calls.append, "remaining")
    with pytest.raises(exc_type):
        loop.run_forever()
    assert calls == ["before"]
    assert not loop.is_running()
    assert contexts == []
    # Run again: what was left in the queue runs now.
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["before", "remaining"]
    assert loop.run_until_complete(asyncio.sleep(0, "again")) == "again"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_propagates_out_of_run_until_complete(loop, exc_type):
    fut = loop.create_future()
    loop.call_soon(failing, exc_type())
    loop.call_soon(fut.set_result, "done")
    with pytest.raises(exc_type):
        loop.run_until_complete(fut)
    assert not fut.done()
    assert loop.run_until_complete(fut) == "done"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_propagates_from_a_timer(loop, exc_type):
    loop.call_later(0, failing, exc_type())
    with pytest.raises(exc_type):
        loop.run_forever()
    assert loop.run_until_complete(asyncio.sleep(0, "ok")) == "ok"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_raised_by_a_coroutine(loop, exc_type, caplog):
    async def main():
        await asyncio.sleep(0)
        raise exc_type

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        with pytest.raises(exc_type):
            loop.run_until_complete(main())
    assert not loop.is_running()
    assert loop.run_until_complete(asyncio.sleep(0, "ok")) == "ok"
    assert [r for r in caplog.records if r.name == "asyncio"] == []
