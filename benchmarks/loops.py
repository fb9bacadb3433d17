"""How to make each loop under comparison.

Every loop is made the way its users make it; a loop whose package does not
import on this interpreter is reported as unavailable and skipped.
"""

import importlib

LOOP_NAMES = ("asyncio", "uvloop", "fastloop")


def _module(name):
    return importlib.import_module(name)


def new_loop(name):
    """A new, not yet running event loop of the named kind."""
    if name == "asyncio":
        import asyncio

        return asyncio.new_event_loop()
    if name in ("uvloop", "fastloop"):
        return _module(name).new_event_loop()
    raise ValueError(f"unknown loop {name!r}; choose from {', '.join(LOOP_NAMES)}")


def probe(name):
    """{"available": bool, "version" or "error": str, "type": str} for the
    named loop, found by making and closing one."""
    try:
        loop = new_loop(name)
        try:
            kind = f"{type(loop).__module__}.{type(loop).__qualname__}"
        finally:
            loop.close()
    except Exception as exc:  # anything that stops the loop from being made
        return {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    if name == "asyncio":
        import sys

        version = "stdlib " + sys.version.split()[0]
    else:
        mod = _module(name)
        version = f"{getattr(mod, '__version__', '?')} ({mod.__file__})"
    return {"available": True, "version": version, "type": kind}
