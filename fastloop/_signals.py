"""Unix signal handlers for fastloop.Loop: add_signal_handler and
remove_signal_handler, with asyncio's behaviour and error messages.

How a signal reaches the loop: Python's C-level signal handler writes the
signal number to the wake-up fd (signal.set_wakeup_fd), which is the write
end of a socket pair whose read end the loop watches with add_reader.  That
wakes a loop blocked in epoll_wait even when the signal arrives just before
the wait begins, and tells it which signal came.  The Python-level handler
installed for the signal does nothing; the user's callback runs as an
ordinary callback of the loop, in the loop's thread.

Only the main thread may do this: set_wakeup_fd() refuses elsewhere, which
is how asyncio, too, keeps a loop in another thread from taking signals.
"""

import errno
import signal
import socket
import sys
import warnings
from asyncio import coroutines, events
from asyncio.log import logger


def _noop_signal_handler(signum, frame):
    """Python-level handler of a signal the loop handles: the wake-up fd has
    already told the loop."""


class SignalHandlersMixin:
    """add_signal_handler / remove_signal_handler for an event loop class
    that has add_reader, remove_reader, call_soon and _check_closed.

    The state is created on first use, so the loop's constructor needs no
    part in it; _close_signal_handlers() must be called when the loop
    closes."""

    # Created by _signal_state() on first use.
    _signal_handlers_map = None
    _signal_rsock = None  # read end, watched by the loop
    _signal_wsock = None  # write end, the process's wake-up fd while we hold it
    _signal_saved_wakeup_fd = -1  # the wake-up fd that was set before ours

    @property
    def _signal_handlers(self):
        """signal number -> asyncio Handle, as asyncio's Unix loop keeps it."""
        return self._signal_state()

    def _signal_state(self):
        handlers = self._signal_handlers_map
        if handlers is None:
            handlers = self._signal_handlers_map = {}
        return handlers

    def add_signal_handler(self, sig, callback, *args):
        """Add a handler for a signal.  UNIX only.

        Raise ValueError if the signal number is invalid or uncatchable.
        Raise RuntimeError if there is a problem setting up the handler.
        """
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        self._open_signal_socket()
        handlers = self._signal_state()
        wakeup_fd = self._signal_wsock.fileno()
        try:
            # Raises ValueError outside the main thread: calling it before
            # anything else keeps a loop in another thread from taking
            # signals.  A full socket buffer means the loop is already
            # woken, so the C handler need not warn about it.
            previous = signal.set_wakeup_fd(wakeup_fd, warn_on_full_buffer=False)
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))
        if previous != wakeup_fd:
            self._signal_saved_wakeup_fd = previous

        handlers[sig] = events.Handle(callback, args, self, None)
        try:
            signal.signal(sig, _noop_signal_handler)
            # SA_RESTART: fewer EINTRs for blocking calls elsewhere.
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del handlers[sig]
            if not handlers:
                self._restore_wakeup_fd()
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught")
            raise

    def remove_signal_handler(self, sig):
        """Remove a handler for a signal.  UNIX only.

        Return True if a signal handler was removed, False if not.
        """
        self._check_signal(sig)
        handlers = self._signal_state()
        try:
            del handlers[sig]
        except KeyError:
            return False

        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught")
            raise

        if not handlers:
            self._restore_wakeup_fd()
        return True

    def _check_signal(self, sig):
        """Raise TypeError or ValueError unless sig is a valid signal number."""
        if not isinstance(sig, int):
            raise TypeError(f"sig must be an int, not {sig!r}")
        if sig not in signal.valid_signals():
            raise ValueError(f"invalid signal number {sig}")

    # ---- delivery --------------------------------------------------------

    def _open_signal_socket(self):
        if self._signal_rsock is not None:
            return
        rsock, wsock = socket.socketpair()
        try:
            rsock.setblocking(False)
            wsock.setblocking(False)
            self.add_reader(rsock.fileno(), self._read_signals)
        except BaseException:
            rsock.close()
            wsock.close()
            raise
        self._signal_rsock = rsock
        self._signal_wsock = wsock

    def _read_signals(self):
        rsock = self._signal_rsock
        while rsock is not None:
            try:
                data = rsock.recv(4096)
            except InterruptedError:
                continue
            except BlockingIOError:
                return
            if not data:
                return
            for signum in data:
                if signum:
                    self._handle_signal(signum)

    def _handle_signal(self, sig):
        handle = self._signal_state().get(sig)
        if handle is None:
            return  # removed after the signal arrived
        if handle._cancelled:
            self.remove_signal_handler(sig)
        else:
            self.call_soon(handle._callback, *handle._args, context=handle._context)

    # ---- shutdown --------------------------------------------------------

    def _restore_wakeup_fd(self):
        """Give the process back the wake-up fd it had before ours, unless
        somebody else has replaced ours meanwhile."""
        ours = self._signal_wsock.fileno() if self._signal_wsock is not None else -1
        saved = self._signal_saved_wakeup_fd
        self._signal_saved_wakeup_fd = -1
        try:
            current = signal.set_wakeup_fd(saved)
            if current != ours:
                signal.set_wakeup_fd(current)
        except (ValueError, OSError) as exc:
            logger.info("set_wakeup_fd(%s) failed: %s", saved, exc)

    def _close_signal_handlers(self):
        """Called by close(): remove every handler, then release the socket
        pair (only once the wake-up fd no longer points at it)."""
        handlers = self._signal_state()
        if not sys.is_finalizing():
            for sig in list(handlers):
                self.remove_signal_handler(sig)
        elif handlers:
            warnings.warn(
                f"Closing the loop {self!r} on interpreter shutdown stage, "
                "skipping signal handlers removal",
                ResourceWarning,
                source=self,
            )
            handlers.clear()
            self._restore_wakeup_fd()
        rsock = self._signal_rsock
        if rsock is None:
            return
        wsock = self._signal_wsock
        self._signal_rsock = self._signal_wsock = None
        if not self.is_closed():
            self.remove_reader(rsock.fileno())
        rsock.close()
        wsock.close()
