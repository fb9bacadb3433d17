"""test_futures: asyncio.Future's own tests, run with fastloop.Future.

CPython runs its Future test classes once per Future implementation (the C
one, a subclass of it, the pure-Python one) on its fake-clock TestLoop, a
stock loop.  Here the C variants run with fastloop.Future (and a subclass of
it) in their place, on the same TestLoop: the loop is a bystander, the
Future is what is under test, and on a loop that is not fastloop's its
callbacks go through loop.call_soon() exactly as asyncio's do.  (The ready-
queue path fastloop takes on its own loop is what test_locks, test_queues,
test_taskgroups and the rest exercise: there create_future() makes
fastloop.Future on fastloop loops.)
"""

import fastloop

from .. import runner
from ..reasons import stock_only


class FastloopSubFuture(fastloop.Future):
    pass


def _new_future(self):
    return fastloop.Future(loop=self.loop)


def _new_sub_future(self):
    return FastloopSubFuture(loop=self.loop)


def _future_cls(self):
    return fastloop.Future


PURE_PYTHON = "tests asyncio's pure-Python Future; the same tests run with fastloop.Future"


class FuturesSuite(runner.Suite):
    module = "test_futures"
    # CPython's TestLoop drives these tests; fastloop's types are checked
    # instead (check_loops).
    stock_loops_allowed = True
    require_fastloop_loop = False

    not_adapted = {
        "PyFutureTests": PURE_PYTHON,
        "PyFutureDoneCallbackTests": PURE_PYTHON,
        "PyFutureInheritanceTests": PURE_PYTHON,
        "DuckTests": stock_only("wrap_future() and ensure_future() hand back a duck-typed future"),
    }

    def adapt(self, module):
        F = fastloop.Future
        return [
            _with_cls(runner.subclass(module.CFutureTests, "FastloopFutureTests", _under_test=(F,)), F),
            _with_cls(
                runner.subclass(module.CSubFutureTests, "FastloopSubFutureTests", _under_test=(F,)),
                FastloopSubFuture,
            ),
            runner.subclass(
                module.CFutureDoneCallbackTests,
                "FastloopFutureDoneCallbackTests",
                _new_future=_new_future,
                _under_test=(F,),
            ),
            runner.subclass(
                module.CSubFutureDoneCallbackTests,
                "FastloopSubFutureDoneCallbackTests",
                _new_future=_new_sub_future,
                _under_test=(F,),
            ),
            runner.subclass(
                module.CFutureInheritanceTests,
                "FastloopFutureInheritanceTests",
                _get_future_cls=_future_cls,
                _under_test=(F,),
            ),
        ]

    def check_loops(self, case, created, passing):
        return check_types_under_test(case)


def _with_cls(test_class, future_class):
    # BaseFutureTests takes the Future class under test from the attribute
    # `cls`, which runner.subclass() cannot take as a keyword.
    test_class.cls = future_class
    return test_class


def check_types_under_test(case):
    """The classes a test drives on CPython's TestLoop must include one of
    fastloop's: else the test says nothing about fastloop."""
    under_test = getattr(case.cls, "_under_test", ())
    if not any(issubclass(t, (fastloop.Future, fastloop.Task)) for t in under_test):
        return [
            "the test class is not adapted to drive fastloop.Future or fastloop.Task, "
            "so it proves nothing about fastloop"
        ]
    return []


SUITE = FuturesSuite()
