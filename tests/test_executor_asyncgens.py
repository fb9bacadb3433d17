"""run_in_executor and the default executor; async generator hooks,
finalization and shutdown_asyncgens."""

import asyncio
import concurrent.futures
import gc
import sys
import threading
import warnings

import pytest

import fastloop

HANG_GUARD = 30.0


def recording_handler(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    return contexts


# ---- run_in_executor --------------------------------------------------------------


def test_run_in_executor_default(loop):
    def work(a, b):
        return a + b, threading.current_thread().name

    result, name = loop.run_until_complete(loop.run_in_executor(None, work, 1, 2))
    assert result == 3
    assert name.startswith("asyncio_")
    assert name != threading.current_thread().name


def test_run_in_executor_exception(loop):
    def work():
        raise KeyError("in thread")

    with pytest.raises(KeyError, match="in thread"):
        loop.run_until_complete(loop.run_in_executor(None, work))


def test_run_in_executor_custom_executor(loop):
    with concurrent.futures.ThreadPoolExecutor(thread_name_prefix="custom") as pool:
        name = loop.run_until_complete(
            loop.run_in_executor(pool, lambda: threading.current_thread().name)
        )
    assert name.startswith("custom")


def test_run_in_executor_closed_loop(loop):
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        loop.run_in_executor(None, print)


def test_run_in_executor_debug_refuses_coroutine_functions(loop):
    loop.set_debug(True)

    async def coro_func():
        pass

    with pytest.raises(TypeError, match=r"^coroutines cannot be used with run_in_executor\(\)$"):
        loop.run_in_executor(None, coro_func)
    with pytest.raises(TypeError, match=r"^a callable object was expected by run_in_executor\(\), got 1$"):
        loop.run_in_executor(None, 1)


def test_set_default_executor(loop):
    pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="mine")
    try:
        loop.set_default_executor(pool)
        name = loop.run_until_complete(
            loop.run_in_executor(None, lambda: threading.current_thread().name)
        )
        assert name.startswith("mine")
    finally:
        pool.shutdown(wait=True)


@pytest.mark.parametrize(
    "bad", [None, 1, "pool", concurrent.futures.Executor()], ids=["None", "int", "str", "Executor"]
)
def test_set_default_executor_refuses_other_objects(loop, bad):
    with pytest.raises(TypeError, match="^executor must be ThreadPoolExecutor instance$"):
        loop.set_default_executor(bad)


def test_close_shuts_the_default_executor_down(loop):
    loop.run_until_complete(loop.run_in_executor(None, lambda: None))
    executor = loop._default_executor
    assert executor is not None
    loop.close()
    with pytest.raises(RuntimeError):
        executor.submit(print)
    executor.shutdown(wait=True)


def test_close_does_not_wait_for_the_executor(loop):
    release = threading.Event()
    started = threading.Event()

    def blocker():
        started.set()
        release.wait(HANG_GUARD)

    loop.run_in_executor(None, blocker)
    executor = loop._default_executor
    assert started.wait(HANG_GUARD)
    loop.close()  # would hang here if it waited
    assert not release.is_set()
    release.set()
    executor.shutdown(wait=True)


def test_shutdown_default_executor(loop):
    loop.run_until_complete(loop.run_in_executor(None, lambda: None))
    executor = loop._default_executor
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError):
        executor.submit(print)
    with pytest.raises(RuntimeError, match="^Executor shutdown has been called$"):
        loop.run_in_executor(None, print)
    # Twice is fine.
    loop.run_until_complete(loop.shutdown_default_executor())


def test_shutdown_default_executor_without_executor(loop):
    loop.run_until_complete(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match="^Executor shutdown has been called$"):
        loop.run_in_executor(None, print)


def test_shutdown_default_executor_waits_for_running_jobs(loop):
    done = []

    def job():
        threading.Event().wait(0.02)
        done.append(1)

    async def main():
        loop.run_in_executor(None, job)
        await loop.shutdown_default_executor()
        return list(done)

    assert loop.run_until_complete(main()) == [1]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="shutdown_default_executor(timeout) is new in 3.12")
def test_shutdown_default_executor_timeout(loop):
    """fastloop applies the timeout to the wait for the executor's threads,
    as asyncio 3.13 does."""
    if sys.version_info < (3, 13) and not isinstance(loop, fastloop.Loop):
        pytest.skip(
            reason="asyncio 3.12 awaits the executor's shutdown before the timeout "
            "applies, so a job that outlives the timeout blocks it"
        )
    release = threading.Event()

    async def main():
        loop.run_in_executor(None, release.wait, HANG_GUARD)
        with pytest.warns(RuntimeWarning, match="did not finishing joining its threads within 0.01 seconds"):
            await loop.shutdown_default_executor(timeout=0.01)

    try:
        loop.run_until_complete(main())
    finally:
        release.set()


def test_default_executor_of_a_closed_loop_refuses_work(loop):
    loop.close()
    with pytest.raises(RuntimeError, match="^Event loop is closed$"):
        loop.run_in_executor(None, print)


def test_to_thread(loop):
    assert loop.run_until_complete(asyncio.to_thread(lambda x: x * 2, 21)) == 42


# ---- async generators -----------------------------------------------------------


def test_asyncgen_finalized_on_the_loop(loop):
    """A partly iterated async generator that is dropped is closed through
    the finalizer hook: aclose() runs as a task on its loop."""
    events = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            events.append(("finally", asyncio.get_running_loop() is loop))

    async def main():
        g = agen()
        assert await g.__anext__() == 1
        del g
        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert events == [("finally", True)]


def test_shutdown_asyncgens_closes_open_generators(loop):
    events = []

    async def agen(tag):
        try:
            yield tag
            yield "never"
        finally:
            events.append(tag)

    async def main():
        gens = [agen("a"), agen("b")]
        for g in gens:
            await g.__anext__()
        return gens

    gens = loop.run_until_complete(main())
    assert events == []
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert sorted(events) == ["a", "b"]
    del gens


def test_shutdown_asyncgens_reports_errors(loop):
    contexts = recording_handler(loop)

    async def agen():
        try:
            yield 1
        finally:
            raise ValueError("in finally")

    async def main():
        g = agen()
        await g.__anext__()
        return g

    g = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert len(contexts) == 1
    ctx = contexts[0]
    assert ctx["message"] == f"an error occurred during closing of asynchronous generator {g!r}"
    assert isinstance(ctx["exception"], ValueError)
    assert ctx["asyncgen"] is g


def test_asyncgen_started_after_shutdown_asyncgens_warns(loop):
    async def agen():
        yield 1

    async def main():
        await loop.shutdown_asyncgens()
        g = agen()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await g.__anext__()
        await g.aclose()
        return caught

    caught = loop.run_until_complete(main())
    assert any(
        issubclass(w.category, ResourceWarning)
        and "was scheduled after loop.shutdown_asyncgens() call" in str(w.message)
        for w in caught
    )


def test_shutdown_asyncgens_without_generators(loop):
    loop.run_until_complete(loop.shutdown_asyncgens())


def test_asyncgen_hooks_are_the_loop_s(loop):
    async def main():
        hooks = sys.get_asyncgen_hooks()
        return hooks.firstiter.__self__ is loop, hooks.finalizer.__self__ is loop

    assert loop.run_until_complete(main()) == (True, True)


def test_runner_closes_generators_and_executor(loop_factory):
    events = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            events.append("agen closed")

    keep = []

    async def main():
        g = agen()
        await g.__anext__()
        keep.append(g)
        await asyncio.get_running_loop().run_in_executor(None, lambda: None)
        return asyncio.get_running_loop()._default_executor

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        executor = runner.run(main())
    assert events == ["agen closed"]
    with pytest.raises(RuntimeError):
        executor.submit(print)
