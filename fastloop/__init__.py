"""fastloop: a drop-in asyncio event loop whose core is written in C.

Pick it in any of these ways; the program itself does not change:

    asyncio.run(main(), loop_factory=fastloop.new_event_loop)   # 3.12+
    with asyncio.Runner(loop_factory=fastloop.new_event_loop) as runner:
        runner.run(main())
    fastloop.run(main())
    fastloop.install()        # sets fastloop's event loop policy
    python -m fastloop script.py [args]
"""

import asyncio as _asyncio
import sys as _sys
import warnings as _warnings

from ._core import Future, Handle, Task, TimerHandle
from ._loop import Loop

__all__ = ["Loop", "Future", "Task", "Handle", "TimerHandle", "new_event_loop", "run", "EventLoopPolicy", "install"]
__version__ = "0.1.0"

# asyncio deprecates the policy system from 3.14 on.
_POLICIES_DEPRECATED = _sys.version_info >= (3, 14)


def new_event_loop():
    """Return a new fastloop event loop."""
    return Loop()


def run(main, *, debug=None):
    """Run the coroutine main on a new fastloop loop and return its result,
    exactly as asyncio.run() would on its own loop."""
    if _asyncio.events._get_running_loop() is not None:
        # Refuse before a loop exists, as asyncio.run() does.
        raise RuntimeError("fastloop.run() cannot be called from a running event loop")
    with _asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)


def _default_policy_base():
    # 3.14 renamed the class and left a deprecated alias behind.
    base = getattr(_asyncio.events, "_DefaultEventLoopPolicy", None)
    if base is None:
        base = getattr(_asyncio, "_DefaultEventLoopPolicy", None)
    if base is None:
        base = _asyncio.DefaultEventLoopPolicy
    return base


class EventLoopPolicy(_default_policy_base()):
    """An asyncio event loop policy whose loops are fastloop loops.

    asyncio.set_event_loop_policy(fastloop.EventLoopPolicy()) makes every
    asyncio.run() and asyncio.new_event_loop() use fastloop.
    """

    def _loop_factory(self):
        return Loop()

    def __repr__(self):
        return f"<{type(self).__name__}>"


def install():
    """Make fastloop the loop of every later asyncio.run() in this process
    (by setting fastloop.EventLoopPolicy as asyncio's policy)."""
    if _POLICIES_DEPRECATED:
        _warnings.warn(
            "fastloop.install() is deprecated: asyncio deprecates event loop "
            "policies; use asyncio.run(main(), loop_factory=fastloop.new_event_loop)",
            DeprecationWarning,
            stacklevel=2,
        )
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", DeprecationWarning)
            _asyncio.set_event_loop_policy(EventLoopPolicy())
    else:
        _asyncio.set_event_loop_policy(EventLoopPolicy())
