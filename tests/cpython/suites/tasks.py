"""test_tasks: asyncio.Task's own tests, run with fastloop.Task and
fastloop.Future.

CPython runs BaseTaskTests once per pairing of Task and Future
implementation (C or pure Python, and subclasses) on its fake-clock
TestLoop, a stock loop: the loop is a bystander there, the Task and Future
classes are what is under test.  Here every pairing that had asyncio's C
Task or C Future runs with fastloop's in its place, so fastloop.Task is
tested with fastloop.Future, with asyncio's C and pure-Python Futures, and
as a subclass; and asyncio's C and pure-Python Tasks are tested driving
fastloop.Future.  On a stock loop fastloop's types go through
loop.call_soon() and add_done_callback() as asyncio's do; the ready-queue
paths they take on fastloop's own loop are exercised by the suites that run
on fastloop loops (test_locks, test_queues, test_taskgroups, test_timeouts,
test_waitfor, test_pep492, test_eager_task_factory...) and by the classes
below that make their loops with asyncio.new_event_loop().

The gather tests drive TestLoop too; their loops' create_future() and task
factory are pointed at fastloop's types.
"""

from asyncio import futures, tasks

import fastloop

from .. import runner
from ..reasons import not_asyncio_future, stock_only
from .futures import check_types_under_test

FT, FF = fastloop.Task, fastloop.Future
CT, CF = tasks._CTask, futures._CFuture
PT, PF = tasks._PyTask, futures._PyFuture

PURE_PYTHON = "tests asyncio's pure-Python Task with its pure-Python Future; no fastloop type"


def _fastloop_task_factory(loop, coro, **kwargs):
    return FT(coro, loop=loop, **kwargs)


def _gather_setup(self):
    type(self).__mro__[1].setUp(self)
    for loop in (self.one_loop, self.other_loop):
        loop.create_future = (lambda loop: lambda: FF(loop=loop))(loop)
        loop.set_task_factory(_fastloop_task_factory)


def _new_fastloop_task(self, coro):
    return FT(coro, loop=self.loop)


class TasksSuite(runner.Suite):
    module = "test_tasks"
    stock_loops_allowed = True
    require_fastloop_loop = False

    not_adapted = {
        "PyTask_PyFuture_Tests": PURE_PYTHON,
        "PyTask_PyFuture_SubclassTests": PURE_PYTHON,
        "PyIntrospectionTests": stock_only("asyncio's task registry functions, on mock tasks"),
        "CIntrospectionTests": stock_only("asyncio's task registry functions, on mock tasks"),
        "GenericTaskTests": stock_only("asyncio.Task's class hierarchy and the _asyncio module"),
    }

    excluded = {
        "all": {
            "test_tasks.FutureGatherTests.test_constructor_empty_sequence_use_running_loop":
                not_asyncio_future("gather()'s outer future, from loop.create_future()"),
            "test_tasks.FutureGatherTests.test_constructor_empty_sequence_use_global_loop":
                not_asyncio_future("gather()'s outer future, from loop.create_future()"),
        },
    }

    def adapt(self, module):
        m = module
        sub = runner.subclass
        with_subclasses = m.add_subclass_tests
        classes = [
            sub(m.CTask_CFuture_Tests, "FastloopTask_FastloopFuture_Tests", Task=FT, Future=FF),
            # Mixed pairs: SetMethodsTest calls Future.set_result(task), which
            # needs Task to derive from Future, so they come from the classes
            # without it.
            sub(m.CTask_PyFuture_Tests, "FastloopTask_CFuture_Tests", Task=FT, Future=CF),
            sub(m.PyTask_CFuture_Tests, "CTask_FastloopFuture_Tests", Task=CT, Future=FF),
            with_subclasses(
                sub(m.CTask_CFuture_SubclassTests, "FastloopTask_FastloopFuture_SubclassTests",
                    Task=FT, Future=FF)
            ),
            with_subclasses(
                sub(m.CTaskSubclass_PyFuture_Tests, "FastloopTaskSubclass_PyFuture_Tests",
                    Task=FT, Future=PF)
            ),
            with_subclasses(
                sub(m.PyTask_CFutureSubclass_Tests, "PyTask_FastloopFutureSubclass_Tests",
                    Task=PT, Future=FF)
            ),
            sub(m.CTask_PyFuture_Tests, "FastloopTask_PyFuture_Tests", Task=FT, Future=PF),
            sub(m.PyTask_CFuture_Tests, "PyTask_FastloopFuture_Tests", Task=PT, Future=FF),
            sub(m.CTask_Future_Tests),
            sub(m.PyCurrentLoopTests, new_task=_new_fastloop_task),
            sub(m.CCurrentLoopTests, new_task=_new_fastloop_task),
            sub(m.FutureGatherTests, setUp=_gather_setup),
            sub(m.CoroutineGatherTests, setUp=_gather_setup),
            sub(m.RunCoroutineThreadsafeTests),
            sub(m.SleepTests),
            sub(m.CompatibilityTests),
        ]
        for cls in classes:
            if "Task" in cls.__dict__ or "Future" in cls.__dict__:
                cls._under_test = (cls.Task, cls.Future)
            elif cls.__name__ in ("PyCurrentLoopTests", "CCurrentLoopTests",
                                  "FutureGatherTests", "CoroutineGatherTests"):
                cls._under_test = (FT, FF)
        return classes

    def check_loops(self, case, created, passing):
        if getattr(case.cls, "_under_test", None):
            return check_types_under_test(case)
        # The rest make their loops with asyncio.new_event_loop(): fastloop's.
        return runner.Suite.check_loops(_Strict(self), case, created, passing)


class _Strict:
    """The default loop checks (no stock loop, a fastloop loop was made)."""

    stock_loops_allowed = False
    require_fastloop_loop = True

    def __init__(self, suite):
        self._suite = suite

    def stock_loop_allowances(self):
        return self._suite.stock_loop_allowances()


SUITE = TasksSuite()
