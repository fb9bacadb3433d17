"""Loop-core benchmarks: callbacks and timers, no tasks or futures."""

import random
import socket
import threading
from time import perf_counter

from .registry import benchmark

# Timer delays are random but the same for every loop and every run.
_SEED = 20240601
_MAX_DELAY = 0.010


def _delays(n):
    rng = random.Random(_SEED)
    return [rng.random() * _MAX_DELAY for _ in range(n)]


@benchmark(
    group="loop",
    n=150_000,
    unit="callbacks",
    targets={"asyncio": 3.0, "uvloop": 1.5},
)
def call_soon_chain(loop, n):
    """A chain of n call_soon callbacks, each scheduling the next, so every
    loop iteration runs exactly one callback: the cost of call_soon plus one
    pass of the loop."""
    remaining = n
    call_soon = loop.call_soon

    def step():
        nonlocal remaining
        remaining -= 1
        if remaining:
            call_soon(step)
        else:
            loop.stop()

    call_soon(step)
    t0 = perf_counter()
    loop.run_forever()
    seconds = perf_counter() - t0
    assert remaining == 0, remaining
    return n, seconds


@benchmark(
    group="loop",
    n=150_000,
    unit="callbacks",
)
def call_soon_chain_idle_fd(loop, n):
    """call_soon_chain while one idle socket is registered with add_reader,
    as in any program with a connection or server open: a loop may skip
    polling when it watches no fd, and this shows the cost when it cannot."""
    rsock, wsock = socket.socketpair()
    loop.add_reader(rsock, lambda: None)
    try:
        return call_soon_chain(loop, n)
    finally:
        loop.remove_reader(rsock)
        rsock.close()
        wsock.close()


@benchmark(
    group="loop",
    n=100_000,
    unit="timers",
    targets={"asyncio": 2.5, "uvloop": 2.0},
)
def call_later(loop, n):
    """n call_later timers with random delays of 0-10 ms, scheduled in one
    go; timed from the first call_later until the last timer has fired, so
    an operation is one timer scheduled and fired."""
    delays = _delays(n)
    fired = 0
    schedule = loop.call_later

    def on_timer():
        nonlocal fired
        fired += 1
        if fired == n:
            loop.stop()

    t0 = perf_counter()
    for delay in delays:
        schedule(delay, on_timer)
    loop.run_forever()
    seconds = perf_counter() - t0
    assert fired == n, fired
    return n, seconds


_CANCEL_BATCH = 1000


@benchmark(
    group="loop",
    n=150_000,
    unit="timers",
    targets={"asyncio": 3.0},
)
def call_later_cancel(loop, n):
    """n call_later timers (random 0-10 ms delays), each cancelled right
    away; done in batches of 1000 from a callback so the loop runs between
    batches and can drop what was cancelled, as it would in a real program.
    An operation is one call_later plus its cancel."""
    delays = _delays(n)
    fired = 0
    done = 0
    schedule = loop.call_later

    def on_timer():
        nonlocal fired
        fired += 1

    def batch():
        nonlocal done
        for delay in delays[done:done + _CANCEL_BATCH]:
            schedule(delay, on_timer).cancel()
        done += _CANCEL_BATCH
        if done < n:
            loop.call_soon(batch)
        else:
            loop.stop()

    loop.call_soon(batch)
    t0 = perf_counter()
    loop.run_forever()
    seconds = perf_counter() - t0
    assert fired == 0 and done >= n, (fired, done)
    return n, seconds


@benchmark(
    group="loop",
    n=100_000,
    unit="callbacks",
)
def call_soon_threadsafe(loop, n):
    """A producer thread calls call_soon_threadsafe n times while the loop
    runs; timed on the loop's side from starting the producer until the loop
    has run the n-th callback.  Both threads share one CPU and the GIL."""
    received = 0

    def on_callback():
        nonlocal received
        received += 1
        if received == n:
            loop.stop()

    def produce():
        call = loop.call_soon_threadsafe
        for _ in range(n):
            call(on_callback)

    producer = threading.Thread(target=produce)
    t0 = perf_counter()
    producer.start()
    loop.run_forever()
    seconds = perf_counter() - t0
    producer.join()
    assert received == n, received
    return n, seconds
