"""A loop does not follow its process through os.fork().

After fork() the child shares the parent's epoll and eventfd descriptors:
polling them in the child would steal events meant for the parent.  Stock
asyncio lets the child run the inherited loop anyway (and so gets exactly
that bug), so this is fastloop's own behaviour, tested on fastloop only.
"""
import asyncio
import os

import pytest

import fastloop


def _in_child(body):
    """Run body() in a forked child; return its exit status (0 = success)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_child_cannot_run_parent_loop():
    loop = fastloop.new_event_loop()
    try:
        def body():
            try:
                loop.run_until_complete(asyncio.sleep(0))
            except RuntimeError as exc:
                return 0 if "another process" in str(exc) else 2
            return 3

        assert _in_child(body) == 0
        # The parent's loop is untouched by the child's attempt.
        assert loop.run_until_complete(asyncio.sleep(0, "parent")) == "parent"
    finally:
        loop.close()


def test_child_can_use_a_new_loop():
    parent = fastloop.new_event_loop()
    try:
        def body():
            child = fastloop.new_event_loop()
            try:
                return 0 if child.run_until_complete(asyncio.sleep(0, 7)) == 7 else 2
            finally:
                child.close()

        assert _in_child(body) == 0
    finally:
        parent.close()


@pytest.mark.parametrize("closer", ["close", "gc"])
def test_child_may_close_parent_loop(closer):
    """Closing (or dropping) the inherited loop in the child is allowed and
    does not disturb the parent's loop, which shares no state but fds."""
    loop = fastloop.new_event_loop()
    try:
        def body():
            if closer == "close":
                loop.close()
            return 0

        assert _in_child(body) == 0
        assert loop.run_until_complete(asyncio.sleep(0.001, "ok")) == "ok"
    finally:
        loop.close()


def test_child_leaves_parent_interest_alone():
    """A child that drops the inherited loop, or removes a reader from it,
    must not deregister the fd from the epoll instance it shares with the
    parent; adding a reader in the child is refused."""
    loop = fastloop.new_event_loop()
    r, w = os.pipe()
    try:
        got = []
        loop.add_reader(r, lambda: got.append(os.read(r, 10)))

        def body():
            try:
                loop.add_writer(w, lambda: None)
            except RuntimeError:
                pass
            else:
                return 2
            if not loop.remove_reader(r):
                return 3
            loop.close()
            return 0

        assert _in_child(body) == 0
        os.write(w, b"x")
        loop.run_until_complete(asyncio.sleep(0.05))
        assert got == [b"x"]
    finally:
        loop.close()
        os.close(r)
        os.close(w)
