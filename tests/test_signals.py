"""add_signal_handler / remove_signal_handler: delivery, replacement,
removal, clean-up at close, and asyncio's errors.

The signals are real: the test process sends them to itself.  SIGUSR1 and
SIGUSR2 are used because nothing else in the test process handles them;
every test leaves their disposition and the wake-up fd as it found them
(the `loop` fixture closes the loop, which removes its handlers).
"""

import asyncio
import contextvars
import os
import signal
import socket
import threading

import pytest

import fastloop

GUARD = 10.0  # seconds before a hung test gives up; never reached when passing

var = contextvars.ContextVar("var", default="unset")


def send(sig):
    os.kill(os.getpid(), sig)


def current_wakeup_fd():
    fd = signal.set_wakeup_fd(-1)
    if fd != -1:
        signal.set_wakeup_fd(fd)
    return fd


def run_until(loop, future):
    """Run the loop until the future is done (hang guard only)."""
    return loop.run_until_complete(asyncio.wait_for(future, GUARD))


@pytest.fixture(autouse=True)
def signals_left_as_found():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT)}
    fd_before = current_wakeup_fd()
    yield
    after = {sig: signal.getsignal(sig) for sig in before}
    fd_after = current_wakeup_fd()
    for sig, handler in before.items():
        signal.signal(sig, handler)
    signal.set_wakeup_fd(fd_before)
    assert after == before
    assert fd_after == fd_before


# ---- delivery -------------------------------------------------------------


def test_handler_runs_with_its_arguments_when_the_signal_arrives(loop):
    done = loop.create_future()
    calls = []

    def handler(*args):
        calls.append((args, asyncio.get_running_loop() is loop, threading.get_ident()))
        done.set_result(None)

    loop.add_signal_handler(signal.SIGUSR1, handler, "a", 2)
    loop.call_soon(send, signal.SIGUSR1)
    run_until(loop, done)
    assert calls == [(("a", 2), True, threading.get_ident())]


def test_handler_runs_for_every_signal(loop):
    got = []
    done = loop.create_future()

    def handler(n):
        got.append(n)
        if n < 3:
            loop.call_soon(send, signal.SIGUSR1)
        else:
            done.set_result(None)

    counter = iter(range(1, 100))
    loop.add_signal_handler(signal.SIGUSR1, lambda: handler(next(counter)))
    loop.call_soon(send, signal.SIGUSR1)
    run_until(loop, done)
    assert got == [1, 2, 3]


def test_two_signals_two_handlers(loop):
    got = []
    waiting = []

    def handler(name):
        got.append(name)
        waiting.pop().set_result(None)

    loop.add_signal_handler(signal.SIGUSR1, handler, "usr1")
    loop.add_signal_handler(signal.SIGUSR2, handler, "usr2")
    for sig in (signal.SIGUSR2, signal.SIGUSR1):
        waiting.append(loop.create_future())
        loop.call_soon(send, sig)
        run_until(loop, waiting[0])
    assert got == ["usr2", "usr1"]


def test_handler_wakes_a_loop_blocked_with_nothing_to_do(loop):
    # No timers and no ready callbacks: the loop sleeps in its poller until
    # the signal comes from another thread.
    got = []

    def handler():
        got.append("signal")
        loop.stop()

    def guard():
        got.append("guard")
        loop.stop()

    loop.add_signal_handler(signal.SIGUSR1, handler)
    woken = threading.Event()

    def sender():
        send(signal.SIGUSR1)
        if not woken.wait(GUARD):
            loop.call_soon_threadsafe(guard)

    thread = threading.Thread(target=sender)
    loop.call_soon(thread.start)
    try:
        loop.run_forever()
    finally:
        woken.set()
        thread.join()
    assert got == ["signal"]


def test_signal_before_the_loop_runs_is_handled_when_it_runs(loop):
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, done.set_result, "late")
    send(signal.SIGUSR1)
    assert not done.done()
    assert run_until(loop, done) == "late"


def test_handler_runs_in_the_context_it_was_added_in(loop):
    done = loop.create_future()
    token = var.set("at add")
    try:
        loop.add_signal_handler(signal.SIGUSR1, lambda: done.set_result(var.get()))
    finally:
        var.reset(token)
    loop.call_soon(send, signal.SIGUSR1)
    assert run_until(loop, done) == "at add"


def test_sigint_handler_replaces_keyboard_interrupt(loop):
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGINT, done.set_result, "sigint")
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    loop.call_soon(send, signal.SIGINT)
    assert run_until(loop, done) == "sigint"
    assert loop.remove_signal_handler(signal.SIGINT) is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_exception_in_handler_goes_to_the_exception_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    done = loop.create_future()

    def bad():
        loop.call_soon(done.set_result, None)
        raise ZeroDivisionError("in handler")

    loop.add_signal_handler(signal.SIGUSR1, bad)
    loop.call_soon(send, signal.SIGUSR1)
    run_until(loop, done)
    assert len(contexts) == 1
    assert contexts[0]["message"].startswith("Exception in callback ")
    assert "bad" in contexts[0]["message"]
    assert isinstance(contexts[0]["exception"], ZeroDivisionError)
    assert "handle" in contexts[0]


# ---- replace and remove ---------------------------------------------------


def test_adding_again_replaces_the_handler(loop):
    got = []
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, got.append, "first")
    loop.add_signal_handler(signal.SIGUSR1, lambda: (got.append("second"), done.set_result(None)))
    loop.call_soon(send, signal.SIGUSR1)
    run_until(loop, done)
    assert got == ["second"]


def test_remove_returns_true_then_false(loop):
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN, None)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_removing_one_handler_keeps_the_other(loop):
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    loop.add_signal_handler(signal.SIGUSR2, done.set_result, "usr2")
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert current_wakeup_fd() != -1
    loop.call_soon(send, signal.SIGUSR2)
    assert run_until(loop, done) == "usr2"


def test_removed_handler_is_not_called(loop):
    got = []
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, got.append, "usr1")
    loop.add_signal_handler(signal.SIGUSR2, done.set_result, None)
    loop.remove_signal_handler(signal.SIGUSR1)
    # Ignore SIGUSR1 meanwhile: its default action would end the process.
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        loop.call_soon(send, signal.SIGUSR1)
        loop.call_soon(send, signal.SIGUSR2)
        run_until(loop, done)
    finally:
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    assert got == []


def test_last_removal_clears_the_wakeup_fd(loop):
    assert current_wakeup_fd() == -1
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    assert current_wakeup_fd() != -1
    loop.remove_signal_handler(signal.SIGUSR1)
    assert current_wakeup_fd() == -1


def test_close_removes_the_handlers(loop):
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert current_wakeup_fd() == -1
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_fastloop_gives_back_the_previous_wakeup_fd():
    # asyncio sets the wake-up fd to -1 when its last handler goes, whatever
    # was there before; fastloop restores what it found.  asyncio documents
    # neither, so this is checked on fastloop only.
    loop = fastloop.new_event_loop()
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        signal.set_wakeup_fd(a.fileno())
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        assert current_wakeup_fd() not in (-1, a.fileno())
        loop.remove_signal_handler(signal.SIGUSR1)
        assert current_wakeup_fd() == a.fileno()
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        loop.close()
        assert current_wakeup_fd() == a.fileno()
    finally:
        loop.close()
        signal.set_wakeup_fd(-1)
        a.close()
        b.close()


# ---- errors ---------------------------------------------------------------


async def coro_func():
    pass


def test_coroutines_are_refused(loop):
    with pytest.raises(TypeError, match=r"^coroutines cannot be used with add_signal_handler\(\)$"):
        loop.add_signal_handler(signal.SIGUSR1, coro_func)
    coro = coro_func()
    try:
        with pytest.raises(TypeError, match=r"^coroutines cannot be used"):
            loop.add_signal_handler(signal.SIGUSR1, coro)
    finally:
        coro.close()
    # Checked before the signal number.
    with pytest.raises(TypeError, match=r"^coroutines cannot be used"):
        loop.add_signal_handler("nope", coro_func)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


@pytest.mark.parametrize("method", ["add_signal_handler", "remove_signal_handler"])
def test_signal_must_be_an_int(loop, method):
    args = (lambda: None,) if method == "add_signal_handler" else ()
    with pytest.raises(TypeError, match=r"^sig must be an int, not '10'$"):
        getattr(loop, method)("10", *args)
    with pytest.raises(TypeError, match=r"^sig must be an int, not 10.0$"):
        getattr(loop, method)(10.0, *args)


@pytest.mark.parametrize("method", ["add_signal_handler", "remove_signal_handler"])
@pytest.mark.parametrize("sig", [0, -1, signal.NSIG, signal.NSIG + 100])
def test_invalid_signal_number(loop, method, sig):
    args = (lambda: None,) if method == "add_signal_handler" else ()
    with pytest.raises(ValueError, match=rf"^invalid signal number {sig}$"):
        getattr(loop, method)(sig, *args)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP])
def test_uncatchable_signal(loop, sig):
    with pytest.raises(RuntimeError, match=rf"^sig {int(sig)} cannot be caught$"):
        loop.add_signal_handler(sig, lambda: None)
    # Nothing is left registered, and the wake-up fd is given back.
    assert loop.remove_signal_handler(sig) is False
    assert current_wakeup_fd() == -1


def test_uncatchable_signal_keeps_other_handlers(loop):
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, done.set_result, "still there")
    with pytest.raises(RuntimeError, match="cannot be caught"):
        loop.add_signal_handler(signal.SIGKILL, lambda: None)
    assert current_wakeup_fd() != -1
    loop.call_soon(send, signal.SIGUSR1)
    assert run_until(loop, done) == "still there"


def test_closed_loop(loop):
    loop.close()
    with pytest.raises(RuntimeError, match=r"^Event loop is closed$"):
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    # The signal number is checked first.
    with pytest.raises(ValueError, match="invalid signal number"):
        loop.add_signal_handler(0, lambda: None)
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_only_the_main_thread_may_add_handlers(loop):
    errors = []

    def in_thread():
        try:
            loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert type(errors[0]) is RuntimeError
    assert "main thread" in str(errors[0])
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
