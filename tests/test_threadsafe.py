"""call_soon_threadsafe from other threads, and debug mode's checks for
non-thread-safe calls made from another thread."""

import asyncio
import os
import threading

import pytest

HANG_GUARD = 30.0


class Watchdog:
    """Stops a loop that is stuck (for example a wake-up was lost) through
    a pipe watched with add_reader: a path that does not depend on the
    wake-up mechanism under test.  `fired` tells the test it happened."""

    def __init__(self, loop, timeout=HANG_GUARD):
        self.loop = loop
        self.fired = False
        self._r, self._w = os.pipe()
        loop.add_reader(self._r, self._on_fire)
        self._timer = threading.Timer(timeout, os.write, (self._w, b"x"))
        self._timer.daemon = True

    def _on_fire(self):
        self.fired = True
        self.loop.stop()

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        self._timer.join()
        if not self.loop.is_closed():
            self.loop.remove_reader(self._r)
        os.close(self._r)
        os.close(self._w)


def test_many_threads_lose_nothing(loop):
    """8 threads x 2000 calls at once, into a loop with nothing else to do
    (no timers, so it sleeps in the poller between bursts)."""
    n_threads, n_calls = 8, 2000
    total = n_threads * n_calls
    received = []
    done = loop.create_future()
    barrier = threading.Barrier(n_threads)

    def on_call(tid, i):
        received.append((tid, i))
        if len(received) == total:
            done.set_result(None)

    def worker(tid):
        barrier.wait()
        for i in range(n_calls):
            loop.call_soon_threadsafe(on_call, tid, i)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]

    def start():
        for t in threads:
            t.start()

    loop.call_soon(start)
    with Watchdog(loop) as dog:
        try:
            loop.run_until_complete(done)
        finally:
            for t in threads:
                t.join()
    assert not dog.fired
    assert len(received) == total
    # Each thread's calls ran in the order that thread made them.
    for tid in range(n_threads):
        assert [i for t, i in received if t == tid] == list(range(n_calls))


def test_wakes_a_loop_blocked_in_poll_every_time(loop):
    """A ping-pong: each call arrives while the loop sleeps with nothing
    scheduled, so every one of them needs its own wake-up."""
    rounds = 300
    ran = threading.Event()
    seen = []
    done = loop.create_future()

    def on_call(i):
        seen.append(i)
        ran.set()
        if i == rounds - 1:
            done.set_result(None)

    def worker():
        for i in range(rounds):
            ran.clear()
            loop.call_soon_threadsafe(on_call, i)
            if not ran.wait(HANG_GUARD):
                return

    thread = threading.Thread(target=worker)
    loop.call_soon(thread.start)
    with Watchdog(loop) as dog:
        try:
            loop.run_until_complete(done)
        finally:
            thread.join()
    assert not dog.fired
    assert seen == list(range(rounds))


def test_wakes_a_loop_waiting_for_a_far_timer(loop):
    far = loop.call_later(3600, lambda: None)
    done = loop.create_future()
    thread = threading.Timer(0.01, loop.call_soon_threadsafe, (done.set_result, "woken"))
    loop.call_soon(thread.start)
    with Watchdog(loop) as dog:
        try:
            result = loop.run_until_complete(done)
        finally:
            thread.join()
    assert not dog.fired
    assert result == "woken"
    far.cancel()


def test_calls_before_the_loop_runs_are_kept(loop):
    got = []
    threads = [
        threading.Thread(target=loop.call_soon_threadsafe, args=(got.append, i)) for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert sorted(got) == [0, 1, 2, 3]


def test_handle_cancelled_from_another_thread(loop):
    got = []
    h = loop.call_soon_threadsafe(got.append, "cancelled")
    t = threading.Thread(target=h.cancel)
    t.start()
    t.join()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert got == []


def test_closed_loop(loop):
    loop.close()
    errors = []

    def worker():
        try:
            loop.call_soon_threadsafe(print)
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == ["Event loop is closed"]


def test_loop_closed_while_a_thread_keeps_calling(loop):
    """Calls that race with close() either are accepted (and dropped by
    close) or raise RuntimeError('Event loop is closed'); nothing else."""
    stop = threading.Event()
    errors = []

    def worker():
        while not stop.is_set():
            try:
                loop.call_soon_threadsafe(lambda: None)
            except RuntimeError as exc:
                errors.append(str(exc))
                return

    t = threading.Thread(target=worker)
    loop.call_soon(t.start)
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    loop.close()
    t.join(HANG_GUARD)
    stop.set()
    t.join()
    assert errors == ["Event loop is closed"]


# ---- debug mode: non-thread-safe calls from another thread --------------------

NOT_THREADSAFE = "Non-thread-safe operation invoked on an event loop other than the current one"


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at"])
def test_debug_mode_refuses_non_threadsafe_calls_from_another_thread(loop, method):
    loop.set_debug(True)
    errors = []
    args = {"call_soon": (print,), "call_later": (1, print), "call_at": (1, print)}[method]

    def worker():
        try:
            getattr(loop, method)(*args)
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=worker)
    loop.call_soon(t.start)
    with Watchdog(loop) as dog:
        loop.run_forever()
        t.join()
    assert not dog.fired
    assert errors == [NOT_THREADSAFE]


def test_debug_mode_allows_call_soon_threadsafe_from_another_thread(loop):
    loop.set_debug(True)
    done = loop.create_future()
    t = threading.Thread(target=loop.call_soon_threadsafe, args=(done.set_result, "ok"))
    loop.call_soon(t.start)
    with Watchdog(loop):
        assert loop.run_until_complete(done) == "ok"
    t.join()


def test_debug_mode_allows_other_threads_while_not_running(loop):
    """The thread check applies only while the loop runs (in a thread)."""
    loop.set_debug(True)
    errors = []

    def worker():
        try:
            loop.call_soon(print).cancel()
            loop.call_later(1, print).cancel()
        except RuntimeError as exc:
            errors.append(str(exc))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == []


def test_non_debug_mode_does_not_check_the_thread(loop):
    errors = []
    got = []

    def worker():
        try:
            loop.call_soon(got.append, "from thread")
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=worker)
    loop.call_soon(t.start)
    with Watchdog(loop) as dog:
        loop.run_forever()
        t.join()
    if not got:
        loop.call_soon(loop.stop)
        loop.run_forever()
    assert not dog.fired
    assert errors == []
    assert got == ["from thread"]


def test_run_coroutine_threadsafe(loop):
    async def add(a, b):
        await asyncio.sleep(0)
        return a + b

    results = []

    def worker():
        fut = asyncio.run_coroutine_threadsafe(add(1, 2), loop)
        results.append(fut.result(HANG_GUARD))
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=worker)
    loop.call_soon(t.start)
    with Watchdog(loop) as dog:
        loop.run_forever()
        t.join()
    assert not dog.fired
    assert results == [3]
