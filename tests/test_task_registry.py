"""asyncio's task registry, the weak set that asyncio.all_tasks() reads
(tasks._all_tasks on 3.11, tasks._scheduled_tasks on 3.12+).

fastloop's tasks list themselves there with an entry of their own rather
than a weak reference (see src/task_registry.c).  These tests hold both
loops to what the registry promises whatever is in it: membership tests,
discard by task (asyncio's _unregister_task), iteration while tasks die,
and no entry left behind by a task that finished or was collected.  The
registry is asyncio's private object; it is used here because the
behaviour under test is how tasks sit in it.
"""

import asyncio
import gc
import sys
import weakref

import pytest

REGISTRY = asyncio.tasks._scheduled_tasks if sys.version_info >= (3, 12) else asyncio.tasks._all_tasks


async def wait_on(fut):
    await fut


def pending_tasks(loop, count):
    """count tasks, each waiting on a future of its own (so no step of
    theirs is queued and each can die alone); returns (futures, tasks)."""
    futs = [loop.create_future() for _ in range(count)]
    tasks = [loop.create_task(wait_on(fut)) for fut in futs]
    loop.call_soon(loop.stop)
    loop.run_forever()
    return futs, tasks


def finish(loop, futs, tasks):
    for fut in futs:
        fut.set_result(None)
    loop.run_until_complete(asyncio.gather(*tasks))


def test_registry_is_a_weak_set():
    # The premise of everything below; if asyncio changes it, fastloop
    # falls back to asyncio's _register_task and these tests say so.
    assert type(REGISTRY) is weakref.WeakSet


def test_pending_task_is_in_the_registry(loop):
    futs, tasks = pending_tasks(loop, 3)
    for task in tasks:
        assert task in REGISTRY
        assert task in asyncio.all_tasks(loop)
    finish(loop, futs, tasks)
    for task in tasks:
        assert task not in asyncio.all_tasks(loop)


def test_unregister_task_takes_a_pending_task_out(loop):
    futs, (task, other) = pending_tasks(loop, 2)
    asyncio.tasks._unregister_task(task)
    assert task not in REGISTRY
    assert asyncio.all_tasks(loop) == {other}
    finish(loop, futs, [task, other])
    assert asyncio.all_tasks(loop) == set()


def test_registry_iterated_while_pending_tasks_die(loop_factory):
    lp = loop_factory()
    lp.set_exception_handler(lambda l, ctx: None)  # "destroyed but pending"
    futs, tasks = pending_tasks(lp, 20)
    survivors = set(tasks[:10])
    del tasks, futs[:10]
    lp.close()
    seen = []
    for task in REGISTRY:
        if not seen:
            # Drop the other ten in the middle of the iteration.
            del futs[:]
            gc.collect()
        seen.append(task)
    # The first task seen was held by the loop variable through the
    # collection: it lives on whether or not it was one of the ten.
    first = seen[0]
    expected = survivors | ({first} if first.get_loop() is lp else set())
    mine = [t for t in seen if t.get_loop() is lp]
    assert set(mine) == expected and len(mine) == len(expected)
    # Removals deferred during the iteration are applied afterwards.
    assert {t for t in REGISTRY if t.get_loop() is lp} == expected
    assert len(REGISTRY.data) == len(REGISTRY)
    del survivors, seen, mine, task, first, expected
    gc.collect()
    assert [t for t in REGISTRY if t.get_loop() is lp] == []


@pytest.mark.filterwarnings("ignore:coroutine 'wait_on' was never awaited:RuntimeWarning")
def test_no_entry_left_behind(loop_factory):
    gc.collect()
    before = len(REGISTRY)
    lp = loop_factory()
    lp.set_exception_handler(lambda l, ctx: None)
    futs, tasks = pending_tasks(lp, 50)
    assert len(REGISTRY) == before + 50
    finish(lp, futs[:25], tasks[:25])
    # Finished tasks leave at once on fastloop, when collected on asyncio.
    del tasks[:25], futs[:25]
    gc.collect()
    assert len(REGISTRY) == before + 25
    lp.close()
    del tasks, futs
    gc.collect()
    assert len(REGISTRY) == before
    assert len(REGISTRY.data) == before


def test_registry_item_equals_a_weak_reference_to_its_task(loop):
    futs, (task,) = pending_tasks(loop, 1)
    ref = weakref.ref(task)
    matches = [item for item in REGISTRY.data if item == ref]
    assert len(matches) == 1
    (item,) = matches
    assert item() is task
    assert hash(item) == hash(ref)
    assert not (item != ref)
    finish(loop, futs, [task])
