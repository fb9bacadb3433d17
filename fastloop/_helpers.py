"""Python code that the C core calls on its rare paths.

Formatting callbacks for reprs and error reports, and the debug-mode checks
and warnings, are not worth writing in C: they run once per error or only in
debug mode, and doing them with asyncio's own helpers keeps the text of every
message identical to stock asyncio's.
"""

import sys
import traceback
from asyncio import constants, coroutines, format_helpers
from asyncio.log import logger

_FORMAT_TAKES_DEBUG = sys.version_info >= (3, 13)


def format_callback_source(callback, args, debug):
    if _FORMAT_TAKES_DEBUG:
        return format_helpers._format_callback_source(callback, args, debug=debug)
    return format_helpers._format_callback_source(callback, args)


def callback_error_message(callback, args, debug):
    return f"Exception in callback {format_callback_source(callback, args, debug)}"


def handle_repr(handle, class_name, cancelled, callback, args, source_traceback, when):
    """The repr of a Handle or TimerHandle (`when` is None for a Handle)."""
    info = [class_name]
    if cancelled:
        info.append("cancelled")
    if when is not None:
        info.insert(2 if cancelled else 1, f"when={when}")
    if callback is not None:
        info.append(format_callback_source(callback, args, handle._loop.get_debug()))
    if source_traceback:
        frame = source_traceback[-1]
        info.append(f"created at {frame[0]}:{frame[1]}")
    return "<{}>".format(" ".join(info))


# asyncio takes DEBUG_STACK_DEPTH frames counted from inside its own
# methods, then drops its two frames (Handle.__init__'s caller and the
# public method): a handle's traceback holds that many fewer caller frames.
_HANDLE_STACK_DEPTH = constants.DEBUG_STACK_DEPTH - 2


def extract_stack():
    # Frame 0 is this function; the C method that called us has no frame,
    # so frame 1 is the Python code that called call_soon() and friends.
    return format_helpers.extract_stack(sys._getframe(1), limit=_HANDLE_STACK_DEPTH)


def extract_full_stack():
    # Where a Future or Task was created: asyncio's C Future takes the whole
    # stack, with traceback.extract_stack().
    return traceback.extract_stack(sys._getframe(1))


def trim_call_later_stack(stack):
    # asyncio's call_later() goes through call_at(), one frame more of the
    # same budget: keep the innermost frames only, as it does.
    if len(stack) >= _HANDLE_STACK_DEPTH:
        del stack[0]


def check_callback(callback, method):
    if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
        raise TypeError(f"coroutines cannot be used with {method}()")
    if not callable(callback):
        raise TypeError(
            f"a callable object was expected by {method}(), got {callback!r}"
        )


def format_handle(handle):
    # A task step is reported as the task, as asyncio does.
    from asyncio import tasks

    from ._core import Task

    callback = handle._callback
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, (tasks.Task, Task)):
        return repr(owner)
    return str(handle)


def warn_slow_callback(handle, duration):
    logger.warning("Executing %s took %.3f seconds", format_handle(handle), duration)


def transport_debug(transport, what, exc):
    """A stream transport's debug-mode log line (asyncio's wording)."""
    if exc is None:
        logger.debug("%r %s", transport, what)
    else:
        logger.debug("%r: %s", transport, what, exc_info=exc)


def warn_send_after_lost():
    logger.warning("socket.send() raised exception.")
