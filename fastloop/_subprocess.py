"""Pipes and subprocesses on fastloop.

PipesMixin, a base of fastloop.Loop, gives the loop connect_read_pipe,
connect_write_pipe, subprocess_exec and subprocess_shell (and with them
asyncio.create_subprocess_exec / create_subprocess_shell).  They are
asyncio's own methods and its own Unix pipe and subprocess transports,
taken from asyncio's classes at import time, so every argument check, error
message and version difference is exactly asyncio's.  Those transports
watch their fds through the loop's _add_reader/_add_writer/_remove_reader/
_remove_writer, which are fastloop's C poller; the child process is waited
for by asyncio's child watcher of the running Python version (a thread or a
pidfd on 3.11-3.13), as on stock asyncio.

The pipe transports are Python: a pipe's data passes through Python code
per read, as on stock asyncio.  Socket transports are the C ones.
"""

from asyncio import base_events, unix_events

from ._borrow import borrow

_BaseLoop = base_events.BaseEventLoop
_UnixLoop = unix_events._UnixSelectorEventLoop

# Methods that only call other loop methods and asyncio's transport classes:
# they run unchanged on fastloop.
_BORROWED_FROM_BASE = (
    "connect_read_pipe",
    "connect_write_pipe",
    "subprocess_shell",
    "subprocess_exec",
    "_log_subprocess",
)
_BORROWED_FROM_UNIX = (
    "_make_read_pipe_transport",
    "_make_write_pipe_transport",
    "_make_subprocess_transport",
    "_child_watcher_callback",
)


class PipesMixin:
    """Pipe and subprocess methods of fastloop.Loop."""

    borrow(locals(), (_BaseLoop, _BORROWED_FROM_BASE), (_UnixLoop, _BORROWED_FROM_UNIX))
