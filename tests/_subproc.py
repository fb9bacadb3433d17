"""Helpers for tests that run programs in child interpreters and compare
what they print on stock asyncio and on fastloop."""

import os
import re

import fastloop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(fastloop.__file__)))

# A frame of the event loop's own code.  These necessarily differ between the
# loops (asyncio's base_events.py and events.py against fastloop's _loop.py
# and its C code, which has no frames), so tracebacks are compared with each
# run of them masked as one line.  Every other frame must be the same.
LOOP_FRAME = re.compile(
    r'  File "[^"]*(?:asyncio/base_events\.py|asyncio/events\.py|fastloop/_loop\.py)", '
    r"line \d+, in \w+$"
)


def child_env(*extra_paths):
    """The environment for a child interpreter that can import fastloop from
    this tree, with UTF-8 output and no .pyc files left behind."""
    env = dict(os.environ)
    paths = [REPO, *extra_paths] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def mask_loop_frames(text):
    """Replace each run of the loop's own traceback frames (headers and
    source lines) with one line."""
    out = []
    skipping = False
    for line in text.splitlines():
        if LOOP_FRAME.match(line):
            if not skipping:
                out.append('  File "<event loop>"')
            skipping = True
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out)
