"""python -m fastloop script.py [args] | -m module [args]

Run an unchanged asyncio program on fastloop.  The script sees what
`python script.py` would give it: sys.argv, sys.path[0] (the script's
directory), a fresh module named __main__, and the same exit status and
printed traceback when it fails.  `-m module` behaves as `python -m module`.
"""

import asyncio
import builtins
import os
import runpy
import sys
import types
import warnings

import fastloop

USAGE = """\
usage: python -m fastloop script.py [arg ...]
       python -m fastloop -m module [arg ...]

Run a Python program with fastloop as the event loop of every
asyncio.run(), asyncio.Runner and asyncio.new_event_loop() it calls.
"""


def _install_policy():
    # Python 3.11-3.13: asyncio.run() and asyncio.Runner without a
    # loop_factory, asyncio.new_event_loop() and asyncio.get_event_loop()
    # all create their loop through the event loop policy, and setting one
    # is not deprecated, so installing fastloop's policy is silent.
    #
    # Python 3.14 deprecates the policy system (set_event_loop_policy()
    # warns) but asyncio.run() still creates its loop through the policy
    # until the system is removed.  The user's script did not ask for a
    # policy, so it must not see that warning: set the policy through
    # asyncio's non-warning internal setter where it exists, else with the
    # warning silenced.  Once policies are gone, the same effect needs
    # asyncio.events.new_event_loop (which asyncio.run uses) to be pointed
    # at fastloop.new_event_loop instead.
    policy = fastloop.EventLoopPolicy()
    if sys.version_info >= (3, 14):
        setter = getattr(asyncio.events, "_set_event_loop_policy", None)
        if setter is not None:
            setter(policy)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_event_loop_policy(policy)
        return
    asyncio.set_event_loop_policy(policy)


def _trimmed(tb):
    """The part of traceback tb after the last frame of this file: what the
    interpreter would have printed had it run the program itself."""
    here = _trimmed.__code__.co_filename
    rest = tb
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == here:
            rest = tb.tb_next
        tb = tb.tb_next
    return rest


def _hide_own_frames(exc):
    """Let exc leave the interpreter as it would from the bare program:
    wrap the current sys.excepthook (the default one or whatever the program
    set) so that it prints exc without our frames and runpy's."""
    hook = sys.excepthook

    def excepthook(typ, value, tb):
        if value is exc:
            tb = _trimmed(tb)
            value.__traceback__ = tb
        hook(typ, value, tb)

    sys.excepthook = excepthook


def _usage_error(message=None):
    if message:
        print(message, file=sys.stderr)
    sys.stderr.write(USAGE)
    sys.exit(2)


def _new_main_module():
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    main.__annotations__ = {}
    sys.modules["__main__"] = main
    return main


def _run_path(path, args):
    sys.argv[:] = [path, *args]
    if not sys.flags.safe_path:
        # `python -m fastloop` put the current directory first; the script
        # expects its own directory there instead (symlinks resolved).
        sys.path[0] = os.path.dirname(os.path.realpath(path))

    # The interpreter makes the path absolute by joining, not normalizing.
    filename = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)

    import pkgutil

    if pkgutil.get_importer(path) is not None:
        # A directory or zip file with a __main__.py: the interpreter runs
        # those through runpy, with the path first on sys.path.
        if not sys.flags.safe_path:
            sys.path[0] = filename
        else:
            sys.path.insert(0, filename)
        _new_main_module()
        runpy._run_module_as_main("__main__", alter_argv=False)
        return

    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        program = sys.orig_argv[0] if sys.orig_argv else sys.executable
        print(
            f"{program}: can't open file {filename!r}: [Errno {exc.errno}] {exc.strerror}",
            file=sys.stderr,
        )
        sys.exit(2)
    import importlib.machinery

    main = _new_main_module()
    main.__file__ = filename
    main.__cached__ = None
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", filename)
    main.__package__ = None
    main.__spec__ = None
    code = compile(source, filename, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def _run_module(name, args):
    # As `python -m name`: sys.argv[0] is "-m" while the module is looked
    # up, then its file name; the current directory stays on sys.path.
    sys.argv[:] = ["-m", *args]
    _new_main_module()
    runpy._run_module_as_main(name, alter_argv=True)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        _usage_error()
    first = argv[0]
    if first == "-m":
        if len(argv) < 2:
            _usage_error("Argument expected for the -m option")
        target = (_run_module, argv[1], argv[2:])
    elif first.startswith("-m") and len(first) > 2:
        target = (_run_module, first[2:], argv[1:])
    elif first.startswith("-"):
        _usage_error(f"unknown option {first}")
    else:
        target = (_run_path, first, argv[1:])

    _install_policy()
    run, what, args = target
    try:
        run(what, args)
    except SystemExit:
        # The interpreter prints nothing but the exit message for it.
        raise
    except BaseException as exc:
        _hide_own_frames(exc)
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
