"""add_reader, add_writer, remove_reader, remove_writer."""

import asyncio
import gc
import os
import socket
import weakref

import pytest

HANG_GUARD = 10.0


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def run_once(loop):
    loop.call_soon(loop.stop)
    loop.run_forever()


def run_until(loop, predicate):
    """Run the loop until predicate() is true (hang guard only)."""
    done = loop.create_future()

    def check():
        if predicate():
            done.set_result(None)
        else:
            loop.call_soon(check)

    loop.call_soon(check)
    loop.run_until_complete(asyncio.wait_for(done, HANG_GUARD))


def recording_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    return contexts


# ---- events ---------------------------------------------------------------


def test_reader_fires_when_readable(loop, pair):
    a, b = pair
    got = []

    def on_readable(sock, tag):
        got.append((tag, sock.recv(100)))
        loop.remove_reader(sock)

    assert loop.add_reader(a.fileno(), on_readable, a, "tag") is None
    run_once(loop)
    assert got == []
    b.send(b"hello")
    run_until(loop, lambda: got)
    assert got == [("tag", b"hello")]


def test_writer_fires_when_writable(loop, pair):
    a, _ = pair
    got = []

    def on_writable():
        got.append(a.send(b"x"))
        loop.remove_writer(a.fileno())

    assert loop.add_writer(a, on_writable) is None
    run_until(loop, lambda: got)
    assert got == [1]


def test_reader_is_level_triggered(loop, pair):
    a, b = pair
    got = []
    loop.add_reader(a, got.append, 1)
    b.send(b"unread")
    run_until(loop, lambda: len(got) >= 3)
    assert loop.remove_reader(a)


def test_reader_fires_on_eof(loop, pair):
    a, b = pair
    got = []

    def on_readable():
        got.append(a.recv(10))
        loop.remove_reader(a)

    loop.add_reader(a, on_readable)
    b.close()
    run_until(loop, lambda: got)
    assert got == [b""]


def test_reader_and_writer_on_the_same_fd(loop, pair):
    a, b = pair
    got = []
    loop.add_reader(a, got.append, "r")
    loop.add_writer(a, got.append, "w")
    b.send(b"x")
    run_until(loop, lambda: "r" in got and "w" in got)
    assert loop.remove_writer(a)
    got.clear()
    run_until(loop, lambda: got)
    assert set(got) == {"r"}
    assert loop.remove_reader(a)
    assert not loop.remove_reader(a)
    assert not loop.remove_writer(a)


def test_order_within_one_iteration(loop, pair):
    """Callbacks already queued run first, then the I/O callbacks of this
    iteration's poll, then the timers that became due."""
    a, b = pair
    got = []
    b.send(b"x")
    loop.add_reader(a, got.append, "io")
    loop.call_at(loop.time() - 1, got.append, "timer")
    loop.call_soon(got.append, "soon")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert got == ["soon", "io", "timer"]


def test_reader_runs_before_writer_of_the_same_fd(loop, pair):
    """Both queued in one iteration: asyncio queues the reader first."""
    a, b = pair
    got = []
    b.send(b"x")
    loop.add_writer(a, got.append, "w")
    loop.add_reader(a, got.append, "r")
    run_until(loop, lambda: len(got) >= 2)
    assert got[:2] == ["r", "w"]


# ---- remove ---------------------------------------------------------------


def test_remove_returns_whether_something_was_removed(loop, pair):
    a, _ = pair
    assert loop.remove_reader(a) is False
    assert loop.remove_writer(a) is False
    loop.add_reader(a, print)
    assert loop.remove_writer(a) is False
    assert loop.remove_reader(a) is True
    assert loop.remove_reader(a) is False
    loop.add_writer(a.fileno(), print)
    assert loop.remove_writer(a) is True
    assert loop.remove_writer(a.fileno()) is False


def test_private_add_and_remove_as_asyncio_pipe_transports_use_them(loop, pair):
    # asyncio's pipe transports and child watchers call these: _add_* returns
    # the Handle, _remove_* whether something was removed; the closed loop
    # removes nothing.
    a, b = pair
    handle = loop._add_reader(a, print, "x")
    assert not handle.cancelled()
    assert loop._remove_writer(a) is False
    assert loop._remove_reader(a) is True
    assert handle.cancelled()
    assert loop._remove_reader(a.fileno()) is False
    loop._add_writer(b.fileno(), print)
    assert loop._remove_writer(b) is True
    loop._add_reader(a, print)
    loop.close()
    assert loop._remove_reader(a) is False


def test_remove_unknown_fd(loop):
    r, w = os.pipe()
    try:
        assert loop.remove_reader(r) is False
        assert loop.remove_writer(w) is False
    finally:
        os.close(r)
        os.close(w)
    # An fd number that is not even open.
    assert loop.remove_reader(9999) is False
    assert loop.remove_writer(9999) is False


def test_removed_reader_does_not_fire(loop, pair):
    a, b = pair
    got = []
    loop.add_reader(a, got.append, 1)
    loop.remove_reader(a)
    b.send(b"x")
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert got == []


def test_replacing_a_reader_cancels_the_old_handle(loop, pair):
    a, b = pair

    class Arg:
        pass

    old_arg = Arg()
    ref = weakref.ref(old_arg)
    got = []
    loop.add_reader(a, lambda arg: got.append("old"), old_arg)
    del old_arg
    gc.collect()
    assert ref() is not None
    loop.add_reader(a.fileno(), got.append, "new")
    # Cancelling the old handle dropped its arguments.
    gc.collect()
    assert ref() is None
    b.send(b"x")
    run_until(loop, lambda: got)
    assert set(got) == {"new"}
    assert loop.remove_reader(a) is True
    assert loop.remove_reader(a) is False


def test_replacing_a_writer_cancels_the_old_handle(loop, pair):
    a, _ = pair
    got = []
    loop.add_writer(a, got.append, "old")
    loop.add_writer(a, got.append, "new")
    run_until(loop, lambda: got)
    assert set(got) == {"new"}
    assert loop.remove_writer(a) is True


def test_reader_removed_by_an_earlier_callback_of_the_same_iteration(loop):
    """Two fds ready in the same poll: whichever callback runs first removes
    the other reader, whose event is already queued; it must not run."""
    s1, s2 = socket.socketpair()
    s3, s4 = socket.socketpair()
    try:
        got = []

        def first(tag, own, other):
            got.append(tag)
            own.recv(10)
            loop.remove_reader(own)
            loop.remove_reader(other)

        loop.add_reader(s1, first, "s1", s1, s3)
        loop.add_reader(s3, first, "s3", s3, s1)
        s2.send(b"x")
        s4.send(b"x")
        loop.call_later(0.01, loop.stop)
        loop.run_forever()
        assert len(got) == 1
    finally:
        for s in (s1, s2, s3, s4):
            s.close()


def test_writer_removed_by_the_reader_of_the_same_fd(loop, pair):
    a, b = pair
    got = []

    def reader():
        got.append("r")
        loop.remove_writer(a)
        loop.remove_reader(a)

    b.send(b"x")
    loop.add_reader(a, reader)
    loop.add_writer(a, got.append, "w")
    run_until(loop, lambda: got)
    run_once(loop)
    assert got == ["r"]


def test_closing_the_fd_inside_its_own_callback(loop, pair):
    a, b = pair
    got = []
    c = a.dup()

    def reader():
        got.append("r")
        loop.remove_reader(c)
        loop.remove_writer(c)
        c.close()

    b.send(b"x")
    loop.add_reader(c, reader)
    loop.add_writer(c, got.append, "w")
    run_until(loop, lambda: got)
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert got == ["r"]


def test_closing_the_fd_inside_its_callback_without_removing_it(loop):
    """Closing a watched fd without remove_reader() first: the loop must
    neither crash nor call the callback again; a later remove_reader() of
    the old number still reports the registration."""
    a, b = socket.socketpair()
    got = []
    fd = a.fileno()

    def reader():
        got.append("r")
        a.close()

    try:
        loop.add_reader(fd, reader)
        b.send(b"x")
        run_until(loop, lambda: got)
        loop.call_later(0.01, loop.stop)
        loop.run_forever()
        assert got == ["r"]
        assert loop.remove_reader(fd) is True
    finally:
        a.close()
        b.close()


def test_fd_number_reused_after_remove_and_close(loop):
    a, b = socket.socketpair()
    fd = a.fileno()
    loop.add_reader(fd, print)
    loop.remove_reader(fd)
    a.close()
    c, d = socket.socketpair()
    try:
        got = []
        loop.add_reader(c, got.append, "new")
        d.send(b"x")
        run_until(loop, lambda: got)
        assert got[0] == "new"
        loop.remove_reader(c)
    finally:
        for s in (b, c, d):
            s.close()


def test_reader_exception_goes_to_handler_and_reader_stays(loop, pair):
    a, b = pair
    contexts = recording_handler(loop)

    def reader():
        raise ValueError("boom")

    loop.add_reader(a, reader)
    b.send(b"x")
    run_until(loop, lambda: len(contexts) >= 2)
    assert all(isinstance(c["exception"], ValueError) for c in contexts)
    assert contexts[0]["message"].startswith("Exception in callback ")
    assert loop.remove_reader(a) is True


# ---- bad input --------------------------------------------------------------


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_negative_fd(loop, method):
    with pytest.raises(ValueError, match=r"^Invalid file descriptor: -1$"):
        getattr(loop, method)(-1, print)


@pytest.mark.parametrize("method", ["add_reader", "add_writer", "remove_reader", "remove_writer"])
def test_object_without_fileno(loop, method):
    args = (object(), print) if method.startswith("add") else (object(),)
    with pytest.raises(ValueError, match=r"^Invalid file object: <object object at "):
        getattr(loop, method)(*args)


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_fileno_returning_garbage(loop, method):
    class Bad:
        def fileno(self):
            return "three"

    with pytest.raises(ValueError, match=r"^Invalid file object: "):
        getattr(loop, method)(Bad(), print)


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_closed_fd(loop, method):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError):
        getattr(loop, method)(r, print)
    # Nothing was left registered.
    remove = getattr(loop, method.replace("add", "remove"))
    assert remove(r) is False


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_regular_file(loop, method, tmp_path):
    """epoll refuses regular files with EPERM."""
    with open(tmp_path / "f", "wb") as f:
        with pytest.raises(PermissionError):
            getattr(loop, method)(f, print)
        remove = getattr(loop, method.replace("add", "remove"))
        assert remove(f) is False


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_missing_arguments(loop, method):
    with pytest.raises(TypeError):
        getattr(loop, method)()
    with pytest.raises(TypeError):
        getattr(loop, method)(0)


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_keyword_arguments_are_refused(loop, method, pair):
    a, _ = pair
    with pytest.raises(TypeError):
        getattr(loop, method)(a, print, context=None)


@pytest.mark.parametrize("debug", [False, True])
def test_non_callable_is_accepted_even_in_debug_mode(loop, pair, debug):
    """asyncio checks no callback passed to add_reader/add_writer, in
    debug mode either: calling it fails when the fd is ready."""
    a, b = pair
    loop.set_debug(debug)
    contexts = recording_handler(loop)
    loop.add_reader(a, 42)
    b.send(b"x")
    run_until(loop, lambda: contexts)
    assert isinstance(contexts[0]["exception"], TypeError)
    assert contexts[0]["message"] == "Exception in callback 42()"
    loop.remove_reader(a)


@pytest.mark.parametrize("method", ["add_reader", "add_writer"])
def test_closed_loop_add(loop, method, pair):
    a, _ = pair
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        getattr(loop, method)(a, print)
    # The loop is checked before the fd number (asyncio's order).
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        getattr(loop, method)(-1, print)
    # ... but after turning a file object into its number.
    with pytest.raises(ValueError, match="^Invalid file object"):
        getattr(loop, method)(object(), print)


@pytest.mark.parametrize("method", ["remove_reader", "remove_writer"])
def test_closed_loop_remove(loop, method, pair):
    a, _ = pair
    getattr(loop, method.replace("remove", "add"))(a, print)
    loop.close()
    assert getattr(loop, method)(a) is False
    assert getattr(loop, method)(-1) is False


def test_close_drops_readers(loop, pair):
    a, b = pair

    class Arg:
        pass

    arg = Arg()
    ref = weakref.ref(arg)
    loop.add_reader(a, print, arg)
    del arg
    loop.close()
    gc.collect()
    assert ref() is None
