"""What a fastloop loop keeps alive, and for how long.

A loop reaches fastloop._core's module state until it is freed, and freeing
it uses that state (queued task steps, timers and watched fds are released
through it).  At interpreter shutdown a loop, its class and the module can
be one garbage cycle, in which the collector drops the class's reference to
the module: the loop must hold the module itself.  (The crash this prevents
shows under AddressSanitizer in test_main's KeyboardInterrupt tests; see
README, "Debug builds".)
"""

import gc
import os
import resource
import sys

import fastloop


def test_a_loop_holds_the_core_module_until_it_is_freed():
    core = fastloop._core
    gc.collect()
    before = sys.getrefcount(core)
    loop = fastloop.new_event_loop()
    assert sys.getrefcount(core) == before + 1
    loop.close()
    assert sys.getrefcount(core) == before + 1
    del loop
    gc.collect()
    assert sys.getrefcount(core) == before


def test_no_fd_left_for_a_new_loop():
    # With no fd left for the epoll instance, creating a loop fails with
    # OSError, and the half-made loop closes no fd it did not open (it
    # starts with its fds at -1: fd 0 stays open).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        try:
            while True:
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass
        try:
            fastloop.new_event_loop()
        except OSError:
            pass
        else:
            raise AssertionError("a loop was made with no fd free")
    finally:
        for fd in fds:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    os.fstat(0)
