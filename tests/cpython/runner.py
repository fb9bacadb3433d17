"""Machinery that runs CPython's test.test_asyncio tests on fastloop.

A Suite (one per CPython test module, in suites/) turns the module's TestCase
classes into classes whose tests run on fastloop, and lists the tests left out
with their reasons, per Python version.  collect() lists every CPython test in
scope as a Case; run_case() runs one under guards that turn a silent fallback
to stock asyncio into a failure.
"""

import asyncio
import asyncio.base_events
import contextlib
import dataclasses
import faulthandler
import gc
import importlib
import pkgutil
import re
import sys
import threading
import traceback
import unittest
import warnings

import fastloop

PY = sys.version_info[:2]
PY_NAME = "%d.%d" % PY

_CLAUSE = re.compile(r"\s*(>=|<=|==|<|>)\s*(\d+)\.(\d+)\s*$")
_COMPARE = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def version_matches(spec, version=PY):
    """Whether the (major, minor) `version` is in `spec`: "all", or clauses
    joined by commas that must all hold, such as ">=3.12", "<3.13",
    ">=3.12,<3.14" or "==3.11"."""
    if spec == "all":
        return True
    for clause in spec.split(","):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"bad version range {spec!r}")
        op, major, minor = match.groups()
        if not _COMPARE[op](tuple(version), (int(major), int(minor))):
            return False
    return True


def subclass(cls, name=None, **attrs):
    """A subclass of the CPython TestCase class `cls` with `attrs` added.

    It keeps the CPython module as its __module__, so unittest runs that
    module's setUpModule/tearDownModule around it as it would for `cls`,
    and remembers `cls` so the suite knows which CPython class it covers.
    """
    name = name or cls.__name__
    attrs.setdefault("__module__", cls.__module__)
    attrs["__qualname__"] = name
    attrs["_cpython_origin"] = cls
    return type(name, (cls,), attrs)


def fastloop_tests(module, name, *mixins):
    """A TestCase class, named `name` in the CPython module `module`, made of
    that module's test mixins (the bodies its EPollEventLoopTests and the
    like share) over test_utils.TestCase, with fastloop as the loop."""
    import fastloop
    from test.test_asyncio import utils as test_utils

    def create_event_loop(self):
        return fastloop.new_event_loop()

    def setUp(self):
        super(cls, self).setUp()
        assert isinstance(self.loop, fastloop.Loop), self.loop

    attrs = dict(__module__=module.__name__, __qualname__=name,
                 create_event_loop=create_event_loop, setUp=setUp)
    cls = type(name, (*mixins, test_utils.TestCase), attrs)
    return cls


@dataclasses.dataclass
class Case:
    """One CPython test, or one entry that stands for a group of them (a
    class not adapted, a module missing from this Python)."""

    test_id: str  # "test_events.FastloopEventLoopTests.test_call_soon"
    suite: "Suite"
    cls: type = None
    method: str = None
    excluded: str = None  # the reason it is left out, or None
    error: str = None  # why it cannot even be loaded, or None


@dataclasses.dataclass
class Outcome:
    status: str  # "passed", "failed" or "skipped" (skipped by CPython's test itself)
    details: str = ""
    fastloop_loops: int = 0  # fastloop loops the test created


class Suite:
    """How one CPython test module runs on fastloop.

    Subclass it in suites/<name>.py (one file per CPython module) and set
    SUITE there to an instance.  By default every TestCase class of the
    module runs, with fastloop's policy installed so that asyncio.run() and
    asyncio.new_event_loop() make fastloop loops; override adapt() when the
    module picks its loop some other way.
    """

    module = None  # the CPython module, "test_events"
    versions = "all"  # the Pythons whose test suite has the module
    # {version range (see version_matches): {test id: reason}}; the ranges
    # that hold for the running Python are merged.
    excluded = {}
    # {CPython class name: reason}: classes that test stock asyncio only
    # (its Handle on a mock loop, its selector loops...), not run at all.
    not_adapted = {}
    # Install fastloop.EventLoopPolicy (and make subclasses of asyncio's
    # default policy build fastloop loops) while each test runs.
    install_policy = True
    # Whether a test may create stock asyncio loops (for example test_tasks'
    # TestLoop, which drives tasks on a fake clock).  If not, a test that
    # creates one fails: it would prove nothing about fastloop.
    stock_loops_allowed = False
    # {version range: {test id: reason}}: tests that may create stock loops
    # as bystanders (a loop of another thread, say) while fastloop stays the
    # loop under test.
    stock_loops_allowed_in = {}
    # Whether a test that passes must have created a fastloop loop.  One
    # that never touches a loop (it checks asyncio's argument validation,
    # say) proves nothing about fastloop: exclude it with a reason saying so.
    require_fastloop_loop = True
    # Seconds one test may take before the process is killed with a
    # traceback of every thread: a hang must not stall CI silently.
    timeout = 120

    def load_module(self):
        return importlib.import_module(f"test.test_asyncio.{self.module}")

    def adapt(self, module):
        """The TestCase classes to run.  By default a subclass (same name)
        of every TestCase class in the module, except those in not_adapted."""
        return [
            subclass(cls)
            for name, cls in _testcase_classes(module)
            if name not in self.not_adapted
        ]

    def exclusions(self, version=PY):
        """{test id: reason} of the tests left out on `version`."""
        return _merge_ranges(self.excluded, version)

    def stock_loop_allowances(self, version=PY):
        """{test id: reason} of the tests that may create stock loops on `version`."""
        return _merge_ranges(self.stock_loops_allowed_in, version)

    @contextlib.contextmanager
    def environment(self):
        """What every test of the module runs inside."""
        if not self.install_policy:
            yield
            return
        saved = asyncio.events._event_loop_policy
        default = asyncio.DefaultEventLoopPolicy
        saved_factory = default.__dict__.get("_loop_factory")
        with warnings.catch_warnings():
            # 3.14 deprecates the policy functions.
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_event_loop_policy(fastloop.EventLoopPolicy())
        # Tests that build their own policy from asyncio's default one
        # (class Policy(asyncio.DefaultEventLoopPolicy)) get fastloop too.
        default._loop_factory = fastloop.Loop
        # Under CPython's own runner every test_utils.TestCase leaves
        # set_event_loop(None) behind on the one policy, and some tests count
        # on it (policy.get_event_loop() must raise rather than make a loop):
        # give the fresh policy the same state.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_event_loop(None)
        try:
            yield
        finally:
            if saved_factory is None:
                del default._loop_factory
            else:
                default._loop_factory = saved_factory
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                asyncio.set_event_loop_policy(saved)

    def check_loops(self, case, created, passing):
        """Problems with the loops a test created (`created`: their classes,
        in order), which make it prove nothing about fastloop.  `passing`
        says whether the test passed otherwise.  Override to check more
        (that the Task under test is fastloop's, say)."""
        problems = []
        stock = [cls for cls in created if not issubclass(cls, fastloop.Loop)]
        stock_ok = self.stock_loops_allowed or case.test_id in self.stock_loop_allowances()
        if stock and not stock_ok:
            names = ", ".join(sorted({f"{c.__module__}.{c.__qualname__}" for c in stock}))
            problems.append(
                f"the test created stock asyncio loops ({names}), so it did not test "
                "fastloop: adapt the suite so these become fastloop loops, or exclude "
                "the test with the reason"
            )
        if passing and self.require_fastloop_loop and len(stock) == len(created):
            problems.append(
                "the test passed without creating a fastloop loop, so it proves nothing "
                "about fastloop: adapt the suite, or exclude the test with reasons.stock_only()"
            )
        return problems

    # ---- listing ---------------------------------------------------------

    def cases(self):
        """Every CPython test of the module, as Cases, in a stable order."""
        if not version_matches(self.versions):
            return [
                Case(
                    self.module,
                    self,
                    excluded=f"CPython {PY_NAME} has no {self.module} (only {self.versions})",
                )
            ]
        try:
            module = self.load_module()
            classes = self.adapt(module)
        except Exception:
            return [Case(self.module, self, error=traceback.format_exc())]
        exclusions = self.exclusions()
        cases = []
        covered = {getattr(cls, "_cpython_origin", None) for cls in classes}
        for name, cls in _testcase_classes(module):
            if name in self.not_adapted:
                reason = f"not run on fastloop: {self.not_adapted[name]}"
                cases.append(Case(f"{self.module}.{name}", self, excluded=reason))
            elif cls not in covered:
                cases.append(
                    Case(
                        f"{self.module}.{name}",
                        self,
                        error=f"{self.module}.{name} is neither adapted to fastloop nor "
                        f"listed in not_adapted with a reason",
                    )
                )
        loader = unittest.TestLoader()
        for cls in classes:
            for method in loader.getTestCaseNames(cls):
                test_id = f"{self.module}.{cls.__name__}.{method}"
                cases.append(Case(test_id, self, cls, method, excluded=exclusions.get(test_id)))
        return cases

    def stale_exclusions(self, cases):
        """Exclusions (and stock-loop allowances) for this Python that name no
        test: a renamed or removed test, or a range that says the wrong
        version."""
        known = {case.test_id for case in cases}
        return sorted((set(self.exclusions()) | set(self.stock_loop_allowances())) - known)


def _merge_ranges(by_range, version):
    merged = {}
    for spec, entries in by_range.items():
        if version_matches(spec, version):
            for test_id, reason in entries.items():
                if test_id in merged:
                    raise ValueError(f"{test_id} is listed twice for {version}")
                merged[test_id] = reason
    return merged


def _testcase_classes(module):
    """(name, class) of the TestCase classes defined in `module` that have tests."""
    loader = unittest.TestLoader()
    found = []
    for name, obj in vars(module).items():
        if (
            isinstance(obj, type)
            and issubclass(obj, unittest.TestCase)
            and obj.__module__ == module.__name__
            and loader.getTestCaseNames(obj)
        ):
            found.append((name, obj))
    return found


# ---- finding suites ----------------------------------------------------------


def suites():
    """The Suite of every CPython module in scope, from suites/."""
    package = importlib.import_module(f"{__package__}.suites")
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        found.append(importlib.import_module(f"{package.__name__}.{info.name}").SUITE)
    return found


def suite_for(module_name):
    """The Suite for a CPython module: its file in suites/ if there is one,
    else the default (every class, fastloop's policy, nothing excluded)."""
    for suite in suites():
        if suite.module == module_name:
            return suite
    suite = Suite()
    suite.module = module_name
    return suite


def collect():
    """Cases of every suite in scope."""
    cases = []
    for suite in suites():
        cases.extend(suite.cases())
    return cases


# ---- running -----------------------------------------------------------------


@contextlib.contextmanager
def _watch_loops():
    """Record the class of every event loop created meanwhile, stock asyncio
    loops (BaseEventLoop subclasses) and fastloop loops alike."""
    created = []
    base = asyncio.base_events.BaseEventLoop
    base_init = base.__init__
    fast_init = fastloop.Loop.__init__

    def recording_base_init(self, *args, **kwargs):
        created.append(type(self))
        base_init(self, *args, **kwargs)

    def recording_fast_init(self, *args, **kwargs):
        created.append(type(self))
        fast_init(self, *args, **kwargs)

    base.__init__ = recording_base_init
    fastloop.Loop.__init__ = recording_fast_init
    try:
        yield created
    finally:
        base.__init__ = base_init
        fastloop.Loop.__init__ = fast_init


@contextlib.contextmanager
def _watchdog(seconds):
    faulthandler.dump_traceback_later(seconds, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


@contextlib.contextmanager
def _hygiene(problems):
    """What CPython's regrtest treats as a failed test besides a failed
    assertion: support.environment_altered (dangling threads or processes,
    a test's own check), an unraisable exception (an error in __del__ or a
    finalizer), an exception in a thread; and here also any ResourceWarning
    (an unclosed loop, socket or transport)."""
    from test import support

    support.environment_altered = False
    saved_unraisablehook = sys.unraisablehook
    saved_excepthook = threading.excepthook

    def unraisablehook(unraisable):
        text = "".join(
            traceback.format_exception(
                unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback
            )
        )
        message = unraisable.err_msg or "Exception ignored in"
        problems.append(f"unraisable exception: {message}: {unraisable.object!r}\n{text}")

    def excepthook(args):
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        problems.append(f"exception in thread {args.thread}:\n{text}")

    sys.unraisablehook = unraisablehook
    threading.excepthook = excepthook
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            try:
                yield
            finally:
                # Finalizers of the test's garbage run now, while it is
                # still the test's: "unclosed event loop" and friends.
                gc.collect()
    finally:
        sys.unraisablehook = saved_unraisablehook
        threading.excepthook = saved_excepthook
    for warning in caught:
        if issubclass(warning.category, ResourceWarning):
            problems.append(f"{warning.category.__name__}: {warning.message} ({warning.filename}:{warning.lineno})")
        else:
            # Let pytest see the other warnings as if not recorded here.
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno, registry={})
    if support.environment_altered:
        support.environment_altered = False
        problems.append(
            "the test altered the environment (CPython's support.environment_altered: "
            "dangling threads or child processes, see the captured output)"
        )


def run_case(case):
    """Run one CPython test on fastloop and say how it went."""
    if case.error is not None:
        return Outcome("failed", case.error)
    test = case.cls(case.method)
    result = unittest.TestResult()
    problems = []
    hygiene = []
    with _watchdog(case.suite.timeout), _hygiene(hygiene), case.suite.environment():
        with _watch_loops() as created:
            # A one-test suite, so that setUpClass/setUpModule and their
            # tearDowns run as they do under unittest.
            unittest.TestSuite([test]).run(result)
        del test
    for failed, text in result.errors + result.failures:
        problems.append(f"{failed}\n{text}")
    problems.extend(hygiene)
    for unexpected in result.unexpectedSuccesses:
        problems.append(f"{unexpected}: unexpected success")
    if asyncio._get_running_loop() is not None:
        asyncio._set_running_loop(None)
        problems.append("the test left a running loop registered")
    fastloop_loops = sum(1 for cls in created if issubclass(cls, fastloop.Loop))
    problems.extend(case.suite.check_loops(case, created, passing=not problems and not result.skipped))
    if problems:
        return Outcome("failed", "\n".join(problems), fastloop_loops)
    if result.skipped:
        reasons = "; ".join(sorted({reason for _, reason in result.skipped}))
        return Outcome("skipped", f"skipped by CPython's test: {reasons}", fastloop_loops)
    return Outcome("passed", "", fastloop_loops)
