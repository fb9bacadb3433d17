"""Fixtures shared by fastloop's behavioural tests.

Every behavioural test is written once and runs on stock asyncio and on
fastloop: take the `loop` fixture (a fresh loop, closed afterwards) or the
`loop_factory` fixture (the function that makes one, for tests that need
several loops or asyncio.Runner).  Both are parametrized with the ids
"asyncio" and "fastloop", so `pytest -k fastloop` runs one side only.
Where the two loops differ, fastloop is wrong unless asyncio documents
otherwise.
"""

import asyncio

import pytest

import fastloop

LOOP_FACTORIES = {
    "asyncio": asyncio.new_event_loop,
    "fastloop": fastloop.new_event_loop,
}


@pytest.fixture(params=list(LOOP_FACTORIES))
def loop_factory(request):
    """The function that makes a new loop of the kind under test."""
    return LOOP_FACTORIES[request.param]


@pytest.fixture
def loop(loop_factory):
    """A fresh, not running, not current event loop; closed after the test."""
    new_loop = loop_factory()
    # A test that installs a policy and forgets to restore it would turn
    # the "asyncio" side into fastloop without anybody noticing.
    is_fastloop = isinstance(new_loop, fastloop.Loop)
    assert is_fastloop == (loop_factory is fastloop.new_event_loop), new_loop
    try:
        yield new_loop
    finally:
        left_running = new_loop.is_running()
        if not left_running:
            new_loop.close()
        assert not left_running, "the test left its loop running"
        assert asyncio._get_running_loop() is None, "a running loop was left registered"


def pytest_collection_finish(session):
    """Move everything that exists after collection (thousands of test items,
    CPython's test modules) out of the garbage collector's sight.  Several
    tests call gc.collect() hundreds of times (CPython's *_del_collect tests,
    the re-entrancy tests); each full collection would otherwise walk this
    whole heap.  Objects the tests create are still collected as usual."""
    import gc

    gc.freeze()
