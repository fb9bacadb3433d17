"""Taking asyncio's own loop methods into fastloop's classes.

Many of asyncio's loop methods only call other loop methods (argument
checks, address resolution, happy eyeballs, the Server object, pipe and
subprocess set-up).  fastloop takes those functions from asyncio's classes
at import time, not copies of them, so every check, error message and
version difference is exactly asyncio's on the running Python.
"""


def borrow(namespace, *sources):
    """In a class body (`namespace` is its locals()), define each method
    named in `sources`, pairs of (asyncio class, names), as that class's own
    function.  A name the class lacks on this Python version is skipped."""
    for source, names in sources:
        for name in names:
            func = source.__dict__.get(name)
            if func is not None:
                namespace[name] = func
