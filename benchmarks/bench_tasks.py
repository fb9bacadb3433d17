"""Task-level benchmarks: coroutines, tasks, futures and asyncio's
synchronisation primitives, through public asyncio APIs only, so they run
unchanged on every loop (and on whatever Task and Future types the loop's
create_task and create_future hand out)."""

import asyncio
from time import perf_counter

from .registry import benchmark


def _run(loop, main):
    ops, seconds = loop.run_until_complete(main())
    return ops, seconds


_SLEEP_TASKS = 10


@benchmark(
    group="tasks",
    n=300_000,
    unit="switches",
    targets={"asyncio": 2.5, "uvloop": 1.6},
)
def sleep0_switch(loop, n):
    """10 tasks each awaiting asyncio.sleep(0) n/10 times; an operation is one
    task suspending and being resumed."""
    per_task = n // _SLEEP_TASKS
    sleep = asyncio.sleep

    async def worker():
        for _ in range(per_task):
            await sleep(0)
        return per_task

    async def main():
        t0 = perf_counter()
        tasks = [loop.create_task(worker()) for _ in range(_SLEEP_TASKS)]
        done = await asyncio.gather(*tasks)
        seconds = perf_counter() - t0
        assert sum(done) == per_task * _SLEEP_TASKS
        return sum(done), seconds

    return _run(loop, main)


@benchmark(
    group="tasks",
    n=100_000,
    unit="handoffs",
    targets={"asyncio": 3.0},
)
def future_pingpong(loop, n):
    """Two tasks handing futures back and forth: A makes a future with
    loop.create_future(), completes B's waiting future with it and awaits it;
    B wakes, makes its next waiting future and completes A's.  An operation
    is one future created, completed and awaited (two per round trip)."""
    rounds = n // 2
    inbox = [loop.create_future()]  # the future B is waiting on

    async def a():
        for _ in range(rounds):
            reply = loop.create_future()
            inbox[0].set_result(reply)
            await reply

    async def b():
        for _ in range(rounds):
            reply = await inbox[0]
            inbox[0] = loop.create_future()
            reply.set_result(None)

    async def main():
        t0 = perf_counter()
        await asyncio.gather(loop.create_task(b()), loop.create_task(a()))
        seconds = perf_counter() - t0
        return 2 * rounds, seconds

    return _run(loop, main)


@benchmark(
    group="tasks",
    n=100_000,
    unit="tasks",
    targets={"asyncio": 1.5},
)
def create_gather(loop, n):
    """Create n tiny tasks with loop.create_task and await them all with one
    asyncio.gather; an operation is one task created, run and gathered."""

    async def tiny(i):
        return i

    async def main():
        t0 = perf_counter()
        tasks = [loop.create_task(tiny(i)) for i in range(n)]
        results = await asyncio.gather(*tasks)
        seconds = perf_counter() - t0
        assert len(results) == n and results[-1] == n - 1
        return n, seconds

    return _run(loop, main)


_TREE_BRANCHING = 6


@benchmark(
    group="tasks",
    n=6,
    warmup_n=4,
    unit="tasks",
    targets={"asyncio": 2.0},
)
def async_tree(loop, n):
    """A gather tree like pyperformance's async_tree: each node gathers 6
    children, n levels deep (n=6: 55,986 tasks), and each leaf awaits
    asyncio.sleep(0).  An operation is one node (a task gathered by its
    parent)."""
    count = 0

    async def node(depth):
        nonlocal count
        count += 1
        if depth == 0:
            await asyncio.sleep(0)
            return
        await asyncio.gather(*[node(depth - 1) for _ in range(_TREE_BRANCHING)])

    async def main():
        t0 = perf_counter()
        await asyncio.gather(*[node(n - 1) for _ in range(_TREE_BRANCHING)])
        seconds = perf_counter() - t0
        expected = sum(_TREE_BRANCHING ** d for d in range(1, n + 1))
        assert count == expected, (count, expected)
        return count, seconds

    return _run(loop, main)


_QUEUE_SIZE = 1


@benchmark(
    group="tasks",
    n=50_000,
    unit="items",
    targets={"asyncio": 1.5},
)
def queue_producer_consumer(loop, n):
    """One producer task puts n items into an asyncio.Queue(maxsize=1) and
    one consumer task gets them, so every item is a hand-off: the producer
    waits for room, the consumer for the item.  (With a roomy queue the tasks
    would switch only once per queue-full and this would time little but
    asyncio.Queue's own Python code.)  An operation is one item put and got."""

    async def producer(queue):
        for i in range(n):
            await queue.put(i)

    async def consumer(queue):
        total = 0
        for _ in range(n):
            total += await queue.get()
        return total

    async def main():
        queue = asyncio.Queue(maxsize=_QUEUE_SIZE)
        t0 = perf_counter()
        cons = loop.create_task(consumer(queue))
        await producer(queue)
        total = await cons
        seconds = perf_counter() - t0
        assert total == n * (n - 1) // 2
        return n, seconds

    return _run(loop, main)


_SEMAPHORE_LIMIT = 100


@benchmark(
    group="tasks",
    n=20_000,
    unit="tasks",
    targets={"asyncio": 1.5},
)
def semaphore(loop, n):
    """n tasks started at once, each entering an asyncio.Semaphore(100),
    awaiting asyncio.sleep(0) inside it and leaving; an operation is one task
    created, admitted and finished."""
    inside = 0
    most_inside = 0

    async def worker(sem):
        nonlocal inside, most_inside
        async with sem:
            inside += 1
            most_inside = max(most_inside, inside)
            await asyncio.sleep(0)
            inside -= 1

    async def main():
        sem = asyncio.Semaphore(_SEMAPHORE_LIMIT)
        t0 = perf_counter()
        await asyncio.gather(*[loop.create_task(worker(sem)) for _ in range(n)])
        seconds = perf_counter() - t0
        assert inside == 0 and most_inside == _SEMAPHORE_LIMIT, most_inside
        return n, seconds

    return _run(loop, main)


@benchmark(
    group="tasks",
    n=25_000,
    unit="calls",
    targets={"asyncio": 1.5},
)
def wait_for(loop, n):
    """n sequential asyncio.wait_for(coro, timeout=10) calls on a coroutine
    that awaits asyncio.sleep(0) once and returns; an operation is one
    wait_for call."""

    async def quick(i):
        await asyncio.sleep(0)
        return i

    async def main():
        total = 0
        t0 = perf_counter()
        for i in range(n):
            total += await asyncio.wait_for(quick(i), 10)
        seconds = perf_counter() - t0
        assert total == n * (n - 1) // 2
        return n, seconds

    return _run(loop, main)
